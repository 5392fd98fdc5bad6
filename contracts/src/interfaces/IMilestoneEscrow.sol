// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Job, JobParams, Milestone, Resolution} from "../types/EscrowTypes.sol";

/// @title IMilestoneEscrow
/// @notice Escrow for a job paid per milestone, in native rBTC or an ERC-20 token, that protects
/// both sides: the client's silence pays the worker, change requests are capped, cancelling gives
/// the worker notice, disputes go to the job's arbiter (none without one) with a default 50/50
/// ruling when the arbiter is silent, and both parties can settle any milestone by signing an
/// EIP-712 split.
/// @dev No owner, no upgrade, no protocol fee: the only fee is the arbiter's, and only when the
/// arbiter rules. The milestone state machine is documented on `MilestoneStatus`
/// (types/EscrowTypes.sol). Every transition emits an event indexed by job id, client and worker
/// (the EVM allows three indexed topics, so the milestone index is the first data word), so a
/// relayer can follow a job from its logs alone.
///
/// Payouts are pushed at once. If a push fails (a native recipient reverts or uses more than
/// `NATIVE_PAYOUT_GAS`, or a token transfer to the recipient fails) the amount is credited to the
/// recipient (`PaymentDeferred`) and pulled later with `withdraw`, so a reverting client, worker or
/// arbiter contract never blocks the other parties.
///
/// EIP-712 domain: name "ShiftPay MilestoneEscrow", version "1", the chain id and this contract.
/// Signed structs (nonces are per signer and sequential, see `nonces`):
/// `Approval(uint256 jobId,uint256 milestoneIndex,uint256 nonce,uint256 deadline)` and
/// `Settlement(uint256 jobId,uint256 milestoneIndex,uint256 workerBps,uint256 nonce,uint256 deadline)`.
/// Every nonce consumed emits `SignatureNonceUsed` (signed approvals and settlements) or
/// `NonceInvalidated`, so a relayer follows each signer's nonce, a Safe's included, from logs alone.
///
/// Supported tokens: native rBTC (`token = address(0)`) and plain ERC-20 tokens of any decimals
/// whose `transfer` and `transferFrom` move exactly the amount asked, whose balances change only
/// through transfers, and whose transfers neither call back into the recipient nor burn unbounded
/// gas (RIF-style tokens returning `false` and USDT-style tokens returning nothing are fine). The
/// escrow has no owner to rescue anything, so with other tokens:
/// - fee-on-transfer: funding reverts (`Transfers_AmountMismatch`, balances are checked before and
///   after); a fee taken only on payouts pays recipients less than the events say and, if charged
///   to the escrow on top, leaves it short: the last payouts of that token then fail and stay
///   credited (`owed`) without backing;
/// - rebasing: a negative rebase leaves the escrow short in the same way; a positive one, or
///   interest accruing to the escrow, stays locked in the escrow, credited to no one;
/// - blocklists and pausable tokens: a payout the token refuses is credited to its recipient
///   (`PaymentDeferred`) to be withdrawn later or to another address, and the other parties are
///   paid normally;
/// - transfer hooks (ERC-777 style) or tokens burning unbounded gas: a hook cannot re-enter (every
///   entry point is `nonReentrant`), but token transfers get all the gas left, so a transfer that
///   burns it makes every funding and payout in that token cost the whole transaction's gas or
///   run out of it, and may block the jobs paid in that token for good.
/// Funds sent to the escrow outside `createJob` and `fund` (an ERC-20 transfer, a forced native
/// send) are credited to no one and locked for good. Hence, per token, the escrow's balance is
/// always at least (not exactly) the funded milestones not yet paid out plus the credits `owed`.
interface IMilestoneEscrow {
    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice A client created a job offer.
    /// @param jobId The new job's id.
    /// @param client The job's client (the creator).
    /// @param worker The job's worker.
    /// @param params The full terms, including the milestone amounts.
    event JobCreated(uint256 indexed jobId, address indexed client, address indexed worker, JobParams params);

