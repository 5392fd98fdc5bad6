//! The HTTP API end to end: anvil behind the Rootstock proxy, the relayer started with
//! `Relayer::start`, requests signed with the bindings' typed data (and by MetaMask's
//! `eth-sig-util`, and by an EIP-1271 contract wallet), every refusal a named 4xx with nothing
//! sent.

use std::time::Duration;

use alloy::{
    primitives::{Address, Bytes, U256},
    providers::Provider,
    signers::SignerSync,
    sol_types::{SolEvent, SolValue},
};
use serde_json::{Value, json};
use shiftpay_relayer::{
    Relayer, RelayerHandle,
    bindings::{
        escrow::{Approval, MilestoneState, Settlement},
        payroll::{self, Payroll, WithdrawRequest},
    },
};
use shiftpay_tests::{anvil::dev_address, anvil::dev_signer, external_signer};

use crate::devnet::{
    CHAIN_ID, Devnet, approve_body, coin, eventually, settle_body, sign, withdraw_body,
};

alloy::sol!(
    #[sol(rpc)]
    #[allow(missing_docs)]
    MockERC1271Wallet,
    "../tests/artifacts/MockERC1271Wallet.json"
);

/// A small HTTP client for the relayer's API.
struct Api {
    base: String,
    http: reqwest::Client,
}

/// A response: status, JSON body (or `Null`), headers.
struct Answer {
    status: u16,
    json: Value,
    headers: reqwest::header::HeaderMap,
}

impl Answer {
    /// The error code of an error answer.
    fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or_default()
    }

    /// The error message of an error answer.
    fn message(&self) -> &str {
        self.json["error"]["message"].as_str().unwrap_or_default()
    }
}

impl Api {
    fn new(handle: &RelayerHandle) -> Self {
        let addr = handle.api_addr().expect("the API is enabled");
        Self { base: format!("http://{addr}"), http: reqwest::Client::new() }
    }

