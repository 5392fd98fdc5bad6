//! `shiftpay demo` (what `make demo` runs): the whole product on the devnet, with the relayer
//! library running in this process and its HTTP API used the way a wallet uses it.
//!
//! 1. [`setup`]: the devnet is started if it is not up; this run's parties are fresh accounts of
//!    the development mnemonic (so every run starts from zero and its table adds up on its own);
//!    the relayer starts (in memory, API on a free local port, monthly payday).
//! 2. [`escrow`]: a client hires a freelancer for three milestones: one approved by the client's
//!    EIP-712 signature that the relayer submits, one released by the relayer after the review
//!    window passed in silence, one disputed and settled by both parties' signatures.
//! 3. [`payroll`]: the DAO treasury deposits rBTC and tUSD and creates part-time streams from a
//!    roster CSV (one starting in the future, one paused half-way); the treasury runs short and
//!    the shortfall shows as debt; the next deposit repays it first; the relayer pays the payday
//!    batch; a worker withdraws gaslessly through the API.
//! 4. [`report`]: every party's balances before and after, what the contracts still hold, and
//!    the check that it adds up, per token (exit 1 if not).
//!
//! Time moves forward on anvil (`evm_increaseTime`); the devnet automines while the demo runs
//! and goes back to a block every few seconds after. Step lines go to stderr as they happen;
//! the final table (or `--json`) to stdout.

mod escrow;
mod payroll;
mod report;
mod setup;

use std::{
    collections::HashMap,
    future::Future,
    path::PathBuf,
    time::{Duration, Instant},
};

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
    rpc::types::TransactionReceipt,
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::SolCall,
};
use clap::Args;
use eyre::{WrapErr, bail, eyre};
use serde_json::Value;
use shiftpay_bindings::{
    deployment::Deployment,
    tokens::Token,
    tx::{self, TxPolicy},
};
use shiftpay_relayer::RelayerHandle;

use super::devnet::{self, FastMining, Paths, UpArgs};
use crate::{context::Context, opts::TxOpts, output::OutputArgs};

/// The demo's folder inside the devnet's (roster CSVs, one folder per run).
pub(crate) const DEMO_DIR: &str = "demo";

/// Arguments of `shiftpay demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    #[command(flatten)]
    up: UpArgs,

    /// How long to wait for the relayer at each step before giving up (seconds).
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    step_timeout: u64,
}

/// This run's accounts, in the order of the final table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Treasury,
    Client,
    Freelancer,
    Arbiter,
    Alice,
    Bob,
    Carol,
    Dave,
}

impl Role {
    const ALL: [Self; 8] = [
        Self::Treasury,
        Self::Client,
        Self::Freelancer,
        Self::Arbiter,
        Self::Alice,
        Self::Bob,
        Self::Carol,
        Self::Dave,
    ];

    /// The name in step lines and the table.
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Treasury => "DAO treasury",
            Self::Client => "client",
            Self::Freelancer => "freelancer",
            Self::Arbiter => "arbiter",
            Self::Alice => "alice",
            Self::Bob => "bob",
            Self::Carol => "carol",
            Self::Dave => "dave",
        }
    }
}

/// One party: a development account derived from the mnemonic.
pub(super) struct Party {
    pub(super) role: Role,
    pub(super) signer: PrivateKeySigner,
}

/// The demo's state.
pub(super) struct Demo {
    pub(super) ctx: Context,
    pub(super) deployment: Deployment,
    /// The devnet's test stablecoin.
    pub(super) tusd: Token,
    /// The native coin.
    pub(super) rbtc: Token,
    /// This run's number (0 for the first on this chain).
    pub(super) run: u64,
    /// This run's folder (the roster CSV).
    pub(super) dir: PathBuf,
    pub(super) parties: Vec<Party>,
    /// Gas paid by each party's transactions, in wei (kept apart from the flows).
    pub(super) gas: HashMap<Address, U256>,
    pub(super) policy: TxPolicy,
    pub(super) relayer: Option<RelayerHandle>,
    /// `http://127.0.0.1:<port>` of the relayer's API.
    pub(super) api: String,
    pub(super) http: reqwest::Client,
    pub(super) step_timeout: Duration,
    pub(super) started: Instant,
    /// This run's escrow job.
    pub(super) job: U256,
}

