//! Two relayer instances (the library, [`Relayer::start`], in this process) on ONE PostgreSQL
//! schema with ONE signer, against anvil behind the Rootstock-shaped proxy: one holds the cursor
//! lease (leader) and the other does not (follower), due milestone releases are each paid once
//! with no nonce reused, and when the leader dies without releasing its lease the follower takes
//! the cursor over within one lease and pays what becomes due after. And a single SQLite
//! instance (whose store always grants the lease) reports itself leader.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use alloy::{primitives::U256, providers::Provider};
use serde_json::Value;
use shiftpay_relayer::{
    Relayer,
    service::RelayerHandle,
    store::{CURSOR_LEASE, PayoutStatus, Store},
};
use shiftpay_tests::rsk_proxy::RskProxy;
use sqlx::{Connection, Row};

use crate::{
    binary::{released_count, releases, send_many, store_txs, submit_calls, wait_mined},
    devnet::{Devnet, RELAYER, coin},
    store::{Backend, Postgres, postgres},
};

/// The whole test must end within this.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// `leader_lease` of both instances.
const LEASE: Duration = Duration::from_secs(3);

/// `poll_interval` of [`Devnet::config`].
const POLL: Duration = Duration::from_millis(200);

/// Milestones due in the first phase (both instances up) and after the takeover.
const FIRST: u64 = 40;
const SECOND: u64 = 5;

const CLIENT: usize = 2;
const WORKER: usize = 3;

/// Review window of the jobs (the chain's clock is moved past it).
const REVIEW: u32 = 3_600;

/// Gas limit of one `submit` (bulk setup).
const SUBMIT_GAS: u64 = 250_000;

/// Relayers still running when the test ends (a panic included) are aborted, before the schema
/// guard drops their tables and anvil is killed.
#[derive(Default)]
struct Instances(Vec<Option<RelayerHandle>>);

impl Instances {
    fn add(&mut self, handle: RelayerHandle) -> usize {
        self.0.push(Some(handle));
        self.0.len() - 1
    }

    fn get(&self, i: usize) -> &RelayerHandle {
        self.0[i].as_ref().expect("a running instance")
    }

    fn take(&mut self, i: usize) -> RelayerHandle {
        self.0[i].take().expect("a running instance")
    }
}

impl Drop for Instances {
    fn drop(&mut self) {
        for handle in self.0.iter_mut().filter_map(Option::take) {
            handle.abort();
        }
    }
}

/// `GET /ready` of an instance (both statuses carry its id and role).
async fn ready(addr: SocketAddr) -> Value {
    reqwest::get(format!("http://{addr}/ready")).await.unwrap().json().await.unwrap()
}

/// `GET /metrics` of an instance.
async fn metrics(addr: SocketAddr) -> String {
    reqwest::get(format!("http://{addr}/metrics")).await.unwrap().text().await.unwrap()
}

