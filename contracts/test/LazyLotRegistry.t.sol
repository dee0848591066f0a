// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC1155Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {LazyBatchBalances} from "../prototype/LazyBatchBalances.sol";
import {LazyLotRegistry} from "../prototype/LazyLotRegistry.sol";

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

/// @notice OpenZeppelin's ERC-1155 with an open batch mint: the reference the lazy
/// balances must match, balance for balance and event for event.
contract ReferenceToken is ERC1155("") {
    function mintBatch(address to, uint256[] memory ids, uint256[] memory values) external {
        _mintBatch(to, ids, values, "");
    }
}

/// @notice LazyLotRegistry against OpenZeppelin's ERC-1155: every operation runs on both,
/// then every balance of every lot and every ERC-1155 event must be equal.
contract LazyLotRegistryTest {
    error UintMismatch(string check, uint256 actual, uint256 expected);
    error BytesMismatch(string check, bytes actual, bytes expected);

    LazyVm private constant VM = LazyVm(address(uint160(uint256(keccak256("hevm cheat code")))));

    bytes32 private constant TRANSFER_SINGLE = keccak256("TransferSingle(address,address,address,uint256,uint256)");
    bytes32 private constant TRANSFER_BATCH = keccak256("TransferBatch(address,address,address,uint256[],uint256[])");
    bytes32 private constant BUILDING_ID = bytes32("BLD-LGE-01");
    bytes32 private constant CATEGORY = bytes32("doors");

    address private constant CONTRACTOR = address(0xC0A7);
    address private constant YARD = address(0xDEA1);
    address private constant BUYER = address(0xB0E2);
    address private constant CARRIER = address(0xCA22);

    LazyLotRegistry private registry;
    ReferenceToken private anchor;
    address[4] private actors = [CONTRACTOR, YARD, BUYER, CARRIER];

    function setUp() public {
        registry = new LazyLotRegistry(address(this));
        anchor = new ReferenceToken();
        bytes32[] memory ids = new bytes32[](1);
        ids[0] = BUILDING_ID;
        bytes32[] memory hashes = new bytes32[](1);
        hashes[0] = keccak256("building record");
        registry.registerBuildings(ids, hashes);
    }

    /*//////////////////////////////////////////////////////////////
                                 TESTS
    //////////////////////////////////////////////////////////////*/

    function testRegisterMatchesReference() public {
        _register(CONTRACTOR, 100, 1);

        _checkAllBalances(100);
        _checkUint("lotCount", registry.lotCount(), 100);
    }

    function testFirstTransferMatchesReference() public {
        _register(CONTRACTOR, 100, 1);

        _transfer(CONTRACTOR, YARD, 57, 400);
        _checkAllBalances(100);
        _checkUint("holder balance", registry.balanceOf(CONTRACTOR, 57), _quantity(1, 56) - 400);
        _checkUint("receiver balance", registry.balanceOf(YARD, 57), 400);
    }

    function testWholeLotMovedAwayLeavesZero() public {
        _register(CONTRACTOR, 10, 1);
        uint256 quantity = _quantity(1, 2);

        _transfer(CONTRACTOR, YARD, 3, quantity);
        _checkUint("holder after", registry.balanceOf(CONTRACTOR, 3), 0);
        _transfer(YARD, CONTRACTOR, 3, 7);
        _checkUint("holder back", registry.balanceOf(CONTRACTOR, 3), 7);
        _checkAllBalances(10);
    }

    function testBatchTransferAcrossBatches() public {
        _register(CONTRACTOR, 200, 1);
        _register(CONTRACTOR, 200, 2);
        uint256[] memory ids = new uint256[](3);
        (ids[0], ids[1], ids[2]) = (1, 200, 301);
        uint256[] memory values = new uint256[](3);
        (values[0], values[1], values[2]) = (1, 2, 3);

        _batchTransfer(CONTRACTOR, BUYER, ids, values);
        _checkAllBalances(400);
    }

    function testLookupCrossesBitmapWord() public {
        _register(YARD, 250, 1);
        _register(CONTRACTOR, 256, 2);

        // Lot 300 is in the second batch, which starts at 251 in the word before 300's.
        _checkUint("lot 300", registry.balanceOf(CONTRACTOR, 300), _quantity(2, 49));
        _checkUint("lot 506", registry.balanceOf(CONTRACTOR, 506), _quantity(2, 255));
        _checkUint("lot 250", registry.balanceOf(YARD, 250), _quantity(1, 249));
        _checkUint("not holder", registry.balanceOf(YARD, 300), 0);
        _checkAllBalances(506);
    }

    function testUnknownLotHasNoBalance() public {
        _register(CONTRACTOR, 5, 1);

        _checkUint("lot 0", registry.balanceOf(CONTRACTOR, 0), 0);
        _checkUint("lot 6", registry.balanceOf(CONTRACTOR, 6), 0);
    }

    function testInsufficientBalanceReverts() public {
        _register(CONTRACTOR, 5, 1);
        uint256 quantity = _quantity(1, 1);

        VM.prank(CONTRACTOR);
        VM.expectRevert(
            abi.encodeWithSelector(
                IERC1155Errors.ERC1155InsufficientBalance.selector, CONTRACTOR, quantity, quantity + 1, 2
            )
        );
        registry.safeTransferFrom(CONTRACTOR, YARD, 2, quantity + 1, "");
    }

    function testStrangerCannotSpendUntouchedLot() public {
        _register(CONTRACTOR, 5, 1);

        VM.prank(YARD);
        VM.expectRevert(abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, YARD, 0, 1, 2));
        registry.safeTransferFrom(YARD, BUYER, 2, 1, "");
    }

    function testTransferCustodyMatchesReference() public {
        _register(CONTRACTOR, 20, 1);

        VM.recordLogs();
        VM.prank(CONTRACTOR);
        registry.transferCustody(CONTRACTOR, YARD, 9, 1000, 1, keccak256("invoice"));
        LazyVm.Log[] memory lazyLogs = VM.getRecordedLogs();
        VM.prank(CONTRACTOR);
        anchor.safeTransferFrom(CONTRACTOR, YARD, 9, 1000, "");
        _checkSameTransferLogs(lazyLogs, VM.getRecordedLogs());

        _checkUint("log count", lazyLogs.length, 2);
        _checkAllBalances(20);
    }

    function testVerifyLotReturnsEntry() public {
        bytes memory entries = _register(CONTRACTOR, 30, 1);

        LazyLotRegistry.LotEntry memory entry = registry.verifyLot(12, BUILDING_ID, entries);
        _checkUint("quantity", entry.quantity, _quantity(1, 11));
        _checkUint("record hash", uint256(entry.recordHash), uint256(_recordHash(1, 11)));
        _checkUint("unit", entry.unit, 11 % 5);
    }

    function testVerifyLotRejectsAlteredEntries() public {
        bytes memory entries = _register(CONTRACTOR, 30, 1);
        entries[100] = bytes1(uint8(entries[100]) ^ 1);

        VM.expectRevert(abi.encodeWithSelector(LazyLotRegistry.LazyLotRegistryBatchMismatch.selector, 12));
        registry.verifyLot(12, BUILDING_ID, entries);
    }

    function testRegisterRejectsOversizedBatch() public {
        uint256 size = registry.MAX_BATCH_SIZE() + 1;
        bytes memory entries = _entries(size, 1);

        VM.expectRevert(abi.encodeWithSelector(LazyBatchBalances.LazyBatchBalancesInvalidBatchSize.selector, size));
        registry.registerLots(CONTRACTOR, BUILDING_ID, entries);
    }

    function testRegisterRejectsTruncatedEntries() public {
        bytes memory entries = _entries(2, 1);
        assembly {
            mstore(entries, 100)
        }

        VM.expectRevert(abi.encodeWithSelector(LazyLotRegistry.LazyLotRegistryInvalidEntries.selector, 100));
        registry.registerLots(CONTRACTOR, BUILDING_ID, entries);
    }

    function testFuzzMovesMatchReference(uint16 sizeA, uint16 sizeB, uint256 seed) public {
        uint256 first = 1 + uint256(sizeA) % 256;
        uint256 second = 1 + uint256(sizeB) % 256;
        _register(CONTRACTOR, first, 1);
        _register(YARD, second, 2);
        uint256 lots = first + second;

        for (uint256 step = 0; step < 6; ++step) {
            seed = uint256(keccak256(abi.encode(seed, step)));
            uint256 lotId = 1 + seed % lots;
            address from = actors[(seed >> 16) % 4];
            address to = actors[(seed >> 24) % 4];
            uint256 balance = anchor.balanceOf(from, lotId);
            uint256 value = balance == 0 ? 0 : (seed >> 32) % (balance + 1);
            _transfer(from, to, lotId, value);
        }
        _checkAllBalances(lots);
    }

    /*//////////////////////////////////////////////////////////////
                                HELPERS
    //////////////////////////////////////////////////////////////*/

    function _register(address holder, uint256 count, uint256 batch) private returns (bytes memory entries) {
        entries = _entries(count, batch);
        uint256 firstLotId = registry.lotCount() + 1;
        uint256[] memory ids = new uint256[](count);
        uint256[] memory values = new uint256[](count);
        for (uint256 i = 0; i < count; ++i) {
            ids[i] = firstLotId + i;
            values[i] = _quantity(batch, i);
        }

        VM.recordLogs();
        registry.registerLots(holder, BUILDING_ID, entries);
        LazyVm.Log[] memory lazyLogs = VM.getRecordedLogs();
        anchor.mintBatch(holder, ids, values);
        _checkSameTransferLogs(lazyLogs, VM.getRecordedLogs());
    }

    function _transfer(address from, address to, uint256 id, uint256 value) private {
        VM.recordLogs();
        VM.prank(from);
        registry.safeTransferFrom(from, to, id, value, "");
        LazyVm.Log[] memory lazyLogs = VM.getRecordedLogs();
        VM.prank(from);
        anchor.safeTransferFrom(from, to, id, value, "");
        _checkSameTransferLogs(lazyLogs, VM.getRecordedLogs());
    }

    function _batchTransfer(address from, address to, uint256[] memory ids, uint256[] memory values) private {
        VM.recordLogs();
        VM.prank(from);
        registry.safeBatchTransferFrom(from, to, ids, values, "");
        LazyVm.Log[] memory lazyLogs = VM.getRecordedLogs();
        VM.prank(from);
        anchor.safeBatchTransferFrom(from, to, ids, values, "");
        _checkSameTransferLogs(lazyLogs, VM.getRecordedLogs());
    }

    // Checks balanceOf and balanceOfBatch of every actor for every lot against the anchor.
    function _checkAllBalances(uint256 lots) private view {
        address[] memory accounts = new address[](lots * 4);
        uint256[] memory ids = new uint256[](lots * 4);
        for (uint256 id = 1; id <= lots; ++id) {
            for (uint256 a = 0; a < 4; ++a) {
                uint256 expected = anchor.balanceOf(actors[a], id);
                _checkUint("balanceOf", registry.balanceOf(actors[a], id), expected);
                accounts[(id - 1) * 4 + a] = actors[a];
                ids[(id - 1) * 4 + a] = id;
            }
        }
        uint256[] memory lazy = registry.balanceOfBatch(accounts, ids);
        uint256[] memory expectedBatch = anchor.balanceOfBatch(accounts, ids);
        for (uint256 i = 0; i < lazy.length; ++i) {
            _checkUint("balanceOfBatch", lazy[i], expectedBatch[i]);
        }
    }

    // Compares the TransferSingle and TransferBatch logs of both tokens, topics and data.
    function _checkSameTransferLogs(LazyVm.Log[] memory lazyLogs, LazyVm.Log[] memory expected) private pure {
        bytes memory lazyEvents = _transferEvents(lazyLogs);
        bytes memory referenceEvents = _transferEvents(expected);
        if (keccak256(lazyEvents) != keccak256(referenceEvents)) {
            revert BytesMismatch("ERC-1155 events", lazyEvents, referenceEvents);
        }
    }

    function _transferEvents(LazyVm.Log[] memory logs) private pure returns (bytes memory packed) {
        for (uint256 i = 0; i < logs.length; ++i) {
            bytes32 topic = logs[i].topics[0];
            if (topic == TRANSFER_SINGLE || topic == TRANSFER_BATCH) {
                packed = abi.encodePacked(packed, abi.encode(logs[i].topics), logs[i].data);
            }
        }
        if (packed.length == 0) revert BytesMismatch("ERC-1155 events", packed, "at least one");
    }

    function _entries(uint256 count, uint256 batch) private pure returns (bytes memory entries) {
        for (uint256 i = 0; i < count; ++i) {
            entries = abi.encodePacked(
                entries, _recordHash(batch, i), CATEGORY, uint64(_quantity(batch, i)), uint64(18_500), uint8(i % 5)
            );
        }
    }

    function _quantity(uint256 batch, uint256 index) private pure returns (uint256) {
        return 1000 + uint256(keccak256(abi.encode("quantity", batch, index))) % 10_000_000;
    }

    function _recordHash(uint256 batch, uint256 index) private pure returns (bytes32) {
        return keccak256(abi.encode("record", batch, index));
    }

    function _checkUint(string memory check, uint256 actual, uint256 expected) private pure {
        if (actual != expected) revert UintMismatch(check, actual, expected);
    }
}
