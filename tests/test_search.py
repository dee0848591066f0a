"""Lot search on SQLite and PostgreSQL, over lots imported onto a real anvil.

The sample inventory (74 English lots in three Walloon buildings, lot ids 1 to 74)
is imported with four more lots in Dutch and French (ids 75 to 78), written below.
Each expected result was worked out by hand from those two files.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from rich.progress import Progress
from sqlalchemy import Engine, event, inspect, select
from sqlalchemy.orm import Session

from ledger.chain import anvil
from ledger.context import open_ledger
from ledger.db.engine import open_database
from ledger.db.models import Record, SearchEntry
from ledger.errors import InvalidInput
from ledger.importing import import_file
from ledger.search import (
    MAX_PAGE,
    MAX_PAGE_SIZE,
    MAX_QUERY_WORDS,
    GeoPoint,
    SearchPage,
    SearchQuery,
    haversine_km,
    inventory_candidates,
    normalise_text,
    refresh_search_entries,
    search,
)
from ledger.settings import MAX_SEARCH_COUNT_AHEAD, Settings

DATA = Path(__file__).resolve().parent.parent / "data" / "wallonia"
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

EXTRA_LOTS = """\
item_id,building_ref,building_name,address,postcode,city,latitude,longitude,\
element_category,description,material,dimensions_mm,quantity,unit,unit_mass_kg,\
total_mass_kg,condition_grade,location_in_building,dismantling_method,\
reuse_potential,hazard_notes,estimated_unit_price_eur,available_from,photo_refs
GNT-001,BLD-GNT-05,Oud Stadskantoor,Veldstraat 12,9000,Gent,51.0543,3.7174,doors,\
"Eikenhouten binnendeur, 83 x 211 cm, met originele beslag",oak,830x2110x40,12,pcs,\
35,420,A,Eerste verdieping,unscrew,high,geen,120.00,2026-03-01,GNT-001_01.jpg
GNT-002,BLD-GNT-05,Oud Stadskantoor,Veldstraat 12,9000,Gent,51.0543,3.7174,flooring,\
Visgraat parketvloer in eik,oak,70x350x22,64.5,m2,14,903,B,Raadzaal,lift,high,geen,\
38.50,2026-06-15,GNT-002_01.jpg
BXL-001,BLD-BXL-06,Hôtel de Maître Wiertz,Rue Wiertz 40,1050,Ixelles,50.8366,4.3745,\
doors,Porte intérieure en chêne à panneaux,oak,800x2040x40,8,pcs,32,256,C,Bel-étage,\
unscrew,medium,peinture au plomb possible,75.00,2026-04-01,BXL-001_01.jpg
BXL-002,BLD-BXL-06,Hôtel de Maître Wiertz,Rue Wiertz 40,1050,Ixelles,50.8366,4.3745,\
sanitary,LAVABO en céramique ÉMAILLÉE,ceramic,600x450x200,3,pcs,18,54,B,\
Salle de bains,unscrew,medium,aucun,,,
"""

BRUSSELS = {"lat": "50.8466", "lon": "4.3528"}
GHENT = {"lat": "51.0543", "lon": "3.7174"}
CHARLEROI_LOTS = 25
SAMPLE_LOTS = 74


def _quiet() -> Progress:
    return Progress(disable=True)


def import_sample(settings: Settings, extra_csv: Path) -> Engine:
    """Import the sample inventory and the extra lots; return the mirror's engine."""
    ledger = open_ledger(settings, deploy_if_missing=True)
    import_file(ledger, DATA / "inventory.csv", "ACT-001", None, _quiet)
    import_file(ledger, extra_csv, "ACT-002", None, _quiet)
    return ledger.engine


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def mirror(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """The sample and extra lots, mirrored into a new SQLite or PostgreSQL database."""
    root = tmp_path_factory.mktemp(f"search-{request.param}")
    extra = root / "extra.csv"
    extra.write_text(EXTRA_LOTS, encoding="utf-8")
    data_dir = root / "chain"
    anvil.start(data_dir, chain_id=31337, accounts=5)
    database = f"reclaim_test_{uuid.uuid4().hex[:12]}"
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'mirror.sqlite3'}"
    else:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
    engine = None
    try:
        engine = import_sample(Settings(data_dir=data_dir, database_url=url), extra)
        yield engine
    finally:
        if engine is not None:
            engine.dispose()
        anvil.stop(data_dir)
        if request.param == "postgresql":
            with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def run(engine: Engine, **params: str) -> SearchPage:
    return search(engine, SearchQuery.from_params(params))


