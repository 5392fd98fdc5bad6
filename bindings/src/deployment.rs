//! The deployment file: where ShiftPay's contracts live on one chain.
//!
//! `shiftpay deploy` writes `deployments/<chain-id>.json` and every other command (and the
//! relayer) reads it: contract addresses, the blocks to scan events from, the code hashes to
//! check, the compiler settings for explorer verification, and extra tokens (such as a devnet's
//! test stablecoin). A file for another chain than the node's is an error, never a silent mix-up.
//!
//! ```json
//! {
//!   "version": 1,
//!   "chainId": 31,
//!   "payroll": { "address": "0x…", "txHash": "0x…", "blockNumber": 6512345, "artifactHash": "0x…" },
//!   "escrow": { "address": "0x…", "txHash": "0x…", "blockNumber": 6512346, "artifactHash": "0x…" },
//!   "compiler": { "version": "0.8.30+commit.73712a01", "settings": { "evmVersion": "shanghai", … } },
//!   "deployer": "0x…",
//!   "tokens": [{ "symbol": "tUSD", "address": "0x…", "decimals": 6 }],
//!   "createdAt": "2026-03-01T12:00:00Z"
//! }
//! ```

use std::{
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
};

use alloy::primitives::{Address, B256};
use serde::{Deserialize, Serialize};

use crate::artifacts::{ArtifactError, EmbeddedArtifact};

/// Format version this crate writes and the newest it reads.
pub const DEPLOYMENT_FORMAT_VERSION: u32 = 1;

/// One deployed contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContractDeployment {
    /// Contract address.
    pub address: Address,
    /// Hash of the creation transaction.
    pub tx_hash: B256,
    /// Block that included the creation transaction (where event scans start).
    pub block_number: u64,
    /// keccak256 of the artifact's runtime bytecode (`deployedBytecode`) that was deployed:
    /// compare with `keccak256(eth_getCode(address))` to verify the deployment.
    pub artifact_hash: B256,
}

/// An extra token listed by the deployment file (e.g. a devnet's test stablecoin), resolved by
/// symbol like a chain preset's tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployedToken {
    /// Symbol users type (matched case-insensitively).
    pub symbol: String,
    /// Token contract.
    pub address: Address,
    /// ERC-20 `decimals()`.
    pub decimals: u8,
}

fn default_version() -> u32 {
    DEPLOYMENT_FORMAT_VERSION
}

/// ShiftPay's contracts on one chain (`deployments/<chain-id>.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// File format version ([`DEPLOYMENT_FORMAT_VERSION`]); 1 when absent.
    #[serde(default = "default_version")]
    pub version: u32,
    /// Chain the contracts are deployed on.
    pub chain_id: u64,
    /// The `Payroll` contract.
    pub payroll: ContractDeployment,
    /// The `MilestoneEscrow` contract.
    pub escrow: ContractDeployment,
    /// The artifacts' compiler `version` and `settings`, as explorer verification needs them.
    pub compiler: serde_json::Value,
    /// Account that sent the deployment transactions.
    pub deployer: Address,
    /// Extra tokens usable by symbol on this deployment.
    #[serde(default)]
    pub tokens: Vec<DeployedToken>,
    /// When the deployment was made (RFC 3339, UTC).
    pub created_at: String,
}

/// Why a deployment file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    /// The file does not exist.
    #[error(
        "no deployment file at {}: run `shiftpay deploy` first or pass --deployment FILE",
        path.display()
    )]
    NotFound {
        /// The path looked at.
        path: PathBuf,
    },
    /// The file exists but could not be read.
    #[error("cannot read deployment file {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: io::Error,
    },
    /// The file is not a deployment file.
    #[error("deployment file {} is not valid: {error}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The JSON error (with line and column).
        error: serde_json::Error,
    },
    /// The file was written by a newer version of ShiftPay.
    #[error(
        "deployment file {} has format version {found}, newer than the {DEPLOYMENT_FORMAT_VERSION} this shiftpay reads: upgrade shiftpay",
        path.display()
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
    },
    /// The file could not be written.
    #[error("cannot write deployment file {}: {error}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: io::Error,
    },
    /// The file describes a deployment on another chain than the node's.
    #[error(
        "{} is for chain {found}, but the node is on chain {expected}: pass the deployment file of chain {expected}",
        file.as_ref().map_or_else(|| "the deployment file".to_owned(), |p| format!("deployment file {}", p.display()))
    )]
    WrongChain {
        /// The file, when known.
        file: Option<PathBuf>,
        /// The node's chain id.
        expected: u64,
        /// The file's chain id.
        found: u64,
    },
    /// The embedded artifacts could not be read.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
}

