"""One evaluation path: ``finetune eval`` and ``teacher.compare`` ask any backend the same way and agree on "exact";
an Ollama student is scored through the local fake of Ollama; the report gives the n behind every figure."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from converters.examples import Example, load_examples
from converters.functiongemma import ToolCall, render_call
from finetune.evaluate import Scores, evaluate, score_backend, write_report
from interpreters.recording import Recording, SessionLog
from interpreters.scripted import FunctionModel, ScriptedModel
from tasks.score_edge import ScoreEdgeTask
from tasks.select_symbols import Candidates, SelectSymbolsInput, SelectSymbolsTask
from teacher.compare import compare, compared_records
from teacher.evaluation import calls_agree, request_from_messages
from teacher.model import ModelRequest, request_for, student_prompt
from teacher.task import Turn
from tests.fake_ollama import FakeOllama
from tests.interpreters.test_anthropic import EDGE

TOPICS = ["order totals", "discounts", "shipping costs", "card payments", "revenue"]
NAMES = ("Order", "Money", "Discount")
EDGE_ANSWER = {"relevance": 4, "risk": 2, "reasoning": "r", "is_exhaustive": True, "is_type_family": False,
               "is_exported": True}


def _inputs() -> list[SelectSymbolsInput]:
    return [SelectSymbolsInput(topic=t, symbol="order_total", candidates=Candidates(inputs=NAMES)) for t in TOPICS]


def _teacher_answer(index: int) -> ToolCall:
    return ToolCall("select_symbols", {"selected": list(NAMES[: 1 + index % 3])})


def _record(tmp_path: Path) -> tuple[list[dict[str, Any]], Path]:
    """Teacher recordings of five select_symbols turns and one score_edge turn, and the eval split made of them
    (every turn's conversation, with its task and input, as ``converters.rebuild --with-inputs`` writes it)."""
    inputs = _inputs()
    answers = [_teacher_answer(i) for i in range(len(inputs))] + [ToolCall("score_edge", EDGE_ANSWER)]
    log = SessionLog(tmp_path / "rec" / "s.jsonl", session_id="s")
    teacher = Recording(ScriptedModel(answers), log)

    async def ask_all() -> None:
        for input in inputs:
            await teacher.complete(request_for(SelectSymbolsTask(), input))
        await teacher.complete(request_for(ScoreEdgeTask(), EDGE))

    asyncio.run(ask_all())
    log.close()
    records, skipped = compared_records([tmp_path / "rec" / "s.jsonl"])
    assert skipped == 0 and len(records) == 6
    data = tmp_path / "data"
    data.mkdir()
    lines = []
    for input, answer in [*zip(inputs, answers, strict=False), (EDGE, answers[-1])]:
        task = SelectSymbolsTask() if answer.name == "select_symbols" else ScoreEdgeTask()
        [conversation] = task.example_conversations(Turn(task.name, input, (answer,)))  # type: ignore[arg-type]
        lines.append({**conversation, "task": task.name, "input": input.model_dump(mode="json")})
    (data / "eval.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return records, data


def _student(request: ModelRequest) -> ToolCall:
    """A deterministic student: picks the first candidate (right on 2 of the 5 topics here), and scores every edge
    the teacher's way but with its own reasoning."""
    if request.task_name == "select_symbols":
        return ToolCall("select_symbols", {"selected": ["Order"]})
    return ToolCall("score_edge", {**EDGE_ANSWER, "reasoning": "its own words"})


def test_compare_and_eval_ask_the_same_questions_and_agree_on_exact(tmp_path: Path) -> None:
    records, data = _record(tmp_path)
    compared = asyncio.run(compare(records, FunctionModel(_student)))
    examples = load_examples(data / "eval.jsonl")
    student = FunctionModel(_student)
    evaluated = score_backend(student, examples)
    assert compared["select_symbols"]["exact"] == evaluated["by_task"]["select_symbols"]["exact_match"] == 0.4
    # the student's reasoning is its own: free text never counts toward exact, it has its own token F1
    assert compared["score_edge"]["exact"] == evaluated["by_task"]["score_edge"]["exact_match"] == 1.0
    assert compared["score_edge"]["reasoning_f1"] == evaluated["free_text_f1"]["reasoning"] == 0.0
    assert compared["select_symbols"]["jaccard"] == round((1 + 0.5 + 1 / 3 + 1 + 0.5) / 5, 4)
    assert compared["score_edge"]["relevance_abs_diff"] == 0.0 and compared["score_edge"]["valid"] == 1
    # the dataset's conversations are replayed as the very requests the exploration made
    for example, request in zip(examples, student.requests, strict=True):
        assert student_prompt(request) == example.prompt and request.task_name == example.task
        assert request.input.model_dump(mode="json") == example.input


def test_compare_logs_each_skipped_line_as_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    _record(tmp_path)
    log = tmp_path / "rec" / "s.jsonl"
    good = log.read_text(encoding="utf-8").splitlines()
    log.write_text("\n".join([good[0], "{not json", *good[1:]]) + "\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="teacher.compare"):
        records, skipped = compared_records([log])
    assert skipped == 1 and len(records) == len(good)
    [warning] = caplog.records
    assert warning.name == "teacher.compare" and warning.levelno == logging.WARNING
    assert warning.getMessage().startswith(f"teacher.compare: {log}:2: not a JSON object")


def test_one_exact_for_every_pair() -> None:
    from teacher.compare import agreement

    pairs = [
        ({"selected": ["Order", "Money"]}, {"selected": ["Money", "Order"]}),
        ({"selected": ["Order"]}, {"selected": ["Order", "Money"]}),
        ({"selected": []}, {"selected": []}),
        ({"selected": ["Order"]}, {"selected": ["Order", "Order"]}),
    ]
    example = Example("p", "c", "f:1", "select_symbols")
    scores = Scores()
    for teacher, student in pairs:
        expected, predicted = ToolCall("select_symbols", teacher), ToolCall("select_symbols", student)
        scores.add(example, [expected], render_call(predicted.name, predicted.arguments), None)
        same = calls_agree([expected], [predicted])
        assert agreement("select_symbols", teacher, student)["exact"] == float(same)
    assert [o[-1] for o in scores.outcomes] == [True, False, True, True]


def test_a_request_is_rebuilt_only_when_it_renders_the_same_conversation() -> None:
    request = request_for(SelectSymbolsTask(), _inputs()[0])
    [conversation] = SelectSymbolsTask().example_conversations(
        Turn("select_symbols", _inputs()[0], (_teacher_answer(0),))
    )
    asked, tools = conversation["messages"][:-1], conversation["tools"]
    rebuilt = request_from_messages(asked, tools, task="select_symbols")
    assert rebuilt is not None and student_prompt(rebuilt) == student_prompt(request)
    assert student_prompt(rebuilt, "ollama") == student_prompt(request, "ollama")
    minimal = request_for(ScoreEdgeTask(), EDGE)
    [edge] = ScoreEdgeTask().example_conversations(Turn("score_edge", EDGE, (ToolCall("score_edge", EDGE_ANSWER),)))
    again = request_from_messages(edge["messages"][:-1], edge["tools"])
    assert again is not None and not again.declare_tools and student_prompt(again) == student_prompt(minimal)
    assert request_from_messages([{"role": "assistant", "content": "x"}], []) is None


def test_eval_scores_an_ollama_student(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, data = _record(tmp_path)

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        request_user = body["messages"][-1]["content"]
        name = "select_symbols" if body.get("tools") else "score_edge"
        arguments = {"selected": ["Order"]} if name == "select_symbols" else EDGE_ANSWER
        if "Topic: discounts" in request_user:
            return {"content": "no call"}
        return {"content": "", "tool_calls": [{"function": {"name": name, "arguments": arguments}}]}

    with FakeOllama(answer) as fake:
        monkeypatch.setenv("OLLAMA_HOST", fake.host)
        results = evaluate(data, ["ollama:functiongemma-student"], tmp_path / "eval")
    metrics = results["artifacts"]["ollama:functiongemma-student"]
    assert metrics["examples"] == 6 and metrics["latency_ms"]["n"] == 6
    assert metrics["by_task"]["select_symbols"] == {
        "examples": 5, "valid_call_rate": 0.8, "schema_valid_rate": 0.8, "exact_match": 0.4
    }
    assert metrics["by_task"]["score_edge"]["exact_match"] == 1.0 and metrics["failures"] == {"no_call": 1}
    examples = load_examples(data / "eval.jsonl")
    sent = [r["body"] for r in fake.requests]
    assert len(sent) == 6 and all(body["model"] == "functiongemma-student" for body in sent)
    assert [body["messages"] for body in sent] == [e.messages for e in examples]
    report = (tmp_path / "eval" / "eval.md").read_text()
    assert "| ollama:functiongemma-student | 6 | 83.3% | 83.3% | 50.0% |" in report

    with FakeOllama(answer, models=set()) as fake:
        monkeypatch.setenv("OLLAMA_HOST", fake.host)
        from interpreters.checkpoints import ModelError

        with pytest.raises(ModelError, match="ollama create"):
            evaluate(data, ["ollama:functiongemma-student"], tmp_path / "eval2")


def test_the_report_gives_the_n_behind_every_figure() -> None:
    run = ToolCall("run_command", {"command": "pr", "subcommand": "list", "args": {}, "flags": [], "confidence": 0.95})
    ask = ToolCall("clarify", {"message": "Which PR?", "suggestions": ["pr view"], "confidence": 0.3})
    scores = Scores()
    intent = Example("p", "c", "f:1", "cli_intent:gh")
    scores.add(intent, [run], render_call(run.name, run.arguments), 0.01)
    scores.add(intent, [run], render_call(ask.name, ask.arguments), 0.02)
    scores.add(intent, [ask], render_call(ask.name, ask.arguments), None)
    summary = scores.summary()
    assert summary["task_figures"] == {"cli_intent": 3}
    assert summary["cli_intent"]["n"]["command_accuracy"] == 2 and summary["cli_intent"]["n"]["exact_match"] == 3
    assert summary["cli_intent"]["n"]["clarification_precision"] == 2
    report = write_report({"data": "d", "examples": 3, "artifacts": {"m.gguf": summary}})
    assert "| m.gguf | 3 | 100.0% | 100.0% | 66.7% | 10.0 | 20.0 | 2 |" in report  # 2 of 3 answers timed
    assert "| m.gguf | cli_intent:gh | 3 |" in report  # per task
    # per decision field (confidence is no decision; the clarification's text has its own token F1)
    assert "- m.gguf: args 50.0% (n=2), command 50.0% (n=2), flags 50.0% (n=2), subcommand 50.0% (n=2)" in report
    assert "- m.gguf: message F1 1.000 (n=1), suggestions F1 1.000 (n=1)" in report
    assert "## CLI intent" in report
    assert "exact match 66.7% (n=3)" in report and "command accuracy 50.0% (n=2)" in report
    assert "clarification precision 50.0% (n=2)" in report and "clarification recall 100.0% (n=1)" in report


def test_compare_shows_the_prior_beside_the_student_and_marks_a_student_near_it(tmp_path: Path) -> None:
    from teacher.compare import prior_of_records, report_lines

    records, _ = _record(tmp_path)
    # the teacher's selections: [Order] twice, [Order, Money] twice, [Order, Money, Discount] once
    prior = prior_of_records(records, "the compared turns")
    compared = asyncio.run(compare(records, FunctionModel(_student), prior))
    selection = compared["select_symbols"]
    jaccard = round((1 + 0.5 + 1 / 3 + 1 + 0.5) / 5, 4)  # the prior answers [Order], the first majority
    assert selection["prior"] == {"source": "the compared turns", "turns": 5, "jaccard": jaccard, "exact": 0.4}
    assert compared["score_edge"]["prior"]["exact"] == 1.0  # one edge: its own majority
    lines = report_lines(compared)
    assert lines[0].startswith("select_symbols: turns 5, valid 5, invalid 0, failed 0, jaccard")
    assert "exact 0.4 ≈prior" in lines[0]  # always [Order], as the prior: no better
    assert lines[1].startswith("select_symbols prior (most common training value of each decision field, from "
                               "the compared turns): turns 5,")
    assert "reasoning_f1 0.0" in lines[2] and "exact 1.0 ≈prior" in lines[2]
