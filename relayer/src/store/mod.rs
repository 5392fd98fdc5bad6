//! What the relayer remembers: the log cursor and a window of recent block hashes, the payout
//! queue, every transaction it signed, the API requests, and its signer's next nonce.
//!
//! # One trait, several backends
//! [`Store`] is the only way the tasks touch persistent state. [`memory::MemoryStore`] (tests,
//! benchmarks), [`sqlite::SqliteStore`] (the embedded default) and [`postgres::PostgresStore`]
//! (several relayer instances on one database) implement it. The schemas of both databases are
//! in [`migrations`]. The shared test suite (`relayer/tests/it/store.rs`) runs the same tests
//! against every backend.
//!
//! # Why `async_trait` (a `dyn Store`) and not a generic `S: Store`
//! The backend is picked at run time from the `storage` URL (`sqlite://`, `postgres://`,
//! `memory://`), and the store is shared by every task (watcher, scheduler, sender, API). With
//! `Arc<dyn Store>` the tasks, the service and the API state stay free of a type parameter that
//! would otherwise spread through every signature, and a new backend needs no change to them.
//! Native `async fn` in traits is not object safe, so the trait uses `#[async_trait]`; the cost,
//! one boxed future per call, is nothing next to a database round trip.
//!
//! # Rules every backend keeps
//! - **Every state change is one storage transaction.** A method either does all it says or
//!   nothing (a crash, a panic in a `build` closure, an error half-way: nothing is written).
//!   The batch methods ([`Store::allocate_nonces_and_record_txs`], [`Store::set_txs_status`])
//!   commit many such changes at once; on SQL each item runs in its own savepoint
//!   (`each_in_savepoint!`), so one refused item leaves the others as they would be alone.
//! - **Each payout has a unique key** ([`NewPayout::key`]): inserting one twice is a no-op that
//!   returns the stored one, so a restart, a replayed log page or a reorg that re-includes an
//!   event never makes a second payout.
//! - **Status guards**: [`PayoutStatus::can_become`] and [`TxStatus::can_become`] list the allowed
//!   moves; anything else is [`StoreError::InvalidTransition`]. `Confirmed` never goes back.
//!   `Sending` is entered only through [`Store::claim_due`] and `Sent` only through
//!   [`Store::allocate_nonce_and_record_tx`] (or its batch form).
//! - **Claim with a lease**: [`Store::claim_due`] hands a due payout to one holder until its
//!   lease ends; a holder that died loses it to the next claim. On PostgreSQL this becomes
//!   `SELECT ... FOR UPDATE SKIP LOCKED`; SQLite has one writer, so its version is one statement.
//! - **The nonce is allocated in the transaction that records the signed transaction**
//!   ([`Store::allocate_nonce_and_record_tx`]), so two senders sharing a signer never sign two
//!   transactions with one nonce, nonces have no holes the store does not know about, and a payout
//!   gets at most one transaction per claim (the OpenZeppelin Relayer double-send race). The
//!   one transaction signed at a nonce the store did not pick, the sender's filler of a nonce
//!   gap, is recorded the same way ([`Store::record_gap_fill`]: checked free, signed and
//!   recorded in one storage transaction).
//! - **One cursor mover**: with several instances on one database, the instance holding
//!   [`CURSOR_LEASE`] ([`Store::acquire_lease`]) is the one that may advance the log cursor;
//!   the lease ends when its holder stops renewing it, and another instance takes it over.
//!
//! Times are unix seconds (`u64`): the chain's clock for `due_at` and lease ends (callers pass
//! `now`), the machine's for `created_at` / `updated_at`.

#[macro_use]
mod batch;
pub mod memory;
pub mod migrations;
pub mod postgres;
mod rows;
pub mod sqlite;

use std::{collections::BTreeMap, fmt, path::PathBuf, str::FromStr, sync::Arc, time::Duration};

use alloy::primitives::{Address, B256, Bytes, U256};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// Why a store operation failed. Nothing was written when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No payout with that key (it was never inserted, or a reorg rollback removed it).
    #[error("no payout with key {key}")]
    PayoutNotFound {
        /// The payout key.
        key: String,
    },
    /// No transaction record with that id or hash.
    #[error("no transaction record {0}")]
    TxNotFound(String),
    /// A status change the guards forbid.
    #[error("{what} {id} cannot go from {from} to {to}")]
    InvalidTransition {
        /// `payout` or `transaction`.
        what: &'static str,
        /// Payout key or transaction id.
        id: String,
        /// Current status.
        from: &'static str,
        /// Requested status.
        to: &'static str,
    },
    /// The payout is not claimed by the caller (never claimed, or its lease passed to another
    /// holder): the caller must drop it without sending anything.
    #[error("payout {key} is not leased to {holder} (holder: {current})")]
    LeaseLost {
        /// The payout key.
        key: String,
        /// Who asked.
        holder: String,
        /// Who holds it now (`none` when nobody).
        current: String,
    },
    /// The cursor may only move forward through [`Store::advance`]; use [`Store::rollback_to`]
    /// to move it back.
    #[error("cursor at block {current} cannot move back to block {requested} (use rollback_to)")]
    CursorBackwards {
        /// The stored cursor block.
        current: u64,
        /// The requested one.
        requested: u64,
    },
    /// The `build` closure of [`Store::allocate_nonce_and_record_tx`] failed: nothing recorded,
    /// the nonce stays free.
    #[error("cannot build the transaction: {0}")]
    Build(String),
    /// [`Store::set_tx_status`] asked to change a payout through a transaction that is no longer
    /// the payout's (the payout was re-queued and sent again since).
    #[error("transaction {tx} is no longer the transaction of payout {key}")]
    NotPayoutTx {
        /// The payout key.
        key: String,
        /// The transaction.
        tx: TxId,
    },
    /// A transaction hash is already recorded (for another transaction, or twice for this one).
    #[error("transaction hash {0} is already recorded")]
    DuplicateHash(B256),
    /// [`Store::record_gap_fill`]: a transaction of the signer with that nonce is already
    /// recorded (it is no gap).
    #[error("nonce {nonce} of {signer} is already recorded")]
    NonceTaken {
        /// The signer.
        signer: Address,
        /// The nonce.
        nonce: u64,
    },
    /// The storage URL names a backend this build cannot open.
    #[error("{0}")]
    Unsupported(String),
    /// A stored value could not be decoded (the database was edited by hand, or by a newer
    /// relayer).
    #[error("corrupt {what} in the database: {detail}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// The database failed (I/O, locked for longer than the busy timeout, connection lost...).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the embedded migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Whether retrying the same call later may succeed (the database was busy, unreachable or
    /// restarting). Guard violations, lost leases and missing rows are final.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Database(err) => match err {
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                sqlx::Error::Database(db)
                    if db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some() =>
                {
                    // PostgreSQL SQLSTATEs: serialization failure, deadlock, lock not
                    // available, too many connections, server shutting down or restarting,
                    // and the connection exceptions (class 08).
                    db.code().is_some_and(|code| {
                        matches!(
                            code.as_ref(),
                            "40001" | "40P01" | "55P03" | "53300" | "57P01" | "57P02" | "57P03"
                        ) || code.starts_with("08")
                    })
                }
                sqlx::Error::Database(db) => {
                    // SQLite: SQLITE_BUSY (5) and SQLITE_LOCKED (6), extended codes included.
                    db.code().and_then(|c| c.parse::<i64>().ok()).is_some_and(|c| {
                        let primary = c & 0xff;
                        primary == 5 || primary == 6
                    })
                }
                _ => false,
            },
            _ => false,
        }
    }
}

