"""Gas per operation of the registry and the lazy prototype, against OpenZeppelin.

Every figure is the ``gasUsed`` of a real transaction on a fresh anvil. The anchors are
OpenZeppelin's ERC-1155 ``_mintBatch`` and ERC-721 ``_mint`` (contracts/bench/). The
registry's split, install and merge are measured when its ABI has them.

``python -m scripts.bench.gas`` prints the figures; with ``--update-snapshot`` it also
rewrites ``gas-snapshot.json``, which ``tests/test_gas_snapshot.py`` checks.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract

from ledger.chain.connection import connect
from ledger.chain.transactions import TransactionSender, wait_for_receipts
from ledger.contracts.deployment import deploy
from ledger.toolchain import PROJECT_ROOT
from ledger.units import ascii_bytes32
from ledger.writes import LotInput, register_buildings, register_lots
from scripts.bench.common import (
    Result,
    bench_contracts,
    deploy_contract,
    local_chain,
    sender_for,
)

SNAPSHOT_PATH = PROJECT_ROOT / "gas-snapshot.json"
SNAPSHOT_TOLERANCE = 0.02
UPDATE_COMMAND = ".venv/bin/python -m scripts.bench.gas --update-snapshot"
BATCH = 100
QUANTITY = 118_000
UNIT_MASS_GRAMS = 25_000
BUILDING = ascii_bytes32("BLD-LGE-01")
CATEGORY = ascii_bytes32("doors")
REFERENCE = keccak(text="invoice 2026-117")


def measure_gas(url: str, data_dir: Path) -> dict[str, int | None]:
    """Measure every gas figure on the chain at ``url``.

    None marks a registry function that the deployed ABI does not have.
    """
    w3 = connect(url)
    operator = sender_for(w3, 0)
    holder = sender_for(w3, 1)
    yard = sender_for(w3, 2).address
    contracts = bench_contracts()
    figures: dict[str, int | None] = {}

    figures.update(_registry(w3, operator, holder, yard, data_dir))
    figures.update(_lazy(operator, holder, yard, contracts["LazyLotRegistry"]))
    figures.update(_anchors(operator, holder, yard, contracts))
    return figures


def _gas(sender: TransactionSender, call: Any) -> int:
    (receipt,) = wait_for_receipts(sender.w3, [sender.send(call)])
    return int(receipt["gasUsed"])


def _lot(index: int) -> LotInput:
    return LotInput(
        BUILDING,
        CATEGORY,
        0,
        QUANTITY,
        UNIT_MASS_GRAMS,
        keccak(index.to_bytes(32, "big")),
    )


def _registry(
    w3: Web3,
    operator: TransactionSender,
    holder: TransactionSender,
    yard: str,
    data_dir: Path,
) -> dict[str, int | None]:
    from ledger.contracts.deployment import registry_contract

    registry = registry_contract(w3, deploy(operator, data_dir).address)
    register_buildings(registry, operator, [(BUILDING, keccak(text="building"))])
    receipts = register_lots(
        registry,
        operator,
        holder.address,
        [_lot(i) for i in range(3 * BATCH)],
        batch_size=BATCH,
    )
    (single,) = register_lots(registry, operator, holder.address, [_lot(10**6)])
    single_id = 3 * BATCH + 1

    def transfer(lot_id: int) -> int:
        call = registry.functions.transferCustody(
            holder.address, yard, lot_id, 1000, 1, REFERENCE
        )
        return _gas(holder, call)

    figures: dict[str, int | None] = {
        "registry.registerLots.per_lot": int(receipts[1]["gasUsed"]) // BATCH,
        "registry.registerLots.batch_1": int(single["gasUsed"]),
        "registry.first_transfer.batch_100": max(
            transfer(BATCH + 1), transfer(2 * BATCH)
        ),
        "registry.first_transfer.batch_1": transfer(single_id),
        "registry.transfer.repeat": transfer(BATCH + 1),
    }
    figures.update(_lifecycle(registry, holder))
    return figures


def _lifecycle(registry: Contract, holder: TransactionSender) -> dict[str, int | None]:
    """Measure split, install and merge when the ABI has them with these signatures."""
    functions = {
        item["name"]: [field["type"] for field in item["inputs"]]
        for item in registry.abi
        if item.get("type") == "function"
    }
    calls = {
        "registry.split_in_2": (
            "split",
            ["uint256", "uint256[]"],
            lambda: registry.functions.split(
                2 * BATCH + 1, [QUANTITY // 2, QUANTITY // 4]
            ),
        ),
        "registry.install": (
            "install",
            ["uint256", "uint256", "bytes32", "bytes32"],
            lambda: registry.functions.install(
                2 * BATCH + 2, QUANTITY // 2, ascii_bytes32("BLD-NAM-09"), REFERENCE
            ),
        ),
        "registry.merge_2": (
            "merge",
            ["uint256[]", "uint256[]"],
            lambda: registry.functions.merge(
                [2 * BATCH + 3, 2 * BATCH + 4], [QUANTITY, QUANTITY // 2]
            ),
        ),
    }
    figures: dict[str, int | None] = {}
    for key, (name, types, build) in calls.items():
        figures[key] = _gas(holder, build()) if functions.get(name) == types else None
    return figures


def lazy_entries(first: int, count: int) -> bytes:
    """Pack ``count`` lot entries in the prototype's 81-byte layout."""
    return b"".join(
        keccak((first + i).to_bytes(32, "big"))
        + CATEGORY
        + QUANTITY.to_bytes(8, "big")
        + UNIT_MASS_GRAMS.to_bytes(8, "big")
        + bytes([0])
        for i in range(count)
    )


