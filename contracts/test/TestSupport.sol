// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {ReclaimRegistry} from "../ReclaimRegistry.sol";

/// @notice The Foundry cheatcodes the registry tests use, with the signatures of
/// forge-std's `Vm`. forge-std itself is not installed because its npm copy is broken.
interface Vm {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    function prank(address msgSender) external;
    function startPrank(address msgSender) external;
    function stopPrank() external;
    function roll(uint256 newHeight) external;
    function expectRevert(bytes calldata revertData) external;
    function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData) external;
    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory logs);
}

/// @notice OpenZeppelin's ERC-1155 with open mints and burns: the reference the registry's
/// lazy balances must match, balance for balance and event for event.
contract ReferenceToken is ERC1155("") {
    function mint(address to, uint256 id, uint256 value) external {
        _mint(to, id, value, "");
    }

    function mintBatch(address to, uint256[] memory ids, uint256[] memory values) external {
        _mintBatch(to, ids, values, "");
    }

    function burn(address from, uint256 id, uint256 value) external {
        _burn(from, id, value);
    }

    function burnBatch(address from, uint256[] memory ids, uint256[] memory values) external {
        _burnBatch(from, ids, values);
    }
}

/// @notice Cheatcodes, assertions, registry deployment and entry packing shared by the
/// registry test contracts.
abstract contract RegistryTestBase {
    error UintMismatch(string check, uint256 actual, uint256 expected);
    error Bytes32Mismatch(string check, bytes32 actual, bytes32 expected);
    error AddressMismatch(string check, address actual, address expected);
    error BytesMismatch(string check, bytes actual, bytes expected);

    Vm internal constant VM = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// @dev Deploys a registry with this contract as admin and registrar, and registers
    /// `buildingIds` with their `recordHashes`.
    function _deployRegistry(bytes32[] memory buildingIds, bytes32[] memory recordHashes)
        internal
        returns (ReclaimRegistry registry)
    {
        registry = new ReclaimRegistry(address(this));
        registry.grantRole(registry.REGISTRAR_ROLE(), address(this));
        registry.registerBuildings(buildingIds, recordHashes);
    }

    /// @dev Packs one 81-byte entry in the layout `registerLots` reads.
    function _entry(bytes32 recordHash, bytes32 category, uint64 quantity, uint64 unitMassGrams, uint8 unit)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encodePacked(recordHash, category, quantity, unitMassGrams, unit);
    }

    /// @dev Copies the first `length` bytes of `data`.
    function _prefix(bytes memory data, uint256 length) internal pure returns (bytes memory cut) {
        cut = new bytes(length);
        for (uint256 i = 0; i < length; ++i) {
            cut[i] = data[i];
        }
    }

    function _one(uint256 value) internal pure returns (uint256[] memory values) {
        values = new uint256[](1);
        values[0] = value;
    }

    function _one(bytes32 value) internal pure returns (bytes32[] memory values) {
        values = new bytes32[](1);
        values[0] = value;
    }

    function _pair(uint256 a, uint256 b) internal pure returns (uint256[] memory values) {
        values = new uint256[](2);
        values[0] = a;
        values[1] = b;
    }

    function _pair(bytes32 a, bytes32 b) internal pure returns (bytes32[] memory values) {
        values = new bytes32[](2);
        values[0] = a;
        values[1] = b;
    }

    /// @dev Maps `value` into [min, max] by modulo, standing in for forge-std's `bound`.
    function _bound(uint256 value, uint256 min, uint256 max) internal pure returns (uint256) {
        uint256 span = max - min;
        if (span == type(uint256).max) return value;
        return min + (value % (span + 1));
    }

    /// @dev Returns `account` as an indexed event topic.
    function _topic(address account) internal pure returns (bytes32) {
        return bytes32(uint256(uint160(account)));
    }

    function _assertEq(uint256 actual, uint256 expected, string memory check) internal pure {
        if (actual != expected) revert UintMismatch(check, actual, expected);
    }

    function _assertEq(bytes32 actual, bytes32 expected, string memory check) internal pure {
        if (actual != expected) revert Bytes32Mismatch(check, actual, expected);
    }

    function _assertEq(address actual, address expected, string memory check) internal pure {
        if (actual != expected) revert AddressMismatch(check, actual, expected);
    }

    function _assertEq(bytes memory actual, bytes memory expected, string memory check) internal pure {
        if (keccak256(actual) != keccak256(expected)) revert BytesMismatch(check, actual, expected);
    }

    /// @dev Reverts with the bound as `expected` when `actual` exceeds `max`.
    function _assertLe(uint256 actual, uint256 max, string memory check) internal pure {
        if (actual > max) revert UintMismatch(check, actual, max);
    }
}

