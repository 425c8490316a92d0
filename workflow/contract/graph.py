"""Draw a contract's lifecycle with ``transitions``' diagrams support.

The diagram is built from the same contract the engine runs, transition by transition, each
guard written on its edge in words. Mermaid text needs nothing installed; SVG needs Graphviz
(Debian's ``graphviz`` package for ``dot``, and the ``graphviz`` Python package:
``pip install 'faultflow[graph]'``).
"""

from __future__ import annotations

import html
import shutil
from collections.abc import Callable
from typing import Any

from ..errors import InvalidInput
from ..words import Words
from .model import Contract, Guard

FORMATS = ("mermaid", "svg")


def describe(guard: Guard, w: Words | None = None, contract: Contract | None = None) -> str:
    """A guard in a few words, for an edge label: ``tier A or B or reason emergency/upgrade``;
    with ``w`` (and the ``contract`` for its promises' names), in that language."""
    parts: list[str] = []
    either = w["why.or_values"] if w is not None else " or "
    both = w["lifecycle.and"] if w is not None else " and "
    if guard.condition is not None:
        for name in ("tier", "kind", "channel", "cause"):
            allowed = getattr(guard.condition, name)
            if allowed is not None:
                if w is None:
                    parts.append(f"{name} {' or '.join(sorted(allowed))}")
                else:
                    values = either.join(w.value(name, v) for v in sorted(allowed))
                    parts.append(f"{w['field.' + name]} {values}")
    if guard.reason is not None:
        if w is None:
            parts.append(f"reason {'/'.join(guard.reason)}")
        else:
            named = "/".join(w.reason(r) for r in guard.reason)
            parts.append(w.format("lifecycle.reason", reasons=named))
    elif guard.reason_required:
        parts.append(w["lifecycle.a_reason"] if w is not None else "a reason")
    if guard.clock_breached is not None:
        if w is None:
            parts.append(f"{guard.clock_breached} breached")
        else:
            clock = w.clock(contract, guard.clock_breached) if contract else guard.clock_breached
            parts.append(w.format("lifecycle.breached", clock=clock))
    if guard.all is not None:
        parts.append(both.join(describe(g, w, contract) for g in guard.all))
    if guard.any is not None:
        parts.append(either.join(describe(g, w, contract) for g in guard.any))
    return both.join(parts)


def draw(
    contract: Contract, fmt: str = "mermaid", down: bool = False, words: Words | None = None
) -> str:
    """The lifecycle of ``contract`` as Mermaid text or as an SVG document; left to right, or
    with ``down`` top to bottom (to fit the width of a page); with ``words``, its states,
    triggers and guards in that language (else by their names in the contract)."""
    if fmt not in FORMATS:
        raise InvalidInput(f"graph format {fmt!r}: use {' or '.join(FORMATS)}")
    if fmt == "svg":
        _need_graphviz()
    from transitions.extensions.diagrams import GraphMachine

    class _Diagram:
        """The model whose graph is drawn; it never fires."""

    class _Machine(GraphMachine):
        machine_attributes = {  # noqa: RUF012 (read by transitions as a class attribute)
            **GraphMachine.machine_attributes, "rankdir": "TB" if down else "LR"
        }  # fmt: skip

    model: Any = _Diagram()
    machine = _Machine(
        model=model,
        states=list(contract.states),
        initial=contract.initial,
        auto_transitions=False,
        show_conditions=True,
        graph_engine="graphviz" if fmt == "svg" else "mermaid",
        title=contract.name,
    )
    for t in contract.transitions:
        # A string condition is only a label here: the diagram's model is never fired.
        conditions: list[str | Callable[..., bool | None]] = (
            [describe(t.guard, words, contract)] if t.guard is not None else []
        )
        machine.add_transition(t.trigger, list(t.sources), t.dest, conditions=conditions)
    if words is not None:  # the diagram reads a state's or transition's ``label`` when set
        for name in contract.states:
            machine.get_state(name).label = words.state(contract, name)  # type: ignore[attr-defined]
        for event in machine.events.values():
            for found in event.transitions.values():
                for transition in found:
                    transition.label = words.action(contract, event.name)  # type: ignore[attr-defined]
        machine._needs_update = True
    graph = model.get_graph()
    if fmt == "svg":
        return bytes(graph.draw(None, format="svg", prog="dot")).decode("utf-8")
    return str(graph.draw(None))


def svg_available() -> bool:
    """Whether :func:`draw` can make SVG here."""
    try:
        _need_graphviz()
    except InvalidInput:
        return False
    return True


def _need_graphviz() -> None:
    if shutil.which("dot") is None:
        raise InvalidInput(
            "svg needs Graphviz's `dot` (Debian: apt-get install graphviz); "
            "--format mermaid needs nothing"
        )
    try:
        import graphviz  # noqa: F401
    except ImportError:
        raise InvalidInput(
            "svg needs the graphviz Python package: pip install 'faultflow[graph]'"
        ) from None


_drawn: dict[tuple[str, str], str] = {}  # (contract version, language) to the drawing


def lifecycle_html(contract: Contract, words: Words | None = None) -> str:
    """The lifecycle for an HTML page: the SVG drawing where Graphviz is installed, else a table
    of the same transitions (the page must not depend on what the host has installed)."""
    w = words or Words(contract.language)
    if svg_available():
        key = (contract.version, w.lang)
        if key not in _drawn:  # Graphviz takes ~0.1 s: once per version and process
            svg = draw(contract, "svg", down=True, words=w)
            _drawn[key] = svg[svg.index("<svg") :]
        return _drawn[key]
    rows = "".join(
        f"<tr><td>{html.escape(w.action(contract, t.trigger))}</td>"
        f"<td>{html.escape(w['list.sep'].join(w.state(contract, s) for s in t.sources))}</td>"
        f"<td>{html.escape(w.state(contract, t.dest))}</td>"
        f"<td>{html.escape(describe(t.guard, w, contract)) if t.guard else ''}</td></tr>"
        for t in contract.transitions
    )
    said = (w["lifecycle." + k] for k in ("trigger", "from", "to", "guard"))
    head = "".join(f"<th>{html.escape(x)}</th>" for x in said)
    return f"<table><tr>{head}</tr>{rows}</table>"
