"""Parse and validate reuse inventories exported from spreadsheets as CSV.

The importer reads a whole file before anything is registered. Every invalid cell is
reported as a :class:`RowError`, and :func:`parse_inventory` raises
:class:`~ledger.errors.InventoryRejected` listing all of them, so a caller registers
either every lot of a file or none.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

from ledger.errors import InvalidInput, InventoryRejected
from ledger.lot_entries import UINT64_MAX
from ledger.units import (
    GRAMS_PER_KILOGRAM,
    QUANTITY_SCALE,
    Unit,
    ascii_bytes32,
    format_mass_kg,
    mass_grams,
    normalize_spaces,
    parse_decimal,
    parse_money_cents,
    parse_unit,
    to_fixed,
)

T = TypeVar("T")

INVENTORY_COLUMNS = (
    "item_id",
    "building_ref",
    "building_name",
    "address",
    "postcode",
    "city",
    "latitude",
    "longitude",
    "element_category",
    "description",
    "material",
    "dimensions_mm",
    "quantity",
    "unit",
    "unit_mass_kg",
    "total_mass_kg",
    "condition_grade",
    "location_in_building",
    "dismantling_method",
    "reuse_potential",
    "hazard_notes",
    "estimated_unit_price_eur",
    "available_from",
    "photo_refs",
)
INVENTORY_REQUIRED = (
    "item_id",
    "building_ref",
    "element_category",
    "description",
    "quantity",
    "unit",
)
BUILDINGS_COLUMNS = (
    "building_ref",
    "building_name",
    "building_type",
    "construction_year",
    "address",
    "postcode",
    "city",
    "province",
    "country",
    "latitude",
    "longitude",
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
ACTORS_COLUMNS = (
    "actor_id",
    "name",
    "role",
    "secondary_roles",
    "address",
    "postcode",
    "city",
    "country",
    "contact_email",
    "is_fictional",
    "notes",
)

CONDITION_GRADES = ("A", "B", "C")
MASS_TOLERANCE = Fraction(1, 100)
"""Largest relative gap allowed between a stated total mass and quantity × unit mass."""

_ISO_DATE = re.compile(r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})")
_DAY_FIRST_DATE = re.compile(
    r"(?P<day>\d{1,2})(?P<mark>[/.])(?P<month>\d{1,2})(?P=mark)(?P<year>\d{4})"
)
# A quantity followed by its unit in one cell, such as "120 pcs" or "84,5 m2".
_QUANTITY_WITH_UNIT = re.compile(
    r"(?P<number>[+-]?\d[\d .,]*?)\s*(?P<unit>[^\d\s.,+-].*)"
)
_BOOLEANS = {
    "yes": True,
    "true": True,
    "oui": True,
    "no": False,
    "false": False,
    "non": False,
}


@dataclass(frozen=True)
class RowError:
    """One invalid cell, or a whole invalid row when ``column`` is empty."""

    line: int
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        if self.column:
            return f"line {self.line}, column {self.column}: {self.reason}"
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class BuildingDetails:
    """Building attributes that only buildings.csv provides."""

    building_type: str
    construction_year: int | None
    province: str
    country: str
    gross_floor_area_m2: Decimal | None
    storeys: int | None
    structure_type: str
    owner_actor_id: str
    inventory_author_actor_id: str
    inventory_date: date | None
    planned_intervention: str
    works_start_date: date | None
    asbestos_inventory_available: bool | None
    is_fictional: bool | None
    notes: str


@dataclass(frozen=True)
class BuildingRow:
    """An origin building, with ``line`` the first line of the file that names it."""

    line: int
    ref: str
    name: str
    address: str
    postcode: str
    city: str
    latitude: Decimal | None
    longitude: Decimal | None
    details: BuildingDetails | None = None


@dataclass(frozen=True)
class LotRow:
    """One valid inventory row, normalised to the registry's units.

    ``line`` is the row's first physical line in the file, the header being line 1.
    ``quantity`` is in thousandths of ``unit`` and ``unit_mass_g`` in grams per unit.
    """

    line: int
    item_id: str
    building_ref: str
    category: str
    description: str
    material: str
    dimensions_mm: str
    quantity: int
    unit: Unit
    unit_mass_g: int
    condition_grade: str | None
    location_in_building: str
    dismantling_method: str
    reuse_potential: str
    hazard_notes: str
    estimated_unit_price_cents: int | None
    available_from: date | None
    photo_refs: tuple[str, ...]

    @property
    def total_mass_g(self) -> Fraction:
        """Exact mass of the whole lot in grams."""
        return mass_grams(self.quantity, self.unit_mass_g)


@dataclass(frozen=True)
class Inventory:
    """The buildings and lots of one valid inventory file, in file order."""

    buildings: list[BuildingRow]
    lots: list[LotRow]

    @property
    def total_mass_g(self) -> Fraction:
        """Exact mass of all lots in grams."""
        return sum((lot.total_mass_g for lot in self.lots), Fraction(0))


@dataclass(frozen=True)
class Actor:
    """An organisation taking part in the reuse chain, from actors.csv."""

    line: int
    actor_id: str
    name: str
    role: str
    secondary_roles: tuple[str, ...]
    address: str
    postcode: str
    city: str
    country: str
    contact_email: str
    notes: str


def parse_inventory(
    path: str | Path, buildings_path: str | Path | None = None
) -> Inventory:
    """Parse an inventory CSV file, raising ``InventoryRejected`` if any row is invalid.

    With ``buildings_path``, each building is enriched from that buildings.csv.
    """
    inventory, errors = check_inventory(path, buildings_path)
    if errors:
        raise InventoryRejected(errors, source=str(path))
    return inventory


def check_inventory(
    path: str | Path, buildings_path: str | Path | None = None
) -> tuple[Inventory, list[RowError]]:
    """Parse an inventory CSV file and return its valid rows and every error found.

    Rows with an error are left out of the returned inventory. Errors in buildings.csv
    itself raise ``InventoryRejected`` at once because they are not inventory lines.
    """
    rows, errors = _read_table(path, INVENTORY_COLUMNS, INVENTORY_REQUIRED)
    lots: list[LotRow] = []
    buildings: dict[str, BuildingRow] = {}
    first_by_content: dict[LotRow, LotRow] = {}
    first_line_by_item_id: dict[str, int] = {}

    for row in rows:
        lot = _parse_lot(row)
        building = _parse_building_columns(row)
        if building is not None:
            _add_building(buildings, building, row)
        if lot is not None:
            _check_duplicates(lot, row, first_by_content, first_line_by_item_id)
        elif row.cells["item_id"]:
            first_line_by_item_id.setdefault(row.cells["item_id"], row.line)
        errors.extend(row.errors)
        if lot is not None and not row.errors:
            lots.append(lot)

    if buildings_path is not None:
        known = parse_buildings(buildings_path)
        for ref, building in buildings.items():
            buildings[ref] = _enrich_building(
                building, known, Path(buildings_path), errors
            )

    errors.sort(key=lambda error: error.line)
    return Inventory(buildings=list(buildings.values()), lots=lots), errors


def parse_buildings(path: str | Path) -> dict[str, BuildingRow]:
    """Parse buildings.csv into buildings by reference, with their details filled in."""
    rows, errors = _read_table(
        path, BUILDINGS_COLUMNS, ("building_ref", "building_name")
    )
    buildings: dict[str, BuildingRow] = {}
    for row in rows:
        row.require("building_ref", "building_name")
        building = _parse_building_columns(row)
        details = BuildingDetails(
            building_type=row.cells["building_type"],
            construction_year=row.take("construction_year", _parse_whole_number),
            province=row.cells["province"],
            country=row.cells["country"],
            gross_floor_area_m2=row.take("gross_floor_area_m2", parse_decimal),
            storeys=row.take("storeys", _parse_whole_number),
            structure_type=row.cells["structure_type"],
            owner_actor_id=row.cells["owner_actor_id"],
            inventory_author_actor_id=row.cells["inventory_author_actor_id"],
            inventory_date=row.take("inventory_date", parse_date),
            planned_intervention=row.cells["planned_intervention"],
            works_start_date=row.take("works_start_date", parse_date),
            asbestos_inventory_available=row.take(
                "asbestos_inventory_available", _parse_boolean
            ),
            is_fictional=row.take("is_fictional", _parse_boolean),
            notes=row.cells["notes"],
        )
        if building is not None and building.ref in buildings:
            first = buildings[building.ref].line
            row.reject("building_ref", f"{building.ref!r} is already on line {first}.")
        errors.extend(row.errors)
        if building is not None and not row.errors:
            buildings[building.ref] = dataclasses.replace(building, details=details)
    if errors:
        raise InventoryRejected(errors, source=str(path))
    return buildings


def parse_actors(path: str | Path) -> list[Actor]:
    """Parse actors.csv, raising ``InvalidInput`` listing every invalid row."""
    rows, errors = _read_table(path, ACTORS_COLUMNS, ("actor_id", "name", "role"))
    actors: list[Actor] = []
    first_lines: dict[str, int] = {}
    for row in rows:
        cells = row.cells
        row.require("actor_id", "name", "role")
        if cells["actor_id"] in first_lines:
            first = first_lines[cells["actor_id"]]
            row.reject("actor_id", f"{cells['actor_id']!r} is already on line {first}.")
        first_lines.setdefault(cells["actor_id"], row.line)
        errors.extend(row.errors)
        if not row.errors:
            actors.append(
                Actor(
                    line=row.line,
                    actor_id=cells["actor_id"],
                    name=cells["name"],
                    role=cells["role"],
                    secondary_roles=_split_list(cells["secondary_roles"]),
                    address=cells["address"],
                    postcode=cells["postcode"],
                    city=cells["city"],
                    country=cells["country"],
                    contact_email=cells["contact_email"],
                    notes=cells["notes"],
                )
            )
    if errors:
        details = "\n".join(str(error) for error in errors)
        raise InvalidInput(f"{path} has {len(errors)} invalid cells:\n{details}")
    return actors


def parse_date(text: str) -> date:
    """Parse a date written ``YYYY-MM-DD``, ``DD/MM/YYYY`` or ``DD.MM.YYYY``."""
    cleaned = normalize_spaces(text)
    match = _ISO_DATE.fullmatch(cleaned) or _DAY_FIRST_DATE.fullmatch(cleaned)
    if match is None:
        raise InvalidInput(
            f"{text!r} is not a date; write it as YYYY-MM-DD, DD/MM/YYYY or DD.MM.YYYY."
        )
    try:
        return date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError:
        raise InvalidInput(
            f"{text!r} is not a calendar date; check the day and the month."
        ) from None


class _Row:
    """The stripped cells of one data row and the errors found in them so far."""

    def __init__(self, line: int, cells: dict[str, str]) -> None:
        self.line = line
        self.cells = cells
        self.errors: list[RowError] = []

    def reject(self, column: str, reason: str) -> None:
        self.errors.append(
            RowError(self.line, column, self.cells.get(column, ""), reason)
        )

    def require(self, *columns: str) -> None:
        for column in columns:
            if not self.cells[column]:
                self.reject(column, f"The cell is empty, but {column} is required.")

    def take(self, column: str, parse: Callable[[str], T]) -> T | None:
        """Parse a non-empty cell, recording an error and returning None if invalid."""
        text = self.cells[column]
        if not text:
            return None
        try:
            return parse(text)
        except InvalidInput as exc:
            self.reject(column, str(exc))
            return None


def _read_table(
    path: str | Path, columns: tuple[str, ...], required: tuple[str, ...]
) -> tuple[list[_Row], list[RowError]]:
    """Read a CSV file into rows of stripped cells, checking the header and cell counts.

    The ``required`` columns must be in the header. A header error rejects the whole
    file, so no rows are returned with it. Blank rows are skipped.
    """
    text = _read_text(Path(path))
    reader = csv.reader(io.StringIO(text, newline=""))
    header_errors: list[RowError] = []
    header = [normalize_spaces(name).lower() for name in next(reader, [])]
    # Spreadsheets often export empty trailing columns, whose cells are dropped below.
    while header and not header[-1]:
        header.pop()
    if not header:
        return [], [
            RowError(1, "", "", "The file is empty; export it with its header.")
        ]
    for name in header:
        if name not in columns:
            header_errors.append(
                RowError(
                    1,
                    name,
                    name,
                    f"{name!r} is not a known column; use: {', '.join(columns)}.",
                )
            )
        elif header.count(name) > 1:
            header_errors.append(RowError(1, name, name, f"{name!r} appears twice."))
    for name in required:
        if name not in header:
            header_errors.append(
                RowError(1, name, "", f"The required column {name!r} is missing.")
            )
    if header_errors:
        return [], list(dict.fromkeys(header_errors))

    rows: list[_Row] = []
    errors: list[RowError] = []
    previous_end = 1
    for cells in reader:
        # csv counts the physical lines it has read, so a record that spans several
        # lines (a quoted newline) starts just after the previous record's end.
        line = previous_end + 1
        previous_end = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        while len(cells) > len(header) and not cells[-1].strip():
            cells.pop()
        if len(cells) != len(header):
            errors.append(
                RowError(
                    line,
                    "",
                    "",
                    f"The row has {len(cells)} cells but the header has "
                    f"{len(header)}; quote cells that contain commas.",
                )
            )
            continue

        values = dict.fromkeys(columns, "")
        for name, cell in zip(header, cells, strict=True):
            values[name] = normalize_spaces(cell.replace("\r\n", "\n"))
        row = _Row(line, values)
        rows.append(row)
    return rows, errors


def _read_text(path: Path) -> str:
    """Read a UTF-8 file with or without a byte-order mark."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(
            f"Cannot read {path}: {exc.strerror}; check the path."
        ) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InvalidInput(
            f"{path} is not UTF-8 text (invalid byte on line {line}); export it as "
            "CSV UTF-8."
        ) from None


