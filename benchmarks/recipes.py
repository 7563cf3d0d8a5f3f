"""Benchmark: which SFT recipe teaches the real Gemma 3 270M the task, measured on repositories it never saw.

    python -m benchmarks.recipes [--data training/data/real] [--recipe today --recipe top6 ...]
                                 [--examples 800] [--eval-every 200] [--per-task 40]

The data is ``python -m converters.dataset``'s: its eval split is whole held-out repositories (and unseen gh
requests). Each recipe (:data:`RECIPES`) trains from the packaged Gemma 3 270M for ``--examples`` examples,
keeping a checkpoint every ``--eval-every``; each checkpoint is merged, exported and quantized to q8_0 and
asked the first ``--per-task`` held-out examples of each task through llama.cpp, so every point of a learning
curve is what the shipped artifact does. Per task: decision-exact (every decision field right, free text
ignored) beside the prior's (each decision field's most common training value), valid calls, and the training's
wall time and examples per minute on this machine.

Every stage is skipped when its output is there (a checkpoint's scores are kept in ``points/STEP.json``), so an
interrupted run continues. Results: ``ROOT/recipes/results.json``, ``results.md`` and ``curves.png``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from teacher.cli_args import CommandParser, positive_int

#: the recipes compared; each is a set of ``finetune sft`` settings over :data:`COMMON`
RECIPES: dict[str, dict[str, Any]] = {
    # what benchmarks.real_student trained before this comparison
    "today": {"lora": True, "lora_r": 16, "lora_alpha": 32, "learning_rate": 3e-4},
    "lora-r16-lr1e-3": {"lora": True, "lora_r": 16, "lora_alpha": 32, "learning_rate": 1e-3},
    "lora-r64-lr1e-3": {"lora": True, "lora_r": 64, "lora_alpha": 64, "learning_rate": 1e-3},
    "full-lr5e-5": {"lora": False, "learning_rate": 5e-5},
    "top6-full-lr1e-4": {"lora": False, "train_layers": 6, "learning_rate": 1e-4},
    "top6-lora-r64-lr1e-3": {"lora": True, "lora_r": 64, "lora_alpha": 64, "train_layers": 6, "learning_rate": 1e-3},
    "today-dw4": {"lora": True, "lora_r": 16, "lora_alpha": 32, "learning_rate": 3e-4, "decision_weight": 4.0},
    "top6-full-lr1e-4-dw4": {"lora": False, "train_layers": 6, "learning_rate": 1e-4, "decision_weight": 4.0},
    "lora-r16-lr1e-3-dw4": {"lora": True, "lora_r": 16, "lora_alpha": 32, "learning_rate": 1e-3,
                            "decision_weight": 4.0},
}
#: settings every recipe shares
COMMON: dict[str, Any] = {"batch_size": 4, "warmup": 0.05, "scheduler": "cosine", "logging_steps": 5,
                          "eval_examples": 0, "max_length": 1024, "group_by_length": True}
MAX_TOKENS = 160


def _log(message: str, started: float) -> None:
    print(f"[recipes {time.perf_counter() - started:6.0f} s] {message}", flush=True)


def held_out(data: Path, per_task: int) -> dict[str, list[Any]]:
    """The first ``per_task`` eval examples of each task family (as :func:`benchmarks.real_student.by_task`)."""
    from benchmarks.real_student import by_task

    return by_task(data, per_task)


def score_checkpoint(checkpoint: Path, work: Path, groups: dict[str, list[Any]], model: Path) -> dict[str, Any]:
    """Per task: the q8_0 GGUF of one checkpoint on the held-out examples. A trainer's checkpoint of a full
    fine-tune lacks what the export needs beside the weights (``tokenizer.model``, the provenance): those come
    from the training's final ``model`` folder."""
    from benchmarks.real_student import quantized_student
    from finetune.evaluate import open_backend, score_backend
    from teacher.provenance import PROVENANCE_FILE

    for name in ("tokenizer.model", PROVENANCE_FILE):
        if not (checkpoint / name).is_file() and (model / name).is_file():
            shutil.copy2(model / name, checkpoint / name)
    shutil.rmtree(work, ignore_errors=True)  # what an interrupted scoring left is not this checkpoint's
    q8 = quantized_student(checkpoint, work, "checkpoint")
    backend = open_backend(q8, MAX_TOKENS, "hf")
    try:
        return {task: score_backend(backend, examples, "hf") for task, examples in groups.items()}
    finally:
        del backend
        shutil.rmtree(work, ignore_errors=True)


