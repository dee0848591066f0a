"""Pooled PostgreSQL connections: kept for concurrent requests, tested after idling."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from conftest import POSTGRES_ADMIN_URL
from sqlalchemy import event, text

from ledger.db import engine as engine_module
from ledger.db.engine import make_engine

# Pooled server connections exist on PostgreSQL only.
pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def _backend_pid(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return int(connection.scalar(text("SELECT pg_backend_pid()")))


def _count_pings(engine, monkeypatch):  # type: ignore[no-untyped-def]
    pings: list[int] = []
    original = engine.dialect.do_ping

    def counted(dbapi_connection):  # type: ignore[no-untyped-def]
        pings.append(1)
        return original(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


def test_busy_connection_skips_ping(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    pings = _count_pings(engine, monkeypatch)
    first = _backend_pid(engine)
    second = _backend_pid(engine)
    assert second == first
    assert pings == []
    engine.dispose()


def test_idle_dropped_connection_replaced(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    pings = _count_pings(engine, monkeypatch)
    dropped = _backend_pid(engine)
    # As a server restart would, end the pooled connection's server process.
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (dropped,))
    monkeypatch.setattr(engine_module, "IDLE_SECONDS_BEFORE_PING", 0.0)

    replacement = _backend_pid(engine)
    assert replacement != dropped
    assert len(pings) == 1
    engine.dispose()


def test_request_bursts_reuse_connections(database_url: str) -> None:
    engine = make_engine(database_url)
    opened: list[int] = []
    event.listen(engine, "connect", lambda *_: opened.append(1))
    clients = 16
    together = threading.Barrier(clients)

    def client() -> None:
        # Bursts of requests, as a web worker gets them: all 16 clients at once,
        # then none until every connection is back in the pool.
        for _ in range(5):
            together.wait()
            with engine.connect() as connection:
                connection.execute(text("SELECT pg_sleep(0.01)"))
            together.wait()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # The connections of the first burst serve the later ones.
    assert len(opened) <= clients
    engine.dispose()


def test_steady_requests_after_burst_skip_ping(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(database_url)
    pings = _count_pings(engine, monkeypatch)
    # A burst leaves 20 connections in the pool.
    burst = [engine.connect() for _ in range(engine_module.SERVER_POOL_SIZE)]
    for connection in burst:
        connection.execute(text("SELECT 1"))
    for connection in burst:
        connection.close()
    monkeypatch.setattr(engine_module, "IDLE_SECONDS_BEFORE_PING", 0.5)

    # Then one request at a time, 0.05 s apart. The connection that the previous
    # request returned is free, so no checked-out connection has idled for 0.5 s.
    for _ in range(30):
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        time.sleep(0.05)

    assert pings == []
    engine.dispose()
