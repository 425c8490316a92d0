"""The demo month's set pieces (simulation.py): one outage reported through four channels and
merged into the first report, a night of planned work that pages nobody, and the follow-up
calls after each report. A mixin of :class:`~cli.simulation.Simulation`: its queue, clock and
outcome are the simulation's."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .simulation import Caller, Outcome

OUTAGE = "核心交换机宕机，业务全部中断"
"""What the outage's first report (the monitoring's alert) says."""


class Scenes:
    """What the simulation does beside the everyday faults (see the module's docstring)."""

    if TYPE_CHECKING:  # the simulation's, which mixes this in
        engine: Any
        clock: list[datetime]
        outcome: Outcome
        calls: random.Random
        seq: int

        def at(self, moment: datetime, action: Callable[[], None]) -> None: ...
        def _alert(
            self, title: str, tier: str, now: datetime, caller: Caller
        ) -> dict[str, Any]: ...
        def _plan(self, tid: str, tier: str, owner: str) -> None: ...
        def _do(self, tid: str, trigger: str, actor: str, **kw: Any) -> Any: ...
        def _inspector(self) -> str: ...

    # -- one outage, four reports: merged into the first, paid by its clock -------------------

    def _outage(self, caller: Caller) -> None:
        """The monitoring fires first; the unit's duty officer phones, its customer manager
        writes, someone fills in the portal: four tickets of one outage, each offered the
        others as candidates. The duty engineer merges the later three into the first, and
        works that one only; the reports close with it."""
        now = self.clock[0]
        title = OUTAGE
        alert = self._alert(title, "A", now, caller)
        (first,) = self.engine.intake_all("alertmanager", alert, actor="monitor")
        parent = first.ticket.id
        self.outcome.opened += 1
        self.outcome.outage = (parent, [])
        reports = {
            "hotline": {"caller": f"{caller.name}值班员", "unit": caller.name, "summary": title,
                        "tier": "A", "number": caller.phone or "0374-6000000",
                        "call_id": f"CALL-OUTAGE-{parent}"},
            "customer_manager": {"title": f"{caller.name}全部断网", "unit": caller.name,
                                 "tier": "A", "manager": "zhao"},
            "web": {"title": "网站和办公系统都打不开", "unit": caller.name, "tier": "A",
                    "reporter": f"{caller.name}信息科"},
        }  # fmt: skip
        for minutes, (channel, payload) in zip((3, 5, 9), reports.items(), strict=True):
            self.at(now + timedelta(minutes=minutes),
                    functools.partial(self._outage_report, channel, payload, parent))  # fmt: skip
        duty = self._inspector()
        steps = [(11, "respond"), (25, "dispatch"), (80, "arrive"), (200, "resolve")]
        for minutes, trigger in steps:
            self.at(now + timedelta(minutes=minutes),
                    functools.partial(self._do, parent, trigger, duty,
                                      note="one outage: see the reports merged in"))  # fmt: skip
        self.at(now + timedelta(hours=6),
                lambda: self._do(parent, "report", duty, attach_report=True,
                                 note="handling report to every reporter"))  # fmt: skip

    def _outage_report(self, channel: str, payload: dict[str, Any], parent: str) -> None:
        from faultflow.errors import FaultflowError

        (r,) = self.engine.intake_all(channel, payload, actor="desk")
        self.outcome.opened += 1
        if parent not in [c.id for c in r.candidates]:
            return  # not offered: worked on its own (by the rules of the demo, not here)
        try:  # the duty engineer takes the offer
            self.engine.merge(r.ticket.id, parent, actor=self._inspector(),
                              reason="同一故障：核心交换机宕机")  # fmt: skip
        except FaultflowError:
            return
        assert self.outcome.outage is not None
        self.outcome.outage[1].append(r.ticket.id)

    # -- a night of planned work: recorded, nobody paged ----------------------------------------

    def _plan_work(self, caller: Caller) -> None:
        """The project team schedules a cut-over for tonight at one unit; during it the
        monitoring sees five ports go down and the unit's duty officer phones; four ports come
        back before the end. At the end the fifth alert and the phone call still stand: they
        open under the usual promises, and the operators take them from there."""
        from faultflow.errors import FaultflowError

        code = next((u["code"] for u in self.engine.entries("units")
                     if u["name"] == caller.name), None)  # fmt: skip
        if code is None:
            return
        now = self.clock[0]
        begins = now.replace(hour=22, minute=0)
        ends = begins + timedelta(hours=4)
        try:
            w = self.engine.maintenance_add(begins, ends, f"unit:{code}", "核心交换机割接（夜间）",
                                            actor="zhou")  # fmt: skip
        except FaultflowError:
            return
        self.outcome.window = {"id": w.id, "unit": caller.name, "planned": [], "opened": [],
                               "cleared": []}  # fmt: skip
        self.at(begins, lambda: None)  # the scheduler sees it begin, and end, on time
        self.at(ends, functools.partial(self._work_done, w.id))
        ports = self._alert("割接: 端口 down", "A", begins, caller)
        ports["alerts"] = [
            {**ports["alerts"][0], "fingerprint": f"{self.seq:08x}{i:08x}",
             "labels": {**ports["alerts"][0]["labels"], "alertname": f"PortDown-{i}"}}
            for i in range(5)
        ]  # fmt: skip
        self.at(begins + timedelta(minutes=20), functools.partial(self._during, ports, caller))

    def _during(self, ports: dict[str, Any], caller: Caller) -> None:
        assert self.outcome.window is not None
        now = self.clock[0]
        ports = {**ports, "alerts": [{**a, "startsAt": now.isoformat()} for a in ports["alerts"]]}
        for r in self.engine.intake_all("alertmanager", ports, actor="monitor"):
            self.outcome.window["planned"].append(r.ticket.id)
            self.outcome.opened += 1
        call = {"caller": f"{caller.name}值班员", "unit": caller.name, "tier": "A",
                "summary": "办公网全部中断", "number": caller.phone or "0374-6000000",
                "call_id": f"CALL-NIGHT-{self.seq}"}  # fmt: skip
        self.at(now + timedelta(minutes=25), functools.partial(self._call_in, call))
        back = {**ports, "status": "resolved",
                "alerts": [{**a, "status": "resolved", "endsAt": (now + timedelta(hours=2))
                            .isoformat()} for a in ports["alerts"][:4]]}  # fmt: skip
        self.at(
            now + timedelta(hours=2),
            lambda: self.engine.intake_all("alertmanager", back, actor="monitor"),
        )

    def _call_in(self, call: dict[str, Any]) -> None:
        assert self.outcome.window is not None
        self.outcome.window["planned"].append(self.engine.intake("hotline", call, "desk").id)
        self.outcome.opened += 1

    def _work_done(self, window: int) -> None:
        assert self.outcome.window is not None
        for tid in self.outcome.window["planned"]:
            t = self.engine.get(tid)
            if t.state in self.engine.contract.cancelled:
                self.outcome.window["cleared"].append(tid)
            elif t.clocks:  # opened at the window's end: handled as any fault from now on
                self.outcome.window["opened"].append(tid)
                self._plan(tid, t.tier, "wang")

    # -- the follow-up calls (回访) ------------------------------------------------------------

    def _call_back(self, tid: str, late: bool) -> None:
        """The follow-up call (回访): most are satisfied; a broken promise rates lower."""
        from faultflow.errors import FaultflowError

        r = self.calls.random()
        rating = (5 if r < 0.55 else 4 if r < 0.85 else 3 if r < 0.95 else 2) - (1 if late else 0)
        said = {5: "很满意", 4: "满意", 3: "还可以", 2: "修得太慢", 1: "很不满意，影响办公"}
        try:
            f = self.engine.followup(tid, max(1, rating), said[max(1, rating)], actor="zhou")
        except FaultflowError:
            return
        self.outcome.ratings.append(int(f.rating or 0))
        if f.review:
            self.outcome.reviews.append(f.review)
            self._plan(f.review, self.engine.get(f.review).tier, "zhou")
