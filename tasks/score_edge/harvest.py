"""Code harvested from installed Python: the real hovers that synthetic score_edge edges are drawn from.

:func:`harvest` reads the ``.py`` files under its roots (by default the standard library, which every machine
has; installed packages by name too), tests left out, and keeps each def and class as the exploration shows an end
of an edge (:mod:`teacher.code_excerpt`): the head of the definition and, for a function that branches on types
(a ``match``, an isinstance chain), the lines around that branch as a reference site shows them. The code is sorted
into what the heuristic sees in it (exhaustive, typing machinery, neither), so that a draw can keep the flags in
balance although real code rarely branches on types. Files are read in a fixed shuffled order (named packages
first) and reading stops when every kind has its quota or at ``MOST_FILES``, so the harvest is the same on every
run of one Python installation.
"""

from __future__ import annotations

import ast
import bisect
import importlib.util
import logging
import os
import random
import re
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from tasks.score_edge.heuristic import is_exhaustive, is_type_family
from teacher.code_excerpt import definition_head, statements, use_site

__all__ = ["Harvest", "HarvestedCode", "harvest", "package_root", "stdlib_root"]

log = logging.getLogger(__name__)

#: how many of each kind a harvest keeps before it stops reading files
QUOTAS = {"exhaustive": 200, "type_family": 100, "plain": 1200, "classes": 500}
#: the most files a harvest parses (in its fixed order), whether or not every quota is met
MOST_FILES = 200
SKIPPED_FOLDERS = frozenset({"test", "tests", "testing", "idlelib", "site-packages", "dist-packages", "__pycache__",
                             "turtledemo", "lib2to3", "ensurepip", "tkinter"})
_MOST_BYTES = 400_000  # a generated table, not code to learn from
# cheap tests on a file's text: worth parsing only for a kind still short of its quota
_MAY_BRANCH = re.compile(r"^\s*match\s|isinstance\(|issubclass\(|type\(\w+\)\s+is\b|assert_never", re.MULTILINE)
_TYPING = ("TypeVar", "ParamSpec", "Generic[", "@overload", "TypeAlias", "(Protocol)", "Protocol[")  # in few files
_MAY_TYPE = re.compile(r"TypeVar|ParamSpec|Protocol|Generic\[|@overload|TypeAlias|^\s*type\s+\w+\s*=", re.MULTILINE)


@dataclass(frozen=True)
class HarvestedCode:
    """One end of an edge in real code: where it is (path relative to its root, 1-based line), its name and the
    bounded code shown for it."""

    path: str
    line: int
    name: str
    code: str
    use_site: bool = False  # the lines around a type branch inside the function, not the head of its definition


@dataclass
class Harvest:
    """Harvested code by what the heuristic sees in it, and the class heads (the usual source of an edge)."""

    exhaustive: list[HarvestedCode] = field(default_factory=list)
    type_family: list[HarvestedCode] = field(default_factory=list)
    plain: list[HarvestedCode] = field(default_factory=list)
    classes: list[HarvestedCode] = field(default_factory=list)
    files: int = 0
    seen: set[tuple[str, int, bool]] = field(default_factory=set, repr=False)

    def full(self) -> bool:
        return all(self.room(kind) is False for kind in QUOTAS)

    def room(self, kind: str) -> bool:
        return len(getattr(self, kind)) < QUOTAS[kind]

    def add(self, code: HarvestedCode, is_class: bool, kinds: frozenset[str] = frozenset(QUOTAS)) -> None:
        """Keep ``code`` under the kind the heuristic sees in it (and among the classes), where there is room."""
        key = (code.path, code.line, code.use_site)
        if key in self.seen:
            return
        kind = "exhaustive" if is_exhaustive(code.code) else "type_family" if is_type_family(code.code) else "plain"
        if kind in kinds and self.room(kind):
            getattr(self, kind).append(code)
            self.seen.add(key)
        if is_class and not code.use_site and "classes" in kinds and self.room("classes"):
            self.classes.append(code)
            self.seen.add(key)


def stdlib_root() -> Path:
    """The standard library's folder."""
    return Path(sysconfig.get_paths()["stdlib"])


