//! Issue 11's end-to-end test: the `shiftpay` CLI, the relayer and an independent wallet client
//! act on one deployment through the Rootstock-shaped proxy.
//!
//! - The CLI (through the proxy) does everything an employer or client does: `deploy` (in
//!   [`Env::new`]), `treasury deposit`, `stream create`, `job create --fund none`, `job fund`;
//!   the freelancer `job accept`s and `job submit`s a milestone.
//! - The relayer runs in-process from the `shiftpay-relayer` library (`Relayer::start` with a
//!   programmatic `Config`) against the proxy, its API on a free port.
//! - `tests/js/metamask-client.cjs`, run by node, is the wallet page: its own copy of the EIP-712
//!   domains and types, chain id and nonce read over plain JSON-RPC, `signTypedData` V4 of
//!   `@metamask/eth-sig-util`, `POST /v1/requests`, `GET /v1/requests/{id}` until final. The
//!   bindings' typed data is used here only to cross-check the digest the script computed.
//!
//! Checked on-chain: a signature over the wrong chain id is refused with a 4xx and nothing is
//! sent; the worker's gasless withdrawal and the client's signed approval are paid (token and
//! native balances move by exactly the amounts, the signers' native balances do not move), the
//! relayer paid both transactions' gas, every transaction after the setup went through the proxy
//! and is legacy (type 0), and nobody asked the proxy for `eth_feeHistory`.
//!
//! Accounts: 0 employer (and deployer), 1 worker, 2 client, 3 freelancer, 4 relayer.

use std::{
    io::Read,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use alloy::primitives::{Address, B256, U256};
use serde_json::{Value, json};
use shiftpay_bindings::{
    escrow::Approval,
    payroll::{Payroll, WithdrawRequest},
};
use shiftpay_relayer::{Relayer, config::Config};

use crate::{
    common::{DEV_KEYS, block_number, dev_address, rpc},
    job::{balance, escrow},
    stream::{Env, hex_u64},
};

const EMPLOYER: usize = 0;
const WORKER: usize = 1;
const CLIENT: usize = 2;
const FREELANCER: usize = 3;
const RELAYER: usize = 4;
/// The node's chain id (anvil's default in these tests: Rootstock regtest, the devnet preset).
const CHAIN_ID: u64 = 33;
/// How long one run of the node client may take (it bounds itself at [`CLIENT_TIMEOUT`] too).
const SCRIPT_DEADLINE: Duration = Duration::from_secs(90);
/// The node client's own bound on its run (`--timeout-ms`).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// `node` from `PATH`, or a failure that says what to install (never a skip).
fn node_binary() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path).map(|dir| dir.join("node")).find(|candidate| {
            use std::os::unix::fs::PermissionsExt;
            candidate.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    });
    let node = found.unwrap_or_else(|| {
        panic!(
            "`node` (Node.js 18 or later) is not on PATH: this end-to-end test runs the wallet \
             client tests/js/metamask-client.cjs with it. Install Node.js and run `make deps` \
             (npm ci) at the repository root."
        )
    });
    let root = shiftpay_tests::anvil::workspace_root();
    assert!(
        root.join("node_modules/@metamask/eth-sig-util/package.json").is_file(),
        "node_modules/@metamask/eth-sig-util is missing: run `make deps` (npm ci) at {}",
        root.display()
    );
    node
}

