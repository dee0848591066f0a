"""The ``reclaim`` command line: chain, deployment, import, custody, index, reports."""

from __future__ import annotations

import logging
import os
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from ledger.chain import anvil
from ledger.errors import LedgerError
from ledger.settings import Settings, load_settings

if TYPE_CHECKING:
    from web3.types import TxReceipt

    from ledger.context import Ledger

app = typer.Typer(
    help="Reclaim Ledger: provenance of reclaimed building materials.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
chain_app = typer.Typer(help="Start, stop and inspect the embedded local chain.")
app.add_typer(chain_app, name="chain")
org_app = typer.Typer(help="Organisations, their signing keystores and API keys.")
app.add_typer(org_app, name="org")
listing_app = typer.Typer(help="List lots for sale and show listings.")
app.add_typer(listing_app, name="listing")
note_app = typer.Typer(help="Check delivery notes against the chain.")
app.add_typer(note_app, name="note")

# Reports keep full hashes and dates when written to a pipe or a file.
console = Console(width=None if sys.stdout.isatty() else 200)
errors = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option(help="Folder for chain state, deployments and the SQLite mirror."),
]
RpcUrl = Annotated[
    str | None, typer.Option(help="JSON-RPC URL of an EVM node instead of local anvil.")
]
DatabaseUrl = Annotated[
    str | None, typer.Option(help="SQLAlchemy URL of the mirror database.")
]


class _State:
    settings: Settings


state = _State()


@app.callback()
def configure(
    data_dir: DataDir = None,
    rpc_url: RpcUrl = None,
    database_url: DatabaseUrl = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log details.")
    ] = False,
) -> None:
    """Read the settings once; flags override RECLAIM_* variables and .env."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    state.settings = load_settings(
        data_dir=data_dir, rpc_url=rpc_url, database_url=database_url
    )


def notice(message: str) -> None:
    """Print a notice about what the command did on the user's behalf."""
    errors.print(f"[yellow]note:[/] {message}")


def report_write(ledger: Ledger, receipt: TxReceipt, recorded: str) -> None:
    """Print what a write recorded with its transaction, then index it.

    The transaction is on chain before indexing starts, so an indexing failure
    prints a warning and the command still exits 0: running the write again would
    record it twice.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from ledger.indexing import run_index

    transaction = f"0x{bytes(receipt['transactionHash']).hex()}"
    console.print(recorded, highlight=False)
    console.print(
        f"Transaction {transaction} in block {receipt['blockNumber']}.",
        highlight=False,
    )
    try:
        run_index(ledger, progress_bar)
    except (LedgerError, SQLAlchemyError, OSError) as exc:
        errors.print(
            f"[yellow]warning:[/] transaction {transaction} is on chain, but indexing "
            f"it failed, so the mirror is behind: {exc} Do not send the write again. "
            "Fix the cause and run 'reclaim index'.",
            highlight=False,
        )


def progress_bar() -> Progress:
    """Return a progress bar for long work."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=errors,
        transient=False,
    )


# --------------------------------------------------------------------------- chain


@chain_app.command("start")
def chain_start() -> None:
    """Start the local anvil chain in the background, loading its saved state."""
    settings = state.settings
    if not settings.uses_embedded_chain:
        raise LedgerError(
            f"The chain is the remote node {settings.rpc_url}; there is no local chain "
            "to start."
        )
    running = anvil.read_info(settings.data_dir)
    info = anvil.start(
        settings.data_dir,
        settings.chain_id,
        settings.anvil_accounts,
        state_history=settings.anvil_state_history,
    )
    verb = "is already running" if running else "started"
    console.print(f"Local chain {verb} at {info.rpc_url} (pid {info.pid}).")


@chain_app.command("stop")
def chain_stop() -> None:
    """Stop the local chain; it saves its state for the next start."""
    if anvil.stop(state.settings.data_dir):
        console.print(f"Local chain stopped; state saved in {state.settings.data_dir}.")
    else:
        console.print("The local chain was not running.")


