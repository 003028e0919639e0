// SPDX-License-Identifier: GPL-3.0-only
pragma solidity 0.8.30;

/// @title CloneLib: EIP-1167 clones with packed immutable arguments, deployed with CREATE2
/// @notice Runtime code of a clone: the 45-byte EIP-1167 proxy followed by `args`:
///         `363d3d373d3d3d363d73 <impl> 5af43d82803e903d91602b57fd5bf3 ‖ args`.
///         The proxy forwards every call to `impl` with DELEGATECALL; the bytes after it are never
///         executed, so the implementation reads them as immutable arguments with
///         `extcodecopy(address(), …)`. The init code is a 10-byte prefix that returns the bytes
///         after itself: `61 <len:2> 80 60 0a 3d 39 3d f3` (PUSH2 len, DUP1, PUSH1 10,
///         RETURNDATASIZE, CODECOPY, RETURNDATASIZE, RETURN).
///         All clones are created with salt 0, so a clone's address is a function of its factory
///         and its code alone; `isClone` uses that to recognise a factory's clones without storage.
library CloneLib {
    /// @notice Length of the EIP-1167 proxy runtime before the arguments.
    uint256 internal constant PROXY_LENGTH = 45;

    /// @notice The init code that deploys a clone of `impl` carrying `args`.
    function initCode(address impl, bytes memory args) internal pure returns (bytes memory) {
        return abi.encodePacked(
            _prefix(PROXY_LENGTH + args.length),
            hex"363d3d373d3d3d363d73",
            impl,
            hex"5af43d82803e903d91602b57fd5bf3",
            args
        );
    }

    /// @notice Deploys a clone of `impl` with `args`, sending it `value` wei.
    /// @return clone The clone, or address(0) if CREATE2 failed (a clone with this code exists).
    function deploy(address impl, bytes memory args, uint256 value)
        internal
        returns (address clone)
    {
        bytes memory code = initCode(impl, args);
        assembly ("memory-safe") {
            clone := create2(value, add(code, 0x20), mload(code), 0)
        }
    }

    /// @notice The address `deployer` gives a clone of `impl` with `args`.
    function predict(address deployer, address impl, bytes memory args)
        internal
        pure
        returns (address)
    {
        return _derive(deployer, keccak256(initCode(impl, args)));
    }

    /// @notice Whether `account` is a clone `deployer` created with this library and whose code is
    ///         `codeLength` bytes long. Derives the CREATE2 address from the account's own code.
    function isClone(address deployer, address account, uint256 codeLength)
        internal
        view
        returns (bool)
    {
        if (account.code.length != codeLength) return false;
        bytes memory init = abi.encodePacked(_prefix(codeLength), account.code);
        return _derive(deployer, keccak256(init)) == account;
    }

    /// @notice The 32-byte word at `offset` in the calling clone's arguments (zero-padded).
    function argWord(uint256 offset) internal view returns (bytes32 word) {
        return argWordOf(address(this), offset);
    }

    /// @notice The 32-byte word at `offset` in `clone`'s arguments (zero-padded).
    function argWordOf(address clone, uint256 offset) internal view returns (bytes32 word) {
        assembly ("memory-safe") {
            extcodecopy(clone, 0x00, add(PROXY_LENGTH, offset), 0x20)
            word := mload(0x00)
        }
    }

    function _prefix(uint256 runtimeLength) private pure returns (bytes memory) {
        return abi.encodePacked(bytes1(0x61), uint16(runtimeLength), hex"80600a3d393df3");
    }

    function _derive(address deployer, bytes32 initCodeHash) private pure returns (address) {
        return address(
            uint160(
                uint256(
                    keccak256(abi.encodePacked(bytes1(0xff), deployer, bytes32(0), initCodeHash))
                )
            )
        );
    }
}
