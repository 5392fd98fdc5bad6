//! [`PostgresStore`]: the [`Store`] in a PostgreSQL database (`storage = "postgres://..."`),
//! shared by several relayer instances.
//!
//! - sqlx's runtime query API only (no `DATABASE_URL` at build time); the schema is
//!   `relayer/migrations/postgres/` ([`super::migrations::POSTGRES`]), applied at open (sqlx
//!   serialises concurrent migrators with an advisory lock). The tables live in the first
//!   schema of the connection's `search_path` (`?options=-c search_path=NAME` in the URL).
//! - Every state change is one `READ COMMITTED` transaction that locks the rows it reads
//!   before it writes them (`SELECT ... FOR UPDATE`), so the guards see the current row and two
//!   instances never interleave on one payout, transaction or signer:
//!   - [`Store::claim_due`] picks its rows with `FOR UPDATE SKIP LOCKED`: concurrent claimers
//!     take disjoint sets without waiting on each other; a lease that ended (its holder died)
//!     makes the payout claimable again.
//!   - [`Store::allocate_nonce_and_record_tx`] and [`Store::record_gap_fill`] lock the signer's
//!     `nonces` row (creating it first if needed) in the transaction that records the signed
//!     transaction: instances sharing a signer take nonces one at a time, and the
//!     `UNIQUE (signer, nonce)` constraint backs that up.
//!   - [`Store::advance`] and [`Store::rollback_to`] lock the `cursor` row of `store_locks`:
//!     one cursor move at a time.
//!   - [`Store::acquire_lease`] keeps named leader leases in the `leases` table (one upsert
//!     guarded by "free, ended or already mine"): with [`super::CURSOR_LEASE`], one instance
//!     moves the log cursor and another takes over once the lease ends.
//! - Lock order, to rule out deadlocks: cursor lock, then transaction row, then payout row,
//!   then the signer's nonce row.

use std::{collections::BTreeMap, str::FromStr, time::Duration};

use alloy::primitives::{Address, B256};
use async_trait::async_trait;
use sqlx::{
    PgConnection, PgPool, Row,
    postgres::{PgConnectOptions, PgPoolOptions, PgRow},
};

use super::rows::{
    corrupt, get_parsed, get_u64, hex, int, payout_from_row, status_list, tx_from_row,
};
use super::{
    Advance, Advanced, AllocateTx, ApiRequest, BlockRef, BuildTx, Cursor, Lease, NewPayout,
    NewRequest, NewTx, Payout, PayoutStatus, RequestId, Rollback, Store, StoreError, StoreResult,
    TxId, TxRecord, TxStatus, TxUpdate, check_can_send, check_set_payout_status,
    check_tx_payout_update, check_tx_transition, lease_end, migrations, unix_now,
};

/// Pooled connections per instance (the watcher, the scheduler, the sender, the API).
const MAX_CONNECTIONS: u32 = 8;

/// How long a call waits for a pooled connection before failing (transient).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The columns of a payout, in the order [`payout_from_row`] reads them.
const PAYOUT_COLUMNS: &str = "key, detail, due_at, status, source_block, attempts, last_error, \
                              tx_id, lease_holder, lease_until, created_at, updated_at";

/// The columns of a transaction, in the order [`tx_from_row`] reads them (hashes are read
/// separately).
const TX_COLUMNS: &str =
    "id, signer, nonce, raw, gas_price, status, mined_block, payout_key, created_at, updated_at";

