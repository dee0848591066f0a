"""The indexer: mirrors the registry's events into SQL.

Layers, from the bottom: ``rpc`` (JSON-RPC access), ``decode`` (ABI decoding of logs),
``store`` (rows and checkpoint in one database transaction) and ``sync`` (which blocks
to read next). No layer imports one above it.
"""
