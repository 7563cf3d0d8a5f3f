"""Benchmark: synthetic score_edge generation throughput (target: 100,000 examples in under 10 s).

Run: ``.venv/bin/python -m benchmarks.score_edge_generate [--count N]``. Prints seconds, examples per second
and the ratio to the target for one worker and for one worker per core.
"""

from __future__ import annotations

import os
import time
from typing import IO, cast

from tasks.score_edge.generate import write
from teacher.cli_args import CommandParser, positive_int

TARGET_SECONDS_PER_100K = 10.0


class _Sink:
    """Counts bytes instead of storing them."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)


def main() -> None:
    parser = CommandParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=positive_int, default=100_000, help="examples to generate")
    args = parser.parse_args()
    for workers in sorted({1, os.cpu_count() or 1}):
        sink = _Sink()
        start = time.perf_counter()
        write(args.count, 0, "text", "hf", cast(IO[bytes], sink), workers)
        seconds = time.perf_counter() - start
        per_100k = seconds * 100_000 / args.count
        print(
            f"workers={workers}: {args.count} examples in {seconds:.2f} s ({args.count / seconds:,.0f}/s, "
            f"{sink.size / 1e6:.1f} MB); {per_100k:.2f} s per 100k = {per_100k / TARGET_SECONDS_PER_100K:.2f} "
            "of the 10 s target"
        )


if __name__ == "__main__":
    main()
