"""The test generator's domain: functions with known behaviour, and the pytest files written from it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tasks.subagents.definition import NodeContext
from tasks.subagents.generation import PLACES, Case, Domain, load_index
from tasks.subagents.source import node_source
from tasks.subagents.test import SUBAGENT
from tasks.subagents.test.tools import module_of

__all__ = ["TestExamples", "test_file"]


def test_file(module: str, name: str, cases: Sequence[Sequence[str]], raises: Sequence[Sequence[str]]) -> str:
    """A pytest file: one test per known call and result, one per call known to raise."""
    imported = name.split(".")[0]
    stem = name.split(".")[-1].lower()
    lines = (["import pytest", ""] if raises else []) + [f"from {module} import {imported}", ""]
    for number, (call, expected) in enumerate(cases, start=1):
        check = f"assert {call} is None" if expected == "None" else f"assert {call} == {expected}"
        lines += ["", f"def test_{stem}_{number}():", f"    {check}", ""]
    for number, (call, error) in enumerate(raises, start=1):
        lines += ["", f"def test_{stem}_raises_{number}():", f"    with pytest.raises({error}):", f"        {call}", ""]
    return "\n".join(lines).rstrip() + "\n"


class TestExamples(Domain):
    """Test fixtures: each function at several folders, tested with its known cases (with or without raises)."""

    __test__ = False  # not a pytest class
    subagent = SUBAGENT
    folder = Path(__file__).parent
    default_count = 150
    read_only = frozenset({"run_tests", "analyze_signature", "read_existing_tests"})

    def cases(self) -> list[Case]:
        found = []
        for entry in load_index(self.folder):
            text = self.fixture(entry["file"])
            name, stem = entry["node"], Path(entry["file"]).stem
            kind = "class" if name[:1].isupper() else "function"
            cases, raises = entry.get("cases", []), entry.get("raises", [])
            for place in PLACES:
                path = place + entry["file"]
                module = module_of(path)
                files = {path: text}
                facts = {"nested"} if place else set()
                variables: dict[str, Any] = {"name": name, "module": module,
                                             "test_path": f"tests/test_{name.lower()}.py"}
                if entry.get("tests"):
                    existing = self.fixture(entry["tests"]).replace(f"from {stem} import", f"from {module} import")
                    files[entry["tests"]] = existing
                    variables["existing_path"] = entry["tests"]
                facts.add("has_tests" if entry.get("tests") else "no_tests")
                context = NodeContext(node_text=node_source(text, name), node_name=name, node_type=kind,
                                      file_path=path)
                for label, errors in (("full", raises), ("basic", [])):
                    if label == "basic" and not raises:
                        continue
                    content = test_file(module, name, cases, errors)
                    wrong = test_file(stem, name, cases, errors)
                    found.append(Case(f"{path}:{name}:{label}", files, context, frozenset(facts),
                                      {**variables, "test_content": content, "broken_content": wrong},
                                      bool(entry.get("eval", False))))
        return found

    def observe(self, state: dict[str, Any], tool: str, args: Mapping[str, Any], result: Mapping[str, Any]) -> None:
        if tool == "write_test_file":
            state["generated"] = result["tests"]
            state["changed"].append(result["written"])
        elif tool == "run_tests":
            state["passing"] = result["passed"]
