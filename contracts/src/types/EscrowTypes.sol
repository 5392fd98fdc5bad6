// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice Lifecycle of a job (the container of milestones) in the MilestoneEscrow.
/// @dev
/// - `None`: no job with this id.
/// - `Offered`: created by the client, not yet accepted by the worker. The client may still
///   withdraw the offer and get every funded milestone back at once.
/// - `Active`: accepted by the worker; milestones can be funded, submitted and reviewed.
/// - `Withdrawn`: the client withdrew the offer before acceptance (terminal, everything refunded).
/// - `Cancelled`: the client cancelled an active job and the notice (if any) is over. Funded,
///   never-submitted milestones were refunded; submitted, changes-requested and disputed ones still
///   run to their end (cancelling never dodges a payment).
/// - `Resigned`: the worker resigned. Funded and changes-requested milestones went back to the
///   client; submitted and disputed ones still run to their end.
/// - `Cancelling`: the client gave notice (`cancel`) while funded milestones were still open to
///   the worker. Until `Job.cancelNoticeEnd` the worker may still submit them (and every submitted
///   milestone runs the normal review); the client can no longer fund. Once the notice is over
///   anyone may `finalizeCancel`, which refunds the funded milestones never submitted.
///   (Appended last so the values of the other statuses stay those of the first deployment.)
///
/// ```
/// Offered --acceptJob (worker)----------------------------------------> Active
/// Offered --withdrawOffer (client): funded ones refunded at once------> Withdrawn
/// Active --cancel (client), no funded milestone or deadline passed----> Cancelled
/// Active --cancel (client), funded milestones still submittable-------> Cancelling
///                                       notice = min(now + reviewPeriod, deadline)
/// Cancelling --finalizeCancel (anyone, now > notice): funded refunded-> Cancelled
/// Active | Cancelling --resign (worker): funded, changes-requested----> Resigned
///                                       refunded at once
/// ```
enum JobStatus {
    None,
    Offered,
    Active,
    Withdrawn,
    Cancelled,
    Resigned,
    Cancelling
}

/// @notice State of one milestone.
/// @dev The state machine (every arrow emits an event; `window` is `Milestone.windowEnd`,
/// `notice` is `Job.cancelNoticeEnd`):
///
/// ```
/// Unfunded --fund (client, job Offered/Active, now <= deadline)------------> Funded
/// Funded --submit (worker, job Active, now <= deadline)--------------------> Submitted      window = now + review
/// Funded --submit (worker, job Cancelling, now <= notice <= deadline)------> Submitted      the cancel notice
/// Funded --approve / signed approval (client, job accepted)----------------> Released
/// Funded --withdrawOffer / resign / reclaimExpired-------------------------> Refunded
/// Funded --cancel (now > deadline) / finalizeCancel (now > notice)---------> Refunded
/// Submitted --approve / signed approval (client)---------------------------> Released
/// Submitted --releaseAfterReview (anyone, now > window)--------------------> Released       silence pays the worker
/// Submitted --requestChanges (client, now <= window, count < cap)----------> ChangesRequested window = now + review
/// Submitted --dispute (client, arbiter set, now <= window)-----------------> Disputed       window = now + ruling
/// ChangesRequested --submit (worker, any time, even after cancel/deadline)-> Submitted      window = now + review
/// ChangesRequested --dispute (worker, arbiter set, now <= window)----------> Disputed       the worker contests
/// ChangesRequested --dispute (client, arbiter set, now > window)-----------> Disputed       the worker went silent
/// ChangesRequested --reclaimAbandoned (client, no arbiter, now > window)---> Refunded       the worker went silent
/// ChangesRequested --approve / signed approval (client)--------------------> Released
/// ChangesRequested --resign (worker)---------------------------------------> Refunded
/// Disputed --approve / signed approval (client concedes)-------------------> Released
/// Disputed --resolve (arbiter, now <= window)------------------------------> Resolved       split minus arbiter fee
/// Disputed --settleAfterRulingTimeout (a party, now > window)--------------> Resolved       50/50, no fee
/// Funded|Submitted|ChangesRequested|Disputed --settle (both signed)--------> Resolved       any split, no fee
/// ```
/// A job without an arbiter never has a `Disputed` milestone: there the client's remedies are the
/// capped change requests, a settlement both parties sign and, when the worker leaves a change
/// request unanswered for a whole response window, `reclaimAbandoned`.
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
/// @param arbiter Who rules disputes. With an arbiter, either party may dispute (see
/// `IMilestoneEscrow.dispute`); the arbiter rules any split within `rulingPeriod` for its fee, and
/// if it stays silent past the ruling period either party may split the milestone 50/50 without
/// fee (`settleAfterRulingTimeout`). address(0): no arbiter and no disputes at all (`dispute`
/// reverts with `MilestoneEscrow_NoArbiter`), so a silent ruling can never hand the client half of
/// delivered work; the client's remedies are then the capped change requests, a settlement both
/// parties sign (`settle`) and, if the worker leaves a change request unanswered for a whole
/// response window, taking that milestone back (`reclaimAbandoned`).
/// @param arbiterFeeBps The arbiter's fee in basis points of a milestone it rules on (at most 1000).
/// @param maxChangeRequests How many times the client may ask for changes on one milestone
/// (the CLI default is `DEFAULT_MAX_CHANGE_REQUESTS` = 2; at most `MAX_CHANGE_REQUESTS`).
/// @param reviewPeriod Seconds the client has to answer a submission, the worker to answer a
/// change request before the client may escalate, and the worker's notice when the client cancels
/// (see `IMilestoneEscrow.cancel`).
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
/// @dev Packed in four slots plus the metadata hash. The terms are those of `JobParams`; besides:
/// @param client Who created (and funds) the job.
/// @param milestoneCount Number of milestones (1 to 50).
/// @param status Current status (see `JobStatus`).
/// @param cancelNoticeEnd Last second of the worker's cancellation notice: 0 until the client
/// gives notice (`cancel` with funded milestones still open), then kept as a record whatever
/// happens next (`finalizeCancel`, `resign`).
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
    uint64 cancelNoticeEnd;
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
