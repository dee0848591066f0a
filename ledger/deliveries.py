"""Custody transfers with a delivery note: the CLI, the API and sales all use these.

The note records the transfer's facts and, when a transport is named, its places,
distance and CO2e estimate. Its SHA-256 hash is sent as the on-chain reference
through :func:`ledger.custody.transfer_lot`, the same function as plain transfers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from web3.types import TxReceipt

from ledger.context import Ledger
from ledger.custody import signing_account, transfer_lot
from ledger.db.models import Lot, Transfer
from ledger.db.types import UINT256_MAX
from ledger.errors import (
    Conflict,
    InvalidInput,
    LedgerError,
    NotFound,
    PermissionDenied,
)
from ledger.importing import resolve_address
from ledger.locks import market_lock
from ledger.logistics import (
    DEFAULT_VEHICLE,
    Place,
    TransportEstimate,
    build_delivery_note,
    estimate_transport,
    load_transport_factor,
    parse_place,
    write_delivery_note,
)
from ledger.organisations import find_organisation, organisation_at
from ledger.units import (
    QUANTITY_SCALE,
    Unit,
    mass_grams,
    parse_decimal,
    to_fixed,
)
from ledger.writes import CustodyReason

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Logistics:
    """Transporter and places of a transfer, all optional."""

    transporter: str | None = None
    pickup: str | None = None
    delivery: str | None = None
    vehicle: str = DEFAULT_VEHICLE

    @property
    def named(self) -> bool:
        """True when a transporter or a place is given."""
        return any((self.transporter, self.pickup, self.delivery))


@dataclass(frozen=True)
class Delivery:
    """A sent transfer with its delivery note hash and transport estimate."""

    receipt: TxReceipt
    note_hash: str
    note: dict[str, Any]
    estimate: TransportEstimate | None


def parse_quantity(text: str) -> int:
    """Parse a quantity in the lot's unit (``84.5``) into thousandths, above zero."""
    amount = to_fixed(parse_decimal(text), QUANTITY_SCALE, "a quantity")
    if amount <= 0:
        raise InvalidInput(f"Quantity {text!r} must be greater than zero.")
    if amount > UINT256_MAX:
        raise InvalidInput(
            f"Quantity {text!r} is above the maximum quantity the registry can "
            f"store, {quantity_text(UINT256_MAX)}; check the number."
        )
    return amount


def quantity_text(milli: int) -> str:
    """Format thousandths as plain decimal text in the lot's unit, such as ``84.5``."""
    whole, fraction = divmod(milli, QUANTITY_SCALE)
    digits = f"{fraction:03d}".rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def check_lot_id(lot_id: int) -> int:
    """Return ``lot_id`` if it fits a token id (1 to 2**256 - 1)."""
    if not 1 <= lot_id <= UINT256_MAX:
        raise InvalidInput(f"Lot id {lot_id} must be between 1 and 2**256 - 1.")
    return lot_id


def plan_transport(
    ledger: Ledger,
    lot_id: int,
    quantity: int,
    logistics: Logistics,
    default_pickup: Place | None = None,
) -> tuple[dict[str, Any], TransportEstimate | None]:
    """Return the note's transport fields and the CO2e estimate, if places are known."""
    if not logistics.named:
        return {}, None
    facts: dict[str, Any] = {}
    if logistics.transporter:
        transporter = find_organisation(ledger.engine, logistics.transporter)
        if transporter is None:
            raise InvalidInput(
                f"Transporter {logistics.transporter!r} is not an organisation; list "
                "them with 'reclaim org list'."
            )
        if "transporter" not in (transporter.role, *transporter.secondary_roles):
            raise InvalidInput(
                f"Organisation {transporter.actor_id} is a {transporter.role}, not a "
                "transporter; name a transporter such as ACT-005."
            )
        facts["transporter"] = {
            "id": transporter.actor_id,
            "name": transporter.name,
            "address": transporter.chain_address,
        }

    pickup = parse_place(ledger.engine, logistics.pickup) if logistics.pickup else None
    pickup = pickup or default_pickup
    delivery = (
        parse_place(ledger.engine, logistics.delivery) if logistics.delivery else None
    )
    if pickup is not None:
        facts["pickup"] = pickup.as_record()
    if delivery is not None:
        facts["delivery"] = delivery.as_record()
    if pickup is None or delivery is None:
        return facts, None

    unit_mass = _unit_mass_grams(ledger, lot_id)
    factor = load_transport_factor(logistics.vehicle)
    estimate = estimate_transport(
        pickup, delivery, mass_grams(quantity, unit_mass), factor
    )
    facts["transport"] = estimate.as_record()
    return facts, estimate


