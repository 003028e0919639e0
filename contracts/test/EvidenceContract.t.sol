// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

import {Base} from "./utils/Base.sol";
import {vm, Vm} from "./utils/Vm.sol";
import {IEvidenceFactory} from "../src/interfaces/IEvidenceFactory.sol";
import {IEvidenceContract} from "../src/interfaces/IEvidenceContract.sol";
import {ISearchContract} from "../src/interfaces/ISearchContract.sol";
import {SearchContract} from "../src/SearchContract.sol";

contract EvidenceContractTest is Base {
    IEvidenceContract internal ec;

    function setUp() public override {
        super.setUp();
        vm.prank(owner);
        ec = IEvidenceContract(ef.createEvidence(params(1)));
    }

    // ---------------------------------------------------------------- verify

    function test_verify_listsInSearchContract() public {
        IEvidenceFactory.EvidenceParams memory p = params(1);
        vm.expectEmit(true, true, false, true, address(ec));
        emit IEvidenceContract.EvidenceVerified(address(ec), verifier);
        vm.expectEmit(true, false, false, true, address(sc));
        emit ISearchContract.EvidenceListed(address(ec), p.recordedAt, p.latitude, p.longitude);
        vm.prank(verifier);
        ec.verify();
        vm.assertEq(uint256(ec.status()), uint256(IEvidenceContract.Status.Verified), "status");
        vm.assertTrue(sc.isListed(address(ec)), "listed");
        vm.assertEq(sc.count(), 1, "count");
        vm.assertEq(sc.evidenceAt(0), address(ec), "evidenceAt");
    }

    function test_verify_revertsIfNotVerifier() public {
        vm.expectRevert(abi.encodeWithSelector(IEvidenceContract.NotVerifier.selector, owner));
        vm.prank(owner);
        ec.verify();
    }

    function test_verify_revertsIfAlreadyVerified() public {
        vm.prank(verifier);
        ec.verify();
        vm.expectRevert(abi.encodeWithSelector(ISearchContract.AlreadyListed.selector, address(ec)));
        vm.prank(verifier);
        ec.verify();
    }

    function test_verify_revertsIfRejected() public {
        vm.prank(verifier);
        ec.reject("hash-mismatch");
        vm.expectRevert(
            abi.encodeWithSelector(
                IEvidenceContract.EvidenceNotPending.selector, IEvidenceContract.Status.Rejected
            )
        );
        vm.prank(verifier);
        ec.verify();
    }

    function test_verify_revertsOnImplementation() public {
        IEvidenceContract impl = IEvidenceContract(ef.implementation());
        vm.expectRevert(IEvidenceContract.ImplementationLocked.selector);
        vm.prank(verifier);
        impl.verify();
    }

    function test_verify_revertsIfRogueClone() public {
        // Same code as a genuine EC at an address the factory never created.
        address rogue = address(0xBAD0);
        vm.etch(rogue, address(ec).code);
        vm.expectRevert(abi.encodeWithSelector(ISearchContract.NotFactoryEvidence.selector, rogue));
        vm.prank(verifier);
        IEvidenceContract(rogue).verify();
        vm.assertFalse(sc.isListed(rogue), "not listed");
    }

    // ---------------------------------------------------------------- reject

    function test_reject_setsReason() public {
        vm.expectEmit(true, true, false, true, address(ec));
        emit IEvidenceContract.EvidenceRejected(address(ec), "cipher-hash-mismatch");
        vm.prank(verifier);
        ec.reject("cipher-hash-mismatch");
        vm.assertEq(uint256(ec.status()), uint256(IEvidenceContract.Status.Rejected), "status");
        vm.assertEq(ec.rejectReason(), bytes32("cipher-hash-mismatch"), "reason");
        vm.assertFalse(sc.isListed(address(ec)), "not listed");
        vm.assertEq(sc.count(), 0, "count");
    }

    function test_reject_revertsIfNotVerifier() public {
        vm.expectRevert(abi.encodeWithSelector(IEvidenceContract.NotVerifier.selector, stranger));
        vm.prank(stranger);
        ec.reject("x");
    }

    function test_reject_revertsIfEmptyReason() public {
        vm.expectRevert(IEvidenceContract.EmptyRejectReason.selector);
        vm.prank(verifier);
        ec.reject(bytes32(0));
    }

    function test_reject_revertsIfVerified() public {
        vm.prank(verifier);
        ec.verify();
        vm.expectRevert(
            abi.encodeWithSelector(
                IEvidenceContract.EvidenceNotPending.selector, IEvidenceContract.Status.Verified
            )
        );
        vm.prank(verifier);
        ec.reject("late");
    }

    function test_reject_revertsIfRejected() public {
        vm.prank(verifier);
        ec.reject("a");
        vm.expectRevert(
            abi.encodeWithSelector(
                IEvidenceContract.EvidenceNotPending.selector, IEvidenceContract.Status.Rejected
            )
        );
        vm.prank(verifier);
        ec.reject("b");
    }

    function test_reject_revertsOnImplementation() public {
        IEvidenceContract impl = IEvidenceContract(ef.implementation());
        vm.expectRevert(IEvidenceContract.ImplementationLocked.selector);
        vm.prank(verifier);
        impl.reject("x");
    }

    // ---------------------------------------------------------------- search contract

    function test_list_revertsIfCalledByNonEvidence() public {
        vm.expectRevert(
            abi.encodeWithSelector(ISearchContract.NotFactoryEvidence.selector, stranger)
        );
        vm.prank(stranger);
        sc.list();
    }

    function test_list_revertsIfAlreadyListed() public {
        vm.prank(verifier);
        ec.verify();
        // Only reachable by impersonating the EC: the EC itself lists once, from verify().
        vm.expectRevert(abi.encodeWithSelector(ISearchContract.AlreadyListed.selector, address(ec)));
        vm.prank(address(ec));
        sc.list();
    }

    function test_evidenceAt_revertsIfOutOfRange() public {
        vm.expectRevert(abi.encodeWithSelector(ISearchContract.IndexOutOfRange.selector, 0, 0));
        sc.evidenceAt(0);
    }

    function test_page_returnsListingsInOrder() public {
        address[] memory ecs = new address[](5);
        for (uint256 i = 0; i < 5; ++i) {
            IEvidenceFactory.EvidenceParams memory p = params(100 + i);
            p.latitude = int32(int256(i)) - 2;
            vm.prank(owner);
            ecs[i] = ef.createEvidence(p);
            vm.prank(verifier);
            IEvidenceContract(ecs[i]).verify();
        }
        ISearchContract.Listing[] memory all = sc.page(0, 100);
        vm.assertEq(all.length, 5, "all");
        for (uint256 i = 0; i < 5; ++i) {
            vm.assertEq(all[i].ec, ecs[i], "order");
            vm.assertEq(int256(all[i].latitude), int256(i) - 2, "latitude");
            vm.assertEq(uint256(all[i].recordedAt), T0 - 120, "recordedAt");
            vm.assertEq(int256(all[i].longitude), 13_404_954, "longitude");
        }
        ISearchContract.Listing[] memory mid = sc.page(1, 2);
        vm.assertEq(mid.length, 2, "mid length");
        vm.assertEq(mid[0].ec, ecs[1], "mid 0");
        vm.assertEq(mid[1].ec, ecs[2], "mid 1");
        vm.assertEq(sc.page(4, 10).length, 1, "tail");
        vm.assertEq(sc.page(5, 10).length, 0, "past the end");
        vm.assertEq(sc.page(0, 0).length, 0, "limit 0");
    }

    function test_searchViews() public view {
        vm.assertEq(sc.factory(), address(ef), "factory");
        vm.assertEq(sc.implementation(), ef.implementation(), "implementation");
        vm.assertEq(sc.verifier(), verifier, "verifier");
        vm.assertEq(ef.search(), address(sc), "search");
        vm.assertEq(ef.verifier(), verifier, "factory verifier");
    }

    function testFuzz_page_bounds(uint8 n, uint256 offset, uint256 limit) public {
        n = uint8(bound(n, 0, 12));
        for (uint256 i = 0; i < n; ++i) {
            verifiedEvidence(1000 + i);
        }
        offset = bound(offset, 0, 20);
        limit = bound(limit, 0, 20);
        uint256 expected = offset >= n ? 0 : (n - offset < limit ? n - offset : limit);
        ISearchContract.Listing[] memory got = sc.page(offset, limit);
        vm.assertEq(got.length, expected, "length");
        for (uint256 i = 0; i < got.length; ++i) {
            vm.assertEq(got[i].ec, sc.evidenceAt(offset + i), "entry");
        }
    }
}
