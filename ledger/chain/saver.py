"""Save the embedded node's state while it runs, at moments that cost its users little.

anvil's own periodic dump (``--state-interval``) rewrites the whole chain, blocks and
receipts included, on a fixed clock. On a chain of a million events each rewrite
takes seconds of CPU, and every five seconds it leaves little of two cores to the
indexer and the writers. This process runs beside anvil, requests its state with
``anvil_dumpState`` and writes the state file itself:

- only once a block has arrived since the last save;
- as soon as the chain has been quiet for ``QUIET_SECONDS``, which gives followers
  time to read the last block first;
- never sooner after a save than ``MIN_GAP_SECONDS``, nor than the last save's
  duration divided by ``MAX_SHARE``, so that saving takes at most that share of the
  time on a large chain;
- on a chain that never goes quiet, as soon as that gap has passed.

It writes the state next to the state file and renames it over the old one, so a
crash during a save keeps the previous state. It exits when the node's process is
gone; ``anvil.stop`` stops it before the node, which then writes its final state
itself. It uses the standard library alone, so that it starts quickly.

Run it as ``python -m ledger.chain.saver URL STATE_FILE NODE_PID HASH NUMBER``, where
the hash and number are those of the node's newest block when it started.
"""

from __future__ import annotations

import argparse
import binascii
import http.client
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from ledger.chain.processes import process_alive

logger = logging.getLogger("reclaim.saver")

POLL_SECONDS = 0.5
QUIET_SECONDS = 2.0
MIN_GAP_SECONDS = 5.0
MAX_SHARE = 0.1
RPC_TIMEOUT = 10.0
SAVE_TIMEOUT = 600.0
CHUNK_BYTES = 1 << 20
RESULT_KEY = b'"result":"0x'
# Times are in UTC (ISO 8601), because a local time in the hour repeated at the end
# of daylight saving time names two moments.
LOG_FORMAT = "%(asctime)s.%(msecs)03dZ saver: %(message)s"
LOG_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
# Logged after each save of a second or more; the benchmarks read it from the log.
SAVED_MESSAGE = (
    "Saved the chain state up to block %d (%.0f MB) in %.1f s; the next save waits "
    "%.0f s at least."
)


# Set by the SIGTERM handler.
_stop_requested = threading.Event()


class SaveError(Exception):
    """The node did not return a state that could be written."""


@dataclass
class Schedule:
    """When the next save is due, from the head's changes and the last save."""

    first_unsaved: float | None = None
    last_change: float = 0.0
    last_save_end: float = float("-inf")
    last_duration: float = 0.0

    def head_changed(self, now: float) -> None:
        """Record a new head block seen at ``now``."""
        self.last_change = now
        if self.first_unsaved is None:
            self.first_unsaved = now

    def gap(self) -> float:
        """Return the least time between the end of a save and the next one."""
        return max(MIN_GAP_SECONDS, self.last_duration / MAX_SHARE)

    def due(self, now: float) -> bool:
        """Return whether a save should start at ``now``."""
        if self.first_unsaved is None:
            return False
        since_save = now - self.last_save_end
        if since_save < self.gap():
            return False
        return now - self.last_change >= QUIET_SECONDS or (
            now - self.first_unsaved >= self.gap()
        )

    def saved(self, started: float, ended: float, head_moved: bool) -> None:
        """Record a save; ``head_moved`` is whether blocks arrived during it."""
        self.last_save_end = ended
        self.last_duration = ended - started
        self.first_unsaved = started if head_moved else None


def _post(
    url: str, method: str, params: list[object], timeout: float
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    """Send one JSON-RPC request; return the open connection and its reply."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout
    )
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    connection.request(
        "POST",
        parts.path or "/",
        json.dumps(body),
        {"Content-Type": "application/json"},
    )
    return connection, connection.getresponse()


def head_block(url: str) -> tuple[str, int]:
    """Return the hash and number of the node's newest block."""
    connection, reply = _post(
        url, "eth_getBlockByNumber", ["latest", False], RPC_TIMEOUT
    )
    try:
        answer = json.loads(reply.read())
    finally:
        connection.close()
    if "error" in answer:
        raise SaveError(f"eth_getBlockByNumber failed: {answer['error']}")
    try:
        return str(answer["result"]["hash"]), int(answer["result"]["number"], 16)
    except (KeyError, TypeError, ValueError) as exc:
        raise SaveError(
            f"eth_getBlockByNumber returned no valid block: {answer}"
        ) from exc


def record_path(state_file: Path) -> Path:
    """Return the file that describes the last save of ``state_file``."""
    return state_file.with_name(state_file.stem + ".saved.json")


def partial_path(state_file: Path) -> Path:
    """Return the file that a save writes before renaming it over ``state_file``."""
    return state_file.with_name(state_file.name + ".saving")


def read_record(state_file: Path) -> dict[str, object] | None:
    """Return the description of the last save, or None before the first one."""
    try:
        return dict(json.loads(record_path(state_file).read_text()))
    except FileNotFoundError:
        return None


def write_record(
    state_file: Path,
    head: tuple[str, int],
    seconds: float | None,
    saved_at: float | None = None,
) -> None:
    """Describe the save of ``state_file`` up to block ``head`` (hash, number).

    ``seconds`` is the save's duration, None for a state anvil wrote itself.
    """
    record = {
        "block_hash": head[0],
        "block_number": head[1],
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(saved_at)),
        "seconds": None if seconds is None else round(seconds, 3),
    }
    path = record_path(state_file)
    partial = path.with_name(path.name + ".saving")
    partial.write_text(json.dumps(record))
    os.replace(partial, path)


