//! The sender: the only task that signs. It turns due payouts into transactions, exactly once,
//! and follows every transaction it signed until it is confirmed.
//!
//! # One step
//! 1. **Track** every transaction of the signer the store has as `Pending` / `Mined` / `Dropped`
//!    (statuses follow the guards of [`crate::store::TxStatus`], after OpenZeppelin Relayer's
//!    status handling): a receipt for any of its hashes → `Mined`, then `Confirmed` (payout
//!    `Confirmed`) at the configured depth, or `Reverted` (payout `Failed`, reason replayed);
//!    the receipt gone again → back to `Pending` (reorg); no receipt but the chain's nonce moved
//!    past it → `Replaced` by a transaction that is none of ours (payout back to `Pending`, so it
//!    is re-checked: it may have been done by that transaction); not in the node's pool →
//!    rebroadcast the stored bytes; in the pool for longer than `gas.replace_after` → re-signed
//!    with the same nonce and a price raised by `gas.bump_pct` (`shiftpay_bindings::tx::capped_bump`,
//!    capped at `gas.max_multiple` × the block minimum) and recorded as a replacement *before* it
//!    is broadcast.
//! 2. **Send** what is due: claim a batch (a lease: a crashed holder's payouts are taken over
//!    once it ends), re-check each payout on-chain ([`Sender::decide`]: milestone still
//!    `Submitted` with the same window and the window over; job still `Cancelling` and its
//!    notice over; streams still withdrawable; the signed request still executes) →
//!    `Skipped` without a transaction when not; prepare it with the bindings' policy
//!    (estimate + margin; legacy `eth_gasPrice` once per batch); a revert in the estimate →
//!    `Failed`, never retried; then, in ONE store transaction for the whole batch, allocate the
//!    nonces and record the signed bytes ([`Store::allocate_nonces_and_record_txs`]) and only
//!    then broadcast.
//! 3. Every minute, read the signer's balance (metric; a warning below `low_balance_warning`).
//!
//! # Pace
//! Batches of 64; receipts read and payouts re-checked concurrently (bounded, so a public node
//! sees at most a few dozen requests at once); a batch's payouts recorded in ONE store
//! transaction ([`Store::allocate_nonces_and_record_txs`], nonces in claim order), then
//! broadcast 16 at a time (all of a step's broadcasts end with the step); a step's receipts
//! written in one store transaction too ([`Store::set_txs_status`]). A full batch is followed
//! by the next step at once; otherwise the sender waits `poll_interval`, or less when it follows
//! the watcher ([`Sender::follow_watcher`]: it steps as soon as the watcher has inserted
//! payouts). `relayer/BENCH.md` has the figures.
//!
//! Transport failures are retried with exponential backoff and jitter (a payout: re-queued
//! with `retry_later`; the whole step: the loop sleeps), never reverts.
//!
//! # Exactly once
//! A payout has a unique key; it gets a transaction only through
//! `allocate_nonce(s)_and_record_tx(s)`, which needs the payout leased to this sender and writes
//! the signed bytes before anything is broadcast. After a crash at any point: nothing recorded →
//! the payout is claimed again when its lease ends and re-checked; recorded but never broadcast
//! → [`Sender::reconcile`] (at start) finds it missing from the node and rebroadcasts the same
//! bytes (same nonce: at most one of its versions can ever be mined); broadcast → tracked as
//! usual. A payout goes back to the queue only when its nonce was consumed by a transaction that
//! is none of ours, and is then re-checked on-chain before anything is sent again.
//!
//! # Clocks
//! Payouts are claimed at `max(latest block time, machine clock)` (due times and leases pass
//! even when a quiet devnet mines no block); whether a milestone's review window is over is
//! decided on the chain's time only, as the contract does.

pub mod chain;

use std::{
    collections::BTreeSet,
    hash::{BuildHasher, Hasher},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alloy::{
    consensus::TxEnvelope,
    eips::eip2718::Decodable2718,
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
    rpc::types::{TransactionReceipt, TransactionRequest},
    sol_types::SolCall,
};
use async_trait::async_trait;
use shiftpay_bindings::{
    chains::GasPolicy,
    escrow::{JobState, MilestoneEscrow, MilestoneState},
    payroll::Payroll,
    tx::{self, SignedTx, TxError},
};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use self::chain::{Head, node, wall_clock};
use crate::{
    api::request::{SignedRequest, onchain_nonce, parties},
    config::Config,
    metrics::Metrics,
    service::{Context, Stage, Task, TaskContext, TaskError},
    store::{
        AllocateTx, BuildTx, NewTx, Payout, PayoutKind, PayoutStatus, Store, StoreError, TxId,
        TxRecord, TxStatus, TxUpdate,
    },
    watcher::StatusCell,
};

/// How the sender paces itself. [`SenderOptions::from_config`] gives the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderOptions {
    /// Payouts claimed per step (re-checked concurrently, at most 16 at a time; recorded
    /// together in one store transaction, then broadcast).
    pub batch_size: usize,
    /// How long a claim is held: another instance (or this one after a restart) takes an
    /// unsent payout over once it ends.
    pub lease: Duration,
    /// Pause between steps when there is nothing more to do.
    pub poll_interval: Duration,
    /// A transaction unmined after this long is replaced with a higher price.
    pub replace_after: Duration,
    /// How often the signer's balance is read.
    pub balance_every: Duration,
    /// The longest backoff after failures.
    pub backoff_max: Duration,
}

impl SenderOptions {
    /// Batches of 64, a lease of six RPC timeouts (at least a minute), the config's poll
    /// interval and `gas.replace_after`, the balance read every minute, backoff up to a minute.
    pub fn from_config(config: &Config) -> Self {
        Self {
            batch_size: 64,
            lease: (config.rpc_timeout * 6).max(Duration::from_secs(60)),
            poll_interval: config.poll_interval,
            replace_after: config.gas.replace_after,
            balance_every: Duration::from_secs(60),
            backoff_max: Duration::from_secs(60),
        }
    }
}

/// Why a step failed. Nothing is lost: the step is retried after a backoff.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The node failed.
    #[error(transparent)]
    Node(#[from] TxError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SendError {
    /// Whether the same step may succeed later without anyone doing anything.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Node(err) => err.is_transient(),
            Self::Store(err) => err.is_transient(),
        }
    }
}