def _lazy(
    operator: TransactionSender,
    holder: TransactionSender,
    yard: str,
    artifact: dict[str, Any],
) -> dict[str, int | None]:
    lazy = deploy_contract(operator, artifact, operator.address)
    _gas(
        operator,
        lazy.functions.registerBuildings([BUILDING], [keccak(text="building")]),
    )
    batches = [
        _gas(
            operator,
            lazy.functions.registerLots(
                holder.address, BUILDING, lazy_entries(n * BATCH, BATCH)
            ),
        )
        for n in range(3)
    ]
    single = _gas(
        operator,
        lazy.functions.registerLots(holder.address, BUILDING, lazy_entries(10**6, 1)),
    )

    def transfer(lot_id: int) -> int:
        call = lazy.functions.transferCustody(
            holder.address, yard, lot_id, 1000, 1, REFERENCE
        )
        return _gas(holder, call)

    return {
        "lazy.registerLots.per_lot": batches[1] // BATCH,
        "lazy.registerLots.batch_1": single,
        "lazy.first_transfer.batch_100": max(transfer(BATCH + 1), transfer(2 * BATCH)),
        "lazy.first_transfer.batch_1": transfer(3 * BATCH + 1),
        "lazy.transfer.repeat": transfer(BATCH + 1),
    }


def _anchors(
    operator: TransactionSender,
    holder: TransactionSender,
    yard: str,
    contracts: dict[str, dict[str, Any]],
) -> dict[str, int | None]:
    erc1155 = deploy_contract(operator, contracts["ERC1155MintBatchAnchor"])
    erc721 = deploy_contract(operator, contracts["ERC721MintAnchor"])
    mints = []
    for n in range(2):
        ids = list(range(n * BATCH + 1, (n + 1) * BATCH + 1))
        mints.append(
            _gas(
                operator,
                erc1155.functions.mintBatch(holder.address, ids, [QUANTITY] * BATCH),
            )
        )
    tokens = [
        _gas(operator, erc721.functions.mintRange(holder.address, n * BATCH + 1, BATCH))
        for n in range(2)
    ]

    def transfer(token_id: int) -> int:
        return _gas(
            holder,
            erc1155.functions.safeTransferFrom(
                holder.address, yard, token_id, 1000, b""
            ),
        )

    return {
        "anchor.erc1155_mintBatch.per_id": mints[1] // BATCH,
        "anchor.erc721_mint.per_token": tokens[1] // BATCH,
        "anchor.erc1155_transfer.first": transfer(BATCH + 1),
        "anchor.erc1155_transfer.repeat": transfer(BATCH + 1),
    }


