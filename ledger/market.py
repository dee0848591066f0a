"""Listings, reservations and sales of the lots an organisation holds.

Listings and reservations are database rows written by the organisations. What is
still available is computed on every read from the mirror, never kept as a counter:

    remaining = listed - sold through this listing (indexed transfers whose
                reference is the hash of one of its reservations' delivery notes)
    free      = seller's holding - remaining of the seller's other open listings
    available = min(remaining, free) - active reservations

An active reservation keeps its quantity from others until it expires. A confirmed
reservation keeps it until its transfer is in the mirror, where it counts as sold.

Each write that checks availability first runs under :func:`ledger.locks.market_lock`,
which serialises it with the other checks and writes of every thread and process on
the same mirror, API workers and CLI commands alike.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from ledger.context import Ledger
from ledger.db.models import (
    Holding,
    Listing,
    Lot,
    Organisation,
    Record,
    Reservation,
    Transfer,
)
from ledger.deliveries import (
    Delivery,
    Logistics,
    catch_up,
    check_lot_id,
    parse_quantity,
    quantity_text,
    transfer_with_note,
)
from ledger.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ledger.locks import market_lock
from ledger.logistics import Place, parse_coordinate
from ledger.organisations import OrganisationView, check_text
from ledger.units import CENTS_PER_EURO, QUANTITY_SCALE, Unit, parse_money_cents

logger = logging.getLogger(__name__)

ACTIVE = "active"
CANCELLED = "cancelled"
CONFIRMING = "confirming"
CONFIRMED = "confirmed"
EXPIRED = "expired"

MAX_RESERVATION_HOURS = 14 * 24
# One minute: a shorter reservation would expire before the buyer could act on it.
MIN_RESERVATION_HOURS = 1 / 60
MAX_PRICE_CENTS = 10**13
MAX_NAME_LENGTH = 200
MAX_CONDITIONS_LENGTH = 2000


@dataclass(frozen=True)
class ListingInput:
    """The fields of a new listing, as text from the CLI or the API."""

    quantity: str
    price_per_unit: str
    location_name: str
    latitude: str | None = None
    longitude: str | None = None
    available_from: date | None = None
    pickup_conditions: str = ""


@dataclass(frozen=True)
class ListingChanges:
    """Fields of a listing to change. A None field stays as it is."""

    quantity: str | None = None
    price_per_unit: str | None = None
    location_name: str | None = None
    latitude: str | None = None
    longitude: str | None = None
    available_from: date | None = None
    pickup_conditions: str | None = None


@dataclass(frozen=True)
class ListingView:
    """A listing with its availability computed from the mirror.

    Quantities are in thousandths of the lot's unit. While the lot is missing from
    the mirror (``lot_indexed`` False, as during a reindex), ``unit`` is None and
    ``available`` is 0 because the availability is unknown.
    """

    id: int
    lot_id: int
    seller: str
    seller_address: str
    unit: Unit | None
    lot_indexed: bool
    listed: int
    sold: int
    reserved: int
    holding: int
    available: int
    price_cents: int
    location_name: str
    latitude: str | None
    longitude: str | None
    available_from: date | None
    pickup_conditions: str
    created_at: int
    updated_at: int
    withdrawn_at: int | None


@dataclass(frozen=True)
class ReservationView:
    """A reservation. Its ``status`` is ``expired`` for an active one past its time."""

    id: int
    listing_id: int
    lot_id: int
    buyer: str
    buyer_address: str
    seller: str
    quantity: int
    unit: Unit
    status: str
    created_at: int
    expires_at: int
    delivery_note_hash: str | None
    transaction_hash: str | None
    confirmed_at: int | None


@dataclass(frozen=True)
class Sale:
    """A confirmed reservation and its on-chain delivery."""

    reservation: ReservationView
    delivery: Delivery


# ------------------------------------------------------------------ listings


def create_listing(
    engine: Engine,
    seller: OrganisationView,
    lot_id: int,
    data: ListingInput,
    now: int | None = None,
) -> ListingView:
    """List a quantity of a lot that ``seller`` holds, up to what is not yet listed."""
    now = _now(now)
    check_lot_id(lot_id)
    quantity = parse_quantity(data.quantity)
    price = _parse_price(data.price_per_unit)
    name = _text(data.location_name, "location name", MAX_NAME_LENGTH, required=True)
    conditions = _text(
        data.pickup_conditions, "pickup conditions", MAX_CONDITIONS_LENGTH
    )
    latitude, longitude = _coordinates(data.latitude, data.longitude)

    with market_lock(engine), Session(engine) as session, session.begin():
        _lot(session, lot_id)
        holding = _holding(session, lot_id, seller.chain_address)
        if holding == 0:
            raise PermissionDenied(
                f"{seller.actor_id} holds none of lot {lot_id}; only a holder can "
                "list it."
            )
        listed_elsewhere = _remaining_of_open_listings(session, seller.id, lot_id)
        free = max(holding - listed_elsewhere, 0)
        if quantity > free:
            raise Conflict(
                f"Cannot list {quantity_text(quantity)} of lot {lot_id}: "
                f"{seller.actor_id} holds {quantity_text(holding)}, of which "
                f"{quantity_text(listed_elsewhere)} is already listed, so at most "
                f"{quantity_text(free)} can be listed."
            )
        row = Listing(
            lot_id=lot_id,
            organisation_id=seller.id,
            quantity=quantity,
            price_cents=price,
            location_name=name,
            latitude=latitude,
            longitude=longitude,
            available_from=data.available_from,
            pickup_conditions=conditions,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        return _listing_view(session, row, now)


def update_listing(
    engine: Engine,
    seller: OrganisationView,
    listing_id: int,
    changes: ListingChanges,
    now: int | None = None,
) -> ListingView:
    """Change a listing of ``seller``, keeping its quantity within holding and sales."""
    now = _now(now)
    with market_lock(engine), Session(engine) as session, session.begin():
        row = _own_listing(session, seller, listing_id, for_update=True)
        if row.withdrawn_at is not None:
            raise Conflict(f"Listing {listing_id} is withdrawn; create a new listing.")

        if changes.quantity is not None:
            quantity = parse_quantity(changes.quantity)
            _check_new_quantity(session, row, seller, quantity, now)
            row.quantity = quantity
        if changes.price_per_unit is not None:
            row.price_cents = _parse_price(changes.price_per_unit)
        if changes.location_name is not None:
            row.location_name = _text(
                changes.location_name, "location name", MAX_NAME_LENGTH, required=True
            )
        if changes.latitude is not None or changes.longitude is not None:
            row.latitude, row.longitude = _coordinates(
                changes.latitude if changes.latitude is not None else row.latitude,
                changes.longitude if changes.longitude is not None else row.longitude,
            )
        if changes.available_from is not None:
            row.available_from = changes.available_from
        if changes.pickup_conditions is not None:
            row.pickup_conditions = _text(
                changes.pickup_conditions, "pickup conditions", MAX_CONDITIONS_LENGTH
            )
        row.updated_at = now
        session.flush()
        return _listing_view(session, row, now)


def withdraw_listing(
    engine: Engine, seller: OrganisationView, listing_id: int, now: int | None = None
) -> ListingView:
    """Withdraw a listing of ``seller`` that has no active reservation."""
    now = _now(now)
    with market_lock(engine), Session(engine) as session, session.begin():
        row = _own_listing(session, seller, listing_id, for_update=True)
        if row.withdrawn_at is not None:
            raise Conflict(f"Listing {listing_id} is already withdrawn.")
        committed = _committed(session, row, now)
        if committed:
            raise Conflict(
                f"Listing {listing_id} has {quantity_text(committed)} reserved; "
                "confirm or cancel its reservations before withdrawing it."
            )
        row.withdrawn_at = now
        row.updated_at = now
        session.flush()
        return _listing_view(session, row, now)


def get_listing(engine: Engine, listing_id: int, now: int | None = None) -> ListingView:
    """Return a listing with its current availability."""
    now = _now(now)
    with Session(engine) as session:
        return _listing_view(session, _listing(session, listing_id), now)


def list_listings(
    engine: Engine,
    lot_id: int | None = None,
    seller: str | None = None,
    include_withdrawn: bool = False,
    now: int | None = None,
) -> list[ListingView]:
    """Return listings by id, filtered by lot and seller organisation id.

    A listing whose lot is not in the mirror yet is returned with ``lot_indexed``
    False, so one missing lot does not hide the other listings.
    """
    now = _now(now)
    query = select(Listing).order_by(Listing.id)
    if lot_id is not None:
        query = query.where(Listing.lot_id == check_lot_id(lot_id))
    if seller is not None:
        check_text(seller, "A seller id")
        query = query.join(
            Organisation, Organisation.id == Listing.organisation_id
        ).where(Organisation.actor_id == seller.strip().upper())
    if not include_withdrawn:
        query = query.where(Listing.withdrawn_at.is_(None))
    with Session(engine) as session:
        rows = session.execute(query).scalars().all()
        return [_listing_view(session, row, now, require_lot=False) for row in rows]


# -------------------------------------------------------------- reservations


def reserve(
    engine: Engine,
    buyer: OrganisationView,
    listing_id: int,
    quantity_text_in_unit: str,
    hours: float,
    now: int | None = None,
) -> ReservationView:
    """Reserve a quantity of a listing for ``hours``, up to what is available."""
    now = _now(now)
    quantity = parse_quantity(quantity_text_in_unit)
    if not MIN_RESERVATION_HOURS <= hours <= MAX_RESERVATION_HOURS:
        raise InvalidInput(
            f"A reservation lasts at least one minute ({MIN_RESERVATION_HOURS:.4f} "
            f"hours) and at most {MAX_RESERVATION_HOURS} hours, not {hours!r} hours."
        )
    with market_lock(engine), Session(engine) as session, session.begin():
        listing = _listing(session, listing_id, for_update=True)
        if listing.organisation_id == buyer.id:
            raise PermissionDenied(
                f"{buyer.actor_id} cannot reserve its own listing {listing_id}."
            )
        if listing.withdrawn_at is not None:
            raise Conflict(f"Listing {listing_id} is withdrawn; it cannot be reserved.")
        view = _listing_view(session, listing, now)
        if quantity > view.available:
            raise Conflict(
                f"Cannot reserve {quantity_text(quantity)} of listing {listing_id}: "
                f"{quantity_text(view.available)} is available "
                f"({quantity_text(view.listed - view.sold)} listed, "
                f"{quantity_text(view.reserved)} reserved, seller holds "
                f"{quantity_text(view.holding)})."
            )
        row = Reservation(
            listing_id=listing.id,
            organisation_id=buyer.id,
            quantity=quantity,
            status=ACTIVE,
            created_at=now,
            expires_at=now + round(hours * 3600),
        )
        session.add(row)
        session.flush()
        return _reservation_view(session, row, now)


def cancel_reservation(
    engine: Engine,
    organisation: OrganisationView,
    reservation_id: int,
    now: int | None = None,
) -> ReservationView:
    """Cancel an active reservation as its buyer or its seller."""
    now = _now(now)
    with market_lock(engine), Session(engine) as session, session.begin():
        row, listing = _reservation(session, reservation_id, for_update=True)
        _check_party(organisation, row, listing)
        if _status(row, now) != ACTIVE:
            raise Conflict(
                f"Reservation {reservation_id} is {_status(row, now)}; only an "
                "active reservation can be cancelled."
            )
        row.status = CANCELLED
        session.flush()
        return _reservation_view(session, row, now)


def _check_party(
    organisation: OrganisationView, row: Reservation, listing: Listing
) -> None:
    """Raise PermissionDenied unless ``organisation`` is the buyer or the seller."""
    if organisation.id not in (row.organisation_id, listing.organisation_id):
        raise PermissionDenied(
            f"Reservation {row.id} belongs to another buyer and seller."
        )


def get_reservation(
    engine: Engine,
    organisation: OrganisationView,
    reservation_id: int,
    now: int | None = None,
) -> ReservationView:
    """Return a reservation to its buyer or seller."""
    now = _now(now)
    with Session(engine) as session:
        row, listing = _reservation(session, reservation_id)
        _check_party(organisation, row, listing)
        return _reservation_view(session, row, now)


def list_reservations(
    engine: Engine, organisation: OrganisationView, now: int | None = None
) -> list[ReservationView]:
    """Return the reservations an organisation made or received, newest first."""
    now = _now(now)
    with Session(engine) as session:
        rows = (
            session.execute(
                select(Reservation)
                .join(Listing, Listing.id == Reservation.listing_id)
                .where(
                    (Reservation.organisation_id == organisation.id)
                    | (Listing.organisation_id == organisation.id)
                )
                .order_by(Reservation.id.desc())
            )
            .scalars()
            .all()
        )
        return [_reservation_view(session, row, now) for row in rows]


def confirm_sale(
    ledger: Ledger,
    seller: OrganisationView,
    reservation_id: int,
    logistics: Logistics | None = None,
    now: int | None = None,
) -> Sale:
    """Confirm a reservation: transfer custody to the buyer on chain, then index.

    The reservation is marked ``confirming`` before the transaction is sent, so it
    cannot be confirmed twice, and set back to ``active`` if the transfer fails.
    """
    now = _now(now)
    engine = ledger.engine
    with market_lock(engine):
        with Session(engine) as session, session.begin():
            row, listing = _reservation(session, reservation_id, for_update=True)
            if listing.organisation_id != seller.id:
                raise PermissionDenied(
                    f"Only the seller of listing {listing.id} can confirm reservation "
                    f"{reservation_id}."
                )
            status = _status(row, now)
            if status != ACTIVE:
                raise Conflict(
                    f"Reservation {reservation_id} is {status}; only an active "
                    "reservation can be confirmed."
                )
            buyer = session.get(Organisation, row.organisation_id)
            assert buyer is not None  # enforced by the foreign key
            row.status = CONFIRMING
            facts = {
                "sale": {
                    "listing_id": listing.id,
                    "reservation_id": row.id,
                    "price_per_unit_eur": euros(listing.price_cents),
                    "total_eur": euros(_total_cents(listing.price_cents, row.quantity)),
                }
            }
            lot_id, quantity = listing.lot_id, row.quantity
            buyer_id = buyer.actor_id
            pickup = _listing_place(listing)

        try:
            delivery = transfer_with_note(
                ledger,
                lot_id,
                seller.actor_id,
                buyer_id,
                quantity_text(quantity),
                "sale",
                reference=f"reservation {reservation_id}",
                logistics=logistics,
                facts=facts,
                default_pickup=pickup,
                now=now,
                reservation_id=reservation_id,
            )
        except BaseException as exc:
            logger.warning(
                "Sale of reservation %d failed, so it is active again: %s",
                reservation_id,
                exc,
            )
            with Session(engine) as session, session.begin():
                failed = session.get(Reservation, reservation_id)
                assert failed is not None
                failed.status = ACTIVE
            raise

        # NOTE: if the process stops between the mined transfer and this update, the
        # reservation stays "confirming" and keeps holding its quantity.
        with Session(engine) as session, session.begin():
            done = session.get(Reservation, reservation_id)
            assert done is not None
            done.status = CONFIRMED
            done.delivery_note_hash = delivery.note_hash
            done.transaction_hash = (
                "0x" + bytes(delivery.receipt["transactionHash"]).hex()
            )
            done.confirmed_at = now

    catch_up(ledger)
    with Session(engine) as session:
        confirmed = session.get(Reservation, reservation_id)
        assert confirmed is not None
        return Sale(_reservation_view(session, confirmed, now), delivery)


def reserved_quantity(
    engine: Engine,
    holder: str,
    lot_id: int,
    excluding: int | None = None,
    now: int | None = None,
) -> int:
    """Return the quantity of a lot that reservations hold on ``holder``'s listings.

    Counts active reservations that have not expired and confirming ones, whose
    transfer may not be mined yet. Confirmed sales are already on chain, so the
    holder's balance no longer contains them. ``excluding`` is a reservation id
    left out, such as the one a sale is confirming.
    """
    now = _now(now)
    query = (
        select(Reservation)
        .join(Listing, Listing.id == Reservation.listing_id)
        .join(Organisation, Organisation.id == Listing.organisation_id)
        .where(
            Organisation.chain_address == holder.lower(),
            Listing.lot_id == lot_id,
            Reservation.status.in_((ACTIVE, CONFIRMING)),
        )
    )
    if excluding is not None:
        query = query.where(Reservation.id != excluding)
    with Session(engine) as session:
        rows = session.execute(query).scalars().all()
        return sum(row.quantity for row in rows if _status(row, now) != EXPIRED)


# ----------------------------------------------------------------- valuation


def listing_valuation(
    engine: Engine, listing_id: int, now: int | None = None
) -> dict[str, Any]:
    """Return a listing's asking price beside the inventory's estimated value."""
    view = get_listing(engine, listing_id, now)
    assert view.unit is not None  # get_listing raises NotFound for an unindexed lot
    valuation = lot_valuation(engine, view.lot_id)
    remaining = view.listed - view.sold
    estimated_cents = valuation["estimated_unit_price_cents"]
    return {
        "listing_id": view.id,
        "lot_id": str(view.lot_id),
        "unit": view.unit.symbol,
        "unsold_quantity": quantity_text(remaining),
        "asking_price_per_unit_eur": euros(view.price_cents),
        "asking_total_eur": euros(_total_cents(view.price_cents, remaining)),
        "estimated_unit_price_eur": valuation["estimated_unit_price_eur"],
        "estimated_total_eur": (
            euros(_total_cents(estimated_cents, remaining))
            if estimated_cents is not None
            else None
        ),
        "asking_to_estimate_ratio": (
            str((Decimal(view.price_cents) / estimated_cents).quantize(Decimal("0.01")))
            if estimated_cents
            else None
        ),
        "new_product_price_eur": valuation["new_product_price_eur"],
        "sources": valuation["sources"],
    }


def lot_valuation(engine: Engine, lot_id: int) -> dict[str, Any]:
    """Return a lot's estimated value from its inventory record."""
    check_lot_id(lot_id)
    with Session(engine) as session:
        lot = _lot(session, lot_id)
        body = session.execute(
            select(Record.body).where(Record.record_hash == lot.record_hash)
        ).scalar_one_or_none()
        asking = session.execute(
            select(func.min(Listing.price_cents), func.max(Listing.price_cents)).where(
                Listing.lot_id == lot_id, Listing.withdrawn_at.is_(None)
            )
        ).one()
    record = _json(body) if body is not None else {}
    estimated = record.get("estimated_unit_price_cents")
    return {
        "lot_id": str(lot_id),
        "unit": Unit(lot.unit).symbol,
        "quantity": quantity_text(lot.quantity),
        "estimated_unit_price_cents": estimated,
        "estimated_unit_price_eur": euros(estimated) if estimated is not None else None,
        "estimated_total_eur": (
            euros(_total_cents(estimated, lot.quantity))
            if estimated is not None
            else None
        ),
        "asking_price_per_unit_eur": {
            "min": euros(asking[0]) if asking[0] is not None else None,
            "max": euros(asking[1]) if asking[1] is not None else None,
        },
        # The inventory format has no new-product price column, so none is shown.
        "new_product_price_eur": None,
        "sources": {
            "estimated_unit_price": (
                f"inventory record {lot.record_hash} (estimated_unit_price_eur)"
                if estimated is not None
                else "not given in the inventory"
            ),
            "new_product_price": "not given in the inventory",
        },
    }


