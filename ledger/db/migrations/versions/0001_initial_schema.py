"""Create the mirror's tables.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from ledger.db.types import Uint256

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _origin_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    """Columns that say where a chain-derived row came from."""
    return [
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(66), nullable=False),
        sa.Column("transaction_hash", sa.String(66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "sync_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("genesis_hash", sa.String(66), nullable=False),
        sa.Column("contract_address", sa.String(42), nullable=False),
        sa.Column("start_block", sa.BigInteger(), nullable=False),
        sa.Column("last_block", sa.BigInteger(), nullable=False),
        sa.Column("last_block_hash", sa.String(66), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sync_state"),
    )
    op.create_table(
        "blocks",
        sa.Column("number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(66), nullable=False),
        sa.Column("parent_hash", sa.String(66), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("number", name="pk_blocks"),
        sa.UniqueConstraint("hash", name="uq_blocks_hash"),
    )
    op.create_table(
        "raw_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(66), nullable=False),
        sa.Column("transaction_hash", sa.String(66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("event_name", sa.String(64), nullable=False),
        sa.Column("topics", sa.Text(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_raw_events"),
        sa.UniqueConstraint(
            "block_number", "log_index", name="uq_raw_events_block_number_log_index"
        ),
    )
    op.create_index("ix_raw_events_block_number", "raw_events", ["block_number"])
    op.create_index("ix_raw_events_event_name", "raw_events", ["event_name"])
    op.create_index(
        "ix_raw_events_transaction_hash", "raw_events", ["transaction_hash"]
    )
    op.create_table(
        "buildings",
        sa.Column("building_id", sa.String(66), nullable=False),
        sa.Column("reference", sa.String(32), nullable=True),
        sa.Column("record_hash", sa.String(66), nullable=False),
        *_origin_columns(),
        sa.PrimaryKeyConstraint("building_id", name="pk_buildings"),
    )
    op.create_index("ix_buildings_reference", "buildings", ["reference"])
    op.create_table(
        "lots",
        sa.Column("lot_id", Uint256(), nullable=False),
        sa.Column("building_id", sa.String(66), nullable=False),
        sa.Column("first_holder", sa.String(42), nullable=False),
        sa.Column("category", sa.String(66), nullable=False),
        sa.Column("unit", sa.Integer(), nullable=False),
        sa.Column("quantity", Uint256(), nullable=False),
        sa.Column("unit_mass_grams", Uint256(), nullable=False),
        sa.Column("record_hash", sa.String(66), nullable=False),
        *_origin_columns(),
        sa.PrimaryKeyConstraint("lot_id", name="pk_lots"),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["buildings.building_id"],
            name="fk_lots_building_id_buildings",
        ),
    )
    op.create_index("ix_lots_building_id", "lots", ["building_id"])
    op.create_index("ix_lots_category", "lots", ["category"])
    op.create_index("ix_lots_record_hash", "lots", ["record_hash"])
    op.create_table(
        "holdings",
        sa.Column("lot_id", Uint256(), nullable=False),
        sa.Column("holder", sa.String(42), nullable=False),
        sa.Column("balance", Uint256(), nullable=False),
        sa.PrimaryKeyConstraint("lot_id", "holder", name="pk_holdings"),
    )
    op.create_index("ix_holdings_holder", "holdings", ["holder"])
    op.create_table(
        "transfers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lot_id", Uint256(), nullable=False),
        sa.Column("from_address", sa.String(42), nullable=False),
        sa.Column("to_address", sa.String(42), nullable=False),
        sa.Column("quantity", Uint256(), nullable=False),
        sa.Column("reason", sa.Integer(), nullable=False),
        sa.Column("reference_hash", sa.String(66), nullable=False),
        sa.Column("operator", sa.String(42), nullable=False),
        *_origin_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_transfers"),
        sa.UniqueConstraint(
            "block_number", "log_index", name="uq_transfers_block_number_log_index"
        ),
    )
    op.create_index("ix_transfers_lot_id", "transfers", ["lot_id"])
    op.create_index("ix_transfers_from_address", "transfers", ["from_address"])
    op.create_index("ix_transfers_to_address", "transfers", ["to_address"])
    op.create_table(
        "records",
        sa.Column("record_hash", sa.String(66), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("record_hash", name="pk_records"),
    )


def downgrade() -> None:
    for table in (
        "records",
        "transfers",
        "holdings",
        "lots",
        "buildings",
        "raw_events",
        "blocks",
        "sync_state",
    ):
        op.drop_table(table)
