"""Audit reports as JSON, HTML (Jinja2) and PDF (fpdf2), from one dictionary.

Every figure travels as an integer in grams or basis points, next to the factor and
source it was computed with, so a reader can redo each step by hand.
"""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

from fpdf import FPDF
from jinja2 import Environment, PackageLoader, select_autoescape
from web3 import Web3

from ledger.audit.factors import CarbonFactor
from ledger.audit.recompute import ERROR, AuditResult, CountedLot, Flag
from ledger.lifecycle import HAZARD_NAMES
from ledger.units import Unit, format_quantity

REPORT_SCHEMA = "reclaim-ledger/audit-report/1"

_environment = Environment(
    loader=PackageLoader("ledger.audit", "templates"),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
)


def report_dict(result: AuditResult) -> dict[str, Any]:
    """Return the audit as plain JSON types; big integers stay exact as ints."""
    return {
        "schema": REPORT_SCHEMA,
        "claim_id": result.claim_id,
        "chain_id": result.chain_id,
        "registry_address": result.registry_address,
        "head_block": result.head_block,
        "source": "eth_getLogs and view calls of the registry; no SQL mirror",
        "destination_building_id": result.destination_building_id,
        "destination_reference": result.destination_reference,
        "owner": Web3.to_checksum_address(result.owner),
        "method_version": result.method_version,
        "document_hash": result.document_hash,
        "carbon_factors": {
            "path": result.factors_path,
            "sha256": result.factors_sha256,
        },
        "claimed": result.claimed,
        "verified": result.verified,
        "approvable": not result.errors,
        "flag_codes": result.flag_codes,
        "flags": [_flag_dict(flag) for flag in result.flags],
        "lots": [_lot_dict(lot) for lot in result.lots],
        "decisions": result.decisions,
    }


def render_json(result: AuditResult) -> str:
    """Return the audit report as indented JSON."""
    return json.dumps(report_dict(result), indent=2, ensure_ascii=False) + "\n"


def render_html(result: AuditResult) -> str:
    """Return the audit report as a standalone HTML page."""
    template = _environment.get_template("audit_report.html")
    return template.render(report=report_dict(result), kg=_kg, percent=_percent)


