"""SFT throughput on the real Gemma 3 270M: TRL's default loss, today's path and the top-K-layers path, side by side.

Builds (once, cached) the FunctionGemma-shaped base from the packaged Gemma 3 270M, writes score_edge
examples, prepares ``finetune sft`` (LoRA r16 on all projections, fp32 on CPU; control-token rows frozen here:
TRL's path fails on PEFT's trainable-token wrapper) and times forward+backward training steps on the same
batches:

- ``trl``: TRL's ``SFTTrainer.compute_loss`` (on CPU it scores every position through the 262,144-wide output
  layer; ``--no-trl`` skips it);
- ``fast``: today's ``finetune sft`` path (the loss on labelled positions only);
- ``top-K``: ``finetune sft --train-layers K`` (LoRA on the top K layers only, the frozen layers' output read from
  the activation cache): its first epoch (which computes the cache) and a later one (which reads it) apart.

Gradient checkpointing is off throughout. Prints the median step times, examples per minute of this machine
(its ``os.cpu_count()`` CPUs; ``--device cuda`` where a GPU is visible) and the speed-ups, with the machine's load
average before and after (other processes share the CPUs).

    python -m benchmarks.sft_speed --steps 3 [--train-layers 6 4] [--no-trl] [--device cuda --precision bf16]
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
import types
from pathlib import Path
from typing import Any

from teacher.cli_args import CommandParser, positive_int


def _time_steps(trainer: Any, batches: list[dict[str, Any]], labelled: list[int], warm_up: bool) -> list[float]:
    """Seconds of each training step (forward, backward) over the batches; the first is not counted when
    ``warm_up``."""
    import torch

    times = []
    trainer.model.train()
    for index, batch in enumerate(batches):
        started = time.perf_counter()
        trainer.training_step(trainer.model, dict(batch), torch.tensor(labelled[index]))
        trainer.model.zero_grad()
        if index or not warm_up:
            times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = CommandParser(prog="python -m benchmarks.sft_speed", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=positive_int, default=3, help="timed steps per path (after one warm-up)")
    parser.add_argument("--batch-size", type=positive_int, default=4, help="examples per step")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "auto"], help="fp32, bf16 or auto")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to train")
    parser.add_argument("--train-layers", type=positive_int, nargs="*", default=[6],
                        help="K values of the top-K path (none: skip it)")
    parser.add_argument("--no-trl", action="store_true", help="skip TRL's default loss (the slowest path)")
    parser.add_argument("--data", type=Path,
                        help="train on this dataset (directory or JSONL, e.g. real_student's data/real) instead of "
                             "generated score_edge examples; batches grouped by length, as real_student draws them")
    args = parser.parse_args()

    import torch
    from trl import SFTTrainer

    from converters.examples import prompt_completion
    from finetune import sft, train
    from finetune.base import cached_base
    from finetune.sft import SftSettings, prepare_sft
    from tasks.score_edge.generate import examples

    load_before = os.getloadavg()
    base = cached_base()
    scratch = Path(tempfile.mkdtemp(prefix="sft-speed-"))
    data = args.data
    if data is None:
        data = scratch / "train.jsonl"
        with open(data, "w", encoding="utf-8") as out:
            for example in examples(args.batch_size * (args.steps + 1), seed=0):
                conversation = example.model_dump(exclude_none=True)
                prompt, completion = prompt_completion(conversation["messages"], [], "hf")
                out.write(json.dumps({"prompt": prompt, "completion": completion}) + "\n")

    def settings(name: str, **extra: Any) -> SftSettings:
        return SftSettings(
            base=str(base), data=str(data), out=str(scratch / name), batch_size=args.batch_size,
            precision=args.precision, device=args.device, eval_examples=0, resume=False, lora_dropout=0.0,
            group_by_length=args.data is not None, max_length=1024, **extra,
        )

    # TRL's fused head reads lm_head.bias, which PEFT's trainable-token wrapper lacks: compare plain LoRA
    sft.lora_config = lambda s, base=None, layers=None, linears=None: train.lora_config(s, None, layers, linears)
    trainer, _ = prepare_sft(settings("today"))
    trainer.create_optimizer()
    batches = [dict(b) for b in list(trainer.get_train_dataloader())[: args.steps + 1]]
    tokens = [int(b["attention_mask"].sum()) for b in batches]
    labelled = [int((b["labels"][:, 1:] != -100).sum()) for b in batches]
    times: dict[str, list[float]] = {}
    if not args.no_trl:
        fast_loss = trainer.compute_loss
        trainer.compute_loss = types.MethodType(SFTTrainer.compute_loss, trainer)
        times["trl"] = _time_steps(trainer, batches, labelled, warm_up=True)
        trainer.compute_loss = fast_loss
    times["fast"] = _time_steps(trainer, batches, labelled, warm_up=True)
    device = str(trainer.args.device)
    del trainer
    for layers in args.train_layers:
        top, _ = prepare_sft(settings(f"top-{layers}", train_layers=layers))
        top.create_optimizer()
        times[f"top-{layers} epoch 1"] = _time_steps(top, batches, labelled, warm_up=True)  # computes the cache
        times[f"top-{layers}"] = _time_steps(top, batches, labelled, warm_up=True)  # a later epoch: reads it
        del top
    load_after = os.getloadavg()

    medians = {name: statistics.median(t) for name, t in times.items()}
    per_minute = {name: args.batch_size * 60 / seconds for name, seconds in medians.items()}
    name_of = {"trl": "TRL default (all positions)", "fast": "today: labelled positions"}
    print(json.dumps({
        "device": device if device != "cpu" else (platform.processor() or "cpu"),
        "gpu": torch.cuda.get_device_name(0) if device.startswith("cuda") else None,
        "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "batch": args.batch_size, "precision": args.precision, "tokens_per_step": tokens[1:],
        "labelled_per_step": labelled[1:],
        "step_s": {name: [round(t, 2) for t in values] for name, values in times.items()},
    }, indent=2))
    print(f"{'path':<36}{'median step (s)':>16}{'examples/min':>14}{'vs today':>10}")
    for name, seconds in medians.items():
        label = name_of.get(name, f"train layers {name[4:]}" + ("" if "epoch" in name else ", cached"))
        print(f"{label:<36}{seconds:>16.2f}{per_minute[name]:>14.1f}{medians['fast'] / seconds:>9.2f}x")
    print(f"median of {args.steps} steps of {args.batch_size} examples each; load average "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after, on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