def _parse_lot(row: _Row) -> LotRow | None:
    """Parse the lot columns of ``row``, or return None after recording its errors."""
    cells = row.cells
    row.require("item_id", "building_ref", "element_category", "description")
    row.take("building_ref", ascii_bytes32)
    row.take("element_category", ascii_bytes32)
    quantity, unit = _parse_quantity_and_unit(row)
    unit_mass_g = _parse_unit_mass(row, quantity)
    grade = row.take("condition_grade", _parse_grade)
    price = row.take("estimated_unit_price_eur", parse_money_cents)
    if price is not None and price < 0:
        row.reject(
            "estimated_unit_price_eur",
            f"{cells['estimated_unit_price_eur']!r} is negative; give a price of zero "
            "or more.",
        )
    available_from = row.take("available_from", parse_date)
    if row.errors or quantity is None or unit is None or unit_mass_g is None:
        return None

    return LotRow(
        line=row.line,
        item_id=cells["item_id"],
        building_ref=cells["building_ref"],
        # Categories are lower-case on chain, so that a search for "Doors" or
        # "doors" finds the same lots.
        category=cells["element_category"].lower(),
        description=cells["description"],
        material=cells["material"],
        dimensions_mm=cells["dimensions_mm"],
        quantity=quantity,
        unit=unit,
        unit_mass_g=unit_mass_g,
        condition_grade=grade,
        location_in_building=cells["location_in_building"],
        dismantling_method=cells["dismantling_method"],
        reuse_potential=cells["reuse_potential"],
        hazard_notes=cells["hazard_notes"],
        estimated_unit_price_cents=price,
        available_from=available_from,
        photo_refs=_split_list(cells["photo_refs"]),
    )