def run_recipe(name: str, args: Any, groups: dict[str, list[Any]], started: float) -> dict[str, Any]:
    """Train one recipe (resumably) and score each of its checkpoints; its learning curve and timing."""
    from finetune.base import cached_base
    from finetune.sft import SftSettings, run_sft
    from finetune.train import finished

    folder = args.root / "recipes" / name
    steps = args.examples // COMMON["batch_size"]
    every = max(1, args.eval_every // COMMON["batch_size"])
    sft = folder / "sft"
    if not finished(sft):
        _log(f"{name}: training {steps} steps of {COMMON['batch_size']}", started)
        settings = SftSettings(base=str(cached_base()), data=str(args.data), out=str(sft), max_steps=steps,
                               save_steps=every, keep_checkpoints=steps // every + 1, **{**COMMON, **RECIPES[name]})
        # in a child process: the trainer's memory (13 GB for LoRA on every layer) goes back before llama.cpp
        # loads each checkpoint (in one process the scoring was killed for memory)
        child = multiprocessing.get_context("spawn").Process(target=run_sft, args=(settings,))
        child.start()
        child.join()
        if child.exitcode != 0:
            raise SystemExit(f"recipes: {name}: training failed (exit code {child.exitcode}; see above)")
    training = json.loads((sft / "training.json").read_text(encoding="utf-8"))
    points = folder / "points"
    points.mkdir(parents=True, exist_ok=True)
    checkpoints = sorted((sft / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    curve = []
    for checkpoint in checkpoints:
        step = int(checkpoint.name.split("-")[1])
        point = points / f"{step}.json"
        if not point.is_file():
            _log(f"{name}: scoring checkpoint {step} ({step * COMMON['batch_size']} examples seen)", started)
            scores = score_checkpoint(checkpoint, folder / "work", groups, sft / "model")
            point.write_text(json.dumps(scores, indent=2), encoding="utf-8")
        scores = json.loads(point.read_text(encoding="utf-8"))
        curve.append({"examples": step * COMMON["batch_size"],
                      **{task: {"exact": m["exact_match"], "valid": m["valid_call_rate"], "n": m["examples"]}
                         for task, m in scores.items()}})
    wall = float(training["wall_seconds"])
    seen = training["global_steps"] * COMMON["batch_size"]
    return {"settings": {**COMMON, **RECIPES[name]}, "curve": curve, "wall_minutes": round(wall / 60, 1),
            "examples_per_minute": round(seen / (wall / 60), 1) if wall else None,
            "cores": os.cpu_count(), "recipe": training.get("recipe")}


def table(results: dict[str, Any], prior: dict[str, Any]) -> str:
    """The last point of each recipe per task, beside the prior, with its cost."""
    tasks = sorted(prior)
    head = "| recipe | " + " | ".join(f"{t} exact (n) [prior]" for t in tasks) + " | wall min | examples/min |"
    rows = [head, "|---|" + "---|" * (len(tasks) + 2)]
    for name, result in results.items():
        last = result["curve"][-1] if result["curve"] else {}
        cells = [f"{last[t]['exact']:.1%} ({last[t]['n']}) [{prior[t]['exact_match']:.1%}]" if t in last else "-"
                 for t in tasks]
        rows.append(f"| {name} | " + " | ".join(cells) + f" | {result['wall_minutes']} | "
                    f"{result['examples_per_minute']} |")
    return "\n".join(rows)


def plot(results: dict[str, Any], prior: dict[str, Any], png: Path) -> None:
    """Held-out decision-exact per task against examples seen, one line per recipe, the prior dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted(prior)
    figure, axes = plt.subplots(1, len(tasks), figsize=(4.5 * len(tasks), 3.8), squeeze=False)
    for axis, task in zip(axes[0], tasks, strict=True):
        for name, result in results.items():
            points = [(p["examples"], 100 * p[task]["exact"]) for p in result["curve"] if task in p]
            if points:
                axis.plot(*zip(*points, strict=True), marker="o", label=name)
        axis.axhline(100 * prior[task]["exact_match"], linestyle="--", color="grey", label="prior")
        axis.set_title(f"{task} (held out)")
        axis.set_xlabel("training examples seen")
        axis.set_ylabel("decision-exact %")
        axis.set_ylim(0, 100)
        axis.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(png, dpi=100)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> int:
    parser = CommandParser(prog="python -m benchmarks.recipes", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("training/data/real"),
                        help="a converters.dataset folder (train.jsonl, eval.jsonl of held-out repositories)")
    parser.add_argument("--root", type=Path, default=Path("training"), help="where runs and results go")
    parser.add_argument("--recipe", action="append", choices=sorted(RECIPES),
                        help="a recipe to run (repeatable; default: all)")
    parser.add_argument("--examples", type=positive_int, default=800, help="training examples each recipe sees")
    parser.add_argument("--eval-every", type=positive_int, default=200, help="examples between scored checkpoints")
    parser.add_argument("--per-task", type=positive_int, default=40, help="held-out examples per task per point")
    args = parser.parse_args(argv)
    from finetune.evaluate import fit_training_prior, prior_scores

    started = time.perf_counter()
    if not (args.data / "train.jsonl").is_file():
        parser.error(f"--data {args.data}: no train.jsonl (make one with python -m converters.dataset)")
    groups = held_out(args.data, args.per_task)
    fitted = fit_training_prior(args.data / "train.jsonl", "hf")
    prior = {task: prior_scores(fitted, examples) for task, examples in groups.items()}
    out = args.root / "recipes"
    out.mkdir(parents=True, exist_ok=True)
    saved = out / "results.json"
    results: dict[str, Any] = json.loads(saved.read_text(encoding="utf-8"))["recipes"] if saved.is_file() else {}
    for name in args.recipe or list(RECIPES):
        results[name] = run_recipe(name, args, groups, started)
        saved.write_text(json.dumps({"prior": prior, "recipes": results}, indent=2), encoding="utf-8")
    (out / "results.md").write_text(table(results, prior) + "\n", encoding="utf-8")
    plot(results, prior, out / "curves.png")
    print(table(results, prior))
    print(f"curves: {out / 'curves.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
