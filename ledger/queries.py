"""Read queries over the mirror, shared by the CLI, the reports and the API."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    cast,
    func,
    literal,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from ledger.db.models import (
    Building,
    Disposal,
    Holding,
    Installation,
    Lot,
    LotDerivation,
    Record,
    SyncState,
    Transfer,
)
from ledger.db.types import Uint256
from ledger.errors import InvalidInput, NotFound
from ledger.lot_events import (
    LotEventStep,
    derivation_condition,
    derivation_steps,
    disposal_step,
    installation_step,
)
from ledger.writes import CustodyReason

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class CustodyStep:
    """One custody transfer of a lot, in chain order."""

    timestamp: datetime
    from_address: str
    to_address: str
    quantity: int
    reason: CustodyReason
    reference_hash: str
    block_number: int
    transaction_hash: str
    log_index: int
    kind: str = "transfer"


@dataclass(frozen=True)
class LotView:
    """A lot with its origin, record and current holders."""

    lot_id: int
    building_id: str | None
    building_reference: str | None
    category: str
    unit: int
    quantity: int
    unit_mass_grams: int
    record_hash: str
    record: dict[str, Any] | None
    first_holder: str
    registered_at: datetime
    block_number: int
    transaction_hash: str
    holders: dict[str, int] = field(default_factory=dict)

    @property
    def mass_milligrams(self) -> int:
        """Registered mass: quantity in thousandths of a unit times grams per unit."""
        return self.quantity * self.unit_mass_grams


@dataclass(frozen=True)
class LotHistory:
    """A lot and every step since its registration.

    The steps are custody transfers, installations, disposals, splits and merges,
    in chain order. ``building_record_hash`` is None for a lot without one origin
    building; ``building_record`` is None also while the record is not stored.
    """

    lot: LotView
    building_record: dict[str, Any] | None
    steps: list[CustodyStep | LotEventStep]
    building_record_hash: str | None = None


# Statements of the passport, built once: SQLAlchemy then reuses their compiled form.
_TRANSFER = "transfer"
_INSTALLATION = "installation"
_DISPOSAL = "disposal"
_DERIVATION = "derivation"

_CHECKPOINT_COLUMNS = (
    SyncState.chain_id,
    SyncState.genesis_hash,
    SyncState.contract_address,
    SyncState.start_block,
    SyncState.last_block,
    SyncState.last_block_hash,
)
_CHECKPOINT = select(*_CHECKPOINT_COLUMNS)


def _lot_with_holders() -> Any:
    """Return the lot with its building, both records and one row per holder."""
    lot_record = Record.__table__.alias("lot_record")
    building_record = Record.__table__.alias("building_record")
    return (
        select(
            Lot.lot_id,
            Lot.building_id,
            Lot.first_holder,
            Lot.category,
            Lot.unit,
            Lot.quantity,
            Lot.unit_mass_grams,
            Lot.record_hash,
            Lot.block_number,
            Lot.transaction_hash,
            Lot.timestamp,
            Building.reference,
            Building.record_hash.label("building_record_hash"),
            lot_record.c.body.label("record_body"),
            building_record.c.body.label("building_record_body"),
            Holding.holder,
            Holding.balance,
            *_CHECKPOINT_COLUMNS,
        )
        .outerjoin(Building, Building.building_id == Lot.building_id)
        .outerjoin(lot_record, lot_record.c.record_hash == Lot.record_hash)
        .outerjoin(
            building_record, building_record.c.record_hash == Building.record_hash
        )
        .outerjoin(Holding, Holding.lot_id == Lot.lot_id)
        .outerjoin(SyncState, true())
        .where(Lot.lot_id == bindparam("lot_id", type_=Uint256))
        .order_by(Holding.holder)
    )


def _lot_steps() -> Any:
    """Return every transfer, installation, disposal and derivation row of a lot.

    The rows share one set of columns, named as in their tables, with NULL where a
    table has no such column; ``source`` names the table.
    """
    lot_id = bindparam("lot_id", type_=Uint256)

    # PostgreSQL resolves the type of a UNION column from its first branches, so a
    # column that is NULL there needs the type of the table that fills it.
    types = {
        "block_number": Transfer.block_number.type,
        "log_index": Transfer.log_index.type,
        "timestamp": Transfer.timestamp.type,
        "transaction_hash": Transfer.transaction_hash.type,
        "holder": Installation.holder.type,
        "quantity": Installation.quantity.type,
        "reference_hash": Installation.reference_hash.type,
        "to_address": Transfer.to_address.type,
        "reason": Transfer.reason.type,
        "destination_building_id": Installation.destination_building_id.type,
        "destination_reference": Installation.destination_reference.type,
        "route": Disposal.route.type,
        "kind": LotDerivation.kind.type,
        "parent_lot_ids": LotDerivation.parent_lot_ids.type,
        "child_lot_ids": LotDerivation.child_lot_ids.type,
        "quantities": LotDerivation.quantities.type,
    }

    def columns(source: str, **values: Any) -> list[Any]:
        return [literal(source).label("source")] + [
            values.get(name, cast(null(), column_type)).label(name)
            for name, column_type in types.items()
        ]

    def origin(model: Any) -> dict[str, Any]:
        return {
            name: getattr(model, name)
            for name in ("block_number", "log_index", "timestamp", "transaction_hash")
        }

    transfers = select(
        *columns(
            _TRANSFER,
            **origin(Transfer),
            holder=Transfer.from_address,
            quantity=Transfer.quantity,
            reference_hash=Transfer.reference_hash,
            to_address=Transfer.to_address,
            reason=Transfer.reason,
        )
    ).where(Transfer.lot_id == lot_id)
    installations = select(
        *columns(
            _INSTALLATION,
            **origin(Installation),
            holder=Installation.holder,
            quantity=Installation.quantity,
            reference_hash=Installation.reference_hash,
            destination_building_id=Installation.destination_building_id,
            destination_reference=Installation.destination_reference,
        )
    ).where(Installation.lot_id == lot_id)
    disposals = select(
        *columns(
            _DISPOSAL,
            **origin(Disposal),
            holder=Disposal.holder,
            quantity=Disposal.quantity,
            reference_hash=Disposal.reference_hash,
            route=Disposal.route,
        )
    ).where(Disposal.lot_id == lot_id)
    derivations = select(
        *columns(
            _DERIVATION,
            **origin(LotDerivation),
            holder=LotDerivation.holder,
            kind=LotDerivation.kind,
            parent_lot_ids=LotDerivation.parent_lot_ids,
            child_lot_ids=LotDerivation.child_lot_ids,
            quantities=LotDerivation.quantities,
        )
    ).where(derivation_condition(bindparam("quoted_lot_id")))
    return union_all(transfers, installations, disposals, derivations).order_by(
        "block_number", "log_index"
    )


_LOT_WITH_HOLDERS = _lot_with_holders()
_LOT_STEPS = _lot_steps()


def utc(timestamp: int) -> datetime:
    """Convert a block timestamp (Unix seconds) to an aware UTC datetime."""
    return datetime.fromtimestamp(timestamp, tz=UTC)


def lot_history(engine: Engine, lot_id: int) -> LotHistory:
    """Return a lot's origin, record, holders and every step in chain order."""
    with read_snapshot(engine) as connection:
        return read_lot_history(connection, lot_id)


