"""The engine: the library API of SPEC §6, a façade over the write path (writes.py), the read
side (queries.py), the timers (timers.py), delivery (delivery.py) and the run loop.

Every method that changes a ticket is one transaction: the state, the history, the clocks, the
timers and the notifications commit together or not at all. A refused call changes nothing.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import audit, queries, timers
from .contract import Contract, load_contract
from .store import Store
from .times import aware, in_zone, to_us, wall_clock
from .views import Event, Fired, Ticket
from .writes import WritePath

if TYPE_CHECKING:  # imported where used: `faultflow show` should not pay for them
    from .audit import Verification
    from .census import Census
    from .delivery import Attempt
    from .hookspecs import Channel
    from .intake import IntakeRecord
    from .machine import Lifecycle, Option
    from .people import OnDuty, People
    from .registry import Registry
    from .report import Report
    from .signing import Signer
    from .tokens import Token
    from .versions import Diff as ContractDiff
    from .views import Intake

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
        from .versions import Contracts

        self.store = store
        self.contracts = Contracts(store, contract)
        self.sealer = sealer
        self.people = people
        self._clock = clock or wall_clock
        if registry is not None:
            self.__dict__["registry"] = registry
        self._stop = threading.Event()
        self._writes = WritePath(store, self.contracts, self.now, sealer, people)

    @property
    def contract(self) -> Contract:
        """The contract new tickets run under (the database's current version); a ticket opened
        under another version keeps running under that one (versions.py)."""
        return self.contracts.current

    @classmethod
    def open(
        cls,
        db: str | Path = "sqlite:///faultflow.db",
        config: str | Path | Contract | None = None,
        clock: Clockwork | None = None,
        *,
        create: bool = True,
        registry: Registry | None = None,
        lock_timeout: float | None = None,
        audit_key: str | Sequence[str] | None = None,
        people: str | Path | People | None = None,
        pinned: bool = True,
    ) -> Engine:
        """Open the database ``db`` (a URL, or an SQLite file's path) under ``config`` (a contract
        file, default the packaged seed, or a :class:`Contract`). ``clock`` returns the current
        aware datetime (default: the wall clock, pendulum's when loaded). With ``create``, a
        missing or older schema is created or upgraded. ``lock_timeout``: seconds to wait for
        a lock held elsewhere before :class:`DatabaseUnavailable` (see :meth:`Store.open`).
        ``audit_key``: seal new events with this key (an HMAC, docs/reports.md), or several
        (the first seals, all verify); every process writing to the database needs it.
        ``people``: a people.toml (path or loaded) — duty rosters and escalation chains; without
        it, escalations name the contract's roles only. ``pinned``: refuse a contract that is
        not the database's current version (:class:`~faultflow.versions.ContractChanged`);
        ``False`` for looking at what a new version would change (``contract diff``)."""
        keys = audit.parse_keys(audit_key) if isinstance(audit_key, str) else audit_key or ()
        sealer = audit.Sealer(tuple(keys)) if keys else audit.PLAIN
        contract = config if isinstance(config, Contract) else load_contract(config)
        roster = None
        if people is not None:
            from .people import People, load

            roster = people if isinstance(people, People) else load(people, contract)
        store = Store.open(db, create=create, lock_timeout=lock_timeout)
        engine = cls(store, contract, clock, registry, sealer, roster)
        try:
            from .versions import settle

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

    # -- changing tickets (writes.py) ----------------------------------------------------------

    def intake(
        self,
        channel: str,
        payload: Payload,
        actor: str = "system",
        at: At = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Ticket:
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
        self,
        channel: str,
        payload: Payload,
        actor: str = "system",
        at: At = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> builtins.list[Intake]:
        """What happened to each fault of a channel's payload, in payload order (SPEC §8): the
        outcome (``opened``, ``duplicate``, ``note``, ``recurrence``) and the ticket. The
        payload is one unit: all of it is written, or (on a refusal naming the item) none.
        ``overrides`` (``tier``, ``title``, ...) replace what the adapter read."""
        adapter = self.channel(channel)
        return self._writes.intake_all(channel, adapter, payload, actor, at, overrides)

    def open_ticket(
        self, channel: str, record: IntakeRecord, actor: str = "system", at: At = None
    ) -> Ticket:
        """Open a ticket from an already parsed :class:`IntakeRecord` (or answer with the
        ticket it duplicates, as :meth:`intake` does)."""
        return self._writes.open_ticket(channel, record, actor, at).ticket

    def advance(
        self,
        ticket_id: str,
        trigger: str,
        actor: str = "system",
        at: At = None,
        note: str | None = None,
        reason: str | None = None,
        version: int | None = None,
        attach_report: bool = False,
    ) -> Ticket:
        """Fire ``trigger`` and return the ticket as it is afterwards (alarms due by ``at`` fire
        first). ``at`` (default now): not in the future, not before the last event. ``version``:
        refuse (:class:`ConcurrentUpdate`) unless still at it. ``attach_report``: store the
        customer's handling report as it stands after this event, inside the hash chain."""
        w = self._writes
        return w.advance(ticket_id, trigger, actor, at, note, reason, version, attach_report)

    def reclassify(
        self,
        ticket_id: str,
        tier: str | None = None,
        kind: str | None = None,
        cause: str | None = None,
        reason: str | None = None,
        actor: str | None = None,
        at: At = None,
        version: int | None = None,
    ) -> Ticket:
        """Change a ticket's tier, kind or cause (``cause=""`` clears it), with a ``reason``;
        every clock is recomputed from its start. ``version``: as in :meth:`advance`."""
        w = self._writes
        return w.reclassify(ticket_id, tier, kind, cause, reason, actor, at, version)

    def hold(
        self, ticket_id: str, reason: str | None = None, actor: str | None = None, at: At = None,
        version: int | None = None,
    ) -> Ticket:  # fmt: skip
        """Pause the ticket's running pausable clocks (their due times move by the pause)."""
        return self._writes.hold(ticket_id, reason, actor, at, version)

    def resume(
        self, ticket_id: str, actor: str | None = None, at: At = None, note: str | None = None,
        version: int | None = None,
    ) -> Ticket:  # fmt: skip
        """Restart the clocks paused by :meth:`hold`."""
        return self._writes.resume(ticket_id, actor, at, note, version)

    def note(
        self, ticket_id: str, text: str, actor: str | None = None, at: At = None,
        version: int | None = None,
    ) -> Ticket:  # fmt: skip
        """Add a note to the ticket's history (any state, final ones too); nothing else moves."""
        return self._writes.note(ticket_id, text, actor, at, version)

    def census(self) -> Census:
        """Counts for monitoring: open tickets by state and tier, alarms fired by clock, pending
        notifications and failed delivery attempts, the next alarm due (``census.py``)."""
        from .census import take

        return take(self.store, self.contract)

    def ready(self) -> None:
        """Raise (:class:`DatabaseUnavailable`, :class:`DatabaseError`) unless the database
        answers and its schema is the one this faultflow needs."""
        self.store.check_revision()

    # -- contract versions (versions.py) -------------------------------------------------------

    def contract_diff(self, new: str | Path | Contract) -> ContractDiff:
        """What ``new`` (a contract file or a loaded contract) would change against the
        database's current version, for each open ticket: due times that move, and whether its
        state exists in it. Writes nothing."""
        from .draft import Draft
        from .versions import diff

        contract = new if isinstance(new, Contract) else load_contract(new)
        return diff(self.store, self.contracts, contract, to_us(self.now()), Draft)

    def apply_contract(
        self, new: str | Path | Contract, migrate_open: bool = False, actor: str | None = None
    ) -> tuple[ContractDiff, builtins.list[str]]:
        """Record ``new`` as the current version: new tickets run under it; open tickets keep
        theirs unless ``migrate_open``, which moves each onto it (its clocks rebuilt, a
        ``contract`` event in its history) — refused, nothing written, if a ticket's state is
        not in it. The diff, and the tickets moved."""
        from .draft import Draft
        from .versions import apply

        contract = new if isinstance(new, Contract) else load_contract(new)
        who = self._writes.actor_name(actor or "system")
        now_us = to_us(self.now())
        return apply(
            self.store, self.contracts, contract, who, now_us, migrate_open, Draft, self.sealer
        )

    def contract_of(self, ticket: Ticket) -> Contract:
        """The contract version ``ticket`` runs under (its states, clocks and words)."""
        return self.contracts.of(ticket.contract)

    def contract_versions(self) -> builtins.list[dict[str, Any]]:
        """Every version the database keeps, oldest first: version, name, source, recorded, by
        whom, whether current, how many tickets run under it."""
        from .times import from_us

        current = self.store.current_contract()
        counts = self.store.tickets_by_contract()
        return [
            {
                "version": r.version, "name": r.name, "source": r.source,
                "recorded_at": from_us(r.recorded_us, self.contract.timezone).isoformat(),
                "actor": r.actor, "current": r.version == current,
                "tickets": counts.get(r.version, 0),
            }
            for r in self.store.contract_records()
        ]  # fmt: skip

    # -- the web portal and the duty board (signing.py, machine.py) ----------------------------

    @cached_property
    def signer(self) -> Signer:
        """Signs the web's tracking links, sessions and form tokens under a key of the database
        (the same in every process on it, and across restarts)."""
        from .signing import Signer

        return Signer(self.store.site_key("web"))

    def tracking_code(self, ticket_id: str) -> str:
        """The reporter's private code for one ticket (the portal's link ``/t/CODE``): the id
        with 128 bits of signature, so that no other ticket can be reached from it."""
        return self.signer.sign("track", ticket_id)

    def tracked(self, code: str) -> Ticket:
        """The ticket a tracking code opens; :class:`UnknownTicket` for any code not ours."""
        from .errors import UnknownTicket

        ticket_id = self.signer.unsign("track", code)
        if ticket_id is None:
            raise UnknownTicket("no ticket has this tracking link (check it was copied whole)")
        return self.get(ticket_id)

    def options(self, ticket: Ticket) -> tuple[Option, ...]:
        """The triggers the ticket's state allows, each with why its guard refuses as things
        stand (the clocks as the view read them, no reason yet), or ``None``."""
        from .contract import Classification
        from .machine import GuardFacts

        clocks = ticket.clocks
        contract = self.contract_of(ticket)
        facts = GuardFacts(
            Classification(ticket.tier, ticket.kind, ticket.channel, ticket.cause),
            None,
            lambda: frozenset(n for n, c in clocks.items() if c.breached),
            lambda: {n: c.due_at for n, c in clocks.items() if c.due_at is not None},
        )
        return self.contracts.lifecycle(contract).options(ticket.state, facts)

    def stamp(self) -> int:
        """A number that grows whenever a ticket is opened or changed (an alarm included): a
        live view reads the tickets again only when it moved (one aggregate over the tickets)."""
        return self.store.stamp()

    # -- API tokens (tokens.py) ----------------------------------------------------------------

    def create_token(
        self, name: str, scopes: Sequence[str], actor: str | None = None
    ) -> tuple[Token, str]:
        """Make an API token for ``faultflow serve``: the token and its secret, which is shown
        this once and never stored. ``actor``: whom the history names for what it does
        (default: the token's name)."""
        from . import tokens
        from .records import TokenRecord

        name = tokens.checked_name(name)
        given = tokens.checked_scopes(list(scopes), set(self.registry.channels))
        who = self._writes.actor_name(actor or name)
        secret = tokens.new_secret()
        record = TokenRecord(
            name, tokens.digest(secret), " ".join(given), who, to_us(self.now()), None
        )
        self.store.add_token(record)
        return self._token(record), secret

    def tokens(self) -> builtins.list[Token]:
        """Every token, revoked ones too (never their secrets)."""
        return [self._token(r) for r in self.store.tokens_all()]

    def revoke_token(self, name: str) -> Token:
        """Revoke a token for good (it stays listed, revoked)."""
        from .errors import InvalidInput

        if not self.store.revoke_token(name, to_us(self.now())):
            known = self.store.token(name)
            if known is None:
                raise InvalidInput(f"no token named {name!r} (see `faultflow token list`)")
            raise InvalidInput(f"token {name!r} is already revoked")
        record = self.store.token(name)
        assert record is not None
        return self._token(record)

    def authenticate(self, secret: str | None = None, *, digest: str | None = None) -> Token | None:
        """The active token whose secret this is (or whose secret has this SHA-256 ``digest``:
        a board session keeps the digest, never the secret), or ``None``."""
        from . import tokens

        wanted = tokens.digest(secret) if secret is not None else digest or ""
        record = self.store.token_by_digest(wanted)
        if record is None or not tokens.same(record.digest, wanted) or record.revoked_us:
            return None
        return self._token(record)

    def _token(self, r: Any) -> Token:
        from .times import from_us
        from .tokens import Token

        zone = self.contract.timezone
        revoked = from_us(r.revoked_us, zone) if r.revoked_us is not None else None
        return Token(r.name, tuple(r.scopes.split()), r.actor, from_us(r.created_us, zone), revoked)

    # -- looking (store.py, views.py) ----------------------------------------------------------

    def get(self, ticket_id: str) -> Ticket:
        """The ticket with its clocks (read now) and its whole history."""
        return queries.ticket(self.store, self.contracts, ticket_id, to_us(self.now()))

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
        ``final=False`` keeps the open ones only (``True`` the closed ones)."""
        return queries.listing(
            self.store, self.contracts, to_us(self.now()), state=state, tier=tier,
            breached=breached, owner=owner, limit=limit, final=final,
        )  # fmt: skip

    def send_handling_report(self, ticket_id: str, actor: str | None = None) -> Ticket:
        """Mail the customer's handling report (P11, HTML with a text part) to the reporter,
        through the contract's ``email`` notifier, now; the Message-ID goes into the history."""
        from email.utils import make_msgid

        from .errors import ConfigError, DeliveryFailed, FaultflowError, InvalidInput

        target = next((n for n in self.contract.notifiers.values() if n.use == "email"), None)
        mailer = self.registry.notifiers.get("email")
        if target is None or mailer is None:
            raise ConfigError(
                'no email notifier in the contract ([notifiers.NAME] use = "email", docs/mail.md)'
            )
        t = self.get(ticket_id)
        if not t.contact or "@" not in t.contact:
            raise InvalidInput(f"ticket {t.id} has no e-mail address to send its report to")
        message_id = make_msgid(f"ff-{t.id}")
        try:
            mailer.notify(
                {
                "event": "handling_report", "ticket": t.id, "title": t.title,
                "contact": t.contact, "reporter": t.reporter, "channel": t.channel,
                "external_id": t.external_id, "message_id": message_id,
                "report_text": self.handling_report(t.id, "md"),
                "report_html": self.handling_report(t.id, "html"),
                },
                target.config,
            )  # fmt: skip
        except FaultflowError:
            raise
        except Exception as err:  # the mail server away, a timeout: said in one line
            raise DeliveryFailed(
                f"the handling report of {t.id} was not sent ({type(err).__name__}: "
                f"{' '.join(str(err).split())[:200]}); nothing was recorded: send it again"
            ) from None
        return self._writes.sent(t.id, t.contact, message_id, actor)

    # -- reports and the audit chain -----------------------------------------------------------

    def report(self, start: At = None, end: At = None) -> Report:
        """SLA compliance of the clocks that started in [start, end); default: the 30 days
        before now. Times without an offset are in the contract's time zone."""
        from .report import for_period

        return for_period(self.store, self.contract, self.now(), start, end)

    def handling_report(self, ticket_id: str, fmt: str = "md") -> str:
        """The customer's handling report of one ticket (P11), as ``md`` or ``html``."""
        from .handling import render

        ticket = self.get(ticket_id)
        return render(ticket, self.contract_of(ticket), fmt)  # in the words of its version

    def verify(
        self,
        against: Mapping[str, tuple[int, str]] | audit.SavedHead | None = None,
        workers: int = 1,
    ) -> Verification:
        """Recompute every ticket's hash chain (with the audit key, when the engine has one),
        and replay its history against its stored row and clocks; name the first broken link
        or difference of each. ``against``: a head saved earlier (:meth:`head` with
        ``tickets=True``, read by :meth:`audit.SavedHead.load`) the history must still hold.
        ``workers``: processes to check a big database with (ranges of ticket ids at once)."""
        from .verify import run

        return run(self.store, self.contract, self.sealer, against, workers)

    def head(self, tickets: bool = False) -> dict[str, Any]:
        """The chain head: one digest over every ticket's last (seq, hash), to keep as proof;
        with ``tickets``, also every ticket's (seq, hash), for ``verify --against``."""
        return audit.head(self.store.heads(), self.now().isoformat(), tickets)

    # -- timers and delivery (timers.py, delivery.py, scheduler.py) ----------------------------

    def tick(self, now: At = None, batch: int = 500, deliver: bool = True) -> builtins.list[Fired]:
        """Fire every warning and breach due at ``now`` (default: the engine clock), once; with
        ``deliver``, then deliver the notifications due. Safe in several processes at once."""
        self.contracts.refresh()  # a scheduler outlives a `contract apply`
        moment = aware(now, self.now(), self.contract.timezone)
        recorded_us, remember = to_us(self.now()), self._writes.remember
        fired = timers.sweep(
            self.store, self.contracts, to_us(moment), recorded_us, remember, batch, self.sealer,
            self.people,
        )  # fmt: skip
        if self.people is not None:
            from . import escalation

            escalation.sweep(self.store, self.contracts, self._roster(), to_us(moment), self.sealer)
        if deliver:
            self.deliver(moment)
        return fired

    def deliver(self, now: At = None, budget_s: float = 20.0) -> builtins.list[Attempt]:
        """Deliver the notifications due now (run by :meth:`tick`, and beside the sweeps by
        :meth:`run`), for at most about ``budget_s`` s; every attempt made. Failures are
        recorded, logged and retried with backoff."""
        if not self.contract.notifiers:
            return []
        from .delivery import deliver

        now_us = to_us(aware(now, self.now(), self.contract.timezone))
        attempts = deliver(self.store, self.contract, self.registry.notifiers, now_us, budget_s)
        if self.people is not None:  # whether each page reached its people, in the history
            for a in attempts:
                if a.kind == "escalation" and a.final:
                    self._writes.delivered(a)
        return attempts

    def next_due(self) -> datetime | None:
        """When the next warning, breach or escalation step falls due, or ``None``."""
        due = timers.next_due(self.store, self.contract)
        if self.people is None:
            return due
        from .times import from_us

        step = self.store.next_escalation()
        if step is None:
            return due
        at = from_us(step, self.contract.timezone)
        return at if due is None or at < due else due

    # -- people: duty, overrides, acknowledgement (people.py, escalation.py) ----------------------

    def _people(self) -> People:
        from .duty import required

        return required(self.people)

    def _roster(self) -> People:
        """The people file with the overrides recorded in the database in force."""
        from .duty import roster

        return roster(self.store, self._people())

    def oncall(self, role: str | None = None, at: At = None) -> dict[str, builtins.list[OnDuty]]:
        """Who holds each role (or ``role``) at ``at`` (default now), and until when."""
        roster = self._roster()
        moment = aware(at, self.now(), self.contract.timezone)
        names = [role] if role is not None else list(roster.roles)
        return {name: roster.on_duty(name, moment) for name in names}

    def override(
        self, role: str, person: str, start: At, end: At, reason: str, actor: str | None = None
    ) -> int:
        """Put ``person`` in ``role`` from ``start`` to ``end`` (a swap, sick leave); its id.
        Refused if it overlaps another override of the role."""
        from .duty import add_override

        now, zone = self.now(), self.contract.timezone
        start_us, end_us = to_us(aware(start, now, zone)), to_us(aware(end, now, zone))
        said = self._writes.checked("reason", reason)
        who = self._writes.actor_name(actor or "system")
        return add_override(
            self.store, self._people(), role, person, start_us, end_us, said, who, to_us(now)
        )

    def overrides(self, removed: bool = False) -> builtins.list[dict[str, Any]]:
        """The overrides recorded (``removed``: those removed too), as JSON-ready dicts."""
        from .duty import listed

        return listed(self.store, self.contract.timezone, removed)

    def remove_override(self, override_id: int) -> None:
        """Remove an override (kept in the database, marked removed)."""
        from .duty import remove

        remove(self.store, override_id, to_us(self.now()))

    def ack(self, ticket_id: str, actor: str | None = None, note: str | None = None) -> Ticket:
        """Acknowledge the ticket's escalation: its chain of pages stops (who and when are in
        the history)."""
        from . import escalation
        from .ids import normalize_ticket_id

        tid = normalize_ticket_id(ticket_id)
        who = self._writes.actor_name(actor or "system")
        said = self._writes.checked("note", note)
        escalation.ack(self.store, self.contracts, tid, who, to_us(self.now()), self.sealer, said)
        return self.get(tid)

    def escalate(self, ticket_id: str, reason: str, actor: str | None = None) -> Ticket:
        """Move the escalation up by hand (P5): the next step fires now, with the reason."""
        from . import escalation
        from .errors import InvalidInput
        from .ids import normalize_ticket_id

        tid = normalize_ticket_id(ticket_id)
        said = self._writes.checked("reason", reason)
        if not said:
            raise InvalidInput("an escalation by hand needs a reason (--reason)")
        who = self._writes.actor_name(actor or "system")
        now_us = to_us(self.now())
        escalation.escalate(
            self.store, self.contracts, self._roster(), tid, who, said, now_us, self.sealer
        )
        return self.get(tid)

    def assign(
        self, ticket_id: str, person: str, reason: str, actor: str | None = None,
        version: int | None = None,
    ) -> Ticket:  # fmt: skip
        """Hand the ticket over to ``person``: the current owner changes; the first-ask owner
        (who took it in, P5) stays in the history."""
        if self.people is not None and person not in self.people.people:
            from .errors import InvalidInput

            raise InvalidInput(
                f"unknown person {person!r} (known: {', '.join(self.people.people)})"
            )
        return self._writes.assign(ticket_id, person, reason, actor, version)

    def maintain(self, integrity: bool = False) -> None:
        """Housekeeping for long runs (``run``: hourly): fold the SQLite WAL back into the file;
        with ``integrity``, check the file first (:class:`DatabaseDamaged` if it is damaged)."""
        self.store.maintain(integrity)

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
        Sleeps until the next due time, at most ``max_sleep`` s; errors are retried."""
        from . import scheduler

        scheduler.run(self, self._stop, max_sleep, on_fired, handle_signals)
