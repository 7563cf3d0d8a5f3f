"""Decision fields, free text and the prior: exact judges decisions only, free text has its own token F1, and the
prior answers each decision field's most common training value."""

from __future__ import annotations

import pytest

from converters.functiongemma import ToolCall
from tasks.registry import TASKS
from teacher.evaluation import calls_agree, decisions_agree, differing_fields, free_text_similarity, token_f1
from teacher.prior import fit_prior, near_prior

EDGE = {"relevance": 4, "risk": 2, "reasoning": "The total is computed from the order lines.",
        "is_exhaustive": False, "is_type_family": False, "is_exported": True}


def edge(**changes: object) -> ToolCall:
    return ToolCall("score_edge", {**EDGE, **changes})


def test_every_task_declares_its_free_text_and_the_rest_are_decisions() -> None:
    assert TASKS["score_edge"].free_text_fields == {"reasoning"}
    assert TASKS["select_symbols"].free_text_fields == frozenset()  # the selected set is the decision
    assert TASKS["cli_intent:gh"].free_text_fields == {"confidence", "message", "suggestions"}
    assert TASKS["subagent_lint"].free_text_fields >= {"summary"}
    assert "issues_fixed" not in TASKS["subagent_lint"].free_text_fields


def test_decision_exact_ignores_a_reasoning_that_differs() -> None:
    free = TASKS["score_edge"].free_text_fields
    worded = edge(reasoning="It sums the line items, so it matters a lot.")
    assert decisions_agree([edge()], [worded], free)
    assert not calls_agree([edge()], [worded])  # the whole call differs, the decisions do not
    assert not decisions_agree([edge()], [edge(risk=3, reasoning="x")], free)
    assert not decisions_agree([edge()], [ToolCall("select_symbols", {"selected": []})], free)
    assert not decisions_agree([edge()], [], free)
    assert differing_fields([edge()], [edge(risk=3, reasoning="other")], free) == (["risk"], ["reasoning"])
    assert differing_fields([edge()], [ToolCall("x", {})], free) == (["(tool)"], [])
    similarity = free_text_similarity([edge()], [worded], free)
    assert set(similarity) == {"reasoning"} and 0.0 < similarity["reasoning"] < 1.0


def test_cli_intent_decisions_are_the_tool_command_arguments_and_flags() -> None:
    free = TASKS["cli_intent:gh"].free_text_fields
    run = ToolCall("run_command", {"command": "pr", "subcommand": "view", "args": {"number": 3}, "flags": ["web"],
                                   "confidence": 0.95})
    assert decisions_agree([run], [ToolCall(run.name, {**run.arguments, "confidence": 0.71})], free)
    assert not decisions_agree([run], [ToolCall(run.name, {**run.arguments, "flags": []})], free)
    ask = ToolCall("clarify", {"message": "Which PR?", "suggestions": ["pr view"], "confidence": 0.3})
    other = ToolCall("clarify", {"message": "Do you mean an issue?", "suggestions": ["issue view"], "confidence": 0.5})
    assert decisions_agree([ask], [other], free) and not decisions_agree([ask], [run], free)
    assert set(free_text_similarity([ask], [other], free)) == {"message", "suggestions"}  # confidence is no text


def test_token_f1() -> None:
    assert token_f1("the total is summed", "The total is summed") == 1.0
    assert token_f1("a b c d", "a b") == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    assert token_f1("a b", "c") == 0.0
    assert token_f1("", "") == 1.0


def test_the_prior_answers_each_decision_fields_most_common_training_value() -> None:
    training = [
        ("score_edge", [edge(relevance=4, risk=2, reasoning="first words")]),
        ("score_edge", [edge(relevance=4, risk=5, is_exported=False, reasoning="b")]),
        ("score_edge", [edge(relevance=4, risk=2, reasoning="c")]),
        ("score_edge", [edge(relevance=1, risk=2, is_exhaustive=True, reasoning="d")]),
        ("select_symbols", [ToolCall("select_symbols", {"selected": []})]),
        ("select_symbols", [ToolCall("select_symbols", {"selected": ["Order", "Money"]})]),
        ("select_symbols", [ToolCall("select_symbols", {"selected": ["Money", "Order"]})]),  # the same set
        ("select_symbols", [ToolCall("select_symbols", {"selected": ["Order"]})]),
    ]
    prior = fit_prior(training, source="fixture")
    [guess] = prior.answer("score_edge") or []
    assert guess.name == "score_edge"
    assert {k: v for k, v in guess.arguments.items() if k != "reasoning"} == {
        "relevance": 4, "risk": 2, "is_exhaustive": False, "is_type_family": False, "is_exported": True}
    assert guess.arguments["reasoning"] == "first words"  # free text: the first training text, no decision
    assert prior.shares["score_edge"] == {"(tool)": 1.0, "relevance": 0.75, "risk": 0.75, "is_exhaustive": 0.75,
                                          "is_type_family": 1.0, "is_exported": 0.75}
    [selection] = prior.answer("select_symbols") or []
    assert sorted(selection.arguments["selected"]) == ["Money", "Order"]  # the most common whole answer
    assert prior.shares["select_symbols"]["selected"] == 0.5
    assert prior.trained_on == {"score_edge": 4, "select_symbols": 4}
    assert prior.answer("cli_intent:gh") is None


def test_the_prior_picks_the_majority_tool_then_its_fields_and_drops_a_field_mostly_absent() -> None:
    def run(sub: str, **more: object) -> list[ToolCall]:
        return [ToolCall("run_command", {"command": "pr", "subcommand": sub, "confidence": 0.9, **more})]

    training = [
        ("cli_intent:gh", run("view", args={"number": 1})),
        ("cli_intent:gh", run("list")),
        ("cli_intent:gh", run("list")),
        ("cli_intent:gh", [ToolCall("clarify", {"message": "?", "suggestions": [], "confidence": 0.3})]),
    ]
    prior = fit_prior(training)
    [guess] = prior.answer("cli_intent:gh") or []
    assert guess.name == "run_command" and guess.arguments["subcommand"] == "list"
    assert "args" not in guess.arguments  # absent from 2 of the 3 run_command answers
    assert prior.shares["cli_intent:gh"]["(tool)"] == 0.75
    assert prior.shares["cli_intent:gh"]["args"] == pytest.approx(2 / 3)


def test_a_figure_near_the_prior_is_marked() -> None:
    assert near_prior(0.72, 0.70) and near_prior(0.75, 0.70) and near_prior(0.40, 0.70)
    assert not near_prior(0.76, 0.70)
