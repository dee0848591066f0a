// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC1155Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IReclaimRegistry} from "../IReclaimRegistry.sol";
import {ReclaimRegistry} from "../ReclaimRegistry.sol";
import {RegistryTestBase, Vm} from "./TestSupport.sol";

/// @notice Shared constants and helpers of the end-of-life tests.
abstract contract RegistryFixture is RegistryTestBase {
    bytes32 internal constant BUILDING_A = bytes32("BLD-A");
    bytes32 internal constant BUILDING_B = bytes32("BLD-B");
    bytes32 internal constant DESTINATION = bytes32("DST-RENOVATION-1");
    bytes32 internal constant CATEGORY = bytes32("doors");
    bytes32 internal constant LOT_HASH = keccak256("lot record");
    bytes32 internal constant DOCUMENT = keccak256("document");
    uint256 internal constant UNIT_MASS_GRAMS = 32_000;

    function _deployRegistry() internal returns (ReclaimRegistry registry) {
        registry =
            _deployRegistry(_pair(BUILDING_A, BUILDING_B), _pair(keccak256("building A"), keccak256("building B")));
    }

    /// @dev Registers a one-lot batch and reveals the lot, so that split and merge can use it.
    function _registerLot(ReclaimRegistry registry, address holder, bytes32 buildingId, uint256 quantity)
        internal
        returns (uint256 lotId)
    {
        bytes memory entries = _entry(
            LOT_HASH, CATEGORY, uint64(quantity), uint64(UNIT_MASS_GRAMS), uint8(IReclaimRegistry.Unit.Piece)
        );
        lotId = registry.registerLots(holder, buildingId, entries);
        registry.revealLot(lotId, buildingId, entries);
    }
}

