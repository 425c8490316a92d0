"""Where a fault is: the registry's units, sites, lines and devices, found from what a channel
carries — the caller's number or mail address among a unit's contacts, a unit named by its code
or its name (the portal's choice, the hotline's "unit" field), an alert's labels naming a
device (its serial, or the name the monitoring knows it by), a circuit, a site.

:class:`Directory` is pure (built from the registry's entries, no database): lookups are plain
dictionary reads, so intake pays microseconds for them. :class:`Places` keeps one directory for
an engine, built again when the registry's log has moved on (checked at most once a second, and
at once after this engine's own registry changes).

A place is filled from its narrowest known part: a device gives its site and unit, a line its
site and unit, a site its unit. Evidence that does not agree with a narrower part (a unit field
naming another unit than the device's) gives way to it; an ambiguous contact (the same number
in two units' contacts) says nothing rather than guessing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..db import network as table
from ..db.records import PLACES
from ..db.store import Store
from ..intake import IntakeRecord
from .model import phone_digits

HINTS: dict[str, tuple[str, ...]] = {
    "unit": ("unit",),
    "site": ("site",),
    "line": ("line", "circuit"),
    "device": ("device", "serial", "instance"),
}
"""Where a channel's data (and an alert's labels) name a place, by default; a contract's
``[channels.NAME] locate = { device = ["hostname"] }`` adds names of its own, tried first."""

CONTACTS = ("from", "number", "phone", "sender", "email")
"""Fields of a channel's data that may hold the reporter's number or mail address (beside the
record's ``contact``)."""

_AMBIGUOUS = ""  # a key found in more than one unit


def _key(text: str) -> str:
    return text.strip().casefold()


def _phone(text: str) -> str | None:
    """A phone number as matched: digits only, a mainland country code dropped; numbers of
    fewer than 5 digits name nothing."""
    digits = phone_digits(text)
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) == 11:
            digits = digits[len(prefix) :]
    return digits if len(digits) >= 5 else None


def _index(into: dict[str, str], key: str | None, value: str) -> None:
    """``key`` → ``value``, unless another value has it already (then it is ambiguous)."""
    if key:
        found = into.get(key)
        into[key] = value if found is None or found == value else _AMBIGUOUS