    /// @notice Milestone `milestoneIndex` was funded (`Unfunded` -> `Funded`).
    /// @param jobId The job.
    /// @param client The job's client.
    /// @param worker The job's worker.
    /// @param milestoneIndex The milestone funded.
    /// @param amount The amount escrowed.
    event MilestoneFunded(
        uint256 indexed jobId, address indexed client, address indexed worker, uint256 milestoneIndex, uint256 amount
    );

    /// @notice The worker accepted the offer (`Offered` -> `Active`).
    /// @param jobId The job.
    /// @param client The job's client.
    /// @param worker The job's worker.
    event JobAccepted(uint256 indexed jobId, address indexed client, address indexed worker);

    /// @notice The client withdrew the offer before acceptance (`Offered` -> `Withdrawn`).
    /// @param jobId The job.
    /// @param client The job's client.
    /// @param worker The job's worker.
    /// @param refunded Total refunded to the client (one `MilestoneRefunded` per milestone precedes it).
    event OfferWithdrawn(uint256 indexed jobId, address indexed client, address indexed worker, uint256 refunded);

    /// @notice The worker submitted a milestone (`Funded`/`ChangesRequested` -> `Submitted`).
    /// @param jobId The job.
    /// @param client The job's client.
    /// @param worker The job's worker.
    /// @param milestoneIndex The milestone submitted.
    /// @param deliverableHash Hash of the deliverable (IPFS CID digest, commit hash, sha256, ...).
    /// @param reviewEnd Last second of the client's review window.
    event MilestoneSubmitted(
        uint256 indexed jobId,
        address indexed client,
        address indexed worker,
        uint256 milestoneIndex,
        bytes32 deliverableHash,
        uint256 reviewEnd
    );

    /// @notice The client asked for changes (`Submitted` -> `ChangesRequested`).
    /// @param jobId The job.
    /// @param client The job's client.
    /// @param worker The job's worker.
    /// @param milestoneIndex The milestone.
    /// @param reasonHash Hash of the client's explanation.
    /// @param changeRequests Change requests on this milestone so far, this one included.
    /// @param responseEnd Last second of the worker's window to contest (dispute).
    event ChangesRequested(
        uint256 indexed jobId,
        address indexed client,
        address indexed worker,
        uint256 milestoneIndex,
        bytes32 reasonHash,
        uint256 changeRequests,
        uint256 responseEnd
    );

    /// @notice The client approved a milestone and it was paid to the worker (-> `Released`).
    /// @param jobId The job.
    /// @param client The job's client.
    /// @param worker The job's worker.
    /// @param milestoneIndex The milestone.
    /// @param amount The amount paid to the worker.
    /// @param bySignature True when approved by an EIP-712 signature submitted by anyone.
    event MilestoneApproved(
        uint256 indexed jobId,
        address indexed client,
        address indexed worker,
        uint256 milestoneIndex,
        uint256 amount,
        bool bySignature
    );

    /// @notice The review window passed in silence and the milestone was paid to the worker
    /// (`Submitted` -> `Released`).
    /// @param jobId The job.
    /// @param client The job's client.
    /// @param worker The job's worker.
    /// @param milestoneIndex The milestone.
    /// @param amount The amount paid to the worker.
    /// @param caller Who triggered the release (anyone may, typically the relayer).
    event MilestoneReleasedAfterReview(
        uint256 indexed jobId,
        address indexed client,
        address indexed worker,
        uint256 milestoneIndex,
        uint256 amount,
        address caller
    );

    /// @notice A party disputed a milestone (-> `Disputed`).
    /// @param jobId The job.
    /// @param client The job's client.
    /// @param worker The job's worker.
    /// @param milestoneIndex The milestone.
    /// @param disputant The client or the worker.
    /// @param rulingEnd Last second the arbiter may rule; afterwards either party may split 50/50.
    event MilestoneDisputed(
        uint256 indexed jobId,
        address indexed client,
        address indexed worker,
        uint256 milestoneIndex,
        address disputant,
        uint256 rulingEnd
    );

