"""The call grammar against the codec: what it accepts parses (and validates), what the codec renders it accepts."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from converters.functiongemma import (
    CONTROL_TOKENS,
    END_TURN,
    START_RESPONSE,
    FunctionGemmaFormatError,
    parse_calls,
    render_call,
    split_output,
)
from converters.functiongemma_grammar import call_grammar, sample, units, wire_text
from tasks.cli_intent.shipped import resolve_schema
from tasks.cli_intent.tools import cli_tools
from tasks.propose_queries.task import PROPOSE_QUERIES
from tasks.score_edge.task import SCORE_EDGE
from tasks.select_symbols.negatives import INVERT_TOPIC
from tasks.select_symbols.task import SELECT_SYMBOLS
from tasks.subagents.definition import load_definition
from teacher.tools import Tool, ToolArgumentsError
from tests.converters.strategies import keys

GH = resolve_schema("gh")[0]
LINT = load_definition("tasks/subagents/lint/definition.yaml")
candidate_names = st.lists(st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,12}", fullmatch=True), max_size=6, unique=True)
TOOL_SETS: dict[str, list[Tool[Any]]] = {
    "score_edge": [SCORE_EDGE],
    "invert_topic": [INVERT_TOPIC],
    "propose_queries": [PROPOSE_QUERIES],
    "cli_intent:gh": list(cli_tools(GH)),
    "subagent_lint": [t.tool for t in LINT.tools],
}


def tool_sets() -> st.SearchStrategy[tuple[list[Tool[Any]], str]]:
    fixed = st.sampled_from(sorted(TOOL_SETS)).map(lambda name: (TOOL_SETS[name], "hf"))
    selects = candidate_names.map(lambda names: ([SELECT_SYMBOLS.restrict("selected", names)], "hf"))
    return st.one_of(fixed, selects).flatmap(lambda pair: st.sampled_from(["hf", "ollama"]).map(
        lambda profile: (pair[0], profile)))


def terminator(profile: str) -> str:
    return START_RESPONSE if profile == "hf" else END_TURN


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tool_sets(), st.data())
def test_every_answer_the_grammar_accepts_parses_and_validates(pair: tuple[list[Tool[Any]], str], data: st.DataObject
                                                                ) -> None:
    tools, profile = pair
    grammar = call_grammar([t.openai() for t in tools], profile=profile)
    text = sample(grammar, lambda n: data.draw(st.integers(0, n - 1)))
    assert grammar.accepts(text)
    calls, content = split_output(text)
    assert content == "" and len(calls) == 1 and text.endswith(terminator(profile))
    (call,) = calls
    tool = {t.name: t for t in tools}[call.name]
    tool.validate(call.arguments)  # the declared types, enums, ranges and the request's candidates, by construction


def _value(schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Values a schema accepts (strings without a spelt-out control token's start: ``<<``, ``<s``, ``<e``)."""
    if "anyOf" in schema:
        return st.one_of([_value(s) for s in schema["anyOf"] if s.get("type") != "null"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        text = st.text(min_size=low, max_size=high if high is not None else 40)
        return text.filter(lambda s: not re.search("<[<se]", s) and (high is None or "<" not in s))
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        items = schema.get("items", {})
        low, high = schema.get("minItems", 0), schema.get("maxItems", 4)
        unique = "enum" in items
        return st.lists(_value(items), min_size=low, max_size=high, unique=unique)
    if kind == "object":
        properties = schema.get("properties") or {}
        if not properties:
            return st.dictionaries(keys, _value(schema.get("additionalProperties") or {"type": "string"}), max_size=4)
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries({k: _value(v) for k, v in properties.items() if k in required},
                                     optional={k: _value(v) for k, v in properties.items() if k not in required})
    return st.one_of(st.text(max_size=5).filter(lambda s: not re.search("<[<se]", s)), st.integers(), st.booleans())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tool_sets(), st.data())
def test_every_call_the_codec_renders_for_a_valid_answer_is_accepted(
    pair: tuple[list[Tool[Any]], str], data: st.DataObject
) -> None:
    tools, profile = pair
    tool = data.draw(st.sampled_from(tools))
    arguments = data.draw(_value(tool.parameters()))
    try:
        tool.validate(arguments)
    except ToolArgumentsError:
        return  # the schema allows it but the task's model does not (a rule no declaration states)
    grammar = call_grammar([t.openai() for t in tools], profile=profile)
    text = render_call(tool.name, arguments, profile=profile) + terminator(profile)
    assert grammar.accepts(text), text


SELECT = [SELECT_SYMBOLS.restrict("selected", ["Order", "Money"]).openai()]


@pytest.mark.parametrize(("answer", "why"), [
    ("call:select_symbols{selected:[<escape>Total<escape>]}", "a name that is not a candidate"),
    ("call:select_symbols{selected:[<escape>Order<escape>,<escape>Order<escape>]}", "a candidate twice"),
    ("call:select_symbol{selected:[]}", "a tool that is not declared"),
    ("call:select_symbols{selected:[],selected:[]}", "a key twice"),
])
def test_what_the_request_does_not_allow_is_refused(answer: str, why: str) -> None:
    grammar = call_grammar(SELECT)
    empty = "<start_function_call>call:select_symbols{selected:[]}<end_function_call>"
    assert grammar.accepts(empty + START_RESPONSE)
    assert not grammar.accepts(f"<start_function_call>{answer}<end_function_call>{START_RESPONSE}"), why


def _score(**changes: str) -> str:
    fields = {"is_exhaustive": "false", "is_exported": "true", "is_type_family": "false",
              "reasoning": "<escape>ok<escape>", "relevance": "3", "risk": "2"} | changes
    body = ",".join(f"{k}:{v}" for k, v in fields.items())
    return f"<start_function_call>call:score_edge{{{body}}}<end_function_call>{START_RESPONSE}"


def test_ranges_booleans_key_order_and_strings_follow_the_declaration() -> None:
    grammar = call_grammar([SCORE_EDGE.openai()])
    assert grammar.accepts(_score())
    assert not grammar.accepts(_score(relevance="7")) and not grammar.accepts(_score(risk="0"))
    assert not grammar.accepts(_score(is_exported="yes"))
    assert not grammar.accepts(_score(reasoning="ok"))  # a string is inside <escape>
    assert not grammar.accepts(_score(reasoning="<escape>a <start_of_turn> b<escape>"))
    assert grammar.accepts(_score(reasoning="<escape>a < b, x<y and <= 2<<escape>"))
    swapped = _score().replace("relevance:3,risk:2", "risk:2,relevance:3")
    assert not grammar.accepts(swapped)  # keys in the codec's order only


def test_one_call_unless_the_task_allows_parallel_calls() -> None:
    one = "<start_function_call>call:select_symbols{selected:[]}<end_function_call>"
    assert not call_grammar(SELECT).accepts(one * 2 + START_RESPONSE)
    assert call_grammar(SELECT, parallel=True).accepts(one * 2 + START_RESPONSE)


def test_forced_text_and_labelled_branches() -> None:
    run, clarify = cli_tools(GH)
    matcher = call_grammar([run.openai(), clarify.openai()]).matcher()
    assert wire_text(matcher.forced()) == "<start_function_call>call:"
    matcher = matcher.feed(matcher.forced())
    assert matcher is not None and matcher.labels() == {"tool": {0, 1}}
    assert matcher.branches("r") == {("tool", 0)} and matcher.branches("c") == {("tool", 1)}
    after = matcher.feed("r")
    assert after is not None and wire_text(after.forced()) == "un_command{"
    select = call_grammar(SELECT).matcher()
    select = select.feed(select.forced() + "selected:[")
    assert select is not None and select.labels() == {"select_symbols.selected": {0, 1, 2}}
    assert select.branches("]") == {("select_symbols.selected", 0)}


def test_units_keep_control_tokens_whole() -> None:
    for token in CONTROL_TOKENS:
        assert len(units(token) or "") == 1 and wire_text(units(token) or "") == token
    assert units("\U000f0000") is None  # text holding a unit character is never taken for a control token


def test_a_number_in_the_unit_interval_is_written_as_python_writes_it() -> None:
    _, clarify = cli_tools(GH)
    grammar = call_grammar([clarify.openai()])
    for confidence in (0.0, 1.0, 0.5, 1e-05, 5e-324, 0.123456789):
        text = render_call("clarify", {"confidence": confidence, "message": "which?", "suggestions": []})
        assert grammar.accepts(text + START_RESPONSE), confidence
        assert math.isclose(parse_calls(text)[0].arguments["confidence"], confidence)
    too_big = render_call("clarify", {"confidence": 1.5, "message": "which?", "suggestions": []})
    assert not grammar.accepts(too_big + START_RESPONSE)
    nine = render_call("clarify", {"confidence": 1.0, "message": "which?", "suggestions": []}).replace("1.0", "9e-00")
    assert not grammar.accepts(nine + START_RESPONSE)  # 9e-00 is 9


def test_a_tool_list_must_not_be_empty() -> None:
    with pytest.raises(FunctionGemmaFormatError, match="at least one"):
        call_grammar([])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tool_sets(), st.data())