@chain_app.command("status")
def chain_status() -> None:
    """Print whether a node responds at the RPC URL, its chain id and newest block."""
    from ledger.chain import saver
    from ledger.chain.connection import connect, rpc_url

    url = rpc_url(state.settings)
    w3 = connect(url)
    console.print(
        f"Chain {w3.eth.chain_id} at {url}: newest block {w3.eth.block_number}."
    )
    if not state.settings.uses_embedded_chain:
        return
    info = anvil.read_info(state.settings.data_dir)
    if info is None:
        return
    if anvil.saver_running(info):
        record = saver.read_record(state.settings.data_dir / anvil.STATE_FILE)
        saved = (
            "nothing saved since the chain started"
            if record is None
            else f"state saved up to block {record['block_number']} at "
            f"{record['saved_at']}"
        )
        console.print(f"State saver running (pid {info.saver_pid}): {saved}.")
    else:
        errors.print(
            "[yellow]warning:[/] the state saver is not running, so a crash of the "
            "chain would lose every block since its last save. Restart the chain with "
            "'reclaim chain stop' and 'reclaim chain start'. anvil.log in the data "
            "folder shows the saver's errors."
        )


# ---------------------------------------------------------------- contracts


@app.command()
def compile() -> None:
    """Compile the contracts and rewrite the committed artifacts."""
    from ledger.contracts.compile import compile_contracts, write_artifacts

    for path in write_artifacts(compile_contracts()):
        console.print(f"Wrote {path}")


@app.command()
def deploy() -> None:
    """Deploy the registry on the chain unless it is deployed already."""
    from ledger.context import open_ledger

    ledger = open_ledger(state.settings, deploy_if_missing=True, notice=notice)
    console.print(
        f"Registry at {ledger.deployment.address} on chain "
        f"{ledger.deployment.chain_id} "
        f"(deployed in block {ledger.deployment.block_number})."
    )


# ------------------------------------------------------------------ indexer


@app.command()
def index(
    follow: Annotated[
        bool, typer.Option(help="Keep indexing new blocks until interrupted.")
    ] = False,
    reset: Annotated[
        bool,
        typer.Option(help="Delete the mirror's chain data and index from the start."),
    ] = False,
) -> None:
    """Mirror the registry's events into the database, up to the chain's head."""
    from ledger.context import open_ledger
    from ledger.indexing import reset_mirror, run_index

    ledger = open_ledger(state.settings, notice=notice)
    if reset:
        reset_mirror(ledger.engine)
        notice("Deleted the mirror's chain data; indexing from the deployment block.")
    last = run_index(ledger, progress_bar)
    console.print(f"Indexed to block {last}.")
    if follow:
        console.print("Following new blocks; press Ctrl+C to stop.")
        try:
            ledger.indexer().follow(state.settings.poll_interval)
        except KeyboardInterrupt:
            console.print("Stopped following.")


@app.command()
def verify() -> None:
    """Compare the mirror with the live chain; print each difference, exit 1 on any.

    Checks every lot's record, every known holder's balance and the number of events in
    each block range, all at the mirror's checkpoint block.
    """
    from ledger.context import open_ledger
    from ledger.indexer.rpc import RpcClient
    from ledger.verify import verify_mirror

    ledger = open_ledger(state.settings, notice=notice)
    with errors.status("Verifying the mirror against the chain") as status:
        report = verify_mirror(
            ledger.engine,
            RpcClient(ledger.url, retry_seconds=state.settings.rpc_retry_seconds),
            ledger.deployment.address,
            state.settings.log_range,
            progress=lambda step: status.update(f"Verifying {step}"),
        )
    for difference in report.differences:
        console.print(f"[red]differs:[/] {difference}")
    summary_line = (
        f"at block {report.block_number}: {report.lots} lots, {report.buildings} "
        f"buildings, {report.balances} balances, {report.events} events in "
        f"{report.ranges} block range(s)"
    )
    if not report.ok:
        missing_logs = [
            difference
            for difference in report.differences
            if difference.check == "lot batch log" and difference.chain == "missing"
        ]
        advice = "Rebuild it with 'reclaim reindex --replace'."
        if missing_logs:
            # The fields of those lots exist only in the missing logs, so a mirror
            # rebuilt from this node would lack them too.
            advice = (
                f"The node returned no registration log for {len(missing_logs)} "
                "batch(es) of lots, so it may not keep the registry's whole log "
                "history. Verify against a node that does before rebuilding."
            )
        console.print(
            f"[red]The mirror differs from the chain in {len(report.differences)} "
            f"place(s)[/] {summary_line}. {advice}"
        )
        raise typer.Exit(1)
    console.print(f"The mirror equals the chain {summary_line}.")
    if report.chain_head is not None and report.chain_head > report.block_number:
        behind = report.chain_head - report.block_number
        notice(
            f"The chain's head is block {report.chain_head}, so the mirror is {behind} "
            "block(s) behind; run 'reclaim index', or keep 'reclaim index --follow' "
            "running next to 'reclaim serve'."
        )


