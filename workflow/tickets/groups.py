"""One outage, many reports: links between tickets, and merging reports into one parent.

When a hall's core switch fails, the hotline, the customer manager, the portal and
Alertmanager each report it: four tickets of one outage. ``merge`` makes one of them the
*parent* and the others its *reports*:

- a merge is an event on both tickets (``merge`` on the report, ``group`` on the parent),
  written in one transaction through the one unit of work (``UnitOfWork.together``), each
  ticket's version checked;
- the parent's clocks that started with its intake run from the **earliest** report of the
  group (the promise runs from the first report): the ``group`` event carries that moment
  (``origin_us``), the clocks are rebuilt from the history by the replay's rules (so that
  ``verify`` finds the same), and a breach this makes due fires and pages at once;
- the report's clocks stop (the ``merge`` event); it takes no step of its own and closes with
  its parent (a ``follow`` event, told on its own channel with the parent's handling report);
- ``unmerge`` gives the report its own clocks back (running from its own intake, as if never
  stopped; what fell due meanwhile fires), and the parent's origin is the first of the
  reports left.

A link (``duplicate``, ``related``, ``caused-by``) only says two tickets belong together: an
event on both and a row of ``links``, nothing else changes. At intake, the open tickets at
the new fault's place (device, line, site, unit — the registry) reported within the
contract's ``[merge] window`` are offered as the outage it may belong to (:func:`candidates`);
the contract may merge the reports of given channels at once (``[merge] auto``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..db import links
from ..db.records import PLACES, LinkRecord, TicketRecord
from ..db.store import Unit
from ..errors import ConcurrentUpdate, IllegalTransition, InvalidInput, UnknownTicket
from ..ids import normalize_ticket_id
from ..timekeeping.replay import GROUP, MERGE, UNMERGE
from ..timekeeping.times import from_us, show
from ..words import TURNED
from .draft import Draft
from .policy import Policy
from .unit import Step, UnitOfWork
from .views import iso

LINK_KINDS = ("duplicate", "related", "caused-by")
"""What a link says of a ticket and the other: a duplicate of it, related to it, caused by it."""

AUTO_ACTOR = "faultflow"
AUTO_REASON = "the same place within the merge window ([merge] auto)"


def on_its_own(draft: Draft, what: str) -> None:
    """Refuse ``what`` (a step, a hold, ...) on a report merged into a parent: its work is the
    parent's."""
    t = draft.ticket
    if t.parent is not None and t.parent != t.id:
        raise IllegalTransition(
            f"ticket {t.id} is merged into {t.parent}: {what} {t.parent} instead, or take it "
            f"out first (faultflow unmerge {t.id})"
        )


@dataclass(frozen=True, slots=True)
class Candidate:
    """An open ticket a new report may belong to: at the same place, reported within the
    window (``where``: the place it shares, e.g. ``("device", "SN-1")``)."""

    id: str
    channel: str
    title: str
    state: str
    created_at: datetime
    where: tuple[str, str]

    def to_dict(self) -> dict[str, Any]:
        part, code = self.where
        return {"id": self.id, "channel": self.channel, "title": self.title,
                "state": self.state, "created_at": iso(self.created_at), part: code}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Link:
    """A link as one of its tickets sees it: the other ticket, what it is to this one."""

    other: str
    kind: str  # this ticket is <kind> the other; "has-duplicate" etc. when said the other way
    at: datetime
    actor: str

    def to_dict(self) -> dict[str, Any]:
        return {"other": self.other, "as": self.kind, "at": iso(self.at), "actor": self.actor}


@dataclass(frozen=True, slots=True)
class Group:
    """A ticket's group and links: its parent (itself, on a parent; ``None`` alone), the
    parent's reports, when the group's first report came, and its links."""

    ticket: str
    parent: str | None
    reports: tuple[str, ...]
    origin: datetime | None
    links: tuple[Link, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticket": self.ticket,
            "parent": self.parent,
            "reports": list(self.reports),
            "origin": iso(self.origin),
            "links": [k.to_dict() for k in self.links],
        }


