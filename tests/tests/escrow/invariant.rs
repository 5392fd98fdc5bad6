//! Stateful invariant test: random sequences of every escrow action across several jobs, two
//! clients, three workers (one a contract that rejects native payments, so deferred payouts and
//! withdrawals are exercised) and three tokens (native rBTC, a 6-decimal and an 18-decimal ERC-20).
//!
//! After every step:
//! - per token, the escrow's balance is at least the funded milestones not yet paid out plus the
//!   deferred payouts still owed (the contract's invariant): here it is checked to equal that plus
//!   exactly what was donated (ERC-20 transfers and forced native sends straight to the escrow,
//!   which no one can take out);
//! - every milestone moved only along an edge of the documented state machine, and a reverted
//!   step changed nothing;
//! - the rules of the edges hold: a funded milestone is submitted only in an active job or within
//!   a cancellation notice (and by the deadline); a notice is `min(now + review, deadline)` and
//!   is given only while funded milestones remain; a cancellation ends only after its notice; a
//!   cancelled, resigned or withdrawn job holds no funded milestone; a job without an arbiter
//!   never has a disputed milestone, and only such a job lets the client reclaim an unanswered
//!   change request; a withdrawal to the escrow itself never succeeds;
//! - a milestone that closed did so exactly once (one closing event, never again), and its
//!   worker + client + arbiter shares add up to exactly what was funded for it;
//! - every party's balance (plus what is credited to it) moved by exactly the shares the events
//!   announce, and the client paid exactly what was funded.
//!
//! After each case every job and every credit is read back from the contract and compared with
//! the model. Cases: `PROPTEST_CASES` (default 1000), 50 steps each.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::OnceLock,
};

