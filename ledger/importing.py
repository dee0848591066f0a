"""Import of a reuse inventory onto the chain: validate, store records, register.

The whole file is validated first, so a rejected file registers nothing. Records go
into the mirror's ``records`` table under their hash before the hash is sent to the
chain. Lots whose record hash is already registered are skipped, so importing the same
file twice registers nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.progress import Progress
from sqlalchemy import select

from ledger.chain.accounts import dev_account, parse_address
from ledger.context import Ledger
from ledger.db.models import Lot, Record
from ledger.errors import InvalidInput
from ledger.importer import parse_inventory
from ledger.indexing import run_index
from ledger.organisations import find_organisation
from ledger.records import building_record, canonical_json, lot_record, record_hash
from ledger.units import ascii_bytes32
from ledger.writes import LotInput, register_buildings, register_lots


@dataclass(frozen=True)
class ImportResult:
    """Counts of the buildings and lots an import registered or skipped."""

    buildings_registered: int
    lots_registered: int
    lots_skipped: int

    def describe(self) -> str:
        """Return a one-line summary for the user."""
        return (
            f"Registered {self.buildings_registered} buildings and "
            f"{self.lots_registered} lots; {self.lots_skipped} lots were already "
            "registered."
        )


def resolve_address(ledger: Ledger, account_text: str) -> str:
    """Resolve an organisation id, an actor id (local chain only) or an address."""
    text = account_text.strip()
    organisation = find_organisation(ledger.engine, text)
    if organisation is not None:
        return parse_address(organisation.chain_address)
    if text.upper().startswith("ACT-") and text[4:].isdigit():
        if not ledger.settings.uses_embedded_chain:
            raise InvalidInput(
                f"Actor id {account_text!r} maps to a development account only on "
                "the local chain; give the holder's address instead."
            )
        return str(dev_account(int(text[4:])).address)
    return parse_address(text)


def import_file(
    ledger: Ledger,
    path: Path,
    holder: str,
    buildings_path: Path | None,
    progress_bar: Callable[[], Progress],
) -> ImportResult:
    """Validate ``path`` and register its new buildings and lots for ``holder``."""
    inventory = parse_inventory(path, buildings_path)
    holder_address = resolve_address(ledger, holder)
    run_index(ledger, progress_bar)

    building_records = {row.ref: building_record(row) for row in inventory.buildings}
    # Each lot with its record body and the body's hash, computed once.
    lot_records = [
        (row, body, record_hash(body))
        for row, body in ((row, lot_record(row)) for row in inventory.lots)
    ]
    with ledger.engine.begin() as connection:
        known = set(connection.execute(select(Record.record_hash)).scalars())
        rows = []
        for kind, body, body_hash in [
            ("building", body, record_hash(body)) for body in building_records.values()
        ] + [("lot", body, body_hash) for _, body, body_hash in lot_records]:
            digest = "0x" + body_hash.hex()
            if digest not in known:
                known.add(digest)
                rows.append(
                    {
                        "record_hash": digest,
                        "kind": kind,
                        "body": canonical_json(body).decode(),
                    }
                )
        if rows:
            connection.execute(Record.__table__.insert(), rows)
        registered = set(connection.execute(select(Lot.record_hash)).scalars())

    registry = ledger.registry
    sender = ledger.sender()
    new_buildings = []
    for ref, body in building_records.items():
        building_id = ascii_bytes32(ref)
        digest = record_hash(body)
        on_chain = bytes(registry.functions.buildingRecordHash(building_id).call())
        if on_chain == bytes(32):
            new_buildings.append((building_id, digest))
        elif on_chain != digest:
            raise InvalidInput(
                f"Building {ref!r} is registered with another record (0x"
                f"{on_chain.hex()}); its details in {path} differ from the "
                "registered ones."
            )
    if new_buildings:
        register_buildings(registry, sender, new_buildings)

    lots = [
        LotInput(
            building_id=ascii_bytes32(row.building_ref),
            category=ascii_bytes32(row.category),
            unit=int(row.unit),
            quantity=row.quantity,
            unit_mass_grams=row.unit_mass_g,
            record_hash=body_hash,
        )
        for row, _, body_hash in lot_records
        if "0x" + body_hash.hex() not in registered
    ]
    if lots:
        with progress_bar() as progress:
            task = progress.add_task("Registering lots", total=len(lots))
            register_lots(
                registry,
                sender,
                holder_address,
                lots,
                on_batch_sent=lambda size: progress.update(task, advance=size),
            )
    run_index(ledger, progress_bar)
    return ImportResult(len(new_buildings), len(lots), len(lot_records) - len(lots))
