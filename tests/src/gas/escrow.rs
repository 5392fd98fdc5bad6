//! Gas of the milestone escrow's operations (`MilestoneEscrow`), for the `gas-report` program.
//!
//! One deterministic scenario per token (native rBTC and a 6-decimal ERC-20) in the harness
//! ([`Evm`]): a warm-up job first (so the escrow already holds the token and has a job), then
//! jobs of 1, 5 and 50 milestones created unfunded and funded at creation, one milestone funded
//! later, and a 5-milestone job walked through submit, approve, release after the review window,
//! dispute and arbiter ruling, and a 50-milestone job cancelled (the notice to the worker, then
//! the refund once the notice is over). Worker and arbiter already hold the token, so the figures
//! measure the escrow rather than a first balance write.
//! Gas is the whole transaction's (`tx_gas_used`, intrinsic 21,000 and calldata included).

use super::thousands;
use alloy::{
    primitives::{Address, B256, U256},
    sol_types::SolCall,
};
use shiftpay_bindings::escrow::{JobParams, MilestoneEscrow};

use crate::Evm;

/// Review period of the benchmark jobs.
const REVIEW: u64 = 3 * 86_400;
/// Ruling period of the benchmark jobs.
const RULING: u64 = 7 * 86_400;
/// Milestone counts of the creation rows.
const SIZES: [usize; 3] = [1, 5, 50];

/// The actors and contracts of one scenario run.
struct Bench {
    evm: Evm,
    escrow: Address,
    token: Address,
    client: Address,
    worker: Address,
    arbiter: Address,
    relayer: Address,
    amount: U256,
}

impl Bench {
    fn new(native: bool) -> Self {
        let mut evm = Evm::new();
        let deployer = evm.account("gas escrow deployer");
        let client = evm.account("gas escrow client");
        let worker = evm.account("gas escrow worker");
        let arbiter = evm.account("gas escrow arbiter");
        let relayer = evm.account("gas escrow relayer");
        let escrow = evm
            .deploy(deployer, MilestoneEscrow::BYTECODE.clone())
            .expect("MilestoneEscrow deploys");
        let (token, amount) = if native {
            (Address::ZERO, U256::from(10u64).pow(U256::from(17)))
        } else {
            let token = evm.deploy_token(deployer, "USD", 6);
            evm.mint(token, client, U256::from(10u64).pow(U256::from(15)));
            evm.approve(token, client, escrow, U256::MAX);
            for holder in [worker, arbiter] {
                evm.mint(token, holder, U256::from(1_000_000u64));
            }
            (token, U256::from(500_000_000u64))
        };
        Self { evm, escrow, token, client, worker, arbiter, relayer, amount }
    }

    fn params(&self, milestones: usize) -> JobParams {
        JobParams {
            worker: self.worker,
            token: self.token,
            arbiter: self.arbiter,
            arbiterFeeBps: 500,
            maxChangeRequests: 2,
            reviewPeriod: REVIEW as u32,
            rulingPeriod: RULING as u32,
            deadline: 0,
            metadataHash: B256::repeat_byte(0x11),
            amounts: vec![self.amount; milestones],
        }
    }

    fn send<C: SolCall>(
        &mut self,
        from: Address,
        value: U256,
        call: C,
        what: &str,
    ) -> (C::Return, u64) {
        let receipt = self
            .evm
            .send_value(from, self.escrow, value, call)
            .unwrap_or_else(|e| panic!("{what} failed: {e}"));
        (receipt.ret, receipt.gas_used)
    }

    fn native_value(&self, total: U256) -> U256 {
        if self.token.is_zero() { total } else { U256::ZERO }
    }

    /// Creates a job of `milestones`, funding all of them when `funded`; returns (id, gas).
    fn create(&mut self, milestones: usize, funded: bool) -> (U256, u64) {
        let fund_count = if funded { milestones } else { 0 };
        let value = self.native_value(self.amount * U256::from(fund_count));
        let call = MilestoneEscrow::createJobCall {
            params: self.params(milestones),
            fundCount: U256::from(fund_count),
        };
        self.send(self.client, value, call, "createJob")
    }

    fn milestone_call<C: SolCall>(&mut self, from: Address, call: C, what: &str) -> u64 {
        self.send(from, U256::ZERO, call, what).1
    }
}

