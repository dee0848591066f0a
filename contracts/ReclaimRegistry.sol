// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IReclaimRegistry} from "./IReclaimRegistry.sol";
import {LazyBatchBalances} from "./LazyBatchBalances.sol";

/// @title Reclaim Ledger registry
/// @notice Records reclaimed building-material lots, their origin buildings and every
/// custody transfer. Holdings are ERC-1155 balances: the token id is the lot id and one
/// token is one thousandth of the lot's unit.
/// Lots are registered in batches of one building and one holder. The chain keeps a
/// commitment to the batch's entries, the holder and the quantities, and the lots' data
/// is in the {LotBatchRegistered} event. A batch lot's data is stored only when someone
/// reveals it ({revealLot}, {revealLots}), which {lot}, {split} and {merge} need. Lots
/// made by a split or merge have their data stored and plain balances.
contract ReclaimRegistry is IReclaimRegistry, LazyBatchBalances, AccessControl {
    /*//////////////////////////////////////////////////////////////
                                 ROLES
    //////////////////////////////////////////////////////////////*/

    /// @notice Registers buildings and lots.
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    /// @notice Records inspections of lots.
    bytes32 public constant INSPECTOR_ROLE = keccak256("INSPECTOR_ROLE");

    /// @notice Records audits of circularity claims.
    bytes32 public constant AUDITOR_ROLE = keccak256("AUDITOR_ROLE");

    /*//////////////////////////////////////////////////////////////
                                STORAGE
    //////////////////////////////////////////////////////////////*/

    uint8 private constant _MAX_UNIT = uint8(type(Unit).max);
    uint8 private constant _MAX_REASON = uint8(type(CustodyReason).max);
    uint8 private constant _MAX_ROUTE = uint8(type(DisposalRoute).max);
    uint8 private constant _MAX_GRADE = uint8(type(ConditionGrade).max);
    uint8 private constant _MAX_HAZARD = uint8(type(HazardStatus).max);
    uint256 private constant _MAX_SHARE_BPS = 10_000;

    // A parent of a split or merged lot is one word: the parent's lot id above bit 192
    // and the quantity taken from it below. Neither bound is reachable: lot ids grow by
    // one per lot, and a quantity of 2^192 would take 2^128 registered lots of the
    // uint64 maximum. {_packParent} still rejects values beyond them.
    uint256 private constant _PARENT_ID_SHIFT = 192;
    uint256 private constant _MAX_PARENT_LOT_ID = type(uint64).max;
    uint256 private constant _MAX_PARENT_QUANTITY = (1 << _PARENT_ID_SHIFT) - 1;

    /// @notice Bytes per lot entry in {registerLots}.
    uint256 public constant ENTRY_BYTES = 81;

    mapping(bytes32 buildingId => bytes32 recordHash) private _buildings;
    // Stored lot data: every lot made by a split or merge, and revealed batch lots. A
    // stored lot always has a non-zero category.
    mapping(uint256 lotId => Lot) private _lots;

    // Lots a split or merged lot was made from, with the quantity taken from each, as
    // words made by {_packParent}. One array costs one length slot and one slot per
    // parent, half the slots of separate arrays of ids and quantities.
    mapping(uint256 lotId => uint256[] packedParents) private _parents;

    mapping(uint256 inspectionId => Inspection) private _inspections;
    uint256 private _inspectionCount;

    mapping(uint256 claimId => Claim) private _claims;
    uint256 private _claimCount;

    // Reason and reference of the custody move in progress; zero (Unspecified) for
    // plain ERC-1155 transfers. Cleared before the receiver's hook runs.
    uint8 private transient _pendingReason;
    bytes32 private transient _pendingReference;

    /// @param admin Account that receives `DEFAULT_ADMIN_ROLE` and grants the other roles.
    constructor(address admin) LazyBatchBalances("") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /*//////////////////////////////////////////////////////////////
                              REGISTRATION
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IReclaimRegistry
    function registerBuildings(bytes32[] calldata buildingIds, bytes32[] calldata recordHashes)
        external
        onlyRole(REGISTRAR_ROLE)
    {
        if (buildingIds.length == 0) revert ReclaimRegistryEmptyBatch();
        if (buildingIds.length != recordHashes.length) {
            revert ReclaimRegistryLengthMismatch(buildingIds.length, recordHashes.length);
        }

        for (uint256 i = 0; i < buildingIds.length; ++i) {
            bytes32 buildingId = buildingIds[i];
            bytes32 recordHash = recordHashes[i];
            if (buildingId == bytes32(0)) revert ReclaimRegistryInvalidBuildingId(buildingId);
            if (recordHash == bytes32(0)) revert ReclaimRegistryInvalidRecordHash(recordHash);
            if (_buildings[buildingId] != bytes32(0)) revert ReclaimRegistryBuildingAlreadyRegistered(buildingId);

            _buildings[buildingId] = recordHash;

            emit BuildingRegistered(buildingId, recordHash);
        }
    }

    /// @inheritdoc IReclaimRegistry
    function registerLots(address holder, bytes32 buildingId, bytes calldata entries)
        external
        onlyRole(REGISTRAR_ROLE)
        returns (uint256 firstLotId)
    {
        uint256 length = entries.length;
        if (length == 0 || length % ENTRY_BYTES != 0) revert ReclaimRegistryInvalidEntries(length);
        uint256 count = length / ENTRY_BYTES;
        if (count > MAX_BATCH_SIZE) revert ReclaimRegistryBatchTooLarge(count, MAX_BATCH_SIZE);
        if (_buildings[buildingId] == bytes32(0)) revert ReclaimRegistryUnknownBuilding(buildingId);

        firstLotId = _lastTokenId() + 1;
        uint256[] memory quantities = new uint256[](count);
        for (uint256 i = 0; i < count; ++i) {
            // Reads the fields in place: decoding into a memory struct per lot costs more.
            bytes32 recordHash;
            bytes32 category;
            uint256 word;
            assembly ("memory-safe") {
                let entry := add(entries.offset, mul(i, ENTRY_BYTES))
                recordHash := calldataload(entry)
                category := calldataload(add(entry, 32))
                word := calldataload(add(entry, 64))
            }
            // `word` holds quantity (8 bytes), unit mass (8) and unit (1) from its top byte.
            uint8 unit = uint8(word >> 120);
            uint256 quantity = word >> 192;
            if (category == bytes32(0)) revert ReclaimRegistryInvalidCategory(category);
            if (unit > _MAX_UNIT) revert ReclaimRegistryInvalidUnit(unit);
            if (quantity == 0) revert ReclaimRegistryZeroQuantity(firstLotId + i);
            if (recordHash == bytes32(0)) revert ReclaimRegistryInvalidRecordHash(recordHash);
            quantities[i] = quantity;
        }
        bytes32 commitment = keccak256(abi.encodePacked(buildingId, entries));

        emit LotBatchRegistered(firstLotId, buildingId, holder, entries);
        _mintLazyBatch(holder, commitment, quantities);
    }

    /// @inheritdoc IReclaimRegistry
    function revealLot(uint256 lotId, bytes32 buildingId, bytes calldata entries) external {
        _checkLotExists(lotId);
        if (_lots[lotId].category != bytes32(0)) return;

        _lots[lotId] = _verifiedLot(lotId, buildingId, entries);

        emit LotRevealed(lotId);
    }

    /// @inheritdoc IReclaimRegistry
    function revealLots(uint256[] calldata lotIds, bytes32 buildingId, bytes calldata entries) external {
        if (lotIds.length == 0) revert ReclaimRegistryEmptyBatch();

        // The batch of the first lot to store. Its entries are checked against its
        // commitment once, and `count` stays zero until then.
        uint256 firstLotId = 0;
        uint256 count = 0;
        for (uint256 i = 0; i < lotIds.length; ++i) {
            uint256 lotId = lotIds[i];
            _checkLotExists(lotId);
            if (_lots[lotId].category != bytes32(0)) continue;
            if (count == 0) {
                (firstLotId, count) = _checkBatchEntries(lotId, buildingId, entries);
            } else if (lotId < firstLotId || lotId - firstLotId >= count) {
                revert ReclaimRegistryLotOutsideBatch(lotId, firstLotId);
            }

            _lots[lotId] = _decodedLot(lotId - firstLotId, buildingId, entries);

            emit LotRevealed(lotId);
        }
    }

    /*//////////////////////////////////////////////////////////////
                                CUSTODY
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IReclaimRegistry
    function transferCustody(
        address from,
        address to,
        uint256 lotId,
        uint256 quantity,
        uint8 reason,
        bytes32 referenceHash
    ) external {
        if (reason > _MAX_REASON) revert ReclaimRegistryInvalidReason(reason);
        _checkCustodyMove(from, to, lotId, quantity);
        _checkOperator(from);

        _pendingReason = reason;
        _pendingReference = referenceHash;
        _safeTransferFrom(from, to, lotId, quantity, "");
    }

    /// @notice Transfers like ERC-1155 and records the move as custody with reason
    /// `Unspecified`, so that wallets and `cast` keep the custody history complete.
    /// @dev Requirements as {transferCustody}; emits {TransferSingle}, then {CustodyTransferred}.
    function safeTransferFrom(address from, address to, uint256 id, uint256 value, bytes memory data) public override {
        _checkCustodyMove(from, to, id, value);

        super.safeTransferFrom(from, to, id, value, data);
    }

    /// @notice Transfers several lots like ERC-1155 and records each move as custody with
    /// reason `Unspecified`.
    /// @dev Requirements as {transferCustody} for every lot; emits {TransferBatch}, then one
    /// {CustodyTransferred} per lot.
    function safeBatchTransferFrom(
        address from,
        address to,
        uint256[] memory ids,
        uint256[] memory values,
        bytes memory data
    ) public override {
        // A length mismatch is left to ERC-1155, which reverts with ERC1155InvalidArrayLength.
        uint256 checked = ids.length < values.length ? ids.length : values.length;
        for (uint256 i = 0; i < checked; ++i) {
            _checkCustodyMove(from, to, ids[i], values[i]);
        }

        super.safeBatchTransferFrom(from, to, ids, values, data);
    }

    /*//////////////////////////////////////////////////////////////
                              END OF LIFE
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IReclaimRegistry
    function install(uint256 lotId, uint256 quantity, bytes32 destinationBuildingId, bytes32 referenceHash) external {
        _checkLotExists(lotId);
        if (quantity == 0) revert ReclaimRegistryZeroQuantity(lotId);
        if (destinationBuildingId == bytes32(0)) revert ReclaimRegistryInvalidDestination(destinationBuildingId);
        address holder = _msgSender();

        _burn(holder, lotId, quantity);

        emit LotInstalled(lotId, destinationBuildingId, holder, quantity, referenceHash);
    }

    /// @inheritdoc IReclaimRegistry
    function dispose(uint256 lotId, uint256 quantity, uint8 route, bytes32 referenceHash) external {
        _checkLotExists(lotId);
        if (quantity == 0) revert ReclaimRegistryZeroQuantity(lotId);
        if (route > _MAX_ROUTE) revert ReclaimRegistryInvalidRoute(route);
        address holder = _msgSender();

        _burn(holder, lotId, quantity);

        emit LotDisposed(lotId, holder, route, quantity, referenceHash);
    }

    /*//////////////////////////////////////////////////////////////
                              SPLIT, MERGE
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IReclaimRegistry
    function split(uint256 lotId, uint256[] calldata quantities) external returns (uint256[] memory childLotIds) {
        Lot memory parent = _storedLot(lotId);
        uint256 count = quantities.length;
        if (count == 0) revert ReclaimRegistryEmptyBatch();
        address holder = _msgSender();

        uint256 total = 0;
        uint256 firstChild = _takeIds(count);
        childLotIds = new uint256[](count);
        for (uint256 i = 0; i < count; ++i) {
            uint256 childId = firstChild + i;
            uint256 quantity = quantities[i];
            if (quantity == 0) revert ReclaimRegistryZeroQuantity(childId);
            total += quantity;

            parent.quantity = quantity;
            _lots[childId] = parent;
            _parents[childId].push(_packParent(lotId, quantity));
            childLotIds[i] = childId;
        }

        _burn(holder, lotId, total);
        emit LotSplit(lotId, holder, childLotIds, quantities);
        for (uint256 i = 0; i < count; ++i) {
            _emitLotRegistered(childLotIds[i], holder, _lots[childLotIds[i]]);
        }
        _mintBatch(holder, childLotIds, quantities, "");
    }

    /// @inheritdoc IReclaimRegistry
    function merge(uint256[] calldata lotIds, uint256[] calldata quantities) external returns (uint256 lotId) {
        uint256 count = lotIds.length;
        if (count < 2) revert ReclaimRegistryTooFewLots(count);
        if (count != quantities.length) revert ReclaimRegistryLengthMismatch(count, quantities.length);
        address holder = _msgSender();

        Lot memory merged = _checkMergeable(lotIds, quantities);
        lotId = _takeIds(1);
        _lots[lotId] = merged;
        uint256[] storage parents = _parents[lotId];
        for (uint256 i = 0; i < count; ++i) {
            parents.push(_packParent(lotIds[i], quantities[i]));
        }

        _burnBatch(holder, lotIds, quantities);
        emit LotsMerged(lotId, holder, lotIds, quantities);
        _emitLotRegistered(lotId, holder, merged);
        _mint(holder, lotId, merged.quantity, "");
    }

    /*//////////////////////////////////////////////////////////////
                              INSPECTIONS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IReclaimRegistry
    function recordInspection(
        uint256 lotId,
        uint8 grade,
        bytes32 fitness,
        uint8[4] calldata hazards,
        bytes32 evidenceHash
    ) external onlyRole(INSPECTOR_ROLE) returns (uint256 inspectionId) {
        _checkLotExists(lotId);
        if (grade > _MAX_GRADE) revert ReclaimRegistryInvalidGrade(grade);
        for (uint256 i = 0; i < 4; ++i) {
            if (hazards[i] > _MAX_HAZARD) revert ReclaimRegistryInvalidHazardStatus(hazards[i]);
        }
        if (evidenceHash == bytes32(0)) revert ReclaimRegistryInvalidDocumentHash(evidenceHash);

        inspectionId = ++_inspectionCount;
        _inspections[inspectionId] = Inspection({
            lotId: lotId,
            inspector: _msgSender(),
            grade: grade,
            fitness: fitness,
            asbestos: hazards[0],
            leadPaint: hazards[1],
            pcb: hazards[2],
            bituminousAdhesive: hazards[3],
            evidenceHash: evidenceHash,
            revoked: false
        });

        emit InspectionRecorded(
            inspectionId,
            lotId,
            _msgSender(),
            grade,
            fitness,
            hazards[0],
            hazards[1],
            hazards[2],
            hazards[3],
            evidenceHash
        );
    }

    /// @inheritdoc IReclaimRegistry
    function revokeInspection(uint256 inspectionId, bytes32 reasonHash) external {
        if (inspectionId == 0 || inspectionId > _inspectionCount) {
            revert ReclaimRegistryUnknownInspection(inspectionId);
        }
        Inspection storage found = _inspections[inspectionId];
        if (found.inspector != _msgSender()) {
            revert ReclaimRegistryNotInspectionAuthor(inspectionId, _msgSender(), found.inspector);
        }
        if (found.revoked) revert ReclaimRegistryInspectionAlreadyRevoked(inspectionId);
        if (reasonHash == bytes32(0)) revert ReclaimRegistryInvalidDocumentHash(reasonHash);

        found.revoked = true;

        emit InspectionRevoked(inspectionId, found.lotId, found.inspector, reasonHash);
    }

    /*//////////////////////////////////////////////////////////////
                                 CLAIMS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IReclaimRegistry
    function registerClaim(ClaimInput calldata input) external returns (uint256 claimId) {
        if (input.destinationBuildingId == bytes32(0)) {
            revert ReclaimRegistryInvalidDestination(input.destinationBuildingId);
        }
        if (input.lotIds.length == 0) revert ReclaimRegistryEmptyBatch();
        for (uint256 i = 0; i < input.lotIds.length; ++i) {
            _checkLotExists(input.lotIds[i]);
        }
        if (input.reuseShareBps > _MAX_SHARE_BPS || input.reusedMassGrams > input.totalMassGrams) {
            revert ReclaimRegistryInvalidShare(input.reuseShareBps, input.reusedMassGrams, input.totalMassGrams);
        }
        if (input.documentHash == bytes32(0)) revert ReclaimRegistryInvalidDocumentHash(input.documentHash);

        claimId = ++_claimCount;
        _claims[claimId] = Claim({input: input, owner: _msgSender()});

        _emitClaimRegistered(claimId, input);
    }

    /// @inheritdoc IReclaimRegistry
    function recordAudit(uint256 claimId, bool approved, bytes32 reasonsHash) external onlyRole(AUDITOR_ROLE) {
        _checkClaimExists(claimId);
        if (reasonsHash == bytes32(0)) revert ReclaimRegistryInvalidDocumentHash(reasonsHash);

        emit ClaimAudited(claimId, _msgSender(), approved, reasonsHash);
    }

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IReclaimRegistry
    function lot(uint256 lotId) external view returns (Lot memory) {
        return _storedLot(lotId);
    }

    /// @inheritdoc IReclaimRegistry
    function verifyLot(uint256 lotId, bytes32 buildingId, bytes calldata entries) external view returns (Lot memory) {
        _checkLotExists(lotId);
        return _verifiedLot(lotId, buildingId, entries);
    }

    /// @inheritdoc IReclaimRegistry
    function lotBatch(uint256 lotId) external view returns (uint256 firstLotId, uint256 count, uint256 blockNumber) {
        _checkLotExists(lotId);
        (firstLotId, count,) = _batchOf(lotId);
        blockNumber = _batchBlock(firstLotId);
    }

    /// @inheritdoc IReclaimRegistry
    function buildingRecordHash(bytes32 buildingId) external view returns (bytes32) {
        return _buildings[buildingId];
    }

    /// @inheritdoc IReclaimRegistry
    function lotCount() external view returns (uint256) {
        return _lastTokenId();
    }

    /// @inheritdoc IReclaimRegistry
    function lotParents(uint256 lotId) external view returns (uint256[] memory lotIds, uint256[] memory quantities) {
        _checkLotExists(lotId);
        uint256[] storage parents = _parents[lotId];
        uint256 count = parents.length;
        lotIds = new uint256[](count);
        quantities = new uint256[](count);
        for (uint256 i = 0; i < count; ++i) {
            uint256 packed = parents[i];
            lotIds[i] = packed >> _PARENT_ID_SHIFT;
            quantities[i] = packed & _MAX_PARENT_QUANTITY;
        }
    }

    /// @inheritdoc IReclaimRegistry
    function inspection(uint256 inspectionId) external view returns (Inspection memory) {
        if (inspectionId == 0 || inspectionId > _inspectionCount) {
            revert ReclaimRegistryUnknownInspection(inspectionId);
        }
        return _inspections[inspectionId];
    }

    /// @inheritdoc IReclaimRegistry
    function inspectionCount() external view returns (uint256) {
        return _inspectionCount;
    }

    /// @inheritdoc IReclaimRegistry
    function claim(uint256 claimId) external view returns (Claim memory) {
        _checkClaimExists(claimId);
        return _claims[claimId];
    }

    /// @inheritdoc IReclaimRegistry
    function claimCount() external view returns (uint256) {
        return _claimCount;
    }

    /// @notice Returns true when this contract implements `interfaceId` (ERC-165).
    /// @param interfaceId The ERC-165 interface id.
    /// @return True for ERC-165, ERC-1155, ERC-1155 metadata and AccessControl.
    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(LazyBatchBalances, AccessControl)
        returns (bool)
    {
        return super.supportsInterface(interfaceId);
    }

    /*//////////////////////////////////////////////////////////////
                                INTERNAL
    //////////////////////////////////////////////////////////////*/

    function _checkLotExists(uint256 lotId) private view {
        if (lotId == 0 || lotId > _lastTokenId()) revert ReclaimRegistryUnknownLot(lotId);
    }

    /// @dev Returns the stored data of lot `lotId`; reverts when the lot does not exist
    /// or is a batch lot not revealed yet.
    function _storedLot(uint256 lotId) private view returns (Lot storage stored) {
        _checkLotExists(lotId);
        stored = _lots[lotId];
        if (stored.category == bytes32(0)) revert ReclaimRegistryLotNotRevealed(lotId);
    }

    /// @dev Returns batch lot `lotId` decoded from `entries` after checking them and
    /// `buildingId` against the commitment of its batch.
    function _verifiedLot(uint256 lotId, bytes32 buildingId, bytes calldata entries) private view returns (Lot memory) {
        (uint256 firstLotId,) = _checkBatchEntries(lotId, buildingId, entries);
        return _decodedLot(lotId - firstLotId, buildingId, entries);
    }

    /// @dev Checks `buildingId` and `entries` against the commitment of the batch that
    /// contains lot `lotId`, and returns that batch's first lot id and number of lots.
    function _checkBatchEntries(uint256 lotId, bytes32 buildingId, bytes calldata entries)
        private
        view
        returns (uint256 firstLotId, uint256 count)
    {
        address data;
        (firstLotId, count, data) = _batchOf(lotId);
        if (data == address(0)) revert ReclaimRegistryNotBatchLot(lotId);
        if (keccak256(abi.encodePacked(buildingId, entries)) != _batchCommitment(data)) {
            revert ReclaimRegistryBatchMismatch(lotId);
        }
    }

    /// @dev Decodes entry `index` of `entries`, which the caller has checked against the
    /// batch's commitment.
    function _decodedLot(uint256 index, bytes32 buildingId, bytes calldata entries)
        private
        pure
        returns (Lot memory decoded)
    {
        uint256 offset = index * ENTRY_BYTES;
        decoded.buildingId = buildingId;
        decoded.recordHash = bytes32(entries[offset:offset + 32]);
        decoded.category = bytes32(entries[offset + 32:offset + 64]);
        decoded.quantity = uint64(bytes8(entries[offset + 64:offset + 72]));
        decoded.unitMassGrams = uint64(bytes8(entries[offset + 72:offset + 80]));
        decoded.unit = uint8(entries[offset + 80]);
    }

    /// @dev Packs a parent lot id and the quantity taken from it into one word, the id
    /// above bit 192. Reverts with {ReclaimRegistryParentTooLarge} when either does not fit.
    function _packParent(uint256 parentLotId, uint256 quantity) private pure returns (uint256) {
        if (parentLotId > _MAX_PARENT_LOT_ID || quantity > _MAX_PARENT_QUANTITY) {
            revert ReclaimRegistryParentTooLarge(parentLotId, quantity);
        }
        return (parentLotId << _PARENT_ID_SHIFT) | quantity;
    }

    function _checkClaimExists(uint256 claimId) private view {
        if (claimId == 0 || claimId > _claimCount) revert ReclaimRegistryUnknownClaim(claimId);
    }

    /// @dev Returns the merged lot's data: the parents' common kind, the summed quantity,
    /// and the common origin building or zero when the origins differ.
    function _checkMergeable(uint256[] calldata lotIds, uint256[] calldata quantities)
        private
        view
        returns (Lot memory merged)
    {
        merged = _storedLot(lotIds[0]);
        merged.recordHash = bytes32(0);
        merged.quantity = 0;
        for (uint256 i = 0; i < lotIds.length; ++i) {
            uint256 id = lotIds[i];
            Lot storage part = _storedLot(id);
            if (quantities[i] == 0) revert ReclaimRegistryZeroQuantity(id);
            for (uint256 j = 0; j < i; ++j) {
                if (lotIds[j] == id) revert ReclaimRegistryDuplicateLot(id);
            }
            if (
                part.category != merged.category || part.unit != merged.unit
                    || part.unitMassGrams != merged.unitMassGrams
            ) {
                revert ReclaimRegistryIncompatibleLots(lotIds[0], id);
            }
            if (part.buildingId != merged.buildingId) merged.buildingId = bytes32(0);
            merged.quantity += quantities[i];
        }
    }

    /// @dev Announces a lot made by a split or merge like a registered one, so that
    /// readers of `LotRegistered` see every lot. A merge of lots from different
    /// buildings has a zero building id and a zero record hash.
    function _emitLotRegistered(uint256 lotId, address holder, Lot memory record) private {
        emit LotRegistered(
            lotId,
            record.buildingId,
            holder,
            record.category,
            record.unit,
            record.quantity,
            record.unitMassGrams,
            record.recordHash
        );
    }

    function _emitClaimRegistered(uint256 claimId, ClaimInput calldata input) private {
        emit ClaimRegistered(
            claimId,
            input.destinationBuildingId,
            _msgSender(),
            input.lotIds,
            input.reusedMassGrams,
            input.totalMassGrams,
            input.reuseShareBps,
            input.co2eAvoidedGrams,
            input.methodVersion,
            input.documentHash
        );
    }

    /// @dev Emits {CustodyTransferred} for every moved lot right after the balances change
    /// and before the receiver's hook runs, so that a receiver passing a lot on at once
    /// still produces custody events in chain order.
    function _updateWithAcceptanceCheck(
        address from,
        address to,
        uint256[] memory ids,
        uint256[] memory values,
        bytes memory data
    ) internal override {
        _update(from, to, ids, values);

        address operator = _msgSender();
        if (from != address(0) && to != address(0)) {
            uint8 reason = _pendingReason;
            bytes32 referenceHash = _pendingReference;
            _pendingReason = 0;
            _pendingReference = bytes32(0);
            for (uint256 i = 0; i < ids.length; ++i) {
                emit CustodyTransferred(ids[i], from, to, values[i], reason, referenceHash, operator);
            }
        }

        if (to != address(0)) _checkAcceptance(from, to, ids, values, data);
    }

    function _checkCustodyMove(address from, address to, uint256 lotId, uint256 quantity) private view {
        _checkLotExists(lotId);
        if (quantity == 0) revert ReclaimRegistryZeroQuantity(lotId);
        if (from == to) revert ReclaimRegistrySelfTransfer(from);
    }
}
