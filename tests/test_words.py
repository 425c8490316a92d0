"""Every word a person reads comes from a catalogue: the two catalogues hold the same keys and
placeholders, and the pages — portal, tracking page, board, a ticket through its life — show no
identifier of the contract or the engine in either language."""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from faultflow import Engine
from faultflow.words import LANGUAGES, Words, catalogue
from test_http import Served
from test_web import browser, csrf_of


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_catalogues_hold_the_same_keys_and_placeholders() -> None:
    zh, en = catalogue("zh"), catalogue("en")
    assert set(zh) == set(en), set(zh) ^ set(en)
    for key in zh:
        assert zh[key].strip() and en[key].strip(), key
        assert _fields(zh[key]) == _fields(en[key]), key


def test_durations_and_stopped_clocks_in_words() -> None:
    zh, en = Words("zh"), Words("en")
    assert zh.duration(timedelta(hours=1, minutes=5)) == "1 小时 5 分钟"
    assert en.duration(timedelta(days=1, minutes=7)) == "1 d 7 min"
    assert en.duration(timedelta(seconds=40)) == "40 s"
    assert en.limit(timedelta(hours=4), "office") == "4 h of working time (office)"
    assert zh.limit(timedelta(hours=4)) == "4 小时"  # a 24x7 clock
    due = pytest.importorskip("datetime").datetime(2026, 1, 5, 15, 0)
    early, late = due - timedelta(minutes=12), due + timedelta(minutes=7)
    assert en.stopped(early, due, "14:48") == "met at 14:48, 12 min before due"
    assert zh.stopped(late, due, "15:07") == "15:07 完成，超时 7 分钟"
    with pytest.raises(ValueError):
        Words("fr")


class _Text(HTMLParser):
    """The text a reader sees: no markup, no attributes, no scripts or styles."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style", "title"):
            self._skip += 1
        if tag in ("option", "button") or tag == "input":
            for name, value in attrs:  # a placeholder or a shown value is read too
                if name == "placeholder" and value:
                    self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "title"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


def identifiers(engine: Engine) -> set[str]:
    """The names of the contract and the engine a page must say in words instead."""
    c = engine.contract
    names = set(c.states) | set(c.clocks) | {t.trigger for t in c.transitions}
    names |= set(c.kinds) | set(c.causes) | set(engine.registry.channels)
    names |= {r for t in c.transitions if t.guard for g in (t.guard, *(t.guard.any or ()))
              for r in (g.reason or ())}  # fmt: skip
    names |= {"running", "stopped", "paused", "intake", "breach", "warning", "page", "note"}
    return names


def leaks(text: str, names: set[str], lang: str) -> list[str]:
    """Identifiers in ``text``: in Chinese every one of them (no page word is ASCII there but
    names of people and values typed in), in English those no English word looks like
    (``on_site``, ``cause-unknown``) and catalogue keys (``board.title``); and CLI flags."""
    found = re.findall(r"--[a-z][a-z-]+", text)  # a command-line flag in a web page
    found += re.findall(r"\b[a-z]+\.[a-z_]+[a-z]\b", text)  # a catalogue key
    words = set(re.findall(r"[A-Za-z][A-Za-z0-9_-]*", text))
    for name in names & words:
        if lang == "zh" or "_" in name or "-" in name:
            found.append(name)
    return sorted(set(found))


def html_report(engine: Engine, lang: str) -> str:
    from faultflow.contract.graph import lifecycle_html
    from faultflow.reports.html import render
    from faultflow.words import Words

    w = Words(lang)
    drawing = lifecycle_html(engine.contract, w)
    return render(engine.report(), lifecycle=drawing, contract=engine.contract, words=w)


@pytest.fixture
def site(engine: Engine) -> Iterator[Served]:
    served = Served(engine, portal_limit=(50, 60.0))
    try:
        yield served
    finally:
        served.stop()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_page_shows_an_identifier(site: Served, engine: Engine, travel: Any, lang: str) -> None:
    names = identifiers(engine)
    secret = engine.create_token("desk", ["operate"], "li")[1]
    seen: dict[str, str] = {}
    with browser(site, lang) as c:
        seen["portal"] = c.get("/").text
        icon = c.get("/favicon.ico")  # no 404 on every page
        assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
        token = csrf_of(seen["portal"])
        form = {"unit": "城关镇", "name": "张三", "phone": "13800000000", "what": "网络中断"}
        sent = c.post("/", data={"csrf": token, "impact": "no", **form})
        assert sent.status_code == 201
        code = re.search(r"/t/([A-Za-z0-9_.-]+)", sent.text)
        assert code, "no tracking link"
        track = f"/t/{code.group(1)}"
        seen["tracking, new"] = c.get(track).text
        token = csrf_of(c.get("/login").text)
        c.post("/login", data={"csrf": token, "token": secret, "next": "/board"})
        tid = engine.list()[0].id
        seen["board"] = c.get("/board").text
        seen["ticket, received"] = c.get(f"/tickets/{tid}").text
        engine.advance(tid, "respond", actor="li")
        seen["ticket, responded (a refused dispatch)"] = c.get(f"/tickets/{tid}").text
        engine.advance(tid, "dispatch", actor="li", reason="emergency")
        travel(minutes=40)
        engine.advance(tid, "arrive", actor="li")
        travel(hours=30)  # the resolution promise breaks
        engine.tick()
        token = csrf_of(c.get("/login").text)  # the session ran out meanwhile
        c.post("/login", data={"csrf": token, "token": secret, "next": "/board"})
        engine.note(tid, "spare on its way", actor="li")
        engine.advance(tid, "substitute", actor="li", note="a spare switch of the same model")
        seen["ticket, spare in place"] = c.get(f"/tickets/{tid}").text
        seen["board, later"] = c.get("/board").text
        engine.advance(tid, "report", actor="li", note="the switch is replaced")
        seen["ticket, reported"] = c.get(f"/tickets/{tid}").text
        seen["tracking, reported"] = c.get(track).text
        seen["report"] = c.get("/report").text
    seen["report (html file)"] = html_report(engine, lang)
    seen["handling report (md)"] = engine.handling_report(tid, "md", lang)
    for page, html in seen.items():  # each a page of its own, not the login form
        assert 'name="token"' not in html or page == "portal", page
    said = Words(lang)  # the board's report page: the file's body, lifecycle and breach included
    for part in ("report.lifecycle", "report.per_tier"):
        assert said[part] in seen["report"] and said[part] in seen["report (html file)"]
    assert said.format("report.breaches", n=1) in seen["report"]
    problems = {page: leaks(visible(html), names, lang) for page, html in seen.items()}
    assert not {p: found for p, found in problems.items() if found}, problems


def test_the_engines_own_notes_are_said_in_words_and_a_persons_as_written(engine: Engine) -> None:
    from types import SimpleNamespace

    from faultflow.words import NOTES

    def event(trigger: str, note: str, **data: Any) -> Any:
        return SimpleNamespace(trigger=trigger, note=note, data=data)

    zh = Words("zh")
    ack = event("ack", NOTES["ack"].format(chain="A"), chain="A", step=1, round=1)
    assert zh.said(engine.contract, ack) == "已确认：A 级升级链停止"
    assert zh.said(engine.contract, event("ack", "我来处理", chain="A")) is None
    handover = event("assign", NOTES["assign"].format(source="li", to="wang"), **{"from": "li"},
                     to="wang")  # fmt: skip
    assert zh.said(engine.contract, handover) == "由 li 转交给 wang"