/// What the on-chain re-check and the preparation decided for one claimed payout.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Still due: send this prepared transaction (gas and price set; the nonce comes from the
    /// store).
    Send {
        /// The prepared request.
        request: Box<TransactionRequest>,
        /// What it does, for logs.
        what: String,
    },
    /// Not needed any more (done by someone else, or superseded): no transaction.
    Skip(String),
    /// Not due yet on-chain: back to the queue until `at` (unix seconds).
    Later {
        /// When to look again.
        at: u64,
        /// Why.
        reason: String,
    },
    /// Given up without a transaction (the estimate reverted, or the payout cannot be built).
    Fail(String),
    /// The node failed: back to the queue after a backoff.
    Retry(String),
}

/// A claimed payout the re-check found still due, with its prepared transaction.
struct Due<'a> {
    payout: &'a Payout,
    request: Box<TransactionRequest>,
    what: String,
}

/// A receipt's verdict on one transaction, written with the step's others
/// ([`Sender::write_settled`]).
struct Settled {
    tx: TxId,
    payout_key: Option<String>,
    hash: B256,
    block: u64,
    update: TxUpdate,
}

/// What one step did (logs, tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepReport {
    /// Payouts claimed.
    pub claimed: usize,
    /// New transactions recorded and broadcast (or left for the tracker to broadcast).
    pub sent: usize,
    /// Payouts skipped after the re-check.
    pub skipped: usize,
    /// Payouts failed without a transaction.
    pub failed: usize,
    /// Payouts put back (not due on-chain yet, or a transport error).
    pub deferred: usize,
    /// Transactions that reached their confirmations.
    pub confirmed: usize,
    /// Transactions that reverted on-chain.
    pub reverted: usize,
    /// Stuck transactions replaced with a higher price.
    pub replaced: usize,
    /// Transactions whose nonce another transaction used (payout re-queued).
    pub superseded: usize,
    /// Stored transactions broadcast again (missing from the node's pool).
    pub rebroadcast: usize,
    /// Nonce gaps filled with a 0-value transfer to the signer itself.
    pub gaps_filled: usize,
}

/// When the balance was read and the low-balance warning logged.
#[derive(Debug, Default)]
struct BalanceClock {
    read: Option<Instant>,
    warned: Option<Instant>,
}

/// Re-warn about a low balance at most this often.
const LOW_BALANCE_REWARN: Duration = Duration::from_secs(600);

/// How often an idle sender following the watcher looks whether it inserted payouts.
const WAKE_CHECK: Duration = Duration::from_millis(20);

/// Re-checks in flight while sending a batch (each one `eth_call` and one `eth_estimateGas`).
const DECIDE_IN_FLIGHT: usize = 16;

/// Receipt reads in flight while tracking (one per open transaction).
const TRACK_IN_FLIGHT: usize = 32;

/// Broadcasts in flight while sending a batch (recorded in nonce order, broadcast without
/// waiting for the one before).
const BROADCAST_IN_FLIGHT: usize = 16;

/// At most this many nonce gaps are filled at start (more means the store and the chain
/// disagree wildly: an operator should look).
const MAX_GAP_FILL: u64 = 256;

