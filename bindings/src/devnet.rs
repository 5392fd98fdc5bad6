//! The local devnet's facts, in one place: the anvil binary the workspace installs, the
//! well-known development mnemonic and keys, the defaults of `shiftpay devnet` (chain id 33,
//! port 8545, a block every 2 s) and the devnet's test stablecoin ([`DevnetStablecoin`], 6
//! decimals like USD₮0).
//!
//! `shiftpay devnet` and `shiftpay demo` start anvil with these; the end-to-end tests
//! (`shiftpay_tests::anvil`) use the same binary discovery and keys. Nothing here is meant for a
//! live chain: the keys are public and the stablecoin mints to anyone.

use std::{
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpStream},
    path::{Path, PathBuf},
    time::Duration,
};

use alloy::{
    primitives::Address,
    signers::local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English},
};

#[allow(missing_docs)]
mod generated {
    alloy::sol!(
        #[sol(rpc, all_derives)]
        DevnetStablecoin,
        "artifacts/devnet/DevnetStablecoin.json"
    );
}

pub use generated::DevnetStablecoin;

/// The devnet's chain id: Rootstock regtest's (the `devnet` chain preset).
pub const CHAIN_ID: u64 = 33;
/// The port `shiftpay devnet up` listens on unless told otherwise (the `devnet` preset's RPC URL
/// is `http://127.0.0.1:8545`).
pub const DEFAULT_PORT: u16 = 8545;
/// How often the devnet mines a block when nothing asks for one.
pub const DEFAULT_BLOCK_TIME: Duration = Duration::from_secs(2);
/// Symbol of the test stablecoin in the deployment file.
pub const STABLECOIN_SYMBOL: &str = "tUSD";
/// Decimals of the test stablecoin (those of USD₮0 on Rootstock).
pub const STABLECOIN_DECIMALS: u8 = 6;
/// Environment variable naming an anvil binary to use instead of the workspace's.
pub const ANVIL_ENV: &str = "SHIFTPAY_ANVIL";

/// The mnemonic anvil (and hardhat) use by default.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// The private keys of the first 10 accounts of [`DEV_MNEMONIC`] (derivation path
/// `m/44'/60'/0'/0/i`): the well-known anvil/hardhat development keys. Each account holds
/// 10,000 units of native coin at genesis. Never use them outside a local devnet.
pub const DEV_KEYS: [&str; 10] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
];

/// Signer of development account `index` of [`DEV_MNEMONIC`] (`m/44'/60'/0'/0/index`): one of
/// [`DEV_KEYS`] below 10 (funded at genesis), derived from the mnemonic above (not funded).
pub fn dev_signer(index: u32) -> PrivateKeySigner {
    if let Some(key) = DEV_KEYS.get(index as usize) {
        return key.parse().expect("the development keys are valid");
    }
    MnemonicBuilder::<English>::default()
        .phrase(DEV_MNEMONIC)
        .index(index)
        .expect("a valid derivation index")
        .build()
        .expect("the development mnemonic is valid")
}

/// Address of development account `index` of [`DEV_MNEMONIC`].
pub fn dev_address(index: u32) -> Address {
    dev_signer(index).address()
}

/// Why no anvil binary was found.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// `$SHIFTPAY_ANVIL` names a file that does not exist.
    #[error("{ANVIL_ENV} names {0}, which is not a file")]
    EnvNotFound(PathBuf),
    /// No `node_modules` with anvil above the folders searched.
    #[error(
        "anvil not found in node_modules above {} or of the ShiftPay workspace: run `make deps` in the workspace (it installs the pinned anvil with npm), or set {ANVIL_ENV}",
        searched.display()
    )]
    NotFound {
        /// Where the search started.
        searched: PathBuf,
    },
}

