//! Calldata decoded into something a person can read before signing or sending it:
//! `createStream(worker: 0xAbC…, token: 0x0000…, rate: 1000, start: 0, end: 0)`.
//!
//! The function ABIs come from the artifacts embedded in this crate (both contracts) and from
//! [`crate::tokens::IERC20`] (the approval before a deposit). A `multicall(bytes[])` is decoded one level
//! down, each inner call on its own line, so a batch of 50 `createStream`s is reviewed call by
//! call. What `shiftpay --dry-run` prints, and what a relayer logs.

use std::{collections::HashMap, fmt, sync::LazyLock};

use alloy::{
    dyn_abi::{DynSolValue, JsonAbiExt},
    json_abi::{Function, JsonAbi},
    primitives::{Selector, hex},
};
use serde::Serialize;

use crate::{artifacts::EMBEDDED, tokens::IERC20};

/// Every function of the embedded contracts and of the ERC-20 interface, by selector (the first
/// contract wins on a clash; none exists today).
static FUNCTIONS: LazyLock<HashMap<Selector, Function>> = LazyLock::new(|| {
    let mut abis: Vec<JsonAbi> = EMBEDDED
        .iter()
        .map(|artifact| {
            let value: serde_json::Value =
                serde_json::from_str(artifact.json).expect("embedded artifacts are valid JSON");
            serde_json::from_value(value["abi"].clone()).expect("embedded artifacts carry an ABI")
        })
        .collect();
    abis.push(IERC20::abi::contract());
    let mut functions = HashMap::new();
    for abi in abis {
        for function in abi.functions() {
            functions.entry(function.selector()).or_insert_with(|| function.clone());
        }
    }
    functions
});

/// One decoded argument of a call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallArg {
    /// Parameter name in the ABI (empty when unnamed).
    pub name: String,
    /// Solidity type, e.g. `uint128`.
    #[serde(rename = "type")]
    pub ty: String,
    /// The value, formatted for reading (integers in decimal, addresses checksummed for the
    /// chain given to [`decode_call_on`]).
    pub value: String,
}

/// A decoded call: function name, arguments, and for a `multicall` the inner calls.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecodedCall {
    /// Function name, e.g. `deposit`.
    pub function: String,
    /// Full signature, e.g. `deposit(address,uint256)`.
    pub signature: String,
    /// Arguments in ABI order (for a `multicall`: empty, see `inner`).
    pub args: Vec<CallArg>,
    /// The batched calls of a `multicall(bytes[])`, decoded (`None` for one that is not ours).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inner: Vec<Option<DecodedCall>>,
}

/// Decodes `data` as a call to one of the ShiftPay contracts or an ERC-20; `None` when the
/// selector is unknown or the arguments do not decode. Addresses are printed with EIP-55
/// checksums; use [`decode_call_on`] for a chain's EIP-1191 ones.
pub fn decode_call(data: &[u8]) -> Option<DecodedCall> {
    decode_call_on(data, None)
}

/// The function of `data`'s selector among the embedded contracts' and the ERC-20 interface's,
/// and its decoded arguments (`None` for an unknown selector or arguments that do not decode):
/// what [`decode_call`] formats and what [`crate::safe`] writes into a Transaction Builder batch.
pub fn decode_values(data: &[u8]) -> Option<(&'static Function, Vec<DynSolValue>)> {
    let function = FUNCTIONS.get(&Selector::try_from(data.get(..4)?).ok()?)?;
    let values = function.abi_decode_input(&data[4..]).ok()?;
    Some((function, values))
}

/// [`decode_call`] with addresses checksummed for `checksum_chain_id` (EIP-1191: Rootstock's 30
/// and 31), or EIP-55 for `None`.
pub fn decode_call_on(data: &[u8], checksum_chain_id: Option<u64>) -> Option<DecodedCall> {
    let (function, values) = decode_values(data)?;
    let is_multicall = function.name == "multicall"
        && function.inputs.len() == 1
        && function.inputs[0].ty == "bytes[]";
    if is_multicall {
        let DynSolValue::Array(calls) = &values[0] else { return None };
        let inner = calls
            .iter()
            .map(|call| match call {
                DynSolValue::Bytes(bytes) => decode_call_on(bytes, checksum_chain_id),
                _ => None,
            })
            .collect();
        return Some(DecodedCall {
            function: function.name.clone(),
            signature: function.signature(),
            args: Vec::new(),
            inner,
        });
    }
    let args = function
        .inputs
        .iter()
        .zip(&values)
        .map(|(param, value)| CallArg {
            name: param.name.clone(),
            ty: param.ty.clone(),
            value: format_value_on(value, checksum_chain_id),
        })
        .collect();
    Some(DecodedCall {
        function: function.name.clone(),
        signature: function.signature(),
        args,
        inner: Vec::new(),
    })
}

