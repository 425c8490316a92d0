"""The engine: the library API of SPEC §6.

>>> from faultflow import Engine
>>> engine = Engine.open(db="sqlite:///faultflow.db")
>>> t = engine.intake("hotline", {"title": "core switch down", "tier": "A"}, actor="agent1")
>>> t = engine.advance(t.id, "respond", actor="li")

Every method that changes a ticket is one transaction: the state, the history, the clocks, the
timers and the notifications commit together or not at all. A refused call changes nothing.
"""

from __future__ import annotations

import builtins
import dataclasses
import logging
import operator
import secrets
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, or_, select

from . import audit
from .audit import Verification
from .contract import Contract, load_contract
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
from .intake import IntakeRecord
from .store import (
    ClockRecord,
    DuplicateExternalId,
    EventRecord,
    Store,
    TicketIdTaken,
    TicketRecord,
)
from .tables import CLOCKS, EVENTS, TICKETS
from .times import aware, from_us, to_us
from .views import Event, Fired, History, Ticket, ticket_view

if TYPE_CHECKING:  # imported where used: `faultflow show` should not pay for them
    from .dispatch import Attempt
    from .hookspecs import Channel
    from .machine import Lifecycle
    from .registry import Registry
    from .report import Report

log = logging.getLogger("faultflow")

Clockwork = Callable[[], datetime]
# Crockford's base 32: no I, L, O or U, so an id read aloud or typed by hand survives.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_LENGTH = 7
RECENT = 512  # tickets whose last written state an engine remembers (saves a read)
CLOCK_SKEW = timedelta(minutes=10)


def new_ticket_id() -> str:
    """A fresh random ticket id: 7 characters of Crockford base 32 (34 billion of them)."""
    bits = secrets.randbits(5 * ID_LENGTH)
    return "".join(_ALPHABET[(bits >> (5 * i)) & 31] for i in range(ID_LENGTH))


def normalize_ticket_id(text: str) -> str:
    """Read a ticket id as a person may type it: any case, O for 0, I or L for 1, dashes."""
    cleaned = str(text).strip().upper().replace("-", "")
    return cleaned.translate(str.maketrans("OIL", "011"))


def _default_clock() -> datetime:
    # pendulum.now when pendulum is loaded, so that pendulum.travel_to() moves the engine too
    # (tests, drills: whoever travels has imported it); otherwise the same wall clock without
    # paying ~12 ms to import pendulum in every command.
    pendulum = sys.modules.get("pendulum")
    if pendulum is not None:
        return pendulum.now("UTC")
    return datetime.now(UTC)


