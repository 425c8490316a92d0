"""The records the engine reads and writes, each declared once, here.

A record is an immutable typed tuple (cheap to build from a database row, cheap to copy with
``_replace``). Everything else is derived from these declarations: the SQLModel tables
(``tables.py``), the column lists of the store's statements, the event fields the audit chain
hashes, and the views' construction. Times are integer microseconds since the Unix epoch (UTC),
in fields ending ``_us``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple


class TicketRecord(NamedTuple):
    """One fault ticket: its current state and classification, and the head of its history."""

    id: str
    state: str
    tier: str
    kind: str
    cause: str | None
    channel: str
    external_id: str | None
    owner: str
    title: str
    description: str
    reporter: str | None
    contact: str | None
    on_hold: bool
    hold_reason: str | None
    version: int
    created_us: int
    last_seq: int
    last_us: int
    last_hash: str
    occurrence: int = 1  # the n-th ticket of this (channel, external id): see ``recurs``
    recurs: str | None = None  # the earlier ticket of the same external id, when final
    incident: str | None = None  # what tells incidents of one external id apart (startsAt)
    contract: str | None = None  # the contract version it runs under (ContractRecord.version)
    urgent_us: int | None = None  # its place in the urgency order: see ``urgency``
    # Where it is (codes of the registry, a device by its serial), see ``PLACES``.
    unit: str | None = None
    site: str | None = None
    line: str | None = None
    device: str | None = None
    # The group of reports of one outage it belongs to (merge): on a report merged into
    # another, that parent's id; on a parent, its own id (so that a change of the parent knows,
    # from its row alone, that reports follow it); NULL on a ticket alone.
    parent: str | None = None


PLACES = ("unit", "site", "line", "device")
"""The fields of a ticket that say where the fault is, broadest first."""


def place_of(ticket: TicketRecord) -> dict[str, str]:
    """Where ``ticket`` is, as its history records it: the known fields of :data:`PLACES`."""
    return {name: value for name in PLACES if (value := getattr(ticket, name)) is not None}


UrgencyKey = tuple[int, int, str]
"""Where a ticket stands in "most urgent first": (urgent_us, created_us, id)."""

OPEN_IDLE_US = 2**62
"""The urgency of an open ticket with no running promise (after every due time)."""


def urgency(final: bool, clocks: Iterable[ClockRecord]) -> int | None:
    """A ticket's place in "most urgent first", kept on its row (``urgent_us``, indexed) so
    that lists read only the rows they show: the earliest due time of its running clocks —
    a breached clock's due time is past, so broken promises come first — or
    :data:`OPEN_IDLE_US` when nothing runs; ``None`` once the ticket is final (it leaves the
    index of open tickets). Ties go to the oldest ticket (``created_us``, then ``id``)."""
    if final:
        return None
    dues = [c.due_us for c in clocks if c.status == "running" and c.due_us is not None]
    return min(dues) if dues else OPEN_IDLE_US


class EventRecord(NamedTuple):
    """One entry of a ticket's append-only, hash-chained history."""

    ticket_id: str
    seq: int
    trigger: str
    from_state: str | None
    to_state: str
    at_us: int
    recorded_us: int
    actor: str
    note: str | None
    reason: str | None
    data: str  # JSON
    hash: str


class ClockRecord(NamedTuple):
    """One clock of one ticket: its facts, its reading when last written, and its next alarm
    (``next_us``, the timer, indexed so that a sweep finds what is due)."""

    ticket_id: str
    name: str
    started_us: int
    limit_us: int
    paused_us: int
    paused_since_us: int | None
    stopped_us: int | None
    due_us: int | None
    status: str
    warned: bool
    breach_fired: bool
    breached: bool
    next_us: int | None
    next_kind: str | None


class OccurrenceRecord(NamedTuple):
    """One alert (a channel's external id) carried by a ticket that is not its own: an alert of
    a group, or one that came in a storm. The row follows the alert — the ticket it is on now,
    its incident (``startsAt``) and status, how often it fired and resolved — and is what an
    intake of that alert finds it by; each change is also an ``occurrence`` event in the
    ticket's history."""

    channel: str
    external_id: str
    ticket_id: str
    title: str
    incident: str | None
    status: str  # firing | resolved
    fired: int  # times it fired (the first, and each new incident after a resolution)
    resolved: int
    first_us: int
    last_us: int


class OutboxRecord(NamedTuple):
    """A notification to deliver, written in the same transaction as the event it tells of."""

    ticket_id: str
    seq: int
    kind: str
    created_us: int
    payload: str  # JSON
    done: bool
    next_attempt_us: int


class TokenRecord(NamedTuple):
    """An API token of ``faultflow serve``: its name, the SHA-256 of its secret (the secret is
    shown once and never stored), what it may do, and whom the history names for it."""

    name: str
    digest: str
    scopes: str  # space-separated: intake:CHANNEL, intake:*, read, operate, registry,
    # admin
    actor: str
    created_us: int
    revoked_us: int | None


