//! The relayer benchmark (issue 10): a program that measures and prints, not a timed test.
//!
//! ```text
//! nice -n 10 cargo bench -p shiftpay-relayer --bench relayer -- \
//!     --count 1000 --write relayer/BENCH.md --readme README.md
//! ```
//!
//! 1. **Baseline** (a fresh anvil): `count` milestones submitted and their review windows over
//!    (set up in pipelined batches straight to anvil); a tight alloy loop signs the `count`
//!    `releaseAfterReview` transactions (legacy, explicit gas price, its own nonce counter),
//!    sends them with up to 64 in flight and waits until all `count` releases are on-chain:
//!    the machine's limit.
//! 2. **Relayer** (another fresh anvil, the same setup): the real `shiftpay-relayer` binary as a
//!    child process (devnet preset: 1 confirmation; SQLite store; poll interval `--poll-interval`),
//!    timed from its start until the `count`-th `MilestoneReleasedAfterReview` event is on-chain
//!    (counted from the node's logs, not from what the relayer says). The ratio of the two
//!    rates is the figure (target >= 0.8).
//! 3. **Latency** (the same relayer, still running): `--latency-batch` milestones submitted in
//!    one block whose review window is over in the very block that gives them their
//!    confirmation; from the moment the bench mines that block to each payout transaction seen
//!    by the node (the relayer's `pending` nonce), median and max (target: one poll interval).
//! 4. **Peak RSS**: the relayer's `VmHWM` from `/proc/<pid>/status`, sampled until it exits
//!    after SIGTERM (target <= 64 MB), the highest of all rounds.
//!
//! Steps 1 and 2 alternate `--rounds` times (default 3) on fresh chains; the best round of each
//! counts (the machine is shared: its load weighs on both alike), every round is shown.
//!
//! Progress goes to stderr, the table to stdout; `--write FILE` records it in FILE (the part
//! after the generated block is kept), `--readme FILE` replaces the block between
//! `<!-- relayer-bench:begin -->` and `<!-- relayer-bench:end -->` with a summary. Relative
//! paths are taken from the workspace root.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use alloy::{
    eips::eip2718::Encodable2718,
    network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder},
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider},
    rpc::types::{Filter, TransactionRequest},
    sol_types::{SolCall, SolEvent},
};
use clap::Parser;
use eyre::{WrapErr, bail, ensure, eyre};
use shiftpay_relayer::bindings::{
    deployment::{ContractDeployment, Deployment},
    escrow::{JobParams, MilestoneEscrow},
    payroll::Payroll,
    rpc::connect_http,
};
use shiftpay_tests::anvil::{
    AnvilOptions, AnvilProcess, DEV_KEYS, anvil_binary, dev_address, dev_signer, workspace_root,
};
use tempfile::TempDir;
use tokio::task::JoinSet;

/// The relayer's signer (and the baseline's sender: the same transactions from the same kind
/// of account).
const RELAYER: usize = 0;
/// The client of every job.
const CLIENT: usize = 1;
/// The worker of every job.
const WORKER: usize = 2;
/// Deploys the contracts.
const DEPLOYER: usize = 9;
/// Chain id of the devnet preset (anvil's default in `AnvilOptions`).
const CHAIN_ID: u64 = 33;
/// Milestones per job (the contract's `MAX_MILESTONES`).
const PER_JOB: usize = 50;
/// Review period of the throughput jobs (the setup then moves the chain's clock past it).
const REVIEW: u32 = 3_600;
/// Transactions in flight in the pipelined loops (setup and baseline).
const IN_FLIGHT: usize = 64;
/// How often the bench reads the chain's logs while timing.
const EVENT_POLL: Duration = Duration::from_millis(20);
/// How often the bench reads the relayer's pending nonce while timing the latency.
const NONCE_POLL: Duration = Duration::from_millis(2);
/// Where the generated part of `--write` ends (what follows is kept).
const BENCH_END: &str = "<!-- bench:end -->";
/// The README block `--readme` replaces.
const README_BEGIN: &str = "<!-- relayer-bench:begin -->";
const README_END: &str = "<!-- relayer-bench:end -->";

