"""The embedded chain's state saver: real anvil processes, killed as a crash would."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from ledger.chain import anvil, saver
from ledger.chain.processes import group_members, process_alive
from ledger.errors import ChainError

WAIT_SECONDS = 30.0


def _rpc(url: str, method: str, params: list[object]) -> object:
    reply = httpx.post(
        url,
        json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
        # anvil_mine of 30,000 blocks takes about 10 s.
        timeout=WAIT_SECONDS,
    ).json()
    return reply["result"]


def _latest(url: str) -> dict[str, str]:
    block = _rpc(url, "eth_getBlockByNumber", ["latest", False])
    assert isinstance(block, dict)
    return block


def _saved_number(state_file: Path) -> int | None:
    """Return the number of the newest block in the state file itself."""
    try:
        return int(json.loads(state_file.read_text())["block"]["number"], 16)
    except (FileNotFoundError, ValueError):
        return None


def _recorded_number(state_file: Path) -> object:
    record = saver.read_record(state_file)
    return None if record is None else record["block_number"]


def _wait_for(condition: Callable[[], bool], failure: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{failure} within {WAIT_SECONDS:.0f} s")
        time.sleep(0.1)


def test_saved_blocks_survive_crash(chain: tuple[Path, str]) -> None:
    data_dir, url = chain
    _rpc(url, "anvil_mine", ["0x5"])
    head = _latest(url)
    state_file = data_dir / anvil.STATE_FILE
    # anvil itself writes the state only when it stops, so only the saver can make
    # the file reach the head while the node runs.
    _wait_for(
        lambda: _recorded_number(state_file) == int(head["number"], 16),
        "the saver did not save the new head",
    )
    assert _saved_number(state_file) == int(head["number"], 16)

    info = anvil.read_info(data_dir)
    assert info is not None and info.saver_pid is not None
    # SIGKILL to the node's group (the launcher and the anvil binary) and the saver.
    os.killpg(info.pid, signal.SIGKILL)
    os.kill(info.saver_pid, signal.SIGKILL)
    _wait_for(
        lambda: not any(process_alive(pid) for pid in group_members(info.pid)),
        "the killed processes did not exit",
    )

    # Removed, so that only the restarted saver can write it again.
    saver.record_path(state_file).unlink()

    restarted = anvil.start(data_dir, chain_id=31337, accounts=5)
    assert restarted.pid != info.pid
    assert _latest(restarted.rpc_url)["hash"] == head["hash"]
    older = _rpc(restarted.rpc_url, "eth_getBlockByNumber", ["0x2", False])
    assert isinstance(older, dict) and older["number"] == "0x2"
    # The restarted saver describes the state the node loaded.
    _wait_for(
        lambda: _recorded_number(state_file) == int(head["number"], 16),
        "the restarted saver did not describe the loaded state",
    )


def test_stop_ends_saver_first(chain: tuple[Path, str]) -> None:
    data_dir, url = chain
    info = anvil.read_info(data_dir)
    assert info is not None and info.saver_pid is not None
    assert process_alive(info.saver_pid)
    _rpc(url, "anvil_mine", ["0x3"])
    head = _latest(url)

    assert anvil.stop(data_dir)

    assert not process_alive(info.saver_pid)
    assert not list(data_dir.glob("*.saving"))
    assert _saved_number(data_dir / anvil.STATE_FILE) == int(head["number"], 16)


def test_saver_exits_without_node(chain: tuple[Path, str]) -> None:
    data_dir, _ = chain
    info = anvil.read_info(data_dir)
    assert info is not None and info.saver_pid is not None
    saver_pid = info.saver_pid
    os.killpg(info.pid, signal.SIGKILL)

    _wait_for(lambda: not process_alive(saver_pid), "the saver outlived its node")


def test_schedule_backs_off_after_slow_save() -> None:
    schedule = saver.Schedule()
    assert not schedule.due(100.0)

    schedule.head_changed(10.0)
    assert not schedule.due(10.0 + saver.QUIET_SECONDS - 0.1)
    assert schedule.due(10.0 + saver.QUIET_SECONDS)

    # A save of 3 s: the next waits ten times that after it ends.
    schedule.saved(started=12.0, ended=15.0, head_moved=False)
    assert schedule.first_unsaved is None
    assert schedule.gap() == pytest.approx(3.0 / saver.MAX_SHARE)
    schedule.head_changed(16.0)
    assert not schedule.due(16.0 + saver.QUIET_SECONDS)
    assert schedule.due(15.0 + schedule.gap())


def test_schedule_saves_busy_chain_after_gap() -> None:
    schedule = saver.Schedule()
    # A block every half second: the chain is never quiet.
    for tick in range(40):
        now = 10.0 + tick / 2
        schedule.head_changed(now)
        if schedule.due(now):
            break
    assert now == pytest.approx(10.0 + saver.MIN_GAP_SECONDS)

    # Blocks that arrived during the save stay unsaved from the save's start.
    schedule.saved(started=now, ended=now + 0.1, head_moved=True)
    assert schedule.first_unsaved == now
    assert not schedule.due(now + 1.0)
    assert schedule.due(now + 0.1 + saver.MIN_GAP_SECONDS)


class _FaultyNode(BaseHTTPRequestHandler):
    """An HTTP handler that returns the class's ``reply`` bytes to every request."""

    reply = b""

    def do_POST(self) -> None:  # noqa: N802 (the http.server hook's name)
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.reply)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def faulty_node() -> Iterator[tuple[str, type[_FaultyNode]]]:
    handler = type("Handler", (_FaultyNode,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


# A real anvil returns anvil_dumpState's whole state, so these replies come from a
# scripted server: a node without the method, and a reply cut inside the state.
@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (
            b'{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no method"}}',
            "anvil_dumpState returned no state",
        ),
        (b'{"jsonrpc":"2.0","id":1,"result":"0x1f8b0800', "ended inside the state"),
        (b'{"jsonrpc":"2.0","id":1,"result":"0x7b7d"}', "not gzip data"),
        (b'{"jsonrpc":"2.0","id":1,"result":"0x1f8b"}', "truncated state"),
    ],
)
def test_failed_save_keeps_the_previous_state(
    tmp_path: Path,
    faulty_node: tuple[str, type[_FaultyNode]],
    reply: bytes,
    message: str,
) -> None:
    url, handler = faulty_node
    handler.reply = reply
    state_file = tmp_path / anvil.STATE_FILE
    state_file.write_text('{"block": {"number": "0x7"}}')

    with pytest.raises(saver.SaveError, match=message):
        saver.save_state(url, state_file)

    assert _saved_number(state_file) == 7
    assert not list(tmp_path.glob("*.saving"))


