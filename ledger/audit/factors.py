"""Carbon factors: kg CO2e per kg of material, read from a CSV file with named sources.

The file has the columns of ``data/wallonia/carbon_factors.csv``: ``material``,
``factor_kgco2e_per_kg``, ``factor_type`` (``new_product`` or ``reuse_process``),
``source`` and ``source_entry``. A user replaces it with product EPD values through the
``RECLAIM_CARBON_FACTORS`` setting or the ``--factors`` flag.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ledger.errors import InvalidInput
from ledger.toolchain import PROJECT_ROOT

DEFAULT_FACTORS_PATH = PROJECT_ROOT / "data" / "wallonia" / "carbon_factors.csv"
NEW_PRODUCT = "new_product"
REUSE_PROCESS = "reuse_process"
REQUIRED_COLUMNS = ("material", "factor_kgco2e_per_kg", "factor_type", "source")

# Reuse footprint to use for a material when the file has no ``reuse_process`` row
# under the material's own name. Each target is a ``reuse_process`` row of the sample
# file; materials missing here get no reuse footprint and are flagged in the audit.
DEFAULT_REUSE_PROCESS = {
    "clay_brick": "reclaimed_clay_brick_processing",
    "steel_section": "reused_steel_section_processing",
    "timber_softwood": "reused_wood_desnz",
    "timber_hardwood": "reused_wood_desnz",
    "door_wood": "reused_wood_desnz",
}


@dataclass(frozen=True)
class CarbonFactor:
    """One factor in kg CO2e per kg, with the row and source it came from."""

    key: str
    kg_co2e_per_kg: Decimal
    factor_type: str
    source: str
    source_entry: str

    def describe(self) -> str:
        """Return the factor with its key and source, for reports."""
        entry = f" ({self.source_entry})" if self.source_entry else ""
        return f"{self.key} {self.kg_co2e_per_kg} kg CO2e/kg: {self.source}{entry}"


@dataclass(frozen=True)
class CarbonFactors:
    """The factors of one file, keyed by material and factor type."""

    path: Path
    sha256: str
    factors: dict[tuple[str, str], CarbonFactor]

    def new_product(self, material: str) -> CarbonFactor | None:
        """Return the factor of the new product that ``material`` replaces."""
        return self.factors.get((material, NEW_PRODUCT))

    def reuse_process(self, material: str) -> CarbonFactor | None:
        """Return the reuse footprint of ``material``: its own row or the default."""
        own = self.factors.get((material, REUSE_PROCESS))
        if own is not None:
            return own
        default = DEFAULT_REUSE_PROCESS.get(material)
        if default is None:
            return None
        return self.factors.get((default, REUSE_PROCESS))


def load_factors(path: Path | None = None) -> CarbonFactors:
    """Read a carbon factor file; raise InvalidInput naming the bad line."""
    path = path or DEFAULT_FACTORS_PATH
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(
            f"Cannot read the carbon factor file {path}: {exc.strerror}."
        ) from exc
    reader = csv.DictReader(content.decode("utf-8-sig").splitlines())
    missing = [
        name for name in REQUIRED_COLUMNS if name not in (reader.fieldnames or [])
    ]
    if missing:
        raise InvalidInput(
            f"{path} lacks the columns {', '.join(missing)}; it needs "
            f"{', '.join(REQUIRED_COLUMNS)}."
        )

    factors: dict[tuple[str, str], CarbonFactor] = {}
    for line, row in enumerate(reader, start=2):
        factor = _parse_row(path, line, row)
        key = (factor.key, factor.factor_type)
        if key in factors:
            raise InvalidInput(
                f"{path}, line {line}: {factor.key} has a second {factor.factor_type} "
                "factor; keep one."
            )
        factors[key] = factor
    return CarbonFactors(path, hashlib.sha256(content).hexdigest(), factors)


def _parse_row(path: Path, line: int, row: dict[str, str]) -> CarbonFactor:
    material = (row.get("material") or "").strip()
    factor_type = (row.get("factor_type") or "").strip()
    text = (row.get("factor_kgco2e_per_kg") or "").strip()
    if not material:
        raise InvalidInput(f"{path}, line {line}: the material is empty.")
    if factor_type not in (NEW_PRODUCT, REUSE_PROCESS):
        raise InvalidInput(
            f"{path}, line {line}: factor type {factor_type!r} is invalid; use "
            f"{NEW_PRODUCT} or {REUSE_PROCESS}."
        )
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidInput(
            f"{path}, line {line}: factor {text!r} is not a number in kg CO2e per kg."
        ) from None
    if not value.is_finite() or value < 0:
        raise InvalidInput(
            f"{path}, line {line}: factor {text!r} must be zero or positive."
        )
    return CarbonFactor(
        key=material,
        kg_co2e_per_kg=value,
        factor_type=factor_type,
        source=(row.get("source") or "").strip(),
        source_entry=(row.get("source_entry") or "").strip(),
    )
