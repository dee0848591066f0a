"""Tests of canonical JSON, record hashes and the lot and building records."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from eth_utils.crypto import keccak

from ledger.importer import BuildingRow, LotRow, parse_inventory
from ledger.records import (
    BUILDING_SCHEMA,
    LOT_SCHEMA,
    building_record,
    canonical_json,
    lot_record,
    record_hash,
)
from ledger.units import Unit

DATA = Path(__file__).resolve().parent.parent / "data" / "wallonia"

# keccak256 digests computed with pycryptodome's Crypto.Hash.keccak, independently of
# eth_utils.
KECCAK_EMPTY = "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
KECCAK_SMALL_JSON = "9a77131ee4d58f39072b923fee9a8a8956358541a815ac66ce6c737667ede72b"
KECCAK_UTF8_JSON = "5a46573b202148861c9eb5d1c890236cf517761a1f1527dca4276fefe9df40ba"


def make_lot(**changes: object) -> LotRow:
    fields: dict[str, object] = {
        "line": 2,
        "item_id": "LGE-001",
        "building_ref": "BLD-LGE-01",
        "category": "flooring",
        "description": "Raised access floor panels",
        "material": "raised_floor_panel",
        "dimensions_mm": "600x600x38",
        "quantity": 5800000,
        "unit": Unit.PIECE,
        "unit_mass_g": 12500,
        "condition_grade": "A",
        "location_in_building": "Floors 1-10",
        "dismantling_method": "unclip_lift",
        "reuse_potential": "high",
        "hazard_notes": "none identified",
        "estimated_unit_price_cents": 900,
        "available_from": date(2026, 2, 2),
        "photo_refs": ("LGE-001_01.jpg", "LGE-001_02.jpg"),
    }
    fields.update(changes)
    return LotRow(**fields)  # type: ignore[arg-type]


def test_canonical_json_sorts_keys_compactly() -> None:
    assert canonical_json({"b": 1, "a": "x"}) == b'{"a":"x","b":1}'


def test_canonical_json_ignores_key_order() -> None:
    first = {"z": [1, {"y": "é", "x": None}], "a": True}
    second = {"a": True, "z": [1, {"x": None, "y": "é"}]}
    assert canonical_json(first) == canonical_json(second)


def test_canonical_json_writes_utf8_unescaped() -> None:
    assert canonical_json({"name": "École"}) == '{"name":"École"}'.encode()


def test_canonical_json_renders_decimal_as_string() -> None:
    encoded = canonical_json({"latitude": Decimal("50.4652"), "area": Decimal("1E+2")})
    assert encoded == b'{"area":"100","latitude":"50.4652"}'


def test_canonical_json_accepts_tuples_as_lists() -> None:
    assert (
        canonical_json({"photos": ("a.jpg", "b.jpg")})
        == b'{"photos":["a.jpg","b.jpg"]}'
    )


@pytest.mark.parametrize(
    "value",
    [1.5, {"mass": 0.1}, [1, 2.0], {"nested": {"deep": [float("nan")]}}],
)
def test_canonical_json_rejects_float(value: object) -> None:
    with pytest.raises(TypeError, match="Float"):
        canonical_json(value)


@pytest.mark.parametrize(
    "value",
    [Decimal("NaN"), {1: "x"}, b"bytes", {"when": date(2026, 1, 1)}, {1, 2}],
)
def test_canonical_json_rejects_other_types(value: object) -> None:
    with pytest.raises(TypeError):
        canonical_json(value)


def test_record_hash_is_keccak_of_canonical_json() -> None:
    digest = record_hash({"b": 1, "a": "x"})
    assert len(digest) == 32
    assert digest.hex() == KECCAK_SMALL_JSON


def test_record_hash_of_utf8_record() -> None:
    assert record_hash({"quantity": 84500, "name": "École"}).hex() == KECCAK_UTF8_JSON


def test_keccak_of_empty_input() -> None:
    assert bytes(keccak(b"")).hex() == KECCAK_EMPTY


def test_lot_record_fields() -> None:
    record = lot_record(make_lot())
    assert record == {
        "schema": LOT_SCHEMA,
        "item_id": "LGE-001",
        "building_ref": "BLD-LGE-01",
        "description": "Raised access floor panels",
        "material": "raised_floor_panel",
        "dimensions_mm": "600x600x38",
        "category": "flooring",
        "quantity": 5800000,
        "unit": "piece",
        "unit_mass_g": 12500,
        "condition_grade": "A",
        "location_in_building": "Floors 1-10",
        "dismantling_method": "unclip_lift",
        "reuse_potential": "high",
        "hazard_notes": "none identified",
        "estimated_unit_price_cents": 900,
        "available_from": "2026-02-02",
        "photo_refs": ["LGE-001_01.jpg", "LGE-001_02.jpg"],
    }


def test_lot_record_hash_ignores_line() -> None:
    assert record_hash(lot_record(make_lot(line=2))) == record_hash(
        lot_record(make_lot(line=40))
    )


def test_lot_record_hash_changes_with_quantity() -> None:
    assert record_hash(lot_record(make_lot(quantity=1))) != record_hash(
        lot_record(make_lot(quantity=2))
    )


def test_lot_record_optional_fields_are_null() -> None:
    lot = make_lot(
        condition_grade=None, estimated_unit_price_cents=None, available_from=None
    )
    encoded = canonical_json(lot_record(lot))
    decoded = json.loads(encoded)
    assert decoded["condition_grade"] is None
    assert decoded["estimated_unit_price_cents"] is None
    assert decoded["available_from"] is None


def test_building_record_without_details() -> None:
    building = BuildingRow(
        line=2,
        ref="BLD-NAM-02",
        name="École des Tilleuls Savants",
        address="Rue des Tilleuls Savants 9",
        postcode="5000",
        city="Namur",
        latitude=Decimal("50.4652"),
        longitude=Decimal("4.8621"),
    )
    record = building_record(building)
    assert record["schema"] == BUILDING_SCHEMA
    assert record["ref"] == "BLD-NAM-02"
    assert record["year"] is None
    assert json.loads(canonical_json(record))["latitude"] == "50.4652"


def test_building_record_with_details() -> None:
    inventory = parse_inventory(DATA / "inventory.csv", DATA / "buildings.csv")
    record = building_record(inventory.buildings[1])
    assert record["ref"] == "BLD-NAM-02"
    assert record["name"] == "École des Tilleuls Savants"
    assert record["type"] == "school"
    assert record["year"] == 1934
    assert record["storeys"] == 3
    assert record["province"] == "Namur"
    assert record["country"] == "BE"
    assert record["inventory_date"] == "2025-10-07"
    assert record["works_start_date"] == "2026-07-06"
    assert record["asbestos_inventory_available"] is True
    decoded = json.loads(canonical_json(record))
    assert decoded["latitude"] == "50.4652"
    assert decoded["longitude"] == "4.8621"
    assert decoded["gross_floor_area_m2"] == "3200"


def test_building_record_keys_do_not_depend_on_details() -> None:
    with_details = parse_inventory(DATA / "inventory.csv", DATA / "buildings.csv")
    without_details = parse_inventory(DATA / "inventory.csv")
    assert set(building_record(with_details.buildings[0])) == set(
        building_record(without_details.buildings[0])
    )


def test_every_sample_record_serialises() -> None:
    inventory = parse_inventory(DATA / "inventory.csv", DATA / "buildings.csv")
    hashes = {record_hash(lot_record(lot)) for lot in inventory.lots}
    assert len(hashes) == 74
    for building in inventory.buildings:
        assert len(record_hash(building_record(building))) == 32