impl Deployment {
    /// Where the deployment of `chain_id` lives under `dir`: `dir/deployments/<chain_id>.json`.
    pub fn default_path(dir: &Path, chain_id: u64) -> PathBuf {
        dir.join("deployments").join(format!("{chain_id}.json"))
    }

    /// Reads a deployment file.
    pub fn load(path: &Path) -> Result<Self, DeploymentError> {
        let text = fs::read_to_string(path).map_err(|error| match error.kind() {
            io::ErrorKind::NotFound => DeploymentError::NotFound { path: path.to_owned() },
            _ => DeploymentError::Read { path: path.to_owned(), error },
        })?;
        let deployment: Self = serde_json::from_str(&text)
            .map_err(|error| DeploymentError::Parse { path: path.to_owned(), error })?;
        if deployment.version > DEPLOYMENT_FORMAT_VERSION {
            return Err(DeploymentError::UnsupportedVersion {
                path: path.to_owned(),
                found: deployment.version,
            });
        }
        Ok(deployment)
    }

    /// Reads a deployment file and checks it is for `chain_id` (the node's).
    pub fn load_for_chain(path: &Path, chain_id: u64) -> Result<Self, DeploymentError> {
        let deployment = Self::load(path)?;
        deployment.check_chain(chain_id).map_err(|error| match error {
            DeploymentError::WrongChain { expected, found, .. } => {
                DeploymentError::WrongChain { file: Some(path.to_owned()), expected, found }
            }
            other => other,
        })?;
        Ok(deployment)
    }

    /// Writes the file atomically: a temporary file in the same directory, flushed to disk, then
    /// renamed over `path` (readers never see half a file). Creates the directory if needed.
    pub fn save(&self, path: &Path) -> Result<(), DeploymentError> {
        let write_error = |error| DeploymentError::Write { path: path.to_owned(), error };
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(write_error)?;
        let name = path.file_name().map_or_else(|| "deployment".into(), |n| n.to_string_lossy());
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let mut json = serde_json::to_string_pretty(self).expect("a deployment always serializes");
        json.push('\n');
        let result = fs::File::create(&tmp)
            .and_then(|mut file| {
                file.write_all(json.as_bytes())?;
                file.sync_all()
            })
            .and_then(|()| fs::rename(&tmp, path));
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map_err(write_error)
    }

    /// Checks the file is for `chain_id` (the node's).
    pub fn check_chain(&self, chain_id: u64) -> Result<(), DeploymentError> {
        if self.chain_id == chain_id {
            Ok(())
        } else {
            Err(DeploymentError::WrongChain {
                file: None,
                expected: chain_id,
                found: self.chain_id,
            })
        }
    }

    /// The first block holding either contract: where event scans start.
    pub fn start_block(&self) -> u64 {
        self.payroll.block_number.min(self.escrow.block_number)
    }

