"""The named pipeline for a CLI schema, offline: generated data, tiny model, GGUF and an eval report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def test_the_gh_schema_goes_from_generated_data_to_an_evaluated_gguf(gh_pipeline: tuple[Path, dict[str, Any]]) -> None:
    root, results = gh_pipeline
    data, models = root / "data" / "gh", root / "models" / "gh"
    stats = json.loads((data / "stats.json").read_text())
    assert stats["task"] == "cli_intent:gh"
    assert (models / "gh-q8_0.gguf").read_bytes()[:4] == b"GGUF"
    report = (models / "eval" / "eval.md").read_text()
    assert "CLI intent" in report and "| gh-q8_0.gguf (after) |" in report
    intent = results["artifacts"]["gh-q8_0.gguf"]["cli_intent"]
    assert {"exact_match", "command_accuracy", "clarification_recall", "execute_rate"} <= set(intent)
    assert results["examples"] == 6
