//! Gas benchmark of ShiftPay's payroll streams against Sablier Flow (the `gas-report` program).
//!
//! Both contracts run the same scenario in the same harness ([`Evm`], same spec, fixed accounts,
//! fixed timestamps, so every figure is deterministic), once with a 6-decimal token and once with
//! an 18-decimal token:
//!
//! 1. the employer creates a stream for worker 0 and funds it, then a second stream for worker 1;
//! 2. a day later worker 0 withdraws everything available, and again a day later; a day after that a
//!    keeper (third party) pays worker 0 out;
//! 3. the employer adjusts the rate of stream 1, pauses it a day later, and cancels stream 0;
//! 4. for N = 1, 10 and 100, N new streams for N new workers are created and funded; a day later the
//!    keeper pays all N out in one transaction (first payout), and again a day after that (recurring
//!    payout: the steady state of a payroll run).
//!
//! Every worker already holds some of the token (as a worker paid before would), so the
//! figures measure the contracts rather than the first write of a worker's token balance.
//! Gas is the whole transaction's (`tx_gas_used`, intrinsic 21,000 and calldata included).

use alloy::primitives::{Address, U256};

use crate::Evm;

pub mod escrow;
pub mod payroll;
pub mod sablier;

/// Seconds in a day.
pub const DAY: u64 = 86_400;
/// How many days of pay each benchmark stream is funded with.
pub const STREAM_DEPOSIT_DAYS: u64 = 30;
/// Monthly pay of every benchmark stream, in whole tokens.
pub const MONTHLY_PAY_TOKENS: u64 = 5_000;
/// Batch sizes of the batched-payout rows.
pub const BATCH_SIZES: [usize; 3] = [1, 10, 100];

/// Target: ShiftPay's `create` costs at most this fraction of Flow's.
pub const TARGET_CREATE_RATIO: f64 = 0.6;
/// Target: ShiftPay's withdrawal costs at most this fraction of Flow's.
pub const TARGET_WITHDRAW_RATIO: f64 = 1.0;
/// Target: ShiftPay's batched payout of 100 streams costs at most this much gas per stream.
pub const TARGET_BATCH_GAS_PER_STREAM: u64 = 25_000;

/// One run of the scenario: the token and the amounts.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Token decimals.
    pub decimals: u8,
    /// Token symbol (also labels the table rows).
    pub symbol: &'static str,
    /// Stream rate in 18-decimal token units per second (the unit both contracts use).
    pub rate_scaled: u128,
    /// Seconds between the scenario's steps.
    pub withdraw_interval: u64,
    /// Batch sizes of the batched-payout rows.
    pub batch_sizes: Vec<usize>,
}

impl Scenario {
    /// The scenario with a token of `decimals` decimals (symbols: USDC is the usual 6-decimal
    /// stablecoin, DOC Rootstock's 18-decimal Dollar on Chain).
    pub fn new(symbol: &'static str, decimals: u8) -> Self {
        let monthly_scaled = u128::from(MONTHLY_PAY_TOKENS) * 10u128.pow(18);
        Self {
            decimals,
            symbol,
            rate_scaled: monthly_scaled / u128::from(30 * DAY),
            withdraw_interval: DAY,
            batch_sizes: BATCH_SIZES.to_vec(),
        }
    }

    /// The two scenarios of the report: a USDC-like 6-decimal token and an 18-decimal token.
    pub fn all() -> Vec<Self> {
        vec![Self::new("USDC", 6), Self::new("DOC", 18)]
    }

    /// One token unit per whole token: `10^decimals`.
    pub fn one_token(&self) -> u128 {
        10u128.pow(u32::from(self.decimals))
    }

    /// Token units one stream is funded with: [`STREAM_DEPOSIT_DAYS`] of pay, rounded up.
    pub fn stream_deposit(&self) -> u128 {
        let scaled = self.rate_scaled * u128::from(STREAM_DEPOSIT_DAYS * DAY);
        scaled.div_ceil(10u128.pow(18 - u32::from(self.decimals)))
    }
}

