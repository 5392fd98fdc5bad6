//! The HTTP API (axum): signed requests in, their state out, and the operator's endpoints.
//!
//! | route | answer |
//! | --- | --- |
//! | `POST /v1/requests` | `202 {"id", "status"}` (a new request), `200` (the same signed request again), or a 4xx error |
//! | `GET /v1/requests/{id}` | `200 {"id", "kind", "status", "signer", "digest", "txHash", "error", "createdAt", "updatedAt"}` or `404` |
//! | `GET /v1/config` | `200`: what a wallet page needs to talk to this deployment ([`client_config`]): chain, contracts, tokens, explorer, EIP-712 domains and types |
//! | `GET /health` | `200 {"status": "ok", "instance"}` while the process serves (liveness) |
//! | `GET /ready` | `200` when the node answers and the watcher lags at most `api.ready_max_lag` blocks, else `503` (readiness); with the `instance` id, its `role` (`leader`: holds the cursor lease, or `follower`) and the `leader`'s id |
//! | `GET /metrics` | Prometheus text format ([`crate::metrics`]) |
//! | `GET /*` (other paths) | with `api.web_dir` set, the wallet page's static files (`index.html` at `/`); otherwise, like every unknown route, a JSON `404` |
//!
//! Every error is `{"error": {"code": "...", "message": "..."}}`; the message names the field
//! or the check that failed. A request is queued only after every check passed, in this order:
//! JSON shape (400: `invalid_json`, `missing_field`, `invalid_field`, `unknown_field`,
//! `unknown_kind`; 415 without a JSON content type; 413 over `api.body_limit`), chain id (422
//! `wrong_chain`), contract (422 `wrong_contract`), deadline (422 `expired`), the stream or job
//! (422 `unknown_stream` / `unknown_job`), each signature (422 `invalid_signature`,
//! `wrong_signer`; ECDSA recovered with the bindings' typed data, or EIP-1271
//! `isValidSignature` when the party is a contract), the per-signer rate limit (429
//! `rate_limited`, `Retry-After`), each nonce (409 `nonce_used`, 422 `nonce_mismatch`), and an
//! `eth_call` of the exact transaction from the relayer's address (422 `would_revert`, with the
//! decoded custom error). The request and its payout (`request:{id}`) are then stored in one
//! transaction. Node failures during the checks are 503 `node_unavailable`: nothing is queued.

pub mod rate_limit;
pub mod request;

use std::{sync::Arc, time::Duration};

use alloy::{
    primitives::{FixedBytes, Signature, U256},
    providers::Provider,
};
use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, State, rejection::BytesRejection},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};
use shiftpay_bindings::{
    escrow::{self, Approval, Settlement},
    payroll::{self, WithdrawRequest},
    tokens::Token,
    tx::{self, TxError},
    units::{MonthMode, Period, format_time},
};
use tokio::net::TcpListener;
use tower_http::{
    cors::{AllowOrigin, Any, CorsLayer},
    limit::RequestBodyLimitLayer,
    services::ServeDir,
};
use tracing::{error, info, warn};

use self::{
    rate_limit::RateLimiter,
    request::{FieldError, Parties, PartyError, SignedPart, SignedRequest, onchain_nonce, parties},
};
use crate::{
    metrics::{Metrics, Snapshot},
    sender::chain,
    service::{Context, Stage, Task, TaskContext, TaskError},
    store::{ApiRequest, NewRequest, RequestId, RequestKind, StoreError},
    watcher::{Role, StatusCell},
};

alloy::sol! {
    /// EIP-1271: how a contract account (a Safe) says a signature is its own.
    interface IERC1271 {
        /// Returns `0x1626ba7e` when `signature` is valid for `hash`.
        function isValidSignature(bytes32 hash, bytes signature) external view returns (bytes4 magicValue);
    }
}

/// `isValidSignature`'s answer for a valid signature.
const EIP1271_MAGIC: FixedBytes<4> = FixedBytes([0x16, 0x26, 0xba, 0x7e]);

/// `/ready` fails when the watcher is more than this many blocks behind the confirmed head
/// (the default of `api.ready_max_lag`).
pub const DEFAULT_READY_MAX_LAG: u64 = 50;

