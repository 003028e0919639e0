// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

import {Base} from "../utils/Base.sol";
import {vm, console} from "../utils/Vm.sol";
import {IEvidenceFactory} from "../../src/interfaces/IEvidenceFactory.sol";
import {IEvidenceContract} from "../../src/interfaces/IEvidenceContract.sol";
import {IRequestContract} from "../../src/interfaces/IRequestContract.sol";
import {IRequestFactory} from "../../src/interfaces/IRequestFactory.sol";

/// @notice The whole life of one shared accident, step by step, each step measured as its own
///         transaction: `GasLifecycleN.setUp` runs steps 1..N-1 (and a warm-up accident, so that
///         nothing is the deployment's first), then `test_gas_lifecycle_N` measures step N with
///         every account and slot cold, as on a real chain. The inputs are those of
///         contracts/script/gas-on-anvil.sh (same keys, hashes, sizes and values), whose receipts
///         must agree: docs/gas.md. Logs `call` (gas inside the call) and `tx` (call + 21000 +
///         calldata at 4/16 gas per zero/non-zero byte).
abstract contract GasLifecycleBase is Base {
    /// @dev anvil's accounts 2 (the EC's owner key) and 3 (the requester), as in gas-on-anvil.sh.
    uint256 internal constant ANVIL_OWNER_KEY =
        0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a;
    uint256 internal constant ANVIL_REQUESTER_KEY =
        0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6;
    /// @dev anvil's account 6: the EC's owner key of the relayed accident (never funded).
    uint256 internal constant ANVIL_OWNER2_KEY =
        0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e;
    /// @dev Where the owner is paid: a fresh address (no history, so the payment creates it).
    address internal constant PAYOUT_DIRECT = address(0x0000000000000000000000000000000000C0FFEE);
    address internal constant PAYOUT_RELAYED = address(0x0000000000000000000000000000000000c0fFef);

    address internal ecOwner;
    address internal req;
    IEvidenceFactory.EvidenceParams internal p;
    uint256 internal deadline;
    bytes internal sig;
    address internal ec;
    IRequestContract internal reqc;

    function setUp() public virtual override {
        super.setUp();
        ecOwner = vm.addr(ownerKey());
        req = vm.addr(ANVIL_REQUESTER_KEY);
        vm.deal(req, 100 ether);
        if (!relayed()) vm.deal(ecOwner, 1 ether);
        vm.deal(relayer, 1 ether);
        // Warm-up accident: a listed EC with a request, so the measured one is not the first.
        ec = verifiedEvidence(100);
        openRequest(ec);
        p = anvilParams(relayed() ? 2 : 1);
        deadline = block.timestamp + 1 hours;
        sig = signCreate(ownerKey(), p, ecOwner, deadline);
        ec = ef.predictEvidence(p, ecOwner);
    }

    /// @dev The evidence fields gas-on-anvil.sh sends for seed `s`.
    function anvilParams(uint256 s)
        internal
        view
        returns (IEvidenceFactory.EvidenceParams memory q)
    {
        string memory n = vm.toString(s);
        q.videoHash = keccak256(bytes(string.concat("v", n)));
        q.cipherHash = keccak256(bytes(string.concat("c", n)));
        q.frameHash = keccak256(bytes(string.concat("f", n)));
        q.framesRoot = keccak256(bytes(string.concat("r", n)));
        q.keyCommitment = keccak256(bytes(string.concat("k", n)));
        q.recordedAt = uint64(block.timestamp - 60);
        q.latitude = 52_520_008;
        q.longitude = 13_404_954;
        q.capsule = filled(0xab, 98);
        q.wrappedKey = filled(0xcd, 72);
        q.ownerUmbralKey = anvilUmbralKey();
    }

    function anvilUmbralKey() internal pure returns (bytes memory) {
        return abi.encodePacked(bytes1(0x02), keccak256("umbral"));
    }

    function filled(bytes1 b, uint256 n) internal pure returns (bytes memory out) {
        out = new bytes(n);
        for (uint256 i = 0; i < n; ++i) {
            out[i] = b;
        }
    }

    // ---------------------------------------------------------------- the steps

    function createData() internal view returns (bytes memory) {
        return abi.encodeCall(IEvidenceFactory.createEvidenceFor, (p, ecOwner, deadline, sig));
    }

    function requestData() internal view returns (bytes memory) {
        return abi.encodeCall(IRequestFactory.createRequest, (ec, anvilUmbralKey()));
    }

    function respondData() internal pure returns (bytes memory) {
        return abi.encodeCall(
            IRequestContract.respond,
            (filled(0x5a, 310), anvilUmbralKey(), "https://cloud.example/x")
        );
    }

    /// @dev The unlinkable flow: the owner key signs, the cloud's relayer sends steps 4 and 6
    ///      (fronting the deposit in 4 and being repaid in 6).
    function relayed() internal pure virtual returns (bool) {
        return false;
    }

    function ownerKey() internal pure returns (uint256) {
        return relayed() ? ANVIL_OWNER2_KEY : ANVIL_OWNER_KEY;
    }

    function payout() internal pure returns (address) {
        return relayed() ? PAYOUT_RELAYED : PAYOUT_DIRECT;
    }

    uint256 internal constant RESPOND_FEE = 0.0005 ether;
    uint256 internal constant WITHDRAW_FEE = 0.0005 ether;

    function respondForData() internal view returns (bytes memory) {
        bytes memory k = filled(0x5a, 310);
        string memory link = "https://cloud.example/x";
        bytes32 digest = reqc.hashRespond(k, anvilUmbralKey(), link, RESPOND_FEE, deadline);
        (uint8 v, bytes32 r, bytes32 s_) = vm.sign(ownerKey(), digest);
        return abi.encodeCall(
            IRequestContract.respondFor,
            (k, anvilUmbralKey(), link, RESPOND_FEE, deadline, abi.encodePacked(r, s_, v))
        );
    }

    function withdrawForData() internal view returns (bytes memory) {
        bytes32 digest = reqc.hashWithdraw(payout(), WITHDRAW_FEE, deadline);
        (uint8 v, bytes32 r, bytes32 s_) = vm.sign(ownerKey(), digest);
        return abi.encodeCall(
            IRequestContract.withdrawFor,
            (payable(payout()), WITHDRAW_FEE, deadline, abi.encodePacked(r, s_, v))
        );
    }

    /// @dev Calldata of the relayed steps, signed in `setUp` (the signing reads the REQC, which
    ///      must stay cold for the measured transaction).
    bytes internal signedData;

    function prepare(uint256 k) internal {
        runUntil(k);
        if (relayed() && k == 4) signedData = respondForData();
        if (relayed() && k == 6) signedData = withdrawForData();
    }

    /// @dev Runs step `k` (1-based) and returns the gas of the call.
    function step(uint256 k, bool log) internal {
        if (relayed() && k == 4) {
            bytes memory d = log ? signedData : respondForData();
            vm.prank(relayer);
            measure(address(reqc), 0.01 ether, d, "4r respondFor (relayer fronts the deposit)", log);
            return;
        }
        if (relayed() && k == 6) {
            bytes memory d = log ? signedData : withdrawForData();
            vm.prank(relayer);
            measure(address(reqc), 0, d, "6r withdrawFor (fresh address; relayer repaid)", log);
            return;
        }
        if (k == 1) {
            vm.prank(relayer);
            measure(address(ef), 0, createData(), "1 create (relayed createEvidenceFor)", log);
        } else if (k == 2) {
            vm.prank(verifier);
            measure(ec, 0, abi.encodeCall(IEvidenceContract.verify, ()), "2 verify + list", log);
        } else if (k == 3) {
            vm.prank(req);
            measure(address(rf), 0.05 ether, requestData(), "3 request (createRequest)", log);
            reqc = IRequestContract(IResponseContractLike(rf.responseContract()).latestOf(ecOwner));
        } else if (k == 4) {
            vm.prank(ecOwner);
            measure(address(reqc), 0.01 ether, respondData(), "4 respond (310-byte kfrag)", log);
        } else if (k == 5) {
            vm.prank(req);
            measure(
                address(reqc), 0, abi.encodeCall(IRequestContract.confirm, ()), "5 confirm", log
            );
        } else if (k == 6) {
            vm.prank(ecOwner);
            measure(
                address(reqc),
                0,
                abi.encodeCall(IRequestContract.withdraw, (payable(payout()))),
                "6 withdraw (to a fresh address)",
                log
            );
        }
    }

    function runUntil(uint256 k) internal {
        for (uint256 i = 1; i < k; ++i) {
            step(i, false);
        }
    }

    function measure(address to, uint256 value, bytes memory data, string memory label, bool log)
        internal
    {
        (bool ok, bytes memory ret) = to.call{value: value}(data);
        if (!ok) {
            assembly {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        if (!log) return;
        uint256 used = vm.lastCallGas().gasTotalUsed;
        console.log(string.concat(label, ": call"), used);
        console.log(string.concat(label, ": tx"), used + 21_000 + calldataCost(data));
    }

    function calldataCost(bytes memory data) internal pure returns (uint256 cost) {
        for (uint256 i = 0; i < data.length; ++i) {
            cost += data[i] == 0 ? 4 : 16;
        }
    }
}

interface IResponseContractLike {
    function latestOf(address owner) external view returns (address);
}

contract GasLifecycle1 is GasLifecycleBase {
    function test_gas_lifecycle_1_create() public {
        step(1, true);
    }
}

contract GasLifecycle2 is GasLifecycleBase {
    function setUp() public override {
        super.setUp();
        prepare(2);
    }

    function test_gas_lifecycle_2_verify() public {
        step(2, true);
    }
}

contract GasLifecycle3 is GasLifecycleBase {
    function setUp() public override {
        super.setUp();
        prepare(3);
    }

    function test_gas_lifecycle_3_request() public {
        step(3, true);
    }
}

contract GasLifecycle4 is GasLifecycleBase {
    function setUp() public override {
        super.setUp();
        prepare(4);
    }

    function test_gas_lifecycle_4_respond() public {
        step(4, true);
    }
}

contract GasLifecycle5 is GasLifecycleBase {
    function setUp() public override {
        super.setUp();
        prepare(5);
    }

    function test_gas_lifecycle_5_confirm() public {
        step(5, true);
    }
}

contract GasLifecycle6 is GasLifecycleBase {
    function setUp() public override {
        super.setUp();
        prepare(6);
    }

    function test_gas_lifecycle_6_withdraw() public {
        step(6, true);
        vm.assertEq(payout().balance, 0.06 ether, "owner paid reward + deposit");
    }
}

contract GasLifecycleRelayed1 is GasLifecycleBase {
    function relayed() internal pure override returns (bool) {
        return true;
    }

    function test_gas_lifecycle_1r_create() public {
        step(1, true);
    }
}

contract GasLifecycleRelayed2 is GasLifecycleBase {
    function relayed() internal pure override returns (bool) {
        return true;
    }

    function setUp() public override {
        super.setUp();
        prepare(2);
    }

    function test_gas_lifecycle_2r_verify() public {
        step(2, true);
    }
}

contract GasLifecycleRelayed3 is GasLifecycleBase {
    function relayed() internal pure override returns (bool) {
        return true;
    }

    function setUp() public override {
        super.setUp();
        prepare(3);
    }

    function test_gas_lifecycle_3r_request() public {
        step(3, true);
    }
}

contract GasLifecycleRelayed4 is GasLifecycleBase {
    function relayed() internal pure override returns (bool) {
        return true;
    }

    function setUp() public override {
        super.setUp();
        prepare(4);
    }

    function test_gas_lifecycle_4r_respondFor() public {
        step(4, true);
    }
}

contract GasLifecycleRelayed5 is GasLifecycleBase {
    function relayed() internal pure override returns (bool) {
        return true;
    }

    function setUp() public override {
        super.setUp();
        prepare(5);
    }

    function test_gas_lifecycle_5r_confirm() public {
        step(5, true);
    }
}

contract GasLifecycleRelayed6 is GasLifecycleBase {
    function relayed() internal pure override returns (bool) {
        return true;
    }

    function setUp() public override {
        super.setUp();
        prepare(6);
    }

    function test_gas_lifecycle_6r_withdrawFor() public {
        uint256 before = relayer.balance;
        step(6, true);
        vm.assertEq(payout().balance, 0.05 ether - RESPOND_FEE - WITHDRAW_FEE, "owner paid");
        vm.assertEq(
            relayer.balance - before, 0.01 ether + RESPOND_FEE + WITHDRAW_FEE, "relayer repaid"
        );
    }
}
