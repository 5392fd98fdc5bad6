//! The test fixtures for end-to-end tests: anvil ([`AnvilProcess`]) behind the Rootstock-shaped
//! JSON-RPC proxy ([`RskProxy`]), each test with its own anvil.

use std::time::Duration;

use alloy::consensus::TxType;
use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::U256;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{BlockNumberOrTag, Filter, TransactionRequest};
use serde_json::{Value, json};
use shiftpay_tests::anvil::{AnvilOptions, AnvilProcess, dev_address, dev_signer};
use shiftpay_tests::rsk_proxy::{RskProxy, RskProxyConfig};

fn setup() -> (AnvilProcess, RskProxy) {
    let anvil = AnvilProcess::spawn(AnvilOptions::default()).expect("anvil starts");
    let proxy = RskProxy::start(anvil.url()).expect("proxy starts");
    (anvil, proxy)
}

/// An alloy provider with its default fillers, signing with development account 0.
fn provider(url: &str) -> DynProvider {
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(dev_signer(0)))
        .connect_http(url.parse().expect("a valid URL"))
        .erased()
}

/// A raw JSON-RPC call (single or batch body); the decoded answer, or the transport error.
async fn try_post(url: &str, body: Value) -> Result<Value, String> {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| format!("transport: {e}"))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| format!("body: {e}"))?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("not JSON ({e}): {text}"))
}

