"""Repeated runs behind single benchmark figures, on a seeded PostgreSQL mirror.

``python -m scripts.bench.probes passport-rates`` serves the mirror with ``reclaim
serve --workers 2`` and loads cached passports over 16 connections (by default)
several times in a row, printing each run's rate and p99. Runs differ with the way
the connections fall on the two workers and with what each worker has cached.

``python -m scripts.bench.probes search-times`` times the text searches of the API
benchmark in this process, by kind of query, and prints the median and the 95th
percentile of each kind.

Both seed a fresh database as the API benchmark does, and drop it at the end.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

from ledger.db.engine import open_database
from ledger.search import SearchQuery, search
from scripts.bench.api import CATEGORIES, load, seed, serve_reclaim
from scripts.bench.indexer import database

TRANSFERS_PER_LOT = 10


def passport_rates(lots: int, runs: int, connections: list[int]) -> None:
    """Print the passport rate and p99 of ``runs`` runs for each connection count."""
    rng = random.Random(7)
    paths = [f"/lots/{rng.randint(1, lots)}/history" for _ in range(2000)]
    with database("postgresql") as url:
        seed(url, lots, lots * TRANSFERS_PER_LOT)
        with serve_reclaim(url, 2) as base:
            for count in connections:
                for run in range(1, runs + 1):
                    figures = load(base, paths, connections=count, seconds=5)
                    print(
                        f"{count} connections, run {run}: "
                        f"{figures.per_second:,.0f} requests/s, "
                        f"p99 {figures.p99_ms:.1f} ms",
                        flush=True,
                    )


def search_times(lots: int, samples: int) -> None:
    """Print the median and p95 of ``samples`` searches of each kind, in ms."""
    rng = random.Random(7)
    kinds: dict[str, Callable[[], SearchQuery]] = {
        "a lot's number": lambda: SearchQuery(text=f"element {rng.randint(1, lots)}"),
        "a word of every lot, in a category": lambda: SearchQuery(
            text="pallets", category=rng.choice(CATEGORIES), page=rng.randint(1, 5)
        ),
        "a word of every lot": lambda: SearchQuery(text="pallets"),
        # Each lot's text names its own category, so this word matches a seventh of
        # the lots and none of those in the category: every lot there is checked.
        "another category's word, in a category": lambda: SearchQuery(
            text=CATEGORIES[0], category=rng.choice(CATEGORIES[1:])
        ),
    }
    with database("postgresql") as url:
        seed(url, lots, lots * TRANSFERS_PER_LOT)
        engine = open_database(url)
        # The first search fills the search entries of the whole mirror.
        search(engine, SearchQuery(text="pallets"))
        for kind, make_query in kinds.items():
            times = []
            for _ in range(samples):
                query = make_query()
                started = time.perf_counter()
                page = search(engine, query)
                times.append((time.perf_counter() - started) * 1000)
            p95 = statistics.quantiles(times, n=20)[18]
            more = "" if page.exact else "more than "
            print(
                f"{kind}: median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, "
                f"{more}{page.total:,} matches in the last search",
                flush=True,
            )
        engine.dispose()


def main() -> None:
    """Parse the command line and run the chosen probe."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    rates = commands.add_parser("passport-rates", help="passport rates, run by run")
    rates.add_argument("--lots", type=int, default=10_000)
    rates.add_argument("--runs", type=int, default=3)
    rates.add_argument(
        "--connections",
        default="16",
        help="comma-separated connection counts, such as 4,8,16",
    )
    times = commands.add_parser("search-times", help="text search times by kind")
    times.add_argument("--lots", type=int, default=100_000)
    times.add_argument("--samples", type=int, default=60)
    args = parser.parse_args()
    if args.command == "passport-rates":
        counts = [int(count) for count in args.connections.split(",")]
        passport_rates(args.lots, args.runs, counts)
    else:
        search_times(args.lots, args.samples)


if __name__ == "__main__":
    main()
