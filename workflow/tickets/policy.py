"""The input and time policy of every write: who may be named as the actor, how long a text may
be, how deep a payload may nest, and when a change may be said to have happened (not in the
future, not before the ticket's last step; a late entry within the contract's backdate_limit).
Pure checks over the current contract's limits; nothing here reads or writes the database
except the history a late entry is checked against."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..contract.model import Contract
from ..db.records import EventRecord, TicketRecord
from ..errors import FaultflowError, IntakeError, InvalidInput
from ..intake import IntakeRecord
from ..timekeeping.durations import span
from ..timekeeping.times import aware, from_us, to_us
from .draft import PASSIVE

if TYPE_CHECKING:
    from ..contract.versions import Contracts
    from ..db.store import Unit


class Policy:
    """The checks of the contract the database runs now (its limits, its time zone)."""

    def __init__(self, contracts: Contracts) -> None:
        self.contracts = contracts

    @property
    def contract(self) -> Contract:
        return self.contracts.current

    def actor_name(self, actor: str | None) -> str:
        who = checked_text("actor", actor, self.contract.limits.actor)
        if who is None:
            raise InvalidInput("an actor (who does this) is required")
        return who

    def checked(self, field: str, value: str | None) -> str | None:
        """``value`` as text within the contract's limit for ``field`` (note, reason)."""
        limit: int = getattr(self.contract.limits, field)
        return checked_text(field, value, limit)

    def check_payload(self, payload: bytes | str | Mapping[str, Any]) -> None:
        limits = self.contract.limits
        if isinstance(payload, bytes | str):
            size = len(
                payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else payload
            )
            if size > limits.payload_bytes:
                raise IntakeError(
                    f"payload: {size:,} bytes, over the limit of {limits.payload_bytes:,} "
                    "(the contract's [limits] payload_bytes)"
                )
        else:
            _check_depth("payload", payload, limits.depth)

    def check_record(self, record: IntakeRecord) -> IntakeRecord:
        """Refuse a record whose text is not text, or is over the contract's limits, naming the
        field; the record with its one-line fields on one line and without control characters
        (a CR/LF in a title broke every mail about the ticket; an ESC reached the terminal)."""
        record = one_line(record)
        limits = self.contract.limits
        for field, limit in (
            ("title", limits.title),
            ("description", limits.description),
            ("reporter", limits.title),
            ("contact", limits.title),
            ("external_id", limits.title),
            ("incident", limits.title),
        ):
            checked_text(field, getattr(record, field), limit, IntakeError)
        _check_depth("data", record.data, limits.depth)
        return record

    def moment(
        self, at: datetime | str | None, now: datetime, after_us: int | None, what: str = "at"
    ) -> int:
        """The µs of ``at`` (default: now), refusing the future and times before the last event."""
        if at is None:
            moment_us = to_us(now)
            # A clock a little behind another host's: keep the history in order.
            return max(moment_us, after_us) if after_us is not None else moment_us
        moment = aware(at, now, self.contract.timezone)
        moment_us = to_us(moment)
        if moment_us > to_us(now):
            raise InvalidInput(
                f"{what} {self.show(moment_us)} lies in the future of the engine "
                f"clock ({self.show(to_us(now))})"
            )
        if after_us is not None and moment_us < after_us:
            raise InvalidInput(
                f"{what} {self.show(moment_us)} is before the ticket's last event "
                f"({self.show(after_us)})"
            )
        return moment_us

    def late_moment(
        self, u: Unit, record: TicketRecord, at: datetime | str, now: datetime
    ) -> tuple[int, list[EventRecord] | None]:
        """The µs of a step's ``at`` under the rule for late entries (SPEC §8): not in the
        future, not more than the contract's ``backdate_limit`` before now, and not before the
        ticket's latest change (alarms and notes may lie after it). The history, when it was
        read to find that change."""
        at_us = self.moment(at, now, None)
        limit = self.contract.backdate_limit_us
        if at_us < to_us(now) - limit:
            raise InvalidInput(
                f"at {self.show(at_us)} is more than {span(timedelta(microseconds=limit))} "
                f"before now (the contract's backdate_limit)"
            )
        if at_us >= record.last_us:
            return at_us, None
        history = u.events(record.id)
        changes = [e for e in history if e.trigger not in PASSIVE]
        latest = max(changes, key=lambda e: (e.at_us, e.seq))
        if at_us < latest.at_us:
            raise InvalidInput(
                f"at {self.show(at_us)} is before the ticket's latest change "
                f"({latest.trigger} at {self.show(latest.at_us)}): a late entry may come "
                "before alarms and notes, not before a step"
            )
        return at_us, history

    def show(self, us: int) -> str:
        return from_us(us, self.contract.timezone).isoformat(timespec="seconds")


def _check_depth(field: str, value: Any, limit: int) -> None:
    """Refuse a JSON value nested deeper than ``limit`` levels (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, Mapping) else node
        if not isinstance(node, Mapping | list | tuple):
            continue
        if depth > limit:
            raise IntakeError(
                f"{field}: nested more than {limit} levels deep (the contract's [limits] depth)"
            )
        stack.extend((child, depth + 1) for child in children)


def checked_text(
    field: str, value: str | None, limit: int, error: type[FaultflowError] = InvalidInput
) -> str | None:
    """``value`` stripped (``None`` if empty), refused naming ``field`` if it is not text, holds
    a NUL byte or a lone surrogate (neither database stores them alike), or is over ``limit``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise error(f"{field}: expected text, not {type(value).__name__}")
    if "\x00" in value:
        raise error(f"{field}: contains a NUL byte (\\x00), which no database stores alike")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise error(
            f"{field}: not valid text (a lone surrogate {value[err.start]!r} at {err.start})"
        ) from None
    if len(value) > limit:
        raise error(
            f"{field}: {len(value):,} characters, over the limit of {limit:,} "
            f"(the contract's [limits] {field.split('.')[-1]})"
        )
    return value.strip() or None


# keeps \t \n \r, and NUL, which checked_text refuses in words
_CONTROLS = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
ONE_LINE_FIELDS = ("title", "reporter", "contact", "external_id", "incident")


def clean_text(value: str, one_line: bool) -> str:
    """``value`` without control characters (ESC, BEL, DEL, C1); with ``one_line``, every run
    of white space (CR and LF included) a single space."""
    value = _CONTROLS.sub("", value)
    if one_line:
        return " ".join(value.split())
    return value.replace("\r\n", "\n").replace("\r", "\n")


def one_line(record: IntakeRecord) -> IntakeRecord:
    """The record as stored: one-line fields on one line, no control characters anywhere."""
    changes: dict[str, Any] = {}
    for field in ONE_LINE_FIELDS:
        value = getattr(record, field)
        if isinstance(value, str):
            cleaned = clean_text(value, True)
            if cleaned != value:
                changes[field] = cleaned
    if isinstance(record.description, str):
        cleaned = clean_text(record.description, False)
        if cleaned != record.description:
            changes["description"] = cleaned
    return dataclasses.replace(record, **changes) if changes else record
