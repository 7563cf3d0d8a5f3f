"""The hf profile: Google's documented example, conversation flow, and what the format refuses."""

from __future__ import annotations

import math

import pytest

from converters.functiongemma import (
    DEVELOPER_PROMPT,
    FunctionGemmaFormatError,
    ToolCall,
    completion_terminator,
    parse_calls,
    render_call,
    render_declaration,
    render_prompt,
    render_response,
    render_value,
    split_output,
)

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Gets the current weather in a given location.",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {
                    "type": "string",
                    "description": 'The city and state, e.g. "San Francisco, CA" or "Tokyo, JP"',
                },
                "unit": {
                    "type": "string",
                    "enum": ["celsius", "fahrenheit"],
                    "description": "The unit to return the temperature in.",
                },
            },
            "required": ["location"],
        },
    },
}

# Google's "Weather Tool Flow" (ai.google.dev/gemma/docs/functiongemma/formatting-and-best-practices), turn by turn.
DOC_TURN_1 = (
    "<start_of_turn>developer\nYou are a model that can do function calling with the following functions"
    "<start_function_declaration>declaration:get_current_weather{description:<escape>Gets the current weather in "
    'a given location.<escape>,parameters:{properties:{location:{description:<escape>The city and state, e.g. "San '
    'Francisco, CA" or "Tokyo, JP"<escape>,type:<escape>STRING<escape>},unit:{description:<escape>The unit to '
    "return the temperature in.<escape>,enum:[<escape>celsius<escape>,<escape>fahrenheit<escape>],type:<escape>"
    "STRING<escape>}},required:[<escape>location<escape>],type:<escape>OBJECT<escape>}}<end_function_declaration>"
    "<end_of_turn>"
)
DOC_TURN_2 = "<start_of_turn>user\nHey, what's the weather in Tokyo right now?<end_of_turn>"
DOC_TURN_3 = (
    "<start_function_call>call:get_current_weather{location:<escape>Tokyo, Japan<escape>}<end_function_call>"
)
DOC_TURN_4 = (
    "<start_function_response>response:get_current_weather{temperature:15,weather:<escape>sunny<escape>}"
    "<end_function_response>"
)
DOC_TURN_5 = "The current weather in Tokyo is sunny with a temperature of 15 degrees Celsius.<end_of_turn>"


def test_documented_weather_declaration_byte_for_byte() -> None:
    prompt = render_prompt(
        [{"role": "developer", "content": DEVELOPER_PROMPT}], [WEATHER_TOOL], add_generation_prompt=False
    )
    assert prompt == "<bos>" + DOC_TURN_1 + "\n"


def test_documented_weather_flow_byte_for_byte() -> None:
    messages = [
        {"role": "developer", "content": DEVELOPER_PROMPT},
        {"role": "user", "content": "Hey, what's the weather in Tokyo right now?"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c1", "function": {"name": "get_current_weather", "arguments": '{"location": "Tokyo, Japan"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": {"temperature": 15, "weather": "sunny"}},
        {"role": "assistant", "content": DOC_TURN_5.removesuffix("<end_of_turn>")},
    ]
    expected = (
        "<bos>" + DOC_TURN_1 + "\n" + DOC_TURN_2 + "\n<start_of_turn>model\n"
        + DOC_TURN_3 + DOC_TURN_4 + DOC_TURN_5 + "\n"
    )
    assert render_prompt(messages, [WEATHER_TOOL], add_generation_prompt=False) == expected
    # after the tool result the model turn is still open: no new generation prompt
    assert render_prompt(messages[:4], [WEATHER_TOOL]).endswith(DOC_TURN_4)
    assert render_call("get_current_weather", {"location": "Tokyo, Japan"}) == DOC_TURN_3
    assert render_response("get_current_weather", {"weather": "sunny", "temperature": 15}) == DOC_TURN_4
    assert parse_calls(DOC_TURN_3) == [ToolCall("get_current_weather", {"location": "Tokyo, Japan"})]


def test_trailing_calls_end_with_the_response_token_and_parse_back() -> None:
    messages = [
        {"role": "developer", "content": DEVELOPER_PROMPT},
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "tool_calls": [{"function": {"name": "get_current_weather", "arguments": {"location": "Oslo"}}}],
        },
    ]
    prompt = render_prompt(messages[:2], [WEATHER_TOOL])
    full = render_prompt(messages, [WEATHER_TOOL], add_generation_prompt=False)
    assert full.startswith(prompt)
    completion = full[len(prompt) :]
    assert completion == render_call("get_current_weather", {"location": "Oslo"}) + completion_terminator("hf")
    assert split_output(completion) == ([ToolCall("get_current_weather", {"location": "Oslo"})], "")
    # the same in the ollama profile, which closes the turn instead
    prompt_o = render_prompt(messages[:2], [WEATHER_TOOL], profile="ollama")
    full_o = render_prompt(messages, [WEATHER_TOOL], profile="ollama", add_generation_prompt=False)
    assert full_o[len(prompt_o) :] == render_call("get_current_weather", {"location": "Oslo"}, profile="ollama") + (
        "<end_of_turn>\n"
    )


def test_text_tool_result_and_user_turn_after_it() -> None:
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": {}}}]},
        {"role": "tool", "content": " done "},
        {"role": "user", "content": "thanks"},
    ]
    assert render_prompt(messages) == (
        "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n<start_function_call>call:f{}"
        "<end_function_call><start_function_response>response:f{value:<escape> done <escape>}<end_function_response>"
        "thanks<end_of_turn>\n<start_of_turn>model\n"
    )