/// The accounts and token of one scenario run. Created identically for both contracts so their
/// addresses (and therefore the gas of every call) are the same on both sides.
#[derive(Debug, Clone)]
pub struct Actors {
    /// Deploys the token and the contracts.
    pub deployer: Address,
    /// Creates, funds and controls the streams.
    pub employer: Address,
    /// A third party that pays workers out.
    pub keeper: Address,
    /// Workers of the single-stream rows.
    pub workers: Vec<Address>,
    /// The stream token (a `MockERC20`).
    pub token: Address,
    one_token: U256,
    batch_accounts: usize,
}

impl Actors {
    /// Creates the accounts and the token, funds the employer and gives every worker one token.
    pub fn new(evm: &mut Evm, scenario: &Scenario) -> Self {
        let deployer = evm.account("gas deployer");
        let employer = evm.account("gas employer");
        let keeper = evm.account("gas keeper");
        let token = evm.deploy_token(deployer, scenario.symbol, scenario.decimals);
        evm.mint(token, employer, U256::from(scenario.stream_deposit()) * U256::from(1_000u64));
        let one_token = U256::from(scenario.one_token());
        let workers: Vec<Address> =
            (0..2).map(|i| evm.account(&format!("gas worker {i}"))).collect();
        for &worker in &workers {
            evm.mint(token, worker, one_token);
        }
        Self { deployer, employer, keeper, workers, token, one_token, batch_accounts: 0 }
    }

    /// `count` fresh workers for a batched-payout row, each already holding one token.
    pub fn batch_workers(&mut self, evm: &mut Evm, count: usize) -> Vec<Address> {
        let start = self.batch_accounts;
        self.batch_accounts += count;
        (start..start + count)
            .map(|i| {
                let worker = evm.account(&format!("gas batch worker {i}"));
                evm.mint(self.token, worker, self.one_token);
                worker
            })
            .collect()
    }
}

/// Gas of each benchmarked operation on one contract, for one scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationGas {
    /// The first stream ever created in the token (ShiftPay opens the employer's pool and caches the
    /// token's decimals; for Flow it is an ordinary create).
    pub create_first: u64,
    /// A later stream of the same employer and token.
    pub create_next: u64,
    /// The first deposit (the contract held none of the token before).
    pub deposit_first: u64,
    /// A later deposit.
    pub deposit_next: u64,
    /// The worker's first withdrawal from the stream.
    pub withdraw_first: u64,
    /// A later withdrawal from the same stream.
    pub withdraw_later: u64,
    /// A third party paying a worker out.
    pub payout_third_party: u64,
    /// The employer pausing a stream.
    pub pause: u64,
    /// The employer changing a stream's rate.
    pub adjust_rate: u64,
    /// The employer stopping a stream for good (ShiftPay `cancel`, Flow `void`).
    pub cancel: u64,
    /// Batched payouts, one entry per batch size.
    pub batch_payout: Vec<BatchGas>,
}

/// Gas of one transaction paying out `streams` streams, each to its own worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchGas {
    /// Streams paid in the transaction.
    pub streams: usize,
    /// The first payout of freshly created streams (ShiftPay writes each stream's settlement
    /// slot for the first time).
    pub first_total: u64,
    /// The next payout of the same streams a day later: a recurring payroll run.
    pub recurring_total: u64,
}

impl BatchGas {
    /// Gas per stream of the first payout.
    pub fn first_per_stream(&self) -> u64 {
        self.first_total / self.streams as u64
    }

    /// Gas per stream of the recurring payout.
    pub fn recurring_per_stream(&self) -> u64 {
        self.recurring_total / self.streams as u64
    }
}

impl OperationGas {
    /// The batched payout of `count` streams, if that batch size was measured.
    pub fn batch(&self, count: usize) -> Option<BatchGas> {
        self.batch_payout.iter().find(|batch| batch.streams == count).copied()
    }

