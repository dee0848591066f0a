"""Signing and sending transactions: every write to the chain goes through here.

Transactions are signed locally with eth-account and sent as raw transactions. A
sender keeps its own nonce counter, so many transactions go out back to back without
waiting for each receipt. The receipts are collected afterwards in one pass.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any, cast

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import EncodingError
from eth_account.signers.local import LocalAccount
from eth_utils import function_abi_to_4byte_selector, get_abi_input_types
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.datastructures import AttributeDict
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    TransactionNotFound,
    Web3RPCError,
)
from web3.types import RPCEndpoint, TxReceipt

from ledger.errors import TransactionFailed

logger = logging.getLogger(__name__)

GAS_MARGIN_PERCENT = 20
PRIORITY_FEE_WEI = 1_000_000_000
RECEIPT_TIMEOUT = 120.0
RECEIPT_POLL_INTERVAL = 0.02
# Seconds without a new receipt after which anvil is asked to mine its pending pool.
ANVIL_STALL_SECONDS = 2.0
# The receipt fields that wait_for_receipts(include_logs=False) returns.
RECEIPT_SUMMARY_FIELDS = (
    "transactionHash",
    "blockHash",
    "blockNumber",
    "status",
    "gasUsed",
)


class RevertDecoder:
    """Decoder of revert data into ``Name(arg=value, ...)`` with an ABI's errors."""

    def __init__(self, abi: Iterable[dict[str, Any]]) -> None:
        self._errors: dict[bytes, dict[str, Any]] = {}
        for item in abi:
            if item.get("type") == "error":
                self._errors[function_abi_to_4byte_selector(item)] = item

    def describe(self, data: bytes | str | None) -> str:
        """Return a readable form of revert ``data``."""
        raw = HexBytes(data) if data else b""
        if len(raw) < 4:
            return "reverted without a reason"
        error = self._errors.get(bytes(raw[:4]))
        if error is None:
            return f"reverted with unknown error data 0x{bytes(raw).hex()}"
        types = [field["type"] for field in error["inputs"]]
        values = abi_decode(types, bytes(raw[4:]))
        args = ", ".join(
            f"{field['name']}={_render(value)}"
            for field, value in zip(error["inputs"], values, strict=True)
        )
        return f"{error['name']}({args})"


class TransactionSender:
    """Signs and sends transactions for one account, with a local nonce counter.

    Safe to share between threads: nonces are handed out under a lock, so concurrent
    sends get consecutive nonces and none is reused.
    """

    def __init__(
        self, w3: Web3, account: LocalAccount, decoder: RevertDecoder | None = None
    ) -> None:
        self.w3 = w3
        self.account = account
        self.chain_id = w3.eth.chain_id
        self._decoder = decoder
        self._lock = threading.Lock()
        self._nonce = w3.eth.get_transaction_count(account.address, "pending")
        self._max_fee = self._fee_cap()
        # Receipts of the latest ``transact`` call, for callers that report hashes.
        self.last_receipts: list[TxReceipt] = []

    @property
    def address(self) -> str:
        """The sender's checksummed address."""
        return str(self.account.address)

    def send(self, call: ContractFunction, gas: int | None = None) -> HexBytes:
        """Sign and send one contract call; return its transaction hash.

        Without ``gas``, the call is estimated first, which raises TransactionFailed
        with the decoded reason if it would revert.
        """
        data = encode_call(call)
        if gas is None:
            gas = self._estimate(call, data)
        with self._lock:
            fields = {
                "nonce": self._nonce,
                "gas": gas,
                "chainId": self.chain_id,
                "maxFeePerGas": self._max_fee,
                "maxPriorityFeePerGas": PRIORITY_FEE_WEI,
            }
            if data is None:
                transaction = call.build_transaction(
                    {"from": self.account.address, **fields}
                )
            else:
                transaction = {"to": call.address, "data": data, "value": 0, **fields}
            signed = self.account.sign_transaction(transaction)
            try:
                tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
            except Web3RPCError:
                # The node may have seen transactions from this account that we did
                # not send; take its count before the next attempt.
                self._nonce = self.w3.eth.get_transaction_count(
                    self.account.address, "pending"
                )
                raise
            self._nonce += 1
        logger.debug("Sent %s as %s", _call_name(call), tx_hash.hex())
        return tx_hash

    def transact(self, calls: Sequence[ContractFunction]) -> list[TxReceipt]:
        """Send every call back to back, then wait for all receipts."""
        hashes = [self.send(call) for call in calls]
        self.last_receipts = wait_for_receipts(self.w3, hashes)
        return self.last_receipts

    def estimate(self, call: ContractFunction) -> int:
        """Return the call's gas estimate plus the safety margin.

        Raises TransactionFailed with the decoded reason if the call would revert.
        """
        return self._estimate(call, encode_call(call))

    def _estimate(self, call: ContractFunction, data: bytes | None) -> int:
        try:
            if data is None:
                estimate = call.estimate_gas({"from": self.account.address})
            else:
                estimate = self.w3.eth.estimate_gas(
                    {"from": self.account.address, "to": call.address, "data": data}
                )
        except ContractCustomError as exc:
            raise TransactionFailed(
                f"{_call_name(call)} would revert: {self._describe(exc.data)}."
            ) from exc
        except ContractLogicError as exc:
            raise TransactionFailed(
                f"{_call_name(call)} would revert: {exc.message or exc.data}."
            ) from exc
        return estimate * (100 + GAS_MARGIN_PERCENT) // 100

    def revert_reason(self, call: ContractFunction, block: int) -> str | None:
        """Return why ``call`` reverts on the state after ``block``, or None if not.

        Used to explain a transaction that was sent without an estimate and reverted.
        """
        data = encode_call(call)
        request = {"from": self.account.address, "to": call.address}
        try:
            if data is None:
                call.call({"from": self.account.address}, block_identifier=block)
            else:
                self.w3.eth.call({**request, "data": data}, block)
        except ContractCustomError as exc:
            return self._describe(exc.data)
        except ContractLogicError as exc:
            return str(exc.message or exc.data)
        return None

    def _describe(self, data: Any) -> str:
        if self._decoder is None:
            return f"error data {data}"
        return self._decoder.describe(data)

    def _fee_cap(self) -> int:
        latest = self.w3.eth.get_block("latest")
        base_fee = int(latest.get("baseFeePerGas", 0))
        return 2 * base_fee + PRIORITY_FEE_WEI