# ------------------------------------------------------------------- helpers


def _now(now: int | None) -> int:
    return int(time.time()) if now is None else now


def _json(body: str) -> dict[str, Any]:
    value = json.loads(body)
    return value if isinstance(value, dict) else {}


def euros(cents: int) -> str:
    """Format cents as euros with two decimals, such as ``39.50``."""
    return str((Decimal(cents) / CENTS_PER_EURO).quantize(Decimal("0.01")))


def _total_cents(price_cents: int, quantity: int) -> int:
    """Return the cents for ``quantity`` thousandths at ``price_cents``, half up."""
    total, remainder = divmod(price_cents * quantity, QUANTITY_SCALE)
    return total + (1 if remainder * 2 >= QUANTITY_SCALE else 0)


def _parse_price(text: str) -> int:
    cents = parse_money_cents(text)
    if not 0 <= cents <= MAX_PRICE_CENTS:
        raise InvalidInput(
            f"Price {text!r} must be between 0 and {MAX_PRICE_CENTS // 100} euros "
            "per unit."
        )
    return cents


def _text(value: str, what: str, limit: int, required: bool = False) -> str:
    text = value.strip()
    if required and not text:
        raise InvalidInput(f"The {what} is empty; give a yard or site name.")
    if len(text) > limit:
        raise InvalidInput(
            f"The {what} is {len(text)} characters long; shorten it to {limit}."
        )
    if any(ord(character) < 32 and character not in "\n\t" for character in text):
        raise InvalidInput(
            f"The {what} {text[:40]!r} contains control characters; remove them."
        )
    return text


