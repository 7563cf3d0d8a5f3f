"""The embedded student on the real llama.cpp runtime, with a tiny scripted Gemma 3 GGUF."""

from __future__ import annotations

from pathlib import Path

import pytest

from interpreters.llamacpp import LlamaCppStudent, StudentModelMissing
from interpreters.lsp import LspServer
from tasks.select_symbols import SelectSymbols, SelectSymbolsTask
from teacher.explore import TeachQuery, explore
from teacher.handlers import interpret, perform
from teacher.model import request_for, student_prompt
from teacher.operations import Ask
from teacher.task import TaskOutputError
from tests.conftest import SAMPLE_REPO
from tests.interpreters.test_ollama import SELECT
from tests.tiny_gguf import write_tiny_gguf

EMPTY = "call:select_symbols{selected:[]}"
WORDS = ["\n", "user", "model", "Topic", "Symbol", EMPTY, "chatter"]


def scripted(tmp_path: Path, follows: dict[str, str]) -> Path:
    return write_tiny_gguf(tmp_path / "tiny.gguf", WORDS, follows)


ANSWERS_EMPTY = {
    "\n": "<start_function_call>",
    "<start_function_call>": EMPTY,
    EMPTY: "<end_function_call>",
    "<end_function_call>": "<start_function_response>",
}


async def test_greedy_output_is_parsed_validated_and_measured(tmp_path: Path) -> None:
    student = LlamaCppStudent(scripted(tmp_path, ANSWERS_EMPTY), grammar=False)
    async with interpret(student):
        assert await perform(Ask(SelectSymbolsTask(), SELECT)) == SelectSymbols(selected=[])
    reply = await student.complete(request_for(SelectSymbolsTask(), SELECT))
    assert reply.raw == f"<start_function_call>{EMPTY}<end_function_call><start_function_response>"
    assert reply.meta["stopped_at"] == "<start_function_response>" and reply.meta["completion_tokens"] == 4
    assert reply.meta["prompt_tokens"] > 20 and reply.meta["latency_s"] > 0
    assert reply.meta["request"]["prompt"] == student_prompt(request_for(SelectSymbolsTask(), SELECT), "hf")


async def test_text_without_a_call_is_a_task_error(tmp_path: Path) -> None:
    student = LlamaCppStudent(scripted(tmp_path, {"\n": "chatter", "chatter": "<end_of_turn>"}), grammar=False)
    reply = await student.complete(request_for(SelectSymbolsTask(), SELECT))
    assert reply.calls == () and reply.raw == "chatter<end_of_turn>" and reply.meta["stopped_at"] == "<end_of_turn>"
    async with interpret(student):
        with pytest.raises(TaskOutputError, match="no tool call"):
            await perform(Ask(SelectSymbolsTask(), SELECT))


async def test_malformed_calls_and_runaway_output_are_reported(tmp_path: Path) -> None:
    student = LlamaCppStudent(scripted(tmp_path, {"\n": "<start_function_call>", "<start_function_call>": "chatter",
                                                  "chatter": "chatter"}), max_tokens=12, grammar=False)
    reply = await student.complete(request_for(SelectSymbolsTask(), SELECT))
    assert reply.calls == () and reply.meta["stopped_at"] == "max_tokens" and "format_error" in reply.meta


async def test_the_exploration_runs_end_to_end_on_the_embedded_student(tmp_path: Path) -> None:
    student = LlamaCppStudent(scripted(tmp_path, ANSWERS_EMPTY))
    query = TeachQuery(topic="order totals", seeds=("order_total", "checkout"), budget=4)
    async with LspServer(SAMPLE_REPO) as lsp, interpret(lsp, student):
        result = await explore(query)
    assert [n.symbol.qualified for n in result.nodes] == ["shop.pricing.order_total", "shop.checkout.checkout"]
    assert all(n.selected == [] for n in result.nodes) and not result.skipped


def test_a_missing_model_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(StudentModelMissing, match="python -m finetune export"):
        LlamaCppStudent(tmp_path / "absent.gguf")


