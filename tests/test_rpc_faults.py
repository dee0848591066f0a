"""RPC faults between the indexer and a real anvil, injected by a proxy on 127.0.0.1."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from indexer_support import (
    clean_digest,
    new_indexer,
    open_test_ledger,
    register_test_lots,
    send_transfer,
)
from rpc_fault_proxy import FaultPlan, fault_proxy

from ledger.errors import ChainNotRunning
from ledger.indexer.digest import mirror_digest
from ledger.indexer.rpc import (
    LogRangeTooLarge,
    MissingBlocks,
    RpcClient,
    RpcError,
    RpcUnavailable,
    TransientRpcFault,
    classify_error,
)
from ledger.indexer.store import read_checkpoint
from ledger.indexer.sync import InconsistentAnswer

WAIT_SECONDS = 60


def _filled_chain(chain: tuple[Path, str], database_url: str, log_range: int = 4):  # type: ignore[no-untyped-def]
    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url, log_range=log_range)
    # One-lot batches, so that the chain has many blocks with events to fetch.
    register_test_lots(ledger, 30, batch_size=1)
    for step in range(20):
        send_transfer(ledger, 1 + step, 100 + step, receiver=2 + step % 3)
    return ledger


def _checkpoint(ledger):  # type: ignore[no-untyped-def]
    with ledger.engine.connect() as connection:
        return read_checkpoint(connection)


def test_random_faults_leave_mirror_equal_to_clean_index(
    chain: tuple[Path, str], database_url: str, tmp_path: Path
) -> None:
    ledger = _filled_chain(chain, database_url)
    head = ledger.w3.eth.block_number
    plan = FaultPlan(rate=0.25, timeout_seconds=0.6, max_logs=12, seed=7)
    with fault_proxy(ledger.url, plan) as url:
        rpc = RpcClient(url, timeout=0.3, retry_seconds=60)
        indexer = new_indexer(ledger, ledger.engine, rpc=rpc, log_range=8)
        assert indexer.run_to_head() == head

    # Every kind of fault was injected and retried, and the log limit was hit.
    assert set(plan.injected) >= {
        "timeout",
        "http-502",
        "http-503",
        "http-429",
        "reset",
        "rate-limit",
    }
    assert plan.injected["too-many-logs"] > 0
    assert rpc.retries >= sum(
        plan.injected[fault] for fault in ("http-502", "http-503", "http-429", "reset")
    )
    assert mirror_digest(ledger.engine) == clean_digest(ledger, tmp_path, head)


@pytest.mark.parametrize("suggest_range", [False, True])
def test_provider_log_limit_shrinks_ranges(
    chain: tuple[Path, str], database_url: str, tmp_path: Path, suggest_range: bool
) -> None:
    # 200 one-lot batches: 200 blocks of two logs (LotBatchRegistered and
    # TransferSingle), under a provider that refuses results over 50 logs.
    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url)
    register_test_lots(ledger, 200, batch_size=1)
    head = ledger.w3.eth.block_number
    plan = FaultPlan(max_logs=50, suggest_range=suggest_range)
    with fault_proxy(ledger.url, plan) as url:
        indexer = new_indexer(ledger, ledger.engine, url=url, log_range=2_000)
        assert indexer.run_to_head() == head

    # Two logs per lot, the building, and two role grants.
    assert indexer.stats.events == 2 * 200 + 1 + 2
    # Halving from 2,000 blocks reaches a range under 50 logs within a dozen refusals,
    # and regrowth costs one refusal per three successes: bounded, never a loop.
    assert 0 < plan.injected["too-many-logs"] <= 25
    assert indexer.stats.range_shrinks == plan.injected["too-many-logs"]
    assert mirror_digest(ledger.engine) == clean_digest(ledger, tmp_path, head)


def test_block_range_limit_uses_providers_maximum(
    chain: tuple[Path, str], database_url: str, tmp_path: Path
) -> None:
    data_dir, _ = chain
    ledger = open_test_ledger(data_dir, database_url)
    register_test_lots(ledger, 30, batch_size=2)
    head = ledger.w3.eth.block_number
    plan = FaultPlan(max_blocks=5)
    with fault_proxy(ledger.url, plan) as url:
        indexer = new_indexer(ledger, ledger.engine, url=url, log_range=1_000)
        assert indexer.run_to_head() == head
    assert indexer.range <= 10
    assert plan.injected["range-limit"] >= 1
    assert mirror_digest(ledger.engine) == clean_digest(ledger, tmp_path, head)


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("query returned more than 10000 results", LogRangeTooLarge),
        (
            "Log response size exceeded. this block range should work: [0x0, 0x1f4]",
            LogRangeTooLarge,
        ),
        ("eth_getLogs is limited to a 10,000 range", LogRangeTooLarge),
        ("block range is too wide", LogRangeTooLarge),
        ("exceed maximum block range: 5000", LogRangeTooLarge),
        ("rate limit exceeded", TransientRpcFault),
        ("Too Many Requests", TransientRpcFault),
        (
            "your app has exceeded its compute units per second capacity",
            TransientRpcFault,
        ),
        ("invalid argument 0: hex string without 0x prefix", RpcError),
        ("execution reverted", RpcError),
    ],
)
def test_error_messages_are_classified(message: str, kind: type) -> None:
    error = classify_error("eth_getLogs", -32005, message)
    assert type(error) is kind


@pytest.mark.parametrize(
    ("message", "blocks"),
    [
        ("this block range should work: [0x0, 0x1f4]", 501),
        ("Try with this block range [0x10, 0x1f]", 16),
        ("eth_getLogs is limited to a 10,000 range", None),  # not below the request
        ("eth_getLogs is limited to a 1,000 range", 1000),
        ("block range is too wide; the maximum is 5 blocks", 5),
        ("query returned more than 10000 results", None),
    ],
)
def test_suggested_range_is_read(message: str, blocks: int | None) -> None:
    error = classify_error("eth_getLogs", -32005, message)
    assert isinstance(error, LogRangeTooLarge)
    assert error.suggested_blocks(0, 4_999) == blocks


def test_deterministic_error_is_not_retried(chain: tuple[Path, str]) -> None:
    _, url = chain
    rpc = RpcClient(url, retry_seconds=30)
    with pytest.raises(RpcError) as raised:
        rpc.call("eth_getBlockByNumber", ["not-a-number", False])
    assert not isinstance(raised.value, TransientRpcFault)
    assert rpc.retries == 0


def test_node_down_gives_up_after_retry_budget() -> None:
    rpc = RpcClient("http://127.0.0.1:9", timeout=0.2, retry_seconds=0.5)
    with pytest.raises(
        RpcUnavailable, match="kept failing for 0 s|kept failing for 1 s"
    ):
        rpc.block_number()
    assert rpc.retries >= 1
    assert issubclass(RpcUnavailable, ChainNotRunning)


def test_inconsistent_log_hashes_are_rejected(
    chain: tuple[Path, str], database_url: str
) -> None:
    ledger = _filled_chain(chain, database_url)
    plan = FaultPlan(corrupt_log_hashes=True)
    with fault_proxy(ledger.url, plan) as url:
        indexer = new_indexer(ledger, ledger.engine, url=url)
        indexer._sleep = lambda _seconds: None
        with pytest.raises(InconsistentAnswer, match="with hash 0xdede"):
            indexer.run_to_head()
    assert indexer.stats.inconsistent_answers == 5
    checkpoint = _checkpoint(ledger)
    assert checkpoint.last_block == ledger.deployment.block_number - 1


def test_missing_history_is_reported_and_checkpoint_stays(
    chain: tuple[Path, str], database_url: str
) -> None:
    # anvil 1.7 keeps its whole history in its state file, so a node that lost older
    # blocks (as after loading a dumped state in earlier anvil versions) is played by
    # the proxy: it returns null for those headers and no logs for those blocks.
    ledger = _filled_chain(chain, database_url)
    head = ledger.w3.eth.block_number
    plan = FaultPlan(missing_blocks=range(1, head - 5))
    with fault_proxy(ledger.url, plan) as url:
        indexer = new_indexer(ledger, ledger.engine, url=url, log_range=4)
        with pytest.raises(MissingBlocks, match="history is incomplete"):
            indexer.run_to_head()
    checkpoint = _checkpoint(ledger)
    assert checkpoint.last_block < ledger.deployment.block_number


def test_follow_retries_a_failed_log_fetch(
    chain: tuple[Path, str], database_url: str, tmp_path: Path
) -> None:
    ledger = _filled_chain(chain, database_url)
    plan = FaultPlan()
    with fault_proxy(ledger.url, plan) as url:
        # A retry budget this short turns the 503 into a failed poll, so the follow
        # loop itself must read the block again at the next poll.
        rpc = RpcClient(url, retry_seconds=0.01)
        indexer = new_indexer(ledger, ledger.engine, rpc=rpc)
        indexer.run_to_head()
        plan.fail_once_from_block.add(ledger.w3.eth.block_number + 1)
        stop = threading.Event()
        follower = threading.Thread(
            target=indexer.follow, args=(0.1,), kwargs={"should_stop": stop.is_set}
        )
        follower.start()
        try:
            send_transfer(ledger, 3, 777, receiver=4)
            target = ledger.w3.eth.block_number
            deadline = time.monotonic() + WAIT_SECONDS
            while _checkpoint(ledger).last_block < target:
                assert time.monotonic() < deadline, "the follower did not catch up"
                time.sleep(0.05)
        finally:
            stop.set()
            follower.join(timeout=10)

    assert plan.injected["fail-once"] == 1
    assert mirror_digest(ledger.engine) == clean_digest(ledger, tmp_path, target)


def test_failed_read_ahead_keeps_stored_ranges(
    chain: tuple[Path, str], database_url: str, tmp_path: Path
) -> None:
    # Only the two newest blocks are missing, so the ranges before them are read
    # ahead and stored, and the read of the range that has them fails.
    ledger = _filled_chain(chain, database_url)
    head = ledger.w3.eth.block_number
    start = ledger.deployment.block_number
    plan = FaultPlan(missing_blocks=range(head - 1, head + 1))
    with fault_proxy(ledger.url, plan) as url:
        indexer = new_indexer(ledger, ledger.engine, url=url, log_range=4)
        with pytest.raises(MissingBlocks, match="history is incomplete"):
            indexer.run_to_head()

    last_complete = start - 1
    while last_complete + 4 < head - 1:
        last_complete += 4
    checkpoint = _checkpoint(ledger)
    assert checkpoint.last_block == last_complete
    assert indexer.stats.batches == (last_complete - start + 1) // 4
    assert mirror_digest(ledger.engine) == clean_digest(ledger, tmp_path, last_complete)
