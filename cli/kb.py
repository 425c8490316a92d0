"""The experience base (经验库) on the command line: ``faultflow kb add|edit|approve|retire|
show|list|search|use``."""

from __future__ import annotations

from typing import Any

import click

from .base import Settings, actor_option, emit_json, json_option, show_ticket


def _text(e: Any) -> str:
    from faultflow.timekeeping.durations import span

    lines = [click.style(f"entry {e.id}  {e.state}", bold=True) + f"  v{e.version}"]
    for name in ("symptom", "cause", "fix"):
        value = getattr(e, name)
        first, *rest = (value or "-").splitlines() or ["-"]
        lines.append(f"  {name:<9} {first}")
        lines += [f"  {'':<9} {line}" for line in rest]
    extra = [
        ("models", ", ".join(e.models)), ("line kind", e.line_kind or ""),
        ("spare", e.spare or ""), ("fixed in", span(e.fix_time) if e.fix_time else ""),
        ("tickets", ", ".join(e.tickets)),
    ]  # fmt: skip
    lines += [f"  {k:<9} {v}" for k, v in extra if v]
    lines.append(f"  by {e.author}, last changed by {e.changed_by}")
    return "\n".join(lines)


def _fields(f: Any) -> Any:
    for option in reversed(
        [
            click.option("--symptom", help="How the fault showed (what the reporter saw)."),
            click.option("--cause", help="Why it happened."),
            click.option("--fix", help="What fixed it."),
            click.option("--model", "models", multiple=True, metavar="M",
                         help="A device model it concerns; repeat for several."),
            click.option("--ticket", "tickets", multiple=True, metavar="ID",
                         help="A ticket it came from; repeat for several."),
            click.option("--line-kind", help="The kind of line it happened on (MSTP, fibre...)."),
            click.option("--spare", help="The spare that was used, if one was."),
        ]
    ):  # fmt: skip
        f = option(f)
    return f


def _given(**values: Any) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in values.items()
            if v is not None and v != ()}  # fmt: skip


@click.group()
def kb() -> None:
    """The experience base (经验库): what fixed a fault, found again for the next one."""


@kb.command("add")
@_fields
@actor_option
@json_option
@click.pass_obj
def add(settings: Settings, actor: str, as_json: bool, **values: Any) -> None:
    """Add an entry, as a draft (approve it to have it suggested)."""
    entry = settings.engine().kb_add(_given(**values), actor)
    emit_json(entry.to_dict()) if as_json else click.echo(_text(entry))


@kb.command("edit")
@click.argument("entry_id", metavar="ID")
@_fields
@actor_option
@json_option
@click.pass_obj
def edit(settings: Settings, entry_id: str, actor: str, as_json: bool, **values: Any) -> None:
    """Change fields of an entry (an approved one stays approved)."""
    entry = settings.engine().kb_edit(entry_id, _given(**values), actor)
    emit_json(entry.to_dict()) if as_json else click.echo(_text(entry))


def _step(name: str, method: str, doc: str) -> None:
    """``kb approve ID`` / ``kb retire ID``: one step of an entry's life."""

    @kb.command(name, help=doc)
    @click.argument("entry_id", metavar="ID")
    @actor_option
    @json_option
    @click.pass_obj
    def step(settings: Settings, entry_id: str, actor: str, as_json: bool) -> None:
        entry = getattr(settings.engine(), method)(entry_id, actor)
        emit_json(entry.to_dict()) if as_json else click.echo(_text(entry))


_step("approve", "kb_approve", "Approve a draft: from now on it is suggested for faults like it.")
_step("retire", "kb_retire", "Retire an entry that no longer holds: kept, never suggested again.")


@kb.command("show")
@click.argument("entry_id", metavar="ID")
@json_option
@click.pass_obj
def show(settings: Settings, entry_id: str, as_json: bool) -> None:
    """One entry."""
    entry = settings.engine().kb_entry(entry_id)
    emit_json(entry.to_dict()) if as_json else click.echo(_text(entry))


@kb.command("list")
@click.option("--state", type=click.Choice(["draft", "approved", "retired", "all"]),
              default="approved", show_default=True)  # fmt: skip
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@json_option
@click.pass_obj
def list_(settings: Settings, state: str, limit: int, as_json: bool) -> None:
    """Entries, newest first (the drafts waiting for an engineer: --state draft)."""
    found = settings.engine().kb_entries(None if state == "all" else [state], limit)
    if as_json:
        emit_json({"entries": [e.to_dict() for e in found]})
        return
    if not found:
        click.echo(f"no {state if state != 'all' else ''} entries".replace("  ", " "))
    for e in found:
        click.echo(f"{e.id:>6}  {e.state:<8}  {e.symptom.splitlines()[0][:70]}")


@kb.command("search")
@click.argument("words", nargs=-1, required=True)
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--all-states", is_flag=True, help="Drafts and retired entries too.")
@json_option
@click.pass_obj
def search(settings: Settings, words: tuple[str, ...], limit: int, all_states: bool,
           as_json: bool) -> None:  # fmt: skip
    """Entries for some words, best first: Chinese or English, a model name or its prefix
    (S5720), the trade's synonyms (光猫 finds ONU)."""
    found = settings.engine().kb_search(" ".join(words), limit, all_states)
    if as_json:
        emit_json({"results": [f.to_dict() for f in found]})
        return
    if not found:
        click.echo("nothing found")
    for f in found:
        e = f.entry
        mark = "" if e.state == "approved" else f" ({e.state})"
        click.echo(f"{e.id:>6}  {f.score:6.2f}  {e.symptom.splitlines()[0][:60]}{mark}")
        click.echo(f"{'':>16}fix: {e.fix.splitlines()[0][:60] if e.fix else '-'}")


@kb.command("use")
@click.argument("ticket_id", metavar="TICKET")
@click.argument("entry_id", metavar="ENTRY")
@click.option("--note", help="How it helped (the history says it).")
@actor_option
@json_option
@click.pass_obj
def use(settings: Settings, ticket_id: str, entry_id: str, note: str | None, actor: str,
        as_json: bool) -> None:  # fmt: skip
    """Record that an entry helped with a ticket (an event; the report counts it)."""
    show_ticket(settings, settings.engine().kb_use(ticket_id, entry_id, actor, note), as_json)
