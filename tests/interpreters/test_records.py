"""Typed recording lines (interpreters/records.py) and the one session lifecycle (RecordedSession)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from converters.functiongemma import ToolCall
from interpreters.lsp import LspError
from interpreters.recording import RecordedSession, Recording, SessionLog, read_log
from interpreters.records import (
    SCHEMA_VERSION,
    LspAnswer,
    ModelTurn,
    RecordedCall,
    RecordingError,
    SessionEnd,
    SessionStart,
    TurnError,
    dump_line,
    load_line,
)
from interpreters.replay import Replay
from interpreters.scripted import FunctionModel, ScriptedModel
from tasks.score_edge import ScoreEdgeTask
from teacher.handlers import perform
from teacher.model import request_for
from teacher.operations import Ask, OperationFailed
from tests.conftest import log_dicts
from tests.interpreters.test_anthropic import EDGE
from tests.interpreters.test_recording import ANSWER

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "recording_v1.jsonl"


def test_a_recording_written_before_the_typed_lines_still_loads_and_round_trips_byte_for_byte() -> None:
    records, unreadable = log_dicts(FIXTURE)
    assert unreadable == b"" and [r["kind"] for r in records] == [
        "session_start", "model", "model", "lsp", "session_end", "lsp"]
    texts = FIXTURE.read_text(encoding="utf-8").splitlines()
    lines = [load_line(text, f"{FIXTURE.name}:{number}") for number, text in enumerate(texts, start=1)]
    assert [type(line) for line in lines] == [SessionStart, ModelTurn, ModelTurn, LspAnswer, SessionEnd, LspAnswer]
    for text, line in zip(texts[:-1], lines[:-1], strict=True):
        assert dump_line(line) == text  # the on-disk format is unchanged
    # the old LSP line without a schema version reads, and is written back with one and nothing else changed
    assert json.loads(dump_line(lines[-1])) == {"schema": SCHEMA_VERSION, **json.loads(texts[-1])}
    failed, finished = lines[1], lines[2]
    assert isinstance(failed, ModelTurn) and failed.error == TurnError(type="RuntimeError", reason="RuntimeError",
                                                                       message="boom")
    assert isinstance(finished, ModelTurn) and finished.calls == [RecordedCall(name=ANSWER.name,
                                                                               arguments=ANSWER.arguments)]
    assert Replay.from_path(FIXTURE).answers[finished.key or ""].turn == 2


async def test_lines_the_recorder_writes_now_have_the_old_keys_in_the_old_order(tmp_path: Path) -> None:
    log = SessionLog(tmp_path / "s.jsonl", session_id="fixture")

    def fail(_: object) -> ToolCall:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await Recording(FunctionModel(fail), log).complete(request_for(ScoreEdgeTask(), EDGE))
    await Recording(ScriptedModel([ANSWER]), log).complete(request_for(ScoreEdgeTask(), EDGE))
    log.close()
    new = [json.loads(text) for text in (tmp_path / "s.jsonl").read_text(encoding="utf-8").splitlines()]
    old = [json.loads(text) for text in FIXTURE.read_text(encoding="utf-8").splitlines()[1:3]]
    assert [list(r) for r in new] == [list(r) for r in old]
    timing = {"started", "finished", "latency_s"}
    assert [{k: v for k, v in r.items() if k not in timing} for r in new] == [
        {k: v for k, v in r.items() if k not in timing} for r in old]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ({"kind": "model", "key": "k", "calls": [], "turn": "three"}, "turn: not an integer"),
        ({"kind": "model", "key": "k", "calls": {"name": "x"}}, "calls: not a list"),
        ({"kind": "model", "key": "k", "calls": [{"name": "x", "arguments": []}]}, r"calls\[0\].arguments: not an"),
        ({"kind": "model", "calls": []}, "key: missing on a finished turn"),
        ({"kind": "model", "key": "k", "error": {"type": "X"}}, "error.reason: missing"),
        ({"kind": "session_start", "session": "s", "colour": "red"}, "colour: not a field of this line"),
        ({"kind": "session_end", "changed_files": "a.py"}, "changed_files: not a list"),
        ({"kind": "lsp", "op": "Hover", "args": {}}, "result: neither 'result' nor 'error'"),
        ({"kind": "lsp", "op": "Hover", "result": None}, "args: missing"),
        ({"kind": "summary"}, "kind: 'summary' is not a line kind"),
        ({"kind": "model", "schema": 2, "key": "k", "calls": []}, "schema: schema version 2"),
        ({"kind": "session_end", "schema": None}, "schema: no schema version"),
    ],
)
def test_a_bad_line_is_one_error_naming_the_file_the_line_and_the_field(
    tmp_path: Path, line: dict[str, Any], problem: str
) -> None:
    line = {"schema": SCHEMA_VERSION, **line}
    with pytest.raises(RecordingError, match=f"^x.jsonl:3: {problem}"):
        load_line(json.dumps(line), "x.jsonl:3")
    log = tmp_path / "s.jsonl"
    good = dump_line(SessionStart(session="s"))
    log.write_text(f"{good}\n{good}\n{json.dumps(line)}\n{good}\n", encoding="utf-8")
    if problem.startswith("schema"):  # another version: the whole log is another program's
        with pytest.raises(RecordingError, match=f"s.jsonl:3: {problem}"):
            read_log(log)
    else:  # a wrong shape: that line alone is set aside, like a line that is not JSON
        records, unreadable = read_log(log)
        assert len(records) == 3 and unreadable == json.dumps(line).encode() + b"\n"


def test_text_that_is_not_a_json_object_is_named_too() -> None:
    with pytest.raises(RecordingError, match=r"^f:1: not JSON"):
        load_line("{nope", "f:1")
    with pytest.raises(RecordingError, match=r"^f:2: a line is a JSON object, not list"):
        load_line("[1]", "f:2")


def test_every_kind_round_trips_and_fields_never_set_stay_out() -> None:
    lines = [
        SessionStart(session="s", module="shop.models", started=1.5),
        ModelTurn(session="s", turn=1, key="k", task="score_edge", calls=[RecordedCall(name="x", arguments={})]),
        LspAnswer(op="Hover", args={"path": "a.py", "line": 0, "character": 0}, result=None),
        SessionEnd(session="s", finished=2.0, result={"queries": []}, changed_files=[]),
    ]
    for line in lines:
        text = dump_line(line)
        assert load_line(text, "t:1") == line and dump_line(load_line(text, "t:1")) == text
    assert json.loads(dump_line(lines[0])) == {"schema": SCHEMA_VERSION, "kind": "session_start", "session": "s",
                                               "module": "shop.models", "started": 1.5}
    assert json.loads(dump_line(lines[2]))["result"] is None  # a None answer is kept, it is not "no answer"


def _start(sid: str = "s") -> SessionStart:
    return SessionStart(session=sid, query={"topic": "t"}, teacher="scripted")


async def _ask() -> Any:
    return await perform(Ask(ScoreEdgeTask(), EDGE))


async def test_a_recorded_session_writes_its_start_once_and_its_end_and_is_found_finished(tmp_path: Path) -> None:
    path = tmp_path / "sessions" / "s.jsonl"
    failing = FunctionModel(lambda _: (_ for _ in ()).throw(OperationFailed("lookup failed")))
    with RecordedSession(path, _start()) as session:
        assert session.ended is None
        assert await session.run(_ask, failing) is None
        assert session.failures == [("OperationFailed", "lookup failed")] and session.turns == 1
    with RecordedSession(path, _start(), resume=True) as session:
        answer = await session.run(_ask, ScriptedModel([ANSWER]))
        assert answer is not None and answer.relevance == 4 and session.failures == []
        session.end(SessionEnd(result={"done": True}))
    records, _ = log_dicts(path)
    assert [r["kind"] for r in records] == ["session_start", "model", "model", "session_end"]
    assert records[0]["versions"] and records[-1]["session"] == "s" and records[-1]["finished"] > 0
    with RecordedSession(path, _start(), resume=True) as session:
        assert session.ended is not None and session.ended.result == {"done": True}
    with pytest.raises(FileExistsError, match="resume it"):
        RecordedSession(path, _start())


async def test_a_fatal_failure_leaves_the_session_and_propagates(tmp_path: Path) -> None:
    error = OperationFailed("the student's server is down")
    error.fatal = True  # type: ignore[attr-defined]
    with RecordedSession(tmp_path / "s.jsonl", _start()) as session, pytest.raises(OperationFailed, match="is down"):
        await session.run(_ask, FunctionModel(lambda _: (_ for _ in ()).throw(error)))
    assert [r["kind"] for r in log_dicts(tmp_path / "s.jsonl")[0]] == ["session_start", "model"]


def test_lsp_records_files_are_typed_lines_too(tmp_path: Path) -> None:
    from interpreters.lsp_replay import read_lsp_records, write_lsp_records
    from interpreters.records import line_dict

    path = tmp_path / "lsp.jsonl"
    answer = {"kind": "lsp", "op": "Hover", "args": {"path": "a.py", "line": 0, "character": 0}, "result": None}
    write_lsp_records([LspAnswer.model_validate(answer)], path)
    assert [line_dict(line) for line in read_lsp_records(path)] == [{"schema": SCHEMA_VERSION, **answer}]
    path.write_text(json.dumps({**answer, "args": []}) + "\n", encoding="utf-8")
    with pytest.raises(RecordingError, match=r"lsp.jsonl:1: args: not an object"):
        read_lsp_records(path)


def test_lsp_records_are_read_and_written_as_typed_lines_byte_for_byte(tmp_path: Path) -> None:
    """read_lsp_records gives LspAnswer lines (before: dicts), which LspReplay and write_lsp_records take; the file
    written is the one written before the lines were typed, byte for byte, and other kinds of line are passed over."""
    from interpreters.lsp_replay import LspReplay, read_lsp_records, write_lsp_records
    from teacher.operations import Hover

    written = [  # as LspRecorder writes them: an answer, a server hiccup, an error, an older line without schema
        '{"schema":1,"kind":"lsp","op":"Hover","args":{"path":"a.py","line":0,"character":0},"result":"é"}',
        '{"schema":1,"kind":"lsp","op":"Hover","args":{"path":"b.py","line":1,"character":2},"error":"timed out",'
        '"transient":true}',
        '{"schema":1,"kind":"lsp","op":"Hover","args":{"path":"b.py","line":1,"character":2},"error":"no file"}',
    ]
    older = '{"kind":"lsp","op":"Hover","args":{"path":"c.py","line":3,"character":4},"result":null}'
    path = tmp_path / "lsp.jsonl"
    path.write_text("\n".join([dump_line(SessionStart(session="s")), *written, older]) + "\n", encoding="utf-8")
    lines = read_lsp_records(path)
    assert all(type(line) is LspAnswer for line in lines) and len(lines) == 4
    assert lines[0].result == "é" and lines[1].transient and lines[2].error == "no file" and lines[3].result is None
    again = tmp_path / "again.jsonl"
    write_lsp_records(lines, again)
    assert again.read_text(encoding="utf-8") == "".join(f"{line}\n" for line in [*written, older.replace(
        '{"kind"', '{"schema":1,"kind"')])  # an older line is written with the schema, as before
    assert read_lsp_records(again) == lines
    replay = LspReplay(lines)
    assert asyncio.run(replay.handle(Hover("a.py", 0, 0))) == "é"
    with pytest.raises(LspError, match="no file"):
        asyncio.run(replay.handle(Hover("b.py", 1, 2)))


def test_the_one_reader_types_every_line_and_names_file_line_and_field(tmp_path: Path) -> None:
    from interpreters.records import read_lines, read_records

    log = tmp_path / "s.jsonl"
    good = [SessionStart(session="s"), ModelTurn(session="s", turn=1, key="k", task="score_edge", calls=[])]
    bad = {"schema": SCHEMA_VERSION, "kind": "model", "key": "k", "calls": [{"name": "x", "arguments": []}]}
    log.write_text(f"{dump_line(good[0])}\n\n{dump_line(good[1])}\n{json.dumps(bad)}\n{{nope\n", encoding="utf-8")
    for fast in (False, True):
        read = list(read_lines(log, fast=fast))
        assert [r.number for r in read] == [1, 2, 3, 4, 5] and [r.line for r in read[:3]] == [good[0], None, good[1]]
        assert read[1].error is None and read[3].line is None and read[4].line is None
        assert read[3].error is not None and str(read[3].error) == f"{log}:4: calls[0].arguments: not an object"
        assert read[3].error.field == "calls[0].arguments"
        assert read[3].error.words() == "field 'arguments' of 'calls'[0]: not an object"
        assert read[4].error is not None and read[4].error.field is None
        assert str(read[4].error).startswith(f"{log}:5: not JSON") and read[4].error.words().startswith("not a JSON")
    with pytest.raises(RecordingError, match=rf"^{log}:4: calls\[0\]\.arguments: not an object$"):
        list(read_records(log))
    empty = log.with_name("empty.jsonl")
    empty.write_text("\n")
    assert list(read_records(empty)) == []
    # only the kinds asked for are typed; the others are checked for their schema version alone
    kinds = list(read_lines(log, kinds=("model",)))
    assert kinds[0].line is None and kinds[0].error is None and kinds[2].line == good[1]
    log.write_text(json.dumps({"schema": 7, "kind": "lsp", "op": "Hover", "args": {}, "result": None}) + "\n")
    [other] = list(read_lines(log, kinds=("model",)))
    assert other.error is not None and other.error.field == "schema"
    assert other.error.words().startswith("field 'schema' is 7")
    # needles: a line holding none of them is not read at all
    assert list(read_lines(log, needles=(b"nothing",))) == []
