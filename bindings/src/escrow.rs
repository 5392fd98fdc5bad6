//! The `MilestoneEscrow` contract: jobs paid per milestone in rBTC or an ERC-20 token, with
//! review timeouts that pay the worker, capped change requests, cancellation with notice to the
//! worker, arbiter disputes with a 50/50 default ruling (no disputes without an arbiter), and
//! signed approvals and settlements (each consumed nonce logged as `SignatureNonceUsed`).
//!
//! [`MilestoneEscrow`] is generated from `artifacts/MilestoneEscrow.json` (ABI, bytecode, custom
//! errors, events). [`Approval`], [`Settlement`] and [`eip712_domain`] are the single definition of
//! the typed data a client or worker signs: the CLI signs with them, the relayer and the tests
//! check the digest the contract computes (`approvalDigest`, `settlementDigest`).
//!
//! Milestone states, in the order of the contract's `MilestoneStatus` enum, are named by
//! [`MilestoneState`]; job states by [`JobState`].

use alloy::{
    primitives::{Address, B256},
    sol,
    sol_types::{Eip712Domain, SolStruct},
};

// The generated constructors of 8-field events (`MilestoneResolved`) take 8 arguments.
#[allow(missing_docs, clippy::too_many_arguments)]
mod generated {
    alloy::sol!(
        #[sol(rpc, all_derives)]
        MilestoneEscrow,
        "artifacts/MilestoneEscrow.json"
    );
}

/// The contract's structs, at the top of the module for short paths.
pub use generated::MilestoneEscrow::{Job, JobParams, Milestone};
pub use generated::*;

/// EIP-712 domain name of the milestone escrow.
pub const EIP712_NAME: &str = "ShiftPay MilestoneEscrow";
/// EIP-712 domain version of the milestone escrow.
pub const EIP712_VERSION: &str = "1";

/// Token address that stands for the native coin (rBTC on Rootstock).
pub const NATIVE_TOKEN: Address = Address::ZERO;

/// Change requests per milestone a new job allows unless the client says otherwise (the
/// contract's `DEFAULT_MAX_CHANGE_REQUESTS`).
pub const DEFAULT_MAX_CHANGE_REQUESTS: u8 = 2;

/// 100% in basis points: the scale of `arbiterFeeBps` and of every `workerBps` split.
pub const BPS: u16 = 10_000;

sol! {
    /// The client's approval of milestone `milestoneIndex` of job `jobId`, signed with EIP-712 and
    /// submitted by anyone through `MilestoneEscrow.approveMilestoneWithSignature`.
    ///
    /// `nonce` must equal `MilestoneEscrow.nonces(client)` (one sequence per signer, consumed on
    /// use) and the approval is valid up to and including the `deadline` timestamp. A contract
    /// client (a Safe) approves through EIP-1271 with the same digest.
    #[derive(Debug, PartialEq, Eq)]
    struct Approval {
        uint256 jobId;
        uint256 milestoneIndex;
        uint256 nonce;
        uint256 deadline;
    }

    /// One party's agreement to split milestone `milestoneIndex` of job `jobId`: `workerBps` basis
    /// points to the worker, the rest to the client, no arbiter and no fee.
    ///
    /// Client and worker each sign it with their own `nonce` (`MilestoneEscrow.nonces(signer)`);
    /// a party calling `MilestoneEscrow.settle` itself needs no signature.
    #[derive(Debug, PartialEq, Eq)]
    struct Settlement {
        uint256 jobId;
        uint256 milestoneIndex;
        uint256 workerBps;
        uint256 nonce;
        uint256 deadline;
    }
}

/// The EIP-712 domain of a `MilestoneEscrow` deployment: name [`EIP712_NAME`], version
/// [`EIP712_VERSION`], `chain_id` and the contract address as verifying contract.
///
/// The contract uses OpenZeppelin's `EIP712`, which rebuilds the separator when the chain id
/// changes, so a signature made for one chain never verifies on another.
pub fn eip712_domain(chain_id: u64, escrow: Address) -> Eip712Domain {
    alloy::sol_types::eip712_domain! {
        name: EIP712_NAME,
        version: EIP712_VERSION,
        chain_id: chain_id,
        verifying_contract: escrow,
    }
}

impl Approval {
    /// The EIP-712 type string the contract hashes into `APPROVAL_TYPEHASH`.
    pub const TYPE_STRING: &'static str =
        "Approval(uint256 jobId,uint256 milestoneIndex,uint256 nonce,uint256 deadline)";

    /// The digest the client signs, equal to `MilestoneEscrow.approvalDigest(..)` on that chain
    /// and deployment.
    pub fn signing_hash(&self, chain_id: u64, escrow: Address) -> B256 {
        self.eip712_signing_hash(&eip712_domain(chain_id, escrow))
    }
}

