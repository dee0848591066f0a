"""Units, exact numbers and on-chain encodings shared by the importer and the registry.

The registry stores quantities as integers in thousandths of a lot's unit and unit
masses as integer grams, so everything here works with ``Decimal``, ``Fraction`` and
``int`` and never with ``float``.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from decimal import Decimal
from fractions import Fraction

from ledger.errors import InvalidInput

QUANTITY_SCALE = 1000
"""Quantities are counted in thousandths of the lot's unit: 84.5 m² is 84500."""

GRAMS_PER_KILOGRAM = 1000
CENTS_PER_EURO = 100

# Spreadsheets export these as digit-group separators or as padding.
_SPACE_CHARACTERS = str.maketrans({"\u00a0": " ", "\u2009": " ", "\u202f": " "})

# An integer part written either plainly or in groups of three digits separated by
# spaces, then at most one decimal mark (comma or point) with digits on both sides.
_NUMBER = re.compile(
    r"(?P<sign>[+-]?)(?P<integer>\d{1,3}(?: \d{3})+|\d+)(?:[.,](?P<fraction>\d+))?",
    re.ASCII,
)

# An amount with an optional euro sign or "EUR" before or after it.
_EURO_AMOUNT = re.compile(r"(?:€|eur)?\s*(?P<amount>.*?)\s*(?:€|eur)?", re.IGNORECASE)


class Unit(enum.IntEnum):
    """Unit in which a lot's quantity is counted, valued as the contract's ``Unit``."""

    PIECE = 0
    SQUARE_METRE = 1
    LINEAR_METRE = 2
    CUBIC_METRE = 3
    KILOGRAM = 4

    @property
    def symbol(self) -> str:
        """The unit as displayed after a quantity, such as ``m²``."""
        return _SYMBOLS[self]


_SYMBOLS = {
    Unit.PIECE: "pieces",
    Unit.SQUARE_METRE: "m²",
    Unit.LINEAR_METRE: "m",
    Unit.CUBIC_METRE: "m³",
    Unit.KILOGRAM: "kg",
}

# Accepted spellings, lower-case. "ml" is the French "mètre linéaire" (linear metres),
# never millilitres.
_SPELLINGS = {
    Unit.PIECE: ("pieces", "pcs", "pcs.", "pc", "pièces", "pce", "u", "unités"),
    Unit.SQUARE_METRE: ("m²", "m2"),
    Unit.LINEAR_METRE: ("m", "ml", "lm"),
    Unit.CUBIC_METRE: ("m³", "m3"),
    Unit.KILOGRAM: ("kg",),
}
_UNIT_BY_SPELLING = {
    spelling: unit for unit, spellings in _SPELLINGS.items() for spelling in spellings
}


def normalize_spaces(text: str) -> str:
    """Return ``text`` in NFC with no-break and thin spaces as plain spaces, trimmed."""
    return unicodedata.normalize("NFC", text).translate(_SPACE_CHARACTERS).strip()


def parse_unit(text: str) -> Unit:
    """Parse a unit as written in inventories, such as ``m2``, ``ml`` or ``pièces``."""
    key = normalize_spaces(text).lower()
    try:
        return _UNIT_BY_SPELLING[key]
    except KeyError:
        choices = "; ".join(
            f"{unit.symbol} ({', '.join(spellings)})"
            for unit, spellings in _SPELLINGS.items()
        )
        raise InvalidInput(
            f"{text!r} is not a known unit; use one of: {choices}."
        ) from None


def parse_decimal(text: str) -> Decimal:
    """Parse a number written with a decimal comma or point into an exact ``Decimal``.

    Digit groups may be separated by spaces, no-break spaces, thin spaces or narrow
    no-break spaces ("1 250,5" is 1250.5). A comma or a point is always the decimal
    mark, so "1,250.5" and "1.250,5" are rejected as mixed conventions. A lone mark
    followed by exactly three digits after one to three leading digits ("1,250",
    "12.125") is rejected as ambiguous, because spreadsheets in English separate
    thousands with a comma and in Dutch or German with a point. Exponents, NaN,
    infinities and non-ASCII digits are rejected.
    """
    cleaned = normalize_spaces(text)
    match = _NUMBER.fullmatch(cleaned)
    if match is None:
        raise InvalidInput(
            f"{text!r} is not a number; write digits with at most one decimal comma "
            "or point, and separate thousands with spaces only, as in '1 250,5'."
        )

    integer = match["integer"]
    fraction = match["fraction"]
    if (
        fraction is not None
        and len(fraction) == 3
        and " " not in integer
        and len(integer) <= 3
        and not integer.startswith("0")
    ):
        mark = cleaned[-4]
        as_thousands = integer + fraction
        as_decimal = _shortest_decimal(integer, mark, fraction)
        raise InvalidInput(
            f"{text!r} is ambiguous because {mark!r} may separate thousands; write "
            f"{as_thousands!r} for thousands or {as_decimal!r} for a decimal."
        )

    digits = integer.replace(" ", "")
    if fraction is not None:
        digits = f"{digits}.{fraction}"
    return Decimal(match["sign"] + digits)


