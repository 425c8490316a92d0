"""Group commit (``Engine.together``, the batches of serve's intake lane): many calls in one
transaction, each still all or nothing on its own, nothing visible before the block ends and
nothing written when it fails — on the SQLite file and on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from faultflow import Engine, IntakeError, UnknownTicket
from faultflow.http.admission import Bounds, Lane
from faultflow.http.hands import Here
from starlette.requests import Request


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, db_path: Path) -> str:
    if request.param == "sqlite":
        return str(db_path)
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def two(url: str, travel: Any) -> Iterator[tuple[Engine, Engine]]:
    """An engine, and another on the same database (what a second process sees)."""
    import pendulum

    with (
        Engine.open(db=url, clock=pendulum.now) as one,
        Engine.open(db=url, clock=pendulum.now, create=False) as other,
    ):
        yield one, other


def titles(engine: Engine) -> set[str]:
    return {t.title for t in engine.list()}


def test_together_commits_once_and_undoes_only_the_call_that_failed(
    two: tuple[Engine, Engine],
) -> None:
    engine, other = two
    with engine.together():
        first = engine.intake("web", {"title": "first"})
        with pytest.raises(IntakeError):  # refused before it wrote
            engine.intake("web", {"title": ""})
        broken = engine.store._dbapi.IntegrityError
        with pytest.raises(broken), engine.store.unit() as u:  # refused by the database
            u.cursor.execute("INSERT INTO tickets (id) VALUES (NULL)")
        second = engine.intake("web", {"title": "second"})
        engine.advance(first.id, "respond", actor="li")  # a change of a ticket of the block
        assert titles(other) == set()  # nothing is committed before the block ends
    assert titles(other) == {"first", "second"}
    assert other.get(first.id).state == "responded" and other.get(second.id).version == 1
    assert other.verify().ok


def test_a_block_that_fails_writes_nothing_and_the_engine_goes_on(
    two: tuple[Engine, Engine],
) -> None:
    engine, other = two
    with pytest.raises(RuntimeError), engine.together():
        lost = engine.intake("web", {"title": "lost"})
        raise RuntimeError("before the commit")
    assert titles(engine) == titles(other) == set()
    with pytest.raises(UnknownTicket):  # not a remembered row that was never committed
        engine.advance(lost.id, "respond")
    kept = engine.intake("web", {"title": "kept"})
    assert [t.id for t in other.list()] == [kept.id]


def test_an_id_taken_inside_the_block_undoes_that_call_only(
    two: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new ticket id that is taken (a race another process won) is explained and retried
    inside its own savepoint: the block's earlier work stays (it once rolled back it all)."""
    from faultflow.ids import new_ticket_id
    from faultflow.tickets import receive

    engine, other = two
    taken = other.intake("web", {"title": "taken"}).id
    ids = iter([taken])
    monkeypatch.setattr(receive, "new_ticket_id", lambda: next(ids, None) or new_ticket_id())
    with engine.together():
        engine.intake("web", {"title": "first"})
        again = engine.intake("web", {"title": "second"})  # met the taken id, then took another
    assert again.id != taken
    assert titles(other) == {"taken", "first", "second"}


class Counted:
    """An engine's ``together``, counting the blocks and the calls inside each."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.blocks = engine, 0

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        self.blocks += 1
        with self.engine.together():
            yield


def queued_behind_a_busy_worker(
    engine: Engine, jobs: list[tuple[Callable[..., Any], tuple[Any, ...]]]
) -> tuple[list[Any], int]:
    """Run ``jobs`` (fn, args) on a lane of one worker while it is busy, so that they queue and
    are taken together: their answers (or exceptions), and how many blocks ``together`` ran."""
    counted = Counted(engine)
    lane = Lane(Bounds(workers=1, queue=16), Here(counted))
    gate, began = threading.Event(), threading.Event()

    def busy(_: Any) -> None:
        began.set()
        assert gate.wait(30)

    async def main() -> list[Any]:
        first = asyncio.ensure_future(lane.run(_request(), busy))
        await asyncio.get_running_loop().run_in_executor(None, began.wait, 30)
        queued = [asyncio.ensure_future(lane.run(_request(), fn, *args)) for fn, args in jobs]
        await asyncio.sleep(0.05)  # all of them are queued behind the gate
        gate.set()
        await first
        return await asyncio.gather(*queued, return_exceptions=True)

    try:
        return asyncio.run(main()), counted.blocks
    finally:
        lane.close()


def test_the_lane_runs_what_is_queued_in_one_transaction_and_answers_each(
    engine: Engine,
) -> None:
    """Requests queued behind a busy worker run together; a refused one is answered with its
    own error and the others are written."""

    def intake(_: Any, title: str) -> str:
        return engine.intake("web", {"title": title}).id

    answers, blocks = queued_behind_a_busy_worker(
        engine, [(intake, (title,)) for title in ("a", "b", "", "c")]
    )
    assert isinstance(answers[2], IntakeError)
    opened = [answers[0], answers[1], answers[3]]
    assert sorted(engine.get(tid).title for tid in opened) == ["a", "b", "c"]
    assert blocks == 1  # the four queued requests: one transaction


def test_a_request_that_meets_a_database_error_in_a_batch_runs_again_alone(
    engine: Engine,
) -> None:
    """A deadlock between two processes' batches (PostgreSQL picks a victim) fails one
    request's savepoint: it is run again in a transaction of its own, not answered 500."""
    from faultflow.errors import DatabaseError

    calls: list[str] = []

    def victim(_: Any) -> str:
        calls.append("victim")
        if len(calls) == 1:
            raise DatabaseError("deadlock detected")  # as classify() says it
        return engine.intake("web", {"title": "victim"}).id

    def intake(_: Any, title: str) -> str:
        return engine.intake("web", {"title": title}).id

    answers, blocks = queued_behind_a_busy_worker(
        engine, [(intake, ("a",)), (victim, ()), (intake, ("b",))]
    )
    assert calls == ["victim", "victim"] and blocks == 1
    assert sorted(engine.get(tid).title for tid in answers) == ["a", "b", "victim"]


def _request() -> Request:
    """A request whose client stays (its receive waits for ever)."""

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}  # pragma: no cover

    return Request({"type": "http", "method": "POST", "headers": []}, receive)
