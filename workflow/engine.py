"""The engine: the library API of SPEC §6 and §8, a façade that delegates.

Every method is a few lines that hand the call to the area that does the work: ticket changes
to the one unit of work (unit.py, through writes.py, receive.py, escalation.py), reading to
queries.py, the background work to sweeps.py and the run loop, tokens, duty rosters, contract
versions and reports to their own modules. Every change of a ticket is one transaction; a
refused call changes nothing.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .access.api import AccessAPI
from .audit import chain as audit
from .audit import sealing
from .contract.compile import load_contract
from .contract.model import Contract
from .contract.versions import Contracts, settle
from .db.store import Store
from .duty.people import People, load
from .errors import IntakeError
from .followup.api import Due, FollowupAPI
from .inspections.api import InspectionsAPI
from .kb.api import KBAPI, drafting
from .maintenance.api import MaintenanceAPI, Planner
from .network.api import NetworkAPI
from .network.places import Places
from .reports.api import ReportsAPI
from .run.api import RunAPI
from .run.escalation import acknowledged, escalated
from .spares.api import SparesAPI, Stock
from .tickets import queries
from .tickets.api import GroupsAPI, RolloutAPI
from .tickets.parts import At
from .tickets.unit import Context, UnitOfWork
from .tickets.views import Event, Ticket
from .tickets.writes import Changes
from .timekeeping.times import in_zone, to_us, wall_clock

if TYPE_CHECKING:  # imported where used: `faultflow show` should not pay for them
    from .contract.machine import Lifecycle, Option
    from .duty.people import People
    from .hookspecs import Channel
    from .intake import IntakeRecord
    from .registry import Registry
    from .tickets.views import Intake

Clockwork = Callable[[], datetime]
Payload = bytes | str | Mapping[str, Any]


class Engine(
    AccessAPI,
    ReportsAPI,
    RunAPI,
    RolloutAPI,
    NetworkAPI,
    KBAPI,
    InspectionsAPI,
    SparesAPI,
    GroupsAPI,
    MaintenanceAPI,
    FollowupAPI,
):
    """A fault-ticket workflow engine over one database and one contract.

    Build it with :meth:`open`. An Engine may be shared between threads (calls are serialised);
    several processes or hosts may open the same database at once. Its API on tokens and signed
    links, reports and the audit chain, the background work and duty rosters, and contract
    versions is written beside each area (``access/api.py``, ``reports/api.py``,
    ``run/api.py``, ``tickets/api.py``, ``network/api.py``) and mixed in here.
    """

    def __init__(
        self, store: Store, contract: Contract, clock: Clockwork | None = None,
        registry: Registry | None = None, sealer: audit.Sealer = audit.PLAIN,
        people: People | None = None,
    ) -> None:  # fmt: skip
        self.store, self.sealer, self.people = store, sealer, people
        self.contracts = Contracts(store, contract)
        self._clock = clock or wall_clock
        if registry is not None:
            self.__dict__["registry"] = registry
        self._stop = threading.Event()
        self.places = Places(store)
        """Where intake finds a fault's unit, site, line and device (the registry)."""
        stock = Stock(self.places, people)  # the spares, inside a ticket's unit of work
        ctx = Context(
            store, self.contracts, self.now, sealer, people, self.places,
            (drafting(self.places), Due()), stock.remedy, stock.reserve, stock.release,
            Planner(),
        )  # fmt: skip
        self.work = UnitOfWork(ctx)
        """The one door every change of a ticket goes through (unit.py)."""
        self._changes = Changes(self.work, _handling_markdown)

    @property
    def contract(self) -> Contract:
        """The contract new tickets run under (the database's current version); a ticket opened
        under another version keeps running under that one (versions.py)."""
        return self.contracts.current

    @classmethod
    def open(
        cls, db: str | Path = "sqlite:///faultflow.db", config: str | Path | Contract | None = None,
        clock: Clockwork | None = None, *, create: bool = True, registry: Registry | None = None,
        lock_timeout: float | None = None, audit_key: str | Sequence[str] | None = None,
        people: str | Path | People | None = None, pinned: bool = True,
    ) -> Engine:  # fmt: skip
        """Open the database ``db`` (a URL, or an SQLite file's path) under ``config`` (a contract
        file, default the packaged seed, or a :class:`Contract`). ``clock`` returns the current
        aware datetime (default: the wall clock). With ``create``, a missing or older schema is
        created or upgraded. ``lock_timeout``: seconds to wait for a lock held elsewhere before
        :class:`DatabaseUnavailable`. ``audit_key``: seal new events with this key (an HMAC),
        or several (the first seals, all verify). ``people``: a people.toml (path or loaded) —
        duty rosters and escalation chains. ``pinned``: refuse a contract that is not the
        database's current version (``False`` to look at what a new one would change)."""
        keys = audit.parse_keys(audit_key) if isinstance(audit_key, str) else audit_key or ()
        sealer = audit.Sealer(tuple(keys)) if keys else audit.PLAIN
        contract = config if isinstance(config, Contract) else load_contract(config)
        roster = None
        if people is not None:
            roster = people if isinstance(people, People) else load(people, contract)
        store = Store.open(db, create=create, lock_timeout=lock_timeout)
        engine = cls(store, contract, clock, registry, sealer, roster)
        try:
            current = settle(store, contract, "faultflow", to_us(engine.now()), pinned)
            if current != contract.version:  # not pinned: run as the database does
                engine.contracts.take(engine.contracts.of(current))
            engine._seal_with(sealing.settle(store, sealer, to_us(engine.now())))
        except BaseException:
            store.close()
            raise
        return engine

    def _seal_with(self, sealer: audit.Sealer) -> None:
        """Seal (or refuse to write, audit/sealing.py) with ``sealer`` from now on."""
        if sealer is not self.sealer:
            self.sealer = sealer
            self.work.ctx = dataclasses.replace(self.work.ctx, sealer=sealer)

    def close(self) -> None:
        """Release the database connections."""
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def lifecycle(self) -> Lifecycle:
        """The current contract's state machine (built on first use, once per version)."""
        return self.contracts.lifecycle(self.contract)

    @cached_property
    def registry(self) -> Registry:
        """The installed channels and notifiers (loaded on first use)."""
        from .registry import discover

        return discover()

    def channel(self, name: str) -> Channel:
        """The channel adapter called ``name``; :class:`IntakeError` lists the installed ones."""
        return self.registry.channel(name)

    def now(self) -> datetime:
        """The engine clock, as an aware datetime in the contract's time zone."""
        return in_zone(self._clock(), self.contract.timezone)

    def _now_us(self) -> int:
        return to_us(self.now())

    # -- changing tickets (writes.py, receive.py: each change through the unit of work) -------

    def intake(
        self, channel: str, payload: Payload, actor: str = "system", at: At = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Ticket:  # fmt: skip
        """Open a ticket from a channel's payload; the actor owns it (P5). An ``external_id``
        already open on the channel opens none: that ticket is returned. For a payload with
        several faults, the first; :meth:`intake_all` says what happened to each."""
        results = self.intake_all(channel, payload, actor, at, overrides)
        if not results:
            raise IntakeError(
                f"the {channel} payload opened no ticket (it only resolves alerts that have none)"
            )
        return results[0].ticket

    def intake_all(
        self, channel: str, payload: Payload, actor: str = "system", at: At = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> builtins.list[Intake]:  # fmt: skip
        """What happened to each fault of a channel's payload, in payload order (SPEC §8): the
        outcome (``opened``, ``duplicate``, ``note``, ``recurrence``) and the ticket; all of it
        is written or none. ``overrides`` (``tier``, ``title``, ...) replace what was read."""
        adapter = self.channel(channel)
        return self._changes.intake_all(channel, adapter, payload, actor, at, overrides)

    def open_ticket(
        self, channel: str, record: IntakeRecord, actor: str = "system", at: At = None
    ) -> Ticket:
        """Open a ticket from a parsed :class:`IntakeRecord` (or answer with the ticket it
        duplicates, as :meth:`intake` does)."""
        return self._changes.open_ticket(channel, record, actor, at).ticket

    def advance(
        self, ticket_id: str, trigger: str, actor: str = "system", at: At = None,
        note: str | None = None, reason: str | None = None, version: int | None = None,
        attach_report: bool = False, spare: str | None = None, model: str | None = None,
        faulty: str | None = None,
    ) -> Ticket:  # fmt: skip
        """Fire ``trigger``; the ticket afterwards (alarms due by ``at`` fire first). ``at``
        (default now): not in the future, not before the last step. ``version``: refuse
        (:class:`ConcurrentUpdate`) unless still at it. ``attach_report``: keep the customer's
        handling report as it stands after this event inside the hash chain. The contract's
        remedy (``substitute``) takes a spare of the faulty device's model from stock once
        spares are kept: ``spare`` names the one, ``model`` the model when the device is not
        known, ``faulty`` the serial of the part taken out when it is not the ticket's device
        (entered as a spare in repair; docs/spares.md)."""
        c = self._changes
        return c.advance(ticket_id, trigger, actor, at, note, reason, version, attach_report,
                         spare, model, faulty)  # fmt: skip

    def reclassify(
        self, ticket_id: str, tier: str | None = None, kind: str | None = None,
        cause: str | None = None, reason: str | None = None, actor: str | None = None,
        at: At = None, version: int | None = None,
    ) -> Ticket:  # fmt: skip
        """Change a ticket's tier, kind or cause (``cause=""`` clears it), with a ``reason``;
        every clock is recomputed from its start."""
        c = self._changes
        return c.reclassify(ticket_id, tier, kind, cause, reason, actor, at, version)

    def hold(
        self, ticket_id: str, reason: str | None = None, actor: str | None = None, at: At = None,
        version: int | None = None,
    ) -> Ticket:  # fmt: skip
        """Pause the ticket's running pausable clocks (their due times move by the pause)."""
        return self._changes.hold(ticket_id, reason, actor, at, version)

    def resume(
        self, ticket_id: str, actor: str | None = None, at: At = None, note: str | None = None,
        version: int | None = None,
    ) -> Ticket:  # fmt: skip
        """Restart the clocks paused by :meth:`hold`."""
        return self._changes.resume(ticket_id, actor, at, note, version)

    def note(
        self, ticket_id: str, text: str, actor: str | None = None, at: At = None,
        version: int | None = None,
    ) -> Ticket:  # fmt: skip
        """Add a note to the ticket's history (any state, final ones too); nothing else moves."""
        return self._changes.note(ticket_id, text, actor, at, version)

    def assign(
        self, ticket_id: str, person: str, reason: str, actor: str | None = None,
        version: int | None = None,
    ) -> Ticket:  # fmt: skip
        """Hand the ticket over to ``person``: the owner changes; the first-ask owner (P5) stays
        in the history."""
        return self._changes.assign(ticket_id, person, reason, actor, version, self.people)

    def ack(self, ticket_id: str, actor: str | None = None, note: str | None = None) -> Ticket:
        """Acknowledge the ticket's escalation: its chain of pages stops."""
        return acknowledged(self.work, self._changes.policy, ticket_id, actor, note)

    def escalate(self, ticket_id: str, reason: str, actor: str | None = None) -> Ticket:
        """Move the escalation up by hand (P5): the next step fires now, with the reason."""
        policy = self._changes.policy
        return escalated(self.work, policy, self._roster(), ticket_id, reason, actor)

    # -- looking (queries.py) ------------------------------------------------------------------

    def get(self, ticket_id: str) -> Ticket:
        """The ticket with its clocks (read now) and its whole history."""
        return queries.ticket(self.store, self.contracts, ticket_id, self._now_us())

    def history(self, ticket_id: str) -> Sequence[Event]:
        """The ticket's events, oldest first."""
        return self.get(ticket_id).history

    def list(
        self, state: str | None = None, tier: str | None = None, breached: bool | None = None,
        owner: str | None = None, limit: int | None = None, final: bool | None = None,
        after: str | None = None, unit: str | None = None,
    ) -> builtins.list[Ticket]:  # fmt: skip
        """Tickets, most urgent first (breached on top, then nearest due), without history.
        ``final=False`` keeps the open ones only (``True`` the closed ones); ``unit`` those
        at a unit of the registry. Only the rows returned are read: ``limit`` with ``after``
        (the id of the last ticket of the page before) pages through any number of tickets."""
        return queries.listing(
            self.store, self.contracts, self._now_us(), state=state, tier=tier,
            breached=breached, owner=owner, limit=limit, final=final, after=after, unit=unit,
        )  # fmt: skip

    def count(
        self, state: str | None = None, tier: str | None = None, breached: bool | None = None,
        owner: str | None = None, final: bool | None = None, unit: str | None = None,
    ) -> int:  # fmt: skip
        """How many tickets :meth:`list` would return without a limit."""
        return queries.counting(
            self.store, self.contracts, self._now_us(), state=state, tier=tier,
            breached=breached, owner=owner, final=final, unit=unit,
        )  # fmt: skip

    def options(self, ticket: Ticket) -> tuple[Option, ...]:
        """The triggers the ticket's state allows, each with why its guard refuses as things
        stand (no reason given yet), or ``None``."""
        return queries.options(self.contracts, ticket)

    def stamp(self) -> int:
        """A number that grows whenever a ticket is opened or changed (a live view reads the
        tickets again only when it moved)."""
        return self.store.stamp()

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        """Group commit: the calls this thread makes inside the block share one transaction,
        committed when it ends (one write of the database's log for a burst of small changes;
        ``serve``'s intake lane batches what is queued this way). Each call is still all or
        nothing on its own: one that raises leaves the others. Nothing is committed before the
        block ends; if the commit fails the block raises and none of it was written."""
        try:
            with self.store.together():
                yield
        except BaseException:
            self.work.forget()  # the rows it remembers from the block were not committed
            raise

    def ready(self) -> None:
        """Raise (:class:`DatabaseUnavailable`, :class:`DatabaseError`) unless the database
        answers and its schema is the one this faultflow needs."""
        self.store.check_revision()

    # -- contract versions -----------------------------------------------------------------

    def contract_of(self, ticket: Ticket) -> Contract:
        """The contract version ``ticket`` runs under (its states, clocks and words)."""
        return self.contracts.of(ticket.contract)


def _handling_markdown(ticket: Ticket, contract: Contract) -> str:
    """The customer's handling report as markdown (imported when a report is attached)."""
    from .reports.handling import markdown

    return markdown(ticket, contract)
