//! Turns contract events and paydays into due payouts, each with a unique key (the store's
//! [`NewPayout`] constructors are the one definition of the key formats).
//!
//! # Milestone releases (written by the watcher, in the step's storage transaction)
//! `MilestoneSubmitted` carries `reviewEnd`, the last second of the client's review window, so
//! the release needs no contract read: [`ReleasePlanner::plan`] turns the event into
//! `release:{escrow}:{job}:{milestone}:{reviewEnd}` due at `reviewEnd + 1` (`releaseAfterReview`
//! requires `now > window`), and the watcher inserts it in the same [`crate::store::Store::advance`]
//! as the cursor move. A later `ChangesRequested`, `MilestoneDisputed`, `MilestoneApproved`,
//! `MilestoneReleasedAfterReview`, `MilestoneResolved` or `MilestoneRefunded` of that milestone
//! makes the release obsolete:
//! - obsoleted within the same log page by an event already deeper than the reorg window (catch
//!   up): the release is not inserted at all;
//! - otherwise it is marked `Skipped` once the obsoleting event is deeper than the reorg window
//!   (a reorg could still remove that event before; marking earlier could lose a due release,
//!   since `Skipped` is final). Review windows last days; the window is about half an hour.
//! - In every case the sender re-checks on-chain before sending (milestone still `Submitted`,
//!   same `windowEnd`, window over), so a restart that forgot the obsoleting event (the planner
//!   is in memory) costs one `eth_call`, never a wrong transaction.
//!
//! # Finishing cancelled jobs (written by the watcher too)
//! `CancellationNoticed` carries `noticeEnd`, the last second the worker may still submit; after
//! it anyone may call `finalizeCancel(job)`, which refunds the client's unsubmitted funded
//! milestones. With `finalize_cancel.enabled` the planner turns the event into
//! `finalize:{escrow}:{job}` due at `noticeEnd + 1`, inserted with the cursor move like a
//! release, removed by a reorg that removes the event (unless sent). A later `JobCancelled`
//! (someone finalized it already) or `WorkerResigned` (the job ended another way) makes it
//! obsolete, with the same two cases as releases (left out of a catch-up page, else `Skipped`
//! once the event is deeper than the reorg window), and the sender re-checks on-chain before
//! sending (job still `Cancelling`, its `cancelNoticeEnd` passed).
//!
//! # Paydays and thresholds (the [`Scheduler`] task)
//! Streams are known from `StreamCreated` events ([`StreamBook`], kept by the watcher and rebuilt
//! from the logs at start). At each payday slot (config `paydays`, UTC), once the watcher has
//! processed the blocks up to the slot's time, the scheduler reads every candidate stream's
//! `withdrawable` (one `eth_call` per [`READ_BATCH`] streams through `Payroll.multicall`) and
//! inserts `payday:{payroll}:{slot}:{chunk}` payouts of `payoutMany` whose chunks fit the block
//! gas limit ([`chunk_size`], checked with `eth_estimateGas` per chunk).
//!
//! **Missed slots after downtime**: only the latest slot at or before "now" is considered, so a
//! relayer down over several paydays makes one catch-up payday, not one per missed slot (the
//! streams accrue continuously: one `payoutMany` pays all that accrued). A slot counts as done
//! when its chunk 0 exists (inserted last); a slot that found nothing to pay is evaluated again
//! after a restart, which pays what accrued since (a late payday, never a double one: a stream
//! paid twice just gets what accrued in between).
//!
//! With `payout_threshold`, every [`SchedulerConfig::threshold_interval`] the streams of those
//! tokens whose withdrawable reached the token's threshold are paid:
//! `threshold:{payroll}:{slot}:{chunk}` with `slot` the start of the interval. A stream that is
//! already in an unfinished payday or threshold payout is left out.
//!
//! "Now" is chain time: the timestamp of the watcher's cursor block (the last block processed,
//! `confirmations` behind the head), so a payday is scheduled once every stream created before
//! it has been seen, and tests move time with the node.
//!
//! **Several instances on one database**: only the instance whose watcher holds the cursor lease
//! ([`crate::watcher::Role::Leader`]) schedules, so two instances never plan one slot with two
//! different chunkings (their keys would collide only chunk by chunk, and a stream could land in
//! two chunks of one slot). A new leader finds a slot already planned by its chunk 0 marker.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    fmt,
    sync::{Arc, Mutex},
    time::Duration,
};

use alloy::{
    primitives::{Address, Bytes, U256},
    providers::DynProvider,
    rpc::types::TransactionRequest,
    sol_types::SolCall,
};
use async_trait::async_trait;
use shiftpay_bindings::{
    payroll::Payroll,
    revert::DecodedRevert,
    rpc::NodeError,
    tx::{self, TxError},
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::{
    config::Payday,
    service::{Context, Stage, Task, TaskContext, TaskError},
    store::{NewPayout, PayoutKind, PayoutStatus, Store, StoreError},
    watcher::{ChainEvent, Event, Role, StatusCell},
};

/// Streams whose `withdrawable` one `eth_call` reads (through `Payroll.multicall`).
pub const READ_BATCH: usize = 100;

/// Share of the block gas limit one `payoutMany` may use (the sender adds its gas margin on
/// top: 0.8 x 1.2 < 1).
pub const BLOCK_GAS_SHARE_PCT: u64 = 80;

/// Streams in the sample that measures the gas of one more id in `payoutMany`.
const GAS_SAMPLE: usize = 8;

/// Default interval of the threshold checks.
pub const DEFAULT_THRESHOLD_INTERVAL: Duration = Duration::from_secs(300);

// ---- releases ----------------------------------------------------------------------------

/// A release (or finalize) payout made obsolete by a later event, to mark `Skipped` once that
/// event is deeper than the reorg window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSkip {
    /// The payout's key.
    pub key: String,
    /// Block of the obsoleting event.
    pub block: u64,
    /// Why (recorded as the payout's `last_error`).
    pub reason: String,
}

/// Escrow events -> release (and finalize) payouts, and which of them later events made
/// obsolete. In memory: it remembers the milestones currently submitted (their window end and
/// event block) and the jobs under cancellation notice (their event block).
#[derive(Debug, Clone, Default)]
pub struct ReleasePlanner {
    escrow: Address,
    enabled: bool,
    finalize_cancel: bool,
    /// (job, milestone) -> (window end, block of its `MilestoneSubmitted`).
    submitted: HashMap<(U256, U256), (u64, u64)>,
    /// job -> block of its `CancellationNoticed` (with `finalize_cancel`).
    noticed: HashMap<U256, u64>,
    pending_skips: Vec<PendingSkip>,
}