/// The sender task (cheap to clone: shared state behind `Arc`s).
#[derive(Clone)]
pub struct Sender {
    shared: Arc<Context>,
    metrics: Arc<Metrics>,
    options: SenderOptions,
    balance: Arc<Mutex<BalanceClock>>,
    /// The watcher's status, to wake up when it inserts payouts ([`Sender::follow_watcher`]).
    watcher: Option<StatusCell>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("signer", &self.shared.signer.address())
            .field("holder", &self.shared.instance)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Sender {
    /// A sender over the shared context, counting into `metrics`.
    pub fn new(shared: Arc<Context>, metrics: Arc<Metrics>, options: SenderOptions) -> Self {
        Self { shared, metrics, options, balance: Arc::default(), watcher: None }
    }

    /// Wakes the sender between its polls as soon as the watcher has inserted payouts (its
    /// status is read every 20 ms, in memory), instead of at the next poll interval: a release
    /// goes out one step after the watcher's poll that saw its confirmation depth, and the first
    /// batch right after start-up.
    pub fn follow_watcher(mut self, status: StatusCell) -> Self {
        self.watcher = Some(status);
        self
    }

    /// Payouts the watcher has inserted since start (`None` when not following it).
    fn inserted(&self) -> Option<u64> {
        self.watcher.as_ref().map(|status| status.get().payouts_inserted)
    }

    /// Waits `delay`, or less once the watcher has inserted payouts past `inserted`; `true`
    /// when `cancel` fired.
    async fn idle(
        &self,
        cancel: &CancellationToken,
        delay: Duration,
        inserted: Option<u64>,
    ) -> bool {
        let Some(inserted) = inserted else { return sleep_or_cancelled(cancel, delay).await };
        let deadline = Instant::now() + delay;
        loop {
            if self.inserted().is_some_and(|now| now != inserted) {
                return cancel.is_cancelled();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return cancel.is_cancelled();
            }
            if sleep_or_cancelled(cancel, left.min(WAKE_CHECK)).await {
                return true;
            }
        }
    }

    /// The signer's address.
    pub fn address(&self) -> Address {
        self.shared.signer.address()
    }

    /// The lease holder id (the context's instance id).
    pub fn holder(&self) -> &str {
        &self.shared.instance
    }

    fn store(&self) -> &Arc<dyn Store> {
        &self.shared.store
    }

    /// At start: follows up every stored transaction (confirm what was mined, rebroadcast what
    /// the node lost, including ones recorded but never broadcast before a crash) and fills
    /// nonce gaps between the chain's count and the store's next nonce that no stored
    /// transaction covers.
    pub async fn reconcile(&self) -> Result<StepReport, SendError> {
        let head = chain::head(&self.shared.provider).await?;
        let mut report = StepReport::default();
        self.track(&head, &mut report).await?;
        let provider = &self.shared.provider;
        let address = self.address();
        let mined = provider
            .get_transaction_count(address)
            .latest()
            .await
            .map_err(node("eth_getTransactionCount"))?;
        let next = self.store().next_nonce(address).await?;
        if let Some(next) = next {
            let open: BTreeSet<u64> = self
                .store()
                .txs_with_status(&[TxStatus::Pending, TxStatus::Mined, TxStatus::Dropped])
                .await?
                .into_iter()
                .filter(|tx| tx.signer == address)
                .map(|tx| tx.nonce)
                .collect();
            let holes: Vec<u64> =
                (mined..next).filter(|n| !open.contains(n)).take(MAX_GAP_FILL as usize).collect();
            if next.saturating_sub(mined) > MAX_GAP_FILL {
                error!(
                    chain = mined,
                    store = next,
                    "the store's next nonce is far ahead of the chain's"
                );
            }
            for nonce in holes {
                match self.fill_gap(nonce).await {
                    Ok(_) => report.gaps_filled += 1,
                    Err(SendError::Store(err @ StoreError::NonceTaken { .. })) => {
                        // A final record (confirmed, replaced) holds a nonce the chain says is
                        // unused: a reorg deeper than the confirmations. Nothing is signed.
                        error!(nonce, %err, "nonce gap not filled: an operator should look");
                    }
                    Err(err) => return Err(err),
                }
            }
            if mined > next {
                info!(
                    chain = mined,
                    store = next,
                    "the signer sent transactions elsewhere: the next nonce follows the chain"
                );
            }
        }
        info!(
            rebroadcast = report.rebroadcast,
            confirmed = report.confirmed,
            superseded = report.superseded,
            gaps_filled = report.gaps_filled,
            chain_nonce = mined,
            store_nonce = ?next,
            "sender reconciled its transactions with the chain"
        );
        Ok(report)
    }

    /// One step: track the stored transactions, then claim, re-check and send what is due,
    /// then (at most every `balance_every`) read the signer's balance.
    pub async fn step(&self) -> Result<StepReport, SendError> {
        let head = chain::head(&self.shared.provider).await?;
        let mut report = StepReport::default();
        self.track(&head, &mut report).await?;
        self.send_due(&head, &mut report).await?;
        self.check_balance().await;
        Ok(report)
    }

    // ---- sending ------------------------------------------------------------------------------

    /// Claims due payouts, decides each (concurrently), then records and broadcasts them in
    /// claim order.
    async fn send_due(&self, head: &Head, report: &mut StepReport) -> Result<(), SendError> {
        let now = head.timestamp.max(wall_clock());
        let claimed = self
            .store()
            .claim_due(now, self.options.batch_size, self.holder(), self.options.lease)
            .await?;
        report.claimed = claimed.len();
        if claimed.is_empty() {
            return Ok(());
        }
        let gas_price = match self.batch_gas_price().await {
            Ok(price) => price,
            Err(err) => {
                for payout in &claimed {
                    let retry = Decision::Retry(err.to_string());
                    self.apply(payout, retry, now, report).await?;
                }
                return Err(err.into());
            }
        };
        let mut tasks = JoinSet::new();
        let mut decisions: Vec<Option<Decision>> = (0..claimed.len()).map(|_| None).collect();
        let mut joined = |joined: Result<(usize, Decision), tokio::task::JoinError>| match joined {
            Ok((index, decision)) => decisions[index] = Some(decision),
            Err(err) => error!(%err, "a payout re-check panicked"),
        };
        for (index, payout) in claimed.iter().cloned().enumerate() {
            if tasks.len() >= DECIDE_IN_FLIGHT
                && let Some(done) = tasks.join_next().await
            {
                joined(done);
            }
            let this = self.clone();
            let head = *head;
            tasks.spawn(async move { (index, this.decide(&payout, &head, gas_price).await) });
        }
        while let Some(done) = tasks.join_next().await {
            joined(done);
        }
        // The payouts still due are recorded together (one store transaction), in claim order;
        // the others are settled one by one.
        let mut sends = Vec::new();
        let mut others = Vec::new();
        for (payout, decision) in claimed.iter().zip(decisions) {
            match decision.unwrap_or_else(|| Decision::Retry("the re-check panicked".to_owned())) {
                Decision::Send { request, what } => sends.push(Due { payout, request, what }),
                decision => others.push((payout, decision)),
            }
        }
        if !sends.is_empty() {
            match self.pending_nonce().await {
                Ok(min_nonce) => self.send_batch(sends, min_nonce, report).await?,
                Err(err) => {
                    for due in sends {
                        others.push((due.payout, Decision::Retry(err.to_string())));
                    }
                }
            }
        }
        for (payout, decision) in others {
            self.apply(payout, decision, now, report).await?;
        }
        Ok(())
    }

    /// The legacy gas price for this batch (the policy's fixed price, else `eth_gasPrice`);
    /// `None` on EIP-1559 chains (prepared per transaction).
    async fn batch_gas_price(&self) -> Result<Option<u128>, TxError> {
        let policy = &self.shared.tx_policy;
        match policy.gas_policy {
            GasPolicy::Eip1559 => Ok(None),
            GasPolicy::Legacy => match policy.gas_price {
                Some(price) => Ok(Some(price)),
                None => self
                    .shared
                    .provider
                    .get_gas_price()
                    .await
                    .map(Some)
                    .map_err(node("eth_gasPrice")),
            },
        }
    }

    /// The signer's `pending` transaction count: the lowest nonce the store may hand out.
    async fn pending_nonce(&self) -> Result<u64, TxError> {
        self.shared
            .provider
            .get_transaction_count(self.address())
            .pending()
            .await
            .map_err(node("eth_getTransactionCount"))
    }

    /// Re-checks a claimed payout on-chain and prepares its transaction (`gas_price`: the
    /// batch's legacy price, if any). Never writes anything.
    pub async fn decide(&self, payout: &Payout, head: &Head, gas_price: Option<u128>) -> Decision {
        let (call, what) = match self.recheck(payout, head).await {
            Ok(Ok(call)) => call,
            Ok(Err(decision)) => return decision,
            Err(err) if err.is_transient() => return Decision::Retry(err.to_string()),
            Err(err) => return Decision::Fail(err.to_string()),
        };
        let mut request = call;
        request.chain_id = Some(self.shared.chain.chain_id);
        // The store picks the nonce; this one only keeps `prepare` from asking the node.
        request.nonce = Some(0);
        if let Some(price) = gas_price {
            request.gas_price = Some(price);
        }
        match tx::prepare(&self.shared.provider, &self.shared.tx_policy, self.address(), request)
            .await
        {
            Ok(request) => Decision::Send { request: Box::new(request), what },
            Err(err) if err.is_transient() => Decision::Retry(err.to_string()),
            Err(err) => Decision::Fail(err.to_string()),
        }
    }

    /// The on-chain re-check: `Ok(Ok((call, what)))` when still due, `Ok(Err(decision))`
    /// otherwise.
    async fn recheck(
        &self,
        payout: &Payout,
        head: &Head,
    ) -> Result<Result<(TransactionRequest, String), Decision>, SendError> {
        let provider = &self.shared.provider;
        let call = |to: Address, data: Vec<u8>| {
            TransactionRequest::default().to(to).input(Bytes::from(data).into())
        };
        match &payout.kind {
            PayoutKind::Release { escrow, job, milestone, window_end } => {
                let what = format!("release milestone {milestone} of job {job}");
                let read = chain::view(
                    provider,
                    *escrow,
                    &MilestoneEscrow::getMilestoneCall { jobId: *job, milestoneIndex: *milestone },
                )
                .await;
                let found = match read {
                    Ok(found) => found,
                    Err(TxError::Reverted(revert)) => {
                        return Ok(Err(Decision::Skip(format!(
                            "milestone {milestone} of job {job} cannot be read ({revert}): nothing to release"
                        ))));
                    }
                    Err(err) => return Err(err.into()),
                };
                match MilestoneState::try_from(found.status) {
                    Ok(MilestoneState::Submitted) => {}
                    Ok(state) => {
                        return Ok(Err(Decision::Skip(format!(
                            "milestone {milestone} of job {job} is {state:?} now: nothing to release"
                        ))));
                    }
                    Err(value) => {
                        return Ok(Err(Decision::Fail(format!(
                            "milestone {milestone} of job {job} has an unknown status {value}"
                        ))));
                    }
                }
                if found.windowEnd != *window_end {
                    return Ok(Err(Decision::Skip(format!(
                        "milestone {milestone} of job {job} was submitted again: its review window now ends at {} (another payout covers it)",
                        found.windowEnd
                    ))));
                }
                if head.timestamp <= *window_end {
                    let at = (window_end + 1)
                        .max(wall_clock() + self.options.poll_interval.as_secs().max(1));
                    return Ok(Err(Decision::Later {
                        at,
                        reason: format!(
                            "the review window ends at {window_end}; the chain is at {}",
                            head.timestamp
                        ),
                    }));
                }
                let data = MilestoneEscrow::releaseAfterReviewCall {
                    jobId: *job,
                    milestoneIndex: *milestone,
                }
                .abi_encode();
                Ok(Ok((call(*escrow, data), what)))
            }
            PayoutKind::FinalizeCancel { escrow, job, .. } => {
                let read =
                    chain::view(provider, *escrow, &MilestoneEscrow::getJobCall { jobId: *job })
                        .await;
                let found = match read {
                    Ok(found) => found,
                    Err(TxError::Reverted(revert)) => {
                        return Ok(Err(Decision::Skip(format!(
                            "job {job} cannot be read ({revert}): nothing to finalize"
                        ))));
                    }
                    Err(err) => return Err(err.into()),
                };
                match JobState::try_from(found.status) {
                    Ok(JobState::Cancelling) => {}
                    Ok(state) => {
                        return Ok(Err(Decision::Skip(format!(
                            "job {job} is {state:?} now, not Cancelling: nothing to finalize"
                        ))));
                    }
                    Err(value) => {
                        return Ok(Err(Decision::Fail(format!(
                            "job {job} has an unknown status {value}"
                        ))));
                    }
                }
                // The job's own notice end, not the event's: finalizeCancel checks this one.
                let notice_end = found.cancelNoticeEnd;
                if head.timestamp <= notice_end {
                    let at = (notice_end + 1)
                        .max(wall_clock() + self.options.poll_interval.as_secs().max(1));
                    return Ok(Err(Decision::Later {
                        at,
                        reason: format!(
                            "the cancellation notice ends at {notice_end}; the chain is at {}",
                            head.timestamp
                        ),
                    }));
                }
                let data = MilestoneEscrow::finalizeCancelCall { jobId: *job }.abi_encode();
                Ok(Ok((call(*escrow, data), format!("finalizeCancel of job {job}"))))
            }
            PayoutKind::Payday { payroll, stream_ids, .. }
            | PayoutKind::Threshold { payroll, stream_ids, .. } => {
                let amounts = self.withdrawable(*payroll, stream_ids).await?;
                let due: Vec<U256> = stream_ids
                    .iter()
                    .zip(&amounts)
                    .filter(|(_, amount)| !amount.is_zero())
                    .map(|(id, _)| *id)
                    .collect();
                if due.is_empty() {
                    return Ok(Err(Decision::Skip(format!(
                        "nothing is withdrawable from the {} stream(s) now",
                        stream_ids.len()
                    ))));
                }
                let what = format!("payoutMany of {} stream(s)", due.len());
                let data = Payroll::payoutManyCall { streamIds: due }.abi_encode();
                Ok(Ok((call(*payroll, data), what)))
            }
            PayoutKind::Request { id } => {
                let Some(stored) = self.store().request(*id).await? else {
                    return Ok(Err(Decision::Fail(format!("request {id} is not in the store"))));
                };
                let request = match SignedRequest::from_json(&stored.payload) {
                    Ok(request) => request,
                    Err(err) => {
                        return Ok(Err(Decision::Fail(format!(
                            "the stored request cannot be read: {err}"
                        ))));
                    }
                };
                let call = request.call();
                match tx::simulate(provider, Some(self.address()), &call).await {
                    Ok(_) => Ok(Ok((call, request.describe()))),
                    Err(TxError::Reverted(revert)) => {
                        let reason = match self.used_nonce(&request).await {
                            Some(used) => used,
                            None => format!("the request would revert now: {revert}"),
                        };
                        Ok(Err(Decision::Skip(reason)))
                    }
                    Err(err) => Err(err.into()),
                }
            }
        }
    }

    /// Explains a request that no longer executes by a nonce already consumed, if that is it.
    async fn used_nonce(&self, request: &SignedRequest) -> Option<String> {
        let provider = &self.shared.provider;
        let parties = parties(provider, request).await.ok()?;
        for part in request.parts() {
            let party = parties.of(part.role);
            let current = onchain_nonce(provider, request, party).await.ok()?;
            if current > part.nonce {
                return Some(format!(
                    "the {}'s nonce {} is already used (next is {current}): the request was executed or cancelled elsewhere",
                    part.role.as_str(),
                    part.nonce
                ));
            }
        }
        None
    }

    /// `withdrawable(id)` of each stream (0 for an unknown one), in one `multicall` when every
    /// id exists, one call per id otherwise.
    async fn withdrawable(&self, payroll: Address, ids: &[U256]) -> Result<Vec<U256>, TxError> {
        let provider = &self.shared.provider;
        let data = ids
            .iter()
            .map(|&id| Payroll::withdrawableCall { streamId: id }.abi_encode().into())
            .collect();
        match chain::view(provider, payroll, &Payroll::multicallCall { data }).await {
            Ok(results) if results.len() == ids.len() => {
                let mut amounts = Vec::with_capacity(ids.len());
                for raw in &results {
                    match Payroll::withdrawableCall::abi_decode_returns(raw) {
                        Ok(amount) => amounts.push(amount),
                        Err(err) => {
                            return Err(TxError::Node(shiftpay_bindings::rpc::NodeError::Other {
                                method: "eth_call".into(),
                                message: format!("cannot decode withdrawable(): {err}"),
                            }));
                        }
                    }
                }
                Ok(amounts)
            }
            Ok(_) | Err(TxError::Reverted(_)) => {
                let mut amounts = Vec::with_capacity(ids.len());
                for &id in ids {
                    match chain::view(
                        provider,
                        payroll,
                        &Payroll::withdrawableCall { streamId: id },
                    )
                    .await
                    {
                        Ok(amount) => amounts.push(amount),
                        Err(TxError::Reverted(revert)) => {
                            warn!(stream = %id, %revert, "stream cannot be paid out: left out");
                            amounts.push(U256::ZERO);
                        }
                        Err(err) => return Err(err),
                    }
                }
                Ok(amounts)
            }
            Err(err) => Err(err),
        }
    }

    /// Carries a decision out in the store. [`Self::send_due`] records its `Send`s together
    /// ([`Self::send_batch`]); one given here is a batch of one, at the signer's `pending` count
    /// or above.
    async fn apply(
        &self,
        payout: &Payout,
        decision: Decision,
        now: u64,
        report: &mut StepReport,
    ) -> Result<(), SendError> {
        let (key, holder) = (payout.key.as_str(), self.holder());
        let result = match decision {
            Decision::Send { request, what } => {
                let min_nonce = self.pending_nonce().await?;
                return self
                    .send_batch(vec![Due { payout, request, what }], min_nonce, report)
                    .await;
            }
            Decision::Skip(reason) => {
                report.skipped += 1;
                info!(payout = key, %reason, "skipped: not due any more");
                self.store()
                    .set_payout_status(key, Some(holder), PayoutStatus::Skipped, Some(&reason))
                    .await
                    .map(drop)
            }
            Decision::Later { at, reason } => {
                report.deferred += 1;
                debug!(payout = key, at, %reason, "not due on-chain yet");
                self.store().retry_later(key, holder, at, &reason).await.map(drop)
            }
            Decision::Fail(reason) => {
                report.failed += 1;
                self.metrics.tx_failed();
                warn!(payout = key, %reason, "payout failed: nothing sent");
                self.store()
                    .set_payout_status(key, Some(holder), PayoutStatus::Failed, Some(&reason))
                    .await
                    .map(drop)
            }
            Decision::Retry(reason) => {
                report.deferred += 1;
                let delay =
                    backoff(payout.attempts, Duration::from_secs(2), self.options.backoff_max);
                let at = now + delay.as_secs().max(1);
                warn!(payout = key, %reason, retry_at = at, "node error: payout re-queued");
                self.store().retry_later(key, holder, at, &reason).await.map(drop)
            }
        };
        match result {
            Ok(()) => Ok(()),
            Err(err) if err.is_transient() => Err(err.into()),
            Err(err) => {
                // A lost lease, a payout a reorg removed, a guard: drop it, send nothing.
                warn!(payout = key, %err, "payout left alone");
                Ok(())
            }
        }
    }

    /// Records the transactions of `sends` (claimed payouts still due, in order) in ONE store
    /// transaction ([`Store::allocate_nonces_and_record_txs`]: consecutive nonces from
    /// `max(next stored, min_nonce)`, each payout `Sent`), then broadcasts them, at most
    /// [`BROADCAST_IN_FLIGHT`] at a time; the step waits for every broadcast. A payout the store
    /// refuses (its lease lost, a guard) is left alone; one whose transaction cannot be signed
    /// is `Failed`.
    async fn send_batch(
        &self,
        sends: Vec<Due<'_>>,
        min_nonce: u64,
        report: &mut StepReport,
    ) -> Result<(), SendError> {
        let signer = &self.shared.signer;
        let batch = sends
            .iter()
            .map(|due| {
                let alloc = AllocateTx {
                    signer: signer.address(),
                    payout_key: Some(&due.payout.key),
                    holder: self.holder(),
                    min_nonce,
                };
                let (signer, request) = (signer.clone(), (*due.request).clone());
                let build: BuildTx<'_> =
                    Box::new(move |nonce| NewTx::sign_request(&signer, &request, nonce));
                (alloc, build)
            })
            .collect();
        let recorded = self.store().allocate_nonces_and_record_txs(batch).await?;
        let mut broadcasts = JoinSet::new();
        for (due, result) in sends.into_iter().zip(recorded) {
            let key = due.payout.key.as_str();
            match result {
                Ok(record) => {
                    report.sent += 1;
                    self.metrics.tx_sent();
                    info!(payout = key, what = %due.what, hash = %record.hash(), nonce = record.nonce, gas_price = record.gas_price, "sending");
                    if broadcasts.len() >= BROADCAST_IN_FLIGHT {
                        broadcasts.join_next().await;
                    }
                    let this = self.clone();
                    let request = *due.request;
                    broadcasts.spawn(async move { this.broadcast(&record, request).await });
                }
                Err(StoreError::Build(reason)) => {
                    // Signing failed: nothing was recorded, and trying again will not help.
                    report.failed += 1;
                    self.metrics.tx_failed();
                    error!(payout = key, %reason, "cannot sign the payout's transaction");
                    let failed = self
                        .store()
                        .set_payout_status(
                            key,
                            Some(self.holder()),
                            PayoutStatus::Failed,
                            Some(&reason),
                        )
                        .await;
                    match failed {
                        Err(err) if err.is_transient() => return Err(err.into()),
                        Err(err) => warn!(payout = key, %err, "payout left alone"),
                        Ok(_) => {}
                    }
                }
                // A lost lease, a payout a reorg removed, a guard: drop it, send nothing.
                Err(err) => warn!(payout = key, %err, "payout left alone"),
            }
        }
        while broadcasts.join_next().await.is_some() {}
        Ok(())
    }

    /// Allocates the nonce and records the signed transaction of a claimed payout in one store
    /// transaction (the payout becomes `Sent`). Nothing is broadcast.
    pub async fn record(
        &self,
        payout: &Payout,
        request: TransactionRequest,
        min_nonce: u64,
    ) -> Result<TxRecord, StoreError> {
        let signer = self.shared.signer.clone();
        let alloc = AllocateTx {
            signer: signer.address(),
            payout_key: Some(&payout.key),
            holder: self.holder(),
            min_nonce,
        };
        self.store()
            .allocate_nonce_and_record_tx(
                alloc,
                Box::new(move |nonce| NewTx::sign_request(&signer, &request, nonce)),
            )
            .await
    }

    /// Broadcasts a recorded transaction for the first time. A failure is logged only: the
    /// record stays `Pending` and the tracker rebroadcasts it.
    pub async fn broadcast(&self, record: &TxRecord, request: TransactionRequest) {
        let signed = SignedTx {
            hash: record.hash(),
            from: record.signer,
            nonce: record.nonce,
            raw: record.raw.clone(),
            request,
        };
        if let Err(err) = tx::broadcast(&self.shared.provider, &signed).await {
            warn!(hash = %record.hash(), nonce = record.nonce, %err, "broadcast failed: it will be retried");
        }
    }

    // ---- tracking -----------------------------------------------------------------------------

    /// Follows every open transaction of the signer (see the module docs).
    async fn track(&self, head: &Head, report: &mut StepReport) -> Result<(), SendError> {
        let address = self.address();
        let open: Vec<TxRecord> = self
            .store()
            .txs_with_status(&[TxStatus::Pending, TxStatus::Mined, TxStatus::Dropped])
            .await?
            .into_iter()
            .filter(|tx| tx.signer == address)
            .collect();
        if open.is_empty() {
            return Ok(());
        }
        // Read before the receipts: a nonce seen used here is used by a transaction whose
        // receipt (if it is ours) the lookups below will find.
        let mined_nonce = self
            .shared
            .provider
            .get_transaction_count(address)
            .latest()
            .await
            .map_err(node("eth_getTransactionCount"))?;
        // The receipts are read concurrently (the round trips, not the store, bound a step
        // with many open transactions); the transactions are then followed up one by one.
        let receipts = self.receipts(&open).await;
        // What the receipts say is written for all of them at once, after the loop.
        let mut settled = Vec::new();
        for (tx, receipt) in open.iter().zip(receipts) {
            let tracked = match receipt {
                Some(Ok(receipt)) => {
                    self.track_one(tx, receipt, head, mined_nonce, report, &mut settled).await
                }
                Some(Err(err)) => Err(err),
                // Its read panicked: followed up at the next step.
                None => continue,
            };
            if let Err(err) = tracked {
                if err.is_transient() {
                    return Err(err);
                }
                warn!(tx = %tx.id, hash = %tx.hash(), %err, "cannot follow the transaction up now");
            }
        }
        self.write_settled(settled, report).await
    }

    /// Writes the `Mined` / `Confirmed` verdicts of a step's receipts in ONE store transaction
    /// ([`Store::set_txs_status`]); a transaction whose payout moved on meanwhile is updated
    /// alone, as [`Self::update_tx`] does.
    async fn write_settled(
        &self,
        settled: Vec<Settled>,
        report: &mut StepReport,
    ) -> Result<(), SendError> {
        if settled.is_empty() {
            return Ok(());
        }
        let updates = settled.iter().map(|s| (s.tx, s.update.clone())).collect();
        let results = self.store().set_txs_status(updates).await?;
        for (s, result) in settled.into_iter().zip(results) {
            let result = match result {
                Err(err) if s.update.payout_status.is_some() && payout_moved_on(&err) => {
                    debug!(tx = %s.tx, %err, "payout not changed with its transaction");
                    let update = TxUpdate { payout_status: None, ..s.update.clone() };
                    self.store().set_tx_status(s.tx, update).await
                }
                other => other,
            };
            match result {
                Ok(_) if s.update.status == TxStatus::Confirmed => {
                    self.metrics.tx_confirmed();
                    report.confirmed += 1;
                    info!(tx = %s.tx, payout = ?s.payout_key, hash = %s.hash, block = s.block, "confirmed");
                }
                Ok(_) => debug!(tx = %s.tx, hash = %s.hash, block = s.block, "mined"),
                Err(err) if err.is_transient() => return Err(err.into()),
                Err(err) => {
                    warn!(tx = %s.tx, hash = %s.hash, %err, "cannot follow the transaction up now")
                }
            }
        }
        Ok(())
    }

    /// The receipt of each transaction ([`Self::receipt`]), read with up to [`TRACK_IN_FLIGHT`]
    /// requests in flight, in the order of `txs` (`None` where the read panicked).
    async fn receipts(
        &self,
        txs: &[TxRecord],
    ) -> Vec<Option<Result<Option<TransactionReceipt>, SendError>>> {
        let mut receipts: Vec<_> = (0..txs.len()).map(|_| None).collect();
        let mut tasks = JoinSet::new();
        for (index, tx) in txs.iter().enumerate() {
            if tasks.len() >= TRACK_IN_FLIGHT
                && let Some(Ok((index, receipt))) = tasks.join_next().await
            {
                receipts[index] = Some(receipt);
            }
            let (this, hashes) = (self.clone(), tx.hashes.clone());
            tasks.spawn(async move { (index, this.receipt(&hashes).await) });
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((index, receipt)) => receipts[index] = Some(receipt),
                Err(err) => error!(%err, "a receipt read panicked"),
            }
        }
        receipts
    }

