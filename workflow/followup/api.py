"""The Engine's API for follow-up calls (回访; mixed into :class:`~faultflow.Engine`), and what a
ticket's closing does for them (:class:`Due`).

When a ticket is reported (it reaches a final state that is not a cancellation), its follow-up
falls due: by the contract's ``[followup] within``, counted over its calendar's working time —
made in the ticket's own transaction. The staff call the reporter and record the rating (1-5)
and a comment (``faultflow followup ID --rating 4 --note …``), or the reporter gives them on the
signed tracking page; once, either way: an event on the ticket, the row done. A rating at or
below ``[followup] threshold`` opens a review ticket for the unit's customer manager, linked to
the rated one. The scheduler marks the follow-ups not done by their time as missed, and opens a
review a crash left unopened.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..db import followups as table
from ..db import links
from ..db.ledger import rewritten
from ..db.records import FollowupRecord
from ..db.store import Unit
from ..errors import ConcurrentUpdate, IllegalTransition, InvalidInput, UnknownTicket
from ..ids import normalize_ticket_id
from ..intake import IntakeRecord
from ..tickets.draft import SYSTEM_ACTOR, Draft
from ..tickets.parts import At, EngineParts
from ..tickets.unit import Step
from ..timekeeping.times import aware, from_us, to_us

CHANNEL = "followup"
"""The channel of a review ticket a low rating opens."""
VIA = ("staff", "reporter")
INTERNAL = frozenset({CHANNEL, "inspection"})
"""Channels whose tickets have nobody outside to call back: reviews, inspection rounds."""


@dataclass(frozen=True, slots=True)
class Followup:
    """A ticket's follow-up as people read it."""

    ticket: str
    state: str  # due | done | missed
    due_at: datetime
    rating: int | None
    comment: str | None
    by: str | None
    via: str | None
    at: datetime | None
    review: str | None
    unit: str | None
    channel: str
    owner: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticket": self.ticket, "state": self.state, "due_at": self.due_at.isoformat(),
            "rating": self.rating, "comment": self.comment, "by": self.by, "via": self.via,
            "at": self.at.isoformat() if self.at else None, "review": self.review,
            "unit": self.unit, "channel": self.channel, "owner": self.owner,
        }  # fmt: skip


def view(r: FollowupRecord, zone: Any) -> Followup:
    return Followup(r.ticket, r.state, from_us(r.due_us, zone), r.rating, r.comment, r.by,
                    r.via, from_us(r.at_us, zone) if r.at_us is not None else None, r.review,
                    r.unit, r.channel, r.owner)  # fmt: skip


class Due:
    """Called by the unit of work in the transaction of a change that reports a ticket: its
    follow-up falls due (when the contract asks for one)."""

    def __call__(self, u: Unit, draft: Draft) -> None:
        c, t = draft.contract, draft.ticket
        if c.followup_within_us is None or t.channel in INTERNAL:
            return
        closing = next(e for e in reversed(draft.events) if e.to_state in c.finals)
        due = c.followup_calendar.add(closing.at_us, c.followup_within_us)
        table.add(u, FollowupRecord(t.id, due, "due", None, None, None, None, None, None,
                                    t.unit, t.channel, t.owner, closing.at_us, 1))  # fmt: skip


