//! A JSON-RPC proxy in front of anvil that answers like a Rootstock node where the two differ
//! (see `shared/ROOTSTOCK.md`), so that end-to-end tests catch code that only works on
//! Ethereum-like nodes.
//!
//! What it changes, everything else is forwarded as it is (including `anvil_*`/`evm_*`):
//! - `eth_sendRawTransaction` of a typed envelope (first byte `0x01`..`0x7f`: EIP-2930, 1559,
//!   4844, 7702) is rejected: `-32602 "Invalid input: typed transaction ..."` (rskj fails to
//!   decode it as RLP and answers `-32602 "Invalid input: ..."`).
//! - `eth_sendTransaction`, `eth_call` and `eth_estimateGas` with an EIP-1559/2930/4844/7702
//!   field (`maxFeePerGas`, `accessList`, ...) or a `type` other than 0 are rejected:
//!   `-32602 "Unrecognized field ..."`, as rskj's strict argument parsing does.
//!   `eth_sendTransaction` without `gasPrice` gets one from `eth_gasPrice` (rskj builds a
//!   legacy transaction at the node's price; anvil would build an EIP-1559 one).
//! - [`UNSUPPORTED_METHODS`] (`eth_feeHistory`, `eth_maxPriorityFeePerGas`,
//!   `eth_getBlockReceipts`, `eth_blobBaseFee`) answer `-32601` method not found.
//! - The block tags `safe` and `finalized`, anywhere in the params, answer
//!   `-32602 "invalid blocknumber finalized"`.
//! - Blocks (`eth_getBlockByNumber`/`eth_getBlockByHash`) lose `baseFeePerGas` and the
//!   post-London fields rskj does not have ([`STRIPPED_BLOCK_FIELDS`]).
//! - `eth_getLogs` over more than [`MAX_LOG_RANGE`] blocks (both ends inclusive, `latest`,
//!   `pending`, `earliest` and hex numbers resolved) answers
//!   `-32602 "block range too large: N blocks requested, the limit is 2000"`, as the hosted
//!   Rootstock RPC API limits queries to 2,000 blocks.
//!
//! Single and batch requests are handled (a batch element by element, in order). An outage is
//! simulated with [`RskProxy::set_down`], a slow node with [`RskProxy::set_latency`];
//! [`RskProxy::count`] tells how often each method was called (rejected calls included), e.g.
//! to assert that `eth_feeHistory` was never tried.
//!
//! The proxy runs on its own thread and tokio runtime, so sync and async tests use it alike.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::CONTENT_TYPE;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};

/// Largest `eth_getLogs` range, in blocks, that the hosted Rootstock RPC API accepts.
pub const MAX_LOG_RANGE: u64 = 2_000;

/// Methods a Rootstock node does not have (answered with `-32601`).
pub const UNSUPPORTED_METHODS: &[&str] =
    &["eth_feeHistory", "eth_maxPriorityFeePerGas", "eth_getBlockReceipts", "eth_blobBaseFee"];

/// Block fields removed from anvil's blocks: Rootstock blocks have none of them.
pub const STRIPPED_BLOCK_FIELDS: &[&str] = &[
    "baseFeePerGas",
    "withdrawals",
    "withdrawalsRoot",
    "blobGasUsed",
    "excessBlobGas",
    "parentBeaconBlockRoot",
    "requestsHash",
];

/// Transaction-object fields of typed transactions, unknown to rskj's `CallArguments`.
const TYPED_TX_FIELDS: &[&str] = &[
    "maxFeePerGas",
    "maxPriorityFeePerGas",
    "accessList",
    "maxFeePerBlobGas",
    "blobVersionedHashes",
    "authorizationList",
];

/// Settings of an [`RskProxy`].
#[derive(Clone, Debug)]
pub struct RskProxyConfig {
    /// Port on 127.0.0.1 to listen on; 0 (default) picks a free one.
    pub port: u16,
    /// Largest accepted `eth_getLogs` range in blocks (default [`MAX_LOG_RANGE`]).
    pub max_log_range: u64,
}

impl Default for RskProxyConfig {
    fn default() -> Self {
        Self { port: 0, max_log_range: MAX_LOG_RANGE }
    }
}

/// A running proxy; stops (and closes its connections) when dropped.
#[derive(Debug)]
pub struct RskProxy {
    url: String,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    upstream: String,
    max_log_range: u64,
    client: reqwest::Client,
    down: watch::Sender<bool>,
    counts: Mutex<BTreeMap<String, u64>>,
    /// Added before each forwarded request, in microseconds.
    latency_micros: AtomicU64,
    /// `minimumGasPrice` added to every block (0: none), in wei.
    minimum_gas_price: AtomicU64,
}

