"""An alert storm against a real `faultflow serve`, as a monitoring system's bad day brings it:
used by the storm test (CI size) and by tests/benchmarks/bench_storm.py (full size).

The storm is ``alerts`` distinct alerts, each its own Alertmanager group (``group_by: ['...']``),
fired over ``seconds`` — through a real Alertmanager, or posted straight to the webhook by
``senders`` concurrent clients that retry like Alertmanager (5xx, 429 and timeouts, with backoff,
honouring ``Retry-After``). Meanwhile a prober asks ``/healthz`` every 50 ms, and ``timers``
tier-A tickets opened beforehand have response breaches falling due through the storm: the
scheduler beside the API must record them on time. Afterwards the database is read: every
alert's fingerprint must be a ticket (or an occurrence on one), none twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from test_serve import Serving, alertmanager


@dataclass
class Outcome:
    alerts: int
    accounted: int = 0  # alerts whose fingerprint is a ticket or an occurrence on one
    tickets: int = 0
    occurrences: int = 0  # alerts carried by a group's or a storm's ticket
    doubled: int = 0  # fingerprints with more than one ticket for the same incident
    seconds_to_account: float = 0.0
    healthz_ms: list[float] = field(default_factory=list)
    readyz_ms: list[float] = field(default_factory=list)
    metrics_ms: list[float] = field(default_factory=list)
    lateness_ms: list[float] = field(default_factory=list)
    breaches: int = 0
    timers: int = 0
    peak_rss_mb: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)  # answers the senders saw
    am_failed: int = 0  # Alertmanager's failed notifications (each retried)
    messages: dict[str, int] = field(default_factory=dict)  # outbox rows per recipient
    log_lines: int = 0
    tracebacks: int = 0

    @staticmethod
    def p(values: list[float], share: float) -> float:
        if not values:
            return 0.0
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]

    def summary(self) -> str:
        late = self.p(self.lateness_ms, 0.99)
        return (
            f"{self.accounted}/{self.alerts} alerts accounted ({self.tickets} tickets, "
            f"{self.occurrences} occurrences, {self.doubled} doubled) in "
            f"{self.seconds_to_account:.1f} s; healthz p99 {self.p(self.healthz_ms, 0.99):.0f} "
            f"ms over {len(self.healthz_ms)} probes (readyz {self.p(self.readyz_ms, 0.99):.0f}, "
            f"metrics {self.p(self.metrics_ms, 0.99):.0f}); breach "
            f"lateness p99 {late:.0f} ms ({self.breaches}/{self.timers}); peak RSS "
            f"{self.peak_rss_mb:.0f} MB; answers {dict(sorted(self.statuses.items()))}; "
            f"Alertmanager failed notifications {self.am_failed}; log lines {self.log_lines}, "
            f"tracebacks {self.tracebacks}"
        )


INSTANCE = re.compile(r"sw-\d{5}")


def instance(i: int) -> str:
    return f"sw-{i:05d}"


def fingerprint(i: int) -> str:
    return hashlib.sha256(f"storm-{i}".encode()).hexdigest()[:16]


def alert(i: int, starts: datetime) -> dict[str, Any]:
    return {
        "labels": {
            "alertname": "LinkDown",
            "instance": f"sw-{i:05d}",
            "severity": "critical",
        },
        "annotations": {"summary": f"交换机 sw-{i:05d} 链路中断"},
        "startsAt": starts.isoformat(),
    }


def webhook(i: int, starts: datetime) -> dict[str, Any]:
    """What Alertmanager sends for alert ``i``, a group of one."""
    a = alert(i, starts)
    return {
        "version": "4",
        "groupKey": f'{{}}:{{instance="sw-{i:05d}"}}',
        "status": "firing",
        "receiver": "faultflow",
        "groupLabels": a["labels"],
        "commonLabels": a["labels"],
        "commonAnnotations": a["annotations"],
        "externalURL": "http://alertmanager.invalid",
        "truncatedAlerts": 0,
        "alerts": [{**a, "status": "firing", "fingerprint": fingerprint(i), "endsAt": ""}],
    }


def prepare(db: str, config: Path | None, timers: int, start: float, seconds: float) -> str:
    """Tier-A tickets whose response breaches fall due across the storm, and the token
    Alertmanager sends with; returns its secret."""
    from faultflow import Engine

    with Engine.open(db=db, config=config) as engine:
        secret = engine.create_token("alertmanager", ["intake:alertmanager"], "alertmanager")[1]
        for i in range(timers):
            due = start + 2 + (seconds - 2) * i / max(1, timers)
            reported = datetime.fromtimestamp(due, UTC) - timedelta(minutes=15)
            engine.intake(
                "hotline",
                {"title": f"timer {i}", "tier": "A", "occurred_at": reported.isoformat()},
                actor="storm",
            )
        engine.tick()  # the warnings, all past already, now rather than in the storm
    return secret


class Prober(threading.Thread):
    """Asks /healthz every 50 ms, and /readyz and /metrics every 250 ms, timing each answer
    (none within 5 s counts as 5 s)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop = url, threading.Event()
        self.ms: dict[str, list[float]] = {"/healthz": [], "/readyz": [], "/metrics": []}

    def run(self) -> None:
        with httpx.Client(timeout=5) as client:
            tick = 0
            while not self.stop.is_set():
                paths = ["/healthz"] + (["/readyz", "/metrics"] if tick % 5 == 0 else [])
                for path in paths:
                    t = time.perf_counter()
                    try:
                        client.get(f"{self.url}{path}").raise_for_status()
                        self.ms[path].append((time.perf_counter() - t) * 1000)
                    except httpx.HTTPError:
                        self.ms[path].append(5000.0)
                tick += 1
                self.stop.wait(0.05)