def items(page: SearchPage) -> list[str]:
    """Return the item ids of the page's lots, in result order."""
    return [hit.lot.record["item_id"] for hit in page.hits if hit.lot.record]


# ------------------------------------------------------------------- text


def test_normalise_text_folds_accents() -> None:
    assert normalise_text("Porte intérieure en CHÊNE") == "porte interieure en chene"
    assert normalise_text("École des Tilleuls") == "ecole des tilleuls"
    assert normalise_text("Œil-de-bœuf") == "oeil de boeuf"
    assert normalise_text("raised_floor_panel") == "raised floor panel"
    assert normalise_text("Straße  ") == "strasse"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("chêne", ["BXL-001"]),
        ("CHENE", ["BXL-001"]),
        ("Porte intérieure", ["BXL-001"]),
        ("Émaillée", ["BXL-002"]),
        ("lavabo ceramique", ["BXL-002"]),
        ("binnendeur", ["GNT-001"]),
        ("Eiken", ["GNT-001"]),
        ("eik", ["GNT-001", "GNT-002"]),
        ("oak door", ["NAM-022", "GNT-001", "BXL-001"]),
        ("ixelles", ["BXL-001", "BXL-002"]),
        ("gent parket", ["GNT-002"]),
        ("deur", []),
        ("zzz", []),
    ],
)
def test_text_search_languages(mirror: Engine, text: str, expected: list[str]) -> None:
    page = run(mirror, q=text)
    assert items(page) == expected
    assert page.total == len(expected)


TEMPLATES = Path(__file__).resolve().parent.parent / "api" / "templates"


def _search_box_examples() -> list[str]:
    """Return the example queries that the search boxes' placeholders suggest."""
    examples = []
    for name in ("base.html", "_filters.html"):
        html = (TEMPLATES / name).read_text(encoding="utf-8")
        box = re.search(
            r'<input type="search" name="q"[^>]*placeholder="([^"]*)"', html
        )
        assert box is not None, f"no search box with a placeholder in {name}"
        text = box.group(1).removeprefix("Search:")
        examples += [example.strip() for example in text.split(",")]
    return examples


def test_placeholder_examples_match_sample(mirror: Engine) -> None:
    # The sample inventory is English and the search does not translate, so every
    # suggested query must find lots of the sample itself (lot ids 1 to 74).
    examples = _search_box_examples()
    assert examples
    for example in examples:
        page = run(mirror, q=example, page_size="100")
        sample_hits = [hit for hit in page.hits if hit.lot.lot_id <= SAMPLE_LOTS]
        assert sample_hits, f"placeholder example {example!r} finds no sample lot"


def test_text_search_building_name(mirror: Engine) -> None:
    page = run(mirror, q="ecole", page_size="100")
    assert page.total == 23
    assert items(page) == [f"NAM-{n:03d}" for n in range(1, 24)]


def test_search_entries_cover_records(mirror: Engine) -> None:
    # The first refresh may fall to this test when it runs alone.
    refresh_search_entries(mirror)
    assert refresh_search_entries(mirror) == 0
    with Session(mirror) as session:
        entry = session.get(SearchEntry, _record_hash(mirror, "BXL-001"))
        assert entry is not None
        assert entry.search_text.startswith("bxl 001 doors porte interieure en chene")
        assert entry.material == "oak"
        assert entry.condition_grade == "C"
        assert entry.price_cents == 7500
        assert entry.available_from == date(2026, 4, 1)


