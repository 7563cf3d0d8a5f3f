"""``finetune dpo``: preference pairs mined from the SFT model's own mistakes, then TRL's ``DPOTrainer``.

The SFT model answers training prompts greedily. Where its answer is wrong (the calls differ from the
teacher's, compared schema-aware by :func:`finetune.evaluate.calls_agree`) or invalid (it does not parse or the
task refuses it), the pair is (chosen = the teacher's completion, rejected = the model's); empty or identical
pairs are skipped and counted. Mined pairs are kept in ``OUT/pairs.jsonl`` so an interrupted run does not mine
again. With LoRA, the reference model is the SFT model itself (the adapter disabled).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

from converters.examples import Example, dataset_file, load_examples
from converters.functiongemma import BOS, FunctionGemmaFormatError, split_output
from finetune.evaluate import TextStudent, calls_agree, expected_calls, schema_valid
from finetune.train import (
    TrainingSettings,
    last_checkpoint,
    log_progress,
    lora_config,
    save_result,
    trainer_arguments,
)
from interpreters.checkpoints import ModelError, check_model_dir, load_merged, load_tokenizer
from teacher.cli_args import positive_float, positive_int
from teacher.provenance import resolve_profile

__all__ = ["DpoSettings", "mine_pairs", "prepare_dpo", "run_dpo"]

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class DpoSettings(TrainingSettings):
    """DPO settings: the shared ones (``base`` is the SFT model) plus the preference-specific ones."""

    epochs: float = dataclasses.field(default=1.0, metadata={"help": "training epochs", "range": positive_float})
    learning_rate: float = dataclasses.field(
        default=5e-5, metadata={"help": "peak learning rate", "range": positive_float}
    )
    beta: float = dataclasses.field(
        default=0.1, metadata={"help": "DPO beta (strength of the reference)", "range": positive_float}
    )
    loss_type: str = dataclasses.field(default="sigmoid", metadata={"help": "DPO loss (sigmoid, ipo, hinge, ...)"})
    mine_examples: int = dataclasses.field(
        default=500,
        metadata={"help": "training prompts the SFT model answers to find its mistakes", "range": positive_int},
    )
    max_new_tokens: int = dataclasses.field(
        default=256, metadata={"help": "longest answer generated while mining", "range": positive_int}
    )


def mine_pairs(
    model: TextStudent, examples: list[Example], limit: int, seed: int = 0
) -> tuple[list[dict[str, str]], Counter[str]]:
    """Preference pairs from the model's wrong or invalid answers on up to ``limit`` examples, and the counts
    (progress logged every 25 examples)."""
    chosen_examples = list(examples)
    random.Random(seed).shuffle(chosen_examples)
    chosen_examples = chosen_examples[:limit]
    pairs: list[dict[str, str]] = []
    counts: Counter[str] = Counter()
    for index, example in enumerate(chosen_examples, start=1):
        output = model.complete_text(example.prompt).text
        try:
            predicted = split_output(output)[0]
            valid = schema_valid(example, predicted)
        except FunctionGemmaFormatError:
            predicted, valid = [], False
        if valid and calls_agree(expected_calls(example), predicted):
            counts["correct"] += 1
        elif not output.strip():
            counts["skipped_empty"] += 1
        elif output == example.completion:
            counts["skipped_identical"] += 1
        else:
            counts["invalid" if not valid else "wrong"] += 1
            pairs.append(
                {"prompt": example.prompt, "chosen": example.completion, "rejected": output, "where": example.where}
            )
        if index % 25 == 0 or index == len(chosen_examples):
            logger.info("  mining: %d/%d, %d pairs", index, len(chosen_examples), len(pairs))
    return pairs, counts


def _pairs(settings: DpoSettings) -> tuple[list[dict[str, str]], dict[str, int]]:
    cache = Path(settings.out) / "pairs.jsonl"
    counts_file = Path(settings.out) / "pairs.counts.json"
    if cache.is_file() and counts_file.is_file():
        pairs = [json.loads(line) for line in cache.read_text(encoding="utf-8").splitlines() if line.strip()]
        return pairs, json.loads(counts_file.read_text(encoding="utf-8"))
    resolve_profile(settings.profile, Path(settings.data))  # the data's recorded profile must be the one asked for
    train = load_examples(dataset_file(Path(settings.data), "train"), settings.profile)  # type: ignore[arg-type]
    from interpreters.hf import HfModel, HfModelMissing

    try:
        model = HfModel(Path(settings.base), settings.max_new_tokens)
        model.load()  # now: a broken checkpoint fails here, not mid-run
    except HfModelMissing as error:
        raise ModelError(str(error)) from None
    pairs, counts = mine_pairs(model, train, settings.mine_examples, settings.seed)
    Path(settings.out).mkdir(parents=True, exist_ok=True)
    cache.write_text("".join(json.dumps(p) + "\n" for p in pairs), encoding="utf-8")
    counts_file.write_text(json.dumps(dict(counts)), encoding="utf-8")
    return pairs, dict(counts)


def prepare_dpo(settings: DpoSettings) -> tuple[Any, dict[str, Any]]:
    """The ready-to-train ``DPOTrainer`` (None when no pair was mined) and the mining counts."""
    base = check_model_dir(Path(settings.base), "SFT model")
    pairs, counts = _pairs(settings)
    summary: dict[str, Any] = {"pairs": len(pairs), "mining": counts}
    if not pairs:
        return None, summary
    from datasets import Dataset  # heavy: only once there is something to train on
    from trl import DPOConfig, DPOTrainer

    rows = {
        "prompt": [p["prompt"].removeprefix(BOS) for p in pairs],  # the tokenizer adds the one BOS
        "chosen": [p["chosen"] for p in pairs],
        "rejected": [p["rejected"] for p in pairs],
    }
    arguments = trainer_arguments(settings, has_eval=False)
    config = DPOConfig(**arguments, beta=settings.beta, loss_type=[settings.loss_type])
    trainer = DPOTrainer(
        model=load_merged(base, settings.precision),  # type: ignore[arg-type]
        args=config,
        train_dataset=Dataset.from_dict(rows),
        processing_class=load_tokenizer(base),
        peft_config=lora_config(settings),
    )
    return trainer, summary


def run_dpo(settings: DpoSettings) -> Path | None:
    """Mine pairs, train, save; returns ``OUT/model``, or None when the SFT model made no mistake to learn from."""
    started = time.perf_counter()
    trainer, counts = prepare_dpo(settings)
    out = Path(settings.out)
    if trainer is None:
        summary = {
            "stage": "dpo",
            "skipped": "no preference pairs: the SFT model answered every mined prompt right",
            "counts": counts,
            "settings": dataclasses.asdict(settings),
        }
        (out / "training.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        return None
    log_progress(trainer, "dpo")
    result = trainer.train(resume_from_checkpoint=last_checkpoint(settings))
    counts["train_runtime"] = result.metrics.get("train_runtime")
    return save_result(trainer, settings, "dpo", Path(settings.base), counts, started)
