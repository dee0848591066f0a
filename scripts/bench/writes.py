"""Chain writes: a 10,000-row inventory import, and write rate as the chain grows.

The import goes through ``import_file``, as ``reclaim import`` does: parse and validate
the CSV, store the records, register the lots and index them into SQLite. Its anchor
is the chain part alone: the same lots through ``register_lots`` in batches of 100 on
another fresh chain. The import also times empty blocks before and after it, since
anvil 1.7.1 recomputes the state root over the whole state for every block.

The mining curve sends custody transfers back to back through ``TransactionSender``
and measures transfers per second at several chain heights, reached with
``anvil_mine`` in steps of ``MINE_STEP`` blocks. Each mining mode gets its own fresh
chain. The embedded chain's flags come from ``anvil.chain_flags``; the "before" mode
is the embedded chain as it was started before (prague, every block state kept),
whose blocks cost more as the chain grows, so its curve stops at ``BEFORE_MAX_HEIGHT``.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from eth_utils import keccak
from rich.progress import Progress

from ledger.chain import anvil
from ledger.chain.anvil import DEV_MNEMONIC, free_port
from ledger.chain.connection import connect
from ledger.chain.transactions import TransactionSender, wait_for_receipts
from ledger.context import open_ledger
from ledger.contracts.deployment import deploy, registry_contract
from ledger.importer import parse_inventory
from ledger.importing import import_file
from ledger.records import lot_record, record_hash
from ledger.settings import DEFAULT_ANVIL_STATE_HISTORY, Settings
from ledger.toolchain import PROJECT_ROOT, find_tool
from ledger.units import ascii_bytes32
from ledger.writes import LotInput, register_buildings, register_lots
from scripts.bench.common import Result, local_chain, sender_for

DATA = PROJECT_ROOT / "data" / "wallonia"
TRANSFERS_PER_POINT = 300
TRANSFER_GAS = 150_000
MINE_STEP = 5_000
# Mining the "before" mode's first 10,000 blocks took about 110 s on two shared cores
# and each block costs more as the chain grows, so its curve stops here.
BEFORE_MAX_HEIGHT = 25_000
EMPTY_BLOCKS_TIMED = 50
STATE_FILE_FLAG = "STATE_FILE"


@dataclass(frozen=True)
class MiningMode:
    """A mining mode of anvil, set over JSON-RPC once the registry is deployed.

    ``STATE_FILE`` in ``anvil_flags`` stands for the state file in the chain's folder.
    With ``saver``, the embedded chain's state saver runs beside the node.
    """

    name: str
    anvil_flags: tuple[str, ...]
    automine: bool
    max_height: int | None = None
    saver: bool = False


EMBEDDED_FLAGS = tuple(
    anvil.chain_flags(Path(STATE_FILE_FLAG), DEFAULT_ANVIL_STATE_HISTORY)
)
BEFORE_FLAGS = ("--state", STATE_FILE_FLAG, "--state-interval", "5")
# anvil's own dump every 5 s, which the embedded chain used before its saver.
DUMP_FLAGS = (*EMBEDDED_FLAGS, "--state-interval", "5")
MODES = (
    MiningMode(
        "automine, before (prague, all block states kept)",
        BEFORE_FLAGS,
        True,
        BEFORE_MAX_HEIGHT,
    ),
    MiningMode(
        "automine, cancun, --prune-history 32, state saver (embedded chain)",
        EMBEDDED_FLAGS,
        True,
        saver=True,
    ),
    MiningMode(
        "automine, embedded chain's flags with anvil's 5 s state dump",
        DUMP_FLAGS,
        True,
    ),
    # For comparison only: without saving while it runs, a crash loses every block
    # since anvil started.
    MiningMode(
        "automine, embedded chain's flags without saving while running",
        EMBEDDED_FLAGS,
        True,
    ),
    MiningMode(
        "one block per send batch, embedded chain",
        EMBEDDED_FLAGS,
        False,
        saver=True,
    ),
)


def write_inventory(path: Path, rows: int) -> Path:
    """Write an inventory of ``rows`` lots, cycling over the sample inventory's rows.

    Each copy gets its own item_id and description, so that no row duplicates another.
    """
    with open(DATA / "inventory.csv", newline="") as source:
        reader = csv.DictReader(source)
        fields = list(reader.fieldnames or [])
        samples = list(reader)
    with open(path, "w", newline="") as target:
        writer = csv.DictWriter(target, fieldnames=fields)
        writer.writeheader()
        for n in range(rows):
            row = dict(samples[n % len(samples)])
            copy = n // len(samples)
            row["item_id"] = f"{row['item_id']}-{copy:04d}"
            row["description"] = f"{row['description']} (copy {copy})"
            writer.writerow(row)
    return path


@dataclass(frozen=True)
class ImportFigures:
    """Seconds of the import and of its anchor, and milliseconds per empty block."""

    import_seconds: float
    anchor_seconds: float
    block_ms_fresh: float
    block_ms_after: float


def measure_import(rows: int) -> ImportFigures:
    """Time importing ``rows`` lots, registering them alone, and empty blocks."""
    with tempfile.TemporaryDirectory(
        prefix="reclaim-bench-import-", ignore_cleanup_errors=True
    ) as folder:
        inventory = write_inventory(Path(folder) / "inventory.csv", rows)
        settings = Settings(data_dir=Path(folder) / "data")
        ledger = open_ledger(settings, deploy_if_missing=True, notice=lambda _: None)
        try:
            info = anvil.read_info(settings.data_dir)
            if info is None:
                raise RuntimeError(f"The chain in {settings.data_dir} is not running.")
            url = info.rpc_url
            block_ms_fresh = _empty_block_ms(url)
            started = time.perf_counter()
            result = import_file(
                ledger,
                inventory,
                "ACT-001",
                DATA / "buildings.csv",
                lambda: Progress(disable=True),
            )
            ours = time.perf_counter() - started
            block_ms_after = _empty_block_ms(url)
        finally:
            anvil.stop(settings.data_dir)
        if result.lots_registered != rows:
            raise RuntimeError(f"Imported {result.lots_registered} of {rows} lots.")

        lots = _lot_inputs(inventory)
    with local_chain() as (data_dir, url):
        w3 = connect(url)
        operator = sender_for(w3, 0)
        registry = registry_contract(w3, deploy(operator, data_dir).address)
        buildings = {lot.building_id for lot in lots}
        register_buildings(registry, operator, [(b, keccak(b)) for b in buildings])
        started = time.perf_counter()
        register_lots(registry, operator, operator.address, lots, batch_size=100)
        anchor = time.perf_counter() - started
    return ImportFigures(ours, anchor, block_ms_fresh, block_ms_after)


def _empty_block_ms(url: str) -> float:
    started = time.perf_counter()
    _rpc(url, "anvil_mine", [hex(EMPTY_BLOCKS_TIMED)], timeout=600)
    return (time.perf_counter() - started) * 1000 / EMPTY_BLOCKS_TIMED


def _lot_inputs(path: Path) -> list[LotInput]:
    inventory = parse_inventory(path)
    return [
        LotInput(
            ascii_bytes32(row.building_ref),
            ascii_bytes32(row.category),
            int(row.unit),
            row.quantity,
            row.unit_mass_g,
            record_hash(lot_record(row)),
        )
        for row in inventory.lots
    ]


@contextmanager
def mode_anvil(mode: MiningMode) -> Iterator[tuple[Path, str]]:
    """Start anvil for ``mode``, the state file in a temporary folder."""
    with tempfile.TemporaryDirectory(
        prefix="reclaim-bench-anvil-", ignore_cleanup_errors=True
    ) as folder:
        data_dir = Path(folder)
        port = free_port()
        command = [
            str(find_tool("anvil")),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--accounts",
            "5",
            "--mnemonic",
            DEV_MNEMONIC,
            *(
                str(data_dir / anvil.STATE_FILE) if flag == STATE_FILE_FLAG else flag
                for flag in mode.anvil_flags
            ),
        ]
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        saver = None
        try:
            _wait_for_node(url, process)
            if mode.saver:
                node = anvil.AnvilInfo(process.pid, port, 31337)
                saver = anvil.start_saver(node, data_dir)
            yield data_dir, url
        finally:
            if saver is not None:
                saver.terminate()
                saver.wait(timeout=60)
            # The npm launcher runs the anvil binary as a child: stop the whole group.
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)
            _wait_for_group_exit(process.pid)


def _wait_for_group_exit(group: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise RuntimeError(
        f"anvil (process group {group}) did not stop in {timeout:.0f} s."
    )


def _wait_for_node(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"anvil exited with code {process.returncode}.")
        try:
            _rpc(url, "eth_chainId", [])
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"anvil did not respond at {url} within 30 s.")


def _rpc(url: str, method: str, params: list[object], timeout: float = 30) -> object:
    request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    response = httpx.post(url, json=request, timeout=timeout)
    response.raise_for_status()
    body = response.json()
    if "error" in body:
        raise RuntimeError(f"{method} failed: {body['error']}")
    return body.get("result")


@dataclass(frozen=True)
class CurvePoint:
    """Write rate at one chain height, and how long reaching that height took."""

    height: int
    transfers_per_second: float
    mine_seconds: float


def measure_curve(mode: MiningMode, heights: list[int]) -> list[CurvePoint]:
    """Measure custody transfers per second at each height in ``heights``.

    Heights above the mode's ``max_height`` are skipped.
    """
    if mode.max_height is not None:
        heights = [height for height in heights if height <= mode.max_height]
    with mode_anvil(mode) as (data_dir, url):
        w3 = connect(url)
        operator = sender_for(w3, 0)
        holder = sender_for(w3, 1)
        receiver = sender_for(w3, 2).address
        registry = registry_contract(w3, deploy(operator, data_dir).address)
        building = ascii_bytes32("BLD-BENCH")
        register_buildings(registry, operator, [(building, b"\x01" * 32)])
        lot = LotInput(
            building, ascii_bytes32("masonry"), 0, 10**15, 2300, b"\x02" * 32
        )
        register_lots(registry, operator, holder.address, [lot])
        if not mode.automine:
            _rpc(url, "evm_setAutomine", [False])

        points = []
        for height in heights:
            started = time.perf_counter()
            while (missing := height - w3.eth.block_number) > 0:
                _rpc(url, "anvil_mine", [hex(min(missing, MINE_STEP))], timeout=3600)
            mine_seconds = time.perf_counter() - started
            rate = _transfer_rate(url, holder, registry, receiver, mode.automine)
            points.append(CurvePoint(height, rate, mine_seconds))

        # Every custody event must still be readable from block 0, as the indexer
        # needs after a reset, whatever the mode keeps of old states.
        query = {"address": registry.address, "fromBlock": "0x0", "toBlock": "latest"}
        logs = _rpc(url, "eth_getLogs", [query], timeout=600)
        expected = 2 * TRANSFERS_PER_POINT * len(heights)
        if not isinstance(logs, list) or len(logs) < expected:
            raise RuntimeError(f"{mode.name}: old logs are missing from eth_getLogs.")
    return points


def _transfer_rate(
    url: str,
    holder: TransactionSender,
    registry: object,
    receiver: str,
    automine: bool,
) -> float:
    started = time.perf_counter()
    hashes = [
        holder.send(
            registry.functions.transferCustody(  # type: ignore[attr-defined]
                holder.address, receiver, 1, 1000, 1, bytes(32)
            ),
            gas=TRANSFER_GAS,
        )
        for _ in range(TRANSFERS_PER_POINT)
    ]
    if not automine:
        _rpc(url, "evm_mine", [])
    wait_for_receipts(holder.w3, hashes)
    return TRANSFERS_PER_POINT / (time.perf_counter() - started)


def run(
    rows: int, heights: list[int]
) -> tuple[list[Result], dict[str, list[CurvePoint]]]:
    """Run the import and every mining mode's curve; return rows and the curves."""
    figures = measure_import(rows)
    results = [
        Result(
            f"import {rows:,} inventory rows (chain + SQL)",
            rows / figures.import_seconds,
            rows / figures.anchor_seconds,
            "lots/s",
            f"{rows:,} rows; anchor: register_lots only",
            target_value=rows / 10,
            target_text=f"≤ 10 s (≥ {rows / 10:,.0f} lots/s)",
            note=f"{figures.import_seconds:.1f} s",
        ),
        Result(
            f"empty block after the import vs fresh chain ({rows:,} lots of state)",
            figures.block_ms_after,
            figures.block_ms_fresh,
            "ms/block",
            f"{EMPTY_BLOCKS_TIMED} blocks mined with anvil_mine",
            higher_is_better=False,
        ),
    ]
    curves = {}
    for mode in MODES:
        points = measure_curve(mode, heights)
        curves[mode.name] = points
        if len(points) < 2:
            # The mode's curve stopped before the second height: no ratio to report.
            continue
        results.append(
            Result(
                f"tx/s at {points[-1].height:,} blocks vs fresh: {mode.name}",
                points[-1].transfers_per_second,
                points[0].transfers_per_second,
                "tx/s",
                f"{TRANSFERS_PER_POINT} transfers per point",
                target_ratio=0.5,
                target_text="≥ 0.5× fresh",
                note=f"mining took {sum(p.mine_seconds for p in points):.0f} s",
            )
        )
    return results, curves
