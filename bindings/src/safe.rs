//! Safe multisig (Safe{Wallet} smart account 1.5.0) and DAO exports: what ShiftPay needs to have
//! an employer or client that is a Safe or a Governor/Timelock.
//!
//! - [`ISafe`], [`IMultiSendCallOnly`], [`ICompatibilityFallbackHandler`]: hand-written `sol!`
//!   interfaces of the functions used (the ABIs of `@safe-global/safe-smart-account` 1.5.0).
//! - [`SafeTx`] and [`safe_domain`]: the EIP-712 typed data owners sign; [`SafeTx::signing_hash`]
//!   equals `Safe.getTransactionHash(..)`.
//! - [`SafeMessage`] and [`safe_message_hash`]: what owners sign so that the Safe's
//!   `isValidSignature(bytes32,bytes)` (CompatibilityFallbackHandler, EIP-1271) accepts a digest.
//! - [`encode_multisend`] / [`decode_multisend`]: the packed batch of `MultiSendCallOnly`.
//! - [`SafeProposal`]: the file owners pass around (`shiftpay safe sign|exec|status`), with
//!   [`encode_signatures`] building the `signatures` bytes (65 bytes per owner, owners ascending).
//! - [`TxBuilderBatch`]: the JSON the Safe{Wallet} Transaction Builder app imports.
//! - [`GovernorProposal`]: `targets`/`values`/`calldatas`/`description` for an OpenZeppelin
//!   Governor proposal, with the `cast send` command that proposes it.

use std::fmt;

use alloy::{
    dyn_abi::DynSolValue,
    primitives::{Address, B256, Bytes, Signature, U256, hex, keccak256},
    sol_types::{Eip712Domain, SolStruct, SolValue},
};
use serde::{Deserialize, Serialize};

// `execTransaction` and `getTransactionHash` take 10 arguments.
#[allow(clippy::too_many_arguments)]
mod generated {
    use alloy::sol;

    sol! {
        /// The functions of a Safe (1.5.0 singleton behind a proxy) ShiftPay calls.
        #[sol(rpc)]
        interface ISafe {
            /// Runs a transaction once `signatures` meet the threshold.
            function execTransaction(
                address to,
                uint256 value,
                bytes calldata data,
                uint8 operation,
                uint256 safeTxGas,
                uint256 baseGas,
                uint256 gasPrice,
                address gasToken,
                address refundReceiver,
                bytes memory signatures
            ) external payable returns (bool success);
            /// The nonce the next Safe transaction must carry.
            function nonce() external view returns (uint256);
            /// Owners' signatures needed.
            function getThreshold() external view returns (uint256);
            /// The owners.
            function getOwners() external view returns (address[] memory);
            /// Whether `owner` is an owner.
            function isOwner(address owner) external view returns (bool);
            /// The EIP-712 hash of a Safe transaction (see [`SafeTx::signing_hash`]).
            function getTransactionHash(
                address to,
                uint256 value,
                bytes calldata data,
                uint8 operation,
                uint256 safeTxGas,
                uint256 baseGas,
                uint256 gasPrice,
                address gasToken,
                address refundReceiver,
                uint256 _nonce
            ) external view returns (bytes32);
            /// The EIP-712 domain separator (chain id and the Safe's address).
            function domainSeparator() external view returns (bytes32);
            /// Reverts unless `signatures` are valid owners' signatures of `dataHash` meeting the
            /// threshold.
            function checkSignatures(address executor, bytes32 dataHash, bytes memory signatures) external view;
            /// The Safe's version (`1.5.0`).
            function VERSION() external view returns (string memory);
            /// Emitted by a successful `execTransaction`.
            event ExecutionSuccess(bytes32 indexed txHash, uint256 payment);
            /// Emitted when the inner call of `execTransaction` failed.
            event ExecutionFailure(bytes32 indexed txHash, uint256 payment);
        }

        /// Safe's `MultiSendCallOnly` library: runs a packed batch of calls (reached by
        /// `DELEGATECALL` from the Safe, so each call comes from the Safe).
        #[sol(rpc)]
        interface IMultiSendCallOnly {
            /// Runs every packed call (see [`encode_multisend`]); reverts when one does.
            function multiSend(bytes memory transactions) external payable;
        }

        /// The Safe's `CompatibilityFallbackHandler`, reached through the Safe's fallback.
        #[sol(rpc)]
        interface ICompatibilityFallbackHandler {
            /// EIP-1271: `0x1626ba7e` when `signature` holds the owners' signatures of the
            /// [`SafeMessage`] hash of `_dataHash`.
            function isValidSignature(bytes32 _dataHash, bytes calldata _signature) external view returns (bytes4);
            /// The hash owners sign for `message` (see [`safe_message_hash`]).
            function getMessageHashForSafe(address safe, bytes memory message) external view returns (bytes32);
        }

        /// A Safe transaction, the EIP-712 struct owners sign.
        #[derive(Debug, PartialEq, Eq)]
        struct SafeTx {
            address to;
            uint256 value;
            bytes data;
            uint8 operation;
            uint256 safeTxGas;
            uint256 baseGas;
            uint256 gasPrice;
            address gasToken;
            address refundReceiver;
            uint256 nonce;
        }

        /// A message a Safe signs (EIP-1271): for a 32-byte digest, `message` is its ABI encoding.
        #[derive(Debug, PartialEq, Eq)]
        struct SafeMessage {
            bytes message;
        }
    }
}

