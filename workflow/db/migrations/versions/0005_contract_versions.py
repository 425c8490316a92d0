"""Contract versions: each version of the contract file is kept whole (``contracts``), and each
ticket names the version it runs under (``tickets.contract``). Tickets from before are pinned to
the first version recorded (the contract the next command runs with).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contracts",
        sa.Column("version", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("recorded_us", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    # a plain column at the end: SQLite adds it without copying the table
    op.add_column("tickets", sa.Column("contract", sa.String(length=16), nullable=True))
