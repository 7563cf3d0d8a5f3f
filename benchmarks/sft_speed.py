"""SFT step time on the real Gemma 3 270M: TRL's default loss against the labelled-positions loss, side by side.

Builds (once, cached) the FunctionGemma-shaped base from the packaged Gemma 3 270M, writes score_edge
examples, prepares ``finetune sft`` (LoRA r16 on all projections, fp32 on CPU; control-token rows frozen here:
TRL's path fails on PEFT's trainable-token wrapper)
and times forward+backward training steps on the same batches with TRL's ``SFTTrainer.compute_loss`` (on CPU
it scores every position through the 262,144-wide output layer) and with ``finetune.sft``'s loss (only the
labelled positions). Gradient checkpointing is off for both. Prints the median step times and the speed-up.

    python -m benchmarks.sft_speed --steps 3
"""

from __future__ import annotations

import json
import platform
import statistics
import tempfile
import time
import types
from pathlib import Path

from teacher.cli_args import CommandParser


def main() -> None:
    parser = CommandParser(prog="python -m benchmarks.sft_speed", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per loss (after one warm-up)")
    parser.add_argument("--batch-size", type=int, default=4, help="examples per step")
    parser.add_argument("--precision", default="fp32", help="fp32, bf16 or auto")
    args = parser.parse_args()

    import torch
    from trl import SFTTrainer

    from converters.rebuild import prompt_completion
    from finetune import sft, train
    from finetune.base import cached_base
    from finetune.sft import SftSettings, prepare_sft
    from tasks.score_edge.generate import examples

    base = cached_base()
    scratch = Path(tempfile.mkdtemp(prefix="sft-speed-"))
    with open(scratch / "train.jsonl", "w", encoding="utf-8") as out:
        for example in examples(args.batch_size * (args.steps + 1), seed=0):
            conversation = example.model_dump(exclude_none=True)
            prompt, completion = prompt_completion(conversation["messages"], [], "hf")
            out.write(json.dumps({"prompt": prompt, "completion": completion}) + "\n")
    settings = SftSettings(
        base=str(base), data=str(scratch / "train.jsonl"), out=str(scratch / "out"), batch_size=args.batch_size,
        precision=args.precision, eval_examples=0, resume=False, lora_dropout=0.0,
    )
    # TRL's fused head reads lm_head.bias, which PEFT's trainable-token wrapper lacks: compare plain LoRA
    sft.lora_config = lambda settings, base=None: train.lora_config(settings)
    trainer, _ = prepare_sft(settings)
    trainer.create_optimizer()
    batches = list(trainer.get_train_dataloader())[: args.steps + 1]
    fast_loss = trainer.compute_loss
    trl_loss = types.MethodType(SFTTrainer.compute_loss, trainer)
    tokens = [int(b["attention_mask"].sum()) for b in batches]
    labelled = [int((b["labels"][:, 1:] != -100).sum()) for b in batches]
    times: dict[str, list[float]] = {"trl": [], "fast": []}
    trainer.model.train()
    for name, loss in (("trl", trl_loss), ("fast", fast_loss)):
        trainer.compute_loss = loss
        for index, batch in enumerate(batches):
            started = time.perf_counter()
            trainer.training_step(trainer.model, dict(batch), torch.tensor(labelled[index]))
            trainer.model.zero_grad()
            if index:  # the first step warms up
                times[name].append(time.perf_counter() - started)
    trl, fast = statistics.median(times["trl"]), statistics.median(times["fast"])
    print(json.dumps({
        "device": platform.processor() or "cpu", "threads": torch.get_num_threads(),
        "batch": args.batch_size, "tokens_per_step": tokens[1:], "labelled_per_step": labelled[1:],
        "trl_step_s": [round(t, 2) for t in times["trl"]], "fast_step_s": [round(t, 2) for t in times["fast"]],
    }, indent=2))
    print(f"{'loss':<28}{'median step (s)':>16}")
    print(f"{'TRL default (all positions)':<28}{trl:>16.2f}")
    print(f"{'labelled positions only':<28}{fast:>16.2f}")
    print(f"speed-up {trl / fast:.2f}x, median of {args.steps} steps of {args.batch_size} examples each")


if __name__ == "__main__":
    main()