/// Polls `cond` every 50 ms until it holds; panics after `timeout`, naming `what`. Returns how
/// long it took.
async fn within<F, Fut>(timeout: Duration, what: &str, mut cond: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !cond().await {
        assert!(started.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

/// The stored cursor lease: (holder, until).
async fn cursor_lease(db: &Postgres) -> Option<(String, i64)> {
    let mut conn = sqlx::PgConnection::connect_with(&db.options()).await.unwrap();
    let row = sqlx::query("SELECT holder, lease_until FROM leases WHERE name = $1")
        .bind(CURSOR_LEASE)
        .fetch_optional(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    row.map(|row| (row.get("holder"), row.get("lease_until")))
}

/// A funded, accepted job of `count` milestones whose every milestone the worker submitted
/// (one block per submission, all mined).
async fn submitted_job(devnet: &Devnet, count: u64) -> U256 {
    let amounts = vec![coin(1) / U256::from(1_000u64); usize::try_from(count).unwrap()];
    let job = devnet.job(CLIENT, WORKER, &amounts, REVIEW).await;
    let last =
        send_many(devnet, WORKER, devnet.escrow(), &submit_calls(job, count), SUBMIT_GAS).await;
    wait_mined(devnet, last).await;
    job
}

/// Every milestone of `job` released exactly once, by the relayer.
async fn assert_released_once(devnet: &Devnet, job: U256, count: u64) {
    let events = releases(devnet).await;
    for index in 0..count {
        assert_eq!(released_count(&events, job, index), 1, "milestone {index} of job {job}");
    }
    for event in events.iter().filter(|e| e.jobId == job) {
        assert_eq!(event.caller, shiftpay_tests::anvil::dev_address(RELAYER));
    }
}

/// No nonce used twice: the store's records of the signer are nonces 0..n, one each, and the
/// chain's nonce of the signer is n (every one of them mined, nothing else sent).
async fn assert_nonces(devnet: &Devnet, store: &dyn Store) -> usize {
    let signer = shiftpay_tests::anvil::dev_address(RELAYER);
    let txs = store_txs(store, signer).await;
    let nonces: Vec<u64> = txs.iter().map(|tx| tx.nonce).collect();
    let expected: Vec<u64> = (0..txs.len() as u64).collect();
    assert_eq!(nonces, expected, "one record per nonce, no gap");
    assert_eq!(devnet.relayer_nonce().await, txs.len() as u64, "chain nonce == stored txs");
    txs.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_database_and_the_follower_takes_over_the_cursor() {
    let started = Instant::now();
    // Declared first, dropped last: the instances are aborted before the schema and anvil go.
    let devnet = Devnet::start().await;
    let db = postgres().await;
    let mut instances = Instances::default();
    tokio::time::timeout(TEST_TIMEOUT, async {
        let job = submitted_job(&devnet, FIRST).await;
        // From here the chain makes a block every second, as a live chain does (the relayer's
        // transactions get their confirmation blocks without the test's help).
        let _: Value =
            devnet.direct.raw_request("evm_setIntervalMining".into(), (1u64,)).await.unwrap();
        let top = format!(
            "storage = \"{}\"\nconfirmations = 1\nleader_lease = \"{}s\"",
            db.storage_url(),
            LEASE.as_secs()
        );
        let config = || devnet.config(&top, "");

        // A starts and takes the lease; then B starts and finds it taken.
        let a = instances.add(Relayer::start(config()).await.unwrap());
        let a_addr = instances.get(a).api_addr().unwrap();
        within(Duration::from_secs(10), "A leader", || async {
            ready(a_addr).await["role"] == "leader"
        })
        .await;
        // B reaches the same anvil through a proxy of its own: each proxy counts one
        // instance's calls.
        let proxy_b = RskProxy::start(devnet.anvil.url()).unwrap();
        let mut config_b = config();
        config_b.rpc_url = proxy_b.url().to_owned();
        let b = instances.add(Relayer::start(config_b).await.unwrap());
        let b_addr = instances.get(b).api_addr().unwrap();
        let a_id = instances.get(a).context().instance.clone();
        let b_id = instances.get(b).context().instance.clone();
        assert_ne!(a_id, b_id);
        // B's watcher tried the lease and found A holding it.
        within(Duration::from_secs(10), "B sees A lead", || async {
            ready(b_addr).await["leader"] == a_id.as_str()
        })
        .await;
        let (ra, rb) = (ready(a_addr).await, ready(b_addr).await);
        assert_eq!((&ra["role"], &rb["role"]), (&"leader".into(), &"follower".into()));
        assert_eq!(ra["leader"], a_id.as_str());
        assert_eq!(ra["status"], "ready", "{ra}");
        assert_eq!(rb["status"], "ready", "a follower is ready while the leader keeps up: {rb}");
        assert_eq!(
            (ra["instance"].as_str(), rb["instance"].as_str()),
            (Some(&*a_id), Some(&*b_id))
        );
        assert_eq!(cursor_lease(&db).await.map(|(holder, _)| holder), Some(a_id.clone()));
        let (ma, mb) = (metrics(a_addr).await, metrics(b_addr).await);
        assert!(ma.contains("\nrelayer_leader 1\n"), "{ma}");
        assert!(mb.contains("\nrelayer_leader 0\n"), "{mb}");
        assert!(
            mb.contains(&format!(
                "relayer_instance_info{{instance_id=\"{b_id}\",role=\"follower\"}} 1"
            )),
            "{mb}"
        );

        // The 40 review windows end: both senders claim from one queue with one signer.
        devnet.advance(u64::from(REVIEW) + 60).await;
        devnet.mine().await;
        let store = instances.get(a).context().store.clone();
        let paid = within(Duration::from_secs(30), "the first releases", || async {
            released_in(&devnet, job).await == FIRST
                && store.payout_counts().await.unwrap().get(&PayoutStatus::Confirmed).copied()
                    == Some(FIRST)
        })
        .await;
        eprintln!(
            "{FIRST} releases paid and confirmed by two instances in {paid:?} \
             (eth_sendRawTransaction: A {}, B {})",
            devnet.proxy.count("eth_sendRawTransaction"),
            proxy_b.count("eth_sendRawTransaction")
        );
        assert_released_once(&devnet, job, FIRST).await;
        let sent = assert_nonces(&devnet, &*store).await;
        assert_eq!(sent as u64, FIRST, "one transaction per release");
        assert_eq!(ready(b_addr).await["role"], "follower", "B never got the lease");

        // A dies without releasing its lease (no shutdown): B takes over once it ends.
        instances.take(a).abort();
        let died = Instant::now();
        // From here the test reads the database through a pool of its own: A's pool may hold a
        // connection whose `BEGIN` an aborted task sent without sqlx counting the transaction
        // (cancelled before the reply), and a later `BEGIN ISOLATION LEVEL ...` on it fails
        // with 25001. A dead instance's pool dies with its process; this one is still in ours.
        let store = db.open().await;
        // A's last renewal, final now: the lease ends after second `until` (whole seconds).
        let (holder, until) = cursor_lease(&db).await.unwrap();
        assert_eq!(holder, a_id);
        let until = u64::try_from(until).unwrap();
        let takeover = within(LEASE + Duration::from_secs(5), "B leader", || async {
            ready(b_addr).await["role"] == "leader"
        })
        .await;
        let seen_at = unix_now_f64();
        let expired_at = (until + 1) as f64;
        eprintln!(
            "B took over {takeover:?} after A died, {:.2} s after A's lease ended",
            seen_at - expired_at
        );
        // Not before A's lease ended (B respected it), and within one lease of A's death: at
        // B's first poll after the end (plus the 50 ms of this test's own polling).
        assert!(seen_at >= expired_at, "B led {:.2} s before the end", expired_at - seen_at);
        let bound = (POLL + Duration::from_secs(1)).as_secs_f64();
        assert!(seen_at - expired_at <= bound, "B led {:.2} s after the end", seen_at - expired_at);
        assert!(
            died.elapsed() <= LEASE + Duration::from_secs(2) + POLL,
            "takeover took {takeover:?}"
        );
        assert_eq!(cursor_lease(&db).await.map(|(holder, _)| holder), Some(b_id.clone()));

        // B, alone, follows the logs: new submissions are seen and paid once.
        let cursor_before = store.cursor().await.unwrap().unwrap().block;
        let second = submitted_job(&devnet, SECOND).await;
        devnet.advance(u64::from(REVIEW) + 60).await;
        devnet.mine().await;
        within(Duration::from_secs(20), "the releases after the takeover", || async {
            released_in(&devnet, second).await == SECOND
                && store.payout_counts().await.unwrap().get(&PayoutStatus::Confirmed).copied()
                    == Some(FIRST + SECOND)
        })
        .await;
        assert!(store.cursor().await.unwrap().unwrap().block > cursor_before, "B moved the cursor");
        assert_released_once(&devnet, second, SECOND).await;
        assert_released_once(&devnet, job, FIRST).await;
        assert_eq!(assert_nonces(&devnet, &*store).await as u64, FIRST + SECOND);

        // A clean shutdown gives the lease up at once.
        instances.take(b).shutdown().await.unwrap();
        assert_eq!(cursor_lease(&db).await, None, "B released the cursor lease");
    })
    .await
    .expect("the test took too long");
    drop(instances);
    eprintln!("two-instance test: {:?}", started.elapsed());
}

/// How many `MilestoneReleasedAfterReview` events of `job` the chain has.
async fn released_in(devnet: &Devnet, job: U256) -> u64 {
    releases(devnet).await.iter().filter(|e| e.jobId == job).count() as u64
}

/// The machine's clock (the one the leases use), in fractional unix seconds.
fn unix_now_f64() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

/// One instance on SQLite (which always grants the lease) is the leader, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_sqlite_instance_is_the_leader() {
    let devnet = Devnet::start().await;
    let mut instances = Instances::default();
    tokio::time::timeout(TEST_TIMEOUT, async {
        let one = instances.add(Relayer::start(devnet.config("", "")).await.unwrap());
        let addr = instances.get(one).api_addr().unwrap();
        let id = instances.get(one).context().instance.clone();
        within(Duration::from_secs(10), "the first step", || async {
            ready(addr).await["leader"] == id.as_str()
        })
        .await;
        let ready = ready(addr).await;
        assert_eq!((&ready["role"], &ready["instance"]), (&"leader".into(), &id.as_str().into()));
        let text = metrics(addr).await;
        assert!(text.contains("\nrelayer_leader 1\n"), "{text}");
        let info = format!("relayer_instance_info{{instance_id=\"{id}\",role=\"leader\"}} 1\n");
        assert!(text.contains(&info), "{text}");
        instances.take(one).shutdown().await.unwrap();
    })
    .await
    .expect("the test took too long");
}
