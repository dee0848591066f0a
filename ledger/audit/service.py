"""Audit operations on a connected ledger, shared by the CLI and the API."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, select
from web3.types import TxReceipt

from ledger.audit.factors import load_factors
from ledger.audit.history import ChainHistory, read_registry_events
from ledger.audit.recompute import BPS_SCALE, Auditor, AuditResult, RecordLookup
from ledger.audit.render import render_json
from ledger.context import Ledger
from ledger.contracts.artifacts import load_artifact
from ledger.db.models import Record
from ledger.errors import InvalidInput
from ledger.evidence import add_evidence
from ledger.lifecycle import ClaimFigures, record_audit

logger = logging.getLogger(__name__)


def record_lookup(engine: Engine) -> RecordLookup:
    """Return a lookup of off-chain record bodies stored by the importer."""

    def lookup(record_hash: str) -> str | None:
        with engine.connect() as connection:
            body: str | None = connection.execute(
                select(Record.body).where(Record.record_hash == record_hash)
            ).scalar_one_or_none()
        return body

    return lookup


def load_history(ledger: Ledger) -> tuple[ChainHistory, int]:
    """Replay the registry's events from the chain; return the history and head."""
    events, head = read_registry_events(
        ledger.w3,
        ledger.deployment.address,
        load_artifact()["abi"],
        ledger.deployment.block_number,
        ledger.settings.log_range,
    )
    return ChainHistory.replay(events), head


def auditor_for(
    ledger: Ledger, factors_path: Path | None = None
) -> tuple[Auditor, int]:
    """Return an auditor over the chain's current history, and the head block."""
    history, head = load_history(ledger)
    factors = load_factors(factors_path or ledger.settings.carbon_factors)
    return Auditor(
        history, ledger.registry, factors, record_lookup(ledger.engine)
    ), head


def audit_claim(
    ledger: Ledger, claim_id: int, factors_path: Path | None = None
) -> AuditResult:
    """Recompute claim ``claim_id`` from the chain alone."""
    auditor, head = auditor_for(ledger, factors_path)
    return auditor.audit(claim_id, ledger.deployment.chain_id, head)


@dataclass(frozen=True)
class Decision:
    """A recorded audit decision and the stored report that gives its reasons."""

    result: AuditResult
    approved: bool
    reasons_hash: str
    receipt: TxReceipt


def decide(
    ledger: Ledger,
    auditor_account: LocalAccount,
    claim_id: int,
    approved: bool,
    reason: str,
    factors_path: Path | None = None,
) -> Decision:
    """Audit a claim, store the report with the reason and record the decision.

    An approval is rejected while the audit has blocking flags. The reasons document
    is the JSON report followed by the auditor's reason; its sha256 goes on chain.
    """
    if not reason.strip():
        raise InvalidInput("Give the reason for the decision with --reason.")
    result = audit_claim(ledger, claim_id, factors_path)
    if approved and result.errors:
        codes = ", ".join(sorted({flag.code for flag in result.errors}))
        raise InvalidInput(
            f"Claim {claim_id} cannot be approved: the audit found {codes}. Reject it "
            "with --reject, or have the owner register a corrected claim."
        )

    document = render_json(result) + f"\nReason: {reason.strip()}\n"
    digest = add_evidence(ledger.settings.data_dir, document.encode("utf-8"))
    receipt = record_audit(
        ledger.registry,
        ledger.sender(auditor_account),
        claim_id,
        approved,
        bytes.fromhex(digest),
    )
    return Decision(result, approved, "0x" + digest, receipt)


def compute_figures(
    ledger: Ledger,
    destination_building_id: bytes,
    lot_ids: Sequence[int],
    total_mass_grams: int,
    method_version: bytes,
    document_hash: bytes,
    factors_path: Path | None = None,
) -> ClaimFigures:
    """Return the figures the method gives for installed lots, for a new claim.

    Lots already counted by another claim are still counted here; the audit of the new
    claim flags them.
    """
    auditor, _head = auditor_for(ledger, factors_path)
    destination = "0x" + destination_building_id.hex()
    reused = Fraction(0)
    co2e = Fraction(0)
    for lot_id in dict.fromkeys(lot_ids):
        mass, avoided = auditor.installed_figures(lot_id, destination)
        reused += mass
        co2e += avoided
    if total_mass_grams <= 0:
        raise InvalidInput(f"Total mass {total_mass_grams} g must be above zero.")
    return ClaimFigures(
        destination_building_id=destination_building_id,
        lot_ids=list(lot_ids),
        reused_mass_grams=_floor(reused),
        total_mass_grams=total_mass_grams,
        reuse_share_bps=_floor(reused * BPS_SCALE / total_mass_grams),
        # A reuse footprint above the new product's factor gives a negative saving,
        # which a claim states as zero.
        co2e_avoided_grams=max(_floor(co2e), 0),
        method_version=method_version,
        document_hash=document_hash,
    )


def _floor(value: Fraction) -> int:
    return value.numerator // value.denominator
