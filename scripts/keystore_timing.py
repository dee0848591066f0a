"""Time encrypting and decrypting one eth-account keystore at a given scrypt cost.

Run with ``.venv/bin/python scripts/keystore_timing.py [LOG2_N]`` (default 18, the
cost of new keystores). Prints both durations in seconds.
"""

from __future__ import annotations

import sys
import time

from eth_account import Account


def main() -> None:
    """Encrypt and decrypt a fresh key once and print the time of each step."""
    cost = 2 ** (int(sys.argv[1]) if len(sys.argv) > 1 else 18)
    account = Account.create()
    started = time.perf_counter()
    keystore = Account.encrypt(account.key, "passphrase", kdf="scrypt", iterations=cost)
    encrypted = time.perf_counter()
    Account.decrypt(keystore, "passphrase")
    decrypted = time.perf_counter()
    print(
        f"scrypt cost {cost}: encrypt {encrypted - started:.2f} s, "
        f"decrypt {decrypted - encrypted:.2f} s"
    )


if __name__ == "__main__":
    main()