/// @notice Unit and fuzz tests of install, dispose, split, merge, inspections and claims.
contract ReclaimRegistryEndOfLifeTest is RegistryFixture {
    address private constant CONTRACTOR = address(0xC0A7);
    address private constant DEALER = address(0xDEA1);
    address private constant INSPECTOR = address(0x1A5B);
    address private constant AUDITOR = address(0xA0D1);
    address private constant OWNER = address(0x0E4E);

    ReclaimRegistry private registry;

    function setUp() public {
        registry = _deployRegistry();
        registry.grantRole(registry.INSPECTOR_ROLE(), INSPECTOR);
        registry.grantRole(registry.AUDITOR_ROLE(), AUDITOR);
    }

    /*//////////////////////////////////////////////////////////////
                            INSTALL, DISPOSE
    //////////////////////////////////////////////////////////////*/

    function testInstallBurnsQuantity() public {
        uint256 lotId = _registerLot(registry, CONTRACTOR, BUILDING_A, 10_000);

        VM.prank(CONTRACTOR);
        registry.install(lotId, 4_000, DESTINATION, DOCUMENT);

        _assertEq(registry.balanceOf(CONTRACTOR, lotId), 6_000, "balance after install");
        _assertEq(registry.balanceOf(address(0), lotId), 0, "zero address holds nothing");
    }

    function testInstallEmitsBurnThenLotInstalled() public {
        uint256 lotId = _registerLot(registry, CONTRACTOR, BUILDING_A, 10_000);

        VM.recordLogs();
        VM.prank(CONTRACTOR);
        registry.install(lotId, 4_000, DESTINATION, DOCUMENT);
        Vm.Log[] memory logs = VM.getRecordedLogs();

        _assertEq(logs.length, 2, "log count");
        _assertEq(
            logs[0].topics[0], keccak256("TransferSingle(address,address,address,uint256,uint256)"), "first event"
        );
        _assertEq(logs[0].topics[3], bytes32(0), "burnt to the zero address");
        _assertEq(logs[1].topics[0], IReclaimRegistry.LotInstalled.selector, "second event");
        _assertEq(uint256(logs[1].topics[1]), lotId, "installed lot");
        _assertEq(logs[1].topics[2], DESTINATION, "destination");
        _assertEq(logs[1].topics[3], bytes32(uint256(uint160(CONTRACTOR))), "holder");
        (uint256 quantity, bytes32 referenceHash) = abi.decode(logs[1].data, (uint256, bytes32));
        _assertEq(quantity, 4_000, "installed quantity");
        _assertEq(referenceHash, DOCUMENT, "reference hash");
    }

    function testSplitEmitsBurnSplitThenMint() public {
        uint256 lotId = _registerLot(registry, CONTRACTOR, BUILDING_A, 10_000);

        VM.recordLogs();
        VM.prank(CONTRACTOR);
        registry.split(lotId, _pair(3_000, 2_000));
        Vm.Log[] memory logs = VM.getRecordedLogs();

        _assertEq(logs.length, 5, "log count");
        _assertEq(logs[0].topics[0], keccak256("TransferSingle(address,address,address,uint256,uint256)"), "burn first");
        _assertEq(logs[1].topics[0], IReclaimRegistry.LotSplit.selector, "split second");
        _assertEq(logs[2].topics[0], IReclaimRegistry.LotRegistered.selector, "first child announced");
        _assertEq(logs[2].topics[1], bytes32(lotId + 1), "first child id");
        _assertEq(logs[2].topics[2], BUILDING_A, "first child keeps the origin");
        _assertEq(logs[3].topics[0], IReclaimRegistry.LotRegistered.selector, "second child announced");
        _assertEq(
            logs[4].topics[0], keccak256("TransferBatch(address,address,address,uint256[],uint256[])"), "mint last"
        );
        (uint256[] memory children, uint256[] memory quantities) = abi.decode(logs[1].data, (uint256[], uint256[]));
        _assertEq(children[0], lotId + 1, "first child in event");
        _assertEq(quantities[1], 2_000, "second quantity in event");
    }

    function testInstalledQuantityCannotMoveAgain() public {
        uint256 lotId = _registerLot(registry, CONTRACTOR, BUILDING_A, 1_000);
        VM.prank(CONTRACTOR);
        registry.install(lotId, 1_000, DESTINATION, DOCUMENT);

        VM.expectRevert(
            abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, CONTRACTOR, 0, 1, lotId)
        );
        VM.prank(CONTRACTOR);
        registry.install(lotId, 1, DESTINATION, DOCUMENT);

        VM.expectRevert(
            abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, CONTRACTOR, 0, 1, lotId)
        );
        VM.prank(CONTRACTOR);
        registry.transferCustody(CONTRACTOR, DEALER, lotId, 1, 1, bytes32(0));
    }

    function testInstallRejectsNonHolder() public {
        uint256 lotId = _registerLot(registry, CONTRACTOR, BUILDING_A, 1_000);

        VM.expectRevert(
            abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, DEALER, 0, 500, lotId)
        );
        VM.prank(DEALER);
        registry.install(lotId, 500, DESTINATION, DOCUMENT);
    }

    function testInstallRejectsZeroDestination() public {
        uint256 lotId = _registerLot(registry, CONTRACTOR, BUILDING_A, 1_000);

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryInvalidDestination.selector, bytes32(0)));
        VM.prank(CONTRACTOR);
        registry.install(lotId, 500, bytes32(0), DOCUMENT);
    }

    function testInstallRejectsZeroQuantityAndUnknownLot() public {
        uint256 lotId = _registerLot(registry, CONTRACTOR, BUILDING_A, 1_000);

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryZeroQuantity.selector, lotId));
        VM.prank(CONTRACTOR);
        registry.install(lotId, 0, DESTINATION, DOCUMENT);

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryUnknownLot.selector, 99));
        VM.prank(CONTRACTOR);
        registry.install(99, 1, DESTINATION, DOCUMENT);
    }

    function testDisposeBurnsAndChecksRoute() public {
        uint256 lotId = _registerLot(registry, CONTRACTOR, BUILDING_A, 1_000);

        VM.prank(CONTRACTOR);
        registry.dispose(lotId, 300, uint8(IReclaimRegistry.DisposalRoute.Recycling), DOCUMENT);
        _assertEq(registry.balanceOf(CONTRACTOR, lotId), 700, "balance after disposal");

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryInvalidRoute.selector, 3));
        VM.prank(CONTRACTOR);
        registry.dispose(lotId, 1, 3, DOCUMENT);
    }

    /*//////////////////////////////////////////////////////////////
                              SPLIT, MERGE
    //////////////////////////////////////////////////////////////*/

    function testSplitMintsChildrenWithParent() public {
        uint256 lotId = _registerLot(registry, CONTRACTOR, BUILDING_A, 10_000);

        VM.prank(CONTRACTOR);
        uint256[] memory children = registry.split(lotId, _pair(3_000, 2_000));

        _assertEq(children[0], lotId + 1, "first child id");
        _assertEq(children[1], lotId + 2, "second child id");
        _assertEq(registry.balanceOf(CONTRACTOR, lotId), 5_000, "parent balance");
        _assertEq(registry.balanceOf(CONTRACTOR, children[0]), 3_000, "first child balance");
        _assertEq(registry.balanceOf(CONTRACTOR, children[1]), 2_000, "second child balance");
        _assertEq(registry.lot(children[0]).buildingId, BUILDING_A, "child origin");
        _assertEq(registry.lot(children[1]).quantity, 2_000, "child registered quantity");
        (uint256[] memory parents, uint256[] memory quantities) = registry.lotParents(children[1]);
        _assertEq(parents.length, 1, "parent count");
        _assertEq(parents[0], lotId, "parent id");
        _assertEq(quantities[0], 2_000, "quantity from parent");
    }

    function testSplitRejectsMoreThanBalance() public {
        uint256 lotId = _registerLot(registry, CONTRACTOR, BUILDING_A, 1_000);

        VM.expectRevert(
            abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, CONTRACTOR, 1_000, 1_001, lotId)
        );
        VM.prank(CONTRACTOR);
        registry.split(lotId, _pair(500, 501));
    }

    function testSplitRejectsZeroPartAndEmpty() public {
        uint256 lotId = _registerLot(registry, CONTRACTOR, BUILDING_A, 1_000);

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryZeroQuantity.selector, lotId + 2));
        VM.prank(CONTRACTOR);
        registry.split(lotId, _pair(500, 0));

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryEmptyBatch.selector));
        VM.prank(CONTRACTOR);
        registry.split(lotId, new uint256[](0));
    }

    function testMergeRecordsAllOrigins() public {
        uint256 fromA = _registerLot(registry, CONTRACTOR, BUILDING_A, 1_000);
        uint256 fromB = _registerLot(registry, CONTRACTOR, BUILDING_B, 2_000);

        VM.prank(CONTRACTOR);
        uint256 merged = registry.merge(_pair(fromA, fromB), _pair(600, 2_000));

        _assertEq(registry.balanceOf(CONTRACTOR, merged), 2_600, "merged balance");
        _assertEq(registry.balanceOf(CONTRACTOR, fromA), 400, "rest of first parent");
        _assertEq(registry.balanceOf(CONTRACTOR, fromB), 0, "rest of second parent");
        _assertEq(registry.lot(merged).buildingId, bytes32(0), "mixed origins leave no single building");
        _assertEq(registry.lot(merged).unitMassGrams, UNIT_MASS_GRAMS, "unit mass kept");
        (uint256[] memory parents, uint256[] memory quantities) = registry.lotParents(merged);
        _assertEq(parents[0], fromA, "first parent");
        _assertEq(parents[1], fromB, "second parent");
        _assertEq(quantities[0], 600, "quantity from first parent");
        _assertEq(quantities[1], 2_000, "quantity from second parent");
    }

    function testMergeRejectsDifferentUnitMass() public {
        uint256 first = _registerLot(registry, CONTRACTOR, BUILDING_A, 1_000);
        bytes memory entries = abi.encodePacked(
            LOT_HASH, CATEGORY, uint64(1_000), uint64(UNIT_MASS_GRAMS + 1), uint8(IReclaimRegistry.Unit.Piece)
        );
        uint256 second = registry.registerLots(CONTRACTOR, BUILDING_A, entries);
        registry.revealLot(second, BUILDING_A, entries);

        VM.expectRevert(
            abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryIncompatibleLots.selector, first, second)
        );
        VM.prank(CONTRACTOR);
        registry.merge(_pair(first, second), _pair(1, 1));
    }

    function testMergeRejectsDuplicateAndSingleLot() public {
        uint256 lotId = _registerLot(registry, CONTRACTOR, BUILDING_A, 1_000);

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryDuplicateLot.selector, lotId));
        VM.prank(CONTRACTOR);
        registry.merge(_pair(lotId, lotId), _pair(1, 1));

        uint256[] memory one = new uint256[](1);
        one[0] = lotId;
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryTooFewLots.selector, 1));
        VM.prank(CONTRACTOR);
        registry.merge(one, one);
    }

    function testSplitAndMergeRejectQuantityOf192Bits() public {
        uint256 first = _registerLot(registry, CONTRACTOR, BUILDING_A, 1_000);
        uint256 second = _registerLot(registry, CONTRACTOR, BUILDING_A, 1_000);
        uint256 tooLarge = 1 << 192;

        VM.startPrank(CONTRACTOR);
        VM.expectRevert(
            abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryParentTooLarge.selector, first, tooLarge)
        );
        registry.split(first, _pair(1, tooLarge));
        VM.expectRevert(
            abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryParentTooLarge.selector, second, tooLarge)
        );
        registry.merge(_pair(first, second), _pair(1, tooLarge));
        // One less fits the parent word, so the split gets as far as the burn.
        VM.expectRevert(
            abi.encodeWithSelector(
                IERC1155Errors.ERC1155InsufficientBalance.selector, CONTRACTOR, 1_000, tooLarge, first
            )
        );
        registry.split(first, _pair(1, tooLarge - 1));
        VM.stopPrank();
    }

    /*//////////////////////////////////////////////////////////////
                              INSPECTIONS
    //////////////////////////////////////////////////////////////*/

    function testInspectionRecordedAndRevokedByAuthor() public {
        uint256 lotId = _registerLot(registry, CONTRACTOR, BUILDING_A, 1_000);
        uint8[4] memory hazards = [uint8(1), 1, 1, 1];

        VM.prank(INSPECTOR);
        uint256 inspectionId = registry.recordInspection(lotId, 0, bytes32("interior-door"), hazards, DOCUMENT);

        _assertEq(inspectionId, 1, "first inspection id");
        _assertEq(registry.inspection(inspectionId).lotId, lotId, "inspected lot");

        VM.expectRevert(
            abi.encodeWithSelector(
                IReclaimRegistry.ReclaimRegistryNotInspectionAuthor.selector, inspectionId, AUDITOR, INSPECTOR
            )
        );
        VM.prank(AUDITOR);
        registry.revokeInspection(inspectionId, DOCUMENT);

        VM.prank(INSPECTOR);
        registry.revokeInspection(inspectionId, DOCUMENT);
        if (!registry.inspection(inspectionId).revoked) revert UintMismatch("revoked flag", 0, 1);

        VM.expectRevert(
            abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryInspectionAlreadyRevoked.selector, inspectionId)
        );
        VM.prank(INSPECTOR);
        registry.revokeInspection(inspectionId, DOCUMENT);
    }

    function testInspectionRejectsInvalidValues() public {
        uint256 lotId = _registerLot(registry, CONTRACTOR, BUILDING_A, 1_000);
        uint8[4] memory hazards = [uint8(1), 1, 3, 1];

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryInvalidHazardStatus.selector, 3));
        VM.prank(INSPECTOR);
        registry.recordInspection(lotId, 0, bytes32("interior-door"), hazards, DOCUMENT);

        hazards[2] = 1;
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryInvalidGrade.selector, 3));
        VM.prank(INSPECTOR);
        registry.recordInspection(lotId, 3, bytes32("interior-door"), hazards, DOCUMENT);

        VM.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, DEALER, registry.INSPECTOR_ROLE()
            )
        );
        VM.prank(DEALER);
        registry.recordInspection(lotId, 0, bytes32("interior-door"), hazards, DOCUMENT);
    }

    /*//////////////////////////////////////////////////////////////
                                 CLAIMS
    //////////////////////////////////////////////////////////////*/

    function testClaimRegisteredAndAudited() public {
        uint256 lotId = _registerLot(registry, CONTRACTOR, BUILDING_A, 1_000);
        IReclaimRegistry.ClaimInput memory input = _claimInput(lotId, 2_500);

        VM.prank(OWNER);
        uint256 claimId = registry.registerClaim(input);

        _assertEq(claimId, 1, "first claim id");
        IReclaimRegistry.Claim memory stored = registry.claim(claimId);
        _assertEq(stored.input.reuseShareBps, 2_500, "stored share");
        _assertEq(stored.input.lotIds[0], lotId, "stored lot");
        if (stored.owner != OWNER) revert UintMismatch("owner", 0, 1);

        VM.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, OWNER, registry.AUDITOR_ROLE()
            )
        );
        VM.prank(OWNER);
        registry.recordAudit(claimId, true, DOCUMENT);

        VM.prank(AUDITOR);
        registry.recordAudit(claimId, true, DOCUMENT);

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryUnknownClaim.selector, 2));
        VM.prank(AUDITOR);
        registry.recordAudit(2, false, DOCUMENT);
    }

    function testClaimRejectsShareAboveWhole() public {
        uint256 lotId = _registerLot(registry, CONTRACTOR, BUILDING_A, 1_000);
        IReclaimRegistry.ClaimInput memory input = _claimInput(lotId, 10_001);

        VM.expectRevert(
            abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryInvalidShare.selector, 10_001, 1_000, 4_000)
        );
        registry.registerClaim(input);
    }

    function _claimInput(uint256 lotId, uint256 shareBps) private pure returns (IReclaimRegistry.ClaimInput memory) {
        uint256[] memory lots = new uint256[](1);
        lots[0] = lotId;
        return IReclaimRegistry.ClaimInput({
            destinationBuildingId: DESTINATION,
            lotIds: lots,
            reusedMassGrams: 1_000,
            totalMassGrams: 4_000,
            reuseShareBps: shareBps,
            co2eAvoidedGrams: 100,
            methodVersion: bytes32("reclaim-audit/1"),
            documentHash: DOCUMENT
        });
    }

    /*//////////////////////////////////////////////////////////////
                                 FUZZ
    //////////////////////////////////////////////////////////////*/

    function testFuzzSplitMergeConservesQuantity(uint256 quantity, uint256 first, uint256 second, uint256 merged)
        public
    {
        quantity = _bound(quantity, 3, type(uint64).max);
        first = _bound(first, 1, quantity - 2);
        second = _bound(second, 1, quantity - first - 1);
        uint256 lotId = _registerLot(registry, CONTRACTOR, BUILDING_A, quantity);

        VM.startPrank(CONTRACTOR);
        uint256[] memory children = registry.split(lotId, _pair(first, second));
        merged = _bound(merged, 1, second);
        uint256 mergedId = registry.merge(_pair(children[0], children[1]), _pair(first, merged));
        VM.stopPrank();

        uint256 total = registry.balanceOf(CONTRACTOR, lotId) + registry.balanceOf(CONTRACTOR, children[0])
            + registry.balanceOf(CONTRACTOR, children[1]) + registry.balanceOf(CONTRACTOR, mergedId);
        _assertEq(total, quantity, "quantity conserved");
        _assertEq(registry.balanceOf(CONTRACTOR, mergedId), first + merged, "merged quantity");
        _assertEq(registry.lot(mergedId).buildingId, BUILDING_A, "common origin kept");
        _checkParents(children[1], _one(lotId), _one(second));
        _checkParents(mergedId, _pair(children[0], children[1]), _pair(first, merged));
    }

    function testFuzzLotParentsKeepWideQuantities(uint64 quantityA, uint64 quantityB, uint256 part) public {
        uint256 first = _bound(quantityA, 1, type(uint64).max);
        uint256 second = _bound(quantityB, 1, type(uint64).max);
        uint256 lotA = _registerLot(registry, CONTRACTOR, BUILDING_A, first);
        uint256 lotB = _registerLot(registry, CONTRACTOR, BUILDING_B, second);

        // The merged quantity can exceed 64 bits, and so can the split child's.
        VM.startPrank(CONTRACTOR);
        uint256 mergedId = registry.merge(_pair(lotA, lotB), _pair(first, second));
        part = _bound(part, 1, first + second);
        uint256 child = registry.split(mergedId, _one(part))[0];
        VM.stopPrank();

        _checkParents(lotA, new uint256[](0), new uint256[](0));
        _checkParents(mergedId, _pair(lotA, lotB), _pair(first, second));
        _checkParents(child, _one(mergedId), _one(part));
    }

    function _checkParents(uint256 lotId, uint256[] memory expectedIds, uint256[] memory expectedQuantities)
        private
        view
    {
        (uint256[] memory parents, uint256[] memory quantities) = registry.lotParents(lotId);
        _assertEq(parents.length, expectedIds.length, "parent count");
        _assertEq(quantities.length, expectedIds.length, "parent quantity count");
        for (uint256 i = 0; i < parents.length; ++i) {
            _assertEq(parents[i], expectedIds[i], "parent id");
            _assertEq(quantities[i], expectedQuantities[i], "quantity from parent");
        }
    }
}

