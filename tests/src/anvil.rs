//! An anvil process for end-to-end tests: spawned on a free port, quiet, killed on drop.
//!
//! ```no_run
//! use shiftpay_tests::anvil::{AnvilOptions, AnvilProcess, dev_signer};
//!
//! let anvil = AnvilProcess::spawn(AnvilOptions::default()).unwrap(); // chain id 33, automine
//! let url = anvil.url(); // http://127.0.0.1:<port>
//! let employer = dev_signer(0); // funded with 10,000 ETH-units of native coin
//! # let _ = (url, employer);
//! ```
//!
//! The binary is the pinned Foundry anvil that `make deps` installs under `node_modules`. The
//! npm package's `.bin/anvil` is a Node.js wrapper that starts the native binary as a child;
//! [`anvil_binary`] prefers the native binary so that [`AnvilProcess::pid`] is anvil itself,
//! and every process is started in its own process group, which is what gets killed.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;

pub use shiftpay_bindings::devnet::{DEV_KEYS, DEV_MNEMONIC};
use shiftpay_bindings::devnet::{listening_port, probe_chain_id};

/// Signer of development account `index` (0..10) of [`DEV_MNEMONIC`] (the bindings'
/// [`shiftpay_bindings::devnet::dev_signer`]).
///
/// Only meaningful for an anvil started with the default mnemonic.
pub fn dev_signer(index: usize) -> PrivateKeySigner {
    assert!(index < DEV_KEYS.len(), "development accounts 0 to 9 are funded, not {index}");
    shiftpay_bindings::devnet::dev_signer(index as u32)
}

/// Address of development account `index` (0..10) of [`DEV_MNEMONIC`].
pub fn dev_address(index: usize) -> Address {
    dev_signer(index).address()
}

/// How to start anvil. `Default` gives chain id 33 (Rootstock regtest), automine and the
/// default mnemonic.
#[derive(Clone, Debug)]
pub struct AnvilOptions {
    /// `--chain-id` (default 33).
    pub chain_id: u64,
    /// `--block-time`: `None` (default) mines a block per transaction (automine).
    pub block_time: Option<Duration>,
    /// `--mnemonic` (default [`DEV_MNEMONIC`]; [`DEV_KEYS`] hold only for that one).
    pub mnemonic: String,
    /// `--state FILE`: load the state from FILE if it exists, dump it there on a graceful
    /// exit ([`AnvilProcess::stop`]); a `kill -9` dumps nothing.
    pub state: Option<PathBuf>,
    /// Further arguments passed as they are (e.g. `--no-mining`, `--hardfork`, `--accounts`).
    pub extra_args: Vec<String>,
    /// How long to wait for anvil to answer `eth_chainId` (default 20 s).
    pub startup_timeout: Duration,
}

impl Default for AnvilOptions {
    fn default() -> Self {
        Self {
            chain_id: 33,
            block_time: None,
            mnemonic: DEV_MNEMONIC.to_owned(),
            state: None,
            extra_args: Vec::new(),
            startup_timeout: Duration::from_secs(20),
        }
    }
}

impl AnvilOptions {
    /// Sets the chain id.
    pub fn chain_id(mut self, id: u64) -> Self {
        self.chain_id = id;
        self
    }

    /// Mines a block every `interval` instead of one per transaction.
    pub fn block_time(mut self, interval: Duration) -> Self {
        self.block_time = Some(interval);
        self
    }

    /// Sets the mnemonic the accounts derive from.
    pub fn mnemonic(mut self, phrase: impl Into<String>) -> Self {
        self.mnemonic = phrase.into();
        self
    }

    /// Loads and dumps the chain state from/to `path` (`--state`).
    pub fn state(mut self, path: impl Into<PathBuf>) -> Self {
        self.state = Some(path.into());
        self
    }

    /// Appends one extra command-line argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.extra_args.push(arg.into());
        self
    }
}

