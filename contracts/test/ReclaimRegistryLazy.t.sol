// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC1155Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {IERC1155MetadataURI} from "@openzeppelin/contracts/token/ERC1155/extensions/IERC1155MetadataURI.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {IReclaimRegistry} from "../IReclaimRegistry.sol";
import {ReferenceComparisonTest, Vm} from "./TestSupport.sol";

/// @notice Batch registration of the registry: packed entries, lazy balances against
/// OpenZeppelin's ERC-1155, the batch commitment, reveal, verification, the lots'
/// batches, and split, merge, install and dispose of batch lots.
contract ReclaimRegistryLazyTest is ReferenceComparisonTest {
    bytes32 private constant BUILDING_ID = bytes32("BLD-LGE-01");
    bytes32 private constant OTHER_BUILDING_ID = bytes32("BLD-NAM-02");
    bytes32 private constant CATEGORY = bytes32("doors");
    bytes32 private constant DESTINATION = bytes32("DST-RENOVATION-1");
    uint64 private constant UNIT_MASS_GRAMS = 18_500;

    address private constant CONTRACTOR = address(0xC0A7);
    address private constant YARD = address(0xDEA1);
    address private constant BUYER = address(0xB0E2);
    address private constant CARRIER = address(0xCA22);

    address[4] private actors = [CONTRACTOR, YARD, BUYER, CARRIER];

    function setUp() public {
        _setUpRegistry(
            _pair(BUILDING_ID, OTHER_BUILDING_ID),
            _pair(keccak256("building record"), keccak256("other building record"))
        );
    }

    /*//////////////////////////////////////////////////////////////
                              REGISTRATION
    //////////////////////////////////////////////////////////////*/

    function testRegisterMatchesReference() public {
        uint256 firstLotId = _register(CONTRACTOR, 100, 1);

        _assertEq(firstLotId, 1, "first lot id");
        _assertEq(registry.lotCount(), 100, "lotCount");
        _checkAllBalances(100);
    }

    function testRegisterOneLotMatchesReference() public {
        // OpenZeppelin emits TransferSingle for a one-id batch; so must the registry.
        _register(CONTRACTOR, 1, 1);

        _checkAllBalances(1);
    }

    function testRegisterEmitsBatchEventThenTransfer() public {
        bytes memory entries = _entries(3, 1);

        VM.recordLogs();
        registry.registerLots(CONTRACTOR, BUILDING_ID, entries);
        Vm.Log[] memory logs = VM.getRecordedLogs();

        _assertEq(logs.length, 2, "log count");
        _assertEq(logs[0].topics[0], IReclaimRegistry.LotBatchRegistered.selector, "log 0 signature");
        _assertEq(logs[0].topics[1], bytes32(uint256(1)), "log 0 first lot id");
        _assertEq(logs[0].topics[2], BUILDING_ID, "log 0 building");
        _assertEq(logs[0].topics[3], bytes32(uint256(uint160(CONTRACTOR))), "log 0 holder");
        _assertEq(abi.decode(logs[0].data, (bytes)), entries, "log 0 entries");
        _assertEq(logs[1].topics[0], IERC1155.TransferBatch.selector, "log 1 signature");
    }

    function testLotIdsContinueAfterSplit() public {
        _register(CONTRACTOR, 3, 1);
        _reveal(2);
        VM.prank(CONTRACTOR);
        registry.split(2, _pair(10, 20));

        uint256 firstLotId = _register(YARD, 2, 2);

        _assertEq(firstLotId, 6, "first id after split children");
        _assertEq(registry.lotCount(), 7, "lotCount");
    }

    function testRegisterAcceptsMaxBatch() public {
        uint256 size = registry.MAX_BATCH_SIZE();

        _register(CONTRACTOR, size, 1);
        _register(YARD, size, 2);

        _assertEq(registry.lotCount(), 2 * size, "lotCount");
        _checkAllBalances(2 * size);
    }

    function testRegisterRejectsOversizedBatch() public {
        uint256 size = registry.MAX_BATCH_SIZE() + 1;
        bytes memory entries = _entries(size, 1);

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryBatchTooLarge.selector, size, size - 1));
        registry.registerLots(CONTRACTOR, BUILDING_ID, entries);
    }

    function testRegisterRejectsBadEntriesLength() public {
        bytes memory entries = _entries(3, 1);
        uint256[6] memory lengths = [uint256(0), 1, 80, 82, 161, 243 - 1];
        for (uint256 i = 0; i < lengths.length; ++i) {
            bytes memory cut = _prefix(entries, lengths[i]);

            VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryInvalidEntries.selector, lengths[i]));
            registry.registerLots(CONTRACTOR, BUILDING_ID, cut);
        }
        _assertEq(registry.lotCount(), 0, "lotCount");
    }

    function testRegisterRejectsUnknownBuilding() public {
        bytes memory entries = _entries(2, 1);

        VM.expectRevert(
            abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryUnknownBuilding.selector, bytes32("BLD-NONE"))
        );
        registry.registerLots(CONTRACTOR, bytes32("BLD-NONE"), entries);
    }

    function testRegisterRejectsInvalidEntry() public {
        _register(CONTRACTOR, 2, 1);
        bytes memory valid = _entry(_recordHash(9, 0), CATEGORY, 5, UNIT_MASS_GRAMS, 0);

        // Each invalid field is in the second entry, which would get lot id 4.
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryInvalidCategory.selector, bytes32(0)));
        registry.registerLots(
            CONTRACTOR, BUILDING_ID, bytes.concat(valid, _entry(_recordHash(9, 1), 0, 5, UNIT_MASS_GRAMS, 0))
        );

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryInvalidUnit.selector, 5));
        registry.registerLots(
            CONTRACTOR, BUILDING_ID, bytes.concat(valid, _entry(_recordHash(9, 1), CATEGORY, 5, UNIT_MASS_GRAMS, 5))
        );

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryZeroQuantity.selector, 4));
        registry.registerLots(
            CONTRACTOR, BUILDING_ID, bytes.concat(valid, _entry(_recordHash(9, 1), CATEGORY, 0, UNIT_MASS_GRAMS, 0))
        );

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryInvalidRecordHash.selector, bytes32(0)));
        registry.registerLots(CONTRACTOR, BUILDING_ID, bytes.concat(valid, _entry(0, CATEGORY, 5, UNIT_MASS_GRAMS, 0)));

        _assertEq(registry.lotCount(), 2, "lotCount");
    }

    function testRegisterRejectsNonRegistrar() public {
        bytes memory entries = _entries(2, 1);

        VM.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, YARD, registry.REGISTRAR_ROLE()
            )
        );
        VM.prank(YARD);
        registry.registerLots(YARD, BUILDING_ID, entries);
    }

    function testRegisterRejectsZeroHolder() public {
        bytes memory entries = _entries(2, 1);

        VM.expectRevert(abi.encodeWithSelector(IERC1155Errors.ERC1155InvalidReceiver.selector, address(0)));
        registry.registerLots(address(0), BUILDING_ID, entries);
    }

    function testUint64LimitsRoundTrip() public {
        uint64 max = type(uint64).max;
        bytes memory entries = bytes.concat(
            _entry(_recordHash(1, 0), CATEGORY, max, max, 4), _entry(_recordHash(1, 1), CATEGORY, max, max, 4)
        );
        registry.registerLots(CONTRACTOR, BUILDING_ID, entries);
        batchBuilding[1] = BUILDING_ID;
        batchEntries[1] = entries;

        _assertEq(registry.balanceOf(CONTRACTOR, 1), max, "balance of max quantity");
        IReclaimRegistry.Lot memory found = registry.verifyLot(2, BUILDING_ID, entries);
        _assertEq(found.quantity, max, "verified quantity");
        _assertEq(found.unitMassGrams, max, "verified unit mass");

        VM.prank(CONTRACTOR);
        registry.transferCustody(CONTRACTOR, YARD, 1, max, 1, bytes32(0));
        _assertEq(registry.balanceOf(CONTRACTOR, 1), 0, "holder after moving all");
        _assertEq(registry.balanceOf(YARD, 1), max, "receiver after moving all");

        // A merge of two whole lots of 2^64 - 1 makes a lot above the entry limit, with a
        // plain balance.
        _reveal(1);
        _reveal(2);
        VM.prank(YARD);
        registry.transferCustody(YARD, CONTRACTOR, 1, max, 1, bytes32(0));
        VM.prank(CONTRACTOR);
        uint256 merged = registry.merge(_pair(1, 2), _pair(max, max));
        _assertEq(registry.balanceOf(CONTRACTOR, merged), uint256(max) * 2, "merged balance");
        _assertEq(registry.lot(merged).quantity, uint256(max) * 2, "merged quantity");
    }

    /*//////////////////////////////////////////////////////////////
                           REVEAL AND VERIFY
    //////////////////////////////////////////////////////////////*/

    function testVerifyLotDecodesEntryWithoutReveal() public {
        _register(CONTRACTOR, 5, 7);

        IReclaimRegistry.Lot memory found = registry.verifyLot(4, BUILDING_ID, batchEntries[1]);

        _checkLot(found, 7, 3);
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryLotNotRevealed.selector, 4));
        registry.lot(4);
    }

    function testVerifyLotRejectsAlteredEntries() public {
        _register(CONTRACTOR, 30, 1);
        bytes memory altered = batchEntries[1];
        altered[100] = bytes1(uint8(altered[100]) ^ 1);

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryBatchMismatch.selector, 12));
        registry.verifyLot(12, BUILDING_ID, altered);
    }

    function testVerifyLotRejectsOtherBuildingOrBatch() public {
        _register(CONTRACTOR, 4, 1);
        _register(CONTRACTOR, 4, 2);

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryBatchMismatch.selector, 2));
        registry.verifyLot(2, OTHER_BUILDING_ID, batchEntries[1]);
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryBatchMismatch.selector, 2));
        registry.verifyLot(2, BUILDING_ID, batchEntries[5]);
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryBatchMismatch.selector, 2));
        registry.verifyLot(2, BUILDING_ID, _prefix(batchEntries[1], 3 * 81));
    }

    function testVerifyLotRejectsSplitChildAndUnknownLot() public {
        _register(CONTRACTOR, 2, 1);
        _reveal(1);
        VM.prank(CONTRACTOR);
        uint256[] memory children = registry.split(1, _pair(1, 2));

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryNotBatchLot.selector, children[0]));
        registry.verifyLot(children[0], BUILDING_ID, batchEntries[1]);
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryUnknownLot.selector, 5));
        registry.verifyLot(5, BUILDING_ID, batchEntries[1]);
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryUnknownLot.selector, 0));
        registry.verifyLot(0, BUILDING_ID, batchEntries[1]);
    }

    function testRevealLotStoresLotOnce() public {
        _register(CONTRACTOR, 5, 7);

        VM.recordLogs();
        registry.revealLot(2, BUILDING_ID, batchEntries[1]);
        registry.revealLot(2, BUILDING_ID, batchEntries[1]);
        Vm.Log[] memory logs = VM.getRecordedLogs();

        _assertEq(logs.length, 1, "LotRevealed count");
        _assertEq(logs[0].topics[0], IReclaimRegistry.LotRevealed.selector, "LotRevealed signature");
        _assertEq(logs[0].topics[1], bytes32(uint256(2)), "LotRevealed lot");
        _checkLot(registry.lot(2), 7, 1);
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryLotNotRevealed.selector, 3));
        registry.lot(3);
    }

    function testRevealLotByAnyone() public {
        _register(CONTRACTOR, 3, 1);

        VM.prank(BUYER);
        registry.revealLot(3, BUILDING_ID, batchEntries[1]);

        _checkLot(registry.lot(3), 1, 2);
    }

    function testRevealLotRejectsMismatch() public {
        _register(CONTRACTOR, 3, 1);
        bytes memory altered = batchEntries[1];
        altered[0] = bytes1(uint8(altered[0]) ^ 1);

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryBatchMismatch.selector, 1));
        registry.revealLot(1, BUILDING_ID, altered);
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryUnknownLot.selector, 4));
        registry.revealLot(4, BUILDING_ID, batchEntries[1]);
    }

    function testRevealOfStoredLotIsNoOp() public {
        _register(CONTRACTOR, 2, 1);
        _reveal(1);
        VM.prank(CONTRACTOR);
        uint256[] memory children = registry.split(1, _pair(1, 2));

        VM.recordLogs();
        registry.revealLot(children[1], BUILDING_ID, batchEntries[1]);
        registry.revealLot(1, BUILDING_ID, "");

        _assertEq(VM.getRecordedLogs().length, 0, "log count");
        _assertEq(registry.lot(children[1]).quantity, 2, "child quantity");
    }

    function testRevealLotsStoresEachLot() public {
        _register(CONTRACTOR, 5, 7);
        uint256[] memory lotIds = new uint256[](3);
        lotIds[0] = 4;
        lotIds[1] = 2;
        lotIds[2] = 5;

        VM.recordLogs();
        registry.revealLots(lotIds, BUILDING_ID, batchEntries[1]);
        Vm.Log[] memory logs = VM.getRecordedLogs();

        _assertEq(logs.length, 3, "LotRevealed count");
        for (uint256 i = 0; i < lotIds.length; ++i) {
            _assertEq(logs[i].topics[0], IReclaimRegistry.LotRevealed.selector, "LotRevealed signature");
            _assertEq(logs[i].topics[1], bytes32(lotIds[i]), "LotRevealed lot");
            _checkLot(registry.lot(lotIds[i]), 7, lotIds[i] - 1);
        }
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryLotNotRevealed.selector, 3));
        registry.lot(3);
    }

    function testRevealLotsByAnyoneAtBatchEdges() public {
        _register(CONTRACTOR, 2, 1);
        _register(YARD, 4, 2);

        VM.prank(BUYER);
        registry.revealLots(_pair(6, 3), BUILDING_ID, batchEntries[3]);

        _checkLot(registry.lot(3), 2, 0);
        _checkLot(registry.lot(6), 2, 3);
    }

    function testRevealLotsSkipsStoredLots() public {
        _register(CONTRACTOR, 3, 1);
        _reveal(2);
        VM.prank(CONTRACTOR);
        uint256[] memory children = registry.split(2, _pair(1, 2));
        uint256[] memory lotIds = new uint256[](4);
        lotIds[0] = 2;
        lotIds[1] = children[0];
        lotIds[2] = 1;
        lotIds[3] = 1;

        VM.recordLogs();
        registry.revealLots(lotIds, BUILDING_ID, batchEntries[1]);
        registry.revealLots(_pair(1, children[1]), BUILDING_ID, "");
        Vm.Log[] memory logs = VM.getRecordedLogs();

        // Lot 2 and the split child were stored before, and lot 1 is stored once.
        _assertEq(logs.length, 1, "LotRevealed count");
        _assertEq(logs[0].topics[1], bytes32(uint256(1)), "LotRevealed lot");
        _checkLot(registry.lot(1), 1, 0);
        _assertEq(registry.lot(children[0]).quantity, 1, "child quantity");
    }

    function testRevealLotsRejectsLotOfOtherBatch() public {
        _register(CONTRACTOR, 3, 1);
        _register(CONTRACTOR, 3, 2);

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryLotOutsideBatch.selector, 4, 1));
        registry.revealLots(_pair(3, 4), BUILDING_ID, batchEntries[1]);
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryLotOutsideBatch.selector, 3, 4));
        registry.revealLots(_pair(4, 3), BUILDING_ID, batchEntries[4]);
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryLotNotRevealed.selector, 3));
        registry.lot(3);
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryLotNotRevealed.selector, 4));
        registry.lot(4);
    }

    function testRevealLotsRejectsWrongEntries() public {
        _register(CONTRACTOR, 3, 1);
        _register(CONTRACTOR, 3, 2);
        bytes memory altered = batchEntries[1];
        altered[100] = bytes1(uint8(altered[100]) ^ 1);

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryBatchMismatch.selector, 2));
        registry.revealLots(_pair(2, 3), BUILDING_ID, altered);
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryBatchMismatch.selector, 2));
        registry.revealLots(_pair(2, 3), OTHER_BUILDING_ID, batchEntries[1]);
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryBatchMismatch.selector, 2));
        registry.revealLots(_pair(2, 3), BUILDING_ID, batchEntries[4]);
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryUnknownLot.selector, 7));
        registry.revealLots(_pair(2, 7), BUILDING_ID, batchEntries[1]);
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryLotNotRevealed.selector, 2));
        registry.lot(2);
    }

    function testRevealLotsRejectsEmptyList() public {
        _register(CONTRACTOR, 3, 1);

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryEmptyBatch.selector));
        registry.revealLots(new uint256[](0), BUILDING_ID, batchEntries[1]);
    }

    function testLotBatchNamesTheBatch() public {
        VM.roll(40);
        _register(CONTRACTOR, 3, 1);
        VM.roll(41);
        uint256[] memory quantities = new uint256[](1);
        quantities[0] = 1;
        _reveal(2);
        VM.prank(CONTRACTOR);
        uint256 child = registry.split(2, quantities)[0];
        VM.roll(57);
        _register(YARD, 4, 2);

        (uint256 firstLotId, uint256 count, uint256 blockNumber) = registry.lotBatch(7);
        _assertEq(firstLotId, 5, "first lot of second batch");
        _assertEq(count, 4, "count of second batch");
        _assertEq(blockNumber, 57, "block of second batch");
        (firstLotId, count, blockNumber) = registry.lotBatch(3);
        _assertEq(firstLotId, 1, "first lot of first batch");
        _assertEq(count, 3, "count of first batch");
        _assertEq(blockNumber, 40, "block of first batch");
        (firstLotId, count, blockNumber) = registry.lotBatch(child);
        _assertEq(firstLotId, 0, "first lot of a split child");
        _assertEq(count, 0, "count of a split child");
        _assertEq(blockNumber, 0, "block of a split child");

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryUnknownLot.selector, 9));
        registry.lotBatch(9);
    }

    /*//////////////////////////////////////////////////////////////
                           SPLIT AND MERGE IDS
    //////////////////////////////////////////////////////////////*/

    function testSplitChildBetweenBatches() public {
        _register(CONTRACTOR, 3, 1);
        _reveal(2);
        uint256[] memory children = _split(CONTRACTOR, 2, _pair(100, 200));
        _register(CONTRACTOR, 3, 2);

        _assertEq(children[0], 4, "first child id");
        _checkBatch(children[0], 0, 0);
        _checkBatch(children[1], 0, 0);
        _checkBatch(3, 1, 3);
        _checkBatch(6, 6, 3);
        _assertEq(registry.balanceOf(CONTRACTOR, children[1]), 200, "child balance");
        _checkAllBalances(8);
    }

    function testMergedLotBetweenBatches() public {
        // Lots 1 and 6 have the same unit (entry index modulo 5), so they can be merged.
        _register(CONTRACTOR, 6, 1);
        _reveal(1);
        _reveal(6);
        uint256 merged = _merge(CONTRACTOR, _pair(1, 6), _pair(5, 7));
        _register(YARD, 2, 2);

        _assertEq(merged, 7, "merged id");
        _checkBatch(merged, 0, 0);
        _checkBatch(8, 8, 2);
        _assertEq(registry.balanceOf(CONTRACTOR, merged), 12, "merged balance");
        _checkAllBalances(9);
    }

    function testChildIdsPastBitmapWords() public {
        // 300 children take ids 251 to 550, across two bitmap words after a batch that
        // starts in word 0; none of them belongs to that batch.
        _register(CONTRACTOR, 250, 1);
        _reveal(250);
        uint256[] memory quantities = new uint256[](300);
        for (uint256 i = 0; i < quantities.length; ++i) {
            quantities[i] = 1;
        }
        uint256[] memory children = _split(CONTRACTOR, 250, quantities);
        _register(YARD, 5, 2);

        _assertEq(children[299], 550, "last child id");
        _checkBatch(251, 0, 0);
        _checkBatch(300, 0, 0);
        _checkBatch(511, 0, 0);
        _checkBatch(512, 0, 0);
        _checkBatch(550, 0, 0);
        _checkBatch(551, 551, 5);
        _checkAllBalances(555);
    }

    function testSplitOfUnrevealedLotReverts() public {
        _register(CONTRACTOR, 3, 1);

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryLotNotRevealed.selector, 2));
        VM.prank(CONTRACTOR);
        registry.split(2, _pair(1, 1));
    }

    function testMergeOfUnrevealedLotReverts() public {
        _register(CONTRACTOR, 3, 1);
        _reveal(1);

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryLotNotRevealed.selector, 3));
        VM.prank(CONTRACTOR);
        registry.merge(_pair(1, 3), _pair(1, 1));
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryLotNotRevealed.selector, 2));
        VM.prank(CONTRACTOR);
        registry.merge(_pair(2, 1), _pair(1, 1));
    }

    /*//////////////////////////////////////////////////////////////
                     MOVES, BURNS AND THE REFERENCE
    //////////////////////////////////////////////////////////////*/

    function testFirstTransferMatchesReference() public {
        _register(CONTRACTOR, 100, 1);

        _transfer(CONTRACTOR, YARD, 57, 400);

        _checkAllBalances(100);
        _assertEq(registry.balanceOf(CONTRACTOR, 57), _quantity(1, 56) - 400, "holder balance");
        _assertEq(registry.balanceOf(YARD, 57), 400, "receiver balance");
    }

    function testWholeLotMovedAwayLeavesZero() public {
        _register(CONTRACTOR, 10, 1);
        uint256 quantity = _quantity(1, 2);

        _transfer(CONTRACTOR, YARD, 3, quantity);
        _assertEq(registry.balanceOf(CONTRACTOR, 3), 0, "holder after");
        _transfer(YARD, CONTRACTOR, 3, 7);
        _assertEq(registry.balanceOf(CONTRACTOR, 3), 7, "holder back");
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
        _assertEq(registry.balanceOf(CONTRACTOR, 300), _quantity(2, 49), "lot 300");
        _assertEq(registry.balanceOf(CONTRACTOR, 506), _quantity(2, 255), "lot 506");
        _assertEq(registry.balanceOf(YARD, 250), _quantity(1, 249), "lot 250");
        _assertEq(registry.balanceOf(YARD, 300), 0, "not holder");
        _checkAllBalances(506);
    }

    function testUnknownLotHasNoBalance() public {
        _register(CONTRACTOR, 5, 1);

        _assertEq(registry.balanceOf(CONTRACTOR, 0), 0, "lot 0");
        _assertEq(registry.balanceOf(CONTRACTOR, 6), 0, "lot 6");
    }

    function testInsufficientBalanceReverts() public {
        _register(CONTRACTOR, 5, 1);
        uint256 quantity = _quantity(1, 1);

        VM.expectRevert(
            abi.encodeWithSelector(
                IERC1155Errors.ERC1155InsufficientBalance.selector, CONTRACTOR, quantity, quantity + 1, 2
            )
        );
        VM.prank(CONTRACTOR);
        registry.safeTransferFrom(CONTRACTOR, YARD, 2, quantity + 1, "");
    }

    function testStrangerCannotSpendUntouchedLot() public {
        _register(CONTRACTOR, 5, 1);

        VM.expectRevert(abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, YARD, 0, 1, 2));
        VM.prank(YARD);
        registry.safeTransferFrom(YARD, BUYER, 2, 1, "");
    }

    function testTransferCustodyMatchesReference() public {
        _register(CONTRACTOR, 20, 1);

        VM.recordLogs();
        VM.prank(CONTRACTOR);
        registry.transferCustody(CONTRACTOR, YARD, 9, 1000, 1, keccak256("invoice"));
        Vm.Log[] memory lazyLogs = VM.getRecordedLogs();
        VM.prank(CONTRACTOR);
        anchor.safeTransferFrom(CONTRACTOR, YARD, 9, 1000, "");
        _checkSameTransferLogs(lazyLogs, VM.getRecordedLogs());

        _assertEq(lazyLogs.length, 2, "log count");
        _assertEq(lazyLogs[1].topics[0], IReclaimRegistry.CustodyTransferred.selector, "custody log second");
        _checkAllBalances(20);
    }

    function testInstallUnrevealedLotMatchesReference() public {
        _register(CONTRACTOR, 10, 1);
        uint256 quantity = _quantity(1, 3);

        _install(CONTRACTOR, 4, 300);
        _install(CONTRACTOR, 4, quantity - 300);

        _assertEq(registry.balanceOf(CONTRACTOR, 4), 0, "installed whole lot");
        _checkAllBalances(10);
        VM.expectRevert(abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, CONTRACTOR, 0, 1, 4));
        VM.prank(CONTRACTOR);
        registry.install(4, 1, DESTINATION, bytes32(0));
    }

    function testDisposeUnrevealedLotMatchesReference() public {
        _register(CONTRACTOR, 10, 1);
        _transfer(CONTRACTOR, YARD, 6, 50);

        VM.recordLogs();
        VM.prank(YARD);
        registry.dispose(6, 20, 2, keccak256("waste note"));
        Vm.Log[] memory lazyLogs = VM.getRecordedLogs();
        VM.prank(YARD);
        anchor.burn(YARD, 6, 20);
        _checkSameTransferLogs(lazyLogs, VM.getRecordedLogs());

        VM.recordLogs();
        VM.prank(CONTRACTOR);
        registry.dispose(7, 5, 0, bytes32(0));
        lazyLogs = VM.getRecordedLogs();
        VM.prank(CONTRACTOR);
        anchor.burn(CONTRACTOR, 7, 5);
        _checkSameTransferLogs(lazyLogs, VM.getRecordedLogs());

        _checkAllBalances(10);
    }

    function testSplitAndMergeOfLazyLotsMatchReference() public {
        // Lots 1 and 6 have the same unit (entry index modulo 5), so they can be merged.
        _register(CONTRACTOR, 6, 1);
        _reveal(1);
        _reveal(6);
        _transfer(CONTRACTOR, YARD, 6, 100);

        // Split burns from an untouched holder slot, merge from a touched one.
        uint256[] memory children = _split(CONTRACTOR, 1, _pair(10, 20));
        uint256 merged = _merge(CONTRACTOR, _pair(6, children[0]), _pair(30, 10));

        _assertEq(merged, 9, "merged id");
        _assertEq(registry.balanceOf(CONTRACTOR, merged), 40, "merged balance");
        _checkAllBalances(9);
    }

    function testFirstTransferGasBounded() public {
        // The first move of lot 1 and of lot 100 of one batch cost the same, and a lot in
        // the next bitmap word costs at most one more cold storage read (2,100 gas) and
        // its slot hashing and branch (measured about 200 gas). A
        // move of another lot of each batch first warms the receiver account and the
        // batch's pointer, which a test's single transaction would otherwise warm unevenly.
        _register(CONTRACTOR, 100, 1);
        _register(CONTRACTOR, 200, 2);

        _firstTransferGas(50);
        uint256 first = _firstTransferGas(1);
        uint256 last = _firstTransferGas(100);
        _firstTransferGas(150);
        uint256 secondStart = _firstTransferGas(101);
        uint256 nextWord = _firstTransferGas(290);

        _assertLe(_difference(first, last), 100, "first vs last lot");
        _assertLe(_difference(first, secondStart), 100, "first lots of two batches");
        _assertLe(_difference(secondStart, nextWord), 2_100 + 300, "lot in next bitmap word");
    }

    function testFuzzRegisterMatchesReference(uint16 size, uint256 batch) public {
        uint256 count = 1 + uint256(size) % registry.MAX_BATCH_SIZE();
        _register(CONTRACTOR, 3, batch);
        _register(YARD, count, batch ^ 1);

        _checkAllBalances(3 + count);
    }

    function testFuzzMovesMatchReference(uint16 sizeA, uint16 sizeB, uint256 seed) public {
        uint256 first = 1 + uint256(sizeA) % 256;
        uint256 second = 1 + uint256(sizeB) % 256;
        _register(CONTRACTOR, first, 1);
        _register(YARD, second, 2);
        uint256 lots = first + second;

        for (uint256 step = 0; step < 8; ++step) {
            seed = uint256(keccak256(abi.encode(seed, step)));
            uint256 lotId = 1 + seed % lots;
            address from = actors[(seed >> 16) % 4];
            uint256 balance = anchor.balanceOf(from, lotId);
            if (balance == 0) continue;
            uint256 value = 1 + (seed >> 32) % balance;
            if ((seed >> 64) % 4 == 0) {
                _install(from, lotId, value);
            } else {
                // The registry rejects a transfer to oneself, so `to` is another actor.
                address to = actors[((seed >> 16) + 1 + (seed >> 24) % 3) % 4];
                _transfer(from, to, lotId, value);
            }
        }
        _checkAllBalances(lots);
    }

    /*//////////////////////////////////////////////////////////////
                         ERC-1155 SURFACE
    //////////////////////////////////////////////////////////////*/

    function testSupportsSameInterfaces() public view {
        bytes4[5] memory ids = [
            type(IERC165).interfaceId,
            type(IERC1155).interfaceId,
            type(IERC1155MetadataURI).interfaceId,
            type(IAccessControl).interfaceId,
            bytes4(0xffffffff)
        ];
        bool[5] memory expected = [true, true, true, true, false];
        for (uint256 i = 0; i < ids.length; ++i) {
            _assertEq(_flag(registry.supportsInterface(ids[i])), _flag(expected[i]), "supportsInterface");
        }
        _assertEq(bytes(registry.uri(1)), bytes(anchor.uri(1)), "uri");
    }

    function testApprovalMatchesReference() public {
        VM.recordLogs();
        VM.prank(CONTRACTOR);
        registry.setApprovalForAll(CARRIER, true);
        Vm.Log[] memory lazyLogs = VM.getRecordedLogs();
        VM.prank(CONTRACTOR);
        anchor.setApprovalForAll(CARRIER, true);
        Vm.Log[] memory referenceLogs = VM.getRecordedLogs();

        _assertEq(lazyLogs.length, 1, "log count");
        _assertEq(
            keccak256(abi.encode(lazyLogs[0].topics)),
            keccak256(abi.encode(referenceLogs[0].topics)),
            "ApprovalForAll topics"
        );
        _assertEq(lazyLogs[0].data, referenceLogs[0].data, "ApprovalForAll data");
        _assertEq(_flag(registry.isApprovedForAll(CONTRACTOR, CARRIER)), 1, "isApprovedForAll");

        VM.expectRevert(abi.encodeWithSelector(IERC1155Errors.ERC1155InvalidOperator.selector, address(0)));
        VM.prank(CONTRACTOR);
        registry.setApprovalForAll(address(0), true);
    }

    function testOperatorMovesUntouchedLot() public {
        _register(CONTRACTOR, 3, 1);
        VM.prank(CONTRACTOR);
        registry.setApprovalForAll(CARRIER, true);
        VM.prank(CONTRACTOR);
        anchor.setApprovalForAll(CARRIER, true);

        VM.recordLogs();
        VM.prank(CARRIER);
        registry.safeTransferFrom(CONTRACTOR, YARD, 2, 10, "");
        Vm.Log[] memory lazyLogs = VM.getRecordedLogs();
        VM.prank(CARRIER);
        anchor.safeTransferFrom(CONTRACTOR, YARD, 2, 10, "");
        _checkSameTransferLogs(lazyLogs, VM.getRecordedLogs());

        _checkAllBalances(3);
    }

    function testTransferErrorsMatchReference() public {
        _register(CONTRACTOR, 3, 1);
        address[] memory accounts = new address[](2);
        uint256[] memory ids = new uint256[](1);

        VM.expectRevert(abi.encodeWithSelector(IERC1155Errors.ERC1155InvalidArrayLength.selector, 1, 2));
        registry.balanceOfBatch(accounts, ids);
        VM.expectRevert(abi.encodeWithSelector(IERC1155Errors.ERC1155InvalidReceiver.selector, address(0)));
        VM.prank(CONTRACTOR);
        registry.safeTransferFrom(CONTRACTOR, address(0), 1, 1, "");
        VM.expectRevert(abi.encodeWithSelector(IERC1155Errors.ERC1155MissingApprovalForAll.selector, YARD, CONTRACTOR));
        VM.prank(YARD);
        registry.safeTransferFrom(CONTRACTOR, YARD, 1, 1, "");
    }

    /*//////////////////////////////////////////////////////////////
                                HELPERS
    //////////////////////////////////////////////////////////////*/

    /// @dev Registers `count` lots of batch seed `batch` on the registry and mints them on
    /// the reference, and checks that both emitted the same ERC-1155 events.
    function _register(address holder, uint256 count, uint256 batch) private returns (uint256 firstLotId) {
        uint256[] memory quantities = new uint256[](count);
        for (uint256 i = 0; i < count; ++i) {
            quantities[i] = _quantity(batch, i);
        }
        firstLotId = _registerBatch(holder, BUILDING_ID, _entries(count, batch), quantities);
    }

    function _install(address holder, uint256 id, uint256 value) private {
        VM.recordLogs();
        VM.prank(holder);
        registry.install(id, value, DESTINATION, keccak256("delivery note"));
        Vm.Log[] memory lazyLogs = VM.getRecordedLogs();
        VM.prank(holder);
        anchor.burn(holder, id, value);
        _checkSameTransferLogs(lazyLogs, VM.getRecordedLogs());
    }

    function _firstTransferGas(uint256 lotId) private returns (uint256 used) {
        VM.prank(CONTRACTOR);
        uint256 before = gasleft();
        registry.transferCustody(CONTRACTOR, YARD, lotId, 1, 1, bytes32(0));
        used = before - gasleft();
    }

    // Checks balanceOf and balanceOfBatch of every actor for every lot against the anchor.
    function _checkAllBalances(uint256 lots) private view {
        address[] memory accounts = new address[](lots * 4);
        uint256[] memory ids = new uint256[](lots * 4);
        for (uint256 id = 1; id <= lots; ++id) {
            for (uint256 a = 0; a < 4; ++a) {
                uint256 expected = anchor.balanceOf(actors[a], id);
                _assertEq(registry.balanceOf(actors[a], id), expected, "balanceOf");
                accounts[(id - 1) * 4 + a] = actors[a];
                ids[(id - 1) * 4 + a] = id;
            }
        }
        uint256[] memory lazy = registry.balanceOfBatch(accounts, ids);
        uint256[] memory expectedBatch = anchor.balanceOfBatch(accounts, ids);
        for (uint256 i = 0; i < lazy.length; ++i) {
            _assertEq(lazy[i], expectedBatch[i], "balanceOfBatch");
        }
    }

    function _entries(uint256 count, uint256 batch) private pure returns (bytes memory entries) {
        for (uint256 i = 0; i < count; ++i) {
            entries = bytes.concat(
                entries, _entry(_recordHash(batch, i), CATEGORY, _quantity(batch, i), UNIT_MASS_GRAMS, _unit(i))
            );
        }
    }

    function _quantity(uint256 batch, uint256 index) private pure returns (uint64) {
        return uint64(1000 + uint256(keccak256(abi.encode("quantity", batch, index))) % 10_000_000);
    }

    function _recordHash(uint256 batch, uint256 index) private pure returns (bytes32) {
        return keccak256(abi.encode("record", batch, index));
    }

    function _unit(uint256 index) private pure returns (uint8) {
        return uint8(index % 5);
    }

    function _flag(bool value) private pure returns (uint256) {
        return value ? 1 : 0;
    }

    function _difference(uint256 a, uint256 b) private pure returns (uint256) {
        return a > b ? a - b : b - a;
    }

    function _checkLot(IReclaimRegistry.Lot memory found, uint256 batch, uint256 index) private pure {
        _assertEq(found.buildingId, BUILDING_ID, "buildingId");
        _assertEq(found.category, CATEGORY, "category");
        _assertEq(found.recordHash, _recordHash(batch, index), "recordHash");
        _assertEq(found.quantity, _quantity(batch, index), "quantity");
        _assertEq(found.unitMassGrams, UNIT_MASS_GRAMS, "unitMassGrams");
        _assertEq(found.unit, _unit(index), "unit");
    }
}
