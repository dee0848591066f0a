"""Off-chain records of buildings and lots, as canonical JSON, and their hashes.

The registry stores only ``record_hash`` of each record, so the same record must always
serialise to the same bytes: keys sorted, no insignificant whitespace, UTF-8, and no
floats, whose text form depends on the writer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from eth_utils.crypto import keccak

from ledger.importer import BuildingDetails, BuildingRow, LotRow

LOT_SCHEMA = "reclaim-ledger/lot-record/1"
BUILDING_SCHEMA = "reclaim-ledger/building-record/1"

JsonValue = str | int | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


def canonical_json(obj: object) -> bytes:
    """Serialise ``obj`` as canonical JSON in UTF-8.

    Dicts with string keys, lists, tuples, strings, ints, bools, None and finite
    ``Decimal`` values are accepted. A ``Decimal`` is written as a string in plain
    notation ("50.4652"). Any float or other type raises ``TypeError``.
    """
    text = json.dumps(
        _to_json_value(obj),
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
    )
    return text.encode("utf-8")


def record_hash(obj: object) -> bytes:
    """Return the keccak256 digest (32 bytes) of ``obj``'s canonical JSON."""
    return bytes(keccak(canonical_json(obj)))


def _to_json_value(obj: object) -> JsonValue:
    """Convert ``obj`` to plain JSON types, rejecting floats and unknown types."""
    if obj is None or isinstance(obj, str | bool | int):
        return obj
    if isinstance(obj, float):
        raise TypeError(
            f"Float {obj!r} is not allowed in a record; use an int in a fixed unit "
            "or a Decimal."
        )
    if isinstance(obj, Decimal):
        if not obj.is_finite():
            raise TypeError(f"Decimal {obj!r} is not finite and cannot be recorded.")
        return format(obj, "f")
    if isinstance(obj, Mapping):
        result: dict[str, JsonValue] = {}
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"Record key {key!r} is not a string.")
            result[key] = _to_json_value(value)
        return result
    if isinstance(obj, list | tuple):
        return [_to_json_value(item) for item in obj]
    raise TypeError(f"{type(obj).__name__} value {obj!r} cannot be put in a record.")


def lot_record(lot: LotRow) -> dict[str, Any]:
    """Build the off-chain record of a lot: every descriptive field of its row.

    ``quantity`` is in thousandths of ``unit`` and ``unit_mass_g`` in grams, as on
    chain. The file's line number is left out so that the hash depends only on the lot.
    """
    return {
        "schema": LOT_SCHEMA,
        "item_id": lot.item_id,
        "building_ref": lot.building_ref,
        "description": lot.description,
        "material": lot.material,
        "dimensions_mm": lot.dimensions_mm,
        "category": lot.category,
        "quantity": lot.quantity,
        "unit": lot.unit.name.lower(),
        "unit_mass_g": lot.unit_mass_g,
        "condition_grade": lot.condition_grade,
        "location_in_building": lot.location_in_building,
        "dismantling_method": lot.dismantling_method,
        "reuse_potential": lot.reuse_potential,
        "hazard_notes": lot.hazard_notes,
        "estimated_unit_price_cents": lot.estimated_unit_price_cents,
        "available_from": _iso_date(lot.available_from),
        "photo_refs": list(lot.photo_refs),
    }


def building_record(building: BuildingRow) -> dict[str, Any]:
    """Build the off-chain record of a building from the inventory and buildings.csv.

    The fields that only buildings.csv provides are None when it was not read.
    Coordinates and the floor area are decimal strings, dates ISO 8601 strings.
    """
    record: dict[str, Any] = {
        "schema": BUILDING_SCHEMA,
        "ref": building.ref,
        "name": building.name,
        "address": building.address,
        "postcode": building.postcode,
        "city": building.city,
        "latitude": building.latitude,
        "longitude": building.longitude,
    }
    record.update(_details_record(building.details))
    return record


_DETAIL_KEYS = (
    "type",
    "year",
    "province",
    "country",
    "gross_floor_area_m2",
    "storeys",
    "structure_type",
    "owner_actor_id",
    "inventory_author_actor_id",
    "inventory_date",
    "planned_intervention",
    "works_start_date",
    "asbestos_inventory_available",
    "is_fictional",
    "notes",
)


def _details_record(details: BuildingDetails | None) -> dict[str, Any]:
    """Return the record fields that come from buildings.csv, all None without it."""
    if details is None:
        return dict.fromkeys(_DETAIL_KEYS)
    return {
        "type": details.building_type,
        "year": details.construction_year,
        "province": details.province,
        "country": details.country,
        "gross_floor_area_m2": details.gross_floor_area_m2,
        "storeys": details.storeys,
        "structure_type": details.structure_type,
        "owner_actor_id": details.owner_actor_id,
        "inventory_author_actor_id": details.inventory_author_actor_id,
        "inventory_date": _iso_date(details.inventory_date),
        "planned_intervention": details.planned_intervention,
        "works_start_date": _iso_date(details.works_start_date),
        "asbestos_inventory_available": details.asbestos_inventory_available,
        "is_fictional": details.is_fictional,
        "notes": details.notes,
    }


def _iso_date(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None
