// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Reclaim Ledger registry interface
/// @notice Types, events and errors of the registry of reclaimed building materials.
/// A lot is a quantity of one kind of element from one origin building. Quantities are
/// fixed-point integers in thousandths of the lot's unit, so 84.5 m² is 84500.
/// Events are the indexer's API: once released, an event's signature never changes.
interface IReclaimRegistry {
    /*//////////////////////////////////////////////////////////////
                                 TYPES
    //////////////////////////////////////////////////////////////*/

    /// @notice Unit in which a lot's quantity is counted (values 0 to 4).
    enum Unit {
        Piece,
        SquareMetre,
        LinearMetre,
        CubicMetre,
        Kilogram
    }

    /// @notice Why custody of a quantity moved (values 0 to 4). Plain ERC-1155 transfers
    /// record `Unspecified`.
    enum CustodyReason {
        Unspecified,
        Sale,
        Consignment,
        TransportHandoff,
        Return
    }

    /// @notice One lot to register.
    /// @param buildingId Id of the registered origin building.
    /// @param category Element category as left-aligned ASCII, such as "flooring".
    /// @param unit A `Unit` value.
    /// @param quantity Quantity in thousandths of `unit`; also the initial ERC-1155 balance.
    /// @param unitMassGrams Mass of one whole unit, in grams.
    /// @param recordHash keccak256 of the lot's canonical off-chain JSON record.
    struct LotInput {
        bytes32 buildingId;
        bytes32 category;
        uint8 unit;
        uint256 quantity;
        uint256 unitMassGrams;
        bytes32 recordHash;
    }

    /// @notice A registered lot. `quantity` is the registered quantity; holdings are the
    /// ERC-1155 balances of the lot id.
    struct Lot {
        bytes32 buildingId;
        bytes32 category;
        bytes32 recordHash;
        uint256 quantity;
        uint256 unitMassGrams;
        uint8 unit;
    }

    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice A building was registered as the origin of reclaimed lots.
    /// @param buildingId The building's id (left-aligned ASCII reference).
    /// @param recordHash keccak256 of the building's canonical off-chain JSON record.
    event BuildingRegistered(bytes32 indexed buildingId, bytes32 recordHash);

    /// @notice A lot was registered and its whole quantity minted to `holder`.
    /// @param lotId The lot's id, which is also its ERC-1155 token id.
    /// @param buildingId The origin building.
    /// @param holder The first custodian, usually the deconstruction contractor.
    /// @param category Element category (left-aligned ASCII).
    /// @param unit A `Unit` value.
    /// @param quantity Quantity in thousandths of `unit`.
    /// @param unitMassGrams Mass of one whole unit, in grams.
    /// @param recordHash keccak256 of the lot's canonical off-chain JSON record.
    event LotRegistered(
        uint256 indexed lotId,
        bytes32 indexed buildingId,
        address indexed holder,
        bytes32 category,
        uint8 unit,
        uint256 quantity,
        uint256 unitMassGrams,
        bytes32 recordHash
    );

    /// @notice Custody of a quantity of a lot moved from one holder to another.
    /// @param lotId The lot.
    /// @param from The previous custodian.
    /// @param to The new custodian.
    /// @param quantity Quantity moved, in thousandths of the lot's unit.
    /// @param reason A `CustodyReason` value.
    /// @param referenceHash Hash of the supporting document (invoice, delivery note), or zero.
    /// @param operator The account that sent the transfer.
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

    /// @notice A batch was empty.
    error ReclaimRegistryEmptyBatch();

    /// @notice Two arrays of one batch had different lengths.
    error ReclaimRegistryLengthMismatch(uint256 idsLength, uint256 recordHashesLength);

    /// @notice A building id was zero.
    error ReclaimRegistryInvalidBuildingId(bytes32 buildingId);

    /// @notice A building id was registered already.
    error ReclaimRegistryBuildingAlreadyRegistered(bytes32 buildingId);

