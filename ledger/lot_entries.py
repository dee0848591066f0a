"""The registry's packed lot entries, as ``registerLots`` takes them.

One call of ``registerLots(holder, buildingId, entries)`` registers up to
``MAX_BATCH_SIZE`` lots of one building for one holder. ``entries`` is the lots'
81-byte entries back to back: record hash (32 bytes), category (32 bytes), quantity
in thousandths of the unit (uint64, big-endian), unit mass in grams (uint64,
big-endian) and unit (one byte). The same bytes come back in the
``LotBatchRegistered`` event, and ``revealLot``, ``revealLots`` and ``verifyLot``
take them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from ledger.errors import InvalidInput

ENTRY_SIZE = 81
MAX_BATCH_SIZE = 256
UINT64_MAX = 2**64 - 1
# Topics of LotBatchRegistered: this signature's hash, then firstLotId, buildingId and
# holder.
LOT_BATCH_REGISTERED_TOPIC = (
    "0x" + keccak(text="LotBatchRegistered(uint256,bytes32,address,bytes)").hex()
)

_HEX_ENTRY = 2 * ENTRY_SIZE


@dataclass(frozen=True, slots=True)
class LotEntry:
    """One lot of a batch, with bytes32 values as 0x-prefixed lower-case hex."""

    record_hash: str
    category: str
    quantity: int
    unit_mass_grams: int
    unit: int


def check_uint64(value: int, label: str) -> None:
    """Raise InvalidInput if ``value`` does not fit the registry's uint64 fields.

    ``label`` starts the message, such as ``"The quantity in thousandths"``.
    """
    if not 0 <= value <= UINT64_MAX:
        raise InvalidInput(
            f"{label} is {value}, outside the range 0 to {UINT64_MAX} that the "
            "registry stores in 64 bits; split the lot into smaller lots or correct "
            "the value."
        )


def pack_entry(
    record_hash: bytes,
    category: bytes,
    quantity: int,
    unit_mass_grams: int,
    unit: int,
) -> bytes:
    """Return one lot's 81-byte entry, or raise InvalidInput if a value does not fit."""
    if len(record_hash) != 32 or len(category) != 32:
        raise InvalidInput(
            f"A record hash and a category are 32 bytes each, not {len(record_hash)} "
            f"and {len(category)}; pass them as bytes32 values."
        )
    check_uint64(quantity, "The quantity in thousandths")
    check_uint64(unit_mass_grams, "The unit mass in grams")
    if not 0 <= unit <= 255:
        raise InvalidInput(f"The unit {unit!r} does not fit one byte; use 0 to 4.")
    return (
        record_hash
        + category
        + quantity.to_bytes(8, "big")
        + unit_mass_grams.to_bytes(8, "big")
        + bytes((unit,))
    )


def entry_count(entries_hex: str) -> int:
    """Return the number of entries in ``entries`` given as 0x-prefixed hex."""
    digits = len(entries_hex) - 2
    if digits % _HEX_ENTRY:
        raise ValueError(
            f"the entries have {digits // 2} bytes, not a multiple of {ENTRY_SIZE}"
        )
    return digits // _HEX_ENTRY


def unpack_entries(entries_hex: str) -> list[LotEntry]:
    """Decode ``entries`` given as 0x-prefixed lower-case hex, as the indexer has them.

    Raises ValueError when the length is not a whole number of entries.
    """
    count = entry_count(entries_hex)
    unpacked = []
    for index in range(count):
        start = 2 + index * _HEX_ENTRY
        unpacked.append(
            LotEntry(
                record_hash="0x" + entries_hex[start : start + 64],
                category="0x" + entries_hex[start + 64 : start + 128],
                quantity=int(entries_hex[start + 128 : start + 144], 16),
                unit_mass_grams=int(entries_hex[start + 144 : start + 160], 16),
                unit=int(entries_hex[start + 160 : start + 162], 16),
            )
        )
    return unpacked


@dataclass(frozen=True, slots=True)
class BatchLog:
    """A ``LotBatchRegistered`` log as ``eth_getLogs`` returns it, decoded.

    ``building_id`` and ``entries`` are 0x-prefixed lower-case hex, ``holder`` a
    lower-case address.
    """

    first_lot_id: int
    building_id: str
    holder: str
    entries: str
    block_number: int
    log_index: int

    @property
    def lot_count(self) -> int:
        """The number of lots the batch registered."""
        return entry_count(self.entries)

    def entry(self, lot_id: int) -> LotEntry:
        """Return the entry of ``lot_id``, one of the batch's lots."""
        offset = lot_id - self.first_lot_id
        if not 0 <= offset < self.lot_count:
            raise ValueError(
                f"lot {lot_id} is not in the batch from {self.first_lot_id}"
            )
        start = 2 + offset * _HEX_ENTRY
        return unpack_entries("0x" + self.entries[start : start + _HEX_ENTRY])[0]

    def lot_fields(self, lot_id: int) -> tuple[bytes, bytes, bytes, int, int, int]:
        """Return lot ``lot_id`` in the order of the registry's ``Lot`` struct.

        The fields are building id, category, record hash, quantity, unit mass in
        grams and unit, as ``verifyLot`` returns them.
        """
        entry = self.entry(lot_id)
        return (
            bytes.fromhex(self.building_id[2:]),
            bytes.fromhex(entry.category[2:]),
            bytes.fromhex(entry.record_hash[2:]),
            entry.quantity,
            entry.unit_mass_grams,
            entry.unit,
        )


def parse_batch_log(log: dict[str, Any]) -> BatchLog:
    """Decode a raw ``LotBatchRegistered`` log, or raise ValueError if it does not fit.

    The data is the ABI encoding of one ``bytes`` value: the offset 32, the length
    and the bytes, padded to whole words.
    """
    topics = [str(topic).lower() for topic in log["topics"]]
    if len(topics) != 4 or topics[0] != LOT_BATCH_REGISTERED_TOPIC:
        raise ValueError("the log is not a LotBatchRegistered event")
    data = str(log["data"]).lower()
    if len(data) < 130 or int(data[2:66], 16) != 32:
        raise ValueError("the log's data is not one ABI-encoded bytes value")
    length = int(data[66:130], 16)
    if len(data) < 130 + 2 * length:
        raise ValueError(
            f"the log's data is shorter than its {length} bytes of entries"
        )
    entries = "0x" + data[130 : 130 + 2 * length]
    entry_count(entries)
    return BatchLog(
        first_lot_id=int(topics[1], 16),
        building_id=topics[2],
        holder="0x" + topics[3][-40:],
        entries=entries,
        block_number=int(log["blockNumber"], 16),
        log_index=int(log["logIndex"], 16),
    )
