//! The real Safe 1.5.0 contracts on a test node: the compiled artifacts that npm's
//! `@safe-global/safe-smart-account` ships (`build/artifacts/contracts/**.json`, read at run time
//! from the workspace's `node_modules`), deployed and used to create Safes through the proxy
//! factory, set up with the `CompatibilityFallbackHandler` (EIP-1271).
//!
//! ```no_run
//! use shiftpay_tests::{anvil::{AnvilOptions, AnvilProcess, dev_address}, safe::SafeDeployment};
//!
//! let anvil = AnvilProcess::spawn(AnvilOptions::default()).unwrap();
//! let contracts = SafeDeployment::deploy(&anvil.url()).unwrap();
//! let owners = [dev_address(1), dev_address(2), dev_address(3)];
//! let safe = contracts.create_safe(&anvil.url(), &owners, 2, 0).unwrap(); // a 2-of-3 Safe
//! # let _ = safe;
//! ```

use std::path::PathBuf;

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, Bytes, U256},
    providers::{Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    sol,
    sol_types::{SolCall, SolEvent},
};
use eyre::{WrapErr, bail, eyre};
use shiftpay_bindings::safe::{ISafe, OwnerSignature, SafeTx, encode_signatures};

use crate::anvil::{dev_signer, workspace_root};

sol! {
    /// `SafeProxyFactory` 1.5.0 (the part the tests use).
    #[sol(rpc)]
    interface ISafeProxyFactory {
        function createProxyWithNonce(address _singleton, bytes memory initializer, uint256 saltNonce) external returns (address proxy);
        event ProxyCreation(address indexed proxy, address singleton);
    }

    /// `Safe.setup` 1.5.0.
    interface ISafeSetup {
        function setup(
            address[] calldata _owners,
            uint256 _threshold,
            address to,
            bytes calldata data,
            address fallbackHandler,
            address paymentToken,
            uint256 payment,
            address paymentReceiver
        ) external;
    }
}

/// The directory of the Safe artifacts in `node_modules`.
pub fn artifacts_dir() -> PathBuf {
    workspace_root().join("node_modules/@safe-global/safe-smart-account/build/artifacts/contracts")
}

/// The creation bytecode of the Safe artifact at `relative` (e.g. `Safe.sol/Safe.json`).
pub fn bytecode(relative: &str) -> eyre::Result<Bytes> {
    let path = artifacts_dir().join(relative);
    let text = std::fs::read_to_string(&path)
        .wrap_err_with(|| format!("cannot read {} (run `make deps`)", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    let hex =
        json["bytecode"].as_str().ok_or_else(|| eyre!("{} has no bytecode", path.display()))?;
    Ok(alloy::primitives::hex::decode(hex)?.into())
}

/// The four Safe contracts a test needs, deployed.
#[derive(Debug, Clone, Copy)]
pub struct SafeDeployment {
    /// The `Safe` singleton (proxies delegate to it).
    pub singleton: Address,
    /// `SafeProxyFactory`.
    pub factory: Address,
    /// `CompatibilityFallbackHandler`.
    pub fallback_handler: Address,
    /// `MultiSendCallOnly`.
    pub multisend_call_only: Address,
}

/// Runs `future` on a fresh current-thread runtime (the CLI tests are synchronous).
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(future)
}

/// Sends `tx` from dev account 0 and waits for its successful receipt.
pub(crate) async fn send(
    url: &str,
    tx: TransactionRequest,
) -> eyre::Result<alloy::rpc::types::TransactionReceipt> {
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(dev_signer(0)))
        .connect_http(url.parse()?);
    let receipt = provider.send_transaction(tx).await?.get_receipt().await?;
    if !receipt.status() {
        bail!("transaction {} reverted", receipt.transaction_hash);
    }
    Ok(receipt)
}

async fn deploy_code(url: &str, relative: &str) -> eyre::Result<Address> {
    let tx = TransactionRequest::default().with_deploy_code(bytecode(relative)?);
    send(url, tx)
        .await?
        .contract_address
        .ok_or_else(|| eyre!("deploying {relative} created no contract"))
}