/// @notice Random operations on a few lots by a few holders, with ghost totals of what
/// left circulation, for the invariant test below.
contract EndOfLifeHandler is RegistryFixture {
    ReclaimRegistry public immutable registry;
    address[3] private holders = [address(0xA1), address(0xA2), address(0xA3)];
    uint256 public constant ROOT_QUANTITY = 1_000_000;
    uint256 public constant ROOT_COUNT = 3;
    /// @notice A third root lot that is never revealed, so that its lazy balance moves
    /// and burns while split and merge skip it.
    uint256 public immutable unrevealedLot;

    /// @notice Quantity burnt by install and dispose, in thousandths of the common unit.
    uint256 public removed;

    constructor() {
        registry = _deployRegistry();
        _registerLot(registry, holders[0], BUILDING_A, ROOT_QUANTITY);
        _registerLot(registry, holders[1], BUILDING_B, ROOT_QUANTITY);
        unrevealedLot = registry.registerLots(
            holders[2],
            BUILDING_A,
            _entry(
                LOT_HASH, CATEGORY, uint64(ROOT_QUANTITY), uint64(UNIT_MASS_GRAMS), uint8(IReclaimRegistry.Unit.Piece)
            )
        );
    }

    function holderAt(uint256 index) external view returns (address) {
        return holders[index];
    }

    function transfer(uint256 from, uint256 to, uint256 lotSeed, uint256 amount) external {
        (address holder, uint256 lotId, uint256 balance) = _pick(from, lotSeed);
        address receiver = holders[to % 3];
        if (balance == 0 || receiver == holder) return;
        VM.prank(holder);
        registry.transferCustody(holder, receiver, lotId, _bound(amount, 1, balance), 1, bytes32(0));
    }

    function install(uint256 from, uint256 lotSeed, uint256 amount) external {
        (address holder, uint256 lotId, uint256 balance) = _pick(from, lotSeed);
        if (balance == 0) return;
        amount = _bound(amount, 1, balance);
        VM.prank(holder);
        registry.install(lotId, amount, DESTINATION, bytes32(0));
        removed += amount;
    }

    function dispose(uint256 from, uint256 lotSeed, uint256 amount) external {
        (address holder, uint256 lotId, uint256 balance) = _pick(from, lotSeed);
        if (balance == 0) return;
        amount = _bound(amount, 1, balance);
        VM.prank(holder);
        registry.dispose(lotId, amount, 0, bytes32(0));
        removed += amount;
    }

    function split(uint256 from, uint256 lotSeed, uint256 first, uint256 second) external {
        (address holder, uint256 lotId, uint256 balance) = _pick(from, lotSeed);
        if (balance < 2 || lotId == unrevealedLot) return;
        first = _bound(first, 1, balance - 1);
        second = _bound(second, 1, balance - first);
        VM.prank(holder);
        registry.split(lotId, _pair(first, second));
    }

    function merge(uint256 from, uint256 firstSeed, uint256 secondSeed, uint256 first, uint256 second) external {
        (address holder, uint256 firstLot, uint256 firstBalance) = _pick(from, firstSeed);
        uint256 secondLot = 1 + secondSeed % registry.lotCount();
        uint256 secondBalance = registry.balanceOf(holder, secondLot);
        if (firstBalance == 0 || secondBalance == 0 || firstLot == secondLot) return;
        if (firstLot == unrevealedLot || secondLot == unrevealedLot) return;
        VM.prank(holder);
        registry.merge(
            _pair(firstLot, secondLot), _pair(_bound(first, 1, firstBalance), _bound(second, 1, secondBalance))
        );
    }

    function _pick(uint256 holderSeed, uint256 lotSeed)
        private
        view
        returns (address holder, uint256 lotId, uint256 balance)
    {
        holder = holders[holderSeed % 3];
        lotId = 1 + lotSeed % registry.lotCount();
        balance = registry.balanceOf(holder, lotId);
    }
}

/// @notice Invariant: every unit of the registered lots is either held (in the lots
/// themselves or in lots split or merged from them) or was burnt by install or dispose.
contract ReclaimRegistryConservationInvariantTest is RegistryFixture {
    EndOfLifeHandler private handler;

    function setUp() public {
        handler = new EndOfLifeHandler();
    }

    /// @dev Read by forge in place of forge-std's `targetContract`.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function invariantQuantityConserved() public view {
        ReclaimRegistry registry = handler.registry();
        uint256 held = 0;
        for (uint256 lotId = 1; lotId <= registry.lotCount(); ++lotId) {
            for (uint256 i = 0; i < 3; ++i) {
                held += registry.balanceOf(handler.holderAt(i), lotId);
            }
        }
        _assertEq(
            held + handler.removed(), handler.ROOT_QUANTITY() * handler.ROOT_COUNT(), "held plus burnt is registered"
        );
    }
}
