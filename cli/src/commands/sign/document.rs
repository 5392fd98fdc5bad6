//! The signature file `shiftpay sign` writes and `shiftpay submit` / `shiftpay verify` read.
//!
//! ```json
//! {
//!   "format": "shiftpay-signature", "version": 1,
//!   "action": "approve", "chainId": 33, "contract": "0x…",
//!   "description": "approve milestone 0 of job 1",
//!   "role": "client", "signer": "0x…", "signature": "0x…(65 bytes)", "digest": "0x…",
//!   "typedData": { "types": {…}, "primaryType": "Approval", "domain": {…}, "message": {…} }
//! }
//! ```
//!
//! `typedData` has the `eth_signTypedData_v4` shape, so any EIP-712 wallet (or `cast wallet
//! sign --data`) signs the same digest. A settlement signed by both parties holds the two
//! signatures in `signatures: [{role, signer, signature, digest, typedData}, …]` (client first)
//! instead of the top-level fields: each party signs with its own nonce.
//!
//! The typed data is built from the single definition in `shiftpay_bindings` ([`Approval`],
//! [`Settlement`], [`WithdrawRequest`] and their domains): the type list comes from the struct's
//! EIP-712 type string and the message from its encoded fields, and a file is read back into
//! those structs and checked against them, never trusted as given.

use std::{fmt, path::Path};

use alloy::{
    primitives::{Address, B256, Bytes, Signature, U256},
    sol_types::{Eip712Domain, SolStruct},
};
use eyre::{bail, eyre};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shiftpay_bindings::{
    chains::{ChainInfo, parse_address},
    escrow::{self, Approval, Settlement},
    payroll::{self, WithdrawRequest},
};

/// `format` of a signature file.
pub(crate) const FORMAT: &str = "shiftpay-signature";
/// `version` of the format this binary writes and reads.
pub(crate) const VERSION: u64 = 1;

/// What a signature authorizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Action {
    /// A worker's withdraw request (Payroll `withdrawWithSignature`).
    Withdraw,
    /// A client's milestone approval (escrow `approveMilestoneWithSignature`).
    Approve,
    /// A party's agreement to a split (escrow `settle`).
    Settle,
}

impl Action {
    /// The contract it is for.
    pub(crate) fn contract_name(self) -> &'static str {
        match self {
            Self::Withdraw => "Payroll",
            Self::Approve | Self::Settle => "MilestoneEscrow",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Withdraw => "withdraw",
            Self::Approve => "approve",
            Self::Settle => "settle",
        })
    }
}

/// Who signed, in the job or stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Role {
    /// The escrow job's client.
    Client,
    /// The escrow job's or the payroll stream's worker.
    Worker,
}

impl Role {
    /// The other party of a settlement.
    pub(crate) fn other(self) -> Self {
        match self {
            Self::Client => Self::Worker,
            Self::Worker => Self::Client,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Client => "client",
            Self::Worker => "worker",
        })
    }
}

/// The typed message of a signature, as the bindings define it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Message {
    /// `WithdrawRequest` (Payroll).
    Withdraw(WithdrawRequest),
    /// `Approval` (MilestoneEscrow).
    Approve(Approval),
    /// `Settlement` (MilestoneEscrow).
    Settle(Settlement),
}

impl Message {
    /// The action it authorizes.
    pub(crate) fn action(&self) -> Action {
        match self {
            Self::Withdraw(_) => Action::Withdraw,
            Self::Approve(_) => Action::Approve,
            Self::Settle(_) => Action::Settle,
        }
    }

    /// The signer's nonce it was signed with.
    pub(crate) fn nonce(&self) -> U256 {
        match self {
            Self::Withdraw(m) => m.nonce,
            Self::Approve(m) => m.nonce,
            Self::Settle(m) => m.nonce,
        }
    }

    /// Last second it is valid.
    pub(crate) fn deadline(&self) -> U256 {
        match self {
            Self::Withdraw(m) => m.deadline,
            Self::Approve(m) => m.deadline,
            Self::Settle(m) => m.deadline,
        }
    }

    /// The EIP-712 domain of `contract` on `chain_id` for this message's contract.
    pub(crate) fn domain(&self, chain_id: u64, contract: Address) -> Eip712Domain {
        match self {
            Self::Withdraw(_) => payroll::eip712_domain(chain_id, contract),
            Self::Approve(_) | Self::Settle(_) => escrow::eip712_domain(chain_id, contract),
        }
    }

