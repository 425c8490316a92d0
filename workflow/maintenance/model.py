"""What a maintenance window covers, and when two of them collide. Pure: values in, values out.

A window's *scope* is one entry of the registry — ``unit:CODE``, ``site:CODE``, ``line:CODE``,
``device:SERIAL`` — or ``all``. It covers a ticket (a fault) whose place names that entry: a
ticket at a device is at its site and unit too (intake fills them in from the registry), so a
window on the unit covers it. Two windows collide when their times overlap and one covers the
other's place (``all`` collides with every window of its time).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

KINDS = ("unit", "site", "line", "device")
"""The parts of the registry a window may cover (and ``all``)."""
ALL = "all"


@dataclass(frozen=True, slots=True)
class Scope:
    """What a window covers: ``kind`` one of :data:`KINDS` with its ``code``, or ``all``."""

    kind: str
    code: str = ""

    @classmethod
    def parse(cls, text: str) -> Scope:
        """``unit:CG-GOV``, ``site:CG-GOV-MAIN``, ``line:…``, ``device:SERIAL`` or ``all``;
        :class:`ValueError` says what is wrong, in words."""
        said = (text or "").strip()
        if said.casefold() == ALL:
            return cls(ALL)
        kind, sep, code = said.partition(":")
        kind, code = kind.strip().casefold(), code.strip()
        if not sep or kind not in KINDS or not code:
            raise ValueError(
                f"scope {text!r}: give unit:CODE, site:CODE, line:CODE, device:SERIAL or all"
            )
        return cls(kind, code)

    def __str__(self) -> str:
        return ALL if self.kind == ALL else f"{self.kind}:{self.code}"

    def covers(self, place: Mapping[str, str | None]) -> bool:
        """Whether a fault at ``place`` (codes by the names of :data:`KINDS`) is inside."""
        return self.kind == ALL or place.get(self.kind) == self.code


def overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether two half-open spans [start, end) share a moment."""
    return a[0] < b[1] and b[0] < a[1]


def collide(
    a: Scope,
    a_place: Mapping[str, str | None],
    b: Scope,
    b_place: Mapping[str, str | None],
) -> bool:
    """Whether two windows' scopes meet (their times aside): ``all`` meets everything; else one
    covers the other's place (``*_place``: where the scope's own entry is, by the registry —
    a site's unit, a device's site and unit)."""
    return a.kind == ALL or b.kind == ALL or a.covers(b_place) or b.covers(a_place)