def _coordinates(
    latitude: str | None, longitude: str | None
) -> tuple[str | None, str | None]:
    if latitude is None and longitude is None:
        return None, None
    if latitude is None or longitude is None:
        raise InvalidInput("Give both latitude and longitude, or neither.")
    lat = parse_coordinate(latitude, "latitude", 90)
    lon = parse_coordinate(longitude, "longitude", 180)
    return format(lat, "f")[:16], format(lon, "f")[:16]


def _listing_place(listing: Listing) -> Place | None:
    if listing.latitude is None or listing.longitude is None:
        return None
    return Place(
        name=listing.location_name,
        latitude=Decimal(listing.latitude),
        longitude=Decimal(listing.longitude),
    )


def _lot(session: Session, lot_id: int) -> Lot:
    lot = session.execute(select(Lot).where(Lot.lot_id == lot_id)).scalar_one_or_none()
    if lot is None:
        raise NotFound(
            f"Lot {lot_id} is not in the mirror; check the id or run 'reclaim index'."
        )
    return lot


def _holding(session: Session, lot_id: int, address: str) -> int:
    balance = session.execute(
        select(Holding.balance).where(
            Holding.lot_id == lot_id, Holding.holder == address.lower()
        )
    ).scalar_one_or_none()
    return int(balance or 0)