pub use generated::*;

/// What EIP-1271's `isValidSignature(bytes32,bytes)` returns for a valid signature.
pub const EIP1271_MAGIC_VALUE: [u8; 4] = [0x16, 0x26, 0xba, 0x7e];

/// Why a Safe file, signature or batch is unusable.
#[derive(Debug, thiserror::Error)]
pub enum SafeError {
    /// A packed MultiSend batch is cut short or holds an unknown operation.
    #[error("invalid MultiSend batch at byte {offset}: {reason}")]
    BadMultiSend {
        /// Where decoding stopped.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A signature is not 65 bytes.
    #[error("signature of {signer} is {len} bytes, not 65")]
    BadSignatureLength {
        /// Who it claims to be from.
        signer: Address,
        /// Its length.
        len: usize,
    },
    /// A signature does not recover to the owner it is filed under.
    #[error("the signature filed under {claimed} was made by {recovered}")]
    WrongSigner {
        /// Who it claims to be from.
        claimed: Address,
        /// Who made it.
        recovered: Address,
    },
    /// A signature cannot be parsed or recovered.
    #[error("invalid signature of {signer}: {reason}")]
    BadSignature {
        /// Who it claims to be from.
        signer: Address,
        /// Why.
        reason: String,
    },
    /// The file's stored hash is not the hash of its content.
    #[error(
        "the file's hash {stored} is not the hash of its transaction ({computed}): it was changed after it was proposed"
    )]
    HashMismatch {
        /// In the file.
        stored: B256,
        /// Recomputed from its fields.
        computed: B256,
    },
    /// The file has nothing to propose.
    #[error("no calls to propose")]
    Empty,
    /// A proposal file cannot be read or written as JSON.
    #[error("invalid Safe file: {0}")]
    Json(#[from] serde_json::Error),
}

/// A Safe transaction's operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u8)]
#[serde(into = "u8", try_from = "u8")]
pub enum Operation {
    /// A call from the Safe.
    Call = 0,
    /// A `DELEGATECALL` from the Safe (only to `MultiSendCallOnly` here).
    DelegateCall = 1,
}

impl From<Operation> for u8 {
    fn from(op: Operation) -> Self {
        op as Self
    }
}

impl TryFrom<u8> for Operation {
    type Error = String;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        match value {
            0 => Ok(Self::Call),
            1 => Ok(Self::DelegateCall),
            other => Err(format!("unknown Safe operation {other} (0 = call, 1 = delegatecall)")),
        }
    }
}

/// The EIP-712 domain of a Safe (1.3 and later): `chainId` and the Safe as verifying contract,
/// no name or version.
pub fn safe_domain(chain_id: u64, safe: Address) -> Eip712Domain {
    alloy::sol_types::eip712_domain! {
        chain_id: chain_id,
        verifying_contract: safe,
    }
}

impl SafeTx {
    /// The EIP-712 type string of `SAFE_TX_TYPEHASH`.
    pub const TYPE_STRING: &'static str = "SafeTx(address to,uint256 value,bytes data,uint8 operation,uint256 safeTxGas,uint256 baseGas,uint256 gasPrice,address gasToken,address refundReceiver,uint256 nonce)";

    /// A transaction that pays no refund (`safeTxGas`, `baseGas`, `gasPrice` 0, no gas token,
    /// no refund receiver): the executor pays the gas.
    pub fn new(to: Address, value: U256, data: Bytes, operation: Operation, nonce: U256) -> Self {
        Self {
            to,
            value,
            data,
            operation: operation as u8,
            safeTxGas: U256::ZERO,
            baseGas: U256::ZERO,
            gasPrice: U256::ZERO,
            gasToken: Address::ZERO,
            refundReceiver: Address::ZERO,
            nonce,
        }
    }

    /// The hash owners sign, equal to `Safe.getTransactionHash(..)` of `safe` on `chain_id`.
    pub fn signing_hash(&self, chain_id: u64, safe: Address) -> B256 {
        self.eip712_signing_hash(&safe_domain(chain_id, safe))
    }

    /// The `execTransaction` call with `signatures`.
    pub fn exec_call(&self, signatures: Bytes) -> ISafe::execTransactionCall {
        ISafe::execTransactionCall {
            to: self.to,
            value: self.value,
            data: self.data.clone(),
            operation: self.operation,
            safeTxGas: self.safeTxGas,
            baseGas: self.baseGas,
            gasPrice: self.gasPrice,
            gasToken: self.gasToken,
            refundReceiver: self.refundReceiver,
            signatures,
        }
    }

