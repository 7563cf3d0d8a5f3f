"""The CLI-intent runtime: argv from the schema, context providers, the backend factory, bands and --json.

The student is scripted (``interpreters/scripted.py``); ``gh`` is a fake program on PATH that logs its argv
(and answers ``gh pr view --json number``), and git is the real one, in a temporary repository.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from converters.functiongemma import ToolCall
from interpreters.backends import BackendSpec, BackendSpecError, build_backend, parse_backend_spec
from interpreters.heuristic import HeuristicModel
from interpreters.llamacpp import StudentModelMissing
from interpreters.scripted import ScriptedModel
from tasks.cli_intent.command import CommandRefused, command_argv, display
from tasks.cli_intent.context import PROVIDERS, ContextProvider, gather_context
from tasks.cli_intent.run import DEFAULT_STUDENT, band_of, interpret_request, main
from tasks.cli_intent.schema import CliSchema
from tasks.cli_intent.shipped import resolve_schema
from tasks.cli_intent.tools import CliContext, RunCommand
from tests.fake_gh import install_fake_gh, logged_runs
from tests.tiny_gguf import write_tiny_gguf

GH, _ = resolve_schema("gh")

@pytest.fixture
def fake_gh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake ``gh`` first on PATH; returns the log file its runs are appended to (one JSON argv a line)."""
    bin_dir = tmp_path / "bin"
    install_fake_gh(bin_dir)
    log = tmp_path / "gh.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_GH_LOG", str(log))
    return log


runs = logged_runs


def run_call(command: str, subcommand: str, args: dict[str, Any] | None = None, flags: list[str] | None = None,
             confidence: float = 0.95) -> ToolCall:
    return ToolCall("run_command", {"command": command, "subcommand": subcommand, "args": args or {},
                                    "flags": flags or [], "confidence": confidence})


def argv(
    command: str, subcommand: str, args: dict[str, Any] | None = None, flags: list[str] | None = None
) -> list[str]:
    return command_argv(RunCommand(command=command, subcommand=subcommand, args=args or {}, flags=flags or [],
                                   confidence=0.95), GH)


# ------------------------------------------------------------------------------------------------ argv rendering


def test_every_argument_kind_of_gh_renders_as_the_schema_says() -> None:
    # positional integer, option string, boolean flag
    assert argv("pr", "close", {"number": 12, "comment": "done"}, ["delete-branch"]) == [
        "gh", "pr", "close", "12", "--comment", "done", "--delete-branch"]
    # enum option, option with its own name (-L), integer option, flags in schema order whatever the answer's
    assert argv("pr", "list", {"limit": 5, "state": "merged", "author": "ana"}, ["web", "draft"]) == [
        "gh", "pr", "list", "--state", "merged", "--author", "ana", "-L", "5", "--draft", "--web"]
    # two positional strings in schema order; an underscore name as an option with a dash
    assert argv("repo", "clone", {"directory": "here", "repository": "cli/cli"}) == [
        "gh", "repo", "clone", "cli/cli", "here"]
    assert argv("run", "rerun", {"run_id": 7}, ["failed"]) == ["gh", "run", "rerun", "7", "--failed"]
    # an enum rendered as the value's own switch
    assert argv("pr", "review", {"number": 3, "decision": "request-changes", "body": "see below"}) == [
        "gh", "pr", "review", "3", "--request-changes", "--body", "see below"]
    assert argv("repo", "create", {"name": "demo", "visibility": "public"}, ["clone"]) == [
        "gh", "repo", "create", "demo", "--public", "--clone"]
    assert argv("pr", "status") == ["gh", "pr", "status"]


def test_values_stay_one_argument_and_display_is_shell_quoted() -> None:
    hostile = "fix; rm -rf / $(touch pwned) 'x'"
    rendered = argv("pr", "create", {"title": hostile, "body": "--web"})
    assert rendered == ["gh", "pr", "create", "--title", hostile, "--body=--web"]
    assert display(rendered) == "gh pr create --title 'fix; rm -rf / $(touch pwned) '\"'\"'x'\"'\"'' --body=--web"
    with pytest.raises(CommandRefused, match="cannot start with '-'"):
        argv("repo", "clone", {"repository": "--upload-pack=evil"})


