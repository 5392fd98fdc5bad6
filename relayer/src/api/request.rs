//! Signed requests: the JSON `POST /v1/requests` takes, its parsing (every error names the
//! field), the typed data each signature signs (the bindings' structs: the one definition), and
//! the contract call that executes it. The sender parses the stored payload with the same code
//! before it re-checks and sends a request.
//!
//! ```json
//! {"kind": "withdraw", "chainId": 31, "contract": "0x…Payroll",
//!  "streamId": "7", "to": "0x…", "amount": "1500000000000000000", "nonce": "0",
//!  "deadline": "1767225600", "signature": "0x…"}
//! {"kind": "approve", "chainId": 31, "contract": "0x…MilestoneEscrow",
//!  "jobId": "3", "milestoneIndex": "0", "nonce": "2", "deadline": "1767225600", "signature": "0x…"}
//! {"kind": "settle", "chainId": 31, "contract": "0x…MilestoneEscrow",
//!  "jobId": "3", "milestoneIndex": "1", "workerBps": "6000", "deadline": "1767225600",
//!  "clientNonce": "2", "clientSignature": "0x…", "workerNonce": "0", "workerSignature": "0x…"}
//! ```
//! uint256 fields are decimal strings (JSON integers are accepted too); `chainId` is a number
//! or a decimal string; signatures are hex: 65-byte `r || s || v`, 64-byte EIP-2098, or any
//! payload a contract signer (EIP-1271) accepts. Unknown fields are refused.

use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::DynProvider,
    rpc::types::TransactionRequest,
    sol_types::SolCall,
};
use serde_json::{Map, Value};
use shiftpay_bindings::{
    chains::parse_address,
    escrow::{Approval, MilestoneEscrow, Settlement},
    payroll::{Payroll, WithdrawRequest},
    tx::TxError,
};

use crate::{sender::chain::view, store::RequestKind};

/// Which party of a stream or job signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The stream's or job's worker.
    Worker,
    /// The job's client.
    Client,
}

impl Role {
    /// `worker` / `client`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Worker => "worker",
            Self::Client => "client",
        }
    }
}

/// One signature of a request: who must have signed what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPart {
    /// The party that must have signed.
    pub role: Role,
    /// The EIP-712 digest.
    pub digest: B256,
    /// The nonce the typed data carries (must equal `nonces(party)` on-chain).
    pub nonce: U256,
    /// The signature as given.
    pub signature: Bytes,
    /// The JSON field of the signature (for error messages).
    pub field: &'static str,
    /// The JSON field of the nonce.
    pub nonce_field: &'static str,
}

/// What a request asks the contract to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `Payroll.withdrawWithSignature(request, signature)`.
    Withdraw {
        /// The typed data.
        request: WithdrawRequest,
        /// The worker's signature.
        signature: Bytes,
    },
    /// `MilestoneEscrow.approveMilestoneWithSignature(jobId, milestoneIndex, deadline, signature)`.
    Approve {
        /// The typed data.
        approval: Approval,
        /// The client's signature.
        signature: Bytes,
    },
    /// `MilestoneEscrow.settle(jobId, milestoneIndex, workerBps, deadline, clientSig, workerSig)`:
    /// both parties signed, each with its own nonce.
    Settle {
        /// The client's typed data (`nonce` = the client's).
        client: Settlement,
        /// The client's signature.
        client_signature: Bytes,
        /// The worker's typed data (`nonce` = the worker's).
        worker: Settlement,
        /// The worker's signature.
        worker_signature: Bytes,
    },
}

/// A parsed request (shape only: nothing checked against the chain yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// The chain id the signer meant.
    pub chain_id: u64,
    /// The contract the signer meant (the EIP-712 verifying contract).
    pub contract: Address,
    /// What it does.
    pub action: Action,
}

/// A field-level problem with a request body: `code` for machines, `message` naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FieldError {
    /// `missing_field`, `invalid_field`, `unknown_field`, `unknown_kind` or `invalid_json`.
    pub code: &'static str,
    /// One sentence naming the field.
    pub message: String,
}

impl FieldError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// The fields each kind takes, in the order error messages list them.
const WITHDRAW_FIELDS: &[&str] =
    &["kind", "chainId", "contract", "streamId", "to", "amount", "nonce", "deadline", "signature"];
const APPROVE_FIELDS: &[&str] =
    &["kind", "chainId", "contract", "jobId", "milestoneIndex", "nonce", "deadline", "signature"];
const SETTLE_FIELDS: &[&str] = &[
    "kind",
    "chainId",
    "contract",
    "jobId",
    "milestoneIndex",
    "workerBps",
    "deadline",
    "clientNonce",
    "clientSignature",
    "workerNonce",
    "workerSignature",
];

