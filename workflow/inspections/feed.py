"""The calendar feed (iCalendar, RFC 5545, written by the ``icalendar`` library): the coming
inspection rounds and the duty shifts, for staff to subscribe to from their phone's calendar.
Pure: it takes what to show and returns the file's bytes.

Each event has a stable UID (a round's id; a shift's role, start and holders), so a calendar
that reads the feed again updates its events instead of adding copies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

DOMAIN = "faultflow"


def calendar(
    name: str, rounds: Iterable[Any], shifts: Mapping[str, Sequence[Any]],
    describe: Mapping[str, str], names: Mapping[str, str], words: Any, stamp: datetime,
) -> bytes:  # fmt: skip
    """The feed: a VEVENT per round (a ``Planned``: from its start to its due time) and per
    shift (role, from, to, holders). ``describe``: each plan's description; ``names``:
    people's names by id; ``words``: the catalogue of the reader's language; ``stamp``: when
    the feed was made."""
    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//faultflow//inspection rounds and duty shifts//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    for r in rounds:
        e = Event()
        e.add("uid", f"{r.plan}/{r.scheduled_at.strftime('%Y%m%dT%H%M%S')}@{DOMAIN}")
        e.add("dtstamp", stamp)
        e.add("dtstart", r.scheduled_at)
        e.add("dtend", r.due_at)
        e.add("summary", words.format("feed.round", plan=r.plan))
        said = [describe.get(r.plan, ""), words.format("feed.round_by", role=r.role),
                words.format("feed.round_covers", targets=", ".join(r.targets))]  # fmt: skip
        e.add("description", "\n".join(x for x in said if x))
        e.add("categories", ["inspection"])
        cal.add_component(e)
    for role, rows in shifts.items():
        for start, end, holders in rows:
            if not holders:
                continue
            who = ", ".join(names.get(p, p) for p in holders)
            e = Event()
            e.add("uid", f"shift/{role}/{start.strftime('%Y%m%dT%H%M%S')}/"
                         f"{'+'.join(holders)}@{DOMAIN}")  # fmt: skip
            e.add("dtstamp", stamp)
            e.add("dtstart", start)
            e.add("dtend", end)
            e.add("summary", words.format("feed.shift", role=role, people=who))
            e.add("categories", ["duty"])
            cal.add_component(e)
    cal.add_missing_timezones()
    out: bytes = cal.to_ical()
    return out
