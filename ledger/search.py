"""Search of reclaimed lots by text, inventory fields and distance.

A query is a :class:`SearchQuery`. Its filters read the columns of a candidate
subquery with one row per lot, so the source of each field can change without
changing the query or the API. :func:`inventory_candidates` builds it from the
mirror and the open listings, and each filter reads:

- ``text``: the lot record's item id, category, description, material and location,
  and the origin building's reference, name, type and city, all normalised by
  :func:`normalise_text`. Every word of the query must start a word there, so
  ``eik`` finds "eikenhouten" and "eik", but ``chene`` does not find "kitchenette".
- ``category``: the category registered on chain (``lots.category``).
- ``material`` and ``condition``: the lot record's ``material`` and
  ``condition_grade``. ``condition`` is a minimum grade: ``B`` matches A and B.
- ``min_quantity``: the quantity registered on chain, in the lot's own unit.
- ``max_price_eur``: the unit price of the lot's cheapest open listing, or else the
  record's estimated unit price.
- ``available_by``: that listing's available-from date, or else the record's
  ``available_from``; lots without either never match.
- ``near`` and ``within_km``: that listing's coordinates (the yard), or else the origin
  building's, prefiltered by a bounding box in SQL, then by the haversine distance.

Normalised text and the other record fields are kept in ``search_entries``, which is
filled from ``records`` before each search, so SQLite and PostgreSQL compare the same
stored strings and return the same results. The words of that text are indexed
(FTS5 on SQLite, GIN on PostgreSQL), and :class:`ledger.search_index.WordFilter`
reads the index for the inventory. A replacement candidate source is filtered with
``LIKE`` on its ``search_text`` column instead.
"""

from __future__ import annotations

import json
import logging
import math
import unicodedata
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Float,
    Select,
    case,
    cast,
    delete,
    exists,
    func,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from ledger.db.models import (
    Building,
    Listing,
    Lot,
    Record,
    SearchEntry,
    SearchPending,
)
from ledger.db.types import UINT256_MAX
from ledger.errors import InvalidInput
from ledger.queries import LotView, lots_by_id
from ledger.search_index import WordFilter
from ledger.settings import DEFAULT_SEARCH_COUNT_AHEAD, MAX_SEARCH_COUNT_AHEAD

logger = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# Keeps the row offset within the 64-bit integers that SQLite and PostgreSQL accept.
MAX_PAGE = 1_000_000
SORT_ORDERS = ("lot", "distance", "price", "date")
# Bounds on a query's text, well above what a person types. Each word becomes a column
# and a condition of the search statement, and SQLite rejects a LIKE pattern over
# 50,000 bytes.
MAX_TEXT_CHARS = 1_000
MAX_QUERY_WORDS = 32
CONDITION_GRADES = ("A", "B", "C")
BIGINT_MAX = 2**63 - 1
EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)
KM_PER_DEGREE_LATITUDE = math.pi * EARTH_RADIUS_KM / 180

# Letters that Unicode does not decompose into a base letter and a combining mark.
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ø": "o"})


def normalise_text(text: str) -> str:
    """Return ``text`` without accents, case-folded, with words split by one space.

    Characters that are neither letters nor digits separate words, so
    ``"Porte intérieure en chêne"`` becomes ``"porte interieure en chene"`` and
    ``"raised_floor_panel"`` becomes ``"raised floor panel"``.
    """
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    letters = "".join(char for char in decomposed if not unicodedata.combining(char))
    words = "".join(char if char.isalnum() else " " for char in letters.casefold())
    return " ".join(words.split())


@dataclass(frozen=True)
class GeoPoint:
    """A WGS 84 position in decimal degrees."""

    latitude: float
    longitude: float

    def __post_init__(self) -> None:
        if not -90 <= self.latitude <= 90:
            raise InvalidInput(
                f"Latitude {self.latitude!r} is outside -90..90; give decimal degrees "
                "such as 50.4652."
            )
        if not -180 <= self.longitude <= 180:
            raise InvalidInput(
                f"Longitude {self.longitude!r} is outside -180..180; give decimal "
                "degrees such as 4.8621."
            )


