"""Terminal reports: a lot's provenance and the registered totals."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from ledger.queries import CustodyStep, LotHistory, LotView, summary
from ledger.units import Unit, format_mass_kg, format_quantity


def print_history(console: Console, history: LotHistory) -> None:
    """Print a lot's origin building and every step in chain order."""
    lot = history.lot
    record = lot.record or {}
    building = history.building_record or {}
    console.print(
        f"[bold]Lot {lot.lot_id}[/]: {record.get('description', lot.category)}"
    )
    console.print(f"  origin: {_origin(lot, building)}", highlight=False)
    console.print(
        f"  registered {format_quantity(lot.quantity, Unit(lot.unit))}, "
        f"{format_mass_kg(lot.mass_milligrams // 1000)}, "
        f"at {lot.registered_at:%Y-%m-%d %H:%M:%S} UTC, block {lot.block_number}, "
        f"transaction {lot.transaction_hash}"
    )

    table = Table(
        "date (UTC)", "from", "to", "quantity", "step", "block", "transaction"
    )
    for step in history.steps:
        # Installations, disposals, splits and merges have a holder but no receiver,
        # so their "to" cell is left empty and the step column describes them.
        if isinstance(step, CustodyStep):
            sender, receiver, label = (
                step.from_address,
                step.to_address,
                step.reason.label,
            )
        else:
            sender, receiver, label = step.holder, "", step.description
        table.add_row(
            f"{step.timestamp:%Y-%m-%d %H:%M:%S}",
            sender,
            receiver,
            format_quantity(step.quantity, Unit(lot.unit)),
            label,
            str(step.block_number),
            step.transaction_hash,
        )
    console.print(table)
    for holder, balance in lot.holders.items():
        console.print(f"  held by {holder}: {format_quantity(balance, Unit(lot.unit))}")


def print_summary(console: Console, engine: Engine) -> None:
    """Print lots, quantities and mass by category and by building."""
    by_category, by_building = summary(engine)
    for title, lines in (("category", by_category), ("building", by_building)):
        table = Table(title, "lots", "quantities", "mass", title=f"By {title}")
        for name, line in lines.items():
            quantities = ", ".join(
                format_quantity(quantity, Unit(unit))
                for unit, quantity in sorted(line.quantities.items())
            )
            table.add_row(
                name,
                str(line.lots),
                quantities,
                format_mass_kg(line.mass_milligrams // 1000),
            )
        console.print(table)


def _origin(lot: LotView, building: dict[str, Any]) -> str:
    """Return the origin building's reference, name and city, as far as known."""
    if lot.building_id is None:
        return "several buildings (a merge of lots of different origins)"
    reference = lot.building_reference or lot.building_id
    place = ", ".join(
        str(building[key]) for key in ("name", "city") if building.get(key)
    )
    return f"{reference} ({place})" if place else reference