class OverrideRecord(NamedTuple):
    """One person in a duty role for [start_us, end_us): a swap, sick leave."""

    role: str
    person: str
    start_us: int
    end_us: int
    reason: str
    actor: str
    created_us: int
    removed_us: int | None


# -- the network the contract maintains (the registry, network/) --------------------------------
# Each row names who changed it last and when; ``archived_us`` keeps a retired one (a unit with
# tickets is archived, never deleted). Contacts are JSON lists of {name, phone, email}.


class VendorRecord(NamedTuple):
    """A hardware or software vendor: whom to call before going on site."""

    code: str
    name: str
    hotline: str | None
    contacts: str  # JSON
    archived_us: int | None
    changed_us: int
    changed_by: str


class UnitRecord(NamedTuple):
    """A connected unit (an office, a hall, a bureau), with its own customer manager."""

    code: str
    name: str
    address: str | None
    contacts: str  # JSON
    manager: str | None  # a person of people.toml
    archived_us: int | None
    changed_us: int
    changed_by: str


class SiteRecord(NamedTuple):
    """A place of a unit where its lines end and its devices stand."""

    code: str
    unit: str
    name: str
    address: str | None
    archived_us: int | None
    changed_us: int
    changed_by: str


class LineRecord(NamedTuple):
    """A leased line, by its circuit id."""

    code: str
    unit: str
    site: str | None
    carrier: str | None
    kind: str | None
    a_end: str | None
    b_end: str | None
    archived_us: int | None
    changed_us: int
    changed_by: str


class DeviceRecord(NamedTuple):
    """A device, by its serial number; ``name`` is what the monitoring calls it."""

    serial: str
    name: str | None
    model: str
    unit: str
    site: str | None
    vendor: str | None
    warranty_end: str | None  # ISO date
    address: str | None
    archived_us: int | None
    changed_us: int
    changed_by: str


class RegistryLogRecord(NamedTuple):
    """One change of the registry, hash-chained to the change before it (tamper-evident like
    the tickets' history): what was added, changed, archived or removed, by whom, when."""

    kind: str
    code: str
    action: str  # created | updated | archived | removed
    data: str  # JSON: the values after the change (for removed: before)
    actor: str
    at_us: int
    hash: str


class KBEntryRecord(NamedTuple):
    """An entry of the experience base (经验库): a fault as it showed, why, and what fixed it,
    drafted from a reported ticket or written by hand, approved before anyone is shown it."""

    id: int
    state: str  # draft | approved | retired
    symptom: str
    cause: str
    fix: str
    models: str  # JSON list of device models
    line_kind: str | None  # the kind of line it happened on (MSTP, fibre...)
    spare: str | None  # the spare used, if one was
    fix_us: int | None  # how long the fault took to fix (its ticket's, when drafted)
    tickets: str  # JSON list of the tickets it came from or helped
    author: str
    created_us: int
    changed_us: int
    changed_by: str
    version: int


class KBLogRecord(NamedTuple):
    """One change of the experience base, hash-chained like the registry's log."""

    entry: int
    action: str  # created | edited | approved | retired | used
    data: str  # JSON: the entry after the change (for used: the ticket)
    actor: str
    at_us: int
    hash: str


class TermsRecord(NamedTuple):
    """What the search finds something by: its words, segmented (``kb.text.terms``), one
    space between; the database's own full-text engine indexes them. ``key``: the entry's
    id, or the ticket's; ``seq``: the ticket's history up to which the words are taken."""

    key: str
    seq: int
    body: str


class RoundRecord(NamedTuple):
    """One inspection round (巡检): made by the planner once per plan and scheduled time (its
    ``id`` is both: ``core-daily/20261207T0900``), done by a person item by item."""

    id: str
    plan: str
    scheduled_us: int  # when the round is due to start
    due_us: int  # by when it must be done (the plan's due_within): its promise
    planned_us: int  # when the planner made the record
    late: bool  # made after its scheduled time (a planner that was down caught up)
    role: str  # who does it (people.toml)
    targets: str  # JSON list: unit:CODE, device:SERIAL..., or a kind
    checklist: str  # JSON list of the plan's items, as the plan had them when it was made
    tier: str  # the tier of a finding's ticket
    state: str  # planned | running | done | skipped
    started_us: int | None
    started_by: str | None
    finished_us: int | None  # done or skipped
    finished_by: str | None
    reason: str | None  # why it was skipped
    answers: str  # JSON: item -> {"value", "finding", "by", "at_us"}
    breached_us: int | None  # when the sweep found it not done by its due time
    ticket: str | None  # the ticket its breach opened
    findings: str  # JSON list: {"item", "ticket"} — what it found, and the fault it opened
    version: int


