"""A bulk backfill builds the event tables' secondary indexes once, at the head."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from indexer_support import (
    clean_digest,
    new_indexer,
    open_test_ledger,
    register_test_lots,
    send_transfer,
)

from ledger.context import Ledger
from ledger.db.engine import open_database
from ledger.indexer import sync
from ledger.indexer.digest import mirror_digest
from ledger.indexer.indexes import deferrable_indexes, missing_indexes
from ledger.indexer.sync import BatchResult

ALL_NAMES = {str(index.name) for index in deferrable_indexes()}


class Interrupted(Exception):
    """An error that stops a backfill between batches, as a crash would."""


def _busy_chain(ledger: Ledger) -> int:
    """Write twelve lots and six transfers in separate blocks; return the head."""
    register_test_lots(ledger, 12, batch_size=2)
    for lot_id in range(1, 7):
        send_transfer(ledger, lot_id, 10 * lot_id)
    return int(ledger.w3.eth.block_number)


def _missing_names(ledger: Ledger, database_url: str) -> set[str]:
    engine = open_database(database_url)
    try:
        with engine.connect() as connection:
            return {str(index.name) for index in missing_indexes(connection)}
    finally:
        engine.dispose()


def test_bulk_backfill_indexes_at_head(
    chain: tuple[Path, str],
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url)
    head = _busy_chain(ledger)
    monkeypatch.setattr(sync, "BULK_BACKFILL_EVENTS", 5)
    missing_per_batch: list[set[str]] = []

    def look(_batch: BatchResult, _head: int) -> None:
        missing_per_batch.append(_missing_names(ledger, database_url))

    gc.unfreeze()
    indexer = new_indexer(ledger, ledger.engine, log_range=4)
    try:
        assert indexer.run_to_head(look) == head
        frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()

    assert len(missing_per_batch) > 2
    assert all(names == ALL_NAMES for names in missing_per_batch)
    assert _missing_names(ledger, database_url) == set()
    assert mirror_digest(ledger.engine) == clean_digest(ledger, tmp_path, head)
    assert frozen > 0


def test_short_backfill_keeps_indexes(
    chain: tuple[Path, str], database_url: str
) -> None:
    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url)
    _busy_chain(ledger)
    missing_per_batch: list[set[str]] = []

    def look(_batch: BatchResult, _head: int) -> None:
        missing_per_batch.append(_missing_names(ledger, database_url))

    new_indexer(ledger, ledger.engine, log_range=4).run_to_head(look)

    assert len(missing_per_batch) > 2
    assert all(names == set() for names in missing_per_batch)


def test_interrupted_backfill_indexes_next_run(
    chain: tuple[Path, str],
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url)
    head = _busy_chain(ledger)
    monkeypatch.setattr(sync, "BULK_BACKFILL_EVENTS", 5)

    def stop(_batch: BatchResult, _head: int) -> None:
        raise Interrupted()

    with pytest.raises(Interrupted):
        new_indexer(ledger, ledger.engine, log_range=4).run_to_head(stop)
    assert _missing_names(ledger, database_url) == ALL_NAMES

    # A new indexer, with too few blocks left for a bulk backfill.
    monkeypatch.setattr(sync, "BULK_BACKFILL_EVENTS", 10_000)
    assert new_indexer(ledger, ledger.engine).run_to_head() == head
    assert _missing_names(ledger, database_url) == set()
    assert mirror_digest(ledger.engine) == clean_digest(ledger, tmp_path, head)


def test_no_bulk_over_larger_mirror(
    chain: tuple[Path, str],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url)
    _busy_chain(ledger)
    new_indexer(ledger, ledger.engine).run_to_head()
    # Two new transfers after a mirror of dozens of events: building the indexes
    # again would read every stored row for them.
    send_transfer(ledger, 7, 5)
    send_transfer(ledger, 8, 5)
    monkeypatch.setattr(sync, "BULK_BACKFILL_EVENTS", 1)
    missing_per_batch: list[set[str]] = []

    def look(_batch: BatchResult, _head: int) -> None:
        missing_per_batch.append(_missing_names(ledger, database_url))

    new_indexer(ledger, ledger.engine).run_to_head(look)

    assert missing_per_batch == [set()]