def test_invalid_records_skipped_once(mirror: Engine) -> None:
    bad = {"0x" + "e1" * 32: "not json", "0x" + "e2" * 32: '{"material": 5}'}
    with mirror.begin() as connection:
        connection.execute(
            Record.__table__.insert(),
            [{"record_hash": h, "kind": "lot", "body": b} for h, b in bad.items()],
        )
    assert refresh_search_entries(mirror) == 2
    assert refresh_search_entries(mirror) == 0
    with Session(mirror) as session:
        for record_hash in bad:
            entry = session.get(SearchEntry, record_hash)
            assert entry is not None
            assert entry.search_text == ""
    assert run(mirror, category="doors").total == 9


def _record_hash(engine: Engine, item_id: str) -> str:
    page = run(engine, q=item_id.replace("-", " "))
    assert len(page.hits) == 1
    return page.hits[0].lot.record_hash


# ---------------------------------------------------------------- filters


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["LGE-005", "LGE-006", "LGE-025", "NAM-004", "NAM-022", "CRL-011"]),
        ({"condition": "A"}, ["NAM-022", "GNT-001"]),
        (
            {"condition": "b"},
            ["LGE-005", "LGE-006", "LGE-025", "NAM-004", "NAM-022", "CRL-011"],
        ),
        ({"min_quantity": "12"}, ["LGE-005", "LGE-006", "NAM-004", "GNT-001"]),
        ({"min_quantity": "46.001"}, ["LGE-005"]),
        ({"max_price": "75"}, ["LGE-005", "NAM-004", "CRL-024", "BXL-001"]),
        ({"max_price": "44.99"}, []),
        ({"available_by": "2026-03-01"}, ["LGE-005", "LGE-006", "GNT-001"]),
        ({"material": "OAK"}, ["GNT-001", "BXL-001"]),
        ({"q": "entrance", "condition": "A", "max_price": "900"}, ["NAM-022"]),
    ],
)
def test_door_filters(
    mirror: Engine, params: dict[str, str], expected: list[str]
) -> None:
    page = run(mirror, category="doors", page_size="6", **params)
    assert items(page) == expected


def test_door_category_total(mirror: Engine) -> None:
    assert run(mirror, category="doors").total == 9
    assert run(mirror, category="DOORS", condition="B").total == 8


def test_material_across_categories(mirror: Engine) -> None:
    assert items(run(mirror, material="oak")) == ["GNT-001", "GNT-002", "BXL-001"]


def test_huge_bounds_clamped(mirror: Engine) -> None:
    assert run(mirror, category="doors", max_price="1e30").total == 9
    assert run(mirror, category="doors", min_quantity="1e80").total == 0
    assert run(mirror, category="doors", within_km="1e9", **GHENT).total == 9


def test_lot_without_price_or_date(mirror: Engine) -> None:
    assert items(run(mirror, q="lavabo")) == ["BXL-002"]
    assert items(run(mirror, q="lavabo", max_price="1000")) == []
    assert items(run(mirror, q="lavabo", available_by="2030-01-01")) == []
    assert items(run(mirror, q="lavabo", sort="price")) == ["BXL-002"]


# ------------------------------------------------------- sort and paging


def test_sort_by_price_pages(mirror: Engine) -> None:
    by_price = ["LGE-005", "CRL-024", "NAM-004", "BXL-001", "LGE-006", "GNT-001"]
    by_price += ["CRL-011", "LGE-025", "NAM-022"]
    pages = [
        run(mirror, category="doors", sort="price", page_size="4", page=str(n))
        for n in (1, 2, 3, 4)
    ]
    assert [items(page) for page in pages] == [
        by_price[0:4],
        by_price[4:8],
        by_price[8:],
        [],
    ]
    assert [page.total for page in pages] == [9, 9, 9, 9]
    assert pages[0].page_count == 3


def test_sort_by_date(mirror: Engine) -> None:
    page = run(mirror, category="doors", sort="date")
    assert items(page) == [
        "LGE-005",
        "LGE-006",
        "GNT-001",
        "LGE-025",
        "BXL-001",
        "CRL-024",
        "CRL-011",
        "NAM-004",
        "NAM-022",
    ]