class RoundLogRecord(NamedTuple):
    """One change of a round (started, answered, finished, skipped, breached, found), hash-chained
    like the registry's log: who and when, for each answer."""

    round: str
    action: str
    data: str  # JSON
    actor: str
    at_us: int
    hash: str


class WindowRecord(NamedTuple):
    """A maintenance window: planned work on a part of the network (a unit, site, line, device,
    or all of it) between two moments, during which its faults are recorded as planned — no
    promise runs, nobody is paged — and the escalations running there pause."""

    id: int
    kind: str  # unit | site | line | device | all
    code: str  # the registry's code (a device by its serial); "" for all
    starts_us: int
    ends_us: int
    reason: str
    state: str  # scheduled | cancelled
    created_us: int
    created_by: str
    changed_us: int  # its last change (made, cancelled, begun, over)
    changed_by: str
    begun_us: int | None  # when the scheduler found it begun (escalations there paused)
    ended_us: int | None  # when the scheduler found it over (what still stands opened)
    version: int


class WindowLogRecord(NamedTuple):
    """One change of a maintenance window (scheduled, cancelled, ended early, begun, over),
    hash-chained like the registry's log: who and when."""

    window_id: int
    action: str
    data: str  # JSON: the window as this change left it
    actor: str
    at_us: int
    hash: str


class WindowTicketRecord(NamedTuple):
    """A ticket a maintenance window touched: opened as planned during it, or whose escalation
    it paused."""

    window_id: int
    ticket: str
    why: str  # planned | paused


class FollowupRecord(NamedTuple):
    """The follow-up call (回访) after a ticket was reported: due by a time on the contract's
    calendar, then done — the customer's rating (1-5) and comment, taken by the staff or given
    by the reporter — or missed. Where the ticket was, its channel and its engineer are kept
    as they were when it closed, for the report."""

    ticket: str
    due_us: int
    state: str  # due | done | missed
    rating: int | None
    comment: str | None
    by: str | None  # who recorded it (a person, or the portal for the reporter)
    via: str | None  # staff | reporter
    at_us: int | None
    review: str | None  # the review ticket a low rating opened
    unit: str | None
    channel: str
    owner: str
    created_us: int
    version: int


class LinkRecord(NamedTuple):
    """Two tickets said to be related by someone (``faultflow link``): ``ticket`` is a
    duplicate of, related to or caused by ``other``."""

    ticket: str
    other: str
    kind: str  # duplicate | related | caused-by
    created_us: int
    actor: str


class SpareRecord(NamedTuple):
    """A spare part kept in stock (备品备件): by serial, its model, where it is, and what
    became of it; taken out to stand in for a faulty part of the same model (P10)."""

    serial: str
    model: str
    location: str  # a site of the registry, or a store's own name
    state: str  # in_stock | taken | in_repair | retired
    ticket: str | None  # the ticket it was taken for
    note: str | None
    changed_us: int
    changed_by: str
    version: int


class SpareLogRecord(NamedTuple):
    """One movement of a spare (added, moved, taken, repair, returned, retired),
    hash-chained like the registry's log."""

    serial: str
    action: str
    data: str  # JSON: the spare after the movement
    actor: str
    at_us: int
    hash: str


class ContractRecord(NamedTuple):
    """One version of the contract file, kept whole: the tickets pinned to it run under it."""

    version: str  # the first 16 hex digits of the SHA-256 of the file's text
    name: str
    source: str
    text: str
    recorded_us: int
    actor: str


class EscalationRecord(NamedTuple):
    """A ticket's escalation chain in progress: the step (0-based) and round (1-based) due
    next, at ``next_us`` (``None`` once acknowledged or finished)."""

    ticket_id: str
    chain: str
    step: int
    round: int
    status: str  # running | acknowledged | finished
    started_us: int
    next_us: int | None


# The audit chain hashes every field of an event but these: the hash itself. A field added to
# EventRecord is hashed unless it is named here (tests/test_records.py holds this).
HASH_EXEMPT: frozenset[str] = frozenset({"hash"})
HASHED: tuple[str, ...] = tuple(f for f in EventRecord._fields if f not in HASH_EXEMPT)


class Change(NamedTuple):
    """Everything one change of a ticket writes. ``expected_version`` is ``None`` for a new
    ticket; otherwise the stored version the change was made from."""

    ticket: TicketRecord
    expected_version: int | None
    events: list[EventRecord]
    new_clocks: list[ClockRecord]
    changed_clocks: list[ClockRecord]
    dropped_clocks: list[str]
    outbox: list[OutboxRecord]
    urgency_moved: bool = True  # whether ``ticket.urgent_us`` differs from the stored one
    placed: bool = False  # whether its place (``PLACES``) or group (parent) moved
