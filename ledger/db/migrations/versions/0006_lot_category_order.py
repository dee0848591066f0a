"""Replace the category index of lots with one on (category, lot_id).

Lots of one category are listed and paged in id order. With lot_id in the index,
SQLite and PostgreSQL read a page of them from the index in that order and stop,
and count them from the index alone, instead of reading and sorting every lot of the
category. The new index serves every query that the old one served.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_lots_category_lot_id", "lots", ["category", "lot_id"])
    op.drop_index("ix_lots_category", table_name="lots")


def downgrade() -> None:
    op.create_index("ix_lots_category", "lots", ["category"])
    op.drop_index("ix_lots_category_lot_id", table_name="lots")
