"""The web pages over a real socket (uvicorn on 127.0.0.1) with a real HTTP client: the
reporting portal, the tracking page, the board's login, pages, actions and server-sent events,
and bad input of every kind — a readable page, a 4xx, nothing written. The browser walk-through
is tests/test_browser.py."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import snapshot
from faultflow import Engine
from test_http import Served


@pytest.fixture
def site(engine: Engine) -> Iterator[Served]:
    served = Served(engine, portal_limit=(50, 60.0), live_interval=0.2)
    try:
        yield served
    finally:
        served.stop()


def browser(site: Served, lang: str = "zh") -> httpx.Client:
    return httpx.Client(base_url=site.url, timeout=10, headers={"accept-language": lang})


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form token"
    return found.group(1)


def alert_of(html: str) -> str:
    found = re.search(r'role="alert">([^<]*)<', html)
    return unescape(found.group(1)) if found else ""


FORM = {"unit": "城关镇政府", "name": "张三", "phone": "13800000000", "what": "网络中断\n全部"}


def report(c: httpx.Client, **fields: str) -> httpx.Response:
    token = csrf_of(c.get("/").text)
    return c.post("/", data={"csrf": token, **FORM, **fields})


def tracking_link(html: str) -> str:
    found = re.search(r'id="tracking" href="([^"]+)"', html)
    assert found, html
    return found.group(1)


@contextmanager
def login(site: Served, secret: str) -> Iterator[httpx.Client]:
    """A browser (in English) logged in to the board with ``secret``."""
    with browser(site, "en") as c:
        token = csrf_of(c.get("/login").text)
        answer = c.post("/login", data={"csrf": token, "token": secret, "next": "/board"})
        assert answer.status_code == 303 and answer.headers["location"] == "/board"
        yield c


# -- the portal --------------------------------------------------------------------------------


def test_a_report_opens_a_web_ticket_with_the_tier_of_its_impact(site: Served, engine: Engine):
    with browser(site) as c:
        page = c.get("/")
        assert page.status_code == 200 and "故障报修" in page.text  # Chinese first
        answer = report(c, impact="stopped", attachments="photo.jpg\nlog.txt")
    assert answer.status_code == 201
    ticket_id = re.search(r'class="ticket-id">([^<]+)<', answer.text).group(1)
    ticket = engine.get(ticket_id)
    assert (ticket.channel, ticket.tier, ticket.contact) == ("web", "A", "13800000000")
    assert ticket.reporter == "张三 (城关镇政府)" and ticket.title == "网络中断"
    kept = ticket.history[0].data["channel_data"]
    assert kept["attachments"] == ["photo.jpg", "log.txt"] and kept["unit"] == "城关镇政府"
    link = tracking_link(answer.text)
    assert ticket_id in link and link != f"{site.url}/t/{ticket_id}"  # signed, not the bare id


def test_english_by_the_browser_or_the_switch(site: Served):
    with browser(site, "en-GB,en;q=0.9,zh;q=0.5") as c:
        assert "Report a fault" in c.get("/").text
    with browser(site, "zh-CN") as c:
        assert "故障报修" in c.get("/").text
        switched = c.get("/?lang=en")
        assert "Report a fault" in switched.text
        assert "Report a fault" in c.get("/").text  # the choice is remembered


def test_the_tracking_page_shows_one_ticket_and_no_internal_notes(site: Served, engine: Engine):
    with browser(site) as c:
        link = tracking_link(report(c).text)
        ticket_id = link.rsplit("/", 1)[1].split(".")[0]
        engine.advance(ticket_id, "respond", actor="zhao.gong", note="internal: call Wang first")
        page = c.get(link)
        assert page.status_code == 200
        assert "已响应" in page.text and "已按时完成" in page.text  # responded, promise kept
        assert "internal: call Wang" not in page.text and "zhao.gong" not in page.text
        other = engine.intake("hotline", {"title": "another unit's fault"}, actor="desk")
        forged = link.replace(ticket_id, other.id)
        assert c.get(forged).status_code == 404
        assert c.get(f"/t/{other.id}").status_code == 404
        assert "another unit" not in c.get(forged).text


def test_the_reporter_adds_information_once(site: Served, engine: Engine):
    with browser(site) as c:
        link = tracking_link(report(c).text)
        token = csrf_of(c.get(link).text)
        added = c.post(f"{link}/notes", data={"csrf": token, "text": "机房在三楼"})
        assert added.status_code == 303
        page = c.get(added.headers["location"])
        assert "机房在三楼" in page.text and "已收到您的补充信息" in page.text
        again = c.post(f"{link}/notes", data={"csrf": token, "text": "机房在三楼"})
        assert again.status_code == 409
    ticket_id = link.rsplit("/", 1)[1].split(".")[0]
    assert [e.note for e in engine.get(ticket_id).history if e.trigger == "note"] == ["机房在三楼"]


def test_a_script_in_a_title_is_text_everywhere(site: Served, engine: Engine, tmp_path: Path):
    script = "<script>alert(1)</script>"
    secret = engine.create_token("desk", ["operate"], "li")[1]
    with browser(site) as c:
        answer = report(c, what=f"{script}\n{script}")
        link = tracking_link(answer.text)
        pages = [answer.text, c.get(link).text]
    with login(site, secret) as board:
        ticket_id = link.rsplit("/", 1)[1].split(".")[0]
        pages += [board.get("/board").text, board.get(f"/tickets/{ticket_id}").text]
        pages.append(board.get("/report").text)
    for html in pages:
        assert script not in html
    assert all("&lt;script&gt;alert(1)&lt;/script&gt;" in html for html in pages[1:4])


# -- bad input on the portal: a readable page, a 4xx, nothing written ------------------------


def _refused(site: Served, db: Path, send: Any, status: int, says: str) -> None:
    before = snapshot(db)
    with browser(site) as c:
        answer = send(c)
    assert answer.status_code == status, answer.text[:300]
    assert says in alert_of(answer.text), alert_of(answer.text)
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        (
            {"unit": "", "name": "", "phone": "", "what": ""},
            "请填写：单位、联系人、联系电话、故障描述",  # the labels, not the field names
        ),
        ({"what": "   "}, "请填写：故障描述"),
        ({"what": "x" * 9000}, "内容过长"),
        ({"unit": "a\x00b"}, "不可见的控制字符"),  # not "the form is stale"
        ({"what": "fault\x1b[31m"}, "不可见的控制字符"),
        ({"impact": "banana"}, "impact 'banana': not one of the contract's answers"),
    ],
)
def test_bad_fields_are_refused(site: Served, db_path: Path, fields: dict[str, str], says: str):
    _refused(site, db_path, lambda c: report(c, **fields), 422, says)


def test_no_token_a_forged_one_and_another_browsers(site: Served, db_path: Path):
    _refused(site, db_path, lambda c: c.post("/", data=FORM), 403, "表单已过期或无效")
    _refused(site, db_path, lambda c: c.post("/", data={**FORM, "csrf": "x.y"}), 403, "表单已过期")

    def foreign(c: httpx.Client) -> httpx.Response:
        with browser(site) as other:
            token = csrf_of(other.get("/").text)
        c.get("/")
        return c.post("/", data={**FORM, "csrf": token})

    _refused(site, db_path, foreign, 403, "表单已过期或无效")


def test_a_replayed_form_opens_nothing_more(site: Served, db_path: Path, engine: Engine):
    with browser(site) as c:
        token = csrf_of(c.get("/").text)
        first = c.post("/", data={"csrf": token, **FORM})
        assert first.status_code == 201
        before = snapshot(db_path)
        again = c.post("/", data={"csrf": token, **FORM})
    assert again.status_code == 409 and "此表单已提交过" in alert_of(again.text)
    assert snapshot(db_path) == before


def test_wrong_kinds_of_body(site: Served, db_path: Path):
    huge = {"csrf": "x", "what": "x" * 70_000}
    _refused(site, db_path, lambda c: c.post("/", data=huge), 413, "内容过长")
    _refused(site, db_path, lambda c: c.post("/", json=FORM), 415, "表单已过期或无效")
    bad = b"what=%ff%fe"
    send = lambda c: c.post(  # noqa: E731
        "/", content=bad, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    _refused(site, db_path, send, 400, "表单已过期或无效")


def test_the_portal_is_rate_limited_per_address(engine: Engine, db_path: Path):
    served = Served(engine, portal_limit=(2, 3600.0))
    try:
        with browser(served) as c:
            for _ in range(3):  # refused forms do not count towards the limit
                assert report(c, what="").status_code == 422
            assert report(c).status_code == 201
            assert report(c).status_code == 201
            before = snapshot(db_path)
            third = report(c)
        assert third.status_code == 429 and int(third.headers["retry-after"]) > 0
        assert "提交过于频繁" in alert_of(third.text)
        assert snapshot(db_path) == before
    finally:
        served.stop()


def test_a_trusted_network_is_not_limited(engine: Engine):
    """The units behind one extranet NAT share an address: `serve --portal-trust NETWORK`."""
    served = Served(engine, portal_limit=(1, 3600.0), portal_trusted=["127.0.0.0/8"])
    try:
        with browser(served) as c:
            assert [report(c).status_code for _ in range(3)] == [201, 201, 201]
    finally:
        served.stop()


# -- the board -------------------------------------------------------------------------------


def test_the_board_needs_a_login_with_a_known_token(site: Served, engine: Engine):
    with browser(site, "en") as c:
        away = c.get("/board")
        assert away.status_code == 303 and away.headers["location"] == "/login?next=/board"
        assert c.get("/board/events").status_code == 401
        filtered = c.get("/board?tier=A&state=received")
        assert filtered.headers["location"] == "/login?next=/board%3Ftier%3DA%26state%3Dreceived"
        token = csrf_of(c.get("/login").text)
        wrong = c.post("/login", data={"csrf": token, "token": "ff_nothing"})
        assert wrong.status_code == 401 and "not known" in alert_of(wrong.text)
    intake_only = engine.create_token("mon", ["intake:alertmanager"], "prom")[1]
    with browser(site, "en") as c:
        token = csrf_of(c.get("/login").text)
        assert c.post("/login", data={"csrf": token, "token": intake_only}).status_code == 403
    reader = engine.create_token("viewer", ["read"], "auditor")[1]
    with browser(site, "en") as c:
        token = csrf_of(c.get("/login").text)
        done = c.post("/login", data={"csrf": token, "token": reader, "next": "//evil.test/x"})
        assert done.headers["location"] == "/board"  # never away from this site
        cookie = done.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
        assert reader not in cookie  # the session keeps no secret
        assert c.get("/board").status_code == 200
    engine.revoke_token("viewer")
    # another process (a server without this one's 5-second token cache) reads the database:
    # the session of a revoked token is over; a session stays good in any process otherwise
    other = Served(engine)
    try:
        with browser(other, "en") as c:
            c.cookies.set("ff_session", cookie.split(";")[0].split("=", 1)[1])
            assert c.get("/board").status_code == 303
    finally:
        other.stop()


def test_the_board_lists_open_tickets_most_urgent_first_with_filters(
    site: Served, engine: Engine, travel: Any
):
    secret = engine.create_token("desk", ["operate"], "li")[1]
    late = engine.intake("hotline", {"title": "oldest C", "tier": "C"}, actor="desk")
    travel(minutes=40)  # C's 45 minutes to respond: warned
    urgent = engine.intake("hotline", {"title": "new A", "tier": "A"}, actor="desk")
    closed = engine.intake("hotline", {"title": "cancelled one", "tier": "B"}, actor="desk")
    engine.advance(closed.id, "cancel", reason="duplicate", actor="li")
    with login(site, secret) as c:
        page = c.get("/board").text
        ids = re.findall(r'data-id="([^"]+)"', page)
        assert ids == [urgent.id, late.id] or ids == [late.id, urgent.id]
        assert closed.id not in ids
        only_a = c.get("/board?tier=A").text
        assert re.findall(r'data-id="([^"]+)"', only_a) == [urgent.id]
        # the countdown's colours come from the engine's own alarm times (12 of A's 15 minutes)
        warns = int(re.search(r'data-warn="(\d+)"', only_a).group(1))  # type: ignore[union-attr]
        assert warns == int(urgent.created_at.timestamp() * 1000) + 12 * 60_000
        travel(minutes=10)  # C breached: it goes on top, red
        engine.tick()
        page = c.get("/board").text
        assert re.findall(r'data-id="([^"]+)"', page)[0] == late.id
        assert re.search(rf'class="tier-C breached" data-id="{late.id}"', page)
        bad = c.get("/board?state=nowhere")
        assert bad.status_code == 422 and "nowhere" in alert_of(bad.text)


def test_the_board_page_is_sent_as_its_rows_are_drawn(
    site: Served, engine: Engine, monkeypatch: Any
) -> None:
    """Read at once, then sent in parts: the page's head first, the rows in batches, then the
    line that says how many more there are — the same rows, in the same order, as the list."""
    from faultflow.http import board

    monkeypatch.setattr(board, "SHOWN", 110)  # three batches: 50, 50, 10 — and 10 more unshown
    for i in range(120):
        engine.intake("hotline", {"title": f"故障 {i}", "tier": "ABC"[i % 3]}, actor="desk")
    drawn: list[int] = []
    row = board.row
    monkeypatch.setattr(board, "row", lambda *a: drawn.append(1) or row(*a))
    secret = engine.create_token("desk", ["operate"], "li")[1]
    with login(site, secret) as c, c.stream("GET", "/board") as answer:
        assert answer.status_code == 200 and "content-length" not in answer.headers
        assert answer.headers["transfer-encoding"] == "chunked"
        page = answer.read().decode()
    assert len(drawn) == 110
    shown = re.findall(r'data-id="([^"]+)"', page)
    assert shown == [t.id for t in engine.list(final=False, limit=110)]
    assert "The 110 most urgent of 120 open tickets" in page
    assert page.rstrip().endswith("</html>")


def test_a_board_that_fails_while_it_is_sent_says_so_where_the_rows_stop(
    site: Served, engine: Engine, monkeypatch: Any
) -> None:
    from faultflow.errors import DatabaseUnavailable
    from faultflow.http import board

    for i in range(60):
        engine.intake("hotline", {"title": f"故障 {i}", "tier": "B"}, actor="desk")
    row, drawn = board.row, []

    def failing(*a: Any) -> Any:
        drawn.append(1)
        if len(drawn) > board.BATCH:  # the first batch is sent; the database goes away
            raise DatabaseUnavailable("the database is not reachable")
        return row(*a)

    monkeypatch.setattr(board, "row", failing)
    secret = engine.create_token("desk", ["operate"], "li")[1]
    with login(site, secret) as c:
        page = c.get("/board")
    assert page.status_code == 200 and len(re.findall(r"data-id=", page.text)) == board.BATCH
    assert "not reachable" in unescape(page.text) and page.text.rstrip().endswith("</html>")


def test_the_board_pushes_a_new_ticket_and_a_breach_within_two_seconds(
    site: Served, engine: Engine, travel: Any
):
    secret = engine.create_token("desk", ["operate"], "li")[1]
    with login(site, secret) as c, c.stream("GET", "/board/events") as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        lines = events.iter_lines()

        def next_rows(deadline: float) -> str:
            data: list[str] = []
            event = None
            for line in lines:
                assert time.monotonic() < deadline, "no update in time"
                if line.startswith("event: "):
                    event, data = line[7:], []
                elif line.startswith("data: ") and event == "rows":
                    data.append(line[6:])
                elif line == "" and event == "rows":
                    return "\n".join(data)
            raise AssertionError("the stream ended")

        assert "data-id" not in next_rows(time.monotonic() + 5)  # the board as it is: empty
        opened = time.monotonic()
        fresh = engine.intake("hotline", {"title": "新故障", "tier": "A"}, actor="desk")
        rows = next_rows(opened + 2)
        assert fresh.id in rows and "新故障" in rows
        travel(minutes=16)
        breached = time.monotonic()
        engine.tick()
        rows = next_rows(breached + 2)
        assert f'class="tier-A breached" data-id="{fresh.id}"' in rows


def test_boards_showing_one_view_share_one_render_of_a_stamp() -> None:
    """Ten screens in a duty room during a storm: one render a stamp per view, not ten."""
    import asyncio

    from faultflow.http.live import Live

    made: list[tuple[str, int | None]] = []

    async def scene() -> None:
        live = Live(engine=None)
        live.stamp = 7

        def maker(view: str) -> Any:
            async def make() -> str:
                made.append((view, live.stamp))
                await asyncio.sleep(0.01)  # a render takes a while: the others wait for it
                return f"{view} rows at {live.stamp}"

            return make

        views = ["all/zh"] * 10 + ["tier A/en"]
        got = await asyncio.gather(*(live.shared(v, maker(v)) for v in views))
        assert got == [f"{v} rows at 7" for v in views]
        assert sorted(made) == [("all/zh", 7), ("tier A/en", 7)]  # once per view
        assert await live.shared("all/zh", maker("all/zh")) == "all/zh rows at 7"
        assert len(made) == 2  # the same stamp: the render is kept
        live.stamp = 8  # a change: rendered again
        assert await live.shared("all/zh", maker("all/zh")) == "all/zh rows at 8"
        assert made[-1] == ("all/zh", 8)

        async def broken() -> str:
            made.append(("broken", live.stamp))
            raise RuntimeError("the database is away")

        for _ in range(2):  # a failure is not kept: the next stream tries again
            with pytest.raises(RuntimeError):
                await live.shared("all/en", broken)
        assert made.count(("broken", 8)) == 2
        # another minute: made again, and what was made before is let go (one per view kept)
        assert await live.shared("all/zh", maker("all/zh"), moment=1) == "all/zh rows at 8"
        assert made[-1] == ("all/zh", 8) and len(live._shared) == 1

    asyncio.run(scene())


def test_acting_from_the_ticket_page(site: Served, engine: Engine):
    secret = engine.create_token("desk", ["operate"], "li")[1]
    ticket = engine.intake("hotline", {"title": "printer", "tier": "C"}, actor="desk")
    with login(site, secret) as c:
        page = c.get(f"/tickets/{ticket.id}").text
        assert re.findall(r'data-trigger="([^"]+)"', page) == ["respond", "cancel"]
        token = csrf_of(page)
        done = c.post(f"/tickets/{ticket.id}", data={
            "csrf": token, "action": "advance", "trigger": "respond", "version": "1",
            "note": "called back"})  # fmt: skip
        assert done.status_code == 303
        page = c.get(f"/tickets/{ticket.id}").text
        assert re.findall(r'data-trigger="([^"]+)"', page) == ["remote", "dispatch", "cancel"]
        # dispatch from responded: the guard's reason is on the page before anyone clicks
        refused = re.search(r'data-trigger="dispatch".*?class="why">([^<]*)<', page, re.S)
        assert refused, "the refused trigger shows no reason"
        why = unescape(refused.group(1))
        assert "only for tier A or B (this ticket: C)" in why, why  # in words, no --flag
        assert "the reason must be one of: emergency, upgraded fault" in why, why
        replayed = c.post(f"/tickets/{ticket.id}", data={
            "csrf": token, "action": "note", "text": "sent twice"})  # fmt: skip
        assert replayed.status_code == 409  # the page's token was spent by the respond above
        token = csrf_of(page)  # each rendered page carries a token of its own, good once
        tried = c.post(f"/tickets/{ticket.id}", data={
            "csrf": token, "action": "advance", "trigger": "dispatch", "version": "2"})  # fmt: skip
        assert tried.status_code == 422 and "dispatch from responded refused" in alert_of(
            tried.text
        )
        for action in (
            {"action": "advance", "trigger": "remote", "version": "2"},
            {"action": "advance", "trigger": "dispatch", "version": "3"},
            {"action": "hold", "reason": "waiting for the unit", "version": "4"},
            {"action": "resume", "version": "5"},
            {"action": "note", "text": "spare ordered"},
            {"action": "reclassify", "tier": "B", "reason": "two offices"},
        ):
            token = csrf_of(c.get(f"/tickets/{ticket.id}").text)  # as the browser: a fresh page
            answer = c.post(f"/tickets/{ticket.id}", data={"csrf": token, **action})
            assert answer.status_code == 303, alert_of(answer.text)
    moved = engine.get(ticket.id)
    assert (moved.state, moved.tier) == ("dispatched", "B")
    assert [e.trigger for e in moved.history][-4:] == ["hold", "resume", "note", "reclassify"]
    assert {e.actor for e in moved.history[1:]} == {"li"}


def test_a_stale_action_says_so_and_shows_the_new_state(site: Served, engine: Engine):
    secret = engine.create_token("desk", ["operate"], "li")[1]
    ticket = engine.intake("hotline", {"title": "printer", "tier": "C"}, actor="desk")
    with login(site, secret) as c:
        token = csrf_of(c.get(f"/tickets/{ticket.id}").text)
        engine.advance(ticket.id, "respond", actor="wang")  # meanwhile, elsewhere
        stale = c.post(f"/tickets/{ticket.id}", data={
            "csrf": token, "action": "advance", "trigger": "cancel", "reason": "dup",
            "version": "1"})  # fmt: skip
    assert stale.status_code == 409 and "changed meanwhile" in alert_of(stale.text)
    assert re.search(r'id="state">responded<', stale.text)
    assert engine.get(ticket.id).state == "responded"


def test_board_forms_need_the_sessions_token_and_operate(site: Served, engine: Engine):
    ticket = engine.intake("hotline", {"title": "printer"}, actor="desk")
    reader = engine.create_token("viewer", ["read"], "auditor")[1]
    operator = engine.create_token("desk", ["operate"], "li")[1]
    act = {"action": "note", "text": "hello"}
    with login(site, reader) as c:
        token = csrf_of(c.get(f"/tickets/{ticket.id}").text)
        answer = c.post(f"/tickets/{ticket.id}", data={"csrf": token, **act})
        assert answer.status_code == 403 and "needs operate" in alert_of(answer.text)
    with login(site, operator) as c:
        answer = c.post(f"/tickets/{ticket.id}", data=act)
        assert answer.status_code == 403
        answer = c.post(f"/tickets/{ticket.id}", data={"csrf": token, **act})  # another's
        assert answer.status_code == 403
    assert len(engine.get(ticket.id).history) == 1


def test_the_report_page_for_a_period(site: Served, engine: Engine):
    secret = engine.create_token("viewer", ["read"], "auditor")[1]
    engine.intake("hotline", {"title": "printer"}, actor="desk")
    with login(site, secret) as c:
        page = c.get("/report?from=2026-03-01&to=2026-03-03")
        assert page.status_code == 200 and "Promises kept" in page.text and "<svg" in page.text
        bad = c.get("/report?from=yesterday-ish")
        assert bad.status_code == 422 and "yesterday-ish" in alert_of(bad.text)


def test_the_public_sees_only_what_is_meant_for_it(db_path: Any, travel: Any) -> None:
    """The reporter's tracking page and the handling report (mailed to the reporter, embedded
    in the tracking page) show states reached, promises kept or broken and the words written
    for the customer — never who did what, staff notes and reasons, who was paged or how a
    notification went (docs/web.md). A ticket goes through every kind of event."""
    import pendulum

    seed_people = Path(__file__).parent.parent / "people.toml"
    engine = Engine.open(db=db_path, clock=pendulum.now, people=seed_people)
    t = engine.intake("web", {"title": "核心交换机宕机", "tier": "A", "reporter": "张三"},
                      actor="desk-agent-x7")  # fmt: skip
    engine.note(t.id, "STAFF-NOTE: 客户态度不好", actor="desk-agent-x7")
    travel(minutes=16)  # the response promise breaks: the chain pages the duty engineer
    engine.tick()
    engine.ack(t.id, actor="li", note="ACK-NOTE: 我来处理")
    engine.advance(t.id, "respond", actor="li", note="RESPOND-NOTE: 已电话联系")
    engine.assign(t.id, "wang", reason="HANDOVER-REASON: 李工去了另一个现场", actor="li")
    engine.advance(t.id, "dispatch", actor="wang")
    engine.hold(t.id, reason="HOLD-REASON: 等门禁", actor="wang")
    travel(minutes=20)
    engine.resume(t.id, actor="wang")
    engine.advance(t.id, "arrive", actor="wang")
    travel(minutes=40)
    engine.advance(t.id, "resolve", actor="wang", note="更换了故障电源模块，业务已恢复")
    engine.advance(t.id, "report", actor="zhao", reason="REPORT-REASON")
    engine.tick()
    kinds = {e.trigger for e in engine.get(t.id).history}
    assert {"note", "breach", "page", "ack", "assign", "hold", "resume", "report"} <= kinds
    served = Served(engine, portal_limit=(50, 60.0), live_interval=0.2)
    try:
        page = httpx.get(f"{served.url}/t/{engine.tracking_code(t.id)}", timeout=10).text
    finally:
        served.stop()
    said = {"tracking page": unescape(page), "report (md)": engine.handling_report(t.id, "md"),
            "report (html)": unescape(engine.handling_report(t.id, "html"))}  # fmt: skip
    people = engine.people
    assert people is not None
    secret = [
        "desk-agent-x7", "STAFF-NOTE", "ACK-NOTE", "RESPOND-NOTE", "HANDOVER-REASON",
        "HOLD-REASON", "REPORT-REASON", "paged", "delivered", "escalat",
        *(p.name for p in people.people.values()),  # 李工, 王工, ... the people on duty
        *(c for p in people.people.values() for c in p.contacts.values()),
    ]  # fmt: skip
    for where, text in said.items():
        leaks = [s for s in secret if s in text]
        assert not leaks, f"the {where} shows {leaks}"
        assert "更换了故障电源模块" in text  # the customer's account of the fix is there


def test_a_tracking_link_never_comes_from_the_host_header(engine: Engine) -> None:
    """A forged Host header once went into the reporter's tracking link (a link to another
    site). The link starts with the configured base URL, or is a path."""
    for base, starts in (
        (None, "/t/"),
        ("https://faults.example.gov.cn", "https://faults.example.gov.cn/t/"),
    ):
        served = Served(engine, portal_limit=(50, 60.0), base_url=base)
        try:
            with httpx.Client(base_url=served.url, timeout=10,
                              headers={"Host": "evil.example"}) as c:  # fmt: skip
                sent = report(c, what=f"断网 {base}")
            assert sent.status_code == 201
            link = tracking_link(sent.text)
            assert link.startswith(starts) and "evil.example" not in sent.text
        finally:
            served.stop()


def test_logout_ends_the_session_on_the_server(site: Served, engine: Engine) -> None:
    """Logout once only deleted the browser's cookie: a copy of it stayed good for 12 hours.
    Now the session ends on the server: the old cookie, replayed, opens nothing."""
    secret = engine.create_token("desk", ["operate"], "li")[1]
    with login(site, secret) as c:
        kept = c.cookies.get("ff_session")
        board = c.get("/board")
        assert board.status_code == 200 and kept
        token = csrf_of(board.text)
        assert c.post("/logout", data={"csrf": token}).status_code == 303
    with browser(site, "en") as replay:
        replay.cookies.set("ff_session", kept)
        again = replay.get("/board")
        assert again.status_code == 303 and again.headers["location"].startswith("/login")
    with login(site, secret) as c:  # a new session is good
        assert c.get("/board").status_code == 200


def test_a_board_form_is_good_once_across_processes(
    site: Served, engine: Engine, db_path: Path
) -> None:
    """Two `serve` processes behind one load balancer share the database: a board form sent to
    one and replayed to the other acts once (each rendered form's nonce is spent in the
    database, not only in the process that took it)."""
    secret = engine.create_token("desk", ["operate"], "li")[1]
    ticket = engine.intake("hotline", {"title": "printer", "tier": "C"}, actor="desk")
    other_engine = Engine.open(db=db_path)  # the second process: its own engine and app
    other = Served(other_engine)
    try:
        with login(site, secret) as c:
            token = csrf_of(c.get(f"/tickets/{ticket.id}").text)
            form = {"csrf": token, "action": "note", "text": "sent twice, once"}
            assert c.post(f"/tickets/{ticket.id}", data=form).status_code == 303
            c.base_url = httpx.URL(other.url)  # the same cookies, the other process
            replayed = c.post(f"/tickets/{ticket.id}", data=form)
            assert replayed.status_code == 409
    finally:
        other.stop()
        other_engine.close()
    notes = [e for e in engine.get(ticket.id).history if e.trigger == "note"]
    assert len(notes) == 1


def test_spent_form_nonces_are_forgotten_once_their_tokens_expire(engine: Engine) -> None:
    import time as clock

    from faultflow.db import contracts
    from faultflow.run.modules import Maintenance

    now = int(clock.time())
    assert engine.spend_form("old", now - 1) and engine.spend_form("fresh", now + 3600)
    assert not engine.spend_form("fresh", now + 3600)  # spent is spent
    Maintenance(engine.store).run_once(clock.monotonic() + 5)
    assert contracts.meta(engine.store, f"{contracts.SPENT}old") is None
    assert contracts.meta(engine.store, f"{contracts.SPENT}fresh") is not None
