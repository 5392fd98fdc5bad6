// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title Errors
/// @notice Every custom error of the ShiftPay contracts, named `Contract_Reason(args)`.
/// @dev One library so the CLI, relayer and tests decode reverts from one place.
library Errors {
    /*//////////////////////////////////////////////////////////////
                               TRANSFERS
    //////////////////////////////////////////////////////////////*/

    /// @notice The token credited less (or more) than the amount asked for: fee-on-transfer,
    /// rebasing or otherwise non-standard tokens are not supported.
    error Transfers_AmountMismatch(address token, uint256 expected, uint256 received);

    /// @notice `msg.value` does not match the native amount the call declares.
    error Transfers_WrongMsgValue(uint256 expected, uint256 sent);

    /// @notice Native value was sent with a call that moves an ERC-20 token.
    error Transfers_UnexpectedMsgValue(uint256 sent);

    /// @notice A native rBTC transfer to `to` failed (the recipient reverted or ran out of gas).
    error Transfers_NativeTransferFailed(address to, uint256 amount);

    /*//////////////////////////////////////////////////////////////
                                PAYROLL
    //////////////////////////////////////////////////////////////*/

    // <payroll-errors>
    /// @notice An address argument (worker, recipient, employer) is address(0).
    error Payroll_ZeroAddress();

    /// @notice A worker or recipient is the payroll contract itself: tokens paid to it would sit
    /// outside every pool, lost to everyone.
    error Payroll_SelfRecipient();

    /// @notice An amount argument is zero.
    error Payroll_ZeroAmount();

    /// @notice A stream rate is zero (use `pause` to stop a stream).
    error Payroll_ZeroRate();

    /// @notice A stream rate exceeds `type(uint96).max` scaled units per second.
    error Payroll_RateTooHigh(uint256 rate);

    /// @notice An amount does not fit the pool's 128-bit balance.
    error Payroll_AmountTooLarge(uint256 amount);

    /// @notice The token reports more than 18 decimals.
    error Payroll_UnsupportedDecimals(address token, uint256 decimals);

    /// @notice The token has no code or no working `decimals()`.
    error Payroll_InvalidToken(address token);

    /// @notice A stream start lies in the past (0 means "now").
    error Payroll_StartInPast(uint40 start, uint256 currentTime);

    /// @notice An end date is not after both the start and the current time.
    error Payroll_InvalidEnd(uint40 end, uint40 start, uint256 currentTime);

    /// @notice No stream has this id.
    error Payroll_StreamNotFound(uint256 streamId);

    /// @notice The employer never used this token (no deposit, no stream).
    error Payroll_PoolNotFound(address employer, address token);

    /// @notice The caller is not the stream's employer.
    error Payroll_NotEmployer(uint256 streamId, address caller);

    /// @notice The caller is not the stream's worker.
    error Payroll_NotWorker(uint256 streamId, address caller);

    /// @notice The stream was canceled: employer controls no longer apply.
    error Payroll_StreamCanceled(uint256 streamId);

    /// @notice The stream is already paused.
    error Payroll_StreamPaused(uint256 streamId);

    /// @notice The stream is not paused.
    error Payroll_StreamNotPaused(uint256 streamId);

    /// @notice A withdrawal asks for more than the stream's withdrawable amount.
    error Payroll_AmountExceedsWithdrawable(uint256 streamId, uint256 requested, uint256 withdrawable);

    /// @notice An employer withdrawal asks for more than the pool's free part.
    error Payroll_AmountExceedsSurplus(address token, uint256 requested, uint256 surplus);

    /// @notice A signed withdraw request is past its deadline.
    error Payroll_SignatureExpired(uint256 deadline, uint256 currentTime);

    /// @notice A signed withdraw request carries a nonce other than the worker's current one.
    error Payroll_InvalidNonce(address worker, uint256 expected, uint256 provided);

    /// @notice The signature is not the stream worker's (ECDSA or EIP-1271).
    error Payroll_InvalidSignature(uint256 streamId, address worker);
    // </payroll-errors>

    /*//////////////////////////////////////////////////////////////
                            MILESTONE ESCROW
    //////////////////////////////////////////////////////////////*/

    // <escrow-errors>
    /// @notice The job has no worker, or the worker is the client or the escrow itself.
    error MilestoneEscrow_InvalidWorker(address worker);

    /// @notice The arbiter is the client or the worker, or a fee was set without an arbiter.
    error MilestoneEscrow_InvalidArbiter(address arbiter);

    /// @notice A job needs between 1 and `max` milestones.
    error MilestoneEscrow_InvalidMilestoneCount(uint256 count, uint256 max);

    /// @notice Milestone `index` has a zero amount or one above 2^128 - 1.
    error MilestoneEscrow_InvalidAmount(uint256 index, uint256 amount);

    /// @notice The arbiter fee exceeds the cap.
    error MilestoneEscrow_ArbiterFeeTooHigh(uint256 feeBps, uint256 maxFeeBps);

    /// @notice More change requests per milestone than the cap were allowed.
    error MilestoneEscrow_TooManyChangeRequests(uint256 requested, uint256 max);

    /// @notice The review period is zero or longer than the maximum period.
    error MilestoneEscrow_InvalidReviewPeriod(uint256 period);

    /// @notice The ruling period is zero or longer than the maximum period.
    error MilestoneEscrow_InvalidRulingPeriod(uint256 period);

    /// @notice The job deadline is not in the future.
    error MilestoneEscrow_DeadlineInPast(uint256 deadline, uint256 nowTimestamp);

    /// @notice The milestone range `[from, from + count)` is empty or outside the job.
    error MilestoneEscrow_InvalidRange(uint256 from, uint256 count, uint256 milestoneCount);

    /// @notice No job has this id.
    error MilestoneEscrow_JobNotFound(uint256 jobId);

    /// @notice The job has no milestone at this index.
    error MilestoneEscrow_MilestoneNotFound(uint256 jobId, uint256 milestoneIndex);

    /// @notice Only the job's client may do this.
    error MilestoneEscrow_NotClient(address caller);

    /// @notice Only the job's worker may do this.
    error MilestoneEscrow_NotWorker(address caller);

    /// @notice Only the job's arbiter may do this.
    error MilestoneEscrow_NotArbiter(address caller);

    /// @notice Only the job's client or worker may do this.
    error MilestoneEscrow_NotParty(address caller);

    /// @notice The job is not in a status that allows this action (`status` is a `JobStatus`).
    error MilestoneEscrow_WrongJobStatus(uint256 jobId, uint8 status);

    /// @notice The milestone is not in a status that allows this action (`status` is a `MilestoneStatus`).
    error MilestoneEscrow_WrongMilestoneStatus(uint256 jobId, uint256 milestoneIndex, uint8 status);

    /// @notice The action needs the milestone's window to be over; it ends at `windowEnd`.
    error MilestoneEscrow_WindowOpen(uint256 jobId, uint256 milestoneIndex, uint256 windowEnd);

    /// @notice The action had to happen within the milestone's window, which ended at `windowEnd`.
    error MilestoneEscrow_WindowClosed(uint256 jobId, uint256 milestoneIndex, uint256 windowEnd);

    /// @notice The client already asked for changes `max` times on this milestone.
    error MilestoneEscrow_ChangeRequestLimitReached(uint256 jobId, uint256 milestoneIndex, uint256 max);

    /// @notice The job deadline has passed.
    error MilestoneEscrow_DeadlinePassed(uint256 jobId, uint256 deadline);

    /// @notice The job has no deadline or it has not passed yet.
    error MilestoneEscrow_DeadlineNotPassed(uint256 jobId, uint256 deadline);

    /// @notice A split in basis points above 10000.
    error MilestoneEscrow_InvalidBps(uint256 bps);

    /// @notice The signature's deadline has passed.
    error MilestoneEscrow_SignatureExpired(uint256 deadline);

    /// @notice The signature is not a valid EIP-712 (EOA) or EIP-1271 (contract) signature of `signer`.
    error MilestoneEscrow_InvalidSignature(address signer);

    /// @notice `account` has no deferred payment in `token` to withdraw.
    error MilestoneEscrow_NothingToWithdraw(address token, address account);

    /// @notice Deferred payments cannot be withdrawn to address(0) nor to the escrow itself (the
    /// tokens would sit in the escrow credited to no one, lost for good).
    error MilestoneEscrow_InvalidRecipient();

    /// @notice The job has no arbiter, so its milestones cannot be disputed: the parties use the
    /// capped change requests, a signed settlement or `reclaimAbandoned` instead.
    error MilestoneEscrow_NoArbiter(uint256 jobId);

    /// @notice The job has an arbiter: a change request the worker left unanswered is disputed
    /// (the arbiter decides), not reclaimed.
    error MilestoneEscrow_HasArbiter(uint256 jobId, address arbiter);

    /// @notice The worker's cancellation notice runs until `noticeEnd` (inclusive); the funded
    /// milestones can be taken back only after it.
    error MilestoneEscrow_NoticeRunning(uint256 jobId, uint256 noticeEnd);

    /// @notice The worker's cancellation notice ended at `noticeEnd`: funded milestones can no
    /// longer be submitted.
    error MilestoneEscrow_NoticeOver(uint256 jobId, uint256 noticeEnd);

    /// @notice Too little gas left to give a native payout its full `NATIVE_PAYOUT_GAS`: without
    /// this check a caller could starve the push on purpose and force the payee to withdraw.
    error MilestoneEscrow_InsufficientGas(uint256 gasLeft, uint256 needed);
    // </escrow-errors>
}
