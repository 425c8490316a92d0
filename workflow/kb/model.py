"""An experience entry as people read it, and the rules of its life (pure: no database).

An entry is **drafted** (by hand, or from a ticket when it is reported), **approved** by an
engineer once its symptom, cause and fix are right — only approved entries are suggested —
and **retired** when it no longer holds (a model replaced, a fix superseded). Editing an
approved entry keeps it approved; a retired one is kept, read-only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from ..db.records import KBEntryRecord
from ..errors import IllegalTransition, InvalidInput
from ..timekeeping.times import from_us

STATES = ("draft", "approved", "retired")
MOVES = {"approve": ({"draft"}, "approved"), "retire": ({"draft", "approved"}, "retired")}
"""What each step of an entry's life takes it from, and to."""

TEXTS = ("symptom", "cause", "fix")
LIMIT = 4000  # characters of a symptom, cause or fix


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    state: str
    symptom: str
    cause: str
    fix: str
    models: tuple[str, ...]
    line_kind: str | None
    spare: str | None
    fix_time: timedelta | None
    tickets: tuple[str, ...]
    author: str
    created_at: datetime
    changed_at: datetime
    changed_by: str
    version: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "state": self.state, "symptom": self.symptom, "cause": self.cause,
            "fix": self.fix, "models": list(self.models), "line_kind": self.line_kind,
            "spare": self.spare,
            "fix_s": int(self.fix_time.total_seconds()) if self.fix_time is not None else None,
            "tickets": list(self.tickets), "author": self.author,
            "created_at": self.created_at.isoformat(), "changed_at": self.changed_at.isoformat(),
            "changed_by": self.changed_by, "version": self.version,
        }  # fmt: skip


def entry_view(r: KBEntryRecord, zone: tzinfo) -> Entry:
    return Entry(
        r.id, r.state, r.symptom, r.cause, r.fix, tuple(json.loads(r.models)), r.line_kind,
        r.spare, timedelta(microseconds=r.fix_us) if r.fix_us is not None else None,
        tuple(json.loads(r.tickets)), r.author, from_us(r.created_us, zone),
        from_us(r.changed_us, zone), r.changed_by, r.version,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Found:
    """An entry a search found, with its score (higher is better)."""

    entry: Entry
    score: float

    def to_dict(self) -> dict[str, Any]:
        e = self.entry
        return {
            "id": e.id, "symptom": e.symptom, "cause": e.cause, "fix": e.fix,
            "models": list(e.models), "state": e.state, "score": round(self.score, 4),
            "fix_s": int(e.fix_time.total_seconds()) if e.fix_time is not None else None,
            "spare": e.spare, "tickets": list(e.tickets),
        }  # fmt: skip


def checked(values: Mapping[str, Any], base: KBEntryRecord | None = None) -> dict[str, Any]:
    """The fields of a new entry or an edit, cleaned: texts stripped and bounded, models and
    tickets as lists without repeats. Refused: an unknown field, control characters."""
    known = {*TEXTS, "models", "line_kind", "spare", "tickets"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})")
    out: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        if name in ("models", "tickets"):
            items = [value] if isinstance(value, str) else list(value)
            out[name] = list(dict.fromkeys(str(v).strip() for v in items if str(v).strip()))
            continue
        text = str(value).strip()
        if len(text) > LIMIT:
            raise InvalidInput(f"{name}: at most {LIMIT} characters, not {len(text)}")
        if any(ord(c) < 32 and c not in "\n\t" for c in text):
            raise InvalidInput(f"{name}: control characters")
        out[name] = text or (None if name in ("line_kind", "spare") else "")
    return out


def move(r: KBEntryRecord, step: str) -> str:
    """The state ``step`` (approve, retire) takes ``r`` to; refused where it cannot go."""
    sources, target = MOVES[step]
    if r.state not in sources:
        raise IllegalTransition(f"entry {r.id} is {r.state}: it cannot be {target} now")
    if target == "approved":
        missing = [n for n in TEXTS if not getattr(r, n).strip()]
        if missing:
            raise InvalidInput(
                f"entry {r.id} needs its {', '.join(missing)} before it is approved "
                f"(faultflow kb edit {r.id} --{missing[0]} ...)"
            )
    return target
