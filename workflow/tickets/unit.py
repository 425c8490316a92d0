"""The one door: every change of a ticket, whoever asks for it, is one unit of work.

    load (or the row this engine wrote last) → the ticket's contract version → a draft with the
    sealer and the chain hook → fire the alarms that fell due *before* the change → the
    command → write, with the version check, in one transaction → start the escalation chains
    the breaches call for → queue notifications → retry under one policy

Operators (advance, hold, note, ack, ...), the timers, the escalation steps, intake follow-ups,
contract migrations and bulk loads all give their change to :meth:`UnitOfWork.change` (or, for
new tickets and a payload of several, :meth:`UnitOfWork.open` and :meth:`UnitOfWork.commit`)
as a *command*: a function of a :class:`Step`. A command never loads, drafts or writes a ticket
itself, so no writer can forget a step of the sequence.

The retry policy, for every writer: a change decided on a version the caller saw (``version``,
an HTTP ``If-Match``) is refused with :class:`ConcurrentUpdate` when the ticket moved; any other
change is tried again from what the database says, up to :data:`RETRIES` times — the command and
the machine's guards run again on the fresh ticket, so a trigger that no longer applies is
refused by the machine rather than written twice.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ..audit.chain import PLAIN, Sealer
from ..contract.model import Contract
from ..db.records import ClockRecord, EscalationRecord, EventRecord, TicketRecord, place_of
from ..db.store import Store, Unit
from ..errors import ConcurrentUpdate, FaultflowError, UnknownTicket
from ..ids import normalize_ticket_id
from ..intake import IntakeRecord
from ..timekeeping.times import to_us
from .draft import Draft, opened
from .queries import stored_history
from .views import Ticket, ticket_view

if TYPE_CHECKING:
    from ..contract.versions import Contracts
    from ..duty.people import People

RETRIES = 10
"""How often a change that met another writer's is tried again from the database."""

RECENT = 512
"""Tickets whose last written row this engine remembers (a guess that saves a read)."""

Moment = Callable[[Unit, TicketRecord, int], "tuple[int, list[EventRecord] | None]"]


class Locator(Protocol):
    """Where a new fault is, from what its channel carried (the registry's directory,
    ``network/places.py``): codes by the names of ``records.PLACES``, the unknown left out."""

    def refresh(self) -> None:
        """Make sure what it answers is the registry as it stands (called before intake)."""

    def invalidate(self) -> None:
        """The registry was changed by this engine: read it again at the next refresh."""

    def __call__(self, record: IntakeRecord, config: Mapping[str, Any]) -> dict[str, str]: ...

    def manager(self, unit: str) -> str | None:
        """The unit's customer manager (a person id of people.toml), if it names one."""


@dataclass(frozen=True, slots=True)
class Context:
    """What every area of the core works with, passed once: the database, the contract
    versions, the seal of the audit chain, the people (rosters and chains) and the clock."""

    store: Store
    contracts: Contracts
    now: Callable[[], datetime]
    sealer: Sealer = PLAIN
    people: People | None = None
    locate: Locator | None = None
    closed: tuple[Callable[[Unit, Draft], None], ...] = ()
    """Called in the transaction of a change that closes a ticket (a final state that is not a
    cancellation): the experience base drafts an entry from it; its follow-up falls due."""
    remedy: Callable[[Unit, Draft, Mapping[str, Any]], dict[str, Any]] | None = None
    """Called in the transaction of the contract's remedy (a trigger of role ``remedy``), after
    the machine allowed it, with what the operator asked (``spare``, ``model``, ``actor``,
    ``at_us``): the spares take one from stock, or refuse; what it returns goes in the event."""
    reserve: Callable[[Unit, Draft, Mapping[str, Any]], dict[str, Any]] | None = None
    """Called in the transaction of the contract's reserving trigger (``[spares] reserve_on``)
    on a ticket of a tier in ``[spares] reserve``: a spare is reserved for it ahead; what it
    returns goes in the event."""
    release: Callable[[Unit, Draft], None] | None = None
    """Called in the transaction of a change that closes a ticket of a reserving tier: a spare
    reserved for it and not taken goes back to stock."""
    planned: Callable[[Unit, str, Mapping[str, str], int, str], int | None] | None = None
    """Asked in the transaction of a new ticket (``why`` ``planned``) and of an escalation chain
    about to start (``paused``): the maintenance window going on at that ticket's place at
    that moment (its id, the ticket marked as touched by it), or ``None``."""

    @property
    def contract(self) -> Contract:
        """The current contract (new tickets, the input policy)."""
        return self.contracts.current


