"""Decoding of raw logs with the registry's ABI."""

from __future__ import annotations

from binascii import unhexlify
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils import event_abi_to_log_topic

from ledger.errors import IndexerError


class UndecodableLog(IndexerError):
    """A log from the registry's address does not match any event of the ABI."""


@dataclass(frozen=True, slots=True)
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
        """Decode one raw ``eth_getLogs`` entry or raise UndecodableLog."""
        return self._decode(log, fast=True)

    def decode_with_eth_abi(self, log: dict[str, Any]) -> DecodedEvent:
        """Decode one log with eth-abi alone, the reference for the fast path."""
        return self._decode(log, fast=False)

    def _decode(self, log: dict[str, Any], fast: bool) -> DecodedEvent:
        try:
            topics = tuple(map(str.lower, log["topics"]))
        except TypeError:
            # A topic that is not a string then fails the checks below, which name
            # the log's position.
            topics = tuple([str(topic).lower() for topic in log["topics"]])
        layout = self._events.get(topics[0]) if topics else None
        if layout is None:
            raise UndecodableLog(
                f"The log at {_where(log)} has the unknown signature topic "
                f"{topics[0] if topics else 'none'}; the indexer's ABI does not match "
                "the deployed contract."
            )
        if len(topics) != len(layout.indexed) + 1:
            raise UndecodableLog(
                f"The {layout.name} log at {_where(log)} has {len(topics) - 1} indexed "
                f"topics; the ABI expects {len(layout.indexed)}."
            )
        data = str(log["data"]).lower()
        try:
            if fast and layout.data_words is not None:
                args = _decode_words(layout, layout.data_words, topics, data)
            else:
                args = _decode_eth_abi(layout, topics, data)
        except (DecodingError, ValueError) as exc:
            raise UndecodableLog(
                f"The {layout.name} log at {_where(log)} does not decode with the "
                f"ABI: {exc}"
            ) from exc
        address = log.get("address")
        return DecodedEvent(
            layout.name,
            args,
            int(log["blockNumber"], 16),
            str(log["blockHash"]).lower(),
            str(log["transactionHash"]).lower(),
            int(log["logIndex"], 16),
            topics,
            data,
            str(address).lower() if address else None,
            bool(log.get("removed", False)),
        )


# A field that one 32-byte word encodes: its name, where the word is, and the function
# that turns the word's 64 lower-case hex digits into the value. The place is a topic
# index for an indexed field and the offset of the word's first hex digit in the data
# for the others.
_WordField = tuple[str, int, Callable[[str], Any]]


@dataclass(frozen=True)
class _EventLayout:
    """An event's fields, split into topics and data, prepared once per ABI."""

    name: str
    indexed: tuple[tuple[str, str], ...]
    plain: tuple[tuple[str, str], ...]
    # The indexed and the data fields when every field fits one 32-byte word so that
    # slicing can decode them. None when a field has another type.
    topic_words: tuple[_WordField, ...] | None
    data_words: tuple[_WordField, ...] | None

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
        if not all(_is_word(abi_type) for _, abi_type in indexed + plain):
            return cls(event["name"], indexed, plain, None, None)
        topic_words = tuple(
            (name, index + 1, _word_decoder(abi_type))
            for index, (name, abi_type) in enumerate(indexed)
        )
        data_words = tuple(
            (name, 2 + 64 * index, _word_decoder(abi_type))
            for index, (name, abi_type) in enumerate(plain)
        )
        return cls(event["name"], indexed, plain, topic_words, data_words)


def _is_word(abi_type: str) -> bool:
    return abi_type in ("address", "bool", "bytes32") or (
        abi_type.startswith("uint") and abi_type[4:].isdigit()
    )


def _decode_words(
    layout: _EventLayout,
    data_words: tuple[_WordField, ...],
    topics: tuple[str, ...],
    data: str,
) -> dict[str, Any]:
    if len(data) != 2 + 64 * len(data_words):
        raise ValueError(
            f"the data has {(len(data) - 2) // 2} bytes, not {32 * len(data_words)}"
        )
    # Every digit must be hex, as eth-abi requires, because the word decoders rely on
    # it. unhexlify raises binascii.Error (a ValueError) and rejects whitespace.
    unhexlify(data[2:])
    args: dict[str, Any] = {}
    for name, index, decode_word in layout.topic_words or ():
        topic = topics[index]
        if len(topic) != 66:
            raise ValueError(f"a word has {len(topic) - 2} hex digits, not 64")
        word = topic[2:]
        unhexlify(word)
        args[name] = decode_word(word)
    for name, start, decode_word in data_words:
        args[name] = decode_word(data[start : start + 64])
    return args


# Decoders of one 32-byte word given as 64 lower-case hex digits, with eth-abi's
# strict checks.

_ZERO_PADDING = "0" * 24
_FALSE_WORD = "0" * 64
_TRUE_WORD = "0" * 63 + "1"


def _word_decoder(abi_type: str) -> Callable[[str], Any]:
    if abi_type == "bytes32":
        return _bytes32_word
    if abi_type == "address":
        return _address_word
    if abi_type == "bool":
        return _bool_word
    bits = int(abi_type[4:])
    if bits == 256:
        # 64 hex digits always fit 256 bits.
        return _uint256_word

    def uint_word(word: str) -> int:
        value = int(word, 16)
        if value >> bits:
            raise ValueError(f"{value} does not fit {abi_type}")
        return value

    return uint_word


def _uint256_word(word: str) -> int:
    return int(word, 16)


def _bytes32_word(word: str) -> str:
    return "0x" + word


def _address_word(word: str) -> str:
    if not word.startswith(_ZERO_PADDING):
        raise ValueError(f"0x{word} has non-zero padding for an address")
    return "0x" + word[24:]


def _bool_word(word: str) -> bool:
    if word == _FALSE_WORD:
        return False
    if word == _TRUE_WORD:
        return True
    raise ValueError(f"0x{word} is not a bool")


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
