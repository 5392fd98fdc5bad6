//! [`MemoryStore`]: the [`Store`] in a mutex, for tests and benchmarks (`storage = "memory://"`).
//!
//! Each method takes the lock once, checks everything, then changes the state, so a method is as
//! atomic as a database transaction: a failed check changes nothing, and the one piece of caller
//! code that runs under the lock (the `build` closure of
//! [`Store::allocate_nonce_and_record_tx`]) runs before any change, so a panic in it leaves the
//! state as it was (the lock is taken back from the poison).

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use alloy::primitives::{Address, B256};
use async_trait::async_trait;

use super::{
    Advance, Advanced, AllocateTx, ApiRequest, BlockRef, BuildTx, Cursor, Lease, NewPayout,
    NewRequest, NewTx, Payout, PayoutStatus, RequestId, RequestKind, Rollback, Store, StoreError,
    StoreResult, TxId, TxRecord, TxStatus, TxUpdate, check_can_send, check_set_payout_status,
    check_tx_payout_update, check_tx_transition, lease_end, request_payout_key, unix_now,
};

/// A request row (its status lives in its payout).
#[derive(Debug, Clone)]
struct RequestRow {
    kind: RequestKind,
    payload: serde_json::Value,
    signer: Address,
    digest: B256,
    created_at: u64,
}

#[derive(Debug, Default, Clone)]
struct State {
    cursor: Option<Cursor>,
    blocks: BTreeMap<u64, BlockRef>,
    payouts: BTreeMap<String, Payout>,
    txs: BTreeMap<TxId, TxRecord>,
    hashes: HashMap<B256, TxId>,
    nonces: HashMap<Address, u64>,
    requests: BTreeMap<RequestId, RequestRow>,
    digests: HashMap<B256, RequestId>,
    next_tx_id: i64,
}

impl State {
    fn payout(&self, key: &str) -> StoreResult<&Payout> {
        self.payouts.get(key).ok_or_else(|| StoreError::PayoutNotFound { key: key.to_owned() })
    }

    fn payout_mut(&mut self, key: &str) -> StoreResult<&mut Payout> {
        self.payouts.get_mut(key).ok_or_else(|| StoreError::PayoutNotFound { key: key.to_owned() })
    }

    fn tx(&self, id: TxId) -> StoreResult<&TxRecord> {
        self.txs.get(&id).ok_or_else(|| StoreError::TxNotFound(id.to_string()))
    }

    fn insert_payout(&mut self, new: NewPayout, now: u64) -> (Payout, bool) {
        if let Some(existing) = self.payouts.get(&new.key) {
            return (existing.clone(), false);
        }
        let payout = Payout {
            key: new.key.clone(),
            kind: new.kind,
            due_at: new.due_at,
            status: PayoutStatus::Pending,
            source_block: new.source_block,
            attempts: 0,
            last_error: None,
            tx_id: None,
            lease: None,
            created_at: now,
            updated_at: now,
        };
        self.payouts.insert(new.key, payout.clone());
        (payout, true)
    }

    /// [`Store::allocate_nonce_and_record_tx`] on the locked state.
    fn allocate(&mut self, alloc: AllocateTx<'_>, build: BuildTx<'_>) -> StoreResult<TxRecord> {
        if let Some(key) = alloc.payout_key {
            check_can_send(self.payout(key)?, alloc.holder)?;
        }
        let nonce = self.nonces.get(&alloc.signer).copied().unwrap_or(0).max(alloc.min_nonce);
        // The only caller code under the lock; nothing is changed before it returns.
        let built = build(nonce).map_err(StoreError::Build)?;
        let record = self.insert_tx(alloc.signer, nonce, built, alloc.payout_key)?;
        if let Some(key) = alloc.payout_key {
            let payout = self.payout_mut(key)?;
            payout.status = PayoutStatus::Sent;
            payout.tx_id = Some(record.id);
            payout.lease = None;
            payout.updated_at = record.created_at;
        }
        Ok(record)
    }

    /// Records a signed transaction `Pending` at `nonce` (refused when its hash is known) and
    /// raises the signer's next nonce past it: what a send and a gap fill both write.
    fn insert_tx(
        &mut self,
        signer: Address,
        nonce: u64,
        built: NewTx,
        payout_key: Option<&str>,
    ) -> StoreResult<TxRecord> {
        if self.hashes.contains_key(&built.hash) {
            return Err(StoreError::DuplicateHash(built.hash));
        }
        let now = unix_now();
        self.next_tx_id += 1;
        let id = TxId(self.next_tx_id);
        let record = TxRecord {
            id,
            signer,
            nonce,
            hashes: vec![built.hash],
            raw: built.raw,
            gas_price: built.gas_price,
            status: TxStatus::Pending,
            mined_block: None,
            payout_key: payout_key.map(str::to_owned),
            created_at: now,
            updated_at: now,
        };
        self.txs.insert(id, record.clone());
        self.hashes.insert(built.hash, id);
        let next = self.nonces.entry(signer).or_insert(0);
        *next = (*next).max(nonce + 1);
        Ok(record)
    }

