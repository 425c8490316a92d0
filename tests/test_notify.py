"""Notifications: the outbox delivered to each notifier once, with retries, over real HTTP."""

from __future__ import annotations

import copy
import json
import logging
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import new_ticket
from faultflow import Engine, hookimpl
from faultflow.contract.compile import compile_contract, default_contract_path
from faultflow.registry import discover


class Receiver:
    """A real HTTP server on 127.0.0.1 that records POSTs and answers as scripted."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.answers: list[tuple[int, bytes]] = []  # popped per request; default 200 {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                code, body = receiver.answers.pop(0) if receiver.answers else (200, b"{}")
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def contract_with(notifiers: dict[str, Any]) -> Any:
    data = copy.deepcopy(tomllib.loads(default_contract_path().read_text(encoding="utf-8")))
    data["notifiers"] = notifiers
    return compile_contract(data)


def open_engine(db_path: Path, notifiers: dict[str, Any], *extra: Any) -> Engine:
    return Engine.open(db=db_path, config=contract_with(notifiers), registry=discover(extra=extra))


def attempts(engine: Engine) -> list[tuple[str, int, bool]]:
    with engine.store.unit() as u:
        return u.cursor.execute(
            "SELECT notifier, attempt, ok FROM deliveries ORDER BY id"
        ).fetchall()


def test_breach_and_escalation_reach_the_webhook_once(
    db_path: Path, travel: Any, receiver: Receiver
) -> None:
    engine = open_engine(
        db_path,
        {"duty": {"use": "webhook", "url": receiver.url, "events": ["breach", "escalation"]}},
    )
    t = new_ticket(engine, "A")
    travel(minutes=16)
    engine.tick()
    engine.tick()
    kinds = [(b["kind"], b["ticket"], b.get("clock")) for b in receiver.bodies]
    assert kinds == [("breach", t.id, "response"), ("escalation", t.id, "response")]
    assert receiver.bodies[1]["recipients"] == [
        "agent1",
        "duty-engineer",
        "customer-manager",
        "project-director",
    ]
    assert attempts(engine) == [("duty", 1, 1), ("duty", 1, 1)]


def test_failures_are_retried_with_backoff_and_every_attempt_recorded(
    db_path: Path, travel: Any, receiver: Receiver
) -> None:
    engine = open_engine(
        db_path,
        {
            "duty": {"use": "webhook", "url": receiver.url, "events": ["transition"]},
            "log": {"events": ["transition"]},
        },
    )
    receiver.answers = [(500, b"{}"), (502, b"{}")]
    t = new_ticket(engine, "C")
    engine.tick()  # attempt 1: 500
    travel(seconds=10)
    engine.tick()  # within the 30 s backoff: nothing
    travel(seconds=25)
    engine.tick()  # attempt 2: 502
    travel(seconds=61)
    engine.tick()  # attempt 3: delivered
    travel(minutes=10)
    engine.tick()  # done: nothing more
    assert [b["ticket"] for b in receiver.bodies] == [t.id] * 3
    assert attempts(engine) == [("duty", 1, 0), ("log", 1, 1), ("duty", 2, 0), ("duty", 3, 1)]
    with engine.store.unit() as u:
        errors = [
            r[0] for r in u.cursor.execute("SELECT error FROM deliveries WHERE ok = 0 ORDER BY id")
        ]
    assert errors == [
        f"RuntimeError: HTTP 500 from {receiver.url}",
        f"RuntimeError: HTTP 502 from {receiver.url}",
    ]


class Exploding:
    name = "exploding"

    def notify(self, notification: Any, config: Any) -> None:
        raise ConnectionError("pager gateway down")


class ExplodingPlugin:
    @hookimpl
    def register_notifiers(self, register: Any) -> None:
        register(Exploding())


def test_a_failing_notifier_affects_neither_tickets_nor_other_notifiers(
    db_path: Path, travel: Any, receiver: Receiver
) -> None:
    engine = open_engine(
        db_path,
        {
            "pager": {"use": "exploding", "events": ["transition"]},
            "duty": {"use": "webhook", "url": receiver.url, "events": ["transition"]},
        },
        ExplodingPlugin(),
    )
    t = new_ticket(engine, "C")
    t = engine.advance(t.id, "respond", actor="li")
    assert t.state == "responded"
    engine.tick()
    assert [b["event"] for b in receiver.bodies] == ["intake", "respond"]
    rows = attempts(engine)
    assert ("pager", 1, 0) in rows and rows.count(("duty", 1, 1)) == 2


def test_wecom_format_and_its_error_codes(db_path: Path, travel: Any, receiver: Receiver) -> None:
    engine = open_engine(
        db_path,
        {"group": {"use": "webhook", "url": receiver.url, "format": "wecom", "events": ["breach"]}},
    )
    receiver.answers = [(200, b'{"errcode": 45009, "errmsg": "api freq out of limit"}')]
    new_ticket(engine, "A", title="核心交换机宕机")
    travel(minutes=16)
    engine.tick()
    travel(seconds=31)
    engine.tick()
    first = receiver.bodies[0]
    assert first["msgtype"] == "markdown"
    assert "超时 breach" in first["markdown"]["content"]
    assert "核心交换机宕机" in first["markdown"]["content"]
    assert [ok for _, _, ok in attempts(engine)] == [0, 1]  # the rate limit: retried
    # an invalid webhook key is given up at once, not retried eight times
    receiver.answers = [(200, b'{"errcode": 93000, "errmsg": "invalid webhook url"}')]
    new_ticket(engine, "A", title="出口防火墙故障")
    travel(minutes=16)
    engine.tick()
    for _ in range(3):
        travel(minutes=10)
        engine.tick()
    tried = attempts(engine)[2:]
    assert [ok for _, _, ok in tried] == [0]
    with engine.store.unit() as u:
        error = u.cursor.execute("SELECT error FROM deliveries ORDER BY id DESC").fetchone()[0]
    assert error.startswith("refused for good: WeCom: errcode 93000")


def test_unknown_notifier_plugin_is_recorded_not_raised(db_path: Path, travel: Any) -> None:
    engine = open_engine(db_path, {"sms": {"use": "sms-gateway", "events": ["transition"]}})
    new_ticket(engine)
    engine.tick()
    with engine.store.unit() as u:
        error = u.cursor.execute("SELECT error FROM deliveries").fetchone()[0]
    assert error == "no notifier plugin 'sms-gateway' is installed (see `faultflow channels`)"


def test_the_log_notifier_writes_one_json_line(
    db_path: Path, travel: Any, caplog: pytest.LogCaptureFixture
) -> None:
    engine = open_engine(db_path, {"log": {"events": ["warning", "breach", "escalation"]}})
    t = new_ticket(engine, "B")
    travel(minutes=25)
    with caplog.at_level(logging.INFO, logger="faultflow.notify"):
        engine.tick()
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "faultflow.notify"]
    assert [(x["kind"], x["ticket"], x["clock"]) for x in lines] == [("warning", t.id, "response")]


def test_no_notifier_no_outbox_rows(engine: Engine, travel: Any) -> None:
    """The seed contract's log notifier wants alarms only: transitions write no outbox row."""
    t = new_ticket(engine, "C")
    engine.advance(t.id, "respond", actor="li")
    with engine.store.unit() as u:
        assert u.cursor.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0


