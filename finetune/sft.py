"""``finetune sft``: supervised fine-tuning with TRL's ``SFTTrainer`` on prompt-completion data.

The loss is on the completion only (the model's answer) with ``<eos>`` appended; the rendered prompt already
starts with ``<bos>``, so it is removed from the text and the tokenizer adds the one BOS (never two). LoRA
through PEFT or full fine-tuning; eager attention (Gemma 3's recommendation for training); bf16 where the
hardware has it. Every line of the data is checked, and the tokenizer is checked against it, before training.
Runs unchanged under ``accelerate launch`` (data-parallel).

Two options change what a step costs and what it teaches (both off by default): ``--train-layers K`` trains only
the top K decoder layers and reads the frozen layers' outputs from a per-example cache after the first epoch
(:mod:`finetune.top_layers`); ``--decision-weight W`` weighs the tokens of call-argument values W times the format
and free text (:mod:`finetune.decision_weights`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from converters.examples import Example, dataset_file, load_examples
from converters.functiongemma import BOS
from finetune.config import ConfigError
from finetune.tiny import check_tokenizer
from finetune.top_layers import ActivationCache, decoder_of, freeze_below, layer_count, layer_linears
from finetune.train import (
    TrainingSettings,
    last_checkpoint,
    log_progress,
    lora_config,
    save_result,
    trainer_arguments,
)
from interpreters.checkpoints import check_model_dir, load_merged, load_tokenizer
from teacher.cli_args import non_negative_int, positive_float
from teacher.provenance import resolve_profile

if TYPE_CHECKING:
    from finetune.decision_weights import DecisionTokens

__all__ = ["SftSettings", "labelled_loss", "prepare_sft", "run_sft", "token_lengths", "trl_rows"]


@dataclasses.dataclass
class SftSettings(TrainingSettings):
    """SFT settings: those shared with DPO, and how batches are drawn."""

    group_by_length: bool = dataclasses.field(
        default=False,
        metadata={"help": "draw each batch from examples of similar length (transformers' LengthGroupedSampler): "
                          "less padding, so faster steps when lengths vary (mixed tasks)"},
    )
    train_layers: int = dataclasses.field(
        default=0,
        metadata={"help": "train only the top K decoder layers (0: all); the embedding and the layers below are "
                          "frozen (LoRA adapts the top K only; --no-lora trains them fully)",
                  "range": non_negative_int},
    )
    activation_cache: bool = dataclasses.field(
        default=True,
        metadata={"help": "with --train-layers: compute the frozen layers' output once per example and read it "
                          "back every later epoch (kept in OUT/activations, so a resumed run reuses it)"},
    )
    recipe_name: str = dataclasses.field(
        default="",
        metadata={"help": "the name of the recipe these settings come from (a base built by finetune base starts "
                          "from finetune.recipe's; recorded in training.json and the model card)"},
    )
    decision_weight: float = dataclasses.field(
        default=1.0,
        metadata={"help": "loss weight of decision tokens (call-argument values, free-text fields excepted) "
                          "against 1 for format and free text; the weights are scaled to a mean of 1 per batch",
                  "range": positive_float},
    )


def trl_rows(examples: list[Example]) -> dict[str, list[str]]:
    """Prompt/completion columns for TRL: the leading ``<bos>`` left to the tokenizer, which adds exactly one."""
    return {
        "prompt": [e.prompt.removeprefix(BOS) for e in examples],
        "completion": [e.completion for e in examples],
    }


def labelled_loss(
    causal_lm: Any, hidden: Any, labels: Any, num_items: Any = None, weights: Any = None
) -> tuple[Any, Any, Any]:
    """Next-token cross-entropy computed only where a label is set: the output layer (262,144 wide for Gemma 3)
    runs on the labelled positions' hidden states, not on every position. Returns (loss, logits, targets).

    ``hidden`` is the decoder's last hidden state (batch, length, width); the loss is summed and divided by
    ``num_items`` (the trainer's count over accumulated batches) or by the labelled positions here, as
    transformers' own causal-LM loss does; Gemma's final logit soft-capping is applied when configured.
    ``weights`` (the shape of ``labels``) weighs each labelled token's loss.
    """
    import torch

    targets = labels[:, 1:]
    mask = targets != -100
    logits = causal_lm.get_output_embeddings()(hidden[:, :-1][mask]).float()
    cap = getattr(causal_lm.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    chosen = targets[mask]
    if weights is None:
        loss = torch.nn.functional.cross_entropy(logits, chosen, reduction="sum")
    else:
        each = torch.nn.functional.cross_entropy(logits, chosen, reduction="none")
        loss = (each * weights[:, 1:][mask].to(each.dtype)).sum()
    count = num_items if num_items is not None else mask.sum().clamp(min=1)
    return loss / torch.as_tensor(count, device=loss.device), logits, chosen


def fast_sft_trainer() -> type:
    """``SFTTrainer`` whose loss computes logits only at labelled positions (see :func:`labelled_loss`).

    TRL's own path scores every position on CPU (its compact path needs Triton). The forward still goes
    through the (possibly DDP-wrapped) model, asking for the last position's logits only; a hook on the decoder
    keeps its hidden states. The logged metrics (token accuracy, entropy, tokens) are TRL's, on labelled tokens.
    With an ``activation_cache`` the forward starts at the first trained layer from the cached hidden states;
    with ``decision_tokens`` each labelled token's loss is weighed.
    """
    import torch
    from trl import SFTTrainer

    class FastSFTTrainer(SFTTrainer):  # type: ignore[misc]
        activation_cache: ActivationCache | None = None
        decision_tokens: DecisionTokens | None = None

        def compute_loss(
            self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
        ) -> Any:
            if return_outputs:
                return super().compute_loss(model, inputs, True, num_items_in_batch)
            mode = "train" if self.model.training else "eval"
            unwrapped = self.accelerator.unwrap_model(model)
            causal = unwrapped.get_base_model() if hasattr(unwrapped, "get_base_model") else unwrapped
            decoder = decoder_of(causal)
            forward = {k: v for k, v in inputs.items() if k not in ("labels", "completion_mask")}
            cache = self.activation_cache
            if cache is not None:
                forward["inputs_embeds"] = cache.hidden_states(decoder, forward.pop("input_ids"),
                                                               inputs["attention_mask"])
            kept: list[Any] = []
            hook = decoder.register_forward_hook(lambda _m, _a, out: kept.append(out.last_hidden_state))
            try:
                with cache.top_only(decoder) if cache is not None else contextlib.nullcontext():
                    model(**forward, use_cache=False, logits_to_keep=1)
            finally:
                hook.remove()
            weights = None
            if self.decision_tokens is not None:
                weights = self.decision_tokens.weights(inputs["input_ids"], inputs["attention_mask"], inputs["labels"])
            loss, logits, targets = labelled_loss(causal, kept[-1], inputs["labels"], num_items_in_batch, weights)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                loss = loss * self.accelerator.num_processes
            with torch.no_grad():
                valid = self.accelerator.gather_for_metrics(torch.tensor(len(targets), device=loss.device)).sum()
                correct = self.accelerator.gather_for_metrics((logits.argmax(-1) == targets).sum()).sum()
                log_p = torch.log_softmax(logits, dim=-1)
                entropy = self.accelerator.gather_for_metrics(-(log_p.exp() * log_p).sum()).sum()
            self._metrics[mode]["mean_token_accuracy"].append((correct / valid).item() if valid > 0 else 0.0)
            self._metrics[mode]["entropy"].append((entropy / valid).item() if valid > 0 else 0.0)
            if mode == "train":
                tokens = self.accelerator.gather_for_metrics(inputs["attention_mask"].sum()).sum().item()
                self._total_train_tokens += tokens
            self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
            return loss

    return FastSFTTrainer


def token_lengths(tokenizer: Any, examples: list[Example]) -> list[int]:
    """Each example's length in tokens as trained (BOS, prompt, completion, EOS)."""
    texts = [e.prompt.removeprefix(BOS) + e.completion for e in examples]
    if not texts:
        return []
    return [len(ids) + 2 for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def _fit(tokenizer: Any, examples: list[Example], max_length: int) -> tuple[list[Example], int, int]:
    lengths = token_lengths(tokenizer, examples)
    kept = [e for e, n in zip(examples, lengths, strict=True) if n <= max_length]
    return kept, len(examples) - len(kept), sum(n for n in lengths if n <= max_length)


def prepare_sft(settings: SftSettings) -> tuple[Any, dict[str, Any]]:
    """The ready-to-train ``SFTTrainer`` and the data counts; every input is checked before anything trains."""
    base = check_model_dir(Path(settings.base))
    resolve_profile(settings.profile, Path(settings.data))  # the data's recorded profile must be the one asked for
    train = load_examples(dataset_file(Path(settings.data), "train"), settings.profile)  # type: ignore[arg-type]
    evaluation: list[Example] = []
    if settings.eval_examples > 0 and Path(settings.data).is_dir() and (Path(settings.data) / "eval.jsonl").is_file():
        evaluation = load_examples(Path(settings.data) / "eval.jsonl", settings.profile)[: settings.eval_examples]  # type: ignore[arg-type]
    from datasets import Dataset  # heavy: only once the inputs are known to be there
    from trl import SFTConfig

    tokenizer = load_tokenizer(base)
    check_tokenizer(
        tokenizer, [e.prompt + e.completion for e in train], source=str(dataset_file(Path(settings.data), "train"))
    )
    train, too_long, train_tokens = _fit(tokenizer, train, settings.max_length)
    evaluation, _, _ = _fit(tokenizer, evaluation, settings.max_length)
    if not train:
        raise ValueError(f"{settings.data}: every example is longer than --max-length {settings.max_length}")
    model = load_merged(base, settings.precision)  # type: ignore[arg-type]
    layers = trained_layers(settings, model)
    if layers is not None and not settings.lora:
        freeze_below(model, layers[0])
    config = SFTConfig(
        **trainer_arguments(settings, bool(evaluation)),
        completion_only_loss=True,
        dataset_num_proc=None,
        train_sampling_strategy="group_by_length" if settings.group_by_length else "random",
    )
    trainer = fast_sft_trainer()(
        model=model,
        args=config,
        train_dataset=Dataset.from_dict(trl_rows(train)),
        eval_dataset=Dataset.from_dict(trl_rows(evaluation)) if evaluation else None,
        processing_class=tokenizer,
        peft_config=lora_config(settings, base, layers, layer_linears(model)),
    )
    if layers is not None and settings.activation_cache:
        trainer.activation_cache = ActivationCache(
            Path(settings.out) / "activations" / f"from-layer-{layers[0]}", layers[0],
            {"base": str(base.resolve()), "dtype": str(model.dtype).removeprefix("torch.")},
        )
    if settings.decision_weight != 1.0:
        from finetune.decision_weights import DecisionTokens

        trainer.decision_tokens = DecisionTokens.of_rows(
            tokenizer, trainer.train_dataset, [e.task for e in train], settings.decision_weight
        )
    counts = {
        "train_examples": len(train),
        "eval_examples": len(evaluation),
        "dropped_too_long": too_long,
        "train_tokens": train_tokens,
    }
    return trainer, counts


def trained_layers(settings: SftSettings, model: Any) -> list[int] | None:
    """The decoder layers ``--train-layers`` trains (the top K), or None when every layer trains."""
    if not settings.train_layers:
        return None
    total = layer_count(model)
    if settings.train_layers > total:
        raise ConfigError(f"--train-layers {settings.train_layers}: the model has {total} decoder layers")
    return list(range(total - settings.train_layers, total))


def recipe(trainer: Any, settings: SftSettings) -> dict[str, Any]:
    """What the run trained beyond its settings: the layers, the activation cache's use, the decision tokens."""
    causal = trainer.model.get_base_model() if hasattr(trainer.model, "get_base_model") else trainer.model
    total = layer_count(causal)
    first = total - settings.train_layers if settings.train_layers else 0
    found: dict[str, Any] = {
        "method": "lora" if settings.lora else "full",
        "trained_layers": [first, total - 1],
        "frozen": f"embedding (tied output layer, control-token rows), layers 0-{first - 1}" if first else None,
        "activation_cache": trainer.activation_cache.stats() if trainer.activation_cache is not None else None,
        "decision_weight": settings.decision_weight,
    }
    if settings.recipe_name:
        found["name"] = settings.recipe_name
    if trainer.decision_tokens is not None:
        found["decision_token_share"] = round(trainer.decision_tokens.share(), 4)
    return found


def run_sft(settings: SftSettings) -> Path:
    """Train and save; returns ``OUT/model``. An interrupted run resumes from its last checkpoint."""
    started = time.perf_counter()
    trainer, counts = prepare_sft(settings)
    log_progress(trainer, "sft")
    result = trainer.train(resume_from_checkpoint=last_checkpoint(settings))
    counts["train_runtime"] = result.metrics.get("train_runtime")
    return save_result(trainer, settings, "sft", Path(settings.base), counts, started, recipe(trainer, settings))
