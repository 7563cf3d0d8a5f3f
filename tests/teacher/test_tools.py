"""One pydantic model per tool; every backend's schema and the validation of answers come from it."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from converters.functiongemma import parse_calls, render_call
from teacher.tools import Tool, ToolArgumentsError


class Color(StrEnum):
    red = "red"
    blue = "blue"


class Span(BaseModel):
    start: int = Field(ge=0, description="First line")
    end: int = Field(ge=0, description="Last line")


class Paint(BaseModel):
    color: Color = Field(description="Which colour")
    span: Span = Field(description="Where")
    names: list[str] = Field(default_factory=list, description="Symbols to paint")
    mode: Literal["fill", "outline"] = Field("fill", description="How")
    title: str = Field("", description="A field named like a schema keyword")


PAINT = Tool("paint", "Paint a span.", Paint)


def test_every_backend_form_shares_one_schema() -> None:
    parameters = PAINT.parameters()
    assert PAINT.anthropic() == {"name": "paint", "description": "Paint a span.", "input_schema": parameters}
    assert PAINT.openai() == {
        "type": "function",
        "function": {"name": "paint", "description": "Paint a span.", "parameters": parameters},
    }
    assert "$defs" not in str(parameters) and "$ref" not in str(parameters)
    assert parameters["properties"]["color"]["enum"] == ["red", "blue"]
    assert parameters["properties"]["span"]["properties"]["start"] == {
        "description": "First line", "minimum": 0, "type": "integer",
    }
    assert "title" in parameters["properties"]  # a field called title survives the dropping of titles
    assert parameters["required"] == ["color", "span"]
    declaration = PAINT.declaration()
    assert declaration.startswith("<start_function_declaration>declaration:paint{description:<escape>Paint a span.")
    assert "color:{description:<escape>Which colour<escape>,enum:[<escape>red<escape>,<escape>blue<escape>]" in (
        declaration
    )
    assert PAINT.declaration("ollama") != declaration


def test_validation_accepts_any_backends_answer() -> None:
    wire = render_call("paint", {"color": "red", "span": {"start": 1, "end": 2}, "names": ["a"]})
    [call] = parse_calls(wire)
    assert PAINT.validate(call.arguments) == Paint(color=Color.red, span=Span(start=1, end=2), names=["a"])
    assert PAINT.validate('{"color": "blue", "span": {"start": 0, "end": 0}}').color is Color.blue


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"color": "green", "span": {"start": 1, "end": 2}}, "color"),
        ({"color": "red"}, "span"),
        ({"color": "red", "span": {"start": -1, "end": 2}}, "span.start"),
        ("{not json", "not valid JSON"),
        ("[1]", "must be an object"),
    ],
)
def test_invalid_answers_raise_a_typed_error_carrying_them(arguments: object, problem: str) -> None:
    with pytest.raises(ToolArgumentsError, match=problem) as caught:
        PAINT.validate(arguments)  # type: ignore[arg-type]
    assert caught.value.arguments == arguments
    assert caught.value.tool == "paint"


def test_restrict_limits_choices_in_schema_and_validation() -> None:
    limited = PAINT.restrict("names", ["alpha", "beta"])
    assert limited.parameters()["properties"]["names"]["items"]["enum"] == ["alpha", "beta"]
    assert "enum" not in PAINT.parameters()["properties"]["names"].get("items", {})
    ok = {"color": "red", "span": {"start": 0, "end": 1}, "names": ["beta"]}
    assert limited.validate(ok).names == ["beta"]
    with pytest.raises(ToolArgumentsError, match="'gamma' is not one of the allowed choices") as caught:
        limited.validate({**ok, "names": ["alpha", "gamma"]})
    assert caught.value.arguments["names"] == ["alpha", "gamma"]
    with pytest.raises(ValueError, match="unknown field"):
        PAINT.restrict("nope", ["x"])