/// Measures the relayer against a tight alloy loop on anvil.
#[derive(Debug, Parser)]
#[command(name = "relayer-bench")]
struct Args {
    /// Due milestone releases in the throughput runs.
    #[arg(long, default_value_t = 1_000)]
    count: usize,
    /// Rounds of the throughput runs (baseline, relayer, alternating; the best of each counts).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Milestones of the latency batch.
    #[arg(long, default_value_t = 20)]
    latency_batch: usize,
    /// The relayer's poll interval, in milliseconds.
    #[arg(long, default_value_t = 1_000)]
    poll_interval_ms: u64,
    /// Record the table in this Markdown file.
    #[arg(long, value_name = "FILE")]
    write: Option<PathBuf>,
    /// Replace the relayer-bench block of this README with a summary.
    #[arg(long, value_name = "FILE")]
    readme: Option<PathBuf>,
    /// Keep the relayer's log (stderr, `RUST_LOG=info`) in this file, for profiling.
    #[arg(long, value_name = "FILE")]
    relayer_log: Option<PathBuf>,
    /// Instead of the runs above: confirmed payouts per second of 1, 2 and 3 relayer instances
    /// on one PostgreSQL database (a fresh schema per run) at this URL, with one signer and
    /// with a signer each, beside the SQLite single instance; `--write` appends that table to
    /// FILE (below what is there).
    #[arg(long, value_name = "URL")]
    postgres: Option<String>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() -> eyre::Result<()> {
    let args = Args::parse();
    ensure!(
        args.count > 0 && args.latency_batch > 0 && args.rounds > 0,
        "--count, --rounds and --latency-batch must be > 0"
    );
    ensure!(args.latency_batch <= PER_JOB, "--latency-batch is at most {PER_JOB} (one job)");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    if let Some(url) = &args.postgres {
        let table = runtime.block_on(instances::run(&args, url))?;
        println!("{table}");
        if let Some(path) = &args.write {
            let path = from_root(path);
            instances::append(&path, &table, &command_line())?;
            eprintln!("appended to {}", path.display());
        }
        return Ok(());
    }
    let report = runtime.block_on(run(&args))?;
    let table = report.table();
    println!("{table}");
    let command = command_line();
    if let Some(path) = &args.write {
        let path = from_root(path);
        write_bench_md(&path, &report, &table, &command)?;
        eprintln!("recorded in {}", path.display());
    }
    if let Some(path) = &args.readme {
        let path = from_root(path);
        write_readme(&path, &report, &command)?;
        eprintln!("summary updated in {}", path.display());
    }
    Ok(())
}

/// Everything measured.
#[derive(Debug)]
struct Report {
    count: usize,
    poll_interval: Duration,
    /// Each round's baseline time.
    baseline: Vec<Duration>,
    /// Each round's time of the node's re-check work alone ([`recheck_round`]).
    recheck: Vec<Duration>,
    /// Each round's relayer time to the last and to the first release on-chain.
    relayer: Vec<(Duration, Duration)>,
    peak_rss_kb: u64,
    latencies: Vec<Duration>,
    /// Where the relayer's time goes, from its log (the best round).
    profile: Option<Profile>,
}

/// Medians of the gaps between consecutive log lines of one kind in the relayer's JSON log:
/// "sending" (logged per payout after its batch's nonces and signed bytes were recorded in one
/// store transaction, as its broadcast is started) and "confirmed" (logged per transaction
/// after a step's receipts were written in one store transaction).
#[derive(Debug, Clone, Copy)]
struct Profile {
    record: Duration,
    confirm: Duration,
}

impl Profile {
    fn from_log(log: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(log).ok()?;
        let (mut sending, mut confirmed) = (Vec::new(), Vec::new());
        for line in text.lines() {
            let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else { continue };
            let message = value.pointer("/fields/message").and_then(|m| m.as_str());
            let Some(at) = value
                .get("timestamp")
                .and_then(|t| t.as_str())
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            else {
                continue;
            };
            match message {
                Some("sending") => sending.push(at),
                Some("confirmed") => confirmed.push(at),
                _ => {}
            }
        }
        Some(Self { record: median_gap(&sending)?, confirm: median_gap(&confirmed)? })
    }
}

/// The median gap between consecutive timestamps.
fn median_gap(times: &[jiff::Timestamp]) -> Option<Duration> {
    let mut gaps: Vec<Duration> = times
        .windows(2)
        .filter_map(|pair| Duration::try_from(pair[1].duration_since(pair[0])).ok())
        .collect();
    gaps.sort();
    gaps.get(gaps.len() / 2).copied()
}

impl Report {
    fn rate(&self, time: Duration) -> f64 {
        self.count as f64 / time.as_secs_f64()
    }

    /// The best baseline round.
    fn baseline_best(&self) -> Duration {
        self.baseline.iter().copied().min().unwrap_or_default()
    }

    /// The best relayer round (to the last release, to the first).
    fn relayer_best(&self) -> (Duration, Duration) {
        self.relayer.iter().copied().min().unwrap_or_default()
    }

    fn baseline_rate(&self) -> f64 {
        self.rate(self.baseline_best())
    }

    fn relayer_rate(&self) -> f64 {
        self.rate(self.relayer_best().0)
    }

    /// "a, b, c" payouts per second of every round.
    fn rates(&self, times: impl Iterator<Item = Duration>) -> String {
        times.map(|time| format!("{:.0}", self.rate(time))).collect::<Vec<_>>().join(", ")
    }

    fn ratio(&self) -> f64 {
        self.relayer_rate() / self.baseline_rate()
    }

    /// Re-checks per second, best round.
    fn recheck_rate(&self) -> f64 {
        self.rate(self.recheck.iter().copied().min().unwrap_or_default())
    }

    /// The highest ratio a relayer that re-checks every payout can reach on this node: each
    /// payout costs the node one re-check and one send, so at best `1 / (1/r + 1/b)` payouts
    /// per second, `r / (r + b)` of the baseline `b`.
    fn ratio_ceiling(&self) -> f64 {
        let (r, b) = (self.recheck_rate(), self.baseline_rate());
        r / (r + b)
    }

    fn peak_rss_mb(&self) -> f64 {
        self.peak_rss_kb as f64 / 1024.0
    }

    fn latency_median(&self) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let n = sorted.len();
        if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2 }
    }

    fn latency_max(&self) -> Duration {
        self.latencies.iter().copied().max().unwrap_or_default()
    }

    fn verdict(ok: bool) -> &'static str {
        if ok { "met" } else { "MISSED" }
    }

    /// The Markdown table.
    fn table(&self) -> String {
        let n = self.count;
        let poll = self.poll_interval.as_millis();
        let mut out = String::new();
        out.push_str("| figure | measured | target | |\n| --- | --- | --- | --- |\n");
        let rounds = self.baseline.len();
        let _ = writeln!(
            out,
            "| baseline: tight alloy loop, {n} `releaseAfterReview` signed, sent and on-chain (best of {rounds}) | {:.1} tx/s ({:.2} s; rounds: {} tx/s) | the machine's limit | |",
            self.baseline_rate(),
            self.baseline_best().as_secs_f64(),
            self.rates(self.baseline.iter().copied()),
        );
        let (last, first) = self.relayer_best();
        let _ = writeln!(
            out,
            "| relayer: {n} due releases, start of the binary to the last release on-chain (best of {rounds}) | {:.1} payouts/s ({:.2} s, the first on-chain at {:.2} s; rounds: {} payouts/s) | | |",
            self.relayer_rate(),
            last.as_secs_f64(),
            first.as_secs_f64(),
            self.rates(self.relayer.iter().map(|&(last, _)| last)),
        );
        let _ = writeln!(
            out,
            "| relayer, first to last release on-chain (same round) | {:.1} payouts/s | | |",
            (n.saturating_sub(1)) as f64 / (last - first).as_secs_f64().max(f64::EPSILON),
        );
        if let Some(profile) = self.profile {
            let _ = writeln!(
                out,
                "| relayer, from its log (best round): median gap between two payouts recorded / two confirmations (a batch of each in one store transaction) | {:.2} ms / {:.2} ms | | |",
                profile.record.as_secs_f64() * 1000.0,
                profile.confirm.as_secs_f64() * 1000.0,
            );
        }
        let _ = writeln!(
            out,
            "| the node's part of the relayer's re-check alone: {n} x (`getMilestone` eth_call + `eth_estimateGas`), {IN_FLIGHT} in flight (best of {rounds}) | {:.1} re-checks/s (rounds: {} /s) | | |",
            self.recheck_rate(),
            self.rates(self.recheck.iter().copied()),
        );
        let _ = writeln!(
            out,
            "| highest ratio a relayer that re-checks every payout can reach here: r / (r + b) | {:.2} | | |",
            self.ratio_ceiling(),
        );
        let _ = writeln!(
            out,
            "| ratio relayer / baseline | {:.2} | >= 0.8 | {} |",
            self.ratio(),
            Self::verdict(self.ratio() >= 0.8)
        );
        let _ = writeln!(
            out,
            "| relayer peak RSS (VmHWM) | {:.1} MB | <= 64 MB | {} |",
            self.peak_rss_mb(),
            Self::verdict(self.peak_rss_mb() <= 64.0)
        );
        let _ = writeln!(
            out,
            "| confirmation depth reached -> payout seen by the node, {} payouts (median / max) | {} ms / {} ms | <= poll interval ({poll} ms) | {} |",
            self.latencies.len(),
            self.latency_median().as_millis(),
            self.latency_max().as_millis(),
            Self::verdict(self.latency_max() <= self.poll_interval)
        );
        out
    }
}

