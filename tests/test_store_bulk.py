"""The indexer's bulk store on both databases.

``store_batch`` writes tuples straight through the driver (COPY on PostgreSQL,
executemany on SQLite). These tests compare what it stores with what SQLAlchemy's
``insert(model)`` stores for the same rows, column by column as the driver reads
them, and follow holdings across batches.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest
from event_support import block_hash, create_empty_checkpoint, encoded_log
from sqlalchemy import Connection, Engine, delete, insert, select

from ledger.contracts.artifacts import load_artifact
from ledger.db.engine import open_database
from ledger.db.models import Block, Holding, RawEvent, SyncState
from ledger.errors import IndexerError
from ledger.indexer.bulk import insert_rows
from ledger.indexer.decode import DecodedEvent, EventDecoder
from ledger.indexer.store import (
    HOLDING_COLUMNS,
    ROW_EVENTS,
    SYNC_STATE_ID,
    derived_rows,
    read_checkpoint,
    row_origin,
    store_batch,
    topics_json,
)
from ledger.lot_entries import UINT64_MAX, pack_entry

ABI = load_artifact()["abi"]
DECODER = EventDecoder(ABI)

MAX = 2**256 - 1
ALICE = "0x" + "a1" * 20
BOB = "0x" + "b2" * 20
ZERO = "0x" + "00" * 20
FIRST_BLOCK = 10


def _bytes32(text: bytes) -> bytes:
    return text.ljust(32, b"\0")


# bytes32 texts that the store keeps as text, or as hex when they are not printable
# ASCII: a backslash (escaped by COPY's text format), accents, a NUL inside, nothing.
BUILDING_PLAIN = _bytes32(b"BLD-\\1")
BUILDING_ACCENT = _bytes32("Bâtiment-é".encode())
CATEGORY_NUL = _bytes32(b"ab\0cd")
HASH = bytes(range(32))
# Three lots of one batch, with the largest uint64 values and a category that is not
# text.
BATCH_FIRST_LOT = 100
BATCH_ENTRIES = (
    pack_entry(HASH, _bytes32(b"door"), UINT64_MAX, UINT64_MAX, 4)
    + pack_entry(bytes(31) + b"\x01", CATEGORY_NUL, 1, 0, 0)
    + pack_entry(b"\xff" * 32, _bytes32(b"beam"), 2500, 12_000, 2)
)


def _log(name: str, block: int, log_index: int, **values: Any) -> dict[str, Any]:
    """Return a raw eth_getLogs entry of event ``name`` with ``values`` ABI-encoded."""
    return encoded_log(name, block, log_index, "0x" + f"{block:02x}" * 32, **values)


def _headers(numbers: range) -> dict[int, dict[str, Any]]:
    return {
        number: {
            "hash": block_hash(number),
            "parentHash": block_hash(number - 1),
            # Unix seconds above 2^31, as hex like the node sends.
            "timestamp": hex(2**31 + number),
        }
        for number in numbers
    }


def _every_kind_of_row() -> list[DecodedEvent]:
    """Return decoded events of every stored kind, with extreme values."""
    logs = [
        _log("BuildingRegistered", 10, 0, buildingId=BUILDING_PLAIN, recordHash=HASH),
        _log("BuildingRegistered", 10, 1, buildingId=BUILDING_ACCENT, recordHash=HASH),
        _log(
            "LotRegistered",
            10,
            2,
            lotId=MAX,
            buildingId=BUILDING_PLAIN,
            holder=ALICE,
            category=_bytes32(b"door"),
            unit=255,
            quantity=MAX,
            unitMassGrams=MAX,
            recordHash=HASH,
        ),
        _log(
            "LotRegistered",
            10,
            3,
            lotId=5,
            buildingId=bytes(32),
            holder=ALICE,
            category=CATEGORY_NUL,
            unit=0,
            quantity=0,
            unitMassGrams=1,
            recordHash=HASH,
        ),
        _log(
            "TransferSingle",
            10,
            4,
            operator=ALICE,
            **{"from": ZERO, "to": ALICE, "id": MAX, "value": MAX},
        ),
        _log(
            "TransferBatch",
            10,
            5,
            operator=ALICE,
            ids=[5, 6],
            values=[10, 20],
            **{"from": ZERO, "to": ALICE},
        ),
        _log(
            "CustodyTransferred",
            11,
            0,
            lotId=MAX,
            quantity=MAX,
            reason=255,
            referenceHash=HASH,
            operator=BOB,
            **{"from": ALICE, "to": BOB},
        ),
        _log(
            "TransferSingle",
            11,
            1,
            operator=ALICE,
            **{"from": ALICE, "to": BOB, "id": MAX, "value": MAX},
        ),
        _log(
            "LotInstalled",
            11,
            2,
            lotId=5,
            destinationBuildingId=BUILDING_ACCENT,
            holder=ALICE,
            quantity=3,
            referenceHash=HASH,
        ),
        _log(
            "LotDisposed",
            11,
            3,
            lotId=6,
            holder=ALICE,
            route=2,
            quantity=MAX,
            referenceHash=HASH,
        ),
        _log(
            "LotSplit",
            12,
            0,
            parentLotId=6,
            holder=ALICE,
            childLotIds=[7, MAX],
            quantities=[1, MAX],
        ),
        _log(
            "LotsMerged",
            12,
            1,
            lotId=8,
            holder=BOB,
            parentLotIds=[MAX, 5],
            quantities=[MAX, 0],
        ),
        _log(
            "InspectionRecorded",
            12,
            2,
            inspectionId=MAX,
            lotId=MAX,
            inspector=BOB,
            grade=1,
            fitness=_bytes32(b"reuse\\as-is"),
            asbestos=0,
            leadPaint=1,
            pcb=2,
            bituminousAdhesive=255,
            evidenceHash=HASH,
        ),
        _log(
            "InspectionRevoked",
            12,
            3,
            inspectionId=MAX,
            lotId=MAX,
            inspector=BOB,
            reasonHash=HASH,
        ),
        _log(
            "ClaimRegistered",
            12,
            4,
            claimId=MAX,
            destinationBuildingId=BUILDING_PLAIN,
            owner=ALICE,
            lotIds=[5, MAX],
            reusedMassGrams=MAX,
            totalMassGrams=MAX,
            reuseShareBps=10_000,
            co2eAvoidedGrams=0,
            methodVersion=_bytes32("méthode".encode()),
            documentHash=HASH,
        ),
        _log(
            "ClaimAudited",
            12,
            5,
            claimId=MAX,
            auditor=BOB,
            approved=True,
            reasonsHash=HASH,
        ),
        _log(
            "ClaimAudited",
            12,
            6,
            claimId=MAX,
            auditor=BOB,
            approved=False,
            reasonsHash=bytes(32),
        ),
        _log("RoleGranted", 12, 7, role=HASH, account=BOB, sender=ALICE),
        _log(
            "LotBatchRegistered",
            12,
            8,
            firstLotId=BATCH_FIRST_LOT,
            buildingId=BUILDING_PLAIN,
            holder=BOB,
            entries=BATCH_ENTRIES,
        ),
    ]
    return [DECODER.decode(log) for log in logs]


def _new_mirror(engine: Engine) -> None:
    create_empty_checkpoint(engine, FIRST_BLOCK)


def _store_with_sqlalchemy(
    connection: Connection,
    events: list[DecodedEvent],
    headers: dict[int, dict[str, Any]],
    to_block: int,
) -> None:
    """Store a batch as the indexer did with SQLAlchemy's insert, for comparison."""
    connection.execute(
        insert(Block),
        [
            {
                "number": number,
                "hash": header["hash"],
                "parent_hash": header["parentHash"],
                "timestamp": int(header["timestamp"], 16),
            }
            for number, header in sorted(headers.items())
        ],
    )
    connection.execute(
        insert(RawEvent),
        [
            {
                "block_number": event.block_number,
                "block_hash": event.block_hash,
                "transaction_hash": event.transaction_hash,
                "log_index": event.log_index,
                "event_name": event.name,
                "topics": json.dumps(list(event.topics)),
                "data": event.data,
            }
            for event in events
        ],
    )
    rows: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    balances: dict[tuple[int, str], int] = defaultdict(int)
    for event in events:
        derived = derived_rows(event)
        if derived is not None:
            model, event_rows = derived
            rows[model] += [{**row, **row_origin(event, headers)} for row in event_rows]
        moves = []
        if event.name == "TransferSingle":
            moves = [(event.args["id"], event.args["value"])]
        if event.name == "TransferBatch":
            moves = list(zip(event.args["ids"], event.args["values"], strict=True))
        for lot_id, value in moves:
            balances[(lot_id, event.args["from"])] -= value
            balances[(lot_id, event.args["to"])] += value
    for model in dict.fromkeys(model for model, _ in ROW_EVENTS.values()):
        if rows[model]:
            connection.execute(insert(model), rows[model])
    holdings = [
        {"lot_id": lot_id, "holder": holder, "balance": balance}
        for (lot_id, holder), balance in balances.items()
        if holder != ZERO and balance != 0
    ]
    connection.execute(insert(Holding), holdings)
    connection.execute(
        SyncState.__table__.update()
        .where(SyncState.id == SYNC_STATE_ID)
        .values(last_block=to_block, last_block_hash=headers[to_block]["hash"])
    )