@pytest.mark.parametrize(
    ("command", "subcommand", "args", "flags", "problem"),
    [
        ("deploy", "now", {}, [], "unknown command 'deploy'"),
        ("pr", "explode", {}, [], "has no subcommand 'explode'"),
        ("pr", "close", {"number": 1, "force": "yes"}, [], "has no argument 'force'"),
        ("pr", "close", {"number": "one"}, [], "must be an integer"),
        ("pr", "list", {"state": "stale"}, [], "not one of"),
        ("pr", "close", {}, [], "missing required argument"),
        ("pr", "close", {"number": 1}, ["squash"], "has no flag 'squash'"),
    ],
)
def test_a_command_the_schema_does_not_declare_is_refused(
    command: str, subcommand: str, args: dict[str, Any], flags: list[str], problem: str
) -> None:
    with pytest.raises(CommandRefused, match=problem):
        argv(command, subcommand, args, flags)
    result = asyncio.run(interpret_request("do it", GH, ScriptedModel([run_call(command, subcommand, args, flags)])))
    assert (result.kind, result.band, result.argv) == ("refused", "refused", [])
    assert problem.split("'")[0] in result.message


def test_schema_rendering_fields_are_checked() -> None:
    sub = {"name": "x", "args": [{"name": "a", "type": "string", "render": "value_flag"}]}
    bad: list[tuple[dict[str, Any], str]] = [
        (sub, "only an enum argument"),
        ({"name": "x", "args": [{"name": "a", "render": "positional", "option": "--a"}]}, "only for arguments"),
        ({"name": "x", "args": [{"name": "a", "option": "a b"}]}, "an option is written"),
        ({"name": "x", "args": [{"name": "a", "render": "positional"}, {"name": "b", "render": "positional"}]},
         "optional positional argument 'a' is followed by 'b'"),
    ]
    for subcommand, message in bad:
        with pytest.raises(ValueError, match=message):
            CliSchema.model_validate({"cli_name": "t", "commands": [{"name": "c", "subcommands": [subcommand]}]})
    plain = CliSchema.model_validate({"cli_name": "t", "commands": [{"name": "c", "subcommands": [{"name": "x"}]}]})
    assert plain.context == ("current_branch", "repository", "uncommitted_changes")
    assert GH.context == ("current_branch", "repository", "current_pr", "uncommitted_changes")


# ----------------------------------------------------------------------------------------------------- context


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_context_comes_from_real_git_and_the_fake_gh(tmp_path: Path, fake_gh: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "fix-login")
    _git(repo, "remote", "add", "origin", "git@github.com:octo/widgets.git")
    assert gather_context(GH.context, repo) == CliContext(
        current_branch="fix-login", repo_owner="octo", repo_name="widgets", current_pr=42,
        has_uncommitted_changes=False)
    (repo / "new.txt").write_text("x")
    plain = gather_context(("current_branch", "uncommitted_changes"), repo)
    assert plain == CliContext(current_branch="fix-login", has_uncommitted_changes=True)


