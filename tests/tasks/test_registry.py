"""``resolve_task``: the one place a command line's ``--task`` becomes a task (a registered name, or module:Class
of a task anywhere, then registered for the run), with a one-line error for each way it can be wrong."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from examples.naming_style import NamingStyleTask
from tasks.registry import TASKS, TaskNotFound, resolve_task


@pytest.fixture
def clean() -> Iterator[None]:
    """Whatever a test registers is gone after it."""
    before = dict(TASKS)
    try:
        yield
    finally:
        TASKS.clear()
        TASKS.update(before)


def test_a_registered_name_is_that_task() -> None:
    assert resolve_task("score_edge") is TASKS["score_edge"]
    assert resolve_task("cli_intent:gh") is TASKS["cli_intent:gh"]  # a name with a colon stays a name


def test_module_class_is_imported_made_and_registered(clean: None) -> None:
    assert "naming_style" not in TASKS
    task = resolve_task("examples.naming_style:NamingStyleTask")
    assert isinstance(task, NamingStyleTask) and TASKS["naming_style"] is task
    assert resolve_task("naming_style") is task  # recordings naming it resolve too
    assert resolve_task("examples.naming_style:NamingStyleTask").name == "naming_style"  # again: no clash


def test_module_attribute_may_be_an_instance(clean: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_tasks.py").write_text(
        "from examples.naming_style import NamingStyleTask\n\n"
        "class Renamed(NamingStyleTask):\n    name = 'renamed_style'\n\nTASK = Renamed()\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        task = resolve_task("my_tasks:TASK")
        assert task.name == "renamed_style" and TASKS["renamed_style"] is task
    finally:
        sys.modules.pop("my_tasks", None)


@pytest.mark.parametrize(("text", "said"), [
    ("no_such_task", "unknown task 'no_such_task': give a registered name ("),
    ("no_such_module_xyz:Task", "cannot import module 'no_such_module_xyz'"),
    ("examples.naming_style:NoSuchClass", "module 'examples.naming_style' has no attribute 'NoSuchClass'"),
    ("examples.naming_style:NamingInput", "NamingInput is not a task"),
    ("examples.naming_style:REPORT_STYLE", "Tool is not a task"),
    ("examples.naming_style:guess_style", "function is not a task"),
    ("cli_intent:nope", "unknown task 'cli_intent:nope'"),
])
def test_a_bad_task_is_one_clear_line(text: str, said: str, clean: None) -> None:
    before = set(TASKS)
    with pytest.raises(TaskNotFound) as raised:
        resolve_task(text)
    assert said in str(raised.value) and "\n" not in str(raised.value)
    assert set(TASKS) == before  # nothing half-registered


def test_the_commands_say_a_bad_task_in_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from converters.rebuild import main as rebuild_main
    from teacher.compare import main as compare_main

    with pytest.raises(SystemExit) as raised:
        rebuild_main([str(tmp_path), "--out", str(tmp_path / "out"), "--task", "examples.naming_style:Nope"])
    assert raised.value.code == 2
    assert "--task: task 'examples.naming_style:Nope': module 'examples.naming_style' has no attribute" in (
        capsys.readouterr().err)
    with pytest.raises(SystemExit):
        compare_main([str(tmp_path), "--student", "ollama", "--task", "nowhere_mod:Task"])
    assert "cannot import module 'nowhere_mod'" in capsys.readouterr().err


def test_answer_tools_are_the_line_s_or_its_task_s() -> None:
    """A line's declarations win; a task that declares none in its prompts answers with its own tools."""
    from converters.examples import Example
    from tasks.registry import answer_tools
    from tests.interpreters.test_grammar_decoding import EDGE_INPUT

    declared = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    assert answer_tools(Example("p", "c", "x:1", "score_edge", EDGE_INPUT, declared)) == declared
    (tool,) = answer_tools(Example("p", "c", "x:1", "score_edge", EDGE_INPUT))
    assert tool["function"]["name"] == "score_edge"
    assert set(tool["function"]["parameters"]["properties"]) >= {"relevance", "risk", "is_exported"}
    assert answer_tools(Example("p", "c", "x:1", "no_such_task", EDGE_INPUT)) == []
    assert answer_tools(Example("p", "c", "x:1", "score_edge", None)) == []
