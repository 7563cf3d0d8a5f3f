"""The hf profile against FunctionGemma's own renderings, and the shipped Jinja chat template against the codec.

``../shared/testdata/functiongemma_hf_renderings.json`` holds renderings made by FunctionGemma's chat template
(transformers' ``apply_chat_template`` in Google's gemma-cookbook notebooks) with their inputs: the authority for
the ``hf`` profile. The project's own template (``converters/functiongemma_chat_template.jinja``) must give the
codec's bytes for any conversation, rendered the way transformers renders chat templates, and refuse what the
codec refuses.
"""

from __future__ import annotations

import json
import math
from typing import Any

import jinja2
import jinja2.ext
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2.sandbox import ImmutableSandboxedEnvironment

from converters.functiongemma import (
    BOS,
    DEVELOPER_PROMPT,
    FunctionGemmaFormatError,
    hf_chat_template,
    render_prompt,
)
from tests.conftest import shared_json
from tests.converters.strategies import arguments, keys, names, texts, values

RENDERINGS = "testdata/functiongemma_hf_renderings.json"


def _raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def _tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None, separators: Any = None,
            sort_keys: bool = False) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _environment() -> jinja2.Environment:
    """A Jinja environment set up as transformers compiles chat templates (sandboxed, trimmed blocks, its globals)."""
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    return env


TEMPLATE = _environment().from_string(hf_chat_template())


def render_template(messages: Any, tools: Any, add_generation_prompt: bool) -> str:
    """The shipped template's rendering, with the arguments transformers passes."""
    return TEMPLATE.render(
        messages=messages, tools=tools, add_generation_prompt=add_generation_prompt, bos_token=BOS, eos_token="<eos>"
    )


def _cases() -> list[dict[str, Any]]:
    return list(shared_json(RENDERINGS)["cases"])


# ------------------------------------------------------------------------------- FunctionGemma's renderings


def test_the_codec_reproduces_every_rendering_of_functiongemmas_template() -> None:
    cases = _cases()
    assert len(cases) == 8
    wrong = [
        case["name"]
        for case in cases
        if render_prompt(case["messages"], case["tools"], profile="hf",
                         add_generation_prompt=case["add_generation_prompt"]) != case["expected"]
    ]
    assert wrong == [], f"{len(cases) - len(wrong)}/{len(cases)} byte for byte; differ: {wrong}"


def test_the_shipped_template_reproduces_every_rendering() -> None:
    cases = _cases()
    wrong = [
        case["name"]
        for case in cases
        if render_template(case["messages"], case["tools"], case["add_generation_prompt"]) != case["expected"]
    ]
    assert wrong == [], f"{len(cases) - len(wrong)}/{len(cases)} byte for byte; differ: {wrong}"


def _weather_case(name_part: str) -> dict[str, Any]:
    return next(case for case in _cases() if name_part in case["name"])


def test_both_tool_result_conventions_render_the_same_block() -> None:
    google = _weather_case("as a list of")
    google_single = _weather_case("as one {name, response}")
    assert render_prompt(google["messages"], google["tools"]) == render_prompt(
        google_single["messages"], google_single["tools"]
    )
    # The codec's own convention: content is the response, the name comes from the call it answers.
    own = [*google["messages"][:3], {"role": "tool", "content": google["messages"][3]["content"][0]["response"]}]
    assert render_prompt(own, google["tools"]) == google["expected"]
    assert render_template(own, google["tools"], True) == google["expected"]


def test_parallel_results_in_googles_list_render_one_block_each() -> None:
    messages = [
        {"role": "user", "content": "both"},
        {"role": "assistant", "tool_calls": [
            {"function": {"name": "a", "arguments": {}}}, {"function": {"name": "b", "arguments": {}}},
        ]},
        {"role": "tool", "content": [{"name": "a", "response": {"x": 1}}, {"name": "b", "response": "done"}]},
    ]
    expected = (
        "<bos><start_of_turn>user\nboth<end_of_turn>\n<start_of_turn>model\n"
        "<start_function_call>call:a{}<end_function_call><start_function_call>call:b{}<end_function_call>"
        "<start_function_response>response:a{x:1}<end_function_response>"
        "<start_function_response>response:b{value:<escape>done<escape>}<end_function_response>"
    )
    assert render_prompt(messages) == expected
    assert render_template(messages, None, True) == expected


