"""The write path: every change of a ticket, as one transaction on a draft.

intake → draft → store, and load → draft → store for every later change: the draft decides
(state, history, clocks, timers, notifications) in memory, the store commits all of it or none.
A refused change writes nothing. This module holds the rules of *when* a change may be
recorded (``at`` policy) and the unit of work that retries a stale guess once.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import queries
from .audit import PLAIN, Sealer
from .contract import Contract, member
from .draft import Draft, opened
from .errors import (
    ConcurrentUpdate,
    DatabaseError,
    FaultflowError,
    IllegalTransition,
    IntakeError,
    InvalidInput,
    UnknownTicket,
)
from .ids import new_ticket_id, normalize_ticket_id
from .intake import IntakeRecord
from .records import ClockRecord, EventRecord, TicketRecord
from .store import DuplicateExternalId, Store, TicketIdTaken
from .times import aware, from_us, to_us
from .views import History, Ticket, ticket_view

if TYPE_CHECKING:
    from .hookspecs import Channel
    from .machine import Lifecycle

log = logging.getLogger("faultflow")

RECENT = 512  # tickets whose last written state the write path remembers (saves a read)
CLOCK_SKEW = timedelta(minutes=10)

Apply = Callable[[Draft, int, "list[EventRecord] | None"], None]


class WritePath:
    """Intake and every change of a ticket, for one store under one contract."""

    def __init__(
        self,
        store: Store,
        contract: Contract,
        now: Callable[[], datetime],
        lifecycle: Callable[[], Lifecycle],
        sealer: Sealer = PLAIN,
    ) -> None:
        self.store = store
        self.sealer = sealer
        self.contract = contract
        self.now = now
        self._lifecycle = lifecycle
        # What this engine last wrote of a ticket: records are immutable, so no copies.
        self._recent: dict[str, tuple[TicketRecord, list[ClockRecord]]] = {}

    # -- intake -------------------------------------------------------------------------------

    def intake_one(
        self,
        channel: str,
        adapter: Channel,
        payload: bytes | str | Mapping[str, Any],
        actor: str,
        at: datetime | str | None,
        overrides: Mapping[str, Any] | None,
    ) -> Ticket:
        """The first ticket of :meth:`intake_all`; refused if the payload opened none."""
        tickets = self.intake_all(channel, adapter, payload, actor, at, overrides)
        if not tickets:
            raise IntakeError(
                f"the {channel} payload opened no ticket (it only resolves alerts "
                "that have no ticket)"
            )
        return tickets[0]

    def intake_all(
        self,
        channel: str,
        adapter: Channel,
        payload: bytes | str | Mapping[str, Any],
        actor: str,
        at: datetime | str | None,
        overrides: Mapping[str, Any] | None,
    ) -> list[Ticket]:
        actor = self._actor(actor)
        self._check_payload(payload)
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
        self._check_records(records)  # refuse the whole payload before writing any of it
        for record in records:
            classify(self.contract, record)
        tickets = []
        for record in records:
            if record.follow_up:
                followed = self._follow_up(channel, record, actor)
                if followed is not None:
                    tickets.append(followed)
            else:
                tickets.append(self.open_ticket(channel, record, actor, at))
        return tickets

    def _follow_up(self, channel: str, record: IntakeRecord, actor: str) -> Ticket | None:
        if record.external_id is None:
            raise IntakeError("a follow-up needs the external id of its ticket")
        with self.store.unit() as u:
            tid = u.by_external_id(channel, record.external_id)
        if tid is None:
            log.info("%s: follow-up for unknown %s ignored", channel, record.external_id)
            return None

        def apply(draft: Draft, at_us: int, history: list[EventRecord] | None) -> None:
            draft.record(
                "note",
                draft.ticket.state,
                at_us,
                actor,
                note=f"{channel}: {record.title} — {record.data.get('status', 'update')}",
                data={"channel_data": dict(record.data)},
            )

        return self.change(tid, None, apply)

    def open_ticket(
        self, channel: str, record: IntakeRecord, actor: str, at: datetime | str | None
    ) -> Ticket:
        """Open one ticket from a parsed record; an external id seen before returns its ticket."""
        actor = self._actor(actor)
        self._check_records([record])  # a public entry checks what it is given itself
        c = self.contract
        classification = classify(c, record)
        now = self.now()
        data: dict[str, Any] = {"channel_data": dict(record.data)} if record.data else {}
        when = at if at is not None else record.occurred_at
        if at is None and record.occurred_at is not None:
            # A reporter's clock (an e-mail Date, a call centre) may run a little fast: within
            # CLOCK_SKEW the report counts as made now; further ahead it is refused.
            try:
                reported = aware(record.occurred_at, now, c.timezone)
            except InvalidInput as err:
                raise IntakeError(f"occurred_at: {err}") from None
            if now < reported <= now + CLOCK_SKEW:
                data["reported_at"] = reported.isoformat()
                when = now
        try:
            at_us = self.moment(when, now, None, "at" if at is not None else "occurred_at")
        except InvalidInput as err:
            raise IntakeError(str(err)) from None
        recorded_us = to_us(now)
        for _ in range(8):
            draft = opened(
                c,
                new_ticket_id(),
                channel,
                record,
                classification,
                actor,
                at_us,
                recorded_us,
                data,
                self.sealer,
            )
            try:
                with self.store.unit() as u:
                    if record.external_id is not None:
                        existing = u.by_external_id(channel, record.external_id)
                        if existing is not None:
                            raise DuplicateExternalId(existing)
                    u.write(draft.change())
            except TicketIdTaken:
                continue
            except DuplicateExternalId as dup:
                return queries.ticket(self.store, self.contract, dup.ticket_id, to_us(now))
            return self._written(draft, recorded_us)
        raise DatabaseError("could not draw a free ticket id after 8 tries")  # pragma: no cover

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
    ) -> Ticket:
        """Load a ticket, fire its overdue alarms, ``apply`` the change, write it: one
        transaction. A refusal raised by ``apply`` writes nothing.

        ``finish`` is slow work on the finished draft (rendering a report into the event): it
        runs outside any transaction, and the write that follows is refused by the version
        check (:class:`ConcurrentUpdate`) if anyone changed the ticket meanwhile."""
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
                    # A clock a little behind another host's: keep the history in order.
                    at_us = (
                        max(now_us, record.last_us)
                        if at is None
                        else self.moment(at, now, record.last_us)
                    )
                    draft = Draft(self.contract, record, clock_rows, now_us, sealer=self.sealer)
                    draft.fire_due(at_us)
                    history = u.events(tid) if need_history or finish else None
                    apply(draft, at_us, history)
                    if finish is None:
                        u.write(draft.change())
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
        return self._written(draft, now_us)

    def remember(self, record: TicketRecord, clock_rows: list[ClockRecord]) -> None:
        recent = self._recent
        recent[record.id] = (record, clock_rows)
        if len(recent) > RECENT:
            del recent[next(iter(recent))]

    def _written(self, draft: Draft, now_us: int) -> Ticket:
        """The view a change returns; its history (up to the change) loads when first used."""
        record, rows = draft.ticket, list(draft.clocks.values())
        self.remember(record, rows)
        tid, upto = record.id, record.last_seq

        def load() -> list[EventRecord]:
            with self.store.unit() as u:
                return u.events(tid, upto)

        history = History(load, self.contract.timezone, upto)
        return ticket_view(record, rows, history, now_us, self.contract)

    # -- input policy -------------------------------------------------------------------------

    def _actor(self, actor: str | None) -> str:
        who = checked_text("actor", actor, self.contract.limits.actor)
        if who is None:
            raise InvalidInput("an actor (who does this) is required")
        return who

    def _text(self, field: str, value: str | None) -> str | None:
        limit: int = getattr(self.contract.limits, field)
        return checked_text(field, value, limit)

    def _check_payload(self, payload: bytes | str | Mapping[str, Any]) -> None:
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

    def _check_records(self, records: list[IntakeRecord]) -> None:
        """Refuse a record whose text is not text, or is over the contract's limits, naming the
        field (and the fault, in a payload of several)."""
        limits = self.contract.limits
        for i, record in enumerate(records):
            where = f"faults[{i}]." if len(records) > 1 else ""
            for field, limit in (
                ("title", limits.title),
                ("description", limits.description),
                ("reporter", limits.title),
                ("contact", limits.title),
                ("external_id", limits.title),
            ):
                checked_text(f"{where}{field}", getattr(record, field), limit, IntakeError)
            _check_depth(f"{where}data", record.data, limits.depth)

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
        actor = self._actor(actor)
        reason = self._text("reason", reason)
        lifecycle = self._lifecycle()

        def apply(draft: Draft, at_us: int, history: list[EventRecord] | None) -> None:
            from .machine import GuardFacts

            facts = GuardFacts(
                draft.classification, reason, lambda: draft.breached_clocks(at_us), draft.due_times
            )
            dest = lifecycle.fire(draft.ticket.state, trigger, facts)
            draft.transition(
                trigger, dest, at_us, actor, note=self._text("note", note), reason=reason
            )

        def report(draft: Draft, history: list[EventRecord]) -> None:
            """The customer's handling report as it stands after this event, in the event."""
            from .handling import markdown

            at_us = draft.events[-1].at_us
            rows = list(draft.clocks.values())
            view = ticket_view(draft.ticket, rows, history + draft.events, at_us, self.contract)
            draft.attach("handling_report", markdown(view, self.contract))

        return self.change(
            ticket_id, at, apply, version=version, finish=report if attach_report else None
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
    ) -> Ticket:
        reason = self._text("reason", reason)
        if not reason:
            raise InvalidInput("a reclassification needs a reason (--reason)")
        c = self.contract
        if tier is not None:
            member("tier", tier, c.tiers, InvalidInput)
        if kind is not None:
            member("kind", kind, c.kinds, InvalidInput)
        if cause:
            member("cause", cause, c.causes, InvalidInput)
        if tier is None and kind is None and cause is None:
            raise InvalidInput("nothing to reclassify: give a tier, a kind or a cause")
        who = self._actor(actor or "system")

        def apply(draft: Draft, at_us: int, history: list[EventRecord] | None) -> None:
            t = draft.ticket
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

        return self.change(ticket_id, at, apply, need_history=True)

    def hold(
        self, ticket_id: str, reason: str | None, actor: str | None, at: datetime | str | None
    ) -> Ticket:
        reason = self._text("reason", reason)
        if not reason:
            raise InvalidInput("a hold needs a reason (--reason)")
        who = self._actor(actor or "system")
        finals = self.contract.finals

        def apply(draft: Draft, at_us: int, history: list[EventRecord] | None) -> None:
            t = draft.ticket
            if t.state in finals:
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

        return self.change(ticket_id, at, apply)

    def resume(
        self, ticket_id: str, actor: str | None, at: datetime | str | None, note: str | None
    ) -> Ticket:
        who = self._actor(actor or "system")

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

        return self.change(ticket_id, at, apply)


def classify(c: Contract, record: IntakeRecord) -> tuple[str, str, str | None]:
    """The (tier, kind, cause) a record opens a ticket with; refuses unknown ones."""
    tier = record.tier or c.default_tier
    kind = record.kind or c.default_kind
    cause = record.cause or None
    member("tier", tier, c.tiers, IntakeError)
    member("kind", kind, c.kinds, IntakeError)
    if cause is not None:
        member("cause", cause, c.causes, IntakeError)
    return tier, kind, cause


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