impl ReleasePlanner {
    /// A planner for the escrow at `escrow`; `enabled = false` (config `release.enabled`)
    /// plans no release. It plans no `finalizeCancel` unless
    /// [`ReleasePlanner::finalize_cancel`] turns them on.
    pub fn new(escrow: Address, enabled: bool) -> Self {
        Self { escrow, enabled, ..Self::default() }
    }

    /// Also plans `finalize:{escrow}:{job}` payouts from `CancellationNoticed` when `enabled`
    /// (config `finalize_cancel.enabled`).
    pub fn finalize_cancel(mut self, enabled: bool) -> Self {
        self.finalize_cancel = enabled;
        self
    }

    /// The release payouts the `events` (in chain order) call for. A release obsoleted by a
    /// later event of the same batch that is already below `deep_below` is left out; other
    /// obsoleted releases are queued for [`ReleasePlanner::due_skips`].
    pub fn plan(&mut self, events: &[ChainEvent], deep_below: u64) -> Vec<NewPayout> {
        let mut payouts: Vec<NewPayout> = Vec::new();
        if !self.enabled && !self.finalize_cancel {
            return payouts;
        }
        let escrow = self.escrow;
        for event in events.iter().filter(|e| e.contract == escrow) {
            match event.event {
                Event::CancellationNoticed { job, notice_end } if self.finalize_cancel => {
                    self.noticed.insert(job, event.block);
                    let payout =
                        NewPayout::finalize_cancel(self.escrow, job, notice_end, event.block);
                    self.pending_skips.retain(|skip| skip.key != payout.key);
                    if !payouts.iter().any(|p| p.key == payout.key) {
                        payouts.push(payout);
                    }
                }
                Event::JobCancelled { job } | Event::WorkerResigned { job }
                    if self.finalize_cancel =>
                {
                    if self.noticed.remove(&job).is_none() {
                        continue;
                    }
                    let key = NewPayout::finalize_cancel(self.escrow, job, 0, 0).key;
                    self.obsolete(&mut payouts, key, event, deep_below);
                }
                Event::MilestoneSubmitted { job, milestone, review_end } if self.enabled => {
                    self.submitted.insert((job, milestone), (review_end, event.block));
                    let payout =
                        NewPayout::release(self.escrow, job, milestone, review_end, event.block);
                    // Resubmitted with the same window end (same second): the key is due again.
                    self.pending_skips.retain(|skip| skip.key != payout.key);
                    if !payouts.iter().any(|p| p.key == payout.key) {
                        payouts.push(payout);
                    }
                }
                ref other if self.enabled => {
                    let Some((job, milestone)) = other.closes_review() else { continue };
                    let Some((window_end, _)) = self.submitted.remove(&(job, milestone)) else {
                        continue;
                    };
                    let key = NewPayout::release(self.escrow, job, milestone, window_end, 0).key;
                    self.obsolete(&mut payouts, key, event, deep_below);
                }
                _ => {}
            }
        }
        payouts
    }

    /// `event` made the payout `key` obsolete: left out of this batch when the event is already
    /// below `deep_below`, else queued for [`ReleasePlanner::due_skips`].
    fn obsolete(
        &mut self,
        payouts: &mut Vec<NewPayout>,
        key: String,
        event: &ChainEvent,
        deep_below: u64,
    ) {
        if event.block < deep_below
            && let Some(at) = payouts.iter().position(|p| p.key == key)
        {
            payouts.remove(at);
            return;
        }
        if !self.pending_skips.iter().any(|s| s.key == key) {
            self.pending_skips.push(PendingSkip {
                key,
                block: event.block,
                reason: format!("{} at block {}", event.event.name(), event.block),
            });
        }
    }

    /// Removes and returns the queued skips whose event is below `deep_below` (out of the reach
    /// of a reorg the watcher can roll back).
    pub fn due_skips(&mut self, deep_below: u64) -> Vec<PendingSkip> {
        let (due, keep) = std::mem::take(&mut self.pending_skips)
            .into_iter()
            .partition(|skip| skip.block < deep_below);
        self.pending_skips = keep;
        due
    }

    /// Forgets what events above block `n` said (a reorg replaced them).
    pub fn rollback(&mut self, n: u64) {
        self.submitted.retain(|_, (_, block)| *block <= n);
        self.noticed.retain(|_, block| *block <= n);
        self.pending_skips.retain(|skip| skip.block <= n);
    }

    /// Skips waiting for their event to get deep enough.
    pub fn pending_skips(&self) -> &[PendingSkip] {
        &self.pending_skips
    }
}

/// Marks the payouts of `skips` `Skipped` when they are still `Pending` (one store call each; a
/// payout already claimed, sent or gone is left to the sender's on-chain re-check).
pub async fn apply_skips(store: &dyn Store, skips: &[PendingSkip]) -> Result<usize, StoreError> {
    let mut skipped = 0;
    for skip in skips {
        match store.payout(&skip.key).await? {
            Some(payout) if payout.status == PayoutStatus::Pending => {
                let reason = format!("not due any more: {}", skip.reason);
                match store
                    .set_payout_status(&skip.key, None, PayoutStatus::Skipped, Some(&reason))
                    .await
                {
                    Ok(_) => {
                        skipped += 1;
                        debug!(key = %skip.key, %reason, "payout skipped");
                    }
                    Err(StoreError::LeaseLost { .. } | StoreError::InvalidTransition { .. }) => {}
                    Err(err) => return Err(err),
                }
            }
            _ => {}
        }
    }
    Ok(skipped)
}

// ---- streams -------------------------------------------------------------------------------

/// A stream as its events describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// The employer.
    pub employer: Address,
    /// The worker.
    pub worker: Address,
    /// The token (zero: native).
    pub token: Address,
    /// Accrual end (0: open-ended, or unknown after a reorg undid an `EndSet`).
    pub end: u64,
    /// Block of the event that set `end`.
    pub end_block: u64,
    /// Block of its `StreamCanceled`, if canceled.
    pub canceled_block: Option<u64>,
    /// Block of its `StreamCreated`.
    pub created_block: u64,
}

impl StreamInfo {
    /// Whether it stopped accruing for good by `now`, and since which block (canceled, or its
    /// end date passed).
    pub fn finished_since(&self, now: u64) -> Option<u64> {
        match self.canceled_block {
            Some(block) => Some(block),
            None if self.end != 0 && self.end <= now => Some(self.end_block),
            None => None,
        }
    }
}

