"""The Engine's API for contract versions (mixed into :class:`~faultflow.Engine`): what a new
version would change, applying it, the versions kept."""

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
