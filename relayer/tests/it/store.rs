//! The storage test suite: the same tests against every [`Store`] backend.
//!
//! Each test is a generic `async fn name<B: Backend>(backend: B)`; `store_suite!` instantiates
//! it once per backend (`store::memory::name`, `store::sqlite::name`, `store::postgres::name`).
//! "Reopening" gives a new handle on the same data: the same file for SQLite, the same shared
//! state for the in-memory store, a new connection pool on the same schema for PostgreSQL (what
//! a second relayer instance is).
//!
//! PostgreSQL tests run against `SHIFTPAY_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); each creates its own schema with a random name
//! and drops it at the end, also when it panics ([`Postgres`]'s `Drop`).

use std::{
    collections::{BTreeSet, HashSet},
    path::PathBuf,
    sync::Arc,
    time::Duration,
};

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use shiftpay_relayer::store::{
    Advance, AllocateTx, BlockRef, Cursor, NewPayout, NewRequest, NewTx, PayoutStatus, RequestId,
    RequestKind, RequestStatus, Store, StoreError, TxStatus, TxUpdate, memory::MemoryStore,
    postgres::PostgresStore, request_payout_key, sqlite::SqliteStore,
};
use sqlx::{Connection, postgres::PgConnectOptions};

/// A way to open (and reopen) one store.
#[async_trait::async_trait]
pub(crate) trait Backend: Send + Sync + 'static {
    /// A handle on the store's data (a new one each call: a "reopen").
    async fn open(&self) -> Arc<dyn Store>;
}

pub(crate) struct Memory(MemoryStore);

#[async_trait::async_trait]
impl Backend for Memory {
    async fn open(&self) -> Arc<dyn Store> {
        Arc::new(self.0.clone())
    }
}

pub(crate) struct Sqlite {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

#[async_trait::async_trait]
impl Backend for Sqlite {
    async fn open(&self) -> Arc<dyn Store> {
        Arc::new(SqliteStore::open(&self.path).await.expect("open the SQLite store"))
    }
}

/// The PostgreSQL server the tests use.
fn postgres_url() -> String {
    std::env::var("SHIFTPAY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A schema of its own on the test server: created by [`postgres`], dropped (with everything
/// in it) when this is dropped, a panicking test included.
pub(crate) struct Postgres {
    schema: String,
}

impl Postgres {
    /// Connect options whose `search_path` is this schema (what `?options=-c search_path=...`
    /// in a `storage` URL does).
    pub(crate) fn options(&self) -> PgConnectOptions {
        postgres_url()
            .parse::<PgConnectOptions>()
            .expect("SHIFTPAY_TEST_POSTGRES_URL")
            .options([("search_path", self.schema.as_str())])
    }

    /// The `storage` URL of this schema.
    pub(crate) fn storage_url(&self) -> String {
        let url = postgres_url();
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}options=-c%20search_path%3D{}", self.schema)
    }
}

#[async_trait::async_trait]
impl Backend for Postgres {
    async fn open(&self) -> Arc<dyn Store> {
        Arc::new(
            PostgresStore::connect_with(self.options()).await.expect("open the PostgreSQL store"),
        )
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Drop may run inside the test's runtime (no blocking there) or while unwinding: a
        // thread of its own with a runtime of its own, joined.
        let schema = self.schema.clone();
        let dropped = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&postgres_url()).await.ok()?;
                // Bounded: a connection left inside a transaction must not hang the test.
                sqlx::query("SET lock_timeout = '10s'").execute(&mut conn).await.ok()?;
                sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                    .execute(&mut conn)
                    .await
                    .map_err(|err| eprintln!("cannot drop schema {schema}: {err}"))
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("schema {} may be left behind", self.schema);
        }
    }
}

/// A new schema with a random name on the test server.
pub(crate) async fn postgres() -> Postgres {
    let schema = format!("shiftpay_test_{}", uuid::Uuid::now_v7().simple());
    let mut conn = sqlx::PgConnection::connect(&postgres_url()).await.unwrap_or_else(|err| {
        panic!("PostgreSQL at {} (SHIFTPAY_TEST_POSTGRES_URL): {err}", postgres_url())
    });
    sqlx::query(&format!("CREATE SCHEMA \"{schema}\"")).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    Postgres { schema }
}

fn memory() -> Memory {
    Memory(MemoryStore::new())
}

fn sqlite() -> Sqlite {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("relayer.db");
    Sqlite { _dir: dir, path }
}

macro_rules! store_suite {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::memory()).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::postgres().await).await;
                }
            )*
        }
    };
}

store_suite!(
    idempotent_inserts,
    transition_guards,
    claim_and_lease,
    concurrent_claims_never_overlap,
    rollback_to_undoes_unsent_payouts,
    nonces_are_monotonic_and_gap_free_across_reopen,
    failed_or_panicking_build_writes_nothing,
    replacements_and_lookups,
    request_status_follows_its_payout,
    committed_state_survives_drop_without_close,
    gap_fills_are_recorded_like_every_send,
    finalize_payouts_are_keyed_per_job_and_rolled_back,
    batches_refuse_items_alone_and_commit_the_rest,
);

const ESCROW: Address = Address::repeat_byte(0xe5);
const PAYROLL: Address = Address::repeat_byte(0xa1);
const SIGNER: Address = Address::repeat_byte(0x51);
const LEASE: Duration = Duration::from_secs(60);

fn release(job: u64, block: u64) -> NewPayout {
    NewPayout::release(ESCROW, U256::from(job), U256::ZERO, 1_000 + job, block)
}

fn hash(tag: &str) -> B256 {
    keccak256(tag.as_bytes())
}

/// A `build` closure result: a fake signed transaction unique to `tag` and the nonce.
fn fake_tx(tag: &str, nonce: u64) -> NewTx {
    let hash = hash(&format!("{tag}/{nonce}"));
    NewTx { hash, raw: Bytes::from(hash.to_vec()), gas_price: 65_000_000 + u128::from(nonce) }
}

fn alloc<'a>(payout_key: Option<&'a str>, holder: &'a str) -> AllocateTx<'a> {
    AllocateTx { signer: SIGNER, payout_key, holder, min_nonce: 0 }
}

fn block(number: u64) -> BlockRef {
    BlockRef {
        number,
        hash: hash(&format!("block {number}")),
        parent_hash: hash(&format!("block {}", number.wrapping_sub(1))),
    }
}

async fn send(
    store: &dyn Store,
    key: &str,
    holder: &str,
    tag: &str,
) -> shiftpay_relayer::store::TxRecord {
    let tag = tag.to_owned();
    store
        .allocate_nonce_and_record_tx(
            alloc(Some(key), holder),
            Box::new(move |n| Ok(fake_tx(&tag, n))),
        )
        .await
        .unwrap()
}

async fn idempotent_inserts<B: Backend>(backend: B) {
    let store = backend.open().await;
    let first = release(1, 10);
    let (stored, inserted) = store.insert_payout_if_absent(first.clone()).await.unwrap();
    assert!(inserted);
    assert_eq!(stored.status, PayoutStatus::Pending);
    assert_eq!(stored.due_at, 1_002);
    assert_eq!(stored.kind, first.kind);

    // Same key, other fields different: a no-op returning the stored payout.
    let mut again = first.clone();
    again.due_at = 5;
    let (existing, inserted) = store.insert_payout_if_absent(again).await.unwrap();
    assert!(!inserted);
    assert_eq!(existing, stored);

    // The same through `advance`, twice (a replayed log page).
    let step = Advance {
        cursor: Cursor { block: 12, hash: block(12).hash },
        blocks: vec![block(11), block(12)],
        payouts: vec![first, release(2, 11), release(2, 11)],
        prune_below: None,
    };
    assert_eq!(store.advance(step.clone()).await.unwrap().payouts_inserted, 1);
    assert_eq!(store.advance(step).await.unwrap().payouts_inserted, 0);
    let counts = store.payout_counts().await.unwrap();
    assert_eq!(counts[&PayoutStatus::Pending], 2);
    assert_eq!(counts.len(), PayoutStatus::ALL.len());
}

