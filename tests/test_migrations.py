"""Schema migrations are all or nothing, even when the process is killed midway."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, inspect

from ledger.db.engine import open_database

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
