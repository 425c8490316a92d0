"""Looking at what is installed and at a contract: ``channels``, ``check``, ``graph``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .base import (
    Settings,
    emit_json,
    json_option,
    write_out,
)


@click.command()
@json_option
@click.pass_obj
def channels(settings: Settings, as_json: bool) -> None:
    """The installed intake channels and notifiers, and any plugin that failed to load."""
    from faultflow.registry import discover

    registry = discover()
    if as_json:
        emit_json(
            {
                "channels": {
                    n: {"description": c.description, "plugin": registry.origin[n]}
                    for n, c in sorted(registry.channels.items())
                },
                "notifiers": {
                    n: {"plugin": registry.origin[n]} for n in sorted(registry.notifiers)
                },
                "broken": registry.broken,
            }
        )
        return
    click.echo(click.style("channels", bold=True))
    for name, channel in sorted(registry.channels.items()):
        click.echo(f"  {name:<17} {channel.description}")
    click.echo(click.style("notifiers", bold=True))
    for name in sorted(registry.notifiers):
        click.echo(f"  {name}")
    for plugin, problem in sorted(registry.broken.items()):
        click.echo(click.style(f"broken plugin {plugin}: {problem}", fg="red"), err=True)


@click.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@json_option
@click.pass_obj
def check(settings: Settings, path: str | None, as_json: bool) -> None:
    """Validate a contract file (default: the one --config would use), and the people file
    (--people, else ./people.toml) with it."""
    from faultflow.contract.compile import load_contract

    contract = load_contract(Path(path) if path else settings.config_path())
    summary: dict[str, Any] = {
        "file": contract.source,
        "name": contract.name,
        "timezone": contract.timezone.key,
        "tiers": list(contract.tiers),
        "states": list(contract.states),
        "triggers": list(contract.triggers),
        "clocks": list(contract.clocks),
        "notifiers": list(contract.notifiers),
    }
    # The people file of this setup (--people, FAULTFLOW_PEOPLE, ./people.toml) is checked with
    # its contract; checking another contract file (PATH) checks it with that one only if
    # --people names it.
    people_file = settings.people_path() if path is None or settings.people_option else None
    roster = None
    if people_file is not None:
        from faultflow.duty.people import load

        roster = load(people_file, contract)
        summary["people"] = {
            "file": roster.source,
            "people": list(roster.people),
            "roles": list(roster.roles),
            "chains": list(roster.chains),
        }
    warnings = [*contract.warnings, *_this_setup(contract, roster)]
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    against = _against_database(settings, contract)
    if against is not None:
        summary["database"] = against
    if as_json:
        emit_json({"ok": True, **summary, "warnings": warnings})
        return
    click.echo(f"ok: {contract.source}")
    click.echo(f"  {contract.name} ({contract.timezone.key})")
    click.echo(
        f"  tiers {', '.join(contract.tiers)}; {len(contract.states)} states, "
        f"{len(contract.transitions)} transitions; clocks {', '.join(contract.clocks)}"
    )
    if people_file is not None:
        p = summary["people"]
        click.echo(
            f"ok: {p['file']}: {len(p['people'])} people, roles {', '.join(p['roles'])}; "
            f"escalation chains for tiers {', '.join(p['chains']) or 'none'}"
        )
    if against is not None:
        click.echo(f"ok: the database: {against['said']}")


def _this_setup(contract: Any, roster: Any) -> list[str]:
    """What the contract names that this installation must have: the channels ``[merge] auto``
    merges (installed plugins), the role ``[spares] notify`` tells (people.toml), an e-mail
    notifier for ``[monthly] to``. A channel that is not installed is refused (one line, exit
    1); the others are warnings (the file still works, the feature does not)."""
    from faultflow.errors import ConfigError
    from faultflow.registry import discover

    installed = set(discover().channels) | {"inspection", "followup"}  # the engine's own
    for i, name in enumerate(sorted(contract.merge_auto)):
        if name not in installed:
            raise ConfigError(f"{contract.source}: merge.auto[{i}]: no channel {name!r} is "
                              f"installed (see `faultflow channels`)")  # fmt: skip
    found = []
    role = contract.spare_notify
    if role and roster is not None and role not in roster.roles and role not in roster.people:
        found.append(f"spares.notify: {roster.source} has no role or person {role!r}: a low "
                     "stock is told to nobody")  # fmt: skip
    if contract.monthly_to and not any(n.use == "email" for n in contract.notifiers.values()):
        found.append('monthly.to: no email notifier ([notifiers.NAME] use = "email"): the '
                     "monthly report is made on demand but not mailed")  # fmt: skip
    return found


def _against_database(settings: Settings, contract: Any) -> dict[str, Any] | None:
    """The contract against the database's open tickets, when there is a database: refused
    (InvalidInput) if open tickets are in states it does not have; else what applying it
    would mean. ``None`` when there is no database to look at."""
    from faultflow.engine import Engine
    from faultflow.errors import DatabaseError, InvalidInput

    try:
        engine = Engine.open(db=settings.db, config=contract, create=False, pinned=False,
                             lock_timeout=5)  # fmt: skip
    except DatabaseError:
        return None  # no database here (or not one at our schema): the file alone is checked
    try:
        found = engine.contract_diff(contract)
        unknown = engine.unknown_targets(contract)
    finally:
        engine.close()
    if unknown:
        path, target = unknown[0]
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        raise InvalidInput(
            f"{path}: {target} is not in the database's registry{more} (see `faultflow "
            f"{target.split(':')[0]}s list`)"
        )
    if found.orphans:
        named = ", ".join(f"{t.ticket} ({t.state})" for t in found.orphans[:10])
        raise InvalidInput(
            f"{len(found.orphans)} open ticket(s) of the database are in states "
            f"{contract.source} does not have: {named} (see `faultflow contract diff`)"
        )
    if found.same:
        said = f"runs this version ({contract.version})"
    else:
        moving = sum(1 for t in found.tickets if any(m.change != "same" for m in t.moves))
        said = (
            f"runs version {found.current}; this file is {contract.version}: "
            f"`faultflow contract apply` takes it on ({moving} open ticket(s) would see due "
            "times move with --migrate-open; `faultflow contract diff` shows them)"
        )
    return {"current": found.current, "version": contract.version, "said": said}


@click.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "svg"]),
    default="mermaid",
    show_default=True,
    help="Mermaid text (needs nothing) or SVG (needs Graphviz).",
)
@click.option("--out", metavar="FILE", help="Write to FILE instead of stdout.")
@click.pass_obj
def graph(settings: Settings, path: str | None, fmt: str, out: str | None) -> None:
    """Draw the contract's lifecycle: states, triggers and guards (default: --config's)."""
    from faultflow.contract.compile import load_contract
    from faultflow.contract.graph import draw

    contract = load_contract(Path(path)) if path else settings.contract()
    write_out(draw(contract, fmt), out)