async fn transition_guards<B: Backend>(backend: B) {
    let store = backend.open().await;
    let key = store.insert_payout_if_absent(release(1, 5)).await.unwrap().0.key;
    for forbidden in [PayoutStatus::Sending, PayoutStatus::Sent, PayoutStatus::Confirmed] {
        let err = store.set_payout_status(&key, None, forbidden, None).await.unwrap_err();
        assert!(matches!(err, StoreError::InvalidTransition { .. }), "{forbidden}: {err}");
    }
    // Not claimed: cannot be sent.
    let err = store
        .allocate_nonce_and_record_tx(alloc(Some(&key), "a"), Box::new(|n| Ok(fake_tx("x", n))))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidTransition { .. }), "{err}");

    let claimed = store.claim_due(2_000, 10, "a", LEASE).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let err =
        store.set_payout_status(&key, Some("b"), PayoutStatus::Skipped, None).await.unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost { .. }), "{err}");
    let err = store.set_payout_status(&key, None, PayoutStatus::Skipped, None).await.unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost { .. }), "{err}");

    let tx = send(store.as_ref(), &key, "a", "guards").await;
    let sent = store.payout(&key).await.unwrap().unwrap();
    assert_eq!(sent.status, PayoutStatus::Sent);
    assert_eq!(sent.tx_id, Some(tx.id));
    assert_eq!(sent.lease, None);

    // Confirmed with its transaction, in one step; then nothing moves it back.
    let confirm = TxUpdate {
        status: TxStatus::Confirmed,
        mined_block: Some(20),
        payout_status: Some(PayoutStatus::Confirmed),
        error: None,
    };
    let tx = store.set_tx_status(tx.id, confirm.clone()).await.unwrap();
    assert_eq!(tx.status, TxStatus::Confirmed);
    assert_eq!(tx.mined_block, Some(20));
    assert_eq!(store.payout(&key).await.unwrap().unwrap().status, PayoutStatus::Confirmed);
    store.set_tx_status(tx.id, confirm).await.unwrap(); // same status: idempotent
    for back in [PayoutStatus::Pending, PayoutStatus::Failed, PayoutStatus::Skipped] {
        let err = store.set_payout_status(&key, None, back, None).await.unwrap_err();
        assert!(matches!(err, StoreError::InvalidTransition { .. }), "{back}: {err}");
    }
    for back in [TxStatus::Pending, TxStatus::Mined, TxStatus::Dropped, TxStatus::Reverted] {
        let update = TxUpdate { status: back, mined_block: None, payout_status: None, error: None };
        let err = store.set_tx_status(tx.id, update).await.unwrap_err();
        assert!(matches!(err, StoreError::InvalidTransition { .. }), "{back}: {err}");
    }
    // A failed payout may be retried by an operator; a skipped one is final.
    let other = store.insert_payout_if_absent(release(2, 5)).await.unwrap().0.key;
    store.claim_due(2_000, 10, "a", LEASE).await.unwrap();
    let failed = store
        .set_payout_status(&other, Some("a"), PayoutStatus::Failed, Some("boom"))
        .await
        .unwrap();
    assert_eq!(failed.last_error.as_deref(), Some("boom"));
    assert_eq!(failed.lease, None);
    store.set_payout_status(&other, None, PayoutStatus::Pending, None).await.unwrap();
    store.claim_due(2_000, 10, "a", LEASE).await.unwrap();
    store.set_payout_status(&other, Some("a"), PayoutStatus::Skipped, None).await.unwrap();
    let err = store.set_payout_status(&other, None, PayoutStatus::Pending, None).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidTransition { .. }), "{err}");
    let err = store.set_payout_status("nope", None, PayoutStatus::Failed, None).await.unwrap_err();
    assert!(matches!(err, StoreError::PayoutNotFound { .. }), "{err}");
}

async fn claim_and_lease<B: Backend>(backend: B) {
    let store = backend.open().await;
    for (i, due) in [(1, 300u64), (2, 100), (3, 200)] {
        let mut payout = NewPayout::payday(PAYROLL, due, i, vec![U256::from(i)]);
        payout.due_at = due;
        store.insert_payout_if_absent(payout).await.unwrap();
    }
    // Only what is due, oldest first, at most `limit`.
    assert!(store.claim_due(99, 10, "a", LEASE).await.unwrap().is_empty());
    let claimed = store.claim_due(250, 1, "a", LEASE).await.unwrap();
    assert_eq!(claimed.iter().map(|p| p.due_at).collect::<Vec<_>>(), [100]);
    let first = &claimed[0];
    assert_eq!(first.status, PayoutStatus::Sending);
    assert_eq!(first.attempts, 1);
    assert_eq!(first.lease.as_ref().map(|l| (l.holder.as_str(), l.until)), Some(("a", 310)));
    let claimed = store.claim_due(250, 10, "b", LEASE).await.unwrap();
    assert_eq!(claimed.iter().map(|p| p.due_at).collect::<Vec<_>>(), [200]);
    // Leased payouts are not claimed again while the lease runs...
    assert!(store.claim_due(260, 10, "b", LEASE).await.unwrap().is_empty());
    // ...and are, once it ended (holder died): attempts count the claims.
    let extended = store.extend_lease(&first.key, "a", 300, LEASE).await.unwrap();
    assert_eq!(extended.lease.unwrap().until, 360);
    let err = store.extend_lease(&first.key, "b", 300, LEASE).await.unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost { .. }), "{err}");
    let reclaimed = store.claim_due(361, 10, "b", Duration::from_secs(3_600)).await.unwrap();
    let keys: Vec<&str> = reclaimed.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(reclaimed.len(), 3, "{keys:?}"); // 100 (expired a), 200 (expired b), 300 (new)
    let again = reclaimed.iter().find(|p| p.key == first.key).unwrap();
    assert_eq!(again.attempts, 2);
    assert_eq!(again.lease.as_ref().unwrap().holder, "b");
    // The old holder lost it: it cannot send it.
    let err = store
        .allocate_nonce_and_record_tx(
            alloc(Some(&first.key), "a"),
            Box::new(|n| Ok(fake_tx("late", n))),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost { .. }), "{err}");
    assert_eq!(store.next_nonce(SIGNER).await.unwrap(), None);

    // Backoff: given back, claimable again only from `not_before`.
    let retried = store.retry_later(&first.key, "b", 1_000, "node down").await.unwrap();
    assert_eq!(retried.status, PayoutStatus::Pending);
    assert_eq!(retried.due_at, 1_000);
    assert_eq!(retried.last_error.as_deref(), Some("node down"));
    assert!(store.claim_due(999, 10, "c", LEASE).await.unwrap().is_empty());
    assert_eq!(store.claim_due(1_000, 10, "c", LEASE).await.unwrap().len(), 1);
    let sending = store.payouts_with_status(&[PayoutStatus::Sending], 10).await.unwrap();
    assert_eq!(sending.len(), 3);
    assert!(sending.windows(2).all(|w| w[0].due_at <= w[1].due_at));
}

