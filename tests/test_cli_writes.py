"""CLI write commands run as subprocesses against a real anvil chain."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, update
from web3 import Web3

from ledger.db.models import SyncState
from ledger.organisations import get_organisation
from tests.conftest import Market

WRONG_REGISTRY = "0x" + "0" * 36 + "dead"


def run_cli(
    market: Market, database_url: str, *arguments: str
) -> subprocess.CompletedProcess[str]:
    """Run ``reclaim`` on the market's data folder with another mirror database."""
    environment = {
        **os.environ,
        "RECLAIM_DATA_DIR": str(market.settings.data_dir),
        "RECLAIM_DATABASE_URL": database_url,
        # Rich wraps stderr at 80 columns without a terminal; keep messages whole.
        "COLUMNS": "500",
    }
    return subprocess.run(
        [sys.executable, "-m", "ledger", *arguments],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def broken_mirror(market: Market, folder: Path) -> str:
    """Copy the mirror with its checkpoint at another registry, so indexing fails."""
    source = market.settings.resolved_database_url.removeprefix("sqlite:///")
    copy = folder / "broken.sqlite3"
    # The backup API copies pages still in the write-ahead log, which a file copy
    # misses.
    with sqlite3.connect(source) as original, sqlite3.connect(copy) as target:
        original.backup(target)
    url = f"sqlite:///{copy}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(update(SyncState).values(contract_address=WRONG_REGISTRY))
    engine.dispose()
    return url


def balance(market: Market, actor_id: str, lot_id: int) -> int:
    organisation = get_organisation(market.ledger.engine, actor_id)
    address = Web3.to_checksum_address(organisation.chain_address)
    registry = market.ledger.registry
    return int(registry.functions.balanceOf(address, lot_id).call())


def test_transfer_survives_index_failure(market: Market, tmp_path: Path) -> None:
    url = broken_mirror(market, tmp_path)
    before = balance(market, "ACT-004", 3)

    result = run_cli(
        market, url, "transfer", "3", "--to", "ACT-004", "--quantity", "2",
        "--from", "ACT-001",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "Transferred 2 of lot 3 to ACT-004." in result.stdout
    assert "Transaction 0x" in result.stdout
    assert "is on chain" in result.stderr
    assert "reclaim index" in result.stderr
    assert "Nothing was changed" not in result.stderr
    assert balance(market, "ACT-004", 3) == before + 2_000


def test_install_survives_index_failure(market: Market, tmp_path: Path) -> None:
    url = broken_mirror(market, tmp_path)
    before = balance(market, "ACT-001", 3)

    result = run_cli(
        market, url, "install", "3", "--building", "DST-NAMUR-01", "--quantity", "1",
        "--from", "ACT-001",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "Installed 1 of lot 3 into DST-NAMUR-01." in result.stdout
    assert "Transaction 0x" in result.stdout
    assert "is on chain" in result.stderr
    assert balance(market, "ACT-001", 3) == before - 1_000


def test_transfer_indexes_after_write(market: Market) -> None:
    url = market.settings.resolved_database_url

    result = run_cli(
        market, url, "transfer", "3", "--to", "ACT-004", "--quantity", "1",
        "--from", "ACT-001",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "Transaction 0x" in result.stdout
    assert "warning" not in result.stderr


def test_install_over_balance_message(market: Market) -> None:
    url = market.settings.resolved_database_url

    result = run_cli(
        market, url, "install", "5", "--building", "DST-NAMUR-01",
        "--quantity", "100000", "--from", "ACT-001",
    )  # fmt: skip

    assert result.returncode == 1
    assert (
        "ACT-001 holds 118 pieces of lot 5; cannot install 100,000 pieces."
        in result.stderr
    )
    assert "ERC1155InsufficientBalance" not in result.stderr


def test_decision_without_role_message(market: Market) -> None:
    url = market.settings.resolved_database_url

    result = run_cli(
        market, url, "audit", "1", "--approve", "--reason", "ok", "--from", "ACT-004"
    )

    assert result.returncode == 1
    assert (
        "ACT-004 lacks the auditor role; grant it with 'reclaim grant auditor "
        "ACT-004'." in result.stderr
    )
    assert "AccessControlUnauthorizedAccount" not in result.stderr


def test_transfer_huge_quantity_rejected(market: Market) -> None:
    url = market.settings.resolved_database_url
    huge = "1" + "0" * 80

    result = run_cli(
        market, url, "transfer", "5", "--to", "ACT-004", "--quantity", huge,
        "--from", "ACT-001",
    )  # fmt: skip

    assert result.returncode == 1
    assert "is above the maximum quantity the registry can store" in result.stderr
    assert "Traceback" not in result.stderr
    assert "MismatchedABI" not in result.stderr


def test_grant_twice_sends_one_transaction(market: Market) -> None:
    mirror = market.settings.resolved_database_url
    first = run_cli(market, mirror, "grant", "inspector", "ACT-010")
    assert first.returncode == 0, first.stderr
    assert "Granted the inspector role" in first.stdout
    block = market.ledger.w3.eth.block_number

    second = run_cli(market, mirror, "grant", "inspector", "ACT-010")
    assert second.returncode == 0, second.stderr
    assert "already has the inspector role; skipped." in second.stdout
    assert market.ledger.w3.eth.block_number == block
