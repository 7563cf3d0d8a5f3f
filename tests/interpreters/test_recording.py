"""The session log and replay on their own: torn lines, finished turns, misses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from converters.functiongemma import ToolCall
from interpreters.recording import SCHEMA_VERSION, Recording, SessionLog, read_log, turn_key
from interpreters.records import LspAnswer, ModelTurn, SessionEnd, line_dict
from interpreters.replay import Replay, ReplayMiss
from interpreters.scripted import FunctionModel, ScriptedModel
from tasks.score_edge import ScoreEdgeTask
from teacher.model import request_for
from tests.conftest import log_dicts
from tests.interpreters.test_anthropic import EDGE

ANSWER = ToolCall("score_edge", {"relevance": 4, "risk": 2, "reasoning": "r", "is_exhaustive": True,
                                 "is_type_family": False, "is_exported": True})


async def test_a_torn_last_line_is_set_aside_and_finished_turns_are_not_asked_again(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    request = request_for(ScoreEdgeTask(), EDGE)
    log = SessionLog(path, session_id="s")
    await Recording(ScriptedModel([ANSWER]), log).complete(request)
    log.close()
    with open(path, "a", encoding="utf-8") as out:
        out.write('{"kind": "model", "turn": 2, "tru')  # the writer died mid-line
    with pytest.raises(FileExistsError, match="resume it"):
        SessionLog(path, session_id="s")
    resumed = SessionLog(path, session_id="s", resume=True)
    assert (tmp_path / "s.jsonl.torn").read_text(encoding="utf-8").startswith('s.jsonl:2: {"kind": "model", "turn": 2')
    records, torn = read_log(path)
    assert torn == b"" and len(records) == 1
    never = FunctionModel(lambda r: (_ for _ in ()).throw(AssertionError("asked again")))
    recording = Recording(never, resumed)
    reply = await recording.complete(request)
    assert reply.calls == (ANSWER,) and recording.replayed == 1
    resumed.close()
    assert len(read_log(path)[0]) == 1


async def test_failed_turns_are_recorded_with_their_reason_and_asked_again_on_resume(tmp_path: Path) -> None:
    request = request_for(ScoreEdgeTask(), EDGE)
    log = SessionLog(tmp_path / "s.jsonl", session_id="s")

    def fail(_: object) -> ToolCall:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await Recording(FunctionModel(fail), log).complete(request)
    [failed] = [line_dict(r) for r in log.records]
    assert failed["error"] == {"type": "RuntimeError", "reason": "RuntimeError", "message": "boom"}
    assert failed["key"] == turn_key(request) and failed["task"] == "score_edge"
    assert turn_key(request) not in log.finished
    await Recording(ScriptedModel([ANSWER]), log).complete(request)
    assert [line_dict(r)["turn"] for r in log.records] == [1, 2]
    log.close()


async def test_replay_answers_from_records_and_reports_misses(tmp_path: Path) -> None:
    request = request_for(ScoreEdgeTask(), EDGE)
    log = SessionLog(tmp_path / "s.jsonl", session_id="s")
    await Recording(ScriptedModel([ANSWER]), log).complete(request)
    log.close()
    replay = Replay.from_path(tmp_path)
    assert (await replay.complete(request)).calls == (ANSWER,)
    other = request_for(ScoreEdgeTask(), EDGE.model_copy(update={"query": "something else"}))
    with pytest.raises(ReplayMiss, match="no recorded answer for a score_edge request"):
        await replay.complete(other)
    skipping = Replay(json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines())
    skipping.on_miss = "skip"
    assert (await skipping.complete(other)).calls == () and skipping.misses == 1
    with pytest.raises(FileNotFoundError, match="no recordings"):
        Replay.from_path(tmp_path / "missing")


async def test_a_damaged_line_in_the_middle_is_set_aside_alone_and_the_41_turns_around_it_are_kept(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.jsonl"
    requests = [request_for(ScoreEdgeTask(), EDGE.model_copy(update={"query": f"question {n}"})) for n in range(41)]
    log = SessionLog(path, session_id="s")
    recording = Recording(ScriptedModel([ANSWER] * 41), log)
    for request in requests:
        await recording.complete(request)
    log.append(SessionEnd(session="s"))
    log.close()
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(21, "\x00\x00 not json {{{\n")  # becomes line 22
    path.write_text("".join(lines), encoding="utf-8")

    resumed = SessionLog(path, session_id="s", resume=True)
    assert resumed.set_aside == [22]
    assert (tmp_path / "s.jsonl.torn").read_text(encoding="utf-8") == "s.jsonl:22: \x00\x00 not json {{{\n"
    assert len(resumed.finished) == 41 and line_dict(resumed.records[-1])["kind"] == "session_end"
    never = Recording(FunctionModel(lambda r: (_ for _ in ()).throw(AssertionError("asked again"))), resumed)
    for request in requests:
        await never.complete(request)
    resumed.close()
    assert never.replayed == 41
    records, unreadable = read_log(path)
    assert unreadable == b"" and len(records) == 42  # every readable line kept, the damaged one alone removed


def test_a_recording_of_another_schema_version_is_one_error_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    lines = [{"schema": SCHEMA_VERSION, "kind": "session_start", "session": "s"},
             {"schema": 99, "kind": "model", "session": "s", "key": "k", "calls": [], "error": None}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    expected = f"s.jsonl:2: schema: schema version 99; this code reads version {SCHEMA_VERSION}"
    for read in (read_log, Replay.from_path, lambda p: SessionLog(p, session_id="s", resume=True)):
        with pytest.raises(ValueError, match=expected):
            read(path)
    # a line of this version but the wrong shape is one damaged line: set aside alone, as garbage is (issue 29)
    lines[1] = {**lines[1], "schema": SCHEMA_VERSION, "calls": [{"name": "score_edge", "arguments": "x"}]}
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    records, unreadable = log_dicts(path)
    assert [r["kind"] for r in records] == ["session_start"] and unreadable == json.dumps(lines[1]).encode() + b"\n"
    assert Replay.from_path(path) is not None


async def test_every_line_carries_the_schema_version_and_no_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "sk-ant-test-ECHOED-BACK-3131"
    monkeypatch.setenv("ANTHROPIC_API_KEY", key)
    log = SessionLog(tmp_path / "s.jsonl", session_id="s")

    def echo(_: object) -> ToolCall:
        raise RuntimeError(f"HTTP 401: invalid x-api-key: {key}")  # a server that repeats the key it was sent

    with pytest.raises(RuntimeError):
        await Recording(FunctionModel(echo), log).complete(request_for(ScoreEdgeTask(), EDGE))
    log.append(LspAnswer(op="Hover", args={"path": "a.py", "line": 0, "character": 0}, result=key))
    log.close()
    text = (tmp_path / "s.jsonl").read_text(encoding="utf-8")
    assert key not in text and "[REDACTED]" in text
    assert all(json.loads(line)["schema"] == SCHEMA_VERSION for line in text.splitlines())


def test_session_logs_are_files_only(tmp_path: Path) -> None:
    from interpreters.replay import session_logs

    (tmp_path / "a.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "folder.jsonl").mkdir()
    (tmp_path / "folder.jsonl" / "b.jsonl").write_text("", encoding="utf-8")
    assert session_logs(tmp_path) == [tmp_path / "a.jsonl", tmp_path / "folder.jsonl" / "b.jsonl"]


async def test_a_lone_surrogate_from_a_file_name_or_a_server_is_keyed_written_and_read_back(tmp_path: Path) -> None:
    odd = "tests/\udcff\udcfe.txt"  # how Python shows a file name that is not UTF-8 (and a server's "\udcff")
    request = request_for(ScoreEdgeTask(), EDGE.model_copy(update={"query": f"what is {odd}?"}))
    assert turn_key(request) != turn_key(request_for(ScoreEdgeTask(), EDGE))  # before: UnicodeEncodeError
    log = SessionLog(tmp_path / "s.jsonl", session_id="s")
    reply = await Recording(FunctionModel(lambda _: ToolCall("score_edge", {"reason": odd})), log).complete(request)
    log.close()
    records, unreadable = log_dicts(tmp_path / "s.jsonl")
    assert unreadable == b"" and records[0]["calls"][0]["arguments"]["reason"] == odd == reply.calls[0].arguments[
        "reason"]
    assert records[0]["key"] == turn_key(request)


async def test_what_a_log_keeps_in_memory_is_what_it_wrote_credentials_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key the model echoes is redacted on disk and in the log's own lines (a resume reads the same)."""
    secret = "sk-live-0123456789abcdef"
    monkeypatch.setenv("SOME_SERVICE_API_KEY", secret)
    echoed = ToolCall(ANSWER.name, {**ANSWER.arguments, "reasoning": f"the key is {secret}"})
    log = SessionLog(tmp_path / "s.jsonl", session_id="s")
    await Recording(ScriptedModel([echoed]), log).complete(request_for(ScoreEdgeTask(), EDGE))
    log.close()
    assert secret not in (tmp_path / "s.jsonl").read_text(encoding="utf-8")
    kept = [turn.calls[0].arguments["reasoning"] for turn in log.lines(ModelTurn) if turn.calls]
    assert kept == ["the key is [REDACTED]"]
