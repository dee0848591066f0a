"""Locations of the external tools: anvil, forge, cast and the Solidity compiler."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ledger.errors import ToolchainError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NODE_BIN = PROJECT_ROOT / "node_modules" / ".bin"


def find_tool(name: str) -> Path:
    """Return a Foundry tool's path: ``RECLAIM_<NAME>``, node_modules, then PATH."""
    override = os.environ.get(f"RECLAIM_{name.upper()}")
    if override:
        return Path(override)

    local = NODE_BIN / name
    if local.exists():
        return local

    found = shutil.which(name)
    if found:
        return Path(found)

    raise ToolchainError(
        f"{name} was not found in {NODE_BIN} or on PATH; run 'make setup' to install "
        "the pinned toolchain."
    )