class FollowupAPI(EngineParts):
    """Part of the Engine's API (see the module's docstring)."""

    def followup(
        self, ticket_id: str, rating: int, note: str | None = None, actor: str | None = None,
        via: str = "staff",
    ) -> Followup:  # fmt: skip
        """Record the follow-up of a reported ticket: the customer's ``rating`` (1-5) and
        comment, taken by the staff (``via`` ``staff``) or given by the reporter (``reporter``,
        the tracking page). Once; a low rating opens a review for the unit's manager."""
        policy = self._changes.policy
        said = policy.checked("note", note)
        who = policy.actor_name(actor or "system")
        if via not in VIA:
            raise InvalidInput(f"a follow-up is taken by the staff or given by the reporter, "
                               f"not {via!r}")  # fmt: skip
        if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
            raise InvalidInput(f"rating: a whole number from 1 to 5, not {rating!r}")
        tid = normalize_ticket_id(ticket_id)

        def record(s: Step) -> None:
            row = table.get(s.tx, tid)
            t = s.draft.ticket
            if row is None:
                why = (
                    "it is not reported yet"
                    if t.state not in s.draft.contract.finals
                    else "it closed without a report, or before follow-ups were asked for"
                )
                raise IllegalTransition(f"ticket {tid} has no follow-up: {why}")  # fmt: skip
            if row.state == "done":
                raise IllegalTransition(
                    f"ticket {tid} was followed up already ({row.rating}/5, by {row.by})"
                )
            done = row._replace(state="done", rating=rating, comment=said, by=who, via=via,
                                at_us=s.at_us, version=row.version + 1)  # fmt: skip
            if not table.change(s.tx, done):
                raise ConcurrentUpdate(f"the follow-up of {tid} changed meanwhile", retry=True)
            late = " (late)" if s.at_us > row.due_us else ""
            text = f"follow-up{late}: {rating}/5" + (f" — {said}" if said else "")
            s.draft.record("followup", t.state, s.at_us, who, note=text,
                           data={"rating": rating, "via": via,
                                 **({"late": True} if late else {})})  # fmt: skip
            s.result = done

        self.work.change(tid, record)
        if rating <= self.contract.followup_threshold:
            self._review(tid)
        return self.followup_of(tid)

    def followup_of(self, ticket_id: str) -> Followup:
        """A ticket's follow-up."""
        tid = normalize_ticket_id(ticket_id)
        with self.store.unit() as u:
            row = table.get(u, tid)
        if row is None:
            raise UnknownTicket(f"ticket {ticket_id} has no follow-up")
        return view(row, self.contract.timezone)

    def followups(self, state: str | None = None, limit: int = 500) -> builtins.list[Followup]:
        """The follow-ups (in ``state``: due, done, missed), the soonest due first."""
        if state is not None and state not in ("due", "done", "missed"):
            raise InvalidInput(f"no follow-up state {state!r} (there are due, done, missed)")
        zone = self.contract.timezone
        found = table.listed(self.store, [state] if state else None, limit)
        return [view(r, zone) for r in found]

    def keep_followups(self, now: At = None) -> dict[str, builtins.list[str]]:
        """One pass of the scheduler: the follow-ups past their time are missed; a low rating
        whose review a crash left unopened gets it. The tickets of each."""
        moment = aware(now, self.now(), self.contract.timezone)
        now_us = to_us(moment)
        missed = []
        for tid in table.overdue(self.store, now_us):
            with self.store.unit() as u:
                row = table.get(u, tid)
                late = row is not None and row.state == "due" and row.due_us < now_us
                if late and row is not None and table.change(
                    u, row._replace(state="missed", version=row.version + 1)
                ):
                    missed.append(tid)
        reviews = []
        for tid in table.unreviewed(self.store, self.contract.followup_threshold):
            reviews.append(self._review(tid))
        return {"missed": missed, "reviews": reviews}

    def next_followup_due(self) -> datetime | None:
        """When the next follow-up falls due, or ``None``."""
        found = table.next_due(self.store)
        return from_us(found, self.contract.timezone) if found is not None else None

    # -- the review a low rating opens -----------------------------------------------------------

    def _review(self, tid: str) -> str:
        """Open (once: its external id is the rated ticket's) the review ticket of a low rating,
        owned by the unit's customer manager, linked to the rated ticket; its id."""
        from ..words import DEFAULT, Words

        with self.store.unit() as u:
            row = table.get(u, tid)
        assert row is not None and row.rating is not None
        if row.review is not None:
            return row.review
        rated = self.get(tid)
        w = Words(DEFAULT)
        manager = self.places.manager(row.unit) if row.unit else None
        said: Mapping[str, Any] = {"ticket": tid, "title": rated.title, "rating": row.rating,
                                   "comment": row.comment or "-", "by": row.by or "-"}  # fmt: skip
        data = {k: v for k in ("unit", "site", "line", "device")
                if (v := getattr(rated, k)) is not None}  # fmt: skip
        opened = self._changes.open_ticket(
            CHANNEL,
            IntakeRecord(
                title=w.format("followup.review.title", **said),
                description=w.format("followup.review.what", **said),
                tier=self.contract.followup_tier, external_id=f"followup:{tid}",
                reporter=rated.reporter, contact=rated.contact, data={**data, "rated": tid},
            ),
            manager or rated.owner, None,
        ).ticket  # fmt: skip
        rewritten(
            self.store, lambda u: table.get(u, tid), table.change,
            lambda cur: None if cur.review is not None else cur._replace(review=opened.id),
            f"ticket {tid} has no follow-up", f"the follow-up of {tid}",
        )  # fmt: skip
        with self.store.unit() as u:
            linked = links.pair(u, opened.id, tid) is not None
        if not linked:
            with contextlib.suppress(InvalidInput):  # a racing pass linked them first
                said_why = f"low follow-up rating of {tid}: {row.rating}/5"
                self._changes.groups.link(opened.id, tid, "caused-by", SYSTEM_ACTOR, said_why)
        return opened.id
