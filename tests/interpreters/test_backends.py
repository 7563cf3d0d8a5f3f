"""The backend factory: every spec builds its backend, a bad spec says what is accepted, and a missing API key
is one clear error that never holds a credential."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from interpreters.anthropic import DEFAULT_MODEL, AnthropicTeacher
from interpreters.backends import (
    BACKENDS,
    CREDENTIALS,
    DEFAULT_OLLAMA_MODEL,
    USAGE,
    Backend,
    BackendSpec,
    BackendSpecError,
    BackendUnavailable,
    MissingCredential,
    add_backend_flag,
    build_backend,
    check_credentials,
    parse_backend_spec,
    register_backend,
    spec_from_flags,
    usage,
)
from interpreters.heuristic import HeuristicModel
from interpreters.llamacpp import LlamaCppStudent, StudentModelMissing
from interpreters.ollama import OllamaStudent
from interpreters.replay import Replay
from teacher.errors import FineTrainingError

SECRET = "sk-ant-api03-NEVER-SHOWN-0123456789"


def test_each_spec_builds_its_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    assert isinstance(build_backend("heuristic"), HeuristicModel)
    haiku = build_backend("haiku")
    assert isinstance(haiku, AnthropicTeacher) and haiku.model == DEFAULT_MODEL
    chosen = build_backend("haiku:claude-3-5-haiku-latest", concurrency=2)
    assert isinstance(chosen, AnthropicTeacher) and (chosen.model, chosen.concurrency) == ("claude-3-5-haiku-latest", 2)
    assert isinstance(build_backend(f"replay:{tmp_path}"), Replay)
    served = build_backend("ollama:gh-student", host="http://127.0.0.1:9")
    assert isinstance(served, OllamaStudent) and (served.model, served.host) == ("gh-student", "http://127.0.0.1:9")
    gguf = tmp_path / "student.gguf"
    gguf.write_bytes(b"GGUF")  # loaded on first use only
    embedded = build_backend(BackendSpec("gguf", str(gguf)), max_tokens=8)
    assert isinstance(embedded, LlamaCppStudent) and embedded.max_tokens == 8


def test_a_bad_spec_says_what_is_accepted(tmp_path: Path) -> None:
    for bad, message in [("gpt", "unknown backend 'gpt'"), ("", "unknown backend"), ("ollama", "needs a value"),
                         ("hf", "needs a value: hf:DIR"), ("replay:", "needs a value"),
                         ("heuristic:x", "takes no value")]:
        with pytest.raises(BackendSpecError, match=message) as raised:
            build_backend(bad)
        assert isinstance(raised.value, ValueError) and raised.value.exit_code == 2
    with pytest.raises(BackendSpecError) as raised:
        parse_backend_spec("llama")
    assert USAGE in str(raised.value) and "hf:DIR" in USAGE
    with pytest.raises(StudentModelMissing, match="no GGUF"):
        build_backend(f"gguf:{tmp_path / 'none.gguf'}")
    with pytest.raises(FileNotFoundError):
        build_backend(f"replay:{tmp_path / 'none'}")


def test_a_missing_key_is_one_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(MissingCredential, match="ANTHROPIC_API_KEY") as raised:
        build_backend("haiku")
    assert isinstance(raised.value, FineTrainingError) and raised.value.exit_code == 2
    check_credentials("heuristic")  # needs none
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", SECRET)  # either variable will do
    check_credentials("haiku:claude-haiku-4-5")
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "")
    with pytest.raises(MissingCredential) as empty:
        build_backend("haiku")
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    built = build_backend("haiku")
    for shown in (str(empty.value), repr(empty.value), repr(built), str(parse_backend_spec("haiku"))):
        assert SECRET not in shown


def test_hf_without_its_backend_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "interpreters.hf", None)  # as if the module (or transformers) were absent
    with pytest.raises(BackendUnavailable, match="hf backend not available"):
        build_backend(f"hf:{tmp_path}")
    assert parse_backend_spec(f"hf:{tmp_path}") == BackendSpec("hf", str(tmp_path))


def test_each_row_names_its_builder_as_an_entry_point() -> None:
    """The table imports no backend: a row names its builder ``module:Class.method``, imported when it is built."""
    for row in BACKENDS.values():
        assert isinstance(row.build, str) and ":" in row.build, row.kind
        assert callable(row.builder()), row.kind


def test_older_flags_map_onto_specs(tmp_path: Path) -> None:
    assert spec_from_flags("llamacpp", gguf=tmp_path / "s.gguf") == BackendSpec("gguf", str(tmp_path / "s.gguf"))
    assert spec_from_flags("ollama", ollama_model=DEFAULT_OLLAMA_MODEL) == BackendSpec("ollama", DEFAULT_OLLAMA_MODEL)
    assert spec_from_flags("ollama:mine", ollama_model=DEFAULT_OLLAMA_MODEL) == BackendSpec("ollama", "mine")
    assert spec_from_flags("replay", replay_from=tmp_path) == BackendSpec("replay", str(tmp_path))
    assert spec_from_flags("haiku", model="claude-haiku-4-5") == BackendSpec("haiku", "claude-haiku-4-5")
    assert spec_from_flags("haiku") == BackendSpec("haiku")
    assert spec_from_flags("gguf:/m/x.gguf", gguf=tmp_path) == BackendSpec("gguf", "/m/x.gguf")
    with pytest.raises(BackendSpecError, match="--student llamacpp needs --gguf PATH"):
        spec_from_flags("llamacpp")
    with pytest.raises(BackendSpecError, match="--teacher replay needs --replay-from DIR"):
        spec_from_flags("replay", flag="--teacher")


def test_every_row_says_its_roles_credentials_and_options() -> None:
    assert set(BACKENDS) == {"heuristic", "haiku", "replay", "ollama", "gguf", "hf"}
    assert all("teacher" in row.roles for row in BACKENDS.values())  # any backend can teach
    assert [kind for kind, row in BACKENDS.items() if "student" in row.roles] == ["ollama", "gguf", "hf"]
    assert BACKENDS["haiku"].credentials == CREDENTIALS and not BACKENDS["gguf"].credentials
    assert USAGE == usage() == ", ".join(row.usage for row in list(BACKENDS.values())[:-1]) + " or hf:DIR"
    built = build_backend("ollama:x", {"host": "http://127.0.0.1:9", "budget": object(), "n_ctx": 1})
    assert isinstance(built, OllamaStudent) and built.host == "http://127.0.0.1:9"  # offered: only its own


def test_a_new_backend_is_one_row_used_through_a_cli_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A toy backend: its module (here, a function) plus one row, and every command line takes it."""
    import json

    from teacher.record import main as record
    from tests.conftest import SAMPLE_REPO

    built: list[str] = []

    def toy(value: str, **options: object) -> HeuristicModel:
        built.append(value)
        return HeuristicModel()

    monkeypatch.setattr("interpreters.backends.BACKENDS", dict(BACKENDS))
    register_backend(Backend("toy", "a toy backend for this test", toy, value="NAME"))
    with pytest.raises(ValueError, match="already registered"):
        register_backend(Backend("toy", "again", toy))
    assert usage().endswith("hf:DIR or toy:NAME")
    out = tmp_path / "run"
    assert record(["--repo", str(SAMPLE_REPO), "--topic", "order totals", "--symbol", "order_total",
                   "--teacher", "toy:mine", "--out", str(out), "--budget", "2"]) == 0
    assert built == ["mine"]
    start = json.loads(next((out / "sessions").glob("*.jsonl")).read_text().splitlines()[0])
    assert start["teacher"] == "toy:mine"  # the recording says which model taught
    with pytest.raises(SystemExit):  # not a student: its row says teacher only
        record(["--repo", str(SAMPLE_REPO), "--topic", "t", "--symbol", "s", "--student", "toy:mine", "--out",
                str(tmp_path / "other")])
    assert "--student toy:mine: a student is ollama, gguf or hf" in capsys.readouterr().err


