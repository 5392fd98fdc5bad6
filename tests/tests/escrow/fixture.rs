//! Shared setup of the milestone escrow tests: a deployed `MilestoneEscrow`, a client, a worker,
//! an arbiter, a relayer and a stranger, tokens, and short helpers for the calls every test makes.

#![allow(dead_code)]

use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    sol_types::SolCall,
};
use shiftpay_bindings::escrow::{
    Job, JobParams, JobState, Milestone, MilestoneEscrow, MilestoneState,
};
use shiftpay_tests::{Evm, Receipt, TxError};

alloy::sol!(
    #[sol(all_derives)]
    EscrowWalletMock,
    "artifacts/EscrowWalletMock.json"
);
alloy::sol!(
    #[sol(all_derives)]
    EscrowHostileParty,
    "artifacts/EscrowHostileParty.json"
);
alloy::sol!(
    #[sol(all_derives)]
    EscrowReentrantToken,
    "artifacts/EscrowReentrantToken.json"
);
alloy::sol!(
    #[sol(all_derives)]
    EscrowBlocklistToken,
    "artifacts/EscrowBlocklistToken.json"
);

/// The native coin (rBTC) as a token address.
pub(crate) const NATIVE: Address = Address::ZERO;
/// Review period of the fixture's jobs.
pub(crate) const REVIEW: u64 = 3 * 86_400;
/// Ruling period of the fixture's jobs.
pub(crate) const RULING: u64 = 7 * 86_400;
/// Arbiter fee of the fixture's jobs (5%).
pub(crate) const FEE_BPS: u16 = 500;
/// 100% in basis points.
pub(crate) const BPS: u64 = 10_000;

/// `whole` tokens of a token with `decimals` decimals.
pub(crate) fn units(decimals: u8, whole: u64) -> U256 {
    U256::from(whole) * U256::from(10).pow(U256::from(decimals))
}

/// A recognisable 32-byte hash for deliverables, reasons and terms.
pub(crate) fn hash(label: &str) -> B256 {
    keccak256(label)
}

/// A fresh chain with a deployed escrow and labelled actors.
pub(crate) struct Fixture {
    pub(crate) evm: Evm,
    pub(crate) escrow: Address,
    pub(crate) client: Address,
    pub(crate) worker: Address,
    pub(crate) arbiter: Address,
    pub(crate) relayer: Address,
    pub(crate) stranger: Address,
    /// A 6-decimal mock token, minted to the client and approved to the escrow.
    pub(crate) usd: Address,
}

impl Fixture {
    /// Deploys the escrow and a 6-decimal token.
    pub(crate) fn new() -> Self {
        let mut evm = Evm::new();
        let deployer = evm.account("deployer");
        let escrow = evm
            .deploy(deployer, MilestoneEscrow::BYTECODE.clone())
            .expect("MilestoneEscrow deploys");
        let client = evm.account("client");
        let worker = evm.account("worker");
        let arbiter = evm.account("arbiter");
        let relayer = evm.account("relayer");
        let stranger = evm.account("stranger");
        let usd = evm.deploy_token(deployer, "USD", 6);
        let mut fixture = Self { evm, escrow, client, worker, arbiter, relayer, stranger, usd };
        fixture.fund_client(usd, units(6, 1_000_000_000));
        fixture
    }

    /// Current block timestamp.
    pub(crate) fn now(&self) -> u64 {
        self.evm.timestamp()
    }

    /// Mints `amount` of mock `token` to the client and approves the escrow for everything.
    pub(crate) fn fund_client(&mut self, token: Address, amount: U256) {
        self.evm.mint(token, self.client, amount);
        self.evm.approve(token, self.client, self.escrow, U256::MAX);
    }

    /// Terms with the fixture's defaults: arbiter at 5%, 2 change requests, 3-day review, 7-day
    /// ruling, no deadline.
    pub(crate) fn params(&self, token: Address, amounts: &[U256]) -> JobParams {
        JobParams {
            worker: self.worker,
            token,
            arbiter: self.arbiter,
            arbiterFeeBps: FEE_BPS,
            maxChangeRequests: 2,
            reviewPeriod: REVIEW as u32,
            rulingPeriod: RULING as u32,
            deadline: 0,
            metadataHash: hash("terms"),
            amounts: amounts.to_vec(),
        }
    }

