//! Follows the Payroll and MilestoneEscrow logs from the deployment block, `confirmations`
//! behind the head, and rolls back what a reorg replaced (the shape of rindexer's reorg-safe
//! distance plus a block-hash window).
//!
//! # One step ([`Watcher::step`])
//! 1. `eth_getBlockByNumber(latest)`: the head; `safe = head - confirmations`.
//! 2. **Reorg check**: the stored cursor's hash against the node's block of that number. On a
//!    mismatch the watcher walks back through the stored window (`reorg_window` blocks) to the
//!    newest block whose stored hash the node still has (the fork point) and calls
//!    [`Store::rollback_to`]: blocks above it are forgotten, payouts derived from events above
//!    it and never sent are deleted (sent ones stay: the sender re-checks them on-chain), and the
//!    cursor moves back to it. With no common block in the window the cursor is cleared and the
//!    watcher starts again from the deployment block (payout keys make that harmless).
//! 3. The next page `[cursor + 1, min(safe, cursor + log_range)]` with
//!    [`shiftpay_bindings::logs::get_logs_paged`] (a window the node calls too large is halved,
//!    and the smaller page is kept from then on).
//! 4. The headers of the page's blocks inside the reorg window (only the last block while far
//!    behind), checked to chain onto each other and onto the cursor, and every log's block hash
//!    checked against them: a reorg during the step makes it start again, never store a mix.
//! 5. Events decoded into [`Event`]s; the release and `finalizeCancel` payouts they call for
//!    ([`ReleasePlanner::plan`]) inserted **in the same storage transaction** as the block
//!    hashes and the cursor move ([`Store::advance`]): a crash leaves either the whole page or
//!    none of it.
//! 6. After the commit: the stream events update the [`StreamBook`] (the scheduler's payday
//!    candidates) and payouts obsoleted by events now deeper than the window are marked
//!    `Skipped`.
//!
//! # Several instances on one database ([`Watcher::leader_lease`])
//! Before each step the watcher takes or renews [`CURSOR_LEASE`] for its instance (until
//! `now + leader_lease`, machine clock, longer than `poll_interval`), and renews it again
//! before committing when half of it has passed. When another instance holds it, the step does
//! nothing ([`Step::Follower`]) and the instance is a follower: it serves the API and sends due
//! payouts, but neither moves the cursor nor schedules paydays. A leader that stops renewing
//! (killed, partitioned) loses the lease when it ends and the next follower step takes it; a
//! clean shutdown releases it at once. An instance that becomes the leader rebuilds its
//! [`StreamBook`] from the logs up to the stored cursor and starts with a fresh
//! [`ReleasePlanner`] (what the previous leader planned is in the store; obsolete releases it
//! had not marked yet are caught by the sender's on-chain re-check). If two steps ever overlap
//! (a leader paused past its lease), the store keeps them harmless: payout keys are unique and
//! the cursor never moves back ([`StoreError::CursorBackwards`] makes the late step start
//! again). Memory and SQLite always grant the lease (one relayer per file).
//!
//! The task ([`Watcher::run`]) steps without pause while behind and every `poll_interval` once
//! caught up or a follower (plain HTTP polling). Node errors are retried with backoff (doubling
//! up to 30 s); every RPC request has the provider's timeout (`rpc_timeout`). [`StatusCell`]
//! exposes the head, cursor, lag (`head - cursor`), reorg count, the role and the last error for
//! `/ready` and `/metrics`.

use std::{
    collections::BTreeMap,
    fmt,
    sync::{Arc, RwLock},
    time::Duration,
};

