"""Persistence of decoded events: rows and checkpoint in one database transaction.

Invariant: ``sync_state.last_block`` is the last block whose events are all stored. A
batch's rows and the checkpoint move together in one transaction, so a crash at any
point leaves the mirror at a batch boundary and a restart resumes without gaps or
duplicates. The checkpoint moves forward only, except in :func:`roll_back`, which
removes a reorganised chain's rows and moves it back to the common ancestor in one
transaction.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, tuple_, update

from ledger.db.models import (
    Block,
    Building,
    Claim,
    ClaimAudit,
    Disposal,
    Holding,
    Inspection,
    InspectionRevocation,
    Installation,
    Lot,
    LotDerivation,
    RawEvent,
    SyncState,
    Transfer,
)
from ledger.errors import IndexerError
from ledger.indexer.bulk import insert_rows
from ledger.indexer.decode import DecodedEvent, EventDecoder
from ledger.lot_entries import unpack_entries

ZERO_ADDRESS = "0x" + "00" * 20
SYNC_STATE_ID = 1
ERC1155_TRANSFERS = frozenset({"TransferSingle", "TransferBatch"})
# (lot id, holder) pairs looked up per query: two parameters each, under the limit
# of 999 parameters per statement of SQLite before 3.32.
KEYS_PER_QUERY = 400

BLOCK_COLUMNS = ("number", "hash", "parent_hash", "timestamp")
RAW_EVENT_COLUMNS = (
    "block_number",
    "block_hash",
    "transaction_hash",
    "log_index",
    "event_name",
    "topics",
    "data",
)
ORIGIN_COLUMNS = (
    "block_number",
    "block_hash",
    "transaction_hash",
    "log_index",
    "timestamp",
)
HOLDING_COLUMNS = ("lot_id", "holder", "balance")


@dataclass(frozen=True)
class Checkpoint:
    """The indexer's position and the identity of the chain it mirrors."""

    chain_id: int
    genesis_hash: str
    contract_address: str
    start_block: int
    last_block: int
    last_block_hash: str | None


def read_checkpoint(
    connection: Connection, for_update: bool = False
) -> Checkpoint | None:
    """Return the stored checkpoint, or None for an empty mirror.

    ``for_update`` locks the row until the transaction ends (on PostgreSQL; SQLite
    locks the whole database on the first write).
    """
    table = SyncState.__table__
    query = select(table).where(table.c.id == SYNC_STATE_ID)
    if for_update:
        query = query.with_for_update()
    row = connection.execute(query).mappings().first()
    if row is None:
        return None
    return Checkpoint(
        chain_id=row["chain_id"],
        genesis_hash=row["genesis_hash"],
        contract_address=row["contract_address"],
        start_block=row["start_block"],
        last_block=row["last_block"],
        last_block_hash=row["last_block_hash"],
    )


def create_checkpoint(connection: Connection, checkpoint: Checkpoint) -> None:
    """Record the chain identity and start position of a new mirror."""
    connection.execute(
        insert(SyncState).values(
            id=SYNC_STATE_ID,
            chain_id=checkpoint.chain_id,
            genesis_hash=checkpoint.genesis_hash,
            contract_address=checkpoint.contract_address,
            start_block=checkpoint.start_block,
            last_block=checkpoint.last_block,
            last_block_hash=checkpoint.last_block_hash,
        )
    )


def store_batch(
    connection: Connection,
    events: Sequence[DecodedEvent],
    headers: dict[int, dict[str, Any]],
    to_block: int,
    to_block_hash: str,
    expected_last_block: int | None = None,
    prune_below: int | None = None,
    prune_from: int | None = None,
) -> None:
    """Store the events of a block range and move the checkpoint to ``to_block``.

    ``headers`` holds the header of every block that has an event, and of the recent
    blocks whose hashes the reorganisation check needs. ``expected_last_block`` guards
    against another indexer having moved the checkpoint since it was read. Block rows
    without events below ``prune_below`` are deleted, since those blocks are final.
    ``prune_from`` limits the deletion to blocks from ``prune_from`` up, for a caller
    that guarantees no block row without events lies below it. Without it, every
    block row below ``prune_below`` is checked. The caller runs this inside one
    transaction.
    """
    checkpoint = read_checkpoint(connection, for_update=True)
    if checkpoint is None:
        raise IndexerError("The mirror has no checkpoint; it was not initialised.")
    if expected_last_block is not None and checkpoint.last_block != expected_last_block:
        raise IndexerError(
            f"The checkpoint moved from block {expected_last_block} to "
            f"{checkpoint.last_block} while this batch was read: another indexer "
            "writes to this database. Run one indexer per database."
        )
    if to_block <= checkpoint.last_block:
        raise IndexerError(
            f"Refusing to move the checkpoint back from block {checkpoint.last_block} "
            f"to {to_block}."
        )

    _store_blocks(connection, headers)
    _store_raw_events(connection, events)
    _store_derived_rows(connection, events, headers)
    if prune_below is not None:
        _prune_blocks(connection, prune_below, prune_from)

    connection.execute(
        update(SyncState)
        .where(SyncState.id == SYNC_STATE_ID)
        .values(last_block=to_block, last_block_hash=to_block_hash)
    )


