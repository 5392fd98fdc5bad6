//! `shiftpay deploy` and `deploy --check` against anvil, and what `cast` sees of the result.

use std::time::Duration;

use serde_json::Value;

use crate::common::{
    AnvilOptions, KEY0, Sandbox, anvil, anvil_with, block_number, cast, code_at, dev_address,
    mine_in_background, redactions, rpc,
};

fn deploy(sandbox: &Sandbox, url: &str, extra: &[&str]) -> crate::common::Run {
    let mut args = vec!["deploy", "--rpc-url", url, "--private-key", KEY0];
    args.extend_from_slice(extra);
    sandbox.run(&args)
}

#[test]
fn deploys_both_contracts_writes_the_file_and_cast_can_use_them() {
    let node = anvil();
    let sandbox = Sandbox::new();
    let run = deploy(&sandbox, &node.url(), &["--json"]);
    run.success();
    let json = run.json();
    assert_eq!(json["path"], "deployments/33.json");
    assert_eq!(json["chainId"], 33);
    assert_eq!(json["version"], 1);
    assert_eq!(json["deployer"].as_str().unwrap(), dev_address(0).to_string().to_lowercase());
    assert!(json["compiler"]["version"].as_str().unwrap().starts_with("0.8.30"));
    assert_eq!(json["compiler"]["settings"]["evmVersion"], "shanghai");

    // The file is what --json printed, minus the path.
    let mut file: Value = serde_json::from_str(&sandbox.read("deployments/33.json")).unwrap();
    file["path"] = json["path"].clone();
    assert_eq!(file, json);

    let payroll = json["payroll"]["address"].as_str().unwrap();
    let escrow = json["escrow"]["address"].as_str().unwrap();
    assert_ne!(payroll, escrow);
    for contract in ["payroll", "escrow"] {
        let address = json[contract]["address"].as_str().unwrap();
        assert!(code_at(&node.url(), address).len() > 1_000, "{contract} has code");
        let receipt = rpc(
            &node.url(),
            "eth_getTransactionReceipt",
            serde_json::json!([json[contract]["txHash"]]),
        );
        assert_eq!(
            receipt["contractAddress"].as_str().unwrap().to_lowercase(),
            address.to_lowercase()
        );
        assert_eq!(
            u64::from_str_radix(
                receipt["blockNumber"].as_str().unwrap().trim_start_matches("0x"),
                16
            )
            .unwrap(),
            json[contract]["blockNumber"].as_u64().unwrap()
        );
    }
    let contracts_json = sandbox.run(&["contracts", "--json"]).json();
    let payroll_hash = contracts_json
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Payroll")
        .unwrap()["runtimeCodeHash"]
        .clone();
    assert_eq!(json["payroll"]["artifactHash"], payroll_hash);

    // An independent client reads the deployed contracts at the recorded addresses.
    assert_eq!(cast(&["call", payroll, "nextStreamId()(uint256)", "--rpc-url", &node.url()]), "1");
    assert_eq!(
        cast(&[
            "call",
            escrow,
            "eip712Domain()(bytes1,string,string,uint256,address,bytes32,uint256[])",
            "--rpc-url",
            &node.url()
        ])
        .lines()
        .nth(1)
        .unwrap(),
        "\"ShiftPay MilestoneEscrow\""
    );
}

#[test]
fn human_output_and_a_devnet_redeploy_that_needs_no_force() {
    let node = anvil();
    let sandbox = Sandbox::new();
    let first = deploy(&sandbox, &node.url(), &[]);
    first.success();
    let second = deploy(&sandbox, &node.url(), &[]);
    second.success();
    assert!(
        second.stderr.contains(
            "replacing the devnet deployment in deployments/33.json (not a live chain: no --force needed)"
        ),
        "{}",
        second.stderr
    );
    redactions(&sandbox).bind(|| {
        insta::assert_snapshot!("deploy_human_stdout", first.stdout);
        insta::assert_snapshot!("deploy_human_stderr", first.stderr);
        insta::assert_snapshot!("deploy_redeploy_stderr", second.stderr);
    });
    // The second deployment replaced the first.
    let file: Value = serde_json::from_str(&sandbox.read("deployments/33.json")).unwrap();
    let payroll = file["payroll"]["address"].as_str().unwrap();
    assert!(second.stdout.to_lowercase().contains(payroll), "{payroll} in\n{}", second.stdout);
}