def _parse_quantity_and_unit(row: _Row) -> tuple[int | None, Unit | None]:
    """Parse the quantity in thousandths and its unit.

    When the unit cell is empty, the unit may be written in the quantity cell, as in
    "120 pcs". An invalid unit written there is reported on the quantity column.
    """
    quantity_text = row.cells["quantity"]
    unit_text = row.cells["unit"]
    unit_column = "unit"
    if not unit_text:
        match = _QUANTITY_WITH_UNIT.fullmatch(quantity_text)
        if match is not None:
            quantity_text, unit_text = match["number"], match["unit"]
            unit_column = "quantity"

    unit = None
    if not unit_text:
        row.reject("unit", "The cell is empty, but unit is required.")
    else:
        try:
            unit = parse_unit(unit_text)
        except InvalidInput as exc:
            row.reject(unit_column, str(exc))
    if not quantity_text:
        row.reject("quantity", "The cell is empty, but quantity is required.")
        return None, unit

    try:
        quantity = to_fixed(parse_decimal(quantity_text), QUANTITY_SCALE, "a quantity")
    except InvalidInput as exc:
        row.reject("quantity", str(exc))
        return None, unit
    if quantity <= 0:
        row.reject(
            "quantity",
            f"{quantity_text!r} is not a positive quantity; a lot must contain more "
            "than zero.",
        )
        return None, unit
    if quantity > UINT64_MAX:
        row.reject(
            "quantity",
            f"{quantity_text!r} is {quantity} thousandths of the unit, above the "
            f"registry's limit of {UINT64_MAX} (a 64-bit integer); split the row "
            "into several lots.",
        )
        return None, unit
    return quantity, unit


