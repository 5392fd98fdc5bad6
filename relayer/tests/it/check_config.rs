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
    assert_eq!(config.api.ready_max_lag, 50);
    assert!(config.release.enabled);
    assert!(config.finalize_cancel.enabled);
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
    let (ok, _, stderr) = check_config(
        &path,
        dir.path(),
        &[
            ("SHIFTPAY_RELAYER_GAS_BUMP_PCT", "5"),
            ("SHIFTPAY_RELAYER_API_READY_MAX_LAG", "0"),
            ("SHIFTPAY_RELAYER_FINALIZE_CANCEL_ENABLED", "maybe"),
        ],
    );
    assert!(!ok);
    assert!(stderr.contains("6 configuration problems"), "{stderr}");
    for needle in [
        "poll_interval:",
        "api.listen:",
        "gas.bump_pct (from SHIFTPAY_RELAYER_GAS_BUMP_PCT): must be from 40",
        // 0 would flap between two polls of the watcher.
        "api.ready_max_lag (from SHIFTPAY_RELAYER_API_READY_MAX_LAG): must be from 1 to 1000000, found 0",
        "finalize_cancel.enabled (from SHIFTPAY_RELAYER_FINALIZE_CANCEL_ENABLED): expected true or false",
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
        "chain = \"devnet\"\nstorage = \"sqlite://relayer.db\"\npaydays = [\"daily 9:30\"]\n\
         [finalize_cancel]\nenabled = false\n[api]\nready_max_lag = 20\n",
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
            // The environment wins over the file.
            ("SHIFTPAY_RELAYER_API_READY_MAX_LAG", "120"),
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
    assert_eq!(resolved["api"]["ready_max_lag"].as_integer(), Some(120));
    assert_eq!(resolved["finalize_cancel"]["enabled"].as_bool(), Some(false));
    assert_eq!(resolved["release"]["enabled"].as_bool(), Some(true));
    // shiftpay_bindings::rpc::redact_url: the host only, never the user or the key.
    assert_eq!(resolved["rpc_url"].as_str(), Some("https://rpc.example.org/…"));
    assert_eq!(resolved["signer"].as_str(), Some("private key from SHIFTPAY_PRIVATE_KEY"));
    assert!(
        stdout.contains(
            "# environment: SHIFTPAY_RELAYER_API_READY_MAX_LAG, SHIFTPAY_RELAYER_RPC_URL"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("# signer address: 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
        "{stdout}"
    );
    assert!(!stdout.contains(&DEV_KEY[2..]) && !stdout.contains("secret"), "{stdout}");
    assert!(!stdout.contains("user") && !stdout.contains("0123456789abcdef"), "{stdout}");
}
