"""Every word a person reads, from one catalogue per language: ``zh.po`` and ``en.po`` beside
this module — gettext's PO format, read with Babel, so any translator's tool opens them. A
message id is a key (``board.title``), its string the text; ``{name}`` marks a placeholder.

The contract supplies the words for its own states, transitions and promises (``labels = { zh,
en }``): :meth:`Words.state`, :meth:`Words.action` and :meth:`Words.clock` take those first,
then the catalogue (``trigger.<name>``, ``event.<name>``), then a state's or promise's
``description`` (in the one language its author wrote), and only then the identifier — which
the page test (tests/test_words.py) fails on. Chinese is the default language: a key missing
from another language falls back to it, never to the key.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..timekeeping.times import show

LANGUAGES = ("zh", "en")
DEFAULT = "zh"
HERE = Path(__file__).parent

TURNED = {"duplicate": "has-duplicate", "related": "related", "caused-by": "causes"}
"""A link (``duplicate``, ``related``, ``caused-by``) as the other ticket sees it."""

NOTES = {
    "ack": "acknowledged: escalation {chain} stopped",
    "assign": "handed over from {source} to {to}",
    "locate": "located at {place}",
    "kb": "used experience entry {entry}",
}
"""The engine's own notes as the history keeps them (English, inside the hash chain): the
writers format them from here and :meth:`Words.said` recognises them here, to say them in the
reader's words (a note a person wrote instead is shown as written)."""


@functools.cache
def catalogue(lang: str) -> Mapping[str, str]:
    """The catalogue of ``lang`` (one of :data:`LANGUAGES`): key to text."""
    from babel.messages.pofile import read_po

    with (HERE / f"{lang}.po").open("rb") as f:
        read = read_po(f, locale=lang)
    return {str(m.id): str(m.string) for m in read if m.id and m.string}


def place_text(place: Mapping[str, Any]) -> str:
    """A place as one line of codes, broadest first: ``CG01 / CG01-A / 2102351``."""
    return " / ".join(str(place[k]) for k in ("unit", "site", "line", "device") if place.get(k))