    /// The `getTransactionHash` call of this transaction.
    pub fn hash_call(&self) -> ISafe::getTransactionHashCall {
        ISafe::getTransactionHashCall {
            to: self.to,
            value: self.value,
            data: self.data.clone(),
            operation: self.operation,
            safeTxGas: self.safeTxGas,
            baseGas: self.baseGas,
            gasPrice: self.gasPrice,
            gasToken: self.gasToken,
            refundReceiver: self.refundReceiver,
            _nonce: self.nonce,
        }
    }
}

/// The hash a Safe's owners sign so that the Safe accepts `digest` under EIP-1271
/// (`CompatibilityFallbackHandler.getMessageHashForSafe(safe, abi.encode(digest))`): the EIP-712
/// hash of `SafeMessage(bytes message)` with `message = abi.encode(digest)` in the Safe's domain.
pub fn safe_message_hash(chain_id: u64, safe: Address, digest: B256) -> B256 {
    let message = SafeMessage { message: Bytes::from(digest.abi_encode()) };
    message.eip712_signing_hash(&safe_domain(chain_id, safe))
}

/// One call of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetaTx {
    /// Recipient.
    pub to: Address,
    /// Native value in wei.
    pub value: U256,
    /// Calldata.
    pub data: Bytes,
}

/// Packs `calls` for `MultiSendCallOnly.multiSend`: per call `operation` (uint8, always 0),
/// `to` (20 bytes), `value` (uint256), data length (uint256) and the data, with no padding.
pub fn encode_multisend(calls: &[MetaTx]) -> Bytes {
    let mut out = Vec::with_capacity(calls.iter().map(|c| 85 + c.data.len()).sum());
    for call in calls {
        out.push(Operation::Call as u8);
        out.extend_from_slice(call.to.as_slice());
        out.extend_from_slice(&call.value.to_be_bytes::<32>());
        out.extend_from_slice(&U256::from(call.data.len()).to_be_bytes::<32>());
        out.extend_from_slice(&call.data);
    }
    out.into()
}

/// Unpacks a `multiSend` batch (see [`encode_multisend`]); only calls (operation 0) are accepted,
/// as `MultiSendCallOnly` does.
pub fn decode_multisend(packed: &[u8]) -> Result<Vec<MetaTx>, SafeError> {
    let mut calls = Vec::new();
    let mut i = 0;
    while i < packed.len() {
        let head = packed
            .get(i..i + 85)
            .ok_or(SafeError::BadMultiSend { offset: i, reason: "a call is cut short" })?;
        if head[0] != 0 {
            return Err(SafeError::BadMultiSend { offset: i, reason: "operation is not a call" });
        }
        let to = Address::from_slice(&head[1..21]);
        let value = U256::from_be_slice(&head[21..53]);
        let len = U256::from_be_slice(&head[53..85]);
        let len = usize::try_from(len)
            .map_err(|_| SafeError::BadMultiSend { offset: i, reason: "data length too large" })?;
        let data = packed
            .get(i + 85..i + 85 + len)
            .ok_or(SafeError::BadMultiSend { offset: i, reason: "data is cut short" })?;
        calls.push(MetaTx { to, value, data: Bytes::copy_from_slice(data) });
        i += 85 + len;
    }
    Ok(calls)
}

/// The Safe transaction that runs `calls`: the call itself when there is one, else a
/// `DELEGATECALL` of `multiSend` on `multisend` (a `MultiSendCallOnly` deployment).
pub fn batch_safe_tx(
    calls: &[MetaTx],
    multisend: Address,
    nonce: U256,
) -> Result<SafeTx, SafeError> {
    match calls {
        [] => Err(SafeError::Empty),
        [one] => Ok(SafeTx::new(one.to, one.value, one.data.clone(), Operation::Call, nonce)),
        many => {
            let data = alloy::sol_types::SolCall::abi_encode(&IMultiSendCallOnly::multiSendCall {
                transactions: encode_multisend(many),
            });
            Ok(SafeTx::new(multisend, U256::ZERO, data.into(), Operation::DelegateCall, nonce))
        }
    }
}

/// One owner's signature in a [`SafeProposal`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerSignature {
    /// The owner.
    pub signer: Address,
    /// 65 bytes, `r ‖ s ‖ v` with `v` 27 or 28 (a signature of the EIP-712 hash itself).
    pub signature: Bytes,
}

impl OwnerSignature {
    /// Signs `hash` (the EIP-712 hash, not prefixed) with `signer`.
    pub fn sign(
        signer: &alloy::signers::local::PrivateKeySigner,
        hash: B256,
    ) -> Result<Self, SafeError> {
        use alloy::signers::SignerSync;
        let signature = signer.sign_hash_sync(&hash).map_err(|e| SafeError::BadSignature {
            signer: signer.address(),
            reason: e.to_string(),
        })?;
        Ok(Self { signer: signer.address(), signature: Bytes::from(signature.as_bytes().to_vec()) })
    }

