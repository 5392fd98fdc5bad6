//! Revert data decoded into something a person can read: the contracts' custom errors with their
//! arguments (`Payroll_NotWorker(7, 0xAbC…)`), `Error(string)` and `Panic(uint256)`.
//!
//! The error ABIs come from the artifacts embedded in this crate (both contracts, including the
//! OpenZeppelin and library errors they can bubble up), so a new error in the contracts is decoded
//! as soon as the artifacts are rebuilt. [`revert_data`] digs the revert bytes out of a JSON-RPC
//! error (`eth_call`, `eth_estimateGas`): anvil, geth, reth and rskj all put them in `error.data`.

use std::{collections::HashMap, fmt, sync::LazyLock};

use alloy::{
    dyn_abi::{DynSolValue, JsonAbiExt},
    json_abi::{Error as AbiError, JsonAbi},
    primitives::{Bytes, Selector, hex},
    rpc::json_rpc::ErrorPayload,
    sol_types::{Panic, PanicKind, Revert, SolError, SolInterface},
    transports::{RpcError, TransportErrorKind},
};
use serde::{Serialize, ser::SerializeStruct};

use crate::artifacts::EMBEDDED;

/// Every custom error of the embedded contracts, by selector (errors shared by both contracts,
/// such as `SafeERC20FailedOperation`, appear once: same signature, same selector).
static ERRORS: LazyLock<HashMap<Selector, AbiError>> = LazyLock::new(|| {
    let mut errors = HashMap::new();
    for artifact in EMBEDDED {
        let value: serde_json::Value =
            serde_json::from_str(artifact.json).expect("embedded artifacts are valid JSON");
        let abi: JsonAbi = serde_json::from_value(value["abi"].clone())
            .expect("embedded artifacts carry a valid ABI");
        for error in abi.errors() {
            errors.entry(error.selector()).or_insert_with(|| error.clone());
        }
    }
    errors
});

/// One decoded argument of a custom error.
#[derive(Debug, Clone, PartialEq)]
pub struct RevertArg {
    /// Parameter name in the ABI (may be empty when the Solidity source left it unnamed).
    pub name: String,
    /// Solidity type, e.g. `uint256`.
    pub ty: String,
    /// The decoded value.
    pub value: DynSolValue,
}

/// What a revert's data says.
#[derive(Debug, Clone, PartialEq)]
pub enum RevertKind {
    /// A custom error of one of the ShiftPay contracts (or a library error they bubble up).
    Custom {
        /// Error name, e.g. `Payroll_NotWorker`.
        name: String,
        /// Decoded arguments in ABI order.
        args: Vec<RevertArg>,
    },
    /// `require(cond, "message")` / `revert("message")`: Solidity's `Error(string)`.
    Message(String),
    /// A Solidity panic (`Panic(uint256)`): assertion, arithmetic overflow, division by zero...
    Panic(u64),
    /// A revert without data (`revert()`, out of gas, or a node that does not return it).
    Empty,
    /// Data that matches none of the known errors (another contract's error, or truncated data).
    Unknown,
}

/// A revert's data decoded against the ShiftPay contracts' ABIs.
///
/// Displays as the error with its arguments, e.g. `Payroll_NotWorker(7, 0xAbC…)`,
/// `Error("not allowed")`, `Panic(0x11: arithmetic underflow or overflow)`, or for unknown data
/// `unknown error 0x12345678 (data 0x…)`.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedRevert {
    /// What the data decoded to.
    pub kind: RevertKind,
    /// The raw revert data (selector + ABI-encoded arguments), kept for typed decoding and logs.
    pub data: Bytes,
}

impl DecodedRevert {
    /// The error's name: the custom error's (`Payroll_StreamNotFound`), `Error`, `Panic`, or
    /// `None` for empty or unknown data.
    pub fn name(&self) -> Option<&str> {
        match &self.kind {
            RevertKind::Custom { name, .. } => Some(name),
            RevertKind::Message(_) => Some("Error"),
            RevertKind::Panic(_) => Some("Panic"),
            RevertKind::Empty | RevertKind::Unknown => None,
        }
    }

