"""The embedded chain: an anvil process with its state persisted in the data folder.

anvil writes its whole state to ``anvil-state.json`` when it stops and loads it at
the next start, so lots registered by one run are still there in the next. While it
runs, a saver process beside it (``ledger.chain.saver``) rewrites that file after new
blocks, at moments chosen to keep the cost low on a large chain. The running node is
described by ``anvil.json`` (process ids, port, URL) so that other commands find it.

anvil mines one block per transaction (automine), so a write is mined as soon as it
is sent. Two flags keep the cost of a block from growing with the chain's length:

- ``--hardfork cancun``, the EVM version the contracts are compiled for. From prague
  on, every block stores its parent's hash in the EIP-2935 history contract, whose
  storage grows to 8,191 slots, and anvil 1.7.1 rebuilds that storage trie for every
  block.
- ``--prune-history N`` keeps the states of the last N blocks in memory for calls at
  past blocks. Without it, anvil 1.7.1 keeps a copy of the state for every block
  and writes older copies to disk, which costs more as the chain grows.

NOTE: anvil 1.7.1 still recomputes the state root over the whole state for every
block, so each block costs more as lots accumulate (about 110 ms per block with
10,000 lots, measured by ``python -m scripts.bench --only writes``).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from ledger.chain import saver
from ledger.chain.processes import group_members, process_alive
from ledger.errors import ChainError, ChainNotRunning
from ledger.settings import DEFAULT_ANVIL_STATE_HISTORY
from ledger.toolchain import find_tool

logger = logging.getLogger(__name__)

STATE_FILE = "anvil-state.json"
INFO_FILE = "anvil.json"
# The last port, kept after a stop so that a restart serves the same URL to running
# services and followers.
PORT_FILE = "anvil.port"
LOG_FILE = "anvil.log"
HARDFORK = "cancun"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0

# The mnemonic anvil derives its funded development accounts from. These keys are
# public: they only ever sign on the embedded local chain.
DEV_MNEMONIC = "test test test test test test test test test test test junk"


@dataclass(frozen=True)
class AnvilInfo:
    """A running embedded node."""

    pid: int
    port: int
    chain_id: int
    # The process saving the state while the node runs; None when it runs without.
    saver_pid: int | None = None

    @property
    def rpc_url(self) -> str:
        """The node's JSON-RPC URL on the loopback interface."""
        return f"http://127.0.0.1:{self.port}"