def _stored_tables() -> list[Any]:
    models = [Block, RawEvent, *{model: None for model, _ in ROW_EVENTS.values()}]
    return [model.__table__ for model in [*models, Holding, SyncState]]


def _database_contents(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Return every stored row as the driver reads it, without SQLAlchemy types."""
    contents = {}
    with engine.connect() as connection:
        for table in _stored_tables():
            columns = [
                column.name
                for column in table.columns
                if not (column.name == "id" and column.primary_key)
            ]
            listed = ", ".join(columns)
            contents[table.name] = [
                tuple(row)
                for row in connection.exec_driver_sql(
                    f"SELECT {listed} FROM {table.name} ORDER BY {listed}"
                )
            ]
    return contents


def _clear(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(_stored_tables()):
            connection.execute(delete(table))


def test_bulk_store_matches_sqlalchemy_insert(database_url: str) -> None:
    events = _every_kind_of_row()
    headers = _headers(range(FIRST_BLOCK, 13))
    engine = open_database(database_url)
    try:
        _new_mirror(engine)
        with engine.begin() as connection:
            store_batch(connection, events, headers, 12, block_hash(12))
        bulk = _database_contents(engine)

        _clear(engine)
        _new_mirror(engine)
        with engine.begin() as connection:
            _store_with_sqlalchemy(connection, events, headers, 12)
        reference = _database_contents(engine)
    finally:
        engine.dispose()

    for table in _stored_tables():
        assert bulk[table.name] == reference[table.name], table.name
    # Every kind of derived row was stored, so the comparison covered each table.
    for table in _stored_tables():
        assert reference[table.name], f"no rows in {table.name}"


def test_bulk_store_keeps_values_exact(database_url: str) -> None:
    events = _every_kind_of_row()
    engine = open_database(database_url)
    try:
        _new_mirror(engine)
        with engine.begin() as connection:
            store_batch(connection, events, _headers(range(10, 13)), 12, block_hash(12))
        with engine.connect() as connection:
            lots = connection.execute(
                select(
                    ROW_EVENTS["LotRegistered"][0].__table__.c[
                        "lot_id", "building_id", "category", "quantity"
                    ]
                ).order_by("log_index")
            ).all()
            buildings = dict(
                connection.execute(
                    select(
                        ROW_EVENTS["BuildingRegistered"][0].__table__.c[
                            "building_id", "reference"
                        ]
                    )
                ).all()
            )
            audits = list(
                connection.execute(
                    select(ROW_EVENTS["ClaimAudited"][0].__table__.c.approved).order_by(
                        "log_index"
                    )
                ).scalars()
            )
            timestamps = connection.execute(
                select(RawEvent.block_number, Block.timestamp).join(
                    Block, Block.number == RawEvent.block_number
                )
            ).all()
    finally:
        engine.dispose()

    assert lots[0] == (MAX, "0x" + BUILDING_PLAIN.hex(), "door", MAX)
    # A zero building id (a merge of several buildings) is stored as NULL.
    assert lots[1][1] is None
    # A category with a NUL inside is not text, so its hex is stored.
    assert lots[1][2] == "0x" + CATEGORY_NUL.hex()
    assert buildings["0x" + BUILDING_PLAIN.hex()] == "BLD-\\1"
    # Accented bytes are not ASCII, so the building has no text reference.
    assert buildings["0x" + BUILDING_ACCENT.hex()] is None
    assert audits == [True, False]
    assert all(timestamp == 2**31 + block for block, timestamp in timestamps)


def test_batch_event_makes_one_lot_row_per_entry(database_url: str) -> None:
    events = _every_kind_of_row()
    batch = events[-1]
    engine = open_database(database_url)
    try:
        _new_mirror(engine)
        with engine.begin() as connection:
            store_batch(connection, events, _headers(range(10, 13)), 12, block_hash(12))
        lots_table = ROW_EVENTS["LotRegistered"][0].__table__
        with engine.connect() as connection:
            rows = (
                connection.execute(
                    select(lots_table)
                    .where(lots_table.c.lot_id >= BATCH_FIRST_LOT)
                    .where(lots_table.c.lot_id < MAX)
                    .order_by(lots_table.c.lot_id)
                )
                .mappings()
                .all()
            )
    finally:
        engine.dispose()

    assert [row["lot_id"] for row in rows] == [100, 101, 102]
    for row in rows:
        assert row["building_id"] == "0x" + BUILDING_PLAIN.hex()
        assert row["first_holder"] == BOB
        assert row["block_number"] == 12
        assert row["log_index"] == 8
        assert row["block_hash"] == batch.block_hash
        assert row["transaction_hash"] == batch.transaction_hash
        assert row["timestamp"] == 2**31 + 12
    assert [row["category"] for row in rows] == [
        "door",
        "0x" + CATEGORY_NUL.hex(),
        "beam",
    ]
    assert [row["unit"] for row in rows] == [4, 0, 2]
    assert [row["quantity"] for row in rows] == [UINT64_MAX, 1, 2500]
    assert [row["unit_mass_grams"] for row in rows] == [UINT64_MAX, 0, 12_000]
    assert [row["record_hash"] for row in rows] == [
        "0x" + HASH.hex(),
        "0x" + "00" * 31 + "01",
        "0x" + "ff" * 32,
    ]


def test_batch_event_with_partial_entry_fails(database_url: str) -> None:
    broken = DECODER.decode(
        _log(
            "LotBatchRegistered",
            10,
            0,
            firstLotId=1,
            buildingId=BUILDING_PLAIN,
            holder=BOB,
            entries=BATCH_ENTRIES[:-1],
        )
    )
    engine = open_database(database_url)
    try:
        _new_mirror(engine)
        with (
            pytest.raises(IndexerError, match="block 10, log index 0 has invalid"),
            engine.begin() as connection,
        ):
            store_batch(
                connection, [broken], _headers(range(10, 11)), 10, block_hash(10)
            )
        with engine.connect() as connection:
            checkpoint = read_checkpoint(connection)
    finally:
        engine.dispose()

    assert checkpoint is not None
    assert checkpoint.last_block == FIRST_BLOCK - 1


def _holdings(engine: Engine) -> dict[tuple[int, str], int]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(Holding.lot_id, Holding.holder, Holding.balance)
        ).all()
    return {(lot_id, holder): balance for lot_id, holder, balance in rows}


def _transfer(
    block: int, log_index: int, sender: str, receiver: str, lot_id: int, value: int
) -> DecodedEvent:
    return DECODER.decode(
        _log(
            "TransferSingle",
            block,
            log_index,
            operator=ALICE,
            **{"from": sender, "to": receiver, "id": lot_id, "value": value},
        )
    )


def test_holdings_follow_transfers_across_batches(database_url: str) -> None:
    engine = open_database(database_url)
    try:
        _new_mirror(engine)
        batches = [
            [
                _transfer(10, 0, ZERO, ALICE, MAX, MAX),
                _transfer(10, 1, ZERO, ALICE, 5, 10),
            ],
            # Alice's whole MAX moves to Bob, and 4 of lot 5: one row deleted, one
            # updated, two inserted.
            [
                _transfer(11, 0, ALICE, BOB, MAX, MAX),
                _transfer(11, 1, ALICE, BOB, 5, 4),
            ],
            # A move there and back within one batch changes nothing.
            [_transfer(12, 0, BOB, ALICE, 5, 4), _transfer(12, 1, ALICE, BOB, 5, 4)],
        ]
        expected = [
            {(MAX, ALICE): MAX, (5, ALICE): 10},
            {(MAX, BOB): MAX, (5, ALICE): 6, (5, BOB): 4},
            {(MAX, BOB): MAX, (5, ALICE): 6, (5, BOB): 4},
        ]
        for block, (events, holdings) in enumerate(
            zip(batches, expected, strict=True), start=10
        ):
            with engine.begin() as connection:
                store_batch(
                    connection,
                    events,
                    _headers(range(block, block + 1)),
                    block,
                    block_hash(block),
                )
            assert _holdings(engine) == holdings, f"after block {block}"
    finally:
        engine.dispose()


def test_negative_balance_stores_nothing(database_url: str) -> None:
    engine = open_database(database_url)
    try:
        _new_mirror(engine)
        with engine.begin() as connection:
            store_batch(
                connection,
                [_transfer(10, 0, ZERO, ALICE, 5, 10)],
                _headers(range(10, 11)),
                10,
                block_hash(10),
            )
        overdrawn = [
            _transfer(11, 0, ALICE, BOB, 6, 1),
            _transfer(11, 1, ALICE, BOB, 5, 11),
        ]
        # Both balances go below zero, and the first in (lot id, holder) order is named.
        with (
            pytest.raises(IndexerError, match="negative balance -1 of lot 5"),
            engine.begin() as connection,
        ):
            store_batch(
                connection, overdrawn, _headers(range(11, 12)), 11, block_hash(11)
            )
        with engine.connect() as connection:
            checkpoint = read_checkpoint(connection)
            raw_blocks = list(
                connection.execute(select(RawEvent.block_number)).scalars()
            )
        holdings = _holdings(engine)
    finally:
        engine.dispose()

    assert checkpoint is not None
    assert checkpoint.last_block == 10
    assert raw_blocks == [10]
    assert holdings == {(5, ALICE): 10}


@pytest.mark.parametrize("value", [-1, MAX + 1], ids=["negative", "above max"])
def test_bulk_insert_rejects_non_uint256(database_url: str, value: int) -> None:
    rows = [(1, ALICE, MAX), (2, ALICE, value), (3, ALICE, 0)]
    engine = open_database(database_url)
    try:
        with (
            pytest.raises(ValueError, match=f"{value} is outside the uint256 range"),
            engine.begin() as connection,
        ):
            insert_rows(connection, Holding.__table__, HOLDING_COLUMNS, rows)
        holdings = _holdings(engine)
    finally:
        engine.dispose()

    assert holdings == {}


def test_bulk_insert_keeps_uint256_extremes(database_url: str) -> None:
    rows = [(MAX, ALICE, 0), (0, BOB, MAX), (7, ALICE, 2**64)]
    engine = open_database(database_url)
    try:
        with engine.begin() as connection:
            insert_rows(connection, Holding.__table__, HOLDING_COLUMNS, rows)
        holdings = _holdings(engine)
    finally:
        engine.dispose()

    assert holdings == {(MAX, ALICE): 0, (0, BOB): MAX, (7, ALICE): 2**64}


HEX_TOPICS = ("0x" + "ab" * 32, "0x" + f"{7:064x}")


@pytest.mark.parametrize(
    "odd_topics",
    [
        ('0x"quoted"',),
        ("0x\\backslash",),
        ("0xcaf\u00e9",),
        ("0x\x01",),
        ("0x\x7f",),
        (),
    ],
    ids=["quote", "backslash", "non-ascii", "control", "delete", "no topics"],
)
def test_topics_json_matches_json_dumps(odd_topics: tuple[str, ...]) -> None:
    batch = [HEX_TOPICS, odd_topics, HEX_TOPICS[:1]]
    texts = topics_json(batch)
    assert texts == [json.dumps(list(topics)) for topics in batch]
    assert [tuple(json.loads(text)) for text in texts] == batch


def test_topics_json_joins_hex_topics() -> None:
    batch = [HEX_TOPICS, HEX_TOPICS[:1]]
    texts = topics_json(batch)
    assert texts[0] == f'["{HEX_TOPICS[0]}", "{HEX_TOPICS[1]}"]'
    assert texts == [json.dumps(list(topics)) for topics in batch]


def _block_numbers(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return list(
            connection.execute(select(Block.number).order_by(Block.number)).scalars()
        )


def test_prune_from_bounds_deleted_blocks(database_url: str) -> None:
    engine = open_database(database_url)
    try:
        _new_mirror(engine)
        # Blocks 10-14 without events, kept as recent blocks.
        with engine.begin() as connection:
            store_batch(connection, [], _headers(range(10, 15)), 14, block_hash(14))
        # Block 16 has an event. Pruning below 16 from block 12 leaves 10 and 11.
        with engine.begin() as connection:
            store_batch(
                connection,
                [_transfer(16, 0, ZERO, ALICE, 5, 1)],
                _headers(range(15, 17)),
                16,
                block_hash(16),
                prune_below=16,
                prune_from=12,
            )
        bounded = _block_numbers(engine)
        # Without prune_from, every block without events below 17 goes.
        with engine.begin() as connection:
            store_batch(
                connection,
                [],
                _headers(range(17, 18)),
                17,
                block_hash(17),
                prune_below=17,
            )
        unbounded = _block_numbers(engine)
    finally:
        engine.dispose()

    assert bounded == [10, 11, 16]
    assert unbounded == [16, 17]
