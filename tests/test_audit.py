"""The tamper-evident history: an edited, deleted or reordered event is found."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import new_ticket
from faultflow import Engine
from faultflow.cli.app import cli


@pytest.fixture
def history(engine: Engine, travel: Any) -> list[str]:
    ids = []
    for tier in ("A", "B", "C"):
        t = new_ticket(engine, tier)
        for step in ("respond", "remote", "resolve"):
            travel(minutes=3)
            engine.advance(t.id, step, actor="li")
        ids.append(t.id)
    return sorted(ids)


def tamper(db: Path, *statements: str) -> None:
    """What an attacker with write access would do: drop the guard triggers and rewrite."""
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("DROP TRIGGER events_no_delete")
    for s in statements:
        conn.execute(s)
    conn.commit()
    conn.close()


def test_an_intact_history_verifies(engine: Engine, history: list[str]) -> None:
    result = engine.verify()
    assert result.ok and (result.events, result.tickets) == (12, 3)


def test_an_edited_event_is_found(engine: Engine, db_path: Path, history: list[str]) -> None:
    tid = history[1]
    tamper(db_path, f"UPDATE events SET actor = 'mallory' WHERE ticket_id = '{tid}' AND seq = 3")
    result = engine.verify()
    assert [(b.ticket, b.seq) for b in result.broken] == [(tid, 3)]
    assert "changed after it was written" in result.broken[0].reason


def test_a_deleted_event_is_found(engine: Engine, db_path: Path, history: list[str]) -> None:
    tid = history[0]
    tamper(db_path, f"DELETE FROM events WHERE ticket_id = '{tid}' AND seq = 2")
    assert [(b.ticket, b.seq) for b in engine.verify().broken] == [(tid, 2)]


def test_a_deleted_last_event_is_found(engine: Engine, db_path: Path, history: list[str]) -> None:
    tid = history[2]
    tamper(db_path, f"DELETE FROM events WHERE ticket_id = '{tid}' AND seq = 4")
    broken = engine.verify().broken
    assert [(b.ticket, b.seq) for b in broken] == [(tid, 4)]
    assert "head is seq 4 but its chain ends at seq 3" in broken[0].reason


def test_reordered_events_are_found(engine: Engine, db_path: Path, history: list[str]) -> None:
    tid = history[1]
    tamper(
        db_path,
        f"UPDATE events SET seq = 99 WHERE ticket_id = '{tid}' AND seq = 2",
        f"UPDATE events SET seq = 2 WHERE ticket_id = '{tid}' AND seq = 3",
        f"UPDATE events SET seq = 3 WHERE ticket_id = '{tid}' AND seq = 99",
    )
    assert [(b.ticket, b.seq) for b in engine.verify().broken] == [(tid, 2)]


def test_a_whole_ticket_deleted_is_found(engine: Engine, db_path: Path, history: list[str]) -> None:
    tid = history[0]
    tamper(db_path, f"DELETE FROM events WHERE ticket_id = '{tid}'")
    assert [(b.ticket, b.reason) for b in engine.verify().broken] == [
        (tid, "its events are missing")
    ]


def test_cli_verify_and_the_saved_head(
    engine: Engine, db_path: Path, history: list[str], tmp_path: Path
) -> None:
    runner = CliRunner()
    base = ["--db", str(db_path)]
    ok = runner.invoke(cli, [*base, "verify"])
    assert ok.exit_code == 0 and ok.output == "ok: 12 events of 3 tickets verified\n"
    saved = tmp_path / "head.json"
    head = runner.invoke(cli, [*base, "verify", "--head", "--out", str(saved), "--json"])
    assert head.exit_code == 0
    assert json.loads(head.stdout)["tickets"] == 3
    assert runner.invoke(cli, [*base, "verify", "--against", str(saved)]).exit_code == 0
    # rewrite a ticket's whole history consistently (recomputed hashes): the chain is valid
    # again, but it no longer passes through the head the customer kept
    tid = history[0]
    engine.close()
    tamper(
        db_path,
        f"DELETE FROM events WHERE ticket_id = '{tid}' AND seq > 1",
        f"UPDATE tickets SET last_seq = 1, last_hash = (SELECT hash FROM events WHERE "
        f"ticket_id = '{tid}' AND seq = 1), state = 'received' WHERE id = '{tid}'",
    )
    plain = runner.invoke(cli, [*base, "verify"])
    assert plain.exit_code == 0  # self-consistent...
    caught = runner.invoke(cli, [*base, "verify", "--against", str(saved)])
    assert caught.exit_code == 1  # ...but not what the customer was shown
    assert f"broken at ticket {tid} seq 4" in caught.stderr
    assert "saved head names an event that is gone" in caught.stderr


def test_cli_verify_exit_1_names_the_first_broken_link(
    engine: Engine, db_path: Path, history: list[str]
) -> None:
    tid = history[2]
    tamper(
        db_path,
        f"UPDATE events SET note = 'nothing happened' WHERE ticket_id = '{tid}' AND seq = 2",
    )
    done = CliRunner().invoke(cli, ["--db", str(db_path), "verify"])
    assert done.exit_code == 1
    assert done.stderr.startswith(f"error: the audit chain is broken at ticket {tid} seq 2")
