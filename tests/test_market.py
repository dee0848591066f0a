"""Listings, reservations, sales and logistics on a real anvil and a real mirror."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from conftest import Market, build_market
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.chain.accounts import dev_account
from ledger.custody import transfer_lot
from ledger.db.engine import open_database
from ledger.db.models import ApiKey, Base, Transfer, is_modelled
from ledger.deliveries import Logistics
from ledger.errors import (
    AuthenticationFailed,
    ConfigurationError,
    Conflict,
    InvalidInput,
    LedgerError,
    NotFound,
    PermissionDenied,
)
from ledger.indexing import run_index
from ledger.logistics import Place, haversine_km, parse_place
from ledger.market import (
    ListingChanges,
    ListingInput,
    cancel_reservation,
    confirm_sale,
    create_listing,
    get_listing,
    get_reservation,
    listing_valuation,
    reserve,
    update_listing,
    withdraw_listing,
)
from ledger.organisations import (
    add_organisation,
    authenticate,
    get_organisation,
    revoke_api_key,
    unlock_account,
)
from ledger.settings import Settings

DOORS = 5  # LGE-005: 118 doors of 24 kg, estimated at 45.00 EUR each
YARD = ListingInput(
    quantity="40",
    price_per_unit="39.50",
    location_name="Herstal yard",
    latitude="50.6640",
    longitude="5.6310",
    pickup_conditions="Weekdays 8-16, forklift on site",
)


def _no_progress() -> object:
    from rich.progress import Progress

    return Progress(disable=True)


def _balance(market: Market, actor: str, lot_id: int = DOORS) -> int:
    address = get_organisation(market.ledger.engine, actor).chain_address
    registry = market.ledger.registry
    return int(
        registry.functions.balanceOf(
            market.ledger.w3.to_checksum_address(address), lot_id
        ).call()
    )


def test_sale_lifecycle_ends_on_chain(market: Market) -> None:
    engine = market.ledger.engine
    seller = get_organisation(engine, "ACT-001")
    buyer = get_organisation(engine, "ACT-008")

    listing = create_listing(engine, seller, DOORS, YARD)
    assert listing.available == 40_000
    assert listing.holding == 118_000

    reservation = reserve(engine, buyer, listing.id, "30", hours=48)
    assert reservation.status == "active"
    assert get_listing(engine, listing.id).available == 10_000

    sale = confirm_sale(
        market.ledger,
        seller,
        reservation.id,
        Logistics(transporter="ACT-005", delivery="BLD-NAM-02"),
    )
    assert sale.reservation.status == "confirmed"
    assert _balance(market, "ACT-008") == 30_000
    assert _balance(market, "ACT-001") == 88_000

    after = get_listing(engine, listing.id)
    assert after.sold == 30_000
    assert after.reserved == 0
    assert after.holding == 88_000
    assert after.available == 10_000

    # The indexed transfer carries the delivery note's SHA-256 hash as its reference.
    note_hash = sale.reservation.delivery_note_hash
    assert note_hash is not None
    with Session(engine) as session:
        transfer = session.execute(
            select(Transfer).where(Transfer.reference_hash == note_hash)
        ).scalar_one()
    assert transfer.quantity == 30_000
    assert transfer.to_address == buyer.chain_address
    note_path = market.settings.data_dir / "delivery-notes" / f"{note_hash[2:]}.json"
    body = note_path.read_bytes()
    assert "0x" + hashlib.sha256(body).hexdigest() == note_hash
    note = json.loads(body)
    assert note["sale"]["reservation_id"] == reservation.id
    assert note["sale"]["total_eur"] == "1185.00"
    assert note["transporter"]["id"] == "ACT-005"
    assert note["pickup"]["name"] == "Herstal yard"
    assert note["transport"]["factor"]["vehicle"] == "hgv_diesel_all"
    assert "DESNZ" in note["transport"]["factor"]["source"]


def test_sale_not_confirmed_twice(market: Market) -> None:
    engine = market.ledger.engine
    seller = get_organisation(engine, "ACT-001")
    listing = create_listing(engine, seller, DOORS, YARD)
    reservation = reserve(
        engine, get_organisation(engine, "ACT-009"), listing.id, "5", hours=1
    )
    confirm_sale(market.ledger, seller, reservation.id)
    with pytest.raises(Conflict, match="is confirmed"):
        confirm_sale(market.ledger, seller, reservation.id)
    assert _balance(market, "ACT-009") == 5_000


def test_expired_reservation_frees_quantity(market: Market) -> None:
    engine = market.ledger.engine
    seller = get_organisation(engine, "ACT-001")
    buyer = get_organisation(engine, "ACT-008")
    now = int(time.time())
    listing = create_listing(engine, seller, DOORS, YARD, now=now)
    reservation = reserve(engine, buyer, listing.id, "40", hours=2, now=now)
    assert get_listing(engine, listing.id, now=now).available == 0
    with pytest.raises(Conflict, match="0 is available"):
        reserve(engine, get_organisation(engine, "ACT-009"), listing.id, "1", 1, now)

    later = now + 2 * 3600
    assert get_listing(engine, listing.id, now=later).available == 40_000
    assert get_reservation(engine, buyer, reservation.id, now=later).status == "expired"
    with pytest.raises(Conflict, match="is expired"):
        confirm_sale(market.ledger, seller, reservation.id, now=later)
    assert _balance(market, "ACT-008") == 0


def test_listing_limited_to_holding(market: Market) -> None:
    engine = market.ledger.engine
    seller = get_organisation(engine, "ACT-001")
    too_many = ListingInput("118.5", "10", "Herstal yard")
    with pytest.raises(Conflict, match="holds 118, of which 0 is already listed"):
        create_listing(engine, seller, DOORS, too_many)

    create_listing(engine, seller, DOORS, ListingInput("100", "10", "Herstal yard"))
    with pytest.raises(Conflict, match="at most 18 can be listed"):
        create_listing(engine, seller, DOORS, ListingInput("19", "10", "Ciney"))
    second = create_listing(engine, seller, DOORS, ListingInput("18", "10", "Ciney"))
    assert second.available == 18_000

    with pytest.raises(PermissionDenied, match="holds none of lot 5"):
        create_listing(engine, get_organisation(engine, "ACT-004"), DOORS, YARD)


def test_listing_rejects_bad_fields(market: Market) -> None:
    engine = market.ledger.engine
    seller = get_organisation(engine, "ACT-001")
    cases = [
        (ListingInput("0", "10", "yard"), "greater than zero"),
        (ListingInput("1.0001", "10", "yard"), "3 decimals"),
        (ListingInput("1", "-3", "yard"), "between 0 and"),
        (ListingInput("1", "10", "  "), "location name is empty"),
        (ListingInput("1", "10", "yard\x00"), "control characters"),
        (ListingInput("1", "10", "yard", latitude="91", longitude="5"), "between -90"),
        (ListingInput("1", "10", "yard", latitude="50"), "both latitude"),
    ]
    for data, message in cases:
        with pytest.raises(InvalidInput, match=message):
            create_listing(engine, seller, DOORS, data)


def test_update_and_withdraw_guard_reservations(market: Market) -> None:
    engine = market.ledger.engine
    seller = get_organisation(engine, "ACT-001")
    buyer = get_organisation(engine, "ACT-009")
    listing = create_listing(engine, seller, DOORS, YARD)
    reservation = reserve(engine, buyer, listing.id, "25", hours=4)

    with pytest.raises(Conflict, match="25 reserved"):
        update_listing(engine, seller, listing.id, ListingChanges(quantity="24"))
    with pytest.raises(Conflict, match="at most 118 can remain listed"):
        update_listing(engine, seller, listing.id, ListingChanges(quantity="119"))
    with pytest.raises(PermissionDenied):
        update_listing(engine, buyer, listing.id, ListingChanges(price_per_unit="1"))

    changed = update_listing(
        engine, seller, listing.id, ListingChanges(quantity="30", price_per_unit="41")
    )
    assert changed.listed == 30_000
    assert changed.price_cents == 4100
    assert changed.available == 5_000

    with pytest.raises(Conflict, match="reserved"):
        withdraw_listing(engine, seller, listing.id)
    cancel_reservation(engine, buyer, reservation.id)
    withdrawn = withdraw_listing(engine, seller, listing.id)
    assert withdrawn.withdrawn_at is not None
    assert withdrawn.available == 0
    with pytest.raises(Conflict, match="withdrawn"):
        reserve(engine, buyer, listing.id, "1", hours=1)


def test_transfer_outside_market_caps_availability(market: Market) -> None:
    engine = market.ledger.engine
    seller = get_organisation(engine, "ACT-001")
    listing = create_listing(engine, seller, DOORS, YARD)

    transfer_lot(market.ledger, DOORS, "ACT-001", "ACT-004", "100", "sale", "invoice-9")
    run_index(market.ledger, _no_progress)  # type: ignore[arg-type]

    view = get_listing(engine, listing.id)
    assert view.holding == 18_000
    assert view.available == 18_000
    with pytest.raises(Conflict, match="18 is available"):
        reserve(engine, get_organisation(engine, "ACT-008"), listing.id, "19", 1)


def test_valuation_uses_inventory_price(market: Market) -> None:
    engine = market.ledger.engine
    listing = create_listing(engine, get_organisation(engine, "ACT-001"), DOORS, YARD)
    valuation = listing_valuation(engine, listing.id)
    assert valuation["asking_price_per_unit_eur"] == "39.50"
    assert valuation["asking_total_eur"] == "1580.00"
    assert valuation["estimated_unit_price_eur"] == "45.00"
    assert valuation["estimated_total_eur"] == "1800.00"
    assert valuation["asking_to_estimate_ratio"] == "0.88"
    assert valuation["new_product_price_eur"] is None
    assert "not given" in valuation["sources"]["new_product_price"]


def test_keystores_hide_private_keys(
    market: Market, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ledger = market.ledger
    engine = ledger.engine
    # An id outside ACT-nnn gets a fresh random key, unlike anvil's printed dev keys.
    yard = add_organisation(
        market.settings, engine, "Test Yard Demo", "yard", actor_id="YARD-TEST"
    )
    key = unlock_account(market.settings, yard.chain_address).key.hex()
    key = key.removeprefix("0x")
    _fund(market, yard.chain_address)
    transfer_lot(ledger, DOORS, "ACT-001", "YARD-TEST", "10", "sale", "invoice-7")
    run_index(ledger, _no_progress)  # type: ignore[arg-type]

    # The yard signs a sale with the key from its keystore.
    listing = create_listing(
        engine, yard, DOORS, ListingInput("10", "30", "Ciney depot")
    )
    reservation = reserve(
        engine, get_organisation(engine, "ACT-008"), listing.id, "4", hours=1
    )
    confirm_sale(ledger, yard, reservation.id)
    assert _balance(market, "ACT-008") == 4_000
    assert _balance(market, "YARD-TEST") == 6_000

    keystore = market.settings.data_dir / "keystores" / f"{yard.chain_address}.json"
    assert keystore.stat().st_mode & 0o077 == 0
    files = [path for path in market.settings.data_dir.rglob("*") if path.is_file()]
    assert keystore in files
    for path in files:
        assert key.encode() not in path.read_bytes().lower(), path
    assert key not in caplog.text.lower()

    wrong = Settings(
        data_dir=market.settings.data_dir, keystore_passphrase="not the passphrase"
    )
    with pytest.raises(ConfigurationError, match="does not open"):
        unlock_account(wrong, yard.chain_address)


def _fund(market: Market, address: str) -> None:
    """Send 1 ether from anvil's first development account to ``address``."""
    w3 = market.ledger.w3
    funder = dev_account(0)
    transaction = {
        "to": w3.to_checksum_address(address),
        "value": 10**18,
        "gas": 21_000,
        "maxFeePerGas": 10**11,
        "maxPriorityFeePerGas": 10**9,
        "nonce": w3.eth.get_transaction_count(funder.address, "pending"),
        "chainId": w3.eth.chain_id,
    }
    signed = funder.sign_transaction(transaction)
    w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(signed.raw_transaction)
    )


