"""Property tests: rendering then parsing gives back exactly the arguments; the parser is total."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from converters.functiongemma import (
    FunctionGemmaFormatError,
    ToolCall,
    parse_calls,
    render_call,
    split_output,
)
from tests.converters.strategies import arguments, names, texts


def strictly_equal(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (1 is not 1.0, True is not 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(strictly_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(strictly_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return repr(a) == repr(b)
    return bool(a == b)


def as_ollama(value: Any) -> Any:
    """What survives the ollama profile: integral floats within int64 become integers, as in Ollama."""
    if isinstance(value, dict):
        return {k: as_ollama(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_ollama(v) for v in value]
    if isinstance(value, float) and value == int(value) and abs(value) < 2**63:
        return int(value)
    return value


@settings(max_examples=400)
@given(names, arguments)
def test_hf_round_trip_is_exact(name: str, args: dict[str, Any]) -> None:
    [call] = parse_calls(render_call(name, args))
    assert call.name == name
    assert strictly_equal(call.arguments, args)


@settings(max_examples=300)
@given(names, arguments)
def test_ollama_round_trip_keeps_values(name: str, args: dict[str, Any]) -> None:
    [call] = parse_calls(render_call(name, args, profile="ollama"))
    assert call == ToolCall(name, call.arguments)
    assert strictly_equal(call.arguments, as_ollama(args))


@settings(max_examples=200)
@given(st.lists(st.tuples(names, arguments), max_size=3), st.lists(texts, min_size=4, max_size=4))
def test_split_output_separates_calls_and_text(calls: list[tuple[str, dict[str, Any]]], gaps: list[str]) -> None:
    text = gaps[0] + "".join(render_call(n, a) + gaps[(i % 3) + 1] for i, (n, a) in enumerate(calls))
    parsed, content = split_output(text)
    assert [(c.name, c.arguments) for c in parsed] == calls
    assert content == gaps[0] + "".join(gaps[(i % 3) + 1] for i in range(len(calls)))


FRAGMENTS = [
    "<start_function_call>", "<end_function_call>", "call:", "f", "{", "}", "[", "]", ",", ":", "<escape>",
    "true", "false", "1", "-", ".5", "e+9", "x", " ", "<end_of_turn>", "<start_function_response>", "0", "9" * 5000,
]


def _parse_or_typed_error(text: str) -> None:
    try:
        result = parse_calls(text)
    except FunctionGemmaFormatError:
        return
    assert all(isinstance(call, ToolCall) for call in result)


@settings(max_examples=500)
@given(st.text())
def test_parser_is_total_on_arbitrary_text(text: str) -> None:
    _parse_or_typed_error(text)


@settings(max_examples=1000)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join))
def test_parser_is_total_on_format_like_text(text: str) -> None:
    _parse_or_typed_error(text)



@settings(max_examples=300)
@given(st.lists(st.tuples(names, arguments), min_size=1, max_size=3), texts, st.sampled_from(["hf", "ollama"]))
def test_argument_spans_cover_each_value_exactly_as_rendered(
    calls: list[tuple[str, dict[str, Any]]], before: str, profile: str
) -> None:
    from converters.functiongemma import argument_spans, render_value

    text = before + "".join(render_call(name, args, profile=profile) for name, args in calls) + "<end_of_turn>"
    spans = argument_spans(text)
    expected = [(call.name, key, value) for call in parse_calls(text) for key, value in call.arguments.items()]
    assert [(s.call, s.argument) for s in spans] == [(name, key) for name, key, _ in expected]  # in order written
    for span, (_, key, value) in zip(spans, expected, strict=True):
        # the value's text is exactly what the renderer writes for it, between its key and the next delimiter
        assert text[span.start:span.end] == render_value(value, profile=profile)  # type: ignore[arg-type]
        assert text[span.start - len(key) - 1:span.start] == key + ":"
        assert text[span.end] in ",}"