def transfer_with_note(
    ledger: Ledger,
    lot_id: int,
    sender: str,
    receiver: str,
    quantity: str,
    reason: str,
    reference: str | None = None,
    logistics: Logistics | None = None,
    facts: dict[str, Any] | None = None,
    default_pickup: Place | None = None,
    now: int | None = None,
    reservation_id: int | None = None,
) -> Delivery:
    """Write a delivery note and transfer custody with the note's hash as reference.

    ``sender`` is an organisation id (or an actor id on the local chain) whose key
    signs. ``facts`` adds fields to the note, such as a sale's reservation. A sale
    passes its ``reservation_id``, whose quantity it may take; the quantity of other
    reservations on the sender's listings stays untouched.
    """
    check_lot_id(lot_id)
    amount = parse_quantity(quantity)
    custody_reason = CustodyReason.parse(reason)
    logistics = logistics or Logistics()
    now = int(time.time()) if now is None else now

    sender_address = signing_account(ledger, sender).address
    receiver_address = resolve_address(ledger, receiver)
    if receiver_address.lower() == sender_address.lower():
        raise InvalidInput(f"{receiver!r} is the sender itself; name another receiver.")
    # The lock keeps reservations of every process on the mirror from taking the
    # quantity between the check and the mined transfer.
    # NOTE: listings and reservations read holdings from the mirror, which shows the
    # sender's old holding until the transfer is indexed after the lock is released.
    # A reservation made in that window can exceed the holding, and its sale then
    # fails check_balance.
    with market_lock(ledger.engine):
        check_balance(ledger, sender_address, lot_id, amount, reservation_id, now)

        transport, estimate = plan_transport(
            ledger, lot_id, amount, logistics, default_pickup
        )
        note = build_delivery_note(
            {
                "lot_id": str(lot_id),
                "quantity": quantity_text(amount),
                "unit": _unit_symbol(ledger, lot_id),
                "reason": custody_reason.label,
                "from": _party(ledger, sender, sender_address),
                "to": _party(ledger, receiver, receiver_address),
                "reference": reference,
                **transport,
                **(facts or {}),
            },
            now,
        )
        note_hash = write_delivery_note(ledger.settings, note)
        receipt = transfer_lot(
            ledger,
            lot_id,
            sender,
            receiver_address,
            quantity_text(amount),
            reason,
            note_hash,
        )
    return Delivery(receipt=receipt, note_hash=note_hash, note=note, estimate=estimate)


def catch_up(ledger: Ledger) -> bool:
    """Index the chain up to its head after a write; return False if that failed.

    The transfer is already on chain by then, so a failure here (such as another
    indexer process storing the same blocks first) is logged and not raised. The
    mirror catches up on the next 'reclaim index'.
    """
    try:
        indexer = ledger.indexer()
        indexer.prepare()
        indexer.run_to_head()
    except (LedgerError, SQLAlchemyError) as exc:
        logger.warning("Indexing after a transfer failed; the mirror lags: %s", exc)
        return False
    return True