@contextmanager
def read_snapshot(engine: Engine) -> Iterator[Connection]:
    """Yield a connection whose queries all read one committed state of the mirror.

    PostgreSQL runs them in one REPEATABLE READ transaction. Python's sqlite3 module
    begins a transaction only before a write, so each SELECT would read the newest
    commit. The explicit BEGIN makes SQLite keep one read snapshot (WAL mode) until
    the connection goes back to the pool, which rolls the transaction back.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(
            isolation_level="REPEATABLE READ"
        ) as connection:
            yield connection
        return
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN")
        yield connection


def read_checkpoint_key(connection: Connection) -> tuple[Any, ...] | None:
    """Return the indexer's checkpoint row, or None before the first index run.

    The indexer changes every chain-derived row in the same transaction as this row,
    and the block hash names the chain's content up to that block, so two reads with
    the same key see the same chain-derived rows. The key is None while the mirror
    has no checkpoint or no block hash, because then it names no content.
    """
    return _checkpoint_key(connection.execute(_CHECKPOINT).first())


def read_checkpoint_and_records(
    engine: Engine, record_hashes: Sequence[str]
) -> tuple[tuple[Any, ...] | None, bool]:
    """Return the checkpoint key and whether any of ``record_hashes`` is stored.

    One statement reads both, so they describe the same committed state. The key is
    that of :func:`read_checkpoint_key`. The passport's cache runs this check on every
    hit, so it runs on the pooled driver connection and skips SQLAlchemy's statement
    layer (the expanding ``IN`` and result processing). In a one-off timing of 3,000
    calls on PostgreSQL (2 AMD EPYC cores), that took the client CPU per call from
    about 257 to 115 µs. On PostgreSQL the statement runs in autocommit, so it needs
    no BEGIN and ROLLBACK.
    """
    postgresql = engine.dialect.name == "postgresql"
    sql, parameters = _checkpoint_and_records_sql(postgresql, record_hashes)
    pooled = engine.raw_connection()
    driver: Any = pooled.driver_connection
    try:
        if postgresql:
            driver.autocommit = True
        with closing(driver.cursor()) as cursor:
            cursor.execute(sql, parameters)
            row = cursor.fetchone()
        if postgresql:
            driver.autocommit = False
    except Exception:
        # The error may have broken the connection, so the pool must not reuse it.
        pooled.invalidate()
        raise
    finally:
        pooled.close()
    if row is None or row[len(_CHECKPOINT_COLUMNS) - 1] is None:
        return None, False
    return tuple(row[: len(_CHECKPOINT_COLUMNS)]), bool(row[-1])


def _checkpoint_and_records_sql(
    postgresql: bool, record_hashes: Sequence[str]
) -> tuple[str, tuple[Any, ...]]:
    """Return the driver's SQL and parameters of the checkpoint and records check."""
    columns = ", ".join(column.name for column in _CHECKPOINT_COLUMNS)
    records = Record.__table__.name
    if not record_hashes:
        present, parameters = "FALSE", ()
    elif postgresql:
        present = f"EXISTS (SELECT 1 FROM {records} WHERE record_hash = ANY(%s))"
        parameters = (list(record_hashes),)
    else:
        marks = ", ".join("?" * len(record_hashes))
        present = f"EXISTS (SELECT 1 FROM {records} WHERE record_hash IN ({marks}))"
        parameters = tuple(record_hashes)
    sql = f"SELECT {columns}, {present} FROM {SyncState.__table__.name}"
    return sql, parameters