/// The PostgreSQL [`Store`].
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database?options=...`) and
    /// applies the migrations.
    pub async fn open(url: &str) -> StoreResult<Self> {
        Self::connect_with(PgConnectOptions::from_str(url)?).await
    }

    /// Connects with `options` (e.g. with a `search_path` set through
    /// [`PgConnectOptions::options`]) and applies the migrations.
    pub async fn connect_with(options: PgConnectOptions) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        migrations::POSTGRES.run(&pool).await?;
        Ok(Self { pool })
    }

    /// The connection pool (tests and tools).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A read-only transaction on one snapshot, for reads that take several statements (a
    /// transaction row and its hashes, a request and its payout).
    async fn read(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Postgres>> {
        Ok(self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?)
    }
}

// ---- rows (decoding shared with SQLite: `super::rows`) --------------------------------------

fn cursor_from_row(row: &PgRow) -> StoreResult<Cursor> {
    Ok(Cursor { block: get_u64(row, "block")?, hash: get_parsed(row, "hash")? })
}

/// Whether a read inside a write transaction locks the row it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lock {
    /// A plain read.
    No,
    /// `FOR UPDATE`: the row is ours until the transaction ends.
    ForUpdate,
}

impl Lock {
    const fn clause(self) -> &'static str {
        match self {
            Self::No => "",
            Self::ForUpdate => " FOR UPDATE",
        }
    }
}

// ---- statements shared by several methods (run inside the caller's transaction) ------------

async fn fetch_payout(
    conn: &mut PgConnection,
    key: &str,
    lock: Lock,
) -> StoreResult<Option<Payout>> {
    let sql = format!("SELECT {PAYOUT_COLUMNS} FROM payouts WHERE key = $1{}", lock.clause());
    let row = sqlx::query(&sql).bind(key).fetch_optional(&mut *conn).await?;
    row.as_ref().map(payout_from_row).transpose()
}

async fn require_payout(conn: &mut PgConnection, key: &str, lock: Lock) -> StoreResult<Payout> {
    fetch_payout(conn, key, lock)
        .await?
        .ok_or_else(|| StoreError::PayoutNotFound { key: key.to_owned() })
}

/// Inserts a payout unless its key exists; returns the stored one and whether it is new.
async fn insert_payout(
    conn: &mut PgConnection,
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
    Ok((require_payout(conn, &payout.key, Lock::No).await?, inserted))
}

async fn load_hashes(conn: &mut PgConnection, tx: &mut TxRecord) -> StoreResult<()> {
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

async fn fetch_tx(conn: &mut PgConnection, id: TxId, lock: Lock) -> StoreResult<Option<TxRecord>> {
    let sql = format!("SELECT {TX_COLUMNS} FROM txs WHERE id = $1{}", lock.clause());
    let Some(row) = sqlx::query(&sql).bind(id.0).fetch_optional(&mut *conn).await? else {
        return Ok(None);
    };
    let mut tx = tx_from_row(&row)?;
    load_hashes(conn, &mut tx).await?;
    Ok(Some(tx))
}

async fn require_tx(conn: &mut PgConnection, id: TxId, lock: Lock) -> StoreResult<TxRecord> {
    fetch_tx(conn, id, lock).await?.ok_or_else(|| StoreError::TxNotFound(id.to_string()))
}

async fn hash_known(conn: &mut PgConnection, hash: B256) -> StoreResult<bool> {
    Ok(sqlx::query("SELECT 1 FROM tx_hashes WHERE hash = $1")
        .bind(hex(hash))
        .fetch_optional(&mut *conn)
        .await?
        .is_some())
}

/// Locks `signer`'s nonce row (creating it at 0 first, inside this transaction, if the signer
/// never signed) and returns the stored next nonce, `None` when the row is new. Concurrent
/// callers for one signer queue here until the holder's transaction ends.
async fn lock_nonce(conn: &mut PgConnection, signer: &str) -> StoreResult<Option<u64>> {
    let created = sqlx::query(
        "INSERT INTO nonces (signer, next_nonce) VALUES ($1, 0) ON CONFLICT (signer) DO NOTHING",
    )
    .bind(signer)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    let next: i64 =
        sqlx::query_scalar("SELECT next_nonce FROM nonces WHERE signer = $1 FOR UPDATE")
            .bind(signer)
            .fetch_one(&mut *conn)
            .await?;
    let next =
        u64::try_from(next).map_err(|_| corrupt("nonce", format!("negative nonce {next}")))?;
    Ok(if created { None } else { Some(next) })
}

async fn set_next_nonce(conn: &mut PgConnection, signer: &str, next: u64) -> StoreResult<()> {
    sqlx::query("UPDATE nonces SET next_nonce = $1 WHERE signer = $2")
        .bind(int(next))
        .bind(signer)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Inserts a signed transaction (`Pending`) and its first hash; returns its id.
async fn insert_tx(
    conn: &mut PgConnection,
    signer: &str,
    nonce: u64,
    built: &NewTx,
    payout_key: Option<&str>,
    now: i64,
) -> StoreResult<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO txs (signer, nonce, raw, gas_price, status, payout_key, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(signer)
    .bind(int(nonce))
    .bind(built.raw.as_ref())
    .bind(built.gas_price.to_string())
    .bind(TxStatus::Pending.as_str())
    .bind(payout_key)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO tx_hashes (hash, tx_id, seq) VALUES ($1, $2, 0)")
        .bind(hex(built.hash))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(id)
}

/// Takes the named row of `store_locks` until the transaction ends.
async fn take_lock(conn: &mut PgConnection, name: &str) -> StoreResult<()> {
    sqlx::query("SELECT name FROM store_locks WHERE name = $1 FOR UPDATE")
        .bind(name)
        .fetch_one(&mut *conn)
        .await?;
    Ok(())
}

async fn fetch_request(conn: &mut PgConnection, id: RequestId) -> StoreResult<Option<ApiRequest>> {
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
    let payout = require_payout(conn, &payout_key, Lock::No).await?;
    let tx_hash = match payout.tx_id {
        Some(tx) => Some(require_tx(conn, tx, Lock::No).await?.hash()),
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

/// The request stored under `digest`, if any (read in its own snapshot).
async fn request_by_digest(
    conn: &mut PgConnection,
    digest: B256,
) -> StoreResult<Option<ApiRequest>> {
    let existing: Option<String> = sqlx::query_scalar("SELECT id FROM requests WHERE digest = $1")
        .bind(hex(digest))
        .fetch_optional(&mut *conn)
        .await?;
    let Some(existing) = existing else { return Ok(None) };
    let id: RequestId =
        existing.parse().map_err(|err| corrupt("request id", format!("{existing}: {err}")))?;
    fetch_request(conn, id).await
}

async fn upsert_block(conn: &mut PgConnection, block: &BlockRef) -> StoreResult<()> {
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

/// [`Store::allocate_nonce_and_record_tx`] inside the caller's transaction.
async fn allocate_in(
    conn: &mut PgConnection,
    alloc: AllocateTx<'_>,
    build: BuildTx<'_>,
) -> StoreResult<TxRecord> {
    if let Some(key) = alloc.payout_key {
        check_can_send(&require_payout(&mut *conn, key, Lock::ForUpdate).await?, alloc.holder)?;
    }
    let signer = hex(alloc.signer);
    // The signer's row stays locked until commit: another instance allocating for this
    // signer waits here and then reads the nonce this transaction wrote.
    let stored = lock_nonce(&mut *conn, &signer).await?.unwrap_or(0);
    let nonce = stored.max(alloc.min_nonce);
    // The caller's transaction rolls back on any early return (an error, or a panic in `build`).
    let built = build(nonce).map_err(StoreError::Build)?;
    if hash_known(&mut *conn, built.hash).await? {
        return Err(StoreError::DuplicateHash(built.hash));
    }
    let now = int(unix_now());
    let id = insert_tx(&mut *conn, &signer, nonce, &built, alloc.payout_key, now).await?;
    set_next_nonce(&mut *conn, &signer, nonce + 1).await?;
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
    require_tx(&mut *conn, TxId(id), Lock::No).await
}

/// [`Store::set_tx_status`] inside the caller's transaction.
async fn set_status_in(
    conn: &mut PgConnection,
    id: TxId,
    update: TxUpdate,
) -> StoreResult<TxRecord> {
    let record = require_tx(&mut *conn, id, Lock::ForUpdate).await?;
    check_tx_transition(id, record.status, update.status)?;
    let now = int(unix_now());
    if let Some(key) = &record.payout_key {
        if let Some(to) = update.payout_status {
            let payout = require_payout(&mut *conn, key, Lock::ForUpdate).await?;
            check_tx_payout_update(&payout, id, to)?;
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
    require_tx(&mut *conn, id, Lock::No).await
}

/// Runs `$body` (a block that uses the transaction `$tx` and evaluates to a `StoreResult`) in a
/// new transaction: commits on `Ok`, rolls back at once on `Err`, so that the row locks of a
/// refused call (a guard, a lost lease, a failed build) are released before it returns instead
/// of whenever the pool gets the connection back. A panic drops the transaction: sqlx rolls it
/// back when the connection returns to the pool.
macro_rules! in_tx {
    ($self:ident, $tx:ident, $body:block) => {{
        let mut $tx = $self.pool.begin().await?;
        let result: StoreResult<_> = async { $body }.await;
        match result {
            Ok(value) => {
                $tx.commit().await?;
                Ok(value)
            }
            Err(err) => {
                if let Err(rollback) = $tx.rollback().await {
                    tracing::debug!(%rollback, "rollback after a refused call failed");
                }
                Err(err)
            }
        }
    }};
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn cursor(&self) -> StoreResult<Option<Cursor>> {
        let row = sqlx::query("SELECT block, hash FROM cursor WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(cursor_from_row).transpose()
    }

    async fn record_blocks(&self, blocks: &[BlockRef]) -> StoreResult<()> {
        in_tx!(self, tx, {
            for block in blocks {
                upsert_block(&mut tx, block).await?;
            }
            Ok(())
        })
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
        in_tx!(self, tx, {
            take_lock(&mut tx, "cursor").await?;
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
            Ok(advanced)
        })
    }

    async fn rollback_to(&self, n: u64) -> StoreResult<Rollback> {
        in_tx!(self, tx, {
            take_lock(&mut tx, "cursor").await?;
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
                .as_ref()
                .map(cursor_from_row)
                .transpose()?;
            Ok(Rollback { cursor, blocks_removed, payouts_removed })
        })
    }

    async fn insert_payout_if_absent(&self, payout: NewPayout) -> StoreResult<(Payout, bool)> {
        in_tx!(self, tx, {
            let result = insert_payout(&mut tx, &payout, unix_now()).await?;
            Ok(result)
        })
    }

    async fn payout(&self, key: &str) -> StoreResult<Option<Payout>> {
        let mut conn = self.pool.acquire().await?;
        fetch_payout(&mut conn, key, Lock::No).await
    }

    async fn claim_due(
        &self,
        now: u64,
        limit: usize,
        holder: &str,
        lease: Duration,
    ) -> StoreResult<Vec<Payout>> {
        in_tx!(self, tx, {
            // SKIP LOCKED: rows another claimer (or any writer) holds right now are left to it;
            // a row changed since this statement's snapshot is re-checked against the WHERE
            // clause once locked (READ COMMITTED), so a payout claimed and committed meanwhile is
            // not taken again.
            const CLAIM: &str = "WITH due AS (SELECT key FROM payouts WHERE due_at <= $4 \
                AND (status = 'pending' OR (status = 'sending' \
                AND (lease_until IS NULL OR lease_until < $4))) \
                ORDER BY due_at, key LIMIT $5 FOR UPDATE SKIP LOCKED) \
                UPDATE payouts SET status = 'sending', lease_holder = $1, lease_until = $2, \
                attempts = payouts.attempts + 1, updated_at = $3 \
                FROM due WHERE payouts.key = due.key RETURNING payouts.*";
            let rows = sqlx::query(CLAIM)
                .bind(holder)
                .bind(int(lease_end(now, lease)))
                .bind(int(unix_now()))
                .bind(int(now))
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(&mut *tx)
                .await?;
            let mut claimed = rows.iter().map(payout_from_row).collect::<StoreResult<Vec<_>>>()?;
            claimed.sort_by(|a, b| (a.due_at, &a.key).cmp(&(b.due_at, &b.key)));
            Ok(claimed)
        })
    }

    async fn extend_lease(
        &self,
        key: &str,
        holder: &str,
        now: u64,
        lease: Duration,
    ) -> StoreResult<Payout> {
        in_tx!(self, tx, {
            check_can_send(&require_payout(&mut tx, key, Lock::ForUpdate).await?, holder)?;
            sqlx::query("UPDATE payouts SET lease_until = $1, updated_at = $2 WHERE key = $3")
                .bind(int(lease_end(now, lease)))
                .bind(int(unix_now()))
                .bind(key)
                .execute(&mut *tx)
                .await?;
            let payout = require_payout(&mut tx, key, Lock::No).await?;
            Ok(payout)
        })
    }

    async fn set_payout_status(
        &self,
        key: &str,
        holder: Option<&str>,
        to: PayoutStatus,
        error: Option<&str>,
    ) -> StoreResult<Payout> {
        in_tx!(self, tx, {
            check_set_payout_status(
                &require_payout(&mut tx, key, Lock::ForUpdate).await?,
                holder,
                to,
            )?;
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
            let payout = require_payout(&mut tx, key, Lock::No).await?;
            Ok(payout)
        })
    }

    async fn retry_later(
        &self,
        key: &str,
        holder: &str,
        not_before: u64,
        error: &str,
    ) -> StoreResult<Payout> {
        in_tx!(self, tx, {
            check_can_send(&require_payout(&mut tx, key, Lock::ForUpdate).await?, holder)?;
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
            let payout = require_payout(&mut tx, key, Lock::No).await?;
            Ok(payout)
        })
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
        in_tx!(self, tx, { allocate_in(&mut tx, alloc, build).await })
    }

    async fn allocate_nonces_and_record_txs(
        &self,
        batch: Vec<(AllocateTx<'_>, BuildTx<'_>)>,
    ) -> StoreResult<Vec<StoreResult<TxRecord>>> {
        in_tx!(self, tx, {
            each_in_savepoint!(tx, batch, |conn, (alloc, build)| {
                allocate_in(&mut conn, alloc, build).await
            })
        })
    }

    async fn record_gap_fill(
        &self,
        signer: Address,
        nonce: u64,
        build: BuildTx<'_>,
    ) -> StoreResult<TxRecord> {
        in_tx!(self, tx, {
            let signer_hex = hex(signer);
            // Locked first, so that no allocation of this signer runs between the check and the
            // insert.
            let stored = lock_nonce(&mut tx, &signer_hex).await?;
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
            let id = insert_tx(&mut tx, &signer_hex, nonce, &built, None, now).await?;
            if stored.is_none_or(|next| next <= nonce) {
                set_next_nonce(&mut tx, &signer_hex, nonce + 1).await?;
            }
            let record = require_tx(&mut tx, TxId(id), Lock::No).await?;
            Ok(record)
        })
    }

    async fn next_nonce(&self, signer: Address) -> StoreResult<Option<u64>> {
        let row = sqlx::query("SELECT next_nonce FROM nonces WHERE signer = $1")
            .bind(hex(signer))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| get_u64(&row, "next_nonce")).transpose()
    }

    async fn record_replacement(&self, id: TxId, new: NewTx) -> StoreResult<TxRecord> {
        in_tx!(self, tx, {
            let record = require_tx(&mut tx, id, Lock::ForUpdate).await?;
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
            let record = require_tx(&mut tx, id, Lock::No).await?;
            Ok(record)
        })
    }

    async fn set_tx_status(&self, id: TxId, update: TxUpdate) -> StoreResult<TxRecord> {
        in_tx!(self, tx, { set_status_in(&mut tx, id, update).await })
    }

    async fn set_txs_status(
        &self,
        updates: Vec<(TxId, TxUpdate)>,
    ) -> StoreResult<Vec<StoreResult<TxRecord>>> {
        in_tx!(self, tx, {
            each_in_savepoint!(tx, updates, |conn, (id, update)| {
                set_status_in(&mut conn, id, update).await
            })
        })
    }

    async fn tx(&self, id: TxId) -> StoreResult<Option<TxRecord>> {
        let mut tx = self.read().await?;
        let found = fetch_tx(&mut tx, id, Lock::No).await?;
        tx.commit().await?;
        Ok(found)
    }

    async fn tx_by_hash(&self, hash: B256) -> StoreResult<Option<TxRecord>> {
        let mut tx = self.read().await?;
        let id: Option<i64> = sqlx::query_scalar("SELECT tx_id FROM tx_hashes WHERE hash = $1")
            .bind(hex(hash))
            .fetch_optional(&mut *tx)
            .await?;
        let found = match id {
            Some(id) => fetch_tx(&mut tx, TxId(id), Lock::No).await?,
            None => None,
        };
        tx.commit().await?;
        Ok(found)
    }

    async fn txs_with_status(&self, statuses: &[TxStatus]) -> StoreResult<Vec<TxRecord>> {
        if statuses.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.read().await?;
        let sql = format!(
            "SELECT {TX_COLUMNS} FROM txs WHERE status IN ({}) ORDER BY signer, nonce",
            status_list(statuses, TxStatus::as_str)
        );
        let rows = sqlx::query(&sql).fetch_all(&mut *tx).await?;
        let mut found = rows.iter().map(tx_from_row).collect::<StoreResult<Vec<_>>>()?;
        for record in &mut found {
            load_hashes(&mut tx, record).await?;
        }
        tx.commit().await?;
        found.sort_by_key(|tx| (tx.signer, tx.nonce));
        Ok(found)
    }

    async fn insert_request(&self, request: NewRequest) -> StoreResult<(ApiRequest, bool)> {
        in_tx!(self, tx, {
            if let Some(existing) = request_by_digest(&mut tx, request.digest).await? {
                return Ok((existing, false));
            }
            let now = unix_now();
            let payout = NewPayout::request(request.id, request.due_at);
            if !insert_payout(&mut tx, &payout, now).await?.1 {
                return Err(corrupt(
                    "request",
                    format!("request id {} is already used", request.id),
                ));
            }
            let payload = serde_json::to_string(&request.payload)
                .map_err(|err| corrupt("request payload", err))?;
            // Another instance may have stored the same signature since the check above: this
            // insert waits for its transaction, then does nothing. Its request wins: ours and
            // our payout are undone in this transaction, which then reads the winner.
            let inserted = sqlx::query(
                "INSERT INTO requests (id, kind, payload, signer, digest, payout_key, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (digest) DO NOTHING",
            )
            .bind(request.id.to_string())
            .bind(request.kind.as_str())
            .bind(payload)
            .bind(hex(request.signer))
            .bind(hex(request.digest))
            .bind(&payout.key)
            .bind(int(now))
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if !inserted {
                sqlx::query("DELETE FROM payouts WHERE key = $1")
                    .bind(&payout.key)
                    .execute(&mut *tx)
                    .await?;
                let existing = request_by_digest(&mut tx, request.digest)
                    .await?
                    .ok_or_else(|| corrupt("request", "a conflicting digest vanished"))?;
                return Ok((existing, false));
            }
            let stored = fetch_request(&mut tx, request.id)
                .await?
                .ok_or_else(|| corrupt("request", "not found right after insert"))?;
            Ok((stored, true))
        })
    }

    async fn request(&self, id: RequestId) -> StoreResult<Option<ApiRequest>> {
        let mut tx = self.read().await?;
        let found = fetch_request(&mut tx, id).await?;
        tx.commit().await?;
        Ok(found)
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: u64,
        lease: Duration,
    ) -> StoreResult<Lease> {
        // ON CONFLICT DO UPDATE locks the row and re-checks the WHERE on its latest version:
        // of two instances racing for an ended lease, one updates it and the other sees the
        // winner's row. (Released between the two statements: try again, the row is free.)
        loop {
            let granted = sqlx::query(
                "INSERT INTO leases (name, holder, lease_until, updated_at) \
                 VALUES ($1, $2, $3, $5) ON CONFLICT (name) DO UPDATE SET \
                 holder = excluded.holder, lease_until = excluded.lease_until, \
                 updated_at = excluded.updated_at \
                 WHERE leases.holder = excluded.holder OR leases.lease_until < $4 \
                 RETURNING holder, lease_until",
            )
            .bind(name)
            .bind(holder)
            .bind(int(lease_end(now, lease)))
            .bind(int(now))
            .bind(int(unix_now()))
            .fetch_optional(&self.pool)
            .await?;
            let current = match granted {
                Some(row) => Some(row),
                None => {
                    sqlx::query("SELECT holder, lease_until FROM leases WHERE name = $1")
                        .bind(name)
                        .fetch_optional(&self.pool)
                        .await?
                }
            };
            if let Some(row) = current {
                return Ok(Lease {
                    holder: row.try_get("holder")?,
                    until: get_u64(&row, "lease_until")?,
                });
            }
        }
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