def _parse_unit_mass(row: _Row, quantity: int | None) -> int | None:
    """Return the unit mass in grams, derived from the total mass when it is missing.

    A stated total mass must agree with quantity × unit mass within ``MASS_TOLERANCE``.
    """
    errors_before = len(row.errors)
    unit_mass_g = row.take("unit_mass_kg", _parse_kilograms_to_grams)
    total_kg = row.take("total_mass_kg", parse_decimal)
    if unit_mass_g is not None and unit_mass_g <= 0:
        row.reject(
            "unit_mass_kg",
            f"{row.cells['unit_mass_kg']!r} is not a positive mass; give the mass "
            "of one unit in kg.",
        )
        return None
    if total_kg is not None and total_kg <= 0:
        row.reject(
            "total_mass_kg",
            f"{row.cells['total_mass_kg']!r} is not a positive mass; give the lot's "
            "mass in kg or leave the cell empty.",
        )
        return None
    if len(row.errors) > errors_before or quantity is None:
        return None

    if unit_mass_g is None:
        if total_kg is None:
            row.reject(
                "unit_mass_kg",
                "Both unit_mass_kg and total_mass_kg are empty; give at least one, "
                "because circularity figures need the mass.",
            )
            return None
        derived = Fraction(total_kg) * GRAMS_PER_KILOGRAM * QUANTITY_SCALE / quantity
        if derived.denominator != 1:
            row.reject(
                "unit_mass_kg",
                "The cell is empty and total_mass_kg divided by the quantity is not a "
                "whole number of grams; fill in unit_mass_kg.",
            )
            return None
        unit_mass_g = derived.numerator
    elif total_kg is not None:
        expected = mass_grams(quantity, unit_mass_g)
        stated = Fraction(total_kg) * GRAMS_PER_KILOGRAM
        if abs(stated - expected) > expected * MASS_TOLERANCE:
            row.reject(
                "total_mass_kg",
                f"{row.cells['total_mass_kg']!r} kg differs by more than "
                f"{MASS_TOLERANCE * 100} % from quantity × unit mass = "
                f"{format_mass_kg(expected)}; correct one of the three cells.",
            )
            return None
    if unit_mass_g > UINT64_MAX:
        row.reject(
            "unit_mass_kg",
            f"The unit mass is {unit_mass_g} g, above the registry's limit of "
            f"{UINT64_MAX} g (a 64-bit integer); check the mass, or register a "
            "smaller unit.",
        )
        return None
    return unit_mass_g


