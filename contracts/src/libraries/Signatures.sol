// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title Signatures
/// @notice EOA (ECDSA) and contract (EIP-1271: Safes, smart wallets) signature checks shared by
/// the ShiftPay contracts.
/// @dev Same rules as OpenZeppelin 5.4 `SignatureChecker.isValidSignatureNow` (which cannot be
/// used: it imports `utils/Bytes.sol`, whose `mcopy` does not compile for the shanghai EVM level
/// ShiftPay targets so one bytecode deploys on every chain), plus 64-byte EIP-2098 compact ECDSA
/// signatures, which OpenZeppelin 5.4's `ECDSA.tryRecover(hash, bytes)` refuses. Both encodings go
/// through `ECDSA.tryRecover(hash, v, r, s)`, which rejects malleable (high-s) signatures: for the
/// compact form, `s` is `vs` without its top (parity) bit, so it is below 2^255 and must still be
/// at most secp256k1n / 2. The two encodings of one signature verify alike; callers protect against
/// replay with nonces, never with the signature bytes.
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
            address recovered;
            ECDSA.RecoverError err;
            // r, s (or vs) and v are read straight from calldata: no copy of the signature to memory.
            if (signature.length == 65) {
                bytes32 r;
                bytes32 s;
                uint8 v;
                assembly ("memory-safe") {
                    r := calldataload(signature.offset)
                    s := calldataload(add(signature.offset, 0x20))
                    v := byte(0, calldataload(add(signature.offset, 0x40)))
                }
                // slither-disable-next-line unused-return -- the 3rd value only details the error; any error is false
                (recovered, err,) = ECDSA.tryRecover(digest, v, r, s);
            } else if (signature.length == 64) {
                bytes32 r;
                bytes32 vs;
                assembly ("memory-safe") {
                    r := calldataload(signature.offset)
                    vs := calldataload(add(signature.offset, 0x20))
                }
                // slither-disable-next-line unused-return -- the 3rd value only details the error; any error is false
                (recovered, err,) = ECDSA.tryRecover(digest, r, vs);
            } else {
                return false;
            }
            return err == ECDSA.RecoverError.NoError && recovered == signer;
        }
        (bool success, bytes memory result) =
            signer.staticcall(abi.encodeCall(IERC1271.isValidSignature, (digest, signature)));
        return success && result.length >= 32
            && abi.decode(result, (bytes32)) == bytes32(IERC1271.isValidSignature.selector);
    }
}
