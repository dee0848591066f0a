"""A lot's registered fields read from the chain, and reveals before split and merge.

The registry stores the fields of a lot made by a split or merge, and ``lot(id)``
returns them. A lot registered in a batch has only a commitment on chain until it is
revealed: its fields are in the batch's ``LotBatchRegistered`` log, which
``lotBatch(id)`` locates by its block and indexed first lot id, and ``verifyLot``
checks that log's entries against the stored commitment. Reading a lot this way
relies on the chain alone, never on the SQL mirror."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from eth_utils import keccak
from hexbytes import HexBytes
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.types import BlockIdentifier, RPCEndpoint

from ledger.chain.transactions import TransactionSender
from ledger.errors import ChainError, InvalidInput, NotFound, TransactionFailed
from ledger.lot_entries import LOT_BATCH_REGISTERED_TOPIC, BatchLog, parse_batch_log

logger = logging.getLogger(__name__)


class BatchLogUnavailable(ChainError):
    """The node returned an error, or no log, for a batch's ``LotBatchRegistered``."""


class ChainLot(NamedTuple):
    """A lot's fields, in the order of the registry's ``Lot`` struct."""

    building_id: bytes
    category: bytes
    record_hash: bytes
    quantity: int
    unit_mass_grams: int
    unit: int


_NOT_REVEALED = keccak(text="ReclaimRegistryLotNotRevealed(uint256)")[:4]
_UNKNOWN_LOT = keccak(text="ReclaimRegistryUnknownLot(uint256)")[:4]


def chain_lot(
    registry: Contract, lot_id: int, block: BlockIdentifier = "latest"
) -> ChainLot:
    """Return lot ``lot_id`` as the registry defines it at ``block``.

    A batch lot comes from ``verifyLot`` with its batch's log. Raises NotFound when
    the lot does not exist, BatchLogUnavailable when the node does not return its
    batch's log, and ChainError when ``verifyLot`` rejects the log's entries.
    """
    first_lot_id, count, block_number = _lot_batch(registry, lot_id, block)
    if count == 0:
        fields = registry.functions.lot(lot_id).call(block_identifier=block)
        return _chain_lot(fields)

    batch = batch_log(registry, first_lot_id, block_number)
    try:
        fields = registry.functions.verifyLot(
            lot_id, HexBytes(batch.building_id), HexBytes(batch.entries)
        ).call(block_identifier=block)
    except ContractLogicError as exc:
        raise ChainError(
            f"The registry rejects the entries of the LotBatchRegistered log of lot "
            f"{lot_id} in block {batch.block_number} ({exc}); the node's logs do "
            "not match its state. Check the node."
        ) from exc
    return _chain_lot(fields)


def batch_log(registry: Contract, first_lot_id: int, block_number: int) -> BatchLog:
    """Return the ``LotBatchRegistered`` log of the batch starting at ``first_lot_id``.

    ``block_number`` is the block that ``lotBatch`` names for the batch, so the
    request spans one block. Raises BatchLogUnavailable when the request fails or the
    node has no such log there.
    """
    query = {
        "address": registry.address,
        "fromBlock": hex(block_number),
        "toBlock": hex(block_number),
        "topics": [LOT_BATCH_REGISTERED_TOPIC, "0x" + f"{first_lot_id:064x}"],
    }
    response = registry.w3.provider.make_request(RPCEndpoint("eth_getLogs"), [query])
    if "error" in response:
        raise BatchLogUnavailable(
            f"eth_getLogs for the LotBatchRegistered log of the batch starting at "
            f"lot {first_lot_id} failed: {response['error']}; check the node and try "
            "again."
        )
    logs: list[dict[str, Any]] = response["result"]
    if not logs:
        raise BatchLogUnavailable(
            f"The node has no LotBatchRegistered log for the batch starting at lot "
            f"{first_lot_id} in block {block_number}; use a node with the registry's "
            "full log history."
        )
    try:
        return parse_batch_log(logs[0])
    except ValueError as exc:
        raise ChainError(
            f"The LotBatchRegistered log of lot {first_lot_id} does not decode: {exc}."
        ) from exc


