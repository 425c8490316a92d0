"""The experience base (经验库): entries (symptom, cause, fix, device models, the line's kind,
the spare used, how long the fix took, the tickets), the hash-chained log of their changes, and
the words entries and tickets are searched by — segmented by faultflow (``kb/text.py``),
indexed by the database's own full-text engine: an FTS5 table over each on SQLite (kept by
triggers), a GIN index of their tsvector on PostgreSQL. The words are exact lexemes, one space
between: no parser of the database splits ``S5720-28X`` or a Chinese word again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TERMS = (("kb_terms", "kb_fts"), ("ticket_terms", "ticket_fts"))


def upgrade() -> None:
    op.create_table(
        "kb_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("symptom", sa.Text(), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("fix", sa.Text(), nullable=False),
        sa.Column("models", sa.Text(), nullable=False),
        sa.Column("line_kind", sa.String(), nullable=True),
        sa.Column("spare", sa.String(), nullable=True),
        sa.Column("fix_us", sa.BigInteger(), nullable=True),
        sa.Column("tickets", sa.Text(), nullable=False),
        sa.Column("author", sa.String(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("changed_us", sa.BigInteger(), nullable=False),
        sa.Column("changed_by", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_kb_entries_state", "kb_entries", ["state"])
    op.create_table(
        "kb_log",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("entry", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, fts in TERMS:
        op.create_table(
            table,
            sa.Column("n", sa.Integer(), nullable=False),
            sa.Column("key", sa.Text(), nullable=False),
            sa.Column("seq", sa.Integer(), nullable=False),
            sa.Column("body", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("n"),
            sa.UniqueConstraint("key"),
        )
        if postgres:
            op.execute(
                f"CREATE INDEX ix_{table}_body ON {table} "
                "USING GIN (array_to_tsvector(string_to_array(body, ' ')))"
            )
            continue
        # an external-content FTS5 table: the words are stored once (in the table above)
        op.execute(
            f"CREATE VIRTUAL TABLE {fts} USING fts5(body, content='{table}', "
            "content_rowid='n', tokenize=\"unicode61 tokenchars '-_./'\")"
        )
        op.execute(
            f"CREATE TRIGGER {table}_ai AFTER INSERT ON {table} BEGIN "
            f"INSERT INTO {fts}(rowid, body) VALUES (new.n, new.body); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_ad AFTER DELETE ON {table} BEGIN "
            f"INSERT INTO {fts}({fts}, rowid, body) VALUES ('delete', old.n, old.body); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_au AFTER UPDATE ON {table} BEGIN "
            f"INSERT INTO {fts}({fts}, rowid, body) VALUES ('delete', old.n, old.body); "
            f"INSERT INTO {fts}(rowid, body) VALUES (new.n, new.body); END"
        )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, fts in TERMS:
        if not postgres:
            op.execute(f"DROP TABLE IF EXISTS {fts}")
        op.drop_table(table)
    op.drop_table("kb_log")
    op.drop_index("ix_kb_entries_state", table_name="kb_entries")
    op.drop_table("kb_entries")
