"""The monthly service report (月度运维服务报告): a month of the contract as the customer files it
— its figures, tickets by tier, channel and unit, outages and downtime, inspections, planned
maintenance, follow-ups, spares, experience entries and every promise — as JSON, Markdown, HTML
and a PDF opened and read back with a PDF reader; mailed on the first working day."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pendulum
import pytest
from click.testing import CliRunner
from conftest import START
from faultflow import Engine, InvalidInput, UnknownEntry
from faultflow.cli.app import cli
from faultflow.network.sheets import example

ROOT = Path(__file__).resolve().parents[1]
PEOPLE = ROOT / "people.toml"
CORE = "2102351931DMH4000123"  # cg-gov-core, unit CG-GOV


def _month(engine: Engine, travel: Any) -> dict[str, str]:
    """March 2026 at the example registry's units: an outage at the core switch (reported
    twice, merged), a fault fixed in time and followed up, one late and rated low, a night of
    planned work; then April the 1st."""
    made: dict[str, str] = {}
    core = engine.intake("hotline", {"title": "核心交换机宕机", "tier": "A", "device": CORE}, "d")
    again = engine.intake("web", {"title": "政府网站打不开", "tier": "A", "device": CORE}, "p")
    engine.merge(again.id, core.id, actor="li")
    for trigger in ("respond", "dispatch", "arrive"):
        travel(minutes=10)
        engine.advance(core.id, trigger, actor="li")
    travel(hours=2)
    engine.advance(core.id, "resolve", actor="li")
    engine.advance(core.id, "report", actor="li")
    made["core"] = core.id
    quick = engine.intake("hotline", {"title": "打印机", "tier": "C", "unit": "CG-FIN"}, "d")
    for trigger in ("respond", "remote", "resolve", "report"):
        engine.advance(quick.id, trigger, actor="wang")
    engine.followup(quick.id, 5, "很满意", actor="zhou")
    slow = engine.intake("hotline", {"title": "VPN 无法接入", "tier": "B", "unit": "CG-GOV"}, "d")
    travel(hours=1)
    for trigger in ("respond", "remote", "resolve", "report"):
        engine.advance(slow.id, trigger, actor="li")
    made["review"] = engine.followup(slow.id, 1, "太慢了", actor="zhou").review or ""
    travel(days=3)
    night = pendulum.now().replace(hour=22, minute=0)
    engine.maintenance_add(night, night.add(hours=2), "unit:CG-HALL", "割接", actor="li")
    travel(days=27)  # April 1st, 09:00 (a Wednesday)
    engine.tick()
    return made


@pytest.fixture
def engine(db_path: Path, travel: Any) -> Engine:
    e = Engine.open(db=db_path, clock=pendulum.now, people=PEOPLE)
    assert not e.import_registry(example(), actor="li").problems
    return e


def test_the_months_figures(engine: Engine, travel: Any) -> None:
    made = _month(engine, travel)
    m = json.loads(str(engine.monthly_report("2026-03", fmt="json")))
    s = m["summary"]
    assert m["month"] == "2026-03" and m["customer"] == engine.contract.name
    assert s["tickets"] == 5  # every report that came in (the merged one and the review too)
    assert m["tiers"] == {"A": 1, "B": 1, "C": 2}  # the outage once; the review is tier C
    assert s["outages"] == 1 and s["promises_broken"] >= 1
    (down,) = m["downtime"]
    assert (down["unit"], down["outages"], down["open"]) == ("CG-GOV", 1, 0)
    assert down["down_s"] == (30 + 120) * 60  # reported 09:00, resolved 11:30
    assert (s["followups"], s["satisfaction"]) == (2, 3.0)
    assert s["maintenance"] == 1 and s["kb_added"] == 3  # one draft from each closed report
    assert m["report"]["outages"][0]["ticket"] == made["core"]
    assert made["review"]
    unit = json.loads(str(engine.monthly_report("2026-03", "CG-FIN", "json")))
    assert unit["unit_name"] == "长葛市财政局" and unit["summary"]["tickets"] == 1


def test_the_pdf_is_a_document_a_customer_files(engine: Engine, travel: Any) -> None:
    import pypdf

    _month(engine, travel)
    document = engine.monthly_report("2026-03", fmt="pdf")
    assert isinstance(document, bytes) and document.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(document))
    assert 2 <= len(reader.pages) <= 20
    first = reader.pages[0].extract_text()
    assert "月度运维服务报告" in first and "2026-03" in first
    assert "本月概况" in first and "长葛市人民政府办公室" in first  # the unit that was down
    text = "".join(p.extract_text() for p in reader.pages)
    assert "服务承诺" in text and "计划内维护" in text and "服务回访与满意度" in text
    fonts = {str(f.get("/BaseFont", "")) for p in reader.pages
             for f in (p.get("/Resources", {}).get("/Font", {}) or {}).values()
             for f in [f.get_object()]}  # fmt: skip
    assert any("CJK" in f for f in fonts), fonts  # the Chinese font is in the file itself
    english = pypdf.PdfReader(io.BytesIO(engine.monthly_report("2026-03", fmt="pdf", lang="en")))
    assert "Monthly service report" in english.pages[0].extract_text()


def test_html_and_markdown(engine: Engine, travel: Any) -> None:
    _month(engine, travel)
    html = str(engine.monthly_report("2026-03", fmt="html"))
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html
    assert "@page" in html and "counter(pages)" in html  # laid out for A4, numbered
    assert "<svg" in html  # its charts
    md = str(engine.monthly_report("2026-03", fmt="md", lang="en"))
    assert md.startswith("# Monthly service report") and "- Outages: 1" in md


def test_bad_requests_are_refused(engine: Engine, db_path: Path) -> None:
    for month, words in (("2026-13", "YYYY-MM"), ("March", "YYYY-MM"), ("2027-01", "not begun")):
        with pytest.raises(InvalidInput, match=words):
            engine.monthly_report(month)
    with pytest.raises(UnknownEntry, match="no unit"):
        engine.monthly_report("2026-03", "NOPE")
    run = CliRunner()
    base = ["--db", str(db_path), "--now", START.isoformat()]
    nofile = run.invoke(cli, [*base, "report", "--month", "2026-03", "--format", "pdf"])
    assert nofile.exit_code == 2 and "--out" in nofile.stderr
    mixed = run.invoke(cli, [*base, "report", "--month", "2026-03", "--from", "-1d"])
    assert mixed.exit_code == 2


def test_the_cli_writes_the_pdf(engine: Engine, travel: Any, db_path: Path, tmp_path: Path) -> None:
    import pypdf

    _month(engine, travel)
    out = tmp_path / "2026-03.pdf"
    base = ["--db", str(db_path), "--now", pendulum.now().isoformat()]
    done = CliRunner().invoke(cli, [*base, "report", "--month", "2026-03", "--format", "pdf",
                                    "--out", str(out)])  # fmt: skip
    assert done.exit_code == 0, done.stderr
    assert len(pypdf.PdfReader(out).pages) >= 2
    md = CliRunner().invoke(cli, [*base, "report", "--month", "2026-03"])
    assert md.output.startswith("# 月度运维服务报告")


def test_the_monthly_mail_is_tried_again_when_the_server_is_away(
    db_path: Path, travel: Any, tmp_path: Path
) -> None:
    text = (ROOT / "states.toml").read_text(encoding="utf-8")
    config = tmp_path / "mailed.toml"
    config.write_text(
        text + '\n[monthly]\nto = ["xxzx@czj.example"]\ncalendar = "office"\n'
        '\n[notifiers.mail]\nuse = "email"\nhost = "127.0.0.1"\nport = 1\ntls = "none"\n'
        'events = ["escalation"]\n',
        "utf-8",
    )
    engine = Engine.open(db=db_path, clock=pendulum.now, config=config)
    travel(days=30, hours=-1)  # Wednesday 1 April 08:00: before the office opens
    assert engine.keep_monthly() is None
    assert engine.next_monthly_due() == START.add(days=30).replace(hour=8, minute=30)
    travel(hours=1)  # 09:00: its time; the mail server is away
    assert engine.keep_monthly() is None
    retry = engine.next_monthly_due()
    assert retry == pendulum.now().add(minutes=10)
    travel(minutes=5)
    assert engine.keep_monthly() is None  # not before the wait


def test_check_warns_of_a_monthly_mail_without_a_mailer_and_of_an_unknown_role(
    tmp_path: Path,
) -> None:
    text = (ROOT / "states.toml").read_text(encoding="utf-8")
    config = tmp_path / "c.toml"
    config.write_text(text + '\n[monthly]\nto = ["a@czj.example"]\n[spares]\nnotify = "x"\n',
                      "utf-8")  # fmt: skip
    done = CliRunner().invoke(cli, ["--db", str(tmp_path / "none.db"), "--people",
                                    str(PEOPLE), "check", str(config), "--json"])  # fmt: skip
    assert done.exit_code == 0, done.stderr
    warned = json.loads(done.stdout)["warnings"]
    assert any(w.startswith("monthly.to: no email notifier") for w in warned)
    assert any(w.startswith("spares.notify: ") and "'x'" in w for w in warned)
