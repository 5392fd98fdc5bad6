//! `shiftpay devnet up|down|status|reset`: the embedded default chain.
//!
//! `up` starts the workspace's anvil (`node_modules`, installed by `make deps`) in the
//! background: chain id 33 (the `devnet` preset), the development mnemonic, a block every 2 s,
//! its state kept in `.devnet/state.json` between runs (dumped on `down` and every few seconds).
//! It then deploys Payroll, MilestoneEscrow (through `shiftpay deploy`'s code path) and the test
//! stablecoin tUSD (6 decimals, listed in the deployment file's tokens) unless the deployment
//! file already points at live contracts. `down` stops the process recorded in
//! `.devnet/devnet.json` (its own pid, never anything else), `status` shows it, `reset` throws the
//! state away and starts afresh.
//!
//! Every other command given no `--chain`/`--rpc-url` (and no `chain` in shiftpay.toml) talks to
//! this devnet ([`default_rpc_url`]).

use std::{
    fs::OpenOptions,
    io::Read,
    net::{Ipv4Addr, TcpListener},
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use alloy::{
    network::TransactionBuilder,
    primitives::Address,
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
};
use clap::{Args, Subcommand};
use eyre::{WrapErr, bail, eyre};
use serde::{Deserialize, Serialize};
use shiftpay_bindings::{
    deployment::{DeployedToken, Deployment},
    devnet::{
        self, CHAIN_ID, DEFAULT_BLOCK_TIME, DEFAULT_PORT, DEV_MNEMONIC, DevnetStablecoin,
        STABLECOIN_DECIMALS, STABLECOIN_SYMBOL, listening_port, probe_chain_id,
    },
};

use crate::{
    context::{Context, Sent},
    opts::{ChainOpts, TxOpts, WalletOpts},
    output::OutputArgs,
};

/// The devnet's folder, relative to the working directory, unless `--devnet-dir` says otherwise.
pub(crate) const DEFAULT_DIR: &str = ".devnet";
/// Environment variable of `--devnet-dir`.
pub(crate) const DIR_ENV: &str = "SHIFTPAY_DEVNET_DIR";
/// The record of the running devnet in its folder.
const RECORD_FILE: &str = "devnet.json";
/// Anvil's state, reloaded at start and dumped on exit.
const STATE_FILE: &str = "state.json";
/// Anvil's output.
const LOG_FILE: &str = "anvil.log";
/// Development account that deploys the contracts on the devnet.
pub(crate) const DEPLOYER_INDEX: u32 = 0;
/// How long anvil may take to answer after start.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `down` waits for anvil to dump its state and exit before killing it.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// Arguments of `shiftpay devnet`.
#[derive(Debug, Args)]
pub(crate) struct DevnetArgs {
    #[command(subcommand)]
    command: DevnetCommand,
}

#[derive(Debug, Subcommand)]
enum DevnetCommand {
    /// Start the devnet in the background (anvil, chain id 33) and deploy the contracts and the
    /// test stablecoin tUSD; already up: says so and exits 0.
    Up(UpArgs),
    /// Stop the devnet (its recorded pid); the chain's state is kept for the next `up`.
    Down(DevnetOpts),
    /// Show the devnet: pid, URL, chain id, block, deployment addresses.
    Status(DevnetOpts),
    /// Stop the devnet, delete its state and deployment file, and start it afresh.
    Reset(UpArgs),
}

/// Where the devnet lives.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Devnet")]
pub(crate) struct DevnetOpts {
    /// Folder of the devnet's record, state and log (relative to the working directory).
    #[arg(long, value_name = "DIR", env = DIR_ENV, default_value = DEFAULT_DIR)]
    pub(crate) devnet_dir: PathBuf,

    /// Port of 127.0.0.1 the devnet listens on (when it starts; 0: a free port, recorded).
    #[arg(long, value_name = "PORT", env = "SHIFTPAY_DEVNET_PORT", default_value_t = DEFAULT_PORT)]
    pub(crate) port: u16,
}

/// `up` and `reset`.
#[derive(Debug, Clone, Args)]
pub(crate) struct UpArgs {
    #[command(flatten)]
    pub(crate) devnet: DevnetOpts,

    /// Seconds between blocks when nothing asks for one (the demo mines on demand).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_BLOCK_TIME.as_secs())]
    pub(crate) block_time: u64,
}

/// `.devnet/devnet.json`: the running devnet, written by `up`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Record {
    /// Anvil's process id.
    pub(crate) pid: u32,
    /// Its port on 127.0.0.1.
    pub(crate) port: u16,
    /// `http://127.0.0.1:<port>`.
    pub(crate) url: String,
    /// Chain id (33).
    pub(crate) chain_id: u64,
    /// Seconds between blocks.
    pub(crate) block_time: u64,
    /// The anvil binary.
    pub(crate) binary: PathBuf,
    /// When it started (RFC 3339).
    pub(crate) started_at: String,
}

