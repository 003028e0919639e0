// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

import {Base} from "./utils/Base.sol";
import {vm} from "./utils/Vm.sol";
import {IEvidenceContract} from "../src/interfaces/IEvidenceContract.sol";
import {IEvidenceFactory} from "../src/interfaces/IEvidenceFactory.sol";
import {IRequestContract} from "../src/interfaces/IRequestContract.sol";
import {IResponseContract} from "../src/interfaces/IResponseContract.sol";
import {CloneLib} from "../src/lib/CloneLib.sol";
import {RequestArgs} from "../src/lib/RequestArgs.sol";

/// @notice Issue 15, findings 1-5: each test here failed (or could not be written) against the
///         contracts before the redesign, and passes after. See docs/contracts.md "The verifier"
///         and "The request game".
contract RequestGameTest is Base {
    address internal ec;
    IRequestContract internal reqc;
    bytes internal constant LINK = "https://cloud.example/x";

    function setUp() public override {
        super.setUp();
        ec = verifiedEvidence(1);
        reqc = openRequest(ec);
        vm.deal(verifier, 100 ether);
    }

    // ------------------------------------------------ finding 1: the verifier's role

    /// The old exploit: the verifier opens a request, disputes the honest response and resolves
    /// for itself, taking the owner's deposit.
    function test_resolve_revertsIfVerifierIsRequester() public {
        vm.prank(verifier);
        IRequestContract r =
            IRequestContract(rf.createRequest{value: REWARD}(ec, umbralKey("verifier")));
        respond(r);
        vm.prank(verifier);
        r.dispute{value: DISPUTE_BOND}();
        vm.expectRevert(abi.encodeWithSelector(IRequestContract.VerifierIsParty.selector, verifier));
        vm.prank(verifier);
        r.resolve(false);
        // The dispute ends by the silence rule: the honest owner is paid.
        vm.warp(uint256(r.deadline()) + 1);
        r.expireDispute();
        vm.assertEq(r.owed(owner), REWARD + MIN_DEPOSIT, "owner paid");
        vm.assertEq(r.owed(verifier), DISPUTE_BOND, "verifier gets only its bond back");
    }

    /// A verifier that owns the EC of a request (here: the owner became the verifier by rotation)
    /// may not resolve it either.
    function test_resolve_revertsIfVerifierIsOwner() public {
        respond(reqc);
        vm.prank(requester);
        reqc.dispute{value: DISPUTE_BOND}();
        _rotate(owner);
        vm.expectRevert(abi.encodeWithSelector(IRequestContract.VerifierIsParty.selector, owner));
        vm.prank(owner);
        reqc.resolve(true);
    }

    function test_verify_revertsIfVerifierIsOwner() public {
        vm.prank(verifier);
        IEvidenceContract own = IEvidenceContract(ef.createEvidence(params(9)));
        vm.expectRevert(
            abi.encodeWithSelector(IEvidenceContract.VerifierIsOwner.selector, verifier)
        );
        vm.prank(verifier);
        own.verify();
        vm.expectRevert(
            abi.encodeWithSelector(IEvidenceContract.VerifierIsOwner.selector, verifier)
        );
        vm.prank(verifier);
        own.reject("x");
    }

    function test_verifierTransfer_twoStepsWithDelay() public {
        address next = vm.addr(0x9E77);
        uint64 readyAt = uint64(block.timestamp) + ef.VERIFIER_TRANSFER_DELAY();
        vm.expectEmit(true, true, false, true, address(ef));
        emit IEvidenceFactory.VerifierTransferStarted(verifier, next, readyAt);
        vm.prank(verifier);
        ef.proposeVerifier(next);
        (address pending, uint64 at) = ef.pendingVerifier();
        vm.assertEq(pending, next, "pending");
        vm.assertEq(uint256(at), uint256(readyAt), "readyAt");
        vm.assertEq(ef.verifier(), verifier, "unchanged until accepted");
        vm.warp(readyAt);
        vm.expectEmit(true, true, false, true, address(ef));
        emit IEvidenceFactory.VerifierTransferred(verifier, next);
        vm.prank(next);
        ef.acceptVerifier();
        // One role everywhere: factory, EC, SearchContract, RequestFactory, REQC.
        vm.assertEq(ef.verifier(), next, "factory");
        vm.assertEq(IEvidenceContract(ec).verifier(), next, "EC");
        vm.assertEq(sc.verifier(), next, "SearchContract");
        vm.assertEq(rf.verifier(), next, "RequestFactory");
        vm.assertEq(reqc.verifier(), next, "REQC");
        (pending, at) = ef.pendingVerifier();
        vm.assertEq(pending, address(0), "no pending");
        // The old key has no power left; the new one has.
        vm.prank(owner);
        IEvidenceContract fresh = IEvidenceContract(ef.createEvidence(params(5)));
        vm.expectRevert(abi.encodeWithSelector(IEvidenceContract.NotVerifier.selector, verifier));
        vm.prank(verifier);
        fresh.verify();
        vm.prank(next);
        fresh.verify();
        IRequestContract r = openRequest(ec);
        respond(r);
        vm.prank(requester);
        r.dispute{value: DISPUTE_BOND}();
        vm.expectRevert(
            abi.encodeWithSelector(IRequestContract.NotVerifier.selector, verifier, next)
        );
        vm.prank(verifier);
        r.resolve(true);
        vm.prank(next);
        r.resolve(true);
    }

    function test_acceptVerifier_revertsIfDelayNotOver() public {
        address next = vm.addr(0x9E77);
        vm.prank(verifier);
        ef.proposeVerifier(next);
        (, uint64 readyAt) = ef.pendingVerifier();
        vm.warp(uint256(readyAt) - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IEvidenceFactory.VerifierTransferNotReady.selector, readyAt, uint256(readyAt) - 1
            )
        );
        vm.prank(next);
        ef.acceptVerifier();
    }

    function test_acceptVerifier_revertsIfNotPending() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IEvidenceFactory.NotPendingVerifier.selector, stranger, address(0)
            )
        );
        vm.prank(stranger);
        ef.acceptVerifier();
        vm.prank(verifier);
        ef.proposeVerifier(relayer);
        vm.expectRevert(
            abi.encodeWithSelector(IEvidenceFactory.NotPendingVerifier.selector, stranger, relayer)
        );
        vm.prank(stranger);
        ef.acceptVerifier();
    }

    function test_proposeVerifier_revertsIfNotVerifier() public {
        vm.expectRevert(
            abi.encodeWithSelector(IEvidenceFactory.NotVerifier.selector, stranger, verifier)
        );
        vm.prank(stranger);
        ef.proposeVerifier(stranger);
    }

    function test_proposeVerifier_revertsIfInvalid() public {
        vm.expectRevert(
            abi.encodeWithSelector(IEvidenceFactory.InvalidVerifier.selector, address(0))
        );
        vm.prank(verifier);
        ef.proposeVerifier(address(0));
        vm.expectRevert(abi.encodeWithSelector(IEvidenceFactory.InvalidVerifier.selector, verifier));
        vm.prank(verifier);
        ef.proposeVerifier(verifier);
    }

    function test_cancelVerifierTransfer_revertsIfNothingPending() public {
        vm.expectRevert(IEvidenceFactory.NoPendingVerifier.selector);
        vm.prank(verifier);
        ef.cancelVerifierTransfer();
        vm.prank(verifier);
        ef.proposeVerifier(relayer);
        vm.expectRevert(
            abi.encodeWithSelector(IEvidenceFactory.NotVerifier.selector, relayer, verifier)
        );
        vm.prank(relayer);
        ef.cancelVerifierTransfer();
        vm.expectEmit(true, true, false, true, address(ef));
        emit IEvidenceFactory.VerifierTransferCancelled(verifier, relayer);
        vm.prank(verifier);
        ef.cancelVerifierTransfer();
        vm.warp(block.timestamp + 30 days);
        vm.expectRevert(
            abi.encodeWithSelector(
                IEvidenceFactory.NotPendingVerifier.selector, relayer, address(0)
            )
        );
        vm.prank(relayer);
        ef.acceptVerifier();
    }

    // ------------------------------------------------ finding 2: disputes cost the requester

    /// The old exploit: a dispute was free, and the verifier's silence gave the whole reward back.
    function test_dispute_revertsIfBondMissing() public {
        respond(reqc);
        vm.expectRevert(
            abi.encodeWithSelector(IRequestContract.WrongBond.selector, 0, DISPUTE_BOND)
        );
        vm.prank(requester);
        reqc.dispute();
        vm.expectRevert(
            abi.encodeWithSelector(
                IRequestContract.WrongBond.selector, DISPUTE_BOND + 1, DISPUTE_BOND
            )
        );
        vm.prank(requester);
        reqc.dispute{value: DISPUTE_BOND + 1}();
    }

    /// Requester disputes at the last second of the confirm window, the verifier stays silent:
    /// before, the requester got the reward back (having the footage) and the owner only its
    /// deposit; now the owner is paid and the requester only gets its bond back.
    function test_expireDispute_revertsIfRequesterExpectsRewardBack() public {
        respond(reqc);
        vm.warp(reqc.deadline());
        vm.prank(requester);
        reqc.dispute{value: DISPUTE_BOND}();
        vm.warp(uint256(reqc.deadline()) + 1);
        reqc.expireDispute();
        vm.assertEq(reqc.owed(owner), REWARD + MIN_DEPOSIT, "owner paid in full");
        vm.assertEq(reqc.owed(requester), DISPUTE_BOND, "requester: bond only");
    }

    /// An honest owner (valid kfrag) ends with at least reward + deposit whatever the requester
    /// does and whether the verifier answers or not.
    function testFuzz_game_honestOwnerNeverBelowPaid(uint8 path, uint32 delay) public {
        respond(reqc);
        uint256 confirmBy = reqc.deadline();
        path %= 4;
        if (path == 0) {
            vm.prank(requester);
            reqc.confirm();
        } else if (path == 1) {
            vm.warp(confirmBy + 1 + delay % 30 days);
            vm.prank(owner);
            reqc.claim();
        } else {
            vm.warp(T0 + delay % (confirmBy - T0 + 1));
            vm.prank(requester);
            reqc.dispute{value: DISPUTE_BOND}();
            if (path == 2) {
                vm.prank(verifier);
                reqc.resolve(true); // honest verifier: the kfrag is valid
            } else {
                vm.warp(uint256(reqc.deadline()) + 1);
                reqc.expireDispute(); // silent verifier
            }
        }
        vm.assertGe(reqc.owed(owner), REWARD + MIN_DEPOSIT, "owner below paid");
        _drain();
    }

    /// An honest requester given a wrong kfrag disputes and, with an honest verifier, gets back
    /// everything it paid (reward + bond) and the owner's deposit.
    function testFuzz_game_honestRequesterNeverPaysForWrongKfrag(uint32 delay) public {
        respond(reqc);
        vm.warp(T0 + delay % (uint256(reqc.deadline()) - T0 + 1));
        uint256 before = requester.balance;
        vm.prank(requester);
        reqc.dispute{value: DISPUTE_BOND}();
        vm.warp(block.timestamp + delay % (RESOLVE_WINDOW + 1));
        vm.prank(verifier);
        reqc.resolve(false);
        vm.prank(requester);
        reqc.withdraw(payable(requester));
        vm.assertEq(requester.balance, before + REWARD + MIN_DEPOSIT, "reward back + deposit");
        vm.assertEq(reqc.owed(owner), 0, "owner gets nothing");
        vm.assertEq(address(reqc).balance, 0, "empty");
    }

    // ------------------------------------------------ finding 3: one rule at resolveBy

    /// Before: `resolve` stayed possible after resolveBy, so a late ruling for the owner could be
    /// front-run by `expireDispute`. Now after resolveBy only `expireDispute` is possible.
    function test_resolve_revertsIfResolveWindowClosed() public {
        respond(reqc);
        vm.prank(requester);
        reqc.dispute{value: DISPUTE_BOND}();
        uint64 resolveBy = reqc.deadline();
        vm.warp(uint256(resolveBy) + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRequestContract.ResolveWindowClosed.selector, resolveBy, uint256(resolveBy) + 1
            )
        );
        vm.prank(verifier);
        reqc.resolve(true);
        reqc.expireDispute();
    }

    /// At every instant exactly one of `resolve` and `expireDispute` is possible.
    function testFuzz_resolveOrExpire_exactlyOne(uint32 delay) public {
        respond(reqc);
        vm.prank(requester);
        reqc.dispute{value: DISPUTE_BOND}();
        uint256 resolveBy = reqc.deadline();
        vm.warp(block.timestamp + delay % (2 * RESOLVE_WINDOW));
        bool inWindow = block.timestamp <= resolveBy;
        if (!inWindow) vm.expectPartialRevert(IRequestContract.ResolveWindowClosed.selector);
        vm.prank(verifier);
        reqc.resolve(true);
        if (inWindow) vm.expectPartialRevert(IRequestContract.InvalidStatus.selector);
        reqc.expireDispute();
    }

    // ------------------------------------------------ finding 4: accounting by what was paid in

    /// Before: the reward was the balance at the first transition, so ETH sent to the REQC's
    /// predictable address beforehand changed it (and disagreed with `RequestOpened`).
    function test_reward_revertsIfEthSentBeforeCreationCounted() public {
        address predicted = _predictNext(requester, REWARD);
        vm.deal(predicted, 2 ether);
        vm.recordLogs();
        IRequestContract r = openRequest(ec);
        vm.assertEq(address(r), predicted, "predicted address");
        vm.assertEq(r.reward(), REWARD, "reward is what was paid in");
        vm.assertEq(r.info().reward, REWARD, "info");
        vm.assertEq(r.surplus(), 2 ether, "surplus");
        vm.assertEq(r.held(), REWARD, "held");
        respond(r);
        vm.assertEq(r.reward(), REWARD, "still the reward after respond");
        vm.prank(requester);
        r.confirm();
        vm.assertEq(r.owed(owner), REWARD + MIN_DEPOSIT, "owner: reward + deposit");
        vm.assertEq(r.owed(requester), 2 ether, "requester: the surplus");
    }

    /// Before: ETH forced in after the first transition was owed to nobody and stuck.
    function test_forcedEther_afterRespond_revertsIfStuck() public {
        respond(reqc);
        vm.deal(address(reqc), address(reqc).balance + 1 ether);
        vm.assertEq(reqc.surplus(), 1 ether, "surplus");
        // The requester can take the surplus at once, before the request ends.
        uint256 before = requester.balance;
        vm.prank(requester);
        reqc.withdraw(payable(requester));
        vm.assertEq(requester.balance - before, 1 ether, "surplus withdrawn");
        vm.assertEq(reqc.held(), REWARD + MIN_DEPOSIT, "escrow intact");
        // More forced in after the end: still the requester's.
        vm.prank(requester);
        reqc.confirm();
        vm.deal(address(reqc), address(reqc).balance + 3);
        vm.prank(owner);
        reqc.withdraw(payable(owner));
        vm.prank(requester);
        reqc.withdraw(payable(requester));
        vm.assertEq(address(reqc).balance, 0, "nothing stuck");
        vm.expectRevert(
            abi.encodeWithSelector(IRequestContract.NothingToWithdraw.selector, requester)
        );
        vm.prank(requester);
        reqc.withdraw(payable(requester));
    }

    function testFuzz_forcedEther_anyTimeEndsWithRequester(uint96 forced, uint8 path) public {
        forced = uint96(bound(forced, 1, 100 ether));
        vm.deal(address(reqc), address(reqc).balance + forced);
        respond(reqc);
        if (path % 2 == 0) {
            vm.prank(requester);
            reqc.confirm();
        } else {
            vm.prank(requester);
            reqc.dispute{value: DISPUTE_BOND}();
            vm.prank(verifier);
            reqc.resolve(false);
        }
        vm.assertEq(address(reqc).balance, reqc.held() + reqc.surplus(), "balance = held + surplus");
        vm.assertEq(reqc.surplus(), forced, "surplus is what was forced in");
        _drain();
    }

    // ------------------------------------------------ finding 5: paging cost

    /// Before: `requestsOf(owner, offset, limit)` walked `offset` REQCs first (467k gas at 400).
    /// Now a page costs the same wherever it starts.
    function test_requestsOf_revertsIfCostGrowsWithPosition() public {
        for (uint256 i = 0; i < 60; ++i) {
            openRequest(ec);
        }
        (, address cursor) = resc.requestsOf(owner, address(0), 10);
        uint256 g = gasleft();
        resc.requestsOf(owner, address(0), 10);
        uint256 first = g - gasleft();
        for (uint256 i = 0; i < 4; ++i) {
            (, cursor) = resc.requestsOf(owner, cursor, 10);
        }
        g = gasleft();
        (address[] memory late, address next) = resc.requestsOf(owner, cursor, 10);
        uint256 later = g - gasleft();
        vm.assertEq(late.length, 10, "full page");
        vm.assertTrue(next != address(0), "more after");
        // The cursor check costs a little; the walk itself is the same length.
        vm.assertLe(later, first + 12_000, "later page much dearer than the first");
    }

    function test_requestsOf_revertsIfCursorForeign() public {
        vm.prank(stranger);
        address strangerEc = ef.createEvidence(params(8));
        vm.prank(verifier);
        IEvidenceContract(strangerEc).verify();
        IRequestContract foreign = openRequest(strangerEc);
        vm.expectRevert(
            abi.encodeWithSelector(
                IResponseContract.InvalidCursor.selector, owner, address(foreign)
            )
        );
        resc.requestsOf(owner, address(foreign), 10);
        vm.expectRevert(
            abi.encodeWithSelector(IResponseContract.InvalidCursor.selector, owner, stranger)
        );
        resc.requestsOf(owner, stranger, 10);
    }

    function testFuzz_requestsOf_pagesCoverEverything(uint8 n, uint8 pageSize) public {
        n = uint8(bound(n, 0, 40));
        pageSize = uint8(bound(pageSize, 1, 12));
        vm.prank(stranger);
        address e = ef.createEvidence(params(8));
        vm.prank(verifier);
        IEvidenceContract(e).verify();
        address[] memory made = new address[](n);
        for (uint256 i = 0; i < n; ++i) {
            made[i] = address(openRequest(e));
        }
        uint256 seen = 0;
        address cursor = address(0);
        do {
            (address[] memory page, address next) = resc.requestsOf(stranger, cursor, pageSize);
            for (uint256 i = 0; i < page.length; ++i) {
                vm.assertEq(page[i], made[n - 1 - seen], "newest first, no gaps");
                ++seen;
            }
            cursor = next;
        } while (cursor != address(0));
        vm.assertEq(seen, n, "all pages");
    }

    // ------------------------------------------------ helpers

    function _rotate(address next) internal {
        vm.prank(ef.verifier());
        ef.proposeVerifier(next);
        vm.warp(block.timestamp + ef.VERIFIER_TRANSFER_DELAY());
        vm.prank(next);
        ef.acceptVerifier();
    }

    /// @dev The address the next `createRequest` by `from` for `ec` will get.
    function _predictNext(address from, uint256 reward_) internal view returns (address) {
        bytes memory args = RequestArgs.encode(
            from,
            uint96(reward_),
            owner,
            uint40(block.timestamp + RESPONSE_WINDOW),
            ec,
            resc.latestOf(owner)
        );
        return CloneLib.predict(address(rf), rf.implementation(), args);
    }

    /// @dev Both parties withdraw whatever they are owed; the REQC must end empty.
    function _drain() internal {
        address[2] memory who = [owner, requester];
        for (uint256 i = 0; i < 2; ++i) {
            if (reqc.owed(who[i]) != 0) {
                vm.prank(who[i]);
                reqc.withdraw(payable(who[i]));
            }
        }
        vm.assertEq(address(reqc).balance, 0, "REQC not empty");
    }
}