impl RskProxy {
    /// Starts a proxy to `upstream` (e.g. [`AnvilProcess::url`](crate::anvil::AnvilProcess::url))
    /// on a free port of 127.0.0.1.
    pub fn start(upstream: impl Into<String>) -> std::io::Result<Self> {
        Self::start_with(upstream, RskProxyConfig::default())
    }

    /// Starts a proxy to `upstream` with explicit settings.
    pub fn start_with(
        upstream: impl Into<String>,
        config: RskProxyConfig,
    ) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, config.port))?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}", listener.local_addr()?);
        let client =
            reqwest::Client::builder().no_proxy().build().map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared {
            upstream: upstream.into(),
            max_log_range: config.max_log_range,
            client,
            down: watch::Sender::new(false),
            counts: Mutex::default(),
            latency_micros: AtomicU64::new(0),
            minimum_gas_price: AtomicU64::new(0),
        });
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (shutdown, stop) = oneshot::channel();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new().name("rsk-proxy".into()).spawn(move || {
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)
                    .expect("a non-blocking std listener converts inside the runtime");
                tokio::select! {
                    () = serve(listener, thread_shared) => {}
                    _ = stop => {}
                }
            });
            // Dropping the runtime here cancels the connection tasks.
        })?;
        Ok(Self { url, shared, shutdown: Some(shutdown), thread: Some(thread) })
    }

    /// `http://127.0.0.1:<port>`: point the code under test here.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The upstream node it forwards to.
    pub fn upstream(&self) -> &str {
        &self.shared.upstream
    }

    /// Simulates an outage: while down, every new connection is closed as soon as it is
    /// accepted and open connections are cut (in-flight requests included), so clients see
    /// transport errors. `set_down(false)` serves again on the same port.
    pub fn set_down(&self, down: bool) {
        self.shared.down.send_replace(down);
    }

    /// Simulates a slow (or distant) node: every request the proxy forwards (each element of a
    /// batch) waits `latency` first. `Duration::ZERO` (the default) forwards at once.
    pub fn set_latency(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.shared.latency_micros.store(micros, Ordering::Relaxed);
    }

    /// Adds rskj's `minimumGasPrice` field (wei) to every block the proxy returns, as a
    /// Rootstock node does (the floor its miners accept; nodes relay up to 80x it). `None` (the
    /// default) adds nothing: anvil has no such floor.
    pub fn set_minimum_gas_price(&self, wei: Option<u64>) {
        self.shared.minimum_gas_price.store(wei.unwrap_or(0), Ordering::Relaxed);
    }

    /// The latency set with [`RskProxy::set_latency`].
    pub fn latency(&self) -> Duration {
        Duration::from_micros(self.shared.latency_micros.load(Ordering::Relaxed))
    }

    /// Whether the outage switch is on.
    pub fn is_down(&self) -> bool {
        *self.shared.down.borrow()
    }

    /// How many requests (batch elements counted one by one) called `method`, rejected ones
    /// included.
    pub fn count(&self, method: &str) -> u64 {
        self.shared.counts().get(method).copied().unwrap_or(0)
    }

    /// All per-method request counts.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.shared.counts().clone()
    }

    /// Sets every count back to zero.
    pub fn reset_counts(&self) {
        self.shared.counts().clear();
    }
}

impl Drop for RskProxy {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Accept loop: one task per connection, cut when the outage switch goes on.
async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // E.g. out of file descriptors: back off instead of spinning.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
        };
        let mut down = shared.down.subscribe();
        if *down.borrow_and_update() {
            drop(stream);
            continue;
        }
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = service_fn(move |req| handle_http(Arc::clone(&shared), req));
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            // Biased: once the switch is on, the connection is not polled again, so no request
            // is served after `set_down(true)` returns.
            tokio::select! {
                biased;
                _ = down.wait_for(|down| *down) => {}
                _ = connection => {}
            }
        });
    }
}

/// The upstream node could not be reached or gave no JSON: answered with HTTP 502.
struct UpstreamError(String);

/// A JSON-RPC error the proxy answers instead of the upstream node.
struct Reject {
    code: i64,
    message: String,
}

