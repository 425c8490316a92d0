"""The Engine's API for contract versions — what a new version would change, applying it, the
versions kept — and for groups of reports of one outage — links, merges, their undoing
(groups.py) — mixed into :class:`~faultflow.Engine`."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..contract.compile import load_contract
from ..contract.model import Contract
from ..contract.versions import listed
from ..tickets.rollout import apply, diff
from .parts import EngineParts

if TYPE_CHECKING:
    from ..contract.versions import Diff as ContractDiff
    from .groups import Candidate, Group
    from .views import Ticket


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
