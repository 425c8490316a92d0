"""The contract file's shape: one typed declaration per table (msgspec structs), and what a
shape error says — a key path and words an operator reads. Unknown keys and wrong types are
refused here; what the values mean is checked by the compiler (compile.py).
(msgspec rather than pydantic: building pydantic models cost ~17 ms at every start of every
command, a twentieth of `faultflow show`; msgspec's structs cost well under a millisecond.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec

# ---------------------------------------------------------------------------------------------
# The file's shape: one typed declaration per table. msgspec checks types and unknown keys and
# says where (``$.machine.states[2].name``); the compiler below checks what the values mean.


class _Table(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A table of the contract file; unknown keys are refused."""


Names = tuple[str, ...]
Limit = str | dict[str, str]  # one duration for every tier, or a table of tier = duration


OWNER_RULES = ("responder", "intake")  # [contract] owner: who owns a ticket once it is answered


class HeaderShape(_Table, kw_only=True):
    name: str
    timezone: str = "Asia/Shanghai"
    warning_share: float = 0.8
    default_tier: str
    default_kind: str
    backdate_limit: str = "24h"
    max_report_delay: str = "24h"
    language: str = "zh"  # of the handling report, its mail and the compliance report
    owner: str = "responder"  # who owns a ticket after its first step: responder | intake


class TierShape(_Table, kw_only=True):
    label: str = ""
    description: str = ""
    escalate_to: Names = ()
    stops_business: bool | None = None


class NamedShape(_Table, kw_only=True):
    description: str = ""


class StateShape(_Table, kw_only=True):
    name: str
    description: str = ""
    final: bool = False
    role: str | None = None
    labels: dict[str, str] = {}  # what the web portal calls it, by language: { zh = "..." }


class ConditionShape(_Table, kw_only=True):
    tier: Names | None = None
    kind: Names | None = None
    channel: Names | None = None
    cause: Names | None = None


class GuardShape(ConditionShape, kw_only=True):
    reason: Names | None = None
    reason_required: bool = False
    clock_breached: str | None = None
    any_: tuple[GuardShape, ...] | None = msgspec.field(default=None, name="any")
    all_: tuple[GuardShape, ...] | None = msgspec.field(default=None, name="all")


class TransitionShape(_Table, kw_only=True):
    trigger: str
    source: str | Names
    dest: str
    guard: GuardShape | None = None
    explain: str = ""
    role: str | None = None
    labels: dict[str, str] = {}  # the trigger as a button says it, by language


class MachineShape(_Table, kw_only=True):
    initial: str
    intake: str = "intake"
    states: tuple[StateShape, ...]
    transitions: tuple[TransitionShape, ...]


class OverrideShape(_Table, kw_only=True):
    when: ConditionShape
    limit: Limit


class BreachShape(_Table, kw_only=True):
    escalate: bool = True


class ClockShape(_Table, kw_only=True):
    description: str = ""
    start: Names
    stop: Names
    limit: Limit
    pausable: bool = False
    warning_share: float | None = None
    applies: ConditionShape | None = None
    override: tuple[OverrideShape, ...] = ()
    on_breach: BreachShape = msgspec.field(default_factory=BreachShape)
    labels: dict[str, str] = {}  # the promise in the reporter's words, by language
    calendar: str | None = None  # count working time of [calendars.NAME] only (none: 24x7)


class CalendarShape(_Table, kw_only=True):
    """``[calendars.NAME]``: working days and hours (calendars.py)."""

    timezone: str | None = None  # default: the contract's
    weekdays: Names = ("mon", "tue", "wed", "thu", "fri")
    hours: Names  # the working hours of a working day: ["08:30-12:00", "13:30-17:30"]
    weekday_hours: dict[str, Names] = {}  # other hours on some weekdays: { fri = [...] }
    holidays: str | None = None  # "CN": China's statutory holidays and make-up workdays
    closed: Names = ()  # extra days off: dates or ranges "2026-12-31", "A..B"
    open: Names = ()  # extra working days


