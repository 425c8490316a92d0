"""The command line on a real SQLite file: in-process through click's CliRunner (the same
group, options and error mapping), and a few smoke tests of the installed `faultflow` command in
real subprocesses."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import snapshot
from faultflow.cli.app import cli

# The command installed beside this interpreter (the venv's bin), else the one on PATH.
_BESIDE = Path(sys.executable).parent / "faultflow"
FAULTFLOW = str(_BESIDE) if _BESIDE.exists() else shutil.which("faultflow")
NOW = "2026-03-02T09:00+08:00"


@dataclass(frozen=True)
class Done:
    """What a command did: its exit code and what it printed."""

    returncode: int
    stdout: str
    stderr: str


def ff(
    tmp: Path,
    *args: str,
    now: str | None = NOW,
    stdin: bytes | None = None,
    env: dict[str, str] | None = None,
) -> Done:
    """Run `faultflow ARGS` in-process in the folder ``tmp``, as the installed command would."""
    full_env: dict[str, str | None] = {
        "FAULTFLOW_DB": str(tmp / "ff.db"),
        "FAULTFLOW_NOW": now,
        "FAULTFLOW_CONFIG": None,
        **(env or {}),
    }
    with contextlib.chdir(tmp):
        result = CliRunner().invoke(
            cli, list(args), input=stdin, env=full_env, prog_name="faultflow"
        )
    return Done(result.exit_code, result.stdout, result.stderr)


def ff_process(tmp: Path, *args: str, now: str | None = NOW) -> Done:
    """Run the installed `faultflow` command in a real subprocess."""
    assert FAULTFLOW, "the faultflow command is not installed"
    full_env = {**os.environ, "FAULTFLOW_DB": str(tmp / "ff.db")}
    full_env.pop("FAULTFLOW_NOW", None)
    full_env.pop("FAULTFLOW_CONFIG", None)
    if now:
        full_env["FAULTFLOW_NOW"] = now
    done = subprocess.run(
        [FAULTFLOW, *args], cwd=tmp, env=full_env, capture_output=True, timeout=120, text=True
    )
    return Done(done.returncode, done.stdout, done.stderr)


def ok(done: Done) -> Any:
    assert done.returncode == 0, done.stderr
    return done.stdout


def refused(done: Done, code: int = 1) -> str:
    assert done.returncode == code, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done.stderr


@pytest.fixture
def home(tmp_path: Path) -> Path:
    ok(ff(tmp_path, "init"))
    return tmp_path


def intake(home: Path, *args: str, now: str = NOW) -> dict[str, Any]:
    """The ticket an intake opened (``--json`` says the outcome beside it)."""
    said = json.loads(ok(ff(home, "intake", "--as", "agent1", "--json", *args, now=now)))
    assert said["outcome"] == "opened", said
    ticket: dict[str, Any] = said["ticket"]
    return ticket


def test_an_operator_runs_a_fault_from_intake_to_report(home: Path) -> None:
    t = intake(home, "--channel", "hotline", "--tier", "A", "--title", "core switch down")
    assert t["state"] == "received" and t["owner"] == "agent1"
    tid = t["id"]
    for trigger, at in [
        ("respond", "09:05"),
        ("dispatch", "09:10"),
        ("arrive", "09:50"),
        ("resolve", "11:00"),
        ("report", "15:00"),
    ]:
        out = json.loads(
            ok(
                ff(
                    home,
                    "advance",
                    tid,
                    trigger,
                    "--as",
                    "li",
                    "--json",
                    now=f"2026-03-02T{at}+08:00",
                )
            )
        )
        assert out["state"] != t["state"]
        t = out
    assert t["state"] == "reported" and t["version"] == 6
    assert [h["trigger"] for h in t["history"]] == [
        "intake",
        "respond",
        "dispatch",
        "arrive",
        "resolve",
        "report",
    ]
    assert all(not c["breached"] for c in t["clocks"].values())
    human = ok(ff(home, "show", tid, now="2026-03-02T16:00+08:00"))
    assert "response    met, 10 min to spare (stopped 09:05)" in human
    assert "reported" in human and "agent1" in human


def test_show_says_what_matters_at_a_glance(home: Path) -> None:
    tid = intake(home, "--channel", "web", "--tier", "B", "--title", "VPN flaky")["id"]
    out = ok(ff(home, "show", tid, now="2026-03-02T09:18+08:00"))
    assert "response  12 min left (due 09:30)" in out
    out = ok(ff(home, "show", tid, now="2026-03-02T09:55+08:00"))
    assert "response  BREACHED 25 min ago (due 09:30)" in out
    ok(ff(home, "advance", tid, "respond", now="2026-03-02T09:56+08:00"))
    ok(ff(home, "advance", tid, "dispatch", "--reason", "upgrade", now="2026-03-02T10:00+08:00"))
    ok(ff(home, "hold", tid, "--reason", "room locked", now="2026-03-02T10:30+08:00"))
    out = ok(ff(home, "show", tid, now="2026-03-02T11:00+08:00"))
    assert "arrival   paused since 10:30, 1 h 30 min left" in out
    assert "ON HOLD (room locked)" in out


def test_list_is_most_urgent_first_and_json_is_clean(home: Path) -> None:
    c = intake(home, "--channel", "web", "--title", "printer")["id"]
    a = intake(home, "--channel", "hotline", "--tier", "A", "--title", "core down")["id"]
    done = ff(home, "list", "--json", now="2026-03-02T09:20+08:00")
    rows = json.loads(ok(done))
    assert [r["id"] for r in rows] == [a, c]
    assert done.stderr == ""
    human = ok(ff(home, "list", now="2026-03-02T09:20+08:00"))
    assert "\x1b[" not in human  # no colours when not on a terminal
    assert human.index(a) < human.index(c)
    assert "response: BREACHED 5 min ago" in human
    assert (
        json.loads(ok(ff(home, "list", "--breached", "--json", now="2026-03-02T09:20+08:00")))[0][
            "id"
        ]
        == a
    )
    assert json.loads(ok(ff(home, "list", "--tier", "C", "--json")))[0]["id"] == c


def test_tick_json_fires_once(home: Path) -> None:
    tid = intake(home, "--channel", "hotline", "--tier", "A", "--title", "x")["id"]
    fired = json.loads(ok(ff(home, "tick", "--json", now="2026-03-02T09:16+08:00")))
    assert fired == {
        "fired": [
            {
                "ticket": tid,
                "clock": "response",
                "event": "breach",
                "due_at": "2026-03-02T09:15:00+08:00",
            }
        ],
        # the seed's `log` notifier takes the breach and its escalation
        "summary": {"warnings": 0, "breaches": 1, "delivered": 2, "failed": 0},
    }
    again = json.loads(ok(ff(home, "tick", "--json", now="2026-03-02T09:17+08:00")))
    assert again["fired"] == [] and again["summary"]["delivered"] == 0


def test_tick_logs_as_run_does_and_ends_with_a_summary(tmp_path: Path) -> None:
    """Under cron, the `log` notifier's lines and the summary must not vanish."""
    ok(ff_process(tmp_path, "init"))
    ok(ff_process(tmp_path, "intake", "--channel", "hotline", "--tier", "A", "--title", "x"))
    done = ff_process(tmp_path, "tick", now="2026-03-02T09:16+08:00")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "tick: 1 breach, 0 warnings; 2 notifications delivered"
    assert done.stderr.count('"event": "breach"') == 1
    assert done.stderr.count('"event": "escalation"') == 1