def _checkpoint_key(row: Any) -> tuple[Any, ...] | None:
    if row is None or row.last_block_hash is None:
        return None
    return tuple(getattr(row, column.key) for column in _CHECKPOINT_COLUMNS)


def read_lot_history(connection: Connection, lot_id: int) -> LotHistory:
    """Return a lot's history read with two statements on ``connection``.

    Raises NotFound when the mirror has no lot ``lot_id``.
    """
    return read_lot_history_at(connection, lot_id)[1]


def read_lot_history_at(
    connection: Connection, lot_id: int
) -> tuple[tuple[Any, ...] | None, LotHistory]:
    """Return the checkpoint key (see :func:`read_checkpoint_key`) and a history.

    Run it in :func:`read_snapshot`, so that both statements read the state that
    the key names. Raises NotFound when the mirror has no lot ``lot_id``.
    """
    rows = connection.execute(_LOT_WITH_HOLDERS, {"lot_id": lot_id}).all()
    if not rows:
        raise NotFound(
            f"Lot {lot_id} is not in the mirror; check the id or run "
            "'reclaim index' to catch up with the chain."
        )
    first = rows[0]
    lot = LotView(
        lot_id=first.lot_id,
        building_id=first.building_id,
        building_reference=first.reference,
        category=first.category,
        unit=first.unit,
        quantity=first.quantity,
        unit_mass_grams=first.unit_mass_grams,
        record_hash=first.record_hash,
        record=json.loads(first.record_body) if first.record_body is not None else None,
        first_holder=first.first_holder,
        registered_at=utc(first.timestamp),
        block_number=first.block_number,
        transaction_hash=first.transaction_hash,
        holders={row.holder: row.balance for row in rows if row.holder is not None},
    )
    building_record = (
        json.loads(first.building_record_body)
        if first.building_record_body is not None
        else None
    )
    step_rows = connection.execute(
        _LOT_STEPS, {"lot_id": lot_id, "quoted_lot_id": json.dumps(str(lot_id))}
    )
    steps: list[CustodyStep | LotEventStep] = []
    for row in step_rows:
        if row.source == _TRANSFER:
            steps.append(
                CustodyStep(
                    timestamp=utc(row.timestamp),
                    from_address=row.holder,
                    to_address=row.to_address,
                    quantity=row.quantity,
                    reason=CustodyReason(row.reason),
                    reference_hash=row.reference_hash,
                    block_number=row.block_number,
                    transaction_hash=row.transaction_hash,
                    log_index=row.log_index,
                )
            )
        elif row.source == _INSTALLATION:
            steps.append(installation_step(row))
        elif row.source == _DISPOSAL:
            steps.append(disposal_step(row))
        else:
            steps += derivation_steps(row, lot_id)
    # Every row comes from its own log, so (block, log index) orders them fully,
    # except the two steps of one derivation, which keep their order.
    steps.sort(key=lambda step: (step.block_number, step.log_index))
    history = LotHistory(
        lot=lot,
        building_record=building_record,
        steps=steps,
        building_record_hash=first.building_record_hash,
    )
    return _checkpoint_key(first), history