def to_fixed(value: Decimal, scale: int, what: str) -> int:
    """Convert ``value`` to an integer count of ``1/scale``, rejecting any rounding.

    ``scale`` is a power of ten. ``what`` names the value in the error message, with
    its article, such as ``"a quantity"``.
    """
    decimals = len(str(scale)) - 1
    if scale != 10**decimals:
        raise ValueError(f"Scale {scale!r} is not a power of ten.")
    if not value.is_finite():
        raise InvalidInput(f"{str(value)!r} is not a finite number.")

    scaled = Fraction(value) * scale
    if scaled.denominator != 1:
        raise InvalidInput(
            f"{str(value)!r} is more precise than the {decimals} decimals allowed "
            f"for {what}; round it to {decimals} decimals."
        )
    return scaled.numerator


def _shortest_decimal(integer: str, mark: str, fraction: str) -> str:
    """Write a number with a three-digit fraction so that it reads only as a decimal."""
    significant = fraction.rstrip("0")
    if not significant:
        return integer
    if len(significant) < 3:
        return f"{integer}{mark}{significant}"
    return f"{integer}{mark}{fraction}0"


def parse_money_cents(text: str) -> int:
    """Parse euros, such as ``€ 25,00``, ``55,00`` or ``9.00``, into integer cents."""
    match = _EURO_AMOUNT.fullmatch(normalize_spaces(text))
    amount = match["amount"] if match is not None else text
    value = parse_decimal(amount)
    return to_fixed(value, CENTS_PER_EURO, "an amount in euros")


def mass_grams(quantity_milli: int, unit_mass_g: int) -> Fraction:
    """Return the exact mass in grams of ``quantity_milli`` thousandths of a unit.

    The product of thousandths and grams per unit is in milligrams, so the result is
    exact and its denominator divides 1000. Sum these fractions and round only for
    display: rounding each lot to whole grams would drift over many lots.
    """
    return Fraction(quantity_milli * unit_mass_g, QUANTITY_SCALE)


def format_quantity(milli: int, unit: Unit) -> str:
    """Format thousandths of ``unit`` for display, such as ``1,250.5 m²``."""
    if unit is Unit.PIECE and milli == QUANTITY_SCALE:
        return "1 piece"
    return f"{_format_thousandths(milli)} {unit.symbol}"


def format_mass_kg(grams: int | Fraction) -> str:
    """Format a mass given in grams as kilograms, such as ``72,500 kg`` or ``12.5 kg``.

    A fraction of a gram is rounded half to even because the display stops at grams.
    """
    return f"{_format_thousandths(round(grams))} kg"


def _format_thousandths(milli: int) -> str:
    """Format thousandths with comma digit groups and no trailing zeros."""
    sign = "-" if milli < 0 else ""
    whole, thousandths = divmod(abs(milli), 1000)
    fraction = f"{thousandths:03d}".rstrip("0")
    if fraction:
        return f"{sign}{whole:,}.{fraction}"
    return f"{sign}{whole:,}"


def ascii_bytes32(text: str) -> bytes:
    """Encode ``text`` as the contract's left-aligned ASCII ``bytes32``, zero-padded."""
    if not text:
        raise InvalidInput("An empty text cannot be stored as bytes32; give a value.")
    if not all(" " <= character <= "~" for character in text):
        raise InvalidInput(
            f"{text!r} contains characters other than printable ASCII; use only "
            "letters A-Z, digits and ASCII punctuation."
        )
    raw = text.encode("ascii")
    if len(raw) > 32:
        raise InvalidInput(
            f"{text!r} is {len(raw)} characters long; shorten it to at most 32."
        )
    return raw.ljust(32, b"\0")


def bytes32_text(value: bytes) -> str:
    """Decode a left-aligned ASCII ``bytes32`` written by :func:`ascii_bytes32`."""
    if len(value) != 32:
        raise InvalidInput(f"{value!r} is {len(value)} bytes long, not 32.")
    raw = value.rstrip(b"\0")
    if not raw or not all(32 <= byte <= 126 for byte in raw):
        raise InvalidInput(
            f"0x{value.hex()} is not left-aligned printable ASCII padded with zeros."
        )
    return raw.decode("ascii")