def test_an_answer_cut_anywhere_is_closed_by_its_shortest_ending(pair: tuple[list[Tool[Any]], str],
                                                                 data: st.DataObject) -> None:
    tools, profile = pair
    grammar = call_grammar([t.openai() for t in tools], profile=profile)
    text = units(sample(grammar, lambda n: data.draw(st.integers(0, n - 1)))) or ""
    cut = data.draw(st.integers(0, len(text)))
    matcher = grammar.matcher().feed(text[:cut])
    assert matcher is not None
    ending = matcher.shortest()
    closed = matcher.feed(ending)
    assert closed is not None and closed.done
    (call,) = parse_calls(wire_text(text[:cut] + ending))
    {t.name: t for t in tools}[call.name].validate(call.arguments)


def test_an_enum_array_cut_after_several_items_is_closed_by_its_shortest_ending() -> None:
    """The case hypothesis found: the ending was computed from a freed node's memo entry (ids are reused)."""
    grammar = call_grammar([t.openai() for t in TOOL_SETS["cli_intent:gh"]], profile="hf")
    head = "<start_function_call>call:run_command{command:<escape>pr<escape>,confidence:0,flags:["
    flags = ["draft", "web", "comments", "fill"]
    for count in range(1, len(flags) + 1):
        cut = units(head + ",".join(f"<escape>{flag}<escape>" for flag in flags[:count]) + ",") or ""
        matcher = grammar.matcher().feed(cut)
        assert matcher is not None
        ending = matcher.shortest()
        closed = matcher.feed(ending)
        assert closed is not None and closed.done, (count, wire_text(ending))
        (call,) = parse_calls(wire_text(cut + ending))
        assert call.arguments["flags"][:count] == flags[:count]


