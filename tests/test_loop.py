"""The run loop (faultflow.run.loop): modules with a budget each, in lanes that cannot stall
one another; a module over its budget is named in the log, a failing one backs off alone."""

from __future__ import annotations

import threading
import time

import pytest
from faultflow import DatabaseUnavailable
from faultflow.errors import DatabaseDamaged
from faultflow.run import loop


class Counting:
    """A module that counts its passes and may stop the loop after ``stop_after`` of them."""

    def __init__(
        self, name: str, stop: threading.Event, stop_after: int | None = None,
        again: float | None = None, polls: bool = True, budget: float = 1.0,
    ) -> None:  # fmt: skip
        self.name, self.stop, self.stop_after = name, stop, stop_after
        self.again, self.polls, self.budget = again, polls, budget
        self.passes = 0

    def run_once(self, deadline: float) -> float | None:
        self.passes += 1
        if self.stop_after is not None and self.passes >= self.stop_after:
            self.stop.set()
        return self.again


class Failing(Counting):
    def run_once(self, deadline: float) -> float | None:
        self.passes += 1
        raise DatabaseUnavailable("cannot connect to the database: connection refused")


class Slow(Counting):
    def run_once(self, deadline: float) -> float | None:
        self.passes += 1
        time.sleep(max(0.0, deadline - time.monotonic()) + 0.05)  # past its deadline
        self.stop.set()
        return None


def test_a_module_stuck_in_its_lane_does_not_stall_another_lane() -> None:
    stop = threading.Event()
    stuck = threading.Event()

    class Stuck(Counting):
        def run_once(self, deadline: float) -> float | None:
            self.passes += 1
            stuck.wait(5)  # a receiver that never answers, until the test lets it go
            return None

    ticking = Counting("timers", stop, stop_after=20, again=0.0)
    lanes = [loop.Lane("scheduler", [ticking]), loop.Lane("delivery", [Stuck("delivery", stop)])]
    began = time.monotonic()
    runner = threading.Thread(target=loop.run, args=(lanes, stop, 0.01, False))
    runner.start()
    assert stop.wait(3), "the timers lane was held up by the stuck delivery lane"
    stuck.set()
    runner.join(5)
    assert not runner.is_alive()
    assert ticking.passes >= 20 and time.monotonic() - began < 3


def test_a_failing_module_backs_off_alone_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = threading.Event()
    broken = Failing("mailbox", stop)
    healthy = Counting("timers", stop, stop_after=30, again=0.01)
    with caplog.at_level("WARNING", logger="faultflow"):
        loop.run([loop.Lane("scheduler", [broken, healthy])], stop, 0.01, False)
    assert healthy.passes == 30
    assert 1 <= broken.passes <= 3  # 0.5 s, then 1 s of backoff: not every 10 ms
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "mailbox failed (cannot connect to the database: connection refused); "
        "retrying every 5.0s at most"
    ]


def test_a_pass_over_its_budget_is_named(caplog: pytest.LogCaptureFixture) -> None:
    stop = threading.Event()
    with caplog.at_level("WARNING", logger="faultflow"):
        loop.run([loop.Lane("scheduler", [Slow("timers", stop, budget=0.05)])], stop, 0.01, False)
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("timers: a pass took ") and line.endswith("over its budget of 0.1s")


def test_a_module_on_its_own_schedule_is_not_run_every_max_sleep() -> None:
    stop = threading.Event()
    hourly = Counting("maintenance", stop, again=3600.0, polls=False)
    ticking = Counting("timers", stop, stop_after=10, again=None)
    loop.run([loop.Lane("scheduler", [hourly, ticking])], stop, 0.01, False)
    assert (hourly.passes, ticking.passes) == (1, 10)


def test_a_damaged_database_in_any_lane_stops_every_lane_and_is_raised() -> None:
    stop = threading.Event()

    class Damaged(Counting):
        def run_once(self, deadline: float) -> float | None:
            raise DatabaseDamaged("the database file is damaged")

    ticking = Counting("timers", stop, again=0.01)
    lanes = [loop.Lane("scheduler", [ticking]), loop.Lane("delivery", [Damaged("delivery", stop)])]
    with pytest.raises(DatabaseDamaged, match="damaged"):
        loop.run(lanes, stop, 0.01, False)
    assert stop.is_set()
