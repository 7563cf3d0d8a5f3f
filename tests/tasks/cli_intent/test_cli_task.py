"""The cli_intent task: render, parse, examples, and the round trip through the FunctionGemma codec."""

from __future__ import annotations

import json

import pytest

from converters.functiongemma import PROFILES, Profile, ToolCall, parse_calls, render_prompt
from converters.schema import TrainingExample
from tasks.cli_intent import CliContext, CliIntentInput, CliIntentTask, RunCommand, is_cli_intent_call
from tasks.cli_intent.shipped import resolve_schema
from tasks.registry import TASKS, register_task, task_named
from teacher.model import request_for, student_prompt
from teacher.task import FineTrainingTeacher, TaskOutputError, Turn

GH, _ = resolve_schema("gh")
TASK = CliIntentTask(GH)
CONTEXT = CliContext(current_branch="fix/login", repo_owner="acme", repo_name="web", current_pr=42,
                     has_uncommitted_changes=False)
MERGE = ToolCall("run_command", {"command": "pr", "subcommand": "merge", "args": {"number": 42},
                                 "flags": ["squash", "delete-branch"], "confidence": 0.85})
ASK = ToolCall("clarify", {"message": "Close the pull request or the issue?",
                           "suggestions": ["pr close", "issue close"], "confidence": 0.45})


def test_it_is_a_registered_fine_training_teacher() -> None:
    assert isinstance(TASK, FineTrainingTeacher)
    assert task_named("cli_intent:gh").name == TASK.name == "cli_intent:gh"
    custom = CliIntentTask(GH.model_copy(update={"cli_name": "mygh"}))
    register_task(custom)
    try:
        assert task_named("cli_intent:mygh") is custom
    finally:
        del TASKS["cli_intent:mygh"]
    with pytest.raises(KeyError, match="cli_intent:gh"):
        task_named("cli_intent:nope")


def test_render_shows_the_request_and_only_the_known_context() -> None:
    assert TASK.render(CliIntentInput(request="  list my PRs ")) == "Request: list my PRs"
    text = TASK.render(CliIntentInput(request="merge this PR", context=CONTEXT))
    assert text.splitlines() == ["Request: merge this PR", "Context:", "- git branch: fix/login",
                                 "- repository: acme/web", "- current PR: #42", "- uncommitted changes: no"]
    partial = TASK.render(CliIntentInput(request="x", context=CliContext(current_branch="main")))
    assert partial.endswith("Context:\n- git branch: main") and "PR" not in partial
    assert TASK.render(CliIntentInput(request="x", context=CliContext())) == "Request: x"


def test_tools_carry_the_schema_as_enums() -> None:
    run, clarify = (tool.openai()["function"] for tool in TASK.tools(CliIntentInput(request="x")))
    assert run["name"] == "run_command" and clarify["name"] == "clarify"
    props = run["parameters"]["properties"]
    assert props["command"]["enum"] == ["pr", "issue", "repo", "run", "workflow", "release"]
    assert "merge" in props["subcommand"]["enum"] and "delete-branch" in props["flags"]["items"]["enum"]
    assert "pr merge" in clarify["parameters"]["properties"]["suggestions"]["items"]["enum"]
    assert set(run["parameters"]["required"]) == {"command", "subcommand", "confidence"}


def test_parse_accepts_valid_calls_and_refuses_invalid_ones() -> None:
    answer = TASK.parse(MERGE, CliIntentInput(request="x"))
    assert isinstance(answer, RunCommand) and answer.flags == ["squash", "delete-branch"]
    assert TASK.parse(ASK, CliIntentInput(request="x")).suggestions == ["pr close", "issue close"]  # type: ignore[union-attr]
    for bad in (
        ToolCall("run_command", {**MERGE.arguments, "args": {}}),  # required number missing
        ToolCall("run_command", {**MERGE.arguments, "subcommand": "land"}),
        ToolCall("select_symbols", {"selected": []}),
    ):
        with pytest.raises(TaskOutputError):
            TASK.parse(bad, CliIntentInput(request="x"))


def test_invalid_answers_give_no_example() -> None:
    bad = Turn(TASK.name, CliIntentInput(request="x"), (ToolCall("run_command", {"command": "pr"}),))
    with pytest.raises(TaskOutputError):
        TASK.to_examples(bad)
    assert TASK.to_examples(Turn(TASK.name, CliIntentInput(request="x"), ())) == []


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("call", [MERGE, ASK], ids=["run_command", "clarify"])
def test_round_trip_through_the_codec(profile: Profile, call: ToolCall) -> None:
    input = CliIntentInput(request="merge this PR, squash it and delete the branch", context=CONTEXT)
    [example] = TASK.to_examples(Turn(TASK.name, input, (call,)))
    assert isinstance(example, TrainingExample)
    data = example.model_dump(exclude_none=True)
    prompt = render_prompt(data["messages"][:-1], data["tools"], profile=profile)
    assert prompt == student_prompt(request_for(TASK, input), profile)  # training prompt == the student's prompt
    full = render_prompt(data["messages"], data["tools"], profile=profile, add_generation_prompt=False)
    completion = full[len(prompt):]
    [parsed] = parse_calls(completion)
    assert parsed.name == call.name
    stored = json.loads(data["messages"][-1]["tool_calls"][0]["function"]["arguments"])
    assert parsed.arguments == stored
    assert TASK.parse(parsed, input) == TASK.parse(call, input)  # what the student emits parses to the same answer
    assert is_cli_intent_call(parsed) and is_cli_intent_call(call.name) and not is_cli_intent_call("score_edge")