impl SafeDeployment {
    /// Deploys the singleton, the proxy factory, the fallback handler and `MultiSendCallOnly`
    /// from dev account 0 of the node at `url`.
    pub fn deploy(url: &str) -> eyre::Result<Self> {
        block_on(async {
            Ok(Self {
                singleton: deploy_code(url, "Safe.sol/Safe.json").await?,
                factory: deploy_code(url, "proxies/SafeProxyFactory.sol/SafeProxyFactory.json")
                    .await?,
                fallback_handler: deploy_code(
                    url,
                    "handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json",
                )
                .await?,
                multisend_call_only: deploy_code(
                    url,
                    "libraries/MultiSendCallOnly.sol/MultiSendCallOnly.json",
                )
                .await?,
            })
        })
    }

    /// Creates a Safe of `owners` with `threshold` through the factory (salt `salt`), set up
    /// with the compatibility fallback handler; returns its address.
    pub fn create_safe(
        &self,
        url: &str,
        owners: &[Address],
        threshold: u64,
        salt: u64,
    ) -> eyre::Result<Address> {
        let setup = ISafeSetup::setupCall {
            _owners: owners.to_vec(),
            _threshold: U256::from(threshold),
            to: Address::ZERO,
            data: Bytes::new(),
            fallbackHandler: self.fallback_handler,
            paymentToken: Address::ZERO,
            payment: U256::ZERO,
            paymentReceiver: Address::ZERO,
        };
        let create = ISafeProxyFactory::createProxyWithNonceCall {
            _singleton: self.singleton,
            initializer: setup.abi_encode().into(),
            saltNonce: U256::from(salt),
        };
        block_on(async {
            let tx = TransactionRequest::default()
                .with_to(self.factory)
                .with_input(Bytes::from(create.abi_encode()));
            let receipt = send(url, tx).await?;
            receipt
                .inner
                .logs()
                .iter()
                .find_map(|log| log.log_decode::<ISafeProxyFactory::ProxyCreation>().ok())
                .map(|event| event.inner.data.proxy)
                .ok_or_else(|| eyre!("the factory emitted no ProxyCreation"))
        })
    }
}

/// Runs `calls` through `safe` as one Safe transaction (a call, or a `MultiSendCallOnly` batch),
/// signed by `owners` (dev account indexes) and executed by dev account 0; fails unless the
/// Safe reports `ExecutionSuccess`.
pub fn exec_as_owners(
    url: &str,
    deployment: &SafeDeployment,
    safe: Address,
    calls: &[shiftpay_bindings::safe::MetaTx],
    owners: &[usize],
) -> eyre::Result<()> {
    block_on(async {
        let provider = ProviderBuilder::new().connect_http(url.parse()?);
        let chain_id = provider.get_chain_id().await?;
        let nonce = ISafe::new(safe, &provider).nonce().call().await?;
        let safe_tx =
            shiftpay_bindings::safe::batch_safe_tx(calls, deployment.multisend_call_only, nonce)?;
        let hash = safe_tx.signing_hash(chain_id, safe);
        let signatures = owners
            .iter()
            .map(|&i| OwnerSignature::sign(&dev_signer(i), hash))
            .collect::<Result<Vec<_>, _>>()?;
        exec(url, safe, &safe_tx, encode_signatures(&signatures)).await
    })
}

async fn exec(url: &str, safe: Address, safe_tx: &SafeTx, signatures: Bytes) -> eyre::Result<()> {
    let call = safe_tx.exec_call(signatures);
    let tx = TransactionRequest::default().with_to(safe).with_input(Bytes::from(call.abi_encode()));
    let receipt = send(url, tx).await?;
    let ok = receipt
        .inner
        .logs()
        .iter()
        .any(|log| log.topic0() == Some(&ISafe::ExecutionSuccess::SIGNATURE_HASH));
    if !ok {
        bail!("the Safe transaction {} failed inside the Safe", receipt.transaction_hash);
    }
    Ok(())
}
