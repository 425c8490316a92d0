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
from ..timekeeping.times import show
from ..words import DEFAULT, LANGUAGES, Words

# The customer's view of a ticket (the handling report, mailed to the reporter and embedded in
# the portal's tracking page) shows the promises kept or broken, the states the ticket reached
# and the words written for the customer on the steps that fixed it — never the staff's notes,
# reasons, who did what, who was paged or how a notification went (docs/web.md).


def _t(value: datetime | None) -> str:
    return show(value)


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
        "timeline": public_steps(ticket, contract),
        "calendars": sorted(
            {
                contract.calendars[c.calendar].summary
                for c in ticket.clocks.values()
                if c.calendar is not None and c.calendar in contract.calendars
            }
        ),
    }


def public_steps(ticket: Ticket, contract: Contract) -> list[dict[str, Any]]:
    """The ticket's history as the customer sees it: each state it reached, when, in the
    contract's words; the note of the step that fixed the fault (or put in a spare) is the
    customer's account of what was done."""
    out = []
    for e in ticket.history:
        if e.from_state is not None and e.from_state == e.to_state:
            continue  # notes, alarms, pages, holds: not a step the customer sees
        state = contract.states.get(e.to_state)
        said = state.description if state is not None and state.description else e.to_state
        fixed = e.trigger in contract.remedies or e.to_state in contract.fixing
        text = e.note if fixed else None
        out.append({"at": e.at, "state": e.to_state, "what": said, "text": text})
    return out


def markdown(ticket: Ticket, contract: Contract, lang: str | None = None) -> str:
    """The handling report as Markdown (the mail's text part, ``handling-report --format md``)
    in ``lang`` (default: the contract's language)."""
    c = context(ticket, contract, Words(lang or contract.language))
    w, f = c["w"], c["f"]
    channel = w.channel(ticket.channel)
    reported = w.format("handling.reported", at=_t(ticket.created_at), channel=channel)
    if ticket.reporter:
        reported += w.format("handling.by", who=ticket.reporter)
    if ticket.contact:
        reported += f" ({ticket.contact})"
    classed = f"{f['tier']} · {w.kind(ticket.kind)}"
    if ticket.cause:
        classed += f" · {w['field.cause']}: {w.cause(ticket.cause)}"
    out = [
        f"# {w['handling.title']} — {ticket.id}",
        "",
        f"**{ticket.title}**",
        "",
        f"- {w['handling.contract']}: {contract.name}",
        f"- {w['handling.tier']}: {classed}",
        f"- {reported}",
        f"- {w['handling.status']}: {c['status']}",
        *(f"- {w.format('handling.working', calendar=cal)}" for cal in f["calendars"]),
        "",
    ]
    if ticket.description and ticket.description != ticket.title:
        out += [*[f"> {line}" for line in ticket.description.splitlines()], ""]
    cols = ("promise", "limit", "started", "due", "done", "result")
    out += [
        f"## {w['handling.promises']}",
        "",
        "| " + " | ".join(w[f"handling.col.{col}"] for col in cols) + " |",
        "|" + " --- |" * len(cols),
        *("| " + " | ".join(p[col] for col in cols) + " |" for p in c["promises"]),
        "",
        f"## {w['handling.steps']}",
        "",
    ]
    for step in f["timeline"]:
        text = f": {step['text']}" if step["text"] else ""
        out.append(f"- {_t(step['at'])} {step['what']}{text}")
    if f["spare"] is not None:
        sp, remedy = f["spare"], c["remedy"]
        said = w.format("handling.remedy_text", remedy=remedy, at=_t(sp.at))
        out += ["", f"## {w.format('handling.remedy', remedy=remedy)}", "",
                said + (f": {sp.note}" if sp.note else "")]  # fmt: skip
    return "\n".join(out) + "\n"


def promises(ticket: Ticket, contract: Contract, w: Words) -> list[dict[str, str]]:
    """One row per promise in the words of ``w``: what was promised, its limit, the times,
    and whether it was kept (``kept``: yes, no or open)."""
    rows = []
    for name, clock in ticket.clocks.items():
        if clock.status == "stopped":
            result = (
                w.format("handling.missed", late=w.duration(-clock.remaining))
                if clock.breached
                else w.format("handling.met", spare=w.duration(clock.remaining))
            )
        elif clock.breached:
            result = w.format("handling.missed_open", late=w.duration(-clock.remaining))
        else:
            result = w.format("handling.open", left=w.duration(clock.remaining))
        rows.append({
            "promise": w.clock(contract, name), "limit": w.limit(clock.limit, clock.calendar),
            "started": _t(clock.started_at), "due": _t(clock.due_at),
            "done": _t(clock.stopped_at), "result": result,
            "kept": "no" if clock.breached else ("yes" if clock.status == "stopped" else "open"),
        })  # fmt: skip
    return rows


def context(ticket: Ticket, contract: Contract, w: Words | None = None) -> dict[str, Any]:
    """What templates/report/handling_body.html reads, in the words of ``w`` (default: the
    default language's, Chinese: the customer is a Chinese office, P11)."""
    w = w or Words(DEFAULT)
    f = facts(ticket, contract)
    f["timeline"] = [{**step, "what": w.state(contract, step["state"])} for step in f["timeline"]]
    spare = f["spare"]
    return {
        "ticket": ticket,
        "contract": contract,
        "f": f,
        "w": w,
        "promises": promises(ticket, contract, w),
        "remedy": w.state(contract, spare.to_state) if spare is not None else "",
        "status": w.state(contract, ticket.state),
    }


def to_html(ticket: Ticket, contract: Contract, lang: str | None = None) -> str:
    """The handling report as one self-contained, printable HTML page in ``lang`` (default:
    the contract's language)."""
    from .templating import render as render_template

    words = Words(lang or contract.language)
    return render_template("report/handling.html", **context(ticket, contract, words))


FORMATS = ("md", "html")


def render(ticket: Ticket, contract: Contract, fmt: str = "md", lang: str | None = None) -> str:
    """The handling report as ``md`` (Markdown) or ``html``, in ``lang`` (default: the
    contract's language)."""
    if fmt not in FORMATS:
        raise InvalidInput(f"handling report format {fmt!r}: use md or html")
    if lang is not None and lang not in LANGUAGES:
        raise InvalidInput(f"language {lang!r}: use {' or '.join(LANGUAGES)}")
    return markdown(ticket, contract, lang) if fmt == "md" else to_html(ticket, contract, lang)


def send(
    ticket: Ticket,
    contract: Contract,
    current: Contract,
    notifiers: Mapping[str, Any],
    sent: Callable[[str, str], Ticket],
    followup_link: str | None = None,
) -> Ticket:
    """Mail the handling report of ``ticket`` (under its ``contract``) to its reporter now,
    through the ``email`` notifier of the ``current`` contract; ``sent(to, message_id)``
    records it in the history. Nothing is recorded if the mail did not go. ``followup_link``:
    the reporter's tracking page, where they rate the service."""
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
                **({"followup_link": followup_link} if followup_link else {}),
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
