//! The storage test suite: the same tests against every [`Store`] backend.
//!
//! Each test is a generic `async fn name<B: Backend>(backend: B)`; `store_suite!` instantiates
//! it once per backend (`store::memory::name`, `store::sqlite::name`). Issue 14 adds a
//! PostgreSQL `Backend` and one line to the macro. "Reopening" gives a new handle on the same
//! data: the same file for SQLite, the same shared state for the in-memory store.

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
    request_payout_key, sqlite::SqliteStore,
};

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
