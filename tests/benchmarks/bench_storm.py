"""Benchmark: an alert storm against a real `faultflow serve` (the issue's bad day).

10,000 distinct alerts, each its own Alertmanager group, fired over --seconds through a real
Alertmanager (``--via alertmanager``), or posted straight to the webhook by --senders concurrent
clients with 5 s deadlines that retry 5xx, 429 and timeouts like Alertmanager (``--via
webhook``). Meanwhile /healthz is probed every 50 ms and --timers tier-A response breaches fall
due; a webhook notifier with ``coalesce = "1m"`` counts the messages one recipient gets.

Prints: alerts accounted (a ticket, or an occurrence on the storm's ticket), tickets, peak RSS of
serve, healthz p99, breach lateness p99, messages per recipient — and the raw floor: the same
number of rows, one transaction each, written by the bare driver into the same database, as a
ratio of intake rates. Goals: 10,000/10,000 accounted, RSS < 400 MB, healthz p99 ≤ 250 ms,
lateness p99 ≤ 1 s, one digest per recipient per interval.

    python tests/benchmarks/bench_storm.py [--alerts 10000] [--seconds 60] [--via alertmanager]
        [--senders 1000] [--db postgresql+psycopg://…/storm]   (default: a SQLite file)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1]))
from common import machine
from storm import storm


class Recipient:
    """One webhook recipient on 127.0.0.1: counts the messages it gets."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        me = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                me.messages.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def contract(folder: Path, url: str) -> Path:
    from faultflow.contract.compile import default_contract_path

    path = folder / "states.toml"
    path.write_text(
        default_contract_path().read_text(encoding="utf-8")
        + f'\n[notifiers.duty-room]\nuse = "webhook"\nurl = "{url}"\n'
        + 'events = ["transition", "breach", "escalation"]\ncoalesce = "1m"\n',
        encoding="utf-8",
    )
    return path


def raw_floor(db: str, rows: int) -> float:
    """Rows a second the bare driver writes into the same database, one transaction each."""
    import sqlalchemy

    url = db if "://" in db else f"sqlite:///{db}"
    engine = sqlalchemy.create_engine(url)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("CREATE TABLE raw_alerts (fingerprint VARCHAR(32) PRIMARY KEY, body TEXT)")
        raw.commit()
        began = time.perf_counter()
        mark = "%s" if engine.dialect.name == "postgresql" else "?"
        for i in range(rows):
            cur.execute(
                f"INSERT INTO raw_alerts VALUES ({mark}, {mark})", (f"fp{i}", "x" * 600)
            )
            raw.commit()
        return rows / (time.perf_counter() - began)
    finally:
        raw.close()
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--via", choices=("alertmanager", "webhook"), default="alertmanager")
    parser.add_argument("--senders", type=int, default=1000)
    parser.add_argument("--timers", type=int, default=100)
    parser.add_argument("--db", help="a PostgreSQL URL (an empty database); default SQLite")
    parser.add_argument(
        "--lead", type=float, default=6.0, help="s to start serve before the storm"
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ff-storm-"))
    db = args.db or str(folder / "ff.db")
    recipient = Recipient()
    o = storm(
        folder, db, alerts=args.alerts, seconds=args.seconds, timers=args.timers,
        via=args.via, senders=args.senders, config=contract(folder, recipient.url),
        lead=args.lead,
    )  # fmt: skip
    rate = o.accounted / max(o.seconds_to_account, 1e-9)
    floor = raw_floor(db, min(args.alerts, 5000))
    digests = sum(1 for m in recipient.messages if m.get("kind") == "digest")
    windows = math.ceil((o.seconds_to_account + 60) / 60) + 1
    print(
        f"storm benchmark: {args.alerts} alerts over {args.seconds:.0f} s via {args.via}"
        f"{f' ({args.senders} senders)' if args.via == 'webhook' else ''}; "
        f"{'PostgreSQL' if '://' in db else 'SQLite'}; {machine()}"
    )
    print(f"  {o.summary()}")
    print(
        f"  messages to the one recipient: {len(recipient.messages)} ({digests} digests) "
        f"for {sum(m.get('count', 1) for m in recipient.messages)} notifications"
    )
    print(f"  intake: {rate:.0f} alerts/s; raw driver floor: {floor:.0f} rows/s")
    print(f"  ratio engine/raw (alerts/s over rows/s): {rate / floor:.3f}")
    goals = {
        "all accounted, none doubled": o.accounted == args.alerts and o.doubled == 0,
        "peak RSS < 400 MB": o.peak_rss_mb < 400,
        "healthz p99 <= 250 ms": o.p(o.healthz_ms, 0.99) <= 250,
        "breach lateness p99 <= 1 s": o.p(o.lateness_ms, 0.99) <= 1000
        and o.breaches == args.timers,
        "one message per recipient per interval": len(recipient.messages) <= windows,
    }
    for goal, met in goals.items():
        print(f"  {goal}: {'met' if met else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
