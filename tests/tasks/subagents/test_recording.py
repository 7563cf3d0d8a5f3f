"""Subagent sessions are recorded turn by turn, replayed from the log, and rebuilt into whole conversations."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from converters.functiongemma import ToolCall
from converters.rebuild import Options, rebuild
from interpreters.anthropic import AnthropicTeacher
from interpreters.ollama import OllamaStudent
from interpreters.replay import Replay
from interpreters.scripted import ScriptedModel
from tasks.subagents.definition import NodeContext
from tasks.subagents.lint import TASK
from tasks.subagents.task import SubagentTurn, assistant_call, tool_result
from teacher.model import request_for, student_prompt
from teacher.record import main as record_main
from teacher.record_subagents import SubagentNode, record_subagents

SOURCE = "import os\n\n\ndef total(a,b):\n    return a+b\n"
CALLS = [
    ToolCall("run_linter", {"check_only": True}),
    ToolCall("apply_fix", {"issue_code": "F401", "line_number": 1}),
    ToolCall("run_linter", {"check_only": False}),
    ToolCall("submit_result", {"summary": "clean", "issues_fixed": 4, "issues_remaining": 0,
                               "changed_files": ["pkg/calc.py"]}),
]


async def test_a_recorded_session_replays_and_rebuilds_into_one_conversation(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "calc.py").write_text(SOURCE)
    node = SubagentNode(file="pkg/calc.py", node="total")
    model = ScriptedModel(CALLS)
    await record_subagents("lint", [node], repo, tmp_path / "run", model)
    assert (repo / "pkg" / "calc.py").read_text() == SOURCE  # the repository itself is never touched
    [log] = (tmp_path / "run" / "sessions").glob("*.jsonl")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    turns = [r for r in records if r["kind"] == "model"]
    assert [r["task"] for r in turns] == ["subagent_lint"] * 4
    assert len({r["key"] for r in turns}) == 4  # each turn has its own key: the history is part of it
    assert records[-1]["kind"] == "session_end" and records[-1]["result"]["issues_fixed"] == 4
    assert records[-1]["changed_files"] == ["pkg/calc.py"]

    argv = ["--subagent", "lint", "--repo", str(repo), "--file", "pkg/calc.py", "--node", "total",
            "--teacher", "replay", "--replay-from", str(tmp_path / "run"), "--out", str(tmp_path / "cli")]
    code = await asyncio.to_thread(record_main, argv)
    assert code == 0 and json.loads((tmp_path / "cli" / "summary.json").read_text())["sessions_finished"] == 1

    replay = Replay.from_path(tmp_path / "run")
    await record_subagents("lint", [node], repo, tmp_path / "again", replay)
    [again] = (tmp_path / "again" / "sessions").glob("*.jsonl")
    assert json.loads(again.read_text().splitlines()[-1])["result"] == records[-1]["result"]
    assert replay.misses == 0

    stats = rebuild([tmp_path / "run"], Options(out=tmp_path / "data", format="messages", split=1.0))
    assert stats.dropped["no_example"] == 3  # the turns before the submission
    [line] = (tmp_path / "data" / "train.jsonl").read_text().splitlines()
    messages = json.loads(line)["messages"]
    assert [m["role"] for m in messages] == ["system", "user"] + ["assistant", "tool"] * 3 + ["assistant"]
    assert [m["tool_calls"][0]["function"]["name"] for m in messages if m.get("tool_calls")] == [c.name for c in CALLS]
    first_result = json.loads(messages[3]["content"])
    assert {i["code"] for i in first_result["issues"]} >= {"F401", "E231", "E226"}


def _turn() -> SubagentTurn:
    context = NodeContext(node_text=SOURCE, node_name="total", node_type="module", file_path="pkg/calc.py")
    history = (assistant_call("call_0", "run_linter", {"check_only": True}),
               tool_result("call_0", {"issues": [], "fixable_count": 0}))
    return SubagentTurn(context=context, history=history)


def test_every_backend_renders_the_conversation_so_far() -> None:
    request = request_for(TASK, _turn())
    params = AnthropicTeacher(client=object()).request_params(request)
    assert params["system"][0]["text"].startswith("You are a lint subagent")
    assert [m["role"] for m in params["messages"]] == ["user", "assistant", "user"]
    assert params["messages"][1]["content"] == [
        {"type": "tool_use", "id": "call_0", "name": "run_linter", "input": {"check_only": True}}]
    assert params["messages"][2]["content"][0]["tool_use_id"] == "call_0"
    chat = OllamaStudent().chat_request(request)["messages"]
    assert chat[2]["tool_calls"] == [{"function": {"name": "run_linter", "arguments": {"check_only": True}}}]
    assert chat[3] == {"role": "tool", "content": '{"issues":[],"fixable_count":0}', "tool_name": "run_linter"}
    prompt = student_prompt(request)
    assert prompt.endswith('<start_function_call>call:run_linter{check_only:true}<end_function_call>'
                           '<start_function_response>response:run_linter{value:<escape>{"issues":[],'
                           '"fixable_count":0}<escape>}<end_function_response>')
