"""Shared fixtures: a real anvil chain with a deployed registry."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.chain import anvil
from ledger.chain.accounts import dev_account
from ledger.chain.connection import connect
from ledger.chain.transactions import RevertDecoder, TransactionSender
from ledger.context import Ledger
from ledger.contracts.artifacts import load_artifact
from ledger.contracts.deployment import Deployment, deploy
from ledger.settings import Settings


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


POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh mirror database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mirror.sqlite3'}"
        return

    import uuid

    import psycopg

    name = f"reclaim_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ------------------------------------------------------------------ marketplace

DATA = Path(__file__).resolve().parent.parent / "data" / "wallonia"

# A low scrypt cost keeps keystore tests fast; production uses eth-account's 2**18.
TEST_SCRYPT_N = 2**10


@dataclass
class Market:
    """A chain with the sample inventory, the sample organisations and API keys."""

    settings: Settings
    ledger: Ledger
    keys: dict[str, str]


def build_market(data_dir: Path, database_url: str | None = None) -> Market:
    """Import the sample inventory to ACT-001 and seed the organisations with keys."""
    from rich.progress import Progress

    from ledger.context import open_ledger
    from ledger.importing import import_file
    from ledger.organisations import create_api_key, seed_organisations

    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        keystore_scrypt_n=TEST_SCRYPT_N,
    )
    ledger = open_ledger(settings, deploy_if_missing=True)
    seed_organisations(settings, ledger.engine, DATA / "actors.csv")
    import_file(
        ledger, DATA / "inventory.csv", "ACT-001", None, lambda: Progress(disable=True)
    )
    keys = {
        actor: create_api_key(ledger.engine, actor)
        for actor in ("ACT-001", "ACT-004", "ACT-005", "ACT-008", "ACT-009")
    }
    return Market(settings, ledger, keys)


@pytest.fixture
def market(chain: tuple[Path, str]) -> Market:
    """The sample market on a fresh anvil chain and a SQLite mirror."""
    data_dir, _ = chain
    return build_market(data_dir)


@pytest.fixture
def served(market: Market) -> Iterator[str]:
    """Serve the app with uvicorn on a free port of 127.0.0.1."""
    import uvicorn

    from api.app import create_app
    from ledger.chain.anvil import free_port

    port = free_port()
    config = uvicorn.Config(
        create_app(market.settings), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start within 20 s")
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