use alloy::{
    primitives::{Address, Bytes, U256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::{SolCall, SolValue},
};
use proptest::{prelude::*, test_runner::TestCaseError};
use shiftpay_bindings::escrow::{
    Approval, JobParams, JobState, MilestoneEscrow, MilestoneState, ResolutionKind, Settlement,
};
use shiftpay_tests::{Evm, Receipt, TxError, decode_events};

use crate::fixture::{EscrowHostileParty, NATIVE};

const REVIEW: u64 = 1_000;
const RULING: u64 = 2_000;
const STEPS: usize = 50;
const INITIAL_JOBS: usize = 3;
/// Time jumps a `Warp` step chooses from: within, just before and just after the windows.
const WARPS: [u64; 6] = [1, REVIEW - 1, REVIEW, REVIEW + 1, RULING + 1, 3 * RULING];

/// A random choice among the items of a list, whatever its length (shrinks to the first).
#[derive(Debug, Clone, Copy)]
struct Pick(usize);

impl Pick {
    fn of(self, len: usize) -> usize {
        self.0 % len
    }
}

fn pick() -> impl Strategy<Value = Pick> {
    any::<usize>().prop_map(Pick)
}

/// One random action. Indices pick a job and a milestone among the plausible ones.
#[derive(Debug, Clone)]
enum Step {
    Create {
        client: usize,
        worker: usize,
        token: usize,
        amounts: Vec<u64>,
        fund: usize,
        arbiter: bool,
        max_changes: u8,
        deadline: bool,
    },
    Fund {
        job: Pick,
        milestone: Pick,
        count: usize,
    },
    Accept {
        job: Pick,
    },
    WithdrawOffer {
        job: Pick,
    },
    Submit {
        job: Pick,
        milestone: Pick,
    },
    Approve {
        job: Pick,
        milestone: Pick,
    },
    ApproveSigned {
        job: Pick,
        milestone: Pick,
    },
    Release {
        job: Pick,
        milestone: Pick,
    },
    RequestChanges {
        job: Pick,
        milestone: Pick,
    },
    Dispute {
        job: Pick,
        milestone: Pick,
        by_worker: bool,
    },
    Resolve {
        job: Pick,
        milestone: Pick,
        worker_bps: u16,
    },
    SettleAfterTimeout {
        job: Pick,
        milestone: Pick,
        by_worker: bool,
    },
    Settle {
        job: Pick,
        milestone: Pick,
        worker_bps: u16,
        by_worker: bool,
    },
    Cancel {
        job: Pick,
    },
    Resign {
        job: Pick,
    },
    Reclaim {
        job: Pick,
    },
    FinalizeCancel {
        job: Pick,
    },
    ReclaimAbandoned {
        job: Pick,
        milestone: Pick,
    },
    Withdraw {
        to_escrow: bool,
    },
    Donate {
        token: usize,
        amount: u64,
    },
    Warp {
        choice: usize,
    },
}

fn create_step() -> impl Strategy<Value = Step> {
    (
        0..2usize,
        0..3usize,
        0..3usize,
        prop::collection::vec(1u64..=1_000_000, 1..=4),
        prop_oneof![3 => Just(4usize), 1 => 0..=3usize],
        any::<bool>(),
        0u8..=2,
        any::<bool>(),
    )
        .prop_map(|(client, worker, token, amounts, fund, arbiter, max_changes, deadline)| {
            Step::Create {
                client,
                worker,
                token,
                fund: fund.min(amounts.len()),
                amounts,
                arbiter,
                max_changes,
                deadline,
            }
        })
}

fn any_step() -> impl Strategy<Value = Step> {
    let jm = || (pick(), pick());
    prop_oneof![
        2 => create_step(),
        2 => (jm(), 1..=2usize).prop_map(|((job, milestone), count)| Step::Fund { job, milestone, count }),
        2 => pick().prop_map(|job| Step::Accept { job }),
        1 => pick().prop_map(|job| Step::WithdrawOffer { job }),
        6 => jm().prop_map(|(job, milestone)| Step::Submit { job, milestone }),
        2 => jm().prop_map(|(job, milestone)| Step::Approve { job, milestone }),
        1 => jm().prop_map(|(job, milestone)| Step::ApproveSigned { job, milestone }),
        3 => jm().prop_map(|(job, milestone)| Step::Release { job, milestone }),
        3 => jm().prop_map(|(job, milestone)| Step::RequestChanges { job, milestone }),
        3 => (jm(), any::<bool>()).prop_map(|((job, milestone), by_worker)| Step::Dispute { job, milestone, by_worker }),
        2 => (jm(), 0u16..=10_000).prop_map(|((job, milestone), worker_bps)| Step::Resolve { job, milestone, worker_bps }),
        2 => (jm(), any::<bool>())
            .prop_map(|((job, milestone), by_worker)| Step::SettleAfterTimeout { job, milestone, by_worker }),
        1 => (jm(), 0u16..=10_000, any::<bool>())
            .prop_map(|((job, milestone), worker_bps, by_worker)| Step::Settle { job, milestone, worker_bps, by_worker }),
        2 => pick().prop_map(|job| Step::Cancel { job }),
        2 => pick().prop_map(|job| Step::FinalizeCancel { job }),
        1 => pick().prop_map(|job| Step::Resign { job }),
        1 => pick().prop_map(|job| Step::Reclaim { job }),
        3 => jm().prop_map(|(job, milestone)| Step::ReclaimAbandoned { job, milestone }),
        1 => (0..4u8).prop_map(|n| Step::Withdraw { to_escrow: n == 0 }),
        1 => (0..3usize, 1u64..=1_000).prop_map(|(token, amount)| Step::Donate { token, amount }),
        5 => (0..WARPS.len()).prop_map(|choice| Step::Warp { choice }),
    ]
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    // A few jobs, created and accepted, then anything.
    (
        prop::collection::vec(create_step(), INITIAL_JOBS),
        prop::collection::vec(any_step(), STEPS - 2 * INITIAL_JOBS),
    )
        .prop_map(|(mut first, rest)| {
            first.extend((0..INITIAL_JOBS).map(|j| Step::Accept { job: Pick(j) }));
            first.extend(rest);
            first
        })
}

/// What the test knows about one job; milestone states are re-read from the contract after
/// every step that touches the job.
#[derive(Debug, Clone)]
struct JobModel {
    id: U256,
    client: usize,
    worker: usize,
    token: Address,
    arbiter: Address,
    amounts: Vec<U256>,
    /// The job's deadline (0: none).
    deadline: u64,
    /// `Job.cancelNoticeEnd` as last read (0 until the client gives notice).
    notice_end: u64,
    states: Vec<MilestoneState>,
    status: JobState,
    closed: Vec<bool>,
}

/// The deployed contracts and actors every case starts from (cloned per case).
#[derive(Clone)]
struct World {
    evm: Evm,
    escrow: Address,
    tokens: [Address; 3],
    clients: [Address; 2],
    client_signers: [PrivateKeySigner; 2],
    workers: [Address; 3],
    worker_signers: [PrivateKeySigner; 2],
    hostile_owner: Address,
    arbiter: Address,
    relayer: Address,
    /// Sends tokens straight to the escrow (donations no one can take out).
    donor: Address,
    jobs: Vec<JobModel>,
    owed: BTreeMap<(Address, Address), U256>,
    /// Per token, what was sent to the escrow outside `createJob` and `fund`.
    donated: BTreeMap<Address, U256>,
}

fn template() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let mut evm = Evm::new();
        let deployer = evm.account("inv deployer");
        let escrow =
            evm.deploy(deployer, MilestoneEscrow::BYTECODE.clone()).expect("escrow deploys");
        let t6 = evm.deploy_token(deployer, "SIX", 6);
        let t18 = evm.deploy_token(deployer, "EIGHTEEN", 18);
        let clients = [evm.account("inv client 0"), evm.account("inv client 1")];
        for client in clients {
            for token in [t6, t18] {
                evm.mint(token, client, U256::from(u128::MAX >> 8));
                evm.approve(token, client, escrow, U256::MAX);
            }
        }
        let donor = evm.account("inv donor");
        for token in [t6, t18] {
            evm.mint(token, donor, U256::from(u128::MAX >> 8));
        }
        let hostile_owner = evm.account("inv mallory");
        let hostile = evm
            .deploy(
                hostile_owner,
                [EscrowHostileParty::BYTECODE.as_ref(), &hostile_owner.abi_encode()].concat(),
            )
            .expect("hostile worker deploys");
        // Mode 1 (Revert): every native payment to it fails and is credited instead.
        evm.send(
            hostile_owner,
            hostile,
            EscrowHostileParty::configureCall {
                mode_: 1,
                target_: Address::ZERO,
                reentryData_: Bytes::new(),
            },
        )
        .expect("configure");
        let workers = [evm.account("inv worker 0"), evm.account("inv worker 1"), hostile];
        World {
            client_signers: [evm.signer("inv client 0"), evm.signer("inv client 1")],
            worker_signers: [evm.signer("inv worker 0"), evm.signer("inv worker 1")],
            arbiter: evm.account("inv arbiter"),
            relayer: evm.account("inv relayer"),
            donor,
            evm,
            escrow,
            tokens: [NATIVE, t6, t18],
            clients,
            workers,
            hostile_owner,
            jobs: Vec::new(),
            owed: BTreeMap::new(),
            donated: BTreeMap::new(),
        }
    })
}

/// Token units per random amount unit: odd amounts in every token, large enough to matter.
fn scale(token_index: usize) -> U256 {
    match token_index {
        1 => U256::from(1),
        _ => U256::from(1_000_000_000_000u64),
    }
}

fn allowed(from: MilestoneState, to: MilestoneState) -> bool {
    use MilestoneState::*;
    from == to
        || matches!(
            (from, to),
            (Unfunded, Funded)
                | (Funded, Submitted | Released | Refunded | Resolved)
                | (Submitted, Released | ChangesRequested | Disputed | Resolved)
                | (ChangesRequested, Submitted | Disputed | Released | Refunded | Resolved)
                | (Disputed, Released | Resolved)
        )
}

