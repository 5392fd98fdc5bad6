//! EIP-712 signatures from an independent implementation: `@metamask/eth-sig-util` (what MetaMask
//! and many wallets use), run through Node.js by `tests/js/sign-typed-data.cjs`.
//!
//! Tests build the typed data as JSON (the `eth_signTypedData_v4` shape a wallet receives), sign it
//! here, and check that the contracts accept the signature and that the Rust digest in
//! `shiftpay-bindings` equals the digest MetaMask's code computes.

use std::{
    io::Write,
    path::PathBuf,
    process::{Command, Stdio},
};

use alloy::primitives::{B256, Bytes};

/// Why the external signer could not produce a signature.
#[derive(Debug, thiserror::Error)]
pub enum ExternalSignerError {
    /// Node.js or the script could not be started.
    #[error("could not run node ({0}); install Node.js and run `npm ci` at the repository root")]
    Spawn(#[source] std::io::Error),
    /// The script failed (e.g. `@metamask/eth-sig-util` is not installed or the typed data is invalid).
    #[error("sign-typed-data.cjs failed: {0}")]
    Script(String),
    /// The script's output was not the expected JSON.
    #[error("unexpected output from sign-typed-data.cjs: {0}")]
    Output(String),
}

/// A signature and the EIP-712 digest it signs, both as the external implementation computed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalSignature {
    /// 65-byte `r || s || v` signature.
    pub signature: Bytes,
    /// `keccak256("\x19\x01" || domainSeparator || hashStruct(message))`.
    pub digest: B256,
}

fn script_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js/sign-typed-data.cjs")
}

/// Signs `typed_data` (`{types, primaryType, domain, message}`, `eth_signTypedData_v4` JSON)
/// with `private_key` using `@metamask/eth-sig-util`.
pub fn sign_typed_data(
    private_key: B256,
    typed_data: &serde_json::Value,
) -> Result<ExternalSignature, ExternalSignerError> {
    let input =
        serde_json::json!({ "privateKey": private_key.to_string(), "typedData": typed_data });
    let mut child = Command::new("node")
        .arg(script_path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(ExternalSignerError::Spawn)?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input.to_string().as_bytes())
        .map_err(ExternalSignerError::Spawn)?;
    let output = child.wait_with_output().map_err(ExternalSignerError::Spawn)?;
    if !output.status.success() {
        return Err(ExternalSignerError::Script(
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let parsed: serde_json::Value = serde_json::from_str(&stdout)
        .map_err(|_| ExternalSignerError::Output(stdout.to_string()))?;
    let field = |name: &str| {
        parsed[name].as_str().ok_or_else(|| ExternalSignerError::Output(stdout.to_string()))
    };
    let signature =
        field("signature")?.parse().map_err(|_| ExternalSignerError::Output(stdout.to_string()))?;
    let digest =
        field("digest")?.parse().map_err(|_| ExternalSignerError::Output(stdout.to_string()))?;
    Ok(ExternalSignature { signature, digest })
}
