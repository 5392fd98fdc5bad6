//! The compiled contracts embedded in this crate: what `shiftpay contracts` shows and what a
//! deployer or explorer verification needs (compiler version, settings, metadata).

use alloy::primitives::{B256, keccak256};
use serde::{Deserialize, Serialize};

/// One embedded artifact file (`bindings/artifacts/<name>.json`).
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedArtifact {
    /// Contract name, e.g. `Payroll`.
    pub name: &'static str,
    /// The artifact JSON as committed.
    pub json: &'static str,
}

macro_rules! embedded_artifacts {
    ($($name:literal),* $(,)?) => {
        /// Every deployable contract of `contracts/src`, in alphabetical order.
        pub const EMBEDDED: &[EmbeddedArtifact] = &[
            $(EmbeddedArtifact { name: $name, json: include_str!(concat!("../artifacts/", $name, ".json")) },)*
        ];
    };
}

embedded_artifacts!("MilestoneEscrow", "Payroll");

/// Why an embedded artifact could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// No embedded artifact has that name.
    #[error("no contract named {0:?} (known: {1})")]
    Unknown(String, String),
    /// The embedded JSON does not have the expected shape.
    #[error("artifact {name} is malformed: {source}")]
    Malformed {
        /// Contract name.
        name: &'static str,
        /// What failed to parse.
        #[source]
        source: serde_json::Error,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawArtifact {
    source_name: String,
    compiler: RawCompiler,
    bytecode: alloy::primitives::Bytes,
    deployed_bytecode: alloy::primitives::Bytes,
}

#[derive(Deserialize)]
struct RawCompiler {
    version: String,
    settings: serde_json::Value,
}

/// What a user wants to know about a compiled contract before deploying or verifying it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactSummary {
    /// Contract name.
    pub name: String,
    /// Source file, relative to the repository root.
    pub source_name: String,
    /// Full solc version, e.g. `0.8.30+commit.73712a01`.
    pub compiler_version: String,
    /// EVM level the bytecode targets.
    pub evm_version: String,
    /// Optimizer runs (`None` when the optimizer is off).
    pub optimizer_runs: Option<u64>,
    /// Size of the creation code in bytes.
    pub creation_size: usize,
    /// Size of the runtime code in bytes (EIP-170 caps it at 24,576).
    pub runtime_size: usize,
    /// keccak256 of the runtime code: compare with `eth_getCode` to check a deployment.
    pub runtime_code_hash: B256,
}

impl EmbeddedArtifact {
    /// Finds an embedded artifact by contract name (case-insensitive).
    pub fn find(name: &str) -> Result<&'static Self, ArtifactError> {
        EMBEDDED.iter().find(|a| a.name.eq_ignore_ascii_case(name)).ok_or_else(|| {
            ArtifactError::Unknown(
                name.to_owned(),
                EMBEDDED.iter().map(|a| a.name).collect::<Vec<_>>().join(", "),
            )
        })
    }

    /// Parses the parts of the artifact a user inspects.
    pub fn summary(&self) -> Result<ArtifactSummary, ArtifactError> {
        let raw: RawArtifact = serde_json::from_str(self.json)
            .map_err(|source| ArtifactError::Malformed { name: self.name, source })?;
        let settings = &raw.compiler.settings;
        let optimizer = &settings["optimizer"];
        Ok(ArtifactSummary {
            name: self.name.to_owned(),
            source_name: raw.source_name,
            compiler_version: raw.compiler.version,
            evm_version: settings["evmVersion"].as_str().unwrap_or("default").to_owned(),
            optimizer_runs: optimizer["enabled"]
                .as_bool()
                .unwrap_or(false)
                .then(|| optimizer["runs"].as_u64())
                .flatten(),
            creation_size: raw.bytecode.len(),
            runtime_size: raw.deployed_bytecode.len(),
            runtime_code_hash: keccak256(&raw.deployed_bytecode),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_artifact_parses_and_fits_eip170() {
        assert!(!EMBEDDED.is_empty());
        for artifact in EMBEDDED {
            let summary = artifact.summary().unwrap();
            assert_eq!(summary.name, artifact.name);
            assert_eq!(summary.source_name, format!("contracts/src/{}.sol", artifact.name));
            assert_eq!(summary.evm_version, "shanghai", "one bytecode for every target chain");
            assert!(summary.runtime_size > 0 && summary.runtime_size <= 24_576);
            assert!(summary.creation_size > summary.runtime_size);
        }
    }

    #[test]
    fn finds_contracts_case_insensitively_and_names_the_known_ones() {
        assert_eq!(EmbeddedArtifact::find("payroll").unwrap().name, "Payroll");
        let message = EmbeddedArtifact::find("Payrol").unwrap_err().to_string();
        assert!(message.contains("MilestoneEscrow, Payroll"), "{message}");
    }
}
