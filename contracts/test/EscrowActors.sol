// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @notice A contract wallet (think Safe) controlled by one EOA owner: it forwards calls and
/// answers EIP-1271 `isValidSignature` with the owner's ECDSA signature of the digest.
/// Test-only; never deployed on a live chain.
contract EscrowWalletMock {
    bytes4 internal constant MAGIC_VALUE = 0x1626ba7e;

    address public immutable owner;
    /// @notice When set, every signature is rejected (a Safe whose owners revoked it).
    bool public revoked;

    error EscrowWalletMock_NotOwner();
    error EscrowWalletMock_CallFailed(bytes reason);

    constructor(address owner_) {
        owner = owner_;
    }

    receive() external payable {}

    function setRevoked(bool revoked_) external {
        if (msg.sender != owner) revert EscrowWalletMock_NotOwner();
        revoked = revoked_;
    }

    function execute(address target, uint256 value, bytes calldata data) external payable returns (bytes memory) {
        if (msg.sender != owner) revert EscrowWalletMock_NotOwner();
        (bool ok, bytes memory ret) = target.call{value: value}(data);
        if (!ok) revert EscrowWalletMock_CallFailed(ret);
        return ret;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        if (revoked) return 0xffffffff;
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
        return err == ECDSA.RecoverError.NoError && recovered == owner ? MAGIC_VALUE : bytes4(0xffffffff);
    }
}

/// @notice A hostile client, worker or arbiter contract. Its owner makes it call the escrow
/// (`execute`); when it receives native coin it behaves as `mode` says:
/// Accept: takes it; Revert: reverts; BurnGas: loops until out of gas;
/// Reenter: calls `target` with `reentryData` (typically the escrow, to be paid twice), emits
/// whether that call succeeded and its revert data, and accepts the payment.
/// Test-only; never deployed on a live chain.
contract EscrowHostileParty {
    enum Mode {
        Accept,
        Revert,
        BurnGas,
        Reenter
    }

    address public immutable owner;
    Mode public mode;
    address public target;
    bytes public reentryData;

    /// @notice One re-entry attempt and its outcome. An event rather than storage: the escrow
    /// forwards only `NATIVE_PAYOUT_GAS` with a native payout, too little for fresh storage writes.
    event ReentryAttempted(bool succeeded, bytes returnData);

    error EscrowHostileParty_Refused();
    error EscrowHostileParty_CallFailed(bytes reason);

    constructor(address owner_) {
        owner = owner_;
    }

    function configure(Mode mode_, address target_, bytes calldata reentryData_) external {
        mode = mode_;
        target = target_;
        reentryData = reentryData_;
    }

    function execute(address to, uint256 value, bytes calldata data) external payable returns (bytes memory) {
        (bool ok, bytes memory ret) = to.call{value: value}(data);
        if (!ok) revert EscrowHostileParty_CallFailed(ret);
        return ret;
    }

    /// @notice Calls `to` with exactly `gasLimit` gas (a relayer starving a call on purpose).
    function executeWithGas(address to, uint256 gasLimit, bytes calldata data) external returns (bytes memory) {
        (bool ok, bytes memory ret) = to.call{gas: gasLimit}(data);
        if (!ok) revert EscrowHostileParty_CallFailed(ret);
        return ret;
    }

    receive() external payable {
        Mode current = mode;
        if (current == Mode.Revert) revert EscrowHostileParty_Refused();
        if (current == Mode.BurnGas) {
            uint256 i;
            while (true) {
                i++;
            }
        }
        if (current == Mode.Reenter) _reenter();
    }

    /// @notice Called by `EscrowReentrantToken` on every transfer, to attack from inside a token call.
    function onTokenTransfer() external {
        if (mode == Mode.Reenter) _reenter();
    }

    function _reenter() internal {
        (bool ok, bytes memory ret) = target.call(reentryData);
        emit ReentryAttempted(ok, ret);
    }
}

/// @notice An ERC-20 that calls back into `target` with `reentryData` on every transfer and
/// transferFrom (before moving the balance), recording the outcome: a malicious token trying to
/// re-enter the escrow during funding or payout. Test-only; never deployed on a live chain.
contract EscrowReentrantToken is ERC20 {
    address public target;
    bytes public reentryData;
    bool public armed;
    uint256 public reentryAttempts;
    bool public lastReentrySucceeded;
    bytes public lastReentryRevert;

    constructor() ERC20("Reentrant", "REENT") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function arm(address target_, bytes calldata reentryData_) external {
        target = target_;
        reentryData = reentryData_;
        armed = true;
    }

    function disarm() external {
        armed = false;
    }

    function transfer(address to, uint256 value) public override returns (bool) {
        _attack();
        return super.transfer(to, value);
    }

    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        _attack();
        return super.transferFrom(from, to, value);
    }

    function _attack() internal {
        if (!armed) return;
        reentryAttempts++;
        (bool ok, bytes memory ret) = target.call(reentryData);
        lastReentrySucceeded = ok;
        lastReentryRevert = ret;
    }
}

/// @notice An ERC-20 whose transfers to `blocked` revert (like USDC's blocklist), to show that a
/// blocked payee cannot stop the other parties' payouts. Test-only.
contract EscrowBlocklistToken is ERC20 {
    mapping(address => bool) public blocked;

    error EscrowBlocklistToken_Blocked(address account);

    constructor() ERC20("Blocklist", "BLOCK") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function setBlocked(address account, bool isBlocked) external {
        blocked[account] = isBlocked;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (blocked[to]) revert EscrowBlocklistToken_Blocked(to);
        super._update(from, to, value);
    }
}
