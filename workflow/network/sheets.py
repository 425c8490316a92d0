"""The registry's spreadsheets, as contractors keep them: XLSX (a sheet per kind) or CSV (a file
per kind), read into rows and written back.

A sheet is named by its kind in either language (``devices``, ``设备``); a column by its field
(``serial``) or its heading in either language (``序列号``, ``serial``). Rows are numbered as
the spreadsheet numbers them (the heading is row 1), so that an error names the row a person
sees. Empty rows are skipped. XLSX through openpyxl (read-only, streaming: 10,000 devices read
in well under a second).
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from ..words import LANGUAGES, Words
from .model import KINDS, ORDER, contacts_text


@dataclass
class Sheet:
    """The rows of one kind from one sheet or file: (row number, column name → text)."""

    kind: str
    label: str  # how the file names it (a sheet's name, a CSV file's name)
    columns: list[str]
    rows: list[tuple[int, dict[str, str | None]]] = field(default_factory=list)


@functools.cache
def _names() -> tuple[dict[str, str], dict[str, str]]:
    """Sheet names and column headings in every language, to kind and field names."""
    sheets: dict[str, str] = {}
    columns: dict[str, str] = {}
    for lang in LANGUAGES:
        w = Words(lang)
        for kind in KINDS.values():
            sheets[w[f"registry.kind.{kind.name}"].casefold()] = kind.name
            sheets[kind.name] = kind.name
            for f in kind.fields:
                columns[w[f"column.{f.name}"].casefold()] = f.name
                columns[f.name] = f.name
    return sheets, columns


def kind_of(name: str) -> str | None:
    return _names()[0].get(name.strip().casefold())


def cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (
            value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a serial or a phone number Excel made a number of
    text = str(value).strip()
    return text or None


def _sheet(kind: str, label: str, lines: Iterator[tuple[Any, ...]]) -> Sheet:
    headings = next(lines, None)
    if headings is None:
        return Sheet(kind, label, [])
    columns = _names()[1]
    names = [columns.get(str(h).strip().casefold(), str(h).strip()) if h is not None else ""
             for h in headings]  # fmt: skip
    sheet = Sheet(kind, label, [n for n in names if n])
    for number, values in enumerate(lines, start=2):
        row = {n: cell(v) for n, v in zip(names, values, strict=False) if n}
        if any(v is not None for v in row.values()):
            sheet.rows.append((number, row))
    return sheet


def read(path: Path, kind: str | None = None) -> list[Sheet]:
    """The sheets of an XLSX workbook, or the one CSV file (its kind from ``kind`` or the file's
    name: ``devices.csv``, ``设备.csv``), in the order their references allow."""
    if path.suffix.lower() == ".csv":
        found = kind or kind_of(path.stem)
        if found is None:
            raise InvalidInput(
                f"{path.name}: which kind of entries? Name the file after one "
                f"({', '.join(ORDER)}) or give --kind"
            )
        ((label, rows),) = tables(path)
        return [_sheet(found, label, iter(rows))]
    sheets = []
    for label, rows in tables(path):
        named = kind_of(label)
        if named is None:
            said = ", ".join(ORDER)
            raise InvalidInput(f"{path.name}: unknown sheet {label!r} (known: {said})")
        sheets.append(_sheet(named, label, iter(rows)))
    return sorted(sheets, key=lambda s: ORDER.index(s.kind))


def tables(path: Path) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """The rows of a CSV file (UTF-8 with or without Excel's BOM, or GB18030), or of each
    sheet of an XLSX workbook: (the file's or the sheet's name, its rows as values)."""
    if not path.is_file():
        raise InvalidInput(f"cannot read {path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            text = path.read_text(encoding="utf-8-sig")  # Excel writes a BOM
        except UnicodeDecodeError:
            try:
                text = path.read_text(encoding="gb18030")  # a Chinese Excel's default
            except UnicodeDecodeError:
                raise InvalidInput(f"{path.name}: not UTF-8 or GB18030 text") from None
        return [(path.name, [tuple(line) for line in csv.reader(io.StringIO(text))])]
    if suffix in (".xlsx", ".xlsm"):
        return _workbook(path)
    raise InvalidInput(f"{path.name}: a spreadsheet is .xlsx or .csv")


EXAMPLE = Path(__file__).resolve().parent / "example"
"""The example registry: made-up units of a city's e-government extranet, their sites, lines
and devices of a few real models, two vendors (docs/examples/registry links here)."""


def example() -> list[Sheet]:
    """The example registry's sheets, ready for :meth:`Engine.import_registry`."""
    return [s for kind in ORDER for s in read(EXAMPLE / f"{kind}.csv")]


def _workbook(path: Path) -> list[tuple[str, list[tuple[Any, ...]]]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as err:
        raise InvalidInput(f"{path.name}: not a readable XLSX workbook ({err})") from None
    try:
        return [(ws.title, list(ws.iter_rows(values_only=True))) for ws in book.worksheets]
    finally:
        book.close()


def _shown(kind: str, entry: Mapping[str, Any]) -> list[Any]:
    return [
        contacts_text(entry.get(f.name) or []) if f.kind == "contacts" else entry.get(f.name)
        for f in KINDS[kind].fields
    ]


def headings(kind: str, w: Words) -> list[str]:
    return [w[f"column.{f.name}"] for f in KINDS[kind].fields]


def to_csv(kind: str, entries: Iterable[Mapping[str, Any]], w: Words) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headings(kind, w))
    for entry in entries:
        writer.writerow(["" if v is None else v for v in _shown(kind, entry)])
    return out.getvalue()


def to_xlsx(path: Path, data: Mapping[str, Iterable[Mapping[str, Any]]], w: Words) -> None:
    """A workbook with a sheet per kind, headed in the words of ``w`` (what :func:`read`
    takes back)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    for kind in ORDER:
        ws = book.create_sheet(w[f"registry.kind.{kind}"])
        ws.append(headings(kind, w))
        for entry in data.get(kind, ()):
            ws.append(_shown(kind, entry))
    book.save(path)