def test_chain_status_warns_without_saver(chain: tuple[Path, str]) -> None:
    data_dir, _ = chain
    info = anvil.read_info(data_dir)
    assert info is not None and info.saver_pid is not None
    environment = {**os.environ, "RECLAIM_DATA_DIR": str(data_dir), "COLUMNS": "500"}
    command = [sys.executable, "-m", "ledger", "chain", "status"]

    running = subprocess.run(command, env=environment, capture_output=True, text=True)
    assert running.returncode == 0, running.stderr
    assert f"State saver running (pid {info.saver_pid})" in running.stdout
    assert "nothing saved since the chain started" in running.stdout

    os.kill(info.saver_pid, signal.SIGKILL)
    _wait_for(lambda: not anvil.saver_running(info), "the killed saver did not exit")
    stopped = subprocess.run(command, env=environment, capture_output=True, text=True)
    assert stopped.returncode == 0, stopped.stderr
    assert "the state saver is not running" in stopped.stderr


def test_failed_saver_start_stops_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A missing interpreter is the simplest real failure to start the saver.
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))
    data_dir = tmp_path / "chain"

    with pytest.raises(FileNotFoundError):
        anvil.start(data_dir, chain_id=31337, accounts=5)

    assert anvil.read_info(data_dir) is None
    port = int((data_dir / anvil.PORT_FILE).read_text())
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Binding fails while the node still listens on the port.
        _wait_for(lambda: _can_bind(sock, port), "the node still listens")


def _can_bind(sock: socket.socket, port: int) -> bool:
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        return False
    return True


@pytest.mark.parametrize(
    "reply",
    [
        b'{"jsonrpc":"2.0","id":1,"result":null}',
        b'{"jsonrpc":"2.0","id":1,"result":{"hash":"0x01","number":"zz"}}',
        b'{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"busy"}}',
    ],
)
def test_head_block_rejects_invalid_reply(
    faulty_node: tuple[str, type[_FaultyNode]], reply: bytes
) -> None:
    url, handler = faulty_node
    handler.reply = reply

    with pytest.raises(saver.SaveError, match="eth_getBlockByNumber"):
        saver.head_block(url)


def _mine_and_wait_for_save(url: str, state_file: Path, blocks: int) -> None:
    """Mine ``blocks`` blocks and wait until the saver has saved them all."""
    _rpc(url, "anvil_mine", [hex(blocks)])
    _wait_for(
        lambda: _recorded_number(state_file) == blocks,
        "the saver did not save the mined blocks",
    )


# A stop signal can reach the saver's handler while a finalizer or an import lock's
# callback runs, where Python ignores the exception it raises. This saver gets its
# signal inside a finalizer.
_SWALLOWED_STOP = """
import os, signal, sys
from pathlib import Path
from ledger.chain import saver

signal.signal(signal.SIGTERM, saver._stop)

class Finalized:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)

Finalized()
url, state_file, node_pid = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
saver.run(url, state_file, node_pid, saver.head_block(url))
"""


def test_saver_exits_after_swallowed_stop(chain: tuple[Path, str]) -> None:
    data_dir, url = chain
    info = anvil.read_info(data_dir)
    assert info is not None
    state_file = data_dir / "swallowed-stop-state.json"
    command = [sys.executable, "-c", _SWALLOWED_STOP, url, str(state_file)]
    started = subprocess.Popen([*command, str(info.pid)], stderr=subprocess.PIPE)
    try:
        _, errors = started.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        started.kill()
        started.wait()
        pytest.fail("the saver ran on after a stop signal raised in a finalizer")

    # The signal reached the handler inside the finalizer, where Python ignored it.
    assert b"Exception ignored" in errors
    assert started.returncode == 0