    /// The digest the signer signs (what the contract recomputes).
    pub(crate) fn digest(&self, chain_id: u64, contract: Address) -> B256 {
        match self {
            Self::Withdraw(m) => m.signing_hash(chain_id, contract),
            Self::Approve(m) => m.signing_hash(chain_id, contract),
            Self::Settle(m) => m.signing_hash(chain_id, contract),
        }
    }

    /// The `eth_signTypedData_v4` document of this message (as a `Value`, for comparisons).
    pub(crate) fn typed_data(&self, chain_id: u64, contract: Address) -> Value {
        self.typed_data_ordered(chain_id, contract).to_value()
    }

    /// The `eth_signTypedData_v4` document of this message, keys in the usual order.
    pub(crate) fn typed_data_ordered(&self, chain_id: u64, contract: Address) -> Ordered {
        let domain = self.domain(chain_id, contract);
        match self {
            Self::Withdraw(m) => typed_data(m, &domain),
            Self::Approve(m) => typed_data(m, &domain),
            Self::Settle(m) => typed_data(m, &domain),
        }
    }

    /// Reads the message of a typed-data document whose `primaryType` is one of ours.
    pub(crate) fn from_typed_data(typed: &Value) -> eyre::Result<Self> {
        let primary = typed["primaryType"]
            .as_str()
            .ok_or_else(|| eyre!("the typed data has no primaryType"))?;
        let message = &typed["message"];
        let field = |name: &str| -> eyre::Result<U256> { uint_field(message, name) };
        Ok(match primary {
            "WithdrawRequest" => Self::Withdraw(WithdrawRequest {
                streamId: field("streamId")?,
                to: address_field(message, "to")?,
                amount: field("amount")?,
                nonce: field("nonce")?,
                deadline: field("deadline")?,
            }),
            "Approval" => Self::Approve(Approval {
                jobId: field("jobId")?,
                milestoneIndex: field("milestoneIndex")?,
                nonce: field("nonce")?,
                deadline: field("deadline")?,
            }),
            "Settlement" => Self::Settle(Settlement {
                jobId: field("jobId")?,
                milestoneIndex: field("milestoneIndex")?,
                workerBps: field("workerBps")?,
                nonce: field("nonce")?,
                deadline: field("deadline")?,
            }),
            other => bail!(
                "the typed data's primaryType {other:?} is not a ShiftPay message (WithdrawRequest, Approval or Settlement)"
            ),
        })
    }

    /// This message with another nonce (the second party of a settlement signs its own).
    pub(crate) fn with_nonce(&self, nonce: U256) -> Self {
        let mut copy = self.clone();
        match &mut copy {
            Self::Withdraw(m) => m.nonce = nonce,
            Self::Approve(m) => m.nonce = nonce,
            Self::Settle(m) => m.nonce = nonce,
        }
        copy
    }

    /// What it authorizes, in words (`approve milestone 0 of job 1`).
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Withdraw(m) => {
                format!("withdraw {} token units of stream {} to {}", m.amount, m.streamId, m.to)
            }
            Self::Approve(m) => {
                format!("approve milestone {} of job {}", m.milestoneIndex, m.jobId)
            }
            Self::Settle(m) => format!(
                "settle milestone {} of job {}: {}% to the worker",
                m.milestoneIndex,
                m.jobId,
                shiftpay_bindings::units::format_amount(m.workerBps, 2)
            ),
        }
    }

    /// Whether two settlement messages agree on everything but the nonce.
    pub(crate) fn same_terms(&self, other: &Self) -> bool {
        self.with_nonce(U256::ZERO) == other.with_nonce(U256::ZERO)
    }
}

