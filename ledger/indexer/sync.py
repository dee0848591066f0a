"""The sync loop: decides which blocks to read next and drives the lower layers.

At start the indexer checks that the database mirrors this chain and this contract
(chain id, genesis hash, contract address, code at that address) and that the node
still has the checkpoint block. It then reads ``eth_getLogs`` in block ranges up to the
head, storing each range with its checkpoint in one transaction.

Reorganisations: the mirror keeps the hashes of the blocks within ``finality_depth`` of
the head. Before a range is stored, the parent hash of its first block must equal the
stored checkpoint hash. On a mismatch the indexer finds the newest stored block that the
node still has (the common ancestor), deletes everything above it and reads on from
there. A reorganisation deeper than ``finality_depth`` stops the indexer with
:class:`ReorgTooDeep` and changes nothing.

Ranges adapt to the node: a refused range is cut down (to the size the node proposes,
or in half) down to one block, and grows again after successes.

A bulk backfill on SQLite drops the secondary indexes of the event tables and builds
them again when it reaches the head (see :mod:`ledger.indexer.indexes`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from ledger.errors import ChainError, IndexerError
from ledger.indexer.decode import DecodedEvent, EventDecoder, UndecodableLog
from ledger.indexer.indexes import (
    BULK_BACKFILL_EVENTS,
    build_missing_indexes,
    drop_indexes,
    stored_events,
)
from ledger.indexer.rpc import LogRangeTooLarge, MissingBlocks, RpcClient
from ledger.indexer.store import (
    Checkpoint,
    create_checkpoint,
    read_checkpoint,
    recent_block_hashes,
    roll_back,
    store_batch,
)
from ledger.memory import freeze_loaded_objects

logger = logging.getLogger(__name__)

# Successful ranges in a row after which a shrunk range doubles again.
GROW_AFTER_SUCCESSES = 3
# Events above which the next range is shortened. The range being stored and the one
# read ahead are both in memory, at roughly 10 KB per event in the benchmark. This
# bound keeps the two at a few hundred MB on a dense chain.
MAX_EVENTS_PER_RANGE = 10_000
# Attempts at a range whose responses contradict each other before giving up.
INCONSISTENT_ATTEMPTS = 5


class ReorgTooDeep(IndexerError):
    """The chain reorganised below the finality depth; the mirror was left unchanged."""


class ChainMismatch(IndexerError):
    """The database mirrors a different chain or contract than the node serves."""


class InconsistentAnswer(IndexerError):
    """The node's responses for one range contradict each other."""


class UndecodableLogs(IndexerError):
    """Logs of the registry's address that the ABI cannot decode; nothing was stored."""

    def __init__(
        self, failures: Sequence[UndecodableLog], from_block: int, to_block: int
    ):
        self.count = len(failures)
        first = failures[0]
        super().__init__(
            f"{self.count} log(s) of the registry in blocks {from_block}-{to_block} do "
            f"not decode with the indexer's ABI, so nothing of that range was stored. "
            f"First: {first} Check that the mirror follows the deployed contract "
            "version; after a redeployment, rebuild with 'reclaim reindex'."
        )


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


@dataclass
class IndexerStats:
    """Counters of one indexer's life, for logs and tests."""

    batches: int = 0
    events: int = 0
    reorgs: int = 0
    rolled_back_blocks: int = 0
    range_shrinks: int = 0
    inconsistent_answers: int = 0