impl Reject {
    fn new(code: i64, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

async fn handle_http(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() != Method::POST {
        return Ok(reply(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "JSON-RPC over POST only"));
    }
    let body = match req.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => return Ok(reply(StatusCode::BAD_REQUEST, "text/plain", e.to_string())),
    };
    let answer = match serde_json::from_slice::<Value>(&body) {
        Err(_) => Ok(rpc_error(Value::Null, &Reject::new(-32700, "Parse error"))),
        Ok(Value::Array(batch)) if batch.is_empty() => {
            Ok(rpc_error(Value::Null, &Reject::new(-32600, "Invalid request: empty batch")))
        }
        Ok(Value::Array(batch)) => {
            async {
                let mut answers = Vec::with_capacity(batch.len());
                for request in batch {
                    answers.push(shared.handle_one(request).await?);
                }
                Ok(Value::Array(answers))
            }
            .await
        }
        Ok(single) => shared.handle_one(single).await,
    };
    Ok(match answer {
        Ok(value) => reply(StatusCode::OK, "application/json", value.to_string()),
        Err(UpstreamError(message)) => reply(StatusCode::BAD_GATEWAY, "text/plain", message),
    })
}

fn reply(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, content_type.parse().expect("a valid header"));
    response
}

fn rpc_error(id: Value, reject: &Reject) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": reject.code, "message": reject.message}})
}

impl Shared {
    fn counts(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, u64>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One JSON-RPC request (a single one or a batch element).
    async fn handle_one(&self, mut request: Value) -> Result<Value, UpstreamError> {
        let id = request.get("id").cloned().unwrap_or(Value::Null);
        let Some(method) = request.get("method").and_then(Value::as_str).map(str::to_owned) else {
            return Ok(rpc_error(id, &Reject::new(-32600, "Invalid request")));
        };
        *self.counts().entry(method.clone()).or_default() += 1;
        if let Some(reject) = self.check(&method, &mut request).await? {
            return Ok(rpc_error(id, &reject));
        }
        let latency = self.latency_micros.load(Ordering::Relaxed);
        if latency > 0 {
            tokio::time::sleep(Duration::from_micros(latency)).await;
        }
        let mut answer = self.forward(&request).await?;
        if matches!(method.as_str(), "eth_getBlockByNumber" | "eth_getBlockByHash")
            && let Some(block) = answer.get_mut("result").and_then(Value::as_object_mut)
        {
            for field in STRIPPED_BLOCK_FIELDS {
                block.remove(*field);
            }
            let minimum = self.minimum_gas_price.load(Ordering::Relaxed);
            if minimum > 0 {
                block.insert("minimumGasPrice".to_owned(), Value::String(format!("{minimum:#x}")));
            }
        }
        Ok(answer)
    }

    /// The Rootstock rules: `Some(reject)` answers the request without forwarding it. May
    /// also complete the request (`gasPrice` of `eth_sendTransaction`).
    async fn check(
        &self,
        method: &str,
        request: &mut Value,
    ) -> Result<Option<Reject>, UpstreamError> {
        if UNSUPPORTED_METHODS.contains(&method) {
            let message = format!("the method {method} does not exist/is not available");
            return Ok(Some(Reject::new(-32601, message)));
        }
        let Some(params) = request.get_mut("params") else { return Ok(None) };
        if let Some(tag) = find_unsupported_tag(params) {
            return Ok(Some(Reject::new(-32602, format!("invalid blocknumber {tag}"))));
        }
        match method {
            "eth_sendRawTransaction" => Ok(check_raw_transaction(params)),
            "eth_sendTransaction" | "eth_call" | "eth_estimateGas" => {
                let Some(tx) = params.get_mut(0).and_then(Value::as_object_mut) else {
                    return Ok(None);
                };
                if let Some(field) = TYPED_TX_FIELDS.iter().find(|f| tx.contains_key(**f)) {
                    let message = format!(
                        "Unrecognized field \"{field}\": Rootstock takes legacy transactions \
                         only (use gasPrice)"
                    );
                    return Ok(Some(Reject::new(-32602, message)));
                }
                if let Some(kind) = tx.get("type").filter(|t| !is_legacy_type(t)) {
                    let message =
                        format!("Invalid input: transaction type {kind} is not supported");
                    return Ok(Some(Reject::new(-32602, message)));
                }
                if method == "eth_sendTransaction" && !tx.contains_key("gasPrice") {
                    let price = self.call("eth_gasPrice", json!([])).await?;
                    tx.insert("gasPrice".into(), price);
                }
                Ok(None)
            }
            "eth_getLogs" => self.check_log_range(params).await,
            _ => Ok(None),
        }
    }

    async fn check_log_range(&self, params: &Value) -> Result<Option<Reject>, UpstreamError> {
        let Some(filter) = params.get(0).and_then(Value::as_object) else { return Ok(None) };
        if filter.contains_key("blockHash") {
            return Ok(None);
        }
        let from = self.resolve_block(filter.get("fromBlock")).await?;
        let to = self.resolve_block(filter.get("toBlock")).await?;
        match (from, to) {
            (Some(from), Some(to)) if to >= from && to - from + 1 > self.max_log_range => {
                let message = format!(
                    "block range too large: {} blocks requested, the limit is {}",
                    to - from + 1,
                    self.max_log_range
                );
                Ok(Some(Reject::new(-32602, message)))
            }
            // Unparsable or reversed ranges: the upstream node says what it thinks of them.
            _ => Ok(None),
        }
    }

    /// A `fromBlock`/`toBlock` value as a number (missing = `latest`).
    async fn resolve_block(&self, tag: Option<&Value>) -> Result<Option<u64>, UpstreamError> {
        let tag = match tag {
            None | Some(Value::Null) => "latest",
            Some(Value::String(tag)) => tag.as_str(),
            Some(_) => return Ok(None),
        };
        Ok(match tag {
            "earliest" => Some(0),
            "latest" | "pending" => parse_quantity(&self.call("eth_blockNumber", json!([])).await?),
            hex => parse_quantity(&Value::String(hex.to_owned())),
        })
    }

    /// Forwards one request and returns the upstream node's JSON answer.
    async fn forward(&self, request: &Value) -> Result<Value, UpstreamError> {
        let response = self
            .client
            .post(&self.upstream)
            .header(CONTENT_TYPE, "application/json")
            .body(request.to_string())
            .send()
            .await
            .map_err(|e| UpstreamError(format!("upstream {} unreachable: {e}", self.upstream)))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| UpstreamError(format!("upstream {} failed: {e}", self.upstream)))?;
        serde_json::from_slice(&body).map_err(|_| {
            let text = String::from_utf8_lossy(&body);
            UpstreamError(format!("upstream {} answered {status}: {text}", self.upstream))
        })
    }