# -- broken plugins are reported by name and do not stop the others ------------------------------


class BadReturn:
    @hookimpl
    def register_channels(self, register: Any) -> None:
        register(object())


class Crashing:
    @hookimpl
    def register_channels(self, register: Any) -> None:
        raise RuntimeError("boom")


def test_broken_plugins_are_reported_by_name() -> None:
    registry = discover(extra=(BadReturn(), Crashing()))
    assert len(registry.broken) == 2
    messages = " | ".join(registry.broken.values())
    assert "which is not a channel" in messages and "RuntimeError: boom" in messages
    assert "hotline" in registry.channels  # the others still load


def test_a_plugin_that_cannot_be_imported_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    import faultflow.registry as registry_module

    real = metadata.entry_points(group="faultflow")
    broken = metadata.EntryPoint(name="fax", value="faultflow_fax_not_installed", group="faultflow")
    monkeypatch.setattr(registry_module.metadata, "entry_points", lambda group: [*real, broken])
    registry = discover()
    assert registry.broken == {
        "fax": "cannot load: ModuleNotFoundError: No module named 'faultflow_fax_not_installed'"
    }
    assert len(registry.channels) == 6 and set(registry.notifiers) == {"email", "log", "webhook"}


def test_faultflow_plugins_limits_what_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAULTFLOW_PLUGINS", "hotline,log")
    registry = discover()
    assert set(registry.channels) == {"hotline"} and set(registry.notifiers) == {"log"}