/// Where the watcher has read logs up to: the last block whose logs are fully processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cursor {
    /// Block number.
    pub block: u64,
    /// Its hash, as seen when it was processed.
    pub hash: B256,
}

/// A block of the recent window: enough to notice that a reorg replaced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BlockRef {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// Its parent's hash.
    pub parent_hash: B256,
}

/// One step of the watcher, written in one transaction by [`Store::advance`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advance {
    /// The new cursor (not before the stored one).
    pub cursor: Cursor,
    /// Blocks to remember (inserted or replaced by number).
    pub blocks: Vec<BlockRef>,
    /// Payouts derived from the logs of those blocks (inserted if absent).
    pub payouts: Vec<NewPayout>,
    /// Forget blocks numbered below this (the end of the reorg window), if set.
    pub prune_below: Option<u64>,
}

/// What [`Store::advance`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Advanced {
    /// Payouts newly inserted (the others already existed).
    pub payouts_inserted: usize,
    /// Blocks forgotten by `prune_below`.
    pub blocks_pruned: u64,
}

/// What [`Store::rollback_to`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rollback {
    /// The cursor afterwards: the stored block `n` when it was in the window, else `None` (the
    /// watcher then starts again from the deployment block; payout keys make that harmless).
    /// Unchanged when the cursor was at or below `n`.
    pub cursor: Option<Cursor>,
    /// Blocks above `n` forgotten.
    pub blocks_removed: u64,
    /// Keys of the payouts removed: derived from events above `n` and never sent.
    pub payouts_removed: Vec<String>,
}

/// What a payout does on-chain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PayoutKind {
    /// `MilestoneEscrow.releaseAfterReview(job, milestone)` once the review window has ended.
    Release {
        /// The escrow contract.
        escrow: Address,
        /// Job id.
        job: U256,
        /// Milestone index.
        milestone: U256,
        /// End of the review window (unix seconds), from `MilestoneSubmitted.reviewEnd`.
        window_end: u64,
    },
    /// `Payroll.payoutMany(stream_ids)` at a configured payday.
    Payday {
        /// The payroll contract.
        payroll: Address,
        /// The payday (unix seconds).
        slot: u64,
        /// The streams of this chunk (one chunk fits the block gas limit).
        stream_ids: Vec<U256>,
    },
    /// `Payroll.payoutMany(stream_ids)` because their withdrawable passed the threshold.
    Threshold {
        /// The payroll contract.
        payroll: Address,
        /// When the threshold was seen crossed (unix seconds), the key's time bucket.
        slot: u64,
        /// The streams of this chunk.
        stream_ids: Vec<U256>,
    },
    /// `MilestoneEscrow.finalizeCancel(job)` once the worker's cancellation notice is over:
    /// refunds the client's unsubmitted funded milestones and marks the job `Cancelled`.
    FinalizeCancel {
        /// The escrow contract.
        escrow: Address,
        /// Job id.
        job: U256,
        /// Last second of the notice, from `CancellationNoticed.noticeEnd` (the sender re-reads
        /// the job's `cancelNoticeEnd` before sending).
        notice_end: u64,
    },
    /// A signed request accepted by the API ([`ApiRequest`]).
    Request {
        /// The request.
        id: RequestId,
    },
}

impl PayoutKind {
    /// Short name: `release`, `payday`, `threshold`, `finalize` or `request`.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Release { .. } => "release",
            Self::FinalizeCancel { .. } => "finalize",
            Self::Payday { .. } => "payday",
            Self::Threshold { .. } => "threshold",
            Self::Request { .. } => "request",
        }
    }
}

/// Defines a status enum with its lowercase name, parsing and `ALL`.
macro_rules! status_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every status, in lifecycle order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The lowercase name stored in the database and shown by the API.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = StoreError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(StoreError::Corrupt {
                        what: stringify!($name),
                        detail: format!("unknown status {other:?}"),
                    }),
                }
            }
        }
    };
}

