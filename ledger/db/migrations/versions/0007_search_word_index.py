"""Index the words of search entries, and queue the records that lack an entry.

A text search matches each query word as the start of a word of an entry's
``search_text``. Without an index that is a ``LIKE`` over every entry.

- SQLite: the FTS5 table ``search_index`` holds each entry's record hash and the
  words of its ``search_text``, kept in step by triggers. It keeps its own copy of
  the text rather than pointing at ``search_entries`` rows, whose rowids VACUUM may
  change. The ``ascii`` tokenizer splits only at ASCII characters other than
  letters and digits and keeps every other character in the word. The stored text
  is already normalised to letters, digits and single spaces, so its FTS5 words are
  exactly its words.
- PostgreSQL: a GIN index on the entry's words as a ``tsvector``, built with
  ``array_to_tsvector`` so that no text search parser splits or changes them. Each
  word is cut to its first 255 characters, because a lexeme may not exceed 2047
  bytes, a character takes at most 4, and 255 is the largest repeat count of a
  PostgreSQL regular expression.

A text search within a category checks each lot of the category against the words
that most entries contain. The index on lots by (category, lot_id) now holds each
lot's record hash and building too, so that the check reads them from the index and
not from the wide lot rows.

``search_pending`` lists the lot and building records without a search entry, filled
by a trigger on ``records``, so that a search no longer counts both tables to find
out whether any entry is missing.

A later batch migration that recreates ``search_entries`` or ``records`` on SQLite
drops their triggers, and must create them again.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SEARCHED_KINDS = "('lot', 'building')"
# The same expression as ledger.search_index.POSTGRESQL_WORDS, which queries the index.
POSTGRESQL_WORDS = (
    "array_to_tsvector(string_to_array("
    r"regexp_replace(search_text, '(\S{255})\S+', '\1', 'g'), ' '))"
)

SQLITE_UPGRADE = [
    "CREATE VIRTUAL TABLE search_index USING fts5(record_hash UNINDEXED, "
    "search_text, tokenize='ascii', detail='none', columnsize=0, prefix='1 2 3')",
    "CREATE TRIGGER search_entries_indexed AFTER INSERT ON search_entries BEGIN "
    "INSERT INTO search_index (record_hash, search_text) "
    "VALUES (new.record_hash, new.search_text); END",
    # No code deletes or changes an entry. If one is, finding its row reads the
    # whole table, since the record hash is not indexed.
    "CREATE TRIGGER search_entries_unindexed AFTER DELETE ON search_entries BEGIN "
    "DELETE FROM search_index WHERE record_hash = old.record_hash; END",
    "CREATE TRIGGER search_entries_reindexed "
    "AFTER UPDATE OF record_hash, search_text ON search_entries BEGIN "
    "DELETE FROM search_index WHERE record_hash = old.record_hash; "
    "INSERT INTO search_index (record_hash, search_text) "
    "VALUES (new.record_hash, new.search_text); END",
    "INSERT INTO search_index (record_hash, search_text) "
    "SELECT record_hash, search_text FROM search_entries",
    "CREATE TRIGGER records_search_pending AFTER INSERT ON records "
    f"WHEN new.kind IN {SEARCHED_KINDS} BEGIN "
    "INSERT OR IGNORE INTO search_pending (record_hash) "
    "VALUES (new.record_hash); END",
]
SQLITE_DOWNGRADE = [
    "DROP TRIGGER records_search_pending",
    "DROP TRIGGER search_entries_reindexed",
    "DROP TRIGGER search_entries_unindexed",
    "DROP TRIGGER search_entries_indexed",
    "DROP TABLE search_index",
]

POSTGRESQL_UPGRADE = [
    # Without fastupdate, new entries go straight into the index. With it, they wait
    # in a pending list that every search reads in full until VACUUM or 4 MB of new
    # entries flush it. For 10,100 new entries that made a search about 90 ms instead
    # of 11 ms (PostgreSQL 15, the API benchmark's 10,000-lot mirror).
    f"CREATE INDEX ix_search_entries_words ON search_entries "
    f"USING gin (({POSTGRESQL_WORDS})) WITH (fastupdate = off)",
    "CREATE FUNCTION queue_search_entry() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN INSERT INTO search_pending (record_hash) VALUES (NEW.record_hash) "
    "ON CONFLICT DO NOTHING; RETURN NULL; END $$",
    "CREATE TRIGGER records_search_pending AFTER INSERT ON records FOR EACH ROW "
    f"WHEN (NEW.kind IN {SEARCHED_KINDS}) EXECUTE FUNCTION queue_search_entry()",
]
POSTGRESQL_DOWNGRADE = [
    "DROP TRIGGER records_search_pending ON records",
    "DROP FUNCTION queue_search_entry()",
    "DROP INDEX ix_search_entries_words",
]


def upgrade() -> None:
    op.create_table(
        "search_pending",
        sa.Column("record_hash", sa.String(66), nullable=False),
        sa.PrimaryKeyConstraint("record_hash", name="pk_search_pending"),
    )
    op.execute(
        "INSERT INTO search_pending (record_hash) SELECT record_hash FROM records "
        f"WHERE kind IN {SEARCHED_KINDS} AND NOT EXISTS (SELECT 1 FROM "
        "search_entries WHERE search_entries.record_hash = records.record_hash)"
    )
    # The pending table replaces the count that this index served.
    op.drop_index("ix_records_kind", table_name="records")
    op.create_index(
        "ix_lots_category_lot_id_record_hash",
        "lots",
        ["category", "lot_id", "record_hash", "building_id"],
    )
    op.drop_index("ix_lots_category_lot_id", table_name="lots")
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_UPGRADE if sqlite else POSTGRESQL_UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_DOWNGRADE if sqlite else POSTGRESQL_DOWNGRADE:
        op.execute(statement)
    op.create_index("ix_lots_category_lot_id", "lots", ["category", "lot_id"])
    op.drop_index("ix_lots_category_lot_id_record_hash", table_name="lots")
    op.create_index("ix_records_kind", "records", ["kind"])
    op.drop_table("search_pending")