def _listing(session: Session, listing_id: int, for_update: bool = False) -> Listing:
    query = select(Listing).where(Listing.id == listing_id)
    if for_update:
        query = query.with_for_update()
    row = session.execute(query).scalar_one_or_none()
    if row is None:
        raise NotFound(f"Listing {listing_id} does not exist.")
    return row


def _own_listing(
    session: Session, seller: OrganisationView, listing_id: int, for_update: bool
) -> Listing:
    row = _listing(session, listing_id, for_update)
    if row.organisation_id != seller.id:
        raise PermissionDenied(
            f"Listing {listing_id} belongs to another organisation; "
            f"{seller.actor_id} can change only its own listings."
        )
    return row


def _reservation(
    session: Session, reservation_id: int, for_update: bool = False
) -> tuple[Reservation, Listing]:
    query = select(Reservation).where(Reservation.id == reservation_id)
    if for_update:
        query = query.with_for_update()
    row = session.execute(query).scalar_one_or_none()
    if row is None:
        raise NotFound(f"Reservation {reservation_id} does not exist.")
    return row, _listing(session, row.listing_id)


def _status(row: Reservation, now: int) -> str:
    if row.status == ACTIVE and row.expires_at <= now:
        return EXPIRED
    return row.status


def _indexed_references(
    session: Session, listing: Listing, seller: str
) -> dict[str, int]:
    """Map each delivery note hash of the listing's sales to its indexed quantity."""
    hashes = [
        digest
        for digest in session.execute(
            select(Reservation.delivery_note_hash).where(
                Reservation.listing_id == listing.id,
                Reservation.delivery_note_hash.is_not(None),
            )
        ).scalars()
        if digest is not None
    ]
    if not hashes:
        return {}
    rows = session.execute(
        select(Transfer.reference_hash, Transfer.quantity).where(
            Transfer.lot_id == listing.lot_id,
            Transfer.from_address == seller,
            Transfer.reference_hash.in_(hashes),
        )
    ).all()
    found: dict[str, int] = {}
    for digest, quantity in rows:
        found[digest] = found.get(digest, 0) + int(quantity)
    return found


