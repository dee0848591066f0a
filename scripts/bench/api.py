"""API latency and throughput on a seeded mirror, against a bare FastAPI route.

The mirror is seeded directly with bulk inserts (buildings, lots with records and
holdings, custody transfers), not through the chain: the API reads only the mirror,
and seeding a million transfers through anvil would take hours. uvicorn runs the
project's app with one worker, as ``reclaim serve`` does; the anchor is a bare FastAPI
app returning a constant, served the same way. The load generator is a small asyncio
HTTP/1.1 client with keep-alive connections, in this process, on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
from sqlalchemy import insert

from ledger.chain.anvil import free_port
from ledger.db.engine import open_database
from ledger.db.models import Building, Holding, Lot, Record, SyncState, Transfer
from ledger.toolchain import PROJECT_ROOT
from scripts.bench.common import Result
from scripts.bench.indexer import database

BUILDINGS = 100
CATEGORIES = ("doors", "flooring", "ceiling", "radiators", "beams", "bricks", "tiles")
HOLDERS = [f"0x{n:040x}" for n in range(0x1000, 0x1000 + 50)]
CONNECTIONS = 16
DURATION_SECONDS = 8.0
CHUNK = 10_000


def _hash(kind: str, n: int) -> str:
    return "0x" + f"{kind}{n}".encode().hex().ljust(64, "0")[:64]


def seed(database_url: str, lots: int, transfers: int) -> None:
    """Fill a fresh mirror with ``lots`` lots and ``transfers`` custody transfers."""
    engine = open_database(database_url)
    origin = {
        "block_number": 1,
        "block_hash": _hash("b", 1),
        "transaction_hash": _hash("t", 1),
        "log_index": 0,
        "timestamp": 1_767_225_600,
    }
    with engine.begin() as connection:
        connection.execute(
            insert(SyncState),
            [
                {
                    "id": 1,
                    "chain_id": 31337,
                    "genesis_hash": _hash("g", 0),
                    "contract_address": HOLDERS[0][:42],
                    "start_block": 1,
                    "last_block": transfers + 1,
                    "last_block_hash": _hash("b", transfers + 1),
                }
            ],
        )
        connection.execute(
            insert(Building),
            [
                {
                    "building_id": _hash("bld", b),
                    "reference": f"BLD-BENCH-{b:03d}",
                    "record_hash": _hash("rb", b),
                    **origin,
                    "log_index": b,
                }
                for b in range(BUILDINGS)
            ],
        )
        for start in range(0, lots, CHUNK):
            ids = range(start + 1, min(lots, start + CHUNK) + 1)
            connection.execute(insert(Record), [_record_row(n) for n in ids])
            connection.execute(insert(Lot), [_lot_row(n, origin) for n in ids])
            connection.execute(
                insert(Holding),
                [
                    {
                        "lot_id": n,
                        "holder": HOLDERS[n % len(HOLDERS)],
                        "balance": 500_000,
                    }
                    for n in ids
                ],
            )
        for start in range(0, transfers, CHUNK):
            numbers = range(start, min(transfers, start + CHUNK))
            connection.execute(
                insert(Transfer), [_transfer_row(n, lots) for n in numbers]
            )
    engine.dispose()


def _record_row(n: int) -> dict[str, object]:
    body = {
        "schema": "reclaim.lot/1",
        "item_id": f"BENCH-{n:06d}",
        "description": f"Reclaimed element {n}, sorted and stacked on pallets",
        "category": CATEGORIES[n % len(CATEGORIES)],
        "quantity": 1_000_000,
        "photo_refs": [f"BENCH-{n:06d}_01.jpg"],
    }
    return {"record_hash": _hash("rl", n), "kind": "lot", "body": json.dumps(body)}


def _lot_row(n: int, origin: dict[str, object]) -> dict[str, object]:
    return {
        "lot_id": n,
        "building_id": _hash("bld", n % BUILDINGS),
        "first_holder": HOLDERS[0],
        "category": CATEGORIES[n % len(CATEGORIES)],
        "unit": n % 5,
        "quantity": 1_000_000,
        "unit_mass_grams": 12_500,
        "record_hash": _hash("rl", n),
        **origin,
        "log_index": n,
    }


def _transfer_row(n: int, lots: int) -> dict[str, object]:
    return {
        "lot_id": 1 + n % lots,
        "from_address": HOLDERS[n % len(HOLDERS)],
        "to_address": HOLDERS[(n + 1) % len(HOLDERS)],
        "quantity": 1000,
        "reason": 1 + n % 4,
        "reference_hash": _hash("ref", n),
        "operator": HOLDERS[n % len(HOLDERS)],
        "block_number": 2 + n // 100,
        "block_hash": _hash("b", 2 + n // 100),
        "transaction_hash": _hash("t", n),
        "log_index": n % 100,
        "timestamp": 1_767_225_600 + n,
    }


@contextmanager
def serve(factory: str, database_url: str | None) -> Iterator[str]:
    """Run uvicorn with one worker on a free port; yield the base URL."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    if database_url:
        env["RECLAIM_DATABASE_URL"] = database_url
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        f"scripts.bench.apps:{factory}",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, env=env, cwd=PROJECT_ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/docs", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(
                        f"uvicorn did not start for {factory}."
                    ) from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@dataclass(frozen=True)
