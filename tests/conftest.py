"""Shared fixtures: a real SQLite file per test, and time travel with pendulum."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest

# These machines set PYTHONDONTWRITEBYTECODE: then every pytest worker (and every subprocess a
# test starts) compiles the package and rewrites every test module's assertions from source
# again, seconds per process. The suite keeps its bytecode (in __pycache__, ignored by git).
sys.dont_write_bytecode = False

from faultflow import Engine  # noqa: E402  (after the line above: its bytecode is kept too)

# Monday 2026-03-02 09:00 in the seed contract's time zone.
START = pendulum.datetime(2026, 3, 2, 9, 0, tz="Asia/Shanghai")


@pytest.fixture
def travel() -> Iterator[Any]:
    """Freeze pendulum's clock at START; ``travel(minutes=20)`` moves it forward."""
    traveller = pendulum.travel_to(START, freeze=True)

    def move(**delta: float) -> pendulum.DateTime:
        pendulum.travel(**delta, freeze=True)
        return pendulum.now("Asia/Shanghai")

    yield move
    traveller.travel_back()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "faultflow.db"


@pytest.fixture(scope="session")
def empty_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database made once per test process, as `Engine.open` makes one at START under the
    seed contract: copying it (6 ms) spares each test the schema's creation (41 ms)."""
    path = tmp_path_factory.mktemp("template") / "empty.db"
    with pendulum.travel_to(START, freeze=True):
        made = Engine.open(db=path)
        made.store.checkpoint()  # everything in the file itself, nothing left in the WAL
        made.close()
    return path


@pytest.fixture
def engine(db_path: Path, travel: Any, empty_database: Path) -> Iterator[Engine]:
    """An engine on a fresh SQLite file (a copy of the empty one), its clock frozen at START
    (pendulum)."""
    shutil.copyfile(empty_database, db_path)
    eng = Engine.open(db=db_path)
    yield eng
    eng.close()


