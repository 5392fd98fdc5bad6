// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

import {IMilestoneEscrow} from "./interfaces/IMilestoneEscrow.sol";
import {Errors} from "./libraries/Errors.sol";
import {Signatures} from "./libraries/Signatures.sol";
import {Transfers} from "./libraries/Transfers.sol";
import {Job, JobParams, JobStatus, Milestone, MilestoneStatus, Resolution} from "./types/EscrowTypes.sol";

/// @title MilestoneEscrow
/// @notice Milestone escrow for hiring a freelancer or part-time worker, paid in native rBTC or an
/// ERC-20 token, with worker-protecting timeouts, capped change requests, cancellation with notice,
/// arbiter disputes with a default 50/50 ruling (no disputes without an arbiter), and EIP-712 /
/// EIP-1271 signed approvals and settlements.
/// @dev See `IMilestoneEscrow` for the rules and `MilestoneStatus` for the state machine. Every
/// state-changing entry point is `nonReentrant` and follows checks-effects-interactions: the
/// milestone and job states are final before any token or native transfer.
// Every window and deadline is a timestamp comparison by design; a miner's few seconds of drift
// cannot matter for review and ruling periods measured in hours or days.
// forge-lint: disable-start(block-timestamp)
contract MilestoneEscrow is IMilestoneEscrow, EIP712, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @inheritdoc IMilestoneEscrow
    uint256 public constant MAX_MILESTONES = 50;
    /// @inheritdoc IMilestoneEscrow
    uint256 public constant MAX_ARBITER_FEE_BPS = 1_000;
    /// @inheritdoc IMilestoneEscrow
    uint256 public constant DEFAULT_MAX_CHANGE_REQUESTS = 2;
    /// @inheritdoc IMilestoneEscrow
    uint256 public constant MAX_CHANGE_REQUESTS = 10;
    /// @inheritdoc IMilestoneEscrow
    uint256 public constant MAX_PERIOD = 365 days;
    /// @inheritdoc IMilestoneEscrow
    /// @dev Enough for a Safe or a smart wallet's `receive`, small enough that a gas-burning
    /// recipient costs the caller little.
    uint256 public constant NATIVE_PAYOUT_GAS = 50_000;
    /// @inheritdoc IMilestoneEscrow
    bytes32 public constant APPROVAL_TYPEHASH =
        keccak256("Approval(uint256 jobId,uint256 milestoneIndex,uint256 nonce,uint256 deadline)");
    /// @inheritdoc IMilestoneEscrow
    bytes32 public constant SETTLEMENT_TYPEHASH = keccak256(
        "Settlement(uint256 jobId,uint256 milestoneIndex,uint256 workerBps,uint256 nonce,uint256 deadline)"
    );

    /// @dev 100% in basis points.
    uint256 private constant BPS = 10_000;
    /// @dev Gas kept beyond the forwarded cap for the value transfer and the credit fallback.
    uint256 private constant PAYOUT_GAS_MARGIN = 40_000;

    /// @inheritdoc IMilestoneEscrow
    uint256 public jobCount;
    /// @inheritdoc IMilestoneEscrow
    mapping(address signer => uint256 nonce) public nonces;
    /// @inheritdoc IMilestoneEscrow
    mapping(address token => mapping(address account => uint256 amount)) public owed;

    mapping(uint256 jobId => Job job) private _jobs;
    mapping(uint256 jobId => mapping(uint256 milestoneIndex => Milestone milestone)) private _milestones;

    constructor() EIP712("ShiftPay MilestoneEscrow", "1") {}

    /*//////////////////////////////////////////////////////////////
                                 CREATE
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMilestoneEscrow
    function createJob(JobParams calldata params, uint256 fundCount)
        external
        payable
        nonReentrant
        returns (uint256 jobId)
    {
        _validateParams(params);
        uint256 count = params.amounts.length;
        if (fundCount > count) revert Errors.MilestoneEscrow_InvalidRange(0, fundCount, count);

        jobId = ++jobCount;
        _jobs[jobId] = Job({
            client: msg.sender,
            deadline: params.deadline,
            // casting is safe: count <= MAX_MILESTONES (50), checked in _validateParams
            // forge-lint: disable-next-line(unsafe-typecast)
            milestoneCount: uint8(count),
            status: JobStatus.Offered,
            worker: params.worker,
            reviewPeriod: params.reviewPeriod,
            rulingPeriod: params.rulingPeriod,
            arbiterFeeBps: params.arbiterFeeBps,
            maxChangeRequests: params.maxChangeRequests,
            token: params.token,
            cancelNoticeEnd: 0,
            arbiter: params.arbiter,
            metadataHash: params.metadataHash
        });
        emit JobCreated(jobId, msg.sender, params.worker, params);

        uint256 total = 0;
        mapping(uint256 => Milestone) storage milestones = _milestones[jobId];
        for (uint256 i; i < count; ++i) {
            uint256 amount = params.amounts[i];
            bool funded = i < fundCount;
            milestones[i] = Milestone({
                // casting is safe: every amount <= type(uint128).max, checked in _validateParams
                // forge-lint: disable-next-line(unsafe-typecast)
                amount: uint128(amount),
                status: funded ? MilestoneStatus.Funded : MilestoneStatus.Unfunded,
                changeRequests: 0,
                windowEnd: 0
            });
            if (funded) {
                total += amount;
                emit MilestoneFunded(jobId, msg.sender, params.worker, i, amount);
            }
        }
        _pullFunds(params.token, total);
    }

    /// @inheritdoc IMilestoneEscrow
    function fund(uint256 jobId, uint256 from, uint256 count) external payable nonReentrant {
        Job storage job = _existingJob(jobId);
        _onlyClient(job);
        JobStatus status = job.status;
        if (status != JobStatus.Offered && status != JobStatus.Active) {
            revert Errors.MilestoneEscrow_WrongJobStatus(jobId, uint8(status));
        }
        uint256 deadline = job.deadline;
        if (deadline != 0 && block.timestamp > deadline) revert Errors.MilestoneEscrow_DeadlinePassed(jobId, deadline);
        uint256 milestoneCount = job.milestoneCount;
        if (count == 0 || from >= milestoneCount || count > milestoneCount - from) {
            revert Errors.MilestoneEscrow_InvalidRange(from, count, milestoneCount);
        }

        address worker = job.worker;
        uint256 total = 0;
        for (uint256 i = from; i < from + count; ++i) {
            Milestone storage milestone = _milestones[jobId][i];
            if (milestone.status != MilestoneStatus.Unfunded) {
                revert Errors.MilestoneEscrow_WrongMilestoneStatus(jobId, i, uint8(milestone.status));
            }
            milestone.status = MilestoneStatus.Funded;
            total += milestone.amount;
            emit MilestoneFunded(jobId, msg.sender, worker, i, milestone.amount);
        }
        _pullFunds(job.token, total);
    }

    /*//////////////////////////////////////////////////////////////
                                 OFFER
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMilestoneEscrow
    function acceptJob(uint256 jobId) external nonReentrant {
        Job storage job = _existingJob(jobId);
        _onlyWorker(job);
        _requireJobStatus(jobId, job, JobStatus.Offered);
        job.status = JobStatus.Active;
        emit JobAccepted(jobId, job.client, msg.sender);
    }

    /// @inheritdoc IMilestoneEscrow
    function withdrawOffer(uint256 jobId) external nonReentrant {
        Job storage job = _existingJob(jobId);
        _onlyClient(job);
        _requireJobStatus(jobId, job, JobStatus.Offered);
        job.status = JobStatus.Withdrawn;
        uint256 refunded = _refundOpenMilestones(jobId, job, false);
        emit OfferWithdrawn(jobId, msg.sender, job.worker, refunded);
        _pay(jobId, job.token, msg.sender, refunded);
    }

    /*//////////////////////////////////////////////////////////////
                                  WORK
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMilestoneEscrow
    function submit(uint256 jobId, uint256 milestoneIndex, bytes32 deliverableHash) external nonReentrant {
        Job storage job = _existingJob(jobId);
        _onlyWorker(job);
        Milestone storage milestone = _existingMilestone(jobId, job, milestoneIndex);
        MilestoneStatus status = milestone.status;
        if (status == MilestoneStatus.Funded) {
            JobStatus jobStatus = job.status;
            if (jobStatus == JobStatus.Cancelling) {
                // The worker's notice: funded milestones stay submittable up to its last second.
                uint256 noticeEnd = job.cancelNoticeEnd;
                if (block.timestamp > noticeEnd) revert Errors.MilestoneEscrow_NoticeOver(jobId, noticeEnd);
            } else if (jobStatus != JobStatus.Active) {
                revert Errors.MilestoneEscrow_WrongJobStatus(jobId, uint8(jobStatus));
            }
            uint256 deadline = job.deadline;
            if (deadline != 0 && block.timestamp > deadline) {
                revert Errors.MilestoneEscrow_DeadlinePassed(jobId, deadline);
            }
        } else if (status != MilestoneStatus.ChangesRequested) {
            revert Errors.MilestoneEscrow_WrongMilestoneStatus(jobId, milestoneIndex, uint8(status));
        }
        uint256 reviewEnd = block.timestamp + job.reviewPeriod;
        milestone.status = MilestoneStatus.Submitted;
        // casting is safe: now + a period of at most MAX_PERIOD fits in 64 bits for billions of years
        // forge-lint: disable-next-line(unsafe-typecast)
        milestone.windowEnd = uint64(reviewEnd);
        emit MilestoneSubmitted(jobId, job.client, msg.sender, milestoneIndex, deliverableHash, reviewEnd);
    }

    /// @inheritdoc IMilestoneEscrow
    function approveMilestone(uint256 jobId, uint256 milestoneIndex) external nonReentrant {
        Job storage job = _existingJob(jobId);
        _onlyClient(job);
        _approve(jobId, job, milestoneIndex, false);
    }

    /// @inheritdoc IMilestoneEscrow
    function approveMilestoneWithSignature(
        uint256 jobId,
        uint256 milestoneIndex,
        uint256 deadline,
        bytes calldata signature
    ) external nonReentrant {
        Job storage job = _existingJob(jobId);
        if (block.timestamp > deadline) revert Errors.MilestoneEscrow_SignatureExpired(deadline);
        address client = job.client;
        uint256 nonce = nonces[client]++;
        bytes32 digest = _approvalDigest(jobId, milestoneIndex, nonce, deadline);
        if (!Signatures.isValidSignatureNow(client, digest, signature)) {
            revert Errors.MilestoneEscrow_InvalidSignature(client);
        }
        emit SignatureNonceUsed(jobId, client, milestoneIndex, nonce);
        _approve(jobId, job, milestoneIndex, true);
    }

    /// @inheritdoc IMilestoneEscrow
    function releaseAfterReview(uint256 jobId, uint256 milestoneIndex) external nonReentrant {
        Job storage job = _existingJob(jobId);
        Milestone storage milestone = _existingMilestone(jobId, job, milestoneIndex);
        _requireMilestoneStatus(jobId, milestoneIndex, milestone, MilestoneStatus.Submitted);
        _requireWindowOver(jobId, milestoneIndex, milestone);
        uint256 amount = milestone.amount;
        milestone.status = MilestoneStatus.Released;
        address worker = job.worker;
        emit MilestoneReleasedAfterReview(jobId, job.client, worker, milestoneIndex, amount, msg.sender);
        _pay(jobId, job.token, worker, amount);
    }

    /// @inheritdoc IMilestoneEscrow
    function requestChanges(uint256 jobId, uint256 milestoneIndex, bytes32 reasonHash) external nonReentrant {
        Job storage job = _existingJob(jobId);
        _onlyClient(job);
        Milestone storage milestone = _existingMilestone(jobId, job, milestoneIndex);
        _requireMilestoneStatus(jobId, milestoneIndex, milestone, MilestoneStatus.Submitted);
        _requireWindowOpen(jobId, milestoneIndex, milestone);
        uint256 changeRequests = milestone.changeRequests;
        if (changeRequests >= job.maxChangeRequests) {
            revert Errors.MilestoneEscrow_ChangeRequestLimitReached(jobId, milestoneIndex, job.maxChangeRequests);
        }
        uint256 responseEnd = block.timestamp + job.reviewPeriod;
        milestone.status = MilestoneStatus.ChangesRequested;
        // casting is safe: changeRequests < maxChangeRequests <= MAX_CHANGE_REQUESTS (10)
        // forge-lint: disable-next-line(unsafe-typecast)
        milestone.changeRequests = uint8(changeRequests + 1);
        // forge-lint: disable-next-line(unsafe-typecast)
        milestone.windowEnd = uint64(responseEnd);
        emit ChangesRequested(
            jobId, msg.sender, job.worker, milestoneIndex, reasonHash, changeRequests + 1, responseEnd
        );
    }

    /*//////////////////////////////////////////////////////////////
                                DISPUTES
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMilestoneEscrow
    function dispute(uint256 jobId, uint256 milestoneIndex) external nonReentrant {
        Job storage job = _existingJob(jobId);
        // Without an arbiter nobody could rule: the dispute would only end in the 50/50 timeout.
        if (job.arbiter == address(0)) revert Errors.MilestoneEscrow_NoArbiter(jobId);
        Milestone storage milestone = _existingMilestone(jobId, job, milestoneIndex);
        MilestoneStatus status = milestone.status;
        if (msg.sender == job.client) {
            if (status == MilestoneStatus.Submitted) {
                _requireWindowOpen(jobId, milestoneIndex, milestone);
            } else if (status == MilestoneStatus.ChangesRequested) {
                // The worker neither resubmitted nor contested within the response window.
                _requireWindowOver(jobId, milestoneIndex, milestone);
            } else {
                revert Errors.MilestoneEscrow_WrongMilestoneStatus(jobId, milestoneIndex, uint8(status));
            }
        } else if (msg.sender == job.worker) {
            _requireMilestoneStatus(jobId, milestoneIndex, milestone, MilestoneStatus.ChangesRequested);
            _requireWindowOpen(jobId, milestoneIndex, milestone);
        } else {
            revert Errors.MilestoneEscrow_NotParty(msg.sender);
        }
        uint256 rulingEnd = block.timestamp + job.rulingPeriod;
        milestone.status = MilestoneStatus.Disputed;
        // casting is safe: now + a period of at most MAX_PERIOD fits in 64 bits for billions of years
        // forge-lint: disable-next-line(unsafe-typecast)
        milestone.windowEnd = uint64(rulingEnd);
        emit MilestoneDisputed(jobId, job.client, job.worker, milestoneIndex, msg.sender, rulingEnd);
    }

    /// @inheritdoc IMilestoneEscrow
    function resolve(uint256 jobId, uint256 milestoneIndex, uint256 workerBps) external nonReentrant {
        Job storage job = _existingJob(jobId);
        address arbiter = job.arbiter;
        if (arbiter == address(0) || msg.sender != arbiter) revert Errors.MilestoneEscrow_NotArbiter(msg.sender);
        if (workerBps > BPS) revert Errors.MilestoneEscrow_InvalidBps(workerBps);
        Milestone storage milestone = _existingMilestone(jobId, job, milestoneIndex);
        _requireMilestoneStatus(jobId, milestoneIndex, milestone, MilestoneStatus.Disputed);
        _requireWindowOpen(jobId, milestoneIndex, milestone);

        uint256 amount = milestone.amount;
        uint256 fee = amount * job.arbiterFeeBps / BPS;
        uint256 workerAmount = (amount - fee) * workerBps / BPS;
        milestone.status = MilestoneStatus.Resolved;
        _paySplit(jobId, job, milestoneIndex, Resolution.ArbiterRuling, workerAmount, amount - fee - workerAmount, fee);
    }

    /// @inheritdoc IMilestoneEscrow
    function settleAfterRulingTimeout(uint256 jobId, uint256 milestoneIndex) external nonReentrant {
        Job storage job = _existingJob(jobId);
        if (msg.sender != job.client && msg.sender != job.worker) revert Errors.MilestoneEscrow_NotParty(msg.sender);
        Milestone storage milestone = _existingMilestone(jobId, job, milestoneIndex);
        _requireMilestoneStatus(jobId, milestoneIndex, milestone, MilestoneStatus.Disputed);
        _requireWindowOver(jobId, milestoneIndex, milestone);

        uint256 amount = milestone.amount;
        uint256 workerAmount = amount / 2;
        milestone.status = MilestoneStatus.Resolved;
        _paySplit(jobId, job, milestoneIndex, Resolution.RulingTimeout, workerAmount, amount - workerAmount, 0);
    }

    /// @inheritdoc IMilestoneEscrow
    function settle(
        uint256 jobId,
        uint256 milestoneIndex,
        uint256 workerBps,
        uint256 deadline,
        bytes calldata clientSignature,
        bytes calldata workerSignature
    ) external nonReentrant {
        Job storage job = _existingJob(jobId);
        if (workerBps > BPS) revert Errors.MilestoneEscrow_InvalidBps(workerBps);
        if (block.timestamp > deadline) revert Errors.MilestoneEscrow_SignatureExpired(deadline);
        Milestone storage milestone = _existingMilestone(jobId, job, milestoneIndex);
        MilestoneStatus status = milestone.status;
        if (status == MilestoneStatus.Unfunded || uint8(status) >= uint8(MilestoneStatus.Released)) {
            revert Errors.MilestoneEscrow_WrongMilestoneStatus(jobId, milestoneIndex, uint8(status));
        }
        // The caller consents by calling; the other party (or both, for a relayer) by signature.
        if (msg.sender != job.client) {
            _checkSettlementSignature(jobId, milestoneIndex, workerBps, deadline, job.client, clientSignature);
        }
        if (msg.sender != job.worker) {
            _checkSettlementSignature(jobId, milestoneIndex, workerBps, deadline, job.worker, workerSignature);
        }

        uint256 amount = milestone.amount;
        uint256 workerAmount = amount * workerBps / BPS;
        milestone.status = MilestoneStatus.Resolved;
        _paySplit(jobId, job, milestoneIndex, Resolution.Settlement, workerAmount, amount - workerAmount, 0);
    }

    /*//////////////////////////////////////////////////////////////
                                 ENDING
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMilestoneEscrow
    function cancel(uint256 jobId) external nonReentrant {
        Job storage job = _existingJob(jobId);
        _onlyClient(job);
        _requireJobStatus(jobId, job, JobStatus.Active);
        uint256 deadline = job.deadline;
        // After the deadline the worker can no longer submit a funded milestone: no notice needed.
        bool deadlinePassed = deadline != 0 && block.timestamp > deadline;
        if (!deadlinePassed && _hasFundedMilestone(jobId, job)) {
            uint256 noticeEnd = block.timestamp + job.reviewPeriod;
            if (deadline != 0 && deadline < noticeEnd) noticeEnd = deadline;
            job.status = JobStatus.Cancelling;
            // casting is safe: noticeEnd <= now + MAX_PERIOD, which fits in 64 bits for billions of years
            // forge-lint: disable-next-line(unsafe-typecast)
            job.cancelNoticeEnd = uint64(noticeEnd);
            emit CancellationNoticed(jobId, msg.sender, job.worker, noticeEnd);
            return;
        }
        _finishCancel(jobId, job);
    }

    /// @inheritdoc IMilestoneEscrow
    function finalizeCancel(uint256 jobId) external nonReentrant {
        Job storage job = _existingJob(jobId);
        _requireJobStatus(jobId, job, JobStatus.Cancelling);
        uint256 noticeEnd = job.cancelNoticeEnd;
        if (block.timestamp <= noticeEnd) revert Errors.MilestoneEscrow_NoticeRunning(jobId, noticeEnd);
        _finishCancel(jobId, job);
    }

    /// @inheritdoc IMilestoneEscrow
    function resign(uint256 jobId) external nonReentrant {
        Job storage job = _existingJob(jobId);
        _onlyWorker(job);
        JobStatus status = job.status;
        if (status != JobStatus.Active && status != JobStatus.Cancelling) {
            revert Errors.MilestoneEscrow_WrongJobStatus(jobId, uint8(status));
        }
        job.status = JobStatus.Resigned;
        uint256 refunded = _refundOpenMilestones(jobId, job, true);
        address client = job.client;
        emit WorkerResigned(jobId, client, msg.sender, refunded);
        _pay(jobId, job.token, client, refunded);
    }

    /// @inheritdoc IMilestoneEscrow
    function reclaimExpired(uint256 jobId) external nonReentrant {
        Job storage job = _existingJob(jobId);
        _onlyClient(job);
        JobStatus status = job.status;
        if (status != JobStatus.Offered && status != JobStatus.Active) {
            revert Errors.MilestoneEscrow_WrongJobStatus(jobId, uint8(status));
        }
        uint256 deadline = job.deadline;
        if (deadline == 0 || block.timestamp <= deadline) {
            revert Errors.MilestoneEscrow_DeadlineNotPassed(jobId, deadline);
        }
        uint256 refunded = _refundOpenMilestones(jobId, job, false);
        emit ExpiredMilestonesReclaimed(jobId, msg.sender, job.worker, refunded);
        _pay(jobId, job.token, msg.sender, refunded);
    }

    /// @inheritdoc IMilestoneEscrow
    function reclaimAbandoned(uint256 jobId, uint256 milestoneIndex) external nonReentrant {
        Job storage job = _existingJob(jobId);
        _onlyClient(job);
        address arbiter = job.arbiter;
        if (arbiter != address(0)) revert Errors.MilestoneEscrow_HasArbiter(jobId, arbiter);
        Milestone storage milestone = _existingMilestone(jobId, job, milestoneIndex);
        _requireMilestoneStatus(jobId, milestoneIndex, milestone, MilestoneStatus.ChangesRequested);
        _requireWindowOver(jobId, milestoneIndex, milestone);
        uint256 amount = milestone.amount;
        milestone.status = MilestoneStatus.Refunded;
        emit MilestoneRefunded(jobId, msg.sender, job.worker, milestoneIndex, amount);
        _pay(jobId, job.token, msg.sender, amount);
    }

    /// @inheritdoc IMilestoneEscrow
    function withdraw(address token, address to) external nonReentrant {
        // Paid to itself, the amount would stay in the escrow credited to no one.
        if (to == address(0) || to == address(this)) revert Errors.MilestoneEscrow_InvalidRecipient();
        uint256 amount = owed[token][msg.sender];
        if (amount == 0) revert Errors.MilestoneEscrow_NothingToWithdraw(token, msg.sender);
        owed[token][msg.sender] = 0;
        emit DeferredPaymentWithdrawn(msg.sender, token, to, amount);
        Transfers.push(token, to, amount);
    }

    /// @inheritdoc IMilestoneEscrow
    function invalidateNonce() external nonReentrant {
        emit NonceInvalidated(msg.sender, nonces[msg.sender]++);
    }

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMilestoneEscrow
    function getJob(uint256 jobId) external view returns (Job memory) {
        return _jobs[jobId];
    }

    /// @inheritdoc IMilestoneEscrow
    function getMilestone(uint256 jobId, uint256 milestoneIndex) external view returns (Milestone memory) {
        return _existingMilestone(jobId, _existingJob(jobId), milestoneIndex);
    }

    /// @inheritdoc IMilestoneEscrow
    function getMilestones(uint256 jobId) external view returns (Milestone[] memory milestones) {
        uint256 count = _jobs[jobId].milestoneCount;
        milestones = new Milestone[](count);
        for (uint256 i; i < count; ++i) {
            milestones[i] = _milestones[jobId][i];
        }
    }

    /// @inheritdoc IMilestoneEscrow
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc IMilestoneEscrow
    function approvalDigest(uint256 jobId, uint256 milestoneIndex, uint256 nonce, uint256 deadline)
        external
        view
        returns (bytes32)
    {
        return _approvalDigest(jobId, milestoneIndex, nonce, deadline);
    }

    /// @inheritdoc IMilestoneEscrow
    function settlementDigest(
        uint256 jobId,
        uint256 milestoneIndex,
        uint256 workerBps,
        uint256 nonce,
        uint256 deadline
    ) external view returns (bytes32) {
        return _settlementDigest(jobId, milestoneIndex, workerBps, nonce, deadline);
    }

    /*//////////////////////////////////////////////////////////////
                               INTERNALS
    //////////////////////////////////////////////////////////////*/

    /// @dev Every creation rule in one place; reverts on the first broken one.
    function _validateParams(JobParams calldata params) private view {
        address worker = params.worker;
        if (worker == address(0) || worker == msg.sender || worker == address(this)) {
            revert Errors.MilestoneEscrow_InvalidWorker(worker);
        }
        address arbiter = params.arbiter;
        if (arbiter == address(0)) {
            if (params.arbiterFeeBps != 0) revert Errors.MilestoneEscrow_InvalidArbiter(arbiter);
        } else if (arbiter == msg.sender || arbiter == worker) {
            revert Errors.MilestoneEscrow_InvalidArbiter(arbiter);
        }
        if (params.arbiterFeeBps > MAX_ARBITER_FEE_BPS) {
            revert Errors.MilestoneEscrow_ArbiterFeeTooHigh(params.arbiterFeeBps, MAX_ARBITER_FEE_BPS);
        }
        if (params.maxChangeRequests > MAX_CHANGE_REQUESTS) {
            revert Errors.MilestoneEscrow_TooManyChangeRequests(params.maxChangeRequests, MAX_CHANGE_REQUESTS);
        }
        if (params.reviewPeriod == 0 || params.reviewPeriod > MAX_PERIOD) {
            revert Errors.MilestoneEscrow_InvalidReviewPeriod(params.reviewPeriod);
        }
        if (params.rulingPeriod == 0 || params.rulingPeriod > MAX_PERIOD) {
            revert Errors.MilestoneEscrow_InvalidRulingPeriod(params.rulingPeriod);
        }
        if (params.deadline != 0 && params.deadline <= block.timestamp) {
            revert Errors.MilestoneEscrow_DeadlineInPast(params.deadline, block.timestamp);
        }
        uint256 count = params.amounts.length;
        if (count == 0 || count > MAX_MILESTONES) {
            revert Errors.MilestoneEscrow_InvalidMilestoneCount(count, MAX_MILESTONES);
        }
        for (uint256 i; i < count; ++i) {
            uint256 amount = params.amounts[i];
            if (amount == 0 || amount > type(uint128).max) revert Errors.MilestoneEscrow_InvalidAmount(i, amount);
        }
    }

    /// @dev Pays the worker the whole milestone (client approval, by call or signature).
    function _approve(uint256 jobId, Job storage job, uint256 milestoneIndex, bool bySignature) private {
        if (job.status == JobStatus.Offered) revert Errors.MilestoneEscrow_WrongJobStatus(jobId, uint8(JobStatus.Offered));
        Milestone storage milestone = _existingMilestone(jobId, job, milestoneIndex);
        MilestoneStatus status = milestone.status;
        if (status == MilestoneStatus.Unfunded || uint8(status) >= uint8(MilestoneStatus.Released)) {
            revert Errors.MilestoneEscrow_WrongMilestoneStatus(jobId, milestoneIndex, uint8(status));
        }
        uint256 amount = milestone.amount;
        milestone.status = MilestoneStatus.Released;
        address worker = job.worker;
        emit MilestoneApproved(jobId, job.client, worker, milestoneIndex, amount, bySignature);
        _pay(jobId, job.token, worker, amount);
    }

    /// @dev Ends a cancellation: the job is `Cancelled`, its funded milestones go back to the client.
    function _finishCancel(uint256 jobId, Job storage job) private {
        job.status = JobStatus.Cancelled;
        uint256 refunded = _refundOpenMilestones(jobId, job, false);
        address client = job.client;
        emit JobCancelled(jobId, client, job.worker, refunded);
        _pay(jobId, job.token, client, refunded);
    }

    /// @dev Whether any milestone of the job is funded and not yet submitted.
    function _hasFundedMilestone(uint256 jobId, Job storage job) private view returns (bool) {
        uint256 count = job.milestoneCount;
        mapping(uint256 => Milestone) storage milestones = _milestones[jobId];
        for (uint256 i; i < count; ++i) {
            if (milestones[i].status == MilestoneStatus.Funded) return true;
        }
        return false;
    }

    /// @dev Marks every funded (and, for a resignation, changes-requested) milestone refunded and
    /// returns the total; the caller pays it to the client in one transfer.
    function _refundOpenMilestones(uint256 jobId, Job storage job, bool includeChangesRequested)
        private
        returns (uint256 refunded)
    {
        uint256 count = job.milestoneCount;
        address client = job.client;
        address worker = job.worker;
        mapping(uint256 => Milestone) storage milestones = _milestones[jobId];
        for (uint256 i; i < count; ++i) {
            Milestone storage milestone = milestones[i];
            MilestoneStatus status = milestone.status;
            if (
                status == MilestoneStatus.Funded
                    || (includeChangesRequested && status == MilestoneStatus.ChangesRequested)
            ) {
                milestone.status = MilestoneStatus.Refunded;
                uint256 amount = milestone.amount;
                refunded += amount;
                emit MilestoneRefunded(jobId, client, worker, i, amount);
            }
        }
    }

    /// @dev Emits the resolution and pays the three shares (state already final).
    function _paySplit(
        uint256 jobId,
        Job storage job,
        uint256 milestoneIndex,
        Resolution resolution,
        uint256 workerAmount,
        uint256 clientAmount,
        uint256 arbiterFee
    ) private {
        address client = job.client;
        address worker = job.worker;
        address token = job.token;
        emit MilestoneResolved(
            jobId, client, worker, milestoneIndex, resolution, workerAmount, clientAmount, arbiterFee
        );
        _pay(jobId, token, worker, workerAmount);
        _pay(jobId, token, client, clientAmount);
        _pay(jobId, token, job.arbiter, arbiterFee);
    }

    /// @dev Pushes a payout; if the recipient cannot take it, credits it for `withdraw` instead so
    /// that no recipient can block a transition that also pays someone else.
    function _pay(uint256 jobId, address token, address to, uint256 amount) private {
        if (amount == 0) return;
        bool delivered;
        if (token == Transfers.NATIVE) {
            // EIP-150 forwards at most 63/64 of what is left; make sure the cap is really available.
            uint256 needed = NATIVE_PAYOUT_GAS + NATIVE_PAYOUT_GAS / 63 + PAYOUT_GAS_MARGIN;
            if (gasleft() < needed) revert Errors.MilestoneEscrow_InsufficientGas(gasleft(), needed);
            delivered = Transfers.tryPushNative(to, amount, NATIVE_PAYOUT_GAS);
        } else {
            delivered = IERC20(token).trySafeTransfer(to, amount);
        }
        if (!delivered) {
            owed[token][to] += amount;
            emit PaymentDeferred(jobId, to, token, amount);
        }
    }

    /// @dev Takes `total` from the caller (exact amount; native needs `msg.value == total`).
    function _pullFunds(address token, uint256 total) private {
        if (total == 0 && msg.value == 0) return;
        Transfers.pullExact(token, total, msg.value);
    }

    /// @dev Consumes `signer`'s nonce and reverts unless `signature` signs the settlement; emits
    /// `SignatureNonceUsed`.
    function _checkSettlementSignature(
        uint256 jobId,
        uint256 milestoneIndex,
        uint256 workerBps,
        uint256 deadline,
        address signer,
        bytes calldata signature
    ) private {
        uint256 nonce = nonces[signer]++;
        bytes32 digest = _settlementDigest(jobId, milestoneIndex, workerBps, nonce, deadline);
        if (!Signatures.isValidSignatureNow(signer, digest, signature)) {
            revert Errors.MilestoneEscrow_InvalidSignature(signer);
        }
        emit SignatureNonceUsed(jobId, signer, milestoneIndex, nonce);
    }

    function _approvalDigest(uint256 jobId, uint256 milestoneIndex, uint256 nonce, uint256 deadline)
        private
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(APPROVAL_TYPEHASH, jobId, milestoneIndex, nonce, deadline)));
    }

    function _settlementDigest(
        uint256 jobId,
        uint256 milestoneIndex,
        uint256 workerBps,
        uint256 nonce,
        uint256 deadline
    ) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(SETTLEMENT_TYPEHASH, jobId, milestoneIndex, workerBps, nonce, deadline))
        );
    }

    function _existingJob(uint256 jobId) private view returns (Job storage job) {
        job = _jobs[jobId];
        if (job.status == JobStatus.None) revert Errors.MilestoneEscrow_JobNotFound(jobId);
    }

    function _existingMilestone(uint256 jobId, Job storage job, uint256 milestoneIndex)
        private
        view
        returns (Milestone storage)
    {
        if (milestoneIndex >= job.milestoneCount) revert Errors.MilestoneEscrow_MilestoneNotFound(jobId, milestoneIndex);
        return _milestones[jobId][milestoneIndex];
    }

    function _onlyClient(Job storage job) private view {
        if (msg.sender != job.client) revert Errors.MilestoneEscrow_NotClient(msg.sender);
    }

    function _onlyWorker(Job storage job) private view {
        if (msg.sender != job.worker) revert Errors.MilestoneEscrow_NotWorker(msg.sender);
    }

    function _requireJobStatus(uint256 jobId, Job storage job, JobStatus expected) private view {
        if (job.status != expected) revert Errors.MilestoneEscrow_WrongJobStatus(jobId, uint8(job.status));
    }

    function _requireMilestoneStatus(
        uint256 jobId,
        uint256 milestoneIndex,
        Milestone storage milestone,
        MilestoneStatus expected
    ) private view {
        if (milestone.status != expected) {
            revert Errors.MilestoneEscrow_WrongMilestoneStatus(jobId, milestoneIndex, uint8(milestone.status));
        }
    }

    /// @dev Within the window: `block.timestamp <= windowEnd`.
    function _requireWindowOpen(uint256 jobId, uint256 milestoneIndex, Milestone storage milestone) private view {
        uint256 windowEnd = milestone.windowEnd;
        if (block.timestamp > windowEnd) revert Errors.MilestoneEscrow_WindowClosed(jobId, milestoneIndex, windowEnd);
    }

    /// @dev After the window: `block.timestamp > windowEnd`.
    function _requireWindowOver(uint256 jobId, uint256 milestoneIndex, Milestone storage milestone) private view {
        uint256 windowEnd = milestone.windowEnd;
        if (block.timestamp <= windowEnd) revert Errors.MilestoneEscrow_WindowOpen(jobId, milestoneIndex, windowEnd);
    }
}
// forge-lint: disable-end(block-timestamp)
