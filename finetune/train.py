"""What SFT and DPO share: LoRA settings, trainer arguments, saving the result with its lineage, the summary.

A stage writes ``OUT/checkpoints/`` while it trains (so an interrupted run resumes from the last one),
then ``OUT/model/`` (a PEFT adapter or a full model, with the tokenizer) and ``OUT/training.json`` (settings,
data counts, the loss history, throughput). A stage's output is valid when both exist.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from interpreters.checkpoints import adapter_chain, torch_dtype
from teacher.cli_args import Number, non_negative_float, non_negative_int, positive_float, positive_int
from teacher.cli_args import seed as random_seed
from teacher.provenance import write_provenance

#: written by ``finetune base``: which control tokens took over unused (untrained) embedding rows
BASE_MARKER = "functiongemma_base.json"

#: where a stage trains: ``auto`` is a CUDA GPU when one is visible, else the CPU
DEVICES = ("auto", "cpu", "cuda")

#: metric reporters that work offline: ``none``, or ``tensorboard`` (event files under ``OUT/checkpoints/runs``)
REPORTERS = ("none", "tensorboard")

__all__ = [
    "BASE_MARKER",
    "DEVICES",
    "TrainingSettings",
    "control_token_slots",
    "finished",
    "last_checkpoint",
    "log_progress",
    "lora_config",
    "save_result",
    "trainer_arguments",
]

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class TrainingSettings:
    """The settings every training stage has."""

    base: str = dataclasses.field(
        metadata={
            "help": "model directory to start from (a tiny model, FunctionGemma, or an earlier stage's OUT/model)"
        }
    )
    data: str = dataclasses.field(metadata={"help": "dataset directory (train.jsonl, eval.jsonl) or JSONL file"})
    out: str = dataclasses.field(metadata={"help": "output directory of this stage"})
    profile: str = dataclasses.field(
        default="hf",
        metadata={"help": "codec profile the data is rendered with (hf or ollama)", "choices": ("hf", "ollama")},
    )
    epochs: float = dataclasses.field(default=3.0, metadata={"help": "training epochs", "range": positive_float})
    max_steps: int = dataclasses.field(
        default=-1,
        metadata={"help": "stop after this many optimizer steps (-1: epochs decide)", "range": Number(int, minimum=-1)},
    )
    learning_rate: float = dataclasses.field(
        default=2e-4, metadata={"help": "peak learning rate", "range": positive_float}
    )
    batch_size: int = dataclasses.field(
        default=8, metadata={"help": "examples per device per step", "range": positive_int}
    )
    gradient_accumulation: int = dataclasses.field(
        default=1, metadata={"help": "steps accumulated per optimizer step", "range": positive_int}
    )
    max_length: int = dataclasses.field(
        default=2048,
        metadata={"help": "longest example in tokens; longer ones are dropped and counted", "range": positive_int},
    )
    lora: bool = dataclasses.field(
        default=True, metadata={"help": "train a LoRA adapter (--no-lora: full fine-tuning)"}
    )
    lora_r: int = dataclasses.field(default=16, metadata={"help": "LoRA rank", "range": positive_int})
    lora_alpha: int = dataclasses.field(default=32, metadata={"help": "LoRA alpha", "range": positive_int})
    lora_dropout: float = dataclasses.field(
        default=0.05, metadata={"help": "LoRA dropout", "range": Number(float, minimum=0, maximum=1, open_maximum=True)}
    )
    target_modules: list[str] = dataclasses.field(
        default_factory=lambda: ["all-linear"], metadata={"help": "modules LoRA adapts (names, or all-linear)"}
    )
    precision: str = dataclasses.field(
        default="auto",
        metadata={
            "help": "auto (bf16 where the hardware has it), bf16, fp16 or fp32",
            "choices": ("auto", "bf16", "fp16", "fp32"),
        },
    )
    device: str = dataclasses.field(
        default="auto",
        metadata={
            "help": "where to train: auto (a CUDA GPU when there is one, else the CPU), cpu, or cuda (an error "
                    "when no CUDA GPU is visible); on a GPU, --precision auto is bf16 and bigger --batch-size "
                    "values fit",
            "choices": DEVICES,
        },
    )
    seed: int = dataclasses.field(default=0, metadata={"help": "random seed", "range": random_seed})
    warmup: float = dataclasses.field(
        default=0.0,
        metadata={"help": "warm-up steps, or a fraction of all steps when below 1", "range": non_negative_float},
    )
    scheduler: str = dataclasses.field(
        default="linear", metadata={"help": "learning-rate schedule (linear, cosine, constant...)"}
    )
    logging_steps: int = dataclasses.field(
        default=10, metadata={"help": "log the loss every N steps", "range": positive_int}
    )
    save_steps: int = dataclasses.field(
        default=100, metadata={"help": "checkpoint every N steps (for resuming)", "range": positive_int}
    )
    keep_checkpoints: int = dataclasses.field(
        default=2, metadata={"help": "checkpoints kept on disk, the newest (more: a learning curve can score each)",
                             "range": positive_int}
    )
    eval_examples: int = dataclasses.field(
        default=200, metadata={"help": "eval-split examples whose loss is tracked (0: none)", "range": non_negative_int}
    )
    resume: bool = dataclasses.field(
        default=True, metadata={"help": "resume from the last checkpoint in OUT/checkpoints"}
    )
    report_to: str = dataclasses.field(
        default="none",
        metadata={"help": "where the trainer reports metrics: none, or tensorboard (offline, event files in "
                          "OUT/checkpoints/runs)", "choices": REPORTERS},
    )


def control_token_slots(base: Path) -> list[int]:
    """Ids of control tokens that a base built by ``finetune base`` wrote into unused slots (untrained rows)."""
    marker = adapter_chain(base)[0] / BASE_MARKER
    if not marker.is_file():
        return []
    return sorted(int(i) for i in json.loads(marker.read_text(encoding="utf-8"))["control_tokens_in_unused_slots"])


def lora_config(
    settings: TrainingSettings, base: Path | None = None, layers: list[int] | None = None,
    layer_linears: list[str] | None = None,
) -> Any:
    """The PEFT LoRA configuration of the settings, or None for full fine-tuning. When ``base`` holds control
    tokens in formerly unused slots, their embedding rows train too (PEFT ``trainable_token_indices``). With
    ``layers`` (decoder layer indexes), only those layers are adapted and the embedding rows stay frozen;
    ``all-linear`` then means ``layer_linears``, the names of a decoder layer's linear modules (PEFT takes no
    layer list with ``all-linear``)."""
    if not settings.lora:
        return None
    from peft import LoraConfig

    slots = control_token_slots(base) if base is not None and layers is None else []
    only: dict[str, Any] = {"layers_to_transform": layers, "layers_pattern": "layers"} if layers is not None else {}

    modules: str | list[str] = settings.target_modules
    if modules == ["all-linear"]:
        modules = "all-linear" if layers is None else list(layer_linears or [])
    return LoraConfig(
        r=settings.lora_r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=modules,
        task_type="CAUSAL_LM",
        trainable_token_indices=slots or None,
        **only,
    )


def trainer_arguments(settings: TrainingSettings, has_eval: bool) -> dict[str, Any]:
    """Keyword arguments shared by TRL's ``SFTConfig`` and ``DPOConfig``."""
    import torch

    dtype = torch_dtype(settings.precision)  # type: ignore[arg-type]
    return {
        "output_dir": str(Path(settings.out) / "checkpoints"),
        "num_train_epochs": settings.epochs,
        "max_steps": settings.max_steps,
        "per_device_train_batch_size": settings.batch_size,
        "per_device_eval_batch_size": settings.batch_size,
        "gradient_accumulation_steps": settings.gradient_accumulation,
        "learning_rate": settings.learning_rate,
        "lr_scheduler_type": settings.scheduler,
        "warmup_steps": settings.warmup,
        "logging_steps": settings.logging_steps,
        "save_steps": settings.save_steps,
        "save_total_limit": settings.keep_checkpoints,
        "eval_strategy": "steps" if has_eval else "no",
        "eval_steps": settings.logging_steps * 5 if has_eval else None,
        "seed": settings.seed,
        "bf16": dtype == torch.bfloat16,
        "fp16": dtype == torch.float16,
        "report_to": _reporter(settings.report_to),
        "max_length": settings.max_length,
        "use_cpu": _use_cpu(settings.device),
        "ddp_find_unused_parameters": False,
        "gradient_checkpointing": False,  # TRL turns it on; recomputing activations only costs time here
    }


