"""kill -9 of a running indexer at random points, then a restart.

The indexer runs as its own process with a small log range, so it stores many
batches. The test watches the checkpoint and kills the process with SIGKILL once it
passes a randomly chosen block, after a random extra delay that lands the kill inside
or between batch transactions. After each restart the mirror must equal a clean index.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from indexer_support import (
    clean_digest,
    new_indexer,
    open_test_ledger,
    register_test_lots,
    send_transfer,
)

from ledger.indexer.digest import mirror_digest
from ledger.indexer.store import read_checkpoint
from ledger.indexing import reset_mirror

TRIALS = 20
LOG_RANGE = 2
WAIT_SECONDS = 60


def _checkpoint_block(ledger) -> int | None:  # type: ignore[no-untyped-def]
    with ledger.engine.connect() as connection:
        checkpoint = read_checkpoint(connection)
    return None if checkpoint is None else checkpoint.last_block


def test_kill_nine_trials_match_clean_index(
    chain: tuple[Path, str], database_url: str, tmp_path: Path
) -> None:
    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url, log_range=LOG_RANGE)
    register_test_lots(ledger, 40, batch_size=4)
    for step in range(60):
        send_transfer(ledger, 1 + step % 40, 10 + step, receiver=2 + step % 3)
    head = ledger.w3.eth.block_number
    expected = clean_digest(ledger, tmp_path / "clean", head)
    start = ledger.deployment.block_number

    rng = random.Random(20261204)
    environment = {
        **os.environ,
        "RECLAIM_DATA_DIR": str(data_dir),
        "RECLAIM_DATABASE_URL": database_url,
        "RECLAIM_LOG_RANGE": str(LOG_RANGE),
        "RECLAIM_CONFIRMATIONS": "12",
    }
    interrupted = 0
    for _trial in range(TRIALS):
        reset_mirror(ledger.engine)
        kill_after = rng.randint(start, head - 1)
        process = subprocess.Popen(
            [sys.executable, "-m", "ledger", "index"],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + WAIT_SECONDS
            while time.monotonic() < deadline and process.poll() is None:
                block = _checkpoint_block(ledger)
                if block is not None and block >= kill_after:
                    break
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.05))
            process.send_signal(signal.SIGKILL)
        finally:
            process.wait(timeout=10)
        at_kill = _checkpoint_block(ledger)
        if at_kill is None or at_kill < head:
            interrupted += 1

        last = new_indexer(ledger, ledger.engine, log_range=LOG_RANGE).run_to_head()
        assert last == head
        assert mirror_digest(ledger.engine) == expected

    # The kills must have hit running indexers, not finished ones.
    assert interrupted >= TRIALS // 2
