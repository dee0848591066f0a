"""Measure search and passport latency on a fresh local anvil and SQLite mirror.

Run with ``.venv/bin/python scripts/bench_pages.py [COPIES]``. It imports the sample
inventory COPIES times (74 lots each, item ids suffixed so that every record is new).
It then prints the median and worst time of a few searches, of the live chain check of
one lot, and of whole passport and search pages rendered in process.
"""

from __future__ import annotations

import csv
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from rich.progress import Progress

from api.app import create_app
from ledger.chain import anvil
from ledger.chain_check import check_lot
from ledger.context import open_ledger
from ledger.importing import import_file
from ledger.search import SearchQuery, search
from ledger.settings import Settings

DATA = Path(__file__).resolve().parent.parent / "data" / "wallonia"
DEFAULT_COPIES = 20
REPEATS = 30
SEARCHES = {
    "words 'oak door'": {"q": "oak door"},
    "category and max price, by price": {
        "category": "doors",
        "max_price": "100",
        "sort": "price",
    },
    "within 60 km, by distance": {
        "lat": "50.8466",
        "lon": "4.3528",
        "within_km": "60",
        "sort": "distance",
    },
    "everything, page 3": {"page": "3", "page_size": "100"},
}


def main() -> None:
    """Import the copies, then print one line per measurement."""
    copies = int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_COPIES
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder) / "chain"
        anvil.start(data_dir, chain_id=31337, accounts=4)
        try:
            measure(data_dir, Path(folder), copies)
        finally:
            anvil.stop(data_dir)


def measure(data_dir: Path, folder: Path, copies: int) -> None:
    """Import, then time searches, the chain check and whole pages."""
    settings = Settings(data_dir=data_dir)
    ledger = open_ledger(settings, deploy_if_missing=True)
    started = time.perf_counter()
    for copy in range(copies):
        path = folder / f"copy-{copy}.csv"
        _write_copy(path, copy)
        import_file(ledger, path, "ACT-001", None, lambda: Progress(disable=True))
    lots = copies * 74
    print(f"Imported {lots} lots in {time.perf_counter() - started:.1f} s.")

    for name, params in SEARCHES.items():
        query = SearchQuery.from_params(params)
        _report(f"search, {name}", lambda q=query: search(ledger.engine, q))
    _report("chain check of lot 5", lambda: check_lot(settings, ledger.engine, 5))

    client = TestClient(create_app(settings))
    html = {"Accept": "text/html"}
    _report("passport page", lambda: client.get("/passport/5", headers=html))
    _report(
        "search page 'oak' within 60 km",
        lambda: client.get(
            "/search?q=oak&lat=50.8466&lon=4.3528&within_km=60", headers=html
        ),
    )


def _write_copy(path: Path, copy: int) -> None:
    with open(DATA / "inventory.csv", newline="", encoding="utf-8") as source:
        rows = list(csv.DictReader(source))
    with open(path, "w", newline="", encoding="utf-8") as target:
        writer = csv.DictWriter(target, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "item_id": f"{row['item_id']}-{copy}"})


def _report(name: str, action: Callable[[], object]) -> None:
    action()
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    print(
        f"{name}: median {statistics.median(times):.1f} ms, "
        f"max {max(times):.1f} ms over {REPEATS} runs"
    )


if __name__ == "__main__":
    main()
