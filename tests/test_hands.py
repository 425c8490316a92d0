"""The intake lane's hands in a process of their own (``hands.Apart``, what `faultflow serve`
uses): the answers and refusals come back as they would from an engine of this process, a
fault of ours comes back with its traceback, and a process that dies is answered 503 and
replaced."""

from __future__ import annotations

import functools
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from faultflow import Engine, IntakeError
from faultflow.errors import DatabaseUnavailable, FaultflowError
from faultflow.http.hands import Apart, Here
from faultflow.http.intake import _intake


def broken(engine: Any, title: str) -> str:
    """A fault of ours (not a refusal), by name so that it crosses to the process."""
    raise KeyError(title)


def pid(engine: Any) -> int:
    return os.getpid()


@pytest.fixture
def apart(db_path: Path, engine: Engine) -> Any:
    hands = Apart(functools.partial(Engine.open, db=str(db_path), create=False))
    hands.wait()
    try:
        yield hands
    finally:
        hands.close()


def test_answers_and_refusals_cross_as_they_are(apart: Apart, engine: Engine) -> None:
    calls = [
        (_intake, ("web", {"title": "first"}, "li")),
        (_intake, ("web", {"title": "x", "tier": "Q"}, "li")),
        (broken, ("boom",)),
        (_intake, ("web", {"title": "second"}, "li")),
    ]
    done = apart(calls)
    assert [ok for ok, _ in done] == [True, False, False, True]
    outcomes, content = done[0][1]
    assert outcomes == ["opened"] and json.loads(content)["ticket"]["title"] == "first"
    refused = done[1][1]
    assert isinstance(refused, IntakeError) and str(refused) == "unknown tier 'Q' (known: A, B, C)"
    bug = done[2][1]
    assert isinstance(bug, RuntimeError) and not isinstance(bug, FaultflowError)
    assert "in the intake process" in str(bug) and "KeyError: 'boom'" in str(bug)
    # the same batch here answers the same (the process only moved it)
    assert sorted(t.title for t in engine.list()) == ["first", "second"]
    here = Here(engine)(calls[1:3])
    assert [type(err) for _, err in here] == [IntakeError, KeyError]


def test_a_process_that_dies_is_answered_503_and_replaced(apart: Apart, engine: Engine) -> None:
    first = apart([(pid, ())])[0][1]
    assert first != os.getpid()
    os.kill(first, signal.SIGKILL)
    with pytest.raises(DatabaseUnavailable, match="intake process stopped \\(exit code -9\\)"):
        apart([(_intake, ("web", {"title": "lost with it"}, "li"))])
    ok, again = apart([(_intake, ("web", {"title": "after"}, "li"))])[0]
    assert ok and json.loads(again[1])["ticket"]["title"] == "after"
    assert apart([(pid, ())])[0][1] not in (first, os.getpid())
    assert [t.title for t in engine.list()] == ["after"]


def test_an_engine_it_cannot_open_is_said_at_once(tmp_path: Path) -> None:
    hands = Apart(functools.partial(Engine.open, db=str(tmp_path), create=False))
    try:
        with pytest.raises(DatabaseUnavailable, match="cannot open database"):
            hands.wait()
    finally:
        hands.close()
