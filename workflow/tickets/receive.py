"""Receiving faults: what an intake does with each fault of a payload, and that a payload is one
unit (all of its tickets and notes commit, or none).

Each fault is matched against the latest ticket of its channel and external id:

- none: a ticket is **opened**;
- an open ticket of the same incident: the fault is a **duplicate** (nothing is written);
- a final ticket: by the channel's ``on_repeat_after_final``, a **recurrence** ("new", the
  default: a new ticket that records which one it recurs) or a **note** on the final ticket;
- a different incident (an alert that fired again with a new ``startsAt``): a **recurrence**,
  whether or not the earlier ticket is final;
- a follow-up (an alert's ``resolved``) of that incident: a **note**, once (a second identical
  one, as from a redundant Alertmanager pair or a retry, is a duplicate and writes nothing).

Faults may also be carried by a ticket that is not their own, as **occurrences** (a row each in
``occurrences``, and an ``occurrence`` event in the ticket's history when one fires, resolves or
fires again):

- a channel with ``tickets = "group"`` opens one ticket per group (an Alertmanager
  ``groupKey``) and each fault of the group is an occurrence on it;
- a channel with a ``storm`` rule, once it has opened more than ``storm.tickets`` tickets
  reported within ``storm.within``, opens (or reuses, while it is open) one storm ticket and
  carries every further new fault on it — paging once, not once per fault.

Races are settled by the database: a second process that opens the same (channel, external id,
occurrence) meets the unique constraint, and its whole payload is read again and answered from
what is stored.

Why this module is longer than the house's ~500 lines: the outcomes above decide one another
within a payload (a follow-up of an alert opened earlier in the same payload, a storm that
begins halfway through it) and share one plan of drafts; they are read, and changed, together.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..contract.model import member
from ..db.records import OccurrenceRecord, TicketRecord
from ..db.store import DuplicateExternalId, TicketIdTaken, Unit
from ..errors import ConcurrentUpdate, FaultflowError, IntakeError, InvalidInput
from ..ids import new_ticket_id
from ..intake import IntakeRecord
from ..timekeeping.durations import span
from ..timekeeping.times import aware, to_us
from . import queries
from .draft import Draft
from .groups import Candidate, candidates
from .unit import UnitOfWork, written
from .views import GROUP, STORM, Intake, Ticket

if TYPE_CHECKING:
    from ..hookspecs import Channel
    from .policy import Policy

log = logging.getLogger("faultflow")

CLOCK_SKEW = timedelta(minutes=10)
"""How far ahead of the engine a reporter's clock may run: such a report counts as made now."""

RETRIES = 8
NEAR_MOST = 20
"""An intake that opened more tickets than this offers no merge candidates."""


