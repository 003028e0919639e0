// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

/// @title IRequestContract: escrow for one request for one Evidence Contract's footage
/// @notice A Request Contract (REQC) is an EIP-1167 clone made by the RequestFactory. It holds the
///         requester's reward W, later the owner's deposit D and, if disputed, the requester's
///         bond B (`disputeBond()`), and moves through (docs/contracts.md "The request game"):
///
///         Open --respond (owner, D >= minDeposit, until respondBy)--> Responded
///         Open --decline (owner)--> Declined                        requester: W
///         Open --cancel (requester, after respondBy)--> Cancelled   requester: W
///         Responded --confirm (requester)--> Completed              owner: W + D
///         Responded --claim (owner, after confirmBy)--> Claimed     owner: W + D
///         Responded --dispute (requester, pays B, until confirmBy)--> Disputed
///         Disputed --resolve(true) (verifier, until resolveBy)--> ResolvedForOwner      owner: W + D + B
///         Disputed --resolve(false) (verifier, until resolveBy)--> ResolvedForRequester requester: W + D + B
///         Disputed --expireDispute (anyone, after resolveBy)--> DisputeExpired
///                                                   owner: W + D, requester: B back
///
///         The verifier may not resolve a request it is the requester or the owner of. At the end
///         of the resolve window there is one rule: until resolveBy only `resolve`, after it only
///         `expireDispute`. The silence of the verifier favours the owner, whose claim (the kfrag
///         re-encrypts to the requester) anyone can check off-chain from public data.
///
///         Accounting is by what was paid in (W is a clone argument, D and B are fixed by the
///         transitions that took them); ETH that arrives any other way (selfdestruct, or sent to the
///         REQC's address before it existed) is surplus and belongs to the requester.
///         Transitions never send ETH; the parties pull what they are owed with `withdraw`.
///         Every transition emits an event from the REQC's address.
///
///         Relayed owner actions: the EC's owner key signs EIP-712 messages (domain "dashledger",
///         version "1", the chain id, verifyingContract = this REQC) and any relayer sends them:
///         `respondFor` (the relayer may front the deposit and is owed it back plus a signed fee
///         out of the owner's share), `declineFor`, `claimFor`, and `withdrawFor` (the owner's
///         share to any address, minus a signed fee to the relayer). No nonces: each action can
///         happen once per REQC, and the domain binds a signature to one REQC.
interface IRequestContract {
    /// @notice Request status. Declined, Cancelled, Completed, Claimed, ResolvedForOwner,
    ///         ResolvedForRequester and DisputeExpired are final.
    enum Status {
        Open,
        Responded,
        Declined,
        Cancelled,
        Completed,
        Disputed,
        Claimed,
        ResolvedForOwner,
        ResolvedForRequester,
        DisputeExpired
    }

    /// @notice Everything about the request in one call.
    struct RequestInfo {
        address ec;
        address requester;
        address owner;
        uint256 reward;
        uint256 deposit;
        uint64 respondBy;
        uint64 deadline;
        Status status;
    }

    /// @notice The owner responded: the requester can now re-encrypt and recover the session key.
    /// @param owner The EC's owner.
    /// @param deposit The owner's deposit (wei).
    /// @param confirmBy Until this time (unix seconds) the requester may dispute.
    /// @param kfrag The Umbral key fragment re-encrypting from the owner's key to the requester's.
    /// @param ownerUmbralKey The owner's Umbral verifying key (33 bytes) that signed the kfrag.
    /// @param downloadLink Where the sealed file can be downloaded.
    event RequestResponded(
        address indexed owner,
        uint256 deposit,
        uint64 confirmBy,
        bytes kfrag,
        bytes ownerUmbralKey,
        string downloadLink
    );

    /// @notice The owner declined; the requester may withdraw the reward.
    /// @param owner The EC's owner.
    event RequestDeclined(address indexed owner);

    /// @notice The requester cancelled after the response deadline; the reward is theirs again.
    /// @param requester The requester.
    event RequestCancelled(address indexed requester);

    /// @notice The requester confirmed that the recovered key matches; the owner is paid.
    /// @param requester The requester.
    event RequestConfirmed(address indexed requester);

