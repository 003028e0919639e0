// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

/// @title IEvidenceContract: one accident's evidence, anchored on chain
/// @notice An Evidence Contract (EC) is an EIP-1167 clone made by the EvidenceFactory, one per
///         accident. The fields the chain needs (owner, recordedAt, latitude, longitude and the
///         EIP-712 struct hash of all fields, `evidenceHash`) are immutable arguments appended to
///         the clone's code; every other field (hashes, Umbral capsule, wrapped key, owner's Umbral
///         key) is in the factory's `EvidenceCreated` event. The status starts Pending and is set
///         once, by the verifier (the cloud), to Verified or Rejected. `verify()` lists the EC in
///         the SearchContract in the same transaction.
interface IEvidenceContract {
    /// @notice Verification status. Pending is the creation state; Verified and Rejected are final.
    enum Status {
        Pending,
        Verified,
        Rejected
    }

    /// @notice The verifier checked the EC against the data it received and verified it.
    /// @param ec This Evidence Contract.
    /// @param verifier The verifier that verified it.
    event EvidenceVerified(address indexed ec, address indexed verifier);

    /// @notice The verifier rejected the EC.
    /// @param ec This Evidence Contract.
    /// @param reason A short machine-readable reason code (ASCII, right-padded with zeros).
    event EvidenceRejected(address indexed ec, bytes32 indexed reason);

    /// @notice A state-changing function was called on the implementation instead of a clone.
    error ImplementationLocked();

    /// @notice Only the verifier may verify or reject.
    /// @param caller The caller that is not the verifier.
    error NotVerifier(address caller);

    /// @notice The verifier owns this EC and so may not judge it.
    /// @param verifier The verifier (the EC's owner).
    error VerifierIsOwner(address verifier);

    /// @notice The EC is not Pending (it was already verified or rejected).
    /// @param current The EC's status.
    error EvidenceNotPending(Status current);

    /// @notice `reject` needs a non-zero reason code.
    error EmptyRejectReason();

    /// @notice Marks the EC Verified and lists it in the SearchContract (same transaction).
    /// @dev Only the verifier; only while Pending (a second `verify` reverts with the
    ///      SearchContract's `AlreadyListed`). Verified is not stored in the EC: `status()` reads
    ///      it from the SearchContract. Emits `EvidenceVerified` here and
    ///      `ISearchContract.EvidenceListed` from the SearchContract.
    function verify() external;

    /// @notice Marks the EC Rejected with a reason code.
    /// @dev Only the verifier; only while Pending. Emits `EvidenceRejected`.
    /// @param reason Non-zero reason code, e.g. bytes32("cipher-hash-mismatch").
    function reject(bytes32 reason) external;

    /// @notice The verification status.
    function status() external view returns (Status);

    /// @notice The reason code given to `reject` (zero unless Rejected).
    function rejectReason() external view returns (bytes32);

    /// @notice The owner: the address that signed the EIP-712 creation message (or created directly).
    function owner() external view returns (address);

    /// @notice Segment start, unix seconds.
    function recordedAt() external view returns (uint64);

    /// @notice Latitude in 1e-6 degrees (-90e6..=90e6).
    function latitude() external view returns (int32);

    /// @notice Longitude in 1e-6 degrees (-180e6..=180e6).
    function longitude() external view returns (int32);

    /// @notice EIP-712 struct hash of all evidence fields (`IEvidenceFactory.hashEvidence`): a
    ///         commitment against which the fields in the `EvidenceCreated` event can be checked.
    function evidenceHash() external view returns (bytes32);

    /// @notice The EvidenceFactory that made this EC.
    function factory() external view returns (address);

    /// @notice The current verifier (the cloud), read from the factory (`IEvidenceFactory.verifier`).
    function verifier() external view returns (address);
}
