"""The FineTrainingTeacher protocol through the example task: ask, parse, refuse, and convert to examples."""

from __future__ import annotations

import pytest

from converters.functiongemma import DEVELOPER_PROMPT, ToolCall, parse_calls, render_prompt
from converters.schema import TrainingExample
from examples.naming_style import REPORT_STYLE, NamingInput, NamingStyleTask, ReportStyle
from interpreters.scripted import FunctionModel, ScriptedModel
from teacher.handlers import interpret, perform
from teacher.model import ModelReply, ModelRequest
from teacher.operations import Ask
from teacher.task import FineTrainingTeacher, TaskOutputError, Turn

TASK = NamingStyleTask()


def test_the_example_task_satisfies_the_protocol() -> None:
    assert isinstance(TASK, FineTrainingTeacher)
    assert TASK.tools(NamingInput(identifier="x")) == [REPORT_STYLE]


async def test_ask_is_answered_by_any_backend_and_parsed_by_the_task() -> None:
    seen: list[ModelRequest] = []

    def model(request: ModelRequest) -> ToolCall:
        seen.append(request)
        return ToolCall("report_style", {"style": "camelCase", "confidence": 0.75})

    async with interpret(FunctionModel(model)):
        result = await perform(Ask(TASK, NamingInput(identifier="fooBar")))
    assert result == ReportStyle(style="camelCase", confidence=0.75)
    [request] = seen
    assert request.task_name == "naming_style"
    assert request.user == "Identifier: fooBar\nLanguage: python"
    assert request.guidance == TASK.guidance
    assert [tool.name for tool in request.tools] == ["report_style"]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (ToolCall("other_tool", {}), "expected a call to report_style"),
        (ToolCall("report_style", {"style": "kebab-case", "confidence": 0.5}), "style"),
        (ToolCall("report_style", {"style": "snake_case", "confidence": 2}), "confidence"),
        (ToolCall("report_style", {"style": "snake_case", "confidence": 0.5}), "has capitals"),
        (ModelReply(calls=()), "no tool call"),
    ],
)
async def test_invalid_answers_raise_task_output_errors(answer: ToolCall | ModelReply, message: str) -> None:
    async with interpret(ScriptedModel([answer])):
        with pytest.raises(TaskOutputError, match=message):
            await perform(Ask(TASK, NamingInput(identifier="BadName")))


async def test_scripted_model_answers_in_order_and_fails_loudly_when_exhausted() -> None:
    calls = [ToolCall("report_style", {"style": s, "confidence": 1}) for s in ("snake_case", "UPPER_CASE")]
    model = ScriptedModel(calls)
    async with interpret(model):
        first = await perform(Ask(TASK, NamingInput(identifier="a_b")))
        second = await perform(Ask(TASK, NamingInput(identifier="A_B")))
        with pytest.raises(RuntimeError, match="2 answers"):
            await perform(Ask(TASK, NamingInput(identifier="c")))
    assert (first.style, second.style) == ("snake_case", "UPPER_CASE")
    assert [r.user.splitlines()[0] for r in model.requests] == ["Identifier: a_b", "Identifier: A_B", "Identifier: c"]


def test_to_examples_gives_a_validated_example_that_renders_to_the_student_prompt() -> None:
    turn = Turn(
        task="naming_style",
        input=NamingInput(identifier="getUser"),
        calls=(ToolCall("report_style", {"style": "camelCase", "confidence": 0.9}),),
    )
    [example] = TASK.to_examples(turn)
    assert isinstance(example, TrainingExample)
    dumped = example.model_dump(exclude_none=True)
    prompt = render_prompt(dumped["messages"][:2], example.tools)
    full = render_prompt(dumped["messages"], example.tools, add_generation_prompt=False)
    assert prompt.startswith("<bos><start_of_turn>developer\n" + DEVELOPER_PROMPT + "<start_function_declaration>")
    assert "Identifier: getUser" in prompt
    assert parse_calls(full[len(prompt) :]) == list(turn.calls)


def test_invalid_recorded_answers_are_not_learnt_from() -> None:
    bad = Turn(task="naming_style", input=NamingInput(identifier="x"), calls=(ToolCall("report_style", {}),))
    with pytest.raises(TaskOutputError):
        TASK.to_examples(bad)
    assert TASK.to_examples(Turn(task="naming_style", input=NamingInput(identifier="x"), calls=())) == []