def test_a_backend_flag_is_checked_as_it_is_parsed(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="cmd")
    flag = add_backend_flag(parser, "student", companions=("gguf",))
    with pytest.raises(SystemExit):
        parser.parse_args(["--student", "gpt"])
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"cmd: error: --student gpt: unknown backend 'gpt': use {USAGE}"
    args = parser.parse_args(["--student", "llamacpp", "--gguf", "/m/x.gguf"])
    assert flag.spec(parser, args) == BackendSpec("gguf", "/m/x.gguf")
    with pytest.raises(SystemExit):
        flag.spec(parser, parser.parse_args(["--student", "llamacpp"]))
    assert "--student llamacpp needs --gguf PATH" in capsys.readouterr().err
    assert flag.spec(parser, parser.parse_args([])) is None


def test_a_gguf_only_flag_takes_the_path_alone_or_its_spec(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="bench")
    add_backend_flag(parser, "student", flag="--gguf", bare="gguf", metavar=None)
    assert parser.parse_args(["--gguf", "/m/x.gguf"]).gguf == Path("/m/x.gguf")
    assert parser.parse_args(["--gguf", "gguf:/m/y.gguf"]).gguf == Path("/m/y.gguf")
    with pytest.raises(SystemExit):
        parser.parse_args(["--gguf", "ollama:x"])
    assert "bench: error: --gguf ollama:x: this flag takes gguf:PATH only" in capsys.readouterr().err
