"""Benchmark: the real Gemma 3 270M before and after training, on this machine, in one command.

    python -m benchmarks.real_student [--root training] [--steps 240] [--per-task 40] [--hf-examples 2]

1. data: the heuristic teacher's recordings of the quickstart's training queries over ``examples/sample_repo``
   (score_edge, select_symbols with its negatives, invert_topic), rebuilt; ``gh`` CLI intent from the template
   teacher. Held out: the quickstart's held-out queries (recorded and rebuilt apart, never trained on) and the
   CLI-intent eval split;
2. the FunctionGemma-shaped base built from the packaged Gemma 3 270M (``finetune base --from-gguf``), and its
   q8_0 GGUF: the *before* student;
3. SFT: LoRA r16 on every projection plus the control tokens' embedding rows, the labelled-positions loss,
   a fixed number of steps, batches grouped by length (CLI-intent prompts are about 5 times score_edge's: random
   batches pad to them and take twice as long a step); merged, exported to f16 and quantized to q8_0: the *after*
   student;
4. both q8_0 GGUFs (llama.cpp, in-process) on every held-out example, per task: valid calls, accepted by the
   task, exact match (every decision field right; free text such as score_edge's reasoning gets its own token F1),
   per-field accuracy and p50 latency, each with its n; the HF checkpoints (base and merged) on the first
   ``--hf-examples`` examples of each task only (greedy transformers generation is about a minute an example on
   this CPU); beside them the prior (each decision field's most common value in the training data), and every
   tuned figure within 5 points of the prior's marked ``≈prior``;
5. the held-out exploration of the quickstart with the tuned q8_0 GGUF as the model.

Every stage is skipped when its output is there, so an interrupted run continues (training resumes from
its last checkpoint); ``--force`` starts afresh. Results: ``ROOT/models/real/real_student.json``.
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


def _lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line.strip()]


def _rebuild(sessions: Path, out: Path) -> list[bytes]:
    """Every example of the recordings (both sides of the rebuild's split), as ``messages`` lines."""
    from converters.rebuild import Options, rebuild

    rebuild([sessions], Options(out=out, format="messages", profile="hf", with_inputs=True))
    return [*_lines(out / "train.jsonl"), *_lines(out / "eval.jsonl")]


def make_data(root: Path, cli_count: int, started: float) -> tuple[Path, Path]:
    """The training data (train/eval) and the held-out data (eval only), built from recordings when absent."""
    from examples.quickstart import HELD_OUT, QUERIES, record
    from tasks.cli_intent.generate import main as generate_cli_intent

    data, held_out = root / "data" / NAME, root / "data" / f"{NAME}-held-out"
    if (data / "train.jsonl").is_file() and (held_out / "eval.jsonl").is_file():
        return data, held_out
    lines = [line for line in QUERIES.read_text(encoding="utf-8").splitlines() if line.strip()]
    parts = {"train": lines[:-HELD_OUT], "held-out": lines[-HELD_OUT:]}
    for part, queries in parts.items():
        folder = root / "recordings" / f"{NAME}-{part}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "queries.jsonl").write_text("\n".join(queries) + "\n", encoding="utf-8")
        _log(f"recording the heuristic teacher on {len(queries)} {part} queries", started)
        record(folder / "queries.jsonl", folder)
    explore = _rebuild(root / "recordings" / f"{NAME}-train" / "sessions", root / "data" / f"{NAME}-explore")
    explore_held_out = _rebuild(root / "recordings" / f"{NAME}-held-out" / "sessions",
                                root / "data" / f"{NAME}-explore-held-out")
    _log(f"generating {cli_count} gh CLI-intent examples", started)
    if generate_cli_intent(["--schema", "gh", "--count", str(cli_count), "--name", f"{NAME}-gh",
                            "--out-root", str(root / "data")]) != 0:
        raise SystemExit("real_student: generating the CLI-intent data failed (see above)")
    gh = root / "data" / f"{NAME}-gh"
    data.mkdir(parents=True, exist_ok=True)
    held_out.mkdir(parents=True, exist_ok=True)
    (data / "train.jsonl").write_bytes(b"\n".join([*explore, *_lines(gh / "train.jsonl")]) + b"\n")
    # the loss is tracked on part of the CLI-intent eval split (the exploration's held-out data stays unseen)
    (data / "eval.jsonl").write_bytes(b"\n".join(_lines(gh / "eval.jsonl")[:32]) + b"\n")
    (held_out / "eval.jsonl").write_bytes(
        b"\n".join([*explore_held_out, *_lines(gh / "eval.jsonl")]) + b"\n")
    return data, held_out


#: the task of the gh CLI-intent lines, which name none (the generator's ``stats.json`` does)
CLI_TASK = "cli_intent:gh"


def by_task(held_out: Path) -> dict[str, list[Any]]:
    """The held-out examples grouped by task (CLI intent under one name)."""
    from dataclasses import replace

    from finetune.data import load_examples

    groups: dict[str, list[Any]] = {}
    for example in load_examples(held_out / "eval.jsonl", "hf"):
        # the exploration's lines name their task; the CLI-intent generator's lines carry none
        groups.setdefault(example.task or "cli_intent", []).append(replace(example, task=example.task or CLI_TASK))
    return dict(sorted(groups.items()))


def prior_rows(train: Path, groups: dict[str, list[Any]], limit: int | None) -> dict[str, Any]:
    """Per task: the prior (each decision field's most common value in ``train``) on the held-out examples that
    the GGUFs answer (the first ``limit`` of each task)."""
    from finetune.evaluate import fit_training_prior, prior_scores

    prior = fit_training_prior(train, "hf", CLI_TASK)
    return {task: prior_scores(prior, examples[:limit] if limit is not None else examples)
            for task, examples in groups.items()}


def score_artifact(path: Path, groups: dict[str, list[Any]], limit: int | None, started: float) -> dict[str, Any]:
    """Per task: the metrics of one artifact (GGUF or HF directory) on the held-out examples (first ``limit``),
    each asked through the backend protocol as ``finetune eval`` asks it."""
    from finetune.evaluate import open_backend, score_backend

    backend = open_backend(path, MAX_TOKENS, "hf")
    results = {}
    for task, examples in groups.items():
        chosen = examples[:limit] if limit is not None else examples
        _log(f"{path.name}: {task} on {len(chosen)} held-out examples", started)
        results[task] = score_backend(backend, chosen, "hf", label=f"{path.name} {task}")
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
    parser = CommandParser(prog="python -m benchmarks.real_student", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("training"), help="where data and models go")
    parser.add_argument("--steps", type=positive_int, default=240, help="SFT optimizer steps")
    parser.add_argument("--batch-size", type=positive_int, default=4, help="examples per step")
    parser.add_argument("--learning-rate", type=positive_float, default=3e-4, help="peak learning rate")
    parser.add_argument("--cli-count", type=positive_int, default=400, help="gh CLI-intent examples")
    parser.add_argument("--per-task", type=positive_int, default=40,
                        help="held-out examples per task for the GGUFs")
    parser.add_argument("--hf-examples", type=non_negative_int, default=2,
                        help="held-out examples per task for the HF checkpoints (0: skip)")
    parser.add_argument("--force", action="store_true", help="discard earlier results and start afresh")
    args = parser.parse_args(argv)
    from finetune.base import cached_base
    from finetune.export import export_gguf
    from finetune.merge import merge
    from finetune.pipeline import valid_gguf
    from finetune.quantize import quantize
    from finetune.sft import SftSettings, run_sft
    from finetune.train import finished

    started = time.perf_counter()
    models = args.root / "models" / NAME
    if args.force:
        for path in (models, *args.root.glob(f"data/{NAME}*"), *args.root.glob(f"recordings/{NAME}-*")):
            shutil.rmtree(path, ignore_errors=True)
    models.mkdir(parents=True, exist_ok=True)
    data, held_out = make_data(args.root, args.cli_count, started)
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
        _log(f"SFT: {args.steps} steps of {args.batch_size} on {len(_lines(data / 'train.jsonl'))} examples", started)
        run_sft(SftSettings(
            base=str(base), data=str(data), out=str(sft_out), max_steps=args.steps, batch_size=args.batch_size,
            learning_rate=args.learning_rate, warmup=0.05, scheduler="cosine", logging_steps=5, save_steps=20,
            eval_examples=32, lora_r=16, lora_alpha=32, max_length=1024, group_by_length=True,
        ))
    timings["sft"] = time.perf_counter() - mark
    mark = time.perf_counter()
    merged, after = models / "merged", models / f"{NAME}-q8_0.gguf"
    if not (merged / "config.json").is_file():
        merge(sft_out / "model", merged)
    if not valid_gguf(after):
        export_gguf(merged, models / f"{NAME}-f16.gguf", "f16", name=NAME)
        quantize(models / f"{NAME}-f16.gguf", after, "q8_0")
    timings["merge_export_quantize"] = time.perf_counter() - mark

    mark = time.perf_counter()
    groups = by_task(held_out)
    results: dict[str, dict[str, Any]] = {}
    for label, artifact in (("before q8_0", before), ("after q8_0", after)):
        results[label] = score_artifact(artifact, groups, args.per_task, started)
    results[PRIOR] = prior_rows(data / "train.jsonl", groups, args.per_task)
    timings["eval_gguf"] = time.perf_counter() - mark
    if args.hf_examples:
        mark = time.perf_counter()
        for label, artifact in (("before HF", base), ("after HF", merged)):
            results[label] = score_artifact(artifact, groups, args.hf_examples, started)
        timings["eval_hf"] = time.perf_counter() - mark

    mark = time.perf_counter()
    from examples.quickstart import HELD_OUT, QUERIES, held_out_run
    from teacher.explore import TeachQuery

    queries = [TeachQuery.model_validate(json.loads(line))
               for line in QUERIES.read_text(encoding="utf-8").splitlines()[-HELD_OUT:] if line.strip()]
    _log(f"exploring {len(queries)} held-out queries with {after.name}", started)
    exploration = asyncio.run(held_out_run(after, queries)).rates()
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
              f"{row['schema_valid']:.1%} accepted, {row['agreement']:.1%} agree with the teacher")
    print(f"loss {summary['loss_first']} -> {summary['loss_last']} in {summary['steps']} steps; "
          f"seconds: {summary['seconds']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
