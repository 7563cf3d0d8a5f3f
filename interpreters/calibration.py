"""Calibrated branch thresholds for the embedded student, fitted on an eval split and kept beside its GGUF.

Where an answer turns on a labelled branch of the call grammar (which tool: ``tool``; an empty list or not:
``select_symbols.selected``; a flag: ``score_edge.is_exported``), greedy decoding settles a near tie the same way
every time. :func:`fit` takes the branch points met while the student is teacher-forced along the eval split's
answers (:meth:`interpreters.grammar_decoding.GrammarDecoder.decode` with ``forced_answer``): for each label, the
share of the probability mass going to its first option, and whether the answer took it. It keeps, per label,
the threshold on that share that best separates the answers, when it does better than the untuned model's
choice (a share of one half). The thresholds are written to ``MODEL.calibration.json`` beside ``MODEL.gguf``
(:func:`calibration_path`), where :class:`~interpreters.llamacpp.LlamaCppStudent` finds and applies them.

    python -m interpreters.calibration --gguf MODEL.gguf --data EVAL.jsonl [--limit 200 (examples a task)]
"""

from __future__ import annotations

import logging
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

from converters.examples import Example
from interpreters.grammar_decoding import BranchPoint
from interpreters.llamacpp import LlamaCppStudent
from interpreters.thresholds import Calibration, Threshold, calibration_path

__all__ = ["branch_points", "fit", "main"]

log = logging.getLogger(__name__)

#: the fewest branch points a label needs before a threshold is fitted for it
MIN_POINTS = 8
#: the fewest points of each side (option taken, option not taken) a label needs
MIN_EACH_SIDE = 2


def _accuracy(points: Sequence[BranchPoint], threshold: float) -> float:
    return sum((p.share >= threshold) == p.taken for p in points) / len(points)


def fit(points: Iterable[BranchPoint], min_points: int = MIN_POINTS) -> Calibration:
    """Per label (its first option against the rest), the threshold that best separates the taken branches,
    kept only where it beats a share of one half; a label needs ``min_points`` points, two of each side."""
    groups: dict[tuple[str, int], list[BranchPoint]] = defaultdict(list)
    for point in points:
        groups[(point.label, point.option)].append(point)
    thresholds: dict[str, Threshold] = {}
    for (label, option), group in sorted(groups.items()):
        taken = sum(p.taken for p in group)
        if len(group) < min_points or label in thresholds or min(taken, len(group) - taken) < MIN_EACH_SIDE:
            continue  # too few points, or too few of one side to place a boundary between them
        shares = sorted({p.share for p in group})
        candidates = [0.5, *((a + b) / 2 for a, b in pairwise(shares)), shares[0], 1.0 + 1e-9]
        untuned = _accuracy(group, 0.5)
        best = max(candidates, key=lambda t: (_accuracy(group, t), -abs(t - 0.5)))
        accuracy = _accuracy(group, best)
        if accuracy > untuned:
            thresholds[label] = Threshold(option, round(best, 6), len(group), accuracy, untuned)
            log.info("branch %s option %d: threshold %.4f, %.1f%% against %.1f%% untuned (n=%d)",
                     label, option, best, 100 * accuracy, 100 * untuned, len(group))
    return Calibration(thresholds)


def branch_points(gguf: Path, data: Path, limit: int | None = None) -> list[BranchPoint]:
    """The branch points met teacher-forcing the GGUF along the answers of a ``messages`` eval file: the first
    ``limit`` examples of each task (every example when None), so a file that mixes tasks calibrates them all. A
    task whose prompts declare no tools is decoded under its own tools' grammar, as the student decodes it."""
    from converters.examples import load_examples
    from converters.functiongemma import FunctionGemmaFormatError
    from converters.functiongemma_grammar import call_grammar
    from tasks.registry import answer_tools

    student = LlamaCppStudent(gguf, n_ctx=0, calibrate=False)
    points: list[BranchPoint] = []
    for example in per_task(load_examples(data, "hf"), limit):
        tools = answer_tools(example)
        if not tools:
            continue
        try:
            grammar = call_grammar(tools)
        except FunctionGemmaFormatError as error:
            log.warning("%s: no grammar for its tools (%s)", example.where, error)
            continue
        if not grammar.accepts(example.completion):
            log.warning("%s: the answer is outside its grammar; skipped", example.where)
            continue
        points += student.decoder().decode(example.prompt, grammar, forced_answer=example.completion,
                                           reuse_prefix=True).branches
    log.info("%s: %d branch points (%s)", data, len(points),
             ", ".join(f"{label} {n}" for label, n in sorted(Counter(p.label for p in points).items())) or "none")
    return points


def per_task(examples: Sequence[Example], limit: int | None) -> list[Example]:
    """The first ``limit`` examples of each task, in file order (all of them when ``limit`` is None)."""
    seen: Counter[str] = Counter()
    kept: list[Example] = []
    for example in examples:
        task = example.task or ""
        seen[task] += 1
        if limit is None or seen[task] <= limit:
            kept.append(example)
    return kept


def main(argv: Sequence[str] | None = None) -> int:
    from interpreters.backends import add_backend_flag
    from teacher.cli_args import CommandParser, positive_int

    parser = CommandParser(prog="python -m interpreters.calibration", description=__doc__.splitlines()[0])
    add_backend_flag(parser, "student", flag="--gguf", bare="gguf", required=True, metavar=None,
                     help="the student GGUF (the calibration is written beside)")
    parser.add_argument("--data", type=Path, required=True, help="an eval split, messages format (eval.jsonl)")
    parser.add_argument("--limit", type=positive_int, default=None, help="use the first N examples of each task")
    parser.add_argument("--min-points", type=positive_int, default=MIN_POINTS,
                        help="the fewest branch points a label needs")
    args = parser.parse_args(argv)
    if not args.gguf.is_file() or not args.data.is_file():
        print(f"{args.gguf if not args.gguf.is_file() else args.data}: no such file", file=sys.stderr)
        return 2
    points = branch_points(args.gguf, args.data, args.limit)
    calibration = fit(points, args.min_points)
    out = calibration.save(calibration_path(args.gguf))
    summary: dict[str, Any] = {label: vars(t) for label, t in calibration.thresholds.items()}
    print(f"{len(points)} branch points; {len(summary)} thresholds written to {out}")
    for label, t in summary.items():
        print(f"  {label}: option {t['option']} from share {t['threshold']:.4f}: "
              f"{t['accuracy']:.1%} against {t['accuracy_untuned']:.1%} untuned (n={t['n']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