def haversine_km(a: GeoPoint, b: GeoPoint) -> float:
    """Return the great-circle distance between two points on a spherical Earth."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlon = math.radians(b.longitude - a.longitude)
    h = (
        math.sin(dlat / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class SearchQuery:
    """Filters, sort order and page of a lot search; every filter is optional.

    ``min_quantity`` is in the lot's own unit (pieces, m², m...), ``max_price_eur`` in
    euros per unit and ``within_km`` in kilometres from ``near``.
    """

    text: str = ""
    category: str | None = None
    material: str | None = None
    condition: str | None = None
    min_quantity: Decimal | None = None
    max_price_eur: Decimal | None = None
    available_by: date | None = None
    near: GeoPoint | None = None
    within_km: float | None = None
    sort: str = "lot"
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    def __post_init__(self) -> None:
        _check_texts(
            {"q": self.text, "category": self.category, "material": self.material}
        )
        if self.condition is not None and self.condition not in CONDITION_GRADES:
            raise InvalidInput(
                f"Condition {self.condition!r} is not a grade; use A, B or C."
            )
        if self.min_quantity is not None and (
            self.min_quantity < 0 or _decimal_places(self.min_quantity) > 3
        ):
            raise InvalidInput(
                f"Minimum quantity {self.min_quantity} must be a non-negative number "
                "with at most 3 decimals, such as 12.5."
            )
        if self.max_price_eur is not None and (
            self.max_price_eur < 0 or _decimal_places(self.max_price_eur) > 2
        ):
            raise InvalidInput(
                f"Maximum price {self.max_price_eur} must be a non-negative amount in "
                "euros with at most 2 decimals, such as 45.50."
            )
        if self.within_km is not None:
            if self.near is None:
                raise InvalidInput(
                    f"Distance {self.within_km} km needs a point; give lat and lon too."
                )
            if not (self.within_km > 0 and math.isfinite(self.within_km)):
                raise InvalidInput(
                    f"Distance {self.within_km!r} km must be a positive number."
                )
        if self.sort not in SORT_ORDERS:
            raise InvalidInput(
                f"Sort order {self.sort!r} is unknown; use one of "
                f"{', '.join(SORT_ORDERS)}."
            )
        if self.sort == "distance" and self.near is None:
            raise InvalidInput(
                "Sorting by distance needs a point; give lat and lon, or sort by lot, "
                "price or date."
            )
        if not 1 <= self.page <= MAX_PAGE:
            raise InvalidInput(f"Page {self.page} must be between 1 and {MAX_PAGE}.")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise InvalidInput(
                f"Page size {self.page_size} must be between 1 and {MAX_PAGE_SIZE}."
            )

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> SearchQuery:
        """Parse URL query parameters; empty values, as a web form sends, are unset.

        Parameters: ``q``, ``category``, ``material``, ``condition``,
        ``min_quantity``, ``max_price``, ``available_by`` (YYYY-MM-DD), ``lat``,
        ``lon``, ``within_km``, ``sort``, ``page``, ``page_size``.
        """
        values = {key: value.strip() for key, value in params.items() if value.strip()}
        latitude = _number(values, "lat", float)
        longitude = _number(values, "lon", float)
        if (latitude is None) != (longitude is None):
            raise InvalidInput(
                "A point needs both lat and lon in decimal degrees; one is missing."
            )
        near = None
        if latitude is not None and longitude is not None:
            near = GeoPoint(latitude, longitude)
        return cls(
            text=values.get("q", ""),
            category=_lower(values.get("category")),
            material=_lower(values.get("material")),
            condition=_upper(values.get("condition")),
            min_quantity=_number(values, "min_quantity", Decimal),
            max_price_eur=_number(values, "max_price", Decimal),
            available_by=_date(values, "available_by"),
            near=near,
            within_km=_number(values, "within_km", float),
            sort=values.get("sort", "lot"),
            page=_number(values, "page", int, default=1),
            page_size=_number(values, "page_size", int, default=DEFAULT_PAGE_SIZE),
        )


def _check_texts(texts: Mapping[str, str | None]) -> None:
    for name, text in texts.items():
        if text is None:
            continue
        if "\x00" in text:
            raise InvalidInput(
                f"Parameter {name!r} contains a NUL character; remove it."
            )
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidInput(
                f"Parameter {name!r} has {len(text):,} characters; give at most "
                f"{MAX_TEXT_CHARS:,}."
            )
    words = set(normalise_text(texts["q"] or "").split())
    if len(words) > MAX_QUERY_WORDS:
        raise InvalidInput(
            f"The search text has {len(words)} different words; give at most "
            f"{MAX_QUERY_WORDS}."
        )


def _decimal_places(value: Decimal) -> int:
    # normalize() drops trailing zeros, so 12.50 has 1 place and 1E+30 has none.
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _lower(value: str | None) -> str | None:
    return value.lower() if value is not None else None


def _upper(value: str | None) -> str | None:
    return value.upper() if value is not None else None


def _number(
    values: Mapping[str, str], name: str, kind: type[Any], default: Any = None
) -> Any:
    text = values.get(name)
    if text is None:
        return default
    try:
        number = kind(text)
    except (ValueError, InvalidOperation):
        number = None
    if number is None or (kind is not int and not math.isfinite(float(number))):
        example = {int: "2", float: "25.5", Decimal: "12.5"}[kind]
        raise InvalidInput(
            f"Parameter {name}={text!r} is not a number; give a value such as "
            f"{example}."
        )
    return number


def _date(values: Mapping[str, str], name: str) -> date | None:
    text = values.get(name)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"Parameter {name}={text!r} is not a date; use YYYY-MM-DD, such as "
            "2026-05-01."
        ) from None


@dataclass(frozen=True)
class SearchHit:
    """One lot found, with its distance from the query's point when one was given."""

    lot: LotView
    distance_km: float | None = None