async fn concurrent_claims_never_overlap<B: Backend>(backend: B) {
    let store = backend.open().await;
    for i in 0..40u32 {
        store.insert_payout_if_absent(NewPayout::payday(PAYROLL, 100, i, vec![])).await.unwrap();
    }
    let mut workers = Vec::new();
    for w in 0..6 {
        let store = backend.open().await;
        workers.push(tokio::spawn(async move {
            let holder = format!("worker{w}");
            let mut mine = Vec::new();
            loop {
                let claimed = store.claim_due(100, 3, &holder, LEASE).await.unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                mine.extend(claimed.into_iter().map(|p| p.key));
            }
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), 40, "every payout claimed once");
    assert_eq!(unique.len(), 40, "no payout claimed twice");
    drop(store);
}

async fn rollback_to_undoes_unsent_payouts<B: Backend>(backend: B) {
    let store = backend.open().await;
    let step = Advance {
        cursor: Cursor { block: 10, hash: block(10).hash },
        blocks: (1..=10).map(block).collect(),
        payouts: vec![release(1, 5), release(2, 8), release(3, 9), release(4, 7)],
        prune_below: Some(3),
    };
    let advanced = store.advance(step).await.unwrap();
    assert_eq!(advanced.payouts_inserted, 4);
    assert_eq!(advanced.blocks_pruned, 2);
    assert_eq!(store.block_hash(2).await.unwrap(), None);
    assert_eq!(store.block_hash(10).await.unwrap(), Some(block(10).hash));
    assert_eq!(store.latest_block().await.unwrap(), Some(block(10)));
    let payday = store
        .insert_payout_if_absent(NewPayout::payday(PAYROLL, 500, 0, vec![U256::from(1)]))
        .await
        .unwrap()
        .0
        .key;

    // Job 2 (block 8) is sent; job 3 (block 9) claimed but not sent; job 4 (block 7) skipped.
    let claimed = store.claim_due(5_000, 10, "a", LEASE).await.unwrap();
    assert_eq!(claimed.len(), 5);
    let key = |job: u64| release(job, 0).key;
    send(store.as_ref(), &key(2), "a", "rollback").await;
    store.set_payout_status(&key(4), Some("a"), PayoutStatus::Skipped, None).await.unwrap();

    // The cursor only moves forward.
    let err = store
        .advance(Advance {
            cursor: Cursor { block: 9, hash: block(9).hash },
            blocks: vec![],
            payouts: vec![],
            prune_below: None,
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::CursorBackwards { current: 10, requested: 9 }), "{err}");

    let rollback = store.rollback_to(6).await.unwrap();
    assert_eq!(rollback.cursor, Some(Cursor { block: 6, hash: block(6).hash }));
    assert_eq!(rollback.blocks_removed, 4);
    assert_eq!(rollback.payouts_removed, {
        let mut keys = vec![key(3), key(4)];
        keys.sort();
        keys
    });
    assert_eq!(store.cursor().await.unwrap(), rollback.cursor);
    assert_eq!(store.block_hash(7).await.unwrap(), None);
    assert_eq!(store.block_hash(6).await.unwrap(), Some(block(6).hash));
    assert!(store.payout(&key(1)).await.unwrap().is_some(), "below the fork: kept");
    assert_eq!(store.payout(&key(2)).await.unwrap().unwrap().status, PayoutStatus::Sent);
    assert!(store.payout(&payday).await.unwrap().is_some(), "not from an event: kept");
    // The sender holding job 3 finds it gone and sends nothing.
    let err = store
        .allocate_nonce_and_record_tx(
            alloc(Some(&key(3)), "a"),
            Box::new(|n| Ok(fake_tx("gone", n))),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::PayoutNotFound { .. }), "{err}");
    // The re-included event makes the payout again, once.
    assert!(store.insert_payout_if_absent(release(3, 7)).await.unwrap().1);

    // Below the window: the cursor is forgotten (the watcher restarts from the deployment).
    let rollback = store.rollback_to(1).await.unwrap();
    assert_eq!(rollback.cursor, None);
    assert_eq!(store.cursor().await.unwrap(), None);
    // At or above the cursor: nothing to undo.
    let rollback = store.rollback_to(100).await.unwrap();
    assert_eq!(rollback.blocks_removed, 0);
    assert!(rollback.payouts_removed.is_empty());
}

async fn nonces_are_monotonic_and_gap_free_across_reopen<B: Backend>(backend: B) {
    let mut nonces = Vec::new();
    {
        let store = backend.open().await;
        assert_eq!(store.next_nonce(SIGNER).await.unwrap(), None);
        for _ in 0..5 {
            let tx = store
                .allocate_nonce_and_record_tx(alloc(None, "a"), Box::new(|n| Ok(fake_tx("gap", n))))
                .await
                .unwrap();
            nonces.push(tx.nonce);
        }
        store.close().await;
    }
    let store = backend.open().await;
    assert_eq!(store.next_nonce(SIGNER).await.unwrap(), Some(5));
    for _ in 0..5 {
        let tx = store
            .allocate_nonce_and_record_tx(alloc(None, "a"), Box::new(|n| Ok(fake_tx("gap", n))))
            .await
            .unwrap();
        nonces.push(tx.nonce);
    }
    assert_eq!(nonces, (0..10).collect::<Vec<_>>());
    let pending = store.txs_with_status(&[TxStatus::Pending]).await.unwrap();
    assert_eq!(pending.iter().map(|t| t.nonce).collect::<Vec<_>>(), nonces);

    // The chain says the key was used elsewhere: jump ahead, never back.
    let jumped = store
        .allocate_nonce_and_record_tx(
            AllocateTx { min_nonce: 20, ..alloc(None, "a") },
            Box::new(|n| Ok(fake_tx("gap", n))),
        )
        .await
        .unwrap();
    assert_eq!(jumped.nonce, 20);
    let next = store
        .allocate_nonce_and_record_tx(
            AllocateTx { min_nonce: 3, ..alloc(None, "a") },
            Box::new(|n| Ok(fake_tx("gap", n))),
        )
        .await
        .unwrap();
    assert_eq!(next.nonce, 21);
    // Signers are independent.
    let other = store
        .allocate_nonce_and_record_tx(
            AllocateTx { signer: Address::repeat_byte(0x77), ..alloc(None, "a") },
            Box::new(|n| Ok(fake_tx("other", n))),
        )
        .await
        .unwrap();
    assert_eq!(other.nonce, 0);
}

async fn failed_or_panicking_build_writes_nothing<B: Backend>(backend: B) {
    let store = backend.open().await;
    let key = store.insert_payout_if_absent(release(1, 5)).await.unwrap().0.key;
    store.claim_due(5_000, 1, "a", LEASE).await.unwrap();
    send_other(store.as_ref()).await; // nonce 0 used by an unrelated transaction

    let err = store
        .allocate_nonce_and_record_tx(
            alloc(Some(&key), "a"),
            Box::new(|_| Err("signer offline".into())),
        )
        .await
        .unwrap_err();
    assert!(matches!(&err, StoreError::Build(m) if m == "signer offline"), "{err}");

    // A panic half-way (the process "crashes" inside the storage transaction).
    let crashing = backend.open().await;
    let panic_key = key.clone();
    let crashed = tokio::spawn(async move {
        crashing
            .allocate_nonce_and_record_tx(
                AllocateTx {
                    signer: SIGNER,
                    payout_key: Some(&panic_key),
                    holder: "a",
                    min_nonce: 0,
                },
                Box::new(|_| panic!("crash while signing")),
            )
            .await
    })
    .await;
    assert!(crashed.unwrap_err().is_panic());

    // Reopened: as before the two attempts.
    let store = backend.open().await;
    let payout = store.payout(&key).await.unwrap().unwrap();
    assert_eq!(payout.status, PayoutStatus::Sending);
    assert_eq!(payout.tx_id, None);
    assert_eq!(payout.lease.unwrap().holder, "a");
    assert_eq!(store.next_nonce(SIGNER).await.unwrap(), Some(1));
    assert_eq!(store.txs_with_status(TxStatus::ALL).await.unwrap().len(), 1);
    // The nonce was not lost: the next attempt gets it.
    let tx = send(store.as_ref(), &key, "a", "after crash").await;
    assert_eq!(tx.nonce, 1);
}

/// The batch methods: a refused item (lease lost, payout not sendable, signing failure,
/// duplicate hash) writes nothing and takes no nonce, the others are committed with consecutive
/// nonces; a panic in one `build` writes nothing of the whole batch; status updates likewise.
async fn batches_refuse_items_alone_and_commit_the_rest<B: Backend>(backend: B) {
    let store = backend.open().await;
    let mut keys = Vec::new();
    for job in 1..=6 {
        keys.push(store.insert_payout_if_absent(release(job, 5)).await.unwrap().0.key);
    }
    assert_eq!(store.claim_due(5_000, 10, "a", LEASE).await.unwrap().len(), 6);
    store.set_payout_status(&keys[2], Some("a"), PayoutStatus::Skipped, None).await.unwrap();

    let duplicate = fake_tx("first", 0).hash;
    let batch: Vec<(AllocateTx<'_>, shiftpay_relayer::store::BuildTx<'_>)> = vec![
        (alloc(Some(&keys[0]), "a"), Box::new(|n| Ok(fake_tx("first", n)))),
        (alloc(Some(&keys[1]), "b"), Box::new(|n| Ok(fake_tx("not b's", n)))),
        (alloc(Some(&keys[2]), "a"), Box::new(|n| Ok(fake_tx("skipped", n)))),
        (alloc(Some(&keys[3]), "a"), Box::new(|_| Err("signer offline".into()))),
        (
            alloc(Some(&keys[4]), "a"),
            Box::new(move |_| {
                Ok(NewTx { hash: duplicate, raw: Bytes::from_static(b"dup"), gas_price: 1 })
            }),
        ),
        (alloc(Some(&keys[5]), "a"), Box::new(|n| Ok(fake_tx("last", n)))),
    ];
    let results = store.allocate_nonces_and_record_txs(batch).await.unwrap();
    assert_eq!(results.len(), 6);
    let first = results[0].as_ref().unwrap().clone();
    let last = results[5].as_ref().unwrap().clone();
    assert_eq!((first.nonce, last.nonce), (0, 1), "refused items take no nonce");
    assert!(matches!(&results[1], Err(StoreError::LeaseLost { .. })), "{:?}", results[1]);
    assert!(matches!(&results[2], Err(StoreError::InvalidTransition { .. })), "{:?}", results[2]);
    assert!(matches!(&results[3], Err(StoreError::Build(m)) if m == "signer offline"));
    assert!(matches!(&results[4], Err(StoreError::DuplicateHash(h)) if *h == duplicate));

    // Reopened: exactly the two accepted items were written.
    let store = backend.open().await;
    assert_eq!(store.next_nonce(SIGNER).await.unwrap(), Some(2));
    assert_eq!(store.txs_with_status(TxStatus::ALL).await.unwrap().len(), 2);
    let status = |key: &String| {
        let store = store.clone();
        let key = key.clone();
        async move { store.payout(&key).await.unwrap().unwrap() }
    };
    assert_eq!(status(&keys[0]).await.tx_id, Some(first.id));
    assert_eq!(status(&keys[5]).await.tx_id, Some(last.id));
    assert_eq!(status(&keys[0]).await.status, PayoutStatus::Sent);
    assert_eq!(status(&keys[2]).await.status, PayoutStatus::Skipped);
    for refused in [1, 3, 4] {
        let payout = status(&keys[refused]).await;
        assert_eq!(payout.status, PayoutStatus::Sending, "payout {refused}");
        assert_eq!(payout.tx_id, None);
        assert_eq!(payout.lease.unwrap().holder, "a");
    }

    // A panic in the second build: the whole batch is rolled back, the first item included.
    let crashing = backend.open().await;
    let (k1, k3) = (keys[1].clone(), keys[3].clone());
    let crashed = tokio::spawn(async move {
        let batch: Vec<(AllocateTx<'_>, shiftpay_relayer::store::BuildTx<'_>)> = vec![
            (alloc(Some(&k1), "a"), Box::new(|n| Ok(fake_tx("before the crash", n)))),
            (alloc(Some(&k3), "a"), Box::new(|_| panic!("crash while signing"))),
        ];
        crashing.allocate_nonces_and_record_txs(batch).await
    })
    .await;
    assert!(crashed.unwrap_err().is_panic());
    let store = backend.open().await;
    assert_eq!(store.next_nonce(SIGNER).await.unwrap(), Some(2));
    assert_eq!(store.txs_with_status(TxStatus::ALL).await.unwrap().len(), 2);
    assert_eq!(store.payout(&keys[1]).await.unwrap().unwrap().tx_id, None);

    // Status updates: a refused one (unknown id, a move back from Confirmed) changes nothing,
    // the others are written.
    let confirm = |block| TxUpdate {
        status: TxStatus::Confirmed,
        mined_block: Some(block),
        payout_status: Some(PayoutStatus::Confirmed),
        error: None,
    };
    let mined = TxUpdate {
        status: TxStatus::Mined,
        mined_block: Some(7),
        payout_status: None,
        error: None,
    };
    let results = store
        .set_txs_status(vec![
            (first.id, mined),
            (shiftpay_relayer::store::TxId(first.id.0 + 1_000), confirm(8)),
            (last.id, confirm(8)),
        ])
        .await
        .unwrap();
    assert_eq!(results[0].as_ref().unwrap().status, TxStatus::Mined);
    assert!(matches!(&results[1], Err(StoreError::TxNotFound(_))), "{:?}", results[1]);
    assert_eq!(results[2].as_ref().unwrap().status, TxStatus::Confirmed);
    let back =
        TxUpdate { status: TxStatus::Pending, mined_block: None, payout_status: None, error: None };
    let results =
        store.set_txs_status(vec![(last.id, back), (first.id, confirm(9))]).await.unwrap();
    assert!(matches!(&results[0], Err(StoreError::InvalidTransition { .. })), "{:?}", results[0]);
    assert_eq!(results[1].as_ref().unwrap().mined_block, Some(9));

    let store = backend.open().await;
    assert_eq!(store.tx(last.id).await.unwrap().unwrap().status, TxStatus::Confirmed);
    assert_eq!(store.tx(first.id).await.unwrap().unwrap().status, TxStatus::Confirmed);
    for key in [&keys[0], &keys[5]] {
        assert_eq!(store.payout(key).await.unwrap().unwrap().status, PayoutStatus::Confirmed);
    }
}

/// The sender's nonce-gap filler: checked free, signed and recorded in one storage
/// transaction; followed up like any transaction; seen after a reopen; never twice per nonce.
async fn gap_fills_are_recorded_like_every_send<B: Backend>(backend: B) {
    let store = backend.open().await;
    // Nonces 0..3 allocated, then the chain's pending count made the store jump to 5: 3 and 4
    // are holes no record covers.
    for _ in 0..3 {
        send_other(store.as_ref()).await;
    }
    let jumped = store
        .allocate_nonce_and_record_tx(
            AllocateTx { min_nonce: 5, ..alloc(None, "a") },
            Box::new(|n| Ok(fake_tx("jump", n))),
        )
        .await
        .unwrap();
    assert_eq!(jumped.nonce, 5);

    let fill =
        store.record_gap_fill(SIGNER, 3, Box::new(|n| Ok(fake_tx("fill", n)))).await.unwrap();
    assert_eq!((fill.nonce, fill.status, fill.payout_key.as_deref()), (3, TxStatus::Pending, None));
    assert_eq!(fill.hashes, vec![fake_tx("fill", 3).hash]);
    // Below the next nonce: the next allocation is unchanged.
    assert_eq!(store.next_nonce(SIGNER).await.unwrap(), Some(6));

    // Taken nonces are refused whatever their record's status, before anything is signed.
    for taken in [0, 3, 5] {
        let err = store
            .record_gap_fill(SIGNER, taken, Box::new(|_| panic!("must not sign")))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::NonceTaken { signer, nonce } if signer == SIGNER && nonce == taken),
            "{err}"
        );
    }
    // A failing or panicking build writes nothing and leaves the nonce free.
    let err = store
        .record_gap_fill(SIGNER, 4, Box::new(|_| Err("signer offline".into())))
        .await
        .unwrap_err();
    assert!(matches!(&err, StoreError::Build(m) if m == "signer offline"), "{err}");
    let crashing = backend.open().await;
    let crashed = tokio::spawn(async move {
        crashing.record_gap_fill(SIGNER, 4, Box::new(|_| panic!("crash while signing"))).await
    })
    .await;
    assert!(crashed.unwrap_err().is_panic());
    // A hash already recorded is refused too.
    let dup = fill.hashes[0];
    let err = store
        .record_gap_fill(
            SIGNER,
            4,
            Box::new(move |_| Ok(NewTx { hash: dup, raw: Bytes::from_static(&[1]), gas_price: 1 })),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::DuplicateHash(h) if h == dup), "{err}");

    // A restart sees it: open, by hash, in nonce order among the signer's transactions.
    store.close().await;
    let store = backend.open().await;
    assert_eq!(store.tx_by_hash(fill.hash()).await.unwrap().unwrap().id, fill.id);
    let open: Vec<u64> = store
        .txs_with_status(&[TxStatus::Pending, TxStatus::Mined, TxStatus::Dropped])
        .await
        .unwrap()
        .iter()
        .map(|tx| tx.nonce)
        .collect();
    assert_eq!(open, [0, 1, 2, 3, 5]);
    // Replaced and confirmed like any transaction (no payout to change with it).
    let v2 = store.record_replacement(fill.id, fake_tx("fill v2", 3)).await.unwrap();
    assert_eq!(v2.hashes.len(), 2);
    for status in [TxStatus::Mined, TxStatus::Confirmed] {
        let update = TxUpdate {
            status,
            mined_block: Some(9),
            payout_status: Some(PayoutStatus::Confirmed),
            error: None,
        };
        assert_eq!(store.set_tx_status(fill.id, update).await.unwrap().status, status);
    }
    assert!(store.payout_counts().await.unwrap().values().all(|&n| n == 0));

    // The other hole, and one above the next nonce (the next allocation follows it).
    let four =
        store.record_gap_fill(SIGNER, 4, Box::new(|n| Ok(fake_tx("fill", n)))).await.unwrap();
    assert_eq!(four.nonce, 4);
    assert_eq!(store.next_nonce(SIGNER).await.unwrap(), Some(6));
    store.record_gap_fill(SIGNER, 8, Box::new(|n| Ok(fake_tx("fill", n)))).await.unwrap();
    assert_eq!(store.next_nonce(SIGNER).await.unwrap(), Some(9));
    // A signer that never signed starts its count after the fill.
    let other = Address::repeat_byte(0x77);
    store.record_gap_fill(other, 2, Box::new(|n| Ok(fake_tx("other fill", n)))).await.unwrap();
    assert_eq!(store.next_nonce(other).await.unwrap(), Some(3));
}

