"""Installations, disposals, splits and merges of one lot, read from the mirror.

These events change where a lot's quantity went without a custody transfer, because
the registry burns or mints tokens for them and emits no ``CustodyTransferred``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
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
    steps = (
        _installation_steps(session, lot_id)
        + _disposal_steps(session, lot_id)
        + _derivation_steps(session, lot_id)
    )
    steps.sort(key=lambda step: (step.block_number, step.log_index))
    return steps


def _utc(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


def _installation_steps(session: Session, lot_id: int) -> list[LotEventStep]:
    rows = session.scalars(select(Installation).where(Installation.lot_id == lot_id))
    steps = []
    for row in rows:
        destination = row.destination_reference or row.destination_building_id
        steps.append(
            LotEventStep(
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
        )
    return steps


def _disposal_steps(session: Session, lot_id: int) -> list[LotEventStep]:
    rows = session.scalars(select(Disposal).where(Disposal.lot_id == lot_id))
    steps = []
    for row in rows:
        try:
            route = DisposalRoute(row.route).label
        except ValueError:
            # The registry rejects routes it does not know, so this is only a guard
            # against a mirror written by a newer contract.
            route = f"route {row.route}"
        steps.append(
            LotEventStep(
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
        )
    return steps


def _derivation_steps(session: Session, lot_id: int) -> list[LotEventStep]:
    # The lot ids are stored as JSON arrays of decimal strings such as ["5", "61"], so
    # the quoted id matches whole ids only. The parsed arrays are checked again below.
    quoted = json.dumps(str(lot_id))
    rows = session.scalars(
        select(LotDerivation).where(
            LotDerivation.parent_lot_ids.contains(quoted)
            | LotDerivation.child_lot_ids.contains(quoted)
        )
    )
    steps = []
    for row in rows:
        parents = [int(value) for value in json.loads(row.parent_lot_ids)]
        children = [int(value) for value in json.loads(row.child_lot_ids)]
        quantities = [int(value) for value in json.loads(row.quantities)]
        if lot_id in parents:
            steps.append(_parent_step(row, lot_id, parents, children, quantities))
        if lot_id in children:
            steps.append(_child_step(row, lot_id, parents, children, quantities))
    return steps


def _parent_step(
    row: LotDerivation,
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
    row: LotDerivation,
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
    row: LotDerivation,
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