/// The API's settings that the handlers read besides the shared config's `api` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiOptions {
    /// The largest lag (blocks) `/ready` accepts (config `api.ready_max_lag`).
    pub ready_max_lag: u64,
}

impl ApiOptions {
    /// From the config (`api.ready_max_lag`).
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self { ready_max_lag: config.api.ready_max_lag }
    }
}

impl Default for ApiOptions {
    fn default() -> Self {
        Self { ready_max_lag: DEFAULT_READY_MAX_LAG }
    }
}

/// An API error: HTTP status, machine code, one-sentence message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable code (`wrong_signer`, `nonce_used`...).
    pub code: &'static str,
    /// What is wrong, naming the field or check.
    pub message: String,
    /// Seconds until a retry may succeed (`429`).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error without `Retry-After`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after: None }
    }

    fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    fn node(err: &TxError) -> Self {
        if err.is_transient() {
            Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "node_unavailable",
                format!("the relayer cannot check the request now ({err}); try again later"),
            )
        } else {
            Self::new(StatusCode::BAD_GATEWAY, "node_error", format!("the node failed: {err}"))
        }
    }

    fn store(err: &StoreError) -> Self {
        error!(%err, "store error in the API");
        if err.is_transient() {
            Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "the relayer's database is busy; try again",
            )
        } else {
            Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the relayer's database failed",
            )
        }
    }

    fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    }
}

impl From<FieldError> for ApiError {
    fn from(err: FieldError) -> Self {
        Self::new(StatusCode::BAD_REQUEST, err.code, err.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({ "error": { "code": self.code, "message": self.message } }));
        let mut response = (self.status, body).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct ApiState {
    shared: Arc<Context>,
    metrics: Arc<Metrics>,
    limiter: Arc<RateLimiter>,
    options: ApiOptions,
    watcher: Option<StatusCell>,
}

impl ApiState {
    /// The state over the shared context (rate limit from `api.rate_limit_per_minute`).
    pub fn new(shared: Arc<Context>, metrics: Arc<Metrics>, options: ApiOptions) -> Self {
        let limiter = Arc::new(RateLimiter::new(shared.config.api.rate_limit_per_minute));
        Self { shared, metrics, limiter, options, watcher: None }
    }

    /// Reports the watcher's role (leader or follower of the cursor lease) on `/ready` and
    /// `/metrics`.
    pub fn with_watcher(mut self, status: StatusCell) -> Self {
        self.watcher = Some(status);
        self
    }

    /// The role of this instance, when a watcher runs beside the API.
    fn role(&self) -> Option<Role> {
        self.watcher.as_ref().map(|status| status.get().role)
    }

    /// The role of this instance and the cursor lease's holder as its watcher last saw them.
    fn lease(&self) -> Option<(Role, Option<String>)> {
        self.watcher.as_ref().map(|status| {
            let status = status.get();
            (status.role, status.leader)
        })
    }
}

/// The routes with their layers: CORS (from `api.cors_origins`), the body limit
/// (`api.body_limit`, tower-http; a JSON 413), JSON errors for unknown routes and methods.
/// With `api.web_dir`, every path no route matches is looked up in that directory (the wallet
/// page; a directory serves its `index.html`), and what is not there is the JSON 404.
pub fn router(state: ApiState) -> Router {
    let limit = state.shared.config.api.body_limit;
    let cors = cors_layer(&state.shared.config.api.cors_origins);
    let web_dir = state.shared.config.api.web_dir.clone();
    let router = Router::new()
        .route("/v1/requests", post(submit))
        .route("/v1/requests/{id}", get(get_request))
        .route("/v1/config", get(config))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics));
    let router = match web_dir {
        Some(dir) => {
            use axum::handler::HandlerWithoutStateExt;
            let files = ServeDir::new(dir)
                .append_index_html_on_directories(true)
                .not_found_service(not_found.into_service());
            router.fallback_service(files)
        }
        None => router.fallback(not_found),
    };
    let router = router
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(axum::middleware::map_response(move |response: Response| async move {
            json_413(response, limit)
        }));
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// The CORS layer: `*` allows any origin; a list allows those; empty: no CORS headers.
fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE])
        .max_age(Duration::from_secs(600));
    if origins.iter().any(|origin| origin == "*") {
        Some(layer.allow_origin(Any))
    } else {
        let list: Vec<HeaderValue> =
            origins.iter().filter_map(|origin| HeaderValue::from_str(origin).ok()).collect();
        Some(layer.allow_origin(AllowOrigin::list(list)))
    }
}

