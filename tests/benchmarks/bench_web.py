"""Benchmark: the duty board with --tickets open tickets (5,000 by default).

Measures, on one database and in one run:
- the board page as the browser gets it: GET /board over HTTP from a uvicorn on 127.0.0.1
  (logged in), median of --repeat requests (target <= 300 ms), and until its first bytes
  arrive (target <= 100 ms);
- the server's work per board render: reading the open tickets through the engine and
  rendering the rows (what GET /board and each server-sent update do);
- the server's work per SSE update: the change stamp (one aggregate) plus that render;
- the raw floor: the same rows (the most urgent open tickets shown, with their clocks) read
  with plain sqlite3 along the same index;
- the live update: from a change made by another caller (a ticket responded to) until an open
  board's server-sent event stream delivers the new rows (median and worst of --repeat; target
  <= 1 s: the watcher looks every second);
- a duty room: the CPU time of the whole process (server and the listening sockets) per change
  while one board is open, then while --boards boards with the same view are (they share one
  render a change; the ratio of the two is the cost of each more screen), over --changes changes.
Prints each and the ratio raw / engine.

    python tests/benchmarks/bench_web.py [--tickets 5000] [--repeat 7] [--boards 10] [--changes 5]
"""

from __future__ import annotations

import argparse
import re
import socket
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

from common import T0, build, machine, timed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raw_rows(db: Path, shown: int) -> float:
    """The floor: the rows the board shows (the most urgent open tickets, along the same
    index) and their clocks, as plain sqlite3 reads them."""

    def read() -> None:
        conn = sqlite3.connect(db)
        try:
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT * FROM tickets WHERE urgent_us IS NOT NULL AND state NOT IN "
                    "('reported', 'cancelled') ORDER BY urgent_us, created_us, id LIMIT ?",
                    (shown,),
                )
            ]
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                conn.execute(f"SELECT * FROM clocks WHERE ticket_id IN ({marks})", chunk).fetchall()
        finally:
            conn.close()

    read()
    return timed(read, repeat=7)


def live_updates(client: object, engine: object, ids: list[str]) -> list[float]:
    """Seconds from each change (a ticket of ``ids`` responded to) until the open board's event
    stream delivers new rows."""
    import queue

    arrived: queue.Queue[float] = queue.Queue()
    stop = threading.Event()

    import httpx

    def listen() -> None:  # a browser of its own, with the same session
        own = httpx.Client(base_url=client.base_url, cookies=client.cookies)  # type: ignore[attr-defined]
        try:
            with own.stream("GET", "/board/events", timeout=30) as stream:
                for line in stream.iter_lines():
                    if line == "event: rows":
                        arrived.put(time.perf_counter())
                        if stop.is_set():
                            return
        except httpx.HTTPError:
            if not stop.is_set():
                raise
        finally:
            own.close()

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    arrived.get(timeout=30)  # the first rows, sent on connecting
    out = []
    for n, tid in enumerate(ids, 1):
        time.sleep(0.3)  # not in step with the watcher's second
        if n == len(ids):  # the listener leaves after the last rows: the server can stop at once
            stop.set()
        start = time.perf_counter()
        engine.advance(tid, "respond", actor="bench")  # type: ignore[attr-defined]
        out.append(arrived.get(timeout=30) - start)
    thread.join(timeout=30)
    return out