/// The streams known from the payroll's events: the payday candidates. Shared by the watcher
/// (which writes it after each committed step and on rollbacks) and the scheduler.
///
/// It may hold more than the chain (a stream a reorg removed is dropped on rollback, and an id
/// the chain does not know is skipped when read), never less once [`StreamBook::is_ready`].
#[derive(Debug, Default)]
pub struct StreamBook {
    inner: Mutex<BookInner>,
}

#[derive(Debug, Default)]
struct BookInner {
    streams: BTreeMap<U256, StreamInfo>,
    ready: bool,
}

impl StreamBook {
    /// An empty book, not ready.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BookInner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Applies the stream events among `events` (chain order).
    pub fn apply(&self, events: &[ChainEvent]) {
        let mut inner = self.lock();
        for event in events {
            match event.event {
                Event::StreamCreated { stream, employer, worker, token, end } => {
                    inner.streams.insert(
                        stream,
                        StreamInfo {
                            employer,
                            worker,
                            token,
                            end,
                            end_block: event.block,
                            canceled_block: None,
                            created_block: event.block,
                        },
                    );
                }
                Event::EndSet { stream, end } => {
                    if let Some(info) = inner.streams.get_mut(&stream) {
                        info.end = end;
                        info.end_block = event.block;
                    }
                }
                Event::StreamCanceled { stream } => {
                    if let Some(info) = inner.streams.get_mut(&stream) {
                        info.canceled_block.get_or_insert(event.block);
                    }
                }
                _ => {}
            }
        }
    }

    /// Forgets what events above block `n` said: streams created above `n` go, cancellations
    /// above `n` are undone, and an end date set above `n` becomes unknown (open-ended: the
    /// stream stays a candidate until an `EndSet` or its withdrawable says otherwise).
    pub fn rollback(&self, n: u64) {
        let mut inner = self.lock();
        inner.streams.retain(|_, info| info.created_block <= n);
        for info in inner.streams.values_mut() {
            if info.canceled_block.is_some_and(|block| block > n) {
                info.canceled_block = None;
            }
            if info.end_block > n {
                info.end = 0;
                info.end_block = info.created_block;
            }
        }
    }

    /// Marks the book complete up to the watcher's cursor (after the start-up backfill).
    pub fn set_ready(&self) {
        self.lock().ready = true;
    }

    /// Whether the book holds every stream created up to the watcher's cursor.
    pub fn is_ready(&self) -> bool {
        self.lock().ready
    }

    /// The streams, by id.
    pub fn streams(&self) -> Vec<(U256, StreamInfo)> {
        self.lock().streams.iter().map(|(id, info)| (*id, info.clone())).collect()
    }

