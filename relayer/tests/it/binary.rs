//! The real `shiftpay-relayer` binary as a child process, for the end-to-end and fault tests:
//! a config file in the devnet's temp dir, JSON logs appended to a file (printed when a test
//! fails), the API address read from the "relayer running" log line, `SIGTERM` / `kill -9` by
//! pid, and a guard that kills the process when dropped (also while a failing test unwinds).
//! Also the few chain reads these tests share.

#![allow(dead_code)] // each test module uses part of it

use std::{
    fs::OpenOptions,
    io::{Read, Seek, SeekFrom},
    net::SocketAddr,
    os::unix::process::{CommandExt, ExitStatusExt},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::{
    network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder},
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
    sol_types::SolCall,
};
use shiftpay_relayer::{
    bindings::escrow::MilestoneEscrow,
    store::{self, StorageUrl, Store, TxRecord, TxStatus},
};
use shiftpay_tests::anvil::dev_signer;

use crate::{common::DEV_KEY, devnet::Devnet};

/// How long a relayer may take from spawn to serving `/health`.
pub(crate) const START_DEADLINE: Duration = Duration::from_secs(30);

/// The relayer settings every binary test uses (poll fast, confirm after one block, replace a
/// stuck transaction after 3 s, the API on a port the OS picks); `extra` is appended to the
/// top-level keys (before any table), `tables` after the `[api]` and `[gas]` tables.
pub(crate) fn write_config(devnet: &Devnet, extra: &str, tables: &str) -> PathBuf {
    write_config_in(devnet, devnet.dir.path(), "sqlite://relayer.db", extra, tables)
}

/// [`write_config`] for one of several instances: the config (so also the instance's
/// `relayer.log`) in `devnet.dir/<name>/`, the given `storage` URL, the devnet's deployment file.
pub(crate) fn write_instance_config(
    devnet: &Devnet,
    name: &str,
    storage: &str,
    extra: &str,
    tables: &str,
) -> PathBuf {
    let dir = devnet.dir.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let deployment = shiftpay_relayer::bindings::deployment::Deployment::default_path(
        devnet.dir.path(),
        crate::devnet::CHAIN_ID,
    );
    let extra = format!("deployment = {:?}\n{extra}", deployment.display().to_string());
    write_config_in(devnet, &dir, storage, &extra, tables)
}