class LoadFigures:
    """Requests per second and latency percentiles of one load run."""

    requests: int
    per_second: float
    p50_ms: float
    p99_ms: float


async def _worker(
    port: int, paths: list[str], deadline: float, latencies: list[float]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    rng = random.Random(port + len(latencies))
    try:
        while time.perf_counter() < deadline:
            path = rng.choice(paths)
            request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            started = time.perf_counter()
            writer.write(request.encode())
            await writer.drain()
            status = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            if not status.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"GET {path} returned {status!r}.")
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


def load(
    url: str,
    paths: list[str],
    connections: int = CONNECTIONS,
    seconds: float = DURATION_SECONDS,
) -> LoadFigures:
    """Send GETs of ``paths`` over ``connections`` connections for ``seconds``."""
    port = int(url.rsplit(":", 1)[1])
    latencies: list[float] = []

    async def run_all() -> float:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(
            *(_worker(port, paths, deadline, latencies) for _ in range(connections))
        )
        return time.perf_counter() - started

    # A short warm-up fills caches and the connection pool before the measured run.
    asyncio.run(_warm_up(port, paths))
    elapsed = asyncio.run(run_all())
    ordered = sorted(latencies)
    return LoadFigures(
        requests=len(ordered),
        per_second=len(ordered) / elapsed,
        p50_ms=1000 * ordered[len(ordered) // 2],
        p99_ms=1000 * ordered[int(len(ordered) * 0.99)],
    )


async def _warm_up(port: int, paths: list[str]) -> None:
    await _worker(port, paths[:200], time.perf_counter() + 1.0, [])


def run(lots: int, transfers: int) -> list[Result]:
    """Seed SQLite and PostgreSQL mirrors, load the API on both and the bare anchor."""
    scale = f"{lots:,} lots, {transfers:,} transfers, 1 worker"
    rng = random.Random(7)
    passport_paths = [f"/lots/{rng.randint(1, lots)}/history" for _ in range(2000)]
    search_paths = [
        f"/lots?category={rng.choice(CATEGORIES)}&building=BLD-BENCH-"
        f"{rng.randrange(BUILDINGS):03d}&limit=20"
        for _ in range(500)
    ] + [
        f"/lots?holder={rng.choice(HOLDERS)}&limit=20&offset={rng.randrange(0, 100)}"
        for _ in range(500)
    ]
    with serve("bare_app", None) as url:
        bare_latency = load(url, ["/constant"], connections=1)
        bare = load(url, ["/constant"])

    results = []
    for kind in ("sqlite", "postgresql"):
        with database(kind) as database_url:
            seed(database_url, lots, transfers)
            with serve("reclaim_app", database_url) as url:
                # Latency on one connection, so that it is the service time and not
                # the wait behind other clients; throughput on CONNECTIONS.
                passport = load(url, passport_paths, connections=1)
                search = load(url, search_paths, connections=1)
                throughput = load(url, passport_paths)
        results += [
            Result(
                f"API passport p99 ({kind}) vs bare route",
                passport.p99_ms,
                bare_latency.p99_ms,
                "ms",
                scale,
                higher_is_better=False,
                target_value=10,
                target_text="≤ 10 ms (1 connection)",
                note=f"p50 {passport.p50_ms:.1f} ms",
            ),
            Result(
                f"API search p99 ({kind}) vs bare route",
                search.p99_ms,
                bare_latency.p99_ms,
                "ms",
                scale,
                higher_is_better=False,
                target_value=50,
                target_text="≤ 50 ms (1 connection)",
                note=f"p50 {search.p50_ms:.1f} ms",
            ),
            Result(
                f"API passport requests/s ({kind}) vs bare route",
                throughput.per_second,
                bare.per_second,
                "req/s",
                scale,
                target_value=1500,
                target_text=f"≥ 1,500 req/s ({CONNECTIONS} connections)",
            ),
        ]
    return results
