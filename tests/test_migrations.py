"""Schema migrations: the migrated schema is the tables' schema; old databases are upgraded by
`faultflow init` with their history intact, and refused by other commands until then."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import snapshot
from faultflow import DatabaseError, Engine
from faultflow.cli.app import cli
from faultflow.db.migrations import HEAD, script_head
from faultflow.db.records import OPEN_IDLE_US
from sqlalchemy import create_engine
from sqlmodel import SQLModel

LEGACY = Path(__file__).parent / "fixtures" / "schema1.sqlite3"  # made by faultflow 0.1, schema 1


def faultflow(db: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--db", str(db), *args])


def test_head_is_the_scripts_head() -> None:
    assert script_head() == HEAD


def _schema_differences(url: str) -> list[Any]:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    return [d for d in diff if not _full_text(d)]


def _full_text(difference: Any) -> bool:
    """The full-text search's own structures, made by migration 0010 with SQL of each
    database's own (SQLite's FTS5 tables and their shadow tables, PostgreSQL's GIN index on an
    expression), which the tables' metadata does not declare."""
    what = difference[1] if isinstance(difference, tuple) else None
    name = getattr(what, "name", "") or ""
    return name.startswith(("kb_fts", "ticket_fts", "kb_vocab", "ticket_vocab")) or name.endswith(
        "_terms_body"
    )


def test_the_migrated_schema_is_the_tables_schema_on_sqlite(db_path: Path) -> None:
    Engine.open(db=db_path).close()
    assert _schema_differences(f"sqlite:///{db_path}") == []


@pytest.mark.postgres
def test_the_migrated_schema_is_the_tables_schema_on_postgres(pg_url: str) -> None:
    Engine.open(db=pg_url).close()
    assert _schema_differences(pg_url.replace("postgresql://", "postgresql+psycopg://")) == []


def test_init_upgrades_a_schema_1_database_with_its_history_intact(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    shutil.copy(LEGACY, db)
    before = snapshot(db)
    refused = faultflow(db, "list")
    assert refused.exit_code == 1
    assert "schema 1 (from before migrations)" in refused.stderr
    assert "run `faultflow init`" in refused.stderr
    assert snapshot(db) == before  # refused: nothing written
    done = faultflow(db, "init")
    assert done.exit_code == 0, done.output
    assert "applied migration 0001 (adopted: schema 1 from before migrations)" in done.output
    applied = [f"{n:04d}" for n in range(2, 18)]
    assert all(f"applied migration {r}" in done.output for r in applied)
    after = snapshot(db)
    for table in ("events", "clocks", "outbox"):
        assert after[table] == before[table], table
    # 0014: the tickets from before are alone (no parent)
    assert {row[-1] for row in after["tickets"]} == {None}
    after["tickets"] = [row[:-1] for row in after["tickets"]]
    # 0009: the tickets from before are not placed (unit, site, line, device)
    assert {row[-4:] for row in after["tickets"]} == {(None, None, None, None)}
    after["tickets"] = [row[:-4] for row in after["tickets"]]
    # 0002: every ticket is the first occurrence of its external id, recurring none
    assert [row[:-5] for row in after["tickets"]] == before["tickets"]
    assert {row[-5:-2] for row in after["tickets"]} == {(1, None, None)}
    # 0005: the tickets from before versions run under the contract the database first meets
    from faultflow.contract.compile import load_contract

    assert {row[-2] for row in after["tickets"]} == {load_contract().version}
    # 0007: each ticket's place in the urgency order, from its clocks (none once final)
    finals = load_contract().finals
    for row in after["tickets"]:
        running = [c[7] for c in after["clocks"] if c[0] == row[0] and c[8] == "running"]
        expected = None if row[1] in finals else min(running, default=OPEN_IDLE_US)
        assert row[-1] == expected, row[0]
    assert {row[-1] is None for row in after["tickets"]} == {True, False}  # both kinds seen
    assert [r[0] for r in after["contracts"]] == [load_contract().version]
    with Engine.open(db=db, create=False) as engine:
        assert engine.verify().ok
        reported = engine.get("22DC62W")
        assert reported.state == "reported"
        assert "handling_report" in reported.history[-1].data
    again = faultflow(db, "init")
    assert again.exit_code == 0 and "applied" not in again.output  # idempotent


def test_a_hand_changed_schema_1_database_is_not_adopted(tmp_path: Path) -> None:
    db = tmp_path / "changed.db"
    shutil.copy(LEGACY, db)
    conn = sqlite3.connect(db)
    conn.execute("ALTER TABLE tickets RENAME COLUMN owner TO assignee")
    conn.commit()
    conn.close()
    before = snapshot(db)
    done = faultflow(db, "init")
    assert done.exit_code == 1
    assert "its table tickets has columns" in done.stderr and "not upgraded" in done.stderr
    assert snapshot(db) == before


def test_a_newer_schema_is_refused(db_path: Path) -> None:
    Engine.open(db=db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE alembic_version SET version_num = '9999'")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError, match="revision 9999, newer than this faultflow"):
        Engine.open(db=db_path)


def test_foreign_tables_are_left_alone(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError, match="tables that are not faultflow's"):
        Engine.open(db=db_path)