status_enum! {
    /// Where a payout is in its life.
    ///
    /// ```text
    /// Pending ──claim──▶ Sending ──allocate_nonce_and_record_tx──▶ Sent ──▶ Confirmed
    ///    ▲  │               │ │                                     │ │
    ///    │  └──▶ Skipped ◀──┘ └──retry_later──▶ Pending             │ └──▶ Failed (reverted)
    ///    │       Failed  ◀──── (final error, nothing sent)          └──▶ Pending / Skipped
    ///    └──────── Failed (operator retry)                               (tx replaced by another)
    /// ```
    PayoutStatus {
        /// Waiting to be due, or due and not claimed.
        Pending = "pending",
        /// Claimed by a sender (leased), no transaction recorded yet.
        Sending = "sending",
        /// A signed transaction is recorded for it (broadcast, or about to be).
        Sent = "sent",
        /// Its transaction has the configured confirmations. Final.
        Confirmed = "confirmed",
        /// Not needed any more: the on-chain re-check found it done or not due. Final.
        Skipped = "skipped",
        /// Given up: a final error, or its transaction reverted.
        Failed = "failed",
    }
}

impl PayoutStatus {
    /// Whether a payout may move from `self` to `to`. Staying in the same status is allowed
    /// (an idempotent retry after a crash).
    pub const fn can_become(self, to: Self) -> bool {
        use PayoutStatus::*;
        matches!(
            (self, to),
            (Pending, Pending | Sending | Skipped | Failed)
                | (Sending, Pending | Sending | Sent | Skipped | Failed)
                | (Sent, Sent | Confirmed | Failed | Pending | Skipped)
                | (Confirmed, Confirmed)
                | (Skipped, Skipped)
                | (Failed, Failed | Pending)
        )
    }

    /// Whether the payout is done for good (`Confirmed` or `Skipped`).
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Confirmed | Self::Skipped)
    }
}

status_enum! {
    /// Where a signed transaction is.
    TxStatus {
        /// Signed and recorded; broadcast or about to be.
        Pending = "pending",
        /// Included in a block, succeeded, not yet confirmed.
        Mined = "mined",
        /// Included and buried under the configured confirmations. Final.
        Confirmed = "confirmed",
        /// Included and reverted.
        Reverted = "reverted",
        /// Left the node's pool unmined; its nonce is still free (rebroadcast or replace it).
        Dropped = "dropped",
        /// Another transaction used its nonce. Final.
        Replaced = "replaced",
    }
}

impl TxStatus {
    /// Whether a transaction may move from `self` to `to` (same status allowed). A reorg may
    /// send `Mined` or `Reverted` back to `Pending`; `Confirmed` and `Replaced` are final.
    pub const fn can_become(self, to: Self) -> bool {
        use TxStatus::*;
        matches!(
            (self, to),
            (Pending, _)
                | (Mined, Mined | Confirmed | Pending | Reverted | Replaced)
                | (Reverted, Reverted | Pending | Confirmed)
                | (Dropped, Dropped | Pending | Mined | Reverted | Confirmed | Replaced)
                | (Confirmed, Confirmed)
                | (Replaced, Replaced)
        )
    }

    /// Whether nothing will change it any more.
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Confirmed | Self::Replaced)
    }
}

/// A payout to insert ([`Store::insert_payout_if_absent`]). Build it with the constructors, which
/// are the one definition of the key formats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPayout {
    /// Unique idempotency key.
    pub key: String,
    /// What it does.
    pub kind: PayoutKind,
    /// Earliest time to send it (unix seconds, chain time).
    pub due_at: u64,
    /// The block of the event it comes from (`None` for paydays and API requests): a reorg that
    /// removes that block removes the payout too, unless it was sent.
    pub source_block: Option<u64>,
}

impl NewPayout {
    /// The release of a submitted milestone, due one second after its review window ends:
    /// key `release:{escrow}:{job}:{milestone}:{window_end}`.
    pub fn release(
        escrow: Address,
        job: U256,
        milestone: U256,
        window_end: u64,
        source_block: u64,
    ) -> Self {
        Self {
            key: format!("release:{escrow:#x}:{job}:{milestone}:{window_end}"),
            kind: PayoutKind::Release { escrow, job, milestone, window_end },
            due_at: window_end.saturating_add(1),
            source_block: Some(source_block),
        }
    }

    /// Chunk `chunk` of the payday at `slot`: key `payday:{payroll}:{slot}:{chunk}`, due at `slot`.
    pub fn payday(payroll: Address, slot: u64, chunk: u32, stream_ids: Vec<U256>) -> Self {
        Self {
            key: format!("payday:{payroll:#x}:{slot}:{chunk}"),
            kind: PayoutKind::Payday { payroll, slot, stream_ids },
            due_at: slot,
            source_block: None,
        }
    }

    /// Chunk `chunk` of the threshold payouts decided at `slot`: key
    /// `threshold:{payroll}:{slot}:{chunk}`, due at `slot`.
    pub fn threshold(payroll: Address, slot: u64, chunk: u32, stream_ids: Vec<U256>) -> Self {
        Self {
            key: format!("threshold:{payroll:#x}:{slot}:{chunk}"),
            kind: PayoutKind::Threshold { payroll, slot, stream_ids },
            due_at: slot,
            source_block: None,
        }
    }

    /// The `finalizeCancel` of a job whose client gave notice, due one second after the notice
    /// ends (`finalizeCancel` requires `now > cancelNoticeEnd`): key `finalize:{escrow}:{job}`
    /// (a job gets at most one notice: `Cancelling` never goes back to `Active`).
    pub fn finalize_cancel(escrow: Address, job: U256, notice_end: u64, source_block: u64) -> Self {
        Self {
            key: format!("finalize:{escrow:#x}:{job}"),
            kind: PayoutKind::FinalizeCancel { escrow, job, notice_end },
            due_at: notice_end.saturating_add(1),
            source_block: Some(source_block),
        }
    }

