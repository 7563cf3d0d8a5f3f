"""`python -m teacher.record` against a local fake of the Anthropic API: fields, replay, faults, crashes, keys."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anthropic
import pytest

from interpreters.anthropic import AnthropicTeacher
from interpreters.anthropic_batch import AnthropicBatchTeacher
from interpreters.recording import turn_key
from tasks.score_edge import ScoreEdgeTask
from teacher.model import request_for
from teacher.record import main, session_id
from tests.conftest import REPO, SAMPLE_REPO, log_dicts
from tests.fake_anthropic import DefaultResponder, FakeAnthropic, Faults
from tests.interpreters.test_anthropic import EDGE

KEY = "sk-ant-test-NEVER-WRITTEN-7777"
QUERIES = [
    {"topic": "How is the order total computed with discounts?", "seeds": ["order_total"]},
    {"topic": "What breaks if an order status is added?", "seeds": ["describe_status"]},
    {"topic": "How does checkout charge the customer?", "seeds": ["checkout"]},
]


class Choosing(DefaultResponder):
    """The fake's responses, but select_symbols picks the first two candidates so the walk goes on."""

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        response = super().__call__(body)
        for block in response["content"]:
            if block["type"] == "tool_use" and block["name"] == "select_symbols":
                block["input"] = {"selected": offered(body["messages"][0]["content"])[:2]}
        return response


def offered(user: str) -> list[str]:
    """The selectable candidate names in a select_symbols user text, in display order (a hub's count is not one)."""
    names: list[str] = []
    for line in user.split("Candidates:\n", 1)[1].splitlines():
        listed = line.split(": ", 1)[1] if ": " in line else ""
        if listed and listed != "(none)" and not listed.startswith("(hub:"):
            names += [n for n in listed.split(", ") if n not in names]
    return names


def fake_server(**options: Any) -> FakeAnthropic:
    return FakeAnthropic(responder=Choosing(), **options)


def write_queries(path: Path, queries: list[dict[str, Any]] = QUERIES) -> Path:
    path.write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    return path


def use_fake(monkeypatch: pytest.MonkeyPatch, server: FakeAnthropic) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)


def sessions(out: Path) -> dict[str, list[dict[str, Any]]]:
    found = {}
    for path in sorted((out / "sessions").glob("*.jsonl")):
        records, torn = log_dicts(path)
        assert torn == b"", f"{path} has an unreadable line"
        found[path.stem] = records
    return found


def assert_no_key(out: Path, *texts: str) -> None:
    for path in out.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(encoding="utf-8", errors="replace"), path
    for text in texts:
        assert KEY not in text


def record_args(out: Path, queries: Path, *extra: str) -> list[str]:
    return ["--repo", str(SAMPLE_REPO), "--queries", str(queries), "--teacher", "haiku", "--out", str(out),
            "--budget", "5", "--max-depth", "2", "--breadth", "3", *extra]


def test_a_recorded_session_holds_every_field_and_replays_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = write_queries(tmp_path / "queries.jsonl")
    with fake_server() as server:
        use_fake(monkeypatch, server)
        assert main(record_args(tmp_path / "out", queries, "--thinking-tokens", "1024")) == 0
    recorded = sessions(tmp_path / "out")
    assert len(recorded) == 3
    for records in recorded.values():
        assert records[0]["kind"] == "session_start" and records[-1]["kind"] == "session_end"
        models = [r for r in records if r["kind"] == "model"]
        assert models and any(r["kind"] == "lsp" for r in records)
        for r in models:
            assert {"schema", "session", "turn", "key", "task", "node", "input", "started", "finished",
                    "latency_s", "request", "response", "calls", "reasoning", "cost_usd", "error"} <= r.keys()
            assert set(r["request"]) >= {"model", "system", "messages", "tools", "tool_choice", "max_tokens"}
            response = r["response"]
            assert response["id"].startswith("msg_") and response["stop_reason"] == "tool_use"
            kinds = [b["type"] for b in response["content"]]
            assert "thinking" in kinds and "text" in kinds and "tool_use" in kinds
            assert all(b["signature"] for b in response["content"] if b["type"] == "thinking")
            assert all(b["id"].startswith("toolu_") for b in response["content"] if b["type"] == "tool_use")
            assert {"input_tokens", "output_tokens", "cache_creation_input_tokens",
                    "cache_read_input_tokens"} <= response["usage"].keys()
            assert r["reasoning"] and r["cost_usd"] > 0 and r["error"] is None and r["node"]
        assert [r["turn"] for r in models] == list(range(1, len(models) + 1))
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["sessions_finished"] == 3 and summary["turns_failed"] == 0
    assert summary["cost_per_1000_examples_usd"] > 0 and summary["tokens"]["output_tokens"] > 0
    assert_no_key(tmp_path / "out", capsys.readouterr().err)

    # replay: no API, no language server; the same explorations come out
    assert main(["--repo", str(SAMPLE_REPO), "--queries", str(queries), "--teacher", "replay", "--replay-from",
                 str(tmp_path / "out"), "--out", str(tmp_path / "replayed"), "--budget", "5", "--max-depth", "2",
                 "--breadth", "3"]) == 0
    replayed = sessions(tmp_path / "replayed")
    for sid, records in recorded.items():
        assert replayed[sid][-1]["result"] == records[-1]["result"]


