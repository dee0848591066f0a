"""Tests of the inventory importer on the sample files and on small inline CSV files."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ledger.errors import InvalidInput, InventoryRejected
from ledger.importer import (
    INVENTORY_COLUMNS,
    LotRow,
    RowError,
    check_inventory,
    parse_actors,
    parse_date,
    parse_inventory,
)
from ledger.units import Unit

DATA = Path(__file__).resolve().parent.parent / "data" / "wallonia"

# Sum of quantity × unit_mass_kg over the 74 rows of inventory.csv, computed once with
# Python's csv and decimal modules outside the importer. It equals the sum of the
# total_mass_kg column: 962,738.4 kg.
SAMPLE_TOTAL_MASS_G = 962_738_400


@dataclass(frozen=True)
class Expected:
    """The normalised values expected for one valid row of inventory_messy.csv."""

    item_id: str
    building_ref: str
    quantity: int
    unit: Unit
    unit_mass_g: int
    grade: str
    price_cents: int
    available_from: date | None
    photo_refs: tuple[str, ...] = ()


# Every data line of inventory_messy.csv (the header is line 1) and what it becomes.
MESSY_VALID = {
    # "1 250,5" with a no-break space, unit "m²", price "55,00", no total mass.
    2: Expected(
        "MSY-001",
        "BLD-NAM-02",
        1_250_500,
        Unit.SQUARE_METRE,
        38_000,
        "B",
        5500,
        date(2026, 7, 6),
        ("MSY-001_01.jpg",),
    ),
    # "84,5" with unit "m2 " (padded), unit mass "15,5", lower-case grade "a".
    3: Expected(
        "MSY-002",
        "BLD-NAM-02",
        84_500,
        Unit.SQUARE_METRE,
        15_500,
        "A",
        3800,
        date(2026, 7, 6),
    ),
    # Unit "M2", unit mass "4,5" kg, total 1890 kg = 420 × 4.5, price "3,5".
    4: Expected(
        "MSY-003",
        "BLD-LGE-01",
        420_000,
        Unit.SQUARE_METRE,
        4500,
        "B",
        350,
        date(2026, 2, 2),
    ),
    # "ml" is linear metres: 12 m of balustrade at 28 kg/m.
    5: Expected(
        "MSY-004",
        "BLD-NAM-02",
        12_000,
        Unit.LINEAR_METRE,
        28_000,
        "A",
        8500,
        date(2026, 7, 20),
    ),
    # Unit "pièces", unit mass "2,3", price "0,40".
    6: Expected(
        "MSY-005",
        "BLD-CRL-03",
        4_000_000,
        Unit.PIECE,
        2300,
        "B",
        40,
        date(2026, 5, 4),
    ),
    # Price "€ 25,00", empty available_from.
    8: Expected(
        "MSY-007",
        "BLD-LGE-01",
        6000,
        Unit.PIECE,
        14_000,
        "A",
        2500,
        None,
        ("MSY-007_01.jpg",),
    ),
    # Date "15/03/2026".
    9: Expected(
        "MSY-008",
        "BLD-NAM-02",
        10_000,
        Unit.PIECE,
        46_000,
        "A",
        3200,
        date(2026, 3, 15),
    ),
    # Padded " BLD-NAM-02 ", coordinates with decimal commas, price "0,6".
    10: Expected(
        "MSY-009",
        "BLD-NAM-02",
        2_000_000,
        Unit.PIECE,
        1400,
        "B",
        60,
        date(2026, 7, 20),
    ),
    # "120 pcs" in the quantity cell with the unit cell empty.
    12: Expected(
        "MSY-011",
        "BLD-LGE-01",
        120_000,
        Unit.PIECE,
        1300,
        "B",
        80,
        date(2026, 2, 9),
    ),
}

# Rejected lines: (column, fragment of the reason). An empty column is a row error.
MESSY_REJECTED = {
    # "pcs." is accepted, but both unit_mass_kg and total_mass_kg are empty.
    7: ("unit_mass_kg", "Both unit_mass_kg and total_mass_kg are empty"),
    # MSY-010 repeats MSY-009 in every field once padding and commas are normalised.
    11: ("", "repeats every field of line 10 (item 'MSY-009') except item_id"),
    # "B/C" is two grades; the rest of the row (3,2 m³ at 530 kg/m³) is valid.
    13: ("condition_grade", "'B/C' is not a condition grade"),
}

BASE_ROW = {
    "item_id": "T-001",
    "building_ref": "BLD-T-01",
    "building_name": "Test building",
    "address": "Rue de l'Essai 1",
    "postcode": "4000",
    "city": "Liège",
    "latitude": "50.6379",
    "longitude": "5.5681",
    "element_category": "flooring",
    "description": "Oak parquet",
    "material": "timber_hardwood",
    "dimensions_mm": "70x350x22",
    "quantity": "10",
    "unit": "m2",
    "unit_mass_kg": "15.5",
    "total_mass_kg": "155",
    "condition_grade": "B",
    "location_in_building": "Classroom",
    "dismantling_method": "manual_pry",
    "reuse_potential": "high",
    "hazard_notes": "",
    "estimated_unit_price_eur": "38.00",
    "available_from": "2026-07-06",
    "photo_refs": "T-001_01.jpg",
}


def csv_text(rows: list[dict[str, str]], line_end: str = "\n") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=line_end)
    writer.writerow(INVENTORY_COLUMNS)
    for row in rows:
        writer.writerow([row.get(column, "") for column in INVENTORY_COLUMNS])
    return buffer.getvalue()


def row(**changes: str) -> dict[str, str]:
    return {**BASE_ROW, **changes}


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "inventory.csv"
    path.write_bytes(text.encode(encoding))
    return path


def check_rows(
    tmp_path: Path, *rows: dict[str, str]
) -> tuple[list[LotRow], list[RowError]]:
    inventory, errors = check_inventory(write(tmp_path, csv_text(list(rows))))
    return inventory.lots, errors


def only_lot(tmp_path: Path, **changes: str) -> LotRow:
    lots, errors = check_rows(tmp_path, row(**changes))
    assert errors == []
    assert len(lots) == 1
    return lots[0]


def only_error(tmp_path: Path, **changes: str) -> RowError:
    lots, errors = check_rows(tmp_path, row(**changes))
    assert lots == []
    assert len(errors) == 1, [str(error) for error in errors]
    return errors[0]


# Sample files


def test_sample_inventory_counts() -> None:
    inventory = parse_inventory(DATA / "inventory.csv")
    assert len(inventory.lots) == 74
    assert len(inventory.buildings) == 3
    assert [b.ref for b in inventory.buildings] == [
        "BLD-LGE-01",
        "BLD-NAM-02",
        "BLD-CRL-03",
    ]


def test_sample_inventory_total_mass() -> None:
    inventory = parse_inventory(DATA / "inventory.csv")
    assert inventory.total_mass_g == SAMPLE_TOTAL_MASS_G


def test_sample_inventory_lots_per_building() -> None:
    inventory = parse_inventory(DATA / "inventory.csv")
    counts = Counter(lot.building_ref for lot in inventory.lots)
    assert counts == {"BLD-LGE-01": 26, "BLD-NAM-02": 23, "BLD-CRL-03": 25}


def test_sample_inventory_units_and_grades() -> None:
    inventory = parse_inventory(DATA / "inventory.csv")
    units = Counter(lot.unit for lot in inventory.lots)
    grades = Counter(lot.condition_grade for lot in inventory.lots)
    assert units == {
        Unit.PIECE: 46,
        Unit.SQUARE_METRE: 12,
        Unit.LINEAR_METRE: 11,
        Unit.KILOGRAM: 4,
        Unit.CUBIC_METRE: 1,
    }
    assert grades == {"B": 42, "A": 16, "C": 16}


def test_sample_inventory_first_lot() -> None:
    lot = parse_inventory(DATA / "inventory.csv").lots[0]
    assert lot.line == 2
    assert lot.item_id == "LGE-001"
    assert lot.description == (
        "Raised access floor panels, steel-clad chipboard core, 600x600, with pedestals"
    )
    assert lot.quantity == 5_800_000
    assert lot.unit is Unit.PIECE
    assert lot.unit_mass_g == 12_500
    assert lot.estimated_unit_price_cents == 900
    assert lot.photo_refs == ("LGE-001_01.jpg", "LGE-001_02.jpg")


def test_sample_inventory_with_buildings_file() -> None:
    inventory = parse_inventory(DATA / "inventory.csv", DATA / "buildings.csv")
    charleroi = inventory.buildings[2]
    assert charleroi.ref == "BLD-CRL-03"
    assert charleroi.line == 51
    assert charleroi.latitude == Decimal("50.4098")
    assert charleroi.details is not None
    assert charleroi.details.construction_year == 1906
    assert charleroi.details.building_type == "warehouse"
    assert charleroi.details.province == "Hainaut"
    assert charleroi.details.works_start_date == date(2026, 4, 13)


def test_messy_table_covers_every_line() -> None:
    with (DATA / "inventory_messy.csv").open(encoding="utf-8-sig", newline="") as file:
        data_lines = len(file.read().splitlines()) - 1
    assert sorted(MESSY_VALID | MESSY_REJECTED) == list(range(2, data_lines + 2))


@pytest.mark.parametrize("line", sorted(MESSY_VALID))
def test_messy_valid_row(line: int) -> None:
    expected = MESSY_VALID[line]
    inventory, _ = check_inventory(DATA / "inventory_messy.csv")
    lot = {lot.line: lot for lot in inventory.lots}[line]
    assert lot.item_id == expected.item_id
    assert lot.building_ref == expected.building_ref
    assert lot.quantity == expected.quantity
    assert lot.unit is expected.unit
    assert lot.unit_mass_g == expected.unit_mass_g
    assert lot.condition_grade == expected.grade
    assert lot.estimated_unit_price_cents == expected.price_cents
    assert lot.available_from == expected.available_from
    assert lot.photo_refs == expected.photo_refs


@pytest.mark.parametrize("line", sorted(MESSY_REJECTED))
def test_messy_rejected_row(line: int) -> None:
    column, fragment = MESSY_REJECTED[line]
    _, errors = check_inventory(DATA / "inventory_messy.csv")
    on_line = [error for error in errors if error.line == line]
    assert len(on_line) == 1, [str(error) for error in on_line]
    assert on_line[0].column == column
    assert fragment in on_line[0].reason


def test_messy_has_only_listed_errors() -> None:
    inventory, errors = check_inventory(DATA / "inventory_messy.csv")
    assert [error.line for error in errors] == sorted(MESSY_REJECTED)
    assert [lot.line for lot in inventory.lots] == sorted(MESSY_VALID)


def test_messy_cells_are_normalised() -> None:
    inventory, errors = check_inventory(
        DATA / "inventory_messy.csv", DATA / "buildings.csv"
    )
    assert [error.line for error in errors] == sorted(MESSY_REJECTED)
    lots = {lot.line: lot for lot in inventory.lots}
    assert lots[3].description == "Parquet chêne bâtons rompus"
    assert lots[3].hazard_notes == "colle bitumineuse"
    assert [b.ref for b in inventory.buildings] == [
        "BLD-NAM-02",
        "BLD-LGE-01",
        "BLD-CRL-03",
    ]
    assert inventory.buildings[0].latitude == Decimal("50.4652")


def test_messy_file_is_rejected_whole() -> None:
    with pytest.raises(InventoryRejected) as caught:
        parse_inventory(DATA / "inventory_messy.csv")
    assert [error.line for error in caught.value.errors] == [7, 11, 13]
    lines = str(caught.value).splitlines()
    assert lines[0] == (
        f"{DATA / 'inventory_messy.csv'} was rejected with 3 errors. Fix the lines "
        "below and import the file again:"
    )
    assert lines[1].startswith("line 7, column unit_mass_kg: Both unit_mass_kg")
    assert lines[2].startswith("line 11: The row repeats every field of line 10")
    assert lines[3].startswith("line 13, column condition_grade: 'B/C' is not")


def test_messy_file_fixed_parses(tmp_path: Path) -> None:
    text = (DATA / "inventory_messy.csv").read_bytes().decode("utf-8-sig")
    lines = text.split("\r\n")
    lines[6] = lines[6].replace(",pcs.,,,B,", ",pcs.,62,186,B,")
    lines[12] = lines[12].replace(",B/C,", ",B,")
    del lines[10]
    path = tmp_path / "fixed.csv"
    path.write_bytes(("\ufeff" + "\r\n".join(lines)).encode())

    inventory = parse_inventory(path)

    assert len(inventory.lots) == 11
    radiators = inventory.lots[5]
    assert (radiators.line, radiators.unit_mass_g) == (7, 62_000)
    beams = inventory.lots[-1]
    assert beams.line == 12
    assert beams.quantity == 3200
    assert beams.unit is Unit.CUBIC_METRE
    assert beams.unit_mass_g == 530_000
    assert beams.condition_grade == "B"
    assert beams.estimated_unit_price_cents == 90_000
    assert beams.available_from == date(2026, 5, 25)


def test_sample_actors() -> None:
    actors = parse_actors(DATA / "actors.csv")
    assert len(actors) == 15
    assert actors[1].actor_id == "ACT-002"
    assert actors[1].role == "deconstruction_contractor"
    assert actors[1].secondary_roles == ("reclamation_dealer",)
    assert actors[1].city == "Charleroi"
    assert actors[0].secondary_roles == ()


def test_actors_duplicate_id_rejected(tmp_path: Path) -> None:
    path = tmp_path / "actors.csv"
    path.write_text(
        "actor_id,name,role,city\nACT-1,A Demo,buyer,Namur\nACT-1,B Demo,buyer,Liège\n"
    )
    with pytest.raises(
        InvalidInput, match="line 3, column actor_id: 'ACT-1' is already"
    ):
        parse_actors(path)


# Encodings and layout


def test_bom_and_crlf(tmp_path: Path) -> None:
    rows = [row(), row(item_id="T-002", description="Pine parquet")]
    text = "\ufeff" + csv_text(rows, line_end="\r\n")
    inventory = parse_inventory(write(tmp_path, text))
    assert [lot.line for lot in inventory.lots] == [2, 3]
    assert inventory.lots[0].item_id == "T-001"


def test_quoted_cell_with_comma_and_newline(tmp_path: Path) -> None:
    description = "Oak parquet, herringbone,\nsecond line"
    rows = [row(description=description), row(item_id="T-002")]
    text = csv_text(rows, line_end="\r\n")
    inventory = parse_inventory(write(tmp_path, text))
    assert inventory.lots[0].description == description
    assert [lot.line for lot in inventory.lots] == [2, 4]


def test_blank_lines_skipped_but_counted(tmp_path: Path) -> None:
    header, first, second = csv_text(
        [row(), row(item_id="T-002", description="Pine parquet")]
    ).splitlines()
    text = f"{header}\n{first}\n\n,,,\n{second}\n"
    inventory = parse_inventory(write(tmp_path, text))
    assert [lot.line for lot in inventory.lots] == [2, 5]


def test_not_utf8_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text([row(city="Liège")]), encoding="cp1252")
    with pytest.raises(InvalidInput, match="not UTF-8 text .*line 2"):
        check_inventory(path)


def test_missing_file_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="Cannot read"):
        check_inventory(tmp_path / "absent.csv")


def test_empty_file_rejected(tmp_path: Path) -> None:
    _, errors = check_inventory(write(tmp_path, ""))
    assert [str(error) for error in errors] == [
        "line 1: The file is empty; export it with its header."
    ]


def test_header_unknown_and_missing_columns(tmp_path: Path) -> None:
    text = "item_id,building_ref,element_category,description,quantity,colour\n"
    _, errors = check_inventory(write(tmp_path, text))
    assert [(error.line, error.column) for error in errors] == [
        (1, "colour"),
        (1, "unit"),
    ]
    assert "'colour' is not a known column" in errors[0].reason
    assert errors[1].reason == "The required column 'unit' is missing."


def test_header_with_only_required_columns(tmp_path: Path) -> None:
    text = (
        "Item_ID, building_ref ,element_category,description,quantity,unit,"
        "unit_mass_kg\nX-1,BLD-X,masonry,Bricks,100,pcs,2.3\n"
    )
    lot = parse_inventory(write(tmp_path, text)).lots[0]
    assert lot.quantity == 100_000
    assert lot.condition_grade is None
    assert lot.photo_refs == ()


def test_trailing_empty_columns_ignored(tmp_path: Path) -> None:
    lines = csv_text([row()]).splitlines()
    text = "".join(f"{line},,\n" for line in lines)
    inventory = parse_inventory(write(tmp_path, text))
    assert len(inventory.lots) == 1
    assert inventory.lots[0].photo_refs == ("T-001_01.jpg",)


def test_row_with_wrong_cell_count(tmp_path: Path) -> None:
    text = csv_text([row()]) + "T-002,BLD-T-01,too few\n"
    _, errors = check_inventory(write(tmp_path, text))
    assert len(errors) == 1
    assert str(errors[0]) == (
        "line 3: The row has 3 cells but the header has 24; quote cells that "
        "contain commas."
    )


def test_padded_cells_stripped(tmp_path: Path) -> None:
    lot = only_lot(
        tmp_path,
        item_id="  T-001 ",
        building_ref="\u00a0BLD-T-01 ",
        description=" Oak parquet\t",
        photo_refs=" a.jpg ; b.jpg ;",
    )
    assert lot.item_id == "T-001"
    assert lot.building_ref == "BLD-T-01"
    assert lot.description == "Oak parquet"
    assert lot.photo_refs == ("a.jpg", "b.jpg")


# Quantities and units


@pytest.mark.parametrize(
    ("quantity", "unit", "milli", "expected_unit"),
    [
        ("84,5", "m²", 84_500, Unit.SQUARE_METRE),
        ("1\u202f250,5", "M2", 1_250_500, Unit.SQUARE_METRE),
        ("1\u2009250.125", "ml", 1_250_125, Unit.LINEAR_METRE),
        ("12 pcs", "", 12_000, Unit.PIECE),
        ("84,5m2", "", 84_500, Unit.SQUARE_METRE),
        ("3,2 m³", "", 3200, Unit.CUBIC_METRE),
        ("0,001", "kg", 1, Unit.KILOGRAM),
        # The largest quantity the registry stores: 2**64 - 1 thousandths.
        ("18446744073709551.615", "kg", 2**64 - 1, Unit.KILOGRAM),
    ],
)
def test_quantity_and_unit_parsed(
    tmp_path: Path, quantity: str, unit: str, milli: int, expected_unit: Unit
) -> None:
    lot = only_lot(tmp_path, quantity=quantity, unit=unit, total_mass_kg="")
    assert lot.quantity == milli
    assert lot.unit is expected_unit


@pytest.mark.parametrize(
    ("quantity", "unit", "column", "fragment"),
    [
        ("0", "m2", "quantity", "'0' is not a positive quantity"),
        ("-5", "m2", "quantity", "'-5' is not a positive quantity"),
        ("0,0001", "m2", "quantity", "more precise than the 3 decimals"),
        ("1,250", "m2", "quantity", "ambiguous"),
        ("ten", "m2", "quantity", "'ten' is not a number"),
        ("10", "xx", "unit", "'xx' is not a known unit; use one of:"),
        ("10", "", "unit", "The cell is empty, but unit is required."),
        ("12 xx", "", "quantity", "'xx' is not a known unit"),
        ("12 pcs", "pcs", "quantity", "'12 pcs' is not a number"),
        (
            "18446744073709551.616",
            "kg",
            "quantity",
            "'18446744073709551.616' is 18446744073709551616 thousandths of the "
            "unit, above the registry's limit of 18446744073709551615 (a 64-bit "
            "integer); split the row into several lots.",
        ),
    ],
)
def test_quantity_and_unit_rejected(
    tmp_path: Path, quantity: str, unit: str, column: str, fragment: str
) -> None:
    error = only_error(tmp_path, quantity=quantity, unit=unit, total_mass_kg="")
    assert error.column == column
    assert fragment in error.reason


def test_unit_error_message_format(tmp_path: Path) -> None:
    error = only_error(tmp_path, unit="xx")
    assert str(error).startswith(
        "line 2, column unit: 'xx' is not a known unit; use one of: pieces (pieces, "
    )


# Masses


@pytest.mark.parametrize(
    ("quantity", "unit_mass", "total", "grams"),
    [
        ("4", "", "10", 2500),
        ("84,5", "", "1309,75", 15_500),
        ("10", "1", "10,1", 1000),
        ("10", "1", "9,9", 1000),
        ("10", "2,5", "", 2500),
        ("3", "0,001", "", 1),
        # The largest unit mass the registry stores: 2**64 - 1 grams.
        ("1", "18446744073709551,615", "", 2**64 - 1),
    ],
)
def test_unit_mass_accepted(
    tmp_path: Path, quantity: str, unit_mass: str, total: str, grams: int
) -> None:
    lot = only_lot(
        tmp_path, quantity=quantity, unit_mass_kg=unit_mass, total_mass_kg=total
    )
    assert lot.unit_mass_g == grams


@pytest.mark.parametrize(
    ("quantity", "unit_mass", "total", "column", "fragment"),
    [
        ("3", "", "10", "unit_mass_kg", "not a whole number of grams"),
        ("10", "1", "10,11", "total_mass_kg", "differs by more than 1 %"),
        ("10", "1", "9,89", "total_mass_kg", "= 10 kg"),
        ("10", "", "", "unit_mass_kg", "Both unit_mass_kg and total_mass_kg"),
        ("10", "1,0005", "", "unit_mass_kg", "more precise than the 3 decimals"),
        ("10", "0", "", "unit_mass_kg", "'0' is not a positive mass"),
        ("10", "", "-5", "total_mass_kg", "'-5' is not a positive mass"),
        ("10", "heavy", "", "unit_mass_kg", "'heavy' is not a number"),
        (
            "1",
            "18446744073709551,616",
            "",
            "unit_mass_kg",
            "The unit mass is 18446744073709551616 g, above the registry's limit "
            "of 18446744073709551615 g (a 64-bit integer); check the mass, or "
            "register a smaller unit.",
        ),
        (
            "0,001",
            "",
            "18446744073709551,616",
            "unit_mass_kg",
            "The unit mass is 18446744073709551616000 g, above the registry's",
        ),
    ],
)
def test_unit_mass_rejected(
    tmp_path: Path,
    quantity: str,
    unit_mass: str,
    total: str,
    column: str,
    fragment: str,
) -> None:
    error = only_error(
        tmp_path, quantity=quantity, unit_mass_kg=unit_mass, total_mass_kg=total
    )
    assert error.column == column
    assert fragment in error.reason


# Grades, prices, dates and references


@pytest.mark.parametrize(
    ("text", "grade"), [("A", "A"), ("a", "A"), (" c ", "C"), ("", None)]
)
def test_grade_accepted(tmp_path: Path, text: str, grade: str | None) -> None:
    assert only_lot(tmp_path, condition_grade=text).condition_grade == grade


@pytest.mark.parametrize("text", ["B/C", "D", "AB", "A+", "1"])
def test_grade_rejected(tmp_path: Path, text: str) -> None:
    error = only_error(tmp_path, condition_grade=text)
    assert error.column == "condition_grade"
    assert error.reason.startswith(f"{text!r} is not a condition grade")


@pytest.mark.parametrize(
    ("text", "cents"),
    [("€ 25,00", 2500), ("55,00", 5500), ("9.00", 900), ("0", 0), ("", None)],
)
def test_price_accepted(tmp_path: Path, text: str, cents: int | None) -> None:
    lot = only_lot(tmp_path, estimated_unit_price_eur=text)
    assert lot.estimated_unit_price_cents == cents


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("-3", "is negative"), ("2,555", "ambiguous"), ("12,3456", "more precise")],
)
def test_price_rejected(tmp_path: Path, text: str, fragment: str) -> None:
    error = only_error(tmp_path, estimated_unit_price_eur=text)
    assert error.column == "estimated_unit_price_eur"
    assert fragment in error.reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-07-06", date(2026, 7, 6)),
        ("15/03/2026", date(2026, 3, 15)),
        ("15.03.2026", date(2026, 3, 15)),
        ("5/3/2026", date(2026, 3, 5)),
        ("29/02/2028", date(2028, 2, 29)),
    ],
)
def test_parse_date_accepted(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("31/02/2026", "not a calendar date"),
        ("03/15/2026", "not a calendar date"),
        ("2026/03/15", "not a date"),
        ("15/03.2026", "not a date"),
        ("15/03/26", "not a date"),
        ("next week", "not a date"),
    ],
)
def test_parse_date_rejected(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInput, match=fragment):
        parse_date(text)


def test_date_cell_rejected(tmp_path: Path) -> None:
    error = only_error(tmp_path, available_from="31.02.2026")
    assert error.column == "available_from"


@pytest.mark.parametrize(
    ("column", "text", "fragment"),
    [
        ("element_category", "revêtement", "printable ASCII"),
        ("building_ref", "B" * 33, "at most 32"),
        ("latitude", "95", "outside -90 to 90"),
        ("longitude", "5,5681,2", "not a number"),
    ],
)
def test_cell_rejected(tmp_path: Path, column: str, text: str, fragment: str) -> None:
    lots, errors = check_rows(tmp_path, row(**{column: text}))
    assert lots == []
    assert [error.column for error in errors] == [column]
    assert fragment in errors[0].reason


@pytest.mark.parametrize(
    "column",
    ["item_id", "building_ref", "element_category", "description", "quantity", "unit"],
)
def test_required_cell_empty(tmp_path: Path, column: str) -> None:
    error = only_error(tmp_path, **{column: " "})
    assert error.column == column
    assert error.reason == f"The cell is empty, but {column} is required."


# Duplicates and consistency


def test_exact_duplicate_row(tmp_path: Path) -> None:
    other = row(item_id="T-002", description="Pine parquet")
    lots, errors = check_rows(tmp_path, row(), other, row())
    assert [lot.line for lot in lots] == [2, 3]
    assert [str(error) for error in errors] == [
        "line 4: The row is an exact duplicate of line 2; delete it."
    ]


def test_duplicate_after_normalisation(tmp_path: Path) -> None:
    first = row(quantity="1250.5", total_mass_kg="", latitude="50.6379")
    second = row(
        item_id="T-002", quantity="1 250,5", total_mass_kg="", latitude="50,6379"
    )
    _, errors = check_rows(tmp_path, first, second)
    assert len(errors) == 1
    assert errors[0].line == 3
    assert "repeats every field of line 2 (item 'T-001') except item_id" in str(
        errors[0]
    )


def test_repeated_item_id_different_content(tmp_path: Path) -> None:
    lots, errors = check_rows(tmp_path, row(), row(quantity="11", total_mass_kg=""))
    assert [lot.line for lot in lots] == [2]
    assert len(errors) == 1
    assert (errors[0].line, errors[0].column) == (3, "item_id")
    assert "'T-001' is already used on line 2 for different content" in (
        errors[0].reason
    )


def test_repeated_item_id_after_invalid_row(tmp_path: Path) -> None:
    _, errors = check_rows(tmp_path, row(unit="xx"), row())
    assert [(error.line, error.column) for error in errors] == [
        (2, "unit"),
        (3, "item_id"),
    ]


def test_inconsistent_building_columns(tmp_path: Path) -> None:
    second = row(
        item_id="T-002", description="Pine parquet", city="Namur", latitude="50.64"
    )
    _, errors = check_rows(tmp_path, row(), second)
    assert [(error.line, error.column) for error in errors] == [
        (3, "city"),
        (3, "latitude"),
    ]
    assert errors[0].reason == (
        "'Namur' differs from 'Liège' on line 2 for building 'BLD-T-01'; write the "
        "same city on every row of one building."
    )


def test_every_error_collected(tmp_path: Path) -> None:
    rows = [
        row(unit="xx", condition_grade="Z"),
        row(item_id="T-002"),
        row(item_id="T-003", quantity="0"),
    ]
    with pytest.raises(InventoryRejected) as caught:
        parse_inventory(write(tmp_path, csv_text(rows)))
    assert [(error.line, error.column) for error in caught.value.errors] == [
        (2, "unit"),
        (2, "condition_grade"),
        (4, "quantity"),
    ]
    assert len(str(caught.value).splitlines()) == 4


# Buildings file


def buildings_file(tmp_path: Path, body: str) -> Path:
    header = (DATA / "buildings.csv").read_text(encoding="utf-8").splitlines()[0]
    path = tmp_path / "buildings.csv"
    path.write_text(f"{header}\n{body}\n", encoding="utf-8")
    return path


def test_building_enriched(tmp_path: Path) -> None:
    buildings = buildings_file(
        tmp_path,
        "BLD-T-01,Test building,school,1934,Rue de l'Essai 1,4000,Liège,Liège,BE,"
        "50.6379,5.5681,3200,3,brick,ACT-014,ACT-012,07/10/2025,renovation,"
        "2026-07-06,no,true,",
    )
    inventory, errors = check_inventory(write(tmp_path, csv_text([row()])), buildings)
    assert errors == []
    details = inventory.buildings[0].details
    assert details is not None
    assert details.construction_year == 1934
    assert details.inventory_date == date(2025, 10, 7)
    assert details.asbestos_inventory_available is False


def test_building_missing_from_buildings_file(tmp_path: Path) -> None:
    buildings = buildings_file(tmp_path, "BLD-OTHER,Other,,,,,,,,,,,,,,,,,,,,")
    _, errors = check_inventory(write(tmp_path, csv_text([row()])), buildings)
    assert [(error.line, error.column) for error in errors] == [(2, "building_ref")]
    assert "'BLD-T-01' is not in" in errors[0].reason


def test_building_disagrees_with_buildings_file(tmp_path: Path) -> None:
    buildings = buildings_file(
        tmp_path, "BLD-T-01,Test building,,,Rue de l'Essai 1,4000,Namur,,,,,,,,,,,,,,,"
    )
    _, errors = check_inventory(write(tmp_path, csv_text([row()])), buildings)
    assert [(error.line, error.column) for error in errors] == [
        (2, "city"),
        (2, "latitude"),
        (2, "longitude"),
    ]
    assert errors[0].reason.startswith("'Liège' differs from 'Namur' on line 2 of ")


def test_invalid_buildings_file(tmp_path: Path) -> None:
    buildings = buildings_file(
        tmp_path, "BLD-T-01,Test building,,nineteen,,,,,,,,,,,,,,,,maybe,,"
    )
    with pytest.raises(InventoryRejected) as caught:
        check_inventory(write(tmp_path, csv_text([row()])), buildings)
    assert [(error.line, error.column) for error in caught.value.errors] == [
        (2, "construction_year"),
        (2, "asbestos_inventory_available"),
    ]


def test_category_stored_lower_case(tmp_path: Path) -> None:
    # The search lower-cases its category filter, so a category imported as "Doors"
    # must reach the chain as "doors" to be found.
    assert only_lot(tmp_path, element_category="Interior_Doors").category == (
        "interior_doors"
    )
