"""Wiring from settings to a connected chain, the registry and the mirror database."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine
from web3 import Web3
from web3.contract import Contract

from ledger.chain import anvil
from ledger.chain.accounts import DEV_KEYS_NOTICE, operator_account
from ledger.chain.connection import connect, rpc_url
from ledger.chain.transactions import RevertDecoder, TransactionSender
from ledger.contracts.artifacts import load_artifact
from ledger.contracts.deployment import (
    Deployment,
    deploy,
    load_deployment,
    registry_contract,
)
from ledger.db.engine import open_database
from ledger.errors import DeploymentNotFound
from ledger.indexer.rpc import RpcClient
from ledger.indexer.sync import Indexer, IndexTarget
from ledger.settings import Settings

logger = logging.getLogger(__name__)


def open_engine(settings: Settings) -> Engine:
    """Open the mirror database named by the settings, migrating its schema."""
    return open_database(settings.resolved_database_url)


@dataclass
class Ledger:
    """A connected chain with its registry deployment and the mirror database."""

    settings: Settings
    w3: Web3
    url: str
    deployment: Deployment
    engine: Engine
    notice: Callable[[str], None]

    @cached_property
    def registry(self) -> Contract:
        """The registry contract."""
        return registry_contract(self.w3, self.deployment.address)

    @cached_property
    def decoder(self) -> RevertDecoder:
        """Decoder of the registry's custom errors."""
        return RevertDecoder(load_artifact()["abi"])

    def sender(self, account: LocalAccount | None = None) -> TransactionSender:
        """Return a transaction sender for ``account``, by default the operator."""
        if account is None:
            account = self.operator
        return TransactionSender(self.w3, account, self.decoder)

    @cached_property
    def operator(self) -> LocalAccount:
        """The account that deployed the registry and registers lots."""
        if self.settings.private_key is None and self.settings.uses_embedded_chain:
            self.notice(DEV_KEYS_NOTICE)
        return operator_account(self.settings)

    def indexer(self, engine: Engine | None = None) -> Indexer:
        """Return an indexer from the chain into the mirror (or into ``engine``)."""
        return Indexer(
            RpcClient(self.url, retry_seconds=self.settings.rpc_retry_seconds),
            engine if engine is not None else self.engine,
            IndexTarget(self.deployment.address, self.deployment.block_number),
            load_artifact()["abi"],
            finality_depth=self.settings.confirmations,
            log_range=self.settings.log_range,
        )


def open_ledger(
    settings: Settings,
    deploy_if_missing: bool = False,
    notice: Callable[[str], None] = logger.warning,
) -> Ledger:
    """Connect to the chain (starting the local one if needed) and find the registry."""
    was_running = settings.uses_embedded_chain and anvil.read_info(settings.data_dir)
    url = rpc_url(settings, start=True)
    if settings.uses_embedded_chain and not was_running:
        notice(f"Started the local chain at {url}; stop it with 'reclaim chain stop'.")
    w3 = connect(url)
    engine = open_engine(settings)

    try:
        deployment = load_deployment(w3, settings.data_dir)
    except DeploymentNotFound:
        if not deploy_if_missing:
            raise
        operator = operator_account(settings)
        if settings.private_key is None and settings.uses_embedded_chain:
            notice(DEV_KEYS_NOTICE)
        deployment = deploy(
            TransactionSender(w3, operator, RevertDecoder(load_artifact()["abi"])),
            settings.data_dir,
        )
        notice(f"Deployed the registry at {deployment.address}.")
    return Ledger(settings, w3, url, deployment, engine, notice)
