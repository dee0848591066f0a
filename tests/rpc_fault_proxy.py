"""A JSON-RPC proxy on 127.0.0.1 that injects faults between the indexer and anvil.

anvil itself never times out, resets connections, returns 5xx or applies a provider's
log limits, so these faults are scripted here. Everything else is the real node's
response, forwarded unchanged.
"""

from __future__ import annotations

import json
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

FAULTS = ("timeout", "http-502", "http-503", "http-429", "reset", "rate-limit")


@dataclass
class FaultPlan:
    """Which faults to inject and how often.

    ``rate`` is the share of requests that get one of ``faults``. ``max_logs`` makes
    ``eth_getLogs`` fail like a provider when its result would exceed that many logs;
    ``max_blocks`` does the same for longer block ranges. The first ``eth_getLogs``
    request starting at a block of ``fail_once_from_block`` fails with HTTP 503.
    ``missing_blocks`` plays a node without those blocks' history (headers null, no
    logs), and ``corrupt_log_hashes`` returns logs with a block hash that no block has.
    ``genesis_hash`` replaces block 0's hash, as anvil 1.7 sometimes does after
    reloading its state.
    """

    rate: float = 0.0
    faults: tuple[str, ...] = FAULTS
    timeout_seconds: float = 1.0
    max_logs: int | None = None
    max_blocks: int | None = None
    suggest_range: bool = False
    fail_once_from_block: set[int] = field(default_factory=set)
    missing_blocks: range | None = None
    corrupt_log_hashes: bool = False
    genesis_hash: str | None = None
    seed: int = 1
    injected: Counter[str] = field(default_factory=Counter)
    forwarded: int = 0


class _Handler(BaseHTTPRequestHandler):
    server: _ProxyServer

    def log_message(self, *_args: Any) -> None:
        """Keep the test output quiet."""

    def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        plan = self.server.plan
        with self.server.lock:
            roll = self.server.rng.random()
            fault = self.server.rng.choice(plan.faults) if plan.faults else None
        request = json.loads(body)
        calls = request if isinstance(request, list) else [request]

        if calls and calls[0].get("method") == "eth_getLogs":
            from_block = int(calls[0]["params"][0]["fromBlock"], 16)
            with self.server.lock:
                once = from_block in plan.fail_once_from_block
                plan.fail_once_from_block.discard(from_block)
            if once:
                plan.injected["fail-once"] += 1
                self._reply(503, b"Service Unavailable")
                return

        if fault is not None and roll < plan.rate:
            plan.injected[fault] += 1
            if fault == "timeout":
                time.sleep(plan.timeout_seconds)
            elif fault.startswith("http-"):
                self._reply(int(fault[5:]), b"upstream error")
                return
            elif fault == "reset":
                self.request.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                self.request.close()
                return
            elif fault == "rate-limit":
                self._json(
                    [
                        {
                            "jsonrpc": "2.0",
                            "id": call.get("id"),
                            "error": {"code": -32005, "message": "rate limit exceeded"},
                        }
                        for call in calls
                    ],
                    batch=isinstance(request, list),
                )
                return

        limited = self._provider_limit(calls)
        if limited is not None:
            self._json(limited, batch=isinstance(request, list))
            return
        upstream = httpx.post(
            self.server.upstream,
            content=body,
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        plan.forwarded += 1
        if (
            plan.missing_blocks is None
            and not plan.corrupt_log_hashes
            and plan.genesis_hash is None
        ):
            self._reply(upstream.status_code, upstream.content)
            return
        answer = upstream.json()
        answers = answer if isinstance(answer, list) else [answer]
        by_id = {item.get("id"): item for item in answers}
        for call in calls:
            self._rewrite(call, by_id.get(call.get("id"), {}))
        self._json(answers, batch=isinstance(answer, list))

    def _rewrite(self, call: dict[str, Any], answer: dict[str, Any]) -> None:
        plan = self.server.plan
        method = call.get("method")
        missing = plan.missing_blocks
        if (
            method == "eth_getBlockByNumber"
            and plan.genesis_hash is not None
            and call["params"][0] in ("0x0", "earliest")
            and answer.get("result")
        ):
            answer["result"]["hash"] = plan.genesis_hash
        if method == "eth_getBlockByNumber" and missing is not None:
            tag = call["params"][0]
            if tag.startswith("0x") and int(tag, 16) in missing:
                answer["result"] = None
        if method == "eth_getLogs" and isinstance(answer.get("result"), list):
            logs = answer["result"]
            if missing is not None:
                logs = [
                    log for log in logs if int(log["blockNumber"], 16) not in missing
                ]
            if plan.corrupt_log_hashes:
                for log in logs:
                    log["blockHash"] = "0x" + "de" * 32
            answer["result"] = logs

    def _provider_limit(
        self, calls: list[dict[str, Any]]
    ) -> list[dict[str, Any]] | None:
        plan = self.server.plan
        if len(calls) != 1 or calls[0].get("method") != "eth_getLogs":
            return None
        query = calls[0]["params"][0]
        low, high = int(query["fromBlock"], 16), int(query["toBlock"], 16)
        if plan.max_blocks is not None and high - low + 1 > plan.max_blocks:
            plan.injected["range-limit"] += 1
            message = (
                f"block range is too wide; the maximum is {plan.max_blocks} blocks"
            )
            return [self._error(calls[0], message)]
        if plan.max_logs is None:
            return None
        answer = httpx.post(self.server.upstream, json=calls[0], timeout=30).json()
        logs = answer.get("result") or []
        if len(logs) <= plan.max_logs:
            return [answer]
        plan.injected["too-many-logs"] += 1
        message = f"query returned more than {plan.max_logs} results"
        if plan.suggest_range:
            # Like some providers, propose the range unchanged: it must still shrink.
            message += f". Try with this block range [{hex(low)}, {hex(high)}]."
        return [self._error(calls[0], message)]

    @staticmethod
    def _error(call: dict[str, Any], message: str) -> dict[str, Any]:
        return {
            "jsonrpc": "2.0",
            "id": call.get("id"),
            "error": {"code": -32005, "message": message},
        }

    def _json(self, answers: list[dict[str, Any]], batch: bool) -> None:
        payload = answers if batch else answers[0]
        self._reply(200, json.dumps(payload).encode())

    def _reply(self, status: int, content: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, plan: FaultPlan) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.lock = threading.Lock()


@contextmanager
def fault_proxy(upstream: str, plan: FaultPlan) -> Iterator[str]:
    """Run the proxy in front of ``upstream``; yield its URL."""
    server = _ProxyServer(upstream, plan)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