    /// @notice A milestone was split between the parties (-> `Resolved`).
    /// @param jobId The job.
    /// @param client The job's client.
    /// @param worker The job's worker.
    /// @param milestoneIndex The milestone.
    /// @param resolution Arbiter ruling, ruling timeout (50/50) or signed settlement.
    /// @param workerAmount Paid to the worker.
    /// @param clientAmount Paid back to the client.
    /// @param arbiterFee Paid to the arbiter (zero unless the arbiter ruled).
    event MilestoneResolved(
        uint256 indexed jobId,
        address indexed client,
        address indexed worker,
        uint256 milestoneIndex,
        Resolution resolution,
        uint256 workerAmount,
        uint256 clientAmount,
        uint256 arbiterFee
    );

    /// @notice A funded milestone went back to the client (-> `Refunded`): offer withdrawn, job
    /// cancelled (after the notice), worker resigned, deadline passed, or an abandoned change
    /// request reclaimed (`reclaimAbandoned`, the only case not followed by a job-level event).
    /// @param jobId The job.
    /// @param client The job's client.
    /// @param worker The job's worker.
    /// @param milestoneIndex The milestone.
    /// @param amount The amount refunded.
    event MilestoneRefunded(
        uint256 indexed jobId, address indexed client, address indexed worker, uint256 milestoneIndex, uint256 amount
    );

    /// @notice The client gave the worker notice of cancellation (`Active` -> `Cancelling`): funded
    /// milestones stay submittable until `noticeEnd`, then `finalizeCancel` refunds the rest.
    /// @param jobId The job.
    /// @param client The job's client.
    /// @param worker The job's worker.
    /// @param noticeEnd Last second the worker may still submit a funded milestone.
    event CancellationNoticed(
        uint256 indexed jobId, address indexed client, address indexed worker, uint256 noticeEnd
    );

    /// @notice The job is cancelled (`Active` -> `Cancelled` when there was nothing to give notice
    /// for, `Cancelling` -> `Cancelled` after the notice).
    /// @param jobId The job.
    /// @param client The job's client.
    /// @param worker The job's worker.
    /// @param refunded Total refunded (one `MilestoneRefunded` per milestone precedes it).
    event JobCancelled(uint256 indexed jobId, address indexed client, address indexed worker, uint256 refunded);

    /// @notice The worker resigned (`Active` or `Cancelling` -> `Resigned`).
    /// @param jobId The job.
    /// @param client The job's client.
    /// @param worker The job's worker.
    /// @param refunded Total refunded (one `MilestoneRefunded` per milestone precedes it).
    event WorkerResigned(uint256 indexed jobId, address indexed client, address indexed worker, uint256 refunded);

    /// @notice After the deadline the client reclaimed the milestones never submitted.
    /// @param jobId The job.
    /// @param client The job's client.
    /// @param worker The job's worker.
    /// @param refunded Total refunded (one `MilestoneRefunded` per milestone precedes it).
    event ExpiredMilestonesReclaimed(
        uint256 indexed jobId, address indexed client, address indexed worker, uint256 refunded
    );

    /// @notice A payout could not be pushed and was credited to `account` instead.
    /// @param jobId The job the payout belongs to.
    /// @param account Who is owed the amount (withdraw it with `withdraw`).
    /// @param token The token (address(0) for rBTC).
    /// @param amount The amount credited.
    event PaymentDeferred(uint256 indexed jobId, address indexed account, address indexed token, uint256 amount);

    /// @notice `account` withdrew its deferred payments in `token` to `to`.
    /// @param account Who was owed.
    /// @param token The token (address(0) for rBTC).
    /// @param to Where the amount went.
    /// @param amount The amount withdrawn.
    event DeferredPaymentWithdrawn(address indexed account, address indexed token, address to, uint256 amount);

    /// @notice `signer` invalidated its signatures signed with `nonce`.
    /// @param signer Who invalidated.
    /// @param nonce The nonce consumed.
    event NonceInvalidated(address indexed signer, uint256 nonce);

