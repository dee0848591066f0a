"""Bulk inserts of append-only rows inside the caller's transaction.

SQLAlchemy's ``insert(model)`` with a list of dicts compiles the statement and runs
every value through the column types' bind processors on each call, which cost more
than the insert itself for a batch of thousands of events. The rows here are tuples
in a fixed column order. On PostgreSQL they go through ``COPY ... FROM STDIN`` and on
SQLite through the driver's ``executemany`` with a statement built once per table.
Both run on the connection of the SQLAlchemy transaction, so the rows commit or roll
back with the rest of the batch.

Values are Python values as the models expect them: ``Uint256`` columns take ints,
which are range-checked and converted here as :class:`ledger.db.types.Uint256` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection, Table

from ledger.db.types import UINT256_DIGITS, UINT256_MAX, Uint256


def insert_rows(
    connection: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Insert ``rows`` (values in the order of ``columns``) into ``table``."""
    if not rows:
        return
    uint_positions = _uint256_positions(table, columns)
    if connection.dialect.name == "postgresql":
        _copy_rows(connection, table, columns, rows, uint_positions)
    else:
        _execute_many(connection, table, columns, rows, uint_positions)


def check_uint256(value: int) -> int:
    """Return ``value`` if it is a uint256, else raise ValueError."""
    if not 0 <= value <= UINT256_MAX:
        raise ValueError(f"{value!r} is outside the uint256 range")
    return value


@cache
def _uint256_positions(table: Table, columns: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(
        index
        for index, name in enumerate(columns)
        if isinstance(table.c[name].type, Uint256)
    )


@cache
def _insert_statement(table: Table, columns: tuple[str, ...]) -> str:
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"


def _execute_many(
    connection: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
    uint_positions: tuple[int, ...],
) -> None:
    if uint_positions:
        rows = _padded(rows, uint_positions)
    connection.exec_driver_sql(_insert_statement(table, columns), rows)  # type: ignore[arg-type]


def _padded(
    rows: Sequence[Sequence[Any]], uint_positions: tuple[int, ...]
) -> list[tuple[Any, ...]]:
    """Return the rows with their uint256 values as SQLite keeps them (see Uint256).

    The rows are turned into columns and back, so that the range check is one ``min``
    and ``max`` per column and the conversion one comprehension.
    """
    by_column: list[Sequence[Any]] = list(zip(*rows, strict=True))
    for index in uint_positions:
        values = by_column[index]
        _check_uint256_column(values)
        by_column[index] = [
            None if value is None else str(value).zfill(UINT256_DIGITS)
            for value in values
        ]
    return list(zip(*by_column, strict=True))


def _check_uint256_column(values: Sequence[int | None]) -> None:
    present = [value for value in values if value is not None]
    if present and (min(present) < 0 or max(present) > UINT256_MAX):
        for value in present:
            check_uint256(value)


def _copy_rows(
    connection: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
    uint_positions: tuple[int, ...],
) -> None:
    if uint_positions:
        by_column = list(zip(*rows, strict=True))
        for index in uint_positions:
            _check_uint256_column(by_column[index])
    driver_connection = connection.connection.driver_connection
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    with (
        driver_connection.cursor() as cursor,  # type: ignore[union-attr]
        cursor.copy(statement) as copy,
    ):
        for row in rows:
            copy.write_row(row)
