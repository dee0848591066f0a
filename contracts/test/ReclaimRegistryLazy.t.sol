// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC1155Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IReclaimRegistry} from "../IReclaimRegistry.sol";
import {ReclaimRegistry} from "../ReclaimRegistry.sol";

/// @notice The Foundry cheatcodes these tests use, with the signatures of forge-std's `Vm`.
interface LazyVm {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    function prank(address msgSender) external;
    function expectRevert(bytes calldata revertData) external;
    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory logs);
}

/// @notice Batch registration of the registry: packed entries, the batch commitment,
/// reveal, verification and the lots' batches.
contract ReclaimRegistryLazyTest {
    error UintMismatch(string check, uint256 actual, uint256 expected);
    error Bytes32Mismatch(string check, bytes32 actual, bytes32 expected);

    LazyVm private constant VM = LazyVm(address(uint160(uint256(keccak256("hevm cheat code")))));

    bytes32 private constant BUILDING_ID = bytes32("BLD-LGE-01");
    bytes32 private constant CATEGORY = bytes32("doors");
    uint64 private constant UNIT_MASS_GRAMS = 32_000;
    uint8 private constant UNIT = uint8(IReclaimRegistry.Unit.Piece);

    address private constant CONTRACTOR = address(0xC0A7);
    address private constant YARD = address(0xDEA1);

    ReclaimRegistry private registry;

    function setUp() public {
        registry = new ReclaimRegistry(address(this));
        registry.grantRole(registry.REGISTRAR_ROLE(), address(this));
        bytes32[] memory ids = new bytes32[](1);
        ids[0] = BUILDING_ID;
        bytes32[] memory hashes = new bytes32[](1);
        hashes[0] = keccak256("building record");
        registry.registerBuildings(ids, hashes);
    }

    /*//////////////////////////////////////////////////////////////
                                 TESTS
    //////////////////////////////////////////////////////////////*/

    function testRegisterLotsMintsWholeQuantities() public {
        bytes memory entries = _entries(3, 1);
        uint256 firstLotId = registry.registerLots(CONTRACTOR, BUILDING_ID, entries);

        _checkUint("first lot id", firstLotId, 1);
        _checkUint("lotCount", registry.lotCount(), 3);
        for (uint256 i = 0; i < 3; ++i) {
            _checkUint("holder balance", registry.balanceOf(CONTRACTOR, 1 + i), _quantity(1, i));
            _checkUint("other balance", registry.balanceOf(YARD, 1 + i), 0);
        }
    }

    function testVerifyLotDecodesEntryWithoutReveal() public {
        bytes memory entries = _entries(5, 7);
        registry.registerLots(CONTRACTOR, BUILDING_ID, entries);

        IReclaimRegistry.Lot memory found = registry.verifyLot(4, BUILDING_ID, entries);
        _checkLot(found, 7, 3);
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryLotNotRevealed.selector, 4));
        registry.lot(4);
    }

    function testRevealLotStoresLotOnce() public {
        bytes memory entries = _entries(5, 7);
        registry.registerLots(CONTRACTOR, BUILDING_ID, entries);

        VM.recordLogs();
        registry.revealLot(2, BUILDING_ID, entries);
        registry.revealLot(2, BUILDING_ID, entries);
        LazyVm.Log[] memory logs = VM.getRecordedLogs();

        _checkUint("LotRevealed count", logs.length, 1);
        _checkBytes32("LotRevealed signature", logs[0].topics[0], IReclaimRegistry.LotRevealed.selector);
        _checkBytes32("LotRevealed lot", logs[0].topics[1], bytes32(uint256(2)));
        _checkLot(registry.lot(2), 7, 1);
    }

    function testLotBatchNamesTheBatch() public {
        registry.registerLots(CONTRACTOR, BUILDING_ID, _entries(3, 1));
        registry.registerLots(YARD, BUILDING_ID, _entries(4, 2));

        (uint256 firstLotId, uint256 count) = registry.lotBatch(6);
        _checkUint("first lot of second batch", firstLotId, 4);
        _checkUint("count of second batch", count, 4);
        (firstLotId, count) = registry.lotBatch(3);
        _checkUint("first lot of first batch", firstLotId, 1);
        _checkUint("count of first batch", count, 3);
    }

    /*//////////////////////////////////////////////////////////////
                                 HELPERS
    //////////////////////////////////////////////////////////////*/

    function _quantity(uint256 seed, uint256 index) private pure returns (uint64) {
        return uint64(1 + uint256(keccak256(abi.encode(seed, index))) % 1_000_000);
    }

    function _recordHash(uint256 seed, uint256 index) private pure returns (bytes32) {
        return keccak256(abi.encode("lot record", seed, index));
    }

    function _entry(bytes32 recordHash, bytes32 category, uint64 quantity, uint64 unitMassGrams, uint8 unit)
        private
        pure
        returns (bytes memory)
    {
        return abi.encodePacked(recordHash, category, quantity, unitMassGrams, unit);
    }

    function _entries(uint256 count, uint256 seed) private pure returns (bytes memory entries) {
        for (uint256 i = 0; i < count; ++i) {
            entries = bytes.concat(
                entries, _entry(_recordHash(seed, i), CATEGORY, _quantity(seed, i), UNIT_MASS_GRAMS, UNIT)
            );
        }
    }

    function _checkLot(IReclaimRegistry.Lot memory found, uint256 seed, uint256 index) private pure {
        _checkBytes32("buildingId", found.buildingId, BUILDING_ID);
        _checkBytes32("category", found.category, CATEGORY);
        _checkBytes32("recordHash", found.recordHash, _recordHash(seed, index));
        _checkUint("quantity", found.quantity, _quantity(seed, index));
        _checkUint("unitMassGrams", found.unitMassGrams, UNIT_MASS_GRAMS);
        _checkUint("unit", found.unit, UNIT);
    }

    function _checkUint(string memory check, uint256 actual, uint256 expected) private pure {
        if (actual != expected) revert UintMismatch(check, actual, expected);
    }

    function _checkBytes32(string memory check, bytes32 actual, bytes32 expected) private pure {
        if (actual != expected) revert Bytes32Mismatch(check, actual, expected);
    }
}
