//! Several changes in one storage transaction, for the SQL backends' batch methods
//! ([`super::Store::allocate_nonces_and_record_txs`], [`super::Store::set_txs_status`]).
//!
//! Each item runs in its own savepoint inside the caller's transaction: an item refused by a
//! guard (or by a constraint the database enforces) is rolled back to its savepoint alone, so the
//! other items end up exactly as if each had been its own transaction, and the batch is committed
//! once. PostgreSQL needs the savepoint for a failed statement (it aborts the whole transaction
//! otherwise); SQLite needs it for an item that failed after one of its writes. A transient error
//! ([`super::StoreError::is_transient`]) ends the batch: the caller drops its transaction, which
//! rolls every item back.
//!
//! A macro rather than a generic function: the body is an `async` block that borrows the
//! savepoint's connection, and the batch methods' futures must stay `Send` for `async_trait`,
//! which a generic `AsyncFnMut` parameter cannot promise.

/// Runs `$body` once per item of `$items` (bound to `$item`) in a savepoint of the transaction
/// `$tx`, with `$conn` the savepoint (it derefs to the backend's connection). Evaluates to
/// `StoreResult<Vec<StoreResult<T>>>`: one result per item, or the first transient error.
macro_rules! each_in_savepoint {
    ($tx:ident, $items:expr, |$conn:ident, $item:pat_param| $body:block) => {{
        let mut results = Vec::new();
        let mut failed: Option<$crate::store::StoreError> = None;
        for $item in $items {
            let mut $conn = sqlx::Acquire::begin(&mut $tx).await?;
            let result: $crate::store::StoreResult<_> = async { $body }.await;
            match result {
                Ok(value) => {
                    $conn.commit().await?;
                    results.push(Ok(value));
                }
                Err(err) if err.is_transient() => {
                    failed = Some(err);
                    break;
                }
                Err(err) => {
                    $conn.rollback().await?;
                    results.push(Err(err));
                }
            }
        }
        match failed {
            Some(err) => Err(err),
            None => Ok(results),
        }
    }};
}