    /// The receipt of the newest of `hashes` (one transaction's versions) that has one.
    async fn receipt(&self, hashes: &[B256]) -> Result<Option<TransactionReceipt>, SendError> {
        for &hash in hashes.iter().rev() {
            let receipt = self
                .shared
                .provider
                .get_transaction_receipt(hash)
                .await
                .map_err(node("eth_getTransactionReceipt"))?;
            if receipt.is_some() {
                return Ok(receipt);
            }
        }
        Ok(None)
    }

    async fn track_one(
        &self,
        tx: &TxRecord,
        receipt: Option<TransactionReceipt>,
        head: &Head,
        mined_nonce: u64,
        report: &mut StepReport,
        settled: &mut Vec<Settled>,
    ) -> Result<(), SendError> {
        let provider = &self.shared.provider;
        if let Some(receipt) = receipt {
            return self.on_receipt(tx, &receipt, head, report, settled).await;
        }
        if tx.status == TxStatus::Mined {
            warn!(tx = %tx.id, hash = %tx.hash(), block = ?tx.mined_block, "the receipt is gone (reorg): waiting for the transaction again");
            self.update_tx(tx, TxStatus::Pending, None, None, None).await?;
            return Ok(());
        }
        if mined_nonce > tx.nonce {
            // A node may count the nonce a moment before it serves the receipt of the block
            // being mined (anvil does): look once more before calling it someone else's.
            if let Some(receipt) = self.receipt(&tx.hashes).await? {
                return self.on_receipt(tx, &receipt, head, report, settled).await;
            }
            let error = format!(
                "nonce {} was used by a transaction that is none of the relayer's; the payout is re-checked",
                tx.nonce
            );
            warn!(tx = %tx.id, payout = ?tx.payout_key, %error, "transaction superseded");
            self.update_tx(tx, TxStatus::Replaced, None, Some(PayoutStatus::Pending), Some(error))
                .await?;
            report.superseded += 1;
            return Ok(());
        }
        let known: Option<serde_json::Value> = provider
            .raw_request("eth_getTransactionByHash".into(), (tx.hash(),))
            .await
            .map_err(node("eth_getTransactionByHash"))?;
        if known.is_none() {
            info!(tx = %tx.id, hash = %tx.hash(), nonce = tx.nonce, "not in the node's pool: broadcasting the stored transaction again");
            let signed = SignedTx {
                hash: tx.hash(),
                from: tx.signer,
                nonce: tx.nonce,
                raw: tx.raw.clone(),
                request: TransactionRequest::default(),
            };
            match tx::broadcast(provider, &signed).await {
                Ok(()) => {
                    report.rebroadcast += 1;
                    if tx.status == TxStatus::Dropped {
                        self.update_tx(tx, TxStatus::Pending, None, None, None).await?;
                    }
                }
                Err(err) if err.is_transient() => return Err(err.into()),
                Err(err) => {
                    warn!(hash = %tx.hash(), %err, "the node refuses the stored transaction")
                }
            }
            return Ok(());
        }
        let age = wall_clock().saturating_sub(tx.updated_at);
        if Duration::from_secs(age) >= self.options.replace_after {
            self.replace(tx, report).await?;
        }
        Ok(())
    }

