"""The package's import graph: no cycle, and no module imports from a layer above its own (the
core imports nothing of the project; the worker may use the sink's table description, never the
other way)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "fillstream"
LAYERS = {
    "core": 0,
    "settings": 1, "metrics": 1, "auth": 1, "logs": 1,
    "wire": 2,
    "broker": 3,
    "sink": 4, "client": 4,
    "worker": 5, "simulate": 5,
    "demo": 6, "cli": 6,
}  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_imports(path: Path, modules: set[str]) -> set[str]:
    """The project's modules a file imports, anywhere in it (lazy imports count)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found |= {name for name in names if name in modules}
    return found


def graph() -> dict[str, set[str]]:
    files = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    modules = set(files)
    return {name: project_imports(path, modules) - {name} for name, path in files.items()}


def layer(module: str) -> int:
    return LAYERS[module.split(".")[1]]


def test_every_module_has_a_layer() -> None:
    assert {module.split(".")[1] for module in graph() if module != "fillstream"} <= set(LAYERS)


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    upward = [
        (module, imported)
        for module, imports in graph().items()
        if module != "fillstream"
        for imported in imports
        if imported != "fillstream" and layer(imported) > layer(module)
    ]
    assert upward == []


def test_the_import_graph_has_no_cycle() -> None:
    edges = graph()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError("import cycle: " + " -> ".join([*path, module]))
        if module in done:
            return
        for imported in sorted(edges[module]):
            visit(imported, [*path, module])
        done.add(module)

    for module in sorted(edges):
        visit(module, [])