def _parse_kilograms_to_grams(text: str) -> int:
    return to_fixed(
        parse_decimal(text), GRAMS_PER_KILOGRAM, "a mass in kg (whole grams)"
    )


def _parse_grade(text: str) -> str:
    grade = text.upper()
    if grade not in CONDITION_GRADES:
        raise InvalidInput(
            f"{text!r} is not a condition grade; use exactly one of A, B or C, and "
            "split the lot if its elements differ."
        )
    return grade


def _parse_whole_number(text: str) -> int:
    value = parse_decimal(text)
    if value != value.to_integral_value() or value < 0:
        raise InvalidInput(f"{text!r} is not a whole number of zero or more.")
    return int(value)


def _parse_boolean(text: str) -> bool:
    try:
        return _BOOLEANS[text.lower()]
    except KeyError:
        raise InvalidInput(
            f"{text!r} is not yes/no; write yes, no, true or false."
        ) from None


def _parse_latitude(text: str) -> Decimal:
    return _parse_coordinate(text, 90)


def _parse_longitude(text: str) -> Decimal:
    return _parse_coordinate(text, 180)


def _parse_coordinate(text: str, limit: int) -> Decimal:
    value = parse_decimal(text)
    if abs(value) > limit:
        raise InvalidInput(
            f"{text!r} is outside -{limit} to {limit}; give decimal degrees (WGS 84)."
        )
    return value


