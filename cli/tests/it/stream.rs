//! `shiftpay stream create|pause|resume|adjust|set-end|cancel|withdraw|payout|show|list` against
//! anvil behind the Rootstock-shaped proxy, and [`Env`]: a deployed Payroll with a listed test
//! stablecoin, shared by the treasury and roster tests.

use std::{
    io::{BufRead, BufReader},
    process::Stdio,
    time::{Duration, Instant},
};

use alloy::{
    primitives::{Address, U256, hex},
    sol_types::{SolCall, SolConstructor, SolEvent},
};
use serde_json::{Value, json};
use shiftpay_tests::{
    mocks::MockERC20,
    rsk_proxy::{RskProxy, RskProxyConfig},
};

use crate::common::{
    AnvilOptions, AnvilProcess, DEV_KEYS, KEY0, Run, Sandbox, anvil_with, cast, dev_address,
    redactions, rpc,
};

/// A node (anvil behind [`RskProxy`]), a sandbox where `shiftpay deploy` ran, and a 6-decimal
/// test stablecoin `tUSD` listed in the deployment file, 1,000,000 of which the first three dev
/// accounts hold.
pub(crate) struct Env {
    pub(crate) node: AnvilProcess,
    pub(crate) proxy: RskProxy,
    pub(crate) sandbox: Sandbox,
    pub(crate) payroll: String,
    pub(crate) token: String,
}

impl Env {
    pub(crate) fn new() -> Self {
        Self::with(AnvilOptions::default())
    }

    pub(crate) fn with(options: AnvilOptions) -> Self {
        Self::with_proxy(options, RskProxyConfig::default())
    }

    pub(crate) fn with_proxy(options: AnvilOptions, config: RskProxyConfig) -> Self {
        let node = anvil_with(options);
        let proxy = RskProxy::start_with(node.url(), config).expect("the proxy starts");
        let sandbox = Sandbox::new();
        sandbox.run(&["deploy", "--rpc-url", proxy.url(), "--private-key", KEY0]).success();
        let file: Value = serde_json::from_str(&sandbox.read("deployments/33.json")).unwrap();
        let payroll = file["payroll"]["address"].as_str().unwrap().to_owned();
        let token = deploy_token(&node.url(), "Test USD", "tUSD", 6);
        for i in 0..3 {
            mint(
                &node.url(),
                &token,
                dev_address(i),
                U256::from(1_000_000u64) * U256::from(1_000_000u64),
            );
        }
        let env = Self { node, proxy, sandbox, payroll, token };
        env.list_token("tUSD", &env.token.clone(), 6);
        env
    }

    /// Adds a token to the deployment file's list.
    pub(crate) fn list_token(&self, symbol: &str, address: &str, decimals: u8) {
        let mut file: Value =
            serde_json::from_str(&self.sandbox.read("deployments/33.json")).unwrap();
        file["tokens"]
            .as_array_mut()
            .unwrap()
            .push(json!({"symbol": symbol, "address": address, "decimals": decimals}));
        self.sandbox.write("deployments/33.json", &serde_json::to_string_pretty(&file).unwrap());
    }

    /// The proxy's URL (what the CLI talks to).
    pub(crate) fn url(&self) -> &str {
        self.proxy.url()
    }

    /// `shiftpay ARGS --rpc-url URL` (read-only commands).
    pub(crate) fn run(&self, args: &[&str]) -> Run {
        let mut all = args.to_vec();
        all.extend(["--rpc-url", self.url()]);
        self.sandbox.run(&all)
    }

    /// `shiftpay ARGS --rpc-url URL --private-key <dev key i>`.
    pub(crate) fn run_as(&self, i: usize, args: &[&str]) -> Run {
        let mut all = args.to_vec();
        all.extend(["--rpc-url", self.url(), "--private-key", DEV_KEYS[i]]);
        self.sandbox.run(&all)
    }