    /// Checks that the signature is 65 bytes and recovers to [`Self::signer`] from `hash`.
    pub fn verify(&self, hash: B256) -> Result<(), SafeError> {
        if self.signature.len() != 65 {
            return Err(SafeError::BadSignatureLength {
                signer: self.signer,
                len: self.signature.len(),
            });
        }
        let bad = |reason: String| SafeError::BadSignature { signer: self.signer, reason };
        let signature = Signature::try_from(&self.signature[..]).map_err(|e| bad(e.to_string()))?;
        let recovered =
            signature.recover_address_from_prehash(&hash).map_err(|e| bad(e.to_string()))?;
        if recovered != self.signer {
            return Err(SafeError::WrongSigner { claimed: self.signer, recovered });
        }
        Ok(())
    }
}

/// The `signatures` bytes a Safe checks: each owner's 65 bytes, owners in ascending address
/// order (the order `checkNSignatures` requires), one signature per owner.
pub fn encode_signatures(signatures: &[OwnerSignature]) -> Bytes {
    let mut sorted: Vec<&OwnerSignature> = signatures.iter().collect();
    sorted.sort_by_key(|s| s.signer);
    sorted.dedup_by_key(|s| s.signer);
    sorted.iter().flat_map(|s| s.signature.iter().copied()).collect::<Vec<u8>>().into()
}

/// One call of a proposal as a person reviews it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProposedCall {
    /// What the command called it (`deposit 1000 USDRIF`).
    pub description: String,
    /// The call.
    #[serde(flatten)]
    pub call: MetaTx,
}

/// The fields of a [`SafeTx`] as JSON (numbers as decimal strings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SafeTxJson {
    /// Recipient (`MultiSendCallOnly` for a batch).
    pub to: Address,
    /// Native value in wei.
    pub value: U256,
    /// Calldata.
    pub data: Bytes,
    /// 0 call, 1 delegatecall.
    pub operation: Operation,
    /// Always 0 (the executor pays gas).
    pub safe_tx_gas: U256,
    /// Always 0.
    pub base_gas: U256,
    /// Always 0.
    pub gas_price: U256,
    /// Always the zero address.
    pub gas_token: Address,
    /// Always the zero address.
    pub refund_receiver: Address,
    /// The Safe's nonce it was proposed for.
    pub nonce: U256,
}

impl From<&SafeTx> for SafeTxJson {
    fn from(tx: &SafeTx) -> Self {
        Self {
            to: tx.to,
            value: tx.value,
            data: tx.data.clone(),
            operation: Operation::try_from(tx.operation).unwrap_or(Operation::Call),
            safe_tx_gas: tx.safeTxGas,
            base_gas: tx.baseGas,
            gas_price: tx.gasPrice,
            gas_token: tx.gasToken,
            refund_receiver: tx.refundReceiver,
            nonce: tx.nonce,
        }
    }
}

impl From<&SafeTxJson> for SafeTx {
    fn from(tx: &SafeTxJson) -> Self {
        Self {
            to: tx.to,
            value: tx.value,
            data: tx.data.clone(),
            operation: tx.operation as u8,
            safeTxGas: tx.safe_tx_gas,
            baseGas: tx.base_gas,
            gasPrice: tx.gas_price,
            gasToken: tx.gas_token,
            refundReceiver: tx.refund_receiver,
            nonce: tx.nonce,
        }
    }
}

/// What a [`SafeProposal`] asks the owners to sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Proposed {
    /// A Safe transaction, run by `execTransaction` once signed.
    #[serde(rename_all = "camelCase")]
    Transaction {
        /// The transaction.
        safe_tx: SafeTxJson,
        /// The calls it runs, for review.
        calls: Vec<ProposedCall>,
    },
    /// A digest the Safe signs (EIP-1271, e.g. an escrow approval): owners sign its
    /// [`safe_message_hash`].
    #[serde(rename_all = "camelCase")]
    Message {
        /// The digest (an escrow's EIP-712 hash).
        digest: B256,
        /// What it is, for review.
        description: String,
        /// Extra data the command that made it needs to finish (the typed message as JSON).
        #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
        payload: serde_json::Value,
    },
}

/// The file owners pass around: what the Safe is asked to do, its hash, and the signatures
/// collected so far (`shiftpay safe propose|sign|exec|status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SafeProposal {
    /// File format version (1).
    pub version: u32,
    /// Chain id.
    pub chain_id: u64,
    /// The Safe.
    pub safe: Address,
    /// What is proposed.
    #[serde(flatten)]
    pub proposed: Proposed,
    /// The hash owners sign ([`SafeTx::signing_hash`] or [`safe_message_hash`]).
    pub hash: B256,
    /// The signatures collected, in the order they were added.
    pub signatures: Vec<OwnerSignature>,
}

/// The current [`SafeProposal`] format.
pub const PROPOSAL_VERSION: u32 = 1;