use alloy::{
    primitives::{Address, B256, U64, U256},
    providers::{DynProvider, Provider},
    rpc::types::{Filter, Log},
    sol_types::SolEvent,
};
use async_trait::async_trait;
use serde::Deserialize;
use shiftpay_bindings::{
    escrow::MilestoneEscrow,
    logs::{LogsError, get_logs_paged},
    payroll::Payroll,
    rpc::NodeError,
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::{
    scheduler::{ReleasePlanner, StreamBook, apply_skips, backoff},
    service::{Context, Stage, Task, TaskContext, TaskError},
    store::{Advance, BlockRef, CURSOR_LEASE, Cursor, Store, StoreError, unix_now},
};

// ---- events ----------------------------------------------------------------------------------

/// The contract events the relayer acts on (times in unix seconds, saturated to `u64`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Event {
    /// `MilestoneSubmitted`: the review window runs until `review_end` (its last second).
    MilestoneSubmitted {
        /// Job id.
        job: U256,
        /// Milestone index.
        milestone: U256,
        /// Last second of the client's review window.
        review_end: u64,
    },
    /// `ChangesRequested`: the submission's review is over (a resubmission starts a new one).
    ChangesRequested {
        /// Job id.
        job: U256,
        /// Milestone index.
        milestone: U256,
        /// Last second of the worker's response window.
        response_end: u64,
    },
    /// `MilestoneApproved` (by the client, directly or by signature): paid.
    MilestoneApproved {
        /// Job id.
        job: U256,
        /// Milestone index.
        milestone: U256,
    },
    /// `MilestoneReleasedAfterReview`: paid after the window (by the relayer or anyone).
    MilestoneReleasedAfterReview {
        /// Job id.
        job: U256,
        /// Milestone index.
        milestone: U256,
    },
    /// `MilestoneDisputed`: the arbiter's ruling window runs.
    MilestoneDisputed {
        /// Job id.
        job: U256,
        /// Milestone index.
        milestone: U256,
        /// Last second the arbiter may rule.
        ruling_end: u64,
    },
    /// `MilestoneResolved`: split (ruling, ruling timeout or settlement).
    MilestoneResolved {
        /// Job id.
        job: U256,
        /// Milestone index.
        milestone: U256,
    },
    /// `MilestoneRefunded`: returned to the client.
    MilestoneRefunded {
        /// Job id.
        job: U256,
        /// Milestone index.
        milestone: U256,
    },
    /// `CancellationNoticed`: the client gave notice (submitted milestones still run their
    /// review, so releases stay due).
    CancellationNoticed {
        /// Job id.
        job: U256,
        /// Last second the worker may still submit.
        notice_end: u64,
    },
    /// `JobCancelled` (submitted milestones still run their review): a pending
    /// `finalizeCancel` of the job is done.
    JobCancelled {
        /// Job id.
        job: U256,
    },
    /// `WorkerResigned` (`Active` or `Cancelling` -> `Resigned`): a pending `finalizeCancel` of
    /// the job is not needed any more.
    WorkerResigned {
        /// Job id.
        job: U256,
    },
    /// `StreamCreated`.
    StreamCreated {
        /// Stream id.
        stream: U256,
        /// Employer.
        employer: Address,
        /// Worker.
        worker: Address,
        /// Token (zero: native).
        token: Address,
        /// Accrual end (0: open-ended).
        end: u64,
    },
    /// `EndSet`: the stream's end moved.
    EndSet {
        /// Stream id.
        stream: U256,
        /// New end (0: open-ended).
        end: u64,
    },
    /// `StreamCanceled`: accrual stopped for good (earnings stay withdrawable).
    StreamCanceled {
        /// Stream id.
        stream: U256,
    },
}

impl Event {
    /// The contract event's name.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::MilestoneSubmitted { .. } => "MilestoneSubmitted",
            Self::ChangesRequested { .. } => "ChangesRequested",
            Self::MilestoneApproved { .. } => "MilestoneApproved",
            Self::MilestoneReleasedAfterReview { .. } => "MilestoneReleasedAfterReview",
            Self::MilestoneDisputed { .. } => "MilestoneDisputed",
            Self::MilestoneResolved { .. } => "MilestoneResolved",
            Self::MilestoneRefunded { .. } => "MilestoneRefunded",
            Self::CancellationNoticed { .. } => "CancellationNoticed",
            Self::JobCancelled { .. } => "JobCancelled",
            Self::WorkerResigned { .. } => "WorkerResigned",
            Self::StreamCreated { .. } => "StreamCreated",
            Self::EndSet { .. } => "EndSet",
            Self::StreamCanceled { .. } => "StreamCanceled",
        }
    }

    /// The (job, milestone) whose running review this event ends, making a scheduled release
    /// of that submission obsolete.
    pub const fn closes_review(&self) -> Option<(U256, U256)> {
        match *self {
            Self::ChangesRequested { job, milestone, .. }
            | Self::MilestoneApproved { job, milestone }
            | Self::MilestoneReleasedAfterReview { job, milestone }
            | Self::MilestoneDisputed { job, milestone, .. }
            | Self::MilestoneResolved { job, milestone }
            | Self::MilestoneRefunded { job, milestone } => Some((job, milestone)),
            _ => None,
        }
    }
}

/// An [`Event`] where it happened.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChainEvent {
    /// Block number.
    pub block: u64,
    /// Block hash.
    pub block_hash: B256,
    /// Index of the log in its block.
    pub log_index: u64,
    /// The transaction.
    pub tx_hash: Option<B256>,
    /// The emitting contract.
    pub contract: Address,
    /// What happened.
    pub event: Event,
}

const ESCROW_EVENTS: [B256; 10] = [
    MilestoneEscrow::MilestoneSubmitted::SIGNATURE_HASH,
    MilestoneEscrow::ChangesRequested::SIGNATURE_HASH,
    MilestoneEscrow::MilestoneApproved::SIGNATURE_HASH,
    MilestoneEscrow::MilestoneReleasedAfterReview::SIGNATURE_HASH,
    MilestoneEscrow::MilestoneDisputed::SIGNATURE_HASH,
    MilestoneEscrow::MilestoneResolved::SIGNATURE_HASH,
    MilestoneEscrow::MilestoneRefunded::SIGNATURE_HASH,
    MilestoneEscrow::CancellationNoticed::SIGNATURE_HASH,
    MilestoneEscrow::JobCancelled::SIGNATURE_HASH,
    MilestoneEscrow::WorkerResigned::SIGNATURE_HASH,
];

const STREAM_EVENTS: [B256; 3] = [
    Payroll::StreamCreated::SIGNATURE_HASH,
    Payroll::EndSet::SIGNATURE_HASH,
    Payroll::StreamCanceled::SIGNATURE_HASH,
];

