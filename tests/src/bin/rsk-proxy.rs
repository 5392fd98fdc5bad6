//! `rsk-proxy`: the Rootstock-shaped JSON-RPC proxy of the test fixtures, for manual use and the
//! demo: `cargo run -p shiftpay-tests --bin rsk-proxy -- --upstream http://127.0.0.1:8545
//! --port 4444`, then point a client at `http://127.0.0.1:4444`. Runs until interrupted.

use shiftpay_tests::rsk_proxy::{MAX_LOG_RANGE, RskProxy, RskProxyConfig};

const USAGE: &str = "usage: rsk-proxy [--upstream URL] [--port N] [--max-log-range BLOCKS]\n\
    defaults: --upstream http://127.0.0.1:8545 --port 4444 --max-log-range 2000";

fn main() {
    if let Err(message) = run() {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut upstream = "http://127.0.0.1:8545".to_owned();
    let mut config = RskProxyConfig { port: 4444, max_log_range: MAX_LOG_RANGE };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            return Ok(());
        }
        if !["--upstream", "--port", "--max-log-range"].contains(&flag.as_str()) {
            return Err(format!("unknown argument {flag}\n{USAGE}"));
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--upstream" => upstream = value,
            "--port" => config.port = value.parse().map_err(|_| format!("bad port {value}"))?,
            "--max-log-range" => {
                config.max_log_range = value.parse().map_err(|_| format!("bad range {value}"))?;
            }
            _ => unreachable!("checked above"),
        }
    }
    let proxy = RskProxy::start_with(upstream.clone(), config)
        .map_err(|e| format!("cannot listen: {e}"))?;
    eprintln!("rsk-proxy: {} -> {upstream} (Rootstock rules; Ctrl-C to stop)", proxy.url());
    loop {
        std::thread::park();
    }
}