impl SafeProposal {
    /// A proposal of `safe_tx` running `calls`, with no signatures yet.
    pub fn transaction(
        chain_id: u64,
        safe: Address,
        safe_tx: &SafeTx,
        calls: Vec<ProposedCall>,
    ) -> Self {
        Self {
            version: PROPOSAL_VERSION,
            chain_id,
            safe,
            hash: safe_tx.signing_hash(chain_id, safe),
            proposed: Proposed::Transaction { safe_tx: safe_tx.into(), calls },
            signatures: Vec::new(),
        }
    }

    /// A proposal that the Safe sign `digest` (EIP-1271), with no signatures yet.
    pub fn message(
        chain_id: u64,
        safe: Address,
        digest: B256,
        description: String,
        payload: serde_json::Value,
    ) -> Self {
        Self {
            version: PROPOSAL_VERSION,
            chain_id,
            safe,
            hash: safe_message_hash(chain_id, safe, digest),
            proposed: Proposed::Message { digest, description, payload },
            signatures: Vec::new(),
        }
    }

    /// The Safe transaction, for a transaction proposal.
    pub fn safe_tx(&self) -> Option<SafeTx> {
        match &self.proposed {
            Proposed::Transaction { safe_tx, .. } => Some(safe_tx.into()),
            Proposed::Message { .. } => None,
        }
    }

    /// The hash recomputed from the proposal's content.
    pub fn computed_hash(&self) -> B256 {
        match &self.proposed {
            Proposed::Transaction { safe_tx, .. } => {
                SafeTx::from(safe_tx).signing_hash(self.chain_id, self.safe)
            }
            Proposed::Message { digest, .. } => {
                safe_message_hash(self.chain_id, self.safe, *digest)
            }
        }
    }

    /// Checks that [`Self::hash`] is the hash of the content and that every signature is a
    /// 65-byte signature of it by the owner it is filed under.
    pub fn verify(&self) -> Result<(), SafeError> {
        let computed = self.computed_hash();
        if computed != self.hash {
            return Err(SafeError::HashMismatch { stored: self.hash, computed });
        }
        self.signatures.iter().try_for_each(|s| s.verify(self.hash))
    }

    /// Adds (or replaces) `signature`'s owner's signature.
    pub fn add_signature(&mut self, signature: OwnerSignature) {
        self.signatures.retain(|s| s.signer != signature.signer);
        self.signatures.push(signature);
    }

    /// The `signatures` bytes of the collected signatures ([`encode_signatures`]).
    pub fn encoded_signatures(&self) -> Bytes {
        encode_signatures(&self.signatures)
    }

    /// Reads a proposal from JSON.
    pub fn from_json(text: &str) -> Result<Self, SafeError> {
        Ok(serde_json::from_str(text)?)
    }

    /// The proposal as pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a proposal serializes");
        text.push('\n');
        text
    }
}

/// The Transaction Builder version written in [`TxBuilderMeta::tx_builder_version`].
pub const TX_BUILDER_VERSION: &str = "1.18.2";

/// A batch file of the Safe{Wallet} Transaction Builder app (format version `1.0`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TxBuilderBatch {
    /// `1.0`.
    pub version: String,
    /// The chain id as a decimal string.
    pub chain_id: String,
    /// Creation time, unix milliseconds.
    pub created_at: u64,
    /// Name, description and checksum.
    pub meta: TxBuilderMeta,
    /// The calls, in order.
    pub transactions: Vec<TxBuilderTx>,
}

