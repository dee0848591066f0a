"""Add the indexes that list and count lots by building, category and holder.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_lots_building_id_category", "lots", ["building_id", "category", "lot_id"]
    )
    op.create_index("ix_holdings_holder_lot_id", "holdings", ["holder", "lot_id"])


def downgrade() -> None:
    op.drop_index("ix_holdings_holder_lot_id", table_name="holdings")
    op.drop_index("ix_lots_building_id_category", table_name="lots")
