"""The operators' changes of a ticket — advance, reclassify, hold, resume, assign, note — and
the engine's own records (a page's delivery, a mailed report), each a command given to the one
unit of work (unit.py), which loads, fires what fell due, writes and starts chains; this module
says only what each change is and when it is refused. Intake (new tickets, follow-ups) is
receive.py."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..contract.machine import GuardFacts
from ..contract.model import Contract, member
from ..db.records import PLACES, EventRecord, TicketRecord, place_of
from ..db.store import Unit
from ..errors import FaultflowError, IllegalTransition, IntakeError, InvalidInput
from ..intake import IntakeRecord
from ..timekeeping.times import from_us, to_us
from ..words import NOTES, place_text
from . import queries
from .draft import Draft
from .groups import AUTO_ACTOR, AUTO_REASON, Groups, on_its_own
from .policy import Policy, checked_text
from .receive import Receiver
from .unit import Step, UnitOfWork, written
from .views import Intake, Ticket, ticket_view

if TYPE_CHECKING:
    from ..duty.people import People
    from ..hookspecs import Channel

log = logging.getLogger("faultflow")


class Changes:
    """Intake and the operators' changes, for one unit of work."""

    def __init__(
        self, work: UnitOfWork, handling_report: Callable[[Ticket, Contract], str] | None = None
    ) -> None:
        self.work = work
        self.handling_report = handling_report  # the customer's report, for attach_report
        self.policy = Policy(work.ctx.contracts)
        self.receiver = Receiver(work, self.policy)
        self.groups = Groups(work, self.policy)

    # -- intake -------------------------------------------------------------------------------

    def intake_all(
        self,
        channel: str,
        adapter: Channel,
        payload: bytes | str | Mapping[str, Any],
        actor: str,
        at: datetime | str | None,
        overrides: Mapping[str, Any] | None,
    ) -> list[Intake]:
        """Every fault of a channel's payload, in one transaction (``receive.py``)."""
        self._refresh()
        self.policy.actor_name(actor)
        records = self.receiver.parse(channel, adapter, payload, overrides)
        return self._merged(channel, self.receiver.receive(channel, records, actor, at))

    def open_ticket(
        self, channel: str, record: IntakeRecord, actor: str, at: datetime | str | None
    ) -> Intake:
        """One parsed record: opened, or what else it came to (a duplicate, a recurrence)."""
        self._refresh()
        results = self._merged(channel, self.receiver.receive(channel, [record], actor, at))
        if not results:
            raise IntakeError(
                f"the {channel} record opened no ticket (a follow-up of an alert that has none)"
            )
        return results[0]

    def _merged(self, channel: str, results: list[Intake]) -> list[Intake]:
        """A channel the contract merges at once (``[merge] auto``): each new report with a
        candidate is merged into the first (the most specific place); a merge refused (the
        candidate closed meanwhile) leaves it open on its own, the candidates still offered."""
        if channel not in self.policy.contract.merge_auto:
            return results
        out = []
        for r in results:
            if r.candidates and r.outcome in ("opened", "recurrence"):
                into = r.candidates[0].id
                try:
                    self.groups.merge(r.ticket.id, into, AUTO_ACTOR, AUTO_REASON)
                except FaultflowError as err:
                    log.warning("ticket %s not merged into %s: %s", r.ticket.id, into, err)
                else:
                    ctx = self.work.ctx
                    now_us = to_us(ctx.now())
                    fresh = queries.ticket(ctx.store, ctx.contracts, r.ticket.id, now_us)
                    r = dataclasses.replace(r, ticket=fresh)
            out.append(r)
        return out

    def _refresh(self) -> None:
        """New tickets: the contract version the database runs now, the registry as it is."""
        self.work.ctx.contracts.refresh()
        if self.work.ctx.locate is not None:
            self.work.ctx.locate.refresh()

    # -- one change ---------------------------------------------------------------------------

    def _change(
        self,
        ticket_id: str,
        at: datetime | str | None,
        apply: Callable[[Step], None],
        *,
        version: int | None = None,
        history: bool = False,
        late: bool = False,
        finish: Callable[[Draft, list[EventRecord]], None] | None = None,
    ) -> Ticket:
        """``apply`` through the unit of work at the operator's ``at`` (checked by the policy;
        ``late``: it may come before alarms already recorded); the ticket as written."""
        policy, zone = self.policy, self.policy.contract.timezone

        def moment(tx: Unit, record: TicketRecord, now_us: int) -> tuple[int, Any]:
            now = from_us(now_us, zone)
            if late:
                assert at is not None
                return policy.late_moment(tx, record, at, now)
            return policy.moment(at, now, record.last_us), None

        done = self.work.change(
            ticket_id, apply, at_us=moment if at is not None else None, version=version,
            history=history, finish=finish,
        )  # fmt: skip
        assert done.draft is not None
        return written(self.work.ctx.store, done.draft)

    def command(
        self, ticket_id: str, apply: Callable[[Step], None], history: bool = False
    ) -> Ticket:
        """A change another area defines (a command of the unit of work, now), refused or
        written whole; the ticket as written."""
        return self._change(ticket_id, None, apply, history=history)

    def advance(
        self,
        ticket_id: str,
        trigger: str,
        actor: str,
        at: datetime | str | None,
        note: str | None,
        reason: str | None,
        version: int | None,
        attach_report: bool,
        spare: str | None = None,
        model: str | None = None,
        faulty: str | None = None,
    ) -> Ticket:
        actor = self.policy.actor_name(actor)
        reason = self.policy.checked("reason", reason)
        said = self.policy.checked("note", note)
        asked = {"spare": checked_text("spare", spare, 100),
                 "model": checked_text("model", model, 100),
                 "faulty": checked_text("faulty", faulty, 100)}  # fmt: skip

        def apply(s: Step) -> None:
            draft, at_us, history = s.draft, s.at_us, s.history

            on_its_own(draft, trigger)
            late = at_us < draft.ticket.last_us
            if late and not (said or reason):
                raise InvalidInput(
                    f"at {self.policy.show(at_us)} comes before alarms already recorded on ticket "
                    f"{draft.ticket.id}: a late entry needs --note or --reason (what happened, "
                    "and why it is entered now)"
                )
            facts = GuardFacts(
                draft.classification, reason, lambda: draft.breached_clocks(at_us), draft.due_times
            )
            # the machine of the version the ticket runs under
            lifecycle = self.work.ctx.contracts.lifecycle(draft.contract)
            source = draft.ticket.state
            dest = lifecycle.fire(source, trigger, facts)
            first = source == draft.contract.initial and dest not in draft.contract.finals
            owner = self._first_ask(draft, actor) if first else None
            ctx, c = self.work.ctx, draft.contract
            if trigger in c.remedies and ctx.remedy is not None:
                taken = ctx.remedy(s.tx, draft, {**asked, "actor": actor, "at_us": at_us})
                owner = {**(owner or {}), **taken} or None
            elif asked["spare"] or asked["model"] or asked["faulty"]:
                remedies = ", ".join(sorted(draft.contract.remedies)) or "none"
                raise InvalidInput(f"a spare is named only with the remedy ({remedies})")
            if (trigger == c.spare_reserve_on and draft.ticket.tier in c.spare_reserve
                    and ctx.reserve is not None):  # fmt: skip
                held = ctx.reserve(s.tx, draft, {"actor": actor, "at_us": at_us})
                owner = {**(owner or {}), **held} or None
            draft.transition(trigger, dest, at_us, actor, note=said, reason=reason, data=owner)
            if late:
                assert history is not None
                draft.correct(history, draft.recorded_us, actor)

        def report(draft: Draft, history: list[EventRecord]) -> None:
            """The customer's handling report as it stands after this event, in the event."""
            if self.handling_report is None:
                raise InvalidInput("this engine has no handling report to attach")
            at_us = draft.events[-1].at_us
            rows = list(draft.clocks.values())
            view = ticket_view(draft.ticket, rows, history + draft.events, at_us, draft.contract)
            draft.attach("handling_report", self.handling_report(view, draft.contract))

        return self._change(
            ticket_id,
            at,
            apply,
            version=version,
            finish=report if attach_report else None,
            late=True,
        )

    def _first_ask(self, draft: Draft, actor: str) -> dict[str, Any] | None:
        """P5: whoever answers a ticket owns it (``[contract] owner = "responder"``), unless a
        person of the people file took it in — asked first, they keep it. The handover, if
        any, for the step's event (``{"owner": {"from", "to"}}``)."""
        t, people = draft.ticket, self.work.ctx.people
        if draft.contract.owner != "responder" or t.owner == actor:
            return None
        if people is not None and t.owner in people.people:
            return None
        draft.update(owner=actor)
        return {"owner": {"from": t.owner, "to": actor}}

    def reclassify(
        self,
        ticket_id: str,
        tier: str | None,
        kind: str | None,
        cause: str | None,
        reason: str | None,
        actor: str | None,
        at: datetime | str | None,
        version: int | None = None,
    ) -> Ticket:
        reason = self.policy.checked("reason", reason)
        if not reason:
            raise InvalidInput("a reclassification needs a reason (--reason)")
        if tier is None and kind is None and cause is None:
            raise InvalidInput("nothing to reclassify: give a tier, a kind or a cause")
        who = self.policy.actor_name(actor or "system")

        def apply(s: Step) -> None:
            draft, at_us, history = s.draft, s.at_us, s.history
            nonlocal tier
            c = draft.contract  # the names of the version the ticket runs under
            if tier is not None:
                tier = c.tier_named(tier)
                member("tier", tier, c.tiers, InvalidInput)
            if kind is not None:
                member("kind", kind, c.kinds, InvalidInput)
            if cause:
                member("cause", cause, c.causes, InvalidInput)
            t = draft.ticket
            on_its_own(draft, "reclassify")
            if t.state in c.finals:  # its promises are settled: the report counts them as kept
                raise IllegalTransition(
                    f"ticket {t.id} is {t.state} (closed): its classification is settled"
                )
            before = {"tier": t.tier, "kind": t.kind, "cause": t.cause}
            after = {
                "tier": tier or t.tier,
                "kind": kind or t.kind,
                "cause": (cause or None) if cause is not None else t.cause,
            }
            if after == before:
                raise InvalidInput(
                    f"ticket {t.id} is already tier {t.tier}, kind {t.kind}, "
                    f"cause {t.cause or 'none'}: nothing changes"
                )
            draft.update(tier=str(after["tier"]), kind=str(after["kind"]), cause=after["cause"])
            changed = ", ".join(
                f"{k} {before[k] or 'none'} → {after[k] or 'none'}"
                for k in before
                if before[k] != after[k]
            )
            assert history is not None
            draft.recompute(history + draft.events, at_us)
            draft.record(
                "reclassify",
                t.state,
                at_us,
                who,
                note=changed,
                reason=reason,
                data={"before": before, "after": after},
            )
            draft.fire_due(at_us)  # a promise the new classification breaks, at once

        return self._change(ticket_id, at, apply, version=version, history=True)

    def hold(
        self,
        ticket_id: str,
        reason: str | None,
        actor: str | None,
        at: datetime | str | None,
        version: int | None = None,
    ) -> Ticket:
        reason = self.policy.checked("reason", reason)
        if not reason:
            raise InvalidInput("a hold needs a reason (--reason)")
        who = self.policy.actor_name(actor or "system")

        def apply(s: Step) -> None:
            draft, at_us = s.draft, s.at_us
            t = draft.ticket
            if t.state in draft.contract.finals:
                raise IllegalTransition(f"ticket {t.id} is {t.state}: nothing to hold")
            on_its_own(draft, "hold")
            if t.on_hold:
                raise IllegalTransition(
                    f"ticket {t.id} is already on hold ({t.hold_reason}); resume it first"
                )
            paused = draft.pause_all(at_us)
            if not paused:
                running = [n for n, r in draft.clocks.items() if r.status == "running"]
                which = (
                    f"running: {', '.join(running)}, which cannot be paused"
                    if running
                    else "no clock is running"
                )
                raise IllegalTransition(f"ticket {t.id} has no pausable clock running ({which})")
            draft.update(on_hold=True, hold_reason=reason)
            draft.record(
                "hold",
                t.state,
                at_us,
                who,
                note=f"paused {', '.join(paused)}",
                reason=reason,
                data={"paused": paused},
            )

        return self._change(ticket_id, at, apply, version=version)

    def resume(
        self,
        ticket_id: str,
        actor: str | None,
        at: datetime | str | None,
        note: str | None,
        version: int | None = None,
    ) -> Ticket:
        who = self.policy.actor_name(actor or "system")

        def apply(s: Step) -> None:
            draft, at_us = s.draft, s.at_us
            t = draft.ticket
            if not t.on_hold:
                raise IllegalTransition(f"ticket {t.id} is not on hold")
            on_its_own(draft, "resume")
            resumed = draft.resume_all(at_us)
            draft.update(on_hold=False, hold_reason=None)
            said = self.policy.checked("note", note) or (
                f"resumed {', '.join(resumed)}" if resumed else "resumed"
            )
            draft.record("resume", t.state, at_us, who, note=said, data={"resumed": resumed})

        return self._change(ticket_id, at, apply, version=version)

    def sent(self, ticket_id: str, to: str, message_id: str, actor: str | None) -> Ticket:
        """Record that the handling report was mailed (to whom, under which Message-ID)."""
        who = self.policy.actor_name(actor or "system")
        note = f"handling report mailed to {to} (Message-ID {message_id})"
        data = {"handling_report_sent_to": to, "message_id": message_id}

        def apply(s: Step) -> None:
            draft, at_us = s.draft, s.at_us
            draft.record("note", draft.ticket.state, at_us, who, note=note, data=data)

        return self._change(ticket_id, None, apply)

    def assign(
        self,
        ticket_id: str,
        person: str,
        reason: str | None,
        actor: str | None,
        version: int | None = None,
        people: People | None = None,
    ) -> Ticket:
        if people is not None and person not in people.people:
            raise InvalidInput(f"unknown person {person!r} (known: {', '.join(people.people)})")
        said = self.policy.checked("reason", reason)
        if not said:
            raise InvalidInput("a handover needs a reason (--reason)")
        owner = self.policy.actor_name(person)
        who = self.policy.actor_name(actor or "system")

        def apply(s: Step) -> None:
            draft, at_us = s.draft, s.at_us
            t = draft.ticket
            if t.state in draft.contract.finals:
                raise IllegalTransition(f"ticket {t.id} is {t.state}: nothing to hand over")
            on_its_own(draft, "assign")
            if t.owner == owner:
                raise InvalidInput(f"ticket {t.id} is {owner}'s already")
            draft.update(owner=owner)
            note = NOTES["assign"].format(source=t.owner, to=owner)
            data = {"from": t.owner, "to": owner}
            draft.record("assign", t.state, at_us, who, note=note, reason=said, data=data)

        return self._change(ticket_id, None, apply, version=version)

    def locate(
        self,
        ticket_id: str,
        place: Mapping[str, str],
        actor: str | None,
        note: str | None = None,
        version: int | None = None,
    ) -> Ticket:
        """Set or correct where the ticket is (``place``: registry codes by the names of
        ``PLACES``, checked by the caller against the registry); a final ticket too, so that
        the reports by unit count it where it was."""
        who = self.policy.actor_name(actor or "system")
        said = self.policy.checked("note", note)
        to = {p: place[p] for p in PLACES if place.get(p)}

        def apply(s: Step) -> None:
            draft, at_us = s.draft, s.at_us
            t = draft.ticket
            before = place_of(t)
            if before == to:
                raise InvalidInput(f"ticket {t.id} is there already ({place_text(to)})")
            draft.update(**{p: to.get(p) for p in PLACES})
            text = said or NOTES["locate"].format(place=place_text(to))
            data = {"place": {"from": before, "to": to}}
            draft.record("locate", t.state, at_us, who, note=text, data=data)

        return self._change(ticket_id, None, apply, version=version)

    def note(
        self,
        ticket_id: str,
        text: str | None,
        actor: str | None,
        at: datetime | str | None,
        version: int | None = None,
    ) -> Ticket:
        said = self.policy.checked("note", text)
        if not said:
            raise InvalidInput("a note needs some text")
        who = self.policy.actor_name(actor or "system")

        def apply(s: Step) -> None:
            draft, at_us = s.draft, s.at_us
            draft.record("note", draft.ticket.state, at_us, who, note=said)

        return self._change(ticket_id, at, apply, version=version)