/// The `meta` object of a [`TxBuilderBatch`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TxBuilderMeta {
    /// Batch name.
    pub name: String,
    /// What the batch does.
    pub description: String,
    /// The app version the format follows.
    pub tx_builder_version: String,
    /// The Safe that runs it.
    pub created_from_safe_address: Address,
    /// Owner the batch was made by (empty: made by the CLI).
    pub created_from_owner_address: String,
    /// The app's checksum (see [`TxBuilderBatch::checksum`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// One call of a [`TxBuilderBatch`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TxBuilderTx {
    /// Recipient.
    pub to: Address,
    /// Native value in wei, decimal.
    pub value: String,
    /// Calldata.
    pub data: Option<Bytes>,
    /// The function called, when its ABI is known.
    pub contract_method: Option<TxBuilderMethod>,
    /// The arguments by name, as the app's form takes them (numbers in decimal, arrays and
    /// tuples as JSON).
    pub contract_inputs_values: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `contractMethod` of a [`TxBuilderTx`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TxBuilderMethod {
    /// Inputs as in a JSON ABI (`internalType`, `name`, `type`, `components`).
    pub inputs: Vec<serde_json::Value>,
    /// Function name.
    pub name: String,
    /// Whether it takes value.
    pub payable: bool,
}

impl TxBuilderTx {
    /// The call, with its method and arguments when the selector is one of ShiftPay's contracts
    /// or an ERC-20 function.
    pub fn new(call: &MetaTx) -> Self {
        let decoded = crate::calldata::decode_values(&call.data);
        let (contract_method, contract_inputs_values) = match decoded {
            Some((function, values)) => {
                let inputs = function
                    .inputs
                    .iter()
                    .map(|p| serde_json::to_value(p).unwrap_or_default())
                    .collect();
                let named = function
                    .inputs
                    .iter()
                    .zip(&values)
                    .enumerate()
                    .map(|(i, (param, value))| {
                        let name = if param.name.is_empty() {
                            format!("arg{i}")
                        } else {
                            param.name.clone()
                        };
                        (name, serde_json::Value::String(builder_value(value)))
                    })
                    .collect();
                let method = TxBuilderMethod {
                    inputs,
                    name: function.name.clone(),
                    payable: function.state_mutability == alloy::json_abi::StateMutability::Payable,
                };
                (Some(method), Some(named))
            }
            None => (None, None),
        };
        Self {
            to: call.to,
            value: call.value.to_string(),
            data: Some(call.data.clone()),
            contract_method,
            contract_inputs_values,
        }
    }

    /// The call this entry makes (`data`, which the CLI always writes).
    pub fn meta_tx(&self) -> Option<MetaTx> {
        Some(MetaTx { to: self.to, value: self.value.parse().ok()?, data: self.data.clone()? })
    }
}

/// A value as the Transaction Builder's form takes it: decimal integers, `0x` hex, `true`,
/// strings as they are, arrays and tuples as JSON arrays of those.
fn builder_value(value: &DynSolValue) -> String {
    fn json(value: &DynSolValue) -> serde_json::Value {
        match value {
            DynSolValue::Array(items)
            | DynSolValue::FixedArray(items)
            | DynSolValue::Tuple(items) => items.iter().map(json).collect(),
            other => serde_json::Value::String(builder_value(other)),
        }
    }
    match value {
        DynSolValue::String(s) => s.clone(),
        DynSolValue::Array(_) | DynSolValue::FixedArray(_) | DynSolValue::Tuple(_) => {
            json(value).to_string()
        }
        scalar => crate::revert::format_value(scalar),
    }
}

impl TxBuilderBatch {
    /// A batch of `calls` for `safe` on `chain_id`, created at `created_at_ms`, with its checksum.
    pub fn new(
        chain_id: u64,
        safe: Address,
        name: String,
        description: String,
        created_at_ms: u64,
        calls: &[MetaTx],
    ) -> Self {
        let mut batch = Self {
            version: "1.0".to_owned(),
            chain_id: chain_id.to_string(),
            created_at: created_at_ms,
            meta: TxBuilderMeta {
                name,
                description,
                tx_builder_version: TX_BUILDER_VERSION.to_owned(),
                created_from_safe_address: safe,
                created_from_owner_address: String::new(),
                checksum: None,
            },
            transactions: calls.iter().map(TxBuilderTx::new).collect(),
        };
        batch.meta.checksum = Some(batch.checksum());
        batch
    }

    /// The Transaction Builder's checksum: keccak256 of the app's key-sorted serialization of
    /// the batch with `meta.name` set to `null` and no `meta.checksum`.
    pub fn checksum(&self) -> String {
        let mut value = serde_json::to_value(self).expect("a batch serializes");
        if let Some(meta) = value.get_mut("meta").and_then(|m| m.as_object_mut()) {
            meta.remove("checksum");
            meta.insert("name".to_owned(), serde_json::Value::Null);
        }
        hex::encode_prefixed(keccak256(serialize_sorted(&value).as_bytes()))
    }

    /// The calls (from each entry's `data`), in order.
    pub fn meta_txs(&self) -> Vec<MetaTx> {
        self.transactions.iter().filter_map(TxBuilderTx::meta_tx).collect()
    }
}

/// The Transaction Builder's `serializeJSONObject`: objects as `{["k1","k2"]v1,v2,}` with sorted
/// keys, arrays as `[a,b]`, everything else as `JSON.stringify`.
fn serialize_sorted(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Array(items) => {
            format!("[{}]", items.iter().map(serialize_sorted).collect::<Vec<_>>().join(","))
        }
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = format!("{{{}", serde_json::to_string(&keys).expect("strings serialize"));
            for key in keys {
                out.push_str(&serialize_sorted(&map[key]));
                out.push(',');
            }
            out.push('}');
            out
        }
        other => other.to_string(),
    }
}

/// A Governor proposal of calls: what `Governor.propose(targets, values, calldatas,
/// description)` takes, its description hash (for `queue`/`execute`) and the `cast` command that
/// proposes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GovernorProposal {
    /// Chain id.
    pub chain_id: u64,
    /// The account that will run the calls (the Timelock, or the Governor without one).
    pub executor: Address,
    /// Call targets.
    pub targets: Vec<Address>,
    /// Values in wei, decimal strings.
    pub values: Vec<String>,
    /// Calldatas.
    pub calldatas: Vec<Bytes>,
    /// The description (its hash identifies the proposal).
    pub description: String,
    /// `keccak256(description)`, as `queue` and `execute` take it.
    pub description_hash: B256,
    /// One line per call, for review.
    pub summary: Vec<String>,
    /// `cast send <GOVERNOR> "propose(...)" ...` (replace `<GOVERNOR>`).
    pub cast_command: String,
}

