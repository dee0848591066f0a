"""Deployment of the registry, with its address recorded per chain id."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from web3 import Web3
from web3.contract import Contract

from ledger.chain.transactions import TransactionSender, wait_for_receipts
from ledger.contracts.artifacts import load_artifact
from ledger.errors import DeploymentNotFound

logger = logging.getLogger(__name__)

REGISTRAR_ROLE = Web3.keccak(text="REGISTRAR_ROLE")
INSPECTOR_ROLE = Web3.keccak(text="INSPECTOR_ROLE")
AUDITOR_ROLE = Web3.keccak(text="AUDITOR_ROLE")
DEPLOY_GAS = 5_000_000


@dataclass(frozen=True)
class Deployment:
    """The registry's address and deployment transaction on one chain."""

    chain_id: int
    address: str
    block_number: int
    transaction_hash: str
    source_hash: str


def deployment_path(data_dir: Path, chain_id: int) -> Path:
    """Return the file that records the registry's deployment on ``chain_id``."""
    return data_dir / "deployments" / f"{chain_id}.json"


def load_deployment(w3: Web3, data_dir: Path) -> Deployment:
    """Return the recorded deployment for the connected chain, checking its code."""
    chain_id = w3.eth.chain_id
    path = deployment_path(data_dir, chain_id)
    try:
        deployment = Deployment(**json.loads(path.read_text()))
    except FileNotFoundError as exc:
        raise DeploymentNotFound(
            f"No registry is recorded for chain {chain_id} in {path.parent}; deploy "
            "one with 'reclaim deploy'."
        ) from exc

    if not w3.eth.get_code(Web3.to_checksum_address(deployment.address)):
        raise DeploymentNotFound(
            f"The registry recorded for chain {chain_id} at {deployment.address} has "
            "no code: the chain was reset. Deploy again with 'reclaim deploy' and "
            "rebuild the mirror with 'reclaim reindex --replace'."
        )
    return deployment


def deploy(sender: TransactionSender, data_dir: Path) -> Deployment:
    """Deploy the registry, grant the sender the registrar role and record it."""
    w3 = sender.w3
    artifact = load_artifact()
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])

    tx_hash = sender.send(factory.constructor(sender.address), gas=DEPLOY_GAS)
    (receipt,) = wait_for_receipts(w3, [tx_hash])
    address = receipt["contractAddress"]
    if address is None:
        raise DeploymentNotFound("The deployment transaction created no contract.")
    registry = registry_contract(w3, address)
    sender.transact([registry.functions.grantRole(REGISTRAR_ROLE, sender.address)])

    deployment = Deployment(
        chain_id=sender.chain_id,
        address=str(address),
        block_number=int(receipt["blockNumber"]),
        transaction_hash="0x" + bytes(receipt["transactionHash"]).hex(),
        source_hash=str(artifact["sourceHash"]),
    )
    path = deployment_path(data_dir, deployment.chain_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(deployment), indent=2) + "\n")
    logger.info("Deployed the registry at %s on chain %d", address, deployment.chain_id)
    return deployment


def registry_contract(w3: Web3, address: str) -> Contract:
    """Return a web3 contract object for the registry at ``address``."""
    return w3.eth.contract(
        address=Web3.to_checksum_address(address), abi=load_artifact()["abi"]
    )
