// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {Errors} from "./Errors.sol";

/// @title Transfers
/// @notice Moves native rBTC (token = address(0)) and ERC-20 tokens in and out of ShiftPay
/// contracts, with exact-amount checks on the way in.
library Transfers {
    using SafeERC20 for IERC20;

    /// @notice The token address that stands for the chain's native coin (rBTC on Rootstock).
    address internal constant NATIVE = address(0);

    /// @notice Takes exactly `amount` of `token` from `from` into this contract.
    /// @dev Native: `msg.value` must equal `amount`. ERC-20: compares the balance before and after,
    /// so fee-on-transfer and other short-paying tokens revert instead of corrupting accounting.
    /// SafeERC20 also rejects tokens that return `false` (RIF-style) instead of reverting.
    function pullExact(address token, address from, uint256 amount) internal {
        if (token == NATIVE) {
            if (msg.value != amount) revert Errors.Transfers_WrongMsgValue(amount, msg.value);
            return;
        }
        if (msg.value != 0) revert Errors.Transfers_UnexpectedMsgValue(msg.value);
        IERC20 erc20 = IERC20(token);
        uint256 balanceBefore = erc20.balanceOf(address(this));
        erc20.safeTransferFrom(from, address(this), amount);
        uint256 received = erc20.balanceOf(address(this)) - balanceBefore;
        if (received != amount) revert Errors.Transfers_AmountMismatch(token, amount, received);
    }

    /// @notice Sends `amount` of `token` to `to`, reverting if it cannot be delivered.
    function push(address token, address to, uint256 amount) internal {
        if (token == NATIVE) {
            if (!tryPushNative(to, amount, gasleft())) revert Errors.Transfers_NativeTransferFailed(to, amount);
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
    }

    /// @notice Sends native coin with at most `gasLimit` gas, returning false instead of reverting.
    /// @dev Batches use this with a bounded gas so one reverting or gas-burning recipient cannot
    /// block the payouts of others.
    function tryPushNative(address to, uint256 amount, uint256 gasLimit) internal returns (bool ok) {
        assembly ("memory-safe") {
            ok := call(gasLimit, to, amount, 0, 0, 0, 0)
        }
    }
}
