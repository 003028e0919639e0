// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

import {Base} from "./utils/Base.sol";
import {vm, Vm} from "./utils/Vm.sol";
import {IEvidenceContract} from "../src/interfaces/IEvidenceContract.sol";
import {IRequestContract} from "../src/interfaces/IRequestContract.sol";
import {IRequestFactory} from "../src/interfaces/IRequestFactory.sol";
import {IResponseContract} from "../src/interfaces/IResponseContract.sol";
import {RequestFactory} from "../src/RequestFactory.sol";

/// @dev Receives ETH and tries to withdraw again from inside `receive`.
contract Reenterer {
    IRequestContract public target;
    bool public reentryFailed;
    uint256 public received;

    function setTarget(IRequestContract t) external {
        target = t;
    }

    function withdraw() external {
        target.withdraw(payable(address(this)));
    }

    function respond(bytes calldata kfrag, bytes calldata key) external payable {
        target.respond{value: msg.value}(kfrag, key, "https://x");
    }

    receive() external payable {
        received += msg.value;
        try target.withdraw(payable(address(this))) {
            reentryFailed = false;
        } catch {
            reentryFailed = true;
        }
    }
}

/// @dev Refuses ETH.
contract Refuser {
    receive() external payable {
        revert("no thanks");
    }
}

