// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

/// @title IResponseContract: owner -> Request Contracts
/// @notice A singleton deployed by the RequestFactory. Only that factory registers REQCs, right
///         after creating them. Per owner it keeps the newest REQC and a count; older ones are
///         reached through `IRequestContract.previousForOwner()` (a linked list, newest first).
///         State changes of a REQC are events emitted by the REQC itself (see IRequestContract);
///         index them for the addresses announced here.
interface IResponseContract {
    /// @notice A request was opened for one of `owner`'s ECs.
    /// @param owner The EC's owner.
    /// @param reqc The new Request Contract.
    /// @param ec The Evidence Contract requested.
    /// @param requester Who opened it.
    /// @param reward The reward in wei.
    /// @param respondBy The response deadline (unix seconds).
    /// @param requesterUmbralKey The requester's Umbral public key (33 bytes) to re-encrypt to.
    event RequestOpened(
        address indexed owner,
        address indexed reqc,
        address indexed ec,
        address requester,
        uint256 reward,
        uint64 respondBy,
        bytes requesterUmbralKey
    );

    /// @notice Only the RequestFactory may register.
    /// @param caller The caller.
    error NotRequestFactory(address caller);

    /// @notice Registers a new REQC. Only the RequestFactory.
    /// @param reqc The new Request Contract (its `previousForOwner()` is the current `latestOf(owner)`).
    /// @param owner The EC's owner.
    /// @param ec The Evidence Contract.
    /// @param requester The requester.
    /// @param reward The reward in wei.
    /// @param respondBy The response deadline.
    /// @param requesterUmbralKey The requester's Umbral public key.
    function register(
        address reqc,
        address owner,
        address ec,
        address requester,
        uint256 reward,
        uint64 respondBy,
        bytes calldata requesterUmbralKey
    ) external;

    /// @notice The newest REQC for `owner` (0 if none).
    /// @param owner An EC owner.
    function latestOf(address owner) external view returns (address);

    /// @notice Number of REQCs opened for `owner`'s ECs.
    /// @param owner An EC owner.
    function requestCount(address owner) external view returns (uint256);

    /// @notice Up to `limit` of `owner`'s REQCs, newest first, skipping the `offset` newest.
    /// @param owner An EC owner.
    /// @param offset How many of the newest to skip.
    /// @param limit Maximum number returned.
    function requestsOf(address owner, uint256 offset, uint256 limit)
        external
        view
        returns (address[] memory);

    /// @notice The RequestFactory allowed to register.
    function factory() external view returns (address);
}