def search_lots(
    engine: Engine,
    category: str | None = None,
    building: str | None = None,
    holder: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    offset: int = 0,
) -> tuple[int, list[LotView]]:
    """Return the total count and one page of lots matching every given filter.

    ``category`` matches in any case, because the importer registers categories in
    lower case. ``building`` is a building reference such as ``BLD-LGE-01``;
    ``holder`` a lower-case address. Lots are ordered by id.
    """
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(
            f"Page size {limit!r} must be between 1 and {MAX_PAGE_SIZE}."
        )
    if offset < 0:
        raise InvalidInput(f"Offset {offset!r} must not be negative.")

    conditions = []
    if category:
        conditions.append(Lot.category == category.lower())
    if building:
        # IN instead of a join, so that SQLite reads ix_lots_building_id_category
        # rather than every lot of the category.
        conditions.append(
            Lot.building_id.in_(
                select(Building.building_id).where(Building.reference == building)
            )
        )
    with Session(engine) as session:
        if holder and not conditions:
            total, page = _holder_lots(session, holder, limit, offset)
        else:
            if holder:
                # With another filter, SQLite walks the holder's lot ids in order,
                # looks each one up in lots and stops after the page.
                conditions.append(
                    Lot.lot_id.in_(
                        select(Holding.lot_id).where(Holding.holder == holder)
                    )
                )
            # Without a holder, the indexes on category and building cover the
            # count, so no lot row is read for the total.
            total = session.execute(
                select(func.count()).select_from(Lot).where(*conditions)
            ).scalar_one()
            page = (
                select(Lot)
                .where(*conditions)
                .order_by(_lot_order(engine, category, building, holder))
                .limit(limit)
                .offset(offset)
            )
        lots = _lot_views(session, page)
    return int(total), lots