def recent_block_hashes(connection: Connection, lowest: int) -> list[tuple[int, str]]:
    """Return (number, hash) of the stored blocks from ``lowest`` up, newest first."""
    rows = connection.execute(
        select(Block.number, Block.hash)
        .where(Block.number >= lowest)
        .order_by(Block.number.desc())
    ).all()
    return [(number, block_hash) for number, block_hash in rows]


def roll_back(
    connection: Connection, decoder: EventDecoder, ancestor: int, ancestor_hash: str
) -> int:
    """Delete everything above block ``ancestor`` and move the checkpoint back to it.

    Holdings are restored by undoing the ERC-1155 transfer events above the ancestor.
    Every other derived table is append-only, so deleting its rows above the ancestor
    restores it. Returns the number of events removed.
    """
    table = RawEvent.__table__
    removed = (
        connection.execute(
            select(table)
            .where(table.c.block_number > ancestor)
            .order_by(table.c.block_number, table.c.log_index)
        )
        .mappings()
        .all()
    )
    changes: dict[tuple[int, str], int] = defaultdict(int)
    for row in removed:
        if row["event_name"] not in ("TransferSingle", "TransferBatch"):
            continue
        event = decoder.decode(
            {
                "topics": json.loads(row["topics"]),
                "data": row["data"],
                "blockNumber": hex(row["block_number"]),
                "blockHash": row["block_hash"],
                "transactionHash": row["transaction_hash"],
                "logIndex": hex(row["log_index"]),
            }
        )
        # Undo the move: the receiver gives the quantity back to the sender.
        for lot_id, value in _moved(event):
            _add_move(changes, event.args["to"], event.args["from"], lot_id, value)
    _apply_balance_changes(connection, changes)

    for model, _ in reversed(list(ROW_EVENTS.values())):
        connection.execute(delete(model).where(model.block_number > ancestor))
    connection.execute(delete(RawEvent).where(RawEvent.block_number > ancestor))
    connection.execute(delete(Block).where(Block.number > ancestor))
    connection.execute(
        update(SyncState)
        .where(SyncState.id == SYNC_STATE_ID)
        .values(last_block=ancestor, last_block_hash=ancestor_hash)
    )
    return len(removed)


def _store_blocks(connection: Connection, headers: dict[int, dict[str, Any]]) -> None:
    rows = [
        (
            number,
            str(header["hash"]).lower(),
            str(header["parentHash"]).lower(),
            int(header["timestamp"], 16),
        )
        for number, header in sorted(headers.items())
    ]
    insert_rows(connection, Block.__table__, BLOCK_COLUMNS, rows)  # type: ignore[arg-type]


def _prune_blocks(connection: Connection, below: int, lowest: int | None) -> None:
    # NOT EXISTS probes the block_number index once per block row. NOT IN over the
    # events' block numbers made PostgreSQL compare each block row with the whole
    # list once it outgrew work_mem. That took 48 s for 1,000 blocks and 1,000,000
    # events (PostgreSQL 15, work_mem 4 MB), against 12 ms for NOT EXISTS.
    has_events = select(RawEvent.id).where(RawEvent.block_number == Block.number)
    pruned = delete(Block).where(Block.number < below, ~has_events.exists())
    if lowest is not None:
        pruned = pruned.where(Block.number >= lowest)
    connection.execute(pruned)


def _store_raw_events(connection: Connection, events: Sequence[DecodedEvent]) -> None:
    topics = topics_json([event.topics for event in events])
    rows = [
        (
            event.block_number,
            event.block_hash,
            event.transaction_hash,
            event.log_index,
            event.name,
            topics_text,
            event.data,
        )
        for event, topics_text in zip(events, topics, strict=True)
    ]
    insert_rows(connection, RawEvent.__table__, RAW_EVENT_COLUMNS, rows)  # type: ignore[arg-type]


