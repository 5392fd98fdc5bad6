//! Fault tests of the relayer's exactly-once guarantee, through its binary against anvil behind
//! the Rootstock-shaped proxy:
//! - `kill -9` at random moments (seeded: the seed is printed, `SHIFTPAY_FAULT_SEED` replays
//!   it) while 200 due releases are being paid and while idle, restarted each time: every
//!   milestone released exactly once, one successful transaction per payout, the signer's nonce
//!   equal to what the store recorded;
//! - the node unreachable for 30 s, with a transaction in flight and payouts becoming due: the
//!   process stays up, `/ready` says 503 during the outage and 200 after, everything paid once;
//! - an `anvil_reorg` that drops one `MilestoneSubmitted` and re-includes another one block
//!   later: no payout for the dropped one, the re-included one released once.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::{primitives::U256, providers::Provider};
use serde_json::Value;
use shiftpay_relayer::{
    bindings::escrow::MilestoneEscrow,
    store::{NewPayout, PayoutStatus, Store, TxStatus},
};
use shiftpay_tests::anvil::dev_address;

use crate::{
    binary::{
        RelayerProcess, Rng, assert_stored_txs_mined_and_succeeded, bounded, killed_by_sigkill,
        micro, mine_at, open_store, released_count, releases, seed, send_many, sign_call,
        store_txs, submissions, submit_calls, until, wait_mined, write_config,
    },
    devnet::{Devnet, RELAYER},
};

const CLIENT: usize = 2;

/// At most this many kills while each wave of 100 releases is paid.
const KILLS_PER_WAVE: usize = 10;

/// Gas limit of one `submit` (it uses about a third of it).
const SUBMIT_GAS: u64 = 250_000;

/// How many of `jobs`' milestones (50 each) the chain has released.
async fn released_of(devnet: &Devnet, jobs: &[U256]) -> usize {
    releases(devnet).await.iter().filter(|e| jobs.contains(&e.jobId)).count()
}

/// Where a kill landed.
#[derive(Debug)]
struct Kill {
    /// Why this moment: `mid-batch` (right after a release of this run), `random` (any time
    /// after the spawn: start-up, reconcile, catch-up, claiming, sending) or `idle`.
    moment: &'static str,
    /// Time from the spawn to the kill.
    after: Duration,
    /// Releases on-chain when the run started and when it was killed.
    released: (usize, usize),
    /// What the dead process left in flight: payouts claimed and not recorded (`Sending`),
    /// transactions recorded and not confirmed (`Pending` / `Mined`).
    sending: u64,
    unconfirmed: usize,
}

impl Kill {
    /// Whether it cut the relayer in the middle of paying.
    fn in_flight(&self) -> bool {
        self.sending > 0 || self.unconfirmed > 0
    }
}

/// Kills `relayer` (`kill -9`), checks it was still running, and records what it left in
/// flight. The store is read with the process dead (opened at the first kill, once the
/// relayer has created and migrated it).
async fn kill_now(
    devnet: &Devnet,
    relayer: &mut RelayerProcess,
    store: &mut Option<Arc<dyn Store>>,
    moment: &'static str,
    started: Instant,
    before: usize,
    jobs: &[U256],
) -> Kill {
    let status = relayer.kill_9().expect("it was running");
    let after = started.elapsed();
    assert!(
        killed_by_sigkill(&status),
        "the relayer had exited by itself ({status}); log:\n{}",
        relayer.log_tail(40)
    );
    if store.is_none() {
        *store = Some(open_store(devnet).await);
    }
    let store = store.as_ref().unwrap();
    let sending =
        store.payout_counts().await.unwrap().get(&PayoutStatus::Sending).copied().unwrap_or(0);
    let unconfirmed =
        store.txs_with_status(&[TxStatus::Pending, TxStatus::Mined]).await.unwrap().len();
    Kill {
        moment,
        after,
        released: (before, released_of(devnet, jobs).await),
        sending,
        unconfirmed,
    }
}

/// Runs the relayer and `kill -9`s it up to `kills` times at seeded random moments (every
/// other one right after this run released something, i.e. while a batch is being sent),
/// moving the chain a minute on after each kill so the 60 s leases of the dead process end.
/// Stops early once all 100 milestones of `jobs` are released.
async fn kill_loop(
    devnet: &Devnet,
    relayer: &mut RelayerProcess,
    store: &mut Option<Arc<dyn Store>>,
    rng: &mut Rng,
    jobs: &[U256],
    kills: usize,
    log: &mut Vec<Kill>,
) {
    for round in 0..kills {
        let before = released_of(devnet, jobs).await;
        if before >= 100 {
            return;
        }
        if !relayer.is_running() {
            relayer.start();
        }
        let started = Instant::now();
        let moment = if round % 2 == 0 {
            let deadline = started + Duration::from_secs(20);
            while released_of(devnet, jobs).await == before && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::time::sleep(rng.millis(0, 100)).await;
            "mid-batch"
        } else {
            tokio::time::sleep(rng.millis(0, 800)).await;
            "random"
        };
        log.push(kill_now(devnet, relayer, store, moment, started, before, jobs).await);
        // While it is down the chain moves a minute on: the leases it held end.
        devnet.advance(61).await;
    }
}

