"""``GET /metrics`` in Prometheus' text format: what the database says at the scrape (open
tickets, alarms, notifications, how late the next alarm is) and what this process saw (intake
requests by channel, outcome and status; clients that hung up before their work began).

Every label set is bounded: a channel that is not installed is counted as ``other`` (a token with
``intake:*`` cannot mint series), outcomes and statuses are the engine's own few."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ..timekeeping.times import to_us


class Metrics:
    """One registry per app (several apps in one process do not share counters)."""

    def __init__(self, engine: Any) -> None:
        self.registry = CollectorRegistry()
        self._intakes = Counter(
            "faultflow_intake_requests",
            "Faults delivered over HTTP, by channel, what became of them and the status sent",
            ["channel", "outcome", "status"],
            registry=self.registry,
        )
        self._gone = Counter(
            "faultflow_http_clients_gone",
            "Intake requests whose client hung up before their work began (dropped, not done)",
            registry=self.registry,
        )
        self.registry.register(_FromDatabase(engine))
        self._channels = frozenset(engine.registry.channels)

    def watch(self, lane: Any) -> None:
        """Expose how full the intake lane is (``admission.Lane``)."""
        admitted = Gauge(
            "faultflow_intake_admitted",
            "Intake requests admitted to this process's lane now (at work or waiting)",
            registry=self.registry,
        )
        admitted.set_function(lambda: lane.admitted)
        Gauge(
            "faultflow_intake_capacity",
            "Intake requests the lane admits at once; past it, 503",
            registry=self.registry,
        ).set(lane.capacity)
        if hasattr(lane.hands, "restarts"):  # serve's intake process (hands.Apart)
            self.registry.register(_Restarts(lane.hands))

    def intake(self, channel: str, outcome: str, status: int) -> None:
        label = channel if channel in self._channels else "other"
        self._intakes.labels(label, outcome, str(status)).inc()

    def gone(self) -> None:
        self._gone.inc()


class _Restarts(Collector):
    def __init__(self, hands: Any) -> None:
        self.hands = hands

    def collect(self) -> Iterator[Any]:
        yield CounterMetricFamily(
            "faultflow_intake_process_restarts",
            "Times serve's intake process stopped (killed, out of memory) and another was "
            "started; the requests it held were answered 503",
            value=self.hands.restarts,
        )


class _FromDatabase(Collector):
    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Any]:
        census = self.engine.census()
        opened = GaugeMetricFamily(
            "faultflow_open_tickets", "Tickets not in a final state", labels=["state", "tier"]
        )
        for (state, tier), n in sorted(census.open_tickets.items()):
            opened.add_metric([state, tier], n)
        yield opened
        alarms = GaugeMetricFamily(
            "faultflow_alarms_fired",
            "Clocks whose warning or breach has fired (and not been withdrawn)",
            labels=["clock", "event"],
        )
        for (clock, event), n in sorted(census.alarms.items()):
            alarms.add_metric([clock, event], n)
        yield alarms
        yield GaugeMetricFamily(
            "faultflow_notifications_pending",
            "Notifications not yet delivered to every notifier",
            value=census.notifications_pending,
        )
        read, refused = self.engine.mail_tally()
        yield CounterMetricFamily(
            "faultflow_mail_read",
            "Messages this process's mailbox poller read ([channels.email.imap])",
            value=read,
        )
        yield CounterMetricFamily(
            "faultflow_mail_refused",
            "Messages it refused: moved to faultflow/refused, the reason in the log",
            value=refused,
        )
        yield GaugeMetricFamily(
            "faultflow_delivery_failures",
            "Failed delivery attempts, ever (each is retried with backoff, then given up)",
            value=census.delivery_failures,
        )
        lag = 0.0
        if census.next_due_us is not None:
            lag = max(0.0, (to_us(self.engine.now()) - census.next_due_us) / 1_000_000)
        yield GaugeMetricFamily(
            "faultflow_scheduler_lag_seconds",
            "How long the earliest pending alarm is overdue (0 when none is): a scheduler that "
            "keeps up stays near 0",
            value=lag,
        )
