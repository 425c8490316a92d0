"""Compliance reports (SQL) against a hand count, in four formats; the customer's handling
report; the HTML rendered in a real headless Chromium."""

from __future__ import annotations

import csv
import io
import json
import re
import struct
import zlib
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import START, new_ticket
from faultflow import Engine, InvalidInput
from faultflow.reports.html import render
from faultflow.reports.render import table, to_csv


def scenario(engine: Engine, travel: Any) -> dict[str, str]:
    """Three tickets whose outcomes are known by construction."""
    a = new_ticket(engine, "A")  # responded in 10 min: met
    b = new_ticket(engine, "B")  # responded in 40 min: breached by 10 min
    c = new_ticket(engine, "C")  # cancelled: counted apart
    travel(minutes=10)
    engine.advance(a.id, "respond", actor="li")
    engine.advance(c.id, "cancel", actor="li", reason="duplicate")
    travel(minutes=30)
    engine.advance(b.id, "respond", actor="li")
    engine.advance(a.id, "dispatch", actor="li")  # arrival starts 09:40, still open
    return {"a": a.id, "b": b.id, "c": c.id}


def test_report_matches_the_hand_count(engine: Engine, travel: Any) -> None:
    ids = scenario(engine, travel)
    r = engine.report(START - timedelta(hours=1), START + timedelta(hours=1))
    lines = {(x.clock, x.tier): x for x in r.lines}
    assert set(lines) == {("response", "A"), ("response", "B"), ("arrival", "A")}
    ra, rb, aa = lines["response", "A"], lines["response", "B"], lines["arrival", "A"]
    assert (ra.total, ra.met, ra.breached, ra.open, ra.compliance) == (1, 1, 0, 0, 100.0)
    assert (rb.total, rb.met, rb.breached, rb.compliance) == (1, 0, 1, 0.0)
    assert rb.worst_overrun == timedelta(minutes=10) and rb.median == timedelta(minutes=40)
    assert (aa.total, aa.open, aa.compliance) == (1, 1, None)
    assert (r.tickets, r.cancelled) == (3, 1)
    assert r.channels == {"web": 3}
    assert [(b.ticket, b.clock) for b in r.breaches] == [(ids["b"], "response")]
    assert r.breaches[0].overrun == timedelta(minutes=10)
    assert r.totals()["response"].compliance == 50.0


def test_a_clock_belongs_to_the_period_it_started_in(engine: Engine, travel: Any) -> None:
    new_ticket(engine, "B")
    travel(hours=2)
    assert engine.report(START + timedelta(hours=1), START + timedelta(hours=3)).lines == []
    with pytest.raises(InvalidInput, match="the period is empty"):
        engine.report(START, START - timedelta(days=1))


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, datetime, datetime]:
    """A month of the demo on a fresh database (the same simulation `faultflow demo` runs),
    made once for the module: its tests only read it."""
    from faultflow.cli.simulation import simulate

    end = datetime(2026, 3, 31, 18, 0, tzinfo=START.tzinfo)
    clock = [end]
    db = tmp_path_factory.mktemp("month") / "month.db"
    engine = Engine.open(db=db, clock=lambda: clock[0])
    outcome = simulate(engine, clock, 30, seed=11)
    return engine, outcome.start, outcome.end


