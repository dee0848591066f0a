"""API latency and throughput on a seeded mirror, against a bare FastAPI route.

The mirror is seeded directly with bulk inserts (buildings, lots with records and
holdings, custody transfers), not through the chain: the API reads only the mirror,
and seeding a million transfers through anvil would take hours. ``reclaim serve``
runs the project's app as a user would, with two workers, one per core, on SQLite
and on PostgreSQL. The anchor is a bare FastAPI app that
returns a constant, served by uvicorn with the same number of workers.

The load generator is ``wrk`` when it is installed (Debian package ``wrk``), since it
takes less of the two cores than Python does; otherwise a small asyncio HTTP/1.1
client in this process. Both keep connections alive and run on 127.0.0.1, and the
table's scale column names the one used.

The passport rate is measured on a second run over the same 2,000 histories, after
a first run at the same concurrency has filled most of each worker's cache. The row's
note gives the first run's rate too.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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
# Workers of `reclaim serve`, one per core of the benchmark machine.
WORKERS = {"sqlite": 2, "postgresql": 2}


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
    if engine.dialect.name == "postgresql":
        # A mirror that grew over time has been vacuumed and analysed by
        # autovacuum. This bulk load would be only up to a minute later, during the
        # measurements, so the plans would depend on when autovacuum ran.
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql("VACUUM ANALYZE")
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
def serve_reclaim(database_url: str, workers: int) -> Iterator[str]:
    """Run ``reclaim serve`` on a free port with ``workers``; yield the base URL."""
    port = free_port()
    command = [sys.executable, "-m", "ledger", "--database-url", database_url]
    command += ["serve", "--port", str(port), "--workers", str(workers)]
    with _serving(command, port, "reclaim serve") as url:
        yield url


@contextmanager
def serve_bare(workers: int) -> Iterator[str]:
    """Run the bare anchor app with uvicorn and ``workers``; yield the base URL."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "scripts.bench.apps:bare_app",
    ]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    with _serving(command, port, "the bare app") as url:
        yield url


@contextmanager
def _serving(command: list[str], port: int, name: str) -> Iterator[str]:
    # Access logs stay on, as a user's server has them, and go to /dev/null.
    env = {**os.environ, "PYTHONPATH": _python_path()}
    process = subprocess.Popen(
        command,
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/docs", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{name} did not start.") from None
                time.sleep(0.1)
        # With several workers, a request reaches each only once all have started.
        time.sleep(1.0)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _python_path() -> str:
    # The project first, then what the caller set, such as extra packages.
    given = os.environ.get("PYTHONPATH")
    return f"{PROJECT_ROOT}{os.pathsep}{given}" if given else str(PROJECT_ROOT)


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
    """Send GETs of ``paths`` over ``connections`` connections for ``seconds``.

    Uses wrk when it is installed, otherwise the asyncio client.
    """
    port = int(url.rsplit(":", 1)[1])
    # A short warm-up fills caches and the connection pool before the measured run.
    asyncio.run(_warm_up(port, paths))
    if shutil.which("wrk"):
        return _load_with_wrk(url, paths, connections, seconds)
    return _load_with_asyncio(port, paths, connections, seconds)


def load_generator() -> str:
    """Return the name of the load generator that :func:`load` uses here."""
    return "wrk" if shutil.which("wrk") else "asyncio client"