    /// A receipt's verdict: a revert is written now; `Mined` / `Confirmed` go to `settled`
    /// ([`Self::write_settled`]).
    async fn on_receipt(
        &self,
        tx: &TxRecord,
        receipt: &TransactionReceipt,
        head: &Head,
        report: &mut StepReport,
        settled: &mut Vec<Settled>,
    ) -> Result<(), SendError> {
        let hash = receipt.transaction_hash;
        let block = receipt.block_number.unwrap_or(head.number);
        if !receipt.status() {
            let request = decode_request(&tx.raw).unwrap_or_default();
            let revert =
                chain::replay_revert(&self.shared.provider, tx.signer, &request, block).await;
            let error = format!("transaction {hash} reverted in block {block}: {revert}");
            warn!(tx = %tx.id, payout = ?tx.payout_key, %error, "payout failed on-chain");
            self.update_tx(
                tx,
                TxStatus::Reverted,
                Some(block),
                Some(PayoutStatus::Failed),
                Some(error),
            )
            .await?;
            self.metrics.tx_failed();
            report.reverted += 1;
            return Ok(());
        }
        let confirmations = head.number.saturating_sub(block) + 1;
        let (status, payout_status) = if confirmations >= self.shared.tx_policy.confirmations {
            (TxStatus::Confirmed, Some(PayoutStatus::Confirmed))
        } else if tx.status != TxStatus::Mined || tx.mined_block != Some(block) {
            (TxStatus::Mined, None)
        } else {
            return Ok(());
        };
        settled.push(Settled {
            tx: tx.id,
            payout_key: tx.payout_key.clone(),
            hash,
            block,
            update: TxUpdate { status, mined_block: Some(block), payout_status, error: None },
        });
        Ok(())
    }

