"""The database schema's history, as Alembic migrations (``versions/``), and how to apply them.

Every change of the schema is a migration; ``faultflow init`` applies those a database lacks and
says which. Other commands only read the revision (one ``SELECT`` on ``alembic_version``, no
Alembic import) and refuse a database that is not at :data:`HEAD`, naming the command to run.

A database made before migrations existed (schema 1, a ``meta`` row ``schema_version = 1``) is
adopted at revision ``0001`` — the migration that creates exactly that schema — once its tables
and columns have been checked to be the ones ``0001`` creates.

Writing a migration: ``alembic -c workflow/migrations/alembic.ini revision -m "what changes"``,
then fill in ``upgrade()`` by hand (SQLite needs ``op.batch_alter_table`` to change a table), set
:data:`HEAD` to the new revision, and run the tests (they compare the migrated schema with the
tables of ``tables.py``, on SQLite and PostgreSQL).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

HEAD = "0017"
"""The revision this faultflow reads and writes (tests hold it equal to the scripts' head)."""

LEGACY_REVISION = "0001"
"""What a schema-1 database from before migrations is (see the module's docstring)."""

HERE = Path(__file__).resolve().parent


def config(connection: Any) -> Any:
    """An Alembic configuration that runs the migrations on ``connection``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(connection: Any) -> list[str]:
    """Apply every migration ``connection``'s database lacks, in one transaction where the
    database can (PostgreSQL, SQLite); the revisions applied, oldest first."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = config(connection)
    before = MigrationContext.configure(connection).get_current_revision()
    command.upgrade(cfg, "head")
    script = ScriptDirectory.from_config(cfg)
    applied = [rev.revision for rev in script.iterate_revisions("head", before or "base")]
    return [r for r in reversed(applied) if r != before]


def script_head() -> str | None:
    """The head revision of the migration scripts (what :data:`HEAD` must be)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    return ScriptDirectory.from_config(cfg).get_current_head()


def revisions() -> set[str]:
    """Every revision the migration scripts know."""
    from alembic.script import ScriptDirectory

    return {rev.revision for rev in ScriptDirectory.from_config(config(None)).walk_revisions()}


def adopt(connection: Any) -> None:
    """Record a schema-1 database from before migrations as revision ``LEGACY_REVISION``,
    after checking that its tables and columns are the ones that revision creates (built in
    an in-memory database for the comparison): a database that is not stays untouched."""
    from alembic import command
    from sqlalchemy import create_engine, inspect

    model = create_engine("sqlite://")
    with model.begin() as fresh:
        command.upgrade(config(fresh), LEGACY_REVISION)
        expected = _columns(inspect(fresh))
    model.dispose()
    found = _columns(inspect(connection))
    for table, columns in expected.items():
        if table == "alembic_version":
            continue
        have = found.get(table)
        if have != columns:
            from ...errors import DatabaseError

            what = "is missing" if have is None else f"has columns {', '.join(have)}"
            raise DatabaseError(
                f"the database looks like faultflow schema 1, but its table {table} {what} "
                f"(schema 1 has {', '.join(columns)}): it was changed by hand; not upgraded"
            )
    command.stamp(config(connection), LEGACY_REVISION)


def _columns(inspector: Any) -> dict[str, list[str]]:
    return {
        table: [c["name"] for c in inspector.get_columns(table)]
        for table in inspector.get_table_names()
    }
