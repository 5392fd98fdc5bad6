// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title DevnetStablecoin
/// @notice The local devnet's test stablecoin ("tUSD"): 6 decimals like USD₮0 on Rootstock, so
/// the devnet exercises the same rate scaling as the real stablecoin.
/// @dev NEVER deploy this on a live chain: anyone may mint any amount (`mint` is open, so the
/// demo and developers can fund any account). `shiftpay devnet up` deploys it on the local
/// devnet only and lists it in the deployment file's extra tokens.
contract DevnetStablecoin is ERC20 {
    constructor() ERC20("Devnet Test USD", "tUSD") {}

    /// @notice 6, like USD₮0.
    /// @return The token's decimals.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Mints `amount` base units to `to`. Open to anyone: test token only.
    /// @param to The recipient.
    /// @param amount Base units (6 decimals).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
