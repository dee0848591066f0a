"""Column types that keep chain values exact in every database."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

UINT256_DIGITS = 78
UINT256_MAX = 2**256 - 1


class Uint256(TypeDecorator[int]):
    """An unsigned 256-bit integer, exact in PostgreSQL and SQLite.

    PostgreSQL stores NUMERIC(78, 0). SQLite would turn a large NUMERIC into a lossy
    REAL, so there the value is stored as 78 zero-padded decimal digits, which keeps
    equality and ordering exact.
    """

    impl = String(UINT256_DIGITS)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(UINT256_DIGITS, 0))
        return dialect.type_descriptor(String(UINT256_DIGITS))

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not 0 <= value <= UINT256_MAX:
            raise ValueError(f"{value!r} is outside the uint256 range")
        if dialect.name == "postgresql":
            return Decimal(value)
        return str(value).zfill(UINT256_DIGITS)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return int(value)
