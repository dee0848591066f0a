"""Invalid settings and database URLs get one clear line, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("RECLAIM_CONFIRMATIONS", "abc", "RECLAIM_CONFIRMATIONS='abc'"),
        ("RECLAIM_CONFIRMATIONS", "-1", "greater than or equal to 0"),
        ("RECLAIM_LOG_RANGE", "0", "RECLAIM_LOG_RANGE='0'"),
        ("RECLAIM_ANVIL_STATE_HISTORY", "0", "RECLAIM_ANVIL_STATE_HISTORY='0'"),
        ("RECLAIM_RPC_RETRY_SECONDS", "-5", "RECLAIM_RPC_RETRY_SECONDS='-5'"),
        ("RECLAIM_SEARCH_COUNT_AHEAD", "-1", "greater than or equal to 0"),
        ("RECLAIM_SEARCH_COUNT_AHEAD", "many", "RECLAIM_SEARCH_COUNT_AHEAD='many'"),
        # Past the 64-bit LIMIT of the count, every search would fail.
        ("RECLAIM_SEARCH_COUNT_AHEAD", str(2**63), "less than or equal to"),
        ("RECLAIM_DATABASE_URL", "nonsense", "'nonsense' is not a database URL"),
        (
            "RECLAIM_DATABASE_URL",
            "postgresql+psycopg://postgres@127.0.0.1:5432/reclaim_missing_database",
            'database "reclaim_missing_database" does not exist',
        ),
        ("RECLAIM_DATABASE_URL", "mysql://someone@127.0.0.1/x", "driver"),
    ],
)
def test_bad_setting_is_one_clear_error(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    environment = {
        **os.environ,
        "RECLAIM_DATA_DIR": str(tmp_path),
        variable: value,
        "COLUMNS": "400",
    }
    result = subprocess.run(
        [sys.executable, "-m", "ledger", "summary"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ")
    assert expected in " ".join(result.stderr.split())