@dataclass(slots=True)
class Step:
    """What a command sees: the draft (the ticket being changed, alarms due already fired), the
    moment of the change, the open transaction (for the rows beside the ticket a command owns,
    such as its escalation chain) and, when asked for, the history before the change."""

    draft: Draft
    at_us: int
    tx: Unit
    history: list[EventRecord] | None = None
    result: Any = None
    """What the command hands back to its caller (a page, a count)."""


Command = Callable[[Step], None]


@dataclass(slots=True)
class Done:
    """How a change ended: the draft as written (``None`` when the ticket was not there, for a
    caller that allowed it), what the command handed back, whether anything was written, and
    the history before the change when it was read."""

    draft: Draft | None
    result: Any = None
    written: bool = False
    history: list[EventRecord] | None = None


class NothingToDo(Exception):
    """Raised by a command that finds nothing to do (a step no longer due): what fell due is
    still written, the command's change is not."""


class UnitOfWork:
    """The only code that writes a ticket (see the module's docstring)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.chained = frozenset(ctx.people.chains) if ctx.people is not None else frozenset()
        # What this engine last wrote of a ticket: records are immutable, so no copies. The run
        # loop's lanes (the sweeps, delivery recording its pages) share it: a lock keeps it whole.
        self._recent: dict[str, tuple[TicketRecord, list[ClockRecord]]] = {}
        self._recent_lock = threading.Lock()

    # -- drafts -------------------------------------------------------------------------------

    def draft(
        self,
        record: TicketRecord,
        clock_rows: Iterable[ClockRecord],
        recorded_us: int,
    ) -> Draft:
        """A stored ticket's draft, under the contract version it runs under."""
        pinned = self.ctx.contracts.for_ticket(record)
        return Draft(
            pinned, record, clock_rows, recorded_us, sealer=self.ctx.sealer, chained=self.chained
        )

    def open(
        self,
        ticket_id: str,
        channel: str,
        record: IntakeRecord,
        classification: tuple[str, str, str | None],
        actor: str,
        at_us: int,
        recorded_us: int,
        data: dict[str, Any] | None = None,
        *,
        occurrence: int = 1,
        recurs: str | None = None,
        tx: Unit | None = None,
    ) -> Draft:
        """A new ticket's draft under the current contract (written by :meth:`commit`), placed
        where the registry says its channel's data puts it; inside a maintenance window at its
        place (asked in ``tx``, the intake's transaction), opened as planned."""
        contract, locate, planned = self.ctx.contract, self.ctx.locate, self.ctx.planned
        place = locate(record, contract.channels.get(channel, {})) if locate else None
        window = None
        if tx is not None and planned is not None:
            window = planned(tx, ticket_id, place or {}, at_us, "planned")
        return opened(
            contract, ticket_id, channel, record, classification, actor, at_us,
            recorded_us, data, self.ctx.sealer, occurrence=occurrence, recurs=recurs,
            chained=self.chained, place=place, manager=self.manager(place), planned=window,
        )  # fmt: skip

    def manager(self, place: Mapping[str, str] | None) -> dict[str, str] | None:
        """The customer manager of the unit at ``place`` as a reporter may read it: name,
        mobile, mail (people.toml); ``None`` when the unit names none."""
        unit, locate = (place or {}).get("unit"), self.ctx.locate
        return self.reachable(locate.manager(unit)) if unit and locate is not None else None

    def reachable(self, person_id: str | None) -> dict[str, str] | None:
        """A person of people.toml as someone outside may reach them: name, mobile, mail."""
        people = self.ctx.people
        person = people.people.get(person_id or "") if people is not None else None
        if person is None:
            return None
        shown = {k: v for k, v in person.contacts.items() if k in ("mobile", "email")}
        return {"person": person.id, "name": person.name, **shown}

    # -- writing ------------------------------------------------------------------------------

    def commit(self, tx: Unit, draft: Draft) -> None:
        """Write a draft in ``tx`` (version-checked) and start the chains its breaches call for;
        a draft with nothing in it is not written."""
        self.chain(tx, draft)
        if draft.dirty:
            if self.ctx.closed and draft.closes:
                for closed in self.ctx.closed:
                    closed(tx, draft)
            release = self.ctx.release  # a tier that reserves spares, closing: cheap test first
            if (release is not None and draft.ticket.tier in draft.contract.spare_reserve
                    and draft.finished):  # fmt: skip
                release(tx, draft)
            tx.write(draft.change())
            if draft.ticket.parent == draft.ticket.id and draft.finished:
                self.follow(tx, draft)

    def follow(self, tx: Unit, parent: Draft) -> None:
        """The reports merged into ``parent`` close with it, in its transaction: each moves to
        the parent's final state (a ``follow`` event, told on the report's own channel with
        the parent's handling report, when its closing event carries one)."""
        c = parent.contract
        last = next(e for e in reversed(parent.events) if e.to_state in c.finals)
        report = (
            json.loads(last.data).get("handling_report") if "handling_report" in last.data else None
        )
        pid = parent.ticket.id
        shown = {"parent": pid, **({"handling_report": report} if report else {})}
        for rid in tx.reports(pid):
            record, clock_rows = tx.load(rid)
            if record is None:
                continue
            draft = self.draft(record, clock_rows, parent.recorded_us)
            if record.state in draft.contract.finals:
                continue  # closed on its own before the merge (a merge refuses it: old data)
            at_us = max(last.at_us, record.last_us)
            note = f"closed with {pid} ({last.trigger} → {last.to_state})"
            draft.transition(
                "follow", last.to_state, at_us, last.actor, note=note,
                data={"parent": pid, "trigger": last.trigger, **shown}, notify=shown,
            )  # fmt: skip
            tx.write(draft.change())
            self.forget_one(rid)

    def together(
        self, ticket_ids: Sequence[str], command: Callable[[dict[str, Step]], None]
    ) -> dict[str, Step]:
        """Change several tickets in one transaction (a merge changes the report and its
        parent): each is loaded, drafted and brought up to date — what fell due fired, the
        chains it calls for started — as :meth:`change` does, with its history; then
        ``command`` sees every step at once (by ticket id); every change is written with its
        version check, or none is. A conflict retries the whole under the one policy."""
        now_us = to_us(self.ctx.now())
        tids = {normalize_ticket_id(t): t for t in ticket_ids}
        for tid in tids:
            self.forget_one(tid)
        tries = 0
        while True:
            try:
                with self.ctx.store.unit() as tx:
                    steps: dict[str, Step] = {}
                    for tid in sorted(tids):  # one order for every writer: no deadlock
                        record, clock_rows = tx.load(tid)
                        if record is None:
                            raise UnknownTicket(tids[tid])
                        draft = self.draft(record, clock_rows, now_us)
                        at_us = max(now_us, record.last_us)
                        draft.fire_due(at_us)
                        self.chain(tx, draft)
                        steps[tid] = Step(draft, at_us, tx, tx.events(tid))
                    command(steps)
                    for step in steps.values():
                        self.commit(tx, step.draft)
                break
            except ConcurrentUpdate:
                tries += 1
                if tries > RETRIES:
                    raise
        for step in steps.values():
            self.remember(step.draft.ticket, list(step.draft.clocks.values()))
        return steps

    def commit_many(self, tx: Unit, drafts: list[Draft]) -> None:
        """Write many new tickets at once (one statement per table), with their chains."""
        for draft in drafts:
            self.chain(tx, draft)
        tx.write_many([d.change() for d in drafts])

    def chain(self, tx: Unit, draft: Draft) -> None:
        """Start the escalation chain of a breach the draft fired since last looked at."""
        people = self.ctx.people
        fresh = draft.take_fired()
        if people is None or not any(alarm == "breach" for _, alarm, _ in fresh):
            return
        self.start_chain(tx, draft)

    def start_chain(self, tx: Unit, draft: Draft) -> None:
        """Start the escalation chain of the ticket's tier now, unless one is running (a
        report taken out of its group with its promise broken: nobody works on it)."""
        people, t = self.ctx.people, draft.ticket
        chain = people.chains.get(t.tier) if people is not None else None
        if chain is None:
            return
        old = tx.escalation(t.id)
        if old is not None and old.status in ("running", "paused"):
            return  # one chain at a time: the running (or paused) one goes on
        now_us = draft.recorded_us
        planned = self.ctx.planned
        if planned is not None and planned(tx, t.id, place_of(t), now_us, "paused") is not None:
            # planned work at its place: the chain waits for the window's end
            paused = EscalationRecord(t.id, chain.name, 0, 1, "paused", now_us, None)
            tx.put_escalation(paused, old)
            return
        tx.put_escalation(EscalationRecord(t.id, chain.name, 0, 1, "running", now_us, now_us), old)

    def change(
        self,
        ticket_id: str,
        command: Command,
        *,
        at_us: int | Moment | None = None,
        version: int | None = None,
        history: bool = False,
        finish: Callable[[Draft, list[EventRecord]], None] | None = None,
        missing_ok: bool = False,
    ) -> Done:
        """Change one ticket through ``command``, in one transaction; a refusal the command
        raises writes nothing.

        ``at_us``: when the change happened — a fixed µs, a function of (transaction, ticket,
        now µs) giving the µs and, if it read it, the history (late entries), or ``None``: now
        (never before the ticket's last event). ``version``: refuse unless the ticket is still
        at it (and never retry). ``history``: the command needs the history before the change.
        ``finish``: slow work on the finished draft (rendering a report into the event) done
        outside any transaction; the write after it is refused if anyone changed the ticket
        meanwhile. ``missing_ok``: an unknown ticket returns ``Done(None)`` (a timer
        whose ticket is gone) instead of raising :class:`UnknownTicket`."""
        tid = normalize_ticket_id(ticket_id)
        now_us = to_us(self.ctx.now())
        # The row this engine last wrote saves a read. It is only a guess: the version check
        # decides, and a refusal met on a guess is tried again on what the database says.
        with self._recent_lock:
            known = self._recent.pop(tid, None)
        tries = 0
        while True:
            guessed = known is not None
            try:
                with self.ctx.store.unit() as tx:
                    done = self._once(
                        tx, tid, ticket_id, known, command, now_us, at_us, version,
                        history or finish is not None, missing_ok, finish is not None,
                    )  # fmt: skip
                    if finish is None and done.draft is not None:
                        self.commit(tx, done.draft)
                break
            except ConcurrentUpdate as err:
                tries += 1
                if not (guessed or err.retry or version is None) or tries > RETRIES:
                    raise
                known = None
            except FaultflowError:
                if not guessed:
                    raise
                known = None  # refused on a stale guess: once more, from the database
        draft = done.draft
        if draft is None or not done.written:
            return done
        if finish is not None:
            finish(draft, done.history or [])
            with self.ctx.store.unit() as tx:
                self.commit(tx, draft)
        self.remember(draft.ticket, list(draft.clocks.values()))
        return done

    def _once(
        self,
        tx: Unit,
        tid: str,
        asked: str,
        known: tuple[TicketRecord, list[ClockRecord]] | None,
        command: Command,
        now_us: int,
        at: int | Moment | None,
        version: int | None,
        need_history: bool,
        missing_ok: bool,
        deferred: bool,
    ) -> Done:
        if known is not None:
            record, clock_rows = known
        else:
            loaded, clock_rows = tx.load(tid)
            if loaded is None:
                if missing_ok:
                    return Done(None)
                raise UnknownTicket(asked)
            record = loaded
        if version is not None and version != record.version:
            raise ConcurrentUpdate(
                f"ticket {tid} is at version {record.version}, not {version}: look at it "
                "again and retry"
            )
        past: list[EventRecord] | None = None
        if at is None:  # a clock a little behind another host's: keep the order
            at_us = max(now_us, record.last_us)
        elif callable(at):
            at_us, past = at(tx, record, now_us)
        else:
            at_us = at
        draft = self.draft(record, clock_rows, now_us)
        draft.fire_due(at_us)
        if not deferred:  # a breach found here pages as the sweep's would, before the change
            self.chain(tx, draft)  # (deferred: in the transaction that writes the breach)
        if past is None and need_history:
            past = tx.events(tid)
        step = Step(draft, at_us, tx, past)
        with contextlib.suppress(NothingToDo):  # what fell due is still written
            command(step)
        return Done(draft, step.result, draft.dirty, past)

    def forget_one(self, ticket_id: str) -> None:
        """Drop the remembered row of one ticket (changed beside its own unit of work)."""
        with self._recent_lock:
            self._recent.pop(ticket_id, None)

    def forget(self) -> None:
        """Drop every remembered row (they may not have been committed)."""
        with self._recent_lock:
            self._recent.clear()

    def remember(self, record: TicketRecord, clock_rows: list[ClockRecord]) -> None:
        """Keep the row just written as the guess for this ticket's next change."""
        with self._recent_lock:
            recent = self._recent
            recent[record.id] = (record, clock_rows)
            if len(recent) > RECENT:
                del recent[next(iter(recent))]


def written(store: Store, draft: Draft) -> Ticket:
    """The view a change returns, as its draft wrote it; its history (up to the change) is read
    when first used — or, for a ticket the draft opened, is the draft's own events."""
    record, rows = draft.ticket, list(draft.clocks.values())
    if draft.expected_version is None and draft.events and draft.events[0].seq == 1:
        return ticket_view(record, rows, draft.events, draft.recorded_us, draft.contract)
    history = stored_history(store, record.id, record.last_seq, draft.contract)
    children: list[str] = []
    if record.parent == record.id:  # a parent: its reports (read only then)
        with store.unit() as u:
            children = u.reports(record.id)
    return ticket_view(record, rows, history, draft.recorded_us, draft.contract, children)
