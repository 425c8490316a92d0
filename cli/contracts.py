"""``faultflow contract``: versions of the contract file in the database (versions.py)."""

from __future__ import annotations

from pathlib import Path

import click

from .base import Settings, emit_json, json_option


@click.group()
def contract() -> None:
    """Contract versions: each ticket runs under the version it was opened under.

    \b
    A changed contract file is refused by every command until it is applied: `diff` shows
    what it would change, `apply` records it for new tickets (and with --migrate-open moves
    the open tickets onto it).
    """


def _path(settings: Settings, path: str | None) -> Path | None:
    return Path(path) if path else settings.config_path()


@contract.command("diff")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@json_option
@click.pass_obj
def diff(settings: Settings, path: str | None, as_json: bool) -> None:
    """What PATH (default: the --config file) would change, against the database's version:
    for each open ticket, which due times move and by how much, and which states, triggers or
    clocks would no longer exist. A dry run: nothing is written."""
    from faultflow.contract.compile import load_contract
    from faultflow.contract.versions import describe

    new = load_contract(_path(settings, path))
    found = settings.engine(pinned=False).contract_diff(new)
    if as_json:
        emit_json(found.to_dict())
        return
    for line in describe(found):
        click.echo(line)


@contract.command("apply")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option(
    "--migrate-open",
    is_flag=True,
    help="Also move the open tickets onto it (their clocks rebuilt, a `contract` event each); "
    "refused, nothing written, if a ticket's state is not in it.",
)
@click.option("--as", "actor", metavar="ACTOR", help="Who applies it (the history names them).")
@json_option
@click.pass_obj
def apply(
    settings: Settings, path: str, migrate_open: bool, actor: str | None, as_json: bool
) -> None:
    """Record PATH as the database's contract: new tickets run under it; open tickets keep
    the version they were opened under unless --migrate-open."""
    from faultflow.contract.compile import load_contract

    new = load_contract(Path(path))
    engine = settings.engine(pinned=False)
    found, moved = engine.apply_contract(new, migrate_open=migrate_open, actor=actor)
    if as_json:
        emit_json({**found.to_dict(), "applied": new.version, "moved": moved})
        return
    if found.same and not moved:
        click.echo(f"version {new.version} is already the database's contract")
        return
    staying = [t for t in found.tickets if t.ticket not in moved]
    if not found.same:
        click.echo(f"applied version {new.version} ({new.source}): new tickets run under it")
    if migrate_open:
        click.echo(f"moved {len(moved)} open ticket(s) onto it")
    elif staying:
        click.echo(
            f"{len(staying)} open ticket(s) keep the version they were opened under "
            "(--migrate-open moves them)"
        )


@contract.command("versions")
@json_option
@click.pass_obj
def versions(settings: Settings, as_json: bool) -> None:
    """Every version the database keeps, oldest first, and how many tickets run under each."""
    found = settings.engine(pinned=False).contract_versions()
    if as_json:
        emit_json(found)
        return
    for v in found:
        mark = "*" if v["current"] else " "
        click.echo(
            f"{mark} {v['version']}  {v['recorded_at'][:16]}  {v['tickets']:>6} tickets  "
            f"{v['name']}  ({v['source']}, by {v['actor']})"
        )