def test_remote_chain_needs_passphrase(tmp_path: Path) -> None:
    from ledger.organisations import keystore_passphrase

    settings = Settings(data_dir=tmp_path, rpc_url="http://127.0.0.1:1")
    with pytest.raises(ConfigurationError, match="RECLAIM_KEYSTORE_PASSPHRASE"):
        keystore_passphrase(settings)


def test_api_keys_stored_hashed(market: Market) -> None:
    engine = market.ledger.engine
    key = market.keys["ACT-004"]
    with Session(engine) as session:
        rows = session.execute(select(ApiKey)).scalars().all()
    assert all(key not in (row.key_hash, row.prefix) for row in rows)
    prefix = key.split("_")[1]
    stored = next(row for row in rows if row.prefix == prefix)
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()

    assert authenticate(engine, key).actor_id == "ACT-004"
    with pytest.raises(AuthenticationFailed, match="invalid or revoked"):
        authenticate(engine, key[:-1] + ("A" if key[-1] != "A" else "B"))
    revoke_api_key(engine, prefix)
    with pytest.raises(AuthenticationFailed, match="invalid or revoked"):
        authenticate(engine, key)


def test_haversine_matches_cosine_law() -> None:
    liege = Place("Liège", Decimal("50.6379"), Decimal("5.5681"))
    namur = Place("Namur", Decimal("50.4652"), Decimal("4.8621"))
    # The spherical law of cosines gives the same great-circle distance.
    lat1, lon1, lat2, lon2 = map(math.radians, (50.6379, 5.5681, 50.4652, 4.8621))
    central = math.acos(
        math.sin(lat1) * math.sin(lat2)
        + math.cos(lat1) * math.cos(lat2) * math.cos(lon2 - lon1)
    )
    expected = round(6371.0088 * central, 1)
    assert float(haversine_km(liege, namur)) == pytest.approx(expected, abs=0.1)
    assert haversine_km(liege, liege) == 0