def _load_with_asyncio(
    port: int, paths: list[str], connections: int, seconds: float
) -> LoadFigures:
    latencies: list[float] = []

    async def run_all() -> float:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(
            *(_worker(port, paths, deadline, latencies) for _ in range(connections))
        )
        return time.perf_counter() - started

    elapsed = asyncio.run(run_all())
    ordered = sorted(latencies)
    return LoadFigures(
        requests=len(ordered),
        per_second=len(ordered) / elapsed,
        p50_ms=1000 * ordered[len(ordered) // 2],
        p99_ms=1000 * ordered[int(len(ordered) * 0.99)],
    )


# Picks a random path of the list for each request, like the asyncio client.
WRK_SCRIPT = """
local paths = {%s}
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
"""


def _load_with_wrk(
    url: str, paths: list[str], connections: int, seconds: float
) -> LoadFigures:
    with tempfile.TemporaryDirectory(prefix="reclaim-bench-wrk-") as folder:
        script = Path(folder) / "paths.lua"
        script.write_text(WRK_SCRIPT % ", ".join(json.dumps(p) for p in paths))
        command = ["wrk", "--threads", "1", "--connections", str(connections)]
        # A response slower than wrk's default timeout of 2 s counts in the
        # latencies rather than as a socket error that discards the run.
        command += ["--timeout", f"{WRK_TIMEOUT_SECONDS}s"]
        command += ["--duration", f"{seconds:.0f}s", "--latency", "--script"]
        command += [str(script), url]
        output = subprocess.run(
            command, capture_output=True, text=True, check=True
        ).stdout
    return parse_wrk_output(output)


_WRK_DURATION = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
WRK_TIMEOUT_SECONDS = 10


def parse_wrk_output(output: str) -> LoadFigures:
    """Read requests, requests/s and the p50 and p99 latencies from wrk --latency.

    Raises RuntimeError when wrk counted responses other than 2xx and 3xx or socket
    errors, since the figures would then include failures.
    """
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    if failed or errors:
        raise RuntimeError(f"wrk saw failed requests:\n{output}")

    def percentile(name: str) -> float:
        match = re.search(rf"^\s*{name}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
        if match is None:
            raise RuntimeError(f"wrk printed no {name}th percentile:\n{output}")
        return float(match.group(1)) * _WRK_DURATION[match.group(2)]

    requests = re.search(r"^\s*(\d+) requests in", output, re.M)
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    if requests is None or rate is None:
        raise RuntimeError(f"wrk printed no request count:\n{output}")
    return LoadFigures(
        requests=int(requests.group(1)),
        per_second=float(rate.group(1)),
        p50_ms=percentile("50"),
        p99_ms=percentile("99"),
    )


async def _warm_up(port: int, paths: list[str]) -> None:
    await _worker(port, paths[:200], time.perf_counter() + 1.0, [])


def run(lots: int, transfers: int) -> list[Result]:
    """Seed SQLite and PostgreSQL mirrors, load the API on both and the bare anchor."""
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
    # Full-text requests of the search page's JSON form: words that every lot's
    # description contains, with and without a category, and one lot's number.
    text_paths = [f"/search?q=element+{rng.randint(1, lots)}" for _ in range(250)] + [
        f"/search?q=pallets&category={rng.choice(CATEGORIES)}&page={rng.randint(1, 5)}"
        for _ in range(250)
    ]
    # Latency on one connection, so that it is the service time and not the wait
    # behind other clients; throughput on CONNECTIONS.
    bare: dict[int, tuple[LoadFigures, LoadFigures]] = {}
    for workers in sorted(set(WORKERS.values())):
        with serve_bare(workers) as url:
            bare[workers] = (
                load(url, ["/constant"], connections=1),
                load(url, ["/constant"]),
            )

    results = []
    for kind in ("sqlite", "postgresql"):
        workers = WORKERS[kind]
        scale = (
            f"{lots:,} lots, {transfers:,} transfers, {workers} "
            f"worker{'s' if workers > 1 else ''}, {load_generator()}"
        )
        bare_latency, bare_throughput = bare[workers]
        with database(kind) as database_url:
            seed(database_url, lots, transfers)
            with serve_reclaim(database_url, workers) as url:
                passport = load(url, passport_paths, connections=1)
                lot_list = load(url, search_paths, connections=1)
                text_search = load(url, text_paths, connections=1)
                # Each worker caches the bodies it served, and the passport run on
                # one connection reached one worker. The first run at full
                # concurrency fills the other cache too, and the second is measured.
                filling = load(url, passport_paths)
                throughput = load(url, passport_paths)
        results += [
            _latency_result("passport", kind, passport, bare_latency, scale, 10),
            _latency_result("lot list", kind, lot_list, bare_latency, scale, 50),
            _latency_result("text search", kind, text_search, bare_latency, scale, 50),
            Result(
                f"API passport requests/s ({kind}) vs bare route",
                throughput.per_second,
                bare_throughput.per_second,
                "req/s",
                scale,
                target_value=1500,
                target_text=f"≥ 1,500 req/s ({CONNECTIONS} connections)",
                note=f"p99 {throughput.p99_ms:.0f} ms; while the caches filled "
                f"{filling.per_second:,.0f} req/s, p99 {filling.p99_ms:.0f} ms",
            ),
        ]
    return results


def _latency_result(
    name: str,
    kind: str,
    figures: LoadFigures,
    bare: LoadFigures,
    scale: str,
    target_ms: float,
) -> Result:
    return Result(
        f"API {name} p99 ({kind}) vs bare route",
        figures.p99_ms,
        bare.p99_ms,
        "ms",
        scale,
        higher_is_better=False,
        target_value=target_ms,
        target_text=f"≤ {target_ms:g} ms (1 connection)",
        note=f"p50 {figures.p50_ms:.1f} ms",
    )
