"""Add installations, disposals, splits and merges, inspections, claims and audits.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from ledger.db.types import Uint256

revision = "0002"
down_revision = "0001"
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


def _event_position(table: str) -> sa.UniqueConstraint:
    return sa.UniqueConstraint(
        "block_number", "log_index", name=f"uq_{table}_block_number_log_index"
    )


def upgrade() -> None:
    # Lots made by merging lots of several buildings have no single origin building.
    with op.batch_alter_table("lots") as batch:
        batch.alter_column("building_id", existing_type=sa.String(66), nullable=True)
    op.create_table(
        "installations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lot_id", Uint256(), nullable=False),
        sa.Column("destination_building_id", sa.String(66), nullable=False),
        sa.Column("destination_reference", sa.String(32), nullable=True),
        sa.Column("holder", sa.String(42), nullable=False),
        sa.Column("quantity", Uint256(), nullable=False),
        sa.Column("reference_hash", sa.String(66), nullable=False),
        *_origin_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_installations"),
        _event_position("installations"),
    )
    op.create_index("ix_installations_lot_id", "installations", ["lot_id"])
    op.create_index(
        "ix_installations_destination_building_id",
        "installations",
        ["destination_building_id"],
    )
    op.create_table(
        "disposals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lot_id", Uint256(), nullable=False),
        sa.Column("holder", sa.String(42), nullable=False),
        sa.Column("route", sa.Integer(), nullable=False),
        sa.Column("quantity", Uint256(), nullable=False),
        sa.Column("reference_hash", sa.String(66), nullable=False),
        *_origin_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_disposals"),
        _event_position("disposals"),
    )
    op.create_index("ix_disposals_lot_id", "disposals", ["lot_id"])
    op.create_table(
        "lot_derivations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("holder", sa.String(42), nullable=False),
        sa.Column("parent_lot_ids", sa.Text(), nullable=False),
        sa.Column("child_lot_ids", sa.Text(), nullable=False),
        sa.Column("quantities", sa.Text(), nullable=False),
        *_origin_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_lot_derivations"),
        _event_position("lot_derivations"),
    )
    op.create_table(
        "inspections",
        sa.Column("inspection_id", Uint256(), nullable=False),
        sa.Column("lot_id", Uint256(), nullable=False),
        sa.Column("inspector", sa.String(42), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("fitness", sa.String(66), nullable=False),
        sa.Column("asbestos", sa.Integer(), nullable=False),
        sa.Column("lead_paint", sa.Integer(), nullable=False),
        sa.Column("pcb", sa.Integer(), nullable=False),
        sa.Column("bituminous_adhesive", sa.Integer(), nullable=False),
        sa.Column("evidence_hash", sa.String(66), nullable=False),
        *_origin_columns(),
        sa.PrimaryKeyConstraint("inspection_id", name="pk_inspections"),
    )
    op.create_index("ix_inspections_lot_id", "inspections", ["lot_id"])
    op.create_table(
        "inspection_revocations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("inspection_id", Uint256(), nullable=False),
        sa.Column("lot_id", Uint256(), nullable=False),
        sa.Column("inspector", sa.String(42), nullable=False),
        sa.Column("reason_hash", sa.String(66), nullable=False),
        *_origin_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_inspection_revocations"),
        _event_position("inspection_revocations"),
    )
    op.create_index(
        "ix_inspection_revocations_inspection_id",
        "inspection_revocations",
        ["inspection_id"],
    )
    op.create_index(
        "ix_inspection_revocations_lot_id", "inspection_revocations", ["lot_id"]
    )
    op.create_table(
        "claims",
        sa.Column("claim_id", Uint256(), nullable=False),
        sa.Column("destination_building_id", sa.String(66), nullable=False),
        sa.Column("destination_reference", sa.String(32), nullable=True),
        sa.Column("owner", sa.String(42), nullable=False),
        sa.Column("lot_ids", sa.Text(), nullable=False),
        sa.Column("reused_mass_grams", Uint256(), nullable=False),
        sa.Column("total_mass_grams", Uint256(), nullable=False),
        sa.Column("reuse_share_bps", Uint256(), nullable=False),
        sa.Column("co2e_avoided_grams", Uint256(), nullable=False),
        sa.Column("method_version", sa.String(66), nullable=False),
        sa.Column("document_hash", sa.String(66), nullable=False),
        *_origin_columns(),
        sa.PrimaryKeyConstraint("claim_id", name="pk_claims"),
    )
    op.create_index(
        "ix_claims_destination_building_id", "claims", ["destination_building_id"]
    )
    op.create_table(
        "claim_audits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("claim_id", Uint256(), nullable=False),
        sa.Column("auditor", sa.String(42), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("reasons_hash", sa.String(66), nullable=False),
        *_origin_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_claim_audits"),
        _event_position("claim_audits"),
    )
    op.create_index("ix_claim_audits_claim_id", "claim_audits", ["claim_id"])


def downgrade() -> None:
    with op.batch_alter_table("lots") as batch:
        batch.alter_column("building_id", existing_type=sa.String(66), nullable=False)
    for table in (
        "claim_audits",
        "claims",
        "inspection_revocations",
        "inspections",
        "lot_derivations",
        "disposals",
        "installations",
    ):
        op.drop_table(table)