def package_root(name: str) -> Path:
    """The folder of an installed package, or a one-line error naming it."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None or not spec.submodule_search_locations:
        raise ValueError(f"--harvest {name}: not an installed package")
    return Path(spec.origin).parent


def _files(root: Path, prefix: str) -> Iterator[tuple[str, Path]]:
    """The ``.py`` files under ``root`` in sorted order, skipped folders not entered, with their shown paths."""
    found = []
    for folder, folders, names in os.walk(root):
        folders[:] = [f for f in folders if f not in SKIPPED_FOLDERS]
        found += [Path(folder, n) for n in names if n.endswith(".py") and not n.startswith("test_")]
    for path in sorted(found):
        yield "/".join([*([prefix] if prefix else []), *path.relative_to(root).parts]), path


def _tests_type(test: ast.expr) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("isinstance", "issubclass")
               for n in ast.walk(test))


def _read(path: Path) -> tuple[Path, str] | None:
    try:
        if path.stat().st_size > _MOST_BYTES:
            return None
        return path, path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _harvest_file(found: Harvest, relative: str, source: str, kinds: frozenset[str] = frozenset(QUOTAS)) -> None:
    nodes = statements(source)
    lines = source.splitlines()
    # 0-based lines where the code branches on types: a match, an if/elif on isinstance or issubclass
    branches = sorted(n.lineno - 1 for n in nodes if isinstance(n, ast.Match)
                      or (isinstance(n, ast.If) and _tests_type(n.test)))
    for node in nodes:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            line = node.lineno - 1
            found.add(HarvestedCode(relative, node.lineno, node.name, definition_head(source, line)),
                      isinstance(node, ast.ClassDef), kinds)
            at = bisect.bisect_right(branches, line)
            if isinstance(node, ast.ClassDef) or not found.room("exhaustive") or at == len(branches):
                continue
            if branches[at] < (node.end_lineno or node.lineno):  # the first type branch inside the function
                code = use_site(source, line, branches[at])
                if is_exhaustive(code):
                    found.add(HarvestedCode(relative, node.lineno, node.name, code, use_site=True), False, kinds)
        elif (isinstance(node, ast.Assign | ast.AnnAssign) and node.col_offset == 0 and found.room("type_family")
              and _MAY_TYPE.search(lines[node.lineno - 1])):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            code = definition_head(source, node.lineno - 1)  # T = TypeVar("T"), X: TypeAlias = ...
            if isinstance(target, ast.Name) and is_type_family(code):
                found.add(HarvestedCode(relative, node.lineno, target.id, code), False, kinds)


def harvest(packages: tuple[str, ...] = ()) -> Harvest:
    """The code harvested from the standard library and the named installed packages (same result every run;
    harvested once per process)."""
    return _harvest(tuple(packages))


@lru_cache(maxsize=8)
def _harvest(packages: tuple[str, ...]) -> Harvest:
    roots = [(name, package_root(name)) for name in packages] + [("", stdlib_root())]
    files = []
    for prefix, root in roots:  # the named packages first, each root's files in its own fixed shuffled order
        found_here = list(_files(root, prefix))
        random.Random(0).shuffle(found_here)
        files += found_here
    found = Harvest()
    texts = dict(filter(None, (_read(path) for _, path in files)))
    # typing machinery lives in few files: those first, for that kind alone; then every kind, file by file
    typing_files = [(relative, path) for relative, path in files
                    if path in texts and any(word in texts[path] for word in _TYPING)]
    for relative, path in typing_files:
        if not found.room("type_family"):
            break
        _harvest_file(found, relative, texts[path], frozenset({"type_family"}))
    for relative, path in files:
        if found.full() or found.files == MOST_FILES:
            break
        source = texts.get(path)
        wanted = source is not None and (
            found.room("plain") or found.room("classes")
            or (found.room("exhaustive") and _MAY_BRANCH.search(source))
            or (found.room("type_family") and _MAY_TYPE.search(source))
        )
        if wanted and source is not None:
            found.files += 1
            _harvest_file(found, relative, source)
    log.info("harvested %d exhaustive, %d typing, %d other definitions and %d classes from %d files",
             len(found.exhaustive), len(found.type_family), len(found.plain), len(found.classes), found.files)
    return found