/// Reads typed fields out of a JSON object, naming the field in every error.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    kind: RequestKind,
}

impl Fields<'_> {
    fn get(&self, name: &str) -> Result<&Value, FieldError> {
        match self.map.get(name) {
            Some(Value::Null) | None => Err(FieldError::new(
                "missing_field",
                format!(
                    "missing field `{name}`: a {} request has the fields {}",
                    self.kind,
                    expected_fields(self.kind).join(", ")
                ),
            )),
            Some(value) => Ok(value),
        }
    }

    fn invalid(name: &str, expected: &str, got: &Value) -> FieldError {
        let mut shown = got.to_string();
        if shown.len() > 80 {
            shown.truncate(77);
            shown.push_str("...");
        }
        FieldError::new(
            "invalid_field",
            format!("field `{name}`: expected {expected}, got {shown}"),
        )
    }

    fn uint(&self, name: &str) -> Result<U256, FieldError> {
        let value = self.get(name)?;
        let expected = "a decimal string (uint256)";
        match value {
            Value::String(s) => {
                parse_decimal(s).ok_or_else(|| Self::invalid(name, expected, value))
            }
            Value::Number(n) => {
                n.as_u64().map(U256::from).ok_or_else(|| Self::invalid(name, expected, value))
            }
            _ => Err(Self::invalid(name, expected, value)),
        }
    }

    fn u64(&self, name: &str) -> Result<u64, FieldError> {
        let value = self.get(name)?;
        let expected = "an integer";
        match value {
            Value::String(s) => parse_decimal(s)
                .and_then(|v| u64::try_from(v).ok())
                .ok_or_else(|| Self::invalid(name, expected, value)),
            Value::Number(n) => n.as_u64().ok_or_else(|| Self::invalid(name, expected, value)),
            _ => Err(Self::invalid(name, expected, value)),
        }
    }

    fn address(&self, name: &str) -> Result<Address, FieldError> {
        let value = self.get(name)?;
        let Value::String(s) = value else {
            return Err(Self::invalid(name, "an address (0x + 40 hex digits)", value));
        };
        parse_address(s)
            .map_err(|err| FieldError::new("invalid_field", format!("field `{name}`: {err}")))
    }

    fn signature(&self, name: &str) -> Result<Bytes, FieldError> {
        let value = self.get(name)?;
        let expected = "a hex signature (0x + 130 hex digits)";
        let Value::String(s) = value else { return Err(Self::invalid(name, expected, value)) };
        let bytes: Bytes = s
            .strip_prefix("0x")
            .and_then(|hex| alloy::hex::decode(hex).ok())
            .map(Into::into)
            .ok_or_else(|| Self::invalid(name, expected, value))?;
        if bytes.is_empty() {
            return Err(Self::invalid(name, expected, value));
        }
        Ok(bytes)
    }
}

/// A decimal uint256 without sign, spaces or exponent.
fn parse_decimal(s: &str) -> Option<U256> {
    if s.is_empty() || s.len() > 78 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    U256::from_str_radix(s, 10).ok()
}

fn expected_fields(kind: RequestKind) -> &'static [&'static str] {
    match kind {
        RequestKind::Withdraw => WITHDRAW_FIELDS,
        RequestKind::Approve => APPROVE_FIELDS,
        RequestKind::Settle => SETTLE_FIELDS,
    }
}

