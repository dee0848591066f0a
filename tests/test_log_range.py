"""Block ranges of the indexer shorten on a dense chain and keep every event."""

from __future__ import annotations

from pathlib import Path

import pytest
from indexer_support import (
    clean_digest,
    new_indexer,
    open_test_ledger,
    register_test_lots,
    send_transfer,
)

from ledger.indexer import sync
from ledger.indexer.digest import mirror_digest


def test_dense_range_shortens_next_reads(
    chain: tuple[Path, str],
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sync, "MAX_EVENTS_PER_RANGE", 10)
    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url)
    # Twelve one-lot batches of two events each: over 24 events in the first range.
    register_test_lots(ledger, 12, batch_size=1)
    indexer = new_indexer(ledger, ledger.engine, log_range=2_000)
    indexer.run_to_head()
    assert indexer.range < 2_000
    shortened = indexer.range

    # Sparse blocks afterwards, a transfer of two events every fifth block: ranges
    # are read and grow back while under the bound.
    for step in range(12):
        send_transfer(ledger, 1 + step % 12, 1 + step)
        ledger.w3.provider.make_request("anvil_mine", [hex(4)])
    batches_before = indexer.stats.batches
    last = indexer.run_to_head()

    assert indexer.stats.batches - batches_before > 1
    assert indexer.range > shortened
    assert mirror_digest(ledger.engine) == clean_digest(ledger, tmp_path, last)