def _rss_peak(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _am_failed(port: int) -> int:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return -1
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("alertmanager_notifications_failed_total")
        and 'integration="webhook"' in line
    )


async def _senders(url: str, secret: str, alerts: int, seconds: float, senders: int,
                   statuses: dict[int, int]) -> None:  # fmt: skip
    """``senders`` clients post the storm's webhooks, spread over ``seconds``, each retried
    until it is answered 2xx (as Alertmanager does, with a 5 s deadline an attempt)."""
    starts = datetime.now(UTC) - timedelta(seconds=30)
    queue: asyncio.Queue[tuple[int, float]] = asyncio.Queue()
    t0 = time.monotonic()
    for i in range(alerts):
        queue.put_nowait((i, t0 + seconds * i / alerts))
    headers = {"Authorization": f"Bearer {secret}"}
    limits = httpx.Limits(max_connections=senders, max_keepalive_connections=senders)

    async def sender(client: httpx.AsyncClient) -> None:
        while True:
            try:
                i, when = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await asyncio.sleep(max(0.0, when - time.monotonic()))
            body = json.dumps(webhook(i, starts))
            backoff = 0.5
            while True:
                try:
                    answer = await client.post(
                        f"{url}/v1/intake/alertmanager", content=body, headers=headers
                    )
                    statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
                    if answer.status_code < 300:
                        break
                    if answer.status_code not in (429, 503) and answer.status_code < 500:
                        raise AssertionError(f"refused: {answer.status_code} {answer.text}")
                    wait = float(answer.headers.get("retry-after", backoff))
                except httpx.TransportError:
                    statuses[0] = statuses.get(0, 0) + 1  # no answer within the deadline
                    wait = backoff
                await asyncio.sleep(wait * random.uniform(0.5, 1.5))
                backoff = min(backoff * 2, 10)

    async with httpx.AsyncClient(timeout=5, limits=limits) as client:
        await asyncio.gather(*(sender(client) for _ in range(senders)))