def render_pdf(result: AuditResult) -> bytes:
    """Return the audit report as a PDF document."""
    report = report_dict(result)
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("helvetica", "B", 14)
    pdf.multi_cell(0, 8, f"Audit of claim {report['claim_id']}", new_x="LMARGIN")
    pdf.set_font("helvetica", size=9)
    for line in summary_lines(result):
        pdf.multi_cell(0, 5, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    pdf.set_font("helvetica", "B", 11)
    pdf.cell(0, 7, "Flags", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=8)
    for flag in report["flags"]:
        text = f"[{flag['severity']}] {flag['code']}: {flag['message']}"
        pdf.multi_cell(0, 4, _latin1(text), new_x="LMARGIN", new_y="NEXT")

    for lot in report["lots"]:
        pdf.ln(2)
        pdf.set_font("helvetica", "B", 10)
        title = f"Lot {lot['lot_id']} ({lot['category']}), {lot['installed']}"
        pdf.multi_cell(0, 6, _latin1(title), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", size=8)
        for line in _lot_lines(lot):
            pdf.multi_cell(0, 4, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def summary_lines(result: AuditResult) -> list[str]:
    """Return the report's summary as plain text lines, for the CLI and the PDF."""
    claimed, verified = result.claimed, result.verified
    verdict = "approvable" if not result.errors else "not approvable"
    lines = [
        f"Claim {result.claim_id} for building {result.destination_reference}, "
        f"owner {Web3.to_checksum_address(result.owner)}, method "
        f"{result.method_version}.",
        f"Recomputed from chain {result.chain_id}, registry {result.registry_address}, "
        f"up to block {result.head_block}.",
        f"Reused mass: claimed {_kg(claimed['reused_mass_grams'])}, verified "
        f"{_kg(verified['reused_mass_grams'])}.",
        f"Reuse share: claimed {_percent(claimed['reuse_share_bps'])}, verified "
        f"{_percent(verified['reuse_share_bps'])} of "
        f"{_kg(claimed['total_mass_grams'])} total.",
        f"CO2e avoided: claimed {_kg(claimed['co2e_avoided_grams'])}, verified "
        f"{_kg(verified['co2e_avoided_grams'])}.",
        f"Carbon factors: {result.factors_path} (sha256 {result.factors_sha256}).",
        f"Lots listed: {len(result.lots)}; counted: "
        f"{sum(1 for lot in result.lots if lot.counted)}.",
        f"Flags: {', '.join(result.flag_codes) or 'none'}; {verdict}.",
    ]
    if result.decisions:
        latest = result.decisions[-1]
        state = "approved" if latest["approved"] else "rejected"
        lines.append(
            f"Decision: {state} by {_checksum(latest['auditor'])} in block "
            f"{latest['block_number']} (reasons {latest['reasons_hash']})."
        )
    else:
        lines.append("Decision: none recorded yet.")
    return lines


def _flag_dict(flag: Flag) -> dict[str, Any]:
    return {
        "code": flag.code,
        "severity": flag.severity,
        "lot_id": flag.lot_id,
        "message": flag.message,
    }


def _lot_dict(lot: CountedLot) -> dict[str, Any]:
    return {
        "lot_id": lot.lot_id,
        "category": lot.category,
        "unit": Unit(lot.unit).name.lower(),
        "unit_mass_grams": lot.unit_mass_grams,
        "installed_quantity": lot.installed_quantity,
        "installed": format_quantity(lot.installed_quantity, Unit(lot.unit)),
        "counted": lot.counted,
        "mass_grams": _grams(lot.mass_grams),
        "co2e_avoided_grams": _grams(lot.co2e_grams),
        "lineage": lot.lineage,
        "hazards_cleared": lot.cleared,
        "flag_codes": sorted({flag.code for flag in lot.flags}),
        "blocking": any(flag.severity == ERROR for flag in lot.flags),
        "origins": [
            {
                "root_lot_id": part.root_lot_id,
                "building_id": part.building_id,
                "building_reference": part.building_reference,
                "share": str(part.share),
                "mass_grams": _grams(part.mass_grams),
                "material": part.material,
                "new_product_factor": _factor_dict(part.new_factor),
                "reuse_footprint_factor": _factor_dict(part.reuse_factor),
                "transport_grams": _grams(part.transport_grams),
                "transport_source": "none recorded (no transport data)",
                "co2e_avoided_grams": _grams(part.co2e_grams),
            }
            for part in lot.origins
        ],
        "custody": [
            {
                "lot_id": step.lot_id,
                "kind": step.kind,
                "from": _checksum(step.from_address),
                "to": _checksum(step.to_address),
                "quantity": step.quantity,
                "detail": step.detail,
                "reference_hash": step.reference_hash,
                "block_number": step.block_number,
                "transaction_hash": step.transaction_hash,
            }
            for step in lot.custody
        ],
        "inspections": [
            {
                "inspection_id": item.inspection_id,
                "lot_id": item.lot_id,
                "inspector": _checksum(item.inspector),
                "grade": item.grade.name,
                "fitness": item.fitness,
                "hazards": {
                    name: getattr(item.hazards, name).label for name in HAZARD_NAMES
                },
                "evidence_hash": item.evidence_hash,
                "block_number": item.block_number,
                "revoked": item.revoked,
                "revoked_reason_hash": item.revoked_reason_hash,
            }
            for item in lot.inspections
        ],
    }


def _lot_lines(lot: dict[str, Any]) -> list[str]:
    lines = [
        f"Counted: {'yes' if lot['counted'] else 'no'}; mass {_kg(lot['mass_grams'])}; "
        f"CO2e avoided {_kg(lot['co2e_avoided_grams'])}; hazards cleared: "
        f"{'yes' if lot['hazards_cleared'] else 'no'}; flags: "
        f"{', '.join(lot['flag_codes']) or 'none'}.",
    ]
    for part in lot["origins"]:
        new = part["new_product_factor"]
        reuse = part["reuse_footprint_factor"]
        lines.append(
            f"Origin {part['building_reference']} via lot {part['root_lot_id']} "
            f"(share {part['share']}): {_kg(part['mass_grams'])} of "
            f"{part['material'] or 'unknown material'}; new product "
            f"{new['describe'] if new else 'no factor'}; reuse "
            f"{reuse['describe'] if reuse else 'no footprint'}; transport "
            f"{_kg(part['transport_grams'])} ({part['transport_source']})."
        )
    for step in lot["custody"]:
        lines.append(
            f"Block {step['block_number']}: lot {step['lot_id']} {step['kind']} "
            f"{step['quantity']} thousandths, {step['from'] or '-'} -> "
            f"{step['to'] or '-'} ({step['detail']})."
        )
    for item in lot["inspections"]:
        hazards = ", ".join(
            f"{name} {value}" for name, value in item["hazards"].items()
        )
        state = " REVOKED" if item["revoked"] else ""
        lines.append(
            f"Inspection {item['inspection_id']} of lot {item['lot_id']}{state}: grade "
            f"{item['grade']}, fit for {item['fitness']}; {hazards}."
        )
    return lines


def _factor_dict(factor: CarbonFactor | None) -> dict[str, Any] | None:
    if factor is None:
        return None
    return {
        "key": factor.key,
        "kg_co2e_per_kg": str(factor.kg_co2e_per_kg),
        "type": factor.factor_type,
        "source": factor.source,
        "source_entry": factor.source_entry,
        "describe": factor.describe(),
    }


def _grams(value: Fraction) -> int:
    """Round a mass in grams down to whole grams, as the claim figures are."""
    return value.numerator // value.denominator


def _kg(grams: int) -> str:
    return f"{grams / 1000:,.3f} kg"


def _percent(bps: int) -> str:
    return f"{bps / 100:.2f} %"


def _checksum(address: str | None) -> str | None:
    return Web3.to_checksum_address(address) if address else None


def _latin1(text: str) -> str:
    # The PDF's core fonts cover Latin-1 only; other characters become "?".
    return text.encode("latin-1", "replace").decode("latin-1")
