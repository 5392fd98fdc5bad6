// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @notice ERC-20 that calls back into a target (the payroll) whenever it sends tokens out of that
/// target: models a malicious token re-entering `withdraw` / `payout` during the transfer.
/// Never deployed on a live chain.
contract ReentrantERC20 is ERC20 {
    address public target;
    bytes public attackData;
    /// @notice When true the token reverts with the re-entry's revert data (so the outer transfer
    /// fails); when false it swallows the failure and completes the transfer.
    bool public bubble;
    uint256 public attempts;
    bool public lastReentrySucceeded;
    bytes public lastReentryData;

    constructor() ERC20("Reentrant", "REENT") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function setAttack(address target_, bytes calldata data, bool bubble_) external {
        target = target_;
        attackData = data;
        bubble = bubble_;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (from == target && target != address(0) && attackData.length != 0) {
            attempts++;
            (bool ok, bytes memory data) = target.call(attackData);
            lastReentrySucceeded = ok;
            lastReentryData = data;
            if (!ok && bubble) {
                assembly ("memory-safe") {
                    revert(add(data, 0x20), mload(data))
                }
            }
        }
    }
}

/// @notice Contract worker / recipient of native rBTC with a configurable `receive`: accept,
/// revert, burn all gas, or re-enter the payroll with stored calldata. Never deployed live.
contract NativeRecipientAttacker {
    enum Mode {
        Accept,
        Revert,
        BurnGas,
        Reenter
    }

    error Attacker_Refused();

    Mode public mode;
    address public target;
    bytes public attackData;
    bool public bubble;
    uint256 public received;
    uint256 public attempts;
    bool public lastReentrySucceeded;
    bytes public lastReentryData;

    function setMode(Mode mode_) external {
        mode = mode_;
    }

    function setAttack(address target_, bytes calldata data, bool bubble_) external {
        mode = Mode.Reenter;
        target = target_;
        attackData = data;
        bubble = bubble_;
    }

    /// @notice Lets tests act as this contract (e.g. call `withdraw` as the stream's worker).
    function execute(address to, bytes calldata data) external returns (bytes memory) {
        (bool ok, bytes memory ret) = to.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        return ret;
    }

    receive() external payable {
        if (mode == Mode.Revert) revert Attacker_Refused();
        if (mode == Mode.BurnGas) {
            while (true) {
                received++;
            }
        }
        if (mode == Mode.Reenter) {
            attempts++;
            (bool ok, bytes memory data) = target.call(attackData);
            lastReentrySucceeded = ok;
            lastReentryData = data;
            if (!ok && bubble) {
                assembly ("memory-safe") {
                    revert(add(data, 0x20), mload(data))
                }
            }
        }
        received += msg.value;
    }
}

/// @notice EIP-1271 smart wallet (Safe-like) whose signatures are its owner's ECDSA signatures of
/// the digest. Never deployed on a live chain.
contract MockERC1271Wallet is IERC1271 {
    address public immutable owner;

    constructor(address owner_) {
        owner = owner_;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
        if (err == ECDSA.RecoverError.NoError && recovered == owner) return IERC1271.isValidSignature.selector;
        return 0xffffffff;
    }

    /// @notice Lets tests act as the wallet.
    function execute(address to, bytes calldata data) external returns (bytes memory) {
        (bool ok, bytes memory ret) = to.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        return ret;
    }

    receive() external payable {}
}
