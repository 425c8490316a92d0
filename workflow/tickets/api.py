"""The Engine's API on tickets, mixed into :class:`~faultflow.Engine`: changing them (intake,
steps, holds, notes, handovers: writes.py, receive.py), looking at them (queries.py), contract
versions — what a new version would change, applying it, the versions kept — and groups of
reports of one outage — links, merges, their undoing (groups.py)."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..contract.compile import load_contract
from ..contract.model import Contract
from ..contract.versions import listed
from ..errors import IntakeError
from ..tickets.rollout import apply, diff
from . import queries
from .parts import At, EngineParts

if TYPE_CHECKING:
    from ..contract.machine import Option
    from ..contract.versions import Diff as ContractDiff
    from ..intake import IntakeRecord
    from .groups import Candidate, Group
    from .views import Event, Intake, Ticket

Payload = bytes | str | Mapping[str, Any]
"""A channel's payload as it arrives: raw bytes or text (a mail, a JSON body), or parsed."""


class RolloutAPI(EngineParts):
    """Part of the Engine's API (see the module's docstring)."""

    def contract_diff(self, new: str | Path | Contract) -> ContractDiff:
        """What ``new`` (a file or a loaded contract) would change against the database's
        current version for each open ticket: due times that move, states it lacks."""
        contract = new if isinstance(new, Contract) else load_contract(new)
        return diff(self.work, contract, self._now_us())

    def apply_contract(
        self, new: str | Path | Contract, migrate_open: bool = False, actor: str | None = None
    ) -> tuple[ContractDiff, builtins.list[str]]:
        """Record ``new`` as the current version (new tickets run under it); ``migrate_open``
        moves each open ticket onto it too (refused, nothing written, if a ticket's state is
        not in it). The diff, and the tickets moved."""
        contract = new if isinstance(new, Contract) else load_contract(new)
        who = self._changes.policy.actor_name(actor or "system")
        return apply(self.work, contract, who, self._now_us(), migrate_open)

    def contract_versions(self) -> builtins.list[dict[str, Any]]:
        """Every version the database keeps, oldest first, with how many tickets run under it."""
        return listed(self.store, self.contract.timezone)


class GroupsAPI(EngineParts):
    """Part of the Engine's API (see the module's docstring)."""

    def link(
        self, ticket_id: str, other: str, as_: str = "related", actor: str | None = None,
        note: str | None = None,
    ) -> Group:  # fmt: skip
        """Say that ``ticket_id`` is ``as_`` (``duplicate``, ``related``, ``caused-by``)
        ``other``: an event on both tickets; nothing else changes. Its group and links after."""
        self._changes.groups.link(ticket_id, other, as_, actor, note)
        return self.group(ticket_id)

    def unlink(self, ticket_id: str, other: str, actor: str | None = None) -> Group:
        """Take back the link between two tickets; ``ticket_id``'s group and links after."""
        self._changes.groups.unlink(ticket_id, other, actor)
        return self.group(ticket_id)

    def merge(
        self, ticket_id: str, into: str, actor: str | None = None, reason: str | None = None
    ) -> Ticket:
        """Merge the report ``ticket_id`` into the open ticket ``into`` (one outage): its clocks
        stop and it closes with ``into``, whose promises run from the group's first report
        (what that makes due fires and pages at once). The parent, as written."""
        _, parent = self._changes.groups.merge(ticket_id, into, actor, reason)
        return self.get(parent.id)

    def unmerge(
        self, ticket_id: str, actor: str | None = None, reason: str | None = None
    ) -> Ticket:
        """Take a merged report out of its group: its own clocks run again from its own intake
        (what fell due meanwhile fires); the parent's run from the first report left. The
        report, as written."""
        report, _ = self._changes.groups.unmerge(ticket_id, actor, reason)
        return self.get(report.id)

    def group(self, ticket_id: str) -> Group:
        """``ticket_id``'s group (its parent, the parent's reports, the first report's time) and
        its links."""
        return self._changes.groups.group(ticket_id)

    def candidates(self, ticket_id: str) -> builtins.list[Candidate]:
        """The open tickets at ``ticket_id``'s place reported within the contract's merge
        window before it: the outage it may belong to, the most specific place first."""
        return self._changes.groups.near(ticket_id)


class LookingAPI(EngineParts):
    """Part of the Engine's API: looking at tickets (queries.py) — one with its clocks and
    history, the list most urgent first, how many, the triggers a state allows."""

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


class ChangingAPI(EngineParts):
    """Part of the Engine's API: changing tickets — intake, steps, holds, notes, handovers —
    each one unit of work (writes.py, receive.py)."""

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
