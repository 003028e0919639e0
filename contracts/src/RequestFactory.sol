// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

import {IRequestFactory} from "./interfaces/IRequestFactory.sol";
import {IEvidenceFactory} from "./interfaces/IEvidenceFactory.sol";
import {IResponseContract} from "./interfaces/IResponseContract.sol";
import {ISearchContract} from "./interfaces/ISearchContract.sol";
import {RequestContract} from "./RequestContract.sol";
import {ResponseContract} from "./ResponseContract.sol";
import {CloneLib} from "./lib/CloneLib.sol";
import {RequestArgs} from "./lib/RequestArgs.sol";
import {isUmbralKey} from "./lib/Validation.sol";

/// @title RequestFactory: opens Request Contracts
/// @notice See IRequestFactory. The constructor deploys the ResponseContract and the REQC
///         implementation.
// Reason: createRequest forwards all of msg.value to the new REQC (CREATE2 with value), so the
// factory never holds ETH; slither's locked-ether only sees a payable function without a withdraw.
// slither-disable-next-line locked-ether
contract RequestFactory is IRequestFactory {
    /// @inheritdoc IRequestFactory
    /// @dev Keeps every deadline far inside uint40.
    uint64 public constant MAX_WINDOW = 365 days;

    address private immutable IMPLEMENTATION;
    address private immutable RESPONSE;
    address private immutable SEARCH;
    address private immutable EVIDENCE_FACTORY;
    uint256 private immutable MIN_REWARD;
    uint256 private immutable MIN_DEPOSIT;
    uint256 private immutable DISPUTE_BOND;
    uint64 private immutable RESPONSE_WINDOW;
    uint64 private immutable CONFIRM_WINDOW;
    uint64 private immutable RESOLVE_WINDOW;

    /// @inheritdoc IRequestFactory
    uint256 public constant MIN_REWARD_DIVISOR = 10;
    /// @inheritdoc IRequestFactory
    uint256 public constant DISPUTE_BOND_DIVISOR = 2;

    /// @param search_ The SearchContract (listed = verified EC).
    /// @param verifier_ The verifier now: must be the SearchContract's factory's verifier, which
    ///        holds the role from then on (kept as an argument so deployments state it).
    /// @param minDeposit_ Minimum owner deposit in wei (< 2^96). The minimum reward is a tenth of
    ///        it and the dispute bond half of it (each at least 1 wei).
    /// @param responseWindow_ Seconds the owner has to respond (1..=MAX_WINDOW).
    /// @param confirmWindow_ Seconds the requester has to confirm or dispute (1..=MAX_WINDOW).
    /// @param resolveWindow_ Seconds the verifier has to resolve a dispute (1..=MAX_WINDOW).
    constructor(
        address search_,
        address verifier_,
        uint256 minDeposit_,
        uint64 responseWindow_,
        uint64 confirmWindow_,
        uint64 resolveWindow_
    ) {
        if (search_.code.length == 0) revert InvalidConfig("search");
        address evidenceFactory_ = ISearchContract(search_).factory();
        if (verifier_ == address(0) || verifier_ != IEvidenceFactory(evidenceFactory_).verifier()) {
            revert InvalidConfig("verifier");
        }
        if (minDeposit_ > type(uint96).max) revert InvalidConfig("minDeposit");
        uint256 minReward_ = minDeposit_ / MIN_REWARD_DIVISOR;
        uint256 disputeBond_ = minDeposit_ / DISPUTE_BOND_DIVISOR;
        if (minReward_ == 0) minReward_ = 1;
        if (disputeBond_ == 0) disputeBond_ = 1;
        if (responseWindow_ == 0 || responseWindow_ > MAX_WINDOW) {
            revert InvalidConfig("responseWindow");
        }
        if (confirmWindow_ == 0 || confirmWindow_ > MAX_WINDOW) {
            revert InvalidConfig("confirmWindow");
        }
        if (resolveWindow_ == 0 || resolveWindow_ > MAX_WINDOW) {
            revert InvalidConfig("resolveWindow");
        }
        SEARCH = search_;
        EVIDENCE_FACTORY = evidenceFactory_;
        MIN_REWARD = minReward_;
        MIN_DEPOSIT = minDeposit_;
        DISPUTE_BOND = disputeBond_;
        RESPONSE_WINDOW = responseWindow_;
        CONFIRM_WINDOW = confirmWindow_;
        RESOLVE_WINDOW = resolveWindow_;
        RESPONSE = address(new ResponseContract());
        IMPLEMENTATION = address(
            new RequestContract(
                EVIDENCE_FACTORY,
                uint96(minDeposit_),
                uint96(disputeBond_),
                confirmWindow_,
                resolveWindow_
            )
        );
    }

    /// @inheritdoc IRequestFactory
    function createRequest(address ec, bytes calldata requesterUmbralKey)
        external
        payable
        returns (address reqc)
    {
        if (msg.value < MIN_REWARD) revert RewardTooLow(msg.value, MIN_REWARD);
        if (msg.value > type(uint96).max) revert RewardTooLarge(msg.value);
        (bool ok, uint8 prefix) = isUmbralKey(requesterUmbralKey);
        if (!ok) revert InvalidUmbralKey(requesterUmbralKey.length, prefix);
        address owner = ISearchContract(SEARCH).ownerOf(ec);
        if (owner == address(0)) revert EvidenceNotListed(ec);
        address previous = IResponseContract(RESPONSE).latestOf(owner);
        uint40 respondBy = uint40(block.timestamp + RESPONSE_WINDOW);
        reqc = CloneLib.deploy(
            IMPLEMENTATION,
            RequestArgs.encode(msg.sender, uint96(msg.value), owner, respondBy, ec, previous),
            msg.value
        );
        // Cannot happen: `previous` makes every REQC's code unique, and a failed CREATE2 (out of
        // gas) fails the whole call anyway.
        if (reqc == address(0)) revert DeploymentFailed();
        IResponseContract(RESPONSE)
            .register(reqc, owner, ec, msg.sender, msg.value, respondBy, requesterUmbralKey);
    }

    /// @inheritdoc IRequestFactory
    function isRequest(address reqc) external view returns (bool) {
        return CloneLib.isClone(address(this), reqc, RequestArgs.CODE_LENGTH);
    }

    /// @inheritdoc IRequestFactory
    function implementation() external view returns (address) {
        return IMPLEMENTATION;
    }

    /// @inheritdoc IRequestFactory
    function responseContract() external view returns (address) {
        return RESPONSE;
    }

    /// @inheritdoc IRequestFactory
    function search() external view returns (address) {
        return SEARCH;
    }

    /// @inheritdoc IRequestFactory
    function verifier() external view returns (address) {
        return IEvidenceFactory(EVIDENCE_FACTORY).verifier();
    }

    /// @inheritdoc IRequestFactory
    function evidenceFactory() external view returns (address) {
        return EVIDENCE_FACTORY;
    }

    /// @inheritdoc IRequestFactory
    function minReward() external view returns (uint256) {
        return MIN_REWARD;
    }

    /// @inheritdoc IRequestFactory
    function minDeposit() external view returns (uint256) {
        return MIN_DEPOSIT;
    }

    /// @inheritdoc IRequestFactory
    function disputeBond() external view returns (uint256) {
        return DISPUTE_BOND;
    }

    /// @inheritdoc IRequestFactory
    function responseWindow() external view returns (uint64) {
        return RESPONSE_WINDOW;
    }

    /// @inheritdoc IRequestFactory
    function confirmWindow() external view returns (uint64) {
        return CONFIRM_WINDOW;
    }

    /// @inheritdoc IRequestFactory
    function resolveWindow() external view returns (uint64) {
        return RESOLVE_WINDOW;
    }
}
