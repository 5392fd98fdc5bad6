// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC5267} from "@openzeppelin/contracts/interfaces/IERC5267.sol";

import {PayrollTypes} from "../types/PayrollTypes.sol";

/// @title IPayroll
/// @notice ShiftPay payroll streams: an employer (EOA, Safe, DAO timelock...) funds one pooled
/// balance per token, and that pool pays per-second wages to any number of streams, several of
/// them possibly between the same employer and worker. Native rBTC is token = address(0); ERC-20
/// tokens with 0 to 18 decimals are supported. Workers withdraw themselves, sign gasless EIP-712
/// withdraw requests, or get paid by anyone (`payout`, `payoutMany`) to their own address.
/// @dev Units: amounts are token units unless named "scaled"; rates are token units per second
/// scaled to 18 decimals (a token with `d` decimals: `10 ** (18 - d)` scaled units per token unit).
///
/// Supported tokens: native rBTC and ERC-20 tokens with 0 to 18 decimals whose balances change
/// only by the exact amounts transferred (tokens that return `false` instead of reverting, such as
/// RIF, are handled). Not supported, and what they do:
/// - Fee on transfer: a deposit must deliver exactly `amount` or it reverts
///   (`Transfers_AmountMismatch`), but outgoing transfers are not checked: a fee switched on after
///   deposits pays recipients less than `Withdrawn` / `SurplusWithdrawn` say (a fee taken from the
///   amount sent), or makes the contract short like a negative rebase (a fee charged on top).
/// - Rebasing: pools count token units, not shares. A negative rebase leaves the contract holding
///   less than its pools' balances; pools of one token share the contract's balance, so payments
///   go first come, first served across all employers of that token until it runs out, then the
///   last withdrawals revert and payouts emit `PayoutFailed` (the amounts stay owed, unpaid). A
///   positive rebase is credited to no pool and stays stranded in the contract.
/// - Transfer hooks (ERC-777 style) that run recipient code: deposits, withdrawals and payouts
///   cannot be re-entered, but ERC-20 payouts forward all gas, so a recipient that burns it can
///   make a whole `payoutMany` run out of gas (native payouts are capped at `NATIVE_PAYOUT_GAS`).
/// A token that can block an address (USDT / USDC style) makes that worker's `payout` fail
/// (`PayoutFailed`, amount kept); the worker can still `withdraw` to another address.
/// Tokens sent to the contract outside `deposit` / `depositFor` (a direct ERC-20 transfer, rBTC
/// forced in by `selfdestruct` or as a block reward; there is no `receive`) are credited to no
/// pool and nobody can withdraw them: there is no owner and no sweep.
///
/// Accounting, per (employer, token) pool:
/// - `poolBalance` is what the pool is credited with: deposits - employer withdrawals - worker
///   withdrawals. For supported tokens, the sum of all pools' balances of a token <= the contract's
///   balance of that token, equal unless tokens were sent to the contract outside `deposit`.
/// - Every stream has `earned(id)`: what it earned and has not withdrawn yet, covered or not.
/// - `surplus` (free part, withdrawable by the employer) = max(0, funded - total earned) and
///   `debt` (earned but not covered) = max(0, total earned - funded), where funded = deposits -
///   employer withdrawals and total earned counts every stream of the pool ever. So
///   `poolBalance == surplus + sum(earned) - debt` (up to rounding of scaled units) and a deposit
///   pays the debt first: it becomes surplus only once the debt is zero.
/// - Coverage when the pool is short is first come, first served (as in Sablier Flow, applied to a
///   shared balance): `withdrawable(id) = min(earned(id), poolBalance)`. Workers keep earning
///   while the pool is dry; nothing they earned is ever forgotten, it waits for the next deposit.
/// - Employer controls (pause, resume, adjustRate, setEnd, cancel) first settle what the stream
///   earned up to now, so none of them reduces past earnings.
/// No owner, no admin, no upgrade, no fee.
interface IPayroll is IERC5267 {
    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice A pool (employer, token) was used for the first time; the token's decimals are fixed.
    /// @param employer The employer owning the pool.
    /// @param token The token (address(0) = native rBTC).
    /// @param decimals The token's decimals, fixed in the pool for rate scaling.
    event PoolOpened(address indexed employer, address indexed token, uint8 decimals);