    /// The payout of an API request: key `request:{id}`.
    pub fn request(id: RequestId, due_at: u64) -> Self {
        Self {
            key: request_payout_key(id),
            kind: PayoutKind::Request { id },
            due_at,
            source_block: None,
        }
    }
}

/// The payout key of an API request.
pub fn request_payout_key(id: RequestId) -> String {
    format!("request:{id}")
}

/// A payout's lease: who claimed it, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The claimer (an instance id).
    pub holder: String,
    /// Unix seconds; after this another holder may claim it.
    pub until: u64,
}

/// A payout as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payout {
    /// Unique idempotency key.
    pub key: String,
    /// What it does.
    pub kind: PayoutKind,
    /// Earliest time to send it (unix seconds).
    pub due_at: u64,
    /// Status.
    pub status: PayoutStatus,
    /// Block of the event it comes from, if any.
    pub source_block: Option<u64>,
    /// How many times it was claimed.
    pub attempts: u32,
    /// The last error met while sending it.
    pub last_error: Option<String>,
    /// Its (latest) transaction.
    pub tx_id: Option<TxId>,
    /// Set while `Sending`.
    pub lease: Option<Lease>,
    /// When it was inserted (unix seconds).
    pub created_at: u64,
    /// Last change (unix seconds).
    pub updated_at: u64,
}

/// Id of a recorded transaction (assigned by the store, increasing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TxId(pub i64);

impl fmt::Display for TxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A signed transaction, as the `build` closure of [`Store::allocate_nonce_and_record_tx`] (or
/// a replacement) hands it to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTx {
    /// Transaction hash.
    pub hash: B256,
    /// The signed EIP-2718 bytes (`eth_sendRawTransaction` input).
    pub raw: Bytes,
    /// Its gas price (legacy) or max fee per gas (EIP-1559), in wei.
    pub gas_price: u128,
}

impl NewTx {
    /// Signs a prepared request (`shiftpay_bindings::tx::prepare`: gas, price and chain id set)
    /// with `nonce`, synchronously: what a [`BuildTx`] closure does.
    ///
    /// ```ignore
    /// let prepared = tx::prepare(&provider, &policy, signer.address(), call).await?; // outside
    /// let signer = ctx.signer.clone();
    /// store.allocate_nonce_and_record_tx(alloc, Box::new(move |nonce| {
    ///     NewTx::sign_request(&signer, &prepared, nonce)
    /// })).await?;
    /// ```
    pub fn sign_request(
        signer: &alloy::signers::local::PrivateKeySigner,
        request: &alloy::rpc::types::TransactionRequest,
        nonce: u64,
    ) -> Result<Self, String> {
        use alloy::{eips::eip2718::Encodable2718, network::TxSignerSync};
        let mut request = request.clone();
        request.nonce = Some(nonce);
        request.from = Some(signer.address());
        let gas_price = request.gas_price.or(request.max_fee_per_gas).unwrap_or_default();
        let mut typed = request.build_typed_tx().map_err(|request| {
            let missing = request.missing_keys().err().map(|(_, keys)| keys.join(", "));
            format!("the transaction request is incomplete ({})", missing.unwrap_or_default())
        })?;
        let signature = signer
            .sign_transaction_sync(&mut typed)
            .map_err(|err| format!("cannot sign: {err}"))?;
        let envelope = typed.into_envelope(signature);
        Ok(Self { hash: *envelope.tx_hash(), raw: envelope.encoded_2718().into(), gas_price })
    }
}

/// The closure that signs a transaction once the store has picked its nonce. It runs inside the
/// storage transaction, so it must be quick and must not block on I/O: sign locally
/// (`alloy::signers::SignerSync`). An `Err` (or a panic) records nothing and frees the nonce.
pub type BuildTx<'a> = Box<dyn FnOnce(u64) -> Result<NewTx, String> + Send + 'a>;

/// Who asks [`Store::allocate_nonce_and_record_tx`] for a nonce, and for what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocateTx<'a> {
    /// The sending account.
    pub signer: Address,
    /// The payout the transaction pays (it must be `Sending` and leased to `holder`; it becomes
    /// `Sent`). `None` for a transaction of the sender's own at the next nonce (a gap below it
    /// is filled with [`Store::record_gap_fill`], which takes the nonce it needs).
    pub payout_key: Option<&'a str>,
    /// The caller's holder id (see [`Store::claim_due`]).
    pub holder: &'a str,
    /// The lowest nonce acceptable: the chain's count for the signer. When the key was used
    /// elsewhere, the store jumps ahead to it; it never goes back.
    pub min_nonce: u64,
}

/// A signed transaction as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRecord {
    /// Store id.
    pub id: TxId,
    /// Sender.
    pub signer: Address,
    /// Nonce (unique per signer).
    pub nonce: u64,
    /// Every hash sent for this nonce, first to last (a replacement appends one).
    pub hashes: Vec<B256>,
    /// Signed bytes of the latest version.
    pub raw: Bytes,
    /// Gas price of the latest version, in wei.
    pub gas_price: u128,
    /// Status.
    pub status: TxStatus,
    /// The block that included it, when mined.
    pub mined_block: Option<u64>,
    /// The payout it pays, if any.
    pub payout_key: Option<String>,
    /// When it was recorded (unix seconds).
    pub created_at: u64,
    /// Last change: status or replacement (unix seconds).
    pub updated_at: u64,
}

impl TxRecord {
    /// The hash of the latest version.
    pub fn hash(&self) -> B256 {
        *self.hashes.last().expect("a transaction record always has a hash")
    }
}

