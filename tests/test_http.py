"""The HTTP API end to end: a real uvicorn on 127.0.0.1 (a free port), a real HTTP client
(httpx), tokens and scopes, every endpoint, the status codes of SPEC §8."""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import snapshot
from faultflow import Engine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FIXTURES = Path(__file__).parent / "fixtures"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """An app on a real socket, in a thread of this process (so the test keeps the clock)."""

    def __init__(
        self, engine: Engine, http: Any = "auto", wrap: Any = None, **options: Any
    ) -> None:
        """``http``: uvicorn's protocol (``serve`` gives its own, :mod:`faultflow.http.serving`);
        ``wrap``: what makes the served app of ours (an integrator's app that mounts it);
        ``options`` go to ``create_app``."""
        import uvicorn
        from faultflow.http import create_app

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = create_app(engine, **options)
        config = uvicorn.Config(
            app if wrap is None else wrap(app),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            http=http,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def api(engine: Engine) -> Iterator[tuple[Served, dict[str, str]]]:
    secrets = {
        name: engine.create_token(name, scopes, actor)[1]
        for name, scopes, actor in (
            ("monitoring", ["intake:alertmanager"], "prometheus"),
            ("desk", ["intake:*", "operate"], "li"),
            ("viewer", ["read"], "auditor"),
            ("root", ["admin"], "root"),
        )
    }
    served = Served(engine)
    try:
        yield served, secrets
    finally:
        served.stop()


def client(served: Served, secret: str | None = None, **kwargs: Any) -> httpx.Client:
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return httpx.Client(base_url=served.url, headers=headers, timeout=10, **kwargs)


def alert_body() -> bytes:
    return (FIXTURES / "alertmanager_firing.json").read_bytes()


# -- intake --------------------------------------------------------------------------------------


def test_alertmanager_delivers_and_hears_what_happened(
    api: tuple[Served, dict[str, str]], engine: Engine
) -> None:
    served, s = api
    with client(served, s["monitoring"]) as c:
        first = c.post("/v1/intake/alertmanager", content=alert_body(),
                       headers={"Content-Type": "application/json"})  # fmt: skip
        assert first.status_code == 201
        results = first.json()["results"]
        assert [r["outcome"] for r in results] == ["opened", "opened"]
        assert results[0]["ticket"]["owner"] == "prometheus"  # the token's actor
        again = c.post("/v1/intake/alertmanager", content=alert_body())
        assert again.status_code == 200
        assert [r["outcome"] for r in again.json()["results"]] == ["duplicate", "duplicate"]
        # this token may deliver alerts, nothing else
        assert c.post("/v1/intake/web", json={"title": "x"}).status_code == 403
        assert c.get("/v1/tickets").status_code == 403
    assert len(engine.list()) == 2


def test_refusals_are_4xx_with_one_line_and_write_nothing(
    api: tuple[Served, dict[str, str]], db_path: Path
) -> None:
    served, s = api
    before = snapshot(db_path)
    with client(served, s["desk"]) as c:
        bad = c.post("/v1/intake/web", json={"title": "x", "tier": "Q"})
        assert bad.status_code == 422
        assert bad.json() == {"error": "unknown tier 'Q' (known: A, B, C)"}
        group = json.loads(alert_body())
        group["alerts"][1]["startsAt"] = "soon"
        named = c.post("/v1/intake/alertmanager", json=group)
        assert named.status_code == 422 and named.json()["error"].startswith("alerts[1].startsAt")
        assert c.post("/v1/intake/pigeon", json={"title": "x"}).status_code == 422
        huge = c.post("/v1/intake/web", content=b"{" + b" " * (1024 * 1024 + 1) + b"}")
        assert huge.status_code == 413 and "over the limit" in huge.json()["error"]
    with client(served) as anonymous:
        missing = anonymous.post("/v1/intake/web", json={"title": "x"})
        assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith(
            "Bearer"
        )
    with client(served, "ff_not-a-token") as wrong:
        assert wrong.post("/v1/intake/web", json={"title": "x"}).status_code == 401
    assert snapshot(db_path) == before


class Broken:
    """An intake engine with a fault of ours in it (not a refusal): what no handler knows."""

    def intake_all(self, *args: Any) -> Any:
        raise RuntimeError("a bug, not the client's doing")

    def together(self) -> Any:
        return contextlib.nullcontext()


def test_deliveries_are_answered_at_the_door_as_the_route_would(engine: Engine) -> None:
    """A delivery skips the middleware stack (``intake.door``), and only a delivery: another
    method is the router's 405, a longer path its 404; mounted in an integrator's app under a
    prefix, it is still found; a fault of ours is a 500 with nothing of it told."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    secret = engine.create_token("desk", ["intake:*", "read"], "li")[1]
    auth = {"Authorization": f"Bearer {secret}"}
    served = Served(engine, wrap=lambda app: Starlette(routes=[Mount("/faults", app=app)]))
    try:
        with httpx.Client(base_url=f"{served.url}/faults", headers=auth, timeout=10) as c:
            opened = c.post("/v1/intake/web", json={"title": "mounted"})
            assert opened.status_code == 201, opened.text
            assert opened.json()["ticket"]["title"] == "mounted"
            assert c.get("/v1/intake/web").status_code == 405
            assert c.post("/v1/intake/web/more", json={"title": "x"}).status_code == 404
            assert c.post("/v1/intake/", json={"title": "x"}).status_code == 404
            refused = c.post("/v1/intake/web", json={"title": "x", "tier": "Q"})
            assert refused.status_code == 422 and refused.json()["error"].startswith("unknown")
            assert c.get("/v1/tickets").json()["tickets"][0]["title"] == "mounted"
    finally:
        served.stop()
    broken = Served(engine, intake_engine=Broken())
    try:
        with httpx.Client(base_url=broken.url, headers=auth, timeout=10) as c:
            failed = c.post("/v1/intake/web", json={"title": "x"})
            assert failed.status_code == 500 and "a bug" not in failed.text
            assert c.get("/healthz").status_code == 200  # and the server goes on
    finally:
        broken.stop()
    watched = Served(engine, wrap=_stamped)  # an integrator's middleware sees deliveries too
    try:
        with httpx.Client(base_url=watched.url, headers=auth, timeout=10) as c:
            delivered = c.post("/v1/intake/web", json={"title": "watched"})
            assert delivered.status_code == 201 and delivered.headers["x-seen"] == "yes"
    finally:
        watched.stop()
    assert sorted(t.title for t in engine.list()) == ["mounted", "watched"]


def _stamped(app: Any) -> Any:
    """``app`` with an integrator's middleware, which marks every answer it sees."""
    from starlette.middleware.base import BaseHTTPMiddleware

    async def stamp(request: Any, call_next: Any) -> Any:
        answer = await call_next(request)
        answer.headers["x-seen"] = "yes"
        return answer

    app.add_middleware(BaseHTTPMiddleware, dispatch=stamp)
    return app


def test_an_email_a_form_and_basic_auth(api: tuple[Served, dict[str, str]]) -> None:
    served, s = api
    mail = (FIXTURES / "email_gb2312.eml").read_bytes()
    with httpx.Client(base_url=served.url, auth=("desk", s["desk"])) as c:  # HTTP Basic
        sent = c.post("/v1/intake/email", content=mail, headers={"Content-Type": "message/rfc822"})
        assert sent.status_code == 201
        assert sent.json()["ticket"]["title"] == "【紧急】核心交换机宕机"
        form = c.post("/v1/intake/web", data={"title": "打印机无法使用", "reporter": "王工"})
        assert form.status_code == 201 and form.json()["ticket"]["channel"] == "web"


# -- tickets -------------------------------------------------------------------------------------


def test_look_and_change_tickets_with_versions(
    api: tuple[Served, dict[str, str]], travel: Any
) -> None:
    served, s = api
    with client(served, s["desk"]) as desk, client(served, s["viewer"]) as viewer:
        opened = desk.post("/v1/intake/hotline", json={"title": "core switch down", "tier": "A"})
        tid = opened.json()["ticket"]["id"]
        got = viewer.get(f"/v1/tickets/{tid}")
        assert got.status_code == 200 and got.headers["ETag"] == '"1"'
        travel(minutes=3)
        moved = desk.post(
            f"/v1/tickets/{tid}/advance", json={"trigger": "respond"}, headers={"If-Match": '"1"'}
        )
        assert moved.status_code == 200 and moved.json()["state"] == "responded"
        assert moved.json()["history"][-1]["actor"] == "li"
        stale = desk.post(
            f"/v1/tickets/{tid}/advance", json={"trigger": "remote"}, headers={"If-Match": '"1"'}
        )
        assert stale.status_code == 409 and "version 2, not 1" in stale.json()["error"]
        illegal = desk.post(f"/v1/tickets/{tid}/advance", json={"trigger": "report"})
        assert illegal.status_code == 422
        assert set(illegal.json()["allowed"]) >= {"remote", "dispatch", "cancel"}
        claims = desk.post(f"/v1/tickets/{tid}/advance", json={"trigger": "remote", "actor": "x"})
        assert claims.status_code == 422 and claims.json()["error"].startswith("actor")
        assert (
            viewer.post(f"/v1/tickets/{tid}/advance", json={"trigger": "remote"}).status_code == 403
        )
        noted = desk.post(f"/v1/tickets/{tid}/notes", json={"text": "called the unit"})
        assert noted.status_code == 201 and noted.json()["history"][-1]["note"] == "called the unit"
        travel(minutes=2)
        assert (
            desk.post(f"/v1/tickets/{tid}/advance", json={"trigger": "dispatch"}).status_code == 200
        )
        held = desk.post(f"/v1/tickets/{tid}/hold", json={"reason": "unit closed"})
        assert held.status_code == 200 and held.json()["clocks"]["arrival"]["status"] == "paused"
        assert desk.post(f"/v1/tickets/{tid}/resume").status_code == 200
        re = desk.post(f"/v1/tickets/{tid}/reclassify", json={"tier": "b", "reason": "less"})
        assert re.status_code == 200 and re.json()["tier"] == "B"
        history = viewer.get(f"/v1/tickets/{tid}/history").json()["history"]
        assert [e["trigger"] for e in history] == [
            "intake", "respond", "note", "dispatch", "hold", "resume", "reclassify",
        ]  # fmt: skip
        assert viewer.get("/v1/tickets/NOPE123").status_code == 404
        listed = viewer.get("/v1/tickets", params={"open": "true", "tier": "B"}).json()
        assert [t["id"] for t in listed["tickets"]] == [tid] and listed["next_cursor"] is None


def test_the_list_pages_with_a_cursor(api: tuple[Served, dict[str, str]]) -> None:
    served, s = api
    with client(served, s["desk"]) as c:
        for i in range(5):
            c.post("/v1/intake/web", json={"title": f"fault {i}"})
        seen, cursor = [], None
        while True:
            page = c.get(
                "/v1/tickets", params={"limit": 2, **({"cursor": cursor} if cursor else {})}
            )
            body = page.json()
            seen += [t["id"] for t in body["tickets"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 5
        assert c.get("/v1/tickets", params={"cursor": "garbage"}).status_code == 422


# -- reports, verify, service --------------------------------------------------------------------


def test_reports_verify_health_metrics_openapi(api: tuple[Served, dict[str, str]]) -> None:
    served, s = api
    with client(served, s["desk"]) as desk:
        tid = desk.post("/v1/intake/web", json={"title": "x", "tier": "A"}).json()["ticket"]["id"]
    with client(served, s["viewer"]) as viewer:
        as_json = viewer.get("/v1/report", params={"from": "2026-03-01", "to": "2026-03-03"})
        assert as_json.status_code == 200 and as_json.json()["tickets"] == 1
        as_csv = viewer.get("/v1/report", params={"format": "csv"})
        assert as_csv.headers["content-type"].startswith("text/csv")
        as_html = viewer.get("/v1/report", params={"format": "html"})
        assert as_html.text.startswith("<!DOCTYPE html>")
        assert viewer.get("/v1/report", params={"format": "pdf"}).status_code == 422
        md = viewer.get(f"/v1/tickets/{tid}/handling-report")
        assert md.status_code == 200 and md.text.startswith(f"# 故障处理报告 — {tid}")
        assert viewer.get("/v1/verify").status_code == 403
    with client(served, s["root"]) as root:
        checked = root.get("/v1/verify").json()
        assert checked["ok"] is True and checked["events"] == 1
    with client(served) as anyone:
        assert anyone.get("/healthz").json() == {"status": "ok"}
        assert anyone.get("/readyz").json() == {"status": "ready"}
        metrics = anyone.get("/metrics").text
        assert 'faultflow_open_tickets{state="received",tier="A"} 1.0' in metrics
        assert (
            'faultflow_intake_requests_total{channel="web",outcome="opened",status="201"} 1.0'
            in metrics
        )
        assert "faultflow_scheduler_lag_seconds 0.0" in metrics
        spec = anyone.get("/openapi.json").json()
        assert (
            "/v1/intake/{channel}" in spec["paths"]
            and "/v1/tickets/{ticket_id}/advance" in spec["paths"]
        )


def test_a_busy_database_is_503_with_retry_after(tmp_path: Path) -> None:
    """Alertmanager retries 5xx only: a locked database must not be a 4xx."""
    db = tmp_path / "busy.db"
    engine = Engine.open(db=db, lock_timeout=0.3)
    secret = engine.create_token("m", ["intake:*"])[1]
    served = Served(engine)
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with client(served, secret) as c:
            busy = c.post("/v1/intake/web", json={"title": "x"})
            assert busy.status_code == 503 and busy.headers["Retry-After"] == "5"
            assert "error" in busy.json()
            holder.execute("ROLLBACK")
            assert c.post("/v1/intake/web", json={"title": "x"}).status_code == 201
    finally:
        holder.close()
        served.stop()


# -- hostile input -------------------------------------------------------------------------------


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
BODIES = st.one_of(
    st.binary(max_size=300),
    JSONISH.map(lambda v: json.dumps(v).encode()),
    st.just(b"\xff\xfe{not utf-8"),
    st.just(b"[" * 5000 + b"]" * 5000),  # nested far deeper than the contract's limit
)
TYPES = st.sampled_from(
    ["application/json", "message/rfc822", "application/x-www-form-urlencoded", "text/plain", ""]
)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: Any) -> Iterator[tuple[Served, str, Path]]:
    db = tmp_path_factory.mktemp("fuzz") / "ff.db"
    engine = Engine.open(db=db)
    secret = engine.create_token("fuzz", ["intake:*"])[1]
    served = Served(engine)
    yield served, secret, db
    served.stop()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(channel=st.sampled_from(["web", "email", "alertmanager", "chat", "hotline"]), body=BODIES,
       kind=TYPES)  # fmt: skip
def test_random_bodies_get_a_4xx_line_and_write_nothing(
    fuzzed: tuple[Served, str, Path], channel: str, body: bytes, kind: str
) -> None:
    served, secret, db = fuzzed
    before = snapshot(db)
    with client(served, secret) as c:
        answer = c.post(f"/v1/intake/{channel}", content=body, headers={"Content-Type": kind})
    if answer.status_code in (200, 201):  # a body that happens to be a valid fault: fine
        return
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)
    error = answer.json()["error"]
    assert isinstance(error, str) and "\n" not in error and error
    assert snapshot(db) == before
    with client(served) as c:
        assert c.get("/healthz").status_code == 200  # and it keeps serving


def test_a_slow_client_does_not_hold_up_the_others(api: tuple[Served, dict[str, str]]) -> None:
    """A client that sends its body a byte at a time does not stall the server."""
    served, s = api
    slow = socket.create_connection(("127.0.0.1", served.port))
    body = json.dumps({"title": "slow"}).encode()
    slow.sendall(
        b"POST /v1/intake/web HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {s['desk']}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body[:1]
    )
    try:
        began = time.monotonic()
        with client(served, s["desk"]) as c:
            for i in range(5):
                assert c.post("/v1/intake/web", json={"title": f"quick {i}"}).status_code == 201
        assert time.monotonic() - began < 5
    finally:
        slow.close()


def test_two_operators_advancing_one_ticket_at_once(
    api: tuple[Served, dict[str, str]], travel: Any
) -> None:
    """Over HTTP as in the library: one wins, the other hears why (409 or the new state's
    refusal), and the history has one respond."""
    served, s = api
    with client(served, s["desk"]) as c:
        tid = c.post("/v1/intake/web", json={"title": "x"}).json()["ticket"]["id"]
    travel(minutes=1)
    answers: list[int] = []

    def respond() -> None:
        with client(served, s["desk"]) as c:
            answers.append(
                c.post(
                    f"/v1/tickets/{tid}/advance",
                    json={"trigger": "respond"},
                    headers={"If-Match": '"1"'},
                ).status_code
            )

    racers = [threading.Thread(target=respond) for _ in range(4)]
    for r in racers:
        r.start()
    for r in racers:
        r.join()
    assert sorted(answers) == [200, 409, 409, 409]
    with client(served, s["viewer"]) as c:
        history = c.get(f"/v1/tickets/{tid}/history").json()["history"]
    assert [e["trigger"] for e in history] == ["intake", "respond"]


def test_the_first_requests_at_once_on_a_fresh_process(tmp_path: Path) -> None:
    """Several requests racing in a process that has not imported pendulum yet (a real
    `serve`): every one answered, none a 500 (the wall clock once read a half-imported
    pendulum)."""
    import subprocess
    import sys

    script = r"""
import sys, threading, json
sys.modules.pop("pendulum", None)
from faultflow import Engine
engine = Engine.open(db=sys.argv[1])
assert "pendulum" not in sys.modules, "this test needs a process without pendulum"
results = []
def go(i):
    payload = {"version": "4", "status": "firing", "alerts": [{"status": "firing",
               "labels": {"alertname": f"A{i}"}, "startsAt": "2026-03-02T00:58:00Z",
               "fingerprint": f"f{i}"}]}
    try:
        results.append(engine.intake("alertmanager", payload, "m").id)
    except Exception as err:
        results.append(f"{type(err).__name__}: {err}")
threads = [threading.Thread(target=go, args=(i,)) for i in range(12)]
[t.start() for t in threads]; [t.join() for t in threads]
print(json.dumps(results))
"""
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "ff.db")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert len(results) == 12 and all(len(r) == 7 for r in results), results