impl GovernorProposal {
    /// The proposal of `calls` (with `summary` lines), run by `executor`.
    pub fn new(
        chain_id: u64,
        executor: Address,
        calls: &[MetaTx],
        summary: Vec<String>,
        description: String,
    ) -> Self {
        let targets: Vec<Address> = calls.iter().map(|c| c.to).collect();
        let values: Vec<String> = calls.iter().map(|c| c.value.to_string()).collect();
        let calldatas: Vec<Bytes> = calls.iter().map(|c| c.data.clone()).collect();
        let list = |items: Vec<String>| format!("[{}]", items.join(","));
        let cast_command = format!(
            "cast send <GOVERNOR> 'propose(address[],uint256[],bytes[],string)' '{}' '{}' '{}' {}",
            list(targets.iter().map(|a| a.to_checksum(None)).collect()),
            list(values.clone()),
            list(calldatas.iter().map(|d| d.to_string()).collect()),
            shell_quote(&description),
        );
        Self {
            chain_id,
            executor,
            description_hash: keccak256(description.as_bytes()),
            targets,
            values,
            calldatas,
            description,
            summary,
            cast_command,
        }
    }

    /// The calls, in order.
    pub fn meta_txs(&self) -> Vec<MetaTx> {
        self.targets
            .iter()
            .zip(&self.values)
            .zip(&self.calldatas)
            .map(|((to, value), data)| MetaTx {
                to: *to,
                value: value.parse().unwrap_or_default(),
                data: data.clone(),
            })
            .collect()
    }
}

/// `text` in single quotes for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Call => "call",
            Self::DelegateCall => "delegatecall",
        })
    }
}

#[cfg(test)]
mod tests {
    use alloy::{signers::local::PrivateKeySigner, sol_types::SolCall};

    use super::*;
    use crate::tokens::IERC20;

    #[test]
    fn type_strings_match_the_safe_contracts() {
        assert_eq!(SafeTx::eip712_encode_type(), SafeTx::TYPE_STRING);
        // Safe 1.5.0's SAFE_TX_TYPEHASH and SAFE_MSG_TYPEHASH.
        assert_eq!(
            SafeTx::eip712_type_hash(&SafeTx::new(
                Address::ZERO,
                U256::ZERO,
                Bytes::new(),
                Operation::Call,
                U256::ZERO
            )),
            "0xbb8310d486368db6bd6f849402fdd73ad53d316b5a4b2644ad6efe0f941286d8"
                .parse::<B256>()
                .unwrap()
        );
        assert_eq!(
            keccak256("SafeMessage(bytes message)"),
            "0x60b3cbf8b4a223d68d641b3b6ddf9a298e7f33710cf3d3a9d1146b5a6150fbca"
                .parse::<B256>()
                .unwrap()
        );
        // Domain: only chainId and verifyingContract.
        let domain = safe_domain(31, Address::repeat_byte(1));
        assert_eq!(domain.encode_type(), "EIP712Domain(uint256 chainId,address verifyingContract)");
    }

    #[test]
    fn multisend_round_trips_and_is_packed() {
        let calls = vec![
            MetaTx { to: Address::repeat_byte(0xaa), value: U256::from(5), data: Bytes::new() },
            MetaTx {
                to: Address::repeat_byte(0xbb),
                value: U256::ZERO,
                data: Bytes::from(vec![1, 2, 3]),
            },
        ];
        let packed = encode_multisend(&calls);
        assert_eq!(packed.len(), 85 + 85 + 3);
        assert_eq!(packed[0], 0);
        assert_eq!(&packed[1..21], Address::repeat_byte(0xaa).as_slice());
        assert_eq!(packed[52], 5);
        assert_eq!(packed[85 + 84], 3);
        assert_eq!(decode_multisend(&packed).unwrap(), calls);
        assert!(decode_multisend(&packed[..100]).is_err());
        let mut delegate = packed.to_vec();
        delegate[0] = 1;
        assert!(decode_multisend(&delegate).is_err());
    }

    #[test]
    fn batches_delegatecall_multisend_and_single_calls_go_direct() {
        let one = [MetaTx { to: Address::repeat_byte(1), value: U256::ZERO, data: Bytes::new() }];
        let ms = Address::repeat_byte(9);
        let tx = batch_safe_tx(&one, ms, U256::from(3)).unwrap();
        assert_eq!((tx.to, tx.operation, tx.nonce), (one[0].to, 0, U256::from(3)));
        let two = [one[0].clone(), one[0].clone()];
        let tx = batch_safe_tx(&two, ms, U256::ZERO).unwrap();
        assert_eq!((tx.to, tx.operation), (ms, 1));
        let inner = IMultiSendCallOnly::multiSendCall::abi_decode(&tx.data).unwrap();
        assert_eq!(decode_multisend(&inner.transactions).unwrap(), two);
        assert!(matches!(batch_safe_tx(&[], ms, U256::ZERO), Err(SafeError::Empty)));
    }

