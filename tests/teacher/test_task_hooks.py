"""The protocol's optional hooks: every task inherits the defaults, and the tasks that need one override it."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from converters.functiongemma import ToolCall
from examples.naming_style import NamingInput, NamingStyleTask
from finetune.evaluate import _task_metrics
from finetune.pipeline import PIPELINE_DATA
from interpreters.heuristic import HeuristicModel
from tasks.cli_intent.metrics import cli_intent_metrics
from tasks.cli_intent.task import CliIntentInput
from tasks.propose_queries import ModuleSymbol, ProposeQueriesInput
from tasks.registry import TASKS
from tasks.score_edge import EdgeType, ScoreEdgeInput
from tasks.select_symbols import Candidates, SelectSymbolsInput
from tasks.select_symbols.negatives import InvertTopicInput
from teacher.compare import agreement
from teacher.model import request_for
from teacher.task import (
    AllowsParallelCalls,
    Compared,
    DropsTurns,
    FineTrainingTeacher,
    GivesCounterparts,
    HasConversation,
    HasFallback,
    HasFreeText,
    HasHeuristic,
    HasMetrics,
    HasNegatives,
    HasSplitKeys,
    JoinsSplitKeys,
    Turn,
    free_text_fields,
    input_key,
    parallel_calls,
    split_keys,
    topic_key,
)

SELECT = SelectSymbolsInput(
    topic="How are orders validated before payment?", symbol="save", module="store",
    candidates=Candidates(inputs=("Record",), output=("Receipt",)),
)
EDGE = ScoreEdgeInput(
    query="What breaks if a status is added?", source_file="a.py", source_line=3, source_hover="class Status",
    target_file="b.py", target_line=9, target_hover="def describe(s: Status)", edge_type=EdgeType.usage,
)


def test_every_task_subclasses_the_protocol_and_has_only_its_own_capabilities() -> None:
    for name, task in TASKS.items():
        assert FineTrainingTeacher in type(task).__mro__, name  # explicitly, not only structurally
    assert {name for name, task in TASKS.items() if isinstance(task, Compared)} == {"select_symbols", "score_edge"}
    gh = TASKS["cli_intent:gh"]
    request = CliIntentInput(request="list my pull requests")
    assert not isinstance(gh, HasConversation) and not isinstance(gh, HasHeuristic)
    assert not isinstance(gh, HasFallback) and gh.split_keys(request) == []
    assert not isinstance(gh, HasNegatives)


#: which optional capabilities each task has: generic code asks isinstance, never compares methods
CAPABILITIES = {
    "select_symbols": {Compared, DropsTurns, HasFallback, HasFreeText, HasHeuristic, HasNegatives, HasSplitKeys},
    "score_edge": {Compared, HasFreeText, HasHeuristic, HasSplitKeys},
    "invert_topic": {GivesCounterparts, HasHeuristic, HasSplitKeys},
    "propose_queries": {HasHeuristic},
    "cli_intent:gh": {HasFreeText, HasMetrics, HasSplitKeys, JoinsSplitKeys},
    "subagent_lint": {HasConversation, HasFreeText, HasSplitKeys},
}


@pytest.mark.parametrize("name", sorted(CAPABILITIES))
def test_each_task_has_exactly_its_capabilities(name: str) -> None:
    every = {AllowsParallelCalls, Compared, DropsTurns, GivesCounterparts, HasConversation, HasFallback, HasFreeText,
             HasHeuristic, HasMetrics, HasNegatives, HasSplitKeys, JoinsSplitKeys}
    assert {c for c in every if isinstance(TASKS[name], c)} == CAPABILITIES[name]
    assert isinstance(NamingStyleTask(), HasHeuristic) and isinstance(NamingStyleTask(), HasMetrics)
    assert not isinstance(NamingStyleTask(), Compared | HasNegatives | HasFreeText)


def test_the_default_split_key_is_a_hash_of_the_rendered_input() -> None:
    task = TASKS["propose_queries"]  # no split keys of its own
    module = ProposeQueriesInput(module="shop.cart", symbols=(ModuleSymbol(name="Cart", kind="class"),))
    other = module.model_copy(update={"module": "shop.pay"})
    [key] = split_keys(task, module)
    assert key == input_key(task, module) and key.startswith("input:")
    assert split_keys(task, module.model_copy()) == [key]  # the same question, the same group
    assert split_keys(task, other) != [key] and task.render(other) != task.render(module)
    # a task with keys of its own keeps them; a task without topic or query no longer gets an empty key list
    assert split_keys(TASKS["score_edge"], EDGE) == ["symbol:a.py:3"]
    assert free_text_fields(task) == frozenset() and free_text_fields(TASKS["score_edge"]) == {"reasoning"}


class _SeveralCalls(NamingStyleTask):
    """A task whose answer may hold several calls (the capability, declared as a member)."""

    parallel_calls = True


def test_parallel_calls_is_a_capability_the_request_carries() -> None:
    """``request_for`` asks ``isinstance(task, AllowsParallelCalls)`` (before: ``getattr(task, "parallel_calls")``)."""
    many, one = _SeveralCalls(), NamingStyleTask()
    assert isinstance(many, AllowsParallelCalls) and not isinstance(one, AllowsParallelCalls)
    assert parallel_calls(many) is True and parallel_calls(one) is False
    assert request_for(many, NamingInput(identifier="parse_url")).parallel_calls is True
    assert request_for(one, NamingInput(identifier="parse_url")).parallel_calls is False
    assert not any(parallel_calls(task) for task in TASKS.values())  # every built-in task answers one call
    declined = _SeveralCalls()
    declined.parallel_calls = False  # the member says whether: having it is not enough
    assert request_for(declined, NamingInput(identifier="parse_url")).parallel_calls is False


def test_split_keys_are_the_symbol_the_edge_source_or_the_topic() -> None:
    assert TASKS["select_symbols"].split_keys(SELECT) == ["symbol:store.save"]
    assert TASKS["score_edge"].split_keys(EDGE) == ["symbol:a.py:3"]
    inverted = InvertTopicInput(topic="How is data written to the cache?")
    assert TASKS["invert_topic"].split_keys(inverted) == [topic_key("how is data WRITTEN to the cache")]


def test_select_symbols_negatives_take_the_teachers_counterpart_else_the_heuristics() -> None:
    task = TASKS["select_symbols"]
    turn = Turn("select_symbols", SELECT, (ToolCall("select_symbols", {"selected": ["Record"]}),))
    [(negative, source)] = task.negatives(turn, {SELECT.topic: "How are orders paid without checks?"}, {"teacher"})
    assert source == "teacher" and negative.input.topic == "How are orders paid without checks?"
    assert negative.calls == (ToolCall("select_symbols", {"selected": []}),)
    [(negative, source)] = task.negatives(turn, {}, {"teacher", "heuristic"})
    assert source == "heuristic" and negative.input.topic == "How are orders unvalidated before payment?"
    assert task.negatives(turn, {}, {"teacher"}) == []
    unknown = Turn("select_symbols", SELECT.model_copy(update={"topic": "How is a cache read?"}), turn.calls)
    assert task.negatives(unknown, {}, {"heuristic"}) == []  # no known opposite: no negative


def test_invert_topic_answers_are_counterparts() -> None:
    task = TASKS["invert_topic"]
    input = InvertTopicInput(topic="blocking reads")
    assert task.counterpart(Turn(task.name, input, (ToolCall("invert_topic", {"inverted_topic": "async"}),))) == (
        "blocking reads", "async")
    assert task.counterpart(Turn(task.name, input, ())) is None


def test_the_fallback_returns_the_output_and_how() -> None:
    output, how = TASKS["select_symbols"].fallback(ToolCall("select_symbols", {"selected": ["Nope"]}), SELECT)
    assert how == "selected_all" and output.selected == ["Record", "Receipt"]


def test_agreement_is_the_tasks_own_and_matches_teacher_compare() -> None:
    pairs = {
        "select_symbols": ({"selected": ["A", "B"]}, {"selected": ["B"]}),
        "score_edge": (
            {"relevance": 4, "risk": 2, "is_exhaustive": True, "is_type_family": False, "is_exported": True},
            {"relevance": 2, "risk": 2, "is_exhaustive": False, "is_type_family": False, "is_exported": True},
        ),
    }
    for name, (teacher, student) in pairs.items():  # teacher.compare adds the one definition of "exact"
        assert agreement(name, teacher, student) == {**TASKS[name].agreement(teacher, student), "exact": 0.0}
    assert TASKS["select_symbols"].agreement(*pairs["select_symbols"]) == {"jaccard": 0.5}
    assert TASKS["score_edge"].agreement(*pairs["score_edge"])["relevance_abs_diff"] == 2


def test_cli_intent_metrics_come_through_the_hook() -> None:
    run = [ToolCall("run_command", {"command": "pr", "subcommand": "list", "args": {}, "flags": [],
                                    "confidence": 0.95})]
    ask = [ToolCall("clarify", {"message": "which?", "suggestions": ["pr view"], "confidence": 0.3})]
    expected, predicted = [run, ask], [run, None]
    figures = TASKS["cli_intent:gh"].metrics(expected, predicted)
    assert figures == cli_intent_metrics(expected, predicted) and figures["examples"] == 2.0
    assert _task_metrics(TASKS["score_edge"], expected, predicted) == {}  # a task without the capability: none


def test_the_heuristic_backend_answers_any_task_with_a_heuristic() -> None:
    call, reasoning = HeuristicModel.answer(TASKS["score_edge"], EDGE)
    assert call is not None and call.name == "score_edge" and reasoning
    assert HeuristicModel.answer(TASKS["invert_topic"], InvertTopicInput(topic="nothing to flip")) == (
        None, "No known opposite term in the topic.")
    # a request that carries only a task's name (a dataset line of an unknown task) cannot be answered
    naming = request_for(NamingStyleTask(), NamingInput(identifier="parseUrl"))
    with pytest.raises(ValueError, match="cannot answer task 'naming_style'"):
        asyncio.run(HeuristicModel().complete(replace(naming, task=None)))
    # the task object itself answers, registered or not: no registry is asked
    assert "naming_style" not in TASKS
    call, _ = HeuristicModel.answer(NamingStyleTask(), NamingInput(identifier="parseUrl"))
    assert call == ToolCall("report_style", {"style": "camelCase", "confidence": 0.9})
    assert asyncio.run(HeuristicModel().complete(naming)).calls == (call,)
    with pytest.raises(ValueError, match="cannot answer task 'cli_intent:gh'"):
        HeuristicModel.answer(TASKS["cli_intent:gh"], CliIntentInput(request="x"))
    with pytest.raises(ValueError, match="with input SelectSymbolsInput"):
        HeuristicModel.answer(TASKS["score_edge"], SELECT)


def test_the_pipelines_schema_data_maker_reports_a_missing_schema(tmp_path: Path) -> None:
    problem = PIPELINE_DATA["schema"](str(tmp_path / "missing.yaml"), 10, "x", tmp_path / "data")
    assert problem is not None and "missing.yaml" in problem