def candidates(u: Unit, ticket: TicketRecord, window_us: int, zone: Any) -> list[Candidate]:
    """The open tickets at ``ticket``'s place reported within ``window_us`` before it, the most
    specific place first (its device, line, site, then unit), a report's parent in its stead,
    at most ``links.CANDIDATES``. Nothing for a ticket placed nowhere."""
    found: dict[str, Candidate] = {}
    since = ticket.created_us - window_us
    for part in reversed(PLACES):  # device first
        code = getattr(ticket, part)
        if code is None:
            continue
        for tid, parent, created_us, channel, title, state in links.near(u, part, code, since):
            top = parent if parent is not None else tid
            if top == ticket.id or top in found or tid == ticket.id:
                continue
            found[top] = Candidate(
                top, channel, title, state, from_us(created_us, zone), (part, code)
            )
            if len(found) >= links.CANDIDATES:
                return list(found.values())
    return list(found.values())


class Groups:
    """Links, merges and their undoing, each one unit of work over both tickets."""

    def __init__(self, work: UnitOfWork, policy: Policy) -> None:
        self.work = work
        self.policy = policy

    # -- links ---------------------------------------------------------------------------------

    def link(
        self, ticket_id: str, other: str, kind: str, actor: str | None, note: str | None = None
    ) -> LinkRecord:
        """Say that ``ticket_id`` is ``kind`` (a duplicate of, related to, caused by)
        ``other``: an event on both, a row of ``links``."""
        if kind not in LINK_KINDS:
            raise InvalidInput(f"unknown link {kind!r} (use {', '.join(LINK_KINDS)})")
        who = self.policy.actor_name(actor or "system")
        said = self.policy.checked("note", note)
        a, b = self._two(ticket_id, other, "linked to")

        def command(steps: dict[str, Step]) -> None:
            s, t = steps[a], steps[b]
            old = links.pair(s.tx, a, b)
            if old is not None:
                raise InvalidInput(
                    f"tickets {a} and {b} are linked already ({old.ticket} {old.kind} "
                    f"{old.other}): unlink them first"
                )
            at = max(s.at_us, t.at_us)
            link = LinkRecord(a, b, kind, s.draft.recorded_us, who)
            links.add(s.tx, link)
            s.draft.record("link", s.draft.ticket.state, at, who, note=said or f"{kind} {b}",
                           data={"link": {"to": b, "as": kind}})  # fmt: skip
            t.draft.record("link", t.draft.ticket.state, at, who,
                           note=said or f"{TURNED[kind]} {a}",
                           data={"link": {"from": a, "as": kind}})  # fmt: skip
            s.result = link

        found: LinkRecord = self.work.together([a, b], command)[a].result
        return found

    def unlink(self, ticket_id: str, other: str, actor: str | None) -> None:
        """Take back a link between two tickets (either way it was said)."""
        who = self.policy.actor_name(actor or "system")
        a, b = self._two(ticket_id, other, "unlinked from")

        def command(steps: dict[str, Step]) -> None:
            s, t = steps[a], steps[b]
            old = links.pair(s.tx, a, b)
            if old is None:
                raise InvalidInput(f"tickets {a} and {b} are not linked")
            links.drop(s.tx, a, b)
            at = max(s.at_us, t.at_us)
            for step, there in ((s, b), (t, a)):
                step.draft.record("unlink", step.draft.ticket.state, at, who,
                                  note=f"no longer linked to {there}",
                                  data={"unlink": {"other": there, "was": old.kind}})  # fmt: skip

        self.work.together([a, b], command)

    # -- merging -------------------------------------------------------------------------------

    def merge(
        self, ticket_id: str, into: str, actor: str | None, reason: str | None = None
    ) -> tuple[TicketRecord, TicketRecord]:
        """Merge the report ``ticket_id`` into the parent ``into`` (see the module's
        docstring); the report and the parent as written."""
        who = self.policy.actor_name(actor or "system")
        said = self.policy.checked("reason", reason)
        a, p = self._two(ticket_id, into, "merged into")

        def command(steps: dict[str, Step]) -> None:
            child, parent = steps[a], steps[p]
            c, q = child.draft.ticket, parent.draft.ticket
            _mergeable(c, q, child.draft, parent.draft)
            group = links.created(child.tx, p)
            origin = min(q.created_us, c.created_us, *group.values())
            at = max(child.at_us, parent.at_us)
            d = child.draft
            d.update(parent=p)
            d.record(MERGE, c.state, at, who, reason=said,
                     note=f"merged into {p}: its promises are {p}'s, from {self._show(origin)}",
                     data={"into": p})  # fmt: skip
            d.correct(child.history or [], d.recorded_us, who)
            esc = child.tx.escalation(a)
            if esc is not None and esc.status == "running":  # its pages are the parent's now
                child.tx.put_escalation(esc._replace(status="finished", next_us=None), esc)
            reports = len([k for k in group if k != p]) + 1
            self._regroup(parent, origin, at, who, said, p, reports,
                          f"report {a} ({c.channel}) merged in", {"merged": a})  # fmt: skip

        steps = self.work.together([a, p], command)
        return steps[a].draft.ticket, steps[p].draft.ticket

    def unmerge(
        self, ticket_id: str, actor: str | None, reason: str | None = None
    ) -> tuple[TicketRecord, TicketRecord]:
        """Take the report ``ticket_id`` out of its parent's group: its own clocks again; the
        report and the (former) parent as written."""
        who = self.policy.actor_name(actor or "system")
        said = self.policy.checked("reason", reason)
        a = normalize_ticket_id(ticket_id)
        for _ in range(3):  # the parent read first; a merge racing ours makes us look again
            with self.work.ctx.store.unit() as u:
                record = u.ticket(a)
            if record is None:
                raise UnknownTicket(ticket_id)
            p = record.parent
            if p is None:
                raise InvalidInput(f"ticket {a} is not merged into any ticket")
            if p == a:
                with self.work.ctx.store.unit() as u:
                    held = ", ".join(u.reports(a))
                raise InvalidInput(
                    f"ticket {a} is the parent of its group: take its reports out instead ({held})"
                )
            try:
                steps = self.work.together([a, p], self._unmerging(a, p, who, said))
            except _Moved:
                continue
            return steps[a].draft.ticket, steps[p].draft.ticket
        raise ConcurrentUpdate(f"ticket {a} kept moving between groups: try again")

    def _unmerging(self, a: str, p: str, who: str, said: str | None) -> Any:
        def command(steps: dict[str, Step]) -> None:
            child, parent = steps[a], steps[p]
            c, q = child.draft.ticket, parent.draft.ticket
            if c.parent != p:
                raise _Moved
            if c.state in child.draft.contract.finals:
                raise IllegalTransition(
                    f"ticket {a} closed with {p} ({c.state}): a closed report stays in its group"
                )
            at = max(child.at_us, parent.at_us)
            d = child.draft
            d.update(parent=None)
            d.record(UNMERGE, c.state, at, who, reason=said,
                     note=f"taken out of {p}: its own promises run again, from "
                          f"{self._show(c.created_us)}",
                     data={"from": p})  # fmt: skip
            d.correct(child.history or [], d.recorded_us, who)
            if any(r.breach_fired and r.status != "stopped" for r in d.clocks.values()):
                self.work.start_chain(child.tx, d)  # broken before the merge: page again
            group = links.created(child.tx, p)
            group.pop(a, None)
            group[p] = q.created_us
            reports = len([k for k in group if k != p])
            self._regroup(parent, min(group.values()), at, who, said, p, reports,
                          f"report {a} taken out", {"unmerged": a})  # fmt: skip

        return command

    def _regroup(
        self, step: Step, origin: int, at: int, who: str, said: str | None, p: str,
        reports: int, what: str, data: Mapping[str, Any],
    ) -> None:  # fmt: skip
        """The parent's side: its group (``reports`` left), the ``group`` event with the
        origin its intake clocks run from, the clocks rebuilt (what it makes due fires; an
        alarm it undoes is withdrawn)."""
        d = step.draft
        d.update(parent=p if reports else None)
        note = f"{what}; its promises run from {self._show(origin)} ({reports} report(s))"
        d.record(GROUP, d.ticket.state, at, who, note=note, reason=said,
                 data={**data, "origin_us": origin, "origin": iso(from_us(origin, self._zone)),
                       "reports": reports})  # fmt: skip
        d.correct(step.history or [], d.recorded_us, who)

    # -- reading -------------------------------------------------------------------------------

    def group(self, ticket_id: str) -> Group:
        """``ticket_id``'s group (parent, reports, origin) and links."""
        tid = normalize_ticket_id(ticket_id)
        store = self.work.ctx.store
        with store.unit() as u:
            record = u.ticket(tid)
            if record is None:
                raise UnknownTicket(ticket_id)
            parent = record.parent
            reports = tuple(u.reports(parent)) if parent is not None else ()
            created = links.created(u, parent) if parent is not None else {}
        origin = from_us(min(created.values()), self._zone) if created else None
        turned = []
        for k in links.of(store, tid):
            mine = k.ticket == tid
            kind = k.kind if mine else TURNED[k.kind]
            other = k.other if mine else k.ticket
            turned.append(Link(other, kind, from_us(k.created_us, self._zone), k.actor))
        return Group(tid, parent, reports, origin, tuple(turned))

    def near(self, ticket_id: str) -> list[Candidate]:
        """The open tickets ``ticket_id`` may share an outage with (as its intake offered
        them, looked at again now); none for a report merged already, a closed or an unplaced
        ticket."""
        tid = normalize_ticket_id(ticket_id)
        c = self.policy.contract
        with self.work.ctx.store.unit() as u:
            record = u.ticket(tid)
            if record is None:
                raise UnknownTicket(ticket_id)
            if record.urgent_us is None or (record.parent is not None and record.parent != tid):
                return []
            return candidates(u, record, c.merge_window_us, c.timezone)

    # -- helpers -------------------------------------------------------------------------------

    @property
    def _zone(self) -> Any:
        return self.policy.contract.timezone

    def _show(self, us: int) -> str:
        return show(from_us(us, self._zone))

    @staticmethod
    def _two(ticket_id: str, other: str, how: str) -> tuple[str, str]:
        a, b = normalize_ticket_id(ticket_id), normalize_ticket_id(other)
        if a == b:
            raise InvalidInput(f"ticket {a} cannot be {how} itself")
        return a, b


