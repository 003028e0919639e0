// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

import {vm} from "../test/utils/Vm.sol";
import {EvidenceFactory} from "../src/EvidenceFactory.sol";
import {RequestFactory} from "../src/RequestFactory.sol";

/// @title Deploy: deploys dashledger's singletons and factories and writes deployments/<chainId>.json
/// @notice Two transactions: `EvidenceFactory(verifier)` (which deploys the EC implementation and
///         the SearchContract) and `RequestFactory(search, verifier, minDeposit, windows)` (which
///         deploys the REQC implementation and the ResponseContract).
///
///         Environment:
///           DEPLOYER_PRIVATE_KEY  required; the account that pays for the deployment
///           VERIFIER_ADDRESS      the cloud's verifier account (default: the deployer)
///           MIN_DEPOSIT_WEI       minimum owner deposit (default 0.01 ether)
///           RESPONSE_WINDOW       seconds the owner has to respond (default 86400)
///           CONFIRM_WINDOW        seconds the requester has to confirm/dispute (default 172800)
///           RESOLVE_WINDOW        seconds the verifier has to resolve a dispute (default 259200)
///
///         forge script contracts/script/Deploy.s.sol:Deploy --rpc-url URL --broadcast
contract Deploy {
    struct Result {
        address deployer;
        address verifier;
        EvidenceFactory evidenceFactory;
        RequestFactory requestFactory;
        uint256 minReward;
        uint256 minDeposit;
        uint256 disputeBond;
        uint256 responseWindow;
        uint256 confirmWindow;
        uint256 resolveWindow;
        uint256 startBlock;
    }

    function run() external returns (Result memory r) {
        uint256 key = vm.envUint("DEPLOYER_PRIVATE_KEY");
        r.deployer = vm.addr(key);
        r.verifier = vm.envOr("VERIFIER_ADDRESS", r.deployer);
        r.minDeposit = vm.envOr("MIN_DEPOSIT_WEI", uint256(0.01 ether));
        r.responseWindow = vm.envOr("RESPONSE_WINDOW", uint256(1 days));
        r.confirmWindow = vm.envOr("CONFIRM_WINDOW", uint256(2 days));
        r.resolveWindow = vm.envOr("RESOLVE_WINDOW", uint256(3 days));
        require(r.responseWindow <= type(uint64).max, "RESPONSE_WINDOW too large");
        require(r.confirmWindow <= type(uint64).max, "CONFIRM_WINDOW too large");
        require(r.resolveWindow <= type(uint64).max, "RESOLVE_WINDOW too large");
        // Logs of the deployment start in a later block: indexers can start here.
        r.startBlock = block.number;

        vm.startBroadcast(key);
        r.evidenceFactory = new EvidenceFactory(r.verifier);
        r.requestFactory = new RequestFactory(
            r.evidenceFactory.search(),
            r.verifier,
            r.minDeposit,
            uint64(r.responseWindow),
            uint64(r.confirmWindow),
            uint64(r.resolveWindow)
        );
        vm.stopBroadcast();
        r.minReward = r.requestFactory.minReward();
        r.disputeBond = r.requestFactory.disputeBond();

        _write(r);
    }

    function _write(Result memory r) internal {
        string memory o = "deployment";
        vm.serializeUint(o, "chainId", block.chainid);
        vm.serializeUint(o, "startBlock", r.startBlock);
        vm.serializeAddress(o, "deployer", r.deployer);
        vm.serializeAddress(o, "verifier", r.verifier);
        vm.serializeAddress(o, "evidenceFactory", address(r.evidenceFactory));
        vm.serializeAddress(o, "evidenceImplementation", r.evidenceFactory.implementation());
        vm.serializeAddress(o, "searchContract", r.evidenceFactory.search());
        vm.serializeAddress(o, "requestFactory", address(r.requestFactory));
        vm.serializeAddress(o, "requestImplementation", r.requestFactory.implementation());
        vm.serializeAddress(o, "responseContract", r.requestFactory.responseContract());
        vm.serializeString(o, "minRewardWei", vm.toString(r.minReward));
        vm.serializeString(o, "minDepositWei", vm.toString(r.minDeposit));
        vm.serializeString(o, "disputeBondWei", vm.toString(r.disputeBond));
        vm.serializeUint(o, "responseWindow", r.responseWindow);
        vm.serializeUint(o, "confirmWindow", r.confirmWindow);
        string memory json = vm.serializeUint(o, "resolveWindow", r.resolveWindow);
        // foundry.toml's fs_permissions allow writing under deployments/ only.
        vm.createDir("deployments", true);
        vm.writeJson(json, string.concat("deployments/", vm.toString(block.chainid), ".json"));
    }
}
