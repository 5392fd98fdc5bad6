//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use alloy::primitives::{Address, B256};
use shiftpay_relayer::{
    bindings::deployment::{ContractDeployment, Deployment},
    config::{Config, Env},
};

/// The first anvil development key (funded on anvil; never use it on a live chain).
pub(crate) const DEV_KEY: &str =
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// Writes a deployment file for `chain_id` with made-up addresses (nothing reads the
/// contracts in these tests) and returns its path.
pub(crate) fn fake_deployment(dir: &Path, chain_id: u64) -> PathBuf {
    let contract = |byte: u8| ContractDeployment {
        address: Address::repeat_byte(byte),
        tx_hash: B256::repeat_byte(byte),
        block_number: 1,
        artifact_hash: B256::ZERO,
    };
    let deployment = Deployment {
        version: 1,
        chain_id,
        payroll: contract(0xa1),
        escrow: contract(0xe5),
        compiler: serde_json::json!({}),
        deployer: Address::repeat_byte(0xde),
        tokens: Vec::new(),
        created_at: "2026-11-30T00:00:00Z".to_owned(),
    };
    let path = Deployment::default_path(dir, chain_id);
    deployment.save(&path).unwrap();
    path
}

/// A config from TOML text, with the dev key as signer and `dir` as the file's directory.
pub(crate) fn config(dir: &Path, toml: &str) -> Config {
    let env: Env = [("SHIFTPAY_PRIVATE_KEY".to_owned(), DEV_KEY.to_owned())].into();
    Config::from_toml_str(toml, dir, &env).unwrap_or_else(|errors| panic!("{errors}"))
}
