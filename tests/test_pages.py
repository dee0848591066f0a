"""Web pages over real HTTP and in headless Chromium, on lots indexed from anvil.

The server is the real ``reclaim serve`` in a subprocess on a free 127.0.0.1 port,
reading a SQLite mirror filled from a real anvil chain. Browser tests drive Debian's
Chromium (``/usr/bin/chromium``) through Playwright; ``make setup`` installs it.
"""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import zxingcpp
from indexer_support import serve_in_subprocess
from PIL import Image
from playwright.sync_api import Browser, Page, sync_playwright
from rich.progress import Progress

from ledger.chain import anvil
from ledger.chain.accounts import dev_account
from ledger.chain.anvil import free_port
from ledger.chain_check import check_lot
from ledger.context import open_engine, open_ledger
from ledger.custody import transfer_lot
from ledger.importing import import_file
from ledger.indexing import run_index
from ledger.queries import indexer_status
from ledger.settings import Settings

DATA = Path(__file__).resolve().parent.parent / "data" / "wallonia"
CHROMIUM = Path("/usr/bin/chromium")
# Without these flags Chromium tries to reach update and sync services.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
HTML = {"Accept": "text/html,application/xhtml+xml"}
PHONE = {"width": 390, "height": 844}

FRENCH_LOT = """\
item_id,building_ref,building_name,address,postcode,city,latitude,longitude,\
element_category,description,material,dimensions_mm,quantity,unit,unit_mass_kg,\
total_mass_kg,condition_grade,location_in_building,dismantling_method,\
reuse_potential,hazard_notes,estimated_unit_price_eur,available_from,photo_refs
BXL-001,BLD-BXL-06,Hôtel de Maître Wiertz,Rue Wiertz 40,1050,Ixelles,50.8366,4.3745,\
doors,Porte intérieure en chêne à panneaux,oak,800x2040x40,8,pcs,32,256,C,Bel-étage,\
unscrew,medium,peinture au plomb possible,75.00,2026-04-01,BXL-001_01.jpg
"""
DOORS_LOT = 5
FRENCH_LOT_ID = 75
# Matches a search counts past its page. Low enough that a page of five of the 75
# lots shows "More than", high enough that the other searches here count exactly.
COUNT_AHEAD = 10


@dataclass(frozen=True)
class Site:
    """A running web service and the folder of its chain and mirror."""

    url: str
    data_dir: Path
    last_block: int

    @property
    def database(self) -> Path:
        return self.data_dir / "ledger.sqlite3"