def encode_call(call: Any) -> bytes | None:
    """Return the calldata of a contract function call, encoded with eth-abi.

    web3's own encoder normalises every argument in Python and takes about 50 ms for a
    batch of 100 lots, against 6 ms here. Returns None for constructors, keyword
    arguments and arguments that eth-abi rejects as given (such as hex strings for
    ``bytes32``), which go through web3's encoder instead.
    """
    if not isinstance(call, ContractFunction) or call.kwargs:
        return None
    try:
        arguments = abi_encode(get_abi_input_types(call.abi), call.args)
    except (EncodingError, TypeError, ValueError):
        return None
    return function_abi_to_4byte_selector(call.abi) + arguments


def wait_for_receipts(
    w3: Web3,
    hashes: Sequence[HexBytes],
    timeout: float = RECEIPT_TIMEOUT,
    check_status: bool = True,
    include_logs: bool = True,
    raw_logs: bool = False,
) -> list[TxReceipt]:
    """Wait until every transaction is mined and return the receipts in order.

    Raises TransactionFailed on a timeout, and with ``check_status`` also if a
    transaction reverted. Without ``include_logs``, each receipt contains only the
    fields of ``RECEIPT_SUMMARY_FIELDS``, which skips web3's formatting of every log;
    ``raw_logs`` then adds ``logs`` as the node sent them (hex strings).
    """
    receipts: dict[HexBytes, TxReceipt] = {}
    deadline = time.monotonic() + timeout
    last_progress = time.monotonic()
    while len(receipts) < len(hashes):
        received = len(receipts)
        for tx_hash in hashes:
            if tx_hash in receipts:
                continue
            if include_logs:
                try:
                    receipts[tx_hash] = w3.eth.get_transaction_receipt(tx_hash)
                except TransactionNotFound:
                    continue
            else:
                summary = _receipt_summary(w3, tx_hash, raw_logs)
                if summary is not None:
                    receipts[tx_hash] = summary
        if len(receipts) > received:
            last_progress = time.monotonic()
        if len(receipts) < len(hashes):
            if time.monotonic() > deadline:
                missing = len(hashes) - len(receipts)
                raise TransactionFailed(
                    f"{missing} of {len(hashes)} transactions were not mined within "
                    f"{timeout:.0f} s; check that the node is mining."
                )
            if time.monotonic() - last_progress > ANVIL_STALL_SECONDS:
                _mine_if_anvil(w3, len(hashes) - len(receipts))
                last_progress = time.monotonic()
            time.sleep(RECEIPT_POLL_INTERVAL)

    ordered = [receipts[tx_hash] for tx_hash in hashes]
    if not check_status:
        return ordered
    for receipt in ordered:
        if receipt["status"] != 1:
            raise TransactionFailed(
                f"Transaction 0x{bytes(receipt['transactionHash']).hex()} reverted in "
                f"block {receipt['blockNumber']}."
            )
    return ordered


def _mine_if_anvil(w3: Web3, missing: int) -> None:
    """Mine one block with ``evm_mine`` if the node is anvil; other nodes mine alone.

    With automine, anvil 1.7.1 sometimes leaves a transaction of a burst of sends in
    its pool without mining it until another transaction arrives.
    """
    if not w3.client_version.lower().startswith("anvil"):
        return
    logger.warning(
        "%d transactions are still pending on anvil; mining a block with evm_mine",
        missing,
    )
    w3.provider.make_request(RPCEndpoint("evm_mine"), [])


def _receipt_summary(
    w3: Web3, tx_hash: HexBytes, raw_logs: bool = False
) -> TxReceipt | None:
    response = w3.provider.make_request(
        RPCEndpoint("eth_getTransactionReceipt"), ["0x" + bytes(tx_hash).hex()]
    )
    if "error" in response:
        raise TransactionFailed(
            f"eth_getTransactionReceipt failed for 0x{bytes(tx_hash).hex()}: "
            f"{response['error']}."
        )
    raw = response.get("result")
    if raw is None:
        return None
    summary = {
        "transactionHash": HexBytes(raw["transactionHash"]),
        "blockHash": HexBytes(raw["blockHash"]),
        "blockNumber": int(raw["blockNumber"], 16),
        "status": int(raw["status"], 16),
        "gasUsed": int(raw["gasUsed"], 16),
    }
    if raw_logs:
        summary["logs"] = raw["logs"]
    return cast(TxReceipt, AttributeDict(summary))


def _call_name(call: Any) -> str:
    return str(getattr(call, "fn_name", "constructor"))


def _render(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)
