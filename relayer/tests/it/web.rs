//! The wallet page (`web/`) in a real browser: the relayer serves `web/dist` beside its API on
//! anvil, and `web/tests/browser.mjs` drives Debian's Chromium (playwright-core) with an injected
//! EIP-6963 wallet that signs with test keys. The page connects, switches the wallet's chain
//! (adding it first), shows a ticking balance, withdraws by transaction and without gas, and
//! approves a milestone by signature; a declined switch and a declined signature show their
//! messages. This test then checks on chain what the page did, and that nothing else was sent.
//! Screenshots: `target/web-screenshots/*.png`.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use alloy::{
    consensus::Transaction as _,
    primitives::{Address, B256, U256},
    providers::Provider,
    sol_types::SolEvent,
};
use serde_json::Value;
use shiftpay_relayer::{
    Relayer,
    bindings::{
        escrow::{MilestoneEscrow, MilestoneState},
        payroll::Payroll,
    },
};
use shiftpay_tests::anvil::{dev_address, dev_signer};

use crate::devnet::{CHAIN_ID, Devnet, RELAYER, coin};

/// The whole test, browser included, ends within this.
const TEST_TIMEOUT: Duration = Duration::from_secs(300);
/// Debian's Chromium, driven through `executablePath` (never a downloaded browser).
const CHROMIUM: &str = "/usr/bin/chromium";

const EMPLOYER: usize = 1;
const CLIENT: usize = 2;
const WORKER: usize = 3;
/// An employer who never deposits: its stream to the worker is all debt.
const SHORT_EMPLOYER: usize = 4;
/// What the client types as the changes wanted on milestone 2.
const CHANGES_REASON: &str = "Please add the mobile layout";
/// What the worker types as milestone 2's deliverable.
const DELIVERABLE: &str = "https://example.org/shiftpay/milestone-2";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("relayer/ has a parent").to_owned()
}

fn key_hex(index: usize) -> String {
    format!("0x{}", alloy::hex::encode(dev_signer(index).to_bytes()))
}

/// The `Withdrawn` events of `stream`, with their transaction hash.
async fn withdrawals(net: &Devnet, stream: U256) -> Vec<(Payroll::Withdrawn, B256)> {
    let mut all = net.events::<Payroll::Withdrawn>(net.payroll()).await;
    all.retain(|(event, _)| event.streamId == stream);
    all
}

fn hash(out: &Value, field: &str) -> B256 {
    out[field]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("`{field}` is not a tx hash in {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallet_page_pays_workers_and_clients_from_a_browser_wallet() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "Chromium is missing at {CHROMIUM}: `make test` installs it (`make chromium` runs \
         `apt-get update && apt-get install -y chromium`); install it that way and run again"
    );
    let dist = repo_root().join("web/dist");
    assert!(
        dist.join("index.html").is_file(),
        "{} has no index.html: build the wallet page with `make web` (npm run web:build)",
        dist.display()
    );
    tokio::time::timeout(TEST_TIMEOUT, run(dist)).await.expect("the web test took too long");
}

