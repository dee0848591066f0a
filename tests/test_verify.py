"""Proof commands: verify against the chain, digest and rebuild, over CLI and API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from indexer_support import (
    BUILDING,
    clean_digest,
    new_indexer,
    open_test_ledger,
    register_test_lots,
    running_api,
    send_transfer,
)
from sqlalchemy import text

from ledger.chain.accounts import dev_account
from ledger.errors import IndexerError
from ledger.indexer.digest import mirror_digest
from ledger.indexer.rpc import RpcClient
from ledger.verify import verify_mirror


def _reclaim(
    data_dir: Path, database_url: str, *arguments: str
) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "RECLAIM_DATA_DIR": str(data_dir),
        "RECLAIM_DATABASE_URL": database_url,
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "ledger", *arguments],
        env=environment,
        capture_output=True,
        text=True,
    )


def test_verify_finds_every_kind_of_difference(
    chain: tuple[Path, str], database_url: str
) -> None:
    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url)
    register_test_lots(ledger, 5, batch_size=5)
    send_transfer(ledger, 2, 1_500, receiver=3)
    new_indexer(ledger, ledger.engine).run_to_head()
    rpc = RpcClient(ledger.url)

    clean = verify_mirror(ledger.engine, rpc)
    assert clean.ok
    assert (clean.lots, clean.buildings, clean.balances) == (5, 1, 6)

    holder = dev_account(3).address.lower()
    with ledger.engine.begin() as connection:
        # A holding removed, a record hash changed and one raw event lost.
        connection.execute(
            text("DELETE FROM holdings WHERE holder = :holder"), {"holder": holder}
        )
        connection.execute(
            text("UPDATE lots SET record_hash = :hash WHERE lot_id = :lot"),
            {"hash": "0x" + "ab" * 32, "lot": _uint(database_url, 4)},
        )
        connection.execute(
            text("DELETE FROM raw_events WHERE id = (SELECT max(id) FROM raw_events)")
        )
    report = verify_mirror(ledger.engine, rpc)
    found = {(d.check, d.subject, d.mirror, d.chain) for d in report.differences}
    assert ("balance", f"lot 2 holder {holder}", "0", "1500") in found
    assert ("lot record hash", "lot 4", "0x" + "ab" * 32) in {f[:3] for f in found}
    # The lost event was the transfer's TransferSingle, the range's last log.
    assert any(check == "raw events count" for check, *_ in found)
    checks = sorted(check for check, *_ in found)
    assert checks == [
        "balance",
        "lot record hash",
        "lots row record_hash",
        "raw event",
        "raw events count",
    ]
    assert ("raw event", "missing", "present") in {(f[0], f[2], f[3]) for f in found}


def test_verify_finds_changed_rows(chain: tuple[Path, str], database_url: str) -> None:
    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url)
    register_test_lots(ledger, 2)
    send_transfer(ledger, 1, 1_500, receiver=3)
    new_indexer(ledger, ledger.engine).run_to_head()
    with ledger.engine.begin() as connection:
        # A changed quantity and receiver of the transfer, with balances untouched.
        connection.execute(
            text("UPDATE transfers SET quantity = :quantity, to_address = :to"),
            {"quantity": _uint(database_url, 999_000), "to": "0x" + "0" * 37 + "bad"},
        )
    report = verify_mirror(ledger.engine, RpcClient(ledger.url))
    found = {(d.check, d.mirror, d.chain) for d in report.differences}
    receiver = dev_account(3).address.lower()
    assert found == {
        ("transfers row quantity", "999000", "1500"),
        ("transfers row to_address", "0x" + "0" * 37 + "bad", receiver),
    }


def test_cli_verify_digest_and_reindex(chain: tuple[Path, str], tmp_path: Path) -> None:
    data_dir, _ = chain
    database_url = f"sqlite:///{tmp_path / 'mirror.sqlite3'}"
    ledger = open_test_ledger(data_dir, database_url)
    register_test_lots(ledger, 3)
    send_transfer(ledger, 1, 250)
    new_indexer(ledger, ledger.engine).run_to_head()

    verified = _reclaim(data_dir, database_url, "verify")
    assert verified.returncode == 0, verified.stderr
    assert "The mirror equals the chain at block" in verified.stdout

    digest = _reclaim(data_dir, database_url, "digest")
    assert digest.stdout.startswith("sha256:")

    other_url = f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}"
    rebuilt = _reclaim(data_dir, database_url, "reindex", "--into", other_url)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "The current mirror equals a clean index of the chain." in rebuilt.stdout
    assert _reclaim(data_dir, other_url, "digest").stdout == digest.stdout

    again = _reclaim(data_dir, database_url, "reindex", "--into", other_url)
    assert again.returncode == 1
    assert "already holds a mirror" in again.stderr

    with ledger.engine.begin() as connection:
        connection.execute(text("DELETE FROM transfers"))
    broken = _reclaim(data_dir, database_url, "verify")
    assert broken.returncode == 1
    assert "differs: transfers rows blocks" in broken.stdout
    fresh = _reclaim(
        data_dir,
        database_url,
        "reindex",
        "--into",
        f"sqlite:///{tmp_path / 'third.sqlite3'}",
    )
    assert fresh.returncode == 1
    assert "differs from a clean index" in fresh.stdout

    replaced = _reclaim(data_dir, database_url, "reindex", "--replace")
    assert replaced.returncode == 0, replaced.stderr
    assert _reclaim(data_dir, database_url, "digest").stdout == digest.stdout


def test_api_verify(chain: tuple[Path, str], tmp_path: Path) -> None:
    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, f"sqlite:///{tmp_path / 'mirror.sqlite3'}")
    register_test_lots(ledger, 2)
    new_indexer(ledger, ledger.engine).run_to_head()
    with running_api(ledger.settings) as base:
        body = httpx.get(f"{base}/verify", timeout=60).json()
        assert body["ok"] is True
        assert body["lots"] == "2"
        with ledger.engine.begin() as connection:
            connection.execute(text("DELETE FROM holdings"))
        broken = httpx.get(f"{base}/verify", timeout=60).json()
    assert broken["ok"] is False
    assert {item["check"] for item in broken["differences"]} == {"balance"}
    assert len(broken["differences"]) == 2


def _uint(database_url: str, value: int) -> object:
    # Raw SQL reads the column's storage form: zero-padded text in SQLite.
    return str(value).zfill(78) if database_url.startswith("sqlite") else value


def test_split_merge_install_verified(
    chain: tuple[Path, str], database_url: str, tmp_path: Path
) -> None:
    from ledger.lifecycle import install, merge, split
    from ledger.queries import summary
    from ledger.units import ascii_bytes32

    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url)
    register_test_lots(ledger, 3)
    holder = ledger.sender(dev_account(1))
    children = split(ledger.registry, holder, 1, [400_000, 100_000])
    merged = merge(ledger.registry, holder, [2, children[1]], [50_000, 100_000])
    install(ledger.registry, holder, merged, 150_000, ascii_bytes32("DST-TEST"))
    new_indexer(ledger, ledger.engine).run_to_head()

    report = verify_mirror(ledger.engine, RpcClient(ledger.url))
    assert report.differences == []
    # Three registered lots, two split children and one merged lot.
    assert report.lots == 6
    assert mirror_digest(ledger.engine) == clean_digest(
        ledger, tmp_path, ledger.w3.eth.block_number
    )
    # The passport badge subtracts what was split, merged and installed. The test
    # lots have no off-chain record, which is the only difference it may name.
    from ledger.chain_check import check_lot

    for lot_id in (1, 2, children[1], merged):
        badge = check_lot(ledger.settings, ledger.engine, lot_id)
        others = [text for text in badge.differences if "no record stored" not in text]
        assert (lot_id, others) == (lot_id, [])
    # The summary counts registered quantities once: 3 lots of 1,000 pieces.
    _, by_building = summary(ledger.engine)
    assert [line.lots for line in by_building.values()] == [3]


def test_verify_pruned_state_names_fix(
    chain: tuple[Path, str], database_url: str
) -> None:
    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url)
    register_test_lots(ledger, 3, batch_size=3)
    indexer = new_indexer(ledger, ledger.engine)
    indexer.run_to_head()
    rpc = RpcClient(ledger.url)
    # The embedded chain keeps the state of its last 32 blocks; move the head past it.
    ledger.w3.provider.make_request("anvil_mine", [hex(40)])

    with pytest.raises(IndexerError, match="run 'reclaim index'") as failure:
        verify_mirror(ledger.engine, rpc)
    assert "BlockOutOfRange" in str(failure.value)

    indexer.run_to_head()
    assert verify_mirror(ledger.engine, rpc).ok


def test_chain_check_finds_changed_batch_lot(
    chain: tuple[Path, str], database_url: str
) -> None:
    from ledger.chain_check import check_lot

    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url)
    register_test_lots(ledger, 4, batch_size=4)
    new_indexer(ledger, ledger.engine).run_to_head()
    untouched = check_lot(ledger.settings, ledger.engine, 3)
    with ledger.engine.begin() as connection:
        # The third lot of the batch: its registered quantity and unit mass.
        connection.execute(
            text(
                "UPDATE lots SET quantity = :quantity, unit_mass_grams = :mass "
                "WHERE lot_id = :lot"
            ),
            {
                "quantity": _uint(database_url, 2_000_000),
                "mass": _uint(database_url, 1),
                "lot": _uint(database_url, 3),
            },
        )
    badge = check_lot(ledger.settings, ledger.engine, 3)
    report = verify_mirror(ledger.engine, RpcClient(ledger.url))

    # The test lots have no off-chain record, which the badge names in both cases.
    assert [text for text in untouched.differences if "no record" not in text] == []
    assert badge.status == "disagrees"
    assert [text for text in badge.differences if "no record" not in text] == [
        "The lot's registered quantity is 2000000 in the mirror but 1000000 on chain.",
        "The lot's unit mass in grams is 1 in the mirror but 25000 on chain.",
    ]
    found = {(d.check, d.subject, d.mirror, d.chain) for d in report.differences}
    assert ("lot quantity", "lot 3", "2000000", "1000000") in found
    assert ("lot unit mass", "lot 3", "1", "25000") in found
    rows = {(check, mirror, chain) for check, _, mirror, chain in found}
    assert ("lots row quantity", "2000000", "1000000") in rows
    assert ("lots row unit_mass_grams", "1", "25000") in rows
    assert len(report.differences) == 4


def test_split_and_merge_reveal_batch_lots(
    chain: tuple[Path, str], database_url: str
) -> None:
    from ledger.chain_lots import reveal_lots
    from ledger.lifecycle import merge, split

    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url)
    register_test_lots(ledger, 3, batch_size=3)
    registry = ledger.registry
    holder = ledger.sender(dev_account(1))
    stored_before = [_is_revealed(ledger, lot_id) for lot_id in (1, 2, 3)]

    children = split(registry, holder, 2, [100_000])
    merged = merge(registry, holder, [2, 3], [50_000, 50_000])
    new_indexer(ledger, ledger.engine).run_to_head()
    with ledger.engine.connect() as connection:
        reveals = connection.execute(
            text(
                "SELECT topics FROM raw_events WHERE event_name = 'LotRevealed' "
                "ORDER BY block_number, log_index"
            )
        ).scalars()
        revealed = [int(json.loads(topics)[1], 16) for topics in reveals]

    assert stored_before == [False, False, False]
    # Lot 2 was revealed once, before the split; the merge revealed only lot 3.
    assert revealed == [2, 3]
    assert [_is_revealed(ledger, lot_id) for lot_id in (1, 2, 3)] == [
        False,
        True,
        True,
    ]
    assert children == [4]
    assert merged == 5
    assert reveal_lots(registry, holder, [2, 3, children[0], merged]) == []
    assert verify_mirror(ledger.engine, RpcClient(ledger.url)).ok


def test_merge_reveals_batch_in_one_transaction(
    chain: tuple[Path, str], database_url: str
) -> None:
    from ledger.lifecycle import merge

    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url)
    register_test_lots(ledger, 3, batch_size=3)
    holder = ledger.sender(dev_account(1))
    start_block = ledger.w3.eth.block_number + 1
    nonce = ledger.w3.eth.get_transaction_count(holder.address)

    merged = merge(ledger.registry, holder, [1, 3], [50_000, 50_000])

    reveals = ledger.registry.events.LotRevealed().get_logs(from_block=start_block)
    # One revealLots for both lots, then the merge.
    assert ledger.w3.eth.get_transaction_count(holder.address) - nonce == 2
    assert [int(log["args"]["lotId"]) for log in reveals] == [1, 3]
    assert reveals[0]["transactionHash"] == reveals[1]["transactionHash"]
    assert merged == 4
    new_indexer(ledger, ledger.engine).run_to_head()
    assert verify_mirror(ledger.engine, RpcClient(ledger.url)).ok


def test_reveal_lots_one_transaction_per_batch(
    chain: tuple[Path, str], database_url: str
) -> None:
    from web3.logs import DISCARD

    from ledger.chain_lots import reveal_lots

    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url)
    register_test_lots(ledger, 6, batch_size=3)
    registry = ledger.registry
    holder = ledger.sender(dev_account(1))
    reveal_lots(registry, holder, [1])

    revealed = reveal_lots(registry, holder, [4, 2, 5, 1, 4])

    event = registry.events.LotRevealed()
    per_transaction = [
        [
            int(log["args"]["lotId"])
            for log in event.process_receipt(receipt, errors=DISCARD)
        ]
        for receipt in holder.last_receipts
    ]
    assert revealed == [4, 2, 5]
    # Lots 4 and 5 are of the second batch and lot 2 of the first. Lot 1 is stored.
    assert per_transaction == [[4, 5], [2]]
    assert [_is_revealed(ledger, lot_id) for lot_id in range(1, 7)] == [
        True,
        True,
        False,
        True,
        True,
        False,
    ]


def _is_revealed(ledger: Any, lot_id: int) -> bool:
    from web3.exceptions import ContractCustomError

    try:
        ledger.registry.functions.lot(lot_id).call()
    except ContractCustomError:
        return False
    return True


def test_merge_of_other_kinds_reveals_nothing(
    chain: tuple[Path, str], database_url: str
) -> None:
    from eth_utils import keccak

    from ledger.errors import InvalidInput
    from ledger.lifecycle import merge
    from ledger.writes import LotInput, register_lots

    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url)
    register_test_lots(ledger, 1)
    building, category = BUILDING, b"door".ljust(32, b"\0")
    heavier = LotInput(building, category, 0, 1_000_000, 30_000, keccak(text="heavy"))
    register_lots(ledger.registry, ledger.sender(), dev_account(1).address, [heavier])
    holder = ledger.sender(dev_account(1))
    nonce = ledger.w3.eth.get_transaction_count(holder.address)

    with pytest.raises(InvalidInput, match="Lots 1 and 2 differ in category, unit"):
        merge(ledger.registry, holder, [1, 2], [1000, 1000])
    with pytest.raises(InvalidInput, match="A merge needs at least two lots, not 1"):
        merge(ledger.registry, holder, [1], [1000])

    assert ledger.w3.eth.get_transaction_count(holder.address) == nonce
    assert not _is_revealed(ledger, 1)


def test_invalid_split_or_merge_reveals_nothing(
    chain: tuple[Path, str], database_url: str
) -> None:
    from ledger.errors import InvalidInput, NotFound
    from ledger.lifecycle import merge, split

    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url)
    register_test_lots(ledger, 2, batch_size=2)
    holder = ledger.sender(dev_account(1))
    nonce = ledger.w3.eth.get_transaction_count(holder.address)
    registry = ledger.registry

    with pytest.raises(InvalidInput, match="Lot 1 appears more than once"):
        merge(registry, holder, [1, 1], [1000, 1000])
    with pytest.raises(InvalidInput, match="Lot 1: quantity 0 of a merged part"):
        merge(registry, holder, [1, 2], [0, 1000])
    with pytest.raises(InvalidInput, match="2 lots need 2 quantities, not 1"):
        merge(registry, holder, [1, 2], [1000])
    with pytest.raises(InvalidInput, match="Lot 2: quantity 0 of a new lot"):
        split(registry, holder, 2, [500, 0])
    with pytest.raises(InvalidInput, match="needs at least one quantity"):
        split(registry, holder, 2, [])
    with pytest.raises(InvalidInput, match="fewer than the 1000001 to split"):
        split(registry, holder, 2, [1_000_001])
    stranger = ledger.sender(dev_account(2))
    with pytest.raises(InvalidInput, match="holds 0 thousandths of lot 1"):
        merge(registry, stranger, [1, 2], [1000, 1000])
    with pytest.raises(NotFound, match="Lot 3 is not registered"):
        split(registry, holder, 3, [1000])

    assert ledger.w3.eth.get_transaction_count(holder.address) == nonce
    assert not _is_revealed(ledger, 1)
    assert not _is_revealed(ledger, 2)


def test_verify_finds_missing_batch_lot_row(
    chain: tuple[Path, str], database_url: str
) -> None:
    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url)
    register_test_lots(ledger, 4, batch_size=4)
    new_indexer(ledger, ledger.engine).run_to_head()
    with ledger.engine.begin() as connection:
        connection.execute(
            text("DELETE FROM lots WHERE lot_id = :lot"),
            {"lot": _uint(database_url, 3)},
        )

    report = verify_mirror(ledger.engine, RpcClient(ledger.url))

    found = {(d.check, d.subject, d.mirror, d.chain) for d in report.differences}
    assert ("lot count", "registry", "3", "4") in found
    assert ("lot quantity", "lot 3", "missing", "1000000") in found
    assert any(
        check == "lots row" and subject.endswith(" lot 3") and mirror == "missing"
        for check, subject, mirror, _ in found
    )
    assert any(check == "lots rows" for check, *_ in found)


def test_batch_lot_is_read_from_its_own_block(
    chain: tuple[Path, str], database_url: str
) -> None:
    from eth_utils import keccak

    from ledger.chain_lots import chain_lot

    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url)
    register_test_lots(ledger, 3, batch_size=3)
    ledger.w3.provider.make_request("anvil_mine", ["0x20"])
    register_test_lots(ledger, 3, batch_size=3)
    registered_in = ledger.w3.eth.block_number
    ledger.w3.provider.make_request("anvil_mine", ["0x20"])

    # Records the log requests on their way to the real node. Every response comes
    # from the node itself.
    provider = ledger.w3.provider
    sent = provider.make_request
    log_queries: list[dict[str, Any]] = []

    def recording(method: Any, params: Any) -> Any:
        if method == "eth_getLogs":
            log_queries.extend(params)
        return sent(method, params)

    provider.make_request = recording  # type: ignore[method-assign]
    try:
        lot = chain_lot(ledger.registry, 5)
    finally:
        provider.make_request = sent  # type: ignore[method-assign]

    assert [(q["fromBlock"], q["toBlock"]) for q in log_queries] == [
        (hex(registered_in), hex(registered_in))
    ]
    # The Lot struct: building, category, record hash, quantity, unit mass, unit.
    assert lot[2:] == (keccak(text="lot 5"), 1_000_000, 25_000, 0)


def test_chain_lot_names_unknown_and_foreign_reverts(
    chain: tuple[Path, str], database_url: str
) -> None:
    from ledger.chain_lots import chain_lot
    from ledger.errors import ChainError, NotFound

    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url)
    register_test_lots(ledger, 3, batch_size=3)

    for lot_id in (0, 4):
        with pytest.raises(NotFound, match=f"Lot {lot_id} is not registered"):
            chain_lot(ledger.registry, lot_id)

    # Code that reverts every call with empty data plays a contract that is not this
    # registry. It is PUSH1 0, PUSH1 0, REVERT.
    other = "0x" + "12" * 20
    ledger.w3.provider.make_request("anvil_setCode", [other, "0x60006000fd"])
    foreign = ledger.w3.eth.contract(address=other, abi=ledger.registry.abi)
    with pytest.raises(ChainError, match="not with the registry's unknown-lot error"):
        chain_lot(foreign, 1)


def test_verify_names_refused_single_block(
    chain: tuple[Path, str], database_url: str
) -> None:
    from rpc_fault_proxy import FaultPlan, fault_proxy

    from ledger.errors import ChainError

    data_dir, url = chain
    ledger = open_test_ledger(data_dir, database_url)
    register_test_lots(ledger, 2, batch_size=2)
    new_indexer(ledger, ledger.engine).run_to_head()

    # A node whose log limit refuses even one block's logs; a real anvil has no
    # such limit, so the proxy plays it.
    with (
        fault_proxy(url, FaultPlan(max_logs=0)) as proxy_url,
        pytest.raises(ChainError, match="refuses the registry's logs of block"),
    ):
        verify_mirror(ledger.engine, RpcClient(proxy_url))


def test_cli_verify_missing_batch_log_advice(
    chain: tuple[Path, str], tmp_path: Path
) -> None:
    from rpc_fault_proxy import FaultPlan, fault_proxy

    data_dir, url = chain
    database_url = f"sqlite:///{tmp_path / 'mirror.sqlite3'}"
    ledger = open_test_ledger(data_dir, database_url)
    register_test_lots(ledger, 2, batch_size=2)
    _, _, registered_in = ledger.registry.functions.lotBatch(1).call()
    ledger.w3.provider.make_request("anvil_mine", ["0x3"])
    new_indexer(ledger, ledger.engine).run_to_head()

    # A node without the history of the registration block. No real node drops one
    # block's history on request, so the proxy plays it.
    plan = FaultPlan(missing_blocks=range(registered_in, registered_in + 1))
    with fault_proxy(url, plan) as proxy_url:
        verified = subprocess.run(
            [sys.executable, "-m", "ledger", "verify"],
            env={
                **os.environ,
                "RECLAIM_RPC_URL": proxy_url,
                "RECLAIM_DATA_DIR": str(data_dir),
                "RECLAIM_DATABASE_URL": database_url,
            },
            capture_output=True,
            text=True,
        )

    # The console wraps long lines, so compare the words.
    printed = " ".join(verified.stdout.split())
    assert verified.returncode == 1, verified.stderr
    assert "lot batch log lots 1-2: mirror , chain missing" in printed
    assert "may not keep the registry's whole log history" in printed
    assert "reindex --replace" not in printed
