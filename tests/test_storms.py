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
    """An intake engine (as serve opens one beside the board's), held at a gate the test
    opens: what a slow database looks like from the HTTP side (the intake itself is the real
    one, on the real database)."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.gate, self.calls = engine, threading.Event(), 0
        self.started = threading.Semaphore(0)

    def intake_all(self, *args: Any) -> Any:
        self.calls += 1
        self.started.release()
        assert self.gate.wait(30), "the test never opened the gate"
        return self.engine.intake_all(*args)

    def together(self) -> Any:
        return self.engine.together()

    def with_suggestions(self, results: Any) -> Any:
        return self.engine.with_suggestions(results)


@pytest.fixture
def held(engine: Engine, db_path: Path) -> Iterator[tuple[Served, Held, str]]:
    secret = engine.create_token("monitoring", ["intake:*"], "prometheus")[1]
    gate = Held(Engine.open(db=db_path, create=False))
    served = Served(engine, intake_engine=gate, bounds=Bounds(workers=1, queue=1))
    try:
        yield served, gate, secret
    finally:
        gate.gate.set()
        served.stop()
        gate.engine.close()


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
    assert "faultflow_intake_admitted 2.0" in metrics
    assert "faultflow_intake_capacity 2.0" in metrics
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
                + b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"title"'
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
    assert "faultflow_mail_refused_total" in text and "faultflow_mail_read_total" in text
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
    `faultflow serve` under the default contract: every alert accounted for (100 tickets, then
    one storm ticket carrying the rest as occurrences), none doubled; /healthz, /readyz and
    /metrics p99 ≤ 250 ms and
    breach lateness p99 ≤ 1 s through it; no traceback in serve's log."""
    from storm import storm
    from test_serve import ALERTMANAGER

    if ALERTMANAGER is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the storm test: .ci/run installs prometheus-alertmanager")
        pytest.skip("no prometheus-alertmanager binary (Debian package prometheus-alertmanager)")
    outcome = storm(tmp_path, str(tmp_path / "ff.db"), alerts=2000, seconds=20, timers=50)
    print(outcome.summary())
    assert outcome.accounted == 2000 and outcome.doubled == 0, outcome.summary()
    # the contract's storm rule: 100 tickets, then one storm ticket carrying the rest
    assert (outcome.tickets, outcome.occurrences) == (101, 1900), outcome.summary()
    assert outcome.p(outcome.healthz_ms, 0.99) <= 250, outcome.summary()
    assert outcome.p(outcome.readyz_ms, 0.99) <= 250, outcome.summary()
    assert outcome.p(outcome.metrics_ms, 0.99) <= 250, outcome.summary()
    assert outcome.breaches == 50 and outcome.p(outcome.lateness_ms, 0.99) <= 1000
    assert outcome.tracebacks == 0, outcome.summary()


# -- storms become incidents ---------------------------------------------------------------------


def _contract(tmp_path: Path, settings: str) -> Path:
    from faultflow.contract.compile import default_contract_path

    text = default_contract_path().read_text(encoding="utf-8")
    text = text.replace('storm = { tickets = 100, within = "10m", tier = "A" }\n', "")
    path = tmp_path / "states.toml"
    path.write_text(
        text.replace("[channels.alertmanager]\n", f"[channels.alertmanager]\n{settings}\n"),
        encoding="utf-8",
    )
    return path


def _group(key: str, *alerts: tuple[str, str, str]) -> dict[str, Any]:
    """An Alertmanager webhook of one group: (fingerprint, status, startsAt) per alert."""
    return {
        "version": "4",
        "groupKey": key,
        "status": "firing",
        "receiver": "faultflow",
        "groupLabels": {"alertname": "LinkDown", "site": "dc1"},
        "commonLabels": {"alertname": "LinkDown", "site": "dc1", "severity": "critical"},
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "LinkDown", "instance": fp, "severity": "critical"},
                "annotations": {"summary": f"{fp} 链路中断"},
                "startsAt": starts,
                "endsAt": "2026-03-02T01:10:00Z" if status == "resolved" else "",
                "fingerprint": fp,
            }
            for fp, status, starts in alerts
        ],
    }


T1, T2 = "2026-03-02T00:50:00Z", "2026-03-02T00:59:30Z"


