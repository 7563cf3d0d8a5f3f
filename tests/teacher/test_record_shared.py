"""teacher.record and its session kinds import one way: record -> record_inputs / record_subagents -> record_shared
(issue 30, item 1: record imported the two inside functions, and they imported record at the top)."""

from __future__ import annotations

import ast
from pathlib import Path

import teacher.record as record_cli
import teacher.record_shared as shared
from tests.conftest import REPO


def _teacher_imports(path: Path) -> set[str]:
    """The ``teacher.*`` modules a file imports, at any depth of its syntax tree (inside functions too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return {name for name in found if name.startswith("teacher.")}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (its modules in order), or None."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for imported in sorted(graph.get(module, ())):
            if state.get(imported) == 1:
                return [*path[path.index(imported):], imported]
            if imported not in state and (found := visit(imported)) is not None:
                return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)) is not None:
            return found
    return None


def test_the_teacher_package_has_no_import_cycle() -> None:
    graph = {f"teacher.{path.stem}": _teacher_imports(path) for path in sorted((REPO / "teacher").glob("*.py"))}
    assert graph["teacher.record"] >= {"teacher.record_inputs", "teacher.record_subagents", "teacher.record_shared"}
    for session_kind in ("teacher.record_inputs", "teacher.record_subagents", "teacher.record_shared"):
        assert "teacher.record" not in graph[session_kind], session_kind
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_check_sees_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_teacher_record_still_offers_the_shared_names() -> None:
    for name in shared.__all__:
        assert getattr(record_cli, name) is getattr(shared, name), name
