"""A seeded slice of the parser fuzz (the full 100,000 run is ``python -m benchmarks.codec_fuzz``).

Whatever the model writes, ``split_output`` either returns calls or raises :class:`FunctionGemmaFormatError`,
and every call it returns renders back to the same call: the parser accepts nothing the renderer refuses.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from converters.functiongemma import (
    PROFILES,
    FunctionGemmaFormatError,
    Profile,
    parse_calls,
    render_call,
    render_declaration,
    render_fields,
    render_prompt,
    split_output,
)
from tests.converters.fuzz_inputs import FAMILIES, fuzz_inputs

SLICE = 3_000


def test_the_parser_raises_only_its_typed_error_and_accepts_only_what_renders() -> None:
    outcomes: Counter[str] = Counter()
    families: Counter[str] = Counter()
    for family, text in fuzz_inputs(SLICE, seed=20261128):
        families[family] += 1
        try:
            calls, _ = split_output(text)
        except FunctionGemmaFormatError:
            outcomes["refused"] += 1
            continue
        outcomes["parsed"] += 1
        for call in calls:
            assert parse_calls(render_call(call.name, call.arguments)) == [call], (family, text[:200])
    assert outcomes["refused"] > 0 and outcomes["parsed"] > 0, outcomes
    assert len(families) >= len(FAMILIES) - 3, families  # the slice reaches most families, large ones are rare


def test_each_adversarial_family_at_full_size() -> None:
    """Every family at least 20 times, the megabyte and 10,000-deep ones included."""
    import random

    for family, make in FAMILIES.items():
        rng = random.Random(family)
        for _ in range(20):
            text = make(rng)
            try:
                calls, _ = split_output(text)
            except FunctionGemmaFormatError:
                continue
            for call in calls:
                assert parse_calls(render_call(call.name, call.arguments)) == [call], (family, text[:200])


# ------------------------------------------------------------------------------------ the render side is total

def _nested(levels: int, leaf: Any) -> Any:
    for _ in range(levels):
        leaf = {"a": leaf}
    return leaf


RENDER_REGRESSIONS: dict[str, Callable[[], object]] = {
    "an integer past Python's digit limit": lambda: render_call("f", {"x": 10**5000}),
    "JSON-string arguments 5,000 deep": lambda: render_call("f", '{"a":' * 5000 + "1" + "}" * 5000),
    "an enum that is a number": lambda: render_declaration(
        {"function": {"name": "f", "parameters": {"type": "object", "properties": {
            "x": {"type": "string", "enum": 5}}}}}),
    "a required list that is a number": lambda: render_declaration(
        {"function": {"name": "f", "parameters": {"type": "object", "properties": {
            "x": {"type": "object", "properties": {}, "required": 3}}}}}),
    "an items schema 5,000 deep": lambda: render_declaration(
        {"function": {"name": "f", "parameters": {"type": "object", "properties": {
            "x": {"type": "array", "items": {"default": _nested(5000, 1)}}}}}}),
    "messages that are None": lambda: render_prompt(None),  # type: ignore[arg-type]
    "tool calls that are a number": lambda: render_prompt([{"role": "assistant", "tool_calls": 5}]),
    "a field value that is a number": lambda: render_fields("h", [("a", 5)]),  # type: ignore[list-item]
}


@pytest.mark.parametrize("make", RENDER_REGRESSIONS.values(), ids=list(RENDER_REGRESSIONS))
def test_bad_input_to_a_renderer_is_a_typed_error(make: Callable[[], object]) -> None:
    with pytest.raises(FunctionGemmaFormatError):
        make()


def test_the_parser_refuses_a_control_token_inside_a_string_as_the_renderer_does() -> None:
    with pytest.raises(FunctionGemmaFormatError, match="control token"):
        render_call("f", {"k": "a<end_of_turn>b"})
    with pytest.raises(FunctionGemmaFormatError, match="a string holds the control token <end_of_turn>"):
        parse_calls("<start_function_call>call:f{k:<escape>a<end_of_turn>b<escape>}<end_function_call>")


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
message_like = st.one_of(
    json_like,
    st.fixed_dictionaries(
        {"role": st.sampled_from(["system", "user", "assistant", "tool", 3])},
        optional={"content": json_like, "tool_calls": json_like, "name": json_like, "tool_call_id": json_like},
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(message_like, max_size=4), st.one_of(st.none(), st.lists(json_like, max_size=2)),
       st.sampled_from(PROFILES))
def test_render_prompt_on_any_json_raises_only_its_typed_error(messages: Any, tools: Any, profile: Profile) -> None:
    with contextlib.suppress(FunctionGemmaFormatError):
        render_prompt(messages, tools, profile=profile)
