//! `shiftpay devnet up|down|status|reset` in a sandbox, on a port anvil picks (`--port 0`, the
//! port recorded from anvil's own output): idempotent `up`, a taken port, a stale record, the
//! state kept across `down`/`up` and dropped by `reset`, the status output's shape, and other
//! commands defaulting to the devnet.

use std::net::{Ipv4Addr, TcpListener};

use serde_json::Value;

use crate::common::Sandbox;

/// Whether process `pid` is gone (or a zombie nobody reaped yet: dead all the same).
pub(crate) fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        }
        Err(_) => true,
    }
}

/// Kills the devnet recorded in a sandbox when the test ends, also when it panics (the
/// sandbox's anvil outlives the `shiftpay` processes that started it).
pub(crate) struct DevnetGuard {
    record: std::path::PathBuf,
}

impl DevnetGuard {
    pub(crate) fn new(sandbox: &Sandbox) -> Self {
        Self { record: sandbox.path(".devnet/devnet.json") }
    }
}

impl Drop for DevnetGuard {
    fn drop(&mut self) {
        let Ok(text) = std::fs::read_to_string(&self.record) else { return };
        let Ok(record) = serde_json::from_str::<Value>(&text) else { return };
        if let Some(pid) = record["pid"].as_u64() {
            let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

fn status(sandbox: &Sandbox) -> Value {
    let run = sandbox.run(&["devnet", "status", "--json"]);
    run.success();
    run.json()
}

#[test]
fn up_is_idempotent_down_keeps_the_state_and_reset_starts_afresh() {
    let sandbox = Sandbox::new();
    let _guard = DevnetGuard::new(&sandbox);
    let down = status(&sandbox);
    assert_eq!(down["running"], false);

    let up = sandbox.run(&["devnet", "up", "--port", "0"]);
    up.success();
    assert!(up.stderr.contains("devnet: started anvil"), "{}", up.stderr);
    assert!(up.stderr.contains("wrote deployments/33.json"), "{}", up.stderr);
    // The human status: one labelled line each, in this order.
    let labels: Vec<&str> =
        up.stdout.lines().map(|line| line.split_whitespace().next().unwrap_or("")).collect();
    assert_eq!(
        labels,
        [
            "devnet",
            "pid",
            "url",
            "chain",
            "block",
            "state",
            "log",
            "deployment",
            "Payroll",
            "Escrow",
            "tUSD"
        ],
        "{}",
        up.stdout
    );
    let first = status(&sandbox);
    assert_eq!(first["running"], true);
    assert_eq!(first["chainId"], 33);
    // The port anvil picked, recorded and shown.
    let url = first["url"].as_str().unwrap().to_owned();
    let port: u16 = url.strip_prefix("http://127.0.0.1:").unwrap().parse().unwrap();
    assert_ne!(port, 0, "{first:#}");
    assert!(
        up.stderr.contains(&format!("started anvil (pid {}) on {url}", first["pid"])),
        "{}",
        up.stderr
    );
    assert_eq!(first["tokens"][0]["symbol"], "tUSD");
    assert_eq!(first["tokens"][0]["decimals"], 6);
    let pid = u32::try_from(first["pid"].as_u64().unwrap()).unwrap();

    // Already up: said, exit 0, same process and contracts.
    let again = sandbox.run(&["devnet", "up", "--port", "0"]);
    again.success();
    assert!(again.stderr.contains("devnet: already up"), "{}", again.stderr);
    assert_eq!(status(&sandbox)["pid"], first["pid"]);

    // Any command without --chain/--rpc-url uses it, and says so.
    let check = sandbox.run(&["deploy", "--check"]);
    check.success();
    assert!(check.stderr.contains(&format!("using the local devnet at {url}")), "{}", check.stderr);

    // A port taken by something else is a clear error.
    let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let taken_port = taken.local_addr().unwrap().port().to_string();
    let clash = sandbox.run(&["devnet", "up", "--port", &taken_port, "--devnet-dir", "other"]);
    let message = clash.failure();
    assert!(message.contains(&format!("port {taken_port} of 127.0.0.1 is taken")), "{message}");

    // Down: the process is gone, the state kept; up again reloads it (same contracts).
    sandbox.run(&["devnet", "down"]).success();
    assert!(process_gone(pid), "anvil {pid} still runs");
    assert_eq!(status(&sandbox)["running"], false);
    let reup = sandbox.run(&["devnet", "up", "--port", "0"]);
    reup.success();
    assert!(reup.stderr.contains("(reloaded)"), "{}", reup.stderr);
    assert!(!reup.stderr.contains("deploying"), "{}", reup.stderr);
    let reloaded = status(&sandbox);
    assert_eq!(reloaded["payroll"], first["payroll"]);
    assert!(reloaded["block"].as_u64().unwrap() >= first["block"].as_u64().unwrap());

    // A stale record (the process died without `down`) is noticed and replaced.
    let pid = u32::try_from(reloaded["pid"].as_u64().unwrap()).unwrap();
    std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !process_gone(pid) {
        assert!(std::time::Instant::now() < deadline, "kill -9 {pid} did not take");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let stale = sandbox.run(&["devnet", "up", "--port", "0"]);
    stale.success();
    assert!(stale.stderr.contains("which is gone (stale record removed)"), "{}", stale.stderr);

    // Reset: a new chain, deployed again.
    let reset = sandbox.run(&["devnet", "reset", "--port", "0"]);
    reset.success();
    assert!(reset.stderr.contains("(new chain)"), "{}", reset.stderr);
    assert!(reset.stderr.contains("wrote deployments/33.json"), "{}", reset.stderr);
    let fresh = status(&sandbox);
    assert_eq!(fresh["running"], true);
    sandbox.run(&["devnet", "down"]).success();
    let pid = u32::try_from(fresh["pid"].as_u64().unwrap()).unwrap();
    assert!(process_gone(pid));
}