def reveal_lots(
    registry: Contract, sender: TransactionSender, lot_ids: Iterable[int]
) -> list[int]:
    """Reveal every batch lot of ``lot_ids`` whose fields the registry has not stored.

    ``split`` and ``merge`` need the stored fields of their parents. Revealing is
    open to anyone and idempotent, so any sender can do it. The lots of one batch go
    in one ``revealLots`` transaction, which carries the batch's entries once.
    Returns the revealed ids in the order of ``lot_ids``.
    """
    revealed = []
    # The block of each batch's log and the lots to reveal, by the batch's first id.
    pending: dict[int, tuple[int, list[int]]] = {}
    for lot_id in dict.fromkeys(lot_ids):
        first_lot_id, count, block_number = _lot_batch(registry, lot_id, "latest")
        if count == 0 or _is_stored(registry, lot_id):
            continue
        pending.setdefault(first_lot_id, (block_number, []))[1].append(lot_id)
        revealed.append(lot_id)
    if not revealed:
        return []
    calls = []
    for first_lot_id, (block_number, batch_lot_ids) in pending.items():
        batch = batch_log(registry, first_lot_id, block_number)
        calls.append(
            registry.functions.revealLots(
                batch_lot_ids, HexBytes(batch.building_id), HexBytes(batch.entries)
            )
        )
    try:
        sender.transact(calls)
    except TransactionFailed as exc:
        lot_list = ", ".join(map(str, revealed))
        raise TransactionFailed(
            f"Revealing lots {lot_list} from their registration logs failed: {exc} "
            "Nothing was split or merged; check that the node serves the registry's "
            "logs, then try again."
        ) from exc
    logger.info("Revealed lots %s", revealed)
    return revealed


def check_mergeable(registry: Contract, lot_ids: Sequence[int]) -> None:
    """Raise InvalidInput unless there are two lots or more of one kind.

    Lots of one kind share category, unit and unit mass. The registry checks this
    too, but only after the lots are revealed, so checking first saves the reveals
    of a merge that would fail.
    """
    if len(lot_ids) < 2:
        raise InvalidInput(
            f"A merge needs at least two lots, not {len(lot_ids)}; list the lot ids "
            "separated by commas."
        )
    first_id = lot_ids[0]
    first = chain_lot(registry, first_id)
    for lot_id in lot_ids[1:]:
        other = chain_lot(registry, lot_id)
        kind = (other.category, other.unit_mass_grams, other.unit)
        if kind != (first.category, first.unit_mass_grams, first.unit):
            raise InvalidInput(
                f"Lots {first_id} and {lot_id} differ in category, unit or unit "
                "mass, so they cannot be merged; merge only lots of one kind."
            )


def _lot_batch(
    registry: Contract, lot_id: int, block: BlockIdentifier
) -> tuple[int, int, int]:
    try:
        first_lot_id, count, block_number = registry.functions.lotBatch(lot_id).call(
            block_identifier=block
        )
    except ContractLogicError as exc:
        if not _reverted_with(exc, _UNKNOWN_LOT):
            raise ChainError(
                f"lotBatch({lot_id}) reverted at block {block} with {exc.data!r}, "
                "not with the registry's unknown-lot error; check that the "
                "configured address holds this version of the registry."
            ) from exc
        raise NotFound(
            f"Lot {lot_id} is not registered on the chain at block {block}; check "
            "the lot id."
        ) from None
    return int(first_lot_id), int(count), int(block_number)


def _is_stored(registry: Contract, lot_id: int) -> bool:
    """True when ``lot(lot_id)`` returns the lot's fields, False when not revealed."""
    try:
        registry.functions.lot(lot_id).call()
    except ContractCustomError as exc:
        if _reverted_with(exc, _NOT_REVEALED):
            return False
        raise
    return True


def _reverted_with(exc: ContractLogicError, selector: bytes) -> bool:
    """True when ``exc`` is a revert with the custom error of ``selector``."""
    return isinstance(exc, ContractCustomError) and HexBytes(exc.data)[:4] == selector


def _chain_lot(fields: Any) -> ChainLot:
    building, category, record_hash, quantity, unit_mass, unit = fields
    return ChainLot(
        bytes(building),
        bytes(category),
        bytes(record_hash),
        int(quantity),
        int(unit_mass),
        int(unit),
    )
