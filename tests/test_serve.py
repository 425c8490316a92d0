"""`faultflow serve` as an operator runs it (a real process, real signals), its tokens, and a
real Prometheus Alertmanager delivering to it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from faultflow import Engine
from faultflow.cli.app import cli
from test_http import free_port


def faultflow(db: Path, *args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(cli, ["--db", str(db), *args], input=input)


# -- tokens --------------------------------------------------------------------------------------


def test_a_token_secret_is_printed_once_alone_on_the_last_line(tmp_path: Path) -> None:
    db = tmp_path / "ff.db"
    assert faultflow(db, "init").exit_code == 0
    made = faultflow(db, "token", "create", "am", "--scope", "intake:alertmanager", "--as", "prom")
    assert made.exit_code == 0, made.output
    secret = made.stdout.splitlines()[-1]
    assert made.stdout == secret + "\n" and secret.startswith("ff_") and len(secret) == 46
    engine = Engine.open(db=db)
    token = engine.authenticate(secret)
    assert token is not None and (token.actor, token.scopes) == ("prom", ("intake:alertmanager",))
    as_json = json.loads(faultflow(db, "token", "create", "ci", "--scope", "read", "--json").stdout)
    assert set(as_json) == {"name", "secret", "scopes"} and as_json["scopes"] == ["read"]
    listed = faultflow(db, "token", "list")
    assert "am " in listed.stdout and secret not in listed.stdout
    assert as_json["secret"] not in faultflow(db, "token", "list", "--json").stdout
    for args, words in (
        (("create", "am", "--scope", "read"), "a token named 'am' exists"),
        (("create", "x", "--scope", "intake:fax"), "no channel 'fax'"),
        (("create", "x", "--scope", "god"), "unknown scope 'god'"),
        (("create", "x"), "needs at least one --scope"),
        (("create", "no spaces", "--scope", "read"), "token name 'no spaces'"),
        (("revoke", "nobody"), "no token named 'nobody'"),
    ):
        done = faultflow(db, "token", *args)
        assert done.exit_code == 1 and words in done.stderr, (args, done.stderr)
    assert faultflow(db, "token", "revoke", "am").stdout == "token am revoked\n"
    assert engine.authenticate(secret) is None
    assert "revoked" in faultflow(db, "token", "list").stdout
    assert faultflow(db, "token", "revoke", "am").exit_code == 1


# -- the process -----------------------------------------------------------------------------------


class Serving:
    """`faultflow serve` in a process of its own, on a free port of 127.0.0.1."""

    def __init__(
        self, db: Path | str, *args: str, log: Path | None = None, config: Path | None = None
    ) -> None:
        """``log``: where its output goes (a file does not fill up as an unread pipe does); by
        default pipes, read by :meth:`stop`. ``config``: the contract (FAULTFLOW_CONFIG)."""
        self.port = free_port()
        self.log = log
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "FAULTFLOW_DB": str(db)}
        env.pop("FAULTFLOW_NOW", None)
        if config is not None:
            env["FAULTFLOW_CONFIG"] = str(config)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "faultflow.cli", "serve", "--port", str(self.port),
             "--max-sleep", "0.2", *args],
            env=env, text=True,
            stdout=subprocess.PIPE if log is None else log.open("w", encoding="utf-8"),
            stderr=subprocess.PIPE if log is None else subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"serve did not start: {self.process.communicate()}")
            time.sleep(0.1)

    def stop(self) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            _, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        if self.log is not None:
            err = self.log.read_text(encoding="utf-8", errors="replace")
        return self.process.returncode, err


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[tuple[Serving, str]]:
    db = tmp_path / "ff.db"
    engine = Engine.open(db=db)
    secret = engine.create_token("ops", ["admin"], "ops")[1]
    engine.close()
    server = Serving(db)
    try:
        yield server, secret
    finally:
        server.stop()


def test_serve_fires_alarms_beside_the_api_and_stops_cleanly_on_sigterm(
    serving: tuple[Serving, str],
) -> None:
    server, secret = serving
    headers = {"Authorization": f"Bearer {secret}"}
    # tier A, reported 14 min 59 s ago: its response promise breaks in about a second
    reported = (datetime.now(UTC) - timedelta(minutes=14, seconds=59)).isoformat()
    opened = httpx.post(
        f"{server.url}/v1/intake/hotline",
        json={"title": "core switch down", "tier": "A", "occurred_at": reported},
        headers=headers,
    )
    assert opened.status_code == 201
    tid = opened.json()["ticket"]["id"]
    deadline = time.monotonic() + 15
    while True:
        got = httpx.get(f"{server.url}/v1/tickets/{tid}", headers=headers).json()
        if any(e["trigger"] == "breach" for e in got["history"]):
            break
        assert time.monotonic() < deadline, "the scheduler in serve fired no breach"
        time.sleep(0.2)
    code, err = server.stop()
    assert code == 0, err
    assert "faultflow serve: stopped" in err and "Traceback" not in err


def _intake_process(serve: int) -> int:
    """The pid of serve's intake process (``hands.Apart``), found as ``ps`` would show it."""
    for task in Path(f"/proc/{serve}/task").iterdir():
        for child in (task / "children").read_text().split():
            if b"faultflow.http.intake_process" in Path(f"/proc/{child}/cmdline").read_bytes():
                return int(child)
    raise AssertionError("serve has no intake process")


