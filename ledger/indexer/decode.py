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
    """Decodes the logs of one contract with its ABI."""

    def __init__(self, abi: Iterable[dict[str, Any]]) -> None:
        self._events: dict[str, dict[str, Any]] = {}
        for item in abi:
            if item.get("type") == "event" and not item.get("anonymous"):
                topic = "0x" + event_abi_to_log_topic(item).hex()  # type: ignore[arg-type]
                self._events[topic] = item

    def decode(self, log: dict[str, Any]) -> DecodedEvent:
        """Decode one raw ``eth_getLogs`` entry; raise UndecodableLog if it does not fit."""
        topics = tuple(str(topic).lower() for topic in log["topics"])
        where = (
            f"block {int(log['blockNumber'], 16)}, log index {int(log['logIndex'], 16)}"
        )
        if not topics or topics[0] not in self._events:
            raise UndecodableLog(
                f"The log at {where} has the unknown signature topic "
                f"{topics[0] if topics else 'none'}; the indexer's ABI does not match "
                "the deployed contract."
            )
        event = self._events[topics[0]]
        indexed = [field for field in event["inputs"] if field["indexed"]]
        plain = [field for field in event["inputs"] if not field["indexed"]]
        if len(topics) != len(indexed) + 1:
            raise UndecodableLog(
                f"The {event['name']} log at {where} has {len(topics) - 1} indexed "
                f"topics; the ABI expects {len(indexed)}."
            )

        data = bytes.fromhex(str(log["data"])[2:])
        try:
            indexed_values = [
                abi_decode([field["type"]], bytes.fromhex(topic[2:]))[0]
                for field, topic in zip(indexed, topics[1:], strict=True)
            ]
            plain_values = abi_decode([field["type"] for field in plain], data)
        except (DecodingError, ValueError) as exc:
            raise UndecodableLog(
                f"The {event['name']} log at {where} does not decode with the ABI: {exc}"
            ) from exc

        args: dict[str, Any] = {}
        for field, value in zip(indexed, indexed_values, strict=True):
            args[field["name"]] = _normalise(value, field["type"])
        for field, value in zip(plain, plain_values, strict=True):
            args[field["name"]] = _normalise(value, field["type"])
        return DecodedEvent(
            name=event["name"],
            args=args,
            block_number=int(log["blockNumber"], 16),
            block_hash=str(log["blockHash"]).lower(),
            transaction_hash=str(log["transactionHash"]).lower(),
            log_index=int(log["logIndex"], 16),
            topics=topics,
            data=str(log["data"]).lower(),
            address=str(log["address"]).lower() if log.get("address") else None,
            removed=bool(log.get("removed", False)),
        )


def _normalise(value: Any, abi_type: str) -> Any:
    if abi_type.endswith("[]"):
        return [_normalise(item, abi_type[:-2]) for item in value]
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if abi_type == "address":
        return str(value).lower()
    return value
