"""The compiled contract: plain frozen values (:class:`Contract` and the tiers, states,
transitions, clocks and guards it holds), cheap to consult on every trigger. Built from a file
by compile.py; the file's shape is shape.py."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..errors import FaultflowError, InvalidInput
from ..timekeeping.calendars import (
    ALWAYS,
    Calendar,
    Timeline,
)
from ..timekeeping.recurrence import Recurrence
from .shape import Limits

DAY_US = 24 * 3600 * 1_000_000
SCHEMA = 1
# Names the engine writes into the history itself; a contract may not use them as triggers.
RESERVED_TRIGGERS = frozenset(
    {
        "hold",
        "resume",
        "reclassify",
        "warning",
        "breach",
        "note",
        "intake",
        "withdrawn",
        "page",
        "ack",
        "assign",
        "delivered",
        "contract",
        "occurrence",
        "locate",
        "kb",
        "merge",
        "unmerge",
        "group",
        "follow",
        "link",
        "unlink",
        "planned",
        "cleared",
    }
)
LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")
STATE_ROLES = {"cancelled": "a final state whose tickets are left out of the compliance figures"}
TRANSITION_ROLES = {"remedy": "the stop-gap when a fault is not fixed in time (P10: a spare)"}
NOTIFICATION_KINDS = ("transition", "warning", "breach", "escalation")


# ---------------------------------------------------------------------------------------------
# The compiled contract: plain frozen values, cheap to consult on every trigger.


@dataclass(frozen=True, slots=True)
class Classification:
    """What a clock's limit and a guard may depend on."""

    tier: str
    kind: str
    channel: str
    cause: str | None


@dataclass(frozen=True, slots=True)
class Condition:
    """A ``when``/``applies`` table: every named attribute must be one of the listed values."""

    tier: frozenset[str] | None = None
    kind: frozenset[str] | None = None
    channel: frozenset[str] | None = None
    cause: frozenset[str] | None = None
    # (attribute, allowed values) for each attribute the condition names: what explain() checks
    checks: tuple[tuple[str, frozenset[str]], ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        named = ((n, getattr(self, n)) for n in ("tier", "kind", "channel", "cause"))
        object.__setattr__(self, "checks", tuple((n, a) for n, a in named if a is not None))

    def failing(self, c: Classification) -> tuple[str, str | None, tuple[str, ...]] | None:
        """``None`` when ``c`` meets the condition, else the first attribute that does not:
        (its name, ``c``'s value, the values allowed)."""
        for name, allowed in self.checks:
            value = getattr(c, name)
            if value not in allowed:
                return name, value, tuple(sorted(allowed))
        return None

    def matches(self, c: Classification) -> bool:
        return self.failing(c) is None


@dataclass(frozen=True, slots=True)
class Guard:
    """A declarative guard; see docs/contract.md for its keys. Its tier/kind/channel/cause part
    is a :class:`Condition`, the same as a clock's ``applies`` and ``override.when``."""

    condition: Condition | None = None
    reason: tuple[str, ...] | None = None
    reason_required: bool = False
    clock_breached: str | None = None
    any: tuple[Guard, ...] | None = None
    all: tuple[Guard, ...] | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    trigger: str
    sources: tuple[str, ...]
    dest: str
    guard: Guard | None
    explain: str
    role: str | None = None  # one of TRANSITION_ROLES
    labels: Mapping[str, str] = field(default_factory=dict)  # by language (the duty board)


@dataclass(frozen=True, slots=True)
class ClockSpec:
    """One promise of the contract, as a clock."""

    name: str
    description: str
    start: frozenset[str]
    stop: frozenset[str]
    limits: Mapping[str, timedelta]
    overrides: tuple[tuple[Condition, Mapping[str, timedelta]], ...]
    pausable: bool
    warning_share: float
    applies: Condition | None
    escalate: bool
    labels: Mapping[str, str] = field(default_factory=dict)  # by language (the web portal)
    calendar: Timeline = ALWAYS  # how it counts time: 24x7, or a calendar's working time

    def applies_to(self, c: Classification) -> bool:
        """Whether a ticket of this classification runs this clock at all."""
        return self.applies is None or self.applies.matches(c)

    def limit_for(self, c: Classification) -> timedelta:
        """The limit for this classification: the first matching override, else the tier's."""
        for condition, limits in self.overrides:
            if condition.matches(c):
                return limits[c.tier]
        return self.limits[c.tier]

    def limit_us(self, c: Classification) -> int:
        """:meth:`limit_for` in microseconds, as the clock arithmetic counts."""
        limit = self.limit_for(c)
        return (limit.days * 86400 + limit.seconds) * 1_000_000 + limit.microseconds


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    label: str
    description: str
    escalate_to: tuple[str, ...]
    stops_business: bool = False  # a fault of this tier puts its unit down (`faultflow status`)


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    """One thing a round checks: ``ok`` (ok / not ok), a ``number`` within ``min``..``max``, or
    ``text``; an answer out of bounds or "not ok" is a finding."""

    item: str
    kind: str
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True, slots=True)
class Inspection:
    """``[inspections.NAME]``: when rounds fall (``recurrence``), who does them (``role`` of
    people.toml), what they cover (``targets``: ``unit:CODE``, ``device:SERIAL``..., or a kind,
    ``units``), what they check, how long one may take, and the tier of a finding's ticket."""

    name: str
    description: str
    recurrence: Recurrence
    role: str
    due_within_us: int
    targets: tuple[str, ...]
    checklist: tuple[ChecklistItem, ...]
    tier: str