def test_a_month_agrees_across_formats_and_with_a_hand_count(month: Any) -> None:
    engine, start, end = month
    r = engine.report(start, end)
    now = engine.now()
    # the hand count: every ticket read through the library, counted here in Python
    hand: Counter[tuple[str, str, str]] = Counter()
    for t in engine.list():
        full = engine.get(t.id)
        if full.state == "cancelled":
            continue
        for name, clock in full.clocks.items():
            if not start <= clock.started_at < end:
                continue
            decided = clock.status == "stopped" or clock.breached
            outcome = "breached" if clock.breached else "met" if decided else "open"
            hand[(name, full.tier, outcome)] += 1
    assert now >= end
    for line in r.lines:
        assert line.met == hand[(line.clock, line.tier, "met")], line
        assert line.breached == hand[(line.clock, line.tier, "breached")], line
        assert line.open == hand[(line.clock, line.tier, "open")], line
    assert sum(x.total for x in r.lines) == sum(hand.values()) > 500
    # JSON
    data = json.loads(json.dumps(r.to_dict()))
    assert [(c["clock"], c["tier"], c["met"], c["breached"]) for c in data["clocks"]] == [
        (x.clock, x.tier, x.met, x.breached) for x in r.lines
    ]
    # CSV
    rows = [row for row in csv.reader(io.StringIO(to_csv(r))) if row and row[0] == "clock"]
    assert [(x[1], x[2], int(x[4]), int(x[5])) for x in rows] == [
        (x.clock, x.tier, x.met, x.breached) for x in r.lines
    ]
    breach_rows = [row for row in csv.reader(io.StringIO(to_csv(r))) if row[:1] == ["breach"]]
    assert len(breach_rows) - 1 == len(r.breaches) == sum(x.breached for x in r.lines)
    # table and HTML show the same compliance figures
    text, page = table(r), render(r)
    for x in r.lines:
        if x.compliance is not None:
            assert f"{x.compliance:.1f}%" in text and f"{x.compliance:.1f}%" in page


def test_a_month_of_the_demo_keeps_its_inspection_rounds(month: Any) -> None:
    engine, start, end = month
    rounds = engine.rounds(start, end)
    statuses = Counter(r.status for r in rounds)
    assert statuses["done"] > statuses["late"] > 0 and statuses["missed"] > 0, statuses
    findings = [f for r in rounds for f in r.findings]
    assert len(findings) >= 2
    for f in findings:
        ticket = engine.get(f["ticket"])
        assert ticket.channel == "inspection" and ticket.state != "received"  # dealt with
    missed = [r for r in rounds if r.status in ("missed", "late")]
    assert all(r.ticket and engine.get(r.ticket).channel == "inspection" for r in missed)
    report = engine.report(start, end)
    assert sum(x.missed for x in report.inspections) == statuses["missed"]
    assert {f.ticket for f in report.findings} == {f["ticket"] for f in findings}