def test_place_parsing(market: Market) -> None:
    engine = market.ledger.engine
    building = parse_place(engine, "BLD-NAM-02")
    assert (building.latitude, building.longitude) == (
        Decimal("50.4652"),
        Decimal("4.8621"),
    )
    point = parse_place(engine, " 50.5 , -4.25 ")
    assert (point.latitude, point.longitude) == (Decimal("50.5"), Decimal("-4.25"))
    for text in ("Nowhere", "95,5", "50,181"):
        with pytest.raises(InvalidInput):
            parse_place(engine, text)


def test_models_match_migrations(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'schema.sqlite3'}")
    with engine.connect() as connection:
        differences = compare_metadata(
            MigrationContext.configure(connection, opts={"include_name": is_modelled}),
            Base.metadata,
        )
    assert differences == []


@pytest.mark.postgres
def test_sale_on_postgresql(chain: tuple[Path, str], tmp_path: Path) -> None:
    import uuid

    import psycopg
    from conftest import POSTGRES_ADMIN_URL

    name = f"reclaim_market_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        data_dir, _ = chain
        market = build_market(
            data_dir, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        )
        engine = market.ledger.engine
        seller = get_organisation(engine, "ACT-001")
        listing = create_listing(engine, seller, DOORS, YARD)
        reservation = reserve(
            engine, get_organisation(engine, "ACT-008"), listing.id, "12.5", 1
        )
        confirm_sale(market.ledger, seller, reservation.id)
        view = get_listing(engine, listing.id)
        assert view.sold == 12_500
        assert view.available == 27_500
        assert _balance(market, "ACT-008") == 12_500
        engine.dispose()
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ------------------------------------------------------------- over a socket


