"""Follow-up calls (回访): a reported ticket's follow-up falls due on the contract's calendar;
the staff record the customer's rating after a call, or the reporter gives it on the signed
tracking page — once; a low rating opens a review ticket for the unit's customer manager; the
scheduler marks the ones not done in time missed; the report counts them."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pendulum
import pytest
from click.testing import CliRunner
from conftest import START, snapshot
from faultflow import Engine, IllegalTransition, InvalidInput
from faultflow.cli.app import cli
from faultflow.network.sheets import example

ROOT = Path(__file__).resolve().parents[1]
PEOPLE = ROOT / "people.toml"
FRIDAY = START.add(days=4, hours=7)  # Friday 6 March 2026, 16:00


@pytest.fixture
def engine(db_path: Path, travel: Any) -> Engine:
    e = Engine.open(db=db_path, clock=pendulum.now, people=PEOPLE)
    assert not e.import_registry(example(), actor="li").problems
    return e


def reported(engine: Engine, **fields: Any) -> str:
    t = engine.intake("hotline", {"title": "打印机无法使用", "tier": "C", "unit": "CG-GOV",
                                  "reporter": "王科长", **fields}, actor="desk")  # fmt: skip
    for trigger in ("respond", "remote", "resolve", "report"):
        engine.advance(t.id, trigger, actor="li")
    return t.id


def test_a_reported_ticket_is_followed_up_once(engine: Engine, travel: Any, db_path: Path) -> None:
    travel(days=4, hours=7)  # Friday 16:00: due two working days later, Tuesday 16:00
    tid = reported(engine)
    due = engine.followup_of(tid)
    assert (due.state, due.due_at) == ("due", FRIDAY.add(days=4))
    assert (due.unit, due.channel, due.owner) == ("CG-GOV", "hotline", "li")
    assert [f.ticket for f in engine.followups("due")] == [tid]
    before = snapshot(db_path)
    for refused, kind, words in (
        (lambda: engine.followup(tid, 0), InvalidInput, "from 1 to 5"),
        (lambda: engine.followup(tid, 6), InvalidInput, "from 1 to 5"),
        (lambda: engine.followup(tid, 4, via="robot"), InvalidInput, "staff or"),
    ):
        with pytest.raises(kind, match=words):
            refused()
    assert snapshot(db_path) == before
    done = engine.followup(tid, 4, note="处理及时", actor="zhou")
    assert (done.state, done.rating, done.comment, done.by, done.via) == (
        "done", 4, "处理及时", "zhou", "staff"
    )  # fmt: skip
    assert done.review is None  # 4 is above the threshold: nothing to review
    event = engine.history(tid)[-1]
    assert (event.trigger, event.data["rating"], event.note) == (
        "followup",
        4,
        "follow-up: 4/5 — 处理及时",
    )
    with pytest.raises(IllegalTransition, match="followed up already"):
        engine.followup(tid, 1)
    assert engine.verify().ok


def test_only_reported_tickets_have_a_follow_up(engine: Engine) -> None:
    t = engine.intake("hotline", {"title": "网络慢", "tier": "C"}, actor="desk")
    with pytest.raises(IllegalTransition, match="not reported yet"):
        engine.followup(t.id, 5)
    engine.advance(t.id, "respond", actor="li")
    engine.advance(t.id, "cancel", actor="li", reason="误报")
    with pytest.raises(IllegalTransition, match="closed without a report"):
        engine.followup(t.id, 5)


def test_a_low_rating_opens_a_review_for_the_units_manager(engine: Engine, db_path: Path) -> None:
    tid = reported(engine)
    done = engine.followup(tid, 2, note="修了两次才好", actor="li")
    assert done.review is not None
    review = engine.get(done.review)
    assert (review.channel, review.owner, review.unit) == ("followup", "zhou", "CG-GOV")
    assert "2/5" in review.title and "修了两次才好" in review.description
    assert [(k.other, k.kind) for k in engine.group(review.id).links] == [(tid, "caused-by")]
    # a pass after a crash between the rating and its review finds the review, once
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE followups SET review = NULL WHERE ticket = ?", (tid,))
    conn.commit()
    conn.close()
    assert engine.keep_followups()["reviews"] == [review.id]
    assert engine.followup_of(tid).review == review.id
    assert len([t for t in engine.list() if t.channel == "followup"]) == 1
    assert engine.verify().ok


def test_a_follow_up_not_made_in_time_is_missed_and_can_still_be_made(
    engine: Engine, travel: Any
) -> None:
    travel(days=4, hours=7)
    tid = reported(engine)
    travel(days=4, minutes=1)  # Tuesday 16:01
    engine.tick()
    assert engine.followup_of(tid).state == "missed"
    late = engine.followup(tid, 5, actor="zhou")
    assert late.state == "done" and engine.history(tid)[-1].data["late"] is True
    report = engine.report(start=FRIDAY.subtract(days=1), end=FRIDAY.add(days=7)).to_dict()
    sat = report["satisfaction"]
    assert (sat["done"], sat["due"], sat["missed"], sat["mean"]) == (1, 0, 0, 5.0)
    assert sat["by_engineer"] == [{"key": "li", "done": 1, "mean": 5.0, "low": 0}]


def test_the_reporter_rates_on_the_tracking_page_once(engine: Engine, travel: Any) -> None:
    import httpx
    from test_http import Served

    tid = reported(engine)
    code = engine.tracking_code(tid)
    served = Served(engine)
    try:
        with httpx.Client(base_url=served.url, headers={"Accept-Language": "zh-CN"}) as c:
            page = c.get(f"/t/{code}").text
            assert "服务回访" in page and 'name="rating"' in page
            csrf = re.search(r'name="csrf" value="([^"]+)"', page)
            assert csrf is not None
            sent = c.post(f"/t/{code}/followup", follow_redirects=True,
                          data={"csrf": csrf[1], "rating": "3", "comment": "还行"})  # fmt: skip
            assert sent.status_code == 200 and "感谢您的评价" in sent.text
            assert "您的评价：3/5" in sent.text and 'name="rating"' not in sent.text
            again = c.post(f"/t/{code}/followup", data={"csrf": csrf[1], "rating": "1"})
            assert again.status_code in (403, 409, 422) and "3/5" in again.text
    finally:
        served.stop()
    f = engine.followup_of(tid)
    assert (f.rating, f.comment, f.via, f.by) == (3, "还行", "reporter", "portal")


def test_the_cli_records_and_lists_follow_ups(engine: Engine, db_path: Path) -> None:
    tid = reported(engine)
    run = CliRunner()
    base = ["--db", str(db_path), "--people", str(PEOPLE), "--now", pendulum.now().isoformat()]
    listed = run.invoke(cli, [*base, "followups", "--state", "due"])
    assert tid in listed.output and "due" in listed.output
    done = run.invoke(cli, [*base, "followup", tid, "--rating", "1", "--note", "很不满意",
                            "--as", "zhou", "--json"])  # fmt: skip
    assert done.exit_code == 0, done.stderr
    said = json.loads(done.output)
    assert said["rating"] == 1 and said["review"]
    bad = run.invoke(cli, [*base, "followup", tid, "--rating", "9"])
    assert bad.exit_code == 2  # a usage error: the range is the option's
    twice = run.invoke(cli, [*base, "followup", tid, "--rating", "5"])
    assert twice.exit_code == 1 and twice.stderr.count("\n") == 1


def test_the_follow_up_is_said_in_the_readers_language(engine: Engine) -> None:
    from faultflow.words import Words

    tid = reported(engine)
    engine.followup(tid, 4, note="处理及时", actor="zhou")
    event = engine.history(tid)[-1]
    assert Words("zh").said(engine.contract, event) == "回访评分 4/5 — 处理及时"
    assert Words("en").said(engine.contract, event) == "follow-up rating 4/5 — 处理及时"
