"""The Engine's API for reports and the audit chain (mixed into :class:`~faultflow.Engine`):
monitoring counts, the compliance report, the customer's handling report, verify and the head."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..audit import chain as audit
from ..audit.verify import run
from ..db import network
from ..errors import UnknownEntry
from ..reports.census import take
from ..reports.compliance import for_period
from ..tickets.parts import At, EngineParts

if TYPE_CHECKING:
    from ..audit.chain import Verification
    from ..reports.census import Census
    from ..reports.compliance import Report
    from ..tickets.views import Ticket


class ReportsAPI(EngineParts):
    """Part of the Engine's API (see the module's docstring)."""

    def census(self) -> Census:
        """Counts for monitoring: open tickets by state and tier, alarms fired by clock, pending
        notifications and failed delivery attempts, the next alarm due (census.py)."""
        return take(self.store, self.contract)

    def report(self, start: At = None, end: At = None, unit: str | None = None) -> Report:
        """SLA compliance of the clocks that started in [start, end); default: the 30 days
        before now. Times without an offset are in the contract's time zone. ``unit``: of the
        tickets of that unit only (refused if the registry has no such unit)."""
        if unit is not None and network.get(self.store, "units", unit) is None:
            raise UnknownEntry(f"no unit {unit!r} (see `faultflow units list`)")
        return for_period(self.store, self.contract, self.now(), start, end, unit)

    def handling_report(self, ticket_id: str, fmt: str = "md", lang: str | None = None) -> str:
        """The customer's handling report of one ticket (P11), as ``md`` or ``html``, in
        ``lang`` (``zh``, ``en``; default: the contract's ``language``)."""
        from ..reports.handling import render

        ticket = self.get(ticket_id)
        return render(ticket, self.contract_of(ticket), fmt, lang)  # in its version's words

    def send_handling_report(
        self, ticket_id: str, actor: str | None = None, base_url: str | None = None
    ) -> Ticket:
        """Mail the handling report (P11) to the reporter through the contract's ``email``
        notifier, now; the Message-ID goes into the history. ``base_url`` (where ``serve``
        is reached, ``FAULTFLOW_BASE_URL``): the mail links the reporter's tracking page,
        where they can rate the service (the follow-up, docs/followup.md)."""
        from ..reports.handling import send

        t = self.get(ticket_id)
        notifiers = self.registry.notifiers

        def sent(to: str, message_id: str) -> Ticket:
            return self._changes.sent(t.id, to, message_id, actor)

        link = None
        if base_url and self.contract.followup_within_us is not None:
            link = f"{base_url.rstrip('/')}/t/{self.tracking_code(t.id)}#followup"
        return send(t, self.contract_of(t), self.contract, notifiers, sent, link)

    def verify(
        self, against: Mapping[str, tuple[int, str]] | audit.SavedHead | None = None,
        workers: int = 1,
    ) -> Verification:  # fmt: skip
        """Recompute every ticket's hash chain and replay its history against its stored row
        and clocks; name the first broken link of each. ``against``: a head saved earlier the
        history must still hold. ``workers``: processes to check a big database with. The
        registry's log of changes is checked too (its own hash chain), and each entry's row
        against the last change the log wrote of it; and the logs of the experience base, of
        the inspection rounds and of the spares."""
        import dataclasses

        from ..db import kb, network, rounds, spares

        found = run(self.store, self.contract, self.sealer, against, workers)
        log = network.log(self.store)
        broken = network.broken_log(log)
        at = broken + 1 if broken is not None else None
        differs = tuple(network.differing_rows(self.store, log))

        def checked(table: Any) -> tuple[int, int | None]:
            """A log's length, and its first entry (1-based) whose hash does not chain."""
            entries = table.log(self.store)
            first = table.broken_log(entries)
            return len(entries), first + 1 if first is not None else None

        (n_kb, kb_at), (n_rounds, rounds_at), (n_spares, spares_at) = (
            checked(kb), checked(rounds), checked(spares)
        )
        return dataclasses.replace(
            found, registry=len(log), registry_broken=at, registry_differs=differs,
            kb=n_kb, kb_broken=kb_at, rounds=n_rounds, rounds_broken=rounds_at,
            spares=n_spares, spares_broken=spares_at,
        )  # fmt: skip

    def head(self, tickets: bool = False) -> dict[str, Any]:
        """The chain head: one digest over every ticket's last (seq, hash), to keep as proof;
        with ``tickets``, also every ticket's (seq, hash), for ``verify --against``."""
        return audit.head(self.store.heads(), self.now().isoformat(), tickets)
