"""Every write route: no key, a wrong key, another organisation, too much quantity.

The routes are read from the app itself, so a new write route without a case here
fails ``test_every_write_route_has_cases``. After each rejected request the database
rows and the chain balances must be exactly as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from conftest import Market
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.app import create_app
from ledger.db.models import (
    ApiKey,
    Holding,
    Listing,
    Organisation,
    Reservation,
    Transfer,
)
from ledger.market import ListingInput, cancel_reservation, create_listing, reserve
from ledger.organisations import get_organisation

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
DOORS = 5
ACTORS = ("ACT-001", "ACT-004", "ACT-008", "ACT-009")


@dataclass(frozen=True)
class Ids:
    """Rows the cases refer to."""

    listing: int
    reservation: int
    cancelled: int


@dataclass(frozen=True)
class Attempt:
    """A request and the organisation whose key sends it."""

    actor: str
    path: str
    body: dict[str, Any] | None


@dataclass(frozen=True)
class RouteCases:
    """Requests to one route: the owner's valid one, another organisation's, and one
    for more than there is or that conflicts with the current state."""

    valid: Attempt
    other_organisation: Attempt
    conflict: Attempt


def _listing_body(quantity: str) -> dict[str, Any]:
    return {
        "lot_id": DOORS,
        "quantity": quantity,
        "price_per_unit": "40.00",
        "location_name": "Herstal yard",
    }


def _transfer_body(quantity: str) -> dict[str, Any]:
    return {"lot_id": DOORS, "to": "ACT-008", "quantity": quantity}


CASES: dict[tuple[str, str], Callable[[Ids], RouteCases]] = {
    ("POST", "/listings"): lambda ids: RouteCases(
        valid=Attempt("ACT-001", "/listings", _listing_body("1")),
        other_organisation=Attempt("ACT-009", "/listings", _listing_body("1")),
        conflict=Attempt("ACT-001", "/listings", _listing_body("1000")),
    ),
    ("PATCH", "/listings/{listing_id}"): lambda ids: RouteCases(
        valid=Attempt("ACT-001", f"/listings/{ids.listing}", {"quantity": "31"}),
        other_organisation=Attempt(
            "ACT-004", f"/listings/{ids.listing}", {"quantity": "31"}
        ),
        conflict=Attempt("ACT-001", f"/listings/{ids.listing}", {"quantity": "1000"}),
    ),
    ("DELETE", "/listings/{listing_id}"): lambda ids: RouteCases(
        valid=Attempt("ACT-001", f"/listings/{ids.listing}", None),
        other_organisation=Attempt("ACT-004", f"/listings/{ids.listing}", None),
        # The listing has an active reservation, so it cannot be withdrawn.
        conflict=Attempt("ACT-001", f"/listings/{ids.listing}", None),
    ),
    ("POST", "/listings/{listing_id}/reservations"): lambda ids: RouteCases(
        valid=Attempt(
            "ACT-009", f"/listings/{ids.listing}/reservations", {"quantity": "1"}
        ),
        # The seller cannot reserve its own listing.
        other_organisation=Attempt(
            "ACT-001", f"/listings/{ids.listing}/reservations", {"quantity": "1"}
        ),
        conflict=Attempt(
            "ACT-009", f"/listings/{ids.listing}/reservations", {"quantity": "1000"}
        ),
    ),
    ("POST", "/reservations/{reservation_id}/cancel"): lambda ids: RouteCases(
        valid=Attempt("ACT-008", f"/reservations/{ids.reservation}/cancel", None),
        other_organisation=Attempt(
            "ACT-009", f"/reservations/{ids.reservation}/cancel", None
        ),
        conflict=Attempt("ACT-008", f"/reservations/{ids.cancelled}/cancel", None),
    ),
    ("POST", "/reservations/{reservation_id}/confirm"): lambda ids: RouteCases(
        valid=Attempt("ACT-001", f"/reservations/{ids.reservation}/confirm", None),
        # The buyer cannot confirm its own purchase; only the seller can.
        other_organisation=Attempt(
            "ACT-008", f"/reservations/{ids.reservation}/confirm", None
        ),
        conflict=Attempt("ACT-001", f"/reservations/{ids.cancelled}/confirm", None),
    ),
    ("POST", "/transfers"): lambda ids: RouteCases(
        valid=Attempt("ACT-001", "/transfers", _transfer_body("1")),
        # ACT-009 has no balance of the lot.
        other_organisation=Attempt("ACT-009", "/transfers", _transfer_body("1")),
        conflict=Attempt("ACT-001", "/transfers", _transfer_body("1000")),
    ),
}


def write_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Return (method, path) of every write route, including included routers."""
    found: set[tuple[str, str]] = set()

    def walk(routes: list[Any]) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                for method in route.methods & WRITE_METHODS:
                    found.add((method, route.path))
            original = getattr(route, "original_router", None)
            if original is not None:
                walk(list(original.routes))

    walk(list(app.routes))
    # The OpenAPI document is generated from the same routes; both must agree.
    from_schema = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method.upper() in WRITE_METHODS
    }
    assert found == from_schema
    return found


