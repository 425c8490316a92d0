"""`faultflow graph`: the contract's lifecycle drawn by transitions' diagrams support."""

from __future__ import annotations

import os
import re
import shutil
import tomllib
from html import escape
from pathlib import Path

import pytest
from click.testing import CliRunner
from faultflow.cli.app import cli
from faultflow.contract.compile import compile_contract, default_contract_path, load_contract
from faultflow.contract.graph import describe, draw
from faultflow.words import Words

SEED = load_contract()


def test_mermaid_has_every_transition_with_its_guard_in_words() -> None:
    text = draw(SEED, "mermaid")
    assert "stateDiagram-v2" in text
    edges = set(re.findall(r"^\s+(\w+) --> (\w+): (\w+)", text, re.M))
    expected = {(s, t.dest, t.trigger) for t in SEED.transitions for s in t.sources}
    assert edges == expected
    assert "responded --> dispatched: dispatch [tier A or B or reason emergency/" in text
    assert "on_site --> spare_substituted: substitute [resolution breached]" in text
    assert "received --> cancelled: cancel [a reason]" in text


def test_another_contract_draws_its_own_states() -> None:
    data = tomllib.loads(default_contract_path().read_text(encoding="utf-8"))
    data["machine"]["states"][2]["name"] = "remote_support"
    for t in data["machine"]["transitions"]:
        for key in ("source", "dest"):
            if t[key] == "remote":
                t[key] = "remote_support"
            elif isinstance(t[key], list):
                t[key] = ["remote_support" if s == "remote" else s for s in t[key]]
    text = draw(compile_contract(data), "mermaid")
    assert "responded --> remote_support: remote" in text
    assert "--> remote:" not in text


def test_guard_descriptions_compose() -> None:
    guard = SEED.transitions[3].guard
    assert guard is not None
    assert describe(guard) == (
        "tier A or B or reason emergency/upgrade/cause-unknown/remote-failed"
    )


def test_the_command_prints_mermaid_and_refuses_a_missing_file(tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(cli, ["graph"])
    assert done.exit_code == 0, done.output
    assert done.output.startswith("---\n") and "stateDiagram-v2" in done.output
    missing = runner.invoke(cli, ["graph", str(tmp_path / "nope.toml")])
    assert missing.exit_code == 1
    assert "no such contract file" in missing.output


needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None and not os.environ.get("CI"),
    reason="no Graphviz here (CI installs Debian's graphviz)",
)


@needs_dot
def test_svg_is_drawn_by_graphviz(tmp_path: Path) -> None:
    out = tmp_path / "lifecycle.svg"
    done = CliRunner().invoke(cli, ["graph", "--format", "svg", "--out", str(out)])
    assert done.exit_code == 0, done.output
    svg = out.read_text(encoding="utf-8")
    assert "<svg" in svg
    for state in SEED.states:
        assert f">{state}</text>" in svg


def test_the_html_report_shows_the_lifecycle(tmp_path: Path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "ff.db")
    assert runner.invoke(cli, ["--db", db, "init"]).exit_code == 0
    done = runner.invoke(cli, ["--db", db, "report", "--format", "html"])
    assert done.exit_code == 0, done.output
    page = done.output[done.output.index("<h2>工单生命周期</h2>") :]  # the contract's language
    zh = Words("zh")
    for t in SEED.transitions:  # each step in the reader's words, top to bottom to fit a page
        assert escape(zh.action(SEED, t.trigger)) in page
    done = runner.invoke(cli, ["--db", db, "report", "--format", "html", "--lang", "en"])
    page = done.output[done.output.index("<h2>The lifecycle</h2>") :]
    for t in SEED.transitions:
        assert escape(Words("en").action(SEED, t.trigger)) in page


def test_docs_show_the_seed_lifecycle_as_drawn_today() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "contract.md").read_text("utf-8")
    block = doc.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert block.rstrip() == draw(SEED, "mermaid").rstrip()
