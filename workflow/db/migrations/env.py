"""Alembic's entry point: run the migrations on the connection faultflow hands over."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic revision` from the command line: nothing to connect to
    context.configure(url="sqlite://", target_metadata=SQLModel.metadata, render_as_batch=True)
else:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=True,  # SQLite changes a table by copying it
    )
    with context.begin_transaction():
        context.run_migrations()