def test_intake_from_a_file_and_stdin(home: Path) -> None:
    import base64

    def word(text: str, charset: str) -> bytes:  # an RFC 2047 encoded-word, as mailers send
        return b"=?" + charset.encode() + b"?b?" + base64.b64encode(text.encode(charset)) + b"?="

    subject, sender = word("核心交换机宕机", "gb2312"), word("市财政局", "utf-8")
    mail = (
        b"From: " + sender + b" <it@czj.example>\r\nSubject: " + subject + b"\r\n"
        b"Message-ID: <m1@czj.example>\r\nDate: Mon, 02 Mar 2026 08:58:00 +0800\r\n"
        b"Content-Type: text/plain; charset=gb2312\r\n\r\n" + "请尽快处理".encode("gb2312")
    )
    assert b"=?gb2312?" in mail
    (home / "mail.eml").write_bytes(mail)
    t = intake(home, "--channel", "email", "--file", "mail.eml", "--tier", "B")
    assert t["tier"] == "B" and t["title"] == "核心交换机宕机"
    assert t["clocks"]["response"]["started_at"] == "2026-03-02T08:58:00+08:00"
    again = ff(home, "intake", "--channel", "email", "--file", "-", "--json", stdin=mail)
    # the same Message-ID: the same ticket, and the answer says so
    assert json.loads(ok(again)) == {
        "outcome": "duplicate",
        "ticket": json.loads(ok(again))["ticket"],
        "suggestions": [],  # the experience base has nothing approved
        "candidates": [],  # the ticket is placed nowhere
    }
    assert json.loads(ok(again))["ticket"]["id"] == t["id"]
    said = ok(ff(home, "intake", "--channel", "email", "--file", "-", stdin=mail))
    assert said.startswith(f"already open as {t['id']}: {t['id']}  received")


