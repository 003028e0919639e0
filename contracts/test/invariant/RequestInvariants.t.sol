// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

import {Base} from "../utils/Base.sol";
import {vm} from "../utils/Vm.sol";
import {IRequestContract} from "../../src/interfaces/IRequestContract.sol";
import {RequestHandler} from "./RequestHandler.sol";

/// @notice Invariants of the request escrow over random sequences of every transition.
contract RequestInvariantsTest is Base {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    RequestHandler internal handler;

    function setUp() public override {
        super.setUp();
        address[] memory ecs = new address[](3);
        address[] memory owners = new address[](3);
        for (uint256 i = 0; i < 3; ++i) {
            owners[i] = vm.addr(0x1000 + i);
            vm.prank(owners[i]);
            ecs[i] = ef.createEvidence(params(i));
            vm.prank(verifier);
            (bool ok,) = ecs[i].call(abi.encodeWithSignature("verify()"));
            require(ok, "verify failed");
        }
        address[] memory requesters = new address[](2);
        requesters[0] = vm.addr(0x2000);
        requesters[1] = vm.addr(0x2001);
        handler = new RequestHandler(rf, verifier, ecs, owners, requesters);
    }

    /// @dev forge reads these to decide what to call (no forge-std here).
    function targetContracts() public view returns (address[] memory out) {
        out = new address[](1);
        out[0] = address(handler);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory out) {
        bytes4[] memory s = new bytes4[](11);
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
        out = new FuzzSelector[](1);
        out[0] = FuzzSelector(address(handler), s);
    }

    /// ETH held by every REQC equals what it still owes: the escrow while undecided, the unpaid
    /// shares once final; and in total what came in minus what went out.
    function invariant_escrowEqualsOwed() public view {
        uint256 n = handler.reqcCount();
        uint256 held;
        for (uint256 i = 0; i < n; ++i) {
            IRequestContract r = handler.reqcs(i);
            IRequestContract.Status s = r.status();
            uint256 expected;
            if (
                s == IRequestContract.Status.Open || s == IRequestContract.Status.Responded
                    || s == IRequestContract.Status.Disputed
            ) {
                expected = r.reward() + r.deposit();
            } else {
                expected = r.owed(r.requester()) + r.owed(r.owner());
            }
            vm.assertEq(address(r).balance, expected, "REQC balance != owed");
            held += address(r).balance;
        }
        vm.assertEq(held, handler.ghostIn() - handler.ghostOut(), "total held != in - out");
    }

    /// Statuses only move forward along the state machine; final states never change.
    function invariant_statesOnlyMoveForward() public view {
        vm.assertEq(handler.badTransitions(), 0, "illegal status change");
        uint256 n = handler.reqcCount();
        for (uint256 i = 0; i < n; ++i) {
            IRequestContract r = handler.reqcs(i);
            vm.assertEq(
                uint256(r.status()), uint256(handler.lastStatus(address(r))), "unobserved change"
            );
        }
    }

    /// Nobody is paid twice and no REQC pays out more than reward + deposit.
    function invariant_nothingPaysTwice() public view {
        vm.assertEq(handler.doublePayments(), 0, "paid twice");
        vm.assertEq(handler.overPayments(), 0, "paid more than escrowed");
        uint256 n = handler.reqcCount();
        for (uint256 i = 0; i < n; ++i) {
            IRequestContract r = handler.reqcs(i);
            vm.assertLe(handler.paidOut(address(r)), r.reward() + r.deposit(), "overpaid");
        }
    }

    /// The handler really drives requests through the state machine (not only reverts).
    function test_handler_drivesLifecycles() public {
        handler.createRequest(0, 0, 1 ether);
        handler.createRequest(1, 1, 2 ether);
        handler.createRequest(2, 0, 3 ether);
        handler.respond(0, 0);
        handler.confirm(0);
        handler.withdraw(0, 1);
        handler.respond(1, 1 ether);
        handler.dispute(1);
        handler.warp(uint32(RESOLVE_WINDOW + 1));
        handler.expireDispute(1, 7);
        handler.withdraw(1, 0);
        handler.withdraw(1, 1);
        handler.decline(2);
        handler.withdraw(2, 0);
        handler.withdraw(2, 0); // second attempt must be refused
        vm.assertEq(handler.transitions(), 6, "transitions");
        vm.assertEq(handler.withdrawals(), 4, "withdrawals");
        vm.assertEq(handler.ghostOut(), handler.ghostIn(), "everything paid out");
        invariant_escrowEqualsOwed();
        invariant_statesOnlyMoveForward();
        invariant_nothingPaysTwice();
    }
}
