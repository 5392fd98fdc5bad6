//! `shiftpay job …` against anvil behind the Rootstock-shaped proxy: every subcommand's success
//! path (a full lifecycle in a test stablecoin and in rBTC, change requests and resubmission,
//! release after the review window, a dispute ruled by the arbiter and one timed out, cancel,
//! resign, the withdrawal of a deferred payment), the errors (not the client, a wrong state
//! decoded from the contract's custom error, bad durations, amounts, addresses and tokens,
//! nothing sent), human output snapshots and `--json`.
//!
//! Accounts: 0 is the client, 1 the worker, 2 the arbiter, 3 an outsider (anyone, a relayer).

use alloy::{
    primitives::{Address, U256, hex},
    sol_types::{SolCall, SolConstructor},
};
use serde_json::{Value, json};

use crate::{
    common::{dev_address, redactions, rpc},
    stream::Env,
};

alloy::sol!(
    #[allow(missing_docs)]
    EscrowBlocklistToken,
    "../tests/artifacts/EscrowBlocklistToken.json"
);

pub(crate) const CLIENT: usize = 0;
pub(crate) const WORKER: usize = 1;
pub(crate) const ARBITER: usize = 2;
pub(crate) const OUTSIDER: usize = 3;

/// The escrow's address from the deployment file.
pub(crate) fn escrow(env: &Env) -> String {
    let file: Value = serde_json::from_str(&env.sandbox.read("deployments/33.json")).unwrap();
    file["escrow"]["address"].as_str().unwrap().parse::<Address>().unwrap().to_string()
}

/// `job create` by the client for the worker with `extra` arguments (`--token` and milestones
/// included); returns the job id.
pub(crate) fn create(env: &Env, extra: &[&str]) -> u64 {
    let worker = dev_address(WORKER).to_string();
    let mut args = vec!["job", "create", "--worker", &worker, "--yes", "--json"];
    args.extend_from_slice(extra);
    env.run_as(CLIENT, &args).success().json()["jobId"].as_u64().unwrap()
}

/// A native job of two milestones (0.5 and 1.25 rBTC), accepted by the worker.
pub(crate) fn active_native_job(env: &Env, extra: &[&str]) -> u64 {
    let mut args = vec!["--token", "rbtc", "--milestone", "0.5", "--milestone", "1.25"];
    args.extend_from_slice(extra);
    let id = create(env, &args);
    env.run_as(WORKER, &["job", "accept", &id.to_string()]).success();
    id
}

/// `job show ID --json`.
pub(crate) fn show(env: &Env, id: u64) -> Value {
    env.run(&["job", "show", &id.to_string(), "--json"]).success().json()
}

/// The state of milestone `index` of job `id`.
pub(crate) fn state(env: &Env, id: u64, index: usize) -> String {
    show(env, id)["milestones"][index]["state"].as_str().unwrap().to_owned()
}

