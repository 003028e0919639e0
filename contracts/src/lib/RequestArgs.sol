// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

import {CloneLib} from "./CloneLib.sol";

/// @title RequestArgs: the immutable arguments of a Request Contract clone
/// @notice 97 bytes: `requester address ‖ reward uint96 ‖ owner address ‖ respondBy uint40 ‖
///         ec address ‖ previousForOwner address`. The reward is what the factory sent at
///         creation (`msg.value`), so the REQC accounts by what was paid in, never by its balance.
library RequestArgs {
    /// @notice Length of the arguments.
    uint256 internal constant LENGTH = 97;
    /// @notice Length of a REQC clone's runtime code.
    uint256 internal constant CODE_LENGTH = CloneLib.PROXY_LENGTH + LENGTH;

    /// @notice Packs the arguments.
    function encode(
        address requester_,
        uint96 reward_,
        address owner_,
        uint40 respondBy_,
        address ec_,
        address previous_
    ) internal pure returns (bytes memory) {
        return abi.encodePacked(requester_, reward_, owner_, respondBy_, ec_, previous_);
    }

    /// @notice Requester and reward of the calling clone (one word).
    function requesterReward() internal view returns (address requester, uint96 reward) {
        uint256 w = uint256(CloneLib.argWord(0));
        requester = address(uint160(w >> 96));
        reward = uint96(w);
    }

    /// @notice Owner and response deadline of the calling clone.
    function ownerRespondBy() internal view returns (address owner, uint40 respondBy) {
        uint256 w = uint256(CloneLib.argWord(32));
        owner = address(uint160(w >> 96));
        respondBy = uint40(w >> 56);
    }

    /// @notice The Evidence Contract of the calling clone.
    function ec() internal view returns (address) {
        return address(uint160(uint256(CloneLib.argWord(57)) >> 96));
    }

    /// @notice The previous REQC of the same owner, of the calling clone.
    function previous() internal view returns (address) {
        return address(uint160(uint256(CloneLib.argWord(77)) >> 96));
    }
}
