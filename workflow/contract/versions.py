"""Contract versions: every ticket runs under the contract it was opened under.

The database keeps the text of each version of the contract file (``contracts``, keyed by the
first 16 hex digits of its SHA-256) and which one is *current*: new tickets are pinned to it.
A process runs with one contract file; if it is not the database's current version the engine
refuses to open (:class:`ContractChanged`) and says what to do, instead of failing later on a
state or a clock the database's tickets use and the file does not have.

``faultflow contract diff [PATH]`` shows what the file would change for each open ticket (due
times that move, states, triggers and clocks that would no longer exist); ``faultflow contract
apply PATH`` records the version — new tickets run under it, open ones keep theirs — and with
``--migrate-open`` moves the open tickets onto it, each with a ``contract`` event in its
history, refusing (naming the tickets, writing nothing) if a ticket's state does not exist in it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from ..db import contracts
from ..db.records import ContractRecord, TicketRecord
from ..errors import ConfigError, DatabaseDamaged
from ..timekeeping.durations import span
from ..timekeeping.times import from_us, show
from .compile import contract_from_text
from .machine import Lifecycle
from .model import Contract

if TYPE_CHECKING:
    from ..db.store import Store
    from .machine import Lifecycle


log = logging.getLogger("faultflow")


class ContractChanged(ConfigError):
    """The contract file is not the database's current version."""


class Contracts:
    """The contract versions of one database: the current one (the file this process runs
    with) and, compiled from their kept text on first use, the others open tickets still run
    under."""

    REFRESH_S = 1.0
    """How often a long-running process looks whether another applied a new version."""

    def __init__(self, store: Store, current: Contract) -> None:
        self.store = store
        self.current = current
        self._known: dict[str, Contract] = {current.version: current}
        self._machines: dict[str, Lifecycle] = {}
        self._looked = time.monotonic()

    def refresh(self) -> Contract:
        """The current version, looked up again at most every :attr:`REFRESH_S` seconds: a
        `run` or `serve` started before `faultflow contract apply` takes the applied version
        for its new tickets instead of going on with its file's."""
        now = time.monotonic()
        if now - self._looked >= self.REFRESH_S:
            self._looked = now
            found = contracts.current(self.store)
            if found is not None and found != self.current.version:
                log.warning(
                    "the database's contract is now version %s (applied elsewhere; this "
                    "process started with %s): new tickets run under it",
                    found,
                    self.current.version,
                )
                self.take(self.of(found))
        return self.current

    def of(self, version: str | None) -> Contract:
        """The contract of a ticket pinned to ``version`` (``None``: from before versions)."""
        if version is None or version == self.current.version:
            return self.current
        found = self._known.get(version)
        if found is None:
            kept = contracts.version(self.store, version)
            if kept is None:
                raise DatabaseDamaged(
                    f"a ticket runs under contract version {version}, which the database does "
                    "not keep"
                )
            found = self._known[version] = contract_from_text(
                kept.text, f"{kept.source} (version {version})"
            )
        return found

    def take(self, new: Contract) -> None:
        """``new`` is now the current version (recorded by :func:`apply`)."""
        self.current = new
        self._known[new.version] = new

    def for_ticket(self, record: TicketRecord) -> Contract:
        return self.of(record.contract)

    def lifecycle(self, contract: Contract) -> Lifecycle:
        """The state machine of a version (built once per version)."""
        machine = self._machines.get(contract.version)
        if machine is None:
            machine = self._machines[contract.version] = Lifecycle(contract)
        return machine


def kept(contract: Contract, actor: str, now_us: int) -> ContractRecord:
    return ContractRecord(
        contract.version, contract.name, contract.source, contract.text, now_us, actor
    )


def settle(store: Store, contract: Contract, actor: str, now_us: int, pinned: bool) -> str:
    """At open: a database with no version yet takes this one (its tickets with it); one at
    another version refuses, with ``pinned``, naming the commands that help. The database's
    current version."""
    current = contracts.current(store)
    if current is None:
        contracts.keep(store, kept(contract, actor, now_us), pin_unversioned=True)
        return contract.version
    if current == contract.version or not pinned:
        return current
    record = contracts.version(store, current)
    was = f" ({record.source}, {record.name!r})" if record is not None else ""
    raise ContractChanged(
        f"{contract.source} (version {contract.version}) is not the contract this database "
        f"runs: version {current}{was}. See what it would change with `faultflow contract diff "
        f"{contract.source}`, take it on with `faultflow contract apply {contract.source}` "
        "(--migrate-open to move the open tickets too), or run with the file of version "
        f"{current}"
    )