class Words:
    """The words of one language: ``w["key"]``, ``w.format("key", n=3)``, and the contract's
    own words through :meth:`of`, :meth:`state`, :meth:`action` and :meth:`clock`."""

    def __init__(self, lang: str) -> None:
        if lang not in LANGUAGES:
            raise ValueError(f"no catalogue for {lang!r} (there are {', '.join(LANGUAGES)})")
        self.lang = lang
        self._i = LANGUAGES.index(lang)
        self._own = catalogue(lang)

    def __getitem__(self, key: str) -> str:
        text = self._own.get(key)
        return text if text is not None else catalogue(DEFAULT)[key]

    def __contains__(self, key: str) -> bool:
        return key in self._own or key in catalogue(DEFAULT)

    def get(self, key: str, default: str) -> str:
        """``w[key]``, or ``default`` where no catalogue has the key (a name of the data)."""
        text = self._own.get(key)
        if text is None:
            text = catalogue(DEFAULT).get(key)
        return default if text is None else text

    @property
    def known(self) -> Mapping[str, str]:
        """Every key of this language's catalogue (a template asks before it names a key it
        builds from data)."""
        return self._own

    def format(self, key: str, **values: Any) -> str:
        return self[key].format(**values)

    def of(self, labels: Mapping[str, str], fallback: str) -> str:
        """The contract's words in this language (else its default language's, else
        ``fallback``)."""
        return labels.get(self.lang) or labels.get(DEFAULT) or fallback

    def other(self) -> str:
        """The language the switch on the page leads to."""
        return LANGUAGES[1 - self._i]

    # -- the contract's words ----------------------------------------------------------------

    def state(self, contract: Any, name: str | None) -> str:
        if not name:
            return ""
        state = contract.states.get(name)
        return self.of(state.labels, state.description or name) if state is not None else name

    def clock(self, contract: Any, name: str) -> str:
        spec = contract.clocks.get(name)
        return self.of(spec.labels, spec.description or name) if spec is not None else name

    def action(self, contract: Any, trigger: str) -> str:
        """A trigger as a button says it: the contract's labels for it, else the catalogue's
        ``trigger.<name>``, else the trigger."""
        for t in contract.transitions:
            if t.trigger == trigger and t.labels:
                return self.of(t.labels, trigger)
        key = f"trigger.{trigger}"
        return self.get(key, trigger)

    def history(self, contract: Any, trigger: str) -> str:
        """A history entry's kind, as the staff read it: the engine's own events
        (``history.<name>``) and the contract's triggers."""
        key = f"history.{trigger}"
        return self[key] if key in self else self.action(contract, trigger)

    def _named(self, prefix: str, name: str | None) -> str:
        if not name:
            return ""
        key = f"{prefix}.{name}"
        return self.get(key, name)

    def channel(self, name: str | None) -> str:
        return self._named("channel", name)

    def kind(self, name: str | None) -> str:
        return self._named("kind", name)

    def cause(self, name: str | None) -> str:
        return self._named("cause", name)

    def reason(self, name: str) -> str:
        """A reason a guard names (``emergency``), as its choice in a list says it."""
        return self._named("reason", name)

    def value(self, field: str, value: str | None) -> str:
        """A classification value (tier, kind, channel or cause) in words."""
        if not value:
            return self["why.not_set"]
        if field == "tier":
            return value
        return {"kind": self.kind, "channel": self.channel, "cause": self.cause}.get(
            field, lambda v: v
        )(value)

    def why(self, contract: Any, reasons: Any) -> str:
        """Why a guard refuses (``machine.Why`` items), in sentences of this language."""
        said = []
        for r in reasons:
            if r.kind == "condition":
                allowed = self["why.or_values"].join(self.value(r.field, v) for v in r.allowed)
                field, value = self[f"field.{r.field}"], self.value(r.field, r.value)
                said.append(self.format("why.condition", field=field, allowed=allowed, value=value))
            elif r.kind == "reason_required":
                said.append(self["why.reason_required"])
            elif r.kind == "reason_one_of":
                named = self["list.sep"].join(self.reason(x) for x in r.allowed)
                said.append(self.format("why.reason_one_of", reasons=named))
            elif r.kind == "clock_not_breached":
                due = self.format("why.due", at=show(r.due)) if r.due is not None else ""
                said.append(self.format("why.clock_not_breached",
                                        clock=self.clock(contract, r.field), due=due))  # fmt: skip
            else:
                said.append(self["why.guard"])
        return self["why.either"].join(said) or self["why.guard"]

    def said(self, contract: Any, event: Any) -> str | None:
        """What the engine itself wrote on a history entry — an alarm, a page, a delivery, an
        acknowledgement or handover in its own words — said in this language from the entry's
        data; None where the note is what a person wrote (shown as written)."""
        data, note = event.data or {}, event.note or ""
        kind = event.trigger
        if kind in ("warning", "breach") and "clock" in data:
            return self._alarm(contract, kind, data)
        if kind == "page" and "chain" in data:
            if data.get("stopped"):
                return self.format("said.page_stopped", chain=data["chain"])
            who = self["list.sep"].join(p.get("name", "") for p in data.get("paged", []))
            said = self.format(
                "said.page", chain=data["chain"], step=data.get("step", "?"),
                round=data.get("round", "?"), who=who or self["paging.nobody"],
            )  # fmt: skip
            if data.get("gaps"):
                said += self.format("said.gaps", roles=self["list.sep"].join(data["gaps"]))
            return said
        if kind == "delivered" and "ok" in data:
            outcome = self["paging.delivered"] if data["ok"] else self["paging.failed"]
            if data.get("error"):
                outcome += f" ({data['error']})"
            return self.format("said.delivered", seq=data.get("page") or "-",
                               via=data.get("notifier", ""), outcome=outcome)  # fmt: skip
        if kind == "ack" and note == NOTES["ack"].format(chain=data.get("chain")):
            return self.format("said.ack", chain=data.get("chain", ""))
        handover = {"source": data.get("from"), "to": data.get("to")}
        if kind == "assign" and note == NOTES["assign"].format(**handover):
            return self.format("said.assign", **handover)
        if kind == "kb" and note == NOTES["kb"].format(entry=data.get("entry")):
            return self.format("said.kb", entry=data.get("entry", ""))
        if kind == "locate" and "place" in data:
            to = (data["place"] or {}).get("to") or {}
            if note == NOTES["locate"].format(place=place_text(to)):
                return self.format("said.locate", place=place_text(to) or "-")
        return self._grouped(kind, data, note) or self._planned(kind, data, note)

    def _grouped(self, kind: str, data: Mapping[str, Any], note: str) -> str | None:
        """The engine's own words on one outage reported many times (tickets/groups.py)."""
        if kind == "merge" and "into" in data:
            return self.format("said.merge", parent=data["into"])
        if kind == "unmerge" and "from" in data:
            return self.format("said.unmerge", parent=data["from"])
        if kind == "follow" and "parent" in data:
            return self.format("said.follow", parent=data["parent"])
        if kind == "group" and "origin" in data:
            origin = show(datetime.fromisoformat(data["origin"]))
            if "merged" in data:
                return self.format("said.group_in", ticket=data["merged"], origin=origin,
                                   n=data.get("reports", 0))  # fmt: skip
            return self.format("said.group_out", ticket=data.get("unmerged", "-"),
                               origin=origin, n=data.get("reports", 0))  # fmt: skip
        link = data.get("link") or {}
        if kind == "link" and link.get("as"):
            mine = "to" in link
            other = link.get("to") if mine else link.get("from")
            shown = link["as"] if mine else TURNED.get(link["as"], link["as"])
            if note == f"{shown} {other}":  # the engine's words (else a person's note)
                return f"{self.get('link.' + shown, shown)} {other}"
        if kind == "unlink" and "unlink" in data:
            return self.format("said.unlink", other=data["unlink"].get("other", "-"))
        return None

    def _planned(self, kind: str, data: Mapping[str, Any], note: str) -> str | None:
        """The engine's own words on planned work, follow-ups and the spares' stock."""
        window = data.get("window")
        if (
            kind == "note"
            and window is not None
            and data.get("escalation") in ("paused", "resumed")
        ):
            return self.format(f"said.escalation_{data['escalation']}", window=window)
        if kind == "intake" and window is not None:
            return self.format("said.window_over", window=window)
        if kind == "cleared" and window is not None:
            return self.format("said.cleared", window=window)
        if kind == "followup" and "rating" in data:
            said = self.format("said.followup", rating=data["rating"])
            if data.get("late"):
                said += self["said.followup_late"]
            comment = note.split(" — ", 1)[1] if " — " in note else ""  # the customer's words
            return f"{said} — {comment}" if comment else said
        low = data.get("spares_low")
        if kind == "note" and isinstance(low, Mapping):
            said = self.format("said.spares_low", model=low.get("model"), n=low.get("in_stock"),
                               devices=low.get("devices"), wanted=low.get("wanted"))  # fmt: skip
            if data.get("told"):
                said += self.format("said.told", who=self["list.sep"].join(data["told"]))
            return said
        return None

    def _alarm(self, contract: Any, kind: str, data: Mapping[str, Any]) -> str:
        clock = self.clock(contract, data["clock"])
        due = show(datetime.fromisoformat(data["due_at"])) if data.get("due_at") else "-"
        if kind == "warning":
            spec = contract.clocks.get(data["clock"])
            share = round(spec.warning_share * 100) if spec is not None else 80
            return self.format("alarm.warning", clock=clock, share=share, due=due)
        said = self.format("alarm.breach", clock=clock, due=due)
        if data.get("chain"):
            said += self.format("alarm.chain", tier=data["chain"])
        elif data.get("escalated_to"):
            said += self.format("alarm.escalated", who=self["list.sep"].join(data["escalated_to"]))
        return said

    # -- time --------------------------------------------------------------------------------

    def duration(self, value: timedelta | None) -> str:
        """Every unit to the minute (``1 天 2 小时 5 分钟``, ``1 d 2 h 5 min``); ``-`` for none."""
        if value is None:
            return "-"
        seconds = int(abs(value).total_seconds())
        if seconds < 60:
            return f"{seconds} {self['unit.s']}"
        days, rest = divmod(seconds, 86400)
        hours, rest = divmod(rest, 3600)
        minutes = rest // 60
        parts = [
            f"{n} {self['unit.' + unit]}"
            for n, unit in ((days, "d"), (hours, "h"), (minutes, "min"))
            if n
        ]
        return " ".join(parts)

    def limit(self, value: timedelta, calendar: str | None = None) -> str:
        """A promise's limit: wall time on a 24x7 clock, working time over a calendar
        (``4 小时工作时间（office）``, ``4 h of working time (office)``)."""
        if calendar is None:
            return self.duration(value)
        return self.format("promise.working", limit=self.duration(value), calendar=calendar)

    def stopped(self, stopped_at: datetime, due_at: datetime | None, shown: str) -> str:
        """A stopped clock in words: met with time to spare, or broken by how much."""
        if due_at is None:
            return self.format("clock.stopped_at", at=shown)
        if stopped_at <= due_at:
            return self.format("clock.met", at=shown, ahead=self.duration(due_at - stopped_at))
        return self.format("clock.broken", at=shown, late=self.duration(stopped_at - due_at))

    def __repr__(self) -> str:
        return f"Words({self.lang!r})"