    /// [`Store::set_tx_status`] on the locked state.
    fn set_status(&mut self, id: TxId, update: TxUpdate) -> StoreResult<TxRecord> {
        let record = self.tx(id)?;
        check_tx_transition(id, record.status, update.status)?;
        let payout_key = record.payout_key.clone();
        if let (Some(key), Some(to)) = (&payout_key, update.payout_status) {
            check_tx_payout_update(self.payout(key)?, id, to)?;
        }
        let now = unix_now();
        if let (Some(key), Some(to)) = (&payout_key, update.payout_status) {
            let payout = self.payout_mut(key)?;
            payout.status = to;
            payout.lease = None;
            if let Some(error) = &update.error {
                payout.last_error = Some(error.clone());
            }
            payout.updated_at = now;
        } else if let (Some(key), Some(error)) = (&payout_key, &update.error) {
            let payout = self.payout_mut(key)?;
            payout.last_error = Some(error.clone());
            payout.updated_at = now;
        }
        let record = self.txs.get_mut(&id).expect("checked above");
        record.status = update.status;
        record.mined_block = update.mined_block;
        record.updated_at = now;
        Ok(record.clone())
    }

    fn api_request(&self, id: RequestId) -> Option<ApiRequest> {
        let row = self.requests.get(&id)?;
        let payout = self.payouts.get(&request_payout_key(id))?;
        let tx_hash = payout.tx_id.and_then(|tx| self.txs.get(&tx)).map(TxRecord::hash);
        Some(ApiRequest {
            id,
            kind: row.kind,
            payload: row.payload.clone(),
            signer: row.signer,
            digest: row.digest,
            status: payout.status.into(),
            tx_hash,
            error: payout.last_error.clone(),
            created_at: row.created_at,
            updated_at: payout.updated_at,
        })
    }
}

