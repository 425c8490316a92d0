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
        board.goto(f"{site.url}/board")
        board.fill("input[name=token]", secret)
        board.click("button[type=submit]")
        expect(board.locator("#live")).to_have_class("live on")
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
