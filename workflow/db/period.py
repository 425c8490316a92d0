"""The compliance report's reads: the clocks (with their tickets) that started in a period,
aggregated in the database — the statements over the tickets, clocks and events tables that
reports/compliance.py asks for, kept with the tables (the report does the arithmetic).

A clock's *elapsed* time, as SQL computes it: to its stop, or to the start of an open pause, or
to now, less the time it spent paused. Clocks over a business calendar count working time,
which SQL cannot: :meth:`Period.calendar_rows` hands them over row by row instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, literal, or_, select

from .store import Store
from .tables import CLOCKS, DEVICES, EVENTS, KB_ENTRIES, KB_LOG, LINES, TICKETS


class Period:
    """The clocks that started in [``start_us``, ``end_us``), seen at ``now_us``, leaving out
    the clocks named in ``on_calendar`` (read by :meth:`calendar_rows`) and the tickets in the
    ``cancelled`` states; of the tickets of ``unit`` only, if given."""

    def __init__(
        self, store: Store, start_us: int, end_us: int, now_us: int,
        on_calendar: Sequence[str], cancelled: Sequence[str], unit: str | None = None,
    ) -> None:  # fmt: skip
        self.store, self.start_us, self.end_us = store, start_us, end_us
        # a unit's report: only its tickets count
        self.of_unit = TICKETS.c.unit == unit if unit is not None else literal(True)
        self.cancelled = list(cancelled)
        c, t = CLOCKS, TICKETS
        end_expr = case(
            (c.c.stopped_us.is_not(None), c.c.stopped_us),
            (c.c.paused_since_us.is_not(None), c.c.paused_since_us),
            else_=literal(now_us),
        )
        self.elapsed = (end_expr - c.c.started_us - c.c.paused_us).label("elapsed")
        in_period = and_(c.c.started_us >= start_us, c.c.started_us < end_us)
        if on_calendar:
            in_period = and_(in_period, c.c.name.not_in(list(on_calendar)))
        self.in_period = in_period
        # the tickets counted: not cancelled, not a report merged into another (an outage
        # counts once, by its parent's clocks), and, for a unit's report, of that unit
        self.not_cancelled = and_(
            t.c.state.not_in(self.cancelled) if self.cancelled else literal(True),
            or_(t.c.parent.is_(None), t.c.parent == t.c.id),
            self.of_unit,
        )
        self.joined = c.join(t, t.c.id == c.c.ticket_id)
        self.base = (
            select(
                c.c.name, t.c.tier, self.elapsed, c.c.limit_us,
                c.c.stopped_us.is_not(None).label("stopped"),
            )
            .select_from(self.joined)
            .where(self.in_period, self.not_cancelled)
            .subquery("b")
        )  # fmt: skip
        b = self.base
        self.breached = b.c.elapsed > b.c.limit_us
        self.decided = b.c.stopped | self.breached
        self.order = (store.by_id(b.c.name), store.by_id(b.c.tier))

    def counts(self) -> Sequence[Any]:
        """Per (clock, tier), in the order :meth:`ranked` ranks them: how many, met, breached,
        the worst overrun (µs)."""
        b, breached = self.base, self.breached
        return self.store.query(
            select(
                b.c.name,
                b.c.tier,
                func.count(),
                func.sum(case((and_(self.decided, ~breached), 1), else_=0)),
                func.sum(case((breached, 1), else_=0)),
                func.max(case((breached, b.c.elapsed - b.c.limit_us), else_=None)),
            )
            .group_by(b.c.name, b.c.tier)
            .order_by(*self.order)
        )

    def ranked(self, ranks: Sequence[int]) -> Sequence[Any]:
        """(elapsed, rank) of the decided clocks at the given ranks of one global ranking by
        (clock, tier, elapsed): the database returns only those rows."""
        b = self.base
        ranking = (
            select(
                b.c.elapsed,
                func.row_number().over(order_by=(*self.order, b.c.elapsed)).label("rn"),
            )
            .where(self.decided)
            .subquery("r")
        )
        return self.store.query(
            select(ranking.c.elapsed, ranking.c.rn).where(ranking.c.rn.in_(list(ranks)))
        )

    def calendar_rows(self, names: Sequence[str]) -> Sequence[Any]:
        """The clocks named (those over a business calendar) of the period, one row each: id,
        clock, tier, channel, title, started, limit, paused, paused since, stopped, unit."""
        c, t = CLOCKS, TICKETS
        return self.store.query(
            select(
                c.c.ticket_id, c.c.name, t.c.tier, t.c.channel, t.c.title, c.c.started_us,
                c.c.limit_us, c.c.paused_us, c.c.paused_since_us, c.c.stopped_us, t.c.unit,
            )
            .select_from(self.joined)
            .where(
                c.c.started_us >= self.start_us, c.c.started_us < self.end_us,
                c.c.name.in_(list(names)), self.not_cancelled,
            )
            .order_by(c.c.started_us, c.c.ticket_id, c.c.name)
        )  # fmt: skip

    def _opened(self) -> Any:
        t = TICKETS
        return and_(t.c.created_us >= self.start_us, t.c.created_us < self.end_us, self.of_unit)

    def by_unit(self) -> Sequence[Any]:
        """Per unit (placed tickets only), the 24x7 clocks of the period: how many, met,
        breached."""
        c, t = CLOCKS, TICKETS
        breached = self.elapsed > c.c.limit_us
        return self.store.query(
            select(
                t.c.unit,
                func.count(),
                func.sum(case((and_(c.c.stopped_us.is_not(None), ~breached), 1), else_=0)),
                func.sum(case((breached, 1), else_=0)),
            )
            .select_from(self.joined)
            .where(self.in_period, self.not_cancelled, t.c.unit.is_not(None))
            .group_by(t.c.unit)
        )

    def fix_times(self, fixing: Sequence[str]) -> Sequence[Any]:
        """Per tier and whether an entry of the experience base was used on it (a ``kb``
        event), the tickets opened in the period that were fixed (reached one of ``fixing``):
        (tier, used, how many, mean µs from intake to the fix)."""
        t, e = TICKETS, EVENTS
        fixed = (
            select(e.c.ticket_id, func.min(e.c.at_us).label("at"))
            .where(e.c.to_state.in_(list(fixing) or [""]), e.c.from_state != e.c.to_state)
            .group_by(e.c.ticket_id)
            .subquery("f")
        )
        used = (
            select(e.c.ticket_id).where(e.c.trigger == "kb").group_by(e.c.ticket_id).subquery("u")
        )
        was_used = used.c.ticket_id.is_not(None)
        return self.store.query(
            select(t.c.tier, was_used, func.count(), func.avg(fixed.c.at - t.c.created_us))
            .select_from(
                t.join(fixed, fixed.c.ticket_id == t.c.id).outerjoin(
                    used, used.c.ticket_id == t.c.id
                )
            )
            .where(self._opened(), self.not_cancelled)
            .group_by(t.c.tier, was_used)
            .order_by(t.c.tier, was_used)
        )

    def most_used(self, limit: int) -> Sequence[Any]:
        """The experience entries used most in the period: (entry, uses, symptom)."""
        lg, k = KB_LOG, KB_ENTRIES
        uses = func.count()
        return self.store.query(
            select(lg.c.entry, uses, k.c.symptom)
            .select_from(lg.join(k, k.c.id == lg.c.entry))
            .where(lg.c.action == "used", lg.c.at_us >= self.start_us, lg.c.at_us < self.end_us)
            .group_by(lg.c.entry, k.c.symptom)
            .order_by(uses.desc(), lg.c.entry)
            .limit(limit)
        )

    def opened_by_kind(self, stopping: Sequence[str]) -> dict[str, Sequence[Any]]:
        """The tickets opened in the period (cancelled ones aside) at a device, by the device's
        model, and at a line, by the line's kind: (model or kind, tickets, outages), most first."""
        t = TICKETS
        out = {}
        for name, table, key, column in (("models", DEVICES, "serial", "model"),
                                         ("line_kinds", LINES, "code", "kind")):  # fmt: skip
            part = t.c.device if name == "models" else t.c.line
            what = func.coalesce(table.c[column], "")
            out[name] = self.store.query(
                select(
                    what,
                    func.count(),
                    func.sum(case((t.c.tier.in_(list(stopping) or [""]), 1), else_=0)),
                )
                .select_from(t.join(table, table.c[key] == part))
                .where(self._opened(), self.not_cancelled)
                .group_by(what)
                .order_by(func.count().desc(), what)
            )
        return out

    def opened_by_unit(self, stopping: Sequence[str]) -> Sequence[Any]:
        """Per unit, the tickets opened in the period (cancelled ones aside) and how many of
        them were of the ``stopping`` tiers (outages)."""
        t = TICKETS
        return self.store.query(
            select(
                t.c.unit,
                func.count(),
                func.sum(case((t.c.tier.in_(list(stopping) or [""]), 1), else_=0)),
            )
            .where(self._opened(), self.not_cancelled, t.c.unit.is_not(None))
            .group_by(t.c.unit)
        )

    def tiers(self) -> dict[str, int]:
        """Tickets opened in the period, by tier (cancelled ones and merged reports aside)."""
        t = TICKETS
        return {
            tier: int(n)
            for tier, n in self.store.query(
                select(t.c.tier, func.count())
                .where(self._opened(), self.not_cancelled)
                .group_by(t.c.tier)
                .order_by(t.c.tier)
            )
        }

    def outages(self, stopping: Sequence[str]) -> Sequence[Any]:
        """The outages opened in the period: tickets of the ``stopping`` tiers, placed at a
        unit (cancelled ones and merged reports aside): unit, id, created_us."""
        t = TICKETS
        return self.store.query(
            select(t.c.unit, t.c.id, t.c.created_us)
            .where(
                self._opened(), self.not_cancelled, t.c.unit.is_not(None),
                t.c.tier.in_(list(stopping) or [""]),
            )
            .order_by(t.c.created_us)
        )  # fmt: skip

    def kb_added(self, limit: int) -> tuple[int, Sequence[Any]]:
        """The experience entries written in the period: how many, and the first ``limit``
        (id, state, symptom)."""
        k = KB_ENTRIES
        within = and_(k.c.created_us >= self.start_us, k.c.created_us < self.end_us)
        n = int(self.store.query(select(func.count()).where(within))[0][0])
        rows = self.store.query(
            select(k.c.id, k.c.state, k.c.symptom).where(within).order_by(k.c.id).limit(limit)
        )
        return n, rows

    def channels(self) -> dict[str, int]:
        """Tickets opened in the period, by channel, most first."""
        t = TICKETS
        return {
            ch: int(n)
            for ch, n in self.store.query(
                select(t.c.channel, func.count())
                .where(self._opened())
                .group_by(t.c.channel)
                .order_by(func.count().desc(), t.c.channel)
            )
        }

    def merged(self) -> Sequence[Any]:
        """The reports opened in the period that were merged into another ticket (one outage,
        many reports), by parent: parent, its title, report, channel, created_us."""
        t, q = TICKETS, TICKETS.alias("q")
        return self.store.query(
            select(q.c.id, q.c.title, t.c.id, t.c.channel, t.c.created_us)
            .select_from(t.join(q, q.c.id == t.c.parent))
            .where(self._opened(), t.c.parent != t.c.id)
            .order_by(q.c.created_us, q.c.id, t.c.created_us, t.c.id)
        )

    def cancelled_count(self) -> int:
        """Tickets opened in the period that were cancelled."""
        t = TICKETS
        cancelled = t.c.state.in_(self.cancelled) if self.cancelled else literal(False)
        return int(self.store.query(select(func.count()).where(self._opened(), cancelled))[0][0])

    def breaches(self, limit: int) -> Sequence[Any]:
        """The breached clocks, earliest started first, at most ``limit``: id, clock, tier,
        channel, title, started, limit, paused, stopped, overrun."""
        c, t = CLOCKS, TICKETS
        return self.store.query(
            select(
                c.c.ticket_id, c.c.name, t.c.tier, t.c.channel, t.c.title, c.c.started_us,
                c.c.limit_us, c.c.paused_us, c.c.stopped_us, (self.elapsed - c.c.limit_us),
            )
            .select_from(self.joined)
            .where(self.in_period, self.not_cancelled, self.elapsed > c.c.limit_us)
            .order_by(c.c.started_us, c.c.ticket_id, c.c.name)
            .limit(limit)
        )  # fmt: skip

    def weekly_breaches(self, week_us: int) -> dict[int, int]:
        """Breached clocks by week of the period (0 = the first)."""
        c = CLOCKS
        week = cast((c.c.started_us - self.start_us) // week_us, Integer)
        return {
            int(w): int(n)
            for w, n in self.store.query(
                select(week, func.count())
                .select_from(self.joined)
                .where(self.in_period, self.not_cancelled, self.elapsed > c.c.limit_us)
                .group_by(week)
            )
        }

    def withdrawn(self, limit: int) -> Sequence[Any]:
        """Alarms withdrawn after a late entry on tickets opened in the period: id, at, actor,
        note, data."""
        e, t = EVENTS, TICKETS
        return self.store.query(
            select(e.c.ticket_id, e.c.at_us, e.c.actor, e.c.note, e.c.data)
            .select_from(e.join(t, t.c.id == e.c.ticket_id))
            .where(self._opened(), e.c.trigger == "withdrawn")
            .order_by(e.c.at_us, e.c.ticket_id, e.c.seq)
            .limit(limit)
        )