def test_ack_escalate_assign_over_http(db_path: Path, travel: Any) -> None:
    import pendulum

    people = Path(__file__).parent.parent / "people.toml"
    engine = Engine.open(db=db_path, clock=pendulum.now, people=people)
    secret = engine.create_token("desk", ["intake:*", "operate"], "zhou")[1]
    served = Served(engine)
    try:
        with client(served, secret) as c:
            tid = c.post("/v1/intake/hotline", json={"title": "x", "tier": "A"}).json()["ticket"][
                "id"
            ]
            travel(minutes=16)
            engine.tick()
            acked = c.post(f"/v1/tickets/{tid}/ack", json={"note": "on it"})
            assert acked.status_code == 200 and acked.json()["history"][-1]["trigger"] == "ack"
            assert c.post(f"/v1/tickets/{tid}/ack").status_code == 422  # nothing running now
            up = c.post(f"/v1/tickets/{tid}/escalate", json={"reason": "needs the director"})
            assert up.status_code == 200 and up.json()["history"][-1]["trigger"] == "page"
            moved = c.post(f"/v1/tickets/{tid}/assign", json={"person": "wang", "reason": "near"})
            assert moved.status_code == 200 and moved.json()["owner"] == "wang"
            assert (
                c.post(f"/v1/tickets/{tid}/assign", json={"person": "x", "reason": "r"}).status_code
                == 422
            )
    finally:
        served.stop()
