"""A minute of `faultflow run` and `faultflow mail watch` as an operator runs them, the fault
mailbox in its own notifier's `to`: no mail loop. (The loop it guards against — a bounce
recorded, announced, mailed and bounced again — went round once a second: 41 times in 40 s.)
It reads a mailbox of its own (the ``faults2`` account .ci/run makes), so that its minute runs
beside the other mail tests (pytest-xdist hands out whole files)."""

from __future__ import annotations

import os
import pwd
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dovecot import PASSWORD, dovecot
from dovecot import usable as dovecot_usable
from faultflow import Engine
from test_mail_e2e import _contract, reporter_mail, send
from test_mail_out import _postfix


@pytest.fixture
def watched() -> Iterator[int]:
    """A private Dovecot over the ``faults2`` and ``ffmail`` mailboxes; its port."""
    try:
        pwd.getpwnam("faults2")
        pwd.getpwnam("ffmail")
        accounts = True
    except KeyError:
        accounts = False
    if not (dovecot_usable() and _postfix() and accounts):
        if os.environ.get("CI"):
            pytest.fail("CI must run the mail watch test: see .ci/run (Postfix, Dovecot)")
        pytest.skip("needs Postfix on 127.0.0.1:25, Dovecot, root, and the faults2/ffmail accounts")
    with dovecot(system_users=("faults2", "ffmail")) as port:
        yield port


def test_a_minute_of_mail_watch_and_run_with_the_mailbox_in_its_own_to_makes_no_loop(
    watched: int, tmp_path: Path, monkeypatch: Any
) -> None:
    """As an operator runs it: `faultflow run` delivering and `faultflow mail watch` reading
    (IMAP IDLE), the fault mailbox and an unknown address in the notifier's own `to`. A report
    and a step make a few mails, their copies and a bounce come back — and for a minute nothing
    more happens: no note, no ticket, one bounce recorded, the history at rest."""
    import signal
    import subprocess
    import sys

    monkeypatch.setenv("FF_E2E_IMAP_PASSWORD", PASSWORD)
    to = '["faults2@localhost", "nobody-watch@localhost"]'
    config = _contract(tmp_path, watched, to, user="faults2")
    db = tmp_path / "ff.db"
    engine = Engine.open(db=db, config=config)
    env = {**os.environ, "FAULTFLOW_DB": str(db), "FAULTFLOW_CONFIG": str(config)}
    env.pop("FAULTFLOW_NOW", None)
    logs = [(tmp_path / f"{name}.log").open("w") for name in ("run", "watch")]
    commands = ((["run", "--max-sleep", "0.2"], logs[0]), (["mail", "watch"], logs[1]))
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "faultflow.cli", *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for args, log in commands
    ]
    try:
        stamp = time.time_ns()
        send(
            reporter_mail(
                f"社保局打印机卡纸 {stamp}", f"watch-{stamp}", "三楼打印机卡纸",
                to="faults2@localhost",
            )
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not [t for t in engine.list() if str(stamp) in t.title]:
            assert time.monotonic() < deadline, "mail watch never opened the ticket"
            time.sleep(0.5)
        (t,) = [t for t in engine.list() if str(stamp) in t.title]
        engine.advance(t.id, "respond", actor="li")
        began = time.monotonic()
        snapshots = []
        while time.monotonic() - began < 60:
            time.sleep(5)
            snapshots.append(len(engine.get(t.id).history))
        history = engine.get(t.id).history
        bounces = [e for e in history if "NOT delivered" in (e.note or "")]
        assert len(bounces) == 1, [e.note for e in history]
        assert not [e for e in history if e.trigger == "note"]
        assert len([x for x in engine.list() if str(stamp) in x.title]) == 1
        assert len(set(snapshots[-6:])) == 1, snapshots  # the last 30 s: nothing new at all
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=30)
            except subprocess.TimeoutExpired:
                w.kill()
        for log in logs:
            log.close()
    for name in ("run", "watch"):
        assert "Traceback" not in (tmp_path / f"{name}.log").read_text(encoding="utf-8")
