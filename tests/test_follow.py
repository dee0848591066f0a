"""Follow mode: 'reclaim index --follow' picks up new blocks while it runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from rich.progress import Progress

from ledger.context import open_ledger
from ledger.custody import transfer_lot
from ledger.importing import import_file
from ledger.queries import lot_history
from ledger.settings import Settings

DATA = Path(__file__).resolve().parent.parent / "data" / "wallonia"
WAIT_SECONDS = 30


def test_follow_indexes_new_transfer(chain: tuple[Path, str]) -> None:
    data_dir, _ = chain
    ledger = open_ledger(Settings(data_dir=data_dir), deploy_if_missing=True)
    import_file(
        ledger, DATA / "inventory.csv", "ACT-001", None, lambda: Progress(disable=True)
    )
    env = {
        **os.environ,
        "RECLAIM_DATA_DIR": str(data_dir),
        "RECLAIM_POLL_INTERVAL": "0.2",
    }
    follower = subprocess.Popen(
        [sys.executable, "-m", "ledger", "index", "--follow"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        transfer_lot(ledger, 7, "ACT-001", "ACT-003", "10", "consignment", "note-1")

        deadline = time.monotonic() + WAIT_SECONDS
        steps = lot_history(ledger.engine, 7).steps
        while not steps and time.monotonic() < deadline:
            time.sleep(0.1)
            steps = lot_history(ledger.engine, 7).steps
    finally:
        follower.terminate()
        follower.wait(timeout=10)

    assert len(steps) == 1
    assert steps[0].quantity == 10_000
    assert steps[0].block_number == ledger.w3.eth.block_number
