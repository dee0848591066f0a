"""Property-based requests from the whole app's OpenAPI document: never a 5xx.

schemathesis generates path parameters, queries and bodies for every operation and
sends them over HTTP to uvicorn, which serves a mirror filled from a real anvil. The
requests carry a valid API key, so write routes get past authentication and their
input checks are exercised too.
"""

from __future__ import annotations

import schemathesis
from conftest import Market
from hypothesis import HealthCheck, Phase, given, settings

from ledger.market import ListingInput, create_listing, reserve
from ledger.organisations import get_organisation

# Examples per operation: about 20 operations at this size take well under a minute.
MAX_EXAMPLES = 25


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

    assert failures == []
