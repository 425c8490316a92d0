"""Load and validate a contract file (``states.toml``) into an immutable :class:`Contract`.

Validation has two layers, each in one place. The shape (which keys, which types) is declared
once as typed msgspec structs (``ContractShape`` and the tables under it): unknown keys and wrong
types are refused there, and the compiler receives typed values. The meaning (a duration reads, a
transition names a known state, every state can reach a final state, every tier has a limit) is
checked by ``_Compiler``. Either way a bad file raises one
:class:`~faultflow.errors.ConfigError` whose message names the file and the key path.

(msgspec rather than pydantic: building pydantic models cost ~17 ms at every start of every
command, a twentieth of `faultflow show`; msgspec's structs cost well under a millisecond.)
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from ..errors import ConfigError, FaultflowError, InvalidInput
from ..secrets import MissingSecret, looks_secret, resolve
from ..timekeeping.calendars import (
    ALWAYS,
    WEEKDAYS,
    Calendar,
    CalendarError,
    Timeline,
    official,
    parse_days,
    parse_hours,
    uncovered,
)
from ..timekeeping.durations import parse_duration

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
    }
)
LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")
STATE_ROLES = {"cancelled": "a final state whose tickets are left out of the compliance figures"}
TRANSITION_ROLES = {"remedy": "the stop-gap when a fault is not fixed in time (P10: a spare)"}
NOTIFICATION_KINDS = ("transition", "warning", "breach", "escalation")


# ---------------------------------------------------------------------------------------------
# The file's shape: one typed declaration per table. msgspec checks types and unknown keys and
# says where (``$.machine.states[2].name``); the compiler below checks what the values mean.


class _Table(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A table of the contract file; unknown keys are refused."""


Names = tuple[str, ...]
Limit = str | dict[str, str]  # one duration for every tier, or a table of tier = duration


class HeaderShape(_Table, kw_only=True):
    name: str
    timezone: str = "Asia/Shanghai"
    warning_share: float = 0.8
    default_tier: str
    default_kind: str
    backdate_limit: str = "24h"
    max_report_delay: str = "24h"


class TierShape(_Table, kw_only=True):
    label: str = ""
    description: str = ""
    escalate_to: Names = ()


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