fn job_allowed(from: JobState, to: JobState) -> bool {
    use JobState::*;
    from == to
        || matches!(
            (from, to),
            (Offered, Active | Withdrawn)
                | (Active, Cancelling | Cancelled | Resigned)
                | (Cancelling, Cancelled | Resigned)
        )
}

/// A transaction to send: from whom, to where, with what value and calldata.
struct Tx {
    from: Address,
    to: Address,
    value: U256,
    data: Bytes,
}

impl World {
    fn balance(&mut self, token: Address, who: Address) -> U256 {
        self.evm.balance_of(token, who)
    }

    /// A call to the escrow made by worker `worker` (the hostile contract acts through its owner).
    fn as_worker(&self, worker: usize, call: impl SolCall) -> Tx {
        let data: Bytes = call.abi_encode().into();
        if worker == 2 {
            let wrapped =
                EscrowHostileParty::executeCall { to: self.escrow, value: U256::ZERO, data };
            Tx {
                from: self.hostile_owner,
                to: self.workers[2],
                value: U256::ZERO,
                data: wrapped.abi_encode().into(),
            }
        } else {
            Tx { from: self.workers[worker], to: self.escrow, value: U256::ZERO, data }
        }
    }

    fn tx(&self, from: Address, call: impl SolCall) -> Tx {
        Tx { from, to: self.escrow, value: U256::ZERO, data: call.abi_encode().into() }
    }

    /// Picks a milestone of `job` whose state is in `plausible` (any milestone if none is).
    fn pick(&self, job: usize, index: &Pick, plausible: &[MilestoneState]) -> usize {
        let states = &self.jobs[job].states;
        let candidates: Vec<usize> =
            (0..states.len()).filter(|&i| plausible.contains(&states[i])).collect();
        if candidates.is_empty() {
            index.of(states.len())
        } else {
            candidates[index.of(candidates.len())]
        }
    }

    /// Picks a job with a milestone in `plausible` (if given) and a status in `statuses` (if
    /// given), or any job if none fits: most steps then act on something they can change.
    fn pick_job(&self, index: &Pick, plausible: &[MilestoneState], statuses: &[JobState]) -> usize {
        let candidates: Vec<usize> = (0..self.jobs.len())
            .filter(|&j| {
                let job = &self.jobs[j];
                (statuses.is_empty() || statuses.contains(&job.status))
                    && (plausible.is_empty() || job.states.iter().any(|s| plausible.contains(s)))
            })
            .collect();
        if candidates.is_empty() {
            index.of(self.jobs.len())
        } else {
            candidates[index.of(candidates.len())]
        }
    }

    /// [`Self::pick_job`] among the jobs with an arbiter (`with_arbiter`) or without one, four
    /// times out of five, and among the others the fifth time (so the refusals are exercised too).
    fn pick_job_by_arbiter(
        &self,
        index: &Pick,
        plausible: &[MilestoneState],
        with_arbiter: bool,
    ) -> usize {
        let want = with_arbiter != index.0.is_multiple_of(5);
        let candidates: Vec<usize> = (0..self.jobs.len())
            .filter(|&j| {
                let job = &self.jobs[j];
                (job.arbiter != Address::ZERO) == want
                    && job.states.iter().any(|s| plausible.contains(s))
            })
            .collect();
        if candidates.is_empty() {
            self.pick_job(index, plausible, &[])
        } else {
            candidates[(index.0 / 5) % candidates.len()]
        }
    }

    fn nonce(&mut self, signer: Address) -> U256 {
        self.evm.view(self.escrow, MilestoneEscrow::noncesCall { signer }).expect("nonces")
    }

