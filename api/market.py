"""Marketplace routes: organisations, listings, reservations, sales and transfers.

Reads of listings, valuations and delivery notes are public. Every write needs an
API key (``Authorization: Bearer KEY`` or ``X-API-Key: KEY``) and acts only for the
key's organisation. Writes to the chain go through the same library functions as
the CLI.
"""

import logging
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine
from web3 import Web3

from ledger.chain import anvil
from ledger.context import Ledger, open_ledger
from ledger.db.types import UINT256_MAX
from ledger.deliveries import (
    Delivery,
    Logistics,
    catch_up,
    quantity_text,
    transfer_with_note,
)
from ledger.errors import (
    AuthenticationFailed,
    ChainNotRunning,
    Conflict,
    PermissionDenied,
)
from ledger.logistics import DEFAULT_VEHICLE, read_delivery_note
from ledger.market import (
    MAX_CONDITIONS_LENGTH,
    MAX_NAME_LENGTH,
    MAX_RESERVATION_HOURS,
    MIN_RESERVATION_HOURS,
    ListingChanges,
    ListingInput,
    ListingView,
    ReservationView,
    cancel_reservation,
    confirm_sale,
    create_listing,
    euros,
    get_listing,
    get_reservation,
    list_listings,
    list_reservations,
    listing_valuation,
    lot_valuation,
    reserve,
    update_listing,
    withdraw_listing,
)
from ledger.organisations import OrganisationView, authenticate, list_organisations
from ledger.settings import Settings

logger = logging.getLogger(__name__)

# Row ids are INTEGER columns, 32-bit signed in PostgreSQL.
ROW_ID_MAX = 2**31 - 1
# SQLite and PostgreSQL take OFFSET as a 64-bit signed integer.
OFFSET_MAX = 2**63 - 1

LotId = Annotated[int, Path(ge=1, le=UINT256_MAX, description="Lot (token) id.")]
ListingId = Annotated[int, Path(ge=1, le=ROW_ID_MAX, description="Listing id.")]
ReservationId = Annotated[int, Path(ge=1, le=ROW_ID_MAX, description="Reservation id.")]

