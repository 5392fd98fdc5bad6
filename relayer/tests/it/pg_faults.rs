//! Fault tests of several relayer BINARIES on one PostgreSQL schema with one signer, against
//! anvil behind the Rootstock-shaped proxy (issue 14):
//! - three instances, 300 releases coming due in six waves, `kill -9` of an instance every
//!   1-3 s (a random one, every other time the one holding a claimed batch; seeded: the seed is
//!   printed, `SHIFTPAY_FAULT_SEED` replays the schedule), each restarted at once: every
//!   milestone released exactly once by the relayer, the signer's nonce equal to the number of
//!   stored transactions, no nonce stored twice, no reverted transaction, nothing left claimed
//!   or unpaid in the store;
//! - two instances whose database becomes unreachable for 20 s (a TCP proxy between them and
//!   PostgreSQL refuses new connections and cuts the open ones), cutting a batch in flight,
//!   with more payouts coming due meanwhile: both processes survive (same pids), recover with
//!   no operator action, pay everything exactly once, and `/ready` is 200 again (503 during);
//! - a slow node and a 2 s cursor lease: the leader renews the lease during a watcher page that
//!   takes longer than the lease, instead of losing it to the other instance mid-page.
//!
//! Each test has a schema of its own ([`postgres`], dropped at the end, a panic included); the
//! processes are killed by pid (process group) when their guards drop, before the schema is.

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::primitives::U256;
use shiftpay_relayer::store::{PayoutStatus, Store};
use shiftpay_tests::{anvil::dev_address, tcp_proxy::TcpProxy};
use sqlx::Connection;

use crate::{
    binary::{
        RelayerProcess, Rng, assert_stored_txs_mined_and_succeeded, bounded, killed_by_sigkill,
        micro, mine_at, released_count, releases, seed, send_many, store_txs, submissions,
        submit_calls, until, wait_mined, write_instance_config,
    },
    devnet::{Devnet, RELAYER},
    store::{Backend, Postgres, postgres},
};

const CLIENT: usize = 2;

/// Gas limit of one `submit` (bulk setup).
const SUBMIT_GAS: u64 = 250_000;

/// Milestones per job (one job per worker).
const PER_JOB: u64 = 50;

/// Settings of every instance: confirm after one block, a 2 s cursor lease (a follower takes
/// the watcher over within 2 s of the leader's death).
const SETTINGS: &str = "confirmations = 1\nleader_lease = \"2s\"";

/// Starts `n` relayer binaries (`r0`, `r1`, ...) with [`SETTINGS`] on `storage`. The first
/// creates the schema's tables, so it serves before the next one starts; with `all_healthy`
/// every instance is waited for.
async fn spawn_instances(
    devnet: &Devnet,
    storage: &str,
    n: usize,
    all_healthy: bool,
) -> Vec<RelayerProcess> {
    let mut instances = Vec::with_capacity(n);
    for i in 0..n {
        let config = write_instance_config(devnet, &format!("r{i}"), storage, SETTINGS, "");
        let mut relayer = RelayerProcess::spawn(&config);
        if i == 0 || all_healthy {
            relayer.wait_healthy().await;
        }
        instances.push(relayer);
    }
    instances
}

/// Jobs of [`PER_JOB`] milestones, one per worker of `workers`, every milestone submitted
/// (bulk: raw transactions, all mined); the `k`th job's review lasts `3_600 + k * stagger`
/// seconds. Returns the job ids.
async fn submitted_jobs(
    devnet: &Devnet,
    workers: std::ops::Range<usize>,
    stagger: u32,
) -> Vec<U256> {
    let amounts = vec![micro(); PER_JOB as usize];
    let mut jobs = Vec::new();
    for (k, worker) in workers.clone().enumerate() {
        let review = 3_600 + k as u32 * stagger;
        jobs.push(devnet.job(CLIENT, worker, &amounts, review).await);
    }
    let mut last = Vec::new();
    for (worker, job) in workers.zip(&jobs) {
        last.push(
            send_many(devnet, worker, devnet.escrow(), &submit_calls(*job, PER_JOB), SUBMIT_GAS)
                .await,
        );
    }
    for hash in last {
        wait_mined(devnet, hash).await;
    }
    jobs
}