fn write_config_in(
    devnet: &Devnet,
    dir: &Path,
    storage: &str,
    extra: &str,
    tables: &str,
) -> PathBuf {
    let toml = format!(
        "chain = \"devnet\"\n\
         rpc_url = \"{rpc}\"\n\
         storage = {storage:?}\n\
         poll_interval = \"200ms\"\n\
         rpc_timeout = \"2s\"\n\
         shutdown_timeout = \"10s\"\n\
         {extra}\n\
         [api]\n\
         listen = \"127.0.0.1:0\"\n\
         [gas]\n\
         replace_after = \"3s\"\n\
         {tables}\n",
        rpc = devnet.proxy.url(),
    );
    let path = dir.join("relayer.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

/// The SQLite file [`write_config`] names.
pub(crate) fn db_path(devnet: &Devnet) -> PathBuf {
    devnet.dir.path().join("relayer.db")
}

/// Opens the relayer's store (SQLite in WAL mode: safe while the relayer runs).
pub(crate) async fn open_store(devnet: &Devnet) -> Arc<dyn Store> {
    store::open(&StorageUrl::Sqlite(db_path(devnet))).await.unwrap()
}

/// A `shiftpay-relayer run` child process. Dropping it sends `SIGKILL` to its process group.
pub(crate) struct RelayerProcess {
    child: Option<Child>,
    config: PathBuf,
    log_path: PathBuf,
    /// Where the current run's log starts in the file.
    log_start: u64,
    api: Option<SocketAddr>,
    /// How many times it was started.
    pub(crate) starts: u32,
}

impl RelayerProcess {
    /// Spawns the binary with `config` (signer: `SHIFTPAY_PRIVATE_KEY`, dev account 0) in its
    /// own process group, stderr appended to `relayer.log` next to the config. Does not wait.
    pub(crate) fn spawn(config: &Path) -> Self {
        let log_path = config.with_file_name("relayer.log");
        let mut relayer = Self {
            child: None,
            config: config.to_owned(),
            log_path,
            log_start: 0,
            api: None,
            starts: 0,
        };
        relayer.start();
        relayer
    }

    /// Starts it (again) after a kill or a stop.
    pub(crate) fn start(&mut self) {
        assert!(!self.is_running(), "the relayer is already running");
        let log = OpenOptions::new().create(true).append(true).open(&self.log_path).unwrap();
        self.log_start = log.metadata().unwrap().len();
        let mut command = Command::new(env!("CARGO_BIN_EXE_shiftpay-relayer"));
        command
            .args(["--log-format", "json", "run", "--config"])
            .arg(&self.config)
            .env("SHIFTPAY_PRIVATE_KEY", DEV_KEY)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0);
        // Settings from the environment would override the test's config.
        for (name, _) in std::env::vars() {
            if name.starts_with("SHIFTPAY_") {
                command.env_remove(name);
            }
        }
        self.child = Some(command.spawn().expect("the relayer binary starts"));
        self.api = None;
        self.starts += 1;
    }

    /// The process id while it runs.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is alive.
    pub(crate) fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Waits until this run logged "relayer running" (its API address) and `/health` answers
    /// 200, within [`START_DEADLINE`]; panics with the log if it exits or takes longer.
    pub(crate) async fn wait_healthy(&mut self) -> SocketAddr {
        let started = Instant::now();
        loop {
            if !self.is_running() {
                panic!("the relayer exited during start-up; its log:\n{}", self.log_tail(60));
            }
            if self.api.is_none() {
                self.api = self.api_from_log();
            }
            if let Some(addr) = self.api
                && let Ok(response) = reqwest::get(format!("http://{addr}/health")).await
                && response.status() == 200
            {
                return addr;
            }
            assert!(
                started.elapsed() < START_DEADLINE,
                "the relayer did not serve /health within {START_DEADLINE:?}; its log:\n{}",
                self.log_tail(60)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The API address of the current run (after [`RelayerProcess::wait_healthy`]).
    pub(crate) fn api(&self) -> SocketAddr {
        self.api.expect("wait_healthy first")
    }

    /// `GET /ready`: the status code.
    pub(crate) async fn ready(&self) -> Option<u16> {
        let response = reqwest::get(format!("http://{}/ready", self.api())).await.ok()?;
        Some(response.status().as_u16())
    }

    /// `GET /health`: the status code.
    pub(crate) async fn health(&self) -> Option<u16> {
        let response = reqwest::get(format!("http://{}/health", self.api())).await.ok()?;
        Some(response.status().as_u16())
    }

    /// The `api` field of this run's "relayer running" line (`Some(127.0.0.1:PORT)`).
    fn api_from_log(&self) -> Option<SocketAddr> {
        self.run_log().lines().find_map(|line| {
            let json: serde_json::Value = serde_json::from_str(line).ok()?;
            let fields = json.get("fields")?;
            if fields.get("message")?.as_str()? != "relayer running" {
                return None;
            }
            let api = fields.get("api")?.as_str()?;
            api.strip_prefix("Some(")?.strip_suffix(')')?.parse().ok()
        })
    }

    /// `SIGTERM` (graceful stop), then waits up to `deadline` for the exit; panics (with the
    /// log) if it does not exit in time.
    pub(crate) async fn terminate(&mut self, deadline: Duration) -> ExitStatus {
        let pid = self.pid().expect("the relayer runs");
        // SAFETY: `kill` has no memory-safety preconditions; `pid` is our own child, not reaped.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(
                started.elapsed() < deadline,
                "the relayer did not stop within {deadline:?} after SIGTERM; its log:\n{}",
                self.log_tail(40)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `kill -9` of its process group, and reaps it. Returns the status (killed by signal 9
    /// unless it had exited already).
    pub(crate) fn kill_9(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        // SAFETY: as above; a negative pid names the process group the child leads.
        unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
        Some(child.wait().unwrap())
    }

    /// The log of every run so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The log of the current run.
    pub(crate) fn run_log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(&self.log_path) {
            let _ = file.seek(SeekFrom::Start(self.log_start));
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    /// The last `lines` lines of the log (all runs).
    pub(crate) fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The `fields` of every log line (all runs) whose message is `message`.
    pub(crate) fn logged(&self, message: &str) -> Vec<serde_json::Value> {
        self.log()
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter_map(|json| json.get("fields").cloned())
            .filter(|fields| fields.get("message").and_then(|m| m.as_str()) == Some(message))
            .collect()
    }

    /// Log lines (all runs) at WARN or ERROR, with their message.
    pub(crate) fn problems(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|line| {
                line.contains("\"level\":\"WARN\"") || line.contains("\"level\":\"ERROR\"")
            })
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for RelayerProcess {
    fn drop(&mut self) {
        if self.kill_9().is_some() && std::thread::panicking() {
            eprintln!("--- relayer log (last 80 lines) ---\n{}", self.log_tail(80));
        }
    }
}

/// Whether `status` is the end of a `kill -9`.
pub(crate) fn killed_by_sigkill(status: &ExitStatus) -> bool {
    status.signal() == Some(libc::SIGKILL)
}

/// Polls `cond` every 100 ms until it holds; panics after `timeout`, naming `what` and adding
/// the relayer's log.
pub(crate) async fn until<F, Fut>(
    relayer: &RelayerProcess,
    timeout: Duration,
    what: &str,
    mut cond: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !cond().await {
        assert!(
            started.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}; relayer log:\n{}",
            relayer.log_tail(60)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---- chain reads and bulk setup ----------------------------------------------------------------

/// The `MilestoneReleasedAfterReview` events of the escrow (all blocks), decoded.
pub(crate) async fn releases(
    devnet: &Devnet,
) -> Vec<MilestoneEscrow::MilestoneReleasedAfterReview> {
    devnet.events(devnet.escrow()).await.into_iter().map(|(event, _)| event).collect()
}

/// The `MilestoneSubmitted` events of the escrow (all blocks), decoded.
pub(crate) async fn submissions(devnet: &Devnet) -> Vec<MilestoneEscrow::MilestoneSubmitted> {
    devnet.events(devnet.escrow()).await.into_iter().map(|(event, _)| event).collect()
}

/// How many releases of milestone `index` of `job` the chain has.
pub(crate) fn released_count(
    events: &[MilestoneEscrow::MilestoneReleasedAfterReview],
    job: U256,
    index: u64,
) -> usize {
    events.iter().filter(|e| e.jobId == job && e.milestoneIndex == U256::from(index)).count()
}

/// Every transaction record the store has for `signer`, by nonce.
pub(crate) async fn store_txs(store: &dyn Store, signer: Address) -> Vec<TxRecord> {
    let all = [
        TxStatus::Pending,
        TxStatus::Mined,
        TxStatus::Confirmed,
        TxStatus::Reverted,
        TxStatus::Dropped,
        TxStatus::Replaced,
    ];
    let mut txs: Vec<TxRecord> = store
        .txs_with_status(&all)
        .await
        .unwrap()
        .into_iter()
        .filter(|tx| tx.signer == signer)
        .collect();
    txs.sort_by_key(|tx| tx.nonce);
    txs
}

/// Checks every stored transaction of `signer` against the chain: each was mined (one of its
/// hashes has a receipt) and succeeded. Returns the number of records.
pub(crate) async fn assert_stored_txs_mined_and_succeeded(
    devnet: &Devnet,
    store: &dyn Store,
    signer: Address,
) -> usize {
    let txs = store_txs(store, signer).await;
    for tx in &txs {
        let mut mined = None;
        for hash in &tx.hashes {
            if let Some(receipt) = devnet.direct.get_transaction_receipt(*hash).await.unwrap() {
                assert!(mined.is_none(), "two versions of nonce {} were mined", tx.nonce);
                mined = Some(receipt);
            }
        }
        let receipt =
            mined.unwrap_or_else(|| panic!("stored tx nonce {} never mined: {tx:?}", tx.nonce));
        assert!(
            receipt.status(),
            "relayer tx {} (nonce {}) reverted",
            receipt.transaction_hash,
            tx.nonce
        );
        assert_eq!(tx.status, TxStatus::Confirmed, "nonce {}: {tx:?}", tx.nonce);
    }
    txs.len()
}

/// Signs `call` from dev account `from` locally with `nonce` (gas limit `gas`, the node's gas
/// price): the raw bytes, to send now or to re-include in a reorg.
pub(crate) async fn sign_call<C: SolCall>(
    devnet: &Devnet,
    from: usize,
    to: Address,
    call: &C,
    nonce: u64,
    gas: u64,
) -> Bytes {
    let gas_price = devnet.direct.get_gas_price().await.unwrap();
    sign_priced(from, to, call, nonce, gas, gas_price).await
}

/// [`sign_call`] at `gas_price`. (Paying more than the node's price on every transaction would
/// feed anvil's price oracle, which adds the recent tips: the price would double each time.)
async fn sign_priced<C: SolCall>(
    from: usize,
    to: Address,
    call: &C,
    nonce: u64,
    gas: u64,
    gas_price: u128,
) -> Bytes {
    let wallet = EthereumWallet::new(dev_signer(from));
    let request = TransactionRequest::default()
        .with_from(dev_signer(from).address())
        .with_to(to)
        .with_input(Bytes::from(call.abi_encode()))
        .with_nonce(nonce)
        .with_chain_id(crate::devnet::CHAIN_ID)
        .with_gas_limit(gas)
        .with_gas_price(gas_price);
    let envelope = request.build(&wallet).await.unwrap();
    Bytes::from(alloy::eips::eip2718::Encodable2718::encoded_2718(&envelope))
}

/// Signs `calls` from dev account `from` locally with consecutive nonces (starting at the
/// account's `pending` count) and sends them raw straight to anvil without waiting for each:
/// bulk setup. `gas` is the limit of each. Returns the hash of the last one.
pub(crate) async fn send_many<C: SolCall>(
    devnet: &Devnet,
    from: usize,
    to: Address,
    calls: &[C],
    gas: u64,
) -> B256 {
    let address = dev_signer(from).address();
    let mut nonce = devnet.direct.get_transaction_count(address).pending().await.unwrap();
    let gas_price = devnet.direct.get_gas_price().await.unwrap();
    let mut last = B256::ZERO;
    for call in calls {
        let raw = sign_priced(from, to, call, nonce, gas, gas_price).await;
        last = match devnet.direct.send_raw_transaction(&raw).await {
            Ok(pending) => *pending.tx_hash(),
            Err(err) => {
                let balance = devnet.direct.get_balance(address).await.unwrap();
                let price = devnet.direct.get_gas_price().await.unwrap();
                panic!(
                    "dev {from} ({address}) nonce {nonce}: {err} \
                     (balance {balance}, gas price {price})"
                )
            }
        };
        nonce += 1;
    }
    last
}

/// Waits (bounded) until `hash` has a successful receipt on anvil.
///
/// Bulk setup sends many transactions back to back, and twice in CI (never locally, loaded or
/// not) the last one stayed in anvil's pool: automine mines when a transaction arrives, so a
/// transaction left behind (one that became ready after the block that was being mined, or
/// one priced under a base fee that a large block raised) waits for a next transaction that
/// setup never sends. After [`NUDGE_AFTER`] without a receipt, a block is mined every
/// [`NUDGE_EVERY`] (`evm_mine` takes what is ready; an empty block lowers the base fee). A
/// failure says what the node had.
pub(crate) async fn wait_mined(devnet: &Devnet, hash: B256) {
    let started = Instant::now();
    let mut nudged: Option<Instant> = None;
    loop {
        if let Some(receipt) = devnet.direct.get_transaction_receipt(hash).await.unwrap() {
            assert!(receipt.status(), "setup transaction {hash} reverted");
            if nudged.is_some() {
                eprintln!("setup tx {hash} mined after {:?} and mined blocks", started.elapsed());
            }
            return;
        }
        if started.elapsed() >= Duration::from_secs(30) {
            panic!("setup tx {hash} not mined in 30 s: {}", pool_report(devnet, hash).await);
        }
        if started.elapsed() >= NUDGE_AFTER && nudged.is_none_or(|at| at.elapsed() >= NUDGE_EVERY) {
            if nudged.is_none() {
                eprintln!(
                    "setup tx {hash} not mined after {:?} ({}): mining blocks",
                    started.elapsed(),
                    pool_report(devnet, hash).await
                );
            }
            devnet.mine().await;
            nudged = Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How long [`wait_mined`] waits before it mines blocks itself.
const NUDGE_AFTER: Duration = Duration::from_secs(3);
/// How often [`wait_mined`] mines a block after that.
const NUDGE_EVERY: Duration = Duration::from_millis(500);

/// What the node says of a transaction that is not mined: whether it knows it, its price and
/// nonce, the sender's mined and pending counts, the latest block's base fee.
async fn pool_report(devnet: &Devnet, hash: B256) -> String {
    let tx: Option<serde_json::Value> =
        devnet.direct.raw_request("eth_getTransactionByHash".into(), (hash,)).await.ok().flatten();
    let Some(tx) = tx else { return "the node does not know it".to_owned() };
    let from: Option<Address> = tx["from"].as_str().and_then(|s| s.parse().ok());
    let counts = match from {
        Some(from) => {
            let mined = devnet.direct.get_transaction_count(from).await.ok();
            let pending = devnet.direct.get_transaction_count(from).pending().await.ok();
            format!("sender mined {mined:?} / pending {pending:?}")
        }
        None => "sender unknown".to_owned(),
    };
    let base_fee = devnet
        .direct
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .ok()
        .flatten()
        .and_then(|block| block.header.base_fee_per_gas);
    format!(
        "in the pool: nonce {}, gas price {}; {counts}; latest base fee {base_fee:?}",
        tx["nonce"], tx["gasPrice"]
    )
}

/// The submit calls of milestones `0..count` of `job`.
pub(crate) fn submit_calls(job: U256, count: u64) -> Vec<MilestoneEscrow::submitCall> {
    (0..count)
        .map(|index| MilestoneEscrow::submitCall {
            jobId: job,
            milestoneIndex: U256::from(index),
            deliverableHash: B256::repeat_byte(0x22),
        })
        .collect()
}

/// Sets the anvil clock so the next block is at `timestamp`, and mines it.
pub(crate) async fn mine_at(devnet: &Devnet, timestamp: u64) {
    let _: serde_json::Value =
        devnet.direct.raw_request("evm_setNextBlockTimestamp".into(), (timestamp,)).await.unwrap();
    devnet.mine().await;
}

// ---- fault-test helpers (faults.rs, pg_faults.rs) ----------------------------------------------

/// One millionth of a coin: the milestone amount of the fault tests' bulk jobs.
pub(crate) fn micro() -> U256 {
    U256::from(1_000_000_000_000u64)
}

/// Runs `test`, failing it when it takes longer than `limit`.
pub(crate) async fn bounded<F: std::future::Future<Output = ()>>(limit: Duration, test: F) {
    tokio::time::timeout(limit, test).await.expect("the test took too long");
}

/// SplitMix64: a tiny seeded generator (a kill schedule must be replayable from its seed).
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    /// The next 64 random bits.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[low, high)`.
    pub(crate) fn below(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low)
    }

    /// Uniform in `[low, high)` milliseconds.
    pub(crate) fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(self.below(low, high))
    }
}

/// The seed: `SHIFTPAY_FAULT_SEED`, else the clock.
pub(crate) fn seed() -> u64 {
    std::env::var("SHIFTPAY_FAULT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
            as u64
    })
}