def test_tools_without_a_system_message_open_with_the_trigger_line() -> None:
    case = _weather_case("developer + user")
    messages = case["messages"][1:]  # no developer message
    assert case["messages"][0]["content"] == DEVELOPER_PROMPT
    assert render_prompt(messages, case["tools"]) == case["expected"]
    assert render_template(messages, case["tools"], True) == case["expected"]


@pytest.mark.parametrize(
    "tool_message",
    [
        {"role": "tool", "content": "orphan"},
        {"role": "tool", "tool_call_id": "nope", "content": {"k": 1}},
    ],
)
def test_a_tool_result_whose_name_cannot_be_found_is_a_clear_error(tool_message: dict[str, Any]) -> None:
    messages = [{"role": "user", "content": "hi"}, tool_message]
    with pytest.raises(FunctionGemmaFormatError, match="message 1: a tool result that answers no call"):
        render_prompt(messages)
    with pytest.raises(jinja2.exceptions.TemplateError, match="message 1: a tool result that answers no call"):
        render_template(messages, None, True)


def test_a_tool_result_list_mixing_conventions_is_refused() -> None:
    messages = [
        {"role": "assistant", "tool_calls": [{"function": {"name": "a", "arguments": {}}}]},
        {"role": "tool", "content": [{"name": "a", "response": 1}, {"type": "text", "text": "x"}]},
    ]
    with pytest.raises(FunctionGemmaFormatError, match="only \\{name, response\\} entries or only text parts"):
        render_prompt(messages)
    with pytest.raises(jinja2.exceptions.TemplateError, match="only \\{name, response\\} entries or only text parts"):
        render_template(messages, None, True)


# ------------------------------------------------------------------------- generated conversations, both ways

schema_text = texts
property_names = keys.filter(lambda k: k not in {"description", "type", "properties", "required", "nullable"})
scalar_schemas = st.one_of(
    st.builds(lambda d, kind: {"type": kind, "description": d}, schema_text,
              st.sampled_from(["string", "STRING", "integer", "number", "boolean"])),
    st.builds(lambda d, options: {"type": "string", "description": d, "enum": options}, schema_text,
              st.lists(texts, min_size=1, max_size=4)),
)


def _object_schema(description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "description": description, "properties": properties}
    if required:
        schema["required"] = required
    return schema


property_schemas = st.recursive(
    scalar_schemas,
    lambda inner: st.one_of(
        st.builds(
            _object_schema, schema_text, st.dictionaries(property_names, inner, max_size=3),
            st.lists(property_names, max_size=2),
        ),
        st.builds(lambda d, items: {"type": "array", "description": d, "items": items}, schema_text, inner),
    ),
    max_leaves=6,
)


@st.composite
def tools(draw: st.DrawFn) -> dict[str, Any]:
    """An OpenAI-style tool: nested objects, arrays, enums, required lists, or no parameters at all."""
    function: dict[str, Any] = {"name": draw(names), "description": draw(texts)}
    shape = draw(st.sampled_from(["properties", "empty", "none"]))
    if shape == "properties":
        properties = draw(st.dictionaries(property_names, property_schemas, min_size=1, max_size=4))
        function["parameters"] = {
            "type": draw(st.sampled_from(["object", "OBJECT"])),
            "properties": properties,
            "required": draw(st.lists(st.sampled_from(sorted(properties)), max_size=len(properties), unique=True)),
        }
    elif shape == "empty":
        function["parameters"] = {"type": "object", "properties": {}}
    return {"type": "function", "function": function}


tool_results = st.one_of(texts, st.dictionaries(keys, values, max_size=4))


