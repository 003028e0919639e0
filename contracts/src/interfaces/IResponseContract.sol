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

    /// @notice The paging cursor is not a REQC of this owner made by the factory.
    /// @param owner The owner asked for.
    /// @param cursor The cursor given.
    error InvalidCursor(address owner, address cursor);

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

    /// @notice Up to `limit` (at most `MAX_PAGE`) of `owner`'s REQCs, newest first, starting at
    ///         `cursor` (included; zero: the newest). Costs the same for every page, wherever it is
    ///         in the list: pass the returned `next` as the following page's cursor.
    /// @param owner An EC owner.
    /// @param cursor Zero, or a REQC of `owner` made by the factory (`InvalidCursor` otherwise).
    /// @param limit Maximum number returned.
    /// @return page The REQCs, newest first.
    /// @return next The cursor of the following page (zero after the oldest).
    function requestsOf(address owner, address cursor, uint256 limit)
        external
        view
        returns (address[] memory page, address next);

    /// @notice Largest page `requestsOf` returns (256).
    function MAX_PAGE() external view returns (uint256);

    /// @notice The RequestFactory allowed to register.
    function factory() external view returns (address);
}
