"""Benchmarks of Reclaim Ledger against anchors measured in the same run.

``make bench`` (``python -m scripts.bench``) runs every benchmark and prints one table.
Each module measures one area: gas, chain writes, the indexer and the API.
"""
