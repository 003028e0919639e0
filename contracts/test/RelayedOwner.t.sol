// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

import {Base} from "./utils/Base.sol";
import {vm, Vm} from "./utils/Vm.sol";
import {IEvidenceContract} from "../src/interfaces/IEvidenceContract.sol";
import {IRequestContract} from "../src/interfaces/IRequestContract.sol";

/// @notice Issue 15, unlinkable owners: owner actions signed with EIP-712 by the EC's owner key
///         and sent by a relayer, which may front the deposit and is repaid from the escrow.
contract RelayedOwnerTest is Base {
    /// @dev A fresh owner key per accident; it never holds ETH nor sends a transaction.
    uint256 internal constant KEY_A = 0xACC1DE47A;
    uint256 internal constant KEY_B = 0xACC1DE47B;
    bytes internal constant LINK = "https://cloud.example/x";
    uint256 internal constant FEE = 0.001 ether;
    address internal constant PAYOUT = address(0xFE5E);

    address internal keyA;
    address internal keyB;
    address internal ecA;
    IRequestContract internal reqc;
    uint256 internal dl;

    function setUp() public override {
        super.setUp();
        keyA = vm.addr(KEY_A);
        keyB = vm.addr(KEY_B);
        ecA = relayedEvidence(KEY_A, 21);
        reqc = openRequest(ecA);
        dl = block.timestamp + 1 hours;
        vm.deal(relayer, 10 ether);
    }

    // ---------------------------------------------------------------- the relayed flow

    function test_respondFor_relayerFrontsDepositAndIsRepaid() public {
        uint256 relayerBefore = relayer.balance;
        bytes memory sig = signRespond(KEY_A, reqc, kfrag(), FEE, dl);
        vm.expectEmit(true, false, false, true, address(reqc));
        emit IRequestContract.DepositFronted(relayer, MIN_DEPOSIT, FEE);
        vm.prank(relayer);
        reqc.respondFor{value: MIN_DEPOSIT}(kfrag(), umbralKey("v"), string(LINK), FEE, dl, sig);
        vm.assertEq(uint256(reqc.status()), uint256(IRequestContract.Status.Responded), "status");
        (address r, uint256 due) = reqc.relay();
        vm.assertEq(r, relayer, "relayer");
        vm.assertEq(due, MIN_DEPOSIT + FEE, "due");
        vm.prank(requester);
        reqc.confirm();
        vm.assertEq(reqc.owed(relayer), MIN_DEPOSIT + FEE, "relayer owed");
        vm.assertEq(reqc.owed(keyA), REWARD - FEE, "owner owed");
        bytes memory wsig = signWithdraw(KEY_A, reqc, PAYOUT, FEE, dl);
        vm.prank(relayer);
        reqc.withdrawFor(payable(PAYOUT), FEE, dl, wsig);
        vm.assertEq(PAYOUT.balance, REWARD - 2 * FEE, "owner paid, minus both fees");
        vm.assertEq(relayer.balance, relayerBefore + 2 * FEE, "relayer: deposit back + fees");
        vm.assertEq(address(reqc).balance, 0, "empty");
        vm.assertEq(keyA.balance, 0, "the owner key never held ETH");
        vm.assertEq(vm.getNonce(keyA), 0, "the owner key never sent a transaction");
    }

    function test_respondFor_relayerLosesDepositIfKfragInvalid() public {
        respondRelayed(reqc, KEY_A);
        vm.prank(requester);
        reqc.dispute{value: DISPUTE_BOND}();
        vm.prank(verifier);
        reqc.resolve(false);
        vm.assertEq(reqc.owed(relayer), 0, "relayer");
        vm.assertEq(reqc.owed(keyA), 0, "owner");
        vm.assertEq(reqc.owed(requester), REWARD + MIN_DEPOSIT + DISPUTE_BOND, "requester");
    }

    function test_respondFor_silentVerifierRepaysRelayer() public {
        respondRelayed(reqc, KEY_A);
        vm.prank(requester);
        reqc.dispute{value: DISPUTE_BOND}();
        vm.warp(uint256(reqc.deadline()) + 1);
        reqc.expireDispute();
        vm.assertEq(reqc.owed(relayer), MIN_DEPOSIT + FEE, "relayer");
        vm.assertEq(reqc.owed(keyA), REWARD - FEE, "owner");
        vm.assertEq(reqc.owed(requester), DISPUTE_BOND, "requester");
    }

    function test_withdraw_relayerPullsItsDueAlone() public {
        respondRelayed(reqc, KEY_A);
        vm.prank(requester);
        reqc.confirm();
        vm.prank(relayer);
        reqc.withdraw(payable(relayer));
        vm.assertEq(reqc.owed(relayer), 0, "relayer paid");
        // Another relayer sends the owner's withdrawal and gets only its fee.
        bytes memory wsig = signWithdraw(KEY_A, reqc, PAYOUT, FEE, dl);
        vm.prank(stranger);
        reqc.withdrawFor(payable(PAYOUT), FEE, dl, wsig);
        vm.assertEq(PAYOUT.balance, REWARD - 2 * FEE, "payout");
        vm.assertEq(address(reqc).balance, 0, "empty");
    }

    function test_declineFor_byAnyone() public {
        bytes memory sig = sign(KEY_A, reqc.hashDecline(dl));
        vm.expectEmit(true, false, false, true, address(reqc));
        emit IRequestContract.RequestDeclined(keyA);
        vm.prank(stranger);
        reqc.declineFor(dl, sig);
        vm.assertEq(uint256(reqc.status()), uint256(IRequestContract.Status.Declined), "status");
        vm.assertEq(reqc.owed(requester), REWARD, "refund");
    }

    function test_claimFor_afterConfirmWindow() public {
        respondRelayed(reqc, KEY_A);
        vm.warp(uint256(reqc.deadline()) + 1);
        uint256 d = block.timestamp + 1 hours;
        vm.prank(relayer);
        reqc.claimFor(d, sign(KEY_A, reqc.hashClaim(d)));
        vm.assertEq(uint256(reqc.status()), uint256(IRequestContract.Status.Claimed), "status");
        vm.assertEq(reqc.owed(keyA), REWARD - FEE, "owner");
    }

    /// Two accidents of one driver, two owner keys: each shared and paid out to a fresh address
    /// through the relayer. No transaction comes from an owner key, no ETH goes to one, and no
    /// log of one request names the other's key or payout address.
    function test_relayed_twoAccidentsUnlinked() public {
        address ecB = relayedEvidence(KEY_B, 22);
        IRequestContract reqcB = openRequest(ecB);
        address payoutB = address(0xFE5F);
        vm.recordLogs();
        respondRelayed(reqc, KEY_A);
        respondRelayed(reqcB, KEY_B);
        vm.startPrank(requester);
        reqc.confirm();
        reqcB.confirm();
        vm.stopPrank();
        vm.startPrank(relayer);
        reqc.withdrawFor(payable(PAYOUT), 0, dl, signWithdraw(KEY_A, reqc, PAYOUT, 0, dl));
        reqcB.withdrawFor(payable(payoutB), 0, dl, signWithdraw(KEY_B, reqcB, payoutB, 0, dl));
        vm.stopPrank();
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; ++i) {
            bytes memory all = abi.encodePacked(logs[i].data);
            for (uint256 t = 0; t < logs[i].topics.length; ++t) {
                all = abi.encodePacked(all, logs[i].topics[t]);
            }
            bool fromA = logs[i].emitter == address(reqc);
            bool fromB = logs[i].emitter == address(reqcB);
            if (fromA) {
                vm.assertFalse(_contains(all, keyB) || _contains(all, payoutB), "A names B");
            }
            if (fromB) vm.assertFalse(_contains(all, keyA) || _contains(all, PAYOUT), "B names A");
        }
        vm.assertEq(keyA.balance + keyB.balance, 0, "owner keys never held ETH");
        vm.assertEq(vm.getNonce(keyA) + vm.getNonce(keyB), 0, "owner keys never sent a tx");
        vm.assertEq(PAYOUT.balance, REWARD - FEE, "A paid");
        vm.assertEq(payoutB.balance, REWARD - FEE, "B paid");
    }

    // ---------------------------------------------------------------- forged, replayed, cross-EC

    function test_respondFor_revertsIfForged() public {
        bytes memory sig = signRespond(KEY_B, reqc, kfrag(), FEE, dl);
        vm.expectRevert(
            abi.encodeWithSelector(IRequestContract.SignerMismatch.selector, keyB, keyA)
        );
        vm.prank(relayer);
        reqc.respondFor{value: MIN_DEPOSIT}(kfrag(), umbralKey("v"), string(LINK), FEE, dl, sig);
    }

    function test_respondFor_revertsIfReplayed() public {
        bytes memory sig = signRespond(KEY_A, reqc, kfrag(), FEE, dl);
        vm.prank(relayer);
        reqc.respondFor{value: MIN_DEPOSIT}(kfrag(), umbralKey("v"), string(LINK), FEE, dl, sig);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRequestContract.InvalidStatus.selector,
                IRequestContract.Status.Responded,
                IRequestContract.Status.Open
            )
        );
        vm.prank(stranger);
        reqc.respondFor{value: MIN_DEPOSIT}(kfrag(), umbralKey("v"), string(LINK), FEE, dl, sig);
    }

    /// The same owner key, another EC's request: the domain (verifyingContract = the REQC) makes
    /// the signature recover to another address.
    function test_respondFor_revertsIfCrossEc() public {
        address ecA2 = relayedEvidence(KEY_A, 23);
        IRequestContract other = openRequest(ecA2);
        bytes memory sig = signRespond(KEY_A, reqc, kfrag(), FEE, dl);
        vm.expectPartialRevert(IRequestContract.SignerMismatch.selector);
        vm.prank(relayer);
        other.respondFor{value: MIN_DEPOSIT}(kfrag(), umbralKey("v"), string(LINK), FEE, dl, sig);
        // And a withdrawal signed for one request cannot empty another.
        respondRelayed(reqc, KEY_A);
        respondRelayed(other, KEY_A);
        vm.startPrank(requester);
        reqc.confirm();
        other.confirm();
        vm.stopPrank();
        bytes memory wsig = signWithdraw(KEY_A, reqc, stranger, 0, dl);
        vm.expectPartialRevert(IRequestContract.SignerMismatch.selector);
        vm.prank(stranger);
        other.withdrawFor(payable(stranger), 0, dl, wsig);
    }

    function test_respondFor_revertsIfAltered() public {
        bytes memory sig = signRespond(KEY_A, reqc, kfrag(), FEE, dl);
        bytes memory other = blob("other kfrag", 310);
        vm.expectPartialRevert(IRequestContract.SignerMismatch.selector);
        vm.prank(relayer);
        reqc.respondFor{value: MIN_DEPOSIT}(other, umbralKey("v"), string(LINK), FEE, dl, sig);
        vm.expectPartialRevert(IRequestContract.SignerMismatch.selector);
        vm.prank(relayer);
        reqc.respondFor{value: MIN_DEPOSIT}(kfrag(), umbralKey("v"), string(LINK), FEE + 1, dl, sig);
        vm.expectPartialRevert(IRequestContract.SignerMismatch.selector);
        vm.prank(relayer);
        reqc.respondFor{value: MIN_DEPOSIT}(kfrag(), umbralKey("v"), "https://evil.x", FEE, dl, sig);
    }

    function test_respondFor_revertsIfExpired() public {
        bytes memory sig = signRespond(KEY_A, reqc, kfrag(), FEE, dl);
        vm.warp(dl + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IRequestContract.SignatureExpired.selector, dl, dl + 1)
        );
        vm.prank(relayer);
        reqc.respondFor{value: MIN_DEPOSIT}(kfrag(), umbralKey("v"), string(LINK), FEE, dl, sig);
    }

    function test_respondFor_revertsIfMalformedSignature() public {
        bytes memory sig = signRespond(KEY_A, reqc, kfrag(), FEE, dl);
        // The malleable twin (s' = n - s, v flipped) is refused.
        bytes32 r;
        bytes32 s;
        assembly {
            r := mload(add(sig, 0x20))
            s := mload(add(sig, 0x40))
        }
        uint8 v = uint8(sig[64]);
        bytes32 s2 = bytes32(
            0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 - uint256(s)
        );
        bytes memory twin = abi.encodePacked(r, s2, v == 27 ? uint8(28) : uint8(27));
        vm.expectRevert(
            abi.encodeWithSelector(
                IRequestContract.MalformedSignature.selector, s2, v == 27 ? uint8(28) : uint8(27)
            )
        );
        vm.prank(relayer);
        reqc.respondFor{value: MIN_DEPOSIT}(kfrag(), umbralKey("v"), string(LINK), FEE, dl, twin);
        vm.expectRevert(
            abi.encodeWithSelector(IRequestContract.InvalidSignatureLength.selector, 64)
        );
        vm.prank(relayer);
        reqc.respondFor{value: MIN_DEPOSIT}(
            kfrag(), umbralKey("v"), string(LINK), FEE, dl, abi.encodePacked(r, s)
        );
    }

    function test_respondFor_revertsIfFeeAboveReward() public {
        bytes memory sig = signRespond(KEY_A, reqc, kfrag(), REWARD + 1, dl);
        vm.expectRevert(
            abi.encodeWithSelector(IRequestContract.RelayerFeeTooHigh.selector, REWARD + 1, REWARD)
        );
        vm.prank(relayer);
        reqc.respondFor{value: MIN_DEPOSIT}(
            kfrag(), umbralKey("v"), string(LINK), REWARD + 1, dl, sig
        );
    }

    function test_respondFor_revertsIfDepositMissing() public {
        bytes memory sig = signRespond(KEY_A, reqc, kfrag(), FEE, dl);
        vm.expectRevert(
            abi.encodeWithSelector(IRequestContract.DepositTooLow.selector, 0, MIN_DEPOSIT)
        );
        vm.prank(relayer);
        reqc.respondFor(kfrag(), umbralKey("v"), string(LINK), FEE, dl, sig);
    }

    function test_withdrawFor_revertsIfReplayed() public {
        respondRelayed(reqc, KEY_A);
        vm.prank(requester);
        reqc.confirm();
        bytes memory wsig = signWithdraw(KEY_A, reqc, PAYOUT, FEE, dl);
        vm.prank(relayer);
        reqc.withdrawFor(payable(PAYOUT), FEE, dl, wsig);
        vm.expectRevert(abi.encodeWithSelector(IRequestContract.NothingToWithdraw.selector, keyA));
        vm.prank(relayer);
        reqc.withdrawFor(payable(PAYOUT), FEE, dl, wsig);
    }

    function test_withdrawFor_revertsIfRecipientAltered() public {
        respondRelayed(reqc, KEY_A);
        vm.prank(requester);
        reqc.confirm();
        bytes memory wsig = signWithdraw(KEY_A, reqc, PAYOUT, FEE, dl);
        vm.expectPartialRevert(IRequestContract.SignerMismatch.selector);
        vm.prank(relayer);
        reqc.withdrawFor(payable(stranger), FEE, dl, wsig);
    }

    function test_withdrawFor_revertsIfNotFinal() public {
        respondRelayed(reqc, KEY_A);
        bytes memory wsig = signWithdraw(KEY_A, reqc, PAYOUT, 0, dl);
        vm.expectRevert(abi.encodeWithSelector(IRequestContract.NothingToWithdraw.selector, keyA));
        vm.prank(relayer);
        reqc.withdrawFor(payable(PAYOUT), 0, dl, wsig);
    }

    function test_withdrawFor_revertsIfFeeAboveShare() public {
        respondRelayed(reqc, KEY_A);
        vm.prank(requester);
        reqc.confirm();
        uint256 share = REWARD - FEE;
        bytes memory wsig = signWithdraw(KEY_A, reqc, PAYOUT, share + 1, dl);
        vm.expectRevert(
            abi.encodeWithSelector(IRequestContract.RelayerFeeTooHigh.selector, share + 1, share)
        );
        vm.prank(relayer);
        reqc.withdrawFor(payable(PAYOUT), share + 1, dl, wsig);
    }

    /// A response fee of the whole reward leaves the owner nothing: `withdrawFor` has nothing to
    /// send, and the relayer pulls its due itself.
    function test_withdrawFor_revertsIfOwnerShareSpentOnFees() public {
        bytes memory sig = signRespond(KEY_A, reqc, kfrag(), REWARD, dl);
        vm.prank(relayer);
        reqc.respondFor{value: MIN_DEPOSIT}(kfrag(), umbralKey("v"), string(LINK), REWARD, dl, sig);
        vm.prank(requester);
        reqc.confirm();
        vm.assertEq(reqc.owed(keyA), 0, "owner's share spent on the fee");
        bytes memory wsig = signWithdraw(KEY_A, reqc, PAYOUT, 0, dl);
        vm.expectRevert(abi.encodeWithSelector(IRequestContract.NothingToWithdraw.selector, keyA));
        vm.prank(relayer);
        reqc.withdrawFor(payable(PAYOUT), 0, dl, wsig);
        uint256 before = relayer.balance;
        vm.prank(relayer);
        reqc.withdraw(payable(relayer));
        vm.assertEq(relayer.balance - before, REWARD + MIN_DEPOSIT, "relayer: deposit + fee");
        vm.assertEq(address(reqc).balance, 0, "empty");
    }

    function test_declineFor_revertsIfForged() public {
        bytes memory sig = sign(KEY_B, reqc.hashDecline(dl));
        vm.expectRevert(
            abi.encodeWithSelector(IRequestContract.SignerMismatch.selector, keyB, keyA)
        );
        reqc.declineFor(dl, sig);
    }

    function test_claimFor_revertsIfReplayed() public {
        respondRelayed(reqc, KEY_A);
        vm.warp(uint256(reqc.deadline()) + 1);
        uint256 d = block.timestamp + 1 hours;
        bytes memory sig = sign(KEY_A, reqc.hashClaim(d));
        reqc.claimFor(d, sig);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRequestContract.InvalidStatus.selector,
                IRequestContract.Status.Claimed,
                IRequestContract.Status.Responded
            )
        );
        reqc.claimFor(d, sig);
    }

    /// The digests follow EIP-712 (checked against an independent computation).
    function test_eip712_digests() public view {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256(
                    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
                ),
                keccak256("dashledger"),
                keccak256("1"),
                block.chainid,
                address(reqc)
            )
        );
        vm.assertEq(reqc.DOMAIN_SEPARATOR(), domain, "domain");
        bytes32 w = keccak256(
            abi.encode(
                keccak256("Withdraw(address to,uint256 relayerFee,uint256 deadline)"),
                PAYOUT,
                FEE,
                dl
            )
        );
        vm.assertEq(
            reqc.hashWithdraw(PAYOUT, FEE, dl),
            keccak256(abi.encodePacked(hex"1901", domain, w)),
            "withdraw digest"
        );
    }

    function testFuzz_withdrawFor_paysExactly(uint96 fee1, uint96 fee2) public {
        fee1 = uint96(bound(fee1, 0, REWARD - 1)); // REWARD: see the test below
        bytes memory sig = signRespond(KEY_A, reqc, kfrag(), fee1, dl);
        vm.prank(relayer);
        reqc.respondFor{value: MIN_DEPOSIT}(kfrag(), umbralKey("v"), string(LINK), fee1, dl, sig);
        vm.prank(requester);
        reqc.confirm();
        fee2 = uint96(bound(fee2, 0, REWARD - fee1));
        bytes memory wsig = signWithdraw(KEY_A, reqc, PAYOUT, fee2, dl);
        uint256 before = relayer.balance;
        vm.prank(relayer);
        reqc.withdrawFor(payable(PAYOUT), fee2, dl, wsig);
        vm.assertEq(PAYOUT.balance, REWARD - fee1 - fee2, "owner");
        vm.assertEq(relayer.balance - before, MIN_DEPOSIT + fee1 + fee2, "relayer");
        vm.assertEq(address(reqc).balance, 0, "empty");
    }

    // ---------------------------------------------------------------- helpers

    /// @dev An EC owned by `key`, created and verified without `key` ever sending a transaction.
    function relayedEvidence(uint256 key, uint256 seed) internal returns (address ec) {
        address o = vm.addr(key);
        uint256 d = block.timestamp + 1 hours;
        bytes memory s = signCreate(key, params(seed), o, d);
        vm.prank(relayer);
        ec = ef.createEvidenceFor(params(seed), o, d, s);
        vm.prank(verifier);
        IEvidenceContract(ec).verify();
    }

    function respondRelayed(IRequestContract r, uint256 key) internal {
        bytes memory sig = signRespond(key, r, kfrag(), FEE, dl);
        vm.prank(relayer);
        r.respondFor{value: MIN_DEPOSIT}(kfrag(), umbralKey("v"), string(LINK), FEE, dl, sig);
    }

    function signRespond(
        uint256 key,
        IRequestContract r,
        bytes memory k,
        uint256 fee,
        uint256 deadline
    ) internal view returns (bytes memory) {
        return sign(key, r.hashRespond(k, umbralKey("v"), string(LINK), fee, deadline));
    }

    function signWithdraw(
        uint256 key,
        IRequestContract r,
        address to,
        uint256 fee,
        uint256 deadline
    ) internal view returns (bytes memory) {
        return sign(key, r.hashWithdraw(to, fee, deadline));
    }

    function sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev Whether the 20 bytes of `a` occur in `data` at any offset.
    function _contains(bytes memory data, address a) internal pure returns (bool) {
        bytes20 needle = bytes20(a);
        if (data.length < 20) return false;
        for (uint256 i = 0; i + 20 <= data.length; ++i) {
            bool eq = true;
            for (uint256 j = 0; j < 20; ++j) {
                if (data[i + j] != needle[j]) {
                    eq = false;
                    break;
                }
            }
            if (eq) return true;
        }
        return false;
    }
}
