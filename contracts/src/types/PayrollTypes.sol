// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title PayrollTypes
/// @notice Storage and view types of the ShiftPay payroll streams contract.
/// @dev Amounts called "scaled" are token amounts normalized to 18 decimals: one token unit of a
/// token with `d` decimals equals `10 ** (18 - d)` scaled units. Rates are scaled units per second,
/// so `rate * seconds` is exact and rounding happens only once, when a withdrawal converts scaled
/// units back into token units (rounding down; the remainder stays owed to the worker).
library PayrollTypes {
    /// @notice Lifecycle of a stream.
    /// @dev `Active` streams accrue between `start` and `end` (end = 0: open-ended). `Paused` streams
    /// accrue nothing until resumed. `Canceled` is final: accrual stopped at cancellation, whatever
    /// was earned stays withdrawable.
    enum Status {
        Active,
        Paused,
        Canceled
    }

    /// @notice Stored stream, packed so that paying it touches two slots.
    /// @dev Slot A: `worker`, `rate` (read on every payout, written only by `adjustRate`).
    /// Slot B: `owedScaled`, `lastUpdate`, `start`, `poolId`, `status`, `hasEnd` (the one slot a
    /// payout or withdrawal rewrites; never zero, so rewriting it never pays for a fresh slot).
    /// Slot C: `end`, read only when `hasEnd` (open-ended streams never touch it).
    /// `lastUpdate` = 0 means "never settled": accrual then runs from `start`, which is never
    /// earlier than the creation time. Rates are capped at `type(uint96).max` scaled units per
    /// second (7.9e10 whole tokens per second); a stream's unwithdrawn earnings are stored in 128
    /// bits (3.4e20 whole tokens), beyond which settling it reverts (SafeCast) until it withdraws.
    struct Stream {
        // slot A
        address worker;
        uint96 rate;
        // slot B
        uint128 owedScaled;
        uint40 lastUpdate;
        uint40 start;
        uint32 poolId;
        Status status;
        bool hasEnd;
        // slot C
        uint40 end;
    }

    /// @notice Stored pooled treasury of one employer in one token.
    /// @dev `surplusScaled` = (deposits - employer withdrawals) * scale - everything streams of this
    /// pool have earned up to `lastUpdate`, in scaled units. Positive: the employer's free part.
    /// Negative: debt (earned but not covered). Workers' withdrawals change `balance` only, because
    /// they pay out what was already counted as earned. `totalRate` is the sum of the rates of the
    /// streams accruing at `lastUpdate`; future changes (a future start, an end date) sit in a sorted
    /// linked list of checkpoints from `firstCheckpoint` to `lastCheckpoint`. Field order keeps the
    /// aggregate in one slot, so creating a stream touches only it and `surplusScaled`.
    struct Pool {
        // slot 0: the aggregate, read and written by every settlement (stream creation, controls)
        uint128 totalRate;
        uint40 lastUpdate;
        uint40 firstCheckpoint;
        uint40 lastCheckpoint;
        // slot 1: read by withdrawals and payouts (events, scaling)
        address employer;
        uint8 decimals;
        // slot 2
        address token;
        // slot 3
        uint128 balance;
        // slot 4
        int256 surplusScaled;
    }

    /// @notice A future change of a pool's total rate, at time `t` (the mapping key).
    /// @dev Doubly linked in time order; `prev` = 0 / `next` = 0 mark the list ends.
    struct Checkpoint {
        uint40 prev;
        uint40 next;
        int176 rateDelta;
    }

    /// @notice A worker's signed request to withdraw from a stream, submitted by anyone (EIP-712).
    /// @dev Type string:
    /// `WithdrawRequest(uint256 streamId,address to,uint256 amount,uint256 nonce,uint256 deadline)`.
    /// @param streamId The stream to withdraw from; the signer must be its worker.
    /// @param to Where the tokens go.
    /// @param amount Token units to withdraw (at most the stream's withdrawable amount).
    /// @param nonce The worker's current nonce (`nonces(worker)`); each request is usable once.
    /// @param deadline Last timestamp (inclusive) at which the request may be executed.
    struct WithdrawRequest {
        uint256 streamId;
        address to;
        uint256 amount;
        uint256 nonce;
        uint256 deadline;
    }

    /// @notice Everything known about a stream, as returned by `getStream`.
    /// @param employer The employer whose pool funds the stream.
    /// @param worker The worker who earns it.
    /// @param token The token (address(0) = native rBTC).
    /// @param rate Scaled (18-decimal) token units per second.
    /// @param start Accrual start timestamp (for a stream canceled before it started, the
    /// cancellation time).
    /// @param end Accrual end timestamp (0 = open-ended; for a canceled stream, the cancellation time
    /// if that came first). Never before `start`.
    /// @param status Active, Paused or Canceled.
    /// @param lastUpdate Last time the stream's earnings were settled into `owedScaled` (0 = never).
    /// @param owedScaled Earned and not withdrawn as of `lastUpdate`, in scaled units.
    struct StreamView {
        address employer;
        address worker;
        address token;
        uint128 rate;
        uint40 start;
        uint40 end;
        Status status;
        uint40 lastUpdate;
        uint216 owedScaled;
    }

    /// @notice The state of one employer's pool in one token, brought up to the current time.
    /// @param exists Whether the pool was ever opened (deposit or stream creation).
    /// @param decimals The token's decimals (cached at first use).
    /// @param balance Token units credited to this pool (free part + covered earnings): deposits
    /// minus withdrawals, not counting tokens sent to the contract outside `deposit`.
    /// @param totalRate Sum of the rates of the pool's streams accruing now (scaled units / second).
    /// @param surplus Free part the employer may withdraw (token units, rounded down).
    /// @param debt Earned by the pool's streams but not covered by its balance (token units, rounded up).
    struct PoolView {
        bool exists;
        uint8 decimals;
        uint256 balance;
        uint256 totalRate;
        uint256 surplus;
        uint256 debt;
    }
}