class Receiver:
    """Intake through one unit of work, under the input policy of the current contract."""

    def __init__(self, work: UnitOfWork, policy: Policy) -> None:
        self.work = work
        self.policy = policy

    @property
    def contract(self) -> Any:
        return self.work.ctx.contract

    def parse(
        self,
        channel: str,
        adapter: Channel,
        payload: bytes | str | Mapping[str, Any],
        overrides: Mapping[str, Any] | None,
    ) -> list[IntakeRecord]:
        """The payload as the channel reads it, with the operator's overrides, each record
        checked against the contract's limits and classification; nothing written."""
        self.policy.check_payload(payload)
        try:
            parsed = adapter.parse(payload, self.contract.channels.get(channel, {}))
        except FaultflowError:
            raise
        except RecursionError:
            raise IntakeError(
                f"payload: nested too deep to read (at most {self.contract.limits.depth} levels)"
            ) from None
        except Exception as err:  # a plugin's bug must read as a refused intake, not a crash
            raise IntakeError(
                f"channel {channel!r} could not read the payload: {type(err).__name__}: {err}"
            ) from None
        records = [parsed] if isinstance(parsed, IntakeRecord) else parsed
        if not isinstance(records, list) or not all(isinstance(r, IntakeRecord) for r in records):
            raise IntakeError(
                f"channel {channel!r} returned {type(parsed).__name__}, "
                "not an IntakeRecord or a list of them"
            )
        if overrides:
            unknown = set(overrides) - set(IntakeRecord.__dataclass_fields__)
            if unknown:
                raise IntakeError(f"cannot override {', '.join(sorted(unknown))}")
            given = {k: v for k, v in overrides.items() if v is not None}
            records = [dataclasses.replace(r, **given) for r in records]
        if len(records) > 1:
            records = [
                r if r.where else dataclasses.replace(r, where=f"faults[{i}]")
                for i, r in enumerate(records)
            ]
        return records

    def receive(
        self,
        channel: str,
        records: list[IntakeRecord],
        actor: str,
        at: datetime | str | None,
    ) -> list[Intake]:
        """Every record of one payload, in one transaction: what happened to each."""
        w, c, work = self.policy, self.contract, self.work
        actor = w.actor_name(actor)
        now = work.ctx.now()
        prepared = []
        for record in records:  # refuse the whole payload before writing any of it
            try:
                record = w.check_record(record)
                classification = classify(c, record)
                at_us, data = self._opening(record, at, now)
            except InvalidInput as err:
                if record.where is None:
                    raise
                raise IntakeError(f"{record.where}: {err}") from None
            prepared.append((record, classification, at_us, data))
        recorded_us = to_us(now)
        for _ in range(RETRIES):
            steps: list[tuple[str, Draft | None, str]] = []
            try:
                with work.ctx.store.unit() as u:
                    plan = _Plan(self, u, channel, actor, recorded_us)
                    for record, classification, at_us, data in prepared:
                        steps.extend(plan.add(record, classification, at_us, data))
                    for draft in plan.drafts.values():
                        work.commit(u, draft)  # its breaches start their chains
                    for new, old in plan.rows:  # after the tickets they name
                        u.put_occurrence(new, old)
                    near = self._candidates(u, steps, plan)
            except (TicketIdTaken, DuplicateExternalId):
                continue  # a racer took the id or opened the same fault: read it all again
            except ConcurrentUpdate:
                continue  # a ticket noted on moved meanwhile: look again
            return self._results(steps, plan, recorded_us, near)
        raise ConcurrentUpdate(
            f"the {channel} payload met changes by others {RETRIES} times in a row; nothing "
            "was written: send it again"
        )

    def _candidates(
        self, u: Unit, steps: list[tuple[str, Draft | None, str]], plan: _Plan
    ) -> dict[str, list[Candidate]]:
        """The open tickets each new placed ticket may share an outage with (groups.py), for
        a payload that opened at most :data:`NEAR_MOST` tickets (a storm's thousands go to
        their storm's or group's ticket)."""
        opened = [tid for outcome, _, tid in steps if outcome in ("opened", "recurrence")]
        if not opened or len(opened) > NEAR_MOST:
            return {}
        c = self.contract
        found = {}
        for tid in opened:
            ticket = plan.drafts[tid].ticket
            if ticket.unit is not None or ticket.device is not None:
                near = candidates(u, ticket, c.merge_window_us, c.timezone)
                if near:
                    found[tid] = near
        return found

    def _results(
        self,
        steps: list[tuple[str, Draft | None, str]],
        plan: _Plan,
        now_us: int,
        near: Mapping[str, list[Candidate]],
    ) -> list[Intake]:
        views: dict[str, Ticket] = {}
        out = []
        ctx = self.work.ctx
        for outcome, _, tid in steps:
            if tid not in views:
                draft = plan.drafts.get(tid)
                if draft is not None and draft.events:
                    self.work.remember(draft.ticket, list(draft.clocks.values()))
                    views[tid] = written(ctx.store, draft)
                else:  # its history read only if the answer shows it
                    views[tid] = queries.ticket(ctx.store, ctx.contracts, tid, now_us, lazy=True)
            out.append(Intake(outcome, views[tid], candidates=tuple(near.get(tid, ()))))
        return out

    def _opening(
        self, record: IntakeRecord, at: datetime | str | None, now: datetime
    ) -> tuple[int, dict[str, Any]]:
        """When the fault was reported (µs), and what the intake event records about it.

        ``at`` (the operator's word) wins. A reporter's time (an e-mail's Date, a call centre's
        log) counts if it is at most the contract's ``max_report_delay`` before receipt; a
        clock a little fast (within :data:`CLOCK_SKEW`) counts as now; beyond that, ahead is
        refused, and too far back is replaced by the time of receipt (the reported time is
        kept in the history)."""
        c = self.contract
        data: dict[str, Any] = {"channel_data": dict(record.data)} if record.data else {}
        when = at if at is not None else record.occurred_at
        if at is None and record.occurred_at is not None:
            try:
                reported = aware(record.occurred_at, now, c.timezone)
            except InvalidInput as err:
                raise IntakeError(f"occurred_at: {err}") from None
            if now < reported <= now + CLOCK_SKEW:
                data["reported_at"] = reported.isoformat()
                when = now
            elif to_us(reported) < to_us(now) - c.max_report_delay_us:
                data["reported_at"] = reported.isoformat()
                delay = span(timedelta(microseconds=c.max_report_delay_us))
                data["reported_at_ignored"] = (
                    f"more than {delay} before it was received (the contract's "
                    "max_report_delay): counted from receipt"
                )
                when = now
        try:
            at_us = self.policy.moment(when, now, None, "at" if at is not None else "occurred_at")
        except InvalidInput as err:
            raise IntakeError(str(err)) from None
        return at_us, data


