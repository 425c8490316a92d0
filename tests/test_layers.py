"""The package's modules import one way: no module imports, even lazily, one that imports it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "workflow"


def _imports(path: Path) -> set[str]:
    """The sibling modules ``path`` imports anywhere (inside functions too), except for type
    checking only."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only |= {id(n) for child in node.body for n in ast.walk(child)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only or not isinstance(node, ast.ImportFrom):
            continue
        if node.level == 1 and node.module:
            found.add(node.module.split(".")[0])
        elif node.level == 1:
            found |= {alias.name for alias in node.names}
        elif node.module and node.module.startswith("faultflow."):
            found.add(node.module.split(".")[1])
    return found - {"cli", "plugins"}


def test_no_import_loops() -> None:
    graph = {p.stem: _imports(p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
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
        visit(module, ())


def test_the_read_side_does_not_import_the_write_side() -> None:
    for reader in ("views", "queries", "clocks", "records"):
        assert not _imports(PACKAGE / f"{reader}.py") & {"draft", "writes", "engine"}, reader
