// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {ERC1155Utils} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Utils.sol";
import {IReclaimRegistry} from "./IReclaimRegistry.sol";

/// @title Reclaim Ledger registry
/// @notice Records reclaimed building-material lots, their origin buildings and every
/// custody transfer. Holdings are ERC-1155 balances: the token id is the lot id and one
/// token is one thousandth of the lot's unit.
contract ReclaimRegistry is IReclaimRegistry, ERC1155, AccessControl {
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

    mapping(bytes32 buildingId => bytes32 recordHash) private _buildings;
    mapping(uint256 lotId => Lot) private _lots;
    uint256 private _lotCount;

    // Reason and reference of the custody move in progress; zero (Unspecified) for
    // plain ERC-1155 transfers. Cleared before the receiver's hook runs.
    uint8 private transient _pendingReason;
    bytes32 private transient _pendingReference;

    /// @param admin Account that receives `DEFAULT_ADMIN_ROLE` and grants the other roles.
    constructor(address admin) ERC1155("") {
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
    function registerLots(address holder, LotInput[] calldata lots)
        external
        onlyRole(REGISTRAR_ROLE)
        returns (uint256 firstLotId)
    {
        uint256 count = lots.length;
        if (count == 0) revert ReclaimRegistryEmptyBatch();

        firstLotId = _lotCount + 1;
        uint256[] memory ids = new uint256[](count);
        uint256[] memory quantities = new uint256[](count);
        for (uint256 i = 0; i < count; ++i) {
            LotInput calldata input = lots[i];
            uint256 lotId = firstLotId + i;
            _checkLotInput(lotId, input);

            _lots[lotId] = Lot({
                buildingId: input.buildingId,
                category: input.category,
                recordHash: input.recordHash,
                quantity: input.quantity,
                unitMassGrams: input.unitMassGrams,
                unit: input.unit
            });
            ids[i] = lotId;
            quantities[i] = input.quantity;

            emit LotRegistered(
                lotId,
                input.buildingId,
                holder,
                input.category,
                input.unit,
                input.quantity,
                input.unitMassGrams,
                input.recordHash
            );
        }
        _lotCount = firstLotId + count - 1;

        _mintBatch(holder, ids, quantities, "");
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
        address operator = _msgSender();
        if (from != operator && !isApprovedForAll(from, operator)) {
            revert ERC1155MissingApprovalForAll(operator, from);
        }

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
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IReclaimRegistry
    function lot(uint256 lotId) external view returns (Lot memory) {
        _checkLotExists(lotId);
        return _lots[lotId];
    }

    /// @inheritdoc IReclaimRegistry
    function buildingRecordHash(bytes32 buildingId) external view returns (bytes32) {
        return _buildings[buildingId];
    }

    /// @inheritdoc IReclaimRegistry
    function lotCount() external view returns (uint256) {
        return _lotCount;
    }

    /// @notice Returns true when this contract implements `interfaceId` (ERC-165).
    /// @param interfaceId The ERC-165 interface id.
    /// @return True for ERC-165, ERC-1155, ERC-1155 metadata and AccessControl.
    function supportsInterface(bytes4 interfaceId) public view override(ERC1155, AccessControl) returns (bool) {
        return super.supportsInterface(interfaceId);
    }

    /*//////////////////////////////////////////////////////////////
                                INTERNAL
    //////////////////////////////////////////////////////////////*/

    function _checkLotInput(uint256 lotId, LotInput calldata input) private view {
        if (_buildings[input.buildingId] == bytes32(0)) revert ReclaimRegistryUnknownBuilding(input.buildingId);
        if (input.category == bytes32(0)) revert ReclaimRegistryInvalidCategory(input.category);
        if (input.unit > _MAX_UNIT) revert ReclaimRegistryInvalidUnit(input.unit);
        if (input.quantity == 0) revert ReclaimRegistryZeroQuantity(lotId);
        if (input.recordHash == bytes32(0)) revert ReclaimRegistryInvalidRecordHash(input.recordHash);
    }

    function _checkLotExists(uint256 lotId) private view {
        if (lotId == 0 || lotId > _lotCount) revert ReclaimRegistryUnknownLot(lotId);
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

        if (to != address(0)) {
            if (ids.length == 1) {
                ERC1155Utils.checkOnERC1155Received(operator, from, to, ids[0], values[0], data);
            } else {
                ERC1155Utils.checkOnERC1155BatchReceived(operator, from, to, ids, values, data);
            }
        }
    }

    function _checkCustodyMove(address from, address to, uint256 lotId, uint256 quantity) private view {
        _checkLotExists(lotId);
        if (quantity == 0) revert ReclaimRegistryZeroQuantity(lotId);
        if (from == to) revert ReclaimRegistrySelfTransfer(from);
    }
}