def test_serves_intake_process_is_replaced_when_it_dies_and_stops_with_serve(
    serving: tuple[Serving, str], tmp_path: Path
) -> None:
    server, secret = serving
    headers = {"Authorization": f"Bearer {secret}"}

    def deliver(title: str) -> httpx.Response:
        url = f"{server.url}/v1/intake/web"
        return httpx.post(url, json={"title": title}, headers=headers, timeout=30)

    assert deliver("before").status_code == 201
    first = _intake_process(server.process.pid)
    os.kill(first, signal.SIGKILL)
    lost = deliver("lost with it")
    assert lost.status_code == 503 and lost.headers["Retry-After"]
    assert "intake process stopped" in lost.json()["error"]
    assert deliver("after").status_code == 201  # a new one, once it has its engine
    second = _intake_process(server.process.pid)
    assert second != first
    metrics = httpx.get(f"{server.url}/metrics", headers=headers).text
    assert "faultflow_intake_process_restarts_total 1.0" in metrics
    code, err = server.stop()
    assert code == 0 and "Traceback" not in err, err
    assert "the intake process stopped with a batch (exit code -9); starting another" in err
    assert not Path(f"/proc/{second}").exists()  # it stopped with serve
    with Engine.open(db=tmp_path / "ff.db", create=False) as engine:
        assert sorted(t.title for t in engine.list()) == ["after", "before"]


def test_serve_refuses_to_start_on_a_database_without_a_schema(tmp_path: Path) -> None:
    (tmp_path / "empty.db").touch()
    done = faultflow(tmp_path / "empty.db", "serve", "--port", str(free_port()))
    assert done.exit_code == 1 and "empty file" in done.stderr


# -- a real Alertmanager -------------------------------------------------------------------------

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def alertmanager_config(
    folder: Path,
    webhook: str,
    secret: str,
    *,
    group_by: str = "[alertname]",
    group_interval: str = "1s",
    repeat_interval: str = "1h",
    send_resolved: bool = True,
) -> Path:
    """An alertmanager.yml that sends every alert to ``webhook`` with ``secret`` as Bearer."""
    config = folder / "alertmanager.yml"
    config.write_text(
        f"""
route:
  receiver: faultflow
  group_by: {group_by}
  group_wait: 1s
  group_interval: {group_interval}
  repeat_interval: {repeat_interval}
receivers:
  - name: faultflow
    webhook_configs:
      - url: {webhook}
        send_resolved: {str(send_resolved).lower()}
        http_config:
          authorization:
            type: Bearer
            credentials: {secret}
""",
        encoding="utf-8",
    )
    return config


