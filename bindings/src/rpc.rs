//! The node behind a provider: one error type for every failed JSON-RPC exchange (a sentence
//! that names the URL when the node cannot be reached, secrets redacted by [`redact_url`]), and
//! an HTTP provider without fillers ([`connect_http`], [`connect_http_with_timeout`]).

use std::time::Duration;

use alloy::{
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::client::RpcClient,
    transports::{
        RpcError, TransportError, TransportErrorKind,
        http::reqwest::{self, Url},
    },
};

/// A failed JSON-RPC exchange with the node, in one sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// No connection: refused, DNS failure, TLS failure, time-out.
    #[error("cannot reach the node at {}: {reason}", redact_url(url))]
    Unreachable {
        /// The endpoint, redacted by [`redact_url`] (an RPC URL often carries an API key).
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
                let url =
                    err.url().map_or_else(|| "its URL".to_owned(), |url| redact_url(url.as_str()));
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

/// A URL as it may be shown or logged: `scheme://host[:port]`, plus `/…` when the URL had
/// anything else (credentials, a path, a query or a fragment), since hosted RPC endpoints and
/// database URLs carry API keys and passwords there. Something that is not a URL is shown as
/// `(an invalid URL)`. The one definition for the CLI, the relayer and [`NodeError`].
///
/// ```
/// use shiftpay_bindings::rpc::redact_url;
/// assert_eq!(redact_url("https://public-node.rsk.co"), "https://public-node.rsk.co");
/// assert_eq!(redact_url("https://rpc.example.com/v2/SECRET"), "https://rpc.example.com/…");
/// assert_eq!(redact_url("postgres://relayer:pw@db:5432/shiftpay"), "postgres://db:5432/…");
/// ```
pub fn redact_url(url: &str) -> String {
    let Ok(parsed) = Url::parse(url.trim()) else { return "(an invalid URL)".to_owned() };
    let hidden = (parsed.path() != "/" && !parsed.path().is_empty())
        || parsed.query().is_some()
        || parsed.fragment().is_some()
        || !parsed.username().is_empty()
        || parsed.password().is_some();
    let tail = if hidden { "/…" } else { "" };
    match parsed.host_str() {
        Some(host) => {
            let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{host}{port}{tail}", parsed.scheme())
        }
        None => format!("{}:…", parsed.scheme()),
    }
}

/// An HTTP provider with no fillers (so nothing calls `eth_feeHistory` behind your back); pair
/// it with [`crate::tx::prepare`] and [`crate::tx::send_and_confirm`]. Requests have no time
/// limit of their own: use [`connect_http_with_timeout`] for a service.
pub fn connect_http(url: &str) -> Result<DynProvider, NodeError> {
    let parsed = parse_url(url)?;
    Ok(ProviderBuilder::default().connect_http(parsed).erased())
}

/// [`connect_http`] whose every request fails with [`NodeError::Unreachable`] ("the request
/// timed out") after `timeout` (the relayer's `rpc_timeout`): a node that accepts the connection
/// and never answers cannot hang the caller.
pub fn connect_http_with_timeout(url: &str, timeout: Duration) -> Result<DynProvider, NodeError> {
    let parsed = parse_url(url)?;
    let client = reqwest::Client::builder().timeout(timeout).build().map_err(|err| {
        NodeError::Unreachable {
            url: redact_url(url),
            reason: format!("cannot build an HTTP client: {err}"),
        }
    })?;
    let rpc = RpcClient::new_http_with_client(client, parsed);
    Ok(ProviderBuilder::default().connect_client(rpc).erased())
}

fn parse_url(url: &str) -> Result<Url, NodeError> {
    url.parse().map_err(|err| NodeError::Unreachable {
        url: redact_url(url),
        reason: format!("not a valid URL ({err})"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_secrets() {
        for (url, shown) in [
            ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
            ("https://public-node.rsk.co", "https://public-node.rsk.co"),
            ("https://public-node.rsk.co/", "https://public-node.rsk.co"),
            ("https://rpc.example.com/v2/SECRET", "https://rpc.example.com/…"),
            ("https://user:pw@rpc.example.com", "https://rpc.example.com/…"),
            ("https://KEY@rpc.example.com", "https://rpc.example.com/…"),
            ("https://rpc.example.com/?key=SECRET", "https://rpc.example.com/…"),
            ("https://rpc.example.com#SECRET", "https://rpc.example.com/…"),
            ("postgres://relayer:hunter2@db:5432/shiftpay", "postgres://db:5432/…"),
            ("http://[::1]:4444", "http://[::1]:4444"),
            ("sqlite:relayer.db", "sqlite:…"),
            ("not a url", "(an invalid URL)"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn an_unreachable_node_is_named_without_its_secrets() {
        let err = NodeError::Unreachable {
            url: "https://rpc.example.com/v2/0123456789abcdef".to_owned(),
            reason: "connection refused".to_owned(),
        };
        assert_eq!(
            err.to_string(),
            "cannot reach the node at https://rpc.example.com/…: connection refused"
        );
        let Err(err) = connect_http_with_timeout("rpc.example.com/SECRET", Duration::from_secs(1))
        else {
            panic!("not a URL, yet connected");
        };
        assert!(!err.to_string().contains("SECRET"), "{err}");
        assert!(err.to_string().contains("not a valid URL"), "{err}");
    }

    #[tokio::test]
    async fn a_silent_node_times_out() {
        // A listener that accepts and never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v2/0123456789abcdef", listener.local_addr().unwrap());
        let provider = connect_http_with_timeout(&url, Duration::from_millis(300)).unwrap();
        let started = std::time::Instant::now();
        let err = provider.get_chain_id().await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        let node = NodeError::from_transport("eth_chainId", &err);
        match &node {
            NodeError::Unreachable { url, reason } => {
                assert_eq!(reason, "the request timed out");
                assert!(!url.contains("0123456789abcdef"), "{url}");
            }
            other => panic!("{other:?}"),
        }
        drop(listener);
    }
}
