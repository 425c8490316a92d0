"""The Engine's API for the experience base (mixed into :class:`~faultflow.Engine`): entries
added, edited, approved and retired (each change in the base's hash-chained log), searched in
Chinese and English, suggested for a fault, and linked to the ticket they helped (an event in
the ticket's history). Tickets are searched the same way (``list --search``).

Words are indexed by the searches themselves: a write stores the entry, and the next search
segments what changed since (``db.kb.stale_entries``, ``stale_tickets``) — so a ticket's
``report`` (which drafts an entry) and every note stay as fast as before, and only a search
loads the segmenter.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..db import kb as table
from ..db.records import KBEntryRecord
from ..errors import ConcurrentUpdate, InvalidInput, UnknownEntry
from ..network.places import Places
from ..tickets.parts import EngineParts
from ..tickets.unit import Step
from ..tickets.views import Intake, Ticket
from ..words import NOTES
from . import text
from .model import Entry, Found, checked, entry_view, move

if TYPE_CHECKING:
    from ..db.store import Unit
    from ..tickets.draft import Draft

SUGGESTED = 3
SUGGESTING = 20  # an intake of more faults than this gets no suggestions
BATCH = 2000  # words indexed per round of a search's catch-up


class KBAPI(EngineParts):
    """Part of the Engine's API (see the module's docstring)."""

    places: Places  # the Engine's directory of the registry (a device's model)

    # -- entries --------------------------------------------------------------------------------

    def kb_entry(self, entry_id: int | str) -> Entry:
        found = table.get(self.store, _id(entry_id))
        if found is None:
            raise UnknownEntry(f"no experience entry {entry_id} (see `faultflow kb list`)")
        return entry_view(found, self.contract.timezone)

    def kb_entries(
        self, states: Sequence[str] | None = ("approved",), limit: int = 50
    ) -> builtins.list[Entry]:
        """Entries, newest first (of ``states``; ``None``: all)."""
        zone = self.contract.timezone
        return [entry_view(r, zone) for r in table.listed(self.store, states, limit)]

    def kb_add(self, values: Mapping[str, Any], actor: str | None = None) -> Entry:
        """A new entry, a draft (``symptom``, ``cause``, ``fix`` required; ``models``,
        ``line_kind``, ``spare``, ``tickets`` — ids of existing tickets — optional)."""
        given = checked(values)
        for name in ("symptom", "cause", "fix"):
            if not given.get(name):
                raise InvalidInput(f"an entry needs its {name} (--{name})")
        self._known_tickets(given.get("tickets", ()))
        who = self._changes.policy.actor_name(actor or "system")
        now = self._now_us()
        record = KBEntryRecord(
            0, "draft", given["symptom"], given["cause"], given["fix"],
            json.dumps(given.get("models", []), ensure_ascii=False), given.get("line_kind"),
            given.get("spare"), None, json.dumps(given.get("tickets", [])), who, now, now, who, 1,
        )  # fmt: skip
        with self.store.unit() as u:
            written = table.add(u, record)
        self._kb_changed()
        return entry_view(written, self.contract.timezone)

    def kb_edit(
        self, entry_id: int | str, values: Mapping[str, Any], actor: str | None = None,
        version: int | None = None,
    ) -> Entry:  # fmt: skip
        """Change fields of an entry (not a retired one); an approved entry stays approved."""
        given = checked(values)
        if not given:
            raise InvalidInput("nothing to change: give --symptom, --cause, --fix, --model, ...")
        self._known_tickets(given.get("tickets", ()))

        def edited(r: KBEntryRecord, who: str, now: int) -> tuple[KBEntryRecord, str]:
            if r.state == "retired":
                raise InvalidInput(f"entry {r.id} is retired: add a new one instead")
            fields: dict[str, Any] = {
                k: v for k, v in given.items() if k not in ("models", "tickets")
            }
            for name in ("models", "tickets"):
                if name in given:
                    fields[name] = json.dumps(given[name], ensure_ascii=False)
            for name in ("symptom", "cause", "fix"):
                if name in fields and not fields[name] and r.state == "approved":
                    raise InvalidInput(f"an approved entry keeps its {name}")
            return r._replace(**fields), "edited"

        return self._kb_change(entry_id, edited, actor, version)

    def kb_approve(self, entry_id: int | str, actor: str | None = None) -> Entry:
        """Approve a draft: from now on it is suggested for faults like it."""
        return self._kb_change(entry_id, lambda r, who, now: (r._replace(state=move(r, "approve")),
                                                              "approved"), actor)  # fmt: skip

    def kb_retire(self, entry_id: int | str, actor: str | None = None) -> Entry:
        """Retire an entry that no longer holds: kept, never suggested again."""
        return self._kb_change(entry_id, lambda r, who, now: (r._replace(state=move(r, "retire")),
                                                              "retired"), actor)  # fmt: skip

    def _kb_change(self, entry_id: int | str, change: Any, actor: str | None,
                   version: int | None = None) -> Entry:  # fmt: skip
        who = self._changes.policy.actor_name(actor or "system")
        eid = _id(entry_id)
        for _ in range(10):
            r = table.get(self.store, eid)
            if r is None:
                raise UnknownEntry(f"no experience entry {entry_id} (see `faultflow kb list`)")
            if version is not None and r.version != version:
                raise ConcurrentUpdate(f"entry {eid} is at version {r.version}, not {version}")
            now = self._now_us()
            new, action = change(r, who, now)
            new = new._replace(changed_us=now, changed_by=who, version=r.version + 1)
            with self.store.unit() as u:
                if table.change(u, new, action):
                    self._kb_changed()
                    return entry_view(new, self.contract.timezone)
            if version is not None:
                raise ConcurrentUpdate(f"entry {eid} was changed meanwhile: look again")
        raise ConcurrentUpdate(f"entry {eid} kept changing: try again")

    def _known_tickets(self, ids: Iterable[str]) -> None:
        for tid in ids:
            self.get(tid)  # UnknownTicket if there is none

    def kb_log(self) -> builtins.list[Any]:
        return table.log(self.store)

    # -- search ---------------------------------------------------------------------------------

    def _groups(self, query: str) -> builtins.list[builtins.list[str]]:
        return text.widened(query, self.contract.kb_synonyms)

    def _index_entries(self) -> None:
        """Segment the entries written since the last search (all of them, the first time)."""
        head = table.head(self.store)
        if head == self._kb.indexed:
            return  # nothing written since this engine last looked
        text.teach(self.contract.kb_synonyms)  # the customer's words, cut whole
        while stale := table.stale_entries(self.store, BATCH):
            table.put_words(self.store, "kb_terms", [
                (str(r.id), r.version, text.body(r.symptom, r.cause, r.fix,
                                                 " ".join(json.loads(r.models)), r.line_kind,
                                                 r.spare))
                for r in stale
            ])  # fmt: skip
        self._kb.indexed = head

    def kb_search(
        self, query: str, limit: int = 10, all_states: bool = False
    ) -> builtins.list[Found]:
        """Entries for ``query``, best first: approved ones (``all_states``: drafts and retired
        ones too). Chinese is segmented, synonyms of the trade widen the query, a model name
        matches whole or as a prefix (docs/kb.md). Entries with every word of the query come
        first; then, if too few, those with any of them."""
        if not query.strip():
            raise InvalidInput("search for what? (give some words)")
        if not 1 <= limit <= 100:
            raise InvalidInput(f"limit: 1 to 100, not {limit}")
        self._index_entries()
        groups = self._groups(query)
        found: builtins.list[Found] = []
        wanted = limit
        zone = self.contract.timezone
        while True:  # over-fetch: approved ones only, unless asked for all
            hits = table.search(self.store, "kb_terms", groups, wanted * 4, enough=wanted)
            entries = table.many(self.store, [int(k) for k, _ in hits])
            found = [
                Found(entry_view(entries[int(k)], zone), score)
                for k, score in hits
                if int(k) in entries and (all_states or entries[int(k)].state == "approved")
            ]
            if len(found) >= limit or len(hits) < wanted * 4:
                return found[:limit]
            wanted *= 4

    def suggestions(self, ticket: Ticket) -> builtins.list[Found]:
        """The approved entries most like ``ticket``'s fault (its title, description and its
        device's model), at most three; none while no entry is approved."""
        if not self._kb.has_approved(self.store):
            return []
        model = ""
        if ticket.device is not None:
            self.places.refresh()  # a process that took in no fault has not read the registry
            device = self.places.directory.devices.get(ticket.device) or {}
            model = device.get("model") or ""
        query = " ".join(p for p in (ticket.title, ticket.description, model) if p)
        return self.kb_search(query, SUGGESTED) if query.strip() else []

    def with_suggestions(
        self, results: Sequence[Intake], most: int = SUGGESTING
    ) -> builtins.list[Intake]:
        """Each opened ticket of an intake with the entries suggested for it — for an intake of
        at most ``most`` faults (a storm's thousands are not each worth a search)."""
        if len(results) > most or not self._kb.has_approved(self.store):
            return list(results)
        return [
            dataclasses.replace(r, suggestions=tuple(self.suggestions(r.ticket)))
            if r.outcome in ("opened", "recurrence") else r
            for r in results
        ]  # fmt: skip

    def kb_use(self, ticket_id: str, entry_id: int | str, actor: str | None = None,
               note: str | None = None) -> Ticket:  # fmt: skip
        """Record that an entry helped with a ticket: an event in the ticket's history, a use
        in the base's log (the report counts them), and the ticket among the entry's own."""
        entry = self.kb_entry(entry_id)
        if entry.state != "approved":
            raise InvalidInput(f"entry {entry.id} is {entry.state}: only approved entries are used")
        who = self._changes.policy.actor_name(actor or "system")
        said = self._changes.policy.checked("note", note)

        def use(s: Step) -> None:
            t = s.draft.ticket
            used = (json.loads(e.data).get("entry") for e in s.history or () if e.trigger == "kb")
            if entry.id in used:
                raise InvalidInput(f"ticket {t.id} already used entry {entry.id}")
            said_ = said or NOTES["kb"].format(entry=entry.id)
            s.draft.record("kb", t.state, s.at_us, who, note=said_, data={"entry": entry.id})
            r = table.get(self.store, entry.id)
            assert r is not None
            tickets = [*json.loads(r.tickets), t.id] if t.id not in json.loads(r.tickets) else None
            if tickets is not None:
                moved = r._replace(tickets=json.dumps(tickets), version=r.version + 1,
                                   changed_us=s.at_us, changed_by=who)  # fmt: skip
                if not table.change(s.tx, moved, "used", {"ticket": t.id}):
                    raise ConcurrentUpdate(f"entry {entry.id} was changed meanwhile")

        return self._changes.command(ticket_id, use, history=True)

    # -- tickets --------------------------------------------------------------------------------

    def _index_tickets(self) -> None:
        text.teach(self.contract.kb_synonyms)
        while stale := table.stale_tickets(self.store, BATCH):
            texts = table.ticket_texts(self.store, [i for i, _ in stale])
            words = [(i, seq, text.body(*texts.get(i, []))) for i, seq in stale]
            table.put_words(self.store, "ticket_terms", words)

    def search_tickets(self, query: str, limit: int = 50) -> builtins.list[Ticket]:
        """Tickets whose title, description or notes match ``query``, best first."""
        if not query.strip():
            raise InvalidInput("search for what? (give some words)")
        self._index_tickets()
        hits = table.search(self.store, "ticket_terms", self._groups(query), limit)
        out = []
        for tid, _ in hits:
            out.append(self.get(tid))
        return out

    def _kb_changed(self) -> None:
        self._kb.changed()

    @property
    def _kb(self) -> Approved:
        found: Approved | None = self.__dict__.get("_kb_state")
        if found is None:
            found = self.__dict__["_kb_state"] = Approved()
        return found


