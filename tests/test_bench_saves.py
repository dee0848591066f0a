"""The indexer benchmark finds the saver's saves that overlap its follow samples."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ledger.chain import anvil, saver
from scripts.bench.indexer import saves_between


def _saver_line(ended: float, seconds: float) -> str:
    """Return the log line the saver writes for a save that ended at ``ended``."""
    record = logging.LogRecord(
        "reclaim.saver",
        logging.INFO,
        __file__,
        0,
        saver.SAVED_MESSAGE,
        (1_200, 1_300_000_000 / 1e6, seconds, seconds / saver.MAX_SHARE),
        None,
    )
    record.created = ended
    record.msecs = (ended - int(ended)) * 1000
    return saver.log_formatter().format(record)


def test_saves_overlapping_window_returned(tmp_path: Path) -> None:
    start = time.time() - 1_000
    lines = [
        "anvil listening on 127.0.0.1:8545",
        _saver_line(start - 30.0, 12.0),  # ended before the window
        _saver_line(start + 5.0, 12.0),  # began before it, ended inside
        _saver_line(start + 20.0, 3.0),  # inside
        _saver_line(start + 70.0, 15.0),  # began inside, ended after
        _saver_line(start + 200.0, 15.0),  # after
    ]
    (tmp_path / anvil.LOG_FILE).write_text("\n".join(lines) + "\n")

    assert saves_between(tmp_path, start, start + 60.0) == [12.0, 3.0, 15.0]


def test_log_without_saves_returns_empty(tmp_path: Path) -> None:
    (tmp_path / anvil.LOG_FILE).write_text("eth_getBlockByNumber\n" * 3)

    assert saves_between(tmp_path, 0.0, time.time()) == []


@pytest.fixture
def berlin_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Set the process's local time zone to Europe/Berlin for the test."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    # Without the time zone database, TZ falls back to UTC and the test proves nothing.
    assert time.tzname == ("CET", "CEST")
    yield
    monkeypatch.undo()
    time.tzset()


def test_save_in_repeated_dst_hour_counted(tmp_path: Path, berlin_time: None) -> None:
    # Berlin's clocks went back from 03:00 to 02:00 on 2026-10-25, so 02:30 local
    # time came twice. This save ended at the second 02:30, 01:30 UTC. A real saver
    # cannot be run at that moment, so the line gets the time the saver's logging
    # would give it.
    ended = datetime(2026, 10, 25, 1, 30, tzinfo=UTC).timestamp()
    (tmp_path / anvil.LOG_FILE).write_text(_saver_line(ended, 12.0) + "\n")

    assert saves_between(tmp_path, ended - 60.0, ended + 60.0) == [12.0]