/// The `eth_signTypedData_v4` JSON of `value` in `domain`: `types` (with `EIP712Domain`),
/// `primaryType`, `domain`, `message`, in that order. Built from the struct's own EIP-712
/// definition: the type list from its root type string and the message from its encoded fields
/// (uint and address fields, one word each).
pub(crate) fn typed_data<S: SolStruct>(value: &S, domain: &Eip712Domain) -> Ordered {
    let fields = struct_fields(&S::eip712_root_type());
    let words = value.eip712_encode_data();
    let message = fields
        .iter()
        .zip(words.chunks(32))
        .map(|((ty, name), word)| {
            let rendered = if ty == "address" {
                Address::from_word(B256::from_slice(word)).to_checksum(None)
            } else {
                U256::from_be_slice(word).to_string()
            };
            (name.clone(), Ordered::Leaf(Value::String(rendered)))
        })
        .collect();
    let field = |name: &str, ty: &str| {
        Ordered::object([("name", Ordered::Leaf(json!(name))), ("type", Ordered::Leaf(json!(ty)))])
    };
    let chain_id = domain.chain_id.map(|id| id.to::<u64>()).unwrap_or_default();
    let contract = domain.verifying_contract.unwrap_or_default();
    Ordered::object([
        (
            "types",
            Ordered::object([
                (
                    "EIP712Domain",
                    Ordered::Array(vec![
                        field("name", "string"),
                        field("version", "string"),
                        field("chainId", "uint256"),
                        field("verifyingContract", "address"),
                    ]),
                ),
                (
                    S::NAME,
                    Ordered::Array(fields.iter().map(|(ty, name)| field(name, ty)).collect()),
                ),
            ]),
        ),
        ("primaryType", Ordered::Leaf(json!(S::NAME))),
        (
            "domain",
            Ordered::object([
                ("name", Ordered::Leaf(json!(domain.name.as_deref().unwrap_or_default()))),
                ("version", Ordered::Leaf(json!(domain.version.as_deref().unwrap_or_default()))),
                ("chainId", Ordered::Leaf(json!(chain_id))),
                ("verifyingContract", Ordered::Leaf(json!(contract.to_checksum(None)))),
            ]),
        ),
        ("message", Ordered::Object(message)),
    ])
}

/// JSON whose object keys keep the order they were written in (`serde_json::Value` sorts them),
/// so a signature file reads top-down: what, where, who, then the typed data.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ordered {
    /// A value written as is.
    Leaf(Value),
    /// An object, keys in order.
    Object(Vec<(String, Ordered)>),
    /// An array.
    Array(Vec<Ordered>),
}

impl Ordered {
    fn object<const N: usize>(entries: [(&str, Ordered); N]) -> Self {
        Self::Object(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    /// The same JSON as a `serde_json::Value` (for comparisons).
    pub(crate) fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("JSON serializes")
    }
}

impl Serialize for Ordered {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Self::Leaf(value) => value.serialize(serializer),
            Self::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
            Self::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
        }
    }
}

/// `Name(uint256 a,address b)` → `[("uint256", "a"), ("address", "b")]`.
fn struct_fields(root_type: &str) -> Vec<(String, String)> {
    let inner = root_type.split_once('(').map_or("", |(_, rest)| rest.trim_end_matches(')'));
    inner
        .split(',')
        .filter(|f| !f.is_empty())
        .filter_map(|field| {
            field.split_once(' ').map(|(ty, name)| (ty.to_owned(), name.to_owned()))
        })
        .collect()
}

/// A uint field given as a decimal or `0x` string, or a JSON number.
fn uint_field(message: &Value, name: &str) -> eyre::Result<U256> {
    match &message[name] {
        Value::String(s) => s
            .trim()
            .parse::<U256>()
            .map_err(|_| eyre!("typed data field {name} = {s:?} is not a number")),
        Value::Number(n) => n
            .as_u64()
            .map(U256::from)
            .ok_or_else(|| eyre!("typed data field {name} = {n} is not a whole number")),
        Value::Null => bail!("the typed data's message has no {name}"),
        other => bail!("typed data field {name} = {other} is not a number"),
    }
}

fn address_field(message: &Value, name: &str) -> eyre::Result<Address> {
    let text = message[name]
        .as_str()
        .ok_or_else(|| eyre!("the typed data's message has no address {name}"))?;
    parse_address(text).map_err(|e| eyre!("typed data field {name}: {e}"))
}

/// The chain id and verifying contract a typed-data document's domain names.
pub(crate) fn domain_of(typed: &Value) -> eyre::Result<(u64, Address, String, String)> {
    let domain = &typed["domain"];
    let chain_id = match &domain["chainId"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<U256>().ok().and_then(|v| u64::try_from(v).ok()),
        _ => None,
    }
    .ok_or_else(|| eyre!("the typed data's domain has no valid chainId"))?;
    let contract = domain["verifyingContract"]
        .as_str()
        .ok_or_else(|| eyre!("the typed data's domain has no verifyingContract"))
        .and_then(|s| {
            parse_address(s).map_err(|e| eyre!("the typed data's verifyingContract: {e}"))
        })?;
    let name = domain["name"].as_str().unwrap_or_default().to_owned();
    let version = domain["version"].as_str().unwrap_or_default().to_owned();
    Ok((chain_id, contract, name, version))
}