/// The `eth_getLogs` filter of every event the watcher decodes, on both contracts (one query
/// per page).
pub fn event_filter(escrow: Address, payroll: Address) -> Filter {
    let topics: Vec<B256> = ESCROW_EVENTS.iter().chain(&STREAM_EVENTS).copied().collect();
    Filter::new().address(vec![escrow, payroll]).event_signature(topics)
}

/// The filter of the stream events only (the start-up backfill of the [`StreamBook`]).
pub fn stream_filter(payroll: Address) -> Filter {
    Filter::new().address(payroll).event_signature(STREAM_EVENTS.to_vec())
}

fn time(value: U256) -> u64 {
    value.saturating_to()
}

/// Decodes a log of the escrow or the payroll into a [`ChainEvent`]; `Ok(None)` for another
/// contract or an event the relayer ignores, `Err` for a log that does not decode (ABI drift)
/// or lacks its block.
pub fn decode_log(
    log: &Log,
    escrow: Address,
    payroll: Address,
) -> Result<Option<ChainEvent>, String> {
    let contract = log.address();
    let Some(&topic) = log.topic0() else { return Ok(None) };
    let data = &log.inner.data;
    let bad = |err: alloy::sol_types::Error| format!("log {topic} of {contract}: {err}");
    let event = if contract == escrow {
        use MilestoneEscrow as E;
        match topic {
            E::MilestoneSubmitted::SIGNATURE_HASH => {
                let e = E::MilestoneSubmitted::decode_log_data(data).map_err(bad)?;
                Event::MilestoneSubmitted {
                    job: e.jobId,
                    milestone: e.milestoneIndex,
                    review_end: time(e.reviewEnd),
                }
            }
            E::ChangesRequested::SIGNATURE_HASH => {
                let e = E::ChangesRequested::decode_log_data(data).map_err(bad)?;
                Event::ChangesRequested {
                    job: e.jobId,
                    milestone: e.milestoneIndex,
                    response_end: time(e.responseEnd),
                }
            }
            E::MilestoneApproved::SIGNATURE_HASH => {
                let e = E::MilestoneApproved::decode_log_data(data).map_err(bad)?;
                Event::MilestoneApproved { job: e.jobId, milestone: e.milestoneIndex }
            }
            E::MilestoneReleasedAfterReview::SIGNATURE_HASH => {
                let e = E::MilestoneReleasedAfterReview::decode_log_data(data).map_err(bad)?;
                Event::MilestoneReleasedAfterReview { job: e.jobId, milestone: e.milestoneIndex }
            }
            E::MilestoneDisputed::SIGNATURE_HASH => {
                let e = E::MilestoneDisputed::decode_log_data(data).map_err(bad)?;
                Event::MilestoneDisputed {
                    job: e.jobId,
                    milestone: e.milestoneIndex,
                    ruling_end: time(e.rulingEnd),
                }
            }
            E::MilestoneResolved::SIGNATURE_HASH => {
                let e = E::MilestoneResolved::decode_log_data(data).map_err(bad)?;
                Event::MilestoneResolved { job: e.jobId, milestone: e.milestoneIndex }
            }
            E::MilestoneRefunded::SIGNATURE_HASH => {
                let e = E::MilestoneRefunded::decode_log_data(data).map_err(bad)?;
                Event::MilestoneRefunded { job: e.jobId, milestone: e.milestoneIndex }
            }
            E::CancellationNoticed::SIGNATURE_HASH => {
                let e = E::CancellationNoticed::decode_log_data(data).map_err(bad)?;
                Event::CancellationNoticed { job: e.jobId, notice_end: time(e.noticeEnd) }
            }
            E::JobCancelled::SIGNATURE_HASH => {
                let e = E::JobCancelled::decode_log_data(data).map_err(bad)?;
                Event::JobCancelled { job: e.jobId }
            }
            E::WorkerResigned::SIGNATURE_HASH => {
                let e = E::WorkerResigned::decode_log_data(data).map_err(bad)?;
                Event::WorkerResigned { job: e.jobId }
            }
            _ => return Ok(None),
        }
    } else if contract == payroll {
        use Payroll as P;
        match topic {
            P::StreamCreated::SIGNATURE_HASH => {
                let e = P::StreamCreated::decode_log_data(data).map_err(bad)?;
                Event::StreamCreated {
                    stream: e.streamId,
                    employer: e.employer,
                    worker: e.worker,
                    token: e.token,
                    end: e.end.to::<u64>(),
                }
            }
            P::EndSet::SIGNATURE_HASH => {
                let e = P::EndSet::decode_log_data(data).map_err(bad)?;
                Event::EndSet { stream: e.streamId, end: e.newEnd.to::<u64>() }
            }
            P::StreamCanceled::SIGNATURE_HASH => {
                let e = P::StreamCanceled::decode_log_data(data).map_err(bad)?;
                Event::StreamCanceled { stream: e.streamId }
            }
            _ => return Ok(None),
        }
    } else {
        return Ok(None);
    };
    let (Some(block), Some(block_hash)) = (log.block_number, log.block_hash) else {
        return Err(format!("log {topic} of {contract} has no block (a pending log)"));
    };
    Ok(Some(ChainEvent {
        block,
        block_hash,
        log_index: log.log_index.unwrap_or_default(),
        tx_hash: log.transaction_hash,
        contract,
        event,
    }))
}