def test_distance_filter_excludes_box_corner(mirror: Engine) -> None:
    # Ghent's building is 50.15 km from the point: inside the bounding box of a
    # 50.1 km radius, outside the circle.
    page = run(mirror, within_km="50.1", sort="distance", page_size="3", **BRUSSELS)
    assert page.total == 2 + CHARLEROI_LOTS
    assert items(page) == ["BXL-001", "BXL-002", "CRL-001"]
    assert [round(hit.distance_km or 0, 2) for hit in page.hits] == [1.89, 1.89, 49.06]

    wider = run(mirror, within_km="50.2", **BRUSSELS)
    assert wider.total == 2 + CHARLEROI_LOTS + 2


def test_distance_sort_pages(mirror: Engine) -> None:
    first = run(mirror, sort="distance", page_size="5", **GHENT)
    assert first.total == 78
    assert items(first) == ["GNT-001", "GNT-002", "BXL-001", "BXL-002", "CRL-001"]
    last = run(mirror, sort="distance", page_size="5", page="16", **GHENT)
    assert items(last) == ["LGE-024", "LGE-025", "LGE-026"]


def test_distance_with_price_sort(mirror: Engine) -> None:
    page = run(mirror, category="doors", within_km="60", sort="price", **BRUSSELS)
    assert items(page) == [
        "CRL-024",
        "NAM-004",
        "BXL-001",
        "GNT-001",
        "CRL-011",
        "NAM-022",
    ]
    assert page.hits[0].distance_km is not None


def test_candidate_source_replaceable(mirror: Engine) -> None:
    # A stand-in for a listing source whose seller prices are twice the estimates.
    def doubled_prices() -> Any:
        inventory = inventory_candidates()
        columns = [column for column in inventory.c if column.name != "price_cents"]
        columns.append((inventory.c.price_cents * 2).label("price_cents"))
        return select(*columns).subquery("listing_candidates")

    query = SearchQuery.from_params({"category": "doors", "max_price": "90"})
    estimated = ["LGE-005", "LGE-006", "NAM-004", "CRL-024", "BXL-001"]
    assert items(search(mirror, query)) == estimated
    assert items(search(mirror, query, doubled_prices)) == ["LGE-005", "CRL-024"]


# Queries whose totals and pages are checked against a computation in Python over
# every row of the full candidate subquery.
REFERENCE_QUERIES = [
    {},
    {"page": "2", "page_size": "7"},
    {"page": "99", "page_size": "10"},
    {"category": "doors"},
    {"category": "doors", "page": "2", "page_size": "3"},
    {"category": "absent"},
    {"material": "oak"},
    {"condition": "B", "page_size": "50"},
    {"min_quantity": "20", "page_size": "50"},
    {"max_price": "90", "page_size": "50"},
    {"available_by": "2026-05-01", "page_size": "50"},
    {"q": "eik"},
    {"q": "porte chene"},
    {"q": "door", "category": "doors", "sort": "price"},
    {"sort": "price", "page": "3", "page_size": "5"},
    {"sort": "date", "page": "2", "page_size": "6"},
    {"sort": "date", "page": "20", "page_size": "6"},
    {"category": "flooring", "max_price": "50", "sort": "date"},
    {"condition": "A", "min_quantity": "0", "sort": "price", "page_size": "50"},
]


def _reference_search(rows: list[Any], params: dict[str, str]) -> tuple[int, list[int]]:
    """Return the total and the page of lot ids, filtered and sorted here."""
    query = SearchQuery.from_params(params)
    words = normalise_text(query.text).split()
    matches = []
    for row in rows:
        if not all(f" {word}" in row.search_text for word in words):
            continue
        if query.category and row.category != query.category:
            continue
        if query.material and row.material != query.material:
            continue
        if query.condition and (
            row.condition_grade is None or row.condition_grade > query.condition
        ):
            continue
        if query.min_quantity is not None and row.quantity < query.min_quantity * 1000:
            continue
        if query.max_price_eur is not None and (
            row.price_cents is None or row.price_cents > query.max_price_eur * 100
        ):
            continue
        if query.available_by is not None and (
            row.available_from is None or row.available_from > query.available_by
        ):
            continue
        matches.append(row)
    # Lots without the sort value come last, then ties go by lot id.
    if query.sort == "price":
        matches.sort(
            key=lambda r: (r.price_cents is None, r.price_cents or 0, r.lot_id)
        )
    elif query.sort == "date":
        matches.sort(
            key=lambda r: (
                r.available_from is None,
                r.available_from or date.min,
                r.lot_id,
            )
        )
    else:
        matches.sort(key=lambda r: r.lot_id)
    start = (query.page - 1) * query.page_size
    page = matches[start : start + query.page_size]
    return len(matches), [row.lot_id for row in page]


