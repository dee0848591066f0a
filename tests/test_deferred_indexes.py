"""A bulk backfill builds the event tables' secondary indexes once, at the head."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
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
from ledger.db.engine import make_engine, open_database
from ledger.indexer import sync
from ledger.indexer.digest import mirror_digest
from ledger.indexer.indexes import deferrable_indexes, missing_indexes
from ledger.indexer.sync import BatchResult

ALL_NAMES = {str(index.name) for index in deferrable_indexes()}

BatchCallback = Callable[[BatchResult, int], None]


class Interrupted(Exception):
    """An error that stops a backfill between batches, as a crash would."""


@pytest.fixture(autouse=True)
def unfrozen_collector() -> Iterator[None]:
    """Start each test with no frozen objects, and leave none for later tests."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def _busy_chain(ledger: Ledger) -> int:
    """Register twelve lots and send six transfers, one block each; return the head."""
    register_test_lots(ledger, 12, batch_size=2)
    for lot_id in range(1, 7):
        send_transfer(ledger, lot_id, 10 * lot_id)
    return int(ledger.w3.eth.block_number)


def _missing_names(database_url: str) -> set[str]:
    # make_engine skips the migrations, so this check builds no index.
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return {str(index.name) for index in missing_indexes(connection)}
    finally:
        engine.dispose()


def _recorder(database_url: str, seen: list[set[str]]) -> BatchCallback:
    """Return a batch callback that appends the missing index names to ``seen``."""

    def record(_batch: BatchResult, _head: int) -> None:
        seen.append(_missing_names(database_url))

    return record


def _interrupt(_batch: BatchResult, _head: int) -> None:
    raise Interrupted()


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
    seen: list[set[str]] = []

    indexer = new_indexer(ledger, ledger.engine, log_range=4)
    last = indexer.run_to_head(_recorder(database_url, seen), bulk_backfill=True)

    assert last == head
    assert len(seen) > 2
    # PostgreSQL keeps its indexes during a bulk backfill.
    expected = ALL_NAMES if database_url.startswith("sqlite") else set()
    assert all(names == expected for names in seen)
    assert _missing_names(database_url) == set()
    assert gc.get_freeze_count() > 0
    assert mirror_digest(ledger.engine) == clean_digest(ledger, tmp_path, head)


def test_catch_up_keeps_indexes(
    chain: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database_url = f"sqlite:///{tmp_path / 'mirror.sqlite3'}"
    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url)
    _busy_chain(ledger)
    monkeypatch.setattr(sync, "BULK_BACKFILL_EVENTS", 1)
    seen: list[set[str]] = []

    # Without bulk_backfill, as the API catches up before a sale.
    new_indexer(ledger, ledger.engine, log_range=4).run_to_head(
        _recorder(database_url, seen)
    )

    assert len(seen) > 2
    assert all(names == set() for names in seen)
    assert gc.get_freeze_count() == 0


def test_short_backfill_keeps_indexes(
    chain: tuple[Path, str], database_url: str
) -> None:
    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url)
    _busy_chain(ledger)
    seen: list[set[str]] = []

    new_indexer(ledger, ledger.engine, log_range=4).run_to_head(
        _recorder(database_url, seen), bulk_backfill=True
    )

    assert len(seen) > 2
    assert all(names == set() for names in seen)


def _interrupted_backfill(
    chain: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Ledger, str, int]:
    """Stop a bulk backfill into SQLite after its first batch.

    Returns the ledger, the mirror's URL and the chain's head.
    """
    database_url = f"sqlite:///{tmp_path / 'mirror.sqlite3'}"
    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url)
    head = _busy_chain(ledger)
    monkeypatch.setattr(sync, "BULK_BACKFILL_EVENTS", 5)
    with pytest.raises(Interrupted):
        new_indexer(ledger, ledger.engine, log_range=4).run_to_head(
            _interrupt, bulk_backfill=True
        )
    return ledger, database_url, head


def test_interrupted_backfill_indexes_next_run(
    chain: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, database_url, head = _interrupted_backfill(chain, tmp_path, monkeypatch)
    assert _missing_names(database_url) == ALL_NAMES

    # A new indexer, with too few blocks left for a bulk backfill.
    monkeypatch.setattr(sync, "BULK_BACKFILL_EVENTS", 10_000)
    assert new_indexer(ledger, ledger.engine).run_to_head(bulk_backfill=True) == head
    assert _missing_names(database_url) == set()
    assert mirror_digest(ledger.engine) == clean_digest(ledger, tmp_path, head)


def test_open_database_builds_missing_indexes(
    chain: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, database_url, _ = _interrupted_backfill(chain, tmp_path, monkeypatch)
    assert _missing_names(database_url) == ALL_NAMES

    open_database(database_url).dispose()

    assert _missing_names(database_url) == set()


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
    seen: list[set[str]] = []

    new_indexer(ledger, ledger.engine).run_to_head(
        _recorder(database_url, seen), bulk_backfill=True
    )

    assert seen == [set()]
    assert gc.get_freeze_count() == 0
