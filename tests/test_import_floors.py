"""The packages import downwards only: core < backends < tasks < applications (issue 30, item 1).

Every ``import`` and ``from ... import`` of the library's own modules is read with ``ast`` (at module level and
inside functions, ``TYPE_CHECKING`` blocks included) and each edge between two floors is checked:

- **core**: the effect machinery and the codec (:data:`CORE`), plus the empty ``teacher`` and ``converters``
  package files that every core import runs, and the leaf utilities everything above shares (:data:`LEAVES`:
  each imports nothing of the library but core);
- **backends**: ``interpreters/``;
- **tasks**: ``tasks/``;
- **applications**: everything else (the rest of ``teacher/`` and ``converters/``, ``finetune/``, ``examples/``,
  ``benchmarks/``), and every **command** wherever its package puts it (:func:`is_command`: a module run with
  ``python -m``, which has a ``__main__`` block, or one that parses a command line, as the ``main`` that the
  subagent domains' ``generate_examples`` commands share does). A command wires backends, tasks and the
  application stages together (the dataset rebuild), so it stands on the top floor; the library it runs stays on
  its own floor, and nothing below the top may import a command.

A module may import its own floor and the floors below it. The upward imports that exist today are listed in
:data:`KNOWN_UPWARD` (importing module -> imported module), so the test passes on the current code and fails on
any new one, naming the file and line. The list only shrinks: an entry that no longer occurs fails the test too,
so burning one down means deleting its line here.

Nor may the modules import each other in a loop, at any depth (function-level imports included): a file-level
import cycle is reported with the file and line of each of its edges. :data:`KNOWN_CYCLES` lists the ones that
exist today, and only shrinks too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tests.conftest import REPO

PACKAGES = ("teacher", "converters", "interpreters", "tasks", "finetune", "examples", "benchmarks")
FLOORS = ("core", "backends", "tasks", "applications")

#: the core floor's modules
CORE = frozenset({
    "teacher",
    "teacher.operations",
    "teacher.handlers",
    "teacher.task",
    "teacher.model",
    "teacher.tools",
    "teacher.errors",
    "converters",
    "converters.functiongemma",
    "converters.functiongemma_grammar",
    "converters.dataset_stats",
})

#: leaf utilities that every floor shares: each imports nothing of the library above core, so they stand on it
LEAVES = frozenset({
    "teacher.json_schema",  # the tools' JSON schemas
    "teacher.redact",  # credentials scrubbed from every line written
    "teacher.provenance",  # package versions and the codec profile an artifact records
    "teacher.cli_args",  # argument types, the help formatter, logging flags
    "teacher.candidates",  # LSP facts of a candidate symbol
    "teacher.code_excerpt",  # code around a definition or a use
    "teacher.evaluation",  # the one definition of an exact answer, and asking a backend for one
    "converters.schema",  # the training example model
    "converters.examples",  # a dataset file's examples, as the model reads them
    "converters.writer",  # the dataset writer and the split groups
    "tasks.text",  # word stems
})
CORE = CORE | LEAVES

#: the upward imports the code has today (importer -> imported): delete a line when its import is gone
KNOWN_UPWARD: frozenset[tuple[str, str]] = frozenset()


#: the known imports of finetune/ by interpreters/ (a backend needs no training code): burn these down too
FINETUNE_FROM_INTERPRETERS: frozenset[tuple[str, str]] = frozenset()

#: the file-level import cycles the code has today, each as its modules: delete one when it is broken
KNOWN_CYCLES: frozenset[frozenset[str]] = frozenset()


@dataclass(frozen=True)
class Edge:
    """One import of a library module by another, where it is written."""

    importer: str
    imported: str
    path: Path
    line: int

    def __str__(self) -> str:
        low, high = floor(self.importer), floor(self.imported)
        return (f"{self.path.relative_to(REPO)}:{self.line}: {self.importer} ({low}) imports {self.imported} "
                f"({high}), a floor above it")


def module_name(path: Path) -> str:
    """``teacher/model.py`` -> ``teacher.model``; ``tasks/__init__.py`` -> ``tasks``."""
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def library_modules() -> dict[str, Path]:
    """Every module of the library's packages, by dotted name."""
    return {module_name(path): path for package in PACKAGES for path in sorted((REPO / package).rglob("*.py"))
            if "sample_repo" not in path.parts and "fixtures" not in path.parts}


