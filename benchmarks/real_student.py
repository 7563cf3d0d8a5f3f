"""Benchmark: the real Gemma 3 270M before and after training, on this machine, in one command.

    python -m benchmarks.real_student [--data training/data/real] [--root training] [--steps N]
                                      [--per-task 100] [--hf-examples 2] [--device cpu|cuda]

1. data: ``python -m converters.dataset``'s (built with its defaults when ``--data`` is absent, resumably):
   real code of several installed packages, synthetic edges, gh CLI intent; its eval split is whole held-out
   repositories (and unseen gh requests), never trained on;
2. the FunctionGemma-shaped base built from the packaged Gemma 3 270M (``finetune base --from-gguf``), and its
   q8_0 GGUF: the *before* student;
3. SFT with the recipe :mod:`finetune.recipe` holds for a built base (chosen by ``benchmarks.recipes``; flags
   override it); merged, exported to f16 and quantized to q8_0: the *after* student;
4. both q8_0 GGUFs (llama.cpp, in-process) on the first ``--per-task`` held-out examples of each task: valid calls,
   accepted by the task, exact match (every decision field right; free text such as score_edge's reasoning gets
   its own token F1), per-field accuracy and p50 latency, each with its n; the HF checkpoints (base and merged) on
   the first ``--hf-examples`` examples of each task only (greedy transformers generation is about a minute an
   example on this CPU); beside them the prior (each decision field's most common value in the training data),
   and every tuned figure within 5 points of the prior's marked ``≈prior``;
5. the held-out exploration of the quickstart (``examples/sample_repo``, never in the data) with the tuned q8_0
   GGUF as the model, beside the prior's agreement with the teacher.

Every stage is skipped when its output is there, so an interrupted run continues (training resumes from
its last checkpoint); ``--force`` starts afresh (the data set is kept). Results:
``ROOT/models/real/real_student.json``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from teacher.cli_args import CommandParser, non_negative_int, positive_float, positive_int

NAME = "real"

#: what the goals of the issue ask of the tuned q8_0, per task (exact match), and of every task (valid calls)
#: the longest answer generated (the teacher's longest held-out answer is well under it; an untrained base
#: model rarely stops, so this bounds its time)
MAX_TOKENS = 160

GOALS = {"valid_calls": 0.98, "score_edge": 0.90, "select_symbols": 0.70, "cli_intent": 0.85}


def _log(message: str, started: float) -> None:
    print(f"[real_student {time.perf_counter() - started:6.0f} s] {message}", flush=True)


def make_data(data: Path, started: float) -> Path:
    """The data set in ``data``: ``python -m converters.dataset``'s, built with its defaults when absent."""
    if (data / "train.jsonl").is_file() and (data / "eval.jsonl").is_file():
        return data
    from converters.dataset import main as build_dataset

    _log(f"building the data set in {data} (python -m converters.dataset; resumable)", started)
    if build_dataset(["--out", str(data)]) != 0:
        raise SystemExit("real_student: building the data set failed (see above)")
    return data


def by_task(data: Path, per_task: int | None = None) -> dict[str, list[Any]]:
    """The held-out examples (``data/eval.jsonl``) grouped by task family (``cli_intent:gh`` under
    ``cli_intent``), the first ``per_task`` of each."""
    from converters.examples import load_examples

    groups: dict[str, list[Any]] = {}
    for example in load_examples(data / "eval.jsonl", "hf"):
        family = (example.task or "unknown").partition(":")[0]
        chosen = groups.setdefault(family, [])
        if per_task is None or len(chosen) < per_task:
            chosen.append(example)
    return dict(sorted(groups.items()))


def quantized_student(model: Path, work: Path, name: str) -> Path:
    """``model`` (a trained adapter or model folder) merged, exported to f16 and quantized to q8_0 under ``work``;
    each step is skipped when its output is there. Returns the q8_0 GGUF."""
    from finetune.export import export_gguf
    from finetune.merge import merge
    from finetune.pipeline import valid_gguf
    from finetune.quantize import quantize

    merged, f16, q8 = work / "merged", work / f"{name}-f16.gguf", work / f"{name}-q8_0.gguf"
    if not valid_gguf(q8):
        if not (merged / "config.json").is_file():
            merge(model, merged)
        export_gguf(merged, f16, "f16", name=name)
        quantize(f16, q8, "q8_0")
    return q8


def prior_rows(train: Path, groups: dict[str, list[Any]], limit: int | None) -> dict[str, Any]:
    """Per task: the prior (each decision field's most common value in ``train``) on the held-out examples that
    the GGUFs answer (the first ``limit`` of each task)."""
    from finetune.evaluate import fit_training_prior, prior_scores

    prior = fit_training_prior(train, "hf")
    return {task: prior_scores(prior, examples[:limit] if limit is not None else examples)
            for task, examples in groups.items()}


