"""CLI intent for an interactive shell: the subcommand retriever, retrieved declarations in the task and the data,
a resident student that keeps (and restores) the declarations' KV caches, and the ``--serve`` daemon."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from converters.functiongemma import ToolCall
from interpreters.llamacpp import LlamaCppStudent
from interpreters.scripted import FunctionModel
from tasks.cli_intent.generate import write_dataset
from tasks.cli_intent.generation import BatchInput, example_from_item
from tasks.cli_intent.retrieve import SubcommandRetriever, recall, subset_schema, words
from tasks.cli_intent.run import (
    DaemonUnavailable,
    ServeRequest,
    ask_daemon,
    interpret_request,
    main,
    serve,
)
from tasks.cli_intent.shipped import resolve_schema
from tasks.cli_intent.task import CliIntentInput, CliIntentTask
from tasks.cli_intent.templates import generate_items
from tasks.cli_intent.tools import CliContext
from teacher.model import ModelRequest
from tests.tiny_gguf import write_tiny_gguf

GH, _ = resolve_schema("gh")
CLEAR = {
    "close pull request 12": "pr close",
    "list the open issues": "issue list",
    "rerun the failed jobs of run 7": "run rerun",
    "clone the repository cli/cli": "repo clone",
    "create a release v1.0": "release create",
    "merge the pull request with squash": "pr merge",
    "show the checks of my pull request": "pr checks",
    "fork the repository": "repo fork",
}


# ------------------------------------------------------------------------------------------------ the retriever


def test_the_retriever_finds_the_subcommand_of_clear_requests() -> None:
    retriever = SubcommandRetriever(GH)
    for request, pair in CLEAR.items():
        assert retriever.retrieve(request, 1) == (pair,), request
        assert pair in retriever.retrieve(request, 4)
    assert words("Closing the Issues") == words("close issue") == ["clos", "issu"] and words("PRs") == ["pr"]


def test_the_retriever_is_deterministic_and_in_schema_order() -> None:
    first, second = SubcommandRetriever(GH), SubcommandRetriever(GH)
    order = GH.pair_names()
    for request in [*CLEAR, "make me a sandwich", "pr", ""]:
        found = first.retrieve(request, 6)
        assert found == first.retrieve(request, 6) == second.retrieve(request, 6)
        assert len(found) == 6 and list(found) == sorted(found, key=order.index)
    assert first.retrieve("make me a sandwich", 3) == tuple(order[:3])  # no shared word: the first pairs
    with pytest.raises(ValueError, match="at least 1"):
        first.retrieve("x", 0)


def test_recall_counts_commands_and_clarifications() -> None:
    retriever = SubcommandRetriever(GH)
    examples = [("close pull request 12", "run_command", ["pr close"]),
                ("list the open issues", "run_command", ["repo fork"]),
                ("which one?", "clarify", []),
                ("close it", "clarify", ["pr close", "workflow run"])]
    found = recall(retriever, examples, 2)
    assert (found.commands, found.commands_found, found.clarifications, found.clarifications_found) == (2, 1, 2, 1)
    assert found.command_recall == found.clarify_recall == 0.5


def test_a_subset_keeps_the_pairs_in_schema_order_and_names_unknown_ones() -> None:
    subset = subset_schema(GH, ["run rerun", "pr close", "pr list"])
    assert subset.pair_names() == ["pr list", "pr close", "run rerun"]
    assert subset.cli_name == GH.cli_name and subset.context == GH.context
    with pytest.raises(ValueError, match="pr fly"):
        subset_schema(GH, ["pr fly"])


# ------------------------------------------------------------------------------------------------ task and data


def test_a_retrieving_task_declares_only_the_retrieved_subcommands() -> None:
    task = CliIntentTask(GH, retrieve=3)
    request = CliIntentInput(request="close pull request 12")
    pairs = task.retrieved(request)
    assert pairs is not None and "pr close" in pairs and len(pairs) == 3
    run, clarify = (tool.openai()["function"]["parameters"]["properties"] for tool in task.tools(request))
    assert run["subcommand"]["enum"] == list(dict.fromkeys(p.split()[1] for p in pairs))
    assert clarify["suggestions"]["items"]["enum"] == list(pairs)
    assert CliIntentTask(GH).retrieved(request) is None and len(
        CliIntentTask(GH).tools(request)[1].openai()["function"]["parameters"]["properties"]["suggestions"]["items"][
            "enum"]) == len(GH.pair_names())


def test_retrieved_training_data_declares_the_same_subsets_and_leaves_out_misses(tmp_path: Path) -> None:
    items = generate_items(GH, BatchInput(cli_name="gh", category="without_context", count=30, batch=0))
    examples = [e for e in (example_from_item(i, "without_context", GH)[0] for i in items) if e is not None]
    miss = examples[0].model_copy(update={"request": "make me a sandwich"})  # its pair is not retrieved
    stats = write_dataset(tmp_path, GH, [*examples, miss], split=1.0, seed=0, meta={}, retrieve=4)
    task = CliIntentTask(GH, retrieve=4)
    rows = [json.loads(line) for line in (tmp_path / "train.jsonl").read_text().splitlines()]
    assert stats["retrieve"] == 4 and stats["retrieval_missed"] >= 1 and len(rows) == len(examples) + 1 - \
        stats["retrieval_missed"]
    for row in rows:
        request = row["messages"][1]["content"].removeprefix("Request: ").split("\n")[0]
        declared = [t.openai() for t in task.tools(CliIntentInput(request=request))]
        assert json.loads(row["tools"]) == declared
        call = row["messages"][2]["tool_calls"][0]["function"]
        arguments = json.loads(call["arguments"])
        retrieved = task.retrieved(CliIntentInput(request=request)) or ()
        assert f"{arguments['command']} {arguments['subcommand']}" in retrieved
    full = write_dataset(tmp_path / "full", GH, examples, split=1.0, seed=0, meta={})  # the default is unchanged
    assert full["retrieve"] == 0 and full["retrieval_missed"] == 0


# ------------------------------------------------------------------------------------------------ resident student

WORDS = ["\n", "user", "model", "developer", "Request", "run_command", "clarify", "pr", "close", "issue"]


@pytest.fixture
def mixing(tmp_path: Path) -> Path:
    """A tiny GGUF whose attention is random: its logits depend on the whole prompt, not only the last token."""
    return write_tiny_gguf(tmp_path / "mixing.gguf", WORDS, {}, attention=0.5, context=8192)


def _prompt(declarations: str, request: str) -> str:
    return (f"<bos><start_of_turn>developer\n{declarations}<end_of_turn>\n<start_of_turn>user\n{request}"
            "<end_of_turn>\n<start_of_turn>model\n")


def test_a_resident_student_restores_kept_declarations_and_answers_as_a_fresh_one(mixing: Path) -> None:
    resident = LlamaCppStudent(mixing, max_tokens=4, reuse_prefix=True, prefix_states=2, grammar=False)
    first, second = _prompt("pr close issue", "close pr"), _prompt("issue clarify", "close pr")
    answers, logits, found = {}, {}, []
    for prompt in (first, second, first, second):
        answers[prompt] = resident.complete_text(prompt).text
        logits[prompt] = resident.decoder().logits().copy()
        found.append(resident.prefix_found)
    assert found == ["evaluated", "evaluated", "restored", "restored"]
    # the same last tokens after other declarations give other logits: a wrong cache would show
    assert not np.allclose(logits[first], logits[second], atol=1e-3)
    for prompt in (first, second):
        fresh = LlamaCppStudent(mixing, max_tokens=4, grammar=False)
        assert fresh.complete_text(prompt).text == answers[prompt]
        assert np.allclose(fresh.decoder().logits(), logits[prompt], atol=1e-4)


async def test_a_resident_retrieving_student_gives_a_fresh_ones_answers(mixing: Path) -> None:
    task = CliIntentTask(GH, retrieve=2)
    resident = LlamaCppStudent(mixing, max_tokens=6, reuse_prefix=True, prefix_states=4)
    requests = ["close pull request 12", "list the open issues", "close pull request 12"]
    got = [await interpret_request(r, GH, resident, None, task) for r in requests]
    assert resident.prefix_found == "restored"
    for request, answer in zip(requests, got, strict=True):
        fresh = LlamaCppStudent(mixing, max_tokens=6)
        again = await interpret_request(request, GH, fresh, None, task)
        assert (again.kind, again.argv, again.message) == (answer.kind, answer.argv, answer.message)


# ------------------------------------------------------------------------------------------------ the daemon


def _answer(request: ModelRequest) -> ToolCall:
    if "close" in request.user:
        return ToolCall("run_command", {"command": "pr", "subcommand": "close", "args": {"number": 42}, "flags": [],
                                        "confidence": 0.95})
    return ToolCall("clarify", {"message": "Which?", "suggestions": [], "confidence": 0.3})


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Path, FunctionModel]]:
    """A daemon serving gh with a function student on a socket under ``tmp_path``, in a thread of its own."""
    path = tmp_path / "gh.sock"
    model = FunctionModel(_answer)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    job = loop.create_task(serve(path, GH, "gh", "gguf:/m/gh.gguf", model, 0, ready.set))
    thread = threading.Thread(target=lambda: loop.run_until_complete(asyncio.wait([job])))
    thread.start()
    assert ready.wait(10)
    try:
        yield path, model
    finally:
        loop.call_soon_threadsafe(job.cancel)
        thread.join(10)
        loop.close()


def _raw(path: Path, *lines: bytes) -> list[str]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(10)
        conn.connect(str(path))
        conn.sendall(b"".join(lines))
        conn.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := conn.recv(1 << 16):
            reply += chunk
    return reply.decode().splitlines()


def test_the_daemon_answers_over_its_socket(daemon: tuple[Path, FunctionModel]) -> None:
    path, model = daemon
    context = CliContext(current_pr=42)
    answer = ask_daemon(path, "close the PR I'm on", context, schema="gh", student="gguf:/m/gh.gguf", retrieve=0)
    assert (answer.kind, answer.argv, answer.context) == ("command", ["gh", "pr", "close", "42"], context)
    assert model.requests[-1].user.endswith("- current PR: #42")
    assert ask_daemon(path, "hm").kind == "clarify"  # no expectations: whatever it serves


def test_the_daemon_refuses_bad_input_in_one_line(daemon: tuple[Path, FunctionModel]) -> None:
    path, model = daemon
    asked = len(model.requests)
    replies = _raw(path, b"not json\n", b"[1]\n", b'{"request": ""}\n', b'{"request": "x", "extra": 1}\n',
                   b'{"request": "x", "retrieve": 4}\n', b"\n", b'{"request": "close it"}\n')
    errors = [json.loads(line).get("error") for line in replies]
    assert len(replies) == 7 and all(errors[:6]) and errors[6] is None
    assert "not a JSON request" in errors[0] and "JSON object" in errors[1]
    assert errors[2].startswith("field request:") and errors[3].startswith("field extra:")
    assert "serves retrieve 0, not 4" in errors[4] and "empty line" in errors[5]
    assert len(model.requests) == asked + 1  # only the good line reached the student
    with pytest.raises(DaemonUnavailable, match="serves student"):
        ask_daemon(path, "close it", student="gguf:/other.gguf")
    assert ServeRequest.model_validate({"request": "x", "schema": "gh"}).schema_name == "gh"


def test_the_command_line_asks_a_running_daemon(
    daemon: tuple[Path, FunctionModel], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = daemon
    # no student here at all: the daemon answers
    assert main(["close the PR", "--socket", str(path), "--no-context", "--json", "--cwd", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["argv"] == ["gh", "pr", "close", "42"]
    # a daemon serving another retrieval is not asked; without a student here that is one line
    assert main(["close the PR", "--socket", str(path), "--no-context", "--retrieve", "3", "--cwd",
                 str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "serves retrieve 0, not 3" in err
    # a second daemon on the same socket is refused before any student is loaded
    assert main(["--serve", "--socket", str(path), "--student", "gguf:/nowhere.gguf"]) == 2
    assert "already serves" in capsys.readouterr().err


def test_serve_and_a_request_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["x", "--serve"])
    with pytest.raises(SystemExit):
        main([])
    assert "give a request, or --serve" in capsys.readouterr().err