// ---- status ----------------------------------------------------------------------------------

/// What an instance does with the log cursor ([`CURSOR_LEASE`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Role {
    /// It holds the cursor lease: it follows the logs and schedules paydays.
    Leader,
    /// Another instance holds the lease, or this one has not taken it yet: it serves the API
    /// and sends due payouts only.
    #[default]
    Follower,
}

impl Role {
    /// `leader` or `follower` (the `/ready` and `/metrics` spelling).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Leader => "leader",
            Self::Follower => "follower",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the watcher last saw, for `/ready` and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatcherStatus {
    /// The node's head at the last step.
    pub latest_block: Option<u64>,
    /// Its timestamp.
    pub latest_time: Option<u64>,
    /// `latest - confirmations`: the newest block the watcher may process.
    pub safe_block: Option<u64>,
    /// The last block processed (the store's cursor).
    pub cursor_block: Option<u64>,
    /// Its timestamp: the scheduler's "now".
    pub cursor_time: Option<u64>,
    /// `latest - cursor` in blocks (the `lag` metric); `None` before the first step.
    pub lag: Option<u64>,
    /// Whether the cursor reached `safe_block` at the last step.
    pub caught_up: bool,
    /// Whether the last step reached the node.
    pub node_ok: bool,
    /// The last error, cleared by a successful step.
    pub last_error: Option<String>,
    /// Reorgs handled since start.
    pub reorgs: u64,
    /// Depth of the last one (blocks rolled back).
    pub last_reorg_depth: Option<u64>,
    /// Events decoded since start.
    pub events: u64,
    /// Release payouts inserted since start.
    pub payouts_inserted: u64,
    /// The `eth_getLogs` page in use (smaller than configured after a "range too large").
    pub log_range: u64,
    /// Whether this instance holds the cursor lease (as of its last step).
    pub role: Role,
    /// The instance holding the cursor lease, when known (this one's id when leader).
    pub leader: Option<String>,
    /// Wall-clock unix seconds of the last update.
    pub updated_at: u64,
}

/// A shared, always-readable [`WatcherStatus`] (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct StatusCell(Arc<RwLock<WatcherStatus>>);

impl StatusCell {
    /// A snapshot.
    pub fn get(&self) -> WatcherStatus {
        self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub(crate) fn update(&self, change: impl FnOnce(&mut WatcherStatus)) {
        let mut status = self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        change(&mut status);
        status.updated_at = crate::store::unix_now();
    }
}

// ---- the watcher -----------------------------------------------------------------------------

/// What the watcher needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatcherConfig {
    /// The MilestoneEscrow.
    pub escrow: Address,
    /// The Payroll.
    pub payroll: Address,
    /// Where logs start (the deployment block).
    pub start_block: u64,
    /// Blocks behind the head the watcher stays.
    pub confirmations: u64,
    /// `eth_getLogs` page in blocks.
    pub log_range: u64,
    /// Recent block hashes kept to find a fork point.
    pub reorg_window: u64,
    /// Pause between steps once caught up.
    pub poll_interval: Duration,
    /// Schedule milestone releases (config `release.enabled`).
    pub release_enabled: bool,
    /// Schedule `finalizeCancel` of jobs whose cancellation notice ends (config
    /// `finalize_cancel.enabled`).
    pub finalize_cancel_enabled: bool,
}

impl WatcherConfig {
    /// From the service context (deployment, chain facts, config).
    pub fn from_context(ctx: &Context) -> Self {
        Self {
            escrow: ctx.deployment.escrow.address,
            payroll: ctx.deployment.payroll.address,
            start_block: ctx.deployment.start_block(),
            confirmations: ctx.chain.confirmations,
            log_range: ctx.chain.log_range,
            reorg_window: ctx.config.reorg_window,
            poll_interval: ctx.config.poll_interval,
            release_enabled: ctx.config.release.enabled,
            finalize_cancel_enabled: ctx.config.finalize_cancel.enabled,
        }
    }
}

/// Why a step failed (nothing was committed, or the commit stands and only the follow-up
/// failed; the next step is always safe).
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The node failed or is unreachable.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// Paging the logs failed.
    #[error(transparent)]
    Logs(#[from] LogsError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The node's answers did not fit together (a reorg during the step): try again.
    #[error("the chain changed during the step: {0}")]
    Inconsistent(String),
}

/// What a step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing new below `latest - confirmations`.
    Idle {
        /// The cursor.
        cursor: Option<u64>,
        /// The node's head.
        latest: u64,
    },
    /// A page was processed and committed.
    Advanced {
        /// First block of the page.
        from: u64,
        /// Last block (the new cursor).
        to: u64,
        /// Events decoded.
        events: Vec<ChainEvent>,
        /// Release payouts newly inserted.
        payouts_inserted: usize,
        /// Obsolete releases marked `Skipped`.
        skipped: usize,
    },
    /// Another instance holds the cursor lease: nothing was done.
    Follower {
        /// The lease's holder.
        leader: String,
        /// When its lease ends (unix seconds) unless renewed.
        until: u64,
    },
    /// A reorg was found and rolled back.
    Reorg {
        /// The fork point (the newest block both chains share), `None` when the window held
        /// none (the watcher starts again from the deployment block).
        fork: Option<u64>,
        /// The cursor before.
        from_cursor: u64,
        /// Keys of the payouts deleted.
        payouts_removed: Vec<String>,
    },
}