def test_killed_saver_leaves_no_partial_state(chain: tuple[Path, str]) -> None:
    data_dir, url = chain
    state_file = data_dir / anvil.STATE_FILE
    partial = state_file.with_name(state_file.name + ".saving")
    info = anvil.read_info(data_dir)
    assert info is not None and info.saver_pid is not None
    # 30,000 blocks make a state of about 45 MB, whose save takes most of a second.
    _mine_and_wait_for_save(url, state_file, 30_000)
    _rpc(url, "anvil_mine", ["0x1"])
    _wait_for(partial.exists, "the saver did not start a save")
    os.kill(info.saver_pid, signal.SIGKILL)
    _wait_for(lambda: not anvil.saver_running(info), "the killed saver did not exit")
    assert partial.exists()

    assert anvil.stop(data_dir)

    assert not partial.exists()
    assert _saved_number(state_file) == 30_001


def test_kill_during_exit_save_keeps_state(chain: tuple[Path, str]) -> None:
    data_dir, url = chain
    state_file = data_dir / anvil.STATE_FILE
    info = anvil.read_info(data_dir)
    assert info is not None
    _mine_and_wait_for_save(url, state_file, 30_000)
    saved_size = state_file.stat().st_size
    group = group_members(info.pid)

    # anvil.stop in a thread, and a SIGKILL while anvil rewrites its state file.
    stopping = threading.Thread(target=anvil.stop, args=(data_dir,))
    stopping.start()
    # The write of 45 MB took under 0.2 s in trials, so poll without sleeping.
    deadline = time.monotonic() + WAIT_SECONDS
    while (size := _file_size(state_file)) is None or size >= saved_size:
        assert time.monotonic() < deadline, "anvil did not start to write its state"
    for pid in group:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    stopping.join()

    restarted = anvil.start(data_dir, chain_id=31337, accounts=5)
    assert int(_latest(restarted.rpc_url)["number"], 16) == 30_000
    assert not (data_dir / f"{anvil.STATE_FILE}.previous").exists()


def _file_size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


@pytest.mark.parametrize(
    "partial",
    [
        '{"block":{"number":"0x',
        # Ends in a brace, so only anvil's own parse finds it incomplete.
        '{"block":{"number":"0x1"},"accounts":{}',
    ],
)
def test_start_restores_state_of_killed_stop(
    chain: tuple[Path, str], partial: str
) -> None:
    data_dir, url = chain
    state_file = data_dir / anvil.STATE_FILE
    previous = data_dir / f"{anvil.STATE_FILE}.previous"
    _rpc(url, "anvil_mine", ["0x4"])
    head = _latest(url)
    assert anvil.stop(data_dir)
    # What a stop killed during anvil's write leaves: the complete state set aside
    # and the start of a new file.
    os.replace(state_file, previous)
    state_file.write_text(partial)

    restarted = anvil.start(data_dir, chain_id=31337, accounts=5)

    assert _latest(restarted.rpc_url)["hash"] == head["hash"]
    assert not previous.exists()
    assert (data_dir / f"{anvil.STATE_FILE}.invalid").read_text() == partial


def test_start_names_invalid_state_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "chain data"
    data_dir.mkdir()
    state_file = data_dir / anvil.STATE_FILE
    state_file.write_text('{"block": {"number": "0x')

    with pytest.raises(ChainError) as raised:
        anvil.start(data_dir, chain_id=31337, accounts=5)

    message = str(raised.value)
    assert "failed to parse json file" in message
    assert str(state_file) in message
    assert "code 0" not in message
    assert anvil.read_info(data_dir) is None


def test_block_before_saver_start_is_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A writer that reaches the node before start() starts the saver mines a block
    # that the saver's starting head already includes.
    start_saver = anvil.start_saver

    def start_after_a_block(
        info: anvil.AnvilInfo, data_dir: Path
    ) -> subprocess.Popen[bytes]:
        _rpc(info.rpc_url, "anvil_mine", ["0x1"])
        return start_saver(info, data_dir)

    monkeypatch.setattr(anvil, "start_saver", start_after_a_block)
    data_dir = tmp_path / "chain"
    state_file = data_dir / anvil.STATE_FILE
    try:
        for expected in (1, 2):
            anvil.start(data_dir, chain_id=31337, accounts=5)
            _wait_for(
                lambda: _recorded_number(state_file) == expected,  # noqa: B023
                f"the saver did not save block {expected}",
            )
            assert _saved_number(state_file) == expected
            # Stopped by SIGKILL, so that only the saver's save is on disk.
            info = anvil.read_info(data_dir)
            assert info is not None and info.saver_pid is not None
            os.killpg(info.pid, signal.SIGKILL)
            _wait_for(
                lambda: not anvil.saver_running(info),  # noqa: B023
                "the saver outlived its node",
            )
    finally:
        anvil.stop(data_dir)
