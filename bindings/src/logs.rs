//! `eth_getLogs` over any block range, in pages a node accepts.
//!
//! Rootstock nodes limit a query to 5,000 blocks and 20,000 logs by default, the hosted RPC API
//! to 2,000 blocks; other providers have their own limits. [`get_logs_paged`] walks the range in
//! windows of the chain's `log_range` and halves the window when a node still says the range or
//! the result is too large.

use alloy::{
    providers::Provider,
    rpc::types::{Filter, Log},
    transports::RpcError,
};

use crate::rpc::NodeError;

/// Why paging logs failed.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    /// `from` is after `to`.
    #[error("invalid block range: from block {from} is after to block {to}")]
    InvalidRange {
        /// First block.
        from: u64,
        /// Last block.
        to: u64,
    },
    /// The node refused even a single-block query as too large, or failed otherwise.
    #[error("cannot read logs of blocks {from}..={to}: {source}")]
    Node {
        /// First block of the failing window.
        from: u64,
        /// Last block of the failing window.
        to: u64,
        /// The node's error.
        #[source]
        source: NodeError,
    },
}

/// Whether a node's error message means "ask for fewer blocks or fewer logs" (geth, erigon,
/// rskj, hosted RPCs and the test proxy word it differently).
pub fn is_range_limit_error(code: i64, message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    code == -32005
        || [
            "block range",
            "range too large",
            "range is too large",
            "too many",
            "exceeds",
            "exceed maximum",
            "limit exceeded",
            "query returned more than",
            "response size",
            "max results",
        ]
        .iter()
        .any(|needle| message.contains(needle))
}

/// The logs matching `filter` (its own block range is replaced) from block `from` to `to`, both
/// inclusive, in chain order, queried in windows of at most `range` blocks (`0` counts as 1).
/// A window the node rejects as too large is halved and retried; the smaller window is kept for
/// the rest of the walk. `progress(last_block_done, to)` is called after each window.
///
/// Decode the results with the generated event types, e.g.
/// `log.log_decode::<Payroll::StreamCreated>()`.
pub async fn get_logs_paged<P: Provider>(
    provider: &P,
    filter: &Filter,
    from: u64,
    to: u64,
    range: u64,
    mut progress: impl FnMut(u64, u64),
) -> Result<Vec<Log>, LogsError> {
    if from > to {
        return Err(LogsError::InvalidRange { from, to });
    }
    let mut window = range.max(1);
    let mut logs = Vec::new();
    let mut start = from;
    loop {
        let end = start.saturating_add(window - 1).min(to);
        let page = filter.clone().from_block(start).to_block(end);
        match provider.get_logs(&page).await {
            Ok(found) => {
                logs.extend(found);
                progress(end, to);
                if end == to {
                    return Ok(logs);
                }
                start = end + 1;
            }
            Err(RpcError::ErrorResp(payload))
                if window > 1 && is_range_limit_error(payload.code, &payload.message) =>
            {
                window /= 2;
            }
            Err(err) => {
                return Err(LogsError::Node {
                    from: start,
                    to: end,
                    source: NodeError::from_transport("eth_getLogs", &err),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_range_limit_messages() {
        assert!(is_range_limit_error(
            -32602,
            "block range too large: 2001 blocks requested, the limit is 2000"
        ));
        assert!(is_range_limit_error(-32005, "query returned more than 10000 results"));
        assert!(is_range_limit_error(-32000, "Query returned more than 20000 logs"));
        assert!(!is_range_limit_error(-32000, "header not found"));
        assert!(!is_range_limit_error(-32601, "method not found"));
    }
}
