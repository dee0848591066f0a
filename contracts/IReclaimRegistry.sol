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

    /// @notice Where a disposed quantity went (values 0 to 2). Recycling turns elements
    /// into raw material, so it does not count as reuse.
    enum DisposalRoute {
        Landfill,
        Incineration,
        Recycling
    }

    /// @notice Result of one hazardous-substance check (values 0 to 2). The default,
    /// zero, is `NotTested`, so a missing check never reads as a clearance.
    enum HazardStatus {
        NotTested,
        Absent,
        Present
    }

    /// @notice Condition grade of an inspected lot (values 0 to 2): A ready to reuse,
    /// B needs refurbishing, C doubtful.
    enum ConditionGrade {
        A,
        B,
        C
    }

    /// @notice An inspector's attestation about a lot.
    /// @param lotId The inspected lot.
    /// @param inspector The account that recorded the attestation; only it can revoke.
    /// @param grade A `ConditionGrade` value.
    /// @param fitness Intended reuse the lot is fit for, as left-aligned ASCII (a code
    /// such as "interior-door").
    /// @param asbestos A `HazardStatus` value; so are `leadPaint`, `pcb` and
    /// `bituminousAdhesive`.
    /// @param evidenceHash sha256 of the evidence document (inspection report).
    /// @param revoked True once the inspector revoked the attestation.
    struct Inspection {
        uint256 lotId;
        address inspector;
        uint8 grade;
        bytes32 fitness;
        uint8 asbestos;
        uint8 leadPaint;
        uint8 pcb;
        uint8 bituminousAdhesive;
        bytes32 evidenceHash;
        bool revoked;
    }

    /// @notice Figures of a circularity claim, as the project owner states them.
    /// @param destinationBuildingId The building into which the counted lots were installed.
    /// @param lotIds The lots whose installations into that building the claim counts.
    /// @param reusedMassGrams Reused mass installed, in grams.
    /// @param totalMassGrams Total mass of the building's materials, in grams.
    /// @param reuseShareBps Reuse share in basis points (1 % is 100).
    /// @param co2eAvoidedGrams Emissions avoided, in grams of CO2 equivalent.
    /// @param methodVersion Version of the calculation method, as left-aligned ASCII.
    /// @param documentHash sha256 of the claim document.
    struct ClaimInput {
        bytes32 destinationBuildingId;
        uint256[] lotIds;
        uint256 reusedMassGrams;
        uint256 totalMassGrams;
        uint256 reuseShareBps;
        uint256 co2eAvoidedGrams;
        bytes32 methodVersion;
        bytes32 documentHash;
    }

    /// @notice A registered claim: its input and the account that registered it.
    struct Claim {
        ClaimInput input;
        address owner;
    }

    /// @notice A registered lot. `quantity` is the registered quantity; holdings are the
    /// ERC-1155 balances of the lot id. Lots registered in a batch have their data stored
    /// only once revealed ({revealLot}, {revealLots}); until then {verifyLot} decodes it
    /// from the batch.
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

    /// @notice Lots `firstLotId` onwards were registered and minted to `holder`.
    /// @param firstLotId Id of the batch's first lot; the others follow in entry order.
    /// @param buildingId The origin building of every lot of the batch.
    /// @param holder The first custodian of every lot of the batch.
    /// @param entries The packed 81-byte lot entries, exactly as sent to {registerLots}.
    event LotBatchRegistered(
        uint256 indexed firstLotId, bytes32 indexed buildingId, address indexed holder, bytes entries
    );

    /// @notice The data of batch lot `lotId` was checked against its batch's commitment
    /// and stored, so that {lot}, {split} and {merge} can use it.
    event LotRevealed(uint256 indexed lotId);

    /// @notice A lot was made by a split or merge, and its whole quantity
    /// minted to `holder`.
    /// @param lotId The lot's id, which is also its ERC-1155 token id.
    /// @param buildingId The origin building, or zero for a merge of lots from several
    /// buildings (their origins are in `lotParents`).
    /// @param holder The custodian of the new lot.
    /// @param category Element category (left-aligned ASCII).
    /// @param unit A `Unit` value.
    /// @param quantity Quantity in thousandths of `unit`.
    /// @param unitMassGrams Mass of one whole unit, in grams.
    /// @param recordHash keccak256 of the lot's canonical off-chain JSON record; a split
    /// child keeps its parent's, a merged lot has zero.
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

    /// @notice A quantity of a lot was installed into a building and left circulation
    /// for good: it was burnt from `holder`'s balance.
    /// @param lotId The lot.
    /// @param destinationBuildingId The building the quantity was installed into.
    /// @param holder The custodian that installed it.
    /// @param quantity Quantity installed, in thousandths of the lot's unit.
    /// @param referenceHash Hash of the supporting document (delivery note), or zero.
    event LotInstalled(
        uint256 indexed lotId,
        bytes32 indexed destinationBuildingId,
        address indexed holder,
        uint256 quantity,
        bytes32 referenceHash
    );

    /// @notice A quantity of a lot reached its end of life and was burnt from `holder`.
    /// @param lotId The lot.
    /// @param holder The custodian that disposed of it.
    /// @param route A `DisposalRoute` value.
    /// @param quantity Quantity disposed of, in thousandths of the lot's unit.
    /// @param referenceHash Hash of the supporting document (waste transfer note), or zero.
    event LotDisposed(
        uint256 indexed lotId, address indexed holder, uint8 route, uint256 quantity, bytes32 referenceHash
    );

    /// @notice Quantities of a lot were burnt from `holder` and minted to it as new lots.
    /// @param parentLotId The lot that was split.
    /// @param holder The custodian of the parent quantity and of the new lots.
    /// @param childLotIds The new lots, in the order of `quantities`.
    /// @param quantities Quantity of each new lot, in thousandths of the common unit.
    event LotSplit(uint256 indexed parentLotId, address indexed holder, uint256[] childLotIds, uint256[] quantities);

    /// @notice Quantities of several lots of one kind were burnt from `holder` and
    /// minted to it as one new lot.
    /// @param lotId The new lot.
    /// @param holder The custodian of the parent quantities and of the new lot.
    /// @param parentLotIds The merged lots.
    /// @param quantities Quantity taken from each parent, in thousandths of the common unit.
    event LotsMerged(uint256 indexed lotId, address indexed holder, uint256[] parentLotIds, uint256[] quantities);

    /// @notice An inspector recorded an attestation about a lot.
    /// @param inspectionId The attestation's id.
    /// @param lotId The inspected lot.
    /// @param inspector The inspector's account.
    /// @param grade A `ConditionGrade` value.
    /// @param fitness Intended reuse the lot is fit for (left-aligned ASCII).
    /// @param asbestos A `HazardStatus` value; so are the three checks that follow.
    /// @param leadPaint Lead paint check.
    /// @param pcb Polychlorinated biphenyls check.
    /// @param bituminousAdhesive Bituminous adhesive check.
    /// @param evidenceHash sha256 of the evidence document.
    event InspectionRecorded(
        uint256 indexed inspectionId,
        uint256 indexed lotId,
        address indexed inspector,
        uint8 grade,
        bytes32 fitness,
        uint8 asbestos,
        uint8 leadPaint,
        uint8 pcb,
        uint8 bituminousAdhesive,
        bytes32 evidenceHash
    );

    /// @notice The author of an attestation revoked it.
    /// @param inspectionId The attestation.
    /// @param lotId The inspected lot.
    /// @param inspector The author, who revoked it.
    /// @param reasonHash Hash of the document giving the reason.
    event InspectionRevoked(
        uint256 indexed inspectionId, uint256 indexed lotId, address indexed inspector, bytes32 reasonHash
    );

    /// @notice A project owner registered a circularity claim.
    /// @param claimId The claim's id.
    /// @param destinationBuildingId The building the claim is about.
    /// @param owner The account that registered the claim.
    /// @param lotIds The lots whose installations into the building the claim counts.
    /// @param reusedMassGrams Claimed reused mass, in grams.
    /// @param totalMassGrams Claimed total mass of materials, in grams.
    /// @param reuseShareBps Claimed reuse share, in basis points.
    /// @param co2eAvoidedGrams Claimed emissions avoided, in grams of CO2e.
    /// @param methodVersion Version of the calculation method (left-aligned ASCII).
    /// @param documentHash sha256 of the claim document.
    event ClaimRegistered(
        uint256 indexed claimId,
        bytes32 indexed destinationBuildingId,
        address indexed owner,
        uint256[] lotIds,
        uint256 reusedMassGrams,
        uint256 totalMassGrams,
        uint256 reuseShareBps,
        uint256 co2eAvoidedGrams,
        bytes32 methodVersion,
        bytes32 documentHash
    );

    /// @notice An auditor approved or rejected a claim. A later decision supersedes an
    /// earlier one; both stay on chain.
    /// @param claimId The claim.
    /// @param auditor The auditor's account.
    /// @param approved True for approval, false for rejection.
    /// @param reasonsHash Hash of the audit report that gives the reasons.
    event ClaimAudited(uint256 indexed claimId, address indexed auditor, bool approved, bytes32 reasonsHash);

    /*//////////////////////////////////////////////////////////////
                                 ERRORS
    //////////////////////////////////////////////////////////////*/

    /// @notice A batch was empty.
    error ReclaimRegistryEmptyBatch();

    /// @notice Two arrays of one batch had different lengths.
    error ReclaimRegistryLengthMismatch(uint256 idsLength, uint256 recordHashesLength);

    /// @notice The lot entries' length was zero or not a multiple of 81 bytes.
    error ReclaimRegistryInvalidEntries(uint256 length);

    /// @notice A batch had more lots than `max`.
    error ReclaimRegistryBatchTooLarge(uint256 count, uint256 max);

    /// @notice The building id and entries given for lot `lotId` do not match the
    /// commitment stored for its batch.
    error ReclaimRegistryBatchMismatch(uint256 lotId);

    /// @notice Batch lot `lotId` has no stored data yet; call {revealLot} or {revealLots} first.
    error ReclaimRegistryLotNotRevealed(uint256 lotId);

    /// @notice Lot `lotId` was made by a split or merge, not registered in a batch; read
    /// it with {lot}.
    error ReclaimRegistryNotBatchLot(uint256 lotId);

    /// @notice A {revealLots} call named lot `lotId`, which is not in the batch starting at
    /// `firstLotId` whose entries the call checked. Reveal the lots of each batch in a
    /// separate call.
    error ReclaimRegistryLotOutsideBatch(uint256 lotId, uint256 firstLotId);

    /// @notice The parent lot id of a split or merge was 2^64 or more, or the quantity
    /// taken from it 2^192 or more, so the pair does not fit in the one storage word
    /// that records the parent.
    error ReclaimRegistryParentTooLarge(uint256 lotId, uint256 quantity);

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

    /// @notice A destination building id was zero.
    error ReclaimRegistryInvalidDestination(bytes32 destinationBuildingId);

    /// @notice A route value was outside the `DisposalRoute` range.
    error ReclaimRegistryInvalidRoute(uint8 route);

    /// @notice A merge named fewer than two lots.
    error ReclaimRegistryTooFewLots(uint256 count);

    /// @notice A merge named the same lot twice.
    error ReclaimRegistryDuplicateLot(uint256 lotId);

    /// @notice Two merged lots differ in category, unit or unit mass.
    error ReclaimRegistryIncompatibleLots(uint256 lotId, uint256 otherLotId);

    /// @notice A grade value was outside the `ConditionGrade` range.
    error ReclaimRegistryInvalidGrade(uint8 grade);

    /// @notice A hazard check value was outside the `HazardStatus` range.
    error ReclaimRegistryInvalidHazardStatus(uint8 status);

    /// @notice A document hash (evidence, reason or claim document) was zero.
    error ReclaimRegistryInvalidDocumentHash(bytes32 documentHash);

    /// @notice An inspection id does not name a recorded attestation.
    error ReclaimRegistryUnknownInspection(uint256 inspectionId);

    /// @notice Someone other than its author tried to revoke an attestation.
    error ReclaimRegistryNotInspectionAuthor(uint256 inspectionId, address caller, address inspector);

    /// @notice An attestation was revoked already.
    error ReclaimRegistryInspectionAlreadyRevoked(uint256 inspectionId);

    /// @notice A claim id does not name a registered claim.
    error ReclaimRegistryUnknownClaim(uint256 claimId);

    /// @notice A reuse share was above 10,000 basis points, or a reused mass above the total.
    error ReclaimRegistryInvalidShare(uint256 reuseShareBps, uint256 reusedMassGrams, uint256 totalMassGrams);

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

    /// @notice Registers the lots packed in `entries`, all from building `buildingId`, and
    /// mints each lot's whole quantity to `holder`. Only a commitment to the batch, the
    /// holder and the quantities are stored; the lots' data is in the event.
    /// @dev Requirements: the caller has `REGISTRAR_ROLE`; `entries` holds 1 to
    /// `MAX_BATCH_SIZE` entries of 81 bytes; the building is registered; every entry has
    /// a non-zero category, a valid unit, a non-zero quantity and a non-zero record hash;
    /// `holder` can receive ERC-1155 tokens.
    /// Entry layout: recordHash (32 bytes), category (32), quantity (uint64 big-endian, 8),
    /// unitMassGrams (uint64 big-endian, 8), unit (uint8, 1).
    /// Emits {LotBatchRegistered}, then {TransferBatch} ({TransferSingle} for one lot).
    /// @param holder The first custodian of every lot in the batch.
    /// @param buildingId The origin building of every lot in the batch.
    /// @param entries The packed lot entries; the lots get consecutive ids in this order.
    /// @return firstLotId The id of the first lot of the batch.
    function registerLots(address holder, bytes32 buildingId, bytes calldata entries)
        external
        returns (uint256 firstLotId);

    /// @notice Stores the data of batch lot `lotId` after checking its batch's building id
    /// and entries (as in {LotBatchRegistered}) against the batch's commitment. Anyone may
    /// call it; a lot whose data is stored already is left as it is, without any check.
    /// @dev Reverts with {ReclaimRegistryUnknownLot} or {ReclaimRegistryBatchMismatch}.
    /// Emits {LotRevealed} when it stores.
    function revealLot(uint256 lotId, bytes32 buildingId, bytes calldata entries) external;

    /// @notice Stores the data of the batch lots `lotIds`, all of one batch, after checking
    /// the batch's building id and entries (as in {LotBatchRegistered}) against its
    /// commitment once. Anyone may call it. A lot whose data is stored already is skipped
    /// without any check, as in {revealLot}, so a repeated id is stored once.
    /// @dev Reverts with {ReclaimRegistryEmptyBatch} when `lotIds` is empty,
    /// {ReclaimRegistryUnknownLot}, {ReclaimRegistryBatchMismatch}, or
    /// {ReclaimRegistryLotOutsideBatch} for a lot to store that is not in the batch of the
    /// first lot to store. Emits one {LotRevealed} per lot it stores, in the order of `lotIds`.
    /// @param lotIds The lots to reveal.
    /// @param buildingId The origin building of the batch.
    /// @param entries The batch's packed entries, exactly as in its {LotBatchRegistered}.
    function revealLots(uint256[] calldata lotIds, bytes32 buildingId, bytes calldata entries) external;

    /// @notice Returns the data of batch lot `lotId`, decoded from its batch's entries
    /// after checking them and `buildingId` against the batch's commitment; revealed or not.
    /// @dev Reverts with {ReclaimRegistryUnknownLot}, {ReclaimRegistryNotBatchLot} for a
    /// lot made by a split or merge, or {ReclaimRegistryBatchMismatch}.
    function verifyLot(uint256 lotId, bytes32 buildingId, bytes calldata entries) external view returns (Lot memory);

    /// @notice Returns the batch lot `lotId` was registered in: its first lot id (the
    /// indexed `firstLotId` of its {LotBatchRegistered}), its number of lots and the
    /// block that holds that event; (0, 0, 0) for a lot made by a split or merge.
    /// @dev Reverts with {ReclaimRegistryUnknownLot} when the lot does not exist.
    function lotBatch(uint256 lotId) external view returns (uint256 firstLotId, uint256 count, uint256 blockNumber);

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

    /// @notice Installs `quantity` of lot `lotId` from the caller's balance into a
    /// building; the quantity is burnt and can never move again.
    /// @dev Requirements: the lot exists; `quantity` is non-zero and at most the caller's
    /// balance; `destinationBuildingId` is non-zero. The destination need not be a
    /// registered origin building: any left-aligned ASCII id names it.
    /// Emits {TransferSingle} to the zero address, then {LotInstalled}.
    function install(uint256 lotId, uint256 quantity, bytes32 destinationBuildingId, bytes32 referenceHash) external;

    /// @notice Disposes of `quantity` of lot `lotId` from the caller's balance by `route`;
    /// the quantity is burnt.
    /// @dev Requirements: the lot exists; `quantity` is non-zero and at most the caller's
    /// balance; `route` is a `DisposalRoute` value.
    /// Emits {TransferSingle} to the zero address, then {LotDisposed}.
    function dispose(uint256 lotId, uint256 quantity, uint8 route, bytes32 referenceHash) external;

    /// @notice Burns the sum of `quantities` of lot `lotId` from the caller and mints one
    /// new lot per quantity to the caller, with the parent's origin, kind and record.
    /// @dev Requirements: the lot exists and its data is stored (revealed); `quantities`
    /// is not empty and has no zero; the sum is at most the caller's balance. A quantity
    /// of 2^192 or more reverts with {ReclaimRegistryParentTooLarge}.
    /// Emits {TransferSingle} to the zero address, {LotSplit}, one {LotRegistered} per new
    /// lot, then {TransferBatch} from the zero address ({TransferSingle} for one new lot).
    /// @return childLotIds The new lots, with consecutive ids.
    function split(uint256 lotId, uint256[] calldata quantities) external returns (uint256[] memory childLotIds);

    /// @notice Burns `quantities[i]` of each lot `lotIds[i]` from the caller and mints
    /// their sum to the caller as one new lot.
    /// @dev Requirements: at least two distinct lots, each with its data stored
    /// (revealed), of the same category, unit and unit mass (so that the new lot's
    /// mass is the sum of the parts' masses); both arrays have the same length; no zero
    /// quantity; each at most the caller's balance. A quantity of 2^192 or more reverts
    /// with {ReclaimRegistryParentTooLarge}. The new lot's building id is the parents'
    /// common origin, or zero when they differ: read its origins with {lotParents}.
    /// Emits {TransferBatch} to the zero address, {LotsMerged}, {LotRegistered} for the new
    /// lot, then {TransferSingle} from the zero address.
    /// @return lotId The new lot.
    function merge(uint256[] calldata lotIds, uint256[] calldata quantities) external returns (uint256 lotId);

    /// @notice Records an inspector's attestation about lot `lotId`.
    /// @dev Requirements: the caller has `INSPECTOR_ROLE`; the lot exists; `grade` and
    /// every hazard status are in range; `evidenceHash` is non-zero.
    /// Emits {InspectionRecorded}.
    /// @param hazards Asbestos, lead paint, PCB and bituminous adhesive, as `HazardStatus`.
    /// @return inspectionId The attestation's id.
    function recordInspection(
        uint256 lotId,
        uint8 grade,
        bytes32 fitness,
        uint8[4] calldata hazards,
        bytes32 evidenceHash
    ) external returns (uint256 inspectionId);

    /// @notice Revokes an attestation; only its author can.
    /// @dev Requirements: the attestation exists and is not revoked; the caller is its
    /// author; `reasonHash` is non-zero. Emits {InspectionRevoked}.
    function revokeInspection(uint256 inspectionId, bytes32 reasonHash) external;

    /// @notice Registers a circularity claim with the caller as its owner.
    /// @dev Requirements: the destination id is non-zero; `lotIds` is not empty and every
    /// lot exists; the share is at most 10,000 basis points and the reused mass at most
    /// the total; `documentHash` is non-zero. Duplicate lot ids are recorded as given so
    /// that an audit can flag them. Emits {ClaimRegistered}.
    /// @return claimId The claim's id.
    function registerClaim(ClaimInput calldata input) external returns (uint256 claimId);

    /// @notice Records an auditor's approval or rejection of a claim.
    /// @dev Requirements: the caller has `AUDITOR_ROLE`; the claim exists; `reasonsHash`
    /// is non-zero. Emits {ClaimAudited}.
    function recordAudit(uint256 claimId, bool approved, bytes32 reasonsHash) external;

    /// @notice Returns the lots a split or merged lot was made from, with the quantity
    /// taken from each; empty arrays for a registered lot.
    function lotParents(uint256 lotId) external view returns (uint256[] memory lotIds, uint256[] memory quantities);

    /// @notice Returns attestation `inspectionId`.
    function inspection(uint256 inspectionId) external view returns (Inspection memory);

    /// @notice Returns the number of attestations; ids run from 1 to this number.
    function inspectionCount() external view returns (uint256);

    /// @notice Returns claim `claimId`.
    function claim(uint256 claimId) external view returns (Claim memory);

    /// @notice Returns the number of claims; ids run from 1 to this number.
    function claimCount() external view returns (uint256);

    /// @notice Returns the registered data of lot `lotId`.
    /// @dev Reverts with {ReclaimRegistryUnknownLot} when the lot does not exist, and with
    /// {ReclaimRegistryLotNotRevealed} for a batch lot not revealed yet.
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
