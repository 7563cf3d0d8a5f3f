"""The ollama profile against the render and parse cases of Ollama's own functiongemma tests (../shared)."""

from __future__ import annotations

from typing import Any

import pytest

from converters.functiongemma import parse_calls, render_prompt, split_output
from tests.conftest import shared_json

VECTORS = "testdata/ollama_functiongemma_vectors.json"


def _cases(kind: str) -> list[Any]:
    try:
        return list(shared_json(VECTORS)[kind])
    except pytest.skip.Exception:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"../shared/{VECTORS} is absent"))]


def _name(case: Any) -> str:
    return case["name"] if isinstance(case, dict) else "absent"


def test_vector_counts() -> None:
    vectors = shared_json(VECTORS)
    assert len(vectors["render"]) == 22
    assert len(vectors["parse"]) == 19


@pytest.mark.parametrize("case", _cases("render"), ids=_name)
def test_ollama_profile_renders_byte_for_byte(case: dict[str, Any]) -> None:
    assert render_prompt(case["messages"], case["tools"], profile="ollama") == case["expected"]


@pytest.mark.parametrize("case", _cases("parse"), ids=_name)
def test_parser_gives_ollamas_calls_and_content(case: dict[str, Any]) -> None:
    # Ollama's parser is streaming; ours reads the whole text. For "content_between_tool_calls" the vector's
    # note says Ollama drops the text between two calls when the whole text arrives in one Add(); we keep it,
    # which is what the chunked Go test expects too.
    assert "".join(case["chunks"]) == case["input"]
    calls, content = split_output(case["input"])
    expected = [(c["name"], c["arguments"]) for c in case["expected_tool_calls"]]
    assert [(c.name, c.arguments) for c in calls] == expected
    assert [i for i, _ in enumerate(calls)] == [c["index"] for c in case["expected_tool_calls"]]
    assert content == case["expected_content"]
    assert parse_calls(case["input"]) == calls
    for call, wanted in zip(calls, case["expected_tool_calls"], strict=True):
        _assert_same_types(call.arguments, wanted["arguments"])


def _assert_same_types(got: Any, wanted: Any) -> None:
    """Integers stay integers and floats stay floats (the Go test compares int64 and float64)."""
    if isinstance(wanted, dict):
        for key in wanted:
            _assert_same_types(got[key], wanted[key])
    elif isinstance(wanted, list):
        for g, w in zip(got, wanted, strict=True):
            _assert_same_types(g, w)
    else:
        assert type(got) is type(wanted), (got, wanted)