impl SignedRequest {
    /// Parses a request body already read as JSON.
    pub fn from_json(value: &Value) -> Result<Self, FieldError> {
        let Value::Object(map) = value else {
            return Err(FieldError::new("invalid_json", "the body must be a JSON object"));
        };
        let kind = match map.get("kind") {
            None | Some(Value::Null) => {
                return Err(FieldError::new(
                    "missing_field",
                    "missing field `kind`: \"withdraw\", \"approve\" or \"settle\"",
                ));
            }
            Some(Value::String(s)) => s.parse::<RequestKind>().map_err(|_| {
                FieldError::new(
                    "unknown_kind",
                    format!(
                        "field `kind`: expected \"withdraw\", \"approve\" or \"settle\", got {s:?}"
                    ),
                )
            })?,
            Some(other) => {
                return Err(Fields::invalid(
                    "kind",
                    "\"withdraw\", \"approve\" or \"settle\"",
                    other,
                ));
            }
        };
        let allowed = expected_fields(kind);
        if let Some(unknown) = map.keys().find(|key| !allowed.contains(&key.as_str())) {
            return Err(FieldError::new(
                "unknown_field",
                format!(
                    "unknown field `{unknown}`: a {kind} request has the fields {}",
                    allowed.join(", ")
                ),
            ));
        }
        let fields = Fields { map, kind };
        let chain_id = fields.u64("chainId")?;
        let contract = fields.address("contract")?;
        let action = match kind {
            RequestKind::Withdraw => Action::Withdraw {
                request: WithdrawRequest {
                    streamId: fields.uint("streamId")?,
                    to: fields.address("to")?,
                    amount: fields.uint("amount")?,
                    nonce: fields.uint("nonce")?,
                    deadline: fields.uint("deadline")?,
                },
                signature: fields.signature("signature")?,
            },
            RequestKind::Approve => Action::Approve {
                approval: Approval {
                    jobId: fields.uint("jobId")?,
                    milestoneIndex: fields.uint("milestoneIndex")?,
                    nonce: fields.uint("nonce")?,
                    deadline: fields.uint("deadline")?,
                },
                signature: fields.signature("signature")?,
            },
            RequestKind::Settle => {
                let settlement = |nonce| -> Result<Settlement, FieldError> {
                    Ok(Settlement {
                        jobId: fields.uint("jobId")?,
                        milestoneIndex: fields.uint("milestoneIndex")?,
                        workerBps: fields.uint("workerBps")?,
                        nonce,
                        deadline: fields.uint("deadline")?,
                    })
                };
                Action::Settle {
                    client: settlement(fields.uint("clientNonce")?)?,
                    client_signature: fields.signature("clientSignature")?,
                    worker: settlement(fields.uint("workerNonce")?)?,
                    worker_signature: fields.signature("workerSignature")?,
                }
            }
        };
        Ok(Self { chain_id, contract, action })
    }

    /// Parses a request body (bytes).
    pub fn from_slice(body: &[u8]) -> Result<(Self, Value), FieldError> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|err| FieldError::new("invalid_json", format!("malformed JSON: {err}")))?;
        Ok((Self::from_json(&value)?, value))
    }

    /// The request kind.
    pub fn kind(&self) -> RequestKind {
        match self.action {
            Action::Withdraw { .. } => RequestKind::Withdraw,
            Action::Approve { .. } => RequestKind::Approve,
            Action::Settle { .. } => RequestKind::Settle,
        }
    }

    /// The signed `deadline` (last valid second).
    pub fn deadline(&self) -> U256 {
        match &self.action {
            Action::Withdraw { request, .. } => request.deadline,
            Action::Approve { approval, .. } => approval.deadline,
            Action::Settle { client, .. } => client.deadline,
        }
    }

    /// The contract name the request is for (`Payroll` or `MilestoneEscrow`).
    pub fn contract_name(&self) -> &'static str {
        match self.action {
            Action::Withdraw { .. } => "Payroll",
            Action::Approve { .. } | Action::Settle { .. } => "MilestoneEscrow",
        }
    }

    /// The signatures to check, with the digests they sign on `self.chain_id` and
    /// `self.contract` (bindings typed data).
    pub fn parts(&self) -> Vec<SignedPart> {
        let (chain, contract) = (self.chain_id, self.contract);
        match &self.action {
            Action::Withdraw { request, signature } => vec![SignedPart {
                role: Role::Worker,
                digest: request.signing_hash(chain, contract),
                nonce: request.nonce,
                signature: signature.clone(),
                field: "signature",
                nonce_field: "nonce",
            }],
            Action::Approve { approval, signature } => vec![SignedPart {
                role: Role::Client,
                digest: approval.signing_hash(chain, contract),
                nonce: approval.nonce,
                signature: signature.clone(),
                field: "signature",
                nonce_field: "nonce",
            }],
            Action::Settle { client, client_signature, worker, worker_signature } => vec![
                SignedPart {
                    role: Role::Client,
                    digest: client.signing_hash(chain, contract),
                    nonce: client.nonce,
                    signature: client_signature.clone(),
                    field: "clientSignature",
                    nonce_field: "clientNonce",
                },
                SignedPart {
                    role: Role::Worker,
                    digest: worker.signing_hash(chain, contract),
                    nonce: worker.nonce,
                    signature: worker_signature.clone(),
                    field: "workerSignature",
                    nonce_field: "workerNonce",
                },
            ],
        }
    }

    /// The request's identity in the store: its EIP-712 digest (both digests hashed together for
    /// a settlement). The same signed request posted twice is one request.
    pub fn store_digest(&self) -> B256 {
        let parts = self.parts();
        match parts.as_slice() {
            [one] => one.digest,
            many => keccak256(many.iter().flat_map(|p| p.digest.0).collect::<Vec<u8>>()),
        }
    }

    /// The calldata that executes it.
    pub fn calldata(&self) -> Bytes {
        match &self.action {
            Action::Withdraw { request, signature } => Payroll::withdrawWithSignatureCall {
                request: request.clone().into(),
                signature: signature.clone(),
            }
            .abi_encode()
            .into(),
            Action::Approve { approval, signature } => {
                MilestoneEscrow::approveMilestoneWithSignatureCall {
                    jobId: approval.jobId,
                    milestoneIndex: approval.milestoneIndex,
                    deadline: approval.deadline,
                    signature: signature.clone(),
                }
                .abi_encode()
                .into()
            }
            Action::Settle { client, client_signature, worker_signature, .. } => {
                MilestoneEscrow::settleCall {
                    jobId: client.jobId,
                    milestoneIndex: client.milestoneIndex,
                    workerBps: client.workerBps,
                    deadline: client.deadline,
                    clientSignature: client_signature.clone(),
                    workerSignature: worker_signature.clone(),
                }
                .abi_encode()
                .into()
            }
        }
    }

    /// The transaction that executes it (to the request's contract; the sender fills the rest).
    pub fn call(&self) -> TransactionRequest {
        TransactionRequest::default().to(self.contract).input(self.calldata().into())
    }

    /// One line for logs: what the request does.
    pub fn describe(&self) -> String {
        match &self.action {
            Action::Withdraw { request, .. } => format!(
                "withdraw {} from stream {} to {}",
                request.amount, request.streamId, request.to
            ),
            Action::Approve { approval, .. } => {
                format!("approve milestone {} of job {}", approval.milestoneIndex, approval.jobId)
            }
            Action::Settle { client, .. } => format!(
                "settle milestone {} of job {} ({} bps to the worker)",
                client.milestoneIndex, client.jobId, client.workerBps
            ),
        }
    }
}