@dataclass(frozen=True)
class SearchPage:
    """One page of results and the number of lots that match in all.

    ``total`` is exact when ``exact`` is true. Otherwise more than ``total`` lots
    match: the search counted the matches up to a number past the end of the page
    (``count_ahead`` of :func:`search`) and stopped.
    """

    query: SearchQuery
    total: int
    hits: list[SearchHit] = field(default_factory=list)
    exact: bool = True

    @property
    def page_count(self) -> int:
        """Number of pages of ``query.page_size`` lots, at least 1.

        When the count is not exact, at least one lot more than ``total`` matches,
        so the pages that ``total + 1`` lots fill are counted.
        """
        known = self.total if self.exact else self.total + 1
        return max(1, math.ceil(known / self.query.page_size))


# ------------------------------------------------------------------ entries


def refresh_search_entries(engine: Engine) -> int:
    """Add the search entries of the records queued in ``search_pending``.

    A trigger queues every lot and building record inserted into ``records``, so an
    empty queue means that every such record has its entry. Returns the number of
    entries added. Concurrent calls may race on a record; the losing insert is
    skipped, not raised.
    """
    with engine.begin() as connection:
        if connection.execute(_ANY_PENDING).first() is None:
            return 0
        pending = connection.execute(
            select(Record.record_hash, Record.kind, Record.body).join(
                SearchPending, SearchPending.record_hash == Record.record_hash
            )
        ).all()
        rows = []
        for record_hash, kind, body in pending:
            try:
                rows.append(_entry_row(record_hash, kind, json.loads(body)))
            except (ValueError, TypeError, AttributeError) as exc:
                # An empty entry, so the warning is logged once per record.
                logger.warning(
                    "Record %s is not a valid %s record and cannot be searched: %s",
                    record_hash,
                    kind,
                    exc,
                )
                rows.append(_entry_row(record_hash, kind, {}))
        if rows:
            connection.execute(_insert_ignoring_duplicates(engine), rows)
            connection.execute(
                delete(SearchPending).where(
                    exists().where(SearchEntry.record_hash == SearchPending.record_hash)
                )
            )
    if len(rows) >= BULK_REFRESH_ENTRIES and engine.dialect.name == "postgresql":
        # Until autovacuum analyses the table, up to a minute later, PostgreSQL
        # plans text searches over a bulk of new entries without statistics.
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE search_entries")
    elif len(rows) >= BULK_REFRESH_ENTRIES and engine.dialect.name == "sqlite":
        # Moves the bulk of new pages from the write-ahead log into the database
        # file and empties the log. Readers that found them in a 65 MB log served
        # 1,527 passports/s against 5,277 after this, on the API bench's mirror of
        # 100,000 lots.
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return len(rows)


