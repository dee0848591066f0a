"""The web service over real HTTP, reading a mirror filled from a real anvil."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from indexer_support import serve_in_subprocess
from rich.progress import Progress

from ledger.chain.accounts import dev_account
from ledger.context import open_ledger
from ledger.custody import transfer_lot
from ledger.importing import import_file
from ledger.indexing import run_index
from ledger.settings import Settings

DATA = Path(__file__).resolve().parent.parent / "data" / "wallonia"


@pytest.fixture
def service(chain: tuple[Path, str]) -> Iterator[str]:
    data_dir, _ = chain
    ledger = open_ledger(Settings(data_dir=data_dir), deploy_if_missing=True)
    import_file(
        ledger, DATA / "inventory.csv", "ACT-001", None, lambda: Progress(disable=True)
    )
    transfer_lot(ledger, 5, "ACT-001", "ACT-004", "18", "sale", "invoice-1")
    run_index(ledger, lambda: Progress(disable=True))

    with serve_in_subprocess(data_dir) as url:
        yield url


def test_api_routes(service: str) -> None:
    health = httpx.get(f"{service}/health").json()
    assert health["last_block"] > 0
    assert health["chain"]["head"] >= health["last_block"]
    assert health["chain"]["detail"] is None

    history = httpx.get(f"{service}/lots/5/history").json()
    assert history["lot"]["quantity"] == "118000"
    assert history["lot"]["building_reference"] == "BLD-LGE-01"
    assert [step["quantity"] for step in history["steps"]] == ["18000"]
    assert history["steps"][0]["reason"] == "sale"

    doors = httpx.get(f"{service}/lots", params={"category": "doors"}).json()
    assert doors["total"] == 7
    capitals = httpx.get(f"{service}/lots", params={"category": "Doors"}).json()
    assert capitals["total"] == 7

    yard = dev_account(4).address
    for form in (yard, yard.lower(), "0x" + yard[2:].upper()):
        held = httpx.get(f"{service}/lots", params={"holder": form}).json()
        assert [lot["lot_id"] for lot in held["lots"]] == ["5"]

    building = httpx.get(f"{service}/buildings/BLD-NAM-02").json()
    assert len(building["lots"]) == 23

    assert httpx.get(f"{service}/lots/999/history").status_code == 404
    assert httpx.get(f"{service}/buildings/NOPE").status_code == 404
    assert httpx.get(f"{service}/docs").status_code == 200


def test_api_rejects_bad_checksum(service: str) -> None:
    yard = dev_account(4).address
    broken = yard[:-1] + ("a" if yard[-1] != "a" else "b")
    broken = broken[:2] + broken[2].swapcase() + broken[3:]
    response = httpx.get(f"{service}/lots", params={"holder": broken})
    assert response.status_code == 422
    assert "checksum" in response.json()["detail"]


def test_health_reports_stopped_chain(service: str, chain: tuple[Path, str]) -> None:
    from ledger.chain import anvil

    data_dir, _ = chain
    anvil.stop(data_dir)
    health = httpx.get(f"{service}/health", timeout=30).json()
    assert health["status"] == "ok"
    assert health["chain"]["head"] is None
    assert "not running" in health["chain"]["detail"]
