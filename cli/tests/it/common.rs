//! What every CLI test needs: an anvil node, the `shiftpay` binary run in a sandbox (temporary
//! `HOME` and working directory, no `SHIFTPAY_*` variables inherited), `cast` for interop, and
//! snapshot helpers that redact what varies between runs.

#![allow(dead_code)] // each test module uses part of it

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::Duration,
};

pub(crate) use shiftpay_tests::anvil::{AnvilOptions, AnvilProcess, DEV_KEYS, dev_address};

/// The first anvil development key (10,000 coins at genesis): the deployer and employer.
pub(crate) const KEY0: &str = DEV_KEYS[0];

/// An anvil with chain id 33 (the devnet preset), automining. Killed on drop, also when the
/// test panics.
pub(crate) fn anvil() -> AnvilProcess {
    anvil_with(AnvilOptions::default())
}

/// An anvil with other options (e.g. `.chain_id(31)` to stand in for Rootstock testnet).
pub(crate) fn anvil_with(options: AnvilOptions) -> AnvilProcess {
    AnvilProcess::spawn(options).expect("anvil starts (run `make deps` for node_modules)")
}

/// A temporary home and working directory for one test; the binary runs inside them.
pub(crate) struct Sandbox {
    home: tempfile::TempDir,
    work: tempfile::TempDir,
    env: Vec<(String, String)>,
}

/// What one run of the binary produced.
#[derive(Debug)]
pub(crate) struct Run {
    /// The command line, for failure messages.
    pub(crate) args: Vec<String>,
    /// stdout, as text.
    pub(crate) stdout: String,
    /// stderr, as text.
    pub(crate) stderr: String,
    /// The exit code (`None` when killed by a signal).
    pub(crate) code: Option<i32>,
}

impl Sandbox {
    /// An empty home and working directory.
    pub(crate) fn new() -> Self {
        Self {
            home: tempfile::Builder::new().prefix("shiftpay-home-").tempdir().unwrap(),
            work: tempfile::Builder::new().prefix("shiftpay-work-").tempdir().unwrap(),
            env: Vec::new(),
        }
    }

    /// Sets an environment variable for every later run.
    pub(crate) fn env(&mut self, key: &str, value: &str) -> &mut Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The working directory.
    pub(crate) fn work(&self) -> &Path {
        self.work.path()
    }

    /// The home directory.
    pub(crate) fn home(&self) -> &Path {
        self.home.path()
    }

    /// `path` inside the working directory.
    pub(crate) fn path(&self, path: &str) -> PathBuf {
        self.work.path().join(path)
    }

    /// Reads a file of the working directory.
    pub(crate) fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.path(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
    }

    /// Writes a file of the working directory (creating its directories).
    pub(crate) fn write(&self, path: &str, content: &str) {
        let path = self.path(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// The binary as a `Command`: cwd, HOME, no inherited `SHIFTPAY_*` / `XDG_CONFIG_HOME`,
    /// no color, stdin closed.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_shiftpay"));
        cmd.args(args).current_dir(self.work.path()).env("HOME", self.home.path());
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().into_owned();
            if key.starts_with("SHIFTPAY_")
                || key.starts_with("FOUNDRY_")
                || key == "XDG_CONFIG_HOME"
            {
                cmd.env_remove(key);
            }
        }
        cmd.env("NO_COLOR", "1").envs(self.env.iter().map(|(k, v)| (k, v))).stdin(Stdio::null());
        cmd
    }

    /// Runs `shiftpay ARGS` to completion.
    pub(crate) fn run(&self, args: &[&str]) -> Run {
        Run::from_output(args, self.command(args).output().expect("shiftpay runs"))
    }

    /// Runs `shiftpay ARGS` with `input` on a piped stdin (not a terminal).
    pub(crate) fn run_with_stdin(&self, args: &[&str], input: &str) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("shiftpay runs");
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        Run::from_output(args, child.wait_with_output().unwrap())
    }
}

impl Run {
    fn from_output(args: &[&str], output: Output) -> Self {
        Self {
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
            code: output.status.code(),
        }
    }

    /// Asserts exit code 0; returns `self` for chaining.
    #[track_caller]
    pub(crate) fn success(&self) -> &Self {
        assert_eq!(self.code, Some(0), "shiftpay {:?} failed:\n{}", self.args, self.describe());
        self
    }

