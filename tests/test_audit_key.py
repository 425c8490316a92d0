"""What each mode of `verify` proves beyond the plain chain: the keyed seal (FAULTFLOW_AUDIT_KEY),
and a saved head that covers the set of tickets. Forgeries here recompute every plain hash, as
someone with write access to the database can."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import START, new_ticket
from faultflow import Engine
from faultflow.audit.chain import SavedHead, Sealer, chain, genesis, key_id
from faultflow.cli.app import cli
from faultflow.db.records import EventRecord
from faultflow.errors import InvalidInput
from hypothesis import given, settings
from hypothesis import strategies as st

KEY = "k" * 24
OLD_KEY = "o" * 24


def _open(db: Path, key: str | None = KEY) -> Engine:
    import pendulum

    return Engine.open(db=db, clock=pendulum.now, audit_key=key)


def _events(db: Path, tid: str) -> list[EventRecord]:
    conn = sqlite3.connect(db)
    cols = ", ".join(EventRecord._fields)
    rows = conn.execute(f"SELECT {cols} FROM events WHERE ticket_id = ? ORDER BY seq", (tid,))
    out = [EventRecord(*r) for r in rows]
    conn.close()
    return out


def _forge_append(db: Path, tid: str, hash_of: Any) -> None:
    """Append an event to ``tid`` and move its row's head, with a hash made by ``hash_of``
    (prev, event) — what an intruder without the key can compute."""
    last = _events(db, tid)[-1]
    forged = last._replace(
        seq=last.seq + 1,
        trigger="note",
        from_state=last.to_state,
        note="customer withdrew the complaint",
        actor="mallory",
        at_us=last.at_us + 1,
        recorded_us=last.recorded_us + 1,
        data="{}",
    )
    forged = forged._replace(hash=hash_of(last.hash, forged))
    conn = sqlite3.connect(db)
    conn.execute(
        f"INSERT INTO events ({', '.join(EventRecord._fields)}) VALUES "
        f"({', '.join('?' * len(EventRecord._fields))})",
        tuple(forged),
    )
    conn.execute(
        "UPDATE tickets SET last_seq = ?, last_hash = ?, last_us = ? WHERE id = ?",
        (forged.seq, forged.hash, forged.at_us, tid),
    )
    conn.commit()
    conn.close()


@pytest.fixture
def keyed(db_path: Path, travel: Any) -> tuple[Engine, list[str]]:
    engine = _open(db_path)
    ids = []
    for tier in ("A", "B"):
        t = new_ticket(engine, tier)
        travel(minutes=3)
        engine.advance(t.id, "respond", actor="li")
        ids.append(t.id)
    return engine, sorted(ids)


def test_events_are_sealed_with_the_key_and_verify(keyed: tuple[Engine, list[str]]) -> None:
    engine, ids = keyed
    result = engine.verify()
    assert result.ok and (result.events, result.sealed) == (4, 4)
    event = engine.history(ids[0])[0]
    assert event.hash.startswith(f"hmac:{key_id(KEY)}:")


def test_an_event_forged_without_the_key_fails_even_with_a_valid_plain_chain(
    db_path: Path, keyed: tuple[Engine, list[str]]
) -> None:
    engine, ids = keyed
    _forge_append(db_path, ids[0], chain)  # a correct plain SHA-256 link
    broken = engine.verify().broken
    assert [(b.ticket, b.seq) for b in broken] == [(ids[0], 3)]
    assert "not sealed with the audit key, after events that are" in broken[0].reason
    # and a seal made with another key is no better
    _forge_append(db_path, ids[1], Sealer(["x" * 24]).seal)
    broken = engine.verify().broken
    assert (broken[1].ticket, broken[1].seq) == (ids[1], 3)
    assert "does not hold" in broken[1].reason


def _forger(monkeypatch: Any) -> None:
    """What a forger's own build of faultflow does: write without the key, as if the database
    did not seal (the check at open skipped)."""
    from faultflow.audit import sealing

    monkeypatch.setattr(sealing, "settle", lambda store, sealer, now_us: sealer)


def test_a_whole_ticket_forged_after_the_key_was_in_use_fails(
    db_path: Path, keyed: tuple[Engine, list[str]], travel: Any, monkeypatch: Any
) -> None:
    """A new ticket with a plain chain: each link is right, but it was recorded when every
    writer sealed with the key."""
    engine, _ = keyed
    travel(minutes=5)
    _forger(monkeypatch)
    plain = _open(db_path, key=None)
    forged = new_ticket(plain, "C")
    broken = engine.verify().broken
    assert [(b.ticket, b.seq) for b in broken] == [(forged.id, 1)]
    assert "written after the key was in use" in broken[0].reason


def test_a_writer_without_the_key_is_refused_once_sealing_is_in_force(
    db_path: Path, keyed: tuple[Engine, list[str]]
) -> None:
    """Reading is fine; the first write is refused in one line, and nothing is written."""
    from conftest import snapshot

    plain = _open(db_path, key=None)
    assert len(plain.list()) == 2  # reads work
    before = snapshot(db_path)
    with pytest.raises(InvalidInput) as refused:
        new_ticket(plain, "C")
    assert str(refused.value) == (
        "this database seals its history with an audit key (since 2026-03-02 01:00 UTC): set "
        "FAULTFLOW_AUDIT_KEY to write; nothing was written"
    )
    assert snapshot(db_path) == before
    done = CliRunner().invoke(
        cli, ["--db", str(db_path), "intake", "--channel", "web", "--title", "x"]
    )
    assert done.exit_code == 1 and done.stderr.startswith("error: this database seals")
    assert len(done.stderr.splitlines()) == 1


def test_sealing_is_in_force_from_the_first_keyed_process_and_stays(
    db_path: Path, travel: Any, monkeypatch: Any
) -> None:
    """A keyed process opened the database before any event was written: from then on every
    event must be sealed, whatever the events themselves say (a forger who wrote every event
    plain would otherwise leave no sealed event to date the key by)."""
    _open(db_path).close()  # the service starts with its key; nothing written yet
    travel(minutes=1)
    _forger(monkeypatch)
    forged = new_ticket(_open(db_path, key=None), "C")
    result = _open(db_path).verify()
    assert [(b.ticket, b.seq) for b in result.broken] == [(forged.id, 1)]
    assert "written after the key was in use" in result.broken[0].reason


def test_an_edited_sealed_event_fails(db_path: Path, keyed: tuple[Engine, list[str]]) -> None:
    engine, ids = keyed
    conn = sqlite3.connect(db_path)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute(f"UPDATE events SET actor = 'mallory' WHERE ticket_id = '{ids[1]}' AND seq = 2")
    conn.commit()
    conn.close()
    (broken,) = engine.verify().broken
    assert (broken.ticket, broken.seq) == (ids[1], 2)
    assert "seal does not match" in broken.reason


def test_history_written_before_the_key_still_verifies(db_path: Path, travel: Any) -> None:
    plain = _open(db_path, key=None)
    old = new_ticket(plain, "A")
    travel(minutes=2)
    engine = _open(db_path)
    engine.advance(old.id, "respond", actor="li")  # the key from here on: a mixed chain
    new = new_ticket(engine, "C")
    result = engine.verify()
    assert result.ok and (result.events, result.sealed) == (3, 2)
    assert engine.history(new.id)[0].hash.startswith("hmac:")


def test_keys_rotate_the_first_seals_and_every_one_verifies(db_path: Path, travel: Any) -> None:
    before = _open(db_path, key=OLD_KEY)
    new_ticket(before, "A")
    after = _open(db_path, key=f"{KEY} {OLD_KEY}")
    t = new_ticket(after, "B")
    assert after.history(t.id)[0].hash.startswith(f"hmac:{key_id(KEY)}:")
    assert after.verify().ok
    # without the old key, its events cannot be told from forgeries
    only_new = _open(db_path, key=KEY)
    assert not only_new.verify().ok


def test_cli_without_the_key_says_what_to_set(
    db_path: Path, keyed: tuple[Engine, list[str]], monkeypatch: Any
) -> None:
    monkeypatch.delenv("FAULTFLOW_AUDIT_KEY", raising=False)
    done = CliRunner().invoke(cli, ["--db", str(db_path), "verify"])
    assert done.exit_code == 1
    assert done.stderr == (
        "error: this database seals its history with an audit key (since 2026-03-02 01:00 "
        "UTC): set FAULTFLOW_AUDIT_KEY to verify it\n"
    )
    monkeypatch.setenv("FAULTFLOW_AUDIT_KEY", KEY)
    done = CliRunner().invoke(cli, ["--db", str(db_path), "verify"])
    assert done.exit_code == 0
    assert done.output == "ok: 4 events of 2 tickets verified (4 sealed with the audit key)\n"


def test_a_short_key_is_refused(db_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("FAULTFLOW_AUDIT_KEY", "secret")
    done = CliRunner().invoke(cli, ["--db", str(db_path), "init"])
    assert done.exit_code == 1
    assert "FAULTFLOW_AUDIT_KEY holds a key of 6 characters: use at least 16" in done.stderr
    assert not db_path.exists()


# -- the saved head covers the set of tickets --------------------------------------------------


def _save_head(db: Path, tmp_path: Path) -> Path:
    saved = tmp_path / "head.json"
    done = CliRunner().invoke(cli, ["--db", str(db), "verify", "--head", "--out", str(saved)])
    assert done.exit_code == 0, done.output
    return saved


def _delete_ticket(db: Path, tid: str) -> None:
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER events_no_delete")
    for table, column in (("events", "ticket_id"), ("clocks", "ticket_id"), ("tickets", "id")):
        conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (tid,))
    conn.execute("DELETE FROM outbox WHERE ticket_id = ?", (tid,))
    conn.commit()
    conn.close()


def test_a_whole_ticket_deleted_is_caught_by_the_saved_head(
    engine: Engine, db_path: Path, tmp_path: Path
) -> None:
    ids = sorted(new_ticket(engine, tier).id for tier in "ABC")
    saved = _save_head(db_path, tmp_path)
    _delete_ticket(db_path, ids[1])
    assert engine.verify().ok  # nothing left in the database says it existed
    done = CliRunner().invoke(cli, ["--db", str(db_path), "verify", "--against", str(saved)])
    assert done.exit_code == 1
    assert f"broken at ticket {ids[1]} seq 1: is gone: the saved head holds it at seq 1" in (
        done.stderr
    )


def test_a_saved_head_with_a_ticket_taken_out_is_refused(
    engine: Engine, db_path: Path, tmp_path: Path
) -> None:
    ids = sorted(new_ticket(engine, tier).id for tier in "AB")
    saved = _save_head(db_path, tmp_path)
    head = json.loads(saved.read_text())
    del head["heads"][ids[0]]
    saved.write_text(json.dumps(head))
    done = CliRunner().invoke(cli, ["--db", str(db_path), "verify", "--against", str(saved)])
    assert done.exit_code == 1
    assert f"{saved} was altered: its 1 tickets give head" in done.stderr
    assert "(2 tickets) it states" in done.stderr


def test_a_ticket_backdated_before_the_saved_head_is_caught(
    engine: Engine, db_path: Path, tmp_path: Path, travel: Any
) -> None:
    new_ticket(engine, "A")
    travel(hours=2)
    saved = _save_head(db_path, tmp_path)
    travel(hours=1)
    # an intruder runs the engine with its clock set back, to slip in an "old" ticket
    back = Engine.open(db=db_path, clock=lambda: START + timedelta(minutes=30))
    slipped = new_ticket(back, "C")
    fresh = new_ticket(engine, "B")  # a ticket opened after the head: fine
    head = SavedHead.load(json.loads(saved.read_text()), saved.name)
    broken = engine.verify(against=head).broken
    assert [(b.ticket, b.seq) for b in broken] == [(slipped.id, 1)]
    assert "not in the saved head, yet its first event is older than the head" in (broken[0].reason)
    assert fresh.id not in {b.ticket for b in broken}


def test_a_saved_head_that_is_not_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"head\.json is not a head saved by"):
        SavedHead.load({"heads": {"X": [1, "h"]}}, "head.json")


def test_verify_in_several_processes_finds_the_same(
    engine: Engine, db_path: Path, travel: Any
) -> None:
    from faultflow.audit.verify import run

    ids = sorted(new_ticket(engine, "ABC"[i % 3]).id for i in range(40))
    travel(minutes=20)
    engine.tick()
    conn = sqlite3.connect(db_path)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute(f"UPDATE events SET actor = 'x' WHERE ticket_id = '{ids[3]}' AND seq = 1")
    conn.execute(f"UPDATE tickets SET owner = 'x' WHERE id = '{ids[30]}'")
    conn.commit()
    conn.close()
    one = engine.verify()
    several = run(engine.store, engine.contract, engine.sealer, None, workers=3, parallel_from=0)
    # 40 intakes and the breaches of the 14 tier A tickets
    assert (several.events, several.tickets) == (one.events, one.tickets) == (54, 40)
    assert several.broken == one.broken and [b.ticket for b in one.broken] == [ids[3], ids[30]]


# -- the canonical encoding ------------------------------------------------------------------

_VALUES = st.one_of(st.none(), st.integers(-(2**62), 2**62), st.text(), st.booleans())


@settings(max_examples=300)
@given(st.lists(_VALUES, min_size=12, max_size=12))
def test_the_hash_is_json_dumps_of_the_fields(values: list[Any]) -> None:
    """The fast encoder writes exactly what json.dumps does: old chains stay valid."""
    import hashlib

    event = EventRecord(*values[:11], hash="")
    fields = [v for k, v in event._asdict().items() if k != "hash"]
    text = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    prev = genesis("T")
    assert chain(prev, event) == hashlib.sha256(f"{prev}\n{text}".encode()).hexdigest()
