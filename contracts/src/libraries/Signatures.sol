// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title Signatures
/// @notice EOA (ECDSA) and contract (EIP-1271: Safes, smart wallets) signature checks shared by
/// the ShiftPay contracts.
/// @dev Same rules as OpenZeppelin 5.4 `SignatureChecker.isValidSignatureNow`, which cannot be
/// used: it imports `utils/Bytes.sol`, whose `mcopy` does not compile for the shanghai EVM level
/// ShiftPay targets so one bytecode deploys on every chain. `ECDSA.tryRecover` rejects malleable
/// (high-s) signatures.
library Signatures {
    /// @notice Whether `signature` is `signer`'s signature of `digest`, checked now.
    /// @dev A signer with code answers EIP-1271 `isValidSignature`; otherwise ECDSA recovery must
    /// return `signer`. Contract signatures can be revoked, so the answer may change over time.
    /// @param signer The expected signer.
    /// @param digest The EIP-712 digest.
    /// @param signature A 65-byte (or 64-byte EIP-2098) ECDSA signature, or whatever the contract
    /// signer accepts.
    /// @return valid True when the signature is valid now.
    function isValidSignatureNow(address signer, bytes32 digest, bytes calldata signature)
        internal
        view
        returns (bool valid)
    {
        if (signer.code.length == 0) {
            (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
            return err == ECDSA.RecoverError.NoError && recovered == signer;
        }
        (bool success, bytes memory result) =
            signer.staticcall(abi.encodeCall(IERC1271.isValidSignature, (digest, signature)));
        return success && result.length >= 32
            && abi.decode(result, (bytes32)) == bytes32(IERC1271.isValidSignature.selector);
    }
}