def test_a_group_is_one_ticket_and_its_alerts_occurrences_on_it(
    tmp_path: Path, travel: Any
) -> None:
    engine = Engine.open(db=tmp_path / "ff.db", config=_contract(tmp_path, 'tickets = "group"'))
    first = engine.intake_all(
        "alertmanager", _group("g1", ("a", "firing", T1), ("b", "firing", T1))
    )
    assert [r.outcome for r in first] == ["opened", "occurrence"]
    group = first[0].ticket
    assert {r.ticket.id for r in first} == {group.id}
    assert group.title == "LinkDown (site=dc1)" and group.tier == "A"
    # the same notification again (Alertmanager's repeat): nothing new
    again = engine.intake_all(
        "alertmanager", _group("g1", ("a", "firing", T1), ("b", "firing", T1))
    )
    assert [r.outcome for r in again] == ["duplicate", "duplicate"]
    # a third alert joins; a resolves; then a fires again (a new startsAt)
    engine.intake_all("alertmanager", _group("g1", ("a", "resolved", T1), ("c", "firing", T1)))
    engine.intake_all("alertmanager", _group("g1", ("a", "resolved", T1)))  # resent: no change
    engine.intake_all("alertmanager", _group("g1", ("a", "firing", T2)))
    shown = engine.get(group.id)
    assert shown.occurrences is not None
    assert shown.occurrences.to_dict() == {"faults": 3, "firing": 3, "fired": 4, "resolved": 1}
    said = [e.note for e in shown.history if e.trigger == "occurrence"]
    assert said == [
        "alertmanager: a 链路中断 — fired",
        "alertmanager: b 链路中断 — fired",
        "alertmanager: a 链路中断 — resolved",
        "alertmanager: c 链路中断 — fired",
        "alertmanager: a 链路中断 — fired again",
    ]
    assert shown.to_dict()["occurrences"]["faults"] == 3
    assert len(engine.list()) == 1
    # another group is another ticket
    other = engine.intake_all("alertmanager", _group("g2", ("d", "firing", T1)))
    assert other[0].outcome == "opened" and other[0].ticket.id != group.id
    # once the group's ticket is final, its alert firing anew opens the group's next ticket
    _close(engine, group.id)
    later = engine.intake_all("alertmanager", _group("g1", ("b", "firing", T2)))
    assert later[0].outcome == "recurrence" and later[0].ticket.recurs == group.id
    assert engine.verify().ok
    engine.close()


def test_past_the_storm_rule_new_faults_gather_on_one_storm_ticket(
    tmp_path: Path, travel: Any
) -> None:
    rule = 'storm = { tickets = 3, within = "10m", tier = "A" }'
    engine = Engine.open(db=tmp_path / "ff.db", config=_contract(tmp_path, rule))
    now = engine.now().isoformat()
    outcomes = []
    for i in range(10):
        hook = _group(f"g{i}", (f"fp{i}", "firing", now))
        outcomes.append(engine.intake_all("alertmanager", hook)[0])
    assert [o.outcome for o in outcomes] == ["opened"] * 4 + ["occurrence"] * 6
    storm = outcomes[3].ticket
    assert storm.title.startswith("Alert storm on alertmanager") and storm.tier == "A"
    assert {o.ticket.id for o in outcomes[3:]} == {storm.id}
    carried = engine.get(storm.id).occurrences
    assert carried is not None and carried.faults == 7
    # every alert is accounted for: a ticket, or an occurrence on the storm's
    assert len(engine.list()) == 4
    # a fault the storm carries resolves on it
    done = engine.intake_all("alertmanager", _group("g5", ("fp5", "resolved", now)))
    assert done[0].outcome == "occurrence" and done[0].ticket.id == storm.id
    # only the storm ticket's own clocks run: one page, not one per fault
    assert sum(len(t.clocks) > 0 for t in engine.list()) == 4
    # the storm passes: after the window, new faults are tickets of their own again
    travel(minutes=11)
    _close(engine, storm.id)
    fresh = engine.intake_all(
        "alertmanager", _group("g99", ("fp99", "firing", engine.now().isoformat()))
    )
    assert fresh[0].outcome == "opened" and fresh[0].ticket.id != storm.id
    engine.close()


def _close(engine: Engine, ticket_id: str) -> None:
    engine.advance(ticket_id, "respond")
    engine.advance(ticket_id, "cancel", reason="the links came back by themselves")