/// The block fields the watcher reads (parsed leniently: rskj blocks differ from geth's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    /// Number.
    pub number: U64,
    /// Hash.
    pub hash: B256,
    /// Parent hash.
    pub parent_hash: B256,
    /// Timestamp (unix seconds).
    pub timestamp: U64,
}

impl Header {
    fn block_ref(&self) -> BlockRef {
        BlockRef { number: self.number.to(), hash: self.hash, parent_hash: self.parent_hash }
    }
}

/// `eth_getBlockByNumber(tag, false)`, `None` when the node has no such block.
pub async fn fetch_header(provider: &DynProvider, tag: &str) -> Result<Option<Header>, NodeError> {
    provider
        .raw_request("eth_getBlockByNumber".into(), (tag, false))
        .await
        .map_err(|err| NodeError::from_transport("eth_getBlockByNumber", &err))
}

async fn header_at(provider: &DynProvider, number: u64) -> Result<Option<Header>, NodeError> {
    fetch_header(provider, &format!("{number:#x}")).await
}

/// Follows the logs (see the module documentation).
pub struct Watcher {
    cfg: WatcherConfig,
    provider: DynProvider,
    store: Arc<dyn Store>,
    book: Arc<StreamBook>,
    status: StatusCell,
    planner: ReleasePlanner,
    range: u64,
    backfilled: bool,
    /// `(holder id, lease)` when the watcher takes [`CURSOR_LEASE`].
    lease: Option<(String, Duration)>,
    /// When the lease this watcher holds ends (unix seconds), `None` while not the leader.
    lease_until: Option<u64>,
}

impl fmt::Debug for Watcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watcher")
            .field("cfg", &self.cfg)
            .field("range", &self.range)
            .field("status", &self.status.get())
            .finish_non_exhaustive()
    }
}

impl Watcher {
    /// A watcher with a new [`StreamBook`] and [`StatusCell`].
    pub fn new(cfg: WatcherConfig, provider: DynProvider, store: Arc<dyn Store>) -> Self {
        let planner = ReleasePlanner::new(cfg.escrow, cfg.release_enabled)
            .finalize_cancel(cfg.finalize_cancel_enabled);
        let range = cfg.log_range.max(1);
        let status = StatusCell::default();
        status.update(|s| s.log_range = range);
        Self {
            cfg,
            provider,
            store,
            book: StreamBook::new(),
            status,
            planner,
            range,
            backfilled: false,
            lease: None,
            lease_until: None,
        }
    }

    /// From the service context, taking [`CURSOR_LEASE`] as the context's instance for the
    /// config's `leader_lease`.
    pub fn from_context(ctx: &Context) -> Self {
        Self::new(WatcherConfig::from_context(ctx), ctx.provider.clone(), ctx.store.clone())
            .leader_lease(ctx.instance.clone(), ctx.config.leader_lease)
    }

    /// Steps only while holding [`CURSOR_LEASE`] as `holder`, renewed for `lease` (longer than
    /// the poll interval) before each step. Without it the watcher steps unconditionally (one
    /// instance per database) and reports itself leader.
    pub fn leader_lease(mut self, holder: impl Into<String>, lease: Duration) -> Self {
        self.lease = Some((holder.into(), lease));
        self
    }

    /// Its role as of the last step.
    pub fn role(&self) -> Role {
        self.status.get().role
    }

    /// Takes or renews the cursor lease; `Some(step)` when another instance holds it. Becoming
    /// the leader resets what the previous leader's steps made stale (book, planner).
    async fn hold_lease(&mut self) -> Result<Option<Step>, WatchError> {
        let Some((holder, lease)) = self.lease.clone() else {
            if self.status.get().role != Role::Leader {
                self.status.update(|s| s.role = Role::Leader);
            }
            return Ok(None);
        };
        let now = unix_now();
        let current = self.store.acquire_lease(CURSOR_LEASE, &holder, now, lease).await?;
        if current.holder == holder {
            // Newly taken, or taken again after this instance's own lease had ended (another
            // instance may have led meanwhile, e.g. while this one could not reach the store).
            if self.lease_until.is_none_or(|until| until < now) {
                info!(instance = %holder, lease = ?lease, "cursor lease taken: leader");
                // The book and the planner missed the other leader's steps: start over from
                // the store (the book from the logs up to the stored cursor).
                self.backfilled = false;
                self.planner = ReleasePlanner::new(self.cfg.escrow, self.cfg.release_enabled)
                    .finalize_cancel(self.cfg.finalize_cancel_enabled);
            }
            self.lease_until = Some(current.until);
            self.status.update(|s| {
                s.role = Role::Leader;
                s.leader = Some(holder);
            });
            return Ok(None);
        }
        if self.lease_until.take().is_some() {
            warn!(leader = %current.holder, "cursor lease lost: follower");
        }
        let (leader, until) = (current.holder, current.until);
        let shown = leader.clone();
        self.status.update(|s| {
            s.role = Role::Follower;
            s.leader = Some(shown);
            s.caught_up = false;
        });
        Ok(Some(Step::Follower { leader, until }))
    }

