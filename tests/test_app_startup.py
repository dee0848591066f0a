"""Start-up of the web service's worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# Builds the app as a worker does and prints how many objects the garbage collector
# no longer scans. It runs in its own process so that the test process keeps its
# collector as it was.
WORKER_START = """
import gc
from api.app import create_app_from_environment
app = create_app_from_environment()
print(type(app).__name__, gc.get_freeze_count())
"""


def test_worker_freezes_startup_objects(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "RECLAIM_DATA_DIR": str(tmp_path),
        "RECLAIM_DATABASE_URL": f"sqlite:///{tmp_path / 'mirror.db'}",
    }
    result = subprocess.run(
        [sys.executable, "-c", WORKER_START],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    name, frozen = result.stdout.split()
    assert name == "FastAPI"
    # Every module, class and function loaded so far: tens of thousands of objects.
    assert int(frozen) > 10_000
