"""converters.rebuild with held-out repositories: their sessions are the eval split, whole; the rest trains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from converters.rebuild import MalformedRecord, Options, main, rebuild
from interpreters.records import ModelTurn, RecordedCall, SessionStart, dump_line
from tasks.score_edge.task import EdgeType, ScoreEdgeInput, ScoreEdgeTask


def _session(path: Path, repo: str | None, edges: int, split: str | None = None) -> None:
    """A session log of ``edges`` score_edge turns, answered by the task's heuristic, recorded on ``repo``."""
    task = ScoreEdgeTask()
    name = path.stem
    lines = [dump_line(SessionStart(session=name, repo=repo, split=split))]  # type: ignore[arg-type]
    for number in range(edges):
        edge = ScoreEdgeInput(query=f"How does {name} handle case {number}?", source_file=f"{name}/a.py",
                              source_line=number + 1, source_hover=f"def f{number}(x: int) -> int",
                              target_file=f"{name}/b.py", target_line=number + 1,
                              target_hover=f"def g{number}(y: str) -> str", edge_type=EdgeType.usage)
        answer = task.heuristic_answer(edge)
        assert answer is not None and answer[0] is not None
        lines.append(dump_line(ModelTurn(session=name, turn=number, task=task.name, backend="heuristic",
                                         input=edge.model_dump(mode="json"),
                                         calls=[RecordedCall(name=answer[0].name, arguments=answer[0].arguments)])))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _sources(path: Path) -> list[str]:
    """The source file's folder of every example in a JSONL split (the repository it came from)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [json.loads(row["input"])["source_file"].split("/")[0] for row in rows]


@pytest.fixture
def recordings(tmp_path: Path) -> Path:
    root = tmp_path / "recordings"
    for name in ("alpha", "beta", "gamma"):
        _session(root / "repos" / name / f"{name}.jsonl", f"/site-packages/{name}", 6)
    _session(root / "synthetic" / "synthetic.jsonl", None, 5, split="train")
    return root


def test_held_out_repositories_are_the_whole_eval_split(recordings: Path, tmp_path: Path) -> None:
    out = tmp_path / "data"
    options = Options(out=out, format="messages", with_inputs=True, eval_repos=frozenset({"gamma"}))
    rebuild([recordings], options)
    assert sorted(set(_sources(out / "eval.jsonl"))) == ["gamma"]
    assert len(_sources(out / "eval.jsonl")) == 6
    train = _sources(out / "train.jsonl")
    assert sorted(set(train)) == ["alpha", "beta", "synthetic"] and len(train) == 17
    stats = json.loads((out / "stats.json").read_text())
    assert stats["eval_repos"] == ["gamma"] and stats["grouped_by"] == "repo"


def test_a_held_out_repository_may_be_named_by_path(recordings: Path, tmp_path: Path) -> None:
    out = tmp_path / "data"
    options = Options(out=out, format="messages", with_inputs=True, eval_repos=frozenset({"/site-packages/beta"}))
    rebuild([recordings], options)
    assert sorted(set(_sources(out / "eval.jsonl"))) == ["beta"]


def test_a_held_out_repository_no_recording_names_is_an_error(recordings: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(MalformedRecord, match="held-out repository delta is in no recording"):
        rebuild([recordings], Options(out=tmp_path / "a", eval_repos=frozenset({"delta"})))
    assert main([str(recordings), "--out", str(tmp_path / "b"), "--eval-repo", "delta"]) == 1
    assert "delta" in capsys.readouterr().err