    /// `set_tx_status`, and when the payout moved on since (re-queued, or changed by an
    /// operator), the transaction alone.
    async fn update_tx(
        &self,
        tx: &TxRecord,
        status: TxStatus,
        mined_block: Option<u64>,
        payout_status: Option<PayoutStatus>,
        error: Option<String>,
    ) -> Result<TxRecord, StoreError> {
        let update = TxUpdate { status, mined_block, payout_status, error };
        match self.store().set_tx_status(tx.id, update.clone()).await {
            Err(err) if payout_status.is_some() && payout_moved_on(&err) => {
                debug!(tx = %tx.id, %err, "payout not changed with its transaction");
                self.store().set_tx_status(tx.id, TxUpdate { payout_status: None, ..update }).await
            }
            other => other,
        }
    }

    /// Re-signs a stuck transaction with the same nonce and a bumped price, records the
    /// replacement, then broadcasts it.
    async fn replace(&self, tx: &TxRecord, report: &mut StepReport) -> Result<(), SendError> {
        let provider = &self.shared.provider;
        let policy = &self.shared.tx_policy;
        let Some(mut request) = decode_request(&tx.raw) else {
            warn!(tx = %tx.id, "cannot decode the stored transaction: not replaced");
            return Ok(());
        };
        let cap = tx::gas_price_cap(provider, policy).await?.unwrap_or(u128::MAX);
        let bump = policy.gas_price_bump_pct;
        let old = request.gas_price.or(request.max_fee_per_gas).unwrap_or_default();
        let Some(mut new) = tx::capped_bump(old, bump, cap) else {
            warn!(tx = %tx.id, hash = %tx.hash(), old, cap, bump, "stuck, but a {bump}% higher price would pass the relay cap: waiting");
            return Ok(());
        };
        if request.gas_price.is_some() {
            if policy.gas_price.is_none() {
                let current = provider.get_gas_price().await.map_err(node("eth_gasPrice"))?;
                new = new.max(current.min(cap));
            }
            request.gas_price = Some(new);
        } else {
            let tip = request.max_priority_fee_per_gas.unwrap_or_default();
            request.max_fee_per_gas = Some(new);
            request.max_priority_fee_per_gas = Some(tx::capped_bump(tip, bump, new).unwrap_or(new));
        }
        let signed = match NewTx::sign_request(&self.shared.signer, &request, tx.nonce) {
            Ok(signed) => signed,
            Err(err) => {
                warn!(tx = %tx.id, %err, "cannot re-sign the stuck transaction");
                return Ok(());
            }
        };
        let record = match self.store().record_replacement(tx.id, signed).await {
            Ok(record) => record,
            Err(err) if err.is_transient() => return Err(err.into()),
            Err(err) => {
                warn!(tx = %tx.id, %err, "replacement not recorded: not sent");
                return Ok(());
            }
        };
        self.metrics.tx_replaced();
        report.replaced += 1;
        info!(
            tx = %tx.id, payout = ?tx.payout_key, nonce = tx.nonce, old_hash = %tx.hash(),
            new_hash = %record.hash(), old_price = old, new_price = new,
            "replaced a stuck transaction with a higher price"
        );
        self.broadcast_replacement(&record).await;
        Ok(())
    }