/// One signature and what it signs.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) role: Role,
    pub(crate) signer: Address,
    pub(crate) signature: Bytes,
    /// The digest the file states (checked against [`Entry::message`]).
    pub(crate) digest: B256,
    /// The typed data as in the file.
    pub(crate) typed_data: Value,
    /// The message read from the typed data.
    pub(crate) message: Message,
}

impl Entry {
    /// A new signature entry for `message` on `chain_id`/`contract`.
    pub(crate) fn new(
        role: Role,
        signer: Address,
        signature: Bytes,
        message: Message,
        chain_id: u64,
        contract: Address,
    ) -> Self {
        Self {
            role,
            signer,
            signature,
            digest: message.digest(chain_id, contract),
            typed_data: message.typed_data(chain_id, contract),
            message,
        }
    }

    /// The entry's fields; the typed data regenerated from the message (in the domain the
    /// file's typed data names) so that it reads in the usual key order.
    fn to_json(
        &self,
        chain: &ChainInfo,
        chain_id: u64,
        contract: Address,
    ) -> Vec<(String, Ordered)> {
        let (chain_id, contract) =
            domain_of(&self.typed_data).map_or((chain_id, contract), |(id, c, _, _)| (id, c));
        let typed = self.message.typed_data_ordered(chain_id, contract);
        // A file whose typed data is not the canonical one keeps it as given (verify flags it).
        let typed = if typed.to_value() == self.typed_data {
            typed
        } else {
            Ordered::Leaf(self.typed_data.clone())
        };
        vec![
            ("role".to_owned(), Ordered::Leaf(json!(self.role))),
            ("signer".to_owned(), Ordered::Leaf(json!(chain.format_address(self.signer)))),
            ("signature".to_owned(), Ordered::Leaf(json!(self.signature))),
            ("digest".to_owned(), Ordered::Leaf(json!(self.digest))),
            ("typedData".to_owned(), typed),
        ]
    }

    fn from_json(value: &Value, context: &str) -> eyre::Result<Self> {
        let role: Role = serde_json::from_value(value["role"].clone())
            .map_err(|_| eyre!("{context}: role must be \"client\" or \"worker\""))?;
        let signer = value["signer"]
            .as_str()
            .ok_or_else(|| eyre!("{context}: no signer"))
            .and_then(|s| parse_address(s).map_err(|e| eyre!("{context}: signer: {e}")))?;
        let signature: Bytes = value["signature"]
            .as_str()
            .ok_or_else(|| eyre!("{context}: no signature"))?
            .parse()
            .map_err(|_| eyre!("{context}: the signature is not hex"))?;
        let digest: B256 = value["digest"]
            .as_str()
            .ok_or_else(|| eyre!("{context}: no digest"))?
            .parse()
            .map_err(|_| eyre!("{context}: the digest is not 32 bytes of hex"))?;
        let typed_data = value["typedData"].clone();
        if !typed_data.is_object() {
            bail!("{context}: no typedData");
        }
        let message = Message::from_typed_data(&typed_data).map_err(|e| eyre!("{context}: {e}"))?;
        Ok(Self { role, signer, signature, digest, typed_data, message })
    }
}

/// A signature file.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    pub(crate) action: Action,
    pub(crate) chain_id: u64,
    pub(crate) contract: Address,
    /// What it authorizes, in words, as the signer saw it (informational: `verify` shows the
    /// terms it reads from the typed data).
    pub(crate) description: String,
    /// One signature, or two for a settlement both parties signed (client first).
    pub(crate) entries: Vec<Entry>,
}

impl Document {
    /// A file with one signature.
    pub(crate) fn single(
        chain_id: u64,
        contract: Address,
        description: String,
        entry: Entry,
    ) -> Self {
        Self {
            action: entry.message.action(),
            chain_id,
            contract,
            description,
            entries: vec![entry],
        }
    }