/// The devnet's files.
#[derive(Debug, Clone)]
pub(crate) struct Paths {
    /// The folder.
    pub(crate) dir: PathBuf,
    /// The working directory (where `deployments/` is).
    pub(crate) workdir: PathBuf,
}

impl Paths {
    /// The folder of `opts` under `workdir`.
    pub(crate) fn new(opts: &DevnetOpts, workdir: &Path) -> Self {
        Self { dir: workdir.join(&opts.devnet_dir), workdir: workdir.to_owned() }
    }

    fn record(&self) -> PathBuf {
        self.dir.join(RECORD_FILE)
    }

    fn state(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    fn log(&self) -> PathBuf {
        self.dir.join(LOG_FILE)
    }

    /// `deployments/33.json` in the working directory.
    pub(crate) fn deployment(&self) -> PathBuf {
        Deployment::default_path(&self.workdir, CHAIN_ID)
    }

    /// `path` relative to the working directory when inside it.
    pub(crate) fn show(&self, path: &Path) -> String {
        path.strip_prefix(&self.workdir).unwrap_or(path).display().to_string()
    }

    /// The record, if one was written (whether the process still runs or not).
    pub(crate) fn read_record(&self) -> eyre::Result<Option<Record>> {
        match std::fs::read_to_string(self.record()) {
            Ok(text) => Ok(Some(serde_json::from_str(&text).wrap_err_with(|| {
                format!("{} is not a devnet record", self.show(&self.record()))
            })?)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => {
                Err(error).wrap_err_with(|| format!("reading {}", self.record().display()))
            }
        }
    }

    /// The record of a devnet that runs and answers; a stale record (process gone) is removed.
    pub(crate) fn running(&self) -> eyre::Result<Option<Record>> {
        let Some(record) = self.read_record()? else { return Ok(None) };
        if is_anvil(record.pid) && probe_chain_id(record.port) == Some(record.chain_id) {
            return Ok(Some(record));
        }
        if is_anvil(record.pid) {
            bail!(
                "the devnet process {} ({}) runs but does not answer on {}: see {}, or stop it with `shiftpay devnet down`",
                record.pid,
                self.show(&self.record()),
                record.url,
                self.show(&self.log())
            );
        }
        eprintln!(
            "devnet: {} names process {}, which is gone (stale record removed)",
            self.show(&self.record()),
            record.pid
        );
        std::fs::remove_file(self.record()).ok();
        Ok(None)
    }
}

/// The RPC URL a command without `--chain`/`--rpc-url` uses: the devnet recorded under
/// `workdir` (`$SHIFTPAY_DEVNET_DIR` or `.devnet`), else the devnet preset's
/// `http://127.0.0.1:8545`.
pub(crate) fn default_rpc_url(workdir: &Path) -> String {
    let dir = std::env::var_os(DIR_ENV).map_or_else(|| PathBuf::from(DEFAULT_DIR), PathBuf::from);
    let paths = Paths { dir: workdir.join(dir), workdir: workdir.to_owned() };
    match paths.read_record() {
        Ok(Some(record)) => record.url,
        _ => format!("http://127.0.0.1:{DEFAULT_PORT}"),
    }
}

pub(crate) async fn run(args: &DevnetArgs, out: &OutputArgs) -> eyre::Result<()> {
    let workdir = std::env::current_dir().wrap_err("cannot read the working directory")?;
    match &args.command {
        DevnetCommand::Up(up) => {
            let paths = Paths::new(&up.devnet, &workdir);
            ensure_up(&paths, up).await?;
            status(&paths, out).await
        }
        DevnetCommand::Down(opts) => down(&Paths::new(opts, &workdir)),
        DevnetCommand::Status(opts) => status(&Paths::new(opts, &workdir), out).await,
        DevnetCommand::Reset(up) => {
            let paths = Paths::new(&up.devnet, &workdir);
            reset(&paths)?;
            ensure_up(&paths, up).await?;
            status(&paths, out).await
        }
    }
}

/// Starts the devnet unless it runs, and deploys unless the deployment file points at live
/// contracts. Returns the running devnet's record.
pub(crate) async fn ensure_up(paths: &Paths, up: &UpArgs) -> eyre::Result<Record> {
    let record = match paths.running()? {
        Some(record) => {
            eprintln!(
                "devnet: already up (pid {}, {}, {})",
                record.pid,
                record.url,
                paths.show(&paths.record())
            );
            record
        }
        None => start(paths, up)?,
    };
    deploy_if_needed(paths, &record).await?;
    Ok(record)
}

/// Starts anvil in the background and writes the record.
fn start(paths: &Paths, up: &UpArgs) -> eyre::Result<Record> {
    let port = up.devnet.port;
    if port != 0
        && let Err(error) = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
    {
        bail!(
            "port {port} of 127.0.0.1 is taken by another process ({error}), not by a devnet recorded in {}: stop that process or pass --port",
            paths.show(&paths.dir)
        );
    }
    let binary = devnet::anvil_binary(&paths.workdir)?;
    std::fs::create_dir_all(&paths.dir)
        .wrap_err_with(|| format!("creating {}", paths.dir.display()))?;
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(paths.log())
        .wrap_err_with(|| format!("opening {}", paths.log().display()))?;
    let log_start = log.metadata()?.len();
    let block_time = up.block_time.max(1);
    let state = paths.state();
    let resumed = state.exists();
    let mut command = Command::new(&binary);
    command
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--chain-id", &CHAIN_ID.to_string()])
        .args(["--mnemonic", DEV_MNEMONIC])
        .args(["--block-time", &block_time.to_string()])
        .arg("--state")
        .arg(&state)
        // Also dumped every few seconds, so a crash loses little.
        .args(["--state-interval", "5"])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group: a Ctrl-C in the terminal that ran `up` does not reach it.
        .process_group(0);
    let mut child = command.spawn().wrap_err_with(|| format!("starting {}", binary.display()))?;
    let pid = child.id();
    let started = Instant::now();
    // Ready: this anvil says which port it listens on (its own output, so another node that
    // took the port meanwhile cannot pass for it; with `--port 0` that is the port the kernel
    // picked) and answers there.
    let port = loop {
        if let Ok(Some(status)) = child.try_wait() {
            bail!(
                "anvil exited during start-up ({status}); its output ({}):\n{}",
                paths.show(&paths.log()),
                log_since(&paths.log(), log_start)
            );
        }
        if let Some(listening) = listening_port(&log_since(&paths.log(), log_start))
            && (port == 0 || listening == port)
            && probe_chain_id(listening) == Some(CHAIN_ID)
        {
            break listening;
        }
        if started.elapsed() > STARTUP_TIMEOUT {
            // SAFETY: kill(2) on the process we just started (not reaped yet).
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            let _ = child.wait();
            bail!(
                "anvil did not answer on 127.0.0.1:{port} within {}s; its output:\n{}",
                STARTUP_TIMEOUT.as_secs(),
                log_since(&paths.log(), log_start)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let url = format!("http://127.0.0.1:{port}");
    let record = Record {
        pid,
        port,
        url,
        chain_id: CHAIN_ID,
        block_time,
        binary,
        started_at: shiftpay_bindings::units::format_time(shiftpay_bindings::units::now()),
    };
    std::fs::write(paths.record(), serde_json::to_string_pretty(&record)? + "\n")
        .wrap_err_with(|| format!("writing {}", paths.record().display()))?;
    eprintln!(
        "devnet: started anvil (pid {pid}) on {} with chain id {CHAIN_ID}, a block every {block_time}s, state {} ({})",
        record.url,
        paths.show(&state),
        if resumed { "reloaded" } else { "new chain" }
    );
    // Not waited for: the devnet outlives this command; `down` stops it by its pid.
    drop(child);
    Ok(record)
}

/// A context on the running devnet, as the other commands get one.
pub(crate) async fn connect(paths: &Paths, record: &Record) -> eyre::Result<Context> {
    let opts = ChainOpts {
        chain: Some("devnet".to_owned()),
        rpc_url: Some(record.url.clone()),
        deployment: Some(paths.deployment()),
    };
    let config = crate::config::Config::default();
    Context::connect_with(&opts, config, paths.workdir.clone()).await
}

/// Whether `deployment` points at contracts that exist on the node (and lists tUSD).
async fn deployment_is_live(provider: &DynProvider, deployment: &Deployment) -> eyre::Result<bool> {
    let stablecoin = deployment.tokens.iter().find(|t| t.symbol == STABLECOIN_SYMBOL);
    let Some(stablecoin) = stablecoin else { return Ok(false) };
    for address in [deployment.payroll.address, deployment.escrow.address, stablecoin.address] {
        if provider.get_code_at(address).await?.is_empty() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Deploys the contracts and tUSD unless the deployment file points at live ones.
async fn deploy_if_needed(paths: &Paths, record: &Record) -> eyre::Result<()> {
    let path = paths.deployment();
    let ctx = connect(paths, record).await?;
    if path.exists()
        && let Ok(deployment) = Deployment::load_for_chain(&path, CHAIN_ID)
        && deployment_is_live(&ctx.provider, &deployment).await?
    {
        return Ok(());
    }
    eprintln!(
        "devnet: deploying Payroll, MilestoneEscrow and the test stablecoin {STABLECOIN_SYMBOL}"
    );
    let fast = FastMining::start(&ctx.provider, record.block_time).await?;
    let result = deploy(&ctx).await;
    fast.stop().await?;
    result
}

async fn deploy(ctx: &Context) -> eyre::Result<()> {
    let wallet = deployer_wallet();
    let tx = TxOpts { yes: true, ..TxOpts::default() };
    let sender = ctx.sender(&wallet, &tx)?;
    let request =
        TransactionRequest::default().with_deploy_code(DevnetStablecoin::BYTECODE.clone());
    let what = format!("deploy {STABLECOIN_SYMBOL} (DevnetStablecoin, test token)");
    let Sent::Mined(receipt) = ctx.send(&sender, request, &what, &tx).await? else {
        bail!("the stablecoin was not deployed");
    };
    let address = receipt.contract_address.ok_or_else(|| {
        eyre!("the receipt of {} has no contract address", receipt.transaction_hash)
    })?;
    let token = DeployedToken {
        symbol: STABLECOIN_SYMBOL.to_owned(),
        address,
        decimals: STABLECOIN_DECIMALS,
    };
    super::deploy::deploy_with(ctx, &sender, &tx, false, vec![token]).await?;
    Ok(())
}

/// The devnet deployer's wallet options (development account 0).
pub(crate) fn deployer_wallet() -> WalletOpts {
    key_wallet(&devnet::dev_signer(DEPLOYER_INDEX))
}

/// Wallet options holding `signer`'s key (a development key: public anyway).
pub(crate) fn key_wallet(signer: &alloy::signers::local::PrivateKeySigner) -> WalletOpts {
    WalletOpts {
        private_key: Some(alloy::hex::encode_prefixed(signer.to_bytes())),
        ..WalletOpts::default()
    }
}

/// Automine while this lives (every transaction mined at once, no block-time wait), then back to
/// a block every `block_time` seconds ([`FastMining::stop`]).
pub(crate) struct FastMining {
    provider: DynProvider,
    block_time: u64,
}

impl FastMining {
    /// Switches the devnet to automine.
    pub(crate) async fn start(provider: &DynProvider, block_time: u64) -> eyre::Result<Self> {
        let _: serde_json::Value = provider
            .raw_request("evm_setAutomine".into(), (true,))
            .await
            .wrap_err("evm_setAutomine")?;
        Ok(Self { provider: provider.clone(), block_time })
    }

    /// Back to interval mining.
    pub(crate) async fn stop(self) -> eyre::Result<()> {
        let _: serde_json::Value = self
            .provider
            .raw_request("evm_setIntervalMining".into(), (self.block_time,))
            .await
            .wrap_err("evm_setIntervalMining")?;
        Ok(())
    }
}

/// Stops the recorded devnet (SIGTERM, so anvil dumps its state; SIGKILL after a grace period).
fn down(paths: &Paths) -> eyre::Result<()> {
    let Some(record) = paths.read_record()? else {
        eprintln!("devnet: not running (no {})", paths.show(&paths.record()));
        return Ok(());
    };
    if !is_anvil(record.pid) {
        std::fs::remove_file(paths.record()).ok();
        eprintln!("devnet: process {} is already gone (stale record removed)", record.pid);
        return Ok(());
    }
    stop_pid(record.pid)?;
    std::fs::remove_file(paths.record()).ok();
    eprintln!(
        "devnet: stopped anvil (pid {}); the chain's state is kept in {} for the next `shiftpay devnet up`",
        record.pid,
        paths.show(&paths.state())
    );
    Ok(())
}

/// SIGTERM, wait for the exit, then SIGKILL.
fn stop_pid(pid: u32) -> eyre::Result<()> {
    // SAFETY: kill(2) with a positive pid signals that one process, which `is_anvil` checked is
    // the recorded anvil.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + STOP_TIMEOUT;
    while Instant::now() < deadline {
        if !is_alive(pid) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "devnet: anvil (pid {pid}) did not exit within {}s: killing it",
        STOP_TIMEOUT.as_secs()
    );
    // SAFETY: as above.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while is_alive(pid) {
        if Instant::now() > deadline {
            bail!("anvil (pid {pid}) survived SIGKILL");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Stops the devnet if it runs and deletes its state, the relayer data of the demo and the
/// devnet's deployment file.
fn reset(paths: &Paths) -> eyre::Result<()> {
    down(paths)?;
    for path in [paths.state(), paths.deployment(), paths.dir.join(super::demo::DEMO_DIR)] {
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match removed {
            Ok(()) => eprintln!("devnet: removed {}", paths.show(&path)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(error).wrap_err_with(|| format!("removing {}", path.display()));
            }
        }
    }
    Ok(())
}

/// What `status` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Status {
    running: bool,
    pid: Option<u32>,
    url: Option<String>,
    chain_id: Option<u64>,
    block: Option<u64>,
    block_time: Option<u64>,
    dir: String,
    state_file: String,
    log_file: String,
    deployment_file: String,
    payroll: Option<Address>,
    escrow: Option<Address>,
    tokens: Vec<DeployedToken>,
}

async fn status(paths: &Paths, out: &OutputArgs) -> eyre::Result<()> {
    let record = paths.running()?;
    let deployment = Deployment::load_for_chain(&paths.deployment(), CHAIN_ID).ok();
    let block = match &record {
        Some(record) => {
            let provider = shiftpay_bindings::rpc::connect_http(&record.url)?;
            Some(provider.get_block_number().await.wrap_err("eth_blockNumber")?)
        }
        None => None,
    };
    let status = Status {
        running: record.is_some(),
        pid: record.as_ref().map(|r| r.pid),
        url: record.as_ref().map(|r| r.url.clone()),
        chain_id: record.as_ref().map(|r| r.chain_id),
        block,
        block_time: record.as_ref().map(|r| r.block_time),
        dir: paths.show(&paths.dir),
        state_file: paths.show(&paths.state()),
        log_file: paths.show(&paths.log()),
        deployment_file: paths.show(&paths.deployment()),
        payroll: deployment.as_ref().map(|d| d.payroll.address),
        escrow: deployment.as_ref().map(|d| d.escrow.address),
        tokens: deployment.map(|d| d.tokens).unwrap_or_default(),
    };
    out.emit(&status, print_status)
}

fn print_status(s: &Status) {
    let (Some(pid), Some(url), Some(chain_id), Some(block)) = (s.pid, &s.url, s.chain_id, s.block)
    else {
        println!("devnet      down (start it with `shiftpay devnet up`)");
        println!("state       {}", s.state_file);
        return;
    };
    println!("devnet      up");
    println!("pid         {pid}");
    println!("url         {url}");
    println!("chain id    {chain_id}");
    println!("block       {block} (a block every {}s)", s.block_time.unwrap_or_default());
    println!("state       {}", s.state_file);
    println!("log         {}", s.log_file);
    println!("deployment  {}", s.deployment_file);
    if let (Some(payroll), Some(escrow)) = (s.payroll, s.escrow) {
        println!("Payroll     {payroll}");
        println!("Escrow      {escrow}");
    }
    for token in &s.tokens {
        println!("{:<11} {} ({} decimals)", token.symbol, token.address, token.decimals);
    }
}

/// Whether `pid` is a live (not zombie) process.
fn is_alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let exists = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0;
    if !exists {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the field after the parenthesised command name.
        Ok(stat) => {
            !stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        }
        Err(_) => true,
    }
}

/// Whether `pid` is a live anvil (on Linux its command line is checked, so a reused pid is not
/// mistaken for the devnet).
fn is_anvil(pid: u32) -> bool {
    if !is_alive(pid) {
        return false;
    }
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => String::from_utf8_lossy(&cmdline).contains("anvil"),
        Err(_) => !cfg!(target_os = "linux"),
    }
}

fn log_since(path: &Path, offset: u64) -> String {
    let mut text = Vec::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        let _ = std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(offset));
        let _ = file.read_to_end(&mut text);
    }
    String::from_utf8_lossy(&text).into_owned()
}