    /// The 4-byte selector at the start of the data, if there is one.
    pub fn selector(&self) -> Option<Selector> {
        self.data.get(..4).map(Selector::from_slice)
    }

    /// Decodes the data as one of a generated error set, e.g.
    /// `revert.decode_as::<Payroll::PayrollErrors>()`, for code that reacts to a specific error.
    pub fn decode_as<E: SolInterface>(&self) -> Option<E> {
        E::abi_decode(&self.data).ok()
    }

    /// Whether this is the custom error `E` (e.g. `Payroll::Payroll_StreamNotFound`).
    pub fn is<E: SolError>(&self) -> bool {
        self.selector() == Some(Selector::from(E::SELECTOR))
    }
}

/// Decodes revert data against both contracts' custom errors, `Error(string)` and
/// `Panic(uint256)`. Never fails: data nothing matches is [`RevertKind::Unknown`], no data is
/// [`RevertKind::Empty`].
pub fn decode_revert(data: &[u8]) -> DecodedRevert {
    let kind = decode_kind(data);
    DecodedRevert { kind, data: Bytes::copy_from_slice(data) }
}

fn decode_kind(data: &[u8]) -> RevertKind {
    if data.is_empty() {
        return RevertKind::Empty;
    }
    let Some(selector) = data.get(..4).map(Selector::from_slice) else {
        return RevertKind::Unknown;
    };
    if selector == Revert::SELECTOR {
        return Revert::abi_decode(data)
            .map(|revert| RevertKind::Message(revert.reason))
            .unwrap_or(RevertKind::Unknown);
    }
    if selector == Panic::SELECTOR {
        return Panic::abi_decode(data)
            .ok()
            .and_then(|panic| u64::try_from(panic.code).ok())
            .map(RevertKind::Panic)
            .unwrap_or(RevertKind::Unknown);
    }
    let Some(error) = ERRORS.get(&selector) else {
        return RevertKind::Unknown;
    };
    match error.abi_decode_input(&data[4..]) {
        Ok(values) => RevertKind::Custom {
            name: error.name.clone(),
            args: error
                .inputs
                .iter()
                .zip(values)
                .map(|(param, value)| RevertArg {
                    name: param.name.clone(),
                    ty: param.selector_type().into_owned(),
                    value,
                })
                .collect(),
        },
        Err(_) => RevertKind::Unknown,
    }
}

/// Formats an ABI value the way a person reads it: integers in decimal, addresses checksummed,
/// bytes in hex, strings quoted, arrays in `[...]` and tuples in `(...)`.
pub fn format_value(value: &DynSolValue) -> String {
    match value {
        DynSolValue::Bool(b) => b.to_string(),
        DynSolValue::Int(i, _) => i.to_string(),
        DynSolValue::Uint(u, _) => u.to_string(),
        DynSolValue::FixedBytes(word, size) => hex::encode_prefixed(&word[..*size]),
        DynSolValue::Address(a) => a.to_checksum(None),
        DynSolValue::Function(f) => hex::encode_prefixed(f.as_slice()),
        DynSolValue::Bytes(b) => hex::encode_prefixed(b),
        DynSolValue::String(s) => format!("{s:?}"),
        DynSolValue::Array(items) | DynSolValue::FixedArray(items) => {
            format!("[{}]", items.iter().map(format_value).collect::<Vec<_>>().join(", "))
        }
        DynSolValue::Tuple(items) => {
            format!("({})", items.iter().map(format_value).collect::<Vec<_>>().join(", "))
        }
    }
}

