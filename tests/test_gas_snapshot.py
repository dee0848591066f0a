"""Gas of the registry against the committed gas-snapshot.json."""

from __future__ import annotations

import json
from pathlib import Path

from scripts.bench.gas import (
    SNAPSHOT_PATH,
    SNAPSHOT_TOLERANCE,
    UPDATE_COMMAND,
    compare_with_snapshot,
    measure_gas,
)


def test_gas_within_snapshot(chain: tuple[Path, str]) -> None:
    data_dir, url = chain
    snapshot = json.loads(SNAPSHOT_PATH.read_text())

    figures = measure_gas(url, data_dir)

    assert set(figures) == set(snapshot)
    problems = compare_with_snapshot(figures, snapshot)
    assert not problems, (
        f"Gas grew more than {SNAPSHOT_TOLERANCE:.0%} over {SNAPSHOT_PATH.name}:\n"
        + "\n".join(problems)
        + f"\nIf the increase is intended, update the snapshot with '{UPDATE_COMMAND}'."
    )


def test_snapshot_comparison_flags_growth() -> None:
    snapshot = {"registry.transfer.repeat": 1000, "registry.split_in_2": None}

    grown = compare_with_snapshot({"registry.transfer.repeat": 1021}, snapshot)
    within = compare_with_snapshot({"registry.transfer.repeat": 1020}, snapshot)
    new_figure = compare_with_snapshot({"registry.split_in_2": 90_000}, snapshot)

    assert len(grown) == 1
    assert "+2.1 %" in grown[0]
    assert within == []
    assert new_figure == []
