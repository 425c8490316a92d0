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


def test_cli_verify_names_each_log_it_checked(
    engine: Engine, db_path: Path, history: list[str]
) -> None:
    engine.advance(history[0], "report", actor="li")  # reported: the experience base drafts
    done = CliRunner().invoke(cli, ["--db", str(db_path), "verify"])
    assert done.exit_code == 0
    assert done.output == "ok: 13 events of 3 tickets verified; 1 experience base change\n"


def test_cli_verify_and_the_saved_head(
    engine: Engine, db_path: Path, history: list[str], tmp_path: Path
) -> None:
    runner = CliRunner()
    base = ["--db", str(db_path)]
    ok = runner.invoke(cli, [*base, "verify"])
    assert ok.exit_code == 0 and ok.output == "ok: 12 events of 3 tickets verified\n"
    jobs = runner.invoke(cli, [*base, "verify", "--jobs", "2"])  # --workers' other name
    assert jobs.exit_code == 0 and jobs.output == ok.output
    assert runner.invoke(cli, [*base, "verify", "--jobs", "0"]).exit_code == 2
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
        f"ticket_id = '{tid}' AND seq = 1), state = 'received', owner = (SELECT actor FROM "
        f"events WHERE ticket_id = '{tid}' AND seq = 1) WHERE id = '{tid}'",
    )
    plain = runner.invoke(cli, [*base, "verify"])
    # the chain is self-consistent, but the clocks stored beside it are not what it gives
    assert plain.exit_code == 1
    assert f"broken at ticket {tid} seq 1: its response clock differs" in plain.stderr
    caught = runner.invoke(cli, [*base, "verify", "--against", str(saved)])
    assert caught.exit_code == 1  # and it is not what the customer was shown
    assert f"broken at ticket {tid}" in caught.stderr


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


def _breached_ticket(engine: Engine, travel: Any) -> str:
    t = new_ticket(engine, "A")
    travel(minutes=20)  # the response promise breaks
    engine.tick()
    engine.advance(t.id, "respond", actor="li")
    return t.id


@pytest.mark.parametrize(
    ("statement", "words"),
    [
        ("UPDATE tickets SET state = 'reported' WHERE id = '{t}'", "the ticket says reported"),
        ("UPDATE tickets SET owner = 'mallory' WHERE id = '{t}'", "owner is mallory"),
        ("UPDATE tickets SET title = 'nothing happened' WHERE id = '{t}'", "title is"),
        ("UPDATE tickets SET tier = 'C' WHERE id = '{t}'", "classified tier C"),
        ("UPDATE tickets SET on_hold = 1 WHERE id = '{t}'", "on hold True"),
        ("UPDATE tickets SET recurs = 'ABCDEFG' WHERE id = '{t}'", "recurs ABCDEFG"),
        (
            "UPDATE clocks SET breached = 0, breach_fired = 0 WHERE ticket_id = '{t}'",
            "response clock lost the breach",
        ),
        (  # the column the compliance report counts, alone
            "UPDATE clocks SET breached = 0 WHERE ticket_id = '{t}'",
            "response clock says breached False, its history True",
        ),
        (
            "UPDATE clocks SET stopped_us = started_us + 60000000 WHERE ticket_id = '{t}'",
            "response clock differs",
        ),
        ("DELETE FROM clocks WHERE ticket_id = '{t}'", "response clock is missing"),
    ],
)
def test_rows_edited_beside_an_intact_chain_are_caught(
    engine: Engine, db_path: Path, travel: Any, statement: str, words: str
) -> None:
    """Editing what the compliance report reads, without touching an event, fails verify."""
    tid = _breached_ticket(engine, travel)
    assert engine.verify().ok
    tamper(db_path, statement.format(t=tid))
    result = engine.verify()
    assert not result.ok
    (broken,) = result.broken
    assert broken.ticket == tid and words in broken.reason, broken.reason