# Entries added by one refresh after which PostgreSQL renews its statistics of them
# and SQLite empties its write-ahead log.
BULK_REFRESH_ENTRIES = 10_000


_ANY_PENDING = select(SearchPending.record_hash).limit(1)


def _insert_ignoring_duplicates(engine: Engine) -> Any:
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(SearchEntry).on_conflict_do_nothing(
        index_elements=["record_hash"]
    )


def _entry_row(record_hash: str, kind: str, record: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "record_hash": record_hash,
        "kind": kind,
        "material": None,
        "condition_grade": None,
        "price_cents": None,
        "available_from": None,
        "latitude": None,
        "longitude": None,
    }
    if kind == "lot":
        fields = (
            "item_id",
            "category",
            "description",
            "material",
            "location_in_building",
        )
        available = record.get("available_from")
        grade = record.get("condition_grade")
        price = record.get("estimated_unit_price_cents")
        row.update(
            material=_lower(record.get("material")),
            condition_grade=grade if grade in CONDITION_GRADES else None,
            price_cents=price if isinstance(price, int) else None,
            available_from=date.fromisoformat(available) if available else None,
        )
    else:
        fields = ("ref", "name", "type", "city")
        latitude, longitude = record.get("latitude"), record.get("longitude")
        if latitude is not None and longitude is not None:
            row.update(latitude=float(latitude), longitude=float(longitude))
    text = " ".join(str(record[name]) for name in fields if record.get(name))
    row["search_text"] = normalise_text(text)
    return row


def filter_choices(engine: Engine) -> dict[str, list[str]]:
    """Return the categories and materials present in the mirror, sorted."""
    refresh_search_entries(engine)
    with engine.connect() as connection:
        categories = connection.execute(
            select(Lot.category).distinct().order_by(Lot.category)
        ).scalars()
        materials = connection.execute(
            select(SearchEntry.material)
            .where(SearchEntry.kind == "lot", SearchEntry.material.is_not(None))
            .distinct()
            .order_by(SearchEntry.material)
        ).scalars()
        return {"categories": list(categories), "materials": list(materials)}


# --------------------------------------------------------------- candidates


def inventory_candidates(columns: Collection[str] | None = None) -> Any:
    """Return one row per lot with the searchable fields, listings first.

    Columns: ``lot_id``, ``building_id``, ``category``, ``search_text`` (words
    with a leading space each), ``lot_search_text`` (the lot record's words alone,
    NULL without an entry), ``material``, ``condition_grade``, ``quantity``
    (thousandths of the lot's unit), ``price_cents``, ``available_from``,
    ``latitude``, ``longitude``. Price, date and place come from
    the lot's cheapest open listing when it has one (the seller's price, the yard's
    coordinates), otherwise from the inventory record and the origin building.
    Another source can replace this subquery with one that has the same columns,
    except ``building_id`` and ``lot_search_text``, which only the indexed text
    filter of :func:`search` reads: the text filter then reads ``search_text`` with
    LIKE.

    ``columns`` keeps ``lot_id`` and only the named columns, and only the joins and
    listing subqueries that they read, so that a count filtered on lot columns reads
    an index of ``lots`` alone. Every join matches at most one row, so leaving one
    out changes no row. None keeps every column.
    """
    lot_entry = aliased(SearchEntry)
    building_entry = aliased(SearchEntry)
    # Built only for the selected columns: the listing subqueries take a few
    # milliseconds of Python per search to build.
    fields: dict[str, Callable[[], Any]] = {
        "lot_id": lambda: Lot.lot_id,
        "building_id": lambda: Lot.building_id,
        "category": lambda: Lot.category,
        "search_text": lambda: (
            literal(" ")
            + func.coalesce(lot_entry.search_text, "")
            + literal(" ")
            + func.coalesce(building_entry.search_text, "")
        ),
        "lot_search_text": lambda: lot_entry.search_text,
        "material": lambda: lot_entry.material,
        "condition_grade": lambda: lot_entry.condition_grade,
        "quantity": lambda: Lot.quantity,
        "price_cents": lambda: func.coalesce(
            _open_listing(Listing.price_cents), lot_entry.price_cents
        ),
        "available_from": lambda: func.coalesce(
            _open_listing(Listing.available_from), lot_entry.available_from
        ),
        "latitude": lambda: func.coalesce(
            cast(_open_listing(Listing.latitude), Float), building_entry.latitude
        ),
        "longitude": lambda: func.coalesce(
            cast(_open_listing(Listing.longitude), Float), building_entry.longitude
        ),
    }
    names = list(fields) if columns is None else ["lot_id", *columns]
    unknown = sorted(set(names) - set(fields))
    if unknown:
        raise ValueError(
            f"Candidate columns {unknown} are unknown. Choose from {list(fields)}."
        )
    selected = {name: fields[name]() for name in fields if name in names}
    statement = select(
        *(column.label(name) for name, column in selected.items())
    ).select_from(Lot)
    needs_building_entry = not selected.keys().isdisjoint(_BUILDING_ENTRY_COLUMNS)
    if needs_building_entry:
        statement = statement.outerjoin(
            Building, Building.building_id == Lot.building_id
        )
    if not selected.keys().isdisjoint(_LOT_ENTRY_COLUMNS):
        statement = statement.outerjoin(
            lot_entry, lot_entry.record_hash == Lot.record_hash
        )
    if needs_building_entry:
        statement = statement.outerjoin(
            building_entry, building_entry.record_hash == Building.record_hash
        )
    return statement.subquery("candidates")


