//! `shiftpay-relayer check-config` and the annotated example config.

use std::{path::Path, process::Command};

use shiftpay_relayer::{
    config::{Config, Env, PaydayRule},
    store::StorageUrl,
};

use crate::common::{DEV_KEY, fake_deployment};

fn example() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("relayer.example.toml")
}

/// Runs the binary with a clean environment (HOME in `home`) plus `env`.
fn check_config(config: &Path, home: &Path, env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shiftpay-relayer"));
    cmd.args(["check-config", "--config"]).arg(config).env_clear().env("HOME", home);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn the_example_parses_with_its_annotated_values() {
    let password = [("SHIFTPAY_KEYSTORE_PASSWORD".to_owned(), "unused".to_owned())];
    let config = Config::load_with_env(&example(), &Env::from(password)).unwrap();
    assert_eq!(config.chain.chain_id(), 31);
    assert_eq!(config.confirmations, 12);
    assert_eq!(config.log_range, 2_000);
    assert_eq!(config.reorg_window, 64);
    assert_eq!(config.paydays.len(), 1);
    assert!(matches!(config.paydays[0].rule, PaydayRule::Weekly(_)));
    assert_eq!(config.paydays[0].to_string(), "FRI 17:00");
    assert!(matches!(&config.storage, StorageUrl::Sqlite(p) if p.ends_with("shiftpay-relayer.db")));
    assert_eq!(config.api.body_limit, 64 * 1024);
    assert_eq!(config.api.cors_origins, ["http://localhost:5173"]);
    assert_eq!(config.gas.bump_pct, 40);
    assert_eq!(config.gas.max_multiple, Some(80));
    assert_eq!(config.payout_threshold.get("tRIF").map(String::as_str), Some("500"));
    assert!(config.signer.description.contains("keystore account relayer"));
}

#[test]
fn check_config_lists_every_problem_of_the_example_as_is() {
    let home = tempfile::tempdir().unwrap();
    let (ok, stdout, stderr) = check_config(&example(), home.path(), &[]);
    assert!(!ok);
    assert!(stdout.is_empty(), "{stdout}");
    // No deployment file next to the example, no keystore in this HOME.
    assert!(stderr.contains("2 configuration problems"), "{stderr}");
    assert!(stderr.contains("deployment: no deployment file"), "{stderr}");
    assert!(stderr.contains("signer (keystore account relayer"), "{stderr}");
}

#[test]
fn check_config_reports_parse_errors_all_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relayer.toml");
    std::fs::write(
        &path,
        "chain = \"devnet\"\npoll_interval = \"often\"\n[api]\nlisten = \"nowhere\"\n",
    )
    .unwrap();
    let (ok, _, stderr) =
        check_config(&path, dir.path(), &[("SHIFTPAY_RELAYER_GAS_BUMP_PCT", "5")]);
    assert!(!ok);
    assert!(stderr.contains("4 configuration problems"), "{stderr}");
    for needle in [
        "poll_interval:",
        "api.listen:",
        "gas.bump_pct (from SHIFTPAY_RELAYER_GAS_BUMP_PCT): must be from 40",
        "signer: no signing key",
    ] {
        assert!(stderr.contains(needle), "{needle} not in {stderr}");
    }
}

#[test]
fn check_config_prints_the_resolved_config_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    fake_deployment(dir.path(), 33);
    let path = dir.path().join("relayer.toml");
    std::fs::write(
        &path,
        "chain = \"devnet\"\nstorage = \"sqlite://relayer.db\"\npaydays = [\"daily 9:30\"]\n",
    )
    .unwrap();
    let (ok, stdout, stderr) = check_config(
        &path,
        dir.path(),
        &[
            ("SHIFTPAY_PRIVATE_KEY", DEV_KEY),
            (
                "SHIFTPAY_RELAYER_RPC_URL",
                "https://user:secret@rpc.example.org/v1/0123456789abcdef0123",
            ),
        ],
    );
    assert!(ok, "{stderr}");
    let resolved: toml::Table = stdout.parse().unwrap();
    assert_eq!(resolved["chain"].as_str(), Some("devnet"));
    assert_eq!(resolved["chain_id"].as_integer(), Some(33));
    assert_eq!(resolved["confirmations"].as_integer(), Some(1));
    assert_eq!(resolved["poll_interval"].as_str(), Some("1s"));
    assert_eq!(resolved["paydays"].as_array().unwrap()[0].as_str(), Some("daily 09:30"));
    assert_eq!(resolved["api"]["listen"].as_str(), Some("127.0.0.1:8546"));
    assert_eq!(resolved["rpc_url"].as_str(), Some("https://user:***@rpc.example.org/v1/***"));
    assert_eq!(resolved["signer"].as_str(), Some("private key from SHIFTPAY_PRIVATE_KEY"));
    assert!(stdout.contains("# environment: SHIFTPAY_RELAYER_RPC_URL"), "{stdout}");
    assert!(
        stdout.contains("# signer address: 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
        "{stdout}"
    );
    assert!(!stdout.contains(&DEV_KEY[2..]) && !stdout.contains("secret"), "{stdout}");
}
