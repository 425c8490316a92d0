"""People, duty rosters and escalation chains: ``people.toml``, and who holds a role when.

Pure: a roster takes values (the file, the overrides recorded in the database, a moment) and
returns values; no database, no clock of its own. Tested with properties (tests/test_people.py).

A role is a fixed list of people (all of them, always) or a **rotation**: members in order,
each holding the role for one ``shift`` (``1d``, ``1w``, ``12h``...), handing over at
``handoff`` (wall-clock time in the role's ``timezone``) from ``start`` on. Shifts are counted
in wall-clock time: a shift that spans a daylight-saving change is an hour shorter or longer,
and the handoff stays at 09:00. An **override** (a swap, sick leave) puts one person in a role
for an interval; overrides of one role never overlap, and the one in force is found by binary
search (O(log n)).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from ..contract.compile import describe_shape_error, read_toml
from ..errors import ConfigError
from ..timekeeping.durations import parse_duration
from ..timekeeping.times import from_us, in_zone, to_us

CONTACT_KINDS = ("wecom", "mobile", "email")
UNIT_MANAGER = "unit-manager"
"""The role each ticket fills for itself: its unit's own customer manager (the registry's
``manager`` of the ticket's unit). A role of that name in people.toml is who is paged when the
ticket's unit is not known or names no manager; without one, that is a gap, recorded."""


