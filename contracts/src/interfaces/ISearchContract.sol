// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

/// @title ISearchContract: the list of verified Evidence Contracts
/// @notice A singleton deployed by the EvidenceFactory. Only ECs made by
///         that factory can list themselves, and an EC lists itself only from `verify()`, which only
///         the verifier can call: so the list holds exactly the factory-made, verified ECs, in
///         verification order.
interface ISearchContract {
    /// @notice One listed EC with the fields search needs.
    struct Listing {
        address ec;
        uint64 recordedAt;
        int32 latitude;
        int32 longitude;
    }

    /// @notice An EC was verified and listed.
    /// @param ec The Evidence Contract.
    /// @param recordedAt Segment start, unix seconds.
    /// @param latitude 1e-6 degrees.
    /// @param longitude 1e-6 degrees.
    event EvidenceListed(address indexed ec, uint64 recordedAt, int32 latitude, int32 longitude);

    /// @notice `list()` was called by something that is not an EC made by the factory.
    /// @param caller The caller.
    error NotFactoryEvidence(address caller);

    /// @notice The EC is already listed.
    /// @param ec The EC.
    error AlreadyListed(address ec);

    /// @notice The index is not below `count()`.
    /// @param index The index given.
    /// @param count The number of listed ECs.
    error IndexOutOfRange(uint256 index, uint256 count);

    /// @notice Lists the calling EC. Called by `IEvidenceContract.verify()`.
    function list() external;

    /// @notice Whether `ec` is listed (made by the factory and verified).
    /// @param ec Any address.
    function isListed(address ec) external view returns (bool);

    /// @notice The owner of a listed EC (zero if `ec` is not listed). One call gives the
    ///         RequestFactory both facts it needs.
    /// @param ec Any address.
    function ownerOf(address ec) external view returns (address);

    /// @notice Number of listed ECs.
    function count() external view returns (uint256);

    /// @notice The listed EC at `index` (0-based, verification order).
    /// @param index Below `count()`.
    function evidenceAt(uint256 index) external view returns (address);

    /// @notice Up to `limit` listings starting at `offset`; empty when `offset >= count()`.
    /// @param offset First index.
    /// @param limit Maximum number of entries.
    function page(uint256 offset, uint256 limit) external view returns (Listing[] memory);

    /// @notice The EvidenceFactory whose ECs may list themselves.
    function factory() external view returns (address);

    /// @notice The EC implementation those clones delegate to.
    function implementation() external view returns (address);

    /// @notice The current verifier (the cloud), read from the factory.
    function verifier() external view returns (address);
}