def _quiet() -> Progress:
    return Progress(disable=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The sample inventory, one French lot and three custody moves, served."""
    root = tmp_path_factory.mktemp("pages")
    data_dir = root / "chain"
    extra = root / "extra.csv"
    extra.write_text(FRENCH_LOT, encoding="utf-8")
    anvil.start(data_dir, chain_id=31337, accounts=10)
    try:
        ledger = open_ledger(Settings(data_dir=data_dir), deploy_if_missing=True)
        sample, buildings = DATA / "inventory.csv", DATA / "buildings.csv"
        import_file(ledger, sample, "ACT-001", buildings, _quiet)
        import_file(ledger, extra, "ACT-002", None, _quiet)
        transfer_lot(ledger, DOORS_LOT, "ACT-001", "ACT-004", "118", "sale", "inv-1")
        transfer_lot(ledger, DOORS_LOT, "ACT-004", "ACT-008", "70", "sale", "inv-2")
        transfer_lot(
            ledger, DOORS_LOT, "ACT-004", "ACT-009", "48", "consignment", "cons-1"
        )
        last_block = run_index(ledger, _quiet)
        ledger.engine.dispose()
        with serve_in_subprocess(
            data_dir,
            RECLAIM_PUBLIC_URL="https://reclaim.test",
            RECLAIM_SEARCH_COUNT_AHEAD=str(COUNT_AHEAD),
        ) as url:
            yield Site(url, data_dir, last_block)
    finally:
        anvil.stop(data_dir)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


def _page_text(site: Site, path: str) -> str:
    response = httpx.get(f"{site.url}{path}", headers=HTML)
    assert response.status_code == 200, response.text
    return response.text


# ------------------------------------------------------------ over HTTP


def test_passport_badge_agrees(site: Site) -> None:
    text = _page_text(site, f"/passport/{DOORS_LOT}")
    assert f"Checked against the chain at block {site.last_block}" in text
    assert 'data-status="agrees"' in text
    assert "Tour des Bureaux Oubliés" in text
    assert "Liège" in text
    assert "1973" in text
    assert "No inspection recorded." in text
    assert text.count("<time>") == 4
    assert "Consignment</strong>, 48 pieces" in text
    assert f"{dev_account(8).address}</code>: 70 pieces" in text
    assert "https://reclaim.test/passport/5" in text


def test_passport_notes_newer_blocks(site: Site) -> None:
    info = anvil.read_info(site.data_dir)
    assert info is not None
    before = httpx.post(
        info.rpc_url,
        json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []},
    ).json()["result"]
    mined = {"jsonrpc": "2.0", "id": 2, "method": "evm_mine", "params": []}
    httpx.post(info.rpc_url, json=mined).raise_for_status()
    behind = int(before, 16) + 1 - site.last_block

    text = _page_text(site, f"/passport/{DOORS_LOT}")
    assert f"Checked against the chain at block {site.last_block}" in text
    assert f"The chain has {behind} newer block" in text


def test_passport_unknown_lot(site: Site) -> None:
    response = httpx.get(f"{site.url}/passport/999", headers=HTML)
    assert response.status_code == 404
    assert "Lot 999 is not in the mirror" in response.text
    for lot_id in ("0", "-3", str(2**256)):
        response = httpx.get(f"{site.url}/passport/{lot_id}", headers=HTML)
        assert response.status_code == 404
        assert f"Lot id {lot_id} is invalid" in response.text


def test_search_same_url_html_and_json(site: Site) -> None:
    params = {"q": "chêne porte"}
    page = httpx.get(f"{site.url}/search", params=params, headers=HTML)
    assert page.headers["content-type"].startswith("text/html")
    assert f'href="/passport/{FRENCH_LOT_ID}"' in page.text

    data = httpx.get(f"{site.url}/search", params=params).json()
    assert data["total"] == 1
    assert data["results"][0]["lot_id"] == str(FRENCH_LOT_ID)
    assert data["results"][0]["record"]["item_id"] == "BXL-001"


def test_search_json_distance(site: Site) -> None:
    params = {"lat": "50.8466", "lon": "4.3528", "sort": "distance", "page_size": "2"}
    data = httpx.get(f"{site.url}/search", params=params).json()
    assert data["total"] == 75
    assert data["page_count"] == 38
    assert data["results"][0]["lot_id"] == str(FRENCH_LOT_ID)
    assert round(data["results"][0]["distance_km"], 2) == 1.89
    assert data["results"][1]["record"]["item_id"] == "CRL-001"

    schema = httpx.get(f"{site.url}/openapi.json").json()
    listed = [p["name"] for p in schema["paths"]["/search"]["get"]["parameters"]]
    assert listed[:3] == ["q", "category", "material"]
    assert "within_km" in listed


def test_search_json_marks_stopped_count(site: Site) -> None:
    exact = httpx.get(f"{site.url}/search", params={"page_size": "100"}).json()
    assert exact["total"] == 75
    assert exact["total_exact"]
    assert exact["page_count"] == 1

    data = httpx.get(f"{site.url}/search", params={"page_size": "5"}).json()
    # Counted up to 5 + COUNT_AHEAD, then stopped: pages 1 to 4 are known to hold lots.
    assert data["total"] == 15
    assert not data["total_exact"]
    assert data["page_count"] == 4
    assert [lot["lot_id"] for lot in data["results"]] == ["1", "2", "3", "4", "5"]

    last = httpx.get(f"{site.url}/search", params={"page_size": "5", "page": "14"})
    data = last.json()
    assert data["total"] == 75
    assert data["total_exact"]
    assert data["page_count"] == 15


def test_search_page_past_last_links_back(site: Site) -> None:
    # 75 lots fill 15 pages of 5, so Previous leads to the last of them.
    text = _page_text(site, "/search?page_size=5&page=99")
    assert "75 lots found, page 99 of 15." in text
    assert '<a rel="prev" href="/search?page_size=5&amp;page=15">' in text
    assert 'rel="next"' not in text


def test_search_api_rejects_bad_values(site: Site) -> None:
    cases = {
        "page_size=500": "Page size 500 must be between 1 and 100.",
        "available_by=tomorrow": "available_by='tomorrow' is not a date",
        "sort=distance": "Sorting by distance needs a point",
    }
    for params, message in cases.items():
        response = httpx.get(f"{site.url}/search?{params}")
        assert response.status_code == 422
        assert message in response.json()["detail"]

    page = httpx.get(f"{site.url}/search?page_size=500", headers=HTML)
    assert page.status_code == 422
    assert "Page size 500 must be between 1 and 100." in page.text


def test_building_page_and_json(site: Site) -> None:
    text = _page_text(site, "/buildings/BLD-LGE-01")
    assert text.count('href="/passport/') == 26
    assert f"{dev_account(9).address}</code>: 48 pieces" in text
    assert 'href="/buildings/BLD-LGE-01/labels"' in text

    data = httpx.get(f"{site.url}/buildings/BLD-LGE-01").json()
    assert len(data["lots"]) == 26


def test_labels_route_svg(site: Site) -> None:
    response = httpx.get(f"{site.url}/buildings/BLD-NAM-02/labels")
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.text.count("<desc>https://reclaim.test/passport/") == 23
    assert 'height="297mm"' in response.text

    two_pages = httpx.get(f"{site.url}/buildings/BLD-LGE-01/labels").text
    assert two_pages.count("<desc>https://reclaim.test/passport/") == 26
    assert 'height="594mm"' in two_pages
    # The 25th label starts the second page, in the first column.
    assert '<g transform="translate(0 297.5)">' in two_pages
    assert httpx.get(f"{site.url}/buildings/NOPE/labels").status_code == 404


def test_labels_command_writes_sheet(site: Site, tmp_path: Path) -> None:
    out = tmp_path / "labels.svg"
    result = subprocess.run(
        [sys.executable, "-m", "ledger", "labels", "BLD-CRL-03", "--out", str(out)],
        env={
            **os.environ,
            "RECLAIM_DATA_DIR": str(site.data_dir),
            "RECLAIM_PUBLIC_URL": "https://labels.test/",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Wrote 25 labels" in result.stdout
    sheet = out.read_text()
    assert sheet.count("<desc>https://labels.test/passport/") == 25
    assert "https://labels.test/passport/50<" in sheet


# ------------------------------------------------------- chain warnings


def test_tampered_record_warns(site: Site) -> None:
    with sqlite3.connect(site.database) as connection:
        record_hash, body = connection.execute(
            "SELECT records.record_hash, body FROM records JOIN lots "
            "ON lots.record_hash = records.record_hash WHERE lots.lot_id = ?",
            (str(DOORS_LOT).zfill(78),),
        ).fetchone()
        tampered = body.replace('"condition_grade":"B"', '"condition_grade":"A"')
        assert tampered != body
        connection.execute(
            "UPDATE records SET body = ? WHERE record_hash = ?", (tampered, record_hash)
        )
    try:
        text = _page_text(site, f"/passport/{DOORS_LOT}")
        assert 'data-status="disagrees"' in text
        assert f"disagrees with the chain at block {site.last_block}" in text
        assert "record of the lot hashes to 0x" in text
        assert f"but the chain registered {record_hash}" in text
    finally:
        with sqlite3.connect(site.database) as connection:
            connection.execute(
                "UPDATE records SET body = ? WHERE record_hash = ?", (body, record_hash)
            )
    assert 'data-status="agrees"' in _page_text(site, f"/passport/{DOORS_LOT}")


def test_tampered_holding_warns(site: Site) -> None:
    holder = dev_account(8).address.lower()
    key = (str(DOORS_LOT).zfill(78), holder)
    with sqlite3.connect(site.database) as connection:
        connection.execute(
            "UPDATE holdings SET balance = ? WHERE lot_id = ? AND holder = ?",
            (str(75_000).zfill(78), *key),
        )
    try:
        text = _page_text(site, f"/passport/{DOORS_LOT}")
        assert 'data-status="disagrees"' in text
        assert (
            f"Holder {dev_account(8).address} holds 75 pieces in the mirror but "
            "70 pieces on chain." in text
        )
    finally:
        with sqlite3.connect(site.database) as connection:
            connection.execute(
                "UPDATE holdings SET balance = ? WHERE lot_id = ? AND holder = ?",
                (str(70_000).zfill(78), *key),
            )


def test_missing_holder_warns(site: Site) -> None:
    holder = dev_account(9).address.lower()
    key = (str(DOORS_LOT).zfill(78), holder)
    with sqlite3.connect(site.database) as connection:
        connection.execute("DELETE FROM holdings WHERE lot_id = ? AND holder = ?", key)
    try:
        text = _page_text(site, f"/passport/{DOORS_LOT}")
        assert "Holders that the mirror does not list hold 48 pieces on chain." in text
    finally:
        with sqlite3.connect(site.database) as connection:
            connection.execute(
                "INSERT INTO holdings (lot_id, holder, balance) VALUES (?, ?, ?)",
                (*key, str(48_000).zfill(78)),
            )
    assert 'data-status="agrees"' in _page_text(site, f"/passport/{DOORS_LOT}")


def test_replaced_checkpoint_block_warns(site: Site) -> None:
    forged = "0x" + "ab" * 32
    with sqlite3.connect(site.database) as connection:
        (indexed,) = connection.execute(
            "SELECT last_block_hash FROM sync_state"
        ).fetchone()
        connection.execute("UPDATE sync_state SET last_block_hash = ?", (forged,))
    try:
        text = _page_text(site, f"/passport/{DOORS_LOT}")
        assert 'data-status="disagrees"' in text
        assert f"Block {site.last_block} has hash {indexed} on chain" in text
        assert f"but the mirror indexed {forged}" in text
    finally:
        with sqlite3.connect(site.database) as connection:
            connection.execute("UPDATE sync_state SET last_block_hash = ?", (indexed,))
    assert 'data-status="agrees"' in _page_text(site, f"/passport/{DOORS_LOT}")


def test_unreachable_chain_notice(site: Site) -> None:
    closed_port = free_port()
    with serve_in_subprocess(
        site.data_dir, RECLAIM_RPC_URL=f"http://127.0.0.1:{closed_port}"
    ) as url:
        response = httpx.get(f"{url}/passport/{DOORS_LOT}", headers=HTML)
    assert response.status_code == 200
    assert 'data-status="unavailable"' in response.text
    assert "Not checked against the chain" in response.text
    assert f"The chain node at http://127.0.0.1:{closed_port} could not be" in (
        response.text
    )
    assert "Tour des Bureaux Oubliés" in response.text


def test_check_without_local_chain(site: Site, tmp_path: Path) -> None:
    engine = open_engine(Settings(data_dir=site.data_dir))
    check = check_lot(Settings(data_dir=tmp_path), engine, DOORS_LOT)
    assert check.status == "unavailable"
    assert check.notice is not None
    assert "The local chain is not running" in check.notice
    assert check_lot(Settings(data_dir=site.data_dir), engine, 999).status == (
        "unavailable"
    )
    status = indexer_status(engine)
    assert status is not None
    assert status["last_block"] == site.last_block


def test_passport_shows_inspection_and_revocation(
    chain: tuple[Path, str], tmp_path: Path
) -> None:
    from eth_utils import keccak
    from indexer_support import (
        new_indexer,
        open_test_ledger,
        register_test_lots,
        running_api,
    )

    from ledger.chain.accounts import dev_account
    from ledger.lifecycle import (
        ConditionGrade,
        HazardChecks,
        HazardStatus,
        grant_role,
        record_inspection,
        revoke_inspection,
    )

    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, f"sqlite:///{tmp_path / 'mirror.sqlite3'}")
    register_test_lots(ledger, 1)
    inspector = dev_account(3)
    grant_role(ledger.registry, ledger.sender(), "inspector", inspector.address)
    checks = HazardChecks(
        HazardStatus.ABSENT,
        HazardStatus.PRESENT,
        HazardStatus.ABSENT,
        HazardStatus.NOT_TESTED,
    )
    inspection = record_inspection(
        ledger.registry,
        ledger.sender(inspector),
        1,
        ConditionGrade.B,
        b"interior-door".ljust(32, b"\0"),
        checks,
        keccak(text="lab report"),
    )
    revoke_inspection(
        ledger.registry, ledger.sender(inspector), inspection, keccak(text="wrong lot")
    )
    new_indexer(ledger, ledger.engine).run_to_head()

    with running_api(ledger.settings) as base:
        page = httpx.get(f"{base}/passport/1", headers={"Accept": "text/html"}).text
    assert "No inspection recorded." not in page
    assert "<dt>Grade</dt><dd>B</dd>" in page
    assert "<dt>lead paint</dt><dd>present</dd>" in page
    assert "interior-door" in page
    assert "Revoked" in page
    assert "0x" + keccak(text="wrong lot").hex() in page
    # The test lots have no off-chain record, and the badge names it.
    assert "The mirror has no record stored under the hash" in page


# ------------------------------------------------------------- browser


def _no_horizontal_overflow(page: Page) -> bool:
    return bool(
        page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    )


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_browser_search_to_passport(site: Site, browser: Browser, phone: bool) -> None:
    if phone:
        context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    else:
        context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{site.url}/search")
        page.fill("form.filters input[name=q]", "Porte CHÊNE")
        page.click("form.filters button[type=submit]")
        page.wait_for_selector("#result-count")
        assert page.inner_text("#result-count").startswith("1 lot found")

        page.click(f'a[href="/passport/{FRENCH_LOT_ID}"]')
        page.wait_for_selector("#chain-check")
        assert page.get_attribute("#chain-check", "data-status") == "agrees"
        assert f"block {site.last_block}" in page.inner_text("#chain-check")
        assert page.locator("#timeline > li").count() == 1
        assert "Hôtel de Maître Wiertz" in page.inner_text("main")
        assert _no_horizontal_overflow(page)
    finally:
        context.close()


def test_browser_filters_and_paging(site: Site, browser: Browser) -> None:
    page = browser.new_page()
    try:
        page.goto(f"{site.url}/search?page_size=3")
        page.select_option("form.filters select[name=category]", "doors")
        page.select_option("form.filters select[name=sort]", "price")
        page.click("form.filters button[type=submit]")
        page.wait_for_selector("#result-count")
        assert page.inner_text("#result-count") == "8 lots found, page 1 of 3."
        page.click("a[rel=next]")
        page.wait_for_selector("#result-count")
        assert page.inner_text("#result-count") == "8 lots found, page 2 of 3."
        assert page.locator("ol.results > li").count() == 3
    finally:
        page.close()


def test_browser_pages_past_stopped_count(site: Site, browser: Browser) -> None:
    page = browser.new_page()
    try:
        page.goto(f"{site.url}/search?page_size=5")
        assert page.inner_text("#result-count") == "More than 15 lots found, page 1."
        page.click("a[rel=next]")
        page.wait_for_selector("#result-count")
        assert page.inner_text("#result-count") == "More than 20 lots found, page 2."
        assert page.locator("ol.results > li").count() == 5
        assert "/passport/6" in page.inner_html("ol.results")
    finally:
        page.close()


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/search?q=doors",
        f"/passport/{DOORS_LOT}",
        "/buildings/BLD-LGE-01",
        "/search?page_size=500",
    ],
)
def test_phone_layout_fits(site: Site, browser: Browser, path: str) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{site.url}{path}")
        assert _no_horizontal_overflow(page)
        viewport = page.evaluate(
            "document.querySelector('meta[name=viewport]').content"
        )
        assert "width=device-width" in viewport
    finally:
        context.close()


def test_phone_passport_timeline(site: Site, browser: Browser) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{site.url}/passport/{DOORS_LOT}")
        assert page.locator("#timeline > li").count() == 4
        assert page.get_attribute("#chain-check", "data-status") == "agrees"
        assert page.is_visible("#chain-check")
    finally:
        context.close()


def test_label_sheet_qr_decodes(site: Site, browser: Browser) -> None:
    # One A4 sheet (210 x 297 mm at 96 px per inch), drawn at 3 device pixels per px.
    a4 = {"width": 794, "height": 1123}
    context = browser.new_context(viewport=a4, device_scale_factor=3)
    page = context.new_page()
    try:
        page.goto(f"{site.url}/buildings/BLD-NAM-02/labels")
        png = page.screenshot()
    finally:
        context.close()
    image = Image.open(io.BytesIO(png)).convert("L")
    decoded = {result.text for result in zxingcpp.read_barcodes(image)}
    first = 27  # lot ids of BLD-NAM-02 run from 27 to 49
    expected = {f"https://reclaim.test/passport/{n}" for n in range(first, first + 23)}
    assert decoded == expected
