"""The engine: the library API of SPEC §6 and §8, a façade that delegates.

Every method is a few lines that hand the call to the area that does the work: ticket changes
to the one unit of work (unit.py, through writes.py, receive.py, escalation.py), reading to
queries.py, the background work to sweeps.py and the run loop, tokens, duty rosters, contract
versions and reports to their own modules. Every change of a ticket is one transaction; a
refused call changes nothing.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .audit import chain as audit
from .contract.model import Contract, load_contract
from .contract.versions import Contracts
from .db.store import Store
from .run import sweeps
from .tickets import queries
from .tickets.unit import Context, UnitOfWork
from .tickets.views import Event, Fired, Ticket
from .tickets.writes import Changes
from .timekeeping.times import aware, in_zone, to_us, wall_clock

if TYPE_CHECKING:  # imported where used: `faultflow show` should not pay for them
    from .access.signing import Signer
    from .access.tokens import Token
    from .audit.chain import Verification
    from .contract.machine import Lifecycle, Option
    from .contract.versions import Diff as ContractDiff
    from .duty.people import OnDuty, People
    from .hookspecs import Channel
    from .intake import IntakeRecord
    from .registry import Registry
    from .reports.census import Census
    from .reports.compliance import Report
    from .run.delivery import Attempt
    from .tickets.views import Intake

Clockwork = Callable[[], datetime]
At = datetime | str | None  # a moment: aware or naive datetime, ISO text, "HH:MM", "-15m"
Payload = bytes | str | Mapping[str, Any]


class Engine:
    """A fault-ticket workflow engine over one database and one contract.

    Build it with :meth:`open`. An Engine may be shared between threads (calls are serialised);
    several processes or hosts may open the same database at once.
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
        self.work = UnitOfWork(Context(store, self.contracts, self.now, sealer, people))
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
            from .duty.people import People, load

            roster = people if isinstance(people, People) else load(people, contract)
        store = Store.open(db, create=create, lock_timeout=lock_timeout)
        engine = cls(store, contract, clock, registry, sealer, roster)
        try:
            from .contract.versions import settle

            current = settle(store, contract, "faultflow", to_us(engine.now()), pinned)
            if current != contract.version:  # not pinned: run as the database does
                engine.contracts.take(engine.contracts.of(current))
        except BaseException:
            store.close()
            raise
        return engine

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
            from .errors import IntakeError

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
        attach_report: bool = False,
    ) -> Ticket:  # fmt: skip
        """Fire ``trigger``; the ticket afterwards (alarms due by ``at`` fire first). ``at``
        (default now): not in the future, not before the last step. ``version``: refuse
        (:class:`ConcurrentUpdate`) unless still at it. ``attach_report``: keep the customer's
        handling report as it stands after this event inside the hash chain."""
        c = self._changes
        return c.advance(ticket_id, trigger, actor, at, note, reason, version, attach_report)

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
        from .run.escalation import acknowledged

        return acknowledged(self.work, self._changes.policy, ticket_id, actor, note)

    def escalate(self, ticket_id: str, reason: str, actor: str | None = None) -> Ticket:
        """Move the escalation up by hand (P5): the next step fires now, with the reason."""
        from .run.escalation import escalated

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
    ) -> builtins.list[Ticket]:  # fmt: skip
        """Tickets, most urgent first (breached on top, then nearest due), without history.
        ``final=False`` keeps the open ones only (``True`` the closed ones)."""
        return queries.listing(
            self.store, self.contracts, self._now_us(), state=state, tier=tier,
            breached=breached, owner=owner, limit=limit, final=final,
        )  # fmt: skip

    def options(self, ticket: Ticket) -> tuple[Option, ...]:
        """The triggers the ticket's state allows, each with why its guard refuses as things
        stand (no reason given yet), or ``None``."""
        return queries.options(self.contracts, ticket)

    def stamp(self) -> int:
        """A number that grows whenever a ticket is opened or changed (a live view reads the
        tickets again only when it moved)."""
        return self.store.stamp()

    def census(self) -> Census:
        """Counts for monitoring: open tickets by state and tier, alarms fired by clock, pending
        notifications and failed delivery attempts, the next alarm due (census.py)."""
        from .reports.census import take

        return take(self.store, self.contract)

    def ready(self) -> None:
        """Raise (:class:`DatabaseUnavailable`, :class:`DatabaseError`) unless the database
        answers and its schema is the one this faultflow needs."""
        self.store.check_revision()

    # -- contract versions (versions.py, rollout.py) -------------------------------------------

    def contract_diff(self, new: str | Path | Contract) -> ContractDiff:
        """What ``new`` (a file or a loaded contract) would change against the database's
        current version for each open ticket: due times that move, states it lacks."""
        from .tickets.rollout import diff

        contract = new if isinstance(new, Contract) else load_contract(new)
        return diff(self.work, contract, self._now_us())

    def apply_contract(
        self, new: str | Path | Contract, migrate_open: bool = False, actor: str | None = None
    ) -> tuple[ContractDiff, builtins.list[str]]:
        """Record ``new`` as the current version (new tickets run under it); ``migrate_open``
        moves each open ticket onto it too (refused, nothing written, if a ticket's state is
        not in it). The diff, and the tickets moved."""
        from .tickets.rollout import apply

        contract = new if isinstance(new, Contract) else load_contract(new)
        who = self._changes.policy.actor_name(actor or "system")
        return apply(self.work, contract, who, self._now_us(), migrate_open)

    def contract_of(self, ticket: Ticket) -> Contract:
        """The contract version ``ticket`` runs under (its states, clocks and words)."""
        return self.contracts.of(ticket.contract)

    def contract_versions(self) -> builtins.list[dict[str, Any]]:
        """Every version the database keeps, oldest first, with how many tickets run under it."""
        from .contract.versions import listed

        return listed(self.store, self.contract.timezone)

    # -- the web portal and the duty board (signing.py) ----------------------------------------

    @cached_property
    def signer(self) -> Signer:
        """Signs the web's tracking links, sessions and form tokens under a key of the database
        (the same in every process on it, and across restarts)."""
        from .access.signing import Signer

        return Signer(self.store.site_key("web"))

    def tracking_code(self, ticket_id: str) -> str:
        """The reporter's private code for one ticket (the portal's ``/t/CODE``): the id with
        128 bits of signature, so that no other ticket can be reached from it."""
        return self.signer.sign("track", ticket_id)

    def tracked(self, code: str) -> Ticket:
        """The ticket a tracking code opens; :class:`UnknownTicket` for any code not ours."""
        from .access.signing import track

        return self.get(track(self.signer, code))

    # -- API tokens (tokens.py) ----------------------------------------------------------------

    def create_token(
        self, name: str, scopes: Sequence[str], actor: str | None = None
    ) -> tuple[Token, str]:
        """Make an API token for ``faultflow serve``: the token, and its secret (shown this once,
        never stored). ``actor``: whom the history names for what it does (default: its name)."""
        from .access import tokens

        who = self._changes.policy.actor_name(actor or name)
        channels = set(self.registry.channels)
        zone = self.contract.timezone
        return tokens.create(self.store, name, list(scopes), channels, who, self._now_us(), zone)

    def tokens(self) -> builtins.list[Token]:
        """Every token, revoked ones too (never their secrets)."""
        from .access import tokens

        return tokens.listed(self.store, self.contract.timezone)

    def revoke_token(self, name: str) -> Token:
        """Revoke a token for good (it stays listed, revoked)."""
        from .access import tokens

        return tokens.revoke(self.store, name, self._now_us(), self.contract.timezone)

    def authenticate(self, secret: str | None = None, *, digest: str | None = None) -> Token | None:
        """The active token whose secret this is (or whose secret has this SHA-256 ``digest``:
        a board session keeps the digest, never the secret), or ``None``."""
        from .access import tokens

        wanted = tokens.digest(secret) if secret is not None else digest or ""
        return tokens.authenticate(self.store, wanted, self.contract.timezone)

    # -- reports and the audit chain (report.py, handling.py, verify.py) -----------------------

    def report(self, start: At = None, end: At = None) -> Report:
        """SLA compliance of the clocks that started in [start, end); default: the 30 days
        before now. Times without an offset are in the contract's time zone."""
        from .reports.compliance import for_period

        return for_period(self.store, self.contract, self.now(), start, end)

    def handling_report(self, ticket_id: str, fmt: str = "md") -> str:
        """The customer's handling report of one ticket (P11), as ``md`` or ``html``."""
        from .reports.handling import render

        ticket = self.get(ticket_id)
        return render(ticket, self.contract_of(ticket), fmt)  # in the words of its version

    def send_handling_report(self, ticket_id: str, actor: str | None = None) -> Ticket:
        """Mail the handling report (P11) to the reporter through the contract's ``email``
        notifier, now; the Message-ID goes into the history."""
        from .reports.handling import send

        t = self.get(ticket_id)
        notifiers = self.registry.notifiers

        def sent(to: str, message_id: str) -> Ticket:
            return self._changes.sent(t.id, to, message_id, actor)

        return send(t, self.contract_of(t), self.contract, notifiers, sent)

    def verify(
        self, against: Mapping[str, tuple[int, str]] | audit.SavedHead | None = None,
        workers: int = 1,
    ) -> Verification:  # fmt: skip
        """Recompute every ticket's hash chain and replay its history against its stored row
        and clocks; name the first broken link of each. ``against``: a head saved earlier the
        history must still hold. ``workers``: processes to check a big database with."""
        from .audit.verify import run

        return run(self.store, self.contract, self.sealer, against, workers)

    def head(self, tickets: bool = False) -> dict[str, Any]:
        """The chain head: one digest over every ticket's last (seq, hash), to keep as proof;
        with ``tickets``, also every ticket's (seq, hash), for ``verify --against``."""
        return audit.head(self.store.heads(), self.now().isoformat(), tickets)

    # -- timers, escalation and delivery (sweeps.py, scheduler.py) -----------------------------

    def tick(self, now: At = None, batch: int = 500, deliver: bool = True) -> builtins.list[Fired]:
        """Fire every warning and breach due at ``now`` (default: the engine clock) once, then
        the escalation steps due; with ``deliver``, then deliver the notifications due."""
        moment = aware(now, self.now(), self.contract.timezone)
        roster = self._roster if self.people is not None else None
        fired = sweeps.fire(self.work, roster, to_us(moment), batch)
        if deliver:
            self.deliver(moment)
        return fired

    def deliver(self, now: At = None, budget_s: float = 20.0) -> builtins.list[Attempt]:
        """Deliver the notifications due now for at most about ``budget_s`` s; every attempt.
        Failures are recorded, logged and retried with backoff."""
        now_us = to_us(aware(now, self.now(), self.contract.timezone))
        told = (lambda a: sweeps.record_delivery(self.work, a)) if self.people else None
        return sweeps.deliver(self.work, self.registry.notifiers, now_us, budget_s, told)

    def next_due(self) -> datetime | None:
        """When the next warning, breach or escalation step falls due, or ``None``."""
        return sweeps.next_due(self.work, self.people is not None)

    def maintain(self, integrity: bool = False) -> None:
        """Housekeeping for long runs (hourly in ``run``): fold the SQLite WAL back into the
        file; with ``integrity``, check the file first (:class:`DatabaseDamaged` if damaged)."""
        self.store.maintain(integrity)

    def stop(self) -> None:
        """Ask a running :meth:`run` loop to return."""
        self._stop.set()

    def run(
        self, max_sleep: float = 1.0,
        on_fired: Callable[[builtins.list[Fired]], None] | None = None, handle_signals: bool = True,
    ) -> None:  # fmt: skip
        """Keep firing due alarms until :meth:`stop`, SIGINT or SIGTERM (scheduler.py). Sleeps
        until the next due time, at most ``max_sleep`` s; errors are retried."""
        from .run import scheduler

        scheduler.run(self, self._stop, max_sleep, on_fired, handle_signals)

    # -- people: duty rosters and overrides (duty.py) ------------------------------------------

    def _roster(self) -> People:
        """The people file with the overrides recorded in the database in force."""
        from .duty.overrides import required, roster

        return roster(self.store, required(self.people))

    def oncall(self, role: str | None = None, at: At = None) -> dict[str, builtins.list[OnDuty]]:
        """Who holds each role (or ``role``) at ``at`` (default now), and until when."""
        from .duty.overrides import on_duty

        moment = aware(at, self.now(), self.contract.timezone)
        return on_duty(self.store, self.people, role, moment)

    def override(
        self, role: str, person: str, start: At, end: At, reason: str, actor: str | None = None
    ) -> int:
        """Put ``person`` in ``role`` from ``start`` to ``end`` (a swap, sick leave); its id.
        Refused if it overlaps another override of the role."""
        from .duty.overrides import add_override, required

        now, zone, policy = self.now(), self.contract.timezone, self._changes.policy
        span = to_us(aware(start, now, zone)), to_us(aware(end, now, zone))
        said, who = policy.checked("reason", reason), policy.actor_name(actor or "system")
        return add_override(self.store, required(self.people), role, person, *span, said, who,
                            to_us(now))  # fmt: skip

    def overrides(self, removed: bool = False) -> builtins.list[dict[str, Any]]:
        """The overrides recorded (``removed``: those removed too), as JSON-ready dicts."""
        from .duty.overrides import listed

        return listed(self.store, self.contract.timezone, removed)

    def remove_override(self, override_id: int) -> None:
        """Remove an override (kept in the database, marked removed)."""
        from .duty.overrides import remove

        remove(self.store, override_id, self._now_us())



def _handling_markdown(ticket: Ticket, contract: Contract) -> str:
    """The customer's handling report as markdown (imported when a report is attached)."""
    from .reports.handling import markdown

    return markdown(ticket, contract)
