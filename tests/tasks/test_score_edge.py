"""score_edge: the 2-turn minimal layout, the flat output schema and bad input."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from converters.functiongemma import FunctionGemmaFormatError, ToolCall, parse_calls, render_prompt
from tasks.score_edge import EdgeType, ScoreEdgeInput, ScoreEdgeOutput, ScoreEdgeTask
from teacher.task import TaskOutputError, Turn

TASK = ScoreEdgeTask()
EDGE = ScoreEdgeInput(
    query="What breaks if I add a variant?",
    source_file="shop/models.py",
    source_line=42,
    source_hover="class OrderStatus(Enum): ...",
    target_file="shop/api.py",
    target_line=87,
    target_hover="match status:\n    case OrderStatus.PAID: ...",
    edge_type=EdgeType.reference,
)
ANSWER = {
    "relevance": 5, "risk": 4, "reasoning": "Pattern match over the enum.",
    "is_exhaustive": True, "is_type_family": False, "is_exported": True,
}


def test_user_turn_wraps_each_field_in_escape() -> None:
    assert TASK.render(EDGE) == (
        "Score this edge:\n"
        "Query: <escape>What breaks if I add a variant?<escape>\n"
        "Source: <escape>shop/models.py:42<escape>\n"
        "Source hover: <escape>class OrderStatus(Enum): ...<escape>\n"
        "Target: <escape>shop/api.py:87<escape>\n"
        "Target hover: <escape>match status:\n    case OrderStatus.PAID: ...<escape>\n"
        "Edge type: <escape>reference<escape>"
    )


def test_two_turn_minimal_example_renders_and_parses_back() -> None:
    [example] = TASK.to_examples(Turn(task="score_edge", input=EDGE, calls=(ToolCall("score_edge", ANSWER),)))
    assert [m.role for m in example.messages] == ["user", "assistant"] and example.tools == []
    text = render_prompt(example.model_dump(exclude_none=True)["messages"], add_generation_prompt=False)
    assert text.startswith("<bos><start_of_turn>user\nScore this edge:\nQuery: <escape>What breaks")
    assert "<start_of_turn>model\n<start_function_call>call:score_edge{is_exhaustive:true,is_exported:true," in text
    [call] = parse_calls(text.split("<start_of_turn>model\n", 1)[1])
    assert TASK.parse(call, EDGE) == ScoreEdgeOutput(**ANSWER)  # type: ignore[arg-type]


@pytest.mark.parametrize(("field", "value"), [("relevance", 6), ("risk", 0), ("is_exported", "maybe")])
def test_out_of_range_answers_name_the_field(field: str, value: object) -> None:
    with pytest.raises(TaskOutputError, match=field) as caught:
        TASK.parse(ToolCall("score_edge", {**ANSWER, field: value}), EDGE)
    assert caught.value.call is not None and caught.value.call.arguments[field] == value


def test_missing_or_extra_output_fields_are_refused() -> None:
    with pytest.raises(TaskOutputError, match="reasoning"):
        TASK.parse(ToolCall("score_edge", {k: v for k, v in ANSWER.items() if k != "reasoning"}), EDGE)
    with pytest.raises(TaskOutputError, match="tags"):
        TASK.parse(ToolCall("score_edge", {**ANSWER, "tags": []}), EDGE)


def test_unknown_edge_type_names_the_field() -> None:
    with pytest.raises(ValidationError, match="edge_type"):
        ScoreEdgeInput(**{**EDGE.model_dump(), "edge_type": "inheritance"})


def test_hover_text_the_format_cannot_carry_is_refused() -> None:
    bad = EDGE.model_copy(update={"target_hover": "x = '<escape>'"})
    with pytest.raises(FunctionGemmaFormatError, match="Target hover"):
        TASK.render(bad)