#[test]
fn check_passes_then_catches_a_file_pointing_at_the_wrong_contract() {
    let node = anvil();
    let sandbox = Sandbox::new();
    deploy(&sandbox, &node.url(), &[]).success();

    let ok = sandbox.run(&["deploy", "--check", "--rpc-url", &node.url()]);
    ok.success();
    redactions(&sandbox).bind(|| insta::assert_snapshot!("deploy_check_ok", ok.stdout));
    let json =
        sandbox.run(&["deploy", "--check", "--rpc-url", &node.url(), "--json"]).success().json();
    assert_eq!(json["ok"], true);
    assert_eq!(json["chainId"], 33);
    for row in json["contracts"].as_array().unwrap() {
        assert_eq!(row["check"]["status"], "match", "{row}");
        assert_eq!(row["check"]["immutables"], 7, "OpenZeppelin EIP712's immutables: {row}");
        assert_eq!(row["sameArtifactAsFile"], true);
    }

    // Point Payroll at the escrow: same compiler, other contract.
    let mut file: Value = serde_json::from_str(&sandbox.read("deployments/33.json")).unwrap();
    file["payroll"]["address"] = file["escrow"]["address"].clone();
    sandbox.write("deployments/33.json", &serde_json::to_string_pretty(&file).unwrap());
    let bad = sandbox.run(&["deploy", "--check", "--rpc-url", &node.url(), "--json"]);
    assert_eq!(bad.code, Some(1), "{}", bad.stderr);
    let report: Value = serde_json::from_str(&bad.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["contracts"][0]["ok"], false);
    assert_eq!(report["contracts"][0]["check"]["status"], "lengthDiffers");
    assert_eq!(report["contracts"][1]["ok"], true);
    assert!(bad.stderr.contains("error: the code of Payroll at "), "{}", bad.stderr);

    // An address without code.
    file["payroll"]["address"] = Value::String("0x000000000000000000000000000000000000dEaD".into());
    sandbox.write("deployments/33.json", &serde_json::to_string_pretty(&file).unwrap());
    let none = sandbox.run(&["deploy", "--check", "--rpc-url", &node.url()]);
    assert_eq!(none.code, Some(1));
    assert!(none.stdout.contains("MISMATCH no code at this address"), "{}", none.stdout);
}

#[test]
fn check_catches_the_same_code_deployed_for_another_chain() {
    // Copy Payroll's runtime code (immutables of chain 33 at its address) to another address:
    // byte for byte the artifact, but the cached address is not the new one.
    let node = anvil();
    let sandbox = Sandbox::new();
    let json = deploy(&sandbox, &node.url(), &["--json"]).success().json();
    let code = code_at(&node.url(), json["payroll"]["address"].as_str().unwrap());
    let copy = "0x00000000000000000000000000000000c0ffee00";
    rpc(&node.url(), "anvil_setCode", serde_json::json!([copy, code]));
    let mut file = json.clone();
    file.as_object_mut().unwrap().remove("path");
    file["payroll"]["address"] = Value::String(copy.into());
    sandbox.write("deployments/33.json", &serde_json::to_string_pretty(&file).unwrap());
    let run = sandbox.run(&["deploy", "--check", "--rpc-url", &node.url(), "--json"]);
    assert_eq!(run.code, Some(1));
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["contracts"][0]["check"]["status"], "unexpectedImmutable", "{report}");
}

