"""Running the indexer from the CLI: progress display and mirror reset."""

from __future__ import annotations

from collections.abc import Callable

from rich.progress import Progress
from sqlalchemy import Engine, delete

from ledger.context import Ledger
from ledger.db.models import (
    Block,
    Building,
    Claim,
    ClaimAudit,
    Disposal,
    Holding,
    Inspection,
    InspectionRevocation,
    Installation,
    Lot,
    LotDerivation,
    RawEvent,
    SyncState,
    Transfer,
)


def run_index(ledger: Ledger, progress_bar: Callable[[], Progress]) -> int:
    """Index to the chain's safe head with a progress bar; return the last block."""
    indexer = ledger.indexer()
    checkpoint = indexer.prepare()
    head = indexer.safe_head()
    with progress_bar() as progress:
        task = progress.add_task(
            "Indexing blocks",
            total=max(head - checkpoint.last_block, 0),
        )
        last = indexer.run_to_head(
            lambda batch, _head: progress.update(
                task, advance=batch.to_block - batch.from_block + 1
            )
        )
    return last


def reset_mirror(engine: Engine) -> None:
    """Delete every chain-derived row and the checkpoint; off-chain records stay."""
    with engine.begin() as connection:
        for model in (
            ClaimAudit,
            Claim,
            InspectionRevocation,
            Inspection,
            LotDerivation,
            Disposal,
            Installation,
            Holding,
            Transfer,
            Lot,
            Building,
            RawEvent,
            Block,
            SyncState,
        ):
            connection.execute(delete(model))
