"""Helpers for store tests: registry events encoded as a node returns them."""

from __future__ import annotations

from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import event_abi_to_log_topic
from sqlalchemy import Engine

from ledger.contracts.artifacts import load_artifact
from ledger.indexer.store import Checkpoint, create_checkpoint

ABI = load_artifact()["abi"]
EVENTS = {item["name"]: item for item in ABI if item.get("type") == "event"}
CONTRACT = "0x" + "11" * 20


def block_hash(number: int) -> str:
    """Return a made-up hash of block ``number``, distinct for each number."""
    return "0x" + f"{number:064x}".replace("0", "e")


def encoded_log(
    name: str, block: int, log_index: int, transaction_hash: str, **values: Any
) -> dict[str, Any]:
    """Return a raw eth_getLogs entry of event ``name`` with ``values`` ABI-encoded."""
    event = EVENTS[name]
    topics = ["0x" + event_abi_to_log_topic(event).hex()]
    plain_types = []
    plain_values = []
    for field in event["inputs"]:
        value = values[field["name"]]
        if field["indexed"]:
            topics.append("0x" + abi_encode([field["type"]], [value]).hex())
        else:
            plain_types.append(field["type"])
            plain_values.append(value)
    return {
        "address": CONTRACT,
        "topics": topics,
        "data": "0x" + abi_encode(plain_types, plain_values).hex(),
        "blockNumber": hex(block),
        "blockHash": block_hash(block),
        "transactionHash": transaction_hash,
        "logIndex": hex(log_index),
        "removed": False,
    }


def create_empty_checkpoint(engine: Engine, first_block: int) -> None:
    """Initialise a mirror of ``CONTRACT`` that starts at ``first_block``."""
    with engine.begin() as connection:
        create_checkpoint(
            connection,
            Checkpoint(
                chain_id=31337,
                genesis_hash=block_hash(0),
                contract_address=CONTRACT,
                start_block=first_block,
                last_block=first_block - 1,
                last_block_hash=None,
            ),
        )
