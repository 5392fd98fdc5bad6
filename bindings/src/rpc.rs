//! The node behind a provider: one error type for every failed JSON-RPC exchange (a sentence
//! that names the URL when the node cannot be reached), and an HTTP provider without fillers.

use alloy::{
    providers::{DynProvider, Provider, ProviderBuilder},
    transports::{RpcError, TransportError, TransportErrorKind, http::reqwest},
};

/// A failed JSON-RPC exchange with the node, in one sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// No connection: refused, DNS failure, TLS failure, time-out.
    #[error("cannot reach the node at {url}: {reason}")]
    Unreachable {
        /// The endpoint.
        url: String,
        /// The lowest-level cause (e.g. `Connection refused (os error 111)`).
        reason: String,
    },
    /// The HTTP exchange failed with a status (a proxy's 502, a rate limit's 429...).
    #[error("the node answered HTTP {status} to {method}: {body}")]
    Http {
        /// The JSON-RPC method.
        method: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// A JSON-RPC error response.
    #[error("the node rejected {method}: {message} (code {code})")]
    Rejected {
        /// The JSON-RPC method.
        method: String,
        /// JSON-RPC error code.
        code: i64,
        /// The node's message.
        message: String,
    },
    /// Anything else (a malformed response, a null result where one was required...).
    #[error("{method} failed: {message}")]
    Other {
        /// The JSON-RPC method.
        method: String,
        /// What went wrong.
        message: String,
    },
}

impl NodeError {
    /// Classifies a transport error of a `method` call.
    pub fn from_transport(method: &str, err: &TransportError) -> Self {
        match err {
            RpcError::ErrorResp(payload) => Self::Rejected {
                method: method.to_owned(),
                code: payload.code,
                message: payload.message.to_string(),
            },
            RpcError::Transport(kind) => transport_kind_error(method, kind),
            other => Self::Other { method: method.to_owned(), message: other.to_string() },
        }
    }

    /// Whether retrying later may succeed: the node was unreachable, overloaded (HTTP 429/5xx)
    /// or answered garbage. A rejection (`Rejected`) is final.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::Other { .. } => true,
            Self::Http { status, .. } => *status == 429 || *status >= 500,
            Self::Rejected { .. } => false,
        }
    }
}

fn transport_kind_error(method: &str, kind: &TransportErrorKind) -> NodeError {
    match kind {
        TransportErrorKind::HttpError(http) => NodeError::Http {
            method: method.to_owned(),
            status: http.status,
            body: http.body.chars().take(200).collect(),
        },
        TransportErrorKind::Custom(err) => {
            if let Some(err) = err.downcast_ref::<reqwest::Error>() {
                let url = err.url().map_or_else(|| "its URL".to_owned(), ToString::to_string);
                // The innermost cause is the readable one ("Connection refused (os error 111)").
                let mut reason: &dyn std::error::Error = err;
                while let Some(source) = reason.source() {
                    reason = source;
                }
                let reason = if err.is_timeout() {
                    "the request timed out".to_owned()
                } else {
                    reason.to_string()
                };
                return NodeError::Unreachable { url, reason };
            }
            NodeError::Other { method: method.to_owned(), message: err.to_string() }
        }
        other => NodeError::Other { method: method.to_owned(), message: other.to_string() },
    }
}

/// An HTTP provider with no fillers (so nothing calls `eth_feeHistory` behind your back); pair
/// it with [`crate::tx::prepare`] and [`crate::tx::send_and_confirm`].
pub fn connect_http(url: &str) -> Result<DynProvider, NodeError> {
    let parsed = url.parse().map_err(|err| NodeError::Unreachable {
        url: url.to_owned(),
        reason: format!("not a valid URL ({err})"),
    })?;
    Ok(ProviderBuilder::default().connect_http(parsed).erased())
}