def first_byte(client: object, repeat: int) -> float:
    """Seconds from asking for the board until its first bytes arrive (median of ``repeat``)."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        with client.stream("GET", "/board") as answer:  # type: ignore[attr-defined]
            chunks = answer.iter_raw()
            next(chunks)
            times.append(time.perf_counter() - began)
            for _ in chunks:  # the rest of the page
                pass
    return sorted(times)[len(times) // 2]


def duty_room(port: int, cookie: str, engine: object, ids: list[str], boards: int) -> float:
    """CPU seconds of this process per change while ``boards`` boards listen (plain sockets
    that count the bytes: a browser's parsing is not the server's work)."""
    stop = threading.Event()
    rows, ready = [0] * boards, [False] * boards
    request = f"GET /board/events HTTP/1.1\r\nHost: bench\r\nCookie: {cookie}\r\n\r\n"
    sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(boards)]

    def listen(i: int, conn: socket.socket) -> None:
        conn.sendall(request.encode())
        with conn:
            while not stop.is_set():
                try:
                    got = conn.recv(65536)
                except OSError:
                    return
                if not got:
                    return
                ready[i] = ready[i] or b"retry:" in got  # the stream's first words
                rows[i] += got.count(b"event: rows")

    threads = [
        threading.Thread(target=listen, args=(i, c), daemon=True) for i, c in enumerate(sockets)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while not all(ready):  # every board's stream is open
        assert time.monotonic() < deadline, "the boards' streams did not open"
        time.sleep(0.05)
    began = time.process_time()
    for tid in ids:
        engine.advance(tid, "respond", actor="bench")  # type: ignore[attr-defined]
        time.sleep(1.5)  # the watcher's second, and every board's update
    used = time.process_time() - began
    stop.set()
    for c in sockets:
        c.shutdown(socket.SHUT_RDWR)
    for t in threads:
        t.join(timeout=5)
    # a change more wakes the streams, which see their boards gone and end (else they would
    # notice at their next keep-alive, 15 s on, and hold up the server's stop)
    engine.note(ids[0], "the duty room closed", actor="bench")  # type: ignore[attr-defined]
    time.sleep(1.5)
    assert min(rows) >= max(1, len(ids) // 2), rows  # every board was updated
    return used / len(ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--boards", type=int, default=10, help="boards open in the duty room")
    parser.add_argument("--changes", type=int, default=5, help="changes the duty room sees")
    args = parser.parse_args()

    import httpx
    import uvicorn
    from faultflow import Engine
    from faultflow.http import create_app
    from faultflow.http.board import SHOWN, rows_html
    from faultflow.http.words import Words

    folder = Path(tempfile.mkdtemp(prefix="ff-web-"))
    db = folder / "board.db"
    build(db, args.tickets, due=args.tickets // 10, progress=False)
    engine = Engine.open(db=db, clock=lambda: T0)
    secret = engine.create_token("bench", ["read"], "bench")[1]
    words = Words("en")
    everything = {"tier": None, "state": None, "owner": None}

    render_s = timed(lambda: rows_html(engine, everything, words), repeat=args.repeat)
    update_s = timed(
        lambda: (engine.stamp(), rows_html(engine, everything, words)), repeat=args.repeat
    )
    stamp_s = timed(engine.stamp, repeat=args.repeat)
    raw_s = raw_rows(db, SHOWN)

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(engine), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
            form = c.get("/login").text
            token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
            c.post("/login", data={"csrf": token, "token": secret})
            page = c.get("/board")
            shown = min(args.tickets, SHOWN)
            assert page.status_code == 200 and page.text.count("data-id=") == shown
            http_s = timed(lambda: c.get("/board").raise_for_status(), repeat=args.repeat)
            first_s = first_byte(c, args.repeat)
            size = len(page.content)
            ids = re.findall(r'data-id="([^"]+)"', page.text)
            live = live_updates(c, engine, ids[: args.repeat])
            cookie = "; ".join(f"{k}={v}" for k, v in c.cookies.items())
            rest = ids[args.repeat :]
            one_s = duty_room(port, cookie, engine, rest[: args.changes], 1)
            room_s = duty_room(
                port, cookie, engine, rest[args.changes : 2 * args.changes], args.boards
            )
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.close()

    print(f"board benchmark: {args.tickets:,} open tickets, the {SHOWN} most urgent shown")
    print(f"  {machine()}")
    print(
        f"  GET /board over HTTP : {http_s * 1000:7.1f} ms ({size / 1e6:.1f} MB; target <= 300 "
        f"ms); its first byte {first_s * 1000:.1f} ms (target <= 100 ms: sent as it is drawn)"
    )
    print(f"  server render (rows) : {render_s * 1000:7.1f} ms")
    print(f"  server SSE update    : {update_s * 1000:7.1f} ms (stamp {stamp_s * 1000:.2f} ms)")
    print(f"  raw sqlite3 rows     : {raw_s * 1000:7.1f} ms")
    print(f"  ratio raw/engine (render): {raw_s / render_s:.3f}")
    print(f"  ratio raw/engine (SSE update): {raw_s / update_s:.3f}")
    live.sort()
    print(
        f"  live update          : {live[len(live) // 2] * 1000:7.1f} ms median, "
        f"{live[-1] * 1000:.1f} ms worst of {len(live)} (change -> rows on an open page; "
        "target <= 1 s)"
    )
    print(
        f"  duty room            : {one_s * 1000:7.1f} ms of CPU a change with one board open, "
        f"{room_s * 1000:.1f} ms with {args.boards} (they share a render); ratio "
        f"{args.boards} boards / one {room_s / one_s:.2f}"
    )


if __name__ == "__main__":
    main()
