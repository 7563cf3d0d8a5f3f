"""python -m converters.dataset end to end, small: two installed packages over the real jedi server, one held out;
synthetic score_edge on harvested code; gh CLI intent; one rebuild; and a rerun that resumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from converters.dataset import installed_package, main


def _rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_one_command_builds_a_data_set_with_a_repository_held_out(tmp_path: Path) -> None:
    out, recordings = tmp_path / "data", tmp_path / "recordings"
    argv = ["--package", "parso", "--package", "yaml", "--held-out", "yaml", "--count", "2", "--budget", "3",
            "--synthetic", "12", "--cli-per-subcommand", "1", "--out", str(out), "--recordings", str(recordings),
            "--workers", "1"]
    assert main(argv) == 0
    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    assert stats["eval_repos"] == ["yaml"] and stats["grouped_by"] == "repo"
    assert {p.name for p in (recordings / "repos").iterdir()} == {"parso", "yaml"}
    train, held_out = _rows(out / "train.jsonl"), _rows(out / "eval.jsonl")
    edges = [json.loads(str(r["input"])) for r in held_out if r["task"] == "score_edge"]
    assert edges, "the held-out repository gave no score_edge lines"
    yaml_root = installed_package("yaml")
    yaml_files = {str(p.relative_to(yaml_root)) for p in yaml_root.rglob("*.py")}
    assert all(edge["source_file"] in yaml_files for edge in edges)  # every held-out edge is yaml's own code
    trained_edges = [json.loads(str(r["input"])) for r in train if r["task"] == "score_edge"]
    parso_files = {str(p.relative_to(installed_package("parso"))) for p in installed_package("parso").rglob("*.py")}
    recorded = [e for e in trained_edges if e["source_file"] in parso_files]
    assert recorded and len(trained_edges) > len(recorded)  # the exploration's and the synthetic's edges
    assert stats["examples"]["cli_intent:gh"]["train"] > 0
    assert "score_edge" in stats["fields"] and "relevance" in stats["fields"]["score_edge"]["train"]["fields"]
    before = (out / "train.jsonl").read_bytes(), (out / "eval.jsonl").read_bytes()
    assert main(argv) == 0  # everything is recorded: the rerun resumes and rebuilds the same bytes
    assert ((out / "train.jsonl").read_bytes(), (out / "eval.jsonl").read_bytes()) == before


def test_a_package_that_is_not_installed_is_named() -> None:
    with pytest.raises(ValueError, match="no_such_package_here"):
        installed_package("no_such_package_here")