    /// Sends `call` to the escrow from `from`.
    pub(crate) fn call<C: SolCall>(
        &mut self,
        from: Address,
        call: C,
    ) -> Result<Receipt<C::Return>, TxError> {
        self.evm.send(from, self.escrow, call)
    }

    /// Sends `call` to the escrow from `from` with `value` wei.
    pub(crate) fn call_value<C: SolCall>(
        &mut self,
        from: Address,
        value: U256,
        call: C,
    ) -> Result<Receipt<C::Return>, TxError> {
        self.evm.send_value(from, self.escrow, value, call)
    }

    /// The client creates a job with `params`, funding the first `fund_count` milestones (native
    /// value computed from the amounts).
    pub(crate) fn try_create(
        &mut self,
        params: JobParams,
        fund_count: usize,
    ) -> Result<Receipt<U256>, TxError> {
        let value = native_value(&params, 0, fund_count);
        let client = self.client;
        self.call_value(
            client,
            value,
            MilestoneEscrow::createJobCall { params, fundCount: U256::from(fund_count) },
        )
    }

    /// [`Self::try_create`] that must succeed; returns the job id.
    pub(crate) fn create(&mut self, params: JobParams, fund_count: usize) -> U256 {
        self.try_create(params, fund_count).expect("createJob succeeds").ret
    }

    /// A fully funded job the worker accepted.
    pub(crate) fn active_job(&mut self, token: Address, amounts: &[U256]) -> U256 {
        let params = self.params(token, amounts);
        self.active_job_with(params)
    }

    /// A fully funded job with `params` the worker accepted.
    pub(crate) fn active_job_with(&mut self, params: JobParams) -> U256 {
        let count = params.amounts.len();
        let job = self.create(params, count);
        self.accept(job);
        job
    }

    /// An active job of three 100-USD milestones whose milestone 0 is submitted.
    pub(crate) fn submitted_job(&mut self) -> U256 {
        let usd = self.usd;
        let job = self.active_job(usd, &[units(6, 100), units(6, 200), units(6, 300)]);
        self.submit(job, 0);
        job
    }

    /// `submitted_job` with milestone 0 disputed by the client.
    pub(crate) fn disputed_job(&mut self) -> U256 {
        let job = self.submitted_job();
        let client = self.client;
        self.call(client, MilestoneEscrow::disputeCall { jobId: job, milestoneIndex: U256::ZERO })
            .expect("client disputes");
        job
    }

    /// The worker accepts `job`.
    pub(crate) fn accept(&mut self, job: U256) {
        let worker = self.worker;
        self.call(worker, MilestoneEscrow::acceptJobCall { jobId: job })
            .expect("acceptJob succeeds");
    }

    /// The worker submits milestone `index` of `job`.
    pub(crate) fn submit(
        &mut self,
        job: U256,
        index: u64,
    ) -> Receipt<MilestoneEscrow::submitReturn> {
        self.try_submit(job, index).expect("submit succeeds")
    }

    /// The client asks for changes on milestone `index`.
    pub(crate) fn request_changes(
        &mut self,
        job: U256,
        index: u64,
    ) -> Result<Receipt<MilestoneEscrow::requestChangesReturn>, TxError> {
        let client = self.client;
        self.call(
            client,
            MilestoneEscrow::requestChangesCall {
                jobId: job,
                milestoneIndex: U256::from(index),
                reasonHash: hash("please change"),
            },
        )
    }

    /// The stored milestone.
    pub(crate) fn milestone(&mut self, job: U256, index: u64) -> Milestone {
        let escrow = self.escrow;
        self.evm
            .view(
                escrow,
                MilestoneEscrow::getMilestoneCall { jobId: job, milestoneIndex: U256::from(index) },
            )
            .expect("getMilestone succeeds")
    }