/// A status change of a transaction, and of its payout in the same storage transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxUpdate {
    /// New status.
    pub status: TxStatus,
    /// The including block (`Mined`, `Reverted`, `Confirmed`); `None` clears it.
    pub mined_block: Option<u64>,
    /// New status of its payout, if it changes (e.g. `Confirmed` with the transaction).
    pub payout_status: Option<PayoutStatus>,
    /// Recorded as the payout's `last_error`, if given.
    pub error: Option<String>,
}

/// Id of an API request: a UUID v7 (time-ordered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(pub Uuid);

impl RequestId {
    /// A new id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for RequestId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// What a signed request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestKind {
    /// A worker's signed stream withdrawal (Payroll).
    Withdraw,
    /// A client's signed milestone approval (MilestoneEscrow).
    Approve,
    /// A party's signed settlement (MilestoneEscrow).
    Settle,
}

impl RequestKind {
    /// The lowercase name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Withdraw => "withdraw",
            Self::Approve => "approve",
            Self::Settle => "settle",
        }
    }
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RequestKind {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "withdraw" => Ok(Self::Withdraw),
            "approve" => Ok(Self::Approve),
            "settle" => Ok(Self::Settle),
            other => Err(StoreError::Corrupt {
                what: "request kind",
                detail: format!("unknown kind {other:?}"),
            }),
        }
    }
}

/// A request the API accepted, to insert with [`Store::insert_request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequest {
    /// Its id ([`RequestId::new`]).
    pub id: RequestId,
    /// What it asks for.
    pub kind: RequestKind,
    /// The typed-data fields and signature, as received (JSON).
    pub payload: serde_json::Value,
    /// Who signed it.
    pub signer: Address,
    /// The EIP-712 digest it signs: one request per signature (a replayed POST returns the
    /// first request).
    pub digest: B256,
    /// When to send it (unix seconds; usually now).
    pub due_at: u64,
}

status_enum! {
    /// Where an API request is; derived from its payout's status (one source of truth).
    RequestStatus {
        /// Accepted, waiting to be sent (payout `Pending`).
        Queued = "queued",
        /// Being sent (payout `Sending`).
        Sending = "sending",
        /// Its transaction is out (payout `Sent`).
        Sent = "sent",
        /// Its transaction is confirmed (payout `Confirmed`).
        Confirmed = "confirmed",
        /// Not sent: the re-check before sending found it no longer valid (payout `Skipped`).
        Rejected = "rejected",
        /// Its transaction failed, or sending it did (payout `Failed`).
        Failed = "failed",
    }
}

impl From<PayoutStatus> for RequestStatus {
    fn from(status: PayoutStatus) -> Self {
        match status {
            PayoutStatus::Pending => Self::Queued,
            PayoutStatus::Sending => Self::Sending,
            PayoutStatus::Sent => Self::Sent,
            PayoutStatus::Confirmed => Self::Confirmed,
            PayoutStatus::Skipped => Self::Rejected,
            PayoutStatus::Failed => Self::Failed,
        }
    }
}

/// An API request as `GET /v1/requests/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest {
    /// Id.
    pub id: RequestId,
    /// What it asks for.
    pub kind: RequestKind,
    /// The payload as received.
    pub payload: serde_json::Value,
    /// Who signed it.
    pub signer: Address,
    /// The EIP-712 digest.
    pub digest: B256,
    /// Status (from its payout).
    pub status: RequestStatus,
    /// Its transaction's latest hash, once sent.
    pub tx_hash: Option<B256>,
    /// The last error (from its payout).
    pub error: Option<String>,
    /// When it was accepted (unix seconds).
    pub created_at: u64,
    /// Last change of its payout (unix seconds).
    pub updated_at: u64,
}

