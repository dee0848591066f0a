"""Secondary indexes of the event tables, built after a bulk backfill.

The event tables are append-only, and their non-unique indexes serve the queries of
the API and the reports, not the indexer. Each stored event updates every such index
of its table. When the keys arrive in no particular order (transfers by lot, for
example), each update lands on another page of an index larger than the database's
cache. With the by-lot index of ``transfers``, SQLite took more than twice as long to
store a transfer (docs/benchmarks.md has the figures). Building an index once from the
finished table sorts its keys in one pass instead.

So a bulk backfill on SQLite, one that is expected to add many events and more than
the mirror already contains, drops these indexes first and builds them again when it
reaches the head. The unique constraints stay, because the indexer relies on them. A
backfill interrupted in between leaves the indexes missing until the next indexer run
or the next opening of the database builds them.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, Index, Table, func, inspect, select

from ledger.db.models import RawEvent
from ledger.indexer.store import BATCH_ROW_EVENTS, ROW_EVENTS

# The smallest number of events a backfill must be expected to add before the
# indexes are dropped. An estimate: below it, building them again may cost more
# than it saves.
BULK_BACKFILL_EVENTS = 50_000


# NOTE: a migration that drops or replaces one of these indexes meets a database where
# an interrupted backfill already dropped it, so it should drop with IF EXISTS.
def deferrable_indexes() -> list[Index]:
    """Return the non-unique indexes of the tables built from events."""
    models = dict.fromkeys(
        model for model, _ in [*ROW_EVENTS.values(), *BATCH_ROW_EVENTS.values()]
    )
    tables: list[Table] = [model.__table__ for model in models]
    return [
        index
        for table in tables
        for index in sorted(table.indexes, key=lambda index: str(index.name))
        if not index.unique
    ]


def stored_events(connection: Connection) -> int:
    """Return the number of events stored in the mirror."""
    return int(connection.execute(select(func.count(RawEvent.id))).scalar_one())


def present_indexes(connection: Connection) -> list[Index]:
    """Return the deferrable indexes that exist in the database."""
    inspector = inspect(connection)
    names: set[str] = set()
    indexes = deferrable_indexes()
    for table in dict.fromkeys(index.table for index in indexes):
        assert table is not None
        names.update(str(found["name"]) for found in inspector.get_indexes(table.name))
    return [index for index in indexes if index.name in names]


def missing_indexes(connection: Connection) -> list[Index]:
    """Return the deferrable indexes that the database lacks."""
    present = {index.name for index in present_indexes(connection)}
    return [index for index in deferrable_indexes() if index.name not in present]


def drop_indexes(engine: Engine) -> None:
    """Drop the deferrable indexes that exist."""
    with engine.begin() as connection:
        for index in present_indexes(connection):
            index.drop(connection)


def build_missing_indexes(connection: Connection) -> list[Index]:
    """Create the deferrable indexes that the database lacks, and return them."""
    missing = missing_indexes(connection)
    for index in missing:
        index.create(connection)
    return missing
