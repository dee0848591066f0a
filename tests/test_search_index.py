"""The word index of the text search, on SQLite (FTS5) and PostgreSQL (GIN).

Each indexed result is compared with the search that reads the full candidate
subquery with LIKE, which the index replaces for the mirror's inventory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from rich.progress import Progress
from sqlalchemy import Engine, delete, event, func, insert, select, text, update
from test_search import EXTRA_LOTS, items, mirror, run  # noqa: F401

from ledger import search_index
from ledger.context import open_ledger
from ledger.db.engine import MIGRATIONS_DIR, make_engine, migrate
from ledger.db.models import Building, Lot, Record, SearchEntry, SearchPending
from ledger.importing import import_file
from ledger.indexing import reset_mirror, run_index
from ledger.search import (
    SearchQuery,
    inventory_candidates,
    refresh_search_entries,
    search,
)
from ledger.search_index import estimate_matches, word_matches
from ledger.settings import DEFAULT_SEARCH_COUNT_AHEAD, Settings

DATA = Path(__file__).resolve().parent.parent / "data" / "wallonia"


def _quiet() -> Progress:
    return Progress(disable=True)


def _matching(engine: Engine, word: str) -> set[str]:
    with engine.connect() as connection:
        statement = word_matches(engine.dialect.name, word)
        return set(connection.execute(statement).scalars())


def _assert_same_as_like(
    engine: Engine,
    params: dict[str, str],
    count_ahead: int = DEFAULT_SEARCH_COUNT_AHEAD,
) -> None:
    query = SearchQuery.from_params(params)
    indexed = search(engine, query, count_ahead=count_ahead)
    scanned = search(engine, query, inventory_candidates, count_ahead=count_ahead)
    assert indexed.total == scanned.total, params
    assert indexed.exact == scanned.exact, params
    assert items(indexed) == items(scanned), params


# ------------------------------------------------------------ semantics

PREFIX_QUERIES = [
    "chê",
    "CHÊNE",
    "chene porte",
    "Émail",
    "eik",
    "eikenh",
    "eikenhouten",
    "eikenhoutenx",
    "ik",
    "0",
    "00",
    "001",
    "0012",
    "1",
    "600x",
    "600x600",
    "83",
    "oak door",
    "door oak",
    "ecole",
    "école des tilleuls",
    "tilleuls nam",
    "bld",
    "bld gnt",
    "gent",
    "e",
    "a",
    "zzz",
    "interieure zzz",
]

# Characters and words that FTS5 or tsquery would read as syntax. normalise_text
# turns them into separators or plain words first.
SYNTAX_QUERIES = [
    '"chene"',
    '"chene',
    "eik*",
    "*",
    "porte:*",
    "a:b",
    "oak & door",
    "oak | door",
    "!oak",
    "(oak)",
    "oak) OR (door",
    "oak-door",
    "-oak",
    "door NEAR oak",
    "NEAR(oak door)",
    "oak AND door",
    "oak OR door",
    "oak NOT door",
    "AND",
    "NEAR",
    "'",
    "o'ak",
    "\\",
    "%",
    "_",
    "^oak",
    "oak +door",
    "{search_text}: oak",
]


@pytest.mark.parametrize("driving_limit", [0, 10_000], ids=["scan", "index"])
@pytest.mark.parametrize("text", PREFIX_QUERIES + SYNTAX_QUERIES)
def test_index_matches_like(
    mirror: Engine,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    driving_limit: int,
) -> None:
    # A limit of 0 checks every word lot by lot, 10,000 selects the lots by the
    # rarest word's index entries: both must find what LIKE finds.
    monkeypatch.setattr(search_index, "DRIVING_WORD_MATCHES", driving_limit)
    _assert_same_as_like(mirror, {"q": text, "page_size": "100"})
    _assert_same_as_like(mirror, {"q": text, "category": "doors", "page_size": "3"})
    _assert_same_as_like(mirror, {"q": text, "sort": "price", "page": "2"})
    # A count that stops after the page's lots: the page comes from the database.
    _assert_same_as_like(mirror, {"q": text, "page_size": "2"}, count_ahead=0)


@pytest.mark.parametrize("driving_limit", [0, 10_000], ids=["scan", "index"])
def test_many_buildings_not_listed(
    mirror: Engine,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    driving_limit: int,
) -> None:
    # "bld" starts every building's reference. Past MAX_LISTED_BUILDINGS, a word's
    # buildings go into the statements as a subquery rather than as a list of ids.
    monkeypatch.setattr(search_index, "DRIVING_WORD_MATCHES", driving_limit)
    monkeypatch.setattr(search_index, "MAX_LISTED_BUILDINGS", 1, raising=False)
    with mirror.connect() as connection:
        building_ids = list(connection.execute(select(Building.building_id)).scalars())
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(mirror, "before_cursor_execute", record)
    try:
        _assert_same_as_like(mirror, {"q": "bld", "page_size": "100"})
        _assert_same_as_like(mirror, {"q": "bld door", "sort": "price"})
        _assert_same_as_like(mirror, {"q": "bld", "page_size": "2"}, count_ahead=0)
    finally:
        event.remove(mirror, "before_cursor_execute", record)
    assert len(building_ids) == 5
    listing = [s for s in statements if any(i in s for i in building_ids)]
    assert listing == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("eik*", ["GNT-001", "GNT-002"]),
        ('"chene"', ["BXL-001"]),
        ("porte:*", ["BXL-001"]),
        ("oak & door", ["NAM-022", "GNT-001", "BXL-001"]),
        ("(oak) | door", ["NAM-022", "GNT-001", "BXL-001"]),
        ("NEAR(eikenhouten)", []),
        ("eikenhouten NEAR", []),
        ("bxl-001", ["BXL-001"]),
    ],
)
def test_syntax_characters_are_words(
    mirror: Engine,  # noqa: F811
    text: str,
    expected: list[str],
) -> None:
    page = run(mirror, q=text)
    assert items(page) == expected
    assert page.total == len(expected)


def test_word_matches_rejects_syntax(mirror: Engine) -> None:  # noqa: F811
    for word in ('x"y', "o'k", "a\\b", "'", '"', "eik*", "two words", ""):
        with pytest.raises(ValueError, match="one word of letters and digits"):
            word_matches(mirror.dialect.name, word)
    assert _matching(mirror, "ελληνικά") == set()
    assert _matching(mirror, "chêne") == set()
    assert _matching(mirror, "chene") == {
        hit.lot.record_hash for hit in run(mirror, q="chene").hits
    }


def test_estimate_bounds_counts(mirror: Engine) -> None:  # noqa: F811
    words = ["eik", "eikenhouten", "zzz", "door", "d", "ecole"]
    with mirror.connect() as connection:
        exact = [len(_matching(mirror, word)) for word in words]
        capped = estimate_matches(connection, words, 5)
        uncapped = estimate_matches(connection, words, 10_000)
    assert exact[words.index("zzz")] == 0
    assert exact[words.index("door")] > 5
    # Below the limit an estimate is at least the count; the limit means as many
    # or more.
    for word, count, estimate in zip(words, exact, capped, strict=True):
        assert (count >= 5 and estimate == 5) or count <= estimate < 5, word
    for word, count, estimate in zip(words, exact, uncapped, strict=True):
        assert count <= estimate < 10_000, word


def test_long_words_match_whole_prefix(mirror: Engine) -> None:  # noqa: F811
    # PostgreSQL indexes the first 255 characters of a word; the rest of a longer
    # query word is checked on the text.
    long_word = "q" * 300 + "yz"
    body = {"schema": "test", "ref": "LONG", "name": f"Hall {long_word} end"}
    record_hash = "0x" + "5a" * 32
    with mirror.begin() as connection:
        connection.execute(
            insert(Record),
            [
                {
                    "record_hash": record_hash,
                    "kind": "building",
                    "body": json.dumps(body),
                }
            ],
        )
    assert refresh_search_entries(mirror) == 1

    assert _matching(mirror, "q" * 255) == {record_hash}
    assert _matching(mirror, "q" * 300) == {record_hash}
    assert _matching(mirror, long_word) == {record_hash}
    assert _matching(mirror, "q" * 299 + "x") == set()
    assert _matching(mirror, long_word + "z") == set()
    assert _matching(mirror, "hall") == {record_hash}


# ----------------------------------------------------- index in step


def _lot_csv(rows: list[tuple[str, str]]) -> str:
    """Return an inventory with one pallet of bricks per (item id, description)."""
    lines = [EXTRA_LOTS.splitlines()[0]]
    for item_id, description in rows:
        lines.append(
            f"{item_id},BLD-TST-07,Halle Gérard,Rue Haute 3,4000,Liège,50.64,5.57,"
            f"bricks,{description},clay,210x100x50,500,pcs,2,1000,B,Cour,"
            "by hand,high,none,0.40,2026-05-01,"
        )
    return "\n".join(lines) + "\n"


def _import(settings: Settings, path: Path, rows: list[tuple[str, str]]) -> Engine:
    path.write_text(_lot_csv(rows), encoding="utf-8")
    ledger = open_ledger(settings, deploy_if_missing=True)
    import_file(ledger, path, "ACT-001", None, _quiet)
    return ledger.engine


def test_index_follows_imports_and_reindex(
    chain: tuple[Path, str], database_url: str, tmp_path: Path
) -> None:
    data_dir, _ = chain
    settings = Settings(data_dir=data_dir, database_url=database_url)
    first = [("TST-001", "Baksteen rood 1903"), ("TST-002", "Brique jaune 1903")]
    engine = _import(settings, tmp_path / "first.csv", first)
    assert items(run(engine, q="1903")) == ["TST-001", "TST-002"]
    assert items(run(engine, q="baks")) == ["TST-001"]
    assert items(run(engine, q="gerard 19")) == ["TST-001", "TST-002"]
    assert items(run(engine, q="klinker")) == []

    # New records reach the index at the next search, through search_pending.
    second = [("TST-003", "Klinker baksteen 1920")]
    engine = _import(settings, tmp_path / "second.csv", second)
    with engine.connect() as connection:
        pending = connection.execute(select(func.count()).select_from(SearchPending))
        assert pending.scalar_one() == 1
    assert items(run(engine, q="klinker")) == ["TST-003"]
    assert items(run(engine, q="baks")) == ["TST-001", "TST-003"]
    with engine.connect() as connection:
        pending = connection.execute(select(func.count()).select_from(SearchPending))
        assert pending.scalar_one() == 0

    # Importing a file again adds no record, so nothing is queued twice.
    engine = _import(settings, tmp_path / "second.csv", second)
    assert refresh_search_entries(engine) == 0
    assert items(run(engine, q="baks")) == ["TST-001", "TST-003"]

    # Rebuilding the chain rows keeps the records, entries and their index.
    reset_mirror(engine)
    assert items(run(engine, q="baks")) == []
    ledger = open_ledger(settings)
    run_index(ledger, _quiet)
    assert items(run(engine, q="baks")) == ["TST-001", "TST-003"]
    _assert_same_as_like(engine, {"q": "baks 19"})


# ----------------------------------------------------------- migration


def _upgrade(engine: Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@pytest.fixture
def mirror_at_0006(database_url: str) -> Iterator[Engine]:
    """A mirror at revision 0006 with two lots, one record without an entry."""
    engine = make_engine(database_url)
    _upgrade(engine, "0006")
    origin = {
        "block_number": 1,
        "block_hash": "0x" + "b1" * 32,
        "transaction_hash": "0x" + "c1" * 32,
        "timestamp": 1_767_225_600,
    }
    building_hash, lot_hashes = "0x" + "aa" * 32, ["0x" + "a1" * 32, "0x" + "a2" * 32]
    bodies = [
        {"item_id": "OLD-001", "description": "Poutre en chêne", "category": "beams"},
        {"item_id": "OLD-002", "description": "Poutre en sapin", "category": "beams"},
    ]
    with engine.begin() as connection:
        connection.execute(
            insert(Record),
            [
                {
                    "record_hash": building_hash,
                    "kind": "building",
                    "body": json.dumps({"ref": "BLD-OLD-01", "city": "Huy"}),
                },
                *(
                    {"record_hash": h, "kind": "lot", "body": json.dumps(b)}
                    for h, b in zip(lot_hashes, bodies, strict=True)
                ),
            ],
        )
        connection.execute(
            insert(Building),
            [
                {
                    "building_id": "0x" + "0b" * 32,
                    "reference": "BLD-OLD-01",
                    "record_hash": building_hash,
                    "log_index": 0,
                    **origin,
                }
            ],
        )
        connection.execute(
            insert(Lot),
            [
                {
                    "lot_id": n,
                    "building_id": "0x" + "0b" * 32,
                    "first_holder": "0x" + "11" * 20,
                    "category": "beams",
                    "unit": 0,
                    "quantity": 4000,
                    "unit_mass_grams": 50_000,
                    "record_hash": lot_hashes[n - 1],
                    "log_index": n,
                    **origin,
                }
                for n in (1, 2)
            ],
        )
        # Release 0006 searched the first lot and the building already; the second
        # lot's record came later and has no entry yet.
        connection.execute(
            insert(SearchEntry),
            [
                {
                    "record_hash": building_hash,
                    "kind": "building",
                    "search_text": "bld old 01 huy",
                },
                {
                    "record_hash": lot_hashes[0],
                    "kind": "lot",
                    "search_text": "old 001 beams poutre en chene",
                },
            ],
        )
    try:
        yield engine
    finally:
        engine.dispose()


def test_migration_indexes_existing_entries(mirror_at_0006: Engine) -> None:
    engine = mirror_at_0006
    migrate(engine)

    assert _matching(engine, "chen") == {"0x" + "a1" * 32}
    assert _matching(engine, "hu") == {"0x" + "aa" * 32}
    with engine.connect() as connection:
        pending = connection.execute(select(SearchPending.record_hash)).scalars()
        assert list(pending) == ["0x" + "a2" * 32]
    assert refresh_search_entries(engine) == 1
    assert [hit.lot.lot_id for hit in run(engine, q="poutre").hits] == [1, 2]
    assert [hit.lot.lot_id for hit in run(engine, q="sapin huy").hits] == [2]
    _assert_same_as_like(engine, {"q": "poutre"})


def test_index_follows_entry_changes(mirror_at_0006: Engine) -> None:
    # No code changes or deletes an entry, but the index must follow if one does.
    engine = mirror_at_0006
    migrate(engine)
    first = "0x" + "a1" * 32
    with engine.begin() as connection:
        connection.execute(
            update(SearchEntry)
            .where(SearchEntry.record_hash == first)
            .values(search_text="old 001 beams poutre en frene")
        )
    assert _matching(engine, "chene") == set()
    assert _matching(engine, "frene") == {first}
    with engine.begin() as connection:
        connection.execute(delete(SearchEntry).where(SearchEntry.record_hash == first))
    assert _matching(engine, "frene") == set()
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            check = "INSERT INTO search_index (search_index) VALUES ('integrity-check')"
            connection.execute(text(check))
