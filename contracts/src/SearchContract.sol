// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

import {ISearchContract} from "./interfaces/ISearchContract.sol";
import {IEvidenceFactory} from "./interfaces/IEvidenceFactory.sol";
import {CloneLib} from "./lib/CloneLib.sol";
import {EvidenceArgs} from "./lib/EvidenceArgs.sol";

/// @title SearchContract: the list of factory-made, verified Evidence Contracts
/// @notice See ISearchContract. Deployed by the EvidenceFactory's constructor (which is `factory`).
contract SearchContract is ISearchContract {
    address private immutable FACTORY;

    address[] private _listed;
    /// @dev Owner of each listed EC; non-zero exactly for listed ECs.
    mapping(address ec => address owner) private _ownerOf;

    constructor() {
        FACTORY = msg.sender;
    }

    /// @inheritdoc ISearchContract
    function list() external {
        address ec = msg.sender;
        if (!CloneLib.isClone(FACTORY, ec, EvidenceArgs.CODE_LENGTH)) {
            revert NotFactoryEvidence(ec);
        }
        if (_ownerOf[ec] != address(0)) revert AlreadyListed(ec);
        (address owner, uint64 recordedAt, int32 latitude) = EvidenceArgs.ownerTimeLat(ec);
        _ownerOf[ec] = owner;
        _listed.push(ec);
        emit EvidenceListed(ec, recordedAt, latitude, EvidenceArgs.longitude(ec));
    }

    /// @inheritdoc ISearchContract
    function isListed(address ec) external view returns (bool) {
        return _ownerOf[ec] != address(0);
    }

    /// @inheritdoc ISearchContract
    function ownerOf(address ec) external view returns (address) {
        return _ownerOf[ec];
    }

    /// @inheritdoc ISearchContract
    function count() external view returns (uint256) {
        return _listed.length;
    }

    /// @inheritdoc ISearchContract
    function evidenceAt(uint256 index) external view returns (address) {
        uint256 n = _listed.length;
        if (index >= n) revert IndexOutOfRange(index, n);
        return _listed[index];
    }

    /// @inheritdoc ISearchContract
    function page(uint256 offset, uint256 limit) external view returns (Listing[] memory out) {
        uint256 n = _listed.length;
        if (offset >= n) return new Listing[](0);
        uint256 m = n - offset;
        if (limit < m) m = limit;
        out = new Listing[](m);
        for (uint256 i = 0; i < m; ++i) {
            address ec = _listed[offset + i];
            (uint64 recordedAt, int32 latitude, int32 longitude) = EvidenceArgs.place(ec);
            out[i] = Listing(ec, recordedAt, latitude, longitude);
        }
    }

    /// @inheritdoc ISearchContract
    function factory() external view returns (address) {
        return FACTORY;
    }

    /// @inheritdoc ISearchContract
    function implementation() external view returns (address) {
        return IEvidenceFactory(FACTORY).implementation();
    }

    /// @inheritdoc ISearchContract
    function verifier() external view returns (address) {
        return IEvidenceFactory(FACTORY).verifier();
    }
}