/// The in-memory [`Store`]. Clones share one state.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every method checks before it changes anything, so a panic under the lock (only the
        // caller's `build` closure can panic) leaves a consistent state behind.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Store for MemoryStore {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn cursor(&self) -> StoreResult<Option<Cursor>> {
        Ok(self.lock().cursor)
    }

    async fn record_blocks(&self, blocks: &[BlockRef]) -> StoreResult<()> {
        let mut state = self.lock();
        for block in blocks {
            state.blocks.insert(block.number, *block);
        }
        Ok(())
    }

    async fn block_hash(&self, number: u64) -> StoreResult<Option<B256>> {
        Ok(self.lock().blocks.get(&number).map(|block| block.hash))
    }

    async fn latest_block(&self) -> StoreResult<Option<BlockRef>> {
        Ok(self.lock().blocks.last_key_value().map(|(_, block)| *block))
    }

    async fn advance(&self, step: Advance) -> StoreResult<Advanced> {
        let mut state = self.lock();
        if let Some(current) = state.cursor
            && step.cursor.block < current.block
        {
            return Err(StoreError::CursorBackwards {
                current: current.block,
                requested: step.cursor.block,
            });
        }
        let now = unix_now();
        for block in &step.blocks {
            state.blocks.insert(block.number, *block);
        }
        let mut advanced = Advanced::default();
        for payout in step.payouts {
            if state.insert_payout(payout, now).1 {
                advanced.payouts_inserted += 1;
            }
        }
        state.cursor = Some(step.cursor);
        if let Some(below) = step.prune_below {
            let kept = state.blocks.split_off(&below);
            advanced.blocks_pruned = state.blocks.len() as u64;
            state.blocks = kept;
        }
        Ok(advanced)
    }

    async fn rollback_to(&self, n: u64) -> StoreResult<Rollback> {
        let mut state = self.lock();
        let removed = match n.checked_add(1) {
            Some(above) => state.blocks.split_off(&above),
            None => BTreeMap::new(),
        };
        let mut rollback = Rollback { blocks_removed: removed.len() as u64, ..Rollback::default() };
        state.payouts.retain(|key, payout| {
            let derived_above = payout.source_block.is_some_and(|block| block > n);
            let never_sent = payout.tx_id.is_none()
                && !matches!(payout.status, PayoutStatus::Sent | PayoutStatus::Confirmed);
            if derived_above && never_sent {
                rollback.payouts_removed.push(key.clone());
                false
            } else {
                true
            }
        });
        state.cursor = match state.cursor {
            Some(cursor) if cursor.block > n => {
                state.blocks.get(&n).map(|block| Cursor { block: n, hash: block.hash })
            }
            other => other,
        };
        rollback.cursor = state.cursor;
        Ok(rollback)
    }

    async fn insert_payout_if_absent(&self, payout: NewPayout) -> StoreResult<(Payout, bool)> {
        Ok(self.lock().insert_payout(payout, unix_now()))
    }

    async fn payout(&self, key: &str) -> StoreResult<Option<Payout>> {
        Ok(self.lock().payouts.get(key).cloned())
    }

    async fn claim_due(
        &self,
        now: u64,
        limit: usize,
        holder: &str,
        lease: Duration,
    ) -> StoreResult<Vec<Payout>> {
        let mut state = self.lock();
        let mut due: Vec<(u64, String)> = state
            .payouts
            .values()
            .filter(|p| p.due_at <= now)
            .filter(|p| match p.status {
                PayoutStatus::Pending => true,
                PayoutStatus::Sending => p.lease.as_ref().is_none_or(|lease| lease.until < now),
                _ => false,
            })
            .map(|p| (p.due_at, p.key.clone()))
            .collect();
        due.sort();
        due.truncate(limit);
        let updated = unix_now();
        let until = lease_end(now, lease);
        let mut claimed = Vec::with_capacity(due.len());
        for (_, key) in due {
            let payout = state.payout_mut(&key)?;
            payout.status = PayoutStatus::Sending;
            payout.lease = Some(Lease { holder: holder.to_owned(), until });
            payout.attempts += 1;
            payout.updated_at = updated;
            claimed.push(payout.clone());
        }
        Ok(claimed)
    }

    async fn extend_lease(
        &self,
        key: &str,
        holder: &str,
        now: u64,
        lease: Duration,
    ) -> StoreResult<Payout> {
        let mut state = self.lock();
        let payout = state.payout(key)?;
        check_can_send(payout, holder)?;
        let payout = state.payout_mut(key)?;
        payout.lease = Some(Lease { holder: holder.to_owned(), until: lease_end(now, lease) });
        payout.updated_at = unix_now();
        Ok(payout.clone())
    }

    async fn set_payout_status(
        &self,
        key: &str,
        holder: Option<&str>,
        to: PayoutStatus,
        error: Option<&str>,
    ) -> StoreResult<Payout> {
        let mut state = self.lock();
        check_set_payout_status(state.payout(key)?, holder, to)?;
        let payout = state.payout_mut(key)?;
        payout.status = to;
        if to != PayoutStatus::Sending {
            payout.lease = None;
        }
        if let Some(error) = error {
            payout.last_error = Some(error.to_owned());
        }
        payout.updated_at = unix_now();
        Ok(payout.clone())
    }

    async fn retry_later(
        &self,
        key: &str,
        holder: &str,
        not_before: u64,
        error: &str,
    ) -> StoreResult<Payout> {
        let mut state = self.lock();
        let payout = state.payout(key)?;
        check_can_send(payout, holder)?;
        let payout = state.payout_mut(key)?;
        payout.status = PayoutStatus::Pending;
        payout.lease = None;
        payout.due_at = not_before;
        payout.last_error = Some(error.to_owned());
        payout.updated_at = unix_now();
        Ok(payout.clone())
    }

    async fn payouts_with_status(
        &self,
        statuses: &[PayoutStatus],
        limit: usize,
    ) -> StoreResult<Vec<Payout>> {
        let state = self.lock();
        let mut found: Vec<&Payout> =
            state.payouts.values().filter(|p| statuses.contains(&p.status)).collect();
        found.sort_by(|a, b| (a.due_at, &a.key).cmp(&(b.due_at, &b.key)));
        Ok(found.into_iter().take(limit).cloned().collect())
    }

    async fn payout_counts(&self) -> StoreResult<BTreeMap<PayoutStatus, u64>> {
        let state = self.lock();
        let mut counts: BTreeMap<PayoutStatus, u64> =
            PayoutStatus::ALL.iter().map(|&status| (status, 0)).collect();
        for payout in state.payouts.values() {
            *counts.entry(payout.status).or_default() += 1;
        }
        Ok(counts)
    }

    async fn allocate_nonce_and_record_tx(
        &self,
        alloc: AllocateTx<'_>,
        build: BuildTx<'_>,
    ) -> StoreResult<TxRecord> {
        self.lock().allocate(alloc, build)
    }

    async fn allocate_nonces_and_record_txs(
        &self,
        batch: Vec<(AllocateTx<'_>, BuildTx<'_>)>,
    ) -> StoreResult<Vec<StoreResult<TxRecord>>> {
        let mut state = self.lock();
        // On a draft, kept only when every `build` returned: a panic in one of them leaves the
        // state as it was before the batch, as the SQL backends' rollback does.
        let mut draft = state.clone();
        let results =
            batch.into_iter().map(|(alloc, build)| draft.allocate(alloc, build)).collect();
        *state = draft;
        Ok(results)
    }

    async fn record_gap_fill(
        &self,
        signer: Address,
        nonce: u64,
        build: BuildTx<'_>,
    ) -> StoreResult<TxRecord> {
        let mut state = self.lock();
        if state.txs.values().any(|tx| tx.signer == signer && tx.nonce == nonce) {
            return Err(StoreError::NonceTaken { signer, nonce });
        }
        // The only caller code under the lock; nothing is changed before it returns.
        let built = build(nonce).map_err(StoreError::Build)?;
        state.insert_tx(signer, nonce, built, None)
    }

    async fn next_nonce(&self, signer: Address) -> StoreResult<Option<u64>> {
        Ok(self.lock().nonces.get(&signer).copied())
    }

    async fn record_replacement(&self, id: TxId, tx: NewTx) -> StoreResult<TxRecord> {
        let mut state = self.lock();
        let record = state.tx(id)?;
        if !matches!(record.status, TxStatus::Pending | TxStatus::Dropped) {
            return Err(StoreError::InvalidTransition {
                what: "transaction",
                id: id.to_string(),
                from: record.status.as_str(),
                to: "replaced by a new version",
            });
        }
        if state.hashes.contains_key(&tx.hash) {
            return Err(StoreError::DuplicateHash(tx.hash));
        }
        state.hashes.insert(tx.hash, id);
        let record = state.txs.get_mut(&id).expect("checked above");
        record.hashes.push(tx.hash);
        record.raw = tx.raw;
        record.gas_price = tx.gas_price;
        record.status = TxStatus::Pending;
        record.updated_at = unix_now();
        Ok(record.clone())
    }

    async fn set_tx_status(&self, id: TxId, update: TxUpdate) -> StoreResult<TxRecord> {
        self.lock().set_status(id, update)
    }

    async fn set_txs_status(
        &self,
        updates: Vec<(TxId, TxUpdate)>,
    ) -> StoreResult<Vec<StoreResult<TxRecord>>> {
        let mut state = self.lock();
        Ok(updates.into_iter().map(|(id, update)| state.set_status(id, update)).collect())
    }

    async fn tx(&self, id: TxId) -> StoreResult<Option<TxRecord>> {
        Ok(self.lock().txs.get(&id).cloned())
    }

    async fn tx_by_hash(&self, hash: B256) -> StoreResult<Option<TxRecord>> {
        let state = self.lock();
        Ok(state.hashes.get(&hash).and_then(|id| state.txs.get(id)).cloned())
    }

    async fn txs_with_status(&self, statuses: &[TxStatus]) -> StoreResult<Vec<TxRecord>> {
        let state = self.lock();
        let mut found: Vec<TxRecord> =
            state.txs.values().filter(|tx| statuses.contains(&tx.status)).cloned().collect();
        found.sort_by_key(|tx| (tx.signer, tx.nonce));
        Ok(found)
    }

    async fn insert_request(&self, request: NewRequest) -> StoreResult<(ApiRequest, bool)> {
        let mut state = self.lock();
        if let Some(&existing) = state.digests.get(&request.digest) {
            let found = state.api_request(existing).ok_or_else(|| StoreError::Corrupt {
                what: "request",
                detail: format!("request {existing} has no payout"),
            })?;
            return Ok((found, false));
        }
        let now = unix_now();
        let key = request_payout_key(request.id);
        if state.payouts.contains_key(&key) || state.requests.contains_key(&request.id) {
            return Err(StoreError::Corrupt {
                what: "request",
                detail: format!("request id {} is already used", request.id),
            });
        }
        state.insert_payout(NewPayout::request(request.id, request.due_at), now);
        state.requests.insert(
            request.id,
            RequestRow {
                kind: request.kind,
                payload: request.payload,
                signer: request.signer,
                digest: request.digest,
                created_at: now,
            },
        );
        state.digests.insert(request.digest, request.id);
        let stored = state.api_request(request.id).expect("just inserted");
        Ok((stored, true))
    }

    async fn request(&self, id: RequestId) -> StoreResult<Option<ApiRequest>> {
        Ok(self.lock().api_request(id))
    }

    async fn close(&self) {}
}
