"""The recognition package's modules import each other without a circle (lazy imports count)."""

from __future__ import annotations

import ast
from pathlib import Path

import facesync.emulator.recognition as package

PACKAGE = package.__name__
FOLDER = Path(package.__file__).parent


def imports_within_package() -> dict[str, set[str]]:
    """module -> the package's modules it imports, at any depth of its code."""
    modules = {f"{PACKAGE}.{p.stem}": p for p in FOLDER.glob("*.py") if p.stem != "__init__"}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            targets |= {n for n in names if n in modules}
        graph[name] = targets - {name}
    return graph


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for target in sorted(graph[node]):
            if (circle := visit(target, [*path, node])) is not None:
                return circle
        done.add(node)
        return None

    for start in sorted(graph):
        if (circle := visit(start, [])) is not None:
            return circle
    return None


def test_no_import_circle_in_the_recognition_package():
    graph = imports_within_package()
    assert find_circle(graph) is None, " -> ".join(find_circle(graph) or [])


def test_the_circle_finder_finds_one():
    assert find_circle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