def test_search_matches_reference(mirror: Engine) -> None:
    refresh_search_entries(mirror)
    with mirror.connect() as connection:
        rows = connection.execute(select(inventory_candidates())).all()
    assert len(rows) == SAMPLE_LOTS + 4
    for params in REFERENCE_QUERIES:
        total, ids = _reference_search(rows, params)
        page = run(mirror, **params)
        assert page.total == total, params
        assert [hit.lot.lot_id for hit in page.hits] == ids, params


@pytest.mark.parametrize("count_ahead", [0, 3])
def test_search_counts_up_to_count_ahead(mirror: Engine, count_ahead: int) -> None:
    # Past the count's limit, the database sorts and reads the page, and the total
    # is a lower bound; within it, the page is sorted here.
    refresh_search_entries(mirror)
    with mirror.connect() as connection:
        rows = connection.execute(select(inventory_candidates())).all()
    seen = set()
    for params in REFERENCE_QUERIES:
        total, ids = _reference_search(rows, params)
        query = SearchQuery.from_params(params)
        limit = query.page * query.page_size + count_ahead
        page = search(mirror, query, count_ahead=count_ahead)
        assert page.total == min(total, limit), params
        assert page.exact == (total <= limit), params
        assert [hit.lot.lot_id for hit in page.hits] == ids, params
        if not page.exact:
            assert page.page_count == -(-(limit + 1) // query.page_size), params
        seen.add(page.exact)
    assert seen == {True, False}


def test_count_ahead_huge_counts_all(mirror: Engine) -> None:
    # The largest setting keeps the count's LIMIT, with the page's end added, within
    # the 64-bit integers of both databases, even on the last page allowed.
    for params in ({}, {"page": str(MAX_PAGE), "page_size": str(MAX_PAGE_SIZE)}):
        query = SearchQuery.from_params(params)
        page = search(mirror, query, count_ahead=MAX_SEARCH_COUNT_AHEAD)
        assert page.total == SAMPLE_LOTS + 4, params
        assert page.exact, params


@pytest.mark.parametrize("count_ahead", [-1, -25, MAX_SEARCH_COUNT_AHEAD + 1])
def test_count_ahead_out_of_range_rejected(mirror: Engine, count_ahead: int) -> None:
    message = f"Search count_ahead {count_ahead} is outside"
    with pytest.raises(ValueError, match=message):
        search(mirror, SearchQuery(), count_ahead=count_ahead)


def test_page_past_end_reads_few_rows(mirror: Engine) -> None:
    # A page far past the count's window, such as page=1000000 from an edited URL,
    # must not read every match into Python to count them. psycopg sets rowcount
    # for a SELECT, whereas Python's sqlite3 leaves it at -1.
    if mirror.dialect.name != "postgresql":
        pytest.skip("sqlite3 does not report the rows that a SELECT returns")
    refresh_search_entries(mirror)
    query = SearchQuery.from_params({"page": "20", "page_size": "5"})
    returned: list[int] = []

    def record(*args: Any) -> None:
        cursor, statement = args[1], args[2]
        if statement.lstrip().upper().startswith("SELECT"):
            returned.append(cursor.rowcount)

    event.listen(mirror, "after_cursor_execute", record)
    try:
        page = search(mirror, query, count_ahead=0)
    finally:
        event.remove(mirror, "after_cursor_execute", record)
    assert page.total == SAMPLE_LOTS + 4
    assert page.exact
    assert page.hits == []
    assert max(returned) <= query.page_size + 1


def test_haversine_known_distance() -> None:
    # Brussels Grand-Place to Paris Notre-Dame: 264.1 km on a sphere of the mean radius.
    distance = haversine_km(GeoPoint(50.8467, 4.3525), GeoPoint(48.8530, 2.3498))
    assert abs(distance - 264.1) < 0.05


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"page_size": "101"}, "Page size 101 must be between 1 and 100."),
        ({"page_size": "0"}, "Page size 0 must be between 1 and 100."),
        ({"page": "0"}, "Page 0 must be between 1 and 1000000."),
        ({"page": "10000000000000000000000"}, "must be between 1 and 1000000."),
        ({"page": "two"}, "Parameter page='two' is not a number"),
        ({"sort": "name"}, "Sort order 'name' is unknown"),
        ({"sort": "distance"}, "Sorting by distance needs a point"),
        ({"within_km": "10"}, "Distance 10.0 km needs a point"),
        ({"lat": "50.8"}, "needs both lat and lon"),
        ({"lat": "95", "lon": "4"}, "Latitude 95.0 is outside -90..90"),
        ({"lat": "50", "lon": "4", "within_km": "-3"}, "Distance -3.0 km must be"),
        ({"available_by": "01/05/2026"}, "available_by='01/05/2026' is not a date"),
        ({"min_quantity": "abc"}, "Parameter min_quantity='abc' is not a number"),
        ({"min_quantity": "1.2345"}, "at most 3 decimals"),
        ({"max_price": "nan"}, "Parameter max_price='nan' is not a number"),
        ({"max_price": "9.999"}, "at most 2 decimals"),
        ({"condition": "D"}, "Condition 'D' is not a grade; use A, B or C."),
    ],
)
def test_bad_parameters_rejected(params: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        SearchQuery.from_params(params)
    assert message in str(caught.value)


def test_empty_form_fields_ignored() -> None:
    query = SearchQuery.from_params({"q": " ", "lat": "", "lon": "", "page": ""})
    assert query == SearchQuery()
    assert SearchQuery.from_params({"min_quantity": "2.5"}).min_quantity == Decimal(
        "2.5"
    )


def test_search_table_matches_migration(mirror: Engine) -> None:
    columns = {c["name"] for c in inspect(mirror).get_columns("search_entries")}
    assert columns == set(SearchEntry.__table__.columns.keys())


def test_bulk_refresh_empties_sqlite_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledger import search as search_module

    database = tmp_path / "mirror.sqlite3"
    engine = open_database(f"sqlite:///{database}")
    log = Path(f"{database}-wal")
    monkeypatch.setattr(search_module, "BULK_REFRESH_ENTRIES", 3)

    def add_records(*bytes_: str) -> None:
        rows = [
            {"record_hash": "0x" + b * 32, "kind": "lot", "body": '{"material": "oak"}'}
            for b in bytes_
        ]
        with engine.begin() as connection:
            connection.execute(Record.__table__.insert(), rows)

    try:
        add_records("a1")
        assert refresh_search_entries(engine) == 1
        assert log.stat().st_size > 0
        add_records("b2", "c3", "d4")
        assert refresh_search_entries(engine) == 3
        assert log.stat().st_size == 0
    finally:
        engine.dispose()


# ------------------------------------------------------------ bad input


def test_repeated_words_planned_once(mirror: Engine) -> None:
    expected = run(mirror, q="door")
    repeated = run(mirror, q=" ".join(["door"] * 150))
    assert repeated.total == expected.total
    assert items(repeated) == items(expected)


def test_too_many_words_rejected(mirror: Engine) -> None:
    words = " ".join(f"w{number}" for number in range(MAX_QUERY_WORDS + 1))
    with pytest.raises(InvalidInput, match=f"{MAX_QUERY_WORDS + 1} different words"):
        run(mirror, q=words)


@pytest.mark.parametrize("name", ["q", "category", "material"])
def test_nul_character_rejected(mirror: Engine, name: str) -> None:
    with pytest.raises(InvalidInput, match=f"'{name}' contains a NUL"):
        run(mirror, **{name: "do\x00ors"})


@pytest.mark.parametrize("name", ["q", "category", "material"])
def test_long_text_rejected(mirror: Engine, name: str) -> None:
    with pytest.raises(InvalidInput, match=f"'{name}' has 60,004 characters"):
        run(mirror, **{name: "door" + "x" * 60_000})
