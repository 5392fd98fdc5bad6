//! `shiftpay stream create --from-csv`: the 200-row roster of `tests/data/roster-200.csv`, first
//! with 5 bad rows (named, nothing sent), then created in as many `multicall` transactions as a
//! Rootstock-sized block gas limit (6.8M) requires, and resumed after a failure midway.

use serde_json::{Value, json};

use crate::{
    common::{AnvilOptions, cast, dev_address, redactions, rpc},
    stream::{Env, hex_u64},
};

const ROSTER: &str = include_str!("../data/roster-200.csv");

/// anvil with Rootstock's block gas limit.
fn rootstock_sized() -> Env {
    Env::with(AnvilOptions::default().arg("--gas-limit").arg("6800000"))
}

/// The roster with lines replaced (1-based line numbers, the header being line 1).
fn roster_with(replacements: &[(usize, String)]) -> String {
    let mut lines: Vec<String> = ROSTER.lines().map(str::to_owned).collect();
    for (line, text) in replacements {
        lines[line - 1] = text.clone();
    }
    lines.join("\n") + "\n"
}

fn worker_of(line: usize) -> String {
    ROSTER.lines().nth(line - 1).unwrap().split(',').next().unwrap().to_owned()
}

fn create(env: &Env, key: usize, extra: &[&str]) -> crate::common::Run {
    let mut args = vec!["stream", "create", "--from-csv", "roster.csv"];
    args.extend_from_slice(extra);
    env.run_as(key, &args)
}

#[test]
fn five_bad_rows_are_named_and_nothing_is_sent() {
    let env = Env::new();
    let bad = [
        (
            8,
            "0x12345,tUSD,1500 tUSD/month,now,,bad-address".to_owned(),
            "invalid address \"0x12345\": it has 5 hex digits instead of 40",
        ),
        (
            42,
            format!("{},XYZ,1500/month,now,,bad-token", worker_of(42)),
            "unknown token \"XYZ\" on Local devnet",
        ),
        (
            77,
            format!("{},tUSD,fifteen hundred/month,now,,bad-rate", worker_of(77)),
            "invalid rate \"fifteen hundred/month\"",
        ),
        (
            150,
            format!("{},tUSD,1500 tUSD/month,2020-01-01,,past-start", worker_of(150)),
            "the start 2020-01-01T00:00:00Z is in the past",
        ),
        (
            201,
            format!("{},tUSD,1.1234567 tUSD/hour,now,,too-precise", worker_of(201)),
            "\"1.1234567\" has more decimals than tUSD's 6",
        ),
    ];
    env.sandbox.write(
        "roster.csv",
        &roster_with(&bad.iter().map(|(l, t, _)| (*l, t.clone())).collect::<Vec<_>>()),
    );
    let nonce = env.nonce(0);
    let block = crate::common::block_number(&env.node.url());
    let run = create(&env, 0, &["--yes"]);
    let error = run.failure();
    assert_eq!(
        error,
        "roster.csv: 5 of 200 rows are invalid (rows 8, 42, 77, 150, 201): nothing was sent"
    );
    let reported: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("row ")).collect();
    assert_eq!(reported.len(), 5, "{}", run.stderr);
    for ((line, _, reason), reported) in bad.iter().zip(&reported) {
        assert!(reported.starts_with(&format!("row {line}: ")), "{reported}");
        assert!(reported.contains(reason), "row {line}: {reported}");
    }
    // Nothing was sent: same nonce, no new block, no stream, no state file.
    assert_eq!(env.nonce(0), nonce);
    assert_eq!(crate::common::block_number(&env.node.url()), block);
    assert!(env.stream_created_logs().is_empty());
    assert!(!env.sandbox.path("roster.csv.shiftpay.json").exists());
}