    /// @notice The requester disputed the response within the confirm window and paid the bond.
    /// @param requester The requester.
    /// @param bond The dispute bond paid (wei).
    /// @param resolveBy Until this time the verifier may resolve; afterwards anyone may expire it.
    event RequestDisputed(address indexed requester, uint256 bond, uint64 resolveBy);

    /// @notice The owner claimed after the requester stayed silent past the confirm window.
    /// @param owner The EC's owner.
    event RequestClaimed(address indexed owner);

    /// @notice The verifier resolved the dispute.
    /// @param verifier The verifier.
    /// @param kfragValid True: the owner is owed reward + deposit; false: the requester is.
    event DisputeResolved(address indexed verifier, bool kfragValid);

    /// @notice The verifier did not resolve in time: the owner is owed reward + deposit, the
    ///         requester its bond back.
    /// @param caller Who expired the dispute.
    event DisputeExpired(address indexed caller);

    /// @notice A relayer sent the owner's signed response and paid the deposit for it; it is owed
    ///         `deposit + fee` out of the owner's share if the owner wins.
    /// @param relayer The relayer (msg.sender of `respondFor`).
    /// @param deposit The deposit it paid (wei).
    /// @param fee The fee the owner signed (wei).
    event DepositFronted(address indexed relayer, uint256 deposit, uint256 fee);

    /// @notice A party withdrew what it was owed.
    /// @param payee The party (owner or requester).
    /// @param to Where the ETH went.
    /// @param amount Wei sent.
    event PaymentWithdrawn(address indexed payee, address indexed to, uint256 amount);

    /// @notice A state-changing function was called on the implementation instead of a clone.
    error ImplementationLocked();

    /// @notice This REQC was not made by the RequestFactory; it accepts no deposit.
    /// @param reqc This contract.
    error NotFactoryRequest(address reqc);

    /// @notice Only the EC's owner may do this.
    /// @param caller The caller.
    /// @param owner The EC's owner.
    error NotOwner(address caller, address owner);

    /// @notice Only the requester may do this.
    /// @param caller The caller.
    /// @param requester The requester.
    error NotRequester(address caller, address requester);

    /// @notice Only the current verifier may do this.
    /// @param caller The caller.
    /// @param verifier The current verifier.
    error NotVerifier(address caller, address verifier);

    /// @notice The verifier is the requester or the owner of this request and may not resolve it.
    /// @param verifier The verifier.
    error VerifierIsParty(address verifier);

    /// @notice Too late to resolve: the resolve window has closed (only `expireDispute` is left).
    /// @param resolveBy End of the resolve window.
    /// @param timestamp The current block timestamp.
    error ResolveWindowClosed(uint64 resolveBy, uint256 timestamp);

    /// @notice `dispute` must pay exactly the dispute bond.
    /// @param sent The value sent.
    /// @param bond The bond (`disputeBond()`).
    error WrongBond(uint256 sent, uint256 bond);

    /// @notice The request is not in the status this transition starts from.
    /// @param current The current status.
    /// @param expected The status the transition needs.
    error InvalidStatus(Status current, Status expected);

    /// @notice Too late to respond: the response deadline has passed.
    /// @param respondBy The response deadline.
    /// @param timestamp The current block timestamp.
    error ResponseDeadlinePassed(uint64 respondBy, uint256 timestamp);

    /// @notice Too early to cancel: the owner may still respond.
    /// @param respondBy The response deadline.
    /// @param timestamp The current block timestamp.
    error ResponseWindowOpen(uint64 respondBy, uint256 timestamp);

    /// @notice Too late to dispute: the confirm window has closed.
    /// @param confirmBy End of the confirm window.
    /// @param timestamp The current block timestamp.
    error ConfirmWindowClosed(uint64 confirmBy, uint256 timestamp);

    /// @notice Too early to claim: the requester may still confirm or dispute.
    /// @param confirmBy End of the confirm window.
    /// @param timestamp The current block timestamp.
    error ConfirmWindowOpen(uint64 confirmBy, uint256 timestamp);

    /// @notice Too early to expire the dispute: the verifier may still resolve it.
    /// @param resolveBy End of the resolve window.
    /// @param timestamp The current block timestamp.
    error ResolveWindowOpen(uint64 resolveBy, uint256 timestamp);

    /// @notice The deposit is below the minimum fixed at deployment.
    /// @param deposit The deposit sent.
    /// @param minDeposit The minimum.
    error DepositTooLow(uint256 deposit, uint256 minDeposit);

