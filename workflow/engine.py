"""The engine: the library API of SPEC §6 and §8, a façade that delegates.

Every method is a few lines that hand the call to the area that does the work: ticket changes
to the one unit of work (unit.py, through writes.py, receive.py, escalation.py), reading to
queries.py, the background work to sweeps.py and the run loop, tokens, duty rosters, contract
versions and reports to their own modules. Every change of a ticket is one transaction; a
refused call changes nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from .access.api import AccessAPI
from .audit import chain as audit
from .audit import sealing
from .contract.compile import load_contract
from .contract.model import Contract
from .contract.versions import Contracts, settle
from .db.store import Store
from .duty.people import People, load
from .followup.api import Due, FollowupAPI
from .inspections.api import InspectionsAPI
from .kb.api import KBAPI, drafting
from .maintenance.api import MaintenanceAPI, Planner
from .network.api import NetworkAPI
from .network.places import Places
from .reports.api import ReportsAPI
from .run.api import RunAPI
from .spares.api import SparesAPI, Stock
from .tickets.api import ChangingAPI, GroupsAPI, LookingAPI, RolloutAPI
from .tickets.unit import Context, UnitOfWork
from .tickets.views import Ticket
from .tickets.writes import Changes
from .timekeeping.times import in_zone, to_us, wall_clock

if TYPE_CHECKING:  # imported where used: `faultflow show` should not pay for them
    from .contract.machine import Lifecycle
    from .duty.people import People
    from .hookspecs import Channel
    from .registry import Registry

Clockwork = Callable[[], datetime]


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
    ChangingAPI,
    LookingAPI,
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