def save_state(url: str, state_file: Path) -> int:
    """Write the node's state to ``state_file``; return the bytes written.

    The reply of ``anvil_dumpState`` is the gzip-compressed state in hexadecimal. It
    is decoded and inflated as it arrives, so that memory does not grow with the
    chain.
    """
    partial = partial_path(state_file)
    connection, reply = _post(url, "anvil_dumpState", [], SAVE_TIMEOUT)
    try:
        pending = _read_to_result(reply)
        written = _inflate_to(reply, pending, partial)
        os.replace(partial, state_file)
    finally:
        connection.close()
        partial.unlink(missing_ok=True)
    directory = os.open(state_file.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return written


def _read_to_result(reply: http.client.HTTPResponse) -> bytes:
    """Read the reply up to the state's first hexadecimal digit; return what follows."""
    head = b""
    while RESULT_KEY not in head:
        chunk = reply.read(CHUNK_BYTES)
        if not chunk:
            raise SaveError(
                f"anvil_dumpState returned no state (HTTP {reply.status}): "
                f"{head[:500].decode(errors='replace')}"
            )
        head += chunk
    return head.split(RESULT_KEY, 1)[1]


def _inflate_to(reply: http.client.HTTPResponse, pending: bytes, path: Path) -> int:
    """Decode and inflate the state in ``pending`` and the rest of ``reply``."""
    # wbits=31: the gzip format, which anvil 1.7.1 uses for its state.
    inflate = zlib.decompressobj(wbits=31)
    written = 0
    with open(path, "wb") as out:
        while True:
            end = pending.find(b'"')
            usable = end if end >= 0 else len(pending) - len(pending) % 2
            try:
                data = inflate.decompress(binascii.a2b_hex(pending[:usable]))
            except (binascii.Error, zlib.error) as exc:
                raise SaveError(
                    f"anvil_dumpState returned a state that is not gzip data in "
                    f"hexadecimal: {exc}"
                ) from exc
            pending = pending[usable:]
            out.write(data)
            written += len(data)
            if end >= 0:
                break
            chunk = reply.read(CHUNK_BYTES)
            if not chunk:
                raise SaveError("anvil_dumpState's reply ended inside the state.")
            pending += chunk
        tail = inflate.flush()
        out.write(tail)
        written += len(tail)
        if not inflate.eof:
            raise SaveError("anvil_dumpState returned a truncated state.")
        out.flush()
        os.fsync(out.fileno())
    return written


def state_block_number(state_file: Path) -> int | None:
    """Return the number of the newest block in ``state_file``, None if unknown.

    anvil 1.7.1 writes the state's block environment first, so the number is read
    from the file's first bytes alone.
    """
    try:
        with open(state_file, "rb") as file:
            start = file.read(200)
    except OSError:
        return None
    match = re.match(rb'\{"block":\{"number":"0x([0-9a-fA-F]+)"', start)
    return None if match is None else int(match.group(1), 16)


def run(url: str, state_file: Path, node_pid: int, saved_head: tuple[str, int]) -> None:
    """Save the state of the node at ``url`` until process ``node_pid`` is gone.

    ``saved_head`` is the hash and number of the node's newest block as the saver
    starts. After each save, ``record_path(state_file)`` names the newest block it
    contains.
    """
    # A saver killed during a save leaves its partial state behind.
    partial_path(state_file).unlink(missing_ok=True)
    schedule = Schedule()
    head = saved_head
    if state_block_number(state_file) == saved_head[1]:
        write_record(state_file, saved_head, None, state_file.stat().st_mtime)
    elif state_file.exists() or saved_head[1] > 0:
        # A block mined between the node's start and the caller's look at its head
        # is in neither the file nor a later save unless this save is due.
        schedule.head_changed(time.monotonic())
    failures = 0
    while process_alive(node_pid) and not _stop_requested.is_set():
        time.sleep(POLL_SECONDS)
        try:
            latest = head_block(url)
            now = time.monotonic()
            if latest[0] != head[0]:
                schedule.head_changed(now)
            head = latest
            if not schedule.due(now):
                continue
            written = save_state(url, state_file)
            ended = time.monotonic()
            write_record(state_file, head, ended - now)
            moved = head_block(url)[0] != head[0]
        except (OSError, http.client.HTTPException, SaveError, ValueError) as exc:
            if process_alive(node_pid):
                failures += 1
                # The first failure of a series is logged, the rest counted.
                if failures == 1:
                    logger.warning("Could not check or save the chain state: %s", exc)
                # Try again after the usual gap rather than at every poll.
                schedule.last_save_end = time.monotonic()
            continue
        if failures:
            logger.info("Saved the chain state after %d failed attempts.", failures)
            failures = 0
        schedule.saved(now, ended, moved)
        if ended - now >= 1.0:
            logger.info(
                SAVED_MESSAGE,
                head[1],
                written / 1e6,
                ended - now,
                schedule.gap(),
            )


def log_formatter() -> logging.Formatter:
    """Return the formatter of the saver's log lines, which gives times in UTC."""
    formatter = logging.Formatter(LOG_FORMAT, LOG_DATE_FORMAT)
    formatter.converter = time.gmtime
    return formatter


def _stop(signum: int, frame: FrameType | None) -> None:
    # Python ignores an exception raised while a finalizer or an import lock's
    # callback runs, so the loop in run() also checks this flag.
    _stop_requested.set()
    # Leaves through the finally blocks, which remove a partial file.
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("state_file", type=Path)
    parser.add_argument("node_pid", type=int)
    parser.add_argument("saved_hash", help="hash of the newest block in the file")
    parser.add_argument("saved_number", type=int, help="that block's number")
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(log_formatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    signal.signal(signal.SIGTERM, _stop)
    saved_head = (args.saved_hash, args.saved_number)
    run(args.url, args.state_file, args.node_pid, saved_head)


if __name__ == "__main__":
    main()
