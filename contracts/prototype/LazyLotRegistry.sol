// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC1155Utils} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Utils.sol";
import {LazyBatchBalances} from "./LazyBatchBalances.sol";

/// @title Lot registry prototype with lazy balances and packed lot data
/// @notice Registers a batch of lots of one building for about a quarter of the gas of
/// the main registry: no per-lot storage slot and no per-lot event. Each lot is an
/// 81-byte entry in calldata; the batch's entries go out in one {LotBatchRegistered}
/// event, and only their keccak256 commitment is stored, with the lazy balances.
/// {verifyLot} checks a lot's entry against that commitment.
/// @dev Entry layout: recordHash (32 bytes), category (32), quantity (uint64, 8),
/// unitMassGrams (uint64, 8), unit (uint8, 1). Prototype only: not deployed by the CLI.
contract LazyLotRegistry is LazyBatchBalances, AccessControl {
    /// @notice A lot's registered data, decoded from its batch entry.
    struct LotEntry {
        bytes32 buildingId;
        bytes32 recordHash;
        bytes32 category;
        uint64 quantity;
        uint64 unitMassGrams;
        uint8 unit;
    }

    /// @notice Registers buildings and lots.
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    /// @notice Bytes per lot entry in `registerLots`.
    uint256 public constant ENTRY_BYTES = 81;

    uint8 private constant _MAX_UNIT = 4;
    uint8 private constant _MAX_REASON = 4;

    mapping(bytes32 buildingId => bytes32 recordHash) private _buildings;

    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice A building was registered as the origin of reclaimed lots.
    event BuildingRegistered(bytes32 indexed buildingId, bytes32 recordHash);

    /// @notice Lots `firstLotId` onwards were registered and minted to `holder`.
    /// @param firstLotId Id of the batch's first lot; the others follow in entry order.
    /// @param buildingId The origin building of every lot of the batch.
    /// @param holder The first custodian.
    /// @param entries The packed 81-byte lot entries, as sent.
    event LotBatchRegistered(
        uint256 indexed firstLotId, bytes32 indexed buildingId, address indexed holder, bytes entries
    );

    /// @notice Custody of a quantity of a lot moved; same signature as the main registry.
    event CustodyTransferred(
        uint256 indexed lotId,
        address indexed from,
        address indexed to,
        uint256 quantity,
        uint8 reason,
        bytes32 referenceHash,
        address operator
    );

    /*//////////////////////////////////////////////////////////////
                                 ERRORS
    //////////////////////////////////////////////////////////////*/

    /// @notice The entries' length is not a non-zero multiple of `ENTRY_BYTES`.
    error LazyLotRegistryInvalidEntries(uint256 length);

    /// @notice A building id or record hash was zero, or the building exists already.
    error LazyLotRegistryInvalidBuilding(bytes32 buildingId, bytes32 recordHash);

    /// @notice A batch named a building that is not registered.
    error LazyLotRegistryUnknownBuilding(bytes32 buildingId);

    /// @notice A lot entry had a zero record hash or category, or an invalid unit.
    error LazyLotRegistryInvalidEntry(uint256 lotId);

    /// @notice A lot id does not name a registered lot.
    error LazyLotRegistryUnknownLot(uint256 lotId);

    /// @notice The given batch data does not match the commitment stored for the lot's batch.
    error LazyLotRegistryBatchMismatch(uint256 lotId);

    /// @notice A reason value was outside the `CustodyReason` range of the main registry.
    error LazyLotRegistryInvalidReason(uint8 reason);

    /// @notice A custody transfer moved nothing or named the same account twice.
    error LazyLotRegistryInvalidMove(uint256 lotId);

    /// @param admin Account that receives `DEFAULT_ADMIN_ROLE` and `REGISTRAR_ROLE`.
    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(REGISTRAR_ROLE, admin);
    }

    /*//////////////////////////////////////////////////////////////
                              REGISTRATION
    //////////////////////////////////////////////////////////////*/

    /// @notice Registers buildings as origins of reclaimed lots.
    /// @dev Requirements: the caller has `REGISTRAR_ROLE`; every id and hash is non-zero
    /// and every id new. Emits one {BuildingRegistered} per building.
    function registerBuildings(bytes32[] calldata buildingIds, bytes32[] calldata recordHashes)
        external
        onlyRole(REGISTRAR_ROLE)
    {
        for (uint256 i = 0; i < buildingIds.length; ++i) {
            bytes32 buildingId = buildingIds[i];
            bytes32 recordHash = recordHashes[i];
            if (buildingId == 0 || recordHash == 0 || _buildings[buildingId] != 0) {
                revert LazyLotRegistryInvalidBuilding(buildingId, recordHash);
            }
            _buildings[buildingId] = recordHash;
            emit BuildingRegistered(buildingId, recordHash);
        }
    }

    /// @notice Registers the lots packed in `entries`, all from `buildingId`, and mints
    /// each lot's whole quantity to `holder`.
    /// @dev Requirements: the caller has `REGISTRAR_ROLE`; the building is registered;
    /// `entries` holds 1 to `MAX_BATCH_SIZE` entries of `ENTRY_BYTES`, each with a
    /// non-zero record hash, category and quantity and a unit from 0 to 4.
    /// Emits {LotBatchRegistered}, then {TransferBatch}.
    /// @return firstLotId The id of the batch's first lot.
    function registerLots(address holder, bytes32 buildingId, bytes calldata entries)
        external
        onlyRole(REGISTRAR_ROLE)
        returns (uint256 firstLotId)
    {
        uint256 count = entries.length / ENTRY_BYTES;
        if (count == 0 || entries.length % ENTRY_BYTES != 0) revert LazyLotRegistryInvalidEntries(entries.length);
        if (_buildings[buildingId] == 0) revert LazyLotRegistryUnknownBuilding(buildingId);

        firstLotId = _mintedIds() + 1;
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
            uint256 unit = (word >> 120) & 0xff;
            if (recordHash == 0 || category == 0 || unit > _MAX_UNIT) {
                revert LazyLotRegistryInvalidEntry(firstLotId + i);
            }
            quantities[i] = word >> 192;
        }
        bytes32 commitment = keccak256(abi.encodePacked(buildingId, entries));

        emit LotBatchRegistered(firstLotId, buildingId, holder, entries);
        _mintLazyBatch(holder, commitment, quantities);
    }

    /*//////////////////////////////////////////////////////////////
                                CUSTODY
    //////////////////////////////////////////////////////////////*/

    /// @notice Moves custody of `quantity` of lot `lotId` from `from` to `to`, with a reason.
    /// @dev Requirements as the main registry's `transferCustody`.
    /// Emits {TransferSingle}, then {CustodyTransferred}.
    function transferCustody(
        address from,
        address to,
        uint256 lotId,
        uint256 quantity,
        uint8 reason,
        bytes32 referenceHash
    ) external {
        if (reason > _MAX_REASON) revert LazyLotRegistryInvalidReason(reason);
        if (lotId == 0 || lotId > _mintedIds()) revert LazyLotRegistryUnknownLot(lotId);
        if (quantity == 0 || from == to) revert LazyLotRegistryInvalidMove(lotId);
        if (from != msg.sender && !isApprovedForAll(from, msg.sender)) {
            revert ERC1155MissingApprovalForAll(msg.sender, from);
        }
        if (to == address(0)) revert ERC1155InvalidReceiver(address(0));

        _moveOne(from, to, lotId, quantity);
        emit TransferSingle(msg.sender, from, to, lotId, quantity);
        emit CustodyTransferred(lotId, from, to, quantity, reason, referenceHash, msg.sender);
        ERC1155Utils.checkOnERC1155Received(msg.sender, from, to, lotId, quantity, "");
    }

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @notice Returns lot `lotId`'s entry after checking `entries` (its batch's entries,
    /// as in {LotBatchRegistered}) against the commitment stored at registration.
    /// @dev Reverts with {LazyLotRegistryUnknownLot} or {LazyLotRegistryBatchMismatch}.
    function verifyLot(uint256 lotId, bytes32 buildingId, bytes calldata entries)
        external
        view
        returns (LotEntry memory entry)
    {
        if (lotId == 0 || lotId > _mintedIds()) revert LazyLotRegistryUnknownLot(lotId);
        (uint256 firstLotId, address data) = _batchOf(lotId);
        if (keccak256(abi.encodePacked(buildingId, entries)) != _batchCommitment(data)) {
            revert LazyLotRegistryBatchMismatch(lotId);
        }
        entry = _decodeEntry(entries, lotId - firstLotId);
        entry.buildingId = buildingId;
    }

    /// @notice Returns the record hash of building `buildingId`, or zero when not registered.
    function buildingRecordHash(bytes32 buildingId) external view returns (bytes32) {
        return _buildings[buildingId];
    }

    /// @notice Returns the number of registered lots; lot ids run from 1 to this number.
    function lotCount() external view returns (uint256) {
        return _mintedIds();
    }

    /// @notice Returns true for ERC-165, ERC-1155, ERC-1155 metadata and AccessControl.
    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(LazyBatchBalances, AccessControl)
        returns (bool)
    {
        return LazyBatchBalances.supportsInterface(interfaceId) || AccessControl.supportsInterface(interfaceId);
    }

    /*//////////////////////////////////////////////////////////////
                                INTERNAL
    //////////////////////////////////////////////////////////////*/

    function _decodeEntry(bytes calldata entries, uint256 index) private pure returns (LotEntry memory entry) {
        uint256 offset = index * ENTRY_BYTES;
        entry.recordHash = bytes32(entries[offset:offset + 32]);
        entry.category = bytes32(entries[offset + 32:offset + 64]);
        entry.quantity = uint64(bytes8(entries[offset + 64:offset + 72]));
        entry.unitMassGrams = uint64(bytes8(entries[offset + 72:offset + 80]));
        entry.unit = uint8(entries[offset + 80]);
    }
}
