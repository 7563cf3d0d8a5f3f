"""Benchmark: recording throughput against a local fake of the Messages API with 200 ms latency per request.

Run: ``.venv/bin/python -m benchmarks.record [--turns 500] [--latency 0.2]``. The fake server runs in its own
process. For concurrency 1, 8 and 32 it prints the wall time and the efficiency against the ideal
(turns x latency / concurrency), then the recorder's own overhead per turn (a recorded instant backend
against the same backend unrecorded). Targets: at least 85% efficiency at concurrency 32; overhead < 1 ms.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anthropic

from converters.functiongemma import ToolCall
from interpreters.anthropic import AnthropicTeacher
from interpreters.recording import Recording, SessionLog
from interpreters.scripted import FunctionModel
from tasks.score_edge import EdgeType, ScoreEdgeInput, ScoreEdgeTask
from teacher.cli_args import CommandParser, non_negative_float, positive_int
from teacher.model import ModelBackend, request_for

SERVER = (
    "import sys, time\n"
    "from tests.fake_anthropic import FakeAnthropic\n"
    "fake = FakeAnthropic(latency=float(sys.argv[1])).start()\n"
    "print(fake.base_url, flush=True)\n"
    "time.sleep(3600)\n"
)
ANSWER = {"relevance": 3, "risk": 2, "reasoning": "r", "is_exhaustive": False, "is_type_family": False,
          "is_exported": True}


def edges(count: int) -> list[ScoreEdgeInput]:
    """``count`` distinct edges (distinct requests, so nothing is answered twice)."""
    return [
        ScoreEdgeInput(query=f"What uses order field {n}?", source_file="shop/models.py", source_line=n + 1,
                       source_hover="class Order", target_file="shop/pricing.py", target_line=n + 2,
                       target_hover="def order_total(order: Order) -> Money", edge_type=EdgeType.usage)
        for n in range(count)
    ]


async def run_turns(backend: ModelBackend, inputs: list[ScoreEdgeInput], log_dir: Path, name: str) -> float:
    """Complete every request through a recorder; returns the wall time."""
    task = ScoreEdgeTask()
    log = SessionLog(log_dir / f"{name}.jsonl", session_id=name)
    recording = Recording(backend, log)
    start = time.perf_counter()
    await asyncio.gather(*(recording.complete(request_for(task, i)) for i in inputs))
    elapsed = time.perf_counter() - start
    log.close()
    return elapsed


async def overhead(turns: int, log_dir: Path) -> float:
    """Seconds the recorder adds per turn around an instant backend."""
    task = ScoreEdgeTask()
    instant = FunctionModel(lambda request: ToolCall("score_edge", ANSWER))
    inputs = edges(turns)
    requests = [request_for(task, i) for i in inputs]
    start = time.perf_counter()
    for request in requests:
        await instant.complete(request)
    bare = time.perf_counter() - start
    log = SessionLog(log_dir / "overhead.jsonl", session_id="overhead")
    recording = Recording(instant, log)
    start = time.perf_counter()
    for request in requests:
        await recording.complete(request)
    recorded = time.perf_counter() - start
    log.close()
    return (recorded - bare) / turns


def levels(text: str) -> list[int]:
    """Concurrency levels: a comma-separated list of integers >= 1 (argparse type)."""
    return [int(positive_int(part)) for part in text.split(",")]


async def main() -> None:
    parser = CommandParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=positive_int, default=500, help="turns per concurrency level")
    parser.add_argument(
        "--latency", type=non_negative_float, default=0.2, help="server latency in seconds"
    )
    parser.add_argument("--levels", type=levels, default="1,8,32", help="concurrency levels")
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(args.latency)], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[1])
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as scratch:
            for level in args.levels:
                client = anthropic.AsyncAnthropic(api_key="benchmark", base_url=base_url, max_retries=0)
                teacher = AnthropicTeacher(client=client, concurrency=level)
                wall = await run_turns(teacher, edges(args.turns), Path(scratch), f"c{level}")
                ideal = args.turns * args.latency / level
                print(f"concurrency {level:>2}: {args.turns} turns in {wall:.2f} s; ideal {ideal:.2f} s; "
                      f"efficiency {ideal / wall:.0%}")
                await client.close()
            per_turn = await overhead(2000, Path(scratch))
            print(f"recording overhead: {per_turn * 1000:.3f} ms per turn (target < 1 ms)")
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    asyncio.run(main())