/// The anvil binary inside one `node_modules`: the native binary of the
/// `@foundry-rs/anvil-<os>-<arch>` npm package (so that the process id is anvil itself), else
/// the npm wrapper `.bin/anvil` (a Node.js script that starts the native binary as a child).
pub fn anvil_in(node_modules: &Path) -> Option<PathBuf> {
    let os = if cfg!(target_os = "macos") { "darwin" } else { "linux" };
    let arch = if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" };
    let native = node_modules.join(format!("@foundry-rs/anvil-{os}-{arch}/bin/anvil"));
    if native.is_file() {
        return Some(native);
    }
    let wrapper = node_modules.join(".bin/anvil");
    wrapper.is_file().then_some(wrapper)
}

/// The workspace this crate was built in (where `make deps` installs `node_modules`).
pub fn build_workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new(".")).to_path_buf()
}

/// The anvil to run: `$SHIFTPAY_ANVIL` if set, else [`anvil_in`] the `node_modules` of `start`
/// or of its nearest ancestor that has one, else that of the workspace this crate was built in.
pub fn anvil_binary(start: &Path) -> Result<PathBuf, DevnetError> {
    if let Some(path) = std::env::var_os(ANVIL_ENV) {
        let path = PathBuf::from(path);
        return if path.is_file() { Ok(path) } else { Err(DevnetError::EnvNotFound(path)) };
    }
    let build_root = build_workspace_root();
    start
        .ancestors()
        .chain(std::iter::once(build_root.as_path()))
        .find_map(|dir| anvil_in(&dir.join("node_modules")))
        .ok_or_else(|| DevnetError::NotFound { searched: start.to_path_buf() })
}

/// The port of anvil's own `Listening on 127.0.0.1:<port>` line in its output (`None` until
/// it printed one). A process that binds its port says so there, so a probe of that port after
/// this line answers from this process, not from another node that held the port first.
///
/// ```
/// use shiftpay_bindings::devnet::listening_port;
/// assert_eq!(listening_port("Private Keys\n\nListening on 127.0.0.1:35651\n"), Some(35651));
/// assert_eq!(listening_port("Listening on 127.0.0.1:"), None);
/// assert_eq!(listening_port("starting..."), None);
/// ```
pub fn listening_port(log: &str) -> Option<u16> {
    log.lines()
        .find_map(|line| line.trim().strip_prefix("Listening on "))
        .and_then(|address| address.rsplit_once(':'))
        .and_then(|(_, port)| port.trim().parse().ok())
}

/// The chain id a node on 127.0.0.1:`port` answers to `eth_chainId`, or `None` when nothing
/// answers in time (500 ms to connect, 2 s to answer) or the answer is not a JSON-RPC result.
///
/// Blocking and dependency-free (one plain HTTP/1.1 request), so it also serves where no async
/// runtime runs: `shiftpay devnet` checking that its recorded anvil is still the one on the
/// port, and the test fixture waiting for a fresh anvil to answer.
pub fn probe_chain_id(port: u16) -> Option<u64> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#;
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let json = answer.split_once("\r\n\r\n")?.1;
    let value: serde_json::Value = serde_json::from_str(json.trim()).ok()?;
    u64::from_str_radix(value["result"].as_str()?.trim_start_matches("0x"), 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dev_keys_are_the_mnemonic_accounts() {
        for (index, key) in DEV_KEYS.iter().enumerate() {
            let derived = MnemonicBuilder::<English>::default()
                .phrase(DEV_MNEMONIC)
                .index(index as u32)
                .unwrap()
                .build()
                .unwrap();
            assert_eq!(derived.address(), key.parse::<PrivateKeySigner>().unwrap().address());
        }
        // Account 0 of the mnemonic is anvil's famous first account.
        assert_eq!(
            dev_address(0),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266".parse::<Address>().unwrap()
        );
        // Beyond the table, accounts derive from the same mnemonic and differ.
        assert_ne!(dev_address(10), dev_address(11));
    }

    #[test]
    fn the_stablecoin_artifact_is_embedded() {
        assert!(!DevnetStablecoin::BYTECODE.is_empty());
        assert!(!DevnetStablecoin::DEPLOYED_BYTECODE.is_empty());
    }
}