class Engine:
    """A fault-ticket workflow engine over one database and one contract.

    Build it with :meth:`open`. An Engine may be shared between threads (calls are serialised);
    several processes or hosts may open the same database at once.
    """

    def __init__(
        self,
        store: Store,
        contract: Contract,
        clock: Clockwork | None = None,
        registry: Registry | None = None,
    ) -> None:
        self.store = store
        self.contract = contract
        self._lifecycle: Lifecycle | None = None
        self._clock = clock or _default_clock
        self._registry = registry
        self._stop = threading.Event()
        self._recent: dict[str, tuple[TicketRecord, builtins.list[ClockRecord]]] = {}

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        db: str | Path = "sqlite:///faultflow.db",
        config: str | Path | Contract | None = None,
        clock: Clockwork | None = None,
        *,
        create: bool = True,
        registry: Registry | None = None,
    ) -> Engine:
        """Open the database ``db`` (a URL, or a path to an SQLite file) under a contract.

        ``config`` is a contract file (default: the packaged seed contract) or a loaded
        :class:`Contract`. ``clock`` is a callable returning the current aware datetime (default:
        ``pendulum.now``). With ``create`` (the default) a missing schema is created.
        """
        contract = config if isinstance(config, Contract) else load_contract(config)
        store = Store.open(db, create=create)
        return cls(store, contract, clock, registry)

    def close(self) -> None:
        """Release the database connections."""
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def lifecycle(self) -> Lifecycle:
        """The contract's state machine (built on first use, once per engine)."""
        if self._lifecycle is None:
            from .machine import Lifecycle

            self._lifecycle = Lifecycle(self.contract)
        return self._lifecycle

    @property
    def registry(self) -> Registry:
        """The installed channels and notifiers (loaded on first use)."""
        if self._registry is None:
            from .registry import discover

            self._registry = discover()
        return self._registry

    def channel(self, name: str) -> Channel:
        """The channel adapter called ``name``; :class:`IntakeError` lists the installed ones."""
        channels = self.registry.channels
        try:
            return channels[name]
        except KeyError:
            known = ", ".join(sorted(channels)) or "none"
            raise IntakeError(f"unknown channel {name!r} (installed: {known})") from None

    # -- time ---------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The engine clock, as an aware datetime in the contract's time zone."""
        moment = self._clock()
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.contract.timezone)
        if type(moment) is datetime:
            return moment.astimezone(self.contract.timezone)
        # A plain datetime: arithmetic on pendulum's subclass is many times slower.
        return from_us(to_us(moment), self.contract.timezone)

    def _moment(
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

    # -- intake -------------------------------------------------------------------------------

    def intake(
        self,
        channel: str,
        payload: bytes | str | Mapping[str, Any],
        actor: str = "system",
        at: datetime | str | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Ticket:
        """Open a ticket from a channel's payload; the actor becomes its owner (P5).

        An ``external_id`` (or the channel's own message id) seen before on the same channel
        opens no second ticket: the existing ticket is returned and nothing is written. A payload
        that carries several faults (an Alertmanager group) opens one ticket for each and
        returns the first; :meth:`intake_all` returns them all.
        """
        tickets = self.intake_all(channel, payload, actor=actor, at=at, overrides=overrides)
        if not tickets:
            raise IntakeError(
                f"the {channel} payload opened no ticket (it only resolves alerts "
                "that have no ticket)"
            )
        return tickets[0]

    def intake_all(
        self,
        channel: str,
        payload: bytes | str | Mapping[str, Any],
        actor: str = "system",
        at: datetime | str | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> builtins.list[Ticket]:
        """Every ticket a channel payload opens or follows up, in payload order.

        ``overrides`` (``tier``, ``kind``, ``cause``, ``title``, ``reporter``, ...) replace what
        the adapter read: the operator's word wins over the payload's.
        """
        actor = _actor(actor)
        adapter = self.channel(channel)
        try:
            parsed = adapter.parse(payload, self.contract.channels.get(channel, {}))
        except FaultflowError:
            raise
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
        for record in records:  # refuse the whole payload before writing any of it
            self._classify(record)
        tickets = []
        for record in records:
            if record.follow_up:
                followed = self._follow_up(channel, record, actor)
                if followed is not None:
                    tickets.append(followed)
            else:
                tickets.append(self.open_ticket(channel, record, actor=actor, at=at))
        return tickets

    def _classify(self, record: IntakeRecord) -> tuple[str, str, str | None]:
        c = self.contract
        tier = record.tier or c.default_tier
        kind = record.kind or c.default_kind
        cause = record.cause or None
        _member("tier", tier, c.tiers, IntakeError)
        _member("kind", kind, c.kinds, IntakeError)
        if cause is not None:
            _member("cause", cause, c.causes, IntakeError)
        return tier, kind, cause

    def _follow_up(self, channel: str, record: IntakeRecord, actor: str) -> Ticket | None:
        if record.external_id is None:
            raise IntakeError("a follow-up needs the external id of its ticket")
        with self.store.unit() as u:
            tid = u.by_external_id(channel, record.external_id)
        if tid is None:
            log.info("%s: follow-up for unknown %s ignored", channel, record.external_id)
            return None

        def apply(draft: Draft, at_us: int, history: builtins.list[EventRecord] | None) -> None:
            draft.record(
                "note",
                draft.ticket.state,
                at_us,
                actor,
                note=f"{channel}: {record.title} — {record.data.get('status', 'update')}",
                data={"channel_data": dict(record.data)},
            )

        return self._change(tid, None, apply)

    def open_ticket(
        self,
        channel: str,
        record: IntakeRecord,
        actor: str = "system",
        at: datetime | str | None = None,
    ) -> Ticket:
        """Open a ticket from an already parsed :class:`IntakeRecord` (what :meth:`intake` does
        after the channel adapter)."""
        actor = _actor(actor)
        c = self.contract
        tier, kind, cause = self._classify(record)
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
            at_us = self._moment(when, now, None, "at" if at is not None else "occurred_at")
        except InvalidInput as err:
            raise IntakeError(str(err)) from None
        recorded_us = to_us(now)
        for _ in range(8):
            draft = opened(
                c,
                new_ticket_id(),
                channel,
                record,
                (tier, kind, cause),
                actor,
                at_us,
                recorded_us,
                data,
            )
            try:
                with self.store.unit() as u:
                    if record.external_id is not None:
                        existing = u.by_external_id(channel, record.external_id)
                        if existing is not None:
                            raise DuplicateExternalId(existing)
                    u.write(draft.change())
                rows = list(draft.clocks.values())
                self._remember(draft.ticket, rows)
                return self._view_after(draft.ticket, rows, now)
            except TicketIdTaken:
                continue
            except DuplicateExternalId as dup:
                return self.get(dup.ticket_id)
        raise DatabaseError("could not draw a free ticket id after 8 tries")  # pragma: no cover

    # -- changing a ticket --------------------------------------------------------------------

    def advance(
        self,
        ticket_id: str,
        trigger: str,
        actor: str = "system",
        at: datetime | str | None = None,
        note: str | None = None,
        reason: str | None = None,
        version: int | None = None,
        attach_report: bool = False,
    ) -> Ticket:
        """Fire ``trigger`` on a ticket and return it as it is afterwards.

        ``at`` (default now) may not lie in the future of the engine clock nor before the
        ticket's last event. With ``version``, refuse (:class:`ConcurrentUpdate`) unless the
        ticket is still at that version. Warnings and breaches due by ``at`` fire first.
        With ``attach_report``, the customer's handling report (Markdown, as it stands after
        this event) is stored in the event, inside the hash chain.
        """
        actor = _actor(actor)
        reason = _text(reason)

        def apply(draft: Draft, at_us: int, history: builtins.list[EventRecord] | None) -> None:
            from .machine import GuardFacts

            facts = GuardFacts(
                draft.classification, reason, lambda: draft.breached_clocks(at_us), draft.due_times
            )
            dest = self.lifecycle.fire(draft.ticket.state, trigger, facts)
            draft.transition(trigger, dest, at_us, actor, note=_text(note), reason=reason)
            if attach_report:
                from . import handling

                assert history is not None
                view = self._view(
                    draft.ticket,
                    list(draft.clocks.values()),
                    history + draft.events,
                    from_us(at_us, self.contract.timezone),
                )
                draft.attach("handling_report", handling.markdown(view, self.contract))

        return self._change(ticket_id, at, apply, version=version, need_history=attach_report)

    def reclassify(
        self,
        ticket_id: str,
        tier: str | None = None,
        kind: str | None = None,
        cause: str | None = None,
        reason: str | None = None,
        actor: str | None = None,
        at: datetime | str | None = None,
    ) -> Ticket:
        """Change a ticket's tier, kind or cause; every clock is recomputed from its start.

        ``reason`` is required. ``cause=""`` clears the cause. A breach now overdue fires at the
        next :meth:`tick`; a breach no longer true under the new limits is lifted.
        """
        reason = _text(reason)
        if not reason:
            raise InvalidInput("a reclassification needs a reason (--reason)")
        c = self.contract
        if tier is not None:
            _member("tier", tier, c.tiers, InvalidInput)
        if kind is not None:
            _member("kind", kind, c.kinds, InvalidInput)
        if cause:
            _member("cause", cause, c.causes, InvalidInput)
        if tier is None and kind is None and cause is None:
            raise InvalidInput("nothing to reclassify: give a tier, a kind or a cause")
        who = _actor(actor or "system")

        def apply(draft: Draft, at_us: int, history: builtins.list[EventRecord] | None) -> None:
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
            t.tier, t.kind = str(after["tier"]), str(after["kind"])
            t.cause = after["cause"]
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

        return self._change(ticket_id, at, apply, need_history=True)

    def hold(
        self,
        ticket_id: str,
        reason: str | None = None,
        actor: str | None = None,
        at: datetime | str | None = None,
    ) -> Ticket:
        """Pause the ticket's running pausable clocks (their due times move by the pause)."""
        reason = _text(reason)
        if not reason:
            raise InvalidInput("a hold needs a reason (--reason)")
        who = _actor(actor or "system")

        def apply(draft: Draft, at_us: int, history: builtins.list[EventRecord] | None) -> None:
            t = draft.ticket
            if t.state in self.contract.finals:
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
            t.on_hold, t.hold_reason = True, reason
            draft.record(
                "hold",
                t.state,
                at_us,
                who,
                note=f"paused {', '.join(paused)}",
                reason=reason,
                data={"paused": paused},
            )

        return self._change(ticket_id, at, apply)

    def resume(
        self,
        ticket_id: str,
        actor: str | None = None,
        at: datetime | str | None = None,
        note: str | None = None,
    ) -> Ticket:
        """Restart the clocks paused by :meth:`hold`."""
        who = _actor(actor or "system")

        def apply(draft: Draft, at_us: int, history: builtins.list[EventRecord] | None) -> None:
            t = draft.ticket
            if not t.on_hold:
                raise IllegalTransition(f"ticket {t.id} is not on hold")
            resumed = draft.resume_all(at_us)
            t.on_hold, t.hold_reason = False, None
            text = _text(note) or (f"resumed {', '.join(resumed)}" if resumed else "resumed")
            draft.record("resume", t.state, at_us, who, note=text, data={"resumed": resumed})

        return self._change(ticket_id, at, apply)

    def _change(
        self,
        ticket_id: str,
        at: datetime | str | None,
        apply: Callable[[Draft, int, builtins.list[EventRecord] | None], None],
        *,
        version: int | None = None,
        need_history: bool = False,
    ) -> Ticket:
        tid = normalize_ticket_id(ticket_id)
        now = self.now()
        # What this engine last wrote of the ticket saves a read. It is only a guess: the write's
        # version check decides, and any refusal or conflict met on a guess is retried once on
        # what the database says.
        known = self._recent.pop(tid, None)
        while True:
            try:
                with self.store.unit() as u:
                    loaded: TicketRecord | None
                    if known is not None:
                        loaded, clock_rows = _copy_record(known[0]), known[1]
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
                    at_us = self._moment(at, now, record.last_us)
                    draft = Draft(self.contract, record, clock_rows, to_us(now))
                    draft.fire_due(at_us)
                    history = u.events(tid) if need_history else None
                    apply(draft, at_us, history)
                    u.write(draft.change())
            except FaultflowError:
                if known is None:
                    raise
                known = None  # the guess was stale: once more, from the database
                continue
            break
        rows = list(draft.clocks.values())
        self._remember(draft.ticket, rows)
        return self._view_after(draft.ticket, rows, now)

    def _remember(self, record: TicketRecord, clock_rows: builtins.list[ClockRecord]) -> None:
        recent = self._recent
        recent[record.id] = (record, clock_rows)
        if len(recent) > RECENT:
            del recent[next(iter(recent))]

    # -- looking ------------------------------------------------------------------------------

    def get(self, ticket_id: str) -> Ticket:
        """The ticket with its clocks (read now) and its whole history."""
        tid = normalize_ticket_id(ticket_id)
        now = self.now()
        with self.store.unit() as u:
            record, clock_rows = u.load(tid)
            if record is None:
                raise UnknownTicket(ticket_id)
            return self._view_in(u, record, clock_rows, now)

    def history(self, ticket_id: str) -> Sequence[Event]:
        """The ticket's events, oldest first."""
        return self.get(ticket_id).history

    def list(
        self,
        state: str | None = None,
        tier: str | None = None,
        breached: bool | None = None,
        owner: str | None = None,
        limit: int | None = None,
        final: bool | None = None,
    ) -> builtins.list[Ticket]:
        """Tickets, most urgent first (breached on top, then nearest due), without history.

        ``final=False`` keeps the open tickets only (``True`` the closed ones); the filters run
        in the database.
        """
        c = self.contract
        if state is not None:
            _member("state", state, c.states, InvalidInput)
        if tier is not None:
            _member("tier", tier, c.tiers, InvalidInput)
        now = self.now()
        t, k = TICKETS, CLOCKS
        query = select(*self.store.ticket_columns())
        if state is not None:
            query = query.where(t.c.state == state)
        if tier is not None:
            query = query.where(t.c.tier == tier)
        if owner is not None:
            query = query.where(t.c.owner == owner)
        if final is not None:
            closed = t.c.state.in_(sorted(c.finals))
            query = query.where(closed if final else ~closed)
        if breached is not None:
            broken = exists().where(
                k.c.ticket_id == t.c.id,
                or_(k.c.breached, and_(k.c.status == "running", k.c.due_us < to_us(now))),
            )
            query = query.where(broken if breached else ~broken)
        records = self.store.ticket_records(query.order_by(t.c.created_us))
        clock_rows = self.store.clock_records(r.id for r in records)
        tickets = [self._view(r, clock_rows[r.id], (), now) for r in records]
        tickets.sort(key=_urgency)
        return tickets[:limit] if limit is not None else tickets

    def _view_in(
        self, unit: Any, record: TicketRecord, clock_rows: Iterable[ClockRecord], now: datetime
    ) -> Ticket:
        return self._view(record, clock_rows, unit.events(record.id), now)

    def _view_after(
        self, record: TicketRecord, clock_rows: Iterable[ClockRecord], now: datetime
    ) -> Ticket:
        """The view a change returns; its history (up to the change) loads when first used."""
        tid, upto = record.id, record.last_seq

        def load() -> builtins.list[EventRecord]:
            with self.store.unit() as u:
                return u.events(tid, upto)

        return self._view(record, clock_rows, History(load, self.contract.timezone, upto), now)

    def _view(
        self,
        r: TicketRecord,
        clock_rows: Iterable[ClockRecord],
        events: Iterable[EventRecord] | History,
        now: datetime,
    ) -> Ticket:
        return ticket_view(r, clock_rows, events, to_us(now), self.contract)

    # -- reports ------------------------------------------------------------------------------

    def report(
        self, start: datetime | str | None = None, end: datetime | str | None = None
    ) -> Report:
        """SLA compliance of the clocks that started in [start, end).

        Defaults: ``end`` now, ``start`` 30 days before ``end``. Times without an offset are in
        the contract's time zone; a date alone means its midnight.
        """
        now = self.now()
        zone = self.contract.timezone
        stop = aware(end, now, zone) if end is not None else now
        begin = aware(start, now, zone) if start is not None else stop - timedelta(days=30)
        if begin >= stop:
            raise InvalidInput(
                f"the period is empty: {begin.isoformat()} is not before {stop.isoformat()}"
            )
        from .report import build as build_report

        return build_report(
            self.store,
            self.contract,
            to_us(begin),
            to_us(stop),
            to_us(now),
            now,
            begin.astimezone(zone),
            stop.astimezone(zone),
        )

    def handling_report(self, ticket_id: str, fmt: str = "md") -> str:
        """The customer's handling report of one ticket (P11), as ``md`` or ``html``."""
        from . import handling

        if fmt not in ("md", "html"):
            raise InvalidInput(f"handling report format {fmt!r}: use md or html")
        ticket = self.get(ticket_id)
        render = handling.markdown if fmt == "md" else handling.to_html
        return render(ticket, self.contract)

    # -- the audit chain ------------------------------------------------------------------------

    def verify(self, against: Mapping[str, tuple[int, str]] | None = None) -> Verification:
        """Recompute every ticket's hash chain; name the first broken link of each.

        ``against``: a head saved earlier (:meth:`head` with ``tickets=True``); the history must
        still pass through every (seq, hash) it names.
        """
        e, t = EVENTS, TICKETS
        columns = [
            e.c[n]
            for n in (
                "ticket_id",
                "seq",
                "trigger",
                "from_state",
                "to_state",
                "at_us",
                "recorded_us",
                "actor",
                "note",
                "reason",
                "data",
                "hash",
            )
        ]
        events = self.store.stream(
            select(*columns).order_by(self.store.by_id(e.c.ticket_id), e.c.seq)
        )
        heads = self.store.stream(
            select(t.c.id, t.c.last_seq, t.c.last_hash).order_by(self.store.by_id(t.c.id))
        )
        return audit.check(events, heads, dict(against) if against is not None else None)

    def head(self, tickets: bool = False) -> dict[str, Any]:
        """The chain head: one digest over every ticket's last (seq, hash), to keep as proof.

        With ``tickets``, also every ticket's (seq, hash), for ``verify --against`` later.
        """
        t = TICKETS
        rows = list(
            self.store.stream(
                select(t.c.id, t.c.last_seq, t.c.last_hash).order_by(self.store.by_id(t.c.id))
            )
        )
        digest, count, events = audit.chain_head(rows)
        out: dict[str, Any] = {
            "head": digest,
            "tickets": count,
            "events": events,
            "at": self.now().isoformat(),
        }
        if tickets:
            out["heads"] = {tid: [seq, h] for tid, seq, h in rows}
        return out

    # -- timers -------------------------------------------------------------------------------

    def tick(self, now: datetime | str | None = None, batch: int = 500) -> builtins.list[Fired]:
        """Fire every warning and breach due at ``now`` (default: the engine clock), once.

        Safe to run in several processes at once: each alarm is fired by exactly one of them.
        Returns what this call fired, in the order fired.
        """
        moment = self.now() if now is None else aware(now, self.now(), self.contract.timezone)
        now_us = to_us(moment)
        fired: builtins.list[Fired] = []
        done: set[str] = set()
        while True:
            due = [tid for tid in self.store.due(now_us, batch) if tid not in done]
            if not due:
                break
            for tid in due:
                done.add(tid)
                fired.extend(self._fire_ticket(tid, moment, now_us))
        self.dispatch(moment)
        return fired

    def dispatch(self, now: datetime | str | None = None) -> builtins.list[Attempt]:
        """Deliver the notifications due now to the configured notifiers (run by :meth:`tick`).

        Returns every delivery attempt made; failures are recorded and retried with backoff.
        """
        if not self.contract.notifiers:
            return []
        moment = self.now() if now is None else aware(now, self.now(), self.contract.timezone)
        from .dispatch import dispatch as dispatch_outbox

        return dispatch_outbox(self.store, self.contract, self.registry.notifiers, to_us(moment))

    def _fire_ticket(self, tid: str, now: datetime, now_us: int) -> builtins.list[Fired]:
        for _ in range(10):
            try:
                with self.store.unit() as u:
                    record, clock_rows = u.load(tid)
                    if record is None:
                        return []
                    draft = Draft(self.contract, record, clock_rows, to_us(self.now()))
                    draft.fire_due(now_us)
                    if not draft.dirty:
                        return []
                    u.write(draft.change())
            except ConcurrentUpdate:
                continue  # another process changed the ticket; look again
            self._remember(draft.ticket, list(draft.clocks.values()))
            zone = self.contract.timezone
            return [
                Fired(tid, name, alarm, due.astimezone(zone)) for name, alarm, due in draft.fired
            ]
        log.warning(
            "ticket %s: gave up firing its alarms after 10 conflicts; next tick retries", tid
        )
        return []

    def next_due(self) -> datetime | None:
        """When the next warning or breach falls due, or ``None``."""
        us = self.store.next_due()
        return from_us(us, self.contract.timezone) if us is not None else None

    def stop(self) -> None:
        """Ask a running :meth:`run` loop to return."""
        self._stop.set()

    def run(
        self,
        max_sleep: float = 1.0,
        on_fired: Callable[[builtins.list[Fired]], None] | None = None,
        handle_signals: bool = True,
    ) -> None:
        """Keep firing due alarms until :meth:`stop`, SIGINT or SIGTERM (see scheduler.py).

        Sleeps until the next due time, but never longer than ``max_sleep`` seconds, so that a
        timer written meanwhile by another process is noticed within that bound. A database
        error is logged and retried with backoff; it never ends the loop.
        """
        from . import scheduler

        scheduler.run(self, self._stop, max_sleep, on_fired, handle_signals)


def _copy_record(record: TicketRecord) -> TicketRecord:
    """A draft changes its ticket record in place; a remembered one must stay as it was."""
    return TicketRecord(*_TICKET_FIELDS(record))


_TICKET_FIELDS = operator.attrgetter(*TicketRecord.__slots__)


def _urgency(ticket: Ticket) -> tuple[int, float, float]:
    """Breached running promises first, then the nearest due time, then the oldest."""
    running = [c for c in ticket.clocks.values() if c.status == "running"]
    dues = [c.due_at.timestamp() for c in running if c.due_at is not None]
    return (
        0 if any(c.breached for c in running) else 1,
        min(dues) if dues else float("inf"),
        ticket.created_at.timestamp(),
    )


def _member(what: str, value: str, known: Mapping[str, Any], error: type[FaultflowError]) -> None:
    if value not in known:
        raise error(f"unknown {what} {value!r} (known: {', '.join(known)})")


def _actor(actor: str) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise InvalidInput("an actor (who does this) is required")
    return actor.strip()


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"expected text, not {type(value).__name__}")
    return value.strip() or None
