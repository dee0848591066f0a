"""JSON of lots and lot histories, and the cache of the history route's bodies."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine
from web3 import Web3

from ledger.lot_events import LotEventStep
from ledger.queries import (
    CustodyStep,
    LotHistory,
    LotView,
    read_checkpoint_and_records,
    read_lot_history_at,
    read_snapshot,
)

# Maximum size of the history bodies that one process caches, in bytes of JSON.
DEFAULT_CACHE_BYTES = 32 * 1024 * 1024


@lru_cache(maxsize=65_536)
def checksum_address(address: str) -> str:
    """Return the EIP-55 form of ``address``, cached because each call hashes it."""
    return str(Web3.to_checksum_address(address))


def lot_json(lot: LotView) -> dict[str, Any]:
    """Return the JSON object of a lot; uint256 values are decimal strings."""
    # Decimal strings keep uint256 values exact in JSON clients.
    return {
        "lot_id": str(lot.lot_id),
        "building_id": lot.building_id,
        "building_reference": lot.building_reference,
        "category": lot.category,
        "unit": lot.unit,
        "quantity": str(lot.quantity),
        "unit_mass_grams": str(lot.unit_mass_grams),
        "mass_milligrams": str(lot.mass_milligrams),
        "record_hash": lot.record_hash,
        "record": lot.record,
        "first_holder": checksum_address(lot.first_holder),
        "registered_at": lot.registered_at.isoformat(),
        "block_number": lot.block_number,
        "transaction_hash": lot.transaction_hash,
        "holders": {
            checksum_address(holder): str(balance)
            for holder, balance in lot.holders.items()
        },
    }


def step_json(step: CustodyStep | LotEventStep) -> dict[str, Any]:
    """Return the JSON object of a step, with the keys in the dataclass's field order.

    Every step has a "kind". A transfer keeps the fields it had before other kinds of
    step were listed, so older clients read transfers unchanged.
    """
    if isinstance(step, CustodyStep):
        return {
            "timestamp": step.timestamp.isoformat(),
            "from_address": checksum_address(step.from_address),
            "to_address": checksum_address(step.to_address),
            "quantity": str(step.quantity),
            "reason": step.reason.label,
            "reference_hash": step.reference_hash,
            "block_number": step.block_number,
            "transaction_hash": step.transaction_hash,
            "log_index": step.log_index,
            "kind": step.kind,
        }
    return {
        "kind": step.kind,
        "description": step.description,
        "timestamp": step.timestamp.isoformat(),
        "holder": checksum_address(step.holder),
        "quantity": str(step.quantity),
        "related_lot_ids": [str(lot_id) for lot_id in step.related_lot_ids],
        "destination_building_id": step.destination_building_id,
        "destination_reference": step.destination_reference,
        "route": step.route,
        "reference_hash": step.reference_hash,
        "block_number": step.block_number,
        "transaction_hash": step.transaction_hash,
        "log_index": step.log_index,
    }


def history_json(history: LotHistory) -> dict[str, Any]:
    """Return the JSON object of a lot's history, as the history route sends it."""
    return {
        "lot": lot_json(history.lot),
        "building_record": history.building_record,
        "steps": [step_json(step) for step in history.steps],
    }


def render_json(content: Any) -> bytes:
    """Encode ``content`` as Starlette's JSONResponse does: compact UTF-8, no NaN."""
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, separators=(",", ":")
    ).encode("utf-8")


@dataclass(frozen=True)
class CachedHistory:
    """A history's JSON body and the hashes of the records it lacked when read."""

    body: bytes
    missing_records: tuple[str, ...]


class HistoryCache:
    """History bodies of this process, all read at one checkpoint of the mirror.

    Each body is returned with the checkpoint it was read at, and storing a body of
    another checkpoint drops all others. :func:`history_body` sends a body only while
    the mirror is still at that checkpoint, which never sends a stale history:

    - The indexer changes every row that a history shows (lot, building, holders,
      transfers, installations, disposals, splits and merges) in the same
      transaction as the checkpoint, also when it rolls back a reorganisation.
    - A body is read in one snapshot together with the checkpoint that names it.
    - The checkpoint key holds the block hash and the contract, so a rollback or a
      rebuilt mirror that reaches the same block number does not match.
    - The importer adds records without moving the checkpoint, so each body keeps
      the hashes of the records it lacked and is used only while they are missing.
      Records are never changed or deleted once added.
    """

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._checkpoint: tuple[Any, ...] | None = None
        self._bodies: OrderedDict[int, CachedHistory] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, lot_id: int) -> tuple[tuple[Any, ...], CachedHistory] | None:
        """Return the checkpoint and the history of ``lot_id`` read at it, or None."""
        with self._lock:
            cached = self._bodies.get(lot_id)
            if cached is None or self._checkpoint is None:
                return None
            self._bodies.move_to_end(lot_id)
            return self._checkpoint, cached

    def put(
        self, checkpoint: tuple[Any, ...], lot_id: int, cached: CachedHistory
    ) -> None:
        """Store the history of ``lot_id`` read at ``checkpoint``; evict the oldest."""
        if len(cached.body) > self.max_bytes:
            return
        with self._lock:
            if checkpoint != self._checkpoint:
                self._bodies.clear()
                self._size = 0
                self._checkpoint = checkpoint
            previous = self._bodies.pop(lot_id, None)
            if previous is not None:
                self._size -= len(previous.body)
            self._bodies[lot_id] = cached
            self._size += len(cached.body)
            while self._size > self.max_bytes:
                _, evicted = self._bodies.popitem(last=False)
                self._size -= len(evicted.body)

    def __len__(self) -> int:
        return len(self._bodies)


def history_body(engine: Engine, cache: HistoryCache, lot_id: int) -> bytes:
    """Return the JSON body of a lot's history, from ``cache`` when it is current.

    A cache hit costs one statement, which reads the checkpoint and whether a record
    that the body lacked has been added since. Raises NotFound for a lot that is not
    in the mirror.
    """
    found = cache.get(lot_id)
    if found is not None:
        cached_at, cached = found
        checkpoint, record_added = read_checkpoint_and_records(
            engine, cached.missing_records
        )
        if checkpoint == cached_at and not record_added:
            return cached.body

    with read_snapshot(engine) as connection:
        checkpoint, history = read_lot_history_at(connection, lot_id)
    body = render_json(history_json(history))
    if checkpoint is not None:
        cache.put(checkpoint, lot_id, CachedHistory(body, _missing_records(history)))
    return body


def _missing_records(history: LotHistory) -> tuple[str, ...]:
    missing = []
    if history.lot.record is None:
        missing.append(history.lot.record_hash)
    if history.building_record is None and history.building_record_hash is not None:
        missing.append(history.building_record_hash)
    return tuple(missing)
