"""The write path: every change of a ticket, as one transaction on a draft.

intake → draft → store, and load → draft → store for every later change: the draft decides
(state, history, clocks, timers, notifications) in memory, the store commits all of it or none.
A refused change writes nothing. This module holds the rules of *when* a change may be
recorded (``at`` policy, late entries) and the unit of work that retries a stale guess once;
what intake does with each fault of a payload is ``receive.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import escalation
from .audit import PLAIN, Sealer
from .contract import Contract, member
from .draft import PASSIVE, Draft
from .durations import span
from .errors import (
    ConcurrentUpdate,
    FaultflowError,
    IllegalTransition,
    IntakeError,
    InvalidInput,
    UnknownTicket,
)
from .ids import normalize_ticket_id
from .intake import IntakeRecord
from .receive import Receiver
from .records import ClockRecord, EventRecord, TicketRecord
from .store import Store, Unit
from .times import aware, from_us, to_us
from .views import History, Intake, Ticket, ticket_view

if TYPE_CHECKING:
    from .delivery import Attempt
    from .hookspecs import Channel
    from .people import People
    from .versions import Contracts

log = logging.getLogger("faultflow")

RECENT = 512  # tickets whose last written state the write path remembers (saves a read)

Apply = Callable[[Draft, int, "list[EventRecord] | None"], None]


class WritePath:
    """Intake and every change of a ticket, for one store: a new ticket under the current
    contract, a change under the version the ticket runs under (versions.py)."""

    def __init__(
        self,
        store: Store,
        contracts: Contracts,
        now: Callable[[], datetime],
        sealer: Sealer = PLAIN,
        people: People | None = None,
    ) -> None:
        self.store = store
        self.sealer = sealer
        self.people = people
        self.chained = frozenset(people.chains) if people is not None else frozenset()
        self.contracts = contracts
        self.now = now
        # What this engine last wrote of a ticket: records are immutable, so no copies.
        self._recent: dict[str, tuple[TicketRecord, list[ClockRecord]]] = {}

    @property
    def contract(self) -> Contract:
        """The current contract: new tickets, and the input policy (limits, time zone)."""
        return self.contracts.current

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
        self.contracts.refresh()  # new tickets: the version the database runs now
        receiver = Receiver(self)
        self.actor_name(actor)
        records = receiver.parse(channel, adapter, payload, overrides)
        return receiver.receive(channel, records, actor, at)

    def open_ticket(
        self, channel: str, record: IntakeRecord, actor: str, at: datetime | str | None
    ) -> Intake:
        """One parsed record: opened, or what else it came to (a duplicate, a recurrence)."""
        self.contracts.refresh()
        results = Receiver(self).receive(channel, [record], actor, at)
        if not results:
            raise IntakeError(
                f"the {channel} record opened no ticket (a follow-up of an alert that has none)"
            )
        return results[0]

    # -- the unit of work ---------------------------------------------------------------------

    def change(
        self,
        ticket_id: str,
        at: datetime | str | None,
        apply: Apply,
        *,
        version: int | None = None,
        need_history: bool = False,
        finish: Callable[[Draft, list[EventRecord]], None] | None = None,
        late: bool = False,
    ) -> Ticket:
        """Load a ticket, fire its overdue alarms, ``apply`` the change, write it: one
        transaction. A refusal raised by ``apply`` writes nothing.

        ``finish`` is slow work on the finished draft (rendering a report into the event): it
        runs outside any transaction, and the write that follows is refused by the version
        check (:class:`ConcurrentUpdate`) if anyone changed the ticket meanwhile.

        ``late``: ``at`` may precede alarms and notes already recorded (a late entry, see
        :meth:`late_moment`); ``apply`` then sees an ``at_us`` before the ticket's last event."""
        tid = normalize_ticket_id(ticket_id)
        now = self.now()
        now_us = to_us(now)
        # What this engine last wrote of the ticket saves a read. It is only a guess: the write's
        # version check decides, and any refusal or conflict met on a guess is retried once on
        # what the database says.
        known = self._recent.pop(tid, None)
        aborted_once = False
        while True:
            try:
                with self.store.unit() as u:
                    if known is not None:
                        record, clock_rows = known
                    else:
                        loaded, clock_rows = u.load(tid)
                        if loaded is None:
                            raise UnknownTicket(ticket_id)
                        record = loaded
                    if version is not None and version != record.version:
                        raise ConcurrentUpdate(
                            f"ticket {tid} is at version {record.version}, not "
                            f"{version}: look at it again and retry"
                        )
                    history = None
                    if at is None:  # a clock a little behind another host's: keep the order
                        at_us = max(now_us, record.last_us)
                    elif late:
                        at_us, history = self.late_moment(u, record, at, now)
                    else:
                        at_us = self.moment(at, now, record.last_us)
                    draft = Draft(
                        self.contracts.for_ticket(record), record, clock_rows, now_us,
                        sealer=self.sealer,
                        chained=self.chained,
                    )  # fmt: skip
                    draft.fire_due(at_us)
                    if history is None and (need_history or finish):
                        history = u.events(tid)
                    apply(draft, at_us, history)
                    if finish is None:
                        u.write(draft.change())
                        escalation.on_breach(u, draft, self.people, now_us)
            except FaultflowError as err:
                if isinstance(err, ConcurrentUpdate) and err.retry and not aborted_once:
                    # The database aborted the transaction (serialization failure, deadlock):
                    # nothing was written; once more, from what the database says now.
                    aborted_once = True
                elif known is None:
                    raise
                known = None  # once more, from the database (the guess was stale, or aborted)
                continue
            break
        if finish is not None:
            assert history is not None
            finish(draft, history)
            with self.store.unit() as u:
                u.write(draft.change())
                escalation.on_breach(u, draft, self.people, now_us)
        return self.written(draft, now_us)

    def remember(self, record: TicketRecord, clock_rows: list[ClockRecord]) -> None:
        recent = self._recent
        recent[record.id] = (record, clock_rows)
        if len(recent) > RECENT:
            del recent[next(iter(recent))]

    def written(self, draft: Draft, now_us: int) -> Ticket:
        """The view a change returns; its history (up to the change) loads when first used."""
        record, rows = draft.ticket, list(draft.clocks.values())
        self.remember(record, rows)
        tid, upto = record.id, record.last_seq

        def load() -> list[EventRecord]:
            with self.store.unit() as u:
                return u.events(tid, upto)

        history = History(load, self.contract.timezone, upto)
        return ticket_view(record, rows, history, now_us, draft.contract)

    # -- input policy -------------------------------------------------------------------------

    def actor_name(self, actor: str | None) -> str:
        who = checked_text("actor", actor, self.contract.limits.actor)
        if who is None:
            raise InvalidInput("an actor (who does this) is required")
        return who

    def _text(self, field: str, value: str | None) -> str | None:
        limit: int = getattr(self.contract.limits, field)
        return checked_text(field, value, limit)

    def check_payload(self, payload: bytes | str | Mapping[str, Any]) -> None:
        limits = self.contract.limits
        if isinstance(payload, bytes | str):
            size = len(
                payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else payload
            )
            if size > limits.payload_bytes:
                raise IntakeError(
                    f"payload: {size:,} bytes, over the limit of {limits.payload_bytes:,} "
                    "(the contract's [limits] payload_bytes)"
                )
        else:
            _check_depth("payload", payload, limits.depth)

    def check_record(self, record: IntakeRecord) -> None:
        """Refuse a record whose text is not text, or is over the contract's limits, naming the
        field."""
        limits = self.contract.limits
        for field, limit in (
            ("title", limits.title),
            ("description", limits.description),
            ("reporter", limits.title),
            ("contact", limits.title),
            ("external_id", limits.title),
            ("incident", limits.title),
        ):
            checked_text(field, getattr(record, field), limit, IntakeError)
        _check_depth("data", record.data, limits.depth)

    # -- time policy --------------------------------------------------------------------------

    def moment(
        self, at: datetime | str | None, now: datetime, after_us: int | None, what: str = "at"
    ) -> int:
        """The µs of ``at`` (default: now), refusing the future and times before the last event."""
        if at is None:
            moment_us = to_us(now)
            # A clock a little behind another host's: keep the history in order.
            return max(moment_us, after_us) if after_us is not None else moment_us
        moment = aware(at, now, self.contract.timezone)
        moment_us = to_us(moment)
        if moment_us > to_us(now):
            raise InvalidInput(
                f"{what} {self._show(moment_us)} lies in the future of the engine "
                f"clock ({self._show(to_us(now))})"
            )
        if after_us is not None and moment_us < after_us:
            raise InvalidInput(
                f"{what} {self._show(moment_us)} is before the ticket's last event "
                f"({self._show(after_us)})"
            )
        return moment_us

    def late_moment(
        self, u: Unit, record: TicketRecord, at: datetime | str, now: datetime
    ) -> tuple[int, list[EventRecord] | None]:
        """The µs of a step's ``at`` under the rule for late entries (SPEC §8): not in the
        future, not more than the contract's ``backdate_limit`` before now, and not before the
        ticket's latest change (alarms and notes may lie after it). The history, when it was
        read to find that change."""
        at_us = self.moment(at, now, None)
        limit = self.contract.backdate_limit_us
        if at_us < to_us(now) - limit:
            raise InvalidInput(
                f"at {self._show(at_us)} is more than {span(timedelta(microseconds=limit))} "
                f"before now (the contract's backdate_limit)"
            )
        if at_us >= record.last_us:
            return at_us, None
        history = u.events(record.id)
        changes = [e for e in history if e.trigger not in PASSIVE]
        latest = max(changes, key=lambda e: (e.at_us, e.seq))
        if at_us < latest.at_us:
            raise InvalidInput(
                f"at {self._show(at_us)} is before the ticket's latest change "
                f"({latest.trigger} at {self._show(latest.at_us)}): a late entry may come "
                "before alarms and notes, not before a step"
            )
        return at_us, history

    def _show(self, us: int) -> str:
        return from_us(us, self.contract.timezone).isoformat(timespec="seconds")

    # -- the changes --------------------------------------------------------------------------

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
    ) -> Ticket:
        actor = self.actor_name(actor)
        reason = self._text("reason", reason)
        said = self._text("note", note)

        def apply(draft: Draft, at_us: int, history: list[EventRecord] | None) -> None:
            from .machine import GuardFacts

            late = at_us < draft.ticket.last_us
            if late and not (said or reason):
                raise InvalidInput(
                    f"at {self._show(at_us)} comes before alarms already recorded on ticket "
                    f"{draft.ticket.id}: a late entry needs --note or --reason (what happened, "
                    "and why it is entered now)"
                )
            facts = GuardFacts(
                draft.classification, reason, lambda: draft.breached_clocks(at_us), draft.due_times
            )
            lifecycle = self.contracts.lifecycle(draft.contract)  # the ticket's version's machine
            dest = lifecycle.fire(draft.ticket.state, trigger, facts)
            draft.transition(trigger, dest, at_us, actor, note=said, reason=reason)
            if late:
                assert history is not None
                draft.correct(history, draft.recorded_us, actor)

        def report(draft: Draft, history: list[EventRecord]) -> None:
            """The customer's handling report as it stands after this event, in the event."""
            from .handling import markdown

            at_us = draft.events[-1].at_us
            rows = list(draft.clocks.values())
            view = ticket_view(draft.ticket, rows, history + draft.events, at_us, draft.contract)
            draft.attach("handling_report", markdown(view, draft.contract))

        return self.change(
            ticket_id,
            at,
            apply,
            version=version,
            finish=report if attach_report else None,
            late=True,
        )

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
        reason = self._text("reason", reason)
        if not reason:
            raise InvalidInput("a reclassification needs a reason (--reason)")
        if tier is None and kind is None and cause is None:
            raise InvalidInput("nothing to reclassify: give a tier, a kind or a cause")
        who = self.actor_name(actor or "system")

        def apply(draft: Draft, at_us: int, history: list[EventRecord] | None) -> None:
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

        return self.change(ticket_id, at, apply, version=version, need_history=True)

    def hold(
        self,
        ticket_id: str,
        reason: str | None,
        actor: str | None,
        at: datetime | str | None,
        version: int | None = None,
    ) -> Ticket:
        reason = self._text("reason", reason)
        if not reason:
            raise InvalidInput("a hold needs a reason (--reason)")
        who = self.actor_name(actor or "system")

        def apply(draft: Draft, at_us: int, history: list[EventRecord] | None) -> None:
            t = draft.ticket
            if t.state in draft.contract.finals:
                raise IllegalTransition(f"ticket {t.id} is {t.state}: nothing to hold")
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

        return self.change(ticket_id, at, apply, version=version)

    def resume(
        self,
        ticket_id: str,
        actor: str | None,
        at: datetime | str | None,
        note: str | None,
        version: int | None = None,
    ) -> Ticket:
        who = self.actor_name(actor or "system")

        def apply(draft: Draft, at_us: int, history: list[EventRecord] | None) -> None:
            t = draft.ticket
            if not t.on_hold:
                raise IllegalTransition(f"ticket {t.id} is not on hold")
            resumed = draft.resume_all(at_us)
            draft.update(on_hold=False, hold_reason=None)
            said = self._text("note", note) or (
                f"resumed {', '.join(resumed)}" if resumed else "resumed"
            )
            draft.record("resume", t.state, at_us, who, note=said, data={"resumed": resumed})

        return self.change(ticket_id, at, apply, version=version)

    def delivered(self, attempt: Attempt) -> None:
        """Record in the ticket's history how a page's delivery ended (delivered, or given up
        with the reason); a failure to record it is logged, never raised into delivery."""
        a = attempt
        outcome = "delivered" if a.ok else f"NOT delivered ({a.error})"
        about = f"the page of seq {a.seq}" if a.seq is not None else "an escalation"
        note = f"{about}, through {a.notifier}: {outcome}"
        data = {"notifier": a.notifier, "page": a.seq, "ok": a.ok, "attempts": a.attempt}
        if a.error:
            data["error"] = a.error

        def apply(draft: Draft, at_us: int, history: list[EventRecord] | None) -> None:
            draft.record("delivered", draft.ticket.state, at_us, "faultflow", note=note, data=data)

        try:
            self.change(a.ticket, None, apply)
        except FaultflowError as err:
            log.warning("could not record the delivery of %s on %s: %s", about, a.ticket, err)

    def sent(self, ticket_id: str, to: str, message_id: str, actor: str | None) -> Ticket:
        """Record that the handling report was mailed (to whom, under which Message-ID)."""
        who = self.actor_name(actor or "system")
        note = f"handling report mailed to {to}"
        data = {"handling_report_sent_to": to, "message_id": message_id}

        def apply(draft: Draft, at_us: int, history: list[EventRecord] | None) -> None:
            draft.record("note", draft.ticket.state, at_us, who, note=note, data=data)

        return self.change(ticket_id, None, apply)

    def checked(self, field: str, value: str | None) -> str | None:
        """``value`` as text within the contract's limit for ``field`` (note, reason)."""
        return self._text(field, value)

    def assign(
        self,
        ticket_id: str,
        person: str,
        reason: str | None,
        actor: str | None,
        version: int | None = None,
    ) -> Ticket:
        said = self._text("reason", reason)
        if not said:
            raise InvalidInput("a handover needs a reason (--reason)")
        owner = self.actor_name(person)
        who = self.actor_name(actor or "system")

        def apply(draft: Draft, at_us: int, history: list[EventRecord] | None) -> None:
            t = draft.ticket
            if t.state in draft.contract.finals:
                raise IllegalTransition(f"ticket {t.id} is {t.state}: nothing to hand over")
            if t.owner == owner:
                raise InvalidInput(f"ticket {t.id} is {owner}'s already")
            draft.update(owner=owner)
            note = f"handed over from {t.owner} to {owner}"
            data = {"from": t.owner, "to": owner}
            draft.record("assign", t.state, at_us, who, note=note, reason=said, data=data)

        return self.change(ticket_id, None, apply, version=version)

    def note(
        self,
        ticket_id: str,
        text: str | None,
        actor: str | None,
        at: datetime | str | None,
        version: int | None = None,
    ) -> Ticket:
        said = self._text("note", text)
        if not said:
            raise InvalidInput("a note needs some text")
        who = self.actor_name(actor or "system")

        def apply(draft: Draft, at_us: int, history: list[EventRecord] | None) -> None:
            draft.record("note", draft.ticket.state, at_us, who, note=said)

        return self.change(ticket_id, at, apply, version=version)


def _check_depth(field: str, value: Any, limit: int) -> None:
    """Refuse a JSON value nested deeper than ``limit`` levels (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, Mapping) else node
        if not isinstance(node, Mapping | list | tuple):
            continue
        if depth > limit:
            raise IntakeError(
                f"{field}: nested more than {limit} levels deep (the contract's [limits] depth)"
            )
        stack.extend((child, depth + 1) for child in children)


def checked_text(
    field: str, value: str | None, limit: int, error: type[FaultflowError] = InvalidInput
) -> str | None:
    """``value`` stripped (``None`` if empty), refused naming ``field`` if it is not text, holds
    a NUL byte or a lone surrogate (neither database stores them alike), or is over ``limit``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise error(f"{field}: expected text, not {type(value).__name__}")
    if "\x00" in value:
        raise error(f"{field}: contains a NUL byte (\\x00), which no database stores alike")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise error(
            f"{field}: not valid text (a lone surrogate {value[err.start]!r} at {err.start})"
        ) from None
    if len(value) > limit:
        raise error(
            f"{field}: {len(value):,} characters, over the limit of {limit:,} "
            f"(the contract's [limits] {field.split('.')[-1]})"
        )
    return value.strip() or None
