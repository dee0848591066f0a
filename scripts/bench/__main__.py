"""Run every benchmark and print one table: ``python -m scripts.bench [--full]``.

The default scale keeps a run near ten minutes on two shared cores. ``--full`` runs
the sizes of a regional platform (1,000,000 events, 100,000 lots, 100,000 blocks);
each size flag overrides one figure of either scale.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import time
from pathlib import Path

from rich.console import Console

from scripts.bench import api, gas, indexer, writes
from scripts.bench.common import PROJECT_ROOT, Result, print_table

DEFAULT_SCALE = {
    "import_rows": 10_000,
    "heights": "0,1000,2500,5000",
    "events": 100_000,
    "lots": 10_000,
    "transfers": 100_000,
}
FULL_SCALE = {
    "import_rows": 10_000,
    "heights": "0,25000,50000,100000",
    "events": 1_000_000,
    "lots": 100_000,
    "transfers": 1_000_000,
}
AREAS = ("gas", "writes", "indexer", "api")


def main() -> None:
    """Parse the flags, run the selected areas and print the table and the curve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="run the full-scale sizes")
    parser.add_argument(
        "--only", default=",".join(AREAS), help=f"comma-separated areas: {AREAS}"
    )
    parser.add_argument("--import-rows", type=int, help="inventory rows to import")
    parser.add_argument(
        "--heights", help="chain heights of the write-rate curve, comma-separated"
    )
    parser.add_argument("--events", type=int, help="events to back-fill")
    parser.add_argument("--lots", type=int, help="lots in the API's mirror")
    parser.add_argument("--transfers", type=int, help="transfers in the API's mirror")
    args = parser.parse_args()
    scale = dict(FULL_SCALE if args.full else DEFAULT_SCALE)
    for key in scale:
        if getattr(args, key) is not None:
            scale[key] = getattr(args, key)
    areas = [area.strip() for area in args.only.split(",") if area.strip()]
    unknown = set(areas) - set(AREAS)
    if unknown:
        parser.error(f"unknown areas {sorted(unknown)}; choose from {AREAS}")

    console = Console(width=250)
    console.print(_machine())
    results: list[Result] = []
    curves: dict[str, list[writes.CurvePoint]] = {}
    started = time.perf_counter()
    if "gas" in areas:
        console.print("gas: registry and OpenZeppelin anchors")
        results += gas.run()[1]
    if "writes" in areas:
        console.print(f"writes: import, then the curve at heights {scale['heights']}")
        heights = [int(part) for part in str(scale["heights"]).split(",")]
        rows, curves = writes.run(int(scale["import_rows"]), heights)
        results += rows
    if "indexer" in areas:
        console.print(f"indexer: {scale['events']:,} events")
        results += indexer.run(int(scale["events"]))
    if "api" in areas:
        console.print(f"api: {scale['lots']:,} lots, {scale['transfers']:,} transfers")
        results += api.run(int(scale["lots"]), int(scale["transfers"]))

    print_table(results, console)
    for mode, points in curves.items():
        curve = ", ".join(
            f"{p.height:,}: {p.transfers_per_second:.0f} tx/s "
            f"(mined in {p.mine_seconds:.0f} s)"
            for p in points
        )
        console.print(f"write-rate curve, {mode}: {curve}")
    if "indexer" in areas:
        console.print(f"indexer profile: {indexer.PROFILE_PATH}")
    console.print(f"total {time.perf_counter() - started:.0f} s")


def _machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo").read_text()
    for line in cpuinfo.splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    meminfo = Path("/proc/meminfo").read_text()
    memory_kb = int(meminfo.splitlines()[0].split()[1])
    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    ).stdout.strip()
    return (
        f"machine: {cores} cores, {cpu}, {memory_kb / 1024**2:.1f} GiB RAM, "
        f"Python {platform.python_version()}, commit {commit}"
    )


if __name__ == "__main__":
    main()