    /// Contracts whose code in this binary differs from what the file says was deployed (by
    /// runtime code hash): their ABI may differ too. Empty when both match.
    pub fn artifact_drift(&self) -> Result<Vec<&'static str>, DeploymentError> {
        let mut drifted = Vec::new();
        for (name, deployed) in [("Payroll", &self.payroll), ("MilestoneEscrow", &self.escrow)] {
            let artifact = EmbeddedArtifact::find(name)?;
            if artifact.summary()?.runtime_code_hash != deployed.artifact_hash {
                drifted.push(artifact.name);
            }
        }
        Ok(drifted)
    }

    /// The `compiler` object of the embedded artifacts (`version` and `settings`), to store in a
    /// new deployment file.
    pub fn embedded_compiler() -> Result<serde_json::Value, DeploymentError> {
        let artifact = EmbeddedArtifact::find("Payroll")?;
        let json: serde_json::Value = serde_json::from_str(artifact.json).map_err(|source| {
            DeploymentError::Artifact(ArtifactError::Malformed { name: artifact.name, source })
        })?;
        Ok(json["compiler"].clone())
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::address;

    use super::*;

    fn sample() -> Deployment {
        let payroll_hash =
            EmbeddedArtifact::find("Payroll").unwrap().summary().unwrap().runtime_code_hash;
        let escrow_hash =
            EmbeddedArtifact::find("MilestoneEscrow").unwrap().summary().unwrap().runtime_code_hash;
        Deployment {
            version: DEPLOYMENT_FORMAT_VERSION,
            chain_id: 33,
            payroll: ContractDeployment {
                address: address!("0x5FbDB2315678afecb367f032d93F642f64180aa3"),
                tx_hash: B256::repeat_byte(1),
                block_number: 7,
                artifact_hash: payroll_hash,
            },
            escrow: ContractDeployment {
                address: address!("0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"),
                tx_hash: B256::repeat_byte(2),
                block_number: 5,
                artifact_hash: escrow_hash,
            },
            compiler: Deployment::embedded_compiler().unwrap(),
            deployer: address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
            tokens: vec![DeployedToken {
                symbol: "tUSD".into(),
                address: address!("0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"),
                decimals: 6,
            }],
            created_at: "2026-03-01T12:00:00Z".into(),
        }
    }

    #[test]
    fn saves_atomically_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = Deployment::default_path(dir.path(), 33);
        assert!(path.ends_with("deployments/33.json"));
        let deployment = sample();
        deployment.save(&path).unwrap();
        assert_eq!(Deployment::load(&path).unwrap(), deployment);
        assert_eq!(Deployment::load_for_chain(&path, 33).unwrap(), deployment);
        // Overwrite, and nothing but the file is left in the directory.
        deployment.save(&path).unwrap();
        let entries: Vec<_> =
            fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(entries, ["33.json"]);
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("\"chainId\": 33")
                && text.contains("\"artifactHash\"")
                && text.ends_with("}\n")
        );
        assert_eq!(deployment.start_block(), 5);
        assert!(deployment.compiler["version"].as_str().unwrap().starts_with("0.8.30"));
        assert!(deployment.artifact_drift().unwrap().is_empty());
    }

    #[test]
    fn rejects_a_file_for_another_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("31.json");
        sample().save(&path).unwrap();
        let message = Deployment::load_for_chain(&path, 31).unwrap_err().to_string();
        assert_eq!(
            message,
            format!(
                "deployment file {} is for chain 33, but the node is on chain 31: pass the deployment file of chain 31",
                path.display()
            )
        );
        assert_eq!(
            sample().check_chain(30).unwrap_err().to_string(),
            "the deployment file is for chain 33, but the node is on chain 30: pass the deployment file of chain 30"
        );
    }

    #[test]
    fn load_errors_are_one_sentence() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("deployments/30.json");
        assert!(matches!(Deployment::load(&missing), Err(DeploymentError::NotFound { .. })));
        assert!(
            Deployment::load(&missing)
                .unwrap_err()
                .to_string()
                .contains("run `shiftpay deploy` first")
        );
        let bad = dir.path().join("bad.json");
        fs::write(&bad, "{\"chainId\": 30}").unwrap();
        let message = Deployment::load(&bad).unwrap_err().to_string();
        assert!(
            message.starts_with(&format!(
                "deployment file {} is not valid: missing field",
                bad.display()
            )),
            "{message}"
        );
        let newer = dir.path().join("newer.json");
        let mut value = serde_json::to_value(sample()).unwrap();
        value["version"] = 2.into();
        fs::write(&newer, value.to_string()).unwrap();
        assert!(matches!(
            Deployment::load(&newer),
            Err(DeploymentError::UnsupportedVersion { found: 2, .. })
        ));
        // A file without "version" or "tokens" (hand-written) still loads.
        let mut value = serde_json::to_value(sample()).unwrap();
        value.as_object_mut().unwrap().remove("version");
        value.as_object_mut().unwrap().remove("tokens");
        let minimal = dir.path().join("minimal.json");
        fs::write(&minimal, value.to_string()).unwrap();
        let loaded = Deployment::load(&minimal).unwrap();
        assert_eq!((loaded.version, loaded.tokens.len()), (1, 0));
    }

    #[test]
    fn reports_drifted_artifacts() {
        let mut deployment = sample();
        deployment.escrow.artifact_hash = B256::ZERO;
        assert_eq!(deployment.artifact_drift().unwrap(), ["MilestoneEscrow"]);
    }
}
