//! The payroll scene: a DAO treasury pays part-time workers from a roster, runs short, repays,
//! and the relayer pays the payday batch and a worker's gasless withdrawal.

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
    sol_types::SolEvent,
};
use eyre::{WrapErr, bail, eyre};
use serde_json::json;
use shiftpay_bindings::{
    payroll::{NATIVE_TOKEN, Payroll, WithdrawRequest},
    tokens::{IERC20, Token},
    units,
};
use shiftpay_relayer::config::Payday;

use super::{Demo, Role, setup::PAYDAY};
use crate::commands::{
    devnet::key_wallet,
    payroll_common::{TokenOpts, parse_month},
    stream::roster,
};

const DAY: u64 = 86_400;
/// What the treasury deposits first, then when it runs short.
const FIRST_DEPOSIT: &str = "4000";
const SECOND_DEPOSIT: &str = "3000";
const RBTC_DEPOSIT: &str = "0.2";

/// This run's streams, in roster order.
#[derive(Debug, Clone, Copy)]
pub(super) struct Streams {
    alice: u64,
    bob: u64,
    carol: u64,
}

impl Demo {
    /// Deposits, the roster, a pause, debt and repayment, the payday, a gasless withdrawal.
    pub(super) async fn payroll(&mut self) -> eyre::Result<()> {
        let payroll = self.deployment.payroll.address;
        let tusd = self.tusd.clone();
        let rbtc = self.rbtc.clone();

        // Start the month just after a payday (the relayer pays earlier runs' streams then).
        let payday: Payday = PAYDAY.parse().map_err(|e: String| eyre!(e))?;
        let now = self.chain_now().await?;
        let month_start = payday.next_after(now);
        self.advance(month_start + 3_600 - now).await?;
        let month_end = payday.next_after(month_start);
        self.say(format!(
            "chain time jumps to {} (payday is \"{PAYDAY}\" UTC: the next one is {})",
            units::format_time(month_start + 3_600),
            units::format_time(month_end)
        ));

        // Deposits.
        let rbtc_amount = rbtc.parse_amount(RBTC_DEPOSIT)?;
        let deposit = Payroll::depositCall { token: NATIVE_TOKEN, amount: rbtc_amount };
        let a = self.send(Role::Treasury, payroll, &deposit, rbtc_amount, "deposit rBTC").await?;
        let b = self.deposit_tusd(FIRST_DEPOSIT).await?;
        self.say(format!(
            "DAO treasury deposits {} and {} into its Payroll pools  tx {}, {}",
            rbtc.format_amount(rbtc_amount),
            tusd.format_amount(tusd.parse_amount(FIRST_DEPOSIT)?),
            Self::short(a.transaction_hash),
            Self::short(b)
        ));

        // The roster.
        let streams = self.roster().await?;

        // Bob is paused half-way through the month.
        self.advance(14 * DAY).await?;
        let pause = Payroll::pauseCall { streamId: U256::from(streams.bob) };
        let receipt =
            self.send(Role::Treasury, payroll, &pause, U256::ZERO, "pause bob's stream").await?;
        let bob_earned = self.earned(streams.bob).await?;
        self.say(format!(
            "14 days later: the treasury pauses bob's stream #{} half-way through the month ({} earned so far)  tx {}",
            streams.bob,
            tusd.format_amount(bob_earned),
            Self::short(receipt.transaction_hash)
        ));

        // The treasury runs short: earnings beyond the pool are debt.
        self.advance(12 * DAY).await?;
        let treasury = self.address(Role::Treasury);
        let debt = self
            .view(payroll, &Payroll::debtCall { employer: treasury, token: tusd.address })
            .await?;
        if debt.is_zero() {
            bail!("the tUSD pool should be short by now, but it shows no debt");
        }
        let pool = self.pool_balance(&tusd).await?;
        let carol = self.earned(streams.carol).await?;
        self.say(format!(
            "12 days later the treasury runs short: the pool holds {}, its workers earned more; carol (started 10 days in) has earned {}; debt {}",
            tusd.format_amount(pool),
            tusd.format_amount(carol),
            tusd.format_amount(debt)
        ));
        let hash = self.deposit_tusd(SECOND_DEPOSIT).await?;
        let debt_after = self
            .view(payroll, &Payroll::debtCall { employer: treasury, token: tusd.address })
            .await?;
        let surplus = self
            .view(payroll, &Payroll::surplusCall { employer: treasury, token: tusd.address })
            .await?;
        if !debt_after.is_zero() {
            bail!(
                "the deposit should have repaid the debt first, but {} is left",
                tusd.format_amount(debt_after)
            );
        }
        self.say(format!(
            "the treasury deposits {}: the debt of {} is repaid first, {} is surplus  tx {}",
            tusd.format_amount(tusd.parse_amount(SECOND_DEPOSIT)?),
            tusd.format_amount(debt),
            tusd.format_amount(surplus),
            Self::short(hash)
        ));

        // Payday: the relayer pays every stream in one batch.
        let workers = [
            (Role::Alice, tusd.clone()),
            (Role::Bob, tusd.clone()),
            (Role::Carol, tusd.clone()),
            (Role::Dave, rbtc.clone()),
        ];
        let mut before = Vec::new();
        for (role, token) in &workers {
            before.push(self.balance(self.address(*role), token).await?);
        }
        let from_block = self.ctx.provider.get_block_number().await?;
        let now = self.chain_now().await?;
        self.advance(month_end + 60 - now).await?;
        self.say(format!("chain time reaches the payday, {}", units::format_time(month_end)));
        let (this, before_ref, workers_ref) = (&*self, &before, &workers);
        this.wait_for("the relayer's payday batch", || async move {
            for ((role, token), old) in workers_ref.iter().zip(before_ref) {
                if this.balance(this.address(*role), token).await? <= *old {
                    return Ok(false);
                }
            }
            Ok(true)
        })
        .await?;
        let hash = self.event_tx(payroll, Payroll::Withdrawn::SIGNATURE_HASH, from_block).await?;
        let mut paid = Vec::new();
        for ((role, token), old) in workers.iter().zip(&before) {
            let balance = self.balance(self.address(*role), token).await?;
            paid.push(format!("{} {}", role.name(), token.format_amount(balance - *old)));
        }
        self.say(format!(
            "payday: the relayer pays {} in one batch  tx {}",
            paid.join(", "),
            Self::short(hash)
        ));

        // A gasless withdrawal through the relayer's API.
        self.advance(2 * DAY).await?;
        self.gasless_withdrawal(streams.alice).await?;

        // What the rBTC pool does not owe goes back to the treasury.
        let surplus = self
            .view(payroll, &Payroll::surplusCall { employer: treasury, token: NATIVE_TOKEN })
            .await?;
        let amount = surplus / U256::from(2);
        let call = Payroll::withdrawSurplusCall { token: NATIVE_TOKEN, amount, to: treasury };
        let receipt =
            self.send(Role::Treasury, payroll, &call, U256::ZERO, "withdraw rBTC surplus").await?;
        self.say(format!(
            "the treasury withdraws {} of its {} surplus  tx {}",
            rbtc.format_amount(amount),
            rbtc.format_amount(surplus),
            Self::short(receipt.transaction_hash)
        ));
        Ok(())
    }

