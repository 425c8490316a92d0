"""What a part of the Engine's API may use of the Engine it is mixed into.

The Engine's API on tokens and signed links, reports and the audit chain, the background work
and rosters, and contract versions is written beside each area (``access/api.py``,
``reports/api.py``, ``run/api.py``, ``tickets/api.py``) as classes that :class:`~faultflow.Engine`
mixes in. Each part subclasses :class:`EngineParts`, which declares (for the type checker only)
what the Engine provides them.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

At = datetime | str | None
"""A moment: aware or naive datetime, ISO text, "HH:MM", "-15m"."""

if TYPE_CHECKING:
    from ..audit.chain import Sealer
    from ..contract.model import Contract
    from ..contract.versions import Contracts
    from ..db.store import Store
    from ..duty.people import People
    from ..registry import Registry
    from .unit import Locator, UnitOfWork
    from .views import Ticket
    from .writes import Changes


class EngineParts:
    """The base of every part of the Engine's API."""

    if TYPE_CHECKING:  # what the Engine that mixes the parts in provides
        store: Store
        contracts: Contracts
        sealer: Sealer
        people: People | None
        work: UnitOfWork
        places: Locator
        _changes: Changes
        _stop: threading.Event

        @property
        def contract(self) -> Contract: ...
        @property
        def registry(self) -> Registry: ...
        def now(self) -> datetime: ...
        def _now_us(self) -> int: ...
        def get(self, ticket_id: str) -> Ticket: ...
        def contract_of(self, ticket: Ticket) -> Contract: ...
        def keep_rounds(self, now: At = None) -> Any: ...
        def shifts(self, start: At = None, end: At = None, role: str | None = None) -> Any: ...
        def oncall(self, role: str | None = None, at: At = None) -> Any: ...
        def next_round_due(self) -> datetime | None: ...
        def keep_windows(self, now: At = None) -> Any: ...
        def next_window_change(self) -> datetime | None: ...
        def keep_followups(self, now: At = None) -> Any: ...
        def tracking_code(self, ticket_id: str) -> str: ...
        def entries(self, kind: str) -> Any: ...
        def keep_monthly(self, now: At = None) -> Any: ...
        def next_monthly_due(self) -> datetime | None: ...
        def next_followup_due(self) -> datetime | None: ...
