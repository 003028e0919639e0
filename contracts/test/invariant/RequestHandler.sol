// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

import {vm} from "../utils/Vm.sol";
import {IRequestContract} from "../../src/interfaces/IRequestContract.sol";
import {RequestFactory} from "../../src/RequestFactory.sol";

/// @notice Drives random request lifecycles for the invariant suite and keeps ghost accounting:
///         ETH put in and taken out, every status change seen, and every payment made.
contract RequestHandler {
    RequestFactory internal immutable RF;
    address internal immutable VERIFIER;
    uint256 internal immutable MIN_DEPOSIT;

    address[] internal ecs;
    address[] internal owners; // owners[i] owns ecs[i]
    address[] internal requesters;
    IRequestContract[] public reqcs;

    mapping(address reqc => IRequestContract.Status) public lastStatus;
    mapping(address reqc => uint256) public paidOut;
    mapping(address reqc => mapping(address payee => uint256)) public paymentsTo;

    uint256 public ghostIn;
    uint256 public ghostOut;
    uint256 public badTransitions;
    uint256 public transitions;
    uint256 public withdrawals;
    uint256 public doublePayments;
    uint256 public overPayments;
    mapping(bytes4 action => uint256) public calls;

    constructor(
        RequestFactory rf,
        address verifier,
        address[] memory ecs_,
        address[] memory owners_,
        address[] memory requesters_
    ) {
        RF = rf;
        VERIFIER = verifier;
        MIN_DEPOSIT = rf.minDeposit();
        ecs = ecs_;
        owners = owners_;
        requesters = requesters_;
    }

    function reqcCount() external view returns (uint256) {
        return reqcs.length;
    }

    // ------------------------------------------------------------------ actions

    function createRequest(uint256 ecSeed, uint256 requesterSeed, uint96 reward) external {
        address ec = ecs[ecSeed % ecs.length];
        address requester = requesters[requesterSeed % requesters.length];
        reward = uint96(1 + reward % 10 ether);
        vm.deal(requester, requester.balance + reward);
        vm.prank(requester);
        address reqc =
            RF.createRequest{value: reward}(ec, abi.encodePacked(bytes1(0x03), bytes32(ecSeed)));
        reqcs.push(IRequestContract(reqc));
        lastStatus[reqc] = IRequestContract.Status.Open;
        ghostIn += reward;
        calls[this.createRequest.selector]++;
    }

    function respond(uint256 seed, uint96 deposit) external {
        IRequestContract r = _pick(seed);
        if (address(r) == address(0)) return;
        deposit = uint96(MIN_DEPOSIT + deposit % 5 ether);
        address o = r.owner();
        vm.deal(o, o.balance + deposit);
        vm.prank(o);
        try r.respond{value: deposit}(
            new bytes(200), abi.encodePacked(bytes1(0x02), bytes32(seed)), "https://x"
        ) {
            ghostIn += deposit;
        } catch {}
        _after(r, this.respond.selector);
    }

    function decline(uint256 seed) external {
        IRequestContract r = _pick(seed);
        if (address(r) == address(0)) return;
        vm.prank(r.owner());
        try r.decline() {} catch {}
        _after(r, this.decline.selector);
    }

    function cancel(uint256 seed) external {
        IRequestContract r = _pick(seed);
        if (address(r) == address(0)) return;
        vm.prank(r.requester());
        try r.cancel() {} catch {}
        _after(r, this.cancel.selector);
    }

    function confirm(uint256 seed) external {
        IRequestContract r = _pick(seed);
        if (address(r) == address(0)) return;
        vm.prank(r.requester());
        try r.confirm() {} catch {}
        _after(r, this.confirm.selector);
    }

    function dispute(uint256 seed) external {
        IRequestContract r = _pick(seed);
        if (address(r) == address(0)) return;
        vm.prank(r.requester());
        try r.dispute() {} catch {}
        _after(r, this.dispute.selector);
    }

    function resolve(uint256 seed, bool valid) external {
        IRequestContract r = _pick(seed);
        if (address(r) == address(0)) return;
        vm.prank(VERIFIER);
        try r.resolve(valid) {} catch {}
        _after(r, this.resolve.selector);
    }

    function claim(uint256 seed) external {
        IRequestContract r = _pick(seed);
        if (address(r) == address(0)) return;
        vm.prank(r.owner());
        try r.claim() {} catch {}
        _after(r, this.claim.selector);
    }

    function expireDispute(uint256 seed, uint256 callerSeed) external {
        IRequestContract r = _pick(seed);
        if (address(r) == address(0)) return;
        vm.prank(address(uint160(callerSeed | 1)));
        try r.expireDispute() {} catch {}
        _after(r, this.expireDispute.selector);
    }

    /// @param who 0: requester, 1: owner, 2: someone else.
    function withdraw(uint256 seed, uint8 who) external {
        IRequestContract r = _pick(seed);
        if (address(r) == address(0)) return;
        address payee = who % 3 == 0 ? r.requester() : who % 3 == 1 ? r.owner() : address(0xBEEF);
        address sink = address(uint160(0x5100000 + uint160(uint256(uint160(payee)) % 1000)));
        uint256 before = sink.balance;
        vm.prank(payee);
        try r.withdraw(payable(sink)) {
            uint256 got = sink.balance - before;
            if (paymentsTo[address(r)][payee] != 0) doublePayments++;
            paymentsTo[address(r)][payee] += got;
            paidOut[address(r)] += got;
            ghostOut += got;
            withdrawals++;
            if (paidOut[address(r)] > r.reward() + r.deposit()) overPayments++;
        } catch {}
        _after(r, this.withdraw.selector);
    }

    function warp(uint32 secondsAhead) external {
        vm.warp(block.timestamp + secondsAhead % 4 days);
        calls[this.warp.selector]++;
    }

    // ------------------------------------------------------------------ bookkeeping

    function _pick(uint256 seed) internal view returns (IRequestContract) {
        if (reqcs.length == 0) return IRequestContract(address(0));
        return reqcs[seed % reqcs.length];
    }

    function _after(IRequestContract r, bytes4 action) internal {
        calls[action]++;
        IRequestContract.Status from = lastStatus[address(r)];
        IRequestContract.Status to = r.status();
        if (from != to) {
            if (!_allowed(from, to)) badTransitions++;
            transitions++;
            lastStatus[address(r)] = to;
        }
    }

    function _allowed(IRequestContract.Status from, IRequestContract.Status to)
        internal
        pure
        returns (bool)
    {
        if (from == IRequestContract.Status.Open) {
            return to == IRequestContract.Status.Responded || to == IRequestContract.Status.Declined
                || to == IRequestContract.Status.Cancelled;
        }
        if (from == IRequestContract.Status.Responded) {
            return to == IRequestContract.Status.Completed || to == IRequestContract.Status.Disputed
                || to == IRequestContract.Status.Claimed;
        }
        if (from == IRequestContract.Status.Disputed) {
            return to == IRequestContract.Status.ResolvedForOwner
                || to == IRequestContract.Status.ResolvedForRequester
                || to == IRequestContract.Status.DisputeExpired;
        }
        return false; // final states never change
    }
}
