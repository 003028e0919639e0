// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

import {IRequestContract} from "./interfaces/IRequestContract.sol";
import {IEvidenceFactory} from "./interfaces/IEvidenceFactory.sol";
import {CloneLib} from "./lib/CloneLib.sol";
import {RequestArgs} from "./lib/RequestArgs.sol";
import {isUmbralKey} from "./lib/Validation.sol";

/// @title RequestContract: the implementation behind every REQC clone
/// @notice See IRequestContract. Deployed once by the RequestFactory's constructor; the
///         implementation itself is locked. Fixed fields, the reward included, are clone arguments
///         (RequestArgs); the mutable state is one storage slot, untouched until the first
///         transition. The REQC accounts by what was paid in (reward, deposit, bond), never by its
///         balance: ETH that arrives any other way is surplus, owned by the requester.
///         Transitions never send ETH: `withdraw` does, after marking the payment done
///         (checks-effects-interactions).
contract RequestContract is IRequestContract {
    /// @dev The whole mutable state, one slot.
    struct State {
        Status status;
        /// @dev Bit 0: the requester withdrew its share; bit 1: the owner withdrew its share.
        uint8 paid;
        /// @dev confirmBy while Responded, resolveBy once Disputed.
        uint40 deadline;
        uint96 deposit;
    }

    uint8 private constant PAID_REQUESTER = 1;
    uint8 private constant PAID_OWNER = 2;

    /// @inheritdoc IRequestContract
    uint256 public constant KFRAG_MIN = 128;
    /// @inheritdoc IRequestContract
    uint256 public constant KFRAG_MAX = 2048;
    /// @inheritdoc IRequestContract
    uint256 public constant LINK_MAX = 1024;

    address private immutable SELF;
    address private immutable FACTORY;
    address private immutable EVIDENCE_FACTORY;
    uint96 private immutable MIN_DEPOSIT;
    uint96 private immutable DISPUTE_BOND;
    uint64 private immutable CONFIRM_WINDOW;
    uint64 private immutable RESOLVE_WINDOW;

    State private _state;

    /// @param evidenceFactory_ The EvidenceFactory, which holds the verifier role.
    /// @param minDeposit_ Minimum owner deposit (wei).
    /// @param disputeBond_ The bond a requester pays to dispute (wei).
    /// @param confirmWindow_ Seconds to confirm or dispute after the response.
    /// @param resolveWindow_ Seconds the verifier has to resolve a dispute.
    constructor(
        address evidenceFactory_,
        uint96 minDeposit_,
        uint96 disputeBond_,
        uint64 confirmWindow_,
        uint64 resolveWindow_
    ) {
        SELF = address(this);
        FACTORY = msg.sender;
        EVIDENCE_FACTORY = evidenceFactory_;
        MIN_DEPOSIT = minDeposit_;
        DISPUTE_BOND = disputeBond_;
        CONFIRM_WINDOW = confirmWindow_;
        RESOLVE_WINDOW = resolveWindow_;
    }

    modifier onlyClone() {
        _checkClone();
        _;
    }

    /// @inheritdoc IRequestContract
    function respond(
        bytes calldata kfrag,
        bytes calldata ownerUmbralKey,
        string calldata downloadLink
    ) external payable onlyClone {
        _checkPayload(kfrag, ownerUmbralKey, downloadLink);
        uint40 confirmBy = _accept();
        emit RequestResponded(msg.sender, msg.value, confirmBy, kfrag, ownerUmbralKey, downloadLink);
    }

    /// @inheritdoc IRequestContract
    function decline() external onlyClone {
        _onlyOwner();
        Status s = _state.status;
        if (s != Status.Open) revert InvalidStatus(s, Status.Open);
        _state.status = Status.Declined;
        emit RequestDeclined(msg.sender);
    }

    /// @inheritdoc IRequestContract
    function cancel() external onlyClone {
        _onlyRequester();
        Status s = _state.status;
        if (s != Status.Open) revert InvalidStatus(s, Status.Open);
        (, uint40 respondBy_) = _ownerRespondBy();
        if (block.timestamp <= respondBy_) revert ResponseWindowOpen(respondBy_, block.timestamp);
        _state.status = Status.Cancelled;
        emit RequestCancelled(msg.sender);
    }

    /// @inheritdoc IRequestContract
    function confirm() external onlyClone {
        _onlyRequester();
        Status s = _state.status;
        if (s != Status.Responded) revert InvalidStatus(s, Status.Responded);
        _state.status = Status.Completed;
        emit RequestConfirmed(msg.sender);
    }

    /// @inheritdoc IRequestContract
    function dispute() external payable onlyClone {
        _onlyRequester();
        State memory st = _state;
        if (st.status != Status.Responded) revert InvalidStatus(st.status, Status.Responded);
        if (block.timestamp > st.deadline) {
            revert ConfirmWindowClosed(st.deadline, block.timestamp);
        }
        if (msg.value != DISPUTE_BOND) revert WrongBond(msg.value, DISPUTE_BOND);
        uint40 resolveBy = uint40(block.timestamp + RESOLVE_WINDOW);
        _state = State(Status.Disputed, 0, resolveBy, st.deposit);
        emit RequestDisputed(msg.sender, msg.value, resolveBy);
    }

    /// @inheritdoc IRequestContract
    function resolve(bool kfragValid) external onlyClone {
        address verifier_ = IEvidenceFactory(EVIDENCE_FACTORY).verifier();
        if (msg.sender != verifier_) revert NotVerifier(msg.sender, verifier_);
        (address requester_,) = _requesterReward();
        (address owner_,) = _ownerRespondBy();
        if (msg.sender == requester_ || msg.sender == owner_) revert VerifierIsParty(msg.sender);
        State memory st = _state;
        if (st.status != Status.Disputed) revert InvalidStatus(st.status, Status.Disputed);
        if (block.timestamp > st.deadline) {
            revert ResolveWindowClosed(st.deadline, block.timestamp);
        }
        _state.status = kfragValid ? Status.ResolvedForOwner : Status.ResolvedForRequester;
        emit DisputeResolved(msg.sender, kfragValid);
    }

    /// @inheritdoc IRequestContract
    function claim() external onlyClone {
        _onlyOwner();
        State memory st = _state;
        if (st.status != Status.Responded) revert InvalidStatus(st.status, Status.Responded);
        if (block.timestamp <= st.deadline) revert ConfirmWindowOpen(st.deadline, block.timestamp);
        _state.status = Status.Claimed;
        emit RequestClaimed(msg.sender);
    }

    /// @inheritdoc IRequestContract
    function expireDispute() external onlyClone {
        State memory st = _state;
        if (st.status != Status.Disputed) revert InvalidStatus(st.status, Status.Disputed);
        if (block.timestamp <= st.deadline) revert ResolveWindowOpen(st.deadline, block.timestamp);
        _state.status = Status.DisputeExpired;
        emit DisputeExpired(msg.sender);
    }

    // slither-disable-start incorrect-equality
    // Reason: slither taints every value derived from address(this).balance (the surplus) and then
    // flags the strict equalities below. They compare statuses, addresses and paid flags, never a
    // balance; forced ETH only ever adds to the surplus, which has its own owner (the requester).
    /// @inheritdoc IRequestContract
    function withdraw(address payable to) external onlyClone {
        if (to == address(0)) revert InvalidRecipient(to);
        State memory st = _state;
        (address requester_, uint96 reward_) = _requesterReward();
        (address owner_,) = _ownerRespondBy();
        (uint256 toRequester, uint256 toOwner) = _shares(st.status, reward_, st.deposit);
        uint256 amount = 0;
        uint8 paid = st.paid;
        if (msg.sender == requester_) {
            amount = _surplus(st, reward_, toRequester, toOwner);
            if (paid & PAID_REQUESTER == 0 && toRequester != 0) {
                amount += toRequester;
                paid |= PAID_REQUESTER;
            }
        }
        if (msg.sender == owner_ && paid & PAID_OWNER == 0 && toOwner != 0) {
            amount += toOwner;
            paid |= PAID_OWNER;
        }
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        if (paid != st.paid) _state.paid = paid;
        emit PaymentWithdrawn(msg.sender, to, amount);
        // The recipient is chosen by the payee itself (msg.sender, checked above), who may
        // forward its own payment anywhere. State is final before the call, so re-entering any
        // function finds nothing left to do.
        // slither-disable-next-line arbitrary-send-eth,low-level-calls
        (bool sent,) = to.call{value: amount}("");
        if (!sent) revert TransferFailed(to, amount);
    }

    /// @inheritdoc IRequestContract
    function owed(address account) external view returns (uint256 amount) {
        State memory st = _state;
        (address requester_, uint96 reward_) = _requesterReward();
        (address owner_,) = _ownerRespondBy();
        (uint256 toRequester, uint256 toOwner) = _shares(st.status, reward_, st.deposit);
        if (account == requester_) {
            amount = _surplus(st, reward_, toRequester, toOwner);
            if (st.paid & PAID_REQUESTER == 0) amount += toRequester;
        }
        if (account == owner_ && st.paid & PAID_OWNER == 0) amount += toOwner;
    }

    /// @inheritdoc IRequestContract
    function surplus() external view returns (uint256) {
        State memory st = _state;
        (, uint96 reward_) = _requesterReward();
        (uint256 toRequester, uint256 toOwner) = _shares(st.status, reward_, st.deposit);
        return _surplus(st, reward_, toRequester, toOwner);
    }

    /// @inheritdoc IRequestContract
    function held() external view returns (uint256) {
        State memory st = _state;
        (, uint96 reward_) = _requesterReward();
        (uint256 toRequester, uint256 toOwner) = _shares(st.status, reward_, st.deposit);
        return _held(st, reward_, toRequester, toOwner);
    }

    // slither-disable-end incorrect-equality

    /// @inheritdoc IRequestContract
    function status() external view returns (Status) {
        return _state.status;
    }

    /// @inheritdoc IRequestContract
    function info() external view returns (RequestInfo memory i) {
        State memory st = _state;
        (address requester_, uint96 reward_) = _requesterReward();
        (address owner_, uint40 respondBy_) = _ownerRespondBy();
        i = RequestInfo({
            ec: _ec(),
            requester: requester_,
            owner: owner_,
            reward: reward_,
            deposit: st.deposit,
            respondBy: respondBy_,
            deadline: st.deadline,
            status: st.status
        });
    }

    /// @inheritdoc IRequestContract
    function ec() external view returns (address) {
        return _ec();
    }

    /// @inheritdoc IRequestContract
    function requester() external view returns (address r) {
        (r,) = _requesterReward();
    }

    /// @inheritdoc IRequestContract
    function owner() external view returns (address o) {
        (o,) = _ownerRespondBy();
    }

    /// @inheritdoc IRequestContract
    function reward() external view returns (uint256 w) {
        (, w) = _requesterReward();
    }

    /// @inheritdoc IRequestContract
    function deposit() external view returns (uint256) {
        return _state.deposit;
    }

    /// @inheritdoc IRequestContract
    function bond() external view returns (uint256) {
        return _bondPaid(_state.status) ? DISPUTE_BOND : 0;
    }

    /// @inheritdoc IRequestContract
    function respondBy() external view returns (uint64) {
        (, uint40 t) = _ownerRespondBy();
        return t;
    }

    /// @inheritdoc IRequestContract
    function deadline() external view returns (uint64) {
        return _state.deadline;
    }

    /// @inheritdoc IRequestContract
    function previousForOwner() external view returns (address) {
        return _previous();
    }

    /// @inheritdoc IRequestContract
    function factory() external view returns (address) {
        return FACTORY;
    }

    /// @inheritdoc IRequestContract
    function verifier() external view returns (address) {
        return IEvidenceFactory(EVIDENCE_FACTORY).verifier();
    }

    /// @inheritdoc IRequestContract
    function minDeposit() external view returns (uint256) {
        return MIN_DEPOSIT;
    }

    /// @inheritdoc IRequestContract
    function disputeBond() external view returns (uint256) {
        return DISPUTE_BOND;
    }

    /// @inheritdoc IRequestContract
    function confirmWindow() external view returns (uint64) {
        return CONFIRM_WINDOW;
    }

    /// @inheritdoc IRequestContract
    function resolveWindow() external view returns (uint64) {
        return RESOLVE_WINDOW;
    }

    /// @dev Checks the caller, status, deadline, deposit and origin of a response and records it.
    function _accept() private returns (uint40 confirmBy) {
        (address owner_, uint40 respondBy_) = _ownerRespondBy();
        if (msg.sender != owner_) revert NotOwner(msg.sender, owner_);
        Status s = _state.status;
        if (s != Status.Open) revert InvalidStatus(s, Status.Open);
        if (block.timestamp > respondBy_) {
            revert ResponseDeadlinePassed(respondBy_, block.timestamp);
        }
        if (msg.value < MIN_DEPOSIT) revert DepositTooLow(msg.value, MIN_DEPOSIT);
        if (msg.value > type(uint96).max) revert DepositTooLarge(msg.value);
        if (!_madeByFactory()) {
            revert NotFactoryRequest(address(this));
        }
        confirmBy = uint40(block.timestamp + CONFIRM_WINDOW);
        _state = State(Status.Responded, 0, confirmBy, uint96(msg.value));
    }

    /// @dev Checks the lengths and form of the response's byte fields.
    function _checkPayload(
        bytes calldata kfrag,
        bytes calldata ownerUmbralKey,
        string calldata downloadLink
    ) private pure {
        if (kfrag.length < KFRAG_MIN || kfrag.length > KFRAG_MAX) {
            revert InvalidKfragLength(kfrag.length);
        }
        (bool ok, uint8 prefix) = isUmbralKey(ownerUmbralKey);
        if (!ok) revert InvalidUmbralKey(ownerUmbralKey.length, prefix);
        uint256 linkLength = bytes(downloadLink).length;
        if (linkLength == 0 || linkLength > LINK_MAX) revert InvalidDownloadLink(linkLength);
    }

    function _onlyRequester() private view {
        (address requester_,) = _requesterReward();
        if (msg.sender != requester_) revert NotRequester(msg.sender, requester_);
    }

    function _onlyOwner() private view {
        (address owner_,) = _ownerRespondBy();
        if (msg.sender != owner_) revert NotOwner(msg.sender, owner_);
    }

    // slither-disable-start incorrect-equality
    // Reason: as above; enum comparisons on a status that forced ETH cannot change.
    /// @dev Whether the requester's dispute bond is in the REQC (paid with `dispute`).
    function _bondPaid(Status s) private pure returns (bool) {
        return s == Status.Disputed || s == Status.ResolvedForOwner
            || s == Status.ResolvedForRequester || s == Status.DisputeExpired;
    }

    /// @dev What each party is owed in status `s` (before any withdrawal); see the table in
    ///      IRequestContract.
    function _shares(Status s, uint256 reward_, uint256 deposit_)
        private
        view
        returns (uint256 toRequester, uint256 toOwner)
    {
        if (s == Status.Declined || s == Status.Cancelled) return (reward_, 0);
        if (s == Status.Completed || s == Status.Claimed) return (0, reward_ + deposit_);
        if (s == Status.ResolvedForOwner) return (0, reward_ + deposit_ + DISPUTE_BOND);
        if (s == Status.ResolvedForRequester) return (reward_ + deposit_ + DISPUTE_BOND, 0);
        if (s == Status.DisputeExpired) return (DISPUTE_BOND, reward_ + deposit_);
        return (0, 0);
    }

    /// @dev What the REQC still owes from what was paid in: everything paid in while undecided,
    ///      the unpaid shares once final.
    function _held(State memory st, uint256 reward_, uint256 toRequester, uint256 toOwner)
        private
        view
        returns (uint256)
    {
        Status s = st.status;
        if (s == Status.Open) return reward_;
        if (s == Status.Responded) return reward_ + st.deposit;
        if (s == Status.Disputed) return reward_ + st.deposit + DISPUTE_BOND;
        uint256 h = 0;
        if (st.paid & PAID_REQUESTER == 0) h = toRequester;
        if (st.paid & PAID_OWNER == 0) h += toOwner;
        return h;
    }

    // slither-disable-end incorrect-equality

    /// @dev ETH above what the REQC owes (forced in, or sent to its address before creation).
    ///      Never negative: ETH leaves only through `withdraw`, which pays at most what is owed.
    function _surplus(State memory st, uint256 reward_, uint256 toRequester, uint256 toOwner)
        private
        view
        returns (uint256)
    {
        return address(this).balance - _held(st, reward_, toRequester, toOwner);
    }

    /// @dev Reverts on the implementation, which has no arguments of its own.
    function _checkClone() internal view virtual {
        if (address(this) == SELF) revert ImplementationLocked();
    }

    /// @dev Whether this clone was made by the factory (its address derives from its code).
    function _madeByFactory() internal view virtual returns (bool) {
        return CloneLib.isClone(FACTORY, address(this), RequestArgs.CODE_LENGTH);
    }

    /// @dev The requester and the reward paid in at creation (clone arguments).
    function _requesterReward() internal view virtual returns (address, uint96) {
        return RequestArgs.requesterReward();
    }

    /// @dev Owner and response deadline (clone arguments).
    function _ownerRespondBy() internal view virtual returns (address, uint40) {
        return RequestArgs.ownerRespondBy();
    }

    /// @dev The Evidence Contract (clone argument).
    function _ec() internal view virtual returns (address) {
        return RequestArgs.ec();
    }

    /// @dev The previous REQC of the same owner (clone argument).
    function _previous() internal view virtual returns (address) {
        return RequestArgs.previous();
    }
}