def gas_results(figures: dict[str, int | None]) -> list[Result]:
    """Turn the measured figures into table rows."""
    scale = f"batches of {BATCH} lots"
    anchor_mint = figures["anchor.erc1155_mintBatch.per_id"]
    rows = [
        Result(
            "gas/lot registerLots vs ERC-1155 _mintBatch/id",
            figures["registry.registerLots.per_lot"],
            anchor_mint,
            "gas",
            scale,
            higher_is_better=False,
            target_ratio=0.25,
            target_text="≤ 0.25× (~6,000)",
        ),
        Result(
            "gas/lot LazyLotRegistry prototype vs _mintBatch/id",
            figures["lazy.registerLots.per_lot"],
            anchor_mint,
            "gas",
            scale,
            higher_is_better=False,
            target_ratio=0.25,
            target_text="≤ 0.25× (~6,000)",
        ),
        Result(
            "gas/lot registerLots vs ERC-721 _mint/token",
            figures["registry.registerLots.per_lot"],
            figures["anchor.erc721_mint.per_token"],
            "gas",
            scale,
            higher_is_better=False,
        ),
    ]
    for prefix, label in (("registry", "registry"), ("lazy", "LazyLotRegistry")):
        rows.append(
            Result(
                f"gas first transfer, batch of 100 vs 1 ({label})",
                figures[f"{prefix}.first_transfer.batch_100"],
                figures[f"{prefix}.first_transfer.batch_1"],
                "gas",
                "first and last lot of a batch",
                higher_is_better=False,
                target_ratio=1.01,
                target_text="bounded: ≤ 1.01×",
            )
        )
    rows += [
        Result(
            "gas transferCustody (new receiver) vs OZ transfer",
            figures["registry.first_transfer.batch_100"],
            figures["anchor.erc1155_transfer.first"],
            "gas",
            "one lot",
            higher_is_better=False,
        ),
        Result(
            "gas transferCustody lazy first move vs OZ transfer",
            figures["lazy.first_transfer.batch_100"],
            figures["anchor.erc1155_transfer.first"],
            "gas",
            "one lot",
            higher_is_better=False,
        ),
        Result(
            "gas transferCustody repeat vs OZ repeat",
            figures["registry.transfer.repeat"],
            figures["anchor.erc1155_transfer.repeat"],
            "gas",
            "one lot",
            higher_is_better=False,
        ),
    ]
    for key, label in (
        ("registry.split_in_2", "gas split into 2 lots"),
        ("registry.install", "gas install"),
        ("registry.merge_2", "gas merge 2 lots"),
    ):
        rows.append(
            Result(
                label, figures.get(key), None, "gas", "one lot", higher_is_better=False
            )
        )
    return rows


def run() -> tuple[dict[str, int | None], list[Result]]:
    """Measure on a fresh local chain and return the figures and the table rows."""
    with local_chain() as (data_dir, url):
        figures = measure_gas(url, data_dir)
    return figures, gas_results(figures)


def compare_with_snapshot(
    figures: dict[str, int | None], snapshot: dict[str, int | None]
) -> list[str]:
    """Return one message per figure that grew more than the tolerance.

    A figure without a recorded value (a function added since the snapshot) passes:
    record it with the update command.
    """
    problems = []
    for key, value in sorted(figures.items()):
        recorded = snapshot.get(key)
        if value is None or recorded is None:
            continue
        if value > recorded * (1 + SNAPSHOT_TOLERANCE):
            growth = 100 * (value - recorded) / recorded
            problems.append(
                f"{key}: {value} gas, {growth:+.1f} % over the snapshot's {recorded}"
            )
    return problems


def main() -> None:
    """Print the gas figures; rewrite the snapshot with ``--update-snapshot``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--update-snapshot", action="store_true", help=f"rewrite {SNAPSHOT_PATH.name}"
    )
    args = parser.parse_args()

    figures, _ = run()
    print(json.dumps(figures, indent=2, sort_keys=True))
    if args.update_snapshot:
        SNAPSHOT_PATH.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
        print(f"Wrote {SNAPSHOT_PATH}")


if __name__ == "__main__":
    main()
