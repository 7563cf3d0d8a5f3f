"""The named pipeline for a CLI schema, offline: generated data, tiny model, GGUF and an eval report."""

from __future__ import annotations

import json
from pathlib import Path

from finetune.__main__ import cli_intent_data
from finetune.pipeline import PipelineSettings, run_pipeline


def test_the_gh_schema_goes_from_generated_data_to_an_evaluated_gguf(tmp_path: Path) -> None:
    root = tmp_path / "training"
    settings = PipelineSettings(
        name="gh", root=root, quantizations=["q8_0"], dpo=False, eval_limit=6,
        sft_settings={"max_steps": 3, "eval_examples": 0, "save_steps": 100, "max_length": 4096},
        make_data=cli_intent_data("gh", 60, "gh", root),
    )
    results = run_pipeline(settings, progress=None)
    data, models = root / "data" / "gh", root / "models" / "gh"
    stats = json.loads((data / "stats.json").read_text())
    assert stats["task"] == "cli_intent:gh"
    assert (models / "gh-q8_0.gguf").read_bytes()[:4] == b"GGUF"
    report = (models / "eval" / "eval.md").read_text()
    assert "CLI intent" in report and "| gh-q8_0.gguf |" in report
    intent = results["artifacts"]["gh-q8_0.gguf"]["cli_intent"]
    assert {"exact_match", "command_accuracy", "clarification_recall", "execute_rate"} <= set(intent)
    assert results["examples"] == 6
