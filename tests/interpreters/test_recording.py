"""The session log and replay on their own: torn lines, finished turns, misses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from converters.functiongemma import ToolCall
from interpreters.recording import Recording, SessionLog, read_log, turn_key
from interpreters.replay import Replay, ReplayMiss
from interpreters.scripted import FunctionModel, ScriptedModel
from tasks.score_edge import ScoreEdgeTask
from teacher.model import request_for
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
    assert (tmp_path / "s.jsonl.torn").read_text(encoding="utf-8").startswith('{"kind": "model", "turn": 2')
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
    [failed] = log.records
    assert failed["error"] == {"type": "RuntimeError", "reason": "RuntimeError", "message": "boom"}
    assert failed["key"] == turn_key(request) and failed["task"] == "score_edge"
    assert turn_key(request) not in log.finished
    await Recording(ScriptedModel([ANSWER]), log).complete(request)
    assert [r["turn"] for r in log.records] == [1, 2]
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
