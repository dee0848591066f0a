"""Live comparison of one lot in the mirror with the registry on chain.

The check reads the chain at the mirror's checkpoint block N, where the mirror claims
to be complete. It recomputes the lot's record hash from the mirror's stored record
and compares it, and the lot's registered fields, with the registry's at block N:
``lot(lotId)`` for a lot made by a split or merge, and for a batch lot the entries of
its ``LotBatchRegistered`` log from the node, which ``verifyLot`` checks against the
stored commitment. It then compares the mirror's holders and balances with
``balanceOfBatch`` at block N, and the sum of those balances with the registered
quantity, because the registry never burns tokens.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import requests
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractLogicError, Web3Exception

from ledger.chain.connection import rpc_url
from ledger.chain_lots import BatchLogUnavailable, chain_lot
from ledger.contracts.artifacts import load_artifact
from ledger.db.models import (
    Holding,
    Lot,
    Record,
    SyncState,
)
from ledger.errors import ChainError, ChainNotRunning, NotFound
from ledger.indexer.store import ascii_text
from ledger.lot_events import DISPOSED, INSTALLED, MERGED, SPLIT, lot_event_steps
from ledger.records import record_hash
from ledger.settings import Settings
from ledger.units import Unit, format_quantity

logger = logging.getLogger(__name__)

# A passport page waits at most this long for the node before showing a notice.
CHECK_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class ChainCheck:
    """Result of comparing a lot in the mirror with the chain at ``block_number``.

    ``status`` is ``agrees``, ``disagrees`` or ``unavailable``. ``differences``
    names each value that differs, and ``notice`` gives the reason when no
    comparison was possible.
    """

    status: str
    block_number: int | None = None
    differences: list[str] = field(default_factory=list)
    notice: str | None = None
    chain_head: int | None = None

    @property
    def blocks_behind(self) -> int:
        """Number of chain blocks newer than the checked block; 0 when unknown."""
        if self.chain_head is None or self.block_number is None:
            return 0
        return max(0, self.chain_head - self.block_number)


# Steps after which the quantity is burnt from the lot.
LEFT_CIRCULATION = (INSTALLED, DISPOSED, SPLIT, MERGED)


@dataclass(frozen=True)
class _MirrorState:
    chain_id: int
    contract_address: str
    start_block: int
    last_block: int
    last_block_hash: str | None
    lot: Lot
    record_body: str | None
    holdings: dict[str, int]
    # Quantity the mirror saw leave circulation: installed, disposed of, split or
    # merged.
    burnt: int


def check_lot(settings: Settings, engine: Engine, lot_id: int) -> ChainCheck:
    """Compare lot ``lot_id`` in the mirror with the registry at the checkpoint."""
    state = _read_mirror(engine, lot_id)
    if state is None:
        return ChainCheck(
            "unavailable",
            notice=f"Lot {lot_id} is not in the mirror, so it cannot be checked.",
        )

    try:
        url = rpc_url(settings)
    except ChainNotRunning as exc:
        return ChainCheck("unavailable", state.last_block, notice=str(exc))
    w3 = Web3(
        HTTPProvider(
            url,
            request_kwargs={"timeout": CHECK_TIMEOUT_SECONDS},
            exception_retry_configuration=None,
        )
    )
    try:
        head = w3.eth.block_number
        differences = _compare(w3, state, lot_id)
    except (requests.RequestException, OSError) as exc:
        logger.warning("Chain check of lot %d at %s failed: %s", lot_id, url, exc)
        return ChainCheck(
            "unavailable",
            state.last_block,
            notice=(
                f"The chain node at {url} could not be reached "
                f"({type(exc).__name__}), so the lot was not checked."
            ),
        )
    except BatchLogUnavailable as exc:
        logger.warning("Chain check of lot %d at %s failed: %s", lot_id, url, exc)
        return ChainCheck(
            "unavailable",
            state.last_block,
            notice=f"{exc} The lot was not checked.",
        )
    except Web3Exception as exc:
        logger.warning("Chain check of lot %d at %s failed: %s", lot_id, url, exc)
        return ChainCheck(
            "unavailable",
            state.last_block,
            notice=(
                f"The chain node at {url} returned an error for block "
                f"{state.last_block} ({exc}), so the lot was not checked."
            ),
        )
    if differences:
        logger.warning(
            "Lot %d differs from the chain at block %d: %s",
            lot_id,
            state.last_block,
            " ".join(differences),
        )
        return ChainCheck("disagrees", state.last_block, differences, chain_head=head)
    return ChainCheck("agrees", state.last_block, chain_head=head)


def _read_mirror(engine: Engine, lot_id: int) -> _MirrorState | None:
    # One transaction, so the checkpoint and the holdings describe the same block.
    options: dict[str, Any] = {}
    if engine.dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ"
    with engine.connect().execution_options(**options) as connection:
        sync = connection.execute(select(SyncState)).first()
        lot = connection.execute(
            select(Lot.__table__).where(Lot.lot_id == lot_id)
        ).first()
        if sync is None or lot is None:
            return None
        lot_row = Lot(**lot._asdict())
        body = connection.execute(
            select(Record.body).where(Record.record_hash == lot_row.record_hash)
        ).scalar_one_or_none()
        holdings = {
            holder: balance
            for holder, balance in connection.execute(
                select(Holding.holder, Holding.balance)
                .where(Holding.lot_id == lot_id)
                .order_by(Holding.holder)
            ).all()
        }
        burnt = _burnt_quantity(connection, lot_id)
    return _MirrorState(
        chain_id=sync.chain_id,
        contract_address=sync.contract_address,
        start_block=sync.start_block,
        last_block=sync.last_block,
        last_block_hash=sync.last_block_hash,
        lot=lot_row,
        record_body=body,
        holdings=holdings,
        burnt=burnt,
    )


def _burnt_quantity(connection: Any, lot_id: int) -> int:
    """Return what the mirror's end-of-life, split and merge rows took out of a lot."""
    with Session(bind=connection) as session:
        steps = lot_event_steps(session, lot_id)
    return sum(step.quantity for step in steps if step.kind in LEFT_CIRCULATION)