impl Settlement {
    /// The EIP-712 type string the contract hashes into `SETTLEMENT_TYPEHASH`.
    pub const TYPE_STRING: &'static str = "Settlement(uint256 jobId,uint256 milestoneIndex,uint256 workerBps,uint256 nonce,uint256 deadline)";

    /// The digest a party signs, equal to `MilestoneEscrow.settlementDigest(..)` on that chain and
    /// deployment.
    pub fn signing_hash(&self, chain_id: u64, escrow: Address) -> B256 {
        self.eip712_signing_hash(&eip712_domain(chain_id, escrow))
    }
}

/// A job's status, as the contract's `JobStatus` enum (`getJob(..).status`) encodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum JobState {
    /// No job with that id.
    None = 0,
    /// Created, not yet accepted by the worker; the client may withdraw it.
    Offered = 1,
    /// Accepted by the worker.
    Active = 2,
    /// Withdrawn by the client before acceptance (everything refunded).
    Withdrawn = 3,
    /// Cancelled by the client (after the notice, if one was due: unsubmitted funded milestones
    /// refunded).
    Cancelled = 4,
    /// The worker resigned (unsubmitted milestones refunded).
    Resigned = 5,
    /// The client gave notice: the worker may still submit funded milestones until
    /// `getJob(..).cancelNoticeEnd`, then anyone may `finalizeCancel`. Appended last in the
    /// contract's enum, so the other values are unchanged.
    Cancelling = 6,
}

impl JobState {
    /// Every state, in enum order.
    pub const ALL: [Self; 7] = [
        Self::None,
        Self::Offered,
        Self::Active,
        Self::Withdrawn,
        Self::Cancelled,
        Self::Resigned,
        Self::Cancelling,
    ];
}

/// A milestone's status, as the contract's `MilestoneStatus` enum encodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MilestoneState {
    /// Declared, not funded.
    Unfunded = 0,
    /// Funded, not yet submitted.
    Funded = 1,
    /// Submitted; the review window runs.
    Submitted = 2,
    /// The client asked for changes; the worker's response window runs.
    ChangesRequested = 3,
    /// Disputed; the arbiter's ruling window runs.
    Disputed = 4,
    /// Paid in full to the worker (approval or review timeout). Terminal.
    Released = 5,
    /// Split between the parties (ruling, ruling timeout or settlement). Terminal.
    Resolved = 6,
    /// Returned to the client. Terminal.
    Refunded = 7,
}

impl MilestoneState {
    /// Every state, in enum order.
    pub const ALL: [Self; 8] = [
        Self::Unfunded,
        Self::Funded,
        Self::Submitted,
        Self::ChangesRequested,
        Self::Disputed,
        Self::Released,
        Self::Resolved,
        Self::Refunded,
    ];

    /// Whether the milestone holds funds in the escrow (funded and not yet paid out).
    pub fn holds_funds(self) -> bool {
        matches!(self, Self::Funded | Self::Submitted | Self::ChangesRequested | Self::Disputed)
    }

    /// Whether the milestone is closed for good.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Released | Self::Resolved | Self::Refunded)
    }
}

impl TryFrom<u8> for MilestoneState {
    type Error = u8;

    /// Decodes the contract's enum value; returns the value itself when out of range.
    fn try_from(value: u8) -> Result<Self, u8> {
        Self::ALL.get(usize::from(value)).copied().ok_or(value)
    }
}

impl TryFrom<u8> for JobState {
    type Error = u8;

    /// Decodes the contract's enum value; returns the value itself when out of range.
    fn try_from(value: u8) -> Result<Self, u8> {
        Self::ALL.get(usize::from(value)).copied().ok_or(value)
    }
}

/// How a milestone was split, as the contract's `Resolution` enum encodes it
/// (`MilestoneResolved.resolution`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ResolutionKind {
    /// The arbiter ruled within the ruling period; its fee was paid.
    ArbiterRuling = 0,
    /// The arbiter stayed silent; a party split the milestone 50/50, no fee.
    RulingTimeout = 1,
    /// Both parties agreed on a split (signatures or a call); no arbiter, no fee.
    Settlement = 2,
}

impl TryFrom<u8> for ResolutionKind {
    type Error = u8;

    /// Decodes the contract's enum value; returns the value itself when out of range.
    fn try_from(value: u8) -> Result<Self, u8> {
        [Self::ArbiterRuling, Self::RulingTimeout, Self::Settlement]
            .get(usize::from(value))
            .copied()
            .ok_or(value)
    }
}