/// @notice Base of the tests that run each registry operation again on a ReferenceToken
/// and require the same balances and the same ERC-1155 events.
abstract contract ReferenceComparisonTest is RegistryTestBase {
    ReclaimRegistry internal registry;
    ReferenceToken internal anchor;

    // Building and packed entries of each registered batch, by its first lot id, so that
    // tests can reveal its lots.
    mapping(uint256 firstLotId => bytes32) internal batchBuilding;
    mapping(uint256 firstLotId => bytes) internal batchEntries;

    /// @dev Deploys the registry with `buildingIds` registered, and the reference token.
    function _setUpRegistry(bytes32[] memory buildingIds, bytes32[] memory recordHashes) internal {
        registry = _deployRegistry(buildingIds, recordHashes);
        anchor = new ReferenceToken();
    }

    /// @dev Registers `entries` on the registry, mints `quantities` under the same ids on
    /// the reference, checks that both emitted the same ERC-1155 events and stores the
    /// batch for `_reveal`.
    function _registerBatch(address holder, bytes32 buildingId, bytes memory entries, uint256[] memory quantities)
        internal
        returns (uint256 firstLotId)
    {
        uint256 expectedFirst = registry.lotCount() + 1;
        uint256[] memory ids = new uint256[](quantities.length);
        for (uint256 i = 0; i < ids.length; ++i) {
            ids[i] = expectedFirst + i;
        }

        VM.recordLogs();
        firstLotId = registry.registerLots(holder, buildingId, entries);
        Vm.Log[] memory lazyLogs = VM.getRecordedLogs();
        anchor.mintBatch(holder, ids, quantities);
        _checkSameTransferLogs(lazyLogs, VM.getRecordedLogs());

        _assertEq(firstLotId, expectedFirst, "first lot id");
        batchBuilding[firstLotId] = buildingId;
        batchEntries[firstLotId] = entries;
    }

    /// @dev Stores the data of batch lot `lotId`, so that `lot` returns it.
    function _reveal(uint256 lotId) internal {
        (uint256 firstLotId,,) = registry.lotBatch(lotId);
        registry.revealLot(lotId, batchBuilding[firstLotId], batchEntries[firstLotId]);
    }

    function _transfer(address from, address to, uint256 id, uint256 value) internal {
        VM.recordLogs();
        VM.prank(from);
        registry.safeTransferFrom(from, to, id, value, "");
        Vm.Log[] memory lazyLogs = VM.getRecordedLogs();
        VM.prank(from);
        anchor.safeTransferFrom(from, to, id, value, "");
        _checkSameTransferLogs(lazyLogs, VM.getRecordedLogs());
    }

    function _batchTransfer(address from, address to, uint256[] memory ids, uint256[] memory values) internal {
        VM.recordLogs();
        VM.prank(from);
        registry.safeBatchTransferFrom(from, to, ids, values, "");
        Vm.Log[] memory lazyLogs = VM.getRecordedLogs();
        VM.prank(from);
        anchor.safeBatchTransferFrom(from, to, ids, values, "");
        _checkSameTransferLogs(lazyLogs, VM.getRecordedLogs());
    }

    /// @dev Splits `id` on the registry, and burns and mints the same quantities on the
    /// reference.
    function _split(address holder, uint256 id, uint256[] memory quantities)
        internal
        virtual
        returns (uint256[] memory children)
    {
        uint256 total = 0;
        for (uint256 i = 0; i < quantities.length; ++i) {
            total += quantities[i];
        }
        VM.recordLogs();
        VM.prank(holder);
        children = registry.split(id, quantities);
        Vm.Log[] memory lazyLogs = VM.getRecordedLogs();
        VM.prank(holder);
        anchor.burn(holder, id, total);
        VM.prank(holder);
        anchor.mintBatch(holder, children, quantities);
        _checkSameTransferLogs(lazyLogs, VM.getRecordedLogs());
    }

    /// @dev Merges two lots on the registry, and burns and mints the same quantities on
    /// the reference.
    function _merge(address holder, uint256[] memory ids, uint256[] memory quantities)
        internal
        virtual
        returns (uint256 merged)
    {
        VM.recordLogs();
        VM.prank(holder);
        merged = registry.merge(ids, quantities);
        Vm.Log[] memory lazyLogs = VM.getRecordedLogs();
        VM.prank(holder);
        anchor.burnBatch(holder, ids, quantities);
        VM.prank(holder);
        anchor.mint(holder, merged, quantities[0] + quantities[1]);
        _checkSameTransferLogs(lazyLogs, VM.getRecordedLogs());
    }

    /// @dev Compares the TransferSingle and TransferBatch logs of both tokens, topics and
    /// data, and reverts if the registry emitted none.
    function _checkSameTransferLogs(Vm.Log[] memory lazyLogs, Vm.Log[] memory expected) internal pure {
        _assertEq(_transferEvents(lazyLogs), _transferEvents(expected), "ERC-1155 events");
    }

    function _transferEvents(Vm.Log[] memory logs) internal pure returns (bytes memory packed) {
        for (uint256 i = 0; i < logs.length; ++i) {
            bytes32 topic = logs[i].topics[0];
            if (topic == IERC1155.TransferSingle.selector || topic == IERC1155.TransferBatch.selector) {
                packed = abi.encodePacked(packed, abi.encode(logs[i].topics), logs[i].data);
            }
        }
        if (packed.length == 0) revert BytesMismatch("ERC-1155 events", packed, "at least one");
    }

    function _checkBatch(uint256 lotId, uint256 expectedFirst, uint256 expectedCount) internal view {
        (uint256 firstLotId, uint256 count,) = registry.lotBatch(lotId);
        _assertEq(firstLotId, expectedFirst, "lotBatch first lot id");
        _assertEq(count, expectedCount, "lotBatch count");
    }
}