    /// Moves the chain's clock `seconds` forward and mines a block.
    pub(crate) fn advance(&self, seconds: u64) {
        rpc(&self.node.url(), "evm_increaseTime", json!([seconds]));
        rpc(&self.node.url(), "evm_mine", json!([]));
    }

    /// `eth_call` of `call` on the Payroll contract.
    pub(crate) fn call<C: SolCall>(&self, call: &C) -> C::Return {
        let data = hex::encode_prefixed(call.abi_encode());
        let out = rpc(
            &self.node.url(),
            "eth_call",
            json!([{"to": self.payroll, "data": data}, "latest"]),
        );
        C::abi_decode_returns(&hex::decode(out.as_str().unwrap()).unwrap()).unwrap()
    }

    /// Nonce of dev account `i`.
    pub(crate) fn nonce(&self, i: usize) -> u64 {
        hex_u64(&rpc(
            &self.node.url(),
            "eth_getTransactionCount",
            json!([dev_address(i), "latest"]),
        ))
    }

    /// Every `StreamCreated` log of the Payroll contract.
    pub(crate) fn stream_created_logs(&self) -> Vec<Value> {
        let topic =
            format!("{:#x}", shiftpay_bindings::payroll::Payroll::StreamCreated::SIGNATURE_HASH);
        let logs = rpc(
            &self.node.url(),
            "eth_getLogs",
            json!([{"address": self.payroll, "fromBlock": "0x0", "toBlock": "latest", "topics": [topic]}]),
        );
        logs.as_array().unwrap().clone()
    }

