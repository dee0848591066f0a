"""Plain JSON-RPC access for the indexer, with batched requests and retries.

The indexer reads logs and block headers in bulk, so it talks JSON-RPC directly: one
HTTP request can carry many calls, and results stay as the node sent them.

Failures fall into three kinds, and each gets its own exception:

- transient (timeouts, refused or reset connections, HTTP 5xx and 429, rate-limit
  messages): retried with exponential backoff and jitter until ``retry_seconds`` have
  passed, then raised as :class:`RpcUnavailable`;
- a log query over too many blocks or results (:class:`LogRangeTooLarge`): raised at
  once so the caller can split the range;
- anything else (:class:`RpcError`): deterministic, raised at once and never retried.
"""

from __future__ import annotations

import itertools
import logging
import random
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from ledger.errors import ChainError, ChainNotRunning

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRY_SECONDS = 60.0
FIRST_BACKOFF_SECONDS = 0.1
MAX_BACKOFF_SECONDS = 5.0

# Phrases by which providers report that a log query covers too many blocks or returns
# too many logs. Geth, Erigon, Infura, Alchemy, QuickNode and Ankr each word it
# differently.
_RANGE_PHRASES = (
    "query returned more than",
    "more than",
    "too many results",
    "too many logs",
    "block range",
    "range limit",
    "range is too",
    "response size",
    "response is too",
    "limited to",
    "blocks distance",
    "max range",
    "maximum range",
    "exceeds max results",
)
# Phrases of rate limiting, which is transient.
_RATE_PHRASES = (
    "rate limit",
    "too many requests",
    "request limit",
    "capacity",
    "throughput",
    "compute units",
    "try again later",
    "temporarily unavailable",
)
# JSON-RPC codes that mean "internal error, try again" on common nodes.
_TRANSIENT_CODES = {-32603: ("timeout", "timed out", "temporar", "busy", "overload")}

_SUGGESTED_RANGE = re.compile(r"\[\s*(0x[0-9a-f]+)\s*,\s*(0x[0-9a-f]+)\s*\]")
_SUGGESTED_DECIMAL_RANGE = re.compile(r"range (?:of )?(\d+)\s*-\s*(\d+)")
_BLOCK_LIMIT = re.compile(r"(\d[\d,_]*)\s*(?:block )?(?:range|blocks)")


class RpcError(ChainError):
    """The node returned a JSON-RPC error object that retrying will not change."""

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"{method} failed with JSON-RPC error {code}: {message}")
        self.method = method
        self.code = code
        self.rpc_message = message


class LogRangeTooLarge(RpcError):
    """The node refused an ``eth_getLogs`` range as too long or with too many logs."""

    def suggested_blocks(self, from_block: int, to_block: int) -> int | None:
        """Return the block count the node's message proposes, if it proposes one."""
        text = self.rpc_message.lower()
        match = _SUGGESTED_RANGE.search(text) or _SUGGESTED_DECIMAL_RANGE.search(text)
        if match:
            low, high = (
                int(value, 16) if value.startswith("0x") else int(value)
                for value in match.groups()
            )
            if high >= low:
                return high - low + 1
        limit = _BLOCK_LIMIT.search(text)
        if limit:
            count = int(re.sub(r"[,_]", "", limit.group(1)))
            if 0 < count < to_block - from_block + 1:
                return count
        return None


class RpcUnavailable(ChainNotRunning):
    """The node kept failing with transient errors for longer than the retry budget."""


class TransientRpcFault(ChainError):
    """One failed attempt that may succeed when repeated."""


def classify_error(method: str, code: int, message: str) -> ChainError:
    """Turn a JSON-RPC error object into the exception of its kind."""
    text = message.lower()
    if any(phrase in text for phrase in _RATE_PHRASES) or code == 429:
        return TransientRpcFault(f"{method}: rate limited ({code}: {message})")
    for transient_code, phrases in _TRANSIENT_CODES.items():
        if code == transient_code and any(phrase in text for phrase in phrases):
            return TransientRpcFault(f"{method}: {message} ({code})")
    if method == "eth_getLogs" and any(phrase in text for phrase in _RANGE_PHRASES):
        return LogRangeTooLarge(method, code, message)
    return RpcError(method, code, message)


