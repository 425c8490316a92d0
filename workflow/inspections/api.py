"""The Engine's API for inspection rounds (mixed into :class:`~faultflow.Engine`): when the
contract's plans place rounds (:meth:`planned`), the rounds kept as records — made a day ahead
by the scheduler, each exactly once (:meth:`keep_rounds`) — and doing one: start, record each
answer, finish or skip (docs/inspections.md).

Two things a round does to tickets, each through the one unit of work (``open_ticket``): an
answer that is a finding opens a fault ticket linked to the round, and a round not done by its
due time — a broken promise — opens one too, and starts the tier's escalation chain. Both are
keyed (``round:ID``, ``finding:ID:ITEM``) so that a retry, a racing scheduler or a scheduler
killed halfway opens each at most once.

(A little longer than the house's ~500 lines: the calendar feed of the rounds and shifts, 60
lines, reads the same rounds and plans as the rest.)
"""

from __future__ import annotations

import builtins
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..db import rounds as table
from ..db.ledger import rewritten
from ..db.records import RoundLogRecord, RoundRecord
from ..errors import (
    ConcurrentUpdate,
    FaultflowError,
    IllegalTransition,
    InvalidInput,
    UnknownEntry,
)
from ..intake import IntakeRecord
from ..run.due import each_due
from ..run.escalation import escalate
from ..tickets.parts import At, EngineParts
from ..timekeeping.times import aware, from_us, show, to_us
from ..words import DEFAULT, Words
from . import rounds
from .rounds import Round

MAX_WINDOW = timedelta(days=366)
AHEAD = timedelta(days=1)
"""How far ahead the scheduler makes rounds: a day — so today's and tomorrow's rounds are on
the board, and a scheduler that was down longer catches up with what it missed, marked late."""
CHUNK = 5000  # rounds made per transaction
RETRIES = 8
CHANNEL = "inspection"
"""The channel of the tickets rounds open (a finding, a missed round)."""
SYSTEM = "faultflow"
EVERYONE = "all"  # the code of the feed of every round and shift; a person's is "p-" + id

log = logging.getLogger("faultflow")


@dataclass(frozen=True, slots=True)
class Kept:
    """What one pass of :meth:`InspectionsAPI.keep_rounds` did: rounds made (``late``: of them,
    made after their time), and the rounds found not done by their due time, with the ticket
    each opened."""

    made: int = 0
    late: int = 0
    missed: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"made": self.made, "late": self.late,
                "missed": [{"round": r, "ticket": t} for r, t in self.missed]}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Planned:
    """One round as its plan places it: when it is due to start, and by when it must be done."""

    plan: str
    scheduled_at: datetime
    due_at: datetime
    role: str
    targets: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan, "scheduled_at": self.scheduled_at.isoformat(),
            "due_at": self.due_at.isoformat(), "role": self.role, "targets": list(self.targets),
        }  # fmt: skip