    /// @notice Tokens were added to an employer's pool.
    /// @param employer The employer whose pool was credited.
    /// @param token The token deposited.
    /// @param from Who paid (the caller).
    /// @param amount Token units deposited.
    event Deposited(address indexed employer, address indexed token, address indexed from, uint256 amount);

    /// @notice The employer took back part of the free (not owed) part of its pool.
    /// @param employer The employer.
    /// @param token The token withdrawn.
    /// @param to The recipient.
    /// @param amount Token units withdrawn.
    event SurplusWithdrawn(address indexed employer, address indexed token, address indexed to, uint256 amount);

    /// @notice A stream was created.
    /// @param streamId The new stream's id.
    /// @param employer The employer funding it.
    /// @param worker The worker earning it.
    /// @param token The token paid.
    /// @param rate Scaled (18-decimal) token units per second.
    /// @param start Accrual start.
    /// @param end Accrual end (0 = open-ended).
    event StreamCreated(
        uint256 indexed streamId,
        address indexed employer,
        address indexed worker,
        address token,
        uint128 rate,
        uint40 start,
        uint40 end
    );

    /// @notice The employer paused a stream: it stops accruing until resumed.
    /// @param streamId The stream.
    /// @param employer The employer.
    /// @param worker The worker.
    event StreamPaused(uint256 indexed streamId, address indexed employer, address indexed worker);

    /// @notice The employer resumed a paused stream: it accrues again from now.
    /// @param streamId The stream.
    /// @param employer The employer.
    /// @param worker The worker.
    event StreamResumed(uint256 indexed streamId, address indexed employer, address indexed worker);

    /// @notice The employer changed a stream's rate, effective now.
    /// @param streamId The stream.
    /// @param employer The employer.
    /// @param worker The worker.
    /// @param oldRate The previous rate (scaled units per second).
    /// @param newRate The new rate (scaled units per second).
    event RateAdjusted(
        uint256 indexed streamId, address indexed employer, address indexed worker, uint128 oldRate, uint128 newRate
    );

    /// @notice The employer set or moved a stream's end date.
    /// @param streamId The stream.
    /// @param employer The employer.
    /// @param worker The worker.
    /// @param oldEnd The previous end (0 = open-ended).
    /// @param newEnd The new end (0 = open-ended).
    event EndSet(uint256 indexed streamId, address indexed employer, address indexed worker, uint40 oldEnd, uint40 newEnd);

    /// @notice The employer canceled (terminated) a stream: accrual stopped now, earnings stay withdrawable.
    /// @param streamId The stream.
    /// @param employer The employer.
    /// @param worker The worker.
    /// @param earned What the stream earned and has not withdrawn yet (token units, rounded down).
    event StreamCanceled(uint256 indexed streamId, address indexed employer, address indexed worker, uint256 earned);

    /// @notice Tokens left a stream.
    /// @param streamId The stream.
    /// @param employer The employer whose pool paid.
    /// @param worker The stream's worker.
    /// @param to The recipient (always the worker for `payout` / `payoutMany`).
    /// @param caller Who sent the transaction (worker, relayer, anyone for payouts).
    /// @param amount Token units paid.
    event Withdrawn(
        uint256 indexed streamId,
        address indexed employer,
        address indexed worker,
        address to,
        address caller,
        uint256 amount
    );

    /// @notice A signed withdraw request was executed and its nonce consumed.
    /// @param streamId The stream.
    /// @param worker The signer.
    /// @param relayer Who submitted it.
    /// @param nonce The nonce consumed.
    event SignedWithdrawalExecuted(
        uint256 indexed streamId, address indexed worker, address indexed relayer, uint256 nonce
    );

    /// @notice A pool's accrual was brought forward by `settlePool`.
    /// @param employer The employer.
    /// @param token The token.
    /// @param settledUntil The time up to which the pool is now settled (the current time unless
    /// more scheduled rate changes remain to apply).
    /// @param checkpointsApplied How many scheduled rate changes (stream starts and ends) were applied.
    event PoolSettled(
        address indexed employer, address indexed token, uint40 settledUntil, uint256 checkpointsApplied
    );

    /// @notice A payout could not be delivered (the recipient reverted, ran out of its gas allowance,
    /// or the token refused the transfer); the amount stays withdrawable.
    /// @param streamId The stream.
    /// @param employer The employer.
    /// @param worker The worker who could not be paid.
    /// @param amount Token units that stay withdrawable.
    event PayoutFailed(uint256 indexed streamId, address indexed employer, address indexed worker, uint256 amount);

