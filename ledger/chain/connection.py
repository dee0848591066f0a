"""Connections to the chain: the embedded anvil node or any JSON-RPC URL."""

from __future__ import annotations

import logging

from web3 import HTTPProvider, Web3

from ledger.chain import anvil
from ledger.errors import ChainError, ChainNotRunning
from ledger.settings import Settings

logger = logging.getLogger(__name__)

RPC_TIMEOUT = 30.0


def rpc_url(settings: Settings, start: bool = False) -> str:
    """Return the RPC URL to use; with ``start``, start the embedded node if needed."""
    if settings.rpc_url:
        return settings.rpc_url

    info = anvil.read_info(settings.data_dir)
    if info is None and start:
        info = anvil.start(
            settings.data_dir,
            settings.chain_id,
            settings.anvil_accounts,
            state_history=settings.anvil_state_history,
        )
    if info is None:
        raise ChainNotRunning(
            f"The local chain is not running (data folder {settings.data_dir}); start "
            "it with 'reclaim chain start'."
        )
    return info.rpc_url


def connect(url: str) -> Web3:
    """Connect to ``url`` and check that a node responds there."""
    w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": RPC_TIMEOUT}))
    try:
        chain_id = w3.eth.chain_id
    except Exception as exc:  # the provider raises many transport error types
        raise ChainNotRunning(
            f"No Ethereum node responds at {url} ({exc}); check the URL or start the "
            "local chain with 'reclaim chain start'."
        ) from exc
    logger.debug("Connected to chain %d at %s", chain_id, url)
    return w3


def genesis_hash(w3: Web3) -> str:
    """Return the hash of block 0, which identifies the chain with its chain id."""
    block = w3.eth.get_block(0)
    if block is None or "hash" not in block:
        raise ChainError("The node returned no genesis block.")
    return "0x" + bytes(block["hash"]).hex()