/// The batches of a run: every one fits the block, every one but the last is full (one more row
/// would not have fitted the estimate budget), and together they create rows 2..=201 in order.
fn check_batches(json: &Value, rows: std::ops::RangeInclusive<usize>) -> usize {
    let budget = json["gasBudget"].as_u64().unwrap();
    let limit = json["blockGasLimit"].as_u64().unwrap();
    assert_eq!(limit, 6_800_000);
    // The block less the state-change buffer, less the 20% margin (`TxPolicy::batch_gas_budget`).
    assert_eq!(budget, (6_800_000 - shiftpay_bindings::tx::STATE_CHANGE_GAS) * 100 / 120);
    let batches = json["transactions"].as_array().unwrap();
    let mut expected = rows.clone();
    let mut total_estimate = 0;
    for (i, batch) in batches.iter().enumerate() {
        let estimate = batch["gasEstimate"].as_u64().unwrap();
        let streams = batch["streams"].as_u64().unwrap();
        total_estimate += estimate;
        assert!(estimate <= budget, "{batch}");
        assert!(batch["gasLimit"].as_u64().unwrap() <= limit, "{batch}");
        assert!(
            batch["gasUsed"].as_u64().unwrap() <= batch["gasLimit"].as_u64().unwrap(),
            "{batch}"
        );
        if i + 1 < batches.len() {
            // The search estimated this batch with the next row too: over the budget (or
            // refused by the node for lack of gas).
            let next = &batch["oneMoreRowGas"];
            assert!(
                next.is_null() || next.as_u64().unwrap() > budget,
                "batch {i} could have taken another row: {batch}"
            );
            assert!(streams > 1);
        }
        for row in batch["rows"].as_array().unwrap() {
            assert_eq!(row.as_u64().unwrap() as usize, expected.next().unwrap());
        }
    }
    assert!(expected.next().is_none(), "every row was created");
    // As few transactions as the estimates allow: never fewer than their sum needs, and at
    // most one more (rows are not split across batches).
    let least = total_estimate.div_ceil(budget);
    assert!(
        (least..=least + 1).contains(&(batches.len() as u64)),
        "{} batches, {total_estimate} gas",
        batches.len()
    );
    batches.len()
}