def test_refusals_exit_1_with_one_line_and_change_nothing(home: Path) -> None:
    tid = intake(home, "--channel", "web", "--title", "x")["id"]
    before = snapshot(home / "ff.db")
    cases = [
        (
            ("advance", tid, "teleport"),
            "unknown trigger 'teleport'; allowed from received: respond, cancel",
        ),
        (("advance", tid, "arrive"), "cannot arrive a ticket that is received"),
        (("advance", "NOPE123", "respond"), "no ticket 'NOPE123'"),
        (("advance", tid, "cancel"), "a reason is required"),
        (("advance", tid, "respond", "--at", "10:00"), "lies in the future"),
        (("advance", tid, "respond", "--at", "08:00"), "before the ticket's latest change"),
        (("advance", tid, "respond", "--at", "soon"), "cannot read time 'soon'"),
        (("intake", "--channel", "pigeon", "--title", "x"), "unknown channel 'pigeon'"),
        (("intake", "--channel", "web", "--title", "x", "--tier", "Q"), "unknown tier 'Q'"),
        (("reclassify", tid, "--tier", "A", "--reason", " "), "needs a reason"),
        (("resume", tid), "is not on hold"),
        (("hold", tid, "--reason", "r"), "no pausable clock running"),
        (("list", "--state", "done"), "unknown state 'done'"),
        (("check", "missing.toml"), "no such contract file"),
    ]
    for args, words in cases:
        err = refused(ff(home, *args))
        assert err.startswith("error: ") and words in err, (args, err)
        assert err.count("\n") == 1, err
    assert snapshot(home / "ff.db") == before


def test_usage_errors_exit_2(home: Path) -> None:
    assert "Missing argument 'TRIGGER'" in refused(ff(home, "advance", "X"), code=2)
    assert "No such command" in refused(ff(home, "frobnicate"), code=2)
    assert "--reason" in refused(ff(home, "hold", "X"), code=2)


def test_a_missing_database_is_named(tmp_path: Path) -> None:
    err = refused(ff(tmp_path, "list"))
    assert "no database at" in err and "faultflow init" in err
    assert not (tmp_path / "ff.db").exists()


def test_init_is_idempotent(home: Path) -> None:
    tid = intake(home, "--channel", "web", "--title", "keep me")["id"]
    assert "database ready" in ok(ff(home, "init"))
    assert json.loads(ok(ff(home, "show", tid, "--json")))["title"] == "keep me"