@app.command()
def digest() -> None:
    """Print a digest of the mirror's content; equal mirrors print the same line."""
    from ledger.context import open_engine
    from ledger.indexer.digest import mirror_digest

    console.print(mirror_digest(open_engine(state.settings)).line())


@app.command()
def reindex(
    into: Annotated[
        str | None,
        typer.Option(
            help="Empty database to build the new mirror in (SQLAlchemy URL); by "
            "default a new SQLite file in the data folder."
        ),
    ] = None,
    replace: Annotated[
        bool,
        typer.Option(
            help="Delete the current mirror's chain data and rebuild it in place."
        ),
    ] = False,
) -> None:
    """Rebuild the mirror from the deployment block and compare digests."""
    from ledger.context import open_ledger
    from ledger.indexer.digest import mirror_digest
    from ledger.indexing import rebuild_mirror, reset_mirror, run_index

    ledger = open_ledger(state.settings, notice=notice)
    if replace:
        reset_mirror(ledger.engine)
        run_index(ledger, progress_bar)
        console.print(f"Rebuilt the mirror: {mirror_digest(ledger.engine).line()}")
        return
    rebuilt = rebuild_mirror(ledger, progress_bar, into)
    console.print(f"New mirror in {rebuilt.database_url}")
    console.print(f"  new:     {rebuilt.digest.line()}")
    if rebuilt.current is None:
        return
    console.print(f"  current: {rebuilt.current.line()}")
    if rebuilt.current.sha256 == rebuilt.digest.sha256:
        console.print("The current mirror equals a clean index of the chain.")
    else:
        console.print(
            "[red]The current mirror differs from a clean index;[/] run 'reclaim "
            "verify' to see where, and 'reclaim reindex --replace' to rebuild it."
        )
        raise typer.Exit(1)


# ------------------------------------------------------------------- import


@app.command("import")
def import_inventory(
    csv_file: Annotated[Path, typer.Argument(help="Reuse inventory CSV file.")],
    holder: Annotated[
        str,
        typer.Option(help="First custodian of the lots: an address or an actor id."),
    ] = "ACT-001",
    buildings: Annotated[
        Path | None, typer.Option(help="CSV with more details of the buildings.")
    ] = None,
) -> None:
    """Validate an inventory CSV and register its buildings and lots on the chain."""
    from ledger.context import open_ledger
    from ledger.importing import import_file

    ledger = open_ledger(state.settings, deploy_if_missing=True, notice=notice)
    result = import_file(ledger, csv_file, holder, buildings, progress_bar)
    console.print(result.describe())


# ------------------------------------------------------------------ custody


