"""Reorganisations on a real anvil: snapshot, index one branch, revert, mine another.

Each trial replaces the newest 1 to 10 blocks with a branch of different transfers
and checks that the mirror then equals a clean index of the new chain.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from indexer_support import (
    clean_digest,
    new_indexer,
    open_test_ledger,
    register_test_lots,
    send_transfer,
)
from sqlalchemy import Engine, func, select

from ledger.context import Ledger
from ledger.db.models import Block, Holding, Lot, RawEvent, Transfer
from ledger.indexer.digest import mirror_digest
from ledger.indexer.rpc import RpcClient
from ledger.indexer.sync import ReorgTooDeep
from ledger.verify import verify_mirror

TRIALS = 20


def _rpc(ledger, method: str, params: list) -> object:  # type: ignore[no-untyped-def]
    return ledger.w3.provider.make_request(method, params)["result"]


def test_reorg_trials_match_clean_index(
    chain: tuple[Path, str], database_url: str, tmp_path: Path
) -> None:
    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url, confirmations=12)
    register_test_lots(ledger, 20)
    indexer = new_indexer(ledger, ledger.engine)
    indexer.run_to_head()

    for trial in range(TRIALS):
        depth = 1 + trial % 10
        snapshot = _rpc(ledger, "evm_snapshot", [])
        for step in range(depth):
            send_transfer(ledger, 1 + (trial + step) % 20, 1 + step, receiver=2)
        indexer.run_to_head()
        orphaned = ledger.w3.eth.get_block("latest")["hash"].to_0x_hex()

        assert _rpc(ledger, "evm_revert", [snapshot]) is True
        # The new branch is as long as the old one or one block longer.
        for step in range(depth + trial % 2):
            send_transfer(ledger, 1 + (trial + step) % 20, 7 + step, receiver=3)
        reorgs_before = indexer.stats.reorgs
        last = indexer.run_to_head()

        assert indexer.stats.reorgs == reorgs_before + 1
        with ledger.engine.connect() as connection:
            assert (
                connection.scalar(
                    select(func.count())
                    .select_from(Block)
                    .where(Block.hash == orphaned)
                )
                == 0
            )
            heights = connection.execute(
                select(Block.number, func.count()).group_by(Block.number)
            ).all()
            assert all(count == 1 for _, count in heights)
        assert mirror_digest(ledger.engine) == clean_digest(ledger, tmp_path, last)

    assert indexer.stats.reorgs == TRIALS
    # Every trial's old branch was rolled back: depths 1..10 twice, 110 blocks in all.
    assert indexer.stats.rolled_back_blocks == 2 * sum(range(1, 11))
    with ledger.engine.connect() as connection:
        receivers = connection.scalars(select(Transfer.to_address).distinct()).all()
    # Only transfers of the surviving branches (to account 3) remain.
    assert set(receivers) == {ledger.w3.eth.accounts[3].lower()}
    report = verify_mirror(ledger.engine, RpcClient(ledger.url))
    assert report.differences == []
    assert report.events == events_on_chain(ledger)


def _blocks_without_events(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return list(
            connection.scalars(
                select(Block.number)
                .where(Block.number.not_in(select(RawEvent.block_number)))
                .order_by(Block.number)
            )
        )


def _recent_blocks_without_events(ledger: Ledger, last: int) -> list[int]:
    """Return the blocks within the finality depth of ``last`` that have no event."""
    depth = ledger.settings.confirmations
    logs = RpcClient(ledger.url).get_logs(ledger.deployment.address, last - depth, last)
    with_events = {int(log["blockNumber"], 16) for log in logs}
    return [
        number for number in range(last - depth, last + 1) if number not in with_events
    ]


def test_blocks_without_events_pruned_in_small_ranges(
    chain: tuple[Path, str], database_url: str
) -> None:
    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url, confirmations=3)
    register_test_lots(ledger, 4, batch_size=1)
    _rpc(ledger, "anvil_mine", [hex(9)])
    # Ranges of two blocks end far below the head, so each range's first block is
    # below the previous range's prune bound and must still be pruned.
    indexer = new_indexer(ledger, ledger.engine, log_range=2)
    last = indexer.run_to_head()
    assert indexer.stats.batches > 5
    assert _blocks_without_events(ledger.engine) == list(range(last - 3, last + 1))

    # A reorganisation of two blocks, then more blocks on the new branch.
    snapshot = _rpc(ledger, "evm_snapshot", [])
    send_transfer(ledger, 1, 5)
    _rpc(ledger, "anvil_mine", [hex(1)])
    indexer.run_to_head()
    assert _rpc(ledger, "evm_revert", [snapshot]) is True
    send_transfer(ledger, 2, 6)
    _rpc(ledger, "anvil_mine", [hex(6)])
    last = indexer.run_to_head()
    assert indexer.stats.reorgs == 1
    assert _blocks_without_events(ledger.engine) == _recent_blocks_without_events(
        ledger, last
    )


def events_on_chain(ledger) -> int:  # type: ignore[no-untyped-def]
    logs = RpcClient(ledger.url).get_logs(
        ledger.deployment.address, 0, ledger.w3.eth.block_number
    )
    return len(logs)


def test_reorg_deeper_than_finality_depth_stops(
    chain: tuple[Path, str], database_url: str
) -> None:
    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url, confirmations=2)
    register_test_lots(ledger, 3)
    indexer = new_indexer(ledger, ledger.engine)
    snapshot = _rpc(ledger, "evm_snapshot", [])
    for step in range(5):
        send_transfer(ledger, 1, 1 + step)
    indexer.run_to_head()
    before = mirror_digest(ledger.engine)

    _rpc(ledger, "evm_revert", [snapshot])
    for step in range(6):
        send_transfer(ledger, 2, 1 + step)
    with pytest.raises(ReorgTooDeep, match="deeper than the finality depth of 2"):
        indexer.run_to_head()
    assert mirror_digest(ledger.engine) == before


def test_pruned_headers_keep_events_and_window(
    chain: tuple[Path, str], database_url: str
) -> None:
    """Across many small batches, only final blocks without events lose their header."""
    data_dir, _ = chain
    depth = 3
    ledger = open_test_ledger(data_dir, database_url, confirmations=depth)
    register_test_lots(ledger, 4)
    # Ranges of 2 blocks, so that headers stored by one batch are pruned by later ones.
    indexer = new_indexer(ledger, ledger.engine, log_range=2)
    for step in range(12):
        if step % 3 == 0:
            send_transfer(ledger, 1 + step % 4, 1 + step)
        else:
            _rpc(ledger, "evm_mine", [])
        indexer.run_to_head()

    head = ledger.w3.eth.block_number
    with ledger.engine.connect() as connection:
        stored = set(connection.scalars(select(Block.number)))
        with_events = set(connection.scalars(select(RawEvent.block_number)))
    expected = with_events | set(range(head - depth, head + 1))
    assert stored == expected
    assert len(with_events) >= 5


def test_reorg_removes_batch_lot_rows(
    chain: tuple[Path, str], database_url: str, tmp_path: Path
) -> None:
    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url, confirmations=12)
    register_test_lots(ledger, 3, batch_size=3)
    indexer = new_indexer(ledger, ledger.engine)
    indexer.run_to_head()
    snapshot = _rpc(ledger, "evm_snapshot", [])
    # One batch of lots 4-8 and a transfer of lot 5 on the branch that goes away.
    register_test_lots(ledger, 5, batch_size=5)
    send_transfer(ledger, 5, 1_000)
    indexer.run_to_head()
    with ledger.engine.connect() as connection:
        before = connection.scalar(select(func.count()).select_from(Lot))
        holders_of_8 = connection.scalar(
            select(func.count()).select_from(Holding).where(Holding.lot_id == 8)
        )
    assert before == 8
    assert holders_of_8 == 1

    assert _rpc(ledger, "evm_revert", [snapshot]) is True
    # The new branch registers a batch of two lots, which get ids 4 and 5.
    register_test_lots(ledger, 2, batch_size=2)
    _rpc(ledger, "anvil_mine", [hex(3)])
    last = indexer.run_to_head()

    assert indexer.stats.reorgs == 1
    with ledger.engine.connect() as connection:
        lot_ids = list(connection.scalars(select(Lot.lot_id).order_by(Lot.lot_id)))
        held_ids = set(connection.scalars(select(Holding.lot_id)))
        transfers = connection.scalar(select(func.count()).select_from(Transfer))
        origins = set(
            connection.execute(
                select(Lot.block_number, Lot.block_hash).where(Lot.lot_id >= 4)
            ).all()
        )
    assert lot_ids == [1, 2, 3, 4, 5]
    assert held_ids == {1, 2, 3, 4, 5}
    assert transfers == 0
    # Both lots come from one event in a block of the surviving branch.
    assert len(origins) == 1
    ((number, block_hash),) = origins
    assert ledger.w3.eth.get_block(number)["hash"].to_0x_hex() == block_hash
    assert mirror_digest(ledger.engine) == clean_digest(ledger, tmp_path, last)
    assert verify_mirror(ledger.engine, RpcClient(ledger.url)).ok
