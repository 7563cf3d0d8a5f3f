"""Fuzz the FunctionGemma parser with 100,000 inputs and time it: only typed errors, linear time.

Run: ``.venv/bin/python -m benchmarks.codec_fuzz [--count 100000] [--seed 0]``. Feeds ``split_output`` random
and structured-adversarial model outputs (``tests/converters/fuzz_inputs.py``: control-token fragments, nesting
10,000 deep, megabyte strings, unterminated escapes, huge numbers, mutated calls). Prints the outcome counts
(anything but ``FunctionGemmaFormatError`` is a failure), the slowest input per size class with its family,
and a linearity check: per-byte time of each family at sizes from 4 KB to 1 MB. Goals: inputs under 4 KB
parse in under 1 ms, 1 MB in under 0.5 s.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable

from converters.functiongemma import END_CALL, ESCAPE, START_CALL, FunctionGemmaFormatError, split_output
from teacher.cli_args import CommandParser
from tests.converters.fuzz_inputs import fuzz_inputs

SIZE_CLASSES = ((4_096, "under 4 KB"), (65_536, "4-64 KB"), (10**12, "64 KB and up"))


def _timed(text: str) -> tuple[float, str]:
    start = time.perf_counter()
    try:
        split_output(text)
        outcome = "parsed"
    except FunctionGemmaFormatError:
        outcome = "refused"
    except Exception as error:  # the failure this benchmark exists to find
        outcome = f"UNTYPED {type(error).__name__}: {error}"[:200]
    return time.perf_counter() - start, outcome


def _size_class(size: int) -> str:
    return next(label for limit, label in SIZE_CLASSES if size < limit)


def _scaling_inputs() -> dict[str, Callable[[int], str]]:
    """Families whose size can be set exactly, to check that time per byte stays flat as inputs grow."""
    call = f"{START_CALL}call:f{{k:1,s:{ESCAPE}ab{ESCAPE}}}{END_CALL}"
    return {
        "one long string": lambda n: f"{START_CALL}call:f{{k:{ESCAPE}{'x' * n}{ESCAPE}}}{END_CALL}",
        "one long key": lambda n: f"{START_CALL}call:f{{{'k' * n}:1}}{END_CALL}",
        "many keys": lambda n: f"{START_CALL}call:f{{" + ",".join(f"k{i}:1" for i in range(n // 6)) + f"}}{END_CALL}",
        "many calls": lambda n: call * (n // len(call)),
        "plain text": lambda n: "word " * (n // 5),
        "unclosed call": lambda n: START_CALL + "call:f{k:" + "[1," * (n // 3),
        "many escapes": lambda n: f"{START_CALL}call:f{{k:[" + ",".join([f"{ESCAPE}a{ESCAPE}"] * (n // 18)) + "]}}"
        + END_CALL,
    }


def main(argv: list[str] | None = None) -> int:
    parser = CommandParser(prog="python -m benchmarks.codec_fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="number of fuzz inputs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the input generator")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")

    outcomes: Counter[str] = Counter()
    slowest: dict[str, tuple[float, int, str]] = {}
    started = time.perf_counter()
    for number, (family, text) in enumerate(fuzz_inputs(args.count, args.seed), start=1):
        elapsed, outcome = _timed(text)
        outcomes[outcome] += 1
        size_class = _size_class(len(text))
        if elapsed > slowest.get(size_class, (0.0, 0, ""))[0]:
            slowest[size_class] = (elapsed, len(text), family)
        if number % 10_000 == 0:
            print(f"  {number:,} inputs, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    print(f"{args.count:,} inputs in {time.perf_counter() - started:.1f} s (seed {args.seed})")
    for outcome, count in outcomes.most_common():
        print(f"  {outcome}: {count:,}")
    print("slowest input per size class:")
    for _, label in SIZE_CLASSES:
        if label in slowest:
            elapsed, size, family = slowest[label]
            print(f"  {label:>13}: {elapsed * 1000:8.3f} ms, {size:,} characters, {family}")

    print("time per KB as inputs grow (flat = linear):")
    worst_1mb = 0.0
    for family, make in _scaling_inputs().items():
        figures = []
        for size in (4_096, 65_536, 1_048_576):
            text = make(size)
            elapsed = min(_timed(text)[0] for _ in range(3))
            figures.append(elapsed / len(text) * 1024 * 1e6)
            if size == 1_048_576:
                worst_1mb = max(worst_1mb, elapsed)
        print(f"  {family:>16}: " + ", ".join(f"{f:7.1f} us/KB" for f in figures)
              + f"  (1 MB / 4 KB per-byte ratio {figures[-1] / figures[0]:.2f})")
    under_4kb = slowest.get("under 4 KB", (0.0, 0, ""))[0]
    untyped = sum(count for outcome, count in outcomes.items() if outcome.startswith("UNTYPED"))
    print(f"goals: untyped errors {untyped} (0), slowest under 4 KB {under_4kb * 1000:.3f} ms (< 1 ms), "
          f"slowest 1 MB scaling input {worst_1mb:.3f} s (< 0.5 s)")
    return 1 if untyped else 0


if __name__ == "__main__":
    raise SystemExit(main())