    /// How many streams it holds.
    pub fn len(&self) -> usize {
        self.lock().streams.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops streams for good (finished and drained).
    pub fn remove(&self, ids: &[U256]) {
        let mut inner = self.lock();
        for id in ids {
            inner.streams.remove(id);
        }
    }
}

// ---- schedule math ---------------------------------------------------------------------------

/// The latest payday slot at or before `now` over all `paydays` (unix seconds, UTC).
pub fn latest_slot(paydays: &[Payday], now: u64) -> Option<u64> {
    paydays.iter().filter_map(|payday| payday.last_at_or_before(now)).max()
}

/// The next payday slot strictly after `now` over all `paydays`.
pub fn next_slot(paydays: &[Payday], now: u64) -> Option<u64> {
    paydays.iter().map(|payday| payday.next_after(now)).min()
}

/// The start of the threshold interval holding `now`.
pub fn threshold_slot(now: u64, interval: Duration) -> u64 {
    let interval = interval.as_secs().max(1);
    now - now % interval
}

/// How many stream ids one `payoutMany` may carry: `floor((block_gas_limit * 80% - base) /
/// per_id)`, at least 1. `base` is the gas of the call without ids (intrinsic gas included),
/// `per_id` the gas each id adds.
pub fn chunk_size(block_gas_limit: u64, base: u64, per_id: u64) -> usize {
    let budget = gas_budget(block_gas_limit);
    if per_id == 0 {
        return usize::MAX;
    }
    usize::try_from(budget.saturating_sub(base) / per_id).unwrap_or(usize::MAX).max(1)
}

/// The gas one `payoutMany` may use: [`BLOCK_GAS_SHARE_PCT`] of the block gas limit.
pub fn gas_budget(block_gas_limit: u64) -> u64 {
    u64::try_from(u128::from(block_gas_limit) * u128::from(BLOCK_GAS_SHARE_PCT) / 100)
        .unwrap_or(u64::MAX)
}

/// The per-id gas model from two estimates: `one` for a single id and `many` for `k` ids:
/// `(base, per_id)` with `per_id = ceil((many - one) / (k - 1))` and `base = one - per_id`.
/// With `k <= 1` (or a `many` below `one`) every id is assumed to cost `one` (base 0).
pub fn gas_model(one: u64, many: u64, k: usize) -> (u64, u64) {
    if k <= 1 || many <= one {
        return (0, one.max(1));
    }
    let extra = (many - one).div_ceil(k as u64 - 1).max(1);
    (one.saturating_sub(extra), extra)
}

/// Splits `ids` into chunks of at most `size` (order kept).
pub fn split(ids: &[U256], size: usize) -> Vec<Vec<U256>> {
    ids.chunks(size.max(1)).map(<[U256]>::to_vec).collect()
}

// ---- chain reads -----------------------------------------------------------------------------

/// Why the scheduler could not finish a slot (it tries again at its next tick).
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// The node failed.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// A call reverted where it should not have.
    #[error("{what} reverted: {revert}")]
    Reverted {
        /// What was called.
        what: String,
        /// The decoded revert.
        revert: DecodedRevert,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The node answered something that does not decode.
    #[error("cannot decode the answer to {what}: {reason}")]
    Decode {
        /// What was called.
        what: String,
        /// Why.
        reason: String,
    },
}

impl SchedulerError {
    fn from_tx(what: &str, err: TxError) -> Self {
        match err {
            TxError::Node(node) => Self::Node(node),
            TxError::Reverted(revert) => Self::Reverted { what: what.to_owned(), revert },
            other => {
                Self::Node(NodeError::Other { method: what.to_owned(), message: other.to_string() })
            }
        }
    }
}

/// Reads `withdrawable(id)` of each stream, [`READ_BATCH`] ids per `eth_call` of
/// `Payroll.multicall` (no Multicall3 needed). A batch that reverts (an id the chain does not
/// know) is read again id by id; the ids that revert get `None`.
pub async fn read_withdrawable(
    provider: &DynProvider,
    payroll: Address,
    ids: &[U256],
) -> Result<Vec<(U256, Option<U256>)>, SchedulerError> {
    let mut out = Vec::with_capacity(ids.len());
    for batch in ids.chunks(READ_BATCH) {
        let calls: Vec<Bytes> = batch
            .iter()
            .map(|&id| Payroll::withdrawableCall { streamId: id }.abi_encode().into())
            .collect();
        let data = Payroll::multicallCall { data: calls }.abi_encode();
        let request = TransactionRequest::default().to(payroll).input(data.into());
        match tx::simulate(provider, None, &request).await {
            Ok(answer) => {
                let results =
                    Payroll::multicallCall::abi_decode_returns(&answer).map_err(|err| {
                        SchedulerError::Decode {
                            what: "Payroll.multicall".into(),
                            reason: err.to_string(),
                        }
                    })?;
                if results.len() != batch.len() {
                    return Err(SchedulerError::Decode {
                        what: "Payroll.multicall".into(),
                        reason: format!("{} results for {} calls", results.len(), batch.len()),
                    });
                }
                for (&id, result) in batch.iter().zip(results) {
                    let amount =
                        Payroll::withdrawableCall::abi_decode_returns(&result).map_err(|err| {
                            SchedulerError::Decode {
                                what: format!("Payroll.withdrawable({id})"),
                                reason: err.to_string(),
                            }
                        })?;
                    out.push((id, Some(amount)));
                }
            }
            Err(TxError::Reverted(_)) => {
                for &id in batch {
                    let request = TransactionRequest::default()
                        .to(payroll)
                        .input(Payroll::withdrawableCall { streamId: id }.abi_encode().into());
                    match tx::simulate(provider, None, &request).await {
                        Ok(answer) => {
                            let amount = Payroll::withdrawableCall::abi_decode_returns(&answer)
                                .map_err(|err| SchedulerError::Decode {
                                    what: format!("Payroll.withdrawable({id})"),
                                    reason: err.to_string(),
                                })?;
                            out.push((id, Some(amount)));
                        }
                        Err(TxError::Reverted(revert)) => {
                            debug!(stream = %id, %revert, "withdrawable reverted: unknown stream");
                            out.push((id, None));
                        }
                        Err(err) => return Err(SchedulerError::from_tx("eth_call", err)),
                    }
                }
            }
            Err(err) => return Err(SchedulerError::from_tx("eth_call", err)),
        }
    }
    Ok(out)
}

/// `eth_estimateGas` of `payoutMany(ids)` sent by `from`.
pub async fn estimate_payout_many(
    provider: &DynProvider,
    payroll: Address,
    from: Address,
    ids: &[U256],
) -> Result<u64, SchedulerError> {
    let data = Payroll::payoutManyCall { streamIds: ids.to_vec() }.abi_encode();
    let request = TransactionRequest::default().to(payroll).input(data.into());
    tx::estimate_gas(provider, from, &request)
        .await
        .map_err(|err| SchedulerError::from_tx("eth_estimateGas(payoutMany)", err))
}

/// Splits `ids` into `payoutMany` chunks that fit [`gas_budget`]: a gas model from two
/// estimates ([`gas_model`], [`chunk_size`]), then each chunk estimated and halved while above
/// the budget.
pub async fn plan_chunks(
    provider: &DynProvider,
    payroll: Address,
    from: Address,
    block_gas_limit: u64,
    ids: &[U256],
) -> Result<Vec<Vec<U256>>, SchedulerError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let budget = gas_budget(block_gas_limit);
    let one = estimate_payout_many(provider, payroll, from, &ids[..1]).await?;
    let k = ids.len().min(GAS_SAMPLE);
    let many =
        if k > 1 { estimate_payout_many(provider, payroll, from, &ids[..k]).await? } else { one };
    let (base, per_id) = gas_model(one, many, k);
    let size = chunk_size(block_gas_limit, base, per_id);
    let mut chunks = Vec::new();
    let mut todo: Vec<Vec<U256>> = split(ids, size).into_iter().rev().collect();
    while let Some(chunk) = todo.pop() {
        if chunk.len() == 1 {
            chunks.push(chunk);
            continue;
        }
        let gas = estimate_payout_many(provider, payroll, from, &chunk).await?;
        if gas <= budget {
            chunks.push(chunk);
        } else {
            let (left, right) = chunk.split_at(chunk.len() / 2);
            todo.push(right.to_vec());
            todo.push(left.to_vec());
        }
    }
    debug!(streams = ids.len(), base, per_id, size, chunks = chunks.len(), "payoutMany chunks");
    Ok(chunks)
}

// ---- the scheduler task ----------------------------------------------------------------------

/// What the scheduler needs to know.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// The payroll contract.
    pub payroll: Address,
    /// Payday rules (UTC).
    pub paydays: Vec<Payday>,
    /// Per token (zero: native): pay a stream once its withdrawable reaches this many units.
    pub thresholds: Vec<(Address, U256)>,
    /// How often thresholds are checked (the time bucket of the threshold keys).
    pub threshold_interval: Duration,
    /// Only streams of these employers (`None`: every stream of the contract).
    pub employers: Option<BTreeSet<Address>>,
    /// The chain's block gas limit (chunks use 80% of it).
    pub block_gas_limit: u64,
    /// Who the gas estimates are made for (the relayer's signer).
    pub from: Address,
    /// How often the scheduler looks at the clock.
    pub tick: Duration,
    /// The watcher's reorg window (finished streams are dropped only once their end is deeper).
    pub reorg_window: u64,
}

impl SchedulerConfig {
    /// From the service context (config `paydays`, `payout_threshold`, the chain's block gas
    /// limit, the signer).
    pub fn from_context(ctx: &Context) -> Self {
        Self {
            payroll: ctx.deployment.payroll.address,
            paydays: ctx.config.paydays.clone(),
            thresholds: ctx.thresholds.iter().map(|(token, min)| (token.address, *min)).collect(),
            threshold_interval: DEFAULT_THRESHOLD_INTERVAL,
            employers: None,
            block_gas_limit: ctx.chain.block_gas_limit,
            from: ctx.signer_address(),
            tick: ctx.config.poll_interval,
            reorg_window: ctx.config.reorg_window,
        }
    }
}

/// What one scheduler pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scheduled {
    /// Keys of the payouts inserted.
    pub inserted: Vec<String>,
    /// Streams dropped from the book (finished and drained).
    pub dropped: usize,
}