# The candidate columns that read the lot's search entry, and those that read the
# origin building's.
_LOT_ENTRY_COLUMNS = frozenset(
    (
        "search_text",
        "lot_search_text",
        "material",
        "condition_grade",
        "price_cents",
        "available_from",
    )
)
_BUILDING_ENTRY_COLUMNS = frozenset(("search_text", "latitude", "longitude"))


def _open_listing(column: Any) -> Any:
    """Return ``column`` of the lot's cheapest listing that is not withdrawn."""
    return (
        select(column)
        .where(Listing.lot_id == Lot.lot_id, Listing.withdrawn_at.is_(None))
        .order_by(Listing.price_cents, Listing.id)
        .limit(1)
        .correlate(Lot)
        .scalar_subquery()
    )


# ------------------------------------------------------------------- search


def search(
    engine: Engine,
    query: SearchQuery,
    candidate_source: Callable[[], Any] | None = None,
    count_ahead: int = DEFAULT_SEARCH_COUNT_AHEAD,
) -> SearchPage:
    """Return the page of lots matching ``query`` and the total number of matches.

    ``candidate_source`` returns the subquery that the filters read; see
    :func:`inventory_candidates` for its columns. None reads the mirror's inventory
    with only the columns that each statement reads. The matches are counted up to
    ``count_ahead`` past the end of the page; when more match, the page's total is
    a lower bound (``SearchPage.exact`` is false). Raises ValueError when
    ``count_ahead`` is outside 0 to MAX_SEARCH_COUNT_AHEAD.
    """
    if not 0 <= count_ahead <= MAX_SEARCH_COUNT_AHEAD:
        raise ValueError(
            f"Search count_ahead {count_ahead} is outside 0 to "
            f"{MAX_SEARCH_COUNT_AHEAD}; give a number of matches in that range."
        )
    refresh_search_entries(engine)
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # The planner's cost of a text search within a category passes
            # jit_above_cost. JIT compilation then took 5.4 ms of the 36 ms that
            # EXPLAIN ANALYZE showed with PostgreSQL 15 on the benchmark's 100,000
            # lots. A parallel plan of that count took 54 ms there on two busy
            # cores, and a serial one 17 ms on a vacuumed copy. Parallel workers
            # of one request compete for the cores with the other requests.
            connection.exec_driver_sql(
                "SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0"
            )
        if candidate_source is None:
            # A repeated word adds nothing to the match, so each is planned once.
            words = WordFilter.plan(
                connection, list(dict.fromkeys(normalise_text(query.text).split()))
            )
            filtered = _filter_columns(query) | words.columns()
            candidates = inventory_candidates(filtered | _sort_columns(query))
            conditions = _conditions(candidates, query, indexed=True)
            conditions += words.conditions(candidates)
        else:
            candidates = candidate_source()
            conditions = _conditions(candidates, query, indexed=False)
        statement = select(candidates.c.lot_id).where(*conditions)

        if query.near is None:
            ids, total, exact = _search_sorted(
                connection, candidates, statement, query, count_ahead
            )
            distances: dict[int, float | None] = {}
        else:
            ids, total, distances = _search_near(
                connection, candidates, statement, query
            )
            exact = True

    views = lots_by_id(engine, ids)
    hits = [SearchHit(views[lot_id], distances.get(lot_id)) for lot_id in ids]
    return SearchPage(query, int(total), hits, exact)