def log_progress(trainer: Any, stage: str) -> None:
    """Report the training of ``trainer`` as log lines: its step, every tenth of the run, with the last loss (INFO),
    in place of the dictionaries transformers prints when its progress bar is off (it is, unless ``-v`` lets
    transformers speak)."""
    from transformers import PrinterCallback, TrainerCallback

    class LogProgress(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            every = max(1, state.max_steps // 10)
            if state.global_step % every == 0 or state.global_step == state.max_steps:
                losses = [row["loss"] for row in state.log_history if "loss" in row]
                loss = f", loss {float(losses[-1]):.3f}" if losses else ""
                logger.info("  %s: step %d/%d%s", stage, state.global_step, state.max_steps, loss)

    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(LogProgress())


def _use_cpu(device: str) -> bool:
    """Whether the trainer must stay on the CPU; ``cuda`` without a visible CUDA GPU is a one-line error."""
    import torch

    from finetune.config import ConfigError

    if device not in DEVICES:
        raise ConfigError(f"--device {device!r} is not one of {', '.join(DEVICES)}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA GPU is visible to torch (torch.cuda.is_available() is False)")
    return device == "cpu" or not torch.cuda.is_available()


def _reporter(name: str) -> str:
    """``report_to`` for the trainer, checked up front: tensorboard needs its package; never a network service."""
    if name not in REPORTERS:
        raise ValueError(f"report_to {name!r} is not one of {', '.join(REPORTERS)} (offline reporters)")
    if name == "tensorboard":
        import importlib.util

        if importlib.util.find_spec("tensorboard") is None and importlib.util.find_spec("tensorboardX") is None:
            raise ValueError("report_to tensorboard needs the tensorboard package: pip install tensorboard")
    return name


def last_checkpoint(settings: TrainingSettings) -> str | None:
    """The newest checkpoint of an interrupted run, when resuming is on."""
    folder = Path(settings.out) / "checkpoints"
    if not settings.resume or not folder.is_dir():
        return None
    found = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    return str(found[-1]) if found else None


def finished(out: Path) -> bool:
    """Whether a stage's output directory holds a complete result."""
    summary = out / "training.json"
    if summary.is_file() and "skipped" in json.loads(summary.read_text(encoding="utf-8")):
        return True  # nothing to train on (e.g. DPO without a single mistake to learn from)
    model = out / "model"
    has_weights = any(model.glob("*.safetensors")) if model.is_dir() else False
    return summary.is_file() and has_weights


def save_result(
    trainer: Any, settings: TrainingSettings, stage: str, base: Path, counts: dict[str, Any], started: float,
    recipe: dict[str, Any] | None = None,
) -> Path:
    """Save the trained model (adapter or full) with its tokenizer and lineage, and the stage's summary (with
    ``recipe``: what was trained and how, beyond the settings).

    Under ``accelerate launch`` every process waits until process zero has written everything, then closes
    the process group: a process that exits with the group still open can abort in gloo's teardown."""
    try:
        model_dir = _save_on_main(trainer, settings, stage, base, counts, started, recipe)
    finally:
        _end_distributed(trainer)
    return model_dir


def _trained_parameters(trainer: Any) -> dict[str, Any]:
    """Where the stage trained, in what type, and how many of the model's weights learnt."""
    parameters = list(trainer.model.parameters())
    return {
        "device": str(trainer.args.device),
        "dtype": str(parameters[0].dtype).removeprefix("torch.") if parameters else None,
        "trainable_parameters": sum(p.numel() for p in parameters if p.requires_grad),
        "total_parameters": sum(p.numel() for p in parameters),
    }


def _end_distributed(trainer: Any) -> None:
    """Wait for all processes, then close the process group (no-op in a single process)."""
    import torch

    if not torch.distributed.is_available() or not torch.distributed.is_initialized():
        return
    trainer.accelerator.wait_for_everyone()
    torch.distributed.destroy_process_group()


def _save_on_main(
    trainer: Any, settings: TrainingSettings, stage: str, base: Path, counts: dict[str, Any], started: float,
    recipe: dict[str, Any] | None,
) -> Path:
    out = Path(settings.out)
    model_dir = out / "model"
    trainer.save_model(str(model_dir))
    if not trainer.is_world_process_zero():
        return model_dir
    trainer.processing_class.save_pretrained(str(model_dir))
    for source in (base, adapter_chain(base)[0]):  # the SentencePiece model travels with every stage (GGUF export)
        if (source / "tokenizer.model").is_file():
            shutil.copy2(source / "tokenizer.model", model_dir / "tokenizer.model")
            break
    adapter = model_dir / "adapter_config.json"
    if adapter.is_file():  # record what the adapter was trained on, which may itself be an adapter
        config = json.loads(adapter.read_text(encoding="utf-8"))
        config["base_model_name_or_path"] = str(base.resolve())
        adapter.write_text(json.dumps(config, indent=2), encoding="utf-8")
    elapsed = time.perf_counter() - started
    runtime = counts.get("train_runtime") or elapsed
    # tokens the trainer actually consumed (TRL logs a running count), padding excluded
    tokens = max((float(h.get("num_tokens", 0)) for h in trainer.state.log_history), default=0.0)
    summary = {
        "stage": stage,
        "base": str(base.resolve()),
        "settings": dataclasses.asdict(settings),
        "counts": counts,
        "recipe": {**_trained_parameters(trainer), **(recipe or {})},
        "wall_seconds": round(elapsed, 2),
        "world_size": trainer.args.world_size,
        "global_steps": trainer.state.global_step,
        "profile": settings.profile,
        "versions": write_provenance(model_dir, settings.profile)["versions"],
        "tokens_per_second": round(tokens / runtime, 1) if tokens and runtime > 0 else None,
        "log_history": trainer.state.log_history,
    }
    (out / "training.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return model_dir