def check_balance(
    ledger: Ledger,
    address: str,
    lot_id: int,
    amount: int,
    reservation_id: int | None = None,
    now: int | None = None,
) -> None:
    """Raise unless the unreserved balance of ``address`` covers ``amount`` thousandths.

    Reservations on the listings of the organisation at ``address`` keep their
    quantity, except ``reservation_id``, which the transfer consumes as a sale.
    """
    # Imported here because ledger.market imports this module.
    from ledger.market import reserved_quantity

    balance = int(ledger.registry.functions.balanceOf(address, lot_id).call())
    if balance == 0:
        raise PermissionDenied(
            f"{address} holds none of lot {lot_id}; only a holder can transfer it."
        )
    if amount > balance:
        raise Conflict(
            f"Cannot transfer {quantity_text(amount)} of lot {lot_id}: {address} "
            f"holds {quantity_text(balance)}. Transfer at most that quantity."
        )
    reserved = reserved_quantity(ledger.engine, address, lot_id, reservation_id, now)
    if amount > balance - reserved:
        free = max(balance - reserved, 0)
        raise Conflict(
            f"Cannot transfer {quantity_text(amount)} of lot {lot_id}: {address} "
            f"holds {quantity_text(balance)}, of which {quantity_text(reserved)} is "
            f"reserved on its listings. Transfer at most {quantity_text(free)}, or "
            "cancel or confirm those reservations first."
        )


def _lot(ledger: Ledger, lot_id: int) -> Lot:
    with Session(ledger.engine) as session:
        lot = session.execute(
            select(Lot).where(Lot.lot_id == lot_id)
        ).scalar_one_or_none()
    if lot is None:
        raise NotFound(
            f"Lot {lot_id} is not in the mirror; check the id or run 'reclaim index'."
        )
    return lot


def _unit_mass_grams(ledger: Ledger, lot_id: int) -> int:
    return _lot(ledger, lot_id).unit_mass_grams


def _unit_symbol(ledger: Ledger, lot_id: int) -> str:
    return Unit(_lot(ledger, lot_id).unit).symbol


def _party(ledger: Ledger, text: str, address: str) -> dict[str, Any]:
    organisation = find_organisation(ledger.engine, text) or organisation_at(
        ledger.engine, address
    )
    if organisation is None:
        return {"id": None, "name": None, "address": address.lower()}
    return {
        "id": organisation.actor_id,
        "name": organisation.name,
        "address": organisation.chain_address,
    }


@dataclass(frozen=True)
class NoteCheck:
    """A delivery note compared with the indexed transfer that references it."""

    note_hash: str
    transaction_hash: str | None
    block_number: int | None
    mismatches: list[str]


def check_delivery_note(engine: Engine, body: bytes) -> NoteCheck:
    """Find the indexed transfer whose reference is the note's hash; compare facts."""
    digest = "0x" + hashlib.sha256(body).hexdigest()
    try:
        note = json.loads(body)
        expected: dict[str, int | str] = {
            "lot": int(note["lot_id"]),
            "quantity": _Quantity(parse_quantity(note["quantity"])),
            "from": note["from"]["address"].lower(),
            "to": note["to"]["address"].lower(),
        }
    except (ValueError, KeyError, TypeError, AttributeError, InvalidInput) as exc:
        raise InvalidInput(
            f"The file is not a delivery note of this project ({exc}); give a file "
            "from DATA_DIR/delivery-notes."
        ) from None

    with Session(engine) as session:
        transfer = session.execute(
            select(Transfer).where(Transfer.reference_hash == digest).limit(1)
        ).scalar_one_or_none()
    if transfer is None:
        return NoteCheck(digest, None, None, [])
    found: dict[str, int | str] = {
        "lot": transfer.lot_id,
        "quantity": _Quantity(transfer.quantity),
        "from": transfer.from_address,
        "to": transfer.to_address,
    }
    mismatches = [
        f"{name}: the note says {expected[name]}, the chain {found[name]}"
        for name in expected
        if expected[name] != found[name]
    ]
    return NoteCheck(
        digest, transfer.transaction_hash, transfer.block_number, mismatches
    )


class _Quantity(int):
    """Thousandths of a unit that print as a quantity in the unit, such as 84.5."""

    def __str__(self) -> str:
        return quantity_text(int(self))