/// The payday / threshold task.
pub struct Scheduler {
    cfg: SchedulerConfig,
    provider: DynProvider,
    store: Arc<dyn Store>,
    book: Arc<StreamBook>,
    status: StatusCell,
    last_payday: Option<u64>,
    last_threshold: Option<u64>,
    /// stream -> key of the last payday/threshold payout that included it.
    in_flight: HashMap<U256, String>,
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduler")
            .field("cfg", &self.cfg)
            .field("last_payday", &self.last_payday)
            .field("last_threshold", &self.last_threshold)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// A scheduler over the watcher's `book` and `status`.
    pub fn new(
        cfg: SchedulerConfig,
        provider: DynProvider,
        store: Arc<dyn Store>,
        book: Arc<StreamBook>,
        status: StatusCell,
    ) -> Self {
        Self {
            cfg,
            provider,
            store,
            book,
            status,
            last_payday: None,
            last_threshold: None,
            in_flight: HashMap::new(),
        }
    }

    /// From the service context; `book` and `status` come from the watcher
    /// ([`crate::watcher::Watcher::book`], [`crate::watcher::Watcher::status`]).
    pub fn from_context(ctx: &Context, book: Arc<StreamBook>, status: StatusCell) -> Self {
        Self::new(
            SchedulerConfig::from_context(ctx),
            ctx.provider.clone(),
            ctx.store.clone(),
            book,
            status,
        )
    }

    /// One pass: when the watcher is the leader (holds the cursor lease), caught up and the book
    /// ready, the latest payday slot at or before the cursor's time (if not done yet), then the
    /// threshold check (if due). A follower schedules nothing: the leader's scheduler does.
    pub async fn tick(&mut self) -> Result<Scheduled, SchedulerError> {
        let status = self.status.get();
        let Some(now) = status.cursor_time else { return Ok(Scheduled::default()) };
        if status.role != Role::Leader || !status.caught_up || !self.book.is_ready() {
            return Ok(Scheduled::default());
        }
        let mut done = Scheduled::default();
        if let Some(slot) = latest_slot(&self.cfg.paydays, now)
            && self.last_payday != Some(slot)
        {
            let pass = self.payday(slot, now, status.cursor_block.unwrap_or(0)).await?;
            done.inserted.extend(pass.inserted);
            done.dropped += pass.dropped;
            self.last_payday = Some(slot);
        }
        if !self.cfg.thresholds.is_empty() {
            let slot = threshold_slot(now, self.cfg.threshold_interval);
            if self.last_threshold != Some(slot) {
                let pass = self.threshold(slot).await?;
                done.inserted.extend(pass.inserted);
                self.last_threshold = Some(slot);
            }
        }
        Ok(done)
    }

    /// The candidates: book streams of the configured employers, not in an unfinished payout.
    async fn candidates(
        &self,
        tokens: Option<&[(Address, U256)]>,
    ) -> Result<Vec<(U256, StreamInfo)>, StoreError> {
        let mut out = Vec::new();
        for (id, info) in self.book.streams() {
            if self.cfg.employers.as_ref().is_some_and(|set| !set.contains(&info.employer)) {
                continue;
            }
            if let Some(tokens) = tokens
                && !tokens.iter().any(|(token, _)| *token == info.token)
            {
                continue;
            }
            if let Some(key) = self.in_flight.get(&id)
                && let Some(payout) = self.store.payout(key).await?
                && !matches!(
                    payout.status,
                    PayoutStatus::Confirmed | PayoutStatus::Skipped | PayoutStatus::Failed
                )
            {
                continue;
            }
            out.push((id, info));
        }
        Ok(out)
    }

    /// Schedules payday `slot` (chain time `now`, watcher cursor `cursor`): streams with
    /// something to withdraw, in `payoutMany` chunks; nothing when its chunk 0 exists.
    pub async fn payday(
        &mut self,
        slot: u64,
        now: u64,
        cursor: u64,
    ) -> Result<Scheduled, SchedulerError> {
        let payroll = self.cfg.payroll;
        let marker = NewPayout::payday(payroll, slot, 0, Vec::new()).key;
        if self.store.payout(&marker).await?.is_some() {
            debug!(slot, "payday already scheduled");
            return Ok(Scheduled::default());
        }
        let candidates = self.candidates(None).await?;
        let ids: Vec<U256> = candidates.iter().map(|(id, _)| *id).collect();
        let amounts = read_withdrawable(&self.provider, payroll, &ids).await?;
        let deep_below = (cursor + 1).saturating_sub(self.cfg.reorg_window);
        let mut due = Vec::new();
        let mut drained = Vec::new();
        for ((id, info), (_, amount)) in candidates.iter().zip(&amounts) {
            match amount {
                Some(amount) if !amount.is_zero() => due.push(*id),
                Some(_) if info.finished_since(now).is_some_and(|block| block < deep_below) => {
                    drained.push(*id);
                }
                _ => {}
            }
        }
        self.book.remove(&drained);
        let chunks =
            plan_chunks(&self.provider, payroll, self.cfg.from, self.cfg.block_gas_limit, &due)
                .await?;
        let payouts: Vec<NewPayout> = chunks
            .into_iter()
            .enumerate()
            .map(|(i, ids)| {
                NewPayout::payday(payroll, slot, u32::try_from(i).unwrap_or(u32::MAX), ids)
            })
            .collect();
        let inserted = self.insert_all(payouts).await?;
        info!(
            slot = %shiftpay_bindings::units::format_time(slot),
            streams = due.len(),
            payouts = inserted.len(),
            dropped = drained.len(),
            "payday scheduled"
        );
        Ok(Scheduled { inserted, dropped: drained.len() })
    }

    /// Schedules the threshold payouts of interval `slot`: streams of a threshold token whose
    /// withdrawable reached the token's threshold.
    pub async fn threshold(&mut self, slot: u64) -> Result<Scheduled, SchedulerError> {
        let payroll = self.cfg.payroll;
        let thresholds = self.cfg.thresholds.clone();
        let candidates = self.candidates(Some(&thresholds)).await?;
        let ids: Vec<U256> = candidates.iter().map(|(id, _)| *id).collect();
        let amounts = read_withdrawable(&self.provider, payroll, &ids).await?;
        let due: Vec<U256> = candidates
            .iter()
            .zip(&amounts)
            .filter(|((_, info), (_, amount))| {
                let min = thresholds.iter().find(|(t, _)| *t == info.token).map(|(_, m)| *m);
                matches!((amount, min), (Some(a), Some(m)) if !a.is_zero() && *a >= m)
            })
            .map(|((id, _), _)| *id)
            .collect();
        if due.is_empty() {
            return Ok(Scheduled::default());
        }
        let chunks =
            plan_chunks(&self.provider, payroll, self.cfg.from, self.cfg.block_gas_limit, &due)
                .await?;
        let payouts: Vec<NewPayout> = chunks
            .into_iter()
            .enumerate()
            .map(|(i, ids)| {
                NewPayout::threshold(payroll, slot, u32::try_from(i).unwrap_or(u32::MAX), ids)
            })
            .collect();
        let inserted = self.insert_all(payouts).await?;
        info!(slot, streams = due.len(), payouts = inserted.len(), "threshold payouts scheduled");
        Ok(Scheduled { inserted, dropped: 0 })
    }