    /// `tUSD` balance of `owner` in token units.
    pub(crate) fn token_balance(&self, owner: Address) -> U256 {
        let data = hex::encode_prefixed(MockERC20::balanceOfCall { account: owner }.abi_encode());
        let out =
            rpc(&self.node.url(), "eth_call", json!([{"to": self.token, "data": data}, "latest"]));
        U256::from_str_radix(out.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    }
}

pub(crate) fn hex_u64(value: &Value) -> u64 {
    u64::from_str_radix(value.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// Sends a transaction from dev account 0 through anvil's unlocked account; returns the receipt.
fn send(url: &str, to: Option<&str>, data: Vec<u8>) -> Value {
    let mut tx =
        json!({"from": dev_address(0), "data": hex::encode_prefixed(data), "gas": "0x5b8d80"});
    if let Some(to) = to {
        tx["to"] = json!(to);
    }
    let hash = rpc(url, "eth_sendTransaction", json!([tx]));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let receipt = rpc(url, "eth_getTransactionReceipt", json!([hash]));
        if !receipt.is_null() {
            assert_eq!(receipt["status"], "0x1", "{receipt}");
            return receipt;
        }
        assert!(Instant::now() < deadline, "{hash} was not mined");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Deploys a `MockERC20` (open minting); returns its address.
pub(crate) fn deploy_token(url: &str, name: &str, symbol: &str, decimals: u8) -> String {
    let mut code = MockERC20::BYTECODE.to_vec();
    code.extend(
        MockERC20::constructorCall {
            name_: name.into(),
            symbol_: symbol.into(),
            decimals_: decimals,
        }
        .abi_encode(),
    );
    deploy_code(url, code)
}

/// Deploys contract creation `code` (bytecode and constructor arguments) from dev account 0;
/// returns its address.
pub(crate) fn deploy_code(url: &str, code: Vec<u8>) -> String {
    send(url, None, code)["contractAddress"].as_str().unwrap().to_owned()
}

/// Sends `data` to `to` from dev account 0 (anvil's unlocked account) and waits for success.
pub(crate) fn send_from_0(url: &str, to: &str, data: Vec<u8>) {
    send(url, Some(to), data);
}

/// Mints `amount` token units of `token` to `to`.
pub(crate) fn mint(url: &str, token: &str, to: Address, amount: U256) {
    send(url, Some(token), MockERC20::mintCall { to, amount }.abi_encode());
}

fn worker() -> String {
    dev_address(1).to_string()
}

/// Creates a stream from dev account 0 to dev account 1 and returns its id.
fn create(env: &Env, rate: &str, extra: &[&str]) -> u64 {
    let w = worker();
    let mut args = vec!["stream", "create", "--worker", &w, "--rate", rate, "--json"];
    args.extend_from_slice(extra);
    env.run_as(0, &args).success().json()["streamId"].as_u64().unwrap()
}

#[test]
fn create_then_show_and_list_and_cast_reads_the_same_stream() {
    let env = Env::new();
    let w = worker();
    let run = env.run_as(
        0,
        &[
            "stream",
            "create",
            "--worker",
            &w,
            "--rate",
            "1500 tUSD/month",
            "--end",
            "+30d",
            "--json",
        ],
    );
    run.success();
    assert!(
        run.stderr.contains(
            "rate: 1500 tUSD/month = 578703703703703 per second (scaled 1e18); pays 1499.999999999998176 tUSD per 30-day month (0.000000000001824 tUSD less, lost to rounding)"
        ),
        "{}",
        run.stderr
    );
    let json = run.json();
    assert_eq!(json["streamId"], 1);
    assert_eq!(json["worker"].as_str().unwrap().to_lowercase(), w.to_lowercase());
    assert_eq!(json["token"]["symbol"], "tUSD");
    assert_eq!(json["token"]["decimals"], 6);
    assert_eq!(json["rate"]["perSecondScaled"], "578703703703703");
    // The end is 30 days after the command's "now"; the start is when the transaction was mined.
    let length = json["endUnix"].as_u64().unwrap() - json["startUnix"].as_u64().unwrap();
    assert!((30 * 86_400 - 10..=30 * 86_400).contains(&length), "{json}");

    // An independent client reads the stream the CLI created.
    let view = cast(&[
        "call",
        &env.payroll,
        "getStream(uint256)((address,address,address,uint128,uint40,uint40,uint8,uint40,uint216))",
        "1",
        "--rpc-url",
        &env.node.url(),
    ]);
    assert!(view.to_lowercase().contains(&w.to_lowercase()), "{view}");
    assert!(view.to_lowercase().contains(&env.token.to_lowercase()), "{view}");
    assert!(view.contains("578703703703703"), "{view}");
    assert_eq!(
        cast(&["call", &env.payroll, "nextStreamId()(uint256)", "--rpc-url", &env.node.url()]),
        "2"
    );

    let show = env.run(&["stream", "show", "1", "--json"]).success().json();
    assert_eq!(show["id"], 1);
    assert_eq!(show["status"], "active");
    assert_eq!(show["employer"].as_str().unwrap(), dev_address(0).to_string());
    assert_eq!(show["rate"]["perMonth"], "1499.999999999998176 tUSD/month");
    assert_eq!(show["earned"]["units"], "0");

    let by_employer = env
        .run(&["stream", "list", "--employer", &dev_address(0).to_string(), "--json"])
        .success()
        .json();
    assert_eq!(by_employer["count"], 1);
    assert_eq!(by_employer["streams"][0]["id"], 1);
    let lower = w.to_lowercase();
    let by_worker = env.run(&["stream", "list", "--worker", &lower, "--json"]).success().json();
    assert_eq!(by_worker["count"], 1);
    let nobody = env
        .run(&["stream", "list", "--worker", &dev_address(5).to_string(), "--json"])
        .success()
        .json();
    assert_eq!(nobody["count"], 0);
}

#[test]
fn human_output_of_create_show_and_list() {
    let env = Env::new();
    let w = worker();
    let created = env.run_as(
        0,
        &[
            "stream",
            "create",
            "--worker",
            &w,
            "--rate",
            "25 tUSD/hour",
            "--start",
            "2030-01-01",
            "--end",
            "2030-07-01",
        ],
    );
    created.success();
    let show = env.run(&["stream", "show", "1"]);
    show.success();
    let list = env.run(&["stream", "list", "--worker", &w]);
    list.success();
    redactions(&env.sandbox).bind(|| {
        insta::assert_snapshot!("stream_create_human", created.stdout);
        insta::assert_snapshot!("stream_show_scheduled", show.stdout);
        insta::assert_snapshot!("stream_list_worker", list.stdout);
    });
    assert!(show.stdout.contains("status        scheduled"), "{}", show.stdout);
    assert!(
        show.stdout.contains("rate          ~18000 tUSD/month (~25 tUSD/hour)"),
        "{}",
        show.stdout
    );
}

#[test]
fn a_calendar_month_and_native_rates() {
    let env = Env::new();
    let w = worker();
    let run = env.run_as(
        0,
        &[
            "stream",
            "create",
            "--worker",
            &w,
            "--rate",
            "1500 tUSD/month",
            "--month",
            "calendar",
            "--json",
        ],
    );
    run.success();
    // 1500e18 / 2,629,746 s, rounded down.
    assert_eq!(run.json()["rate"]["perSecondScaled"], "570397293122605");
    assert!(run.stderr.contains("per calendar month (30.436875 days)"), "{}", run.stderr);
    let native = env
        .run_as(0, &["stream", "create", "--worker", &w, "--rate", "0.0004 rbtc/hour", "--json"]);
    native.success();
    let json = native.json();
    assert_eq!(json["token"]["symbol"], "RBTC");
    assert_eq!(json["token"]["address"], "0x0000000000000000000000000000000000000000");
    assert_eq!(json["rate"]["perSecondScaled"], "111111111111");
}

#[test]
fn employer_controls_pause_resume_adjust_set_end_cancel() {
    let env = Env::new();
    let id = create(&env, "1000 tUSD/month", &[]).to_string();
    let pause = env.run_as(0, &["stream", "pause", &id, "--json"]).success().json();
    assert_eq!(pause["action"], "pause");
    assert_eq!(pause["stream"]["status"], "paused");
    let again = env.run_as(0, &["stream", "pause", &id]).failure();
    assert!(again.contains("Payroll_StreamPaused(1)"), "{again}");
    let resume = env.run_as(0, &["stream", "resume", &id]);
    resume.success();
    assert!(resume.stdout.starts_with("stream 1 resumed in block "), "{}", resume.stdout);
    assert!(resume.stdout.contains("status        active"), "{}", resume.stdout);

    let adjust = env.run_as(0, &["stream", "adjust", &id, "--rate", "2000/month", "--json"]);
    adjust.success();
    assert!(adjust.stderr.contains("rate: 2000 tUSD/month = "), "{}", adjust.stderr);
    assert_eq!(adjust.json()["stream"]["rate"]["perSecondScaled"], "771604938271604");
    let wrong_token = env.run_as(0, &["stream", "adjust", &id, "--rate", "1 rbtc/hour"]).failure();
    assert_eq!(
        wrong_token,
        "stream 1 pays tUSD, but the rate is in RBTC: give the new rate in tUSD"
    );

    let end = env.run_as(0, &["stream", "set-end", &id, "2031-01-01", "--json"]).success().json();
    assert_eq!(end["stream"]["end"], "2031-01-01T00:00:00Z");
    let open = env.run_as(0, &["stream", "set-end", &id, "none", "--json"]).success().json();
    assert_eq!(open["stream"]["end"], Value::Null);
    let past = env.run_as(0, &["stream", "set-end", &id, "2020-01-01"]).failure();
    assert!(past.starts_with("the end 2020-01-01T00:00:00Z is not in the future"), "{past}");

    // Only the employer controls a stream: the contract's error, decoded.
    let stranger = env.run_as(2, &["stream", "pause", &id]).failure();
    assert_eq!(
        stranger,
        format!("the transaction would revert: Payroll_NotEmployer(1, {})", dev_address(2))
    );

    let cancel = env.run_as(0, &["stream", "cancel", &id, "--json"]).success().json();
    assert_eq!(cancel["stream"]["status"], "canceled");
    let view =
        env.call(&shiftpay_bindings::payroll::Payroll::getStreamCall { streamId: U256::from(1) });
    assert_eq!(view.status, 2, "Canceled");
    let after = env.run_as(0, &["stream", "resume", &id]).failure();
    assert_eq!(after, "the transaction would revert: Payroll_StreamCanceled(1)");
}

#[test]
fn the_worker_withdraws_and_anyone_pays_out() {
    let env = Env::new();
    env.run_as(0, &["treasury", "deposit", "10000", "tUSD", "--yes"]).success();
    let first = create(&env, "3600 tUSD/hour", &[]).to_string(); // 1 tUSD per second
    let second = create(&env, "7200 tUSD/hour", &[]).to_string();
    env.advance(100);

    // Not the worker: the contract's custom error, decoded, nothing sent.
    let nonce = env.nonce(2);
    let stranger = env.run_as(2, &["stream", "withdraw", &first, "10"]).failure();
    assert_eq!(
        stranger,
        format!("the transaction would revert: Payroll_NotWorker(1, {})", dev_address(2))
    );
    assert_eq!(env.nonce(2), nonce);

    let before = env.token_balance(dev_address(1));
    let part = env.run_as(1, &["stream", "withdraw", &first, "50", "--json"]).success().json();
    assert_eq!(part["withdrawn"]["amount"], "50");
    assert_eq!(part["withdrawn"]["units"], "50000000");
    assert_eq!(env.token_balance(dev_address(1)) - before, U256::from(50_000_000u64));
    let too_much = env.run_as(1, &["stream", "withdraw", &first, "5000"]).failure();
    assert!(too_much.starts_with("stream 1 can pay "), "{too_much}");
    let to = dev_address(7).to_string();
    let all = env
        .run_as(1, &["stream", "withdraw", &first, "all", "--to", &to, "--json"])
        .success()
        .json();
    let rest: u64 = all["withdrawn"]["units"].as_str().unwrap().parse().unwrap();
    assert!(rest >= 50_000_000, "{all}");
    assert_eq!(env.token_balance(dev_address(7)), U256::from(rest));

    // A third party pays both streams to their worker in one payoutMany.
    env.advance(10);
    let worker_before = env.token_balance(dev_address(1));
    let payout = env.run_as(3, &["stream", "payout", &first, &second, "--json"]).success().json();
    assert_eq!(payout["transactions"].as_array().unwrap().len(), 1);
    let paid = payout["streams"].as_array().unwrap();
    assert_eq!(paid.len(), 2, "{payout}");
    let total: u64 =
        paid.iter().map(|p| p["paid"]["units"].as_str().unwrap().parse::<u64>().unwrap()).sum();
    assert_eq!(env.token_balance(dev_address(1)) - worker_before, U256::from(total));
    assert!(paid.iter().all(|p| p["failed"] == false));

    // Nothing left right after: a clear error, nothing sent.
    let nonce = env.nonce(3);
    let empty = env.run_as(3, &["stream", "payout", &first]).failure();
    assert_eq!(empty, "nothing to pay out: stream 1 has nothing withdrawable now");
    assert_eq!(env.nonce(3), nonce);
}

#[test]
fn payouts_are_batched_to_fit_the_block_gas_limit() {
    let env = Env::new();
    env.run_as(0, &["treasury", "deposit", "10000", "tUSD", "--yes"]).success();
    for _ in 0..6 {
        create(&env, "3600 tUSD/hour", &[]);
    }
    env.advance(60);
    // One id: a plain `payout`.
    let single = env.run_as(4, &["stream", "payout", "1", "--json"]).success().json();
    assert_eq!(single["transactions"].as_array().unwrap().len(), 1);
    assert_eq!(single["streams"][0]["streamId"], 1);
    // Blocks of 150,000 gas: the other five need several `payoutMany` transactions.
    rpc(&env.node.url(), "evm_setBlockGasLimit", json!(["0x249f0"]));
    rpc(&env.node.url(), "evm_mine", json!([]));
    let before = env.token_balance(dev_address(1));
    let run = env.run_as(4, &["stream", "payout", "2", "3", "4", "5", "6", "--json"]);
    run.success();
    let json = run.json();
    let transactions = json["transactions"].as_array().unwrap();
    assert!(transactions.len() > 1, "{json}");
    assert!(transactions.iter().all(|t| t["gasUsed"].as_u64().unwrap() < 150_000), "{json}");
    let paid = json["streams"].as_array().unwrap();
    let ids: Vec<u64> = paid.iter().map(|p| p["streamId"].as_u64().unwrap()).collect();
    assert_eq!(ids, vec![2, 3, 4, 5, 6]);
    let total: u64 =
        paid.iter().map(|p| p["paid"]["units"].as_str().unwrap().parse::<u64>().unwrap()).sum();
    assert_eq!(env.token_balance(dev_address(1)) - before, U256::from(total));
    env.advance(5);
    let human = env.run_as(4, &["stream", "payout", "2", "3"]);
    assert!(human.success().stdout.starts_with("paid out 2 streams in "), "{}", human.stdout);
}

#[test]
fn list_pages_the_logs_and_halves_pages_the_node_refuses() {
    // A node that takes 4 blocks per eth_getLogs: the CLI starts with the chain's 2,000-block
    // pages and halves them until the node accepts (mining 2,000s of blocks takes minutes).
    let env =
        Env::with_proxy(AnvilOptions::default(), RskProxyConfig { port: 0, max_log_range: 4 });
    create(&env, "100 tUSD/month", &[]);
    crate::common::mine(&env.node.url(), 10);
    create(&env, "200 tUSD/month", &[]);
    crate::common::mine(&env.node.url(), 10);
    create(&env, "300 tUSD/month", &[]);
    env.proxy.reset_counts();
    let list = env.run(&["stream", "list", "--employer", &dev_address(0).to_string(), "--json"]);
    list.success();
    assert_eq!(list.json()["count"], 3);
    let ids: Vec<u64> = list.json()["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![1, 2, 3]);
    let blocks = crate::common::block_number(&env.node.url());
    // 9 halvings from 2,000 to 3 blocks, then pages of 3 blocks.
    assert!(env.proxy.count("eth_getLogs") >= blocks / 3, "{:?}", env.proxy.counts());
}

#[test]
fn show_watch_prints_a_line_per_second_until_interrupted() {
    let env = Env::new();
    env.run_as(0, &["treasury", "deposit", "1000", "tUSD", "--yes"]).success();
    create(&env, "3600 tUSD/hour", &[]);
    let mut args = vec!["stream", "show", "1", "--watch", "--rpc-url"];
    args.push(env.url());
    let mut child =
        env.sandbox.command(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut updates = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while updates.len() < 3 && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200))
            && line.contains("  earned ")
        {
            updates.push(line);
        }
    }
    let pid = child.id().to_string();
    std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "Ctrl-C ends the watch cleanly: {status:?}");
    assert_eq!(updates.len(), 3, "{updates:?}");
    // Earned grows with the clock (1 tUSD per second), and the pool covers it.
    let earned: Vec<f64> = updates
        .iter()
        .map(|l| l.split("earned ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(earned[2] > earned[0], "{updates:?}");
    assert!(
        updates[0].contains("withdrawable") && updates[0].contains("(active, block "),
        "{updates:?}"
    );

    // --json: one document even with --watch.
    let json = env.run(&["stream", "show", "1", "--watch", "--json"]).success().json();
    assert_eq!(json["id"], 1);
}

#[test]
fn dry_runs_decode_the_call_and_send_nothing() {
    let env = Env::new();
    let nonce = env.nonce(0);
    let w = worker();
    let run = env.run(&[
        "stream",
        "create",
        "--worker",
        &w,
        "--rate",
        "10 tUSD/day",
        "--dry-run",
        "--from",
        &dev_address(0).to_string(),
    ]);
    run.success();
    assert!(run.stdout.contains("call   createStream(worker: "), "{}", run.stdout);
    assert!(run.stdout.contains("result succeeds, about "), "{}", run.stdout);
    assert!(run.stderr.contains("dry run: nothing was sent"), "{}", run.stderr);
    let json = env
        .run_as(
            0,
            &["stream", "create", "--worker", &w, "--rate", "10 tUSD/day", "--dry-run", "--json"],
        )
        .success()
        .json();
    assert_eq!(json["dryRun"], true);
    assert_eq!(json["transactions"][0]["call"]["function"], "createStream");
    assert_eq!(env.nonce(0), nonce);
    assert!(env.stream_created_logs().is_empty());

    create(&env, "10 tUSD/day", &[]);
    for args in [
        vec!["stream", "pause", "1", "--dry-run"],
        vec!["stream", "cancel", "1", "--dry-run"],
        vec!["stream", "adjust", "1", "--rate", "20/day", "--dry-run"],
        vec!["stream", "set-end", "1", "+3d", "--dry-run"],
    ] {
        let run = env.run_as(0, &args);
        run.success();
        assert!(run.stderr.contains("dry run: nothing was sent"), "{args:?}: {}", run.stderr);
    }
    assert_eq!(env.nonce(0), nonce + 1);

    // The worker's, the employer's and anyone's transactions too, as seen by the sender.
    env.run_as(0, &["treasury", "deposit", "1000", "tUSD", "--yes"]).success();
    env.advance(60);
    let nonces: Vec<u64> = (0..3).map(|i| env.nonce(i)).collect();
    let worker_address = dev_address(1).to_string();
    let employer = dev_address(0).to_string();
    for (args, function) in [
        (
            vec!["stream", "withdraw", "1", "--from", worker_address.as_str()],
            "withdraw(uint256,address,uint256)",
        ),
        (vec!["stream", "payout", "1", "--from", employer.as_str()], "payout(uint256)"),
        (
            vec!["treasury", "withdraw-surplus", "1", "tUSD", "--from", employer.as_str()],
            "withdrawSurplus(address,uint256,address)",
        ),
    ] {
        let mut args = args.clone();
        args.extend(["--dry-run", "--json"]);
        let json = env.run(&args).success().json();
        assert_eq!(json["transactions"][0]["function"], function, "{json}");
        assert!(json["transactions"][0]["gasEstimate"].as_u64().unwrap() > 21_000, "{json}");
    }
    assert_eq!((0..3).map(|i| env.nonce(i)).collect::<Vec<_>>(), nonces);
}

#[test]
fn errors_are_one_sentence_and_send_nothing() {
    let env = Env::new();
    let w = worker();
    create(&env, "1 tUSD/hour", &[]);
    let nonce = env.nonce(0);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["stream", "create", "--worker", "0x1234", "--rate", "1 tUSD/hour"],
            "--worker: invalid address \"0x1234\": it has 4 hex digits instead of 40",
        ),
        (
            vec!["stream", "create", "--worker", &w, "--rate", "1,500 tUSD/month"],
            "invalid rate \"1,500 tUSD/month\"",
        ),
        (
            vec!["stream", "create", "--worker", &w, "--rate", "1500 tUSD/fortnight"],
            "invalid rate \"1500 tUSD/fortnight\"",
        ),
        (
            vec!["stream", "create", "--worker", &w, "--rate", "1500/month"],
            "--rate needs its token",
        ),
        (
            vec!["stream", "create", "--worker", &w, "--rate", "0.0000001 tUSD/hour"],
            "has more decimals than tUSD's 6",
        ),
        (
            vec!["stream", "create", "--worker", &w, "--rate", "1500 USDRIF/month"],
            "unknown token \"USDRIF\" on Local devnet",
        ),
        (
            vec![
                "stream",
                "create",
                "--worker",
                &w,
                "--rate",
                "1 tUSD/hour",
                "--start",
                "2020-01-01",
            ],
            "--start 2020-01-01T00:00:00Z is in the past",
        ),
        (
            vec!["stream", "create", "--worker", &w, "--rate", "1 tUSD/hour", "--end", "yesterday"],
            "invalid time \"yesterday\"",
        ),
        (
            vec!["stream", "show", "9"],
            "stream 9 does not exist on this deployment (Payroll_StreamNotFound(9))",
        ),
        (vec!["stream", "pause", "abc"], "invalid stream id \"abc\""),
        (
            vec!["stream", "withdraw", "1", "1.5.2"],
            "invalid amount \"1.5.2\": it has more than one decimal point",
        ),
        (vec!["stream", "list", "--worker", "0xZZ"], "--worker: invalid address"),
    ];
    for (args, expected) in cases {
        let read_only = matches!(args[1], "show" | "list");
        let error = if read_only { env.run(&args) } else { env.run_as(0, &args) }.failure();
        assert!(error.contains(expected), "{args:?}: {error}");
    }
    assert_eq!(env.nonce(0), nonce);

    // An address outside the preset and the deployment file needs --allow-unknown-token, and
    // the contracts' token requirements are shown either way.
    let other = deploy_token(&env.node.url(), "Other", "OTH", 18);
    let nonce = env.nonce(0);
    let rate = format!("5 {other}/hour");
    let refused = env.run_as(0, &["stream", "create", "--worker", &w, "--rate", &rate]);
    let error = refused.failure();
    assert!(
        error.contains("is not a known token on Local devnet")
            && error.contains("--allow-unknown-token"),
        "{error}"
    );
    assert!(refused.stderr.contains("no fee on transfer, no rebasing"), "{}", refused.stderr);
    assert_eq!(env.nonce(0), nonce);
    let allowed = env.run_as(
        0,
        &["stream", "create", "--worker", &w, "--rate", &rate, "--allow-unknown-token", "--json"],
    );
    allowed.success();
    assert!(allowed.stderr.contains("warning: OTH ("), "{}", allowed.stderr);
    assert_eq!(allowed.json()["token"]["known"], false);

    // A deployment file for another chain.
    let mut file: Value = serde_json::from_str(&env.sandbox.read("deployments/33.json")).unwrap();
    file["chainId"] = json!(31);
    env.sandbox.write("elsewhere.json", &serde_json::to_string(&file).unwrap());
    let wrong = env.run(&["stream", "show", "1", "--deployment", "elsewhere.json"]).failure();
    assert!(wrong.contains("31") && wrong.contains("33"), "{wrong}");

    // The node is unreachable.
    let down =
        env.sandbox.run(&["stream", "show", "1", "--rpc-url", "http://127.0.0.1:9"]).failure();
    assert!(down.starts_with("cannot reach the node at http://127.0.0.1:9"), "{down}");
    env.proxy.set_down(true);
    let cut = env.run(&["stream", "list", "--worker", &w]).failure();
    assert!(cut.starts_with("cannot reach the node at "), "{cut}");
    env.proxy.set_down(false);
}

#[test]
fn rates_with_glued_tokens_and_short_periods() {
    // `--rate` also accepts a rate whose amount and token are glued, and periods' short names.
    let env = Env::new();
    let w = worker();
    let json = env
        .run_as(0, &["stream", "create", "--worker", &w, "--rate", "100tUSD/d", "--json"])
        .success()
        .json();
    assert_eq!(json["rate"]["perHour"], "4.1666666666666652 tUSD/hour");
}
