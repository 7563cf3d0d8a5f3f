"""The quickstart, as the README's first command runs it, at smoke size: every step, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("trl", reason="the finetune extra is not installed: pip install -e '.[finetune]'")


def test_quickstart_records_trains_exports_and_runs_the_student(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from examples.quickstart import main

    argv = ["--root", str(tmp_path), "--max-steps", "4", "--hidden-size", "64", "--layers", "2", "--eval-limit", "3"]
    assert main(argv) == 0
    models = tmp_path / "models" / "quickstart"
    assert (models / "quickstart-q8_0.gguf").read_bytes()[:4] == b"GGUF"
    summary = json.loads((models / "quickstart.json").read_text())
    overall = summary["held_out"]["all"]
    assert overall["requests"] >= 4  # at least the seed symbol of each held-out query reached the student
    assert 0.0 <= overall["schema_valid"] <= overall["valid_calls"] <= 1.0
    assert set(summary["eval_split"]) == {str(models / "merged"), "quickstart-f16.gguf", "quickstart-q8_0.gguf"}
    # the prior (each decision field's training majority) beside the student, on both the exploration and the split
    assert 0.0 <= overall["prior_agreement"] <= 1.0 and summary["prior"]["examples"] == 3
    assert summary["prior"]["trained_on"]["score_edge"] > 0
    out = capsys.readouterr().out
    assert "4. exploring 4 held-out queries with the student" in out and "agree with the teacher" in out
    assert "(prior " in out and "eval split (3 examples), exact match: base " in out and ", prior " in out
    # a second run finds every step done and only explores again
    assert main(argv) == 0
    assert (models / "quickstart-q8_0.gguf").stat().st_size > 0