async fn run(args: &Args) -> eyre::Result<Report> {
    let count = args.count;
    let poll_interval = Duration::from_millis(args.poll_interval_ms);
    let mut report = Report {
        count,
        poll_interval,
        baseline: Vec::new(),
        recheck: Vec::new(),
        relayer: Vec::new(),
        peak_rss_kb: 0,
        latencies: Vec::new(),
        profile: None,
    };
    // Rounds alternate, so that the load of the shared machine weighs on both alike.
    for round in 1..=args.rounds {
        let tag = format!("[{round}/{}]", args.rounds);
        eprintln!("{tag} baseline: {count} due milestones on a fresh anvil, a tight alloy loop");
        let (baseline, recheck) = baseline_round(count).await?;
        eprintln!(
            "{tag} baseline: {:.2} s (the re-checks alone before it: {:.2} s)",
            baseline.as_secs_f64(),
            recheck.as_secs_f64()
        );
        report.baseline.push(baseline);
        report.recheck.push(recheck);

        eprintln!("{tag} relayer: {count} due milestones on a fresh anvil, the relayer binary");
        let chain = Chain::setup(count).await?;
        let config = chain.relayer_config(poll_interval)?;
        let mut releases = chain.release_counter();
        let started = Instant::now();
        let mut relayer = RelayerProcess::spawn(&config, chain.dir.path())?;
        let times = match releases.wait_for(count, started, timeout_for(count)).await {
            Ok(times) => times,
            Err(err) => bail!("{err}\nthe relayer's log ends with:\n{}", relayer.log_tail()),
        };
        ensure!(releases.seen == count, "relayer: {} releases for {count} due", releases.seen);
        eprintln!("{tag} relayer: {:.2} s", times.0.as_secs_f64());
        report.relayer.push(times);
        if round == args.rounds {
            eprintln!(
                "{tag} latency: {} milestones due in the block that confirms them",
                args.latency_batch
            );
            report.latencies =
                match latency(&chain, &mut releases, args.latency_batch, poll_interval).await {
                    Ok(latencies) => latencies,
                    Err(err) => {
                        bail!("{err}\nthe relayer's log ends with:\n{}", relayer.log_tail())
                    }
                };
        }
        report.peak_rss_kb = report.peak_rss_kb.max(relayer.stop()?);
        if report.relayer_best() == times {
            report.profile = Profile::from_log(&relayer.log);
        }
        if let Some(path) = &args.relayer_log {
            std::fs::copy(&relayer.log, from_root(path)).wrap_err("--relayer-log")?;
        }
    }
    Ok(report)
}

/// One baseline run on a fresh chain: from the first signature to the last release on-chain;
/// and, before it on the same chain, the time of the relayer's re-check work alone
/// ([`recheck_round`]).
async fn baseline_round(count: usize) -> eyre::Result<(Duration, Duration)> {
    let chain = Chain::setup(count).await?;
    let calls: Vec<_> = chain
        .releases
        .iter()
        .map(|&(job, milestone)| {
            chain.call(
                chain.escrow(),
                &MilestoneEscrow::releaseAfterReviewCall { jobId: job, milestoneIndex: milestone },
            )
        })
        .collect();
    let recheck = recheck_round(&chain).await?;
    let mut releases = chain.release_counter();
    let started = Instant::now();
    send_pipelined(&chain.provider, RELAYER, calls).await?;
    let (last, _) = releases.wait_for(count, started, timeout_for(count)).await?;
    ensure!(releases.seen == count, "baseline: {} releases for {count} sent", releases.seen);
    Ok((last, recheck))
}