def score_artifact(
    path: Path, groups: dict[str, list[Any]], limit: int | None, started: float, cache: Path | None = None
) -> dict[str, Any]:
    """Per task: the metrics of one artifact (GGUF or HF directory) on the held-out examples (first ``limit``),
    each asked through the backend protocol as ``finetune eval`` asks it. With ``cache``, each task's metrics are
    kept in a file there and read back while it is newer than the artifact, so an interrupted run scores only
    what it has not."""
    from finetune.evaluate import open_backend, score_backend

    backend = None
    results = {}
    for task, examples in groups.items():
        chosen = examples[:limit] if limit is not None else examples
        kept = cache / f"{path.name}.{task.replace(':', '_')}.{len(chosen)}.json" if cache is not None else None
        if kept is not None and kept.is_file() and kept.stat().st_mtime > path.stat().st_mtime:
            results[task] = json.loads(kept.read_text(encoding="utf-8"))
            _log(f"{path.name}: {task}: scored before ({kept})", started)
            continue
        if backend is None:
            backend = open_backend(path, MAX_TOKENS, "hf")
        _log(f"{path.name}: {task} on {len(chosen)} held-out examples", started)
        results[task] = score_backend(backend, chosen, "hf", label=f"{path.name} {task}")
        if kept is not None:
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.write_text(json.dumps(results[task], indent=1, default=str), encoding="utf-8")
    return results


PRIOR = "prior (majority answer)"


def _mean(figures: dict[str, float]) -> float:
    return sum(figures.values()) / len(figures) if figures else 0.0