    /// The file's JSON (addresses formatted for `chain`), keys in reading order.
    pub(crate) fn to_json(&self, chain: &ChainInfo) -> Ordered {
        let mut fields = vec![
            ("format".to_owned(), Ordered::Leaf(json!(FORMAT))),
            ("version".to_owned(), Ordered::Leaf(json!(VERSION))),
            ("action".to_owned(), Ordered::Leaf(json!(self.action))),
            ("description".to_owned(), Ordered::Leaf(json!(self.description))),
            ("chainId".to_owned(), Ordered::Leaf(json!(self.chain_id))),
            ("contract".to_owned(), Ordered::Leaf(json!(chain.format_address(self.contract)))),
        ];
        match self.entries.as_slice() {
            [single] => fields.extend(single.to_json(chain, self.chain_id, self.contract)),
            many => fields.push((
                "signatures".to_owned(),
                Ordered::Array(
                    many.iter()
                        .map(|e| Ordered::Object(e.to_json(chain, self.chain_id, self.contract)))
                        .collect(),
                ),
            )),
        }
        Ordered::Object(fields)
    }

    /// Parses a file's JSON, checking its shape (not its signatures: see `shiftpay verify`).
    pub(crate) fn from_json(value: &Value) -> eyre::Result<Self> {
        if value["format"].as_str() != Some(FORMAT) {
            bail!(
                "not a ShiftPay signature file (its \"format\" is not {FORMAT:?}): make one with `shiftpay sign`"
            );
        }
        match value["version"].as_u64() {
            Some(VERSION) => {}
            Some(other) => bail!(
                "signature file version {other} is not supported by this shiftpay (it reads version {VERSION})"
            ),
            None => bail!("the signature file has no version"),
        }
        let action: Action = serde_json::from_value(value["action"].clone()).map_err(|_| {
            eyre!("the signature file's action must be withdraw, approve or settle")
        })?;
        let chain_id =
            value["chainId"].as_u64().ok_or_else(|| eyre!("the signature file has no chainId"))?;
        let contract = value["contract"]
            .as_str()
            .ok_or_else(|| eyre!("the signature file has no contract"))
            .and_then(|s| {
                parse_address(s).map_err(|e| eyre!("the signature file's contract: {e}"))
            })?;
        let entries = match value.get("signatures") {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| Entry::from_json(item, &format!("signature {}", i + 1)))
                .collect::<eyre::Result<Vec<_>>>()?,
            Some(_) => bail!("the signature file's \"signatures\" is not a list"),
            None => vec![Entry::from_json(value, "the signature file")?],
        };
        if entries.is_empty()
            || entries.len() > 2
            || (entries.len() == 2 && action != Action::Settle)
        {
            bail!("the signature file must hold one signature (two for a settlement)");
        }
        for entry in &entries {
            if entry.message.action() != action {
                bail!(
                    "the signature file says {action} but its typed data is a {}",
                    entry.typed_data["primaryType"].as_str().unwrap_or("?")
                );
            }
        }
        if let [a, b] = entries.as_slice() {
            if a.role == b.role {
                bail!(
                    "the settlement holds two {} signatures: it needs the client's and the worker's",
                    a.role
                );
            }
            if !a.message.same_terms(&b.message) {
                bail!("the two signatures of the settlement are for different terms");
            }
        }
        let description = value["description"]
            .as_str()
            .map_or_else(|| entries[0].message.describe(), str::to_owned);
        Ok(Self { action, chain_id, contract, description, entries })
    }

    /// Reads and parses a file.
    pub(crate) fn load(path: &Path) -> eyre::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| eyre!("cannot read {}: {e}", path.display()))?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| eyre!("{} is not JSON: {e}", path.display()))?;
        Self::from_json(&value).map_err(|e| eyre!("{}: {e}", path.display()))
    }

    /// The entry of `role`, if the file has it.
    pub(crate) fn entry(&self, role: Role) -> Option<&Entry> {
        self.entries.iter().find(|e| e.role == role)
    }
}

/// The signature in the form the contracts check: 65 bytes with `v` 27 or 28 for an ECDSA
/// signature given as 65 bytes (any `v` notation) or 64 bytes (EIP-2098 compact); anything else
/// (an EIP-1271 payload) unchanged.
pub(crate) fn canonical_signature(signature: &Bytes) -> Bytes {
    parse_ecdsa(signature)
        .map_or_else(|| signature.clone(), |sig| Bytes::from(sig.as_bytes().to_vec()))
}

