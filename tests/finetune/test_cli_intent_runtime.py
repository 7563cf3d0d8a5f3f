"""The CLI-intent runtime with a real student: the tiny gh GGUF trained by the pipeline, run by llama.cpp.

The tiny model is trained for a few steps only, so what it answers is not the point; the point is that the
runtime asks it the task's exact prompt through the backend factory, validates whatever it wrote with the
task's rules, and only ever turns a valid call into an argv of the schema.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from interpreters.backends import build_backend
from interpreters.scripted import FunctionModel
from tasks.cli_intent.command import command_argv
from tasks.cli_intent.run import interpret_request
from tasks.cli_intent.shipped import resolve_schema
from tasks.cli_intent.task import CliIntentInput, CliIntentTask
from tasks.cli_intent.tools import CliContext, RunCommand
from tasks.cli_intent.validate import validate_answer
from teacher.model import ModelReply, ModelRequest, request_for, student_prompt
from tests.fake_gh import install_fake_gh, logged_runs

pytest.importorskip("llama_cpp", reason="the llamacpp extra is not installed: pip install -e '.[llamacpp]'")

GH, _ = resolve_schema("gh")
REQUESTS = [
    ("close the PR I'm on", CliContext(current_branch="fix-login", repo_owner="octo", repo_name="widgets",
                                       current_pr=42, has_uncommitted_changes=False)),
    ("list open issues", None),
    ("show me the checks of PR 7", None),
    ("make me a sandwich", None),
]


def test_the_trained_gguf_answers_through_the_runtime(gh_pipeline: tuple[Path, dict[str, Any]]) -> None:
    gguf = gh_pipeline[0] / "models" / "gh" / "gh-q8_0.gguf"
    student = build_backend(f"gguf:{gguf}")
    replies: list[tuple[ModelRequest, ModelReply]] = []

    async def ask(request: ModelRequest) -> ModelReply:
        reply = await student.complete(request)
        replies.append((request, reply))
        return reply

    for request, context in REQUESTS:
        result = asyncio.run(interpret_request(request, GH, FunctionModel(ask), context))
        asked, reply = replies[-1]
        assert reply.meta["request"]["prompt"] == student_prompt(asked) and reply.meta["prompt_tokens"] > 0
        assert f"Request: {request}" in reply.meta["request"]["prompt"]
        if context is not None:
            assert "- current PR: #42" in reply.meta["request"]["prompt"]
        if not reply.calls:
            assert result.kind == "refused"
            continue
        answer, problems = validate_answer(reply.calls[0].name, reply.calls[0].arguments, GH)
        if result.kind == "command":
            assert isinstance(answer, RunCommand) and result.argv == command_argv(answer, GH)
            assert result.argv[:3] == ["gh", answer.command, answer.subcommand]
        elif result.kind == "refused":
            assert answer is None and result.message == "; ".join(str(p) for p in problems)
        else:
            assert result.band == "clarify" and result.suggestions is not None


def test_the_command_line_with_the_gguf_student_and_a_fake_gh(
    gh_pipeline: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    gguf = gh_pipeline[0] / "models" / "gh" / "gh-q8_0.gguf"
    install_fake_gh(tmp_path / "bin")
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "fix-login"], cwd=repo, check=True)
    env = os.environ | {"PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}",
                        "FAKE_GH_LOG": str(tmp_path / "gh.log"), "PYTHONPATH": str(Path.cwd())}
    done = subprocess.run(
        [sys.executable, "-m", "tasks.cli_intent.run", "--schema", "gh", "--student", f"gguf:{gguf}", "--json",
         "--cwd", str(repo), "close the PR I'm on"],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    answer = json.loads(done.stdout)
    assert done.returncode == (1 if answer["kind"] == "refused" else 0), done.stderr
    assert answer["context"] == {"current_branch": "fix-login", "current_pr": 42, "has_uncommitted_changes": False}
    assert answer["executed"] is False and logged_runs(tmp_path / "gh.log") == []
    if answer["kind"] == "command":
        assert answer["argv"][0] == "gh" and " ".join(answer["argv"][1:3]) in GH.pair_names()


def test_keeping_the_prefix_cache_gives_the_same_completions(gh_pipeline: tuple[Path, dict[str, Any]]) -> None:
    gguf = gh_pipeline[0] / "models" / "gh" / "gh-q8_0.gguf"
    fresh = build_backend(f"gguf:{gguf}", max_tokens=24)
    cached = build_backend(f"gguf:{gguf}", max_tokens=24, reuse_prefix=True)
    task_requests = [request_for(CliIntentTask(GH), CliIntentInput(request=r, context=c)) for r, c in REQUESTS]
    for request in [*task_requests, *reversed(task_requests)]:
        expected = asyncio.run(fresh.complete(request))
        got = asyncio.run(cached.complete(request))
        assert got.raw == expected.raw and got.meta["completion_tokens"] == expected.meta["completion_tokens"]