def table(results: dict[str, dict[str, Any]]) -> str:
    """The figures as a markdown table: one row per artifact and task, the prior's row (``results[PRIOR]``, when
    there) beside them, and each tuned (``after``) figure within 5 points of the prior's marked ``≈prior``.
    Per-field: the mean accuracy of the decision fields, the prior's (the fields' majority shares) in brackets."""
    from teacher.prior import near_prior

    prior = results.get(PRIOR, {})
    rows = ["| artifact | task | n | valid calls | accepted | exact | per-field [prior] | free-text F1 | p50 ms |",
            "|---|---|---|---|---|---|---|---|---|"]
    for artifact, tasks in results.items():
        for task, m in tasks.items():
            per_field = _mean(m["field_accuracy"])
            p = prior.get(task)
            tuned = artifact.startswith("after") and p is not None

            def mark(figure: float, against: float, tuned: bool = tuned) -> str:
                return " ≈prior" if tuned and near_prior(figure, against) else ""

            prior_field = f" [{_mean(p['field_accuracy']):.1%}]" if p is not None and artifact != PRIOR else ""
            exact_mark = mark(m["exact_match"], p["exact_match"]) if p else ""
            field_mark = mark(per_field, _mean(p["field_accuracy"])) if p else ""
            free = m.get("free_text_f1", {})
            rows.append(
                f"| {artifact} | {task} | {m['examples']} | {m['valid_call_rate']:.1%} | {m['schema_valid_rate']:.1%}"
                f" | {m['exact_match']:.1%}{exact_mark} | {per_field:.1%}{prior_field}{field_mark}"
                f" | {f'{_mean(free):.3f}' if free and artifact != PRIOR else '-'} | {m['latency_ms']['p50'] or '-'} |"
            )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    from finetune.recipe import REAL_BASE_SFT, REAL_BASE_SFT_NAME, REAL_BASE_STEPS

    parser = CommandParser(prog="python -m benchmarks.real_student", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("training/data/real"),
                        help="a python -m converters.dataset folder (built with its defaults when absent)")
    parser.add_argument("--root", type=Path, default=Path("training"), help="where models go")
    parser.add_argument("--steps", type=positive_int, default=REAL_BASE_STEPS,
                        help=f"SFT optimizer steps (the {REAL_BASE_SFT_NAME} recipe's, finetune.recipe)")
    parser.add_argument("--batch-size", type=positive_int, default=REAL_BASE_SFT["batch_size"],
                        help="examples per step (the recipe's; bigger on a GPU)")
    parser.add_argument("--learning-rate", type=positive_float, default=REAL_BASE_SFT["learning_rate"],
                        help="peak learning rate (the recipe's)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where SFT runs (auto: a visible CUDA GPU, else the CPU)")
    parser.add_argument("--precision", choices=("auto", "bf16", "fp16", "fp32"), default="auto",
                        help="SFT precision (auto: bf16 where the hardware has it)")
    parser.add_argument("--per-task", type=positive_int, default=100,
                        help="held-out examples per task for the GGUFs")
    parser.add_argument("--hf-examples", type=non_negative_int, default=2,
                        help="held-out examples per task for the HF checkpoints (0: skip)")
    parser.add_argument("--force", action="store_true", help="discard earlier models and results, start afresh")
    args = parser.parse_args(argv)
    from finetune.base import cached_base
    from finetune.export import export_gguf
    from finetune.pipeline import valid_gguf
    from finetune.quantize import quantize
    from finetune.recipe import sft_defaults
    from finetune.sft import SftSettings, run_sft
    from finetune.train import finished

    started = time.perf_counter()
    models = args.root / "models" / NAME
    if args.force:
        shutil.rmtree(models, ignore_errors=True)
    models.mkdir(parents=True, exist_ok=True)
    data = make_data(args.data, started)
    timings: dict[str, float] = {"data": time.perf_counter() - started}

    base = cached_base()
    before = models / "base-q8_0.gguf"
    if not valid_gguf(before):
        _log("exporting the untrained base to q8_0 (the before student)", started)
        export_gguf(base, models / "base-f16.gguf", "f16", name=f"{NAME}-base")
        quantize(models / "base-f16.gguf", before, "q8_0")
    mark = time.perf_counter()
    sft_out = models / "sft"
    if not finished(sft_out):
        settings = {**sft_defaults(base, {"max_steps": args.steps}), "max_steps": args.steps,
                    "batch_size": args.batch_size,
                    "learning_rate": args.learning_rate, "device": args.device, "precision": args.precision}
        _log(f"SFT ({settings.get('recipe_name', 'defaults')} recipe): {args.steps} steps of {args.batch_size}",
             started)
        run_sft(SftSettings(base=str(base), data=str(data), out=str(sft_out), logging_steps=5, save_steps=20,
                            eval_examples=32, **settings))
    timings["sft"] = time.perf_counter() - mark
    mark = time.perf_counter()
    after = quantized_student(sft_out / "model", models, NAME)
    timings["merge_export_quantize"] = time.perf_counter() - mark

    mark = time.perf_counter()
    groups = by_task(data, args.per_task)
    results: dict[str, dict[str, Any]] = {}
    for label, artifact in (("before q8_0", before), ("after q8_0", after)):
        results[label] = score_artifact(artifact, groups, None, started, models / "scores")
    results[PRIOR] = prior_rows(data / "train.jsonl", groups, None)
    timings["eval_gguf"] = time.perf_counter() - mark
    if args.hf_examples:
        mark = time.perf_counter()
        for label, artifact in (("before HF", base), ("after HF", models / "merged")):
            results[label] = score_artifact(artifact, groups, args.hf_examples, started, models / "scores")
        timings["eval_hf"] = time.perf_counter() - mark

    mark = time.perf_counter()
    from examples.quickstart import HELD_OUT, QUERIES, held_out_run
    from teacher.explore import TeachQuery

    queries = [TeachQuery.model_validate(json.loads(line))
               for line in QUERIES.read_text(encoding="utf-8").splitlines()[-HELD_OUT:] if line.strip()]
    from finetune.evaluate import fit_training_prior

    _log(f"exploring {len(queries)} held-out queries with {after.name}", started)
    exploration = asyncio.run(held_out_run(after, queries, fit_training_prior(data / "train.jsonl", "hf"))).rates()
    timings["exploration"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - started

    training = json.loads((sft_out / "training.json").read_text(encoding="utf-8"))
    losses = [h["loss"] for h in training["log_history"] if "loss" in h]
    summary = {
        "steps": training["global_steps"], "train_examples": training["counts"].get("train_examples"),
        "loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None,
        "held_out": results, "exploration": exploration, "goals": GOALS,
        "seconds": {k: round(v, 1) for k, v in timings.items()},
    }
    (models / "real_student.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(table(results))
    for task, row in exploration.items():
        print(f"held-out exploration {task:>15}: {row['requests']} requests, {row['valid_calls']:.1%} valid calls, "
              f"{row['schema_valid']:.1%} accepted, {row['agreement']:.1%} agree with the teacher "
              f"[prior {row.get('prior_agreement', 0.0):.1%}]"
              + (f"; a list where the teacher's has one: {row['nonempty_when_teacher']:.1%} of "
                 f"{row['teacher_lists']}" if "teacher_lists" in row else ""))
    print(f"loss {summary['loss_first']} -> {summary['loss_last']} in {summary['steps']} steps; "
          f"seconds: {summary['seconds']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