impl fmt::Display for DecodedRevert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            RevertKind::Custom { name, args } => {
                let args = args.iter().map(|arg| format_value(&arg.value)).collect::<Vec<_>>();
                write!(f, "{name}({})", args.join(", "))
            }
            RevertKind::Message(message) => write!(f, "Error({message:?})"),
            RevertKind::Panic(code) => {
                match u32::try_from(*code).ok().and_then(PanicKind::from_number) {
                    Some(kind) => write!(f, "Panic({code:#x}: {kind})"),
                    None => write!(f, "Panic({code:#x})"),
                }
            }
            RevertKind::Empty => f.write_str("a revert without reason data"),
            RevertKind::Unknown => match self.selector() {
                Some(selector) => write!(f, "unknown error {selector} (data {})", self.data),
                None => write!(f, "unknown revert data {}", self.data),
            },
        }
    }
}

/// JSON form: `{"error": "Payroll_NotWorker", "args": [{"name", "type", "value"}], "display",
/// "data"}` with values formatted by [`format_value`] (strings, so big integers survive JSON).
impl Serialize for DecodedRevert {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Arg<'a> {
            name: &'a str,
            #[serde(rename = "type")]
            ty: &'a str,
            value: String,
        }
        let args: Vec<Arg<'_>> = match &self.kind {
            RevertKind::Custom { args, .. } => args
                .iter()
                .map(|arg| Arg { name: &arg.name, ty: &arg.ty, value: format_value(&arg.value) })
                .collect(),
            RevertKind::Message(message) => {
                vec![Arg { name: "reason", ty: "string", value: message.clone() }]
            }
            RevertKind::Panic(code) => {
                vec![Arg { name: "code", ty: "uint256", value: code.to_string() }]
            }
            RevertKind::Empty | RevertKind::Unknown => Vec::new(),
        };
        let mut s = serializer.serialize_struct("DecodedRevert", 4)?;
        s.serialize_field("error", &self.name())?;
        s.serialize_field("args", &args)?;
        s.serialize_field("display", &self.to_string())?;
        s.serialize_field("data", &self.data)?;
        s.end()
    }
}

/// Whether a JSON-RPC error message says the call reverted (`execution reverted`,
/// `VM Exception while processing transaction: revert`, rskj's `transaction reverted`...).
pub fn is_revert_message(message: &str) -> bool {
    message.to_ascii_lowercase().contains("revert")
}

/// The revert data in a JSON-RPC error payload: the first hex string in its `data` field
/// (a bare string on anvil, geth and rskj; nested objects on some providers).
///
/// `Some(empty)` when the message says "revert" but no data came with it; `None` when the error is
/// not a revert.
pub fn payload_revert_data(payload: &ErrorPayload) -> Option<Bytes> {
    let found = payload
        .data
        .as_ref()
        .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw.get()).ok())
        .and_then(|value| find_hex(&value));
    match found {
        Some(data) => Some(data),
        None if is_revert_message(&payload.message) => Some(Bytes::new()),
        None => None,
    }
}

/// The revert data of a failed `eth_call` / `eth_estimateGas` (see [`payload_revert_data`]), or
/// `None` when the request failed for another reason (transport, malformed response...).
pub fn revert_data(err: &RpcError<TransportErrorKind>) -> Option<Bytes> {
    err.as_error_resp().and_then(payload_revert_data)
}

/// [`revert_data`] for the errors of alloy's contract call builders (`Payroll::new(..).cancel(..)`).
pub fn contract_revert_data(err: &alloy::contract::Error) -> Option<Bytes> {
    match err {
        alloy::contract::Error::TransportError(err) => revert_data(err),
        _ => None,
    }
}

