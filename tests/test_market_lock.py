"""The market lock across OS processes, on a SQLite file and on PostgreSQL.

Child processes are started with the spawn method, as uvicorn starts its workers, so
each opens its own engine and lock as a separate worker or CLI command would.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from queue import Queue
from typing import Any

import pytest
from conftest import Market, build_market
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.db.engine import make_engine, open_database
from ledger.db.models import Listing, Reservation
from ledger.errors import ConfigurationError, Conflict, LockTimeout
from ledger.locks import market_lock, market_lock_file
from ledger.market import ListingInput, create_listing, get_listing, reserve
from ledger.organisations import get_organisation

DOORS = 5  # LGE-005: 118 doors, held by ACT-001 after the import
BUYERS = ("ACT-004", "ACT-005", "ACT-008", "ACT-009")
# Seconds each child spends between reading the availability and writing, so that
# without the lock every child would read the same availability.
CHECK_DELAY = 0.3
SPAWN = multiprocessing.get_context("spawn")


def race_in_child(
    database_url: str,
    action: str,
    target: int,
    actor_id: str,
    quantity: str,
    barrier: Barrier,
    results: Queue[tuple[str, str]],
) -> None:
    """Reserve from listing ``target``, or list lot ``target``, with a slow check.

    The child waits until every child is ready, so all of them check at once.
    """
    import ledger.market

    slowed = "_listing_view" if action == "reserve" else "_remaining_of_open_listings"
    check = getattr(ledger.market, slowed)

    def slow_check(*args: Any, **kwargs: Any) -> Any:
        result = check(*args, **kwargs)
        time.sleep(CHECK_DELAY)
        return result

    setattr(ledger.market, slowed, slow_check)
    engine = make_engine(database_url)
    actor = get_organisation(engine, actor_id)
    barrier.wait(timeout=120)
    try:
        if action == "reserve":
            reserve(engine, actor, target, quantity, hours=1)
        else:
            create_listing(engine, actor, target, _listing_input(quantity))
    except Conflict as exc:
        results.put((actor_id, f"conflict: {exc}"))
    except Exception as exc:  # reported to the parent, which fails the test
        results.put((actor_id, f"error: {exc!r}"))
    else:
        results.put((actor_id, "done"))


def _race(
    database_url: str, action: str, target: int, actors: list[str], quantity: str
) -> list[str]:
    """Run one child per actor at once; return their outcomes."""
    barrier = SPAWN.Barrier(len(actors))
    results = SPAWN.Queue()
    children = [
        SPAWN.Process(
            target=race_in_child,
            args=(database_url, action, target, actor, quantity, barrier, results),
            daemon=True,
        )
        for actor in actors
    ]
    for child in children:
        child.start()
    outcomes = [results.get(timeout=180)[1] for _ in children]
    for child in children:
        child.join(timeout=60)
    return outcomes


def _listing_input(quantity: str) -> ListingInput:
    return ListingInput(quantity=quantity, price_per_unit="40", location_name="Yard")


def hold_lock_in_child(database_url: str, locked: Event, release: Event) -> None:
    """Hold the market lock until ``release`` is set, or for at most two minutes."""
    engine = make_engine(database_url)
    with market_lock(engine):
        locked.set()
        release.wait(timeout=120)


@pytest.fixture
def lock_database(database_url: str) -> str:
    """A migrated mirror, so that PostgreSQL has the database's tables too."""
    open_database(database_url).dispose()
    return database_url


def _start_holder(database_url: str) -> tuple[Any, Event]:
    locked, release = SPAWN.Event(), SPAWN.Event()
    holder = SPAWN.Process(
        target=hold_lock_in_child, args=(database_url, locked, release), daemon=True
    )
    holder.start()
    assert locked.wait(timeout=120), "the child did not take the market lock"
    return holder, release


