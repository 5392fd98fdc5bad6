//! Does the code at an address equal a committed artifact? What `shiftpay deploy --check` and a
//! careful relayer ask before trusting a deployment file.
//!
//! A deployed runtime code is the artifact's `deployedBytecode` with the constructor's
//! *immutables* written in. solc leaves each immutable reference as a zero `PUSH32` operand in
//! the artifact (the committed artifacts carry no `immutableReferences` table), and both
//! contracts have immutables: OpenZeppelin's `EIP712` caches the domain separator, the chain id,
//! the contract's own address, the hashed name and version and the name and version as
//! `ShortString`s. So the comparison masks the zero `PUSH32` operands of the artifact, requires
//! every other byte (CBOR metadata included) to be equal, and then checks that each masked word
//! of the deployed code is one of the values the constructor must have written for *this* chain
//! and address ([`eip712_immutables`]); a word outside that set is reported, not accepted.

use std::ops::Range;

use alloy::{
    primitives::{Address, B256, U256, keccak256},
    sol_types::Eip712Domain,
};
use serde::Serialize;

/// The outcome of [`compare_runtime`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum CodeCheck {
    /// Equal to the artifact outside the immutables, and every immutable has an expected value.
    #[serde(rename_all = "camelCase")]
    Match {
        /// How many 32-byte immutable words were masked.
        immutables: usize,
    },
    /// No code at the address (nothing deployed there, or a self-destructed contract).
    NoCode,
    /// The code has another length: another contract or another compiler output.
    #[serde(rename_all = "camelCase")]
    LengthDiffers {
        /// Runtime size of the artifact.
        expected: usize,
        /// Runtime size found on chain.
        found: usize,
    },
    /// The code differs outside the immutables, first at byte `offset`.
    #[serde(rename_all = "camelCase")]
    CodeDiffers {
        /// Byte offset of the first difference.
        offset: usize,
    },
    /// The code matches but an immutable holds a value the constructor would not have written
    /// for this chain and address (code copied from another deployment).
    #[serde(rename_all = "camelCase")]
    UnexpectedImmutable {
        /// Byte offset of the word.
        offset: usize,
        /// The value found.
        value: B256,
    },
}

impl CodeCheck {
    /// Whether the deployment is the artifact.
    pub fn is_match(&self) -> bool {
        matches!(self, Self::Match { .. })
    }
}

impl std::fmt::Display for CodeCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Match { immutables } => write!(
                f,
                "runtime code equals the artifact ({immutables} immutable words checked against this chain and address)"
            ),
            Self::NoCode => f.write_str("no code at this address"),
            Self::LengthDiffers { expected, found } => {
                write!(
                    f,
                    "runtime code is {found} bytes, the artifact's is {expected}: another contract"
                )
            }
            Self::CodeDiffers { offset } => {
                write!(
                    f,
                    "runtime code differs from the artifact at byte {offset}: another contract or compiler output"
                )
            }
            Self::UnexpectedImmutable { offset, value } => write!(
                f,
                "immutable at byte {offset} holds {value}, not a value for this chain and address"
            ),
        }
    }
}

/// Length of the CBOR metadata trailer solc appends (its length is the last two bytes), plus
/// those two bytes; 0 when the code does not end in a plausible trailer.
pub fn metadata_len(code: &[u8]) -> usize {
    let Some(tail) = code.len().checked_sub(2).map(|at| &code[at..]) else { return 0 };
    let len = usize::from(u16::from_be_bytes([tail[0], tail[1]])) + 2;
    if len <= code.len() { len } else { 0 }
}

/// Byte ranges of the 32-byte operands of `PUSH32` instructions that are all zero in `runtime`
/// (an artifact's `deployedBytecode`): solc's placeholders for immutables. The walk skips push
/// data and stops at the metadata trailer, so data bytes are never taken for instructions.
pub fn immutable_ranges(runtime: &[u8]) -> Vec<Range<usize>> {
    const PUSH1: u8 = 0x60;
    const PUSH32: u8 = 0x7f;
    let end = runtime.len() - metadata_len(runtime);
    let mut ranges = Vec::new();
    let mut pc = 0;
    while pc < end {
        let op = runtime[pc];
        if (PUSH1..=PUSH32).contains(&op) {
            let size = usize::from(op - PUSH1) + 1;
            let operand = pc + 1..(pc + 1 + size).min(end);
            if op == PUSH32
                && operand.len() == 32
                && runtime[operand.clone()].iter().all(|b| *b == 0)
            {
                ranges.push(operand);
            }
            pc += 1 + size;
        } else {
            pc += 1;
        }
    }
    ranges
}

/// The values OpenZeppelin's `EIP712(name, version)` constructor stores as immutables, for a
/// contract at `contract` on `chain_id`: domain separator, chain id, address, hashed name and
/// version, and name and version as `ShortString`s (when shorter than 32 bytes).
pub fn eip712_immutables(name: &str, version: &str, chain_id: u64, contract: Address) -> Vec<B256> {
    let domain = Eip712Domain::new(
        Some(name.to_owned().into()),
        Some(version.to_owned().into()),
        Some(U256::from(chain_id)),
        Some(contract),
        None,
    );
    let mut values = vec![
        domain.separator(),
        B256::from(U256::from(chain_id)),
        contract.into_word(),
        keccak256(name),
        keccak256(version),
    ];
    values.extend(short_string(name));
    values.extend(short_string(version));
    values
}

