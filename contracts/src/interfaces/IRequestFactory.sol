// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

/// @title IRequestFactory: opens Request Contracts (EIP-1167 clones)
/// @notice `createRequest` checks that the EC is listed in the SearchContract (so factory-made and
///         Verified), copies the EC's owner, deploys a REQC holding the reward with CREATE2 and
///         registers it with the ResponseContract, which emits `RequestOpened`.
interface IRequestFactory {
    /// @notice The EC is not listed in the SearchContract (unknown, pending or rejected).
    /// @param ec The address given.
    error EvidenceNotListed(address ec);

    /// @notice The reward is below the minimum fixed at deployment (no 1-wei spam).
    /// @param reward The value sent.
    /// @param minReward The minimum.
    error RewardTooLow(uint256 reward, uint256 minReward);

    /// @notice The reward does not fit in 96 bits.
    /// @param reward The value sent.
    error RewardTooLarge(uint256 reward);

    /// @notice The Umbral public key is not a 33-byte compressed point (prefix 0x02 or 0x03).
    /// @param length The given length.
    /// @param prefix The first byte (0 if empty).
    error InvalidUmbralKey(uint256 length, uint8 prefix);

    /// @notice CREATE2 of the REQC failed (not expected: every REQC's code is unique).
    error DeploymentFailed();

    /// @notice A constructor argument is invalid.
    /// @param name The argument's name.
    error InvalidConfig(string name);

    /// @notice Opens a request for `ec`'s footage with `msg.value` (at least `minReward()`) as the
    ///         reward.
    /// @param ec A listed (verified) Evidence Contract.
    /// @param requesterUmbralKey The requester's Umbral public key (33 bytes, 0x02/0x03 prefix).
    /// @return reqc The new Request Contract.
    function createRequest(address ec, bytes calldata requesterUmbralKey)
        external
        payable
        returns (address reqc);

    /// @notice The minimum reward is `minDeposit / MIN_REWARD_DIVISOR` (10), at least 1 wei.
    function MIN_REWARD_DIVISOR() external view returns (uint256);

    /// @notice The dispute bond is `minDeposit / DISPUTE_BOND_DIVISOR` (2), at least 1 wei.
    function DISPUTE_BOND_DIVISOR() external view returns (uint256);

    /// @notice Longest allowed response, confirm or resolve window (365 days).
    function MAX_WINDOW() external view returns (uint64);

    /// @notice Whether `reqc` is a REQC made by this factory (checked from its code and address).
    /// @param reqc Any address.
    function isRequest(address reqc) external view returns (bool);

    /// @notice The REQC implementation the clones delegate to.
    function implementation() external view returns (address);

    /// @notice The ResponseContract this factory deployed.
    function responseContract() external view returns (address);

    /// @notice The SearchContract consulted for listed ECs.
    function search() external view returns (address);

    /// @notice The current verifier (the cloud), read from the EvidenceFactory.
    function verifier() external view returns (address);

    /// @notice The EvidenceFactory (the SearchContract's factory), which holds the verifier role.
    function evidenceFactory() external view returns (address);

    /// @notice Minimum reward (wei).
    function minReward() external view returns (uint256);

    /// @notice Minimum owner deposit (wei).
    function minDeposit() external view returns (uint256);

    /// @notice The bond a requester pays to dispute (wei).
    function disputeBond() external view returns (uint256);

    /// @notice Seconds the owner has to respond after creation.
    function responseWindow() external view returns (uint64);

    /// @notice Seconds the requester has to confirm or dispute after the response.
    function confirmWindow() external view returns (uint64);

    /// @notice Seconds the verifier has to resolve a dispute.
    function resolveWindow() external view returns (uint64);
}
