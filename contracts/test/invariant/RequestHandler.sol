// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

import {vm} from "../utils/Vm.sol";
import {IRequestContract} from "../../src/interfaces/IRequestContract.sol";
import {IEvidenceFactory} from "../../src/interfaces/IEvidenceFactory.sol";
import {RequestFactory} from "../../src/RequestFactory.sol";

/// @notice A party that is a contract: it accepts ETH, refuses it, or re-enters `withdraw` from
///         `receive` (mode set by the handler at random).
contract Payee {
    uint8 public constant ACCEPT = 0;
    uint8 public constant REFUSE = 1;
    uint8 public constant REENTER = 2;

    uint8 public mode;
    /// @dev Re-entrant withdrawals that paid something (must stay 0).
    uint256 public reentryPaid;

    function setMode(uint8 m) external {
        mode = m % 3;
    }

    function exec(address to, bytes calldata data) external returns (bytes memory ret) {
        bool ok;
        (ok, ret) = to.call(data);
        require(ok, "exec failed");
    }

    receive() external payable {
        if (mode == REFUSE) revert("refused");
        if (mode == REENTER) {
            try IRequestContract(msg.sender).withdraw(payable(address(this))) {
                reentryPaid++;
            } catch {}
        }
    }
}

/// @notice Drives random request lifecycles for the invariant suite and keeps ghost accounting:
///         ETH put in (rewards, deposits, bonds, forced ETH) and taken out, every status change
///         seen, and every payment made. Actions pick a request by seed and, if it cannot take
///         the action, the next one that can, so most calls are real transitions.
contract RequestHandler {
    uint256 internal constant STATUSES = 10;

    RequestFactory internal immutable RF;
    IEvidenceFactory internal immutable EF;
    uint256 internal immutable MIN_DEPOSIT;
    uint256 internal immutable BOND;

    address[] internal ecs;
    address[] internal owners; // owners[i] owns ecs[i]
    address[] internal requesters;
    address[] internal verifiers; // the verifier rotates among these
    Payee[] internal payees;
    IRequestContract[] public reqcs;

    mapping(address reqc => IRequestContract.Status) public lastStatus;
    mapping(address reqc => uint256) public paidOut;
    mapping(address reqc => uint256) public paidIn;

    uint256 public ghostIn;
    uint256 public ghostOut;
    uint256 public badTransitions;
    uint256 public transitions;
    uint256 public withdrawals;
    uint256 public overPayments;
    uint256 public verifierSelfResolved;
    uint256 public lateResolutions;
    uint256 public forcedWei;
    /// @dev Bit s set: some REQC reached status s in this run.
    uint256 public reachedMask;
    mapping(bytes4 action => uint256) public calls;
    /// @dev Owner keys the handler can sign with (EOA owners), by owner address.
    mapping(address owner => uint256 key) public ownerKey;
    address internal constant RELAYER = address(0x4E1A7E4);

    constructor(
        RequestFactory rf,
        address[] memory ecs_,
        address[] memory owners_,
        address[] memory requesters_,
        address[] memory verifiers_,
        Payee[] memory payees_
    ) {
        RF = rf;
        EF = IEvidenceFactory(rf.evidenceFactory());
        MIN_DEPOSIT = rf.minDeposit();
        BOND = rf.disputeBond();
        ecs = ecs_;
        owners = owners_;
        requesters = requesters_;
        verifiers = verifiers_;
        payees = payees_;
        reachedMask = 1; // Open
        for (uint256 i = 0; i < owners_.length; ++i) {
            if (owners_[i].code.length == 0) ownerKey[owners_[i]] = 0x1000 + i;
        }
    }

    function reqcCount() external view returns (uint256) {
        return reqcs.length;
    }

    function payeeCount() external view returns (uint256) {
        return payees.length;
    }

    function payee(uint256 i) external view returns (Payee) {
        return payees[i];
    }

    // ------------------------------------------------------------------ actions

    function createRequest(uint256 ecSeed, uint256 requesterSeed, uint96 reward) external {
        address ec = ecs[ecSeed % ecs.length];
        address requester = requesters[requesterSeed % requesters.length];
        reward = uint96(RF.minReward() + reward % 10 ether);
        vm.deal(requester, requester.balance + reward);
        vm.prank(requester);
        address reqc =
            RF.createRequest{value: reward}(ec, abi.encodePacked(bytes1(0x03), bytes32(ecSeed)));
        reqcs.push(IRequestContract(reqc));
        lastStatus[reqc] = IRequestContract.Status.Open;
        ghostIn += reward;
        paidIn[reqc] += reward;
        calls[this.createRequest.selector]++;
    }

    function respond(uint256 seed, uint96 deposit) external {
        IRequestContract r = _pickIn(seed, IRequestContract.Status.Open);
        if (address(r) == address(0)) return;
        _respond(r, seed, deposit);
    }

    function _respond(IRequestContract r, uint256 seed, uint96 deposit) internal {
        deposit = uint96(MIN_DEPOSIT + deposit % 5 ether);
        address o = r.owner();
        vm.deal(o, o.balance + deposit);
        vm.prank(o);
        try r.respond{value: deposit}(
            new bytes(200), abi.encodePacked(bytes1(0x02), bytes32(seed)), "https://x"
        ) {
            ghostIn += deposit;
            paidIn[address(r)] += deposit;
        } catch {}
        _after(r, this.respond.selector);
    }

    function decline(uint256 seed) external {
        IRequestContract r = _pickIn(seed, IRequestContract.Status.Open);
        if (address(r) == address(0)) return;
        vm.prank(r.owner());
        try r.decline() {} catch {}
        _after(r, this.decline.selector);
    }

    function cancel(uint256 seed) external {
        IRequestContract r = _pickIn(seed, IRequestContract.Status.Open);
        if (address(r) == address(0)) return;
        vm.prank(r.requester());
        try r.cancel() {} catch {}
        _after(r, this.cancel.selector);
    }

    function confirm(uint256 seed) external {
        IRequestContract r = _pickIn(seed, IRequestContract.Status.Responded);
        if (address(r) == address(0)) return;
        vm.prank(r.requester());
        try r.confirm() {} catch {}
        _after(r, this.confirm.selector);
    }

    function dispute(uint256 seed) external {
        IRequestContract r = _pickIn(seed, IRequestContract.Status.Responded);
        if (address(r) == address(0)) return;
        _dispute(r);
    }

    function _dispute(IRequestContract r) internal {
        address q = r.requester();
        vm.deal(q, q.balance + BOND);
        vm.prank(q);
        try r.dispute{value: BOND}() {
            ghostIn += BOND;
            paidIn[address(r)] += BOND;
        } catch {}
        _after(r, this.dispute.selector);
    }

    /// @notice The verifier rules, honestly or not, on any dispute, including its own and late
    ///         ones; the contract must refuse those two.
    function resolve(uint256 seed, bool valid) external {
        IRequestContract r = _pickIn(seed, IRequestContract.Status.Disputed);
        if (address(r) == address(0)) return;
        _resolve(r, valid);
    }

    function _resolve(IRequestContract r, bool valid) internal {
        address v = EF.verifier();
        bool party = v == r.requester() || v == r.owner();
        bool late = block.timestamp > r.deadline();
        vm.prank(v);
        try r.resolve(valid) {
            if (party) verifierSelfResolved++;
            if (late) lateResolutions++;
        } catch {}
        _after(r, this.resolve.selector);
    }

    function claim(uint256 seed) external {
        IRequestContract r = _pickIn(seed, IRequestContract.Status.Responded);
        if (address(r) == address(0)) return;
        vm.prank(r.owner());
        try r.claim() {} catch {}
        _after(r, this.claim.selector);
    }

    function expireDispute(uint256 seed, uint256 callerSeed) external {
        IRequestContract r = _pickIn(seed, IRequestContract.Status.Disputed);
        if (address(r) == address(0)) return;
        vm.prank(address(uint160(callerSeed | 1)));
        try r.expireDispute() {} catch {}
        _after(r, this.expireDispute.selector);
    }

    /// @param who 0: requester, 1: owner, 2: someone else.
    /// @param toSelf Withdraw to the payee itself (contract payees may refuse or re-enter) rather
    ///        than to a fresh sink.
    function withdraw(uint256 seed, uint8 who, bool toSelf) external {
        IRequestContract r = _pickOwing(seed);
        if (address(r) == address(0)) return;
        _withdraw(r, who, toSelf);
    }

    function _withdraw(IRequestContract r, uint8 who, bool toSelf) internal {
        address p = who % 3 == 0 ? r.requester() : who % 3 == 1 ? r.owner() : address(0xBEEF);
        if (who % 3 != 2 && r.owed(p) == 0) {
            p = r.owed(r.owner()) != 0 ? r.owner() : r.requester();
        }
        address to = toSelf ? p : address(uint160(0x5100000 + uint160(p) % 1000));
        uint256 owedBefore = r.owed(p);
        uint256 before = address(r).balance;
        vm.prank(p);
        try r.withdraw(payable(to)) {
            uint256 out = before - address(r).balance;
            if (out != owedBefore) overPayments++;
            paidOut[address(r)] += out;
            ghostOut += out;
            withdrawals++;
        } catch {}
        if (paidOut[address(r)] > paidIn[address(r)]) overPayments++;
        _after(r, this.withdraw.selector);
    }

    /// @notice The owner's signed response sent by a relayer that fronts the deposit.
    function respondRelayed(uint256 seed, uint96 deposit, uint96 fee) external {
        IRequestContract r = _pickIn(seed, IRequestContract.Status.Open);
        if (address(r) == address(0)) return;
        _respondRelayed(r, seed, deposit, fee);
    }

    function _respondRelayed(IRequestContract r, uint256 seed, uint96 deposit, uint96 fee)
        internal
    {
        uint256 key = ownerKey[r.owner()];
        if (key == 0) return _respond(r, seed, deposit);
        deposit = uint96(MIN_DEPOSIT + deposit % 5 ether);
        fee = uint96(fee % (r.reward() + 1));
        bytes memory kfrag = new bytes(200);
        bytes memory vk = abi.encodePacked(bytes1(0x02), bytes32(seed));
        uint256 dl = block.timestamp + 1 hours;
        (uint8 v, bytes32 rr, bytes32 ss) =
            vm.sign(key, r.hashRespond(kfrag, vk, "https://x", fee, dl));
        vm.deal(RELAYER, RELAYER.balance + deposit);
        vm.prank(RELAYER);
        try r.respondFor{value: deposit}(
            kfrag, vk, "https://x", fee, dl, abi.encodePacked(rr, ss, v)
        ) {
            ghostIn += deposit;
            paidIn[address(r)] += deposit;
        } catch {}
        _after(r, this.respond.selector);
    }

    /// @notice The owner's signed withdrawal (to a fresh address) sent by a relayer, or by
    ///         another sender that only gets the fee.
    function withdrawRelayed(uint256 seed, uint96 fee, bool byFronter) external {
        IRequestContract r = _pickOwing(seed);
        if (address(r) == address(0)) return;
        uint256 key = ownerKey[r.owner()];
        if (key == 0) return;
        uint256 share = r.owed(r.owner());
        fee = uint96(fee % (share + 1));
        address to = address(uint160(0x6100000 + seed % 1000));
        bytes memory sig = _signWithdraw(r, key, to, fee);
        address sender = byFronter ? RELAYER : address(0x5E4D);
        (address fronter,) = r.relay();
        uint256 expected = share + (sender == fronter ? r.owed(sender) : 0);
        uint256 before = address(r).balance;
        vm.prank(sender);
        try r.withdrawFor(payable(to), fee, block.timestamp + 1 hours, sig) {
            _paid(r, before, expected);
        } catch {}
        _after(r, this.withdraw.selector);
    }

    function _signWithdraw(IRequestContract r, uint256 key, address to, uint256 fee)
        internal
        view
        returns (bytes memory)
    {
        (uint8 v, bytes32 rr, bytes32 ss) =
            vm.sign(key, r.hashWithdraw(to, fee, block.timestamp + 1 hours));
        return abi.encodePacked(rr, ss, v);
    }

    function _paid(IRequestContract r, uint256 before, uint256 expected) internal {
        uint256 out = before - address(r).balance;
        if (out != expected) overPayments++;
        paidOut[address(r)] += out;
        ghostOut += out;
        withdrawals++;
    }

    /// @notice One step of one live request, chosen by `choice` among the transitions its status
    ///         allows (warping past a deadline where the transition needs it), or a withdrawal
    ///         from a finished one. Keeps runs deep: most calls move some request forward.
    function advance(uint256 seed, uint8 choice, uint96 amount) external {
        calls[this.advance.selector]++;
        IRequestContract r = _pickLive(seed);
        if (address(r) == address(0) || choice % 8 == 7) {
            r = _pickOwing(seed);
            if (address(r) != address(0)) _withdraw(r, choice, choice % 16 == 7);
            return;
        }
        IRequestContract.Status s = r.status();
        uint8 c = choice % 3;
        if (s == IRequestContract.Status.Open) {
            if (c == 0 || choice % 8 == 3) {
                if (choice % 2 == 0) _respondRelayed(r, seed, amount, amount);
                else _respond(r, seed, amount);
            } else if (c == 1) {
                vm.prank(r.owner());
                try r.decline() {} catch {}
                _after(r, this.decline.selector);
            } else {
                _warpPast(r.respondBy());
                vm.prank(r.requester());
                try r.cancel() {} catch {}
                _after(r, this.cancel.selector);
            }
        } else if (s == IRequestContract.Status.Responded) {
            if (c == 0) {
                vm.prank(r.requester());
                try r.confirm() {} catch {}
                _after(r, this.confirm.selector);
            } else if (c == 1) {
                _dispute(r);
            } else {
                _warpPast(r.deadline());
                vm.prank(r.owner());
                try r.claim() {} catch {}
                _after(r, this.claim.selector);
            }
        } else {
            if (c == 2) {
                _warpPast(r.deadline());
                try r.expireDispute() {} catch {}
                _after(r, this.expireDispute.selector);
            } else {
                _resolve(r, c == 0);
            }
        }
    }

    function _warpPast(uint256 t) internal {
        if (block.timestamp <= t) vm.warp(t + 1);
    }

    /// @notice ETH forced into a REQC (selfdestruct, coinbase): the requester's surplus.
    function forceEth(uint256 seed, uint64 amount) external {
        if (reqcs.length == 0) return;
        IRequestContract r = reqcs[seed % reqcs.length];
        uint256 wei_ = 1 + amount % 1 ether;
        vm.deal(address(r), address(r).balance + wei_);
        ghostIn += wei_;
        forcedWei += wei_;
        paidIn[address(r)] += wei_;
        calls[this.forceEth.selector]++;
    }

    /// @notice A contract party changes whether it accepts, refuses or re-enters.
    function setPayeeMode(uint256 seed, uint8 mode) external {
        payees[seed % payees.length].setMode(mode);
        calls[this.setPayeeMode.selector]++;
    }

    /// @notice The verifier role moves (two steps, with the delay) to another key, which may
    ///         be a requester: it must then be unable to resolve that requester's disputes.
    function rotateVerifier(uint256 seed) external {
        address current = EF.verifier();
        address next = verifiers[seed % verifiers.length];
        if (next == current) return;
        vm.prank(current);
        EF.proposeVerifier(next);
        vm.warp(block.timestamp + EF.VERIFIER_TRANSFER_DELAY());
        vm.prank(next);
        EF.acceptVerifier();
        calls[this.rotateVerifier.selector]++;
    }

    /// @notice Time passes: one time in four just past the next deadline of a live request (so
    ///         that cancel, claim or expireDispute become possible), otherwise up to two hours
    ///         (the windows are days long, so the other transitions stay possible).
    function warp(uint256 seed, uint32 secondsAhead) external {
        IRequestContract r = _pickLive(seed);
        uint256 target = block.timestamp + secondsAhead % 2 hours;
        if (address(r) != address(0) && secondsAhead % 4 == 0) {
            uint256 d = r.status() == IRequestContract.Status.Open ? r.respondBy() : r.deadline();
            if (d + 1 > block.timestamp) target = d + 1;
        }
        vm.warp(target);
        calls[this.warp.selector]++;
    }

    // ------------------------------------------------------------------ bookkeeping

    function _pickIn(uint256 seed, IRequestContract.Status s)
        internal
        view
        returns (IRequestContract)
    {
        uint256 n = reqcs.length;
        if (n == 0) return IRequestContract(address(0));
        for (uint256 i = 0; i < n; ++i) {
            IRequestContract r = reqcs[(seed + i) % n];
            if (r.status() == s) return r;
        }
        return reqcs[seed % n];
    }

    function _pickLive(uint256 seed) internal view returns (IRequestContract) {
        uint256 n = reqcs.length;
        for (uint256 i = 0; i < n; ++i) {
            IRequestContract r = reqcs[(seed + i) % n];
            IRequestContract.Status s = r.status();
            if (
                s == IRequestContract.Status.Open || s == IRequestContract.Status.Responded
                    || s == IRequestContract.Status.Disputed
            ) return r;
        }
        return IRequestContract(address(0));
    }

    function _pickOwing(uint256 seed) internal view returns (IRequestContract) {
        uint256 n = reqcs.length;
        if (n == 0) return IRequestContract(address(0));
        for (uint256 i = 0; i < n; ++i) {
            IRequestContract r = reqcs[(seed + i) % n];
            if (r.owed(r.owner()) != 0 || r.owed(r.requester()) != 0) return r;
        }
        return reqcs[seed % n];
    }

    function _after(IRequestContract r, bytes4 action) internal {
        calls[action]++;
        IRequestContract.Status from = lastStatus[address(r)];
        IRequestContract.Status to = r.status();
        if (from != to) {
            if (!_allowed(from, to)) badTransitions++;
            transitions++;
            lastStatus[address(r)] = to;
            reachedMask |= 1 << uint8(to);
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
