//! `shiftpay sign withdraw|approve|settle`, `shiftpay verify FILE` and `shiftpay submit FILE`
//! against anvil behind the Rootstock-shaped proxy, with independent clients: `cast wallet sign`
//! makes the same signature from the file's typed data, and `cast send` submits a `shiftpay sign
//! withdraw` signature to the Payroll contract.

use alloy::{
    primitives::{Address, U256},
    sol_types::{SolCall, SolConstructor},
};
use serde_json::{Value, json};
use shiftpay_bindings::escrow::{JobParams, MilestoneEscrow};

use crate::{
    common::{DEV_KEYS, Run, cast, dev_address},
    job::{
        CLIENT, OUTSIDER, WORKER, active_native_job, balance, escrow, event_text, events,
        job_redactions, receipt_of, send_as, state,
    },
    stream::Env,
};

alloy::sol!(
    #[allow(missing_docs)]
    EscrowWalletMock,
    "../tests/artifacts/EscrowWalletMock.json"
);

/// Reads a signature file of the sandbox.
fn file(env: &Env, name: &str) -> Value {
    serde_json::from_str(&env.sandbox.read(name)).unwrap()
}

/// Asserts exit 1 with the report on stdout and one `error:` line; returns that line.
#[track_caller]
fn invalid(run: &Run) -> String {
    assert_eq!(run.code, Some(1), "verify should fail:\n{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("NOT VALID") || run.stdout.trim_start().starts_with('{'),
        "{}",
        run.stdout
    );
    let line = run.stderr.lines().find(|l| l.starts_with("error: ")).expect("an error line");
    line.trim_start_matches("error: ").to_owned()
}

