"""The same engine on a real PostgreSQL server: paths, guards, refusals, timers, races."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conftest import START, new_ticket, race
from faultflow import ConcurrentUpdate, Engine, GuardRefused

pytestmark = pytest.mark.postgres


def rows(engine: Engine) -> dict[str, list[Any]]:
    from sqlalchemy import text

    out = {}
    with engine.store.sa.connect() as conn:
        for table in ("tickets", "events", "clocks", "outbox"):
            out[table] = sorted(map(tuple, conn.execute(text(f"SELECT * FROM {table}"))), key=repr)
    return out


def test_lifecycle_timers_and_refusals_on_postgres(pg_url: str, travel: Any) -> None:
    with Engine.open(db=pg_url) as engine:
        t = new_ticket(engine, "A")
        for step in ("respond", "dispatch", "arrive"):
            travel(minutes=5)
            t = engine.advance(t.id, step, actor="li")
        before = rows(engine)
        with pytest.raises(GuardRefused):
            engine.advance(t.id, "substitute", actor="li")
        with pytest.raises(ConcurrentUpdate):
            engine.advance(t.id, "resolve", actor="li", version=1)
        assert rows(engine) == before
        travel(hours=5, seconds=1)
        assert [(f.clock, f.event) for f in engine.tick()] == [("resolution", "breach")]
        assert engine.tick() == []
        t = engine.advance(t.id, "substitute", actor="li")
        t = engine.advance(t.id, "report", actor="li")
        assert t.state == "reported"
        assert [e.trigger for e in engine.get(t.id).history] == [
            "intake",
            "respond",
            "dispatch",
            "arrive",
            "breach",
            "substitute",
            "report",
        ]
        assert engine.get(t.id).clocks["arrival"].elapsed == timedelta(minutes=5)
        assert engine.list(breached=True)[0].id == t.id
    with Engine.open(db=pg_url, create=False) as again:  # schema recorded; reopened as is
        assert again.get(t.id).state == "reported"


def test_postgres_history_is_append_only(pg_url: str, travel: Any) -> None:
    import psycopg

    with Engine.open(db=pg_url) as engine:
        new_ticket(engine)
    with (
        psycopg.connect(pg_url) as conn,
        pytest.raises(psycopg.errors.RaiseException, match="append-only"),
    ):
        conn.execute("UPDATE events SET actor = 'mallory'")


WORKER = r"""
print(json.dumps([[f.ticket, f.event] for f in engine.tick(batch=40)]))
"""


def test_several_schedulers_on_postgres_fire_once(pg_url: str, travel: Any) -> None:
    with Engine.open(db=pg_url) as engine:
        ids = {new_ticket(engine, "B").id for _ in range(150)}
    results = race(pg_url, START.add(minutes=31), WORKER, [[]] * 4)
    fired = [tuple(x) for r in results for x in r]
    assert sorted(fired) == sorted((tid, "breach") for tid in ids)


def test_verify_on_postgres_keyed_and_in_several_processes(pg_url: str, travel: Any) -> None:
    """Server-side cursors, ranges of ids in byte order (not the server's collation), sealed
    events: the same findings in one process and in three."""
    import psycopg
    from faultflow.audit.verify import run

    with Engine.open(db=pg_url, audit_key="k" * 32) as engine:
        tiers = {new_ticket(engine, "ABC"[i % 3]).id: "ABC"[i % 3] for i in range(30)}
        travel(minutes=20)
        engine.tick()  # the 10 tier A tickets breach
        breached = min(t for t, tier in tiers.items() if tier == "A")
        edited = max(tiers)
        with psycopg.connect(pg_url) as conn:
            conn.execute("UPDATE tickets SET owner = 'mallory' WHERE id = %s", (edited,))
            conn.execute("UPDATE clocks SET breached = false WHERE ticket_id = %s", (breached,))
        one = engine.verify()
        several = run(engine.store, engine.contract, engine.sealer, None, 3, parallel_from=0)
    assert one.sealed == one.events == several.sealed == several.events == 40
    assert several.broken == one.broken
    assert [(b.ticket, b.reason) for b in one.broken] == [
        (breached, "its response clock says breached False, its history True"),
        (edited, "the ticket's owner is mallory, its history says agent1 took it in"),
    ]


def test_lists_are_ordered_cut_and_paged_by_postgres(pg_url: str, travel: Any) -> None:
    """The urgency order, the count and keyset pages on PostgreSQL (row values, the partial
    index): the same as SQLite's."""
    with Engine.open(db=pg_url) as engine:
        late = new_ticket(engine, "A").id
        travel(minutes=20)  # its response promise is broken
        made = [new_ticket(engine, tier).id for tier in "CBAC"]
        done = new_ticket(engine, "B").id
        for step in ("respond", "remote", "resolve"):
            engine.advance(done, step)
        engine.advance(done, "report", note="fixed remotely")
        listed = [t.id for t in engine.list(final=False)]
        assert listed[0] == late and done not in listed and set(listed) == {late, *made}
        dues = [min(c.due_at for c in t.clocks.values() if c.status == "running")
                for t in engine.list(final=False)]  # fmt: skip
        assert dues == sorted(dues)
        assert engine.count(final=False) == 5 and engine.count() == 6
        paged: list[str] = []
        while page := engine.list(final=False, limit=2, after=paged[-1] if paged else None):
            paged += [t.id for t in page]
        assert paged == listed
        assert [t.id for t in engine.list(final=True)] == [done]
        assert engine.verify().ok
