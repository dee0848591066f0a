"""Plain JSON-RPC access for the indexer, with batched requests.

The indexer reads logs and block headers in bulk, so it talks JSON-RPC directly: one
HTTP request can carry many calls, and results stay as the node sent them.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from typing import Any

import httpx

from ledger.errors import ChainError, ChainNotRunning

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0


class RpcError(ChainError):
    """The node returned a JSON-RPC error object."""

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"{method} failed with JSON-RPC error {code}: {message}")
        self.method = method
        self.code = code
        self.rpc_message = message


class RpcClient:
    """A JSON-RPC client over HTTP."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url
        self._client = httpx.Client(timeout=timeout)
        self._ids = itertools.count(1)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def call(self, method: str, params: Sequence[Any]) -> Any:
        """Send one call and return its result."""
        (result,) = self.batch([(method, params)])
        return result

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Send several calls in one HTTP request; return results in call order."""
        if not calls:
            return []
        requests = [
            {
                "jsonrpc": "2.0",
                "id": next(self._ids),
                "method": method,
                "params": list(params),
            }
            for method, params in calls
        ]
        payload: Any = requests if len(requests) > 1 else requests[0]
        try:
            response = self._client.post(self.url, json=payload)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise ChainNotRunning(
                f"JSON-RPC request to {self.url} failed: {exc}"
            ) from exc

        body = response.json()
        answers = body if isinstance(body, list) else [body]
        by_id = {answer.get("id"): answer for answer in answers}
        results = []
        for request in requests:
            answer = by_id.get(request["id"])
            if answer is None:
                raise ChainError(
                    f"The node at {self.url} returned no response to {request['method']}."
                )
            error = answer.get("error")
            if error is not None:
                raise RpcError(
                    request["method"],
                    int(error.get("code", 0)),
                    str(error.get("message")),
                )
            results.append(answer.get("result"))
        return results

    def chain_id(self) -> int:
        """Return the chain id the node reports."""
        return int(self.call("eth_chainId", []), 16)

    def block_number(self) -> int:
        """Return the number of the newest block."""
        return int(self.call("eth_blockNumber", []), 16)

    def headers(self, numbers: Sequence[int]) -> list[dict[str, Any]]:
        """Return the headers (without transactions) of blocks ``numbers``."""
        calls = [("eth_getBlockByNumber", [hex(number), False]) for number in numbers]
        headers = self.batch(calls)
        for number, header in zip(numbers, headers, strict=True):
            if header is None:
                raise ChainError(
                    f"The node at {self.url} does not have block {number}; its "
                    "history may be incomplete."
                )
        return headers

    def get_logs(
        self, address: str, from_block: int, to_block: int
    ) -> list[dict[str, Any]]:
        """Return the logs of ``address`` in blocks ``from_block`` to ``to_block``, inclusive."""
        logs: list[dict[str, Any]] = self.call(
            "eth_getLogs",
            [
                {
                    "address": address,
                    "fromBlock": hex(from_block),
                    "toBlock": hex(to_block),
                }
            ],
        )
        return logs
