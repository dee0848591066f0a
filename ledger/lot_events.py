"""Installations, disposals, splits and merges of one lot, read from the mirror.

These events change where a lot's quantity went without a custody transfer, because
the registry burns or mints tokens for them and emits no ``CustodyTransferred``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from ledger.db.models import Disposal, Installation, LotDerivation
from ledger.lifecycle import DisposalRoute

# Step kinds, the same words as the audit's custody movements.
INSTALLED = "installed"
DISPOSED = "disposed"
SPLIT = "split"
MERGED = "merged"
CREATED = "created"


@dataclass(frozen=True)
class LotEventStep:
    """An installation, disposal, split or merge of a lot, in chain order.

    ``quantity`` is in thousandths of the lot's unit: the quantity installed, disposed
    of, split off or merged away, or for ``created`` the quantity the lot started with.
    ``related_lot_ids`` are the new lots of a split, the lot made by a merge, or the
    lots that a created lot was made from.
    """

    kind: str
    description: str
    timestamp: datetime
    holder: str
    quantity: int
    related_lot_ids: list[int]
    destination_building_id: str | None
    destination_reference: str | None
    route: str | None
    reference_hash: str | None
    block_number: int
    transaction_hash: str
    log_index: int


def lot_event_steps(session: Session, lot_id: int) -> list[LotEventStep]:
    """Return the lot's installations, disposals, splits and merges in chain order."""
    steps = [
        installation_step(row)
        for row in session.scalars(
            select(Installation).where(Installation.lot_id == lot_id)
        )
    ]
    steps += [
        disposal_step(row)
        for row in session.scalars(select(Disposal).where(Disposal.lot_id == lot_id))
    ]
    for row in session.scalars(
        select(LotDerivation).where(derivation_condition(quoted_lot_id(lot_id)))
    ):
        steps += derivation_steps(row, lot_id)
    steps.sort(key=lambda step: (step.block_number, step.log_index))
    return steps


def quoted_lot_id(lot_id: int) -> str:
    """Return the lot id as it appears in a derivation's JSON arrays, quoted."""
    return json.dumps(str(lot_id))


def derivation_condition(quoted: Any) -> ColumnElement[bool]:
    """Return the condition that keeps derivations naming the ``quoted`` lot id.

    The lot ids are stored as JSON arrays of decimal strings such as ["5", "61"], so
    the quoted id matches whole ids only. :func:`derivation_steps` checks the parsed
    arrays again.
    """
    # NOTE: a substring match cannot use an index, so every passport scans the
    # lot_derivations table.
    return LotDerivation.parent_lot_ids.contains(
        quoted
    ) | LotDerivation.child_lot_ids.contains(quoted)


def _utc(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


def installation_step(row: Any) -> LotEventStep:
    """Return the step of an installation row (a model or a result row)."""
    destination = row.destination_reference or row.destination_building_id
    return LotEventStep(
        kind=INSTALLED,
        description=f"installed into {destination}",
        timestamp=_utc(row.timestamp),
        holder=row.holder,
        quantity=row.quantity,
        related_lot_ids=[],
        destination_building_id=row.destination_building_id,
        destination_reference=row.destination_reference,
        route=None,
        reference_hash=row.reference_hash,
        block_number=row.block_number,
        transaction_hash=row.transaction_hash,
        log_index=row.log_index,
    )


def disposal_step(row: Any) -> LotEventStep:
    """Return the step of a disposal row (a model or a result row)."""
    try:
        route = DisposalRoute(row.route).label
    except ValueError:
        # The registry rejects routes it does not know, so this is only a guard
        # against a mirror written by a newer contract.
        route = f"route {row.route}"
    return LotEventStep(
        kind=DISPOSED,
        description=f"disposed of by {route}",
        timestamp=_utc(row.timestamp),
        holder=row.holder,
        quantity=row.quantity,
        related_lot_ids=[],
        destination_building_id=None,
        destination_reference=None,
        route=route,
        reference_hash=row.reference_hash,
        block_number=row.block_number,
        transaction_hash=row.transaction_hash,
        log_index=row.log_index,
    )


def derivation_steps(row: Any, lot_id: int) -> list[LotEventStep]:
    """Return the steps of lot ``lot_id`` in a split or merge row.

    The row is a model or a result row with the same columns. The lot gets a parent
    step when it was split or merged away, and a ``created`` step when it was made.
    """
    parents = [int(value) for value in json.loads(row.parent_lot_ids)]
    children = [int(value) for value in json.loads(row.child_lot_ids)]
    quantities = [int(value) for value in json.loads(row.quantities)]
    steps = []
    if lot_id in parents:
        steps.append(_parent_step(row, lot_id, parents, children, quantities))
    if lot_id in children:
        steps.append(_child_step(row, lot_id, parents, children, quantities))
    return steps


def _parent_step(
    row: Any,
    lot_id: int,
    parents: list[int],
    children: list[int],
    quantities: list[int],
) -> LotEventStep:
    if row.kind == "split":
        # A split lists one quantity per new lot, all taken from the one parent.
        kind = SPLIT
        quantity = sum(quantities)
        description = "split into lots " + ", ".join(map(str, children))
    else:
        # A merge lists one quantity per parent lot.
        kind = MERGED
        quantity = sum(
            parent_quantity
            for parent, parent_quantity in zip(parents, quantities, strict=True)
            if parent == lot_id
        )
        description = "merged into lot " + ", ".join(map(str, children))
    return _derivation_step(row, kind, description, quantity, children)


def _child_step(
    row: Any,
    lot_id: int,
    parents: list[int],
    children: list[int],
    quantities: list[int],
) -> LotEventStep:
    if row.kind == "split":
        quantity = sum(
            child_quantity
            for child, child_quantity in zip(children, quantities, strict=True)
            if child == lot_id
        )
        description = f"created from lot {parents[0]} by a split"
    else:
        quantity = sum(quantities)
        description = (
            "created from lots " + ", ".join(map(str, parents)) + " by a merge"
        )
    return _derivation_step(row, CREATED, description, quantity, parents)


def _derivation_step(
    row: Any,
    kind: str,
    description: str,
    quantity: int,
    related_lot_ids: list[int],
) -> LotEventStep:
    return LotEventStep(
        kind=kind,
        description=description,
        timestamp=_utc(row.timestamp),
        holder=row.holder,
        quantity=quantity,
        related_lot_ids=related_lot_ids,
        destination_building_id=None,
        destination_reference=None,
        route=None,
        reference_hash=None,
        block_number=row.block_number,
        transaction_hash=row.transaction_hash,
        log_index=row.log_index,
    )
