"""Secrets stay secret: read from the environment, masked wherever shown or stored, and
`faultflow check` warns about a literal one."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import new_ticket
from faultflow import ConfigError, Engine
from faultflow.cli.app import cli
from faultflow.contract.compile import compile_contract, default_contract_path
from faultflow.secrets import redact
from test_notify import Receiver, open_engine

SEED = tomllib.loads(default_contract_path().read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "https://hooks.example.com/send?key=693a-91f6&x=1",
            "https://hooks.example.com/send?key=***&x=1",
        ),
        ("postgresql://ff:pa55@db1:5432/ff", "postgresql://ff:***@db1:5432/ff"),
        (
            "cannot reach http://h/a?token=t0k&access_token=abc",
            "cannot reach http://h/a?token=***&access_token=***",
        ),
        ("http://example.com/plain?page=2", "http://example.com/plain?page=2"),
    ],
)
def test_credentials_are_masked(text: str, shown: str) -> None:
    assert redact(text) == shown


def _with_notifier(table: dict[str, Any]) -> Any:
    data = copy.deepcopy(SEED)
    data["notifiers"] = {"wecom": {"use": "webhook", "events": ["breach"], **table}}
    return data


def test_a_value_may_name_an_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FF_TEST_WECOM_URL", "https://hooks.example.com/send?key=s3cr3t")
    contract = compile_contract(_with_notifier({"url": {"env": "FF_TEST_WECOM_URL"}}))
    assert contract.notifiers["wecom"].config["url"].endswith("key=s3cr3t")
    # no secret warned about (the seed's CN calendar may warn of years its data does not cover)
    assert [w for w in contract.warnings if "secret" in w] == []
    monkeypatch.delenv("FF_TEST_WECOM_URL")
    with pytest.raises(ConfigError) as err:
        compile_contract(_with_notifier({"url": {"env": "FF_TEST_WECOM_URL"}}), source="c.toml")
    assert str(err.value) == (
        "c.toml: notifiers.wecom.url: the environment variable FF_TEST_WECOM_URL is not set"
    )


def test_check_warns_about_a_literal_secret(tmp_path: Path) -> None:
    text = default_contract_path().read_text(encoding="utf-8")
    text += '\n[notifiers.wecom]\nuse = "webhook"\nurl = "https://hooks.example.com/send?key=abc"\n'
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    done = CliRunner().invoke(cli, ["check", str(path)])
    assert done.exit_code == 0
    said = [line for line in done.stderr.splitlines() if "secret" in line]
    assert said == [
        "warning: notifiers.wecom.url holds what looks like a literal secret: name an "
        'environment variable instead, e.g. { env = "WECOM_WEBHOOK_URL" }'
    ]
    assert "abc" not in done.stdout


def test_a_failed_delivery_stores_and_logs_no_key(
    db_path: Path, travel: Any, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = Receiver()
    url = receiver.url + "?key=693a-91f6-s3cr3t"
    receiver.close()  # nobody listens there any more: the attempt fails
    engine = open_engine(db_path, {"duty": {"use": "webhook", "url": url, "max_attempts": 1}})
    new_ticket(engine, "A")
    travel(minutes=16)
    with caplog.at_level("WARNING", logger="faultflow"):
        engine.tick()
    with engine.store.unit() as u:
        errors = [r[0] for r in u.cursor.execute("SELECT error FROM deliveries WHERE ok = 0")]
    assert errors and all("key=***" in e and "s3cr3t" not in e for e in errors), errors
    assert "s3cr3t" not in caplog.text and "key=***" in caplog.text


@pytest.mark.postgres
def test_init_and_run_show_the_database_without_its_password(pg_url: str) -> None:
    password = pg_url.split(":")[2].split("@")[0]
    done = CliRunner().invoke(cli, ["--db", pg_url, "init"])
    assert done.exit_code == 0, done.output
    assert ":***@" in done.stdout and f":{password}@" not in done.output
    with Engine.open(db=pg_url) as engine:
        assert f":{password}@" not in engine.store.safe_url