def _compare(w3: Web3, state: _MirrorState, lot_id: int) -> list[str]:
    chain_id = w3.eth.chain_id
    if chain_id != state.chain_id:
        return [
            f"The node serves chain {chain_id}, but the mirror indexed chain "
            f"{state.chain_id}."
        ]
    block = w3.eth.get_block(state.last_block)
    block_hash = "0x" + bytes(block["hash"]).hex()
    if state.last_block_hash and block_hash != state.last_block_hash:
        return [
            f"Block {state.last_block} has hash {block_hash} on chain, but the mirror "
            f"indexed {state.last_block_hash}; rebuild it with 'reclaim index --reset'."
        ]

    registry = w3.eth.contract(
        address=Web3.to_checksum_address(state.contract_address),
        abi=load_artifact()["abi"],
    )
    try:
        on_chain = chain_lot(registry, lot_id, block=state.last_block)
    except (NotFound, ContractLogicError):
        return [f"The registry has no lot {lot_id} at block {state.last_block}."]
    except BatchLogUnavailable:
        # A node without the lot's log leaves the mirror unchecked, not wrong.
        raise
    except ChainError as exc:
        return [str(exc)]
    building_id, category, chain_record_hash, quantity, unit_mass, unit = on_chain
    category_hex = "0x" + bytes(category).hex()
    differences = _lot_differences(
        state,
        {
            "building id": "0x" + bytes(building_id).hex(),
            "category": ascii_text(category_hex) or category_hex,
            "record hash": "0x" + bytes(chain_record_hash).hex(),
            "registered quantity": quantity,
            "unit mass in grams": unit_mass,
            "unit": unit,
        },
    )
    if any(chain_record_hash) or state.lot.record_hash != "0x" + "00" * 32:
        # A merge of several buildings' lots has no record; its hash is zero.
        differences += _record_differences(state, "0x" + bytes(chain_record_hash).hex())
    differences += _holding_differences(registry, state, lot_id, quantity, unit)
    return differences


def _lot_differences(state: _MirrorState, chain: dict[str, Any]) -> list[str]:
    lot = state.lot
    mirror = {
        "building id": lot.building_id or "0x" + "00" * 32,
        "category": lot.category,
        "record hash": lot.record_hash,
        "registered quantity": lot.quantity,
        "unit mass in grams": lot.unit_mass_grams,
        "unit": lot.unit,
    }
    return [
        f"The lot's {name} is {mirror[name]} in the mirror but {value} on chain."
        for name, value in chain.items()
        if mirror[name] != value
    ]


def _record_differences(state: _MirrorState, chain_hash: str) -> list[str]:
    if state.record_body is None:
        return [f"The mirror has no record stored under the hash {chain_hash}."]
    try:
        recomputed = "0x" + record_hash(json.loads(state.record_body)).hex()
    except (ValueError, TypeError) as exc:
        return [f"The mirror's record of the lot is not valid JSON ({exc})."]
    if recomputed != chain_hash:
        return [
            f"The mirror's record of the lot hashes to {recomputed}, but the chain "
            f"registered {chain_hash}: its description or another field was changed."
        ]
    return []


def _holding_differences(
    registry: Any, state: _MirrorState, lot_id: int, quantity: int, unit: int
) -> list[str]:
    holders = list(state.holdings)
    balances: list[int] = []
    if holders:
        balances = registry.functions.balanceOfBatch(
            [Web3.to_checksum_address(holder) for holder in holders],
            [lot_id] * len(holders),
        ).call(block_identifier=state.last_block)

    def amount(milli: int) -> str:
        return format_quantity(milli, Unit(unit))

    differences = [
        f"Holder {Web3.to_checksum_address(holder)} holds "
        f"{amount(state.holdings[holder])} in the mirror but {amount(balance)} "
        "on chain."
        for holder, balance in zip(holders, balances, strict=True)
        if state.holdings[holder] != balance
    ]
    missing = quantity - state.burnt - sum(balances)
    if missing > 0:
        differences.append(
            f"Holders that the mirror does not list hold {amount(missing)} on chain."
        )
    return differences
