//! `shiftpay treasury deposit|withdraw-surplus|status` against anvil behind the Rootstock-shaped
//! proxy, and what `cast` does seen by `treasury status`.

use alloy::{
    primitives::{Address, U256, hex},
    sol_types::SolCall,
};
use serde_json::{Value, json};
use shiftpay_tests::mocks::{MockERC20, NonZeroApprovalERC20};

use crate::{
    common::{DEV_KEYS, cast, dev_address, redactions, rpc},
    stream::{Env, deploy_code, deploy_token, mint, send_from_0},
};

fn status(env: &Env, employer: usize) -> Value {
    env.run(&["treasury", "status", "--employer", &dev_address(employer).to_string(), "--json"])
        .success()
        .json()
}

fn pool<'a>(status: &'a Value, symbol: &str) -> &'a Value {
    status["pools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["token"]["symbol"] == symbol)
        .unwrap_or_else(|| panic!("no {symbol} pool: {status}"))
}

#[test]
fn an_erc20_deposit_approves_first_then_status_shows_the_pool() {
    let env = Env::new();
    // Without a terminal and without --yes, the short allowance stops everything.
    let nonce = env.nonce(0);
    let refused = env.run_as(0, &["treasury", "deposit", "1500", "tUSD"]).failure();
    assert!(
        refused.contains("may move 0 tUSD of")
            && refused.contains("pass --yes to approve 1500 tUSD"),
        "{refused}"
    );
    assert_eq!(env.nonce(0), nonce);

    let run = env.run_as(0, &["treasury", "deposit", "1500", "tUSD", "--yes", "--json"]);
    run.success();
    assert!(run.stderr.contains("approve 1500 tUSD for Payroll: confirmed"), "{}", run.stderr);
    assert_eq!(env.nonce(0), nonce + 2, "approve + deposit");
    let json = run.json();
    assert_eq!(json["deposited"]["units"], "1500000000");
    assert_eq!(json["pool"]["balance"]["amount"], "1500");
    assert_eq!(json["pool"]["surplus"]["amount"], "1500");
    assert_eq!(json["pool"]["runsOut"], Value::Null);

    // The approval was exact (never unlimited), so the next deposit approves again.
    let second = env.run_as(0, &["treasury", "deposit", "0.5", "tUSD", "--yes"]);
    second.success();
    assert!(second.stderr.contains("approve 0.5 tUSD for Payroll: confirmed"), "{}", second.stderr);
    assert_eq!(env.nonce(0), nonce + 4);

    // A stream makes the pool run out at a date; status lists its withdrawable amount.
    let w = dev_address(1).to_string();
    env.run_as(0, &["stream", "create", "--worker", &w, "--rate", "3600 tUSD/hour"]).success();
    env.advance(100);
    let json = status(&env, 0);
    let tusd = pool(&json, "tUSD");
    assert_eq!(tusd["exists"], true);
    assert_eq!(tusd["balance"]["amount"], "1500.5");
    assert_eq!(tusd["totalRate"]["perSecondScaled"], "1000000000000000000");
    assert_eq!(tusd["totalRate"]["perHour"], "3600 tUSD/hour");
    assert_eq!(tusd["debt"]["units"], "0");
    let runs_out = tusd["runsOutUnix"].as_u64().unwrap();
    let streams = tusd["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0]["id"], 1);
    let withdrawable: u64 = streams[0]["withdrawable"]["amount"].as_str().unwrap().parse().unwrap();
    // 100 s of clock moved forward, plus the seconds the commands took.
    assert!((100..=140).contains(&withdrawable), "{json}");
    let surplus: f64 = tusd["surplus"]["amount"].as_str().unwrap().parse().unwrap();
    assert!((1360.5..=1400.5).contains(&surplus), "{json}");
    assert_eq!(surplus + withdrawable as f64, 1500.5, "{json}");
    // Runs out when the 1500.5 tUSD are earned at 1 tUSD per second.
    let start =
        env.run(&["stream", "show", "1", "--json"]).success().json()["startUnix"].as_u64().unwrap();
    assert_eq!(runs_out, start + 1500);

    let human = env.run(&["treasury", "status", "--employer", &dev_address(0).to_string()]);
    human.success();
    assert!(
        human.stdout.contains("total rate  ~2592000 tUSD/month (3600 tUSD/hour)")
            || human.stdout.contains("total rate  2592000 tUSD/month (3600 tUSD/hour)"),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("runs out    "), "{}", human.stdout);
}

/// `allowance(owner, spender)` of `token`, read with `eth_call`.
fn allowance(env: &Env, token: &str, owner: Address, spender: &str) -> U256 {
    let spender: Address = spender.parse().unwrap();
    let data = hex::encode_prefixed(MockERC20::allowanceCall { owner, spender }.abi_encode());
    let out = rpc(&env.node.url(), "eth_call", json!([{"to": token, "data": data}, "latest"]));
    U256::from_str_radix(out.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// A Tether-style token (a non-zero allowance cannot be changed to another non-zero value) with
/// an allowance left over: the deposit resets it to 0 first, then approves the amount; a dry run
/// plans the same two approvals; a standard token with a leftover allowance gets one approval.
#[test]
fn a_tether_style_token_with_an_allowance_left_is_reset_before_the_approval() {
    let env = Env::new();
    let url = env.node.url();
    let usdtx = deploy_code(&url, NonZeroApprovalERC20::BYTECODE.to_vec());
    env.list_token("USDTX", &usdtx, 6);
    mint(&url, &usdtx, dev_address(0), U256::from(1_000_000_000u64));
    // 0.1 USDTX left approved to Payroll by an earlier, larger approval.
    let payroll: Address = env.payroll.parse().unwrap();
    let leftover = U256::from(100_000u64);
    let approve =
        |value| NonZeroApprovalERC20::approveCall { spender: payroll, value }.abi_encode();
    send_from_0(&url, &usdtx, approve(leftover));
    assert_eq!(allowance(&env, &usdtx, dev_address(0), &env.payroll), leftover);

    // The dry run plans both approvals and the deposit; nothing is sent.
    let nonce = env.nonce(0);
    let dry = env.run_as(0, &["treasury", "deposit", "5", "USDTX", "--dry-run", "--json"]);
    dry.success();
    let planned = dry.json().to_string();
    assert!(planned.contains("reset the USDTX allowance of Payroll to 0"), "{planned}");
    assert!(planned.contains("approve 5 USDTX for Payroll"), "{planned}");
    assert_eq!(env.nonce(0), nonce);

    let run = env.run_as(0, &["treasury", "deposit", "5", "USDTX", "--yes", "--json"]);
    run.success();
    assert!(
        run.stderr.contains("reset the USDTX allowance of Payroll to 0 (the token refuses to change a non-zero allowance): confirmed"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("approve 5 USDTX for Payroll: confirmed"), "{}", run.stderr);
    assert_eq!(env.nonce(0), nonce + 3, "reset + approve + deposit");
    assert_eq!(run.json()["pool"]["balance"]["amount"], "5");
    // The deposit used the exact approval up.
    assert_eq!(allowance(&env, &usdtx, dev_address(0), &env.payroll), U256::ZERO);

    // A standard token takes the new value over a leftover: one approval, no reset.
    send_from_0(&url, &env.token, approve(leftover));
    let nonce = env.nonce(0);
    let plain = env.run_as(0, &["treasury", "deposit", "5", "tUSD", "--yes"]);
    plain.success();
    assert!(!plain.stderr.contains("reset the"), "{}", plain.stderr);
    assert_eq!(env.nonce(0), nonce + 2, "approve + deposit");
}

#[test]
fn native_deposit_and_surplus_withdrawal() {
    let env = Env::new();
    let json = env.run_as(2, &["treasury", "deposit", "2.5", "rbtc", "--json"]).success().json();
    assert_eq!(json["deposited"]["symbol"], "RBTC");
    assert_eq!(json["pool"]["balance"]["units"], "2500000000000000000");
    let status_human = env.run_as(2, &["treasury", "status"]);
    status_human.success();
    redactions(&env.sandbox)
        .bind(|| insta::assert_snapshot!("treasury_status_native", status_human.stdout));

    let recipient = dev_address(8).to_string();
    let before = cast(&["balance", &recipient, "--rpc-url", &env.node.url()]);
    let part = env
        .run_as(2, &["treasury", "withdraw-surplus", "1", "rbtc", "--to", &recipient, "--json"])
        .success()
        .json();
    assert_eq!(part["withdrawn"]["amount"], "1");
    assert_eq!(part["pool"]["surplus"]["amount"], "1.5");
    let after = cast(&["balance", &recipient, "--rpc-url", &env.node.url()]);
    assert_eq!(
        U256::from_str_radix(&after, 10).unwrap() - U256::from_str_radix(&before, 10).unwrap(),
        U256::from(10u64.pow(18))
    );

    let too_much = env.run_as(2, &["treasury", "withdraw-surplus", "2", "rbtc"]).failure();
    assert_eq!(
        too_much,
        format!(
            "the RBTC pool of {} has a surplus of 1.5 RBTC, less than the 2 RBTC asked: nothing was sent",
            dev_address(2)
        )
    );
    let all = env
        .run_as(2, &["treasury", "withdraw-surplus", "all", "native", "--json"])
        .success()
        .json();
    assert_eq!(all["withdrawn"]["amount"], "1.5");
    assert_eq!(all["pool"]["balance"]["units"], "0");
    let empty = env.run_as(2, &["treasury", "withdraw-surplus", "all", "rbtc"]).failure();
    assert!(empty.contains("has no surplus to withdraw"), "{empty}");
}

#[test]
fn a_pool_in_debt_and_another_employer_topping_it_up() {
    let env = Env::new();
    let w = dev_address(1).to_string();
    env.run_as(0, &["stream", "create", "--worker", &w, "--rate", "3600 tUSD/hour"]).success();
    env.advance(50);
    let json = status(&env, 0);
    let tusd = pool(&json, "tUSD");
    let debt: u64 = tusd["debt"]["amount"].as_str().unwrap().parse().unwrap();
    assert!((50..=90).contains(&debt), "{json}");
    assert_eq!(tusd["runsOutUnix"], json["pools"][0]["runsOutUnix"]);
    let human = env.run(&["treasury", "status", "--employer", &dev_address(0).to_string()]);
    assert!(
        human
            .success()
            .stdout
            .contains("runs out    already: the pool does not cover what its streams earned"),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("debt        "), "{}", human.stdout);

    // Anyone may deposit into an employer's pool (depositFor); the debt is paid first.
    let employer = dev_address(0).to_string();
    let topped = env
        .run_as(1, &["treasury", "deposit", "1000", "tUSD", "--for", &employer, "--yes", "--json"])
        .success()
        .json();
    assert_eq!(topped["employer"], employer);
    assert_eq!(topped["pool"]["debt"]["units"], "0");
    let surplus: f64 = topped["pool"]["surplus"]["amount"].as_str().unwrap().parse().unwrap();
    assert!((900.0..=950.0).contains(&surplus), "{topped}");
}

#[test]
fn a_deposit_made_with_cast_is_seen_by_status() {
    let env = Env::new();
    let zero = "0x0000000000000000000000000000000000000000";
    cast(&[
        "send",
        "--legacy",
        "--private-key",
        DEV_KEYS[3],
        "--rpc-url",
        &env.node.url(),
        &env.payroll,
        "deposit(address,uint256)",
        zero,
        "3000000000000000000",
        "--value",
        "3ether",
    ]);
    let json = status(&env, 3);
    let native = pool(&json, "RBTC");
    assert_eq!(native["balance"]["amount"], "3");
    assert_eq!(native["surplus"]["amount"], "3");
    assert!(native["streams"].as_array().unwrap().is_empty());
    // With the wallet instead of --employer.
    let mine = env.run_as(3, &["treasury", "status", "--json"]).success().json();
    assert_eq!(mine["employer"], json["employer"]);
    let only = env.run_as(3, &["treasury", "status", "--token", "tUSD", "--json"]).success().json();
    assert_eq!(only["pools"][0]["exists"], false);
}

#[test]
fn treasury_errors_send_nothing() {
    let env = Env::new();
    let nonce = env.nonce(4);
    // Dev account 4 holds no tUSD.
    let broke = env.run_as(4, &["treasury", "deposit", "10", "tUSD", "--yes"]).failure();
    assert_eq!(
        broke,
        format!("insufficient balance: {} holds 0 tUSD, this needs 10 tUSD", dev_address(4))
    );
    let native = env.run_as(4, &["treasury", "deposit", "20000", "rbtc"]).failure();
    assert!(native.starts_with("insufficient balance: "), "{native}");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["treasury", "deposit", "1.5.2", "tUSD"],
            "invalid amount \"1.5.2\": it has more than one decimal point",
        ),
        (
            vec!["treasury", "deposit", "1.0000001", "tUSD"],
            "\"1.0000001\" has more decimals than tUSD's 6",
        ),
        (
            vec!["treasury", "deposit", "-3", "rbtc"],
            "invalid amount \"-3\": amounts cannot be negative",
        ),
        (vec!["treasury", "deposit", "0", "rbtc"], "the amount must be more than 0 RBTC"),
        (vec!["treasury", "deposit", "1", "DOC"], "unknown token \"DOC\" on Local devnet"),
        (vec!["treasury", "deposit", "1", "0x12"], "invalid address \"0x12\""),
        (
            vec!["treasury", "deposit", "1", "rbtc", "--for", "0xnope"],
            "--for: invalid address \"0xnope\"",
        ),
        (vec!["treasury", "status", "--employer", "banana"], "--employer: invalid address"),
    ];
    for (args, expected) in cases {
        let error = env.run_as(4, &args).failure();
        assert!(error.contains(expected), "{args:?}: {error}");
    }
    // An unlisted token address needs --allow-unknown-token (and the requirements are shown).
    let other = deploy_token(&env.node.url(), "Other", "OTH", 8);
    mint(&env.node.url(), &other, dev_address(4), U256::from(10u64.pow(10)));
    let refused = env.run_as(4, &["treasury", "deposit", "1", &other, "--yes"]);
    assert!(refused.failure().contains("--allow-unknown-token"));
    assert!(refused.stderr.contains("no fee on transfer"), "{}", refused.stderr);
    assert_eq!(env.nonce(4), nonce);
    let allowed = env.run_as(
        4,
        &["treasury", "deposit", "1", &other, "--yes", "--allow-unknown-token", "--json"],
    );
    assert_eq!(allowed.success().json()["deposited"]["units"], "100000000");
    assert!(allowed.stderr.contains("warning: OTH"), "{}", allowed.stderr);
    // A dry run needs no key, only the sender.
    let dry = env
        .run(&[
            "treasury",
            "deposit",
            "5",
            "tUSD",
            "--dry-run",
            "--from",
            &dev_address(0).to_string(),
            "--json",
        ])
        .success()
        .json();
    let txs = dry["transactions"].as_array().unwrap();
    assert_eq!(txs.len(), 2, "approve, then deposit: {dry}");
    assert_eq!(txs[0]["call"]["function"], "approve");
    assert_eq!(txs[1]["call"]["function"], "deposit");
    assert_eq!(txs[1]["simulated"], false);
    let no_sender = env.run(&["treasury", "deposit", "5", "tUSD", "--dry-run"]).failure();
    assert!(no_sender.contains("--from"), "{no_sender}");
}

#[test]
fn a_wrong_keystore_password_sends_nothing() {
    let env = Env::new();
    env.sandbox.write("right.txt", "correct horse\n");
    env.sandbox.write("wrong.txt", "battery staple\n");
    env.sandbox
        .run(&[
            "wallet",
            "import",
            "boss",
            "--private-key",
            DEV_KEYS[6],
            "--password-file",
            "right.txt",
        ])
        .success();
    let nonce = env.nonce(6);
    let error = env
        .run(&[
            "treasury",
            "deposit",
            "1",
            "rbtc",
            "--account",
            "boss",
            "--password-file",
            "wrong.txt",
        ])
        .failure();
    assert!(error.contains("password"), "{error}");
    assert_eq!(env.nonce(6), nonce);
    let json = env
        .run(&[
            "treasury",
            "deposit",
            "1",
            "rbtc",
            "--account",
            "boss",
            "--password-file",
            "right.txt",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(json["from"], dev_address(6).to_string());
}