def test_processes_reserve_last_quantity_once(
    chain: tuple[Path, str], database_url: str
) -> None:
    data_dir, _ = chain
    market: Market = build_market(data_dir, database_url)
    engine = market.ledger.engine
    seller = get_organisation(engine, "ACT-001")
    listing = create_listing(engine, seller, DOORS, _listing_input("12"))
    # 7 of the 12 doors are taken, so one more reservation of 5 takes the rest.
    reserve(engine, get_organisation(engine, "ACT-004"), listing.id, "7", hours=1)

    outcomes = _race(database_url, "reserve", listing.id, list(BUYERS), "5")

    conflicts = [text for text in outcomes if text.startswith("conflict")]
    assert outcomes.count("done") == 1, outcomes
    assert len(conflicts) == len(BUYERS) - 1, outcomes
    assert all("0 is available" in text for text in conflicts), outcomes
    view = get_listing(engine, listing.id)
    assert view.reserved == 12_000
    assert view.available == 0
    with Session(engine) as session:
        total = session.scalar(
            select(func.sum(Reservation.quantity)).where(
                Reservation.listing_id == listing.id
            )
        )
    assert total == 12_000


def test_processes_list_last_quantity_once(
    chain: tuple[Path, str], database_url: str
) -> None:
    # Listing locks no row, so only the market lock keeps two processes of one
    # seller from listing the same free quantity, on PostgreSQL too.
    data_dir, _ = chain
    market: Market = build_market(data_dir, database_url)
    engine = market.ledger.engine
    seller = get_organisation(engine, "ACT-001")
    create_listing(engine, seller, DOORS, _listing_input("110"))

    outcomes = _race(database_url, "list", DOORS, ["ACT-001"] * 3, "8")

    conflicts = [text for text in outcomes if text.startswith("conflict")]
    assert outcomes.count("done") == 1, outcomes
    assert len(conflicts) == 2, outcomes
    assert all("at most 0 can be listed" in text for text in conflicts), outcomes
    with Session(engine) as session:
        total = session.scalar(
            select(func.sum(Listing.quantity)).where(Listing.lot_id == DOORS)
        )
    assert total == 118_000


def test_lock_times_out_while_process_holds_it(lock_database: str) -> None:
    engine = make_engine(lock_database)
    holder, release = _start_holder(lock_database)
    try:
        with pytest.raises(LockTimeout) as raised, market_lock(engine, timeout=0.5):
            pass
    finally:
        release.set()
        holder.join(timeout=60)

    message = str(raised.value)
    assert "Timed out after 0.5 s waiting for the market lock" in message
    assert "Try again" in message
    if engine.dialect.name == "sqlite":
        assert str(market_lock_file(engine.url.database or "")) in message
    else:
        assert "advisory lock" in message
        assert str(engine.url.database) in message
    # Released by the holder, so it can be taken again at once.
    with market_lock(engine, timeout=10):
        pass


def test_lock_freed_when_holder_dies(lock_database: str) -> None:
    engine = make_engine(lock_database)
    holder, _release = _start_holder(lock_database)
    holder.kill()
    holder.join(timeout=60)
    with market_lock(engine, timeout=10):
        pass


def test_lock_reentrant_in_one_thread(lock_database: str) -> None:
    engine = make_engine(lock_database)
    with market_lock(engine), market_lock(engine, timeout=1):
        pass
    # A second engine on the same mirror shares the lock this process has taken.
    other = make_engine(lock_database)
    with market_lock(engine), market_lock(other, timeout=1):
        pass


def test_lock_times_out_for_other_thread(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'mirror.sqlite3'}")
    errors: Queue[Exception] = Queue()

    def wait_for_lock() -> None:
        try:
            with market_lock(engine, timeout=0.2):
                pass
        except LockTimeout as exc:
            errors.put(exc)

    with market_lock(engine):
        waiter = threading.Thread(target=wait_for_lock)
        waiter.start()
        waiter.join(timeout=30)

    assert "another thread of this process holds" in str(errors.get_nowait())


def test_memory_database_needs_no_lock_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for url in ("sqlite://", "sqlite:///:memory:"):
        with market_lock(make_engine(url)):
            pass
    assert list(tmp_path.iterdir()) == []


def test_lock_file_unopenable(tmp_path: Path) -> None:
    database = tmp_path / "not-a-folder" / "mirror.sqlite3"
    engine = make_engine(f"sqlite:///{database}")
    # A file where the folder was makes the lock file impossible to create.
    database.parent.rmdir()
    database.parent.write_text("")
    with pytest.raises(ConfigurationError) as raised, market_lock(engine):
        pass
    message = str(raised.value)
    assert f"Cannot open the market lock file {database}.market.lock" in message
    assert "Not a directory" in message
