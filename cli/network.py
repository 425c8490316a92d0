"""The registry on the command line: ``faultflow units|sites|lines|devices|vendors list|show|
add|edit|archive|remove`` (one group per kind, its options from the kind's fields) and
``faultflow registry import|export`` for the spreadsheets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .base import Settings, actor_option, emit_json, json_option, show_ticket

LANG = click.option(
    "--lang",
    type=click.Choice(["zh", "en"]),
    help="The language of headings and problems (default: the contract's `language`).",
)

HELP = {
    "vendors": "Hardware and software vendors: whom to call before going on site.",
    "units": "The connected units (offices, halls, bureaus), each with its customer manager.",
    "sites": "The sites of a unit, where its lines end and its devices stand.",
    "lines": "Leased lines, by circuit id: the unit, the site, carrier, kind, both ends.",
    "devices": "Devices, by serial: model, unit, site, vendor, warranty end, name, address.",
}
FIELD_HELP = {
    "contacts": 'People, "name phone e-mail" each, separated by ";".',
    "manager": "The unit's customer manager: a person id of people.toml.",
    "warranty_end": "The last day of the warranty: YYYY-MM-DD.",
    "name": "The name (of a device: what the monitoring calls it, e.g. its hostname).",
    "address": "The address (of a device: its management IP or host).",
    "kind": "The kind of line (e.g. MSTP, fibre, MPLS VPN).",
}


def _text(entry: dict[str, Any], kind: str) -> str:
    from faultflow.network.model import KINDS, contacts_text

    lines = []
    for f in KINDS[kind].fields:
        value = entry.get(f.name)
        if f.kind == "contacts":
            value = contacts_text(value or [])
        if value:
            lines.append(f"  {f.name:<13} {value}")
    if entry.get("archived_us"):
        lines.append("  (archived)")
    return "\n".join(lines)


def _shown(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in ("changed_us", "archived_us")} | {
        "archived": entry.get("archived_us") is not None
    }


def _group(kind: str) -> click.Group:
    from faultflow.network.model import KINDS

    spec = KINDS[kind]
    one = kind[:-1]

    @click.group(name=kind, help=HELP[kind])
    def group() -> None:
        pass

    @group.command("list")
    @click.option("--archived", is_flag=True, help="The archived ones too.")
    @json_option
    @click.pass_obj
    def list_(settings: Settings, archived: bool, as_json: bool, unit: str | None = None) -> None:
        where = {"unit": unit} if unit else {}
        found = settings.engine().entries(kind, archived, **where)
        if as_json:
            emit_json({kind: [_shown(e) for e in found]})
            return
        if not found:
            click.echo(f"no {kind}" + (f" of unit {unit}" if unit else ""))
        for e in found:
            extra = " ".join(
                str(e[f]) for f in ("unit", "model", "name") if e.get(f) and f != spec.key
            )
            mark = " (archived)" if e.get("archived_us") else ""
            click.echo(f"{e[spec.key]:<20} {extra}{mark}")

    list_.help = f"The {kind}, by {spec.key}."
    if "unit" in spec.names:
        list_.params.append(
            click.Option(["--unit"], metavar="CODE", help="Only those of this unit.")
        )

    @group.command("show")
    @click.argument("code")
    @click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True,
                  help="How many of its latest tickets to list.")  # fmt: skip
    @json_option
    @click.pass_obj
    def show(settings: Settings, code: str, limit: int, as_json: bool) -> None:
        engine = settings.engine()
        entry = engine.entry(kind, code)
        parts = {
            other: [e[KINDS[other].key] for e in engine.entries(other, True, **{one: code})]
            for other in ("sites", "lines", "devices")
            if one in KINDS[other].names
        }
        served = engine.served(kind, code, limit) if kind != "vendors" else []
        if as_json:
            tickets = {"tickets": [t.to_dict() for t in served]} if kind != "vendors" else {}
            emit_json(_shown(entry) | {k: v for k, v in parts.items()} | tickets)
            return
        click.echo(f"{one} {code}")
        click.echo(_text(entry, kind))
        for other, codes in parts.items():
            if codes:
                click.echo(f"  {other:<13} {', '.join(codes)}")
        if kind != "vendors":
            from .render import served_lines

            click.echo(f"tickets (latest {limit})" if served else "no tickets")
            for line in served_lines(served, engine.now()):
                click.echo(line)

    show.help = (
        f"One {one}: its fields"
        + (", what belongs to it" if kind in ("units", "sites") else "")
        + ("" if kind == "vendors" else ", and its latest tickets with how long each fault lasted.")
    )

    def option(field: Any, required: bool = False) -> click.Option:
        return click.Option(
            [f"--{field.name.replace('_', '-')}", field.name],
            metavar="CODE" if field.kind == "ref" or field.name == spec.key else "TEXT",
            required=required,
            help=FIELD_HELP.get(field.name, f"The {field.name.replace('_', ' ')}."),
        )

    @group.command("add")
    @LANG
    @actor_option
    @json_option
    @click.pass_obj
    def add(
        settings: Settings, lang: str | None, actor: str, as_json: bool, **values: str | None
    ) -> None:
        given = {k: v for k, v in values.items() if v is not None}
        entry = settings.engine().add_entry(kind, given, actor, lang)
        if as_json:
            emit_json(_shown(entry))
            return
        click.echo(f"added {one} {entry[spec.key]}")

    add.help = f"Add a {one}; refused, naming each wrong field, if one is wrong or it exists."
    add.params += [option(field, field.required) for field in spec.fields]

    @group.command("edit")
    @click.argument("code")
    @LANG
    @actor_option
    @json_option
    @click.pass_obj
    def edit(settings: Settings, code: str, lang: str | None, actor: str, as_json: bool,
             **values: str | None) -> None:  # fmt: skip
        given = {k: v for k, v in values.items() if v is not None}
        if not given:
            raise click.UsageError("nothing to change: give the fields to change (--help)")
        entry = settings.engine().edit_entry(kind, code, given, actor, lang)
        if as_json:
            emit_json(_shown(entry))
            return
        click.echo(f"{one} {code}:\n{_text(entry, kind)}")

    edit.help = f'Change fields of a {one} (--FIELD "" clears an optional one).'
    edit.params += [option(field) for field in spec.fields if field.name != spec.key]

    @group.command("archive")
    @click.argument("code")
    @actor_option
    @click.pass_obj
    def archive(settings: Settings, code: str, actor: str) -> None:
        settings.engine().archive_entry(kind, code, actor)
        click.echo(f"archived {one} {code}")

    archive.help = f"Retire a {one} that others still name: kept, out of the lists."

    @group.command("remove")
    @click.argument("code")
    @LANG
    @actor_option
    @click.pass_obj
    def remove(settings: Settings, code: str, lang: str | None, actor: str) -> None:
        settings.engine().remove_entry(kind, code, actor, lang)
        click.echo(f"removed {one} {code}")

    remove.help = f"Delete a {one} nothing names (else archive it)."
    return group


@click.group()
def registry() -> None:
    """The registry as spreadsheets: import (checked, all or nothing) and export.

    \b
    An XLSX workbook holds a sheet per kind: vendors, units, sites, lines, devices (or
    厂商, 单位, 站点, 线路, 设备); a CSV file holds one kind, named after it (devices.csv).
    The first row names the columns, by field or heading (docs/registry.md).
    """


@registry.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--dry-run", is_flag=True, help="Check every row and say what would change; write nothing."
)
@click.option(
    "--kind",
    type=click.Choice(["vendors", "units", "sites", "lines", "devices"]),
    help="For a CSV file not named after its kind.",
)
@LANG
@actor_option
@json_option
@click.pass_obj
def import_(settings: Settings, path: Path, dry_run: bool, kind: str | None, lang: str | None,
            actor: str, as_json: bool) -> None:  # fmt: skip
    """Create or update the entries of a spreadsheet (XLSX or CSV), by their codes.

    Every row is checked first, against the database and the rows before it; one wrong row
    and nothing is written (each problem is named by file, sheet, row and column).
    """
    from faultflow.errors import InvalidInput
    from faultflow.network.sheets import read

    engine = settings.engine()
    plan = engine.import_registry(read(path, kind), dry_run, actor, lang, path.name)
    if as_json:
        emit_json(plan.to_dict() | {"dry_run": dry_run})
    else:
        for line in plan.changed if dry_run else ():
            click.echo(f"  update {line}")
        for line in plan.problems:
            click.echo(line, err=True)
    if plan.problems:
        n = len(plan.problems)
        raise InvalidInput(f"{n} problem{'s' * (n > 1)} in {path.name}: nothing was written")
    if not as_json:
        verb = "would create" if dry_run else "created"
        click.echo(f"{verb} {plan.created}, updated {plan.updated}, unchanged {plan.unchanged}"
                   + (" (dry run: nothing written)" if dry_run else ""))  # fmt: skip


@registry.command("export")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    metavar="FILE",
    help="registry.xlsx (every kind, a sheet each) or KIND.csv (one kind, e.g. devices.csv).",
)
@click.option("--archived", is_flag=True, help="The archived entries too.")
@LANG
@click.pass_obj
def export(settings: Settings, out: Path, archived: bool, lang: str | None) -> None:
    """Write the registry to a spreadsheet that `registry import` takes back."""
    from faultflow.errors import InvalidInput
    from faultflow.network.sheets import kind_of, to_csv, to_xlsx
    from faultflow.words import Words

    engine = settings.engine()
    w = Words(lang or engine.contract.language)
    if not out.parent.is_dir():
        raise InvalidInput(f"cannot write {out}: there is no folder {out.parent}")
    data = engine.export_registry(archived)
    if out.suffix.lower() == ".csv":
        kind = kind_of(out.stem)
        if kind is None:
            raise InvalidInput(
                f"{out.name}: name a CSV file after its kind (devices.csv, units.csv…)"
            )
        out.write_text(to_csv(kind, data[kind], w), encoding="utf-8-sig")
        click.echo(f"wrote {len(data[kind])} {kind} to {out}")
        return
    if out.suffix.lower() != ".xlsx":
        raise InvalidInput(f"{out.name}: export to .xlsx (every kind) or KIND.csv")
    to_xlsx(out, data, w)
    said = ", ".join(f"{len(v)} {k}" for k, v in data.items())
    click.echo(f"wrote {said} to {out}")


@click.command()
@click.argument("ticket_id", metavar="ID")
@click.option("--unit", metavar="CODE", help="The unit it is at.")
@click.option("--site", metavar="CODE", help="The site (gives its unit).")
@click.option("--line", metavar="CODE", help="The line, by circuit id (gives its unit and site).")
@click.option("--device", metavar="SERIAL", help="The device (gives its unit and site).")
@click.option("--note", help="Why (the history says it; default: the place).")
@actor_option
@LANG
@json_option
@click.pass_obj
def locate(settings: Settings, ticket_id: str, unit: str | None, site: str | None,
           line: str | None, device: str | None, note: str | None, actor: str,
           lang: str | None, as_json: bool) -> None:  # fmt: skip
    """Set or correct where a ticket is: its unit, site, line or device of the registry
    (an event in its history; the broader parts follow from the narrower)."""
    t = settings.engine().locate(ticket_id, unit=unit, site=site, line=line, device=device,
                                 actor=actor, note=note, lang=lang)  # fmt: skip
    show_ticket(settings, t, as_json)


@click.command()
@json_option
@click.pass_obj
def status(settings: Settings, as_json: bool) -> None:
    """What is down now: the units with open tickets of a tier that stops a unit's business
    (the contract's `stops_business`), longest down first — the duty room's wall."""
    found = settings.engine().status()
    if as_json:
        emit_json(found.to_dict())
        return
    from .render import status_text

    click.echo(status_text(found))


def groups() -> list[click.Command]:
    return [
        *(_group(kind) for kind in ("units", "sites", "lines", "devices", "vendors")),
        registry,
        locate,
        status,
    ]
