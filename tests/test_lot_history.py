"""A lot's history lists installations, disposals, splits and merges with transfers.

One lot of 1,000 test doors is sold in part, installed, recycled in part and split.
One of its new lots is then merged with a second registered lot. The JSON history
and the passport page are read over real HTTP from a mirror that the indexer filled.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import httpx
from indexer_support import (
    HOLDER,
    new_indexer,
    open_test_ledger,
    register_test_lots,
    running_api,
    send_transfer,
)
from rich.console import Console

from ledger.chain.accounts import dev_account
from ledger.lifecycle import DisposalRoute, dispose, install, merge, split
from ledger.queries import lot_history
from ledger.reports import print_history
from ledger.units import ascii_bytes32

BUYER = 2


def test_history_lists_every_step_kind(
    chain: tuple[Path, str], database_url: str
) -> None:
    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url)
    register_test_lots(ledger, 2)
    registry = ledger.registry
    destination = ascii_bytes32("DST-CHARLEROI-01")

    # Each write gets a fresh sender, which reads the account's nonce from the chain.
    send_transfer(ledger, 1, 300_000, receiver=BUYER)
    install(registry, ledger.sender(dev_account(BUYER)), 1, 48_000, destination)
    dispose(
        registry,
        ledger.sender(dev_account(HOLDER)),
        1,
        50_000,
        DisposalRoute.RECYCLING,
    )
    children = split(
        registry, ledger.sender(dev_account(HOLDER)), 1, [200_000, 150_000]
    )
    merged = merge(
        registry,
        ledger.sender(dev_account(HOLDER)),
        [children[1], 2],
        [150_000, 100_000],
    )
    new_indexer(ledger, ledger.engine).run_to_head()
    assert children == [3, 4]
    assert merged == 5

    with running_api(ledger.settings) as base:
        parent_history = httpx.get(f"{base}/lots/1/history").json()
        child_history = httpx.get(f"{base}/lots/4/history").json()
        merged_history = httpx.get(f"{base}/lots/5/history").json()
        passport = httpx.get(f"{base}/passport/1", headers={"Accept": "text/html"})
        child_passport = httpx.get(f"{base}/passport/4")

    steps = [
        (step["kind"], step.get("description"), step["quantity"])
        for step in parent_history["steps"]
    ]
    assert steps == [
        ("transfer", None, "300000"),
        ("installed", "installed into DST-CHARLEROI-01", "48000"),
        ("disposed", "disposed of by recycling", "50000"),
        ("split", "split into lots 3, 4", "350000"),
    ]
    positions = [
        (step["block_number"], step["log_index"]) for step in parent_history["steps"]
    ]
    assert positions == sorted(positions)

    transfer, installed, disposed, split_step = parent_history["steps"]
    assert transfer["reason"] == "sale"
    assert transfer["from_address"] == dev_account(HOLDER).address
    assert transfer["to_address"] == dev_account(BUYER).address
    assert installed["holder"] == dev_account(BUYER).address
    assert installed["destination_reference"] == "DST-CHARLEROI-01"
    assert installed["transaction_hash"].startswith("0x")
    assert disposed["route"] == "recycling"
    assert disposed["holder"] == dev_account(HOLDER).address
    assert split_step["related_lot_ids"] == ["3", "4"]

    child_steps = [
        (step["kind"], step["description"], step["quantity"])
        for step in child_history["steps"]
    ]
    assert child_steps == [
        ("created", "created from lot 1 by a split", "150000"),
        ("merged", "merged into lot 5", "150000"),
    ]
    merged_steps = [
        (step["kind"], step["description"], step["quantity"], step["related_lot_ids"])
        for step in merged_history["steps"]
    ]
    assert merged_steps == [
        ("created", "created from lots 4, 2 by a merge", "250000", ["4", "2"])
    ]

    assert passport.status_code == 200
    timeline = re.search(
        r'<ol class="timeline" id="timeline">(.*?)</ol>', passport.text, re.S
    )
    assert timeline is not None
    kinds = re.findall(r'data-kind="(\w+)"', timeline.group(1))
    assert kinds == ["transfer", "installed", "disposed", "split"]
    assert "Installed into DST-CHARLEROI-01</strong>, 48 pieces" in timeline.group(1)
    assert "Disposed of by recycling</strong>, 50 pieces" in timeline.group(1)
    assert "Split into lots 3, 4</strong>, 350 pieces" in timeline.group(1)
    assert installed["transaction_hash"] in timeline.group(1)
    assert child_passport.status_code == 200
    assert "Merged into lot 5</strong>, 150 pieces" in child_passport.text
    assert "Created from lot 1 by a split</strong>, 150 pieces" in child_passport.text

    # The CLI's `reclaim history` prints the same steps.
    console = Console(record=True, width=400)
    print_history(console, lot_history(ledger.engine, 1))
    printed = console.export_text()
    assert "sale" in printed
    assert "installed into DST-CHARLEROI-01" in printed
    assert "disposed of by recycling" in printed
    assert "split into lots 3, 4" in printed
    assert printed.index("installed into") < printed.index("disposed of by")
    assert printed.index("disposed of by") < printed.index("split into lots")

    # A merge of lots from several buildings has no single origin to print.
    history = lot_history(ledger.engine, 1)
    several = replace(
        history, lot=replace(history.lot, building_id=None, building_reference=None)
    )
    console = Console(record=True, width=400)
    print_history(console, several)
    printed = console.export_text()
    assert "origin: several buildings" in printed
    assert "None" not in printed
