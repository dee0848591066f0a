"""Engine set-up and schema migrations of the mirror."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Readers wait this long for the indexer's write lock instead of failing at once.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def make_engine(url: str, **options: Any) -> Engine:
    """Create an engine; a SQLite file gets WAL mode and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **options
        )
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    return create_engine(url, pool_pre_ping=True, **options)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision, all or nothing.

    PostgreSQL runs DDL inside the transaction. Python's sqlite3 module commits
    before each DDL statement on its own, so a kill in the middle of a first
    migration would leave tables without a recorded revision; on SQLite the
    migration therefore runs on a connection where the transaction is begun
    explicitly and covers the DDL too.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine.dialect.name == "sqlite":
        engine = _transactional_ddl_engine(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _transactional_ddl_engine(engine: Engine) -> Engine:
    """Return an engine on the same SQLite file whose transactions include DDL."""
    migrating = create_engine(
        engine.url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    )

    def connect(dbapi_connection: Any, _record: Any) -> None:
        _configure_sqlite(dbapi_connection, _record)
        # Leave transaction control to the BEGIN below instead of the driver.
        dbapi_connection.isolation_level = None

    def begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(migrating, "connect", connect)
    event.listen(migrating, "begin", begin)
    return migrating


def open_database(url: str) -> Engine:
    """Create an engine for ``url`` and migrate its schema to the newest revision."""
    engine = make_engine(url)
    migrate(engine)
    return engine


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