class Indexer:
    """Mirrors the registry's events from a node into a database."""

    def __init__(
        self,
        rpc: RpcClient,
        engine: Engine,
        target: IndexTarget,
        abi: list[dict[str, Any]],
        finality_depth: int = 0,
        log_range: int = 2_000,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rpc = rpc
        self.engine = engine
        self.target = target
        self.decoder = EventDecoder(abi)
        self.finality_depth = finality_depth
        # NOTE: the first range of a run is not bounded by events, because the
        # density of the chain is unknown until it is read.
        self.max_range = log_range
        self.range = log_range
        self.stats = IndexerStats()
        self._successes = 0
        self._last_events = 0
        self._sleep = sleep
        # The prune_below of this indexer's last stored batch. No block row without
        # events is below it. None until the first batch, which prunes from block 0.
        self._pruned_below: int | None = None
        # False until this indexer has checked that no deferrable index is missing,
        # and again while a backfill of its own runs without them.
        self._indexes_ready = False
        self.chain_id = rpc.chain_id()
        self.genesis_hash = str(rpc.headers([0])[0]["hash"]).lower()

    # ----------------------------------------------------------------- start-up

    def prepare(self) -> Checkpoint:
        """Check the database against the chain, creating the checkpoint if new.

        Raises :class:`ChainMismatch` for another chain or contract, and
        :class:`ReorgTooDeep` when the checkpoint block was replaced deeper than the
        finality depth. A shallower replacement is rolled back here.
        """
        with self.engine.begin() as connection:
            checkpoint = read_checkpoint(connection)
            if checkpoint is None:
                self._check_contract_code()
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
        if checkpoint.last_block_hash is None:
            return checkpoint
        head = self.rpc.block_number()
        current = None
        if checkpoint.last_block <= head:
            (current,) = self.rpc.headers_or_none([checkpoint.last_block])
            if current is None:
                raise MissingBlocks(self.rpc.url, [checkpoint.last_block])
        if current is None or _hash(current) != checkpoint.last_block_hash:
            return self._reorganise(checkpoint)
        return checkpoint

    def _check_identity(self, checkpoint: Checkpoint) -> None:
        if checkpoint.chain_id != self.chain_id:
            raise ChainMismatch(
                f"The database mirrors chain {checkpoint.chain_id}, but the node is on "
                f"chain {self.chain_id}. Use the database of that chain, or rebuild "
                "this one for the node with 'reclaim reindex --replace'."
            )
        if checkpoint.genesis_hash != self.genesis_hash and not self._links_to_genesis(
            checkpoint
        ):
            raise ChainMismatch(
                f"The database mirrors a chain with genesis {checkpoint.genesis_hash}, "
                f"but the node's genesis is {self.genesis_hash}: this is another chain "
                "(a local chain restarted without its state, for example). Nothing was "
                "changed. Restore the chain's state, or rebuild the mirror with "
                "'reclaim reindex --replace'."
            )
        if checkpoint.contract_address != self.target.address.lower():
            raise ChainMismatch(
                f"The database mirrors the registry at {checkpoint.contract_address}, "
                f"not {self.target.address}; rebuild it with "
                "'reclaim reindex --replace'."
            )
        self._check_contract_code()

    def _links_to_genesis(self, checkpoint: Checkpoint) -> bool:
        """Tell whether the node's chain still grows from the recorded genesis.

        anvil 1.7 can report a new block 0 hash after reloading its saved state, while
        block 1 still names the original genesis as its parent and every later block
        is unchanged. Such a chain is the same chain: its block 1 links to the
        recorded genesis and the checkpoint block keeps its hash.
        """
        if checkpoint.last_block_hash is None or checkpoint.last_block < 1:
            return False
        first, last = self.rpc.headers_or_none([1, checkpoint.last_block])
        if first is None or last is None:
            return False
        same = (
            _parent(first) == checkpoint.genesis_hash
            and _hash(last) == checkpoint.last_block_hash
        )
        if same:
            logger.warning(
                "The node reports genesis %s, not the recorded %s, but block 1 and "
                "block %d are unchanged: continuing with the same chain.",
                self.genesis_hash,
                checkpoint.genesis_hash,
                checkpoint.last_block,
            )
        return same

    def _check_contract_code(self) -> None:
        if self.rpc.code(self.target.address) in ("0x", "", None):
            raise ChainMismatch(
                f"No contract is deployed at {self.target.address} on chain "
                f"{self.chain_id} (block {self.rpc.block_number()}): the chain was "
                "reset or the deployment record belongs to another chain. Nothing was "
                "changed. Point RECLAIM_RPC_URL at the chain of this deployment, or "
                "deploy again and rebuild the mirror with 'reclaim reindex --replace'."
            )

    # --------------------------------------------------------------- main loop

    def safe_head(self) -> int:
        """Return the newest block the node has; the indexer reads up to it."""
        return self.rpc.block_number()

    def run_to_head(
        self,
        on_batch: Callable[[BatchResult, int], None] | None = None,
        until: int | None = None,
        bulk_backfill: bool = False,
    ) -> int:
        """Index up to the head (or ``until``) and return the last indexed block.

        ``on_batch`` receives each stored batch and the target block number. While a
        range is stored, a worker thread reads the next one from the node. Only that
        thread calls the node until its read is taken or discarded, and only the
        calling thread writes to the database.

        With ``bulk_backfill``, the first range read decides whether this run is a
        bulk backfill (see :meth:`_plan_bulk_backfill`). Only a process that runs
        the indexer alone should ask for it, as ``reclaim index`` does, because
        readers of the mirror lose the event tables' secondary indexes meanwhile.
        """
        checkpoint = self.prepare()
        last = checkpoint.last_block
        head = self._head(until)
        inconsistent = 0
        ahead: _ReadAhead | None = None
        first_read = bulk_backfill
        try:
            while last < head:
                if ahead is None or ahead.from_block != last + 1:
                    _discard(ahead)
                    ahead = _ReadAhead(self, last + 1, head)
                reading, ahead = ahead, None
                try:
                    read = reading.result()
                    self._fit_range(read)
                    if first_read:
                        self._plan_bulk_backfill(read, head)
                        first_read = False
                    if read.to_block < head:
                        ahead = _ReadAhead(self, read.to_block + 1, head)
                    result = self._store_range(read)
                except LogRangeTooLarge as exc:
                    _discard(ahead)
                    ahead = None
                    self._shrink(reading.from_block, reading.to_block, exc)
                    continue
                except InconsistentAnswer as exc:
                    _discard(ahead)
                    ahead = None
                    head = self._head(until)
                    inconsistent += 1
                    self.stats.inconsistent_answers += 1
                    if inconsistent >= INCONSISTENT_ATTEMPTS:
                        raise
                    logger.warning("%s Retrying.", exc)
                    self._sleep(0.2 * inconsistent)
                    continue
                except _ParentMismatch:
                    _discard(ahead)
                    ahead = None
                    last = self._reorganise(self._checkpoint()).last_block
                    head = self._head(until)
                    continue
                inconsistent = 0
                last = read.to_block
                self._grow()
                if on_batch is not None:
                    on_batch(result, head)
        except Exception:
            # An interrupt (KeyboardInterrupt, SystemExit) does not wait for the
            # read, because it touches no database and its daemon thread ends with
            # the process.
            _discard(ahead)
            raise
        if not self._indexes_ready:
            self._build_missing_indexes()
        return last

    def follow(
        self,
        poll_interval: float,
        on_batch: Callable[[BatchResult, int], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        """Keep indexing new blocks until ``should_stop`` returns True.

        A failed poll (node down past the retry budget, inconsistent responses) is
        logged, and the same blocks are read again at the next poll because the
        checkpoint did not move past them. Errors that retrying cannot fix are raised.
        """
        while not should_stop():
            try:
                self.run_to_head(on_batch)
            except (ReorgTooDeep, ChainMismatch, UndecodableLogs, MissingBlocks):
                raise
            except (ChainError, InconsistentAnswer) as exc:
                logger.warning("Polling failed, retrying at the next poll: %s", exc)
            time.sleep(poll_interval)

    def index_range(
        self, from_block: int, to_block: int, head: int | None = None
    ) -> BatchResult:
        """Read, decode and store the events of blocks ``from_block``..``to_block``.

        ``head`` is the chain's head as last read; blocks within the finality depth
        of it keep their hashes in the mirror for reorganisation checks.
        """
        checkpoint = self._checkpoint()
        if from_block != checkpoint.last_block + 1:
            raise IndexerError(
                f"Block range {from_block}-{to_block} does not follow the checkpoint "
                f"at block {checkpoint.last_block}."
            )
        return self._store_range(self._read_range(from_block, to_block, head))

    def _read_range(
        self, from_block: int, to_block: int, head: int | None
    ) -> _RangeRead:
        """Read and check the logs and headers of a range, without the database."""
        started = time.perf_counter()
        (before,) = self.rpc.headers_or_none([to_block])
        if before is None:
            if to_block <= self.rpc.block_number():
                raise MissingBlocks(self.rpc.url, [to_block])
            raise InconsistentAnswer(
                f"Block {to_block} is no longer on the node; the chain became shorter."
            )
        logs = self.rpc.get_logs(self.target.address, from_block, to_block)
        events = self._decode(logs, from_block, to_block)

        head = to_block if head is None else max(head, to_block)
        window_start = max(from_block, head - self.finality_depth)
        # The last block's header is needed even when it has no events and lies below
        # the window, because its hash is checked here and becomes the checkpoint's.
        numbers = sorted(
            {event.block_number for event in events}
            | set(range(window_start, to_block + 1))
            | {from_block, to_block}
        )
        headers = dict(zip(numbers, self.rpc.headers(numbers), strict=True))
        if _hash(headers[to_block]) != _hash(before):
            raise InconsistentAnswer(
                f"Block {to_block} changed hash while its range was read "
                f"({_hash(before)} then {_hash(headers[to_block])})."
            )
        _check_links(headers)
        _check_logs(events, headers, self.target.address, from_block, to_block)
        return _RangeRead(from_block, to_block, head, events, headers, started)

    def _store_range(self, read: _RangeRead) -> BatchResult:
        """Store a range read by :meth:`_read_range` if it extends the checkpoint."""
        checkpoint = self._checkpoint()
        if read.from_block != checkpoint.last_block + 1:
            raise IndexerError(
                f"Block range {read.from_block}-{read.to_block} does not follow the "
                f"checkpoint at block {checkpoint.last_block}: another indexer writes "
                "to this database. Run one indexer per database."
            )
        if (
            checkpoint.last_block_hash is not None
            and _parent(read.headers[read.from_block]) != checkpoint.last_block_hash
        ):
            raise _ParentMismatch()

        # Rows without events come from earlier batches (none below the last
        # prune_below) or from this one (none below from_block). Bounding the prune
        # keeps its cost per batch independent of the mirror's size.
        prune_below = read.head - self.finality_depth
        prune_from = None
        if self._pruned_below is not None:
            prune_from = min(self._pruned_below, read.from_block)
        with self.engine.begin() as connection:
            store_batch(
                connection,
                read.events,
                read.headers,
                read.to_block,
                _hash(read.headers[read.to_block]),
                expected_last_block=read.from_block - 1,
                prune_below=prune_below,
                prune_from=prune_from,
            )
        self._pruned_below = prune_below

        result = BatchResult(
            read.from_block,
            read.to_block,
            len(read.events),
            time.perf_counter() - read.started,
        )
        self.stats.batches += 1
        self.stats.events += len(read.events)
        logger.info(
            "Indexed chain %d blocks %d-%d: %d events in %.3f s",
            self.chain_id,
            read.from_block,
            read.to_block,
            len(read.events),
            result.seconds,
        )
        return result

    # ------------------------------------------------------------- internals

    def _plan_bulk_backfill(self, read: _RangeRead, head: int) -> None:
        """Prepare a bulk backfill if ``read`` starts one.

        The events still to read are estimated from the density of the first range.
        Building an index again reads the whole table, so a bulk backfill must add
        more events than the mirror contains, and at least BULK_BACKFILL_EVENTS.
        On SQLite it drops the deferrable indexes, to build them at the head. A
        PostgreSQL backfill keeps them: it gained nothing measurable from dropping
        them, and each drop waits for every open transaction that read its table.
        """
        blocks = read.to_block - read.from_block + 1
        expected = len(read.events) * (head - read.from_block + 1) // blocks
        if expected < BULK_BACKFILL_EVENTS:
            return
        with self.engine.connect() as connection:
            stored = stored_events(connection)
        if expected < stored:
            return
        freeze_loaded_objects()
        if self.engine.dialect.name != "sqlite":
            return
        logger.info(
            "About %d events to read up to block %d: dropping the secondary indexes "
            "of the event tables, to build them once the backfill reaches that block.",
            expected,
            head,
        )
        self._indexes_ready = False
        drop_indexes(self.engine)

    def _build_missing_indexes(self) -> None:
        """Build the deferrable indexes that the database lacks."""
        started = time.perf_counter()
        with self.engine.begin() as connection:
            built = build_missing_indexes(connection)
        if built:
            logger.info(
                "Built %d secondary indexes of the event tables in %.1f s.",
                len(built),
                time.perf_counter() - started,
            )
        self._indexes_ready = True

    def _head(self, until: int | None) -> int:
        head = self.safe_head()
        return head if until is None else min(head, until)

    def _checkpoint(self) -> Checkpoint:
        with self.engine.connect() as connection:
            checkpoint = read_checkpoint(connection)
        if checkpoint is None:
            raise IndexerError("The mirror has no checkpoint; it was not initialised.")
        return checkpoint

    def _decode(
        self, logs: list[dict[str, Any]], from_block: int, to_block: int
    ) -> list[DecodedEvent]:
        events: list[DecodedEvent] = []
        failures: list[UndecodableLog] = []
        # Pop the logs as they are decoded, so that a batch does not hold every log
        # and every event at once. The sort below restores the chain order.
        logs.reverse()
        while logs:
            try:
                events.append(self.decoder.decode(logs.pop()))
            except UndecodableLog as exc:
                failures.append(exc)
        if failures:
            raise UndecodableLogs(failures, from_block, to_block)
        events.sort(key=_position)
        return events

    def _shrink(self, from_block: int, to_block: int, exc: LogRangeTooLarge) -> None:
        blocks = to_block - from_block + 1
        if blocks == 1:
            raise IndexerError(
                f"The node refuses the logs of block {from_block} alone: "
                f"{exc.rpc_message}"
                " A single block cannot be split further; use a node without this "
                "response limit."
            ) from exc
        suggested = exc.suggested_blocks(from_block, to_block)
        self.range = suggested if suggested and suggested < blocks else blocks // 2
        self.range = max(self.range, 1)
        self._successes = 0
        self.stats.range_shrinks += 1
        logger.info(
            "The node refused %d blocks of logs (%s); reading %d at a time.",
            blocks,
            exc.rpc_message,
            self.range,
        )

    def _fit_range(self, read: _RangeRead) -> None:
        """Shorten the range after a read of more than MAX_EVENTS_PER_RANGE events."""
        events = len(read.events)
        self._last_events = events
        if events <= MAX_EVENTS_PER_RANGE:
            return
        blocks = read.to_block - read.from_block + 1
        fitted = max(1, blocks * MAX_EVENTS_PER_RANGE // events)
        if fitted < self.range:
            logger.info(
                "Blocks %d-%d held %d events; reading %d blocks at a time.",
                read.from_block,
                read.to_block,
                events,
                fitted,
            )
            self.range = fitted
            self._successes = 0

    def _grow(self) -> None:
        # A range that was dense stays as long as it is.
        if 2 * self._last_events > MAX_EVENTS_PER_RANGE:
            return
        self._successes += 1
        if self.range < self.max_range and self._successes >= GROW_AFTER_SUCCESSES:
            self.range = min(self.max_range, self.range * 2)
            self._successes = 0

    def _reorganise(self, checkpoint: Checkpoint) -> Checkpoint:
        """Roll the mirror back to the newest stored block the node still has."""
        lowest = checkpoint.last_block - self.finality_depth
        with self.engine.connect() as connection:
            stored = recent_block_hashes(connection, lowest)
        node_headers = self.rpc.headers_or_none([number for number, _ in stored])
        ancestor = None
        for (number, stored_hash), header in zip(stored, node_headers, strict=True):
            if header is not None and _hash(header) == stored_hash:
                ancestor = (number, stored_hash)
                break
        if ancestor is None:
            raise ReorgTooDeep(
                f"The chain replaced block {checkpoint.last_block}, and none of the "
                f"{len(stored)} stored blocks down to block {max(lowest, 0)} is still "
                f"on it: the reorganisation is deeper than the finality depth of "
                f"{self.finality_depth} blocks (RECLAIM_CONFIRMATIONS). The mirror was "
                "left unchanged at block "
                f"{checkpoint.last_block}. Rebuild it with "
                "'reclaim reindex --replace', "
                "and raise RECLAIM_CONFIRMATIONS if such reorganisations are normal on "
                "this chain."
            )
        number, block_hash = ancestor
        with self.engine.begin() as connection:
            removed = roll_back(connection, self.decoder, number, block_hash)
        depth = checkpoint.last_block - number
        self.stats.reorgs += 1
        self.stats.rolled_back_blocks += depth
        logger.warning(
            "Chain reorganisation: rolled the mirror back %d block(s) from %d to the "
            "common ancestor %d (%s), removing %d event(s); reading on from there.",
            depth,
            checkpoint.last_block,
            number,
            block_hash,
            removed,
        )
        return self._checkpoint()


class _ParentMismatch(Exception):
    """The first block of a range does not extend the stored checkpoint block."""


@dataclass(frozen=True)
class _RangeRead:
    """The checked events and headers of a block range, ready to store."""

    from_block: int
    to_block: int
    head: int
    events: list[DecodedEvent]
    headers: dict[int, dict[str, Any]]
    started: float


class _ReadAhead:
    """A block range that a daemon thread reads with :meth:`Indexer._read_range`."""

    def __init__(self, indexer: Indexer, from_block: int, head: int) -> None:
        self.from_block = from_block
        self.to_block = min(head, from_block + indexer.range - 1)
        self._read: _RangeRead | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(indexer, head), name="indexer-read", daemon=True
        )
        self._thread.start()

    def _run(self, indexer: Indexer, head: int) -> None:
        try:
            self._read = indexer._read_range(self.from_block, self.to_block, head)
        except BaseException as exc:  # re-raised in the calling thread by result()
            self._error = exc

    def result(self) -> _RangeRead:
        """Wait for the read, then return it or raise its exception."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._read is not None
        return self._read

    def wait(self) -> None:
        """Wait until the thread has stopped using the node."""
        self._thread.join()


def _discard(ahead: _ReadAhead | None) -> None:
    """Drop a read whose result is not needed, once it has stopped using the node.

    The read may have failed, and its range is read again if it is needed.
    """
    if ahead is not None:
        ahead.wait()


def _hash(header: dict[str, Any]) -> str:
    return str(header["hash"]).lower()


def _parent(header: dict[str, Any]) -> str:
    return str(header["parentHash"]).lower()


def _position(event: DecodedEvent) -> tuple[int, int]:
    return event.position


def _check_links(headers: dict[int, dict[str, Any]]) -> None:
    numbers = sorted(headers)
    for lower, upper in zip(numbers, numbers[1:], strict=False):
        if upper == lower + 1 and _parent(headers[upper]) != _hash(headers[lower]):
            raise InconsistentAnswer(
                f"Block {upper}'s parent hash {_parent(headers[upper])} is not block "
                f"{lower}'s hash {_hash(headers[lower])}."
            )


def _check_logs(
    events: list[DecodedEvent],
    headers: dict[int, dict[str, Any]],
    address: str,
    from_block: int,
    to_block: int,
) -> None:
    for event in events:
        if not from_block <= event.block_number <= to_block:
            raise InconsistentAnswer(
                f"The node returned a log of block {event.block_number} for the range "
                f"{from_block}-{to_block}."
            )
        expected = _hash(headers[event.block_number])
        if event.block_hash != expected:
            raise InconsistentAnswer(
                f"The node returned a log of block {event.block_number} with hash "
                f"{event.block_hash}, but the block's hash is {expected}."
            )
        if event.address is not None and event.address != address.lower():
            raise InconsistentAnswer(
                f"The node returned a log of {event.address} when asked for {address}."
            )
        if event.removed:
            raise InconsistentAnswer(
                f"The node returned a removed log in block {event.block_number}."
            )