    /// The milestone's state.
    pub(crate) fn state(&mut self, job: U256, index: u64) -> MilestoneState {
        MilestoneState::try_from(self.milestone(job, index).status).expect("known state")
    }

    /// The stored job.
    pub(crate) fn job(&mut self, job: U256) -> Job {
        let escrow = self.escrow;
        self.evm.view(escrow, MilestoneEscrow::getJobCall { jobId: job }).expect("getJob succeeds")
    }

    /// The job's state.
    pub(crate) fn job_state(&mut self, job: U256) -> JobState {
        JobState::try_from(self.job(job).status).expect("known job state")
    }

    /// Terms without an arbiter (and so without fee).
    pub(crate) fn params_without_arbiter(&self, token: Address, amounts: &[U256]) -> JobParams {
        JobParams { arbiter: Address::ZERO, arbiterFeeBps: 0, ..self.params(token, amounts) }
    }

    /// The client cancels `job` (gives notice, or cancels at once when nothing is left to notice).
    pub(crate) fn cancel(
        &mut self,
        job: U256,
    ) -> Result<Receipt<MilestoneEscrow::cancelReturn>, TxError> {
        let client = self.client;
        self.call(client, MilestoneEscrow::cancelCall { jobId: job })
    }

    /// `from` finalizes the cancellation of `job` after the notice.
    pub(crate) fn finalize_cancel(
        &mut self,
        from: Address,
        job: U256,
    ) -> Result<Receipt<MilestoneEscrow::finalizeCancelReturn>, TxError> {
        self.call(from, MilestoneEscrow::finalizeCancelCall { jobId: job })
    }

    /// The worker submits milestone `index` of `job`, which may fail.
    pub(crate) fn try_submit(
        &mut self,
        job: U256,
        index: u64,
    ) -> Result<Receipt<MilestoneEscrow::submitReturn>, TxError> {
        let worker = self.worker;
        self.call(
            worker,
            MilestoneEscrow::submitCall {
                jobId: job,
                milestoneIndex: U256::from(index),
                deliverableHash: hash("deliverable"),
            },
        )
    }

    /// Balance of `who` in `token` (native when `token` is zero).
    pub(crate) fn balance(&mut self, token: Address, who: Address) -> U256 {
        self.evm.balance_of(token, who)
    }

    /// Deferred payouts credited to `who` in `token`.
    pub(crate) fn owed(&mut self, token: Address, who: Address) -> U256 {
        let escrow = self.escrow;
        self.evm
            .view(escrow, MilestoneEscrow::owedCall { token, account: who })
            .expect("owed succeeds")
    }

    /// The signer's current EIP-712 nonce.
    pub(crate) fn nonce(&mut self, signer: Address) -> U256 {
        let escrow = self.escrow;
        self.evm.view(escrow, MilestoneEscrow::noncesCall { signer }).expect("nonces succeeds")
    }

    /// Moves time to `timestamp`.
    pub(crate) fn warp(&mut self, timestamp: u64) {
        self.evm.warp(timestamp);
    }

    /// Last second of the current window of milestone `index`.
    pub(crate) fn window_end(&mut self, job: U256, index: u64) -> u64 {
        self.milestone(job, index).windowEnd
    }
}

/// Native value to send when funding milestones `[from, from + count)` of `params`.
pub(crate) fn native_value(params: &JobParams, from: usize, count: usize) -> U256 {
    if params.token != NATIVE {
        return U256::ZERO;
    }
    params.amounts[from..from + count].iter().copied().sum()
}

/// Empty bytes (a party calling `settle` itself needs no signature).
pub(crate) fn no_signature() -> Bytes {
    Bytes::new()
}

/// `unwrap_err` for results whose success type is not `Debug` (alloy's empty return structs).
pub(crate) trait ExpectRevert {
    /// The error of a call that had to fail; panics if it succeeded.
    fn reverted(self) -> TxError;
}

impl<T> ExpectRevert for Result<T, TxError> {
    #[track_caller]
    fn reverted(self) -> TxError {
        match self {
            Ok(_) => panic!("expected the call to revert, it succeeded"),
            Err(err) => err,
        }
    }
}