/// `finalize:{escrow}:{job}`: one per job whatever the notice says, removed with its block by a
/// reorg while unsent, kept once sent.
async fn finalize_payouts_are_keyed_per_job_and_rolled_back<B: Backend>(backend: B) {
    let store = backend.open().await;
    let first = NewPayout::finalize_cancel(ESCROW, U256::from(1), 2_000, 10);
    let (stored, inserted) = store.insert_payout_if_absent(first.clone()).await.unwrap();
    assert!(inserted);
    assert_eq!((stored.due_at, stored.status), (2_001, PayoutStatus::Pending));
    assert_eq!(stored.kind, first.kind);
    let again = NewPayout::finalize_cancel(ESCROW, U256::from(1), 3_000, 11);
    let (stored, inserted) = store.insert_payout_if_absent(again).await.unwrap();
    assert!(!inserted);
    assert_eq!(stored.due_at, 2_001);
    let other = NewPayout::finalize_cancel(ESCROW, U256::from(2), 2_500, 12);
    store.insert_payout_if_absent(other.clone()).await.unwrap();
    // Not due before the notice is over.
    assert!(store.claim_due(2_000, 10, "a", LEASE).await.unwrap().is_empty());
    let claimed = store.claim_due(2_001, 10, "a", LEASE).await.unwrap();
    assert_eq!(claimed.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(), [first.key.as_str()]);
    send(store.as_ref(), &first.key, "a", "finalize").await;
    // A reorg below both events: the sent one stays, the unsent one goes.
    let rollback = store.rollback_to(9).await.unwrap();
    assert_eq!(rollback.payouts_removed, vec![other.key.clone()]);
    assert_eq!(store.payout(&first.key).await.unwrap().unwrap().status, PayoutStatus::Sent);
    assert!(store.payout(&other.key).await.unwrap().is_none());
}

