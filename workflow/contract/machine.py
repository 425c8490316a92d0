"""The ticket lifecycle as a ``transitions`` machine, built once per contract.

The machine holds no ticket and is the machine of record: it is built from the contract's
states and transitions, and it answers what a state allows (the duty board's buttons:
``get_triggers`` and ``may_<trigger>`` on one probe model). Firing a trigger is the hot path,
so the machine's transitions are compiled once into a table — (trigger, source) to its
destinations with their guards, in the machine's order — and :meth:`Lifecycle.fire` takes the
first whose guard holds, as the machine would, without an event dispatch, event data or log
line per call; when none holds, one explain step asks the same guards why, for the refusal's
words. One guard implementation (:func:`check_guard`) serves all. The effects of a transition
(clocks, alarms, notifications) are applied by the draft from the contract's clock
declarations, not by machine callbacks: docs/concepts.md says why, with the measured costs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from transitions import EventData, Machine

from ..errors import GuardRefused, IllegalTransition
from ..timekeeping.times import show
from .model import Classification, Contract, Guard, Transition


class GuardFacts:
    """What a guard may look at: the ticket's classification, the reason given, the clocks.

    The clock facts are given as callables and computed only if a guard asks for them: most
    transitions have no clock guard, and reading every clock costs more than the transition.
    """

    __slots__ = ("_breached", "_due", "classification", "reason")

    def __init__(
        self,
        classification: Classification,
        reason: str | None = None,
        breached: Callable[[], frozenset[str]] = frozenset,
        due: Callable[[], Mapping[str, datetime]] = dict,
    ) -> None:
        self.classification = classification
        self.reason = reason
        self._breached = breached
        self._due = due

    @property
    def breached(self) -> frozenset[str]:
        """Names of the clocks that are breached."""
        return self._breached()

    @property
    def due(self) -> Mapping[str, datetime]:
        """Due time of each clock that has one."""
        return self._due()


@dataclass(frozen=True, slots=True)
class Option:
    """One trigger a ticket's state allows (:meth:`Lifecycle.options`)."""

    trigger: str
    dest: str
    refused: str | None  # why the guard says no as things stand, or None
    explain: str  # the contract's words for the transition
    reasons: tuple[str, ...] | None  # the reasons its guard names; () any reason; None: none
    why: tuple[Why, ...] = ()  # why the guard says no, as data (for words in any language)


def _asks_reason(guard: Guard | None) -> tuple[str, ...] | None:
    """The reasons a guard accepts (``()``: any non-empty reason), or ``None`` if it reads none."""
    if guard is None:
        return None
    named: list[str] = list(guard.reason or ())
    anything = guard.reason_required
    for sub in (*(guard.all or ()), *(guard.any or ())):
        more = _asks_reason(sub)
        if more is not None:
            named.extend(r for r in more if r not in named)
            anything = anything or not more
    if named:
        return tuple(named)
    return () if anything else None


@dataclass(frozen=True, slots=True)
class Why:
    """One reason a guard refuses, as data: the command line says it in the operator's words
    (:meth:`text`), the web pages in the reader's language (``Words.why``)."""

    kind: str  # condition | reason_required | reason_one_of | clock_not_breached
    field: str = ""  # condition: tier, kind, channel or cause; clock_not_breached: the clock
    value: str | None = None  # condition: the ticket's value; reason_one_of: the reason given
    allowed: tuple[str, ...] = ()  # condition: the values; reason_one_of: the reasons
    due: datetime | None = None  # clock_not_breached: the clock's due time

    def text(self) -> str:
        if self.kind == "condition":
            return f"{self.field} is {self.value or 'not set'}, needs {' or '.join(self.allowed)}"
        if self.kind == "reason_required":
            return "a reason is required (--reason)"
        if self.kind == "reason_one_of":
            given = f"reason {self.value!r} is not" if self.value else "no reason given; needs"
            return f"{given} one of {', '.join(self.allowed)}"
        when = f" (due {show(self.due)})" if self.due else ""
        return f"the {self.field} clock is not breached{when}"


def why_not(guard: Guard, facts: GuardFacts) -> tuple[Why, ...]:
    """Why the guard refuses as things stand: ``()`` when it holds; for ``any``, the reasons
    of every alternative."""
    if guard.condition is not None:
        failed = guard.condition.failing(facts.classification)
        if failed is not None:
            return (Why("condition", failed[0], failed[1], failed[2]),)
    if guard.reason_required and not (facts.reason and facts.reason.strip()):
        return (Why("reason_required"),)
    if guard.reason is not None and facts.reason not in guard.reason:
        return (Why("reason_one_of", value=facts.reason or None, allowed=guard.reason),)
    if guard.clock_breached is not None and guard.clock_breached not in facts.breached:
        return (Why("clock_not_breached", guard.clock_breached,
                    due=facts.due.get(guard.clock_breached)),)  # fmt: skip
    if guard.all is not None:
        for sub in guard.all:
            found = why_not(sub, facts)
            if found:
                return found
    if guard.any is not None:
        reasons: list[Why] = []
        for sub in guard.any:
            found = why_not(sub, facts)
            if not found:
                return ()
            reasons.extend(found)
        return tuple(reasons)
    return ()


