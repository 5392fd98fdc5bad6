//! A Safe multisig as employer and client, against the real Safe 1.5.0 contracts from npm
//! (`@safe-global/safe-smart-account`, deployed by `shiftpay_tests::safe`): `--via safe:` writes
//! a proposal, owners `safe sign` it, `safe exec` runs it; the Transaction Builder export replayed
//! call by call gives the same state; a Safe-signed milestone approval (EIP-1271) is accepted by
//! the escrow.

use alloy::{
    primitives::{Address, B256, Bytes, U256, hex},
    sol_types::SolCall,
};
use serde_json::{Value, json};
use shiftpay_bindings::{
    payroll::Payroll,
    safe::{ISafe, MetaTx, SafeTx, TxBuilderBatch},
};
use shiftpay_tests::safe::{SafeDeployment, exec_as_owners};

use crate::{
    common::{Run, dev_address, rpc},
    stream::{Env, mint},
};

/// Five workers: `now` starts and fixed ends so that two runs give the same streams.
const ROSTER: &str = "worker,token,rate,start,end,label
0xa4b99fd47f9c497b044227961025510c83ae8ce2,tUSD,2400 tUSD/month,now,2030-01-01,emp-001
0x21ba23eb1c825b89e2ab95b27148bb1572642bee,tUSD,25 tUSD/hour,now,2030-01-01,emp-002
0x8a6bb0d4c8b7de5ba4a7e2a1b5d3f6c0e9a8b7c6,tUSD,1800 tUSD/month,now,,emp-003
0x1f2e3d4c5b6a79880716253443526170f9e8d7c6,tUSD,3000 tUSD/month,now,,emp-004
0x0a1b2c3d4e5f60718293a4b5c6d7e8f901234567,tUSD,1200 tUSD/month,now,2031-06-30,emp-005
";

/// An [`Env`] (Payroll deployed, tUSD listed) with the Safe contracts and a 2-of-3 Safe of dev
/// accounts 1, 2, 3 holding 100,000 tUSD.
struct SafeEnv {
    env: Env,
    contracts: SafeDeployment,
    safe: Address,
}

impl SafeEnv {
    fn new() -> Self {
        let env = Env::new();
        let contracts = SafeDeployment::deploy(&env.node.url()).expect("the Safe contracts deploy");
        let mut safe_env = Self { env, contracts, safe: Address::ZERO };
        safe_env.safe = safe_env.new_safe(0);
        safe_env.env.sandbox.write("roster.csv", ROSTER);
        safe_env
    }

    /// Another 2-of-3 Safe of dev accounts 1, 2, 3 (salt `salt`) with 100,000 tUSD.
    fn new_safe(&self, salt: u64) -> Address {
        let owners = [dev_address(1), dev_address(2), dev_address(3)];
        let safe = self
            .contracts
            .create_safe(&self.env.node.url(), &owners, 2, salt)
            .expect("the factory creates a Safe");
        mint(&self.env.node.url(), &self.env.token, safe, U256::from(100_000_000_000u64));
        safe
    }

    fn via(&self, safe: Address) -> String {
        format!("safe:{safe}")
    }

    fn multisend(&self) -> String {
        self.contracts.multisend_call_only.to_string()
    }

    /// `shiftpay ARGS --rpc-url URL` with no key.
    fn run(&self, args: &[&str]) -> Run {
        self.env.run(args)
    }