    /// Inserts the chunks of one slot, chunk 0 last (the slot's "done" marker), and remembers
    /// which payout each stream is in.
    async fn insert_all(&mut self, payouts: Vec<NewPayout>) -> Result<Vec<String>, StoreError> {
        let mut inserted = Vec::new();
        for payout in payouts.into_iter().rev() {
            let ids = match &payout.kind {
                PayoutKind::Payday { stream_ids, .. }
                | PayoutKind::Threshold { stream_ids, .. } => stream_ids.clone(),
                _ => Vec::new(),
            };
            let (stored, new) = self.store.insert_payout_if_absent(payout).await?;
            for id in ids {
                self.in_flight.insert(id, stored.key.clone());
            }
            if new {
                inserted.push(stored.key);
            }
        }
        inserted.reverse();
        Ok(inserted)
    }

    /// Runs [`Scheduler::tick`] every `tick` until `cancel`; errors are logged and retried at
    /// the next tick.
    pub async fn run(mut self, cancel: CancellationToken) -> Result<(), TaskError> {
        let mut failures = 0u32;
        loop {
            let wait = match self.tick().await {
                Ok(_) => {
                    failures = 0;
                    self.cfg.tick
                }
                Err(SchedulerError::Store(err)) if !err.is_transient() => return Err(err.into()),
                Err(err) => {
                    failures = failures.saturating_add(1);
                    let wait = backoff(self.cfg.tick, failures);
                    warn!(%err, retry_in = ?wait, "scheduler pass failed");
                    wait
                }
            };
            tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// `base x 2^(failures-1)`, between `base` and 30 s (never below `base`).
pub(crate) fn backoff(base: Duration, failures: u32) -> Duration {
    let cap = Duration::from_secs(30).max(base);
    base.saturating_mul(1 << failures.saturating_sub(1).min(16)).min(cap)
}

#[async_trait]
impl Task for Scheduler {
    fn name(&self) -> &'static str {
        "scheduler"
    }

    fn stage(&self) -> Stage {
        Stage::Scheduler
    }

    async fn run(self: Box<Self>, ctx: TaskContext) -> Result<(), TaskError> {
        (*self).run(ctx.cancel).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::B256;

    fn at(text: &str) -> u64 {
        let ts: jiff::Timestamp = text.parse().unwrap();
        u64::try_from(ts.as_second()).unwrap()
    }

    fn payday(text: &str) -> Payday {
        text.parse().unwrap()
    }

    /// A follower (another instance holds the cursor lease) schedules nothing, even with a
    /// payday due; the leader, in the same state, goes to the node (which is not there).
    #[tokio::test]
    async fn only_the_leader_schedules() {
        let payroll = Address::repeat_byte(0xa1);
        let cfg = SchedulerConfig {
            payroll,
            paydays: vec![payday("daily 09:00")],
            thresholds: Vec::new(),
            threshold_interval: DEFAULT_THRESHOLD_INTERVAL,
            employers: None,
            block_gas_limit: 6_800_000,
            from: Address::repeat_byte(1),
            tick: Duration::from_millis(100),
            reorg_window: 64,
        };
        // Nothing listens on port 1: any RPC fails at once.
        let provider = shiftpay_bindings::rpc::connect_http("http://127.0.0.1:1").unwrap();
        let store: Arc<dyn Store> = Arc::new(crate::store::memory::MemoryStore::new());
        let book = StreamBook::new();
        book.apply(&[ChainEvent {
            block: 5,
            block_hash: B256::repeat_byte(5),
            log_index: 0,
            tx_hash: None,
            contract: payroll,
            event: Event::StreamCreated {
                stream: U256::from(1),
                employer: Address::repeat_byte(2),
                worker: Address::repeat_byte(3),
                token: Address::ZERO,
                end: 0,
            },
        }]);
        book.set_ready();
        let status = StatusCell::default();
        status.update(|s| {
            s.cursor_block = Some(100);
            s.cursor_time = Some(at("2026-12-03T10:00:00Z"));
            s.caught_up = true;
            s.role = Role::Follower;
        });
        let mut scheduler = Scheduler::new(cfg, provider, store.clone(), book, status.clone());
        assert_eq!(scheduler.tick().await.unwrap(), Scheduled::default());
        assert_eq!(scheduler.last_payday, None, "the slot is left to the leader");
        status.update(|s| s.role = Role::Leader);
        assert!(scheduler.tick().await.is_err(), "the leader reads the streams");
    }

    #[test]
    fn friday_payday_from_a_thursday() {
        let fri = [payday("FRI 17:00")];
        // Thursday 2026-12-03 10:00 UTC.
        let thursday = at("2026-12-03T10:00:00Z");
        assert_eq!(next_slot(&fri, thursday), Some(at("2026-12-04T17:00:00Z")));
        assert_eq!(latest_slot(&fri, thursday), Some(at("2026-11-27T17:00:00Z")));
        // Exactly at the slot: it is the latest, the next is a week later.
        let slot = at("2026-12-04T17:00:00Z");
        assert_eq!(latest_slot(&fri, slot), Some(slot));
        assert_eq!(latest_slot(&fri, slot - 1), Some(at("2026-11-27T17:00:00Z")));
        assert_eq!(next_slot(&fri, slot), Some(at("2026-12-11T17:00:00Z")));
    }

    #[test]
    fn slots_across_month_and_year_ends() {
        let fri = [payday("FRI 17:00 UTC")];
        // Wednesday 2026-12-30: the next Friday is New Year's Day 2027.
        assert_eq!(next_slot(&fri, at("2026-12-30T12:00:00Z")), Some(at("2027-01-01T17:00:00Z")));
        assert_eq!(latest_slot(&fri, at("2027-01-02T00:00:00Z")), Some(at("2027-01-01T17:00:00Z")));
        // Month end: Friday 2027-04-30 -> next 2027-05-07.
        assert_eq!(next_slot(&fri, at("2027-04-30T17:00:00Z")), Some(at("2027-05-07T17:00:00Z")));
        // Monthly on the 31st pays on the last day of shorter months (leap year 2028).
        let monthly = [payday("monthly 31 09:00")];
        assert_eq!(
            next_slot(&monthly, at("2028-02-01T00:00:00Z")),
            Some(at("2028-02-29T09:00:00Z"))
        );
        assert_eq!(
            next_slot(&monthly, at("2027-02-01T00:00:00Z")),
            Some(at("2027-02-28T09:00:00Z"))
        );
        assert_eq!(
            next_slot(&monthly, at("2026-12-31T09:00:00Z")),
            Some(at("2027-01-31T09:00:00Z"))
        );
        // UTC only: a date in European summer time changes nothing.
        assert_eq!(next_slot(&fri, at("2027-03-28T00:30:00Z")), Some(at("2027-04-02T17:00:00Z")));
    }

    #[test]
    fn several_rules_take_the_nearest_slot() {
        let rules = [payday("FRI 17:00"), payday("monthly 1 09:00")];
        // Thursday 2026-12-31 -> Friday 2027-01-01 09:00 (monthly) comes before 17:00 (weekly).
        assert_eq!(next_slot(&rules, at("2026-12-31T10:00:00Z")), Some(at("2027-01-01T09:00:00Z")));
        assert_eq!(
            latest_slot(&rules, at("2027-01-01T12:00:00Z")),
            Some(at("2027-01-01T09:00:00Z"))
        );
        assert_eq!(
            latest_slot(&rules, at("2027-01-01T18:00:00Z")),
            Some(at("2027-01-01T17:00:00Z"))
        );
        assert_eq!(latest_slot(&[], at("2027-01-01T18:00:00Z")), None);
    }

    #[test]
    fn downtime_over_several_paydays_gives_one_catch_up_slot() {
        let daily = [payday("daily 09:00")];
        // Down from Monday to Thursday noon: only Thursday 09:00 is scheduled.
        let back = at("2026-12-03T12:00:00Z");
        assert_eq!(latest_slot(&daily, back), Some(at("2026-12-03T09:00:00Z")));
    }

    #[test]
    fn threshold_slots_are_interval_starts() {
        let interval = Duration::from_secs(300);
        assert_eq!(threshold_slot(1_000_299, interval), 1_000_200);
        assert_eq!(threshold_slot(1_000_200, interval), 1_000_200);
        assert_eq!(threshold_slot(7, Duration::ZERO), 7);
    }

    #[test]
    fn chunking_math() {
        // Rootstock: 6.8M gas, 80% = 5.44M; 30k base, 25k per id -> (5_440_000 - 30_000) / 25_000.
        assert_eq!(gas_budget(6_800_000), 5_440_000);
        assert_eq!(chunk_size(6_800_000, 30_000, 25_000), 216);
        // Never zero, even when one id does not fit (the sender then fails it visibly).
        assert_eq!(chunk_size(100_000, 90_000, 50_000), 1);
        assert_eq!(chunk_size(6_800_000, 0, 0), usize::MAX);
        // The model from two estimates: 1 id = 60k, 8 ids = 235k -> 25k per id, base 35k.
        assert_eq!(gas_model(60_000, 235_000, 8), (35_000, 25_000));
        // Rounds the per-id gas up.
        assert_eq!(gas_model(60_000, 235_001, 8), (34_999, 25_001));
        assert_eq!(gas_model(60_000, 60_000, 1), (0, 60_000));
        let ids: Vec<U256> = (1..=5u64).map(U256::from).collect();
        let chunks = split(&ids, 2);
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[2], vec![U256::from(5)]);
        assert_eq!(split(&ids, 0).len(), 5);
        // Every chunk of the planned size fits the budget under the model.
        let (base, per_id) = gas_model(60_000, 235_000, 8);
        let size = chunk_size(6_800_000, base, per_id) as u64;
        assert!(base + size * per_id <= gas_budget(6_800_000));
        assert!(base + (size + 1) * per_id > gas_budget(6_800_000));
    }

    fn event(block: u64, event: Event, contract: Address) -> ChainEvent {
        ChainEvent {
            block,
            block_hash: B256::repeat_byte(block as u8),
            log_index: 0,
            tx_hash: None,
            contract,
            event,
        }
    }

    #[test]
    fn releases_are_due_one_second_after_the_window() {
        let escrow = Address::repeat_byte(0xe5);
        let mut planner = ReleasePlanner::new(escrow, true);
        let (job, ms) = (U256::from(3), U256::from(1));
        let events = [event(
            10,
            Event::MilestoneSubmitted { job, milestone: ms, review_end: 5_000 },
            escrow,
        )];
        let payouts = planner.plan(&events, 0);
        assert_eq!(payouts.len(), 1);
        assert_eq!(payouts[0].due_at, 5_001);
        assert_eq!(payouts[0].source_block, Some(10));
        assert_eq!(payouts[0].key, format!("release:{escrow:#x}:3:1:5000"));
        // Another contract's events and a disabled planner plan nothing.
        assert!(planner.plan(&[event(11, events[0].event.clone(), Address::ZERO)], 0).is_empty());
        assert!(ReleasePlanner::new(escrow, false).plan(&events, 0).is_empty());
    }

    #[test]
    fn finalize_cancel_is_due_after_the_notice_and_obsoleted_by_the_job_ending() {
        let escrow = Address::repeat_byte(0xe5);
        let job = U256::from(4);
        let noticed = Event::CancellationNoticed { job, notice_end: 7_000 };
        // Off unless asked for (and independent of releases).
        assert!(
            ReleasePlanner::new(escrow, true)
                .plan(&[event(10, noticed.clone(), escrow)], 0)
                .is_empty()
        );
        let mut planner = ReleasePlanner::new(escrow, false).finalize_cancel(true);
        let payouts = planner.plan(&[event(10, noticed.clone(), escrow)], 0);
        assert_eq!(payouts.len(), 1);
        assert_eq!(payouts[0].key, format!("finalize:{escrow:#x}:4"));
        assert_eq!((payouts[0].due_at, payouts[0].source_block), (7_001, Some(10)));
        // With releases off, a submission plans nothing.
        let submitted = Event::MilestoneSubmitted { job, milestone: U256::ZERO, review_end: 6_000 };
        assert!(planner.plan(&[event(11, submitted, escrow)], 0).is_empty());
        // Someone finalized it (or the worker resigned): skipped once deep.
        for ended in [Event::JobCancelled { job }, Event::WorkerResigned { job }] {
            let mut planner = ReleasePlanner::new(escrow, true).finalize_cancel(true);
            planner.plan(&[event(10, noticed.clone(), escrow)], 0);
            assert!(planner.plan(&[event(20, ended.clone(), escrow)], 15).is_empty());
            assert!(planner.due_skips(20).is_empty());
            let due = planner.due_skips(21);
            assert_eq!(due.len(), 1, "{ended:?}");
            assert_eq!(due[0].key, payouts[0].key);
            assert!(due[0].reason.contains(ended.name()), "{}", due[0].reason);
            // Deep in one catch-up page: never inserted.
            let mut planner = ReleasePlanner::new(escrow, true).finalize_cancel(true);
            let both = [event(10, noticed.clone(), escrow), event(20, ended.clone(), escrow)];
            assert!(planner.plan(&both, 100).is_empty());
            // A reorg removing the notice forgets it: a later JobCancelled queues nothing.
            let mut planner = ReleasePlanner::new(escrow, true).finalize_cancel(true);
            planner.plan(&[event(10, noticed.clone(), escrow)], 0);
            planner.rollback(9);
            planner.plan(&[event(20, ended, escrow)], 0);
            assert!(planner.pending_skips().is_empty());
        }
        // A job cancelled without notice (nothing funded) was never planned: nothing to skip.
        let mut planner = ReleasePlanner::new(escrow, true).finalize_cancel(true);
        planner.plan(&[event(10, Event::JobCancelled { job: U256::from(9) }, escrow)], 0);
        assert!(planner.pending_skips().is_empty());
    }

    #[test]
    fn obsoleted_releases_are_skipped_once_deep() {
        let escrow = Address::repeat_byte(0xe5);
        let (job, ms) = (U256::from(3), U256::from(1));
        let submitted = Event::MilestoneSubmitted { job, milestone: ms, review_end: 5_000 };
        let changes = Event::ChangesRequested { job, milestone: ms, response_end: 6_000 };
        // Shallow: inserted, skip queued until block 20 is below the window.
        let mut planner = ReleasePlanner::new(escrow, true);
        let payouts = planner
            .plan(&[event(10, submitted.clone(), escrow), event(20, changes.clone(), escrow)], 15);
        assert_eq!(payouts.len(), 1);
        assert_eq!(planner.pending_skips().len(), 1);
        assert!(planner.due_skips(20).is_empty());
        let due = planner.due_skips(21);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].key, payouts[0].key);
        assert!(due[0].reason.contains("ChangesRequested"));
        // Deep (catch-up): never inserted.
        let mut planner = ReleasePlanner::new(escrow, true);
        let payouts = planner
            .plan(&[event(10, submitted.clone(), escrow), event(20, changes.clone(), escrow)], 100);
        assert!(payouts.is_empty());
        // A reorg removing the change request drops its skip.
        let mut planner = ReleasePlanner::new(escrow, true);
        planner.plan(&[event(10, submitted.clone(), escrow), event(20, changes, escrow)], 0);
        planner.rollback(15);
        assert!(planner.pending_skips().is_empty());
        // Resubmission after changes: a new key with the new window.
        let mut planner = ReleasePlanner::new(escrow, true);
        let resubmitted = Event::MilestoneSubmitted { job, milestone: ms, review_end: 9_000 };
        let approved = Event::MilestoneApproved { job, milestone: ms };
        let payouts = planner.plan(
            &[
                event(10, submitted, escrow),
                event(
                    20,
                    Event::ChangesRequested { job, milestone: ms, response_end: 6_000 },
                    escrow,
                ),
                event(30, resubmitted, escrow),
            ],
            0,
        );
        assert_eq!(payouts.len(), 2);
        assert_eq!(payouts[1].due_at, 9_001);
        planner.plan(&[event(40, approved, escrow)], 0);
        let skips = planner.due_skips(u64::MAX);
        assert_eq!(skips.len(), 2);
        assert_eq!(skips[1].key, payouts[1].key);
        // Submitted, changes requested and resubmitted within one second: same window end, same
        // key, which is due again (no skip), whether the events are deep or not.
        for deep_below in [0, 100] {
            let mut planner = ReleasePlanner::new(escrow, true);
            let same = Event::MilestoneSubmitted { job, milestone: ms, review_end: 5_000 };
            let changes = Event::ChangesRequested { job, milestone: ms, response_end: 6_000 };
            let payouts = planner.plan(
                &[
                    event(10, same.clone(), escrow),
                    event(11, changes, escrow),
                    event(12, same, escrow),
                ],
                deep_below,
            );
            assert_eq!(payouts.len(), 1);
            // Deep: the obsolete first one was dropped, the resubmission inserted; else the first
            // one stands (its skip cancelled).
            let source = if deep_below > 0 { 12 } else { 10 };
            assert_eq!(payouts[0].source_block, Some(source));
            assert!(planner.pending_skips().is_empty());
        }
    }

