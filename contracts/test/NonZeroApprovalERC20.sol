// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {MockERC20} from "./MockERC20.sol";

/// @notice Like Tether's USDT on Ethereum: refuses to change a non-zero allowance straight to
/// another non-zero value (the owner must approve 0 first). Never deployed on a live chain.
contract NonZeroApprovalERC20 is MockERC20 {
    error NonZeroToNonZeroApproval(uint256 current, uint256 requested);

    constructor() MockERC20("Tether-like USD", "USDTX", 6) {}

    function approve(address spender, uint256 value) public override returns (bool) {
        uint256 current = allowance(msg.sender, spender);
        if (value != 0 && current != 0) revert NonZeroToNonZeroApproval(current, value);
        return super.approve(spender, value);
    }
}