def test_sale_over_http(market: Market, served: str) -> None:
    seller = {"Authorization": f"Bearer {market.keys['ACT-001']}"}
    buyer = {"X-API-Key": market.keys["ACT-009"]}
    with httpx.Client(base_url=served, timeout=60) as client:
        created = client.post(
            "/listings",
            headers=seller,
            json={
                "lot_id": DOORS,
                "quantity": "20",
                "price_per_unit": "40.00",
                "location_name": "Herstal yard",
                "latitude": "50.6640",
                "longitude": "5.6310",
                "available_from": "2026-02-16",
            },
        )
        assert created.status_code == 201, created.text
        listing = created.json()
        assert listing["quantity_available"] == "20"

        reserved = client.post(
            f"/listings/{listing['id']}/reservations",
            headers=buyer,
            json={"quantity": "7.5", "hours": 24},
        )
        assert reserved.status_code == 201, reserved.text
        reservation = reserved.json()

        confirmed = client.post(
            f"/reservations/{reservation['id']}/confirm",
            headers=seller,
            json={"transporter": "ACT-006", "delivery": "50.7167,4.6000"},
        )
        assert confirmed.status_code == 200, confirmed.text
        sale = confirmed.json()
        assert sale["reservation"]["status"] == "confirmed"
        assert "kg CO2e" in sale["transport"]

        note = client.get(sale["delivery_note_path"])
        assert note.status_code == 200
        assert (
            "0x" + hashlib.sha256(note.content).hexdigest()
            == sale["delivery_note_hash"]
        )

        mine = client.get("/reservations", headers=buyer).json()["reservations"]
        assert [row["status"] for row in mine] == ["confirmed"]
        theirs = client.get("/reservations", headers=seller).json()["reservations"]
        assert [row["id"] for row in theirs] == [reservation["id"]]
        outsider = {"X-API-Key": market.keys["ACT-004"]}
        assert client.get("/reservations", headers=outsider).json() == {
            "reservations": []
        }
        assert client.get("/reservations").status_code == 401

        after = client.get(f"/listings/{listing['id']}").json()
        assert after["quantity_sold"] == "7.5"
        assert after["quantity_available"] == "12.5"
        history = client.get(f"/lots/{DOORS}/history").json()
        assert history["steps"][-1]["reference_hash"] == sale["delivery_note_hash"]
        assert history["steps"][-1]["quantity"] == "7500"
    assert _balance(market, "ACT-009") == 7_500