@app.command()
def transfer(
    lot: Annotated[int, typer.Argument(help="Lot id.")],
    to: Annotated[str, typer.Option(help="Receiver: an address or an actor id.")],
    quantity: Annotated[
        str, typer.Option(help="Quantity in the lot's unit, such as 84.5 or 1200.")
    ],
    sender: Annotated[
        str,
        typer.Option(
            "--from", help="Current holder: an actor id (local chain) or 'operator'."
        ),
    ] = "operator",
    reason: Annotated[
        str,
        typer.Option(help="sale, consignment, transport-handoff, return, unspecified."),
    ] = "sale",
    reference: Annotated[
        str | None,
        typer.Option(help="Supporting document: a 0x hash, or text that gets hashed."),
    ] = None,
    once: Annotated[
        bool,
        typer.Option(help="Skip the transfer if its reference is already recorded."),
    ] = False,
    transporter: Annotated[
        str | None, typer.Option(help="Organisation id of the transporter.")
    ] = None,
    pickup: Annotated[
        str | None,
        typer.Option(
            help="Pickup place: 'latitude,longitude' or a building reference."
        ),
    ] = None,
    delivery: Annotated[
        str | None,
        typer.Option(
            help="Delivery place: 'latitude,longitude' or a building reference."
        ),
    ] = None,
    vehicle: Annotated[
        str, typer.Option(help="Vehicle row ('mode') of the transport factors file.")
    ] = "hgv_diesel_all",
) -> None:
    """Move custody of a quantity of a lot to another holder, then index it.

    With a transporter or places, a delivery note is written under
    DATA_DIR/delivery-notes and its SHA-256 hash becomes the on-chain reference.
    """
    from ledger.context import open_ledger
    from ledger.custody import reference_recorded, signing_account, transfer_lot
    from ledger.deliveries import (
        Logistics,
        check_balance,
        parse_quantity,
        transfer_with_note,
    )
    from ledger.indexing import run_index
    from ledger.locks import market_lock

    ledger = open_ledger(state.settings, notice=notice)
    logistics = Logistics(transporter, pickup, delivery, vehicle)
    if logistics.named:
        if once:
            raise LedgerError(
                "--once cannot recognise a transfer with a delivery note, because "
                "each note has its own hash; leave out --once."
            )
        sent = transfer_with_note(
            ledger, lot, sender, to, quantity, reason, reference, logistics
        )
        recorded = (
            f"Transferred {quantity} of lot {lot} to {to}.\n"
            f"Delivery note {sent.note_hash} (the on-chain reference)."
        )
        if sent.estimate is not None:
            recorded += f"\nTransport: {sent.estimate.describe()}"
        report_write(ledger, sent.receipt, recorded)
        return
    if once:
        if not reference:
            raise LedgerError("--once needs --reference to recognise the transfer.")
        run_index(ledger, progress_bar)
        if reference_recorded(ledger, reference):
            console.print(f"Transfer {reference!r} is already recorded; skipped.")
            return
    signer = signing_account(ledger, sender)
    # Under the market lock, so no reservation takes the quantity after the check.
    with market_lock(ledger.engine):
        check_balance(ledger, signer.address, lot, parse_quantity(quantity))
        receipt = transfer_lot(ledger, lot, sender, to, quantity, reason, reference)
    report_write(ledger, receipt, f"Transferred {quantity} of lot {lot} to {to}.")


# ------------------------------------------------------------ organisations


@org_app.command("list")
def org_list() -> None:
    """Print every organisation with its role, city and chain address."""
    from rich.table import Table

    from ledger.context import open_engine
    from ledger.organisations import list_organisations

    table = Table("id", "name", "role", "city", "chain address")
    for organisation in list_organisations(open_engine(state.settings)):
        table.add_row(
            organisation.actor_id,
            organisation.name,
            organisation.role,
            organisation.city,
            organisation.chain_address,
        )
    console.print(table)


@org_app.command("seed")
def org_seed(
    csv_file: Annotated[Path, typer.Argument(help="Actors CSV file.")] = Path(
        "data/wallonia/actors.csv"
    ),
) -> None:
    """Add the organisations of an actors CSV file, each with a new keystore."""
    from ledger.context import open_engine
    from ledger.organisations import seed_organisations

    settings = state.settings
    result = seed_organisations(settings, open_engine(settings), csv_file)
    console.print(
        f"Added {result.added} organisations; {result.skipped} were already there."
    )


@org_app.command("add")
def org_add(
    name: Annotated[str, typer.Option(help="Company name.")],
    role: Annotated[
        str,
        typer.Option(help="contractor, yard, buyer, transporter, inspector, ..."),
    ],
    actor_id: Annotated[
        str | None,
        typer.Option("--id", help="Organisation id; default the next ACT-nnn."),
    ] = None,
    street: Annotated[str, typer.Option(help="Street and number.")] = "",
    postcode: Annotated[str, typer.Option(help="Postcode.")] = "",
    city: Annotated[str, typer.Option(help="City.")] = "",
    country: Annotated[str, typer.Option(help="ISO 3166 country code.")] = "BE",
) -> None:
    """Add an organisation and write its signing key into an encrypted keystore."""
    from ledger.context import open_engine
    from ledger.organisations import add_organisation

    settings = state.settings
    organisation = add_organisation(
        settings,
        open_engine(settings),
        name=name,
        role=role,
        street_address=street,
        postcode=postcode,
        city=city,
        country=country,
        actor_id=actor_id,
    )
    console.print(
        f"Added {organisation.actor_id} ({organisation.name}) at "
        f"{organisation.chain_address}."
    )


