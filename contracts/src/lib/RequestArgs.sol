// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

import {CloneLib} from "./CloneLib.sol";

/// @title RequestArgs: the immutable arguments of a Request Contract clone
/// @notice 85 bytes: `requester address ‖ owner address ‖ respondBy uint40 ‖ ec address ‖
///         previousForOwner address`. (The reward is not an argument: it is the REQC's balance
///         while Open and is frozen into storage by the first transition.)
library RequestArgs {
    /// @notice Length of the arguments.
    uint256 internal constant LENGTH = 85;
    /// @notice Length of a REQC clone's runtime code.
    uint256 internal constant CODE_LENGTH = CloneLib.PROXY_LENGTH + LENGTH;

    /// @notice Packs the arguments.
    function encode(
        address requester_,
        address owner_,
        uint40 respondBy_,
        address ec_,
        address previous_
    ) internal pure returns (bytes memory) {
        return abi.encodePacked(requester_, owner_, respondBy_, ec_, previous_);
    }

    /// @notice The requester of the calling clone.
    function requester() internal view returns (address) {
        return address(uint160(uint256(CloneLib.argWord(0)) >> 96));
    }

    /// @notice Owner and response deadline of the calling clone.
    function ownerRespondBy() internal view returns (address owner, uint40 respondBy) {
        uint256 w = uint256(CloneLib.argWord(20));
        owner = address(uint160(w >> 96));
        respondBy = uint40(w >> 56);
    }

    /// @notice The Evidence Contract of the calling clone.
    function ec() internal view returns (address) {
        return address(uint160(uint256(CloneLib.argWord(45)) >> 96));
    }

    /// @notice The previous REQC of the same owner, of the calling clone.
    function previous() internal view returns (address) {
        return address(uint160(uint256(CloneLib.argWord(65)) >> 96));
    }
}
