"""SQLAlchemy models of the mirror.

Rows derived from the chain record where they came from (block number and hash,
transaction hash, log index). Addresses are stored as lower-case hex, hashes and
bytes32 values as 0x-prefixed lower-case hex, block timestamps as Unix seconds (UTC).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ledger.db.types import Uint256

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ADDRESS = String(42)
HASH = String(66)


class Base(DeclarativeBase):
    """Base of all mirror models."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SyncState(Base):
    """The indexer's checkpoint: the last block whose events are all stored."""

    __tablename__ = "sync_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    genesis_hash: Mapped[str] = mapped_column(HASH)
    contract_address: Mapped[str] = mapped_column(ADDRESS)
    start_block: Mapped[int] = mapped_column(BigInteger)
    last_block: Mapped[int] = mapped_column(BigInteger)
    last_block_hash: Mapped[str | None] = mapped_column(HASH)


class Block(Base):
    """A block header the mirror keeps.

    Every block with one of the registry's events stays. Blocks within the finality
    depth of the head are kept too, for the reorganisation check, and dropped once
    final.
    """

    __tablename__ = "blocks"

    number: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False
    )
    hash: Mapped[str] = mapped_column(HASH, unique=True)
    parent_hash: Mapped[str] = mapped_column(HASH)
    timestamp: Mapped[int] = mapped_column(BigInteger)


