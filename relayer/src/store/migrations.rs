//! The schema of every backend, in one place: the embedded migrations of SQLite
//! (`relayer/migrations/sqlite/`) and PostgreSQL (`relayer/migrations/postgres/`), and
//! [`apply`], which `shiftpay-relayer migrate` runs. The stores apply them at open too, so
//! `migrate` is for operators who migrate before starting (or upgrading) several instances.
//!
//! Migrations are append-only: a released file is never edited (sqlx checks their checksums);
//! a schema change is a new `NNNN_name.sql` in each backend's folder.

use sqlx::migrate::{Migrate, Migrator};

use super::{StorageUrl, StoreError, StoreResult};

/// The SQLite migrations (`relayer/migrations/sqlite/`).
pub use super::sqlite::MIGRATOR as SQLITE;

/// The PostgreSQL migrations (`relayer/migrations/postgres/`).
pub static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// A migration [`apply`] ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Its version (the file name's number).
    pub version: i64,
    /// Its description (the rest of the file name).
    pub description: String,
}

/// What [`apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// The migrations run now, oldest first (empty: the schema was up to date).
    pub applied: Vec<Applied>,
    /// How many migrations the database has in all now.
    pub total: usize,
}

/// Applies the pending migrations of the database `url` names (creating a SQLite file and its
/// directory if needed) and lists those it ran. `memory://` has nothing to migrate
/// ([`StoreError::Unsupported`]).
pub async fn apply(url: &StorageUrl) -> StoreResult<Migrated> {
    match url {
        StorageUrl::Sqlite(path) => {
            use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
            if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|err| StoreError::Database(err.into()))?;
            }
            let options = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
            let before = {
                let mut conn = pool.acquire().await?;
                conn.ensure_migrations_table().await?;
                conn.list_applied_migrations().await?
            };
            SQLITE.run(&pool).await?;
            pool.close().await;
            Ok(diff("sqlite", &SQLITE, before.iter().map(|m| m.version)))
        }
        StorageUrl::Postgres(url) => {
            use std::str::FromStr;

            use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new().max_connections(1).connect_with(options).await?;
            let mut conn = pool.acquire().await?;
            // The database's migration lock (sqlx's advisory lock, which `run_direct` takes
            // again: it stacks) from before the listing to after the run, so a concurrent
            // migrator (another `migrate`, an instance starting) neither races the creation of
            // the migrations table nor changes the list between the two.
            conn.lock().await?;
            let migrated = async {
                conn.ensure_migrations_table().await?;
                let before = conn.list_applied_migrations().await?;
                POSTGRES.run_direct(&mut *conn).await?;
                StoreResult::Ok(before)
            }
            .await;
            let unlocked = conn.unlock().await;
            drop(conn);
            pool.close().await;
            let before = migrated?;
            unlocked?;
            Ok(diff("postgres", &POSTGRES, before.iter().map(|m| m.version)))
        }
        StorageUrl::Memory => Err(StoreError::Unsupported(
            "memory:// keeps nothing: there is nothing to migrate".into(),
        )),
    }
}

/// The migrations of `migrator` not in `before` (all of them ran: `Migrator::run` succeeded).
fn diff(backend: &'static str, migrator: &Migrator, before: impl Iterator<Item = i64>) -> Migrated {
    let before: std::collections::BTreeSet<i64> = before.collect();
    let all: Vec<_> = migrator.iter().filter(|m| m.migration_type.is_up_migration()).collect();
    let applied = all
        .iter()
        .filter(|m| !before.contains(&m.version))
        .map(|m| Applied { version: m.version, description: m.description.to_string() })
        .collect();
    Migrated { backend, applied, total: all.len() }
}