def storm(
    folder: Path,
    db: str,
    *,
    alerts: int,
    seconds: float,
    timers: int = 100,
    via: str = "alertmanager",
    senders: int = 1000,
    config: Path | None = None,
    settle: float = 180.0,
    serve_args: tuple[str, ...] = (),
    lead: float = 6.0,
) -> Outcome:
    """One storm; the figures. ``db`` a SQLite path or a PostgreSQL URL; ``lead``: seconds
    to start serve (and Alertmanager) before the storm and the first breach."""
    outcome = Outcome(alerts=alerts, timers=timers)
    start = time.time() + lead
    secret = prepare(db, config, timers, start, seconds)
    server = Serving(db, *serve_args, log=folder / "serve.log", config=config)
    prober = Prober(server.url)
    am = contextlib.ExitStack()  # a real Alertmanager in front, when the storm goes through it
    am_port: int | None = None
    try:
        if via == "alertmanager":
            am_port = am.enter_context(
                alertmanager(
                    folder, f"{server.url}/v1/intake/alertmanager", secret,
                    group_by="['...']", group_interval="5s", repeat_interval="4h",
                    send_resolved=False,
                )
            )  # fmt: skip
            api = f"http://127.0.0.1:{am_port}/api/v2"
        time.sleep(max(0.0, start - time.time()))
        prober.start()
        t0 = time.monotonic()
        if via == "alertmanager":
            starts = datetime.now(UTC) - timedelta(seconds=30)
            batch = max(1, alerts // max(1, int(seconds * 10)))
            with httpx.Client(timeout=30) as client:
                for first in range(0, alerts, batch):
                    when = t0 + seconds * first / alerts
                    time.sleep(max(0.0, when - time.monotonic()))
                    sent = [alert(i, starts) for i in range(first, min(alerts, first + batch))]
                    client.post(f"{api}/alerts", json=sent).raise_for_status()
        else:
            asyncio.run(_senders(server.url, secret, alerts, seconds, senders, outcome.statuses))
        wanted = {instance(i) for i in range(alerts)}
        deadline = time.monotonic() + settle
        while True:
            seen = _accounted(db)
            outcome.accounted = len(wanted & seen)
            if outcome.accounted == alerts or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        outcome.seconds_to_account = time.monotonic() - t0
        # the breaches due during the storm have all fallen due by now
        time.sleep(max(0.0, start + seconds + 2 - time.time()))
        prober.stop.set()
        prober.join()
        outcome.healthz_ms = prober.ms["/healthz"]
        outcome.readyz_ms = prober.ms["/readyz"]
        outcome.metrics_ms = prober.ms["/metrics"]
        outcome.peak_rss_mb = _rss_peak(server.process.pid)
        if am_port is not None:
            outcome.am_failed = _am_failed(am_port)
    finally:
        prober.stop.set()
        am.close()
        _, err = server.stop()
    outcome.log_lines = len(err.splitlines())
    outcome.tracebacks = err.count("Traceback")
    _read(db, outcome)
    return outcome


def _sql(db: str, query: str) -> list[Any]:
    """Rows read straight from the database (not through the engine: an independent count)."""
    import sqlalchemy

    url = db if "://" in db else f"sqlite:///{db}"
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sqlalchemy.text(query)))
    finally:
        engine.dispose()


def _accounted(db: str) -> set[str]:
    """The alerts (by instance) that are a ticket; Alertmanager computes fingerprints of its
    own, so the instance named in the title is what ties a ticket to the alert sent."""
    rows = _sql(
        db,
        "SELECT title FROM tickets WHERE channel = 'alertmanager' UNION ALL "
        "SELECT title FROM occurrences WHERE channel = 'alertmanager'",
    )
    return {m.group(0) for (title,) in rows if (m := INSTANCE.search(title))}


def _read(db: str, outcome: Outcome) -> None:
    outcome.tickets = _sql(db, "SELECT count(*) FROM tickets WHERE channel = 'alertmanager'")[0][0]
    outcome.occurrences = _sql(
        db, "SELECT count(*) FROM occurrences WHERE channel = 'alertmanager'"
    )[0][0]
    # an alert twice: two tickets of its own, or a ticket and an occurrence
    outcome.doubled = len(
        _sql(
            db,
            "SELECT external_id FROM (SELECT external_id FROM tickets WHERE channel = "
            "'alertmanager' AND external_id NOT LIKE 'group:%' AND external_id <> 'storm' "
            "UNION ALL SELECT external_id FROM occurrences WHERE channel = 'alertmanager') a "
            "GROUP BY external_id HAVING count(*) > 1",
        )
    )
    late = _sql(
        db,
        "SELECT e.recorded_us - e.at_us FROM events e JOIN tickets t ON t.id = e.ticket_id "
        "WHERE t.channel = 'hotline' AND e.trigger = 'breach'",
    )
    outcome.lateness_ms = [r[0] / 1000 for r in late]
    outcome.breaches = len(late)
    for notifier, n in _sql(
        db, "SELECT notifier, count(*) FROM deliveries WHERE ok GROUP BY notifier"
    ):
        outcome.messages[notifier] = n