/// tower-http answers an oversized `Content-Length` with a plain-text 413: make it JSON.
fn json_413(response: Response, limit: usize) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        ApiError::too_large(limit).into_response()
    } else {
        response
    }
}

async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no route {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

// ---- POST /v1/requests ----------------------------------------------------------------------

async fn submit(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let limit = state.shared.config.api.body_limit;
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(limit)
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", rejection.body_text())
        }
    })?;
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/json"));
    if !json_type {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the request as JSON with `Content-Type: application/json`",
        ));
    }
    let (request, payload) = SignedRequest::from_slice(&body)?;
    let (stored, inserted) = accept(&state, &request, payload).await?;
    let status = if inserted { StatusCode::ACCEPTED } else { StatusCode::OK };
    if inserted {
        info!(id = %stored.id, kind = %stored.kind, what = %request.describe(), "request accepted");
    }
    let mut response =
        (status, Json(json!({ "id": stored.id.to_string(), "status": stored.status.as_str() })))
            .into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/requests/{}", stored.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Every check after the JSON shape, then the store. Returns the stored request and whether it
/// is new.
async fn accept(
    state: &ApiState,
    request: &SignedRequest,
    payload: Value,
) -> Result<(ApiRequest, bool), ApiError> {
    let ctx = &state.shared;
    let provider = &ctx.provider;
    if request.chain_id != ctx.chain.chain_id {
        return Err(ApiError::unprocessable(
            "wrong_chain",
            format!(
                "field `chainId`: this relayer serves {} (chain id {}), not chain {}",
                ctx.chain.display_name(),
                ctx.chain.chain_id,
                request.chain_id
            ),
        ));
    }
    let expected = match request.kind() {
        RequestKind::Withdraw => ctx.deployment.payroll.address,
        RequestKind::Approve | RequestKind::Settle => ctx.deployment.escrow.address,
    };
    if request.contract != expected {
        return Err(ApiError::unprocessable(
            "wrong_contract",
            format!(
                "field `contract`: this relayer's {} is {}, not {}",
                request.contract_name(),
                ctx.chain.format_address(expected),
                ctx.chain.format_address(request.contract)
            ),
        ));
    }
    let head = chain::head(provider).await.map_err(|err| ApiError::node(&err))?;
    let deadline = request.deadline();
    if deadline < U256::from(head.timestamp) {
        let shown = u64::try_from(deadline).map(format_time).unwrap_or_default();
        return Err(ApiError::unprocessable(
            "expired",
            format!(
                "field `deadline`: {deadline} ({shown}) has passed: the chain's time is {} ({})",
                head.timestamp,
                format_time(head.timestamp)
            ),
        ));
    }
    let parties = match parties(provider, request).await {
        Ok(parties) => parties,
        Err(PartyError::NotFound(message)) => {
            let code = match request.kind() {
                RequestKind::Withdraw => "unknown_stream",
                RequestKind::Approve | RequestKind::Settle => "unknown_job",
            };
            return Err(ApiError::unprocessable(code, message));
        }
        Err(PartyError::Node(err)) => return Err(ApiError::node(&err)),
    };
    let parts = request.parts();
    for part in &parts {
        verify_signature(state, &parties, part).await?;
    }
    for part in &parts {
        let party = parties.of(part.role);
        if let Err(wait) = state.limiter.acquire(party) {
            let seconds = wait.as_secs().max(1);
            return Err(ApiError {
                retry_after: Some(seconds),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!(
                        "too many requests signed by {} (limit {} per minute): try again in {seconds} s",
                        ctx.chain.format_address(party),
                        ctx.config.api.rate_limit_per_minute
                    ),
                )
            });
        }
    }
    for part in &parts {
        let party = parties.of(part.role);
        let current =
            onchain_nonce(provider, request, party).await.map_err(|err| ApiError::node(&err))?;
        if part.nonce < current {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "nonce_used",
                format!(
                    "field `{}`: nonce {} of the {} {} is already used (the next is {current}): this request was executed or cancelled already",
                    part.nonce_field,
                    part.nonce,
                    part.role.as_str(),
                    ctx.chain.format_address(party)
                ),
            ));
        }
        if part.nonce > current {
            return Err(ApiError::unprocessable(
                "nonce_mismatch",
                format!(
                    "field `{}`: nonce {} is ahead of the {}'s next nonce {current}: submit the earlier requests first",
                    part.nonce_field,
                    part.nonce,
                    part.role.as_str()
                ),
            ));
        }
    }
    match tx::simulate(provider, Some(ctx.signer.address()), &request.call()).await {
        Ok(_) => {}
        Err(TxError::Reverted(revert)) => {
            return Err(ApiError::unprocessable(
                "would_revert",
                format!("the {} call would revert: {revert}", request.contract_name()),
            ));
        }
        Err(err) => return Err(ApiError::node(&err)),
    }
    let signer = parties.of(parts[0].role);
    let new = NewRequest {
        id: RequestId::new(),
        kind: request.kind(),
        payload,
        signer,
        digest: request.store_digest(),
        due_at: head.timestamp,
    };
    ctx.store.insert_request(new).await.map_err(|err| ApiError::store(&err))
}

