"""Indexer backfill and follow latency, against a raw ceiling measured in the same run.

A bench contract (``CustodyEventSource``) emits logs with the registry's
``CustodyTransferred`` signature, ``EVENTS_PER_TX`` per transaction, one transaction per
block. The indexer reads them through its public ``Indexer`` class into a fresh SQLite
file and a fresh PostgreSQL database. The raw ceiling reads the same block ranges with
plain ``eth_getLogs`` over httpx, decodes them with ``eth_abi`` and bulk-inserts tuples
with the driver (``sqlite3`` ``executemany``, psycopg ``COPY``), with no indexer logic.
Each backfill runs in a child process, so that its peak RSS is its own.
"""

from __future__ import annotations

import cProfile
import io
import multiprocessing
import pstats
import re
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from eth_abi import decode as abi_decode
from sqlalchemy import Engine, text

from ledger.chain import anvil, saver
from ledger.chain.connection import connect
from ledger.chain.transactions import wait_for_receipts
from ledger.contracts.artifacts import load_artifact
from ledger.db.engine import open_database
from ledger.indexer.rpc import RpcClient
from ledger.indexer.sync import Indexer, IndexTarget
from ledger.settings import DEFAULT_POLL_INTERVAL
from scripts.bench.common import (
    BUILD_DIR,
    CHAIN_ACCOUNTS,
    Result,
    bench_contracts,
    deploy_contract,
    local_chain,
    peak_rss_mb,
    sender_for,
)

EVENTS_PER_TX = 1_000
LOG_RANGE_BLOCKS = 20
FOLLOW_SAMPLES = 30
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
PROFILE_PATH = BUILD_DIR / "indexer-profile.txt"
PROFILE_BLOCKS = 20
SAVE_LINE = re.compile(
    r"^(?P<ended>\S+Z) saver: Saved the chain state up to block \d+ "
    r"\(\d+ MB\) in (?P<seconds>[\d.]+) s",
    re.MULTILINE,
)


def emit_events(url: str, events: int) -> tuple[str, int]:
    """Deploy the event source, emit ``events`` logs; return its address and block."""
    w3 = connect(url)
    operator = sender_for(w3, 0)
    source = deploy_contract(operator, bench_contracts()["CustodyEventSource"])
    start_block = w3.eth.block_number
    hashes = []
    for first in range(0, events, EVENTS_PER_TX):
        count = min(EVENTS_PER_TX, events - first)
        call = source.functions.emitTransfers(first, count)
        hashes.append(operator.send(call, gas=4_000 * count + 100_000))
        # Receipts carry every log: wait in small groups and drop them, so that this
        # process stays small for the children it spawns.
        if len(hashes) == 20:
            wait_for_receipts(w3, hashes, timeout=3600)
            hashes = []
    wait_for_receipts(w3, hashes, timeout=3600)
    return str(source.address), start_block


def _open_indexer(
    url: str, database_url: str, address: str, start: int
) -> tuple[Engine, Indexer]:
    """Open the mirror at ``database_url`` and the project's indexer of ``address``."""
    engine = open_database(database_url)
    indexer = Indexer(
        RpcClient(url),
        engine,
        IndexTarget(address, start),
        load_artifact()["abi"],
        log_range=LOG_RANGE_BLOCKS,
    )
    return engine, indexer


def _index_child(
    url: str, database_url: str, address: str, start: int, profile: bool
) -> dict[str, float]:
    engine, indexer = _open_indexer(url, database_url, address, start)
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler is not None:
        # The first PROFILE_BLOCKS blocks are enough to see where the time goes.
        indexer.prepare()
        profiler.enable()
        last = min(start + PROFILE_BLOCKS - 1, indexer.rpc.block_number())
        indexer.index_range(start, last)
        profiler.disable()
    else:
        # As 'reclaim index' runs it.
        indexer.run_to_head(bulk_backfill=True)
    seconds = time.perf_counter() - started
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
        out.write("\n--- by own time ---\n")
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        PROFILE_PATH.parent.mkdir(parents=True, exist_ok=True)
        PROFILE_PATH.write_text(out.getvalue())
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT count(*) FROM transfers")).scalar_one()
    return {"seconds": seconds, "rows": float(rows), "rss_mb": peak_rss_mb()}


