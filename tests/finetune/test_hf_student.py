"""The HF student backend on the tiny fine-tuned model: asked like any student, scored by ``teacher.compare`` and by
``finetune eval`` through the backend protocol, with the same answers as the text path it replaces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from converters.examples import load_examples
from finetune.evaluate import Scores, expected_calls, score_backend
from interpreters.hf import HfModel, HfModelMissing
from tasks.registry import TASKS
from teacher.handlers import interpret, perform
from teacher.model import request_for, student_prompt
from teacher.operations import Ask
from teacher.task import TaskOutputError


def _known(tiny_data: Path, count: int) -> list:  # type: ignore[type-arg]
    examples = [e for e in load_examples(tiny_data / "eval.jsonl") if e.task in TASKS and e.input is not None]
    assert len(examples) >= count
    return examples[:count]


async def test_the_hf_student_answers_asks_with_its_training_prompt(tiny_sft: Path, tiny_data: Path) -> None:
    model = HfModel(tiny_sft / "model", max_tokens=120)
    assert model.profile == "hf"
    for example in _known(tiny_data, 3):
        task = TASKS[str(example.task)]
        input = task.input_model.model_validate(example.input)
        reply = await model.complete(request_for(task, input))
        assert reply.meta["request"]["prompt"] == student_prompt(request_for(task, input)) == example.prompt
        assert reply.meta["completion_tokens"] > 0 and reply.meta["latency_s"] > 0
        assert str(reply.raw).startswith("<start_function_call>call:")  # it learnt the call format
        assert bool(reply.calls) != ("format_error" in reply.meta)  # read by the codec, or said why not
        async with interpret(model):  # asked again (greedy: the same answer), parsed and checked by the task
            try:
                output = await perform(Ask(task, input))
            except TaskOutputError:  # a wrong answer of the tiny model is the task's error, as for any student
                output = None
        try:
            assert output == task.parse(reply.calls[0], input)
        except (IndexError, TaskOutputError):
            assert output is None
    with pytest.raises(HfModelMissing, match="not found"):
        HfModel(tiny_sft / "absent")


def test_eval_through_the_backend_gives_the_answers_of_the_text_path(tiny_sft: Path, tiny_data: Path) -> None:
    examples = load_examples(tiny_data / "eval.jsonl")[:6]
    through_backend = score_backend(HfModel(tiny_sft / "model", max_tokens=120), examples)
    generator = HfModel(tiny_sft / "model", max_tokens=120)
    as_text = Scores()
    for example in examples:
        done = generator.complete_text(example.prompt)
        as_text.add(example, expected_calls(example), done.text, done.latency_s)
    text = as_text.summary()
    for figures in (through_backend, text):
        figures.pop("latency_ms")
    assert through_backend == text and through_backend["examples"] == 6


def test_compare_scores_an_hf_checkpoint(tiny_sft: Path, tiny_data: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from teacher.compare import main as compare

    recordings = tmp_path / "recordings"  # three turns of each compared task, from the first recorded session
    kept: dict[str, int] = {}
    lines = []
    for line in sorted((tiny_data.parent / "recordings").rglob("*.jsonl"))[0].read_text().splitlines():
        record = json.loads(line)
        task = str(record.get("task"))
        if record.get("kind") == "model" and kept.get(task, 0) < 3:
            kept[task] = kept.get(task, 0) + 1
            lines.append(line + "\n")
    recordings.mkdir()
    (recordings / "s.jsonl").write_text("".join(lines))
    out = tmp_path / "report.json"
    assert compare([str(recordings), "--student", "hf", "--hf", str(tiny_sft / "model"), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report) == {"select_symbols", "score_edge"}
    for figures in report.values():
        assert figures["turns"] == 3 and figures["valid"] + figures["invalid"] + figures["failed"] == figures["turns"]
        assert figures["failed"] == 0 and ("exact" in figures) == (figures["valid"] > 0)
    assert compare([str(recordings), "--student", "hf", "--hf", str(tmp_path / "absent")]) == 2
    assert "absent" in capsys.readouterr().err
