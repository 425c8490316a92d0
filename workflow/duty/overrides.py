"""Duty overrides, as the database keeps them: recording, listing and removing them, and the
roster (people.py, pure) with the ones in force."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from ..db import overrides as table
from ..db.records import OverrideRecord
from ..db.store import Store
from ..errors import ConfigError, InvalidInput
from ..timekeeping.times import from_us
from .people import OnDuty, Override, People


def required(people: People | None) -> People:
    if people is None:
        raise ConfigError(
            "no people file: give --people PATH (or FAULTFLOW_PEOPLE, or ./people.toml)"
        )
    return people


def roster(store: Store, people: People) -> People:
    """``people`` with the overrides recorded in ``store`` in force."""
    found = [
        Override(i, o.role, o.person, o.start_us, o.end_us, o.reason, o.actor)
        for i, o in table.listed(store)
    ]
    return people.with_overrides(found)


def add_override(
    store: Store, people: People, role: str, person: str, start_us: int, end_us: int,
    reason: str | None, actor: str, now_us: int,
) -> int:  # fmt: skip
    """Record an override after checking it: known role and person, a reason, an interval,
    and no overlap with another override of the role (named). Its id."""
    if role not in people.roles:
        raise InvalidInput(f"unknown role {role!r} (known: {', '.join(people.roles)})")
    if person not in people.people:
        raise InvalidInput(f"unknown person {person!r} (known: {', '.join(people.people)})")
    if not reason:
        raise InvalidInput("an override needs a reason (--reason)")
    if end_us <= start_us:
        raise InvalidInput("the override ends before it starts")
    for i, o in table.listed(store):
        if o.role == role and o.start_us < end_us and start_us < o.end_us:
            raise InvalidInput(
                f"it overlaps override {i} ({o.person} in {role}); remove that one first"
            )
    record = OverrideRecord(role, person, start_us, end_us, reason, actor, now_us, None)
    return table.add(store, record)


def listed(store: Store, zone: tzinfo, removed: bool = False) -> list[dict[str, Any]]:
    """The overrides, as JSON-ready dicts (``removed``: those removed too)."""
    return [
        {
            "id": i,
            "role": o.role,
            "person": o.person,
            "from": from_us(o.start_us, zone).isoformat(),
            "to": from_us(o.end_us, zone).isoformat(),
            "reason": o.reason,
            "by": o.actor,
            "removed": from_us(o.removed_us, zone).isoformat() if o.removed_us else None,
        }
        for i, o in table.listed(store, removed)
    ]


def remove(store: Store, override_id: int, now_us: int) -> None:
    if not table.remove(store, override_id, now_us):
        raise InvalidInput(f"no override {override_id} in force (see `faultflow oncall overrides`)")


def on_duty(
    store: Store, people: People | None, role: str | None, at: datetime
) -> dict[str, list[OnDuty]]:
    """Who holds each role (or ``role``) at ``at``, and until when."""
    held = roster(store, required(people))
    names = [role] if role is not None else list(held.roles)
    return {name: held.on_duty(name, at) for name in names}