    /// @notice The deposit does not fit in 96 bits.
    /// @param deposit The deposit sent.
    error DepositTooLarge(uint256 deposit);

    /// @notice The kfrag length is outside 128..=2048 bytes.
    /// @param length The given length.
    error InvalidKfragLength(uint256 length);

    /// @notice The Umbral public key is not a 33-byte compressed point (prefix 0x02 or 0x03).
    /// @param length The given length.
    /// @param prefix The first byte (0 if empty).
    error InvalidUmbralKey(uint256 length, uint8 prefix);

    /// @notice The download link length is outside 1..=1024 bytes.
    /// @param length The given length.
    error InvalidDownloadLink(uint256 length);

    /// @notice The caller is owed nothing (not a party, not final yet, or already withdrawn).
    /// @param account The caller.
    error NothingToWithdraw(address account);

    /// @notice The relayed message's deadline has passed.
    /// @param signatureDeadline The signed deadline (unix seconds).
    /// @param timestamp The current block timestamp.
    error SignatureExpired(uint256 signatureDeadline, uint256 timestamp);

    /// @notice The signature is not 65 bytes (r, s, v).
    /// @param length The length given.
    error InvalidSignatureLength(uint256 length);

    /// @notice The signature's s is in the upper half of the curve order (malleable) or v is not 27/28.
    /// @param s The s value.
    /// @param v The v value.
    error MalformedSignature(bytes32 s, uint8 v);

    /// @notice The signature does not recover to any address for this digest.
    /// @param digest The EIP-712 digest that was checked.
    error InvalidSignature(bytes32 digest);

    /// @notice The signature recovers to another address than the owner (altered message, another
    ///         REQC's or chain's message, or another key).
    /// @param recovered The recovered signer.
    /// @param owner The EC's owner.
    error SignerMismatch(address recovered, address owner);

    /// @notice The signed relayer fee exceeds what it is paid from (the reward for `respondFor`,
    ///         the owner's share for `withdrawFor`).
    /// @param fee The fee.
    /// @param limit The most it may be.
    error RelayerFeeTooHigh(uint256 fee, uint256 limit);

    /// @notice `withdraw` to the zero address.
    error InvalidRecipient(address to);

    /// @notice Sending ETH to the recipient failed.
    /// @param to The recipient.
    /// @param amount The amount.
    error TransferFailed(address to, uint256 amount);

    /// @notice Owner: accept the request, post the kfrag, the verifying key and the download link,
    ///         and pay a deposit of at least `minDeposit()`.
    /// @dev Only while Open and until `respondBy()`. Emits `RequestResponded`.
    /// @param kfrag Umbral key fragment (128..=2048 bytes).
    /// @param ownerUmbralKey The owner's Umbral verifying key (33 bytes, 0x02/0x03 prefix).
    /// @param downloadLink Where the sealed file can be fetched (1..=1024 bytes).
    function respond(
        bytes calldata kfrag,
        bytes calldata ownerUmbralKey,
        string calldata downloadLink
    ) external payable;

    /// @notice Relayer: send the owner's signed response (EIP-712 `Respond`, see `hashRespond`),
    ///         paying the deposit (`msg.value`, at least `minDeposit()`) for the owner. The relayer
    ///         is owed `msg.value + relayerFee` out of the owner's share if the owner wins, and
    ///         loses the deposit like the owner would if the verifier rules the kfrag invalid, so it
    ///         should check the kfrag (`verify_kfrag`) before sending.
    /// @dev Same checks as `respond`, plus the signature and its deadline; `relayerFee` at most
    ///      the reward. Emits `DepositFronted` and `RequestResponded` (owner = the EC's owner).
    /// @param kfrag As in `respond`.
    /// @param ownerUmbralKey As in `respond`.
    /// @param downloadLink As in `respond`.
    /// @param relayerFee Signed fee for the relayer (wei), paid out of the owner's share.
    /// @param signatureDeadline The message's `deadline` field (unix seconds).
    /// @param signature 65-byte r ‖ s ‖ v by the EC's owner key.
    function respondFor(
        bytes calldata kfrag,
        bytes calldata ownerUmbralKey,
        string calldata downloadLink,
        uint256 relayerFee,
        uint256 signatureDeadline,
        bytes calldata signature
    ) external payable;

