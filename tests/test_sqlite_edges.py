"""SQLite on the edge: a damaged file stops `run` before it writes; an empty file is named; the
WAL is folded back and cut down."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import new_ticket, snapshot
from faultflow import DatabaseError, Engine, IntakeRecord
from faultflow.bulk import BulkTicket, load
from faultflow.cli.app import cli
from faultflow.errors import DatabaseDamaged

AT = datetime.fromisoformat("2026-03-02T09:00+08:00")


def _damage(db: Path) -> None:
    """Overwrite one page in the middle of the file with garbage, as a failing disk would."""
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    middle = (len(data) // page // 2) * page
    data[middle : middle + page] = b"\xde\xad\xbe\xef" * (page // 4)
    db.write_bytes(bytes(data))


def _filled(db: Path, n: int = 3000) -> None:
    with Engine.open(db=db) as engine:
        load(engine, (BulkTicket("web", IntakeRecord(title=f"t{i}"), AT) for i in range(n)))
        engine.maintain()  # everything in the main file, so that damaging it damages data


def test_run_refuses_to_write_into_a_damaged_file(tmp_path: Path) -> None:
    db = tmp_path / "ff.db"
    _filled(db)
    _damage(db)
    with Engine.open(db=db, create=False) as engine, pytest.raises(DatabaseDamaged) as err:
        engine.run(handle_signals=False)
    assert "the database file is damaged" in str(err.value)
    assert "restore a backup" in str(err.value)
    done = CliRunner().invoke(cli, ["--db", str(db), "run"])
    assert done.exit_code == 1
    assert "error: the database file is damaged" in done.stderr


def test_an_empty_file_is_named_as_such(tmp_path: Path) -> None:
    db = tmp_path / "ff.db"
    db.write_bytes(b"")
    done = CliRunner().invoke(cli, ["--db", str(db), "list"])
    assert done.exit_code == 1
    assert f"error: {db} is an empty file, not a faultflow database" in done.stderr
    assert db.stat().st_size == 0


def test_the_wal_is_folded_back_and_cut_down(tmp_path: Path) -> None:
    db = tmp_path / "ff.db"
    wal = Path(f"{db}-wal")
    with Engine.open(db=db) as engine:
        load(engine, (BulkTicket("web", IntakeRecord(title=f"t{i}"), AT) for i in range(2000)))
        assert wal.stat().st_size > 0
        engine.maintain(integrity=True)  # a healthy file passes, and the WAL is emptied
        assert wal.stat().st_size == 0
        assert len(engine.list()) == 2000


def test_a_healthy_database_passes_the_check(db_path: Path, travel: Any) -> None:
    with Engine.open(db=db_path) as engine:
        new_ticket(engine)
        before = snapshot(db_path)
        engine.maintain(integrity=True)
        assert snapshot(db_path) == before
    with pytest.raises(DatabaseError, match="no database at"):
        Engine.open(db=db_path.with_name("nowhere.db"), create=False)