/// Checks one signature: EIP-1271 when the party has code, ECDSA recovery otherwise.
async fn verify_signature(
    state: &ApiState,
    parties: &Parties,
    part: &SignedPart,
) -> Result<(), ApiError> {
    let ctx = &state.shared;
    let party = parties.of(part.role);
    let who = format!("the {} of {}", part.role.as_str(), parties.subject);
    let code = chain::code_at(&ctx.provider, party).await.map_err(|err| ApiError::node(&err))?;
    if !code.is_empty() {
        let call =
            IERC1271::isValidSignatureCall { hash: part.digest, signature: part.signature.clone() };
        return match chain::view(&ctx.provider, party, &call).await {
            Ok(magic) if magic == EIP1271_MAGIC => Ok(()),
            Ok(_) | Err(TxError::Reverted(_)) => Err(ApiError::unprocessable(
                "invalid_signature",
                format!(
                    "field `{}`: {who} is a contract ({}) and its isValidSignature (EIP-1271) rejects the signature",
                    part.field,
                    ctx.chain.format_address(party)
                ),
            )),
            Err(err) => Err(ApiError::node(&err)),
        };
    }
    let bytes = part.signature.as_ref();
    let signature = match bytes.len() {
        65 => Signature::from_raw(bytes).ok(),
        64 => Some(Signature::from_erc2098(bytes)),
        _ => None,
    };
    let Some(signature) = signature else {
        return Err(ApiError::unprocessable(
            "invalid_signature",
            format!(
                "field `{}`: {} bytes is not an ECDSA signature (65 bytes, or 64 in EIP-2098 form)",
                part.field,
                bytes.len()
            ),
        ));
    };
    if signature.normalize_s().is_some() {
        return Err(ApiError::unprocessable(
            "invalid_signature",
            format!(
                "field `{}`: a malleable signature (high s), which the contracts reject",
                part.field
            ),
        ));
    }
    match signature.recover_address_from_prehash(&part.digest) {
        Ok(recovered) if recovered == party => Ok(()),
        Ok(recovered) => Err(ApiError::unprocessable(
            "wrong_signer",
            format!(
                "field `{}`: signed by {}, but {who} is {} (a signature over other typed data, \
                 e.g. another chain id, contract address or field value, recovers to another \
                 address)",
                part.field,
                ctx.chain.format_address(recovered),
                ctx.chain.format_address(party)
            ),
        )),
        Err(err) => Err(ApiError::unprocessable(
            "invalid_signature",
            format!("field `{}`: no signer can be recovered ({err})", part.field),
        )),
    }
}

// ---- GET /v1/requests/{id} ------------------------------------------------------------------

async fn get_request(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let parsed: RequestId = id.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_id",
            format!("`{id}` is not a request id (a UUID)"),
        )
    })?;
    let request =
        state.shared.store.request(parsed).await.map_err(|err| ApiError::store(&err))?.ok_or_else(
            || ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no request {id}")),
        )?;
    Ok(Json(request_json(&state.shared, &request)))
}