    /// Approves and deposits `amount` tUSD; the deposit's hash.
    async fn deposit_tusd(&mut self, amount: &str) -> eyre::Result<alloy::primitives::B256> {
        let payroll = self.deployment.payroll.address;
        let units = self.tusd.parse_amount(amount)?;
        let approve = IERC20::approveCall { spender: payroll, value: units };
        self.send(Role::Treasury, self.tusd.address, &approve, U256::ZERO, "approve tUSD").await?;
        let deposit = Payroll::depositCall { token: self.tusd.address, amount: units };
        Ok(self
            .send(Role::Treasury, payroll, &deposit, U256::ZERO, "deposit tUSD")
            .await?
            .transaction_hash)
    }

    /// Writes the roster CSV and creates its streams with `shiftpay stream create --from-csv`'s
    /// code.
    async fn roster(&mut self) -> eyre::Result<Streams> {
        let row = |role: Role, token: &str, rate: &str, start: &str, label: &str| {
            format!("{},{token},{rate},{start},,{label}\n", self.address(role))
        };
        let csv = [
            "worker,token,rate,start,end,label\n".to_owned(),
            row(Role::Alice, "tUSD", "3000 tUSD/month", "now", "alice part-time developer"),
            row(Role::Bob, "tUSD", "1500 tUSD/month", "now", "bob part-time designer"),
            row(Role::Carol, "tUSD", "2000 tUSD/month", "+10d", "carol starts in 10 days"),
            row(Role::Dave, "rbtc", "0.05 rbtc/month", "now", "dave paid in rBTC"),
        ]
        .concat();
        let path = self.dir.join("roster.csv");
        std::fs::write(&path, &csv).wrap_err_with(|| format!("writing {}", path.display()))?;
        let token_opts = TokenOpts {
            allow_unknown_token: false,
            month: parse_month("30d").map_err(|e| eyre!(e))?,
        };
        let wallet = key_wallet(&self.party(Role::Treasury).signer);
        let output =
            roster::create_streams(&self.ctx, &path, &token_opts, &wallet, &Self::tx_opts())
                .await?
                .ok_or_else(|| eyre!("the roster was not created"))?;
        let treasury = self.address(Role::Treasury);
        let mut hashes = Vec::new();
        for batch in &output.transactions {
            let receipt = self
                .ctx
                .provider
                .get_transaction_receipt(batch.tx_hash)
                .await?
                .ok_or_else(|| eyre!("no receipt for {}", batch.tx_hash))?;
            let fee = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
            *self.gas.entry(treasury).or_default() += fee;
            hashes.push(Self::short(batch.tx_hash));
        }
        let ids: Vec<u64> = output.streams.iter().map(|s| s.stream_id).collect();
        let [alice, bob, carol, dave] = <[u64; 4]>::try_from(ids)
            .map_err(|ids| eyre!("the roster made {} streams, not 4", ids.len()))?;
        self.say(format!(
            "roster {} (part-time rates: alice 3000 tUSD/month, bob 1500, carol 2000 from day 10, dave 0.05 {}/month): streams #{alice}-#{dave} created  tx {}",
            self.ctx.show_path(&path),
            self.rbtc.symbol,
            hashes.join(", ")
        ));
        Ok(Streams { alice, bob, carol })
    }