/// How many of `jobs`' milestones the chain has released.
async fn released_of(devnet: &Devnet, jobs: &[U256]) -> usize {
    releases(devnet).await.iter().filter(|e| jobs.contains(&e.jobId)).count()
}

/// The end of the latest review window of `jobs`.
async fn last_window_end(devnet: &Devnet, jobs: &[U256]) -> u64 {
    submissions(devnet)
        .await
        .iter()
        .filter(|s| jobs.contains(&s.jobId))
        .map(|s| s.reviewEnd.to::<u64>())
        .max()
        .expect("submissions")
}

/// The store's payouts by status (the statuses it has).
async fn counts(store: &dyn Store) -> BTreeMap<PayoutStatus, u64> {
    let mut counts = store.payout_counts().await.unwrap();
    counts.retain(|_, n| *n > 0);
    counts
}

/// How many payouts the process `pid` (lease-holder ids are `pid<PID>-<random>`) left claimed
/// (`sending`, its lease running).
async fn claimed_by(db: &Postgres, pid: u32) -> i64 {
    let mut conn = sqlx::PgConnection::connect_with(&db.options()).await.unwrap();
    let n = sqlx::query_scalar(
        "SELECT count(*) FROM payouts WHERE status = 'sending' AND lease_holder LIKE $1",
    )
    .bind(format!("pid{pid}-%"))
    .fetch_one(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    n
}

/// The indexes of the `instances` that hold claimed payouts (`sending`) right now.
async fn holding(db: &Postgres, instances: &[RelayerProcess]) -> Vec<usize> {
    let mut conn = sqlx::PgConnection::connect_with(&db.options()).await.unwrap();
    let holders: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT lease_holder FROM payouts WHERE status = 'sending' \
         AND lease_holder IS NOT NULL",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    (0..instances.len())
        .filter(|&i| {
            instances[i].pid().is_some_and(|pid| {
                let prefix = format!("pid{pid}-");
                holders.iter().any(|h| h.starts_with(&prefix))
            })
        })
        .collect()
}

/// Whether the store has exactly `n` payouts, all `Confirmed`.
async fn all_confirmed(store: &dyn Store, n: u64) -> bool {
    counts(store).await == BTreeMap::from([(PayoutStatus::Confirmed, n)])
}

/// The exactly-once checks shared by both tests, for `n` milestones of `jobs`:
/// - on-chain: each released once, all by the relayer;
/// - the store: every payout `Confirmed` (nothing due, claimed or in flight);
/// - the signer's stored transactions: nonces `0..n`, one record each, each mined and
///   successful (none reverted), each for a distinct payout; the chain's nonce is `n`.
async fn assert_paid_exactly_once(devnet: &Devnet, store: &dyn Store, jobs: &[U256]) {
    let n = jobs.len() * PER_JOB as usize;
    let events = releases(devnet).await;
    for job in jobs {
        for index in 0..PER_JOB {
            assert_eq!(released_count(&events, *job, index), 1, "job {job} milestone {index}");
        }
    }
    assert_eq!(events.len(), n, "releases on-chain");
    assert!(events.iter().all(|e| e.caller == dev_address(RELAYER)), "a release by someone else");

    assert_eq!(
        counts(store).await,
        BTreeMap::from([(PayoutStatus::Confirmed, n as u64)]),
        "payouts left unpaid, claimed or in flight"
    );

    let txs = store_txs(store, dev_address(RELAYER)).await;
    let nonces: Vec<u64> = txs.iter().map(|tx| tx.nonce).collect();
    let expected: Vec<u64> = (0..n as u64).collect();
    assert_eq!(nonces, expected, "stored nonces: one record per nonce, no gap, no nonce twice");
    let recorded = assert_stored_txs_mined_and_succeeded(devnet, store, dev_address(RELAYER)).await;
    let nonce = devnet.relayer_nonce().await;
    assert_eq!(nonce, recorded as u64, "the signer's nonce {nonce}, {recorded} stored txs");
    let mut paid: Vec<&str> = txs.iter().filter_map(|tx| tx.payout_key.as_deref()).collect();
    paid.sort_unstable();
    paid.dedup();
    assert_eq!(paid.len(), n, "a payout got two transactions, or a tx has no payout");
}

/// Three instances, one schema, one signer, 300 due releases; a random instance `kill -9`ed
/// every 1-3 s and restarted at once, until every milestone is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_killed_at_random_pay_300_releases_exactly_once() {
    // Dropped last: after the processes (declared later) are killed and anvil is gone.
    let db = postgres().await;
    bounded(Duration::from_secs(90), async {
        let test_started = Instant::now();
        let seed = seed();
        eprintln!("kill -9 schedule seed: {seed} (replay: SHIFTPAY_FAULT_SEED={seed})");
        let mut rng = Rng(seed);

        // 6 jobs of 50 milestones (client dev 2, workers dev 3..=8): 6 waves, wave k's review
        // window ending 10 k minutes after wave 0's.
        let devnet = Devnet::start().await;
        let jobs = submitted_jobs(&devnet, 3..9, 600).await;
        let mut ends = Vec::new();
        for job in &jobs {
            ends.push(last_window_end(&devnet, std::slice::from_ref(job)).await);
        }
        let setup = test_started.elapsed();

        // Every RPC of the relayers takes 20 ms more: a batch takes long enough for kills to
        // land inside it.
        devnet.proxy.set_latency(Duration::from_millis(20));

        // The first instance creates the schema's tables; the others join once it serves.
        let storage = db.storage_url();
        let mut instances = spawn_instances(&devnet, &storage, 3, false).await;
        let store: Arc<dyn Store> = db.open().await;

        // Every 1-3 s an instance is killed and restarted at once: a random one, every other
        // time the one paying a batch. Shortly (0-0.8 s) before each of the first six kills the
        // next wave comes due, so kills land while it is being paid. After each kill the chain moves a minute on: the dead process's payout
        // leases (60 s) end and the others take its claims over.
        let mut kills: Vec<(usize, Duration, usize)> = Vec::new();
        let mut cut_in_flight = 0;
        let mut waves = ends.iter();
        let paying = Instant::now();
        while released_of(&devnet, &jobs).await < jobs.len() * PER_JOB as usize {
            assert!(
                paying.elapsed() < Duration::from_secs(60),
                "not all paid within 60 s of kills; {:?}",
                counts(&*store).await
            );
            let pause = rng.below(1_000, 3_000);
            let lead = rng.below(0, 800);
            let mut victim = rng.below(0, 3) as usize;
            let pick = rng.next();
            tokio::time::sleep(Duration::from_millis(pause - lead)).await;
            if let Some(end) = waves.next() {
                mine_at(&devnet, (*end).max(devnet.now().await) + 1).await;
            }
            if kills.len().is_multiple_of(2) {
                // Every other kill is aimed at a batch: it waits (up to 1.5 s) for an instance
                // to hold claimed payouts and kills that one 0-150 ms later.
                let deadline = Instant::now() + Duration::from_millis(1_500);
                loop {
                    let holders = holding(&db, &instances).await;
                    if !holders.is_empty() {
                        victim = holders[(pick % holders.len() as u64) as usize];
                        break;
                    }
                    if Instant::now() >= deadline {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                tokio::time::sleep(Duration::from_millis(lead % 150)).await;
            } else {
                tokio::time::sleep(Duration::from_millis(lead)).await;
            }
            let relayer = &mut instances[victim];
            let pid = relayer.pid().expect("every instance runs between kills");
            let status = relayer.kill_9().expect("every instance runs between kills");
            assert!(
                killed_by_sigkill(&status),
                "instance {victim} had exited by itself ({status}); log:\n{}",
                relayer.log_tail(40)
            );
            let left = claimed_by(&db, pid).await;
            if left > 0 {
                cut_in_flight += 1;
            }
            kills.push((victim, paying.elapsed(), released_of(&devnet, &jobs).await));
            eprintln!("kill {}: {:?}, left {left} claimed", kills.len(), kills.last().unwrap());
            devnet.advance(61).await;
            relayer.start();
        }
        let paid_in = paying.elapsed();

        // Everything confirmed in the store, then every instance stops gracefully.
        let confirming = Instant::now();
        while !all_confirmed(&*store, 300).await {
            assert!(
                confirming.elapsed() < Duration::from_secs(20),
                "not all confirmed within 20 s: {:?}",
                counts(&*store).await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for (i, relayer) in instances.iter_mut().enumerate() {
            relayer.wait_healthy().await;
            let status = relayer.terminate(Duration::from_secs(15)).await;
            assert!(status.success(), "graceful stop of instance {i}: {status}");
        }

        eprintln!("kills ({}):", kills.len());
        for (victim, at, released) in &kills {
            eprintln!("  instance {victim} at {:>5} ms, {released:>3} released", at.as_millis());
        }
        assert!(kills.len() >= 6, "a kill per wave at least: {kills:?}");
        assert!(cut_in_flight >= 1, "no kill cut a claimed batch: {kills:?}");
        assert_paid_exactly_once(&devnet, &*store, &jobs).await;
        store.close().await;
        eprintln!(
            "3-instance kill -9 test: {} kills ({cut_in_flight} with payouts claimed), \
             setup {:.1} s, paid in {:.1} s, total {:.1} s (seed {seed})",
            kills.len(),
            setup.as_secs_f64(),
            paid_in.as_secs_f64(),
            test_started.elapsed().as_secs_f64()
        );
    })
    .await;
}

/// Two instances; the database unreachable for 20 s (open connections cut, new ones refused)
/// while a batch is being paid and more payouts come due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_recover_from_a_20_s_database_outage() {
    const OUTAGE: Duration = Duration::from_secs(20);
    let db = postgres().await;
    bounded(Duration::from_secs(120), async {
        let test_started = Instant::now();
        let devnet = Devnet::start().await;
        // Wave A (worker 3) first, wave B (worker 4) 20 minutes later, wave C (worker 5) 40
        // minutes later; review one hour.
        let a = submitted_jobs(&devnet, 3..4, 0).await;
        devnet.advance(1_200).await;
        let b = submitted_jobs(&devnet, 4..5, 0).await;
        devnet.advance(1_200).await;
        let c = submitted_jobs(&devnet, 5..6, 0).await;
        let all: Vec<U256> = [a.clone(), b.clone(), c.clone()].concat();

        // The instances reach PostgreSQL through the TCP proxy; the test reads it directly.
        let options = db.options();
        let upstream = format!("{}:{}", options.get_host(), options.get_port());
        let proxy = TcpProxy::start(upstream.parse().expect("a host:port")).unwrap();
        let storage = db.storage_url().replacen(&upstream, &proxy.addr().to_string(), 1);
        assert_ne!(storage, db.storage_url(), "the URL names {upstream}");
        let mut instances = spawn_instances(&devnet, &storage, 2, true).await;
        let pids: Vec<Option<u32>> = instances.iter().map(RelayerProcess::pid).collect();
        let store: Arc<dyn Store> = db.open().await;

        // Wave A due and paid with both up.
        mine_at(&devnet, last_window_end(&devnet, &a).await + 1).await;
        devnet.mine().await;
        until(&instances[0], Duration::from_secs(30), "wave A confirmed", || async {
            counts(&*store).await.get(&PayoutStatus::Confirmed) == Some(&50)
        })
        .await;

        // Wave B due; the database goes away once its first release is on-chain (mid-batch).
        devnet.proxy.set_latency(Duration::from_millis(10));
        mine_at(&devnet, last_window_end(&devnet, &b).await + 1).await;
        devnet.mine().await;
        until(&instances[0], Duration::from_secs(20), "wave B started", || async {
            released_of(&devnet, &b).await > 0
        })
        .await;
        proxy.set_down(true);
        let outage = Instant::now();
        let cut_at = released_of(&devnet, &b).await;

        // Meanwhile wave C comes due. Both processes stay up and keep serving /health.
        mine_at(&devnet, last_window_end(&devnet, &c).await + 1).await;
        devnet.mine().await;
        let mut ready_during = BTreeMap::new();
        while outage.elapsed() < OUTAGE {
            for (i, relayer) in instances.iter_mut().enumerate() {
                assert!(
                    relayer.is_running(),
                    "instance {i} exited during the outage:\n{}",
                    relayer.log_tail(40)
                );
                assert_eq!(relayer.health().await, Some(200), "/health of {i} during the outage");
                *ready_during.entry(relayer.ready().await).or_insert(0) += 1;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert!(
            ready_during.contains_key(&Some(503)),
            "/ready never said 503 without its database: {ready_during:?}"
        );
        let during = released_of(&devnet, &all).await;
        let refused = proxy.connections().1;
        proxy.set_down(false);
        let up = Instant::now();

        // Back: everything confirmed with no operator action, /ready 200, the same processes.
        until(&instances[0], Duration::from_secs(60), "all 150 payouts confirmed", || {
            all_confirmed(&*store, 150)
        })
        .await;
        let recovered = up.elapsed();
        for (i, relayer) in instances.iter().enumerate() {
            until(relayer, Duration::from_secs(20), "/ready 200 again", || async {
                relayer.ready().await == Some(200)
            })
            .await;
            assert_eq!(relayer.starts, 1, "instance {i} was restarted");
        }
        for (i, relayer) in instances.iter_mut().enumerate() {
            assert!(relayer.is_running(), "instance {i}");
            assert_eq!(relayer.pid(), pids[i], "instance {i}: the same process throughout");
        }
        assert_paid_exactly_once(&devnet, &*store, &all).await;
        for (i, relayer) in instances.iter_mut().enumerate() {
            let status = relayer.terminate(Duration::from_secs(15)).await;
            assert!(status.success(), "graceful stop of instance {i}: {status}");
        }
        store.close().await;
        eprintln!(
            "database outage test: cut with {cut_at}/50 of wave B released, {during}/150 \
             released by the end of the outage, {refused} connection(s) refused, /ready during \
             it {ready_during:?}, recovered {:.1} s after it ended, total {:.1} s",
            recovered.as_secs_f64(),
            test_started.elapsed().as_secs_f64()
        );
    })
    .await;
}

/// A slow node (every RPC 60 ms more: the watcher's first page, with its 64 headers one request
/// each, takes about 4 s) and a 2 s cursor lease, two instances: the leader renews its lease
/// during the page instead of losing it mid-page to the other, whose page would outlast the
/// lease in turn (the cursor then never moved and nothing was ever paid).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_keeps_its_lease_through_a_page_longer_than_the_lease() {
    let db = postgres().await;
    bounded(Duration::from_secs(90), async {
        let test_started = Instant::now();
        let devnet = Devnet::start().await;
        let jobs = submitted_jobs(&devnet, 3..4, 0).await;
        mine_at(&devnet, last_window_end(&devnet, &jobs).await + 1).await;
        devnet.mine().await;
        devnet.proxy.set_latency(Duration::from_millis(60));
        let storage = db.storage_url();
        let mut instances = spawn_instances(&devnet, &storage, 2, true).await;
        let store: Arc<dyn Store> = db.open().await;
        until(&instances[0], Duration::from_secs(45), "all 50 payouts confirmed", || {
            all_confirmed(&*store, 50)
        })
        .await;
        for (i, relayer) in instances.iter_mut().enumerate() {
            let lost = relayer.logged("cursor lease lost: follower");
            assert!(lost.is_empty(), "instance {i} lost the cursor lease while alive: {lost:?}");
            let status = relayer.terminate(Duration::from_secs(15)).await;
            assert!(status.success(), "graceful stop of instance {i}: {status}");
        }
        assert_paid_exactly_once(&devnet, &*store, &jobs).await;
        store.close().await;
        eprintln!("slow-node lease test: total {:.1} s", test_started.elapsed().as_secs_f64());
    })
    .await;
}
