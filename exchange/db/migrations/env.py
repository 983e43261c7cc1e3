"""Alembic environment: runs on the connection the service hands over."""

from __future__ import annotations

from alembic import context

from exchange.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the service always passes its connection
    raise RuntimeError("run migrations through exchange.db.session.migrate")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
