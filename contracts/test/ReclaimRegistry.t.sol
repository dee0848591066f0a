// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";
import {IERC1155Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IReclaimRegistry} from "../IReclaimRegistry.sol";
import {ReclaimRegistry} from "../ReclaimRegistry.sol";
import {RegistryTestBase, Vm} from "./TestSupport.sol";

/// @notice Contract custodian that accepts every ERC-1155 transfer, like a custody wallet.
contract AcceptingHolder is ERC1155Holder {}

/// @notice Contract without the ERC-1155 receiver hooks, so it cannot take custody.
contract NonReceiver {}

/// @dev Passes every received quantity on to `next` from inside the receiver hook.
contract ForwardingHolder is ERC1155Holder {
    address private immutable next;

    constructor(address next_) {
        next = next_;
    }

    function onERC1155Received(address, address, uint256 id, uint256 value, bytes memory)
        public
        override
        returns (bytes4)
    {
        ReclaimRegistry(msg.sender).transferCustody(address(this), next, id, value, 1, bytes32(0));
        return this.onERC1155Received.selector;
    }
}

/// @notice Unit and fuzz tests of ReclaimRegistry: registration, custody transfers,
/// their events and every custom error.
contract ReclaimRegistryTest is RegistryTestBase {
    /// @dev A test lot's quantity or unit mass does not fit the entry's uint64 field.
    error EntryFieldTooLarge(uint256 quantity, uint256 unitMassGrams);

    /*//////////////////////////////////////////////////////////////
                               FIXTURES
    //////////////////////////////////////////////////////////////*/

    /// @dev One lot to register; `_registerLots` packs these into 81-byte entries.
    struct LotInput {
        bytes32 buildingId;
        bytes32 category;
        uint8 unit;
        uint256 quantity;
        uint256 unitMassGrams;
        bytes32 recordHash;
    }

    /// @dev Expected fields of one CustodyTransferred log.
    struct ExpectedCustody {
        uint256 lotId;
        address from;
        address to;
        uint256 quantity;
        uint8 reason;
        bytes32 referenceHash;
        address operator;
    }

    address private constant CONTRACTOR = address(0xC0A7);
    address private constant DEALER = address(0xDEA1);
    address private constant BUYER = address(0xB0E2);
    address private constant CARRIER = address(0xCA22);
    address private constant STRANGER = address(0x5742);

    bytes32 private constant BUILDING_ID = bytes32("BLD-2024-0001");
    bytes32 private constant BUILDING_HASH = keccak256("building record BLD-2024-0001");
    bytes32 private constant CATEGORY = bytes32("flooring");
    bytes32 private constant LOT_HASH = keccak256("lot record");
    bytes32 private constant INVOICE_HASH = keccak256("invoice 2024-117");
    uint256 private constant UNIT_MASS_GRAMS = 18_500;

    uint8 private constant MAX_UNIT = uint8(type(IReclaimRegistry.Unit).max);
    uint8 private constant MAX_REASON = uint8(type(IReclaimRegistry.CustodyReason).max);

    ReclaimRegistry private registry;
    bytes32 private registrarRole;
    // Building and packed entries of each registered batch, by its first lot id, so that
    // tests can reveal its lots.
    mapping(uint256 firstLotId => bytes32) private batchBuilding;
    mapping(uint256 firstLotId => bytes) private batchEntries;

    function setUp() public {
        registry = _deployRegistry(_one(BUILDING_ID), _one(BUILDING_HASH));
        registrarRole = registry.REGISTRAR_ROLE();
    }

    /*//////////////////////////////////////////////////////////////
                          BUILDING REGISTRATION
    //////////////////////////////////////////////////////////////*/

    function testRegisterBuildingsStoresRecordHashes() public {
        bytes32[] memory ids = new bytes32[](2);
        ids[0] = bytes32("BLD-2024-0002");
        ids[1] = bytes32("BLD-2024-0003");
        bytes32[] memory hashes = new bytes32[](2);
        hashes[0] = keccak256("record 2");
        hashes[1] = keccak256("record 3");

        registry.registerBuildings(ids, hashes);

        _assertEq(registry.buildingRecordHash(BUILDING_ID), BUILDING_HASH, "hash of building from setUp");
        _assertEq(registry.buildingRecordHash(ids[0]), hashes[0], "hash of first new building");
        _assertEq(registry.buildingRecordHash(ids[1]), hashes[1], "hash of second new building");
        _assertEq(registry.buildingRecordHash(bytes32("BLD-NONE")), bytes32(0), "hash of unregistered building");
    }

    function testRegisterBuildingsEmitsBuildingRegistered() public {
        bytes32[] memory ids = new bytes32[](2);
        ids[0] = bytes32("BLD-2024-0002");
        ids[1] = bytes32("BLD-2024-0003");
        bytes32[] memory hashes = new bytes32[](2);
        hashes[0] = keccak256("record 2");
        hashes[1] = keccak256("record 3");

        VM.expectEmit(true, true, true, true);
        emit IReclaimRegistry.BuildingRegistered(ids[0], hashes[0]);
        VM.expectEmit(true, true, true, true);
        emit IReclaimRegistry.BuildingRegistered(ids[1], hashes[1]);
        registry.registerBuildings(ids, hashes);
    }

    function testRegisterBuildingsRejectsEmptyBatch() public {
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryEmptyBatch.selector));
        registry.registerBuildings(new bytes32[](0), new bytes32[](0));
    }

    function testRegisterBuildingsRejectsLengthMismatch() public {
        bytes32[] memory twoIds = new bytes32[](2);
        twoIds[0] = bytes32("BLD-2024-0002");
        twoIds[1] = bytes32("BLD-2024-0003");
        bytes32[] memory twoHashes = new bytes32[](2);
        twoHashes[0] = keccak256("record 2");
        twoHashes[1] = keccak256("record 3");

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryLengthMismatch.selector, 2, 1));
        registry.registerBuildings(twoIds, _one(twoHashes[0]));

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryLengthMismatch.selector, 1, 2));
        registry.registerBuildings(_one(twoIds[0]), twoHashes);
    }

    function testRegisterBuildingsRejectsZeroId() public {
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryInvalidBuildingId.selector, bytes32(0)));
        registry.registerBuildings(_one(bytes32(0)), _one(BUILDING_HASH));
    }

    function testRegisterBuildingsRejectsZeroRecordHash() public {
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryInvalidRecordHash.selector, bytes32(0)));
        registry.registerBuildings(_one(bytes32("BLD-2024-0002")), _one(bytes32(0)));
    }

    function testRegisterBuildingsRejectsDuplicate() public {
        VM.expectRevert(
            abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryBuildingAlreadyRegistered.selector, BUILDING_ID)
        );
        registry.registerBuildings(_one(BUILDING_ID), _one(keccak256("another record")));

        // The second occurrence of an id inside one batch is a duplicate too.
        bytes32 newId = bytes32("BLD-2024-0002");
        bytes32[] memory ids = new bytes32[](2);
        ids[0] = newId;
        ids[1] = newId;
        bytes32[] memory hashes = new bytes32[](2);
        hashes[0] = keccak256("record 2");
        hashes[1] = keccak256("record 2 again");

        VM.expectRevert(
            abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryBuildingAlreadyRegistered.selector, newId)
        );
        registry.registerBuildings(ids, hashes);
    }

    function testRegisterBuildingsRejectsNonRegistrar() public {
        bytes32[] memory ids = _one(bytes32("BLD-2024-0002"));
        bytes32[] memory hashes = _one(keccak256("record 2"));

        VM.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, STRANGER, registrarRole)
        );
        VM.prank(STRANGER);
        registry.registerBuildings(ids, hashes);
    }

    /*//////////////////////////////////////////////////////////////
                            LOT REGISTRATION
    //////////////////////////////////////////////////////////////*/

    function testRegisterLotsRejectsEmptyBatch() public {
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryInvalidEntries.selector, 0));
        registry.registerLots(CONTRACTOR, BUILDING_ID, "");
    }

    function testRegisterLotsRejectsUnknownBuilding() public {
        LotInput memory input = _lotInput(1000);
        input.buildingId = bytes32("BLD-NONE");

        VM.expectRevert(
            abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryUnknownBuilding.selector, bytes32("BLD-NONE"))
        );
        _registerLots(CONTRACTOR, _one(input));

        // No building can be registered under the zero id, so it is unknown too.
        input.buildingId = bytes32(0);
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryUnknownBuilding.selector, bytes32(0)));
        _registerLots(CONTRACTOR, _one(input));
    }

    function testRegisterLotsRejectsZeroRecordHash() public {
        LotInput memory input = _lotInput(1000);
        input.recordHash = bytes32(0);

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryInvalidRecordHash.selector, bytes32(0)));
        _registerLots(CONTRACTOR, _one(input));
    }

    function testRegisterLotsRejectsInvalidUnit() public {
        uint8[2] memory invalidUnits = [uint8(5), uint8(255)];
        for (uint256 i = 0; i < invalidUnits.length; ++i) {
            LotInput memory input = _lotInput(1000);
            input.unit = invalidUnits[i];

            VM.expectRevert(
                abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryInvalidUnit.selector, invalidUnits[i])
            );
            _registerLots(CONTRACTOR, _one(input));
        }
    }

    function testRegisterLotsAcceptsEveryUnit() public {
        LotInput[] memory inputs = new LotInput[](uint256(MAX_UNIT) + 1);
        for (uint256 i = 0; i < inputs.length; ++i) {
            inputs[i] = _lotInput(1000 + i);
            inputs[i].unit = uint8(i);
        }

        _registerLots(CONTRACTOR, inputs);

        for (uint256 i = 0; i < inputs.length; ++i) {
            _reveal(i + 1);
            _assertEq(registry.lot(i + 1).unit, i, "stored unit");
        }
    }

    function testRegisterLotsRejectsZeroCategory() public {
        LotInput memory input = _lotInput(1000);
        input.category = bytes32(0);

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryInvalidCategory.selector, bytes32(0)));
        _registerLots(CONTRACTOR, _one(input));
    }

    function testRegisterLotsRejectsZeroQuantity() public {
        _registerLot(CONTRACTOR, 1000);

        // The error names the id the zero-quantity lot would have got: the second lot of a
        // batch that starts at id 2.
        LotInput[] memory inputs = new LotInput[](2);
        inputs[0] = _lotInput(1000);
        inputs[1] = _lotInput(0);

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryZeroQuantity.selector, 3));
        _registerLots(CONTRACTOR, inputs);
    }

    function testRegisterLotsRejectsNonRegistrar() public {
        LotInput[] memory inputs = _one(_lotInput(1000));

        VM.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, STRANGER, registrarRole)
        );
        VM.prank(STRANGER);
        _registerLots(CONTRACTOR, inputs);
    }

    function testRegisterLotsRejectsNonReceiverHolder() public {
        address holder = address(new NonReceiver());

        VM.expectRevert(abi.encodeWithSelector(IERC1155Errors.ERC1155InvalidReceiver.selector, holder));
        _registerLots(holder, _one(_lotInput(1000)));
    }

    function testRegisterLotsMintsToHolderContract() public {
        address holder = address(new AcceptingHolder());

        uint256 lotId = _registerLot(holder, 2500);

        _assertEq(registry.balanceOf(holder, lotId), 2500, "balance of holder contract");
    }

    function testRegisterLotsEmitsLotBatchRegistered() public {
        LotInput[] memory inputs = new LotInput[](2);
        inputs[0] = LotInput({
            buildingId: BUILDING_ID,
            category: bytes32("timber-beam"),
            unit: uint8(IReclaimRegistry.Unit.LinearMetre),
            quantity: 84_500,
            unitMassGrams: 12_000,
            recordHash: keccak256("beam record")
        });
        inputs[1] = LotInput({
            buildingId: BUILDING_ID,
            category: bytes32("brick"),
            unit: uint8(IReclaimRegistry.Unit.Piece),
            quantity: 3_000_000,
            unitMassGrams: 2_300,
            recordHash: keccak256("brick record")
        });
        bytes memory entries = abi.encodePacked(
            keccak256("beam record"),
            bytes32("timber-beam"),
            uint64(84_500),
            uint64(12_000),
            uint8(2),
            keccak256("brick record"),
            bytes32("brick"),
            uint64(3_000_000),
            uint64(2_300),
            uint8(0)
        );

        VM.expectEmit(true, true, true, true);
        emit IReclaimRegistry.LotBatchRegistered(1, BUILDING_ID, CONTRACTOR, entries);
        _registerLots(CONTRACTOR, inputs);
    }

    function testRegisterLotsEmitsTransferBatch() public {
        LotInput[] memory inputs = new LotInput[](2);
        inputs[0] = _lotInput(1500);
        inputs[1] = _lotInput(700);
        uint256[] memory ids = new uint256[](2);
        ids[0] = 1;
        ids[1] = 2;
        uint256[] memory values = new uint256[](2);
        values[0] = 1500;
        values[1] = 700;

        VM.expectEmit(true, true, true, true);
        emit IERC1155.TransferBatch(address(this), address(0), CONTRACTOR, ids, values);
        _registerLots(CONTRACTOR, inputs);
    }

    function testRegisterLotsEventOrder() public {
        LotInput[] memory inputs = new LotInput[](2);
        inputs[0] = _lotInput(1500);
        inputs[1] = _lotInput(700);

        VM.recordLogs();
        _registerLots(CONTRACTOR, inputs);
        Vm.Log[] memory logs = VM.getRecordedLogs();

        _assertEq(logs.length, 2, "log count");
        _assertEq(logs[0].topics[0], IReclaimRegistry.LotBatchRegistered.selector, "log 0 is LotBatchRegistered");
        _assertEq(logs[0].topics[1], bytes32(uint256(1)), "log 0 first lot id");
        _assertEq(logs[1].topics[0], IERC1155.TransferBatch.selector, "log 1 is TransferBatch");
        for (uint256 i = 0; i < logs.length; ++i) {
            _assertEq(logs[i].emitter, address(registry), "log emitter");
        }
    }

    function testLotIdsConsecutiveAcrossBatches() public {
        _assertEq(registry.lotCount(), 0, "lot count before any lot");

        LotInput[] memory firstBatch = new LotInput[](2);
        firstBatch[0] = _lotInput(100);
        firstBatch[1] = _lotInput(200);
        LotInput[] memory secondBatch = new LotInput[](3);
        secondBatch[0] = _lotInput(300);
        secondBatch[1] = _lotInput(400);
        secondBatch[2] = _lotInput(500);

        _assertEq(_registerLots(CONTRACTOR, firstBatch), 1, "first id of first batch");
        _assertEq(registry.lotCount(), 2, "lot count after first batch");
        _assertEq(_registerLots(DEALER, secondBatch), 3, "first id of second batch");
        _assertEq(registry.lotCount(), 5, "lot count after second batch");

        for (uint256 lotId = 1; lotId <= 5; ++lotId) {
            address holder = lotId <= 2 ? CONTRACTOR : DEALER;
            _assertEq(registry.balanceOf(holder, lotId), lotId * 100, "balance of first holder");
            _reveal(lotId);
            _assertEq(registry.lot(lotId).quantity, lotId * 100, "registered quantity");
        }
    }

    function testLotReturnsRegisteredData() public {
        LotInput memory input = LotInput({
            buildingId: BUILDING_ID,
            category: bytes32("roof-tile"),
            unit: uint8(IReclaimRegistry.Unit.SquareMetre),
            quantity: 120_250,
            unitMassGrams: 45_000,
            recordHash: keccak256("roof tile record")
        });

        uint256 lotId = _registerLots(CONTRACTOR, _one(input));
        _reveal(lotId);
        IReclaimRegistry.Lot memory stored = registry.lot(lotId);

        _assertEq(stored.buildingId, input.buildingId, "buildingId");
        _assertEq(stored.category, input.category, "category");
        _assertEq(stored.recordHash, input.recordHash, "recordHash");
        _assertEq(stored.quantity, input.quantity, "quantity");
        _assertEq(stored.unitMassGrams, input.unitMassGrams, "unitMassGrams");
        _assertEq(stored.unit, input.unit, "unit");
    }

    function testLotRejectsUnknownId() public {
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryUnknownLot.selector, 1));
        registry.lot(1);

        _registerLot(CONTRACTOR, 1000);

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryUnknownLot.selector, 0));
        registry.lot(0);
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryUnknownLot.selector, 2));
        registry.lot(2);
    }

    /*//////////////////////////////////////////////////////////////
                              CUSTODY
    //////////////////////////////////////////////////////////////*/

    function testTransferCustodyMovesQuantity() public {
        uint256 lotId = _registerLot(CONTRACTOR, 10_000);

        VM.prank(CONTRACTOR);
        registry.transferCustody(
            CONTRACTOR, DEALER, lotId, 4_000, uint8(IReclaimRegistry.CustodyReason.Sale), INVOICE_HASH
        );

        _assertEq(registry.balanceOf(CONTRACTOR, lotId), 6_000, "balance of sender");
        _assertEq(registry.balanceOf(DEALER, lotId), 4_000, "balance of receiver");
        _assertEq(registry.verifyLot(lotId, BUILDING_ID, batchEntries[lotId]).quantity, 10_000, "registered quantity");
    }

    function testTransferCustodyEmitsEventsInOrder() public {
        uint256 lotId = _registerLot(CONTRACTOR, 10_000);
        uint8 reason = uint8(IReclaimRegistry.CustodyReason.Consignment);

        VM.recordLogs();
        VM.prank(CONTRACTOR);
        registry.transferCustody(CONTRACTOR, DEALER, lotId, 4_000, reason, INVOICE_HASH);
        Vm.Log[] memory logs = VM.getRecordedLogs();

        _assertEq(logs.length, 2, "log count");
        _assertTransferSingleLog(logs[0], CONTRACTOR, CONTRACTOR, DEALER, lotId, 4_000);
        _assertCustodyLog(
            logs[1],
            ExpectedCustody({
                lotId: lotId,
                from: CONTRACTOR,
                to: DEALER,
                quantity: 4_000,
                reason: reason,
                referenceHash: INVOICE_HASH,
                operator: CONTRACTOR
            })
        );
    }

    function testForwardingReceiverKeepsCustodyOrder() public {
        uint256 lotId = _registerLot(CONTRACTOR, 10_000);
        ForwardingHolder forwarder = new ForwardingHolder(DEALER);

        VM.recordLogs();
        VM.prank(CONTRACTOR);
        registry.transferCustody(CONTRACTOR, address(forwarder), lotId, 4_000, 1, INVOICE_HASH);
        Vm.Log[] memory logs = VM.getRecordedLogs();

        _assertEq(logs.length, 4, "log count");
        _assertCustodyLog(
            logs[1],
            ExpectedCustody({
                lotId: lotId,
                from: CONTRACTOR,
                to: address(forwarder),
                quantity: 4_000,
                reason: 1,
                referenceHash: INVOICE_HASH,
                operator: CONTRACTOR
            })
        );
        _assertCustodyLog(
            logs[3],
            ExpectedCustody({
                lotId: lotId,
                from: address(forwarder),
                to: DEALER,
                quantity: 4_000,
                reason: 1,
                referenceHash: bytes32(0),
                operator: address(forwarder)
            })
        );
        _assertEq(registry.balanceOf(DEALER, lotId), 4_000, "balance of final holder");
    }

    function testTransferCustodyAcceptsEveryReason() public {
        uint256 lotId = _registerLot(CONTRACTOR, 10_000);

        for (uint8 reason = 0; reason <= MAX_REASON; ++reason) {
            VM.expectEmit(true, true, true, true);
            emit IReclaimRegistry.CustodyTransferred(lotId, CONTRACTOR, DEALER, 100, reason, bytes32(0), CONTRACTOR);
            VM.prank(CONTRACTOR);
            registry.transferCustody(CONTRACTOR, DEALER, lotId, 100, reason, bytes32(0));
        }

        _assertEq(registry.balanceOf(DEALER, lotId), 100 * (uint256(MAX_REASON) + 1), "balance of receiver");
    }

    function testTransferCustodyRejectsUnknownLot() public {
        uint256 lotId = _registerLot(CONTRACTOR, 10_000);
        uint256[2] memory unknownIds = [uint256(0), lotId + 1];

        for (uint256 i = 0; i < unknownIds.length; ++i) {
            VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryUnknownLot.selector, unknownIds[i]));
            VM.prank(CONTRACTOR);
            registry.transferCustody(CONTRACTOR, DEALER, unknownIds[i], 1, 0, bytes32(0));
        }
    }

    function testTransferCustodyRejectsZeroQuantity() public {
        uint256 lotId = _registerLot(CONTRACTOR, 10_000);

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryZeroQuantity.selector, lotId));
        VM.prank(CONTRACTOR);
        registry.transferCustody(CONTRACTOR, DEALER, lotId, 0, 0, bytes32(0));
    }

    function testTransferCustodyRejectsInvalidReason() public {
        uint256 lotId = _registerLot(CONTRACTOR, 10_000);
        uint8[2] memory invalidReasons = [uint8(5), uint8(255)];

        for (uint256 i = 0; i < invalidReasons.length; ++i) {
            VM.expectRevert(
                abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryInvalidReason.selector, invalidReasons[i])
            );
            VM.prank(CONTRACTOR);
            registry.transferCustody(CONTRACTOR, DEALER, lotId, 1, invalidReasons[i], bytes32(0));
        }
    }

    function testTransferCustodyRejectsSelfTransfer() public {
        uint256 lotId = _registerLot(CONTRACTOR, 10_000);

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistrySelfTransfer.selector, CONTRACTOR));
        VM.prank(CONTRACTOR);
        registry.transferCustody(CONTRACTOR, CONTRACTOR, lotId, 1, 0, bytes32(0));
    }

    function testTransferCustodyRejectsUnapprovedCaller() public {
        uint256 lotId = _registerLot(CONTRACTOR, 10_000);

        VM.expectRevert(
            abi.encodeWithSelector(IERC1155Errors.ERC1155MissingApprovalForAll.selector, STRANGER, CONTRACTOR)
        );
        VM.prank(STRANGER);
        registry.transferCustody(CONTRACTOR, STRANGER, lotId, 1, 0, bytes32(0));
    }

    function testTransferCustodyRejectsInsufficientBalance() public {
        uint256 lotId = _registerLot(CONTRACTOR, 10_000);

        VM.expectRevert(
            abi.encodeWithSelector(
                IERC1155Errors.ERC1155InsufficientBalance.selector, CONTRACTOR, 10_000, 10_001, lotId
            )
        );
        VM.prank(CONTRACTOR);
        registry.transferCustody(CONTRACTOR, DEALER, lotId, 10_001, 0, bytes32(0));

        // An account that never held the lot has a balance of zero.
        VM.expectRevert(abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, DEALER, 0, 1, lotId));
        VM.prank(DEALER);
        registry.transferCustody(DEALER, BUYER, lotId, 1, 0, bytes32(0));
    }

    function testApprovedOperatorTransfersCustody() public {
        uint256 lotId = _registerLot(CONTRACTOR, 10_000);
        uint8 reason = uint8(IReclaimRegistry.CustodyReason.TransportHandoff);
        VM.prank(CONTRACTOR);
        registry.setApprovalForAll(CARRIER, true);

        VM.recordLogs();
        VM.prank(CARRIER);
        registry.transferCustody(CONTRACTOR, DEALER, lotId, 2_500, reason, INVOICE_HASH);
        Vm.Log[] memory logs = VM.getRecordedLogs();

        _assertEq(registry.balanceOf(DEALER, lotId), 2_500, "balance of receiver");
        _assertEq(registry.balanceOf(CARRIER, lotId), 0, "balance of operator");
        _assertEq(logs.length, 2, "log count");
        _assertTransferSingleLog(logs[0], CARRIER, CONTRACTOR, DEALER, lotId, 2_500);
        _assertCustodyLog(
            logs[1],
            ExpectedCustody({
                lotId: lotId,
                from: CONTRACTOR,
                to: DEALER,
                quantity: 2_500,
                reason: reason,
                referenceHash: INVOICE_HASH,
                operator: CARRIER
            })
        );

        // Revoking the approval takes the right to move custody away again.
        VM.prank(CONTRACTOR);
        registry.setApprovalForAll(CARRIER, false);
        VM.expectRevert(
            abi.encodeWithSelector(IERC1155Errors.ERC1155MissingApprovalForAll.selector, CARRIER, CONTRACTOR)
        );
        VM.prank(CARRIER);
        registry.transferCustody(CONTRACTOR, DEALER, lotId, 1, reason, INVOICE_HASH);
    }

    function testApprovedOperatorSafeTransfers() public {
        uint256 lotId = _registerLot(CONTRACTOR, 10_000);
        VM.prank(CONTRACTOR);
        registry.setApprovalForAll(CARRIER, true);

        VM.expectEmit(true, true, true, true);
        emit IReclaimRegistry.CustodyTransferred(lotId, CONTRACTOR, BUYER, 3_000, 0, bytes32(0), CARRIER);
        VM.prank(CARRIER);
        registry.safeTransferFrom(CONTRACTOR, BUYER, lotId, 3_000, "");

        _assertEq(registry.balanceOf(CONTRACTOR, lotId), 7_000, "balance of sender");
        _assertEq(registry.balanceOf(BUYER, lotId), 3_000, "balance of receiver");
    }

    /*//////////////////////////////////////////////////////////////
                     PLAIN ERC-1155 TRANSFERS
    //////////////////////////////////////////////////////////////*/

    function testSafeTransferFromRecordsUnspecifiedReason() public {
        uint256 lotId = _registerLot(CONTRACTOR, 10_000);

        VM.recordLogs();
        VM.prank(CONTRACTOR);
        registry.safeTransferFrom(CONTRACTOR, DEALER, lotId, 1_250, "");
        Vm.Log[] memory logs = VM.getRecordedLogs();

        _assertEq(registry.balanceOf(DEALER, lotId), 1_250, "balance of receiver");
        _assertEq(logs.length, 2, "log count");
        _assertTransferSingleLog(logs[0], CONTRACTOR, CONTRACTOR, DEALER, lotId, 1_250);
        _assertCustodyLog(
            logs[1],
            ExpectedCustody({
                lotId: lotId,
                from: CONTRACTOR,
                to: DEALER,
                quantity: 1_250,
                reason: uint8(IReclaimRegistry.CustodyReason.Unspecified),
                referenceHash: bytes32(0),
                operator: CONTRACTOR
            })
        );
    }

    function testSafeTransferFromRejectsInvalidMoves() public {
        uint256 lotId = _registerLot(CONTRACTOR, 10_000);

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryUnknownLot.selector, lotId + 1));
        VM.prank(CONTRACTOR);
        registry.safeTransferFrom(CONTRACTOR, DEALER, lotId + 1, 1, "");

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryZeroQuantity.selector, lotId));
        VM.prank(CONTRACTOR);
        registry.safeTransferFrom(CONTRACTOR, DEALER, lotId, 0, "");

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistrySelfTransfer.selector, CONTRACTOR));
        VM.prank(CONTRACTOR);
        registry.safeTransferFrom(CONTRACTOR, CONTRACTOR, lotId, 1, "");

        VM.expectRevert(
            abi.encodeWithSelector(IERC1155Errors.ERC1155MissingApprovalForAll.selector, STRANGER, CONTRACTOR)
        );
        VM.prank(STRANGER);
        registry.safeTransferFrom(CONTRACTOR, STRANGER, lotId, 1, "");

        VM.expectRevert(
            abi.encodeWithSelector(
                IERC1155Errors.ERC1155InsufficientBalance.selector, CONTRACTOR, 10_000, 10_001, lotId
            )
        );
        VM.prank(CONTRACTOR);
        registry.safeTransferFrom(CONTRACTOR, DEALER, lotId, 10_001, "");
    }

    function testSafeBatchTransferFromRecordsUnspecifiedReason() public {
        LotInput[] memory inputs = new LotInput[](2);
        inputs[0] = _lotInput(10_000);
        inputs[1] = _lotInput(5_000);
        _registerLots(CONTRACTOR, inputs);
        uint256[] memory ids = new uint256[](2);
        ids[0] = 1;
        ids[1] = 2;
        uint256[] memory values = new uint256[](2);
        values[0] = 4_000;
        values[1] = 5_000;

        VM.recordLogs();
        VM.prank(CONTRACTOR);
        registry.safeBatchTransferFrom(CONTRACTOR, DEALER, ids, values, "");
        Vm.Log[] memory logs = VM.getRecordedLogs();

        _assertEq(registry.balanceOf(CONTRACTOR, 1), 6_000, "lot 1 balance of sender");
        _assertEq(registry.balanceOf(DEALER, 1), 4_000, "lot 1 balance of receiver");
        _assertEq(registry.balanceOf(CONTRACTOR, 2), 0, "lot 2 balance of sender");
        _assertEq(registry.balanceOf(DEALER, 2), 5_000, "lot 2 balance of receiver");

        _assertEq(logs.length, 3, "log count");
        _assertEq(logs[0].topics[0], IERC1155.TransferBatch.selector, "log 0 is TransferBatch");
        _assertEq(logs[0].emitter, address(registry), "log 0 emitter");
        for (uint256 i = 0; i < ids.length; ++i) {
            _assertCustodyLog(
                logs[i + 1],
                ExpectedCustody({
                    lotId: ids[i],
                    from: CONTRACTOR,
                    to: DEALER,
                    quantity: values[i],
                    reason: uint8(IReclaimRegistry.CustodyReason.Unspecified),
                    referenceHash: bytes32(0),
                    operator: CONTRACTOR
                })
            );
        }
    }

    function testSafeBatchTransferFromRejectsInvalidMoves() public {
        uint256 lotId = _registerLot(CONTRACTOR, 10_000);
        uint256[] memory ids = new uint256[](2);
        ids[0] = lotId;
        uint256[] memory values = new uint256[](2);
        values[0] = 1;
        values[1] = 1;

        // The second id is still zero, which names no lot.
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryUnknownLot.selector, 0));
        VM.prank(CONTRACTOR);
        registry.safeBatchTransferFrom(CONTRACTOR, DEALER, ids, values, "");

        ids[1] = lotId;
        values[1] = 0;
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryZeroQuantity.selector, lotId));
        VM.prank(CONTRACTOR);
        registry.safeBatchTransferFrom(CONTRACTOR, DEALER, ids, values, "");

        // Both entries name the same lot, so together they need 10,001 of 10,000.
        values[1] = 10_000;
        VM.expectRevert(
            abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, CONTRACTOR, 9_999, 10_000, lotId)
        );
        VM.prank(CONTRACTOR);
        registry.safeBatchTransferFrom(CONTRACTOR, DEALER, ids, values, "");

        VM.expectRevert(
            abi.encodeWithSelector(IERC1155Errors.ERC1155MissingApprovalForAll.selector, STRANGER, CONTRACTOR)
        );
        VM.prank(STRANGER);
        registry.safeBatchTransferFrom(CONTRACTOR, STRANGER, ids, values, "");

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistrySelfTransfer.selector, CONTRACTOR));
        VM.prank(CONTRACTOR);
        registry.safeBatchTransferFrom(CONTRACTOR, CONTRACTOR, ids, values, "");
    }

    function testSafeBatchTransferFromRejectsLengthMismatch() public {
        uint256 lotId = _registerLot(CONTRACTOR, 10_000);
        uint256[] memory ids = new uint256[](2);
        ids[0] = lotId;
        ids[1] = lotId;
        uint256[] memory values = new uint256[](1);
        values[0] = 1;

        VM.expectRevert(abi.encodeWithSelector(IERC1155Errors.ERC1155InvalidArrayLength.selector, 2, 1));
        VM.prank(CONTRACTOR);
        registry.safeBatchTransferFrom(CONTRACTOR, DEALER, ids, values, "");
    }

    /*//////////////////////////////////////////////////////////////
                                 FUZZ
    //////////////////////////////////////////////////////////////*/

    function testFuzzSplitBetweenTwoHolders(uint256 quantity, uint256 toDealer) public {
        quantity = _bound(quantity, 1, type(uint64).max);
        toDealer = _bound(toDealer, 1, quantity);
        uint256 lotId = _registerLot(CONTRACTOR, quantity);

        VM.prank(CONTRACTOR);
        registry.transferCustody(CONTRACTOR, DEALER, lotId, toDealer, 1, INVOICE_HASH);

        uint256 contractorBalance = registry.balanceOf(CONTRACTOR, lotId);
        uint256 dealerBalance = registry.balanceOf(DEALER, lotId);
        _assertEq(dealerBalance, toDealer, "balance of dealer");
        _assertEq(contractorBalance, quantity - toDealer, "balance of contractor");
        _assertEq(contractorBalance + dealerBalance, quantity, "sum of balances");
    }

    function testFuzzSplitBetweenThreeHolders(uint256 quantity, uint256 toDealer, uint256 toBuyer) public {
        quantity = _bound(quantity, 2, type(uint64).max);
        toDealer = _bound(toDealer, 1, quantity);
        uint256 lotId = _registerLot(CONTRACTOR, quantity);

        VM.prank(CONTRACTOR);
        registry.transferCustody(CONTRACTOR, DEALER, lotId, toDealer, 1, INVOICE_HASH);

        // The dealer sells part or all of its share on with a plain ERC-1155 transfer.
        toBuyer = _bound(toBuyer, 1, toDealer);
        VM.prank(DEALER);
        registry.safeTransferFrom(DEALER, BUYER, lotId, toBuyer, "");

        uint256 contractorBalance = registry.balanceOf(CONTRACTOR, lotId);
        uint256 dealerBalance = registry.balanceOf(DEALER, lotId);
        uint256 buyerBalance = registry.balanceOf(BUYER, lotId);
        _assertEq(contractorBalance, quantity - toDealer, "balance of contractor");
        _assertEq(dealerBalance, toDealer - toBuyer, "balance of dealer");
        _assertEq(buyerBalance, toBuyer, "balance of buyer");
        _assertEq(contractorBalance + dealerBalance + buyerBalance, quantity, "sum of balances");
    }

    function testFuzzInvalidUnitReverts(uint8 unit) public {
        unit = uint8(_bound(unit, uint256(MAX_UNIT) + 1, type(uint8).max));
        LotInput memory input = _lotInput(1000);
        input.unit = unit;

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryInvalidUnit.selector, unit));
        _registerLots(CONTRACTOR, _one(input));
    }

    function testFuzzInvalidReasonReverts(uint8 reason, uint256 quantity) public {
        reason = uint8(_bound(reason, uint256(MAX_REASON) + 1, type(uint8).max));
        uint256 lotId = _registerLot(CONTRACTOR, 10_000);
        quantity = _bound(quantity, 1, 10_000);

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryInvalidReason.selector, reason));
        VM.prank(CONTRACTOR);
        registry.transferCustody(CONTRACTOR, DEALER, lotId, quantity, reason, bytes32(0));
    }

    function testFuzzBatchGetsConsecutiveIds(uint256 earlierLots, uint256 batchSize, uint256 seed) public {
        earlierLots = _bound(earlierLots, 0, 3);
        batchSize = _bound(batchSize, 1, 50);
        for (uint256 i = 0; i < earlierLots; ++i) {
            _registerLot(DEALER, 1);
        }

        LotInput[] memory inputs = new LotInput[](batchSize);
        for (uint256 i = 0; i < batchSize; ++i) {
            uint256 quantity = _bound(uint256(keccak256(abi.encode(seed, i))), 1, type(uint64).max);
            inputs[i] = _lotInput(quantity);
        }

        uint256 firstLotId = _registerLots(CONTRACTOR, inputs);

        _assertEq(firstLotId, earlierLots + 1, "first id of batch");
        _assertEq(registry.lotCount(), earlierLots + batchSize, "lot count");
        for (uint256 i = 0; i < batchSize; ++i) {
            _assertEq(registry.balanceOf(CONTRACTOR, firstLotId + i), inputs[i].quantity, "balance of holder");
            _reveal(firstLotId + i);
            _assertEq(registry.lot(firstLotId + i).quantity, inputs[i].quantity, "registered quantity");
        }
    }

    function testFuzzTransferKeepsOtherLots(uint256 seed, uint256 movedIndex, uint256 amount) public {
        uint256 lotCount = 4;
        LotInput[] memory inputs = new LotInput[](lotCount);
        for (uint256 i = 0; i < lotCount; ++i) {
            inputs[i] = _lotInput(_bound(uint256(keccak256(abi.encode(seed, i))), 1, type(uint64).max));
        }
        _registerLots(CONTRACTOR, inputs);
        // The dealer already holds part of the last lot, so other lots have balances on both sides.
        VM.prank(CONTRACTOR);
        registry.transferCustody(CONTRACTOR, DEALER, lotCount, 1, 1, bytes32(0));

        uint256 movedLotId = _bound(movedIndex, 1, lotCount);
        amount = _bound(amount, 1, registry.balanceOf(CONTRACTOR, movedLotId));
        uint256[] memory contractorBefore = _balancesOf(CONTRACTOR, lotCount);
        uint256[] memory dealerBefore = _balancesOf(DEALER, lotCount);

        VM.prank(CONTRACTOR);
        registry.transferCustody(CONTRACTOR, DEALER, movedLotId, amount, 1, INVOICE_HASH);

        uint256[] memory contractorAfter = _balancesOf(CONTRACTOR, lotCount);
        uint256[] memory dealerAfter = _balancesOf(DEALER, lotCount);
        for (uint256 lotId = 1; lotId <= lotCount; ++lotId) {
            if (lotId == movedLotId) {
                _assertEq(contractorAfter[lotId - 1], contractorBefore[lotId - 1] - amount, "moved lot, contractor");
                _assertEq(dealerAfter[lotId - 1], dealerBefore[lotId - 1] + amount, "moved lot, dealer");
            } else {
                _assertEq(contractorAfter[lotId - 1], contractorBefore[lotId - 1], "other lot, contractor");
                _assertEq(dealerAfter[lotId - 1], dealerBefore[lotId - 1], "other lot, dealer");
            }
            _assertEq(contractorAfter[lotId - 1] + dealerAfter[lotId - 1], inputs[lotId - 1].quantity, "sum of lot");
        }
    }

    /*//////////////////////////////////////////////////////////////
                               HELPERS
    //////////////////////////////////////////////////////////////*/

    function _lotInput(uint256 quantity) private pure returns (LotInput memory) {
        return LotInput({
            buildingId: BUILDING_ID,
            category: CATEGORY,
            unit: uint8(IReclaimRegistry.Unit.SquareMetre),
            quantity: quantity,
            unitMassGrams: UNIT_MASS_GRAMS,
            recordHash: LOT_HASH
        });
    }

    function _registerLot(address holder, uint256 quantity) private returns (uint256 lotId) {
        lotId = _registerLots(holder, _one(_lotInput(quantity)));
    }

    /// @dev Registers `inputs`, which share the building of the first, in one batch.
    function _registerLots(address holder, LotInput[] memory inputs) private returns (uint256 firstLotId) {
        bytes memory entries = _pack(inputs);
        firstLotId = registry.registerLots(holder, inputs[0].buildingId, entries);
        batchBuilding[firstLotId] = inputs[0].buildingId;
        batchEntries[firstLotId] = entries;
    }

    function _pack(LotInput[] memory inputs) private pure returns (bytes memory entries) {
        for (uint256 i = 0; i < inputs.length; ++i) {
            LotInput memory input = inputs[i];
            if (input.quantity > type(uint64).max || input.unitMassGrams > type(uint64).max) {
                revert EntryFieldTooLarge(input.quantity, input.unitMassGrams);
            }
            entries = bytes.concat(
                entries,
                abi.encodePacked(
                    input.recordHash, input.category, uint64(input.quantity), uint64(input.unitMassGrams), input.unit
                )
            );
        }
    }

    /// @dev Stores the data of batch lot `lotId`, so that `lot` returns it.
    function _reveal(uint256 lotId) private {
        (uint256 firstLotId,,) = registry.lotBatch(lotId);
        registry.revealLot(lotId, batchBuilding[firstLotId], batchEntries[firstLotId]);
    }

    function _balancesOf(address holder, uint256 lotCount) private view returns (uint256[] memory balances) {
        balances = new uint256[](lotCount);
        for (uint256 i = 0; i < lotCount; ++i) {
            balances[i] = registry.balanceOf(holder, i + 1);
        }
    }

    function _one(LotInput memory input) private pure returns (LotInput[] memory inputs) {
        inputs = new LotInput[](1);
        inputs[0] = input;
    }

    function _assertTransferSingleLog(
        Vm.Log memory entry,
        address operator,
        address from,
        address to,
        uint256 lotId,
        uint256 quantity
    ) private view {
        _assertEq(entry.emitter, address(registry), "TransferSingle emitter");
        _assertEq(entry.topics.length, 4, "TransferSingle topic count");
        _assertEq(entry.topics[0], IERC1155.TransferSingle.selector, "TransferSingle signature");
        _assertEq(entry.topics[1], _topic(operator), "TransferSingle operator");
        _assertEq(entry.topics[2], _topic(from), "TransferSingle from");
        _assertEq(entry.topics[3], _topic(to), "TransferSingle to");
        _assertEq(entry.data, abi.encode(lotId, quantity), "TransferSingle id and value");
    }

    function _assertCustodyLog(Vm.Log memory entry, ExpectedCustody memory expected) private view {
        _assertEq(entry.emitter, address(registry), "CustodyTransferred emitter");
        _assertEq(entry.topics.length, 4, "CustodyTransferred topic count");
        _assertEq(entry.topics[0], IReclaimRegistry.CustodyTransferred.selector, "CustodyTransferred signature");
        _assertEq(entry.topics[1], bytes32(expected.lotId), "CustodyTransferred lotId");
        _assertEq(entry.topics[2], _topic(expected.from), "CustodyTransferred from");
        _assertEq(entry.topics[3], _topic(expected.to), "CustodyTransferred to");

        (uint256 quantity, uint8 reason, bytes32 referenceHash, address operator) =
            abi.decode(entry.data, (uint256, uint8, bytes32, address));
        _assertEq(quantity, expected.quantity, "CustodyTransferred quantity");
        _assertEq(reason, expected.reason, "CustodyTransferred reason");
        _assertEq(referenceHash, expected.referenceHash, "CustodyTransferred referenceHash");
        _assertEq(operator, expected.operator, "CustodyTransferred operator");
    }
}
