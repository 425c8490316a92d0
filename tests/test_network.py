"""The registry: the network the contract maintains, kept by hand and imported from the
spreadsheets contractors keep — every row checked before anything is written, problems named by
file, sheet, row and column in the reader's language; a hash-chained log of every change."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pendulum
import pytest
from click.testing import CliRunner
from conftest import snapshot
from faultflow import Engine, InvalidInput
from faultflow.cli.app import cli
from faultflow.db import network as table
from faultflow.network.model import contacts, contacts_text
from faultflow.network.sheets import read, to_xlsx
from faultflow.words import Words
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "registry"
PEOPLE = ROOT / "people.toml"
KINDS = ("vendors", "units", "sites", "lines", "devices")


def example(tmp_path: Path) -> Path:
    """The example registry as one workbook, as a contractor keeps it."""
    sheets = [s for k in KINDS for s in read(EXAMPLE / f"{k}.csv")]
    book = tmp_path / "registry.xlsx"
    data = {s.kind: [row for _, row in s.rows] for s in sheets}
    for rows in data.values():
        for row in rows:
            if "contacts" in row:
                row["contacts"] = contacts(row["contacts"])  # type: ignore[assignment]
    to_xlsx(book, data, Words("zh"))
    return book


@pytest.fixture
def net(db_path: Path, travel: Any) -> Engine:
    return Engine.open(db=db_path, clock=pendulum.now, people=PEOPLE)


def test_the_example_imports_and_comes_back_unchanged(net: Engine, tmp_path: Path) -> None:
    book = example(tmp_path)
    dry = net.import_registry(read(book), dry_run=True, actor="li", source=book.name)
    assert (dry.created, dry.updated, dry.unchanged, dry.problems) == (47, 0, 0, [])
    assert net.entries("units") == []  # a dry run writes nothing
    done = net.import_registry(read(book), actor="li")
    assert done.to_dict() == {"created": 47, "updated": 0, "unchanged": 0}
    gov = net.entry("units", "CG-GOV")
    assert gov["manager"] == "zhou" and gov["contacts"][0] == {
        "name": "张主任", "phone": "0374-6100001", "email": "zhang@cg-gov.example"
    }  # fmt: skip
    device = net.entry("devices", "2102351931DMH4000123")
    assert (device["model"], device["vendor"], device["warranty_end"]) == (
        "S5720-28X-SI-AC", "HUAWEI", "2028-06-30"
    )  # fmt: skip
    # exported and imported again: nothing changes
    back = tmp_path / "back.xlsx"
    to_xlsx(back, net.export_registry(), Words("en"))
    again = net.import_registry(read(back), actor="li")
    assert again.to_dict() == {"created": 0, "updated": 0, "unchanged": 47}
    # the log holds each change, chained
    log = net.registry_log()
    assert len(log) == 47 and {e.action for e in log} == {"created"} and log[0].actor == "li"
    assert table.broken_log(log) is None
    assert net.verify().registry == 47 and net.verify().ok


def test_a_bad_row_refuses_the_whole_file_naming_each_problem(
    net: Engine, db_path: Path, tmp_path: Path
) -> None:
    net.import_registry(read(example(tmp_path)), actor="li")
    bad = tmp_path / "devices.csv"
    bad.write_text(
        "序列号,型号,单位,站点,保修截止\n"
        "NEW1,S5720,CG-FIN,CG-GOV-MAIN,2027-01-01\n"  # a site of another unit
        "NEW2,,CG-NONE,,soon\n"  # no model, no such unit, not a date
        "NEW3,AR2220,CG-FIN,,\n"  # good
        "NEW1,AR2220,CG-FIN,,\n",  # the serial twice
        encoding="utf-8",
    )
    before = snapshot(db_path)
    plan = net.import_registry(read(bad), actor="li", lang="zh")
    assert plan.problems == [
        "devices.csv：第 2 行，“站点”：站点“CG-GOV-MAIN”属于单位“CG-GOV”，不属于“CG-FIN”",
        "devices.csv：第 3 行，“型号”：不能为空",
        "devices.csv：第 3 行，“单位”：没有这个单位：“CG-NONE”",
        "devices.csv：第 3 行，“保修截止”：“soon”不是日期（YYYY-MM-DD）",
        "devices.csv：第 5 行，“序列号”：“NEW1”重复（另见第 2 行）",
    ]
    assert snapshot(db_path) == before  # nothing half-imported
    english = net.import_registry(read(bad), actor="li", lang="en").problems
    assert english[2] == "devices.csv: row 3, column unit: no such unit: 'CG-NONE'"


def test_sheets_and_columns_are_read_in_either_language(net: Engine, tmp_path: Path) -> None:
    book = tmp_path / "mixed.xlsx"
    to_xlsx(book, {"vendors": [{"code": "ZTE", "name": "中兴", "contacts": []}]}, Words("en"))
    (sheet, *_) = [s for s in read(book) if s.rows]
    assert (sheet.kind, sheet.label, sheet.columns[:2]) == ("vendors", "vendors", ["code", "name"])
    assert net.import_registry(read(book)).created == 1
    odd = tmp_path / "odd.xlsx"
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "库存"  # not a kind
    wb.save(odd)
    with pytest.raises(InvalidInput, match="unknown sheet '库存'"):
        read(odd)
    nokey = tmp_path / "units.csv"
    nokey.write_text("名称\n某单位\n", encoding="utf-8")
    plan = net.import_registry(read(nokey), lang="en")
    assert plan.problems == ["units.csv: row 1, column code: no code column"]
    (tmp_path / "x.txt").write_text("a", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"is \.xlsx or \.csv"):
        read(tmp_path / "x.txt")


def test_by_hand_from_the_command_line(db_path: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--db", str(db_path), "--people", str(PEOPLE)]

    def run(*args: str) -> Any:
        return runner.invoke(cli, [*base, *args], prog_name="faultflow")

    assert run("init").exit_code == 0
    for kind in KINDS:
        done = run("registry", "import", str(EXAMPLE / f"{kind}.csv"), "--as", "li")
        assert done.exit_code == 0, done.output
    shown = run("units", "show", "CG-GOV", "--json")
    assert shown.exit_code == 0
    import json

    said = json.loads(shown.stdout)
    assert said["devices"] == ["2102351931DMH4000123", "219801A0TS9173E00012"]
    added = run("units", "add", "--code", "CG-EDU", "--name", "长葛市教育局", "--manager", "wu")
    assert added.exit_code == 0, added.output
    again = run("units", "add", "--code", "CG-EDU", "--name", "又一个")
    assert again.exit_code == 1 and again.stderr.strip() == "error: 单位“CG-EDU”已存在"
    refused = run("units", "add", "--code", "CG-X", "--name", "x", "--manager", "nobody")
    assert refused.exit_code == 1
    assert refused.stderr.strip() == "error: 客户经理: people.toml 中没有“nobody”"
    assert run("units", "edit", "CG-EDU", "--address", "教育局大楼").exit_code == 0
    assert run("units", "show", "CG-EDU", "--json").stdout.count("教育局大楼") == 1
    busy = run("units", "remove", "CG-GOV", "--lang", "en")
    assert busy.exit_code == 1
    assert "is still named by 1 sites, 1 lines, 2 devices: archive it instead" in busy.stderr
    assert run("units", "archive", "CG-GOV").exit_code == 0
    listed = run("units", "list", "--json")
    codes = [u["code"] for u in json.loads(listed.stdout)["units"]]
    assert "CG-EDU" in codes and "CG-FIN" in codes and "CG-GOV" not in codes  # archived
    assert codes == sorted(codes) and len(codes) == 11
    assert run("units", "remove", "CG-EDU").exit_code == 0
    assert run("units", "show", "CG-EDU").exit_code == 1
    out = tmp_path / "devices.csv"
    assert run("registry", "export", "--out", str(out)).exit_code == 0
    assert (
        out.read_text("utf-8-sig").splitlines()[0]
        == "序列号,名称,型号,单位,站点,厂商,保修截止,地址"
    )
    dry = run("registry", "import", str(out), "--dry-run", "--json")
    assert json.loads(dry.stdout) == {"created": 0, "updated": 0, "unchanged": 12, "dry_run": True}


def test_a_tampered_log_is_found(net: Engine, db_path: Path, tmp_path: Path) -> None:
    import sqlite3

    net.import_registry(read(example(tmp_path)))
    net.close()
    with sqlite3.connect(db_path) as conn:  # what someone with write access to the file can do
        conn.execute("UPDATE registry_log SET actor = 'mallory' WHERE seq = 3")
    again = Engine.open(db=db_path)
    assert table.broken_log(again.registry_log()) == 2
    found = again.verify()
    assert not found.ok and (found.registry, found.registry_broken) == (47, 3)
    again.close()
    done = CliRunner().invoke(cli, ["--db", str(db_path), "verify"])
    assert done.exit_code == 1
    assert "the registry's log is broken at change 3" in done.stderr


def test_a_row_changed_behind_the_logs_back_is_found(net: Engine, db_path: Path) -> None:
    import sqlite3

    net.import_registry([s for k in KINDS for s in read(EXAMPLE / f"{k}.csv")])
    net.archive_entry("units", "CG-FIN")  # changes through faultflow stay in step
    assert net.verify().ok and net.verify().registry_differs == ()
    net.close()
    with sqlite3.connect(db_path) as conn:  # someone with the file: a manager changed, a unit
        conn.execute("UPDATE units SET manager = 'zheng' WHERE code = 'CG-GOV'")  # slipped in
        conn.execute("INSERT INTO vendors VALUES ('ZTE', '中兴', NULL, '[]', NULL, 0, 'x')")
        conn.execute("DELETE FROM lines WHERE code = 'CGZW-0002'")
    found = Engine.open(db=db_path).verify()
    assert not found.ok and found.registry_broken is None  # the log itself is whole
    assert found.registry_differs == ("vendors ZTE", "units CG-GOV", "lines CGZW-0002")
    assert found.to_dict()["registry"]["differs"] == list(found.registry_differs)
    done = CliRunner().invoke(cli, ["--db", str(db_path), "verify"])
    assert done.exit_code == 1 and done.stderr.count("\n") == 1
    assert "vendors ZTE, units CG-GOV, lines CGZW-0002 are not what its log wrote" in done.stderr


def test_the_registry_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    engine = Engine.open(db=pg_url, create=True, people=PEOPLE)
    book = example(tmp_path)
    assert engine.import_registry(read(book)).created == 47
    assert engine.import_registry(read(book)).unchanged == 47
    with pytest.raises(InvalidInput, match="archive it instead"):
        engine.remove_entry("vendors", "HUAWEI", lang="en")
    assert table.broken_log(engine.registry_log()) is None
    assert engine.verify().ok  # every row what its last change wrote, on PostgreSQL too
    engine.close()


words = st.text(alphabet=st.characters(whitelist_categories=("Lo", "Ll", "Lu")), min_size=1,
                max_size=6)  # fmt: skip
phones = st.from_regex(r"1[3-9]\d{9}|0\d{3}-\d{7}", fullmatch=True)
mails = st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.example", fullmatch=True)


@given(st.lists(st.fixed_dictionaries({"name": words}, optional={"phone": phones, "email": mails}),
                max_size=4))  # fmt: skip
def test_contacts_read_back_what_they_show(people: list[dict[str, str]]) -> None:
    assert contacts(contacts_text(people)) == people


def test_the_example_files_are_where_the_docs_say(tmp_path: Path) -> None:
    for kind in KINDS:
        assert (EXAMPLE / f"{kind}.csv").is_file()
    shutil.copy(EXAMPLE / "units.csv", tmp_path / "单位.csv")  # named in Chinese
    assert read(tmp_path / "单位.csv")[0].kind == "units"
