"""Benchmark: CLI-intent latency from request to argv with a GGUF student (q8_0) in-process through llama.cpp.

Run: ``.venv/bin/python -m benchmarks.cli_intent_latency --gguf training/models/gh/gh-q8_0.gguf [--calls 50]``
(needs the ``llamacpp`` extra). Each call is :func:`tasks.cli_intent.run.interpret_request` for one of a fixed
list of ``gh`` requests with a fixed context: the prompt rendered, the student's greedy completion, the call
validated with the task's rules and the argv built. The KV cache of the shared prompt prefix (the tool
declarations) is kept between requests, as in a resident service (``--no-prefix-cache`` evaluates the whole
prompt each time, as a one-shot command line does). Decoding is under the call grammar with jump-forward, as
the student decodes by default (``--no-grammar``: unconstrained). The model is loaded and warmed up before
timing. Context gathering (real ``git``, no ``gh``) is timed apart. It prints p50/p95/mean per call, tokens
per call and what the answers were (commands, clarifications, refusals). Goals: p50 under 150 ms for the real
270M q8_0, under 30 ms for the tiny one.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from interpreters.backends import build_backend
from interpreters.scripted import FunctionModel
from tasks.cli_intent.context import gather_context
from tasks.cli_intent.run import interpret_request
from tasks.cli_intent.shipped import resolve_schema
from tasks.cli_intent.tools import CliContext
from teacher.cli_args import CommandParser, positive_int
from teacher.model import ModelReply, ModelRequest

REQUESTS = [
    "close the PR I'm on",
    "list open issues assigned to me",
    "show me the checks of PR 7",
    "merge this PR with squash and delete the branch",
    "rerun the failed jobs of run 123",
    "clone cli/cli",
    "create a draft release v1.2.0",
    "make me a sandwich",
]
CONTEXT = CliContext(current_branch="fix-login", repo_owner="octo", repo_name="widgets", current_pr=42,
                     has_uncommitted_changes=True)


def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of the sorted values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def measure(
    gguf: Path, calls: int, threads: int | None, max_tokens: int = 256, reuse: bool = True, grammar: bool = True
) -> dict[str, Any]:
    """Time ``calls`` requests to argv with the GGUF student; latencies in seconds and what was answered."""
    schema, _ = resolve_schema("gh")
    student = build_backend(f"gguf:{gguf}", n_threads=threads, max_tokens=max_tokens, reuse_prefix=reuse,
                            grammar=grammar)
    tokens: list[tuple[int, int, int]] = []

    async def ask(request: ModelRequest) -> ModelReply:
        reply = await student.complete(request)
        tokens.append((reply.meta["prompt_tokens"], reply.meta["completion_tokens"], reply.meta["sampled_tokens"]))
        return reply

    backend = FunctionModel(ask)
    for request in REQUESTS:  # load and warm up
        asyncio.run(interpret_request(request, schema, backend, CONTEXT))
    tokens.clear()
    latencies: list[float] = []
    kinds: Counter[str] = Counter()
    for index in range(calls):
        started = time.perf_counter()
        result = asyncio.run(interpret_request(REQUESTS[index % len(REQUESTS)], schema, backend, CONTEXT))
        latencies.append(time.perf_counter() - started)
        kinds[result.kind] += 1
    context_times = []
    for _ in range(10):
        started = time.perf_counter()
        gather_context(("current_branch", "repository", "uncommitted_changes"), Path.cwd())
        context_times.append(time.perf_counter() - started)
    return {
        "latencies": latencies, "kinds": dict(kinds), "context_p50": statistics.median(context_times),
        "prompt_tokens": statistics.mean(t[0] for t in tokens),
        "completion_tokens": statistics.mean(t[1] for t in tokens),
        "sampled_tokens": statistics.mean(t[2] for t in tokens),
    }


def main(argv: list[str] | None = None) -> int:
    parser = CommandParser(prog="python -m benchmarks.cli_intent_latency", description=__doc__.split("\n")[0])
    parser.add_argument("--gguf", type=Path, required=True, help="the q8_0 student GGUF")
    parser.add_argument("--calls", type=positive_int, default=50, help="timed requests")
    parser.add_argument("--threads", type=positive_int, default=None, help="llama.cpp threads (default: its own)")
    parser.add_argument("--max-tokens", type=positive_int, default=256,
                        help="completion cap (the student's); an untrained base rambles to it, so cap "
                             "it at an answer's length (about 40 tokens) to time a base as if trained")
    parser.add_argument("--no-prefix-cache", action="store_true",
                        help="evaluate the whole prompt every time (default: keep the declarations' KV cache)")
    parser.add_argument("--no-grammar", action="store_true",
                        help="decode unconstrained (default: under the call grammar, with jump-forward)")
    args = parser.parse_args(argv)
    found = measure(args.gguf, args.calls, args.threads, args.max_tokens, not args.no_prefix_cache,
                    not args.no_grammar)
    ms = [1000 * s for s in found["latencies"]]
    print(f"{args.gguf.name}: {args.calls} requests to argv (max_tokens {args.max_tokens}, "
          f"prefix cache {'off' if args.no_prefix_cache else 'on'}, grammar {'off' if args.no_grammar else 'on'})")
    print(f"p50 {percentile(ms, 0.5):.1f} ms, p95 {percentile(ms, 0.95):.1f} ms, mean {statistics.mean(ms):.1f} ms")
    print(f"tokens per call: {found['prompt_tokens']:.0f} prompt, {found['completion_tokens']:.1f} completion "
          f"({found['sampled_tokens']:.1f} chosen by the model, the rest forced by the grammar)")
    print(f"answers: {found['kinds']}")
    print(f"context gathering (git, 3 providers, concurrent): p50 {1000 * found['context_p50']:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
