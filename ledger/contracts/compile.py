"""Compilation of the Solidity sources into committed artifacts, through py-solc-x.

A native ``solc`` of the pinned version on PATH is used when present; otherwise the
npm solc-js compiler through ``scripts/solc-js``. Both produce the same bytecode for the
same version and settings, so the committed artifacts are reproducible either way.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import solcx
from eth_utils import keccak

from ledger.errors import ToolchainError
from ledger.toolchain import PROJECT_ROOT

SOLC_VERSION = "0.8.28"
CONTRACTS_DIR = PROJECT_ROOT / "contracts"
ARTIFACTS_DIR = CONTRACTS_DIR / "artifacts"
SOLC_JS_WRAPPER = PROJECT_ROOT / "scripts" / "solc-js"
REMAPPINGS = {
    "@openzeppelin/contracts/": PROJECT_ROOT / "node_modules/@openzeppelin/contracts"
}
CONTRACT_NAMES = ("ReclaimRegistry",)
COMPILER_SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "cancun",
    "outputSelection": {
        "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}
    },
}

_IMPORT = re.compile(r'^\s*import\s+(?:[^"\']*\sfrom\s+)?["\']([^"\']+)["\']', re.M)


def solc_binary() -> Path:
    """Return a native solc of the pinned version on PATH, else the solc-js wrapper."""
    native = shutil.which("solc")
    if native:
        result = subprocess.run(
            [native, "--version"], capture_output=True, text=True, check=False
        )
        if f"Version: {SOLC_VERSION}+" in result.stdout:
            return Path(native)

    if not (PROJECT_ROOT / "node_modules/solc/solc.js").exists():
        raise ToolchainError(
            f"No solc {SOLC_VERSION} on PATH and solc-js is not installed; run "
            "'make setup'."
        )
    return SOLC_JS_WRAPPER


def collect_sources() -> dict[str, str]:
    """Return every source unit the contracts need, keyed by its import name."""
    pending = [f"contracts/{path.name}" for path in sorted(CONTRACTS_DIR.glob("*.sol"))]
    sources: dict[str, str] = {}
    while pending:
        name = pending.pop()
        if name in sources:
            continue
        text = _source_path(name).read_text()
        sources[name] = text
        for imported in _IMPORT.findall(text):
            pending.append(_resolve_import(name, imported))
    return dict(sorted(sources.items()))


def source_hash(sources: dict[str, str]) -> str:
    """Return a keccak256 digest of all source units, names and contents."""
    digest = keccak(json.dumps(sources, sort_keys=True, separators=(",", ":")).encode())
    return "0x" + digest.hex()


def compile_contracts() -> dict[str, dict[str, Any]]:
    """Compile the contracts and return one artifact per contract name."""
    sources = collect_sources()
    standard_input = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": COMPILER_SETTINGS,
    }
    binary = solc_binary()
    try:
        output = solcx.compile_standard(standard_input, solc_binary=binary)
    except solcx.exceptions.SolcError as exc:
        raise ToolchainError(f"Compilation failed:\n{exc}") from exc

    artifacts = {}
    for name in CONTRACT_NAMES:
        compiled = output["contracts"][f"contracts/{name}.sol"][name]
        artifacts[name] = {
            "contractName": name,
            "abi": compiled["abi"],
            "bytecode": "0x" + compiled["evm"]["bytecode"]["object"],
            "deployedBytecode": "0x" + compiled["evm"]["deployedBytecode"]["object"],
            "compiler": {"version": SOLC_VERSION, "settings": COMPILER_SETTINGS},
            "sourceHash": source_hash(sources),
        }
    return artifacts


def write_artifacts(artifacts: dict[str, dict[str, Any]]) -> list[Path]:
    """Write each artifact to ``contracts/artifacts/<name>.json``."""
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, artifact in artifacts.items():
        path = ARTIFACTS_DIR / f"{name}.json"
        path.write_text(json.dumps(artifact, indent=2, sort_keys=True) + "\n")
        paths.append(path)
    return paths


def _source_path(name: str) -> Path:
    for prefix, folder in REMAPPINGS.items():
        if name.startswith(prefix):
            return folder / name[len(prefix) :]
    return PROJECT_ROOT / name


def _resolve_import(importer: str, imported: str) -> str:
    if not imported.startswith("."):
        return imported
    parts = importer.split("/")[:-1]
    for part in imported.split("/"):
        if part == "..":
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)
