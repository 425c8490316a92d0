"""The house's shape: areas as folders, dependency arrows one way, one door for ticket changes.

Every import counts — at the top, inside functions, and under ``TYPE_CHECKING`` (a cycle hidden
there is still a cycle a reader has to hold in mind).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "workflow"

# The rings of shared/DESIGN.md, innermost last. A module may import its own ring or an inner
# one, never an outer one.
RINGS: list[set[str]] = [
    {"http", "testing", "bulk"},  # surfaces (and helpers that drive the façade)
    {"engine", "__init__"},  # the façade
    {"run", "reports", "access", "network", "kb", "inspections", "spares", "maintenance",
     "followup"},
    {"tickets"},  # the one unit of work and what goes through it
    {"duty", "registry", "hookspecs", "audit"},  # people, plugins, the audit chain
    {"contract", "db", "timekeeping", "intake", "errors", "ids", "secrets", "words"},  # ground
]


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "__init__"


def _imports(path: Path) -> set[str]:
    """The package's modules ``path`` imports anywhere, ``TYPE_CHECKING`` blocks included."""
    me = _name(path)
    here = me.split(".") if path.name == "__init__.py" else me.split(".")[:-1]
    if me == "__init__":
        here = []
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = here[: len(here) - (node.level - 1)] if node.level > 1 else here
            target = [*base, *(node.module.split(".") if node.module else [])]
        elif node.module and node.module.startswith("faultflow."):
            target = node.module.split(".")[1:]
        else:
            continue
        if target and target[0] in ("cli", "plugins"):
            continue
        base = ".".join(target)
        for alias in node.names:  # `from .audit import chain` imports the module audit.chain
            sub = f"{base}.{alias.name}" if base else alias.name
            found.add(sub if sub in MODULES else base)
    modules = set(MODULES)
    return {m if m in modules else m.rsplit(".", 1)[0] for m in found} & modules - {me}


MODULES = {_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}


def _area(module: str) -> str:
    return module.split(".")[0]


def _ring(area: str) -> int:
    return next(i for i, ring in enumerate(RINGS) if area in ring)


def test_every_area_has_a_ring() -> None:
    areas = {_area(m) for m in MODULES}
    placed = set().union(*RINGS)
    assert areas <= placed, f"areas without a ring in this test: {sorted(areas - placed)}"


def test_no_import_loops_counting_type_checking() -> None:
    graph = {m: _imports(p) for m, p in MODULES.items()}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            loop = " → ".join((*path[path.index(module) :], module))
            raise AssertionError(f"import loop: {loop}")
        if module in done:
            return
        for imported in sorted(graph.get(module, ())):
            visit(imported, (*path, module))
        done.add(module)

    for module in sorted(graph):
        if module != "__init__":  # the package re-exports the API by name, lazily
            visit(module, ())


def test_arrows_point_inward_only() -> None:
    wrong = []
    for module, path in MODULES.items():
        if module == "__init__":
            continue
        mine = _ring(_area(module))
        for imported in _imports(path):
            theirs = _ring(_area(imported))
            if theirs < mine:
                wrong.append(f"{module} (ring {mine}) imports {imported} (ring {theirs})")
    assert not wrong, "\n".join(wrong)


def test_the_read_side_does_not_import_the_write_side() -> None:
    writers = {"tickets.draft", "tickets.writes", "tickets.unit", "engine"}
    for reader in ("tickets.views", "tickets.queries", "timekeeping.clocks", "db.records"):
        assert not _imports(MODULES[reader]) & writers, reader


def test_only_the_unit_of_work_writes_a_ticket() -> None:
    """A change of a ticket is written by tickets/unit.py alone (the store's ``write`` and
    ``write_many`` on a transaction); every other writer gives it a command."""
    writing = set()
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("write", "write_many")
                and node.args
                and "change" in ast.unparse(node.args[0])
            ):
                writing.add(module)
    assert writing == {"tickets.unit"}


def test_only_the_database_area_touches_the_tables() -> None:
    """Every table's statements live in db/ (the tickets, events and clocks with the store's
    hot path, each other table in a module of its own): no other module imports the tables."""
    outside = sorted(
        m for m, p in MODULES.items()
        if not m.startswith("db.") and "db.tables" in _imports(p)
    )  # fmt: skip
    assert outside == []