/// The relayer's persistent state. See the module documentation for the rules every
/// implementation keeps; `relayer/tests/it/store.rs` checks them against each backend.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug + 'static {
    /// Backend name (`memory`, `sqlite`, ...), for logs and `/ready`.
    fn backend(&self) -> &'static str;

    // ---- chain position -------------------------------------------------------------------

    /// The log cursor, `None` before the first step.
    async fn cursor(&self) -> StoreResult<Option<Cursor>>;

    /// Remembers blocks of the recent window (a block number seen again is replaced).
    async fn record_blocks(&self, blocks: &[BlockRef]) -> StoreResult<()>;

    /// The stored hash of block `number`, if it is in the window.
    async fn block_hash(&self, number: u64) -> StoreResult<Option<B256>>;

    /// The highest block of the window.
    async fn latest_block(&self) -> StoreResult<Option<BlockRef>>;

    /// One watcher step in one transaction: record `blocks`, insert `payouts` if absent, move
    /// the cursor forward ([`StoreError::CursorBackwards`] otherwise), prune old blocks.
    async fn advance(&self, step: Advance) -> StoreResult<Advanced>;

    /// Undoes everything above block `n` in one transaction: forgets blocks `> n`, deletes the
    /// payouts derived from events above `n` that were never sent (no transaction recorded;
    /// sent ones stay, the sender re-checks them on-chain), and moves the cursor back to `n`.
    async fn rollback_to(&self, n: u64) -> StoreResult<Rollback>;

    // ---- payouts --------------------------------------------------------------------------

    /// Inserts a payout unless its key exists. Returns the stored payout and whether it was
    /// inserted now; a duplicate key changes nothing, whatever the other fields say.
    async fn insert_payout_if_absent(&self, payout: NewPayout) -> StoreResult<(Payout, bool)>;

    /// A payout by key.
    async fn payout(&self, key: &str) -> StoreResult<Option<Payout>>;

    /// Claims up to `limit` due payouts (`due_at <= now`) for `holder` until `now + lease`:
    /// `Pending` ones, and `Sending` ones whose lease ended before `now` (their holder died).
    /// Each becomes `Sending` with `attempts + 1`. Oldest `due_at` first, then by key. Two
    /// concurrent callers never get the same payout.
    async fn claim_due(
        &self,
        now: u64,
        limit: usize,
        holder: &str,
        lease: Duration,
    ) -> StoreResult<Vec<Payout>>;

    /// Extends `holder`'s lease on a `Sending` payout to `now + lease`
    /// ([`StoreError::LeaseLost`] when it is not theirs any more).
    async fn extend_lease(
        &self,
        key: &str,
        holder: &str,
        now: u64,
        lease: Duration,
    ) -> StoreResult<Payout>;

    /// Moves a payout to `to` (guarded; never to `Sending` or `Sent`, see the module docs).
    /// Leaving `Sending` needs the lease `holder`; it clears the lease. `error`, when given,
    /// becomes `last_error`.
    async fn set_payout_status(
        &self,
        key: &str,
        holder: Option<&str>,
        to: PayoutStatus,
        error: Option<&str>,
    ) -> StoreResult<Payout>;

    /// Gives a claimed payout back (`Sending` -> `Pending`) to be claimed again at or after
    /// `not_before` (backoff after a transport error), recording `error`.
    async fn retry_later(
        &self,
        key: &str,
        holder: &str,
        not_before: u64,
        error: &str,
    ) -> StoreResult<Payout>;

    /// Payouts in any of `statuses`, oldest `due_at` first, at most `limit`.
    async fn payouts_with_status(
        &self,
        statuses: &[PayoutStatus],
        limit: usize,
    ) -> StoreResult<Vec<Payout>>;

    /// How many payouts are in each status (every status listed, zeros included).
    async fn payout_counts(&self) -> StoreResult<BTreeMap<PayoutStatus, u64>>;

    // ---- transactions and nonces ----------------------------------------------------------

    /// In ONE storage transaction: checks the payout (if any) is `Sending` and leased to
    /// `holder`; picks the signer's nonce (`max(next stored, min_nonce)`); calls `build(nonce)`
    /// to sign; records the transaction (`Pending`); advances the signer's next nonce; marks
    /// the payout `Sent` with this transaction. Any failure (or a panic in `build`) writes
    /// nothing and leaves the nonce free.
    async fn allocate_nonce_and_record_tx(
        &self,
        alloc: AllocateTx<'_>,
        build: BuildTx<'_>,
    ) -> StoreResult<TxRecord>;

    /// [`Self::allocate_nonce_and_record_tx`] for several transactions, in order, in ONE storage
    /// transaction (one commit for a whole batch of payouts instead of one each). Each item is
    /// all or nothing on its own: a refused item (a lease lost, a payout gone, a signing failure,
    /// a duplicate hash) writes nothing and takes no nonce, and gets its error in the result; the
    /// items after it go on with the nonce it would have had. One result per item, in order.
    /// A transient error (the database unreachable) fails the whole call and the SQL backends
    /// write nothing; a panic in a `build` writes nothing either.
    ///
    /// The default, for a backend without a batch of its own, runs the items one storage
    /// transaction each and stops at a transient error, keeping the items before it: each is
    /// recorded `Pending` and followed up like any recorded transaction, so nothing is lost, only
    /// not reported. Every backend here has its own (memory, SQLite, PostgreSQL).
    async fn allocate_nonces_and_record_txs(
        &self,
        batch: Vec<(AllocateTx<'_>, BuildTx<'_>)>,
    ) -> StoreResult<Vec<StoreResult<TxRecord>>> {
        let mut results = Vec::with_capacity(batch.len());
        for (alloc, build) in batch {
            match self.allocate_nonce_and_record_tx(alloc, build).await {
                Err(err) if err.is_transient() => return Err(err),
                result => results.push(result),
            }
        }
        Ok(results)
    }

    /// Records a transaction of the signer's own at a nonce it chose: the sender's filler of a
    /// nonce gap (a 0-value transfer to itself at a nonce below the store's next one that no
    /// recorded transaction holds, e.g. one the chain's pending count made the store skip). In
    /// ONE storage transaction: checks that no transaction of `signer` has `nonce` (whatever its
    /// status: [`StoreError::NonceTaken`]); calls `build(nonce)` to sign; records it `Pending`
    /// without a payout; raises the signer's next nonce to `nonce + 1` when it was lower. Any
    /// failure (or a panic in `build`) writes nothing. From then on it is tracked like every
    /// recorded transaction (confirmed, rebroadcast, replaced with a higher price), and a
    /// restart finds the nonce covered instead of filling it again.
    async fn record_gap_fill(
        &self,
        signer: Address,
        nonce: u64,
        build: BuildTx<'_>,
    ) -> StoreResult<TxRecord>;

    /// The next nonce the store would give `signer` (before `min_nonce`), `None` if it never
    /// signed.
    async fn next_nonce(&self, signer: Address) -> StoreResult<Option<u64>>;

    /// Records a replacement of a `Pending` or `Dropped` transaction (same nonce, new price):
    /// appends its hash, keeps its bytes and price as the latest, status `Pending`.
    async fn record_replacement(&self, id: TxId, tx: NewTx) -> StoreResult<TxRecord>;

    /// Changes a transaction's status (guarded) and, in the same storage transaction, its
    /// payout's (guarded too: the transaction must still be the payout's,
    /// [`StoreError::NotPayoutTx`]). `payout_status` is ignored for a transaction without a
    /// payout.
    async fn set_tx_status(&self, id: TxId, update: TxUpdate) -> StoreResult<TxRecord>;

    /// [`Self::set_tx_status`] for several transactions, in order, in ONE storage transaction
    /// (the tracker confirms a whole step's transactions with one commit). As for
    /// [`Self::allocate_nonces_and_record_txs`]: each item all or nothing with its own result, a
    /// transient error fails the whole call; the default runs one storage transaction per item
    /// (every backend here has its own).
    async fn set_txs_status(
        &self,
        updates: Vec<(TxId, TxUpdate)>,
    ) -> StoreResult<Vec<StoreResult<TxRecord>>> {
        let mut results = Vec::with_capacity(updates.len());
        for (id, update) in updates {
            match self.set_tx_status(id, update).await {
                Err(err) if err.is_transient() => return Err(err),
                result => results.push(result),
            }
        }
        Ok(results)
    }

    /// A transaction by id.
    async fn tx(&self, id: TxId) -> StoreResult<Option<TxRecord>>;

    /// The transaction one of whose hashes is `hash`.
    async fn tx_by_hash(&self, hash: B256) -> StoreResult<Option<TxRecord>>;

    /// Transactions in any of `statuses`, by signer then nonce.
    async fn txs_with_status(&self, statuses: &[TxStatus]) -> StoreResult<Vec<TxRecord>>;

    // ---- API requests ---------------------------------------------------------------------

    /// Inserts a request and its payout ([`NewPayout::request`]) in one transaction. A request
    /// with the same `digest` already stored is returned instead (`false`): nothing is added.
    async fn insert_request(&self, request: NewRequest) -> StoreResult<(ApiRequest, bool)>;

    /// A request by id, with its status, transaction hash and error taken from its payout.
    async fn request(&self, id: RequestId) -> StoreResult<Option<ApiRequest>>;

    // ---- leader leases (several instances on one database) ---------------------------------

    /// Takes or renews the lease `name` (e.g. [`CURSOR_LEASE`]) for `holder` until
    /// `now + lease`, when it is free, ended before `now` (its holder died or stopped renewing)
    /// or already `holder`'s; returns the lease as stored afterwards: `holder`'s when granted,
    /// the current holder's when refused. One statement, so two instances never both get it.
    ///
    /// The default serves the single-instance backends (memory, SQLite: one relayer per file)
    /// and always grants it; [`postgres::PostgresStore`] keeps it in the database.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: u64,
        lease: Duration,
    ) -> StoreResult<Lease> {
        let _ = name;
        Ok(Lease { holder: holder.to_owned(), until: lease_end(now, lease) })
    }

    /// Gives up the lease `name` if `holder` holds it (a clean shutdown: another instance takes
    /// it over at its next try instead of after the lease ends). A no-op otherwise.
    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        let _ = (name, holder);
        Ok(())
    }

    // ---- lifecycle ------------------------------------------------------------------------

    /// Flushes and closes (a WAL checkpoint on SQLite). Calls after this fail.
    async fn close(&self);
}

