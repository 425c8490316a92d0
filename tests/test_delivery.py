"""Delivery apart from the timers: a receiver that never answers delays no breach, costs a
bounded time per attempt and per pass, and is logged."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from faultflow import Engine
from faultflow.run.delivery import deliver
from test_notify import contract_with


class BlackHole:
    """A TCP server on 127.0.0.1 that accepts every connection and never answers."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/hook"
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.server.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    yield hole
    hole.close()


def _due_soon(engine: Engine, n: int, first_in: float) -> None:
    """n tier-A tickets whose response breaches fall due from ``first_in`` s on, 0.3 s apart."""
    for i in range(n):
        due = datetime.now().astimezone() + timedelta(seconds=first_in + 0.3 * i)
        engine.intake(
            "hotline",
            {
                "title": f"t{i}",
                "tier": "A",
                "occurred_at": (due - timedelta(minutes=15)).isoformat(),
            },
            actor="agent",
        )


def test_a_receiver_that_never_answers_delays_no_breach(
    tmp_path: Path, black_hole: BlackHole, caplog: pytest.LogCaptureFixture
) -> None:
    notifiers = {
        "duty": {"use": "webhook", "url": black_hole.url, "timeout": 2, "events": ["breach"]}
    }
    engine = Engine.open(db=tmp_path / "ff.db", config=contract_with(notifiers))
    engine.tick()  # the warnings, already past
    _due_soon(engine, 6, first_in=1.0)
    runner = threading.Thread(target=engine.run, kwargs={"max_sleep": 0.1, "handle_signals": False})
    with caplog.at_level("WARNING", logger="faultflow"):
        runner.start()
        time.sleep(3.0)  # every breach due by 2.5 s; each delivery attempt hangs for 1-2 s
        engine.stop()
        runner.join(timeout=30)
    assert not runner.is_alive()
    with engine.store.unit() as u:
        late = [
            (rec - at) / 1e6
            for at, rec in u.cursor.execute(
                "SELECT at_us, recorded_us FROM events WHERE trigger = 'breach'"
            ).fetchall()
        ]
    assert len(late) == 6
    assert max(late) < 1.0, late  # recorded on time, whatever the receiver does
    assert "to duty failed, attempt 1 of 8" in caplog.text  # every failed attempt is said
    engine.close()


def test_a_pass_is_bounded_in_time(tmp_path: Path, black_hole: BlackHole, travel: Any) -> None:
    notifiers = {
        "duty": {"use": "webhook", "url": black_hole.url, "timeout": 0.5, "events": ["breach"]}
    }
    engine = Engine.open(db=tmp_path / "ff.db", config=contract_with(notifiers))
    for i in range(8):
        engine.intake("hotline", {"title": f"t{i}", "tier": "A"}, actor="agent")
    travel(minutes=16)
    engine.tick(deliver=False)
    began = time.monotonic()
    attempts = deliver(
        engine.store, engine.contract, engine.registry.notifiers, 2**62, budget_s=2.0
    )
    took = time.monotonic() - began
    assert took < 2.0 + 1.5 + 0.5  # the budget, plus the one attempt under way when it ran out
    assert 0 < len(attempts) < 8 and not any(a.ok for a in attempts)
    assert all("timed out" in (a.error or "") or "no answer" in (a.error or "") for a in attempts)
    engine.close()