/// Why anvil could not be started.
#[derive(Debug, thiserror::Error)]
pub enum AnvilError {
    /// No anvil binary in `node_modules`.
    #[error("anvil not found at {0}: run `make deps` in the workspace root")]
    NotFound(PathBuf),
    /// Spawning, the log file or the port look-up failed.
    #[error("could not start anvil: {0}")]
    Io(#[from] std::io::Error),
    /// Anvil exited during start-up.
    #[error("anvil exited during start-up ({status}); its output:\n{log}")]
    Exited {
        /// Exit status as printed by the OS.
        status: String,
        /// Anvil's stdout and stderr.
        log: String,
    },
    /// Anvil did not answer `eth_chainId` in time.
    #[error("anvil did not answer eth_chainId on {url} within {waited:?}; its output:\n{log}")]
    Timeout {
        /// Where it should have answered.
        url: String,
        /// How long we waited.
        waited: Duration,
        /// Anvil's stdout and stderr.
        log: String,
    },
}

/// The anvil binary of the workspace: `$SHIFTPAY_ANVIL` if set, else the native binary of
/// the `@foundry-rs/anvil-<os>-<arch>` npm package, else `node_modules/.bin/anvil` (the one
/// discovery of [`shiftpay_bindings::devnet::anvil_binary`]).
pub fn anvil_binary() -> Result<PathBuf, AnvilError> {
    let root = workspace_root();
    shiftpay_bindings::devnet::anvil_binary(&root).map_err(|error| match error {
        shiftpay_bindings::devnet::DevnetError::EnvNotFound(path) => AnvilError::NotFound(path),
        shiftpay_bindings::devnet::DevnetError::NotFound { .. } => {
            AnvilError::NotFound(root.join("node_modules/.bin/anvil"))
        }
    })
}

/// The workspace root (the parent of this crate's manifest directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// A running anvil. Killed (`SIGKILL` to its process group) when dropped, also while a
/// failing test unwinds.
#[derive(Debug)]
pub struct AnvilProcess {
    child: Option<Child>,
    port: u16,
    opts: AnvilOptions,
    binary: PathBuf,
    log_path: PathBuf,
    // Removed on drop, after the process is gone.
    _log_dir: tempfile::TempDir,
}

impl AnvilProcess {
    /// Starts anvil on a port of 127.0.0.1 that the kernel picks (`--port 0`: no other process
    /// can hold it, as it could a port probed free beforehand) and waits until it says where it
    /// listens and answers `eth_chainId` there with the configured chain id. Blocking (a few
    /// hundred milliseconds); fine to call from an async test.
    pub fn spawn(opts: AnvilOptions) -> Result<Self, AnvilError> {
        let binary = anvil_binary()?;
        let log_dir = tempfile::Builder::new().prefix("shiftpay-anvil-").tempdir()?;
        let log_path = log_dir.path().join("anvil.log");
        let mut anvil = Self { child: None, port: 0, opts, binary, log_path, _log_dir: log_dir };
        anvil.start()?;
        Ok(anvil)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port anvil listens on (kept across [`restart`](Self::restart)).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The chain id anvil was started with.
    pub fn chain_id(&self) -> u64 {
        self.opts.chain_id
    }

    /// The process id, while the process runs (after a kill it is `None`).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The options it was started with.
    pub fn options(&self) -> &AnvilOptions {
        &self.opts
    }

    /// The file that receives anvil's stdout and stderr (all runs, appended).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Anvil's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// `kill -9`: anvil dies at once (no state dump); the port stays reserved for
    /// [`restart`](Self::restart). Does nothing if it is not running.
    pub fn kill_9(&mut self) {
        self.signal_and_reap(libc::SIGKILL, Duration::ZERO);
    }

    /// Graceful stop (`SIGTERM`, so `--state` is dumped), then `SIGKILL` after 10 s.
    pub fn stop(&mut self) {
        self.signal_and_reap(libc::SIGTERM, Duration::from_secs(10));
    }

    /// Kills anvil if it runs (`kill -9`) and starts it again with the same options on the
    /// same port, so clients keep their URL. The chain starts anew unless `--state` was
    /// given (and dumped: use [`stop`](Self::stop) first).
    pub fn restart(&mut self) -> Result<(), AnvilError> {
        self.kill_9();
        let deadline = Instant::now() + self.opts.startup_timeout;
        loop {
            // The old socket may linger for a moment: retry a port clash until the deadline.
            match self.start() {
                Err(AnvilError::Exited { log, .. })
                    if port_in_use(&log) && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(200));
                }
                other => return other,
            }
        }
    }

    /// Starts the process on `self.port` (0: a port the kernel picks, then kept in `self.port`)
    /// and waits for it. Ready means: the process says it listens on the port (`Listening on
    /// 127.0.0.1:<port>` in its own log, so a probe cannot be answered by another anvil that
    /// holds the port, e.g. one of another test after a restart clashed) and answers
    /// `eth_chainId` there.
    fn start(&mut self) -> Result<(), AnvilError> {
        let log = OpenOptions::new().create(true).append(true).open(&self.log_path)?;
        let log_start = log.metadata()?.len();
        let mut cmd = Command::new(&self.binary);
        cmd.args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--chain-id", &self.opts.chain_id.to_string()])
            .args(["--mnemonic", &self.opts.mnemonic]);
        if let Some(interval) = self.opts.block_time {
            cmd.args(["--block-time", &interval.as_secs_f64().to_string()]);
        }
        if let Some(state) = &self.opts.state {
            cmd.arg("--state").arg(state);
        }
        cmd.args(&self.opts.extra_args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // Its own process group: killing the group also kills the native anvil that the
            // npm wrapper starts, if the wrapper is what runs.
            .process_group(0);
        self.child = Some(cmd.spawn()?);

        let started = Instant::now();
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.child = None;
                return Err(AnvilError::Exited {
                    status: status.to_string(),
                    log: self.log_since(log_start),
                });
            }
            if let Some(port) = listening_port(&self.log_since(log_start))
                && (self.port == 0 || port == self.port)
                && probe_chain_id(port) == Some(self.opts.chain_id)
            {
                self.port = port;
                return Ok(());
            }
            if started.elapsed() > self.opts.startup_timeout {
                self.kill_9();
                return Err(AnvilError::Timeout {
                    url: self.url(),
                    waited: started.elapsed(),
                    log: self.log_since(log_start),
                });
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn log_since(&self, offset: u64) -> String {
        let mut text = Vec::new();
        if let Ok(mut file) = File::open(&self.log_path) {
            let _ = std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(offset));
            let _ = file.read_to_end(&mut text);
        }
        String::from_utf8_lossy(&text).into_owned()
    }

    /// Sends `signal` to the process group while the leader is not yet reaped (so the group
    /// id cannot have been reused), waits up to `grace`, then kills and reaps.
    fn signal_and_reap(&mut self, signal: libc::c_int, grace: Duration) {
        let Some(mut child) = self.child.take() else { return };
        let group = child.id() as libc::pid_t;
        // SAFETY: kill(2) with a negative pid signals the process group we created for the
        // child (its id is the child's pid, and the child is not reaped yet).
        unsafe { libc::kill(-group, signal) };
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: as above; the leader is at most a zombie until `wait` below.
        unsafe { libc::kill(-group, libc::SIGKILL) };
        let _ = child.wait();
    }
}

impl Drop for AnvilProcess {
    fn drop(&mut self) {
        self.kill_9();
    }
}

fn port_in_use(log: &str) -> bool {
    let log = log.to_ascii_lowercase();
    log.contains("address already in use") || log.contains("addrinuse")
}
