"""A flood of intake does not take `serve` down: the intake lane is bounded (503 at once when
full), each token has its share (429), a client that hangs up costs nothing, a slow client is
cut off, logs and metric labels are bounded — and a real Alertmanager's storm is absorbed whole
while /healthz and the scheduler keep their time."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from faultflow import Engine
from faultflow.http.admission import Bounds
from faultflow.http.serving import Hush, protocol
from test_http import Served, alert_body


class Held:
    """The engine's intake, held at a gate the test opens: what a slow database looks like
    from the HTTP side (the intake itself is the real one, on the real database)."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.gate, self.calls = engine, threading.Event(), 0
        self.started = threading.Semaphore(0)

    def intake_all(self, *args: Any) -> Any:
        self.calls += 1
        self.started.release()
        assert self.gate.wait(30), "the test never opened the gate"
        return self.engine.intake_all(*args)


@pytest.fixture
def held(engine: Engine) -> Iterator[tuple[Served, Held, str]]:
    secret = engine.create_token("monitoring", ["intake:*"], "prometheus")[1]
    gate = Held(engine)
    served = Served(engine, intake_engine=gate, bounds=Bounds(workers=1, queue=1))
    try:
        yield served, gate, secret
    finally:
        gate.gate.set()
        served.stop()


def _post(url: str, secret: str, out: list[httpx.Response], body: bytes | None = None) -> None:
    out.append(
        httpx.post(
            f"{url}/v1/intake/alertmanager",
            content=body or alert_body(),
            headers={"Authorization": f"Bearer {secret}"},
            timeout=30,
        )
    )


