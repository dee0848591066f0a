"""The sync loop: decides which blocks to read next and drives the lower layers.

At start the indexer checks that the database mirrors this chain and this contract
(chain id, genesis hash, contract address) and that the checkpoint block still has the
hash it had when stored. It then reads ``eth_getLogs`` in block ranges up to the head
minus the configured confirmations, storing each range with its checkpoint.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from ledger.errors import IndexerError
from ledger.indexer.decode import DecodedEvent, EventDecoder
from ledger.indexer.rpc import RpcClient
from ledger.indexer.store import (
    Checkpoint,
    create_checkpoint,
    read_checkpoint,
    store_batch,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchResult:
    """Summary of one stored block range."""

    from_block: int
    to_block: int
    events: int
    seconds: float


@dataclass(frozen=True)
class IndexTarget:
    """The contract to mirror and where its history starts."""

    address: str
    start_block: int


class Indexer:
    """Mirrors the registry's events from a node into a database."""

    def __init__(
        self,
        rpc: RpcClient,
        engine: Engine,
        target: IndexTarget,
        abi: list[dict[str, Any]],
        confirmations: int = 0,
        log_range: int = 2_000,
    ) -> None:
        self.rpc = rpc
        self.engine = engine
        self.target = target
        self.decoder = EventDecoder(abi)
        self.confirmations = confirmations
        self.log_range = log_range
        self.chain_id = rpc.chain_id()
        self.genesis_hash = str(rpc.headers([0])[0]["hash"]).lower()

    def prepare(self) -> Checkpoint:
        """Check the database against the chain, creating the checkpoint if new."""
        with self.engine.begin() as connection:
            checkpoint = read_checkpoint(connection)
            if checkpoint is None:
                checkpoint = Checkpoint(
                    chain_id=self.chain_id,
                    genesis_hash=self.genesis_hash,
                    contract_address=self.target.address.lower(),
                    start_block=self.target.start_block,
                    last_block=self.target.start_block - 1,
                    last_block_hash=None,
                )
                create_checkpoint(connection, checkpoint)
                return checkpoint

        self._check_identity(checkpoint)
        return checkpoint

    def safe_head(self) -> int:
        """Return the newest block the indexer may store, given the confirmations."""
        return self.rpc.block_number() - self.confirmations

    def run_to_head(
        self, on_batch: Callable[[BatchResult, int], None] | None = None
    ) -> int:
        """Index up to the current safe head and return the last indexed block.

        ``on_batch`` receives each stored batch and the target block number.
        """
        checkpoint = self.prepare()
        last = checkpoint.last_block
        head = self.safe_head()
        while last < head:
            to_block = min(head, last + self.log_range)
            result = self.index_range(last + 1, to_block)
            last = to_block
            if on_batch is not None:
                on_batch(result, head)
        return last

    def follow(
        self,
        poll_interval: float,
        on_batch: Callable[[BatchResult, int], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        """Keep indexing new blocks until ``should_stop`` returns True."""
        while not should_stop():
            self.run_to_head(on_batch)
            time.sleep(poll_interval)

    def index_range(self, from_block: int, to_block: int) -> BatchResult:
        """Read, decode and store the events of blocks ``from_block``..``to_block``."""
        started = time.perf_counter()
        logs = self.rpc.get_logs(self.target.address, from_block, to_block)
        events = sorted((self.decoder.decode(log) for log in logs), key=_position)
        numbers = sorted({event.block_number for event in events} | {to_block})
        headers = dict(zip(numbers, self.rpc.headers(numbers), strict=True))
        _check_block_hashes(events, headers)

        with self.engine.begin() as connection:
            store_batch(
                connection,
                events,
                {event.block_number: headers[event.block_number] for event in events},
                to_block,
                str(headers[to_block]["hash"]).lower(),
            )

        result = BatchResult(
            from_block, to_block, len(events), time.perf_counter() - started
        )
        logger.info(
            "Indexed chain %d blocks %d-%d: %d events in %.3f s",
            self.chain_id,
            from_block,
            to_block,
            len(events),
            result.seconds,
        )
        return result

    def _check_identity(self, checkpoint: Checkpoint) -> None:
        if checkpoint.chain_id != self.chain_id:
            raise IndexerError(
                f"The database mirrors chain {checkpoint.chain_id}, but the node is on "
                f"chain {self.chain_id}; use the database of that chain or rebuild "
                "this one with 'reclaim index --reset'."
            )
        if checkpoint.genesis_hash != self.genesis_hash:
            raise IndexerError(
                f"The database mirrors a chain with genesis {checkpoint.genesis_hash}, "
                f"but the node's genesis is {self.genesis_hash}: the chain was reset. "
                "Rebuild the mirror with 'reclaim index --reset'."
            )
        if checkpoint.contract_address != self.target.address.lower():
            raise IndexerError(
                f"The database mirrors the registry at {checkpoint.contract_address}, "
                f"not {self.target.address}; rebuild it with 'reclaim index --reset'."
            )
        if checkpoint.last_block_hash is None:
            return
        if checkpoint.last_block > self.rpc.block_number():
            raise IndexerError(
                f"The database is indexed to block {checkpoint.last_block}, beyond the "
                "node's head: the chain lost blocks. Rebuild the mirror with "
                "'reclaim index --reset'."
            )
        (header,) = self.rpc.headers([checkpoint.last_block])
        if str(header["hash"]).lower() != checkpoint.last_block_hash:
            raise IndexerError(
                f"Block {checkpoint.last_block} now has hash {header['hash']}, not the "
                f"indexed {checkpoint.last_block_hash}: the chain reorganised below the "
                "checkpoint. Rebuild the mirror with 'reclaim index --reset'."
            )


def _position(event: DecodedEvent) -> tuple[int, int]:
    return event.position


def _check_block_hashes(
    events: list[DecodedEvent], headers: dict[int, dict[str, Any]]
) -> None:
    for event in events:
        expected = str(headers[event.block_number]["hash"]).lower()
        if event.block_hash != expected:
            raise IndexerError(
                f"The node returned a log of block {event.block_number} with hash "
                f"{event.block_hash}, but the block's hash is {expected}; the answer "
                "is inconsistent (a reorganisation in progress?). Retry later."
            )