fn find_hex(value: &serde_json::Value) -> Option<Bytes> {
    match value {
        serde_json::Value::String(s) => {
            let digits = s.strip_prefix("0x")?;
            if digits.len() % 2 != 0 {
                return None;
            }
            hex::decode(digits).ok().map(Bytes::from)
        }
        serde_json::Value::Object(map) => {
            // Prefer the conventional key, then any nested value.
            map.get("data").and_then(find_hex).or_else(|| map.values().find_map(find_hex))
        }
        serde_json::Value::Array(items) => items.iter().find_map(find_hex),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use alloy::{
        primitives::{U256, address},
        sol_types::SolError,
    };

    use super::*;
    use crate::{escrow::MilestoneEscrow, payroll::Payroll};

    #[test]
    fn decodes_payroll_custom_error_with_args() {
        let who = address!("00000000000000000000000000000000000000aa");
        let data = Payroll::Payroll_NotWorker { streamId: U256::from(7), caller: who }.abi_encode();
        let revert = decode_revert(&data);
        assert_eq!(revert.name(), Some("Payroll_NotWorker"));
        assert_eq!(revert.to_string(), format!("Payroll_NotWorker(7, {})", who.to_checksum(None)));
        assert!(revert.is::<Payroll::Payroll_NotWorker>());
        assert!(matches!(
            revert.decode_as::<Payroll::PayrollErrors>(),
            Some(Payroll::PayrollErrors::Payroll_NotWorker(_))
        ));
        let RevertKind::Custom { args, .. } = &revert.kind else { panic!("custom") };
        assert_eq!(args[0].ty, "uint256");
    }

    #[test]
    fn decodes_escrow_custom_error() {
        let data =
            MilestoneEscrow::MilestoneEscrow_JobNotFound { jobId: U256::from(42) }.abi_encode();
        assert_eq!(decode_revert(&data).to_string(), "MilestoneEscrow_JobNotFound(42)");
    }

    #[test]
    fn decodes_error_string_and_panic() {
        let data = Revert::from("nope").abi_encode();
        assert_eq!(decode_revert(&data).to_string(), "Error(\"nope\")");
        let data = Panic::from(PanicKind::UnderOverflow).abi_encode();
        let revert = decode_revert(&data);
        assert_eq!(revert.kind, RevertKind::Panic(0x11));
        assert!(revert.to_string().starts_with("Panic(0x11: arithmetic"), "{revert}");
    }

    #[test]
    fn unknown_and_empty_data() {
        assert_eq!(decode_revert(&[]).kind, RevertKind::Empty);
        let revert = decode_revert(&[0xde, 0xad, 0xbe, 0xef, 1]);
        assert_eq!(revert.kind, RevertKind::Unknown);
        assert_eq!(revert.to_string(), "unknown error 0xdeadbeef (data 0xdeadbeef01)");
        assert_eq!(decode_revert(&[1, 2]).kind, RevertKind::Unknown);
    }

    #[test]
    fn serializes_to_json() {
        let data = Payroll::Payroll_StreamNotFound { streamId: U256::from(999) }.abi_encode();
        let json = serde_json::to_value(decode_revert(&data)).unwrap();
        assert_eq!(json["error"], "Payroll_StreamNotFound");
        assert_eq!(json["args"][0]["value"], "999");
        assert_eq!(json["display"], "Payroll_StreamNotFound(999)");
    }

    #[test]
    fn extracts_data_from_rpc_payloads() {
        let payload = |json: &str| serde_json::from_str::<ErrorPayload>(json).unwrap();
        // anvil / geth
        let p = payload(r#"{"code":3,"message":"execution reverted","data":"0xdeadbeef"}"#);
        assert_eq!(payload_revert_data(&p).unwrap().as_ref(), &[0xde, 0xad, 0xbe, 0xef]);
        // nested (some hosted providers)
        let p =
            payload(r#"{"code":-32000,"message":"x","data":{"originalError":{"data":"0x01"}}}"#);
        assert_eq!(payload_revert_data(&p).unwrap().as_ref(), &[1]);
        // a revert without data
        let p = payload(r#"{"code":-32015,"message":"transaction reverted"}"#);
        assert_eq!(payload_revert_data(&p), Some(Bytes::new()));
        // not a revert
        let p = payload(r#"{"code":-32000,"message":"insufficient funds for gas"}"#);
        assert_eq!(payload_revert_data(&p), None);
    }
}
