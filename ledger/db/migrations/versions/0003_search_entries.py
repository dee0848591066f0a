"""Add the search entries derived from the off-chain records.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_entries",
        sa.Column("record_hash", sa.String(66), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("material", sa.Text(), nullable=True),
        sa.Column("condition_grade", sa.String(1), nullable=True),
        sa.Column("price_cents", sa.BigInteger(), nullable=True),
        sa.Column("available_from", sa.Date(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("record_hash", name="pk_search_entries"),
    )
    op.create_index("ix_search_entries_material", "search_entries", ["material"])
    op.create_index("ix_search_entries_price_cents", "search_entries", ["price_cents"])
    op.create_index(
        "ix_search_entries_available_from", "search_entries", ["available_from"]
    )


def downgrade() -> None:
    op.drop_table("search_entries")