def topics_json(topics_of_events: Sequence[Sequence[str]]) -> list[str]:
    """Return ``json.dumps(list(topics))`` for each event's topics.

    Topics are 0x-prefixed hex, which JSON keeps unescaped, so joining them gives the
    same text at about a third of the cost. One scan of the whole batch checks that
    no topic contains a quote, a backslash, a control or a non-ASCII character, and
    otherwise every text comes from ``json.dumps``.
    """
    texts = ['["' + '", "'.join(topics) + '"]' for topics in topics_of_events]
    batch = "".join(texts)
    quotes = 2 * sum(map(len, topics_of_events))
    if (
        batch.isascii()
        and batch.isprintable()
        and "\\" not in batch
        and batch.count('"') == quotes
    ):
        return texts
    return [json.dumps(list(topics)) for topics in topics_of_events]


def _building_row(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "building_id": args["buildingId"],
        "reference": ascii_text(args["buildingId"]),
        "record_hash": args["recordHash"],
    }


def _lot_row(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "lot_id": args["lotId"],
        # A merge of lots from several buildings has no single origin.
        "building_id": None if int(args["buildingId"], 16) == 0 else args["buildingId"],
        "first_holder": args["holder"],
        "category": ascii_text(args["category"]) or args["category"],
        "unit": args["unit"],
        "quantity": args["quantity"],
        "unit_mass_grams": args["unitMassGrams"],
        "record_hash": args["recordHash"],
    }


def _lot_batch_rows(args: dict[str, Any]) -> list[dict[str, Any]]:
    """Return one ``lots`` row per entry of a ``LotBatchRegistered`` event.

    The keys are those of :func:`_lot_row`, in the same order.
    """
    first_lot_id = args["firstLotId"]
    building_id = args["buildingId"]
    holder = args["holder"]
    return [
        {
            "lot_id": first_lot_id + offset,
            "building_id": building_id,
            "first_holder": holder,
            "category": ascii_text(entry.category) or entry.category,
            "unit": entry.unit,
            "quantity": entry.quantity,
            "unit_mass_grams": entry.unit_mass_grams,
            "record_hash": entry.record_hash,
        }
        for offset, entry in enumerate(unpack_entries(args["entries"]))
    ]


def _transfer_row(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "lot_id": args["lotId"],
        "from_address": args["from"],
        "to_address": args["to"],
        "quantity": args["quantity"],
        "reason": args["reason"],
        "reference_hash": args["referenceHash"],
        "operator": args["operator"],
    }


def _installation_row(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "lot_id": args["lotId"],
        "destination_building_id": args["destinationBuildingId"],
        "destination_reference": ascii_text(args["destinationBuildingId"]),
        "holder": args["holder"],
        "quantity": args["quantity"],
        "reference_hash": args["referenceHash"],
    }


def _disposal_row(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "lot_id": args["lotId"],
        "holder": args["holder"],
        "route": args["route"],
        "quantity": args["quantity"],
        "reference_hash": args["referenceHash"],
    }


def _json_integers(values: Sequence[int]) -> str:
    # uint256 values as decimal strings, so that JSON readers keep them exact.
    return json.dumps([str(value) for value in values])


def _split_row(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "split",
        "holder": args["holder"],
        "parent_lot_ids": _json_integers([args["parentLotId"]]),
        "child_lot_ids": _json_integers(args["childLotIds"]),
        "quantities": _json_integers(args["quantities"]),
    }


def _merge_row(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "merge",
        "holder": args["holder"],
        "parent_lot_ids": _json_integers(args["parentLotIds"]),
        "child_lot_ids": _json_integers([args["lotId"]]),
        "quantities": _json_integers(args["quantities"]),
    }


def _inspection_row(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "inspection_id": args["inspectionId"],
        "lot_id": args["lotId"],
        "inspector": args["inspector"],
        "grade": args["grade"],
        "fitness": ascii_text(args["fitness"]) or args["fitness"],
        "asbestos": args["asbestos"],
        "lead_paint": args["leadPaint"],
        "pcb": args["pcb"],
        "bituminous_adhesive": args["bituminousAdhesive"],
        "evidence_hash": args["evidenceHash"],
    }


def _revocation_row(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "inspection_id": args["inspectionId"],
        "lot_id": args["lotId"],
        "inspector": args["inspector"],
        "reason_hash": args["reasonHash"],
    }