/// The node's share of the relayer's re-check, alone: for every due release, the two calls
/// its sender makes before signing (`getMilestone` through `eth_call`, then `eth_estimateGas`
/// of `releaseAfterReview` from the relayer's address), [`IN_FLIGHT`] releases at a time, on
/// the baseline's chain before it sends. A relayer that re-checks each payout on-chain, as the
/// issue asks, cannot pay faster than this work and the sends together allow.
async fn recheck_round(chain: &Chain) -> eyre::Result<Duration> {
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for &(job, milestone) in &chain.releases {
        if tasks.len() >= IN_FLIGHT
            && let Some(joined) = tasks.join_next().await
        {
            joined??;
        }
        let provider = chain.provider.clone();
        let read = chain.call(
            chain.escrow(),
            &MilestoneEscrow::getMilestoneCall { jobId: job, milestoneIndex: milestone },
        );
        let release = chain
            .call(
                chain.escrow(),
                &MilestoneEscrow::releaseAfterReviewCall { jobId: job, milestoneIndex: milestone },
            )
            .from(dev_address(RELAYER));
        tasks.spawn(async move {
            provider.call(read).await.wrap_err("eth_call getMilestone")?;
            provider.estimate_gas(release).await.wrap_err("eth_estimateGas releaseAfterReview")?;
            Ok::<(), eyre::Report>(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    Ok(started.elapsed())
}

/// A generous bound for `count` transactions (a hung run fails instead of waiting forever).
fn timeout_for(count: usize) -> Duration {
    Duration::from_secs(120) + Duration::from_millis(500) * count as u32
}

/// The latency phase: a batch submitted in block S with a 1 s review window; the bench mines
/// S+1 (one confirmation on devnet) with a timestamp past the window, and times each payout
/// transaction from there until the node has it.
async fn latency(
    chain: &Chain,
    releases: &mut EventCounter,
    batch: usize,
    poll_interval: Duration,
) -> eyre::Result<Vec<Duration>> {
    let provider = &chain.provider;
    let job = chain.create_jobs(&[batch], 1).await?[0];
    let submits: Vec<_> = (0..batch)
        .map(|i| {
            chain.call(
                chain.escrow(),
                &MilestoneEscrow::submitCall {
                    jobId: job,
                    milestoneIndex: U256::from(i),
                    deliverableHash: B256::repeat_byte(0x22),
                },
            )
        })
        .collect();
    control(provider, "evm_setAutomine", (false,)).await?;
    send_pipelined(provider, WORKER, submits).await?;
    control(provider, "evm_mine", ()).await?;
    control(provider, "evm_setAutomine", (true,)).await?;
    let block = provider.get_block_number().await?;
    let submitted = provider
        .get_logs(
            &Filter::new()
                .address(chain.escrow())
                .event_signature(MilestoneEscrow::MilestoneSubmitted::SIGNATURE_HASH)
                .from_block(block)
                .to_block(block),
        )
        .await?;
    ensure!(submitted.len() == batch, "{} of {batch} submits in block {block}", submitted.len());
    let timestamp = provider
        .get_block_by_number(block.into())
        .await?
        .ok_or_else(|| eyre!("block {block} is missing"))?
        .header
        .timestamp;
    let relayer = dev_address(RELAYER);
    let base = provider.get_transaction_count(relayer).pending().await?;
    // The window ends at timestamp + 1: the next block, at timestamp + 2, both confirms the
    // submits and makes their releases due.
    control(provider, "evm_setNextBlockTimestamp", (timestamp + 2,)).await?;
    let due = Instant::now();
    control(provider, "evm_mine", ()).await?;
    let deadline = due + poll_interval * 10 + Duration::from_secs(30);
    let mut seen = Vec::with_capacity(batch);
    while seen.len() < batch {
        ensure!(
            Instant::now() < deadline,
            "latency: {} of {batch} payouts sent after {:?}",
            seen.len(),
            due.elapsed()
        );
        let sent = provider.get_transaction_count(relayer).pending().await? - base;
        let at = due.elapsed();
        while (seen.len() as u64) < sent.min(batch as u64) {
            seen.push(at);
        }
        tokio::time::sleep(NONCE_POLL).await;
    }
    let target = releases.seen + batch;
    releases.wait_for(target, Instant::now(), Duration::from_secs(60)).await?;
    ensure!(releases.seen == target, "latency: {} releases, expected {target}", releases.seen);
    Ok(seen)
}

/// One anvil with both contracts deployed and `count` milestones submitted, their review
/// windows over.
struct Chain {
    anvil: AnvilProcess,
    provider: DynProvider,
    deployment: Deployment,
    dir: TempDir,
    /// The first block after the setup (releases are counted from here).
    start_block: u64,
    /// (job, milestone) of every due release.
    releases: Vec<(U256, U256)>,
}

impl Chain {
    async fn setup(count: usize) -> eyre::Result<Self> {
        let anvil = AnvilProcess::spawn(AnvilOptions::default())?;
        let provider = connect_http(&anvil.url())?;
        let dir = tempfile::Builder::new().prefix("shiftpay-bench-").tempdir()?;
        let mut contracts = Vec::new();
        for code in [Payroll::BYTECODE.clone(), MilestoneEscrow::BYTECODE.clone()] {
            let request = TransactionRequest::default().with_deploy_code(code);
            let hash = send_pipelined(&provider, DEPLOYER, vec![request]).await?[0];
            let receipt = wait_receipt(&provider, hash).await?;
            contracts.push(ContractDeployment {
                address: receipt.contract_address.ok_or_else(|| eyre!("no contract address"))?,
                tx_hash: hash,
                block_number: receipt.block_number.unwrap_or_default(),
                artifact_hash: B256::ZERO,
            });
        }
        let deployment = Deployment {
            version: 1,
            chain_id: CHAIN_ID,
            payroll: contracts[0].clone(),
            escrow: contracts[1].clone(),
            compiler: serde_json::json!({}),
            deployer: dev_address(DEPLOYER),
            tokens: Vec::new(),
            created_at: "2026-12-01T00:00:00Z".to_owned(),
        };
        deployment.save(&Deployment::default_path(dir.path(), CHAIN_ID))?;
        let mut chain =
            Self { anvil, provider, deployment, dir, start_block: 0, releases: Vec::new() };

        let sizes: Vec<usize> =
            (0..count.div_ceil(PER_JOB)).map(|i| PER_JOB.min(count - i * PER_JOB)).collect();
        let jobs = chain.create_jobs(&sizes, REVIEW).await?;
        let mut submits = Vec::with_capacity(count);
        for (&job, &size) in jobs.iter().zip(&sizes) {
            for i in 0..size {
                chain.releases.push((job, U256::from(i)));
                submits.push(chain.call(
                    chain.escrow(),
                    &MilestoneEscrow::submitCall {
                        jobId: job,
                        milestoneIndex: U256::from(i),
                        deliverableHash: B256::repeat_byte(0x22),
                    },
                ));
            }
        }
        let hashes = send_pipelined(&chain.provider, WORKER, submits).await?;
        let submitted = chain
            .provider
            .get_logs(
                &Filter::new()
                    .address(chain.escrow())
                    .event_signature(MilestoneEscrow::MilestoneSubmitted::SIGNATURE_HASH)
                    .from_block(0),
            )
            .await?;
        if submitted.len() != count {
            let mut reverted = 0;
            for &hash in &hashes {
                if wait_receipt(&chain.provider, hash).await.is_err() {
                    reverted += 1;
                }
            }
            bail!("setup: {} of {count} submits logged, {reverted} failed", submitted.len());
        }
        control(&chain.provider, "evm_increaseTime", (u64::from(REVIEW) + 1,)).await?;
        control(&chain.provider, "evm_mine", ()).await?;
        chain.start_block = chain.provider.get_block_number().await? + 1;
        Ok(chain)
    }

    fn escrow(&self) -> Address {
        self.deployment.escrow.address
    }

    fn call<C: SolCall>(&self, to: Address, call: &C) -> TransactionRequest {
        TransactionRequest::default().to(to).input(Bytes::from(call.abi_encode()).into())
    }

    /// Funded native-coin jobs (CLIENT to WORKER) of the given milestone counts, accepted;
    /// their ids.
    async fn create_jobs(&self, sizes: &[usize], review: u32) -> eyre::Result<Vec<U256>> {
        let escrow = self.escrow();
        let amount = U256::from(10u64).pow(U256::from(15));
        let first = self.view(escrow, &MilestoneEscrow::jobCountCall {}).await? + U256::from(1);
        let creates = sizes
            .iter()
            .map(|&size| {
                let params = JobParams {
                    worker: dev_address(WORKER),
                    token: Address::ZERO,
                    arbiter: Address::ZERO,
                    arbiterFeeBps: 0,
                    maxChangeRequests: 2,
                    reviewPeriod: review,
                    rulingPeriod: 3_600,
                    deadline: 0,
                    metadataHash: B256::repeat_byte(0x11),
                    amounts: vec![amount; size],
                };
                self.call(
                    escrow,
                    &MilestoneEscrow::createJobCall { params, fundCount: U256::from(size) },
                )
                .value(amount * U256::from(size))
            })
            .collect();
        send_pipelined(&self.provider, CLIENT, creates).await?;
        let jobs: Vec<U256> = (0..sizes.len()).map(|i| first + U256::from(i)).collect();
        let last = self.view(escrow, &MilestoneEscrow::jobCountCall {}).await?;
        ensure!(last + U256::from(1) == first + U256::from(sizes.len()), "setup: jobs not created");
        let accepts = jobs
            .iter()
            .map(|&job| self.call(escrow, &MilestoneEscrow::acceptJobCall { jobId: job }))
            .collect();
        send_pipelined(&self.provider, WORKER, accepts).await?;
        Ok(jobs)
    }

    async fn view<C: SolCall>(&self, to: Address, call: &C) -> eyre::Result<C::Return> {
        let out = self.provider.call(self.call(to, call)).await?;
        Ok(C::abi_decode_returns(&out)?)
    }

    /// Counts `MilestoneReleasedAfterReview` from the first block after the setup.
    fn release_counter(&self) -> EventCounter {
        EventCounter {
            provider: self.provider.clone(),
            filter: Filter::new()
                .address(self.escrow())
                .event_signature(MilestoneEscrow::MilestoneReleasedAfterReview::SIGNATURE_HASH),
            next_block: self.start_block,
            seen: 0,
        }
    }

    /// The relayer's config file (devnet preset, straight to this anvil, SQLite in the temp
    /// dir, no API); its path.
    fn relayer_config(&self, poll_interval: Duration) -> eyre::Result<PathBuf> {
        self.relayer_config_named("relayer", poll_interval, "sqlite://relayer.db")
    }

    /// [`Chain::relayer_config`] as `<name>.toml`, with this `storage` URL.
    fn relayer_config_named(
        &self,
        name: &str,
        poll_interval: Duration,
        storage: &str,
    ) -> eyre::Result<PathBuf> {
        let path = self.dir.path().join(format!("{name}.toml"));
        let toml = format!(
            "chain = \"devnet\"\nrpc_url = \"{}\"\ndeployment = \"deployments/{CHAIN_ID}.json\"\n\
             storage = {storage:?}\npoll_interval = \"{}ms\"\n\
             [release]\nenabled = true\n[api]\nenabled = false\n",
            self.anvil.url(),
            poll_interval.as_millis()
        );
        std::fs::write(&path, toml)?;
        Ok(path)
    }
}

/// Counts one event of one contract as blocks come, from `next_block` on.
struct EventCounter {
    provider: DynProvider,
    filter: Filter,
    next_block: u64,
    seen: usize,
}

impl EventCounter {
    /// Reads the blocks mined since the last call.
    async fn poll(&mut self) -> eyre::Result<usize> {
        let latest = self.provider.get_block_number().await?;
        if latest >= self.next_block {
            let filter = self.filter.clone().from_block(self.next_block).to_block(latest);
            self.seen += self.provider.get_logs(&filter).await?.len();
            self.next_block = latest + 1;
        }
        Ok(self.seen)
    }

    /// Polls until `target` events were seen; (time of the last, time of the first) from
    /// `since`.
    async fn wait_for(
        &mut self,
        target: usize,
        since: Instant,
        timeout: Duration,
    ) -> eyre::Result<(Duration, Duration)> {
        let start_seen = self.seen;
        let mut first = None;
        loop {
            let seen = self.poll().await?;
            if first.is_none() && seen > start_seen {
                first = Some(since.elapsed());
            }
            if seen >= target {
                return Ok((since.elapsed(), first.unwrap_or_default()));
            }
            ensure!(
                since.elapsed() < timeout,
                "{seen} of {target} events after {:?}",
                since.elapsed()
            );
            tokio::time::sleep(EVENT_POLL).await;
        }
    }
}

/// Signs `calls` from dev account `from` with consecutive nonces (legacy, the node's gas
/// price, the first call's estimate + 30% as every call's gas limit) and sends them with up
/// to [`IN_FLIGHT`] requests in flight; waits until the node has mined them all (the
/// account's `latest` nonce), and returns their hashes.
async fn send_pipelined(
    provider: &DynProvider,
    from: usize,
    calls: Vec<TransactionRequest>,
) -> eyre::Result<Vec<B256>> {
    let Some(first) = calls.first() else { return Ok(Vec::new()) };
    let address = dev_address(from);
    let wallet = EthereumWallet::new(dev_signer(from));
    let nonce = provider.get_transaction_count(address).pending().await?;
    let gas_price = provider.get_gas_price().await?;
    let estimate = provider
        .estimate_gas(first.clone().from(address))
        .await
        .wrap_err("eth_estimateGas of the first call")?;
    let gas = estimate + estimate * 3 / 10;
    let total = calls.len() as u64;
    let mut hashes = Vec::with_capacity(calls.len());
    let mut tasks = JoinSet::new();
    for (i, call) in calls.into_iter().enumerate() {
        let request = call
            .from(address)
            .nonce(nonce + i as u64)
            .gas_limit(gas)
            .with_gas_price(gas_price)
            .with_chain_id(CHAIN_ID);
        let envelope = request.build(&wallet).await?;
        hashes.push(*envelope.tx_hash());
        let raw = Bytes::from(envelope.encoded_2718());
        if tasks.len() >= IN_FLIGHT
            && let Some(joined) = tasks.join_next().await
        {
            joined??;
        }
        let provider = provider.clone();
        tasks.spawn(
            async move { rpc::<_, B256>(&provider, "eth_sendRawTransaction", (raw,)).await },
        );
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    // With automine on, the node mines as they come; with it off, this is the caller's job.
    let automine: bool = rpc(provider, "anvil_getAutomine", ()).await?;
    if automine {
        let deadline = Instant::now() + timeout_for(total as usize);
        while provider.get_transaction_count(address).latest().await? < nonce + total {
            ensure!(Instant::now() < deadline, "{total} transactions not mined in time");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if let Some(&last) = hashes.last() {
            wait_receipt(provider, last).await?;
        }
    }
    Ok(hashes)
}

/// An anvil control (`evm_*`, `anvil_*`) whose answer does not matter.
async fn control<P: alloy::rpc::json_rpc::RpcSend>(
    provider: &DynProvider,
    method: &'static str,
    params: P,
) -> eyre::Result<()> {
    rpc::<_, serde_json::Value>(provider, method, params).await.map(drop)
}

/// A JSON-RPC call whose answer is decoded as `R`.
async fn rpc<P, R>(provider: &DynProvider, method: &'static str, params: P) -> eyre::Result<R>
where
    P: alloy::rpc::json_rpc::RpcSend,
    R: alloy::rpc::json_rpc::RpcRecv,
{
    provider.raw_request(method.into(), params).await.wrap_err(method)
}

/// Polls a receipt (setup only), failing on a revert.
async fn wait_receipt(
    provider: &DynProvider,
    hash: B256,
) -> eyre::Result<alloy::rpc::types::TransactionReceipt> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(receipt) = provider.get_transaction_receipt(hash).await? {
            ensure!(receipt.status(), "transaction {hash} reverted");
            return Ok(receipt);
        }
        ensure!(Instant::now() < deadline, "no receipt for {hash}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The `shiftpay-relayer run` child process, its peak RSS sampled by a thread.
struct RelayerProcess {
    child: Child,
    log: PathBuf,
    peak_kb: Arc<AtomicU64>,
    stop_sampling: Arc<AtomicBool>,
    sampler: Option<JoinHandle<()>>,
}

impl RelayerProcess {
    fn spawn(config: &Path, dir: &Path) -> eyre::Result<Self> {
        Self::spawn_as(config, &dir.join("relayer.log"), RELAYER)
    }

    /// [`RelayerProcess::spawn`] signing with dev account `signer`, its log in `log`.
    fn spawn_as(config: &Path, log: &Path, signer: usize) -> eyre::Result<Self> {
        let log = log.to_owned();
        let child = Command::new(env!("CARGO_BIN_EXE_shiftpay-relayer"))
            .args(["--log-format", "json", "run"])
            .arg("--config")
            .arg(config)
            .env("SHIFTPAY_PRIVATE_KEY", DEV_KEYS[signer])
            .env("RUST_LOG", "info")
            .env_remove("SHIFTPAY_DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .wrap_err("cannot start shiftpay-relayer")?;
        let peak_kb = Arc::new(AtomicU64::new(0));
        let stop_sampling = Arc::new(AtomicBool::new(false));
        let status = PathBuf::from(format!("/proc/{}/status", child.id()));
        let sampler = {
            let (peak_kb, stop) = (peak_kb.clone(), stop_sampling.clone());
            std::thread::spawn(move || {
                // VmHWM is the kernel's own high-water mark; read it until the process is gone
                // (a zombie has no VmHWM line any more).
                while let Some(kb) = vm_hwm_kb(&status) {
                    peak_kb.fetch_max(kb, Ordering::Relaxed);
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        Ok(Self { child, log, peak_kb, stop_sampling, sampler: Some(sampler) })
    }

    /// SIGTERM, waits (bounded) for the exit; the peak RSS in kB.
    fn stop(&mut self) -> eyre::Result<u64> {
        let pid = libc::pid_t::try_from(self.child.id())?;
        // SAFETY: kill(2) on our own child, not reaped yet (so the pid is still ours).
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(40);
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if Instant::now() > deadline {
                self.child.kill()?;
                bail!("the relayer did not stop within 40 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if let Some(sampler) = self.sampler.take() {
            let _ = sampler.join();
        }
        ensure!(status.success(), "the relayer exited with {status}:\n{}", self.log_tail());
        Ok(self.peak_kb.load(Ordering::Relaxed))
    }

    /// The last lines of its log.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for RelayerProcess {
    fn drop(&mut self) {
        self.stop_sampling.store(true, Ordering::Relaxed);
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(sampler) = self.sampler.take() {
            let _ = sampler.join();
        }
    }
}

/// `VmHWM` of a `/proc/<pid>/status` file, in kB.
fn vm_hwm_kb(status: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(status).ok()?;
    let line = text.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()
}

/// `path`, relative to the workspace root unless absolute (`cargo bench` runs benches in the
/// package's directory).
fn from_root(path: &Path) -> PathBuf {
    if path.is_absolute() { path.to_owned() } else { workspace_root().join(path) }
}

/// The command that reproduces this run.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).filter(|arg| arg != "--bench").collect();
    let mut command = "nice -n 10 cargo bench -p shiftpay-relayer --bench relayer".to_owned();
    if !args.is_empty() {
        command.push_str(" -- ");
        command.push_str(&args.join(" "));
    }
    command
}

/// nproc, the CPU model, the anvil version, the date.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split(':').nth(1))
        .map_or("unknown CPU".to_owned(), |model| model.trim().to_owned());
    let anvil = anvil_binary()
        .ok()
        .and_then(|binary| Command::new(binary).arg("--version").output().ok())
        .map(|out| String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or("").to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    let date = jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M UTC");
    format!("{cores} cores ({model}); {anvil}; run {date}")
}

fn write_bench_md(path: &Path, report: &Report, table: &str, command: &str) -> eyre::Result<()> {
    let kept = std::fs::read_to_string(path)
        .ok()
        .and_then(|old| old.split_once(BENCH_END).map(|(_, rest)| rest.to_owned()))
        .unwrap_or_else(|| "\n".to_owned());
    let mut out = String::new();
    let _ = write!(
        out,
        "# Relayer benchmark\n\n\
         Written by the benchmark program `relayer/benches/relayer.rs` (everything above the end \
         marker is regenerated; notes go below it). Reproduce with:\n\n\
         ```sh\n{command}\n```\n\n\
         Machine: {machine}. Poll interval {poll} ms, devnet preset (1 confirmation), SQLite \
         store, anvil with automine, relayer and baseline both straight to anvil.\n\n\
         {table}\n\
         - **Baseline**: on a fresh anvil with {n} milestones submitted and their review windows \
         over, a tight alloy loop signs the {n} `releaseAfterReview` transactions (legacy, one \
         `eth_gasPrice`, its own nonce counter), sends them with up to {IN_FLIGHT} in flight and \
         waits until all {n} `MilestoneReleasedAfterReview` events are in the node's logs.\n\
         - **Relayer**: another fresh anvil, the same setup; the `shiftpay-relayer` binary is \
         started as a child and timed from its start (its own startup, the watcher's scan, the \
         scheduler and the sender included) until the {n}th release event is in the node's logs \
         (counted by the bench, not reported by the relayer). Ratio = relayer rate / baseline \
         rate.\n\
         - **Re-check ceiling**: before the baseline sends, on its chain, the bench makes the two \
         calls the relayer's sender makes for each payout before signing it (`getMilestone` \
         through `eth_call`, `eth_estimateGas` of `releaseAfterReview`), {IN_FLIGHT} payouts at a \
         time, and times them: `r` re-checks per second. A payout then costs the node one \
         re-check and one send, so a relayer that re-checks every payout on-chain (as it must: \
         someone else may have paid it) reaches at most `1 / (1/r + 1/b)` payouts per second, a \
         ratio of `r / (r + b)` to the baseline `b`.\n\
         - **Latency**: with the relayer still running, {batch} milestones are submitted in one \
         block with a 1 s review window; the bench mines the next block (which gives them their \
         one confirmation) with a timestamp past the window, and reads the relayer's `pending` \
         nonce every {nonce_poll} ms until the node has all {batch} payout transactions.\n\
         - **Rounds**: the baseline and the relayer runs alternate {rounds} times, each on a \
         fresh chain (the machine is shared, so its load weighs on both alike); the best round of \
         each counts, every round's rate is shown. The latency is measured in the last round.\n\
         - **Peak RSS**: `VmHWM` of the relayer process from `/proc/<pid>/status`, sampled every \
         20 ms until it exits after SIGTERM.\n\n\
         {BENCH_END}",
        machine = machine(),
        poll = report.poll_interval.as_millis(),
        n = report.count,
        batch = report.latencies.len(),
        nonce_poll = NONCE_POLL.as_millis(),
        rounds = report.baseline.len(),
    );
    out.push_str(&kept);
    std::fs::write(path, out)?;
    Ok(())
}

fn write_readme(path: &Path, report: &Report, command: &str) -> eyre::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let (Some(begin), Some(end)) = (text.find(README_BEGIN), text.find(README_END)) else {
        bail!("{} has no {README_BEGIN} ... {README_END} block", path.display());
    };
    ensure!(begin < end, "{}: the relayer-bench markers are out of order", path.display());
    let summary = format!(
        "{README_BEGIN}\n**Benchmark** ([`relayer/BENCH.md`](relayer/BENCH.md), `{command}`): on \
         anvil, the relayer confirms {n} due milestone releases at {relayer:.1} payouts/s against \
         {baseline:.1} tx/s for a tight alloy loop sending the same transactions (ratio \
         {ratio:.2}, target >= 0.8; the node's re-check work alone caps a relayer that re-checks \
         every payout at a ratio of {ceiling:.2} here); peak RSS {rss:.1} MB (target <= 64 MB); from the \
         confirmation depth being reached to the payout being sent, median {median} ms and max \
         {max} ms with a {poll} ms poll interval.\n",
        n = report.count,
        relayer = report.relayer_rate(),
        baseline = report.baseline_rate(),
        ratio = report.ratio(),
        ceiling = report.ratio_ceiling(),
        rss = report.peak_rss_mb(),
        median = report.latency_median().as_millis(),
        max = report.latency_max().as_millis(),
        poll = report.poll_interval.as_millis(),
    );
    let updated = format!("{}{summary}{}", &text[..begin], &text[end..]);
    std::fs::write(path, updated)?;
    Ok(())
}

/// `--postgres`: several instances on one PostgreSQL schema (issue 14's benchmark).
mod instances {
    use std::fmt::Write as _;

    use sqlx::Connection;

    use super::*;

    /// The dev accounts signing for the instances (0 is [`RELAYER`]; 1, 2 and 9 are the
    /// client, the worker and the deployer).
    const SIGNERS: [usize; 3] = [RELAYER, 3, 4];

    /// One configuration: its label, the store, the instances' signers.
    struct Setup {
        label: &'static str,
        postgres: bool,
        signers: &'static [usize],
    }

    const SETUPS: &[Setup] = &[
        Setup { label: "SQLite, 1 instance", postgres: false, signers: &[RELAYER] },
        Setup { label: "PostgreSQL, 1 instance", postgres: true, signers: &[RELAYER] },
        Setup {
            label: "PostgreSQL, 2 instances, one signer",
            postgres: true,
            signers: &[RELAYER, RELAYER],
        },
        Setup {
            label: "PostgreSQL, 3 instances, one signer",
            postgres: true,
            signers: &[RELAYER, RELAYER, RELAYER],
        },
        Setup {
            label: "PostgreSQL, 2 instances, a signer each",
            postgres: true,
            signers: &[SIGNERS[0], SIGNERS[1]],
        },
        Setup {
            label: "PostgreSQL, 3 instances, a signer each",
            postgres: true,
            signers: &SIGNERS,
        },
    ];

    /// A schema of its own for one run, dropped afterwards.
    struct Schema {
        url: String,
        name: String,
    }

    impl Schema {
        async fn create(url: &str) -> eyre::Result<Self> {
            let name = format!("shiftpay_bench_{}", uuid::Uuid::now_v7().simple());
            let mut conn = sqlx::PgConnection::connect(url)
                .await
                .wrap_err_with(|| format!("PostgreSQL at {url}"))?;
            sqlx::query(&format!("CREATE SCHEMA \"{name}\"")).execute(&mut conn).await?;
            conn.close().await?;
            Ok(Self { url: url.to_owned(), name })
        }

        /// The `storage` URL whose `search_path` is this schema.
        fn storage(&self) -> String {
            let sep = if self.url.contains('?') { '&' } else { '?' };
            format!("{}{sep}options=-c%20search_path%3D{}", self.url, self.name)
        }

        async fn drop_it(self) -> eyre::Result<()> {
            let mut conn = sqlx::PgConnection::connect(&self.url).await?;
            sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name))
                .execute(&mut conn)
                .await?;
            conn.close().await?;
            Ok(())
        }
    }

    /// One run: `count` due releases on a fresh chain, the instances started together, timed
    /// until the `count`th release is on-chain (and checked: exactly `count`). Returns the time.
    async fn run_once(
        setup: &Setup,
        url: &str,
        count: usize,
        poll: Duration,
    ) -> eyre::Result<Duration> {
        let chain = Chain::setup(count).await?;
        let schema = if setup.postgres { Some(Schema::create(url).await?) } else { None };
        let storage = schema.as_ref().map_or("sqlite://relayer.db".to_owned(), Schema::storage);
        let mut configs = Vec::new();
        for i in 0..setup.signers.len() {
            configs.push(chain.relayer_config_named(&format!("relayer-{i}"), poll, &storage)?);
        }
        let mut releases = chain.release_counter();
        let started = Instant::now();
        let mut relayers = Vec::new();
        for (i, (config, &signer)) in configs.iter().zip(setup.signers).enumerate() {
            let log = chain.dir.path().join(format!("relayer-{i}.log"));
            relayers.push(RelayerProcess::spawn_as(config, &log, signer)?);
        }
        let result = releases.wait_for(count, started, timeout_for(count)).await;
        let mut tails = String::new();
        for relayer in &mut relayers {
            if result.is_err() {
                tails.push_str(&relayer.log_tail());
            }
            relayer.stop()?;
        }
        if let Some(schema) = schema {
            schema.drop_it().await?;
        }
        let (last, _) = match result {
            Ok(times) => times,
            Err(err) => bail!("{}: {err}\nthe relayers' logs end with:\n{tails}", setup.label),
        };
        releases.poll().await?;
        ensure!(
            releases.seen == count,
            "{}: {} releases for {count} due",
            setup.label,
            releases.seen
        );
        Ok(last)
    }

    /// Every setup, `--rounds` times each (alternating); the Markdown table.
    pub(super) async fn run(args: &Args, url: &str) -> eyre::Result<String> {
        let poll = Duration::from_millis(args.poll_interval_ms);
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); SETUPS.len()];
        for round in 1..=args.rounds {
            for (setup, times) in SETUPS.iter().zip(&mut times) {
                eprintln!("[{round}/{}] {}: {} due releases", args.rounds, setup.label, args.count);
                let time = run_once(setup, url, args.count, poll).await?;
                eprintln!("[{round}/{}] {}: {:.2} s", args.rounds, setup.label, time.as_secs_f64());
                times.push(time);
            }
        }
        let rate = |time: &Duration| args.count as f64 / time.as_secs_f64();
        let mut out = String::new();
        let _ = writeln!(out, "| setup | payouts/s (best of {}) | rounds |", args.rounds);
        let _ = writeln!(out, "| --- | --- | --- |");
        for (setup, times) in SETUPS.iter().zip(&times) {
            let best = times.iter().min().copied().unwrap_or_default();
            let rounds: Vec<String> = times.iter().map(|t| format!("{:.0}", rate(t))).collect();
            let _ = writeln!(
                out,
                "| {} | {:.1} ({:.2} s) | {} |",
                setup.label,
                rate(&best),
                best.as_secs_f64(),
                rounds.join(", ")
            );
        }
        Ok(out)
    }

    /// Appends the table, with how it was made, to `path` (below its current content).
    pub(super) fn append(path: &Path, table: &str, command: &str) -> eyre::Result<()> {
        let mut text = std::fs::read_to_string(path).unwrap_or_default();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        let _ = write!(
            text,
            "\n## Several instances on one PostgreSQL database\n\n\
             Written by `{command}`. Machine: {machine}. Each row: a fresh anvil with the due \
             releases set up as above, the instances (the `shiftpay-relayer` binary, API off) \
             started together on one fresh schema (or the SQLite file), timed from their start to \
             the last release on-chain (counted from the node's logs; exactly one release per \
             milestone checked); one signer = every instance signs with dev account 0, a signer \
             each = accounts 0, 3 and 4.\n\n{table}",
            machine = machine(),
        );
        std::fs::write(path, text)?;
        Ok(())
    }
}