def test_check_and_channels(tmp_path: Path) -> None:
    out = ok(ff(tmp_path, "check"))
    assert out.startswith("ok: ") and "tiers A, B, C" in out
    bad = tmp_path / "bad.toml"
    bad.write_text(
        (Path(__file__).parents[1] / "states.toml")
        .read_text(encoding="utf-8")
        .replace('C = "45m"', 'C = "45 minutes"'),
        encoding="utf-8",
    )
    err = refused(ff(tmp_path, "check", str(bad)))
    assert "clocks.response.limit: C: cannot read duration '45 minutes'" in err
    listing = json.loads(ok(ff(tmp_path, "channels", "--json")))
    assert sorted(listing["channels"]) == [
        "alertmanager",
        "chat",
        "customer_manager",
        "email",
        "hotline",
        "web",
    ]
    assert listing["broken"] == {}


def test_relative_and_clock_times(home: Path) -> None:
    tid = intake(home, "--channel", "web", "--title", "x")["id"]
    for trigger, at, expected in [
        ("respond", "-15m", "2026-03-02T09:15:00+08:00"),
        ("remote", "09:20", "2026-03-02T09:20:00+08:00"),
    ]:
        out = ff(home, "advance", tid, trigger, "--at", at, "--json", now="2026-03-02T09:30+08:00")
        assert json.loads(ok(out))["history"][-1]["at"] == expected


def test_demo_finishes_with_the_compliance_summary(tmp_path: Path) -> None:
    done = ff(tmp_path, "demo", "--days", "7", "--seed", "1", now=None, env={"FAULTFLOW_DB": ""})
    out = ok(done)
    assert "SLA compliance" in out and "response" in out and "compliance" in out
    db = out.split("The demo database is ")[1].split(".db")[0] + ".db"
    assert Path(db).exists()
    assert f"export FAULTFLOW_DB={db}\n" in out and "\n  faultflow show " in out
    # the seed roster: breaches page the people on duty, who acknowledge; tickets change hands
    people = out.split("People: ")[1].split("\n")[0]
    assert "escalation chains sent" in people and "acknowledged" in people
    assert "handed over" in people and "Rotation: " in people
    week = out.split("faultflow --people ")[1].split()[0]
    on_duty = ok(ff(tmp_path, "--db", db, "--people", week, "oncall", now=None))
    assert on_duty.startswith("duty-engineer")
    refused(ff(tmp_path, "--db", db, "demo", now=None), code=2)  # not on a used database
    # the example registry: tickets found their units; a unit's own page lists them
    units = out.split("Units: ")[1].split("\n")[0]
    placed = int(units.split()[0])
    assert placed > 0 and "of the 11 units of the example registry" in units
    busiest = out.split("faultflow units show ")[1].split()[0]
    unit = json.loads(ok(ff(tmp_path, "--db", db, "units", "show", busiest, "--json", now=None)))
    assert unit["tickets"] and unit["manager"] in ("zhou", "wu")


def test_demo_is_repeatable(tmp_path: Path) -> None:
    fresh = {"FAULTFLOW_DB": ""}
    a = json.loads(ok(ff(tmp_path, "demo", "--days", "5", "--seed", "3", "--json", env=fresh)))
    b = json.loads(ok(ff(tmp_path, "demo", "--days", "5", "--seed", "3", "--json", env=fresh)))
    assert a["db"] != b["db"]
    assert a["report"]["clocks"] == b["report"]["clocks"]
    assert a["tickets"] > 0
    assert a["people"] == b["people"] and a["people"]["pages"] > 0
    assert a["report"]["units"] == b["report"]["units"] and a["report"]["units"]
    assert a["kb_drafts"] == b["kb_drafts"] > 0  # each reported ticket drafted an entry


def test_cli_runner_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in (
        "init",
        "intake",
        "advance",
        "reclassify",
        "hold",
        "resume",
        "show",
        "list",
        "locate",
        "status",
        "units",
        "registry",
        "tick",
        "run",
        "report",
        "channels",
        "check",
        "demo",
    ):
        assert f"  {command}" in result.output