def test_faults_on_a_fifth_of_requests_lose_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = write_queries(tmp_path / "queries.jsonl")
    faults = Faults(rate=0.2, seed=11, retry_after=0.01, hang_seconds=1.5)
    with fake_server(faults=faults) as server:
        use_fake(monkeypatch, server)
        assert main(record_args(tmp_path / "out", queries, "--timeout", "0.5")) == 0
        answered = len(server.message_requests()) - len(server.faults_injected)
    assert len(server.faults_injected) >= 4 and len(set(server.faults_injected)) >= 3  # 20% of ~40 requests
    models = [r for records in sessions(tmp_path / "out").values() for r in records if r["kind"] == "model"]
    retried = [reason for r in models for reason in r.get("retried", [])]
    assert len(retried) == len(server.faults_injected)  # every fault was seen and retried
    assert sum(1 for r in models if not r["error"]) == answered
    assert all(r["error"]["reason"] for r in models if r["error"])
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["sessions_finished"] == 3
    assert_no_key(tmp_path / "out", capsys.readouterr().err)


def test_sigkill_at_random_points_then_resume_keeps_every_turn_once(tmp_path: Path) -> None:
    queries = write_queries(tmp_path / "queries.jsonl")
    chooser = random.Random(5)
    interrupted = 0
    with fake_server(latency=0.03) as server:
        env = {**os.environ, "ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": server.base_url}
        for run in range(10):
            out = tmp_path / f"run{run}"
            command = [sys.executable, "-m", "teacher.record", *record_args(out, queries, "--concurrency", "2")]
            process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            time.sleep(chooser.uniform(0.5, 2.5))
            process.send_signal(signal.SIGKILL)
            process.wait()
            loose = _loose_sessions(out)
            before = {sid: [r for r in records if r["kind"] == "model" and not r["error"]]
                      for sid, records in loose.items()}
            interrupted += len(loose) < 3 or any(records[-1]["kind"] != "session_end" for records in loose.values())
            resumed = subprocess.run([*command, "--resume"], cwd=REPO, env=env, capture_output=True, text=True)
            assert resumed.returncode == 0, resumed.stderr
            after = sessions(out)
            assert len(after) == 3 and all(records[-1]["kind"] == "session_end" for records in after.values())
            for sid, records in after.items():
                keys = [r["key"] for r in records if r["kind"] == "model" and not r["error"]]
                assert len(keys) == len(set(keys)), f"run {run}: a finished turn was asked twice"
                assert {r["key"] for r in before.get(sid, [])} <= set(keys)
            assert_no_key(out, resumed.stdout, resumed.stderr)
    assert interrupted >= 7  # the kills really landed mid-run


def _loose_sessions(out: Path) -> dict[str, list[dict[str, Any]]]:
    """Sessions as a killed run left them: complete lines only (a torn last line is allowed here)."""
    return {p.stem: log_dicts(p)[0] for p in sorted((out / "sessions").glob("*.jsonl"))}


def test_no_key_and_haiku_is_one_line_and_a_non_zero_exit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    queries = write_queries(tmp_path / "queries.jsonl")
    assert main(record_args(tmp_path / "out", queries)) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "ANTHROPIC_API_KEY" in err


def test_the_budget_stops_the_run_cleanly_and_resume_continues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries = write_queries(tmp_path / "queries.jsonl")
    with fake_server() as server:
        use_fake(monkeypatch, server)
        assert main(record_args(tmp_path / "out", queries, "--budget-usd", "0.000001", "--concurrency", "1")) == 0
        summary = json.loads((tmp_path / "out" / "summary.json").read_text())
        assert summary["stopped_by_budget"] and summary["sessions_finished"] == 0 and summary["turns_failed"] == 0
        assert main(record_args(tmp_path / "out", queries, "--resume")) == 0
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["sessions_finished"] == 3


def test_batch_mode_records_at_half_price(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    queries = write_queries(tmp_path / "queries.jsonl", QUERIES[:2])
    with fake_server() as server:
        use_fake(monkeypatch, server)
        extra = ("--batch", "--batch-wait", "0.1", "--poll-interval", "0.05")
        assert main(record_args(tmp_path / "out", queries, *extra)) == 0
        posted = [r for r in server.requests if r["method"] == "POST" and r["path"] == "/v1/messages/batches"]
        assert posted and not server.message_requests()
    models = [r for records in sessions(tmp_path / "out").values() for r in records if r["kind"] == "model"]
    assert models and all(r["cost_usd"] > 0 and not r["error"] for r in models)
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["sessions_finished"] == 2


async def test_an_unfinished_batch_is_resumed_by_its_id(tmp_path: Path) -> None:
    state = tmp_path / "batches.jsonl"
    with fake_server(batch_polls_before_done=2) as server:
        client = anthropic.AsyncAnthropic(api_key=KEY, base_url=server.base_url, max_retries=0)
        teacher = AnthropicTeacher(client=client)
        request = request_for(ScoreEdgeTask(), EDGE)
        batch = await client.messages.batches.create(
            requests=[{"custom_id": turn_key(request), "params": teacher.request_params(request)}]  # type: ignore[list-item]
        )
        state.write_text(json.dumps({"batch": batch.id, "submitted": 1.0, "custom_ids": [turn_key(request)]}) + "\n")
        resumed = AnthropicBatchTeacher(teacher, state, poll_interval=0.01)
        assert resumed.unfinished_batches() == [batch.id]
        reply = await resumed.complete(request)
        posts = [r for r in server.requests if r["method"] == "POST" and r["path"] == "/v1/messages/batches"]
    assert reply.calls[0].name == "score_edge" and reply.meta["batch"] == batch.id
    assert len(posts) == 1 and resumed.submitted == []
    assert resumed.unfinished_batches() == []


def test_session_ids_are_stable() -> None:
    from teacher.explore import TeachQuery

    query = TeachQuery(topic="t", seeds=("a",))
    assert session_id(query) == session_id(TeachQuery(topic="t", seeds=("a",))) != session_id(
        TeachQuery(topic="t", seeds=("b",))
    )
