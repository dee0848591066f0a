"""Index lots on (category, lot_id) and records on kind.

Lots of one category are listed and paged in id order. With lot_id in the index,
SQLite and PostgreSQL read a page of them from the index in that order and stop,
and count them from the index alone, instead of reading and sorting every lot of the
category. The new index replaces ix_lots_category and serves every query that it
served.

Each search first checks that every lot and building record has its search entry.
The index on records.kind lets it count those records without reading their bodies.

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
    op.create_index("ix_records_kind", "records", ["kind"])


def downgrade() -> None:
    op.drop_index("ix_records_kind", table_name="records")
    op.create_index("ix_lots_category", "lots", ["category"])
    op.drop_index("ix_lots_category_lot_id", table_name="lots")