    /// `(operation, gas)` rows in report order; batched payouts are per stream.
    pub fn rows(&self) -> Vec<(String, u64)> {
        let mut rows = vec![
            ("create: first stream in the token (opens the pool)".to_owned(), self.create_first),
            ("create (later stream)".to_owned(), self.create_next),
            ("deposit (first)".to_owned(), self.deposit_first),
            ("deposit (later)".to_owned(), self.deposit_next),
            ("withdraw by the worker (first)".to_owned(), self.withdraw_first),
            ("withdraw by the worker (later)".to_owned(), self.withdraw_later),
            ("payout by a third party".to_owned(), self.payout_third_party),
            ("pause".to_owned(), self.pause),
            ("adjust rate".to_owned(), self.adjust_rate),
            ("cancel (ShiftPay) / void (Flow)".to_owned(), self.cancel),
        ];
        for batch in &self.batch_payout {
            let count = batch.streams;
            let noun = if count == 1 { "stream" } else { "streams" };
            rows.push((
                format!("payout of {count} {noun} in one tx, per stream: first payout"),
                batch.first_per_stream(),
            ));
        }
        for batch in &self.batch_payout {
            let count = batch.streams;
            let noun = if count == 1 { "stream" } else { "streams" };
            rows.push((
                format!("payout of {count} {noun} in one tx, per stream: recurring (paid the day before)"),
                batch.recurring_per_stream(),
            ));
        }
        rows
    }
}

/// Both contracts' figures for one scenario.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The scenario run.
    pub scenario: Scenario,
    /// ShiftPay's gas.
    pub shiftpay: OperationGas,
    /// Sablier Flow's gas.
    pub flow: OperationGas,
}

/// Runs every scenario on both contracts.
pub fn run() -> eyre::Result<Vec<Comparison>> {
    Scenario::all()
        .into_iter()
        .map(|scenario| {
            let shiftpay = payroll::measure(&scenario)?;
            let flow = sablier::measure(&scenario)?;
            Ok(Comparison { scenario, shiftpay, flow })
        })
        .collect()
}

/// One of the gas targets and whether it is met.
#[derive(Debug, Clone)]
pub struct Target {
    /// What is required, with the measured figure.
    pub description: String,
    /// Whether the measured figure meets it.
    pub met: bool,
}

fn ratio(shiftpay: u64, flow: u64) -> f64 {
    shiftpay as f64 / flow as f64
}

/// Evaluates the targets on every scenario.
pub fn targets(comparisons: &[Comparison]) -> Vec<Target> {
    let mut targets = Vec::new();
    for Comparison { scenario, shiftpay, flow } in comparisons {
        let token = format!("{} ({} dec)", scenario.symbol, scenario.decimals);
        for (label, ours, theirs) in [
            (
                "create, first stream in the token (pool opening)",
                shiftpay.create_first,
                flow.create_first,
            ),
            ("create, later stream", shiftpay.create_next, flow.create_next),
        ] {
            let r = ratio(ours, theirs);
            targets.push(Target {
                description: format!(
                    "{label}, {token}: {r:.2}x Flow (target <= {TARGET_CREATE_RATIO:.1}x)"
                ),
                met: r <= TARGET_CREATE_RATIO,
            });
        }
        for (label, ours, theirs) in [
            ("withdraw, first", shiftpay.withdraw_first, flow.withdraw_first),
            ("withdraw, later", shiftpay.withdraw_later, flow.withdraw_later),
        ] {
            let r = ratio(ours, theirs);
            targets.push(Target {
                description: format!(
                    "{label}, {token}: {r:.2}x Flow (target <= {TARGET_WITHDRAW_RATIO:.1}x)"
                ),
                met: r <= TARGET_WITHDRAW_RATIO,
            });
        }
        if let Some(batch) = shiftpay.batch(100) {
            for (label, per_stream) in [
                ("recurring", batch.recurring_per_stream()),
                ("first payout of new streams", batch.first_per_stream()),
            ] {
                targets.push(Target {
                    description: format!(
                        "batched payout of 100 streams ({label}), {token}: {} gas per stream (target <= {})",
                        thousands(per_stream),
                        thousands(TARGET_BATCH_GAS_PER_STREAM)
                    ),
                    met: per_stream <= TARGET_BATCH_GAS_PER_STREAM,
                });
            }
        }
    }
    targets
}

