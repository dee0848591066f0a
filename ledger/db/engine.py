"""Engine set-up and schema migrations of the mirror."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DisconnectionError,
    NoSuchModuleError,
    OperationalError,
)

from ledger.errors import ConfigurationError
from ledger.indexer.indexes import build_missing_indexes

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Readers wait this long for the indexer's write lock instead of failing at once.
SQLITE_BUSY_TIMEOUT_MS = 30_000

# A pooled server connection idle for longer is tested before use, so that one
# dropped by a server restart is replaced instead of failing a request.
IDLE_SECONDS_BEFORE_PING = 5.0

# Server connections that the pool keeps open, and how many more it may open.
# A web worker runs up to 40 requests at once in anyio's default thread pool. With
# SQLAlchemy's default of 5 kept connections, each burst of requests opened new
# PostgreSQL connections, each a new server process, and closed them afterwards.
# NOTE: 40 connections per worker exceed PostgreSQL's default limit of 100 from
# three workers on.
SERVER_POOL_SIZE = 20
SERVER_POOL_OVERFLOW = 20


def make_engine(url: str, **options: Any) -> Engine:
    """Create an engine; a SQLite file gets WAL mode and a busy timeout."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError(
            f"RECLAIM_DATABASE_URL {url!r} is not a database URL; use for example "
            "sqlite:///var/ledger.sqlite3 or "
            "postgresql+psycopg://postgres@127.0.0.1:5432/reclaim."
        ) from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **options
        )
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    try:
        # The pool hands out the most recently returned connection first, so that
        # steady traffic after a burst reuses fresh ones and rarely pings (see
        # _ping_when_idle) a connection idle for IDLE_SECONDS_BEFORE_PING.
        engine = create_engine(
            url,
            **{
                "pool_size": SERVER_POOL_SIZE,
                "max_overflow": SERVER_POOL_OVERFLOW,
                "pool_use_lifo": True,
                **options,
            },
        )
    except (ModuleNotFoundError, NoSuchModuleError) as exc:
        raise ConfigurationError(
            f"RECLAIM_DATABASE_URL {parsed.render_as_string(hide_password=True)!r} "
            f"needs a database driver that is not installed ({exc}); use sqlite:/// "
            "or postgresql+psycopg://."
        ) from None
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", _ping_when_idle(engine))
    return engine


def is_memory_database(url: URL) -> bool:
    """True for an in-memory SQLite database, which only its own process can open."""
    if url.get_backend_name() != "sqlite":
        return False
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision, all or nothing.

    PostgreSQL runs DDL inside the transaction. Python's sqlite3 module commits
    before each DDL statement on its own, so a kill in the middle of a first
    migration would leave tables without a recorded revision. On SQLite the
    migration therefore runs on a connection where the transaction is begun
    explicitly and covers the DDL too. Missing secondary indexes of the event
    tables, which an interrupted bulk backfill leaves, are built after it.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine.dialect.name == "sqlite":
        engine = _transactional_ddl_engine(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        # An interrupted bulk backfill may have dropped them.
        build_missing_indexes(connection)


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
    try:
        migrate(engine)
    except (OperationalError, NoSuchModuleError) as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise ConfigurationError(
            f"Cannot open the database {shown}: {reason}. Check RECLAIM_DATABASE_URL "
            "and that the server runs and the database exists."
        ) from None
    return engine


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in_at"] = time.monotonic()


def _ping_when_idle(engine: Engine) -> Callable[[Any, Any, Any], None]:
    """Return a checkout listener that tests connections which sat idle in the pool.

    SQLAlchemy's ``pool_pre_ping`` tests on every checkout, one more round trip per
    request. Under load connections return within milliseconds, so only those idle
    for a while are tested. A connection dropped while in use still fails its
    statement once, and SQLAlchemy then replaces every connection of the pool.
    """

    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in_at = record.info.get("checked_in_at")
        if checked_in_at is None:
            return
        if time.monotonic() - checked_in_at < IDLE_SECONDS_BEFORE_PING:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            alive = False
            logger.warning("A pooled database connection failed its test: %s", exc)
        if not alive:
            # The pool discards this connection and checks out another.
            raise DisconnectionError("The pooled connection is closed.")

    return ping_if_idle