def test_the_shortest_ending_of_a_long_candidate_list_is_found_without_trying_every_subset() -> None:
    """select_symbols over 24 candidates: the ending after ``[`` is ``]`` (2^24 subsets were once walked)."""
    names = [f"name_{n}" for n in range(24)]
    grammar = call_grammar([SELECT_SYMBOLS.restrict("selected", names).openai()], profile="hf")
    head = "<start_function_call>call:select_symbols{selected:["
    for cut in (head, head + "<escape>name_3<escape>", head + "<escape>name_3<escape>,<escape>name_1"):
        matcher = grammar.matcher().feed(units(cut) or "")
        assert matcher is not None
        ending = matcher.shortest()
        closed = matcher.feed(ending)
        assert closed is not None and closed.done, (cut, wire_text(ending))
        (call,) = parse_calls(wire_text((units(cut) or "") + ending))
        assert call.arguments["selected"][:1] == ([] if cut == head else ["name_3"])


def test_a_map_key_never_reaches_its_longest_length_as_a_name_already_used() -> None:
    """A model looping on a key (``command_subcommand_subcommand...``) once reached a used key of the longest length,
    where neither ``:`` nor another character was allowed: decoding had no token to take."""
    from converters.functiongemma_grammar import MAX_KEY_LENGTH

    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {
        "m": {"type": "object", "additionalProperties": {"type": "string"}}}}}}
    grammar = call_grammar([tool], profile="hf")
    longest = "a" * MAX_KEY_LENGTH
    head = units(f"<start_function_call>call:f{{m:{{{longest}:<escape>x<escape>,") or ""
    matcher = grammar.matcher().feed(head)
    assert matcher is not None
    almost = matcher.feed("a" * (MAX_KEY_LENGTH - 1))
    assert almost is not None
    assert almost.feed("a") is None  # the used key at its longest: refused before it is a dead end
    assert almost.feed("b:") is not None  # a new key of the longest length is fine
    ending = almost.shortest()
    closed = almost.feed(ending)
    assert closed is not None and closed.done