def _split_list(text: str) -> tuple[str, ...]:
    """Split a ``;``-separated cell, dropping empty items."""
    return tuple(item.strip() for item in text.split(";") if item.strip())


def _parse_building_columns(row: _Row) -> BuildingRow | None:
    """Parse the building columns of ``row``, or return None if any is invalid."""
    errors_before = len(row.errors)
    latitude = row.take("latitude", _parse_latitude)
    longitude = row.take("longitude", _parse_longitude)
    if len(row.errors) > errors_before or not row.cells["building_ref"]:
        return None
    return BuildingRow(
        line=row.line,
        ref=row.cells["building_ref"],
        name=row.cells["building_name"],
        address=row.cells["address"],
        postcode=row.cells["postcode"],
        city=row.cells["city"],
        latitude=latitude,
        longitude=longitude,
    )


_BUILDING_FIELDS = {
    "building_name": "name",
    "address": "address",
    "postcode": "postcode",
    "city": "city",
    "latitude": "latitude",
    "longitude": "longitude",
}


def _add_building(
    buildings: dict[str, BuildingRow], building: BuildingRow, row: _Row
) -> None:
    """Record the first row of each building and reject rows that contradict it."""
    first = buildings.setdefault(building.ref, building)
    for column, field in _BUILDING_FIELDS.items():
        expected = getattr(first, field)
        if getattr(building, field) != expected:
            row.reject(
                column,
                f"{row.cells[column]!r} differs from {_cell_text(expected)!r} on line "
                f"{first.line} for building {building.ref!r}; write the same "
                f"{column} on every row of one building.",
            )


def _enrich_building(
    building: BuildingRow,
    known: dict[str, BuildingRow],
    buildings_path: Path,
    errors: list[RowError],
) -> BuildingRow:
    """Attach the buildings.csv details, recording an error where the files disagree."""
    listed = known.get(building.ref)
    if listed is None:
        errors.append(
            RowError(
                building.line,
                "building_ref",
                building.ref,
                f"{building.ref!r} is not in {buildings_path}; add the building there "
                "or correct the reference.",
            )
        )
        return building
    for column, field in _BUILDING_FIELDS.items():
        ours = getattr(building, field)
        theirs = getattr(listed, field)
        if ours != theirs:
            errors.append(
                RowError(
                    building.line,
                    column,
                    _cell_text(ours),
                    f"{_cell_text(ours)!r} differs from {_cell_text(theirs)!r} on line "
                    f"{listed.line} of {buildings_path}; make the two files agree.",
                )
            )
    return dataclasses.replace(building, details=listed.details)


def _check_duplicates(
    lot: LotRow,
    row: _Row,
    first_by_content: dict[LotRow, LotRow],
    first_line_by_item_id: dict[str, int],
) -> None:
    """Reject a lot that repeats an earlier row's content or item_id.

    Rows are compared after normalisation, so padding or a decimal comma does not
    hide a duplicate. A row that repeats every field but item_id is also rejected,
    because it counts the same elements twice.
    """
    content = dataclasses.replace(lot, line=0, item_id="")
    first = first_by_content.setdefault(content, lot)
    if first is not lot:
        if first.item_id == lot.item_id:
            reason = f"The row is an exact duplicate of line {first.line}; delete it."
        else:
            reason = (
                f"The row repeats every field of line {first.line} (item "
                f"{first.item_id!r}) except item_id, so it would count the same "
                "elements twice; delete it or record what tells the lots apart."
            )
        row.reject("", reason)
        return

    first_line = first_line_by_item_id.setdefault(lot.item_id, lot.line)
    if first_line != lot.line:
        row.reject(
            "item_id",
            f"{lot.item_id!r} is already used on line {first_line} for different "
            "content; give each lot its own item_id.",
        )


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    return str(value)
