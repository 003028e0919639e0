// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

/// @notice Whether `key` is a compressed secp256k1 point encoding (33 bytes, prefix 0x02 or 0x03),
///         the form of an Umbral public key. Returns the first byte (0 if empty) for error reports.
function isUmbralKey(bytes calldata key) pure returns (bool ok, uint8 prefix) {
    if (key.length == 0) return (false, 0);
    prefix = uint8(key[0]);
    ok = key.length == 33 && (prefix == 2 || prefix == 3);
}