@st.composite
def exchanges(draw: st.DrawFn, number: int) -> list[dict[str, Any]]:
    """A user turn, then a text answer or parallel calls answered in one of the tool-result conventions."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": draw(texts)}]
    if draw(st.booleans()):
        messages.append({"role": "assistant", "content": draw(texts)})
        return messages
    calls = [
        {"id": f"call-{number}-{i}", "type": "function",
         "function": {"name": draw(names), "arguments": draw(arguments)}}
        for i in range(draw(st.integers(1, 3)))
    ]
    assistant: dict[str, Any] = {"role": "assistant", "tool_calls": calls}
    if draw(st.booleans()):
        assistant["content"] = draw(texts)
    messages.append(assistant)
    convention = draw(st.sampled_from(["unanswered", "name", "id", "position", "google", "google-list"]))
    results = [draw(tool_results) for _ in calls]
    if convention == "google-list":
        entries = [{"name": c["function"]["name"], "response": r} for c, r in zip(calls, results, strict=True)]
        messages.append({"role": "tool", "content": entries})
    elif convention != "unanswered":
        for call, result in zip(calls, results, strict=True):
            message: dict[str, Any] = {"role": "tool"}
            if convention == "google":
                message["content"] = {"name": call["function"]["name"], "response": result}
            else:
                message["content"] = result
                if convention == "name":
                    message["name"] = call["function"]["name"]
                elif convention == "id":
                    message["tool_call_id"] = call["id"]
            messages.append(message)
        if draw(st.booleans()):
            messages.append({"role": "assistant", "content": draw(texts)})
    return messages


@st.composite
def conversations(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
    """Messages (with or without a system/developer message), tools, and the generation-prompt flag."""
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append({"role": draw(st.sampled_from(["system", "developer"])), "content": draw(texts)})
    for number in range(draw(st.integers(1, 3))):
        messages += draw(exchanges(number))
    return messages, draw(st.lists(tools(), max_size=3)), draw(st.booleans())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(conversations())
def test_the_template_and_the_codec_give_identical_bytes(conversation: tuple[Any, Any, bool]) -> None:
    messages, tool_list, add_generation_prompt = conversation
    expected = render_prompt(messages, tool_list, profile="hf", add_generation_prompt=add_generation_prompt)
    assert render_template(messages, tool_list, add_generation_prompt) == expected


# ------------------------------------------------------------------------------------------------- refusals

WEATHER = {
    "type": "function",
    "function": {"name": "f", "description": "d", "parameters": {"type": "object", "properties": {
        "x": {"type": "string", "description": "x"}}}},
}


def _call_with(arguments: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "go"},
        {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": arguments}}]},
    ]


REFUSED: list[tuple[str, list[dict[str, Any]], list[dict[str, Any]]]] = [
    ("null argument", _call_with({"x": None}), [WEATHER]),
    ("nested null", _call_with({"x": [1, {"y": None}]}), [WEATHER]),
    ("NaN", _call_with({"x": math.nan}), [WEATHER]),
    ("infinity", _call_with({"x": math.inf}), [WEATHER]),
    ("minus infinity", _call_with({"x": {"y": -math.inf}}), [WEATHER]),
    ("end of turn in a string", _call_with({"x": "a<end_of_turn>b"}), [WEATHER]),
    ("escape in a string", _call_with({"x": "a<escape>b"}), [WEATHER]),
    ("call token in a nested string", _call_with({"x": ["<start_function_call>"]}), [WEATHER]),
    ("colon in a key", _call_with({"a:b": 1}), [WEATHER]),
    ("brace in a function name", [{"role": "assistant", "tool_calls": [{"function": {"name": "f{", "arguments": {}}}]}],
     []),
    ("control token in the system message", [{"role": "system", "content": "<start_of_turn>user"}], []),
    ("control token in a user message", [{"role": "user", "content": "hi<end_of_turn>"}], []),
    ("control token in a tool description",
     [{"role": "user", "content": "hi"}],
     [{"type": "function", "function": {"name": "f", "description": "<end_function_declaration>"}}]),
    ("control token in a text result",
     [*_call_with({}), {"role": "tool", "content": "<end_function_response>"}], [WEATHER]),
    ("null in a Google result", [*_call_with({}), {"role": "tool", "content": {"name": "f", "response": None}}],
     [WEATHER]),
    ("a property named type",
     [{"role": "user", "content": "hi"}],
     [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {
         "type": "object", "properties": {"type": {"type": "string"}}}}}]),
    ("parameters without a type",
     [{"role": "user", "content": "hi"}],
     [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"properties": {}}}}]),
    ("a message without a role", [{"content": "hi"}], []),
]


@pytest.mark.parametrize(("what", "messages", "tool_list"), REFUSED, ids=[case[0] for case in REFUSED])
def test_what_the_codec_refuses_the_template_refuses(
    what: str, messages: list[dict[str, Any]], tool_list: list[dict[str, Any]]
) -> None:
    with pytest.raises(FunctionGemmaFormatError):
        render_prompt(messages, tool_list)
    with pytest.raises(jinja2.exceptions.TemplateError):
        render_template(messages, tool_list, True)


def test_the_template_asks_for_arguments_as_objects() -> None:
    """The one input the two treat differently: the codec reads a JSON-string argument, a template cannot."""
    messages = [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": '{"x": 1}'}}]}]
    assert "call:f{x:1}" in render_prompt(messages)
    with pytest.raises(jinja2.exceptions.TemplateError, match="arguments must be an object"):
        render_template(messages, None, True)