def _raw_child(
    url: str, database_url: str, address: str, start: int
) -> dict[str, float]:
    """Read, decode and insert the events with no indexer logic: the ceiling."""
    client = httpx.Client(timeout=300)
    head = int(_post(client, url, "eth_blockNumber", [])["result"], 16)
    types = ["uint256", "uint8", "bytes32", "address"]
    started = time.perf_counter()
    inserted = 0
    with _raw_table(database_url) as insert:
        for low in range(start, head + 1, LOG_RANGE_BLOCKS):
            high = min(head, low + LOG_RANGE_BLOCKS - 1)
            query = {"address": address, "fromBlock": hex(low), "toBlock": hex(high)}
            logs = _post(client, url, "eth_getLogs", [query])["result"]
            rows = []
            for log in logs:
                topics = log["topics"]
                quantity, reason, reference, operator = abi_decode(
                    types, bytes.fromhex(log["data"][2:])
                )
                rows.append(
                    (
                        int(topics[1], 16),
                        "0x" + topics[2][-40:],
                        "0x" + topics[3][-40:],
                        str(quantity),
                        reason,
                        "0x" + reference.hex(),
                        operator.lower(),
                        int(log["blockNumber"], 16),
                        log["blockHash"],
                        log["transactionHash"],
                        int(log["logIndex"], 16),
                    )
                )
            insert(rows)
            inserted += len(rows)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": float(inserted), "rss_mb": peak_rss_mb()}


RAW_COLUMNS = (
    "lot_id, from_address, to_address, quantity, reason, reference_hash, operator, "
    "block_number, block_hash, transaction_hash, log_index"
)


