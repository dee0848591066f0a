"""Word-prefix lookups in the search entries' word index, on SQLite and PostgreSQL.

Migration 0007 builds the index: an FTS5 table on SQLite, a GIN index of a
``tsvector`` on PostgreSQL. Both hold each entry's words as
:func:`ledger.search.normalise_text` wrote them, so a query word that is itself
normalised (letters and digits only) finds exactly the entries with a word that
starts with it, as ``LIKE '% word%'`` over ``' ' || search_text`` would. Such a
word holds only letters and digits, and each lookup passes it as one quoted FTS5
phrase or one quoted tsquery lexeme, so no query syntax reaches either index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    String,
    bindparam,
    case,
    cast,
    column,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    union,
)
from sqlalchemy.dialects.postgresql import TSQUERY

from ledger.db.models import Building, Lot, SearchEntry

# PostgreSQL keeps this many leading characters of each word (see migration 0007).
POSTGRESQL_WORD_CHARS = 255
# The indexed expression of migration 0007, with constants rather than parameters:
# the planner uses an expression index only for the same expression.
POSTGRESQL_WORDS = literal_column(
    "array_to_tsvector(string_to_array("
    r"regexp_replace(search_entries.search_text, '(\S{255})\S+', '\1', 'g'), ' '))"
)

_FTS = table(
    "search_index",
    column("rowid"),
    column("record_hash", String),
    column("search_index"),
)


def word_matches(dialect: str, word: str) -> Select[Any]:
    """Select the record hashes of the entries with a word that starts with ``word``.

    ``word`` must be one word of normalised text, such as ``"chene"`` or ``"0012"``,
    so it contains no character that FTS5 or tsquery reads as syntax.
    """
    _check_word(word)
    if dialect == "sqlite":
        phrase = _phrase(word, prefix=True)
        return select(_FTS.c.record_hash).where(
            _FTS.c.search_index.match(bindparam("phrase", phrase, unique=True))
        )

    indexed = word[:POSTGRESQL_WORD_CHARS]
    lexeme = f"'{indexed}':*"
    statement = select(SearchEntry.record_hash).where(
        POSTGRESQL_WORDS.op("@@")(cast(literal(lexeme, String), TSQUERY))
    )
    if indexed != word:
        # The index holds only the words' leading characters, so it finds a
        # superset; LIKE keeps the entries whose word starts with all of ``word``.
        statement = statement.where(word_like(SearchEntry.search_text, word))
    return statement


def _check_word(word: str) -> None:
    if not word.isalnum():
        raise ValueError(
            f"Search word {word!r} must be one word of letters and digits; split the "
            "query with ledger.search.normalise_text first."
        )


def word_like(text: Any, word: str, spaced: bool = False) -> Any:
    """Return a condition that is true when a word of ``text`` starts with ``word``.

    ``spaced`` is true when ``text`` starts with a space, as the candidates'
    ``search_text`` does: the condition is then ``text LIKE '% word%'``. Otherwise
    it is ``text LIKE 'word%' OR text LIKE '% word%'``, on the column itself
    rather than on ``' ' || text``. PostgreSQL then estimates how many rows match
    from the column's statistics. The benchmark's mirror has "pallets" in all of
    its 100,000 entries: PostgreSQL estimated 99,990 for the column and 10 for
    the joined text, and planned the search's joins for 10 rows.
    """
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    within = text.like(f"% {escaped}%", escape="\\")
    if spaced:
        return within
    return or_(text.like(f"{escaped}%", escape="\\"), within)


def estimate_matches(connection: Connection, words: list[str], limit: int) -> list[int]:
    """Return, for each word, a bound on the entries that it matches, up to ``limit``.

    A value below ``limit`` is at least the number of entries with a word that
    starts with that word; ``limit`` means that many or more. One statement
    estimates every word.

    FTS5 evaluates a prefix query by first merging the lists of every word with
    that prefix. So a prefix of a frequent word, such as "pallets", costs as much
    as the word's whole list. For a word in all 100,000 entries of the benchmark
    mirror that took 9 ms, timed once with SQLite 3.40 (an estimate). Prefixes of
    up to SQLITE_PREFIX_CHARS characters have their own lists, and an exact word is
    read only as far as the count needs. So on SQLite a longer word is counted by its
    first characters, then as an exact word, and only when both leave the answer
    open, by its full prefix.
    """
    for word in words:
        _check_word(word)
    if not words:
        return []
    if connection.dialect.name == "sqlite":
        counts = [_sqlite_estimate(word, limit) for word in words]
    else:
        counts = [
            select(func.count())
            .select_from(word_matches("postgresql", word).limit(limit).subquery())
            .scalar_subquery()
            for word in words
        ]
    return [int(count) for count in connection.execute(select(*counts)).one()]


# The prefix lengths that migration 0007 gives their own FTS5 lists.
SQLITE_PREFIX_CHARS = 3


def _sqlite_estimate(word: str, limit: int) -> Any:
    full = _fts_count(_phrase(word, prefix=True), limit)
    if len(word) <= SQLITE_PREFIX_CHARS:
        return full
    leading = _fts_count(_phrase(word[:SQLITE_PREFIX_CHARS], prefix=True), limit)
    exact = _fts_count(_phrase(word, prefix=False), limit)
    return case((leading < limit, leading), (exact >= limit, limit), else_=full)


def _fts_count(phrase: str, limit: int) -> Any:
    matches = (
        select(_FTS.c.rowid)
        .where(_FTS.c.search_index.match(bindparam("phrase", phrase, unique=True)))
        .limit(limit)
        .subquery()
    )
    return select(func.count()).select_from(matches).scalar_subquery()


def _phrase(word: str, prefix: bool) -> str:
    """Quote ``word``, letters and digits only, as one FTS5 phrase."""
    return f'"{word}"*' if prefix else f'"{word}"'


# A query word found in at most this many search entries selects the lots from the
# word index. More frequent words are checked lot by lot (see WordFilter).
# NOTE: not tuned by measurement. It keeps the selected lots well below the 14,000
# lots of one category in the 100,000-lot benchmark, which the check reads instead.
DRIVING_WORD_MATCHES = 2_000

# Words whose estimate reached the limit (DRIVING_WORD_MATCHES + 1), by database URL
# and limit. Entries are added and never deleted, so such a word stays frequent and
# is not estimated again: on PostgreSQL 15 the estimate of a word found in all
# 100,000 entries of the benchmark mirror took about 5 ms. Were an entry deleted, a
# remembered word would at worst be checked lot by lot where the index would select
# fewer lots, with the same results.
_FREQUENT_WORDS: dict[tuple[str, int], set[str]] = {}
MAX_FREQUENT_WORDS = 10_000


@dataclass(frozen=True)
class WordFilter:
    """The words of a text search, and the one among them that selects the lots.

    A lot matches a word when its own entry or its building's entry has a word that
    starts with it. Of the query words, the one found in the fewest entries selects
    the lots through the word index, when it is found in at most
    DRIVING_WORD_MATCHES. A word such as "pallets" that nearly every entry contains
    would select nearly every lot, so then no word does: the other filters, such as
    the category's index, select the lots, and each word is checked on each of them.
    """

    words: list[str]
    # Position of the word that selects the lots, or None.
    driver: int | None
    # Record hashes of the entries that match the driving word.
    driver_entries: list[str]
    # Ids of the buildings whose entry matches each word, by word.
    buildings: dict[str, list[str]]

    @classmethod
    def plan(cls, connection: Connection, words: list[str]) -> WordFilter:
        """Estimate how often each word occurs and read the driving word's entries."""
        limit = DRIVING_WORD_MATCHES + 1
        frequent = _FREQUENT_WORDS.setdefault(
            (str(connection.engine.url), limit), set()
        )
        unknown = [word for word in words if word not in frequent]
        counted = estimate_matches(connection, unknown, limit)
        estimates = dict(zip(unknown, counted, strict=True))
        counts = [estimates.get(word, limit) for word in words]
        if len(frequent) > MAX_FREQUENT_WORDS:
            frequent.clear()
        frequent.update(word for word, count in estimates.items() if count == limit)
        buildings = _matching_buildings(connection, words)
        if not counts or min(counts) > DRIVING_WORD_MATCHES:
            return cls(words, None, [], buildings)
        driver = counts.index(min(counts))
        statement = word_matches(connection.dialect.name, words[driver])
        entries = list(connection.execute(statement).scalars())
        return cls(words, driver, entries, buildings)

    def columns(self) -> set[str]:
        """Return the columns of inventory candidates that the conditions read."""
        if not self.words:
            return set()
        if self.driver is None:
            return {"lot_search_text", "building_id"}
        # The other words are checked on the text of the few lots the driver finds.
        return {"search_text"} if len(self.words) > 1 else set()

    def conditions(self, candidates: Any) -> list[Any]:
        """Return one condition per word on ``candidates``, inventory candidates.

        The driving word's entries go into the statement as a list of values, which
        gives the database's planner their exact number. So it looks the few lots up
        by index instead of hashing a scan of every lot.
        """
        c = candidates.c
        conditions = []
        for position, word in enumerate(self.words):
            buildings = _building_ids(position, word, self.buildings[word])
            if position == self.driver:
                lots = union(
                    select(Lot.lot_id).where(Lot.record_hash.in_(self.driver_entries)),
                    select(Lot.lot_id).where(Lot.building_id.in_(buildings)),
                )
                conditions.append(c.lot_id.in_(lots))
            elif self.driver is not None:
                # search_text starts with a space, as word_like expects it.
                conditions.append(word_like(c.search_text, word, spaced=True))
            else:
                # The lot's own text comes from a LEFT JOIN in the candidates. An
                # EXISTS subquery, which PostgreSQL may turn into a join driven by
                # the entries, read every entry and looked each lot up: 172 ms
                # against 17 ms for this form in psql, counting one category's
                # 14,285 of 100,000 lots.
                own_entry = word_like(c.lot_search_text, word)
                conditions.append(or_(own_entry, c.building_id.in_(buildings)))
        return conditions