def _claim_row(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "claim_id": args["claimId"],
        "destination_building_id": args["destinationBuildingId"],
        "destination_reference": ascii_text(args["destinationBuildingId"]),
        "owner": args["owner"],
        "lot_ids": _json_integers(args["lotIds"]),
        "reused_mass_grams": args["reusedMassGrams"],
        "total_mass_grams": args["totalMassGrams"],
        "reuse_share_bps": args["reuseShareBps"],
        "co2e_avoided_grams": args["co2eAvoidedGrams"],
        "method_version": ascii_text(args["methodVersion"]) or args["methodVersion"],
        "document_hash": args["documentHash"],
    }


def _claim_audit_row(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "claim_id": args["claimId"],
        "auditor": args["auditor"],
        "approved": bool(args["approved"]),
        "reasons_hash": args["reasonsHash"],
    }


# Each event that maps to one row: its table and the function building the row from
# the event's arguments. Every such table carries the row's origin (block number and
# hash, transaction hash, log index, timestamp), and is append-only, so a reorg
# rollback deletes the rows above a block and nothing else. Holdings are the one
# aggregate; they follow the ERC-1155 transfer events.
ROW_EVENTS: dict[str, tuple[type[Any], Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "BuildingRegistered": (Building, _building_row),
    "LotRegistered": (Lot, _lot_row),
    "CustodyTransferred": (Transfer, _transfer_row),
    "LotInstalled": (Installation, _installation_row),
    "LotDisposed": (Disposal, _disposal_row),
    "LotSplit": (LotDerivation, _split_row),
    "LotsMerged": (LotDerivation, _merge_row),
    "InspectionRecorded": (Inspection, _inspection_row),
    "InspectionRevoked": (InspectionRevocation, _revocation_row),
    "ClaimRegistered": (Claim, _claim_row),
    "ClaimAudited": (ClaimAudit, _claim_audit_row),
}
# Each event that maps to several rows of one table: a batch registration makes one
# ``lots`` row per entry, all with the event's origin. Rows are identified by the
# event's position and the lot id. Its table is also one of ROW_EVENTS, so rollback,
# verify and the digest cover these rows with it.
BATCH_ROW_EVENTS: dict[
    str, tuple[type[Any], Callable[[dict[str, Any]], list[dict[str, Any]]]]
] = {
    "LotBatchRegistered": (Lot, _lot_batch_rows),
}


def derived_rows(event: DecodedEvent) -> tuple[type[Any], list[dict[str, Any]]] | None:
    """Return the model and rows (without origin columns) that ``event`` makes."""
    if event.name in ROW_EVENTS:
        model, build_row = ROW_EVENTS[event.name]
        return model, [build_row(event.args)]
    if event.name in BATCH_ROW_EVENTS:
        model, build_rows = BATCH_ROW_EVENTS[event.name]
        return model, batch_rows(event, build_rows)
    return None


def batch_rows(
    event: DecodedEvent, build_rows: Callable[[dict[str, Any]], list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Return ``build_rows(event.args)``, or raise IndexerError on invalid entries."""
    try:
        return build_rows(event.args)
    except ValueError as exc:
        raise IndexerError(
            f"The {event.name} log at block {event.block_number}, log index "
            f"{event.log_index} has invalid entries ({exc}); the indexer's ABI does "
            "not match the deployed contract."
        ) from exc


def _store_derived_rows(
    connection: Connection,
    events: Sequence[DecodedEvent],
    headers: dict[int, dict[str, Any]],
) -> None:
    rows: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    columns: dict[str, tuple[str, ...]] = {}
    balance_changes: dict[tuple[int, str], int] = defaultdict(int)
    timestamps = {
        number: int(header["timestamp"], 16) for number, header in headers.items()
    }

    for event in events:
        name = event.name
        if name in ROW_EVENTS:
            # Each row builder returns a dict literal, so its keys keep one order.
            row = ROW_EVENTS[name][1](event.args)
            if name not in columns:
                columns[name] = (*row, *ORIGIN_COLUMNS)
            rows[name].append(
                (
                    *row.values(),
                    event.block_number,
                    event.block_hash,
                    event.transaction_hash,
                    event.log_index,
                    timestamps[event.block_number],
                )
            )
        elif name in ERC1155_TRANSFERS:
            args = event.args
            for lot_id, value in _moved(event):
                _add_move(balance_changes, args["from"], args["to"], lot_id, value)
        elif name in BATCH_ROW_EVENTS:
            origin = (
                event.block_number,
                event.block_hash,
                event.transaction_hash,
                event.log_index,
                timestamps[event.block_number],
            )
            for row in batch_rows(event, BATCH_ROW_EVENTS[name][1]):
                if name not in columns:
                    columns[name] = (*row, *ORIGIN_COLUMNS)
                rows[name].append((*row.values(), *origin))

    # Insert in the order of ROW_EVENTS, then BATCH_ROW_EVENTS, so that rows
    # referencing others (lots name their building) come later.
    for name, (model, _) in [*ROW_EVENTS.items(), *BATCH_ROW_EVENTS.items()]:
        if rows[name]:
            insert_rows(connection, model.__table__, columns[name], rows[name])
    _apply_balance_changes(connection, balance_changes)


def row_origin(
    event: DecodedEvent, headers: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    """Return the origin columns of the row derived from ``event``."""
    return {
        "block_number": event.block_number,
        "block_hash": event.block_hash,
        "transaction_hash": event.transaction_hash,
        "log_index": event.log_index,
        "timestamp": int(headers[event.block_number]["timestamp"], 16),
    }


def _moved(event: DecodedEvent) -> list[tuple[int, int]]:
    """Return the (token id, value) pairs an ERC-1155 transfer event moves."""
    if event.name == "TransferSingle":
        return [(event.args["id"], event.args["value"])]
    if event.name == "TransferBatch":
        return list(zip(event.args["ids"], event.args["values"], strict=True))
    return []


def _add_move(
    changes: dict[tuple[int, str], int],
    sender: str,
    receiver: str,
    lot_id: int,
    value: int,
) -> None:
    if sender != ZERO_ADDRESS:
        changes[(lot_id, sender)] -= value
    if receiver != ZERO_ADDRESS:
        changes[(lot_id, receiver)] += value


def _apply_balance_changes(
    connection: Connection, changes: dict[tuple[int, str], int]
) -> None:
    pending = sorted((key, change) for key, change in changes.items() if change != 0)
    if not pending:
        return
    current = _current_balances(connection, [key for key, _ in pending])
    inserts: list[tuple[int, str, int]] = []
    updates: list[dict[str, Any]] = []
    deletes: list[dict[str, Any]] = []
    for (lot_id, holder), change in pending:
        before = current.get((lot_id, holder))
        balance = (before or 0) + change
        if balance < 0:
            raise IndexerError(
                f"The events give holder {holder} a negative balance {balance} of lot "
                f"{lot_id}; the mirror is missing earlier events. Rebuild it with "
                "'reclaim index --reset'."
            )
        key = {"key_lot_id": lot_id, "key_holder": holder}
        if before is None:
            inserts.append((lot_id, holder, balance))
        elif balance == 0:
            deletes.append(key)
        else:
            updates.append({**key, "new_balance": balance})

    table = Holding.__table__
    matches_key = (
        table.c.lot_id == bindparam("key_lot_id"),
        table.c.holder == bindparam("key_holder"),
    )
    if deletes:
        connection.execute(delete(table).where(*matches_key), deletes)
    if updates:
        connection.execute(
            update(table).where(*matches_key).values(balance=bindparam("new_balance")),
            updates,
        )
    insert_rows(connection, table, HOLDING_COLUMNS, inserts)  # type: ignore[arg-type]


def _current_balances(
    connection: Connection, keys: Sequence[tuple[int, str]]
) -> dict[tuple[int, str], int]:
    """Return the stored balances of the (lot id, holder) pairs that have a row."""
    table = Holding.__table__
    balances: dict[tuple[int, str], int] = {}
    for first in range(0, len(keys), KEYS_PER_QUERY):
        chunk = keys[first : first + KEYS_PER_QUERY]
        query = select(table.c.lot_id, table.c.holder, table.c.balance).where(
            tuple_(table.c.lot_id, table.c.holder).in_(chunk)
        )
        for lot_id, holder, balance in connection.execute(query):
            balances[(lot_id, holder)] = balance
    return balances


def ascii_text(value: str) -> str | None:
    """Return a left-aligned ASCII bytes32 (0x hex) as text, or None for others."""
    raw = bytes.fromhex(value[2:]).rstrip(b"\0")
    if not raw or b"\0" in raw or not all(32 <= byte < 127 for byte in raw):
        return None
    return raw.decode("ascii")