def test_cli_org_listing_and_transfer(market: Market) -> None:
    from typer.testing import CliRunner

    from ledger.cli import app

    runner = CliRunner()
    data_dir = str(market.settings.data_dir)
    env = {"RECLAIM_KEYSTORE_SCRYPT_N": "1024"}

    def run(*arguments: str) -> str:
        result = runner.invoke(app, ["--data-dir", data_dir, *arguments], env=env)
        assert result.exit_code == 0, (arguments, result.output, result.exception)
        return result.output

    assert "ACT-005" in run("org", "list")
    key = run("org", "key", "ACT-004").split()[-1]
    assert authenticate(market.ledger.engine, key).actor_id == "ACT-004"

    added = run(
        "listing", "add", "5", "--org", "ACT-001", "--quantity", "10",
        "--price", "42.50", "--location", "Herstal yard",
    )  # fmt: skip
    assert "Listing 1: lot 5 by ACT-001" in added
    assert "42.50" in run("listing", "list", "--lot", "5")

    output = run(
        "transfer", "5", "--from", "ACT-001", "--to", "ACT-004", "--quantity", "3",
        "--transporter", "ACT-005", "--pickup", "BLD-LGE-01",
        "--delivery", "50.2947,5.1003", "--vehicle", "hgv_diesel_rigid_over17t",
    )  # fmt: skip
    assert "72.000 kg moved" in output
    assert "0.17146 kg CO2e/t·km" in output
    assert "DESNZ" in output
    note_hash = output.split("Delivery note ")[1].split()[0]
    note = market.settings.data_dir / "delivery-notes" / f"{note_hash[2:]}.json"
    assert json.loads(note.read_bytes())["transporter"]["id"] == "ACT-005"
    assert _balance(market, "ACT-004") == 3_000

    assert "matches transfer" in run("note", "check", str(note))
    assert "matches transfer" in run("note", "check", note_hash)
    changed = note.parent / "changed.json"
    changed.write_bytes(note.read_bytes().replace(b'"3"', b'"30"'))
    result = runner.invoke(
        app, ["--data-dir", data_dir, "note", "check", str(changed)], env=env
    )
    assert isinstance(result.exception, LedgerError)
    assert "No indexed transfer has the reference" in str(result.exception)