class LimitsShape(_Table, kw_only=True):
    """How much input the engine accepts (characters, or bytes and levels for a payload);
    beyond them a call is refused naming the field. See docs/contract.md, ``[limits]``."""

    title: int = 200
    description: int = 65_536
    note: int = 8_192
    reason: int = 1_024
    actor: int = 128
    payload_bytes: int = 1_048_576
    depth: int = 32


Limits = LimitsShape  # the contract's limits are the table as read (and checked)


class ChecklistItemShape(_Table, kw_only=True):
    item: str
    kind: str  # ok | number | text
    min: float | None = None
    max: float | None = None


class InspectionShape(_Table, kw_only=True):
    """``[inspections.NAME]``: a plan of inspection rounds (巡检)."""

    description: str = ""
    rrule: str | None = None  # RFC 5545, in the calendar's (or the contract's) time zone
    every: str | None = None  # day | week | month (instead of rrule)
    at: str | None = None  # HH:MM, with every
    on: str | int | None = None  # with every: a weekday (week), a day of the month (month)
    start: str | None = None  # YYYY-MM-DD: the first day it counts from
    calendar: str | None = None  # rounds only on its working days
    role: str
    due_within: str
    targets: list[str] = []
    checklist: list[ChecklistItemShape]
    tier: str | None = None  # of the ticket a finding opens


class KBShape(_Table, kw_only=True):
    synonyms: list[list[str]] = []  # words of one meaning, beside the built-in ones


class MergeShape(_Table, kw_only=True):
    """``[merge]``: one outage, many reports (docs/tickets.md)."""

    window: str = "2h"  # open tickets at the same place opened within it are offered at intake
    auto: Names = ()  # channels whose new reports are merged into the best candidate at once


class SparesShape(_Table, kw_only=True):
    """``[spares]``: the same-model spares kept in stock (docs/spares.md)."""

    ratio: float | None = None  # warn when a model's stock < ratio × its installed devices
    notify: str | None = None  # the role (people.toml) a low stock is told to
    reserve: Names = ()  # tiers whose dispatch reserves a spare of the device's model ahead
    reserve_on: str = "dispatch"  # the trigger that reserves it (the engineer sets out)


class MaintenanceShape(_Table, kw_only=True):
    """``[maintenance]``: planned work (docs/maintenance.md)."""

    max: str = "24h"  # the longest window that may be scheduled


class FollowupShape(_Table, kw_only=True):
    """``[followup]``: the follow-up call after a report (回访, docs/followup.md)."""

    within: str  # due this long after the ticket is reported
    calendar: str | None = None  # counted over its working time (none: 24x7)
    threshold: int = 2  # a rating at or below it opens a review for the unit's manager
    tier: str | None = None  # of the review ticket (default: the contract's default tier)


class MonthlyShape(_Table, kw_only=True):
    """``[monthly]``: the monthly service report mailed to the customer (docs/reports.md)."""

    to: Names = ()  # its recipients (mail addresses)
    calendar: str | None = None  # sent when it first opens in the month (none: the 1st, 09:00)
    lang: str | None = None  # its language (default: the contract's)


class ContractShape(_Table, kw_only=True):
    schema: int
    contract: HeaderShape
    tiers: dict[str, TierShape]
    kinds: dict[str, NamedShape]
    causes: dict[str, NamedShape] = {}
    machine: MachineShape
    clocks: dict[str, ClockShape] = {}
    calendars: dict[str, CalendarShape] = {}
    channels: dict[str, dict[str, Any]] = {}  # read by the channel adapters
    notifiers: dict[str, dict[str, Any]] = {}  # read by _Compiler._notifier and the notifiers
    limits: LimitsShape = msgspec.field(default_factory=LimitsShape)
    kb: KBShape = msgspec.field(default_factory=lambda: KBShape())
    inspections: dict[str, InspectionShape] = {}
    merge: MergeShape = msgspec.field(default_factory=lambda: MergeShape())
    spares: SparesShape = msgspec.field(default_factory=lambda: SparesShape())
    maintenance: MaintenanceShape = msgspec.field(default_factory=lambda: MaintenanceShape())
    followup: FollowupShape | None = None
    monthly: MonthlyShape = msgspec.field(default_factory=lambda: MonthlyShape())


