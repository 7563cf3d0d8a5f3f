"""Evaluation metrics on hand-made answers, the report files, and the named pipeline's layout and skipping."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from converters.examples import Example
from converters.functiongemma import ToolCall, render_call
from finetune.evaluate import Scores, calls_agree, normalise, write_report


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
    assert summary["latency_ms"] == {"p50": 30.0, "p95": 50.0, "n": 5}
    assert summary["field_n"] == {"inverted_topic": 5}
    assert summary["failures"] == {"unparsable": 1, "no_call": 1}


def test_agreement_is_schema_aware_for_sets_and_numbers() -> None:
    assert calls_agree([ToolCall("s", {"selected": ["a", "b"]})], [ToolCall("s", {"selected": ["b", "a"]})])
    assert calls_agree([ToolCall("s", {"risk": 2})], [ToolCall("s", {"risk": 2.0})])
    assert not calls_agree([ToolCall("s", {"selected": ["a"]})], [ToolCall("s", {"selected": ["a", "b"]})])
    assert not calls_agree([ToolCall("s", {"x": 1})], [ToolCall("t", {"x": 1})])
    assert normalise({"b": [3, 1], "a": {"c": 1.0}}) == {"a": {"c": 1}, "b": [1, 3]}


def test_per_task_rates_and_the_tool_confusion_count_each_example() -> None:
    run = ToolCall("run_command", {"command": "pr", "subcommand": "list", "args": {}, "flags": [], "confidence": 0.95})
    ask = ToolCall("clarify", {"message": "Which PR?", "suggestions": ["pr view"], "confidence": 0.3})
    scores = Scores()
    intent = _example("cli_intent:gh")
    scores.add(intent, [run], render_call(run.name, run.arguments), None)  # right
    scores.add(intent, [run], render_call(ask.name, ask.arguments), None)  # asked instead of running
    scores.add(intent, [ask], render_call(run.name, run.arguments), None)  # ran instead of asking
    scores.add(intent, [ask], "garbage <start_function_call>", None)
    scores.add(_example("invert_topic"), [ToolCall("invert_topic", {"inverted_topic": "x"})], "text", None)
    summary = scores.summary()
    assert summary["by_task"]["cli_intent:gh"]["examples"] == 4
    assert summary["by_task"]["cli_intent:gh"]["exact_match"] == 0.25
    assert summary["by_task"]["invert_topic"] == {
        "examples": 1, "valid_call_rate": 0.0, "schema_valid_rate": 0.0, "exact_match": 0.0
    }
    assert summary["confusion"] == {
        "cli_intent:gh": {
            "clarify": {"(unparsable)": 1, "run_command": 1}, "run_command": {"clarify": 1, "run_command": 1}
        },
        "invert_topic": {"invert_topic": {"(no call)": 1}},
    }
    report = write_report({"data": "d", "examples": 5, "artifacts": {"m.gguf": summary}})
    assert "| m.gguf | cli_intent:gh | 4 | " in report
    assert "| teacher \\ model | (unparsable) | clarify | run_command |" in report
    assert "| clarify | 1 | 0 | 1 |" in report and "| run_command | 0 | 1 | 1 |" in report


def test_conversation_accuracy_compounds_over_teacher_forced_turns(tmp_path: Path) -> None:
    from converters.functiongemma import split_output
    from finetune.evaluate import conversation_steps, score_conversations
    from tasks.subagents.docstring.examples import DocstringExamples
    from tasks.subagents.generate import main as generate

    assert generate(DocstringExamples(), ["--count", "12", "--out", str(tmp_path), "--seed", "3"]) == 0
    steps = conversation_steps(tmp_path / "eval.jsonl")
    assert steps and all(len(pairs) >= 2 for _, pairs in steps.values())
    answers = {prompt: completion for _, pairs in steps.values() for prompt, completion in pairs}
    perfect = score_conversations(steps, answers.get)
    assert perfect["conversation_accuracy"] == perfect["turn_accuracy"] == 1.0
    assert perfect["turns"] == sum(len(pairs) for _, pairs in steps.values())
    first_turns = {pairs[0][0] for _, pairs in steps.values()}
    # every first turn right, every later one wrong: turns are partly right, no whole conversation is
    partial = score_conversations(steps, lambda prompt: answers[prompt] if prompt in first_turns else "no call")
    assert 0 < partial["turn_accuracy"] < 1 and partial["conversation_accuracy"] == 0.0
    assert all(split_output(c)[0] for _, pairs in steps.values() for _, c in pairs)


def test_the_baseline_says_when_the_heuristic_is_the_teacher(tmp_path: Path) -> None:
    from finetune.evaluate import baseline_note

    assert baseline_note(tmp_path, None, {"HeuristicModel": 12})["is_teacher"] is True
    assert "IS the data's teacher" in baseline_note(tmp_path, None, {"HeuristicModel": 12})["verdict"]
    other = baseline_note(tmp_path, {"exact_match": 1.0}, {"AnthropicTeacher": 9})
    assert other["is_teacher"] is False and "AnthropicTeacher (9 turns)" in other["verdict"]
    (tmp_path / "stats.json").write_text(json.dumps({"teacher": "heuristic"}))
    assert baseline_note(tmp_path, None)["is_teacher"] is True
    (tmp_path / "stats.json").unlink()
    assert baseline_note(tmp_path, {"exact_match": 0.5})["is_teacher"] is None


def test_cli_intent_answers_get_the_task_metrics() -> None:
    run = ToolCall("run_command", {"command": "pr", "subcommand": "list", "args": {}, "flags": [], "confidence": 0.95})
    scores = Scores()
    intent_example = _example("cli_intent:gh")  # the task's own metrics come from the example's task
    scores.add(intent_example, [run], render_call(run.name, run.arguments), None)
    scores.add(intent_example, [run], "garbage <start_function_call>", None)
    intent = scores.summary()["cli_intent"]
    assert intent["exact_match"] == 0.5 and intent["invalid_output_rate"] == 0.5 and intent["command_accuracy"] == 0.5


def test_pipeline_builds_the_named_layout_and_skips_finished_stages(
    tmp_path: Path, tiny_data: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
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
    results = run_pipeline(settings)
    models = root / "models" / "demo"
    for path in ("base/config.json", "sft/training.json", "sft/model", "dpo/training.json", "merged/tokenizer.model",
                 "demo-f16.gguf", "demo-q8_0.gguf", "eval/eval.json", "eval/eval.md", "eval/loss.png"):
        assert (models / path).exists(), path
    assert (models / "eval" / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(results["artifacts"]) == {str(models / "merged"), "demo-f16.gguf", "demo-q8_0.gguf"}
    assert results["heuristic_baseline"]["exact_match"] == 1.0  # the data's teacher is the heuristic
    assert results["base"]["model"] == str(models / "base") and results["base"]["examples"] == 4  # before training
    assert "most likely recorded with the heuristic teacher" in results["baseline"]["verdict"]
    merged = results["artifacts"][str(models / "merged")]
    assert sum(t["examples"] for t in merged["by_task"].values()) == 4
    assert sum(sum(row.values()) for table in merged["confusion"].values() for row in table.values()) == 4
    report = (models / "eval" / "eval.md").read_text()
    assert "| demo-q8_0.gguf (after) | 4 |" in report and "| heuristic baseline | 4 |" in report
    assert "| base (before): base | 4 |" in report and "Baseline: the offline heuristic teacher" in report
    assert (models / "eval" / "eval.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    card = (models / "hub" / "README.md").read_text()  # the card stage: a publishable folder
    assert card.startswith("---\nlicense: gemma\n") and "| demo-q8_0.gguf (after) | 4 |" in card
    assert (models / "hub" / "demo-q8_0.gguf").stat().st_size == (models / "demo-q8_0.gguf").stat().st_size

    stamp = (models / "demo-q8_0.gguf").stat().st_mtime_ns
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="finetune.pipeline"):
        run_pipeline(settings)
    skipped = [r.getMessage() for r in caplog.records if "done already, skipped" in r.getMessage()]
    assert len(skipped) == 9 and (models / "demo-q8_0.gguf").stat().st_mtime_ns == stamp
    settings.force = frozenset({"quantize", "eval"})
    run_pipeline(settings)
    assert (models / "demo-q8_0.gguf").stat().st_mtime_ns != stamp
    assert json.loads((models / "eval" / "eval.json").read_text())["examples"] == 4