def test_agent_explore_and_record_take_the_embedded_student(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from examples.agent import main as agent
    from examples.explore import main as explore_example
    from teacher.record import main as record

    gguf = scripted(tmp_path, ANSWERS_EMPTY)
    assert agent(["--repo", str(SAMPLE_REPO), "--topic", "t", "--symbol", "order_total", "--gguf", str(gguf)]) == 0
    assert "core: shop.pricing.order_total" in capsys.readouterr().out
    assert explore_example(["--student", "llamacpp", "--gguf", str(gguf), "--symbol", "checkout", "--budget", "2"]) == 0
    assert "core: shop.checkout.checkout" in capsys.readouterr().out
    args = ["--repo", str(SAMPLE_REPO), "--topic", "t", "--symbol", "order_total", "--student", "llamacpp",
            "--gguf", str(gguf), "--out", str(tmp_path / "run"), "--budget", "2"]
    assert record(args) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["sessions_finished"] == 1 and summary["turns"] == 1 and summary["turns_failed"] == 0
    missing = str(tmp_path / "absent.gguf")
    assert agent(["--repo", str(SAMPLE_REPO), "--topic", "t", "--symbol", "x", "--gguf", missing]) == 2
    assert "python -m finetune export" in capsys.readouterr().err


def test_compare_takes_the_embedded_student(tmp_path: Path) -> None:
    import asyncio
    import json

    from converters.functiongemma import ToolCall
    from interpreters.recording import Recording, SessionLog
    from interpreters.scripted import ScriptedModel
    from teacher.compare import main as compare

    log = SessionLog(tmp_path / "rec" / "s.jsonl", session_id="s")
    teacher = Recording(ScriptedModel([ToolCall("select_symbols", {"selected": ["Order"]})]), log)
    asyncio.run(teacher.complete(request_for(SelectSymbolsTask(), SELECT)))
    log.close()
    gguf = scripted(tmp_path, ANSWERS_EMPTY)
    out = tmp_path / "report.json"
    assert compare([str(tmp_path / "rec"), "--student", "llamacpp", "--gguf", str(gguf), "--out", str(out)]) == 0
    report = json.loads(out.read_text())["select_symbols"]
    assert report["valid"] == 1 and report["exact"] == 0.0 and report["jaccard"] == 0.0
    assert compare([str(tmp_path / "rec"), "--student", "llamacpp", "--gguf", str(tmp_path / "none.gguf")]) == 2


def test_a_gguf_can_teach(tmp_path: Path) -> None:
    """``teacher.record --teacher gguf:PATH``: the model in-process teaches, and the recording says which one."""
    import json

    from teacher.record import main as record

    gguf = scripted(tmp_path, ANSWERS_EMPTY)
    out = tmp_path / "run"
    assert record(["--repo", str(SAMPLE_REPO), "--topic", "t", "--symbol", "order_total", "--teacher",
                   f"gguf:{gguf}", "--out", str(out), "--budget", "2"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sessions_finished"] == 1
    lines = [json.loads(line) for line in next((out / "sessions").glob("*.jsonl")).read_text().splitlines()]
    assert lines[0]["kind"] == "session_start" and lines[0]["teacher"] == f"gguf:{gguf.resolve()}"
    turns = [line for line in lines if line["kind"] == "model"]
    assert {turn["backend"] for turn in turns} == {"LlamaCppStudent"}
    assert any(turn["task"] == "select_symbols" and not turn.get("error") for turn in turns)


def test_complete_text_is_the_one_greedy_completion_of_a_gguf(tmp_path: Path) -> None:
    """Evaluation and DPO mining complete raw FunctionGemma text through the student (no second loader)."""
    from finetune.evaluate import TextStudent

    student = LlamaCppStudent(scripted(tmp_path, ANSWERS_EMPTY), n_ctx=0, max_tokens=8)
    assert isinstance(student, TextStudent)
    done = student.complete_text(student_prompt(request_for(SelectSymbolsTask(), SELECT), "hf"))
    assert done.text == f"<start_function_call>{EMPTY}<end_function_call><start_function_response>"
    assert done.completion_tokens == 4 and done.stopped_at == "<start_function_response>"
