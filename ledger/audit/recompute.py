"""Recompute a circularity claim's figures from the chain and flag what does not hold.

The method is written out in ``docs/method.md``. A claim counts the installations of
its lots into its destination building. Reused mass is quantity times unit mass, and
the reuse share is that mass over the claimed total mass. CO2e avoided is mass times
(new-product factor minus reuse footprint), minus transport emissions. Masses and
emissions stay exact fractions of a gram until the totals, which are rounded down.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from eth_utils import keccak
from web3.contract import Contract

from ledger.audit.factors import CarbonFactor, CarbonFactors
from ledger.audit.history import (
    ChainHistory,
    ClaimEvent,
    InspectionEvent,
    Movement,
    ascii_text,
)
from ledger.chain_lots import chain_lot
from ledger.errors import InvalidInput, NotFound
from ledger.units import QUANTITY_SCALE

# Flag codes. Errors block an approval, while warnings are only shown with the figures.
CLAIM_REUSED_MASS_ABOVE_VERIFIED = "CLAIM_REUSED_MASS_ABOVE_VERIFIED"
CLAIM_SHARE_ABOVE_VERIFIED = "CLAIM_SHARE_ABOVE_VERIFIED"
CLAIM_CO2E_ABOVE_VERIFIED = "CLAIM_CO2E_ABOVE_VERIFIED"
LOT_LISTED_TWICE = "LOT_LISTED_TWICE"
LOT_IN_OTHER_CLAIM = "LOT_IN_OTHER_CLAIM"
LOT_INSTALLED_ELSEWHERE = "LOT_INSTALLED_ELSEWHERE"
LOT_NOT_INSTALLED = "LOT_NOT_INSTALLED"
LOT_NOT_INSPECTED = "LOT_NOT_INSPECTED"
HAZARD_NOT_CLEARED = "HAZARD_NOT_CLEARED"
INSPECTION_REVOKED = "INSPECTION_REVOKED"
CUSTODY_GAP = "CUSTODY_GAP"
NO_TRANSPORT_DATA = "NO_TRANSPORT_DATA"
NO_CARBON_FACTOR = "NO_CARBON_FACTOR"
NO_REUSE_FOOTPRINT = "NO_REUSE_FOOTPRINT"
LOT_RECORD_MISSING = "LOT_RECORD_MISSING"

ERROR = "error"
WARNING = "warning"
BPS_SCALE = 10_000

# Returns the canonical JSON body stored under a record hash, or None.
RecordLookup = Callable[[str], str | None]


@dataclass(frozen=True)
class Flag:
    """One finding of an audit; ``lot_id`` is None for claim-level findings."""

    code: str
    severity: str
    message: str
    lot_id: int | None = None


@dataclass(frozen=True)
class OriginPart:
    """The share of a counted lot that comes from one registered lot."""

    root_lot_id: int
    building_id: str
    building_reference: str
    share: Fraction
    mass_grams: Fraction
    material: str | None
    new_factor: CarbonFactor | None
    reuse_factor: CarbonFactor | None
    transport_grams: Fraction
    co2e_grams: Fraction


@dataclass(frozen=True)
class CountedLot:
    """A lot of the claim with its installations, origins, custody and checks."""

    lot_id: int
    category: str
    unit: int
    unit_mass_grams: int
    installed_quantity: int
    counted: bool
    mass_grams: Fraction
    co2e_grams: Fraction
    origins: list[OriginPart]
    lineage: list[int]
    custody: list[Movement]
    inspections: list[InspectionEvent]
    cleared: bool
    flags: list[Flag] = field(default_factory=list)


@dataclass(frozen=True)
class AuditResult:
    """A claim, its recomputed figures, counted lots and flags."""

    claim_id: int
    chain_id: int
    registry_address: str
    head_block: int
    destination_building_id: str
    destination_reference: str
    owner: str
    method_version: str
    document_hash: str
    claimed: dict[str, int]
    verified: dict[str, int]
    lots: list[CountedLot]
    flags: list[Flag]
    factors_path: str
    factors_sha256: str
    decisions: list[dict[str, Any]]

    @property
    def errors(self) -> list[Flag]:
        """The flags that block an approval."""
        return [flag for flag in self.flags if flag.severity == ERROR]

    @property
    def flag_codes(self) -> list[str]:
        """The distinct flag codes, sorted."""
        return sorted({flag.code for flag in self.flags})


@dataclass(frozen=True)
class _LotData:
    building_id: str
    category: str
    record_hash: str
    unit_mass_grams: int
    unit: int
    parents: list[tuple[int, int]]


class Auditor:
    """Recomputes claims against one replayed history and the registry's views."""

    def __init__(
        self,
        history: ChainHistory,
        registry: Contract,
        factors: CarbonFactors,
        records: RecordLookup,
    ) -> None:
        self.history = history
        self.registry = registry
        self.factors = factors
        self.records = records
        self._lots: dict[int, _LotData] = {}

    def audit(self, claim_id: int, chain_id: int, head_block: int) -> AuditResult:
        """Recompute claim ``claim_id``; raise NotFound when it is not registered."""
        claim = self.history.claims.get(claim_id)
        if claim is None:
            raise NotFound(
                f"Claim {claim_id} is not registered on this chain up to block "
                f"{head_block}; check the id."
            )

        flags: list[Flag] = []
        blocking_claims = self._lots_counted_by_other_claims(claim_id)
        seen: set[int] = set()
        counted_lots: list[CountedLot] = []
        for lot_id in claim.lot_ids:
            if lot_id in seen:
                flags.append(
                    Flag(
                        LOT_LISTED_TWICE,
                        ERROR,
                        f"Lot {lot_id} is listed more than once in the claim; it is "
                        "counted once.",
                        lot_id,
                    )
                )
                continue
            seen.add(lot_id)
            blocking = blocking_claims.get(lot_id)
            counted_lots.append(self._count_lot(claim, lot_id, blocking))

        reused = sum(
            (lot.mass_grams for lot in counted_lots if lot.counted), Fraction(0)
        )
        co2e = sum((lot.co2e_grams for lot in counted_lots if lot.counted), Fraction(0))
        verified = {
            "reused_mass_grams": _floor(reused),
            "total_mass_grams": claim.total_mass_grams,
            "reuse_share_bps": _floor(reused * BPS_SCALE / claim.total_mass_grams),
            "co2e_avoided_grams": _floor(co2e),
        }
        claimed = {
            "reused_mass_grams": claim.reused_mass_grams,
            "total_mass_grams": claim.total_mass_grams,
            "reuse_share_bps": claim.reuse_share_bps,
            "co2e_avoided_grams": claim.co2e_avoided_grams,
        }
        flags.extend(_figure_flags(claimed, verified))
        for lot in counted_lots:
            flags.extend(lot.flags)

        return AuditResult(
            claim_id=claim_id,
            chain_id=chain_id,
            registry_address=str(self.registry.address),
            head_block=head_block,
            destination_building_id=claim.destination_building_id,
            destination_reference=ascii_text(claim.destination_building_id),
            owner=claim.owner,
            method_version=claim.method_version,
            document_hash=claim.document_hash,
            claimed=claimed,
            verified=verified,
            lots=counted_lots,
            flags=flags,
            factors_path=str(self.factors.path),
            factors_sha256=self.factors.sha256,
            decisions=[
                {
                    "auditor": decision.auditor,
                    "approved": decision.approved,
                    "reasons_hash": decision.reasons_hash,
                    "block_number": decision.block_number,
                    "transaction_hash": decision.transaction_hash,
                }
                for decision in self.history.decisions.get(claim_id, [])
            ],
        )

    def installed_figures(
        self, lot_id: int, destination_building_id: str
    ) -> tuple[Fraction, Fraction]:
        """Return the mass and CO2e avoided of a lot's installations into a building."""
        count = int(self.registry.functions.lotCount().call())
        if not 1 <= lot_id <= count:
            raise InvalidInput(
                f"Lot {lot_id} is not registered; lot ids run from 1 to {count}."
            )
        mass = Fraction(
            self._installed_quantity(lot_id, destination_building_id)
            * self._lot(lot_id).unit_mass_grams,
            QUANTITY_SCALE,
        )
        ignored: list[Flag] = []
        co2e = sum(
            (
                self._origin_part(root, share, mass, lot_id, ignored).co2e_grams
                for root, share in self._origins(lot_id)
            ),
            Fraction(0),
        )
        return mass, co2e

    def _installed_quantity(self, lot_id: int, destination_building_id: str) -> int:
        return sum(
            item.quantity
            for item in self.history.installations
            if item.lot_id == lot_id
            and item.destination_building_id == destination_building_id
        )

    # ----------------------------------------------------------------- lots

    def _count_lot(
        self,
        claim: ClaimEvent,
        lot_id: int,
        blocking_claim: tuple[int, str] | None,
    ) -> CountedLot:
        data = self._lot(lot_id)
        destination = claim.destination_building_id
        installs = [
            item for item in self.history.installations if item.lot_id == lot_id
        ]
        installed_here = sum(
            item.quantity
            for item in installs
            if item.destination_building_id == destination
        )
        elsewhere = sorted(
            {
                ascii_text(item.destination_building_id)
                for item in installs
                if item.destination_building_id != destination
            }
        )

        flags: list[Flag] = []
        if installed_here == 0 and elsewhere:
            flags.append(
                Flag(
                    LOT_INSTALLED_ELSEWHERE,
                    ERROR,
                    f"Lot {lot_id} was installed into {', '.join(elsewhere)}, not into "
                    f"{ascii_text(destination)}; it is not counted.",
                    lot_id,
                )
            )
        elif installed_here == 0:
            flags.append(
                Flag(
                    LOT_NOT_INSTALLED,
                    ERROR,
                    f"Lot {lot_id} has no installation recorded on chain; it is not "
                    "counted.",
                    lot_id,
                )
            )
        if blocking_claim is not None:
            other_id, reason = blocking_claim
            flags.append(
                Flag(
                    LOT_IN_OTHER_CLAIM,
                    ERROR,
                    f"Lot {lot_id} is already counted by claim {other_id} ({reason}); "
                    "it is not counted again.",
                    lot_id,
                )
            )
        counted = installed_here > 0 and blocking_claim is None

        lineage = self._lineage(lot_id)
        gaps = [gap for gap in self.history.gaps if gap.lot_id in lineage]
        for gap in gaps:
            flags.append(
                Flag(
                    CUSTODY_GAP,
                    ERROR,
                    f"Holder {gap.holder} sent {gap.missing} thousandths of lot "
                    f"{gap.lot_id} more than the events show it received (block "
                    f"{gap.block_number}, transaction {gap.transaction_hash}).",
                    lot_id,
                )
            )

        inspections = [
            item
            for lineage_id in sorted(lineage)
            for item in self.history.inspections_of(lineage_id)
        ]
        cleared = self._cleared(lot_id)
        flags.extend(_inspection_flags(lot_id, inspections, cleared))

        mass = Fraction(installed_here * data.unit_mass_grams, QUANTITY_SCALE)
        origins = [
            self._origin_part(root, share, mass, lot_id, flags)
            for root, share in self._origins(lot_id)
        ]
        flags.append(
            Flag(
                NO_TRANSPORT_DATA,
                WARNING,
                f"No transport data is recorded for lot {lot_id}; transport "
                "emissions are counted as zero.",
                lot_id,
            )
        )
        custody = [
            movement
            for lineage_id in sorted(lineage)
            for movement in self.history.movements.get(lineage_id, [])
        ]
        custody.sort(key=lambda movement: (movement.block_number, movement.log_index))
        return CountedLot(
            lot_id=lot_id,
            category=data.category,
            unit=data.unit,
            unit_mass_grams=data.unit_mass_grams,
            installed_quantity=installed_here,
            counted=counted,
            mass_grams=mass,
            co2e_grams=sum((part.co2e_grams for part in origins), Fraction(0)),
            origins=origins,
            lineage=sorted(lineage),
            custody=custody,
            inspections=inspections,
            cleared=cleared,
            flags=flags,
        )

    def _origin_part(
        self, root: int, share: Fraction, mass: Fraction, lot_id: int, flags: list[Flag]
    ) -> OriginPart:
        data = self._lot(root)
        record = self._record(data.record_hash)
        material = record.get("material") if record else None
        if record is None:
            flags.append(
                Flag(
                    LOT_RECORD_MISSING,
                    WARNING,
                    f"The off-chain record {data.record_hash} of lot {root} is "
                    "missing or does not match its hash; its material and carbon "
                    "factor are unknown.",
                    lot_id,
                )
            )

        new_factor = self.factors.new_product(material) if material else None
        reuse_factor = self.factors.reuse_process(material) if material else None
        part_mass = mass * share
        if material and new_factor is None:
            flags.append(
                Flag(
                    NO_CARBON_FACTOR,
                    WARNING,
                    f"No new-product factor for material {material!r} of lot {root} in "
                    f"{self.factors.path}; its CO2e avoided is counted as zero.",
                    lot_id,
                )
            )
        if new_factor is not None and reuse_factor is None:
            flags.append(
                Flag(
                    NO_REUSE_FOOTPRINT,
                    WARNING,
                    f"No reuse footprint for material {material!r} of lot {root}; "
                    "it is counted as zero, which overstates the CO2e avoided.",
                    lot_id,
                )
            )

        # NOTE: the chain records no distances or vehicles yet, so transport is zero
        # and every lot carries the NO_TRANSPORT_DATA warning.
        transport = Fraction(0)
        if new_factor is None:
            co2e = Fraction(0)
        else:
            reuse = (
                Fraction(reuse_factor.kg_co2e_per_kg) if reuse_factor else Fraction(0)
            )
            co2e = part_mass * (Fraction(new_factor.kg_co2e_per_kg) - reuse) - transport
        return OriginPart(
            root_lot_id=root,
            building_id=data.building_id,
            building_reference=ascii_text(data.building_id),
            share=share,
            mass_grams=part_mass,
            material=material,
            new_factor=new_factor,
            reuse_factor=reuse_factor,
            transport_grams=transport,
            co2e_grams=co2e,
        )

    def _lot(self, lot_id: int) -> _LotData:
        if lot_id not in self._lots:
            building, category, record_hash, _quantity, unit_mass, unit = chain_lot(
                self.registry, lot_id
            )
            parent_ids, quantities = self.registry.functions.lotParents(lot_id).call()
            self._lots[lot_id] = _LotData(
                building_id="0x" + bytes(building).hex(),
                category=ascii_text("0x" + bytes(category).hex()),
                record_hash="0x" + bytes(record_hash).hex(),
                unit_mass_grams=int(unit_mass),
                unit=int(unit),
                parents=list(
                    zip(map(int, parent_ids), map(int, quantities), strict=True)
                ),
            )
        return self._lots[lot_id]

    def _origins(self, lot_id: int) -> list[tuple[int, Fraction]]:
        """Return (registered lot, share) pairs that make up ``lot_id``."""
        parents = self._lot(lot_id).parents
        if not parents:
            return [(lot_id, Fraction(1))]
        total = sum(quantity for _, quantity in parents)
        shares: dict[int, Fraction] = {}
        for parent, quantity in parents:
            for root, share in self._origins(parent):
                shares[root] = shares.get(root, Fraction(0)) + share * Fraction(
                    quantity, total
                )
        return sorted(shares.items())

    def _lineage(self, lot_id: int) -> set[int]:
        found = {lot_id}
        for parent, _ in self._lot(lot_id).parents:
            found |= self._lineage(parent)
        return found

    def _cleared(self, lot_id: int) -> bool:
        """True when a valid inspection of the lot, or of all its parents, clears it."""
        for item in self.history.inspections_of(lot_id):
            if not item.revoked and item.hazards.cleared:
                return True
        parents = self._lot(lot_id).parents
        return bool(parents) and all(self._cleared(parent) for parent, _ in parents)

    def _record(self, record_hash: str) -> dict[str, Any] | None:
        """Return the off-chain record whose keccak256 is ``record_hash``, or None."""
        body = self.records(record_hash)
        if body is None or "0x" + keccak(body.encode("utf-8")).hex() != record_hash:
            return None
        record: dict[str, Any] = json.loads(body)
        return record

    def _lots_counted_by_other_claims(
        self, claim_id: int
    ) -> dict[int, tuple[int, str]]:
        """Map each lot that another claim blocks for ``claim_id`` to it and the reason.

        A claim whose latest decision is an approval blocks its lots for every other
        claim, whatever its id or building. An earlier claim on the same building
        blocks its lots unless its latest decision is a rejection. An approved claim
        is named ahead of a pending one.
        """
        claim = self.history.claims[claim_id]
        approved: dict[int, tuple[int, str]] = {}
        earlier: dict[int, tuple[int, str]] = {}
        for other in sorted(self.history.claims.values(), key=lambda c: c.claim_id):
            if other.claim_id == claim_id:
                continue
            decision = self.history.latest_decision(other.claim_id)
            if decision is not None and decision.approved:
                reason = "approved"
                found = approved
            elif (
                decision is None
                and other.claim_id < claim_id
                and other.destination_building_id == claim.destination_building_id
            ):
                reason = "registered earlier on the same building and not rejected"
                found = earlier
            else:
                continue
            for lot_id in other.lot_ids:
                found.setdefault(lot_id, (other.claim_id, reason))
        return {**earlier, **approved}


