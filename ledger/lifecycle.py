"""Writes for the end of a lot's life and its audit trail.

Installation, disposal, split and merge burn quantities from the sender's balance;
inspections, claims and audit decisions are records in the registry. Every function
signs with the caller's :class:`TransactionSender` and returns what the chain assigned
(new lot ids, inspection or claim ids) read from the receipt's events.
"""

from __future__ import annotations

import enum
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from ledger.chain.transactions import TransactionSender
from ledger.chain_lots import check_mergeable, reveal_lots
from ledger.contracts.deployment import AUDITOR_ROLE, INSPECTOR_ROLE
from ledger.errors import InvalidInput, NotFound

logger = logging.getLogger(__name__)

MAX_SHARE_BPS = 10_000
METHOD_VERSION = "reclaim-method/1"


class _LabelledEnum(enum.IntEnum):
    """An enum with the contract's values, written as lower-case labels."""

    @classmethod
    def parse(cls, text: str) -> _LabelledEnum:
        """Parse a label such as ``not-tested`` or ``landfill``, in any case."""
        key = text.strip().upper().replace("-", "_").replace(" ", "_")
        try:
            return cls[key]
        except KeyError:
            choices = ", ".join(member.label for member in cls)
            raise InvalidInput(
                f"{text!r} is not a valid {cls.__name__} value; use one of: {choices}."
            ) from None

    @property
    def label(self) -> str:
        """The value as written in the CLI, the API and reports."""
        return self.name.lower().replace("_", "-")


class DisposalRoute(_LabelledEnum):
    """End-of-life route, with the values of the contract's ``DisposalRoute``."""

    LANDFILL = 0
    INCINERATION = 1
    RECYCLING = 2


class HazardStatus(_LabelledEnum):
    """Result of one hazardous-substance check (contract ``HazardStatus``)."""

    NOT_TESTED = 0
    ABSENT = 1
    PRESENT = 2


class ConditionGrade(_LabelledEnum):
    """Condition grade: A ready to reuse, B needs refurbishing, C doubtful."""

    A = 0
    B = 1
    C = 2


HAZARD_NAMES = ("asbestos", "lead_paint", "pcb", "bituminous_adhesive")


@dataclass(frozen=True)
class HazardChecks:
    """The four hazardous-substance checks of an inspection."""

    asbestos: HazardStatus
    lead_paint: HazardStatus
    pcb: HazardStatus
    bituminous_adhesive: HazardStatus

    def as_list(self) -> list[int]:
        """Return the checks in the contract's order as integers."""
        return [int(getattr(self, name)) for name in HAZARD_NAMES]

    @property
    def cleared(self) -> bool:
        """True when every substance was tested and found absent."""
        return all(getattr(self, name) is HazardStatus.ABSENT for name in HAZARD_NAMES)


@dataclass(frozen=True)
class ClaimFigures:
    """Figures of a circularity claim in the contract's units."""

    destination_building_id: bytes
    lot_ids: list[int]
    reused_mass_grams: int
    total_mass_grams: int
    reuse_share_bps: int
    co2e_avoided_grams: int
    method_version: bytes
    document_hash: bytes

    def check(self) -> None:
        """Raise InvalidInput for figures the registry would reject."""
        if not self.lot_ids:
            raise InvalidInput("A claim must name at least one lot.")
        if self.total_mass_grams <= 0:
            raise InvalidInput(
                f"Total mass {self.total_mass_grams} g must be greater than zero."
            )
        if self.reused_mass_grams > self.total_mass_grams:
            raise InvalidInput(
                f"Reused mass {self.reused_mass_grams} g is above the total mass "
                f"{self.total_mass_grams} g; check both figures."
            )
        if not 0 <= self.reuse_share_bps <= MAX_SHARE_BPS:
            raise InvalidInput(
                f"Reuse share {self.reuse_share_bps} basis points is outside 0 to "
                f"{MAX_SHARE_BPS}."
            )

    def as_tuple(self) -> tuple[bytes, list[int], int, int, int, int, bytes, bytes]:
        """Return the figures as the contract's ABI tuple ``ClaimInput``."""
        return (
            self.destination_building_id,
            self.lot_ids,
            self.reused_mass_grams,
            self.total_mass_grams,
            self.reuse_share_bps,
            self.co2e_avoided_grams,
            self.method_version,
            self.document_hash,
        )


def grant_role(
    registry: Contract, sender: TransactionSender, role: str, account: str
) -> TxReceipt:
    """Grant ``inspector`` or ``auditor`` to ``account``; the sender must be admin."""
    roles = {"inspector": INSPECTOR_ROLE, "auditor": AUDITOR_ROLE}
    if role not in roles:
        raise InvalidInput(f"{role!r} is not a role; use inspector or auditor.")
    (receipt,) = sender.transact([registry.functions.grantRole(roles[role], account)])
    logger.info("Granted the %s role to %s", role, account)
    return receipt


def install(
    registry: Contract,
    sender: TransactionSender,
    lot_id: int,
    quantity: int,
    destination_building_id: bytes,
    reference_hash: bytes = bytes(32),
) -> TxReceipt:
    """Install ``quantity`` (thousandths of the unit) of a lot into a building."""
    (receipt,) = sender.transact(
        [
            registry.functions.install(
                lot_id, quantity, destination_building_id, reference_hash
            )
        ]
    )
    logger.info("Lot %d: %d installed by %s", lot_id, quantity, sender.address)
    return receipt


def dispose(
    registry: Contract,
    sender: TransactionSender,
    lot_id: int,
    quantity: int,
    route: DisposalRoute,
    reference_hash: bytes = bytes(32),
) -> TxReceipt:
    """Dispose of ``quantity`` of a lot by ``route``."""
    (receipt,) = sender.transact(
        [registry.functions.dispose(lot_id, quantity, int(route), reference_hash)]
    )
    logger.info("Lot %d: %d disposed of by %s", lot_id, quantity, route.label)
    return receipt


