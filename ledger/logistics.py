"""Transport of a transfer: places, distance, transport CO2e and the delivery note.

A delivery note is canonical JSON with the transfer's facts. Its SHA-256 hash is the
transfer's on-chain reference, and the note is stored under that hash in
``DATA_DIR/delivery-notes/``, so anyone holding the note can check it against the chain.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ledger.db.models import Building, Record
from ledger.errors import InvalidInput, LedgerError, NotFound
from ledger.records import canonical_json
from ledger.settings import Settings

DELIVERY_NOTE_SCHEMA = "reclaim-ledger/delivery-note/1"
DELIVERY_NOTE_DIR = "delivery-notes"

# Mean Earth radius R1 of the IUGG (Moritz, Geodetic Reference System 1980).
EARTH_RADIUS_KM = 6371.0088

DEFAULT_VEHICLE = "hgv_diesel_all"
DEFAULT_TRANSPORT_FACTORS = (
    Path(__file__).resolve().parent.parent
    / "data"
    / "wallonia"
    / "transport_factors.csv"
)

_COORDINATES = re.compile(
    r"\s*([+-]?\d{1,3}(?:\.\d+)?)\s*,\s*([+-]?\d{1,3}(?:\.\d+)?)\s*"
)
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Place:
    """A named point, with coordinates in decimal degrees (WGS 84)."""

    name: str
    latitude: Decimal
    longitude: Decimal

    def as_record(self) -> dict[str, Any]:
        """Return the place as delivery-note fields, coordinates as decimal strings."""
        return {
            "name": self.name,
            "latitude": self.latitude,
            "longitude": self.longitude,
        }


@dataclass(frozen=True)
class TransportFactor:
    """Road freight emission factor, in kg CO2e per tonne-kilometre, with its source."""

    vehicle: str
    load: str
    kg_co2e_per_tkm: Decimal
    scope: str
    source: str
    source_entry: str


@dataclass(frozen=True)
class TransportEstimate:
    """Straight-line distance and transport CO2e of one transfer."""

    distance_km: Decimal
    mass_kg: Decimal
    kg_co2e: Decimal
    factor: TransportFactor

    def as_record(self) -> dict[str, Any]:
        """Return the estimate as delivery-note fields."""
        return {
            "distance_km": self.distance_km,
            "distance_method": "great-circle (haversine); the road distance is longer",
            "mass_kg": self.mass_kg,
            "kg_co2e": self.kg_co2e,
            "factor": {
                "vehicle": self.factor.vehicle,
                "load": self.factor.load,
                "kg_co2e_per_tkm": self.factor.kg_co2e_per_tkm,
                "scope": self.factor.scope,
                "source": self.factor.source,
                "source_entry": self.factor.source_entry,
            },
        }

    def describe(self) -> str:
        """Return one line for the user: distance, CO2e, factor and its source."""
        return (
            f"{self.distance_km} km great-circle distance, {self.mass_kg} kg moved: "
            f"about {self.kg_co2e} kg CO2e ({self.factor.vehicle}, {self.factor.load}, "
            f"{self.factor.kg_co2e_per_tkm} kg CO2e/t·km, {self.factor.scope}; "
            f"source: {self.factor.source}, {self.factor.source_entry})."
        )


def parse_coordinate(text: str, what: str, limit: int) -> Decimal:
    """Parse a latitude (``limit`` 90) or longitude (180) in decimal degrees."""
    try:
        value = Decimal(text.strip())
    except ArithmeticError:
        raise InvalidInput(
            f"{what.capitalize()} {text!r} is not a number in decimal degrees."
        ) from None
    if not value.is_finite() or not -limit <= value <= limit:
        raise InvalidInput(
            f"{what.capitalize()} {text!r} must be between -{limit} and {limit} "
            "degrees."
        )
    return value


def parse_place(engine: Engine, text: str) -> Place:
    """Parse a place: ``"lat,lon"`` in decimal degrees or a building reference."""
    match = _COORDINATES.fullmatch(text)
    if match is not None:
        return Place(
            name=text.strip(),
            latitude=parse_coordinate(match[1], "latitude", 90),
            longitude=parse_coordinate(match[2], "longitude", 180),
        )
    reference = text.strip()
    if any(ord(character) < 32 for character in reference):
        raise InvalidInput(f"Place {text[:40]!r} contains control characters.")
    with Session(engine) as session:
        body = session.execute(
            select(Record.body)
            .join(Building, Building.record_hash == Record.record_hash)
            .where(Building.reference == reference)
        ).scalar_one_or_none()
    record = json.loads(body) if body is not None else None
    if record is None or record.get("latitude") is None:
        raise InvalidInput(
            f"Place {text!r} is neither 'latitude,longitude' in decimal degrees "
            "(such as '50.6379,5.5681') nor a registered building reference such as "
            "BLD-LGE-01."
        )
    return Place(
        name=reference,
        latitude=Decimal(record["latitude"]),
        longitude=Decimal(record["longitude"]),
    )


def haversine_km(a: Place, b: Place) -> Decimal:
    """Return the great-circle distance between two places in km, to 0.1 km."""
    lat1, lon1 = math.radians(a.latitude), math.radians(a.longitude)
    lat2, lon2 = math.radians(b.latitude), math.radians(b.longitude)
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    distance = 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
    return Decimal(str(round(distance, 1)))


def load_transport_factor(
    vehicle: str = DEFAULT_VEHICLE, path: Path = DEFAULT_TRANSPORT_FACTORS
) -> TransportFactor:
    """Return the first row of ``vehicle`` in ``path``, which is its average load."""
    try:
        with path.open(encoding="utf-8", newline="") as file:
            rows = list(csv.DictReader(file))
    except FileNotFoundError:
        raise NotFound(
            f"The transport factors file {path} is missing; restore it from the "
            "repository's data/wallonia folder."
        ) from None
    for row in rows:
        if row["mode"] == vehicle:
            return TransportFactor(
                vehicle=row["mode"],
                load=row["load"],
                kg_co2e_per_tkm=Decimal(row["factor_kgco2e_per_tkm"]),
                scope=row["scope"],
                source=row["source"],
                source_entry=row["source_entry"],
            )
    choices = ", ".join(dict.fromkeys(row["mode"] for row in rows))
    raise InvalidInput(
        f"Vehicle {vehicle!r} has no factor in {path}; use one of: {choices}."
    )


def estimate_transport(
    pickup: Place, delivery: Place, mass_grams: Fraction, factor: TransportFactor
) -> TransportEstimate:
    """Estimate transport CO2e as tonnes × great-circle km × the factor.

    NOTE: roads are longer than the great circle, so this is a lower estimate.
    """
    distance = haversine_km(pickup, delivery)
    mass_kg = Decimal(mass_grams.numerator) / Decimal(mass_grams.denominator) / 1000
    tonne_km = mass_kg / 1000 * distance
    kg_co2e = (tonne_km * factor.kg_co2e_per_tkm).quantize(Decimal("0.001"))
    return TransportEstimate(
        distance_km=distance,
        mass_kg=mass_kg.quantize(Decimal("0.001")),
        kg_co2e=kg_co2e,
        factor=factor,
    )


# ------------------------------------------------------------- delivery notes


def build_delivery_note(facts: dict[str, Any], now: int) -> dict[str, Any]:
    """Return a delivery note of ``facts``, stamped with its creation time (UTC)."""
    return {
        "schema": DELIVERY_NOTE_SCHEMA,
        "created_at": datetime.fromtimestamp(now, tz=UTC).isoformat(),
        **facts,
    }


def write_delivery_note(settings: Settings, note: dict[str, Any]) -> str:
    """Store ``note`` under its SHA-256 hash; return the hash as 0x-prefixed hex."""
    body = canonical_json(note)
    digest = hashlib.sha256(body).hexdigest()
    folder = settings.data_dir / DELIVERY_NOTE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}.json"
    if not path.exists():
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(body)
        temporary.replace(path)
    return "0x" + digest


def read_delivery_note(settings: Settings, digest: str) -> bytes:
    """Return the stored note with SHA-256 ``digest`` (hex, with or without 0x)."""
    key = digest.lower().removeprefix("0x")
    if not _SHA256_HEX.fullmatch(key):
        raise InvalidInput(
            f"{digest!r} is not a SHA-256 hash; give 64 hex digits, with or without 0x."
        )
    path = settings.data_dir / DELIVERY_NOTE_DIR / f"{key}.json"
    try:
        body = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"No delivery note has the hash 0x{key}.") from None
    if hashlib.sha256(body).hexdigest() != key:
        raise LedgerError(
            f"The stored delivery note 0x{key} does not match its hash; it was altered "
            f"after it was written to {path}."
        )
    return body
