"""The registry's model, pure (no database): the five kinds of the network the contract
maintains, their fields, and how a row of values is read and checked against what is known.

A row is a mapping of field names to text, as a spreadsheet or a command line gives it; a kind's
key is its ``code`` (a device's, its ``serial``). References point backwards in :data:`ORDER`
(a site names its unit, a device its unit, site and vendor), so a file is checked kind by kind
in that order, each row against the database *and* the rows before it in the same file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a kind: ``text``, ``date`` (ISO), ``person`` (of people.toml),
    ``contacts`` (people of a unit or a vendor: name, phone, e-mail), or a reference to a
    kind (``ref``)."""

    name: str
    kind: str = "text"
    required: bool = False
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Kind:
    name: str  # plural, as the commands and sheets say it: units
    key: str  # the field that names a row: code (serial for devices)
    fields: tuple[FieldSpec, ...]

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


F = FieldSpec
KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("vendors", "code", (F("code", required=True), F("name", required=True),
                                 F("hotline"), F("contacts", "contacts"))),
        Kind("units", "code", (F("code", required=True), F("name", required=True),
                               F("address"), F("contacts", "contacts"),
                               F("manager", "person"))),
        Kind("sites", "code", (F("code", required=True), F("unit", "ref", True, "units"),
                               F("name", required=True), F("address"))),
        Kind("lines", "code", (F("code", required=True), F("unit", "ref", True, "units"),
                               F("site", "ref", ref="sites"), F("carrier"), F("kind"),
                               F("a_end"), F("b_end"))),
        Kind("devices", "serial", (F("serial", required=True), F("name"),
                                   F("model", required=True), F("unit", "ref", True, "units"),
                                   F("site", "ref", ref="sites"), F("vendor", "ref", ref="vendors"),
                                   F("warranty_end", "date"), F("address"))),
    )
}  # fmt: skip
ORDER = ("vendors", "units", "sites", "lines", "devices")
"""The kinds in the order their references allow (each names only kinds before it)."""

CODE = re.compile(r"[^\s\x00-\x1f\x7f]{1,64}")
"""A key: 1-64 characters, no space or control character (units, circuits, serials...)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a value is refused: the field, a catalogue key (``registry.err.<what>``) and its
    placeholders, so that it is said in the reader's language."""

    field: str
    what: str
    values: Mapping[str, Any]


Known = Mapping[str, Mapping[str, Mapping[str, Any]]]
"""What exists: kind → key → the entry's values (the database and the file's rows so far)."""


def contacts(text: str | None) -> list[dict[str, str]]:
    """Contacts as a cell holds them: ``张三 13800000000 zhang@x.gov.cn; 李四 0374-1234567``
    (one person per ``;`` or line; a word with ``@`` is a mail address, one of digits, ``+``
    and ``-`` a phone number, the rest the name). A JSON list of objects is read as it is."""
    if not text or not text.strip():
        return []
    text = text.strip()
    if text.startswith("["):
        found = json.loads(text)
        return [{k: str(v) for k, v in c.items() if v} for c in found if isinstance(c, dict)]
    out = []
    for part in re.split(r"[;；\n]+", text):
        person: dict[str, str] = {}
        name = []
        for word in part.replace(",", " ").replace("，", " ").split():
            if "@" in word:
                person["email"] = word
            elif re.fullmatch(r"\+?[\d\-()]{5,}", word):
                person["phone"] = word
            else:
                name.append(word)
        if name:
            person["name"] = " ".join(name)
        if person:
            out.append(person)
    return out


def contacts_text(found: list[dict[str, str]]) -> str:
    """Contacts as a cell shows them (the inverse of :func:`contacts`)."""
    return "; ".join(" ".join(c[k] for k in ("name", "phone", "email") if c.get(k)) for c in found)


def phone_digits(text: str) -> str:
    """A phone number as digits only (``0374-123 4567`` → ``03741234567``), for matching."""
    return re.sub(r"\D", "", text)


def read(
    kind: Kind, row: Mapping[str, str | None], known: Known, people: Callable[[str], bool] | None,
    base: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], list[Problem]]:  # fmt: skip
    """The values of ``row`` for an entry of ``kind`` (over ``base``, the entry as it stands
    when editing), and the problems that refuse it. ``people(id)`` says whether a person
    exists (None: there is no people file)."""
    values: dict[str, Any] = dict(base or {})
    problems: list[Problem] = []
    for name, raw in row.items():
        spec = kind.field(name)
        if spec is None:
            problems.append(Problem(name, "column", {"known": ", ".join(kind.names)}))
            continue
        text = raw.strip() if isinstance(raw, str) else raw
        if spec.kind == "contacts":
            try:
                values[name] = contacts(text)
            except (ValueError, AttributeError):
                problems.append(Problem(name, "contacts", {"value": text}))
            continue
        values[name] = text or None
    for spec in kind.fields:
        value = values.get(spec.name)
        if spec.kind == "contacts":
            values.setdefault(spec.name, [])
            continue
        if value is None:
            if spec.required:
                problems.append(Problem(spec.name, "required", {}))
            continue
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            problems.append(Problem(spec.name, "controls", {}))
        elif spec.name == kind.key and not CODE.fullmatch(value):
            problems.append(Problem(spec.name, "code", {"value": value}))
        elif spec.kind == "date":
            try:
                values[spec.name] = date.fromisoformat(value[:10]).isoformat()
            except ValueError:
                problems.append(Problem(spec.name, "date", {"value": value}))
        elif spec.kind == "person":
            if people is None:
                if spec.name in row:  # a value kept from before was checked when it was given
                    problems.append(Problem(spec.name, "no_people", {"value": value}))
            elif not people(value):
                problems.append(Problem(spec.name, "person", {"value": value}))
        elif spec.kind == "ref":
            assert spec.ref is not None
            if value not in known.get(spec.ref, {}):
                problems.append(Problem(spec.name, "unknown", {"kind": spec.ref, "value": value}))
    site = values.get("site")
    if site and "site" in kind.names and not any(p.field == "site" for p in problems):
        owner = known["sites"][site].get("unit")
        if owner != values.get("unit"):
            problems.append(
                Problem(
                    "site", "site_unit", {"site": site, "owner": owner, "unit": values.get("unit")}
                )
            )
    return values, problems


def differing(kind: Kind, a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """The fields whose values differ between two entries of ``kind``."""
    return [f for f in kind.names if (a.get(f) or None) != (b.get(f) or None)]