def _lot_order(
    engine: Engine, category: str | None, building: str | None, holder: str | None
) -> Any:
    """Return the ORDER BY term that sorts lots by id for these filters."""
    if category and building and not holder and engine.dialect.name == "sqlite":
        # SQLite, which has no table statistics here, would walk the category's lots
        # in ix_lots_category_lot_id_record_hash to skip the sort, checking the building
        # of each.
        # A unary plus keeps the order but hides lot_id from the index, so SQLite
        # reads the few matching lots from ix_lots_building_id_category and sorts
        # them.
        return UnaryExpression(Lot.lot_id, operator=operators.custom_op("+"))
    return Lot.lot_id


def _holder_lots(
    session: Session, holder: str, limit: int, offset: int
) -> tuple[int, Any]:
    """Count the lots of ``holder`` and return the query of one page of them.

    The page joins from ix_holdings_holder_lot_id, so it walks the holder's lots in
    id order and stops after ``offset + limit`` of them. The primary key (lot_id,
    holder) gives at most one holding per lot, so the join adds no duplicates.
    Ordering by the holding's lot_id, equal to the lot's, lets SQLite read that
    index in order instead of sorting every lot of the holder.
    """
    # The index alone counts the holder's lots. The count equals that of their lots
    # in the mirror because the indexer stores no holding with a zero balance. The
    # contract emits LotBatchRegistered or LotRegistered with every mint, so the
    # indexer writes each holding's lot in the same transaction as the holding.
    total = session.execute(
        select(func.count()).select_from(Holding).where(Holding.holder == holder)
    ).scalar_one()
    page = (
        select(Lot)
        .select_from(Holding)
        .join(Lot, Lot.lot_id == Holding.lot_id)
        .where(Holding.holder == holder)
        .order_by(Holding.lot_id)
        .limit(limit)
        .offset(offset)
    )
    return total, page


def lots_by_id(engine: Engine, lot_ids: list[int]) -> dict[int, LotView]:
    """Return the mirror's view of each lot in ``lot_ids`` that it has, by id."""
    if not lot_ids:
        return {}
    with Session(engine) as session:
        views = _lot_views(session, select(Lot).where(Lot.lot_id.in_(lot_ids)))
    return {view.lot_id: view for view in views}


