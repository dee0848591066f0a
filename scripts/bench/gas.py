"""Gas per operation of the registry, against OpenZeppelin.

Every figure is the ``gasUsed`` of a real transaction on a fresh anvil. The anchors are
OpenZeppelin's ERC-1155 ``_mintBatch`` and ERC-721 ``_mint`` (contracts/bench/).

``python -m scripts.bench.gas`` prints the figures; with ``--update-snapshot`` it also
rewrites ``gas-snapshot.json``, which ``tests/test_gas_snapshot.py`` checks.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from eth_utils import keccak
from web3.contract import Contract

from ledger.chain.connection import connect
from ledger.chain.transactions import TransactionSender, wait_for_receipts
from ledger.contracts.deployment import deploy, registry_contract
from ledger.toolchain import PROJECT_ROOT
from ledger.units import ascii_bytes32
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
MAX_BATCH = 256
QUANTITY = 118_000
UNIT_MASS_GRAMS = 25_000
BUILDING = ascii_bytes32("BLD-LGE-01")
CATEGORY = ascii_bytes32("doors")
REFERENCE = keccak(text="invoice 2026-117")


def measure_gas(url: str, data_dir: Path) -> dict[str, int | None]:
    """Measure every gas figure on the chain at ``url``."""
    w3 = connect(url)
    operator = sender_for(w3, 0)
    holder = sender_for(w3, 1)
    yard = sender_for(w3, 2).address
    buyer = sender_for(w3, 3).address
    registry = registry_contract(w3, deploy(operator, data_dir).address)
    figures: dict[str, int | None] = {}

    figures.update(_registry(registry, operator, holder, yard, buyer))
    figures.update(_anchors(operator, holder, yard, bench_contracts()))
    return figures


def _gas(sender: TransactionSender, call: Any) -> int:
    (receipt,) = wait_for_receipts(sender.w3, [sender.send(call)])
    return int(receipt["gasUsed"])


def lot_entries(first: int, count: int) -> bytes:
    """Pack ``count`` lots in registerLots' 81-byte entry layout.

    Each entry is the record hash (32 bytes), category (32), quantity (uint64
    big-endian), unit mass in grams (uint64 big-endian) and unit (1 byte).
    """
    return b"".join(
        keccak((first + i).to_bytes(32, "big"))
        + CATEGORY
        + QUANTITY.to_bytes(8, "big")
        + UNIT_MASS_GRAMS.to_bytes(8, "big")
        + bytes([0])
        for i in range(count)
    )


def _registry(
    registry: Contract,
    operator: TransactionSender,
    holder: TransactionSender,
    yard: str,
    buyer: str,
) -> dict[str, int | None]:
    """Measure registration, moves, reveal and end of life of batch lots.

    Lots 1 to 300 are three batches of ``BATCH``, and lot 301 is a batch of one.
    Lots 302 to 557 are a batch of ``MAX_BATCH``, and lots 558 to 657 a batch that
    opens bitmap word 2 (batch starts from 512 to 767). Moves use the second batch,
    so that its figures are those of a registry already in use.
    """
    _gas(
        operator,
        registry.functions.registerBuildings([BUILDING], [keccak(text="building")]),
    )
    entries = [lot_entries(n * BATCH, BATCH) for n in range(3)]
    batches = [
        _gas(operator, registry.functions.registerLots(holder.address, BUILDING, batch))
        for batch in entries
    ]
    single_id = 3 * BATCH + 1
    single = _gas(
        operator,
        registry.functions.registerLots(
            holder.address, BUILDING, lot_entries(10**6, 1)
        ),
    )
    largest, new_word = (
        _gas(
            operator,
            registry.functions.registerLots(
                holder.address, BUILDING, lot_entries(first, count)
            ),
        )
        for first, count in ((2 * 10**6, MAX_BATCH), (3 * 10**6, BATCH))
    )

    def transfer(lot_id: int, to: str) -> int:
        call = registry.functions.transferCustody(
            holder.address, to, lot_id, 1000, 1, REFERENCE
        )
        return _gas(holder, call)

    figures: dict[str, int | None] = {
        "registry.registerLots.per_lot": batches[1] // BATCH,
        "registry.registerLots.batch_1": single,
        "registry.registerLots.per_lot_new_word": new_word // BATCH,
        "registry.registerLots.per_lot_batch_256": largest // MAX_BATCH,
        "registry.first_transfer.first_lot": transfer(BATCH + 1, yard),
        "registry.first_transfer.last_lot": transfer(2 * BATCH, yard),
        "registry.first_transfer.batch_1": transfer(single_id, yard),
        "registry.transfer.new_receiver": transfer(BATCH + 1, buyer),
        "registry.transfer.repeat": transfer(BATCH + 1, yard),
    }
    figures.update(_end_of_life(registry, holder, entries[2]))
    return figures


def _end_of_life(
    registry: Contract, holder: TransactionSender, entries: bytes
) -> dict[str, int | None]:
    """Measure reveals, split, install and merge on untouched lots of the third batch.

    The merge takes the two lots that one ``revealLots`` call revealed.
    """
    first = 2 * BATCH + 1
    merge_parents = [first + 2, first + 3]

    reveal_one = registry.functions.revealLot(first, BUILDING, entries)
    reveal_two = registry.functions.revealLots(merge_parents, BUILDING, entries)
    figures: dict[str, int | None] = {
        "registry.revealLot.batch_100": _gas(holder, reveal_one),
        "registry.revealLots.per_lot_2": _gas(holder, reveal_two) // len(merge_parents),
    }
    figures["registry.split_in_2"] = _gas(
        holder, registry.functions.split(first, [QUANTITY // 2, QUANTITY // 4])
    )
    figures["registry.install"] = _gas(
        holder,
        registry.functions.install(
            first + 1, QUANTITY // 2, ascii_bytes32("BLD-NAM-09"), REFERENCE
        ),
    )
    figures["registry.merge_2"] = _gas(
        holder,
        registry.functions.merge(merge_parents, [QUANTITY, QUANTITY // 2]),
    )
    return figures


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
    first_move = figures["registry.first_transfer.first_lot"]
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
            "gas/lot registerLots opening a bitmap word vs _mintBatch/id",
            figures["registry.registerLots.per_lot_new_word"],
            anchor_mint,
            "gas",
            scale,
            higher_is_better=False,
            target_ratio=0.25,
            target_text="≤ 0.25× (~6,000)",
        ),
        Result(
            "gas/lot registerLots, 256 lots vs _mintBatch/id",
            figures["registry.registerLots.per_lot_batch_256"],
            anchor_mint,
            "gas",
            f"a batch of {MAX_BATCH} lots",
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
        Result(
            "gas first transfer, last vs first lot of a batch",
            figures["registry.first_transfer.last_lot"],
            first_move,
            "gas",
            f"lots 1 and {BATCH} of a batch of {BATCH}",
            higher_is_better=False,
            target_ratio=1.01,
            target_text="bounded: ≤ 1.01×",
        ),
        Result(
            "gas first transfer, batch of 100 vs 1",
            first_move,
            figures["registry.first_transfer.batch_1"],
            "gas",
            "first lot of a batch",
            higher_is_better=False,
            target_ratio=1.01,
            target_text="bounded: ≤ 1.01×",
        ),
        Result(
            "gas transferCustody first move vs OZ transfer",
            first_move,
            figures["anchor.erc1155_transfer.first"],
            "gas",
            "one lot, new receiver",
            higher_is_better=False,
        ),
        Result(
            "gas transferCustody new receiver vs OZ transfer",
            figures["registry.transfer.new_receiver"],
            figures["anchor.erc1155_transfer.first"],
            "gas",
            "one lot, moved before",
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
    for key, label, row_scale in (
        ("registry.revealLot.batch_100", "gas revealLot", f"one lot of {BATCH}"),
        (
            "registry.revealLots.per_lot_2",
            "gas/lot revealLots of 2 lots",
            f"two lots of {BATCH}",
        ),
        ("registry.split_in_2", "gas split into 2 lots", "one lot"),
        ("registry.install", "gas install", "one lot, first move"),
        ("registry.merge_2", "gas merge 2 lots", "two lots"),
    ):
        rows.append(
            Result(
                label, figures.get(key), None, "gas", row_scale, higher_is_better=False
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