@dataclass(frozen=True, slots=True)
class State:
    name: str
    description: str
    final: bool
    role: str | None = None  # one of STATE_ROLES
    labels: Mapping[str, str] = field(default_factory=dict)  # by language (the web portal)


@dataclass(frozen=True, slots=True)
class Notifying:
    """One ``[notifiers.NAME]`` table: which notifier plugin, for which kinds, with what config."""

    name: str
    use: str
    events: frozenset[str]
    config: Mapping[str, Any]
    coalesce_us: int | None = None
    """``coalesce``: at most one message per this interval; what comes meanwhile waits and goes
    out as one digest when it ends (messages to a person by name are never held)."""


@dataclass(frozen=True, slots=True)
class Storm:
    """A channel's storm rule (``[channels.NAME] storm``): past ``tickets`` new tickets
    reported within ``within_us``, the channel's further faults become occurrences on one
    storm ticket (opened, or the open one reused) of ``tier``, instead of tickets of their own."""

    tickets: int
    within_us: int
    tier: str


@dataclass(frozen=True)
class Contract:
    """A validated contract. Build one with :func:`load_contract`."""

    source: str
    name: str
    timezone: ZoneInfo
    warning_share: float
    default_tier: str
    default_kind: str
    tiers: Mapping[str, Tier]
    kinds: Mapping[str, str]
    causes: Mapping[str, str]
    states: Mapping[str, State]
    initial: str
    intake: str
    transitions: tuple[Transition, ...]
    clocks: Mapping[str, ClockSpec]
    channels: Mapping[str, Mapping[str, Any]]
    notifiers: Mapping[str, Notifying]
    calendars: Mapping[str, Calendar] = field(default_factory=dict)
    storms: Mapping[str, Storm] = field(default_factory=dict)
    """The channels with a storm rule (``[channels.NAME] storm``)."""
    grouped: frozenset[str] = frozenset()
    """The channels whose faults come in groups and open a ticket per group
    (``[channels.NAME] tickets = "group"``): each fault an occurrence on it."""
    limits: Limits = field(default_factory=lambda: Limits())
    backdate_limit_us: int = DAY_US
    """How far before now a late entry (``--at``) may be recorded."""
    max_report_delay_us: int = DAY_US
    """How long before receipt a reporter's own time of the fault is believed."""
    owner: str = "responder"
    """Who owns a ticket once it is answered (P5, first-ask responsibility): ``responder`` —
    whoever takes the first step out of the initial state, unless a person of the people
    file took the fault in (they were asked first and keep it); ``intake`` — whoever took
    it in, always."""
    language: str = "zh"
    """The language of what the customer reads unasked: the handling report and its mail,
    the compliance report (one of ``words.LANGUAGES``)."""
    inspections: Mapping[str, Inspection] = field(default_factory=dict)
    """``[inspections.NAME]``: the plans of inspection rounds (docs/inspections.md)."""
    kb_synonyms: tuple[tuple[str, ...], ...] = ()
    """``[kb] synonyms``: words of one meaning in this customer's trade, for the experience
    base's search (beside the built-in ones of ``kb.text.SYNONYMS``)."""
    merge_window_us: int = 2 * 3600 * 1_000_000
    """``[merge] window``: open tickets at the same place opened this long before a new one
    are offered as the outage it may belong to (docs/tickets.md)."""
    merge_auto: frozenset[str] = frozenset()
    """``[merge] auto``: channels whose new reports are merged at once into the best
    candidate."""
    spare_ratio: float | None = None
    """``[spares] ratio``: a model's stock below this share of its installed devices (the
    registry) is low (docs/spares.md)."""
    spare_notify: str | None = None
    """``[spares] notify``: the role (people.toml) a low stock is told to."""
    spare_reserve: frozenset[str] = frozenset()
    """``[spares] reserve``: the tiers whose dispatch reserves a spare of the device's model."""
    spare_reserve_on: str = "dispatch"
    """``[spares] reserve_on``: the trigger that reserves it."""
    followup_within_us: int | None = None
    """``[followup] within``: a reported ticket's follow-up call is due this long after (over
    ``followup_calendar``); ``None``: the contract asks for no follow-up."""
    followup_calendar: Timeline = ALWAYS
    followup_threshold: int = 2
    """A rating at or below it opens a review ticket for the unit's manager."""
    followup_tier: str = ""
    """The review ticket's tier (the default tier when the file names none)."""
    monthly_to: tuple[str, ...] = ()
    """``[monthly] to``: who gets the monthly service report by mail, on the first working
    day of the next month (none: nobody; it is made on demand)."""
    monthly_calendar: Timeline = ALWAYS
    monthly_lang: str = ""
    """Its language (empty: the contract's)."""
    maintenance_max_us: int = 24 * 3600 * 1_000_000
    """``[maintenance] max``: the longest maintenance window that may be scheduled."""
    warnings: tuple[str, ...] = ()
    """What ``faultflow check`` warns about (the file still loads): e.g. a literal secret."""
    text: str = ""
    """The file's text: what the database keeps of this version."""
    version: str = ""
    """The first 16 hex digits of the SHA-256 of ``text``: each ticket names the version it
    runs under (versions.py)."""

    # Derived once (consulted on every trigger):
    finals: frozenset[str] = frozenset()
    """The final states."""
    cancelled: frozenset[str] = frozenset()
    """The final states whose tickets the compliance figures leave out (role "cancelled")."""
    remedies: frozenset[str] = frozenset()
    """The triggers of the stop-gap remedy (role "remedy": the seed's spare substitution)."""
    fixing: frozenset[str] = frozenset()
    """The states that mean the fault was dealt with: not final, leading on to a final state
    other than a cancellation (the seed's resolved and spare_substituted)."""
    stopping: frozenset[str] = frozenset()
    """The tiers whose faults stop a unit's business (``stops_business``)."""
    triggers: tuple[str, ...] = ()
    """Every trigger an operator can fire, in contract order, without repeats."""
    notify_kinds: frozenset[str] = frozenset()
    """The notification kinds some configured notifier wants (others are not written)."""
    starts: Mapping[str, tuple[ClockSpec, ...]] = field(default_factory=dict)
    """The clocks each trigger starts (in contract order)."""

    def __post_init__(self) -> None:
        triggers = {self.intake} | {t.trigger for t in self.transitions}
        finals = frozenset(s.name for s in self.states.values() if s.final)
        cancelled = frozenset(s.name for s in self.states.values() if s.role == "cancelled")
        closing = [t for t in self.transitions if t.dest in finals and t.dest not in cancelled]
        derived = {
            "finals": finals,
            "cancelled": cancelled,
            "fixing": frozenset(
                name
                for name in self.states
                if name not in finals and any(name in t.sources for t in closing)
            ),
            "stopping": frozenset(n for n, t in self.tiers.items() if t.stops_business),
            "remedies": frozenset(t.trigger for t in self.transitions if t.role == "remedy"),
            "triggers": tuple(dict.fromkeys(t.trigger for t in self.transitions)),
            "notify_kinds": frozenset(k for n in self.notifiers.values() for k in n.events),
            "starts": {
                trigger: tuple(c for c in self.clocks.values() if trigger in c.start)
                for trigger in triggers
            },
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    def tier_named(self, text: str) -> str:
        """The tier ``text`` names: as written, else in any case (``a`` is ``A``) when exactly
        one tier is spelt that way; unknown names are left for the caller to refuse."""
        if text in self.tiers:
            return text
        same = [t for t in self.tiers if t.casefold() == text.strip().casefold()]
        return same[0] if len(same) == 1 else text

    def on_repeat(self, channel: str) -> str:
        """What an external id seen again on a final ticket does on ``channel``: ``new`` (a
        ticket that recurs it) or ``note`` (a note on the final ticket)."""
        return str(self.channels.get(channel, {}).get("on_repeat_after_final", "new"))


def member(
    what: str, value: str, known: Mapping[str, Any], error: type[FaultflowError] = InvalidInput
) -> None:
    """Refuse ``value`` unless it is one of ``known``, listing them."""
    if value not in known:
        raise error(f"unknown {what} {value!r} (known: {', '.join(known)})")