/// Kills the node client (by its pid, through the `Child`) if the test panics while it runs;
/// once the child has ended (and been reaped), the kill and wait do nothing.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `tests/js/metamask-client.cjs ARGS` with `key` as the wallet's key; waits at most
/// [`SCRIPT_DEADLINE`] (then kills it) and returns the one JSON line it printed.
fn metamask_client(node: &Path, key: &str, args: &[&str]) -> Value {
    let script = shiftpay_tests::anvil::workspace_root().join("tests/js/metamask-client.cjs");
    let timeout_ms = CLIENT_TIMEOUT.as_millis().to_string();
    let child = Command::new(node)
        .arg(&script)
        .args(args)
        .args(["--timeout-ms", &timeout_ms])
        .env("CLIENT_PRIVATE_KEY", key)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{} {} runs: {e}", node.display(), script.display()));
    let mut guard = ChildGuard(child);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = guard.0.try_wait().expect("the node client can be waited for") {
            break status;
        }
        assert!(
            started.elapsed() < SCRIPT_DEADLINE,
            "the node client did not end within {SCRIPT_DEADLINE:?} ({args:?}): killed"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let child = &mut guard.0;
    // One short JSON line and a few lines of stderr at most: the pipes never filled up.
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(status.success(), "the node client failed ({status}) for {args:?}:\n{stderr}{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON line expected from the node client:\n{stdout}");
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// A field of the client's output that is a decimal string, as a `U256`.
fn uint(out: &Value, field: &str) -> U256 {
    out[field].as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{field}: {out}"))
}

/// A field of the client's output that is a 32-byte hex string.
fn b256(out: &Value, field: &str) -> B256 {
    out[field].as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{field}: {out}"))
}

/// A JSON-RPC quantity as a `U256`.
fn quantity(value: &Value) -> U256 {
    U256::from_str_radix(value.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// The relayer's configuration: the devnet through the proxy, the sandbox's deployment file, a
/// SQLite file in `dir`, fast polling, the API on a free port, dev account 4 as signer.
fn relayer_config(env: &Env, dir: &Path) -> Config {
    let deployment = env.sandbox.path("deployments/33.json");
    let toml = format!(
        "chain = \"devnet\"\nrpc_url = \"{}\"\ndeployment = \"{}\"\n\
         storage = \"sqlite://relayer.db\"\npoll_interval = \"200ms\"\nrpc_timeout = \"5s\"\n\
         shutdown_timeout = \"10s\"\n[api]\nlisten = \"127.0.0.1:0\"\n",
        env.url(),
        deployment.display()
    );
    let vars: shiftpay_relayer::config::Env =
        [("SHIFTPAY_PRIVATE_KEY".to_owned(), DEV_KEYS[RELAYER].to_owned())].into();
    Config::from_toml_str(&toml, dir, &vars).unwrap_or_else(|errors| panic!("{errors}"))
}

/// The transaction `hash` and its receipt (straight from anvil).
fn transaction(env: &Env, hash: &str) -> (Value, Value) {
    let url = env.node.url();
    let tx = rpc(&url, "eth_getTransactionByHash", json!([hash]));
    let receipt = rpc(&url, "eth_getTransactionReceipt", json!([hash]));
    assert!(!tx.is_null() && !receipt.is_null(), "{hash} is not mined");
    (tx, receipt)
}

/// What a mined transaction cost its sender in gas, in wei.
fn gas_cost(receipt: &Value) -> U256 {
    quantity(&receipt["gasUsed"]) * quantity(&receipt["effectiveGasPrice"])
}

#[test]
fn metamask_signed_withdrawal_and_approval_are_relayed_and_paid() {
    let started = Instant::now();
    let node = node_binary();
    // Anvil (chain 33) behind the proxy, `shiftpay deploy` through the proxy, a listed tUSD.
    let env = Env::new();
    let url = env.node.url();
    let payroll: Address = env.payroll.parse().unwrap();
    let escrow_address = escrow(&env);
    let escrow: Address = escrow_address.parse().unwrap();
    // The CLI's deployment transactions were legacy too.
    let file: Value = serde_json::from_str(&env.sandbox.read("deployments/33.json")).unwrap();
    for contract in ["payroll", "escrow"] {
        let (tx, _) = transaction(&env, file[contract]["txHash"].as_str().unwrap());
        assert_eq!(tx["type"], "0x0", "{contract} deployment: {tx}");
    }
    // From here on every transaction is sent through the proxy, by the CLI or the relayer.
    let setup_block = block_number(&url);
    env.proxy.reset_counts();
    let setup = started.elapsed();

    // The relayer, in-process, against the proxy.
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let relayer_dir = tempfile::tempdir().unwrap();
    let handle = runtime
        .block_on(Relayer::start(relayer_config(&env, relayer_dir.path())))
        .unwrap_or_else(|err| panic!("the relayer starts: {err}"));
    let api = format!("http://{}", handle.api_addr().expect("the API is enabled"));
    let relayer = dev_address(RELAYER);
    assert_eq!(handle.context().signer_address(), relayer);
    let relayer_before = balance(&env, relayer);
    let relayer_nonce_before = rpc(&url, "eth_getTransactionCount", json!([relayer, "latest"]));

    // The employer, with the CLI: a pool of 10,000 tUSD and a stream of 1 tUSD a second.
    let worker = dev_address(WORKER).to_string();
    env.run_as(EMPLOYER, &["treasury", "deposit", "10000", "tUSD", "--yes", "--json"]).success();
    let stream = env
        .run_as(
            EMPLOYER,
            &["stream", "create", "--worker", &worker, "--rate", "3600 tUSD/hour", "--json"],
        )
        .success()
        .json()["streamId"]
        .as_u64()
        .unwrap();

    // The client, with the CLI: a native job of two milestones, created unfunded and funded
    // afterwards; the freelancer accepts it and submits milestone 0.
    let freelancer = dev_address(FREELANCER).to_string();
    let job = env
        .run_as(
            CLIENT,
            &[
                "job",
                "create",
                "--worker",
                &freelancer,
                "--token",
                "rbtc",
                "--milestone",
                "0.5",
                "--milestone",
                "1.25",
                "--fund",
                "none",
                "--yes",
                "--json",
            ],
        )
        .success()
        .json()["jobId"]
        .as_u64()
        .unwrap();
    let funded = env.run_as(CLIENT, &["job", "fund", &job.to_string(), "--json"]).success().json();
    assert_eq!(funded["count"], 2, "{funded}");
    env.run_as(FREELANCER, &["job", "accept", &job.to_string()]).success();
    env.run_as(
        FREELANCER,
        &["job", "submit", &job.to_string(), "0", "--deliverable", "https://example.com/site-v1"],
    )
    .success();
    // The stream accrues for 1,000 s of chain time.
    env.advance(1_000);
    let cli_done = started.elapsed();

    let common = |contract: &str| -> Vec<String> {
        ["--rpc", env.url(), "--api", &api, "--contract", contract].map(str::to_owned).to_vec()
    };
    let run = |key: usize, args: Vec<String>| -> Value {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        metamask_client(&node, DEV_KEYS[key], &args)
    };

    // 1. A withdrawal signed over the wrong chain id (31 in the domain, 33 in the body): refused
    //    with a 4xx naming the signature, nothing sent, no nonce used.
    let amount = U256::from(500_000_000u64); // 500 tUSD (6 decimals)
    let withdraw_args = |extra: &[&str]| -> Vec<String> {
        let mut args = common(&env.payroll);
        args.extend(
            ["withdraw", "--stream-id", &stream.to_string(), "--to", &worker, "--amount"]
                .map(str::to_owned),
        );
        args.push(amount.to_string());
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    };
    let raw_before = env.proxy.count("eth_sendRawTransaction");
    let refused = run(WORKER, withdraw_args(&["--domain-chain-id", "31"]));
    assert_eq!(refused["httpStatus"], 422, "{refused}");
    assert_eq!(refused["error"]["code"], "wrong_signer", "{refused}");
    assert!(
        refused["error"]["message"].as_str().unwrap().contains("field `signature`"),
        "{refused}"
    );
    assert_eq!(refused["id"], Value::Null, "{refused}");
    assert_eq!(
        (refused["chainId"].as_u64(), refused["domainChainId"].as_u64()),
        (Some(33), Some(31))
    );
    let tampered = WithdrawRequest {
        streamId: U256::from(stream),
        to: dev_address(WORKER),
        amount,
        nonce: uint(&refused, "nonce"),
        deadline: uint(&refused, "deadline"),
    };
    assert_eq!(tampered.nonce, U256::ZERO, "the client read the worker's nonce: {refused}");
    // eth-sig-util's digest is the bindings' digest for chain 31: the relayer, checking for
    // chain 33, recovers another signer.
    assert_eq!(b256(&refused, "digest"), tampered.signing_hash(31, payroll));
    assert_ne!(b256(&refused, "digest"), tampered.signing_hash(CHAIN_ID, payroll));
    assert_eq!(env.proxy.count("eth_sendRawTransaction"), raw_before, "nothing was sent");
    assert_eq!(env.call(&Payroll::noncesCall { worker: dev_address(WORKER) }), U256::ZERO);
    assert_eq!(
        rpc(&url, "eth_getTransactionCount", json!([relayer, "latest"])),
        relayer_nonce_before
    );

    // 2. The worker's gasless withdrawal of 500 tUSD to itself, signed by MetaMask's code.
    let worker_tokens = env.token_balance(dev_address(WORKER));
    let worker_native = balance(&env, dev_address(WORKER));
    let withdrawn = run(WORKER, withdraw_args(&[]));
    assert_eq!(withdrawn["httpStatus"], 202, "{withdrawn}");
    assert_eq!(withdrawn["status"], "confirmed", "{withdrawn}");
    assert_eq!(withdrawn["error"], Value::Null, "{withdrawn}");
    let request = WithdrawRequest {
        nonce: uint(&withdrawn, "nonce"),
        deadline: uint(&withdrawn, "deadline"),
        ..tampered
    };
    assert_eq!(request.nonce, U256::ZERO, "the refused request used no nonce");
    assert_eq!(b256(&withdrawn, "digest"), request.signing_hash(CHAIN_ID, payroll));
    assert_eq!(b256(&withdrawn, "relayerDigest"), request.signing_hash(CHAIN_ID, payroll));
    assert_eq!(withdrawn["relayerSigner"].as_str().unwrap().to_lowercase(), worker.to_lowercase());
    assert_eq!(env.token_balance(dev_address(WORKER)) - worker_tokens, amount);
    assert_eq!(env.call(&Payroll::noncesCall { worker: dev_address(WORKER) }), U256::from(1));
    assert_eq!(balance(&env, dev_address(WORKER)), worker_native, "the worker paid no gas");
    let (tx, withdraw_receipt) = transaction(&env, withdrawn["txHash"].as_str().unwrap());
    assert_eq!(tx["from"].as_str().unwrap().parse::<Address>().unwrap(), relayer, "{tx}");
    assert_eq!(tx["to"].as_str().unwrap().parse::<Address>().unwrap(), payroll, "{tx}");
    assert_eq!((&tx["type"], &withdraw_receipt["status"]), (&json!("0x0"), &json!("0x1")));

    // 3. The client's approval of milestone 0, signed by MetaMask's code: the freelancer gets
    //    0.5 rBTC, the client pays no gas.
    let freelancer_native = balance(&env, dev_address(FREELANCER));
    let client_native = balance(&env, dev_address(CLIENT));
    let mut approve_args = common(&escrow_address);
    approve_args
        .extend(["approve", "--job-id", &job.to_string(), "--milestone", "0"].map(str::to_owned));
    let approved = run(CLIENT, approve_args);
    assert_eq!(approved["httpStatus"], 202, "{approved}");
    assert_eq!(approved["status"], "confirmed", "{approved}");
    let approval = Approval {
        jobId: U256::from(job),
        milestoneIndex: U256::ZERO,
        nonce: uint(&approved, "nonce"),
        deadline: uint(&approved, "deadline"),
    };
    assert_eq!(approval.nonce, U256::ZERO, "{approved}");
    assert_eq!(b256(&approved, "digest"), approval.signing_hash(CHAIN_ID, escrow));
    assert_eq!(b256(&approved, "relayerDigest"), approval.signing_hash(CHAIN_ID, escrow));
    let half = U256::from(500_000_000_000_000_000u64); // 0.5 rBTC
    assert_eq!(balance(&env, dev_address(FREELANCER)) - freelancer_native, half);
    assert_eq!(balance(&env, dev_address(CLIENT)), client_native, "the client paid no gas");
    let (tx, approve_receipt) = transaction(&env, approved["txHash"].as_str().unwrap());
    assert_eq!(tx["from"].as_str().unwrap().parse::<Address>().unwrap(), relayer, "{tx}");
    assert_eq!(tx["to"].as_str().unwrap().parse::<Address>().unwrap(), escrow, "{tx}");
    assert_eq!((&tx["type"], &approve_receipt["status"]), (&json!("0x0"), &json!("0x1")));
    let shown = env.run(&["job", "show", &job.to_string(), "--json"]).success().json();
    assert_eq!(shown["milestones"][0]["state"], "released", "{shown}");

    // The relayer paid exactly the gas of its two transactions, and sent nothing else.
    assert_eq!(
        relayer_before - balance(&env, relayer),
        gas_cost(&withdraw_receipt) + gas_cost(&approve_receipt)
    );
    let relayer_nonce = rpc(&url, "eth_getTransactionCount", json!([relayer, "latest"]));
    assert_eq!(hex_u64(&relayer_nonce), hex_u64(&relayer_nonce_before) + 2);

    // Every transaction since the setup went through the proxy as a raw legacy transaction.
    let mut mined = 0u64;
    for number in setup_block + 1..=block_number(&url) {
        let block = rpc(&url, "eth_getBlockByNumber", json!([format!("{number:#x}"), true]));
        for tx in block["transactions"].as_array().unwrap() {
            assert_eq!(tx["type"], "0x0", "block {number}: {tx}");
            assert!(tx.get("maxFeePerGas").is_none_or(Value::is_null), "{tx}");
            mined += 1;
        }
    }
    // The CLI's seven (tUSD approve + deposit, stream create, job create, fund, accept, submit)
    // and the relayer's two: nothing else.
    assert_eq!(mined, 9, "{mined} transactions since the setup");
    assert_eq!(env.proxy.count("eth_sendRawTransaction"), mined, "{:?}", env.proxy.counts());
    assert_eq!(env.proxy.count("eth_sendTransaction"), 0, "{:?}", env.proxy.counts());
    assert_eq!(env.proxy.count("eth_feeHistory"), 0, "{:?}", env.proxy.counts());
    assert_eq!(env.proxy.count("eth_maxPriorityFeePerGas"), 0, "{:?}", env.proxy.counts());

    runtime.block_on(handle.shutdown()).unwrap_or_else(|err| panic!("the relayer stops: {err}"));
    eprintln!(
        "metamask e2e: {mined} transactions, {} JSON-RPC requests through the proxy; setup \
         {:.2}s, CLI {:.2}s, signed requests {:.2}s, total {:.2}s",
        env.proxy.counts().values().sum::<u64>(),
        setup.as_secs_f64(),
        (cli_done - setup).as_secs_f64(),
        (started.elapsed() - cli_done).as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