    /// @notice A lot named a building that is not registered.
    error ReclaimRegistryUnknownBuilding(bytes32 buildingId);

    /// @notice A record hash was zero.
    error ReclaimRegistryInvalidRecordHash(bytes32 recordHash);

    /// @notice A unit value was outside the `Unit` range.
    error ReclaimRegistryInvalidUnit(uint8 unit);

    /// @notice A category was zero.
    error ReclaimRegistryInvalidCategory(bytes32 category);

    /// @notice A quantity was zero.
    error ReclaimRegistryZeroQuantity(uint256 lotId);

    /// @notice A lot id does not name a registered lot.
    error ReclaimRegistryUnknownLot(uint256 lotId);

    /// @notice A reason value was outside the `CustodyReason` range.
    error ReclaimRegistryInvalidReason(uint8 reason);

    /// @notice A custody transfer named the same account as sender and receiver.
    error ReclaimRegistrySelfTransfer(address holder);

    /*//////////////////////////////////////////////////////////////
                               FUNCTIONS
    //////////////////////////////////////////////////////////////*/

    /// @notice Registers buildings as origins of reclaimed lots.
    /// @dev Requirements: the caller has `REGISTRAR_ROLE`; the batch is not empty; both
    /// arrays have the same length; every id is non-zero and new; every hash is non-zero.
    /// Emits one {BuildingRegistered} per building.
    /// @param buildingIds The buildings' ids (left-aligned ASCII references).
    /// @param recordHashes keccak256 of each building's canonical off-chain JSON record.
    function registerBuildings(bytes32[] calldata buildingIds, bytes32[] calldata recordHashes) external;

    /// @notice Registers lots and mints each lot's whole quantity to `holder`.
    /// @dev Requirements: the caller has `REGISTRAR_ROLE`; the batch is not empty; every
    /// lot names a registered building, a non-zero category, a valid unit, a non-zero
    /// quantity and a non-zero record hash; `holder` can receive ERC-1155 tokens.
    /// Emits one {LotRegistered} per lot, then one {TransferBatch} for the whole batch.
    /// @param holder The first custodian of every lot in the batch.
    /// @param lots The lots, which get consecutive ids in this order.
    /// @return firstLotId The id of the first lot of the batch.
    function registerLots(address holder, LotInput[] calldata lots) external returns (uint256 firstLotId);

    /// @notice Moves custody of `quantity` of lot `lotId` from `from` to `to`, with a reason.
    /// @dev Requirements: the caller is `from` or an operator approved by `from`; the lot
    /// exists; `quantity` is non-zero and at most the balance of `from`; `from` and `to`
    /// differ; `reason` is a `CustodyReason` value.
    /// Emits {TransferSingle}, then {CustodyTransferred}.
    /// @param from The current custodian.
    /// @param to The new custodian.
    /// @param lotId The lot.
    /// @param quantity Quantity to move, in thousandths of the lot's unit.
    /// @param reason A `CustodyReason` value.
    /// @param referenceHash Hash of the supporting document (invoice, delivery note), or zero.
    function transferCustody(
        address from,
        address to,
        uint256 lotId,
        uint256 quantity,
        uint8 reason,
        bytes32 referenceHash
    ) external;

    /// @notice Returns the registered data of lot `lotId`.
    /// @dev Reverts with {ReclaimRegistryUnknownLot} when the lot does not exist.
    /// @param lotId The lot.
    /// @return The lot's registered data.
    function lot(uint256 lotId) external view returns (Lot memory);

    /// @notice Returns the record hash of building `buildingId`, or zero when not registered.
    /// @param buildingId The building.
    /// @return The building's record hash.
    function buildingRecordHash(bytes32 buildingId) external view returns (bytes32);

    /// @notice Returns the number of registered lots; lot ids run from 1 to this number.
    /// @return The number of registered lots.
    function lotCount() external view returns (uint256);
}
