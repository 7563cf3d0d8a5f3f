"""teacher.record builds every teacher through the backend table (issue 30, item 5): ``build_teacher(args)``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

import interpreters.backends as backends
from interpreters.anthropic import AnthropicTeacher, Budget
from interpreters.anthropic_batch import AnthropicBatchTeacher, BatchOptions
from interpreters.heuristic import HeuristicModel
from interpreters.records import LspAnswer, ModelTurn, SessionEnd, SessionStart, dump_line
from interpreters.replay import Replay
from teacher.record import build_teacher
from teacher.record_shared import Refused


def _args(spec: str, out: Path, **given: Any) -> argparse.Namespace:
    options = {"concurrency": 2, "thinking_tokens": None, "timeout": 60.0, "turn_timeout": 600.0,
               "ollama_host": None, "batch": False, "batch_wait": 2.0, "poll_interval": 10.0}
    return argparse.Namespace(spec=backends.parse_backend_spec(spec), out=out, **(options | given))


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """The specs build_backend was asked for, with the options offered."""
    calls: list[tuple[str, dict[str, Any]]] = []
    real = backends.build_backend

    def spy(spec: Any, offered: Any = None, **options: Any) -> Any:
        calls.append((str(spec), dict(offered or {})))
        return real(spec, offered, **options)

    monkeypatch.setattr(backends, "build_backend", spy)
    return calls


def test_every_kind_goes_through_the_table(tmp_path: Path, built: list[tuple[str, dict[str, Any]]]) -> None:
    assert isinstance(build_teacher(_args("heuristic", tmp_path), Budget(None)), HeuristicModel)
    log = tmp_path / "rec" / "sessions" / "s.jsonl"
    log.parent.mkdir(parents=True)
    lsp = LspAnswer(op="Hover", args={"path": "a.py", "line": 0, "character": 0}, result="text")
    lines = [SessionStart(session="s"), lsp, ModelTurn(session="s", turn=1, key="k", task="score_edge", calls=[]),
             SessionEnd(session="s")]
    log.write_text("".join(dump_line(line) + "\n" for line in lines), encoding="utf-8")
    replay = build_teacher(_args(f"replay:{tmp_path / 'rec'}", tmp_path), Budget(None))
    assert isinstance(replay, Replay) and list(replay.answers) == ["k"]
    assert replay.lsp_answers == [lsp]  # the recordings are read once: the language server's replay takes these
    assert [spec for spec, _ in built] == ["heuristic", f"replay:{tmp_path / 'rec'}"]  # before: replay built here
    assert built[0][1]["batch"] is None and built[0][1]["concurrency"] == 2


def test_no_recordings_is_the_same_one_line(tmp_path: Path) -> None:
    with pytest.raises(Refused, match=r"^--replay-from no recordings at .*nowhere$") as refused:
        build_teacher(_args(f"replay:{tmp_path / 'nowhere'}", tmp_path), Budget(None))
    assert refused.value.code == 2


def test_batch_is_an_option_offered_to_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, built: list[tuple[str, dict[str, Any]]],
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    model = build_teacher(_args("haiku", tmp_path, batch=True, batch_wait=0.5, poll_interval=3.0), Budget(None))
    assert isinstance(model, AnthropicBatchTeacher) and isinstance(model.teacher, AnthropicTeacher)
    assert (model.state, model.wait, model.poll_interval) == (tmp_path / "batches.jsonl", 0.5, 3.0)
    [(spec, offered)] = built
    assert spec == "haiku" and offered["batch"] == BatchOptions(tmp_path / "batches.jsonl", 0.5, 3.0)
    plain = build_teacher(_args("haiku", tmp_path), Budget(None))
    assert type(plain) is AnthropicTeacher


async def test_the_batch_teacher_closes_the_teacher_it_wraps(tmp_path: Path) -> None:
    closed: list[bool] = []

    class Teacher(AnthropicTeacher):
        async def aclose(self) -> None:
            closed.append(True)

    batch = BatchOptions(tmp_path / "batches.jsonl").wrap(Teacher(client=object()))
    await batch.aclose()
    assert closed == [True]
