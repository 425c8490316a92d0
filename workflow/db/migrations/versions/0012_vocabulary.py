"""How many entries (and tickets) hold each word, on SQLite: an ``fts5vocab`` table over each
full-text index, which a search asks before its loose rounds — a word nobody uses is left out,
and so is one most of the base uses (it tells nothing), so that "two of the words" is asked of
the few words that discriminate. (PostgreSQL has no such cheap count; its searches go on as
they did.)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

VOCABULARIES = (("kb_vocab", "kb_fts"), ("ticket_vocab", "ticket_fts"))


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for vocab, fts in VOCABULARIES:
        op.execute(f"CREATE VIRTUAL TABLE {vocab} USING fts5vocab({fts}, 'row')")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for vocab, _ in VOCABULARIES:
        op.execute(f"DROP TABLE IF EXISTS {vocab}")
