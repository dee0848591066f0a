"""Shared fixtures: a real anvil chain with a deployed registry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.chain import anvil
from ledger.chain.accounts import dev_account
from ledger.chain.connection import connect
from ledger.chain.transactions import RevertDecoder, TransactionSender
from ledger.contracts.artifacts import load_artifact
from ledger.contracts.deployment import Deployment, deploy


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """Start anvil in a fresh data folder; yield the folder and the RPC URL."""
    data_dir = tmp_path / "chain"
    info = anvil.start(data_dir, chain_id=31337, accounts=5)
    try:
        yield data_dir, info.rpc_url
    finally:
        anvil.stop(data_dir)


@pytest.fixture
def deployed(chain: tuple[Path, str]) -> tuple[TransactionSender, Deployment]:
    """Deploy the registry; yield the operator's sender and the deployment."""
    data_dir, url = chain
    sender = TransactionSender(
        connect(url), dev_account(0), RevertDecoder(load_artifact()["abi"])
    )
    return sender, deploy(sender, data_dir)