def test_concurrent_reservations_never_oversell(market: Market, served: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    engine = market.ledger.engine
    listing = create_listing(engine, get_organisation(engine, "ACT-001"), DOORS, YARD)
    buyers = ["ACT-004", "ACT-005", "ACT-008", "ACT-009"] * 2

    def attempt(actor: str) -> int:
        response = httpx.post(
            f"{served}/listings/{listing.id}/reservations",
            headers={"X-API-Key": market.keys[actor]},
            json={"quantity": "10", "hours": 1},
            timeout=60,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=len(buyers)) as pool:
        statuses = sorted(pool.map(attempt, buyers))

    # 40 doors are listed, so exactly four reservations of 10 fit.
    assert statuses == [201] * 4 + [409] * 4
    view = get_listing(engine, listing.id)
    assert view.reserved == 40_000
    assert view.available == 0


def test_note_check_finds_mismatch(market: Market) -> None:
    from ledger.deliveries import check_delivery_note

    engine = market.ledger.engine
    seller = get_organisation(engine, "ACT-001")
    buyer = get_organisation(engine, "ACT-004")
    note = {
        "lot_id": str(DOORS),
        "quantity": "5",
        "from": {"address": seller.chain_address},
        "to": {"address": buyer.chain_address},
    }
    body = json.dumps(note).encode()
    digest = "0x" + hashlib.sha256(body).hexdigest()
    assert check_delivery_note(engine, body).transaction_hash is None

    # A transfer of 6 that cites a note saying 5.
    transfer_lot(market.ledger, DOORS, "ACT-001", "ACT-004", "6", "sale", digest)
    run_index(market.ledger, _no_progress)  # type: ignore[arg-type]
    result = check_delivery_note(engine, body)
    assert result.transaction_hash is not None
    assert result.mismatches == ["quantity: the note says 5, the chain 6"]

    with pytest.raises(InvalidInput, match="not a delivery note"):
        check_delivery_note(engine, b"[1, 2]")


def test_availability_recomputed_after_reindex(market: Market) -> None:
    from ledger.indexing import reset_mirror

    engine = market.ledger.engine
    seller = get_organisation(engine, "ACT-001")
    listing = create_listing(engine, seller, DOORS, YARD)
    reservation = reserve(
        engine, get_organisation(engine, "ACT-008"), listing.id, "15", hours=1
    )
    confirm_sale(market.ledger, seller, reservation.id)
    before = get_listing(engine, listing.id)
    assert (before.sold, before.available) == (15_000, 25_000)

    # No figure is stored, so re-indexing from the chain gives the same listing.
    reset_mirror(engine)
    with pytest.raises(NotFound):
        get_listing(engine, listing.id)
    run_index(market.ledger, _no_progress)  # type: ignore[arg-type]
    assert get_listing(engine, listing.id) == before


def test_unindexed_sale_keeps_quantity(market: Market) -> None:
    from ledger.db.models import Reservation

    engine = market.ledger.engine
    listing = create_listing(engine, get_organisation(engine, "ACT-001"), DOORS, YARD)
    reservation = reserve(
        engine, get_organisation(engine, "ACT-008"), listing.id, "15", hours=1
    )
    # A confirmed sale whose transfer is not in the mirror yet, as right after the
    # transaction is mined: it must keep its quantity, neither sold nor free.
    with Session(engine) as session, session.begin():
        row = session.get(Reservation, reservation.id)
        assert row is not None
        row.status = "confirmed"
        row.delivery_note_hash = "0x" + "ab" * 32
    view = get_listing(engine, listing.id)
    assert view.sold == 0
    assert view.reserved == 15_000
    assert view.available == 25_000


def test_write_needs_running_chain(market: Market, served: str) -> None:
    from ledger.chain import anvil

    engine = market.ledger.engine
    seller = get_organisation(engine, "ACT-001")
    listing = create_listing(engine, seller, DOORS, YARD)
    reservation = reserve(
        engine, get_organisation(engine, "ACT-008"), listing.id, "1", hours=1
    )
    assert anvil.stop(market.settings.data_dir)

    response = httpx.post(
        f"{served}/reservations/{reservation.id}/confirm",
        headers={"X-API-Key": market.keys["ACT-001"]},
        timeout=60,
    )
    assert response.status_code == 503
    assert "reclaim chain start" in response.json()["detail"]
    assert anvil.read_info(market.settings.data_dir) is None
    assert get_reservation(engine, seller, reservation.id).status == "active"


def test_search_reads_open_listings(market: Market) -> None:
    from ledger.search import GeoPoint, SearchQuery, search

    engine = market.ledger.engine
    run_index(market.ledger, _no_progress)
    seller = get_organisation(engine, "ACT-001")
    # Doors from Liège, offered at 1.00 EUR from a yard in Namur, 55 km away.
    namur = ListingInput(
        quantity="10",
        price_per_unit="1.00",
        location_name="Namur yard",
        latitude="50.4652",
        longitude="4.8621",
    )

    def found(**filters: object) -> set[int]:
        page = search(engine, SearchQuery(page_size=100, **filters))
        return {hit.lot.lot_id for hit in page.hits}

    assert DOORS not in found(max_price_eur=Decimal("1.00"))
    listing = create_listing(engine, seller, DOORS, namur)
    assert DOORS in found(max_price_eur=Decimal("1.00"))
    near_namur = found(near=GeoPoint(50.4652, 4.8621), within_km=5)
    assert DOORS in near_namur

    withdraw_listing(engine, seller, listing.id)
    assert DOORS not in found(max_price_eur=Decimal("1.00"))
    assert DOORS not in found(near=GeoPoint(50.4652, 4.8621), within_km=5)


def test_transfer_keeps_reserved_quantity(market: Market, served: str) -> None:
    seller = {"X-API-Key": market.keys["ACT-001"]}
    buyer = {"X-API-Key": market.keys["ACT-008"]}
    engine = market.ledger.engine
    listing = create_listing(engine, get_organisation(engine, "ACT-001"), DOORS, YARD)
    with httpx.Client(base_url=served, timeout=60) as client:
        reserved = client.post(
            f"/listings/{listing.id}/reservations",
            headers=buyer,
            json={"quantity": "40", "hours": 24},
        )
        assert reserved.status_code == 201, reserved.text

        too_much = client.post(
            "/transfers",
            headers=seller,
            json={"lot_id": DOORS, "to": "ACT-004", "quantity": "100"},
        )
        unreserved = client.post(
            "/transfers",
            headers=seller,
            json={"lot_id": DOORS, "to": "ACT-004", "quantity": "78"},
        )
        confirmed = client.post(
            f"/reservations/{reserved.json()['id']}/confirm", headers=seller, json={}
        )

    assert too_much.status_code == 409, too_much.text
    detail = too_much.json()["detail"]
    assert "Cannot transfer 100 of lot 5" in detail
    assert "holds 118" in detail
    assert "40 is reserved" in detail
    assert "at most 78" in detail
    assert unreserved.status_code == 201, unreserved.text
    assert confirmed.status_code == 200, confirmed.text
    assert _balance(market, "ACT-001") == 0
    assert _balance(market, "ACT-004") == 78_000
    assert _balance(market, "ACT-008") == 40_000


def test_listings_survive_unindexed_lot(market: Market, served: str) -> None:
    from typer.testing import CliRunner

    from ledger.cli import app
    from ledger.db.models import Listing

    engine = market.ledger.engine
    seller = get_organisation(engine, "ACT-001")
    indexed = create_listing(engine, seller, DOORS, YARD)
    # A listing of a lot that a reindex has not reached yet.
    with Session(engine) as session, session.begin():
        missing = Listing(
            lot_id=10_000,
            organisation_id=seller.id,
            quantity=5_000,
            price_cents=900,
            location_name="Herstal yard",
            pickup_conditions="",
            created_at=1,
            updated_at=1,
        )
        session.add(missing)
        session.flush()
        missing_id = missing.id

    response = httpx.get(f"{served}/listings", timeout=60)
    result = CliRunner().invoke(
        app, ["--data-dir", str(market.settings.data_dir), "listing", "list"]
    )

    assert response.status_code == 200, response.text
    rows = {row["id"]: row for row in response.json()["listings"]}
    assert rows[indexed.id]["quantity_available"] == "40"
    assert rows[indexed.id]["lot_indexed"] is True
    assert rows[missing_id]["lot_indexed"] is False
    assert rows[missing_id]["quantity_available"] is None
    assert rows[missing_id]["unit"] is None
    assert "not indexed yet" in rows[missing_id]["note"]
    assert result.exit_code == 0, (result.output, result.exception)
    assert "lot not indexed yet" in result.output
    assert "40 pieces" in result.output


def test_short_reservation_and_building_messages(market: Market, served: str) -> None:
    from ledger.queries import building_inventory

    engine = market.ledger.engine
    listing = create_listing(engine, get_organisation(engine, "ACT-001"), DOORS, YARD)
    buyer = {"X-API-Key": market.keys["ACT-008"]}
    with httpx.Client(base_url=served, timeout=60) as client:
        too_short = client.post(
            f"/listings/{listing.id}/reservations",
            headers=buyer,
            json={"quantity": "1", "hours": 0.0001},
        )
        one_minute = client.post(
            f"/listings/{listing.id}/reservations",
            headers=buyer,
            json={"quantity": "1", "hours": 1 / 60},
        )
        building = client.get("/buildings/BLD-NOWHERE")

    assert too_short.status_code == 422, too_short.text
    assert one_minute.status_code == 201, one_minute.text
    with pytest.raises(InvalidInput, match="at least one minute"):
        reserve(engine, get_organisation(engine, "ACT-008"), listing.id, "1", 0.0001)
    assert building.status_code == 404
    assert "reclaim summary" in building.json()["detail"]
    assert "'reclaim buildings'" not in building.json()["detail"]
    with pytest.raises(NotFound, match="reclaim summary"):
        building_inventory(engine, "BLD-NOWHERE")