    /// @notice Owner: decline the request (while Open). Emits `RequestDeclined`.
    function decline() external;

    /// @notice Anyone: send the owner's signed `Decline(deadline)`. As `decline`.
    /// @param signatureDeadline The message's `deadline` field (unix seconds).
    /// @param signature 65-byte r ‖ s ‖ v by the EC's owner key.
    function declineFor(uint256 signatureDeadline, bytes calldata signature) external;

    /// @notice Requester: take the reward back after `respondBy()` without a response.
    /// @dev Only while Open. Emits `RequestCancelled`.
    function cancel() external;

    /// @notice Requester: the recovered session key matches the EC's keyCommitment; pay the owner.
    /// @dev Only while Responded (also after confirmBy, as long as the owner has not claimed).
    ///      Emits `RequestConfirmed`.
    function confirm() external;

    /// @notice Requester: the kfrag is wrong; pay the bond (`disputeBond()`) and ask the verifier
    ///         to resolve. The bond goes to the owner if the verifier finds the kfrag valid, back to
    ///         the requester otherwise or if the verifier stays silent.
    /// @dev Only while Responded and until `deadline()` (confirmBy); `msg.value` must equal the
    ///      bond (`WrongBond`). Emits `RequestDisputed`.
    function dispute() external payable;

    /// @notice Verifier: resolve a dispute.
    /// @dev Only the current verifier, not the requester or owner of this request
    ///      (`VerifierIsParty`), only while Disputed and until `deadline()` (resolveBy;
    ///      `ResolveWindowClosed` afterwards). Emits `DisputeResolved`.
    /// @param kfragValid True if the kfrag re-encrypts the EC's capsule to the requester's key
    ///        (owner wins reward + deposit + bond); false: the requester wins all three.
    function resolve(bool kfragValid) external;

    /// @notice Owner: collect after the requester stayed silent past the confirm window.
    /// @dev Only while Responded and after `deadline()` (confirmBy). Emits `RequestClaimed`.
    function claim() external;

    /// @notice Anyone: send the owner's signed `Claim(deadline)`. As `claim`.
    /// @param signatureDeadline The message's `deadline` field (unix seconds).
    /// @param signature 65-byte r ‖ s ‖ v by the EC's owner key.
    function claimFor(uint256 signatureDeadline, bytes calldata signature) external;

    /// @notice Anyone: end a dispute the verifier did not resolve by `deadline()` (resolveBy).
    ///         Silence favours the owner: it is owed reward + deposit, the requester its bond.
    ///         Emits `DisputeExpired`.
    function expireDispute() external;

    /// @notice Pull payment: send everything the caller is owed to `to` (for the requester this
    ///         includes any surplus).
    /// @dev Emits `PaymentWithdrawn`. Reverts with `NothingToWithdraw` if nothing is owed.
    /// @param to Recipient of the ETH.
    function withdraw(address payable to) external;

    /// @notice Relayer: send the owner's signed `Withdraw(to, relayerFee, deadline)`: the owner's
    ///         share minus `relayerFee` goes to `to`, `relayerFee` to the sender; a sender that
    ///         fronted the deposit is also paid what it is owed in the same call.
    /// @dev Reverts with `NothingToWithdraw(owner)` if the owner is owed nothing, and with
    ///      `RelayerFeeTooHigh` if the fee exceeds the owner's share. Emits `PaymentWithdrawn`
    ///      for the owner (to `to`) and, if it gets anything, for the sender.
    /// @param to Recipient of the owner's share (any address, e.g. a fresh one).
    /// @param relayerFee Signed fee for the sender (wei).
    /// @param signatureDeadline The message's `deadline` field (unix seconds).
    /// @param signature 65-byte r ‖ s ‖ v by the EC's owner key.
    function withdrawFor(
        address payable to,
        uint256 relayerFee,
        uint256 signatureDeadline,
        bytes calldata signature
    ) external;

    /// @notice keccak256("Respond(bytes kfrag,bytes ownerUmbralKey,string downloadLink,uint256 relayerFee,uint256 signatureDeadline)").
    function RESPOND_TYPEHASH() external view returns (bytes32);

    /// @notice keccak256("Decline(uint256 signatureDeadline)").
    function DECLINE_TYPEHASH() external view returns (bytes32);

