"""The registry's history read straight from the chain, for audits.

Audits do not trust the SQL mirror: :func:`read_registry_events` fetches every log of
the registry with ``eth_getLogs`` and :class:`ChainHistory` replays them in chain order.
The replay keeps each holder's quantity of each lot from the domain events alone
(batch registration, custody transfers, installation, disposal, split and merge), so
a holder that sends more than the events show it received produces a
:class:`CustodyGap`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from web3 import Web3

from ledger.errors import ChainError
from ledger.indexer.decode import DecodedEvent, EventDecoder
from ledger.lifecycle import (
    ConditionGrade,
    DisposalRoute,
    HazardChecks,
    HazardStatus,
)
from ledger.lot_entries import unpack_entries
from ledger.writes import CustodyReason

logger = logging.getLogger(__name__)

DEFAULT_LOG_RANGE = 2_000


def read_registry_events(
    w3: Web3,
    address: str,
    abi: list[dict[str, Any]],
    from_block: int,
    log_range: int = DEFAULT_LOG_RANGE,
) -> tuple[list[DecodedEvent], int]:
    """Fetch and decode every registry log from ``from_block`` to the head.

    Returns the events in chain order and the head block they cover.
    """
    decoder = EventDecoder(abi)
    head = int(w3.eth.block_number)
    events: list[DecodedEvent] = []
    for start in range(from_block, head + 1, log_range):
        end = min(start + log_range - 1, head)
        response = w3.provider.make_request(
            "eth_getLogs",  # type: ignore[arg-type]
            [{"address": address, "fromBlock": hex(start), "toBlock": hex(end)}],
        )
        if "error" in response:
            raise ChainError(
                f"eth_getLogs for blocks {start} to {end} failed: {response['error']}; "
                "check the node and retry the audit."
            )
        events.extend(decoder.decode(log) for log in response["result"])
    events.sort(key=lambda event: event.position)
    logger.debug("Read %d registry events up to block %d", len(events), head)
    return events, head


@dataclass(frozen=True)
class Movement:
    """A change of a holder's quantity of a lot, as one domain event records it."""

    lot_id: int
    kind: str
    from_address: str | None
    to_address: str | None
    quantity: int
    detail: str
    reference_hash: str | None
    block_number: int
    transaction_hash: str
    log_index: int


@dataclass(frozen=True)
class CustodyGap:
    """A holder sent more of a lot than the events show it received."""

    lot_id: int
    holder: str
    missing: int
    block_number: int
    transaction_hash: str


@dataclass(frozen=True)
class Installation:
    """A quantity of a lot installed into a building."""

    lot_id: int
    destination_building_id: str
    holder: str
    quantity: int
    reference_hash: str
    block_number: int
    transaction_hash: str


@dataclass
class InspectionEvent:
    """An inspection and, once revoked, the revocation's reason."""

    inspection_id: int
    lot_id: int
    inspector: str
    grade: ConditionGrade
    fitness: str
    hazards: HazardChecks
    evidence_hash: str
    block_number: int
    transaction_hash: str
    revoked_reason_hash: str | None = None
    revoked_in_block: int | None = None

    @property
    def revoked(self) -> bool:
        """True once the inspector revoked the attestation."""
        return self.revoked_reason_hash is not None


@dataclass(frozen=True)
class ClaimEvent:
    """A registered claim with its stated figures."""

    claim_id: int
    destination_building_id: str
    owner: str
    lot_ids: list[int]
    reused_mass_grams: int
    total_mass_grams: int
    reuse_share_bps: int
    co2e_avoided_grams: int
    method_version: str
    document_hash: str
    block_number: int
    transaction_hash: str


@dataclass(frozen=True)
class AuditDecision:
    """An auditor's approval or rejection of a claim."""

    claim_id: int
    auditor: str
    approved: bool
    reasons_hash: str
    block_number: int
    transaction_hash: str


