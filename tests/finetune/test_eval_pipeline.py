"""Evaluation metrics on hand-made answers, the report files, and the named pipeline's layout and skipping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from converters.functiongemma import ToolCall, render_call
from finetune.data import Example
from finetune.evaluate import Scores, calls_agree, normalise


def _example(task: str | None = None, input: dict[str, object] | None = None) -> Example:
    return Example(prompt="p", completion="c", where="f:1", task=task, input=input)


def test_scores_count_valid_schema_valid_exact_and_fields() -> None:
    expected = [ToolCall("invert_topic", {"inverted_topic": "How is data written?"})]
    example = _example("invert_topic", {"topic": "How is data read?"})
    scores = Scores()
    scores.add(example, expected, render_call("invert_topic", {"inverted_topic": "How is data written?"}), 0.010)
    scores.add(example, expected, render_call("invert_topic", {"inverted_topic": "Something else"}), 0.020)
    scores.add(example, expected, render_call("invert_topic", {"wrong_field": "x"}), 0.030)  # parses, refused
    scores.add(example, expected, "<start_function_call>call:invert_topic{", 0.040)  # does not parse
    scores.add(example, expected, "just text", 0.050)  # parses, but no call
    summary = scores.summary()
    assert summary["examples"] == 5
    assert summary["valid_call_rate"] == 0.6
    assert summary["schema_valid_rate"] == 0.4
    assert summary["exact_match"] == 0.2
    assert summary["field_accuracy"] == {"inverted_topic": 0.2}
    assert summary["latency_ms"] == {"p50": 30.0, "p95": 50.0}
    assert summary["failures"] == {"unparsable": 1, "no_call": 1}


def test_agreement_is_schema_aware_for_sets_and_numbers() -> None:
    assert calls_agree([ToolCall("s", {"selected": ["a", "b"]})], [ToolCall("s", {"selected": ["b", "a"]})])
    assert calls_agree([ToolCall("s", {"risk": 2})], [ToolCall("s", {"risk": 2.0})])
    assert not calls_agree([ToolCall("s", {"selected": ["a"]})], [ToolCall("s", {"selected": ["a", "b"]})])
    assert not calls_agree([ToolCall("s", {"x": 1})], [ToolCall("t", {"x": 1})])
    assert normalise({"b": [3, 1], "a": {"c": 1.0}}) == {"a": {"c": 1}, "b": [1, 3]}


def test_cli_intent_answers_get_the_task_metrics() -> None:
    run = ToolCall("run_command", {"command": "pr", "subcommand": "list", "args": {}, "flags": [], "confidence": 0.95})
    scores = Scores()
    scores.add(_example(), [run], render_call(run.name, run.arguments), None)
    scores.add(_example(), [run], "garbage <start_function_call>", None)
    intent = scores.summary()["cli_intent"]
    assert intent["exact_match"] == 0.5 and intent["invalid_output_rate"] == 0.5 and intent["command_accuracy"] == 0.5


def test_pipeline_builds_the_named_layout_and_skips_finished_stages(
    tmp_path: Path, tiny_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    from finetune.pipeline import PipelineSettings, run_pipeline

    root = tmp_path / "training"
    shutil.copytree(tiny_data, root / "data" / "demo")
    settings = PipelineSettings(
        name="demo", root=root, quantizations=["q8_0"], eval_limit=4,
        sft_settings={"max_steps": 4, "eval_examples": 0, "save_steps": 100},
        dpo_settings={"max_steps": 1, "mine_examples": 4, "max_new_tokens": 40},
    )
    results = run_pipeline(settings, progress=None)
    models = root / "models" / "demo"
    for path in ("base/config.json", "sft/training.json", "sft/model", "dpo/training.json", "merged/tokenizer.model",
                 "demo-f16.gguf", "demo-q8_0.gguf", "eval/eval.json", "eval/eval.md", "eval/loss.png"):
        assert (models / path).exists(), path
    assert (models / "eval" / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(results["artifacts"]) == {str(models / "merged"), "demo-f16.gguf", "demo-q8_0.gguf"}
    assert results["heuristic_baseline"]["exact_match"] == 1.0  # the data's teacher is the heuristic
    report = (models / "eval" / "eval.md").read_text()
    assert "| demo-q8_0.gguf |" in report and "heuristic baseline" in report

    stamp = (models / "demo-q8_0.gguf").stat().st_mtime_ns
    log = tmp_path / "log.txt"
    with open(log, "w") as progress:
        run_pipeline(settings, progress=progress)
    skipped = [line for line in log.read_text().splitlines() if "done already, skipped" in line]
    assert len(skipped) == 8 and (models / "demo-q8_0.gguf").stat().st_mtime_ns == stamp
    settings.force = frozenset({"quantize", "eval"})
    run_pipeline(settings, progress=None)
    assert (models / "demo-q8_0.gguf").stat().st_mtime_ns != stamp
    assert json.loads((models / "eval" / "eval.json").read_text())["examples"] == 4
