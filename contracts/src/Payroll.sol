// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Signatures} from "./libraries/Signatures.sol";

import {IPayroll} from "./interfaces/IPayroll.sol";
import {Errors} from "./libraries/Errors.sol";
import {Transfers} from "./libraries/Transfers.sol";
import {PayrollTypes} from "./types/PayrollTypes.sol";

/// @title Payroll
/// @notice ShiftPay payroll streams: pooled employer treasuries paying per-second wages, with
/// gasless (EIP-712 / EIP-1271) worker withdrawals and batched payouts. No owner, no upgrade, no fee.
/// Tokens: native rBTC and plain ERC-20s (0 to 18 decimals) only; no fee on transfer, no rebasing,
/// no transfer hooks that run recipient code (see IPayroll for what such tokens do). Tokens sent
/// here outside `deposit` belong to no pool and stay stranded.
/// @dev Accounting model (see IPayroll for the user-facing rules):
///
/// Per pool (employer, token): `balance` (token units held), `surplusScaled` (funded minus earned,
/// signed, in 18-decimal scaled units), `totalRate` (sum of the rates accruing at `lastUpdate`) and
/// a time-sorted linked list of future rate changes (a stream's scheduled start adds its rate, its
/// end date subtracts it). Bringing a pool to "now" walks only the checkpoints that have passed
/// and deletes them, so each checkpoint is processed once: no loop over an employer's streams.
/// Only the employer adds checkpoints (by creating or changing its own streams), so nobody else
/// can make its pool expensive to use; a backlog of thousands of passed end dates can be applied
/// in bounded steps with `settlePool` (about 4,600 gas per checkpoint). Worker withdrawals never touch the aggregate: they move
/// already-earned value out, changing only the stream's `owedScaled` and the pool's `balance`.
///
/// Per stream: `owedScaled` (earned and not withdrawn, settled at `lastUpdate`) plus lazy accrual
/// `rate * (min(now, end) - max(lastUpdate, start))` while active. A stream's accrual and its share
/// of the pool aggregate are the same exact integer products, so the sum of the streams' earnings
/// equals the pool's earnings in scaled units, without rounding.
///
/// Rounding: scaled units convert to token units only when paying (`owed / scale`, rounded down);
/// the sub-unit remainder stays in `owedScaled`, so a worker never loses more than one token unit
/// in total and the contract never pays more than it holds. `debt` rounds up, `surplus` down.
///
/// Solvency: withdrawals are capped by the pool's `balance`, which is never negative; the employer
/// can take only `surplusScaled / scale`, which is <= balance - sum(owed) because a pool's balance
/// equals funded - paid while owed equals earned - paid. Every token unit credited to a pool came
/// in through `_deposit`'s exact pull and every one paid out is debited first, so for supported
/// tokens sum(balances) <= contract balance (equal unless tokens were sent here outside `deposit`)
/// and, when the pool is solvent, every stream's earnings are fully withdrawable. A token that
/// takes from the contract's balance on its own (negative rebase, fee charged to the sender)
/// breaks this: the last withdrawers of that token, whichever pool, go unpaid.
// Wages accrue per second, so timestamp comparisons are the point; a validator's few seconds of
// drift move a few seconds of wages. Narrowing casts are bounded by checks made where values enter:
// pool balances <= uint128 (`_deposit`), rates <= uint96 (`createStream`, `adjustRate`), decimals
// <= 18, scaled amounts < 2^255 (uint128 amounts times at most 10^18), and signed rate deltas are
// sums of uint96 rates.
// forge-lint: disable-start(block-timestamp)
// forge-lint: disable-start(unsafe-typecast)
contract Payroll is IPayroll, EIP712, ReentrancyGuard {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    /// @inheritdoc IPayroll
    uint256 public constant override NATIVE_PAYOUT_GAS = 30_000;

    /// @inheritdoc IPayroll
    bytes32 public constant override WITHDRAW_REQUEST_TYPEHASH =
        keccak256("WithdrawRequest(uint256 streamId,address to,uint256 amount,uint256 nonce,uint256 deadline)");

    /// @dev Next stream id; starts at 1 so that id 0 never exists.
    uint256 private _nextStreamId;

    /// @dev Next pool id; starts at 1 so that id 0 means "no pool" (and so that opening a pool
    /// rewrites a non-zero slot instead of paying for a fresh one).
    uint32 private _nextPoolId;

    mapping(uint256 streamId => PayrollTypes.Stream) private _streams;
    mapping(uint32 poolId => PayrollTypes.Pool) private _pools;
    mapping(address employer => mapping(address token => uint32 poolId)) private _poolIds;
    mapping(uint32 poolId => mapping(uint40 time => PayrollTypes.Checkpoint)) private _checkpoints;
    mapping(address worker => uint256 nonce) private _nonces;

    constructor() EIP712("ShiftPay Payroll", "1") {
        _nextStreamId = 1;
        _nextPoolId = 1;
    }

    /*//////////////////////////////////////////////////////////////
                                TREASURY
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IPayroll
    function deposit(address token, uint256 amount) external payable override nonReentrant {
        _deposit(msg.sender, token, amount);
    }

    /// @inheritdoc IPayroll
    function depositFor(address employer, address token, uint256 amount) external payable override nonReentrant {
        if (employer == address(0)) revert Errors.Payroll_ZeroAddress();
        _deposit(employer, token, amount);
    }

    /// @inheritdoc IPayroll
    function withdrawSurplus(address token, uint256 amount, address to) external override nonReentrant {
        if (to == address(0)) revert Errors.Payroll_ZeroAddress();
        if (to == address(this)) revert Errors.Payroll_SelfRecipient();
        if (amount == 0) revert Errors.Payroll_ZeroAmount();
        uint32 poolId = _poolIds[msg.sender][token];
        if (poolId == 0) revert Errors.Payroll_AmountExceedsSurplus(token, amount, 0);
        PayrollTypes.Pool storage pool = _pools[poolId];
        _settlePool(poolId, pool);
        uint256 scale = _scale(pool.decimals);
        int256 surplusScaled = pool.surplusScaled;
        uint256 available = surplusScaled > 0 ? uint256(surplusScaled) / scale : 0;
        if (amount > available) revert Errors.Payroll_AmountExceedsSurplus(token, amount, available);

        pool.surplusScaled = surplusScaled - int256(amount * scale);
        pool.balance -= uint128(amount);
        emit SurplusWithdrawn(msg.sender, token, to, amount);

        Transfers.push(token, to, amount);
    }

    /*//////////////////////////////////////////////////////////////
                                 STREAMS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IPayroll
    function createStream(address worker, address token, uint128 rate, uint40 start, uint40 end)
        external
        override
        returns (uint256 streamId)
    {
        if (worker == address(0)) revert Errors.Payroll_ZeroAddress();
        if (worker == address(this)) revert Errors.Payroll_SelfRecipient();
        if (rate == 0) revert Errors.Payroll_ZeroRate();
        if (rate > type(uint96).max) revert Errors.Payroll_RateTooHigh(rate);
        if (start == 0) {
            start = uint40(block.timestamp);
        } else if (start < block.timestamp) {
            revert Errors.Payroll_StartInPast(start, block.timestamp);
        }
        if (end != 0 && end <= start) revert Errors.Payroll_InvalidEnd(end, start, block.timestamp);

        (uint32 poolId, PayrollTypes.Pool storage pool) = _openPool(msg.sender, token);
        _settlePool(poolId, pool);

        streamId = _nextStreamId++;
        PayrollTypes.Stream storage stream = _streams[streamId];
        stream.worker = worker;
        stream.rate = uint96(rate);
        stream.start = start;
        stream.poolId = poolId;
        // status = Active, owedScaled = 0 and lastUpdate = 0 ("accrue from start") are the defaults;
        // an open-ended stream never writes slot C.
        if (end != 0) _setEnd(stream, end);
        _addSchedule(poolId, pool, rate, start, end);

        emit StreamCreated(streamId, msg.sender, worker, token, rate, start, end);
    }

    /// @inheritdoc IPayroll
    function pause(uint256 streamId) external override {
        (PayrollTypes.Stream storage stream, uint32 poolId, PayrollTypes.Pool storage pool) = _controlled(streamId);
        if (stream.status == PayrollTypes.Status.Paused) revert Errors.Payroll_StreamPaused(streamId);
        _settlePool(poolId, pool);
        _settleStream(stream);
        _removeSchedule(poolId, pool, stream);
        stream.status = PayrollTypes.Status.Paused;
        emit StreamPaused(streamId, msg.sender, stream.worker);
    }

    /// @inheritdoc IPayroll
    function resume(uint256 streamId) external override {
        (PayrollTypes.Stream storage stream, uint32 poolId, PayrollTypes.Pool storage pool) = _controlled(streamId);
        if (stream.status != PayrollTypes.Status.Paused) revert Errors.Payroll_StreamNotPaused(streamId);
        _settlePool(poolId, pool);
        // Nothing accrued while paused: only move the accrual origin to now.
        stream.lastUpdate = uint40(block.timestamp);
        stream.status = PayrollTypes.Status.Active;
        _addStreamSchedule(poolId, pool, stream);
        emit StreamResumed(streamId, msg.sender, stream.worker);
    }

    /// @inheritdoc IPayroll
    function adjustRate(uint256 streamId, uint128 newRate) external override {
        if (newRate == 0) revert Errors.Payroll_ZeroRate();
        if (newRate > type(uint96).max) revert Errors.Payroll_RateTooHigh(newRate);
        (PayrollTypes.Stream storage stream, uint32 poolId, PayrollTypes.Pool storage pool) = _controlled(streamId);
        _settlePool(poolId, pool);
        _settleStream(stream);
        _removeSchedule(poolId, pool, stream);
        uint128 oldRate = stream.rate;
        stream.rate = uint96(newRate);
        _addStreamSchedule(poolId, pool, stream);
        emit RateAdjusted(streamId, msg.sender, stream.worker, oldRate, newRate);
    }

    /// @inheritdoc IPayroll
    function setEnd(uint256 streamId, uint40 newEnd) external override {
        (PayrollTypes.Stream storage stream, uint32 poolId, PayrollTypes.Pool storage pool) = _controlled(streamId);
        uint40 start = stream.start;
        if (newEnd != 0 && (newEnd <= block.timestamp || newEnd <= start)) {
            revert Errors.Payroll_InvalidEnd(newEnd, start, block.timestamp);
        }
        _settlePool(poolId, pool);
        _settleStream(stream);
        _removeSchedule(poolId, pool, stream);
        uint40 oldEnd = _endOf(stream);
        _setEnd(stream, newEnd);
        _addStreamSchedule(poolId, pool, stream);
        emit EndSet(streamId, msg.sender, stream.worker, oldEnd, newEnd);
    }

    /// @inheritdoc IPayroll
    function cancel(uint256 streamId) external override {
        (PayrollTypes.Stream storage stream, uint32 poolId, PayrollTypes.Pool storage pool) = _controlled(streamId);
        _settlePool(poolId, pool);
        uint256 owedScaled = _settleStream(stream);
        _removeSchedule(poolId, pool, stream);
        stream.status = PayrollTypes.Status.Canceled;
        uint40 currentTime = uint40(block.timestamp);
        // Canceled before its start (whose checkpoint `_removeSchedule` just took out of the pool's
        // list): it never starts, so start = end = now rather than an end before the start.
        if (stream.start > currentTime) stream.start = currentTime;
        uint40 end = _endOf(stream);
        if (end == 0 || end > currentTime) _setEnd(stream, currentTime);
        emit StreamCanceled(streamId, msg.sender, stream.worker, owedScaled / _scale(pool.decimals));
    }

    /*//////////////////////////////////////////////////////////////
                                WITHDRAWALS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IPayroll
    function withdraw(uint256 streamId, address to, uint256 amount) external override nonReentrant {
        PayrollTypes.Stream storage stream = _existing(streamId);
        if (msg.sender != stream.worker) revert Errors.Payroll_NotWorker(streamId, msg.sender);
        _withdraw(streamId, stream, to, amount);
    }

    /// @inheritdoc IPayroll
    function withdrawWithSignature(PayrollTypes.WithdrawRequest calldata request, bytes calldata signature)
        external
        override
        nonReentrant
    {
        PayrollTypes.Stream storage stream = _existing(request.streamId);
        address worker = stream.worker;
        if (block.timestamp > request.deadline) {
            revert Errors.Payroll_SignatureExpired(request.deadline, block.timestamp);
        }
        uint256 expectedNonce = _nonces[worker];
        if (request.nonce != expectedNonce) revert Errors.Payroll_InvalidNonce(worker, expectedNonce, request.nonce);
        if (!Signatures.isValidSignatureNow(worker, _hashWithdrawRequest(request), signature)) {
            revert Errors.Payroll_InvalidSignature(request.streamId, worker);
        }
        _nonces[worker] = expectedNonce + 1;
        emit SignedWithdrawalExecuted(request.streamId, worker, msg.sender, expectedNonce);
        _withdraw(request.streamId, stream, request.to, request.amount);
    }

    /// @inheritdoc IPayroll
    function payout(uint256 streamId) external override nonReentrant returns (uint256 paid) {
        paid = _payout(streamId, _existing(streamId));
    }

    /// @inheritdoc IPayroll
    function payoutMany(uint256[] calldata streamIds) external override nonReentrant {
        uint256 count = streamIds.length;
        for (uint256 i; i < count;) {
            uint256 streamId = streamIds[i];
            _payout(streamId, _existing(streamId));
            unchecked {
                ++i;
            }
        }
    }

    /// @inheritdoc IPayroll
    function settlePool(address employer, address token, uint256 maxCheckpoints)
        external
        override
        returns (uint256 applied)
    {
        if (maxCheckpoints == 0) revert Errors.Payroll_ZeroAmount();
        uint32 poolId = _poolIds[employer][token];
        if (poolId == 0) revert Errors.Payroll_PoolNotFound(employer, token);
        uint40 settledUntil;
        (applied, settledUntil) = _settlePoolBounded(poolId, _pools[poolId], maxCheckpoints);
        emit PoolSettled(employer, token, settledUntil, applied);
    }

    /// @inheritdoc IPayroll
    function multicall(bytes[] calldata data) external override returns (bytes[] memory results) {
        // Not payable, so msg.value is 0 in every delegated call: native value cannot be reused.
        results = new bytes[](data.length);
        for (uint256 i; i < data.length; ++i) {
            results[i] = Address.functionDelegateCall(address(this), data[i]);
        }
    }

    /*//////////////////////////////////////////////////////////////
                                  VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IPayroll
    function earned(uint256 streamId) external view override returns (uint256 amount) {
        PayrollTypes.Stream storage stream = _existing(streamId);
        amount = _owedNow(stream) / _scale(_pools[stream.poolId].decimals);
    }

    /// @inheritdoc IPayroll
    function withdrawable(uint256 streamId) external view override returns (uint256 amount) {
        PayrollTypes.Stream storage stream = _existing(streamId);
        PayrollTypes.Pool storage pool = _pools[stream.poolId];
        amount = _min(_owedNow(stream) / _scale(pool.decimals), pool.balance);
    }

    /// @inheritdoc IPayroll
    function debt(address employer, address token) external view override returns (uint256 amount) {
        amount = getPool(employer, token).debt;
    }

    /// @inheritdoc IPayroll
    function surplus(address employer, address token) external view override returns (uint256 amount) {
        amount = getPool(employer, token).surplus;
    }

    /// @inheritdoc IPayroll
    function poolBalance(address employer, address token) external view override returns (uint256 amount) {
        amount = _pools[_poolIds[employer][token]].balance;
    }

    /// @inheritdoc IPayroll
    function depletionTime(address employer, address token) external view override returns (uint256 timestamp) {
        uint32 poolId = _poolIds[employer][token];
        if (poolId == 0) return type(uint256).max;
        (uint256 rate, int256 surplusScaled, uint40 cursor) = _previewPool(poolId, _pools[poolId]);
        if (surplusScaled < 0) return block.timestamp;
        uint256 funds = uint256(surplusScaled);
        uint256 time = block.timestamp;
        mapping(uint40 => PayrollTypes.Checkpoint) storage checkpoints = _checkpoints[poolId];
        while (true) {
            // slither-disable-next-line incorrect-equality -- cursor 0 ends the checkpoint list, not a time
            bool lastSegment = cursor == 0; // no rate change scheduled after `time`
            if (rate != 0) {
                uint256 covered = time + funds / rate;
                if (lastSegment || covered < cursor) return covered;
            } else if (lastSegment) {
                return type(uint256).max;
            }
            // Funds last at least until the next rate change: spend up to it and move on.
            funds -= rate * (cursor - time);
            time = cursor;
            PayrollTypes.Checkpoint storage checkpoint = checkpoints[cursor];
            rate = uint256(int256(rate) + checkpoint.rateDelta);
            cursor = checkpoint.next;
        }
    }

    /// @inheritdoc IPayroll
    function getStream(uint256 streamId) external view override returns (PayrollTypes.StreamView memory view_) {
        PayrollTypes.Stream storage stream = _existing(streamId);
        PayrollTypes.Pool storage pool = _pools[stream.poolId];
        view_ = PayrollTypes.StreamView({
            employer: pool.employer,
            worker: stream.worker,
            token: pool.token,
            rate: stream.rate,
            start: stream.start,
            end: _endOf(stream),
            status: stream.status,
            lastUpdate: stream.lastUpdate,
            owedScaled: stream.owedScaled
        });
    }

    /// @inheritdoc IPayroll
    function getPool(address employer, address token)
        public
        view
        override
        returns (PayrollTypes.PoolView memory view_)
    {
        uint32 poolId = _poolIds[employer][token];
        if (poolId == 0) return view_;
        PayrollTypes.Pool storage pool = _pools[poolId];
        (uint256 rate, int256 surplusScaled,) = _previewPool(poolId, pool);
        uint256 scale = _scale(pool.decimals);
        view_.exists = true;
        view_.decimals = pool.decimals;
        view_.balance = pool.balance;
        view_.totalRate = rate;
        if (surplusScaled >= 0) {
            view_.surplus = uint256(surplusScaled) / scale;
        } else {
            view_.debt = (uint256(-surplusScaled) + scale - 1) / scale;
        }
    }

    /// @inheritdoc IPayroll
    function nextStreamId() external view override returns (uint256 id) {
        id = _nextStreamId;
    }

    /// @inheritdoc IPayroll
    function nonces(address worker) external view override returns (uint256 nonce) {
        nonce = _nonces[worker];
    }

    /// @inheritdoc IPayroll
    function hashWithdrawRequest(PayrollTypes.WithdrawRequest calldata request)
        external
        view
        override
        returns (bytes32 digest)
    {
        digest = _hashWithdrawRequest(request);
    }

    /// @inheritdoc IPayroll
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view override returns (bytes32 separator) {
        separator = _domainSeparatorV4();
    }

    /*//////////////////////////////////////////////////////////////
                           INTERNAL: TREASURY
    //////////////////////////////////////////////////////////////*/

    /// @dev Credits first, then pulls exactly `amount` (checks-effects-interactions): a short
    /// payment reverts the whole call, credit included.
    function _deposit(address employer, address token, uint256 amount) private {
        if (amount == 0) revert Errors.Payroll_ZeroAmount();
        (, PayrollTypes.Pool storage pool) = _openPool(employer, token);
        uint256 newBalance = uint256(pool.balance) + amount;
        if (newBalance > type(uint128).max) revert Errors.Payroll_AmountTooLarge(amount);
        pool.balance = uint128(newBalance);
        // Adding to the signed surplus pays the debt (negative surplus) first.
        pool.surplusScaled += int256(amount * _scale(pool.decimals));
        emit Deposited(employer, token, msg.sender, amount);

        Transfers.pullExact(token, amount, msg.value);
    }

    /// @dev Returns the (employer, token) pool, opening it on first use.
    function _openPool(address employer, address token)
        private
        returns (uint32 poolId, PayrollTypes.Pool storage pool)
    {
        poolId = _poolIds[employer][token];
        if (poolId != 0) return (poolId, _pools[poolId]);
        uint8 decimals = _tokenDecimals(token);
        poolId = _nextPoolId++;
        _poolIds[employer][token] = poolId;
        pool = _pools[poolId];
        pool.employer = employer;
        pool.decimals = decimals;
        pool.lastUpdate = uint40(block.timestamp);
        pool.token = token;
        emit PoolOpened(employer, token, decimals);
    }

    /// @dev Native rBTC has 18 decimals; an ERC-20's decimals are read when a pool opens and fixed
    /// in that pool (`pool.decimals`), so every amount of one pool scales the same way even if the
    /// token later reported other decimals. Not cached per token: a cache slot would cost more on
    /// the first pool of a token than the call it saves on later ones.
    function _tokenDecimals(address token) private view returns (uint8) {
        if (token == Transfers.NATIVE) return 18;
        if (token.code.length == 0) revert Errors.Payroll_InvalidToken(token);
        (bool ok, bytes memory data) = token.staticcall(abi.encodeCall(IERC20Metadata.decimals, ()));
        if (!ok || data.length < 32) revert Errors.Payroll_InvalidToken(token);
        uint256 decimals = abi.decode(data, (uint256));
        if (decimals > 18) revert Errors.Payroll_UnsupportedDecimals(token, decimals);
        return uint8(decimals);
    }

    /*//////////////////////////////////////////////////////////////
                        INTERNAL: POOL AGGREGATE
    //////////////////////////////////////////////////////////////*/

    /// @dev Brings a pool to now: charges what its streams earned since `lastUpdate` to
    /// `surplusScaled`, applying (and deleting) every checkpoint that has passed, in time order.
    function _settlePool(uint32 poolId, PayrollTypes.Pool storage pool) private {
        _settlePoolBounded(poolId, pool, type(uint256).max);
    }

    /// @dev `_settlePool` applying at most `maxCheckpoints` passed checkpoints (>= 1). When more
    /// remain, the pool is settled only up to the last one applied (`settledUntil` < now), so a
    /// long backlog can be cleared in several transactions, each within the block gas limit.
    function _settlePoolBounded(uint32 poolId, PayrollTypes.Pool storage pool, uint256 maxCheckpoints)
        private
        returns (uint256 applied, uint40 settledUntil)
    {
        uint40 currentTime = uint40(block.timestamp);
        uint40 last = pool.lastUpdate;
        // slither-disable-next-line incorrect-equality -- settled earlier in this block; lastUpdate <= now always
        if (last == currentTime) return (0, currentTime);
        uint256 rate = pool.totalRate;
        uint40 cursor = pool.firstCheckpoint;
        uint256 accrued = 0;
        if (cursor != 0 && cursor <= currentTime) {
            mapping(uint40 => PayrollTypes.Checkpoint) storage checkpoints = _checkpoints[poolId];
            do {
                accrued += rate * (cursor - last);
                last = cursor;
                PayrollTypes.Checkpoint storage checkpoint = checkpoints[cursor];
                rate = uint256(int256(rate) + checkpoint.rateDelta);
                uint40 next = checkpoint.next;
                delete checkpoints[cursor];
                cursor = next;
                ++applied;
            } while (cursor != 0 && cursor <= currentTime && applied < maxCheckpoints);
            pool.firstCheckpoint = cursor;
            if (cursor == 0) pool.lastCheckpoint = 0;
            else checkpoints[cursor].prev = 0;
            pool.totalRate = uint128(rate);
        }
        // Stop at the last applied checkpoint if passed ones remain, else run to now.
        settledUntil = cursor != 0 && cursor <= currentTime ? last : currentTime;
        accrued += rate * (settledUntil - last);
        if (accrued != 0) pool.surplusScaled -= int256(accrued);
        pool.lastUpdate = settledUntil;
    }

    /// @dev `_settlePool` without writing: the pool's rate and surplus now, and the first
    /// checkpoint still in the future.
    function _previewPool(uint32 poolId, PayrollTypes.Pool storage pool)
        private
        view
        returns (uint256 rate, int256 surplusScaled, uint40 cursor)
    {
        uint256 last = pool.lastUpdate;
        rate = pool.totalRate;
        surplusScaled = pool.surplusScaled;
        cursor = pool.firstCheckpoint;
        mapping(uint40 => PayrollTypes.Checkpoint) storage checkpoints = _checkpoints[poolId];
        while (cursor != 0 && cursor <= block.timestamp) {
            surplusScaled -= int256(rate * (cursor - last));
            last = cursor;
            PayrollTypes.Checkpoint storage checkpoint = checkpoints[cursor];
            rate = uint256(int256(rate) + checkpoint.rateDelta);
            cursor = checkpoint.next;
        }
        surplusScaled -= int256(rate * (block.timestamp - last));
    }

    /// @dev Adds a stream's future accrual (from now) to a settled pool.
    function _addStreamSchedule(uint32 poolId, PayrollTypes.Pool storage pool, PayrollTypes.Stream storage stream)
        private
    {
        if (stream.status != PayrollTypes.Status.Active) return;
        _addSchedule(poolId, pool, stream.rate, stream.start, _endOf(stream));
    }

    /// @dev Adds `rate` to the pool from max(start, now) until `end` (0 = forever). The pool must be
    /// settled: every checkpoint at or before now has been applied.
    function _addSchedule(uint32 poolId, PayrollTypes.Pool storage pool, uint128 rate, uint40 start, uint40 end)
        private
    {
        if (end != 0 && end <= block.timestamp) return; // already over
        if (start > block.timestamp) _addRateDelta(poolId, pool, start, int256(uint256(rate)));
        else pool.totalRate += rate;
        if (end != 0) _addRateDelta(poolId, pool, end, -int256(uint256(rate)));
    }

    /// @dev Removes an active stream's future accrual (from now) from a settled pool; exact
    /// inverse of `_addSchedule` with the stream's current parameters.
    function _removeSchedule(uint32 poolId, PayrollTypes.Pool storage pool, PayrollTypes.Stream storage stream)
        private
    {
        if (stream.status != PayrollTypes.Status.Active) return;
        uint40 end = _endOf(stream);
        if (end != 0 && end <= block.timestamp) return; // already over: its end checkpoint was applied
        uint128 rate = stream.rate;
        uint40 start = stream.start;
        if (start > block.timestamp) _addRateDelta(poolId, pool, start, -int256(uint256(rate)));
        else pool.totalRate -= rate;
        if (end != 0) _addRateDelta(poolId, pool, end, int256(uint256(rate)));
    }

    /// @dev Adds `delta` to the checkpoint at `time` (> now), inserting it in time order or removing
    /// it when its delta becomes zero. Insertion walks back from the latest checkpoint, since new
    /// dates are usually the latest.
    function _addRateDelta(uint32 poolId, PayrollTypes.Pool storage pool, uint40 time, int256 delta) private {
        mapping(uint40 => PayrollTypes.Checkpoint) storage checkpoints = _checkpoints[poolId];
        PayrollTypes.Checkpoint storage checkpoint = checkpoints[time];
        // slither-disable-next-line incorrect-equality -- is `time` already in the list (its head)? a key lookup
        if (checkpoint.prev != 0 || pool.firstCheckpoint == time) {
            int256 newDelta = checkpoint.rateDelta + delta;
            if (newDelta != 0) {
                checkpoint.rateDelta = int176(newDelta);
                return;
            }
            uint40 before = checkpoint.prev;
            uint40 after_ = checkpoint.next;
            if (before == 0) pool.firstCheckpoint = after_;
            else checkpoints[before].next = after_;
            if (after_ == 0) pool.lastCheckpoint = before;
            else checkpoints[after_].prev = before;
            delete checkpoints[time];
            return;
        }
        uint40 prev = pool.lastCheckpoint;
        while (prev != 0 && prev > time) {
            prev = checkpoints[prev].prev;
        }
        uint40 next = prev == 0 ? pool.firstCheckpoint : checkpoints[prev].next;
        checkpoint.prev = prev;
        checkpoint.next = next;
        checkpoint.rateDelta = int176(delta);
        if (prev == 0) pool.firstCheckpoint = time;
        else checkpoints[prev].next = time;
        if (next == 0) pool.lastCheckpoint = time;
        else checkpoints[next].prev = time;
    }

    /*//////////////////////////////////////////////////////////////
                          INTERNAL: STREAMS
    //////////////////////////////////////////////////////////////*/

    /// @dev The stream, or revert if the id was never created.
    function _existing(uint256 streamId) private view returns (PayrollTypes.Stream storage stream) {
        stream = _streams[streamId];
        if (stream.worker == address(0)) revert Errors.Payroll_StreamNotFound(streamId);
    }

    /// @dev The stream and its pool, for an employer control: caller is the employer, not canceled.
    function _controlled(uint256 streamId)
        private
        view
        returns (PayrollTypes.Stream storage stream, uint32 poolId, PayrollTypes.Pool storage pool)
    {
        stream = _existing(streamId);
        poolId = stream.poolId;
        pool = _pools[poolId];
        if (pool.employer != msg.sender) revert Errors.Payroll_NotEmployer(streamId, msg.sender);
        if (stream.status == PayrollTypes.Status.Canceled) revert Errors.Payroll_StreamCanceled(streamId);
    }

    /// @dev Earned and not withdrawn, in scaled units, as of now.
    function _owedNow(PayrollTypes.Stream storage stream) private view returns (uint256 owedScaled) {
        owedScaled = stream.owedScaled;
        if (stream.status != PayrollTypes.Status.Active) return owedScaled;
        uint256 from = _max(stream.lastUpdate, stream.start);
        uint256 to = block.timestamp;
        // Slot C is read only for streams with an end date.
        if (stream.hasEnd) to = _min(to, stream.end);
        if (to > from) owedScaled += uint256(stream.rate) * (to - from);
    }

    /// @dev The stream's end date (0 = open-ended), reading slot C only when there is one.
    function _endOf(PayrollTypes.Stream storage stream) private view returns (uint40) {
        return stream.hasEnd ? stream.end : 0;
    }

    /// @dev Sets the end date (0 = open-ended) and the flag telling readers whether to load it.
    function _setEnd(PayrollTypes.Stream storage stream, uint40 end) private {
        stream.hasEnd = end != 0;
        stream.end = end;
    }

    /// @dev Stores the stream's earnings up to now and moves its accrual origin to now.
    function _settleStream(PayrollTypes.Stream storage stream) private returns (uint256 owedScaled) {
        owedScaled = _owedNow(stream);
        stream.owedScaled = owedScaled.toUint128();
        stream.lastUpdate = uint40(block.timestamp);
    }

    /// @dev Worker or signed withdrawal: pays `amount` (<= withdrawable) to `to`, reverting on failure.
    function _withdraw(uint256 streamId, PayrollTypes.Stream storage stream, address to, uint256 amount) private {
        if (to == address(0)) revert Errors.Payroll_ZeroAddress();
        if (to == address(this)) revert Errors.Payroll_SelfRecipient();
        if (amount == 0) revert Errors.Payroll_ZeroAmount();
        PayrollTypes.Pool storage pool = _pools[stream.poolId];
        uint256 scale = _scale(pool.decimals);
        uint256 owedScaled = _owedNow(stream);
        uint256 balance = pool.balance;
        uint256 available = _min(owedScaled / scale, balance);
        if (amount > available) revert Errors.Payroll_AmountExceedsWithdrawable(streamId, amount, available);

        stream.owedScaled = (owedScaled - amount * scale).toUint128();
        stream.lastUpdate = uint40(block.timestamp);
        pool.balance = uint128(balance - amount);
        emit Withdrawn(streamId, pool.employer, stream.worker, to, msg.sender, amount);

        Transfers.push(pool.token, to, amount);
    }

    /// @dev Pays all withdrawable to the worker. A failed delivery is undone (the amount stays
    /// withdrawable) and reported with `PayoutFailed`; it never reverts the caller's transaction.
    /// Safe to undo after the external call: every entry point is `nonReentrant`.
    function _payout(uint256 streamId, PayrollTypes.Stream storage stream) private returns (uint256 paid) {
        PayrollTypes.Pool storage pool = _pools[stream.poolId];
        uint256 scale = _scale(pool.decimals);
        uint256 owedScaled = _owedNow(stream);
        uint256 balance = pool.balance;
        uint256 amount = _min(owedScaled / scale, balance);
        // slither-disable-next-line incorrect-equality -- nothing owed or an empty pool: nothing to pay
        if (amount == 0) return 0;
        address worker = stream.worker;

        stream.owedScaled = (owedScaled - amount * scale).toUint128();
        stream.lastUpdate = uint40(block.timestamp);
        pool.balance = uint128(balance - amount);

        address token = pool.token;
        bool delivered = token == Transfers.NATIVE
            ? Transfers.tryPushNative(worker, amount, NATIVE_PAYOUT_GAS)
            : IERC20(token).trySafeTransfer(worker, amount);
        if (!delivered) {
            stream.owedScaled = owedScaled.toUint128();
            pool.balance += uint128(amount);
            emit PayoutFailed(streamId, pool.employer, worker, amount);
            return 0;
        }
        emit Withdrawn(streamId, pool.employer, worker, worker, msg.sender, amount);
        return amount;
    }

    /// @dev EIP-712 digest of a withdraw request under this contract's domain.
    function _hashWithdrawRequest(PayrollTypes.WithdrawRequest calldata request) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    WITHDRAW_REQUEST_TYPEHASH,
                    request.streamId,
                    request.to,
                    request.amount,
                    request.nonce,
                    request.deadline
                )
            )
        );
    }

    /*//////////////////////////////////////////////////////////////
                                 MATH
    //////////////////////////////////////////////////////////////*/

    /// @dev Scaled units per token unit for a token with `decimals` (<= 18) decimals.
    function _scale(uint8 decimals) private pure returns (uint256) {
        return 10 ** (18 - uint256(decimals));
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }

    function _max(uint256 a, uint256 b) private pure returns (uint256) {
        return a > b ? a : b;
    }
}
// forge-lint: disable-end(unsafe-typecast)
// forge-lint: disable-end(block-timestamp)