    /*//////////////////////////////////////////////////////////////
                                TREASURY
    //////////////////////////////////////////////////////////////*/

    /// @notice Deposits into the caller's pool for `token`; pays the pool's debt first.
    /// @dev Native: `msg.value` must equal `amount`. ERC-20: needs an allowance; exactly `amount`
    /// must arrive (fee-on-transfer tokens revert with `Transfers_AmountMismatch`). Opens the pool
    /// (reading and fixing the token's decimals) if needed. Emits `Deposited` (and `PoolOpened`).
    /// @param token The token (address(0) = native rBTC).
    /// @param amount Token units to deposit, > 0.
    function deposit(address token, uint256 amount) external payable;

    /// @notice Deposits into `employer`'s pool for `token`, paid by the caller (anyone may top up).
    /// @dev Same checks and events as `deposit`.
    /// @param employer The pool's employer.
    /// @param token The token (address(0) = native rBTC).
    /// @param amount Token units to deposit, > 0.
    function depositFor(address employer, address token, uint256 amount) external payable;

    /// @notice Withdraws part of the caller's free pool balance (never what streams already earned).
    /// @dev Reverts `Payroll_AmountExceedsSurplus` above `surplus(msg.sender, token)`. Emits `SurplusWithdrawn`.
    /// @param token The token.
    /// @param amount Token units, > 0.
    /// @param to The recipient, not address(0) nor this contract.
    function withdrawSurplus(address token, uint256 amount, address to) external;

    /*//////////////////////////////////////////////////////////////
                                 STREAMS
    //////////////////////////////////////////////////////////////*/

    /// @notice Creates a stream from the caller's `token` pool to `worker`.
    /// @dev Ids are a counter starting at 1; any number of streams may link the same employer and
    /// worker. The pool does not need to be funded: unfunded earnings are debt. Emits `StreamCreated`
    /// (and `PoolOpened` on first use of the pool).
    /// @param worker The worker, not address(0) nor this contract.
    /// @param token The token (address(0) = native rBTC; ERC-20 with at most 18 decimals).
    /// @param rate Scaled (18-decimal) token units per second, > 0 and <= type(uint96).max.
    /// @param start Accrual start: 0 means now; otherwise >= now (may be in the future).
    /// @param end Accrual end: 0 means open-ended; otherwise > max(start, now).
    /// @return streamId The new stream's id.
    function createStream(address worker, address token, uint128 rate, uint40 start, uint40 end)
        external
        returns (uint256 streamId);

    /// @notice Pauses an active stream (employer only). Past earnings are kept.
    /// @dev Settles the stream's earnings up to now first. Reverts `Payroll_StreamPaused` if already
    /// paused, `Payroll_StreamCanceled` if canceled. Emits `StreamPaused`.
    /// @param streamId The stream.
    function pause(uint256 streamId) external;

    /// @notice Resumes a paused stream from now (employer only); the paused time is not paid.
    /// @dev Reverts `Payroll_StreamNotPaused` unless paused. A stream whose end date passed while
    /// paused stays ended. Emits `StreamResumed`.
    /// @param streamId The stream.
    function resume(uint256 streamId) external;

    /// @notice Changes a stream's rate from now on (employer only; active or paused stream).
    /// @dev Earnings up to now are settled at the old rate. Emits `RateAdjusted`.
    /// @param streamId The stream.
    /// @param newRate Scaled (18-decimal) token units per second, > 0 and <= type(uint96).max.
    function adjustRate(uint256 streamId, uint128 newRate) external;

    /// @notice Sets or moves a stream's end date (employer only; active or paused stream).
    /// @dev Time already accrued is kept: moving the end earlier than the past is impossible
    /// (`newEnd` must be in the future), and extending a stream that already ended restarts
    /// accrual from now, not from the old end.
    /// @param streamId The stream.
    /// @param newEnd 0 for open-ended, otherwise > now and > start.
    function setEnd(uint256 streamId, uint40 newEnd) external;

    /// @notice Cancels (terminates) a stream now (employer only). Earnings stay withdrawable.
    /// @dev Final: accrual stops now, the end date becomes now (if later or open-ended) and
    /// further controls revert `Payroll_StreamCanceled`. A stream canceled before its start never
    /// starts: its start becomes now as well (`getStream` shows start == end == the cancellation
    /// time, never an end before the start). Emits `StreamCanceled`.
    /// @param streamId The stream.
    function cancel(uint256 streamId) external;

