"""The shape of the code: no import cycles, and command-line flags named only by the commands."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import REPO

# Where each package's files are (the training side is the export/ folder, see setup.cfg).
PACKAGES = {"streamer": REPO / "streamer", "streamer.training": REPO / "export"}
# Library code ends at these: they turn settings into flags and errors into lines.
COMMAND_LAYER = (REPO / "streamer" / "commands", REPO / "streamer" / "cli.py")
FLAG = re.compile(r"(^|[\s(])--?[a-z]")


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = [p for p in path.relative_to(folder).with_suffix("").parts if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The project's modules `path` imports anywhere (also inside functions: a lazy import is
    still an edge of the dependency graph)."""

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(filter(None, (resolve(alias.name) for alias in node.names)))
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.update(filter(None, (resolve(f"{node.module}.{a.name}") or resolve(node.module) for a in node.names)))
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_through_others():
    known = modules()
    graph = {name: imports(path, known) - {name} for name, path in known.items()}
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_library_errors_do_not_name_command_line_flags():
    leaks = []
    for path in modules().values():
        if any(path == layer or layer in path.parents for layer in COMMAND_LAYER):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and node.exc is not None:
                for part in ast.walk(node.exc):
                    if isinstance(part, ast.Constant) and isinstance(part.value, str) and FLAG.search(part.value):
                        leaks.append(f"{path.relative_to(REPO)}:{node.lineno}: {part.value!r}")
    assert leaks == []
