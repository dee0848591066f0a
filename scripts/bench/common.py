"""Shared pieces of the benchmarks: result rows, the table, chains, contracts."""

from __future__ import annotations

import json
import resource
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import solcx
from rich.console import Console
from rich.table import Table
from web3 import Web3
from web3.contract import Contract

from ledger.chain import anvil
from ledger.chain.accounts import dev_account
from ledger.chain.transactions import TransactionSender, wait_for_receipts
from ledger.contracts.compile import (
    COMPILER_SETTINGS,
    REMAPPINGS,
    SOLC_VERSION,
    solc_binary,
    source_hash,
)
from ledger.toolchain import PROJECT_ROOT

BENCH_SOURCES = ("contracts/bench/GasAnchors.sol",)
BUILD_DIR = PROJECT_ROOT / "build" / "bench"
# Funded development accounts of the benchmark chains.
CHAIN_ACCOUNTS = 10
DEPLOY_GAS = 8_000_000


@dataclass(frozen=True)
class Result:
    """One row of the benchmark table.

    ``higher_is_better`` decides how ``target_ratio`` or ``target_value`` is read:
    ours/anchor at least (or at most) ``target_ratio``, ours at least (or at most)
    ``target_value``. A row with neither has no target and prints "—".
    """

    name: str
    ours: float | None
    anchor: float | None
    unit: str
    scale: str
    higher_is_better: bool = True
    target_ratio: float | None = None
    target_value: float | None = None
    target_text: str = "—"
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """Ours divided by the anchor, or None when either is missing."""
        if self.ours is None or not self.anchor:
            return None
        return self.ours / self.anchor

    @property
    def met(self) -> bool | None:
        """Whether every given target is met; None without a target or a figure."""
        if self.ours is None or (
            self.target_ratio is None and self.target_value is None
        ):
            return None
        checks = []
        if self.target_ratio is not None:
            if self.ratio is None:
                return None
            checks.append(_within(self.ratio, self.target_ratio, self.higher_is_better))
        if self.target_value is not None:
            checks.append(_within(self.ours, self.target_value, self.higher_is_better))
        return all(checks)


def _within(value: float, bound: float, higher_is_better: bool) -> bool:
    return value >= bound if higher_is_better else value <= bound


def print_table(results: list[Result], console: Console | None = None) -> None:
    """Print all results as one table."""
    table = Table(title="Reclaim Ledger benchmarks", show_lines=False)
    for column in ("benchmark", "ours", "anchor", "ratio", "target", "met", "scale"):
        table.add_column(
            column, justify="right" if column in ("ours", "anchor", "ratio") else "left"
        )
    for row in results:
        met = {True: "yes", False: "NO", None: "—"}[row.met]
        table.add_row(
            row.name,
            _figure(row.ours, row.unit),
            _figure(row.anchor, row.unit),
            f"{row.ratio:.2f}" if row.ratio is not None else "—",
            row.target_text,
            met,
            row.scale + (f"; {row.note}" if row.note else ""),
        )
    (console or Console(width=250)).print(table)


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if value >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:,.2f} {unit}"


def peak_rss_mb() -> float:
    """Return this process's peak resident set size so far, in MB.

    Reads VmHWM from /proc/self/status, which starts afresh at exec. Linux keeps
    ``ru_maxrss`` across fork and exec, so a spawned child would report its
    parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def local_chain(accounts: int = CHAIN_ACCOUNTS) -> Iterator[tuple[Path, str]]:
    """Start the embedded anvil in a temporary data folder; yield the folder and URL.

    The folder is removed on a best-effort basis: ``anvil.stop`` returns when the npm
    launcher exits, and the anvil binary may still be writing its state file then.
    """
    with tempfile.TemporaryDirectory(
        prefix="reclaim-bench-", ignore_cleanup_errors=True
    ) as folder:
        data_dir = Path(folder)
        info = anvil.start(data_dir, chain_id=31337, accounts=accounts)
        try:
            yield data_dir, info.rpc_url
        finally:
            anvil.stop(data_dir)


def bench_contracts() -> dict[str, dict[str, Any]]:
    """Compile the anchor contracts, caching the output in build/bench."""
    sources = _collect(BENCH_SOURCES)
    digest = source_hash(sources)
    cache = BUILD_DIR / f"contracts-{digest[2:18]}.json"
    if cache.exists():
        return json.loads(cache.read_text())

    standard_input = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": COMPILER_SETTINGS,
    }
    output = solcx.compile_standard(standard_input, solc_binary=solc_binary())
    contracts = {
        name: {
            "abi": compiled["abi"],
            "bytecode": "0x" + compiled["evm"]["bytecode"]["object"],
        }
        for unit in output["contracts"].values()
        for name, compiled in unit.items()
    }
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({**contracts, "_compiler": {"version": SOLC_VERSION}}))
    return contracts


def deploy_contract(
    sender: TransactionSender, artifact: dict[str, Any], *args: Any
) -> Contract:
    """Deploy a compiled contract with constructor ``args`` and return it."""
    w3 = sender.w3
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    (receipt,) = wait_for_receipts(
        w3, [sender.send(factory.constructor(*args), gas=DEPLOY_GAS)]
    )
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])


def sender_for(w3: Web3, index: int) -> TransactionSender:
    """Return a transaction sender for anvil's development account ``index``."""
    return TransactionSender(w3, dev_account(index))


def _collect(roots: tuple[str, ...]) -> dict[str, str]:
    import re

    pattern = re.compile(r'^\s*import\s+(?:[^"\']*\sfrom\s+)?["\']([^"\']+)["\']', re.M)
    pending = list(roots)
    sources: dict[str, str] = {}
    while pending:
        name = pending.pop()
        if name in sources:
            continue
        path = PROJECT_ROOT / name
        for prefix, folder in REMAPPINGS.items():
            if name.startswith(prefix):
                path = folder / name[len(prefix) :]
        sources[name] = path.read_text()
        for imported in pattern.findall(sources[name]):
            pending.append(_resolve(name, imported))
    return dict(sorted(sources.items()))


def _resolve(importer: str, imported: str) -> str:
    if not imported.startswith("."):
        return imported
    parts = importer.split("/")[:-1]
    for part in imported.split("/"):
        if part == "..":
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)