/// Gas of every benchmarked operation for one token, in report order.
fn measure(native: bool) -> Vec<(String, u64)> {
    let mut b = Bench::new(native);
    let mut rows = Vec::new();
    b.create(1, true); // warm-up: first job id, first token balance of the escrow

    for n in SIZES {
        let (_, gas) = b.create(n, false);
        rows.push((
            format!("create, {n} milestone{} (unfunded)", if n == 1 { "" } else { "s" }),
            gas,
        ));
    }
    for n in SIZES {
        let (_, gas) = b.create(n, true);
        rows.push((
            format!("create + fund at creation, {n} milestone{}", if n == 1 { "" } else { "s" }),
            gas,
        ));
    }

    let (job, _) = b.create(5, false);
    let value = b.native_value(b.amount);
    let (_, gas) = b.send(
        b.client,
        value,
        MilestoneEscrow::fundCall { jobId: job, from: U256::ZERO, count: U256::from(1) },
        "fund",
    );
    rows.push(("fund one milestone (later)".to_owned(), gas));
    let value = b.native_value(b.amount * U256::from(4));
    b.send(
        b.client,
        value,
        MilestoneEscrow::fundCall { jobId: job, from: U256::from(1), count: U256::from(4) },
        "fund rest",
    );

    let (worker, client, arbiter, relayer) = (b.worker, b.client, b.arbiter, b.relayer);
    rows.push((
        "accept (worker)".to_owned(),
        b.milestone_call(worker, MilestoneEscrow::acceptJobCall { jobId: job }, "accept"),
    ));
    let submit = |i: u64| MilestoneEscrow::submitCall {
        jobId: job,
        milestoneIndex: U256::from(i),
        deliverableHash: B256::repeat_byte(0x22),
    };
    let at = |i: u64| U256::from(i);
    rows.push(("submit (worker)".to_owned(), b.milestone_call(worker, submit(0), "submit")));
    rows.push((
        "approve: pays the worker (client)".to_owned(),
        b.milestone_call(
            client,
            MilestoneEscrow::approveMilestoneCall { jobId: job, milestoneIndex: at(0) },
            "approve",
        ),
    ));
    b.milestone_call(worker, submit(1), "submit");
    rows.push((
        "request changes (client)".to_owned(),
        b.milestone_call(
            client,
            MilestoneEscrow::requestChangesCall {
                jobId: job,
                milestoneIndex: at(1),
                reasonHash: B256::repeat_byte(3),
            },
            "requestChanges",
        ),
    ));
    b.milestone_call(worker, submit(1), "resubmit");
    b.evm.skip(REVIEW + 1);
    rows.push((
        "release after the review window (anyone)".to_owned(),
        b.milestone_call(
            relayer,
            MilestoneEscrow::releaseAfterReviewCall { jobId: job, milestoneIndex: at(1) },
            "release",
        ),
    ));
    b.milestone_call(worker, submit(3), "submit");
    rows.push((
        "dispute (client)".to_owned(),
        b.milestone_call(
            client,
            MilestoneEscrow::disputeCall { jobId: job, milestoneIndex: at(3) },
            "dispute",
        ),
    ));
    rows.push((
        "resolve: arbiter ruling, 3-way split".to_owned(),
        b.milestone_call(
            arbiter,
            MilestoneEscrow::resolveCall {
                jobId: job,
                milestoneIndex: at(3),
                workerBps: U256::from(6_000),
            },
            "resolve",
        ),
    ));
    b.milestone_call(worker, submit(2), "submit");
    b.milestone_call(
        client,
        MilestoneEscrow::disputeCall { jobId: job, milestoneIndex: at(2) },
        "dispute",
    );
    b.evm.skip(RULING + 1);
    rows.push((
        "settle 50/50 after the ruling period (a party)".to_owned(),
        b.milestone_call(
            worker,
            MilestoneEscrow::settleAfterRulingTimeoutCall { jobId: job, milestoneIndex: at(2) },
            "settleAfterRulingTimeout",
        ),
    ));

    let (big, _) = b.create(50, true);
    b.milestone_call(worker, MilestoneEscrow::acceptJobCall { jobId: big }, "accept");
    rows.push((
        "cancel: notice to the worker (client)".to_owned(),
        b.milestone_call(client, MilestoneEscrow::cancelCall { jobId: big }, "cancel"),
    ));
    b.evm.skip(REVIEW + 1);
    rows.push((
        "finalize cancel after the notice, refunding 50 funded milestones (anyone)".to_owned(),
        b.milestone_call(
            relayer,
            MilestoneEscrow::finalizeCancelCall { jobId: big },
            "finalizeCancel",
        ),
    ));
    rows
}

/// The milestone escrow section of `contracts/GAS.md`: one row per operation, native rBTC and a
/// 6-decimal ERC-20 side by side.
pub fn markdown() -> String {
    let native = measure(true);
    let erc20 = measure(false);
    let mut out = String::new();
    out.push_str("## Milestone escrow\n\n");
    out.push_str("| Operation | Gas, native rBTC | Gas, ERC-20 (6 decimals) |\n");
    out.push_str("|---|---:|---:|\n");
    for ((operation, native_gas), (_, erc20_gas)) in native.iter().zip(&erc20) {
        out.push_str(&format!(
            "| {operation} | {} | {} |\n",
            thousands(*native_gas),
            thousands(*erc20_gas)
        ));
    }
    out.push_str(concat!(
        "\nWhole-transaction gas (`tx_gas_used`: the 21,000 intrinsic gas and calldata included) in the revm ",
        "harness, scenario in `tests/src/gas/escrow.rs`. Jobs have an arbiter at 5%; the escrow already holds ",
        "the token and worker and arbiter already hold it too. Every call stays far below Rootstock's ~6.8M ",
        "block gas limit, 50-milestone creation and cancellation included.\n",
    ));
    out
}