    /// Builds the transaction of `step`; `None` when the step has nothing to act on.
    fn build(&mut self, step: &Step) -> Option<(Tx, Option<usize>)> {
        use MilestoneState::*;
        let n = self.jobs.len();
        let tx = match step {
            Step::Create {
                client,
                worker,
                token,
                amounts,
                fund,
                arbiter,
                max_changes,
                deadline,
            } => {
                let amounts: Vec<U256> =
                    amounts.iter().map(|&a| U256::from(a) * scale(*token)).collect();
                let value =
                    if *token == 0 { amounts[..*fund].iter().copied().sum() } else { U256::ZERO };
                let params = JobParams {
                    worker: self.workers[*worker],
                    token: self.tokens[*token],
                    arbiter: if *arbiter { self.arbiter } else { Address::ZERO },
                    arbiterFeeBps: if *arbiter { 750 } else { 0 },
                    maxChangeRequests: *max_changes,
                    reviewPeriod: REVIEW as u32,
                    rulingPeriod: RULING as u32,
                    deadline: if *deadline { self.evm.timestamp() + 4 * REVIEW } else { 0 },
                    metadataHash: Default::default(),
                    amounts,
                };
                let call = MilestoneEscrow::createJobCall { params, fundCount: U256::from(*fund) };
                return Some((
                    Tx {
                        from: self.clients[*client],
                        to: self.escrow,
                        value,
                        data: call.abi_encode().into(),
                    },
                    None,
                ));
            }
            Step::Withdraw { to_escrow } => {
                let hostile = self.workers[2];
                let to = if *to_escrow { self.escrow } else { self.hostile_owner };
                let call = MilestoneEscrow::withdrawCall { token: NATIVE, to };
                let wrapped = EscrowHostileParty::executeCall {
                    to: self.escrow,
                    value: U256::ZERO,
                    data: call.abi_encode().into(),
                };
                return Some((
                    Tx {
                        from: self.hostile_owner,
                        to: hostile,
                        value: U256::ZERO,
                        data: wrapped.abi_encode().into(),
                    },
                    None,
                ));
            }
            Step::Warp { .. } | Step::Donate { .. } => return None,
            _ if n == 0 => return None,
            Step::Fund { job, milestone, count } => {
                let j = self.pick_job(job, &[Unfunded], &[JobState::Offered, JobState::Active]);
                let m = self.pick(j, milestone, &[Unfunded]);
                let model = &self.jobs[j];
                let end = (m + count).min(model.amounts.len());
                let value = if model.token == NATIVE {
                    model.amounts[m..end].iter().copied().sum()
                } else {
                    U256::ZERO
                };
                let call = MilestoneEscrow::fundCall {
                    jobId: model.id,
                    from: U256::from(m),
                    count: U256::from(*count),
                };
                (Tx { value, ..self.tx(self.clients[model.client], call) }, j)
            }
            Step::Accept { job } => {
                let j = self.pick_job(job, &[], &[JobState::Offered]);
                (
                    self.as_worker(
                        self.jobs[j].worker,
                        MilestoneEscrow::acceptJobCall { jobId: self.jobs[j].id },
                    ),
                    j,
                )
            }
            Step::WithdrawOffer { job } => {
                let j = self.pick_job(job, &[], &[JobState::Offered]);
                let model = &self.jobs[j];
                (
                    self.tx(
                        self.clients[model.client],
                        MilestoneEscrow::withdrawOfferCall { jobId: model.id },
                    ),
                    j,
                )
            }
            Step::Submit { job, milestone } => {
                let j = self.pick_job(
                    job,
                    &[Funded, ChangesRequested],
                    &[JobState::Active, JobState::Cancelling, JobState::Cancelled],
                );
                let m = self.pick(j, milestone, &[Funded, ChangesRequested]);
                let model = &self.jobs[j];
                let call = MilestoneEscrow::submitCall {
                    jobId: model.id,
                    milestoneIndex: U256::from(m),
                    deliverableHash: Default::default(),
                };
                (self.as_worker(model.worker, call), j)
            }
            Step::Approve { job, milestone } => {
                let j = self.pick_job(
                    job,
                    &[Funded, Submitted, ChangesRequested, Disputed],
                    &[
                        JobState::Active,
                        JobState::Cancelling,
                        JobState::Cancelled,
                        JobState::Resigned,
                    ],
                );
                let m = self.pick(j, milestone, &[Funded, Submitted, ChangesRequested, Disputed]);
                let model = &self.jobs[j];
                let call = MilestoneEscrow::approveMilestoneCall {
                    jobId: model.id,
                    milestoneIndex: U256::from(m),
                };
                (self.tx(self.clients[model.client], call), j)
            }
            Step::ApproveSigned { job, milestone } => {
                let j = self.pick_job(
                    job,
                    &[Funded, Submitted, ChangesRequested, Disputed],
                    &[
                        JobState::Active,
                        JobState::Cancelling,
                        JobState::Cancelled,
                        JobState::Resigned,
                    ],
                );
                let m = self.pick(j, milestone, &[Funded, Submitted, ChangesRequested, Disputed]);
                let (id, client) = (self.jobs[j].id, self.jobs[j].client);
                let nonce = self.nonce(self.clients[client]);
                let deadline = U256::from(self.evm.timestamp() + 100);
                let approval =
                    Approval { jobId: id, milestoneIndex: U256::from(m), nonce, deadline };
                let digest = approval.signing_hash(self.evm.chain_id(), self.escrow);
                let signature = self.client_signers[client].sign_hash_sync(&digest).expect("signs");
                let call = MilestoneEscrow::approveMilestoneWithSignatureCall {
                    jobId: id,
                    milestoneIndex: U256::from(m),
                    deadline,
                    signature: signature.as_bytes().to_vec().into(),
                };
                (self.tx(self.relayer, call), j)
            }
            Step::Release { job, milestone } => {
                let j = self.pick_job(job, &[Submitted], &[]);
                let m = self.pick(j, milestone, &[Submitted]);
                let call = MilestoneEscrow::releaseAfterReviewCall {
                    jobId: self.jobs[j].id,
                    milestoneIndex: U256::from(m),
                };
                (self.tx(self.relayer, call), j)
            }
            Step::RequestChanges { job, milestone } => {
                let j = self.pick_job(job, &[Submitted], &[]);
                let m = self.pick(j, milestone, &[Submitted]);
                let model = &self.jobs[j];
                let call = MilestoneEscrow::requestChangesCall {
                    jobId: model.id,
                    milestoneIndex: U256::from(m),
                    reasonHash: Default::default(),
                };
                (self.tx(self.clients[model.client], call), j)
            }
            Step::Dispute { job, milestone, by_worker } => {
                let j = self.pick_job_by_arbiter(
                    job,
                    if *by_worker { &[ChangesRequested] } else { &[Submitted, ChangesRequested] },
                    true,
                );
                let plausible: &[MilestoneState] =
                    if *by_worker { &[ChangesRequested] } else { &[Submitted, ChangesRequested] };
                let m = self.pick(j, milestone, plausible);
                let model = &self.jobs[j];
                let call =
                    MilestoneEscrow::disputeCall { jobId: model.id, milestoneIndex: U256::from(m) };
                if *by_worker {
                    (self.as_worker(model.worker, call), j)
                } else {
                    (self.tx(self.clients[model.client], call), j)
                }
            }
            Step::Resolve { job, milestone, worker_bps } => {
                let j = self.pick_job(job, &[Disputed], &[]);
                let m = self.pick(j, milestone, &[Disputed]);
                let call = MilestoneEscrow::resolveCall {
                    jobId: self.jobs[j].id,
                    milestoneIndex: U256::from(m),
                    workerBps: U256::from(*worker_bps),
                };
                (self.tx(self.arbiter, call), j)
            }
            Step::SettleAfterTimeout { job, milestone, by_worker } => {
                let j = self.pick_job(job, &[Disputed], &[]);
                let m = self.pick(j, milestone, &[Disputed]);
                let model = &self.jobs[j];
                let call = MilestoneEscrow::settleAfterRulingTimeoutCall {
                    jobId: model.id,
                    milestoneIndex: U256::from(m),
                };
                if *by_worker {
                    (self.as_worker(model.worker, call), j)
                } else {
                    (self.tx(self.clients[model.client], call), j)
                }
            }
            Step::Settle { job, milestone, worker_bps, by_worker } => {
                let j = self.pick_job(job, &[Funded, Submitted, ChangesRequested, Disputed], &[]);
                let m = self.pick(j, milestone, &[Funded, Submitted, ChangesRequested, Disputed]);
                let (id, client, worker) =
                    (self.jobs[j].id, self.jobs[j].client, self.jobs[j].worker);
                // The hostile worker cannot sign (no EIP-1271), so it always calls itself.
                let worker_calls = *by_worker || worker == 2;
                let signer_address =
                    if worker_calls { self.clients[client] } else { self.workers[worker] };
                let nonce = self.nonce(signer_address);
                let deadline = U256::from(self.evm.timestamp() + 100);
                let settlement = Settlement {
                    jobId: id,
                    milestoneIndex: U256::from(m),
                    workerBps: U256::from(*worker_bps),
                    nonce,
                    deadline,
                };
                let digest = settlement.signing_hash(self.evm.chain_id(), self.escrow);
                let signer = if worker_calls {
                    &self.client_signers[client]
                } else {
                    &self.worker_signers[worker]
                };
                let signature: Bytes =
                    signer.sign_hash_sync(&digest).expect("signs").as_bytes().to_vec().into();
                let (client_sig, worker_sig) = if worker_calls {
                    (signature, Bytes::new())
                } else {
                    (Bytes::new(), signature)
                };
                let call = MilestoneEscrow::settleCall {
                    jobId: id,
                    milestoneIndex: U256::from(m),
                    workerBps: U256::from(*worker_bps),
                    deadline,
                    clientSignature: client_sig,
                    workerSignature: worker_sig,
                };
                if worker_calls {
                    (self.as_worker(worker, call), j)
                } else {
                    (self.tx(self.clients[client], call), j)
                }
            }
            Step::Cancel { job } => {
                let j = self.pick_job(job, &[], &[JobState::Active]);
                let model = &self.jobs[j];
                (
                    self.tx(
                        self.clients[model.client],
                        MilestoneEscrow::cancelCall { jobId: model.id },
                    ),
                    j,
                )
            }
            Step::Resign { job } => {
                let j = self.pick_job(job, &[], &[JobState::Active, JobState::Cancelling]);
                (
                    self.as_worker(
                        self.jobs[j].worker,
                        MilestoneEscrow::resignCall { jobId: self.jobs[j].id },
                    ),
                    j,
                )
            }
            Step::FinalizeCancel { job } => {
                let j = self.pick_job(job, &[], &[JobState::Cancelling]);
                let call = MilestoneEscrow::finalizeCancelCall { jobId: self.jobs[j].id };
                (self.tx(self.relayer, call), j)
            }
            Step::ReclaimAbandoned { job, milestone } => {
                let j = self.pick_job_by_arbiter(job, &[ChangesRequested], false);
                let m = self.pick(j, milestone, &[ChangesRequested]);
                let model = &self.jobs[j];
                let call = MilestoneEscrow::reclaimAbandonedCall {
                    jobId: model.id,
                    milestoneIndex: U256::from(m),
                };
                (self.tx(self.clients[model.client], call), j)
            }
            Step::Reclaim { job } => {
                let j = self.pick_job(job, &[], &[JobState::Offered, JobState::Active]);
                let model = &self.jobs[j];
                (
                    self.tx(
                        self.clients[model.client],
                        MilestoneEscrow::reclaimExpiredCall { jobId: model.id },
                    ),
                    j,
                )
            }
        };
        Some((tx.0, Some(tx.1)))
    }