    fn safe_nonce(&self, safe: Address) -> U256 {
        let out = rpc(
            &self.env.node.url(),
            "eth_call",
            json!([{"to": safe, "data": hex::encode_prefixed(ISafe::nonceCall {}.abi_encode())}, "latest"]),
        );
        U256::from_str_radix(out.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    }

    /// `(worker, token, rate, end, status)` of every stream of `employer`, by worker.
    fn streams_of(&self, employer: Address) -> Vec<(Address, Address, u128, u64, u8)> {
        let mut streams: Vec<_> = self
            .env
            .stream_created_logs()
            .iter()
            .map(|log| {
                let id = U256::from_str_radix(
                    log["topics"][1].as_str().unwrap().trim_start_matches("0x"),
                    16,
                )
                .unwrap();
                self.env.call(&Payroll::getStreamCall { streamId: id })
            })
            .filter(|view| view.employer == employer)
            .map(|v| (v.worker, v.token, v.rate, v.end.to::<u64>(), v.status))
            .collect();
        streams.sort();
        streams
    }

    /// `(balance, totalRate)` of `employer`'s tUSD pool.
    fn pool(&self, employer: Address) -> (U256, U256) {
        let token: Address = self.env.token.parse().unwrap();
        let view = self.env.call(&Payroll::getPoolCall { employer, token });
        (view.balance, U256::from(view.totalRate))
    }
}

impl SafeEnv {
    /// Job 1: created and funded by the Safe (100 tUSD, one milestone, for dev 4) through a
    /// proposal that owners `signers` sign and dev 0 executes; accepted by dev 4, and its
    /// milestone 0 submitted. Returns the worker.
    fn safe_job_submitted(&self, signers: [usize; 2]) -> Address {
        let (via, multisend) = (self.via(self.safe), self.multisend());
        let worker = dev_address(4);
        let w = worker.to_string();
        let created = self
            .run(&[
                "job",
                "create",
                "--worker",
                &w,
                "--token",
                "tUSD",
                "--milestone",
                "100",
                "--via",
                &via,
                "--multisend",
                &multisend,
                "--out",
                "job.json",
                "--json",
            ])
            .success()
            .json();
        assert_eq!(created["kind"], "safe-proposal");
        for owner in signers {
            self.env.run_as(owner, &["safe", "sign", "job.json"]).success();
        }
        self.env.run_as(0, &["safe", "exec", "job.json"]).success();
        let job = self.run(&["job", "show", "1", "--json"]).success().json();
        let client = job["client"].as_str().unwrap().to_lowercase();
        assert_eq!(client, self.safe.to_string().to_lowercase());
        self.env.run_as(4, &["job", "accept", "1"]).success();
        self.env
            .run_as(4, &["job", "submit", "1", "0", "--deliverable", "https://example.com/0"])
            .success();
        worker
    }
}

fn proposal(sandbox: &crate::common::Sandbox, path: &str) -> Value {
    serde_json::from_str(&sandbox.read(path)).unwrap()
}

#[test]
fn safe_tx_hash_is_the_safes_own() {
    let s = SafeEnv::new();
    let call = MetaTx {
        to: s.env.payroll.parse().unwrap(),
        value: U256::from(3),
        data: Bytes::from(vec![1, 2, 3]),
    };
    let tx = SafeTx::new(
        call.to,
        call.value,
        call.data,
        shiftpay_bindings::safe::Operation::Call,
        U256::from(7),
    );
    let out = rpc(
        &s.env.node.url(),
        "eth_call",
        json!([{"to": s.safe, "data": hex::encode_prefixed(tx.hash_call().abi_encode())}, "latest"]),
    );
    let on_chain: B256 = out.as_str().unwrap().parse().unwrap();
    assert_eq!(on_chain, tx.signing_hash(33, s.safe));
    // The SafeMessage hash owners sign for EIP-1271 is the fallback handler's.
    let digest = alloy::primitives::keccak256("an escrow digest");
    let call = shiftpay_bindings::safe::ICompatibilityFallbackHandler::getMessageHashForSafeCall {
        safe: s.safe,
        message: Bytes::from(digest.to_vec()),
    };
    let out = rpc(
        &s.env.node.url(),
        "eth_call",
        json!([{"to": s.contracts.fallback_handler, "data": hex::encode_prefixed(call.abi_encode())}, "latest"]),
    );
    let on_chain: B256 = out.as_str().unwrap().parse().unwrap();
    assert_eq!(on_chain, shiftpay_bindings::safe::safe_message_hash(33, s.safe, digest));
    // And the domain separator is the Safe's.
    let out = rpc(
        &s.env.node.url(),
        "eth_call",
        json!([{"to": s.safe, "data": hex::encode_prefixed(ISafe::domainSeparatorCall {}.abi_encode())}, "latest"]),
    );
    let separator: B256 = out.as_str().unwrap().parse().unwrap();
    assert_eq!(separator, shiftpay_bindings::safe::safe_domain(33, s.safe).separator());
}

#[test]
fn payroll_setup_through_a_two_of_three_safe() {
    let s = SafeEnv::new();
    let (via, multisend) = (s.via(s.safe), s.multisend());
    let sandbox = &s.env.sandbox;
    // Deposit (approve + deposit) and the roster: one proposal, nothing sent.
    let block = crate::common::block_number(&s.env.node.url());
    let run = s.run(&[
        "treasury",
        "deposit",
        "50000",
        "tUSD",
        "--via",
        &via,
        "--multisend",
        &multisend,
        "--json",
    ]);
    let json = run.success().json();
    assert_eq!(json["kind"], "safe-proposal");
    assert_eq!(json["calls"].as_array().unwrap().len(), 2, "approve and deposit: {json}");
    s.run(&[
        "stream",
        "create",
        "--from-csv",
        "roster.csv",
        "--via",
        &via,
        "--multisend",
        &multisend,
        "--append",
    ])
    .success();
    assert_eq!(crate::common::block_number(&s.env.node.url()), block, "nothing was sent");
    let file = proposal(sandbox, "safe-tx.json");
    assert_eq!(file["kind"], "transaction");
    assert_eq!(file["calls"].as_array().unwrap().len(), 3, "approve, deposit, multicall");
    assert_eq!(file["safeTx"]["operation"], 1, "a MultiSendCallOnly batch");
    assert_eq!(file["safeTx"]["nonce"], "0x0");

    // A non-owner cannot sign.
    let error = s.env.run_as(4, &["safe", "sign", "safe-tx.json"]).failure();
    assert!(error.contains("is not an owner of the Safe"), "{error}");

    // One owner: refused before anything is sent.
    s.env.run_as(1, &["safe", "sign", "safe-tx.json"]).success();
    let block = crate::common::block_number(&s.env.node.url());
    let error = s.env.run_as(0, &["safe", "exec", "safe-tx.json"]).failure();
    assert!(error.contains("1 of 3 owner signatures") && error.contains("needs 2"), "{error}");
    assert_eq!(s.safe_nonce(s.safe), U256::ZERO);
    assert_eq!(crate::common::block_number(&s.env.node.url()), block);

    // A changed transaction is refused.
    let mut changed = file.clone();
    changed["safeTx"]["value"] = json!("0x1");
    sandbox.write("changed.json", &changed.to_string());
    let error = s.env.run_as(2, &["safe", "sign", "changed.json"]).failure();
    assert!(error.contains("it was changed after it was proposed"), "{error}");

    // The second owner signs; anyone executes.
    s.env.run_as(2, &["safe", "sign", "safe-tx.json"]).success();
    let status = s.run(&["safe", "status", "safe-tx.json", "--json"]).success().json();
    assert_eq!(status["state"], "ready");
    assert_eq!(status["signatures"], 2);
    let exec = s.env.run_as(0, &["safe", "exec", "safe-tx.json", "--json"]).success().json();
    assert_eq!(exec["signatures"], 2);
    assert_eq!(s.safe_nonce(s.safe), U256::from(1));

    // Five streams with the Safe as employer, and its pool funded.
    let streams = s.streams_of(s.safe);
    assert_eq!(streams.len(), 5, "{streams:?}");
    let (balance, rate) = s.pool(s.safe);
    assert_eq!(balance, U256::from(50_000_000_000u64));
    assert!(rate > U256::ZERO);
    let status = s.run(&["safe", "status", "safe-tx.json", "--json"]).success().json();
    assert_eq!(status["state"], "executed");
    // Executed again: stale.
    let error = s.env.run_as(0, &["safe", "exec", "safe-tx.json"]).failure();
    assert!(error.contains("stale"), "{error}");

    // The Transaction Builder export of the same set-up, replayed call by call through another
    // Safe (each call its own Safe transaction signed by two owners), gives the same state.
    let other = s.new_safe(1);
    let via = s.via(other);
    s.run(&[
        "treasury",
        "deposit",
        "50000",
        "tUSD",
        "--via",
        &via,
        "--export",
        "safe-tx-builder",
        "deposit.json",
    ])
    .success();
    s.run(&[
        "stream",
        "create",
        "--from-csv",
        "roster.csv",
        "--via",
        &via,
        "--export",
        "safe-tx-builder",
        "roster.json",
    ])
    .success();
    let mut calls = 0;
    for file in ["deposit.json", "roster.json"] {
        let batch: TxBuilderBatch = serde_json::from_str(&sandbox.read(file)).unwrap();
        assert_eq!(batch.version, "1.0");
        assert_eq!(batch.chain_id, "33");
        assert_eq!(batch.meta.created_from_safe_address, other);
        assert_eq!(batch.meta.checksum.as_deref(), Some(batch.checksum().as_str()));
        for tx in &batch.transactions {
            assert!(tx.contract_method.is_some(), "{tx:?}");
            exec_as_owners(
                &s.env.node.url(),
                &s.contracts,
                other,
                &[tx.meta_tx().unwrap()],
                &[2, 3],
            )
            .expect("each call runs through the Safe");
            calls += 1;
        }
    }
    assert_eq!(calls, 3);
    // `safe propose` turns a Transaction Builder batch into a proposal for another Safe.
    let third = s.new_safe(2);
    let third_text = third.to_string();
    s.run(&[
        "safe",
        "propose",
        "deposit.json",
        "--safe",
        &third_text,
        "--multisend",
        &multisend,
        "--out",
        "third.json",
    ])
    .success();
    s.env.run_as(1, &["safe", "sign", "third.json"]).success();
    s.env.run_as(3, &["safe", "sign", "third.json"]).success();
    s.env.run_as(5, &["safe", "exec", "third.json"]).success();
    assert_eq!(s.pool(third).0, U256::from(50_000_000_000u64));
    assert_eq!(s.streams_of(other), s.streams_of(s.safe));
    assert_eq!(s.pool(other), s.pool(s.safe));

    // `safe` in shiftpay.toml routes an employer command without --via: pause a stream.
    let first = s
        .env
        .stream_created_logs()
        .iter()
        .find(|log| log["topics"][2].as_str().unwrap().ends_with(&hex::encode(s.safe)))
        .map(|log| {
            U256::from_str_radix(log["topics"][1].as_str().unwrap().trim_start_matches("0x"), 16)
                .unwrap()
        })
        .unwrap();
    sandbox.write("shiftpay.toml", &format!("safe = \"{}\"\n", s.safe));
    let id = first.to_string();
    let json = s
        .run(&["stream", "pause", &id, "--out", "pause.json", "--multisend", &multisend, "--json"])
        .success()
        .json();
    assert_eq!(json["kind"], "safe-proposal", "{json}");
    assert_eq!(proposal(sandbox, "pause.json")["safeTx"]["nonce"], "0x1");
    s.env.run_as(3, &["safe", "sign", "pause.json"]).success();
    s.env.run_as(1, &["safe", "sign", "pause.json"]).success();
    s.env.run_as(0, &["safe", "exec", "pause.json"]).success();
    let view = s.env.call(&Payroll::getStreamCall { streamId: first });
    assert_eq!(view.status, 1, "paused by the Safe");
    // `--via key` sends from the local key instead: dev account 0 is not this stream's employer.
    let error = s.env.run_as(0, &["stream", "resume", &id, "--via", "key"]).failure();
    assert!(error.contains("Payroll_NotEmployer"), "{error}");
    assert_eq!(s.safe_nonce(s.safe), U256::from(2));
}

#[test]
fn bad_route_options_are_refused() {
    let s = SafeEnv::new();
    let error =
        s.run(&["treasury", "deposit", "1", "tUSD", "--export", "governor", "x.json"]).failure();
    assert!(error.contains("only apply with --via"), "{error}");
    let error = s
        .run(&["treasury", "deposit", "1", "tUSD", "--via", &format!("timelock:{}", s.safe)])
        .failure();
    assert!(error.contains("needs --export governor"), "{error}");
    let not_safe = dev_address(5).to_string();
    let error = s
        .run(&["treasury", "deposit", "1", "tUSD", "--via", &format!("safe:{not_safe}")])
        .failure();
    assert!(
        error.contains("insufficient balance") || error.contains("does not answer as a Safe"),
        "{error}"
    );
}

/// The escrow's address from the deployment file.
fn escrow_address(env: &Env) -> Address {
    let file: Value = serde_json::from_str(&env.sandbox.read("deployments/33.json")).unwrap();
    file["escrow"]["address"].as_str().unwrap().parse().unwrap()
}

#[test]
fn a_safe_client_approves_a_milestone_by_eip1271() {
    let s = SafeEnv::new();
    let via = s.via(s.safe);
    // The Safe creates and funds a job (approve + create): proposal, two owners, exec.
    let worker = s.safe_job_submitted([1, 3]);

    // A non-owner cannot sign for the Safe.
    let error = s
        .env
        .run_as(5, &["sign", "approve", "1", "0", "--via", &via, "--out", "approval-safe.json"])
        .failure();
    assert!(error.contains("is not an owner of the Safe"), "{error}");

    // One owner signs: below the threshold, nothing comes out.
    s.env
        .run_as(1, &["sign", "approve", "1", "0", "--via", &via, "--out", "approval-safe.json"])
        .success();
    let error = s.env.run_as(0, &["safe", "exec", "approval-safe.json"]).failure();
    assert!(error.contains("needs 2"), "{error}");

    // A second owner signs; exec prints the signature file the Safe accepts.
    s.env.run_as(2, &["safe", "sign", "approval-safe.json"]).success();
    let status = s.run(&["safe", "status", "approval-safe.json", "--json"]).success().json();
    assert_eq!(status["state"], "accepted");
    let doc = s.env.run_as(0, &["safe", "exec", "approval-safe.json"]).success().stdout.clone();
    let parsed: Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(
        parsed["signer"].as_str().unwrap().to_lowercase(),
        s.safe.to_string().to_lowercase()
    );
    assert_eq!(parsed["signature"].as_str().unwrap().len(), 2 + 2 * 130, "two owners' signatures");
    s.env.sandbox.write("approval.json", &doc);

    // One owner's signature alone is rejected by the escrow (through the Safe's EIP-1271).
    let mut below = parsed.clone();
    below["signature"] = json!(parsed["signature"].as_str().unwrap()[..132].to_owned());
    s.env.sandbox.write("below.json", &below.to_string());
    let error = s.env.run_as(3, &["submit", "below.json"]).failure();
    assert!(error.contains("InvalidSignature"), "{error}");

    // The full signature is accepted by the escrow: the worker is paid.
    let escrow = escrow_address(&s.env);
    let (worker_before, escrow_before) = (s.env.token_balance(worker), s.env.token_balance(escrow));
    s.env.run_as(3, &["submit", "approval.json"]).success();
    let job = s.run(&["job", "show", "1", "--json"]).success().json();
    assert_eq!(job["milestones"][0]["state"], "released", "{job}");
    let paid = U256::from(100_000_000u64);
    assert_eq!(s.env.token_balance(worker), worker_before + paid);
    assert_eq!(s.env.token_balance(escrow), escrow_before - paid);
}

#[test]
fn a_governor_proposal_of_the_exported_calls_pays_from_the_timelock() {
    let s = SafeEnv::new();
    let url = s.env.node.url();
    let dao = shiftpay_tests::dao::Dao::deploy(&url).expect("the DAO deploys");
    mint(&url, &s.env.token, dao.timelock, U256::from(100_000_000_000u64));
    let via = format!("timelock:{}", dao.timelock);
    let block = crate::common::block_number(&url);
    s.run(&[
        "treasury",
        "deposit",
        "50000",
        "tUSD",
        "--via",
        &via,
        "--export",
        "governor",
        "deposit-gov.json",
    ])
    .success();
    let run = s.run(&[
        "stream",
        "create",
        "--from-csv",
        "roster.csv",
        "--via",
        &via,
        "--export",
        "governor",
        "roster-gov.json",
    ]);
    run.success();
    assert!(
        run.stderr.contains("cast send <GOVERNOR> 'propose(address[],uint256[],bytes[],string)'"),
        "{}",
        run.stderr
    );
    assert_eq!(crate::common::block_number(&url), block, "nothing was sent");
    for file in ["deposit-gov.json", "roster-gov.json"] {
        let proposal: shiftpay_bindings::safe::GovernorProposal =
            serde_json::from_str(&s.env.sandbox.read(file)).unwrap();
        assert_eq!(proposal.executor, dao.timelock);
        assert_eq!(proposal.targets.len(), proposal.calldatas.len());
        let values: Vec<U256> = proposal.values.iter().map(|v| v.parse().unwrap()).collect();
        let id = dao
            .pass(&url, &proposal.targets, &values, &proposal.calldatas, &proposal.description)
            .expect("the proposal passes and executes");
        assert_eq!(dao.state(&url, id).unwrap(), shiftpay_tests::dao::state::EXECUTED);
    }
    let streams = s.streams_of(dao.timelock);
    assert_eq!(streams.len(), 5, "{streams:?}");
    assert_eq!(s.pool(dao.timelock).0, U256::from(50_000_000_000u64));
}

/// A plain HTTP/1.1 request to the relayer's API: `(status, JSON body)`.
fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    use std::io::{Read, Write};
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let (head, rest) = response.split_once("\r\n\r\n").unwrap();
    let text = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        // One chunk is enough for these small bodies.
        rest.split_once("\r\n")
            .map_or("", |(_, chunk)| chunk)
            .rsplit_once("\r\n0")
            .map_or(rest, |(c, _)| c)
    } else {
        rest
    };
    (status, serde_json::from_str(text.trim()).unwrap_or(Value::Null))
}

