"""``faultflow demo``: a simulated stretch of the seed contract, on a fresh database.

Faults arrive through the six built-in channels at the rates of a municipal extranet; operators
respond, work remotely, go on site, resolve or substitute a spare, and report — mostly in time,
sometimes late. The engine's clock is the simulation's: nothing sleeps, and ``tick`` runs as
simulated time passes. Everything goes through the public library API, as an integrator's code
would.

Why this module is longer than the house's ~500 lines: the everyday faults' actors (callers,
operators, engineers, inspectors) share one event queue, one clock and one stream of chance,
which make the same month from the same seed; the month's set pieces are scenes.py.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.header import Header
from email.mime.text import MIMEText
from email.utils import format_datetime, make_msgid
from typing import Any

from .scenes import Scenes

UNITS = [
    "市财政局",
    "市人社局",
    "市公安局",
    "市卫健委",
    "市教育局",
    "市自然资源局",
    "行政审批局",
    "市医保局",
    "市住建局",
    "市交通局",
    "市市场监管局",
    "长社街道办",
]
OPERATORS = ["li", "wang", "zhang", "zhao", "chen", "liu"]
MANAGERS = ["zhao", "sun"]
FAULTS = {
    "A": [
        "核心交换机宕机，业务全部中断",
        "政务云节点宕机",
        "出口防火墙故障，全部单位无法访问",
        "core switch down, all units offline",
    ],
    "B": [
        "VPN 部分用户无法接入",
        "汇聚交换机端口故障，部分科室断网",
        "视频会议系统卡顿",
        "DNS resolution slow for some units",
    ],
    "C": [
        "打印机共享异常",
        "单台终端无法获取地址",
        "网页访问缓慢",
        "账号密码重置",
        "一般咨询：如何申请新的接入",
        "OA login page slow",
    ],
}
LINE_FAULTS = ["光纤线路中断", "光缆被挖断", "光衰过大，线路时断时续"]
# faults per day, by channel (P4): hotline, customer manager, web, chat, e-mail, monitoring
RATES = {
    "hotline": 3.0,
    "customer_manager": 1.0,
    "web": 2.0,
    "chat": 2.0,
    "email": 1.0,
    "alertmanager": 1.5,
}


@dataclass(order=True)
class _Due:
    at: datetime
    seq: int
    action: Callable[[], None] = field(compare=False)


@dataclass
class Outcome:
    """What the demo did, for the summary."""

    db: str
    start: datetime
    end: datetime
    opened: int = 0
    duplicates: int = 0
    resolved_alerts: int = 0
    fired: int = 0
    sample_breached: str | None = None
    sample_met: str | None = None
    escalated: set[str] = field(default_factory=set)  # tickets whose breach started a chain
    acks: int = 0
    handovers: int = 0
    rounds: dict[str, int] = field(default_factory=dict)  # inspection rounds, by how they went
    findings: list[str] = field(default_factory=list)  # the tickets rounds' findings opened
    spares: list[str] = field(default_factory=list)  # the spares substitutions took from stock
    outage: tuple[str, list[str]] | None = None  # one outage's ticket and the reports merged in
    window: dict[str, Any] | None = None  # the night of planned work, and what it held back
    ratings: list[int] = field(default_factory=list)  # the follow-ups' ratings, as given
    reviews: list[str] = field(default_factory=list)  # the review tickets low ratings opened


@dataclass(frozen=True, slots=True)
class Caller:
    """A unit that reports faults: its name, and (from the registry) a contact's number and
    mail, and the name the monitoring knows one of its devices by."""

    name: str
    phone: str | None = None
    mail: str | None = None
    device: str | None = None


def callers(engine: Any) -> list[Caller]:
    """The registry's units as callers (intake then finds each fault's unit from what the
    channel carries); made-up units when the registry is empty."""
    devices: dict[str, str] = {}
    for d in engine.entries("devices"):
        if d.get("name"):
            devices.setdefault(d["unit"], d["name"])
    found = []
    for u in engine.entries("units"):
        people = u.get("contacts") or [{}]
        phone = next((c["phone"] for c in people if c.get("phone")), None)
        mail = next((c["email"] for c in people if c.get("email")), None)
        found.append(Caller(u["name"], phone, mail, devices.get(u["code"])))
    return found or [Caller(name) for name in UNITS]


class Simulation(Scenes):
    """A discrete-event simulation over an engine whose clock it owns."""

    def __init__(
        self, engine: Any, clock: list[datetime], start: datetime, end: datetime, seed: int
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.rng = random.Random(seed)
        self.start, self.end = start, end
        self.queue: list[_Due] = []
        self.seq = 0
        self.outcome = Outcome(str(engine.store.url), start, end)
        self.alerts: dict[str, dict[str, Any]] = {}  # ticket -> the alert that opened it
        self.units = callers(engine)
        self.inspector = random.Random(seed + 1)  # rounds: their own stream of chance
        self.taken: set[str] = set()  # rounds someone has planned to do
        self.fates: list[str] = []  # how the next rounds will go, drawn as from a deck
        self.models = sorted({s.model for s in engine.spares(state="in_stock")})
        self.calls = random.Random(seed + 2)  # follow-up calls: their own stream of chance

    # -- the event queue ----------------------------------------------------------------------

    def at(self, moment: datetime, action: Callable[[], None]) -> None:
        if moment < self.end:
            self.seq += 1
            heapq.heappush(self.queue, _Due(moment, self.seq, action))

    def run(self, progress: Callable[[int], None] | None = None) -> Outcome:
        self._schedule_arrivals()
        hit = next((c for c in self.units if c.device), None)
        if hit is not None:  # ten days in, mid-morning, one unit's core switch fails
            first = (self.start + timedelta(days=9)).replace(hour=10, minute=12)
            self.at(first, functools.partial(self._outage, hit))
        worked = [c for c in self.units if c.device and c is not hit]
        if worked:  # three weeks in, a night of planned work at another unit
            planning = (self.start + timedelta(days=19)).replace(hour=10, minute=0)
            self.at(planning, functools.partial(self._plan_work, worked[0]))
        if self.engine.contract.inspections:
            self.at(self.start, self._morning)
        day = 0
        while self.queue:
            due = heapq.heappop(self.queue)
            self.clock[0] = due.at
            self._missed(self.engine.keep_rounds())
            self._fired(self.engine.tick())
            due.action()
            elapsed_days = int((due.at - self.start).total_seconds() // 86400)
            if progress is not None and elapsed_days > day:
                progress(elapsed_days - day)
                day = elapsed_days
        self.clock[0] = self.end
        self._missed(self.engine.keep_rounds())
        self._fired(self.engine.tick())
        for r in self.engine.rounds(self.start, self.end):
            self.outcome.rounds[r.status] = self.outcome.rounds.get(r.status, 0) + 1
        if progress is not None:
            progress(max(0, int((self.end - self.start).days) - day))
        return self.outcome

    # -- people: pages are acknowledged by whoever is on duty; some tickets change hands -----

    def _fired(self, fired: list[Any]) -> None:
        self.outcome.fired += len(fired)
        if self.engine.people is None:
            return
        for f in fired:
            if f.event == "breach" and f.ticket not in self.outcome.escalated:
                self.outcome.escalated.add(f.ticket)
                # the duty engineer answers the page within minutes, now and then only after
                # the chain has gone on to the managers
                late = self.rng.random() < 0.2
                wait = self.rng.randint(7, 20) if late else self.rng.randint(1, 4)
                self.at(
                    self.clock[0] + timedelta(minutes=wait), functools.partial(self._ack, f.ticket)
                )

    def _ack(self, tid: str) -> None:
        from faultflow.errors import FaultflowError

        duty = self.engine.oncall("duty-engineer")["duty-engineer"]
        try:
            self.engine.ack(tid, actor=duty[0].person.id, note="on it")
            self.outcome.acks += 1
        except FaultflowError:
            pass  # closed meanwhile, or nothing running

    def _hand_over(self, tid: str) -> None:
        from faultflow.errors import FaultflowError

        onsite = self.rng.choice(["sun", "zhao"])
        try:
            self.engine.assign(
                tid, onsite, reason="the on-site engineer takes it over", actor="zhou"
            )
            self.outcome.handovers += 1
        except FaultflowError:
            pass

    def _schedule_arrivals(self) -> None:
        for channel, per_day in RATES.items():
            moment = self.start
            while True:
                moment += timedelta(days=self.rng.expovariate(per_day))
                if moment >= self.end:
                    break
                self.at(moment, functools.partial(self.arrive, channel))

    # -- inspection rounds: the duty engineer does them, mostly in time ----------------------

    def _morning(self) -> None:
        """Each morning, the rounds the scheduler made for the day ahead: each is done in time,
        done late, or not at all (then the engine opens a ticket and pages)."""
        rng = self.inspector
        now = self.clock[0]
        for r in self.engine.rounds(now, now + timedelta(days=1), status=["planned", "due"]):
            if r.id in self.taken:
                continue
            self.taken.add(r.id)
            if not self.fates:  # a month's worth: most in time, a few late or missed
                self.fates = ["missed"] * 2 + ["late"] * 3 + ["finding"] * 2 + ["done"] * 18
                rng.shuffle(self.fates)
            fate = self.fates.pop()
            if fate == "missed":
                continue  # nobody gets to it
            begin = max(now, r.scheduled_at) + timedelta(minutes=rng.randint(0, 40))
            if fate == "late":
                done = r.due_at + timedelta(minutes=rng.randint(10, 180))
            else:
                done = begin + (r.due_at - begin) * rng.uniform(0.2, 0.8)
            self.at(begin, functools.partial(self._inspect, r.id, done, fate == "finding"))
        self.at((now + timedelta(days=1)).replace(hour=7, minute=30), self._morning)

    def _inspector(self) -> str:
        if self.engine.people is None:
            return "li"
        duty = self.engine.oncall("duty-engineer").get("duty-engineer") or []
        return duty[0].person.id if duty else "li"

    def _inspect(self, rid: str, done: datetime, finding: bool) -> None:
        """Check every item of a round; now and then one is out of bounds or not ok — a
        finding, whose ticket is then handled like any other fault."""
        from faultflow.errors import FaultflowError

        rng, who = self.inspector, self._inspector()
        try:
            r = self.engine.inspect_start(rid, actor=who)
            checked = [a.item for a in r.checklist if a.kind != "text"]
            off = rng.choice(checked) if checked and finding else None
            for item in r.checklist:
                found = item.item == off
                if item.kind == "ok":
                    value = "not ok" if found else "ok"
                elif item.kind == "number":
                    value = str(_reading(item.expected, found, rng))
                else:
                    value = "正常，无异常"
                r = self.engine.inspect_record(rid, item.item, value, actor=who)
                if found:
                    tid = next(a.ticket for a in r.checklist if a.item == item.item)
                    if tid and tid not in self.outcome.findings:
                        self.outcome.findings.append(tid)
                        self._plan(tid, self.engine.get(tid).tier, who)
        except FaultflowError:
            return  # skipped or finished meanwhile
        self.at(done, functools.partial(self._finish_round, rid, who))

    def _finish_round(self, rid: str, who: str) -> None:
        from faultflow.errors import FaultflowError

        with contextlib.suppress(FaultflowError):
            self.engine.inspect_finish(rid, actor=who)

    def _missed(self, kept: Any) -> None:
        """A missed round's ticket pages: the duty engineer acknowledges, and deals with it."""
        for _, tid in kept.missed:
            if self.engine.people is not None:
                wait = timedelta(minutes=self.inspector.randint(2, 10))
                self.at(self.clock[0] + wait, functools.partial(self._ack, tid))
            self._plan(tid, self.engine.get(tid).tier, self._inspector())

    # -- faults -------------------------------------------------------------------------------

    def _tier(self, channel: str) -> str:
        weights = {"web": (0.02, 0.13), "chat": (0.08, 0.30)}.get(channel, (0.12, 0.33))
        r = self.rng.random()
        return "A" if r < weights[0] else "B" if r < weights[0] + weights[1] else "C"

    def arrive(self, channel: str) -> None:
        rng = self.rng
        now = self.clock[0]
        tier = self._tier(channel)
        line = channel in ("hotline", "customer_manager") and rng.random() < 0.15
        title = rng.choice(LINE_FAULTS if line else FAULTS[tier])
        caller = rng.choice(self.units)
        unit = caller.name
        agent = rng.choice(MANAGERS if channel in ("customer_manager", "chat") else OPERATORS)
        payload: Any
        if channel == "hotline":
            payload = {
                "caller": f"{unit}值班员",
                "number": caller.phone or f"0374-{rng.randint(6000000, 6999999)}",
                "unit": unit,
                "summary": title,
                "tier": tier,
                "call_start": (now - timedelta(minutes=rng.randint(1, 4))).isoformat(),
                "call_id": f"CALL-{self.seq}",
                **({"kind": "line"} if line else {}),
                **({"cause": "external"} if line and rng.random() < 0.3 else {}),
            }
        elif channel == "customer_manager":
            payload = {
                "title": title,
                "description": f"{unit}: {title}",
                "unit": unit,
                "tier": tier,
                "manager": agent,
                **({"kind": "line"} if line else {}),
            }
        elif channel == "web":
            payload = {
                "title": title,
                "description": f"{unit} 网上报障: {title}",
                "reporter": f"{unit}信息科",
                "unit": unit,  # as the portal sends it
                "tier": tier if tier != "C" else None,
            }
            payload = {k: v for k, v in payload.items() if v is not None}
        elif channel == "chat":
            payload = {
                "message_id": f"wx-{self.seq}",
                "sender": f"{unit}-小王",
                "group": "电子政务问题群",
                "text": f"@客户经理 {title}",
                "time": int(now.timestamp()),
            }
        elif channel == "email":
            payload = self._email(title, caller, now)
        else:
            payload = self._alert(title, tier, now, caller)
        results = self.engine.intake_all(channel, payload, actor=agent)
        for ticket in (r.ticket for r in results if r.outcome in ("opened", "recurrence")):
            self.outcome.opened += 1
            if channel == "alertmanager":
                self.alerts[ticket.id] = payload
            self._plan(ticket.id, ticket.tier, agent)
        if channel in ("alertmanager", "chat") and rng.random() < 0.3:
            # the same alert fires again, the same chat message is forwarded: no new ticket
            self.at(
                now + timedelta(minutes=rng.randint(2, 10)),
                lambda: self._repeat(channel, payload, agent),
            )

    def _repeat(self, channel: str, payload: Any, agent: str) -> None:
        results = self.engine.intake_all(channel, payload, actor=agent)
        self.outcome.duplicates += sum(r.outcome == "duplicate" for r in results)

    def _email(self, title: str, caller: Caller, now: datetime) -> bytes:
        unit = caller.name
        body = f"您好，{unit}报告故障：{title}。请尽快处理。\n联系人：{unit}网管"
        charset = self.rng.choice(["gb2312", "gbk", "utf-8"])
        try:
            msg = MIMEText(body, "plain", charset)
        except UnicodeEncodeError:
            msg = MIMEText(body, "plain", "utf-8")
        msg["Subject"] = Header(f"【故障报告】{title}", "utf-8").encode()
        msg["From"] = f"{unit} <{caller.mail or f'it@{abs(hash(unit)) % 1000}.gov.example'}>"
        msg["To"] = "service@ops.example"
        msg["Date"] = format_datetime(now)
        msg["Message-ID"] = make_msgid(domain="gov.example")
        return msg.as_bytes()

    def _alert(self, title: str, tier: str, now: datetime, caller: Caller) -> dict[str, Any]:
        severity = {"A": "critical", "B": "major", "C": "warning"}[tier]
        fingerprint = f"{self.rng.getrandbits(64):016x}"
        address = f"10.20.{self.rng.randint(1, 254)}.{self.rng.randint(1, 254)}"
        instance = f"{caller.device}:9100" if caller.device else address
        return {
            "version": "4",
            "status": "firing",
            "receiver": "faultflow",
            "groupLabels": {"alertname": "NodeDown"},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.local",
            "groupKey": "{}:{}",
            "alerts": [
                {
                    "status": "firing",
                    "fingerprint": fingerprint,
                    "labels": {
                        "alertname": "NodeDown",
                        "severity": severity,
                        "instance": instance,
                    },
                    "annotations": {"summary": f"巡检发现: {title}"},
                    "startsAt": now.isoformat(),
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus.local/graph",
                }
            ],
        }

    # -- what the operators do ----------------------------------------------------------------

    def _late(self, limit_min: float, late_share: float) -> timedelta:
        """A handling time: mostly well within the limit, sometimes over it."""
        rng = self.rng
        if rng.random() < late_share:
            return timedelta(minutes=limit_min * rng.uniform(1.05, 2.0))
        share = min(0.97, rng.lognormvariate(math.log(0.45), 0.35))
        return timedelta(minutes=limit_min * share)

    def _plan(self, tid: str, tier: str, owner: str) -> None:
        now = self.clock[0]
        ticket = self.engine.get(tid)
        if ticket.state != "received":
            return  # an idempotent repeat: already planned
        if self.rng.random() < 0.03:
            self.at(
                now + timedelta(minutes=self.rng.randint(3, 20)),
                lambda: self._do(tid, "cancel", owner, reason="duplicate report"),
            )
            return
        limit = ticket.clocks["response"].limit.total_seconds() / 60
        respond = now + self._late(limit, 0.06)
        self.at(respond, lambda: self._respond(tid, tier, owner))

    def _do(self, tid: str, trigger: str, actor: str, **kw: Any) -> Any:
        from faultflow.errors import FaultflowError

        try:
            return self.engine.advance(tid, trigger, actor=actor, **kw)
        except FaultflowError:
            return None  # e.g. cancelled meanwhile; the demo moves on as an operator would

    def _respond(self, tid: str, tier: str, owner: str) -> None:
        if self._do(tid, "respond", owner) is None:
            return
        now = self.clock[0]
        rng = self.rng
        if tier in ("A", "B") and rng.random() < 0.7:  # P7: straight on site
            self.at(
                now + timedelta(minutes=rng.randint(2, 10)),
                lambda: self._dispatch(tid, owner, None),
            )
        else:
            self.at(now + timedelta(minutes=rng.randint(1, 8)), lambda: self._remote(tid, owner))

    def _remote(self, tid: str, owner: str) -> None:
        if self._do(tid, "remote", owner, note="remote session with the unit's consent") is None:
            return
        now = self.clock[0]
        if self.rng.random() < 0.72:
            self.at(
                now + timedelta(minutes=self.rng.randint(10, 180)),
                lambda: self._resolve(tid, owner),
            )
        else:  # P6: remote could not solve it
            self.at(
                now + timedelta(minutes=self.rng.randint(15, 90)),
                lambda: self._dispatch(tid, owner, "remote-failed"),
            )

    def _dispatch(self, tid: str, owner: str, reason: str | None) -> None:
        t = self._do(tid, "dispatch", owner, reason=reason)
        if t is None:
            return
        limit = t.clocks["arrival"].limit.total_seconds() / 60
        engineer = self.rng.choice(OPERATORS)
        if self.engine.people is not None and self.rng.random() < 0.3:
            self.at(self.clock[0] + timedelta(minutes=2), lambda: self._hand_over(tid))
        self.at(self.clock[0] + self._late(limit, 0.08), lambda: self._arrive(tid, engineer))

    def _arrive(self, tid: str, engineer: str) -> None:
        t = self._do(tid, "arrive", engineer)
        if t is None:
            return
        now = self.clock[0]
        limit = t.clocks["resolution"].limit.total_seconds() / 60
        if self.rng.random() < 0.06:  # waiting for the machine room to open
            self.at(now + timedelta(minutes=20), lambda: self._hold(tid, engineer))
        took = self._late(limit, 0.10)
        if took.total_seconds() / 60 > limit:  # P10: not fixed in time, a spare goes in
            self.at(
                now + timedelta(minutes=limit + self.rng.randint(5, 40)),
                lambda: self._substitute(tid, engineer),
            )
        else:
            self.at(now + took, lambda: self._resolve(tid, engineer))

    def _hold(self, tid: str, engineer: str) -> None:
        from faultflow.errors import FaultflowError

        try:
            self.engine.hold(
                tid, reason="machine room locked; waiting for the unit's key", actor=engineer
            )
        except FaultflowError:
            return
        self.at(
            self.clock[0] + timedelta(minutes=self.rng.randint(30, 120)),
            lambda: self._resume(tid, engineer),
        )

    def _resume(self, tid: str, engineer: str) -> None:
        from faultflow.errors import FaultflowError

        with contextlib.suppress(FaultflowError):
            self.engine.resume(tid, actor=engineer, note="key arrived")

    def _substitute(self, tid: str, engineer: str) -> None:
        note = "spare of the same model installed"
        t = self._do(tid, "substitute", engineer, note=note)
        if t is None and self.models:  # a part the registry does not know: the engineer names it
            model = self.rng.choice(self.models)
            t = self._do(tid, "substitute", engineer, note=note, model=model)
        if t is not None and t.history[-1].data.get("spare"):
            self.outcome.spares.append(t.history[-1].data["spare"]["serial"])
        if t is None:
            self._resolve(tid, engineer)
            return
        self._schedule_report(tid, engineer)

    def _resolve(self, tid: str, actor: str) -> None:
        if self._do(tid, "resolve", actor, note="fault cleared; confirmed with the unit") is None:
            return
        alert = self.alerts.pop(tid, None)
        if alert is not None:  # monitoring sees it clear too: a note on the ticket, no new one
            self.at(
                self.clock[0] + timedelta(minutes=self.rng.randint(1, 5)),
                lambda: self._alert_resolved(alert),
            )
        self._schedule_report(tid, actor)

    def _alert_resolved(self, alert: dict[str, Any]) -> None:
        resolved = {
            **alert,
            "status": "resolved",
            "alerts": [
                {**a, "status": "resolved", "endsAt": self.clock[0].isoformat()}
                for a in alert["alerts"]
            ],
        }
        self.engine.intake_all("alertmanager", resolved, actor="monitor")
        self.outcome.resolved_alerts += 1

    def _schedule_report(self, tid: str, actor: str) -> None:
        took = self._late(24 * 60, 0.05)
        self.at(self.clock[0] + took, lambda: self._report(tid, actor))

    def _report(self, tid: str, actor: str) -> None:
        t = self._do(tid, "report", actor, note="handling result sent to the customer")
        if t is None:
            return
        if any(c.breached for c in t.clocks.values()):
            self.outcome.sample_breached = self.outcome.sample_breached or tid
        else:
            self.outcome.sample_met = self.outcome.sample_met or tid
        late = any(c.breached for c in t.clocks.values())
        if self.calls.random() < 0.85:  # most are called back within the two working days
            wait = timedelta(hours=self.calls.uniform(2, 30))
            self.at(self.clock[0] + wait, functools.partial(self._call_back, tid, late))


def _reading(expected: str, off: bool, rng: random.Random) -> float:
    """A plausible reading for an item expected within ``expected`` (``10–28``, ``≤ 80``,
    ``≥ 3``): inside, or (``off``) just outside."""
    low = high = None
    if "–" in expected:
        a, b = expected.split("–")
        low, high = float(a), float(b)
    elif expected.startswith("≤"):
        high = float(expected[1:])
    elif expected.startswith("≥"):
        low = float(expected[1:])
    lo = low if low is not None else (high or 0) - 60
    hi = high if high is not None else (low or 0) + 60
    if off:
        return round(hi + rng.uniform(1, 6), 1) if high is not None else round(lo - 2, 1)
    return round(rng.uniform(lo + (hi - lo) * 0.2, hi - (hi - lo) * 0.2), 1)


def simulate(
    engine: Any,
    clock: list[datetime],
    days: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> Outcome:
    """Run ``days`` of the seed contract ending at the current value of ``clock``."""
    end = clock[0].replace(second=0, microsecond=0)
    start = (end - timedelta(days=days)).replace(hour=0, minute=0)
    clock[0] = start
    return Simulation(engine, clock, start, end, seed).run(progress)