async fn run(dist: PathBuf) {
    let net = Devnet::start().await;
    let worker = dev_address(WORKER);
    // 0.001 coin per second from a pool of 50, and a job with milestone 0 submitted.
    let stream = net.stream(EMPLOYER, worker, coin(50), 1_000_000_000_000_000).await;
    let short_stream = net.stream(SHORT_EMPLOYER, worker, U256::ZERO, 1_000_000_000_000).await;
    let job = net.job(CLIENT, WORKER, &[coin(1), coin(2)], 3_600).await;
    net.submit(WORKER, job, 0).await;
    net.advance(1_000).await;

    let config =
        net.config("confirmations = 1", &format!("web_dir = {:?}", dist.display().to_string()));
    let handle = Relayer::start(config).await.unwrap();
    let base = format!("http://{}", handle.api_addr().expect("the API is enabled"));

    // The page at `/`, the API's routes first, unknown paths a JSON 404.
    let http = reqwest::Client::new();
    let page = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"].to_str().unwrap().starts_with("text/html"),
        "{:?}",
        page.headers()
    );
    assert!(page.text().await.unwrap().contains("ShiftPay"));
    let config: Value =
        http.get(format!("{base}/v1/config")).send().await.unwrap().json().await.unwrap();
    assert_eq!(config["chainId"], CHAIN_ID);
    assert_eq!(config["payroll"].as_str().unwrap().parse::<Address>().unwrap(), net.payroll());
    assert_eq!(config["escrow"].as_str().unwrap().parse::<Address>().unwrap(), net.escrow());
    assert_eq!(config["eip712"]["payroll"]["name"], "ShiftPay Payroll");
    assert_eq!(config["tokens"][0]["decimals"], 18);
    let health: Value =
        http.get(format!("{base}/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let missing = http.get(format!("{base}/no/such/file.js")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let missing: Value = missing.json().await.unwrap();
    assert_eq!(missing["error"]["code"], "not_found");

    let worker_nonce_before = net.direct.get_transaction_count(worker).await.unwrap();
    let client_nonce_before = net.direct.get_transaction_count(dev_address(CLIENT)).await.unwrap();
    let relayer_balance_before = net.direct.get_balance(dev_address(RELAYER)).await.unwrap();
    assert_eq!(net.relayer_nonce().await, 0);

    // The browser.
    let shots = repo_root().join("target/web-screenshots");
    let script = repo_root().join("web/tests/browser.mjs");
    let child = tokio::process::Command::new("node")
        .arg(&script)
        .current_dir(repo_root())
        .env("SHIFTPAY_WEB_URL", &base)
        .env("SHIFTPAY_RPC_URL", net.anvil.url())
        .env("SHIFTPAY_CHAIN_ID", CHAIN_ID.to_string())
        .env("SHIFTPAY_WORKER_KEY", key_hex(WORKER))
        .env("SHIFTPAY_CLIENT_KEY", key_hex(CLIENT))
        .env("SHIFTPAY_STREAM_ID", stream.to_string())
        .env("SHIFTPAY_JOB_ID", job.to_string())
        .env("SHIFTPAY_DEBT_STREAM_ID", short_stream.to_string())
        .env("SHIFTPAY_DELIVERABLE", DELIVERABLE)
        .env("SHIFTPAY_CHANGES_REASON", CHANGES_REASON)
        .env("SHIFTPAY_WITHDRAW_AMOUNT", "0.5")
        .env("SHIFTPAY_GASLESS_AMOUNT", "0.25")
        .env("SHIFTPAY_SCREENSHOT_DIR", &shots)
        .env("SHIFTPAY_CHROMIUM", CHROMIUM)
        .env("SHIFTPAY_TIMEOUT_MS", "240000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs (Node.js is required, and `npm ci` for playwright-core and viem)");
    let output = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "browser.mjs failed ({}):\n{stderr}\n{stdout}", output.status);
    let out: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|err| panic!("browser.mjs printed no JSON ({err}):\n{stdout}\n{stderr}"));

    // What the page showed: the chain added and switched to, the ticking balance, the messages.
    assert_eq!(out["addedChain"]["chainId"], "0x21", "{out}");
    assert!(out["wrongChainAtConnect"].as_str().unwrap().contains("Wrong network"), "{out}");
    assert!(out["wrongChainWithdraw"].as_str().unwrap().contains("Nothing was sent"), "{out}");
    assert!(out["rejectedNotice"].as_str().unwrap().contains("declined to sign"), "{out}");
    assert_eq!(
        out["wrongChainSent"],
        serde_json::json!({"transactions": 0, "signatures": 0, "posts": 0})
    );
    assert_eq!(out["rejectedSent"], serde_json::json!({"signatures": 0, "posts": 0}));
    let tick: Vec<u128> = ["first", "second"]
        .iter()
        .map(|k| out["tick"][k].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(tick[1] > tick[0], "the balance did not tick: {tick:?}");
    assert!(out["rate"].as_str().unwrap().contains("3.6 RBTC / hour"), "{}", out["rate"]);

    // On chain: exactly two withdrawals from the stream, the first by the worker's own legacy
    // transaction, the second by the relayer from the worker's signature.
    let withdrawn = withdrawals(&net, stream).await;
    assert_eq!(withdrawn.len(), 2, "{withdrawn:?}");
    let (own, own_tx) = &withdrawn[0];
    assert_eq!(*own_tx, hash(&out, "withdrawTx"));
    assert_eq!((own.caller, own.to, own.amount), (worker, worker, coin(1) / U256::from(2)));
    let tx = net.direct.get_transaction_by_hash(*own_tx).await.unwrap().unwrap();
    assert!(tx.inner.is_legacy(), "the page's withdrawal is not a legacy transaction: {tx:?}");
    assert!(tx.inner.gas_price().is_some());
    let (relayed, relayed_tx) = &withdrawn[1];
    assert_eq!(*relayed_tx, hash(&out, "gaslessTx"));
    assert_eq!(
        (relayed.caller, relayed.to, relayed.amount),
        (dev_address(RELAYER), worker, coin(1) / U256::from(4))
    );
    assert_eq!(net.payroll_nonce(worker).await, U256::from(1), "one signed withdrawal executed");
    // The worker sent two transactions in the browser, the withdrawal and the submission (the
    // declined and wrong-chain attempts none).
    assert_eq!(net.direct.get_transaction_count(worker).await.unwrap(), worker_nonce_before + 2);
    assert!(out["debtNotice"].as_str().unwrap().contains("pool is short"), "{out}");
    assert!(withdrawals(&net, short_stream).await.is_empty(), "paid from a dry pool");

    // Milestone 2 submitted by the freelancer with the deliverable's hash.
    let submit_tx = hash(&out, "submitTx");
    let receipt = net.direct.get_transaction_receipt(submit_tx).await.unwrap().unwrap();
    assert!(receipt.status());
    assert_eq!(receipt.from, worker);
    let submitted = receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| MilestoneEscrow::MilestoneSubmitted::decode_log(&log.inner).ok())
        .expect("a MilestoneSubmitted event");
    assert_eq!((submitted.jobId, submitted.milestoneIndex), (job, U256::from(1)));
    assert_eq!(submitted.deliverableHash, alloy::primitives::keccak256(DELIVERABLE));

    // The milestone approved by the client's signature, submitted by the relayer.
    let approve_tx = hash(&out, "approveTx");
    let receipt = net.direct.get_transaction_receipt(approve_tx).await.unwrap().unwrap();
    assert!(receipt.status());
    assert_eq!(receipt.from, dev_address(RELAYER));
    let approved = receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| MilestoneEscrow::MilestoneApproved::decode_log(&log.inner).ok())
        .expect("a MilestoneApproved event");
    assert_eq!((approved.jobId, approved.milestoneIndex), (job, U256::ZERO));
    assert!(approved.bySignature);
    assert_eq!(approved.amount, coin(1));
    let milestone = net.milestone(job, 0).await;
    assert_eq!(MilestoneState::try_from(milestone.status), Ok(MilestoneState::Released));
    assert_eq!(net.escrow_nonce(dev_address(CLIENT)).await, U256::from(1));

    // Changes requested on milestone 2 by the client's own (legacy) transaction, with the
    // reason's hash; the empty reason before it sent nothing.
    let changes_tx = hash(&out, "changesTx");
    let receipt = net.direct.get_transaction_receipt(changes_tx).await.unwrap().unwrap();
    assert!(receipt.status());
    assert_eq!(receipt.from, dev_address(CLIENT));
    let sent = net.direct.get_transaction_by_hash(changes_tx).await.unwrap().unwrap();
    assert!(sent.inner.is_legacy(), "the change request is not a legacy transaction");
    let changes = receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| MilestoneEscrow::ChangesRequested::decode_log(&log.inner).ok())
        .expect("a ChangesRequested event");
    assert_eq!((changes.jobId, changes.milestoneIndex), (job, U256::from(1)));
    assert_eq!(changes.reasonHash, alloy::primitives::keccak256(CHANGES_REASON));
    let other = net.milestone(job, 1).await;
    assert_eq!(MilestoneState::try_from(other.status), Ok(MilestoneState::ChangesRequested));
    assert_eq!(
        net.direct.get_transaction_count(dev_address(CLIENT)).await.unwrap(),
        client_nonce_before + 1
    );

    // The relayer sent exactly the two relayed transactions and paid their gas.
    assert_eq!(net.relayer_nonce().await, 2);
    assert!(net.direct.get_balance(dev_address(RELAYER)).await.unwrap() < relayer_balance_before);
    assert_eq!(out["workerPosts"], 1, "{out}");
    assert_eq!(out["clientPosts"], 1, "{out}");
    assert_eq!(out["clientTransactions"], 1, "{out}");

    // The screenshots: PNG files at both widths, worker and client views.
    for name in ["worker-1280", "worker-375", "client-1280", "client-375", "worker-wrong-chain-375"]
    {
        let file = shots.join(format!("{name}.png"));
        let bytes = std::fs::read(&file).unwrap_or_else(|err| panic!("{}: {err}", file.display()));
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 5_000,
            "{} is not a screenshot",
            file.display()
        );
    }

    handle.shutdown().await.unwrap();
}
