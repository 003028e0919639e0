// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

/// @title IEvidenceFactory: creates Evidence Contracts (EIP-1167 clones)
/// @notice The owner of an EC is either the caller (`createEvidence`) or the signer of an EIP-712
///         `CreateEvidence` message submitted by a relayer (`createEvidenceFor`). Clones are made
///         with CREATE2 (salt 0) from init code that holds the owner, recordedAt, latitude,
///         longitude and the evidence hash, so the same evidence cannot be created twice by the same
///         owner: a replayed signature reverts with `EvidenceExists`. There are no nonces.
///
///         EIP-712 domain: name "dashledger", version "1", chainId, verifyingContract = this factory.
///         Types (encodeType of the signed message):
///         CreateEvidence(address owner,Evidence evidence,uint256 deadline)Evidence(bytes32 videoHash,bytes32 cipherHash,bytes32 frameHash,bytes32 framesRoot,bytes32 keyCommitment,uint64 recordedAt,int32 latitude,int32 longitude,bytes capsule,bytes wrappedKey,bytes ownerUmbralKey)
///         `bytes` members are hashed with keccak256 as EIP-712 requires.
interface IEvidenceFactory {
    /// @notice The fields of one piece of evidence, fixed at creation.
    /// @param videoHash Keccak-256 of the plaintext segment file.
    /// @param cipherHash Keccak-256 of the sealed (encrypted) file.
    /// @param frameHash Keccak-256 of the front-frame thumbnail.
    /// @param framesRoot Merkle root of the per-second frame hashes.
    /// @param keyCommitment Keccak-256 of the session key.
    /// @param recordedAt Segment start, unix seconds (non-zero, at most 1 hour ahead of the block).
    /// @param latitude 1e-6 degrees, -90e6..=90e6.
    /// @param longitude 1e-6 degrees, -180e6..=180e6.
    /// @param capsule Umbral capsule of the wrapped session key (64..=1024 bytes).
    /// @param wrappedKey Session key encrypted to the owner's Umbral key (32..=1024 bytes).
    /// @param ownerUmbralKey Owner's Umbral public key, compressed SEC1: 33 bytes, 0x02/0x03 prefix.
    struct EvidenceParams {
        bytes32 videoHash;
        bytes32 cipherHash;
        bytes32 frameHash;
        bytes32 framesRoot;
        bytes32 keyCommitment;
        uint64 recordedAt;
        int32 latitude;
        int32 longitude;
        bytes capsule;
        bytes wrappedKey;
        bytes ownerUmbralKey;
    }

    /// @notice An EC was created; together with the EC's views this holds every evidence field.
    /// @param ec The new Evidence Contract.
    /// @param owner Its owner.
    /// @param videoHash Keccak-256 of the plaintext segment (indexed for look-ups by video).
    /// @param params All fields as given at creation.
    event EvidenceCreated(
        address indexed ec, address indexed owner, bytes32 indexed videoHash, EvidenceParams params
    );

    /// @notice The verifier proposed a successor, who may accept from `readyAt` on.
    /// @param current The verifier now.
    /// @param next The proposed successor.
    /// @param readyAt From this time (unix seconds) `next` may call `acceptVerifier`.
    event VerifierTransferStarted(address indexed current, address indexed next, uint64 readyAt);

    /// @notice The verifier withdrew its proposal.
    /// @param current The verifier.
    /// @param cancelled The successor that was proposed.
    event VerifierTransferCancelled(address indexed current, address indexed cancelled);

    /// @notice The proposed successor accepted and is now the verifier everywhere.
    /// @param previous The former verifier.
    /// @param current The new verifier.
    event VerifierTransferred(address indexed previous, address indexed current);

    /// @notice Only the current verifier may do this.
    /// @param caller The caller.
    /// @param verifier The current verifier.
    error NotVerifier(address caller, address verifier);

    /// @notice The proposed successor is zero or already the verifier.
    /// @param next The address given.
    error InvalidVerifier(address next);

    /// @notice There is no proposed successor to cancel.
    error NoPendingVerifier();

    /// @notice Only the proposed successor may accept.
    /// @param caller The caller.
    /// @param pending The proposed successor (zero if none).
    error NotPendingVerifier(address caller, address pending);

    /// @notice The transfer delay has not passed yet.
    /// @param readyAt From when the successor may accept.
    /// @param timestamp The current block timestamp.
    error VerifierTransferNotReady(uint64 readyAt, uint256 timestamp);

    /// @notice An EC with the same owner and fields already exists (replayed creation).
    /// @param ec The existing EC.
    error EvidenceExists(address ec);

    /// @notice The relayed signature's deadline has passed.
    /// @param deadline The signed deadline (unix seconds).
    /// @param timestamp The current block timestamp.
    error SignatureExpired(uint256 deadline, uint256 timestamp);

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

    /// @notice The signature recovers to another address than `owner` (altered message or key).
    /// @param recovered The recovered signer.
    /// @param owner The claimed owner.
    error SignerMismatch(address recovered, address owner);

    /// @notice A required hash field is zero.
    /// @param field The field's name.
    error EmptyHash(string field);

    /// @notice recordedAt is zero or more than one hour ahead of the block timestamp.
    /// @param recordedAt The given value.
    /// @param timestamp The current block timestamp.
    error InvalidRecordedAt(uint64 recordedAt, uint256 timestamp);

