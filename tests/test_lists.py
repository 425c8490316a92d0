"""Lists in the database: the urgency order kept on the ticket row, cut and paged by keyset.

The order the engine has always promised — broken promises first, then the nearest due time of
a running clock, then the oldest — is computed here from the views themselves (the oracle) and
compared with what the database returns, over random histories.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pendulum
import pytest
from conftest import START, new_ticket
from faultflow import Engine, GuardRefused, IllegalTransition, InvalidInput, UnknownTicket
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# What can happen to a ticket between two looks at the list.
STEPS = ("respond", "remote", "dispatch", "arrive", "resolve", "report", "hold", "resume", "wait")


def oracle(ticket: Any) -> tuple[int, float, float, str]:
    """The order by the views: breached running promises first, the nearest due, the oldest."""
    running = [c for c in ticket.clocks.values() if c.status == "running"]
    dues = [c.due_at.timestamp() for c in running if c.due_at is not None]
    return (
        0 if any(c.breached for c in running) else 1,
        min(dues) if dues else float("inf"),
        ticket.created_at.timestamp(),
        ticket.id,
    )


def apply(engine: Engine, ticket_id: str, step: str) -> None:
    """One step, when the ticket's state allows it (a refused step changes nothing)."""
    try:
        if step == "hold":
            engine.hold(ticket_id, reason="waiting for the unit")
        elif step == "resume":
            engine.resume(ticket_id)
        elif step == "dispatch":
            engine.advance(ticket_id, "dispatch", reason="remote failed")
        elif step == "report":
            engine.advance(ticket_id, "report", note="fixed")
        elif step != "wait":
            engine.advance(ticket_id, step)
    except (IllegalTransition, GuardRefused, InvalidInput):
        pass  # a step the state refuses: part of the randomness


def pages(engine: Engine, size: int, **filters: Any) -> list[str]:
    """Every ticket of a list, read a page of ``size`` at a time (keyset: after the last)."""
    out: list[str] = []
    while True:
        page = engine.list(limit=size, after=out[-1] if out else None, **filters)
        out += [t.id for t in page]
        if len(page) < size:
            return out


histories = st.lists(
    st.tuples(
        st.sampled_from(("A", "B", "C")),
        st.lists(st.tuples(st.sampled_from(STEPS), st.integers(0, 200)), max_size=6),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(histories)
def test_the_database_orders_as_the_views_do(
    tmp_path: Path, empty_database: Path, history: list[tuple[str, list[tuple[str, int]]]]
) -> None:
    db = tmp_path / f"lists-{id(history)}.db"
    shutil.copyfile(empty_database, db)
    with pendulum.travel_to(START, freeze=True):
        engine = Engine.open(db=db)
        try:
            made = []
            for tier, _ in history:
                made.append(new_ticket(engine, tier).id)
                pendulum.travel(minutes=3, freeze=True)
            for ticket_id, (_, steps) in zip(made, history, strict=True):
                for step, minutes in steps:
                    pendulum.travel(minutes=minutes, freeze=True)
                    apply(engine, ticket_id, step)
            for final in (False, None, True):
                listed = engine.list(final=final)
                assert [oracle(t) for t in listed] == sorted(oracle(t) for t in listed)
                assert engine.count(final=final) == len(listed)
                assert pages(engine, 2, final=final) == [t.id for t in listed]
                assert [t.id for t in engine.list(final=final, limit=3)] == [
                    t.id for t in listed[:3]
                ]
            everything = {t.id for t in engine.list(final=None)}
            assert everything == set(made)
            split = {t.id for t in engine.list(final=False)} | {
                t.id for t in engine.list(final=True)
            }
            assert split == everything
            assert engine.verify().ok  # the key on each row is what its clocks give
        finally:
            engine.close()


def test_a_breached_ticket_comes_before_one_due_sooner(engine: Engine, travel: Any) -> None:
    late = new_ticket(engine, "A").id  # respond within 15 minutes
    travel(minutes=20)
    soon = new_ticket(engine, "A").id
    relaxed = new_ticket(engine, "C").id
    listed = [t.id for t in engine.list(final=False)]
    assert listed == [late, soon, relaxed]
    assert [t.id for t in engine.list(breached=True)] == [late]
    assert engine.count(breached=False, final=False) == 2


def test_a_held_ticket_goes_after_every_running_promise(engine: Engine, travel: Any) -> None:
    older = new_ticket(engine, "C").id
    engine.advance(older, "respond")  # nothing of it runs now: it waits among the idle ones
    travel(minutes=5)
    held = new_ticket(engine, "A").id
    engine.advance(held, "respond")
    engine.advance(held, "dispatch")  # the on-site promise runs, and may be paused
    assert [t.id for t in engine.list(final=False)] == [held, older]
    engine.hold(held, reason="the unit asked to wait")
    assert [t.id for t in engine.list(final=False)] == [older, held]  # idle: oldest first
    travel(minutes=30)
    engine.resume(held)  # its promise runs again (due later by the pause), and it is first
    listed = engine.list(final=False)
    assert [t.id for t in listed] == [held, older]
    assert listed[0].clocks["arrival"].due_at == START.add(minutes=5 + 60 + 30)


def test_after_an_unknown_ticket_is_refused(engine: Engine) -> None:
    new_ticket(engine)
    with pytest.raises(UnknownTicket):
        engine.list(after="NOSUCH1")


def test_an_open_list_reads_along_the_index_without_sorting(engine: Engine, db_path: Path) -> None:
    """What makes a list's cost follow what it shows, not the table: SQLite walks the partial
    index of open tickets and stops at the limit (no temporary B-tree to sort them all)."""
    for tier in "ABC":
        new_ticket(engine, tier)
    store = engine.store
    captured: list[str] = []
    real = store.query

    def spy(query: Any) -> Any:
        captured.append(
            str(query.compile(dialect=store.sa.dialect, compile_kwargs={"literal_binds": True}))
        )
        return real(query)

    store.query = spy  # type: ignore[method-assign]
    try:
        first = engine.list(final=False, limit=2)
        engine.list(final=False, limit=2, after=first[-1].id)
    finally:
        store.query = real  # type: ignore[method-assign]
    listed = [q for q in captured if "ORDER BY" in q]
    assert len(listed) == 2
    conn = sqlite3.connect(db_path)
    try:
        for sql in listed:
            plan = " / ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql))
            assert "ix_tickets_urgent" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
    finally:
        conn.close()


def test_the_cli_pages_with_after(engine: Engine, db_path: Path) -> None:
    from click.testing import CliRunner
    from faultflow.cli.app import cli

    made = [new_ticket(engine, tier).id for tier in "CBA"]
    expected = [t.id for t in engine.list(final=False)]
    assert sorted(expected) == sorted(made)
    runner = CliRunner()
    first = runner.invoke(cli, ["--db", str(db_path), "list", "--limit", "2", "--json"])
    assert first.exit_code == 0, first.output
    import json

    ids = [t["id"] for t in json.loads(first.output)]
    rest = runner.invoke(
        cli, ["--db", str(db_path), "list", "--limit", "2", "--after", ids[-1], "--json"]
    )
    assert rest.exit_code == 0, rest.output
    assert ids + [t["id"] for t in json.loads(rest.output)] == expected
    unknown = runner.invoke(cli, ["--db", str(db_path), "list", "--after", "NOSUCH1"])
    assert unknown.exit_code == 1
    assert "NOSUCH1" in unknown.output and "Traceback" not in unknown.output