    #[test]
    fn the_book_follows_stream_events_and_rollbacks() {
        let payroll = Address::repeat_byte(0xa1);
        let book = StreamBook::new();
        let created = |id: u64, end: u64| Event::StreamCreated {
            stream: U256::from(id),
            employer: Address::repeat_byte(1),
            worker: Address::repeat_byte(2),
            token: Address::ZERO,
            end,
        };
        book.apply(&[
            event(5, created(1, 0), payroll),
            event(6, created(2, 1_000), payroll),
            event(9, Event::StreamCanceled { stream: U256::from(1) }, payroll),
            event(9, Event::EndSet { stream: U256::from(2), end: 2_000 }, payroll),
            event(12, created(3, 0), payroll),
        ]);
        assert_eq!(book.len(), 3);
        let streams: BTreeMap<U256, StreamInfo> = book.streams().into_iter().collect();
        assert_eq!(streams[&U256::from(1)].finished_since(0), Some(9));
        assert_eq!(streams[&U256::from(2)].finished_since(1_500), None);
        assert_eq!(streams[&U256::from(2)].finished_since(2_000), Some(9));
        book.rollback(8);
        let streams: BTreeMap<U256, StreamInfo> = book.streams().into_iter().collect();
        assert_eq!(streams.len(), 2);
        assert_eq!(streams[&U256::from(1)].canceled_block, None);
        assert_eq!(streams[&U256::from(2)].end, 0, "an end set above the fork is unknown");
        book.remove(&[U256::from(1)]);
        assert_eq!(book.len(), 1);
    }

    #[test]
    fn backoff_doubles_up_to_thirty_seconds() {
        let base = Duration::from_secs(1);
        assert_eq!(backoff(base, 1), base);
        assert_eq!(backoff(base, 3), Duration::from_secs(4));
        assert_eq!(backoff(base, 40), Duration::from_secs(30));
        assert_eq!(backoff(Duration::from_secs(60), 3), Duration::from_secs(60));
    }
}