fn request_json(ctx: &Context, request: &ApiRequest) -> Value {
    json!({
        "id": request.id.to_string(),
        "kind": request.kind.as_str(),
        "status": request.status.as_str(),
        "signer": ctx.chain.format_address(request.signer),
        "digest": request.digest,
        "txHash": request.tx_hash,
        "error": request.error,
        "createdAt": request.created_at,
        "updatedAt": request.updated_at,
    })
}

// ---- GET /v1/config -------------------------------------------------------------------------

async fn config(State(state): State<ApiState>) -> Json<Value> {
    Json(client_config(&state.shared))
}

/// What a wallet page needs to act on this relayer's deployment, all from the one definition of
/// each thing (deployment file, chain preset, bindings' typed data):
///
/// ```json
/// {"chainId": 31, "chainName": "Rootstock Testnet", "nativeSymbol": "tRBTC",
///  "publicRpcUrl": "https://public-node.testnet.rsk.co", "explorer": "https://explorer.testnet.rootstock.io",
///  "payroll": "0x…", "escrow": "0x…", "deploymentBlock": 123, "logRange": 2000,
///  "confirmations": 12, "gasMarginPct": 20, "relayer": "0x…", "monthSeconds": 2592000,
///  "tokens": [{"address": "0x000…", "symbol": "tRBTC", "decimals": 18, "native": true}, …],
///  "eip712": {"payroll": {"name": "ShiftPay Payroll", "version": "1", "types": ["WithdrawRequest(…)"]},
///             "escrow": {"name": "ShiftPay MilestoneEscrow", "version": "1", "types": ["Approval(…)", "Settlement(…)"]}}}
/// ```
/// `publicRpcUrl` is the chain preset's public endpoint (for `wallet_addEthereumChain`), never
/// the relayer's own `rpc_url`, which may carry a key. `explorer` is `null` without one.
/// `gasMarginPct` is the transaction policy's margin over `eth_estimateGas`; amounts are token
/// units (the page formats them with `decimals`); a rate's month is `monthSeconds` long.
pub fn client_config(ctx: &Context) -> Value {
    let chain = &ctx.chain;
    let native = Token::native(chain);
    let preset_tokens = chain.preset.map_or(&[][..], |preset| preset.tokens);
    let tokens: Vec<Value> = std::iter::once(native)
        .chain(preset_tokens.iter().map(Token::from_info))
        .chain(ctx.deployment.tokens.iter().map(Token::from_deployed))
        .map(|token| {
            json!({
                "address": chain.format_address(token.address),
                "symbol": token.symbol,
                "decimals": token.decimals,
                "native": token.is_native(),
            })
        })
        .collect();
    json!({
        "chainId": chain.chain_id,
        "chainName": chain.display_name(),
        "nativeSymbol": chain.native_symbol(),
        "publicRpcUrl": chain.preset.map(|preset| preset.rpc_url),
        "explorer": chain.explorer.as_deref().map(|url| url.trim_end_matches('/')),
        "payroll": chain.format_address(ctx.deployment.payroll.address),
        "escrow": chain.format_address(ctx.deployment.escrow.address),
        "deploymentBlock": ctx.deployment.start_block(),
        "logRange": chain.log_range,
        "confirmations": chain.confirmations,
        "gasMarginPct": ctx.tx_policy.gas_margin_pct,
        "relayer": chain.format_address(ctx.signer.address()),
        "monthSeconds": Period::Month.seconds(MonthMode::default()),
        "tokens": tokens,
        "eip712": {
            "payroll": {
                "name": payroll::EIP712_NAME,
                "version": payroll::EIP712_VERSION,
                "types": [WithdrawRequest::TYPE_STRING],
            },
            "escrow": {
                "name": escrow::EIP712_NAME,
                "version": escrow::EIP712_VERSION,
                "types": [Approval::TYPE_STRING, Settlement::TYPE_STRING],
            },
        },
    })
}

// ---- operator endpoints ---------------------------------------------------------------------

async fn health(State(state): State<ApiState>) -> Json<Value> {
    Json(json!({ "status": "ok", "instance": state.shared.instance }))
}

/// How far behind the watcher is.
#[derive(Debug, Clone, Copy)]
struct Lag {
    head: u64,
    confirmed_head: u64,
    cursor: Option<u64>,
    lag: u64,
}

