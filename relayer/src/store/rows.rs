//! Row decoding shared by the SQL backends ([`super::sqlite`], [`super::postgres`]): the one
//! definition of how a stored row becomes a [`Payout`] or a [`TxRecord`] and of how integers,
//! hashes and status lists are written. Each backend only says how to read a column
//! ([`SqlRow`]); the SQL itself stays in the backend (the dialects differ).

use std::str::FromStr;

use alloy::primitives::Bytes;
use sqlx::{Row, postgres::PgRow, sqlite::SqliteRow};

use super::{Lease, Payout, PayoutKind, StoreError, StoreResult, TxId, TxRecord};

/// Reading one column of a result row, whatever the database.
pub(super) trait SqlRow {
    /// A non-null integer column.
    fn int(&self, column: &'static str) -> StoreResult<i64>;
    /// A nullable integer column.
    fn opt_int(&self, column: &'static str) -> StoreResult<Option<i64>>;
    /// A non-null text column.
    fn text(&self, column: &'static str) -> StoreResult<String>;
    /// A nullable text column.
    fn opt_text(&self, column: &'static str) -> StoreResult<Option<String>>;
    /// A non-null binary column.
    fn bytes(&self, column: &'static str) -> StoreResult<Vec<u8>>;
}

macro_rules! sql_row {
    ($row:ty) => {
        impl SqlRow for $row {
            fn int(&self, column: &'static str) -> StoreResult<i64> {
                Ok(self.try_get(column)?)
            }
            fn opt_int(&self, column: &'static str) -> StoreResult<Option<i64>> {
                Ok(self.try_get(column)?)
            }
            fn text(&self, column: &'static str) -> StoreResult<String> {
                Ok(self.try_get(column)?)
            }
            fn opt_text(&self, column: &'static str) -> StoreResult<Option<String>> {
                Ok(self.try_get(column)?)
            }
            fn bytes(&self, column: &'static str) -> StoreResult<Vec<u8>> {
                Ok(self.try_get(column)?)
            }
        }
    };
}

sql_row!(SqliteRow);
sql_row!(PgRow);

/// A `u64` as a signed 64-bit SQL integer (saturating: only "never" times come near the limit).
pub(super) fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A stored value that does not decode.
pub(super) fn corrupt(what: &'static str, detail: impl ToString) -> StoreError {
    StoreError::Corrupt { what, detail: detail.to_string() }
}

/// A non-negative integer column.
pub(super) fn get_u64(row: &impl SqlRow, column: &'static str) -> StoreResult<u64> {
    let value = row.int(column)?;
    u64::try_from(value).map_err(|_| corrupt(column, format!("negative value {value}")))
}

/// A nullable non-negative integer column.
pub(super) fn get_opt_u64(row: &impl SqlRow, column: &'static str) -> StoreResult<Option<u64>> {
    row.opt_int(column)?
        .map(|v| u64::try_from(v).map_err(|_| corrupt(column, format!("negative value {v}"))))
        .transpose()
}

/// Bytes (an address, a hash) as the `0x`-prefixed lowercase hex the tables store.
pub(super) fn hex<T: AsRef<[u8]>>(value: T) -> String {
    alloy::hex::encode_prefixed(value)
}

/// A text column parsed into `T` (addresses, hashes, amounts, statuses).
pub(super) fn get_parsed<T: FromStr>(row: &impl SqlRow, column: &'static str) -> StoreResult<T>
where
    T::Err: std::fmt::Display,
{
    let text = row.text(column)?;
    text.parse().map_err(|err| corrupt(column, format!("{text:?}: {err}")))
}

/// A `payouts` row (the columns of the backends' `PAYOUT_COLUMNS`).
pub(super) fn payout_from_row(row: &impl SqlRow) -> StoreResult<Payout> {
    let detail = row.text("detail")?;
    let kind: PayoutKind = serde_json::from_str(&detail).map_err(|err| corrupt("payout", err))?;
    let holder = row.opt_text("lease_holder")?;
    let until = get_opt_u64(row, "lease_until")?;
    let attempts = row.int("attempts")?;
    Ok(Payout {
        key: row.text("key")?,
        kind,
        due_at: get_u64(row, "due_at")?,
        status: get_parsed(row, "status")?,
        source_block: get_opt_u64(row, "source_block")?,
        attempts: u32::try_from(attempts).map_err(|_| corrupt("attempts", attempts))?,
        last_error: row.opt_text("last_error")?,
        tx_id: row.opt_int("tx_id")?.map(TxId),
        lease: holder.zip(until).map(|(holder, until)| Lease { holder, until }),
        created_at: get_u64(row, "created_at")?,
        updated_at: get_u64(row, "updated_at")?,
    })
}

/// A `transactions` row without its hashes (the backends fill them from `tx_hashes`).
pub(super) fn tx_from_row(row: &impl SqlRow) -> StoreResult<TxRecord> {
    Ok(TxRecord {
        id: TxId(row.int("id")?),
        signer: get_parsed(row, "signer")?,
        nonce: get_u64(row, "nonce")?,
        hashes: Vec::new(),
        raw: Bytes::from(row.bytes("raw")?),
        gas_price: get_parsed(row, "gas_price")?,
        status: get_parsed(row, "status")?,
        mined_block: get_opt_u64(row, "mined_block")?,
        payout_key: row.opt_text("payout_key")?,
        created_at: get_u64(row, "created_at")?,
        updated_at: get_u64(row, "updated_at")?,
    })
}

/// `'a', 'b'` for an SQL `IN (...)` list of statuses. The names are the store's own constants,
/// never user input, so inlining them is safe.
pub(super) fn status_list<T: Copy>(statuses: &[T], name: impl Fn(T) -> &'static str) -> String {
    statuses.iter().map(|&s| format!("'{}'", name(s))).collect::<Vec<_>>().join(", ")
}
