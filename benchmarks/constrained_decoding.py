"""Benchmark: the embedded student side by side, grammar off and on, calibration off and on, per task.

    python -m benchmarks.constrained_decoding --gguf training/models/real/real-q8_0.gguf \\
        --data training/data/real-held-out/eval.jsonl [--per-task 40] [--fit-on training/data/real/eval.jsonl]

Each held-out example (``messages`` lines; the task a line names, CLI intent when it names none) is asked through
the backend protocol, as ``finetune eval`` asks it (:func:`finetune.evaluate.score_backend`), by
:class:`interpreters.llamacpp.LlamaCppStudent` in three settings: unconstrained greedy decoding; under the call
grammar with jump-forward; and under the grammar with calibrated branch thresholds. The thresholds are the
GGUF's own (``MODEL.calibration.json``), those of ``--calibration FILE``, or fitted here on ``--fit-on`` (an
eval split that is not the held-out data; written to ``--out``, never beside the GGUF). Without any, the third
row is left out. Printed: per setting and task, n, valid calls, accepted by the task, exact match, p50 and p95
latency, and the mean of tokens the model chose (sampled) against tokens in the answer. Written: ``--out``
``/constrained_decoding.json``. Goals (the issue's): 100% valid calls under the grammar, and no task worse on
exact match than unconstrained.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from interpreters.backends import add_backend_flag
from teacher.cli_args import CommandParser, positive_int


def groups_of(data: Path, per_task: int | None) -> dict[str, list[Any]]:
    """The examples of ``data`` by task (CLI intent under one name), the first ``per_task`` of each."""
    from converters.examples import load_examples

    groups: dict[str, list[Any]] = {}
    for example in load_examples(data, "hf"):
        groups.setdefault(example.task or "cli_intent", []).append(example)
    return {task: examples[:per_task] for task, examples in sorted(groups.items())}


def thresholds_for(args: Any) -> tuple[dict[str, tuple[int, float]], str]:
    """The thresholds of the calibrated row and where they came from ('' when there are none)."""
    from interpreters.calibration import branch_points, fit
    from interpreters.thresholds import Calibration, calibration_path

    if args.calibration is not None:
        return Calibration.load(args.calibration).as_decoder_thresholds(), str(args.calibration)
    if args.fit_on is not None:
        fitted = fit(branch_points(args.gguf, args.fit_on, args.fit_limit))
        fitted.save(args.out / "fitted.calibration.json")
        return fitted.as_decoder_thresholds(), f"fitted on {args.fit_on}"
    own = calibration_path(args.gguf)
    return (Calibration.load(own).as_decoder_thresholds(), str(own)) if own.is_file() else ({}, "")


def run(args: Any) -> dict[str, Any]:
    from finetune.evaluate import score_backend
    from interpreters.llamacpp import LlamaCppStudent
    from tasks.registry import answer_tools

    groups = groups_of(args.data, args.per_task)
    if args.tasks:
        unknown = sorted(set(args.tasks) - {name for task in groups for name in (task, task.split(":")[0])})
        if unknown:
            raise SystemExit(f"--tasks {' '.join(unknown)}: no such task in {args.data} (it has: {', '.join(groups)})")
        groups = {task: examples for task, examples in groups.items()
                  if task in args.tasks or task.split(":")[0] in args.tasks}
    # a line finetune.evaluate cannot turn back into a request is asked as text: its tools still give the grammar
    tools_of = {example.prompt: answer_tools(example) for examples in groups.values() for example in examples}
    thresholds, source = thresholds_for(args)
    settings: list[tuple[str, bool, dict[str, tuple[int, float]]]] = [
        ("grammar off", False, {}), ("grammar on", True, {})]
    if thresholds:
        settings.append(("grammar on, calibrated", True, thresholds))
    elif source:
        print(f"calibration ({source}): no threshold beat the untuned choice, so there is no calibrated row",
              file=sys.stderr)
    results: dict[str, Any] = {"calibration": {"source": source, "thresholds": thresholds}, "rows": {}}
    for label, grammar, chosen in settings:
        student = LlamaCppStudent(args.gguf, n_ctx=0, max_tokens=args.max_tokens, grammar=grammar, calibrate=False,
                                  reuse_prefix=True, n_threads=args.threads)
        student.thresholds = dict(chosen)
        tokens: list[tuple[int, int]] = []
        inner = student.complete_text

        def counted(prompt: str, grammar: Any = None, inner: Any = inner, tokens: Any = tokens,
                    student: Any = student) -> Any:
            if grammar is None and student.grammar and tools_of.get(prompt):
                grammar = student.grammar_for(tools_of[prompt])
            done = inner(prompt, grammar)
            tokens.append((done.sampled_tokens, done.completion_tokens))
            return done

        student.complete_text = counted  # type: ignore[method-assign]
        rows = {}
        for task, examples in groups.items():
            tokens.clear()
            started = time.perf_counter()
            metrics = score_backend(student, examples, "hf", label=f"{label} {task}")
            rows[task] = {
                "n": metrics["examples"], "valid_calls": metrics["valid_call_rate"],
                "accepted": metrics["schema_valid_rate"], "exact": metrics["exact_match"],
                "p50_ms": metrics["latency_ms"]["p50"], "p95_ms": metrics["latency_ms"]["p95"],
                "sampled_tokens": sum(t[0] for t in tokens) / max(1, len(tokens)),
                "answer_tokens": sum(t[1] for t in tokens) / max(1, len(tokens)),
                "seconds": round(time.perf_counter() - started, 1),
            }
            print(f"{label} {task}: {json.dumps(rows[task])}", flush=True)
        results["rows"][label] = rows
    return results


def table(results: dict[str, Any]) -> str:
    """The rows as a markdown table."""
    lines = ["| decoding | task | n | valid calls | accepted | exact | p50 ms | p95 ms | sampled / answer tokens |",
             "|---|---|---|---|---|---|---|---|---|"]
    for label, rows in results["rows"].items():
        for task, r in rows.items():
            lines.append(f"| {label} | {task} | {r['n']} | {r['valid_calls']:.1%} | {r['accepted']:.1%} "
                         f"| {r['exact']:.1%} | {r['p50_ms']} | {r['p95_ms']} "
                         f"| {r['sampled_tokens']:.1f} / {r['answer_tokens']:.1f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = CommandParser(prog="python -m benchmarks.constrained_decoding", description=__doc__.splitlines()[0])
    add_backend_flag(parser, "student", flag="--gguf", bare="gguf", required=True, metavar=None,
                     help="the student GGUF (the tuned q8_0)")
    parser.add_argument("--data", type=Path, required=True, help="held-out examples, messages format (eval.jsonl)")
    parser.add_argument("--per-task", type=positive_int, default=40, help="examples per task")
    parser.add_argument("--max-tokens", type=positive_int, default=160, help="the longest answer generated")
    parser.add_argument("--threads", type=positive_int, default=None, help="llama.cpp threads (default: its own)")
    parser.add_argument("--calibration", type=Path, default=None, help="a calibration file for the calibrated row")
    parser.add_argument("--fit-on", type=Path, default=None,
                        help="fit the thresholds on this eval split (not the held-out data) first")
    parser.add_argument("--fit-limit", type=positive_int, default=200, help="examples of each task of --fit-on used")
    parser.add_argument("--tasks", nargs="+", default=None,
                        help="only these tasks (default: every task; cli_intent names each of its schemas)")
    parser.add_argument("--out", type=Path, default=Path("training/benchmarks"), help="where the JSON goes")
    args = parser.parse_args(argv)
    for path in (args.gguf, args.data, args.calibration, args.fit_on):
        if path is not None and not path.is_file():
            print(f"{path}: no such file", file=sys.stderr)
            return 2
    args.out.mkdir(parents=True, exist_ok=True)
    results = run(args)
    (args.out / "constrained_decoding.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