@dataclass
class ChainHistory:
    """Everything an audit needs, replayed from the registry's events in chain order."""

    movements: dict[int, list[Movement]] = field(
        default_factory=lambda: defaultdict(list)
    )
    installations: list[Installation] = field(default_factory=list)
    inspections: dict[int, InspectionEvent] = field(default_factory=dict)
    claims: dict[int, ClaimEvent] = field(default_factory=dict)
    decisions: dict[int, list[AuditDecision]] = field(
        default_factory=lambda: defaultdict(list)
    )
    gaps: list[CustodyGap] = field(default_factory=list)
    _balances: dict[tuple[int, str], int] = field(
        default_factory=lambda: defaultdict(int)
    )
    # Lots made by a split or merge; their LotRegistered follows and adds nothing.
    _derived: set[int] = field(default_factory=set)

    @classmethod
    def replay(cls, events: Sequence[DecodedEvent]) -> ChainHistory:
        """Replay ``events``, which must be in chain order."""
        history = cls()
        for event in events:
            history._apply(event)
        return history

    def balance(self, lot_id: int, holder: str) -> int:
        """Return a holder's replayed quantity of a lot."""
        return self._balances.get((lot_id, holder.lower()), 0)

    def latest_decision(self, claim_id: int) -> AuditDecision | None:
        """Return the claim's latest audit decision, or None."""
        decisions = self.decisions.get(claim_id)
        return decisions[-1] if decisions else None

    def inspections_of(self, lot_id: int) -> list[InspectionEvent]:
        """Return the inspections of one lot in chain order."""
        return [item for item in self.inspections.values() if item.lot_id == lot_id]

    # ------------------------------------------------------------------ replay

    def _apply(self, event: DecodedEvent) -> None:
        args = event.args
        name = event.name
        if name == "LotRegistered" and args["lotId"] in self._derived:
            return
        if name == "LotBatchRegistered":
            self._apply_batch(event)
        elif name == "LotRegistered":
            self._receive(event, args["lotId"], args["holder"], args["quantity"])
            self._move(
                event,
                args["lotId"],
                "registered",
                None,
                args["holder"],
                args["quantity"],
                "registered",
                args["recordHash"],
            )
        elif name == "CustodyTransferred":
            self._send(event, args["lotId"], args["from"], args["quantity"])
            self._receive(event, args["lotId"], args["to"], args["quantity"])
            reason = CustodyReason(args["reason"]).label
            self._move(
                event,
                args["lotId"],
                "transfer",
                args["from"],
                args["to"],
                args["quantity"],
                reason,
                args["referenceHash"],
            )
        elif name == "LotInstalled":
            self._send(event, args["lotId"], args["holder"], args["quantity"])
            destination = args["destinationBuildingId"]
            self._move(
                event,
                args["lotId"],
                "installed",
                args["holder"],
                None,
                args["quantity"],
                destination,
                args["referenceHash"],
            )
            self.installations.append(
                Installation(
                    lot_id=args["lotId"],
                    destination_building_id=destination,
                    holder=args["holder"],
                    quantity=args["quantity"],
                    reference_hash=args["referenceHash"],
                    block_number=event.block_number,
                    transaction_hash=event.transaction_hash,
                )
            )
        elif name == "LotDisposed":
            self._send(event, args["lotId"], args["holder"], args["quantity"])
            self._move(
                event,
                args["lotId"],
                "disposed",
                args["holder"],
                None,
                args["quantity"],
                DisposalRoute(args["route"]).label,
                args["referenceHash"],
            )
        elif name == "LotSplit":
            self._apply_split(event)
        elif name == "LotsMerged":
            self._apply_merge(event)
        elif name in ("InspectionRecorded", "InspectionRevoked"):
            self._apply_inspection(event)
        elif name == "ClaimRegistered":
            self._apply_claim(event)
        elif name == "ClaimAudited":
            self.decisions[args["claimId"]].append(
                AuditDecision(
                    claim_id=args["claimId"],
                    auditor=args["auditor"],
                    approved=bool(args["approved"]),
                    reasons_hash=args["reasonsHash"],
                    block_number=event.block_number,
                    transaction_hash=event.transaction_hash,
                )
            )

    def _apply_batch(self, event: DecodedEvent) -> None:
        args = event.args
        holder = args["holder"]
        for offset, entry in enumerate(unpack_entries(args["entries"])):
            lot_id = args["firstLotId"] + offset
            self._receive(event, lot_id, holder, entry.quantity)
            self._move(
                event,
                lot_id,
                "registered",
                None,
                holder,
                entry.quantity,
                "registered",
                entry.record_hash,
            )

    def _apply_split(self, event: DecodedEvent) -> None:
        args = event.args
        parent, holder = args["parentLotId"], args["holder"]
        children, quantities = args["childLotIds"], args["quantities"]
        self._send(event, parent, holder, sum(quantities))
        self._derived.update(children)
        for child, quantity in zip(children, quantities, strict=True):
            self._move(
                event,
                parent,
                "split",
                holder,
                None,
                quantity,
                f"into lot {child}",
                None,
            )
            self._receive(event, child, holder, quantity)
            self._move(
                event,
                child,
                "created",
                None,
                holder,
                quantity,
                f"split from lot {parent}",
                None,
            )

    def _apply_merge(self, event: DecodedEvent) -> None:
        args = event.args
        merged, holder = args["lotId"], args["holder"]
        self._derived.add(merged)
        for parent, quantity in zip(
            args["parentLotIds"], args["quantities"], strict=True
        ):
            self._send(event, parent, holder, quantity)
            self._move(
                event,
                parent,
                "merged",
                holder,
                None,
                quantity,
                f"into lot {merged}",
                None,
            )
        total = sum(args["quantities"])
        self._receive(event, merged, holder, total)
        parents = ", ".join(str(parent) for parent in args["parentLotIds"])
        self._move(
            event,
            merged,
            "created",
            None,
            holder,
            total,
            f"merged from lots {parents}",
            None,
        )

    def _apply_inspection(self, event: DecodedEvent) -> None:
        args = event.args
        if event.name == "InspectionRevoked":
            found = self.inspections.get(args["inspectionId"])
            if found is not None:
                found.revoked_reason_hash = args["reasonHash"]
                found.revoked_in_block = event.block_number
            return
        self.inspections[args["inspectionId"]] = InspectionEvent(
            inspection_id=args["inspectionId"],
            lot_id=args["lotId"],
            inspector=args["inspector"],
            grade=ConditionGrade(args["grade"]),
            fitness=ascii_text(args["fitness"]),
            hazards=HazardChecks(
                asbestos=HazardStatus(args["asbestos"]),
                lead_paint=HazardStatus(args["leadPaint"]),
                pcb=HazardStatus(args["pcb"]),
                bituminous_adhesive=HazardStatus(args["bituminousAdhesive"]),
            ),
            evidence_hash=args["evidenceHash"],
            block_number=event.block_number,
            transaction_hash=event.transaction_hash,
        )

    def _apply_claim(self, event: DecodedEvent) -> None:
        args = event.args
        self.claims[args["claimId"]] = ClaimEvent(
            claim_id=args["claimId"],
            destination_building_id=args["destinationBuildingId"],
            owner=args["owner"],
            lot_ids=list(args["lotIds"]),
            reused_mass_grams=args["reusedMassGrams"],
            total_mass_grams=args["totalMassGrams"],
            reuse_share_bps=args["reuseShareBps"],
            co2e_avoided_grams=args["co2eAvoidedGrams"],
            method_version=ascii_text(args["methodVersion"]),
            document_hash=args["documentHash"],
            block_number=event.block_number,
            transaction_hash=event.transaction_hash,
        )

    def _receive(
        self, event: DecodedEvent, lot_id: int, holder: str, quantity: int
    ) -> None:
        self._balances[(lot_id, holder.lower())] += quantity

    def _send(
        self, event: DecodedEvent, lot_id: int, holder: str, quantity: int
    ) -> None:
        key = (lot_id, holder.lower())
        held = self._balances[key]
        if quantity > held:
            self.gaps.append(
                CustodyGap(
                    lot_id=lot_id,
                    holder=holder.lower(),
                    missing=quantity - held,
                    block_number=event.block_number,
                    transaction_hash=event.transaction_hash,
                )
            )
            held = quantity
        self._balances[key] = held - quantity

    def _move(
        self,
        event: DecodedEvent,
        lot_id: int,
        kind: str,
        from_address: str | None,
        to_address: str | None,
        quantity: int,
        detail: str,
        reference_hash: str | None,
    ) -> None:
        self.movements[lot_id].append(
            Movement(
                lot_id=lot_id,
                kind=kind,
                from_address=from_address,
                to_address=to_address,
                quantity=quantity,
                detail=detail,
                reference_hash=reference_hash,
                block_number=event.block_number,
                transaction_hash=event.transaction_hash,
                log_index=event.log_index,
            )
        )


def ascii_text(value: str) -> str:
    """Return a left-aligned ASCII bytes32 (0x hex) as text, else the hex itself."""
    raw = bytes.fromhex(value[2:]).rstrip(b"\0")
    if raw and all(32 <= byte < 127 for byte in raw):
        return raw.decode("ascii")
    return value
