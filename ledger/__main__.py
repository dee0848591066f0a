"""Run the CLI with ``python -m ledger``."""

from ledger.cli import main

main()
