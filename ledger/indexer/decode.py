"""Decoding of raw logs with the registry's ABI."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils import event_abi_to_log_topic

from ledger.errors import IndexerError


class UndecodableLog(IndexerError):
    """A log from the registry's address does not match any event of the ABI."""


@dataclass(frozen=True)
class DecodedEvent:
    """A decoded log with where it came from.

    Addresses in ``args`` are lower-case hex strings, ``bytes32`` values 0x-prefixed
    hex strings and integers Python ints.
    """

    name: str
    args: dict[str, Any]
    block_number: int
    block_hash: str
    transaction_hash: str
    log_index: int
    topics: tuple[str, ...]
    data: str
    address: str | None = None
    removed: bool = False

    @property
    def position(self) -> tuple[int, int]:
        """The event's place in the chain: (block number, log index)."""
        return (self.block_number, self.log_index)


class EventDecoder:
    """Decodes the logs of one contract with its ABI.

    Events whose fields are all one-word static types (integers, addresses, bool,
    ``bytes32``) are decoded by slicing the hex text into 32-byte words, with the same
    range and padding checks as eth-abi's strict decoder. Other events go through
    eth-abi. Both give the same values; a test compares them on real logs.
    """

    def __init__(self, abi: Iterable[dict[str, Any]]) -> None:
        self._events: dict[str, _EventLayout] = {}
        for item in abi:
            if item.get("type") == "event" and not item.get("anonymous"):
                topic = "0x" + event_abi_to_log_topic(item).hex()  # type: ignore[arg-type]
                self._events[topic] = _EventLayout.of(item)

    def decode(self, log: dict[str, Any]) -> DecodedEvent:
        """Decode one raw ``eth_getLogs`` entry; raise UndecodableLog if it does not fit."""
        return self._decode(log, fast=True)

    def decode_with_eth_abi(self, log: dict[str, Any]) -> DecodedEvent:
        """Decode one log with eth-abi alone, the reference for the fast path."""
        return self._decode(log, fast=False)

    def _decode(self, log: dict[str, Any], fast: bool) -> DecodedEvent:
        topics = tuple(str(topic).lower() for topic in log["topics"])
        if not topics or topics[0] not in self._events:
            raise UndecodableLog(
                f"The log at {_where(log)} has the unknown signature topic "
                f"{topics[0] if topics else 'none'}; the indexer's ABI does not match "
                "the deployed contract."
            )
        layout = self._events[topics[0]]
        if len(topics) != len(layout.indexed) + 1:
            raise UndecodableLog(
                f"The {layout.name} log at {_where(log)} has {len(topics) - 1} indexed "
                f"topics; the ABI expects {len(layout.indexed)}."
            )
        data = str(log["data"]).lower()
        try:
            if fast and layout.static_data:
                args = _decode_words(layout, topics, data)
            else:
                args = _decode_eth_abi(layout, topics, data)
        except (DecodingError, ValueError) as exc:
            raise UndecodableLog(
                f"The {layout.name} log at {_where(log)} does not decode with the "
                f"ABI: {exc}"
            ) from exc
        return DecodedEvent(
            name=layout.name,
            args=args,
            block_number=int(log["blockNumber"], 16),
            block_hash=str(log["blockHash"]).lower(),
            transaction_hash=str(log["transactionHash"]).lower(),
            log_index=int(log["logIndex"], 16),
            topics=topics,
            data=data,
            address=str(log["address"]).lower() if log.get("address") else None,
            removed=bool(log.get("removed", False)),
        )


@dataclass(frozen=True)
class _EventLayout:
    """An event's fields, split into topics and data, prepared once per ABI."""

    name: str
    indexed: tuple[tuple[str, str], ...]
    plain: tuple[tuple[str, str], ...]
    # True when every field fits one 32-byte word, so slicing can decode it.
    static_data: bool

    @classmethod
    def of(cls, event: dict[str, Any]) -> _EventLayout:
        indexed = tuple(
            (field["name"], field["type"])
            for field in event["inputs"]
            if field["indexed"]
        )
        plain = tuple(
            (field["name"], field["type"])
            for field in event["inputs"]
            if not field["indexed"]
        )
        static = all(_is_word(abi_type) for _, abi_type in indexed + plain)
        return cls(event["name"], indexed, plain, static)


def _is_word(abi_type: str) -> bool:
    return abi_type in ("address", "bool", "bytes32") or (
        abi_type.startswith("uint") and abi_type[4:].isdigit()
    )


def _decode_words(
    layout: _EventLayout, topics: tuple[str, ...], data: str
) -> dict[str, Any]:
    if len(data) != 2 + 64 * len(layout.plain):
        raise ValueError(
            f"the data has {(len(data) - 2) // 2} bytes, not {32 * len(layout.plain)}"
        )
    args: dict[str, Any] = {}
    for (name, abi_type), topic in zip(layout.indexed, topics[1:], strict=True):
        args[name] = _word(topic[2:], abi_type)
    for index, (name, abi_type) in enumerate(layout.plain):
        args[name] = _word(data[2 + 64 * index : 66 + 64 * index], abi_type)
    return args


def _word(word: str, abi_type: str) -> Any:
    """Decode one 32-byte word given as 64 hex digits, as eth-abi's strict mode does."""
    if len(word) != 64:
        raise ValueError(f"a word has {len(word)} hex digits, not 64")
    if abi_type == "bytes32":
        return "0x" + word
    value = int(word, 16)
    if abi_type == "address":
        if value >> 160:
            raise ValueError(f"0x{word} has non-zero padding for an address")
        return "0x" + word[24:]
    if abi_type == "bool":
        if value > 1:
            raise ValueError(f"0x{word} is not a bool")
        return bool(value)
    bits = int(abi_type[4:])
    if value >> bits:
        raise ValueError(f"{value} does not fit {abi_type}")
    return value


def _decode_eth_abi(
    layout: _EventLayout, topics: tuple[str, ...], data: str
) -> dict[str, Any]:
    indexed_values = [
        abi_decode([abi_type], bytes.fromhex(topic[2:]))[0]
        for (_, abi_type), topic in zip(layout.indexed, topics[1:], strict=True)
    ]
    plain_values = abi_decode(
        [abi_type for _, abi_type in layout.plain], bytes.fromhex(data[2:])
    )
    args: dict[str, Any] = {}
    for (name, abi_type), value in zip(layout.indexed, indexed_values, strict=True):
        args[name] = _normalise(value, abi_type)
    for (name, abi_type), value in zip(layout.plain, plain_values, strict=True):
        args[name] = _normalise(value, abi_type)
    return args


def _where(log: dict[str, Any]) -> str:
    return f"block {int(log['blockNumber'], 16)}, log index {int(log['logIndex'], 16)}"


def _normalise(value: Any, abi_type: str) -> Any:
    if abi_type.endswith("[]"):
        return [_normalise(item, abi_type[:-2]) for item in value]
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if abi_type == "address":
        return str(value).lower()
    return value