def _until(check: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_full_intake_lane_answers_503_at_once_and_the_service_still_answers(
    held: tuple[Served, Held, str], engine: Engine
) -> None:
    served, gate, secret = held
    lane = served.server.config.app.state.intake
    answers: list[httpx.Response] = []
    senders = [threading.Thread(target=_post, args=(served.url, secret, answers)) for _ in "ab"]
    for s in senders:
        s.start()
    _until(lambda: lane.admitted == 2)  # one at work (held), one waiting: the lane is full
    t = time.monotonic()
    full = httpx.post(
        f"{served.url}/v1/intake/alertmanager",
        content=alert_body(),
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert time.monotonic() - t < 1
    assert full.status_code == 503 and full.headers["retry-after"] == "1"
    assert "busy" in full.json()["error"]
    # the service's own pages are answered ahead of the flood
    assert httpx.get(f"{served.url}/healthz").status_code == 200
    assert httpx.get(f"{served.url}/readyz").status_code == 200
    metrics = httpx.get(f"{served.url}/metrics").text
    assert (
        'faultflow_intake_requests_total{channel="alertmanager",outcome="refused",status="503"}'
        " 1.0" in metrics
    )
    gate.gate.set()
    for s in senders:
        s.join()
    assert sorted(a.status_code for a in answers) == [200, 201]  # the same group: once opened
    assert len(engine.list()) == 2 and gate.calls == 2


def test_each_token_has_its_share_and_the_others_keep_theirs(engine: Engine) -> None:
    noisy = engine.create_token("noisy", ["intake:*"], "noisy")[1]
    quiet = engine.create_token("quiet", ["intake:*"], "quiet")[1]
    served = Served(engine, bounds=Bounds(rate=0.5, burst=2))
    try:
        codes = []
        for i in range(3):
            answer = httpx.post(
                f"{served.url}/v1/intake/web",
                json={"title": f"fault {i}"},
                headers={"Authorization": f"Bearer {noisy}"},
            )
            codes.append(answer.status_code)
        assert codes == [201, 201, 429]
        assert answer.headers["retry-after"] == "2"  # one request every 2 s
        assert "share" in answer.json()["error"]
        other = httpx.post(
            f"{served.url}/v1/intake/web",
            json={"title": "another fault"},
            headers={"Authorization": f"Bearer {quiet}"},
        )
        assert other.status_code == 201
    finally:
        served.stop()
    assert len(engine.list()) == 3


def test_work_for_a_client_that_hung_up_is_dropped_and_counted(
    held: tuple[Served, Held, str], engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    served, gate, secret = held
    lane = served.server.config.app.state.intake
    answers: list[httpx.Response] = []
    first = threading.Thread(target=_post, args=(served.url, secret, answers))
    first.start()
    assert gate.started.acquire(timeout=10)  # the first request is at work, held
    body = alert_body()
    with socket.create_connection(("127.0.0.1", served.port)) as raw:
        raw.sendall(
            b"POST /v1/intake/alertmanager HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: Bearer {secret}\r\nContent-Type: application/json\r\n".encode()
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        _until(lambda: lane.admitted == 2)  # read whole, waiting for the worker
    # the second client has gone; its work has not begun
    time.sleep(0.2)
    gate.gate.set()
    first.join()
    _until(lambda: lane.admitted == 0)
    assert gate.calls == 1, "the work of a client that had gone was done"
    assert answers[0].status_code == 201
    metrics = httpx.get(f"{served.url}/metrics").text
    assert "faultflow_http_clients_gone_total 1.0" in metrics
    assert "Traceback" not in caplog.text and "ClientDisconnect" not in caplog.text


def test_a_client_that_hangs_up_mid_body_is_counted_without_a_traceback(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    secret = engine.create_token("monitoring", ["intake:*"], "prometheus")[1]
    served = Served(engine)
    try:
        with socket.create_connection(("127.0.0.1", served.port)) as raw:
            raw.sendall(
                b"POST /v1/intake/web HTTP/1.1\r\nHost: x\r\n"
                + f"Authorization: Bearer {secret}\r\n".encode()
                + b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"title\""
            )
            time.sleep(0.2)
        _until(lambda: "faultflow_http_clients_gone_total 1.0" in _metrics(served))
    finally:
        served.stop()
    assert engine.list() == []
    assert "Traceback" not in caplog.text and "Exception in ASGI" not in caplog.text


def _metrics(served: Served) -> str:
    return httpx.get(f"{served.url}/metrics").text


def test_a_client_that_never_finishes_its_headers_is_cut_off(engine: Engine) -> None:
    served = Served(engine, http=protocol(read_timeout=0.5))
    try:
        with socket.create_connection(("127.0.0.1", served.port)) as slow:
            slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            slow.settimeout(5)
            t = time.monotonic()
            assert slow.recv(100) == b""  # closed by the server
            assert 0.3 < time.monotonic() - t < 3
        with socket.create_connection(("127.0.0.1", served.port)) as idle:
            idle.settimeout(5)
            assert idle.recv(100) == b""  # a connection that sends nothing, likewise
        # a client that sends its request in time is answered, and may keep its connection
        with httpx.Client(base_url=served.url) as c:
            for _ in range(3):
                assert c.get("/healthz").status_code == 200
                time.sleep(0.3)  # within keep-alive; the read timer restarts per request
    finally:
        served.stop()


def test_metric_labels_are_bounded_whatever_channel_is_named(engine: Engine) -> None:
    secret = engine.create_token("any", ["intake:*"], "any")[1]
    served = Served(engine)
    try:
        for name in ("nope-1", "nope-2", "nope-3"):
            answer = httpx.post(
                f"{served.url}/v1/intake/{name}",
                json={"title": "x"},
                headers={"Authorization": f"Bearer {secret}"},
            )
            assert answer.status_code == 422
        text = _metrics(served)
    finally:
        served.stop()
    assert "nope" not in text
    assert 'channel="other",outcome="refused",status="422"} 3.0' in text


def test_log_lines_of_one_kind_are_held_back_past_a_burst_and_counted() -> None:
    hush = Hush(burst=5, window=60)
    records = [
        logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s"', ("a", i), None)
        for i in range(50)
    ]
    passed = [r for r in records if hush.filter(r)]
    assert len(passed) == 5
    other = logging.LogRecord("faultflow", logging.ERROR, __file__, 1, "breach", (), None)
    assert hush.filter(other)  # another kind is not held back by the first
    hush._seen[("uvicorn.access", logging.INFO, '%s - "%s"')][0] -= 61  # the window is over
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    keep = Keep()
    logging.getLogger("faultflow.http").addHandler(keep)
    try:
        assert hush.filter(records[0])
    finally:
        logging.getLogger("faultflow.http").removeHandler(keep)
    assert [r.getMessage() for r in seen] == [
        "45 more log lines like '%s - \"%s\"' were not logged in 60 s"
    ]


# -- a real Alertmanager's storm -------------------------------------------------------------


@pytest.mark.services
def test_a_real_alertmanager_storm_is_absorbed_whole(tmp_path: Path) -> None:
    """2,000 alerts in 20 s, each its own group, through a real Alertmanager into a real
    `faultflow serve`: every alert accounted for, none doubled; /healthz p99 ≤ 250 ms and
    breach lateness p99 ≤ 1 s through it; no traceback in serve's log."""
    from storm import ALERTMANAGER, storm

    if ALERTMANAGER is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the storm test: .ci/run installs prometheus-alertmanager")
        pytest.skip("no prometheus-alertmanager binary (Debian package prometheus-alertmanager)")
    outcome = storm(tmp_path, str(tmp_path / "ff.db"), alerts=2000, seconds=20, timers=50)
    print(outcome.summary())
    assert outcome.accounted == 2000 and outcome.doubled == 0, outcome.summary()
    assert outcome.tickets == 2000, outcome.summary()
    assert outcome.p(outcome.healthz_ms, 0.99) <= 250, outcome.summary()
    assert outcome.breaches == 50 and outcome.p(outcome.lateness_ms, 0.99) <= 1000
    assert outcome.tracebacks == 0, outcome.summary()
