//! [`SqliteStore`]: the [`Store`] in one SQLite file (`storage = "sqlite://PATH"`, the default).
//!
//! - sqlx's runtime query API only (no compile-time checked macros, so no `DATABASE_URL` at
//!   build time); the schema is `relayer/migrations/sqlite/`, embedded with `sqlx::migrate!` and
//!   applied at open.
//! - WAL journal (readers never block the writer), `synchronous = FULL` (a committed
//!   transaction survives a power cut, not only a crash: a transaction recorded as signed must
//!   never be forgotten), a busy timeout, foreign keys on.
//! - Every write is one `BEGIN IMMEDIATE` transaction: it takes the write lock up front, so a
//!   read-then-write never fails half-way on a lock upgrade, and the busy timeout applies.
//! - Statements use `$1` placeholders and standard SQL (`ON CONFLICT DO NOTHING`, `RETURNING`)
//!   so the PostgreSQL backend of issue 14 can start from the same text.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Duration,
};

use alloy::primitives::{Address, B256};
use async_trait::async_trait;
use sqlx::{
    Row, Sqlite, SqlitePool, Transaction,
    migrate::Migrator,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use super::rows::{
    corrupt, get_parsed, get_u64, hex, int, payout_from_row, status_list, tx_from_row,
};
use super::{
    Advance, Advanced, AllocateTx, ApiRequest, BlockRef, BuildTx, Cursor, NewPayout, NewRequest,
    NewTx, Payout, PayoutStatus, RequestId, Rollback, Store, StoreError, StoreResult, TxId,
    TxRecord, TxStatus, TxUpdate, check_can_send, check_set_payout_status, check_tx_payout_update,
    check_tx_transition, lease_end, unix_now,
};

/// The embedded migrations (`relayer/migrations/sqlite/`).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a write waits for another connection's write lock before failing (transient).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Pooled connections: one writer at a time (SQLite), a few concurrent readers (API, metrics).
const MAX_CONNECTIONS: u32 = 4;

/// The columns of a payout, in the order [`payout_from_row`] reads them.
const PAYOUT_COLUMNS: &str = "key, detail, due_at, status, source_block, attempts, last_error, \
                              tx_id, lease_holder, lease_until, created_at, updated_at";

/// The columns of a transaction, in the order [`tx_from_row`] reads them (hashes are read
/// separately).
const TX_COLUMNS: &str =
    "id, signer, nonce, raw, gas_price, status, mined_block, payout_key, created_at, updated_at";

/// The SQLite [`Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating it and its directory if needed) and migrates the database at `path`.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|err| StoreError::Database(err.into()))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool =
            SqlitePoolOptions::new().max_connections(MAX_CONNECTIONS).connect_with(options).await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool, path: path.to_owned() })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A write transaction holding the write lock from its start.
    async fn write(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

// ---- statements shared by several methods (run inside the caller's transaction) ------------

async fn fetch_payout(conn: &mut sqlx::SqliteConnection, key: &str) -> StoreResult<Option<Payout>> {
    let sql = format!("SELECT {PAYOUT_COLUMNS} FROM payouts WHERE key = $1");
    let row = sqlx::query(&sql).bind(key).fetch_optional(&mut *conn).await?;
    row.as_ref().map(payout_from_row).transpose()
}

async fn require_payout(conn: &mut sqlx::SqliteConnection, key: &str) -> StoreResult<Payout> {
    fetch_payout(conn, key).await?.ok_or_else(|| StoreError::PayoutNotFound { key: key.to_owned() })
}

/// Inserts a payout unless its key exists; returns the stored one and whether it is new.
async fn insert_payout(
    conn: &mut sqlx::SqliteConnection,
    payout: &NewPayout,
    now: u64,
) -> StoreResult<(Payout, bool)> {
    let detail = serde_json::to_string(&payout.kind).map_err(|err| corrupt("payout", err))?;
    let inserted = sqlx::query(
        "INSERT INTO payouts (key, kind, detail, due_at, status, source_block, attempts, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7) \
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(&payout.key)
    .bind(payout.kind.name())
    .bind(detail)
    .bind(int(payout.due_at))
    .bind(PayoutStatus::Pending.as_str())
    .bind(payout.source_block.map(int))
    .bind(int(now))
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    Ok((require_payout(conn, &payout.key).await?, inserted))
}

async fn load_hashes(conn: &mut sqlx::SqliteConnection, tx: &mut TxRecord) -> StoreResult<()> {
    let rows = sqlx::query("SELECT hash FROM tx_hashes WHERE tx_id = $1 ORDER BY seq")
        .bind(tx.id.0)
        .fetch_all(&mut *conn)
        .await?;
    tx.hashes = rows.iter().map(|row| get_parsed::<B256>(row, "hash")).collect::<Result<_, _>>()?;
    if tx.hashes.is_empty() {
        return Err(corrupt("transaction", format!("{} has no hash", tx.id)));
    }
    Ok(())
}

async fn fetch_tx(conn: &mut sqlx::SqliteConnection, id: TxId) -> StoreResult<Option<TxRecord>> {
    let sql = format!("SELECT {TX_COLUMNS} FROM txs WHERE id = $1");
    let Some(row) = sqlx::query(&sql).bind(id.0).fetch_optional(&mut *conn).await? else {
        return Ok(None);
    };
    let mut tx = tx_from_row(&row)?;
    load_hashes(conn, &mut tx).await?;
    Ok(Some(tx))
}

async fn require_tx(conn: &mut sqlx::SqliteConnection, id: TxId) -> StoreResult<TxRecord> {
    fetch_tx(conn, id).await?.ok_or_else(|| StoreError::TxNotFound(id.to_string()))
}

async fn hash_known(conn: &mut sqlx::SqliteConnection, hash: B256) -> StoreResult<bool> {
    Ok(sqlx::query("SELECT 1 FROM tx_hashes WHERE hash = $1")
        .bind(hex(hash))
        .fetch_optional(&mut *conn)
        .await?
        .is_some())
}

async fn fetch_request(
    conn: &mut sqlx::SqliteConnection,
    id: RequestId,
) -> StoreResult<Option<ApiRequest>> {
    let Some(row) = sqlx::query(
        "SELECT id, kind, payload, signer, digest, payout_key, created_at FROM requests \
         WHERE id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let payout_key: String = row.try_get("payout_key")?;
    let payout = require_payout(conn, &payout_key).await?;
    let tx_hash = match payout.tx_id {
        Some(tx) => Some(require_tx(conn, tx).await?.hash()),
        None => None,
    };
    let payload: String = row.try_get("payload")?;
    Ok(Some(ApiRequest {
        id,
        kind: get_parsed(&row, "kind")?,
        payload: serde_json::from_str(&payload).map_err(|err| corrupt("request payload", err))?,
        signer: get_parsed(&row, "signer")?,
        digest: get_parsed(&row, "digest")?,
        status: payout.status.into(),
        tx_hash,
        error: payout.last_error,
        created_at: get_u64(&row, "created_at")?,
        updated_at: payout.updated_at,
    }))
}

/// [`Store::allocate_nonce_and_record_tx`] inside the caller's write transaction.
async fn allocate_in(
    conn: &mut sqlx::SqliteConnection,
    alloc: AllocateTx<'_>,
    build: BuildTx<'_>,
) -> StoreResult<TxRecord> {
    if let Some(key) = alloc.payout_key {
        check_can_send(&require_payout(&mut *conn, key).await?, alloc.holder)?;
    }
    let signer = hex(alloc.signer);
    let stored: Option<i64> = sqlx::query_scalar("SELECT next_nonce FROM nonces WHERE signer = $1")
        .bind(&signer)
        .fetch_optional(&mut *conn)
        .await?;
    let stored = stored.map_or(Ok(0), |n| {
        u64::try_from(n).map_err(|_| corrupt("nonce", format!("negative nonce {n}")))
    })?;
    let nonce = stored.max(alloc.min_nonce);
    // The caller's transaction rolls back on any early return (an error, or a panic in
    // `build`).
    let built = build(nonce).map_err(StoreError::Build)?;
    if hash_known(&mut *conn, built.hash).await? {
        return Err(StoreError::DuplicateHash(built.hash));
    }
    let now = int(unix_now());
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO txs (signer, nonce, raw, gas_price, status, payout_key, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(&signer)
    .bind(int(nonce))
    .bind(built.raw.as_ref())
    .bind(built.gas_price.to_string())
    .bind(TxStatus::Pending.as_str())
    .bind(alloc.payout_key)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO tx_hashes (hash, tx_id, seq) VALUES ($1, $2, 0)")
        .bind(hex(built.hash))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO nonces (signer, next_nonce) VALUES ($1, $2) \
         ON CONFLICT (signer) DO UPDATE SET next_nonce = excluded.next_nonce",
    )
    .bind(&signer)
    .bind(int(nonce + 1))
    .execute(&mut *conn)
    .await?;
    if let Some(key) = alloc.payout_key {
        sqlx::query(
            "UPDATE payouts SET status = 'sent', tx_id = $1, lease_holder = NULL, \
             lease_until = NULL, updated_at = $2 WHERE key = $3",
        )
        .bind(id)
        .bind(now)
        .bind(key)
        .execute(&mut *conn)
        .await?;
    }
    require_tx(&mut *conn, TxId(id)).await
}

/// [`Store::set_tx_status`] inside the caller's write transaction.
async fn set_status_in(
    conn: &mut sqlx::SqliteConnection,
    id: TxId,
    update: TxUpdate,
) -> StoreResult<TxRecord> {
    let record = require_tx(&mut *conn, id).await?;
    check_tx_transition(id, record.status, update.status)?;
    let now = int(unix_now());
    if let Some(key) = &record.payout_key {
        if let Some(to) = update.payout_status {
            check_tx_payout_update(&require_payout(&mut *conn, key).await?, id, to)?;
            sqlx::query(
                "UPDATE payouts SET status = $1, lease_holder = NULL, lease_until = NULL, \
                 last_error = COALESCE($2, last_error), updated_at = $3 WHERE key = $4",
            )
            .bind(to.as_str())
            .bind(&update.error)
            .bind(now)
            .bind(key)
            .execute(&mut *conn)
            .await?;
        } else if let Some(error) = &update.error {
            sqlx::query("UPDATE payouts SET last_error = $1, updated_at = $2 WHERE key = $3")
                .bind(error)
                .bind(now)
                .bind(key)
                .execute(&mut *conn)
                .await?;
        }
    }
    sqlx::query("UPDATE txs SET status = $1, mined_block = $2, updated_at = $3 WHERE id = $4")
        .bind(update.status.as_str())
        .bind(update.mined_block.map(int))
        .bind(now)
        .bind(id.0)
        .execute(&mut *conn)
        .await?;
    require_tx(&mut *conn, id).await
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn cursor(&self) -> StoreResult<Option<Cursor>> {
        let row = sqlx::query("SELECT block, hash FROM cursor WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(Cursor { block: get_u64(&row, "block")?, hash: get_parsed(&row, "hash")? })
        })
        .transpose()
    }

    async fn record_blocks(&self, blocks: &[BlockRef]) -> StoreResult<()> {
        let mut tx = self.write().await?;
        for block in blocks {
            upsert_block(&mut tx, block).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn block_hash(&self, number: u64) -> StoreResult<Option<B256>> {
        let row = sqlx::query("SELECT hash FROM blocks WHERE number = $1")
            .bind(int(number))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| get_parsed(&row, "hash")).transpose()
    }

    async fn latest_block(&self) -> StoreResult<Option<BlockRef>> {
        let row = sqlx::query(
            "SELECT number, hash, parent_hash FROM blocks ORDER BY number DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(BlockRef {
                number: get_u64(&row, "number")?,
                hash: get_parsed(&row, "hash")?,
                parent_hash: get_parsed(&row, "parent_hash")?,
            })
        })
        .transpose()
    }

    async fn advance(&self, step: Advance) -> StoreResult<Advanced> {
        let mut tx = self.write().await?;
        let current: Option<i64> = sqlx::query_scalar("SELECT block FROM cursor WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(current) = current
            && int(step.cursor.block) < current
        {
            return Err(StoreError::CursorBackwards {
                current: u64::try_from(current).unwrap_or_default(),
                requested: step.cursor.block,
            });
        }
        let now = unix_now();
        for block in &step.blocks {
            upsert_block(&mut tx, block).await?;
        }
        let mut advanced = Advanced::default();
        for payout in &step.payouts {
            if insert_payout(&mut tx, payout, now).await?.1 {
                advanced.payouts_inserted += 1;
            }
        }
        sqlx::query(
            "INSERT INTO cursor (id, block, hash, updated_at) VALUES (1, $1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET block = excluded.block, hash = excluded.hash, \
             updated_at = excluded.updated_at",
        )
        .bind(int(step.cursor.block))
        .bind(hex(step.cursor.hash))
        .bind(int(now))
        .execute(&mut *tx)
        .await?;
        if let Some(below) = step.prune_below {
            advanced.blocks_pruned = sqlx::query("DELETE FROM blocks WHERE number < $1")
                .bind(int(below))
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(advanced)
    }

    async fn rollback_to(&self, n: u64) -> StoreResult<Rollback> {
        let mut tx = self.write().await?;
        let blocks_removed = sqlx::query("DELETE FROM blocks WHERE number > $1")
            .bind(int(n))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let removed = sqlx::query(
            "DELETE FROM payouts WHERE source_block > $1 AND tx_id IS NULL \
             AND status NOT IN ('sent', 'confirmed') RETURNING key",
        )
        .bind(int(n))
        .fetch_all(&mut *tx)
        .await?;
        let mut payouts_removed: Vec<String> =
            removed.iter().map(|row| row.try_get("key")).collect::<Result<_, _>>()?;
        payouts_removed.sort();
        let current: Option<i64> = sqlx::query_scalar("SELECT block FROM cursor WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?;
        if current.is_some_and(|block| block > int(n)) {
            let hash: Option<String> =
                sqlx::query_scalar("SELECT hash FROM blocks WHERE number = $1")
                    .bind(int(n))
                    .fetch_optional(&mut *tx)
                    .await?;
            match hash {
                Some(hash) => {
                    sqlx::query(
                        "UPDATE cursor SET block = $1, hash = $2, updated_at = $3 WHERE id = 1",
                    )
                    .bind(int(n))
                    .bind(hash)
                    .bind(int(unix_now()))
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    sqlx::query("DELETE FROM cursor").execute(&mut *tx).await?;
                }
            }
        }
        let cursor = sqlx::query("SELECT block, hash FROM cursor WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| {
                Ok::<_, StoreError>(Cursor {
                    block: get_u64(&row, "block")?,
                    hash: get_parsed(&row, "hash")?,
                })
            })
            .transpose()?;
        tx.commit().await?;
        Ok(Rollback { cursor, blocks_removed, payouts_removed })
    }

    async fn insert_payout_if_absent(&self, payout: NewPayout) -> StoreResult<(Payout, bool)> {
        let mut tx = self.write().await?;
        let result = insert_payout(&mut tx, &payout, unix_now()).await?;
        tx.commit().await?;
        Ok(result)
    }

    async fn payout(&self, key: &str) -> StoreResult<Option<Payout>> {
        let mut conn = self.pool.acquire().await?;
        fetch_payout(&mut conn, key).await
    }

    async fn claim_due(
        &self,
        now: u64,
        limit: usize,
        holder: &str,
        lease: Duration,
    ) -> StoreResult<Vec<Payout>> {
        let mut tx = self.write().await?;
        // SQLite has one writer: the IMMEDIATE transaction is the lock. (PostgreSQL: the inner
        // SELECT gets FOR UPDATE SKIP LOCKED.)
        let sql = format!(
            "UPDATE payouts SET status = 'sending', lease_holder = $1, lease_until = $2, \
             attempts = attempts + 1, updated_at = $3 \
             WHERE key IN (SELECT key FROM payouts WHERE due_at <= $4 AND (status = 'pending' \
             OR (status = 'sending' AND (lease_until IS NULL OR lease_until < $4))) \
             ORDER BY due_at, key LIMIT $5) \
             RETURNING {PAYOUT_COLUMNS}"
        );
        let rows = sqlx::query(&sql)
            .bind(holder)
            .bind(int(lease_end(now, lease)))
            .bind(int(unix_now()))
            .bind(int(now))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *tx)
            .await?;
        let mut claimed = rows.iter().map(payout_from_row).collect::<StoreResult<Vec<_>>>()?;
        tx.commit().await?;
        claimed.sort_by(|a, b| (a.due_at, &a.key).cmp(&(b.due_at, &b.key)));
        Ok(claimed)
    }

    async fn extend_lease(
        &self,
        key: &str,
        holder: &str,
        now: u64,
        lease: Duration,
    ) -> StoreResult<Payout> {
        let mut tx = self.write().await?;
        check_can_send(&require_payout(&mut tx, key).await?, holder)?;
        sqlx::query("UPDATE payouts SET lease_until = $1, updated_at = $2 WHERE key = $3")
            .bind(int(lease_end(now, lease)))
            .bind(int(unix_now()))
            .bind(key)
            .execute(&mut *tx)
            .await?;
        let payout = require_payout(&mut tx, key).await?;
        tx.commit().await?;
        Ok(payout)
    }

    async fn set_payout_status(
        &self,
        key: &str,
        holder: Option<&str>,
        to: PayoutStatus,
        error: Option<&str>,
    ) -> StoreResult<Payout> {
        let mut tx = self.write().await?;
        check_set_payout_status(&require_payout(&mut tx, key).await?, holder, to)?;
        let keep_lease = to == PayoutStatus::Sending;
        sqlx::query(
            "UPDATE payouts SET status = $1, last_error = COALESCE($2, last_error), \
             lease_holder = CASE WHEN $3 THEN lease_holder END, \
             lease_until = CASE WHEN $3 THEN lease_until END, updated_at = $4 WHERE key = $5",
        )
        .bind(to.as_str())
        .bind(error)
        .bind(keep_lease)
        .bind(int(unix_now()))
        .bind(key)
        .execute(&mut *tx)
        .await?;
        let payout = require_payout(&mut tx, key).await?;
        tx.commit().await?;
        Ok(payout)
    }

    async fn retry_later(
        &self,
        key: &str,
        holder: &str,
        not_before: u64,
        error: &str,
    ) -> StoreResult<Payout> {
        let mut tx = self.write().await?;
        check_can_send(&require_payout(&mut tx, key).await?, holder)?;
        sqlx::query(
            "UPDATE payouts SET status = 'pending', lease_holder = NULL, lease_until = NULL, \
             due_at = $1, last_error = $2, updated_at = $3 WHERE key = $4",
        )
        .bind(int(not_before))
        .bind(error)
        .bind(int(unix_now()))
        .bind(key)
        .execute(&mut *tx)
        .await?;
        let payout = require_payout(&mut tx, key).await?;
        tx.commit().await?;
        Ok(payout)
    }

    async fn payouts_with_status(
        &self,
        statuses: &[PayoutStatus],
        limit: usize,
    ) -> StoreResult<Vec<Payout>> {
        if statuses.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {PAYOUT_COLUMNS} FROM payouts WHERE status IN ({}) ORDER BY due_at, key \
             LIMIT $1",
            status_list(statuses, PayoutStatus::as_str)
        );
        let rows = sqlx::query(&sql)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(payout_from_row).collect()
    }

    async fn payout_counts(&self) -> StoreResult<BTreeMap<PayoutStatus, u64>> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM payouts GROUP BY status")
            .fetch_all(&self.pool)
            .await?;
        let mut counts: BTreeMap<PayoutStatus, u64> =
            PayoutStatus::ALL.iter().map(|&status| (status, 0)).collect();
        for row in &rows {
            counts.insert(get_parsed(row, "status")?, get_u64(row, "n")?);
        }
        Ok(counts)
    }

    async fn allocate_nonce_and_record_tx(
        &self,
        alloc: AllocateTx<'_>,
        build: BuildTx<'_>,
    ) -> StoreResult<TxRecord> {
        let mut tx = self.write().await?;
        let record = allocate_in(&mut tx, alloc, build).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn allocate_nonces_and_record_txs(
        &self,
        batch: Vec<(AllocateTx<'_>, BuildTx<'_>)>,
    ) -> StoreResult<Vec<StoreResult<TxRecord>>> {
        let mut tx = self.write().await?;
        let results = each_in_savepoint!(tx, batch, |conn, (alloc, build)| {
            allocate_in(&mut conn, alloc, build).await
        })?;
        tx.commit().await?;
        Ok(results)
    }

    async fn record_gap_fill(
        &self,
        signer: Address,
        nonce: u64,
        build: BuildTx<'_>,
    ) -> StoreResult<TxRecord> {
        let mut tx = self.write().await?;
        let signer_hex = hex(signer);
        let taken = sqlx::query("SELECT 1 FROM txs WHERE signer = $1 AND nonce = $2")
            .bind(&signer_hex)
            .bind(int(nonce))
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if taken {
            return Err(StoreError::NonceTaken { signer, nonce });
        }
        // Dropping `tx` on any early return (an error, or a panic in `build`) rolls back.
        let built = build(nonce).map_err(StoreError::Build)?;
        if hash_known(&mut tx, built.hash).await? {
            return Err(StoreError::DuplicateHash(built.hash));
        }
        let now = int(unix_now());
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO txs (signer, nonce, raw, gas_price, status, payout_key, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, NULL, $6, $6) RETURNING id",
        )
        .bind(&signer_hex)
        .bind(int(nonce))
        .bind(built.raw.as_ref())
        .bind(built.gas_price.to_string())
        .bind(TxStatus::Pending.as_str())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO tx_hashes (hash, tx_id, seq) VALUES ($1, $2, 0)")
            .bind(hex(built.hash))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let stored: Option<i64> =
            sqlx::query_scalar("SELECT next_nonce FROM nonces WHERE signer = $1")
                .bind(&signer_hex)
                .fetch_optional(&mut *tx)
                .await?;
        if stored.is_none_or(|next| next <= int(nonce)) {
            sqlx::query(
                "INSERT INTO nonces (signer, next_nonce) VALUES ($1, $2) \
                 ON CONFLICT (signer) DO UPDATE SET next_nonce = excluded.next_nonce",
            )
            .bind(&signer_hex)
            .bind(int(nonce + 1))
            .execute(&mut *tx)
            .await?;
        }
        let record = require_tx(&mut tx, TxId(id)).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn next_nonce(&self, signer: Address) -> StoreResult<Option<u64>> {
        let row = sqlx::query("SELECT next_nonce FROM nonces WHERE signer = $1")
            .bind(hex(signer))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| get_u64(&row, "next_nonce")).transpose()
    }

    async fn record_replacement(&self, id: TxId, new: NewTx) -> StoreResult<TxRecord> {
        let mut tx = self.write().await?;
        let record = require_tx(&mut tx, id).await?;
        if !matches!(record.status, TxStatus::Pending | TxStatus::Dropped) {
            return Err(StoreError::InvalidTransition {
                what: "transaction",
                id: id.to_string(),
                from: record.status.as_str(),
                to: "replaced by a new version",
            });
        }
        if hash_known(&mut tx, new.hash).await? {
            return Err(StoreError::DuplicateHash(new.hash));
        }
        sqlx::query("INSERT INTO tx_hashes (hash, tx_id, seq) VALUES ($1, $2, $3)")
            .bind(hex(new.hash))
            .bind(id.0)
            .bind(i64::try_from(record.hashes.len()).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE txs SET raw = $1, gas_price = $2, status = 'pending', updated_at = $3 \
             WHERE id = $4",
        )
        .bind(new.raw.as_ref())
        .bind(new.gas_price.to_string())
        .bind(int(unix_now()))
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        let record = require_tx(&mut tx, id).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn set_tx_status(&self, id: TxId, update: TxUpdate) -> StoreResult<TxRecord> {
        let mut tx = self.write().await?;
        let record = set_status_in(&mut tx, id, update).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn set_txs_status(
        &self,
        updates: Vec<(TxId, TxUpdate)>,
    ) -> StoreResult<Vec<StoreResult<TxRecord>>> {
        let mut tx = self.write().await?;
        let results = each_in_savepoint!(tx, updates, |conn, (id, update)| {
            set_status_in(&mut conn, id, update).await
        })?;
        tx.commit().await?;
        Ok(results)
    }

    async fn tx(&self, id: TxId) -> StoreResult<Option<TxRecord>> {
        let mut conn = self.pool.acquire().await?;
        fetch_tx(&mut conn, id).await
    }

    async fn tx_by_hash(&self, hash: B256) -> StoreResult<Option<TxRecord>> {
        let mut conn = self.pool.acquire().await?;
        let id: Option<i64> = sqlx::query_scalar("SELECT tx_id FROM tx_hashes WHERE hash = $1")
            .bind(hex(hash))
            .fetch_optional(&mut *conn)
            .await?;
        match id {
            Some(id) => fetch_tx(&mut conn, TxId(id)).await,
            None => Ok(None),
        }
    }

    async fn txs_with_status(&self, statuses: &[TxStatus]) -> StoreResult<Vec<TxRecord>> {
        if statuses.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.pool.acquire().await?;
        let sql = format!(
            "SELECT {TX_COLUMNS} FROM txs WHERE status IN ({}) ORDER BY signer, nonce",
            status_list(statuses, TxStatus::as_str)
        );
        let rows = sqlx::query(&sql).fetch_all(&mut *conn).await?;
        let mut found = rows.iter().map(tx_from_row).collect::<StoreResult<Vec<_>>>()?;
        for tx in &mut found {
            load_hashes(&mut conn, tx).await?;
        }
        found.sort_by_key(|tx| (tx.signer, tx.nonce));
        Ok(found)
    }

    async fn insert_request(&self, request: NewRequest) -> StoreResult<(ApiRequest, bool)> {
        let mut tx = self.write().await?;
        let existing: Option<String> =
            sqlx::query_scalar("SELECT id FROM requests WHERE digest = $1")
                .bind(hex(request.digest))
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(existing) = existing {
            let id: RequestId = existing
                .parse()
                .map_err(|err| corrupt("request id", format!("{existing}: {err}")))?;
            let found = fetch_request(&mut tx, id)
                .await?
                .ok_or_else(|| corrupt("request", format!("{id} vanished")))?;
            return Ok((found, false));
        }
        let now = unix_now();
        let payout = NewPayout::request(request.id, request.due_at);
        if !insert_payout(&mut tx, &payout, now).await?.1 {
            return Err(corrupt("request", format!("request id {} is already used", request.id)));
        }
        let payload = serde_json::to_string(&request.payload)
            .map_err(|err| corrupt("request payload", err))?;
        sqlx::query(
            "INSERT INTO requests (id, kind, payload, signer, digest, payout_key, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(request.id.to_string())
        .bind(request.kind.as_str())
        .bind(payload)
        .bind(hex(request.signer))
        .bind(hex(request.digest))
        .bind(&payout.key)
        .bind(int(now))
        .execute(&mut *tx)
        .await?;
        let stored = fetch_request(&mut tx, request.id)
            .await?
            .ok_or_else(|| corrupt("request", "not found right after insert"))?;
        tx.commit().await?;
        Ok((stored, true))
    }

    async fn request(&self, id: RequestId) -> StoreResult<Option<ApiRequest>> {
        let mut conn = self.pool.acquire().await?;
        fetch_request(&mut conn, id).await
    }

    async fn close(&self) {
        // A checkpoint folds the WAL back into the main file (best effort: the WAL is valid
        // on its own), then the pool waits for connections to be returned and closes them.
        if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await {
            tracing::debug!(%err, "WAL checkpoint at close failed");
        }
        self.pool.close().await;
    }
}

async fn upsert_block(conn: &mut sqlx::SqliteConnection, block: &BlockRef) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO blocks (number, hash, parent_hash) VALUES ($1, $2, $3) \
         ON CONFLICT (number) DO UPDATE SET hash = excluded.hash, \
         parent_hash = excluded.parent_hash",
    )
    .bind(int(block.number))
    .bind(hex(block.hash))
    .bind(hex(block.parent_hash))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