    /// Asserts exit code 1, nothing on stdout and a single `error: ...` line on stderr;
    /// returns that line without the `error: ` prefix.
    #[track_caller]
    pub(crate) fn failure(&self) -> String {
        assert_eq!(
            self.code,
            Some(1),
            "shiftpay {:?} should fail:\n{}",
            self.args,
            self.describe()
        );
        assert!(self.stdout.is_empty(), "stdout must be empty on error:\n{}", self.describe());
        let line = self
            .stderr
            .lines()
            .rev()
            .find(|line| line.starts_with("error: "))
            .unwrap_or_else(|| panic!("no error line:\n{}", self.describe()));
        assert_eq!(
            self.stderr.matches("error: ").count(),
            1,
            "exactly one error line:\n{}",
            self.describe()
        );
        line.trim_start_matches("error: ").to_owned()
    }

    /// stdout parsed as one JSON document.
    #[track_caller]
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("stdout is not one JSON document ({e}):\n{}", self.describe())
        })
    }

    fn describe(&self) -> String {
        format!("code {:?}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Runs the workspace's `cast` (the native binary of the npm package) with `args`; returns
/// trimmed stdout, panicking with stderr on failure.
pub(crate) fn cast(args: &[&str]) -> String {
    let modules = shiftpay_tests::anvil::workspace_root().join("node_modules");
    let native = modules.join("@foundry-rs/cast-linux-amd64/bin/cast");
    let binary = if native.is_file() { native } else { modules.join(".bin/cast") };
    let output = Command::new(&binary)
        .args(args)
        .env("HOME", std::env::temp_dir())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{} runs: {e}", binary.display()));
    assert!(
        output.status.success(),
        "cast {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// JSON-RPC call to the node (for checks the CLI does not expose): the `result`, panicking on an
/// RPC error.
#[track_caller]
pub(crate) fn rpc(url: &str, method: &str, params: serde_json::Value) -> serde_json::Value {
    match try_rpc(url, method, params) {
        Ok(result) => result,
        // In the body (not a closure) so that #[track_caller] names the test's line.
        Err(error) => panic!("{method}: {error}"),
    }
}

/// [`rpc`] without panicking. Plain HTTP/1.1 over a socket: anvil needs nothing more.
pub(crate) fn try_rpc(
    url: &str,
    method: &str,
    params: serde_json::Value,
) -> Result<serde_json::Value, String> {
    use std::io::Read;
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        .to_string();
    let mut stream = std::net::TcpStream::connect(host).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| e.to_string())?;
    let (_, json) = response.split_once("\r\n\r\n").ok_or("not an HTTP response")?;
    let mut value: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    match value.get("error") {
        Some(error) => Err(error.to_string()),
        None => Ok(value["result"].take()),
    }
}

/// Mines `n` blocks on anvil (confirmations on a live-like chain).
pub(crate) fn mine(url: &str, n: u64) {
    rpc(url, "anvil_mine", serde_json::json!([format!("{n:#x}")]));
}

/// The node's latest block number.
pub(crate) fn block_number(url: &str) -> u64 {
    let hex = rpc(url, "eth_blockNumber", serde_json::json!([]));
    u64::from_str_radix(hex.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// The runtime code at `address` (`0x` when none).
pub(crate) fn code_at(url: &str, address: &str) -> String {
    rpc(url, "eth_getCode", serde_json::json!([address, "latest"])).as_str().unwrap().to_owned()
}

/// Mines a block every `interval` in the background until the returned guard drops, so a
/// command waiting for confirmations on a non-automining chain gets them.
pub(crate) fn mine_in_background(url: &str, interval: Duration) -> BackgroundMiner {
    let url = url.to_owned();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let handle = std::thread::spawn(move || {
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(interval);
            // The node may be gone at the end of the test: ignore failures.
            let _ = try_rpc(&url, "evm_mine", serde_json::json!([]));
        }
    });
    BackgroundMiner { stop, handle: Some(handle) }
}

/// Stops the background miner on drop.
pub(crate) struct BackgroundMiner {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for BackgroundMiner {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// insta settings that replace what varies between runs: 32-byte hashes, addresses, the anvil
/// port, temporary paths, durations and gas prices.
pub(crate) fn redactions(sandbox: &Sandbox) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_snapshot_path("snapshots");
    settings.add_filter(&regex_escape(&sandbox.work().display().to_string()), "[WORK]");
    settings.add_filter(&regex_escape(&sandbox.home().display().to_string()), "[HOME]");
    settings.add_filter(r"0x[0-9a-fA-F]{64}", "[HASH]");
    settings.add_filter(r"0x[0-9a-fA-F]{40}", "[ADDRESS]");
    settings.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]");
    // Gas and code sizes change with every contract change: the snapshots check the wording.
    settings.add_filter(r"\bgas [\d,]+", "gas [GAS]");
    settings.add_filter(r"about [\d,]+ gas", "about [GAS] gas");
    settings.add_filter(r"[\d,]+ bytes of init code", "[SIZE] bytes of init code");
    settings
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| if "\\.+*?()|[]{}^$".contains(c) { format!("\\{c}") } else { c.to_string() })
        .collect()
}
