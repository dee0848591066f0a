"""Writes to the registry: buildings, lots and custody transfers.

The CLI, the demo and the API all write through these functions, which sign with the
caller's :class:`TransactionSender`.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from ledger.chain.transactions import TransactionSender, wait_for_receipts
from ledger.errors import InvalidInput, TransactionFailed
from ledger.lot_entries import (
    ENTRY_SIZE,
    LOT_BATCH_REGISTERED_TOPIC,
    MAX_BATCH_SIZE,
    pack_entry,
)

logger = logging.getLogger(__name__)

# Lots per registerLots call. The registry takes at most MAX_BATCH_SIZE (256) lots of
# one building per call; 100 keeps each transaction's calldata near 8 KB.
DEFAULT_LOT_BATCH_SIZE = 100
# Headroom added to the estimate of the largest batch for the other batches. Calldata
# costs 4 gas per zero byte and 16 per non-zero byte, so another batch's entries may
# cost up to 12 gas per byte more. A batch whose first id starts a new word of the
# registry's bitmap of batch starts writes a new slot, about 17,000 gas more than an
# update.
CALLDATA_GAS_SPREAD_PER_BYTE = 12
BATCH_GAS_ALLOWANCE = 50_000


class CustodyReason(enum.IntEnum):
    """Reason for a custody move, with the values of ``CustodyReason`` on chain."""

    UNSPECIFIED = 0
    SALE = 1
    CONSIGNMENT = 2
    TRANSPORT_HANDOFF = 3
    RETURN = 4

    @classmethod
    def parse(cls, text: str) -> CustodyReason:
        """Parse a reason name such as ``sale`` or ``transport-handoff``."""
        key = text.strip().upper().replace("-", "_").replace(" ", "_")
        try:
            return cls[key]
        except KeyError:
            choices = ", ".join(reason.label for reason in cls)
            raise InvalidInput(
                f"{text!r} is not a custody reason; use one of: {choices}."
            ) from None

    @property
    def label(self) -> str:
        """The reason as the CLI and the API write it, such as ``transport-handoff``."""
        return self.name.lower().replace("_", "-")


@dataclass(frozen=True)
class LotInput:
    """One lot to register, in the contract's units."""

    building_id: bytes
    category: bytes
    unit: int
    quantity: int
    unit_mass_grams: int
    record_hash: bytes

    def entry(self) -> bytes:
        """Return the lot's 81-byte entry; see :func:`pack_entry` for the checks."""
        return pack_entry(
            self.record_hash,
            self.category,
            self.quantity,
            self.unit_mass_grams,
            self.unit,
        )


@dataclass(frozen=True)
class RegisteredBatch:
    """One ``registerLots`` transaction: its receipt and the lots it registered.

    ``receipt`` contains only the fields of ``RECEIPT_SUMMARY_FIELDS`` and ``logs``.
    """

    receipt: TxReceipt
    building_id: bytes
    first_lot_id: int
    lot_count: int

    @property
    def lot_ids(self) -> range:
        """The ids of the batch's lots, consecutive from ``first_lot_id``."""
        return range(self.first_lot_id, self.first_lot_id + self.lot_count)


def pack_entries(lots: Sequence[LotInput]) -> bytes:
    """Return the ``entries`` argument of ``registerLots`` for ``lots``.

    Raises InvalidInput naming the lot's position when a value does not fit.
    """
    packed = []
    for position, lot in enumerate(lots, start=1):
        try:
            packed.append(lot.entry())
        except InvalidInput as exc:
            raise InvalidInput(
                f"Lot {position} of {len(lots)} (record hash "
                f"0x{lot.record_hash.hex()}): {exc}"
            ) from None
    return b"".join(packed)


def register_buildings(
    registry: Contract,
    sender: TransactionSender,
    buildings: Sequence[tuple[bytes, bytes]],
) -> TxReceipt:
    """Register buildings given as ``(building_id, record_hash)`` in one transaction."""
    ids = [building_id for building_id, _ in buildings]
    hashes = [record_hash for _, record_hash in buildings]
    (receipt,) = sender.transact([registry.functions.registerBuildings(ids, hashes)])
    return receipt


