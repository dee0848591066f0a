"""Schema migrations: all or nothing when killed midway, and data kept across them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, insert, inspect, select

from ledger.db.engine import MIGRATIONS_DIR, make_engine, migrate, open_database
from ledger.db.models import RawEvent

# Runs the migrations of a new SQLite file and kills its own process with SIGKILL
# just before the fourth table is created.
KILL_DURING_MIGRATION = """
import os, signal, sys
from alembic.operations import Operations
create_table = Operations.create_table
created = []
def create_then_maybe_die(self, *args, **kwargs):
    created.append(args[0])
    if len(created) == 4:
        os.kill(os.getpid(), signal.SIGKILL)
    return create_table(self, *args, **kwargs)
Operations.create_table = create_then_maybe_die
from ledger.db.engine import open_database
open_database(sys.argv[1])
"""


def test_killed_first_migration_leaves_no_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mirror.sqlite3'}"
    killed = subprocess.run(
        [sys.executable, "-c", KILL_DURING_MIGRATION, url], check=False
    )
    assert killed.returncode == -9

    # Nothing of the killed migration was kept, and a new run completes it.
    assert inspect(create_engine(url)).get_table_names() == []
    engine = open_database(url)
    tables = set(inspect(engine).get_table_names())
    assert {"alembic_version", "sync_state", "lots", "listings", "claims"} <= tables


def _migrate_to(engine: Engine, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def _event_indexes(engine: Engine) -> set[str]:
    inspector = inspect(engine)
    return {
        index["name"]
        for table in ("raw_events", "transfers")
        for index in inspector.get_indexes(table)
    }


def test_event_indexes_dropped_keep_rows(database_url: str) -> None:
    engine = make_engine(database_url)
    _migrate_to(engine, "upgrade", "0007")
    row = {
        "block_number": 7,
        "block_hash": "0x" + "b7" * 32,
        "transaction_hash": "0x" + "c7" * 32,
        "log_index": 0,
        "event_name": "TransferSingle",
        "topics": "[]",
        "data": "0x",
    }
    with engine.begin() as connection:
        connection.execute(insert(RawEvent), [row])
    dropped = {
        "ix_raw_events_block_number",
        "ix_raw_events_event_name",
        "ix_raw_events_transaction_hash",
        "ix_transfers_from_address",
        "ix_transfers_to_address",
    }
    assert _event_indexes(engine) >= dropped

    migrate(engine)

    assert _event_indexes(engine).isdisjoint(dropped)
    with engine.connect() as connection:
        stored = connection.execute(select(RawEvent.transaction_hash)).scalars().all()
    assert stored == [row["transaction_hash"]]

    _migrate_to(engine, "downgrade", "0007")
    assert _event_indexes(engine) >= dropped