    /// Before a commit: renews the lease when half of it has passed, so a step that took long
    /// never commits on a lease that ended; `Some(step)` when it was lost meanwhile.
    async fn keep_lease(&mut self) -> Result<Option<Step>, WatchError> {
        let (Some((_, lease)), Some(until)) = (&self.lease, self.lease_until) else {
            return Ok(None);
        };
        let half = lease.as_secs().max(1).div_ceil(2);
        if unix_now().saturating_add(half) < until {
            return Ok(None);
        }
        self.hold_lease().await
    }

    /// Gives the cursor lease up (a clean shutdown: a follower takes over at its next step).
    pub async fn release_lease(&mut self) {
        if let (Some((holder, _)), Some(_)) = (&self.lease, self.lease_until.take()) {
            match self.store.release_lease(CURSOR_LEASE, holder).await {
                Ok(()) => info!("cursor lease released"),
                Err(err) => warn!(%err, "could not release the cursor lease (it ends by itself)"),
            }
            self.status.update(|s| {
                s.role = Role::Follower;
                s.leader = None;
            });
        }
    }

    /// The streams it knows (give it to the [`crate::scheduler::Scheduler`]).
    pub fn book(&self) -> Arc<StreamBook> {
        self.book.clone()
    }

    /// Its status (for the scheduler, `/ready` and `/metrics`).
    pub fn status(&self) -> StatusCell {
        self.status.clone()
    }

    /// The `eth_getLogs` page in use.
    pub fn log_range(&self) -> u64 {
        self.range
    }

    /// Pages `filter` over `[from, to]` and keeps a window the node made smaller.
    async fn logs(&mut self, filter: &Filter, from: u64, to: u64) -> Result<Vec<Log>, LogsError> {
        let mut first_done = None;
        let logs = get_logs_paged(&self.provider, filter, from, to, self.range, |done, _| {
            first_done.get_or_insert(done);
        })
        .await?;
        if let Some(done) = first_done
            && done < to
            && done - from + 1 < self.range
        {
            self.range = done - from + 1;
            warn!(range = self.range, "the node limits eth_getLogs: log range lowered");
            let range = self.range;
            self.status.update(|s| s.log_range = range);
        }
        Ok(logs)
    }

    /// Rebuilds the [`StreamBook`] from the stream events up to the stored cursor (once, before
    /// the first step; [`Watcher::step`] calls it).
    pub async fn backfill(&mut self) -> Result<(), WatchError> {
        if let Some(cursor) = self.store.cursor().await?
            && cursor.block >= self.cfg.start_block
        {
            let filter = stream_filter(self.cfg.payroll);
            let logs = self.logs(&filter, self.cfg.start_block, cursor.block).await?;
            let events: Vec<ChainEvent> = logs
                .iter()
                .filter_map(|log| {
                    decode_log(log, self.cfg.escrow, self.cfg.payroll)
                        .inspect_err(|err| warn!(%err, "log skipped"))
                        .ok()
                        .flatten()
                })
                .collect();
            self.book.apply(&events);
            info!(streams = self.book.len(), to = cursor.block, "streams loaded from the logs");
        }
        self.book.set_ready();
        self.backfilled = true;
        Ok(())
    }

