"""Benchmark: intake over HTTP (`faultflow serve`) against in-process `engine.intake`, and an
Alertmanager storm.

1. Intake: --faults web faults through `engine.intake` in this process (the floor: the same
   engine, no HTTP), then the same number over HTTP to a `faultflow serve` process with
   --clients concurrent keep-alive clients. Prints both rates and the ratio (target >= 0.5).
2. Storm: --groups Alertmanager groups of --alerts alerts each, posted by the same clients,
   while --timers response breaches fall due over the storm; the time until every alert is a
   ticket, and the breach latency (recorded - due) of the scheduler inside `serve`, p99
   (target <= 1 s).

    python tests/benchmarks/bench_http.py [--faults 2000] [--clients 16] [--groups 100]
        [--alerts 100] [--timers 200] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def in_process(db: Path, faults: int) -> float:
    from faultflow import Engine

    engine = Engine.open(db=db)
    began = time.perf_counter()
    for i in range(faults):
        engine.intake("web", {"title": f"fault {i}"}, actor="bench")
    took = time.perf_counter() - began
    engine.close()
    return faults / took


def serve(db: Path) -> tuple[subprocess.Popen[str], str]:
    import httpx

    port = free_port()
    env = {**os.environ, "FAULTFLOW_DB": str(db)}
    env.pop("FAULTFLOW_NOW", None)
    process = subprocess.Popen(
        # its capacity is measured: one token, no per-token share
        [sys.executable, "-m", "faultflow.cli", "serve", "--port", str(port),
         "--max-sleep", "0.5", "--token-rate", "0"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("serve did not start")


def in_parallel(clients: int, jobs: list[Any], url: str, secret: str) -> float:
    """Send every (method, path, json) of ``jobs`` with ``clients`` keep-alive connections;
    seconds. The client is the standard library's http.client: httpx costs the client side
    about three times as much CPU per request, and on two cores that would be measured as the
    server's time."""
    import http.client
    import json
    from urllib.parse import urlsplit

    where = urlsplit(url)
    share = [jobs[i::clients] for i in range(clients)]
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}

    def work(mine: list[Any]) -> None:
        c = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=60)
        for method, path, body in mine:
            c.request(method, path, body=json.dumps(body) if body is not None else None,
                      headers=headers)  # fmt: skip
            answer = c.getresponse()
            text = answer.read()
            if answer.status not in (200, 201):
                failures.append(f"{answer.status} {text[:200]!r}")
        c.close()

    threads = [threading.Thread(target=work, args=(m,)) for m in share]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.perf_counter() - began
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. {failures[0]}")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs (the median)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--alerts", type=int, default=100)
    parser.add_argument("--timers", type=int, default=200)
    parser.add_argument("--lead", type=float, default=10.0, help="s until the first breach")
    parser.add_argument("--spread", type=float, default=10.0, help="s the breaches spread over")
    args = parser.parse_args()
    from faultflow import Engine

    folder = Path(tempfile.mkdtemp(prefix="ff-http-"))
    try:
        floors, rates, noops = [], [], []
        for run in range(args.runs):  # interleaved: the floor, then HTTP, on fresh databases
            floors.append(in_process(folder / f"floor{run}.db", args.faults))
            db = folder / f"http{run}.db"
            engine = Engine.open(db=db)
            secret = engine.create_token("bench", ["admin"])[1]
            engine.close()
            process, url = serve(db)
            try:
                jobs = [
                    ("POST", "/v1/intake/web", {"title": f"fault {i}"}) for i in range(args.faults)
                ]
                rates.append(args.faults / in_parallel(args.clients, jobs, url, secret))
                healthz = [("GET", "/healthz", None)] * args.faults
                noops.append(args.faults / in_parallel(args.clients, healthz, url, secret))
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
        storm = storm_run(folder, args, secret)
        floor, http_rate = statistics.median(floors), statistics.median(rates)
        noop_rate = statistics.median(noops)
        ratio = statistics.median(r / f for r, f in zip(rates, floors, strict=True))
        print(f"http benchmark: {machine()}; median of {args.runs} interleaved runs")
        print(
            f"  intake: in-process engine.intake {floor:,.0f}/s; over HTTP with {args.clients} "
            f"keep-alive clients {http_rate:,.0f}/s; ratio http/in-process "
            f"{ratio:.3f} (target >= 0.5: "
            f"{'met' if ratio >= 0.5 else 'NOT MET'}); the HTTP floor of this "
            f"server and client, GET /healthz (no database), {noop_rate:,.0f}/s"
        )
        tickets_s, p50, p99, worst = storm
        print(
            f"  storm: {args.groups} groups of {args.alerts} alerts "
            f"({args.groups * args.alerts:,} alerts; under the seed contract's storm rule, 100 "
            f"tickets and one storm ticket carrying the rest) in {tickets_s:.1f} s; breach "
            f"latency of the "
            f"scheduler in serve meanwhile p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max "
            f"{worst * 1000:.1f} ms over {args.timers} timers (target p99 <= 1 s: "
            f"{'met' if p99 <= 1 else 'NOT MET'})"
        )
    finally:
        shutil.rmtree(folder)
    return 0


def storm_run(folder: Path, args: Any, secret: str) -> tuple[float, float, float, float]:
    """A fresh database: timers due during the storm, then the storm."""
    from faultflow import Engine

    db = folder / "storm.db"
    engine = Engine.open(db=db)
    storm_secret = engine.create_token("storm", ["admin"])[1]
    # tier A (15 min response): reported so that the breaches fall due over the next 10..20 s
    now = datetime.now(UTC)
    lead, spread = args.lead, args.spread
    for i in range(args.timers):
        due = now + timedelta(seconds=lead + spread * i / max(1, args.timers - 1))
        engine.intake(
            "hotline",
            {"title": f"timer {i}", "tier": "A",
             "occurred_at": (due - timedelta(minutes=15)).isoformat()},
            actor="bench",
        )  # fmt: skip
    engine.close()
    process, url = serve(db)
    try:
        groups = []
        starts = datetime.now(UTC).isoformat()
        for g in range(args.groups):
            alerts = [
                {
                    "status": "firing",
                    "labels": {
                        "alertname": f"Storm{g}",
                        "instance": f"host{a}",
                        "severity": "warning",
                    },
                    "annotations": {"summary": f"storm {g}/{a}"},
                    "startsAt": starts,
                    "fingerprint": f"g{g}a{a}",
                }
                for a in range(args.alerts)
            ]
            hook = {"version": "4", "status": "firing", "receiver": "faultflow", "alerts": alerts}
            groups.append(("POST", "/v1/intake/alertmanager", hook))
        took = in_parallel(args.clients, groups, url, storm_secret)
        time.sleep(
            max(
                0.0,
                (now + timedelta(seconds=lead + spread + 2) - datetime.now(UTC)).total_seconds(),
            )
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    engine = Engine.open(db=db, create=False)
    latencies = []
    for t in engine.list(tier="A"):
        for e in engine.history(t.id):
            if e.trigger == "breach":
                due = datetime.fromisoformat(e.data["due_at"])
                latencies.append((e.recorded_at - due).total_seconds())
    engine.close()
    if len(latencies) < args.timers:
        raise SystemExit(f"only {len(latencies)} of {args.timers} breaches were recorded")
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return took, statistics.median(latencies), p99, latencies[-1]


if __name__ == "__main__":
    sys.exit(main())