    /// @notice A signature of `signer` was checked and its nonce consumed: one event per signature
    /// a signed approval (`approveMilestoneWithSignature`) or a settlement (`settle`) verified, just
    /// before that call's `MilestoneApproved` or `MilestoneResolved`. A party that calls `settle`
    /// itself consumes no nonce and gets no event. For a contract signer (a Safe answering EIP-1271)
    /// `signer` is the contract. The signer's next nonce is `nonce + 1`.
    /// @param jobId The job.
    /// @param signer The client or worker whose signature was used.
    /// @param milestoneIndex The milestone approved or settled.
    /// @param nonce The nonce the signature was made with.
    event SignatureNonceUsed(
        uint256 indexed jobId, address indexed signer, uint256 milestoneIndex, uint256 nonce
    );

    /*//////////////////////////////////////////////////////////////
                               CONSTANTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Most milestones in one job, so that every job-wide call fits in a Rootstock block.
    /// @return The cap (50).
    function MAX_MILESTONES() external view returns (uint256);

    /// @notice Cap on the arbiter fee.
    /// @return The cap in basis points (1000 = 10%).
    function MAX_ARBITER_FEE_BPS() external view returns (uint256);

    /// @notice Change requests per milestone the CLI proposes by default.
    /// @return The default (2).
    function DEFAULT_MAX_CHANGE_REQUESTS() external view returns (uint256);

    /// @notice Cap on the change requests per milestone a job may allow.
    /// @return The cap (10).
    function MAX_CHANGE_REQUESTS() external view returns (uint256);

    /// @notice Longest review or ruling period.
    /// @return The cap in seconds (365 days).
    function MAX_PERIOD() external view returns (uint256);

    /// @notice Gas forwarded with a native payout; a recipient needing more is credited instead.
    /// @return The gas cap.
    function NATIVE_PAYOUT_GAS() external view returns (uint256);

    /// @notice EIP-712 type hash of `Approval(uint256 jobId,uint256 milestoneIndex,uint256 nonce,uint256 deadline)`.
    /// @return The type hash.
    function APPROVAL_TYPEHASH() external view returns (bytes32);

    /// @notice EIP-712 type hash of
    /// `Settlement(uint256 jobId,uint256 milestoneIndex,uint256 workerBps,uint256 nonce,uint256 deadline)`.
    /// @return The type hash.
    function SETTLEMENT_TYPEHASH() external view returns (bytes32);

    /*//////////////////////////////////////////////////////////////
                                 CREATE
    //////////////////////////////////////////////////////////////*/

    /// @notice Creates a job offer to `params.worker` and funds its first `fundCount` milestones.
    /// @dev The caller becomes the client. Native: send exactly the funded total as `msg.value`;
    /// ERC-20: approve it first (short-paying tokens revert with `Transfers_AmountMismatch`).
    /// @param params The job's terms.
    /// @param fundCount How many milestones to fund now, from index 0 (0 to all of them).
    /// @return jobId The new job's id (ids start at 1).
    function createJob(JobParams calldata params, uint256 fundCount) external payable returns (uint256 jobId);

    /// @notice Funds milestones `[from, from + count)` of a job, all of which must be unfunded.
    /// @dev Client only, while the job is offered or active (not during a cancellation notice) and
    /// before its deadline.
    /// @param jobId The job.
    /// @param from First milestone to fund.
    /// @param count How many consecutive milestones to fund (at least one).
    function fund(uint256 jobId, uint256 from, uint256 count) external payable;

    /*//////////////////////////////////////////////////////////////
                                 OFFER
    //////////////////////////////////////////////////////////////*/

    /// @notice The worker accepts the offer; the job becomes active.
    /// @param jobId The job.
    function acceptJob(uint256 jobId) external;

    /// @notice The client withdraws an offer not yet accepted and gets every funded milestone back.
    /// @param jobId The job.
    function withdrawOffer(uint256 jobId) external;

