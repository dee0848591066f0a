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

logger = logging.getLogger(__name__)

# A batch of 100 lots uses about 14.3 M gas (142,691 per lot in the gas benchmark),
# under the 15 M base-fee target of anvil's default 30 M gas block, so the base fee
# stays nearly flat. Batches of 150 raised it by about 5 % per block, past the
# sender's fee cap within 10,000 lots.
DEFAULT_LOT_BATCH_SIZE = 100


class CustodyReason(enum.IntEnum):
    """Reason for a custody move, with the values of the contract's ``CustodyReason``."""

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
        """The reason as written in the CLI and the API, such as ``transport-handoff``."""
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

    def as_tuple(self) -> tuple[bytes, bytes, int, int, int, bytes]:
        """Return the lot as the contract's ABI tuple ``LotInput``."""
        return (
            self.building_id,
            self.category,
            self.unit,
            self.quantity,
            self.unit_mass_grams,
            self.record_hash,
        )


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
) -> list[TxReceipt]:
    """Register lots in batches of ``batch_size``, all minted to ``holder``.

    Batches are sent back to back and their receipts collected at the end; lots get
    consecutive ids in the order given. ``on_batch_sent`` receives each batch's size.
    The receipts contain only the fields of ``RECEIPT_SUMMARY_FIELDS``, not the logs.

    Only the first batch is estimated, and it raises TransactionFailed with the
    decoded reason if it would revert. Later batches get the first batch's gas per
    lot instead of a second execution each. Lots differ in cost only by their data,
    and a non-zero unit writes one more slot (22,100 gas), which the estimate's 20 %
    margin covers. A later batch that reverts on chain raises TransactionFailed with
    its decoded reason, and the batches before it stay registered.
    """
    if batch_size < 1:
        raise InvalidInput(f"Batch size {batch_size!r} must be at least 1.")
    if not lots:
        return []
    batches = [
        lots[start : start + batch_size] for start in range(0, len(lots), batch_size)
    ]
    calls = [
        registry.functions.registerLots(holder, [lot.as_tuple() for lot in batch])
        for batch in batches
    ]
    gas_per_lot = -(-sender.estimate(calls[0]) // len(batches[0]))
    block_gas_limit = int(sender.w3.eth.get_block("latest")["gasLimit"])
    hashes = []
    for batch, call in zip(batches, calls, strict=True):
        gas = min(gas_per_lot * len(batch), block_gas_limit)
        hashes.append(sender.send(call, gas=gas))
        if on_batch_sent is not None:
            on_batch_sent(len(batch))
    receipts = wait_for_receipts(
        sender.w3, hashes, check_status=False, include_logs=False
    )

    registered = 0
    for batch, call, receipt in zip(batches, calls, receipts, strict=True):
        if receipt["status"] != 1:
            _raise_batch_reverted(sender, call, receipt, registered, len(batch))
        registered += len(batch)
    return receipts


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