    /// Reads a job's milestones, status and notice end back from the contract.
    fn read_job(&mut self, id: U256) -> (Vec<MilestoneState>, JobState, u64) {
        let milestones = self
            .evm
            .view(self.escrow, MilestoneEscrow::getMilestonesCall { jobId: id })
            .expect("getMilestones");
        let job =
            self.evm.view(self.escrow, MilestoneEscrow::getJobCall { jobId: id }).expect("getJob");
        let states = milestones
            .iter()
            .map(|m| MilestoneState::try_from(m.status).expect("known milestone state"))
            .collect();
        (states, JobState::try_from(job.status).expect("known job state"), job.cancelNoticeEnd)
    }

    /// Funded milestones not yet paid out plus credits still owed plus donations, per token: the
    /// contract guarantees its balance is at least the first two; the test knows the donations.
    fn expected_escrow_balance(&self, token: Address) -> U256 {
        let locked: U256 = self
            .jobs
            .iter()
            .filter(|job| job.token == token)
            .flat_map(|job| {
                job.states
                    .iter()
                    .zip(&job.amounts)
                    .filter(|(s, _)| s.holds_funds())
                    .map(|(_, a)| *a)
            })
            .sum();
        let owed: U256 =
            self.owed.iter().filter(|((t, _), _)| *t == token).map(|(_, amount)| *amount).sum();
        locked + owed + self.donated.get(&token).copied().unwrap_or_default()
    }

    /// Sends `amount` units of token `token` straight to the escrow: an ERC-20 transfer, or for
    /// rBTC a forced send (what `SELFDESTRUCT` or a coinbase reward does despite no `receive`).
    fn donate(&mut self, token: usize, amount: u64) {
        let amount = U256::from(amount) * scale(token);
        let address = self.tokens[token];
        if address == NATIVE {
            let balance = self.evm.balance(self.escrow);
            self.evm.set_balance(self.escrow, balance + amount);
        } else {
            self.evm
                .send(
                    self.donor,
                    address,
                    shiftpay_tests::mocks::MockERC20::transferCall {
                        to: self.escrow,
                        value: amount,
                    },
                )
                .expect("donation");
        }
        *self.donated.entry(address).or_default() += amount;
    }