def is_command(path: Path) -> bool:
    """Whether a module is a command: it has an ``if __name__ == "__main__":`` block, or it builds a command-line
    parser (``argparse.ArgumentParser(...)`` or ``teacher.cli_args.CommandParser(...)``)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare) and isinstance(node.test.left, ast.Name) \
                and node.test.left.id == "__name__":
            return True
        if isinstance(node, ast.Call):
            called = node.func
            name = called.id if isinstance(called, ast.Name) else getattr(called, "attr", "")
            if name in ("ArgumentParser", "CommandParser"):
                return True
    return False


@cache
def commands() -> frozenset[str]:
    """The library's commands, by dotted name."""
    return frozenset(module for module, path in library_modules().items() if is_command(path))


def floor(module: str) -> str:
    """The floor a library module stands on."""
    if module in CORE:
        return "core"
    if module in commands():
        return "applications"
    top = module.split(".")[0]
    return {"interpreters": "backends", "tasks": "tasks"}.get(top, "applications")


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The library module ``name`` is, or the one it lies in (``teacher.model.ModelRequest`` -> ``teacher.model``)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def imports(module: str, path: Path, known: dict[str, Path]) -> Iterator[Edge]:
    """The library modules ``module`` imports, each with its line (any depth of the syntax tree)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            names = [f"{base}.{alias.name}" for alias in node.names]  # a submodule, else the module itself
        for name in names:
            target = _resolve(name, known)
            if target is not None and target != module:
                yield Edge(module, target, path, node.lineno)


def all_edges() -> list[Edge]:
    known = library_modules()
    return [edge for module, path in known.items() for edge in imports(module, path, known)]


def upward(edges: list[Edge]) -> list[Edge]:
    return [e for e in edges if FLOORS.index(floor(e.importer)) < FLOORS.index(floor(e.imported))]


def test_the_core_modules_exist() -> None:
    known = library_modules()
    assert sorted(CORE - set(known)) == [], "a core module was renamed: update CORE"


def test_no_new_import_goes_up_a_floor() -> None:
    new = [str(e) for e in upward(all_edges()) if (e.importer, e.imported) not in KNOWN_UPWARD]
    assert new == [], "\n".join(["imports go down the floors (core < backends < tasks < applications):", *new])


def test_the_known_upward_imports_only_shrink() -> None:
    found = {(e.importer, e.imported) for e in upward(all_edges())}
    gone = sorted(KNOWN_UPWARD - found)
    assert gone == [], f"these upward imports are gone: delete them from KNOWN_UPWARD: {gone}"


def test_interpreters_import_nothing_from_finetune_but_the_known() -> None:
    """By package: a command of interpreters/ (``python -m interpreters.calibration``) needs no training code either."""
    edges = [e for e in all_edges()
             if e.importer.split(".")[0] == "interpreters" and e.imported.split(".")[0] == "finetune"]
    new = [str(e) for e in edges if (e.importer, e.imported) not in FINETUNE_FROM_INTERPRETERS]
    assert new == [], "\n".join(["interpreters/ import finetune/ beyond the known:", *new])
    assert FINETUNE_FROM_INTERPRETERS <= KNOWN_UPWARD


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    """The parser finds function-level and relative imports: a planted upward import is reported with its line."""
    source = "import json\n\ndef f():\n    from teacher.record import main\n    from . import handlers\n"
    known = library_modules()
    planted = tmp_path / "operations.py"
    planted.write_text(source, encoding="utf-8")
    edges = list(imports("teacher.operations", planted, known))
    assert [(e.imported, e.line) for e in edges] == [("teacher.record", 4), ("teacher.handlers", 5)]
    assert [e.imported for e in upward(edges)] == ["teacher.record"]


def test_a_command_stands_on_the_top_floor(tmp_path: Path) -> None:
    """A module run with ``python -m`` or that parses a command line is a command; the library is not."""
    assert {"tasks.cli_intent.generate", "tasks.subagents.generate", "tasks.subagents.lint.generate_examples",
            "interpreters.calibration", "teacher.record"} <= commands()
    assert {"tasks.cli_intent.generation", "tasks.subagents.generation", "interpreters.backends"}.isdisjoint(commands())
    assert sorted(commands() & CORE) == [], "a core module is a command"
    assert floor("tasks.cli_intent.generate") == "applications" and floor("tasks.cli_intent.generation") == "tasks"
    run = tmp_path / "run.py"
    run.write_text("def main():\n    pass\n\nif __name__ == '__main__':\n    main()\n", encoding="utf-8")
    parses = tmp_path / "parses.py"
    parses.write_text("import argparse\n\ndef main(argv):\n    argparse.ArgumentParser().parse_args(argv)\n",
                      encoding="utf-8")
    library = tmp_path / "library.py"
    library.write_text("def main(argv):\n    return argv\n", encoding="utf-8")
    assert [is_command(path) for path in (run, parses, library)] == [True, True, False]


def cycles(edges: Iterable[Edge]) -> list[list[Edge]]:
    """The file-level import cycles (strongly connected components of more than one module), each as the edges
    between its modules, sorted."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.importer, set()).add(edge.imported)
        graph.setdefault(edge.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for start in sorted(graph):  # Tarjan's algorithm, iteratively (no recursion limit)
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component: set[str] = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(component)
    edges = list(edges)
    return sorted(([e for e in edges if e.importer in c and e.imported in c] for c in components),
                  key=lambda found: sorted({e.importer for e in found}))


def describe(cycle: list[Edge]) -> str:
    modules = sorted({e.importer for e in cycle})
    lines = [f"{e.path.relative_to(REPO) if e.path.is_relative_to(REPO) else e.path}:{e.line}: {e.importer} imports "
             f"{e.imported}" for e in sorted(cycle, key=lambda e: (e.importer, e.imported, e.line))]
    return "\n".join([f"cycle of {len(modules)} modules: {', '.join(modules)}", *(f"  {line}" for line in lines)])


def test_no_new_import_cycle() -> None:
    found = [c for c in cycles(all_edges()) if frozenset(e.importer for e in c) not in KNOWN_CYCLES]
    assert found == [], "\n".join(["the modules import each other in a loop:", *map(describe, found)])


def test_the_known_cycles_only_shrink() -> None:
    found = {frozenset(e.importer for e in c) for c in cycles(all_edges())}
    gone = sorted(sorted(c) for c in KNOWN_CYCLES - found)
    assert gone == [], f"these import cycles are gone or changed: delete them from KNOWN_CYCLES: {gone}"


def test_the_check_sees_an_import_cycle(tmp_path: Path) -> None:
    """A planted loop through a function-level import (a -> b at module level, b -> c, c -> a inside a function)
    is found, with the file and line of each edge; a module importing itself or a chain is not a cycle."""
    known = library_modules()
    planted = {
        "teacher.operations": "from teacher import handlers\n",
        "teacher.handlers": "import json\nfrom teacher.errors import FineTrainingError\n",
        "teacher.errors": "def f():\n    from teacher.operations import Ask\n",
        "teacher.tools": "import teacher.tools\nfrom teacher import errors\n",
    }
    edges = []
    for module, source in planted.items():
        path = tmp_path / f"{module}.py"
        path.write_text(source, encoding="utf-8")
        edges += list(imports(module, path, known))
    found = cycles(edges)
    assert len(found) == 1
    assert sorted((e.importer, e.imported, e.path.name, e.line) for e in found[0]) == [
        ("teacher.errors", "teacher.operations", "teacher.errors.py", 2),
        ("teacher.handlers", "teacher.errors", "teacher.handlers.py", 2),
        ("teacher.operations", "teacher.handlers", "teacher.operations.py", 1),
    ]
    assert "teacher.errors.py:2: teacher.errors imports teacher.operations" in describe(found[0])