/// An ECDSA signature of 65 bytes or 64 (EIP-2098), if `bytes` is one.
pub(crate) fn parse_ecdsa(bytes: &[u8]) -> Option<Signature> {
    match bytes.len() {
        65 => Signature::try_from(bytes).ok(),
        64 => Some(Signature::from_erc2098(bytes)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::address;
    use shiftpay_bindings::chains::{ChainInfo, preset_by_id};

    use super::*;

    #[test]
    fn typed_data_follows_the_bindings_definition() {
        let approval = Approval {
            jobId: U256::from(7),
            milestoneIndex: U256::from(1),
            nonce: U256::ZERO,
            deadline: U256::from(99),
        };
        let contract = address!("0x5FbDB2315678afecb367f032d93F642f64180aa3");
        let message = Message::Approve(approval.clone());
        let typed = message.typed_data(33, contract);
        assert_eq!(typed["primaryType"], "Approval");
        assert_eq!(
            typed["types"]["Approval"],
            json!([
                {"name": "jobId", "type": "uint256"},
                {"name": "milestoneIndex", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ])
        );
        assert_eq!(typed["message"]["jobId"], "7");
        assert_eq!(typed["domain"]["name"], escrow::EIP712_NAME);
        assert_eq!(typed["domain"]["chainId"], 33);
        assert_eq!(Message::from_typed_data(&typed).unwrap(), message);

        let request = WithdrawRequest {
            streamId: U256::from(3),
            to: contract,
            amount: U256::from(5),
            nonce: U256::from(2),
            deadline: U256::from(9),
        };
        let typed = Message::Withdraw(request.clone()).typed_data(31, contract);
        assert_eq!(typed["message"]["to"], contract.to_checksum(None));
        assert_eq!(Message::from_typed_data(&typed).unwrap(), Message::Withdraw(request));
    }

    #[test]
    fn documents_round_trip_with_one_or_two_signatures() {
        let chain = ChainInfo::from_preset(preset_by_id(33).unwrap());
        let contract = address!("0x5FbDB2315678afecb367f032d93F642f64180aa3");
        let settle = Message::Settle(Settlement {
            jobId: U256::from(1),
            milestoneIndex: U256::ZERO,
            workerBps: U256::from(6000),
            nonce: U256::ZERO,
            deadline: U256::from(1000),
        });
        let signer = address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
        let entry = Entry::new(
            Role::Client,
            signer,
            Bytes::from(vec![1; 65]),
            settle.clone(),
            33,
            contract,
        );
        let single = Document::single(33, contract, "settle".into(), entry.clone());
        let json = single.to_json(&chain).to_value();
        assert!(json.get("signatures").is_none());
        assert_eq!(json["typedData"]["primaryType"], "Settlement");
        let back = Document::from_json(&json).unwrap();
        assert_eq!(back.entries.len(), 1);
        assert_eq!(back.entries[0].message, settle);

        let second = Entry::new(
            Role::Worker,
            contract,
            Bytes::from(vec![2; 65]),
            settle.with_nonce(U256::from(4)),
            33,
            contract,
        );
        let both = Document { entries: vec![entry.clone(), second], ..single.clone() };
        let json = both.to_json(&chain).to_value();
        assert_eq!(json["signatures"].as_array().unwrap().len(), 2);
        assert_eq!(Document::from_json(&json).unwrap().entries[1].message.nonce(), U256::from(4));

        let mut other_terms = json.clone();
        other_terms["signatures"][1]["typedData"]["message"]["workerBps"] = json!("5000");
        assert!(
            Document::from_json(&other_terms).unwrap_err().to_string().contains("different terms")
        );
        let mut wrong = json.clone();
        wrong["format"] = json!("other");
        assert!(
            Document::from_json(&wrong)
                .unwrap_err()
                .to_string()
                .starts_with("not a ShiftPay signature file")
        );
    }

    #[test]
    fn compact_and_electrum_signatures_become_65_bytes_with_v_27_or_28() {
        let sig = Signature::test_signature();
        let full = Bytes::from(sig.as_bytes().to_vec());
        assert_eq!(canonical_signature(&full), full);
        let compact = Bytes::from(sig.as_erc2098().to_vec());
        assert_eq!(canonical_signature(&compact), full);
        let mut electrum = sig.as_bytes();
        electrum[64] -= 27;
        assert_eq!(canonical_signature(&Bytes::from(electrum.to_vec())), full);
        let payload = Bytes::from(vec![7; 100]);
        assert_eq!(canonical_signature(&payload), payload);
    }
}