def _filter_columns(query: SearchQuery) -> set[str]:
    """Return the candidate columns that the conditions of ``query`` read."""
    columns: set[str] = set()
    if query.category:
        columns.add("category")
    if query.material:
        columns.add("material")
    if query.condition:
        columns.add("condition_grade")
    if query.min_quantity is not None:
        columns.add("quantity")
    if query.max_price_eur is not None:
        columns.add("price_cents")
    if query.available_by is not None:
        columns.add("available_from")
    if query.near is not None and query.within_km is not None:
        columns.update(("latitude", "longitude"))
    return columns


def _sort_columns(query: SearchQuery) -> set[str]:
    """Return the candidate columns that the sort of ``query`` reads."""
    if query.near is not None:
        # _search_near computes distances and sorts in Python.
        return {"latitude", "longitude", "price_cents", "available_from"}
    if query.sort == "price":
        return {"price_cents"}
    if query.sort == "date":
        return {"available_from"}
    return set()


def _conditions(candidates: Any, query: SearchQuery, indexed: bool) -> list[Any]:
    """Return the conditions of ``query``; the text's only when not ``indexed``."""
    c = candidates.c
    conditions: list[Any] = []
    for word in [] if indexed else normalise_text(query.text).split():
        # search_text starts with a space, so this matches the start of any word.
        pattern = f"% {_escape_like(word)}%"
        conditions.append(c.search_text.like(pattern, escape="\\"))
    if query.category:
        conditions.append(c.category == query.category)
    if query.material:
        conditions.append(c.material == query.material)
    if query.condition:
        accepted = CONDITION_GRADES[: CONDITION_GRADES.index(query.condition) + 1]
        conditions.append(c.condition_grade.in_(accepted))
    # Bounds beyond the column types are clamped: no stored value lies beyond them.
    if query.min_quantity is not None:
        minimum = min(int(query.min_quantity * 1000), UINT256_MAX)
        conditions.append(c.quantity >= minimum)
    if query.max_price_eur is not None:
        maximum = min(int(query.max_price_eur * 100), BIGINT_MAX)
        conditions.append(c.price_cents <= maximum)
    if query.available_by is not None:
        conditions.append(c.available_from <= query.available_by)
    if query.near is not None and query.within_km is not None:
        conditions.extend(_bounding_box(c, query.near, query.within_km))
    return conditions


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _bounding_box(c: Any, point: GeoPoint, km: float) -> list[Any]:
    """Return conditions that keep every point within ``km`` of ``point``, and more."""
    dlat = km / KM_PER_DEGREE_LATITUDE
    conditions = [c.latitude.between(point.latitude - dlat, point.latitude + dlat)]
    # Longitude degrees shrink with the cosine of the latitude. Near a pole, or when
    # the box would cross the antimeridian, only the latitude band is used.
    cosine = math.cos(math.radians(min(90.0, abs(point.latitude) + dlat)))
    if cosine > 1e-6:
        dlon = km / (KM_PER_DEGREE_LATITUDE * cosine)
        west, east = point.longitude - dlon, point.longitude + dlon
        if west >= -180 and east <= 180:
            conditions.append(c.longitude.between(west, east))
    return conditions


# Sort orders that read a candidate column besides lot_id, and the column.
_SORT_COLUMNS = {"price": "price_cents", "date": "available_from"}


