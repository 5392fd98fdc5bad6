//! EIP-712 signatures from independent implementations, run through Node.js:
//! - `@metamask/eth-sig-util` (what MetaMask and many wallets use), by `tests/js/sign-typed-data.cjs`;
//! - ethers v6 (its own typed-data encoder and signer), by `tests/js/sign-typed-data-ethers.cjs`,
//!   which also returns the 64-byte EIP-2098 compact form of the signature.
//!
//! Tests build the typed data as JSON (the `eth_signTypedData_v4` shape a wallet receives), sign it
//! here, and check that the contracts accept the signature and that the Rust digest in
//! `shiftpay-bindings` equals the digest the external code computes.

use std::{
    io::Write,
    path::PathBuf,
    process::{Command, Stdio},
};

use alloy::primitives::{B256, Bytes, U256, uint};

/// Why the external signer could not produce a signature.
#[derive(Debug, thiserror::Error)]
pub enum ExternalSignerError {
    /// Node.js or the script could not be started.
    #[error("could not run node ({0}); install Node.js and run `npm ci` at the repository root")]
    Spawn(#[source] std::io::Error),
    /// The script failed (e.g. its npm package is not installed or the typed data is invalid).
    #[error("{script} failed: {stderr}")]
    Script {
        /// The script's file name.
        script: &'static str,
        /// What it printed on stderr.
        stderr: String,
    },
    /// The script's output was not the expected JSON.
    #[error("unexpected output from {script}: {stdout}")]
    Output {
        /// The script's file name.
        script: &'static str,
        /// What it printed on stdout.
        stdout: String,
    },
}

/// A signature and the EIP-712 digest it signs, both as the external implementation computed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalSignature {
    /// 65-byte `r || s || v` signature.
    pub signature: Bytes,
    /// `keccak256("\x19\x01" || domainSeparator || hashStruct(message))`.
    pub digest: B256,
}

/// A signature made by ethers, in both encodings, and the digest ethers computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthersSignature {
    /// 65-byte `r || s || v` signature (`Signature.serialized`).
    pub signature: Bytes,
    /// 64-byte EIP-2098 compact signature `r || vs`, `vs = yParity << 255 | s`
    /// (`Signature.compactSerialized`).
    pub compact: Bytes,
    /// `keccak256("\x19\x01" || domainSeparator || hashStruct(message))` (`TypedDataEncoder.hash`).
    pub digest: B256,
}

const METAMASK_SCRIPT: &str = "sign-typed-data.cjs";
const ETHERS_SCRIPT: &str = "sign-typed-data-ethers.cjs";

/// What a script printed: its JSON object, and the raw text for error messages.
struct ScriptOutput {
    script: &'static str,
    stdout: String,
    json: serde_json::Value,
}

impl ScriptOutput {
    /// Parses the string field `name` (a hex signature or digest).
    fn field<T: std::str::FromStr>(&self, name: &str) -> Result<T, ExternalSignerError> {
        self.json[name].as_str().and_then(|value| value.parse().ok()).ok_or_else(|| {
            ExternalSignerError::Output { script: self.script, stdout: self.stdout.clone() }
        })
    }
}

/// Runs `tests/js/<script>` with `{privateKey, typedData}` on stdin and parses what it prints.
fn run_script(
    script: &'static str,
    private_key: B256,
    typed_data: &serde_json::Value,
) -> Result<ScriptOutput, ExternalSignerError> {
    let input =
        serde_json::json!({ "privateKey": private_key.to_string(), "typedData": typed_data });
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js").join(script);
    let mut child = Command::new("node")
        .arg(path)
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
        return Err(ExternalSignerError::Script {
            script,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    match serde_json::from_str(&stdout) {
        Ok(json) => Ok(ScriptOutput { script, stdout, json }),
        Err(_) => Err(ExternalSignerError::Output { script, stdout }),
    }
}

/// Signs `typed_data` (`{types, primaryType, domain, message}`, `eth_signTypedData_v4` JSON)
/// with `private_key` using `@metamask/eth-sig-util`.
pub fn sign_typed_data(
    private_key: B256,
    typed_data: &serde_json::Value,
) -> Result<ExternalSignature, ExternalSignerError> {
    let output = run_script(METAMASK_SCRIPT, private_key, typed_data)?;
    Ok(ExternalSignature { signature: output.field("signature")?, digest: output.field("digest")? })
}

/// Signs `typed_data` (same JSON as [`sign_typed_data`]) with `private_key` using ethers v6, and
/// returns the signature in its 65-byte and 64-byte EIP-2098 compact encodings.
pub fn sign_typed_data_ethers(
    private_key: B256,
    typed_data: &serde_json::Value,
) -> Result<EthersSignature, ExternalSignerError> {
    let output = run_script(ETHERS_SCRIPT, private_key, typed_data)?;
    let signed = EthersSignature {
        signature: output.field("signature")?,
        compact: output.field("compact")?,
        digest: output.field("digest")?,
    };
    if signed.signature.len() != 65 || signed.compact.len() != 64 {
        return Err(ExternalSignerError::Output { script: ETHERS_SCRIPT, stdout: output.stdout });
    }
    Ok(signed)
}

/// secp256k1's group order `n`: `(r, s, v)` and `(r, n - s, v ^ 1)` both verify under `ecrecover`.
pub const SECP256K1_N: U256 =
    uint!(0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141_U256);

/// `n / 2`: the largest `s` that OpenZeppelin's `ECDSA` accepts (it rejects high-s signatures).
pub const SECP256K1_HALF_N: U256 =
    uint!(0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0_U256);

/// A 65-byte `r || s || v` signature from its parts.
pub fn signature_65(r: U256, s: U256, v: u8) -> Bytes {
    [&r.to_be_bytes::<32>()[..], &s.to_be_bytes::<32>()[..], &[v]].concat().into()
}

/// A 64-byte EIP-2098 `r || vs` signature, `vs = (v - 27) << 255 | s`. For `s >= 2^255` (which
/// only a high `s` can be) the parity bit collides with `s`'s top bit: EIP-2098 cannot carry it.
pub fn signature_compact(r: U256, s: U256, v: u8) -> Bytes {
    let parity = U256::from(v - 27) << 255usize;
    [&r.to_be_bytes::<32>()[..], &(s | parity).to_be_bytes::<32>()[..]].concat().into()
}

/// `(r, s, v)` of a 65-byte `r || s || v` signature.
pub fn split_65(signature: &[u8]) -> (U256, U256, u8) {
    assert_eq!(signature.len(), 65, "a 65-byte signature");
    (U256::from_be_slice(&signature[..32]), U256::from_be_slice(&signature[32..64]), signature[64])
}

/// The malleable twin of a low-s signature: `(r, n - s, v ^ 1)`, the same key's other valid
/// signature of the same digest, with a high `s`.
pub fn high_s_twin(signature: &[u8]) -> (U256, U256, u8) {
    let (r, s, v) = split_65(signature);
    (r, SECP256K1_N - s, if v == 27 { 28 } else { 27 })
}