def register_lots(
    registry: Contract,
    sender: TransactionSender,
    holder: str,
    lots: Sequence[LotInput],
    batch_size: int = DEFAULT_LOT_BATCH_SIZE,
    on_batch_sent: Callable[[int], None] | None = None,
) -> list[RegisteredBatch]:
    """Register lots for ``holder`` in batches of at most ``batch_size`` per building.

    Lots are grouped by building in the order each building first appears, and keep
    their given order within a building, so a file sorted by building gets
    consecutive ids in file order. Every value is checked against the registry's
    64-bit fields before anything is sent. Batches are sent back to back and their
    receipts collected at the end; the lot ids come from each ``LotBatchRegistered``
    event. ``on_batch_sent`` receives each batch's size.

    Only the largest batch is estimated, and it raises TransactionFailed with the
    decoded reason if it would revert. The other batches get its estimate plus
    ``BATCH_GAS_ALLOWANCE`` and the calldata spread of their entries. A batch that
    reverts on chain raises TransactionFailed with its decoded reason, and the
    batches before it stay registered.
    """
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise InvalidInput(
            f"Batch size {batch_size!r} must be from 1 to {MAX_BATCH_SIZE}, the "
            "registry's limit of lots per registerLots call."
        )
    if not lots:
        return []
    entries = pack_entries(lots)
    by_building: dict[bytes, list[bytes]] = {}
    for position, lot in enumerate(lots):
        entry = entries[position * ENTRY_SIZE : (position + 1) * ENTRY_SIZE]
        by_building.setdefault(lot.building_id, []).append(entry)
    batches = [
        (building_id, building_entries[start : start + batch_size])
        for building_id, building_entries in by_building.items()
        for start in range(0, len(building_entries), batch_size)
    ]
    calls = [
        registry.functions.registerLots(holder, building_id, b"".join(batch))
        for building_id, batch in batches
    ]

    largest = max(range(len(batches)), key=lambda index: len(batches[index][1]))
    estimate = sender.estimate(calls[largest])
    block_gas_limit = int(sender.w3.eth.get_block("latest")["gasLimit"])
    hashes = []
    for (_, batch), call in zip(batches, calls, strict=True):
        spread = CALLDATA_GAS_SPREAD_PER_BYTE * ENTRY_SIZE * len(batch)
        gas = min(estimate + BATCH_GAS_ALLOWANCE + spread, block_gas_limit)
        hashes.append(sender.send(call, gas=gas))
        if on_batch_sent is not None:
            on_batch_sent(len(batch))
    receipts = wait_for_receipts(
        sender.w3, hashes, check_status=False, include_logs=False, raw_logs=True
    )

    registered: list[RegisteredBatch] = []
    for (building_id, batch), call, receipt in zip(
        batches, calls, receipts, strict=True
    ):
        if receipt["status"] != 1:
            lots_before = sum(done.lot_count for done in registered)
            _raise_batch_reverted(sender, call, receipt, lots_before, len(batch))
        first_lot_id = _first_lot_id(registry.address, receipt)
        registered.append(
            RegisteredBatch(receipt, building_id, first_lot_id, len(batch))
        )
    return registered


def _first_lot_id(registry_address: str, receipt: TxReceipt) -> int:
    """Return the ``firstLotId`` of the receipt's ``LotBatchRegistered`` log."""
    for log in receipt["logs"]:
        topics = log["topics"]
        if (
            str(log["address"]).lower() == registry_address.lower()
            and topics
            and str(topics[0]).lower() == LOT_BATCH_REGISTERED_TOPIC
        ):
            return int(topics[1], 16)
    raise TransactionFailed(
        f"Transaction 0x{bytes(receipt['transactionHash']).hex()} registered lots but "
        f"emitted no LotBatchRegistered event; the registry at {registry_address} "
        "is an older version. Deploy the current registry."
    )


def _raise_batch_reverted(
    sender: TransactionSender,
    call: ContractFunction,
    receipt: TxReceipt,
    registered: int,
    size: int,
) -> None:
    block = int(receipt["blockNumber"])
    reason = sender.revert_reason(call, block - 1)
    if reason is None:
        # The call succeeds on the previous block's state, so the limit was too low.
        reason = f"it used {receipt['gasUsed']:,} gas of its limit"
    raise TransactionFailed(
        f"registerLots of {size} lots reverted in block {block}: {reason}. The "
        f"{registered} lots before this batch are registered."
    )


def transfer_custody(
    registry: Contract,
    sender: TransactionSender,
    to: str,
    lot_id: int,
    quantity: int,
    reason: CustodyReason,
    reference_hash: bytes = bytes(32),
) -> TxReceipt:
    """Move ``quantity`` (thousandths of the lot's unit) of a lot from the sender."""
    call = registry.functions.transferCustody(
        sender.address, to, lot_id, quantity, int(reason), reference_hash
    )
    (receipt,) = sender.transact([call])
    logger.info(
        "Lot %d: %d moved from %s to %s (%s)",
        lot_id,
        quantity,
        sender.address,
        to,
        reason.label,
    )
    return receipt