def test_csv_and_json_from_the_command_line(month: Any, tmp_path: Path) -> None:
    from click.testing import CliRunner
    from faultflow.cli.app import cli

    engine, start, end = month
    db = engine.store.url
    runner = CliRunner()
    args = [
        "--db",
        db,
        "--now",
        end.isoformat(),
        "report",
        "--from",
        start.isoformat(),
        "--to",
        end.isoformat(),
    ]
    out = runner.invoke(cli, [*args, "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["tickets"] == engine.report(start, end).tickets
    target = tmp_path / "r.csv"
    out = runner.invoke(cli, [*args, "--format", "csv", "--out", str(target)])
    assert out.exit_code == 0 and target.read_text(encoding="utf-8").startswith("section,clock")
    bad = runner.invoke(cli, [*args, "--format", "md"])
    assert bad.exit_code == 2


def png_pixels(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the raw (filtered) scanlines of a PNG, with the standard library."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def test_html_report_renders_in_headless_chromium(
    month: Any, tmp_path: Path, chromium: Any
) -> None:
    """The file as a browser draws it (Playwright waits for the page before the screenshot)."""
    engine, start, end = month
    page = tmp_path / "report.html"
    page.write_text(render(engine.report(start, end)), encoding="utf-8")
    text = page.read_text(encoding="utf-8")
    assert "<script" not in text and "http://" not in text.replace("http://www.w3.org", "")
    assert text.count("<svg") >= 6  # five promises and the weekly chart
    shot = tmp_path / "shot.png"
    tab = chromium.new_page(viewport={"width": 1100, "height": 1400})
    tab.goto(page.as_uri())
    assert tab.locator("h1").inner_text() == "SLA 合规报告"  # the contract's language
    assert tab.locator("svg").count() >= 6 and tab.locator("svg").first.bounding_box()
    tab.screenshot(path=str(shot))
    width, height, raw = png_pixels(shot)
    assert (width, height) == (1100, 1400)
    # a blank page is one colour: its scanlines hold a handful of distinct bytes
    assert len(set(raw)) > 64
    assert raw.count(0) < 0.97 * len(raw)


def test_handling_report_reads_well(engine: Engine, travel: Any) -> None:
    t = engine.intake(
        "hotline",
        {
            "summary": "核心交换机宕机",
            "tier": "A",
            "caller": "Wang",
            "unit": "市财政局",
            "number": "0374-1",
        },
        actor="agent1",
    )
    for step, minutes in (("respond", 5), ("dispatch", 5), ("arrive", 40)):
        travel(minutes=minutes)
        engine.advance(t.id, step, actor="li")
    travel(hours=5, minutes=10)
    engine.advance(t.id, "substitute", actor="li", note="spare S5720 of the same model")
    travel(hours=2)
    engine.advance(t.id, "report", actor="zhao", attach_report=True)
    md = engine.handling_report(t.id)  # in the contract's language: Chinese (P11)
    assert md.startswith(f"# 故障处理报告 — {t.id}")
    assert "| 承诺 | 时限 | 开始 | 期限 | 完成 | 结果 |" in md
    assert "按时完成（提前 10 分钟）" in md and "超时 10 分钟" in md
    assert "## 补救措施：已替换备件" in md
    en = engine.handling_report(t.id, lang="en")
    assert en.startswith(f"# Handling report — {t.id}")
    assert "| respond to you | 15 min |" in en and "## Remedy: spare part in place" in en
    assert "met (10 min to spare)" in en and "missed by 10 min" in en
    assert not re.search(r"\b(respond|received|resolution|stopped|running)\b", md)
    for said in (md, en):
        # the customer's report names no one of the staff (docs/web.md)
        assert not re.search(r"\b(agent1|li|zhao)\b", said)
        assert "spare S5720 of the same model" in said
    with pytest.raises(InvalidInput, match="language 'fr'"):
        engine.handling_report(t.id, lang="fr")
    page = engine.handling_report(t.id, "html")
    assert "<table>" in page and "spare S5720" in page
    attached = engine.get(t.id).history[-1].data["handling_report"]
    assert "## 补救措施：已替换备件" in attached  # the report as sent, inside the hash chain
    assert engine.verify().ok


def test_the_handling_report_is_rendered_outside_the_write(
    engine: Engine, db_path: Any, travel: Any, monkeypatch: Any
) -> None:
    """Rendering holds no transaction: another process may change the ticket meanwhile, and
    then the report step is refused as a conflict and writes nothing."""
    from conftest import snapshot
    from faultflow import ConcurrentUpdate
    from faultflow.reports import handling

    t = engine.intake("hotline", {"summary": "switch down", "tier": "B"}, actor="agent1")
    for step in ("respond", "remote", "resolve"):
        travel(minutes=5)
        engine.advance(t.id, step, actor="li")
    other = Engine.open(db=db_path)
    render = handling.markdown

    def meanwhile(view: Any, contract: Any) -> str:
        other.reclassify(t.id, tier="A", reason="the unit calls it severe", actor="wang")
        return render(view, contract)

    monkeypatch.setattr(handling, "markdown", meanwhile)
    before = snapshot(db_path)
    with pytest.raises(ConcurrentUpdate):
        engine.advance(t.id, "report", actor="zhao", attach_report=True)
    after = snapshot(db_path)
    assert len(after["events"]) == len(before["events"]) + 1  # the other's reclassify, only
    triggers = [e.trigger for e in engine.get(t.id).history]
    assert triggers[-1] == "reclassify" and "report" not in triggers
    assert engine.get(t.id).state == "resolved"
    other.close()
