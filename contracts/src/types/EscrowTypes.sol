// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice Lifecycle of a job (the container of milestones) in the MilestoneEscrow.
/// @dev
/// - `None`: no job with this id.
/// - `Offered`: created by the client, not yet accepted by the worker. The client may still
///   withdraw the offer and get every funded milestone back.
/// - `Active`: accepted by the worker; milestones can be funded, submitted and reviewed.
/// - `Withdrawn`: the client withdrew the offer before acceptance (terminal, everything refunded).
/// - `Cancelled`: the client cancelled an active job. Funded milestones were refunded; submitted,
///   changes-requested and disputed ones still run to their end (cancelling never dodges a payment).
/// - `Resigned`: the worker resigned. Funded and changes-requested milestones went back to the
///   client; submitted and disputed ones still run to their end.
enum JobStatus {
    None,
    Offered,
    Active,
    Withdrawn,
    Cancelled,
    Resigned
}

/// @notice State of one milestone.
/// @dev The state machine (every arrow emits an event; `window` is `Milestone.windowEnd`):
///
/// ```
/// Unfunded --fund (client)-------------------------------------------------> Funded
/// Funded --submit (worker, job Active, now <= deadline)--------------------> Submitted      window = now + review
/// Funded --approve / signed approval (client, job accepted)----------------> Released
/// Funded --withdrawOffer / cancel / resign / reclaimExpired----------------> Refunded
/// Submitted --approve / signed approval (client)---------------------------> Released
/// Submitted --releaseAfterReview (anyone, now > window)--------------------> Released       silence pays the worker
/// Submitted --requestChanges (client, now <= window, count < cap)---------> ChangesRequested window = now + review
/// Submitted --dispute (client, now <= window)------------------------------> Disputed       window = now + ruling
/// ChangesRequested --submit (worker, any time, even after cancel/deadline)-> Submitted      window = now + review
/// ChangesRequested --dispute (worker, now <= window)-----------------------> Disputed       the worker contests
/// ChangesRequested --dispute (client, now > window)------------------------> Disputed       the worker went silent
/// ChangesRequested --approve / signed approval (client)--------------------> Released
/// ChangesRequested --resign (worker)---------------------------------------> Refunded
/// Disputed --approve / signed approval (client concedes)-------------------> Released
/// Disputed --resolve (arbiter, now <= window)------------------------------> Resolved       split minus arbiter fee
/// Disputed --settleAfterRulingTimeout (a party, now > window)--------------> Resolved       50/50, no fee
/// Funded|Submitted|ChangesRequested|Disputed --settle (both signed)--------> Resolved       any split, no fee
/// ```
/// `Released`, `Resolved` and `Refunded` are terminal: a milestone pays out at most once.
enum MilestoneStatus {
    Unfunded,
    Funded,
    Submitted,
    ChangesRequested,
    Disputed,
    Released,
    Resolved,
    Refunded
}

/// @notice How a disputed or settled milestone was closed (see `IMilestoneEscrow.MilestoneResolved`).
enum Resolution {
    /// @dev The arbiter ruled a split within the ruling period; the arbiter fee was paid.
    ArbiterRuling,
    /// @dev The arbiter stayed silent past the ruling period; a party split it 50/50, no fee.
    RulingTimeout,
    /// @dev Both parties signed (or called with) the same split; no arbiter, no fee.
    Settlement
}

/// @notice Terms of a job, given by the client at creation.
/// @param worker Who does the work and receives the payments.
/// @param token ERC-20 token paying the job, or address(0) for native rBTC.
/// @param arbiter Who rules disputes (address(0): no arbiter; disputes then end by the ruling
/// timeout 50/50, a signed settlement or the client conceding).
/// @param arbiterFeeBps The arbiter's fee in basis points of a milestone it rules on (at most 1000).
/// @param maxChangeRequests How many times the client may ask for changes on one milestone
/// (the CLI default is `DEFAULT_MAX_CHANGE_REQUESTS` = 2; at most `MAX_CHANGE_REQUESTS`).
/// @param reviewPeriod Seconds the client has to answer a submission (and the worker to answer a
/// change request before the client may escalate).
/// @param rulingPeriod Seconds the arbiter has to rule once a milestone is disputed.
/// @param deadline Unix time after which the worker can no longer submit new milestones and the
/// client may reclaim funded milestones never submitted (0: no deadline).
/// @param metadataHash Hash of the terms (IPFS CID digest or sha256 of the document).
/// @param amounts Amount of each milestone, in the token's smallest unit (1 to 50 milestones).
struct JobParams {
    address worker;
    address token;
    address arbiter;
    uint16 arbiterFeeBps;
    uint8 maxChangeRequests;
    uint32 reviewPeriod;
    uint32 rulingPeriod;
    uint64 deadline;
    bytes32 metadataHash;
    uint256[] amounts;
}

/// @notice A job as stored by the escrow.
/// @dev Packed in four slots plus the metadata hash.
struct Job {
    address client;
    uint64 deadline;
    uint8 milestoneCount;
    JobStatus status;
    address worker;
    uint32 reviewPeriod;
    uint32 rulingPeriod;
    uint16 arbiterFeeBps;
    uint8 maxChangeRequests;
    address token;
    address arbiter;
    bytes32 metadataHash;
}

/// @notice One milestone as stored by the escrow (one storage slot).
/// @param amount Amount escrowed for the milestone once funded.
/// @param status Current state (see `MilestoneStatus`).
/// @param changeRequests How many times the client asked for changes so far.
/// @param windowEnd Last second of the current window: review (Submitted), worker response
/// (ChangesRequested) or arbiter ruling (Disputed). Actions "within the window" are allowed while
/// `block.timestamp <= windowEnd`; actions "after the window" need `block.timestamp > windowEnd`.
struct Milestone {
    uint128 amount;
    MilestoneStatus status;
    uint8 changeRequests;
    uint64 windowEnd;
}
