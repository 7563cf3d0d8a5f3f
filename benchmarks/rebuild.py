"""Benchmark: ``converters.rebuild`` over 200,000 recorded turns; prints turns per second and peak memory.

Run: ``.venv/bin/python -m benchmarks.rebuild [--turns 200000] [--format text]``. The recordings are made
here: score_edge turns from the synthetic generator's edge contexts answered by the heuristic teacher,
written as session-log lines exactly as the recorder writes them (one session per 1,000 turns). The rebuild
runs in a fresh process so that its peak memory (ru_maxrss) is its own. Target: 20,000 turns/s, < 300 MB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from interpreters.heuristic import HeuristicModel
from interpreters.records import ModelTurn, RecordedCall, dump_line
from tasks.score_edge.generate import edge_contexts
from teacher.cli_args import CommandParser, positive_int, workers

CHILD = (
    "import json, resource, sys, time\n"
    "from pathlib import Path\n"
    "from converters.rebuild import Options, rebuild\n"
    "start = time.perf_counter()\n"
    "options = Options(out=Path(sys.argv[2]), format=sys.argv[3])\n"
    "stats = rebuild([Path(sys.argv[1])], options, workers=int(sys.argv[4]))\n"
    "seconds = time.perf_counter() - start\n"
    "self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
    "workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
    "peak = self + workers * int(sys.argv[4]) if int(sys.argv[4]) > 1 else self\n"
    "print(json.dumps({'turns': stats.turns, 'seconds': seconds, 'peak_mb': peak,"
    " 'examples': sum(stats.examples.values()), 'dropped': dict(stats.dropped)}))\n"
)


def write_recordings(root: Path, turns: int) -> None:
    """``turns`` heuristic score_edge turns as session logs under ``root``."""
    sessions = root / "sessions"
    sessions.mkdir(parents=True)
    out = None
    for number, context in enumerate(edge_contexts(turns, seed=1)):
        if number % 1000 == 0:
            if out is not None:
                out.close()
            out = open(sessions / f"s{number // 1000:05d}.jsonl", "wb")  # noqa: SIM115
        call, reasoning = HeuristicModel.answer("score_edge", context)
        assert call is not None and out is not None
        line = ModelTurn(
            session=f"s{number // 1000}", turn=number % 1000 + 1, key=f"k{number}", task="score_edge", node=None,
            input=context.model_dump(mode="json"), backend="HeuristicModel", started=0.0, finished=0.0,
            latency_s=0.0, request=None,
            response={"backend": "heuristic", "call": {"name": call.name, "arguments": call.arguments}},
            calls=[RecordedCall(name=call.name, arguments=call.arguments)], reasoning=reasoning, cost_usd=0.0,
            attempts=1, retried=[], error=None,
        )
        out.write(dump_line(line).encode() + b"\n")
    if out is not None:
        out.close()


def main() -> None:
    parser = CommandParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=positive_int, default=200_000, help="recorded turns")
    parser.add_argument("--format", choices=["text", "messages", "prompt-completion"], default="text")
    parser.add_argument("--workers", type=workers, default=os.cpu_count() or 1, help="conversion processes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        start = time.perf_counter()
        write_recordings(root / "recordings", args.turns)
        size = sum(p.stat().st_size for p in (root / "recordings").rglob("*.jsonl")) / 1e6
        print(f"wrote {args.turns} turns ({size:.0f} MB) in {time.perf_counter() - start:.1f} s")
        result = subprocess.run(
            [sys.executable, "-c", CHILD, str(root / "recordings"), str(root / "out"), args.format, str(args.workers)],
            capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1],
        )
        figures = json.loads(result.stdout.strip().splitlines()[-1])
    rate = figures["turns"] / figures["seconds"]
    print(f"rebuild ({args.format}): {figures['turns']} turns in {figures['seconds']:.1f} s = {rate:,.0f} turns/s "
          f"({rate / 20_000:.2f} of the 20,000 target); peak memory {figures['peak_mb']:.0f} MB "
          f"({figures['peak_mb'] / 300:.2f} of the 300 MB limit); {figures['examples']} examples, "
          f"dropped {figures['dropped']}")


if __name__ == "__main__":
    main()