class _Table(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A table of people.toml; unknown keys are refused."""


class PersonShape(_Table, kw_only=True):
    name: str
    wecom: str | None = None
    mobile: str | None = None
    email: str | None = None
    contacts: dict[str, str] = {}  # further kinds, for notifier plugins (e.g. { sms = "..." })


class RoleShape(_Table, kw_only=True):
    people: tuple[str, ...] | None = None
    rotation: tuple[str, ...] | None = None
    shift: str = "1d"
    handoff: str = "09:00"
    timezone: str | None = None
    start: date | None = None
    description: str = ""
    labels: dict[str, str] = {}  # what the duty board calls the role, by language


class StepShape(_Table, kw_only=True):
    notify: tuple[str, ...]
    wait: str | None = None


class ChainShape(_Table, kw_only=True):
    steps: tuple[StepShape, ...]
    repeat: int = 1


class PeopleShape(_Table, kw_only=True):
    timezone: str | None = None  # the default of every role (else the contract's)
    people: dict[str, PersonShape] = {}
    roles: dict[str, RoleShape] = {}
    escalation: dict[str, ChainShape] = {}


# -- the compiled file -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str
    contacts: Mapping[str, str]  # kind -> address: wecom, mobile, email, and plugin kinds

    def to_dict(self) -> dict[str, Any]:
        return {"person": self.id, "name": self.name, "contacts": dict(self.contacts)}


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    description: str
    members: tuple[str, ...]
    rotating: bool
    shift: timedelta = timedelta(days=1)
    start: datetime | None = None  # naive wall-clock time of the first handoff
    zone: ZoneInfo | None = None
    labels: Mapping[str, str] = field(default_factory=dict)  # by language (the duty board)


@dataclass(frozen=True, slots=True)
class Step:
    notify: tuple[str, ...]  # roles (or person ids)
    wait: timedelta | None  # before the next step; None: the last step's wait is the chain's


@dataclass(frozen=True, slots=True)
class Chain:
    name: str
    steps: tuple[Step, ...]
    repeat: int


@dataclass(frozen=True, slots=True)
class Override:
    """One person in a role for [start_us, end_us), recorded in the database."""

    id: int
    role: str
    person: str
    start_us: int
    end_us: int
    reason: str
    actor: str


@dataclass(frozen=True, slots=True)
class OnDuty:
    """Who holds a role at a moment, and until when (``None``: no end is known)."""

    person: Person
    until: datetime | None
    override: int | None = None  # the override that puts them there


@dataclass(frozen=True)
class People:
    """A compiled people.toml."""

    source: str
    people: Mapping[str, Person]
    roles: Mapping[str, Role]
    chains: Mapping[str, Chain]
    zone: ZoneInfo
    warnings: tuple[str, ...] = ()
    _overrides: dict[str, tuple[list[int], list[Override]]] = field(default_factory=dict)

    def with_overrides(self, overrides: Sequence[Override]) -> People:
        """The same roster with these overrides in force (refused if any overlap)."""
        by_role: dict[str, list[Override]] = {}
        for o in sorted(overrides, key=lambda o: (o.role, o.start_us)):
            mine = by_role.setdefault(o.role, [])
            if mine and mine[-1].end_us > o.start_us:
                raise ConfigError(f"overrides {mine[-1].id} and {o.id} of role {o.role!r} overlap")
            mine.append(o)
        index = {role: ([o.start_us for o in os], os) for role, os in by_role.items()}
        return People(self.source, self.people, self.roles, self.chains, self.zone,
                      self.warnings, index)  # fmt: skip

    def override_at(self, role: str, at_us: int) -> Override | None:
        """The override of ``role`` in force at ``at_us`` (binary search)."""
        found = self._overrides.get(role)
        if not found:
            return None
        starts, overrides = found
        i = bisect.bisect_right(starts, at_us) - 1
        if i >= 0 and overrides[i].end_us > at_us:
            return overrides[i]
        return None

    def _next_override(self, role: str, at_us: int) -> int | None:
        found = self._overrides.get(role)
        if not found:
            return None
        starts, _ = found
        i = bisect.bisect_right(starts, at_us)
        return starts[i] if i < len(starts) else None

    def on_duty(self, role: str, at: datetime) -> list[OnDuty]:
        """Who holds ``role`` at ``at`` (an aware datetime), each with until when. An id that
        names a person rather than a role is that person, always."""
        if role not in self.roles:
            if role in self.people:
                return [OnDuty(self.people[role], None)]
            raise ConfigError(f"unknown role {role!r} (known: {', '.join(sorted(self.roles))})")
        at_us = to_us(at)
        o = self.override_at(role, at_us)
        if o is not None:
            return [OnDuty(self.people[o.person], from_us(o.end_us, self.zone), o.id)]
        r = self.roles[role]
        nxt = self._next_override(role, at_us)
        cap = from_us(nxt, self.zone) if nxt is not None else None
        if not r.rotating:
            return [OnDuty(self.people[p], cap) for p in r.members]
        index, until = shift_at(r, at)
        holder = r.members[index % len(r.members)]
        end = cap if cap is not None and to_us(cap) < to_us(until) else until
        return [OnDuty(self.people[holder], end)]

    def resolve(
        self, names: Sequence[str], at: datetime, bound: Mapping[str, str] | None = None
    ) -> tuple[list[OnDuty], list[str]]:
        """The people the roles (or person ids) ``names`` reach at ``at``, without repeats, and
        the roles nobody holds (a gap: the caller records it). ``bound``: roles a ticket fills
        for itself (:data:`UNIT_MANAGER`), role → person id; they win over the file's."""
        seen: dict[str, OnDuty] = {}
        empty = []
        for name in names:
            person = self.people.get((bound or {}).get(name, ""))
            try:
                found = [OnDuty(person, None)] if person else self.on_duty(name, at)
            except ConfigError:  # a role the file no longer has: a gap, said, never silence
                found = []
            if not found:
                empty.append(name)
            for d in found:
                seen.setdefault(d.person.id, d)
        return list(seen.values()), empty


def shift_at(role: Role, at: datetime) -> tuple[int, datetime]:
    """The index of the shift of a rotating ``role`` in force at ``at``, and when it ends.

    Shifts are counted in wall-clock time of the role's zone from its first handoff: the k-th
    starts at ``start + k * shift`` read on the wall clock (so handoffs stay at the same time
    of day across daylight-saving changes)."""
    assert role.start is not None and role.zone is not None
    local = in_zone(at, role.zone).replace(tzinfo=None)  # a plain datetime (not pendulum's)
    k = (local - role.start) // role.shift
    end = (role.start + (k + 1) * role.shift).replace(tzinfo=role.zone)
    return k, end


# -- loading ---------------------------------------------------------------------------------


def seed_people_path() -> Path:
    """The roster that ships with the seed contract (people.toml, made-up people)."""
    return Path(str(resources.files("faultflow").joinpath("people.toml")))


def find(path: str | Path | None) -> Path | None:
    """people.toml as given (``--people``, ``FAULTFLOW_PEOPLE``), else ./people.toml if there
    is one, else none (escalations then name roles only, as before there were people)."""
    if path is not None:
        return Path(path)
    local = Path("people.toml")
    return local if local.is_file() else None


def load(path: str | Path, contract: Any) -> People:
    """Read, validate (against ``contract``: its time zone, tiers and the roles its tiers
    escalate to) and compile a people file; :class:`ConfigError` naming the key path."""
    file = Path(path)
    return compile_people(read_toml(file, "people"), contract, str(file))


def compile_people(data: Mapping[str, Any], contract: Any, source: str = "<people>") -> People:
    try:
        shape = msgspec.convert(data, PeopleShape)
    except msgspec.ValidationError as err:
        where, message = describe_shape_error(err, data, PeopleShape)
        raise ConfigError(f"{source}: {where}: {message}") from None
    try:
        return _compile(shape, contract, source)
    except _Bad as err:
        raise ConfigError(f"{source}: {err.path}: {err.message}") from None


class _Bad(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path, self.message = path, message


def _zone(path: str, name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Bad(path, f"unknown time zone {name!r}") from None


def _compile(shape: PeopleShape, contract: Any, source: str) -> People:
    default_zone = _zone("timezone", shape.timezone) if shape.timezone else contract.timezone
    people = {}
    for pid, p in shape.people.items():
        contacts = {k: v for k, v in (("wecom", p.wecom), ("mobile", p.mobile),
                                      ("email", p.email)) if v}  # fmt: skip
        for kind, value in p.contacts.items():
            if kind in CONTACT_KINDS:
                raise _Bad(f"people.{pid}.contacts.{kind}", f"write it as people.{pid}.{kind}")
            contacts[kind] = value
        people[pid] = Person(pid, p.name, contacts)
    roles = {}
    for name, r in shape.roles.items():
        path = f"roles.{name}"
        if name in people:
            raise _Bad(path, f"{name!r} is a person's id too: a role needs a name of its own")
        if (r.people is None) == (r.rotation is None):
            raise _Bad(path, "give either people = [...] (all of them) or rotation = [...]")
        members = r.people if r.people is not None else r.rotation
        assert members is not None
        if not members:
            raise _Bad(f"{path}.{'people' if r.people is not None else 'rotation'}",
                       "nobody: a role nobody holds pages nobody")  # fmt: skip
        for i, pid in enumerate(members):
            if pid not in people:
                key = "people" if r.people is not None else "rotation"
                raise _Bad(f"{path}.{key}[{i}]", f"unknown person {pid!r}")
        if r.rotation is None:
            roles[name] = Role(name, r.description, tuple(members), False, labels=r.labels)
            continue
        zone = _zone(f"{path}.timezone", r.timezone) if r.timezone else default_zone
        try:
            weeks = r.shift.strip().removesuffix("w")
            shift = timedelta(weeks=int(weeks)) if weeks.isdigit() else parse_duration(r.shift)
        except ValueError as err:
            raise _Bad(f"{path}.shift", str(err)) from None
        if shift < timedelta(hours=1) or (timedelta(days=1) % shift and shift % timedelta(days=1)):
            raise _Bad(
                f"{path}.shift",
                f"{r.shift!r}: a whole number of days, or hours that divide a day (8h, 12h)",
            )
        try:
            hh, mm = (int(x) for x in r.handoff.split(":"))
            handoff = time(hh, mm)
        except ValueError:
            raise _Bad(f"{path}.handoff", f"{r.handoff!r} is not a time of day (HH:MM)") from None
        if r.start is None:
            raise _Bad(f"{path}.start", "a rotation needs the date of its first handoff")
        start = datetime.combine(r.start, handoff)
        roles[name] = Role(
            name, r.description, tuple(members), True, shift, start, zone, labels=r.labels
        )
    for tier_name, tier in contract.tiers.items():
        for i, role in enumerate(tier.escalate_to):
            if role not in roles and role not in people and role != UNIT_MANAGER:
                raise _Bad(
                    "roles",
                    f"the contract's tier {tier_name} escalates to {role!r} "
                    f"(tiers.{tier_name}.escalate_to[{i}]): no such role or person here",
                )
    for plan_name, plan in getattr(contract, "inspections", {}).items():
        if plan.role not in roles and plan.role not in people and plan.role != UNIT_MANAGER:
            raise _Bad(
                "roles",
                f"the contract's inspection plan {plan_name} is done by {plan.role!r} "
                f"(inspections.{plan_name}.role): no such role or person here",
            )
    chains = {}
    for name, c in shape.escalation.items():
        path = f"escalation.{name}"
        if name not in contract.tiers:
            raise _Bad(
                path, f"no tier {name!r} in the contract (tiers: {', '.join(contract.tiers)})"
            )
        if not c.steps:
            raise _Bad(f"{path}.steps", "a chain needs at least one step")
        if c.repeat < 1:
            raise _Bad(f"{path}.repeat", "at least 1")
        steps = []
        for i, s in enumerate(c.steps):
            for j, who in enumerate(s.notify):
                if who not in roles and who not in people and who != UNIT_MANAGER:
                    raise _Bad(f"{path}.steps[{i}].notify[{j}]", f"unknown role or person {who!r}")
            wait = None
            if s.wait is not None:
                try:
                    wait = parse_duration(s.wait)
                except ValueError as err:
                    raise _Bad(f"{path}.steps[{i}].wait", str(err)) from None
            elif i < len(c.steps) - 1 or c.repeat > 1:
                raise _Bad(f"{path}.steps[{i}].wait", "how long before the next step?")
            steps.append(Step(tuple(s.notify), wait))
        chains[name] = Chain(name, tuple(steps), c.repeat)
    return People(source, people, roles, chains, default_zone)