#[test]
fn the_roster_is_created_in_as_many_transactions_as_the_gas_limit_requires() {
    let env = rootstock_sized();
    env.sandbox.write("roster.csv", ROSTER);
    let run = create(&env, 0, &["--json"]);
    run.success();
    let json = run.json();
    assert_eq!(json["rows"], 200);
    assert_eq!(json["created"], 200);
    assert_eq!(json["existing"], 0);
    let transactions = check_batches(&json, 2..=201);
    assert!(transactions > 1, "200 streams do not fit one 6.8M-gas block");
    eprintln!("200 rows: {transactions} transactions at a 6.8M block gas limit");
    assert_eq!(env.stream_created_logs().len(), 200);
    assert_eq!(
        cast(&["call", &env.payroll, "nextStreamId()(uint256)", "--rpc-url", &env.node.url()]),
        "201"
    );

    // Each row got its stream, and labels are kept off-chain with the ids.
    let streams = json["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 200);
    let doe = streams.iter().find(|s| s["row"] == 26).unwrap();
    assert_eq!(doe["label"], "Doe, Jane #25");
    assert_eq!(doe["status"], "created");
    let night = streams.iter().find(|s| s["row"] == 34).unwrap();
    assert_eq!(night["label"], "the \"night\" shift 33");
    let state: Value = serde_json::from_str(&env.sandbox.read("roster.csv.shiftpay.json")).unwrap();
    assert_eq!(state["streams"].as_array().unwrap().len(), 200);
    assert_eq!(state["streams"][24]["label"], "Doe, Jane #25");
    assert_eq!(state["streams"][24]["streamId"], doe["streamId"]);
    // A future start and end are stored as given; a relative end from the run's time.
    let row4 = streams.iter().find(|s| s["row"] == 4).unwrap();
    assert_eq!(row4["start"], "2030-01-01T00:00:00Z");
    assert_eq!(row4["end"], "2031-06-30T00:00:00Z");
    let row3 = streams.iter().find(|s| s["row"] == 3).unwrap();
    let id = row3["streamId"].to_string();
    let show = env.run(&["stream", "show", &id, "--json"]).success().json();
    assert_eq!(
        show["endUnix"].as_u64().unwrap(),
        state["resolvedAt"].as_u64().unwrap() + 90 * 86_400
    );
    assert_eq!(show["rate"]["perHour"], "24.9999999999999984 tUSD/hour");

    // Running it again creates nothing.
    let nonce = env.nonce(0);
    let again = create(&env, 0, &["--json"]);
    let json = again.success().json();
    assert_eq!((json["created"].as_u64(), json["existing"].as_u64()), (Some(0), Some(200)));
    assert!(json["transactions"].as_array().unwrap().is_empty());
    assert_eq!(env.nonce(0), nonce);
}

#[test]
fn a_failure_midway_is_resumed_without_duplicates() {
    let env = rootstock_sized();
    env.sandbox.write("roster.csv", ROSTER);
    // Dev account 5 can pay for one full batch at 2 gwei, not two.
    let employer = dev_address(5).to_string();
    let fund = |wei: u128| {
        rpc(&env.node.url(), "anvil_setBalance", json!([employer, format!("{wei:#x}")]))
    };
    fund(20_000_000_000_000_000); // 0.02 RBTC
    let failed = create(&env, 5, &["--gas-price", "2gwei"]);
    let error = failed.failure();
    assert!(error.starts_with("insufficient balance: "), "{error}");
    assert!(
        failed.stderr.contains("run the same command again to create the rest"),
        "{}",
        failed.stderr
    );
    let first = env.stream_created_logs().len();
    assert!(first > 0 && first < 200, "one batch was created: {first}");
    assert!(env.sandbox.path("roster.csv.shiftpay.json").exists());

    // Relative times keep their first-run values although the clock moved.
    env.advance(3_600);
    fund(100_000_000_000_000_000_000);
    let resumed = create(&env, 5, &["--gas-price", "2gwei", "--json"]);
    resumed.success();
    assert!(resumed.stderr.contains("resuming roster.csv"), "{}", resumed.stderr);
    let json = resumed.json();
    assert_eq!(json["existing"].as_u64().unwrap() as usize, first);
    assert_eq!(json["created"].as_u64().unwrap() as usize, 200 - first);
    check_batches(&json, (first + 2)..=201);
    assert_eq!(env.stream_created_logs().len(), 200, "no stream was created twice");
    let ids: std::collections::BTreeSet<u64> = json["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["streamId"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, (1..=200).collect(), "every row has its own stream");
    let nonce =
        hex_u64(&rpc(&env.node.url(), "eth_getTransactionCount", json!([employer, "latest"])));
    let batches = json["transactions"].as_array().unwrap().len() as u64;
    assert_eq!(nonce, 1 + batches, "the failed attempt sent one batch, the resumed run the rest");
}

#[test]
fn a_dry_run_plans_the_batches_and_sends_nothing() {
    let env = Env::new();
    let small: String = ROSTER.lines().take(6).collect::<Vec<_>>().join("\n");
    env.sandbox.write("roster.csv", &small);
    let run = env.run(&[
        "stream",
        "create",
        "--from-csv",
        "roster.csv",
        "--dry-run",
        "--from",
        &dev_address(0).to_string(),
    ]);
    run.success();
    assert!(
        run.stdout.contains("call   multicall of 5 calls:\n            1. createStream(worker: "),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("dry run: 5 streams would be created in 1 transaction"),
        "{}",
        run.stderr
    );
    assert!(env.stream_created_logs().is_empty());
    assert!(!env.sandbox.path("roster.csv.shiftpay.json").exists());
}

#[test]
fn human_output_of_a_small_roster() {
    let env = Env::new();
    let small: String = ROSTER.lines().take(6).collect::<Vec<_>>().join("\n");
    env.sandbox.write("roster.csv", &small);
    let run = create(&env, 0, &[]);
    run.success();
    let mut settings = redactions(&env.sandbox);
    settings.add_filter(r"of \d+ limit", "of [GAS] limit");
    settings.bind(|| insta::assert_snapshot!("roster_created_human", run.stdout));
    assert!(
        run.stderr.contains("labels and stream ids saved in roster.csv.shiftpay.json"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("rate: 0.05 RBTC/month = 19290123456 per second (scaled 1e18)"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_roster_without_header_or_with_unknown_columns_is_refused() {
    let env = Env::new();
    let body: String = ROSTER.lines().skip(1).take(3).collect::<Vec<_>>().join("\n");
    env.sandbox.write("roster.csv", &body);
    let error = create(&env, 0, &[]).failure();
    assert!(error.starts_with("roster.csv: it has no header row"), "{error}");
    env.sandbox.write("roster.csv", &format!("worker,salary\n{body}"));
    let error = create(&env, 0, &[]).failure();
    assert!(error.starts_with("roster.csv: unknown column \"salary\""), "{error}");
    let error = env.run_as(0, &["stream", "create", "--from-csv", "missing.csv"]).failure();
    assert!(error.starts_with("cannot read missing.csv"), "{error}");
}