async fn send_other(store: &dyn Store) {
    store
        .allocate_nonce_and_record_tx(alloc(None, "a"), Box::new(|n| Ok(fake_tx("other", n))))
        .await
        .unwrap();
}

async fn replacements_and_lookups<B: Backend>(backend: B) {
    let store = backend.open().await;
    let key = store.insert_payout_if_absent(release(1, 5)).await.unwrap().0.key;
    store.claim_due(5_000, 1, "a", LEASE).await.unwrap();
    let tx = send(store.as_ref(), &key, "a", "v1").await;
    assert_eq!(tx.hashes.len(), 1);
    assert_eq!(tx.payout_key.as_deref(), Some(key.as_str()));
    let original = tx.hash();

    let bumped = NewTx { hash: hash("v2"), raw: Bytes::from_static(b"v2"), gas_price: 91_000_000 };
    let replaced = store.record_replacement(tx.id, bumped.clone()).await.unwrap();
    assert_eq!(replaced.hashes, vec![original, bumped.hash]);
    assert_eq!(replaced.hash(), bumped.hash);
    assert_eq!(replaced.raw, bumped.raw);
    assert_eq!(replaced.gas_price, 91_000_000);
    assert_eq!(replaced.nonce, tx.nonce);
    let err = store.record_replacement(tx.id, bumped).await.unwrap_err();
    assert!(matches!(err, StoreError::DuplicateHash(_)), "{err}");

    for h in [original, hash("v2")] {
        assert_eq!(store.tx_by_hash(h).await.unwrap().map(|t| t.id), Some(tx.id));
    }
    assert_eq!(store.tx_by_hash(hash("unknown")).await.unwrap(), None);
    assert_eq!(store.tx(tx.id).await.unwrap().unwrap().hashes.len(), 2);

    let mined = TxUpdate {
        status: TxStatus::Mined,
        mined_block: Some(7),
        payout_status: None,
        error: None,
    };
    store.set_tx_status(tx.id, mined).await.unwrap();
    let err = store
        .record_replacement(tx.id, NewTx { hash: hash("v3"), raw: Bytes::new(), gas_price: 1 })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidTransition { .. }), "{err}");
    assert_eq!(store.txs_with_status(&[TxStatus::Mined]).await.unwrap().len(), 1);

    // A reorg un-mines it; then someone else's transaction takes the nonce and pays the
    // milestone: the payout is done without us.
    let reorged =
        TxUpdate { status: TxStatus::Pending, mined_block: None, payout_status: None, error: None };
    assert_eq!(store.set_tx_status(tx.id, reorged).await.unwrap().mined_block, None);
    let replaced = TxUpdate {
        status: TxStatus::Replaced,
        mined_block: None,
        payout_status: Some(PayoutStatus::Skipped),
        error: Some("nonce used by another transaction".into()),
    };
    store.set_tx_status(tx.id, replaced).await.unwrap();
    let payout = store.payout(&key).await.unwrap().unwrap();
    assert_eq!(payout.status, PayoutStatus::Skipped);
    assert_eq!(payout.last_error.as_deref(), Some("nonce used by another transaction"));
}

