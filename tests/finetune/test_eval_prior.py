"""``finetune eval`` shows the prior (each decision field's most common training value) beside the models, marks a
tuned figure within 5 points of it, and writes every answer to predictions.jsonl."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from converters.functiongemma import ToolCall
from finetune.evaluate import evaluate, write_report
from tasks.score_edge import ScoreEdgeTask
from tasks.score_edge.task import EdgeType, ScoreEdgeInput
from tasks.select_symbols import Candidates, SelectSymbolsInput, SelectSymbolsTask
from teacher.task import FineTrainingTeacher, Turn
from tests.fake_ollama import FakeOllama

STUDENT = "ollama:functiongemma-student"


def _edge_input(index: int) -> ScoreEdgeInput:
    return ScoreEdgeInput(query=f"what breaks if status {index} is added", source_file="shop/models.py",
                          source_line=7 + index, source_hover="class S(Enum)", target_file="shop/models.py",
                          target_line=107, target_hover="match status:", edge_type=EdgeType.reference)


def _edge(relevance: int, risk: int, reasoning: str, exported: bool = True) -> ToolCall:
    return ToolCall("score_edge", {"relevance": relevance, "risk": risk, "reasoning": reasoning,
                                   "is_exhaustive": False, "is_type_family": False, "is_exported": exported})


def _select(topic: str) -> SelectSymbolsInput:
    return SelectSymbolsInput(topic=topic, symbol="order_total", candidates=Candidates(inputs=("Order", "Money")))


def _line(task: FineTrainingTeacher[Any, Any], input: Any, call: ToolCall) -> str:
    [conversation] = task.example_conversations(Turn(task.name, input, (call,)))
    return json.dumps({**conversation, "task": task.name, "input": input.model_dump(mode="json")}) + "\n"


def _data(folder: Path) -> Path:
    """Training majorities: score_edge relevance 4 (3 of 4), risk 2 (3 of 4), is_exported true (3 of 4);
    select_symbols the empty selection (3 of 5)."""
    edge, select = ScoreEdgeTask(), SelectSymbolsTask()
    train = [
        _line(edge, _edge_input(0), _edge(4, 2, "the first reasoning")),
        _line(edge, _edge_input(1), _edge(4, 2, "b")),
        _line(edge, _edge_input(2), _edge(4, 5, "c", exported=False)),
        _line(edge, _edge_input(3), _edge(1, 2, "d")),
        *(_line(select, _select(f"train topic {i}"), ToolCall("select_symbols", {"selected": []})) for i in range(3)),
        *(_line(select, _select(f"other topic {i}"), ToolCall("select_symbols", {"selected": ["Order"]}))
          for i in range(2)),
    ]
    evaluation = [
        _line(edge, _edge_input(10), _edge(4, 2, "the teacher's own words")),  # the prior's decisions
        _line(edge, _edge_input(11), _edge(2, 4, "x")),
        _line(select, _select("eval topic a"), ToolCall("select_symbols", {"selected": []})),
        _line(select, _select("eval topic b"), ToolCall("select_symbols", {"selected": []})),
        _line(select, _select("eval topic c"), ToolCall("select_symbols", {"selected": ["Money"]})),
    ]
    folder.mkdir()
    (folder / "train.jsonl").write_text("".join(train), encoding="utf-8")
    (folder / "eval.jsonl").write_text("".join(evaluation), encoding="utf-8")
    return folder


def _student(body: dict[str, Any]) -> dict[str, Any]:
    """Selects nothing, and scores every edge 2/4 in its own words: no better than the prior."""
    if body.get("tools"):
        return {"content": "", "tool_calls": [{"function": {"name": "select_symbols", "arguments": {"selected": []}}}]}
    arguments = _edge(2, 4, "its own words").arguments
    return {"content": "", "tool_calls": [{"function": {"name": "score_edge", "arguments": arguments}}]}


def test_eval_shows_the_prior_marks_a_student_near_it_and_writes_predictions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _data(tmp_path / "data")
    with FakeOllama(_student) as fake:
        monkeypatch.setenv("OLLAMA_HOST", fake.host)
        results = evaluate(data, [STUDENT], tmp_path / "eval")
    prior = results["prior"]
    assert prior["source"] == str(data / "train.jsonl")
    assert prior["trained_on"] == {"score_edge": 4, "select_symbols": 5}
    assert prior["by_task"]["score_edge"]["exact_match"] == 0.5  # the first eval edge has the majority decisions
    assert prior["by_task"]["select_symbols"]["exact_match"] == round(2 / 3, 4)  # the empty selection, 2 of 3
    # the prior's per-field figures are the eval shares of the training majorities
    assert prior["field_accuracy"]["relevance"] == 0.5 and prior["field_accuracy"]["is_exported"] == 1.0
    assert prior["field_accuracy"]["selected"] == round(2 / 3, 4) and "reasoning" not in prior["field_accuracy"]
    student = results["artifacts"][STUDENT]
    assert student["by_task"]["score_edge"]["exact_match"] == 0.5  # right on the second edge, whatever its words
    # token F1: "own words" shared with the first edge's reasoning (2/3 precision, 2/5 recall), none with "x"
    assert student["free_text_f1"]["reasoning"] == 0.25 and student["free_text_n"] == {"reasoning": 2}

    report = (tmp_path / "eval" / "eval.md").read_text(encoding="utf-8")
    assert f"| {STUDENT} | 5 | 100.0% | 100.0% | 60.0% ≈prior |" in report
    assert "| prior (majority answer) | 5 | 100.0% | 100.0% | 60.0% |" in report
    assert f"| {STUDENT} | select_symbols | 3 | 100.0% | 100.0% | 66.7% ≈prior |" in report
    assert "relevance 50.0% (n=2) [prior 50.0%] ≈prior" in report
    assert f"- {STUDENT}: reasoning F1 0.250 (n=2)" in report

    lines = [json.loads(line) for line in (tmp_path / "eval" / "predictions.jsonl").read_text().splitlines()]
    assert len(lines) == 10 and {line["model"] for line in lines} == {STUDENT, "prior"}
    first = next(line for line in lines if line["model"] == STUDENT)
    assert first["id"] == f"{data / 'eval.jsonl'}:1" and first["task"] == "score_edge"
    assert first["expected"] == [{"name": "score_edge", "arguments": _edge(4, 2, "the teacher's own words").arguments}]
    assert first["predicted"] == [{"name": "score_edge", "arguments": _edge(2, 4, "its own words").arguments}]
    assert first["differ"] == ["relevance", "risk"] and first["free_text_differ"] == ["reasoning"]
    assert first["exact"] is False
    prior_first = next(line for line in lines if line["model"] == "prior" and line["id"] == first["id"])
    assert prior_first["exact"] is True and prior_first["differ"] == []
    assert prior_first["free_text_differ"] == ["reasoning"]  # its text is a training example's, never a decision
    money = next(line for line in lines if line["model"] == "prior" and line["id"].endswith(":5"))
    assert money["differ"] == ["selected"] and money["predicted"] == [{"name": "select_symbols",
                                                                       "arguments": {"selected": []}}]


def test_a_student_well_above_the_prior_is_not_marked(tmp_path: Path) -> None:
    def rates(exact: float) -> dict[str, Any]:
        return {"examples": 10, "valid_call_rate": 1.0, "schema_valid_rate": 1.0, "exact_match": exact,
                "field_accuracy": {"risk": exact}, "field_n": {"risk": 10},
                "latency_ms": {"p50": None, "p95": None, "n": 0}}

    results = {"data": "d", "examples": 10, "artifacts": {"tuned.gguf": rates(0.9)},
               "prior": {**rates(0.6), "what": "w", "source": "train.jsonl", "trained_on": {"score_edge": 9}}}
    report = write_report(results)
    assert "| tuned.gguf | 10 | 100.0% | 100.0% | 90.0% |" in report and "≈prior |" not in report
    assert "- tuned.gguf: risk 90.0% (n=10) [prior 60.0%]" in report
    assert "| prior (majority answer) | 10 |" in report
    near = write_report({**results, "artifacts": {"tuned.gguf": rates(0.64)}})
    assert "| tuned.gguf | 10 | 100.0% | 100.0% | 64.0% ≈prior |" in near