def split(
    registry: Contract,
    sender: TransactionSender,
    lot_id: int,
    quantities: Sequence[int],
) -> list[int]:
    """Split quantities of a lot into new lots; return the new lots' ids.

    A batch lot whose fields the registry has not stored is revealed first, from its
    registration log, once the quantities are known to be valid.
    """
    if not quantities:
        raise InvalidInput(
            f"A split of lot {lot_id} needs at least one quantity; give the "
            "quantities of the new lots."
        )
    for quantity in quantities:
        _check_positive(lot_id, quantity, "new lot")
    _check_balances(registry, sender.address, [(lot_id, sum(quantities))])
    reveal_lots(registry, sender, [lot_id])
    (receipt,) = sender.transact([registry.functions.split(lot_id, list(quantities))])
    (event,) = registry.events.LotSplit().process_receipt(receipt, errors=DISCARD)
    children = [int(child) for child in event["args"]["childLotIds"]]
    logger.info("Lot %d split into lots %s", lot_id, children)
    return children


def merge(
    registry: Contract,
    sender: TransactionSender,
    lot_ids: Sequence[int],
    quantities: Sequence[int],
) -> int:
    """Merge quantities of lots of one kind into a new lot; return its id.

    Batch lots whose fields the registry has not stored are revealed first, as in
    :func:`split`, once the lots are known to be distinct, of one kind and given a
    valid quantity each.
    """
    if len(quantities) != len(lot_ids):
        raise InvalidInput(
            f"{len(lot_ids)} lots need {len(lot_ids)} quantities, not "
            f"{len(quantities)}."
        )
    repeated = sorted(lot_id for lot_id, uses in Counter(lot_ids).items() if uses > 1)
    if repeated:
        raise InvalidInput(
            f"Lot {repeated[0]} appears more than once in the merge; list each lot "
            "once."
        )
    parts = list(zip(lot_ids, quantities, strict=True))
    for lot_id, quantity in parts:
        _check_positive(lot_id, quantity, "merged part")
    _check_balances(registry, sender.address, parts)
    check_mergeable(registry, lot_ids)
    reveal_lots(registry, sender, lot_ids)
    (receipt,) = sender.transact(
        [registry.functions.merge(list(lot_ids), list(quantities))]
    )
    (event,) = registry.events.LotsMerged().process_receipt(receipt, errors=DISCARD)
    merged = int(event["args"]["lotId"])
    logger.info("Lots %s merged into lot %d", list(lot_ids), merged)
    return merged


def _check_positive(lot_id: int, quantity: int, part: str) -> None:
    if quantity <= 0:
        raise InvalidInput(
            f"Lot {lot_id}: quantity {quantity} of a {part} must be above zero; "
            "give a positive quantity."
        )


def _check_balances(
    registry: Contract, holder: str, amounts: Sequence[tuple[int, int]]
) -> None:
    """Raise unless ``holder`` holds each (lot id, amount) of ``amounts``."""
    last_lot_id = int(registry.functions.lotCount().call())
    for lot_id, amount in amounts:
        if not 1 <= lot_id <= last_lot_id:
            raise NotFound(
                f"Lot {lot_id} is not registered; lot ids run from 1 to {last_lot_id}."
            )
        balance = int(registry.functions.balanceOf(holder, lot_id).call())
        if amount > balance:
            raise InvalidInput(
                f"{holder} holds {balance} thousandths of lot {lot_id}, fewer than "
                f"the {amount} to split or merge; use the holder's account or a "
                "smaller quantity."
            )


def record_inspection(
    registry: Contract,
    sender: TransactionSender,
    lot_id: int,
    grade: ConditionGrade,
    fitness: bytes,
    hazards: HazardChecks,
    evidence_hash: bytes,
) -> int:
    """Record an inspection of a lot; return the inspection id."""
    call = registry.functions.recordInspection(
        lot_id, int(grade), fitness, hazards.as_list(), evidence_hash
    )
    (receipt,) = sender.transact([call])
    (event,) = registry.events.InspectionRecorded().process_receipt(
        receipt, errors=DISCARD
    )
    return int(event["args"]["inspectionId"])


def revoke_inspection(
    registry: Contract,
    sender: TransactionSender,
    inspection_id: int,
    reason_hash: bytes,
) -> TxReceipt:
    """Revoke an inspection; the sender must be its author."""
    (receipt,) = sender.transact(
        [registry.functions.revokeInspection(inspection_id, reason_hash)]
    )
    logger.info("Inspection %d revoked by %s", inspection_id, sender.address)
    return receipt


def register_claim(
    registry: Contract, sender: TransactionSender, figures: ClaimFigures
) -> int:
    """Register a circularity claim with the sender as owner; return its id."""
    figures.check()
    (receipt,) = sender.transact([registry.functions.registerClaim(figures.as_tuple())])
    (event,) = registry.events.ClaimRegistered().process_receipt(
        receipt, errors=DISCARD
    )
    return int(event["args"]["claimId"])


def record_audit(
    registry: Contract,
    sender: TransactionSender,
    claim_id: int,
    approved: bool,
    reasons_hash: bytes,
) -> TxReceipt:
    """Record an auditor's approval or rejection of a claim."""
    (receipt,) = sender.transact(
        [registry.functions.recordAudit(claim_id, approved, reasons_hash)]
    )
    verdict = "approved" if approved else "rejected"
    logger.info("Claim %d %s by %s", claim_id, verdict, sender.address)
    return receipt