/// The payroll section of `contracts/GAS.md`: the comparison table, its notes and the targets.
pub fn markdown(comparisons: &[Comparison]) -> String {
    let mut out = String::new();
    out.push_str("## Payroll streams: ShiftPay vs Sablier Flow 3.0.1\n\n");
    out.push_str("| Operation | Token | ShiftPay gas | Sablier Flow gas | ShiftPay / Flow |\n");
    out.push_str("|---|---|---:|---:|---:|\n");
    let per_scenario: Vec<_> = comparisons
        .iter()
        .map(|c| {
            (
                format!("{} ({} dec)", c.scenario.symbol, c.scenario.decimals),
                c.shiftpay.rows(),
                c.flow.rows(),
            )
        })
        .collect();
    let row_count = per_scenario.first().map_or(0, |(_, rows, _)| rows.len());
    for row in 0..row_count {
        for (token, ours, theirs) in &per_scenario {
            let (operation, our_gas) = &ours[row];
            let their_gas = theirs[row].1;
            out.push_str(&format!(
                "| {operation} | {token} | {} | {} | {:.2}x |\n",
                thousands(*our_gas),
                thousands(their_gas),
                ratio(*our_gas, their_gas)
            ));
        }
    }
    out.push_str(concat!(
        "\nNotes:\n\n",
        "- Whole-transaction gas (`tx_gas_used`: the 21,000 intrinsic gas and calldata included), both contracts ",
        "deployed in the same revm (`tests/src/evm.rs`, Cancun rules, fixed accounts and timestamps), scenario in ",
        "`tests/src/gas/mod.rs`. Flow is the production bytecode of `@sablier/flow@3.0.1` (`tests/vendor/sablier/`), ",
        "its comptroller behind an ERC-1967 proxy with zero fees and no oracle (Flow's cheapest withdrawal path).\n",
        "- Streams are 5,000 tokens per 30 days; steps are one day apart. Every worker already holds the token.\n",
        "- \"create: first stream in the token\" is the first stream of an employer in a token: ShiftPay then also ",
        "opens the employer's pool (pool id and three pool slots, the token's decimals read and fixed), once per ",
        "employer and token; an employer who deposits first pays it in the first deposit instead. Every later ",
        "stream of that employer and token costs the \"later stream\" figure. Flow has no such state: all its ",
        "creates cost the same.\n",
        "- ShiftPay funds one pool per employer and token, so \"deposit\" credits the pool; Flow funds each stream. ",
        "ShiftPay's `withdraw` takes an amount (the worker's wallet reads `withdrawable` first); Flow's row is ",
        "`withdrawMax`. Third-party payout: ShiftPay `payout(id)`, Flow `withdrawMax(id, recipient)` from the keeper.\n",
        "- Cancel: ShiftPay `cancel` stops a stream for good; Flow has no cancel, its closest operation is `void` ",
        "(stops the stream and writes off uncovered debt; getting the rest back takes a further `refundMax`).\n",
        "- Batched payouts: ShiftPay `payoutMany(ids)`. Flow has no cross-recipient payout function; its `batch` ",
        "(a delegatecall loop on itself) accepts `withdrawMax` calls for any recipient, so Flow's figure is one ",
        "`batch` transaction of N `withdrawMax(id, recipient)` calls sent by the keeper.\n",
    ));
    out.push_str("\nTargets:\n\n");
    for target in targets(comparisons) {
        out.push_str(&format!(
            "- [{}] {}\n",
            if target.met { "x" } else { " " },
            target.description
        ));
    }
    out
}

/// `1234567` -> `1,234,567`.
pub(crate) fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
