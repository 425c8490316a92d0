"""Putting a new contract version into service: what it would change for each open ticket
(``contract diff``), and recording it, moving the open tickets onto it when asked
(``contract apply --migrate-open``) — each move a command given to the unit of work, so what
fell due under the old version fires first and a breach the new one makes due fires and starts
its chain in the same transaction."""

from __future__ import annotations

import logging

from ..contract.model import Contract
from ..contract.versions import Diff, Move, TicketChange, kept, names_gone
from ..db import contracts as versions_kept
from ..errors import InvalidInput
from ..timekeeping.times import from_us
from .draft import Draft
from .unit import NothingToDo, Step, UnitOfWork

log = logging.getLogger("faultflow")


def diff(work: UnitOfWork, new: Contract, now_us: int) -> Diff:
    """For each open ticket not already on ``new``: would its state exist, and how would each
    clock's due time move (its clocks rebuilt from its history under ``new``)."""
    store, contracts = work.ctx.store, work.ctx.contracts
    current_version = versions_kept.current(store)
    current = contracts.of(current_version) if current_version else contracts.current
    gone = names_gone(current, new)
    zone = new.timezone
    changes = []
    for record, rows in store.tickets(now_us, finals=current.finals, final=False):
        pinned = contracts.of(record.contract)
        if record.contract == new.version or record.state in pinned.finals:
            continue
        if record.state not in new.states:
            why = f"its state {record.state!r} is not in the new version"
            changes.append(TicketChange(record.id, record.state, pinned.version, why))
            continue
        with store.unit() as u:
            history = u.events(record.id)
        draft = Draft(new, record, rows, now_us)
        draft.recompute(history, now_us)
        before = {r.name: r for r in rows}
        moves = []
        for name in dict.fromkeys([*before, *draft.clocks]):
            old_due = before[name].due_us if name in before else None
            new_row = draft.clocks.get(name)
            new_due = new_row.due_us if new_row is not None else None
            if name not in draft.clocks:
                change = "gone"
            elif name not in before:
                change = "new"
            else:
                change = "same" if old_due == new_due else "moved"
            moves.append(Move(
                name, from_us(old_due, zone) if old_due is not None else None,
                from_us(new_due, zone) if new_due is not None else None, change,
            ))  # fmt: skip
        changes.append(TicketChange(record.id, record.state, pinned.version, None, moves))
    return Diff(current_version, new.version, current_version == new.version, *gone, changes)


def apply(
    work: UnitOfWork, new: Contract, actor: str, now_us: int, migrate_open: bool
) -> tuple[Diff, list[str]]:
    """Record ``new`` as the current version; with ``migrate_open``, move every open ticket
    onto it (refused, nothing written, if one would be orphaned). The diff, and the tickets
    moved."""
    found = diff(work, new, now_us)
    if migrate_open and found.orphans:
        named = ", ".join(f"{t.ticket} ({t.state})" for t in found.orphans[:20])
        more = f" and {len(found.orphans) - 20} more" if len(found.orphans) > 20 else ""
        raise InvalidInput(
            f"{len(found.orphans)} open ticket(s) are in a state {new.source} does not have: "
            f"{named}{more}; nothing was changed (close or move them first, or keep them on "
            "their version: apply without --migrate-open)"
        )
    versions_kept.keep(work.ctx.store, kept(new, actor, now_us))
    work.ctx.contracts.take(new)
    moved = []
    if migrate_open:
        for change in found.tickets:
            if _migrate(work, new, change, actor):
                moved.append(change.ticket)
    return found, moved


def _migrate(work: UnitOfWork, new: Contract, change: TicketChange, actor: str) -> bool:
    """One open ticket onto ``new``: its clocks rebuilt under it, a ``contract`` event saying
    from which version and what moved, in one transaction."""

    def move(s: Step) -> None:
        draft = s.draft
        record = draft.ticket
        if record.contract == new.version:
            raise NothingToDo
        if record.state not in new.states:  # it moved into such a state since the diff
            log.warning("ticket %s (%s) stays on its version: no such state in %s",
                        record.id, record.state, new.version)  # fmt: skip
            raise NothingToDo
        assert s.history is not None
        was = record.contract
        draft.move_to(new, s.history + draft.events, s.at_us)
        moved = {m.clock: m.change for m in change.moves if m.change != "same"}
        draft.record(
            "contract", record.state, s.at_us, actor,
            note=f"moved to contract version {new.version}",
            data={"from": was, "to": new.version, "clocks": moved},
        )  # fmt: skip
        draft.fire_due(s.at_us)  # what the new version makes due now

    done = work.change(change.ticket, move, history=True, missing_ok=True)
    return done.draft is not None and done.draft.ticket.contract == new.version and done.written