def _search_sorted(
    connection: Connection,
    candidates: Any,
    statement: Select[Any],
    query: SearchQuery,
    count_ahead: int,
) -> tuple[list[int], int, bool]:
    """Return the page's lot ids, the number of matches and whether it is exact.

    The matches are read unsorted, up to ``count_ahead`` past the end of the page.
    When they all fit, they are sorted here and the count is exact. Otherwise the
    database sorts and reads the page, and the count is a lower bound. With that
    many matches, many lie among the first lots in the sort order, so the database
    reads few lots before the page is full.
    """
    start = (query.page - 1) * query.page_size
    limit = start + query.page_size + count_ahead
    if start > count_ahead:
        # Far into the results, such as page 1,000,000 of an edited URL, more lots
        # lie before the page than after it, so the database counts them rather
        # than sending each to Python. At 100,000 lots on PostgreSQL 15, that page
        # took a median of 29 ms this way and 302 ms through Python (one-off).
        counted = select(func.count()).select_from(
            statement.limit(limit + 1).subquery()
        )
        found = connection.execute(counted).scalar_one()
        return (
            _database_page(connection, candidates, statement, query),
            min(found, limit),
            found <= limit,
        )
    column = _SORT_COLUMNS.get(query.sort)
    keys = [candidates.c[column]] if column else []
    rows = connection.execute(statement.add_columns(*keys).limit(limit + 1)).all()

    if len(rows) <= limit:
        if column:
            rows.sort(key=lambda row: _nulls_last_key(row[1], row[0]))
        else:
            rows.sort(key=lambda row: row[0])
        page = [row[0] for row in rows[start : start + query.page_size]]
        return page, len(rows), True
    # NOTE: the page is read by a second statement. Under READ COMMITTED, a mirror
    # that changes between the two can make the page and the count disagree.
    return _database_page(connection, candidates, statement, query), limit, False


def _database_page(
    connection: Connection, candidates: Any, statement: Select[Any], query: SearchQuery
) -> list[int]:
    """Return the lot ids of the page of ``query``, sorted by the database."""
    ordered = statement.order_by(*_order(candidates, query.sort))
    offset = (query.page - 1) * query.page_size
    return list(
        connection.execute(ordered.limit(query.page_size).offset(offset)).scalars()
    )


def _nulls_last_key(value: Any, lot_id: int) -> tuple[bool, Any, int]:
    """Sort key of a match in the order of :func:`_order`: missing values last."""
    return (value is None, 0 if value is None else value, lot_id)


def _order(candidates: Any, sort: str) -> list[Any]:
    c = candidates.c
    if sort == "price":
        return [_nulls_last(c.price_cents), c.price_cents, c.lot_id]
    if sort == "date":
        return [_nulls_last(c.available_from), c.available_from, c.lot_id]
    return [c.lot_id]


def _nulls_last(column: Any) -> Any:
    # The same on SQLite and PostgreSQL, which order NULLs differently by default.
    return case((column.is_(None), 1), else_=0)


def _search_near(
    connection: Connection,
    candidates: Any,
    statement: Select[Any],
    query: SearchQuery,
) -> tuple[list[int], int, dict[int, float | None]]:
    """Filter by exact distance and sort in Python, after the SQL prefilter."""
    assert query.near is not None
    c = candidates.c
    rows = connection.execute(
        statement.add_columns(
            c.latitude, c.longitude, c.price_cents, c.available_from
        ).order_by(c.lot_id)
    ).all()

    matches = []
    for lot_id, latitude, longitude, price, available in rows:
        distance = None
        if latitude is not None and longitude is not None:
            distance = haversine_km(query.near, GeoPoint(latitude, longitude))
        if query.within_km is not None and (
            distance is None or distance > query.within_km
        ):
            continue
        matches.append((lot_id, distance, price, available))

    if query.sort == "distance":
        matches.sort(key=lambda m: _nulls_last_key(m[1], m[0]))
    elif query.sort == "price":
        matches.sort(key=lambda m: _nulls_last_key(m[2], m[0]))
    elif query.sort == "date":
        matches.sort(key=lambda m: _nulls_last_key(m[3], m[0]))

    start = (query.page - 1) * query.page_size
    page = matches[start : start + query.page_size]
    return (
        [lot_id for lot_id, *_ in page],
        len(matches),
        {lot_id: distance for lot_id, distance, *_ in page},
    )