GUARD_KEYS = tuple(
    f.encode_name for f in msgspec.structs.fields(GuardShape)
)  # for the error that lists them

_TYPE_WORDS = {
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "array": "a list",
    "object": "a table",
    "null": "nothing",
}
_EXPECTED = re.compile(r"Expected `([^`]*)`, got `([^`]*)` ?(?:- at `\$(.*)`)?")
_UNKNOWN = re.compile(r"Object contains unknown field `([^`]*)` ?(?:- at `\$(.*)`)?")
_MISSING = re.compile(r"Object missing required field `([^`]*)` ?(?:- at `\$(.*)`)?")


_STEP = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+|\.\.\.)\]")


def _name_keys(text: str, data: Mapping[str, Any], shape: type[Any] | None = None) -> str:
    """Put the table names back into msgspec's path: it writes ``clocks[...]`` for "some key of
    the clocks table". Each such key is found by checking the table's entries one at a time."""
    original = text
    while "[...]" in text:
        at = text.rindex("`$") + 2
        steps = list(_STEP.finditer(text, at))
        node: Any = data
        cut = next(i for i, m in enumerate(steps) if m[2] == "...")
        for m in steps[:cut]:
            node = node[m[1]] if m[1] is not None else node[int(m[2])]
        if not isinstance(node, dict):
            return text.replace("[...]", "")
        found = None
        for key, value in node.items():
            trial = _with(data, steps[:cut], {key: value})
            try:
                msgspec.convert(trial, shape or ContractShape)
            except msgspec.ValidationError as again:
                if str(again) == original:
                    found = key
                    break
        if found is None:
            return text.replace("[...]", "")
        step = steps[cut]
        text = f"{text[: step.start()]}.{found}{text[step.end() :]}"
        data = _with(data, steps[:cut], {found: node[found]})
    return text


def _with(data: Any, steps: list[re.Match[str]], table: dict[str, Any]) -> Any:
    """A copy of ``data`` with the table at ``steps`` replaced by ``table`` (copies on the way)."""
    if not steps:
        return table
    m, rest = steps[0], steps[1:]
    if m[1] is not None:
        return {**data, m[1]: _with(data[m[1]], rest, table)}
    index = int(m[2])
    return [*data[:index], _with(data[index], rest, table), *data[index + 1 :]]


def _words(types: str) -> str:
    return " or ".join(_TYPE_WORDS.get(t.strip(), t.strip()) for t in types.split("|"))


def shape_error(
    err: msgspec.ValidationError, data: Mapping[str, Any], shape: type[Any] | None = None
) -> Invalid:
    """msgspec's message, as a key path and words an operator reads."""
    text = _name_keys(str(err), data, shape)

    def where(base: str | None, key: str = "") -> str:
        path = (base or "").removeprefix(".")
        return f"{path}.{key}" if path and key else path or key or "(top level)"

    if m := _UNKNOWN.fullmatch(text):
        path = where(m[2], m[1])
        if (m[2] or "").endswith("guard") or re.search(r"\.(any|all)\[\d+\]$", m[2] or ""):
            return Invalid(path, f"unknown guard (guards are: {', '.join(GUARD_KEYS)})")
        return Invalid(path, "unknown key")
    if m := _MISSING.fullmatch(text):
        return Invalid(where(m[2], m[1]), "missing")
    if m := _EXPECTED.fullmatch(text):
        return Invalid(where(m[3]), f"must be {_words(m[1])}, not {_words(m[2])}")
    return Invalid("(top level)", text)


class Invalid(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message
