"""The history route's cache never sends a stale history, and serve's worker option.

The cache keeps each lot's JSON body for the indexer's checkpoint it was read at.
These tests change the mirror the ways it changes in use (the indexer stores a new
transfer, the importer adds a record) and check that the next response shows it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from indexer_support import running_api, serve_in_subprocess
from rich.progress import Progress
from sqlalchemy import insert, select, update

from api.app import check_workers
from api.passport import CachedHistory, HistoryCache, history_json, render_json
from ledger.context import open_ledger
from ledger.custody import transfer_lot
from ledger.db.engine import open_database
from ledger.db.models import Lot, Record
from ledger.errors import ConfigurationError
from ledger.importing import import_file
from ledger.indexing import run_index
from ledger.queries import lot_history
from ledger.settings import Settings
from scripts.bench.api import parse_wrk_output, seed

DATA = Path(__file__).resolve().parent.parent / "data" / "wallonia"


def test_history_shows_indexed_transfer(
    chain: tuple[Path, str], database_url: str
) -> None:
    data_dir, _ = chain
    ledger = open_ledger(
        Settings(data_dir=data_dir, database_url=database_url), deploy_if_missing=True
    )
    import_file(
        ledger, DATA / "inventory.csv", "ACT-001", None, lambda: Progress(disable=True)
    )
    # Two workers, so each process has its own cache.
    with serve_in_subprocess(
        data_dir, "--workers", "2", RECLAIM_DATABASE_URL=database_url
    ) as url:
        # Several connections, so that both workers are likely to cache the body.
        before = [httpx.get(f"{url}/lots/5/history") for _ in range(6)]
        transfer_lot(ledger, 5, "ACT-001", "ACT-004", "18", "sale", "invoice-1")
        run_index(ledger, lambda: Progress(disable=True))
        after = [httpx.get(f"{url}/lots/5/history") for _ in range(6)]

    expected = render_json(history_json(lot_history(ledger.engine, 5)))
    assert {response.status_code for response in before + after} == {200}
    assert {len(response.json()["steps"]) for response in before} == {0}
    assert {response.content for response in after} == {expected}
    assert [step["quantity"] for step in after[0].json()["steps"]] == ["18000"]


def test_history_shows_added_record(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'mirror.sqlite3'}"
    # The benchmark's mirror has lots with records, but no building records.
    seed(database_url, lots=10, transfers=30)
    with running_api(Settings(database_url=database_url)) as url:
        first = httpx.get(f"{url}/lots/3/history").json()
        assert httpx.get(f"{url}/lots/3/history").json() == first
        assert first["building_record"] is None

        building_id = first["lot"]["building_id"]
        building_hash = _building_record_hash(database_url, building_id)
        body = {"schema": "reclaim.building/1", "name": "Added after the first read"}
        engine = open_database(database_url)
        with engine.begin() as connection:
            connection.execute(
                insert(Record).values(
                    record_hash=building_hash, kind="building", body=json.dumps(body)
                )
            )

        second = httpx.get(f"{url}/lots/3/history").json()
    assert second["building_record"] == body
    assert second["steps"] == first["steps"]


def _building_record_hash(database_url: str, building_id: str) -> str:
    from sqlalchemy import select

    from ledger.db.models import Building

    engine = open_database(database_url)
    with engine.connect() as connection:
        return connection.execute(
            select(Building.record_hash).where(Building.building_id == building_id)
        ).scalar_one()


def test_history_of_lot_without_building(tmp_path: Path) -> None:
    # A merge of lots from several buildings registers a lot without a building.
    database_url = f"sqlite:///{tmp_path / 'mirror.sqlite3'}"
    seed(database_url, lots=10, transfers=30)
    engine = open_database(database_url)
    with engine.begin() as connection:
        connection.execute(update(Lot).where(Lot.lot_id == 4).values(building_id=None))

    with running_api(Settings(database_url=database_url)) as url:
        response = httpx.get(f"{url}/lots/4/history")
    assert response.status_code == 200
    history = response.json()
    assert history["lot"]["building_id"] is None
    assert history["lot"]["building_reference"] is None
    assert history["building_record"] is None
    assert len(history["steps"]) == 3


def test_history_cache_keeps_one_checkpoint() -> None:
    cache = HistoryCache(max_bytes=10)
    old = (31337, "0xgenesis", "0xcontract", 1, 7, "0xblock7")
    new = (31337, "0xgenesis", "0xcontract", 1, 8, "0xblock8")
    cache.put(old, 1, CachedHistory(b"one", ()))
    assert cache.get(1) == (old, CachedHistory(b"one", ()))

    # A body of another checkpoint drops the bodies of the older one.
    cache.put(new, 2, CachedHistory(b"two", ()))
    assert cache.get(1) is None
    assert cache.get(2) == (new, CachedHistory(b"two", ()))

    # Past max_bytes, the least recently used body goes first.
    cache.put(new, 3, CachedHistory(b"three", ()))
    cache.get(2)
    cache.put(new, 4, CachedHistory(b"four", ()))
    assert cache.get(3) is None
    assert cache.get(2) is not None
    assert cache.get(4) is not None
    cache.put(new, 5, CachedHistory(b"longer than ten bytes", ()))
    assert cache.get(5) is None


def test_serve_workers_rejected_in_memory(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ledger", "--data-dir", str(tmp_path)]
        + ["--database-url", "sqlite://", "serve", "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert "--workers 2 needs a mirror that the workers share" in message
    assert "'sqlite://' is an in-memory SQLite database" in message


def test_check_workers_accepts_shared_mirrors(tmp_path: Path) -> None:
    for url in (
        f"sqlite:///{tmp_path / 'mirror.sqlite3'}",
        "postgresql+psycopg://postgres@127.0.0.1:5432/reclaim",
    ):
        check_workers(Settings(data_dir=tmp_path, database_url=url), 4)
    check_workers(Settings(data_dir=tmp_path), 4)


def test_check_workers_rejects_memory_database(tmp_path: Path) -> None:
    for url in ("sqlite://", "sqlite:///:memory:"):
        with pytest.raises(ConfigurationError) as raised:
            check_workers(Settings(data_dir=tmp_path, database_url=url), 2)
        message = str(raised.value)
        assert "--workers 2 needs a mirror that the workers share" in message
        assert "in-memory SQLite database" in message
        assert "Use --workers 1" in message
    check_workers(Settings(data_dir=tmp_path, database_url="sqlite://"), 1)


WRK_OUTPUT = """\
Running 8s test @ http://127.0.0.1:8000
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     9.81ms    3.20ms  48.10ms   80.00%
    Req/Sec     1.63k   120.00     1.90k    70.00%
  Latency Distribution
     50%  750.00us
     75%   10.50ms
     90%   12.00ms
     99%    1.20s
  13040 requests in 8.00s, 60.10MB read
