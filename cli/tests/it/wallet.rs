//! `shiftpay wallet`: keystores shared with `cast wallet` both ways, wrong passwords, listing,
//! addresses from every wallet option, and secrets never printed.

use std::process::{Command, Stdio};

use crate::common::{KEY0, Sandbox, dev_address};

const PASSWORD: &str = "correct horse";

/// `cast ARGS` with this sandbox's HOME (so `~/.foundry/keystores` is the sandbox's).
fn cast_in(sandbox: &Sandbox, args: &[&str]) -> String {
    let modules = shiftpay_tests::anvil::workspace_root().join("node_modules");
    let native = modules.join("@foundry-rs/cast-linux-amd64/bin/cast");
    let binary = if native.is_file() { native } else { modules.join(".bin/cast") };
    let output = Command::new(&binary)
        .args(args)
        .env("HOME", sandbox.home())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("cast runs");
    assert!(output.status.success(), "cast {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn checksummed(index: usize) -> String {
    dev_address(index).to_checksum(None)
}

#[test]
fn import_then_cast_uses_the_account() {
    let mut sandbox = Sandbox::new();
    sandbox.env("SHIFTPAY_KEYSTORE_PASSWORD", PASSWORD);
    let run = sandbox.run(&["wallet", "import", "ops", "--private-key", KEY0]);
    run.success();
    assert_eq!(run.stdout.trim(), checksummed(0));
    assert!(!run.stdout.contains(&KEY0[2..]) && !run.stderr.contains(&KEY0[2..]), "key printed");
    assert!(sandbox.home().join(".foundry/keystores/ops").is_file());

    let shown =
        cast_in(&sandbox, &["wallet", "address", "--account", "ops", "--password", PASSWORD]);
    assert_eq!(shown, checksummed(0));

    // Importing the same name again is refused, nothing overwritten.
    let error = sandbox.run(&["wallet", "import", "ops", "--private-key", KEY0]).failure();
    assert!(error.starts_with("a keystore already exists at "), "{error}");
}

#[test]
fn cast_keystore_works_with_account() {
    let sandbox = Sandbox::new();
    cast_in(
        &sandbox,
        &[
            "wallet",
            "import",
            "castacct",
            "--private-key",
            crate::common::DEV_KEYS[1],
            "--unsafe-password",
            PASSWORD,
        ],
    );
    let password_file = sandbox.path("pw.txt");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let run = sandbox.run(&[
        "wallet",
        "address",
        "--account",
        "castacct",
        "--password-file",
        password_file.to_str().unwrap(),
    ]);
    run.success();
    assert_eq!(run.stdout.trim(), checksummed(1));

    std::fs::write(&password_file, "wrong\n").unwrap();
    let error = sandbox
        .run(&[
            "wallet",
            "address",
            "--account",
            "castacct",
            "--password-file",
            password_file.to_str().unwrap(),
        ])
        .failure();
    assert_eq!(error, "wrong password for keystore castacct");
}

#[test]
fn new_list_and_address() {
    let mut sandbox = Sandbox::new();
    sandbox.env("SHIFTPAY_KEYSTORE_PASSWORD", PASSWORD);
    let created = sandbox.run(&["--json", "wallet", "new", "fresh"]);
    created.success();
    let json = created.json();
    assert_eq!(json["name"], "fresh");
    let address = json["address"].as_str().unwrap().to_owned();

    // cast sees it and decrypts it to the same address.
    assert!(cast_in(&sandbox, &["wallet", "list"]).contains("fresh"));
    let shown =
        cast_in(&sandbox, &["wallet", "address", "--account", "fresh", "--password", PASSWORD]);
    assert_eq!(shown.to_lowercase(), address.to_lowercase());

    // Ours state their address, so listing needs no password.
    let listed = sandbox.run(&["--json", "wallet", "list"]);
    listed.success();
    let rows = listed.json();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["name"], "fresh");
    assert_eq!(rows[0]["address"].as_str().unwrap().to_lowercase(), address.to_lowercase());
    let human = sandbox.run(&["wallet", "list"]);
    human.success();
    assert!(human.stdout.starts_with("fresh  0x"), "{}", human.stdout);

    // `address` from the other wallet options.
    let by_key = sandbox.run(&["wallet", "address", "--private-key", KEY0]);
    assert_eq!(by_key.success().stdout.trim(), checksummed(0));
    let phrase = shiftpay_tests::anvil::DEV_MNEMONIC;
    let by_mnemonic =
        sandbox.run(&["wallet", "address", "--mnemonic", phrase, "--mnemonic-index", "2"]);
    assert_eq!(by_mnemonic.success().stdout.trim(), checksummed(2));
    let by_account = sandbox.run(&["wallet", "address", "--account", "fresh"]);
    assert_eq!(by_account.success().stdout.trim().to_lowercase(), address.to_lowercase());
}

#[test]
fn errors_are_one_sentence() {
    let sandbox = Sandbox::new();
    // No terminal and no password source: refused before anything is written.
    let error = sandbox.run(&["wallet", "new", "nopw"]).failure();
    assert!(error.starts_with("no terminal to ask for a password"), "{error}");
    assert!(!sandbox.home().join(".foundry/keystores/nopw").exists());

    let error = sandbox.run(&["wallet", "address"]).failure();
    assert!(error.starts_with("no wallet given"), "{error}");

    let error = sandbox.run(&["wallet", "address", "--private-key", "0x1234"]).failure();
    assert!(error.starts_with("the private key is not a valid"), "{error}");

    let error = sandbox.run(&["wallet", "address", "--account", "missing"]).failure();
    assert!(error.starts_with("no keystore at "), "{error}");

    let error = sandbox.run(&["wallet", "import", "../escape", "--private-key", KEY0]).failure();
    assert!(error.contains("must be a plain file name"), "{error}");
}
