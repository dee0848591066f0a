"""Property-based requests from the whole app's OpenAPI document: never a 5xx.

schemathesis generates path parameters, queries and bodies for every operation and
sends them over HTTP to uvicorn, which serves a mirror filled from a real anvil. The
requests carry a valid API key, so write routes get past authentication and their
input checks are exercised too. The test runs once on SQLite and once on
PostgreSQL, which rejects some text that SQLite stores, such as NUL characters.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from conftest import Market, build_market
from hypothesis import HealthCheck, Phase, given, settings

from ledger.market import ListingInput, create_listing, reserve
from ledger.organisations import get_organisation

# Examples per operation: about 20 operations at this size take well under a minute.
MAX_EXAMPLES = 25


@pytest.fixture
def market(chain: tuple[Path, str], database_url: str) -> Market:
    """The sample market with its mirror in SQLite and, in a second run, PostgreSQL."""
    data_dir, _ = chain
    return build_market(data_dir, database_url)


def test_openapi_operations_never_fail_with_5xx(market: Market, served: str) -> None:
    engine = market.ledger.engine
    seller = get_organisation(engine, "ACT-001")
    listing = create_listing(engine, seller, 5, ListingInput("30", "40", "Herstal"))
    reserve(engine, get_organisation(engine, "ACT-008"), listing.id, "3", hours=24)

    schema = schemathesis.openapi.from_url(f"{served}/openapi.json")
    headers = {"Authorization": f"Bearer {market.keys['ACT-001']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    failures: list[str] = []

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            response = case.call(base_url=served, headers=headers, timeout=60)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} query={case.query!r} "
                    f"body={case.body!r} -> "
                    f"{response.status_code}: {response.text[:300]}"
                )

        check()

    assert failures == [], "\n".join(failures)


def test_nul_characters_never_fail_with_5xx(market: Market, served: str) -> None:
    # PostgreSQL rejects NUL in text, so every text input must be checked first.
    import httpx

    engine = market.ledger.engine
    seller = get_organisation(engine, "ACT-001")
    listing = create_listing(engine, seller, 5, ListingInput("30", "40", "Herstal"))
    headers = {"Authorization": f"Bearer {market.keys['ACT-001']}"}
    nul = "a\x00b"
    requests = [
        ("GET", "/listings", {"seller": nul}, None),
        ("GET", "/lots", {"category": nul}, None),
        ("GET", "/lots", {"building": nul}, None),
        ("GET", "/buildings/a%00b", None, None),
        ("GET", "/delivery-notes/a%00b", None, None),
        ("POST", "/listings", None, {**_LISTING, "location_name": nul}),
        ("POST", "/listings", None, {**_LISTING, "pickup_conditions": nul}),
        ("POST", "/listings", None, {**_LISTING, "quantity": nul}),
        ("POST", "/listings", None, {**_LISTING, "price_per_unit": nul}),
        ("POST", "/listings", None, {**_LISTING, "latitude": nul, "longitude": "5"}),
        ("PATCH", f"/listings/{listing.id}", None, {"location_name": nul}),
        ("POST", f"/listings/{listing.id}/reservations", None, {"quantity": nul}),
        ("POST", "/transfers", None, {**_TRANSFER, "to": nul}),
        ("POST", "/transfers", None, {**_TRANSFER, "reason": nul}),
        ("POST", "/transfers", None, {**_TRANSFER, "reference": nul}),
        ("POST", "/transfers", None, {**_TRANSFER, "transporter": nul}),
        ("POST", "/transfers", None, {**_TRANSFER, "delivery": nul}),
        ("POST", "/transfers", None, {**_TRANSFER, "vehicle": nul}),
    ]
    with httpx.Client(base_url=served, timeout=60) as client:
        for method, path, params, body in requests:
            response = client.request(
                method, path, params=params, json=body, headers=headers
            )
            assert response.status_code < 500, (
                method,
                path,
                params,
                body,
                response.text,
            )


_LISTING = {
    "lot_id": 5,
    "quantity": "1",
    "price_per_unit": "10",
    "location_name": "Herstal",
}
_TRANSFER = {"lot_id": 5, "to": "ACT-008", "quantity": "1"}