def building_inventory(
    engine: Engine, reference: str
) -> tuple[dict[str, Any], list[LotView]]:
    """Return a building's row and record, and all its lots."""
    with Session(engine) as session:
        row = session.execute(
            select(Building).where(Building.reference == reference)
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(
                f"Building {reference!r} is not in the mirror; see the buildings on "
                "the service's home page '/' or with 'reclaim summary'."
            )
        building = {
            "building_id": row.building_id,
            "reference": row.reference,
            "record_hash": row.record_hash,
            "record": _record(session, row.record_hash),
            "registered_at": utc(row.timestamp),
            "block_number": row.block_number,
            "transaction_hash": row.transaction_hash,
        }
        lots = _lot_views(
            session,
            select(Lot).where(Lot.building_id == row.building_id).order_by(Lot.lot_id),
        )
    return building, lots


def list_buildings(engine: Engine) -> list[dict[str, Any]]:
    """Return every building with its lot count."""
    with Session(engine) as session:
        counts = dict(
            session.execute(
                select(Lot.building_id, func.count()).group_by(Lot.building_id)
            ).all()
        )
        rows = session.execute(select(Building).order_by(Building.reference)).scalars()
        return [
            {
                "building_id": row.building_id,
                "reference": row.reference,
                "record": _record(session, row.record_hash),
                "lots": int(counts.get(row.building_id, 0)),
            }
            for row in rows
        ]


@dataclass
class SummaryLine:
    """Totals for one category or building: lots, quantity per unit and mass."""

    lots: int = 0
    quantities: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    mass_milligrams: int = 0


def summary(engine: Engine) -> tuple[dict[str, SummaryLine], dict[str, SummaryLine]]:
    """Return registered totals by category and by building reference."""
    by_category: dict[str, SummaryLine] = defaultdict(SummaryLine)
    by_building: dict[str, SummaryLine] = defaultdict(SummaryLine)
    with Session(engine) as session:
        rows = session.execute(
            select(Lot, Building.reference).outerjoin(
                Building, Building.building_id == Lot.building_id
            )
        ).all()
        derived = _derived_lot_ids(session)
    for lot, reference in rows:
        # Lots made by a split or merge re-count quantities already registered.
        if lot.lot_id in derived:
            continue
        for line in (
            by_category[lot.category],
            by_building[reference or lot.building_id],
        ):
            line.lots += 1
            line.quantities[lot.unit] += lot.quantity
            line.mass_milligrams += lot.quantity * lot.unit_mass_grams
    return dict(sorted(by_category.items())), dict(sorted(by_building.items()))


def indexer_status(engine: Engine) -> dict[str, Any] | None:
    """Return the indexer's checkpoint, or None before the first run."""
    with Session(engine) as session:
        row = session.execute(select(SyncState)).scalar_one_or_none()
        if row is None:
            return None
        return {
            "chain_id": row.chain_id,
            "contract_address": row.contract_address,
            "last_block": row.last_block,
            "last_block_hash": row.last_block_hash,
        }


def _lot_views(session: Session, query: Any) -> list[LotView]:
    # Rows instead of ORM objects: loading entities took half of a /lots request.
    lots = session.execute(query.with_only_columns(*Lot.__table__.columns)).all()
    if not lots:
        return []
    ids = [lot.lot_id for lot in lots]
    holders: dict[int, dict[str, int]] = defaultdict(dict)
    for holding in session.execute(
        select(Holding.lot_id, Holding.holder, Holding.balance)
        .where(Holding.lot_id.in_(ids))
        .order_by(Holding.holder)
    ):
        holders[holding.lot_id][holding.holder] = holding.balance
    references = dict(
        session.execute(
            select(Building.building_id, Building.reference).where(
                Building.building_id.in_({lot.building_id for lot in lots})
            )
        ).all()
    )
    records = {
        row.record_hash: json.loads(row.body)
        for row in session.execute(
            select(Record.record_hash, Record.body).where(
                Record.record_hash.in_({lot.record_hash for lot in lots})
            )
        )
    }
    return [
        LotView(
            lot_id=lot.lot_id,
            building_id=lot.building_id,
            building_reference=references.get(lot.building_id),
            category=lot.category,
            unit=lot.unit,
            quantity=lot.quantity,
            unit_mass_grams=lot.unit_mass_grams,
            record_hash=lot.record_hash,
            record=records.get(lot.record_hash),
            first_holder=lot.first_holder,
            registered_at=utc(lot.timestamp),
            block_number=lot.block_number,
            transaction_hash=lot.transaction_hash,
            holders=holders.get(lot.lot_id, {}),
        )
        for lot in lots
    ]


def _record(session: Session, record_hash: str) -> dict[str, Any] | None:
    body = session.execute(
        select(Record.body).where(Record.record_hash == record_hash)
    ).scalar_one_or_none()
    return json.loads(body) if body is not None else None


def lot_inspections(engine: Engine, lot_id: int) -> list[dict[str, Any]]:
    """Return a lot's inspections in chain order, each with its revocation if any."""
    from ledger.db.models import Inspection, InspectionRevocation

    with Session(engine) as session:
        rows = session.execute(
            select(Inspection)
            .where(Inspection.lot_id == lot_id)
            .order_by(Inspection.block_number, Inspection.log_index)
        ).scalars()
        inspections = [
            {
                "inspection_id": row.inspection_id,
                "lot_id": row.lot_id,
                "inspector": row.inspector,
                "grade": "ABC"[row.grade] if 0 <= row.grade < 3 else str(row.grade),
                "fitness": row.fitness,
                "hazards": {
                    "asbestos": _hazard_label(row.asbestos),
                    "lead_paint": _hazard_label(row.lead_paint),
                    "pcb": _hazard_label(row.pcb),
                    "bituminous_adhesive": _hazard_label(row.bituminous_adhesive),
                },
                "evidence_hash": row.evidence_hash,
                "recorded_at": utc(row.timestamp),
                "block_number": row.block_number,
                "transaction_hash": row.transaction_hash,
                "revocation": None,
            }
            for row in rows
        ]
        by_id = {item["inspection_id"]: item for item in inspections}
        revocations = session.execute(
            select(InspectionRevocation)
            .where(InspectionRevocation.lot_id == lot_id)
            .order_by(InspectionRevocation.block_number)
        ).scalars()
        for revocation in revocations:
            if revocation.inspection_id in by_id:
                by_id[revocation.inspection_id]["revocation"] = {
                    "reason_hash": revocation.reason_hash,
                    "revoked_at": utc(revocation.timestamp),
                    "block_number": revocation.block_number,
                    "transaction_hash": revocation.transaction_hash,
                }
    return inspections


def claim_details(engine: Engine, claim_id: int) -> dict[str, Any]:
    """Return a claim as registered, with its audit decisions in chain order."""
    from ledger.db.models import Claim, ClaimAudit

    with Session(engine) as session:
        row = session.execute(
            select(Claim).where(Claim.claim_id == claim_id)
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(
                f"Claim {claim_id} is not in the mirror; check the id or run "
                "'reclaim index' to catch up with the chain."
            )
        decisions = [
            {
                "auditor": audit.auditor,
                "approved": audit.approved,
                "reasons_hash": audit.reasons_hash,
                "decided_at": utc(audit.timestamp),
                "block_number": audit.block_number,
                "transaction_hash": audit.transaction_hash,
            }
            for audit in session.execute(
                select(ClaimAudit)
                .where(ClaimAudit.claim_id == claim_id)
                .order_by(ClaimAudit.block_number, ClaimAudit.log_index)
            ).scalars()
        ]
        installations = _installations_into(session, row.destination_building_id)
        return {
            "claim_id": row.claim_id,
            "destination_building_id": row.destination_building_id,
            "destination_reference": row.destination_reference,
            "owner": row.owner,
            "lot_ids": [int(value) for value in json.loads(row.lot_ids)],
            "reused_mass_grams": row.reused_mass_grams,
            "total_mass_grams": row.total_mass_grams,
            "reuse_share_bps": row.reuse_share_bps,
            "co2e_avoided_grams": row.co2e_avoided_grams,
            "method_version": row.method_version,
            "document_hash": row.document_hash,
            "registered_at": utc(row.timestamp),
            "block_number": row.block_number,
            "transaction_hash": row.transaction_hash,
            "installations": installations,
            "decisions": decisions,
            "status": _claim_status(decisions),
        }


def _installations_into(session: Session, building_id: str) -> list[dict[str, Any]]:
    from ledger.db.models import Installation

    rows = session.execute(
        select(Installation)
        .where(Installation.destination_building_id == building_id)
        .order_by(Installation.block_number, Installation.log_index)
    ).scalars()
    return [
        {
            "lot_id": row.lot_id,
            "holder": row.holder,
            "quantity": row.quantity,
            "reference_hash": row.reference_hash,
            "block_number": row.block_number,
            "transaction_hash": row.transaction_hash,
        }
        for row in rows
    ]


def _claim_status(decisions: list[dict[str, Any]]) -> str:
    if not decisions:
        return "pending"
    return "approved" if decisions[-1]["approved"] else "rejected"


def _hazard_label(value: int) -> str:
    labels = ("not-tested", "absent", "present")
    return labels[value] if 0 <= value < len(labels) else str(value)


def _derived_lot_ids(session: Session) -> set[int]:
    """Return the ids of lots made by a split or merge."""
    ids: set[int] = set()
    for children in session.scalars(select(LotDerivation.child_lot_ids)):
        ids.update(int(lot_id) for lot_id in json.loads(children))
    return ids