class Approved:
    """Whether any entry is approved, looked at once every few seconds (intake asks on every
    fault), and at once after this engine's own changes."""

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self.indexed: int | None = -1  # the base's last change whose entries are indexed
        self._at = float("-inf")
        self._value = False
        self._lock = threading.Lock()

    def changed(self) -> None:
        self._at = float("-inf")

    def has_approved(self, store: Any) -> bool:
        now = time.monotonic()
        if now - self._at >= self.every:
            with self._lock:
                self._value = table.approved_count(store) > 0
                self._at = now
        return self._value


def _id(entry_id: int | str) -> int:
    try:
        return int(str(entry_id).strip())
    except ValueError:
        raise InvalidInput(f"an entry's id is a number, not {entry_id!r}") from None


# -- drafting, when a ticket is reported ------------------------------------------------------


def drafting(places: Places) -> Any:
    """The unit of work's hook for a ticket that closes (not cancelled): a draft entry from its
    history, written in the same transaction — for an engineer to edit and approve."""

    def closed(tx: Unit, draft: Draft) -> None:
        contract, t = draft.contract, draft.ticket
        events = [*tx.events(t.id), *draft.events]
        fixing = None
        spare = None
        for e in events:
            if e.from_state == e.to_state or e.from_state is None:
                continue
            if e.trigger in contract.remedies:
                spare = e.note or e.trigger
            if fixing is None and e.to_state in contract.fixing:
                fixing = e
        d = places.directory
        device = d.devices.get(t.device or "") or {}
        line = d.lines.get(t.line or "") or {}
        fix_us = fixing.at_us - t.created_us if fixing is not None else None
        symptom = t.title if t.description in ("", t.title) else f"{t.title}\n{t.description}"
        cause = contract.causes.get(t.cause, "") if t.cause else ""
        now = draft.recorded_us
        record = KBEntryRecord(
            0, "draft", symptom[:4000], cause, (fixing.note or "") if fixing else "",
            json.dumps([device["model"]] if device.get("model") else [], ensure_ascii=False),
            line.get("kind"), spare, fix_us, json.dumps([t.id]), "faultflow", now, now,
            "faultflow", 1,
        )  # fmt: skip
        table.add(tx, record)

    return closed