    /// @notice Latitude or longitude out of range.
    /// @param latitude The given latitude (1e-6 degrees).
    /// @param longitude The given longitude (1e-6 degrees).
    error InvalidCoordinates(int32 latitude, int32 longitude);

    /// @notice A byte field has a length outside its allowed range.
    /// @param field The field's name.
    /// @param length The given length.
    /// @param min The minimum length.
    /// @param max The maximum length.
    error InvalidLength(string field, uint256 length, uint256 min, uint256 max);

    /// @notice The Umbral public key is not a 33-byte compressed point (prefix 0x02 or 0x03).
    /// @param length The given length.
    /// @param prefix The first byte (0 if empty).
    error InvalidUmbralKey(uint256 length, uint8 prefix);

    /// @notice A constructor argument is invalid.
    /// @param name The argument's name.
    error InvalidConfig(string name);

    /// @notice Creates an EC owned by the caller.
    /// @param p The evidence fields.
    /// @return ec The new Evidence Contract.
    function createEvidence(EvidenceParams calldata p) external returns (address ec);

    /// @notice Creates an EC owned by `owner`, who signed an EIP-712 `CreateEvidence` message; any
    ///         relayer may submit it and pay the gas.
    /// @param p The evidence fields.
    /// @param owner The signer and future owner.
    /// @param deadline Unix seconds after which the signature is no longer accepted.
    /// @param signature 65 bytes r, s, v (v = 27 or 28, low s).
    /// @return ec The new Evidence Contract.
    function createEvidenceFor(
        EvidenceParams calldata p,
        address owner,
        uint256 deadline,
        bytes calldata signature
    ) external returns (address ec);

    /// @notice The address the EC for these fields and owner has (or will have).
    /// @param p The evidence fields.
    /// @param owner The owner.
    function predictEvidence(EvidenceParams calldata p, address owner)
        external
        view
        returns (address);

    /// @notice Whether `ec` is an EC made by this factory (checked from its code and address).
    /// @param ec Any address.
    function isEvidence(address ec) external view returns (bool);

    /// @notice EIP-712 struct hash of the `Evidence` type for these fields (the EC's `evidenceHash`).
    /// @param p The evidence fields.
    function hashEvidence(EvidenceParams calldata p) external pure returns (bytes32);

    /// @notice EIP-712 digest an owner signs for `createEvidenceFor`.
    /// @param p The evidence fields.
    /// @param owner The signer and future owner.
    /// @param deadline Unix seconds after which the signature is no longer accepted.
    function hashCreateEvidence(EvidenceParams calldata p, address owner, uint256 deadline)
        external
        view
        returns (bytes32);

    /// @notice EIP-712 domain separator (recomputed if the chain id changes).
    function DOMAIN_SEPARATOR() external view returns (bytes32);

    /// @notice keccak256 of the `Evidence(...)` type string.
    function EVIDENCE_TYPEHASH() external view returns (bytes32);

    /// @notice keccak256 of the `CreateEvidence(...)Evidence(...)` type string.
    function CREATE_EVIDENCE_TYPEHASH() external view returns (bytes32);

    /// @notice How far ahead of the block timestamp recordedAt may be (dashcam clock skew), 3600 s.
    function MAX_CLOCK_SKEW() external view returns (uint256);

    /// @notice Shortest accepted Umbral capsule (64 bytes).
    function CAPSULE_MIN() external view returns (uint256);

    /// @notice Longest accepted Umbral capsule (1024 bytes).
    function CAPSULE_MAX() external view returns (uint256);

    /// @notice Shortest accepted wrapped session key (32 bytes).
    function WRAPPED_KEY_MIN() external view returns (uint256);

    /// @notice Longest accepted wrapped session key (1024 bytes).
    function WRAPPED_KEY_MAX() external view returns (uint256);

    /// @notice EIP-5267 description of the EIP-712 domain.
    function eip712Domain()
        external
        view
        returns (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        );

    /// @notice The EC implementation the clones delegate to.
    function implementation() external view returns (address);

    /// @notice The SearchContract this factory deployed.
    function search() external view returns (address);

    /// @notice The current verifier (the cloud): verifies or rejects ECs and resolves request
    ///         disputes. Every EC, the SearchContract, the RequestFactory and every REQC read it
    ///         from here. Its powers are listed in docs/contracts.md ("The verifier").
    function verifier() external view returns (address);

    /// @notice The proposed successor of the verifier and from when it may accept (zeros if none).
    function pendingVerifier() external view returns (address next, uint64 readyAt);

    /// @notice Delay between `proposeVerifier` and the earliest `acceptVerifier` (2 days), so that
    ///         parties to open requests see a rotation coming.
    function VERIFIER_TRANSFER_DELAY() external view returns (uint64);

    /// @notice Verifier: propose `next` as successor (step one of two). Replaces an earlier
    ///         proposal and restarts the delay. Emits `VerifierTransferStarted`.
    /// @param next The successor; non-zero and not the current verifier.
    function proposeVerifier(address next) external;

    /// @notice Verifier: withdraw the proposal. Emits `VerifierTransferCancelled`.
    function cancelVerifierTransfer() external;

    /// @notice Proposed successor: become the verifier (step two), no earlier than
    ///         `VERIFIER_TRANSFER_DELAY` after the proposal. Emits `VerifierTransferred`.
    function acceptVerifier() external;
}
