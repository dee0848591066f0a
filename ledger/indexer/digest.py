"""A digest of a mirror's canonical content, to compare two mirrors in one line.

The digest covers what the chain determines: the checkpoint (chain, contract, block and
its hash), every raw event, every derived row and every holding. Tables come in a fixed
order, and each row as canonical JSON with integers written as decimal strings. It
leaves out what depends on how the mirror was built (surrogate row ids, the recent block
headers kept for reorganisation checks, off-chain records), so two mirrors of the same
chain at the same block have the same digest whatever their database, batch sizes or
history of crashes and reorganisations.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Table, select

from ledger.db.models import Holding, RawEvent
from ledger.errors import IndexerError
from ledger.indexer.store import ROW_EVENTS, read_checkpoint

ROWS_PER_FETCH = 10_000


@dataclass(frozen=True)
class MirrorDigest:
    """The digest of one mirror and the position it describes."""

    sha256: str
    chain_id: int
    contract_address: str
    block_number: int
    rows: int

    def line(self) -> str:
        """Return the one-line form printed by the CLI."""
        return (
            f"sha256:{self.sha256} chain {self.chain_id} registry "
            f"{self.contract_address} block {self.block_number} ({self.rows} rows)"
        )


def mirror_digest(engine: Engine) -> MirrorDigest:
    """Compute the digest of the mirror in ``engine``."""
    digest = hashlib.sha256()
    rows = 0
    with engine.connect() as connection:
        checkpoint = read_checkpoint(connection)
        if checkpoint is None:
            raise IndexerError(
                "The database contains no mirror yet; run 'reclaim index' first."
            )
        _feed(
            digest,
            "checkpoint",
            [
                checkpoint.chain_id,
                checkpoint.genesis_hash,
                checkpoint.contract_address,
                checkpoint.last_block,
                checkpoint.last_block_hash,
            ],
        )
        tables: list[Table] = [RawEvent.__table__]  # type: ignore[list-item]
        tables += [model.__table__ for model, _ in ROW_EVENTS.values()]
        tables.append(Holding.__table__)  # type: ignore[arg-type]
        for table in tables:
            columns = _content_columns(table)
            order = _order_columns(table, columns)
            result = connection.execution_options(yield_per=ROWS_PER_FETCH).execute(
                select(*(table.c[name] for name in columns)).order_by(
                    *(table.c[name] for name in order)
                )
            )
            _feed(digest, "table", [table.name, *columns])
            for row in result:
                _feed(digest, table.name, list(row))
                rows += 1
    return MirrorDigest(
        sha256=digest.hexdigest(),
        chain_id=checkpoint.chain_id,
        contract_address=checkpoint.contract_address,
        block_number=checkpoint.last_block,
        rows=rows,
    )


def _content_columns(table: Table) -> list[str]:
    """Return the columns that carry content: all but an autoincrement surrogate id."""
    return sorted(
        column.name
        for column in table.columns
        if not (column.name == "id" and column.primary_key)
    )


def _order_columns(table: Table, columns: list[str]) -> list[str]:
    """Return a total order: chain position first, then every content column."""
    first = [name for name in ("block_number", "log_index") if name in columns]
    first = first or sorted(column.name for column in table.primary_key.columns)
    return first + [name for name in columns if name not in first]


def _feed(digest: Any, kind: str, values: list[Any]) -> None:
    line = json.dumps(
        [kind, *(_canonical(value) for value in values)],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    digest.update(line.encode("utf-8"))
    digest.update(b"\n")


def _canonical(value: Any) -> Any:
    """Return ``value`` as JSON keeps it alike on every database: text, bool or null."""
    if isinstance(value, bool) or value is None:
        return value
    return str(value)