Requests/sec:   1629.87
Transfer/sec:      7.51MB
"""


def test_wrk_output_parsed() -> None:
    figures = parse_wrk_output(WRK_OUTPUT)
    assert figures.requests == 13040
    assert figures.per_second == pytest.approx(1629.87)
    assert figures.p50_ms == pytest.approx(0.75)
    assert figures.p99_ms == pytest.approx(1200.0)


def test_wrk_failures_rejected() -> None:
    failing = WRK_OUTPUT.replace(
        "Requests/sec", "  Non-2xx or 3xx responses: 12\nRequests/sec"
    )
    with pytest.raises(RuntimeError, match="failed requests"):
        parse_wrk_output(failing)


def test_cache_check_matches_checkpoint(database_url: str) -> None:
    from ledger.db.models import SyncState
    from ledger.queries import read_checkpoint_and_records, read_checkpoint_key

    engine = open_database(database_url)
    # An empty mirror has no checkpoint to name.
    assert read_checkpoint_and_records(engine, ["0x" + "ab" * 32]) == (None, False)

    seed(database_url, lots=3, transfers=3)
    with engine.connect() as connection:
        key = read_checkpoint_key(connection)
        stored = connection.execute(select(Record.record_hash)).scalars().first()
    assert key is not None
    absent = "0x" + "ab" * 32
    assert read_checkpoint_and_records(engine, []) == (key, False)
    assert read_checkpoint_and_records(engine, [absent]) == (key, False)
    assert read_checkpoint_and_records(engine, [absent, stored]) == (key, True)

    with engine.begin() as connection:
        connection.execute(update(SyncState).values(last_block_hash=None))
    assert read_checkpoint_and_records(engine, [stored]) == (None, False)
