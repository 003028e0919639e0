// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

import {Base} from "./utils/Base.sol";
import {vm, Vm} from "./utils/Vm.sol";
import {IEvidenceFactory} from "../src/interfaces/IEvidenceFactory.sol";
import {IEvidenceContract} from "../src/interfaces/IEvidenceContract.sol";
import {EvidenceFactory} from "../src/EvidenceFactory.sol";

contract EvidenceFactoryTest is Base {
    string internal constant EVIDENCE_TYPE =
        "Evidence(bytes32 videoHash,bytes32 cipherHash,bytes32 frameHash,bytes32 framesRoot,bytes32 keyCommitment,uint64 recordedAt,int32 latitude,int32 longitude,bytes capsule,bytes wrappedKey,bytes ownerUmbralKey)";
    uint256 internal constant HALF_ORDER =
        0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;
    uint256 internal constant ORDER =
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    // ---------------------------------------------------------------- direct creation

    function test_createEvidence_ownerIsCaller() public {
        IEvidenceFactory.EvidenceParams memory p = params(1);
        address predicted = ef.predictEvidence(p, owner);
        vm.prank(owner);
        address ec = ef.createEvidence(p);
        vm.assertEq(ec, predicted, "predicted address");
        IEvidenceContract e = IEvidenceContract(ec);
        vm.assertEq(e.owner(), owner, "owner");
        vm.assertEq(uint256(e.recordedAt()), uint256(p.recordedAt), "recordedAt");
        vm.assertEq(int256(e.latitude()), int256(p.latitude), "latitude");
        vm.assertEq(int256(e.longitude()), int256(p.longitude), "longitude");
        vm.assertEq(e.evidenceHash(), ef.hashEvidence(p), "evidenceHash");
        vm.assertEq(uint256(e.status()), uint256(IEvidenceContract.Status.Pending), "status");
        vm.assertEq(e.factory(), address(ef), "factory");
        vm.assertEq(e.verifier(), verifier, "verifier");
        vm.assertTrue(ef.isEvidence(ec), "isEvidence");
        vm.assertEq(ec.code.length, 45 + 68, "clone code length");
    }

    function test_createEvidence_emitsEveryField() public {
        IEvidenceFactory.EvidenceParams memory p = params(2);
        vm.recordLogs();
        vm.prank(owner);
        address ec = ef.createEvidence(p);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        vm.assertEq(logs.length, 1, "one log");
        vm.assertEq(logs[0].emitter, address(ef), "emitter");
        vm.assertEq(logs[0].topics[0], IEvidenceFactory.EvidenceCreated.selector, "topic0");
        vm.assertEq(logs[0].topics[1], bytes32(uint256(uint160(ec))), "topic ec");
        vm.assertEq(logs[0].topics[2], bytes32(uint256(uint160(owner))), "topic owner");
        vm.assertEq(logs[0].topics[3], p.videoHash, "topic videoHash");
        IEvidenceFactory.EvidenceParams memory q =
            abi.decode(logs[0].data, (IEvidenceFactory.EvidenceParams));
        vm.assertEq(abi.encode(q), abi.encode(p), "all fields in the event");
        vm.assertEq(ef.hashEvidence(q), IEvidenceContract(ec).evidenceHash(), "commitment");
    }

    function test_createEvidence_revertsIfSameEvidenceTwice() public {
        IEvidenceFactory.EvidenceParams memory p = params(3);
        vm.prank(owner);
        address ec = ef.createEvidence(p);
        vm.expectRevert(abi.encodeWithSelector(IEvidenceFactory.EvidenceExists.selector, ec));
        vm.prank(owner);
        ef.createEvidence(p);
    }

    function test_createEvidence_sameEvidenceDifferentOwners() public {
        IEvidenceFactory.EvidenceParams memory p = params(4);
        vm.prank(owner);
        address a = ef.createEvidence(p);
        vm.prank(stranger);
        address b = ef.createEvidence(p);
        vm.assertNotEq(a, b, "different ECs");
    }

    function test_createEvidence_revertsIfVideoHashZero() public {
        IEvidenceFactory.EvidenceParams memory p = params(5);
        p.videoHash = 0;
        _expectCreateRevert(
            p, abi.encodeWithSelector(IEvidenceFactory.EmptyHash.selector, "videoHash")
        );
    }

    function test_createEvidence_revertsIfCipherHashZero() public {
        IEvidenceFactory.EvidenceParams memory p = params(5);
        p.cipherHash = 0;
        _expectCreateRevert(
            p, abi.encodeWithSelector(IEvidenceFactory.EmptyHash.selector, "cipherHash")
        );
    }

    function test_createEvidence_revertsIfFrameHashZero() public {
        IEvidenceFactory.EvidenceParams memory p = params(5);
        p.frameHash = 0;
        _expectCreateRevert(
            p, abi.encodeWithSelector(IEvidenceFactory.EmptyHash.selector, "frameHash")
        );
    }

    function test_createEvidence_revertsIfFramesRootZero() public {
        IEvidenceFactory.EvidenceParams memory p = params(5);
        p.framesRoot = 0;
        _expectCreateRevert(
            p, abi.encodeWithSelector(IEvidenceFactory.EmptyHash.selector, "framesRoot")
        );
    }

    function test_createEvidence_revertsIfKeyCommitmentZero() public {
        IEvidenceFactory.EvidenceParams memory p = params(5);
        p.keyCommitment = 0;
        _expectCreateRevert(
            p, abi.encodeWithSelector(IEvidenceFactory.EmptyHash.selector, "keyCommitment")
        );
    }

    function test_createEvidence_revertsIfRecordedAtZero() public {
        IEvidenceFactory.EvidenceParams memory p = params(6);
        p.recordedAt = 0;
        _expectCreateRevert(
            p, abi.encodeWithSelector(IEvidenceFactory.InvalidRecordedAt.selector, 0, T0)
        );
    }

    function test_createEvidence_revertsIfRecordedAtInFuture() public {
        IEvidenceFactory.EvidenceParams memory p = params(6);
        p.recordedAt = uint64(T0 + 1 hours + 1);
        _expectCreateRevert(
            p, abi.encodeWithSelector(IEvidenceFactory.InvalidRecordedAt.selector, p.recordedAt, T0)
        );
        p.recordedAt = uint64(T0 + 1 hours); // clock skew up to one hour is accepted
        vm.prank(owner);
        ef.createEvidence(p);
    }

    function test_createEvidence_revertsIfLatitudeOutOfRange() public {
        IEvidenceFactory.EvidenceParams memory p = params(7);
        p.latitude = 90_000_001;
        _expectCreateRevert(
            p,
            abi.encodeWithSelector(
                IEvidenceFactory.InvalidCoordinates.selector, p.latitude, p.longitude
            )
        );
        p.latitude = -90_000_001;
        _expectCreateRevert(
            p,
            abi.encodeWithSelector(
                IEvidenceFactory.InvalidCoordinates.selector, p.latitude, p.longitude
            )
        );
    }

    function test_createEvidence_revertsIfLongitudeOutOfRange() public {
        IEvidenceFactory.EvidenceParams memory p = params(7);
        p.longitude = 180_000_001;
        _expectCreateRevert(
            p,
            abi.encodeWithSelector(
                IEvidenceFactory.InvalidCoordinates.selector, p.latitude, p.longitude
            )
        );
        p.longitude = -180_000_001;
        _expectCreateRevert(
            p,
            abi.encodeWithSelector(
                IEvidenceFactory.InvalidCoordinates.selector, p.latitude, p.longitude
            )
        );
    }

    function test_createEvidence_acceptsExtremeCoordinates() public {
        IEvidenceFactory.EvidenceParams memory p = params(8);
        p.latitude = -90_000_000;
        p.longitude = 180_000_000;
        vm.prank(owner);
        address ec = ef.createEvidence(p);
        vm.assertEq(int256(IEvidenceContract(ec).latitude()), -90_000_000, "latitude");
        vm.assertEq(int256(IEvidenceContract(ec).longitude()), 180_000_000, "longitude");
    }

    function test_createEvidence_revertsIfCapsuleTooShort() public {
        IEvidenceFactory.EvidenceParams memory p = params(9);
        p.capsule = blob("c", 63);
        _expectCreateRevert(
            p,
            abi.encodeWithSelector(IEvidenceFactory.InvalidLength.selector, "capsule", 63, 64, 1024)
        );
    }

    function test_createEvidence_revertsIfCapsuleTooLong() public {
        IEvidenceFactory.EvidenceParams memory p = params(9);
        p.capsule = blob("c", 1025);
        _expectCreateRevert(
            p,
            abi.encodeWithSelector(
                IEvidenceFactory.InvalidLength.selector, "capsule", 1025, 64, 1024
            )
        );
    }

    function test_createEvidence_revertsIfWrappedKeyTooShort() public {
        IEvidenceFactory.EvidenceParams memory p = params(9);
        p.wrappedKey = blob("w", 31);
        _expectCreateRevert(
            p,
            abi.encodeWithSelector(
                IEvidenceFactory.InvalidLength.selector, "wrappedKey", 31, 32, 1024
            )
        );
    }

    function test_createEvidence_revertsIfWrappedKeyTooLong() public {
        IEvidenceFactory.EvidenceParams memory p = params(9);
        p.wrappedKey = blob("w", 1025);
        _expectCreateRevert(
            p,
            abi.encodeWithSelector(
                IEvidenceFactory.InvalidLength.selector, "wrappedKey", 1025, 32, 1024
            )
        );
    }

    function test_createEvidence_revertsIfUmbralKeyShort() public {
        IEvidenceFactory.EvidenceParams memory p = params(10);
        p.ownerUmbralKey = abi.encodePacked(bytes1(0x03), bytes31(keccak256("k")));
        _expectCreateRevert(
            p, abi.encodeWithSelector(IEvidenceFactory.InvalidUmbralKey.selector, 32, 3)
        );
    }

    function test_createEvidence_revertsIfUmbralKeyEmpty() public {
        IEvidenceFactory.EvidenceParams memory p = params(10);
        p.ownerUmbralKey = "";
        _expectCreateRevert(
            p, abi.encodeWithSelector(IEvidenceFactory.InvalidUmbralKey.selector, 0, 0)
        );
    }

    function test_createEvidence_revertsIfUmbralKeyBadPrefix() public {
        IEvidenceFactory.EvidenceParams memory p = params(10);
        p.ownerUmbralKey = abi.encodePacked(bytes1(0x04), keccak256("k"));
        _expectCreateRevert(
            p, abi.encodeWithSelector(IEvidenceFactory.InvalidUmbralKey.selector, 33, 4)
        );
    }

    // ---------------------------------------------------------------- relayed creation

    function test_createEvidenceFor_ownerIsSigner() public {
        IEvidenceFactory.EvidenceParams memory p = params(20);
        uint256 deadline = T0 + 1 hours;
        bytes memory sig = signCreate(OWNER_KEY, p, owner, deadline);
        vm.prank(relayer);
        address ec = ef.createEvidenceFor(p, owner, deadline, sig);
        vm.assertEq(IEvidenceContract(ec).owner(), owner, "signer owns the EC");
        vm.assertEq(ec, ef.predictEvidence(p, owner), "same address as direct creation");
    }

    function test_createEvidenceFor_revertsIfReplayed() public {
        IEvidenceFactory.EvidenceParams memory p = params(21);
        uint256 deadline = T0 + 1 hours;
        bytes memory sig = signCreate(OWNER_KEY, p, owner, deadline);
        vm.prank(relayer);
        address ec = ef.createEvidenceFor(p, owner, deadline, sig);
        vm.expectRevert(abi.encodeWithSelector(IEvidenceFactory.EvidenceExists.selector, ec));
        vm.prank(stranger);
        ef.createEvidenceFor(p, owner, deadline, sig);
    }

    function test_createEvidenceFor_revertsIfReplayedOnAnotherFactory() public {
        IEvidenceFactory.EvidenceParams memory p = params(22);
        uint256 deadline = T0 + 1 hours;
        bytes memory sig = signCreate(OWNER_KEY, p, owner, deadline);
        EvidenceFactory other = new EvidenceFactory(verifier);
        vm.expectPartialRevert(IEvidenceFactory.SignerMismatch.selector);
        other.createEvidenceFor(p, owner, deadline, sig);
    }

    function test_createEvidenceFor_revertsIfFieldAltered() public {
        IEvidenceFactory.EvidenceParams memory p = params(23);
        uint256 deadline = T0 + 1 hours;
        bytes memory sig = signCreate(OWNER_KEY, p, owner, deadline);
        p.latitude += 1;
        vm.expectPartialRevert(IEvidenceFactory.SignerMismatch.selector);
        ef.createEvidenceFor(p, owner, deadline, sig);
    }

    function test_createEvidenceFor_revertsIfBytesFieldAltered() public {
        IEvidenceFactory.EvidenceParams memory p = params(24);
        uint256 deadline = T0 + 1 hours;
        bytes memory sig = signCreate(OWNER_KEY, p, owner, deadline);
        p.capsule[0] = bytes1(uint8(p.capsule[0]) ^ 1);
        vm.expectPartialRevert(IEvidenceFactory.SignerMismatch.selector);
        ef.createEvidenceFor(p, owner, deadline, sig);
    }

    function test_createEvidenceFor_revertsIfDeadlineAltered() public {
        IEvidenceFactory.EvidenceParams memory p = params(25);
        uint256 deadline = T0 + 1 hours;
        bytes memory sig = signCreate(OWNER_KEY, p, owner, deadline);
        vm.expectPartialRevert(IEvidenceFactory.SignerMismatch.selector);
        ef.createEvidenceFor(p, owner, deadline + 1, sig);
    }

    function test_createEvidenceFor_revertsIfOwnerNotSigner() public {
        IEvidenceFactory.EvidenceParams memory p = params(26);
        uint256 deadline = T0 + 1 hours;
        bytes memory sig = signCreate(STRANGER_KEY, p, owner, deadline);
        vm.expectRevert(
            abi.encodeWithSelector(IEvidenceFactory.SignerMismatch.selector, stranger, owner)
        );
        ef.createEvidenceFor(p, owner, deadline, sig);
    }

    function test_createEvidenceFor_revertsIfExpired() public {
        IEvidenceFactory.EvidenceParams memory p = params(27);
        uint256 deadline = T0 + 10;
        bytes memory sig = signCreate(OWNER_KEY, p, owner, deadline);
        vm.warp(T0 + 11);
        vm.expectRevert(
            abi.encodeWithSelector(IEvidenceFactory.SignatureExpired.selector, deadline, T0 + 11)
        );
        ef.createEvidenceFor(p, owner, deadline, sig);
    }

    function test_createEvidenceFor_acceptsAtDeadline() public {
        IEvidenceFactory.EvidenceParams memory p = params(28);
        uint256 deadline = T0 + 10;
        bytes memory sig = signCreate(OWNER_KEY, p, owner, deadline);
        vm.warp(deadline);
        ef.createEvidenceFor(p, owner, deadline, sig);
    }

    function test_createEvidenceFor_revertsIfSignatureLengthWrong() public {
        IEvidenceFactory.EvidenceParams memory p = params(29);
        bytes memory sig = signCreate(OWNER_KEY, p, owner, T0);
        bytes memory short = new bytes(64);
        for (uint256 i = 0; i < 64; ++i) {
            short[i] = sig[i];
        }
        vm.expectRevert(
            abi.encodeWithSelector(IEvidenceFactory.InvalidSignatureLength.selector, 64)
        );
        ef.createEvidenceFor(p, owner, T0, short);
    }

    function test_createEvidenceFor_revertsIfHighS() public {
        IEvidenceFactory.EvidenceParams memory p = params(30);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(OWNER_KEY, ef.hashCreateEvidence(p, owner, T0));
        // The malleable twin (r, n - s, v ^ 1) recovers the same key; it must be refused.
        bytes32 highS = bytes32(ORDER - uint256(s));
        uint8 flipped = v == 27 ? 28 : 27;
        vm.expectRevert(
            abi.encodeWithSelector(IEvidenceFactory.MalformedSignature.selector, highS, flipped)
        );
        ef.createEvidenceFor(p, owner, T0, abi.encodePacked(r, highS, flipped));
    }

    function test_createEvidenceFor_revertsIfBadV() public {
        IEvidenceFactory.EvidenceParams memory p = params(31);
        (, bytes32 r, bytes32 s) = vm.sign(OWNER_KEY, ef.hashCreateEvidence(p, owner, T0));
        vm.expectRevert(abi.encodeWithSelector(IEvidenceFactory.MalformedSignature.selector, s, 1));
        ef.createEvidenceFor(p, owner, T0, abi.encodePacked(r, s, uint8(1)));
    }

    function test_createEvidenceFor_revertsIfUnrecoverable() public {
        IEvidenceFactory.EvidenceParams memory p = params(32);
        bytes32 digest = ef.hashCreateEvidence(p, owner, T0);
        // r = 0 is not a valid curve point x: ecrecover returns address(0).
        vm.expectRevert(abi.encodeWithSelector(IEvidenceFactory.InvalidSignature.selector, digest));
        ef.createEvidenceFor(
            p, owner, T0, abi.encodePacked(bytes32(0), bytes32(uint256(1)), uint8(27))
        );
    }

    function test_createEvidenceFor_revertsIfOwnerZero() public {
        IEvidenceFactory.EvidenceParams memory p = params(33);
        bytes32 digest = ef.hashCreateEvidence(p, address(0), T0);
        vm.expectRevert(abi.encodeWithSelector(IEvidenceFactory.InvalidSignature.selector, digest));
        ef.createEvidenceFor(
            p, address(0), T0, abi.encodePacked(bytes32(0), bytes32(uint256(1)), uint8(27))
        );
    }

    function test_createEvidenceFor_validatesFields() public {
        IEvidenceFactory.EvidenceParams memory p = params(34);
        p.videoHash = 0;
        bytes memory sig = signCreate(OWNER_KEY, p, owner, T0);
        vm.expectRevert(abi.encodeWithSelector(IEvidenceFactory.EmptyHash.selector, "videoHash"));
        ef.createEvidenceFor(p, owner, T0, sig);
    }

    function test_directCreation_revertsAfterRelayedCreation() public {
        IEvidenceFactory.EvidenceParams memory p = params(35);
        bytes memory sig = signCreate(OWNER_KEY, p, owner, T0);
        address ec = ef.createEvidenceFor(p, owner, T0, sig);
        vm.expectRevert(abi.encodeWithSelector(IEvidenceFactory.EvidenceExists.selector, ec));
        vm.prank(owner);
        ef.createEvidence(p);
    }

    // ---------------------------------------------------------------- EIP-712 byte identity

    function test_typehashes_matchDocumentedTypeStrings() public view {
        vm.assertEq(ef.EVIDENCE_TYPEHASH(), keccak256(bytes(EVIDENCE_TYPE)), "Evidence");
        vm.assertEq(
            ef.CREATE_EVIDENCE_TYPEHASH(),
            keccak256(
                abi.encodePacked(
                    "CreateEvidence(address owner,Evidence evidence,uint256 deadline)",
                    EVIDENCE_TYPE
                )
            ),
            "CreateEvidence"
        );
    }

    function test_domainSeparator_isStandard() public view {
        bytes32 expected = keccak256(
            abi.encode(
                keccak256(
                    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
                ),
                keccak256("dashledger"),
                keccak256("1"),
                block.chainid,
                address(ef)
            )
        );
        vm.assertEq(ef.DOMAIN_SEPARATOR(), expected, "domain separator");
        (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        ) = ef.eip712Domain();
        vm.assertEq(uint256(uint8(fields)), 0x0f, "fields");
        vm.assertEq(name, "dashledger", "name");
        vm.assertEq(version, "1", "version");
        vm.assertEq(chainId, block.chainid, "chainId");
        vm.assertEq(verifyingContract, address(ef), "verifyingContract");
        vm.assertEq(salt, bytes32(0), "salt");
        vm.assertEq(extensions.length, 0, "extensions");
    }

    function test_domainSeparator_followsChainId() public {
        bytes32 before = ef.DOMAIN_SEPARATOR();
        vm.chainId(999);
        vm.assertTrue(ef.DOMAIN_SEPARATOR() != before, "recomputed on a fork");
    }

    function test_hashCreateEvidence_matchesIndependentEncoding() public view {
        IEvidenceFactory.EvidenceParams memory p = params(40);
        bytes32 evidence = keccak256(
            bytes.concat(
                abi.encode(
                    keccak256(bytes(EVIDENCE_TYPE)),
                    p.videoHash,
                    p.cipherHash,
                    p.frameHash,
                    p.framesRoot,
                    p.keyCommitment
                ),
                abi.encode(
                    uint256(p.recordedAt),
                    int256(p.latitude),
                    int256(p.longitude),
                    keccak256(p.capsule),
                    keccak256(p.wrappedKey),
                    keccak256(p.ownerUmbralKey)
                )
            )
        );
        vm.assertEq(ef.hashEvidence(p), evidence, "hashStruct(Evidence)");
        bytes32 structHash =
            keccak256(abi.encode(ef.CREATE_EVIDENCE_TYPEHASH(), owner, evidence, uint256(T0 + 5)));
        vm.assertEq(
            ef.hashCreateEvidence(p, owner, T0 + 5),
            keccak256(abi.encodePacked(hex"1901", ef.DOMAIN_SEPARATOR(), structHash)),
            "digest"
        );
    }

    /// @dev Pinned vector for the Rust side (dashledger-protocol): fixed fields, fixed factory
    ///      address and chain id give this digest. If it changes, the EIP-712 encoding changed.
    function vectorParams() internal pure returns (IEvidenceFactory.EvidenceParams memory p) {
        p.videoHash = bytes32(uint256(1));
        p.cipherHash = bytes32(uint256(2));
        p.frameHash = bytes32(uint256(3));
        p.framesRoot = bytes32(uint256(4));
        p.keyCommitment = bytes32(uint256(5));
        p.recordedAt = 1_700_000_000;
        p.latitude = -33_868_820;
        p.longitude = 151_209_296;
        p.capsule = hex"01";
        p.wrappedKey = hex"02";
        p.ownerUmbralKey = hex"03";
    }

    function test_hashEvidence_knownVector() public view {
        IEvidenceFactory.EvidenceParams memory p = vectorParams();
        bytes32 expected = keccak256(
            abi.encode(
                keccak256(bytes(EVIDENCE_TYPE)),
                bytes32(uint256(1)),
                bytes32(uint256(2)),
                bytes32(uint256(3)),
                bytes32(uint256(4)),
                bytes32(uint256(5)),
                uint256(1_700_000_000),
                int256(-33_868_820),
                int256(151_209_296),
                keccak256(hex"01"),
                keccak256(hex"02"),
                keccak256(hex"03")
            )
        );
        vm.assertEq(ef.hashEvidence(p), expected, "vector");
    }

    /// @dev Literal EIP-712 vector for the Rust side (dashledger-protocol) and docs/contracts.md:
    ///      the factory as `scripts/devnet` deploys it (anvil account 0's first transaction gives
    ///      0x5FbDB2315678afecb367f032d93F642f64180aa3 on chain 31337).
    function test_eip712_devnetVector() public {
        vm.chainId(31337);
        vm.prank(0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266);
        EvidenceFactory devnet = new EvidenceFactory(verifier);
        vm.assertEq(address(devnet), 0x5FbDB2315678afecb367f032d93F642f64180aa3, "devnet address");
        IEvidenceFactory.EvidenceParams memory p = vectorParams();
        address vectorOwner = 0x000000000000000000000000000000000000dEaD;
        // Computed independently with `cast keccak` / `cast abi-encode` (docs/contracts.md).
        vm.assertEq(
            devnet.EVIDENCE_TYPEHASH(),
            0x71af0e8fa356eaaf493649f38f4908586342736a4e1ef0cb638148c5c826a63e,
            "EVIDENCE_TYPEHASH"
        );
        vm.assertEq(
            devnet.CREATE_EVIDENCE_TYPEHASH(),
            0xf393563b88c5de7ad7fd64a06c534d6cfbfb2c72b9331950dfdd0d7447580908,
            "CREATE_EVIDENCE_TYPEHASH"
        );
        vm.assertEq(
            devnet.hashEvidence(p),
            0x1bb28b966b31c25874612b7cc3a165fd2d6616f7f4ec8b98ddaaadb0ca07ce4f,
            "hashStruct(Evidence)"
        );
        vm.assertEq(
            devnet.DOMAIN_SEPARATOR(),
            0xd6bc4fae50ffaae7a984f6240c35c43434353a65fe96c05beb67fdccc2f0f9eb,
            "domain separator"
        );
        vm.assertEq(
            devnet.hashCreateEvidence(p, vectorOwner, 1_700_003_600),
            0xe83982d7e11109318f59f5ee4142b47ef6eb6a0abb16d0cf56bf4025421d1fdc,
            "digest"
        );
    }

    // ---------------------------------------------------------------- fuzz

    function testFuzz_relayedCreation_anySignerOwns(uint256 key, uint256 seed, uint64 ahead)
        public
    {
        key = bound(key, 1, ORDER - 1);
        uint256 deadline = T0 + ahead;
        address signer = vm.addr(key);
        IEvidenceFactory.EvidenceParams memory p = params(seed);
        bytes memory sig = signCreate(key, p, signer, deadline);
        vm.prank(relayer);
        address ec = ef.createEvidenceFor(p, signer, deadline, sig);
        vm.assertEq(IEvidenceContract(ec).owner(), signer, "signer owns");
    }

    function testFuzz_relayedCreation_revertsAfterDeadline(uint64 deadlineOffset, uint64 late)
        public
    {
        uint256 deadline = T0 + deadlineOffset;
        late = uint64(bound(late, 1, type(uint32).max));
        IEvidenceFactory.EvidenceParams memory p = params(uint256(deadlineOffset));
        bytes memory sig = signCreate(OWNER_KEY, p, owner, deadline);
        vm.warp(deadline + late);
        vm.expectRevert(
            abi.encodeWithSelector(
                IEvidenceFactory.SignatureExpired.selector, deadline, deadline + late
            )
        );
        ef.createEvidenceFor(p, owner, deadline, sig);
    }

    function testFuzz_relayedCreation_revertsIfAnyByteFlipped(uint256 index, uint8 mask) public {
        IEvidenceFactory.EvidenceParams memory p = params(50);
        bytes memory sig = signCreate(OWNER_KEY, p, owner, T0);
        index = bound(index, 0, 64);
        mask = uint8(bound(mask, 1, 255));
        sig[index] = bytes1(uint8(sig[index]) ^ mask);
        // Any change must fail: malformed, unrecoverable or a different signer, never success.
        (bool ok,) = address(ef)
            .call(abi.encodeCall(IEvidenceFactory.createEvidenceFor, (p, owner, T0, sig)));
        vm.assertFalse(ok, "altered signature accepted");
    }

    function testFuzz_relayedCreation_revertsIfSignedForOtherFields(uint256 a, uint256 b) public {
        vm.assume(a != b);
        IEvidenceFactory.EvidenceParams memory pa = params(a);
        bytes memory sig = signCreate(OWNER_KEY, pa, owner, T0);
        vm.expectPartialRevert(IEvidenceFactory.SignerMismatch.selector);
        ef.createEvidenceFor(params(b), owner, T0, sig);
    }

    function testFuzz_createEvidence_coordinates(int32 lat, int32 lon) public {
        IEvidenceFactory.EvidenceParams memory p = params(60);
        p.latitude = lat;
        p.longitude = lon;
        bool valid =
            lat >= -90_000_000 && lat <= 90_000_000 && lon >= -180_000_000 && lon <= 180_000_000;
        if (!valid) {
            vm.expectRevert(
                abi.encodeWithSelector(IEvidenceFactory.InvalidCoordinates.selector, lat, lon)
            );
        }
        vm.prank(owner);
        address ec = ef.createEvidence(p);
        if (valid) {
            vm.assertEq(int256(IEvidenceContract(ec).latitude()), int256(lat), "lat");
            vm.assertEq(int256(IEvidenceContract(ec).longitude()), int256(lon), "lon");
        }
    }

    function testFuzz_createEvidence_fieldsRoundTrip(uint256 seed, uint64 recordedAt) public {
        recordedAt = uint64(bound(recordedAt, 1, T0 + 1 hours));
        IEvidenceFactory.EvidenceParams memory p = params(seed);
        p.recordedAt = recordedAt;
        vm.prank(stranger);
        address ec = ef.createEvidence(p);
        vm.assertEq(IEvidenceContract(ec).owner(), stranger, "owner");
        vm.assertEq(uint256(IEvidenceContract(ec).recordedAt()), recordedAt, "recordedAt");
        vm.assertEq(IEvidenceContract(ec).evidenceHash(), ef.hashEvidence(p), "hash");
    }

    // ---------------------------------------------------------------- misc

    function test_isEvidence_falseForOthers() public {
        vm.assertFalse(ef.isEvidence(address(0)), "zero");
        vm.assertFalse(ef.isEvidence(address(ef)), "factory");
        vm.assertFalse(ef.isEvidence(ef.implementation()), "implementation");
        // A clone of the same implementation with the same arguments, but not made by the factory.
        address rogue = address(0xBAD);
        vm.prank(owner);
        address ec = ef.createEvidence(params(70));
        vm.etch(rogue, ec.code);
        vm.assertFalse(ef.isEvidence(rogue), "rogue clone");
        vm.assertTrue(ef.isEvidence(ec), "genuine");
    }

    function test_constructor_revertsIfVerifierZero() public {
        vm.expectRevert(abi.encodeWithSelector(IEvidenceFactory.InvalidConfig.selector, "verifier"));
        new EvidenceFactory(address(0));
    }

    function _expectCreateRevert(IEvidenceFactory.EvidenceParams memory p, bytes memory err)
        internal
    {
        vm.expectRevert(err);
        vm.prank(owner);
        ef.createEvidence(p);
    }
}