@pytest.fixture
def client(served: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served, timeout=60) as http:
        yield http


@pytest.fixture
def ids(market: Market) -> Ids:
    engine = market.ledger.engine
    seller = get_organisation(engine, "ACT-001")
    buyer = get_organisation(engine, "ACT-008")
    listing = create_listing(
        engine, seller, DOORS, ListingInput("30", "40", "Herstal yard")
    )
    active = reserve(engine, buyer, listing.id, "10", hours=24)
    cancelled = reserve(engine, buyer, listing.id, "2", hours=24)
    cancel_reservation(engine, buyer, cancelled.id)
    return Ids(listing=listing.id, reservation=active.id, cancelled=cancelled.id)


def snapshot(market: Market) -> dict[str, Any]:
    """Every marketplace and mirror row, and the chain balances of the lot."""
    engine = market.ledger.engine
    tables: dict[str, Any] = {}
    with Session(engine) as session:
        for model in (Organisation, ApiKey, Listing, Reservation, Holding, Transfer):
            rows = session.execute(select(model)).scalars().all()
            tables[model.__tablename__] = sorted(
                repr(
                    {
                        column.key: getattr(row, column.key)
                        for column in model.__table__.columns
                    }
                )
                for row in rows
            )
    registry = market.ledger.registry
    for actor in ACTORS:
        address = get_organisation(engine, actor).chain_address
        tables[f"balance {actor}"] = registry.functions.balanceOf(
            market.ledger.w3.to_checksum_address(address), DOORS
        ).call()
    tables["block"] = market.ledger.w3.eth.block_number
    notes = market.settings.data_dir / "delivery-notes"
    tables["notes"] = sorted(p.name for p in notes.glob("*")) if notes.exists() else []
    return tables


def send(
    client: httpx.Client,
    method: str,
    attempt: Attempt,
    headers: dict[str, str],
) -> Any:
    return client.request(method, attempt.path, json=attempt.body, headers=headers)


# Write routes that any organisation's key may use, since they change nothing that
# belongs to one organisation: evidence documents are named by their own hash.
ANY_ORGANISATION = {("POST", "/evidence")}


def test_every_write_route_has_cases(market: Market) -> None:
    routes = write_routes(create_app(market.settings)) - ANY_ORGANISATION
    assert routes == set(CASES), (
        f"Write routes without access cases: {sorted(routes - set(CASES))}; "
        f"cases for missing routes: {sorted(set(CASES) - routes)}"
    )


def test_write_routes_reject_without_key(
    market: Market, client: httpx.Client, ids: Ids
) -> None:
    for (method, _), build in CASES.items():
        cases = build(ids)
        before = snapshot(market)
        missing = send(client, method, cases.valid, {})
        assert missing.status_code == 401, (method, cases.valid.path, missing.text)
        assert "needs an API key" in missing.json()["detail"]
        assert missing.headers["www-authenticate"] == "Bearer"

        forged = send(
            client,
            method,
            cases.valid,
            {"Authorization": "Bearer rlk_0000000000000000_forged"},
        )
        assert forged.status_code == 401, (method, cases.valid.path, forged.text)
        assert "invalid or revoked" in forged.json()["detail"]

        # A real key's secret under another key's prefix is rejected too.
        real = market.keys[cases.valid.actor]
        other = market.keys["ACT-004" if cases.valid.actor != "ACT-004" else "ACT-001"]
        spliced = "_".join([*real.split("_")[:2], other.split("_", 2)[2]])
        mixed = send(client, method, cases.valid, {"X-API-Key": spliced})
        assert mixed.status_code == 401, (method, cases.valid.path, mixed.text)
        assert snapshot(market) == before, (method, cases.valid.path)


