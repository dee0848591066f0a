"""Every revert path of the registry on a real anvil, named by its custom error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ledger.chain.accounts import dev_account
from ledger.chain.transactions import RevertDecoder, TransactionSender
from ledger.contracts.artifacts import load_artifact
from ledger.contracts.deployment import Deployment, registry_contract
from ledger.errors import TransactionFailed
from ledger.units import ascii_bytes32
from ledger.writes import LotInput

BUILDING = ascii_bytes32("BLD-REV-01")
ZERO = bytes(32)
HASH = b"\x07" * 32


def _lot(**changes: Any) -> bytes:
    fields = {
        "building_id": BUILDING,
        "category": ascii_bytes32("doors"),
        "unit": 0,
        "quantity": 5000,
        "unit_mass_grams": 24_000,
        "record_hash": HASH,
    }
    fields.update(changes)
    return LotInput(**fields).entry()


HOLDER = dev_account(1)
OTHER = dev_account(2)

# (case name, signer index, call builder, expected error text)
CASES: list[tuple[str, int, Callable[[Any], Any], str]] = [
    (
        "empty buildings",
        0,
        lambda r: r.functions.registerBuildings([], []),
        "ReclaimRegistryEmptyBatch()",
    ),
    (
        "length mismatch",
        0,
        lambda r: r.functions.registerBuildings([BUILDING], []),
        "ReclaimRegistryLengthMismatch(idsLength=1, recordHashesLength=0)",
    ),
    (
        "zero building id",
        0,
        lambda r: r.functions.registerBuildings([ZERO], [HASH]),
        "ReclaimRegistryInvalidBuildingId(",
    ),
    (
        "zero building hash",
        0,
        lambda r: r.functions.registerBuildings([ascii_bytes32("X")], [ZERO]),
        "ReclaimRegistryInvalidRecordHash(",
    ),
    (
        "duplicate building",
        0,
        lambda r: r.functions.registerBuildings([BUILDING], [HASH]),
        "ReclaimRegistryBuildingAlreadyRegistered(",
    ),
    (
        "buildings not registrar",
        1,
        lambda r: r.functions.registerBuildings([ascii_bytes32("Y")], [HASH]),
        "AccessControlUnauthorizedAccount(",
    ),
    (
        "empty lots",
        0,
        lambda r: r.functions.registerLots(HOLDER.address, BUILDING, b""),
        "ReclaimRegistryInvalidEntries(length=0)",
    ),
    (
        "partial entry",
        0,
        lambda r: r.functions.registerLots(HOLDER.address, BUILDING, _lot()[:80]),
        "ReclaimRegistryInvalidEntries(length=80)",
    ),
    (
        "too many lots",
        0,
        lambda r: r.functions.registerLots(HOLDER.address, BUILDING, _lot() * 257),
        "ReclaimRegistryBatchTooLarge(count=257, max=256)",
    ),
    (
        "unknown building",
        0,
        lambda r: r.functions.registerLots(
            HOLDER.address, ascii_bytes32("NONE"), _lot()
        ),
        "ReclaimRegistryUnknownBuilding(",
    ),
    (
        "zero category",
        0,
        lambda r: r.functions.registerLots(
            HOLDER.address, BUILDING, _lot(category=ZERO)
        ),
        "ReclaimRegistryInvalidCategory(",
    ),
    (
        "invalid unit",
        0,
        lambda r: r.functions.registerLots(HOLDER.address, BUILDING, _lot(unit=5)),
        "ReclaimRegistryInvalidUnit(unit=5)",
    ),
    (
        "zero quantity",
        0,
        lambda r: r.functions.registerLots(
            HOLDER.address, BUILDING, _lot() + _lot(quantity=0)
        ),
        "ReclaimRegistryZeroQuantity(lotId=3)",
    ),
    (
        "zero lot hash",
        0,
        lambda r: r.functions.registerLots(
            HOLDER.address, BUILDING, _lot(record_hash=ZERO)
        ),
        "ReclaimRegistryInvalidRecordHash(",
    ),
    (
        "lots not registrar",
        1,
        lambda r: r.functions.registerLots(HOLDER.address, BUILDING, _lot()),
        "AccessControlUnauthorizedAccount(",
    ),
    (
        "reveal other entries",
        2,
        lambda r: r.functions.revealLot(1, BUILDING, _lot(quantity=6000)),
        "ReclaimRegistryBatchMismatch(lotId=1)",
    ),
    (
        "reveal other building",
        2,
        lambda r: r.functions.revealLot(1, ascii_bytes32("NONE"), _lot()),
        "ReclaimRegistryBatchMismatch(lotId=1)",
    ),
    (
        "reveal lots empty",
        2,
        lambda r: r.functions.revealLots([], BUILDING, _lot()),
        "ReclaimRegistryEmptyBatch()",
    ),
    (
        "reveal lots other entries",
        2,
        lambda r: r.functions.revealLots([1], BUILDING, _lot(quantity=6000)),
        "ReclaimRegistryBatchMismatch(lotId=1)",
    ),
    (
        "split unrevealed",
        1,
        lambda r: r.functions.split(1, [1000, 1000]),
        "ReclaimRegistryLotNotRevealed(lotId=1)",
    ),
    (
        "merge unrevealed",
        1,
        lambda r: r.functions.merge([1, 1], [1000, 1000]),
        "ReclaimRegistryLotNotRevealed(lotId=1)",
    ),
    (
        "unknown lot",
        1,
        lambda r: r.functions.transferCustody(
            HOLDER.address, OTHER.address, 9, 1, 1, ZERO
        ),
        "ReclaimRegistryUnknownLot(lotId=9)",
    ),
    (
        "zero transfer",
        1,
        lambda r: r.functions.transferCustody(
            HOLDER.address, OTHER.address, 1, 0, 1, ZERO
        ),
        "ReclaimRegistryZeroQuantity(lotId=1)",
    ),
    (
        "invalid reason",
        1,
        lambda r: r.functions.transferCustody(
            HOLDER.address, OTHER.address, 1, 1, 5, ZERO
        ),
        "ReclaimRegistryInvalidReason(reason=5)",
    ),
    (
        "self transfer",
        1,
        lambda r: r.functions.transferCustody(
            HOLDER.address, HOLDER.address, 1, 1, 1, ZERO
        ),
        "ReclaimRegistrySelfTransfer(",
    ),
    (
        "not approved",
        2,
        lambda r: r.functions.transferCustody(
            HOLDER.address, OTHER.address, 1, 1, 1, ZERO
        ),
        "ERC1155MissingApprovalForAll(",
    ),
    (
        "over balance",
        1,
        lambda r: r.functions.transferCustody(
            HOLDER.address, OTHER.address, 1, 5001, 1, ZERO
        ),
        "ERC1155InsufficientBalance(",
    ),
]


@pytest.fixture
def registry_with_lot(
    deployed: tuple[TransactionSender, Deployment],
) -> tuple[TransactionSender, Any]:
    sender, deployment = deployed
    registry = registry_contract(sender.w3, deployment.address)
    # Two calls: the lot's gas estimate needs the building already mined.
    sender.transact([registry.functions.registerBuildings([BUILDING], [HASH])])
    sender.transact([registry.functions.registerLots(HOLDER.address, BUILDING, _lot())])
    return sender, registry


@pytest.mark.parametrize(
    ("case", "signer", "build", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_revert_names_custom_error(
    registry_with_lot: tuple[TransactionSender, Any],
    case: str,
    signer: int,
    build: Callable[[Any], Any],
    expected: str,
) -> None:
    sender, registry = registry_with_lot
    decoder = RevertDecoder(load_artifact()["abi"])
    account_sender = TransactionSender(sender.w3, dev_account(signer), decoder)
    block = sender.w3.eth.block_number

    with pytest.raises(TransactionFailed) as failure:
        account_sender.send(build(registry))

    assert expected in str(failure.value)
    assert sender.w3.eth.block_number == block
