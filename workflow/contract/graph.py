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
from .model import Contract, Guard

FORMATS = ("mermaid", "svg")


def describe(guard: Guard) -> str:
    """A guard in a few words, for an edge label: ``tier A or B or reason emergency/upgrade``."""
    parts: list[str] = []
    if guard.condition is not None:
        for name in ("tier", "kind", "channel", "cause"):
            allowed = getattr(guard.condition, name)
            if allowed is not None:
                parts.append(f"{name} {' or '.join(sorted(allowed))}")
    if guard.reason is not None:
        parts.append(f"reason {'/'.join(guard.reason)}")
    elif guard.reason_required:
        parts.append("a reason")
    if guard.clock_breached is not None:
        parts.append(f"{guard.clock_breached} breached")
    if guard.all is not None:
        parts.append(" and ".join(describe(g) for g in guard.all))
    if guard.any is not None:
        parts.append(" or ".join(describe(g) for g in guard.any))
    return " and ".join(parts)


def draw(contract: Contract, fmt: str = "mermaid") -> str:
    """The lifecycle of ``contract`` as Mermaid text or as an SVG document."""
    if fmt not in FORMATS:
        raise InvalidInput(f"graph format {fmt!r}: use {' or '.join(FORMATS)}")
    if fmt == "svg":
        _need_graphviz()
    from transitions.extensions.diagrams import GraphMachine

    class _Diagram:
        """The model whose graph is drawn; it never fires."""

    model: Any = _Diagram()
    machine = GraphMachine(
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
            [describe(t.guard)] if t.guard is not None else []
        )
        machine.add_transition(t.trigger, list(t.sources), t.dest, conditions=conditions)
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


def lifecycle_html(contract: Contract) -> str:
    """The lifecycle for an HTML page: the SVG drawing where Graphviz is installed, else a table
    of the same transitions (the page must not depend on what the host has installed)."""
    if svg_available():
        svg = draw(contract, "svg")
        return svg[svg.index("<svg") :]
    rows = "".join(
        f"<tr><td>{html.escape(t.trigger)}</td><td>{html.escape(', '.join(t.sources))}</td>"
        f"<td>{html.escape(t.dest)}</td>"
        f"<td>{html.escape(describe(t.guard)) if t.guard else ''}</td></tr>"
        for t in contract.transitions
    )
    return f"<table><tr><th>trigger</th><th>from</th><th>to</th><th>guard</th></tr>{rows}</table>"