    /// One step (see the module documentation).
    pub async fn step(&mut self) -> Result<Step, WatchError> {
        if let Some(follower) = self.hold_lease().await? {
            return Ok(follower);
        }
        if !self.backfilled {
            self.backfill().await?;
        }
        let latest = fetch_header(&self.provider, "latest")
            .await?
            .ok_or_else(|| WatchError::Inconsistent("the node has no latest block".into()))?;
        let latest_block: u64 = latest.number.to();
        let safe = latest_block.saturating_sub(self.cfg.confirmations);
        let cursor = self.store.cursor().await?;
        let mut cursor_time = None;
        if let Some(cursor) = cursor {
            let node = header_at(&self.provider, cursor.block).await?;
            if node.map(|h| h.hash) != Some(cursor.hash) {
                return self.rollback(cursor).await;
            }
            cursor_time = node.map(|h| h.timestamp.to::<u64>());
        }
        let from = cursor.map_or(self.cfg.start_block, |c| c.block + 1);
        let latest_time: u64 = latest.timestamp.to();
        if from > safe {
            self.status.update(|s| {
                s.latest_block = Some(latest_block);
                s.latest_time = Some(latest_time);
                s.safe_block = Some(safe);
                s.cursor_block = cursor.map(|c| c.block);
                s.cursor_time = cursor_time.or(s.cursor_time);
                s.lag = cursor.map(|c| latest_block.saturating_sub(c.block));
                s.caught_up = true;
                s.node_ok = true;
                s.last_error = None;
            });
            return Ok(Step::Idle { cursor: cursor.map(|c| c.block), latest: latest_block });
        }
        let to = safe.min(from.saturating_add(self.range - 1));
        let filter = event_filter(self.cfg.escrow, self.cfg.payroll);
        let logs = self.logs(&filter, from, to).await?;

        // Headers of the page's blocks inside the window (or just the last one), chained.
        let window = self.cfg.reorg_window.max(1);
        let lo = from.max((safe + 1).saturating_sub(window)).min(to);
        let mut headers = BTreeMap::new();
        let mut parent = if lo == from { cursor.map(|c| c.hash) } else { None };
        for number in lo..=to {
            // One request per header: on a slow node a page can outlast the lease. Renew it on
            // the way (a no-op until half of it has passed), or another instance takes it over
            // mid-page, and the next leader's page outlasts it as well: nobody ever commits.
            if let Some(follower) = self.keep_lease().await? {
                return Ok(follower);
            }
            let header = header_at(&self.provider, number)
                .await?
                .ok_or_else(|| WatchError::Inconsistent(format!("block {number} disappeared")))?;
            if parent.is_some_and(|parent| parent != header.parent_hash) {
                return Err(WatchError::Inconsistent(format!(
                    "block {number} does not extend the block before it"
                )));
            }
            parent = Some(header.hash);
            headers.insert(number, header);
        }
        let last = headers[&to];

        let mut events = Vec::new();
        for log in logs.iter().filter(|log| !log.removed) {
            let (Some(block), Some(hash)) = (log.block_number, log.block_hash) else {
                return Err(WatchError::Inconsistent("a log without its block".into()));
            };
            if headers.get(&block).is_some_and(|header| header.hash != hash) {
                return Err(WatchError::Inconsistent(format!(
                    "a log of block {block} comes from another branch"
                )));
            }
            match decode_log(log, self.cfg.escrow, self.cfg.payroll) {
                Ok(Some(event)) => events.push(event),
                Ok(None) => {}
                Err(err) => warn!(%err, "log skipped"),
            }
        }

        let deep_below = (to + 1).saturating_sub(window);
        let mut planner = self.planner.clone();
        let payouts = planner.plan(&events, deep_below);
        if let Some(follower) = self.keep_lease().await? {
            return Ok(follower);
        }
        let advanced = self
            .store
            .advance(Advance {
                cursor: Cursor { block: to, hash: last.hash },
                blocks: headers.values().map(Header::block_ref).collect(),
                payouts,
                prune_below: Some(deep_below),
            })
            .await?;
        self.planner = planner;
        self.book.apply(&events);
        let skips = self.planner.due_skips(deep_below);
        let skipped = match apply_skips(&*self.store, &skips).await {
            Ok(skipped) => skipped,
            Err(err) => {
                warn!(%err, "could not mark obsolete releases skipped (the sender re-checks them)");
                0
            }
        };
        for event in &events {
            debug!(block = event.block, event = ?event.event, "event");
        }
        let count = events.len() as u64;
        self.status.update(|s| {
            s.latest_block = Some(latest_block);
            s.latest_time = Some(latest_time);
            s.safe_block = Some(safe);
            s.cursor_block = Some(to);
            s.cursor_time = Some(last.timestamp.to());
            s.lag = Some(latest_block.saturating_sub(to));
            s.caught_up = to == safe;
            s.node_ok = true;
            s.last_error = None;
            s.events += count;
            s.payouts_inserted += advanced.payouts_inserted as u64;
        });
        if advanced.payouts_inserted > 0 || !events.is_empty() {
            info!(
                from,
                to,
                events = events.len(),
                payouts = advanced.payouts_inserted,
                "logs processed"
            );
        }
        Ok(Step::Advanced {
            from,
            to,
            events,
            payouts_inserted: advanced.payouts_inserted,
            skipped,
        })
    }

    /// The stored cursor is not on the node's chain any more: finds the fork point in the
    /// window and rolls back to it.
    async fn rollback(&mut self, cursor: Cursor) -> Result<Step, WatchError> {
        let mut number = cursor.block;
        let (target, fork) = loop {
            if number == 0 {
                break (0, None);
            }
            number -= 1;
            let Some(stored) = self.store.block_hash(number).await? else {
                break (number, None);
            };
            let node = header_at(&self.provider, number).await?;
            if node.is_some_and(|header| header.hash == stored) {
                break (number, Some(number));
            }
        };
        if let Some(follower) = self.keep_lease().await? {
            return Ok(follower);
        }
        let rollback = self.store.rollback_to(target).await?;
        self.planner.rollback(target);
        self.book.rollback(target);
        let depth = cursor.block - target;
        warn!(
            cursor = cursor.block,
            fork = ?fork,
            depth,
            payouts_removed = rollback.payouts_removed.len(),
            "reorg: rolled back"
        );
        self.status.update(|s| {
            s.reorgs += 1;
            s.last_reorg_depth = Some(depth);
            s.cursor_block = rollback.cursor.map(|c| c.block);
            s.caught_up = false;
        });
        Ok(Step::Reorg {
            fork,
            from_cursor: cursor.block,
            payouts_removed: rollback.payouts_removed,
        })
    }

    /// Steps until caught up or a follower (tests, benchmarks); returns the steps taken.
    pub async fn catch_up(&mut self) -> Result<Vec<Step>, WatchError> {
        let mut steps = Vec::new();
        loop {
            let step = self.step().await?;
            let idle = matches!(step, Step::Idle { .. } | Step::Follower { .. });
            steps.push(step);
            if idle {
                return Ok(steps);
            }
        }
    }