contract RequestContractTest is Base {
    address internal ec;
    IRequestContract internal reqc;
    bytes internal constant LINK = "https://cloud.example/x";

    function setUp() public override {
        super.setUp();
        ec = verifiedEvidence(1);
        reqc = openRequest(ec);
    }

    // ---------------------------------------------------------------- createRequest

    function test_createRequest_opensAndRegisters() public {
        address ec2 = verifiedEvidence(2);
        bytes memory key = umbralKey("requester");
        vm.recordLogs();
        vm.prank(requester);
        address r = rf.createRequest{value: 1 ether}(ec2, key);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        vm.assertEq(logs.length, 1, "one log");
        vm.assertEq(logs[0].emitter, address(resc), "emitted by the ResponseContract");
        vm.assertEq(logs[0].topics[0], IResponseContract.RequestOpened.selector, "topic0");
        vm.assertEq(logs[0].topics[1], bytes32(uint256(uint160(owner))), "owner");
        vm.assertEq(logs[0].topics[2], bytes32(uint256(uint160(r))), "reqc");
        vm.assertEq(logs[0].topics[3], bytes32(uint256(uint160(ec2))), "ec");
        (address who, uint256 reward, uint64 respondBy, bytes memory k) =
            abi.decode(logs[0].data, (address, uint256, uint64, bytes));
        vm.assertEq(who, requester, "requester");
        vm.assertEq(reward, 1 ether, "reward");
        vm.assertEq(uint256(respondBy), T0 + RESPONSE_WINDOW, "respondBy");
        vm.assertEq(k, key, "key");

        IRequestContract.RequestInfo memory i = IRequestContract(r).info();
        vm.assertEq(i.ec, ec2, "info.ec");
        vm.assertEq(i.requester, requester, "info.requester");
        vm.assertEq(i.owner, owner, "info.owner");
        vm.assertEq(i.reward, 1 ether, "info.reward");
        vm.assertEq(i.deposit, 0, "info.deposit");
        vm.assertEq(uint256(i.respondBy), T0 + RESPONSE_WINDOW, "info.respondBy");
        vm.assertEq(uint256(i.deadline), 0, "info.deadline");
        vm.assertEq(uint256(i.status), uint256(IRequestContract.Status.Open), "info.status");
        vm.assertEq(r.balance, 1 ether, "escrowed");
        vm.assertTrue(rf.isRequest(r), "isRequest");
        vm.assertEq(IRequestContract(r).previousForOwner(), address(reqc), "linked");
        vm.assertEq(resc.latestOf(owner), r, "latest");
        vm.assertEq(resc.requestCount(owner), 2, "count");
        vm.assertEq(IRequestContract(r).factory(), address(rf), "factory");
        vm.assertEq(IRequestContract(r).verifier(), verifier, "verifier");
        vm.assertEq(IRequestContract(r).minDeposit(), MIN_DEPOSIT, "minDeposit");
        vm.assertEq(uint256(IRequestContract(r).confirmWindow()), CONFIRM_WINDOW, "confirm");
        vm.assertEq(uint256(IRequestContract(r).resolveWindow()), RESOLVE_WINDOW, "resolve");
    }

    function test_createRequest_revertsIfRewardBelowMinimum() public {
        vm.expectRevert(
            abi.encodeWithSelector(IRequestFactory.RewardTooLow.selector, 0, MIN_REWARD)
        );
        vm.prank(requester);
        rf.createRequest(ec, umbralKey("r"));
        // Finding 5: 1-wei requests were accepted before the minimum.
        vm.expectRevert(
            abi.encodeWithSelector(IRequestFactory.RewardTooLow.selector, 1, MIN_REWARD)
        );
        vm.prank(requester);
        rf.createRequest{value: 1}(ec, umbralKey("r"));
        vm.expectRevert(
            abi.encodeWithSelector(
                IRequestFactory.RewardTooLow.selector, MIN_REWARD - 1, MIN_REWARD
            )
        );
        vm.prank(requester);
        rf.createRequest{value: MIN_REWARD - 1}(ec, umbralKey("r"));
        vm.prank(requester);
        address r = rf.createRequest{value: MIN_REWARD}(ec, umbralKey("r"));
        vm.assertEq(IRequestContract(r).reward(), MIN_REWARD, "minimum accepted");
        vm.assertEq(rf.minReward(), MIN_REWARD, "minReward");
    }

    function test_createRequest_revertsIfRewardTooLarge() public {
        uint256 big = uint256(type(uint96).max) + 1;
        vm.deal(requester, big);
        vm.expectRevert(abi.encodeWithSelector(IRequestFactory.RewardTooLarge.selector, big));
        vm.prank(requester);
        rf.createRequest{value: big}(ec, umbralKey("r"));
    }

    function test_createRequest_revertsIfUmbralKeyInvalid() public {
        vm.expectRevert(abi.encodeWithSelector(IRequestFactory.InvalidUmbralKey.selector, 32, 2));
        vm.prank(requester);
        rf.createRequest{value: MIN_REWARD}(ec, abi.encodePacked(bytes1(0x02), bytes31(0)));
        vm.expectRevert(abi.encodeWithSelector(IRequestFactory.InvalidUmbralKey.selector, 33, 5));
        vm.prank(requester);
        rf.createRequest{value: MIN_REWARD}(ec, abi.encodePacked(bytes1(0x05), bytes32(0)));
    }

    function test_createRequest_revertsIfEvidencePending() public {
        vm.prank(owner);
        address pending = ef.createEvidence(params(3));
        vm.expectRevert(abi.encodeWithSelector(IRequestFactory.EvidenceNotListed.selector, pending));
        vm.prank(requester);
        rf.createRequest{value: MIN_REWARD}(pending, umbralKey("r"));
    }

    function test_createRequest_revertsIfEvidenceRejected() public {
        vm.prank(owner);
        address rejected = ef.createEvidence(params(4));
        vm.prank(verifier);
        IEvidenceContract(rejected).reject("bad");
        vm.expectRevert(
            abi.encodeWithSelector(IRequestFactory.EvidenceNotListed.selector, rejected)
        );
        vm.prank(requester);
        rf.createRequest{value: MIN_REWARD}(rejected, umbralKey("r"));
    }

    function test_createRequest_revertsIfNotEvidence() public {
        vm.expectRevert(
            abi.encodeWithSelector(IRequestFactory.EvidenceNotListed.selector, stranger)
        );
        vm.prank(requester);
        rf.createRequest{value: MIN_REWARD}(stranger, umbralKey("r"));
    }

    function test_requestsOf_newestFirstAcrossEvidence() public {
        address ec2 = verifiedEvidence(5);
        IRequestContract r2 = openRequest(ec2);
        IRequestContract r3 = openRequest(ec);
        (address[] memory all, address end) = resc.requestsOf(owner, address(0), 10);
        vm.assertEq(all.length, 3, "three");
        vm.assertEq(all[0], address(r3), "newest");
        vm.assertEq(all[1], address(r2), "middle");
        vm.assertEq(all[2], address(reqc), "oldest");
        vm.assertEq(end, address(0), "no next after the oldest");
        (address[] memory first, address next) = resc.requestsOf(owner, address(0), 1);
        vm.assertEq(first.length, 1, "one");
        vm.assertEq(first[0], address(r3), "newest first");
        vm.assertEq(next, address(r2), "cursor of page 2");
        (address[] memory second, address next2) = resc.requestsOf(owner, next, 1);
        vm.assertEq(second[0], address(r2), "page 2");
        vm.assertEq(next2, address(reqc), "cursor of page 3");
        (address[] memory none,) = resc.requestsOf(stranger, address(0), 10);
        vm.assertEq(none.length, 0, "no requests");
        (address[] memory zero,) = resc.requestsOf(owner, address(0), 0);
        vm.assertEq(zero.length, 0, "limit 0");
        vm.assertEq(reqc.previousForOwner(), address(0), "first has no previous");
        vm.assertEq(resc.factory(), address(rf), "factory");
    }

    function test_register_revertsIfNotFactory() public {
        vm.expectRevert(
            abi.encodeWithSelector(IResponseContract.NotRequestFactory.selector, stranger)
        );
        vm.prank(stranger);
        resc.register(stranger, owner, ec, stranger, 1, 1, umbralKey("x"));
    }

    function test_constructor_revertsIfConfigInvalid() public {
        uint256 big = uint256(type(uint96).max) + 1;
        _expectConfigRevert(address(0), verifier, 0, 1, 1, 1, "search");
        _expectConfigRevert(address(sc), address(0), 0, 1, 1, 1, "verifier");
        _expectConfigRevert(address(sc), stranger, 0, 1, 1, 1, "verifier");
        _expectConfigRevert(address(sc), verifier, big, 1, 1, 1, "minDeposit");
        _expectConfigRevert(address(sc), verifier, 0, 0, 1, 1, "responseWindow");
        _expectConfigRevert(address(sc), verifier, 0, 366 days, 1, 1, "responseWindow");
        _expectConfigRevert(address(sc), verifier, 0, 1, 0, 1, "confirmWindow");
        _expectConfigRevert(address(sc), verifier, 0, 1, 1, 0, "resolveWindow");
        RequestFactory ok = new RequestFactory(address(sc), verifier, 0, 1, 1, 1);
        vm.assertEq(ok.minReward(), 1, "minReward at least 1 wei");
        vm.assertEq(ok.disputeBond(), 1, "disputeBond at least 1 wei");
        vm.assertEq(rf.minReward(), MIN_DEPOSIT / 10, "minReward = minDeposit / 10");
        vm.assertEq(rf.disputeBond(), MIN_DEPOSIT / 2, "disputeBond = minDeposit / 2");
        vm.assertEq(ok.evidenceFactory(), address(ef), "evidenceFactory");
        vm.assertEq(ok.minDeposit(), 0, "minDeposit");
        vm.assertEq(uint256(ok.responseWindow()), 1, "response");
        vm.assertEq(uint256(ok.confirmWindow()), 1, "confirm");
        vm.assertEq(uint256(ok.resolveWindow()), 1, "resolve");
        vm.assertEq(ok.search(), address(sc), "search");
        vm.assertEq(ok.verifier(), verifier, "verifier");
    }

    // ---------------------------------------------------------------- respond

    function test_respond_recordsDepositAndEmits() public {
        bytes memory k = kfrag();
        bytes memory vk = umbralKey("verifying");
        vm.expectEmit(true, false, false, true, address(reqc));
        emit IRequestContract.RequestResponded(
            owner, 0.5 ether, uint64(T0 + CONFIRM_WINDOW), k, vk, string(LINK)
        );
        vm.prank(owner);
        reqc.respond{value: 0.5 ether}(k, vk, string(LINK));
        vm.assertEq(uint256(reqc.status()), uint256(IRequestContract.Status.Responded), "status");
        vm.assertEq(reqc.deposit(), 0.5 ether, "deposit");
        vm.assertEq(uint256(reqc.deadline()), T0 + CONFIRM_WINDOW, "confirmBy");
        vm.assertEq(address(reqc).balance, REWARD + 0.5 ether, "balance");
    }

    function test_respond_revertsIfNotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(IRequestContract.NotOwner.selector, stranger, owner));
        vm.prank(stranger);
        reqc.respond{value: MIN_DEPOSIT}(kfrag(), umbralKey("v"), string(LINK));
    }

    function test_respond_revertsIfAlreadyResponded() public {
        respond(reqc);
        _expectStatus(IRequestContract.Status.Responded, IRequestContract.Status.Open);
        vm.prank(owner);
        reqc.respond{value: MIN_DEPOSIT}(kfrag(), umbralKey("v"), string(LINK));
    }

    function test_respond_revertsIfDeclined() public {
        vm.prank(owner);
        reqc.decline();
        _expectStatus(IRequestContract.Status.Declined, IRequestContract.Status.Open);
        vm.prank(owner);
        reqc.respond{value: MIN_DEPOSIT}(kfrag(), umbralKey("v"), string(LINK));
    }

    function test_respond_revertsIfDeadlinePassed() public {
        uint64 respondBy = reqc.respondBy();
        vm.warp(uint256(respondBy) + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRequestContract.ResponseDeadlinePassed.selector, respondBy, uint256(respondBy) + 1
            )
        );
        vm.prank(owner);
        reqc.respond{value: MIN_DEPOSIT}(kfrag(), umbralKey("v"), string(LINK));
    }

    function test_respond_acceptsAtDeadline() public {
        vm.warp(reqc.respondBy());
        respond(reqc);
        vm.assertEq(uint256(reqc.status()), uint256(IRequestContract.Status.Responded), "status");
    }

    function test_respond_revertsIfDepositTooLow() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IRequestContract.DepositTooLow.selector, MIN_DEPOSIT - 1, MIN_DEPOSIT
            )
        );
        vm.prank(owner);
        reqc.respond{value: MIN_DEPOSIT - 1}(kfrag(), umbralKey("v"), string(LINK));
    }

    function test_respond_revertsIfDepositTooLarge() public {
        uint256 big = uint256(type(uint96).max) + 1;
        vm.deal(owner, big);
        vm.expectRevert(abi.encodeWithSelector(IRequestContract.DepositTooLarge.selector, big));
        vm.prank(owner);
        reqc.respond{value: big}(kfrag(), umbralKey("v"), string(LINK));
    }

    function test_respond_revertsIfKfragShort() public {
        vm.expectRevert(abi.encodeWithSelector(IRequestContract.InvalidKfragLength.selector, 127));
        vm.prank(owner);
        reqc.respond{value: MIN_DEPOSIT}(blob("k", 127), umbralKey("v"), string(LINK));
    }

    function test_respond_revertsIfKfragLong() public {
        vm.expectRevert(abi.encodeWithSelector(IRequestContract.InvalidKfragLength.selector, 2049));
        vm.prank(owner);
        reqc.respond{value: MIN_DEPOSIT}(blob("k", 2049), umbralKey("v"), string(LINK));
    }

    function test_respond_revertsIfUmbralKeyInvalid() public {
        vm.expectRevert(abi.encodeWithSelector(IRequestContract.InvalidUmbralKey.selector, 34, 3));
        vm.prank(owner);
        reqc.respond{value: MIN_DEPOSIT}(
            kfrag(), abi.encodePacked(bytes1(0x03), bytes32(0), bytes1(0)), string(LINK)
        );
    }

    function test_respond_revertsIfLinkEmpty() public {
        vm.expectRevert(abi.encodeWithSelector(IRequestContract.InvalidDownloadLink.selector, 0));
        vm.prank(owner);
        reqc.respond{value: MIN_DEPOSIT}(kfrag(), umbralKey("v"), "");
    }

    function test_respond_revertsIfLinkTooLong() public {
        vm.expectRevert(abi.encodeWithSelector(IRequestContract.InvalidDownloadLink.selector, 1025));
        vm.prank(owner);
        reqc.respond{value: MIN_DEPOSIT}(kfrag(), umbralKey("v"), string(blob("l", 1025)));
    }

    function test_respond_revertsIfRogueClone() public {
        // The same code at an address the factory never created: no deposit accepted.
        address rogue = address(0xBAD1);
        vm.etch(rogue, address(reqc).code);
        vm.expectRevert(abi.encodeWithSelector(IRequestContract.NotFactoryRequest.selector, rogue));
        vm.prank(owner);
        IRequestContract(rogue).respond{value: MIN_DEPOSIT}(kfrag(), umbralKey("v"), string(LINK));
        vm.assertFalse(rf.isRequest(rogue), "isRequest");
    }

    function test_implementation_isLocked() public {
        IRequestContract impl = IRequestContract(rf.implementation());
        vm.expectRevert(IRequestContract.ImplementationLocked.selector);
        impl.respond{value: MIN_DEPOSIT}(kfrag(), umbralKey("v"), string(LINK));
        vm.expectRevert(IRequestContract.ImplementationLocked.selector);
        impl.decline();
        vm.expectRevert(IRequestContract.ImplementationLocked.selector);
        impl.cancel();
        vm.expectRevert(IRequestContract.ImplementationLocked.selector);
        impl.confirm();
        vm.expectRevert(IRequestContract.ImplementationLocked.selector);
        impl.dispute{value: DISPUTE_BOND}();
        vm.expectRevert(IRequestContract.ImplementationLocked.selector);
        impl.resolve(true);
        vm.expectRevert(IRequestContract.ImplementationLocked.selector);
        impl.claim();
        vm.expectRevert(IRequestContract.ImplementationLocked.selector);
        impl.expireDispute();
        vm.expectRevert(IRequestContract.ImplementationLocked.selector);
        impl.withdraw(payable(stranger));
        vm.assertFalse(rf.isRequest(address(impl)), "implementation is not a request");
    }

    // ---------------------------------------------------------------- decline / cancel

    function test_decline_refundsRequester() public {
        vm.expectEmit(true, false, false, true, address(reqc));
        emit IRequestContract.RequestDeclined(owner);
        vm.prank(owner);
        reqc.decline();
        vm.assertEq(uint256(reqc.status()), uint256(IRequestContract.Status.Declined), "status");
        vm.assertEq(reqc.owed(requester), REWARD, "requester owed");
        vm.assertEq(reqc.owed(owner), 0, "owner owed");
        _withdrawAndCheck(requester, REWARD);
    }

    function test_decline_revertsIfNotOwner() public {
        vm.expectRevert(
            abi.encodeWithSelector(IRequestContract.NotOwner.selector, requester, owner)
        );
        vm.prank(requester);
        reqc.decline();
    }

    function test_decline_revertsIfResponded() public {
        respond(reqc);
        _expectStatus(IRequestContract.Status.Responded, IRequestContract.Status.Open);
        vm.prank(owner);
        reqc.decline();
    }

    function test_cancel_afterDeadlineRefundsRequester() public {
        vm.warp(uint256(reqc.respondBy()) + 1);
        vm.expectEmit(true, false, false, true, address(reqc));
        emit IRequestContract.RequestCancelled(requester);
        vm.prank(requester);
        reqc.cancel();
        vm.assertEq(uint256(reqc.status()), uint256(IRequestContract.Status.Cancelled), "status");
        _withdrawAndCheck(requester, REWARD);
    }

    function test_cancel_revertsIfWindowOpen() public {
        uint64 respondBy = reqc.respondBy();
        vm.warp(respondBy);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRequestContract.ResponseWindowOpen.selector, respondBy, respondBy
            )
        );
        vm.prank(requester);
        reqc.cancel();
    }

    function test_cancel_revertsIfNotRequester() public {
        vm.warp(uint256(reqc.respondBy()) + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IRequestContract.NotRequester.selector, owner, requester)
        );
        vm.prank(owner);
        reqc.cancel();
    }

    function test_cancel_revertsIfResponded() public {
        respond(reqc);
        vm.warp(uint256(reqc.respondBy()) + 1);
        _expectStatus(IRequestContract.Status.Responded, IRequestContract.Status.Open);
        vm.prank(requester);
        reqc.cancel();
    }

    // ---------------------------------------------------------------- confirm / claim

    function test_confirm_paysOwner() public {
        respond(reqc);
        vm.expectEmit(true, false, false, true, address(reqc));
        emit IRequestContract.RequestConfirmed(requester);
        vm.prank(requester);
        reqc.confirm();
        vm.assertEq(uint256(reqc.status()), uint256(IRequestContract.Status.Completed), "status");
        vm.assertEq(reqc.owed(owner), REWARD + MIN_DEPOSIT, "owner owed");
        vm.assertEq(reqc.owed(requester), 0, "requester owed");
        _withdrawAndCheck(owner, REWARD + MIN_DEPOSIT);
    }

    function test_confirm_allowedAfterConfirmWindow() public {
        respond(reqc);
        vm.warp(uint256(reqc.deadline()) + 10 days);
        vm.prank(requester);
        reqc.confirm();
        vm.assertEq(uint256(reqc.status()), uint256(IRequestContract.Status.Completed), "status");
    }

    function test_confirm_revertsIfNotRequester() public {
        respond(reqc);
        vm.expectRevert(
            abi.encodeWithSelector(IRequestContract.NotRequester.selector, owner, requester)
        );
        vm.prank(owner);
        reqc.confirm();
    }

    function test_confirm_revertsIfOpen() public {
        _expectStatus(IRequestContract.Status.Open, IRequestContract.Status.Responded);
        vm.prank(requester);
        reqc.confirm();
    }

    function test_confirm_revertsIfClaimed() public {
        respond(reqc);
        vm.warp(uint256(reqc.deadline()) + 1);
        vm.prank(owner);
        reqc.claim();
        _expectStatus(IRequestContract.Status.Claimed, IRequestContract.Status.Responded);
        vm.prank(requester);
        reqc.confirm();
    }

    function test_claim_afterSilence() public {
        respond(reqc);
        vm.warp(uint256(reqc.deadline()) + 1);
        vm.expectEmit(true, false, false, true, address(reqc));
        emit IRequestContract.RequestClaimed(owner);
        vm.prank(owner);
        reqc.claim();
        vm.assertEq(uint256(reqc.status()), uint256(IRequestContract.Status.Claimed), "status");
        _withdrawAndCheck(owner, REWARD + MIN_DEPOSIT);
    }

    function test_claim_revertsIfWindowOpen() public {
        respond(reqc);
        uint64 confirmBy = reqc.deadline();
        vm.warp(confirmBy);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRequestContract.ConfirmWindowOpen.selector, confirmBy, confirmBy
            )
        );
        vm.prank(owner);
        reqc.claim();
    }

    function test_claim_revertsIfNotOwner() public {
        respond(reqc);
        vm.warp(uint256(reqc.deadline()) + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IRequestContract.NotOwner.selector, requester, owner)
        );
        vm.prank(requester);
        reqc.claim();
    }

    function test_claim_revertsIfOpen() public {
        _expectStatus(IRequestContract.Status.Open, IRequestContract.Status.Responded);
        vm.prank(owner);
        reqc.claim();
    }

    // ---------------------------------------------------------------- dispute / resolve / expire

    function test_dispute_withinWindow() public {
        respond(reqc);
        vm.warp(reqc.deadline());
        uint64 resolveBy = uint64(block.timestamp + RESOLVE_WINDOW);
        vm.expectEmit(true, false, false, true, address(reqc));
        emit IRequestContract.RequestDisputed(requester, DISPUTE_BOND, resolveBy);
        vm.prank(requester);
        reqc.dispute{value: DISPUTE_BOND}();
        vm.assertEq(uint256(reqc.status()), uint256(IRequestContract.Status.Disputed), "status");
        vm.assertEq(uint256(reqc.deadline()), resolveBy, "resolveBy");
        vm.assertEq(reqc.owed(owner), 0, "nothing owed while disputed");
        vm.assertEq(reqc.owed(requester), 0, "nothing owed while disputed");
    }

    function test_dispute_revertsIfWindowClosed() public {
        respond(reqc);
        uint64 confirmBy = reqc.deadline();
        vm.warp(uint256(confirmBy) + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRequestContract.ConfirmWindowClosed.selector, confirmBy, uint256(confirmBy) + 1
            )
        );
        vm.prank(requester);
        reqc.dispute{value: DISPUTE_BOND}();
    }

    function test_dispute_revertsIfNotRequester() public {
        respond(reqc);
        vm.expectRevert(
            abi.encodeWithSelector(IRequestContract.NotRequester.selector, stranger, requester)
        );
        vm.prank(stranger);
        reqc.dispute{value: DISPUTE_BOND}();
    }

    function test_dispute_revertsIfOpen() public {
        _expectStatus(IRequestContract.Status.Open, IRequestContract.Status.Responded);
        vm.prank(requester);
        reqc.dispute{value: DISPUTE_BOND}();
    }

    function test_dispute_revertsIfDisputed() public {
        _dispute();
        _expectStatus(IRequestContract.Status.Disputed, IRequestContract.Status.Responded);
        vm.prank(requester);
        reqc.dispute{value: DISPUTE_BOND}();
    }

    function test_resolve_validKfragPaysOwner() public {
        _dispute();
        vm.expectEmit(true, false, false, true, address(reqc));
        emit IRequestContract.DisputeResolved(verifier, true);
        vm.prank(verifier);
        reqc.resolve(true);
        vm.assertEq(
            uint256(reqc.status()), uint256(IRequestContract.Status.ResolvedForOwner), "status"
        );
        vm.assertEq(reqc.owed(requester), 0, "requester owed");
        _withdrawAndCheck(owner, REWARD + MIN_DEPOSIT + DISPUTE_BOND);
    }

    function test_resolve_invalidKfragPaysRequester() public {
        _dispute();
        vm.prank(verifier);
        reqc.resolve(false);
        vm.assertEq(
            uint256(reqc.status()), uint256(IRequestContract.Status.ResolvedForRequester), "status"
        );
        vm.assertEq(reqc.owed(owner), 0, "owner owed");
        _withdrawAndCheck(requester, REWARD + MIN_DEPOSIT + DISPUTE_BOND);
    }

    function test_resolve_allowedAtResolveBy() public {
        _dispute();
        vm.warp(uint256(reqc.deadline()));
        vm.prank(verifier);
        reqc.resolve(true);
        vm.assertEq(
            uint256(reqc.status()), uint256(IRequestContract.Status.ResolvedForOwner), "status"
        );
    }

    function test_resolve_revertsIfNotVerifier() public {
        _dispute();
        vm.expectRevert(
            abi.encodeWithSelector(IRequestContract.NotVerifier.selector, owner, verifier)
        );
        vm.prank(owner);
        reqc.resolve(true);
    }

    function test_resolve_revertsIfNotDisputed() public {
        respond(reqc);
        _expectStatus(IRequestContract.Status.Responded, IRequestContract.Status.Disputed);
        vm.prank(verifier);
        reqc.resolve(true);
    }

    function test_resolve_revertsIfResolved() public {
        _dispute();
        vm.prank(verifier);
        reqc.resolve(true);
        _expectStatus(IRequestContract.Status.ResolvedForOwner, IRequestContract.Status.Disputed);
        vm.prank(verifier);
        reqc.resolve(false);
    }

    function test_expireDispute_favoursOwner() public {
        _dispute();
        vm.warp(uint256(reqc.deadline()) + 1);
        vm.expectEmit(true, false, false, true, address(reqc));
        emit IRequestContract.DisputeExpired(stranger);
        vm.prank(stranger);
        reqc.expireDispute();
        vm.assertEq(
            uint256(reqc.status()), uint256(IRequestContract.Status.DisputeExpired), "status"
        );
        vm.assertEq(reqc.owed(requester), DISPUTE_BOND, "requester gets the bond back");
        vm.assertEq(reqc.owed(owner), REWARD + MIN_DEPOSIT, "owner is paid");
        _withdrawAndCheck(requester, DISPUTE_BOND);
        _withdrawAndCheck(owner, REWARD + MIN_DEPOSIT);
        vm.assertEq(address(reqc).balance, 0, "empty");
    }

    function test_expireDispute_revertsIfWindowOpen() public {
        _dispute();
        uint64 resolveBy = reqc.deadline();
        vm.warp(resolveBy);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRequestContract.ResolveWindowOpen.selector, resolveBy, resolveBy
            )
        );
        reqc.expireDispute();
    }

    function test_expireDispute_revertsIfNotDisputed() public {
        respond(reqc);
        _expectStatus(IRequestContract.Status.Responded, IRequestContract.Status.Disputed);
        reqc.expireDispute();
    }

    // ---------------------------------------------------------------- withdraw

    function test_withdraw_revertsIfNothingOwed() public {
        vm.expectRevert(
            abi.encodeWithSelector(IRequestContract.NothingToWithdraw.selector, requester)
        );
        vm.prank(requester);
        reqc.withdraw(payable(requester));
    }

    function test_withdraw_revertsIfStranger() public {
        vm.prank(owner);
        reqc.decline();
        vm.expectRevert(
            abi.encodeWithSelector(IRequestContract.NothingToWithdraw.selector, stranger)
        );
        vm.prank(stranger);
        reqc.withdraw(payable(stranger));
        vm.expectRevert(abi.encodeWithSelector(IRequestContract.NothingToWithdraw.selector, owner));
        vm.prank(owner);
        reqc.withdraw(payable(owner));
    }

    function test_withdraw_revertsIfTwice() public {
        vm.prank(owner);
        reqc.decline();
        vm.prank(requester);
        reqc.withdraw(payable(requester));
        vm.expectRevert(
            abi.encodeWithSelector(IRequestContract.NothingToWithdraw.selector, requester)
        );
        vm.prank(requester);
        reqc.withdraw(payable(requester));
    }

    function test_withdraw_revertsIfRecipientZero() public {
        vm.prank(owner);
        reqc.decline();
        vm.expectRevert(
            abi.encodeWithSelector(IRequestContract.InvalidRecipient.selector, address(0))
        );
        vm.prank(requester);
        reqc.withdraw(payable(address(0)));
    }

    function test_withdraw_revertsIfRecipientRefuses() public {
        vm.prank(owner);
        reqc.decline();
        Refuser refuser = new Refuser();
        vm.expectRevert(
            abi.encodeWithSelector(
                IRequestContract.TransferFailed.selector, address(refuser), REWARD
            )
        );
        vm.prank(requester);
        reqc.withdraw(payable(address(refuser)));
        // Nothing was lost: the payee can still withdraw elsewhere.
        _withdrawAndCheck(requester, REWARD);
    }

    function test_withdraw_toAnotherAddress() public {
        vm.prank(owner);
        reqc.decline();
        uint256 before = stranger.balance;
        vm.expectEmit(true, true, false, true, address(reqc));
        emit IRequestContract.PaymentWithdrawn(requester, stranger, REWARD);
        vm.prank(requester);
        reqc.withdraw(payable(stranger));
        vm.assertEq(stranger.balance - before, REWARD, "forwarded");
    }

    function test_withdraw_reentrancyPaysOnce() public {
        // The owner is a contract that re-enters withdraw when paid.
        Reenterer evil = new Reenterer();
        vm.prank(address(evil));
        address evilEc = ef.createEvidence(params(77));
        vm.prank(verifier);
        IEvidenceContract(evilEc).verify();
        IRequestContract r = openRequest(evilEc);
        evil.setTarget(r);
        vm.deal(address(evil), 1 ether);
        evil.respond{value: MIN_DEPOSIT}(kfrag(), umbralKey("v"));
        vm.prank(requester);
        r.confirm();
        evil.withdraw();
        vm.assertTrue(evil.reentryFailed(), "re-entry refused");
        vm.assertEq(evil.received(), REWARD + MIN_DEPOSIT, "paid exactly once");
        vm.assertEq(address(r).balance, 0, "nothing left");
    }

    function test_withdraw_selfRequestGetsBothShares() public {
        // The owner requests its own footage, disputes, and the verifier never answers.
        vm.prank(owner);
        IRequestContract r = IRequestContract(rf.createRequest{value: REWARD}(ec, umbralKey("o")));
        respond(r);
        vm.prank(owner);
        r.dispute{value: DISPUTE_BOND}();
        vm.warp(uint256(r.deadline()) + 1);
        r.expireDispute();
        vm.assertEq(r.owed(owner), REWARD + MIN_DEPOSIT + DISPUTE_BOND, "both shares");
        uint256 before = owner.balance;
        vm.prank(owner);
        r.withdraw(payable(owner));
        vm.assertEq(owner.balance - before, REWARD + MIN_DEPOSIT + DISPUTE_BOND, "paid");
        vm.assertEq(address(r).balance, 0, "empty");
    }

    function test_reward_isWhatWasPaidIn() public {
        vm.assertEq(reqc.reward(), REWARD, "reward while Open");
        respond(reqc);
        vm.assertEq(reqc.reward(), REWARD, "reward after respond (deposit not counted)");
        vm.assertEq(reqc.info().reward, REWARD, "info.reward");
        vm.assertEq(reqc.deposit(), MIN_DEPOSIT, "deposit");
    }

    function test_forcedEther_whileOpen_isRequesterSurplus() public {
        // ETH forced in (selfdestruct, coinbase) while Open is not stuck: it is the requester's
        // surplus, and the reward stays what was paid in.
        vm.deal(address(reqc), REWARD + 1 ether);
        vm.assertEq(reqc.reward(), REWARD, "reward unchanged");
        vm.assertEq(reqc.surplus(), 1 ether, "surplus");
        vm.prank(owner);
        reqc.decline();
        _withdrawAndCheck(requester, REWARD + 1 ether);
        vm.assertEq(address(reqc).balance, 0, "empty");
    }

    // ---------------------------------------------------------------- fuzz

    function testFuzz_reward_escrowedAndRefunded(uint96 reward) public {
        reward = uint96(bound(reward, MIN_REWARD, 50 ether));
        vm.prank(requester);
        IRequestContract r = IRequestContract(rf.createRequest{value: reward}(ec, umbralKey("r")));
        vm.assertEq(address(r).balance, reward, "escrowed");
        vm.assertEq(r.reward(), reward, "reward");
        vm.prank(owner);
        r.decline();
        uint256 before = requester.balance;
        vm.prank(requester);
        r.withdraw(payable(requester));
        vm.assertEq(requester.balance - before, reward, "refunded");
        vm.assertEq(address(r).balance, 0, "empty");
    }

    function testFuzz_respond_deposit(uint96 amount) public {
        amount = uint96(bound(amount, 0, 50 ether));
        vm.deal(owner, 100 ether);
        if (amount < MIN_DEPOSIT) {
            vm.expectRevert(
                abi.encodeWithSelector(IRequestContract.DepositTooLow.selector, amount, MIN_DEPOSIT)
            );
        }
        vm.prank(owner);
        reqc.respond{value: amount}(kfrag(), umbralKey("v"), string(LINK));
        if (amount >= MIN_DEPOSIT) {
            vm.prank(requester);
            reqc.confirm();
            _withdrawAndCheck(owner, REWARD + amount);
        }
    }

    function testFuzz_respond_deadline(uint32 delay) public {
        vm.warp(T0 + delay);
        bool inTime = T0 + delay <= reqc.respondBy();
        if (!inTime) {
            vm.expectPartialRevert(IRequestContract.ResponseDeadlinePassed.selector);
        }
        vm.prank(owner);
        reqc.respond{value: MIN_DEPOSIT}(kfrag(), umbralKey("v"), string(LINK));
        if (!inTime) {
            vm.prank(requester);
            reqc.cancel();
            _withdrawAndCheck(requester, REWARD);
        }
    }

    function testFuzz_cancel_deadline(uint32 delay) public {
        vm.warp(T0 + delay);
        if (T0 + delay <= reqc.respondBy()) {
            vm.expectPartialRevert(IRequestContract.ResponseWindowOpen.selector);
        }
        vm.prank(requester);
        reqc.cancel();
    }

    function testFuzz_disputeOrClaim_window(uint32 delay) public {
        respond(reqc);
        uint256 confirmBy = reqc.deadline();
        vm.warp(T0 + delay);
        bool open = T0 + delay <= confirmBy;
        if (!open) vm.expectPartialRevert(IRequestContract.ConfirmWindowClosed.selector);
        vm.prank(requester);
        reqc.dispute{value: DISPUTE_BOND}();
        if (open) vm.expectPartialRevert(IRequestContract.InvalidStatus.selector);
        vm.prank(owner);
        reqc.claim();
        IRequestContract.Status want =
            open ? IRequestContract.Status.Disputed : IRequestContract.Status.Claimed;
        vm.assertEq(uint256(reqc.status()), uint256(want), "status");
    }

    function testFuzz_resolve_paysWinnerEverything(bool valid, uint96 deposit_) public {
        deposit_ = uint96(bound(deposit_, MIN_DEPOSIT, 20 ether));
        vm.prank(owner);
        reqc.respond{value: deposit_}(kfrag(), umbralKey("v"), string(LINK));
        vm.prank(requester);
        reqc.dispute{value: DISPUTE_BOND}();
        vm.prank(verifier);
        reqc.resolve(valid);
        address winner = valid ? owner : requester;
        address loser = valid ? requester : owner;
        vm.assertEq(reqc.owed(loser), 0, "loser");
        _withdrawAndCheck(winner, REWARD + deposit_ + DISPUTE_BOND);
    }

    // ---------------------------------------------------------------- helpers

    function _dispute() internal {
        respond(reqc);
        vm.prank(requester);
        reqc.dispute{value: DISPUTE_BOND}();
    }

    function _expectStatus(IRequestContract.Status current, IRequestContract.Status expected)
        internal
    {
        vm.expectRevert(
            abi.encodeWithSelector(IRequestContract.InvalidStatus.selector, current, expected)
        );
    }

    function _withdrawAndCheck(address who, uint256 amount) internal {
        vm.assertEq(reqc.owed(who), amount, "owed before");
        uint256 before = who.balance;
        vm.prank(who);
        reqc.withdraw(payable(who));
        vm.assertEq(who.balance - before, amount, "withdrawn");
        vm.assertEq(reqc.owed(who), 0, "owed after");
    }

    function _expectConfigRevert(
        address s,
        address v,
        uint256 m,
        uint64 a,
        uint64 b,
        uint64 c,
        string memory name
    ) internal {
        vm.expectRevert(abi.encodeWithSelector(IRequestFactory.InvalidConfig.selector, name));
        new RequestFactory(s, v, m, a, b, c);
    }
}
