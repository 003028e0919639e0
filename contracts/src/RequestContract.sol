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
        /// @dev Bit 0: the requester withdrew its share; bit 1: the owner; bit 2: the relayer;
        ///      bit 3: the response was relayed (`_relay` is set).
        uint8 paid;
        /// @dev confirmBy while Responded, resolveBy once Disputed.
        uint40 deadline;
        uint96 deposit;
    }

    /// @dev The relayer that fronted the owner's deposit in `respondFor` and what it is owed
    ///      back (deposit + signed fee) out of the owner's share; one slot, written only then.
    struct Relay {
        address relayer;
        uint96 due;
    }

    /// @dev The parties and their shares in the current status (see `_sharesOf`).
    struct Shares {
        address requester;
        address owner;
        address relayer;
        uint256 reward;
        uint256 toRequester;
        uint256 toOwner;
        uint256 toRelayer;
    }

    uint8 private constant PAID_REQUESTER = 1;
    uint8 private constant PAID_OWNER = 2;
    uint8 private constant PAID_RELAYER = 4;
    /// @dev Not a payment: set by `respondFor`, so that only relayed requests read `_relay`.
    uint8 private constant RELAYED = 8;

    /// @inheritdoc IRequestContract
    bytes32 public constant RESPOND_TYPEHASH = keccak256(
        "Respond(bytes kfrag,bytes ownerUmbralKey,string downloadLink,uint256 relayerFee,uint256 deadline)"
    );
    /// @inheritdoc IRequestContract
    bytes32 public constant DECLINE_TYPEHASH = keccak256("Decline(uint256 deadline)");
    /// @inheritdoc IRequestContract
    bytes32 public constant CLAIM_TYPEHASH = keccak256("Claim(uint256 deadline)");
    /// @inheritdoc IRequestContract
    bytes32 public constant WITHDRAW_TYPEHASH =
        keccak256("Withdraw(address to,uint256 relayerFee,uint256 deadline)");

    bytes32 private constant DOMAIN_TYPEHASH = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    );
    bytes32 private constant NAME_HASH = keccak256("dashledger");
    bytes32 private constant VERSION_HASH = keccak256("1");
    /// @dev secp256k1 order / 2: larger s values are the malleable twin of a valid signature.
    uint256 private constant HALF_ORDER =
        0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

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
    Relay private _relay;

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
        (address owner_,) = _ownerRespondBy();
        if (msg.sender != owner_) revert NotOwner(msg.sender, owner_);
        uint40 confirmBy = _accept(0);
        emit RequestResponded(msg.sender, msg.value, confirmBy, kfrag, ownerUmbralKey, downloadLink);
    }

    /// @inheritdoc IRequestContract
    function respondFor(
        bytes calldata kfrag,
        bytes calldata ownerUmbralKey,
        string calldata downloadLink,
        uint256 relayerFee,
        uint256 signatureDeadline,
        bytes calldata signature
    ) external payable onlyClone {
        _checkPayload(kfrag, ownerUmbralKey, downloadLink);
        _authorizeRespond(
            kfrag, ownerUmbralKey, downloadLink, relayerFee, signatureDeadline, signature
        );
        _respondRelayed(kfrag, ownerUmbralKey, downloadLink, relayerFee);
    }

    /// @dev The owner's signature over the response and a fee of at most the reward.
    function _authorizeRespond(
        bytes calldata kfrag,
        bytes calldata ownerUmbralKey,
        string calldata downloadLink,
        uint256 relayerFee,
        uint256 signatureDeadline,
        bytes calldata signature
    ) private view {
        (address owner_,) = _ownerRespondBy();
        bytes32 digest =
            _hashRespond(kfrag, ownerUmbralKey, downloadLink, relayerFee, signatureDeadline);
        _checkOwnerSignature(digest, signatureDeadline, owner_, signature);
        (, uint96 reward_) = _requesterReward();
        if (relayerFee > reward_) revert RelayerFeeTooHigh(relayerFee, reward_);
    }

    /// @dev Records a relayed response: the relayer is owed the deposit it paid plus the fee.
    function _respondRelayed(
        bytes calldata kfrag,
        bytes calldata ownerUmbralKey,
        string calldata downloadLink,
        uint256 relayerFee
    ) private {
        uint40 confirmBy = _accept(RELAYED);
        uint256 due = msg.value + relayerFee;
        if (due > type(uint96).max) revert DepositTooLarge(due);
        _relay = Relay(msg.sender, uint96(due));
        emit DepositFronted(msg.sender, msg.value, relayerFee);
        (address owner_,) = _ownerRespondBy();
        emit RequestResponded(owner_, msg.value, confirmBy, kfrag, ownerUmbralKey, downloadLink);
    }

    /// @inheritdoc IRequestContract
    function decline() external onlyClone {
        _onlyOwner();
        _decline(msg.sender);
    }

    /// @inheritdoc IRequestContract
    function declineFor(uint256 signatureDeadline, bytes calldata signature) external onlyClone {
        (address owner_,) = _ownerRespondBy();
        _checkOwnerSignature(_hashDecline(signatureDeadline), signatureDeadline, owner_, signature);
        _decline(owner_);
    }

    function _decline(address owner_) private {
        Status s = _state.status;
        if (s != Status.Open) revert InvalidStatus(s, Status.Open);
        _state.status = Status.Declined;
        emit RequestDeclined(owner_);
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
        _state = State(Status.Disputed, st.paid, resolveBy, st.deposit);
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
        _claim(msg.sender);
    }

    /// @inheritdoc IRequestContract
    function claimFor(uint256 signatureDeadline, bytes calldata signature) external onlyClone {
        (address owner_,) = _ownerRespondBy();
        _checkOwnerSignature(_hashClaim(signatureDeadline), signatureDeadline, owner_, signature);
        _claim(owner_);
    }

    function _claim(address owner_) private {
        State memory st = _state;
        if (st.status != Status.Responded) revert InvalidStatus(st.status, Status.Responded);
        if (block.timestamp <= st.deadline) revert ConfirmWindowOpen(st.deadline, block.timestamp);
        _state.status = Status.Claimed;
        emit RequestClaimed(owner_);
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
        Shares memory sh = _sharesOf(st);
        uint256 amount = 0;
        uint8 paid = st.paid;
        if (msg.sender == sh.requester) {
            amount = _surplus(st, sh);
            if (paid & PAID_REQUESTER == 0 && sh.toRequester != 0) {
                amount += sh.toRequester;
                paid |= PAID_REQUESTER;
            }
        }
        if (msg.sender == sh.owner && paid & PAID_OWNER == 0 && sh.toOwner != 0) {
            amount += sh.toOwner;
            paid |= PAID_OWNER;
        }
        if (msg.sender == sh.relayer && paid & PAID_RELAYER == 0 && sh.toRelayer != 0) {
            amount += sh.toRelayer;
            paid |= PAID_RELAYER;
        }
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        if (paid != st.paid) _state.paid = paid;
        emit PaymentWithdrawn(msg.sender, to, amount);
        _send(to, amount);
    }

    /// @inheritdoc IRequestContract
    function withdrawFor(
        address payable to,
        uint256 relayerFee,
        uint256 signatureDeadline,
        bytes calldata signature
    ) external onlyClone {
        if (to == address(0)) revert InvalidRecipient(to);
        State memory st = _state;
        Shares memory sh = _sharesOf(st);
        _checkOwnerSignature(
            _hashWithdraw(to, relayerFee, signatureDeadline), signatureDeadline, sh.owner, signature
        );
        uint8 paid = st.paid;
        if (paid & PAID_OWNER != 0 || sh.toOwner == 0) revert NothingToWithdraw(sh.owner);
        if (relayerFee > sh.toOwner) revert RelayerFeeTooHigh(relayerFee, sh.toOwner);
        paid |= PAID_OWNER;
        // The relayer sending this is paid its fee and, if it fronted the deposit, what it is owed.
        uint256 toSender = relayerFee;
        if (msg.sender == sh.relayer && paid & PAID_RELAYER == 0 && sh.toRelayer != 0) {
            toSender += sh.toRelayer;
            paid |= PAID_RELAYER;
        }
        _state.paid = paid;
        uint256 toPayee = sh.toOwner - relayerFee;
        emit PaymentWithdrawn(sh.owner, to, toPayee);
        if (toSender != 0) emit PaymentWithdrawn(msg.sender, msg.sender, toSender);
        if (toPayee != 0) _send(to, toPayee);
        if (toSender != 0) _send(payable(msg.sender), toSender);
    }

    /// @inheritdoc IRequestContract
    function owed(address account) external view returns (uint256 amount) {
        State memory st = _state;
        Shares memory sh = _sharesOf(st);
        if (account == sh.requester) {
            amount = _surplus(st, sh);
            if (st.paid & PAID_REQUESTER == 0) amount += sh.toRequester;
        }
        if (account == sh.owner && st.paid & PAID_OWNER == 0) amount += sh.toOwner;
        if (account == sh.relayer && st.paid & PAID_RELAYER == 0) amount += sh.toRelayer;
    }

    /// @inheritdoc IRequestContract
    function surplus() external view returns (uint256) {
        State memory st = _state;
        return _surplus(st, _sharesOf(st));
    }

    /// @inheritdoc IRequestContract
    function held() external view returns (uint256) {
        State memory st = _state;
        return _held(st, _sharesOf(st));
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
    function relay() external view returns (address relayer, uint256 due) {
        Relay memory r = _relay;
        return (r.relayer, r.due);
    }

    /// @inheritdoc IRequestContract
    // slither-disable-next-line naming-convention
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparator();
    }

    /// @inheritdoc IRequestContract
    function hashRespond(
        bytes calldata kfrag,
        bytes calldata ownerUmbralKey,
        string calldata downloadLink,
        uint256 relayerFee,
        uint256 signatureDeadline
    ) external view returns (bytes32) {
        return _hashRespond(kfrag, ownerUmbralKey, downloadLink, relayerFee, signatureDeadline);
    }

    /// @inheritdoc IRequestContract
    function hashDecline(uint256 signatureDeadline) external view returns (bytes32) {
        return _hashDecline(signatureDeadline);
    }

    /// @inheritdoc IRequestContract
    function hashClaim(uint256 signatureDeadline) external view returns (bytes32) {
        return _hashClaim(signatureDeadline);
    }

    /// @inheritdoc IRequestContract
    function hashWithdraw(address to, uint256 relayerFee, uint256 signatureDeadline)
        external
        view
        returns (bytes32)
    {
        return _hashWithdraw(to, relayerFee, signatureDeadline);
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

    /// @dev Checks the status, deadline, deposit and origin of a response and records it (the
    ///      caller or signer was checked before).
    function _accept(uint8 flags) private returns (uint40 confirmBy) {
        (, uint40 respondBy_) = _ownerRespondBy();
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
        _state = State(Status.Responded, flags, confirmBy, uint96(msg.value));
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

    /// @dev What each party is owed once final (before any withdrawal); see the table in
    ///      IRequestContract. A relayer that fronted the deposit is owed `due` out of the owner's
    ///      share (capped by it; `due` <= deposit + reward, so it always fits when the owner wins).
    function _sharesOf(State memory st) private view returns (Shares memory sh) {
        uint96 reward_;
        (sh.requester, reward_) = _requesterReward();
        (sh.owner,) = _ownerRespondBy();
        Status s = st.status;
        uint256 w = reward_;
        sh.reward = w;
        if (s == Status.Declined || s == Status.Cancelled) {
            sh.toRequester = w;
        } else if (s == Status.Completed || s == Status.Claimed) {
            sh.toOwner = w + st.deposit;
        } else if (s == Status.ResolvedForOwner) {
            sh.toOwner = w + st.deposit + DISPUTE_BOND;
        } else if (s == Status.ResolvedForRequester) {
            sh.toRequester = w + st.deposit + DISPUTE_BOND;
        } else if (s == Status.DisputeExpired) {
            sh.toRequester = DISPUTE_BOND;
            sh.toOwner = w + st.deposit;
        }
        if (st.paid & RELAYED == 0) return sh;
        Relay memory r = _relay;
        sh.relayer = r.relayer;
        if (sh.toOwner != 0 && r.due != 0) {
            sh.toRelayer = r.due < sh.toOwner ? r.due : sh.toOwner;
            sh.toOwner -= sh.toRelayer;
        }
    }

    /// @dev What the REQC still owes from what was paid in: everything paid in while undecided,
    ///      the unpaid shares once final.
    function _held(State memory st, Shares memory sh) private view returns (uint256 h) {
        Status s = st.status;
        if (s == Status.Open) return sh.reward;
        if (s == Status.Responded) return sh.reward + st.deposit;
        if (s == Status.Disputed) return sh.reward + st.deposit + DISPUTE_BOND;
        if (st.paid & PAID_REQUESTER == 0) h = sh.toRequester;
        if (st.paid & PAID_OWNER == 0) h += sh.toOwner;
        if (st.paid & PAID_RELAYER == 0) h += sh.toRelayer;
    }

    // slither-disable-end incorrect-equality

    /// @dev ETH above what the REQC owes (forced in, or sent to its address before creation).
    ///      Never negative: ETH leaves only through the withdrawals, which pay at most what is owed.
    function _surplus(State memory st, Shares memory sh) private view returns (uint256) {
        return address(this).balance - _held(st, sh);
    }

    /// @dev Sends `amount` to `to`. The recipient is chosen by the payee itself (the caller, or
    ///      the signer of a Withdraw message), who may forward its own payment anywhere; state is
    ///      final before the call, so re-entering any function finds nothing left to do.
    function _send(address payable to, uint256 amount) private {
        // slither-disable-next-line arbitrary-send-eth,low-level-calls
        (bool sent,) = to.call{value: amount}("");
        if (!sent) revert TransferFailed(to, amount);
    }

    function _hashRespond(
        bytes calldata kfrag,
        bytes calldata ownerUmbralKey,
        string calldata downloadLink,
        uint256 relayerFee,
        uint256 signatureDeadline
    ) private view returns (bytes32) {
        return _digest(
            keccak256(
                abi.encode(
                    RESPOND_TYPEHASH,
                    keccak256(kfrag),
                    keccak256(ownerUmbralKey),
                    keccak256(bytes(downloadLink)),
                    relayerFee,
                    signatureDeadline
                )
            )
        );
    }

    function _hashDecline(uint256 signatureDeadline) private view returns (bytes32) {
        return _digest(keccak256(abi.encode(DECLINE_TYPEHASH, signatureDeadline)));
    }

    function _hashClaim(uint256 signatureDeadline) private view returns (bytes32) {
        return _digest(keccak256(abi.encode(CLAIM_TYPEHASH, signatureDeadline)));
    }

    function _hashWithdraw(address to, uint256 relayerFee, uint256 signatureDeadline)
        private
        view
        returns (bytes32)
    {
        return _digest(keccak256(abi.encode(WITHDRAW_TYPEHASH, to, relayerFee, signatureDeadline)));
    }

    function _digest(bytes32 structHash) private view returns (bytes32) {
        return keccak256(abi.encodePacked(hex"1901", _domainSeparator(), structHash));
    }

    /// @dev verifyingContract is this REQC: a signature is good for one request only.
    function _domainSeparator() private view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this))
        );
    }

    /// @dev Reverts unless `signature` is the owner's over `digest` and `signatureDeadline` has not passed.
    function _checkOwnerSignature(
        bytes32 digest,
        uint256 signatureDeadline,
        address owner_,
        bytes calldata signature
    ) private view {
        if (block.timestamp > signatureDeadline) {
            revert SignatureExpired(signatureDeadline, block.timestamp);
        }
        if (signature.length != 65) revert InvalidSignatureLength(signature.length);
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (uint256(s) > HALF_ORDER || (v != 27 && v != 28)) revert MalformedSignature(s, v);
        address recovered = ecrecover(digest, v, r, s);
        if (recovered == address(0)) revert InvalidSignature(digest);
        if (recovered != owner_) revert SignerMismatch(recovered, owner_);
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
