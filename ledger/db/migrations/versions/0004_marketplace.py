"""Create the marketplace tables: organisations, API keys, listings, reservations.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from ledger.db.types import Uint256

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("actor_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("secondary_roles", sa.String(200), nullable=False),
        sa.Column("street_address", sa.String(200), nullable=False),
        sa.Column("postcode", sa.String(16), nullable=False),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("chain_address", sa.String(42), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_organisations"),
        sa.UniqueConstraint("actor_id", name="uq_organisations_actor_id"),
        sa.UniqueConstraint("chain_address", name="uq_organisations_chain_address"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name="fk_api_keys_organisation_id_organisations",
        ),
        sa.UniqueConstraint("prefix", name="uq_api_keys_prefix"),
    )
    op.create_index("ix_api_keys_organisation_id", "api_keys", ["organisation_id"])
    op.create_table(
        "listings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lot_id", Uint256(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("quantity", Uint256(), nullable=False),
        sa.Column("price_cents", sa.BigInteger(), nullable=False),
        sa.Column("location_name", sa.String(200), nullable=False),
        sa.Column("latitude", sa.String(16), nullable=True),
        sa.Column("longitude", sa.String(16), nullable=True),
        sa.Column("available_from", sa.Date(), nullable=True),
        sa.Column("pickup_conditions", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("withdrawn_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_listings"),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name="fk_listings_organisation_id_organisations",
        ),
    )
    op.create_index("ix_listings_lot_id", "listings", ["lot_id"])
    op.create_index("ix_listings_organisation_id", "listings", ["organisation_id"])
    op.create_table(
        "reservations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("quantity", Uint256(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("delivery_note_hash", sa.String(66), nullable=True),
        sa.Column("transaction_hash", sa.String(66), nullable=True),
        sa.Column("confirmed_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_reservations"),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listings.id"],
            name="fk_reservations_listing_id_listings",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name="fk_reservations_organisation_id_organisations",
        ),
    )
    op.create_index("ix_reservations_listing_id", "reservations", ["listing_id"])
    op.create_index(
        "ix_reservations_organisation_id", "reservations", ["organisation_id"]
    )


def downgrade() -> None:
    for table in ("reservations", "listings", "api_keys", "organisations"):
        op.drop_table(table)
