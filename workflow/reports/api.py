"""The Engine's API for reports and the audit chain (mixed into :class:`~faultflow.Engine`):
monitoring counts, the compliance report, the customer's handling report, verify and the head."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..audit import chain as audit
from ..audit.verify import run
from ..db import contracts, network
from ..errors import InvalidInput, UnknownEntry
from ..reports.census import take
from ..reports.compliance import for_period
from ..tickets.parts import At, EngineParts
from ..timekeeping.times import aware, from_us, to_us

if TYPE_CHECKING:
    from ..audit.chain import Verification
    from ..reports.census import Census
    from ..reports.compliance import Report
    from ..reports.monthly import Monthly
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

    def monthly(self, month: str, unit: str | None = None) -> Monthly:
        """The monthly service report (月度运维服务报告) of ``month`` (``YYYY-MM``, in the
        contract's time zone), of every unit or of ``unit``: the month's figures, the tickets
        by tier, channel and unit, each unit's outages and downtime, and the compliance
        report of the month (reports/monthly.py)."""
        from ..reports.monthly import monthly

        name = None
        if unit is not None:
            found = network.get(self.store, "units", unit)
            if found is None:
                raise UnknownEntry(f"no unit {unit!r} (see `faultflow units list`)")
            name = found.get("name") or unit
        names = {u["code"]: u.get("name") or u["code"] for u in self.entries("units")}
        return monthly(self.store, self.contract, month, self.now(), unit, name, names)

    def monthly_report(
        self, month: str, unit: str | None = None, fmt: str = "html", lang: str | None = None
    ) -> str | bytes:
        """The monthly service report rendered: ``html`` (one self-contained file, laid out
        for A4), ``pdf`` (bytes; WeasyPrint, its CJK font embedded), ``md`` or ``json``; in
        ``lang`` (default: the contract's ``language``)."""
        import json

        from ..reports import monthly as rendering
        from ..words import LANGUAGES, Words

        if fmt not in ("html", "pdf", "md", "json"):
            raise InvalidInput(f"format {fmt!r}: html, pdf, md or json")
        if lang is not None and lang not in LANGUAGES:
            raise InvalidInput(f"language {lang!r}: use {' or '.join(LANGUAGES)}")
        m = self.monthly(month, unit)
        if fmt == "json":
            return json.dumps(m.to_dict(), ensure_ascii=False, indent=2)
        w = Words(lang or self.contract.language)
        if fmt == "md":
            return rendering.markdown(m, self.contract, w)
        if fmt == "pdf":
            return rendering.pdf(m, self.contract, w)
        return rendering.html(m, self.contract, w)

    def monthly_due(self, month_start: datetime) -> datetime:
        """When the report of the month before ``month_start`` is mailed: the first moment the
        contract's ``[monthly] calendar`` opens in the new month (its first working day), or
        09:00 on the 1st."""
        zone = self.contract.timezone
        start_us = to_us(month_start)
        opens = self.contract.monthly_calendar.opens(start_us)
        if opens is None:
            return month_start + timedelta(hours=9)
        return from_us(opens, zone)

    def next_monthly_due(self) -> datetime | None:
        """When the next monthly report is mailed, or tried again (``None``: the contract names
        nobody to send it to)."""
        if not self.contract.monthly_to:
            return None
        zone = self.contract.timezone
        now = self.now().astimezone(zone)
        this = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        due = self.monthly_due(this)
        if due > now:
            return due
        said = contracts.meta(self.store, _sent_key(this))
        if said is None:
            return now
        if not said.startswith("sent"):  # failed, or a sender that died: after the wait
            return from_us(int(said.split()[1]) + MONTHLY_RETRY_US, zone)
        return self.monthly_due((this + timedelta(days=32)).replace(day=1))

    def keep_monthly(self, now: At = None) -> str | None:
        """Mail last month's service report (PDF, with its summary as the text) to the
        contract's ``[monthly] to`` once its time has come on the first working day: once,
        whichever process gets there first (a claim in the database). A mail that did not go
        (or a sender that died) is tried again after :data:`MONTHLY_RETRY_US`. The month
        mailed, or ``None``."""
        import logging

        if not self.contract.monthly_to:
            return None
        zone = self.contract.timezone
        moment = aware(now, self.now(), zone).astimezone(zone)
        now_us = to_us(moment)
        this = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        if moment < self.monthly_due(this):
            return None
        last = (this - timedelta(days=1)).strftime("%Y-%m")
        key = _sent_key(this)
        said = contracts.meta(self.store, key)
        if said is not None:
            if said.startswith("sent") or now_us < int(said.split()[1]) + MONTHLY_RETRY_US:
                return None
            if not contracts.forget(self.store, key, said):
                return None  # another process took it back first
        if not contracts.claim(self.store, key, f"sending {now_us}"):
            return None
        try:
            message_id = self._mail_monthly(last)
        except Exception as err:  # the mail server away: tried again after the wait
            contracts.set_meta(self.store, key, f"failed {now_us}")
            logging.getLogger("faultflow").warning(
                "the monthly report of %s was not mailed (%s: %s); trying again later",
                last, type(err).__name__, " ".join(str(err).split())[:200],
            )  # fmt: skip
            return None
        contracts.set_meta(self.store, key, f"sent {message_id}")
        return last

    def _mail_monthly(self, month: str) -> str:
        from email.utils import make_msgid

        from ..errors import ConfigError

        target = next((n for n in self.contract.notifiers.values() if n.use == "email"), None)
        mailer = self.registry.notifiers.get("email")
        if target is None or mailer is None:
            raise ConfigError('no email notifier in the contract ([notifiers.NAME] use = "email")')
        lang = self.contract.monthly_lang or None
        document = self.monthly_report(month, None, "pdf", lang)
        summary = self.monthly_report(month, None, "md", lang)
        message_id = make_msgid("ff-monthly")
        mailer.notify(
            {"event": "monthly_report", "month": month, "to": list(self.contract.monthly_to),
             "title": f"{self.contract.name} {month}", "report_text": summary,
             "attachment": document, "filename": f"faultflow-{month}.pdf",
             "message_id": message_id},
            target.config,
        )  # fmt: skip
        return message_id

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
        the inspection rounds, of the spares and of the maintenance windows."""
        import dataclasses

        from ..db import kb, network, rounds, spares
        from ..db import maintenance as windows

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

        (n_kb, kb_at), (n_rounds, rounds_at), (n_spares, spares_at), (n_mw, mw_at) = (
            checked(kb), checked(rounds), checked(spares), checked(windows),
        )  # fmt: skip
        return dataclasses.replace(
            found, registry=len(log), registry_broken=at, registry_differs=differs,
            kb=n_kb, kb_broken=kb_at, rounds=n_rounds, rounds_broken=rounds_at,
            spares=n_spares, spares_broken=spares_at, maintenance=n_mw, maintenance_broken=mw_at,
        )  # fmt: skip

    def head(self, tickets: bool = False) -> dict[str, Any]:
        """The chain head: one digest over every ticket's last (seq, hash), to keep as proof;
        with ``tickets``, also every ticket's (seq, hash), for ``verify --against``."""
        return audit.head(self.store.heads(), self.now().isoformat(), tickets)


MONTHLY_RETRY_US = 10 * 60 * 1_000_000
"""How long after a monthly mail that did not go (or whose sender died) it is tried again."""


def _sent_key(month_start: datetime) -> str:
    """The claim of mailing the report of the month before ``month_start``."""
    return f"monthly-report:{(month_start - timedelta(days=1)).strftime('%Y-%m')}"