def test_missing_tools_failures_and_timeouts_are_absent_context(
    tmp_path: Path, fake_gh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # not a git repository: git fails, only the fake gh answers
    assert gather_context(GH.context, tmp_path) == CliContext(current_pr=42)
    monkeypatch.setenv("FAKE_GH_SLEEP", "5")
    assert gather_context(["current_pr"], tmp_path, timeout=0.3) is None
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    assert gather_context(GH.context, tmp_path) is None
    seen: list[float] = []

    def branch(cwd: Path, timeout: float) -> dict[str, Any]:
        seen.append(timeout)
        return {"current_branch": "main"}

    custom = dict(PROVIDERS) | {"current_branch": ContextProvider("current_branch", branch)}
    assert gather_context(["current_branch"], tmp_path, timeout=0.5, providers=custom) == CliContext(
        current_branch="main")
    assert seen == [0.5]


# ----------------------------------------------------------------------------------------------------- backends


def test_the_backend_factory_parses_and_builds_every_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-factory")  # haiku needs a key to be built
    assert parse_backend_spec("heuristic") == BackendSpec("heuristic")
    assert parse_backend_spec("haiku") == BackendSpec("haiku")
    assert parse_backend_spec("haiku:claude-haiku-4-5") == BackendSpec("haiku", "claude-haiku-4-5")
    assert parse_backend_spec("gguf:/m/x.gguf") == BackendSpec("gguf", "/m/x.gguf")
    assert str(parse_backend_spec("ollama:student")) == "ollama:student"
    for bad, message in [("gpt", "unknown backend"), ("gguf", "needs a value"), ("replay:", "needs a value"),
                         ("heuristic:x", "takes no value")]:
        with pytest.raises(BackendSpecError, match=message):
            parse_backend_spec(bad)
    assert isinstance(build_backend("heuristic"), HeuristicModel)
    assert type(build_backend("ollama:student")).__name__ == "OllamaStudent"
    assert type(build_backend("haiku:claude-haiku-4-5")).__name__ == "AnthropicTeacher"
    with pytest.raises(FileNotFoundError):
        build_backend(f"replay:{tmp_path / 'none'}")
    with pytest.raises(StudentModelMissing, match="no GGUF"):
        build_backend(f"gguf:{tmp_path / 'none.gguf'}")


# ---------------------------------------------------------------------------------------------- bands and runs


def cli(args: list[str], answers: list[ToolCall], replies: list[str] | None = None) -> tuple[int, ScriptedModel]:
    model = ScriptedModel(answers)
    pending = list(replies or [])

    def read(prompt: str) -> str:
        print(prompt)
        if not pending:
            raise EOFError
        return pending.pop(0)

    return main([*args, "--no-context"], backend=model, read=read), model


def test_bands_follow_the_confidence() -> None:
    assert [band_of(c) for c in (1.0, 0.9, 0.89, 0.7, 0.69, 0.0)] == [
        "execute", "execute", "confirm", "confirm", "clarify", "clarify"]


def test_a_sure_command_is_shown_and_runs_only_with_execute(fake_gh: Path, capsys: pytest.CaptureFixture[str]) -> None:
    close = run_call("pr", "close", {"number": 42}, ["delete-branch"], 0.95)
    code, _ = cli(["close the PR I'm on"], [close])
    assert code == 0 and runs(fake_gh) == []
    assert capsys.readouterr().out.splitlines() == [
        "gh pr close 42 --delete-branch", "(not run: pass --execute to run it)"]
    code, _ = cli(["close the PR I'm on", "--execute"], [close])
    assert code == 0 and runs(fake_gh) == [["pr", "close", "42", "--delete-branch"]]


def test_the_command_exit_code_and_a_missing_program(
    fake_gh: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAKE_GH_EXIT", "3")
    assert cli(["list my PRs", "--execute"], [run_call("pr", "list")])[0] == 3
    monkeypatch.setenv("PATH", "/nonexistent")
    assert cli(["list my PRs", "--execute"], [run_call("pr", "list")])[0] == 127
    assert "gh is not installed" in capsys.readouterr().err


def test_arguments_never_pass_through_a_shell(fake_gh: Path, tmp_path: Path) -> None:
    title = f"x; touch {tmp_path / 'pwned'} && $(touch {tmp_path / 'pwned2'})"
    cli(["open a PR", "--execute", "--cwd", str(tmp_path)], [run_call("pr", "create", {"title": title})])
    assert runs(fake_gh) == [["pr", "create", "--title", title]]
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()


def test_a_middle_confidence_asks_before_running(fake_gh: Path, capsys: pytest.CaptureFixture[str]) -> None:
    merge = run_call("pr", "merge", {"number": 7}, ["squash"], 0.8)
    assert cli(["merge 7"], [merge])[0] == 0  # no --execute: shown, nothing asked
    out = capsys.readouterr().out
    assert "gh pr merge 7 --squash" in out and "Run it?" not in out
    assert cli(["merge 7", "--execute"], [merge], ["n"])[0] == 0
    assert "Run it? [y/N]" in capsys.readouterr().out and runs(fake_gh) == []
    assert cli(["merge 7", "--execute"], [merge], [])[0] == 0  # end of input is a no
    assert runs(fake_gh) == []
    assert cli(["merge 7", "--execute"], [merge], ["y"])[0] == 0
    assert runs(fake_gh) == [["pr", "merge", "7", "--squash"]]


def test_a_clarification_is_a_numbered_choice_that_asks_again(
    fake_gh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clarify = ToolCall("clarify", {"message": "Which one do you want to close?",
                                   "suggestions": ["pr close", "issue close"], "confidence": 0.4})
    code, model = cli(["close it"], [clarify], [""])
    out = capsys.readouterr().out
    assert code == 0 and "Which one do you want to close?\n  1. gh pr close\n  2. gh issue close\n" in out
    assert len(model.requests) == 1
    code, model = cli(["close it", "--execute"], [clarify, run_call("issue", "close", {"number": 5})], ["2", "y"])
    assert code == 0 and len(model.requests) == 2
    assert model.requests[1].user.startswith("Request: issue close: close it")
    assert runs(fake_gh) == [["issue", "close", "5"]]


def test_a_command_below_the_threshold_is_offered_not_run(fake_gh: Path, capsys: pytest.CaptureFixture[str]) -> None:
    unsure = run_call("pr", "checkout", {"number": 9}, [], 0.5)
    assert cli(["get 9", "--execute"], [unsure], [""])[0] == 0
    out = capsys.readouterr().out
    assert "Not sure this is meant: gh pr checkout 9" in out and "1. gh pr checkout" in out
    assert runs(fake_gh) == []


def test_an_invalid_call_is_refused_and_nothing_runs(fake_gh: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["nuke", "--execute"], [run_call("repo", "delete", {"repository": "a/b"})])[0] == 1
    assert "refused" in capsys.readouterr().err and runs(fake_gh) == []
    assert cli(["nuke", "--execute"], [ToolCall("shell", {"cmd": "rm -rf /"})])[0] == 1
    assert cli(["nuke", "--execute", "--json"], [run_call("pr", "close", {"number": 1}, ["force"])])[0] == 1
    answer = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert answer["kind"] == "refused" and "no flag 'force'" in answer["message"] and not answer["executed"]
    assert runs(fake_gh) == []


def test_json_is_machine_readable_and_never_prompts(fake_gh: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli(["close the PR I'm on", "--json"], [run_call("pr", "close", {"number": 42}, [], 0.93)])
    answer = json.loads(capsys.readouterr().out)
    assert answer == {
        "kind": "command", "band": "execute", "confidence": 0.93, "argv": ["gh", "pr", "close", "42"],
        "command": "gh pr close 42", "message": "", "suggestions": [], "context": None,
        "latency_s": answer["latency_s"], "executed": False, "returncode": None,
    }
    cli(["merge 7", "--json", "--execute"], [run_call("pr", "merge", {"number": 7}, [], 0.8)])
    answer = json.loads(capsys.readouterr().out)
    assert (answer["band"], answer["executed"]) == ("confirm", False) and runs(fake_gh) == []
    cli(["close 42", "--json", "--execute"], [run_call("pr", "close", {"number": 42}, [], 0.93)])
    answer = json.loads(capsys.readouterr().out)
    assert (answer["executed"], answer["returncode"]) == (True, 0) and runs(fake_gh) == [["pr", "close", "42"]]
    cli(["close", "--json"], [ToolCall("clarify", {"message": "Which?", "suggestions": ["pr close"],
                                                   "confidence": 0.3})])
    answer = json.loads(capsys.readouterr().out)
    assert (answer["kind"], answer["band"], answer["suggestions"]) == ("clarify", "clarify", ["pr close"])
    assert "Choose" not in json.dumps(answer)


def test_the_student_sees_the_gathered_context(tmp_path: Path, fake_gh: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "feature")
    model = ScriptedModel([run_call("pr", "close", {"number": 42})])
    assert main(["close the PR I'm on", "--cwd", str(repo)], backend=model, read=input) == 0
    assert model.requests[0].user == (
        "Request: close the PR I'm on\nContext:\n- git branch: feature\n- current PR: #42\n"
        "- uncommitted changes: no")


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as refused:  # checked as the flag is parsed, like every backend flag
        main(["x", "--student", "gpt"])
    assert refused.value.code == 2
    assert "unknown backend 'gpt'" in capsys.readouterr().err
    assert main(["x", "--student", f"gguf:{tmp_path / 'none.gguf'}"]) == 2
    assert "no GGUF" in capsys.readouterr().err
    assert main(["x", "--schema", str(tmp_path / "none.yaml")]) == 2
    with pytest.raises(SystemExit):
        main(["<end_of_turn>"])


def test_without_student_it_refuses_in_one_line_or_takes_the_trained_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["close the PR I'm on", "--no-context", "--cwd", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no student for gh" in err and "--student gguf:PATH" in err
    assert str(tmp_path / DEFAULT_STUDENT.format(cli="gh")) in err
    # a student where `finetune pipeline --name gh --schema gh` leaves it is the default
    trained = tmp_path / DEFAULT_STUDENT.format(cli="gh")
    trained.parent.mkdir(parents=True)
    write_tiny_gguf(trained, ["\n", "chatter"], {"\n": "chatter", "chatter": "chatter"})
    code = main(["close the PR I'm on", "--no-context", "--json", "--cwd", str(tmp_path)])
    answer = json.loads(capsys.readouterr().out)
    assert code in (0, 1) and answer["latency_s"] > 0  # the GGUF answered (an untrained one is refused: exit 1)