/// Native balance of an account, in wei.
pub(crate) fn balance(env: &Env, who: Address) -> U256 {
    let hex = rpc(&env.node.url(), "eth_getBalance", json!([who, "latest"]));
    U256::from_str_radix(hex.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// Names of the escrow events a command's `--json` reported.
pub(crate) fn events(json: &Value) -> Vec<String> {
    json["tx"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect()
}

/// insta settings for job output: the common redactions, plus relative times and block numbers
/// (both move with the wall clock and with other tests' fixtures).
pub(crate) fn job_redactions(env: &Env) -> insta::Settings {
    let mut settings = redactions(&env.sandbox);
    settings.add_filter(r"in \d+[wdhms]( \d+[wdhms])?", "in [REL]");
    settings.add_filter(r"\d+[wdhms]( \d+[wdhms])? ago", "[REL] ago");
    settings.add_filter(r"\(block \d+\)", "(block [N])");
    settings
}

/// Sends `data` from dev account `from` (unlocked in anvil) straight to the node; returns the
/// receipt.
pub(crate) fn send_as(env: &Env, from: usize, to: Option<&str>, data: Vec<u8>) -> Value {
    let mut tx =
        json!({"from": dev_address(from), "data": hex::encode_prefixed(data), "gas": "0x7a1200"});
    if let Some(to) = to {
        tx["to"] = json!(to);
    }
    let hash = rpc(&env.node.url(), "eth_sendTransaction", json!([tx]));
    receipt_of(env, &hash)
}

/// The receipt of `hash`, waiting for it (anvil may answer `eth_sendTransaction` before the
/// receipt is queryable); asserts success.
pub(crate) fn receipt_of(env: &Env, hash: &Value) -> Value {
    let started = std::time::Instant::now();
    loop {
        let receipt = rpc(&env.node.url(), "eth_getTransactionReceipt", json!([hash]));
        if !receipt.is_null() {
            assert_eq!(receipt["status"], "0x1", "{receipt}");
            return receipt;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "no receipt for {hash}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The description of the first `name` event a command's `--json` reported.
pub(crate) fn event_text(json: &Value, name: &str) -> String {
    json["tx"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == name)
        .unwrap_or_else(|| panic!("no {name} event: {json}"))["description"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn an_erc20_job_from_offer_to_payment_with_a_change_request() {
    let env = Env::new();
    env.sandbox.write("terms.md", "# Website\nTwo milestones.\n");
    env.sandbox.write("design-v1.pdf", "draft");
    let worker = dev_address(WORKER).to_string();

    // Without --yes and without a terminal, the short allowance stops everything.
    let nonce = env.nonce(CLIENT);
    let refused = env
        .run_as(
            CLIENT,
            &[
                "job",
                "create",
                "--worker",
                &worker,
                "--token",
                "tUSD",
                "--milestone",
                "250",
                "--milestone",
                "400",
            ],
        )
        .failure();
    assert!(refused.contains("pass --yes to approve 650 tUSD"), "{refused}");
    assert_eq!(env.nonce(CLIENT), nonce);

    let created = env.run_as(
        CLIENT,
        &[
            "job",
            "create",
            "--worker",
            &worker,
            "--token",
            "tUSD",
            "--milestone",
            "250",
            "--milestone",
            "400",
            "--review",
            "72h",
            "--terms",
            "terms.md",
            "--yes",
        ],
    );
    created.success();
    assert!(
        created.stderr.contains("approve 650 tUSD for MilestoneEscrow: confirmed"),
        "{}",
        created.stderr
    );
    assert!(
        created.stderr.contains("terms: keccak256 of the file terms.md (26 bytes) = 0x"),
        "{}",
        created.stderr
    );
    assert!(created.stdout.contains("No arbiter: this job has no disputes."), "{}", created.stdout);
    assert_eq!(env.nonce(CLIENT), nonce + 2, "approve + create");
    assert_eq!(
        env.token_balance(dev_address(CLIENT)),
        U256::from(1_000_000u64 * 1_000_000 - 650_000_000)
    );

    let offered = show(&env, 1);
    assert_eq!(offered["status"], "offered");
    assert_eq!(offered["token"]["symbol"], "tUSD");
    assert_eq!(offered["total"], "650 tUSD");
    assert_eq!(offered["reviewPeriod"], 259_200);
    assert_eq!(offered["arbiter"], Value::Null);
    assert_eq!(offered["maxChangeRequests"], 2);
    assert_eq!(
        offered["metadataHash"].as_str().unwrap(),
        format!("{}", alloy::primitives::keccak256(b"# Website\nTwo milestones.\n"))
    );
    assert_eq!(offered["milestones"][0]["amount"], "250 tUSD");
    assert_eq!(offered["milestones"][1]["amountUnits"], "400000000");

    let accepted = env.run_as(WORKER, &["job", "accept", "1", "--json"]).success().json();
    assert_eq!(accepted["action"], "accept");
    assert_eq!(events(&accepted), ["JobAccepted"]);

    // Submit: the hash of the file's bytes; the message comes after the confirmations.
    let submitted =
        env.run_as(WORKER, &["job", "submit", "1", "0", "--deliverable", "design-v1.pdf"]);
    submitted.success();
    assert!(
        submitted.stdout.contains("submitted and confirmed: share the deliverable now."),
        "{}",
        submitted.stdout
    );
    let confirmed_at =
        submitted.stderr.find("confirmed in block").expect("waited for the confirmation");
    assert!(submitted.stderr.find("sent 0x").unwrap() < confirmed_at, "{}", submitted.stderr);
    assert!(
        submitted.stdout.contains(&format!("{}", alloy::primitives::keccak256(b"draft"))),
        "{}",
        submitted.stdout
    );
    assert_eq!(state(&env, 1, 0), "submitted");

    // A change request (text hashed), then a resubmission given as a URL.
    let changes = env
        .run_as(
            CLIENT,
            &["job", "request-changes", "1", "0", "--reason-text", "bigger logo", "--json"],
        )
        .success()
        .json();
    assert_eq!(changes["reason"]["kind"], "text");
    assert_eq!(
        changes["reason"]["hash"].as_str().unwrap(),
        format!("{}", alloy::primitives::keccak256(b"bigger logo"))
    );
    assert!(changes["summary"].as_str().unwrap().contains("change request 1 of 2"), "{changes}");
    assert_eq!(state(&env, 1, 0), "changes requested");
    let resubmitted = env
        .run_as(
            WORKER,
            &[
                "job",
                "submit",
                "1",
                "0",
                "--deliverable",
                "https://example.com/design-v2.pdf",
                "--json",
            ],
        )
        .success()
        .json();
    assert_eq!(resubmitted["deliverable"]["kind"], "url");
    assert_eq!(
        resubmitted["deliverable"]["hash"].as_str().unwrap(),
        format!("{}", alloy::primitives::keccak256(b"https://example.com/design-v2.pdf"))
    );

    let approved = env.run_as(CLIENT, &["job", "approve", "1", "0", "--json"]).success().json();
    assert_eq!(events(&approved), ["MilestoneApproved"]);
    assert_eq!(
        env.token_balance(dev_address(WORKER)),
        U256::from(1_000_000u64 * 1_000_000 + 250_000_000)
    );

    // Milestone 1: the client stays silent; after the review window anyone releases it.
    env.run_as(
        WORKER,
        &["job", "submit", "1", "1", "--deliverable-hash", &format!("0x{}", "ab".repeat(32))],
    )
    .success();
    let early = env.run_as(OUTSIDER, &["job", "release", "1", "1"]).failure();
    assert!(
        early.starts_with("the transaction would revert: MilestoneEscrow_WindowOpen(1, 1, ")
            && early.contains("): its window is open until "),
        "{early}"
    );
    let during_review = env.run(&["job", "show", "1"]);
    during_review.success();
    env.advance(3 * 86_400 + 1);
    let after_review = env.run(&["job", "show", "1"]);
    after_review.success();
    let released = env.run_as(OUTSIDER, &["job", "release", "1", "1", "--json"]).success().json();
    assert_eq!(events(&released), ["MilestoneReleasedAfterReview"]);
    assert_eq!(
        env.token_balance(dev_address(WORKER)),
        U256::from(1_000_000u64 * 1_000_000 + 650_000_000)
    );
    let done = env.run(&["job", "show", "1"]);
    done.success();

    job_redactions(&env).bind(|| {
        insta::assert_snapshot!("job_create_erc20_human", created.stdout);
        insta::assert_snapshot!("job_submit_human", submitted.stdout);
        insta::assert_snapshot!("job_show_in_review", during_review.stdout);
        insta::assert_snapshot!("job_show_review_over", after_review.stdout);
        insta::assert_snapshot!("job_show_done", done.stdout);
    });

    // The lists come from the events, from the deployment block on.
    let by_client = env
        .run(&["job", "list", "--client", &dev_address(CLIENT).to_string(), "--json"])
        .success()
        .json();
    assert_eq!(by_client["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(by_client["jobs"][0]["id"], 1);
    assert_eq!(by_client["jobs"][0]["states"], json!({"released": 2}));
    let lower = worker.to_lowercase();
    let by_worker = env.run(&["job", "list", "--worker", &lower]);
    by_worker.success();
    job_redactions(&env)
        .bind(|| insta::assert_snapshot!("job_list_worker_human", by_worker.stdout));
    let nobody = env
        .run(&["job", "list", "--worker", &dev_address(7).to_string(), "--json"])
        .success()
        .json();
    assert_eq!(nobody["jobs"], json!([]));
}

#[test]
fn a_native_job_funded_later_then_cancelled_with_notice_and_an_offer_withdrawn() {
    let env = Env::new();
    let id = create(
        &env,
        &["--token", "rbtc", "--milestone", "0.5", "--milestone", "1.25", "--fund", "1"],
    );
    assert_eq!(state(&env, id, 1), "unfunded");
    let funded = env.run_as(CLIENT, &["job", "fund", "1", "--json"]).success().json();
    assert_eq!(funded["from"], 1);
    assert_eq!(funded["count"], 1);
    assert_eq!(funded["amount"], "1.25 RBTC");
    assert_eq!(events(&funded), ["MilestoneFunded"]);
    let again = env.run_as(CLIENT, &["job", "fund", "1"]).failure();
    assert_eq!(again, "every milestone of job 1 is funded already");

    env.run_as(WORKER, &["job", "accept", "1"]).success();
    env.run_as(WORKER, &["job", "submit", "1", "0", "--deliverable", "https://example.com/a"])
        .success();

    // Cancelling gives the worker notice (one review period, 3 days by default): milestone 1
    // stays submittable, nothing is refunded yet, the client can no longer fund.
    let noticed = env.run_as(CLIENT, &["job", "cancel", "1"]);
    noticed.success();
    assert!(
        noticed.stdout.starts_with("gave notice of cancellation of job 1: the worker may still submit funded milestone 1 until "),
        "{}",
        noticed.stdout
    );
    assert!(noticed.stdout.contains("milestone 0 still runs to its end"), "{}", noticed.stdout);
    let json = show(&env, 1);
    assert_eq!(json["status"], "cancelling");
    assert!(json["cancelNoticeEnd"].as_u64().unwrap() > json["chainTime"].as_u64().unwrap());
    assert_eq!(json["milestones"][1]["state"], "funded");
    let during = env.run(&["job", "show", "1"]);
    during.success();
    assert!(
        during.stdout.contains("cancellation notice: the worker may still submit it until "),
        "{}",
        during.stdout
    );
    let early = env.run_as(OUTSIDER, &["job", "cancel", "1"]).failure();
    assert!(early.starts_with("job 1 is under cancellation notice until "), "{early}");

    // After the notice anyone finishes it: the unsubmitted milestone goes back to the client.
    env.advance(3 * 86_400 + 1);
    let late_submit = env
        .run_as(WORKER, &["job", "submit", "1", "1", "--deliverable", "https://example.com/b"])
        .failure();
    assert!(
        late_submit.starts_with("the transaction would revert: MilestoneEscrow_NoticeOver(1, ")
            && late_submit.contains("the cancellation notice ended at "),
        "{late_submit}"
    );
    let before = balance(&env, dev_address(CLIENT));
    let cancelled = env.run_as(OUTSIDER, &["job", "cancel", "1"]);
    cancelled.success();
    assert!(
        cancelled
            .stdout
            .starts_with("cancelled job 1: 1.25 RBTC refunded to the client (milestone 1)"),
        "{}",
        cancelled.stdout
    );
    assert_eq!(
        balance(&env, dev_address(CLIENT)) - before,
        U256::from(1_250_000_000_000_000_000u64)
    );
    let json = show(&env, 1);
    assert_eq!(json["status"], "cancelled");
    assert_eq!(json["milestones"][0]["state"], "submitted");
    assert_eq!(json["milestones"][1]["state"], "refunded");
    // The submitted milestone still pays: its review window passed in silence during the notice.
    env.run_as(OUTSIDER, &["job", "release", "1", "0"]).success();

    // An offer not accepted yet is withdrawn, every funded milestone refunded.
    let offer = create(&env, &["--token", "rbtc", "--milestone", "0.3"]);
    let withdrawn =
        env.run_as(CLIENT, &["job", "cancel", &offer.to_string(), "--json"]).success().json();
    assert_eq!(withdrawn["action"], "withdraw-offer");
    assert_eq!(events(&withdrawn), ["MilestoneRefunded", "OfferWithdrawn"]);
    assert_eq!(show(&env, offer)["status"], "withdrawn");
    let twice = env.run_as(CLIENT, &["job", "cancel", &offer.to_string()]).failure();
    assert_eq!(
        twice,
        format!("job {offer} is withdrawn: only an offered or active job can be cancelled")
    );
    job_redactions(&env).bind(|| {
        insta::assert_snapshot!("job_cancel_notice_human", noticed.stdout);
        insta::assert_snapshot!("job_show_cancel_notice", during.stdout);
        insta::assert_snapshot!("job_cancel_human", cancelled.stdout);
    });
}

#[test]
fn a_dispute_ruled_by_the_arbiter_and_one_the_arbiter_let_time_out() {
    let env = Env::new();
    let arbiter = dev_address(ARBITER).to_string();
    let id = active_native_job(
        &env,
        &["--arbiter", &arbiter, "--arbiter-fee", "5%", "--ruling-period", "2d"],
    );
    let created = show(&env, id);
    assert_eq!(created["arbiterFeeBps"], 500);
    assert_eq!(created["rulingPeriod"], 172_800);

    // Milestone 0: the client disputes a submission; the arbiter rules 70% for the worker.
    env.run_as(WORKER, &["job", "submit", "1", "0", "--deliverable", "https://example.com/0"])
        .success();
    let disputed = env.run_as(CLIENT, &["job", "dispute", "1", "0"]);
    disputed.success();
    assert!(
        disputed.stdout.contains(&format!("the arbiter {arbiter} rules until ")),
        "{}",
        disputed.stdout
    );
    assert_eq!(state(&env, id, 0), "disputed");
    let not_arbiter =
        env.run_as(CLIENT, &["job", "resolve", "1", "0", "--worker-share", "100%"]).failure();
    assert_eq!(
        not_arbiter,
        format!(
            "the transaction would revert: MilestoneEscrow_NotArbiter({0}): {0} is not the job's arbiter",
            dev_address(CLIENT)
        )
    );
    let worker_before = balance(&env, dev_address(WORKER));
    let resolved = env
        .run_as(ARBITER, &["job", "resolve", "1", "0", "--worker-share", "70%", "--json"])
        .success()
        .json();
    // 0.5 rBTC: 5% fee = 0.025; 70% of 0.475 = 0.3325 to the worker; 0.1425 back to the client.
    assert_eq!(
        resolved["summary"],
        "resolved milestone 0 of job 1: 0.3325 RBTC to the worker, 0.1425 RBTC to the client, 0.025 RBTC fee to the arbiter"
    );
    assert_eq!(events(&resolved), ["MilestoneResolved"]);
    assert_eq!(
        balance(&env, dev_address(WORKER)) - worker_before,
        U256::from(332_500_000_000_000_000u64)
    );

    // Milestone 1: the worker contests a change request; the arbiter stays silent past the
    // ruling period, so a party splits it 50/50.
    env.run_as(WORKER, &["job", "submit", "1", "1", "--deliverable", "https://example.com/1"])
        .success();
    env.run_as(
        CLIENT,
        &["job", "request-changes", "1", "1", "--reason", "https://example.com/why"],
    )
    .success();
    env.run_as(WORKER, &["job", "dispute", "1", "1"]).success();
    env.advance(2 * 86_400 + 1);
    let timed_out = env.run(&["job", "show", "1"]);
    assert!(timed_out.stdout.contains("ruling period over"), "{}", timed_out.stdout);
    let split = env.run_as(WORKER, &["job", "release", "1", "1", "--json"]).success().json();
    assert_eq!(
        split["summary"],
        "split milestone 1 of job 1 50/50: the arbiter did not rule in time"
    );
    assert!(
        event_text(&split, "MilestoneResolved")
            .contains("resolved 50/50 after the ruling period: 0.625 RBTC to the worker, 0.625 RBTC to the client"),
        "{split}"
    );
    job_redactions(&env).bind(|| insta::assert_snapshot!("job_dispute_human", disputed.stdout));
}

#[test]
fn a_job_without_an_arbiter_has_no_disputes_but_abandoned_milestones_are_reclaimed() {
    let env = Env::new();
    let id = active_native_job(&env, &[]);
    env.run_as(WORKER, &["job", "submit", "1", "0", "--deliverable", "https://example.com/0"])
        .success();
    let nonce = env.nonce(CLIENT);
    let refused = env.run_as(CLIENT, &["job", "dispute", "1", "0"]).failure();
    assert_eq!(
        refused,
        "job 1 has no arbiter, so it has no disputes: ask for changes, approve, or agree a split you both sign (`shiftpay sign settle`)"
    );
    assert_eq!(env.nonce(CLIENT), nonce, "nothing sent");

    // A change request left unanswered for a whole response window: the client takes it back.
    env.run_as(CLIENT, &["job", "request-changes", "1", "0", "--reason-text", "redo"]).success();
    let too_early = env.run_as(CLIENT, &["job", "reclaim", "1", "0"]).failure();
    assert!(
        too_early.starts_with("the transaction would revert: MilestoneEscrow_WindowOpen(1, 0, "),
        "{too_early}"
    );
    env.advance(3 * 86_400 + 1);
    let abandoned = env.run(&["job", "show", "1"]);
    assert!(
        abandoned.stdout.contains("the client may take it back with `job reclaim`"),
        "{}",
        abandoned.stdout
    );
    let client_before = balance(&env, dev_address(CLIENT));
    let reclaimed = env.run_as(CLIENT, &["job", "reclaim", "1", "0", "--json"]).success().json();
    assert_eq!(events(&reclaimed), ["MilestoneRefunded"]);
    assert_eq!(
        reclaimed["summary"],
        "reclaimed milestone 0 of job 1: the worker left the change request unanswered"
    );
    assert!(
        balance(&env, dev_address(CLIENT)) > client_before + U256::from(490_000_000_000_000_000u64)
    );
    env.run_as(WORKER, &["job", "submit", "1", "1", "--deliverable", "https://example.com/1"])
        .success();

    // The worker resigns: nothing funded is left to refund; the submitted milestone runs on.
    let resigned = env.run_as(WORKER, &["job", "resign", "1", "--json"]).success().json();
    assert_eq!(resigned["summary"], "resigned from job 1: 0 RBTC back to the client");
    assert_eq!(events(&resigned), ["WorkerResigned"]);
    assert!(
        resigned["notes"][0]
            .as_str()
            .unwrap()
            .starts_with("submitted or disputed milestone 1 still runs"),
        "{resigned}"
    );
    let json = show(&env, id);
    assert_eq!(json["status"], "resigned");
    assert_eq!(json["milestones"][0]["state"], "refunded");
    assert_eq!(json["milestones"][1]["state"], "submitted");

    // Resigning from a fresh job sends every funded milestone back at once.
    let second = active_native_job(&env, &[]);
    let client_before = balance(&env, dev_address(CLIENT));
    let resigned =
        env.run_as(WORKER, &["job", "resign", &second.to_string(), "--json"]).success().json();
    assert_eq!(
        resigned["summary"],
        format!("resigned from job {second}: 1.75 RBTC back to the client")
    );
    assert_eq!(events(&resigned), ["MilestoneRefunded", "MilestoneRefunded", "WorkerResigned"]);
    assert_eq!(
        balance(&env, dev_address(CLIENT)) - client_before,
        U256::from(1_750_000_000_000_000_000u64)
    );
}

#[test]
fn errors_are_one_sentence_and_send_nothing() {
    let env = Env::new();
    let worker = dev_address(WORKER).to_string();
    let nonces = |env: &Env| (0..4).map(|i| env.nonce(i)).collect::<Vec<_>>();
    let before = nonces(&env);
    let try_create = |extra: &[&str]| {
        let mut args = vec!["job", "create", "--worker", worker.as_str(), "--yes"];
        args.extend_from_slice(extra);
        env.run_as(CLIENT, &args).failure()
    };
    assert_eq!(
        try_create(&["--token", "tUSD", "--milestone", "250", "--review", "3"]),
        "--review: invalid duration \"3\": add a unit, e.g. 3s, 3h or 3d"
    );
    assert!(
        try_create(&["--token", "tUSD", "--milestone", "250", "--review", "3 months"])
            .starts_with("--review: invalid duration"),
    );
    assert_eq!(
        try_create(&["--token", "tUSD", "--milestone", "250", "--milestone", "1.0000001"]),
        "milestone 1: \"1.0000001\" has more decimals than tUSD's 6"
    );
    assert!(try_create(&["--token", "tUSD", "--milestone", "lots"]).starts_with("milestone 0: "));
    assert_eq!(
        try_create(&["--token", "tUSD", "--milestone", "0"]),
        "milestone 0: the amount must be more than 0"
    );
    assert!(
        try_create(&["--token", "USDX", "--milestone", "1"])
            .starts_with("unknown token \"USDX\" on ")
    );
    let malformed = env
        .run_as(
            CLIENT,
            &["job", "create", "--worker", "0x1234", "--token", "rbtc", "--milestone", "1"],
        )
        .failure();
    assert!(malformed.starts_with("--worker: invalid address \"0x1234\""), "{malformed}");
    assert!(
        try_create(&[
            "--token",
            "rbtc",
            "--milestone",
            "1",
            "--arbiter-fee",
            "20%",
            "--arbiter",
            &dev_address(2).to_string()
        ])
        .contains("above the contract's cap of 10%")
    );
    // The outsider holds no tUSD: checked before any approval is sent.
    let poor = env
        .run_as(
            OUTSIDER,
            &["job", "create", "--worker", &worker, "--token", "tUSD", "--milestone", "5", "--yes"],
        )
        .failure();
    assert!(
        poor.starts_with("insufficient balance: ")
            && poor.ends_with("holds 0 tUSD, this needs 5 tUSD"),
        "{poor}"
    );
    // The contract's own rules, decoded: the worker cannot be the client.
    let self_job = env
        .run_as(
            WORKER,
            &["job", "create", "--worker", &worker, "--token", "rbtc", "--milestone", "1"],
        )
        .failure();
    assert_eq!(
        self_job,
        format!("the transaction would revert: MilestoneEscrow_InvalidWorker({worker})")
    );
    assert_eq!(nonces(&env), before, "nothing was sent");

    let id = active_native_job(&env, &[]);
    let before = nonces(&env);
    // Not the client.
    assert_eq!(
        env.run_as(WORKER, &["job", "approve", "1", "0"]).failure(),
        format!(
            "the transaction would revert: MilestoneEscrow_NotClient({worker}): {worker} is not the job's client"
        )
    );
    // Not the worker.
    let client = dev_address(CLIENT).to_string();
    assert_eq!(
        env.run_as(CLIENT, &["job", "submit", "1", "0", "--deliverable", "https://x.io/a"])
            .failure(),
        format!(
            "the transaction would revert: MilestoneEscrow_NotWorker({client}): {client} is not the job's worker"
        )
    );
    // A wrong state, decoded: changes on a milestone that was never submitted.
    assert_eq!(
        env.run_as(CLIENT, &["job", "request-changes", "1", "0", "--reason-text", "no"]).failure(),
        "the transaction would revert: MilestoneEscrow_WrongMilestoneStatus(1, 0, 1): milestone 0 of job 1 is funded"
    );
    assert_eq!(
        env.run_as(OUTSIDER, &["job", "release", "1", "0"]).failure(),
        "milestone 0 of job 1 is funded: only a submitted milestone (after its review window) or a disputed one (after the ruling period) can be released"
    );
    assert_eq!(
        env.run_as(WORKER, &["job", "accept", "1"]).failure(),
        "the transaction would revert: MilestoneEscrow_WrongJobStatus(1, 2): job 1 is active"
    );
    assert_eq!(
        env.run_as(CLIENT, &["job", "approve", "1", "7"]).failure(),
        "job 1 has no milestone 7: its 2 milestones are numbered from 0 to 1"
    );
    assert_eq!(
        env.run(&["job", "show", "9"]).failure(),
        "there is no job 9: this escrow has jobs 1 to 1"
    );
    assert_eq!(
        env.run_as(WORKER, &["job", "submit", "1", "0", "--deliverable", "missing.pdf"]).failure(),
        "the deliverable \"missing.pdf\" is neither an existing file nor a URL (scheme://…)"
    );
    assert_eq!(
        env.run_as(ARBITER, &["job", "resolve", "1", "0", "--worker-share", "70"]).failure(),
        "--worker-share: \"70\" needs a unit: a percentage (70%) or basis points (7000bps)"
    );
    assert!(
        env.run_as(WORKER, &["job", "withdraw", "--token", "rbtc"])
            .failure()
            .ends_with("there is no deferred payment to withdraw")
    );
    let missing_key = env.run(&["job", "approve", "1", "0"]).failure();
    assert!(
        missing_key.starts_with("this command sends a transaction: pass --account NAME"),
        "{missing_key}"
    );
    assert_eq!(nonces(&env), before, "nothing was sent");
    assert_eq!(id, 1);
}

#[test]
fn dry_runs_simulate_and_print_the_decoded_calls() {
    let env = Env::new();
    let worker = dev_address(WORKER).to_string();
    let client = dev_address(CLIENT).to_string();
    let nonce = env.nonce(CLIENT);
    // An ERC-20 job: the approval is planned, the creation depends on it.
    let planned = env.run(&[
        "job",
        "create",
        "--worker",
        &worker,
        "--token",
        "tUSD",
        "--milestone",
        "250",
        "--dry-run",
        "--from",
        &client,
        "--json",
    ]);
    planned.success();
    let json = planned.json();
    assert_eq!(json["dryRun"], true);
    let txs = json["transactions"].as_array().unwrap();
    assert_eq!(txs.len(), 2);
    assert_eq!(txs[0]["call"]["function"], "approve");
    assert_eq!(txs[1]["call"]["function"], "createJob");
    assert_eq!(txs[1]["simulated"], false);
    assert_eq!(env.nonce(CLIENT), nonce);

    let id = active_native_job(&env, &[]);
    let nonce = env.nonce(CLIENT);
    let approve =
        env.run(&["job", "approve", &id.to_string(), "0", "--dry-run", "--from", &client]);
    approve.success();
    assert!(
        approve.stdout.contains("call   approveMilestone(jobId: 1, milestoneIndex: 0)"),
        "{}",
        approve.stdout
    );
    assert!(approve.stdout.contains("result succeeds, about "), "{}", approve.stdout);
    assert!(approve.stderr.contains("dry run: nothing was sent"), "{}", approve.stderr);
    // A dry run that would revert says why, like a real send.
    let reverts = env.run(&["job", "approve", "1", "0", "--dry-run", "--from", &worker]).failure();
    assert!(reverts.contains("MilestoneEscrow_NotClient"), "{reverts}");
    assert_eq!(env.nonce(CLIENT), nonce);
}

#[test]
fn a_payout_that_failed_is_credited_and_withdrawn() {
    let env = Env::new();
    // A token that refuses transfers to blocked accounts, listed in the deployment file.
    let mut code = EscrowBlocklistToken::BYTECODE.to_vec();
    code.extend(EscrowBlocklistToken::constructorCall {}.abi_encode());
    let token = send_as(&env, CLIENT, None, code)["contractAddress"].as_str().unwrap().to_owned();
    send_as(
        &env,
        CLIENT,
        Some(&token),
        EscrowBlocklistToken::mintCall {
            to: dev_address(CLIENT),
            amount: U256::from(10u64).pow(U256::from(21)),
        }
        .abi_encode(),
    );
    env.list_token("BLOCK", &token, 18);
    let id = create(&env, &["--token", "BLOCK", "--milestone", "100"]);
    env.run_as(WORKER, &["job", "accept", "1"]).success();
    env.run_as(WORKER, &["job", "submit", "1", "0", "--deliverable", "https://example.com/w"])
        .success();
    send_as(
        &env,
        CLIENT,
        Some(&token),
        EscrowBlocklistToken::setBlockedCall { account: dev_address(WORKER), isBlocked: true }
            .abi_encode(),
    );
    let approved = env.run_as(CLIENT, &["job", "approve", "1", "0", "--json"]).success().json();
    assert_eq!(events(&approved), ["MilestoneApproved", "PaymentDeferred"]);
    assert!(
        event_text(&approved, "PaymentDeferred").contains("failed: it is credited instead"),
        "{approved}"
    );

    // Unblocked, the worker takes it out (to another address of theirs).
    send_as(
        &env,
        CLIENT,
        Some(&token),
        EscrowBlocklistToken::setBlockedCall { account: dev_address(WORKER), isBlocked: false }
            .abi_encode(),
    );
    let to = dev_address(6);
    let withdrawn = env
        .run_as(WORKER, &["job", "withdraw", "--token", "BLOCK", "--to", &to.to_string(), "--json"])
        .success()
        .json();
    assert_eq!(withdrawn["amount"], "100 BLOCK");
    let balance_of =
        hex::encode_prefixed(EscrowBlocklistToken::balanceOfCall { account: to }.abi_encode());
    let out =
        rpc(&env.node.url(), "eth_call", json!([{"to": token, "data": balance_of}, "latest"]));
    assert_eq!(
        U256::from_str_radix(out.as_str().unwrap().trim_start_matches("0x"), 16).unwrap(),
        U256::from(10u64).pow(U256::from(20))
    );
    assert!(
        env.run_as(WORKER, &["job", "withdraw", "--token", "BLOCK"]).failure().contains("owes")
    );
    assert_eq!(id, 1);
}

#[test]
fn after_the_deadline_the_client_reclaims_and_an_unreachable_node_is_one_sentence() {
    let env = Env::new();
    let id = active_native_job(&env, &["--deadline", "2d"]);
    assert!(show(&env, id)["deadline"].as_u64().is_some());
    env.run_as(WORKER, &["job", "submit", "1", "0", "--deliverable", "https://example.com/0"])
        .success();
    let early = env.run_as(CLIENT, &["job", "reclaim", "1"]).failure();
    assert!(
        early.starts_with("the transaction would revert: MilestoneEscrow_DeadlineNotPassed(1, "),
        "{early}"
    );
    env.advance(2 * 86_400 + 1);
    let late = env
        .run_as(WORKER, &["job", "submit", "1", "1", "--deliverable", "https://example.com/1"])
        .failure();
    assert!(
        late.contains("MilestoneEscrow_DeadlinePassed(1, ")
            && late.contains("the job's deadline passed at "),
        "{late}"
    );
    let reclaimed = env.run_as(CLIENT, &["job", "reclaim", "1", "--json"]).success().json();
    assert_eq!(
        reclaimed["summary"],
        "reclaimed 1 unsubmitted milestone of job 1 after its deadline"
    );
    assert_eq!(events(&reclaimed), ["MilestoneRefunded", "ExpiredMilestonesReclaimed"]);
    assert_eq!(state(&env, id, 1), "refunded");
    assert_eq!(state(&env, id, 0), "submitted");

    env.proxy.set_down(true);
    let down = env.run(&["job", "show", "1"]).failure();
    assert!(down.starts_with(&format!("cannot reach the node at {}", env.url())), "{down}");
    let nonce = env.nonce(CLIENT);
    assert!(
        env.run_as(CLIENT, &["job", "approve", "1", "0"])
            .failure()
            .starts_with("cannot reach the node at ")
    );
    env.proxy.set_down(false);
    assert_eq!(env.nonce(CLIENT), nonce);
}
