// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

import {Base} from "../utils/Base.sol";
import {vm} from "../utils/Vm.sol";
import {IRequestContract} from "../../src/interfaces/IRequestContract.sol";
import {RequestHandler, Payee} from "./RequestHandler.sol";

/// @notice Invariants of the request escrow over random sequences of every transition, forced
///         ETH, a verifier that rules on its own requests, late rulings, rotations of the verifier
///         role, and contract parties that refuse ETH or re-enter `withdraw`.
///         One invariant function (one campaign): the checks below run after every call.
///         `afterInvariant` appends each run's depth figures to
///         contracts/cache/invariant-depth.tsv (summarised by contracts/script/invariant-depth.sh,
///         figures in docs/contracts.md).
contract RequestInvariantsTest is Base {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    string internal constant DEPTH_LOG = "contracts/cache/invariant-depth.tsv";

    RequestHandler internal handler;

    function setUp() public override {
        super.setUp();
        Payee[] memory payees = new Payee[](2);
        payees[0] = new Payee(); // an owner
        payees[1] = new Payee(); // a requester
        address[] memory ecs = new address[](4);
        address[] memory owners = new address[](4);
        for (uint256 i = 0; i < 4; ++i) {
            if (i == 3) {
                owners[i] = address(payees[0]);
                bytes memory ret =
                    payees[0].exec(address(ef), abi.encodeCall(ef.createEvidence, (params(i))));
                ecs[i] = abi.decode(ret, (address));
            } else {
                owners[i] = vm.addr(0x1000 + i);
                vm.prank(owners[i]);
                ecs[i] = ef.createEvidence(params(i));
            }
            vm.prank(verifier);
            (bool ok,) = ecs[i].call(abi.encodeWithSignature("verify()"));
            require(ok, "verify failed");
        }
        // The verifier itself requests (to try to resolve for itself), and so does a contract.
        address[] memory requesters = new address[](4);
        requesters[0] = vm.addr(0x2000);
        requesters[1] = vm.addr(0x2001);
        requesters[2] = verifier;
        requesters[3] = address(payees[1]);
        // The role may rotate to a neutral key or to a requester.
        address[] memory verifiers = new address[](3);
        verifiers[0] = verifier;
        verifiers[1] = vm.addr(0x3000);
        verifiers[2] = requesters[0];
        handler = new RequestHandler(rf, ecs, owners, requesters, verifiers, payees);
    }

    /// @dev forge reads these to decide what to call (no forge-std here).
    function targetContracts() public view returns (address[] memory out) {
        out = new address[](1);
        out[0] = address(handler);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory out) {
        bytes4[] memory s = new bytes4[](22);
        s[0] = RequestHandler.createRequest.selector;
        s[1] = RequestHandler.respond.selector;
        s[2] = RequestHandler.decline.selector;
        s[3] = RequestHandler.cancel.selector;
        s[4] = RequestHandler.confirm.selector;
        s[5] = RequestHandler.dispute.selector;
        s[6] = RequestHandler.resolve.selector;
        s[7] = RequestHandler.claim.selector;
        s[8] = RequestHandler.expireDispute.selector;
        s[9] = RequestHandler.withdraw.selector;
        s[10] = RequestHandler.warp.selector;
        s[11] = RequestHandler.forceEth.selector;
        s[12] = RequestHandler.setPayeeMode.selector;
        s[13] = RequestHandler.rotateVerifier.selector;
        s[14] = RequestHandler.createRequest.selector; // requests twice as often
        s[20] = RequestHandler.respondRelayed.selector;
        s[21] = RequestHandler.withdrawRelayed.selector;
        for (uint256 i = 15; i < 20; ++i) {
            s[i] = RequestHandler.advance.selector; // a quarter of the calls move a request on
        }
        out = new FuzzSelector[](1);
        out[0] = FuzzSelector(address(handler), s);
    }

    function invariant_requestEscrow() public {
        _checkEscrow();
        _checkForwardOnly();
        _checkPayments();
        _checkVerifier();
        _checkAlwaysFinishable();
    }

    /// @dev Appends this run's figures: statuses reached (bit mask), REQCs, transitions,
    ///      withdrawals, REQCs final and fully paid out.
    function afterInvariant() public {
        uint256 n = handler.reqcCount();
        uint256 finalAndPaid = 0;
        for (uint256 i = 0; i < n; ++i) {
            IRequestContract r = handler.reqcs(i);
            if (_final(r.status()) && r.held() == 0) finalAndPaid++;
        }
        vm.writeLine(
            DEPTH_LOG,
            string.concat(
                vm.toString(handler.reachedMask()),
                "\t",
                vm.toString(n),
                "\t",
                vm.toString(handler.transitions()),
                "\t",
                vm.toString(handler.withdrawals()),
                "\t",
                vm.toString(finalAndPaid)
            )
        );
    }

    /// Every REQC's balance is what it owes from what was paid in plus its surplus; what it owes
    /// is reward (+ deposit, + bond) while undecided and the unpaid shares once final; all REQCs
    /// together hold what came in minus what went out.
    function _checkEscrow() internal view {
        uint256 n = handler.reqcCount();
        uint256 total;
        for (uint256 i = 0; i < n; ++i) {
            IRequestContract r = handler.reqcs(i);
            IRequestContract.Status s = r.status();
            uint256 expected;
            if (_final(s)) {
                expected = r.owed(r.owner()) + r.owed(r.requester()) - r.surplus();
                if (r.owner() == r.requester()) expected = r.owed(r.owner()) - r.surplus();
                (address fronter,) = r.relay();
                if (fronter != address(0)) expected += r.owed(fronter);
            } else {
                expected = r.reward() + r.deposit() + r.bond();
            }
            vm.assertEq(r.held(), expected, "held != owed");
            vm.assertEq(address(r).balance, r.held() + r.surplus(), "balance != held + surplus");
            total += address(r).balance;
        }
        vm.assertEq(total, handler.ghostIn() - handler.ghostOut(), "total held != in - out");
    }

    /// Statuses only move forward along the state machine; final states never change.
    function _checkForwardOnly() internal view {
        vm.assertEq(handler.badTransitions(), 0, "illegal status change");
        uint256 n = handler.reqcCount();
        for (uint256 i = 0; i < n; ++i) {
            IRequestContract r = handler.reqcs(i);
            vm.assertEq(
                uint256(r.status()), uint256(handler.lastStatus(address(r))), "unobserved change"
            );
        }
    }

    /// Every withdrawal pays exactly what was owed; no REQC pays out more than was paid in;
    /// re-entry pays nothing.
    function _checkPayments() internal view {
        vm.assertEq(handler.overPayments(), 0, "paid other than owed");
        for (uint256 i = 0; i < handler.payeeCount(); ++i) {
            vm.assertEq(handler.payee(i).reentryPaid(), 0, "re-entry paid");
        }
    }

    /// The verifier never resolved a request it is a party to, nor after resolveBy.
    function _checkVerifier() internal view {
        vm.assertEq(handler.verifierSelfResolved(), 0, "verifier resolved its own request");
        vm.assertEq(handler.lateResolutions(), 0, "resolved after resolveBy");
    }

    /// From the current state every request can be finished and paid out to the last wei by its
    /// own parties (no one else's cooperation): the requester cancels after respondBy, the owner
    /// claims after confirmBy, anyone expires a dispute after resolveBy; then both withdraw (to a
    /// plain address, as a refusing contract party would), and so does a relayer that fronted
    /// the deposit.
    function _checkAlwaysFinishable() internal {
        uint256 snap = vm.snapshotState();
        uint256 n = handler.reqcCount();
        for (uint256 i = 0; i < n; ++i) {
            IRequestContract r = handler.reqcs(i);
            IRequestContract.Status s = r.status();
            if (s == IRequestContract.Status.Open) {
                if (block.timestamp <= r.respondBy()) vm.warp(uint256(r.respondBy()) + 1);
                vm.prank(r.requester());
                r.cancel();
            } else if (s == IRequestContract.Status.Responded) {
                if (block.timestamp <= r.deadline()) vm.warp(uint256(r.deadline()) + 1);
                vm.prank(r.owner());
                r.claim();
            } else if (s == IRequestContract.Status.Disputed) {
                if (block.timestamp <= r.deadline()) vm.warp(uint256(r.deadline()) + 1);
                r.expireDispute();
            }
            (address fronter,) = r.relay();
            address[3] memory parties = [r.requester(), r.owner(), fronter];
            for (uint256 j = 0; j < 3; ++j) {
                if (parties[j] == address(0)) continue;
                if (r.owed(parties[j]) != 0) {
                    vm.prank(parties[j]);
                    r.withdraw(payable(address(0xF1A1)));
                }
            }
            vm.assertEq(address(r).balance, 0, "request cannot be paid out in full");
        }
        vm.revertToState(snap);
    }

    function _final(IRequestContract.Status s) internal pure returns (bool) {
        return s != IRequestContract.Status.Open && s != IRequestContract.Status.Responded
            && s != IRequestContract.Status.Disputed;
    }

    /// The handler really drives requests through the state machine (not only reverts).
    function test_handler_drivesLifecycles() public {
        handler.createRequest(0, 0, 1 ether);
        handler.createRequest(1, 1, 2 ether);
        handler.createRequest(2, 0, 3 ether);
        handler.respond(0, 0);
        handler.confirm(0);
        handler.withdraw(0, 1, false);
        handler.respond(1, 1 ether);
        handler.dispute(1);
        handler.warp(1, 0); // just past resolveBy
        handler.expireDispute(1, 7);
        handler.withdraw(1, 0, false);
        handler.withdraw(1, 1, false);
        handler.decline(2);
        handler.withdraw(2, 0, false);
        handler.withdraw(2, 2, false); // a stranger is refused
        vm.assertEq(handler.transitions(), 6, "transitions");
        vm.assertEq(handler.withdrawals(), 4, "withdrawals");
        vm.assertEq(handler.ghostOut(), handler.ghostIn(), "everything paid out");
        invariant_requestEscrow();
    }

    /// Contract parties: refusing, then re-entering; the verifier as requester.
    function test_handler_hostileParties() public {
        handler.createRequest(3, 3, 1 ether); // payee owner (ec 3), payee requester
        handler.createRequest(0, 2, 1 ether); // the verifier requests
        handler.respond(0, 0);
        handler.respond(1, 0);
        handler.dispute(0);
        handler.dispute(1);
        handler.resolve(1, false); // the verifier's own request: refused
        vm.assertEq(handler.verifierSelfResolved(), 0, "self-resolution refused");
        handler.resolve(0, false);
        handler.setPayeeMode(1, 1); // the requester contract refuses ETH
        handler.withdraw(0, 0, true);
        vm.assertEq(handler.withdrawals(), 0, "refused transfer reverts");
        handler.setPayeeMode(1, 2); // now it re-enters
        handler.withdraw(0, 0, true);
        vm.assertEq(handler.withdrawals(), 1, "paid once");
        handler.forceEth(0, 12345);
        invariant_requestEscrow();
    }
}