def _shape_error(
    err: msgspec.ValidationError, data: Mapping[str, Any], shape: type[Any] | None = None
) -> _Invalid:
    """msgspec's message, as a key path and words an operator reads."""
    text = _name_keys(str(err), data, shape)

    def where(base: str | None, key: str = "") -> str:
        path = (base or "").removeprefix(".")
        return f"{path}.{key}" if path and key else path or key or "(top level)"

    if m := _UNKNOWN.fullmatch(text):
        path = where(m[2], m[1])
        if (m[2] or "").endswith("guard") or re.search(r"\.(any|all)\[\d+\]$", m[2] or ""):
            return _Invalid(path, f"unknown guard (guards are: {', '.join(GUARD_KEYS)})")
        return _Invalid(path, "unknown key")
    if m := _MISSING.fullmatch(text):
        return _Invalid(where(m[2], m[1]), "missing")
    if m := _EXPECTED.fullmatch(text):
        return _Invalid(where(m[3]), f"must be {_words(m[1])}, not {_words(m[2])}")
    return _Invalid("(top level)", text)


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

    def explain(self, c: Classification) -> str | None:
        """``None`` when ``c`` meets the condition, else which attribute does not (in words)."""
        for name, allowed in self.checks:
            value = getattr(c, name)
            if value not in allowed:
                return f"{name} is {value or 'not set'}, needs {' or '.join(sorted(allowed))}"
        return None

    def matches(self, c: Classification) -> bool:
        return self.explain(c) is None


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
    limits: Limits = field(default_factory=lambda: Limits())
    backdate_limit_us: int = DAY_US
    """How far before now a late entry (``--at``) may be recorded."""
    max_report_delay_us: int = DAY_US
    """How long before receipt a reporter's own time of the fault is believed."""
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
    triggers: tuple[str, ...] = ()
    """Every trigger an operator can fire, in contract order, without repeats."""
    notify_kinds: frozenset[str] = frozenset()
    """The notification kinds some configured notifier wants (others are not written)."""
    starts: Mapping[str, tuple[ClockSpec, ...]] = field(default_factory=dict)
    """The clocks each trigger starts (in contract order)."""

    def __post_init__(self) -> None:
        triggers = {self.intake} | {t.trigger for t in self.transitions}
        derived = {
            "finals": frozenset(s.name for s in self.states.values() if s.final),
            "cancelled": frozenset(s.name for s in self.states.values() if s.role == "cancelled"),
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


# ---------------------------------------------------------------------------------------------
# Loading


def default_contract_path() -> Path:
    """The contract that ships inside the package (the seed contract)."""
    return Path(str(resources.files("faultflow").joinpath("states.toml")))


def load_contract(path: str | Path | None = None) -> Contract:
    """Read, validate and compile a contract file; ``None`` means the packaged default."""
    file = Path(path) if path is not None else default_contract_path()
    text = _read(file, "contract")
    return compile_contract(_toml(file, text), source=str(file), text=text)


def _read(file: Path, what: str) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such {what} file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{file}: cannot read the {what} file: {err}") from None


def _toml(file: Path | str, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{file}: not valid TOML: {err}") from None


def read_toml(file: Path, what: str) -> dict[str, Any]:
    """A TOML file (the contract, people.toml) as a dict; :class:`ConfigError` in one line
    for a file missing, unreadable or not TOML."""
    return _toml(file, _read(file, what))


def version_of(text: str) -> str:
    """A contract version: the first 16 hex digits of the SHA-256 of its text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def contract_from_text(text: str, source: str) -> Contract:
    """A contract version kept in the database, compiled again (TOML, or the JSON a contract
    made from a dict is kept as)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        try:
            data = json.loads(text)
        except ValueError:
            raise ConfigError(f"{source}: neither TOML nor JSON") from None
    return compile_contract(data, source=source, text=text)


def compile_contract(
    data: Mapping[str, Any], source: str = "<contract>", text: str | None = None
) -> Contract:
    """Validate already-parsed contract data (a TOML document as a dict) and compile it.
    ``text`` is the file it was read from (a dict's JSON when none): its version's content."""
    try:
        model = msgspec.convert(data, ContractShape)
    except msgspec.ValidationError as err:
        invalid = _shape_error(err, data)
        raise ConfigError(f"{source}: {invalid.path}: {invalid.message}") from None
    try:
        contract = _Compiler(model, source).compile()
    except _Invalid as err:
        raise ConfigError(f"{source}: {err.path}: {err.message}") from None
    if text is None:
        text = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    object.__setattr__(contract, "text", text)
    object.__setattr__(contract, "version", version_of(text))
    return contract


def describe_shape_error(
    err: msgspec.ValidationError, data: Mapping[str, Any], shape: type[Any]
) -> tuple[str, str]:
    """msgspec's complaint about a TOML file's ``shape`` as (key path, words an operator
    reads); for the other files faultflow reads the same way (people.toml)."""
    invalid = _shape_error(err, data, shape)
    return invalid.path, invalid.message


class _Invalid(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def _one_of(values: object) -> str:
    return ", ".join(sorted(str(v) for v in values))  # type: ignore[attr-defined]


class _Compiler:
    def __init__(self, model: ContractShape, source: str) -> None:
        self.m = model
        self.source = source

    def compile(self) -> Contract:
        m = self.m
        if m.schema != SCHEMA:
            raise _Invalid(
                "schema", f"this faultflow reads contract schema {SCHEMA}, not {m.schema}"
            )
        header = m.contract
        try:
            zone = ZoneInfo(header.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise _Invalid("contract.timezone", f"unknown time zone {header.timezone!r}") from None
        self._share("contract.warning_share", header.warning_share)
        if not m.tiers:
            raise _Invalid("tiers", "at least one tier is needed")
        if not m.kinds:
            raise _Invalid("kinds", "at least one kind is needed")
        self._member("contract.default_tier", header.default_tier, m.tiers, "tier")
        self._member("contract.default_kind", header.default_kind, m.kinds, "kind")
        states = self._states()
        transitions = self._transitions(states)
        self._reachability(states, transitions)
        triggers = {m.machine.intake} | {t.trigger for t in transitions}
        calendars = {name: self._calendar(name, c, zone) for name, c in m.calendars.items()}
        clocks = {
            name: self._clock(name, spec, header.warning_share, triggers, calendars)
            for name, spec in m.clocks.items()
        }
        for i, t in enumerate(transitions):
            self._guard_clocks(f"machine.transitions[{i}].guard", t.guard, clocks)
        for name, table in m.channels.items():
            self._channel(name, table, m.tiers)
        return Contract(
            source=self.source,
            name=header.name,
            timezone=zone,
            warning_share=header.warning_share,
            default_tier=header.default_tier,
            default_kind=header.default_kind,
            tiers={
                name: Tier(name, t.label, t.description, t.escalate_to)
                for name, t in m.tiers.items()
            },
            kinds={name: k.description for name, k in m.kinds.items()},
            causes={name: c.description for name, c in m.causes.items()},
            states=states,
            initial=m.machine.initial,
            intake=m.machine.intake,
            transitions=transitions,
            clocks=clocks,
            channels={
                name: self._secrets(f"channels.{name}", table) for name, table in m.channels.items()
            },
            notifiers={
                name: self._notifier(name, self._secrets(f"notifiers.{name}", table))
                for name, table in m.notifiers.items()
            },
            calendars=calendars,
            warnings=tuple(
                f"{where} holds what looks like a literal secret: name an environment variable "
                'instead, e.g. { env = "WECOM_WEBHOOK_URL" }'
                for kind, tables in (("channels", m.channels), ("notifiers", m.notifiers))
                for name, table in tables.items()
                for where in looks_secret(table, f"{kind}.{name}")
            )
            + self._calendar_warnings(calendars, zone),
            limits=self._limits_table(m.limits),
            backdate_limit_us=self._us("contract.backdate_limit", header.backdate_limit),
            max_report_delay_us=self._us("contract.max_report_delay", header.max_report_delay),
        )

    def _calendar(self, name: str, c: CalendarShape, default: ZoneInfo) -> Calendar:
        path = f"calendars.{name}"
        self._name(path, name)
        try:
            zone = ZoneInfo(c.timezone) if c.timezone is not None else default
        except (ZoneInfoNotFoundError, ValueError):
            raise _Invalid(f"{path}.timezone", f"unknown time zone {c.timezone!r}") from None
        for i, day in enumerate(c.weekdays):
            if day not in WEEKDAYS:
                raise _Invalid(f"{path}.weekdays[{i}]", f"{day!r}: one of {', '.join(WEEKDAYS)}")
        for day in c.weekday_hours:
            if day not in c.weekdays:
                raise _Invalid(
                    f"{path}.weekday_hours.{day}", f"{day!r} is not one of this calendar's weekdays"
                )
        try:
            hours = parse_hours(c.hours, "hours")
            by_day = {
                WEEKDAYS.index(day): parse_hours(ranges, f"weekday_hours.{day}")
                for day, ranges in c.weekday_hours.items()
            }
            closed, opened = parse_days(c.closed, "closed"), parse_days(c.open, "open")
            holidays = official(c.holidays) if c.holidays is not None else None
        except CalendarError as err:
            raise _Invalid(f"{path}.{err.where}", str(err)) from None
        weekdays = frozenset(WEEKDAYS.index(d) for d in c.weekdays)
        if not hours or not (weekdays or opened):
            raise _Invalid(path, "no working time at all (give hours and weekdays)")
        return Calendar(name, zone, weekdays, hours, by_day, closed, opened, holidays)

    @staticmethod
    def _calendar_warnings(calendars: Mapping[str, Calendar], zone: ZoneInfo) -> tuple[str, ...]:
        """A year (this one or the next) whose official holidays the library does not know."""
        year = datetime.now(zone).year
        out = []
        for name, cal in calendars.items():
            missing = uncovered(cal, (year, year + 1))
            if missing and cal.holidays is not None:
                first, last = cal.holidays.years
                out.append(
                    f"calendars.{name}.holidays: the {cal.holidays.source} calendar known here "
                    f"covers {first}–{last}; in {', '.join(map(str, missing))} only the weekdays "
                    "and this file's closed/open lists count (list that year's holidays and "
                    "make-up workdays, or upgrade the chinesecalendar package)"
                )
        return tuple(out)

    def _us(self, path: str, text: str) -> int:
        return int(self._duration(path, text) / timedelta(microseconds=1))

    def _channel(self, name: str, table: Mapping[str, Any], tiers: Mapping[str, Any]) -> None:
        """The keys every channel understands (the adapters read the rest)."""
        path = f"channels.{name}"
        repeat = table.get("on_repeat_after_final", "new")
        if repeat not in ("new", "note"):
            raise _Invalid(
                f"{path}.on_repeat_after_final", f'must be "new" or "note", not {repeat!r}'
            )
        default = table.get("default_tier")
        if default is not None:
            if not isinstance(default, str):
                raise _Invalid(f"{path}.default_tier", "must name a tier")
            self._member(f"{path}.default_tier", default, tiers, "tier")

    @staticmethod
    def _secrets(path: str, table: Mapping[str, Any]) -> dict[str, Any]:
        """The table with its ``{ env = "NAME" }`` values read from the environment."""
        try:
            resolved: dict[str, Any] = resolve(table, path)
        except MissingSecret as err:
            raise _Invalid(
                err.path, f"the environment variable {err.variable} is not set"
            ) from None
        return resolved

    def _limits_table(self, shape: LimitsShape) -> Limits:
        for key, value in msgspec.structs.asdict(shape).items():
            if value < 1:
                raise _Invalid(f"limits.{key}", f"must be at least 1, not {value}")
        return shape

    def _notifier(self, name: str, table: Mapping[str, Any]) -> Notifying:
        path = f"notifiers.{name}"
        self._name(path, name)
        use = table.get("use", name)
        if not isinstance(use, str) or not use:
            raise _Invalid(f"{path}.use", "must name a notifier plugin (see `faultflow channels`)")
        events = table.get("events", list(NOTIFICATION_KINDS))
        if not isinstance(events, list) or not events:
            raise _Invalid(f"{path}.events", f"a list of: {', '.join(NOTIFICATION_KINDS)}")
        for kind in events:
            if kind not in NOTIFICATION_KINDS:
                raise _Invalid(
                    f"{path}.events",
                    f"unknown kind {kind!r} (kinds: {', '.join(NOTIFICATION_KINDS)})",
                )
        config = {k: v for k, v in table.items() if k not in ("use", "events")}
        return Notifying(name, use, frozenset(events), config)

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _share(path: str, value: float) -> None:
        if not 0 < value < 1:
            raise _Invalid(path, f"must lie between 0 and 1 (exclusive), not {value}")

    @staticmethod
    def _member(path: str, value: str, known: Mapping[str, object], what: str) -> None:
        if value not in known:
            raise _Invalid(path, f"unknown {what} {value!r} (known: {_one_of(known)})")

    @staticmethod
    def _name(path: str, value: str) -> None:
        if not value or not value.replace("_", "").replace("-", "").isalnum():
            raise _Invalid(path, f"{value!r} is not a name (letters, digits, - and _)")

    def _values(
        self,
        path: str,
        values: tuple[str, ...] | None,
        known: Mapping[str, object] | None,
        what: str,
    ) -> frozenset[str] | None:
        if values is None:
            return None
        if not values:
            raise _Invalid(path, f"an empty list of {what}s matches nothing")
        if known is not None:
            for v in values:
                self._member(path, v, known, what)
        return frozenset(values)

    def _condition(self, path: str, when: ConditionShape) -> Condition | None:
        """The condition of a ``when``/``applies``/guard table (``None`` if it names nothing)."""
        m = self.m
        condition = Condition(
            tier=self._values(f"{path}.tier", when.tier, m.tiers, "tier"),
            kind=self._values(f"{path}.kind", when.kind, m.kinds, "kind"),
            channel=self._values(f"{path}.channel", when.channel, None, "channel"),
            cause=self._values(f"{path}.cause", when.cause, m.causes, "cause"),
        )
        return None if condition == Condition() else condition

    def _required_condition(self, path: str, when: ConditionShape) -> Condition:
        condition = self._condition(path, when)
        if condition is None:
            raise _Invalid(path, "an empty condition; name a tier, kind, channel or cause")
        return condition

    @staticmethod
    def _labels(path: str, labels: Mapping[str, str]) -> Mapping[str, str]:
        """Words by language: a short language code (``zh``, ``en``) to non-empty text."""
        for language, text in labels.items():
            if not LANGUAGE.fullmatch(language):
                raise _Invalid(f"{path}.{language}", "not a language code (e.g. zh, en, zh-TW)")
            if not text.strip():
                raise _Invalid(f"{path}.{language}", "empty")
        return dict(labels)

    # -- machine ------------------------------------------------------------------------------

    def _states(self) -> dict[str, State]:
        states: dict[str, State] = {}
        for i, s in enumerate(self.m.machine.states):
            path = f"machine.states[{i}].name"
            self._name(path, s.name)
            if s.name in states:
                raise _Invalid(path, f"duplicate state {s.name!r}")
            if s.role is not None:
                where = f"machine.states[{i}].role"
                self._member(where, s.role, STATE_ROLES, "state role")
                if s.role == "cancelled" and not s.final:
                    raise _Invalid(where, "a cancelled state must be final (final = true)")
            self._labels(f"machine.states[{i}].labels", s.labels)
            states[s.name] = State(s.name, s.description, s.final, s.role, s.labels)
        if not states:
            raise _Invalid("machine.states", "no states")
        self._member("machine.initial", self.m.machine.initial, states, "state")
        if states[self.m.machine.initial].final:
            raise _Invalid("machine.initial", "the initial state may not be final")
        if not any(s.final for s in states.values()):
            raise _Invalid("machine.states", "no final state (mark one with final = true)")
        self._name("machine.intake", self.m.machine.intake)
        return states

    def _transitions(self, states: dict[str, State]) -> tuple[Transition, ...]:
        seen: dict[tuple[str, str], int] = {}
        out = []
        open_states = tuple(n for n, s in states.items() if not s.final)
        for i, t in enumerate(self.m.machine.transitions):
            path = f"machine.transitions[{i}]"
            self._name(f"{path}.trigger", t.trigger)
            if t.trigger in RESERVED_TRIGGERS or t.trigger == self.m.machine.intake:
                raise _Invalid(
                    f"{path}.trigger",
                    f"{t.trigger!r} is reserved for the engine "
                    f"(reserved: {_one_of(RESERVED_TRIGGERS)})",
                )
            sources = (t.source,) if isinstance(t.source, str) else t.source
            if sources == ("*",):
                sources = open_states
            if not sources:
                raise _Invalid(f"{path}.source", "no source state")
            for s in sources:
                self._member(f"{path}.source", s, states, "state")
                if states[s].final:
                    raise _Invalid(f"{path}.source", f"{s!r} is final; nothing leaves it")
                if (t.trigger, s) in seen:
                    raise _Invalid(
                        f"{path}",
                        f"duplicate: {t.trigger!r} from {s!r} is already "
                        f"machine.transitions[{seen[(t.trigger, s)]}]",
                    )
                seen[(t.trigger, s)] = i
            self._member(f"{path}.dest", t.dest, states, "state")
            guard = self._guard(f"{path}.guard", t.guard) if t.guard is not None else None
            if t.role is not None:
                self._member(f"{path}.role", t.role, TRANSITION_ROLES, "transition role")
            out.append(Transition(t.trigger, tuple(sources), t.dest, guard, t.explain, t.role))
        return tuple(out)

    def _guard(self, path: str, g: GuardShape) -> Guard:
        for key, group in (("any", g.any_), ("all", g.all_)):
            if group is not None and not group:
                raise _Invalid(f"{path}.{key}", "an empty list")
        guard = Guard(
            condition=self._condition(path, g),
            reason=tuple(g.reason) if g.reason is not None else None,
            reason_required=g.reason_required,
            clock_breached=g.clock_breached,
            any=tuple(self._guard(f"{path}.any[{i}]", s) for i, s in enumerate(g.any_ or ()))
            or None,
            all=tuple(self._guard(f"{path}.all[{i}]", s) for i, s in enumerate(g.all_ or ()))
            or None,
        )
        if guard == Guard():
            raise _Invalid(path, f"an empty guard (guards are: {', '.join(GUARD_KEYS)})")
        if g.reason is not None and not g.reason:
            raise _Invalid(f"{path}.reason", "an empty list of reasons matches nothing")
        return guard

    def _guard_clocks(self, path: str, g: Guard | None, clocks: Mapping[str, ClockSpec]) -> None:
        if g is None:
            return
        if g.clock_breached is not None:
            self._member(f"{path}.clock_breached", g.clock_breached, clocks, "clock")
        for key, group in (("any", g.any), ("all", g.all)):
            for i, sub in enumerate(group or ()):
                self._guard_clocks(f"{path}.{key}[{i}]", sub, clocks)

    def _reachability(self, states: dict[str, State], transitions: tuple[Transition, ...]) -> None:
        edges: dict[str, set[str]] = {s: set() for s in states}
        for t in transitions:
            for s in t.sources:
                edges[s].add(t.dest)
        reached = {self.m.machine.initial}
        frontier = [self.m.machine.initial]
        while frontier:
            for nxt in edges[frontier.pop()]:
                if nxt not in reached:
                    reached.add(nxt)
                    frontier.append(nxt)
        for i, state in enumerate(self.m.machine.states):
            if state.name not in reached:
                raise _Invalid(
                    f"machine.states[{i}]",
                    f"state {state.name!r} cannot be reached from {self.m.machine.initial!r}",
                )
        can_finish = {n for n, s in states.items() if s.final}
        changed = True
        while changed:
            changed = False
            for s, nexts in edges.items():
                if s not in can_finish and nexts & can_finish:
                    can_finish.add(s)
                    changed = True
        for i, state in enumerate(self.m.machine.states):
            if state.name not in can_finish:
                raise _Invalid(
                    f"machine.states[{i}]", f"state {state.name!r} has no way to a final state"
                )

    # -- clocks -------------------------------------------------------------------------------

    def _limits(self, path: str, limit: Limit) -> dict[str, timedelta]:
        tiers = self.m.tiers
        if isinstance(limit, str):
            return dict.fromkeys(tiers, self._duration(path, limit))
        for tier in limit:
            self._member(path, tier, tiers, "tier")
        for tier in tiers:
            if tier not in limit:
                raise _Invalid(path, f"no limit for tier {tier!r}")
        return {tier: self._duration(path, text, f"{tier}: ") for tier, text in limit.items()}

    @staticmethod
    def _duration(path: str, text: str, prefix: str = "") -> timedelta:
        try:
            return parse_duration(text)
        except ValueError as err:
            raise _Invalid(path, f"{prefix}{err}") from None

    def _clock(
        self,
        name: str,
        c: ClockShape,
        share: float,
        triggers: set[str],
        calendars: Mapping[str, Calendar],
    ) -> ClockSpec:
        path = f"clocks.{name}"
        self._name(path, name)
        if c.calendar is not None:
            self._member(f"{path}.calendar", c.calendar, calendars, "calendar")
        for key, names in (("start", c.start), ("stop", c.stop)):
            if not names:
                raise _Invalid(f"{path}.{key}", "name at least one trigger")
            for trigger in names:
                if trigger not in triggers:
                    raise _Invalid(
                        f"{path}.{key}",
                        f"unknown trigger {trigger!r} (triggers: {_one_of(triggers)})",
                    )
        if set(c.start) & set(c.stop):
            raise _Invalid(path, f"{_one_of(set(c.start) & set(c.stop))} both starts and stops it")
        if c.warning_share is not None:
            self._share(f"{path}.warning_share", c.warning_share)
        overrides = tuple(
            (
                self._required_condition(f"{path}.override[{i}].when", o.when),
                self._limits(f"{path}.override[{i}].limit", o.limit),
            )
            for i, o in enumerate(c.override)
        )
        return ClockSpec(
            name=name,
            description=c.description,
            start=frozenset(c.start),
            stop=frozenset(c.stop),
            limits=self._limits(f"{path}.limit", c.limit),
            overrides=overrides,
            pausable=c.pausable,
            warning_share=c.warning_share if c.warning_share is not None else share,
            applies=(self._required_condition(f"{path}.applies", c.applies) if c.applies else None),
            escalate=c.on_breach.escalate,
            labels=self._labels(f"{path}.labels", c.labels),
            calendar=calendars[c.calendar] if c.calendar is not None else ALWAYS,
        )