def test_smoke_the_installed_command_in_real_processes(tmp_path: Path) -> None:
    """The installed entry point, as an operator's shell or cron runs it."""
    assert "database ready" in ok(ff_process(tmp_path, "init"))
    t = json.loads(
        ok(
            ff_process(
                tmp_path, "intake", "--channel", "hotline", "--tier", "A", "--title", "x", "--json"
            )
        )
    )
    assert t["outcome"] == "opened"
    tid = t["ticket"]["id"]
    moved = ok(ff_process(tmp_path, "advance", tid, "respond", "--json", now=NOW))
    assert json.loads(moved)["state"] == "responded"
    err = refused(ff_process(tmp_path, "advance", tid, "teleport"))
    assert err.startswith("error: unknown trigger 'teleport'") and err.count("\n") == 1
    assert "No such command" in refused(ff_process(tmp_path, "frobnicate"), code=2)
    human = ok(ff_process(tmp_path, "show", tid, now="2026-03-02T09:30+08:00"))
    assert "responded" in human and "\x1b[" not in human


def test_files_that_cannot_be_written_or_read_are_refused_with_one_line(home: Path) -> None:
    err = refused(ff(home, "report", "--out", str(home / "no-such-folder" / "r.txt")))
    missing = home / "no-such-folder"
    assert err == f"error: cannot write {missing / 'r.txt'}: there is no folder {missing}\n"
    (home / "garbage.json").write_text("not a head", encoding="utf-8")
    err = refused(ff(home, "verify", "--against", str(home / "garbage.json")))
    assert "is not a head saved by `faultflow verify --head --out FILE`" in err


def test_a_reader_that_goes_away_stops_the_output_quietly(home: Path) -> None:
    from datetime import datetime

    from faultflow import Engine, IntakeRecord
    from faultflow.bulk import BulkTicket, load

    with Engine.open(db=home / "ff.db") as engine:
        at = datetime.fromisoformat(NOW)
        load(engine, (BulkTicket("web", IntakeRecord(title=f"t{i}"), at) for i in range(1500)))
    env = {**os.environ, "FAULTFLOW_DB": str(home / "ff.db"), "FAULTFLOW_NOW": NOW}
    assert FAULTFLOW
    reader = subprocess.Popen(
        [FAULTFLOW, "list", "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert reader.stdout is not None and reader.stdout.readline()  # like `| head -1`
    reader.stdout.close()
    _, err = reader.communicate(timeout=60)
    assert (reader.returncode, err) == (0, b"")  # no "internal error", no traceback


@pytest.mark.parametrize(
    ("option", "says"),
    [
        (["--portal-limit", "0/60"], "give BURST/SECONDS, e.g. 10/60"),
        (["--portal-limit", "ten"], "give BURST/SECONDS"),
        (["--portal-trust", "10.0.0.300"], "is not a network"),
    ],
)
def test_serve_refuses_a_bad_portal_limit_before_it_starts(
    tmp_path: Path, option: list[str], says: str
) -> None:
    done = CliRunner().invoke(cli, ["--db", str(tmp_path / "none.db"), "serve", *option])
    assert done.exit_code == 2 and says in done.output
    assert not (tmp_path / "none.db").exists()  # nothing was opened or made


def test_verbose_lets_the_state_machine_log(tmp_path: Path) -> None:
    import logging

    runner, db = CliRunner(), str(tmp_path / "v.db")
    assert runner.invoke(cli, ["--db", db, "init"]).exit_code == 0
    machine = logging.getLogger("transitions")
    try:
        assert runner.invoke(cli, ["--db", db, "tick"]).exit_code == 0
        assert machine.level == logging.WARNING  # "Finished processing state …" is noise
        assert runner.invoke(cli, ["--db", db, "--verbose", "tick"]).exit_code == 0
        assert machine.level == logging.DEBUG
    finally:
        machine.setLevel(logging.WARNING)