#[test]
fn refuses_to_overwrite_a_live_chain_deployment_without_force() {
    // Chain id 31 stands in for Rootstock testnet: legacy transactions, 12 confirmations.
    let node = anvil_with(AnvilOptions::default().chain_id(31));
    let sandbox = Sandbox::new();
    let first = {
        let _miner = mine_in_background(&node.url(), Duration::from_millis(50));
        deploy(&sandbox, &node.url(), &["--json"])
    };
    first.success();
    assert!(first.stderr.contains("using rootstock-testnet (chain 31)"), "{}", first.stderr);
    assert!(first.stderr.contains("(12 confirmations"), "{}", first.stderr);
    assert!(
        first.stderr.contains("https://explorer.testnet.rootstock.io/tx/0x"),
        "{}",
        first.stderr
    );
    let json = first.json();
    let tx = rpc(
        &node.url(),
        "eth_getTransactionByHash",
        serde_json::json!([json["payroll"]["txHash"]]),
    );
    assert_eq!(tx["type"], "0x0", "legacy transaction on Rootstock: {tx}");
    // Addresses printed with Rootstock testnet's EIP-1191 checksum.
    let payroll: alloy::primitives::Address =
        json["payroll"]["address"].as_str().unwrap().parse().unwrap();
    assert!(first.stderr.contains(&dev_address(0).to_checksum(Some(31))), "{}", first.stderr);
    let _ = payroll;

    let before = sandbox.read("deployments/31.json");
    let refused = deploy(&sandbox, &node.url(), &["--confirmations", "1"]);
    let message = refused.failure();
    assert!(
        message.starts_with("deployments/31.json already holds a deployment on ")
            && message.ends_with(": pass --force to deploy again and overwrite it"),
        "{message}"
    );
    assert_eq!(sandbox.read("deployments/31.json"), before, "the file is untouched");

    let forced = deploy(&sandbox, &node.url(), &["--confirmations", "1", "--force", "--json"]);
    forced.success();
    assert!(
        forced.stderr.contains("--force: deployments/31.json will be overwritten"),
        "{}",
        forced.stderr
    );
    assert_ne!(forced.json()["payroll"]["address"], json["payroll"]["address"]);
}

#[test]
fn a_deployment_file_for_another_chain_is_rejected() {
    let node = anvil();
    let sandbox = Sandbox::new();
    deploy(&sandbox, &node.url(), &[]).success();
    let mut file: Value = serde_json::from_str(&sandbox.read("deployments/33.json")).unwrap();
    file["chainId"] = 31.into();
    sandbox.write("other.json", &serde_json::to_string_pretty(&file).unwrap());

    let check =
        sandbox.run(&["deploy", "--check", "--rpc-url", &node.url(), "--deployment", "other.json"]);
    let message = check.failure();
    assert!(message.ends_with("other.json is for chain 31, but the node is on chain 33: pass the deployment file of chain 33"), "{message}");
    let redeploy = deploy(&sandbox, &node.url(), &["--deployment", "other.json"]);
    assert!(redeploy.failure().contains("is for chain 31, but the node is on chain 33"));
}

#[test]
fn dry_run_simulates_without_a_key_and_sends_nothing() {
    let node = anvil();
    let sandbox = Sandbox::new();
    let block = block_number(&node.url());
    let from = dev_address(0).to_string();
    let run = sandbox.run(&["deploy", "--dry-run", "--rpc-url", &node.url(), "--from", &from]);
    run.success();
    redactions(&sandbox).bind(|| insta::assert_snapshot!("deploy_dry_run", run.stdout));
    assert!(run.stderr.contains("dry run: nothing was sent"), "{}", run.stderr);
    let json =
        sandbox.run(&["deploy", "--dry-run", "--rpc-url", &node.url(), "--json"]).success().json();
    assert_eq!(json["dryRun"], true);
    let txs = json["transactions"].as_array().unwrap();
    assert_eq!(txs.len(), 2);
    assert_eq!(txs[0]["what"], "deploy Payroll");
    assert_eq!(txs[0]["function"], "constructor");
    assert_eq!(txs[0]["to"], Value::Null);
    assert_eq!(txs[0]["simulated"], true);

    assert_eq!(block_number(&node.url()), block, "no block mined");
    let nonce = rpc(&node.url(), "eth_getTransactionCount", serde_json::json!([from, "latest"]));
    assert_eq!(nonce, "0x0");
    assert!(!sandbox.path("deployments").exists(), "no file written");
}

