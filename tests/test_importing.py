"""Inventory import onto a real anvil chain, mirrored into SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.progress import Progress

from ledger.context import open_ledger
from ledger.errors import InventoryRejected
from ledger.importing import import_file
from ledger.queries import search_lots, summary
from ledger.settings import Settings

DATA = Path(__file__).resolve().parent.parent / "data" / "wallonia"


def _quiet_progress() -> Progress:
    return Progress(disable=True)


def test_import_registers_once(chain: tuple[Path, str]) -> None:
    data_dir, _ = chain
    ledger = open_ledger(Settings(data_dir=data_dir), deploy_if_missing=True)

    first = import_file(
        ledger,
        DATA / "inventory.csv",
        "ACT-001",
        DATA / "buildings.csv",
        _quiet_progress,
    )
    second = import_file(
        ledger,
        DATA / "inventory.csv",
        "ACT-001",
        DATA / "buildings.csv",
        _quiet_progress,
    )

    assert (first.buildings_registered, first.lots_registered) == (3, 74)
    assert (second.buildings_registered, second.lots_registered) == (0, 0)
    assert second.lots_skipped == 74
    total, _ = search_lots(ledger.engine, limit=500)
    assert total == 74
    _, by_building = summary(ledger.engine)
    assert sum(line.mass_milligrams for line in by_building.values()) == 962_738_400_000


def test_rejected_file_registers_nothing(chain: tuple[Path, str]) -> None:
    data_dir, _ = chain
    ledger = open_ledger(Settings(data_dir=data_dir), deploy_if_missing=True)
    block = ledger.w3.eth.block_number

    with pytest.raises(InventoryRejected, match="line 13, column condition_grade"):
        import_file(
            ledger, DATA / "inventory_messy.csv", "ACT-001", None, _quiet_progress
        )

    assert ledger.w3.eth.block_number == block
    assert ledger.registry.functions.lotCount().call() == 0


def test_lot_split_between_buyers(chain: tuple[Path, str]) -> None:
    from ledger.custody import reference_recorded, transfer_lot
    from ledger.indexing import run_index
    from ledger.queries import lot_history

    data_dir, _ = chain
    ledger = open_ledger(Settings(data_dir=data_dir), deploy_if_missing=True)
    import_file(ledger, DATA / "inventory.csv", "ACT-001", None, _quiet_progress)

    transfer_lot(ledger, 5, "ACT-001", "ACT-004", "118", "sale", "invoice-1")
    transfer_lot(ledger, 5, "ACT-004", "ACT-008", "70", "sale", "invoice-2")
    transfer_lot(ledger, 5, "ACT-004", "ACT-009", "48", "transport-handoff", None)
    run_index(ledger, _quiet_progress)

    history = lot_history(ledger.engine, 5)
    assert [step.quantity for step in history.steps] == [118_000, 70_000, 48_000]
    assert sum(history.lot.holders.values()) == history.lot.quantity
    assert len(history.lot.holders) == 2
    assert reference_recorded(ledger, "invoice-2")
    assert not reference_recorded(ledger, "invoice-9")


def test_index_at_head_shows_no_progress(chain: tuple[Path, str]) -> None:
    from ledger.indexing import run_index

    data_dir, _ = chain
    ledger = open_ledger(Settings(data_dir=data_dir), deploy_if_missing=True)
    import_file(ledger, DATA / "inventory.csv", "ACT-001", None, _quiet_progress)
    ledger.w3.provider.make_request("anvil_mine", [3])
    bars: list[Progress] = []

    def recording_progress() -> Progress:
        bars.append(Progress(disable=True))
        return bars[-1]

    head = ledger.w3.eth.block_number
    first = run_index(ledger, recording_progress)
    second = run_index(ledger, recording_progress)

    assert len(bars) == 1
    assert first == second
    assert first <= head


def test_unknown_actor_beyond_dev_accounts_is_rejected(chain: tuple[Path, str]) -> None:
    from ledger.custody import signing_account
    from ledger.errors import InvalidInput

    data_dir, _ = chain
    ledger = open_ledger(Settings(data_dir=data_dir), deploy_if_missing=True)
    accounts = ledger.settings.anvil_accounts
    assert signing_account(ledger, f"ACT-{accounts - 1:03d}").address
    with pytest.raises(InvalidInput, match="not an organisation") as raised:
        signing_account(ledger, "ACT-999")
    assert f"ACT-{accounts - 1:03d}" in str(raised.value)