async fn request_status_follows_its_payout<B: Backend>(backend: B) {
    let store = backend.open().await;
    let new = |tag: &str| NewRequest {
        id: RequestId::new(),
        kind: RequestKind::Withdraw,
        payload: serde_json::json!({ "streamId": "7", "signature": tag }),
        signer: Address::repeat_byte(0x33),
        digest: hash(tag),
        due_at: 100,
    };
    let first = new("sig-1");
    let (stored, inserted) = store.insert_request(first.clone()).await.unwrap();
    assert!(inserted);
    assert_eq!(stored.id, first.id);
    assert_eq!(stored.status, RequestStatus::Queued);
    assert_eq!(stored.payload, first.payload);
    assert_eq!(stored.tx_hash, None);

    // The same signature posted again: the first request, nothing added.
    let replay = NewRequest { id: RequestId::new(), ..first.clone() };
    let (existing, inserted) = store.insert_request(replay.clone()).await.unwrap();
    assert!(!inserted);
    assert_eq!(existing.id, first.id);
    assert_eq!(store.request(replay.id).await.unwrap(), None);

    let key = request_payout_key(first.id);
    let claimed = store.claim_due(100, 10, "a", LEASE).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(store.request(first.id).await.unwrap().unwrap().status, RequestStatus::Sending);
    let tx = send(store.as_ref(), &key, "a", "request").await;
    let sent = store.request(first.id).await.unwrap().unwrap();
    assert_eq!(sent.status, RequestStatus::Sent);
    assert_eq!(sent.tx_hash, Some(tx.hash()));
    let confirm = TxUpdate {
        status: TxStatus::Confirmed,
        mined_block: Some(3),
        payout_status: Some(PayoutStatus::Confirmed),
        error: None,
    };
    store.set_tx_status(tx.id, confirm).await.unwrap();
    assert_eq!(store.request(first.id).await.unwrap().unwrap().status, RequestStatus::Confirmed);

    let second = new("sig-2");
    store.insert_request(second.clone()).await.unwrap();
    store.claim_due(100, 10, "a", LEASE).await.unwrap();
    store
        .set_payout_status(
            &request_payout_key(second.id),
            Some("a"),
            PayoutStatus::Skipped,
            Some("nonce already used"),
        )
        .await
        .unwrap();
    let rejected = store.request(second.id).await.unwrap().unwrap();
    assert_eq!(rejected.status, RequestStatus::Rejected);
    assert_eq!(rejected.error.as_deref(), Some("nonce already used"));
    assert_eq!(store.request(RequestId::new()).await.unwrap(), None);
}

async fn committed_state_survives_drop_without_close<B: Backend>(backend: B) {
    {
        let store = backend.open().await;
        store
            .advance(Advance {
                cursor: Cursor { block: 3, hash: block(3).hash },
                blocks: vec![block(2), block(3)],
                payouts: vec![release(1, 2)],
                prune_below: None,
            })
            .await
            .unwrap();
        store.claim_due(5_000, 1, "a", LEASE).await.unwrap();
        send(store.as_ref(), &release(1, 0).key, "a", "drop").await;
        // Dropped without close(): the process died.
    }
    let store = backend.open().await;
    assert_eq!(store.cursor().await.unwrap().map(|c| c.block), Some(3));
    assert_eq!(store.block_hash(2).await.unwrap(), Some(block(2).hash));
    assert_eq!(store.payout(&release(1, 0).key).await.unwrap().unwrap().status, PayoutStatus::Sent);
    assert_eq!(store.next_nonce(SIGNER).await.unwrap(), Some(1));
}

// ---- several instances on one PostgreSQL database ------------------------------------------

/// Two instances (two pools) on one schema, one signer, eight workers claiming and sending at
/// once: every payout is claimed by one worker and paid by one transaction, the nonces are
/// 0..n with none used twice, and the gap fills of two instances racing for the same holes
/// take each hole once. Then a lease that expires moves a payout to the other instance, and the
/// instance that lost it can no longer send it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_instances_share_one_signer_without_reusing_a_nonce() {
    const PAYOUTS: u32 = 60;
    let db = postgres().await;
    let instances = [db.open().await, db.open().await];
    for i in 0..PAYOUTS {
        instances[0]
            .insert_payout_if_absent(NewPayout::payday(PAYROLL, 100, i, vec![]))
            .await
            .unwrap();
    }
    let mut workers = Vec::new();
    for w in 0..8usize {
        let store = Arc::clone(&instances[w % 2]);
        workers.push(tokio::spawn(async move {
            let holder = format!("instance{}/worker{w}", w % 2);
            let (mut claimed, mut own_txs) = (Vec::new(), 0u64);
            loop {
                let batch = store.claim_due(100, 2, &holder, LEASE).await.unwrap();
                if batch.is_empty() {
                    return (claimed, own_txs);
                }
                for payout in batch {
                    send(store.as_ref(), &payout.key, &holder, &holder).await;
                    claimed.push(payout.key);
                }
                // A transaction without a payout, on the same signer, now and then.
                if claimed.len() % 3 == 0 {
                    let tag = holder.clone();
                    store
                        .allocate_nonce_and_record_tx(
                            alloc(None, &holder),
                            Box::new(move |n| Ok(fake_tx(&tag, n))),
                        )
                        .await
                        .unwrap();
                    own_txs += 1;
                }
            }
        }));
    }
    let (mut claimed, mut own_txs) = (Vec::new(), 0);
    for worker in workers {
        let (keys, txs) = worker.await.unwrap();
        claimed.extend(keys);
        own_txs += txs;
    }
    let unique: HashSet<&String> = claimed.iter().collect();
    assert_eq!(claimed.len(), PAYOUTS as usize, "every payout claimed once");
    assert_eq!(unique.len(), PAYOUTS as usize, "no payout claimed by two workers");

    let store = instances[1].as_ref();
    let txs = store.txs_with_status(TxStatus::ALL).await.unwrap();
    let total = u64::from(PAYOUTS) + own_txs;
    assert_eq!(
        txs.iter().map(|tx| tx.nonce).collect::<Vec<_>>(),
        (0..total).collect::<Vec<_>>(),
        "nonces gap-free, none used twice"
    );
    assert_eq!(store.next_nonce(SIGNER).await.unwrap(), Some(total));
    let mut paid = HashSet::new();
    for tx in txs.iter().filter(|tx| tx.payout_key.is_some()) {
        let key = tx.payout_key.clone().unwrap();
        let payout = store.payout(&key).await.unwrap().unwrap();
        assert_eq!((payout.status, payout.tx_id), (PayoutStatus::Sent, Some(tx.id)));
        assert!(paid.insert(key), "a payout with two transactions");
    }
    assert_eq!(paid.len(), PAYOUTS as usize);
    eprintln!("{total} transactions from 8 workers on 2 instances: nonces 0..{total}, unique");

    // Holes below the next nonce, filled by both instances at once: each hole once.
    let jumped = store
        .allocate_nonce_and_record_tx(
            AllocateTx { min_nonce: total + 4, ..alloc(None, "a") },
            Box::new(|n| Ok(fake_tx("jump", n))),
        )
        .await
        .unwrap();
    assert_eq!(jumped.nonce, total + 4);
    let mut fills = Vec::new();
    for (i, instance) in instances.iter().chain(instances.iter()).enumerate() {
        let instance = Arc::clone(instance);
        fills.push(tokio::spawn(async move {
            let mut won = Vec::new();
            for nonce in total..total + 4 {
                let tag = format!("fill {i}");
                match instance
                    .record_gap_fill(SIGNER, nonce, Box::new(move |n| Ok(fake_tx(&tag, n))))
                    .await
                {
                    Ok(tx) => won.push(tx.nonce),
                    Err(StoreError::NonceTaken { nonce: taken, .. }) => assert_eq!(taken, nonce),
                    Err(err) => panic!("gap fill {nonce}: {err}"),
                }
            }
            won
        }));
    }
    let mut filled = Vec::new();
    for fill in fills {
        filled.extend(fill.await.unwrap());
    }
    filled.sort_unstable();
    assert_eq!(filled, (total..total + 4).collect::<Vec<_>>(), "each hole filled once");
    assert_eq!(store.next_nonce(SIGNER).await.unwrap(), Some(total + 5));

    // Instance 0 claims and dies silently; once its lease is over instance 1 takes the payout,
    // and the late instance 0 cannot send it any more.
    let key = store
        .insert_payout_if_absent(NewPayout::payday(PAYROLL, 500, 0, vec![]))
        .await
        .unwrap()
        .0
        .key;
    assert_eq!(instances[0].claim_due(500, 10, "dead", LEASE).await.unwrap().len(), 1);
    assert!(instances[1].claim_due(560, 10, "alive", LEASE).await.unwrap().is_empty());
    let taken = instances[1].claim_due(561, 10, "alive", LEASE).await.unwrap();
    assert_eq!(
        taken.iter().map(|p| (p.key.as_str(), p.attempts)).collect::<Vec<_>>(),
        [(key.as_str(), 2)]
    );
    let (late, alive) = tokio::join!(
        instances[0].allocate_nonce_and_record_tx(
            alloc(Some(&key), "dead"),
            Box::new(|n| Ok(fake_tx("late", n)))
        ),
        instances[1].allocate_nonce_and_record_tx(
            alloc(Some(&key), "alive"),
            Box::new(|n| Ok(fake_tx("alive", n)))
        ),
    );
    // Refused whichever commits first: the lease is not its own (LeaseLost), or the payout is
    // already Sent by the other (InvalidTransition).
    assert!(
        matches!(late, Err(StoreError::LeaseLost { .. } | StoreError::InvalidTransition { .. })),
        "{late:?}"
    );
    let alive = alive.unwrap();
    assert_eq!(alive.nonce, total + 5);
    assert_eq!(store.payout(&key).await.unwrap().unwrap().tx_id, Some(alive.id));

    for instance in &instances {
        instance.close().await;
    }
    // The guard drops the schema.
    let schema = db.schema.clone();
    drop(db);
    let mut conn = sqlx::PgConnection::connect(&postgres_url()).await.unwrap();
    let left: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = $1",
    )
    .bind(&schema)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(left, 0, "schema {schema} left behind");
}