    #[test]
    fn signatures_are_sorted_by_owner_and_verified() {
        let hash = keccak256("tx");
        let mut keys: Vec<PrivateKeySigner> = (0..3).map(|_| PrivateKeySigner::random()).collect();
        let sigs: Vec<OwnerSignature> =
            keys.iter().map(|k| OwnerSignature::sign(k, hash).unwrap()).collect();
        for sig in &sigs {
            sig.verify(hash).unwrap();
            assert!(matches!(sig.signature[64], 27 | 28));
        }
        let encoded = encode_signatures(&sigs);
        assert_eq!(encoded.len(), 195);
        keys.sort_by_key(|k| k.address());
        for (i, key) in keys.iter().enumerate() {
            let part = &encoded[65 * i..65 * (i + 1)];
            let sig = Signature::try_from(part).unwrap();
            assert_eq!(sig.recover_address_from_prehash(&hash).unwrap(), key.address());
        }
        let forged = OwnerSignature { signer: Address::repeat_byte(7), ..sigs[0].clone() };
        assert!(matches!(forged.verify(hash), Err(SafeError::WrongSigner { .. })));
    }

    #[test]
    fn proposals_detect_changes_and_round_trip() {
        let safe = Address::repeat_byte(0x5a);
        let call = MetaTx { to: Address::repeat_byte(1), value: U256::ZERO, data: Bytes::new() };
        let tx = batch_safe_tx(std::slice::from_ref(&call), Address::ZERO, U256::from(4)).unwrap();
        let mut proposal = SafeProposal::transaction(
            31337,
            safe,
            &tx,
            vec![ProposedCall { description: "x".into(), call }],
        );
        let key = PrivateKeySigner::random();
        proposal.add_signature(OwnerSignature::sign(&key, proposal.hash).unwrap());
        proposal.add_signature(OwnerSignature::sign(&key, proposal.hash).unwrap());
        assert_eq!(proposal.signatures.len(), 1);
        let back = SafeProposal::from_json(&proposal.to_json()).unwrap();
        assert_eq!(back, proposal);
        back.verify().unwrap();
        let mut changed = back.clone();
        if let Proposed::Transaction { safe_tx, .. } = &mut changed.proposed {
            safe_tx.value = U256::from(1);
        }
        assert!(matches!(changed.verify(), Err(SafeError::HashMismatch { .. })));
        let message =
            SafeProposal::message(31, safe, keccak256("d"), "d".into(), serde_json::Value::Null);
        assert_eq!(message.hash, safe_message_hash(31, safe, keccak256("d")));
        message.verify().unwrap();
    }

    #[test]
    fn tx_builder_batches_decode_erc20_calls_and_checksum() {
        let data = IERC20::approveCall { spender: Address::repeat_byte(2), value: U256::from(7) }
            .abi_encode();
        let call =
            MetaTx { to: Address::repeat_byte(3), value: U256::ZERO, data: Bytes::from(data) };
        let batch = TxBuilderBatch::new(
            31,
            Address::repeat_byte(4),
            "n".into(),
            "d".into(),
            1_700_000_000_000,
            std::slice::from_ref(&call),
        );
        let json = serde_json::to_value(&batch).unwrap();
        assert_eq!(json["version"], "1.0");
        assert_eq!(json["chainId"], "31");
        let tx = &json["transactions"][0];
        assert_eq!(tx["contractMethod"]["name"], "approve");
        assert_eq!(tx["contractInputsValues"]["value"], "7");
        assert_eq!(tx["value"], "0");
        assert_eq!(batch.meta_txs(), vec![call]);
        // The checksum ignores the name and is stable.
        let mut renamed = batch.clone();
        renamed.meta.name = "other".into();
        assert_eq!(renamed.checksum(), batch.checksum());
        assert_eq!(batch.meta.checksum.as_deref(), Some(batch.checksum().as_str()));
        assert_eq!(
            serialize_sorted(&serde_json::json!({"b": [1, "x"], "a": null})),
            r#"{["a","b"]null,[1,"x"],}"#
        );
    }

    #[test]
    fn governor_exports_list_the_calls_and_a_cast_command() {
        let call = MetaTx {
            to: Address::repeat_byte(3),
            value: U256::from(2),
            data: Bytes::from(vec![0xab]),
        };
        let proposal = GovernorProposal::new(
            31,
            Address::repeat_byte(8),
            std::slice::from_ref(&call),
            vec!["x".into()],
            "Payroll: it's May".into(),
        );
        assert_eq!(proposal.values, vec!["2"]);
        assert_eq!(proposal.description_hash, keccak256("Payroll: it's May"));
        assert!(proposal.cast_command.contains("'[0xab]'"), "{}", proposal.cast_command);
        assert!(proposal.cast_command.ends_with(r"'Payroll: it'\''s May'"));
        assert_eq!(proposal.meta_txs(), vec![call]);
    }
}
