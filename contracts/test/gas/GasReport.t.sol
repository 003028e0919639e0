// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

import {Base} from "../utils/Base.sol";
import {vm, console} from "../utils/Vm.sol";
import {IEvidenceFactory} from "../../src/interfaces/IEvidenceFactory.sol";
import {IEvidenceContract} from "../../src/interfaces/IEvidenceContract.sol";
import {IRequestContract} from "../../src/interfaces/IRequestContract.sol";
import {IRequestFactory} from "../../src/interfaces/IRequestFactory.sol";
import {NaiveEvidenceContract, NaiveRequestContract} from "./NaiveContracts.sol";

/// @notice Gas of each user-facing operation, one operation per test on state prepared in
///         setUp (so every account starts cold, as in a real transaction). Logs:
///         `call` = gas used inside the called contract (forge `lastCallGas`), `tx` = call + 21000 +
///         calldata (4 per zero byte, 16 per non-zero byte). Run with
///         `forge test --offline --match-contract GasReport -vv`; see docs/gas.md.
contract GasReport is Base {
    address internal pendingEc;
    IRequestContract internal openReqc;
    IRequestContract internal respondedReqc;
    IRequestContract internal silentReqc;
    IRequestContract internal completedReqc;
    IEvidenceFactory.EvidenceParams internal fresh;
    bytes internal freshSig;
    address internal listedEc;
    address internal freshOwnerEc;

    function setUp() public override {
        super.setUp();
        listedEc = verifiedEvidence(1);
        vm.prank(owner);
        pendingEc = ef.createEvidence(params(2));
        openReqc = openRequest(listedEc);
        respondedReqc = openRequest(listedEc);
        respond(respondedReqc);
        silentReqc = openRequest(listedEc);
        respond(silentReqc);
        completedReqc = openRequest(listedEc);
        respond(completedReqc);
        vm.prank(requester);
        completedReqc.confirm();
        vm.prank(stranger);
        freshOwnerEc = ef.createEvidence(params(4));
        vm.prank(verifier);
        IEvidenceContract(freshOwnerEc).verify();
        fresh = params(3);
        freshSig = signCreate(OWNER_KEY, fresh, owner, T0 + 1 hours);
    }

    function test_gas_createEvidence_direct() public {
        bytes memory data = abi.encodeCall(IEvidenceFactory.createEvidence, (fresh));
        vm.prank(owner);
        _call(address(ef), 0, data, "EC creation, direct (createEvidence)");
    }

    function test_gas_createEvidence_relayed() public {
        bytes memory data = abi.encodeCall(
            IEvidenceFactory.createEvidenceFor, (fresh, owner, T0 + 1 hours, freshSig)
        );
        vm.prank(relayer);
        _call(address(ef), 0, data, "EC creation, relayed (createEvidenceFor)");
    }

    function test_gas_verifyAndList() public {
        vm.prank(verifier);
        _call(pendingEc, 0, abi.encodeCall(IEvidenceContract.verify, ()), "verify + list");
    }

    function test_gas_reject() public {
        vm.prank(verifier);
        _call(pendingEc, 0, abi.encodeCall(IEvidenceContract.reject, ("hash-mismatch")), "reject");
    }

    /// @dev The usual case: owners use a fresh key per accident, so the first request for an EC
    ///      is the owner's first and pays for a new slot in the ResponseContract's owner index.
    function test_gas_createRequest_firstForOwner() public {
        bytes memory data =
            abi.encodeCall(IRequestFactory.createRequest, (freshOwnerEc, umbralKey("requester")));
        vm.prank(requester);
        _call(address(rf), REWARD, data, "REQC creation, owner's first (createRequest)");
    }

    function test_gas_createRequest_later() public {
        bytes memory data =
            abi.encodeCall(IRequestFactory.createRequest, (listedEc, umbralKey("requester")));
        vm.prank(requester);
        _call(address(rf), REWARD, data, "REQC creation, owner's later (createRequest)");
    }

    function test_gas_respond() public {
        bytes memory data = abi.encodeCall(
            IRequestContract.respond, (kfrag(), umbralKey("verifying"), "https://cloud.example/x")
        );
        vm.prank(owner);
        _call(address(openReqc), MIN_DEPOSIT, data, "respond (310-byte kfrag)");
    }

    function test_gas_confirm() public {
        vm.prank(requester);
        _call(address(respondedReqc), 0, abi.encodeCall(IRequestContract.confirm, ()), "confirm");
    }

    function test_gas_dispute() public {
        vm.prank(requester);
        _call(
            address(respondedReqc),
            DISPUTE_BOND,
            abi.encodeCall(IRequestContract.dispute, ()),
            "dispute"
        );
    }

    function test_gas_decline() public {
        vm.prank(owner);
        _call(address(openReqc), 0, abi.encodeCall(IRequestContract.decline, ()), "decline");
    }

    function test_gas_claim() public {
        vm.warp(T0 + CONFIRM_WINDOW + 1);
        vm.prank(owner);
        _call(address(silentReqc), 0, abi.encodeCall(IRequestContract.claim, ()), "claim");
    }

    function test_gas_withdraw() public {
        vm.prank(owner);
        _call(
            address(completedReqc),
            0,
            abi.encodeCall(IRequestContract.withdraw, (payable(owner))),
            "withdraw"
        );
    }

    function test_gas_naiveEvidenceDeployment() public {
        bytes memory init = abi.encodePacked(
            type(NaiveEvidenceContract).creationCode,
            abi.encode(fresh, ef.hashEvidence(fresh), owner, address(sc))
        );
        _deploy(init, 0, "naive EC deployment (full contract, fields in storage)");
    }

    function test_gas_naiveRequestDeployment() public {
        bytes memory init = abi.encodePacked(
            type(NaiveRequestContract).creationCode,
            abi.encode(
                listedEc,
                requester,
                owner,
                uint40(T0 + RESPONSE_WINDOW),
                uint96(REWARD),
                address(ef),
                uint96(MIN_DEPOSIT),
                CONFIRM_WINDOW,
                RESOLVE_WINDOW
            )
        );
        _deploy(init, REWARD, "naive REQC deployment (full contract, fields in storage)");
    }

    /// @dev The naive REQC really works: respond on it and compare (not part of the table).
    function test_naiveRequest_isFunctional() public {
        NaiveRequestContract n = new NaiveRequestContract{value: REWARD}(
            listedEc,
            requester,
            owner,
            uint40(T0 + RESPONSE_WINDOW),
            uint96(REWARD),
            address(ef),
            uint96(MIN_DEPOSIT),
            CONFIRM_WINDOW,
            RESOLVE_WINDOW
        );
        respond(IRequestContract(address(n)));
        vm.prank(requester);
        n.confirm();
        vm.assertEq(n.owed(owner), REWARD + MIN_DEPOSIT, "owed");
    }

    function _call(address to, uint256 value, bytes memory data, string memory label) internal {
        (bool ok, bytes memory ret) = to.call{value: value}(data);
        if (!ok) {
            assembly {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        uint256 used = vm.lastCallGas().gasTotalUsed;
        console.log(string.concat(label, ": call"), used);
        console.log(string.concat(label, ": tx"), used + 21_000 + _calldataCost(data));
    }

    function _deploy(bytes memory init, uint256 value, string memory label) internal {
        address deployed;
        uint256 before = gasleft();
        assembly {
            deployed := create(value, add(init, 0x20), mload(init))
        }
        uint256 used = before - gasleft();
        vm.assertTrue(deployed != address(0), "deployment failed");
        console.log(string.concat(label, ": call"), used);
        // A deployment transaction pays 21000 + the init code as calldata; CREATE itself
        // (32000, measured above) takes the place of the transaction's creation surcharge.
        console.log(string.concat(label, ": tx"), used + 21_000 + _calldataCost(init));
        console.log(string.concat(label, ": runtime bytes"), deployed.code.length);
    }

    function _calldataCost(bytes memory data) internal pure returns (uint256 cost) {
        for (uint256 i = 0; i < data.length; ++i) {
            cost += data[i] == 0 ? 4 : 16;
        }
    }
}