/// The release keys of the submissions of `jobs`.
fn release_keys(
    escrow: alloy::primitives::Address,
    submissions: &[MilestoneEscrow::MilestoneSubmitted],
    jobs: &[U256],
) -> Vec<String> {
    submissions
        .iter()
        .filter(|s| jobs.contains(&s.jobId))
        .map(|s| NewPayout::release(escrow, s.jobId, s.milestoneIndex, s.reviewEnd.to(), 0).key)
        .collect()
}

/// Whether every payout of `keys` is `Confirmed`.
async fn all_confirmed(store: &dyn Store, keys: &[String]) -> bool {
    for key in keys {
        let payout = store.payout(key).await.unwrap();
        if payout.is_none_or(|p| p.status != PayoutStatus::Confirmed) {
            return false;
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_pays_200_releases_exactly_once() {
    bounded(Duration::from_secs(240), async {
        let test_started = Instant::now();
        let seed = seed();
        eprintln!("kill -9 schedule seed: {seed} (replay: SHIFTPAY_FAULT_SEED={seed})");
        let mut rng = Rng(seed);

        // 4 jobs of 50 milestones (client dev 2, workers dev 3..=6), review one hour. Jobs 0-1
        // are submitted first (wave A), jobs 2-3 50 minutes later (wave B).
        let devnet = Devnet::start().await;
        let amounts = vec![micro(); 50];
        let mut jobs = Vec::new();
        for worker in 3..7 {
            jobs.push(devnet.job(CLIENT, worker, &amounts, 3_600).await);
        }
        let escrow = devnet.escrow();
        let wave = |n: usize| jobs[2 * n..2 * n + 2].to_vec();
        let submit = |first: usize| {
            let jobs = jobs.clone();
            let devnet = &devnet;
            async move {
                let mut last = Vec::new();
                for (offset, job) in jobs[first..first + 2].iter().enumerate() {
                    let calls = submit_calls(*job, 50);
                    last.push(
                        send_many(devnet, 3 + first + offset, escrow, &calls, SUBMIT_GAS).await,
                    );
                }
                for hash in last {
                    wait_mined(devnet, hash).await;
                }
            }
        };
        submit(0).await;
        devnet.advance(3_000).await;
        submit(2).await;
        let windows = submissions(&devnet).await;
        assert_eq!(windows.len(), 200);
        let window_end = |wave: &[U256]| -> Vec<u64> {
            windows
                .iter()
                .filter(|s| wave.contains(&s.jobId))
                .map(|s| s.reviewEnd.to::<u64>())
                .collect()
        };
        let a_end = window_end(&wave(0)).into_iter().max().unwrap();
        let b_start = window_end(&wave(1)).into_iter().min().unwrap();
        mine_at(&devnet, a_end + 1).await;
        devnet.mine().await;
        let setup = test_started.elapsed();

        // Every RPC takes 10 ms more: a batch takes long enough for kills to land inside it.
        devnet.proxy.set_latency(Duration::from_millis(10));
        let config = write_config(&devnet, "confirmations = 1", "");
        let mut relayer = RelayerProcess::spawn(&config);
        let mut store = None;
        let mut kills = Vec::new();

        // Wave A due: 100 releases, killed up to 10 times.
        kill_loop(
            &devnet,
            &mut relayer,
            &mut store,
            &mut rng,
            &wave(0),
            KILLS_PER_WAVE,
            &mut kills,
        )
        .await;
        if !relayer.is_running() {
            relayer.start();
        }
        until(&relayer, Duration::from_secs(60), "wave A released", || async {
            released_of(&devnet, &wave(0)).await == 100
        })
        .await;
        let now = devnet.now().await;
        assert!(now < b_start, "wave B came due too early ({now} >= {b_start})");

        // Idle: wave A confirmed and nothing due; killed while it polls.
        relayer.wait_healthy().await;
        let opened = match &store {
            Some(store) => store.clone(),
            None => open_store(&devnet).await,
        };
        store = Some(opened.clone());
        let a_keys = release_keys(escrow, &windows, &wave(0));
        until(&relayer, Duration::from_secs(30), "wave A confirmed", || {
            all_confirmed(&*opened, &a_keys)
        })
        .await;
        let started = Instant::now();
        tokio::time::sleep(rng.millis(0, 1_000)).await;
        kills.push(
            kill_now(&devnet, &mut relayer, &mut store, "idle", started, 100, &wave(0)).await,
        );

        // Wave B due: 100 more, killed up to 10 times.
        let b_end = window_end(&wave(1)).into_iter().max().unwrap();
        mine_at(&devnet, b_end.max(devnet.now().await) + 1).await;
        devnet.mine().await;
        kill_loop(
            &devnet,
            &mut relayer,
            &mut store,
            &mut rng,
            &wave(1),
            KILLS_PER_WAVE,
            &mut kills,
        )
        .await;
        if !relayer.is_running() {
            relayer.start();
        }
        until(&relayer, Duration::from_secs(60), "all 200 released", || async {
            released_of(&devnet, &jobs).await == 200
        })
        .await;

        // Every payout confirmed in the store, then a graceful stop.
        let store = store.expect("opened at the first kill");
        let keys = release_keys(escrow, &windows, &jobs);
        until(&relayer, Duration::from_secs(30), "every payout confirmed", || {
            all_confirmed(&*store, &keys)
        })
        .await;
        let status = relayer.terminate(Duration::from_secs(15)).await;
        assert!(status.success(), "graceful stop: {status}");

        eprintln!("kills ({}):", kills.len());
        for kill in &kills {
            eprintln!(
                "  {:>9} after {:>5} ms: released {:>3} -> {:>3}, \
                 left {} payout(s) claimed and {} tx(s) unconfirmed",
                kill.moment,
                kill.after.as_millis(),
                kill.released.0,
                kill.released.1,
                kill.sending,
                kill.unconfirmed
            );
        }
        const REBROADCAST: &str =
            "not in the node's pool: broadcasting the stored transaction again";
        let rebroadcast = relayer.logged(REBROADCAST).len();
        eprintln!("stored transactions rebroadcast after a restart: {rebroadcast}");
        // The schedule did what it is for: several kills cut a run in the middle of paying.
        let cut = kills.iter().filter(|k| k.in_flight()).count();
        assert!(cut >= 2, "only {cut} kill(s) landed while payouts were in flight: {kills:?}");
        assert!(kills.iter().any(|k| k.moment == "idle" && !k.in_flight()), "{kills:?}");

        // On-chain: every milestone released exactly once, by the relayer.
        let events = releases(&devnet).await;
        for job in &jobs {
            for index in 0..50 {
                assert_eq!(released_count(&events, *job, index), 1, "job {job} milestone {index}");
            }
        }
        assert_eq!(events.len(), 200);
        assert!(events.iter().all(|e| e.caller == dev_address(RELAYER)));

        // One transaction per payout: the signer's nonce is what the store recorded, each
        // record mined once and successful, each for a distinct payout.
        let nonce = devnet.relayer_nonce().await;
        let recorded =
            assert_stored_txs_mined_and_succeeded(&devnet, &*store, dev_address(RELAYER)).await;
        assert_eq!(nonce, recorded as u64, "nonce {nonce}, {recorded} transactions recorded");
        assert_eq!(nonce, 200, "wasted or duplicated transactions");
        let txs = store_txs(&*store, dev_address(RELAYER)).await;
        let mut paid: Vec<&str> = txs.iter().filter_map(|tx| tx.payout_key.as_deref()).collect();
        paid.sort_unstable();
        paid.dedup();
        assert_eq!(paid.len(), 200, "a payout got two transactions");
        eprintln!(
            "kill -9 test: {} starts, {} kills, setup {:.1} s, total {:.1} s (seed {seed})",
            relayer.starts,
            kills.len(),
            setup.as_secs_f64(),
            test_started.elapsed().as_secs_f64()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_from_a_30_s_node_outage_without_operator_action() {
    bounded(Duration::from_secs(200), async {
        let test_started = Instant::now();
        let devnet = Devnet::start().await;
        let job = devnet.job(CLIENT, 3, &[micro(), micro()], 3_600).await;
        let first_end = devnet.submit(3, job, 0).await;
        devnet.advance(600).await;
        let second_end = devnet.submit(3, job, 1).await;
        devnet.mine().await;
        let config = write_config(&devnet, "confirmations = 1", "");
        let mut relayer = RelayerProcess::spawn(&config);
        relayer.wait_healthy().await;
        let pid = relayer.pid();
        let store = open_store(&devnet).await;
        let keys = [
            NewPayout::release(devnet.escrow(), job, U256::ZERO, first_end, 0).key,
            NewPayout::release(devnet.escrow(), job, U256::from(1), second_end, 0).key,
        ];
        until(&relayer, Duration::from_secs(20), "both releases scheduled", || async {
            store.payout(&keys[1]).await.unwrap().is_some()
        })
        .await;
        assert_eq!(relayer.ready().await, Some(200));

        // The first release comes due; blocks are mined by hand only, so its transaction
        // stays in the pool: in flight.
        devnet.automine(false).await;
        mine_at(&devnet, first_end + 1).await;
        devnet.mine().await;
        until(&relayer, Duration::from_secs(20), "the first release in the pool", || async {
            devnet.direct.get_transaction_count(dev_address(RELAYER)).pending().await.unwrap() == 1
        })
        .await;

        // The node goes away for 30 s. Meanwhile the in-flight transaction is mined and the
        // second release comes due.
        devnet.proxy.set_down(true);
        let outage = Instant::now();
        devnet.mine().await;
        assert_eq!(released_count(&releases(&devnet).await, job, 0), 1);
        mine_at(&devnet, second_end + 1).await;
        devnet.mine().await;
        let mut ready_answers = 0;
        while outage.elapsed() < Duration::from_secs(30) {
            assert!(
                relayer.is_running(),
                "the relayer exited during the outage:\n{}",
                relayer.log_tail(40)
            );
            assert_eq!(relayer.health().await, Some(200), "/health during the outage");
            let ready = relayer.ready().await;
            assert_eq!(ready, Some(503), "/ready during the outage");
            ready_answers += 1;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert!(ready_answers >= 20);
        assert_eq!(devnet.relayer_nonce().await, 1, "nothing could be sent during the outage");
        devnet.automine(true).await;
        devnet.proxy.set_down(false);
        let up = Instant::now();

        // Back: both payouts confirmed, the second one sent now, no operator action.
        until(&relayer, Duration::from_secs(90), "both payouts confirmed", || async {
            for key in &keys {
                let done = store
                    .payout(key)
                    .await
                    .unwrap()
                    .is_some_and(|p| p.status == PayoutStatus::Confirmed);
                if !done {
                    return false;
                }
            }
            true
        })
        .await;
        let recovered = up.elapsed();
        until(&relayer, Duration::from_secs(30), "/ready 200 again", || async {
            relayer.ready().await == Some(200)
        })
        .await;
        assert!(relayer.is_running());
        assert_eq!(relayer.pid(), pid, "the same process throughout");
        assert_eq!(relayer.starts, 1);

        let events = releases(&devnet).await;
        assert_eq!(released_count(&events, job, 0), 1);
        assert_eq!(released_count(&events, job, 1), 1);
        assert!(events.iter().all(|e| e.caller == dev_address(RELAYER)));
        assert_eq!(devnet.relayer_nonce().await, 2);
        let recorded =
            assert_stored_txs_mined_and_succeeded(&devnet, &*store, dev_address(RELAYER)).await;
        assert_eq!(recorded, 2);

        let status = relayer.terminate(Duration::from_secs(15)).await;
        assert!(status.success(), "graceful stop: {status}");
        eprintln!(
            "outage test: recovered {:.1} s after the node came back, total {:.1} s",
            recovered.as_secs_f64(),
            test_started.elapsed().as_secs_f64()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_drops_one_submission_and_re_includes_another() {
    bounded(Duration::from_secs(120), async {
        let devnet = Devnet::start().await;
        // Two jobs, two workers (so either submission can be dropped alone).
        let kept_job = devnet.job(CLIENT, 3, &[micro()], 3_600).await;
        let dropped_job = devnet.job(CLIENT, 4, &[micro()], 3_600).await;
        let config = write_config(&devnet, "confirmations = 2\nreorg_window = 16", "");
        let mut relayer = RelayerProcess::spawn(&config);
        let api = relayer.wait_healthy().await;

        let submit = |worker: usize, job: U256| {
            let devnet = &devnet;
            async move {
                let nonce = devnet.direct.get_transaction_count(dev_address(worker)).await.unwrap();
                let call = &submit_calls(job, 1)[0];
                let raw = sign_call(devnet, worker, devnet.escrow(), call, nonce, SUBMIT_GAS).await;
                let hash = *devnet.direct.send_raw_transaction(&raw).await.unwrap().tx_hash();
                wait_mined(devnet, hash).await;
                let receipt = devnet.direct.get_transaction_receipt(hash).await.unwrap().unwrap();
                (raw, receipt.block_number.unwrap())
            }
        };
        let (kept_raw, kept_block) = submit(3, kept_job).await;
        let (_, dropped_block) = submit(4, dropped_job).await;
        assert!(dropped_block > kept_block);
        let old_kept_end = devnet.milestone(kept_job, 0).await.windowEnd;
        let dropped_end = devnet.milestone(dropped_job, 0).await.windowEnd;
        for _ in 0..3 {
            devnet.mine().await;
        }
        let store = open_store(&devnet).await;
        let old_kept_key =
            NewPayout::release(devnet.escrow(), kept_job, U256::ZERO, old_kept_end, 0).key;
        let dropped_key =
            NewPayout::release(devnet.escrow(), dropped_job, U256::ZERO, dropped_end, 0).key;
        until(&relayer, Duration::from_secs(20), "both releases scheduled", || async {
            store.payout(&dropped_key).await.unwrap().is_some()
                && store.payout(&old_kept_key).await.unwrap().is_some()
        })
        .await;
        let head = devnet.direct.get_block_number().await.unwrap();

        // Replace every block from the first submission on; the new chain (same height) has
        // the kept submission one block later than before and not the other.
        let depth = head - kept_block + 1;
        let _: Value = devnet
            .direct
            .raw_request("anvil_reorg".into(), (depth, vec![serde_json::json!([kept_raw, 1])]))
            .await
            .unwrap();
        for _ in 0..3 {
            devnet.mine().await;
        }
        let kept = devnet.milestone(kept_job, 0).await;
        assert_eq!(kept.status, 2, "the kept submission is on the new chain: {kept:?}");
        let new_kept_end = kept.windowEnd;
        let dropped = devnet.milestone(dropped_job, 0).await;
        assert_ne!(dropped.status, 2, "the dropped submission came back: {dropped:?}");
        let new_block = kept_block + 1;
        let new_kept_key =
            NewPayout::release(devnet.escrow(), kept_job, U256::ZERO, new_kept_end, 0).key;

        // The relayer follows: the dropped release is gone from its store, the kept one is
        // scheduled from its new block.
        until(&relayer, Duration::from_secs(20), "the reorg handled", || async {
            store.payout(&dropped_key).await.unwrap().is_none()
                && store
                    .payout(&new_kept_key)
                    .await
                    .unwrap()
                    .is_some_and(|p| p.source_block == Some(new_block))
        })
        .await;
        if new_kept_key != old_kept_key {
            assert!(store.payout(&old_kept_key).await.unwrap().is_none());
        }
        let ready: Value =
            reqwest::get(format!("http://{api}/ready")).await.unwrap().json().await.unwrap();
        assert_eq!(ready["status"], "ready", "{ready}");

        // Both windows pass: only the kept milestone is released, once.
        mine_at(&devnet, new_kept_end.max(dropped_end) + 1).await;
        until(&relayer, Duration::from_secs(30), "the kept release confirmed", || async {
            devnet.mine().await;
            store
                .payout(&new_kept_key)
                .await
                .unwrap()
                .is_some_and(|p| p.status == PayoutStatus::Confirmed)
        })
        .await;
        let events = releases(&devnet).await;
        assert_eq!(released_count(&events, kept_job, 0), 1);
        assert_eq!(released_count(&events, dropped_job, 0), 0);
        assert_eq!(events[0].caller, dev_address(RELAYER));
        assert!(
            store.payout(&dropped_key).await.unwrap().is_none(),
            "a payout for the dropped submission"
        );
        assert_eq!(devnet.relayer_nonce().await, 1);
        assert_eq!(
            assert_stored_txs_mined_and_succeeded(&devnet, &*store, dev_address(RELAYER)).await,
            1
        );
        assert_one_rollback(&relayer, kept_block);

        let status = relayer.terminate(Duration::from_secs(15)).await;
        assert!(status.success(), "graceful stop: {status}");
    })
    .await;
}

/// The relayer's log has one rollback, to the block before `fork_after`, that removed the
/// unsent releases of the replaced blocks (both: the dropped one and the moved one).
fn assert_one_rollback(relayer: &RelayerProcess, fork_after: u64) {
    let rollbacks = relayer.logged("reorg: rolled back");
    assert_eq!(rollbacks.len(), 1, "{rollbacks:?}\n{}", relayer.log_tail(40));
    assert_eq!(rollbacks[0]["fork"], format!("Some({})", fork_after - 1), "{rollbacks:?}");
    assert_eq!(rollbacks[0]["payouts_removed"], 2, "{rollbacks:?}");
}