    fn check_escrow_balances(&mut self) -> Result<(), TestCaseError> {
        for token in self.tokens {
            let actual = self.balance(token, self.escrow);
            let expected = self.expected_escrow_balance(token);
            prop_assert_eq!(actual, expected, "escrow balance of token {}", token);
        }
        Ok(())
    }

    /// Runs one step and checks every per-step invariant.
    fn run(&mut self, step: &Step) -> Result<(), TestCaseError> {
        if let Step::Warp { choice } = step {
            self.evm.skip(WARPS[*choice]);
            return Ok(());
        }
        if let Step::Donate { token, amount } = step {
            self.donate(*token, *amount);
            record(step, true);
            return self.check_escrow_balances();
        }
        let Some((tx, job)) = self.build(step) else { return Ok(()) };

        // Who may see money move: the touched job's parties (or the hostile owner on withdraw).
        let (token, watched) = match (job, step) {
            (Some(j), _) => {
                let model = &self.jobs[j];
                let mut parties = vec![self.clients[model.client], self.workers[model.worker]];
                if model.arbiter != Address::ZERO {
                    parties.push(model.arbiter);
                }
                (model.token, parties)
            }
            (None, Step::Create { client, token, .. }) => {
                (self.tokens[*token], vec![self.clients[*client]])
            }
            _ => (NATIVE, vec![self.hostile_owner, self.workers[2]]),
        };
        let before: Vec<U256> = watched.iter().map(|&who| self.balance(token, who)).collect();

        let result = self.evm.send_raw(tx.from, tx.to, tx.value, tx.data);
        record(step, result.is_ok());
        let receipt: Receipt<Bytes> = match result {
            Ok(receipt) => receipt,
            Err(TxError::Revert(_)) => {
                // A refused step changes nothing.
                if let Some(j) = job {
                    let (states, status, _) = self.read_job(self.jobs[j].id);
                    prop_assert_eq!(
                        &states,
                        &self.jobs[j].states,
                        "reverted step changed milestones"
                    );
                    prop_assert_eq!(status, self.jobs[j].status);
                }
                for (who, was) in watched.iter().zip(&before) {
                    prop_assert_eq!(self.balance(token, *who), *was, "reverted step moved funds");
                }
                return self.check_escrow_balances();
            }
            Err(other) => {
                return Err(TestCaseError::fail(format!("step {step:?} failed: {other}")));
            }
        };

        let j = match job {
            Some(j) => j,
            None if matches!(step, Step::Create { .. }) => {
                let Step::Create { client, worker, token, amounts, .. } = step else {
                    unreachable!()
                };
                let id = MilestoneEscrow::createJobCall::abi_decode_returns(&receipt.ret)
                    .expect("job id");
                let params =
                    decode_events::<MilestoneEscrow::JobCreated>(&receipt.logs).remove(0).params;
                prop_assert_eq!(params.amounts.len(), amounts.len());
                self.jobs.push(JobModel {
                    id,
                    client: *client,
                    worker: *worker,
                    token: self.tokens[*token],
                    arbiter: params.arbiter,
                    deadline: params.deadline,
                    notice_end: 0,
                    states: vec![MilestoneState::Unfunded; amounts.len()],
                    status: JobState::Offered,
                    closed: vec![false; amounts.len()],
                    amounts: params.amounts,
                });
                self.jobs.len() - 1
            }
            None => {
                // Withdraw of deferred payouts by the hostile worker, to its owner.
                prop_assert!(
                    matches!(step, Step::Withdraw { to_escrow: false }),
                    "a withdrawal to the escrow itself succeeded"
                );
                let key = (NATIVE, self.workers[2]);
                let owed = self.owed.remove(&key).unwrap_or_default();
                let event =
                    decode_events::<MilestoneEscrow::DeferredPaymentWithdrawn>(&receipt.logs)
                        .remove(0);
                prop_assert_eq!(event.amount, owed);
                let after = self.balance(NATIVE, self.hostile_owner);
                prop_assert_eq!(after - before[0], owed, "withdrawal reached the named address");
                return self.check_escrow_balances();
            }
        };

        self.check_job_step(j, &receipt, token, &watched, &before)?;
        self.check_escrow_balances()
    }