class _Plan:
    """The drafts of one payload inside one unit of work, and what each fault came to."""

    def __init__(self, r: Receiver, u: Unit, channel: str, actor: str, recorded_us: int) -> None:
        self.r, self.u, self.channel, self.actor = r, u, channel, actor
        self.recorded_us = recorded_us
        self.contract = r.contract
        self.drafts: dict[str, Draft] = {}  # ticket id -> its draft (new tickets and notes)
        self.latest: dict[str, TicketRecord] = {}  # external id -> latest ticket, this unit
        self.carried: dict[str, OccurrenceRecord] = {}  # external id -> occurrence, this unit
        self.opened = 0  # tickets this unit opened (the storm rule counts them)
        self.rows: list[tuple[OccurrenceRecord, OccurrenceRecord | None]] = []  # to write

    def add(
        self,
        record: IntakeRecord,
        classification: tuple[str, str, str | None],
        at_us: int,
        data: dict[str, Any],
    ) -> list[tuple[str, Draft | None, str]]:
        answered = self._thread(record)
        if answered is not None and record.data.get("delivery"):
            # what became of a mail faultflow sent (a bounce, an out-of-office reply): its
            # delivery, in the history — not a note, and never a new ticket
            mark = f"delivery:{record.external_id or record.title}"
            return self._note(answered, record, mark, "", trigger="delivered")
        if answered is not None:  # a reply to a ticket: a note on it (a closed one: the rule)
            if self._final(answered) and self.contract.on_repeat(self.channel) == "new":
                data = {**data, "recurs": answered.id, "replies_to": answered.id}
                return [self._open(record, classification, at_us, data, after=answered)]
            mark = f"reply:{record.external_id or record.title}"
            return self._note(answered, record, mark, "a reply", record.description)
        key = record.external_id
        carried = None
        if key is not None and self._gathers(record):
            carried = self.carried.get(key) or self.u.occurrence(self.channel, key)
            if carried is not None:
                answered_here = self._carried(record, carried)
                if answered_here is not None:
                    return answered_here
        latest = self._latest(key) if key is not None else None
        if record.follow_up:
            return self._follow_up(record, latest)
        if latest is None:
            return [self._new(record, classification, at_us, data, carried)]
        final = self._final(latest)
        other_incident = not same_incident(record.incident, latest.incident)
        if other_incident or (final and self.contract.on_repeat(self.channel) == "new"):
            data = {**data, "recurs": latest.id}
            return [self._open(record, classification, at_us, data, after=latest)]
        if final:  # the channel says: a note on the final ticket
            mark = f"repeat:{record.incident or ''}"
            return self._note(latest, record, mark, "repeated after the ticket was closed")
        return [("duplicate", None, latest.id)]

    # -- occurrences: faults carried by a group's or a storm's ticket ---------------------------

    def _gathers(self, record: IntakeRecord) -> bool:
        """Whether faults of this channel may be carried by a ticket not their own."""
        return self._grouped(record) or self.channel in self.contract.storms

    def _grouped(self, record: IntakeRecord) -> bool:
        """Whether ``record`` came in a group, on a channel that opens a ticket per group."""
        return self.channel in self.contract.grouped and record.group is not None

    def _latest(self, external_id: str) -> TicketRecord | None:
        """The latest ticket of ``external_id`` on this channel: this unit's, else stored."""
        return self.latest.get(external_id) or self.u.latest_by_external(self.channel, external_id)

    def _new(
        self,
        record: IntakeRecord,
        classification: tuple[str, str, str | None],
        at_us: int,
        data: dict[str, Any],
        carried: OccurrenceRecord | None,
    ) -> tuple[str, Draft | None, str]:
        """A fault no ticket has: a ticket of its own, or an occurrence on its group's ticket or
        on the storm's."""
        storm = self.contract.storms.get(self.channel)
        grouped = self._grouped(record)
        if grouped:
            group = self._latest(_group_key(record.group or ""))
            if group is not None and not self._final(group):
                return self._occur(group, record, carried, "fired")
        if storm is not None and self._storming(storm):
            found = self._latest(STORM)
            if found is not None and not self._final(found):
                return self._occur(found, record, carried, "fired")
            span_text = span(timedelta(microseconds=storm.within_us))
            opening = dataclasses.replace(
                record,
                title=f"Alert storm on {self.channel}: more than {storm.tickets} new tickets "
                f"within {span_text}",
                description="The faults of the storm are its occurrences (faultflow show).",
                external_id=STORM,
                incident=None,
                tier=storm.tier,
            )
            storm_class = classify(self.contract, opening)
            said = {**data, "storm": True, **({"recurs": found.id} if found else {})}
            done = self._open(opening, storm_class, at_us, said, after=found)
            self._occur(self.drafts[done[2]].ticket, record, carried, "fired")
            return done
        if grouped:
            opening = dataclasses.replace(
                record,
                title=record.group_title or record.title,
                external_id=_group_key(record.group or ""),
                incident=None,
            )
            said = {**data, "group": record.group, **({"recurs": group.id} if group else {})}
            done = self._open(opening, classification, at_us, said, after=group)
            self._occur(self.drafts[done[2]].ticket, record, carried, "fired")
            return done
        return self._open(record, classification, at_us, data)

    def _final(self, ticket: TicketRecord) -> bool:
        return ticket.state in self.r.work.ctx.contracts.for_ticket(ticket).finals

    def _storming(self, storm: Any) -> bool:
        """Whether the channel has opened ``storm.tickets`` tickets reported within
        ``storm.within`` (this payload's included)."""
        since = self.recorded_us - storm.within_us
        return self.u.opened_since(self.channel, since) + self.opened >= storm.tickets

    def _carried(
        self, record: IntakeRecord, carried: OccurrenceRecord
    ) -> list[tuple[str, Draft | None, str]] | None:
        """A fault a ticket already carries: a duplicate, or what became of it on that ticket;
        ``None`` when it fires anew and its ticket is final (it needs a ticket again)."""
        draft = self.drafts.get(carried.ticket_id)
        ticket = draft.ticket if draft is not None else self.u.ticket(carried.ticket_id)
        assert ticket is not None
        same = same_incident(record.incident, carried.incident)
        if record.follow_up:
            if carried.status == "resolved" and same:
                return [("duplicate", None, ticket.id)]
            return [self._occur(ticket, record, carried, "resolved")]
        if same:  # still firing, or a late resend of an incident already resolved
            return [("duplicate", None, ticket.id)]
        if self._final(ticket):
            return None
        return [self._occur(ticket, record, carried, "fired again")]

    def _occur(
        self,
        ticket: TicketRecord,
        record: IntakeRecord,
        old: OccurrenceRecord | None,
        what: str,
    ) -> tuple[str, Draft | None, str]:
        """Record on ``ticket`` that the fault ``record`` fired, resolved or fired again."""
        assert record.external_id is not None
        draft = self._draft(ticket)
        at_us = max(self.recorded_us, draft.ticket.last_us)
        resolved = what == "resolved"
        new = OccurrenceRecord(
            channel=self.channel,
            external_id=record.external_id,
            ticket_id=ticket.id,
            title=record.title,
            incident=record.incident if not resolved or old is None else old.incident,
            status="resolved" if resolved else "firing",
            fired=(old.fired if old is not None else 0) + (0 if resolved else 1),
            resolved=(old.resolved if old is not None else 0) + (1 if resolved else 0),
            first_us=old.first_us if old is not None else self.recorded_us,
            last_us=self.recorded_us,
        )
        self.rows.append((new, old))
        self.carried[record.external_id] = new
        draft.fire_due(at_us)
        draft.record(
            "occurrence",
            draft.ticket.state,
            at_us,
            self.actor,
            note=_clip(f"{self.channel}: {record.title} — {what}", self.contract.limits.note),
            data={
                "occurrence": what,
                "external_id": record.external_id,
                "incident": record.incident,
                "channel_data": dict(record.data),
            },
        )
        return ("occurrence", draft, ticket.id)

    def _draft(self, ticket: TicketRecord) -> Draft:
        """This unit's draft of ``ticket`` (loaded once)."""
        draft = self.drafts.get(ticket.id)
        if draft is None:
            draft = self.drafts[ticket.id] = self._load(ticket)
        return draft

    def _load(self, ticket: TicketRecord) -> Draft:
        """A draft of ``ticket`` as stored (its own version), not yet this unit's."""
        loaded, clock_rows = self.u.load(ticket.id)
        assert loaded is not None
        return self.r.work.draft(loaded, clock_rows, self.recorded_us)

    def _thread(self, record: IntakeRecord) -> TicketRecord | None:
        """The ticket a reply answers: named by a ticket id, or by the external id (on this
        channel) of a message it replies to."""
        if record.ticket_ref is not None:
            found = self.u.ticket(record.ticket_ref)
            if found is not None:
                return found
        for ref in record.replies_to:
            found = self._latest(ref)
            if found is not None:
                return found
        return None

    def _open(
        self,
        record: IntakeRecord,
        classification: tuple[str, str, str | None],
        at_us: int,
        data: dict[str, Any],
        after: TicketRecord | None = None,
    ) -> tuple[str, Draft | None, str]:
        draft = self.r.work.open(
            new_ticket_id(),
            self.channel,
            record,
            classification,
            self.actor,
            at_us,
            self.recorded_us,
            data,
            # the n-th ticket of the same external id (a reply's new ticket has its own)
            occurrence=(
                after.occurrence + 1
                if after is not None and after.external_id == record.external_id
                else 1
            ),
            recurs=after.id if after is not None else None,
            tx=self.u,
        )
        self.drafts[draft.ticket.id] = draft
        self.opened += 1
        if record.external_id is not None:
            self.latest[record.external_id] = draft.ticket
        return ("recurrence" if after is not None else "opened", draft, draft.ticket.id)

    def _follow_up(
        self, record: IntakeRecord, latest: TicketRecord | None
    ) -> list[tuple[str, Draft | None, str]]:
        if record.external_id is None:
            raise IntakeError(
                f"{record.where + ': ' if record.where else ''}a follow-up needs the external "
                "id of its ticket"
            )
        if latest is None:
            log.warning(
                "%s: follow-up of %s, which no ticket has; nothing to note it on",
                self.channel,
                record.external_id,
            )
            return []
        status = str(record.data.get("status", "update"))
        mark = f"{status}:{record.incident or ''}:{record.data.get('endsAt', '')}"
        if not same_incident(record.incident, latest.incident):
            # never dropped: said on the newest ticket of that id, for the operator to judge
            what = f"{status}, of an incident this ticket does not know (began {record.incident})"
            return self._note(latest, record, mark, what)
        return self._note(latest, record, mark, status)

    def _note(
        self,
        ticket: TicketRecord,
        record: IntakeRecord,
        mark: str,
        what: str,
        text: str = "",
        trigger: str = "note",
    ) -> list[tuple[str, Draft | None, str]]:
        """A note (or another passive event: ``trigger``) on ``ticket`` from a follow-up,
        unless one with the same ``mark`` is there."""
        # the stored history the first time this unit takes the ticket; then its draft's events
        draft = self.drafts.get(ticket.id)
        history = [] if draft is not None else self.u.events(ticket.id)
        draft = draft or self._load(ticket)
        events = [*history, *draft.events]
        if any(_mark(e.data) == mark for e in events if e.trigger == trigger):
            return [("duplicate", None, ticket.id)]
        at_us = max(self.recorded_us, draft.ticket.last_us)
        draft.fire_due(at_us)
        said = f"{self.channel}: {record.title}" + (f" — {what}" if what else "")
        draft.record(
            trigger,
            draft.ticket.state,
            at_us,
            self.actor,
            note=_clip(said + (f"\n{text}" if text else ""), self.contract.limits.note),
            data={"follow_up": mark, "channel_data": dict(record.data)},
        )
        self.drafts[ticket.id] = draft
        return [("note", draft, ticket.id)]


