"""The live chain check of a lot, on a SQLite and a PostgreSQL mirror of anvil."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.progress import Progress
from rpc_fault_proxy import FaultPlan, fault_proxy
from sqlalchemy import update

from ledger.chain.accounts import dev_account
from ledger.chain_check import ChainCheck, check_lot
from ledger.context import Ledger, open_ledger
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


def _indexed_sample(data_dir: Path, tmp_path: Path) -> tuple[Ledger, int]:
    """Import the sample inventory, mine past it and index it.

    Returns the ledger and the block that registered the batch of lot 5.
    """
    settings = Settings(
        data_dir=data_dir, database_url=f"sqlite:///{tmp_path / 'mirror.sqlite3'}"
    )
    ledger = open_ledger(settings, deploy_if_missing=True, notice=lambda _text: None)
    import_file(ledger, DATA / "inventory.csv", "ACT-001", None, _quiet)
    _, _, registered_in = ledger.registry.functions.lotBatch(5).call()
    # The mirror's last block is a later one, which the proxy below still serves.
    ledger.w3.provider.make_request("anvil_mine", [hex(3)])
    run_index(ledger, _quiet)
    return ledger, int(registered_in)


def _check_through(ledger: Ledger, proxy_url: str, lot_id: int) -> ChainCheck:
    settings = Settings(
        data_dir=ledger.settings.data_dir,
        database_url=ledger.settings.database_url,
        rpc_url=proxy_url,
    )
    return check_lot(settings, ledger.engine, lot_id)


# The proxy forwards to the real node and changes only what each plan names. No
# real node rejects one log query or drops one block's logs on request.
@pytest.mark.parametrize(
    "plan",
    [FaultPlan(max_logs=0), "missing registration block"],
    ids=["log-query-refused", "log-missing"],
)
def test_check_without_batch_log_unavailable(
    chain: tuple[Path, str], tmp_path: Path, plan: FaultPlan | str
) -> None:
    data_dir, url = chain
    ledger, registered_in = _indexed_sample(data_dir, tmp_path)
    if not isinstance(plan, FaultPlan):
        plan = FaultPlan(missing_blocks=range(registered_in, registered_in + 1))
    with fault_proxy(url, FaultPlan()) as proxy_url:
        assert _check_through(ledger, proxy_url, 5).status == "agrees"

    with fault_proxy(url, plan) as proxy_url:
        badge = _check_through(ledger, proxy_url, 5)

    assert badge.status == "unavailable", badge.differences
    assert badge.differences == []
    assert "LotBatchRegistered" in (badge.notice or "")
