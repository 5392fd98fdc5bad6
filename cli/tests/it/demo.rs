//! `shiftpay demo` end to end, as `make demo` runs it: against a devnet that the demo starts
//! itself on a free port in a sandbox, twice in a row on the same chain and once more after
//! `shiftpay devnet reset`, each run's `--json` table checked (every party's change adds up,
//! recomputed here, and a balance read back from the chain), then `shiftpay devnet down` and
//! the recorded anvil process gone.

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
};
use serde_json::Value;
use shiftpay_bindings::{
    deployment::Deployment, devnet::DevnetStablecoin, rpc::connect_http, units::parse_amount,
};

use crate::common::Sandbox;
use crate::devnet::{DevnetGuard, process_gone};

/// Token units of a signed decimal string of the table (`+1800`, `-0.5`, `700.000578`).
fn units(text: &str, decimals: u8) -> (bool, U256) {
    let negative = text.starts_with('-');
    let digits = text.trim_start_matches(['+', '-']);
    (negative, parse_amount(digits, decimals).unwrap_or_else(|e| panic!("{text}: {e}")))
}

/// The token's report in the demo's JSON.
fn token<'a>(report: &'a Value, symbol: &str) -> &'a Value {
    report["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["symbol"] == symbol)
        .unwrap_or_else(|| panic!("no {symbol} in {report:#}"))
}

/// The row of `party` in a token's report.
fn party<'a>(token: &'a Value, party: &str) -> &'a Value {
    token["parties"].as_array().unwrap().iter().find(|p| p["party"] == party).unwrap()
}

/// Recomputes the check from the rows: the payers' decreases equal the payees' increases plus
/// what the contracts hold.
fn assert_adds_up(report: &Value, symbol: &str) {
    let token = token(report, symbol);
    let decimals = u8::try_from(token["decimals"].as_u64().unwrap()).unwrap();
    let (mut down, mut up) = (U256::ZERO, U256::ZERO);
    for row in token["parties"].as_array().unwrap() {
        match units(row["change"].as_str().unwrap(), decimals) {
            (true, amount) => down += amount,
            (false, amount) => up += amount,
        }
    }
    let held = |key: &str| units(token[key].as_str().unwrap(), decimals).1;
    assert_eq!(down, units(token["deposited"].as_str().unwrap(), decimals).1, "{token:#}");
    assert_eq!(down, up + held("heldInPayroll") + held("heldInEscrow"), "{token:#}");
    assert_eq!(token["balanced"], true, "{token:#}");
    assert!(!down.is_zero(), "{symbol}: nothing was deposited: {token:#}");
}

/// Checks one run's report; returns this run's freelancer address.
async fn check_run(sandbox: &Sandbox, report: &Value, run: u64) -> Address {
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["run"], run, "{report:#}");
    assert_eq!(report["chainId"], 33);
    assert_adds_up(report, "tUSD");
    assert_adds_up(report, "RBTC");

    let tusd = token(report, "tUSD");
    // The job: 600 approved + 900 released + 60% of 500 settled; the client gets 200 back.
    assert_eq!(party(tusd, "freelancer")["change"], "+1800", "{tusd:#}");
    assert_eq!(party(tusd, "client")["change"], "-1800", "{tusd:#}");
    assert_eq!(party(tusd, "arbiter")["change"], "+0", "{tusd:#}");
    // Both deposits (4000 + 3000) left the treasury; the job's 2000 are paid out in full.
    assert_eq!(party(tusd, "DAO treasury")["change"], "-7000", "{tusd:#}");
    assert_eq!(tusd["heldInEscrow"], "0", "{tusd:#}");
    for worker in ["alice", "bob", "carol"] {
        assert!(party(tusd, worker)["change"].as_str().unwrap().starts_with('+'), "{tusd:#}");
        assert_ne!(party(tusd, worker)["change"], "+0", "{worker} was paid: {tusd:#}");
    }
    // Workers never hold rBTC for gas: the relayer paid the payday and the withdrawal.
    let rbtc = token(report, "RBTC");
    assert_eq!(party(rbtc, "alice")["after"], "0", "{rbtc:#}");
    assert_ne!(party(rbtc, "dave")["change"], "+0", "dave is paid in rBTC: {rbtc:#}");

    // The table's figure is what the chain says.
    let freelancer: Address =
        party(tusd, "freelancer")["address"].as_str().unwrap().parse().unwrap();
    let deployment =
        Deployment::load_for_chain(&Deployment::default_path(sandbox.work(), 33), 33).unwrap();
    let url = format!(
        "http://127.0.0.1:{}",
        serde_json::from_str::<Value>(&sandbox.read(".devnet/devnet.json")).unwrap()["port"]
    );
    let provider = connect_http(&url).unwrap();
    let stablecoin = deployment.tokens.iter().find(|t| t.symbol == "tUSD").unwrap().address;
    let balance =
        DevnetStablecoin::new(stablecoin, &provider).balanceOf(freelancer).call().await.unwrap();
    assert_eq!(balance, U256::from(1_800_000_000u64));
    assert!(provider.get_block_number().await.unwrap() > 0);
    freelancer
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_runs_twice_and_after_a_reset_and_its_balances_add_up() {
    let sandbox = Sandbox::new();
    let _guard = DevnetGuard::new(&sandbox);
    // `--port 0`: anvil picks a free port, recorded in .devnet/devnet.json (read back below).
    let port = "0";

    let first = sandbox.run(&["demo", "--port", port, "--json"]);
    first.success();
    assert!(first.stderr.contains("devnet: started anvil"), "{}", first.stderr);
    assert!(first.stderr.contains("payday: the relayer pays"), "{}", first.stderr);
    let freelancer_1 = check_run(&sandbox, &first.json(), 0).await;

    // Again on the same chain: a new job and new streams, a table of this run only.
    let second = sandbox.run(&["demo", "--port", port, "--json"]);
    second.success();
    assert!(second.stderr.contains("devnet: already up"), "{}", second.stderr);
    let freelancer_2 = check_run(&sandbox, &second.json(), 1).await;
    assert_ne!(freelancer_1, freelancer_2, "each run has its own parties");

    // After `devnet reset` (a new chain, a new deployment): the demo runs again from run 0.
    sandbox.run(&["devnet", "reset", "--port", port]).success();
    let third = sandbox.run(&["demo", "--port", port, "--json"]);
    third.success();
    assert!(third.stderr.contains("devnet: already up"), "{}", third.stderr);
    assert_eq!(check_run(&sandbox, &third.json(), 0).await, freelancer_1, "run 0's parties again");

    let record: Value = serde_json::from_str(&sandbox.read(".devnet/devnet.json")).unwrap();
    let pid = u32::try_from(record["pid"].as_u64().unwrap()).unwrap();
    assert!(!process_gone(pid));
    sandbox.run(&["devnet", "down"]).success();
    assert!(process_gone(pid), "anvil {pid} still runs after `devnet down`");
    assert!(!sandbox.path(".devnet/devnet.json").exists());
    assert!(sandbox.path(".devnet/state.json").exists(), "the state is dumped on the way out");
}
