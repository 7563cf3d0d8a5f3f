"""The Ollama student through the real ollama client against a local fake of Ollama's /api/chat."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from converters.functiongemma import DEVELOPER_PROMPT, ToolCall
from interpreters.ollama import OllamaStudent, StudentUnavailable
from tasks.score_edge import ScoreEdgeTask
from tasks.select_symbols import Candidates, SelectSymbols, SelectSymbolsInput, SelectSymbolsTask
from teacher.explore import TeachQuery, explore
from teacher.handlers import interpret, perform
from teacher.model import request_for
from teacher.operations import Ask
from teacher.task import TaskOutputError
from tests.fake_ollama import FakeOllama
from tests.interpreters.test_anthropic import EDGE

SELECT = SelectSymbolsInput(
    topic="order totals", symbol="order_total", candidates=Candidates(inputs=("Order",), output=("Money",))
)


def calls(name: str, arguments: dict[str, Any], content: str = "") -> Any:
    return lambda body: {"content": content, "tool_calls": [{"function": {"name": name, "arguments": arguments}}]}


@pytest.mark.parametrize("stream", [False, True])
async def test_a_valid_answer_is_read_from_the_tool_call(stream: bool) -> None:
    with FakeOllama(calls("select_symbols", {"selected": ["Order"]}, "Order carries the total.")) as fake:
        student = OllamaStudent(host=fake.host, stream=stream)
        async with interpret(student):
            assert await perform(Ask(SelectSymbolsTask(), SELECT)) == SelectSymbols(selected=["Order"])
        reply = await student.complete(request_for(SelectSymbolsTask(), SELECT))
    body = fake.requests[0]["body"]
    assert body["model"] == "functiongemma-student" and body["stream"] is stream
    assert body["messages"][0] == {"role": "system", "content": DEVELOPER_PROMPT}
    assert body["tools"][0]["function"]["name"] == "select_symbols"
    assert body["tools"][0]["function"]["parameters"]["properties"]["selected"]["items"]["enum"] == ["Order", "Money"]
    assert reply.reasoning == "Order carries the total." and student.outcomes == {"valid": 1}


async def test_a_minimal_layout_task_is_sent_without_tools() -> None:
    answer = {"relevance": 4, "risk": 2, "reasoning": "r", "is_exhaustive": True, "is_type_family": False,
              "is_exported": True}
    with FakeOllama(calls("score_edge", answer)) as fake:
        async with interpret(OllamaStudent(host=fake.host)):
            scored = await perform(Ask(ScoreEdgeTask(), EDGE))
    assert scored.relevance == 4
    body = fake.requests[0]["body"]
    assert [m["role"] for m in body["messages"]] == ["user"] and not body.get("tools")


async def test_invalid_names_raise_or_take_the_fallback() -> None:
    with FakeOllama(calls("select_symbols", {"selected": ["Order", "Invoice"]})) as fake:
        async with interpret(OllamaStudent(host=fake.host)):
            with pytest.raises(TaskOutputError, match="'Invoice' is not one of the allowed choices"):
                await perform(Ask(SelectSymbolsTask(), SELECT))
        fallback = OllamaStudent(host=fake.host, on_invalid="fallback")
        async with interpret(fallback):
            repaired = await perform(Ask(SelectSymbolsTask(), SELECT))
    assert repaired.selected == ["Order"] and repaired.repaired == "dropped_non_candidates"
    assert fallback.outcomes == {"fallback:dropped_non_candidates": 1}


async def test_no_call_raises_or_selects_every_candidate() -> None:
    with FakeOllama(lambda body: {"content": "I cannot tell."}) as fake:
        async with interpret(OllamaStudent(host=fake.host)):
            with pytest.raises(TaskOutputError, match="no tool call"):
                await perform(Ask(SelectSymbolsTask(), SELECT))
        async with interpret(OllamaStudent(host=fake.host, on_invalid="fallback")):
            everything = await perform(Ask(SelectSymbolsTask(), SELECT))
    assert everything.selected == ["Order", "Money"] and everything.repaired == "selected_all"


async def test_a_model_answer_may_not_claim_to_be_repaired() -> None:
    with FakeOllama(calls("select_symbols", {"selected": [], "repaired": "selected_all"})) as fake:
        async with interpret(OllamaStudent(host=fake.host)):
            with pytest.raises(TaskOutputError, match="repaired"):
                await perform(Ask(SelectSymbolsTask(), SELECT))


async def test_missing_model_and_server_down_are_one_line_errors_saying_what_to_run() -> None:
    with FakeOllama(calls("select_symbols", {"selected": []}), models=set()) as fake:
        async with interpret(OllamaStudent(host=fake.host)):
            with pytest.raises(StudentUnavailable, match="ollama create functiongemma-student -f Modelfile"):
                await perform(Ask(SelectSymbolsTask(), SELECT))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the socket closes
    async with interpret(OllamaStudent(host=f"http://127.0.0.1:{port}", retries=1)):
        with pytest.raises(StudentUnavailable, match="start it with `ollama serve`") as caught:
            await perform(Ask(SelectSymbolsTask(), SELECT))
    assert "\n" not in str(caught.value)


async def test_server_errors_are_retried_and_the_host_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeOllama(calls("select_symbols", {"selected": ["Money"]}), fail_first=2) as fake:
        monkeypatch.setenv("OLLAMA_HOST", fake.host)
        async with interpret(OllamaStudent(retries=2)):
            assert (await perform(Ask(SelectSymbolsTask(), SELECT))).selected == ["Money"]
    assert len(fake.requests) == 3


async def test_the_exploration_runs_on_the_student() -> None:
    from interpreters.lsp import LspServer
    from tests.conftest import SAMPLE_REPO

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        tools = body.get("tools") or []
        if tools:  # select_symbols: the first candidate
            choices = tools[0]["function"]["parameters"]["properties"]["selected"]["items"]["enum"]
            return calls("select_symbols", {"selected": choices[:1]})(body)
        return calls("score_edge", {"relevance": 3, "risk": 1, "reasoning": "r", "is_exhaustive": False,
                                    "is_type_family": False, "is_exported": True})(body)

    with FakeOllama(answer) as fake:
        async with LspServer(SAMPLE_REPO) as lsp, interpret(lsp, OllamaStudent(host=fake.host)):
            result = await explore(TeachQuery(topic="order totals", seeds=("order_total",), budget=3))
    assert len(result.nodes) >= 2 and result.edges


def test_compare_reports_agreement_with_the_teacher(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from interpreters.recording import Recording, SessionLog
    from interpreters.scripted import ScriptedModel
    from teacher.compare import agreement, jaccard, main
    from teacher.model import request_for as build

    log = SessionLog(tmp_path / "s.jsonl", session_id="s")
    edge_answer = {"relevance": 5, "risk": 4, "reasoning": "t", "is_exhaustive": True, "is_type_family": False,
                   "is_exported": True}
    teacher = Recording(
        ScriptedModel(
            [ToolCall("select_symbols", {"selected": ["Order", "Money"]}), ToolCall("score_edge", edge_answer)]
        ),
        log,
    )

    async def record_two() -> None:
        await teacher.complete(build(SelectSymbolsTask(), SELECT))
        await teacher.complete(build(ScoreEdgeTask(), EDGE))

    import asyncio

    asyncio.run(record_two())
    log.close()

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        if body.get("tools"):
            return calls("select_symbols", {"selected": ["Order"]})(body)
        return calls("score_edge", {**edge_answer, "relevance": 3, "is_exported": False})(body)

    with FakeOllama(answer) as fake:
        out = str(tmp_path / "r.json")
        assert main([str(tmp_path), "--student", "ollama", "--host", fake.host, "--out", out]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    selected = dict(report["select_symbols"])
    prior = selected.pop("prior")  # fitted on the compared turns themselves: the teacher's one answer
    assert selected == {"turns": 1, "valid": 1, "invalid": 0, "failed": 0, "exact": 0.0, "jaccard": 0.5}
    assert prior["exact"] == 1.0 and prior["jaccard"] == 1.0
    assert report["score_edge"]["relevance_abs_diff"] == 2 and report["score_edge"]["is_exported_agree"] == 0.0
    assert "select_symbols: turns 1" in capsys.readouterr().out
    assert jaccard([], []) == 1.0 and agreement("select_symbols", {"selected": []}, {"selected": ["a"]})["exact"] == 0
    with FakeOllama(answer, models=set()) as fake:
        assert main([str(tmp_path), "--student", "ollama", "--host", fake.host]) == 2
    assert "ollama create" in capsys.readouterr().err


def test_the_agent_example_explores_with_the_student(capsys: pytest.CaptureFixture[str]) -> None:
    from examples.agent import main
    from tests.conftest import SAMPLE_REPO

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        if body.get("tools"):
            return calls("select_symbols", {"selected": ["Order", "NotACandidate"]})(body)
        return calls("score_edge", {"relevance": 3, "risk": 1, "reasoning": "r", "is_exhaustive": False,
                                    "is_type_family": False, "is_exported": True})(body)

    with FakeOllama(answer) as fake:
        args = ["--repo", str(SAMPLE_REPO), "--topic", "order totals", "--symbol", "order_total", "--budget", "3",
                "--host", fake.host]
        assert main(args) == 0
    out = capsys.readouterr().out
    assert "core: shop.pricing.order_total" in out and "fallback:dropped_non_candidates" in out
    with FakeOllama(answer, models=set()) as fake:
        assert main([*args[:-1], fake.host]) == 2
    assert "ollama create" in capsys.readouterr().err


def test_explore_and_record_run_on_the_student(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from examples.explore import main as explore_example
    from teacher.record import main as record
    from tests.conftest import SAMPLE_REPO

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        if body.get("tools"):
            choices = body["tools"][0]["function"]["parameters"]["properties"]["selected"]["items"]["enum"]
            return calls("select_symbols", {"selected": choices[:1]})(body)
        return calls("score_edge", {"relevance": 2, "risk": 1, "reasoning": "r", "is_exhaustive": False,
                                    "is_type_family": False, "is_exported": True})(body)

    with FakeOllama(answer) as fake:
        assert explore_example(["--student", "ollama", "--ollama-host", fake.host, "--budget", "3"]) == 0
        assert "core: shop.pricing.order_total" in capsys.readouterr().out
        args = ["--repo", str(SAMPLE_REPO), "--topic", "order totals", "--symbol", "order_total", "--student",
                "ollama", "--ollama-host", fake.host, "--out", str(tmp_path / "run"), "--budget", "3"]
        assert record(args) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["sessions_finished"] == 1 and summary["turns"] >= 2 and summary["turns_failed"] == 0
    with FakeOllama(answer, models=set()) as fake:
        assert record([*args[:-5], fake.host, "--out", str(tmp_path / "run2"), "--budget", "3"]) == 2
        assert explore_example(["--student", "ollama", "--ollama-host", fake.host]) == 2
    assert "ollama create" in capsys.readouterr().err


def test_a_model_served_by_ollama_can_teach(tmp_path: Any) -> None:
    """``teacher.record --teacher ollama:NAME``: a local model teaches, and the recording names it."""
    import json

    from teacher.record import main as record
    from tests.conftest import SAMPLE_REPO

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        tool = body["tools"][0]["function"] if body.get("tools") else {"name": "score_edge"}
        if tool["name"] == "select_symbols":
            choices = tool["parameters"]["properties"]["selected"]["items"]["enum"]
            return calls("select_symbols", {"selected": choices[:1]})(body)
        if tool["name"] == "invert_topic":
            return calls("invert_topic", {"inverted_topic": "how orders are shipped"})(body)
        return calls("score_edge", {"relevance": 2, "risk": 1, "reasoning": "r", "is_exhaustive": False,
                                    "is_type_family": False, "is_exported": True})(body)

    with FakeOllama(answer, models={"big-local"}) as fake:
        out = tmp_path / "run"
        assert record(["--repo", str(SAMPLE_REPO), "--topic", "order totals", "--symbol", "order_total", "--teacher",
                       "ollama:big-local", "--ollama-host", fake.host, "--out", str(out), "--budget", "3"]) == 0
    assert {request["body"].get("model") for request in fake.requests if request["body"]} == {"big-local"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sessions_finished"] == 1 and summary["turns_failed"] == 0
    lines = [json.loads(line) for line in next((out / "sessions").glob("*.jsonl")).read_text().splitlines()]
    assert lines[0]["kind"] == "session_start" and lines[0]["teacher"] == "ollama:big-local"
    assert "invert_topic" in {line.get("task") for line in lines}  # a teacher is asked for the opposite too