@org_app.command("key")
def org_key(
    organisation: Annotated[str, typer.Argument(help="Organisation id, ACT-004.")],
) -> None:
    """Create an API key for an organisation and print it once."""
    from ledger.context import open_engine
    from ledger.organisations import create_api_key

    key = create_api_key(open_engine(state.settings), organisation)
    errors.print("Store this key now; it is not shown again.")
    console.print(key)


@org_app.command("revoke-key")
def org_revoke_key(
    prefix: Annotated[str, typer.Argument(help="The part after 'rlk_' of the key.")],
) -> None:
    """Revoke an API key; requests with it then get 401."""
    from ledger.context import open_engine
    from ledger.organisations import revoke_api_key

    revoke_api_key(open_engine(state.settings), prefix)
    console.print(f"Revoked API key {prefix}.")


# ----------------------------------------------------------------- listings


@listing_app.command("add")
def listing_add(
    lot: Annotated[int, typer.Argument(help="Lot id.")],
    organisation: Annotated[
        str, typer.Option("--org", help="Seller: the organisation that holds the lot.")
    ],
    quantity: Annotated[str, typer.Option(help="Quantity in the lot's unit.")],
    price: Annotated[str, typer.Option(help="Price per unit in euros, such as 9.00.")],
    location: Annotated[str, typer.Option(help="Yard or site name.")],
    latitude: Annotated[str | None, typer.Option(help="Decimal degrees.")] = None,
    longitude: Annotated[str | None, typer.Option(help="Decimal degrees.")] = None,
    available_from: Annotated[
        str | None, typer.Option(help="First pickup date, YYYY-MM-DD.")
    ] = None,
    conditions: Annotated[str, typer.Option(help="Pickup conditions.")] = "",
    once: Annotated[
        bool,
        typer.Option(help="Skip if the seller already has an open listing of the lot."),
    ] = False,
) -> None:
    """List a quantity of a lot for sale, within what the seller holds."""
    from ledger.context import open_engine
    from ledger.market import ListingInput, create_listing, list_listings
    from ledger.organisations import get_organisation

    engine = open_engine(state.settings)
    if once:
        existing = list_listings(engine, lot_id=lot, seller=organisation)
        if existing:
            console.print(
                f"{organisation} already lists lot {lot} (listing {existing[0].id}); "
                "skipped."
            )
            return
    view = create_listing(
        engine,
        get_organisation(engine, organisation),
        lot,
        ListingInput(
            quantity=quantity,
            price_per_unit=price,
            location_name=location,
            latitude=latitude,
            longitude=longitude,
            available_from=_parse_date(available_from),
            pickup_conditions=conditions,
        ),
    )
    console.print(f"Listing {view.id}: lot {view.lot_id} by {view.seller}.")


@listing_app.command("list")
def listing_list(
    lot: Annotated[int | None, typer.Option(help="Only this lot.")] = None,
    organisation: Annotated[
        str | None, typer.Option("--org", help="Only this seller.")
    ] = None,
) -> None:
    """Print open listings with their available quantity and price."""
    from rich.table import Table

    from ledger.context import open_engine
    from ledger.deliveries import quantity_text
    from ledger.market import list_listings

    table = Table("id", "lot", "seller", "listed", "available", "EUR/unit", "at")
    engine = open_engine(state.settings)
    for view in list_listings(engine, lot_id=lot, seller=organisation):
        if view.unit is None:
            listed = quantity_text(view.listed)
            available = "unknown: lot not indexed yet"
        else:
            listed = f"{quantity_text(view.listed)} {view.unit.symbol}"
            available = f"{quantity_text(view.available)} {view.unit.symbol}"
        table.add_row(
            str(view.id),
            str(view.lot_id),
            view.seller,
            listed,
            available,
            f"{view.price_cents // 100}.{view.price_cents % 100:02d}",
            view.location_name,
        )
    console.print(table)