def until(what: str, check: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


@contextmanager
def alertmanager(folder: Path, webhook: str, secret: str, **config: Any) -> Iterator[int]:
    """A real Alertmanager on 127.0.0.1 that sends every alert to ``webhook`` with ``secret``
    (``config``: :func:`alertmanager_config`'s options), up: its port; stopped at the end."""
    assert ALERTMANAGER is not None, "no prometheus-alertmanager binary"
    port = free_port()
    path = alertmanager_config(folder, webhook, secret, **config)
    process = subprocess.Popen(
        [ALERTMANAGER, f"--config.file={path}", f"--storage.path={folder / 'am-data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
         "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        until("Alertmanager", lambda: up(f"http://127.0.0.1:{port}/api/v2/status"))
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.mark.services
def test_a_real_alertmanager_delivers_to_serve(tmp_path: Path) -> None:
    """Firing (grouped), resolved, firing again after resolution: the right tickets, notes
    and recurrence, and Alertmanager counts no failed notification."""
    if ALERTMANAGER is None:
        if os.environ.get("CI"):
            pytest.fail(
                "CI must run the Alertmanager test: .ci/run installs prometheus-alertmanager"
            )
        pytest.skip("no prometheus-alertmanager binary (Debian package prometheus-alertmanager)")
    db = tmp_path / "ff.db"
    engine = Engine.open(db=db)
    secret = engine.create_token("alertmanager", ["intake:alertmanager"], "alertmanager")[1]
    server = Serving(db)
    hook = f"{server.url}/v1/intake/alertmanager"
    try:
        with alertmanager(tmp_path, hook, secret) as am_port:
            api = f"http://127.0.0.1:{am_port}/api/v2"

            def post(name: str, starts: datetime, ends: datetime | None = None) -> None:
                alert = {
                    "labels": {"alertname": "DiskFull", "instance": name, "severity": "critical"},
                    "annotations": {"summary": f"{name} 的磁盘已满"},
                    "startsAt": starts.isoformat(),
                }
                if ends is not None:
                    alert["endsAt"] = ends.isoformat()
                assert httpx.post(f"{api}/alerts", json=[alert], timeout=5).status_code == 200

            def tickets() -> list[Any]:
                return sorted(engine.list(), key=lambda t: t.created_at)

            t0 = datetime.now(UTC) - timedelta(minutes=1)
            post("db1", t0)
            post("db2", t0)
            first = until("two tickets", lambda: len(tickets()) == 2 and tickets())
            assert {t.tier for t in first} == {"A"}
            db1 = next(t for t in first if "db1" in t.title)
            post("db1", t0, ends=datetime.now(UTC))  # resolved
            until(
                "the resolved note",
                lambda: any(e.trigger == "note" for e in engine.get(db1.id).history),
            )
            time.sleep(2.5)  # a group interval or two: no second note for the same resolution
            assert [e.trigger for e in engine.get(db1.id).history].count("note") == 1
            post("db1", datetime.now(UTC))  # fires again, a new incident
            again = until("the recurrence", lambda: [t for t in tickets() if t.recurs == db1.id])
            assert len(again) == 1 and len(tickets()) == 3
            metrics = httpx.get(f"http://127.0.0.1:{am_port}/metrics", timeout=5).text
            failed = [
                line
                for line in metrics.splitlines()
                if line.startswith("alertmanager_notifications_failed_total")
                and 'integration="webhook"' in line
            ]
            assert failed and all(line.endswith(" 0") for line in failed), failed
    finally:
        server.stop()


def up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.postgres
def test_two_serve_processes_on_one_postgres_behave_as_one(pg_url: str) -> None:
    """The same alert to both processes at once opens one ticket; two operators advancing one
    ticket through different processes: one 200, one 409."""
    import threading

    engine = Engine.open(db=pg_url)
    secret = engine.create_token("ops", ["admin"], "ops")[1]
    engine.close()
    servers = [Serving(pg_url), Serving(pg_url)]
    headers = {"Authorization": f"Bearer {secret}"}
    try:
        hook = json.loads(
            (Path(__file__).parent / "fixtures" / "alertmanager_firing.json").read_text()
        )
        answers: list[httpx.Response] = []

        def deliver(server: Serving) -> None:
            answers.append(
                httpx.post(
                    f"{server.url}/v1/intake/alertmanager", json=hook, headers=headers, timeout=30
                )
            )

        racers = [threading.Thread(target=deliver, args=(s,)) for s in servers for _ in range(3)]
        for r in racers:
            r.start()
        for r in racers:
            r.join()
        assert sorted(a.status_code for a in answers) == [200] * 5 + [201]
        ids = {r["ticket"]["id"] for a in answers for r in a.json()["results"]}
        assert len(ids) == 2  # the group's two alerts, once each
        tid = sorted(ids)[0]
        moved: list[int] = []

        def respond(server: Serving) -> None:
            moved.append(
                httpx.post(
                    f"{server.url}/v1/tickets/{tid}/advance",
                    json={"trigger": "respond"},
                    headers={**headers, "If-Match": '"1"'},
                    timeout=30,
                ).status_code
            )

        racers = [threading.Thread(target=respond, args=(s,)) for s in servers]
        for r in racers:
            r.start()
        for r in racers:
            r.join()
        assert sorted(moved) == [200, 409]
    finally:
        for s in servers:
            s.stop()


def test_x_forwarded_for_is_trusted_only_from_the_proxies_named(tmp_path: Path) -> None:
    """uvicorn trusts X-Forwarded-For from 127.0.0.1 by default: anyone on the host could pose
    as a new address for every report and pass the portal's per-address limit (10 at once).
    serve trusts no such header unless --forwarded-allow-ips names the proxy."""
    from test_web import FORM, csrf_of

    def reports(server: Serving, n: int) -> list[int]:
        codes = []
        with httpx.Client(base_url=server.url, timeout=10) as c:
            for i in range(n):
                token = csrf_of(c.get("/").text)
                sent = c.post("/", data={"csrf": token, **FORM, "what": f"断网 {i}"},
                              headers={"X-Forwarded-For": f"203.0.113.{i + 1}"})  # fmt: skip
                codes.append(sent.status_code)
        return codes

    db = tmp_path / "ff.db"
    Engine.open(db=db).close()
    server = Serving(db, "--no-scheduler")
    try:
        assert reports(server, 12)[-2:] == [429, 429]  # one address, whatever the header says
    finally:
        server.stop()
    Engine.open(db=tmp_path / "ff2.db").close()
    behind = Serving(tmp_path / "ff2.db", "--no-scheduler", "--forwarded-allow-ips", "127.0.0.1")
    try:
        assert set(reports(behind, 12)) == {201}  # twelve clients behind the named proxy
    finally:
        behind.stop()