    /// @notice keccak256("Claim(uint256 signatureDeadline)").
    function CLAIM_TYPEHASH() external view returns (bytes32);

    /// @notice keccak256("Withdraw(address to,uint256 relayerFee,uint256 signatureDeadline)").
    function WITHDRAW_TYPEHASH() external view returns (bytes32);

    /// @notice The EIP-712 domain separator of this REQC (name "dashledger", version "1", chain id,
    ///         verifyingContract = this REQC).
    function DOMAIN_SEPARATOR() external view returns (bytes32);

    /// @notice The digest the owner signs for `respondFor` (bytes and string members hashed).
    function hashRespond(
        bytes calldata kfrag,
        bytes calldata ownerUmbralKey,
        string calldata downloadLink,
        uint256 relayerFee,
        uint256 signatureDeadline
    ) external view returns (bytes32);

    /// @notice The digest the owner signs for `declineFor`.
    function hashDecline(uint256 signatureDeadline) external view returns (bytes32);

    /// @notice The digest the owner signs for `claimFor`.
    function hashClaim(uint256 signatureDeadline) external view returns (bytes32);

    /// @notice The digest the owner signs for `withdrawFor`.
    function hashWithdraw(address to, uint256 relayerFee, uint256 signatureDeadline)
        external
        view
        returns (bytes32);

    /// @notice The relayer that fronted the deposit (zero if none) and what it is owed back out of
    ///         the owner's share if the owner wins (deposit + fee).
    function relay() external view returns (address relayer, uint256 due);

    /// @notice Shortest accepted kfrag (128 bytes).
    function KFRAG_MIN() external view returns (uint256);

    /// @notice Longest accepted kfrag (2048 bytes).
    function KFRAG_MAX() external view returns (uint256);

    /// @notice Longest accepted download link (1024 bytes).
    function LINK_MAX() external view returns (uint256);

    /// @notice Wei `account` can withdraw now: its share once final (0 after withdrawing it), plus
    ///         for the requester any surplus; for a relayer that fronted the deposit, what it is
    ///         owed back (the owner's share is reduced by as much).
    /// @param account Any address.
    function owed(address account) external view returns (uint256);

    /// @notice ETH the REQC holds beyond what it owes from what was paid in (forced in or sent to
    ///         its address before creation). Owned by the requester, withdrawable at any time.
    function surplus() external view returns (uint256);

    /// @notice What the REQC owes from what was paid in: reward (+ deposit, + bond) while
    ///         undecided, the unpaid shares once final. Its balance is `held() + surplus()`.
    function held() external view returns (uint256);

    /// @notice The request status.
    function status() external view returns (Status);

    /// @notice All fields at once.
    function info() external view returns (RequestInfo memory);

    /// @notice The Evidence Contract requested.
    function ec() external view returns (address);

    /// @notice The requester.
    function requester() external view returns (address);

    /// @notice The EC's owner (copied from the EC at creation).
    function owner() external view returns (address);

    /// @notice The reward in wei (the value sent at creation, a clone argument).
    function reward() external view returns (uint256);

    /// @notice The owner's deposit in wei (0 until Responded).
    function deposit() external view returns (uint256);

    /// @notice The requester's bond in the REQC (0 until Disputed, then `disputeBond()`).
    function bond() external view returns (uint256);

    /// @notice The response deadline (unix seconds).
    function respondBy() external view returns (uint64);

    /// @notice confirmBy while Responded (and after), resolveBy once Disputed; 0 before Responded.
    function deadline() external view returns (uint64);

    /// @notice The previous REQC for the same owner (0 for the first): the ResponseContract's
    ///         per-owner list is linked through this.
    function previousForOwner() external view returns (address);

    /// @notice The RequestFactory that made this REQC.
    function factory() external view returns (address);

    /// @notice The current verifier (the cloud), read from the EvidenceFactory.
    function verifier() external view returns (address);

    /// @notice Minimum owner deposit (wei).
    function minDeposit() external view returns (uint256);

    /// @notice The bond a requester pays to dispute (wei).
    function disputeBond() external view returns (uint256);

    /// @notice Seconds the requester has to confirm or dispute after the response.
    function confirmWindow() external view returns (uint64);

    /// @notice Seconds the verifier has to resolve a dispute.
    function resolveWindow() external view returns (uint64);
}
