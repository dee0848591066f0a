"""The market lock: it serialises the marketplace's check-then-write sequences.

Listings, reservations and transfers with a delivery note read what is available and
then write. Every process on one mirror (API workers and CLI commands) takes this
lock around those steps, so two of them cannot both take the last quantity:

- For a SQLite file, the process takes an exclusive ``flock`` on
  ``<database file>.market.lock`` next to it.
- For PostgreSQL, it takes a session-level advisory lock with the key
  :data:`ADVISORY_LOCK_KEY`, on a pooled connection kept for as long as it holds the
  lock. Advisory locks are scoped to one database, so other databases on the same
  server do not share it.
- For an in-memory SQLite database, no other process can open the database, so the
  thread lock below is enough.

Within a process, a re-entrant thread lock is taken first. A thread that already
holds the market lock can take it again, as a sale does when it checks reservations
and then sends its transfer. The operating system and PostgreSQL release the lock of
a process that ends, so a crashed holder does not leave it taken.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from ledger.db.engine import SQLITE_BUSY_TIMEOUT_MS, is_memory_database
from ledger.errors import ConfigurationError, LockTimeout

logger = logging.getLogger(__name__)

# The same wait as SQLite's busy timeout, so a waiter gives up no sooner than on the
# database itself.
MARKET_LOCK_TIMEOUT_SECONDS = SQLITE_BUSY_TIMEOUT_MS / 1000
# A signed 64-bit key, as pg_advisory_lock takes, derived from a fixed name.
ADVISORY_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"reclaim-ledger market lock").digest()[:8], "big", signed=True
)
# SQLSTATE of lock_not_available, raised when lock_timeout expires.
LOCK_NOT_AVAILABLE = "55P03"
# Retry interval bounds of the non-blocking flock, in seconds.
FIRST_RETRY_SECONDS = 0.001
MAX_RETRY_SECONDS = 0.02


class _TakenLock:
    """A cross-process market lock taken by this process, with its nesting depth."""

    def __init__(self, release: Callable[[], None]) -> None:
        self.release = release
        self.depth = 0


_thread_lock = threading.RLock()
# Cross-process locks this process has taken, by mirror. Only the thread that has
# _thread_lock reads or writes it.
_taken_locks: dict[str, _TakenLock] = {}
# One open file description per lock file and process, because flock locks belong to
# the open file description: a second descriptor from a fork would share the lock.
_descriptors: dict[Path, tuple[int, int]] = {}


@contextmanager
def market_lock(engine: Engine, timeout: float | None = None) -> Iterator[None]:
    """Hold the market lock of the mirror behind ``engine`` for the ``with`` body.

    Raises LockTimeout if another thread or process holds it for longer than
    ``timeout`` seconds (default :data:`MARKET_LOCK_TIMEOUT_SECONDS`).
    """
    timeout = MARKET_LOCK_TIMEOUT_SECONDS if timeout is None else timeout
    deadline = time.monotonic() + timeout
    if not _thread_lock.acquire(timeout=timeout):
        raise LockTimeout(
            f"Timed out after {timeout:g} s waiting for the market lock, which "
            "another thread of this process holds. Try again."
        )
    try:
        key, acquire = _cross_process_lock(engine)
        taken = _taken_locks.get(key)
        if taken is None:
            taken = _TakenLock(acquire(deadline, timeout))
            _taken_locks[key] = taken
        taken.depth += 1
        try:
            yield
        finally:
            taken.depth -= 1
            if taken.depth == 0:
                del _taken_locks[key]
                taken.release()
    finally:
        _thread_lock.release()


def market_lock_file(database: str) -> Path:
    """Return the lock file of a SQLite database file."""
    path = Path(database).resolve()
    return path.with_name(path.name + ".market.lock")


def _cross_process_lock(
    engine: Engine,
) -> tuple[str, Callable[[float, float], Callable[[], None]]]:
    """Return the key of the mirror's lock and the function that acquires it.

    The acquiring function takes the deadline (``time.monotonic``) and the timeout,
    and returns the function that releases the lock.
    """
    url = engine.url
    if url.get_backend_name() == "postgresql":
        display_url = url.render_as_string(hide_password=True)
        return f"postgresql {display_url}", lambda deadline, timeout: _lock_advisory(
            engine, display_url, deadline, timeout
        )
    if is_memory_database(url) or url.database is None:
        return f"memory {id(engine)}", lambda _deadline, _timeout: _no_release
    path = market_lock_file(url.database)
    return f"file {path}", lambda deadline, timeout: _lock_file(path, deadline, timeout)


def _no_release() -> None:
    pass


def _lock_file(path: Path, deadline: float, timeout: float) -> Callable[[], None]:
    """Take an exclusive flock on ``path`` before ``deadline``."""
    descriptor = _descriptor(path)
    delay = FIRST_RETRY_SECONDS
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LockTimeout(
                    f"Timed out after {timeout:g} s waiting for the market lock "
                    f"{path}, which another process on this mirror holds, such as "
                    "an API worker or a CLI command confirming a sale. Try again; "
                    "if it persists, check that the chain node responds, because a "
                    "sale holds the lock until its transaction is mined."
                ) from None
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, MAX_RETRY_SECONDS)
    return lambda: fcntl.flock(descriptor, fcntl.LOCK_UN)


def _descriptor(path: Path) -> int:
    """Return this process's descriptor of the lock file, opening it if needed."""
    opened = _descriptors.get(path)
    if opened is not None and opened[0] == os.getpid():
        return opened[1]
    # A descriptor inherited through fork shares the parent's lock, so it is left
    # alone and the file is opened again.
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot open the market lock file {path}: {exc.strerror}. Let every "
            "user that writes to the mirror create and write files in its folder."
        ) from None
    _descriptors[path] = (os.getpid(), descriptor)
    return descriptor


def _lock_advisory(
    engine: Engine, database: str, deadline: float, timeout: float
) -> Callable[[], None]:
    """Take the advisory lock on a connection of ``engine`` before ``deadline``."""
    connection = engine.connect()
    try:
        remaining_ms = max(round((deadline - time.monotonic()) * 1000), 1)
        # SET LOCAL ends with the transaction, and the session-level lock stays.
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = {remaining_ms}")
        connection.execute(
            text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
        )
        connection.commit()
    except OperationalError as exc:
        connection.close()
        if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        raise LockTimeout(
            f"Timed out after {timeout:g} s waiting for the market lock (advisory "
            f"lock {ADVISORY_LOCK_KEY}) in {database}, which another process on "
            "this mirror holds, such as an API worker or a CLI command confirming "
            "a sale. Try again; pg_locks shows the holder's pid under locktype "
            "'advisory'."
        ) from None
    except BaseException:
        connection.close()
        raise
    return lambda: _unlock_advisory(connection)


def _unlock_advisory(connection: Connection) -> None:
    """Release the advisory lock and return its connection to the pool.

    A failed unlock is logged and not raised, because the guarded write is done by
    then. The connection is discarded instead: closing its session releases the lock
    on the server, and a pooled connection must not keep it.
    """
    try:
        connection.execute(
            text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY}
        )
        connection.commit()
    except Exception as exc:
        logger.warning(
            "Releasing the market lock failed, so its connection is closed: %s", exc
        )
        connection.invalidate()
    finally:
        connection.close()
