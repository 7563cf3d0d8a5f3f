"""The multi-turn runner driven by a scripted backend: the tools really run and the file really changes."""

from __future__ import annotations

import ast
import dataclasses
import json
from typing import Any

import yaml

from converters.functiongemma import ToolCall
from interpreters.scripted import ScriptedModel
from tasks.subagents.definition import NodeContext
from tasks.subagents.docstring.styles import detect_style
from tasks.subagents.domains import SUBAGENTS
from tasks.subagents.lint.tools import ruff_issues
from tasks.subagents.runner import run_subagent
from tasks.subagents.sandbox import Sandbox
from tasks.subagents.toolbox import Subagent, ToolEnv
from teacher.handlers import interpret

LINTED = "import os\nimport sys\n\n\ndef total(a,b):\n    x=a+b \n    return x\n"
SOURCE = "def add(a: int, b: int = 1) -> int:\n    return a + b\n"


def _context(path: str, text: str, name: str) -> NodeContext:
    return NodeContext(node_text=text, node_name=name, node_type="function", file_path=path)


def _results(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [json.loads(m["content"]) for m in history if m["role"] == "tool"]


async def test_lint_run_fixes_the_file_with_ruff() -> None:
    subagent = SUBAGENTS["lint"]
    with Sandbox.from_files({"src/calc.py": LINTED}) as sandbox:
        context = _context("src/calc.py", LINTED, "total")
        model = ScriptedModel([
            ToolCall("run_linter", {"check_only": True}),
            ToolCall("apply_fix", {"issue_code": "F401", "line_number": 1}),
            ToolCall("run_linter", {"check_only": False}),
            ToolCall("submit_result", {"summary": "Fixed", "issues_fixed": 6, "issues_remaining": 0,
                                       "changed_files": ["src/calc.py"]}),
        ])
        async with interpret(model):
            run = await run_subagent(subagent, context, sandbox)
        after = sandbox.read("src/calc.py")
        remaining = ruff_issues(ToolEnv(sandbox, context, 30))
        changed = sandbox.changed_files()
    first = _results(run.history)[0]
    assert {i["code"] for i in first["issues"]} >= {"F401", "E231", "E225", "W291"}
    assert run.stopped == "submitted" and run.turns == 4
    assert run.result is not None and run.result["issues_fixed"] == 6  # the domain fields, as submitted
    assert remaining == [] and "import os" not in after and "x = a + b\n" in after
    assert changed == ["src/calc.py"]
    # every backend saw the conversation so far: the fourth request carries three calls and three results
    assert [m["role"] for m in model.requests[3].history] == ["assistant", "tool"] * 3
    assert model.requests[3].system.startswith("You are a lint subagent")


async def test_test_run_writes_a_test_file_that_pytest_runs() -> None:
    content = "from pkg.calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n\n\ndef test_default():\n" \
              "    assert add(4) == 5\n"
    with Sandbox.from_files({"pkg/__init__.py": "", "pkg/calc.py": SOURCE}) as sandbox:
        model = ScriptedModel([
            ToolCall("analyze_signature", {}),
            ToolCall("write_test_file", {"content": content, "path": "tests/test_calc.py"}),
            ToolCall("run_tests", {"path": "tests/test_calc.py"}),
            ToolCall("submit_result", {"summary": "2 tests", "tests_generated": 2, "tests_passing": 2,
                                       "changed_files": ["tests/test_calc.py"]}),
        ])
        async with interpret(model):
            run = await run_subagent(SUBAGENTS["test"], _context("pkg/calc.py", SOURCE, "add"), sandbox)
        written = sandbox.read("tests/test_calc.py")
    signature, _, ran = _results(run.history)
    assert [p["name"] for p in signature["parameters"]] == ["a", "b"]
    assert ran["passed"] == 2 and ran["failed"] == 0 and ran["exit_code"] == 0
    assert written == content
    assert run.result is not None and run.result["tests_passing"] == 2


async def test_docstring_run_writes_the_asked_style() -> None:
    docstring = "Add two numbers.\n\nParameters\n----------\na : int\n    The first.\nb : int\n    The second.\n\n" \
                "Returns\n-------\nint\n    The sum."
    with Sandbox.from_files({"pkg/calc.py": SOURCE}) as sandbox:
        model = ScriptedModel([
            ToolCall("read_current_docstring", {}),
            ToolCall("write_docstring", {"docstring": "Add.\n\nArgs:\n    a: the first.", "style": "google"}),
            ToolCall("write_docstring", {"docstring": docstring, "style": "numpy"}),
            ToolCall("submit_result", {"summary": "added", "action": "added", "changed_files": ["pkg/calc.py"]}),
        ])
        async with interpret(model):
            run = await run_subagent(SUBAGENTS["docstring"], _context("pkg/calc.py", SOURCE, "add"), sandbox)
        after = sandbox.read("pkg/calc.py")
    current, incomplete, written = _results(run.history)
    assert current == {"has_docstring": False, "docstring": "", "style": "none"}
    assert "parameters not documented: b" in incomplete["error"]  # checked, not written
    assert written["action"] == "added"
    function = ast.parse(after).body[0]
    assert isinstance(function, ast.FunctionDef)
    found = ast.get_docstring(function)
    assert found == docstring and detect_style(found) == "numpy"


async def test_sample_data_run_writes_a_fixture_file_that_loads() -> None:
    fixtures = [{"a": 1, "b": 2}, {"a": -3}]
    with Sandbox.from_files({"pkg/calc.py": SOURCE}) as sandbox:
        model = ScriptedModel([
            ToolCall("write_fixture_file", {"fixtures": [{"a": 1, "c": 2}], "format": "yaml"}),
            ToolCall("write_fixture_file", {"fixtures": fixtures, "format": "yaml"}),
            ToolCall("submit_result", {"summary": "2 fixtures", "fixtures_generated": 2,
                                       "changed_files": ["tests/fixtures/add.yaml"]}),
        ])
        async with interpret(model):
            run = await run_subagent(SUBAGENTS["sample_data"], _context("pkg/calc.py", SOURCE, "add"), sandbox)
        loaded = yaml.safe_load(sandbox.read("tests/fixtures/add.yaml"))
        assert sandbox.changed_files() == ["tests/fixtures/add.yaml"]
    bad, good = _results(run.history)
    assert "unknown parameter(s) c" in bad["error"]
    assert good == {"written": "tests/fixtures/add.yaml", "count": 2, "format": "yaml"}
    assert loaded == fixtures
    namespace: dict[str, Any] = {}
    exec(SOURCE, namespace)
    assert [namespace["add"](**f) for f in loaded] == [3, -2]  # each fixture is a valid call


async def test_escape_refused_timeout_reported_rejected_calls_answered_and_the_run_goes_on() -> None:
    subagent = SUBAGENTS["test"]
    definition = subagent.definition
    quick = tuple(dataclasses.replace(t, timeout_s=1.0) if t.name == "run_tests" else t for t in definition.tools)
    subagent = Subagent(dataclasses.replace(definition, tools=quick), subagent.implementations)
    slow = "import time\n\n\ndef test_slow():\n    time.sleep(30)\n"
    with Sandbox.from_files({"pkg/calc.py": SOURCE}) as sandbox:
        model = ScriptedModel([
            ToolCall("write_test_file", {"content": "x = 1\n", "path": "../../outside/test_x.py"}),
            ToolCall("write_test_file", {"content": slow, "path": "tests/test_slow.py"}),
            ToolCall("run_tests", {"path": "tests/test_slow.py"}),
            ToolCall("delete_everything", {}),
            ToolCall("run_tests", {"path": 3}),
            ToolCall("analyze_signature", {}),
            ToolCall("submit_result", {"summary": "timed out", "tests_generated": 1, "tests_passing": 0,
                                       "changed_files": ["tests/test_slow.py"]}),
        ])
        async with interpret(model):
            run = await run_subagent(subagent, _context("pkg/calc.py", SOURCE, "add"), sandbox)
        assert not (sandbox.root.parent / "outside").exists()
        assert sandbox.changed_files() == ["tests/test_slow.py"]
    escaped, written, timed_out, unknown, invalid, signature = _results(run.history)
    assert escaped["error"].startswith("refused:") and "leaves the sandbox" in escaped["error"]
    assert written["written"] == "tests/test_slow.py"
    assert "timed out after 1 s" in timed_out["error"]
    assert unknown["rejected"] and "unknown tool 'delete_everything'" in unknown["error"]
    assert invalid["rejected"] and "path: expected string" in invalid["error"]
    assert signature["name"] == "add"
    assert run.stopped == "submitted" and run.rejected == 2 and run.result is not None


async def test_the_last_turn_offers_only_submit_result() -> None:
    subagent = SUBAGENTS["docstring"]
    turns = subagent.definition.max_turns
    with Sandbox.from_files({"pkg/calc.py": SOURCE}) as sandbox:
        model = ScriptedModel([ToolCall("read_type_hints", {})] * turns)
        async with interpret(model):
            run = await run_subagent(subagent, _context("pkg/calc.py", SOURCE, "add"), sandbox)
    assert run.stopped == "max_turns" and run.result is None and run.turns == turns
    assert [t.name for t in model.requests[-1].tools] == ["submit_result"]
    assert len(model.requests[-2].tools) == len(subagent.definition.tools)
    assert "unknown tool 'read_type_hints'; offered: submit_result" in run.history[-1]["content"]
