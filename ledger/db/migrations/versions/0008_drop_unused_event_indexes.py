"""Drop the event tables' indexes that no query needs.

Every stored event updated three secondary indexes of ``raw_events`` besides its
unique (block_number, log_index) key:

- ``ix_raw_events_block_number`` repeats the first column of that key, which serves
  the same lookups and ranges by block.
- ``ix_raw_events_transaction_hash`` serves no query.
- ``ix_raw_events_event_name`` serves only the ERC-1155 transfer scan of
  ``reclaim verify``, which matches about half of the rows, so a table scan costs
  about as much.

Every custody transfer also updated ``ix_transfers_from_address`` and
``ix_transfers_to_address``, which serve no query: transfers are read by lot, through
``ix_transfers_lot_id``, and holders through ``holdings``.

Inserting 1,000,000 raw event rows into SQLite in batches of 20,000, with a
transaction hash per 1,000 rows as in the indexer benchmark, took about 10.7 µs of
CPU per row with these indexes and 6.4 µs without them (a one-off measurement on
two AMD EPYC cores, not a script of the repository).

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# (index, table, column)
DROPPED = (
    ("ix_raw_events_block_number", "raw_events", "block_number"),
    ("ix_raw_events_event_name", "raw_events", "event_name"),
    ("ix_raw_events_transaction_hash", "raw_events", "transaction_hash"),
    ("ix_transfers_from_address", "transfers", "from_address"),
    ("ix_transfers_to_address", "transfers", "to_address"),
)


def upgrade() -> None:
    for name, table, _ in DROPPED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for name, table, column in DROPPED:
        op.create_index(name, table, [column])