def check_guard(guard: Guard, facts: GuardFacts) -> str | None:
    """``None`` when the guard holds, else why it does not (in an operator's words)."""
    why = why_not(guard, facts)
    return "; ".join(w.text() for w in why) if why else None


class _Probe:
    """The one model the machine knows (for ``may_<trigger>``): set to a state and facts, asked,
    under the lifecycle's lock."""

    def __init__(self, state: str) -> None:
        self.state = state
        self.facts = GuardFacts(Classification("", "", "", None))


class Lifecycle:
    """The contract's state machine. Build once; :meth:`fire` for any ticket, any thread."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self._machine = Machine(
            model=None,
            states=list(contract.states),
            initial=contract.initial,
            auto_transitions=False,
            send_event=True,
        )
        # the contract's transitions by (trigger, source), in its order: for the explain step
        self._ways: dict[tuple[str, str], list[Transition]] = {}
        for t in contract.transitions:
            conditions: list[str | Callable[..., bool | None]] = (
                [_condition(t.guard)] if t.guard is not None else []
            )
            self._machine.add_transition(t.trigger, list(t.sources), t.dest, conditions=conditions)
            for source in t.sources:
                self._ways.setdefault((t.trigger, source), []).append(t)
        self._probe = _Probe(contract.initial)
        self._machine.add_model(self._probe)
        self._lock = threading.Lock()
        # Compiled once from the machine: each (trigger, source) to its transitions in the
        # machine's order — the first whose guard holds is taken, as the machine takes it.
        # :meth:`fire` looks here, with no event dispatch, no event data, no logging per call.
        self._compiled: dict[tuple[str, str], tuple[tuple[str, Guard | None], ...]] = {}
        for trigger, event in self._machine.events.items():
            for source, made in event.transitions.items():
                ways = self._ways[(trigger, source)]
                if [w.dest for w in ways] != [m.dest for m in made]:  # a bug, not input
                    raise AssertionError(f"the machine and the contract differ on {trigger}")
                self._compiled[(trigger, source)] = tuple((w.dest, w.guard) for w in ways)

    def allowed(self, state: str) -> tuple[str, ...]:
        """The triggers the contract allows from ``state``, guards aside (asked of the machine,
        in the contract's order)."""
        if state not in self._machine.states:
            return ()
        possible = set(self._machine.get_triggers(state))
        return tuple(t for t in self.contract.triggers if t in possible)

    def options(self, state: str, facts: GuardFacts) -> tuple[Option, ...]:
        """What can be done from ``state``: each allowed trigger with its destination and, when
        the machine says it may not pass with the facts as they are (no reason given yet), why
        — the buttons of the duty board's ticket page."""
        found = []
        with self._lock:
            self._probe.state, self._probe.facts = state, facts
            for trigger in self.allowed(state):
                ways = self._ways[(trigger, state)]
                may = getattr(self._probe, f"may_{trigger}")()
                way = next((w for w in ways if _holds(w, facts)), ways[0]) if may else ways[0]
                reasons = () if may else self._reasons(ways, facts)
                why = None if may else self._explain(reasons)
                found.append(
                    Option(trigger, way.dest, why, way.explain, _asks_reason(way.guard), reasons)
                )
        return tuple(found)

    def fire(self, state: str, trigger: str, facts: GuardFacts) -> str:
        """The state after ``trigger`` from ``state``; raise if illegal or a guard refuses."""
        compiled = self._compiled.get((trigger, state))
        if compiled is None:
            if trigger not in self._machine.events:
                raise IllegalTransition(
                    f"unknown trigger {trigger!r}; {self._from(state)}",
                    self.allowed(state),
                )
            raise IllegalTransition(
                f"cannot {trigger} a ticket that is {state}; {self._from(state)}",
                self.allowed(state),
            )
        for dest, guard in compiled:
            if guard is None or check_guard(guard, facts) is None:
                return dest
        # every guard said no: the explain step says why
        ways = self._ways[(trigger, state)]
        said = f" ({ways[0].explain})" if ways[0].explain else ""
        why = self._explain(self._reasons(ways, facts))
        raise GuardRefused(f"{trigger} from {state} refused{said}: {why}")

    @staticmethod
    def _reasons(ways: list[Transition], facts: GuardFacts) -> tuple[Why, ...]:
        """Why none of the transitions of one trigger from one state may pass, as data."""
        found = [why for w in ways if w.guard is not None for why in why_not(w.guard, facts)]
        return tuple(dict.fromkeys(found))

    @staticmethod
    def _explain(reasons: tuple[Why, ...]) -> str:
        """Those reasons in the operator's words."""
        return "; ".join(why.text() for why in reasons) or "its guard refuses"

    def _from(self, state: str) -> str:
        allowed = self.allowed(state)
        if not allowed:
            return f"{state} is final: nothing more can happen to it"
        return f"allowed from {state}: {', '.join(allowed)}"


def _condition(guard: Guard) -> Callable[[EventData], bool]:
    """A guard as the machine's condition: True when it holds."""

    def condition(event: EventData) -> bool:
        facts: GuardFacts = getattr(event.model, "facts")  # noqa: B009  (any model with facts)
        return check_guard(guard, facts) is None

    return condition


def _holds(t: Transition, facts: GuardFacts) -> bool:
    return t.guard is None or check_guard(t.guard, facts) is None
