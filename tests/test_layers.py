"""The package's import graph has no cycle — function-level imports included, and an import of
``reidlib.a.b`` counted as an import of the package ``reidlib.a`` too (its ``__init__`` runs first),
except from inside that package."""

import ast
from pathlib import Path

import reidlib

PKG = Path(reidlib.__file__).parent


def module_name(path: Path) -> str:
    parts = ["reidlib", *path.relative_to(PKG).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def imports(name: str) -> set[str]:
    """reidlib modules ``name`` imports anywhere in its source."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            out |= {f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names}
    targets = set()
    for m in out:
        if not m.startswith("reidlib."):
            continue
        parts = m.split(".")
        for i in range(2, len(parts) + 1):  # the packages whose __init__ runs on the way, then the module
            target = ".".join(parts[:i])
            if target in MODULES and not (name == target or name.startswith(target + ".")):
                targets.add(target)
    return targets


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    state, stack = {}, []

    def visit(n):
        state[n] = "open"
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == "open":
                return stack[stack.index(m):] + [m]
            if m not in state and (c := visit(m)):
                return c
        state[n] = "done"
        stack.pop()
        return []

    for n in sorted(graph):
        if n not in state and (c := visit(n)):
            return c
    return []


def test_no_import_cycles():
    graph = {n: imports(n) for n in MODULES}
    assert find_cycle(graph) == []


def test_the_cycle_finder_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_layers():
    """Low floors do not reach up: models and losses know nothing of the engine, reports nothing of
    the orchestration (reproduce), paths or figures."""
    graph = {n: imports(n) for n in MODULES}
    for low in [n for n in MODULES if n.startswith(("reidlib.models", "reidlib.losses", "reidlib.metrics"))]:
        assert not {t for t in graph[low] if t.startswith(("reidlib.engine", "reidlib.reproduce", "reidlib.viz"))}, low
    assert not {t for t in graph["reidlib.reports"] if t.startswith(
        ("reidlib.reproduce", "reidlib.paths", "reidlib.viz", "reidlib.engine"))}
