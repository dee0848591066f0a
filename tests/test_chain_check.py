"""The live chain check of a lot, on a SQLite and a PostgreSQL mirror of anvil."""

from __future__ import annotations

from pathlib import Path

from rich.progress import Progress
from sqlalchemy import update

from ledger.chain.accounts import dev_account
from ledger.chain_check import check_lot
from ledger.context import open_ledger
from ledger.custody import transfer_lot
from ledger.db.models import Holding, Lot
from ledger.importing import import_file
from ledger.indexing import run_index
from ledger.settings import Settings

DATA = Path(__file__).resolve().parent.parent / "data" / "wallonia"
DOORS_LOT = 5


def _quiet() -> Progress:
    return Progress(disable=True)


def test_check_agrees_then_differs(chain: tuple[Path, str], database_url: str) -> None:
    data_dir, _ = chain
    settings = Settings(data_dir=data_dir, database_url=database_url)
    ledger = open_ledger(settings, deploy_if_missing=True)
    import_file(ledger, DATA / "inventory.csv", "ACT-001", None, _quiet)
    transfer_lot(ledger, DOORS_LOT, "ACT-001", "ACT-004", "18", "sale", "inv-1")
    last_block = run_index(ledger, _quiet)

    check = check_lot(settings, ledger.engine, DOORS_LOT)
    assert check.status == "agrees"
    assert check.block_number == last_block
    assert check.differences == []

    yard = dev_account(4).address
    with ledger.engine.begin() as connection:
        connection.execute(
            update(Holding)
            .where(Holding.lot_id == DOORS_LOT, Holding.holder == yard.lower())
            .values(balance=20_000)
        )
        connection.execute(
            update(Lot).where(Lot.lot_id == DOORS_LOT).values(unit_mass_grams=1)
        )
    check = check_lot(settings, ledger.engine, DOORS_LOT)
    assert check.status == "disagrees"
    assert check.differences == [
        "The lot's unit mass in grams is 1 in the mirror but 24000 on chain.",
        f"Holder {yard} holds 20 pieces in the mirror but 18 pieces on chain.",
    ]
    ledger.engine.dispose()
