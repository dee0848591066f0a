"""Running the indexer from the CLI: progress display, reset and rebuild."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.progress import Progress
from sqlalchemy import Engine, delete

from ledger.context import Ledger
from ledger.db.engine import open_database
from ledger.db.models import Block, Holding, RawEvent, SyncState
from ledger.errors import IndexerError
from ledger.indexer.digest import MirrorDigest, mirror_digest
from ledger.indexer.store import ROW_EVENTS, read_checkpoint


@dataclass(frozen=True)
class Rebuild:
    """The outcome of ``reindex``: the new mirror and the current one's digest."""

    database_url: str
    digest: MirrorDigest
    current: MirrorDigest | None


def run_index(
    ledger: Ledger,
    progress_bar: Callable[[], Progress],
    engine: Engine | None = None,
    until: int | None = None,
) -> int:
    """Index to the chain's head (or ``until``) and return the last block.

    A progress bar shows the blocks left, unless the mirror is already at the head.
    """
    indexer = ledger.indexer(engine)
    checkpoint = indexer.prepare()
    head = indexer.safe_head() if until is None else min(indexer.safe_head(), until)
    if head <= checkpoint.last_block:
        # The mirror is at the head, so a bar would only show an empty "0/0".
        return indexer.run_to_head(until=until, bulk_backfill=True)
    with progress_bar() as progress:
        task = progress.add_task("Indexing blocks", total=head - checkpoint.last_block)
        last = indexer.run_to_head(
            lambda batch, _head: progress.update(
                task, advance=batch.to_block - batch.from_block + 1
            ),
            until=until,
            bulk_backfill=True,
        )
    return last


def reset_mirror(engine: Engine) -> None:
    """Delete every chain-derived row and the checkpoint; off-chain records stay."""
    derived = [model for model, _ in reversed(list(ROW_EVENTS.values()))]
    with engine.begin() as connection:
        for model in (Holding, *derived, RawEvent, Block, SyncState):
            connection.execute(delete(model))


def rebuild_mirror(
    ledger: Ledger,
    progress_bar: Callable[[], Progress],
    into_url: str | None = None,
) -> Rebuild:
    """Index the chain from the deployment block into a new, empty database.

    The new mirror stops at the current mirror's block when there is one, so that the
    two digests describe the same chain position and can be compared.
    """
    if into_url is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = ledger.settings.data_dir / f"mirror-rebuilt-{stamp}.sqlite3"
        into_url = f"sqlite:///{path}"
    engine = open_database(into_url)
    with engine.connect() as connection:
        if read_checkpoint(connection) is not None:
            raise IndexerError(
                f"{into_url} already holds a mirror; give an empty database, or use "
                "'reclaim reindex --replace' to rebuild the current one in place."
            )
    with ledger.engine.connect() as connection:
        current_checkpoint = read_checkpoint(connection)
    until = current_checkpoint.last_block if current_checkpoint else None
    run_index(ledger, progress_bar, engine=engine, until=until)
    current = mirror_digest(ledger.engine) if current_checkpoint else None
    return Rebuild(into_url, mirror_digest(engine), current)
