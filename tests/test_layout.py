"""The package's layout, read from its imports: data flows one way down, no cycles.

Layers, lowest first; a module imports only from its own layer or below. Within a layer the
imports form no cycle. ``types`` imports nothing of the project.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "pipeline"

# Lowest first. A name is a module (``pipeline.store``) or a package (``pipeline.text``: all of it).
LAYERS: list[set[str]] = [
    {"pipeline.types"},
    {"pipeline.settings", "pipeline.native"},
    {"pipeline.text"},
    {"pipeline.embedding", "pipeline.manifest"},
    {"pipeline.store"},
    {"pipeline.indexing"},
    {"pipeline.query"},
    {"pipeline.facade", "pipeline.evaluation"},
    {"pipeline.langchain"},
    {"pipeline.apps"},
    {"pipeline"},  # the package's __init__ and __main__: the public names
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """A module's file → the project modules it imports (relative imports resolved; ``from . import x`` → ``pkg.x``)."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("pipeline"):
                continue
            known = [f"{target}.{a.name}" for a in node.names if (PACKAGE.parent / f"{target}.{a.name}".replace(".", "/")).with_suffix(".py").exists()
                     or (PACKAGE.parent / f"{target}.{a.name}".replace(".", "/")).is_dir()]
            out.update(known or [target])
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("pipeline"))
    out.discard(name)
    return out


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in PACKAGE.rglob("*.py") if "_build" not in p.parts}


def layer_of(module: str) -> int:
    best, level = -1, -1
    for i, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best:
                best, level = len(name), i
    assert level >= 0, f"{module} is in no layer of tests/test_layout.py: add it where it belongs"
    return level


def test_every_module_imports_only_from_its_layer_or_below() -> None:
    upward = [f"{m} (layer {layer_of(m)}) imports {d} (layer {layer_of(d)})"
              for m, deps in graph().items() for d in deps if layer_of(d) > layer_of(m)]
    assert upward == []


def test_no_import_cycles() -> None:
    g = graph()
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        for dep in sorted(g.get(node, ())):
            if dep in path:
                cycles.append(path[path.index(dep):] + [dep])
            elif dep in g and len(path) < len(g):
                visit(dep, path + [dep])

    for start in sorted(g):
        visit(start, [start])
    # A package's __init__ importing its own modules is not a cycle of modules.
    real = [c for c in cycles if not any(a == b.rsplit(".", 1)[0] or b == a.rsplit(".", 1)[0] for a, b in zip(c, c[1:]))]
    assert real == []


def test_types_import_nothing_of_the_project() -> None:
    assert imports_of(PACKAGE / "types.py") == set()


def test_the_layers_can_fail() -> None:
    # The checker sees an upward import when there is one (it would be silent if it read nothing).
    assert "pipeline.store" in imports_of(PACKAGE / "indexing" / "build.py")
    assert layer_of("pipeline.store") > layer_of("pipeline.text.chunking")


# A module longer than this says why, in a comment starting "# Size:"; no function is longer than
# FUNCTION_LINES (docstring and comments included): a newcomer reads a function on one screen.
MODULE_LINES = 400
FUNCTION_LINES = 80


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "_build" not in p.parts)


def test_a_long_module_says_why() -> None:
    unexplained = [f"{p.relative_to(ROOT)}: {n} lines" for p in modules()
                   if (n := len(p.read_text("utf-8").splitlines())) > MODULE_LINES
                   and not any(line.startswith("# Size:") for line in p.read_text("utf-8").splitlines())]
    assert unexplained == []


def test_no_function_is_longer_than_a_screen() -> None:
    long = [f"{p.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for p in modules() for node in ast.walk(ast.parse(p.read_text("utf-8")))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and (node.end_lineno or node.lineno) - node.lineno + 1 > FUNCTION_LINES]
    assert long == []


def test_the_size_checks_can_fail(tmp_path: Path) -> None:
    # The checkers see a long function and a long module (they would be silent if they read nothing).
    assert any((n.end_lineno or 0) - n.lineno + 1 > 40 for p in modules() for n in ast.walk(ast.parse(p.read_text("utf-8")))
               if isinstance(n, ast.FunctionDef))
    assert max(len(p.read_text("utf-8").splitlines()) for p in modules()) > MODULE_LINES