/// The lease ([`Store::acquire_lease`]) of the instance that moves the log cursor: with several
/// instances on one database, only its holder runs [`Store::advance`] and
/// [`Store::rollback_to`]; the others take over within one lease when it dies.
pub const CURSOR_LEASE: &str = "cursor";

/// Where the relayer keeps its state, parsed from the `storage` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageUrl {
    /// `sqlite://PATH` (relative to the config file's directory), the default.
    Sqlite(PathBuf),
    /// `memory://`: nothing survives a restart (tests and benchmarks only).
    Memory,
    /// `postgres://...` (or `postgresql://...`): a PostgreSQL database several instances may
    /// share ([`postgres::PostgresStore`]). Shown only through [`StorageUrl::redacted`]
    /// (credentials and database name removed).
    Postgres(String),
}

impl StorageUrl {
    /// The URL as it may be shown: a SQLite path, or `postgres://host:port/…`
    /// (`shiftpay_bindings::rpc::redact_url`: no user, password or database name).
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Memory => "memory://".to_owned(),
            Self::Postgres(url) => shiftpay_bindings::rpc::redact_url(url),
        }
    }
}

/// Opens the store `url` names, creating and migrating the database if needed.
pub async fn open(url: &StorageUrl) -> StoreResult<Arc<dyn Store>> {
    match url {
        StorageUrl::Sqlite(path) => Ok(Arc::new(sqlite::SqliteStore::open(path).await?)),
        StorageUrl::Memory => Ok(Arc::new(memory::MemoryStore::new())),
        StorageUrl::Postgres(url) => Ok(Arc::new(postgres::PostgresStore::open(url).await?)),
    }
}

/// Checks a payout may move to `to` under the guards.
pub(crate) fn check_payout_transition(
    key: &str,
    from: PayoutStatus,
    to: PayoutStatus,
) -> StoreResult<()> {
    if from.can_become(to) {
        Ok(())
    } else {
        Err(StoreError::InvalidTransition {
            what: "payout",
            id: key.to_owned(),
            from: from.as_str(),
            to: to.as_str(),
        })
    }
}

/// Checks a transaction may move to `to` under the guards.
pub(crate) fn check_tx_transition(id: TxId, from: TxStatus, to: TxStatus) -> StoreResult<()> {
    if from.can_become(to) {
        Ok(())
    } else {
        Err(StoreError::InvalidTransition {
            what: "transaction",
            id: id.to_string(),
            from: from.as_str(),
            to: to.as_str(),
        })
    }
}

/// Checks that `holder` holds the lease of a `Sending` payout.
pub(crate) fn check_holder(payout: &Payout, holder: Option<&str>) -> StoreResult<()> {
    if payout.status != PayoutStatus::Sending {
        return Ok(());
    }
    let current = payout.lease.as_ref().map(|lease| lease.holder.as_str());
    match (holder, current) {
        (Some(holder), Some(current)) if holder == current => Ok(()),
        (holder, current) => Err(StoreError::LeaseLost {
            key: payout.key.clone(),
            holder: holder.unwrap_or("nobody").to_owned(),
            current: current.unwrap_or("none").to_owned(),
        }),
    }
}