# -- what a new version would change ------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """One clock of one open ticket under the new version."""

    clock: str
    before: datetime | None  # due time now (None: no due time, or no such clock)
    after: datetime | None  # due time under the new version
    change: str  # moved | new | gone | same

    @property
    def by(self) -> timedelta | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    def to_dict(self) -> dict[str, Any]:
        by = self.by
        return {
            "clock": self.clock,
            "change": self.change,
            "due_before": self.before.isoformat() if self.before else None,
            "due_after": self.after.isoformat() if self.after else None,
            "moved_s": by.total_seconds() if by is not None else None,
        }


@dataclass(frozen=True)
class TicketChange:
    ticket: str
    state: str
    version: str  # the version it runs under now
    orphaned: str | None  # why it cannot move (its state is not in the new version)
    moves: list[Move] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticket": self.ticket,
            "state": self.state,
            "version": self.version,
            "orphaned": self.orphaned,
            "clocks": [m.to_dict() for m in self.moves if m.change != "same"],
        }


@dataclass(frozen=True)
class Diff:
    """What a contract file would change, against the database's current version."""

    current: str | None
    new: str
    same: bool
    states_gone: list[str]
    triggers_gone: list[str]
    clocks_gone: list[str]
    clocks_new: list[str]
    tickets: list[TicketChange]

    @property
    def orphans(self) -> list[TicketChange]:
        return [t for t in self.tickets if t.orphaned]

    def to_dict(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "new": self.new,
            "same": self.same,
            "states_gone": self.states_gone,
            "triggers_gone": self.triggers_gone,
            "clocks_gone": self.clocks_gone,
            "clocks_new": self.clocks_new,
            "tickets": [t.to_dict() for t in self.tickets],
        }


def names_gone(old: Contract, new: Contract) -> tuple[list[str], list[str], list[str], list[str]]:
    old_triggers = set(old.triggers) | {old.intake}
    new_triggers = set(new.triggers) | {new.intake}
    return (
        [s for s in old.states if s not in new.states],
        [t for t in old.triggers if t not in new_triggers and t in old_triggers],
        [c for c in old.clocks if c not in new.clocks],
        [c for c in new.clocks if c not in old.clocks],
    )


def describe(d: Diff) -> list[str]:
    """The diff in lines an operator reads."""
    out = [f"contract version {d.new} against the database's {d.current or '(none yet)'}"]
    if d.same:
        out.append("the same version: nothing would change")
    for label, names in (
        ("states no longer in it", d.states_gone),
        ("triggers no longer in it", d.triggers_gone),
        ("clocks no longer in it", d.clocks_gone),
        ("new clocks", d.clocks_new),
    ):
        if names:
            out.append(f"{label}: {', '.join(names)}")
    for t in d.tickets:
        if t.orphaned:
            out.append(f"{t.ticket} ({t.state}, version {t.version}): CANNOT MOVE — {t.orphaned}")
            continue
        moved = [m for m in t.moves if m.change != "same"]
        if not moved:
            out.append(f"{t.ticket} ({t.state}, version {t.version}): no due time moves")
            continue
        for m in moved:
            out.append(f"{t.ticket} ({t.state}): {_said(m)}")
    if not d.tickets and not d.same:
        out.append("no open ticket runs under another version")
    return out


def _said(m: Move) -> str:
    if m.change == "gone":
        was = f" (was due {show(m.before)})" if m.before else ""
        return f"{m.clock}: no longer kept{was}"
    if m.change == "new":
        return f"{m.clock}: a new clock, due {show(m.after)}" if m.after else f"{m.clock}: new"
    by = m.by
    if by is None:
        return f"{m.clock}: due time changes"
    direction = "later" if by > timedelta(0) else "earlier"
    return f"{m.clock}: due {show(m.before)} → {show(m.after)} ({span(abs(by))} {direction})"


def listed(store: Store, zone: tzinfo) -> list[dict[str, Any]]:
    """Every version the database keeps, oldest first: version, name, source, recorded, by
    whom, whether current, how many tickets run under it."""
    current = contracts.current(store)
    counts = store.tickets_by_contract()
    return [
        {
            "version": r.version, "name": r.name, "source": r.source,
            "recorded_at": from_us(r.recorded_us, zone).isoformat(),
            "actor": r.actor, "current": r.version == current,
            "tickets": counts.get(r.version, 0),
        }
        for r in contracts.every(store)
    ]  # fmt: skip