def test_write_routes_reject_other_organisation(
    market: Market, client: httpx.Client, ids: Ids
) -> None:
    for (method, _), build in CASES.items():
        attempt = build(ids).other_organisation
        before = snapshot(market)
        headers = {"Authorization": f"Bearer {market.keys[attempt.actor]}"}
        response = send(client, method, attempt, headers)
        assert response.status_code == 403, (method, attempt.path, response.text)
        assert response.json()["detail"]
        assert snapshot(market) == before, (method, attempt.path)


def test_write_routes_reject_too_much(
    market: Market, client: httpx.Client, ids: Ids
) -> None:
    for (method, _), build in CASES.items():
        attempt = build(ids).conflict
        before = snapshot(market)
        headers = {"X-API-Key": market.keys[attempt.actor]}
        response = send(client, method, attempt, headers)
        assert response.status_code in (409, 422), (method, attempt.path, response.text)
        detail = response.json()["detail"]
        if attempt.body and attempt.body.get("quantity") == "1000":
            # The message gives the numbers the request ran into.
            assert "1000" in detail, detail
            assert any(number in detail for number in ("118", "30", "20")), detail
        assert snapshot(market) == before, (method, attempt.path)


def test_write_routes_accept_owner(
    market: Market, client: httpx.Client, ids: Ids
) -> None:
    # The same requests succeed with the right key, so the rejections above are
    # about the key and the quantity, not a broken request.
    order = [
        ("POST", "/listings"),
        ("PATCH", "/listings/{listing_id}"),
        ("POST", "/listings/{listing_id}/reservations"),
        ("POST", "/transfers"),
        ("POST", "/reservations/{reservation_id}/confirm"),
        ("POST", "/reservations/{reservation_id}/cancel"),
        ("DELETE", "/listings/{listing_id}"),
    ]
    assert set(order) == set(CASES)
    for method, path in order:
        attempt = CASES[(method, path)](ids).valid
        if path == "/reservations/{reservation_id}/cancel":
            # The first reservation is confirmed by now; ACT-009 cancels its own,
            # the third one, made by the reservation step above.
            attempt = Attempt("ACT-009", "/reservations/3/cancel", None)
        headers = {"Authorization": f"Bearer {market.keys[attempt.actor]}"}
        response = send(client, method, attempt, headers)
        assert response.status_code in (200, 201), (method, path, response.text)


def test_evidence_upload_needs_a_key(market: Market, client: httpx.Client) -> None:
    evidence = market.settings.data_dir / "evidence"

    def stored() -> list[str]:
        return sorted(p.name for p in evidence.glob("*")) if evidence.exists() else []

    before = stored()
    document = b"lab report: no asbestos found"
    missing = client.post("/evidence", content=document)
    assert missing.status_code == 401, missing.text
    forged = client.post(
        "/evidence",
        content=document,
        headers={"Authorization": "Bearer rlk_0000000000000000_forged"},
    )
    assert forged.status_code == 401, forged.text
    empty = client.post(
        "/evidence", content=b"", headers={"X-API-Key": market.keys["ACT-004"]}
    )
    assert empty.status_code == 422, empty.text
    assert stored() == before

    added = client.post(
        "/evidence", content=document, headers={"X-API-Key": market.keys["ACT-004"]}
    )
    assert added.status_code == 201, added.text
    digest = hashlib.sha256(document).hexdigest()
    assert added.json()["sha256"] == digest
    assert stored() == sorted([*before, digest])
    assert client.get(f"/evidence/{digest}").content == document