    /*//////////////////////////////////////////////////////////////
                                WITHDRAWALS
    //////////////////////////////////////////////////////////////*/

    /// @notice The worker withdraws `amount` of a stream to any address.
    /// @dev Reverts `Payroll_AmountExceedsWithdrawable` above `withdrawable(streamId)`; reverts if a
    /// native transfer to `to` fails. Rounds down: the sub-unit remainder stays earned. Emits `Withdrawn`.
    /// @param streamId The stream (caller must be its worker).
    /// @param to The recipient, not address(0) nor this contract.
    /// @param amount Token units, > 0.
    function withdraw(uint256 streamId, address to, uint256 amount) external;

    /// @notice Executes a worker's EIP-712 signed withdraw request; anyone may submit it.
    /// @dev Domain: name "ShiftPay Payroll", version "1", current chain id, this contract. The
    /// signature is checked against the stream's worker with OpenZeppelin SignatureChecker rules
    /// plus EIP-2098 compact signatures (libraries/Signatures.sol): ECDSA with a low `s` for EOAs,
    /// EIP-1271 for contract wallets such as Safes. The nonce must equal `nonces(worker)` and is
    /// consumed, so a request runs once whichever encoding of its signature is submitted;
    /// `block.timestamp` must be <= `deadline`. Emits `Withdrawn` and `SignedWithdrawalExecuted`.
    /// @param request The signed request.
    /// @param signature The worker's signature: 65-byte `r || s || v` or 64-byte EIP-2098
    /// `r || vs` ECDSA, or any EIP-1271 payload.
    function withdrawWithSignature(PayrollTypes.WithdrawRequest calldata request, bytes calldata signature)
        external;

    /// @notice Pays all of a stream's withdrawable amount to its worker; anyone may call.
    /// @dev Never reverts on delivery: a native recipient gets at most `NATIVE_PAYOUT_GAS` gas and a
    /// failed delivery (native or ERC-20) emits `PayoutFailed` and leaves the amount withdrawable.
    /// Pays nothing (no event) when nothing is withdrawable.
    /// @param streamId The stream.
    /// @return paid Token units delivered (0 if none or if delivery failed).
    function payout(uint256 streamId) external returns (uint256 paid);

    /// @notice `payout` for many streams in one transaction, each to its own worker.
    /// @dev A failing recipient is skipped (`PayoutFailed`) and does not block the others. Reverts
    /// only for an unknown id. Keep batches within the block gas limit (Rootstock ~6.8M).
    /// @param streamIds The streams, any employers and tokens.
    function payoutMany(uint256[] calldata streamIds) external;

    /// @notice Applies up to `maxCheckpoints` of a pool's passed scheduled rate changes (stream
    /// starts and end dates) and settles its accrual; anyone may call.
    /// @dev Every employer action settles its pool anyway, walking all scheduled changes that have
    /// passed since the last one. An employer with thousands of end dates that all passed
    /// unattended could make that walk exceed the block gas limit; this clears such a backlog in
    /// bounded steps. Worker withdrawals and payouts never walk the schedule. Emits `PoolSettled`.
    /// @param employer The pool's employer.
    /// @param token The pool's token.
    /// @param maxCheckpoints Upper bound on scheduled changes to apply, > 0.
    /// @return applied How many were applied.
    function settlePool(address employer, address token, uint256 maxCheckpoints) external returns (uint256 applied);

    /// @notice Runs several calls of this contract in one transaction (e.g. a DAO proposal creating
    /// 20 streams).
    /// @dev Not payable: `msg.value` is always 0 inside, so native value can never be reused across
    /// calls (fund native pools with a separate `deposit`). Reverts with the first failing call's error.
    /// @param data ABI-encoded calls of this contract.
    /// @return results The return data of each call.
    function multicall(bytes[] calldata data) external returns (bytes[] memory results);

