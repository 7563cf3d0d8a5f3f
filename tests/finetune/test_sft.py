"""SFT on the tiny model: the label mask, one BOS, EOS appended, LoRA and full training, resume."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from finetune.sft import SftSettings, prepare_sft, run_sft
from finetune.train import finished, last_checkpoint


def _settings(base: Path, data: Path, out: Path, **extra: object) -> SftSettings:
    values: dict[str, object] = {
        "base": str(base),
        "data": str(data),
        "out": str(out),
        "max_steps": 2,
        "batch_size": 2,
        "save_steps": 1,
        "logging_steps": 1,
        "eval_examples": 0,
    }
    values.update(extra)
    return SftSettings(**values)  # type: ignore[arg-type]


def test_prompt_tokens_are_masked_and_the_completion_and_eos_are_labelled(
    tiny_base: Path, tiny_data: Path, tmp_path: Path
) -> None:
    trainer, counts = prepare_sft(_settings(tiny_base, tiny_data, tmp_path))
    tokenizer = trainer.processing_class
    assert counts["train_examples"] == len(trainer.train_dataset) > 10
    for row in trainer.train_dataset.select(range(10)):
        ids, labels = row["input_ids"], row["labels"]
        assert ids[0] == tokenizer.bos_token_id and tokenizer.bos_token_id not in ids[1:]  # exactly one BOS
        first = next(i for i, label in enumerate(labels) if label != -100)
        assert all(label == -100 for label in labels[:first])
        assert labels[first:] == ids[first:]  # everything after the prompt is learnt, up to the end
        assert ids[-1] == tokenizer.eos_token_id
        prompt = tokenizer.decode(ids[1:first], skip_special_tokens=False)
        completion = tokenizer.decode(ids[first:-1], skip_special_tokens=False)
        assert (prompt, completion + tokenizer.eos_token) == (row["prompt"], row["completion"])  # TRL appended it
        assert completion.startswith("<start_function_call>call:")
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    padded = batch["input_ids"] == tokenizer.pad_token_id
    assert bool((batch["labels"][padded] == -100).all())  # padding is never learnt


def test_group_by_length_batches_examples_of_similar_length(tiny_base: Path, tiny_data: Path, tmp_path: Path) -> None:
    default, _ = prepare_sft(_settings(tiny_base, tiny_data, tmp_path / "random"))
    grouped, _ = prepare_sft(_settings(tiny_base, tiny_data, tmp_path / "grouped", group_by_length=True, batch_size=4))
    assert default.args.train_sampling_strategy == "random"
    assert type(default._get_train_sampler()).__name__ == "RandomSampler"
    assert grouped.args.train_sampling_strategy == "group_by_length"

    def padding(trainer: object, batches: int) -> int:
        """Pad positions in the first ``batches`` batches the trainer's sampler draws, in batches of 4."""
        lengths = [len(row) for row in trainer.train_dataset["input_ids"]]  # type: ignore[attr-defined]
        order = list(iter(trainer._get_train_sampler()))  # type: ignore[attr-defined]
        chunks = [order[i:i + 4] for i in range(0, 4 * batches, 4)]
        return sum(max(lengths[i] for i in chunk) * len(chunk) - sum(lengths[i] for i in chunk) for chunk in chunks)

    batches = min(20, len(grouped.train_dataset) // 4)
    assert sorted(iter(grouped._get_train_sampler())) == list(range(len(grouped.train_dataset)))  # each once
    assert padding(grouped, batches) < padding(default, batches)


def test_lora_sft_writes_an_adapter_and_resumes_from_its_last_checkpoint(
    tiny_base: Path, tiny_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(
        tiny_base, tiny_data, tmp_path, lora=True, lora_r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]
    )
    model = run_sft(settings)
    assert finished(tmp_path)
    adapter = json.loads((model / "adapter_config.json").read_text())
    assert adapter["r"] == 4 and sorted(adapter["target_modules"]) == ["q_proj", "v_proj"]
    assert adapter["base_model_name_or_path"] == str(tiny_base.resolve())
    assert (model / "tokenizer.model").is_file()
    # a longer run on the same output resumes at step 2 instead of starting over
    settings.max_steps = 4
    assert last_checkpoint(settings) == str(tmp_path / "checkpoints" / "checkpoint-2")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="finetune.train"):
        run_sft(settings)
    trained = [r.getMessage() for r in caplog.records if r.getMessage().startswith("  sft: step ")]
    summary = json.loads((tmp_path / "training.json").read_text())
    steps = [entry["step"] for entry in summary["log_history"] if "loss" in entry]
    assert summary["global_steps"] == 4 and steps == [1, 2, 3, 4] and len(trained) == 2
    assert [line.split(",")[0] for line in trained] == ["  sft: step 3/4", "  sft: step 4/4"]  # resumed
    assert summary["counts"]["dropped_too_long"] == 0 and summary["tokens_per_second"] > 0


def test_full_fine_tuning_learns_the_call_format(tiny_sft: Path, tiny_data: Path) -> None:
    from converters.examples import load_examples
    from interpreters.hf import HfModel

    summary = json.loads((tiny_sft / "training.json").read_text())
    losses = [entry["loss"] for entry in summary["log_history"] if "loss" in entry]
    assert losses[-1] < losses[0] / 3
    generator = HfModel(tiny_sft / "model", max_tokens=200)
    outputs = [generator.complete_text(e.prompt).text for e in load_examples(tiny_data / "eval.jsonl")[:5]]
    assert all(text.startswith("<start_function_call>call:") for text in outputs), outputs
