"""Benchmark: the experience base — searching --entries entries (100,000 by default), and what
drafting an entry costs the `report` transition.

1. Search. Entries made from the realistic ones of tests/fixtures/experience.json, varied
   (units, models, numbers), written in one transaction and indexed by the first search. Then
   the fixture's queries, again and again: `Engine.kb_search` (segment the query, widen it by
   synonyms, ask the full-text index, read the entries) against the raw floor — the same FTS5
   MATCH, already segmented, by plain sqlite3 on the same file. Prints p50/p95 of each and
   the ratio (goal: p95 at most 20 ms).
2. Drafting. The same lifecycle to `report` on two engines over one database, one with the
   experience base's hook and one without, interleaved: the difference in the `report`
   step's median is what drafting costs (goal: at most 1 ms).

    python tests/benchmarks/bench_kb.py [--entries 100000] [--rounds 10] [--tickets 300]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from common import T0, machine

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "experience.json"
UNITS = ["财政局", "人社局", "公安局", "卫健委", "教育局", "自然资源局", "医保局", "住建局"]
MODELS = ["S5720-28X-SI-AC", "S5130S-28S-EI", "AR2220", "F1000-AK145", "HG8245H", "S5735-L24T4S"]


def entries(n: int, seed: int = 7) -> list[dict]:
    base = json.loads(FIXTURE.read_text("utf-8"))["entries"]
    rng = random.Random(seed)
    out = []
    for i in range(n):
        e = base[i % len(base)]
        unit = rng.choice(UNITS)
        out.append({
            "symptom": f"{unit}{e['symptom']}（第 {i} 例）", "cause": e["cause"],
            "fix": e["fix"], "models": e.get("models") or [rng.choice(MODELS)],
        })  # fmt: skip
    return out


def load(engine, rows: list[dict]) -> None:
    from faultflow.db import kb as table
    from faultflow.db.records import KBEntryRecord

    now = int(T0.timestamp() * 1_000_000)
    with engine.store.unit() as u:
        for r in rows:
            table.add(u, KBEntryRecord(0, "approved", r["symptom"], r["cause"], r["fix"],
                                       json.dumps(r["models"], ensure_ascii=False), None, None,
                                       None, "[]", "bench", now, now, "bench", 1))  # fmt: skip


def pct(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, -(-len(ordered) * p // 100) - 1)]


def search(db: Path, n: int, rounds: int) -> None:
    from faultflow import Engine
    from faultflow.db.kb import _query

    queries = [q["query"] for q in json.loads(FIXTURE.read_text("utf-8"))["queries"]]
    engine = Engine.open(db=db, clock=lambda: T0)
    began = time.perf_counter()
    load(engine, entries(n))
    loaded = time.perf_counter() - began
    began = time.perf_counter()
    engine.kb_search("光猫", 3)  # the first search indexes every entry
    indexed = time.perf_counter() - began
    print(f"  set-up: {n:,} entries written in {loaded:.1f} s, indexed by the first search "
          f"in {indexed:.1f} s")  # fmt: skip
    conn = sqlite3.connect(db)
    # the same first question (every word), asked bare
    floors = {q: _query(g := engine._groups(q), len(g), postgres=False) for q in queries}
    floor_sql = (
        "SELECT t.key, -bm25(kb_fts) AS score FROM kb_fts JOIN kb_terms t ON t.n = kb_fts.rowid"
        " WHERE kb_fts MATCH ? ORDER BY score DESC LIMIT 12"
    )
    ours, raw = [], []
    for _ in range(rounds):  # interleaved, query by query
        for q in queries:
            began = time.perf_counter()
            engine.kb_search(q, 3)
            ours.append(time.perf_counter() - began)
            began = time.perf_counter()
            conn.execute(floor_sql, (floors[q],)).fetchall()
            raw.append(time.perf_counter() - began)
    conn.close()
    engine.close()
    o50, o95, r50, r95 = (pct(v, p) * 1000 for v, p in ((ours, 50), (ours, 95), (raw, 50),
                                                         (raw, 95)))  # fmt: skip
    print(f"  search, {len(ours):,} queries: p50 {o50:5.1f} ms, p95 {o95:5.1f} ms (goal <= 20) | "
          f"raw FTS5 p50 {r50:5.1f} ms, p95 {r95:5.1f} ms | ratio floor/engine (p95) "
          f"{r95 / o95:.2f}")  # fmt: skip


def drafting(db: Path, tickets: int) -> None:
    import dataclasses

    from faultflow import Engine

    clock = [T0]
    hooked = Engine.open(db=db, clock=lambda: clock[0])
    bare = Engine.open(db=db, clock=lambda: clock[0], create=False)
    bare.work.ctx = dataclasses.replace(bare.work.ctx, closed=None)  # the same, without the hook
    times: dict[str, list[float]] = {"hooked": [], "bare": []}
    for i in range(tickets):
        for name, engine in (("hooked", hooked), ("bare", bare)):
            t = engine.intake("hotline", {"summary": f"核心交换机宕机 {i}", "tier": "B"}, actor="a")
            for trigger in ("respond", "remote"):
                engine.advance(t.id, trigger, actor="li")
            engine.advance(t.id, "resolve", actor="li", note="更换光模块")
            began = time.perf_counter()
            engine.advance(t.id, "report", actor="li")
            times[name].append(time.perf_counter() - began)
    h, b = statistics.median(times["hooked"]), statistics.median(times["bare"])
    drafts = len(hooked.kb_entries(["draft"], 100_000))
    print(f"  report step, median of {tickets}: {h * 1000:.2f} ms with drafting, "
          f"{b * 1000:.2f} ms without: drafting adds {(h - b) * 1000:+.2f} ms (goal <= 1); "
          f"{drafts} drafts made")  # fmt: skip
    hooked.close()
    bare.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--tickets", type=int, default=300)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ff-kb-"))
    print(f"experience base: {args.entries:,} entries")
    print(f"  {machine()}")
    search(folder / "kb.db", args.entries, args.rounds)
    drafting(folder / "draft.db", args.tickets)


if __name__ == "__main__":
    main()
