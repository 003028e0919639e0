// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

import {IEvidenceFactory} from "./interfaces/IEvidenceFactory.sol";
import {EvidenceContract} from "./EvidenceContract.sol";
import {SearchContract} from "./SearchContract.sol";
import {CloneLib} from "./lib/CloneLib.sol";
import {EvidenceArgs} from "./lib/EvidenceArgs.sol";
import {isUmbralKey} from "./lib/Validation.sol";

/// @title EvidenceFactory: creates Evidence Contracts, directly or relayed with EIP-712
/// @notice See IEvidenceFactory. The constructor deploys the SearchContract and the EC
///         implementation.
contract EvidenceFactory is IEvidenceFactory {
    /// @inheritdoc IEvidenceFactory
    bytes32 public constant EVIDENCE_TYPEHASH = keccak256(
        "Evidence(bytes32 videoHash,bytes32 cipherHash,bytes32 frameHash,bytes32 framesRoot,bytes32 keyCommitment,uint64 recordedAt,int32 latitude,int32 longitude,bytes capsule,bytes wrappedKey,bytes ownerUmbralKey)"
    );

    /// @inheritdoc IEvidenceFactory
    bytes32 public constant CREATE_EVIDENCE_TYPEHASH = keccak256(
        "CreateEvidence(address owner,Evidence evidence,uint256 deadline)Evidence(bytes32 videoHash,bytes32 cipherHash,bytes32 frameHash,bytes32 framesRoot,bytes32 keyCommitment,uint64 recordedAt,int32 latitude,int32 longitude,bytes capsule,bytes wrappedKey,bytes ownerUmbralKey)"
    );

    bytes32 private constant DOMAIN_TYPEHASH = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    );
    bytes32 private constant NAME_HASH = keccak256("dashledger");
    bytes32 private constant VERSION_HASH = keccak256("1");
    /// @dev secp256k1 order / 2: larger s values are the malleable twin of a valid signature.
    uint256 private constant HALF_ORDER =
        0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    /// @inheritdoc IEvidenceFactory
    uint256 public constant MAX_CLOCK_SKEW = 1 hours;
    /// @inheritdoc IEvidenceFactory
    uint256 public constant CAPSULE_MIN = 64;
    /// @inheritdoc IEvidenceFactory
    uint256 public constant CAPSULE_MAX = 1024;
    /// @inheritdoc IEvidenceFactory
    uint256 public constant WRAPPED_KEY_MIN = 32;
    /// @inheritdoc IEvidenceFactory
    uint256 public constant WRAPPED_KEY_MAX = 1024;

    /// @inheritdoc IEvidenceFactory
    uint64 public constant VERIFIER_TRANSFER_DELAY = 2 days;

    address private immutable IMPLEMENTATION;
    address private immutable SEARCH;
    uint256 private immutable CACHED_CHAIN_ID;
    bytes32 private immutable CACHED_DOMAIN_SEPARATOR;

    /// @dev The current verifier (the cloud). Every EC, the SearchContract, the RequestFactory and
    ///      every REQC read it from here, so a rotation applies everywhere at once.
    address private _verifier;
    /// @dev A proposed successor and the time from which it may accept (one slot).
    address private _pendingVerifier;
    uint64 private _pendingReadyAt;

    /// @param verifier_ The first verifier address (the cloud); non-zero.
    constructor(address verifier_) {
        if (verifier_ == address(0)) revert InvalidConfig("verifier");
        _verifier = verifier_;
        SEARCH = address(new SearchContract());
        IMPLEMENTATION = address(new EvidenceContract(SEARCH));
        CACHED_CHAIN_ID = block.chainid;
        CACHED_DOMAIN_SEPARATOR = _domainSeparator();
    }

    /// @inheritdoc IEvidenceFactory
    function proposeVerifier(address next) external {
        address current = _verifier;
        if (msg.sender != current) revert NotVerifier(msg.sender, current);
        if (next == address(0) || next == current) revert InvalidVerifier(next);
        uint64 readyAt = uint64(block.timestamp) + VERIFIER_TRANSFER_DELAY;
        _pendingVerifier = next;
        _pendingReadyAt = readyAt;
        emit VerifierTransferStarted(current, next, readyAt);
    }

    /// @inheritdoc IEvidenceFactory
    function cancelVerifierTransfer() external {
        address current = _verifier;
        if (msg.sender != current) revert NotVerifier(msg.sender, current);
        address pending = _pendingVerifier;
        if (pending == address(0)) revert NoPendingVerifier();
        delete _pendingVerifier;
        delete _pendingReadyAt;
        emit VerifierTransferCancelled(current, pending);
    }

    /// @inheritdoc IEvidenceFactory
    function acceptVerifier() external {
        address pending = _pendingVerifier;
        if (pending == address(0) || msg.sender != pending) {
            revert NotPendingVerifier(msg.sender, pending);
        }
        uint64 readyAt = _pendingReadyAt;
        if (block.timestamp < readyAt) revert VerifierTransferNotReady(readyAt, block.timestamp);
        address previous = _verifier;
        _verifier = pending;
        delete _pendingVerifier;
        delete _pendingReadyAt;
        emit VerifierTransferred(previous, pending);
    }

    /// @inheritdoc IEvidenceFactory
    function createEvidence(EvidenceParams calldata p) external returns (address ec) {
        _validate(p);
        ec = _create(p, msg.sender, _hashEvidence(p));
    }

    /// @inheritdoc IEvidenceFactory
    function createEvidenceFor(
        EvidenceParams calldata p,
        address owner,
        uint256 deadline,
        bytes calldata signature
    ) external returns (address ec) {
        if (block.timestamp > deadline) {
            revert SignatureExpired(deadline, block.timestamp);
        }
        _validate(p);
        bytes32 eh = _hashEvidence(p);
        _checkSignature(_digest(owner, eh, deadline), owner, signature);
        ec = _create(p, owner, eh);
    }

    /// @inheritdoc IEvidenceFactory
    function predictEvidence(EvidenceParams calldata p, address owner)
        external
        view
        returns (address)
    {
        return CloneLib.predict(address(this), IMPLEMENTATION, _args(p, owner, _hashEvidence(p)));
    }

    /// @inheritdoc IEvidenceFactory
    function isEvidence(address ec) external view returns (bool) {
        return CloneLib.isClone(address(this), ec, EvidenceArgs.CODE_LENGTH);
    }

    /// @inheritdoc IEvidenceFactory
    function hashEvidence(EvidenceParams calldata p) external pure returns (bytes32) {
        return _hashEvidence(p);
    }

    /// @inheritdoc IEvidenceFactory
    function hashCreateEvidence(EvidenceParams calldata p, address owner, uint256 deadline)
        external
        view
        returns (bytes32)
    {
        return _digest(owner, _hashEvidence(p), deadline);
    }

    /// @inheritdoc IEvidenceFactory
    // slither-disable-next-line naming-convention
    function DOMAIN_SEPARATOR() public view returns (bytes32) {
        return block.chainid == CACHED_CHAIN_ID ? CACHED_DOMAIN_SEPARATOR : _domainSeparator();
    }

    /// @inheritdoc IEvidenceFactory
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
        )
    {
        return (hex"0f", "dashledger", "1", block.chainid, address(this), bytes32(0), extensions);
    }

    /// @inheritdoc IEvidenceFactory
    function implementation() external view returns (address) {
        return IMPLEMENTATION;
    }

    /// @inheritdoc IEvidenceFactory
    function search() external view returns (address) {
        return SEARCH;
    }

    /// @inheritdoc IEvidenceFactory
    function verifier() external view returns (address) {
        return _verifier;
    }

    /// @inheritdoc IEvidenceFactory
    function pendingVerifier() external view returns (address next, uint64 readyAt) {
        return (_pendingVerifier, _pendingReadyAt);
    }

    function _create(EvidenceParams calldata p, address owner, bytes32 eh)
        private
        returns (address ec)
    {
        bytes memory args = _args(p, owner, eh);
        // Checked before CREATE2: a CREATE2 collision would burn all the gas the relayer sent.
        address predicted = CloneLib.predict(address(this), IMPLEMENTATION, args);
        if (predicted.code.length != 0) revert EvidenceExists(predicted);
        ec = CloneLib.deploy(IMPLEMENTATION, args, 0);
        // Unreachable short of running out of gas, which fails the whole call anyway.
        assert(ec == predicted);
        emit EvidenceCreated(ec, owner, p.videoHash, p);
    }

    function _args(EvidenceParams calldata p, address owner, bytes32 eh)
        private
        pure
        returns (bytes memory)
    {
        return EvidenceArgs.encode(eh, owner, p.recordedAt, p.latitude, p.longitude);
    }

    function _validate(EvidenceParams calldata p) private view {
        if (p.videoHash == 0) revert EmptyHash("videoHash");
        if (p.cipherHash == 0) revert EmptyHash("cipherHash");
        if (p.frameHash == 0) revert EmptyHash("frameHash");
        if (p.framesRoot == 0) revert EmptyHash("framesRoot");
        if (p.keyCommitment == 0) revert EmptyHash("keyCommitment");
        if (p.recordedAt == 0 || p.recordedAt > block.timestamp + MAX_CLOCK_SKEW) {
            revert InvalidRecordedAt(p.recordedAt, block.timestamp);
        }
        if (
            p.latitude < -90_000_000 || p.latitude > 90_000_000 || p.longitude < -180_000_000
                || p.longitude > 180_000_000
        ) revert InvalidCoordinates(p.latitude, p.longitude);
        uint256 n = p.capsule.length;
        if (n < CAPSULE_MIN || n > CAPSULE_MAX) {
            revert InvalidLength("capsule", n, CAPSULE_MIN, CAPSULE_MAX);
        }
        n = p.wrappedKey.length;
        if (n < WRAPPED_KEY_MIN || n > WRAPPED_KEY_MAX) {
            revert InvalidLength("wrappedKey", n, WRAPPED_KEY_MIN, WRAPPED_KEY_MAX);
        }
        (bool ok, uint8 prefix) = isUmbralKey(p.ownerUmbralKey);
        if (!ok) revert InvalidUmbralKey(p.ownerUmbralKey.length, prefix);
    }

    function _hashEvidence(EvidenceParams calldata p) private pure returns (bytes32) {
        // Two static halves of abi.encode(...) concatenated equal abi.encode of all members.
        return keccak256(
            bytes.concat(
                abi.encode(
                    EVIDENCE_TYPEHASH,
                    p.videoHash,
                    p.cipherHash,
                    p.frameHash,
                    p.framesRoot,
                    p.keyCommitment
                ),
                abi.encode(
                    p.recordedAt,
                    p.latitude,
                    p.longitude,
                    keccak256(p.capsule),
                    keccak256(p.wrappedKey),
                    keccak256(p.ownerUmbralKey)
                )
            )
        );
    }

    function _digest(address owner, bytes32 eh, uint256 deadline) private view returns (bytes32) {
        bytes32 structHash = keccak256(abi.encode(CREATE_EVIDENCE_TYPEHASH, owner, eh, deadline));
        return keccak256(abi.encodePacked(hex"1901", DOMAIN_SEPARATOR(), structHash));
    }

    function _domainSeparator() private view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this))
        );
    }

    function _checkSignature(bytes32 digest, address owner, bytes calldata signature) private pure {
        if (signature.length != 65) revert InvalidSignatureLength(signature.length);
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (uint256(s) > HALF_ORDER || (v != 27 && v != 28)) revert MalformedSignature(s, v);
        address recovered = ecrecover(digest, v, r, s);
        if (recovered == address(0)) revert InvalidSignature(digest);
        if (recovered != owner) revert SignerMismatch(recovered, owner);
    }
}
