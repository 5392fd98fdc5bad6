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

    /// @notice Takes exactly `amount` of `token` from the caller (`msg.sender`) into this contract.
    /// @dev Native: `msgValue` must equal `amount`. ERC-20: `msgValue` must be 0, and the balance is
    /// compared before and after, so a deposit that arrives short (fee on transfer) reverts. Only
    /// the way in is checked: a fee switched on later is not detected on payouts (see "Supported
    /// tokens" in the interfaces). SafeERC20 also rejects tokens that return `false` (RIF-style) instead
    /// of reverting. The payable entry point passes its own `msg.value`: this library never reads
    /// call context other than `msg.sender`, and tokens only ever come from the caller.
    /// @param msgValue The native value sent with the call (`msg.value` of the payable entry point).
    function pullExact(address token, uint256 amount, uint256 msgValue) internal {
        if (token == NATIVE) {
            if (msgValue != amount) revert Errors.Transfers_WrongMsgValue(amount, msgValue);
            return;
        }
        if (msgValue != 0) revert Errors.Transfers_UnexpectedMsgValue(msgValue);
        IERC20 erc20 = IERC20(token);
        uint256 balanceBefore = erc20.balanceOf(address(this));
        erc20.safeTransferFrom(msg.sender, address(this), amount);
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