    /// A request of the proxy's own (not counted); its `result`.
    async fn call(&self, method: &str, params: Value) -> Result<Value, UpstreamError> {
        let answer = self
            .forward(&json!({"jsonrpc": "2.0", "id": 0, "method": method, "params": params}))
            .await?;
        match answer.get("result") {
            Some(result) => Ok(result.clone()),
            None => Err(UpstreamError(format!("upstream {method} failed: {answer}"))),
        }
    }
}

/// Rejects typed transaction envelopes: the first byte of a legacy transaction is an RLP list
/// prefix (>= 0xc0); typed ones start with their type (EIP-2718: 0x00..=0x7f).
fn check_raw_transaction(params: &Value) -> Option<Reject> {
    let raw = params.get(0)?.as_str()?;
    let hex = raw.strip_prefix("0x").unwrap_or(raw);
    let first = u8::from_str_radix(hex.get(..2)?, 16).ok()?;
    (first <= 0x7f).then(|| {
        Reject::new(
            -32602,
            format!(
                "Invalid input: typed transaction (type 0x{first:02x}) is not supported, \
                 Rootstock accepts legacy transactions only"
            ),
        )
    })
}

fn is_legacy_type(kind: &Value) -> bool {
    match kind {
        Value::String(s) => parse_quantity(&Value::String(s.clone())) == Some(0),
        Value::Number(n) => n.as_u64() == Some(0),
        _ => false,
    }
}

/// The first `safe`/`finalized` string anywhere in `value`.
fn find_unsupported_tag(value: &Value) -> Option<&str> {
    match value {
        Value::String(s)
            if s.eq_ignore_ascii_case("safe") || s.eq_ignore_ascii_case("finalized") =>
        {
            Some(s)
        }
        Value::Array(items) => items.iter().find_map(find_unsupported_tag),
        Value::Object(map) => map.values().find_map(find_unsupported_tag),
        _ => None,
    }
}

/// `"0x1f"` → 31.
fn parse_quantity(value: &Value) -> Option<u64> {
    let hex = value.as_str()?.strip_prefix("0x")?;
    u64::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_envelopes_are_recognised() {
        assert!(check_raw_transaction(&json!(["0x02f87082"])).is_some());
        assert!(check_raw_transaction(&json!(["0x01f8"])).is_some());
        assert!(check_raw_transaction(&json!(["0xf86c0985"])).is_none());
    }

    #[test]
    fn tags_are_found_anywhere() {
        assert_eq!(find_unsupported_tag(&json!(["0x1", "finalized"])), Some("finalized"));
        assert_eq!(find_unsupported_tag(&json!([{"toBlock": "safe"}])), Some("safe"));
        assert_eq!(find_unsupported_tag(&json!(["latest", {"a": ["pending"]}])), None);
    }
}
