"""``reclaim`` commands for end of life, inspections, evidence, claims and audits.

Imported at the end of :mod:`ledger.cli`, which registers these commands on its app.
Each write prints its transaction, then runs the indexer so that the mirror shows it
at once (see :func:`ledger.cli.report_write`). With
``--once``, a write whose reference is already in the mirror is skipped, so that
``make demo`` can run again.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from sqlalchemy import select

from ledger.cli import app, console, notice, progress_bar, report_write, state
from ledger.errors import InvalidInput, LedgerError

if TYPE_CHECKING:
    from sqlalchemy.orm import InstrumentedAttribute

    from ledger.context import Ledger

evidence_app = typer.Typer(help="Store and check evidence documents.")
app.add_typer(evidence_app, name="evidence")

Sender = Annotated[
    str,
    typer.Option(
        "--from", help="Signing account: an actor id (local chain) or 'operator'."
    ),
]
Reference = Annotated[
    str | None,
    typer.Option(help="Supporting document: a 0x hash, or text that gets hashed."),
]
Once = Annotated[
    bool,
    typer.Option(
        help="Skip the write if its reference or document is already recorded."
    ),
]
Factors = Annotated[
    Path | None,
    typer.Option(help="Carbon factor CSV replacing the sample factors."),
]


def _fixed_quantity(text: str) -> int:
    from ledger.deliveries import parse_quantity

    return parse_quantity(text)


def _id_list(text: str, what: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InvalidInput(
            f"{what} {text!r} must be integers separated by commas, such as 5,28."
        ) from None
    if not values:
        raise InvalidInput(f"Give at least one value for {what.lower()}.")
    return values


def _grams(text: str, what: str) -> int:
    from ledger.units import GRAMS_PER_KILOGRAM, parse_decimal, to_fixed

    value = to_fixed(parse_decimal(text), GRAMS_PER_KILOGRAM, what)
    if value < 0:
        raise InvalidInput(f"{what} {text!r} must not be negative.")
    return value


def _check_held(
    ledger: Ledger, address: str, holder: str, lot_id: int, amount: int, action: str
) -> None:
    """Raise InvalidInput if the balance of ``address`` is below ``amount``.

    Checking before sending replaces the registry's revert, which gives raw
    thousandths, with a message in the lot's unit.
    """
    from ledger.chain_lots import chain_lot
    from ledger.units import Unit, format_quantity

    balance = int(ledger.registry.functions.balanceOf(address, lot_id).call())
    if amount <= balance:
        return
    # Raises NotFound for a lot the registry does not have.
    lot = chain_lot(ledger.registry, lot_id)
    unit = Unit(lot.unit)
    raise InvalidInput(
        f"{holder} holds {format_quantity(balance, unit)} of lot {lot_id}; cannot "
        f"{action} {format_quantity(amount, unit)}."
    )


def _check_role(ledger: Ledger, address: str, holder: str, role: str) -> None:
    """Raise InvalidInput naming the grant command if ``address`` lacks ``role``."""
    from ledger.contracts.deployment import AUDITOR_ROLE, INSPECTOR_ROLE

    role_id = {"inspector": INSPECTOR_ROLE, "auditor": AUDITOR_ROLE}[role]
    if not ledger.registry.functions.hasRole(role_id, address).call():
        raise InvalidInput(
            f"{holder} lacks the {role} role; grant it with "
            f"'reclaim grant {role} {holder}'."
        )


def _open() -> Ledger:
    from ledger.context import open_ledger

    return open_ledger(state.settings, notice=notice)


def _recorded(
    ledger: Ledger, column: InstrumentedAttribute[Any], value: object
) -> bool:
    from ledger.indexing import run_index

    run_index(ledger, progress_bar)
    with ledger.engine.connect() as connection:
        return (
            connection.execute(select(column).where(column == value)).first()
            is not None
        )


# ------------------------------------------------------------------ roles


@app.command()
def grant(
    role: Annotated[str, typer.Argument(help="inspector or auditor.")],
    account: Annotated[str, typer.Argument(help="An address or an actor id.")],
) -> None:
    """Grant the inspector or auditor role; the operator signs as the admin."""
    from ledger.importing import resolve_address
    from ledger.lifecycle import AUDITOR_ROLE, INSPECTOR_ROLE, grant_role

    ledger = _open()
    address = resolve_address(ledger, account)
    roles = {"inspector": INSPECTOR_ROLE, "auditor": AUDITOR_ROLE}
    if role in roles and ledger.registry.functions.hasRole(roles[role], address).call():
        console.print(f"{address} already has the {role} role; skipped.")
        return
    grant_role(ledger.registry, ledger.sender(), role, address)
    console.print(f"Granted the {role} role to {address}.")


# ------------------------------------------------------------- end of life


@app.command()
def install(
    lot: Annotated[int, typer.Argument(help="Lot id.")],
    building: Annotated[
        str, typer.Option(help="Destination building id, such as DST-NAMUR-01.")
    ],
    quantity: Annotated[str, typer.Option(help="Quantity in the lot's unit.")],
    sender: Sender = "operator",
    reference: Reference = None,
    once: Once = False,
) -> None:
    """Install a quantity of a lot into a building; it leaves circulation for good."""
    from ledger.custody import reference_hash, signing_account
    from ledger.db.models import Installation
    from ledger.lifecycle import install as install_lot
    from ledger.units import ascii_bytes32

    if once and not reference:
        raise InvalidInput("--once needs --reference to recognise the installation.")
    ledger = _open()
    digest = reference_hash(reference)
    if once and _recorded(ledger, Installation.reference_hash, "0x" + digest.hex()):
        console.print(f"Installation {reference!r} is already recorded; skipped.")
        return
    account = signing_account(ledger, sender)
    amount = _fixed_quantity(quantity)
    _check_held(ledger, account.address, sender, lot, amount, "install")
    receipt = install_lot(
        ledger.registry,
        ledger.sender(account),
        lot,
        amount,
        ascii_bytes32(building),
        digest,
    )
    report_write(ledger, receipt, f"Installed {quantity} of lot {lot} into {building}.")


@app.command()
def dispose(
    lot: Annotated[int, typer.Argument(help="Lot id.")],
    quantity: Annotated[str, typer.Option(help="Quantity in the lot's unit.")],
    route: Annotated[str, typer.Option(help="landfill, incineration or recycling.")],
    sender: Sender = "operator",
    reference: Reference = None,
) -> None:
    """Dispose of a quantity of a lot; recycling does not count as reuse."""
    from ledger.custody import reference_hash, signing_account
    from ledger.lifecycle import DisposalRoute
    from ledger.lifecycle import dispose as dispose_lot

    ledger = _open()
    parsed = DisposalRoute.parse(route)
    account = signing_account(ledger, sender)
    amount = _fixed_quantity(quantity)
    _check_held(ledger, account.address, sender, lot, amount, "dispose of")
    receipt = dispose_lot(
        ledger.registry,
        ledger.sender(account),
        lot,
        amount,
        DisposalRoute(parsed),
        reference_hash(reference),
    )
    report_write(
        ledger, receipt, f"Disposed of {quantity} of lot {lot} by {parsed.label}."
    )


@app.command()
def split(
    lot: Annotated[int, typer.Argument(help="Lot id.")],
    quantities: Annotated[
        str, typer.Option(help="Quantities of the new lots, comma-separated.")
    ],
    sender: Sender = "operator",
) -> None:
    """Split quantities of a lot into new lots with the same origin."""
    from ledger.custody import signing_account
    from ledger.lifecycle import split as split_lot

    ledger = _open()
    amounts = [_fixed_quantity(part) for part in quantities.split(",")]
    signer = ledger.sender(signing_account(ledger, sender))
    _check_held(ledger, signer.address, sender, lot, sum(amounts), "split")
    children = split_lot(ledger.registry, signer, lot, amounts)
    report_write(
        ledger,
        signer.last_receipts[-1],
        f"Split lot {lot} into lots {', '.join(map(str, children))}.",
    )


@app.command()
def merge(
    lots: Annotated[str, typer.Argument(help="Lot ids, comma-separated.")],
    quantities: Annotated[
        str, typer.Option(help="Quantity taken from each lot, comma-separated.")
    ],
    sender: Sender = "operator",
) -> None:
    """Merge quantities of lots of one kind into a new lot that keeps all origins."""
    from ledger.custody import signing_account
    from ledger.lifecycle import merge as merge_lots

    ledger = _open()
    lot_ids = _id_list(lots, "Lot ids")
    amounts = [_fixed_quantity(part) for part in quantities.split(",")]
    if len(amounts) != len(lot_ids):
        raise InvalidInput(
            f"{len(lot_ids)} lots need {len(lot_ids)} quantities, not {len(amounts)}."
        )
    signer = ledger.sender(signing_account(ledger, sender))
    for lot_id, amount in zip(lot_ids, amounts, strict=True):
        _check_held(ledger, signer.address, sender, lot_id, amount, "merge")
    merged = merge_lots(ledger.registry, signer, lot_ids, amounts)
    report_write(
        ledger, signer.last_receipts[-1], f"Merged lots {lots} into lot {merged}."
    )


# -------------------------------------------------------------- inspections


@app.command()
def inspect(
    lot: Annotated[int, typer.Argument(help="Lot id.")],
    grade: Annotated[str, typer.Option(help="Condition grade: A, B or C.")],
    fit_for: Annotated[
        str, typer.Option(help="Intended reuse code, such as interior-door.")
    ],
    evidence: Annotated[Path, typer.Option(help="Evidence document (report) file.")],
    asbestos: Annotated[str, typer.Option(help="absent, present or not-tested.")],
    lead_paint: Annotated[str, typer.Option(help="absent, present or not-tested.")],
    pcb: Annotated[str, typer.Option(help="absent, present or not-tested.")],
    bituminous_adhesive: Annotated[
        str, typer.Option(help="absent, present or not-tested.")
    ],
    sender: Sender = "operator",
    once: Once = False,
) -> None:
    """Record an inspection of a lot; the sender needs the inspector role."""
    from ledger.custody import signing_account
    from ledger.db.models import Inspection
    from ledger.evidence import add_evidence_file
    from ledger.lifecycle import (
        ConditionGrade,
        HazardChecks,
        HazardStatus,
        record_inspection,
    )
    from ledger.units import ascii_bytes32

    ledger = _open()
    hazards = HazardChecks(
        asbestos=HazardStatus(HazardStatus.parse(asbestos)),
        lead_paint=HazardStatus(HazardStatus.parse(lead_paint)),
        pcb=HazardStatus(HazardStatus.parse(pcb)),
        bituminous_adhesive=HazardStatus(HazardStatus.parse(bituminous_adhesive)),
    )
    digest = add_evidence_file(state.settings.data_dir, evidence)
    if once and _recorded(ledger, Inspection.evidence_hash, "0x" + digest):
        console.print(f"An inspection with evidence {digest} is recorded; skipped.")
        return
    signer = ledger.sender(signing_account(ledger, sender))
    _check_role(ledger, signer.address, sender, "inspector")
    inspection_id = record_inspection(
        ledger.registry,
        signer,
        lot,
        ConditionGrade(ConditionGrade.parse(grade)),
        ascii_bytes32(fit_for),
        hazards,
        bytes.fromhex(digest),
    )
    report_write(
        ledger,
        signer.last_receipts[-1],
        f"Recorded inspection {inspection_id} of lot {lot}.",
    )


@app.command("revoke-inspection")
def revoke_inspection(
    inspection: Annotated[int, typer.Argument(help="Inspection id.")],
    reason: Annotated[
        str, typer.Option(help="Reason for the revocation, stored as evidence.")
    ],
    sender: Sender = "operator",
) -> None:
    """Revoke an inspection; only its author can. The reason is stored as evidence."""
    from ledger.custody import signing_account
    from ledger.evidence import add_evidence
    from ledger.lifecycle import revoke_inspection as revoke

    if not reason.strip():
        raise InvalidInput("Give the reason for the revocation with --reason.")
    ledger = _open()
    digest = add_evidence(state.settings.data_dir, reason.strip().encode("utf-8"))
    account = signing_account(ledger, sender)
    receipt = revoke(
        ledger.registry, ledger.sender(account), inspection, bytes.fromhex(digest)
    )
    report_write(
        ledger, receipt, f"Revoked inspection {inspection}; reason stored as {digest}."
    )


# ------------------------------------------------------------------ evidence


@evidence_app.command("add")
def evidence_add(
    file: Annotated[Path, typer.Argument(help="Document to store.")],
) -> None:
    """Store a document in the evidence store and print its sha256 hash."""
    from ledger.evidence import add_evidence_file

    console.print(add_evidence_file(state.settings.data_dir, file))


# ------------------------------------------------------------ claims, audits


@app.command()
def claim(
    building: Annotated[str, typer.Option(help="Destination building id.")],
    lots: Annotated[str, typer.Option(help="Counted lot ids, comma-separated.")],
    total_mass_kg: Annotated[
        str, typer.Option(help="Total mass of the building's materials, in kg.")
    ],
    document: Annotated[Path, typer.Option(help="Claim document file.")],
    reused_mass_kg: Annotated[
        str | None, typer.Option(help="Claimed reused mass in kg; default: computed.")
    ] = None,
    share_percent: Annotated[
        str | None, typer.Option(help="Claimed reuse share in %; default: computed.")
    ] = None,
    co2e_kg: Annotated[
        str | None, typer.Option(help="Claimed CO2e avoided in kg; default: computed.")
    ] = None,
    sender: Sender = "operator",
    factors: Factors = None,
    once: Once = False,
) -> None:
    """Register a circularity claim; figures not given are computed from the chain."""
    from ledger.audit.service import compute_figures
    from ledger.custody import signing_account
    from ledger.db.models import Claim
    from ledger.evidence import add_evidence_file
    from ledger.lifecycle import METHOD_VERSION, register_claim
    from ledger.units import ascii_bytes32, parse_decimal, to_fixed

    ledger = _open()
    digest = add_evidence_file(state.settings.data_dir, document)
    if once and _recorded(ledger, Claim.document_hash, "0x" + digest):
        console.print(f"A claim with document {digest} is registered; skipped.")
        return
    figures = compute_figures(
        ledger,
        ascii_bytes32(building),
        _id_list(lots, "Lot ids"),
        _grams(total_mass_kg, "the total mass in kg"),
        ascii_bytes32(METHOD_VERSION),
        bytes.fromhex(digest),
        factors,
    )
    overrides: dict[str, int] = {}
    if reused_mass_kg is not None:
        overrides["reused_mass_grams"] = _grams(reused_mass_kg, "the reused mass")
    if share_percent is not None:
        overrides["reuse_share_bps"] = to_fixed(
            parse_decimal(share_percent), 100, "a share in percent"
        )
    if co2e_kg is not None:
        overrides["co2e_avoided_grams"] = _grams(co2e_kg, "the CO2e avoided")
    if overrides:
        from dataclasses import replace

        figures = replace(figures, **overrides)

    signer = ledger.sender(signing_account(ledger, sender))
    claim_id = register_claim(ledger.registry, signer, figures)
    report_write(
        ledger,
        signer.last_receipts[-1],
        f"Registered claim {claim_id} for {building}: reused "
        f"{figures.reused_mass_grams} g of {figures.total_mass_grams} g "
        f"({figures.reuse_share_bps} basis points), CO2e avoided "
        f"{figures.co2e_avoided_grams} g.",
    )


@app.command()
def audit(
    claim_id: Annotated[int, typer.Argument(help="Claim id.")],
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the JSON report here.")
    ] = None,
    html_path: Annotated[
        Path | None, typer.Option("--html", help="Write the HTML report here.")
    ] = None,
    pdf_path: Annotated[
        Path | None, typer.Option("--pdf", help="Write the PDF report here.")
    ] = None,
    approve: Annotated[
        bool, typer.Option("--approve", help="Record an approval on chain.")
    ] = False,
    reject: Annotated[
        bool, typer.Option("--reject", help="Record a rejection on chain.")
    ] = False,
    reason: Annotated[
        str | None, typer.Option(help="Reason for the decision (required with it).")
    ] = None,
    sender: Sender = "operator",
    factors: Factors = None,
    once: Once = False,
) -> None:
    """Recompute a claim from chain events alone, write reports, record a decision."""
    from ledger.audit.render import render_html, render_json, render_pdf, summary_lines
    from ledger.audit.service import audit_claim

    if approve and reject:
        raise InvalidInput("Give either --approve or --reject, not both.")
    ledger = _open()
    if approve or reject:
        _record_decision(ledger, claim_id, approve, reason or "", sender, factors, once)

    result = audit_claim(ledger, claim_id, factors)
    for line in summary_lines(result):
        console.print(line, highlight=False)
    for flag in result.errors:
        console.print(f"  {flag.code}: {flag.message}", highlight=False)
    _write(json_path, render_json(result).encode("utf-8"))
    _write(html_path, render_html(result).encode("utf-8"))
    if pdf_path is not None:
        _write(pdf_path, render_pdf(result))


def _record_decision(
    ledger: Ledger,
    claim_id: int,
    approve: bool,
    reason: str,
    sender: str,
    factors: Path | None,
    once: bool,
) -> None:
    from ledger.audit.service import decide
    from ledger.custody import signing_account
    from ledger.db.models import ClaimAudit

    if once and _recorded(ledger, ClaimAudit.claim_id, claim_id):
        console.print(f"Claim {claim_id} already has a decision; skipped.")
        return
    account = signing_account(ledger, sender)
    _check_role(ledger, account.address, sender, "auditor")
    decision = decide(ledger, account, claim_id, approve, reason, factors)
    verdict = "Approved" if decision.approved else "Rejected"
    report_write(
        ledger,
        decision.receipt,
        f"{verdict} claim {claim_id}; reasons stored as {decision.reasons_hash}.",
    )


def _write(path: Path | None, content: bytes) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    except OSError as exc:
        raise LedgerError(f"Cannot write {path}: {exc.strerror}.") from exc
    console.print(f"Wrote {path}")