def _seller_address(session: Session, listing: Listing) -> str:
    address = session.execute(
        select(Organisation.chain_address).where(
            Organisation.id == listing.organisation_id
        )
    ).scalar_one()
    return str(address)


def _sold(session: Session, listing: Listing) -> int:
    seller = _seller_address(session, listing)
    return sum(_indexed_references(session, listing, seller).values())


def _committed(session: Session, listing: Listing, now: int) -> int:
    """Quantity held by active reservations and by sales not yet in the mirror."""
    seller = _seller_address(session, listing)
    indexed = _indexed_references(session, listing, seller)
    total = 0
    for row in session.execute(
        select(Reservation).where(
            Reservation.listing_id == listing.id,
            Reservation.status.in_((ACTIVE, CONFIRMING, CONFIRMED)),
        )
    ).scalars():
        status = _status(row, now)
        if status == ACTIVE or (
            status in (CONFIRMING, CONFIRMED)
            and (row.delivery_note_hash or "") not in indexed
        ):
            total += row.quantity
    return total


def _remaining_of_open_listings(
    session: Session, organisation_id: int, lot_id: int, excluding: int | None = None
) -> int:
    query = select(Listing).where(
        Listing.organisation_id == organisation_id,
        Listing.lot_id == lot_id,
        Listing.withdrawn_at.is_(None),
    )
    if excluding is not None:
        query = query.where(Listing.id != excluding)
    return sum(
        max(row.quantity - _sold(session, row), 0)
        for row in session.execute(query).scalars().all()
    )