/// Formats an ABI value for reading, like [`crate::revert::format_value`] but with addresses
/// checksummed for `checksum_chain_id`.
pub fn format_value_on(value: &DynSolValue, checksum_chain_id: Option<u64>) -> String {
    let list = |items: &[DynSolValue]| {
        items
            .iter()
            .map(|item| format_value_on(item, checksum_chain_id))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match value {
        DynSolValue::Address(address) => address.to_checksum(checksum_chain_id),
        DynSolValue::Array(items) | DynSolValue::FixedArray(items) => format!("[{}]", list(items)),
        DynSolValue::Tuple(items) => format!("({})", list(items)),
        other => crate::revert::format_value(other),
    }
}

/// `name(arg: value, ...)`; a `multicall` lists its inner calls one per line, numbered.
impl fmt::Display for DecodedCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.function == "multicall" {
            write!(f, "multicall of {} calls:", self.inner.len())?;
            for (index, call) in self.inner.iter().enumerate() {
                match call {
                    Some(call) => write!(f, "\n  {}. {call}", index + 1)?,
                    None => write!(f, "\n  {}. (a call this binary cannot decode)", index + 1)?,
                }
            }
            return Ok(());
        }
        let args = self
            .args
            .iter()
            .map(|arg| {
                if arg.name.is_empty() {
                    arg.value.clone()
                } else {
                    format!("{}: {}", arg.name, arg.value)
                }
            })
            .collect::<Vec<_>>();
        write!(f, "{}({})", self.function, args.join(", "))
    }
}

/// `0x` + the first 4 bytes of `data`, for a call [`decode_call`] does not know.
pub fn selector_hex(data: &[u8]) -> String {
    hex::encode_prefixed(&data[..data.len().min(4)])
}

#[cfg(test)]
mod tests {
    use alloy::{
        primitives::{Address, U256, address},
        sol_types::SolCall,
    };

    use super::*;
    use crate::payroll::Payroll;

    const WORKER: Address = address!("2acc95758f8b5f583470ba265eb685a8f45fc9d5");

    fn create(rate: u128) -> Vec<u8> {
        Payroll::createStreamCall {
            worker: WORKER,
            token: Address::ZERO,
            rate,
            start: Default::default(),
            end: Default::default(),
        }
        .abi_encode()
    }

    #[test]
    fn decodes_a_payroll_call_with_names_and_values() {
        let call = decode_call(&create(1_000)).unwrap();
        assert_eq!(call.function, "createStream");
        assert_eq!(call.signature, "createStream(address,address,uint128,uint40,uint40)");
        assert_eq!(
            call.to_string(),
            "createStream(worker: 0x2AcC95758f8b5F583470ba265EB685a8F45fC9D5, \
             token: 0x0000000000000000000000000000000000000000, rate: 1000, start: 0, end: 0)"
        );
    }

    #[test]
    fn checksums_addresses_for_rootstock() {
        let call = decode_call_on(&create(1), Some(30)).unwrap();
        // EIP-1191 with chain id 30, as ROOTSTOCK.md lists RIF.
        assert_eq!(call.args[0].value, "0x2aCc95758f8b5F583470bA265Eb685a8f45fC9D5");
    }

    #[test]
    fn decodes_an_erc20_approval() {
        let data = IERC20::approveCall { spender: WORKER, value: U256::from(5) }.abi_encode();
        let call = decode_call(&data).unwrap();
        assert_eq!(
            call.to_string(),
            "approve(spender: 0x2AcC95758f8b5F583470ba265EB685a8F45fC9D5, value: 5)"
        );
    }

    #[test]
    fn decodes_each_call_of_a_multicall() {
        let data = Payroll::multicallCall { data: vec![create(1).into(), vec![1, 2, 3, 4].into()] }
            .abi_encode();
        let call = decode_call(&data).unwrap();
        assert_eq!(call.inner.len(), 2);
        let text = call.to_string();
        assert!(text.starts_with("multicall of 2 calls:\n  1. createStream(worker: "), "{text}");
        assert!(text.ends_with("\n  2. (a call this binary cannot decode)"), "{text}");
    }

    #[test]
    fn unknown_or_short_data_is_none() {
        assert!(decode_call(&[]).is_none());
        assert!(decode_call(&[0xde, 0xad, 0xbe, 0xef]).is_none());
        assert_eq!(selector_hex(&[0xde, 0xad, 0xbe, 0xef, 0]), "0xdeadbeef");
    }
}