    async fn broadcast_replacement(&self, record: &TxRecord) {
        let signed = SignedTx {
            hash: record.hash(),
            from: record.signer,
            nonce: record.nonce,
            raw: record.raw.clone(),
            request: TransactionRequest::default(),
        };
        if let Err(err) = tx::broadcast(&self.shared.provider, &signed).await {
            warn!(hash = %record.hash(), %err, "broadcast of the replacement failed: it will be retried");
        }
    }

    /// Fills a nonce no stored transaction covers with a 0-value transfer to the signer itself
    /// (so the transactions after it can be mined). Recorded before it is broadcast, in one
    /// store transaction with the check that the nonce is free ([`Store::record_gap_fill`]): a
    /// restart sees the nonce covered, the tracker confirms, rebroadcasts or replaces it like any
    /// other, and the metrics count it.
    async fn fill_gap(&self, nonce: u64) -> Result<TxRecord, SendError> {
        let address = self.address();
        let mut request = TransactionRequest::default()
            .to(address)
            .value(U256::ZERO)
            .gas_limit(21_000)
            .nonce(nonce);
        request.chain_id = Some(self.shared.chain.chain_id);
        if let Some(price) = self.batch_gas_price().await? {
            request.gas_price = Some(price);
        }
        let request =
            tx::prepare(&self.shared.provider, &self.shared.tx_policy, address, request).await?;
        let signer = self.shared.signer.clone();
        let to_sign = request.clone();
        let record = self
            .store()
            .record_gap_fill(
                address,
                nonce,
                Box::new(move |nonce| NewTx::sign_request(&signer, &to_sign, nonce)),
            )
            .await?;
        self.metrics.tx_sent();
        warn!(nonce, hash = %record.hash(), tx = %record.id, "filling a nonce gap with a 0-value transfer to the signer itself");
        self.broadcast(&record, request).await;
        Ok(record)
    }