async fn rpc(url: &str, method: &str, params: Value) -> Value {
    try_post(url, json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

/// The `result` of a call that must succeed.
async fn result(url: &str, method: &str, params: Value) -> Value {
    let answer = rpc(url, method, params).await;
    assert!(answer.get("error").is_none(), "{method} failed: {answer}");
    answer["result"].clone()
}

/// The `(code, message)` of a call that must fail.
async fn error(url: &str, method: &str, params: Value) -> (i64, String) {
    let answer = rpc(url, method, params).await;
    let error = answer.get("error").unwrap_or_else(|| panic!("{method} succeeded: {answer}"));
    (error["code"].as_i64().unwrap(), error["message"].as_str().unwrap().to_owned())
}

/// Polls `eth_getTransactionReceipt` (anvil mines a moment after it answers the send).
async fn wait_for_receipt(url: &str, hash: &Value) -> Value {
    for _ in 0..100 {
        let receipt = result(url, "eth_getTransactionReceipt", json!([hash])).await;
        if !receipt.is_null() {
            return receipt;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no receipt for {hash}");
}

#[tokio::test]
async fn legacy_transaction_goes_through() {
    let (_anvil, proxy) = setup();
    let provider = provider(proxy.url());
    assert_eq!(provider.get_chain_id().await.unwrap(), 33);

    let gas_price = provider.get_gas_price().await.unwrap();
    let tx = TransactionRequest::default()
        .with_to(dev_address(1))
        .with_value(U256::from(1_000))
        .with_gas_price(gas_price);
    let receipt = provider.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();

    assert!(receipt.status());
    assert_eq!(receipt.transaction_type(), TxType::Legacy);
    assert_eq!(proxy.count("eth_sendRawTransaction"), 1);
    assert_eq!(proxy.count("eth_feeHistory"), 0);
    assert_eq!(proxy.count("eth_maxPriorityFeePerGas"), 0);
}

#[tokio::test]
async fn eip1559_transactions_are_rejected() {
    let (_anvil, proxy) = setup();
    let provider = provider(proxy.url());

    // Fully specified EIP-1559 transaction: no filler asks the node anything, the signed
    // type-2 envelope reaches eth_sendRawTransaction and is refused there.
    let tx = TransactionRequest::default()
        .with_to(dev_address(1))
        .with_value(U256::from(1))
        .with_nonce(0)
        .with_chain_id(33)
        .with_gas_limit(21_000)
        .with_max_fee_per_gas(10_000_000_000)
        .with_max_priority_fee_per_gas(1_000_000_000);
    let err = provider.send_transaction(tx).await.unwrap_err().to_string();
    assert!(err.contains("typed transaction (type 0x02) is not supported"), "{err}");
    assert!(err.contains("-32602"), "{err}");
    assert_eq!(proxy.count("eth_sendRawTransaction"), 1);

    // alloy's defaults (no gas price given) estimate EIP-1559 fees: the node has no fee history.
    let tx = TransactionRequest::default().with_to(dev_address(1)).with_value(U256::from(1));
    let err = provider.send_transaction(tx).await.unwrap_err().to_string();
    assert!(err.contains("does not exist/is not available"), "{err}");
    assert!(proxy.count("eth_feeHistory") + proxy.count("eth_maxPriorityFeePerGas") >= 1);
    assert_eq!(proxy.count("eth_sendRawTransaction"), 1, "nothing more was sent");

    // Node-signed transactions: EIP-1559 fields are unknown arguments; without a gas price the
    // proxy sets the node's, so anvil builds a legacy transaction as rskj would.
    let url = proxy.url();
    let from = dev_address(2).to_string();
    let to = dev_address(3).to_string();
    let (code, message) = error(
        url,
        "eth_sendTransaction",
        json!([{"from": from, "to": to, "value": "0x1", "maxFeePerGas": "0x2540be400"}]),
    )
    .await;
    assert_eq!(code, -32602);
    assert!(message.contains("Unrecognized field \"maxFeePerGas\""), "{message}");
    let (code, _) =
        error(url, "eth_estimateGas", json!([{"from": from, "to": to, "type": "0x2"}])).await;
    assert_eq!(code, -32602);

    let hash =
        result(url, "eth_sendTransaction", json!([{"from": from, "to": to, "value": "0x1"}])).await;
    let receipt = wait_for_receipt(url, &hash).await;
    assert_eq!(receipt["type"], "0x0");
    assert_eq!(receipt["status"], "0x1");
}

#[tokio::test]
async fn fee_market_methods_do_not_exist() {
    let (_anvil, proxy) = setup();
    let url = proxy.url();
    for (method, params) in [
        ("eth_feeHistory", json!(["0x4", "latest", [25, 75]])),
        ("eth_maxPriorityFeePerGas", json!([])),
        ("eth_getBlockReceipts", json!(["latest"])),
    ] {
        let (code, message) = error(url, method, params).await;
        assert_eq!(code, -32601, "{method}");
        assert!(message.contains(method), "{message}");
        assert_eq!(proxy.count(method), 1);
    }
    // eth_gasPrice is how a Rootstock client prices transactions.
    assert!(result(url, "eth_gasPrice", json!([])).await.as_str().unwrap().starts_with("0x"));
}

#[tokio::test]
async fn blocks_have_no_base_fee() {
    let (anvil, proxy) = setup();
    let direct = result(&anvil.url(), "eth_getBlockByNumber", json!(["latest", false])).await;
    assert!(direct.get("baseFeePerGas").is_some(), "anvil has one: the test means something");

    let block = result(proxy.url(), "eth_getBlockByNumber", json!(["latest", false])).await;
    assert!(block.get("baseFeePerGas").is_none(), "{block}");
    assert_eq!(block["hash"], direct["hash"]);
    let by_hash = result(proxy.url(), "eth_getBlockByHash", json!([block["hash"], true])).await;
    assert!(by_hash.get("baseFeePerGas").is_none(), "{by_hash}");
    assert!(by_hash.get("withdrawalsRoot").is_none(), "{by_hash}");

    // alloy reads such blocks.
    let provider = provider(proxy.url());
    let block = provider.get_block_by_number(BlockNumberOrTag::Latest).await.unwrap().unwrap();
    assert_eq!(block.header.base_fee_per_gas, None);
}

#[tokio::test]
async fn safe_and_finalized_tags_are_rejected() {
    let (_anvil, proxy) = setup();
    let url = proxy.url();
    let (code, message) = error(url, "eth_getBlockByNumber", json!(["finalized", false])).await;
    assert_eq!((code, message.as_str()), (-32602, "invalid blocknumber finalized"));
    let account = dev_address(0).to_string();
    let (code, _) = error(url, "eth_getBalance", json!([account, "safe"])).await;
    assert_eq!(code, -32602);
    let (code, _) = error(url, "eth_getLogs", json!([{"toBlock": "finalized"}])).await;
    assert_eq!(code, -32602);

    result(url, "eth_getBalance", json!([account, "latest"])).await;
    let provider = provider(url);
    assert!(provider.get_block_by_number(BlockNumberOrTag::Finalized).await.is_err());
    assert!(provider.get_block_by_number(BlockNumberOrTag::Number(0)).await.unwrap().is_some());
}

#[tokio::test]
async fn get_logs_range_is_limited_to_2000_blocks() {
    let (_anvil, proxy) = setup();
    let url = proxy.url();
    let range = |from: &str, to: &str| json!([{"fromBlock": from, "toBlock": to}]);
    // anvil answers [] for a range that ends past its head (but starts at most at the head):
    // no need to mine 2,000 blocks.
    result(url, "anvil_mine", json!(["0x1"])).await;
    // 0..=2000 is 2,001 blocks.
    let (code, message) = error(url, "eth_getLogs", range("0x0", "0x7d0")).await;
    assert_eq!(code, -32602);
    assert!(message.contains("2001 blocks requested, the limit is 2000"), "{message}");
    assert!(result(url, "eth_getLogs", range("0x1", "0x7d0")).await.is_array());
    assert!(result(url, "eth_getLogs", json!([{}])).await.is_array());
    assert!(result(url, "eth_getLogs", range("latest", "latest")).await.is_array());
    // A block hash selects one block: no range.
    let head = result(url, "eth_getBlockByNumber", json!(["latest", false])).await;
    assert!(result(url, "eth_getLogs", json!([{"blockHash": head["hash"]}])).await.is_array());

    let provider = provider(url);
    assert!(provider.get_logs(&Filter::new().from_block(0).to_block(2_000)).await.is_err());
    assert!(provider.get_logs(&Filter::new().from_block(1).to_block(2_000)).await.is_ok());
}

#[tokio::test]
async fn get_logs_tags_are_resolved() {
    let anvil = AnvilProcess::spawn(AnvilOptions::default()).unwrap();
    let config = RskProxyConfig { max_log_range: 10, ..RskProxyConfig::default() };
    let proxy = RskProxy::start_with(anvil.url(), config).unwrap();
    let url = proxy.url();
    result(url, "anvil_mine", json!(["0x14"])).await; // head: block 20
    let range = |from: &str, to: &str| json!([{"fromBlock": from, "toBlock": to}]);

    let (_, message) = error(url, "eth_getLogs", range("earliest", "latest")).await;
    assert!(message.contains("21 blocks requested, the limit is 10"), "{message}");
    error(url, "eth_getLogs", json!([{"fromBlock": "0xa"}])).await; // 10..=20 (latest)
    assert!(result(url, "eth_getLogs", json!([{"fromBlock": "0xb"}])).await.is_array());
    error(url, "eth_getLogs", range("0x0", "pending")).await;
    assert!(result(url, "eth_getLogs", range("0xb", "pending")).await.is_array());
    assert!(result(url, "eth_getLogs", range("earliest", "0x9")).await.is_array());
    assert_eq!(proxy.count("eth_blockNumber"), 0, "the proxy's own look-ups are not counted");
}

#[tokio::test]
async fn batch_requests_are_answered_in_order() {
    let (_anvil, proxy) = setup();
    let call = |id: u64, method: &str, params: Value| json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    let batch = json!([
        call(1, "eth_chainId", json!([])),
        call(2, "eth_feeHistory", json!(["0x1", "latest", []])),
        call(3, "eth_getBlockByNumber", json!(["latest", false])),
        call(4, "eth_getBlockByNumber", json!(["safe", false])),
    ]);
    let answers = try_post(proxy.url(), batch).await.unwrap();
    let answers = answers.as_array().expect("a batch answer");
    assert_eq!(answers.len(), 4);
    let ids: Vec<_> = answers.iter().map(|a| a["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3, 4]);
    assert_eq!(answers[0]["result"], "0x21");
    assert_eq!(answers[1]["error"]["code"], -32601);
    assert!(answers[2]["result"]["number"].is_string());
    assert!(answers[2]["result"].get("baseFeePerGas").is_none());
    assert_eq!(answers[3]["error"]["code"], -32602);
    assert_eq!(proxy.count("eth_getBlockByNumber"), 2);

    let empty = try_post(proxy.url(), json!([])).await.unwrap();
    assert_eq!(empty["error"]["code"], -32600);
    let garbage = reqwest::Client::new().post(proxy.url()).body("{nope").send().await.unwrap();
    let garbage: Value = garbage.json().await.unwrap();
    assert_eq!(garbage["error"]["code"], -32700);
}

#[tokio::test]
async fn outage_switch_cuts_and_restores_the_node() {
    let (_anvil, proxy) = setup();
    let provider = provider(proxy.url());
    assert_eq!(provider.get_block_number().await.unwrap(), 0);

    proxy.set_down(true);
    assert!(proxy.is_down());
    // The provider's pooled connection is cut too, not only new ones.
    let err = provider.get_block_number().await.unwrap_err();
    assert!(err.to_string().to_lowercase().contains("error"), "{err}");
    assert!(
        try_post(proxy.url(), json!({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}))
            .await
            .unwrap_err()
            .starts_with("transport")
    );

    proxy.set_down(false);
    assert_eq!(provider.get_block_number().await.unwrap(), 0);
    assert_eq!(proxy.count("eth_blockNumber"), 2, "requests during the outage never arrived");
}

#[tokio::test]
async fn dev_keys_are_anvils_accounts() {
    let (anvil, _proxy) = setup();
    let accounts = result(&anvil.url(), "eth_accounts", json!([])).await;
    let expected: Vec<_> = (0..10).map(|i| dev_address(i).to_string().to_lowercase()).collect();
    let actual: Vec<_> =
        accounts.as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_lowercase()).collect();
    assert_eq!(actual, expected);
}

#[test]
fn anvil_is_killed_on_drop() {
    let anvil = AnvilProcess::spawn(AnvilOptions::default()).unwrap();
    let pid = anvil.pid().unwrap();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    drop(anvil);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "pid {pid} still alive");
}

#[test]
fn anvil_is_killed_when_a_test_panics() {
    let pid = std::sync::Mutex::new(None);
    let outcome = std::panic::catch_unwind(|| {
        let anvil = AnvilProcess::spawn(AnvilOptions::default()).unwrap();
        *pid.lock().unwrap() = anvil.pid();
        panic!("a failing test");
    });
    assert!(outcome.is_err());
    let pid = pid.into_inner().unwrap().unwrap();
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "pid {pid} still alive");
}

#[tokio::test]
async fn kill_9_and_restart_keep_the_url() {
    let (mut anvil, proxy) = setup();
    let url = anvil.url();
    result(&url, "anvil_mine", json!(["0x5"])).await;
    let first_pid = anvil.pid().unwrap();

    anvil.kill_9();
    assert!(!anvil.is_running());
    assert_eq!(anvil.pid(), None);
    assert!(!std::path::Path::new(&format!("/proc/{first_pid}")).exists());
    assert!(
        try_post(&url, json!({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"})).await.is_err()
    );
    // The proxy is up but its node is not: HTTP 502.
    let err = try_post(proxy.url(), json!({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}))
        .await
        .unwrap_err();
    assert!(err.starts_with("HTTP 502"), "{err}");

    anvil.restart().unwrap();
    assert!(anvil.is_running());
    assert_ne!(anvil.pid(), Some(first_pid));
    assert_eq!(anvil.url(), url);
    // A fresh chain (no --state), reached again through the same proxy.
    assert_eq!(result(proxy.url(), "eth_blockNumber", json!([])).await, "0x0");
}

#[tokio::test]
async fn interval_mining_and_chain_id_options() {
    let anvil = AnvilProcess::spawn(
        AnvilOptions::default().chain_id(31).block_time(Duration::from_millis(200)),
    )
    .unwrap();
    let url = anvil.url();
    assert_eq!(result(&url, "eth_chainId", json!([])).await, "0x1f");
    tokio::time::sleep(Duration::from_millis(900)).await;
    let number = result(&url, "eth_blockNumber", json!([])).await;
    assert_ne!(number, "0x0", "blocks are mined without transactions");
    assert!(anvil.log_path().exists());
}
