"""Lot listing by category, building and holder on SQLite and PostgreSQL.

The mirror is written by the indexer's own store from encoded contract events, so
holdings follow the indexer's rules: a holding whose balance reaches zero is deleted.
Every total and page of ``search_lots`` is compared with a plain computation over
all lots and holdings read back from the mirror.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import product
from typing import Any

import pytest
from event_support import block_hash, create_empty_checkpoint, encoded_log
from sqlalchemy import Engine, select

from ledger.contracts.artifacts import load_artifact
from ledger.db.engine import open_database
from ledger.db.models import Building, Holding, Lot
from ledger.indexer.decode import DecodedEvent, EventDecoder
from ledger.indexer.store import store_batch
from ledger.queries import search_lots

ABI = load_artifact()["abi"]
DECODER = EventDecoder(ABI)

ALICE = "0x" + "a1" * 20
BOB = "0x" + "b2" * 20
CAROL = "0x" + "c3" * 20
DAVE = "0x" + "d4" * 20
NOBODY = "0x" + "e5" * 20
ZERO = "0x" + "00" * 20
QUANTITY = 1000
FIRST_BLOCK = 10

BUILDINGS = ("BLD-LST-01", "BLD-LST-02")
CATEGORIES = ("doors", "flooring", "tiles")
# Ids of several lengths, so that an order by text instead of number would show.
LOT_IDS = [*range(1, 25), 2**70, 2**200]
# A merge of lots from two buildings has no building.
MERGED_LOT = 24
# Alice gives all of these to Bob, so her holdings of them are deleted.
GIVEN_TO_BOB = [lot_id for lot_id in LOT_IDS if lot_id % 3 == 0]
# Alice gives half of these to Carol, so both hold them.
SHARED_WITH_CAROL = [4, 8, 16, 2**200]
# Dave receives lot 5 from Alice and gives it back, so his balance ends at zero.
RETURNED_BY_DAVE = 5


def _bytes32(text: str) -> bytes:
    return text.encode().ljust(32, b"\0")


def _log(name: str, block: int, log_index: int, **values: Any) -> DecodedEvent:
    """Return the decoded eth_getLogs entry of event ``name`` with ``values``."""
    transaction_hash = "0x" + f"{block:02x}{log_index:04x}".ljust(64, "0")
    return DECODER.decode(
        encoded_log(name, block, log_index, transaction_hash, **values)
    )


def _transfer(
    block: int, log_index: int, sender: str, receiver: str, lot_id: int, value: int
) -> DecodedEvent:
    return _log(
        "TransferSingle",
        block,
        log_index,
        operator=sender,
        **{"from": sender, "to": receiver, "id": lot_id, "value": value},
    )


def _registrations(block: int) -> list[DecodedEvent]:
    events = [
        _log(
            "BuildingRegistered",
            block,
            index,
            buildingId=_bytes32(reference),
            recordHash=bytes(32),
        )
        for index, reference in enumerate(BUILDINGS)
    ]
    for lot_id in LOT_IDS:
        building = (
            bytes(32)
            if lot_id == MERGED_LOT
            else _bytes32(BUILDINGS[lot_id % len(BUILDINGS)])
        )
        events.append(
            _log(
                "LotRegistered",
                block,
                len(events),
                lotId=lot_id,
                buildingId=building,
                holder=ALICE,
                category=_bytes32(CATEGORIES[lot_id % len(CATEGORIES)]),
                unit=0,
                quantity=QUANTITY,
                unitMassGrams=1,
                recordHash=bytes(32),
            )
        )
        events.append(_transfer(block, len(events), ZERO, ALICE, lot_id, QUANTITY))
    return events


def _store(engine: Engine, block: int, events: list[DecodedEvent]) -> None:
    headers = {
        block: {
            "hash": block_hash(block),
            "parentHash": block_hash(block - 1),
            "timestamp": hex(1_767_225_600 + block),
        }
    }
    with engine.begin() as connection:
        store_batch(connection, events, headers, block, block_hash(block))


@pytest.fixture
def mirror(database_url: str) -> Iterator[Engine]:
    """A mirror of the lots above, after the moves above, one block each."""
    engine = open_database(database_url)
    create_empty_checkpoint(engine, FIRST_BLOCK)
    _store(engine, FIRST_BLOCK, _registrations(FIRST_BLOCK))
    moves = [(ALICE, BOB, lot_id, QUANTITY) for lot_id in GIVEN_TO_BOB]
    moves += [(ALICE, CAROL, lot_id, QUANTITY // 2) for lot_id in SHARED_WITH_CAROL]
    moves.append((ALICE, DAVE, RETURNED_BY_DAVE, QUANTITY))
    block = FIRST_BLOCK + 1
    _store(engine, block, [_transfer(block, i, *move) for i, move in enumerate(moves)])
    block += 1
    _store(
        engine, block, [_transfer(block, 0, DAVE, ALICE, RETURNED_BY_DAVE, QUANTITY)]
    )
    try:
        yield engine
    finally:
        engine.dispose()


def _reference(
    engine: Engine,
    category: str | None,
    building: str | None,
    holder: str | None,
) -> list[tuple[int, list[tuple[str, int]]]]:
    """Return every matching lot in id order, filtered here, as (id, holders).

    The holders are (address, balance) pairs in address order.
    """
    with engine.connect() as connection:
        lots = connection.execute(
            select(Lot.lot_id, Lot.category, Building.reference).outerjoin(
                Building, Building.building_id == Lot.building_id
            )
        ).all()
        holdings = connection.execute(
            select(Holding.lot_id, Holding.holder, Holding.balance)
        ).all()
    holders: dict[int, dict[str, int]] = {}
    for lot_id, address, balance in holdings:
        holders.setdefault(lot_id, {})[address] = balance
    matches = [
        (lot_id, sorted(holders.get(lot_id, {}).items()))
        for lot_id, lot_category, reference in lots
        if (not category or lot_category == category)
        and (not building or reference == building)
        and (not holder or holder in holders.get(lot_id, {}))
    ]
    return sorted(matches)


def test_mirror_holdings_follow_moves(mirror: Engine) -> None:
    everyone = _reference(mirror, None, None, None)
    by_id = dict(everyone)
    assert [lot_id for lot_id, _ in everyone] == LOT_IDS
    assert by_id[4] == [(ALICE, QUANTITY // 2), (CAROL, QUANTITY // 2)]
    assert by_id[3] == [(BOB, QUANTITY)]
    assert by_id[RETURNED_BY_DAVE] == [(ALICE, QUANTITY)]
    with mirror.connect() as connection:
        dave = connection.execute(
            select(Holding.lot_id).where(Holding.holder == DAVE)
        ).all()
    assert dave == []


def test_holder_with_zero_balance_lists_nothing(mirror: Engine) -> None:
    total, page = search_lots(mirror, holder=DAVE)
    assert total == 0
    assert page == []


def test_shared_lot_listed_for_both_holders(mirror: Engine) -> None:
    _, alice = search_lots(mirror, holder=ALICE, limit=500)
    _, carol = search_lots(mirror, holder=CAROL, limit=500)
    assert 16 in [lot.lot_id for lot in alice]
    assert [lot.lot_id for lot in carol] == SHARED_WITH_CAROL
    assert carol[2].holders == {ALICE: QUANTITY // 2, CAROL: QUANTITY // 2}


@pytest.mark.parametrize(
    "holder", [None, ALICE, BOB, CAROL, DAVE, NOBODY], ids=lambda h: str(h)[:6]
)
def test_listing_matches_reference(mirror: Engine, holder: str | None) -> None:
    categories = [None, "doors", "tiles", "absent"]
    buildings = [None, *BUILDINGS, "BLD-NONE"]
    pages = [(500, 0), (4, 0), (4, 3), (3, 9), (5, 1000)]
    for category, building, (limit, offset) in product(categories, buildings, pages):
        case = (
            f"category={category} building={building} holder={holder} "
            f"limit={limit} offset={offset}"
        )
        expected = _reference(mirror, category, building, holder)
        total, page = search_lots(mirror, category, building, holder, limit, offset)
        assert total == len(expected), case
        got = [(lot.lot_id, list(lot.holders.items())) for lot in page]
        assert got == expected[offset : offset + limit], case