/// The same signed request posted to two instances at once, many times over: one request and
/// one payout per signature, both callers told about the same request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_instances_store_one_request_per_signature() {
    let db = postgres().await;
    let instances = [db.open().await, db.open().await];
    for round in 0..20 {
        let tag = format!("sig {round}");
        let posts = instances.iter().chain(instances.iter()).map(|instance| {
            let instance = Arc::clone(instance);
            let request = NewRequest {
                id: RequestId::new(),
                kind: RequestKind::Approve,
                payload: serde_json::json!({ "signature": tag }),
                signer: Address::repeat_byte(0x33),
                digest: hash(&tag),
                due_at: 100,
            };
            tokio::spawn(async move { instance.insert_request(request).await.unwrap() })
        });
        let mut answers = Vec::new();
        for post in posts.collect::<Vec<_>>() {
            answers.push(post.await.unwrap());
        }
        assert_eq!(answers.iter().filter(|(_, inserted)| *inserted).count(), 1, "{round}");
        assert!(answers.iter().all(|(request, _)| request.id == answers[0].0.id), "{round}");
    }
    let counts = instances[0].payout_counts().await.unwrap();
    assert_eq!(counts[&PayoutStatus::Pending], 20, "one payout per signature");
    assert_eq!(counts.values().sum::<u64>(), 20);
}

/// The cursor's leader lease: one holder at a time, renewed by its holder, refused to the
/// others while it runs, taken over once it ended (the holder died), at once after a release;
/// of eight instances racing for an ended lease exactly one gets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cursor_lease_passes_to_another_instance_when_it_ends() {
    use shiftpay_relayer::store::CURSOR_LEASE;
    const TERM: Duration = Duration::from_secs(30);
    let db = postgres().await;
    let (a, b) = (db.open().await, db.open().await);
    let holder = |lease: shiftpay_relayer::store::Lease| (lease.holder, lease.until);
    assert_eq!(
        holder(a.acquire_lease(CURSOR_LEASE, "a", 100, TERM).await.unwrap()),
        ("a".into(), 130)
    );
    assert_eq!(
        holder(b.acquire_lease(CURSOR_LEASE, "b", 120, TERM).await.unwrap()),
        ("a".into(), 130)
    );
    // Renewed by its holder; still refused to the other until it ends.
    assert_eq!(
        holder(a.acquire_lease(CURSOR_LEASE, "a", 125, TERM).await.unwrap()),
        ("a".into(), 155)
    );
    assert_eq!(
        holder(b.acquire_lease(CURSOR_LEASE, "b", 155, TERM).await.unwrap()),
        ("a".into(), 155)
    );
    // `a` died: `b` takes over; `a` coming back finds it taken.
    assert_eq!(
        holder(b.acquire_lease(CURSOR_LEASE, "b", 156, TERM).await.unwrap()),
        ("b".into(), 186)
    );
    assert_eq!(
        holder(a.acquire_lease(CURSOR_LEASE, "a", 157, TERM).await.unwrap()),
        ("b".into(), 186)
    );
    // Releasing another's lease does nothing; releasing one's own frees it at once.
    a.release_lease(CURSOR_LEASE, "a").await.unwrap();
    assert_eq!(b.acquire_lease(CURSOR_LEASE, "a", 158, TERM).await.unwrap().holder, "b");
    b.release_lease(CURSOR_LEASE, "b").await.unwrap();
    assert_eq!(
        holder(a.acquire_lease(CURSOR_LEASE, "a", 158, TERM).await.unwrap()),
        ("a".into(), 188)
    );
    // Other names are independent leases.
    assert_eq!(b.acquire_lease("other", "b", 158, TERM).await.unwrap().holder, "b");

    // Eight instances race for the lease once it ended: one wins, all agree on the winner.
    let mut racers = Vec::new();
    for i in 0..8 {
        let store = db.open().await;
        racers.push(tokio::spawn(async move {
            let me = format!("racer{i}");
            let lease = store.acquire_lease(CURSOR_LEASE, &me, 1_000, TERM).await.unwrap();
            store.close().await;
            (me, lease)
        }));
    }
    let mut results = Vec::new();
    for racer in racers {
        results.push(racer.await.unwrap());
    }
    let winners: Vec<&String> =
        results.iter().filter(|(me, lease)| *me == lease.holder).map(|(me, _)| me).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(results.iter().all(|(_, lease)| lease.holder == *winners[0] && lease.until == 1_030));

    // The single-instance backends grant it always (one relayer per SQLite file).
    let memory = MemoryStore::new();
    for who in ["a", "b"] {
        assert_eq!(memory.acquire_lease(CURSOR_LEASE, who, 100, TERM).await.unwrap().holder, who);
    }
}