#[test]
fn the_relayer_api_takes_a_safe_signed_approval_and_refuses_one_below_the_threshold() {
    let s = SafeEnv::new();
    let via = s.via(s.safe);
    let worker = s.safe_job_submitted([2, 3]);
    s.env.run_as(2, &["sign", "approve", "1", "0", "--via", &via, "--out", "a.json"]).success();
    s.env.run_as(3, &["safe", "sign", "a.json"]).success();
    let doc: Value =
        serde_json::from_str(&s.env.run_as(0, &["safe", "exec", "a.json"]).success().stdout)
            .unwrap();
    let message = &doc["typedData"]["message"];
    let escrow = escrow_address(&s.env);
    let request = |signature: &str| {
        json!({
            "kind": "approve", "chainId": 33, "contract": escrow.to_string(),
            "jobId": "1", "milestoneIndex": "0",
            "nonce": message["nonce"].to_string().trim_matches('"'),
            "deadline": message["deadline"].to_string().trim_matches('"'),
            "signature": signature,
        })
    };

    // The relayer, in-process, its API on a free port, dev account 6 as its signer.
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "chain = \"devnet\"\nrpc_url = \"{}\"\ndeployment = \"{}\"\nstorage = \"sqlite://relayer.db\"\n\
         poll_interval = \"200ms\"\nrpc_timeout = \"5s\"\nshutdown_timeout = \"10s\"\n[api]\nlisten = \"127.0.0.1:0\"\n",
        s.env.url(),
        s.env.sandbox.path("deployments/33.json").display()
    );
    let vars: shiftpay_relayer::config::Env =
        [("SHIFTPAY_PRIVATE_KEY".to_owned(), crate::common::DEV_KEYS[6].to_owned())].into();
    let config = shiftpay_relayer::config::Config::from_toml_str(&toml, dir.path(), &vars)
        .unwrap_or_else(|errors| panic!("{errors}"));
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let handle = runtime
        .block_on(shiftpay_relayer::Relayer::start(config))
        .unwrap_or_else(|err| panic!("the relayer starts: {err}"));
    let api = handle.api_addr().expect("the API listens");

    // One owner's signature (below the 2-of-3 threshold): refused, nothing sent.
    let signature = doc["signature"].as_str().unwrap();
    let (status, body) = http(api, "POST", "/v1/requests", Some(&request(&signature[..132])));
    assert!((400..500).contains(&status), "{status} {body}");
    assert!(body.to_string().contains("EIP-1271"), "{body}");

    // Both owners': accepted, sent and confirmed; the worker is paid.
    let before = s.env.token_balance(worker);
    let (status, body) = http(api, "POST", "/v1/requests", Some(&request(signature)));
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().map(str::to_owned).unwrap_or_else(|| body["id"].to_string());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let final_state = loop {
        let (_, state) = http(api, "GET", &format!("/v1/requests/{id}"), None);
        if state["status"] == "confirmed" || state["status"] == "failed" {
            break state;
        }
        assert!(std::time::Instant::now() < deadline, "not final: {state}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(final_state["status"], "confirmed", "{final_state}");
    assert_eq!(s.env.token_balance(worker), before + U256::from(100_000_000u64));
    runtime.block_on(handle.shutdown()).unwrap_or_else(|err| panic!("the relayer stops: {err}"));
}
