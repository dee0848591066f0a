"""Helpers for the indexer tests: quick test-chain writes and clean-index digests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from eth_utils import keccak
from sqlalchemy import Engine

from ledger.chain.accounts import dev_account
from ledger.context import Ledger, open_ledger
from ledger.contracts.artifacts import load_artifact
from ledger.db.engine import open_database
from ledger.indexer.digest import MirrorDigest, mirror_digest
from ledger.indexer.rpc import RpcClient
from ledger.indexer.sync import Indexer, IndexTarget
from ledger.settings import Settings
from ledger.writes import CustodyReason, LotInput, register_buildings, register_lots

BUILDING = b"BLD-TEST".ljust(32, b"\0")
CATEGORY = b"door".ljust(32, b"\0")
HOLDER = 1
PIECES = 0  # The contract's Unit.Piece.


def open_test_ledger(
    data_dir: Path, database_url: str, confirmations: int = 12, log_range: int = 2_000
) -> Ledger:
    """Open the ledger of the test chain in ``data_dir``, deploying the registry."""
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        confirmations=confirmations,
        log_range=log_range,
    )
    return open_ledger(settings, deploy_if_missing=True, notice=lambda _text: None)


def register_test_lots(ledger: Ledger, count: int, batch_size: int = 10) -> None:
    """Register the test building once and ``count`` lots held by dev account 1."""
    sender = ledger.sender()
    registry = ledger.registry
    if registry.functions.buildingRecordHash(BUILDING).call() == bytes(32):
        register_buildings(registry, sender, [(BUILDING, keccak(text="building"))])
    first = registry.functions.lotCount().call() + 1
    lots = [
        LotInput(
            BUILDING, CATEGORY, PIECES, 1_000_000, 25_000, keccak(text=f"lot {number}")
        )
        for number in range(first, first + count)
    ]
    register_lots(
        registry, sender, dev_account(HOLDER).address, lots, batch_size=batch_size
    )


def send_transfer(
    ledger: Ledger, lot_id: int, quantity: int, sender: int = HOLDER, receiver: int = 2
) -> None:
    """Move ``quantity`` thousandths of lot ``lot_id`` between two dev accounts."""
    transaction_sender = ledger.sender(dev_account(sender))
    call = ledger.registry.functions.transferCustody(
        transaction_sender.address,
        dev_account(receiver).address,
        lot_id,
        quantity,
        int(CustodyReason.SALE),
        keccak(text=f"note {lot_id} {quantity} {receiver}"),
    )
    transaction_sender.transact([call])


def new_indexer(
    ledger: Ledger,
    engine: Engine,
    url: str | None = None,
    log_range: int = 2_000,
    rpc: RpcClient | None = None,
) -> Indexer:
    """Return an indexer of the test registry into ``engine``."""
    return Indexer(
        rpc or RpcClient(url or ledger.url, retry_seconds=30),
        engine,
        IndexTarget(ledger.deployment.address, ledger.deployment.block_number),
        load_artifact()["abi"],
        finality_depth=ledger.settings.confirmations,
        log_range=log_range,
    )


def clean_digest(ledger: Ledger, folder: Path, until: int) -> MirrorDigest:
    """Index the chain into a new SQLite file up to ``until``; return its digest."""
    folder.mkdir(parents=True, exist_ok=True)
    index = len(list(folder.glob("clean-*.sqlite3")))
    engine = open_database(f"sqlite:///{folder / f'clean-{index}.sqlite3'}")
    try:
        new_indexer(ledger, engine).run_to_head(until=until)
        return mirror_digest(engine)
    finally:
        engine.dispose()


@contextmanager
def running_api(settings: Settings) -> Iterator[str]:
    """Serve the API for ``settings`` over real HTTP on 127.0.0.1; yield its URL."""
    import uvicorn

    from api.app import create_app
    from ledger.chain.anvil import free_port

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"The API did not start on port {port}.")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def serve_in_subprocess(
    data_dir: Path, *options: str, **environment: str
) -> Iterator[str]:
    """Run ``reclaim serve`` on a free port until /health responds; yield its URL.

    ``options`` are added to the serve command, such as ``--workers 2``;
    ``environment`` adds ``RECLAIM_*`` variables to the server's environment.
    """
    import os
    import subprocess
    import sys

    import httpx

    from ledger.chain.anvil import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "ledger", "serve", "--port", str(port), *options],
        env={**os.environ, "RECLAIM_DATA_DIR": str(data_dir), **environment},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/health", timeout=5).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