def _previous_port(data_dir: Path) -> int | None:
    """Return the port of the last run if no process listens on it now."""
    try:
        port = int((data_dir / PORT_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Connections of the stopped node may linger in TIME_WAIT; they do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return None
    return port


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that no process listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_info(data_dir: Path) -> AnvilInfo | None:
    """Return the embedded node recorded in ``data_dir`` if its process still runs."""
    path = data_dir / INFO_FILE
    try:
        info = AnvilInfo(**json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as exc:
        raise ChainError(
            f"{path} is not a valid node description ({exc}); delete it and start "
            "the chain again."
        ) from exc

    if not process_alive(info.pid):
        path.unlink(missing_ok=True)
        return None
    return info


def start(
    data_dir: Path,
    chain_id: int,
    accounts: int,
    port: int | None = None,
    state_history: int = DEFAULT_ANVIL_STATE_HISTORY,
    save_while_running: bool = True,
) -> AnvilInfo:
    """Start anvil in the background, loading the saved state, unless it already runs.

    ``state_history`` is the number of recent blocks whose state anvil keeps for
    calls at past blocks. Without ``save_while_running``, no saver starts and anvil
    saves its state only when it stops, so a crash loses every block since it started.
    """
    running = read_info(data_dir)
    if running is not None:
        return running

    data_dir.mkdir(parents=True, exist_ok=True)
    state_file = data_dir / STATE_FILE
    previous = _previous_path(state_file)
    if previous.exists() and not _ends_json_object(state_file):
        _restore_previous(state_file, "is missing or incomplete")
    port = port or _previous_port(data_dir) or free_port()
    (data_dir / PORT_FILE).write_text(str(port))
    command = [
        str(find_tool("anvil")),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--chain-id",
        str(chain_id),
        "--accounts",
        str(accounts),
        "--mnemonic",
        DEV_MNEMONIC,
        *chain_flags(state_file, state_history),
    ]
    try:
        process, info = _launch(command, data_dir, port, chain_id)
    except ChainError as exc:
        if not previous.exists():
            raise
        # A state cut short may still end in a brace, so anvil's own parse is the
        # real check of the file that the last stop wrote.
        _restore_previous(state_file, f"was rejected by anvil ({exc})")
        process, info = _launch(command, data_dir, port, chain_id)
    # anvil loaded the state, so the copy kept by the last stop is no longer needed.
    previous.unlink(missing_ok=True)
    if save_while_running:
        try:
            saver_process = start_saver(info, data_dir)
        except BaseException:
            # No anvil.json names the node yet, so no later stop() could find it.
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=STOP_TIMEOUT)
            raise
        info = AnvilInfo(info.pid, info.port, info.chain_id, saver_process.pid)
    (data_dir / INFO_FILE).write_text(json.dumps(asdict(info)))
    logger.info("Started anvil (pid %d) at %s", info.pid, info.rpc_url)
    return info


def start_saver(info: AnvilInfo, data_dir: Path) -> subprocess.Popen[bytes]:
    """Start the state saver of the node ``info`` in a session of its own.

    The saver receives the node's newest block and saves soon unless the state file
    ends at that block, so that blocks mined before its first look are saved too.
    """
    head_hash, head_number = saver.head_block(info.rpc_url)
    command = [
        sys.executable,
        "-m",
        "ledger.chain.saver",
        info.rpc_url,
        str(data_dir / STATE_FILE),
        str(info.pid),
        head_hash,
        str(head_number),
    ]
    with open(data_dir / LOG_FILE, "ab") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def saver_running(info: AnvilInfo) -> bool:
    """Return whether the state saver of the node ``info`` runs."""
    return info.saver_pid is not None and process_alive(info.saver_pid)


def chain_flags(state_file: Path, state_history: int) -> list[str]:
    """Return the anvil flags that load and save the state and set the history."""
    return [
        "--state",
        str(state_file),
        "--hardfork",
        HARDFORK,
        "--prune-history",
        str(state_history),
    ]


def stop(data_dir: Path) -> bool:
    """Stop the embedded node so that it saves its state; False if none was running."""
    info = read_info(data_dir)
    if info is None:
        return False

    # The saver stops first, so that its last save cannot replace the state anvil
    # writes when it stops.
    if info.saver_pid is not None and process_alive(info.saver_pid):
        os.kill(info.saver_pid, signal.SIGTERM)
        _wait_for_exit([info.saver_pid], info.saver_pid, "the chain's state saver")
    # anvil's own save at exit makes the saver's description of its last save stale.
    saver.record_path(data_dir / STATE_FILE).unlink(missing_ok=True)
    # A saver killed during a save leaves its partial state behind.
    saver.partial_path(data_dir / STATE_FILE).unlink(missing_ok=True)
    # anvil 1.7.1 rewrites its state file in place when it stops. The last complete
    # state moves aside first, so that a kill during that write cannot destroy it,
    # and stays there until the next start has loaded the new file.
    state_file = data_dir / STATE_FILE
    if state_file.exists():
        os.replace(state_file, _previous_path(state_file))
    # The npm launcher forwards SIGTERM to the anvil binary and exits at once, while
    # the binary may still be writing its state: wait for the whole process group,
    # which start() made its own session.
    group = group_members(info.pid) or [info.pid]
    os.kill(info.pid, signal.SIGTERM)
    _wait_for_exit(group, info.pid, "anvil")
    (data_dir / INFO_FILE).unlink(missing_ok=True)
    logger.info("Stopped anvil (pid %d); state saved in %s", info.pid, data_dir)
    return True


def _launch(
    command: list[str], data_dir: Path, port: int, chain_id: int
) -> tuple[subprocess.Popen[bytes], AnvilInfo]:
    """Run ``command`` in a session of its own and wait until the node responds."""
    with open(data_dir / LOG_FILE, "ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    info = AnvilInfo(pid=process.pid, port=port, chain_id=chain_id)
    _wait_until_ready(info, process, data_dir / LOG_FILE)
    return process, info


def _previous_path(state_file: Path) -> Path:
    return state_file.with_name(state_file.name + ".previous")


def _restore_previous(state_file: Path, problem: str) -> None:
    """Put the state that the last stop kept aside back in place of ``state_file``.

    ``stop`` keeps it until the next start has loaded the state anvil wrote. The
    blocks mined after it was saved are lost.
    """
    if state_file.exists():
        os.replace(state_file, state_file.with_name(state_file.name + ".invalid"))
    os.replace(_previous_path(state_file), state_file)
    logger.warning(
        "The chain state %s %s; restored the state saved before the last stop. Blocks "
        "mined after that save are lost, and the rejected file is kept as %s.invalid.",
        state_file,
        problem,
        state_file.name,
    )


def _ends_json_object(path: Path) -> bool:
    """Return whether ``path`` exists and its last non-blank byte closes an object."""
    try:
        with open(path, "rb") as file:
            file.seek(max(0, file.seek(0, os.SEEK_END) - 64))
            tail = file.read().rstrip()
    except OSError:
        return False
    return tail.endswith(b"}")


def _wait_for_exit(pids: list[int], pid: int, name: str) -> None:
    """Wait until the processes ``pids`` have exited; ``pid`` and ``name`` name them."""
    deadline = time.monotonic() + STOP_TIMEOUT
    while any(process_alive(member) for member in pids):
        if time.monotonic() > deadline:
            raise ChainError(
                f"{name} (pid {pid}) did not stop within {STOP_TIMEOUT:.0f} s; "
                f"stop it with 'kill {pid}'."
            )
        time.sleep(0.05)


def _wait_until_ready(
    info: AnvilInfo, process: subprocess.Popen[bytes], log_path: Path
) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    request = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    while time.monotonic() < deadline:
        if process.poll() is not None:
            # The npm launcher of anvil 1.7.1 exited with code 0 when the binary
            # rejected its state file, so the binary's error line names the cause.
            raise ChainError(
                f"anvil exited at start: {_last_error(log_path)}. See {log_path}."
            )
        try:
            httpx.post(info.rpc_url, json=request, timeout=1.0).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.05)

    process.terminate()
    raise ChainNotRunning(
        f"anvil did not respond at {info.rpc_url} within {START_TIMEOUT:.0f} s; see "
        "anvil.log in the data folder."
    )


def _last_error(log_path: Path) -> str:
    """Return the last line of the log that starts with ``error:``, or a fallback."""
    try:
        with open(log_path, "rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - 8192))
            lines = log.read().decode(errors="replace").splitlines()
    except OSError as exc:
        return f"its log could not be read ({exc})"
    errors = [line.strip() for line in lines if line.startswith("error:")]
    return errors[-1] if errors else "no error line in its log"
