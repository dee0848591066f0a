"""Measure write throughput on a fresh local anvil: our sender against web3 defaults.

Run with ``.venv/bin/python scripts/bench_writes.py [TRANSFERS]``. It prints custody
transfers per second sent back to back through TransactionSender, and the same for
web3's ``transact()`` followed by ``wait_for_transaction_receipt`` on each.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from ledger.chain import anvil
from ledger.chain.accounts import dev_account
from ledger.chain.connection import connect
from ledger.chain.transactions import TransactionSender, wait_for_receipts
from ledger.contracts.deployment import deploy, registry_contract
from ledger.units import ascii_bytes32
from ledger.writes import LotInput, register_buildings, register_lots

DEFAULT_TRANSFERS = 200


def main() -> None:
    """Run both measurements and print one line each."""
    transfers = int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_TRANSFERS
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        info = anvil.start(data_dir, chain_id=31337, accounts=4)
        try:
            measure(info.rpc_url, data_dir, transfers)
        finally:
            anvil.stop(data_dir)


def measure(url: str, data_dir: Path, transfers: int) -> None:
    """Register one lot, then time custody transfers of one unit each."""
    w3 = connect(url)
    operator = TransactionSender(w3, dev_account(0))
    registry = registry_contract(w3, deploy(operator, data_dir).address)
    building = ascii_bytes32("BLD-BENCH")
    register_buildings(registry, operator, [(building, b"\x01" * 32)])
    lot = LotInput(building, ascii_bytes32("masonry"), 0, 10**12, 2300, b"\x02" * 32)
    register_lots(registry, operator, dev_account(1).address, [lot])

    holder = TransactionSender(w3, dev_account(1))
    receiver = dev_account(2).address
    started = time.perf_counter()
    hashes = [
        holder.send(
            registry.functions.transferCustody(
                holder.address, receiver, 1, 1000, 1, bytes(32)
            )
        )
        for _ in range(transfers)
    ]
    wait_for_receipts(w3, hashes)
    ours = transfers / (time.perf_counter() - started)

    baseline_count = max(transfers // 10, 10)
    started = time.perf_counter()
    for _ in range(baseline_count):
        tx_hash = registry.functions.transferCustody(
            holder.address, receiver, 1, 1000, 1, bytes(32)
        ).transact({"from": holder.address})
        w3.eth.wait_for_transaction_receipt(tx_hash)
    baseline = baseline_count / (time.perf_counter() - started)

    print(f"TransactionSender, back to back: {transfers} transfers, {ours:.0f} tx/s")
    print(
        f"web3 transact + wait_for_receipt: {baseline_count} transfers, "
        f"{baseline:.1f} tx/s"
    )
    print(f"ratio: {ours / baseline:.1f}x")


if __name__ == "__main__":
    main()
