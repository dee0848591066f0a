"""Alembic environment: migrations run on the connection the caller passes in."""

from __future__ import annotations

from alembic import context

from ledger.db.models import Base, is_modelled

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "Run migrations through ledger.db.engine.migrate, which passes a connection."
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    include_name=is_modelled,
)
with context.begin_transaction():
    context.run_migrations()