    // ---- balance ------------------------------------------------------------------------------

    /// Reads the signer's balance every `balance_every` (metric) and warns below
    /// `low_balance_warning` (again every ten minutes while it stays low).
    pub async fn check_balance(&self) {
        {
            let clock = self.balance.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if clock.read.is_some_and(|at| at.elapsed() < self.options.balance_every) {
                return;
            }
        }
        let balance = match self.shared.provider.get_balance(self.address()).await {
            Ok(balance) => balance,
            Err(err) => {
                debug!(%err, "cannot read the signer's balance");
                return;
            }
        };
        self.metrics.set_signer_balance(balance);
        let threshold = self.shared.config.low_balance_warning;
        let mut clock = self.balance.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        clock.read = Some(Instant::now());
        if balance < threshold {
            if clock.warned.is_none_or(|at| at.elapsed() >= LOW_BALANCE_REWARN) {
                clock.warned = Some(Instant::now());
                warn!(
                    signer = %self.shared.chain.format_address(self.address()),
                    balance_wei = %balance,
                    threshold_wei = %threshold,
                    "the signer's balance is low: fund it, or transactions will stop"
                );
            }
        } else {
            clock.warned = None;
        }
    }
}

/// The request a stored signed transaction was built from (to re-sign or replay it).
/// Whether a refused transaction update failed only on its payout, which moved on since (was
/// re-queued, or changed by an operator): the transaction alone can still be updated.
fn payout_moved_on(err: &StoreError) -> bool {
    matches!(
        err,
        StoreError::NotPayoutTx { .. }
            | StoreError::InvalidTransition { what: "payout", .. }
            | StoreError::LeaseLost { .. }
    )
}

fn decode_request(raw: &Bytes) -> Option<TransactionRequest> {
    let envelope = TxEnvelope::decode_2718(&mut raw.as_ref()).ok()?;
    Some(TransactionRequest::from_transaction(envelope))
}

/// `base × 2^attempt`, at most `max`, plus up to 25% jitter.
pub(crate) fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let exponential = base.saturating_mul(1u32 << attempt.min(16)).min(max);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(attempt);
    let jitter = (hasher.finish() % 1_000) as f64 / 4_000.0;
    exponential.mul_f64(1.0 + jitter)
}

/// Sleeps for `delay` unless `cancel` fires first (then returns `true`).
async fn sleep_or_cancelled(cancel: &CancellationToken, delay: Duration) -> bool {
    if delay.is_zero() {
        return cancel.is_cancelled();
    }
    tokio::select! {
        () = cancel.cancelled() => true,
        () = tokio::time::sleep(delay) => false,
    }
}

#[async_trait]
impl Task for Sender {
    fn name(&self) -> &'static str {
        "sender"
    }

    fn stage(&self) -> Stage {
        Stage::Sender
    }

    /// Reconciles (retrying until the node answers), then steps until cancelled; the token is
    /// only looked at between steps, so a step in flight finishes.
    async fn run(self: Box<Self>, ctx: TaskContext) -> Result<(), TaskError> {
        let mut failures = 0u32;
        let base = Duration::from_millis(500);
        loop {
            if ctx.cancel.is_cancelled() {
                return Ok(());
            }
            match self.reconcile().await {
                Ok(_) => break,
                Err(err) => {
                    let delay = backoff(failures, base, self.options.backoff_max);
                    failures = failures.saturating_add(1);
                    warn!(%err, retry_in = ?delay, "cannot reconcile with the chain yet");
                    if sleep_or_cancelled(&ctx.cancel, delay).await {
                        return Ok(());
                    }
                }
            }
        }
        failures = 0;
        loop {
            if ctx.cancel.is_cancelled() {
                return Ok(());
            }
            // Read before the step: payouts the watcher inserts during it wake the next one.
            let inserted = self.inserted();
            let mut idle = false;
            let delay = match self.step().await {
                Ok(report) => {
                    failures = 0;
                    idle = true;
                    if report != StepReport::default() {
                        debug!(?report, "sender step");
                    }
                    if report.claimed >= self.options.batch_size {
                        Duration::ZERO
                    } else {
                        self.options.poll_interval
                    }
                }
                Err(err) => {
                    let delay = backoff(failures, base, self.options.backoff_max);
                    failures = failures.saturating_add(1);
                    if err.is_transient() {
                        warn!(%err, retry_in = ?delay, "sender step failed");
                    } else {
                        error!(%err, retry_in = ?delay, "sender step failed");
                    }
                    delay
                }
            };
            let cancelled = if idle {
                self.idle(&ctx.cancel, delay, inserted).await
            } else {
                sleep_or_cancelled(&ctx.cancel, delay).await
            };
            if cancelled {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters_at_most_a_quarter() {
        let base = Duration::from_secs(1);
        let max = Duration::from_secs(60);
        for attempt in 0..40 {
            let delay = backoff(attempt, base, max);
            let plain = base.saturating_mul(1u32 << attempt.min(16)).min(max);
            assert!(delay >= plain && delay <= plain.mul_f64(1.25), "{attempt}: {delay:?}");
        }
        assert!(backoff(10, base, max) >= max);
    }
}