#[test]
fn an_approval_signed_then_verified_then_submitted_by_anyone() {
    let env = Env::new();
    let id = active_native_job(&env, &[]);
    env.run_as(WORKER, &["job", "submit", "1", "0", "--deliverable", "https://example.com/0"])
        .success();

    let signed = env.run_as(
        CLIENT,
        &["sign", "approve", "1", "0", "--deadline", "2d", "--out", "approve.json"],
    );
    signed.success();
    assert_eq!(signed.stdout, "wrote approve.json: send it with `shiftpay submit approve.json`\n");
    assert!(signed.stderr.contains("(nonce 0), valid until "), "{}", signed.stderr);
    let doc = file(&env, "approve.json");
    assert_eq!(doc["format"], "shiftpay-signature");
    assert_eq!(doc["action"], "approve");
    assert_eq!(doc["chainId"], 33);
    assert_eq!(doc["contract"].as_str().unwrap(), escrow(&env));
    assert_eq!(doc["signer"].as_str().unwrap(), dev_address(CLIENT).to_string());
    assert_eq!(doc["role"], "client");
    assert_eq!(doc["typedData"]["primaryType"], "Approval");
    assert_eq!(doc["typedData"]["domain"]["name"], "ShiftPay MilestoneEscrow");
    assert_eq!(doc["typedData"]["message"]["nonce"], "0");
    assert_eq!(
        doc["description"],
        format!("approve milestone 0 of job 1: 0.5 RBTC to the worker {}", dev_address(WORKER))
    );
    // The keys read top-down: what, where, who, then the typed data in eth_signTypedData order.
    let text = env.sandbox.read("approve.json");
    let position = |key: &str| text.find(&format!("\"{key}\"")).unwrap();
    assert!(position("format") < position("action") && position("contract") < position("signer"));
    assert!(
        position("types") < position("primaryType") && position("domain") < position("message")
    );

    // The digest is the contract's: cast reads approvalDigest for the same values.
    let message = &doc["typedData"]["message"];
    let digest = cast(&[
        "call",
        &escrow(&env),
        "approvalDigest(uint256,uint256,uint256,uint256)(bytes32)",
        "1",
        "0",
        "0",
        message["deadline"].as_str().unwrap(),
        "--rpc-url",
        &env.node.url(),
    ]);
    assert_eq!(doc["digest"].as_str().unwrap(), digest);
    // An independent EIP-712 signer makes the same signature from the typed data.
    env.sandbox.write("typed.json", &doc["typedData"].to_string());
    let by_cast = cast(&[
        "wallet",
        "sign",
        "--data",
        "--from-file",
        &env.sandbox.path("typed.json").display().to_string(),
        "--private-key",
        DEV_KEYS[CLIENT],
    ]);
    assert_eq!(doc["signature"].as_str().unwrap(), by_cast);

    let verified = env.run(&["verify", "approve.json"]);
    verified.success();
    assert!(
        verified.stdout.contains("valid: anyone can submit it with `shiftpay submit approve.json`"),
        "{}",
        verified.stdout
    );
    let report = env.run(&["verify", "approve.json", "--json"]).success().json();
    assert_eq!(report["valid"], true);
    let checks: Vec<&str> = report["signatures"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(
        checks,
        ["typed data", "chain", "contract", "signature", "role", "nonce", "deadline"]
    );
    assert!(
        report["signatures"][0]["checks"].as_array().unwrap().iter().all(|c| c["ok"] == true),
        "{report}"
    );
    assert_eq!(report["call"]["ok"], true);

    let worker_before = balance(&env, dev_address(WORKER));
    let submitted = env.run_as(OUTSIDER, &["submit", "approve.json", "--json"]).success().json();
    assert_eq!(submitted["action"], "approve");
    assert_eq!(events(&submitted), ["SignatureNonceUsed", "MilestoneApproved"]);
    assert!(
        event_text(&submitted, "MilestoneApproved").contains("approved by signature"),
        "{submitted}"
    );
    assert_eq!(
        balance(&env, dev_address(WORKER)) - worker_before,
        U256::from(500_000_000_000_000_000u64)
    );
    assert_eq!(state(&env, id, 0), "released");

    // Used: the nonce moved on, and the contract would now refuse it.
    let used = env.run(&["verify", "approve.json"]);
    let message = invalid(&used);
    assert!(
        message.contains("nonce (client ")
            && message
                .contains("0 was used or invalidated already (the signer's current nonce is 1)"),
        "{message}"
    );
    let again = env.run_as(OUTSIDER, &["submit", "approve.json"]).failure();
    assert!(
        again.starts_with("the transaction would revert: MilestoneEscrow_InvalidSignature("),
        "{again}"
    );
    job_redactions(&env).bind(|| {
        insta::assert_snapshot!("verify_valid_human", verified.stdout);
        insta::assert_snapshot!("verify_used_human", used.stdout);
    });
}

#[test]
fn verify_catches_tampering_expiry_the_wrong_signer_and_the_wrong_chain() {
    let env = Env::new();
    active_native_job(&env, &[]);
    env.run_as(WORKER, &["job", "submit", "1", "0", "--deliverable", "https://example.com/0"])
        .success();
    env.run_as(CLIENT, &["sign", "approve", "1", "0", "--deadline", "1h", "-o", "a.json"])
        .success();
    let doc = file(&env, "a.json");

    // Another milestone in the message: the signature recovers to someone else.
    let mut tampered = doc.clone();
    tampered["typedData"]["message"]["milestoneIndex"] = json!("1");
    tampered["digest"] = json!(format!(
        "{}",
        shiftpay_bindings::escrow::Approval {
            jobId: U256::from(1),
            milestoneIndex: U256::from(1),
            nonce: U256::ZERO,
            deadline: doc["typedData"]["message"]["deadline"].as_str().unwrap().parse().unwrap(),
        }
        .signing_hash(33, escrow(&env).parse().unwrap())
    ));
    env.sandbox.write("tampered.json", &tampered.to_string());
    let message = invalid(&env.run(&["verify", "tampered.json"]));
    assert!(
        message.starts_with("tampered.json is not valid: signature (client ")
            && message.contains("recovers to 0x"),
        "{message}"
    );

    // A digest that is not the typed data's.
    let mut wrong_digest = doc.clone();
    wrong_digest["digest"] = json!(format!("0x{}", "11".repeat(32)));
    env.sandbox.write("digest.json", &wrong_digest.to_string());
    assert!(invalid(&env.run(&["verify", "digest.json"])).contains("the file's digest 0x1111"));

    // Signed by the worker, who is not the client.
    env.run_as(WORKER, &["sign", "approve", "1", "0", "-o", "w.json"]).failure();
    let offline = env.sandbox.run(&[
        "sign",
        "approve",
        "1",
        "0",
        "--offline",
        "--nonce",
        "0",
        "--chain-id",
        "33",
        "--contract",
        &escrow(&env),
        "--private-key",
        DEV_KEYS[WORKER],
        "-o",
        "w.json",
    ]);
    offline.success();
    let message = invalid(&env.run(&["verify", "w.json"]));
    assert!(
        message.contains(&format!(
            "role (client {}): the client of job 1 is {}",
            dev_address(WORKER),
            dev_address(CLIENT)
        )),
        "{message}"
    );

    // Another chain's signature.
    let other_chain = env.sandbox.run(&[
        "sign",
        "approve",
        "1",
        "0",
        "--offline",
        "--nonce",
        "0",
        "--chain-id",
        "31",
        "--contract",
        &escrow(&env),
        "--private-key",
        DEV_KEYS[CLIENT],
        "-o",
        "c31.json",
    ]);
    other_chain.success();
    let report = env.run(&["verify", "c31.json", "--json"]);
    assert_eq!(report.code, Some(1));
    let json: Value = serde_json::from_str(&report.stdout).unwrap();
    assert_eq!(json["valid"], false);
    let chain = json["signatures"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "chain")
        .unwrap()
        .clone();
    assert_eq!(chain["ok"], false);
    assert_eq!(chain["detail"], "signed for chain 31, the node is on chain 33");
    let submit = env.run_as(OUTSIDER, &["submit", "c31.json"]).failure();
    assert_eq!(
        submit,
        "c31.json is signed for chain 31, but the node is on chain 33: submit it on its own chain"
    );

    // Expired.
    env.advance(3_601);
    let message = invalid(&env.run(&["verify", "a.json"]));
    assert!(
        message.starts_with("a.json is not valid: deadline (client ")
            && message.contains("expired at "),
        "{message}"
    );
    let late = env.run_as(OUTSIDER, &["submit", "a.json"]).failure();
    assert!(
        late.starts_with("the transaction would revert: MilestoneEscrow_SignatureExpired("),
        "{late}"
    );
    env.sandbox.write("junk.json", "{\"hello\": 1}");
    assert_eq!(
        env.run(&["verify", "junk.json"]).failure(),
        "junk.json: not a ShiftPay signature file (its \"format\" is not \"shiftpay-signature\"): make one with `shiftpay sign`"
    );
}

#[test]
fn offline_signing_needs_no_node_and_matches_online_signing() {
    let env = Env::new();
    active_native_job(&env, &[]);
    env.run_as(WORKER, &["job", "submit", "1", "0", "--deliverable", "https://example.com/0"])
        .success();
    let deadline = "2100000000";
    env.run_as(CLIENT, &["sign", "approve", "1", "0", "--deadline", deadline, "-o", "online.json"])
        .success();
    // No --rpc-url, no config: nothing but the key and the three facts.
    let offline = env.sandbox.run(&[
        "sign",
        "approve",
        "1",
        "0",
        "--nonce",
        "0",
        "--chain-id",
        "33",
        "--contract",
        &escrow(&env),
        "--deadline",
        deadline,
        "--private-key",
        DEV_KEYS[CLIENT],
    ]);
    offline.success();
    assert!(!offline.stderr.contains("using devnet"), "no node was asked: {}", offline.stderr);
    let offline_doc: Value = serde_json::from_str(&offline.stdout).unwrap();
    let online_doc = file(&env, "online.json");
    assert_eq!(offline_doc["signature"], online_doc["signature"]);
    assert_eq!(offline_doc["typedData"], online_doc["typedData"]);
    let missing = env
        .sandbox
        .run(&[
            "sign",
            "approve",
            "1",
            "0",
            "--offline",
            "--nonce",
            "0",
            "--private-key",
            DEV_KEYS[CLIENT],
        ])
        .failure();
    assert_eq!(
        missing,
        "signing offline needs --chain-id, --contract: nothing can be read from a node"
    );
    let no_key = env.run(&["sign", "approve", "1", "0"]).failure();
    assert!(no_key.starts_with("signing needs a key: pass --account NAME"), "{no_key}");
    let bad_deadline =
        env.run_as(CLIENT, &["sign", "approve", "1", "0", "--deadline", "yesterday"]).failure();
    assert!(
        bad_deadline.starts_with("--deadline: invalid deadline \"yesterday\""),
        "{bad_deadline}"
    );

    env.sandbox.write("offline.json", &offline.stdout);
    env.run(&["verify", "offline.json"]).success();
    // The same signature in EIP-2098 compact form (64 bytes) verifies and submits too.
    let full: alloy::primitives::Signature =
        offline_doc["signature"].as_str().unwrap().parse().unwrap();
    let mut compact = offline_doc.clone();
    compact["signature"] = json!(alloy::primitives::hex::encode_prefixed(full.as_erc2098()));
    env.sandbox.write("compact.json", &compact.to_string());
    let report = env.run(&["verify", "compact.json", "--json"]).success().json();
    let signature = report["signatures"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "signature")
        .unwrap()
        .clone();
    assert_eq!(
        signature["detail"],
        "ECDSA, recovers to the signer, EIP-2098 compact (submitted as 65 bytes)"
    );
    env.run_as(OUTSIDER, &["submit", "compact.json"]).success();
    assert_eq!(state(&env, 1, 0), "released");
}

#[test]
fn settlements_with_one_signature_and_the_callers_consent_or_with_both() {
    let env = Env::new();
    let id = active_native_job(&env, &[]);
    env.run_as(WORKER, &["job", "submit", "1", "0", "--deliverable", "https://example.com/0"])
        .success();

    // The worker offers 60%; the client settles with it (its call is its consent).
    let offer = env
        .run_as(WORKER, &["sign", "settle", "1", "0", "--worker-share", "60%", "-o", "offer.json"]);
    offer.success();
    assert!(
        offer.stderr.contains("the client either calls `shiftpay job settle 1 0 --with FILE`"),
        "{}",
        offer.stderr
    );
    assert_eq!(
        file(&env, "offer.json")["description"],
        "settle milestone 0 of job 1: 60% to the worker (0.3 RBTC), 0.2 RBTC to the client"
    );
    let own = env.run_as(WORKER, &["job", "settle", "1", "0", "--with", "offer.json"]).failure();
    assert_eq!(
        own,
        "offer.json is the worker's own signature: the client settles with it (or countersigns it)"
    );
    let wrong = env.run_as(CLIENT, &["job", "settle", "1", "1", "--with", "offer.json"]).failure();
    assert_eq!(wrong, "offer.json settles milestone 0 of job 1, not milestone 1 of job 1");
    let worker_before = balance(&env, dev_address(WORKER));
    let settled = env
        .run_as(CLIENT, &["job", "settle", "1", "0", "--with", "offer.json", "--json"])
        .success()
        .json();
    assert_eq!(settled["summary"], "settled milestone 0 of job 1: 60% to the worker");
    assert!(
        event_text(&settled, "MilestoneResolved")
            .contains("resolved by settlement: 0.3 RBTC to the worker, 0.2 RBTC to the client"),
        "{settled}"
    );
    // Only the worker's signature was checked: the client's call was its consent.
    assert_eq!(events(&settled), ["SignatureNonceUsed", "MilestoneResolved"]);
    assert_eq!(
        balance(&env, dev_address(WORKER)) - worker_before,
        U256::from(300_000_000_000_000_000u64)
    );

    // Milestone 1 (funded, never submitted): the client signs 25%, the worker countersigns,
    // anyone submits both.
    env.run_as(CLIENT, &["sign", "settle", "1", "1", "--worker-share", "25%", "-o", "c.json"])
        .success();
    let alone = env.run_as(OUTSIDER, &["submit", "c.json"]).failure();
    assert_eq!(
        alone,
        format!(
            "c.json holds only the client's signature, so the worker ({}) must send it, not {}; or the worker adds a signature with `shiftpay sign settle --add c.json` and anyone sends it",
            dev_address(WORKER),
            dev_address(OUTSIDER)
        )
    );
    let twice = env.run_as(CLIENT, &["sign", "settle", "--add", "c.json"]).failure();
    assert!(twice.starts_with("c.json is already signed by "), "{twice}");
    let outsider = env.run_as(OUTSIDER, &["sign", "settle", "--add", "c.json"]).failure();
    assert!(outsider.contains("is neither the client nor the worker of job 1"), "{outsider}");
    let deadline =
        env.run_as(WORKER, &["sign", "settle", "--add", "c.json", "--deadline", "1d"]).failure();
    assert_eq!(
        deadline,
        "--deadline cannot be given with --add: both signatures share c.json's deadline"
    );
    env.run_as(WORKER, &["sign", "settle", "--add", "c.json", "-o", "both.json"]).success();
    let both = file(&env, "both.json");
    let signatures = both["signatures"].as_array().unwrap();
    assert_eq!(signatures.len(), 2);
    assert_eq!(signatures[0]["role"], "client");
    assert_eq!(signatures[1]["role"], "worker");
    assert_eq!(
        signatures[0]["typedData"]["message"]["deadline"],
        signatures[1]["typedData"]["message"]["deadline"]
    );
    // The worker used nonce 0 on milestone 0's settlement.
    assert_eq!(signatures[1]["typedData"]["message"]["nonce"], "1");
    let full = env.run_as(WORKER, &["sign", "settle", "--add", "both.json"]).failure();
    assert_eq!(
        full,
        "both.json holds both signatures already: submit it with `shiftpay submit both.json`"
    );
    let report = env.run(&["verify", "both.json", "--json"]).success().json();
    assert_eq!(report["signatures"].as_array().unwrap().len(), 2);
    let submitted = env.run_as(OUTSIDER, &["submit", "both.json", "--json"]).success().json();
    assert_eq!(
        events(&submitted),
        ["SignatureNonceUsed", "SignatureNonceUsed", "MilestoneResolved"]
    );
    assert!(
        event_text(&submitted, "MilestoneResolved")
            .contains("0.3125 RBTC to the worker, 0.9375 RBTC to the client"),
        "{submitted}"
    );
    assert_eq!(state(&env, id, 1), "resolved");

    // Two signatures for different terms are refused when the file is read.
    let mut mixed = both.clone();
    mixed["signatures"][1]["typedData"]["message"]["workerBps"] = json!("9000");
    env.sandbox.write("mixed.json", &mixed.to_string());
    assert_eq!(
        env.run(&["verify", "mixed.json"]).failure(),
        "mixed.json: the two signatures of the settlement are for different terms"
    );
}

#[test]
fn a_withdraw_signature_is_accepted_by_the_payroll_when_cast_sends_it() {
    let env = Env::new();
    let url = env.url().to_owned();
    let worker = dev_address(WORKER);
    // A native pool and a stream of 0.001 rBTC per second, set up by cast.
    cast(&[
        "send",
        &env.payroll,
        "deposit(address,uint256)",
        &Address::ZERO.to_string(),
        "1000000000000000000",
        "--value",
        "1000000000000000000",
        "--private-key",
        DEV_KEYS[CLIENT],
        "--legacy",
        "--rpc-url",
        &url,
    ]);
    cast(&[
        "send",
        &env.payroll,
        "createStream(address,address,uint128,uint40,uint40)",
        &worker.to_string(),
        &Address::ZERO.to_string(),
        "1000000000000000",
        "0",
        "0",
        "--private-key",
        DEV_KEYS[CLIENT],
        "--legacy",
        "--rpc-url",
        &url,
    ]);
    env.advance(100);
    let to = dev_address(4);
    let signed = env.run_as(
        WORKER,
        &[
            "sign",
            "withdraw",
            "1",
            "--amount",
            "0.05",
            "--to",
            &to.to_string(),
            "--deadline",
            "1h",
            "-o",
            "w.json",
        ],
    );
    signed.success();
    let doc = file(&env, "w.json");
    assert_eq!(doc["action"], "withdraw");
    assert_eq!(doc["role"], "worker");
    assert_eq!(doc["description"], format!("withdraw 0.05 RBTC from stream 1 to {to}"));
    assert_eq!(doc["typedData"]["domain"]["name"], "ShiftPay Payroll");
    let m = &doc["typedData"]["message"];
    assert_eq!(m["amount"], "50000000000000000");
    env.run(&["verify", "w.json"]).success();

    // Another worker's key is refused before anything is signed.
    let not_worker = env.run_as(OUTSIDER, &["sign", "withdraw", "1", "--amount", "0.05"]).failure();
    assert!(not_worker.contains("is not the worker of stream 1"), "{not_worker}");

    // cast submits it from an account that is not the worker (the relayer's role).
    let request = format!(
        "({},{},{},{},{})",
        m["streamId"].as_str().unwrap(),
        m["to"].as_str().unwrap(),
        m["amount"].as_str().unwrap(),
        m["nonce"].as_str().unwrap(),
        m["deadline"].as_str().unwrap()
    );
    let before = balance(&env, to);
    cast(&[
        "send",
        &env.payroll,
        "withdrawWithSignature((uint256,address,uint256,uint256,uint256),bytes)",
        &request,
        doc["signature"].as_str().unwrap(),
        "--private-key",
        DEV_KEYS[OUTSIDER],
        "--legacy",
        "--rpc-url",
        &url,
    ]);
    assert_eq!(balance(&env, to) - before, U256::from(50_000_000_000_000_000u64));
    assert_eq!(
        cast(&[
            "call",
            &env.payroll,
            "nonces(address)(uint256)",
            &worker.to_string(),
            "--rpc-url",
            &url
        ]),
        "1"
    );
    // The CLI sees the nonce used.
    let message = invalid(&env.run(&["verify", "w.json"]));
    assert!(message.contains("0 was used or invalidated already"), "{message}");

    // A second request, all of what is withdrawable, submitted by shiftpay.
    env.run_as(WORKER, &["sign", "withdraw", "1", "--amount", "all", "-o", "all.json"]).success();
    let submitted = env.run_as(OUTSIDER, &["submit", "all.json", "--json"]).success().json();
    assert_eq!(events(&submitted), ["SignedWithdrawalExecuted", "Withdrawn"]);
}

#[test]
fn a_contract_wallet_client_approves_through_eip1271() {
    let env = Env::new();
    let owner = 5;
    let mut code = EscrowWalletMock::BYTECODE.to_vec();
    code.extend(EscrowWalletMock::constructorCall { owner_: dev_address(owner) }.abi_encode());
    let wallet = send_as(&env, owner, None, code)["contractAddress"].as_str().unwrap().to_owned();
    let wallet_address: Address = wallet.parse().unwrap();
    // The wallet (the client) creates and funds a native job through `execute`.
    let amount = U256::from(10u64).pow(U256::from(17));
    let params = JobParams {
        worker: dev_address(WORKER),
        token: Address::ZERO,
        arbiter: Address::ZERO,
        arbiterFeeBps: 0,
        maxChangeRequests: 2,
        reviewPeriod: 86_400,
        rulingPeriod: 86_400,
        deadline: 0,
        metadataHash: Default::default(),
        amounts: vec![amount],
    };
    let create = MilestoneEscrow::createJobCall { params, fundCount: U256::from(1) }.abi_encode();
    let execute = EscrowWalletMock::executeCall {
        target: escrow(&env).parse().unwrap(),
        value: amount,
        data: create.into(),
    };
    let hash = crate::common::rpc(
        &env.node.url(),
        "eth_sendTransaction",
        json!([{"from": dev_address(owner), "to": wallet, "value": format!("{amount:#x}"), "data": alloy::primitives::hex::encode_prefixed(execute.abi_encode()), "gas": "0x7a1200"}]),
    );
    receipt_of(&env, &hash);
    env.run_as(WORKER, &["job", "accept", "1"]).success();
    env.run_as(WORKER, &["job", "submit", "1", "0", "--deliverable", "https://example.com/0"])
        .success();

    // The owner's key signs for the wallet.
    let not_a_contract = env
        .run_as(
            owner,
            &["sign", "approve", "1", "0", "--on-behalf-of", &dev_address(6).to_string()],
        )
        .failure();
    assert!(
        not_a_contract
            .ends_with("has no code: it is not a contract wallet (an EOA signs for itself)"),
        "{not_a_contract}"
    );
    env.run_as(owner, &["sign", "approve", "1", "0", "--on-behalf-of", &wallet, "-o", "safe.json"])
        .success();
    let doc = file(&env, "safe.json");
    assert_eq!(doc["signer"].as_str().unwrap(), wallet_address.to_string());
    let report = env.run(&["verify", "safe.json", "--json"]).success().json();
    let signature = report["signatures"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "signature")
        .unwrap()
        .clone();
    assert_eq!(signature["detail"], "EIP-1271: the contract signer accepts it");

    // Revoked, the wallet refuses its owner's signatures.
    send_as(
        &env,
        owner,
        Some(&wallet),
        EscrowWalletMock::setRevokedCall { revoked_: true }.abi_encode(),
    );
    let message = invalid(&env.run(&["verify", "safe.json"]));
    assert!(message.contains("EIP-1271: the contract signer rejects it"), "{message}");
    send_as(
        &env,
        owner,
        Some(&wallet),
        EscrowWalletMock::setRevokedCall { revoked_: false }.abi_encode(),
    );

    let worker_before = balance(&env, dev_address(WORKER));
    env.run_as(OUTSIDER, &["submit", "safe.json"]).success();
    assert_eq!(balance(&env, dev_address(WORKER)) - worker_before, amount);
}
