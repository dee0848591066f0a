"""Measure head-to-SQL latency of 'reclaim index --follow' on a fresh local anvil.

Run with ``.venv/bin/python scripts/follow_latency.py [TRANSFERS] [POLL_SECONDS]``.
The follower runs as its own process, as users run it. Each custody transfer is sent
at a random moment. Its latency runs from the arrival of its receipt to the moment its
row is readable in the SQLite mirror; anvil mines on arrival, so the transfer's block
is the chain's head then. Prints p50, p95 and the maximum.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eth_utils import keccak
from sqlalchemy import select

from ledger.chain import anvil
from ledger.chain.accounts import dev_account
from ledger.context import open_ledger
from ledger.db.models import Transfer
from ledger.settings import Settings
from ledger.units import ascii_bytes32
from ledger.writes import (
    CustodyReason,
    LotInput,
    register_buildings,
    register_lots,
    transfer_custody,
)

DEFAULT_TRANSFERS = 40
DEFAULT_POLL_SECONDS = 1.0


def main() -> None:
    """Start a chain and a follower, send transfers, print the latency figures."""
    transfers = int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_TRANSFERS
    poll = float(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_POLL_SECONDS
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        anvil.start(data_dir, chain_id=31337, accounts=4)
        try:
            latencies = measure(data_dir, transfers, poll)
        finally:
            anvil.stop(data_dir)
    latencies.sort()
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    print(
        f"follow mode, poll interval {poll:.2f} s, {len(latencies)} transfers: "
        f"head-to-SQL latency p50 {statistics.median(latencies):.3f} s, "
        f"p95 {p95:.3f} s, max {latencies[-1]:.3f} s"
    )


def measure(data_dir: Path, transfers: int, poll: float) -> list[float]:
    """Return the head-to-SQL latency of each transfer, in seconds."""
    ledger = open_ledger(
        Settings(data_dir=data_dir), deploy_if_missing=True, notice=lambda _t: None
    )
    building = ascii_bytes32("BLD-LATENCY")
    register_buildings(ledger.registry, ledger.sender(), [(building, keccak(b"b"))])
    lot = LotInput(building, ascii_bytes32("masonry"), 0, 10**12, 2300, keccak(b"l"))
    register_lots(ledger.registry, ledger.sender(), dev_account(1).address, [lot])

    environment = {
        **os.environ,
        "RECLAIM_DATA_DIR": str(data_dir),
        "RECLAIM_POLL_INTERVAL": str(poll),
    }
    follower = subprocess.Popen(
        [sys.executable, "-m", "ledger", "index", "--follow"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    holder = ledger.sender(dev_account(1))
    rng = random.Random(4)
    latencies = []
    try:
        _wait_for_rows(ledger, 0, time.monotonic() + 60)
        for number in range(1, transfers + 1):
            time.sleep(rng.uniform(0, poll))
            receipt = transfer_custody(
                ledger.registry,
                holder,
                dev_account(2).address,
                1,
                number,
                CustodyReason.SALE,
            )
            mined = time.monotonic()
            _wait_for_rows(ledger, number, mined + 60)
            latencies.append(time.monotonic() - mined)
            assert receipt["status"] == 1
    finally:
        follower.terminate()
        follower.wait(timeout=10)
    return latencies


def _wait_for_rows(ledger, count: int, deadline: float) -> None:  # type: ignore[no-untyped-def]
    """Wait until the mirror contains ``count`` transfers and a checkpoint."""
    while time.monotonic() < deadline:
        with ledger.engine.connect() as connection:
            rows = len(connection.scalars(select(Transfer.id)).all())
            started = connection.exec_driver_sql(
                "SELECT count(*) FROM sync_state"
            ).scalar()
        if rows >= count and started:
            return
        time.sleep(0.005)
    raise TimeoutError(f"The follower did not store {count} transfers in time.")


if __name__ == "__main__":
    main()