/// `shiftpay-relayer migrate --config FILE` on a `postgres://` storage URL: the first run
/// applies and lists the migrations and creates the tables, the second applies nothing; the
/// store then opens on the migrated schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_subcommand_applies_the_postgres_migrations_once() {
    let db = postgres().await;
    let dir = tempfile::tempdir().unwrap();
    crate::common::fake_deployment(dir.path(), 33);
    let config = dir.path().join("relayer.toml");
    std::fs::write(&config, "chain = \"devnet\"\n").unwrap();
    let migrate = || {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_shiftpay-relayer"))
            .args(["migrate", "--config"])
            .arg(&config)
            .env_clear()
            .env("HOME", dir.path())
            .env("SHIFTPAY_PRIVATE_KEY", crate::common::DEV_KEY)
            .env("SHIFTPAY_DATABASE_URL", db.storage_url())
            .output()
            .unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(output.status.success(), "{stderr}");
        (stdout, stderr)
    };
    let (stdout, stderr) = migrate();
    let expected: Vec<String> = shiftpay_relayer::store::migrations::POSTGRES
        .iter()
        .map(|m| format!("applied {} {} (postgres)", m.version, m.description))
        .collect();
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected, "{stderr}");
    assert!(stdout.contains("applied 1 init (postgres)"), "{stdout}");
    let mut conn = sqlx::PgConnection::connect(&postgres_url()).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 \
         ORDER BY table_name",
    )
    .bind(&db.schema)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for table in ["blocks", "cursor", "nonces", "payouts", "requests", "tx_hashes", "txs"] {
        assert!(tables.iter().any(|t| t == table), "{table} missing from {tables:?}");
    }
    // Up to date: nothing applied, nothing printed on stdout.
    let (stdout, stderr) = migrate();
    assert_eq!(stdout, "", "{stderr}");
    assert!(stderr.contains("0 migrations applied"), "{stderr}");
    // The password-free URL is shown, the schema's store opens and works.
    assert!(stderr.contains("postgres://127.0.0.1:5432/"), "{stderr}");
    let store = db.open().await;
    assert_eq!(store.backend(), "postgres");
    assert!(store.insert_payout_if_absent(release(1, 1)).await.unwrap().1);
    store.close().await;
}

/// Several migrators on one fresh schema at once (`migrate` runs and instances starting, as
/// when a deployment starts every instance together): every one succeeds, each migration is
/// applied once (by whichever took the database's migration lock first), and the schema works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrators_on_a_fresh_schema_all_succeed() {
    use shiftpay_relayer::store::{StorageUrl, migrations};
    let db = postgres().await;
    let url = StorageUrl::Postgres(db.storage_url());
    let mut migrators = Vec::new();
    for _ in 0..4 {
        let url = url.clone();
        migrators.push(tokio::spawn(async move { migrations::apply(&url).await }));
    }
    let mut opens = Vec::new();
    for _ in 0..4 {
        let options = db.options();
        opens.push(tokio::spawn(async move { PostgresStore::connect_with(options).await }));
    }
    let mut applied = Vec::new();
    for migrator in migrators {
        let migrated = migrator.await.unwrap().expect("a concurrent `migrate` succeeds");
        assert_eq!(migrated.total, migrations::POSTGRES.iter().count());
        applied.extend(migrated.applied.into_iter().map(|m| m.version));
    }
    for open in opens {
        open.await.unwrap().expect("an instance starting beside migrators opens").close().await;
    }
    let mut unique = applied.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), applied.len(), "a migration applied twice: {applied:?}");
    let store = db.open().await;
    assert!(store.insert_payout_if_absent(release(1, 1)).await.unwrap().1);
    store.close().await;
}

// ---- kill -9 (SQLite only: a real process dies mid-write) -----------------------------------

/// The database path a crash child writes to.
const CRASH_DB_ENV: &str = "SHIFTPAY_RELAYER_TEST_CRASH_DB";

/// Not a test on its own: the child process of [`sqlite_survives_kill_9`]. It loops over the
/// whole payout life (insert, claim, allocate + record, confirm) until it is killed.
#[tokio::test]
#[ignore = "child process of sqlite_survives_kill_9"]
async fn crash_child() {
    let Ok(path) = std::env::var(CRASH_DB_ENV) else { return };
    let store = SqliteStore::open(path.as_ref()).await.unwrap();
    let holder = format!("child{}", std::process::id());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut i = 0u64;
    while std::time::Instant::now() < deadline {
        i += 1;
        let key = format!("crash:{}:{i}", std::process::id());
        store
            .insert_payout_if_absent(NewPayout {
                key: key.clone(),
                kind: shiftpay_relayer::store::PayoutKind::Payday {
                    payroll: PAYROLL,
                    slot: i,
                    stream_ids: vec![],
                },
                due_at: 0,
                source_block: None,
            })
            .await
            .unwrap();
        for payout in store.claim_due(1, 4, &holder, LEASE).await.unwrap() {
            let tag = payout.key.clone();
            let tx = store
                .allocate_nonce_and_record_tx(
                    AllocateTx {
                        signer: SIGNER,
                        payout_key: Some(&payout.key),
                        holder: &holder,
                        min_nonce: 0,
                    },
                    Box::new(move |n| Ok(fake_tx(&tag, n))),
                )
                .await
                .unwrap();
            if i.is_multiple_of(2) {
                let update = TxUpdate {
                    status: TxStatus::Confirmed,
                    mined_block: Some(i),
                    payout_status: Some(PayoutStatus::Confirmed),
                    error: None,
                };
                store.set_tx_status(tx.id, update).await.unwrap();
            }
        }
    }
}

/// Checks the invariants a crash must never break.
async fn check_consistent(store: &dyn Store) -> usize {
    let txs = store.txs_with_status(TxStatus::ALL).await.unwrap();
    let nonces: Vec<u64> = txs.iter().map(|t| t.nonce).collect();
    assert_eq!(nonces, (0..txs.len() as u64).collect::<Vec<_>>(), "nonces gap-free and unique");
    let next = store.next_nonce(SIGNER).await.unwrap();
    assert_eq!(next, if txs.is_empty() { None } else { Some(txs.len() as u64) });
    let mut paid = BTreeSet::new();
    for tx in &txs {
        let key = tx.payout_key.as_ref().expect("every child tx pays a payout");
        assert!(paid.insert(key.clone()), "payout {key} has two transactions");
        let payout = store.payout(key).await.unwrap().expect("the payout of a tx exists");
        assert_eq!(payout.tx_id, Some(tx.id));
        assert!(matches!(payout.status, PayoutStatus::Sent | PayoutStatus::Confirmed));
        assert_eq!(payout.status == PayoutStatus::Confirmed, tx.status == TxStatus::Confirmed);
    }
    let without_tx = store
        .payouts_with_status(&[PayoutStatus::Sent, PayoutStatus::Confirmed], usize::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter(|p| !paid.contains(&p.key))
        .count();
    assert_eq!(without_tx, 0, "a sent payout without a transaction");
    for payout in store.payouts_with_status(&[PayoutStatus::Sending], usize::MAX).await.unwrap() {
        assert!(payout.lease.is_some(), "a claimed payout without a lease");
    }
    txs.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    // Create and migrate first, so that every child starts writing at once.
    SqliteStore::open(&path).await.unwrap().close().await;
    let exe = std::env::current_exe().unwrap();
    let mut total = 0;
    for round in 0..4u64 {
        let mut child = std::process::Command::new(&exe)
            .args(["--exact", "store::crash_child", "--ignored", "--test-threads=1"])
            .env(CRASH_DB_ENV, &path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // A kill point that varies with the clock and the round.
        let jitter = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64
            % 250;
        tokio::time::sleep(Duration::from_millis(300 + round * 70 + jitter)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let store = SqliteStore::open(&path).await.unwrap();
        let count = check_consistent(&store).await;
        eprintln!("after kill -9 #{round}: {count} transactions, consistent");
        assert!(count >= total, "transactions lost: {count} < {total}");
        total = count;
        store.close().await;
    }
    assert!(total > 0, "the children wrote nothing: nothing was tested");
}
