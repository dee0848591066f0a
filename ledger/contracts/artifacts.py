"""The committed contract artifacts: ABI and bytecode."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from ledger.contracts.compile import ARTIFACTS_DIR
from ledger.errors import ToolchainError


@cache
def load_artifact(name: str = "ReclaimRegistry") -> dict[str, Any]:
    """Return the committed artifact of contract ``name``."""
    path = ARTIFACTS_DIR / f"{name}.json"
    try:
        artifact: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ToolchainError(
            f"The artifact {path} is missing; run 'reclaim compile' to build it."
        ) from exc
    return artifact
