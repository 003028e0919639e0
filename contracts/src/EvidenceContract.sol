// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

import {IEvidenceContract} from "./interfaces/IEvidenceContract.sol";
import {IEvidenceFactory} from "./interfaces/IEvidenceFactory.sol";
import {ISearchContract} from "./interfaces/ISearchContract.sol";
import {EvidenceArgs} from "./lib/EvidenceArgs.sol";

/// @title EvidenceContract: the implementation behind every EC clone
/// @notice See IEvidenceContract. Deployed once by the EvidenceFactory's constructor; the
///         implementation itself is locked (every state-changing call reverts with
///         `ImplementationLocked`) because it has no arguments of its own.
contract EvidenceContract is IEvidenceContract {
    address private immutable SELF;
    address private immutable FACTORY;
    address private immutable SEARCH;

    /// @dev Pending or Rejected; Verified is not stored here but is "listed in the SearchContract",
    ///      which `verify` writes anyway (one storage write instead of two).
    Status private _status;
    bytes32 private _rejectReason;

    /// @param search_ The SearchContract that `verify()` lists ECs in.
    constructor(address search_) {
        SELF = address(this);
        FACTORY = msg.sender;
        SEARCH = search_;
    }

    /// @dev The current verifier (from the factory), not the EC's owner.
    modifier onlyVerifierOnClone() {
        _checkClone();
        if (msg.sender != IEvidenceFactory(FACTORY).verifier()) revert NotVerifier(msg.sender);
        (address owner_,,) = _ownerTimeLat();
        if (msg.sender == owner_) revert VerifierIsOwner(msg.sender);
        _;
    }

    /// @inheritdoc IEvidenceContract
    function verify() external onlyVerifierOnClone {
        Status s = _status;
        if (s != Status.Pending) revert EvidenceNotPending(s);
        emit EvidenceVerified(address(this), msg.sender);
        // Reverts with AlreadyListed if this EC was verified before.
        ISearchContract(SEARCH).list();
    }

    /// @inheritdoc IEvidenceContract
    function reject(bytes32 reason) external onlyVerifierOnClone {
        Status s = _currentStatus();
        if (s != Status.Pending) revert EvidenceNotPending(s);
        if (reason == bytes32(0)) revert EmptyRejectReason();
        _status = Status.Rejected;
        _rejectReason = reason;
        emit EvidenceRejected(address(this), reason);
    }

    /// @inheritdoc IEvidenceContract
    function status() external view returns (Status) {
        return _currentStatus();
    }

    /// @inheritdoc IEvidenceContract
    function rejectReason() external view returns (bytes32) {
        return _rejectReason;
    }

    /// @inheritdoc IEvidenceContract
    function owner() external view returns (address o) {
        (o,,) = _ownerTimeLat();
    }

    /// @inheritdoc IEvidenceContract
    function recordedAt() external view returns (uint64 t) {
        (, t,) = _ownerTimeLat();
    }

    /// @inheritdoc IEvidenceContract
    function latitude() external view returns (int32 lat) {
        (,, lat) = _ownerTimeLat();
    }

    /// @inheritdoc IEvidenceContract
    function longitude() external view returns (int32) {
        return _longitude();
    }

    /// @inheritdoc IEvidenceContract
    function evidenceHash() external view returns (bytes32) {
        return _evidenceHash();
    }

    /// @inheritdoc IEvidenceContract
    function factory() external view returns (address) {
        return FACTORY;
    }

    /// @inheritdoc IEvidenceContract
    function verifier() external view returns (address) {
        return IEvidenceFactory(FACTORY).verifier();
    }

    /// @dev Rejected (stored here), Verified (listed) or Pending.
    function _currentStatus() internal view returns (Status) {
        Status s = _status;
        if (s != Status.Pending) return s;
        return ISearchContract(SEARCH).isListed(address(this)) ? Status.Verified : Status.Pending;
    }

    /// @dev Reverts on the implementation, which has no arguments of its own.
    function _checkClone() internal view virtual {
        if (address(this) == SELF) revert ImplementationLocked();
    }

    /// @dev Owner, recordedAt and latitude (clone arguments).
    function _ownerTimeLat() internal view virtual returns (address, uint64, int32) {
        return EvidenceArgs.ownerTimeLat(address(this));
    }

    /// @dev Longitude (clone argument).
    function _longitude() internal view virtual returns (int32) {
        return EvidenceArgs.longitude(address(this));
    }

    /// @dev Evidence hash (clone argument).
    function _evidenceHash() internal view virtual returns (bytes32) {
        return EvidenceArgs.evidenceHash(address(this));
    }
}