class InspectionsAPI(EngineParts):
    """Part of the Engine's API (see the module's docstring)."""

    def planned(
        self, start: At = None, end: At = None, plan: str | None = None
    ) -> builtins.list[Planned]:
        """The rounds the contract's plans place in [``start``, ``end``) (default: the next
        7 days), in time order (of one ``plan``, if given)."""
        contract = self.contract
        now = self.now()
        begin = aware(start, now, contract.timezone) if start is not None else now
        stop = aware(end, now, contract.timezone) if end is not None else begin + timedelta(days=7)
        if stop <= begin:
            raise InvalidInput(
                f"the window is empty: {stop.isoformat()} is not after {begin.isoformat()}"
            )
        if stop - begin > MAX_WINDOW:
            raise InvalidInput("a window of at most a year, please")
        plans = contract.inspections
        if plan is not None and plan not in plans:
            known = ", ".join(plans) or "none in the contract"
            raise InvalidInput(f"no inspection plan {plan!r} (plans: {known})")
        out = []
        for name, p in plans.items():
            if plan is not None and name != plan:
                continue
            due = timedelta(microseconds=p.due_within_us)
            for at in p.recurrence.between(begin, stop):
                at = at.astimezone(contract.timezone)
                out.append(Planned(name, at, at + due, p.role, p.targets))
        out.sort(key=lambda r: (r.scheduled_at, r.plan))
        return out

    def unknown_targets(self, contract: Any = None) -> builtins.list[tuple[str, str]]:
        """The plans' targets that name an entry the registry does not have, each with its key
        path (``inspections.hall-weekly.targets[0]``), for ``contract`` (default the current);
        an empty registry names nothing yet, and is not asked."""
        from ..db import network

        c = contract if contract is not None else self.contract
        known = network.everything(self.store, archived=False)
        if not any(known.values()):
            return []
        out = []
        for name, plan in c.inspections.items():
            for i, target in enumerate(plan.targets):
                kind, _, code = target.partition(":")
                if code and code not in known.get(f"{kind}s", {}):
                    out.append((f"inspections.{name}.targets[{i}]", target))
        return out

    # -- rounds kept ---------------------------------------------------------------------------

    def keep_rounds(self, now: At = None, ahead: timedelta | None = None) -> Kept:
        """One pass of the scheduler's inspections module: make the rounds of the next day (or
        of ``ahead``, at most a year) not made yet — and those a scheduler that was down
        missed, marked late — then find the rounds not done by their due time: each opens a
        ticket and pages, once."""
        moment = aware(now, self.now(), self.contract.timezone) if now is not None else self.now()
        horizon = AHEAD if ahead is None else ahead
        if not timedelta(0) <= horizon <= MAX_WINDOW:
            raise InvalidInput("rounds are made at most a year ahead")
        made, late = self._make_rounds(moment, horizon)
        missed = self._sweep_rounds(to_us(moment))
        return Kept(made, late, tuple(missed))

    def next_round_due(self) -> datetime | None:
        """When the next open round falls due (its promise), or ``None``."""
        due = table.next_due(self.store)
        return from_us(due, self.contract.timezone) if due is not None else None

    def _make_rounds(self, moment: datetime, ahead: timedelta) -> tuple[int, int]:
        contract = self.contract
        if not contract.inspections:
            return 0, 0
        now_us, zone = to_us(moment), contract.timezone
        last = table.last_scheduled(self.store)
        end = moment + ahead
        wanted: list[RoundRecord] = []
        for name, plan in contract.inspections.items():
            # a plan's rounds go on after its last one; a plan new to the database starts now
            begin = from_us(last[name] + 1, zone) if name in last else moment
            for at in plan.recurrence.between(begin, end):
                wanted.append(rounds.made(plan, at.astimezone(zone), now_us))
        made = late = 0
        for i in range(0, len(wanted), CHUNK):
            chunk = wanted[i : i + CHUNK]
            with self.store.unit() as u:
                n = table.plan(u, chunk)
            made += n  # of them late: at most those meant late (a racer may have made some)
            late += min(n, sum(1 for r in chunk if r.late))
        if late:
            log.warning("inspections: %d round(s) made after their time (the scheduler was "
                        "down): marked late", late)  # fmt: skip
        return made, late

    def _sweep_rounds(self, now_us: int, batch: int = 200) -> list[tuple[str, str]]:
        missed = []
        for rid in each_due(lambda: table.overdue(self.store, now_us, batch)):
            try:
                tid = self._breach(rid, now_us)
            except ConcurrentUpdate as err:  # kept changing under us: the next pass looks again
                log.warning("round %s: breach not recorded: %s", rid, err)
                continue
            if tid is not None:
                missed.append((rid, tid))
        return missed

    def _breach(self, rid: str, now_us: int) -> str | None:
        """Record that round ``rid`` was not done by its due time: open its ticket (once: keyed
        by the round), start the tier's chain on it (once), then mark the round — each step
        safe to repeat, so a scheduler killed between them finishes the work on its next pass."""
        r = self._round_record(rid)
        if r is None or r.breached_us is not None or r.state not in table.OPEN:
            return None
        zone = self.contract.timezone
        w = Words(DEFAULT)
        at, due = from_us(r.scheduled_us, zone), from_us(r.due_us, zone)
        said = {"plan": r.plan, "at": show(at, "minute"), "due": show(due, "minute"),
                "role": r.role}  # fmt: skip
        data: dict[str, Any] = {"round": rid, "plan": r.plan, "due_at": due.isoformat()}
        data.update(rounds.specific(json.loads(r.targets)) or {})
        ticket = self._changes.open_ticket(
            CHANNEL,
            IntakeRecord(
                title=w.format("inspection.missed.title", **said),
                description=w.format("inspection.missed.what", **said),
                tier=r.tier, external_id=f"round:{rid}", data=data,
            ),
            SYSTEM, None,
        ).ticket  # fmt: skip
        if self.people is not None and r.tier in self.people.chains:
            reason = f"inspection round {rid} not done by {due.isoformat()}"
            with contextlib.suppress(IllegalTransition):  # closed already: nobody to page
                escalate(self.work, self.people, ticket.id, SYSTEM, reason, first=True)

        def breached(cur: RoundRecord) -> RoundRecord | None:
            if cur.breached_us is not None or cur.state not in table.OPEN:
                return None
            return cur._replace(breached_us=now_us, ticket=ticket.id)

        marked = self._round_change(rid, breached, "breached", lambda n: {"ticket": ticket.id},
                                    SYSTEM, now_us)  # fmt: skip
        return ticket.id if marked is not None else None  # None: a racer marked it first

    # -- the calendar feed ----------------------------------------------------------------------

    def feed_link(self, person: str | None = None) -> str:
        """The path of the calendar feed (``/calendar/CODE.ics`` under ``faultflow serve``): of
        ``person`` (their shifts, and the rounds of the roles they hold then), or of everyone.
        The code is signed: no other person's feed can be reached from it."""
        if person is not None:
            self._feed_of(person)
        value = f"p-{person}" if person is not None else EVERYONE
        return f"/calendar/{self._feed_signer().sign('feed', value)}.ics"

    def feed_person(self, code: str) -> str | None:
        """Whose feed a code opens (``None``: everyone's); :class:`UnknownEntry` for a code
        that is not one of this database's."""
        found = self._feed_signer().unsign("feed", code)
        if found is None or (found != EVERYONE and not found.startswith("p-")):
            raise UnknownEntry("no such calendar feed")
        return None if found == EVERYONE else found[2:]

    def calendar_feed(
        self, person: str | None = None, days: int = 30, lang: str | None = None
    ) -> bytes:
        """The iCalendar feed of the next ``days``: the rounds the plans place (of ``person``:
        those of a role they hold at the round's time) and the duty shifts (of ``person``:
        theirs), in ``lang`` (default the contract's language)."""
        from .feed import calendar

        if not 1 <= days <= MAX_WINDOW.days:
            raise InvalidInput(f"a feed of 1 to {MAX_WINDOW.days} days, please (not {days})")
        if person is not None:
            self._feed_of(person)
        now = self.now()
        end = now + timedelta(days=days)
        rounds = self.planned(now, end)
        shifts: dict[str, Any] = self.shifts(now, end) if self.people is not None else {}
        names = {p.id: p.name for p in self.people.people.values()} if self.people else {}
        if person is not None:
            rounds = [r for r in rounds if self._holds(person, r.role, r.scheduled_at)]
            shifts = {role: [s for s in rows if person in s[2]] for role, rows in shifts.items()}
        words = Words(lang or self.contract.language)
        title = words.format("feed.name", who=names.get(person, person) if person else
                             words["feed.everyone"])  # fmt: skip
        describe = {n: p.description for n, p in self.contract.inspections.items()}
        return calendar(title, rounds, shifts, describe, names, words, now)

    def _feed_of(self, person: str) -> None:
        if self.people is None:
            raise InvalidInput("a person's feed needs the people file (--people)")
        if person not in self.people.people:
            raise InvalidInput(f"no person {person!r} in {self.people.source}")

    def _holds(self, person: str, role: str, at: datetime) -> bool:
        if role == person:
            return True
        try:
            held = self.oncall(role, at).get(role, [])
        except FaultflowError:  # a role the people file no longer has: nobody holds it
            return False
        return any(d.person.id == person for d in held)

    def _feed_signer(self) -> Any:
        from ..access.signing import Signer
        from ..db.contracts import site_key

        return Signer(site_key(self.store, "feed"))

    # -- doing a round -------------------------------------------------------------------------

    def rounds(
        self, start: At = None, end: At = None, plan: str | None = None,
        status: Sequence[str] | None = None, limit: int | None = None,
    ) -> builtins.list[Round]:  # fmt: skip
        """The rounds made, scheduled in [``start``, ``end``) (default: today), in time order
        (of ``plan``; of the given ``status`` values, :data:`~.rounds.STATUSES`)."""
        contract, now = self.contract, self.now()
        zone = contract.timezone
        today = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        begin = aware(start, now, zone) if start is not None else today
        stop = aware(end, now, zone) if end is not None else begin + timedelta(days=1)
        if stop <= begin:
            raise InvalidInput(f"the window is empty: {stop.isoformat()} is not after "
                               f"{begin.isoformat()}")  # fmt: skip
        unknown = set(status or ()) - set(rounds.STATUSES)
        if unknown:
            raise InvalidInput(f"no round status {', '.join(sorted(unknown))} (there are "
                               f"{', '.join(rounds.STATUSES)})")  # fmt: skip
        if (
            plan is not None
            and plan not in contract.inspections
            and not table.listed(self.store, None, None, [plan], limit=1)
        ):
            known = ", ".join(contract.inspections) or "none in the contract"
            raise InvalidInput(f"no inspection plan {plan!r} (plans: {known})")
        found = table.listed(self.store, to_us(begin), to_us(stop),
                             [plan] if plan is not None else None)  # fmt: skip
        now_us = to_us(now)
        out = [rounds.view(r, now_us, zone) for r in found]
        if status:
            out = [r for r in out if r.status in status]
        return out[:limit] if limit is not None else out

    def round(self, round_id: str) -> Round:
        """One round, with its checklist and answers (:class:`UnknownEntry` if none)."""
        r = self._round_record(round_id)
        if r is None:
            raise UnknownEntry(f"no inspection round {round_id} (see `faultflow inspect list`)")
        return rounds.view(r, self._now_us(), self.contract.timezone)

    def round_history(self, round_id: str) -> builtins.list[dict[str, Any]]:
        """Every change of a round, oldest first: who did what, when."""
        self.round(round_id)
        zone = self.contract.timezone
        return [_change(e, zone) for e in table.history(self.store, round_id)]

    def inspect_start(self, round_id: str, actor: str | None = None) -> Round:
        """Start a round (``planned`` → ``running``); who and when go into its log."""
        who = self._changes.policy.actor_name(actor or "system")
        now_us = self._now_us()

        def started(cur: RoundRecord) -> RoundRecord:
            _open(cur, "start")
            if cur.state == "running":
                raise IllegalTransition(f"round {cur.id} is running already (started by "
                                        f"{cur.started_by})")  # fmt: skip
            return cur._replace(state="running", started_us=now_us, started_by=who)

        self._round_change(round_id, started, "started", lambda n: {}, who, now_us)
        return self.round(round_id)

    def inspect_record(
        self, round_id: str, item: str, value: Any, actor: str | None = None,
        note: str | None = None, target: str | None = None,
    ) -> Round:  # fmt: skip
        """Record the answer to one checklist item (a round not started is started by it).
        An answer that is a finding ("not ok", a number out of bounds) opens a fault ticket of
        the plan's tier, linked to the round (``target``: the registry entry it concerns,
        ``device:SERIAL``; default the round's one target). Answering an item again replaces
        the answer; a ticket once opened stays."""
        policy = self._changes.policy
        who = policy.actor_name(actor or "system")
        said = policy.checked("note", note)
        r = self._round_record(round_id)
        if r is None:
            raise UnknownEntry(f"no inspection round {round_id} (see `faultflow inspect list`)")
        _open(r, "record an answer on")
        checked = rounds.item(r, item)
        got, finding = rounds.answer(checked, value)
        place = _target(target) if target else rounds.specific(json.loads(r.targets))
        now_us = self._now_us()
        ticket = None
        if finding:
            ticket = self._finding(r, checked, got, who, said, place)

        def answered(cur: RoundRecord) -> RoundRecord:
            _open(cur, "record an answer on")
            answers = json.loads(cur.answers)
            answers[item] = {"value": got, "finding": finding, "by": who, "at_us": now_us}
            if said:
                answers[item]["note"] = said
            findings = json.loads(cur.findings)
            if ticket is not None and not any(f["ticket"] == ticket for f in findings):
                findings.append({"item": item, "value": got, "ticket": ticket})
            changed = cur._replace(
                answers=json.dumps(answers, ensure_ascii=False),
                findings=json.dumps(findings, ensure_ascii=False),
            )
            if cur.state == "planned":
                changed = changed._replace(state="running", started_us=now_us, started_by=who)
            return changed

        def what(new: RoundRecord) -> dict[str, Any]:
            entry: dict[str, Any] = {"item": item, "value": got, "finding": finding}
            if ticket is not None:
                entry["ticket"] = ticket
            if said:
                entry["note"] = said
            return entry

        self._round_change(round_id, answered, "answered", what, who, now_us)
        return self.round(round_id)

    def inspect_finish(self, round_id: str, actor: str | None = None,
                       note: str | None = None) -> Round:  # fmt: skip
        """Finish a round: every ``ok`` and ``number`` item must have its answer. Finished
        after its due time, it counts as done late (its breach stays on record)."""
        policy = self._changes.policy
        who, said = policy.actor_name(actor or "system"), policy.checked("note", note)
        now_us = self._now_us()

        def finished(cur: RoundRecord) -> RoundRecord:
            _open(cur, "finish")
            missing = rounds.unanswered(cur)
            if missing:
                raise InvalidInput(f"round {cur.id} cannot be finished: no answer yet for "
                                   f"{', '.join(missing)}")  # fmt: skip
            return cur._replace(state="done", finished_us=now_us, finished_by=who,
                                started_us=cur.started_us or now_us,
                                started_by=cur.started_by or who)  # fmt: skip

        def what(new: RoundRecord) -> dict[str, Any]:
            entry: dict[str, Any] = {"late": new.finished_us is not None
                                     and new.finished_us > new.due_us}  # fmt: skip
            if said:
                entry["note"] = said
            return entry

        self._round_change(round_id, finished, "finished", what, who, now_us)
        return self.round(round_id)

    def inspect_skip(self, round_id: str, reason: str, actor: str | None = None) -> Round:
        """Skip a round, with the reason (a holiday the calendar does not know, a site closed):
        it counts as skipped, not missed — unless its due time had passed already."""
        policy = self._changes.policy
        who, said = policy.actor_name(actor or "system"), policy.checked("reason", reason)
        if not said:
            raise InvalidInput("skipping a round needs a reason (--reason)")
        now_us = self._now_us()

        def skipped(cur: RoundRecord) -> RoundRecord:
            _open(cur, "skip")
            return cur._replace(state="skipped", finished_us=now_us, finished_by=who,
                                reason=said)  # fmt: skip

        self._round_change(round_id, skipped, "skipped", lambda n: {"reason": said}, who, now_us)
        return self.round(round_id)

    def _finding(
        self, r: RoundRecord, item: Any, value: Any, who: str, note: str | None,
        place: dict[str, str] | None,
    ) -> str:  # fmt: skip
        """Open the fault ticket of a finding (once per round and item while it is open)."""
        zone = self.contract.timezone
        w = Words(DEFAULT)
        said = {"plan": r.plan, "item": item.item, "value": _shown(value),
                "expected": rounds.bounds(item), "who": who,
                "at": show(from_us(r.scheduled_us, zone), "minute")}  # fmt: skip
        description = w.format("inspection.finding.what", **said)
        if note:
            description += "\n" + note
        data: dict[str, Any] = {"round": r.id, "plan": r.plan, "item": item.item, "value": value}
        data.update(place or {})
        return self._changes.open_ticket(
            CHANNEL,
            IntakeRecord(
                title=w.format("inspection.finding.title", **said), description=description,
                tier=r.tier, external_id=f"finding:{r.id}:{item.item}", data=data,
                reporter=who,
            ),
            who, None,
        ).ticket.id  # fmt: skip

    def _round_record(self, round_id: str) -> RoundRecord | None:
        with self.store.unit() as u:
            return table.get(u, round_id.strip())

    def _round_change(
        self, round_id: str, change: Callable[[RoundRecord], RoundRecord | None], action: str,
        data: Callable[[RoundRecord], dict[str, Any]], actor: str, at_us: int,
    ) -> RoundRecord | None:  # fmt: skip
        """Change one round under its version check, with its log entry, retrying when another
        writer moved it meanwhile; ``change`` refuses (raises) or says there is nothing to do
        (``None``)."""
        rid = round_id.strip()
        found: RoundRecord | None = rewritten(
            self.store, lambda u: table.get(u, rid),
            lambda u, new: table.change(u, new, action, data(new), actor, at_us), change,
            f"no inspection round {rid} (see `faultflow inspect list`)", f"round {rid}", RETRIES,
        )  # fmt: skip
        return found


def _open(r: RoundRecord, doing: str) -> None:
    """Refuse to ``doing`` a round that is done or skipped."""
    if r.state not in table.OPEN:
        raise IllegalTransition(f"round {r.id} is {r.state}: cannot {doing} it")


def _target(text: str) -> dict[str, str]:
    kind, _, code = text.partition(":")
    if kind not in ("unit", "site", "line", "device") or not code.strip():
        raise InvalidInput(f"target {text!r}: unit:CODE, site:CODE, line:CODE or device:SERIAL")
    return {kind: code.strip()}


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "ok" if value else "not ok"
    return str(value)


def _change(e: RoundLogRecord, zone: Any) -> dict[str, Any]:
    return {"action": e.action, "actor": e.actor, "at": from_us(e.at_us, zone).isoformat(),
            **json.loads(e.data)}  # fmt: skip