def _inspection_flags(
    lot_id: int, inspections: list[InspectionEvent], cleared: bool
) -> list[Flag]:
    flags: list[Flag] = []
    revoked = [item for item in inspections if item.revoked]
    valid = [item for item in inspections if not item.revoked]
    for item in revoked:
        flags.append(
            Flag(
                INSPECTION_REVOKED,
                WARNING if cleared else ERROR,
                f"Inspection {item.inspection_id} of lot {item.lot_id} was revoked by "
                f"{item.inspector} (reason {item.revoked_reason_hash}).",
                lot_id,
            )
        )
    if cleared:
        return flags
    if valid:
        flags.append(
            Flag(
                HAZARD_NOT_CLEARED,
                ERROR,
                f"No valid inspection of lot {lot_id} or its parents finds "
                "asbestos, lead paint, PCB and bituminous adhesive all absent.",
                lot_id,
            )
        )
    else:
        flags.append(
            Flag(
                LOT_NOT_INSPECTED,
                ERROR,
                f"Lot {lot_id} and its parents have no valid inspection.",
                lot_id,
            )
        )
    return flags


def _figure_flags(claimed: dict[str, int], verified: dict[str, int]) -> list[Flag]:
    checks = (
        ("reused_mass_grams", CLAIM_REUSED_MASS_ABOVE_VERIFIED, "reused mass", "g"),
        ("reuse_share_bps", CLAIM_SHARE_ABOVE_VERIFIED, "reuse share", "basis points"),
        ("co2e_avoided_grams", CLAIM_CO2E_ABOVE_VERIFIED, "CO2e avoided", "g"),
    )
    flags = []
    for key, code, label, unit in checks:
        if claimed[key] > verified[key]:
            flags.append(
                Flag(
                    code,
                    ERROR,
                    f"The claimed {label} {claimed[key]} {unit} is above the "
                    f"{verified[key]} {unit} that the chain supports.",
                )
            )
    return flags


def _floor(value: Fraction) -> int:
    return value.numerator // value.denominator