/// The checks of [`Store::set_payout_status`] common to every backend.
pub(crate) fn check_set_payout_status(
    payout: &Payout,
    holder: Option<&str>,
    to: PayoutStatus,
) -> StoreResult<()> {
    if matches!(to, PayoutStatus::Sending | PayoutStatus::Sent) && payout.status != to {
        return Err(StoreError::InvalidTransition {
            what: "payout",
            id: payout.key.clone(),
            from: payout.status.as_str(),
            to: to.as_str(),
        });
    }
    check_payout_transition(&payout.key, payout.status, to)?;
    check_holder(payout, holder)
}

/// The checks of [`Store::set_tx_status`] on the transaction's payout: the transaction is still
/// the payout's, the payout is not leased (`Sending`), and the move is allowed.
pub(crate) fn check_tx_payout_update(
    payout: &Payout,
    tx: TxId,
    to: PayoutStatus,
) -> StoreResult<()> {
    if payout.tx_id != Some(tx) {
        return Err(StoreError::NotPayoutTx { key: payout.key.clone(), tx });
    }
    check_payout_transition(&payout.key, payout.status, to)?;
    check_holder(payout, None)
}

/// The checks of [`Store::allocate_nonce_and_record_tx`] on the payout.
pub(crate) fn check_can_send(payout: &Payout, holder: &str) -> StoreResult<()> {
    if payout.status != PayoutStatus::Sending {
        return Err(StoreError::InvalidTransition {
            what: "payout",
            id: payout.key.clone(),
            from: payout.status.as_str(),
            to: PayoutStatus::Sent.as_str(),
        });
    }
    check_holder(payout, Some(holder))
}

/// The machine clock in unix seconds (the stores' `created_at` / `updated_at`).
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// `now + lease` in unix seconds (a lease shorter than a second counts as one second).
pub(crate) fn lease_end(now: u64, lease: Duration) -> u64 {
    now.saturating_add(lease.as_secs().max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmed_never_goes_back() {
        for &to in PayoutStatus::ALL {
            assert_eq!(PayoutStatus::Confirmed.can_become(to), to == PayoutStatus::Confirmed);
        }
        for &to in TxStatus::ALL {
            assert_eq!(TxStatus::Confirmed.can_become(to), to == TxStatus::Confirmed);
            assert_eq!(TxStatus::Replaced.can_become(to), to == TxStatus::Replaced);
        }
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for &status in PayoutStatus::ALL {
            assert_eq!(status.as_str().parse::<PayoutStatus>().unwrap(), status);
        }
        for &status in TxStatus::ALL {
            assert_eq!(status.as_str().parse::<TxStatus>().unwrap(), status);
        }
        assert!("done".parse::<PayoutStatus>().is_err());
    }

    #[test]
    fn signs_a_legacy_request_with_the_given_nonce() {
        use alloy::{
            consensus::{SignableTransaction, Transaction, TxEnvelope},
            eips::eip2718::Decodable2718,
            rpc::types::TransactionRequest,
            signers::local::PrivateKeySigner,
        };
        let signer = PrivateKeySigner::random();
        let request = TransactionRequest::default()
            .to(Address::repeat_byte(1))
            .gas_limit(100_000)
            .gas_price(65_000_000)
            .transaction_type(0);
        let mut request = request;
        request.chain_id = Some(31);
        let signed = NewTx::sign_request(&signer, &request, 7).unwrap();
        let envelope = TxEnvelope::decode_2718(&mut signed.raw.as_ref()).unwrap();
        assert!(envelope.is_legacy());
        assert_eq!(envelope.nonce(), 7);
        assert_eq!(envelope.chain_id(), Some(31));
        assert_eq!(*envelope.tx_hash(), signed.hash);
        let TxEnvelope::Legacy(legacy) = &envelope else { panic!("not legacy") };
        let recovered =
            legacy.signature().recover_address_from_prehash(&legacy.tx().signature_hash()).unwrap();
        assert_eq!(recovered, signer.address());
        assert_eq!(signed.gas_price, 65_000_000);
        let incomplete = TransactionRequest::default().to(Address::repeat_byte(1));
        assert!(NewTx::sign_request(&signer, &incomplete, 0).is_err());
    }

    #[test]
    fn payout_keys_follow_the_spec() {
        let escrow = Address::repeat_byte(0xab);
        let release = NewPayout::release(escrow, U256::from(7), U256::from(2), 1_000, 55);
        assert_eq!(release.key, "release:0xabababababababababababababababababababab:7:2:1000");
        assert_eq!(release.due_at, 1_001);
        assert_eq!(release.source_block, Some(55));
        let finalize = NewPayout::finalize_cancel(escrow, U256::from(7), 2_000, 56);
        assert_eq!(finalize.key, "finalize:0xabababababababababababababababababababab:7");
        assert_eq!((finalize.due_at, finalize.source_block), (2_001, Some(56)));
        assert_eq!(finalize.kind.name(), "finalize");
        let kind = serde_json::to_string(&finalize.kind).unwrap();
        assert_eq!(serde_json::from_str::<PayoutKind>(&kind).unwrap(), finalize.kind);
        let payday = NewPayout::payday(escrow, 1_700_000_000, 3, vec![U256::from(1)]);
        assert_eq!(payday.key, "payday:0xabababababababababababababababababababab:1700000000:3");
        let kind = serde_json::to_string(&release.kind).unwrap();
        assert_eq!(serde_json::from_str::<PayoutKind>(&kind).unwrap(), release.kind);
    }
}
