// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

import {vm} from "./Vm.sol";
import {EvidenceFactory} from "../../src/EvidenceFactory.sol";
import {SearchContract} from "../../src/SearchContract.sol";
import {RequestFactory} from "../../src/RequestFactory.sol";
import {ResponseContract} from "../../src/ResponseContract.sol";
import {IEvidenceFactory} from "../../src/interfaces/IEvidenceFactory.sol";
import {IEvidenceContract} from "../../src/interfaces/IEvidenceContract.sol";
import {IRequestContract} from "../../src/interfaces/IRequestContract.sol";

/// @notice Shared fixture: a fresh deployment, keys, evidence fields and shortcuts.
abstract contract Base {
    uint256 internal constant T0 = 1_700_000_000;
    uint256 internal constant MIN_REWARD = 0.001 ether;
    uint256 internal constant MIN_DEPOSIT = 0.01 ether;
    uint256 internal constant DISPUTE_BOND = 0.005 ether;
    uint64 internal constant RESPONSE_WINDOW = 1 days;
    uint64 internal constant CONFIRM_WINDOW = 2 days;
    uint64 internal constant RESOLVE_WINDOW = 3 days;
    uint256 internal constant REWARD = 0.05 ether;

    uint256 internal constant OWNER_KEY = 0xA11CE;
    uint256 internal constant REQUESTER_KEY = 0xB0B;
    uint256 internal constant VERIFIER_KEY = 0xC10D;
    uint256 internal constant RELAYER_KEY = 0xDE1A7;
    uint256 internal constant STRANGER_KEY = 0x5757;

    address internal owner;
    address internal requester;
    address internal verifier;
    address internal relayer;
    address internal stranger;

    EvidenceFactory internal ef;
    SearchContract internal sc;
    RequestFactory internal rf;
    ResponseContract internal resc;

    function setUp() public virtual {
        vm.warp(T0);
        owner = vm.addr(OWNER_KEY);
        requester = vm.addr(REQUESTER_KEY);
        verifier = vm.addr(VERIFIER_KEY);
        relayer = vm.addr(RELAYER_KEY);
        stranger = vm.addr(STRANGER_KEY);
        vm.label(owner, "owner");
        vm.label(requester, "requester");
        vm.label(verifier, "verifier");
        vm.label(relayer, "relayer");
        vm.label(stranger, "stranger");
        ef = new EvidenceFactory(verifier);
        sc = SearchContract(ef.search());
        rf = new RequestFactory(
            address(sc), verifier, MIN_DEPOSIT, RESPONSE_WINDOW, CONFIRM_WINDOW, RESOLVE_WINDOW
        );
        resc = ResponseContract(rf.responseContract());
        vm.deal(owner, 100 ether);
        vm.deal(requester, 100 ether);
        vm.deal(stranger, 100 ether);
    }

    /// @dev `n` bytes derived from `seed` (deterministic filler for capsules, kfrags...).
    function blob(bytes32 seed, uint256 n) internal pure returns (bytes memory out) {
        out = new bytes(n);
        for (uint256 i = 0; i < n; ++i) {
            out[i] = keccak256(abi.encode(seed, i / 32))[i % 32];
        }
    }

    /// @dev A well-formed compressed Umbral public key.
    function umbralKey(bytes32 seed) internal pure returns (bytes memory) {
        return abi.encodePacked(bytes1(0x02), keccak256(abi.encode(seed)));
    }

    /// @dev Valid evidence fields, different for every `seed`.
    function params(uint256 seed) internal pure returns (IEvidenceFactory.EvidenceParams memory p) {
        p.videoHash = keccak256(abi.encode("video", seed));
        p.cipherHash = keccak256(abi.encode("cipher", seed));
        p.frameHash = keccak256(abi.encode("frame", seed));
        p.framesRoot = keccak256(abi.encode("frames", seed));
        p.keyCommitment = keccak256(abi.encode("key", seed));
        p.recordedAt = uint64(T0 - 120);
        p.latitude = 52_520_008;
        p.longitude = 13_404_954;
        p.capsule = blob(keccak256(abi.encode("capsule", seed)), 98);
        p.wrappedKey = blob(keccak256(abi.encode("wrapped", seed)), 72);
        p.ownerUmbralKey = umbralKey(keccak256(abi.encode("owner-umbral", seed)));
    }

    /// @dev 65-byte r ‖ s ‖ v signature of the creation digest by `key`.
    function signCreate(
        uint256 key,
        IEvidenceFactory.EvidenceParams memory p,
        address ecOwner,
        uint256 deadline
    ) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, ef.hashCreateEvidence(p, ecOwner, deadline));
        return abi.encodePacked(r, s, v);
    }

    /// @dev Creates (as `owner`) and verifies an EC.
    function verifiedEvidence(uint256 seed) internal returns (address ec) {
        vm.prank(owner);
        ec = ef.createEvidence(params(seed));
        vm.prank(verifier);
        IEvidenceContract(ec).verify();
    }

    /// @dev Opens a request by `requester` with `REWARD`.
    function openRequest(address ec) internal returns (IRequestContract reqc) {
        vm.prank(requester);
        reqc = IRequestContract(rf.createRequest{value: REWARD}(ec, umbralKey("requester")));
    }

    function kfrag() internal pure returns (bytes memory) {
        return blob("kfrag", 310);
    }

    /// @dev The owner responds with `MIN_DEPOSIT`.
    function respond(IRequestContract reqc) internal {
        vm.prank(reqc.owner());
        reqc.respond{value: MIN_DEPOSIT}(kfrag(), umbralKey("verifying"), "https://cloud.example/x");
    }

    /// @dev `x` mapped into [lo, hi].
    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        require(lo <= hi, "bound: lo > hi");
        if (x >= lo && x <= hi) return x;
        return lo + x % (hi - lo + 1);
    }
}
