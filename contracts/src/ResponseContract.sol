// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

import {IResponseContract} from "./interfaces/IResponseContract.sol";
import {IRequestContract} from "./interfaces/IRequestContract.sol";

/// @title ResponseContract: owner -> Request Contracts
/// @notice See IResponseContract. Deployed by the RequestFactory's constructor (which is `factory`).
contract ResponseContract is IResponseContract {
    /// @dev Newest REQC and number of REQCs of one owner, one storage slot.
    struct OwnerIndex {
        address latest;
        uint96 count;
    }

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
    function requestsOf(address owner, uint256 offset, uint256 limit)
        external
        view
        returns (address[] memory out)
    {
        OwnerIndex memory ix = _index[owner];
        if (offset >= ix.count) return new address[](0);
        uint256 m = ix.count - offset;
        if (limit < m) m = limit;
        out = new address[](m);
        address cur = ix.latest;
        for (uint256 i = 0; i < offset; ++i) {
            cur = IRequestContract(cur).previousForOwner();
        }
        for (uint256 i = 0; i < m; ++i) {
            out[i] = cur;
            if (i + 1 < m) cur = IRequestContract(cur).previousForOwner();
        }
    }

    /// @inheritdoc IResponseContract
    function factory() external view returns (address) {
        return FACTORY;
    }
}