@note_app.command("check")
def note_check(
    note: Annotated[
        str, typer.Argument(help="A delivery note file, or its 0x SHA-256 hash.")
    ],
) -> None:
    """Check that a delivery note is the reference of an indexed transfer."""
    from ledger.context import open_engine
    from ledger.deliveries import check_delivery_note
    from ledger.logistics import read_delivery_note

    path = Path(note)
    if path.is_file():
        body = path.read_bytes()
    else:
        body = read_delivery_note(state.settings, note)
    result = check_delivery_note(open_engine(state.settings), body)
    if result.transaction_hash is None:
        raise LedgerError(
            f"No indexed transfer has the reference {result.note_hash}; the note was "
            "changed, or run 'reclaim index' to catch up with the chain."
        )
    if result.mismatches:
        raise LedgerError(
            f"Transfer {result.transaction_hash} has the reference "
            f"{result.note_hash}, but " + "; ".join(result.mismatches) + "."
        )
    console.print(
        f"Delivery note {result.note_hash} matches transfer {result.transaction_hash} "
        f"in block {result.block_number}."
    )


def _parse_date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise LedgerError(f"Date {text!r} is not in the form YYYY-MM-DD.") from None


# ------------------------------------------------------------------ reports


@app.command()
def history(lot: Annotated[int, typer.Argument(help="Lot id.")]) -> None:
    """Print a lot's provenance: origin building and every custody step."""
    from ledger.context import open_engine
    from ledger.queries import lot_history
    from ledger.reports import print_history

    print_history(console, lot_history(open_engine(state.settings), lot))


@app.command()
def summary() -> None:
    """Print lots, quantities and mass by category and by building."""
    from ledger.context import open_engine
    from ledger.reports import print_summary

    print_summary(console, open_engine(state.settings))


@app.command()
def labels(
    building: Annotated[
        str, typer.Argument(help="Building reference, e.g. BLD-LGE-01.")
    ],
    out: Annotated[Path, typer.Option(help="SVG file to write.")],
) -> None:
    """Write a printable SVG sheet of QR labels linking to each lot's passport."""
    from ledger.context import open_engine
    from ledger.labels import label_sheet_svg
    from ledger.queries import building_inventory

    row, lots = building_inventory(open_engine(state.settings), building)
    sheet = label_sheet_svg(row["reference"], lots, state.settings.public_url)
    out.write_text(sheet, encoding="utf-8")
    console.print(
        f"Wrote {len(lots)} labels to {out}, linking to {state.settings.public_url}."
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes, each using up to one CPU core; more than 1 needs "
            "a SQLite file or PostgreSQL mirror, not an in-memory one.",
        ),
    ] = 1,
) -> None:
    """Start the web service; the OpenAPI documentation is at /docs."""
    import uvicorn

    from api.app import check_workers, create_app
    from ledger.memory import freeze_loaded_objects

    check_workers(state.settings, workers)
    if workers == 1:
        app = create_app(state.settings)
        freeze_loaded_objects()
        uvicorn.run(app, host=host, port=port)
        return
    # Each worker is a new process that builds the app from the environment, so the
    # settings given as flags are passed on as RECLAIM_* variables.
    os.environ["RECLAIM_DATA_DIR"] = str(state.settings.data_dir)
    os.environ["RECLAIM_DATABASE_URL"] = state.settings.resolved_database_url
    if state.settings.rpc_url:
        os.environ["RECLAIM_RPC_URL"] = state.settings.rpc_url
    uvicorn.run(
        "api.app:create_app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
    )


# Registers the end-of-life, inspection, claim and audit commands on ``app``.
from ledger import cli_audit  # noqa: E402, F401


def main() -> None:
    """Run the CLI, printing known errors as one clear line."""
    try:
        app()
    except LedgerError as exc:
        errors.print(f"[red]error:[/] {exc}")
        sys.exit(1)