@dataclass(slots=True)
class Directory:
    """The registry's entries (not archived), indexed by everything a channel may name them by."""

    units: dict[str, dict[str, Any]] = field(default_factory=dict)
    sites: dict[str, dict[str, Any]] = field(default_factory=dict)
    lines: dict[str, dict[str, Any]] = field(default_factory=dict)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    unit_names: dict[str, str] = field(default_factory=dict)  # casefolded code or name → code
    device_names: dict[str, str] = field(default_factory=dict)  # casefolded name → serial
    phones: dict[str, str] = field(default_factory=dict)  # digits → unit
    mails: dict[str, str] = field(default_factory=dict)  # casefolded address → unit

    @classmethod
    def of(cls, known: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> Directory:
        """The directory of ``known`` (kind → key → entry, as ``db.network.everything``)."""
        d = cls()

        def live(kind: str) -> Iterable[tuple[str, dict[str, Any]]]:
            for code, entry in known.get(kind, {}).items():
                if entry.get("archived_us") is None:
                    yield code, dict(entry)

        for code, unit in live("units"):
            d.units[code] = unit
            _index(d.unit_names, _key(unit.get("name") or ""), code)
            for person in unit.get("contacts") or ():
                _index(d.phones, _phone(person.get("phone") or ""), code)
                _index(d.mails, _key(person.get("email") or ""), code)
        for code in d.units:  # a code is exact: it wins over another unit's name
            d.unit_names[_key(code)] = code
        d.sites = dict(live("sites"))
        d.lines = dict(live("lines"))
        for serial, device in live("devices"):
            d.devices[serial] = device
            _index(d.device_names, _key(device.get("name") or ""), serial)
        return d

    # -- one part ---------------------------------------------------------------------------

    def unit(self, text: str) -> str | None:
        """The unit named ``text``: by its code, or by its name."""
        return self.unit_names.get(_key(text)) or None

    def device(self, text: str) -> str | None:
        """The device named ``text``: its serial, or its name (an alert's ``instance`` label
        ``core-sw-01:9100`` names the device ``core-sw-01``)."""
        text = text.strip()
        if text in self.devices:
            return text
        found = self.device_names.get(_key(text))
        if found is None and ":" in text:
            found = self.device_names.get(_key(text.rsplit(":", 1)[0]))
        return found or None

    def contact(self, text: str) -> str | None:
        """The unit whose contacts have the number or mail address in ``text``."""
        if "@" in text:
            address = text.rsplit("<", 1)[-1].rstrip(">")  # "张三 <zhang@x.cn>"
            return self.mails.get(_key(address)) or None
        digits = _phone(text)
        return (self.phones.get(digits) or None) if digits else None

    # -- a whole place ------------------------------------------------------------------------

    def place(
        self, unit: str | None = None, site: str | None = None, line: str | None = None,
        device: str | None = None,
    ) -> dict[str, str]:  # fmt: skip
        """The place of the given known parts, filled from the narrowest: a device's site and
        unit, a line's, a site's unit. Parts that disagree with a narrower one give way."""
        out: dict[str, str] = {}
        found = self.devices.get(device) if device else None
        if found is not None:
            out = {"unit": found["unit"], "device": device or ""}
            if found.get("site"):
                out["site"] = found["site"]
        pipe = self.lines.get(line) if line else None
        if pipe is not None and out.get("unit", pipe["unit"]) == pipe["unit"]:
            out.setdefault("unit", pipe["unit"])
            out["line"] = line or ""
            if pipe.get("site") and "site" not in out:
                out["site"] = pipe["site"]
        spot = self.sites.get(site) if site else None
        if spot is not None and "site" not in out and out.get("unit", spot["unit"]) == spot["unit"]:
            out.setdefault("unit", spot["unit"])
            out["site"] = site or ""
        if unit in self.units and "unit" not in out:
            out["unit"] = unit or ""
        return {name: out[name] for name in PLACES if name in out}

    def locate(self, record: IntakeRecord, config: Mapping[str, Any]) -> dict[str, str]:
        """Where the fault of ``record`` is, from its channel's data (``config``: the contract's
        table of the channel, whose ``locate`` adds field names to :data:`HINTS`)."""
        data = record.data
        labels = data.get("labels")
        sources = [data, labels] if isinstance(labels, Mapping) else [data]
        extra = config.get("locate") or {}
        parts: dict[str, str] = {}
        for part, names in HINTS.items():
            for name in (*extra.get(part, ()), *names):
                for source in sources:
                    value = source.get(name)
                    if not isinstance(value, str) or not value.strip():
                        continue
                    code = self._one(part, value)
                    if code is not None:
                        parts.setdefault(part, code)
        if "unit" not in parts:
            for value in (record.contact, *(data.get(name) for name in CONTACTS)):
                if isinstance(value, str) and (unit := self.contact(value)) is not None:
                    parts["unit"] = unit
                    break
        return self.place(**parts) if parts else {}

    def _one(self, part: str, value: str) -> str | None:
        if part == "unit":
            return self.unit(value)
        if part == "device":
            return self.device(value)
        found = (self.sites if part == "site" else self.lines).get(value.strip())
        return value.strip() if found is not None else None


class Places:
    """An engine's directory of the registry, kept fresh (see the module's docstring); called
    by intake as ``places(channel, record, config)`` (``tickets.unit.Locator``)."""

    def __init__(
        self, store: Store, every: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.every = every
        self.clock = clock
        self.directory = Directory()
        self._head: int | None = -1  # the registry log's last change the directory holds
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """The registry changed here: look at it again before the next intake."""
        self._checked = float("-inf")

    def refresh(self) -> None:
        """Build the directory again if the registry's log moved on (looked at once a second)."""
        now = self.clock()
        if now - self._checked < self.every:
            return
        with self._lock:
            head = table.head(self.store)
            if head != self._head:
                self.directory = Directory.of(table.everything(self.store, archived=False))
                self._head = head
            self._checked = now

    def __call__(self, record: IntakeRecord, config: Mapping[str, Any]) -> dict[str, str]:
        return self.directory.locate(record, config)

    def manager(self, unit: str) -> str | None:
        found = self.directory.units.get(unit)
        return (found.get("manager") or None) if found is not None else None