# A word that matches the entries of more buildings than this gets them as a
# subquery, not as a list in the statement's text. A one-letter word can match most
# buildings: in a one-off at 20,000 buildings on PostgreSQL 15, 26 such words made
# each statement 10 MB long and the search 7 times slower.
# NOTE: not tuned by measurement.
MAX_LISTED_BUILDINGS = 1_000


def _building_ids(position: int, word: str, buildings: list[str]) -> Any:
    """Return the buildings that ``word`` matches as the right side of an IN."""
    if len(buildings) > MAX_LISTED_BUILDINGS:
        return _building_entries(Building.building_id).where(
            word_like(SearchEntry.search_text, word)
        )
    # Rendered in the statement text rather than bound, so SQLite's limit on bound
    # variables does not apply.
    return bindparam(
        f"buildings_{position}", buildings, expanding=True, literal_execute=True
    )


def _matching_buildings(
    connection: Connection, words: list[str]
) -> dict[str, list[str]]:
    """Return, for each word, the buildings whose entry has a word that starts with it.

    Buildings are few next to lots, so LIKE over their entries costs less than a
    lookup in the word index, whose matches are mostly lots. One statement reads
    them for every word, once per search rather than once per search statement.
    """
    if not words:
        return {}
    matches = [word_like(SearchEntry.search_text, word) for word in words]
    rows = connection.execute(
        _building_entries(Building.building_id, *matches).where(or_(*matches))
    ).all()
    return {
        word: [row[0] for row in rows if row[position + 1]]
        for position, word in enumerate(words)
    }


def _building_entries(*columns: Any) -> Select[Any]:
    """Select ``columns`` of the buildings joined with their search entries."""
    return select(*columns).join(
        SearchEntry, SearchEntry.record_hash == Building.record_hash
    )
