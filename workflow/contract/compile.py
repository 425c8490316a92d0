"""Load and validate a contract file (``states.toml``) into an immutable :class:`Contract`.

Validation has two layers, each in one place. The shape (which keys, which types) is declared
once as typed msgspec structs (``ContractShape`` and the tables under it): unknown keys and wrong
types are refused there, and the compiler receives typed values. The meaning (a duration reads, a
transition names a known state, every state can reach a final state, every tier has a limit) is
checked by ``_Compiler``. Either way a bad file raises one
:class:`~faultflow.errors.ConfigError` whose message names the file and the key path.

(msgspec rather than pydantic: building pydantic models cost ~17 ms at every start of every
command, a twentieth of `faultflow show`; msgspec's structs cost well under a millisecond.)

Why this module is longer than the house's ~500 lines: it is the one compiler of the contract's
meaning, table by table (machine, tiers, clocks, calendars, channels, notifiers, limits), each
check naming its key path the same way; the file's shape is shape.py, the compiled model
model.py.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from ..db.records import PLACES
from ..errors import ConfigError
from ..secrets import MissingSecret, looks_secret, resolve
from ..timekeeping.calendars import (
    ALWAYS,
    WEEKDAYS,
    Calendar,
    CalendarError,
    official,
    parse_days,
    parse_hours,
    uncovered,
)
from ..timekeeping.durations import parse_duration
from ..timekeeping.recurrence import Recurrence, RuleError, from_every
from ..timekeeping.recurrence import checked as checked_rule
from ..words import LANGUAGES
from .model import (
    LANGUAGE,
    NOTIFICATION_KINDS,
    RESERVED_TRIGGERS,
    SCHEMA,
    STATE_ROLES,
    TRANSITION_ROLES,
    ChecklistItem,
    ClockSpec,
    Condition,
    Contract,
    Guard,
    Inspection,
    Notifying,
    State,
    Storm,
    Tier,
    Transition,
)
from .shape import (
    GUARD_KEYS,
    OWNER_RULES,
    CalendarShape,
    ClockShape,
    ConditionShape,
    ContractShape,
    GuardShape,
    InspectionShape,
    Invalid,
    Limit,
    Limits,
    LimitsShape,
    shape_error,
)

TARGETS = ("unit", "site", "line", "device", "units", "sites", "lines", "devices")
"""What an inspection round may cover: one entry of the registry (``unit:CODE``), or a kind."""

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
        invalid = shape_error(err, data)
        raise ConfigError(f"{source}: {invalid.path}: {invalid.message}") from None
    try:
        contract = _Compiler(model, source).compile()
    except Invalid as err:
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
    invalid = shape_error(err, data, shape)
    return invalid.path, invalid.message


def _one_of(values: object) -> str:
    return ", ".join(sorted(str(v) for v in values))  # type: ignore[attr-defined]


class _Compiler:
    def __init__(self, model: ContractShape, source: str) -> None:
        self.m = model
        self.source = source

    def compile(self) -> Contract:
        m = self.m
        if m.schema != SCHEMA:
            raise Invalid(
                "schema", f"this faultflow reads contract schema {SCHEMA}, not {m.schema}"
            )
        header = m.contract
        try:
            zone = ZoneInfo(header.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise Invalid("contract.timezone", f"unknown time zone {header.timezone!r}") from None
        self._share("contract.warning_share", header.warning_share)
        if not m.tiers:
            raise Invalid("tiers", "at least one tier is needed")
        if not m.kinds:
            raise Invalid("kinds", "at least one kind is needed")
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
        storms = {}
        for name, table in m.channels.items():
            storm = self._channel(name, table, m.tiers)
            if storm is not None:
                storms[name] = storm
        return Contract(
            source=self.source,
            name=header.name,
            timezone=zone,
            warning_share=header.warning_share,
            default_tier=header.default_tier,
            default_kind=header.default_kind,
            tiers=self._tiers(m.tiers),
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
            storms=storms,
            grouped=frozenset(
                name for name, table in m.channels.items() if table.get("tickets") == "group"
            ),
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
            language=self._language(header.language),
            owner=self._one_of("contract.owner", header.owner, OWNER_RULES),
            kb_synonyms=self._synonyms(m.kb.synonyms),
            inspections={
                name: self._inspection(name, plan, zone, calendars, m.tiers, header.default_tier)
                for name, plan in m.inspections.items()
            },
            merge_window_us=self._us("merge.window", m.merge.window),  # > 0: parse_duration
            merge_auto=frozenset(m.merge.auto),  # channels are plugins: `check` knows them
            maintenance_max_us=self._us("maintenance.max", m.maintenance.max),
            **self._followup(m.followup, calendars, m.tiers, header.default_tier),
            **self._monthly(m.monthly, calendars),
            spare_ratio=self._ratio(m.spares.ratio),
            spare_notify=m.spares.notify or None,
            spare_reserve=self._tiers_named("spares.reserve", m.spares.reserve, m.tiers),
            spare_reserve_on=self._trigger_named(
                "spares.reserve_on", m.spares.reserve_on, transitions, bool(m.spares.reserve)
            ),
        )

    def _monthly(self, m: Any, calendars: Mapping[str, Any]) -> dict[str, Any]:
        for i, address in enumerate(m.to):
            if "@" not in address or any(c.isspace() for c in address.strip()):
                raise Invalid(f"monthly.to[{i}]", f"{address!r} is not a mail address")
        if m.calendar is not None and m.calendar not in calendars:
            raise Invalid("monthly.calendar", f"unknown calendar {m.calendar!r} (known: "
                          f"{', '.join(calendars) or 'none'})")  # fmt: skip
        if m.lang is not None and m.lang not in LANGUAGES:
            raise Invalid("monthly.lang", f"no words for {m.lang!r}: use "
                          f"{' or '.join(LANGUAGES)}")  # fmt: skip
        return {
            "monthly_to": tuple(a.strip() for a in m.to),
            "monthly_calendar": calendars[m.calendar] if m.calendar else ALWAYS,
            "monthly_lang": m.lang or "",
        }

    def _followup(
        self, f: Any, calendars: Mapping[str, Any], tiers: Mapping[str, Any], default: str
    ) -> dict[str, Any]:
        if f is None:
            return {}
        within = self._us("followup.within", f.within)
        if f.calendar is not None and f.calendar not in calendars:
            raise Invalid("followup.calendar", f"unknown calendar {f.calendar!r} (known: "
                          f"{', '.join(calendars) or 'none'})")  # fmt: skip
        if not 1 <= f.threshold <= 5:
            raise Invalid("followup.threshold", f"{f.threshold}: a rating from 1 to 5")
        if f.tier is not None and f.tier not in tiers:
            raise Invalid("followup.tier", f"unknown tier {f.tier!r} (known: {', '.join(tiers)})")
        return {
            "followup_within_us": within,
            "followup_calendar": calendars[f.calendar] if f.calendar else ALWAYS,
            "followup_threshold": f.threshold,
            "followup_tier": f.tier or default,
        }

    @staticmethod
    def _tiers_named(path: str, names: tuple[str, ...], tiers: Mapping[str, Any]) -> frozenset[str]:
        for i, name in enumerate(names):
            if name not in tiers:
                raise Invalid(f"{path}[{i}]", f"unknown tier {name!r} (known: {', '.join(tiers)})")
        return frozenset(names)

    @staticmethod
    def _trigger_named(path: str, name: str, transitions: Any, used: bool) -> str:
        known = sorted({t.trigger for t in transitions})
        if used and name not in known:
            raise Invalid(path, f"unknown trigger {name!r} (the machine's: {', '.join(known)})")
        return name

    @staticmethod
    def _ratio(ratio: float | None) -> float | None:
        if ratio is not None and not 0 < ratio <= 1:
            raise Invalid("spares.ratio", f"{ratio}: a share of the installed devices, 0 < r ≤ 1")
        return ratio

    def _one_of(self, path: str, value: str, allowed: tuple[str, ...]) -> str:
        if value not in allowed:
            raise Invalid(path, f"{value!r}: use {' or '.join(allowed)}")
        return value

    def _language(self, language: str) -> str:
        if language not in LANGUAGES:
            said = " or ".join(LANGUAGES)
            raise Invalid("contract.language", f"no words for {language!r}: use {said}")
        return language

    def _calendar(self, name: str, c: CalendarShape, default: ZoneInfo) -> Calendar:
        path = f"calendars.{name}"
        self._name(path, name)
        try:
            zone = ZoneInfo(c.timezone) if c.timezone is not None else default
        except (ZoneInfoNotFoundError, ValueError):
            raise Invalid(f"{path}.timezone", f"unknown time zone {c.timezone!r}") from None
        for i, day in enumerate(c.weekdays):
            if day not in WEEKDAYS:
                raise Invalid(f"{path}.weekdays[{i}]", f"{day!r}: one of {', '.join(WEEKDAYS)}")
        for day in c.weekday_hours:
            if day not in c.weekdays:
                raise Invalid(
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
            raise Invalid(f"{path}.{err.where}", str(err)) from None
        weekdays = frozenset(WEEKDAYS.index(d) for d in c.weekdays)
        if not hours or not (weekdays or opened):
            raise Invalid(path, "no working time at all (give hours and weekdays)")
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

    def _inspection(
        self, name: str, p: InspectionShape, zone: ZoneInfo, calendars: Mapping[str, Calendar],
        tiers: Mapping[str, Any], default_tier: str,
    ) -> Inspection:  # fmt: skip
        path = f"inspections.{name}"
        self._name(path, name)
        if (p.rrule is None) == (p.every is None):
            raise Invalid(path, 'give either rrule = "FREQ=..." or every = "day"|"week"|"month"')
        try:
            text = p.rrule if p.rrule is not None else from_every(p.every or "", p.at, p.on)
        except RuleError as err:
            raise Invalid(f"{path}.every", str(err)) from None
        calendar = None
        if p.calendar is not None:
            calendar = calendars.get(p.calendar)
            if calendar is None:
                known = ", ".join(calendars) or "none"
                raise Invalid(
                    f"{path}.calendar", f"no [calendars.{p.calendar}] (calendars: {known})"
                )
        start = None
        if p.start is not None:
            try:
                start = date.fromisoformat(p.start)
            except ValueError:
                raise Invalid(f"{path}.start", f"{p.start!r} is not a date (YYYY-MM-DD)") from None
        due = self._duration(f"{path}.due_within", p.due_within)
        if due <= timedelta(0):
            raise Invalid(f"{path}.due_within", "must be longer than 0")
        recurrence = Recurrence(text, calendar.zone if calendar else zone, calendar, start)
        try:
            checked_rule(recurrence, due)
        except RuleError as err:
            raise Invalid(
                f"{path}.{'rrule' if p.rrule is not None else 'every'}", str(err)
            ) from None
        for i, target in enumerate(p.targets):
            kind, _, code = target.partition(":")
            if kind not in TARGETS or (code == "") != (kind.endswith("s")):
                said = "unit:CODE, site:CODE, line:CODE, device:SERIAL, or units, sites, lines..."
                raise Invalid(f"{path}.targets[{i}]", f"{target!r}: {said}")
        if not p.checklist:
            raise Invalid(f"{path}.checklist", "a round checks at least one item")
        items = []
        for i, item in enumerate(p.checklist):
            where = f"{path}.checklist[{i}]"
            if item.kind not in ("ok", "number", "text"):
                raise Invalid(f"{where}.kind", f"{item.kind!r}: ok, number or text")
            if item.kind != "number" and (item.min is not None or item.max is not None):
                raise Invalid(where, "min and max are for a number")
            if item.min is not None and item.max is not None and item.min > item.max:
                raise Invalid(where, f"min {item.min} is above max {item.max}")
            items.append(ChecklistItem(item.item, item.kind, item.min, item.max))
        tier = p.tier or default_tier
        self._member(f"{path}.tier", tier, tiers, "tier")
        return Inspection(
            name, p.description, recurrence, p.role, int(due / timedelta(microseconds=1)),
            tuple(p.targets or ["units"]), tuple(items), tier,
        )  # fmt: skip

    @staticmethod
    def _synonyms(groups: list[list[str]]) -> tuple[tuple[str, ...], ...]:
        for i, group in enumerate(groups):
            words = [w.strip() for w in group]
            if len(words) < 2 or not all(words):
                raise Invalid(f"kb.synonyms[{i}]", "two or more words of one meaning")
        return tuple(tuple(w.strip() for w in g) for g in groups)

    @staticmethod
    def _tiers(tiers: Mapping[str, Any]) -> dict[str, Tier]:
        """The tiers; which stop a unit's business: those that say so, or — when none says
        either way — the first (the most severe)."""
        said = any(t.stops_business is not None for t in tiers.values())
        out = {}
        for i, (name, t) in enumerate(tiers.items()):
            stops = bool(t.stops_business) if said else i == 0
            out[name] = Tier(name, t.label, t.description, t.escalate_to, stops)
        return out

    def _us(self, path: str, text: str) -> int:
        return int(self._duration(path, text) / timedelta(microseconds=1))

    def _channel(
        self, name: str, table: Mapping[str, Any], tiers: Mapping[str, Any]
    ) -> Storm | None:
        """The keys every channel understands (the adapters read the rest); its storm rule."""
        path = f"channels.{name}"
        repeat = table.get("on_repeat_after_final", "new")
        if repeat not in ("new", "note"):
            raise Invalid(
                f"{path}.on_repeat_after_final", f'must be "new" or "note", not {repeat!r}'
            )
        default = table.get("default_tier")
        if default is not None:
            if not isinstance(default, str):
                raise Invalid(f"{path}.default_tier", "must name a tier")
            self._member(f"{path}.default_tier", default, tiers, "tier")
        locate = table.get("locate", {})
        if not isinstance(locate, Mapping):
            raise Invalid(f"{path}.locate", 'must be a table: { device = ["hostname"] }')
        for part, names in locate.items():
            if part not in PLACES:
                raise Invalid(
                    f"{path}.locate.{part}", f"unknown place (known: {', '.join(PLACES)})"
                )
            if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
                raise Invalid(f"{path}.locate.{part}", "must be a list of field or label names")
        tickets = table.get("tickets", "alert")
        if tickets not in ("alert", "group"):
            raise Invalid(f"{path}.tickets", f'must be "alert" or "group", not {tickets!r}')
        storm = table.get("storm")
        if storm is None:
            return None
        where = f"{path}.storm"
        if not isinstance(storm, Mapping):
            raise Invalid(where, 'must be a table: { tickets = 50, within = "1m", tier = "A" }')
        unknown = sorted(set(storm) - {"tickets", "within", "tier"})
        if unknown:
            raise Invalid(f"{where}.{unknown[0]}", "unknown key (known: tickets, within, tier)")
        count = storm.get("tickets")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise Invalid(f"{where}.tickets", f"must be a whole number ≥ 1, not {count!r}")
        within = storm.get("within")
        if not isinstance(within, str):
            raise Invalid(f"{where}.within", 'must be a duration such as "1m"')
        within_us = self._us(f"{where}.within", within)
        if within_us <= 0:
            raise Invalid(f"{where}.within", "must be longer than 0")
        tier = storm.get("tier", next(iter(tiers)))
        if not isinstance(tier, str):
            raise Invalid(f"{where}.tier", "must name a tier")
        self._member(f"{where}.tier", tier, tiers, "tier")
        return Storm(count, within_us, tier)

    @staticmethod
    def _secrets(path: str, table: Mapping[str, Any]) -> dict[str, Any]:
        """The table with its ``{ env = "NAME" }`` values read from the environment."""
        try:
            resolved: dict[str, Any] = resolve(table, path)
        except MissingSecret as err:
            raise Invalid(err.path, f"the environment variable {err.variable} is not set") from None
        return resolved

    def _limits_table(self, shape: LimitsShape) -> Limits:
        for key, value in msgspec.structs.asdict(shape).items():
            if value < 1:
                raise Invalid(f"limits.{key}", f"must be at least 1, not {value}")
        return shape

    def _notifier(self, name: str, table: Mapping[str, Any]) -> Notifying:
        path = f"notifiers.{name}"
        self._name(path, name)
        use = table.get("use", name)
        if not isinstance(use, str) or not use:
            raise Invalid(f"{path}.use", "must name a notifier plugin (see `faultflow channels`)")
        events = table.get("events", list(NOTIFICATION_KINDS))
        if not isinstance(events, list) or not events:
            raise Invalid(f"{path}.events", f"a list of: {', '.join(NOTIFICATION_KINDS)}")
        for kind in events:
            if kind not in NOTIFICATION_KINDS:
                raise Invalid(
                    f"{path}.events",
                    f"unknown kind {kind!r} (kinds: {', '.join(NOTIFICATION_KINDS)})",
                )
        config = {k: v for k, v in table.items() if k not in ("use", "events", "coalesce")}
        coalesce = table.get("coalesce")
        coalesce_us = None
        if coalesce is not None:
            if not isinstance(coalesce, str):
                raise Invalid(f"{path}.coalesce", 'must be a duration such as "5m"')
            coalesce_us = self._us(f"{path}.coalesce", coalesce)
            if coalesce_us <= 0:
                raise Invalid(f"{path}.coalesce", "must be longer than 0")
        return Notifying(name, use, frozenset(events), config, coalesce_us)

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _share(path: str, value: float) -> None:
        if not 0 < value < 1:
            raise Invalid(path, f"must lie between 0 and 1 (exclusive), not {value}")

    @staticmethod
    def _member(path: str, value: str, known: Mapping[str, object], what: str) -> None:
        if value not in known:
            raise Invalid(path, f"unknown {what} {value!r} (known: {_one_of(known)})")

    @staticmethod
    def _name(path: str, value: str) -> None:
        if not value or not value.replace("_", "").replace("-", "").isalnum():
            raise Invalid(path, f"{value!r} is not a name (letters, digits, - and _)")

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
            raise Invalid(path, f"an empty list of {what}s matches nothing")
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
            raise Invalid(path, "an empty condition; name a tier, kind, channel or cause")
        return condition

    @staticmethod
    def _labels(path: str, labels: Mapping[str, str]) -> Mapping[str, str]:
        """Words by language: a short language code (``zh``, ``en``) to non-empty text."""
        for language, text in labels.items():
            if not LANGUAGE.fullmatch(language):
                raise Invalid(f"{path}.{language}", "not a language code (e.g. zh, en, zh-TW)")
            if not text.strip():
                raise Invalid(f"{path}.{language}", "empty")
        return dict(labels)

    # -- machine ------------------------------------------------------------------------------

    def _states(self) -> dict[str, State]:
        states: dict[str, State] = {}
        for i, s in enumerate(self.m.machine.states):
            path = f"machine.states[{i}].name"
            self._name(path, s.name)
            if s.name in states:
                raise Invalid(path, f"duplicate state {s.name!r}")
            if s.role is not None:
                where = f"machine.states[{i}].role"
                self._member(where, s.role, STATE_ROLES, "state role")
                if s.role == "cancelled" and not s.final:
                    raise Invalid(where, "a cancelled state must be final (final = true)")
            self._labels(f"machine.states[{i}].labels", s.labels)
            states[s.name] = State(s.name, s.description, s.final, s.role, s.labels)
        if not states:
            raise Invalid("machine.states", "no states")
        self._member("machine.initial", self.m.machine.initial, states, "state")
        if states[self.m.machine.initial].final:
            raise Invalid("machine.initial", "the initial state may not be final")
        if not any(s.final for s in states.values()):
            raise Invalid("machine.states", "no final state (mark one with final = true)")
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
                raise Invalid(
                    f"{path}.trigger",
                    f"{t.trigger!r} is reserved for the engine "
                    f"(reserved: {_one_of(RESERVED_TRIGGERS)})",
                )
            sources = (t.source,) if isinstance(t.source, str) else t.source
            if sources == ("*",):
                sources = open_states
            if not sources:
                raise Invalid(f"{path}.source", "no source state")
            for s in sources:
                self._member(f"{path}.source", s, states, "state")
                if states[s].final:
                    raise Invalid(f"{path}.source", f"{s!r} is final; nothing leaves it")
                if (t.trigger, s) in seen:
                    raise Invalid(
                        f"{path}",
                        f"duplicate: {t.trigger!r} from {s!r} is already "
                        f"machine.transitions[{seen[(t.trigger, s)]}]",
                    )
                seen[(t.trigger, s)] = i
            self._member(f"{path}.dest", t.dest, states, "state")
            guard = self._guard(f"{path}.guard", t.guard) if t.guard is not None else None
            if t.role is not None:
                self._member(f"{path}.role", t.role, TRANSITION_ROLES, "transition role")
            labels = self._labels(f"{path}.labels", t.labels)
            out.append(
                Transition(t.trigger, tuple(sources), t.dest, guard, t.explain, t.role, labels)
            )
        return tuple(out)

    def _guard(self, path: str, g: GuardShape) -> Guard:
        for key, group in (("any", g.any_), ("all", g.all_)):
            if group is not None and not group:
                raise Invalid(f"{path}.{key}", "an empty list")
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
            raise Invalid(path, f"an empty guard (guards are: {', '.join(GUARD_KEYS)})")
        if g.reason is not None and not g.reason:
            raise Invalid(f"{path}.reason", "an empty list of reasons matches nothing")
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
                raise Invalid(
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
                raise Invalid(
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
                raise Invalid(path, f"no limit for tier {tier!r}")
        return {tier: self._duration(path, text, f"{tier}: ") for tier, text in limit.items()}

    @staticmethod
    def _duration(path: str, text: str, prefix: str = "") -> timedelta:
        try:
            return parse_duration(text)
        except ValueError as err:
            raise Invalid(path, f"{prefix}{err}") from None

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
                raise Invalid(f"{path}.{key}", "name at least one trigger")
            for trigger in names:
                if trigger not in triggers:
                    raise Invalid(
                        f"{path}.{key}",
                        f"unknown trigger {trigger!r} (triggers: {_one_of(triggers)})",
                    )
        if set(c.start) & set(c.stop):
            raise Invalid(path, f"{_one_of(set(c.start) & set(c.stop))} both starts and stops it")
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
