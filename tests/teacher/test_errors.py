"""One root exception: every error class the library defines derives from ``FineTrainingError``, which declares
the attributes callers read (no ``getattr(error, "fatal", ...)`` probing)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

from interpreters.lsp import LspTimeout
from interpreters.ollama import StudentUnavailable
from teacher.errors import FineTrainingError
from teacher.operations import OperationFailed
from teacher.task import TaskOutputError
from tests.conftest import REPO

PACKAGES = ("teacher", "interpreters", "converters", "tasks", "finetune", "examples")
#: modules that may not import the library: the jail runs as ``python -I -S jail.py`` (stdlib only)
STANDALONE = {"tasks.subagents.jail"}


def _library_modules() -> list[str]:
    names = []
    for package in PACKAGES:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}."):
            if ".fixtures" in info.name or ".sample_repo" in info.name or info.name in STANDALONE:
                continue  # code the tasks work on, or a script that runs without the library
            names.append(info.name)
    return names


def _library_exceptions() -> list[type[BaseException]]:
    found = []
    for name in _library_modules():
        module = importlib.import_module(name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == name:
                found.append(value)
    return found


def test_every_library_exception_derives_from_the_root() -> None:
    classes = _library_exceptions()
    assert len(classes) >= 30  # the walk found the library's classes (TaskOutputError, OperationFailed, ...)
    strays = [f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, FineTrainingError)]
    assert strays == []


def test_the_root_declares_its_attributes_with_defaults() -> None:
    hints = FineTrainingError.__annotations__
    assert {name: hints[name] for name in ("fatal", "transient", "sent", "reason", "exit_code")} == {
        "fatal": "bool", "transient": "bool", "sent": "bool", "reason": "str", "exit_code": "int",
    }
    error = FineTrainingError("x")
    assert (error.fatal, error.transient, error.sent, error.reason, error.exit_code) == (False, False, True, "", 1)


def test_builtin_bases_are_kept_and_subclasses_say_what_they_mean() -> None:
    assert issubclass(TaskOutputError, ValueError) and issubclass(OperationFailed, RuntimeError)
    assert StudentUnavailable("down").fatal and not OperationFailed("x").fatal
    assert LspTimeout("slow").transient


def test_no_code_probes_error_attributes_with_getattr() -> None:
    probe = re.compile(r"""getattr\(\s*\w+\s*,\s*["'](fatal|transient|sent|reason|exit_code)["']""")
    offenders = [
        str(path.relative_to(REPO))
        for package in PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
        if probe.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


@pytest.mark.parametrize("path", [Path("teacher/errors.py")])
def test_the_root_module_imports_nothing_of_the_library(path: Path) -> None:
    text = (REPO / path).read_text(encoding="utf-8")
    assert not re.search(r"^(from|import) (teacher|interpreters|converters|tasks|finetune)\b", text, re.M)