/// Reads the head and the cursor: lag = `(head - confirmations) - cursor` (before the first
/// step, from the deployment block).
async fn lag(state: &ApiState) -> Result<Lag, String> {
    let ctx = &state.shared;
    let head = tokio::time::timeout(ctx.config.rpc_timeout, chain::head(&ctx.provider))
        .await
        .map_err(|_| "the node did not answer in time".to_owned())?
        .map_err(|err| err.to_string())?;
    let cursor = ctx.store.cursor().await.map_err(|err| format!("store: {err}"))?.map(|c| c.block);
    let confirmed_head = head.number.saturating_sub(ctx.chain.confirmations);
    let scanned = cursor.unwrap_or_else(|| ctx.deployment.start_block().saturating_sub(1));
    let lag = confirmed_head.saturating_sub(scanned);
    state.metrics.set_lag(lag);
    Ok(Lag { head: head.number, confirmed_head, cursor, lag })
}

async fn ready(State(state): State<ApiState>) -> Response {
    let (status, mut body) = match lag(&state).await {
        Ok(lag) if lag.lag <= state.options.ready_max_lag => (
            StatusCode::OK,
            json!({
                "status": "ready", "head": lag.head, "confirmedHead": lag.confirmed_head,
                "cursor": lag.cursor, "lagBlocks": lag.lag,
            }),
        ),
        Ok(lag) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({
                "status": "not_ready",
                "reason": format!("{} blocks behind the confirmed head (at most {})", lag.lag, state.options.ready_max_lag),
                "head": lag.head, "confirmedHead": lag.confirmed_head, "cursor": lag.cursor, "lagBlocks": lag.lag,
            }),
        ),
        Err(reason) => {
            warn!(%reason, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "status": "not_ready", "reason": format!("node unreachable: {reason}") }),
            )
        }
    };
    // Which instance answered, and whether it moves the cursor (the lag is the shared cursor's:
    // a follower is ready while the leader keeps up).
    body["instance"] = json!(state.shared.instance);
    if let Some((role, leader)) = state.lease() {
        body["role"] = json!(role.as_str());
        body["leader"] = json!(leader);
    }
    (status, Json(body)).into_response()
}

async fn metrics(State(state): State<ApiState>) -> Response {
    let ctx = &state.shared;
    let payouts = ctx.store.payout_counts().await.unwrap_or_default();
    let lag_blocks = lag(&state).await.ok().map(|lag| lag.lag);
    if state.metrics.signer_balance().is_none()
        && let Ok(balance) = ctx.provider.get_balance(ctx.signer.address()).await
    {
        state.metrics.set_signer_balance(balance);
    }
    let text = state.metrics.render(&Snapshot {
        payouts,
        lag_blocks,
        instance: Some(ctx.instance.clone()),
        role: state.role(),
    });
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// The API task: serves [`router`] on a bound listener until its stage stops (requests in
/// flight finish). It replaces the foundation's health-only server on the same listener.
#[derive(Debug)]
pub struct ApiServer {
    listener: TcpListener,
    metrics: Arc<Metrics>,
    options: ApiOptions,
    watcher: Option<StatusCell>,
}

impl ApiServer {
    /// A server on a bound listener, rendering `metrics`.
    pub fn new(listener: TcpListener, metrics: Arc<Metrics>, options: ApiOptions) -> Self {
        Self { listener, metrics, options, watcher: None }
    }

    /// Reports the watcher's role on `/ready` and `/metrics` ([`ApiState::with_watcher`]).
    pub fn with_watcher(mut self, status: StatusCell) -> Self {
        self.watcher = Some(status);
        self
    }
}

#[async_trait::async_trait]
impl Task for ApiServer {
    fn name(&self) -> &'static str {
        "api"
    }

    fn stage(&self) -> Stage {
        Stage::Api
    }

    async fn run(self: Box<Self>, ctx: TaskContext) -> Result<(), TaskError> {
        let mut state = ApiState::new(ctx.shared.clone(), self.metrics, self.options);
        if let Some(status) = self.watcher {
            state = state.with_watcher(status);
        }
        if let Ok(addr) = self.listener.local_addr() {
            info!(%addr, "API listening");
        }
        axum::serve(self.listener, router(state))
            .with_graceful_shutdown(ctx.cancel.cancelled_owned())
            .await?;
        Ok(())
    }
}