def test_a_storm_rule_that_is_wrong_is_refused_with_its_key_path(tmp_path: Path) -> None:
    from faultflow.errors import ConfigError

    for rule, words in (
        ('storm = { tickets = 0, within = "1m" }', "channels.alertmanager.storm.tickets"),
        ('storm = { tickets = 5, within = "soon" }', "channels.alertmanager.storm.within"),
        ('storm = { tickets = 5, within = "1m", tier = "Z" }', "unknown tier 'Z'"),
        ('storm = { tickets = 5, within = "1m", pages = 1 }', "storm.pages"),
        ('tickets = "each"', "channels.alertmanager.tickets"),
    ):
        with pytest.raises(ConfigError) as refused:
            Engine.open(db=tmp_path / "ff.db", config=_contract(tmp_path, rule))
        assert words in str(refused.value), (rule, str(refused.value))


# -- notifications coalesce ----------------------------------------------------------------------


def test_a_coalescing_notifier_sends_one_message_then_one_digest_per_interval(
    db_path: Path, travel: Any
) -> None:
    from conftest import new_ticket
    from test_notify import Receiver, attempts, open_engine

    receiver = Receiver()
    try:
        engine = open_engine(
            db_path,
            {
                "group": {
                    "use": "webhook",
                    "url": receiver.url,
                    "events": ["transition", "breach"],
                    "coalesce": "5m",
                }
            },
        )
        first = new_ticket(engine, "A", title="core switch down")
        engine.tick()
        assert [b["ticket"] for b in receiver.bodies] == [first.id]  # the window opens
        storm = [new_ticket(engine, "C", title=f"link {i} down") for i in range(30)]
        travel(minutes=1)
        engine.tick()
        assert len(receiver.bodies) == 1  # within the window: they wait
        travel(minutes=15)  # the window is over; tier A's response promise broke meanwhile
        engine.tick()
        assert len(receiver.bodies) == 2
        sent = receiver.bodies[1]
        assert sent["kind"] == "digest" and sent["count"] == 31
        assert sent["kinds"] == {"breach": 1, "transition": 30}
        assert sent["items"][0]["kind"] == "breach"  # the most urgent first
        assert set(sent["tickets"]) == {first.id, *(t.id for t in storm)}
        assert "[breach]" in sent["note"].splitlines()[0]
        # each notification is recorded as delivered once, and nothing is left waiting
        assert sorted(set(attempts(engine))) == [("group", 1, 1)]
        assert len(attempts(engine)) == 32
        assert engine.census().notifications_pending == 0
        engine.tick()
        assert len(receiver.bodies) == 2
        engine.close()
    finally:
        receiver.close()


def test_the_outbox_drains_breaches_before_transitions(db_path: Path, travel: Any) -> None:
    from conftest import new_ticket
    from faultflow.db import outbox
    from test_notify import open_engine

    engine = open_engine(db_path, {"log": {"events": ["transition", "breach"]}})
    new_ticket(engine, "A", title="core switch down")
    travel(minutes=16)
    engine.tick(deliver=False)
    for i in range(3):
        new_ticket(engine, "C", title=f"link {i}")
    from faultflow.timekeeping.times import to_us

    kinds = [row[2] for row in outbox.due(engine.store, to_us(engine.now()), 100)]
    assert kinds[0] == "breach" and kinds[1:] == ["transition"] * 4
    engine.close()


def test_a_coalesce_that_is_not_a_duration_is_refused(tmp_path: Path) -> None:
    from faultflow.errors import ConfigError
    from test_notify import contract_with

    with pytest.raises(ConfigError) as refused:
        contract_with({"log": {"coalesce": "a while"}})
    assert "notifiers.log.coalesce" in str(refused.value)


def test_a_storms_occurrences_announce_nothing_its_ticket_once(tmp_path: Path, travel: Any) -> None:
    """Each fault a storm's ticket carries is in its history, but no notification tells of it:
    a chat group that hears transitions hears of the storm's ticket once, not of every alert."""
    rule = 'storm = { tickets = 3, within = "10m", tier = "A" }'
    config = _contract(tmp_path, rule)
    config.write_text(
        config.read_text(encoding="utf-8") + '\n[notifiers.chat]\nuse = "log"\n'
        'events = ["transition"]\n',
        encoding="utf-8",
    )
    engine = Engine.open(db=tmp_path / "ff.db", config=config)
    now = engine.now().isoformat()
    for i in range(20):
        engine.intake_all("alertmanager", _group(f"g{i}", (f"fp{i}", "firing", now)))
    assert len(engine.list()) == 4  # three of their own, and the storm's
    assert engine.census().notifications_pending == 4  # each ticket's opening, told once
    engine.close()