QuantityText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        description="Quantity in the lot's unit, such as '84.5'; at most 3 decimals.",
    ),
]
PriceText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=50,
        description="Price per unit of the lot in euros, such as '9.00'.",
    ),
]
CoordinateText = Annotated[
    str, Field(max_length=32, description="Decimal degrees, such as '50.6379'.")
]
PlaceText = Annotated[
    str,
    Field(
        max_length=200,
        description="'latitude,longitude' in decimal degrees, or a building reference.",
    ),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ListingRequest(_Body):
    """A new listing of a lot the caller's organisation holds."""

    lot_id: int = Field(ge=1, le=UINT256_MAX)
    quantity: QuantityText
    price_per_unit: PriceText
    location_name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    latitude: CoordinateText | None = None
    longitude: CoordinateText | None = None
    available_from: date | None = None
    pickup_conditions: str = Field("", max_length=MAX_CONDITIONS_LENGTH)


class ListingPatch(_Body):
    """Fields of a listing to change. Omitted fields stay as they are."""

    quantity: QuantityText | None = None
    price_per_unit: PriceText | None = None
    location_name: str | None = Field(None, min_length=1, max_length=MAX_NAME_LENGTH)
    latitude: CoordinateText | None = None
    longitude: CoordinateText | None = None
    available_from: date | None = None
    pickup_conditions: str | None = Field(None, max_length=MAX_CONDITIONS_LENGTH)


class ReservationRequest(_Body):
    """A quantity to reserve and, optionally, for how many hours."""

    quantity: QuantityText
    hours: float | None = Field(
        None,
        ge=MIN_RESERVATION_HOURS,
        le=MAX_RESERVATION_HOURS,
        allow_inf_nan=False,
        description="Hours the reservation lasts, from one minute (1/60) to 14 days.",
    )


class LogisticsRequest(_Body):
    """Transporter and places of a delivery, all optional."""

    transporter: str | None = Field(
        None, max_length=32, description="Organisation id of a transporter."
    )
    pickup: PlaceText | None = None
    delivery: PlaceText | None = None
    vehicle: str = Field(
        DEFAULT_VEHICLE, max_length=64, description="Row 'mode' of the factors file."
    )

    def logistics(self) -> Logistics:
        """Return the library's logistics value."""
        return Logistics(self.transporter, self.pickup, self.delivery, self.vehicle)


class TransferRequest(LogisticsRequest):
    """A custody transfer from the caller's organisation."""

    lot_id: int = Field(ge=1, le=UINT256_MAX)
    to: str = Field(
        min_length=1, max_length=64, description="Organisation id or address."
    )
    quantity: QuantityText
    reason: str = Field("sale", max_length=32)
    reference: str | None = Field(
        None, max_length=200, description="Supporting document, kept in the note."
    )


# ------------------------------------------------------------------ JSON forms

LOT_NOT_INDEXED = (
    "Lot not indexed yet, so the availability is unknown; it returns once the "
    "indexer reaches the lot."
)


def _time(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat()


def _organisation_json(organisation: OrganisationView) -> dict[str, Any]:
    return {
        "id": organisation.actor_id,
        "name": organisation.name,
        "role": organisation.role,
        "secondary_roles": organisation.secondary_roles,
        "postal_address": {
            "street": organisation.street_address,
            "postcode": organisation.postcode,
            "city": organisation.city,
            "country": organisation.country,
        },
        "chain_address": Web3.to_checksum_address(organisation.chain_address),
    }


def listing_json(view: ListingView) -> dict[str, Any]:
    """Return a listing as JSON, quantities as decimal text in the lot's unit.

    While the lot is not in the mirror, ``unit`` and ``quantity_available`` are null
    and ``note`` gives the reason.
    """
    return {
        "id": view.id,
        "lot_id": str(view.lot_id),
        "seller": view.seller,
        "seller_address": Web3.to_checksum_address(view.seller_address),
        "lot_indexed": view.lot_indexed,
        "note": None if view.lot_indexed else LOT_NOT_INDEXED,
        "unit": view.unit.symbol if view.unit is not None else None,
        "quantity_listed": quantity_text(view.listed),
        "quantity_sold": quantity_text(view.sold),
        "quantity_reserved": quantity_text(view.reserved),
        "quantity_available": (
            quantity_text(view.available) if view.lot_indexed else None
        ),
        "seller_holding": quantity_text(view.holding),
        "price_per_unit_eur": euros(view.price_cents),
        "location": {
            "name": view.location_name,
            "latitude": view.latitude,
            "longitude": view.longitude,
        },
        "available_from": view.available_from.isoformat()
        if view.available_from
        else None,
        "pickup_conditions": view.pickup_conditions,
        "created_at": _time(view.created_at),
        "updated_at": _time(view.updated_at),
        "withdrawn_at": _time(view.withdrawn_at),
    }


def reservation_json(view: ReservationView) -> dict[str, Any]:
    """Return a reservation as JSON."""
    return {
        "id": view.id,
        "listing_id": view.listing_id,
        "lot_id": str(view.lot_id),
        "buyer": view.buyer,
        "seller": view.seller,
        "quantity": quantity_text(view.quantity),
        "unit": view.unit.symbol,
        "status": view.status,
        "created_at": _time(view.created_at),
        "expires_at": _time(view.expires_at),
        "delivery_note_hash": view.delivery_note_hash,
        "transaction_hash": view.transaction_hash,
        "confirmed_at": _time(view.confirmed_at),
    }


# ------------------------------------------------------------------- the router


def register_error_handlers(app: FastAPI) -> None:
    """Map authentication, permission and conflict errors to 401, 403 and 409."""

    @app.exception_handler(AuthenticationFailed)
    async def unauthorized(request: Request, exc: AuthenticationFailed) -> JSONResponse:
        logger.info("Rejected %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            status_code=401,
            content={"detail": str(exc)},
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(PermissionDenied)
    async def forbidden(request: Request, exc: PermissionDenied) -> JSONResponse:
        logger.info("Forbade %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(status_code=403, content={"detail": str(exc)})

    @app.exception_handler(Conflict)
    async def conflict(request: Request, exc: Conflict) -> JSONResponse:
        logger.info("Conflict on %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(status_code=409, content={"detail": str(exc)})


def key_owner(engine: Engine) -> Callable[..., OrganisationView]:
    """Return the dependency that finds the organisation of the request's API key.

    The key comes as ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``; a missing
    or unknown key raises ``AuthenticationFailed`` (401).
    """
    bearer = HTTPBearer(auto_error=False, description="An organisation's API key.")
    header_key = APIKeyHeader(
        name="X-API-Key", auto_error=False, description="An organisation's API key."
    )

    def caller(
        credentials: Annotated[
            HTTPAuthorizationCredentials | None, Depends(bearer)
        ] = None,
        api_key: Annotated[str | None, Depends(header_key)] = None,
    ) -> OrganisationView:
        key = credentials.credentials if credentials is not None else api_key
        return authenticate(engine, key)

    return caller


def create_market_router(settings: Settings, engine: Engine) -> APIRouter:
    """Build the marketplace routes; the chain is opened on the first write."""
    router = APIRouter(tags=["market"])
    ledger_lock = threading.Lock()
    opened: list[Ledger] = []

    def chain() -> Ledger:
        # A web request must not start the embedded chain as a side effect.
        if settings.uses_embedded_chain and anvil.read_info(settings.data_dir) is None:
            raise ChainNotRunning(
                f"The local chain is not running (data folder {settings.data_dir}); "
                "start it with 'reclaim chain start' before writing."
            )
        with ledger_lock:
            if not opened:
                opened.append(open_ledger(settings))
            return opened[0]

    Caller = Annotated[OrganisationView, Depends(key_owner(engine))]

    # ---------------------------------------------------------------- reads

    @router.get("/organisations")
    def organisations() -> dict[str, Any]:
        """List every organisation with its role, postal address and chain address."""
        return {
            "organisations": [_organisation_json(o) for o in list_organisations(engine)]
        }

    @router.get("/listings")
    def listings(
        lot_id: Annotated[int | None, Query(ge=1, le=UINT256_MAX)] = None,
        seller: Annotated[str | None, Query(max_length=32)] = None,
    ) -> dict[str, Any]:
        """List open listings with what is available now, by lot and seller."""
        found = list_listings(engine, lot_id=lot_id, seller=seller)
        return {"listings": [listing_json(view) for view in found]}

    @router.get("/listings/{listing_id}")
    def listing(listing_id: ListingId) -> dict[str, Any]:
        """Return a listing with its availability computed from the mirror."""
        return listing_json(get_listing(engine, listing_id))

    @router.get("/listings/{listing_id}/valuation")
    def valuation_of_listing(listing_id: ListingId) -> dict[str, Any]:
        """Compare the asking price with the inventory's estimated value."""
        return listing_valuation(engine, listing_id)

    @router.get("/lots/{lot_id}/valuation")
    def valuation_of_lot(lot_id: LotId) -> dict[str, Any]:
        """Return a lot's estimated value from its inventory and its asking prices."""
        valuation = lot_valuation(engine, lot_id)
        valuation.pop("estimated_unit_price_cents")
        return valuation

    @router.get("/delivery-notes/{digest}")
    def delivery_note(
        digest: Annotated[str, Path(max_length=66, description="SHA-256 hash.")],
    ) -> Response:
        """Return the stored delivery note whose SHA-256 hash is ``digest``."""
        return Response(
            read_delivery_note(settings, digest), media_type="application/json"
        )

    @router.get("/reservations")
    def reservations(organisation: Caller) -> dict[str, Any]:
        """List the reservations the caller's organisation made or received."""
        found = list_reservations(engine, organisation)
        return {"reservations": [reservation_json(view) for view in found]}

    @router.get("/reservations/{reservation_id}")
    def reservation(
        reservation_id: ReservationId, organisation: Caller
    ) -> dict[str, Any]:
        """Return a reservation to its buyer or its seller."""
        return reservation_json(get_reservation(engine, organisation, reservation_id))

    # --------------------------------------------------------------- writes

    @router.post("/listings", status_code=201)
    def new_listing(body: ListingRequest, organisation: Caller) -> dict[str, Any]:
        """List a quantity of a lot that the caller's organisation holds."""
        view = create_listing(
            engine,
            organisation,
            body.lot_id,
            ListingInput(
                quantity=body.quantity,
                price_per_unit=body.price_per_unit,
                location_name=body.location_name,
                latitude=body.latitude,
                longitude=body.longitude,
                available_from=body.available_from,
                pickup_conditions=body.pickup_conditions,
            ),
        )
        return listing_json(view)

    @router.patch("/listings/{listing_id}")
    def change_listing(
        listing_id: ListingId, body: ListingPatch, organisation: Caller
    ) -> dict[str, Any]:
        """Change the caller's listing: quantity, price, place, date or conditions."""
        changes = ListingChanges(**body.model_dump())
        return listing_json(update_listing(engine, organisation, listing_id, changes))

    @router.delete("/listings/{listing_id}")
    def remove_listing(listing_id: ListingId, organisation: Caller) -> dict[str, Any]:
        """Withdraw the caller's listing; it must have no active reservation."""
        return listing_json(withdraw_listing(engine, organisation, listing_id))

    @router.post("/listings/{listing_id}/reservations", status_code=201)
    def new_reservation(
        listing_id: ListingId, body: ReservationRequest, organisation: Caller
    ) -> dict[str, Any]:
        """Reserve a quantity of a listing for a limited time."""
        hours = body.hours if body.hours is not None else settings.reservation_hours
        view = reserve(engine, organisation, listing_id, body.quantity, hours)
        return reservation_json(view)

    @router.post("/reservations/{reservation_id}/cancel")
    def cancel(reservation_id: ReservationId, organisation: Caller) -> dict[str, Any]:
        """Cancel an active reservation, as its buyer or its seller."""
        return reservation_json(
            cancel_reservation(engine, organisation, reservation_id)
        )

    @router.post("/reservations/{reservation_id}/confirm")
    def confirm(
        reservation_id: ReservationId,
        organisation: Caller,
        body: LogisticsRequest | None = None,
    ) -> dict[str, Any]:
        """Confirm a sale as the seller: transfer custody on chain to the buyer."""
        logistics = body.logistics() if body is not None else None
        sale = confirm_sale(chain(), organisation, reservation_id, logistics)
        return {
            "reservation": reservation_json(sale.reservation),
            **_delivery_json(sale.delivery),
        }

    @router.post("/transfers", status_code=201)
    def transfer(body: TransferRequest, organisation: Caller) -> dict[str, Any]:
        """Transfer custody from the caller's organisation, with a delivery note."""
        ledger = chain()
        delivery = transfer_with_note(
            ledger,
            body.lot_id,
            organisation.actor_id,
            body.to,
            body.quantity,
            body.reason,
            body.reference,
            body.logistics(),
        )
        catch_up(ledger)
        return _delivery_json(delivery)

    return router


def _delivery_json(delivery: Delivery) -> dict[str, Any]:
    receipt = delivery.receipt
    estimate = delivery.estimate
    return {
        "transaction_hash": "0x" + bytes(receipt["transactionHash"]).hex(),
        "block_number": receipt["blockNumber"],
        "delivery_note_hash": delivery.note_hash,
        "delivery_note_path": f"/delivery-notes/{delivery.note_hash}",
        "transport": estimate.describe() if estimate is not None else None,
    }
