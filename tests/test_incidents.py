"""Incidents as they really happen: recurring alerts, whole payloads, honest outcomes, closed
tickets that stay closed, and the small things (tier case, old Date headers, e-mail keywords)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import new_ticket, snapshot
from faultflow import Engine, IllegalTransition, IntakeError, InvalidInput
from faultflow.cli.app import cli
from faultflow.contract.compile import default_contract_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FINGERPRINT = "d1sk7u11a1e27"


def alert(status: str, starts: str, *, severity: str = "critical", ends: str | None = None) -> dict:
    return {
        "status": status,
        "labels": {"alertname": "DiskFull", "instance": "db1:9100", "severity": severity},
        "annotations": {"summary": "db1 的磁盘已满"},
        "startsAt": starts,
        "endsAt": ends or "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.ops.local:9090/graph",
        "fingerprint": FINGERPRINT,
    }


def hook(*alerts: dict) -> dict:
    return {"version": "4", "status": alerts[0]["status"], "receiver": "faultflow",
            "alerts": list(alerts)}  # fmt: skip


def contract_with(tmp_path: Path, **channels: dict[str, Any]) -> Path:
    """The seed contract with keys added to channel tables (made if it has none)."""
    text = default_contract_path().read_text(encoding="utf-8")
    for name, table in channels.items():
        lines = "".join(f"{k} = {json.dumps(v, ensure_ascii=False)}\n" for k, v in table.items())
        header = f"[channels.{name}]\n"
        text = text.replace(header, header + lines) if header in text else text + header + lines
    path = tmp_path / "states.toml"
    path.write_text(text, encoding="utf-8")
    return path


def close(engine: Engine, tid: str, travel: Any) -> None:
    for step in ("respond", "remote", "resolve", "report"):
        travel(minutes=2)
        engine.advance(tid, step, actor="li")


# -- 1. a recurring alert is a new incident ----------------------------------------------------


def test_an_alert_that_fires_again_a_week_later_opens_a_ticket_that_recurs_the_first(
    engine: Engine, db_path: Path, travel: Any
) -> None:
    first_start = "2026-03-02T00:58:00Z"
    (opened,) = engine.intake_all("alertmanager", hook(alert("firing", first_start)), "m")
    assert opened.outcome == "opened"
    first = opened.ticket
    travel(minutes=40)
    ended = alert("resolved", first_start, ends="2026-03-02T01:35:00Z")
    (noted,) = engine.intake_all("alertmanager", hook(ended), "m")
    assert (noted.outcome, noted.ticket.id) == ("note", first.id)
    before = snapshot(db_path)
    # the same resolved notification again (a redundant Alertmanager pair, a retry): nothing
    (again,) = engine.intake_all("alertmanager", hook(ended), "m")
    assert (again.outcome, again.ticket.id) == ("duplicate", first.id)
    assert snapshot(db_path) == before
    close(engine, first.id, travel)
    travel(days=7)
    week_later = "2026-03-09T01:20:00Z"
    (recurred,) = engine.intake_all("alertmanager", hook(alert("firing", week_later)), "m")
    assert recurred.outcome == "recurrence"
    second = recurred.ticket
    assert second.id != first.id and second.recurs == first.id
    assert second.to_dict()["recurs"] == first.id
    assert second.clocks["response"].started_at.isoformat() == "2026-03-09T09:20:00+08:00"
    assert second.history[0].data["recurs"] == first.id
    # repeats of the new incident stay idempotent
    (repeat,) = engine.intake_all("alertmanager", hook(alert("firing", week_later)), "m")
    assert (repeat.outcome, repeat.ticket.id) == ("duplicate", second.id)
    shown = CliRunner().invoke(cli, ["--db", str(db_path), "show", second.id])
    assert f"recurs {first.id}" in shown.output
    assert engine.verify().ok


def test_an_alert_that_fires_again_while_its_ticket_is_open_is_a_new_incident(
    engine: Engine, travel: Any
) -> None:
    """Fired, resolved, fired again with a new startsAt before anyone closed the ticket."""
    (a,) = engine.intake_all("alertmanager", hook(alert("firing", "2026-03-02T00:50:00Z")), "m")
    travel(minutes=5)
    engine.intake_all(
        "alertmanager",
        hook(alert("resolved", "2026-03-02T00:50:00Z", ends="2026-03-02T01:02Z")),
        "m",
    )
    (b,) = engine.intake_all("alertmanager", hook(alert("firing", "2026-03-02T01:04:00Z")), "m")
    assert (b.outcome, b.ticket.recurs) == ("recurrence", a.ticket.id)
    assert engine.get(a.ticket.id).state == "received"  # the first is left as it was


def test_the_same_start_spelt_differently_is_the_same_incident(engine: Engine) -> None:
    engine.intake_all("alertmanager", hook(alert("firing", "2026-03-02T00:58:30.123Z")), "m")
    (again,) = engine.intake_all(
        "alertmanager", hook(alert("firing", "2026-03-02T08:58:30.123000+08:00")), "m"
    )
    assert again.outcome == "duplicate"


def test_a_firing_alert_whose_ticket_was_closed_follows_the_channel_rule(
    tmp_path: Path, travel: Any
) -> None:
    """The operators closed the ticket while the alert still fires (Alertmanager repeats it
    every repeat_interval): by default a new ticket; with "note", a note, once."""
    start = "2026-03-02T00:58:00Z"
    engine = Engine.open(db=tmp_path / "a.db", clock=__import__("pendulum").now)
    (a,) = engine.intake_all("alertmanager", hook(alert("firing", start)), "m")
    close(engine, a.ticket.id, travel)
    (b,) = engine.intake_all("alertmanager", hook(alert("firing", start)), "m")
    assert (b.outcome, b.ticket.recurs) == ("recurrence", a.ticket.id)

    config = contract_with(tmp_path, alertmanager={"on_repeat_after_final": "note"})
    noting = Engine.open(db=tmp_path / "b.db", config=config, clock=__import__("pendulum").now)
    (c,) = noting.intake_all("alertmanager", hook(alert("firing", start)), "m")
    close(noting, c.ticket.id, travel)
    (d,) = noting.intake_all("alertmanager", hook(alert("firing", start)), "m")
    assert (d.outcome, d.ticket.id, d.ticket.state) == ("note", c.ticket.id, "reported")
    assert "repeated after the ticket was closed" in (d.ticket.history[-1].note or "")
    (e,) = noting.intake_all("alertmanager", hook(alert("firing", start)), "m")
    assert (e.outcome, len(e.ticket.history)) == ("duplicate", len(d.ticket.history))


def test_any_channel_reopens_a_final_external_id_as_a_recurrence(
    engine: Engine, travel: Any
) -> None:
    first = engine.intake("web", {"title": "OA 打不开", "external_id": "form-77"}, "web")
    assert engine.intake("web", {"title": "again", "external_id": "form-77"}, "web").id == first.id
    close(engine, first.id, travel)
    (again,) = engine.intake_all("web", {"title": "OA 又打不开", "external_id": "form-77"}, "web")
    assert (again.outcome, again.ticket.recurs) == ("recurrence", first.id)
    assert again.ticket.external_id == "form-77"


def test_an_unmapped_severity_takes_the_channels_default_tier_and_says_why(
    engine: Engine,
) -> None:
    """The seed contract names tier B for a severity it does not map."""
    t = engine.intake(
        "alertmanager", hook(alert("firing", "2026-03-02T00:58:00Z", severity="page"))
    )
    assert t.tier == "B"
    reason = t.history[0].data["channel_data"]["tier_reason"]
    assert reason == (
        "severity 'page' is not mapped in [channels.alertmanager] severity: default_tier B"
    )


def test_check_refuses_a_bad_repeat_rule(tmp_path: Path) -> None:
    config = contract_with(tmp_path, web={"on_repeat_after_final": "reopen"})
    done = CliRunner().invoke(cli, ["check", str(config)])
    assert done.exit_code == 1
    assert 'channels.web.on_repeat_after_final: must be "new" or "note", not \'reopen\'' in (
        done.stderr
    )


# -- 2. one payload, one unit ------------------------------------------------------------------


def test_a_group_with_a_refused_alert_writes_none_of_it(engine: Engine, db_path: Path) -> None:
    good = [dict(alert("firing", "2026-03-02T00:58:00Z"), fingerprint=f"fp{i}") for i in range(2)]
    before = snapshot(db_path)
    bad = dict(alert("firing", "yesterday"), fingerprint="fp2")
    with pytest.raises(IntakeError, match=r"^alerts\[2\]\.startsAt: 'yesterday' is not an RFC"):
        engine.intake_all("alertmanager", hook(*good, bad), "m")
    assert snapshot(db_path) == before
    # refused by the engine rather than the adapter: the item is named all the same
    future = dict(alert("firing", "2026-03-03T00:00:00Z"), fingerprint="fp2")
    with pytest.raises(IntakeError, match=r"^alerts\[2\]: occurred_at .* lies in the future"):
        engine.intake_all("alertmanager", hook(*good, future), "m")
    assert snapshot(db_path) == before
    done = engine.intake_all("alertmanager", hook(*good), "m")
    assert [r.outcome for r in done] == ["opened", "opened"]


def test_a_group_that_resolves_one_alert_and_opens_another_is_one_transaction(
    engine: Engine,
) -> None:
    engine.intake_all("alertmanager", hook(alert("firing", "2026-03-02T00:58:00Z")), "m")
    other = dict(alert("firing", "2026-03-02T00:59:00Z"), fingerprint="other")
    ended = alert("resolved", "2026-03-02T00:58:00Z", ends="2026-03-02T01:00:00Z")
    results = engine.intake_all("alertmanager", hook(ended, other), "m")
    assert [r.outcome for r in results] == ["note", "opened"]


# -- 3. say what happened ----------------------------------------------------------------------


def test_the_command_line_says_what_happened(db_path: Path) -> None:
    runner = CliRunner()
    base = ["--db", str(db_path), "--now", "2026-03-02T09:00+08:00"]
    assert runner.invoke(cli, [*base, "init"]).exit_code == 0
    payload = json.dumps(hook(alert("firing", "2026-03-02T00:58:00Z")))
    first = runner.invoke(cli, [*base, "intake", "--channel", "alertmanager", "--file", "-"],
                          input=payload)  # fmt: skip
    assert first.exit_code == 0 and first.output.startswith("opened: ")
    tid = first.output.split()[1]
    again = runner.invoke(
        cli, [*base, "intake", "--channel", "alertmanager", "--file", "-", "--json"], input=payload
    )
    said = json.loads(again.output)
    assert said["outcome"] == "duplicate" and said["ticket"]["id"] == tid
    plain = runner.invoke(
        cli, [*base, "intake", "--channel", "alertmanager", "--file", "-"], input=payload
    )
    assert plain.output.startswith(f"already open as {tid}: {tid}  received")
    other = dict(alert("firing", "2026-03-02T00:59:00Z"), fingerprint="x")
    two = json.dumps(hook(alert("firing", "2026-03-02T00:58:00Z"), other))
    both = runner.invoke(
        cli, [*base, "intake", "--channel", "alertmanager", "--file", "-", "--json"], input=two
    )
    assert [r["outcome"] for r in json.loads(both.output)["results"]] == ["duplicate", "opened"]


# -- 5. closed is closed -----------------------------------------------------------------------


def test_reclassify_of_a_closed_ticket_is_refused(
    engine: Engine, db_path: Path, travel: Any
) -> None:
    t = new_ticket(engine, "C")
    close(engine, t.id, travel)
    before = snapshot(db_path)
    with pytest.raises(IllegalTransition, match=f"ticket {t.id} is reported \\(closed\\)"):
        engine.reclassify(t.id, tier="A", reason="it was worse than we thought")
    assert snapshot(db_path) == before


# -- 7. small things ---------------------------------------------------------------------------


def test_a_tier_reads_in_any_case(engine: Engine) -> None:
    assert engine.intake("web", {"title": "x", "tier": "a"}, "web").tier == "A"
    t = engine.intake("web", {"title": "y"}, "web")
    assert engine.reclassify(t.id, tier="b", reason="worse").tier == "B"
    with pytest.raises(IntakeError, match="unknown tier 'q'"):
        engine.intake("web", {"title": "z", "tier": "q"}, "web")


def test_an_old_date_header_is_kept_but_the_clock_counts_from_receipt(engine: Engine) -> None:
    mail = (
        b"From: it@czj.example\r\nSubject: OA slow\r\nMessage-ID: <old@czj.example>\r\n"
        b"Date: Tue, 03 Mar 2020 08:00:00 +0800\r\n\r\nOA is slow.\r\n"
    )
    t = engine.intake("email", mail, "agent1")
    assert t.clocks["response"].started_at.isoformat() == "2026-03-02T09:00:00+08:00"
    data = t.history[0].data
    assert data["reported_at"] == "2020-03-03T08:00:00+08:00"
    assert "max_report_delay" in data["reported_at_ignored"]
    recent = (
        b"From: it@czj.example\r\nSubject: OA slow\r\nMessage-ID: <new@czj.example>\r\n"
        b"Date: Mon, 02 Mar 2026 07:30:00 +0800\r\n\r\nOA is slow.\r\n"
    )
    assert engine.intake("email", recent, "agent1").clocks["response"].started_at.hour == 7


def test_an_email_gets_the_chat_keywords(engine: Engine) -> None:
    mail = (
        "From: it@czj.example\r\nSubject: =?utf-8?b?"
        + __import__("base64").b64encode("【紧急】财政局OA系统宕机，全部中断".encode()).decode()
        + "?=\r\nMessage-ID: <k@czj.example>\r\n\r\n请处理\r\n"
    ).encode()
    assert engine.intake("email", mail, "agent1").tier == "A"


# -- 4. late entries ---------------------------------------------------------------------------


def _dispatched(engine: Engine, travel: Any) -> str:
    """A tier A ticket, dispatched at 09:05: the engineer must be on site by 10:05."""
    t = new_ticket(engine, "A")
    travel(minutes=3)
    engine.advance(t.id, "respond", actor="li")
    travel(minutes=2)
    engine.advance(t.id, "dispatch", actor="li")
    return t.id


def test_an_arrival_logged_late_withdraws_the_breach_the_sweeper_recorded(
    engine: Engine, db_path: Path, travel: Any
) -> None:
    tid = _dispatched(engine, travel)
    travel(minutes=75)  # 10:20: the sweeper records the arrival breach (due 10:05)
    # (the warning, due 09:53, is dropped: the breach is already due when the sweep runs)
    assert [(f.clock, f.event) for f in engine.tick()] == [("arrival", "breach")]
    travel(hours=5, minutes=40)  # 16:00: the engineer types "arrived 10:00"
    before = snapshot(db_path)
    with pytest.raises(InvalidInput, match="a late entry needs --note or --reason"):
        engine.advance(tid, "arrive", actor="wang", at="10:00")
    with pytest.raises(InvalidInput, match=r"before the ticket's latest change \(dispatch at"):
        engine.advance(tid, "arrive", actor="wang", at="09:04", note="arrived")
    assert snapshot(db_path) == before
    t = engine.advance(
        tid, "arrive", actor="wang", at="10:00", note="on site at 10:00, logged late"
    )
    arrival = t.clocks["arrival"]
    assert (arrival.status, arrival.breached) == ("stopped", False)
    assert arrival.stopped_at.isoformat() == "2026-03-02T10:00:00+08:00"
    assert t.clocks["resolution"].started_at.isoformat() == "2026-03-02T10:00:00+08:00"
    withdrawn = [e for e in t.history if e.trigger == "withdrawn"]
    assert [(e.data["clock"], e.data["alarm"]) for e in withdrawn] == [("arrival", "breach")]
    breach = next(e for e in t.history if e.trigger == "breach")
    assert withdrawn[0].data["withdraws"] == breach.seq and withdrawn[0].actor == "wang"
    assert "entered late" in (withdrawn[0].note or "")
    assert engine.verify().ok
    # notified as the breach was: subscribers of "breach" hear that it was withdrawn
    import sqlite3

    conn = sqlite3.connect(db_path)
    kinds = conn.execute(
        "SELECT kind, payload FROM outbox WHERE ticket_id = ? ORDER BY id", (tid,)
    ).fetchall()
    conn.close()
    assert any(k == "breach" and '"event": "withdrawn"' in p for k, p in kinds)
    report = engine.report("2026-03-02", "2026-03-03")
    arrival_line = report.totals()["arrival"]
    assert (arrival_line.met, arrival_line.breached) == (1, 0)
    assert [(w.ticket, w.clock, w.alarm) for w in report.withdrawn] == [(tid, "arrival", "breach")]


def test_the_truth_does_not_depend_on_whether_a_sweeper_ran(tmp_path: Path, travel: Any) -> None:
    import pendulum

    swept = Engine.open(db=tmp_path / "swept.db", clock=pendulum.now)
    idle = Engine.open(db=tmp_path / "idle.db", clock=pendulum.now)
    a, b = _dispatched(swept, travel), None
    travel(minutes=-5)
    b = _dispatched(idle, travel)
    travel(minutes=75)
    swept.tick()  # only one of them had a scheduler running
    travel(hours=5)
    one = swept.advance(a, "arrive", actor="wang", at="10:00", note="logged late")
    two = idle.advance(b, "arrive", actor="wang", at="10:00", note="logged late")
    for name in ("arrival", "resolution"):
        x, y = one.clocks[name], two.clocks[name]
        assert (x.status, x.breached, x.stopped_at, x.due_at) == (
            y.status,
            y.breached,
            y.stopped_at,
            y.due_at,
        )


def test_a_late_entry_older_than_the_backdate_limit_is_refused(
    engine: Engine, db_path: Path, travel: Any
) -> None:
    tid = _dispatched(engine, travel)
    travel(days=2)
    before = snapshot(db_path)
    with pytest.raises(InvalidInput, match=r"more than 1 d before now .*backdate_limit"):
        engine.advance(tid, "arrive", actor="wang", at=START_PLUS_1H, note="two days late")
    assert snapshot(db_path) == before


START_PLUS_1H = "2026-03-02T10:00+08:00"


def test_a_warning_that_no_longer_holds_is_withdrawn(engine: Engine, travel: Any) -> None:
    tid = _dispatched(engine, travel)
    travel(minutes=50)  # 09:55: 80% of the hour used at 09:53
    assert [(f.clock, f.event) for f in engine.tick()] == [("arrival", "warning")]
    travel(minutes=10)
    t = engine.advance(tid, "arrive", actor="wang", at="09:30", reason="radio log")
    assert [(e.data["clock"], e.data["alarm"]) for e in t.history if e.trigger == "withdrawn"] == [
        ("arrival", "warning")
    ]
    assert engine.verify().ok


STEPS = ("respond", "dispatch", "arrive", "resolve", "report")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.integers(1, 120), st.booleans(), st.integers(0, 90)), min_size=1, max_size=6
    )
)
def test_late_entries_and_alarms_replay_to_the_clocks_the_engine_wrote(
    tmp_path_factory: Any, moves: list[tuple[int, bool, int]]
) -> None:
    """For any interleaving of sweeps and steps entered late, recomputing from the whole
    history (what `verify` does) gives the clocks the incremental path wrote."""
    import pendulum
    from conftest import START

    now = [START]
    db = tmp_path_factory.mktemp("late") / "ff.db"
    engine = Engine.open(db=db, clock=lambda: now[0])
    t = engine.intake("hotline", {"title": "x", "tier": "A"}, "agent1")
    done = 0
    for minutes, sweep, back in moves:
        now[0] = now[0] + pendulum.duration(minutes=minutes)
        if sweep:
            engine.tick()
        if done < len(STEPS):
            at = now[0] - pendulum.duration(minutes=back)
            try:
                engine.advance(t.id, STEPS[done], actor="li", at=at, note="entered late")
                done += 1
            except InvalidInput:
                pass  # before the latest change: refused, nothing written
    result = engine.verify()
    assert result.ok, result.broken
    engine.close()


def test_the_alertmanager_api_list_can_be_piped_in(db_path: Path) -> None:
    """`curl -s :9093/api/v2/alerts | faultflow intake --channel alertmanager --file -`: the
    API's list of alerts (GettableAlert) is read as firing alerts."""
    listed = [
        {
            "annotations": {"summary": "db1 的磁盘已满"},
            "endsAt": "2026-03-02T01:10:00.000Z",
            "fingerprint": "4a1e3f0c9b7d2e55",
            "receivers": [{"name": "faultflow"}],
            "startsAt": "2026-03-02T00:55:00.000Z",
            "status": {"inhibitedBy": [], "silencedBy": [], "state": "active"},
            "updatedAt": "2026-03-02T00:55:00.000Z",
            "generatorURL": "http://prometheus:9090/graph",
            "labels": {"alertname": "DiskFull", "instance": "db1", "severity": "critical"},
        }
    ]
    runner = CliRunner()
    base = ["--db", str(db_path), "--now", "2026-03-02T09:00+08:00"]
    assert runner.invoke(cli, [*base, "init"]).exit_code == 0
    done = runner.invoke(
        cli, [*base, "intake", "--channel", "alertmanager", "--file", "-", "--json"],
        input=json.dumps(listed),
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    said = json.loads(done.stdout)
    assert said["outcome"] == "opened" and said["ticket"]["tier"] == "A"


def test_the_api_list_piped_back_matches_the_webhooks_alerts_to_the_millisecond(
    engine: Engine,
) -> None:
    """Alertmanager's webhook gives startsAt to the nanosecond, its API to the millisecond: the
    same alert read both ways is one incident (piping the API's list back in once opened a
    'recurrence' for every alert already open)."""
    def hook(starts: str, status: str = "firing") -> dict[str, Any]:
        return {
            "version": "4", "status": status, "receiver": "faultflow", "groupLabels": {},
            "alerts": [{
                "status": status, "fingerprint": "77aa00bb11cc22dd", "startsAt": starts,
                "endsAt": "0001-01-01T00:00:00Z",
                "labels": {"alertname": "LinkDown", "severity": "major"},
                "annotations": {"summary": "专线 ZJ-0042 中断"},
            }],
        }  # fmt: skip

    (opened,) = engine.intake_all("alertmanager", hook("2026-03-02T00:58:30.123456789Z"))
    assert opened.outcome == "opened"
    api = [{
        "fingerprint": "77aa00bb11cc22dd", "startsAt": "2026-03-02T00:58:30.123Z",
        "endsAt": "2026-03-02T01:13:30.123Z", "status": {"state": "active"},
        "labels": {"alertname": "LinkDown", "severity": "major"},
        "annotations": {"summary": "专线 ZJ-0042 中断"},
    }]  # fmt: skip
    (again,) = engine.intake_all("alertmanager", json.dumps(api))
    assert (again.outcome, again.ticket.id) == ("duplicate", opened.ticket.id)
    assert len(engine.list()) == 1


def test_a_resolved_alert_of_another_incident_is_noted_not_dropped(engine: Engine) -> None:
    """A 'resolved' whose startsAt matches no ticket of its fingerprint (an incident that fired
    while faultflow was away) once vanished with 200 and no trace: it is noted on the newest
    ticket of that alert, saying so."""
    firing = {
        "version": "4", "status": "firing", "receiver": "faultflow", "groupLabels": {},
        "alerts": [{"status": "firing", "fingerprint": "0f0f0f0f0f0f0f0f",
                    "startsAt": "2026-03-02T00:50:00Z", "endsAt": "0001-01-01T00:00:00Z",
                    "labels": {"alertname": "DiskFull", "severity": "warning"},
                    "annotations": {"summary": "db2 磁盘将满"}}],
    }  # fmt: skip
    (opened,) = engine.intake_all("alertmanager", firing)
    resolved = json.loads(json.dumps(firing))
    resolved["status"] = resolved["alerts"][0]["status"] = "resolved"
    resolved["alerts"][0]["startsAt"] = "2026-03-02T00:20:00Z"  # another, earlier incident
    resolved["alerts"][0]["endsAt"] = "2026-03-02T00:40:00Z"
    (noted,) = engine.intake_all("alertmanager", resolved)
    assert (noted.outcome, noted.ticket.id) == ("note", opened.ticket.id)
    note = engine.get(opened.ticket.id).history[-1].note or ""
    assert "of an incident this ticket does not know" in note