    /// Checks the transitions, the closing events and the money flows of a step on job `j`.
    fn check_job_step(
        &mut self,
        j: usize,
        receipt: &Receipt<Bytes>,
        token: Address,
        watched: &[Address],
        before: &[U256],
    ) -> Result<(), TestCaseError> {
        let id = self.jobs[j].id;
        let (states, status, notice_end) = self.read_job(id);
        let model = self.jobs[j].clone();
        prop_assert!(job_allowed(model.status, status), "job {:?} -> {:?}", model.status, status);
        self.check_rules(&model, &states, status, notice_end)?;
        let (client, worker) = (self.clients[model.client], self.workers[model.worker]);

        // Expected net flow per address, from the events.
        let mut expected: BTreeMap<Address, (U256, U256)> = BTreeMap::new(); // (in, out)
        let mut closing: BTreeMap<usize, U256> = BTreeMap::new(); // milestone -> total paid out
        let mut funded: BTreeSet<usize> = BTreeSet::new();
        let credit = |to: Address, amount: U256, expected: &mut BTreeMap<Address, (U256, U256)>| {
            expected.entry(to).or_default().0 += amount;
        };
        for event in decode_events::<MilestoneEscrow::MilestoneFunded>(&receipt.logs) {
            prop_assert_eq!(event.jobId, id);
            let m: usize = event.milestoneIndex.to();
            prop_assert_eq!(event.amount, model.amounts[m]);
            prop_assert!(funded.insert(m), "funded twice in one step");
            expected.entry(client).or_default().1 += event.amount;
        }
        let close = |m: usize,
                     amount: U256,
                     closing: &mut BTreeMap<usize, U256>|
         -> Result<(), TestCaseError> {
            prop_assert!(
                closing.insert(m, amount).is_none(),
                "milestone {} closed twice in one step",
                m
            );
            Ok(())
        };
        for event in decode_events::<MilestoneEscrow::MilestoneApproved>(&receipt.logs) {
            close(event.milestoneIndex.to(), event.amount, &mut closing)?;
            credit(worker, event.amount, &mut expected);
        }
        for event in decode_events::<MilestoneEscrow::MilestoneReleasedAfterReview>(&receipt.logs) {
            close(event.milestoneIndex.to(), event.amount, &mut closing)?;
            credit(worker, event.amount, &mut expected);
        }
        for event in decode_events::<MilestoneEscrow::MilestoneResolved>(&receipt.logs) {
            let m: usize = event.milestoneIndex.to();
            close(m, event.workerAmount + event.clientAmount + event.arbiterFee, &mut closing)?;
            credit(worker, event.workerAmount, &mut expected);
            credit(client, event.clientAmount, &mut expected);
            if event.arbiterFee > U256::ZERO {
                prop_assert!(
                    model.arbiter != Address::ZERO
                        && event.resolution == ResolutionKind::ArbiterRuling as u8,
                    "fee only on a ruling"
                );
                // The fee is exactly the job's rate of the milestone.
                prop_assert_eq!(
                    event.arbiterFee,
                    model.amounts[m] * U256::from(750) / U256::from(10_000)
                );
                credit(model.arbiter, event.arbiterFee, &mut expected);
            }
        }
        for event in decode_events::<MilestoneEscrow::MilestoneRefunded>(&receipt.logs) {
            close(event.milestoneIndex.to(), event.amount, &mut closing)?;
            credit(client, event.amount, &mut expected);
        }
        // Deferred payouts: what an address did not receive is credited to it.
        let mut deferred: BTreeMap<Address, U256> = BTreeMap::new();
        for event in decode_events::<MilestoneEscrow::PaymentDeferred>(&receipt.logs) {
            prop_assert_eq!(event.token, token);
            *deferred.entry(event.account).or_default() += event.amount;
            *self.owed.entry((token, event.account)).or_default() += event.amount;
        }

        // Transitions: only along the state machine; funding and closing exactly as announced.
        for (m, (&from, &to)) in model.states.iter().zip(&states).enumerate() {
            prop_assert!(allowed(from, to), "milestone {} moved {:?} -> {:?}", m, from, to);
            prop_assert_eq!(
                funded.contains(&m),
                from == MilestoneState::Unfunded && to == MilestoneState::Funded
            );
            let closes = !from.is_terminal() && to.is_terminal();
            prop_assert_eq!(
                closing.contains_key(&m),
                closes,
                "milestone {} {:?} -> {:?}",
                m,
                from,
                to
            );
            if let Some(paid) = closing.get(&m) {
                prop_assert!(!model.closed[m], "milestone {} paid out twice", m);
                prop_assert_eq!(
                    *paid,
                    model.amounts[m],
                    "milestone {} paid out what was funded",
                    m
                );
            }
        }
        for (who, was) in watched.iter().zip(before) {
            let now = self.balance(token, *who);
            let (inflow, outflow) = expected.remove(who).unwrap_or_default();
            let credited = deferred.get(who).copied().unwrap_or_default();
            prop_assert_eq!(
                now + credited + outflow,
                *was + inflow,
                "balance of {} moved as announced",
                who
            );
        }
        prop_assert!(
            expected.is_empty(),
            "money announced to an unexpected address: {:?}",
            expected
        );

        let job = &mut self.jobs[j];
        for m in closing.keys() {
            job.closed[*m] = true;
        }
        job.states = states;
        job.status = status;
        job.notice_end = notice_end;
        Ok(())
    }

    /// The rules of the transitions a successful step made on a job (`model` is the job before
    /// the step, the other arguments after it).
    fn check_rules(
        &self,
        model: &JobModel,
        states: &[MilestoneState],
        status: JobState,
        notice_end: u64,
    ) -> Result<(), TestCaseError> {
        use MilestoneState::*;
        let now = self.evm.timestamp();
        let deadline_passed = model.deadline != 0 && now > model.deadline;
        for (m, (&from, &to)) in model.states.iter().zip(states).enumerate() {
            if from == Funded && to == Submitted {
                prop_assert!(!deadline_passed, "milestone {} submitted after the deadline", m);
                match model.status {
                    JobState::Active => {}
                    JobState::Cancelling => prop_assert!(
                        now <= model.notice_end,
                        "milestone {} submitted after the notice ({} > {})",
                        m,
                        now,
                        model.notice_end
                    ),
                    other => prop_assert!(false, "milestone {} submitted in a {:?} job", m, other),
                }
            }
            if to == Disputed && from != Disputed {
                prop_assert!(model.arbiter != Address::ZERO, "disputed without an arbiter");
            }
            if from == ChangesRequested && to == Refunded && status != JobState::Resigned {
                // reclaimAbandoned: no arbiter, after the worker's response window.
                prop_assert!(model.arbiter == Address::ZERO, "reclaimed with an arbiter");
            }
        }
        match (model.status, status) {
            (JobState::Active, JobState::Cancelling) => {
                let mut expected = now + REVIEW;
                if model.deadline != 0 {
                    expected = expected.min(model.deadline);
                }
                prop_assert_eq!(notice_end, expected, "notice = min(now + review, deadline)");
                prop_assert!(!deadline_passed, "notice given after the deadline");
                prop_assert!(model.states.contains(&Funded), "notice with nothing to submit");
            }
            (JobState::Active, JobState::Cancelled) => prop_assert!(
                deadline_passed || !model.states.contains(&Funded),
                "cancelled at once while the worker could still submit"
            ),
            (JobState::Cancelling, JobState::Cancelled) => {
                prop_assert!(now > model.notice_end, "cancellation finalized within the notice");
            }
            _ => {}
        }
        if model.status != JobState::Cancelling && status != JobState::Cancelling {
            prop_assert_eq!(notice_end, model.notice_end, "notice end changed");
        }
        if matches!(status, JobState::Cancelled | JobState::Resigned | JobState::Withdrawn) {
            prop_assert!(!states.contains(&Funded), "a {:?} job holds a funded milestone", status);
        }
        if status == JobState::Cancelling {
            prop_assert!(notice_end != 0, "a notice without end");
        }
        if model.arbiter == Address::ZERO {
            prop_assert!(!states.contains(&Disputed), "a disputed milestone without an arbiter");
        }
        Ok(())
    }