/// OpenZeppelin's `ShortStrings.toShortString`: the bytes left-aligned, the length in the last
/// byte; `None` for 32 bytes or more (stored in storage instead).
fn short_string(s: &str) -> Option<B256> {
    let bytes = s.as_bytes();
    (bytes.len() < 32).then(|| {
        let mut word = B256::ZERO;
        word[..bytes.len()].copy_from_slice(bytes);
        word[31] = bytes.len() as u8;
        word
    })
}

/// Compares the code found on chain with an artifact's runtime code (see the module docs).
/// `expected_immutables` lists the values the constructor may have written (e.g.
/// [`eip712_immutables`]); a zero word also passes (an immutable left unset).
pub fn compare_runtime(
    artifact: &[u8],
    deployed: &[u8],
    expected_immutables: &[B256],
) -> CodeCheck {
    if deployed.is_empty() {
        return CodeCheck::NoCode;
    }
    if artifact.len() != deployed.len() {
        return CodeCheck::LengthDiffers { expected: artifact.len(), found: deployed.len() };
    }
    let ranges = immutable_ranges(artifact);
    let mut masked = vec![false; artifact.len()];
    for range in &ranges {
        masked[range.clone()].iter_mut().for_each(|m| *m = true);
    }
    if let Some(offset) = (0..artifact.len()).find(|&i| !masked[i] && artifact[i] != deployed[i]) {
        return CodeCheck::CodeDiffers { offset };
    }
    for range in &ranges {
        let value = B256::from_slice(&deployed[range.clone()]);
        if !value.is_zero() && !expected_immutables.contains(&value) {
            return CodeCheck::UnexpectedImmutable { offset: range.start, value };
        }
    }
    CodeCheck::Match { immutables: ranges.len() }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::address;

    use super::*;
    use crate::{artifacts::EMBEDDED, escrow::MilestoneEscrow, payroll::Payroll};

    const AT: Address = address!("5FbDB2315678afecb367f032d93F642f64180aa3");

    /// The artifact with the EIP-712 immutables written in, in the order the ranges appear
    /// (any order passes the check).
    fn deployed(artifact: &[u8], values: &[B256]) -> Vec<u8> {
        let mut code = artifact.to_vec();
        for (i, range) in immutable_ranges(artifact).into_iter().enumerate() {
            code[range].copy_from_slice(values[i % values.len()].as_slice());
        }
        code
    }

    #[test]
    fn both_contracts_have_the_seven_eip712_immutables() {
        assert_eq!(EMBEDDED.len(), 2);
        for code in [&Payroll::DEPLOYED_BYTECODE, &MilestoneEscrow::DEPLOYED_BYTECODE] {
            let ranges = immutable_ranges(code);
            assert!(ranges.len() >= 5, "{} zero PUSH32 operands", ranges.len());
            assert!(
                ranges.iter().all(|r| r.len() == 32 && r.end <= code.len() - metadata_len(code))
            );
        }
        assert_eq!(metadata_len(&Payroll::DEPLOYED_BYTECODE), 53, "solc's 51-byte CBOR + length");
    }

    #[test]
    fn the_artifact_with_its_immutables_matches() {
        let values = eip712_immutables(crate::payroll::EIP712_NAME, "1", 31, AT);
        let code = deployed(&Payroll::DEPLOYED_BYTECODE, &values);
        let check = compare_runtime(&Payroll::DEPLOYED_BYTECODE, &code, &values);
        assert!(check.is_match(), "{check}");
    }

    #[test]
    fn another_contract_or_chain_is_caught() {
        let values = eip712_immutables(crate::payroll::EIP712_NAME, "1", 31, AT);
        let payroll = deployed(&Payroll::DEPLOYED_BYTECODE, &values);
        assert!(matches!(
            compare_runtime(&MilestoneEscrow::DEPLOYED_BYTECODE, &payroll, &values),
            CodeCheck::LengthDiffers { .. } | CodeCheck::CodeDiffers { .. }
        ));
        assert_eq!(compare_runtime(&Payroll::DEPLOYED_BYTECODE, &[], &values), CodeCheck::NoCode);
        // The same code deployed for chain 30 checked as chain 31's: the cached chain id and
        // domain separator give it away.
        let mainnet = deployed(
            &Payroll::DEPLOYED_BYTECODE,
            &eip712_immutables(crate::payroll::EIP712_NAME, "1", 30, AT),
        );
        assert!(matches!(
            compare_runtime(&Payroll::DEPLOYED_BYTECODE, &mainnet, &values),
            CodeCheck::UnexpectedImmutable { .. }
        ));
        let mut patched = payroll.clone();
        patched[100] ^= 1;
        assert_eq!(
            compare_runtime(&Payroll::DEPLOYED_BYTECODE, &patched, &values),
            CodeCheck::CodeDiffers { offset: 100 }
        );
    }

    #[test]
    fn short_strings_follow_openzeppelin() {
        let word = short_string("1").unwrap();
        assert_eq!(word[0], b'1');
        assert_eq!(word[31], 1);
        assert!(short_string(&"x".repeat(32)).is_none());
    }
}