    /// Alice signs a withdrawal; the relayer submits it through its API; she pays no gas.
    async fn gasless_withdrawal(&mut self, stream: u64) -> eyre::Result<()> {
        let payroll = self.deployment.payroll.address;
        let alice = self.address(Role::Alice);
        let amount =
            self.view(payroll, &Payroll::withdrawableCall { streamId: U256::from(stream) }).await?;
        let request = WithdrawRequest {
            streamId: U256::from(stream),
            to: alice,
            amount,
            nonce: self.view(payroll, &Payroll::noncesCall { worker: alice }).await?,
            deadline: U256::from(self.chain_now().await? + 3_600),
        };
        let chain_id = self.ctx.chain.chain_id;
        let signature = self.sign(Role::Alice, request.signing_hash(chain_id, payroll))?;
        let body = json!({
            "kind": "withdraw", "chainId": chain_id, "contract": payroll.to_string(),
            "streamId": request.streamId.to_string(), "to": alice.to_string(),
            "amount": amount.to_string(), "nonce": request.nonce.to_string(),
            "deadline": request.deadline.to_string(), "signature": signature.to_string(),
        });
        let before = self.balance(alice, &self.tusd).await?;
        let id = self.post_request(&body).await?;
        let hash = self.wait_request(&id, "alice's signed withdrawal").await?;
        let after = self.balance(alice, &self.tusd).await?;
        let gas_money = self.balance(alice, &self.rbtc).await?;
        if after - before != amount {
            bail!("alice should have received {} but got {}", amount, after - before);
        }
        self.say(format!(
            "alice withdraws {} gaslessly: she signs (EIP-712), the relayer's API takes it and pays the gas; she holds {} for gas  tx {}",
            self.tusd.format_amount(amount),
            self.rbtc.format_amount(gas_money),
            Self::short(hash)
        ));
        Ok(())
    }

    /// `earned(stream)`.
    async fn earned(&self, stream: u64) -> eyre::Result<U256> {
        let payroll = self.deployment.payroll.address;
        self.view(payroll, &Payroll::earnedCall { streamId: U256::from(stream) }).await
    }

    /// The treasury's pool balance of `token`.
    pub(super) async fn pool_balance(&self, token: &Token) -> eyre::Result<U256> {
        self.pool_balance_of(self.address(Role::Treasury), token.address).await
    }

    /// `poolBalance(employer, token)`.
    pub(super) async fn pool_balance_of(
        &self,
        employer: Address,
        token: Address,
    ) -> eyre::Result<U256> {
        let payroll = self.deployment.payroll.address;
        self.view(payroll, &Payroll::poolBalanceCall { employer, token }).await
    }
}