/// The on-chain parties whose signatures a request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parties {
    /// The stream's or job's worker.
    pub worker: Address,
    /// The job's client (escrow requests).
    pub client: Option<Address>,
    /// What they are parties of, for messages: `stream 7`, `job 3`.
    pub subject: String,
}

impl Parties {
    /// The address that must have signed as `role`.
    pub fn of(&self, role: Role) -> Address {
        match role {
            Role::Worker => self.worker,
            Role::Client => self.client.unwrap_or_default(),
        }
    }
}

/// Why the parties of a request could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PartyError {
    /// The stream or job does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The node failed.
    #[error(transparent)]
    Node(#[from] TxError),
}

/// Reads the parties of the stream (withdraw) or job (approve, settle) a request is about, from
/// the request's contract.
pub async fn parties(
    provider: &DynProvider,
    request: &SignedRequest,
) -> Result<Parties, PartyError> {
    match &request.action {
        Action::Withdraw { request: typed, .. } => {
            let subject = format!("stream {}", typed.streamId);
            let missing = || {
                PartyError::NotFound(format!("{subject} does not exist on the Payroll contract"))
            };
            match view(
                provider,
                request.contract,
                &Payroll::getStreamCall { streamId: typed.streamId },
            )
            .await
            {
                Ok(stream) if stream.worker != Address::ZERO => {
                    Ok(Parties { worker: stream.worker, client: None, subject })
                }
                Ok(_) | Err(TxError::Reverted(_)) => Err(missing()),
                Err(err) => Err(err.into()),
            }
        }
        Action::Approve { approval: Approval { jobId: job, .. }, .. }
        | Action::Settle { client: Settlement { jobId: job, .. }, .. } => {
            let subject = format!("job {job}");
            let missing = || {
                PartyError::NotFound(format!(
                    "{subject} does not exist on the MilestoneEscrow contract"
                ))
            };
            match view(provider, request.contract, &MilestoneEscrow::getJobCall { jobId: *job })
                .await
            {
                Ok(found) if found.client != Address::ZERO => {
                    Ok(Parties { worker: found.worker, client: Some(found.client), subject })
                }
                Ok(_) | Err(TxError::Reverted(_)) => Err(missing()),
                Err(err) => Err(err.into()),
            }
        }
    }
}