class RpcClient:
    """A JSON-RPC client over HTTP that retries transient failures."""

    def __init__(
        self,
        url: str,
        timeout: float = DEFAULT_TIMEOUT,
        retry_seconds: float = DEFAULT_RETRY_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.retry_seconds = retry_seconds
        self._client = httpx.Client(timeout=timeout)
        self._ids = itertools.count(1)
        self._sleep = sleep
        self.retries = 0

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def call(self, method: str, params: Sequence[Any]) -> Any:
        """Send one call and return its result."""
        (result,) = self.batch([(method, params)])
        return result

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Send several calls in one HTTP request; return results in call order.

        Transient failures are retried with backoff for up to ``retry_seconds``.
        """
        if not calls:
            return []
        deadline = time.monotonic() + self.retry_seconds
        backoff = FIRST_BACKOFF_SECONDS
        while True:
            try:
                return self._send(calls)
            except TransientRpcFault as fault:
                if time.monotonic() + backoff > deadline:
                    raise RpcUnavailable(
                        f"The node at {self.url} kept failing for "
                        f"{self.retry_seconds:.0f} s; last error: {fault}. Check that "
                        "it runs, or raise RECLAIM_RPC_RETRY_SECONDS."
                    ) from fault
                self.retries += 1
                logger.warning("%s; retrying in %.2f s", fault, backoff)
                self._sleep(backoff * random.uniform(0.5, 1.0))
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _send(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        requests = [
            {
                "jsonrpc": "2.0",
                "id": next(self._ids),
                "method": method,
                "params": list(params),
            }
            for method, params in calls
        ]
        names = ", ".join(sorted({method for method, _ in calls}))
        payload: Any = requests if len(requests) > 1 else requests[0]
        try:
            response = self._client.post(self.url, json=payload)
        except httpx.TransportError as exc:
            # Timeouts, refused connections, resets and broken responses.
            raise TransientRpcFault(
                f"{names} to {self.url}: {type(exc).__name__} {exc}"
            ) from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientRpcFault(
                f"{names} to {self.url}: HTTP {response.status_code}"
            )
        if response.status_code != 200:
            raise ChainError(
                f"The node at {self.url} returned HTTP {response.status_code} for "
                f"{names}: {response.text[:200]}"
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise TransientRpcFault(
                f"{names} to {self.url}: the response is not JSON ({exc})"
            ) from exc

        answers = body if isinstance(body, list) else [body]
        if not all(isinstance(answer, dict) for answer in answers):
            raise TransientRpcFault(
                f"{names} to {self.url}: malformed JSON-RPC response"
            )
        by_id = {answer.get("id"): answer for answer in answers}
        results = []
        for request in requests:
            answer = by_id.get(request["id"])
            if answer is None:
                raise TransientRpcFault(
                    f"The node at {self.url} returned no response to "
                    f"{request['method']}"
                )
            error = answer.get("error")
            if error is not None:
                code = int(error.get("code", 0)) if isinstance(error, dict) else 0
                message = str(
                    error.get("message") if isinstance(error, dict) else error
                )
                raise classify_error(str(request["method"]), code, message)
            results.append(answer.get("result"))
        return results

    def chain_id(self) -> int:
        """Return the chain id the node reports."""
        return int(self.call("eth_chainId", []), 16)

    def block_number(self) -> int:
        """Return the number of the newest block."""
        return int(self.call("eth_blockNumber", []), 16)

    def code(self, address: str) -> str:
        """Return the bytecode deployed at ``address`` on the newest block."""
        return str(self.call("eth_getCode", [address, "latest"]))

    def headers_or_none(self, numbers: Sequence[int]) -> list[dict[str, Any] | None]:
        """Return block headers without transactions; None where the node has none."""
        calls = [("eth_getBlockByNumber", [hex(number), False]) for number in numbers]
        return self.batch(calls)

    def headers(self, numbers: Sequence[int]) -> list[dict[str, Any]]:
        """Return the headers of blocks ``numbers``; raise if the node lacks any."""
        headers = self.headers_or_none(numbers)
        missing = [n for n, header in zip(numbers, headers, strict=True) if not header]
        if missing:
            raise MissingBlocks(self.url, missing)
        return headers  # type: ignore[return-value]

    def get_logs(
        self,
        address: str | Sequence[str],
        from_block: int,
        to_block: int,
        topics: Sequence[str | None] | None = None,
    ) -> list[dict[str, Any]]:
        """Return the logs of ``address`` in blocks ``from_block``..``to_block``.

        Both ends of the range are included. ``topics`` filters as in
        ``eth_getLogs``: one value or None (any) per position.
        """
        addresses = [address] if isinstance(address, str) else list(address)
        query: dict[str, Any] = {
            "address": addresses if len(addresses) > 1 else addresses[0],
            "fromBlock": hex(from_block),
            "toBlock": hex(to_block),
        }
        if topics is not None:
            query["topics"] = list(topics)
        logs: list[dict[str, Any]] = self.call("eth_getLogs", [query])
        return logs


class MissingBlocks(ChainError):
    """The node has no header for blocks that should exist."""

    def __init__(self, url: str, numbers: Sequence[int]) -> None:
        shown = ", ".join(str(number) for number in numbers[:5])
        more = f" and {len(numbers) - 5} more" if len(numbers) > 5 else ""
        super().__init__(
            f"The node at {url} has no block {shown}{more}: its history is incomplete "
            "(for example anvil state loaded from a dump keeps only the newest block). "
            "Nothing was stored past the last complete block; point RECLAIM_RPC_URL at "
            "a node with full history."
        )
        self.numbers = list(numbers)
