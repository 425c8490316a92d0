"""Limits on input: what is too long, not text, or nested too deep is refused naming the field,
and nothing is written."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import new_ticket, snapshot
from faultflow import ConfigError, Engine, IntakeError, InvalidInput
from faultflow.cli.app import cli
from faultflow.contract.compile import compile_contract, default_contract_path


def _refused(engine: Engine, db: Path, call: Any, error: type[Exception], words: str) -> None:
    before = snapshot(db)
    with pytest.raises(error) as err:
        call()
    assert words in str(err.value), str(err.value)
    assert "\n" not in str(err.value)
    assert snapshot(db) == before


def test_text_over_the_limits_is_refused_naming_the_field(
    engine: Engine, db_path: Path, travel: Any
) -> None:
    t = new_ticket(engine)
    huge = "x" * 10_000_000
    _refused(
        engine,
        db_path,
        lambda: engine.intake("web", {"title": "t", "description": "d" * 70_000}, actor="a"),
        IntakeError,
        "description: 70,000 characters, over the limit of 65,536 (the contract's [limits] "
        "description)",
    )
    _refused(
        engine,
        db_path,
        lambda: engine.advance(t.id, "respond", actor="li", note=huge),
        InvalidInput,
        "note: 10,000,000 characters, over the limit of 8,192",
    )
    _refused(
        engine, db_path, lambda: engine.hold(t.id, reason=huge, actor="li"), InvalidInput, "reason:"
    )
    _refused(
        engine, db_path, lambda: engine.advance(t.id, "respond", actor=huge), InvalidInput, "actor:"
    )
    _refused(
        engine,
        db_path,
        lambda: engine.intake("web", json.dumps({"title": huge}), actor="a"),
        IntakeError,
        "payload: 10,000,013 bytes, over the limit of 1,048,576",
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [("core\x00switch", "contains a NUL byte"), ("core \udc80 switch", "not valid text")],
)
def test_what_no_database_stores_alike_is_refused(
    engine: Engine, db_path: Path, text: str, words: str
) -> None:
    _refused(
        engine,
        db_path,
        lambda: engine.intake("web", {"title": text}, actor="a"),
        IntakeError,
        words,
    )
    t = new_ticket(engine)
    _refused(
        engine,
        db_path,
        lambda: engine.advance(t.id, "respond", actor="li", note=text),
        InvalidInput,
        f"note: {words}",
    )


@pytest.mark.postgres
def test_a_nul_byte_is_refused_alike_on_postgres(pg_url: str, travel: Any) -> None:
    with Engine.open(db=pg_url) as engine:
        with pytest.raises(IntakeError, match="title: contains a NUL byte"):
            engine.intake("web", {"title": "core\x00switch"}, actor="a")
        assert engine.list() == []


def test_deep_nesting_is_refused(engine: Engine, db_path: Path) -> None:
    for depth, words in ((40, "nested more than 32 levels deep"), (5000, "nested too deep")):
        payload = '{"title": "t", "extra": ' + "[" * depth + "]" * depth + "}"
        _refused(
            engine,
            db_path,
            lambda p=payload: engine.intake("web", p, actor="a"),
            IntakeError,
            words,
        )
    nested: Any = "x"
    for _ in range(40):
        nested = [nested]
    _refused(
        engine,
        db_path,
        lambda: engine.intake("web", {"title": "t", "extra": nested}, actor="a"),
        IntakeError,
        "payload: nested more than 32 levels deep",
    )


def test_the_cli_refuses_a_lone_surrogate_in_one_line(tmp_path: Path) -> None:
    db = str(tmp_path / "ff.db")
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", db, "init"]).exit_code == 0
    done = runner.invoke(cli, ["--db", db, "intake", "--channel", "web", "--title", "a\udc80b"])
    assert done.exit_code == 1
    assert done.stderr.startswith("error: title: not valid text (a lone surrogate")
    assert done.stderr.count("\n") == 1 and "internal error" not in done.stderr


def _contract_with(limits: dict[str, Any]) -> Any:
    data = tomllib.loads(default_contract_path().read_text(encoding="utf-8"))
    data["limits"] = limits
    return compile_contract(data, source="test.toml")


def test_the_limits_are_the_contracts(tmp_path: Path) -> None:
    contract = _contract_with({"description": 10})
    with Engine.open(db=tmp_path / "x.db", config=contract) as engine:
        with pytest.raises(IntakeError, match="description: 11 characters, over the limit of 10"):
            engine.intake("web", {"title": "t", "description": "d" * 11}, actor="a")
        assert engine.intake("web", {"title": "t", "description": "d" * 10}, actor="a")
    with pytest.raises(ConfigError, match=r"test\.toml: limits\.note: must be at least 1, not 0"):
        _contract_with({"note": 0})
    with pytest.raises(ConfigError, match=r"test\.toml: limits\.notes: unknown key"):
        _contract_with({"notes": 5})
