"""The mailbox poller against a real IMAP server: a private Dovecot on 127.0.0.1, started and
stopped by the test (Debian's dovecot-imapd, installed by .ci/run)."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import in_threads
from dovecot import PASSWORD, USER, dovecot
from dovecot import usable as dovecot_usable
from faultflow import Engine
from faultflow.cli.app import cli
from faultflow.contract.compile import default_contract_path, load_contract
from faultflow.run.mailbox import DONE, REFUSED, configured, fetch
from test_mail_reading import mail as message


@pytest.fixture
def imap() -> Iterator[dict[str, Any]]:
    if not dovecot_usable():
        if os.environ.get("CI"):
            pytest.fail("CI must run the mailbox tests: .ci/run installs dovecot-imapd (as root)")
        pytest.skip("needs Debian's dovecot-imapd and root (Dovecot drops to its own user)")
    with dovecot() as port:
        yield {"port": port}


def contract_file(tmp_path: Path, port: int, max_bytes: int = 200_000) -> Path:
    text = (
        default_contract_path().read_text(encoding="utf-8")
        + f"""
[channels.email.imap]
host = "127.0.0.1"
port = {port}
tls = "none"
user = "faults"
password = {{ env = "FF_TEST_IMAP_PASSWORD" }}
max_bytes = {max_bytes}
"""
    )
    path = tmp_path / "states.toml"
    path.write_text(text, encoding="utf-8")
    return path


def mailbox(port: int) -> Any:
    from imap_tools import MailBoxUnencrypted

    return MailBoxUnencrypted("127.0.0.1", port).login(USER, PASSWORD)


def test_a_pass_opens_notes_refuses_and_moves_every_message_aside(
    imap: dict[str, Any], tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("FF_TEST_IMAP_PASSWORD", PASSWORD)
    port = imap["port"]
    gbk = base64.b64encode("朱镕路机房交换机宕机".encode("gbk")).decode()
    with mailbox(port) as mb:
        mb.append(
            f"From: it@czj.example\r\nSubject: =?gb2312?b?{gbk}?=\r\nMessage-ID: <m1@czj>\r\n"
            "\r\n请尽快处理\r\n".encode(),
            "INBOX",
        )
        mb.append(message("Re: 交换机", "m2@czj", "已恢复", In_Reply_To="<m1@czj>"), "INBOX")
        mb.append(b"\r\n\r\n", "INBOX")  # no header at all
        mb.append(message("big", "m3@czj", "x" * 300_000), "INBOX")  # over max_bytes
    config = contract_file(tmp_path, port)
    db = tmp_path / "ff.db"
    Engine.open(db=db, config=config).close()
    done = CliRunner().invoke(
        cli, ["--db", str(db), "--config", str(config), "mail", "fetch", "--json"]
    )
    assert done.exit_code == 0, done.output
    import json

    said = json.loads(done.stdout)
    assert said["outcomes"] == {"opened": 1, "note": 1} and len(said["refused"]) == 2
    engine = Engine.open(db=db, config=config)
    (t,) = engine.list()
    assert t.title == "朱镕路机房交换机宕机"
    assert "已恢复" in (engine.get(t.id).history[-1].note or "")
    with mailbox(port) as mb:
        assert list(mb.uids()) == []  # nothing left behind, nothing deleted:
        mb.folder.set(DONE.replace("/", "."))  # this Dovecot's delimiter
        assert len(list(mb.uids())) == 2
        mb.folder.set(REFUSED.replace("/", "."))
        assert len(list(mb.uids())) == 2
    again = CliRunner().invoke(cli, ["--db", str(db), "--config", str(config), "mail", "fetch"])
    assert again.stdout == "mail: 0 read: nothing new; 0 refused\n"


def test_two_pollers_at_once_open_each_fault_once(
    imap: dict[str, Any], tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("FF_TEST_IMAP_PASSWORD", PASSWORD)
    port = imap["port"]
    with mailbox(port) as mb:
        for i in range(8):
            mb.append(message(f"fault {i}", f"p{i}@czj"), "INBOX")
    config = contract_file(tmp_path, port)
    db = tmp_path / "ff.db"
    Engine.open(db=db, config=config).close()
    box = configured(load_contract(config))
    assert box is not None

    def poller() -> None:
        engine = Engine.open(db=db, config=config)
        fetch(lambda raw: engine.intake_all("email", raw, "mailbox"), box)

    errors = in_threads(poller, 2)
    assert not errors, errors
    engine = Engine.open(db=db, config=config)
    assert sorted(t.title for t in engine.list()) == [f"fault {i}" for i in range(8)]
    with mailbox(port) as mb:
        assert list(mb.uids()) == []


def test_a_wrong_password_is_one_line_and_exit_1(
    imap: dict[str, Any], tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("FF_TEST_IMAP_PASSWORD", "wrong")
    config = contract_file(tmp_path, imap["port"])
    Engine.open(db=tmp_path / "ff.db", config=config).close()
    done = CliRunner().invoke(
        cli, ["--db", str(tmp_path / "ff.db"), "--config", str(config), "mail", "fetch"]
    )
    assert done.exit_code == 1
    assert done.stderr.startswith("error: cannot open the mailbox faults@127.0.0.1:")
    assert done.stderr.count("\n") == 1


def test_serve_reads_the_mailbox_beside_the_api(
    imap: dict[str, Any], tmp_path: Path, monkeypatch: Any
) -> None:
    import time

    import httpx
    from test_serve import Serving

    monkeypatch.setenv("FF_TEST_IMAP_PASSWORD", PASSWORD)
    config = contract_file(tmp_path, imap["port"])
    monkeypatch.setenv("FAULTFLOW_CONFIG", str(config))
    db = tmp_path / "ff.db"
    engine = Engine.open(db=db, config=config)
    secret = engine.create_token("ops", ["read"])[1]
    server = Serving(db)
    try:
        with mailbox(imap["port"]) as mb:
            mb.append(message("打印机无法使用", "s1@czj"), "INBOX")
        deadline = time.monotonic() + 30
        while True:
            listed = httpx.get(
                f"{server.url}/v1/tickets", headers={"Authorization": f"Bearer {secret}"}
            ).json()["tickets"]
            if listed:
                break
            assert time.monotonic() < deadline, "serve did not read the mailbox"
            time.sleep(0.3)
        assert listed[0]["title"] == "打印机无法使用" and listed[0]["channel"] == "email"
    finally:
        code, err = server.stop()
    assert code == 0 and "mailbox faults@127.0.0.1" in err


def test_a_poison_message_is_refused_and_blocks_nothing_behind_it(
    imap: dict[str, Any], tmp_path: Path, monkeypatch: Any
) -> None:
    """A multipart mail without its boundary (the parser reads it oddly, and re-serialising it
    raised UnicodeEncodeError) once stopped every pass on it: now the poller hands the
    server's bytes to the channel, and whatever cannot be read is moved aside with its reason."""
    monkeypatch.setenv("FF_TEST_IMAP_PASSWORD", PASSWORD)
    port = imap["port"]
    poison = (
        "From: 王工 <wang@czj.example>\r\nSubject: 机房停电\r\nMessage-ID: <poison@czj>\r\n"
        "Content-Type: multipart/mixed\r\n\r\n--zzz\r\nContent-Type: text/plain; charset=utf-8"
        "\r\n\r\n机房停电，交换机宕机\r\n--zzz--\r\n"
    ).encode()
    with mailbox(port) as mb:
        mb.append(poison, "INBOX")
        mb.append(message("打印机卡纸", "after@czj"), "INBOX")  # the mail behind it
    config = contract_file(tmp_path, port)
    db = tmp_path / "ff.db"
    Engine.open(db=db, config=config).close()
    args = ["--db", str(db), "--config", str(config), "mail", "fetch", "--json"]
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 0, done.output
    import json

    said = json.loads(done.stdout)
    assert said["read"] == 2 and said["outcomes"].get("opened", 0) >= 1
    engine = Engine.open(db=db, config=config)
    titles = sorted(t.title for t in engine.list())
    assert "打印机卡纸" in titles
    with mailbox(port) as mb:
        assert list(mb.uids()) == []  # nothing left in INBOX to block the next pass
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0 and json.loads(again.stdout)["read"] == 0