#[test]
fn an_unreachable_node_is_one_sentence_and_exit_1() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["deploy", "--rpc-url", "http://127.0.0.1:1", "--private-key", KEY0]);
    let message = run.failure();
    assert!(message.starts_with("cannot reach the node at http://127.0.0.1:1: "), "{message}");
    assert!(!message.contains('\n'));
}

#[test]
fn chain_selection_errors_and_the_config_file() {
    let node = anvil();
    let mut sandbox = Sandbox::new();
    // Nothing selected: the local devnet (`shiftpay devnet up`), said on stderr. None is
    // recorded in this sandbox, so it is the preset's 127.0.0.1:8545: unreachable, or a
    // devnet of someone else's without this sandbox's deployment file; an error either way.
    let none = sandbox.run(&["deploy", "--check"]);
    none.failure();
    assert!(
        none.stderr
            .contains("no --chain or --rpc-url: using the local devnet at http://127.0.0.1:8545"),
        "{}",
        none.stderr
    );
    // --chain that is not the node's chain.
    let wrong =
        sandbox.run(&["deploy", "--check", "--chain", "rootstock", "--rpc-url", &node.url()]);
    let message = wrong.failure();
    assert!(message.contains("is on chain 33, not rootstock (30)"), "{message}");
    // A malformed config names its path and line.
    sandbox.write("shiftpay.toml", "chain = \"devnet\"\nrpc_url = nope\n");
    let bad = sandbox.run(&["deploy", "--check"]);
    let message = bad.failure();
    assert!(message.starts_with("invalid config file "), "{message}");
    assert!(message.contains("shiftpay.toml, line 2, column 11: "), "{message}");
    // A valid one supplies the RPC URL; the environment beats it.
    sandbox.write("shiftpay.toml", &format!("rpc_url = \"{}\"\n", node.url()));
    deploy(&sandbox, &node.url(), &[]).success();
    sandbox.run(&["deploy", "--check"]).success();
    sandbox.env("SHIFTPAY_RPC_URL", "http://127.0.0.1:1");
    assert!(
        sandbox
            .run(&["deploy", "--check"])
            .failure()
            .starts_with("cannot reach the node at http://127.0.0.1:1")
    );
}

#[test]
fn an_unknown_chain_works_with_rpc_url_alone_and_counts_as_live() {
    let node = anvil_with(AnvilOptions::default().chain_id(1337));
    let sandbox = Sandbox::new();
    let run = deploy(&sandbox, &node.url(), &["--json"]);
    run.success();
    assert!(
        run.stderr.contains("using chain 1337 (no preset: eip1559 transactions, 1 confirmation"),
        "anvil answers eth_feeHistory, so EIP-1559: {}",
        run.stderr
    );
    let json = run.json();
    assert_eq!(json["path"], "deployments/1337.json");
    let tx =
        rpc(&node.url(), "eth_getTransactionByHash", serde_json::json!([json["escrow"]["txHash"]]));
    assert_eq!(tx["type"], "0x2", "{tx}");
    // Without a preset, the chain may hold real value: overwriting needs --force.
    assert!(
        deploy(&sandbox, &node.url(), &[])
            .failure()
            .ends_with("pass --force to deploy again and overwrite it")
    );
    sandbox.run(&["deploy", "--check", "--rpc-url", &node.url()]).success();
}