class RawEvent(Base):
    """Every log of the registry contract, as received."""

    __tablename__ = "raw_events"
    __table_args__ = (UniqueConstraint("block_number", "log_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The unique (block_number, log_index) key serves lookups by block. There is no
    # other index, because each one adds an index update to every stored event.
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(HASH)
    transaction_hash: Mapped[str] = mapped_column(HASH)
    log_index: Mapped[int] = mapped_column(Integer)
    event_name: Mapped[str] = mapped_column(String(64))
    topics: Mapped[str] = mapped_column(Text)
    data: Mapped[str] = mapped_column(Text)


class Building(Base):
    """A registered origin building."""

    __tablename__ = "buildings"

    building_id: Mapped[str] = mapped_column(HASH, primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(32), index=True)
    record_hash: Mapped[str] = mapped_column(HASH)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(HASH)
    transaction_hash: Mapped[str] = mapped_column(HASH)
    log_index: Mapped[int] = mapped_column(Integer)
    timestamp: Mapped[int] = mapped_column(BigInteger)


class Lot(Base):
    """A registered lot: its origin, unit, registered quantity and record hash."""

    __tablename__ = "lots"
    # Lists lots of a building and category, or of one category, in id order without
    # reading the rows. A text search within a category also reads each lot's record
    # hash and building from the second index, not from the wide rows.
    __table_args__ = (
        Index("ix_lots_building_id_category", "building_id", "category", "lot_id"),
        Index(
            "ix_lots_category_lot_id_record_hash",
            "category",
            "lot_id",
            "record_hash",
            "building_id",
        ),
    )

    lot_id: Mapped[int] = mapped_column(Uint256, primary_key=True)
    # None for a merge of lots from several buildings; lot_derivations names them.
    building_id: Mapped[str | None] = mapped_column(
        ForeignKey("buildings.building_id"), index=True
    )
    first_holder: Mapped[str] = mapped_column(ADDRESS)
    category: Mapped[str] = mapped_column(String(66))
    unit: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Uint256)
    unit_mass_grams: Mapped[int] = mapped_column(Uint256)
    record_hash: Mapped[str] = mapped_column(HASH, index=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(HASH)
    transaction_hash: Mapped[str] = mapped_column(HASH)
    log_index: Mapped[int] = mapped_column(Integer)
    timestamp: Mapped[int] = mapped_column(BigInteger)


class Holding(Base):
    """The ERC-1155 balance of one holder for one lot."""

    __tablename__ = "holdings"
    # Lists and counts a holder's lots in id order without reading the rows.
    __table_args__ = (Index("ix_holdings_holder_lot_id", "holder", "lot_id"),)

    lot_id: Mapped[int] = mapped_column(Uint256, primary_key=True)
    holder: Mapped[str] = mapped_column(ADDRESS, primary_key=True, index=True)
    balance: Mapped[int] = mapped_column(Uint256)


class Transfer(Base):
    """One custody move of a quantity of a lot."""

    __tablename__ = "transfers"
    __table_args__ = (UniqueConstraint("block_number", "log_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Transfers are read by lot. Holders are read from ``holdings``, so the addresses
    # have no index.
    lot_id: Mapped[int] = mapped_column(Uint256, index=True)
    from_address: Mapped[str] = mapped_column(ADDRESS)
    to_address: Mapped[str] = mapped_column(ADDRESS)
    quantity: Mapped[int] = mapped_column(Uint256)
    reason: Mapped[int] = mapped_column(Integer)
    reference_hash: Mapped[str] = mapped_column(HASH)
    operator: Mapped[str] = mapped_column(ADDRESS)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(HASH)
    transaction_hash: Mapped[str] = mapped_column(HASH)
    log_index: Mapped[int] = mapped_column(Integer)
    timestamp: Mapped[int] = mapped_column(BigInteger)


class Record(Base):
    """An off-chain record (canonical JSON) stored under its keccak256 hash.

    Records are written by the importer, not by the indexer: the chain holds only
    their hashes.
    """

    __tablename__ = "records"

    record_hash: Mapped[str] = mapped_column(HASH, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)


class _ChainOrigin:
    """Origin columns of a chain-derived row: where its event was logged."""

    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(HASH)
    transaction_hash: Mapped[str] = mapped_column(HASH)
    log_index: Mapped[int] = mapped_column(Integer)
    timestamp: Mapped[int] = mapped_column(BigInteger)


class Installation(_ChainOrigin, Base):
    """A quantity of a lot installed into a building, which left circulation."""

    __tablename__ = "installations"
    __table_args__ = (UniqueConstraint("block_number", "log_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lot_id: Mapped[int] = mapped_column(Uint256, index=True)
    destination_building_id: Mapped[str] = mapped_column(HASH, index=True)
    destination_reference: Mapped[str | None] = mapped_column(String(32))
    holder: Mapped[str] = mapped_column(ADDRESS)
    quantity: Mapped[int] = mapped_column(Uint256)
    reference_hash: Mapped[str] = mapped_column(HASH)


class Disposal(_ChainOrigin, Base):
    """A quantity of a lot disposed of by landfill, incineration or recycling."""

    __tablename__ = "disposals"
    __table_args__ = (UniqueConstraint("block_number", "log_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lot_id: Mapped[int] = mapped_column(Uint256, index=True)
    holder: Mapped[str] = mapped_column(ADDRESS)
    route: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Uint256)
    reference_hash: Mapped[str] = mapped_column(HASH)


class LotDerivation(_ChainOrigin, Base):
    """A split or merge: lot ids and quantities as JSON arrays of decimal strings.

    The lots it makes also have their rows in ``lots``, from the ``LotRegistered`` event
    the registry emits for each of them.
    """

    __tablename__ = "lot_derivations"
    __table_args__ = (UniqueConstraint("block_number", "log_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))
    holder: Mapped[str] = mapped_column(ADDRESS)
    parent_lot_ids: Mapped[str] = mapped_column(Text)
    child_lot_ids: Mapped[str] = mapped_column(Text)
    quantities: Mapped[str] = mapped_column(Text)


class Inspection(_ChainOrigin, Base):
    """An inspector's attestation about a lot; revocations are their own rows."""

    __tablename__ = "inspections"

    inspection_id: Mapped[int] = mapped_column(Uint256, primary_key=True)
    lot_id: Mapped[int] = mapped_column(Uint256, index=True)
    inspector: Mapped[str] = mapped_column(ADDRESS)
    grade: Mapped[int] = mapped_column(Integer)
    fitness: Mapped[str] = mapped_column(String(66))
    asbestos: Mapped[int] = mapped_column(Integer)
    lead_paint: Mapped[int] = mapped_column(Integer)
    pcb: Mapped[int] = mapped_column(Integer)
    bituminous_adhesive: Mapped[int] = mapped_column(Integer)
    evidence_hash: Mapped[str] = mapped_column(HASH)


class InspectionRevocation(_ChainOrigin, Base):
    """The revocation of an attestation by its author."""

    __tablename__ = "inspection_revocations"
    __table_args__ = (UniqueConstraint("block_number", "log_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    inspection_id: Mapped[int] = mapped_column(Uint256, index=True)
    lot_id: Mapped[int] = mapped_column(Uint256, index=True)
    inspector: Mapped[str] = mapped_column(ADDRESS)
    reason_hash: Mapped[str] = mapped_column(HASH)


class Claim(_ChainOrigin, Base):
    """A circularity claim as its owner registered it; lot ids as a JSON array."""

    __tablename__ = "claims"

    claim_id: Mapped[int] = mapped_column(Uint256, primary_key=True)
    destination_building_id: Mapped[str] = mapped_column(HASH, index=True)
    destination_reference: Mapped[str | None] = mapped_column(String(32))
    owner: Mapped[str] = mapped_column(ADDRESS)
    lot_ids: Mapped[str] = mapped_column(Text)
    reused_mass_grams: Mapped[int] = mapped_column(Uint256)
    total_mass_grams: Mapped[int] = mapped_column(Uint256)
    reuse_share_bps: Mapped[int] = mapped_column(Uint256)
    co2e_avoided_grams: Mapped[int] = mapped_column(Uint256)
    method_version: Mapped[str] = mapped_column(String(66))
    document_hash: Mapped[str] = mapped_column(HASH)


class ClaimAudit(_ChainOrigin, Base):
    """An auditor's approval or rejection of a claim; the latest one counts."""

    __tablename__ = "claim_audits"
    __table_args__ = (UniqueConstraint("block_number", "log_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    claim_id: Mapped[int] = mapped_column(Uint256, index=True)
    auditor: Mapped[str] = mapped_column(ADDRESS)
    approved: Mapped[bool] = mapped_column(Boolean)
    reasons_hash: Mapped[str] = mapped_column(HASH)


class SearchEntry(Base):
    """Searchable fields of one lot or building record, derived from ``records``.

    ``search_text`` is the record's descriptive text, normalised by
    ``ledger.search.normalise_text`` (accents removed, case folded). Lot records fill
    the lot columns and building records the coordinates. Rows are rebuilt from
    ``records`` at any time, so they carry no chain origin.

    Migration 0007 indexes the words of ``search_text`` outside these models: the
    FTS5 table ``search_index``, which triggers keep in step on SQLite, and the GIN
    index ``ix_search_entries_words`` on PostgreSQL. ``ledger.search_index`` queries
    both.
    """

    __tablename__ = "search_entries"

    record_hash: Mapped[str] = mapped_column(HASH, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    search_text: Mapped[str] = mapped_column(Text)
    material: Mapped[str | None] = mapped_column(Text, index=True)
    condition_grade: Mapped[str | None] = mapped_column(String(1))
    price_cents: Mapped[int | None] = mapped_column(BigInteger, index=True)
    available_from: Mapped[date | None] = mapped_column(Date, index=True)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)


class SearchPending(Base):
    """A lot or building record that has no search entry yet.

    Triggers of migration 0007 add a row for each such record inserted into
    ``records``, and ``ledger.search.refresh_search_entries`` removes it when it adds
    the entry. A search then checks this table instead of counting both tables.
    """

    __tablename__ = "search_pending"

    record_hash: Mapped[str] = mapped_column(HASH, primary_key=True)


# Tables that migrations create with SQL of one database, outside these models: the
# FTS5 table of search_entries and the shadow tables that SQLite keeps for it.
FULL_TEXT_TABLES = frozenset(
    (
        "search_index",
        *(f"search_index_{part}" for part in ("content", "data", "idx", "config")),
    )
)


def is_modelled(name: str | None, type_: str, _parent_names: object) -> bool:
    """Tell Alembic's schema comparison to skip the full-text index tables.

    Pass it as ``include_name``; the GIN index of PostgreSQL is skipped too.
    """
    if type_ == "table":
        return name not in FULL_TEXT_TABLES
    if type_ == "index":
        return name != "ix_search_entries_words"
    return True


class Organisation(Base):
    """A company that holds, sells, buys, transports or inspects materials."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    actor_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(64))
    secondary_roles: Mapped[str] = mapped_column(String(200))
    street_address: Mapped[str] = mapped_column(String(200))
    postcode: Mapped[str] = mapped_column(String(16))
    city: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2))
    chain_address: Mapped[str] = mapped_column(ADDRESS, unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class ApiKey(Base):
    """An API key of an organisation, stored as the SHA-256 of the full key."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id"), index=True
    )
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)


class Listing(Base):
    """An offer by the holder of a lot to sell a quantity of it."""

    __tablename__ = "listings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lot_id: Mapped[int] = mapped_column(Uint256, index=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id"), index=True
    )
    quantity: Mapped[int] = mapped_column(Uint256)
    price_cents: Mapped[int] = mapped_column(BigInteger)
    location_name: Mapped[str] = mapped_column(String(200))
    latitude: Mapped[str | None] = mapped_column(String(16))
    longitude: Mapped[str | None] = mapped_column(String(16))
    available_from: Mapped[date | None] = mapped_column(Date)
    pickup_conditions: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    withdrawn_at: Mapped[int | None] = mapped_column(BigInteger)


class Reservation(Base):
    """A buyer's hold on a quantity of a listing until it expires or is confirmed."""

    __tablename__ = "reservations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id"), index=True
    )
    quantity: Mapped[int] = mapped_column(Uint256)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    delivery_note_hash: Mapped[str | None] = mapped_column(HASH)
    transaction_hash: Mapped[str | None] = mapped_column(HASH)
    confirmed_at: Mapped[int | None] = mapped_column(BigInteger)
