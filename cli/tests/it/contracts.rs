//! `shiftpay contracts`: end-to-end through the built binary (no node needed).

use std::process::Command;

fn shiftpay(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_shiftpay")).args(args).output().expect("shiftpay runs")
}

#[test]
fn lists_every_bundled_contract_as_json() {
    let output = shiftpay(&["contracts", "--json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let list: serde_json::Value = serde_json::from_slice(&output.stdout).expect("stdout is JSON");
    let names: Vec<_> =
        list.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["MilestoneEscrow", "Payroll"]);
    for contract in list.as_array().unwrap() {
        assert_eq!(contract["evmVersion"], "shanghai");
        assert_eq!(contract["optimizerRuns"], 1000);
        assert!(contract["compilerVersion"].as_str().unwrap().starts_with("0.8.30+"));
        let runtime = contract["runtimeSize"].as_u64().unwrap();
        assert!(runtime > 0 && runtime <= 24_576, "EIP-170 limit: {runtime}");
    }
}

#[test]
fn shows_one_contract_for_humans() {
    let output = shiftpay(&["contracts", "payroll"]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.starts_with("Payroll\n"), "{text}");
    assert!(text.contains("runtime code hash 0x"), "{text}");
    assert!(!text.contains("MilestoneEscrow"), "{text}");
}

#[test]
fn unknown_contract_is_a_clear_error_with_nothing_on_stdout() {
    let output = shiftpay(&["contracts", "Nope"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr.trim(),
        r#"error: no contract named "Nope" (known: MilestoneEscrow, Payroll)"#
    );
}
