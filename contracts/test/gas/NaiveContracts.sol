// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

import {EvidenceContract} from "../../src/EvidenceContract.sol";
import {RequestContract} from "../../src/RequestContract.sol";
import {IEvidenceFactory} from "../../src/interfaces/IEvidenceFactory.sol";

/// @notice The naive alternative to an EC clone, for the gas comparison in docs/gas.md: the same
///         logic (inherited) deployed in full for every accident, every field in storage.
contract NaiveEvidenceContract is EvidenceContract {
    IEvidenceFactory.EvidenceParams public fields;
    address private ownerStored;
    bytes32 private evidenceHashStored;

    constructor(
        IEvidenceFactory.EvidenceParams memory p,
        bytes32 evidenceHash_,
        address owner_,
        address search_
    ) EvidenceContract(search_) {
        fields = p;
        evidenceHashStored = evidenceHash_;
        ownerStored = owner_;
    }

    function _checkClone() internal view override {}

    function _ownerTimeLat() internal view override returns (address, uint64, int32) {
        return (ownerStored, fields.recordedAt, fields.latitude);
    }

    function _longitude() internal view override returns (int32) {
        return fields.longitude;
    }

    function _evidenceHash() internal view override returns (bytes32) {
        return evidenceHashStored;
    }
}

/// @notice The naive alternative to a REQC clone: the same logic deployed in full for every
///         request, the fixed fields in storage.
contract NaiveRequestContract is RequestContract {
    address private requesterStored;
    uint96 private rewardStored;
    address private ownerStored;
    uint40 private respondByStored;
    address private ecStored;

    constructor(
        address ec_,
        address requester_,
        address owner_,
        uint40 respondBy_,
        uint96 reward_,
        address evidenceFactory_,
        uint96 minDeposit_,
        uint64 confirmWindow_,
        uint64 resolveWindow_
    ) payable RequestContract(evidenceFactory_, minDeposit_, 1, confirmWindow_, resolveWindow_) {
        rewardStored = reward_;
        requesterStored = requester_;
        ownerStored = owner_;
        respondByStored = respondBy_;
        ecStored = ec_;
    }

    function _checkClone() internal view override {}

    function _madeByFactory() internal pure override returns (bool) {
        return true;
    }

    function _requesterReward() internal view override returns (address, uint96) {
        return (requesterStored, rewardStored);
    }

    function _ownerRespondBy() internal view override returns (address, uint40) {
        return (ownerStored, respondByStored);
    }

    function _ec() internal view override returns (address) {
        return ecStored;
    }

    function _previous() internal pure override returns (address) {
        return address(0);
    }
}