pub(crate) async fn run(args: &DemoArgs, out: &OutputArgs) -> eyre::Result<()> {
    let started = Instant::now();
    let workdir = std::env::current_dir().wrap_err("cannot read the working directory")?;
    let paths = Paths::new(&args.up.devnet, &workdir);
    let record = devnet::ensure_up(&paths, &args.up).await?;
    let ctx = devnet::connect(&paths, &record).await?;
    let fast = FastMining::start(&ctx.provider, record.block_time).await?;
    let step_timeout = Duration::from_secs(args.step_timeout.max(1));
    let outcome = match Demo::setup(ctx, &paths, step_timeout, started).await {
        Ok(mut demo) => {
            let outcome = demo.play().await;
            let stopped = match demo.relayer.take() {
                Some(relayer) => relayer.shutdown().await.wrap_err("stopping the relayer"),
                None => Ok(()),
            };
            outcome.and_then(|report| stopped.map(|()| report))
        }
        Err(error) => Err(error),
    };
    fast.stop().await?;
    let report = outcome?;
    report.emit(out)?;
    if !report.ok {
        bail!("the balances do not add up: see the table above");
    }
    eprintln!("demo finished in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

impl Demo {
    /// Every scene, then the report.
    async fn play(&mut self) -> eyre::Result<report::Report> {
        let before = self.snapshot().await?;
        self.escrow().await?;
        self.payroll().await?;
        let after = self.snapshot().await?;
        self.report(&before, &after).await
    }

    /// The party with `role`.
    pub(super) fn party(&self, role: Role) -> &Party {
        self.parties.iter().find(|p| p.role == role).expect("every role has a party")
    }

    /// The address of `role`.
    pub(super) fn address(&self, role: Role) -> Address {
        self.party(role).signer.address()
    }

    /// One line of what happens, on stderr, with the elapsed time.
    pub(super) fn say(&self, line: impl AsRef<str>) {
        eprintln!("[{:>5.1}s] {}", self.started.elapsed().as_secs_f64(), line.as_ref());
    }

    /// `hash` shortened for step lines.
    pub(super) fn short(hash: B256) -> String {
        let text = hash.to_string();
        format!("{}…{}", &text[..10], &text[text.len() - 4..])
    }

    /// Sends `call` to `to` (with `value` wei) from `role` through the CLI's transaction policy,
    /// waits for it, and books its gas; a revert is an error naming `what`.
    pub(super) async fn send<C: SolCall>(
        &mut self,
        role: Role,
        to: Address,
        call: &C,
        value: U256,
        what: &str,
    ) -> eyre::Result<TransactionReceipt> {
        let request = self.ctx.call_tx(to, call).with_value(value);
        self.send_tx(role, request, what).await
    }

    /// Sends a prepared request from `role` (see [`Demo::send`]).
    pub(super) async fn send_tx(
        &mut self,
        role: Role,
        request: alloy::rpc::types::TransactionRequest,
        what: &str,
    ) -> eyre::Result<TransactionReceipt> {
        let signer = self.party(role).signer.clone();
        let from = signer.address();
        let request = request.with_from(from);
        let receipt = tx::send_and_confirm(
            &self.ctx.provider,
            &EthereumWallet::from(signer),
            &self.policy,
            request,
            |_| {},
        )
        .await
        .map_err(|error| self.ctx.tx_error(error))
        .wrap_err_with(|| format!("{} could not {what}", role.name()))?;
        if !receipt.status() {
            bail!("{} could not {what}: {} reverted", role.name(), receipt.transaction_hash);
        }
        let fee = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
        *self.gas.entry(from).or_default() += fee;
        Ok(receipt)
    }

    /// A view call, decoded.
    pub(super) async fn view<C: SolCall>(&self, to: Address, call: &C) -> eyre::Result<C::Return> {
        crate::commands::payroll_common::read(&self.ctx, to, call).await
    }

    /// `owner`'s balance of `token`.
    pub(super) async fn balance(&self, owner: Address, token: &Token) -> eyre::Result<U256> {
        self.ctx.balance_of(owner, token).await
    }

    /// The latest block's timestamp.
    pub(super) async fn chain_now(&self) -> eyre::Result<u64> {
        Ok(crate::commands::payroll_common::latest_block(&self.ctx).await?.1)
    }

    /// Moves the chain's clock forward by `seconds` and mines a block.
    pub(super) async fn advance(&self, seconds: u64) -> eyre::Result<()> {
        let _: Value = self
            .ctx
            .provider
            .raw_request("evm_increaseTime".into(), (seconds,))
            .await
            .wrap_err("evm_increaseTime")?;
        self.mine().await
    }

    /// Mines one block.
    pub(super) async fn mine(&self) -> eyre::Result<()> {
        let _: Value =
            self.ctx.provider.raw_request("evm_mine".into(), ()).await.wrap_err("evm_mine")?;
        Ok(())
    }

    /// Waits for `done` (checked every 250 ms, mining a block each time so the relayer's
    /// watcher, which stays one block behind the head, sees the latest), at most the step
    /// timeout.
    pub(super) async fn wait_for<F, Fut>(&self, what: &str, mut done: F) -> eyre::Result<()>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = eyre::Result<bool>>,
    {
        let started = Instant::now();
        self.say(format!("  … waiting for {what}"));
        while !done().await? {
            self.tick(started, what).await?;
        }
        Ok(())
    }

    /// One round of a bounded wait: an error past the step timeout, else a block and a pause.
    async fn tick(&self, started: Instant, what: &str) -> eyre::Result<()> {
        if started.elapsed() > self.step_timeout {
            bail!(
                "gave up waiting for {what} after {}s (is the relayer stuck?)",
                self.step_timeout.as_secs()
            );
        }
        self.mine().await?;
        tokio::time::sleep(Duration::from_millis(250)).await;
        Ok(())
    }

    /// Signs an EIP-712 digest as `role`: 65 bytes `r || s || v`.
    pub(super) fn sign(&self, role: Role, digest: B256) -> eyre::Result<Bytes> {
        let signature = self.party(role).signer.sign_hash_sync(&digest)?;
        Ok(Bytes::from(signature.as_bytes().to_vec()))
    }

    /// `POST /v1/requests` as a wallet does; the request's id.
    pub(super) async fn post_request(&self, body: &Value) -> eyre::Result<String> {
        let url = format!("{}/v1/requests", self.api);
        let response = self
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .wrap_err_with(|| format!("POST {url}"))?;
        let status = response.status();
        let text = response.text().await.wrap_err("reading the relayer's answer")?;
        let json: Value = serde_json::from_str(&text)
            .wrap_err_with(|| format!("the relayer answered {status} with {text:?}"))?;
        if !status.is_success() {
            bail!("the relayer refused the request ({status}): {}", json["error"]["message"]);
        }
        json["id"].as_str().map(str::to_owned).ok_or_else(|| eyre!("no id in {text}"))
    }

    /// Waits until request `id` is confirmed (`GET /v1/requests/{id}`); its transaction hash.
    pub(super) async fn wait_request(&self, id: &str, what: &str) -> eyre::Result<B256> {
        let url = format!("{}/v1/requests/{id}", self.api);
        let waiting = format!("the relayer to submit {what}");
        self.say(format!("  … waiting for {waiting} (request {id})"));
        let started = Instant::now();
        loop {
            let text = self
                .http
                .get(&url)
                .send()
                .await
                .wrap_err_with(|| format!("GET {url}"))?
                .text()
                .await?;
            let answer: Value = serde_json::from_str(&text)
                .wrap_err_with(|| format!("GET {url} answered {text:?}"))?;
            match answer["status"].as_str() {
                Some("confirmed") => {
                    return answer["txHash"]
                        .as_str()
                        .ok_or_else(|| eyre!("request {id} is confirmed without a txHash"))?
                        .parse()
                        .wrap_err("the request's txHash");
                }
                Some("failed" | "rejected") => {
                    bail!("the relayer could not submit {what}: {}", answer["error"])
                }
                _ => self.tick(started, &waiting).await?,
            }
        }
    }

    /// The transaction options of the demo's own sends (approvals answered yes).
    pub(super) fn tx_opts() -> TxOpts {
        TxOpts { yes: true, ..TxOpts::default() }
    }
}
