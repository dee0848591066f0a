// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC1155Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {IERC1155Receiver} from "@openzeppelin/contracts/token/ERC1155/IERC1155Receiver.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {IReclaimRegistry} from "../IReclaimRegistry.sol";
import {LazyBatchBalances} from "../LazyBatchBalances.sol";
import {ReclaimRegistry} from "../ReclaimRegistry.sol";
import {ReferenceComparisonTest, Vm} from "./TestSupport.sol";

/// @notice The lazy ERC-1155 base with its plain mints open, to reach balances the
/// registry's quantities never reach.
contract LazyBalancesHarness is LazyBatchBalances("") {
    function mintNew(address to, uint256 value) external returns (uint256 id) {
        id = _takeIds(1);
        _mint(to, id, value, "");
    }

    function mintMore(address to, uint256 id, uint256 value) external {
        _mint(to, id, value, "");
    }
}

/// @notice A holder contract that acts from inside its ERC-1155 receiver hooks: it can
/// pass on the lot it just received, send it back, move it twice, reveal and split it.
contract ReentrantHolder is IERC1155Receiver {
    enum Action {
        None,
        PassOn,
        SendBack,
        MoveTwice,
        RevealAndSplit
    }

    ReclaimRegistry private immutable registry;
    Action public action;
    address public target;
    uint256 public lotId;
    uint256 public amount;
    bytes32 public buildingId;
    bytes public entries;
    bool private busy;

    constructor(ReclaimRegistry registry_) {
        registry = registry_;
    }

    function configure(Action action_, address target_, uint256 lotId_, uint256 amount_) external {
        action = action_;
        target = target_;
        lotId = lotId_;
        amount = amount_;
    }

    function setBatch(bytes32 buildingId_, bytes calldata entries_) external {
        buildingId = buildingId_;
        entries = entries_;
    }

    function onERC1155Received(address, address from, uint256, uint256, bytes calldata) external returns (bytes4) {
        _act(from);
        return IERC1155Receiver.onERC1155Received.selector;
    }

    function onERC1155BatchReceived(address, address from, uint256[] calldata, uint256[] calldata, bytes calldata)
        external
        returns (bytes4)
    {
        _act(from);
        return IERC1155Receiver.onERC1155BatchReceived.selector;
    }

    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return interfaceId == type(IERC1155Receiver).interfaceId || interfaceId == type(IERC165).interfaceId;
    }

    function _act(address from) private {
        if (busy || action == Action.None) return;
        busy = true;
        if (action == Action.PassOn) {
            registry.safeTransferFrom(address(this), target, lotId, amount, "");
        } else if (action == Action.SendBack) {
            registry.safeTransferFrom(address(this), from, lotId, amount, "");
        } else if (action == Action.MoveTwice) {
            registry.safeTransferFrom(address(this), target, lotId, amount, "");
            registry.safeTransferFrom(address(this), target, lotId, amount, "");
        } else if (action == Action.RevealAndSplit) {
            registry.revealLot(lotId, buildingId, entries);
            uint256[] memory quantities = new uint256[](2);
            quantities[0] = amount;
            quantities[1] = amount;
            registry.split(lotId, quantities);
        }
        busy = false;
    }
}