def _check_new_quantity(
    session: Session,
    row: Listing,
    seller: OrganisationView,
    quantity: int,
    now: int,
) -> None:
    sold = _sold(session, row)
    committed = _committed(session, row, now)
    if quantity < sold + committed:
        raise Conflict(
            f"Listing {row.id} cannot go down to {quantity_text(quantity)}: "
            f"{quantity_text(sold)} is sold and {quantity_text(committed)} reserved."
        )
    holding = _holding(session, row.lot_id, seller.chain_address)
    listed_elsewhere = _remaining_of_open_listings(
        session, seller.id, row.lot_id, excluding=row.id
    )
    free = max(holding - listed_elsewhere, 0)
    if quantity - sold > free:
        raise Conflict(
            f"Cannot list {quantity_text(quantity - sold)} more of lot {row.lot_id}: "
            f"{seller.actor_id} holds {quantity_text(holding)}, of which "
            f"{quantity_text(listed_elsewhere)} is listed elsewhere, so at most "
            f"{quantity_text(free)} can remain listed."
        )


def _listing_view(
    session: Session, row: Listing, now: int, require_lot: bool = True
) -> ListingView:
    """Compute a listing's availability; raise NotFound if its lot is not indexed.

    With ``require_lot`` False, a listing whose lot is missing from the mirror (as
    during a reindex) gets ``lot_indexed`` False, no unit and availability 0.
    """
    seller = session.get(Organisation, row.organisation_id)
    assert seller is not None  # enforced by the foreign key
    if require_lot:
        lot: Lot | None = _lot(session, row.lot_id)
    else:
        lot = session.execute(
            select(Lot).where(Lot.lot_id == row.lot_id)
        ).scalar_one_or_none()
    sold = _sold(session, row)
    committed = _committed(session, row, now)
    holding = _holding(session, row.lot_id, seller.chain_address)
    listed_elsewhere = _remaining_of_open_listings(
        session, seller.id, row.lot_id, excluding=row.id
    )
    if row.withdrawn_at is not None or lot is None:
        available = 0
    else:
        free = max(holding - listed_elsewhere, 0)
        available = max(min(row.quantity - sold, free) - committed, 0)
    return ListingView(
        id=row.id,
        lot_id=row.lot_id,
        seller=seller.actor_id,
        seller_address=seller.chain_address,
        unit=Unit(lot.unit) if lot is not None else None,
        lot_indexed=lot is not None,
        listed=row.quantity,
        sold=sold,
        reserved=committed,
        holding=holding,
        available=available,
        price_cents=row.price_cents,
        location_name=row.location_name,
        latitude=row.latitude,
        longitude=row.longitude,
        available_from=row.available_from,
        pickup_conditions=row.pickup_conditions,
        created_at=row.created_at,
        updated_at=row.updated_at,
        withdrawn_at=row.withdrawn_at,
    )


def _reservation_view(session: Session, row: Reservation, now: int) -> ReservationView:
    listing = _listing(session, row.listing_id)
    buyer = session.get(Organisation, row.organisation_id)
    seller = session.get(Organisation, listing.organisation_id)
    assert buyer is not None and seller is not None  # enforced by the foreign keys
    lot = _lot(session, listing.lot_id)
    return ReservationView(
        id=row.id,
        listing_id=listing.id,
        lot_id=listing.lot_id,
        buyer=buyer.actor_id,
        buyer_address=buyer.chain_address,
        seller=seller.actor_id,
        quantity=row.quantity,
        unit=Unit(lot.unit),
        status=_status(row, now),
        created_at=row.created_at,
        expires_at=row.expires_at,
        delivery_note_hash=row.delivery_note_hash,
        transaction_hash=row.transaction_hash,
        confirmed_at=row.confirmed_at,
    )