    /// End of case: every job and every credit read back equals the model.
    fn check_final(&mut self) -> Result<(), TestCaseError> {
        for j in 0..self.jobs.len() {
            let (states, status, notice_end) = self.read_job(self.jobs[j].id);
            prop_assert_eq!(&states, &self.jobs[j].states);
            prop_assert_eq!(status, self.jobs[j].status);
            prop_assert_eq!(notice_end, self.jobs[j].notice_end);
            for (m, state) in states.iter().enumerate() {
                prop_assert_eq!(state.is_terminal(), self.jobs[j].closed[m]);
            }
        }
        let accounts: Vec<Address> = self
            .clients
            .iter()
            .chain(&self.workers)
            .copied()
            .chain([self.arbiter, self.relayer])
            .collect();
        for token in self.tokens {
            for &account in &accounts {
                let actual = self
                    .evm
                    .view(self.escrow, MilestoneEscrow::owedCall { token, account })
                    .expect("owed");
                let expected = self.owed.get(&(token, account)).copied().unwrap_or_default();
                prop_assert_eq!(actual, expected, "owed {} to {}", token, account);
            }
        }
        Ok(())
    }
}

/// Successful and refused steps per kind over the whole run, printed when
/// `ESCROW_INVARIANT_STATS` is set (to check the generator reaches every transition).
static STATS: std::sync::Mutex<BTreeMap<&'static str, (u64, u64)>> =
    std::sync::Mutex::new(BTreeMap::new());

fn record(step: &Step, succeeded: bool) {
    let name = match step {
        Step::Create { .. } => "create",
        Step::Fund { .. } => "fund",
        Step::Accept { .. } => "accept",
        Step::WithdrawOffer { .. } => "withdrawOffer",
        Step::Submit { .. } => "submit",
        Step::Approve { .. } => "approve",
        Step::ApproveSigned { .. } => "approveSigned",
        Step::Release { .. } => "releaseAfterReview",
        Step::RequestChanges { .. } => "requestChanges",
        Step::Dispute { .. } => "dispute",
        Step::Resolve { .. } => "resolve",
        Step::SettleAfterTimeout { .. } => "settleAfterRulingTimeout",
        Step::Settle { .. } => "settle",
        Step::Cancel { .. } => "cancel",
        Step::FinalizeCancel { .. } => "finalizeCancel",
        Step::Resign { .. } => "resign",
        Step::Reclaim { .. } => "reclaimExpired",
        Step::ReclaimAbandoned { .. } => "reclaimAbandoned",
        Step::Withdraw { to_escrow: false } => "withdraw",
        Step::Withdraw { to_escrow: true } => "withdraw to the escrow",
        Step::Donate { .. } => "donate",
        Step::Warp { .. } => "warp",
    };
    let mut stats = STATS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let entry = stats.entry(name).or_default();
    if succeeded { entry.0 += 1 } else { entry.1 += 1 }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000)
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(cases()) })]

    #[test]
    fn escrow_conserves_funds_and_follows_the_state_machine(steps in steps()) {
        let mut world = template().clone();
        for step in &steps {
            world.run(step)?;
        }
        world.check_final()?;
    }
}

/// Prints the step statistics after the property test when asked to (run with
/// `ESCROW_INVARIANT_STATS=1 cargo test -p shiftpay-tests --test escrow invariant -- --test-threads 1`).
#[test]
fn zz_print_invariant_stats() {
    if std::env::var_os("ESCROW_INVARIANT_STATS").is_none() {
        return;
    }
    let stats = STATS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    eprintln!("{:<26} {:>9} {:>9}", "step", "succeeded", "refused");
    for (name, (ok, refused)) in stats.iter() {
        eprintln!("{name:<26} {ok:>9} {refused:>9}");
    }
}

/// The template world really exercises the interesting paths: a fixed sequence reaches payouts,
/// disputes, deferred credits and withdrawals (guards against a generator that only reverts).
#[test]
fn invariant_world_reaches_every_kind_of_payout() {
    let mut world = template().clone();
    let i = Pick;
    let plan = vec![
        Step::Create {
            client: 0,
            worker: 2,
            token: 0,
            amounts: vec![5, 7, 9],
            fund: 3,
            arbiter: true,
            max_changes: 1,
            deadline: false,
        },
        Step::Accept { job: i(0) },
        Step::Submit { job: i(0), milestone: i(0) },
        Step::Approve { job: i(0), milestone: i(0) },
        Step::Submit { job: i(0), milestone: i(0) },
        Step::Dispute { job: i(0), milestone: i(0), by_worker: false },
        Step::Resolve { job: i(0), milestone: i(0), worker_bps: 3_333 },
        Step::Submit { job: i(0), milestone: i(0) },
        Step::Warp { choice: 3 },
        Step::Release { job: i(0), milestone: i(0) },
        Step::Withdraw { to_escrow: true },
        Step::Withdraw { to_escrow: false },
        Step::Donate { token: 0, amount: 3 },
        Step::Resign { job: i(0) },
    ];
    for step in &plan {
        world.run(step).expect("step keeps the invariants");
    }
    world.check_final().expect("final state matches");
    let states = world.jobs[0].states.clone();
    assert_eq!(
        states,
        vec![MilestoneState::Released, MilestoneState::Resolved, MilestoneState::Released]
    );
    assert!(world.owed.is_empty(), "the hostile worker withdrew; nothing else was owed");
}
