//! What the tests share: an anvil behind the Rootstock proxy, a provider, the dev wallet, a
//! deployed `Payroll`, anvil's mining controls and the workspace's `cast`.

#![allow(dead_code)] // each test module uses part of it

use std::{path::PathBuf, process::Command, time::Duration};

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::Address,
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
};
use shiftpay_bindings::{
    chains::GasPolicy,
    payroll::Payroll,
    rpc::connect_http,
    tx::{TxPolicy, send_and_confirm},
};
pub(crate) use shiftpay_tests::anvil::{AnvilOptions, AnvilProcess, dev_address, dev_signer};
use shiftpay_tests::{anvil::workspace_root, rsk_proxy::RskProxy};

/// An anvil (chain id 33, automine) and the Rootstock-like proxy in front of it.
pub(crate) struct Node {
    /// The proxy (answers like rskj); `proxy.count(method)` tells what was called.
    pub(crate) proxy: RskProxy,
    /// The anvil behind it.
    pub(crate) anvil: AnvilProcess,
    /// A provider talking to the proxy.
    pub(crate) provider: DynProvider,
    /// A provider talking to anvil directly (for anvil_* controls and unrestricted queries).
    pub(crate) direct: DynProvider,
}

impl Node {
    /// Starts anvil and the proxy.
    pub(crate) fn start() -> Self {
        let anvil = AnvilProcess::spawn(AnvilOptions::default()).expect("anvil starts");
        let proxy = RskProxy::start(anvil.url()).expect("proxy starts");
        let provider = connect_http(proxy.url()).unwrap();
        let direct = connect_http(&anvil.url()).unwrap();
        Self { proxy, anvil, provider, direct }
    }

    /// Mines `n` blocks at once (`anvil_mine`).
    pub(crate) async fn mine(&self, n: u64) {
        let _: serde_json::Value =
            self.direct.raw_request("anvil_mine".into(), (n,)).await.unwrap();
    }

    /// Turns automine on or off.
    pub(crate) async fn automine(&self, on: bool) {
        let _: serde_json::Value =
            self.direct.raw_request("evm_setAutomine".into(), (on,)).await.unwrap();
    }

    /// Deploys `Payroll` with dev account 0 and returns its address.
    pub(crate) async fn deploy_payroll(&self) -> Address {
        let tx = TransactionRequest::default().with_deploy_code(Payroll::BYTECODE.clone());
        let receipt =
            send_and_confirm(&self.provider, &wallet(0), &policy(), tx, |_| {}).await.unwrap();
        receipt.contract_address.expect("a deployment receipt has the address")
    }
}

/// The wallet of dev account `index`.
pub(crate) fn wallet(index: usize) -> EthereumWallet {
    EthereumWallet::new(dev_signer(index))
}

/// The devnet policy, polling fast: legacy, 1 confirmation, 30 s timeout.
pub(crate) fn policy() -> TxPolicy {
    TxPolicy {
        gas_policy: GasPolicy::Legacy,
        confirmations: 1,
        timeout: Duration::from_secs(30),
        poll_interval: Duration::from_millis(50),
        ..TxPolicy::default()
    }
}

/// The workspace's `cast` (the npm package's native binary, else the wrapper).
pub(crate) fn cast_binary() -> PathBuf {
    let modules = workspace_root().join("node_modules");
    let native = modules.join("@foundry-rs/cast-linux-amd64/bin/cast");
    if native.is_file() { native } else { modules.join(".bin/cast") }
}

/// Runs `cast ARGS` with `HOME` set to `home`; returns trimmed stdout, panics on failure.
pub(crate) fn cast(home: &std::path::Path, args: &[&str]) -> String {
    let output = Command::new(cast_binary())
        .args(args)
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .output()
        .expect("cast runs");
    assert!(
        output.status.success(),
        "cast {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}