def snapshot(db_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to check that a refused call changed nothing."""
    conn = sqlite3.connect(db_path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}
    finally:
        conn.close()


def new_ticket(engine: Engine, tier: str = "C", channel: str = "web", **fields: Any) -> Any:
    return engine.intake(
        channel, {"title": f"fault {tier}", "tier": tier, **fields}, actor="agent1"
    )


# -- a real browser ------------------------------------------------------------------------------


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        import playwright  # noqa: F401
    except ImportError:
        path = None
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser tests: install chromium and playwright (.ci/run)")
        pytest.skip("no Chromium or no Playwright here (CI installs Debian's chromium)")
    return path


@pytest.fixture
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


# -- PostgreSQL ---------------------------------------------------------------------------------


def _pg_base_url() -> str | None:
    url = os.environ.get("FAULTFLOW_TEST_PG")
    if url:
        return url
    try:
        done = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if "online" not in done.stdout:
        return None
    return "postgresql://faultflow:faultflow@127.0.0.1:5432/postgres"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database on the local server (skipped when there is none)."""
    base = _pg_base_url()
    if base is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the PostgreSQL tests: start the server (see .ci/run)")
        pytest.skip("no PostgreSQL server (set FAULTFLOW_TEST_PG or start a local cluster)")
    import psycopg

    name = f"ff_{uuid.uuid4().hex[:12]}"
    admin = base
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as err:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests, but {admin} refused: {err}")
        pytest.skip(
            f"PostgreSQL at {admin} is not usable here ({str(err).strip()[:80]}); "
            "see .ci/run for the role the tests expect"
        )
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- racing processes ---------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _compiled() -> None:
    """Byte-compile the package once, so that the subprocesses the tests start (racers, `run`,
    the installed command) read bytecode instead of compiling the source each time: these
    machines set PYTHONDONTWRITEBYTECODE, which stops a process from writing what it compiled.
    """
    import compileall

    import faultflow
    import faultflow.cli
    import faultflow.plugins

    for package in (faultflow, faultflow.cli, faultflow.plugins):
        compileall.compile_dir(Path(package.__file__ or "").parent, quiet=1)


RACE_PRELUDE = r"""
import json, sys
from datetime import datetime
from faultflow import Engine
db, now, args = sys.argv[1], datetime.fromisoformat(sys.argv[2]), sys.argv[3:]
engine = Engine.open(db=db, clock=lambda: now, create=False)
print("ready", flush=True)
sys.stdin.readline()  # the starting shot: every racer is up and connected
"""


def in_threads(job: Callable[[], None], n: int) -> list[BaseException]:
    """Run ``job`` in ``n`` threads released at the same moment; what they raised."""
    barrier, errors = threading.Barrier(n), []

    def run() -> None:
        barrier.wait()
        try:
            job()
        except BaseException as err:  # the test reports whatever it was
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def race(db: Any, now: Any, script: str, jobs: list[list[str]], timeout: float = 120) -> list[Any]:
    """Run ``script`` in one process per job, all released at the same moment.

    Each process opens the engine on ``db`` with its clock fixed at ``now`` (names ``engine``,
    ``args`` = the job's arguments), waits for the others, then runs ``script``, which prints
    one JSON value: the list of those values, in job order. The processes are forked from a
    server that imported faultflow once (racing.py): each its own OS process and connections.
    """
    import racing

    ctx = racing.context()
    racers = []
    try:
        for job in jobs:
            ours, theirs = ctx.Pipe()
            argv = [str(db), now.isoformat(), *job]
            process = ctx.Process(target=racing.run, args=(RACE_PRELUDE + script, argv, theirs))
            process.start()
            theirs.close()
            racers.append((process, ours))
        for process, conn in racers:
            said = _heard(process, conn, timeout, "get ready")
            assert said == "ready", said[1] if isinstance(said, tuple) else said
        for _, conn in racers:
            conn.send("go\n")
        out = []
        for process, conn in racers:
            how, text = _heard(process, conn, timeout, "finish")
            assert how == "done", text
            out.append(json.loads(text))
        return out
    finally:
        for process, conn in racers:
            process.join(timeout)
            if process.is_alive():
                process.kill()
            conn.close()


def _heard(process: Any, conn: Any, timeout: float, what: str) -> Any:
    """The racer's next word; a racer that died or hangs is said so at once, not as a pipe's
    EOFError."""
    if not conn.poll(timeout):
        raise AssertionError(f"racer {process.pid} did not {what} in {timeout:.0f} s")
    try:
        return conn.recv()
    except EOFError:
        process.join(5)
        raise AssertionError(
            f"racer {process.pid} died before it could {what} (exit code {process.exitcode})"
        ) from None


# -- the real-service tests, marked so the rest runs alone: pytest -m "not services" -----------

SERVICE_FIXTURES = {"chromium", "pg_url", "smtp", "imap", "mail_system", "watched"}
"""Fixtures that start or reach a real service (Chromium, PostgreSQL, Postfix, Dovecot)."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that uses a real service is marked ``services``: by its fixtures, its
    ``postgres`` mark, or an explicit ``services`` mark (Alertmanager, the mail benchmark).

    The fault-injection loops (kill -9 again and again) run only when the marker expression
    names them (``.ci/run``: ``pytest -m fault_injection``): a ``-m`` of one's own, such as
    ``-m "not services"``, replaces the ``-m 'not fault_injection'`` of ``addopts``, and would
    otherwise bring a minute of kill loops into a run meant to be quick."""
    for item in items:
        if item.get_closest_marker("postgres") or SERVICE_FIXTURES & set(
            getattr(item, "fixturenames", ())
        ):
            item.add_marker(pytest.mark.services)
    if "fault_injection" in (config.option.markexpr or ""):
        return
    kept = [i for i in items if i.get_closest_marker("fault_injection") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
