"""The web pages in a real browser: Playwright driving Debian's Chromium (with the Noto CJK
fonts, so the Chinese renders), against uvicorn on 127.0.0.1.

The walk-through of issue 15: a unit reports a fault in the portal → the board, open in a second
page, shows it within 2 s without reloading → the operator responds from the ticket page → the
tracking page says "responded" and the promise kept. A breach turns the row red while the board
is open. Screenshots go to tests/artifacts/ (kept by CI, ignored by git).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from faultflow import Engine
from test_http import Served

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture
def site(engine: Engine) -> Iterator[Served]:
    served = Served(engine, live_interval=0.25)
    try:
        yield served
    finally:
        served.stop()


def board_of(page: Any, url: str, secret: str) -> None:
    """Log in to the board with a token and wait until its live updates are on."""
    from playwright.sync_api import expect

    page.goto(f"{url}/board")
    page.fill("input[name=token]", secret)
    page.click("button[type=submit]")
    expect(page.locator("#live")).to_have_class("live on")


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_report_board_respond_track(chromium: Any, site: Served, engine: Engine, travel: Any):
    from playwright.sync_api import expect

    secret = engine.create_token("duty", ["operate"], "li")[1]
    unit = chromium.new_context(locale="zh-CN", viewport={"width": 414, "height": 900})
    duty = chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    try:
        # the operator opens the board first
        board = duty.new_page()
        board_of(board, site.url, secret)
        expect(board.locator("#rows")).to_contain_text("No open tickets")

        # a unit reports a fault, in Chinese, on a phone-sized screen
        portal = unit.new_page()
        portal.goto(site.url)
        expect(portal.locator("h1")).to_have_text("故障报修")
        portal.fill("input[name=unit]", "城关镇政府")
        portal.fill("input[name=name]", "张三")
        portal.fill("input[name=phone]", "13800000000")
        portal.fill("textarea[name=what]", "<script>alert(1)</script>办公网络全部中断")
        portal.check("input[name=impact][value=stopped]")
        shot(portal, "portal")
        portal.click("button[type=submit]")
        expect(portal.locator("h1")).to_have_text("报修已受理")
        ticket_id = portal.locator(".ticket-id").inner_text()
        tracking = portal.locator("#tracking").get_attribute("href")
        assert tracking and ticket_id in tracking

        # the board shows it within 2 s, without a reload, the title as text
        row = board.locator(f"tr[data-id='{ticket_id}']")
        expect(row).to_be_visible(timeout=2000)
        expect(row.locator(".title")).to_have_text("<script>alert(1)</script>办公网络全部中断")
        expect(row.locator(".tier")).to_have_text("A")
        # 15 minutes to respond, counted from the server's clock (frozen here at 2026-03-02
        # while the browser's says November): about 15:00 left, ticking down in the browser
        expect(row.locator(".clock .left")).to_have_text(re.compile(r"^1[45]:[0-5]\d$"))
        shot(board, "board")

        # the operator responds from the ticket page
        row.locator("a").click()
        board.locator("form[data-trigger=respond] input[name=note]").fill("已电话联系")
        board.click("form[data-trigger=respond] button")
        expect(board.locator("#state")).to_have_text("responded")
        shot(board, "ticket")

        # the tracking page: responded, the promise kept
        portal.goto(urljoin(portal.url, tracking))  # as the browser resolves the link
        expect(portal.locator("#state")).to_have_text("已响应")
        expect(portal.locator("tr.kept-yes .kept").first).to_have_text("已按时完成")
        shot(portal, "tracking")

        # a breach while the board is open: the row turns red, within 2 s
        other = engine.intake("hotline", {"title": "机房空调告警", "tier": "A"}, actor="desk")
        board.goto(f"{site.url}/board")
        late = board.locator(f"tr[data-id='{other.id}']")
        expect(late).to_be_visible()
        travel(minutes=16)
        engine.tick()
        expect(late).to_have_class("tier-A breached", timeout=2000)
        shot(board, "board-breached")
    finally:
        unit.close()
        duty.close()


SIZES = {"desk": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_in_each_language_on_desk_and_phone(
    chromium: Any, db_path: Path, travel: Any, lang: str
) -> None:
    """The duty room and the unit read only their language: the portal, the tracking page,
    the board (with who is on duty and a paged chain), a ticket and the report, as Chromium
    renders them on a desk screen and a phone, hold no identifier of the contract or the
    engine. Screenshots of each (tests/artifacts/<page>-<lang>-<size>.png; docs/web.md)."""
    import pendulum
    from playwright.sync_api import expect
    from test_words import identifiers, leaks

    people = Path(__file__).parent.parent / "people.toml"
    engine = Engine.open(db=db_path, clock=pendulum.now, people=people)
    served = Served(engine, live_interval=0.25)
    names = identifiers(engine)
    secret = engine.create_token("duty", ["operate"], "li")[1]
    locale = {"zh": "zh-CN", "en": "en-US"}[lang]
    try:
        t = engine.intake("hotline", {"summary": "核心交换机宕机", "tier": "A"}, actor="root")
        travel(minutes=16)  # the response promise breaks: tier A's chain pages the duty engineer
        engine.tick()
        engine.advance(t.id, "respond", actor="li", note="已电话联系")
        tracking = f"/t/{engine.tracking_code(t.id)}"
        for size, viewport in SIZES.items():
            context = chromium.new_context(locale=locale, viewport=viewport)
            try:
                page = context.new_page()
                seen = {}
                page.goto(served.url)
                seen["portal"] = page.inner_text("body")
                shot(page, f"portal-{lang}-{size}")
                page.goto(served.url + tracking)
                seen["tracking"] = page.inner_text("body")
                shot(page, f"tracking-{lang}-{size}")
                board_of(page, served.url, secret)
                expect(page.locator("#duty")).to_be_visible()
                expect(page.locator(f"tr[data-id='{t.id}'] .paging")).not_to_be_empty()
                seen["board"] = page.inner_text("body")
                shot(page, f"board-{lang}-{size}")
                page.goto(f"{served.url}/tickets/{t.id}")
                seen["ticket"] = page.inner_text("body")
                shot(page, f"ticket-{lang}-{size}")
                page.goto(f"{served.url}/report")
                seen["report"] = page.inner_text("body")
                shot(page, f"report-{lang}-{size}")
                wide = page.evaluate("document.documentElement.scrollWidth > innerWidth + 1")
                assert not wide or size == "phone", "the report scrolls sideways on a desk"
            finally:
                context.close()
            problems = {p: leaks(text, names, lang) for p, text in seen.items()}
            assert not {p: found for p, found in problems.items() if found}, (size, problems)
    finally:
        served.stop()
        engine.close()


def test_alerts_ring_and_flash_the_title_once_turned_on(
    chromium: Any, site: Served, engine: Engine
) -> None:
    from playwright.sync_api import expect

    secret = engine.create_token("duty", ["read"], "li")[1]
    context = chromium.new_context(locale="en-US")
    try:
        page = context.new_page()
        board_of(page, site.url, secret)
        button = page.locator("#alerts")
        expect(button).to_have_attribute("aria-pressed", "false")  # opt-in: off at first
        engine.intake("hotline", {"title": "quiet", "tier": "C"}, actor="desk")
        expect(page.locator("#rows")).to_contain_text("quiet")
        assert "【" not in page.title()
        button.click()
        expect(button).to_have_attribute("aria-pressed", "true")
        engine.intake("hotline", {"title": "core switch down", "tier": "A"}, actor="desk")
        expect(page).to_have_title(re.compile("^【New ticket】"), timeout=3000)
        page.reload()  # the choice is kept in this browser
        expect(page.locator("#alerts")).to_have_attribute("aria-pressed", "true")
    finally:
        context.close()
