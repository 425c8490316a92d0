"""The handling report to the customer (P11): one ticket, in words a customer reads.

What was reported and by whom, who owned it (first-ask responsibility, P5), what was done when,
each promise of the contract met or missed with its times, and the spare part if one was used.
Markdown for e-mail and archives; HTML (self-contained) for printing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import make_msgid
from typing import Any

from ..contract.model import Contract
from ..errors import ConfigError, DeliveryFailed, FaultflowError, InvalidInput
from ..tickets.views import Ticket
from ..timekeeping.durations import span, working
from ..timekeeping.times import show

SKIP = {"warning"}  # internal alarms are not the customer's business; breaches are shown


def _t(value: datetime | None) -> str:
    return show(value)


def promises(ticket: Ticket, contract: Contract) -> list[dict[str, str]]:
    """One row per clock: what was promised, the times, and whether it was kept."""
    rows = []
    for name, clock in ticket.clocks.items():
        spec = contract.clocks.get(name)
        if clock.status == "stopped":
            result = (
                f"missed by {span(-clock.remaining, 'exact')}"
                if clock.breached
                else f"met ({span(clock.remaining, 'exact')} to spare)"
            )
        elif clock.breached:
            result = f"missed, still open ({span(-clock.remaining, 'exact')} over)"
        else:
            result = f"open, {span(clock.remaining, 'exact')} left"
        rows.append(
            {
                "promise": spec.description if spec else name,
                "clock": name,
                "limit": working(clock.limit, clock.calendar, "exact"),
                "started": _t(clock.started_at),
                "due": _t(clock.due_at),
                "done": _t(clock.stopped_at),
                "result": result,
                "kept": "no"
                if clock.breached
                else ("yes" if clock.status == "stopped" else "open"),
            }
        )
    return rows


def _remedy(event: Any, contract: Contract) -> str:
    """The remedy in the contract's words: the description of the state it leads to."""
    state = contract.states.get(event.to_state)
    return state.description if state is not None and state.description else event.to_state


def facts(ticket: Ticket, contract: Contract) -> dict[str, Any]:
    tier = contract.tiers.get(ticket.tier)
    spare = [
        e for e in ticket.history if e.trigger in contract.remedies and e.from_state != e.to_state
    ]
    reported = [
        e for e in ticket.history if e.to_state in contract.finals and e.from_state != e.to_state
    ]
    return {
        "tier": f"{ticket.tier} ({tier.label})" if tier and tier.label else ticket.tier,
        "spare": spare[0] if spare else None,
        "closed": reported[0] if reported else None,
        "timeline": [e for e in ticket.history if e.trigger not in SKIP],
        "calendars": sorted(
            {
                contract.calendars[c.calendar].summary
                for c in ticket.clocks.values()
                if c.calendar is not None and c.calendar in contract.calendars
            }
        ),
    }


def markdown(ticket: Ticket, contract: Contract) -> str:
    """The handling report as Markdown."""
    f = facts(ticket, contract)
    out = [
        f"# 故障处理报告 Handling report — {ticket.id}",
        "",
        f"**{ticket.title}**",
        "",
        f"- Contract: {contract.name}",
        f"- Tier: {f['tier']}; kind: {ticket.kind}"
        + (f"; cause: {ticket.cause}" if ticket.cause else ""),
        f"- Reported {_t(ticket.created_at)} via {ticket.channel}"
        + (f" by {ticket.reporter}" if ticket.reporter else "")
        + (f" ({ticket.contact})" if ticket.contact else ""),
        f"- Owner (first-ask responsibility): {ticket.owner}",
        f"- Status: {ticket.state}",
        *(f"- Working time: {c} (the promises count it)" for c in f["calendars"]),
        "",
    ]
    if ticket.description and ticket.description != ticket.title:
        out += [
            "## The fault as reported",
            "",
            *[f"> {line}" for line in ticket.description.splitlines()],
            "",
        ]
    out += [
        "## Promises",
        "",
        "| promise | limit | started | due | done | result |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for p in promises(ticket, contract):
        out.append(
            f"| {p['promise']} | {p['limit']} | {p['started']} | {p['due']} | "
            f"{p['done']} | {p['result']} |"
        )
    out += ["", "## What was done", ""]
    for e in f["timeline"]:
        what = (
            e.trigger
            if e.from_state in (None, e.to_state)
            else f"{e.trigger} ({e.from_state} → {e.to_state})"
        )
        extra = "".join(f" — {x}" for x in (e.note, e.reason and f"reason: {e.reason}") if x)
        out.append(f"- {_t(e.at)} {what}, {e.actor}{extra}")
    if f["spare"] is not None:
        s = f["spare"]
        out += [
            "",
            f"## Remedy: {_remedy(s, contract)}",
            "",
            f"The fault could not be fixed within the limit; {s.trigger} at {_t(s.at)} by "
            f"{s.actor}" + (f": {s.note}" if s.note else "."),
        ]
    if f["closed"] is not None:
        c = f["closed"]
        out += ["", f"Closed ({c.to_state}) at {_t(c.at)} by {c.actor}."]
    return "\n".join(out) + "\n"


def context(ticket: Ticket, contract: Contract) -> dict[str, Any]:
    """What templates/report/handling_body.html reads."""
    f = facts(ticket, contract)
    return {
        "ticket": ticket,
        "contract": contract,
        "f": f,
        "promises": promises(ticket, contract),
        "remedy": _remedy(f["spare"], contract) if f["spare"] is not None else "",
    }


def to_html(ticket: Ticket, contract: Contract) -> str:
    """The handling report as one self-contained, printable HTML page."""
    from .templating import render as render_template

    return render_template("report/handling.html", **context(ticket, contract))


FORMATS = ("md", "html")


def render(ticket: Ticket, contract: Contract, fmt: str = "md") -> str:
    """The handling report as ``md`` (Markdown) or ``html``."""
    if fmt not in FORMATS:
        raise InvalidInput(f"handling report format {fmt!r}: use md or html")
    return markdown(ticket, contract) if fmt == "md" else to_html(ticket, contract)


def send(
    ticket: Ticket,
    contract: Contract,
    current: Contract,
    notifiers: Mapping[str, Any],
    sent: Callable[[str, str], Ticket],
) -> Ticket:
    """Mail the handling report of ``ticket`` (under its ``contract``) to its reporter now,
    through the ``email`` notifier of the ``current`` contract; ``sent(to, message_id)``
    records it in the history. Nothing is recorded if the mail did not go."""
    target = next((n for n in current.notifiers.values() if n.use == "email"), None)
    mailer = notifiers.get("email")
    if target is None or mailer is None:
        raise ConfigError(
            'no email notifier in the contract ([notifiers.NAME] use = "email", docs/mail.md)'
        )
    t = ticket
    if not t.contact or "@" not in t.contact:
        raise InvalidInput(f"ticket {t.id} has no e-mail address to send its report to")
    message_id = make_msgid(f"ff-{t.id}")
    try:
        mailer.notify(
            {
                "event": "handling_report", "ticket": t.id, "title": t.title,
                "contact": t.contact, "reporter": t.reporter, "channel": t.channel,
                "external_id": t.external_id, "message_id": message_id,
                "report_text": render(t, contract, "md"),
                "report_html": render(t, contract, "html"),
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
    return sent(t.contact, message_id)