def test_declaration_renders_nested_schemas_in_hf_only() -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "plan",
            "description": "Plan",
            "parameters": {
                "type": "object",
                "properties": {
                    "steps": {"type": "array", "description": "Steps", "items": {"type": "string", "enum": ["a", "b"]}},
                    "opts": {
                        "type": "object",
                        "description": "Options",
                        "properties": {"Deep": {"type": "boolean"}, "alpha": {"type": "integer", "description": "x"}},
                        "required": ["alpha"],
                    },
                },
            },
        },
    }
    assert render_declaration(tool) == (
        "<start_function_declaration>declaration:plan{description:<escape>Plan<escape>,parameters:{properties:{"
        "opts:{description:<escape>Options<escape>,properties:{alpha:{description:<escape>x<escape>,type:<escape>"
        "INTEGER<escape>},Deep:{description:<escape><escape>,type:<escape>BOOLEAN<escape>}},required:[<escape>alpha"
        "<escape>],type:<escape>OBJECT<escape>},steps:{description:<escape>Steps<escape>,items:{enum:[<escape>a"
        "<escape>,<escape>b<escape>],type:<escape>STRING<escape>},type:<escape>ARRAY<escape>}},type:<escape>OBJECT"
        "<escape>}}<end_function_declaration>"
    )
    assert render_declaration(tool, profile="ollama") == (
        "<start_function_declaration>declaration:plan{description:<escape>Plan<escape>,parameters:{properties:{"
        "opts:{description:<escape>Options<escape>,type:<escape>OBJECT<escape>},steps:{description:<escape>Steps"
        "<escape>,type:<escape>ARRAY<escape>}},type:<escape>OBJECT<escape>}}<end_function_declaration>"
    )


def test_profiles_sort_keys_differently() -> None:
    # Jinja's dictsort ignores case; Go's sort.Strings compares bytes.
    assert render_value({"b": 1, "A": 2, "a": 3}) == "{A:2,a:3,b:1}"
    assert render_value({"b": 1, "A": 2, "a": 3}, profile="ollama") == "{A:2,a:3,b:1}"
    assert render_value({"b": 1, "C": 2}) == "{b:1,C:2}"
    assert render_value({"b": 1, "C": 2}, profile="ollama") == "{C:2,b:1}"


@pytest.mark.parametrize(
    ("value", "hf", "ollama"),
    [
        (1.0, "1.0", "1"),
        (3.14, "3.14", "3.14"),
        (-0.5, "-0.5", "-0.5"),
        (1234567.5, "1234567.5", "1.2345675e+06"),
        (1e-05, "1e-05", "1e-05"),
        (0.0001, "0.0001", "0.0001"),
        (1e20, "1e+20", "1e+20"),
        (1e15, "1000000000000000.0", "1000000000000000"),
        (1e300, "1e+300", "1e+300"),
        (7, "7", "7"),
        (True, "true", "true"),
    ],
)
def test_numbers_per_profile(value: object, hf: str, ollama: str) -> None:
    assert render_value(value) == hf
    assert render_value(value, profile="ollama") == ollama


@pytest.mark.parametrize(
    "arguments",
    [
        {"x": "has <escape> inside"},
        {"x": "a <end_function_call> b"},
        {"x": None},
        {"x": math.nan},
        {"x": math.inf},
        {"bad:key": 1},
        {"": 1},
        {"x": {"k,": 1}},
        {"x": b"bytes"},
    ],
)
def test_values_the_format_cannot_carry_are_refused(arguments: dict[str, object]) -> None:
    with pytest.raises(FunctionGemmaFormatError):
        render_call("f", arguments)


@pytest.mark.parametrize(
    "text",
    [
        "<start_function_call>call:f{x:1}",
        "<start_function_call>call:f{x:hello}<end_function_call>",
        "<start_function_call>call:f{x:1,x:2}<end_function_call>",
        "<start_function_call>call:f{x:<escape>open}<end_function_call>",
        "<start_function_call>f{x:1}<end_function_call>",
        "<start_function_call>call:{x:1}<end_function_call>",
        "<start_function_call>call:f{x:1}}<end_function_call>",
        "<start_function_call>call:f{x:[1,]}<end_function_call>",
        "<start_function_call>call:f{x:01}<end_function_call>",
        "<start_function_call>call:f{x:1e999}<end_function_call>",
        "text <end_function_call>",
        "<start_function_call>call:f{x:" + "[" * 200 + "]" * 200 + "}<end_function_call>",
    ],
)
def test_malformed_text_gives_a_typed_error(text: str) -> None:
    with pytest.raises(FunctionGemmaFormatError):
        parse_calls(text)


def test_tool_result_name_comes_from_name_then_call_id_then_position() -> None:
    messages = [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "a", "function": {"name": "first", "arguments": {}}},
                {"id": "b", "function": {"name": "second", "arguments": {}}},
            ],
        },
        {"role": "tool", "tool_call_id": "b", "content": "B"},
        {"role": "tool", "name": "first", "content": "A"},
    ]
    text = render_prompt(messages)
    assert "response:second{value:<escape>B<escape>}" in text
    assert "response:first{value:<escape>A<escape>}" in text


def test_bad_messages_and_profiles_are_typed_errors() -> None:
    with pytest.raises(FunctionGemmaFormatError, match="profile"):
        render_prompt([], profile="gguf")  # type: ignore[arg-type]
    with pytest.raises(FunctionGemmaFormatError, match="message 0"):
        render_prompt([{"content": "no role"}])
    with pytest.raises(FunctionGemmaFormatError, match="not valid JSON"):
        render_prompt([{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{oops"}}]}])
    with pytest.raises(FunctionGemmaFormatError, match="control token"):
        render_prompt([{"role": "user", "content": "<start_of_turn>user"}])
    with pytest.raises(FunctionGemmaFormatError, match="answers no call"):
        render_prompt([{"role": "tool", "content": "orphan"}])
