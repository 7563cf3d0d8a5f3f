"""The packages import downwards only: core < backends < tasks < applications (issue 30, item 1).

Every ``import`` and ``from ... import`` of the library's own modules is read with ``ast`` (at module level and
inside functions, ``TYPE_CHECKING`` blocks included) and each edge between two floors is checked:

- **core**: the effect machinery and the codec (:data:`CORE`), plus the empty ``teacher`` and ``converters``
  package files that every core import runs, and the leaf utilities everything above shares (:data:`LEAVES`:
  each imports nothing of the library but core);
- **backends**: ``interpreters/``;
- **tasks**: ``tasks/``;
- **applications**: everything else (the rest of ``teacher/`` and ``converters/``, ``finetune/``, ``examples/``,
  ``benchmarks/``).

A module may import its own floor and the floors below it. The upward imports that exist today are listed in
:data:`KNOWN_UPWARD` (importing module -> imported module), so the test passes on the current code and fails on
any new one, naming the file and line. The list only shrinks: an entry that no longer occurs fails the test too,
so burning one down means deleting its line here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
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
    "teacher.provenance",  # package versions
    "teacher.cli_args",  # argument types, the help formatter, logging flags
    "teacher.candidates",  # LSP facts of a candidate symbol
    "teacher.code_excerpt",  # code around a definition or a use
    "teacher.evaluation",  # the one definition of an exact answer, and asking a backend for one
    "converters.schema",  # the training example model
    "tasks.text",  # word stems
})
CORE = CORE | LEAVES

#: the upward imports the code has today (importer -> imported): delete a line when its import is gone
KNOWN_UPWARD: frozenset[tuple[str, str]] = frozenset({
    # core -> anything: none
    # backends -> tasks: none
    # backends -> applications: a backend that needs training code (the HF model loader, calibration's data)
    ("interpreters.calibration", "finetune.data"),
    ("interpreters.hf", "finetune.models"),
    ("interpreters.hf", "finetune.provenance"),
    # tasks -> applications: the generator CLIs that live in their task's package call the dataset rebuild
    ("tasks.cli_intent.generate", "converters.rebuild"),
    ("tasks.cli_intent.generation", "converters.rebuild"),
    ("tasks.subagents.generate", "converters.rebuild"),
})


#: the known imports of finetune/ by interpreters/ (a backend needs no training code): burn these down too
FINETUNE_FROM_INTERPRETERS = frozenset({
    ("interpreters.calibration", "finetune.data"),
    ("interpreters.hf", "finetune.models"),
    ("interpreters.hf", "finetune.provenance"),
})


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


def floor(module: str) -> str:
    """The floor a library module stands on."""
    if module in CORE:
        return "core"
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
    edges = [e for e in all_edges() if floor(e.importer) == "backends" and e.imported.split(".")[0] == "finetune"]
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