    /// Steps until `cancel`: at once while behind, every `poll_interval` once caught up or a
    /// follower, with backoff after node errors. A store error that retrying cannot fix ends
    /// the task. The cursor lease is released when it ends.
    pub async fn run(mut self, cancel: CancellationToken) -> Result<(), TaskError> {
        let result = self.run_until(&cancel).await;
        self.release_lease().await;
        result
    }

    async fn run_until(&mut self, cancel: &CancellationToken) -> Result<(), TaskError> {
        let mut failures = 0u32;
        loop {
            if cancel.is_cancelled() {
                return Ok(());
            }
            let wait = match self.step().await {
                Ok(Step::Idle { .. } | Step::Follower { .. }) => {
                    failures = 0;
                    self.cfg.poll_interval
                }
                Err(WatchError::Store(StoreError::CursorBackwards { current, requested })) => {
                    // Another instance moved the cursor past this step's page (this one lost
                    // its lease during the step): nothing was committed, step again.
                    warn!(current, requested, "the cursor moved on meanwhile: step started again");
                    Duration::ZERO
                }
                Ok(_) => {
                    failures = 0;
                    Duration::ZERO
                }
                Err(WatchError::Store(err)) if !err.is_transient() => return Err(err.into()),
                Err(WatchError::Inconsistent(reason)) => {
                    debug!(%reason, "step started again");
                    self.cfg.poll_interval.min(Duration::from_secs(1))
                }
                Err(err) => {
                    failures = failures.saturating_add(1);
                    let wait = backoff(self.cfg.poll_interval, failures);
                    warn!(%err, retry_in = ?wait, "watcher step failed");
                    let message = err.to_string();
                    let node = !matches!(err, WatchError::Store(_));
                    self.status.update(|s| {
                        s.node_ok = s.node_ok && !node;
                        s.last_error = Some(message);
                    });
                    wait
                }
            };
            if wait.is_zero() {
                tokio::task::yield_now().await;
                continue;
            }
            tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

#[async_trait]
impl Task for Watcher {
    fn name(&self) -> &'static str {
        "watcher"
    }

    fn stage(&self) -> Stage {
        Stage::Watcher
    }

    async fn run(self: Box<Self>, ctx: TaskContext) -> Result<(), TaskError> {
        (*self).run(ctx.cancel).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Bytes, LogData};

    fn rpc_log(address: Address, data: LogData, block: u64) -> Log {
        Log {
            inner: alloy::primitives::Log { address, data },
            block_hash: Some(B256::repeat_byte(7)),
            block_number: Some(block),
            block_timestamp: None,
            transaction_hash: Some(B256::repeat_byte(8)),
            transaction_index: Some(0),
            log_index: Some(3),
            removed: false,
        }
    }

    #[test]
    fn decodes_the_events_it_acts_on() {
        let (escrow, payroll) = (Address::repeat_byte(0xe5), Address::repeat_byte(0xa1));
        let submitted = MilestoneEscrow::MilestoneSubmitted {
            jobId: U256::from(4),
            client: Address::repeat_byte(1),
            worker: Address::repeat_byte(2),
            milestoneIndex: U256::from(1),
            deliverableHash: B256::repeat_byte(9),
            reviewEnd: U256::from(1_800_000_000u64),
        };
        let event = decode_log(&rpc_log(escrow, submitted.encode_log_data(), 12), escrow, payroll)
            .unwrap()
            .unwrap();
        assert_eq!(
            event.event,
            Event::MilestoneSubmitted {
                job: U256::from(4),
                milestone: U256::from(1),
                review_end: 1_800_000_000
            }
        );
        assert_eq!((event.block, event.log_index, event.contract), (12, 3, escrow));
        // The same log from another address is not ours.
        assert_eq!(
            decode_log(&rpc_log(payroll, submitted.encode_log_data(), 12), escrow, payroll)
                .unwrap(),
            None
        );
        let created = Payroll::StreamCreated {
            streamId: U256::from(9),
            employer: Address::repeat_byte(3),
            worker: Address::repeat_byte(4),
            token: Address::ZERO,
            rate: 1,
            start: alloy::primitives::aliases::U40::from(5u64),
            end: alloy::primitives::aliases::U40::from(0u64),
        };
        let event = decode_log(&rpc_log(payroll, created.encode_log_data(), 3), escrow, payroll)
            .unwrap()
            .unwrap();
        assert!(matches!(event.event, Event::StreamCreated { end: 0, .. }));
        // A broken log of a known event is an error, not a silent skip.
        let broken = LogData::new_unchecked(
            submitted.encode_log_data().topics().to_vec(),
            Bytes::from_static(&[1, 2]),
        );
        assert!(decode_log(&rpc_log(escrow, broken, 1), escrow, payroll).is_err());
    }

    #[test]
    fn the_filter_covers_both_contracts_and_every_event() {
        let filter = event_filter(Address::repeat_byte(1), Address::repeat_byte(2));
        assert_eq!(filter.address.len(), 2);
        assert_eq!(filter.topics[0].len(), ESCROW_EVENTS.len() + STREAM_EVENTS.len());
        let closing = Event::MilestoneRefunded { job: U256::from(1), milestone: U256::from(2) };
        assert_eq!(closing.closes_review(), Some((U256::from(1), U256::from(2))));
        assert_eq!(Event::JobCancelled { job: U256::from(1) }.closes_review(), None);
    }
}