    /*//////////////////////////////////////////////////////////////
                                  VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @notice What a stream earned and has not withdrawn yet, covered by the pool or not.
    /// @dev Not the lifetime total: withdrawals reduce it. Sub-unit remainders are not shown but
    /// stay owed. Reverts `Payroll_StreamNotFound` for an unknown id.
    /// @param streamId The stream.
    /// @return amount Token units, rounded down.
    function earned(uint256 streamId) external view returns (uint256 amount);

    /// @notice Exactly what `withdraw` / `payout` can pay from a stream now: min(earned, pool balance).
    /// @dev First come, first served when the pool is short: another stream's withdrawal may lower it.
    /// @param streamId The stream.
    /// @return amount Token units.
    function withdrawable(uint256 streamId) external view returns (uint256 amount);

    /// @notice Earned by an employer's streams in `token` but not covered by its pool.
    /// @dev max(0, total earned - (deposits - employer withdrawals)), brought up to now.
    /// @param employer The employer.
    /// @param token The token.
    /// @return amount Token units, rounded up (depositing it clears the debt).
    function debt(address employer, address token) external view returns (uint256 amount);

    /// @notice The free part of an employer's pool, which `withdrawSurplus` may take.
    /// @dev max(0, (deposits - employer withdrawals) - total earned), brought up to now.
    /// @param employer The employer.
    /// @param token The token.
    /// @return amount Token units, rounded down.
    function surplus(address employer, address token) external view returns (uint256 amount);

    /// @notice Token units an employer's pool holds in this contract (free part + covered earnings).
    /// @dev Summed over employers, at most the contract's balance of `token` for supported tokens:
    /// equal unless tokens were sent to the contract outside `deposit` (credited to no pool).
    /// @param employer The employer.
    /// @param token The token.
    /// @return amount Token units.
    function poolBalance(address employer, address token) external view returns (uint256 amount);

    /// @notice When the pool stops covering its streams at the current rates and schedule.
    /// @dev Takes scheduled starts and ends into account. Returns the last timestamp at which all
    /// earnings are covered: `block.timestamp` if the pool is already in debt or exactly drained
    /// while streams accrue, `type(uint256).max` if it never runs out (no accruing streams left).
    /// @param employer The employer.
    /// @param token The token.
    /// @return timestamp The depletion time.
    function depletionTime(address employer, address token) external view returns (uint256 timestamp);

    /// @notice A stream's stored parameters and state.
    /// @dev `owedScaled` is as of `lastUpdate`; use `earned` for the current value.
    /// @param streamId The stream.
    /// @return stream The stream (reverts `Payroll_StreamNotFound` for an unknown id).
    function getStream(uint256 streamId) external view returns (PayrollTypes.StreamView memory stream);

    /// @notice A pool's state brought up to now.
    /// @dev Applies the scheduled rate changes that have passed, without writing them.
    /// @param employer The employer.
    /// @param token The token.
    /// @return pool The pool (all zero with `exists` = false if never used).
    function getPool(address employer, address token) external view returns (PayrollTypes.PoolView memory pool);

    /// @notice The id the next created stream will get (ids start at 1).
    /// @dev Ids are never reused.
    /// @return id The next id.
    function nextStreamId() external view returns (uint256 id);

    /// @notice A worker's current EIP-712 withdraw-request nonce.
    /// @dev One sequence per worker across all its streams; incremented by each executed request.
    /// @param worker The worker.
    /// @return nonce The nonce the next signed request must carry.
    function nonces(address worker) external view returns (uint256 nonce);

    /// @notice The EIP-712 digest a worker signs for `request` (domain separator included).
    /// @dev `keccak256(0x1901 || DOMAIN_SEPARATOR() || hashStruct(request))`.
    /// @param request The request.
    /// @return digest The typed-data hash.
    function hashWithdrawRequest(PayrollTypes.WithdrawRequest calldata request) external view returns (bytes32 digest);

    /// @notice The EIP-712 domain separator of this contract on the current chain.
    /// @dev Recomputed by OpenZeppelin EIP712 if the chain id changes (fork protection).
    /// @return separator The domain separator.
    function DOMAIN_SEPARATOR() external view returns (bytes32 separator);

    /// @notice keccak256 of the `WithdrawRequest` EIP-712 type string.
    /// @dev Type string: `WithdrawRequest(uint256 streamId,address to,uint256 amount,uint256 nonce,uint256 deadline)`.
    /// @return typehash The type hash.
    function WITHDRAW_REQUEST_TYPEHASH() external view returns (bytes32 typehash);

    /// @notice Gas given to a native recipient by `payout` / `payoutMany`.
    /// @dev 30,000: enough for a Safe's `receive` (proxy + event), bounded so that a gas-burning
    /// recipient cannot make a batch expensive. Direct `withdraw` forwards all gas instead.
    /// @return gas The gas cap.
    function NATIVE_PAYOUT_GAS() external view returns (uint256 gas);
}