    /*//////////////////////////////////////////////////////////////
                                  WORK
    //////////////////////////////////////////////////////////////*/

    /// @notice The worker submits a milestone for review, starting the review window.
    /// @dev A funded milestone needs `block.timestamp <= deadline` and an active job, or a job
    /// under cancellation notice with `block.timestamp <= cancelNoticeEnd` (after it:
    /// `MilestoneEscrow_NoticeOver`); a milestone with changes requested may be resubmitted at any
    /// time, even after a cancel or the deadline (the client asked for the revision), until the
    /// client reclaims it (`reclaimAbandoned`, jobs without an arbiter).
    /// @param jobId The job.
    /// @param milestoneIndex The milestone.
    /// @param deliverableHash Hash identifying the deliverable.
    function submit(uint256 jobId, uint256 milestoneIndex, bytes32 deliverableHash) external;

    /// @notice The client approves a milestone: its amount is paid to the worker at once.
    /// @dev Allowed on funded (pay early), submitted, changes-requested and disputed (concede)
    /// milestones of an accepted job. No arbiter fee.
    /// @param jobId The job.
    /// @param milestoneIndex The milestone.
    function approveMilestone(uint256 jobId, uint256 milestoneIndex) external;

    /// @notice Anyone submits the client's EIP-712 `Approval`; same effect as `approveMilestone`.
    /// @dev Consumes the client's current nonce and emits `SignatureNonceUsed(jobId, client,
    /// milestoneIndex, nonce)`. EOA clients sign with ECDSA, contract clients (Safes) answer EIP-1271.
    /// @param jobId The job.
    /// @param milestoneIndex The milestone.
    /// @param deadline Last second the signature is valid.
    /// @param signature The client's signature of `Approval(jobId, milestoneIndex, nonces(client), deadline)`.
    function approveMilestoneWithSignature(
        uint256 jobId,
        uint256 milestoneIndex,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Anyone pays a submitted milestone to the worker once its review window passed
    /// without an answer.
    /// @param jobId The job.
    /// @param milestoneIndex The milestone.
    function releaseAfterReview(uint256 jobId, uint256 milestoneIndex) external;

    /// @notice The client asks for changes on a submitted milestone within its review window.
    /// @dev At most `maxChangeRequests` times per milestone; then only approve, dispute (with an
    /// arbiter), a settlement or the review window's silence (which pays the worker) remain.
    /// Opens a response window of one review period for the worker to resubmit or contest; if the
    /// worker does neither, the client disputes (with an arbiter) or reclaims the milestone
    /// (`reclaimAbandoned`, without one).
    /// @param jobId The job.
    /// @param milestoneIndex The milestone.
    /// @param reasonHash Hash of the explanation of the changes wanted.
    function requestChanges(uint256 jobId, uint256 milestoneIndex, bytes32 reasonHash) external;

    /*//////////////////////////////////////////////////////////////
                                DISPUTES
    //////////////////////////////////////////////////////////////*/

    /// @notice A party disputes a milestone, starting the arbiter's ruling period.
    /// @dev Only on jobs with an arbiter (`MilestoneEscrow_NoArbiter` otherwise): without one no
    /// one could rule, and a dispute would only end in the 50/50 timeout split, half of delivered
    /// work for the client for nothing. Client: a submitted milestone within its review window, or
    /// a changes-requested one whose worker let the response window pass. Worker: a
    /// changes-requested milestone within the response window (the worker contests the change
    /// request). If the arbiter does not rule within `rulingPeriod`, either party may split the
    /// milestone 50/50 without fee (`settleAfterRulingTimeout`): choosing an arbiter means
    /// accepting that default.
    /// @param jobId The job.
    /// @param milestoneIndex The milestone.
    function dispute(uint256 jobId, uint256 milestoneIndex) external;

    /// @notice The arbiter rules a disputed milestone within the ruling period.
    /// @dev The fee (`arbiterFeeBps` of the milestone) goes to the arbiter; the rest is split,
    /// `workerBps` of it to the worker and the remainder to the client.
    /// @param jobId The job.
    /// @param milestoneIndex The milestone.
    /// @param workerBps The worker's share of the milestone after the fee, in basis points.
    function resolve(uint256 jobId, uint256 milestoneIndex, uint256 workerBps) external;

    /// @notice Once the ruling period passed without a ruling, either party splits the milestone
    /// 50/50 (the worker gets half rounded down). No arbiter fee.
    /// @dev The default ruling of a silent arbiter: callable from `block.timestamp > windowEnd`
    /// (the arbiter may rule up to and including `windowEnd`). Only disputed milestones qualify,
    /// and only jobs with an arbiter can have them.
    /// @param jobId The job.
    /// @param milestoneIndex The milestone.
    function settleAfterRulingTimeout(uint256 jobId, uint256 milestoneIndex) external;

    /// @notice Splits any open funded milestone as both parties agreed, without the arbiter and
    /// without fee.
    /// @dev Each party either is the caller (its signature is then ignored and may be empty) or
    /// signed `Settlement(jobId, milestoneIndex, workerBps, nonces(party), deadline)`; each checked
    /// signature consumes its signer's nonce and emits `SignatureNonceUsed` (client first). Works
    /// on funded, submitted, changes-requested and disputed milestones, with or without an arbiter
    /// and whatever the job's status: it is how parties without an arbiter agree any split.
    /// @param jobId The job.
    /// @param milestoneIndex The milestone.
    /// @param workerBps The worker's share in basis points; the client gets the rest.
    /// @param deadline Last second the signatures are valid.
    /// @param clientSignature The client's signature (or empty when the client calls).
    /// @param workerSignature The worker's signature (or empty when the worker calls).
    function settle(
        uint256 jobId,
        uint256 milestoneIndex,
        uint256 workerBps,
        uint256 deadline,
        bytes calldata clientSignature,
        bytes calldata workerSignature
    ) external;

    /*//////////////////////////////////////////////////////////////
                                 ENDING
    //////////////////////////////////////////////////////////////*/

    /// @notice The client cancels an active job, giving the worker notice: cancelling never dodges
    /// a payment, not even one whose submission is still pending in the mempool.
    /// @dev Client only, job `Active`. If funded milestones remain that the worker may still
    /// submit, the job becomes `Cancelling` with `cancelNoticeEnd = min(now + reviewPeriod,
    /// deadline)` (no deadline: `now + reviewPeriod`) and emits `CancellationNoticed`; nothing is
    /// refunded yet. The notice lasts one review period, as long as the client has to review a
    /// submission, and never beyond the deadline the worker already accepted. During the notice
    /// the worker may still submit funded milestones (up to and including `cancelNoticeEnd`),
    /// every submitted one runs the normal review (approve, change requests, disputes, silence
    /// pays), the client can no longer fund, the worker may `resign` and anyone may
    /// `finalizeCancel` once it is over. If no funded milestone remains, or the deadline has
    /// already passed (the worker can no longer submit), the job is `Cancelled` at once and the
    /// funded milestones are refunded (`JobCancelled`). Submitted, changes-requested and disputed
    /// milestones always stay to be resolved; unfunded ones stay unfunded.
    /// @param jobId The job.
    function cancel(uint256 jobId) external;

    /// @notice Once the cancellation notice is over, refunds to the client the funded milestones
    /// the worker did not submit and marks the job `Cancelled`.
    /// @dev Anyone may call (the refund only ever goes to the client, so a relayer can finish the
    /// job), from `block.timestamp > cancelNoticeEnd` (`MilestoneEscrow_NoticeRunning` before).
    /// Job `Cancelling` only. Emits `MilestoneRefunded` per milestone and `JobCancelled`.
    /// @param jobId The job.
    function finalizeCancel(uint256 jobId) external;

    /// @notice The worker resigns from an active job (or one under cancellation notice, waiving
    /// the notice): funded and changes-requested milestones go back to the client at once;
    /// submitted and disputed milestones stay to be resolved.
    /// @param jobId The job.
    function resign(uint256 jobId) external;

    /// @notice After the deadline, the client reclaims the funded milestones never submitted.
    /// @dev Jobs `Offered` or `Active`. A job under cancellation notice uses `finalizeCancel`
    /// instead: its notice never outlasts the deadline.
    /// @param jobId The job.
    function reclaimExpired(uint256 jobId) external;

    /// @notice On a job without an arbiter, the client takes back a milestone whose worker left a
    /// change request unanswered (neither resubmitted nor settled) for the whole response window.
    /// @dev Client only; milestone `ChangesRequested` and `block.timestamp > windowEnd`
    /// (`MilestoneEscrow_WindowOpen` before). The worker had one review period to resubmit, which
    /// costs nothing and, once the change requests are used up, guarantees payment by the client's
    /// silence; not answering abandons the milestone. Until the client reclaims it the worker may
    /// still resubmit late. Jobs with an arbiter dispute instead (`MilestoneEscrow_HasArbiter`).
    /// Emits `MilestoneRefunded`.
    /// @param jobId The job.
    /// @param milestoneIndex The milestone.
    function reclaimAbandoned(uint256 jobId, uint256 milestoneIndex) external;

    /// @notice Withdraws every payout credited to the caller in `token` after a failed push.
    /// @dev `to` may be neither address(0) nor the escrow itself (`MilestoneEscrow_InvalidRecipient`).
    /// @param token The token (address(0) for rBTC).
    /// @param to Where to send it (a contract that cannot receive may name another address).
    function withdraw(address token, address to) external;

    /// @notice Consumes the caller's current nonce, invalidating every signature made with it.
    function invalidateNonce() external;

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @notice Number of jobs created (the last job id).
    /// @return The count.
    function jobCount() external view returns (uint256);

    /// @notice A job's terms and status, and the end of the cancellation notice if one was given.
    /// @param jobId The job.
    /// @return The job (all zero with status `None` if it does not exist).
    function getJob(uint256 jobId) external view returns (Job memory);

    /// @notice One milestone of a job.
    /// @param jobId The job.
    /// @param milestoneIndex The milestone.
    /// @return The milestone.
    function getMilestone(uint256 jobId, uint256 milestoneIndex) external view returns (Milestone memory);

    /// @notice Every milestone of a job.
    /// @param jobId The job.
    /// @return The milestones, by index.
    function getMilestones(uint256 jobId) external view returns (Milestone[] memory);

    /// @notice Current EIP-712 nonce of a signer.
    /// @param signer The signer.
    /// @return The nonce the next signature must use.
    function nonces(address signer) external view returns (uint256);

    /// @notice Payouts credited to `account` in `token` after failed pushes.
    /// @param token The token (address(0) for rBTC).
    /// @param account The account.
    /// @return The amount `account` can withdraw.
    function owed(address token, address account) external view returns (uint256);

    /// @notice The EIP-712 domain separator of this contract on this chain.
    /// @return The domain separator.
    function domainSeparator() external view returns (bytes32);

    /// @notice The EIP-712 digest a client signs to approve a milestone.
    /// @param jobId The job.
    /// @param milestoneIndex The milestone.
    /// @param nonce The client's nonce.
    /// @param deadline Last second the signature is valid.
    /// @return The digest.
    function approvalDigest(uint256 jobId, uint256 milestoneIndex, uint256 nonce, uint256 deadline)
        external
        view
        returns (bytes32);

    /// @notice The EIP-712 digest a party signs to settle a milestone.
    /// @param jobId The job.
    /// @param milestoneIndex The milestone.
    /// @param workerBps The worker's share in basis points.
    /// @param nonce The signer's nonce.
    /// @param deadline Last second the signature is valid.
    /// @return The digest.
    function settlementDigest(
        uint256 jobId,
        uint256 milestoneIndex,
        uint256 workerBps,
        uint256 nonce,
        uint256 deadline
    ) external view returns (bytes32);
}
