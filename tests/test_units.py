"""Tests of units, exact number parsing and the bytes32 text encoding."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from ledger.errors import InvalidInput
from ledger.units import (
    QUANTITY_SCALE,
    Unit,
    ascii_bytes32,
    bytes32_text,
    format_mass_kg,
    format_quantity,
    mass_grams,
    parse_decimal,
    parse_money_cents,
    parse_unit,
    to_fixed,
)


def test_unit_values_match_contract() -> None:
    assert Unit.PIECE.value == 0
    assert Unit.SQUARE_METRE.value == 1
    assert Unit.LINEAR_METRE.value == 2
    assert Unit.CUBIC_METRE.value == 3
    assert Unit.KILOGRAM.value == 4
    assert int(Unit.KILOGRAM) == 4
    assert QUANTITY_SCALE == 1000


def test_unit_symbols() -> None:
    assert [unit.symbol for unit in Unit] == ["pieces", "m²", "m", "m³", "kg"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("m²", Unit.SQUARE_METRE),
        ("m2", Unit.SQUARE_METRE),
        ("M2", Unit.SQUARE_METRE),
        ("m2 ", Unit.SQUARE_METRE),
        ("\u00a0m²\u202f", Unit.SQUARE_METRE),
        ("m", Unit.LINEAR_METRE),
        ("ml", Unit.LINEAR_METRE),
        ("ML", Unit.LINEAR_METRE),
        ("lm", Unit.LINEAR_METRE),
        ("m³", Unit.CUBIC_METRE),
        ("m3", Unit.CUBIC_METRE),
        ("pcs", Unit.PIECE),
        ("pcs.", Unit.PIECE),
        ("PC", Unit.PIECE),
        ("pièces", Unit.PIECE),
        ("Pie\u0300ces", Unit.PIECE),
        ("pieces", Unit.PIECE),
        ("pce", Unit.PIECE),
        ("u", Unit.PIECE),
        ("unités", Unit.PIECE),
        ("kg", Unit.KILOGRAM),
        ("\u2009KG", Unit.KILOGRAM),
    ],
)
def test_parse_unit_spellings(text: str, expected: Unit) -> None:
    assert parse_unit(text) is expected


@pytest.mark.parametrize("text", ["xx", "", "l", "mm", "m 2", "tonnes", "pcs,"])
def test_parse_unit_rejects_unknown(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_unit(text)
    message = str(caught.value)
    assert message.startswith(f"{text!r} is not a known unit; use one of:")
    assert "m² (m², m2)" in message
    assert "ml" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("84.5", Decimal("84.5")),
        ("84,5", Decimal("84.5")),
        ("38", Decimal("38")),
        ("0,40", Decimal("0.40")),
        ("0.350", Decimal("0.350")),
        ("-3,5", Decimal("-3.5")),
        ("+2", Decimal("2")),
        ("1 250,5", Decimal("1250.5")),
        ("1\u00a0250,5", Decimal("1250.5")),
        ("1\u2009250.5", Decimal("1250.5")),
        ("1\u202f250", Decimal("1250")),
        ("12 345 678,125", Decimal("12345678.125")),
        ("1 250,125", Decimal("1250.125")),
        ("1250.125", Decimal("1250.125")),
        ("1,2500", Decimal("1.2500")),
        (" 7 ", Decimal("7")),
    ],
)
def test_parse_decimal_accepts(text: str, expected: Decimal) -> None:
    assert parse_decimal(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "1,250.5",
        "1.250,5",
        "1.250.000",
        "1,2,3",
        "12 50",
        "1 2500",
        ".5",
        "5.",
        "1e3",
        "NaN",
        "Infinity",
        "1 250 ,5",
        "12 pcs",
        "--1",
        "\u0661\u0662",
    ],
)
def test_parse_decimal_rejects_malformed(text: str) -> None:
    with pytest.raises(InvalidInput, match="is not a number"):
        parse_decimal(text)


@pytest.mark.parametrize(
    ("text", "as_thousands", "as_decimal"),
    [
        ("1,250", "1250", "1,25"),
        ("1.250", "1250", "1.25"),
        ("12.125", "12125", "12.1250"),
        ("999,000", "999000", "999"),
        ("-1,500", "1500", "1,5"),
    ],
)
def test_parse_decimal_rejects_ambiguous(
    text: str, as_thousands: str, as_decimal: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_decimal(text)
    message = str(caught.value)
    assert message.startswith(f"{text!r} is ambiguous")
    assert f"{as_thousands!r} for thousands" in message
    assert f"{as_decimal!r} for a decimal" in message


def test_to_fixed_exact() -> None:
    assert to_fixed(Decimal("84.5"), QUANTITY_SCALE, "a quantity") == 84500
    assert to_fixed(Decimal("1250.5"), QUANTITY_SCALE, "a quantity") == 1250500
    assert to_fixed(Decimal("0.001"), QUANTITY_SCALE, "a quantity") == 1
    assert to_fixed(Decimal("12.5000"), QUANTITY_SCALE, "a quantity") == 12500
    assert to_fixed(Decimal("-2"), 100, "an amount") == -200


def test_to_fixed_keeps_large_values_exact() -> None:
    value = Decimal("123456789012345678901234567890.123")
    assert to_fixed(value, QUANTITY_SCALE, "a quantity") == (
        123456789012345678901234567890123
    )


def test_to_fixed_rejects_excess_precision() -> None:
    with pytest.raises(InvalidInput) as caught:
        to_fixed(Decimal("84.5001"), QUANTITY_SCALE, "a quantity")
    assert str(caught.value) == (
        "'84.5001' is more precise than the 3 decimals allowed for a quantity; "
        "round it to 3 decimals."
    )


def test_to_fixed_rejects_non_finite() -> None:
    with pytest.raises(InvalidInput, match="not a finite number"):
        to_fixed(Decimal("NaN"), QUANTITY_SCALE, "a quantity")


def test_to_fixed_requires_power_of_ten() -> None:
    with pytest.raises(ValueError, match="not a power of ten"):
        to_fixed(Decimal("1"), 12, "a quantity")


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("€ 25,00", 2500),
        ("€25", 2500),
        ("25,00 €", 2500),
        ("55,00", 5500),
        ("9.00", 900),
        ("0,4", 40),
        ("38", 3800),
        ("EUR 1 200,50", 120050),
        ("0.00", 0),
    ],
)
def test_parse_money_cents(text: str, cents: int) -> None:
    assert parse_money_cents(text) == cents


@pytest.mark.parametrize("text", ["€", "25,001", "12 €uros", "$ 5"])
def test_parse_money_cents_rejects(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_money_cents(text)


def test_mass_grams_is_exact() -> None:
    assert mass_grams(84500, 15500) == 1309750
    assert mass_grams(1, 1) == Fraction(1, 1000)
    assert mass_grams(1250500, 38000) == 47519000
    assert isinstance(mass_grams(2000, 5), Fraction)


@pytest.mark.parametrize(
    ("milli", "unit", "expected"),
    [
        (84500, Unit.SQUARE_METRE, "84.5 m²"),
        (1250500, Unit.SQUARE_METRE, "1,250.5 m²"),
        (1200000, Unit.PIECE, "1,200 pieces"),
        (1000, Unit.PIECE, "1 piece"),
        (1, Unit.LINEAR_METRE, "0.001 m"),
        (3200, Unit.CUBIC_METRE, "3.2 m³"),
        (0, Unit.KILOGRAM, "0 kg"),
        (1234567890, Unit.KILOGRAM, "1,234,567.89 kg"),
    ],
)
def test_format_quantity(milli: int, unit: Unit, expected: str) -> None:
    assert format_quantity(milli, unit) == expected


@pytest.mark.parametrize(
    ("grams", "expected"),
    [
        (12500, "12.5 kg"),
        (72500000, "72,500 kg"),
        (1, "0.001 kg"),
        (962738400, "962,738.4 kg"),
        (Fraction(3, 2), "0.002 kg"),
        (Fraction(5, 2), "0.002 kg"),
    ],
)
def test_format_mass_kg(grams: int | Fraction, expected: str) -> None:
    assert format_mass_kg(grams) == expected


def test_ascii_bytes32_round_trip() -> None:
    encoded = ascii_bytes32("BLD-LGE-01")
    assert encoded == b"BLD-LGE-01" + bytes(22)
    assert len(encoded) == 32
    assert bytes32_text(encoded) == "BLD-LGE-01"


def test_ascii_bytes32_accepts_32_characters() -> None:
    text = "x" * 32
    assert ascii_bytes32(text) == text.encode("ascii")
    assert bytes32_text(ascii_bytes32(text)) == text


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("École", "printable ASCII"),
        ("tab\there", "printable ASCII"),
        ("nul\0", "printable ASCII"),
        ("x" * 33, "at most 32"),
        ("", "empty"),
    ],
)
def test_ascii_bytes32_rejects(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInput, match=fragment):
        ascii_bytes32(text)


@pytest.mark.parametrize(
    "value",
    [
        bytes(32),
        b"abc",
        b"abc" + bytes(30),
        b"\xc3\x89" + bytes(30),
        b"a\0b" + bytes(29),
    ],
)
def test_bytes32_text_rejects(value: bytes) -> None:
    with pytest.raises(InvalidInput):
        bytes32_text(value)
