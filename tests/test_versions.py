"""Contract versions (versions.py): tickets run under the version they were opened under; a
changed file is refused until applied; `contract diff` shows what would move, `contract apply
[--migrate-open]` records it and moves the open tickets, refusing (nothing written) when a
ticket's state would no longer exist. On a real SQLite file, through the CLI as an operator
would run it and through the library."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import in_threads, snapshot
from faultflow import Engine
from faultflow.contract.compile import default_contract_path, load_contract
from test_cli import ff

SEED = default_contract_path().read_text(encoding="utf-8")


def variant(tmp: Path, name: str, *edits: tuple[str, str]) -> Path:
    text = SEED
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


RENAMED = (('"dispatched"', '"on_the_way"'),)  # the state, and the transitions naming it
SLOWER = (
    ('limit = { A = "15m", B = "30m", C = "45m" }', 'limit = { A = "15m", B = "30m", C = "1h" }'),
)


def opened(tmp: Path, *moves: str, tier: str = "C") -> str:
    if not (tmp / "ff.db").exists():
        assert ff(tmp, "init").returncode == 0
    done = ff(tmp, "intake", "--channel", "hotline", "--title", "printer", "--tier", tier, "--json")
    assert done.returncode == 0, done.stderr
    tid = json.loads(done.stdout)["ticket"]["id"]
    for trigger in moves:
        extra = ["--reason", "emergency"] if trigger == "dispatch" else []
        step = ff(tmp, "advance", tid, trigger, "--as", "li", *extra)
        assert step.returncode == 0, step.stderr
    return tid


def test_a_changed_contract_is_refused_with_the_way_out(tmp_path: Path) -> None:
    opened(tmp_path)
    slower = variant(tmp_path, "slower.toml", *SLOWER)
    before = snapshot(tmp_path / "ff.db")
    done = ff(tmp_path, "list", env={"FAULTFLOW_CONFIG": str(slower)})
    assert done.returncode == 1 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert f"{slower} (version {load_contract(slower).version}) is not the contract" in line
    assert f"faultflow contract diff {slower}" in line and "--migrate-open" in line
    assert snapshot(tmp_path / "ff.db") == before


def test_check_catches_a_state_renamed_while_tickets_are_in_it(tmp_path: Path) -> None:
    tid = opened(tmp_path, "respond", "dispatch")
    renamed = variant(tmp_path, "renamed.toml", *RENAMED)
    done = ff(tmp_path, "check", str(renamed))
    assert done.returncode == 1
    assert (
        f"1 open ticket(s) of the database are in states {renamed} does not have: " in done.stderr
    )
    assert f"{tid} (dispatched)" in done.stderr
    fine = ff(tmp_path, "check", str(variant(tmp_path, "slower.toml", *SLOWER)))
    assert fine.returncode == 0 and "ok: the database: runs version" in fine.stdout
    same = ff(tmp_path, "check")
    assert same.returncode == 0 and "ok: the database: runs this version" in same.stdout


def test_diff_shows_each_open_tickets_due_times_moving(tmp_path: Path) -> None:
    tid = opened(tmp_path)
    closed = opened(tmp_path, "respond", "remote", "resolve", "report")
    slower = variant(tmp_path, "slower.toml", *SLOWER)
    before = snapshot(tmp_path / "ff.db")
    done = ff(tmp_path, "contract", "diff", str(slower))
    assert done.returncode == 0, done.stderr
    assert (
        f"{tid} (received): response: due 2026-03-02 09:45 → 2026-03-02 10:00 (15 min later)"
        in done.stdout
    )
    assert closed not in done.stdout  # closed tickets keep what they were judged by
    as_json = json.loads(ff(tmp_path, "contract", "diff", str(slower), "--json").stdout)
    (ticket,) = as_json["tickets"]
    assert ticket["clocks"] == [{
        "clock": "response", "change": "moved", "due_before": "2026-03-02T09:45:00+08:00",
        "due_after": "2026-03-02T10:00:00+08:00", "moved_s": 900.0,
    }]  # fmt: skip
    renamed = ff(tmp_path, "contract", "diff", str(variant(tmp_path, "r.toml", *RENAMED)))
    assert "states no longer in it: dispatched" in renamed.stdout
    assert snapshot(tmp_path / "ff.db") == before  # a dry run


def test_apply_keeps_open_tickets_on_their_version(tmp_path: Path) -> None:
    old = opened(tmp_path, "respond", "dispatch")
    renamed = variant(tmp_path, "renamed.toml", *RENAMED)
    done = ff(tmp_path, "contract", "apply", str(renamed))
    assert done.returncode == 0, done.stderr
    assert "1 open ticket(s) keep the version they were opened under" in done.stdout
    env = {"FAULTFLOW_CONFIG": str(renamed)}
    # the old ticket runs under its version: `arrive` from dispatched, which the file lacks
    moved = ff(tmp_path, "advance", old, "arrive", "--as", "li", "--json", env=env)
    assert moved.returncode == 0, moved.stderr
    assert json.loads(moved.stdout)["state"] == "on_site"
    # a new ticket runs under the new version
    new = ff(
        tmp_path,
        "intake",
        "--channel",
        "hotline",
        "--title",
        "new",
        "--tier",
        "A",
        "--json",
        env=env,
    )
    tid = json.loads(new.stdout)["ticket"]["id"]
    ff(tmp_path, "advance", tid, "respond", "--as", "li", env=env)
    sent = ff(tmp_path, "advance", tid, "dispatch", "--as", "li", "--json", env=env)
    assert json.loads(sent.stdout)["state"] == "on_the_way"
    # the old file is now the one refused; both versions are kept
    assert ff(tmp_path, "list").returncode == 1
    versions = json.loads(ff(tmp_path, "contract", "versions", "--json", env=env).stdout)
    assert [(v["current"], v["tickets"]) for v in versions] == [(False, 1), (True, 1)]
    verified = ff(tmp_path, "verify", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # later, the old ticket (now on site, a state the new version has) is moved onto it too
    later = ff(tmp_path, "contract", "apply", str(renamed), "--migrate-open", env=env)
    assert later.returncode == 0 and "moved 1 open ticket(s) onto it" in later.stdout
    versions = json.loads(ff(tmp_path, "contract", "versions", "--json", env=env).stdout)
    assert [(v["current"], v["tickets"]) for v in versions] == [(False, 0), (True, 2)]


def test_migrate_open_refuses_an_orphan_and_writes_nothing(tmp_path: Path) -> None:
    stuck = opened(tmp_path, "respond", "dispatch")
    opened(tmp_path)
    renamed = variant(tmp_path, "renamed.toml", *RENAMED)
    before = snapshot(tmp_path / "ff.db")
    done = ff(tmp_path, "contract", "apply", str(renamed), "--migrate-open")
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert f"1 open ticket(s) are in a state {renamed} does not have: {stuck} (dispatched)" in line
    assert "nothing was changed" in line
    assert snapshot(tmp_path / "ff.db") == before


def test_migrate_open_moves_open_tickets_with_a_history_event(tmp_path: Path) -> None:
    waiting = opened(tmp_path)
    closed = opened(tmp_path, "respond", "remote", "resolve", "report")
    slower = variant(tmp_path, "slower.toml", *SLOWER)
    done = ff(tmp_path, "contract", "apply", str(slower), "--migrate-open", "--as", "chen")
    assert done.returncode == 0, done.stderr
    assert "moved 1 open ticket(s) onto it" in done.stdout
    with Engine.open(db=tmp_path / "ff.db", config=slower) as engine:
        t = engine.get(waiting)
        assert t.clocks["response"].limit.total_seconds() == 3600
        last = t.history[-1]
        assert (last.trigger, last.actor, last.data["to"]) == (
            "contract",
            "chen",
            load_contract(slower).version,
        )
        assert last.data["clocks"] == {"response": "moved"}
        assert engine.get(closed).history[-1].trigger == "report"  # closed: untouched
        assert engine.verify().ok
    again = ff(tmp_path, "contract", "apply", str(slower), "--migrate-open")
    assert again.returncode == 0 and "already the database's contract" in again.stdout


def test_library_versions_and_the_worked_example(tmp_path: Path, travel: Any) -> None:
    """docs/contract.md: a 24x7 ticket keeps its promise when the contract becomes 5x8."""
    office = Path(__file__).parent.parent / "docs" / "examples" / "office-hours.toml"
    with Engine.open(db=tmp_path / "lib.db") as engine:
        t = engine.intake("hotline", {"title": "switch", "tier": "C"}, actor="desk")
        with pytest.raises(Exception) as err:
            Engine.open(db=tmp_path / "lib.db", config=office)
        assert "is not the contract this database runs" in str(err.value)
        found = engine.contract_diff(office)
        assert [m.change for m in found.tickets[0].moves] == ["moved"]
        engine.apply_contract(office)
        assert engine.contract.version == load_contract(office).version
        assert engine.get(t.id).clocks["response"].calendar is None  # still 24x7
        fresh = engine.intake("hotline", {"title": "printer", "tier": "C"}, actor="desk")
        assert engine.get(fresh.id).clocks["response"].calendar == "office"


def test_processes_meeting_a_fresh_database_agree_on_its_version(tmp_path: Path) -> None:
    """Four engines opening a database that has no version yet, at once: one records it, the
    others find it; none fails."""
    from faultflow.db.store import Store

    db = tmp_path / "fresh.db"
    Store.open(db, create=True).close()  # the schema, no version yet
    engines: list[Engine] = []
    errors = in_threads(lambda: engines.append(Engine.open(db=db, lock_timeout=10)), 4)
    for engine in engines:
        engine.close()
    assert errors == [] and len(engines) == 4
    with Engine.open(db=db) as engine:
        assert [v["version"] for v in engine.contract_versions()] == [load_contract().version]


def test_a_running_process_takes_a_version_applied_elsewhere(tmp_path: Path) -> None:
    """`serve` started before `contract apply`: its next intake (it looks at most once a
    second; here at once) pins new tickets to the applied version, not its file's."""
    db = tmp_path / "live.db"
    slower = load_contract(variant(tmp_path, "slower.toml", *SLOWER))
    with Engine.open(db=db) as running, Engine.open(db=db, pinned=False) as operator:
        running.contracts.REFRESH_S = 0.0
        before = running.intake("hotline", {"title": "before", "tier": "C"}, actor="desk")
        operator.apply_contract(slower)
        after = running.intake("hotline", {"title": "after", "tier": "C"}, actor="desk")
        assert running.contract.version == slower.version
        assert running.get(after.id).clocks["response"].limit.total_seconds() == 3600
        assert running.get(before.id).clocks["response"].limit.total_seconds() == 45 * 60
        assert running.tick() == [] and running.verify().ok
