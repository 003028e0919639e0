// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

import {CloneLib} from "./CloneLib.sol";

/// @title EvidenceArgs: the immutable arguments of an Evidence Contract clone
/// @notice 68 bytes: `evidenceHash bytes32 ‖ owner address ‖ recordedAt uint64 ‖ latitude int32 ‖
///         longitude int32`.
library EvidenceArgs {
    /// @notice Length of the arguments.
    uint256 internal constant LENGTH = 68;
    /// @notice Length of an EC clone's runtime code.
    uint256 internal constant CODE_LENGTH = CloneLib.PROXY_LENGTH + LENGTH;

    /// @notice Packs the arguments.
    function encode(
        bytes32 evidenceHash_,
        address owner_,
        uint64 recordedAt_,
        int32 latitude_,
        int32 longitude_
    ) internal pure returns (bytes memory) {
        return abi.encodePacked(evidenceHash_, owner_, recordedAt_, latitude_, longitude_);
    }

    /// @notice The evidence hash of `ec`.
    function evidenceHash(address ec) internal view returns (bytes32) {
        return CloneLib.argWordOf(ec, 0);
    }

    /// @notice Owner, recordedAt and latitude of `ec` (one word).
    function ownerTimeLat(address ec)
        internal
        view
        returns (address owner, uint64 recordedAt, int32 latitude)
    {
        uint256 w = uint256(CloneLib.argWordOf(ec, 32));
        owner = address(uint160(w >> 96));
        recordedAt = uint64(w >> 32);
        latitude = int32(uint32(w));
    }

    /// @notice recordedAt, latitude and longitude of `ec` (what search needs).
    function place(address ec)
        internal
        view
        returns (uint64 recordedAt, int32 latitude, int32 longitude_)
    {
        uint256 w = uint256(CloneLib.argWordOf(ec, 32));
        recordedAt = uint64(w >> 32);
        latitude = int32(uint32(w));
        longitude_ = longitude(ec);
    }

    /// @notice Longitude of `ec`.
    function longitude(address ec) internal view returns (int32) {
        return int32(uint32(uint256(CloneLib.argWordOf(ec, 64)) >> 224));
    }
}
