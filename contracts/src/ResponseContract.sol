// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

import {IResponseContract} from "./interfaces/IResponseContract.sol";
import {IRequestContract} from "./interfaces/IRequestContract.sol";
import {IRequestFactory} from "./interfaces/IRequestFactory.sol";

/// @title ResponseContract: owner -> Request Contracts
/// @notice See IResponseContract. Deployed by the RequestFactory's constructor (which is `factory`).
contract ResponseContract is IResponseContract {
    /// @dev Newest REQC and number of REQCs of one owner, one storage slot.
    struct OwnerIndex {
        address latest;
        uint96 count;
    }

    /// @inheritdoc IResponseContract
    uint256 public constant MAX_PAGE = 256;

    address private immutable FACTORY;
    mapping(address owner => OwnerIndex) private _index;

    constructor() {
        FACTORY = msg.sender;
    }

    /// @inheritdoc IResponseContract
    function register(
        address reqc,
        address owner,
        address ec,
        address requester,
        uint256 reward,
        uint64 respondBy,
        bytes calldata requesterUmbralKey
    ) external {
        if (msg.sender != FACTORY) revert NotRequestFactory(msg.sender);
        _index[owner] = OwnerIndex(reqc, _index[owner].count + 1);
        emit RequestOpened(owner, reqc, ec, requester, reward, respondBy, requesterUmbralKey);
    }

    /// @inheritdoc IResponseContract
    function latestOf(address owner) external view returns (address) {
        return _index[owner].latest;
    }

    /// @inheritdoc IResponseContract
    function requestCount(address owner) external view returns (uint256) {
        return _index[owner].count;
    }

    /// @inheritdoc IResponseContract
    function requestsOf(address owner, address cursor, uint256 limit)
        external
        view
        returns (address[] memory page, address next)
    {
        if (cursor == address(0)) {
            cursor = _index[owner].latest;
        } else if (
            !IRequestFactory(FACTORY).isRequest(cursor) || IRequestContract(cursor).owner() != owner
        ) {
            revert InvalidCursor(owner, cursor);
        }
        if (limit > MAX_PAGE) limit = MAX_PAGE;
        address[] memory buf = new address[](limit);
        uint256 m = 0;
        while (m < limit && cursor != address(0)) {
            buf[m++] = cursor;
            cursor = IRequestContract(cursor).previousForOwner();
        }
        page = new address[](m);
        for (uint256 i = 0; i < m; ++i) {
            page[i] = buf[i];
        }
        next = cursor;
    }

    /// @inheritdoc IResponseContract
    function factory() external view returns (address) {
        return FACTORY;
    }
}