class _Moved(Exception):
    """The report is no longer in the group it was read in (a racing merge or unmerge)."""


def _mergeable(c: TicketRecord, q: TicketRecord, cd: Draft, qd: Draft) -> None:
    """Refuse a merge of ``c`` into ``q`` that cannot be (nothing is written)."""
    a, p = c.id, q.id
    if q.parent == a:
        raise InvalidInput(f"ticket {p} is one of {a}'s own reports: a ticket is not merged "
                           "into its own report")  # fmt: skip
    if q.parent is not None and q.parent != p:
        raise InvalidInput(f"ticket {p} is itself merged into {q.parent}: merge into "
                           f"{q.parent}")  # fmt: skip
    if c.parent == p:
        raise InvalidInput(f"ticket {a} is merged into {p} already")
    if c.parent == a:
        raise InvalidInput(f"ticket {a} has reports merged into it: merge {p} into {a}, or "
                           "take its reports out first")  # fmt: skip
    if c.parent is not None:
        raise InvalidInput(f"ticket {a} is merged into {c.parent} already: take it out first "
                           f"(faultflow unmerge {a})")  # fmt: skip
    if c.state in cd.contract.finals:
        raise IllegalTransition(f"ticket {a} is {c.state} (closed): a closed ticket is not "
                                "merged")  # fmt: skip
    if q.state in qd.contract.finals:
        raise IllegalTransition(f"ticket {p} is {q.state} (closed): merge into an open ticket")
    if c.contract != q.contract:
        raise InvalidInput(
            f"tickets {a} and {p} run under different contract versions ({c.contract} and "
            f"{q.contract}): their promises cannot be reconciled; move both onto one version "
            "first (faultflow contract apply FILE --migrate-open)"
        )