@contextmanager
def _raw_table(database_url: str) -> Iterator[Any]:
    create = (
        "CREATE TABLE raw_transfers (lot_id NUMERIC(78,0), from_address VARCHAR(42), "
        "to_address VARCHAR(42), quantity NUMERIC(78,0), reason INTEGER, "
        "reference_hash VARCHAR(66), operator VARCHAR(42), block_number BIGINT, "
        "block_hash VARCHAR(66), transaction_hash VARCHAR(66), log_index INTEGER)"
    )
    if database_url.startswith("sqlite"):
        connection = sqlite3.connect(database_url.removeprefix("sqlite:///"))
        connection.execute(create)
        marks = ", ".join("?" * 11)

        def insert_sqlite(rows: list[tuple[Any, ...]]) -> None:
            connection.executemany(
                f"INSERT INTO raw_transfers ({RAW_COLUMNS}) VALUES ({marks})", rows
            )
            connection.commit()

        try:
            yield insert_sqlite
        finally:
            connection.close()
        return

    with psycopg.connect(database_url.replace("+psycopg", "")) as pg:
        pg.execute(create)
        pg.commit()

        def insert_postgres(rows: list[tuple[Any, ...]]) -> None:
            with (
                pg.cursor() as cursor,
                cursor.copy(f"COPY raw_transfers ({RAW_COLUMNS}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            pg.commit()

        yield insert_postgres


def _post(client: httpx.Client, url: str, method: str, params: list[Any]) -> Any:
    response = client.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    )
    response.raise_for_status()
    return response.json()


def _in_child(function: Any, *args: Any) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(function, args)  # type: ignore[no-any-return]


@contextmanager
def database(kind: str) -> Iterator[str]:
    """Yield the URL of a fresh SQLite file or PostgreSQL database, then remove it."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(
            prefix="reclaim-bench-db-", ignore_cleanup_errors=True
        ) as folder:
            yield f"sqlite:///{folder}/mirror.sqlite3"
        return
    name = f"reclaim_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.format(name=name)
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_for_save(data_dir: Path, url: str, timeout: float = 900) -> None:
    """Wait until the embedded chain's saver has saved the node's newest block."""
    head = connect(url).eth.block_number
    state_file = data_dir / anvil.STATE_FILE
    deadline = time.monotonic() + timeout
    while (record := saver.read_record(state_file)) is None or int(
        str(record["block_number"])
    ) < head:
        if time.monotonic() > deadline:
            raise RuntimeError(f"The chain's state saver did not save block {head}.")
        time.sleep(0.5)


def saves_between(data_dir: Path, first: float, last: float) -> list[float]:
    """Return the durations of the saver's saves that overlap ``first``..``last``.

    Both are ``time.time()`` values. After each save of a second or more, the saver
    writes a line to the node's log with the end time in UTC, to the millisecond,
    and the duration. Shorter saves are not counted.

    NOTE: a save still running at the call has written no line yet, so it is not
    counted either.
    """
    durations = []
    log = (data_dir / anvil.LOG_FILE).read_text(errors="replace")
    for match in SAVE_LINE.finditer(log):
        ended_at = datetime.strptime(match["ended"], "%Y-%m-%dT%H:%M:%S.%f%z")
        ended = ended_at.timestamp()
        seconds = float(match["seconds"])
        if ended - seconds <= last and ended >= first:
            durations.append(seconds)
    return durations


def measure_follow(
    url: str, address: str, database_url: str, start: int, first_event: int
) -> list[float]:
    """Return head-to-SQL latencies in seconds of single-event transactions.

    The indexer follows with the default poll interval in a thread, continuing the
    mirror at ``database_url``, which was back-filled from block ``start`` up to the
    head, so that it follows a mirror of the benchmark's size. Each latency runs
    from the transaction's receipt to its row being readable in SQLite.
    ``first_event`` numbers the emitted events apart from earlier ones.
    """
    w3 = connect(url)
    operator = sender_for(w3, 0)
    source = w3.eth.contract(
        address=address, abi=bench_contracts()["CustodyEventSource"]["abi"]
    )
    engine, indexer = _open_indexer(url, database_url, address, start)
    stop = threading.Event()
    follower = threading.Thread(
        target=indexer.follow,
        args=(DEFAULT_POLL_INTERVAL,),
        kwargs={"should_stop": stop.is_set},
    )
    follower.start()
    latencies = []
    try:
        for n in range(FOLLOW_SAMPLES):
            (receipt,) = wait_for_receipts(
                w3,
                [
                    operator.send(
                        source.functions.emitTransfers(first_event + n, 1),
                        gas=200_000,
                    )
                ],
            )
            mined = time.perf_counter()
            block = int(receipt["blockNumber"])
            while True:
                with engine.connect() as connection:
                    found = connection.execute(
                        text("SELECT count(*) FROM transfers WHERE block_number = :b"),
                        {"b": block},
                    ).scalar_one()
                if found:
                    break
                time.sleep(0.005)
            latencies.append(time.perf_counter() - mined)
            # Spread the sends over the poll cycle, as real transfers arrive.
            time.sleep(0.137 * (n % 7))
    finally:
        stop.set()
        follower.join()
    return latencies


def run(events: int, profile: bool = True) -> list[Result]:
    """Emit ``events`` logs, back-fill SQLite and PostgreSQL, measure follow mode."""
    results = []
    scale = f"{events:,} events, {EVENTS_PER_TX:,}/block, log_range {LOG_RANGE_BLOCKS}"
    with local_chain() as (data_dir, url), database("sqlite") as follow_url:
        address, start = emit_events(url, events)
        # A save of the whole chain takes CPU for seconds: let the saver finish
        # before the measurements start.
        wait_for_save(data_dir, url)
        for kind in ("sqlite", "postgresql"):
            with ExitStack() as stack:
                # The SQLite mirror stays for the follow measurement below.
                ours_url = follow_url if kind == "sqlite" else None
                if ours_url is None:
                    ours_url = stack.enter_context(database(kind))
                ours = _in_child(_index_child, url, ours_url, address, start, False)
            with database(kind) as database_url:
                raw = _in_child(_raw_child, url, database_url, address, start)
            if int(ours["rows"]) != events or int(raw["rows"]) != events:
                raise RuntimeError(
                    f"Stored {ours['rows']:.0f} and {raw['rows']:.0f} of {events} "
                    "events."
                )
            results += _backfill_results(kind, events, ours, raw, scale)
        if profile:
            # A separate run: cProfile slows the code it measures.
            with database("sqlite") as database_url:
                _in_child(_index_child, url, database_url, address, start, True)

        follow_scale = f"{FOLLOW_SAMPLES} transactions, mirror of {events:,} events"
        first = time.time()
        latencies = measure_follow(url, address, follow_url, start, events)
        saves = saves_between(data_dir, first, time.time())
        results.append(
            _follow_result(
                "embedded chain (state saver)", latencies, follow_scale, saves
            )
        )
        # Each save rewrites the whole history and takes CPU from the indexer.
        # Restarting without the saver separates the indexer's own latency.
        anvil.stop(data_dir)
        url = anvil.start(
            data_dir,
            chain_id=31337,
            accounts=CHAIN_ACCOUNTS,
            save_while_running=False,
        ).rpc_url
        latencies = measure_follow(
            url, address, follow_url, start, events + FOLLOW_SAMPLES
        )
        results.append(
            _follow_result(
                "same chain without saving while it runs", latencies, follow_scale
            )
        )
    return results


def _backfill_results(
    kind: str, events: int, ours: dict[str, float], raw: dict[str, float], scale: str
) -> list[Result]:
    return [
        Result(
            f"indexer backfill into {kind} vs raw ceiling",
            events / ours["seconds"],
            events / raw["seconds"],
            "events/s",
            scale,
            target_ratio=0.5,
            target_value=30_000,
            target_text="≥ 30,000/s and ≥ 0.5× raw",
        ),
        Result(
            f"indexer peak RSS ({kind}) vs raw ceiling's",
            ours["rss_mb"],
            raw["rss_mb"],
            "MB",
            scale,
            higher_is_better=False,
            target_value=300,
            target_text="< 300 MB",
        ),
    ]


def _follow_result(
    chain: str, latencies: list[float], scale: str, saves: list[float] | None = None
) -> Result:
    quantiles = statistics.quantiles(latencies, n=20)
    note = f"p50 {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s"
    if saves is not None:
        note += f"; saves during the samples: {len(saves)}" + "".join(
            f", {seconds:.1f} s" for seconds in saves
        )
    return Result(
        f"follow head-to-SQL latency p95, {chain}",
        quantiles[18],
        DEFAULT_POLL_INTERVAL,
        "s",
        f"{scale}; anchor: poll interval",
        higher_is_better=False,
        target_value=1.5,
        target_text="p95 ≤ 1.5 s",
        note=note,
    )
