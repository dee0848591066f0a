"""The event decoder's checks on malformed logs, on both of its paths."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.contracts.artifacts import load_artifact
from ledger.indexer.decode import EventDecoder, UndecodableLog

DECODER = EventDecoder(load_artifact()["abi"])
# CustodyTransferred(uint256 indexed lotId, address indexed from, address indexed to,
#   uint256 quantity, uint8 reason, bytes32 referenceHash, address operator)
TOPIC = next(
    topic
    for topic, layout in DECODER._events.items()  # noqa: SLF001
    if layout.name == "CustodyTransferred"
)
ADDRESS_WORD = "00" * 12 + "ab" * 20


def _log(topics: list[str], words: list[str]) -> dict[str, Any]:
    return {
        "address": "0x" + "11" * 20,
        "topics": topics,
        "data": "0x" + "".join(words),
        "blockNumber": "0x5",
        "blockHash": "0x" + "22" * 32,
        "transactionHash": "0x" + "33" * 32,
        "logIndex": "0x0",
    }


def _transfer(**changes: str) -> dict[str, Any]:
    words = {
        "quantity": f"{1500:064x}",
        "reason": f"{1:064x}",
        "reference": "44" * 32,
        "operator": ADDRESS_WORD,
    }
    words.update(changes)
    return _log(
        [TOPIC, "0x" + f"{7:064x}", "0x" + ADDRESS_WORD, "0x" + ADDRESS_WORD],
        list(words.values()),
    )


@pytest.mark.parametrize("decode", ["decode", "decode_with_eth_abi"])
def test_well_formed_transfer(decode: str) -> None:
    event = getattr(DECODER, decode)(_transfer())
    assert event.name == "CustodyTransferred"
    assert event.args == {
        "lotId": 7,
        "from": "0x" + "ab" * 20,
        "to": "0x" + "ab" * 20,
        "quantity": 1500,
        "reason": 1,
        "referenceHash": "0x" + "44" * 32,
        "operator": "0x" + "ab" * 20,
    }


@pytest.mark.parametrize("decode", ["decode", "decode_with_eth_abi"])
@pytest.mark.parametrize(
    "changes",
    [
        {"reason": f"{256:064x}"},  # too large for uint8
        {"operator": "ff" * 12 + "ab" * 20},  # address with non-zero padding
    ],
    ids=["uint8 overflow", "address padding"],
)
def test_out_of_range_word_is_rejected(decode: str, changes: dict[str, str]) -> None:
    with pytest.raises(UndecodableLog, match="does not decode with the ABI"):
        getattr(DECODER, decode)(_transfer(**changes))


@pytest.mark.parametrize("decode", ["decode", "decode_with_eth_abi"])
@pytest.mark.parametrize(
    "changes",
    [
        {"reference": "zz" * 32},
        {"quantity": "0" * 62 + "_1"},
        {"quantity": " " + "0" * 62 + "1"},
    ],
    ids=["bytes32 not hex", "underscore in uint", "space in uint"],
)
def test_non_hex_word_is_rejected(decode: str, changes: dict[str, str]) -> None:
    with pytest.raises(UndecodableLog, match="does not decode with the ABI"):
        getattr(DECODER, decode)(_transfer(**changes))


@pytest.mark.parametrize("decode", ["decode", "decode_with_eth_abi"])
def test_non_hex_topic_is_rejected(decode: str) -> None:
    log = _transfer()
    log["topics"][1] = "0x" + "0" * 62 + "_7"
    with pytest.raises(UndecodableLog, match="does not decode with the ABI"):
        getattr(DECODER, decode)(log)


@pytest.mark.parametrize("decode", ["decode", "decode_with_eth_abi"])
def test_topic_not_string_is_rejected(decode: str) -> None:
    log = _transfer()
    log["topics"][1] = 7
    with pytest.raises(UndecodableLog, match="does not decode with the ABI"):
        getattr(DECODER, decode)(log)


@pytest.mark.parametrize("decode", ["decode", "decode_with_eth_abi"])
def test_upper_case_hex_is_read_as_lower_case(decode: str) -> None:
    log = _transfer()
    log["topics"] = [topic.upper().replace("0X", "0x") for topic in log["topics"]]
    log["data"] = log["data"].upper().replace("0X", "0x")
    assert getattr(DECODER, decode)(log) == getattr(DECODER, decode)(_transfer())


def test_short_data_is_rejected() -> None:
    log = _transfer()
    log["data"] = log["data"][:-64]
    with pytest.raises(UndecodableLog, match="does not decode"):
        DECODER.decode(log)
    with pytest.raises(UndecodableLog, match="does not decode"):
        DECODER.decode_with_eth_abi(log)


@pytest.mark.parametrize("decode", ["decode", "decode_with_eth_abi"])
def test_short_topic_is_rejected(decode: str) -> None:
    log = _transfer()
    log["topics"][1] = log["topics"][1][:-2]
    with pytest.raises(UndecodableLog, match="does not decode with the ABI"):
        getattr(DECODER, decode)(log)


@pytest.mark.parametrize("decode", ["decode", "decode_with_eth_abi"])
def test_bool_above_one_is_rejected(decode: str) -> None:
    # ClaimAudited(uint256 indexed claimId, address indexed auditor, bool approved,
    #   bytes32 reasonsHash)
    topic = next(
        topic
        for topic, layout in DECODER._events.items()  # noqa: SLF001
        if layout.name == "ClaimAudited"
    )
    log = _log(
        [topic, "0x" + f"{9:064x}", "0x" + ADDRESS_WORD], [f"{2:064x}", "55" * 32]
    )
    with pytest.raises(UndecodableLog, match="does not decode with the ABI"):
        getattr(DECODER, decode)(log)

    log["data"] = "0x" + f"{1:064x}" + "55" * 32
    assert getattr(DECODER, decode)(log).args["approved"] is True