/// The next EIP-712 nonce of `party` on the request's contract (`nonces(party)`).
pub async fn onchain_nonce(
    provider: &DynProvider,
    request: &SignedRequest,
    party: Address,
) -> Result<U256, TxError> {
    match request.action {
        Action::Withdraw { .. } => {
            view(provider, request.contract, &Payroll::noncesCall { worker: party }).await
        }
        Action::Approve { .. } | Action::Settle { .. } => {
            view(provider, request.contract, &MilestoneEscrow::noncesCall { signer: party }).await
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn withdraw() -> Value {
        json!({
            "kind": "withdraw", "chainId": 33,
            "contract": "0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1",
            "streamId": "7", "to": "0x00000000000000000000000000000000000000b0",
            "amount": "1500000000000000000", "nonce": "0", "deadline": 1_767_225_600u64,
            "signature": format!("0x{}", "11".repeat(65)),
        })
    }

    #[test]
    fn parses_a_withdrawal() {
        let request = SignedRequest::from_json(&withdraw()).unwrap();
        assert_eq!(request.chain_id, 33);
        assert_eq!(request.kind(), RequestKind::Withdraw);
        let Action::Withdraw { request: typed, signature } = &request.action else { panic!() };
        assert_eq!(typed.streamId, U256::from(7));
        assert_eq!(typed.amount, U256::from(1_500_000_000_000_000_000u64));
        assert_eq!(signature.len(), 65);
        assert_eq!(request.deadline(), U256::from(1_767_225_600u64));
        assert_eq!(request.parts().len(), 1);
        assert_eq!(request.store_digest(), typed.signing_hash(33, request.contract));
        let decoded = Payroll::withdrawWithSignatureCall::abi_decode(&request.calldata()).unwrap();
        assert_eq!(WithdrawRequest::from(decoded.request), *typed);
    }

    #[test]
    fn errors_name_the_field() {
        let cases: Vec<(Value, &str, &str)> = vec![
            (json!([1]), "invalid_json", "JSON object"),
            (json!({"chainId": 1}), "missing_field", "`kind`"),
            (json!({"kind": "steal"}), "unknown_kind", "\"steal\""),
            (
                {
                    let mut v = withdraw();
                    v["streamID"] = json!("1");
                    v
                },
                "unknown_field",
                "`streamID`",
            ),
            (
                {
                    let mut v = withdraw();
                    v.as_object_mut().unwrap().remove("deadline");
                    v
                },
                "missing_field",
                "`deadline`",
            ),
            (
                {
                    let mut v = withdraw();
                    v["amount"] = json!("1.5");
                    v
                },
                "invalid_field",
                "`amount`",
            ),
            (
                {
                    let mut v = withdraw();
                    v["amount"] = json!(-1);
                    v
                },
                "invalid_field",
                "`amount`",
            ),
            (
                {
                    let mut v = withdraw();
                    v["nonce"] = json!(true);
                    v
                },
                "invalid_field",
                "`nonce`",
            ),
            (
                {
                    let mut v = withdraw();
                    v["to"] = json!("0x12");
                    v
                },
                "invalid_field",
                "`to`",
            ),
            (
                {
                    let mut v = withdraw();
                    v["signature"] = json!("zz");
                    v
                },
                "invalid_field",
                "`signature`",
            ),
            (
                {
                    let mut v = withdraw();
                    v["chainId"] = json!("thirty");
                    v
                },
                "invalid_field",
                "`chainId`",
            ),
        ];
        for (body, code, needle) in cases {
            let err = SignedRequest::from_json(&body).unwrap_err();
            assert_eq!(err.code, code, "{body}: {err}");
            assert!(err.message.contains(needle), "{body}: {err}");
        }
        let err = SignedRequest::from_slice(b"{\"kind\": ").unwrap_err();
        assert_eq!(err.code, "invalid_json");
        assert!(err.message.starts_with("malformed JSON"), "{err}");
    }

    #[test]
    fn a_settlement_has_two_parts_and_one_identity() {
        let body = json!({
            "kind": "settle", "chainId": "31",
            "contract": "0xe5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5",
            "jobId": "3", "milestoneIndex": "1", "workerBps": "6000", "deadline": "100",
            "clientNonce": "2", "clientSignature": format!("0x{}", "22".repeat(65)),
            "workerNonce": "0", "workerSignature": format!("0x{}", "33".repeat(64)),
        });
        let request = SignedRequest::from_json(&body).unwrap();
        let parts = request.parts();
        assert_eq!(parts.len(), 2);
        assert_eq!((parts[0].role, parts[0].nonce), (Role::Client, U256::from(2)));
        assert_eq!((parts[1].role, parts[1].nonce), (Role::Worker, U256::ZERO));
        assert_ne!(parts[0].digest, parts[1].digest);
        assert_ne!(request.store_digest(), parts[0].digest);
        let call = MilestoneEscrow::settleCall::abi_decode(&request.calldata()).unwrap();
        assert_eq!(call.workerBps, U256::from(6000));
        assert_eq!(call.workerSignature.len(), 64);
    }
}
