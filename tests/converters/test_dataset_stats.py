"""The typed stats.json (converters/dataset_stats.py): one writer, one reader, errors naming the file and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from converters.dataset_stats import DatasetStats, DatasetStatsError, read_stats, write_stats


def test_stats_round_trip_and_only_the_fields_set_are_written(tmp_path: Path) -> None:
    stats = DatasetStats(format="messages", profile="hf", split=0.9, seed=0, train=7, eval=3,
                         examples={"score_edge": {"train": 7, "eval": 3}}, dropped={"failed_turn": 1})
    path = write_stats(tmp_path, stats)
    assert path == tmp_path / "stats.json"
    assert json.loads(path.read_text()) == {"format": "messages", "profile": "hf", "split": 0.9, "seed": 0,
                                            "examples": {"score_edge": {"train": 7, "eval": 3}}, "train": 7,
                                            "eval": 3, "dropped": {"failed_turn": 1}}
    assert read_stats(tmp_path) == stats and read_stats(tmp_path / "train.jsonl") == stats  # a file beside it
    (tmp_path / "other").mkdir()
    assert read_stats(tmp_path / "other") is None  # a dataset without stats


def test_the_generators_fields_and_unknown_keys_are_kept(tmp_path: Path) -> None:
    written = {"schema": "gh.yaml", "teacher": "heuristic", "task": "cli_intent:gh", "examples": 25,
               "categories": {"negative": {"train": 4, "eval": 1}}, "from_a_later_version": [1, 2]}
    (tmp_path / "stats.json").write_text(json.dumps(written))
    stats = read_stats(tmp_path)
    assert stats is not None and stats.schema_path == "gh.yaml" and stats.examples == 25
    assert stats.task == "cli_intent:gh" and stats.as_json() == written
    write_stats(tmp_path, stats)
    assert json.loads((tmp_path / "stats.json").read_text()) == written


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (json.dumps({"train": "many"}), "field 'train': Input should be a valid integer"),
        (json.dumps({"examples": {"score_edge": {"train": "x"}}}), "field 'examples.score_edge.train': "),
        (json.dumps({"skewed_fields": {"a": 1}}), "field 'skewed_fields': Input should be a valid list"),
        ("[1, 2]", "stats are a JSON object, not list"),
        ("{nope", "not JSON"),
    ],
)
def test_a_bad_stats_file_names_the_file_and_the_field(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / "stats.json").write_text(text)
    with pytest.raises(DatasetStatsError, match=f"^{tmp_path / 'stats.json'}: {problem}"):
        read_stats(tmp_path)