/// @notice Attempts to break the lazy batch balances of the registry: supply conservation
/// under mixed operations, bitmap word boundaries, double spends, reentrant receivers,
/// reveals with wrong entries, uint64 maxima, custody events and access control.
contract ReclaimRegistryBreakTest is ReferenceComparisonTest {
    bytes32 private constant BUILDING_ID = bytes32("BLD-BRK-01");
    bytes32 private constant OTHER_BUILDING_ID = bytes32("BLD-BRK-02");
    bytes32 private constant CATEGORY = bytes32("beams");
    bytes32 private constant DESTINATION = bytes32("DST-BRK");
    uint64 private constant UNIT_MASS_GRAMS = 7_250;

    address private constant ALICE = address(0xA11CE);
    address private constant BOB = address(0xB0B);
    address private constant CAROL = address(0xCA201);

    address[3] private actors = [ALICE, BOB, CAROL];

    // Minted minus burned per lot id, kept by the test from the operations it ran.
    mapping(uint256 lotId => uint256) private supply;

    function setUp() public {
        _setUpRegistry(
            _pair(BUILDING_ID, OTHER_BUILDING_ID), _pair(keccak256("break building"), keccak256("other break building"))
        );
    }

    /*//////////////////////////////////////////////////////////////
                          BITMAP WORD BOUNDARIES
    //////////////////////////////////////////////////////////////*/

    function testBatchesAroundWordBoundaries() public {
        // Batches 1..254, 255..510 (crosses into word 1), 511..512 (crosses into word 2),
        // then 513..768 starting at bit 1 of word 2.
        _register(ALICE, 254, 1, BUILDING_ID);
        _register(BOB, 256, 2, BUILDING_ID);
        _register(CAROL, 2, 3, BUILDING_ID);
        _register(ALICE, 256, 4, BUILDING_ID);

        _checkBatch(254, 1, 254);
        _checkBatch(255, 255, 256);
        _checkBatch(256, 255, 256);
        _checkBatch(257, 255, 256);
        _checkBatch(510, 255, 256);
        _checkBatch(511, 511, 2);
        _checkBatch(512, 511, 2);
        _checkBatch(513, 513, 256);
        _checkBatch(768, 513, 256);

        uint256[10] memory probes = [uint256(1), 254, 255, 256, 257, 510, 511, 512, 513, 768];
        for (uint256 i = 0; i < probes.length; ++i) {
            _checkHolders(probes[i]);
            (uint256 first,,) = registry.lotBatch(probes[i]);
            IReclaimRegistry.Lot memory found = registry.verifyLot(probes[i], BUILDING_ID, batchEntries[first]);
            _assertEq(found.quantity, supply[probes[i]], "verifyLot quantity");
        }
        _assertEq(registry.balanceOf(ALICE, 769), 0, "balance past last id");
        _assertEq(registry.balanceOf(ALICE, 0), 0, "balance of id 0");
    }

    function testSplitChildAtWordBoundary() public {
        // A 255-lot batch fills ids 1..255; the split children take 256 and 257, bits 0
        // and 1 of word 1, and the next batch starts at 258.
        _register(ALICE, 255, 1, BUILDING_ID);
        registry.revealLot(255, BUILDING_ID, batchEntries[1]);
        uint256[] memory children = _split(ALICE, 255, _pair(3, 4));
        _assertEq(children[0], 256, "first child");
        uint256 next = _register(BOB, 3, 2, BUILDING_ID);
        _assertEq(next, 258, "next batch");

        _checkBatch(256, 0, 0);
        _checkBatch(257, 0, 0);
        _checkBatch(258, 258, 3);
        _checkBatch(255, 1, 255);
        for (uint256 id = 254; id <= 260; ++id) {
            _checkHolders(id);
        }
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryNotBatchLot.selector, 256));
        registry.verifyLot(256, BUILDING_ID, batchEntries[1]);
        // Children's plain balances move like any other.
        _transfer(ALICE, BOB, 256, 3);
        _checkHolders(256);
    }

    function testChildAtLastBitOfWord() public {
        // Batch 1..254, child 255 (bit 255 of word 0), batch 256.. (bit 0 of word 1).
        _register(ALICE, 254, 1, BUILDING_ID);
        registry.revealLot(10, BUILDING_ID, batchEntries[1]);
        uint256[] memory children = _split(ALICE, 10, _one(5));
        _assertEq(children[0], 255, "child id");
        _register(BOB, 2, 2, BUILDING_ID);

        _checkBatch(255, 0, 0);
        _checkBatch(256, 256, 2);
        _checkBatch(254, 1, 254);
        for (uint256 id = 253; id <= 257; ++id) {
            _checkHolders(id);
        }
    }

    function testFullBatchesBackToBack() public {
        for (uint256 b = 0; b < 4; ++b) {
            _register(actors[b % 3], 256, 10 + b, BUILDING_ID);
        }
        for (uint256 b = 0; b < 4; ++b) {
            uint256 first = 1 + b * 256;
            _checkBatch(first, first, 256);
            _checkBatch(first + 255, first, 256);
            _checkHolders(first);
            _checkHolders(first + 255);
        }
        // The last lot of each batch moves, then the first lot of the next one.
        for (uint256 b = 0; b < 3; ++b) {
            uint256 last = (b + 1) * 256;
            _transfer(actors[b % 3], actors[(b + 1) % 3], last, 1);
            _checkHolders(last);
            _checkHolders(last + 1);
        }
    }

    /*//////////////////////////////////////////////////////////////
                              DOUBLE SPENDS
    //////////////////////////////////////////////////////////////*/

    function testUntouchedLotCannotBeSpentTwice() public {
        _register(ALICE, 3, 1, BUILDING_ID);
        uint256 quantity = _quantity(1, 1);
        _transfer(ALICE, BOB, 2, quantity);

        VM.expectRevert(
            abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, ALICE, 0, quantity, 2)
        );
        VM.prank(ALICE);
        registry.safeTransferFrom(ALICE, CAROL, 2, quantity, "");

        VM.expectRevert(abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, ALICE, 0, 1, 2));
        VM.prank(ALICE);
        registry.install(2, 1, DESTINATION, bytes32(0));
        _checkHolders(2);
    }

    function testDuplicateIdsInBatchTransfer() public {
        _register(ALICE, 3, 1, BUILDING_ID);
        uint256 quantity = _quantity(1, 0);
        uint256[] memory ids = _pair(1, 1);

        // Together the two entries ask for one more than the lot has.
        VM.expectRevert(abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, ALICE, 1, 2, 1));
        VM.prank(ALICE);
        registry.safeBatchTransferFrom(ALICE, BOB, ids, _pair(quantity - 1, 2), "");

        _batchTransfer(ALICE, BOB, ids, _pair(quantity - 1, 1));
        _checkHolders(1);
        _assertEq(_sum(1), quantity, "supply");
    }

    function testReturnedLotIsNotDoubled() public {
        _register(ALICE, 2, 1, BUILDING_ID);
        uint256 quantity = _quantity(1, 0);
        _transfer(ALICE, BOB, 1, quantity);
        _transfer(BOB, ALICE, 1, quantity);
        _transfer(ALICE, CAROL, 1, 1);
        _checkHolders(1);
        _assertEq(_sum(1), quantity, "supply");
    }

    function testStrangerOperatorCannotSpendUntouchedLot() public {
        _register(ALICE, 2, 1, BUILDING_ID);
        VM.prank(BOB);
        registry.setApprovalForAll(CAROL, true);

        VM.expectRevert(abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, BOB, 0, 1, 1));
        VM.prank(CAROL);
        registry.safeTransferFrom(BOB, CAROL, 1, 1, "");
        VM.expectRevert(abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, BOB, 0, 1, 1));
        VM.prank(BOB);
        registry.dispose(1, 1, 0, bytes32(0));
    }

    function testSelfAndZeroMovesRejected() public {
        _register(ALICE, 2, 1, BUILDING_ID);

        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistrySelfTransfer.selector, ALICE));
        VM.prank(ALICE);
        registry.safeTransferFrom(ALICE, ALICE, 1, 1, "");
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistrySelfTransfer.selector, ALICE));
        VM.prank(ALICE);
        registry.safeBatchTransferFrom(ALICE, ALICE, _one(1), _one(1), "");
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryZeroQuantity.selector, 1));
        VM.prank(ALICE);
        registry.safeTransferFrom(ALICE, BOB, 1, 0, "");
        // A zero move by a non-holder must not touch anything either.
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryZeroQuantity.selector, 2));
        VM.prank(BOB);
        registry.safeTransferFrom(BOB, CAROL, 2, 0, "");
        _checkHolders(1);
        _checkHolders(2);
    }

    /*//////////////////////////////////////////////////////////////
                           REENTRANT RECEIVERS
    //////////////////////////////////////////////////////////////*/

    function testReceiverPassesOnDuringFirstMove() public {
        ReentrantHolder hook = new ReentrantHolder(registry);
        _register(ALICE, 3, 1, BUILDING_ID);
        uint256 quantity = _quantity(1, 1);
        hook.configure(ReentrantHolder.Action.PassOn, CAROL, 2, quantity / 2);

        VM.prank(ALICE);
        registry.safeTransferFrom(ALICE, address(hook), 2, quantity, "");

        _assertEq(registry.balanceOf(ALICE, 2), 0, "alice");
        _assertEq(registry.balanceOf(address(hook), 2), quantity - quantity / 2, "hook");
        _assertEq(registry.balanceOf(CAROL, 2), quantity / 2, "carol");
    }

    function testReceiverSendsBackDuringFirstMove() public {
        ReentrantHolder hook = new ReentrantHolder(registry);
        _register(ALICE, 3, 1, BUILDING_ID);
        uint256 quantity = _quantity(1, 0);
        hook.configure(ReentrantHolder.Action.SendBack, address(0), 1, 7);

        VM.prank(ALICE);
        registry.safeTransferFrom(ALICE, address(hook), 1, 10, "");

        _assertEq(registry.balanceOf(ALICE, 1), quantity - 3, "alice");
        _assertEq(registry.balanceOf(address(hook), 1), 3, "hook");
        // Alice's returned tokens spend like any others, and no more than she has.
        VM.prank(ALICE);
        registry.safeTransferFrom(ALICE, BOB, 1, quantity - 3, "");
        VM.expectRevert(abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, ALICE, 0, 1, 1));
        VM.prank(ALICE);
        registry.safeTransferFrom(ALICE, BOB, 1, 1, "");
    }

    function testRejectedFirstMoveKeepsAllocation() public {
        _register(ALICE, 2, 1, BUILDING_ID);
        uint256 quantity = _quantity(1, 0);

        // The reference token has no receiver hook, so it rejects the lot.
        VM.expectRevert(abi.encodeWithSelector(IERC1155Errors.ERC1155InvalidReceiver.selector, address(anchor)));
        VM.prank(ALICE);
        registry.safeTransferFrom(ALICE, address(anchor), 1, quantity, "");

        _assertEq(registry.balanceOf(ALICE, 1), quantity, "alice after rejected move");
        _transfer(ALICE, BOB, 1, quantity);
        _checkHolders(1);
    }

    function testBatchHolderMovesLotDuringMintHook() public {
        // The holder's hook runs inside registerLots, before anything moved: its first
        // move must see the whole allocation, and only once.
        ReentrantHolder hook = new ReentrantHolder(registry);
        uint256 quantity = _quantity(1, 2);
        hook.configure(ReentrantHolder.Action.MoveTwice, BOB, 3, quantity / 2);

        registry.registerLots(address(hook), BUILDING_ID, _entries(4, 1));

        _assertEq(registry.balanceOf(BOB, 3), 2 * (quantity / 2), "bob");
        _assertEq(registry.balanceOf(address(hook), 3), quantity - 2 * (quantity / 2), "hook");
        _assertEq(registry.balanceOf(address(hook), 4), _quantity(1, 3), "untouched sibling");
    }

    function testBatchHolderOverspendsDuringMintHook() public {
        ReentrantHolder hook = new ReentrantHolder(registry);
        uint256 quantity = _quantity(1, 0);
        hook.configure(ReentrantHolder.Action.MoveTwice, BOB, 1, quantity);

        VM.expectRevert(
            abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, address(hook), 0, quantity, 1)
        );
        registry.registerLots(address(hook), BUILDING_ID, _entries(2, 1));
        _assertEq(registry.lotCount(), 0, "lotCount after revert");
    }

    function testBatchHolderRevealsAndSplitsDuringMintHook() public {
        ReentrantHolder hook = new ReentrantHolder(registry);
        bytes memory entries = _entries(3, 1);
        hook.setBatch(BUILDING_ID, entries);
        hook.configure(ReentrantHolder.Action.RevealAndSplit, address(0), 2, 11);

        uint256 first = registry.registerLots(address(hook), BUILDING_ID, entries);

        _assertEq(first, 1, "first");
        _assertEq(registry.lotCount(), 5, "lotCount");
        _assertEq(registry.balanceOf(address(hook), 2), _quantity(1, 1) - 22, "parent left");
        _assertEq(registry.balanceOf(address(hook), 4), 11, "child 4");
        _assertEq(registry.balanceOf(address(hook), 5), 11, "child 5");
        _checkBatch(4, 0, 0);
        _checkBatch(3, 1, 3);
        // The next batch follows the children.
        _assertEq(registry.registerLots(ALICE, BUILDING_ID, _entries(2, 2)), 6, "next batch");
    }

    /*//////////////////////////////////////////////////////////////
                               REVEAL, VERIFY
    //////////////////////////////////////////////////////////////*/

    function testRevealRejectsWrongEntries() public {
        _register(ALICE, 3, 1, BUILDING_ID);
        _register(BOB, 3, 2, BUILDING_ID);
        bytes memory entries = batchEntries[1];
        bytes memory otherBatch = batchEntries[4];

        bytes[4] memory wrong = [
            _prefix(entries, entries.length - 81),
            bytes.concat(entries, new bytes(1)),
            bytes.concat(entries, _entry(_recordHash(1, 9), CATEGORY, 1, UNIT_MASS_GRAMS, 0)),
            otherBatch
        ];
        for (uint256 i = 0; i < wrong.length; ++i) {
            VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryBatchMismatch.selector, 2));
            registry.revealLot(2, BUILDING_ID, wrong[i]);
        }
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryBatchMismatch.selector, 2));
        registry.revealLot(2, OTHER_BUILDING_ID, entries);
        VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryLotNotRevealed.selector, 2));
        registry.lot(2);

        registry.revealLot(2, BUILDING_ID, entries);
        _assertEq(registry.lot(2).quantity, _quantity(1, 1), "revealed quantity");
    }

    function testVerifyUnknownIds() public {
        _register(ALICE, 2, 1, BUILDING_ID);
        uint256[3] memory unknown = [uint256(0), 3, type(uint256).max];
        for (uint256 i = 0; i < unknown.length; ++i) {
            VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryUnknownLot.selector, unknown[i]));
            registry.verifyLot(unknown[i], BUILDING_ID, batchEntries[1]);
            VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryUnknownLot.selector, unknown[i]));
            registry.lotBatch(unknown[i]);
            VM.expectRevert(abi.encodeWithSelector(IReclaimRegistry.ReclaimRegistryUnknownLot.selector, unknown[i]));
            registry.revealLot(unknown[i], BUILDING_ID, batchEntries[1]);
            _assertEq(registry.balanceOf(ALICE, unknown[i]), 0, "balance of unknown id");
        }
    }

    function testUint64MaximaMergeIntoPlainBalance() public {
        uint64 max = type(uint64).max;
        bytes memory entries = bytes.concat(
            _entry(_recordHash(7, 0), CATEGORY, max, UNIT_MASS_GRAMS, 0),
            _entry(_recordHash(7, 1), CATEGORY, max, UNIT_MASS_GRAMS, 0)
        );
        registry.registerLots(ALICE, BUILDING_ID, entries);
        registry.revealLot(1, BUILDING_ID, entries);
        registry.revealLot(2, BUILDING_ID, entries);
        _assertEq(registry.balanceOf(ALICE, 1), max, "lot 1");

        VM.prank(ALICE);
        uint256 merged = registry.merge(_pair(1, 2), _pair(max, max));

        _assertEq(registry.balanceOf(ALICE, merged), 2 * uint256(max), "merged balance");
        _assertEq(registry.lot(merged).quantity, 2 * uint256(max), "merged lot");
        _assertEq(registry.balanceOf(ALICE, 1), 0, "parent 1 left");
        _assertEq(registry.balanceOf(ALICE, 2), 0, "parent 2 left");
        VM.prank(ALICE);
        registry.safeTransferFrom(ALICE, BOB, merged, 2 * uint256(max), "");
        _assertEq(registry.balanceOf(BOB, merged), 2 * uint256(max), "bob");
    }

    /*//////////////////////////////////////////////////////////////
                         EVENTS, INTERFACES, ROLES
    //////////////////////////////////////////////////////////////*/

    function testBatchTransferEventsThenCustodyInOrder() public {
        _register(ALICE, 3, 1, BUILDING_ID);
        uint256[] memory ids = _pair(3, 1);
        uint256[] memory values = _pair(5, 6);

        VM.recordLogs();
        VM.prank(ALICE);
        registry.safeBatchTransferFrom(ALICE, BOB, ids, values, "");
        Vm.Log[] memory logs = VM.getRecordedLogs();

        _assertEq(logs.length, 3, "log count");
        _assertEq(logs[0].topics[0], IERC1155.TransferBatch.selector, "log 0");
        for (uint256 i = 0; i < 2; ++i) {
            Vm.Log memory log = logs[1 + i];
            _assertEq(log.topics[0], IReclaimRegistry.CustodyTransferred.selector, "custody signature");
            _assertEq(log.topics[1], bytes32(ids[i]), "custody lot");
            (uint256 quantity, uint8 reason,, address operator) =
                abi.decode(log.data, (uint256, uint8, bytes32, address));
            _assertEq(quantity, values[i], "custody quantity");
            _assertEq(reason, 0, "custody reason");
            _assertEq(uint160(operator), uint160(ALICE), "custody operator");
        }
    }

    function testCustodyReasonDoesNotLeakIntoNextMove() public {
        ReentrantHolder hook = new ReentrantHolder(registry);
        _register(ALICE, 2, 1, BUILDING_ID);
        hook.configure(ReentrantHolder.Action.PassOn, CAROL, 1, 1);

        VM.recordLogs();
        VM.prank(ALICE);
        registry.transferCustody(ALICE, address(hook), 1, 4, 2, keccak256("waybill"));
        Vm.Log[] memory logs = VM.getRecordedLogs();

        // TransferSingle, custody (reason 2), then the hook's TransferSingle and custody.
        _assertEq(logs.length, 4, "log count");
        (, uint8 first, bytes32 firstReference,) = abi.decode(logs[1].data, (uint256, uint8, bytes32, address));
        (, uint8 second, bytes32 secondReference,) = abi.decode(logs[3].data, (uint256, uint8, bytes32, address));
        _assertEq(first, 2, "first reason");
        _assertEq(firstReference, keccak256("waybill"), "first reference");
        _assertEq(second, 0, "hook's reason");
        _assertEq(secondReference, bytes32(0), "hook's reference");
    }

    function testRegisterLotsNeedsRegistrarRole() public {
        bytes32 role = registry.REGISTRAR_ROLE();
        bytes memory entries = _entries(2, 1);

        VM.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, ALICE, role));
        VM.prank(ALICE);
        registry.registerLots(ALICE, BUILDING_ID, entries);

        registry.revokeRole(role, address(this));
        VM.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), role)
        );
        registry.registerLots(ALICE, BUILDING_ID, entries);
        _assertEq(registry.lotCount(), 0, "lotCount");
    }

    function testCreditOverflowNamesIdAndAccount() public {
        // LazyBatchBalancesBalanceOverflow promises to reject any credit that would bring
        // a balance to 2^255 or more, including one that wraps past 2^256.
        LazyBalancesHarness token = new LazyBalancesHarness();
        uint256 id = token.mintNew(ALICE, 1);

        VM.expectRevert(abi.encodeWithSelector(LazyBatchBalances.LazyBatchBalancesBalanceOverflow.selector, id, ALICE));
        token.mintMore(ALICE, id, type(uint256).max);

        VM.expectRevert(abi.encodeWithSelector(LazyBatchBalances.LazyBatchBalancesBalanceOverflow.selector, id, ALICE));
        token.mintMore(ALICE, id, (1 << 255) - 1);

        token.mintMore(ALICE, id, (1 << 255) - 2);
        _assertEq(token.balanceOf(ALICE, id), (1 << 255) - 1, "largest balance");
    }

    function testPlainMintOfUntakenIdReverts() public {
        // An id past the last one handed out would be handed out again later.
        LazyBalancesHarness token = new LazyBalancesHarness();
        uint256 id = token.mintNew(ALICE, 1);

        VM.expectRevert(abi.encodeWithSelector(LazyBatchBalances.LazyBatchBalancesIdNotTaken.selector, id + 1));
        token.mintMore(ALICE, id + 1, 1);

        VM.expectRevert(abi.encodeWithSelector(LazyBatchBalances.LazyBatchBalancesIdNotTaken.selector, 0));
        token.mintMore(ALICE, 0, 1);

        token.mintMore(ALICE, id, 2);
        _assertEq(token.balanceOf(ALICE, id), 3, "balance of a taken id");
    }

    /*//////////////////////////////////////////////////////////////
                              CONSERVATION
    //////////////////////////////////////////////////////////////*/

    function testFuzzMixedOperationsConserveSupply(uint256 seed) public {
        // Batch sizes around the word boundary, so that batches and children straddle it.
        _register(ALICE, 200 + seed % 57, seed, BUILDING_ID);
        _register(BOB, 1 + (seed >> 8) % 80, seed ^ 1, OTHER_BUILDING_ID);

        for (uint256 step = 0; step < 24; ++step) {
            seed = uint256(keccak256(abi.encode(seed, step)));
            _randomStep(seed);
            if (step % 6 == 5 && (seed >> 200) % 2 == 0) {
                _register(actors[(seed >> 180) % 3], 1 + (seed >> 184) % 256, seed, BUILDING_ID);
            }
        }
        uint256 lots = registry.lotCount();
        for (uint256 id = 1; id <= lots; ++id) {
            _checkHolders(id);
            _assertEq(_sum(id), supply[id], "supply");
        }
    }

    function _randomStep(uint256 seed) private {
        uint256 lots = registry.lotCount();
        uint256 lotId = 1 + seed % lots;
        uint256 kind = (seed >> 64) % 6;
        address from = actors[(seed >> 16) % 3];
        address to = actors[((seed >> 16) % 3 + 1 + (seed >> 24) % 2) % 3];
        uint256 balance = anchor.balanceOf(from, lotId);
        if (balance == 0) {
            // Whoever holds nothing must fail to spend, whatever the lot.
            VM.expectRevert(
                abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, from, 0, 1, lotId)
            );
            VM.prank(from);
            registry.safeTransferFrom(from, to, lotId, 1, "");
            return;
        }
        uint256 value = 1 + (seed >> 32) % balance;
        if (kind == 0) {
            _transfer(from, to, lotId, value);
        } else if (kind == 1) {
            _randomBatchTransfer(seed, from, to, lotId, value);
        } else if (kind == 2) {
            VM.recordLogs();
            VM.prank(from);
            registry.install(lotId, value, DESTINATION, bytes32(0));
            _burnOnReference(from, lotId, value);
        } else if (kind == 3) {
            VM.recordLogs();
            VM.prank(from);
            registry.dispose(lotId, value, 1, bytes32(0));
            _burnOnReference(from, lotId, value);
        } else if (kind == 4) {
            _revealIfBatch(lotId);
            uint256 part = value / 2;
            if (part == 0) return;
            _split(from, lotId, _pair(part, value - part));
        } else {
            _randomMerge(seed, from, lotId, value);
        }
    }

    function _randomBatchTransfer(uint256 seed, address from, address to, uint256 lotId, uint256 value) private {
        uint256 other = 1 + (seed >> 96) % registry.lotCount();
        uint256 otherBalance = anchor.balanceOf(from, other);
        if (other == lotId || otherBalance == 0) {
            _batchTransfer(from, to, _one(lotId), _one(value));
        } else {
            _batchTransfer(from, to, _pair(lotId, other), _pair(value, 1 + (seed >> 128) % otherBalance));
        }
    }

    function _randomMerge(uint256 seed, address from, uint256 lotId, uint256 value) private {
        uint256 other = 1 + (seed >> 96) % registry.lotCount();
        uint256 otherBalance = anchor.balanceOf(from, other);
        if (other == lotId || otherBalance == 0) return;
        _revealIfBatch(lotId);
        _revealIfBatch(other);
        uint256[] memory ids = _pair(lotId, other);
        uint256[] memory quantities = _pair(value, 1 + (seed >> 128) % otherBalance);
        uint256 merged = _merge(from, ids, quantities);
        supply[lotId] -= quantities[0];
        supply[other] -= quantities[1];
        supply[merged] = quantities[0] + quantities[1];
    }

    /*//////////////////////////////////////////////////////////////
                                HELPERS
    //////////////////////////////////////////////////////////////*/

    function _register(address holder, uint256 count, uint256 batch, bytes32 buildingId)
        private
        returns (uint256 firstLotId)
    {
        uint256[] memory quantities = new uint256[](count);
        for (uint256 i = 0; i < count; ++i) {
            quantities[i] = _quantity(batch, i);
        }
        firstLotId = _registerBatch(holder, buildingId, _entries(count, batch), quantities);
        for (uint256 i = 0; i < count; ++i) {
            supply[firstLotId + i] = quantities[i];
        }
    }

    function _revealIfBatch(uint256 lotId) private {
        (uint256 first,,) = registry.lotBatch(lotId);
        if (first != 0) _reveal(lotId);
    }

    // Burns on the reference what the registry just burnt, and compares the events
    // recorded since the registry call.
    function _burnOnReference(address from, uint256 lotId, uint256 value) private {
        Vm.Log[] memory lazyLogs = VM.getRecordedLogs();
        VM.prank(from);
        anchor.burn(from, lotId, value);
        _checkSameTransferLogs(lazyLogs, VM.getRecordedLogs());
        supply[lotId] -= value;
    }

    /// @dev Splits on both tokens like the base, and moves the split quantity from `id`
    /// to the children in `supply`.
    function _split(address holder, uint256 id, uint256[] memory quantities)
        internal
        override
        returns (uint256[] memory children)
    {
        children = super._split(holder, id, quantities);
        uint256 total = 0;
        for (uint256 i = 0; i < quantities.length; ++i) {
            total += quantities[i];
            supply[children[i]] = quantities[i];
        }
        supply[id] -= total;
    }

    // Checks every actor's balance of `id` against the reference, one by one and batched.
    function _checkHolders(uint256 id) private view {
        address[] memory accounts = new address[](3);
        uint256[] memory ids = new uint256[](3);
        for (uint256 a = 0; a < 3; ++a) {
            _assertEq(registry.balanceOf(actors[a], id), anchor.balanceOf(actors[a], id), "balanceOf");
            accounts[a] = actors[a];
            ids[a] = id;
        }
        uint256[] memory lazy = registry.balanceOfBatch(accounts, ids);
        for (uint256 a = 0; a < 3; ++a) {
            _assertEq(lazy[a], anchor.balanceOf(actors[a], id), "balanceOfBatch");
        }
    }

    function _sum(uint256 id) private view returns (uint256 total) {
        for (uint256 a = 0; a < 3; ++a) {
            total += registry.balanceOf(actors[a], id);
        }
    }

    // Every entry has the same category, unit and unit mass, so that any two lots merge.
    function _entries(uint256 count, uint256 batch) private pure returns (bytes memory entries) {
        for (uint256 i = 0; i < count; ++i) {
            entries =
                bytes.concat(entries, _entry(_recordHash(batch, i), CATEGORY, _quantity(batch, i), UNIT_MASS_GRAMS, 1));
        }
    }

    function _quantity(uint256 batch, uint256 index) private pure returns (uint64) {
        return uint64(100 + uint256(keccak256(abi.encode("break quantity", batch, index))) % 1_000_000);
    }

    function _recordHash(uint256 batch, uint256 index) private pure returns (bytes32) {
        return keccak256(abi.encode("break record", batch, index));
    }
}