def _group_key(group: str) -> str:
    """The external id of a group's ticket: a digest, since a group key may be long."""
    import hashlib

    return GROUP + hashlib.sha256(group.encode("utf-8")).hexdigest()[:32]


def same_incident(a: str | None, b: str | None) -> bool:
    """Whether two incident keys name the same incident: unknown on either side counts as the
    same; keys that are times (an alert's ``startsAt``) compare as instants to the millisecond
    — Alertmanager's API gives milliseconds where its webhook gives more digits — other keys
    as text."""
    if a is None or b is None or a == b:
        return True
    try:
        x, y = datetime.fromisoformat(a), datetime.fromisoformat(b)
    except ValueError:
        return False
    if x.tzinfo is None or y.tzinfo is None:
        return False
    ms = timedelta(milliseconds=1)
    return (x - _EPOCH) // ms == (y - _EPOCH) // ms


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mark(data: str) -> str | None:
    if '"follow_up"' not in data:
        return None
    value = json.loads(data).get("follow_up")
    return value if isinstance(value, str) else None


def classify(c: Any, record: IntakeRecord) -> tuple[str, str, str | None]:
    """The (tier, kind, cause) a record opens a ticket with; refuses unknown ones. A tier is
    read in any case (``a`` is ``A``) when the contract has no tier spelt that way."""
    tier = c.tier_named(record.tier) if record.tier else c.default_tier
    kind = record.kind or c.default_kind
    cause = record.cause or None
    member("tier", tier, c.tiers, IntakeError)
    member("kind", kind, c.kinds, IntakeError)
    if cause is not None:
        member("cause", cause, c.causes, IntakeError)
    return tier, kind, cause