    async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, json, headers }
    }

    async fn post_raw(&self, body: impl Into<reqwest::Body>, content_type: &str) -> Answer {
        let response = self
            .http
            .post(format!("{}/v1/requests", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        Self::answer(response).await
    }

    async fn post(&self, body: &Value) -> Answer {
        self.post_raw(body.to_string(), "application/json").await
    }

    async fn get(&self, path: &str) -> Answer {
        Self::answer(self.http.get(format!("{}{path}", self.base)).send().await.unwrap()).await
    }

    async fn text(&self, path: &str) -> String {
        self.http.get(format!("{}{path}", self.base)).send().await.unwrap().text().await.unwrap()
    }

    /// POSTs, expects 202, waits for `confirmed`; returns the request's final JSON.
    async fn submit_and_wait(&self, body: &Value) -> Value {
        let answer = self.post(body).await;
        assert_eq!(answer.status, 202, "{}", answer.json);
        assert_eq!(answer.json["status"], "queued");
        let id = answer.json["id"].as_str().unwrap().to_owned();
        assert_eq!(
            answer.headers.get("location").unwrap().to_str().unwrap(),
            format!("/v1/requests/{id}")
        );
        let path = format!("/v1/requests/{id}");
        let started = std::time::Instant::now();
        loop {
            let last = self.get(&path).await.json;
            assert!(!matches!(last["status"].as_str(), Some("failed" | "rejected")), "{last}");
            if last["status"] == "confirmed" {
                return last;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "not confirmed in 30 s: {last}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn balance(net: &Devnet, who: Address) -> U256 {
    net.direct.get_balance(who).await.unwrap()
}

/// The typed data of a withdraw request as a wallet gets it (`eth_signTypedData_v4`).
fn withdraw_typed_data(payroll_address: Address, request: &WithdrawRequest) -> Value {
    json!({
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"},
            ],
            "WithdrawRequest": [
                {"name": "streamId", "type": "uint256"}, {"name": "to", "type": "address"},
                {"name": "amount", "type": "uint256"}, {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "WithdrawRequest",
        "domain": {
            "name": payroll::EIP712_NAME, "version": payroll::EIP712_VERSION,
            "chainId": CHAIN_ID, "verifyingContract": payroll_address.to_string(),
        },
        "message": {
            "streamId": request.streamId.to_string(), "to": request.to.to_string(),
            "amount": request.amount.to_string(), "nonce": request.nonce.to_string(),
            "deadline": request.deadline.to_string(),
        },
    })
}

/// Withdrawals (bindings, MetaMask and EIP-1271 signatures), an approval (EIP-2098 compact
/// signature) and a two-party settlement: each accepted, sent once and confirmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_requests_are_accepted_sent_and_confirmed() {
    let net = Devnet::start().await;
    let (employer, worker, recipient) = (1, 2, 5);
    let stream = net.stream(employer, dev_address(worker), coin(50), 10_000_000_000_000_000).await;
    let (client, job_worker) = (3, 4);
    let job = net.job(client, job_worker, &[coin(1), coin(2)], 3_600).await;
    net.submit(job_worker, job, 0).await;
    // An EIP-1271 worker: a contract wallet owned by dev account 8.
    let wallet_init = [MockERC1271Wallet::BYTECODE.to_vec(), dev_address(8).abi_encode()].concat();
    let wallet = alloy::network::TransactionBuilder::with_deploy_code(
        alloy::rpc::types::TransactionRequest::default(),
        Bytes::from(wallet_init),
    );
    let receipt = shiftpay_relayer::bindings::tx::send_and_confirm(
        &net.direct,
        &alloy::network::EthereumWallet::new(dev_signer(7)),
        &shiftpay_relayer::bindings::tx::TxPolicy {
            poll_interval: Duration::from_millis(20),
            ..Default::default()
        },
        wallet,
        |_| {},
    )
    .await
    .unwrap();
    let wallet = receipt.contract_address.unwrap();
    let wallet_stream = net.stream(employer, wallet, U256::ZERO, 10_000_000_000_000_000).await;
    net.advance(100).await;

    let handle = Relayer::start(net.config("", "")).await.unwrap();
    let api = Api::new(&handle);
    let payroll = net.payroll();

    // 1. A withdrawal signed with the bindings' typed data.
    let before = balance(&net, dev_address(recipient)).await;
    let request = net
        .withdraw_request(
            stream,
            dev_address(worker),
            dev_address(recipient),
            coin(1) / U256::from(2),
        )
        .await;
    let signature = sign(worker, request.signing_hash(CHAIN_ID, payroll));
    let body = withdraw_body(payroll, &request, &signature);
    let done = api.submit_and_wait(&body).await;
    assert_eq!(done["kind"], "withdraw");
    assert!(done["txHash"].as_str().is_some_and(|h| h.len() == 66), "{done}");
    assert_eq!(done["error"], Value::Null);
    assert_eq!(balance(&net, dev_address(recipient)).await - before, request.amount);
    assert_eq!(net.payroll_nonce(dev_address(worker)).await, U256::from(1));
    // The same request again: its nonce is used now.
    let replay = api.post(&body).await;
    assert_eq!((replay.status, replay.code()), (409, "nonce_used"), "{}", replay.json);

    // 2. A withdrawal signed by MetaMask's eth-sig-util: same digest, accepted, paid.
    let request = net
        .withdraw_request(
            stream,
            dev_address(worker),
            dev_address(recipient),
            coin(1) / U256::from(4),
        )
        .await;
    let key = dev_signer(worker).to_bytes();
    let external = external_signer::sign_typed_data(key, &withdraw_typed_data(payroll, &request))
        .expect("node and @metamask/eth-sig-util are installed (npm ci)");
    assert_eq!(external.digest, request.signing_hash(CHAIN_ID, payroll));
    api.submit_and_wait(&withdraw_body(payroll, &request, &external.signature)).await;
    assert_eq!(net.payroll_nonce(dev_address(worker)).await, U256::from(2));

    // 3. A contract worker (EIP-1271): its owner's signature is the wallet's.
    let request = net
        .withdraw_request(wallet_stream, wallet, dev_address(recipient), U256::from(1_000u64))
        .await;
    let wrong = withdraw_body(payroll, &request, &sign(7, request.signing_hash(CHAIN_ID, payroll)));
    let refused = api.post(&wrong).await;
    assert_eq!((refused.status, refused.code()), (422, "invalid_signature"), "{}", refused.json);
    assert!(refused.message().contains("EIP-1271"), "{}", refused.message());
    // The pool of that employer was funded by the first deposit: the wallet's stream is paid.
    let body = withdraw_body(payroll, &request, &sign(8, request.signing_hash(CHAIN_ID, payroll)));
    api.submit_and_wait(&body).await;
    assert_eq!(net.payroll_nonce(wallet).await, U256::from(1));

    // 4. An approval with a 64-byte EIP-2098 signature.
    let escrow = net.escrow();
    let approval = Approval {
        jobId: job,
        milestoneIndex: U256::ZERO,
        nonce: net.escrow_nonce(dev_address(client)).await,
        deadline: U256::from(net.now().await + 3_600),
    };
    let digest = approval.signing_hash(CHAIN_ID, escrow);
    let compact =
        Bytes::from(dev_signer(client).sign_hash_sync(&digest).unwrap().as_erc2098().to_vec());
    assert_eq!(compact.len(), 64);
    api.submit_and_wait(&approve_body(escrow, &approval, &compact)).await;
    let milestone = net.milestone(job, 0).await;
    assert_eq!(MilestoneState::try_from(milestone.status), Ok(MilestoneState::Released));

    // 5. A settlement of the funded milestone 1, signed by both parties with their own nonces.
    let deadline = U256::from(net.now().await + 3_600);
    let settlement = |nonce| Settlement {
        jobId: job,
        milestoneIndex: U256::from(1),
        workerBps: U256::from(6_000),
        nonce,
        deadline,
    };
    let by_client = settlement(net.escrow_nonce(dev_address(client)).await);
    let by_worker = settlement(net.escrow_nonce(dev_address(job_worker)).await);
    let client_signature = sign(client, by_client.signing_hash(CHAIN_ID, escrow));
    let worker_signature = sign(job_worker, by_worker.signing_hash(CHAIN_ID, escrow));
    // The worker's signature in the client's place is named.
    let swapped =
        settle_body(escrow, (&by_client, &worker_signature), (&by_worker, &client_signature));
    let refused = api.post(&swapped).await;
    assert_eq!((refused.status, refused.code()), (422, "wrong_signer"), "{}", refused.json);
    assert!(refused.message().contains("clientSignature"), "{}", refused.message());
    let body =
        settle_body(escrow, (&by_client, &client_signature), (&by_worker, &worker_signature));
    api.submit_and_wait(&body).await;
    let milestone = net.milestone(job, 1).await;
    assert_eq!(MilestoneState::try_from(milestone.status), Ok(MilestoneState::Resolved));

    // Each payout was one transaction: five sent, five confirmed, nothing failed or replaced.
    let metrics = api.text("/metrics").await;
    for line in [
        "relayer_tx_sent_total 5",
        "relayer_tx_confirmed_total 5",
        "relayer_tx_failed_total 0",
        "relayer_tx_replaced_total 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} missing from\n{metrics}");
    }
    assert_eq!(net.proxy.count("eth_sendRawTransaction"), 5);
    assert_eq!(
        net.count_events(payroll, Payroll::SignedWithdrawalExecuted::SIGNATURE_HASH).await,
        3
    );
    assert_eq!(net.proxy.count("eth_feeHistory"), 0);
    handle.shutdown().await.unwrap();
}

/// Every malformed or invalid request gets a 4xx whose code and message name the problem, and
/// nothing is queued or sent for any of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_a_named_4xx_and_nothing_is_sent() {
    let net = Devnet::start().await;
    let worker = 2;
    let stream = net.stream(1, dev_address(worker), coin(10), 1_000_000_000_000_000).await;
    net.advance(100).await;
    let payroll = net.payroll();
    // A request "someone else" already submitted straight to the contract (nonce 0 used).
    let used =
        net.withdraw_request(stream, dev_address(worker), dev_address(5), U256::from(1000)).await;
    let used_signature = sign(worker, used.signing_hash(CHAIN_ID, payroll));
    net.send(
        6,
        payroll,
        &Payroll::withdrawWithSignatureCall {
            request: used.clone().into(),
            signature: used_signature.clone(),
        },
        U256::ZERO,
    )
    .await;

    let handle = Relayer::start(net.config("", "body_limit = \"1KiB\"\n")).await.unwrap();
    let api = Api::new(&handle);
    let good =
        net.withdraw_request(stream, dev_address(worker), dev_address(5), U256::from(1000)).await;
    let signed = |request: &WithdrawRequest, key: usize| {
        withdraw_body(payroll, request, &sign(key, request.signing_hash(CHAIN_ID, payroll)))
    };
    let with = |field: &str, value: Value| {
        let mut body = signed(&good, worker);
        body[field] = value;
        body
    };
    let worker_hex = dev_address(worker).to_string();
    let mut cases: Vec<(&str, Answer, u16, &str, &str)> = Vec::new();
    cases.push((
        "malformed JSON",
        api.post_raw("{\"kind\": \"withdraw\",", "application/json").await,
        400,
        "invalid_json",
        "malformed JSON",
    ));
    cases.push((
        "not an object",
        api.post_raw("[1, 2]", "application/json").await,
        400,
        "invalid_json",
        "JSON object",
    ));
    cases.push((
        "oversized body",
        api.post_raw(format!("{{\"kind\": \"{}\"}}", "x".repeat(4096)), "application/json").await,
        413,
        "body_too_large",
        "1024 bytes",
    ));
    cases.push((
        "form content type",
        api.post_raw(signed(&good, worker).to_string(), "application/x-www-form-urlencoded").await,
        415,
        "unsupported_media_type",
        "application/json",
    ));
    let mut missing = signed(&good, worker);
    missing.as_object_mut().unwrap().remove("amount");
    cases.push(("missing field", api.post(&missing).await, 400, "missing_field", "`amount`"));
    cases.push((
        "bad uint",
        api.post(&with("amount", json!("1e18"))).await,
        400,
        "invalid_field",
        "`amount`",
    ));
    cases.push((
        "unknown field",
        api.post(&with("memo", json!("hi"))).await,
        400,
        "unknown_field",
        "`memo`",
    ));
    cases.push((
        "unknown kind",
        api.post(&with("kind", json!("steal"))).await,
        400,
        "unknown_kind",
        "`kind`",
    ));
    cases.push((
        "wrong chain id",
        api.post(&with("chainId", json!(31))).await,
        422,
        "wrong_chain",
        "`chainId`",
    ));
    cases.push((
        "wrong contract",
        api.post(&with("contract", json!(net.escrow().to_string()))).await,
        422,
        "wrong_contract",
        "`contract`",
    ));
    let expired = WithdrawRequest { deadline: U256::from(net.now().await - 1), ..good.clone() };
    cases.push((
        "expired deadline",
        api.post(&signed(&expired, worker)).await,
        422,
        "expired",
        "`deadline`",
    ));
    cases.push((
        "wrong signer",
        api.post(&signed(&good, 7)).await,
        422,
        "wrong_signer",
        &worker_hex,
    ));
    cases.push((
        "tampered amount",
        api.post(&with("amount", json!("999"))).await,
        422,
        "wrong_signer",
        "`signature`",
    ));
    cases.push((
        "short signature",
        api.post(&with("signature", json!("0x1234"))).await,
        422,
        "invalid_signature",
        "2 bytes",
    ));
    cases.push((
        "replayed nonce",
        api.post(&signed(&used, worker)).await,
        409,
        "nonce_used",
        "`nonce`",
    ));
    let ahead = WithdrawRequest { nonce: U256::from(5), ..good.clone() };
    cases.push((
        "nonce ahead",
        api.post(&signed(&ahead, worker)).await,
        422,
        "nonce_mismatch",
        "`nonce`",
    ));
    let unknown = WithdrawRequest { streamId: U256::from(999), ..good.clone() };
    cases.push((
        "unknown stream",
        api.post(&signed(&unknown, worker)).await,
        422,
        "unknown_stream",
        "stream 999",
    ));
    let greedy = WithdrawRequest { amount: coin(1_000), ..good.clone() };
    cases.push((
        "would revert",
        api.post(&signed(&greedy, worker)).await,
        422,
        "would_revert",
        "Payroll_AmountExceedsWithdrawable",
    ));
    cases.push((
        "unknown request",
        api.get(&format!("/v1/requests/{}", uuid_like())).await,
        404,
        "not_found",
        "no request",
    ));
    cases.push((
        "invalid request id",
        api.get("/v1/requests/nope").await,
        400,
        "invalid_id",
        "`nope`",
    ));
    cases.push(("unknown route", api.get("/v2/requests").await, 404, "not_found", "/v2/requests"));
    let put =
        Api::answer(api.http.put(format!("{}/v1/requests", api.base)).send().await.unwrap()).await;
    cases.push(("wrong method", put, 405, "method_not_allowed", "PUT"));
    for (what, answer, status, code, needle) in &cases {
        assert_eq!((answer.status, answer.code()), (*status, *code), "{what}: {}", answer.json);
        assert!(
            answer.message().contains(needle),
            "{what}: {:?} lacks {needle:?}",
            answer.message()
        );
    }

    // Nothing was queued, nothing sent (the sender ran all along).
    tokio::time::sleep(Duration::from_millis(600)).await;
    let metrics = api.text("/metrics").await;
    assert!(metrics.lines().any(|l| l == "relayer_queue_depth 0"), "{metrics}");
    for status in ["pending", "sending", "sent", "confirmed", "skipped", "failed"] {
        let line = format!("relayer_payouts{{status=\"{status}\"}} 0");
        assert!(metrics.lines().any(|l| l == line), "{line}\n{metrics}");
    }
    assert_eq!(net.proxy.count("eth_sendRawTransaction"), 0);
    // The good request itself still goes through.
    api.submit_and_wait(&signed(&good, worker)).await;
    assert_eq!(net.proxy.count("eth_sendRawTransaction"), 1);
    handle.shutdown().await.unwrap();
}

fn uuid_like() -> String {
    "0190f5c2-7e3a-7cc1-9a6b-2f0e4d1c3b5a".to_owned()
}

/// Per-signer rate limit (429 + Retry-After), CORS, `/health`, `/ready`, `/metrics`, and an
/// unreachable node (503, nothing queued).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_cors_and_operator_endpoints() {
    let net = Devnet::start().await;
    let worker = 2;
    let stream = net.stream(1, dev_address(worker), coin(10), 1_000_000_000_000_000).await;
    net.advance(100).await;
    let payroll = net.payroll();
    let tables = "rate_limit_per_minute = 1\ncors_origins = [\"http://localhost:5173\"]\n";
    let handle =
        Relayer::start(net.config("low_balance_warning = \"100000\"", tables)).await.unwrap();
    let api = Api::new(&handle);

    let health = api.get("/health").await;
    assert_eq!((health.status, &health.json["status"]), (200, &json!("ok")));
    let ready = api.get("/ready").await;
    assert_eq!(ready.status, 200, "{}", ready.json);
    assert_eq!(ready.json["status"], "ready");
    assert!(ready.json["lagBlocks"].as_u64().is_some(), "{}", ready.json);

    // CORS: the configured origin may POST; another gets no CORS headers.
    let preflight = |origin: &'static str| {
        api.http
            .request(reqwest::Method::OPTIONS, format!("{}/v1/requests", api.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight("http://localhost:5173").await.unwrap();
    assert_eq!(
        allowed.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap()),
        Some("http://localhost:5173")
    );
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());

    // One request per minute per signer: the second (a different request) waits.
    let first =
        net.withdraw_request(stream, dev_address(worker), dev_address(5), U256::from(1000)).await;
    let second = WithdrawRequest { amount: U256::from(2000), ..first.clone() };
    let body = |r: &WithdrawRequest| {
        withdraw_body(payroll, r, &sign(worker, r.signing_hash(CHAIN_ID, payroll)))
    };
    let accepted = api.post(&body(&first)).await;
    assert_eq!(accepted.status, 202, "{}", accepted.json);
    let limited = api.post(&body(&second)).await;
    assert_eq!((limited.status, limited.code()), (429, "rate_limited"), "{}", limited.json);
    assert!(limited.message().contains(&dev_address(worker).to_string()), "{}", limited.message());
    let retry_after: u64 =
        limited.headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    // Another signer is not limited by the first one's requests.
    let other = net.stream(1, dev_address(3), U256::ZERO, 1_000_000_000_000_000).await;
    let theirs = net.withdraw_request(other, dev_address(3), dev_address(5), U256::from(1)).await;
    let signed = withdraw_body(payroll, &theirs, &sign(3, theirs.signing_hash(CHAIN_ID, payroll)));
    let answer = api.post(&signed).await;
    assert_ne!(answer.status, 429, "{}", answer.json);

    // Metrics: every family, the low balance shows as a gauge.
    let id = accepted.json["id"].as_str().unwrap().to_owned();
    eventually(Duration::from_secs(30), "the first request to be confirmed", || async {
        api.get(&format!("/v1/requests/{id}")).await.json["status"] == "confirmed"
    })
    .await;
    let metrics = api.text("/metrics").await;
    for family in [
        "relayer_lag_blocks",
        "relayer_queue_depth",
        "relayer_tx_sent_total",
        "relayer_tx_confirmed_total",
        "relayer_tx_failed_total",
        "relayer_tx_replaced_total",
        "relayer_signer_balance_wei",
    ] {
        assert!(metrics.contains(&format!("# TYPE {family} ")), "{family}\n{metrics}");
    }

    // The node goes away: not ready, requests refused with 503 and nothing queued.
    net.proxy.set_down(true);
    let ready = api.get("/ready").await;
    assert_eq!((ready.status, &ready.json["status"]), (503, &json!("not_ready")), "{}", ready.json);
    let third = WithdrawRequest { amount: U256::from(3000), ..first.clone() };
    let down = api.post(&body(&third)).await;
    assert_eq!((down.status, down.code()), (503, "node_unavailable"), "{}", down.json);
    net.proxy.set_down(false);
    let ready = api.get("/ready").await;
    assert_eq!(ready.status, 200, "{}", ready.json);
    handle.shutdown().await.unwrap();
}
