"""Benchmark: CLI-intent latency from request to argv with a GGUF student (q8_0) in-process through llama.cpp.

Run: ``.venv/bin/python -m benchmarks.cli_intent_latency --gguf training/models/gh/gh-q8_0.gguf [--calls 50]``
(needs the ``llamacpp`` extra). Each call is :func:`tasks.cli_intent.run.interpret_request` for one of a fixed
list of ``gh`` requests with a fixed context: the prompt rendered, the student's greedy completion, the call
validated with the task's rules and the argv built. The model is loaded and warmed up before timing.

- **resident** (default): the KV cache of the declarations is kept between requests, as in the resident daemon
  (``python -m tasks.cli_intent.run --serve``); with ``--retrieve`` the caches of up to ``--prefix-states``
  retrieved subsets are kept and restored. ``--no-prefix-cache`` (**cold**) evaluates the whole prompt each time,
  as a one-shot command line does.
- **retrieved** (``--retrieve K``): only the K subcommands :mod:`tasks.cli_intent.retrieve` finds for the request
  are declared; the default declares the whole schema.
- ``--compare`` times all four (full and retrieved, cold and resident) in one run and prints a table;
  ``--daemon`` adds a row timed through a real ``--serve`` daemon over its unix socket.
- Decoding is under the call grammar with jump-forward, as the student decodes by default (``--no-grammar``:
  unconstrained).

It prints p50/p95/mean per call, tokens per call, what the answers were, the time context gathering takes, and
the retriever's recall on held-out CLI-intent lines (``--recall-data``: the ``cli_intent*`` lines of a dataset's
``eval.jsonl``; by default ``training/data/real/eval.jsonl`` when there, else examples of the template generator).
Goals: p50 under 150 ms and p95 under 300 ms for the real 270M q8_0 on 2 idle cores. Latency depends on training
only through the answer's length: an untuned base, capped at an answer's length (``--max-tokens 40``), times
like a trained student.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from interpreters.backends import add_backend_flag
from interpreters.scripted import FunctionModel
from tasks.cli_intent.context import gather_context
from tasks.cli_intent.retrieve import SubcommandRetriever, recall
from tasks.cli_intent.run import PREFIX_STATES, DaemonUnavailable, Interpretation, ask_daemon, interpret_request
from tasks.cli_intent.schema import CliSchema
from tasks.cli_intent.shipped import resolve_schema
from tasks.cli_intent.task import CliIntentTask
from tasks.cli_intent.tools import CliContext
from teacher.cli_args import CommandParser, non_negative_int, positive_int
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
#: where held-out CLI-intent lines are looked for when ``--recall-data`` is not given
DEFAULT_RECALL_DATA = Path("training/data/real/eval.jsonl")


def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of the sorted values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def measure(
    gguf: Path, calls: int, threads: int | None, max_tokens: int = 256, reuse: bool = True, grammar: bool = True,
    retrieve: int = 0, prefix_states: int = PREFIX_STATES,
) -> dict[str, Any]:
    """Time ``calls`` requests to argv with the GGUF student; latencies in seconds and what was answered.
    ``reuse``: resident (the declarations' KV caches kept; ``prefix_states`` of them with retrieval)."""
    schema, _ = resolve_schema("gh")
    from interpreters.llamacpp import LlamaCppStudent

    student = LlamaCppStudent(gguf, n_threads=threads, max_tokens=max_tokens, reuse_prefix=reuse, grammar=grammar,
                              prefix_states=prefix_states if reuse and retrieve else 0)
    task = CliIntentTask(schema, retrieve=retrieve)
    tokens: list[tuple[int, int, int]] = []
    prefixes: Counter[str] = Counter()

    async def ask(request: ModelRequest) -> ModelReply:
        if not reuse:
            student.decoder().llm.reset()  # cold: nothing kept from the request before
        reply = await student.complete(request)
        tokens.append((reply.meta["prompt_tokens"], reply.meta["completion_tokens"], reply.meta["sampled_tokens"]))
        prefixes[reply.meta.get("prefix") or ("kept" if reuse else "evaluated")] += 1
        return reply

    backend = FunctionModel(ask)
    for request in REQUESTS if reuse else REQUESTS[:1]:  # load and warm up (resident: each prefix seen once)
        asyncio.run(interpret_request(request, schema, backend, CONTEXT, task))
    tokens.clear()
    prefixes.clear()
    latencies: list[float] = []
    kinds: Counter[str] = Counter()
    for index in range(calls):
        started = time.perf_counter()
        result = asyncio.run(interpret_request(REQUESTS[index % len(REQUESTS)], schema, backend, CONTEXT, task))
        latencies.append(time.perf_counter() - started)
        kinds[result.kind] += 1
    return {
        "latencies": latencies, "kinds": dict(kinds), "prefixes": dict(prefixes),
        "prompt_tokens": statistics.mean(t[0] for t in tokens),
        "completion_tokens": statistics.mean(t[1] for t in tokens),
        "sampled_tokens": statistics.mean(t[2] for t in tokens),
    }


def measure_daemon(gguf: Path, calls: int, max_tokens: int, retrieve: int) -> dict[str, Any]:
    """Time ``calls`` requests through a real ``tasks.cli_intent.run --serve`` daemon over its unix socket."""
    with tempfile.TemporaryDirectory(prefix="cli-intent-daemon-") as scratch:
        path = Path(scratch) / "gh.sock"
        env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")]))}
        daemon = subprocess.Popen(
            [sys.executable, "-m", "tasks.cli_intent.run", "--serve", "--socket", str(path), "--student",
             f"gguf:{gguf}", "--retrieve", str(retrieve), "--max-tokens", str(max_tokens)],
            env=env, stderr=subprocess.PIPE, text=True)
        try:
            assert daemon.stderr is not None
            line = daemon.stderr.readline()  # "serving ..." once it listens, else the reason it stopped
            if "serving" not in line:
                raise DaemonUnavailable(f"the daemon did not start: {line.strip() or daemon.wait()}")
            results: list[Interpretation] = []
            for request in REQUESTS:  # warm up
                ask_daemon(path, request, CONTEXT)
            latencies = []
            for index in range(calls):
                started = time.perf_counter()
                results.append(ask_daemon(path, REQUESTS[index % len(REQUESTS)], CONTEXT))
                latencies.append(time.perf_counter() - started)
        finally:
            daemon.terminate()
            daemon.wait(timeout=30)
    return {"latencies": latencies, "kinds": dict(Counter(r.kind for r in results))}


def recall_examples(path: Path | None, schema: CliSchema) -> tuple[str, list[tuple[str, str, list[str]]]]:
    """Held-out ``(request, tool, pairs)`` for the retriever's recall, and where they came from: the ``cli_intent``
    lines of ``path`` (default :data:`DEFAULT_RECALL_DATA` when there), else 200 examples of the template
    generator (seed 1)."""
    path = path or (DEFAULT_RECALL_DATA if DEFAULT_RECALL_DATA.is_file() else None)
    examples: list[tuple[str, str, list[str]]] = []
    if path is not None:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            row = json.loads(line)
            if not str(row.get("task", "")).startswith("cli_intent"):
                continue
            raw = row.get("input")
            request = (json.loads(raw) if isinstance(raw, str) else raw or {}).get("request")
            calls = row["messages"][-1].get("tool_calls") or []
            if not request or len(calls) != 1:
                raise ValueError(f"{path}:{number}: a cli_intent line needs input.request and one tool call")
            function = calls[0]["function"]
            arguments = json.loads(function["arguments"])
            pairs = [f"{arguments['command']} {arguments['subcommand']}"] if function["name"] == "run_command" \
                else list(arguments.get("suggestions") or [])
            examples.append((request, function["name"], pairs))
        return f"{path} ({len(examples)} cli_intent lines)", examples
    from tasks.cli_intent.generation import example_from_item, next_batch, targets
    from tasks.cli_intent.templates import generate_items

    have: Counter[str] = Counter()
    wanted = targets(200)
    batch_number = 0
    while (batch := next_batch(schema, have, wanted, 10, batch_number, 1)) is not None:
        for item in generate_items(schema, batch):
            example, _ = example_from_item(item, batch.category, schema)
            if example is not None:
                have[batch.category] += 1
                arguments = example.arguments
                pairs = [f"{arguments['command']} {arguments['subcommand']}"] if example.tool == "run_command" \
                    else list(arguments.get("suggestions") or [])
                examples.append((example.request, example.tool, pairs))
        batch_number += 1
    return f"the template generator (seed 1, {len(examples)} examples)", examples


def _row(label: str, found: dict[str, Any]) -> str:
    ms = [1000 * s for s in found["latencies"]]
    tokens = (f"{found['prompt_tokens']:.0f} | {found['completion_tokens']:.1f} | {found['sampled_tokens']:.1f}"
              if "prompt_tokens" in found else "| |")
    prefixes = ", ".join(f"{k} {v}" for k, v in sorted(found.get("prefixes", {}).items()))
    return (f"| {label} | {percentile(ms, 0.5):.0f} | {percentile(ms, 0.95):.0f} | {statistics.mean(ms):.0f} | "
            f"{tokens} | {prefixes} |")


def main(argv: Sequence[str] | None = None) -> int:
    parser = CommandParser(prog="python -m benchmarks.cli_intent_latency", description=__doc__.split("\n")[0])
    add_backend_flag(parser, "student", flag="--gguf", bare="gguf", required=True, metavar=None,
                     help="the q8_0 student GGUF")
    parser.add_argument("--calls", type=positive_int, default=50, help="timed requests (per row with --compare)")
    parser.add_argument("--threads", type=positive_int, default=None, help="llama.cpp threads (default: its own)")
    parser.add_argument("--max-tokens", type=positive_int, default=256,
                        help="completion cap (the student's); an untrained base rambles to it, so cap "
                             "it at an answer's length (about 40 tokens) to time a base as if trained")
    parser.add_argument("--no-prefix-cache", action="store_true",
                        help="cold: evaluate the whole prompt every time (default: resident, the declarations' "
                             "KV caches kept)")
    parser.add_argument("--retrieve", type=non_negative_int, default=0, metavar="K",
                        help="declare the K retrieved subcommands only (0: the whole schema); --compare's "
                             "retrieved rows use it, or 6 when it is 0")
    parser.add_argument("--prefix-states", type=positive_int, default=PREFIX_STATES,
                        help="declaration prefixes whose KV caches are kept when resident with --retrieve")
    parser.add_argument("--compare", action="store_true",
                        help="time full and retrieved declarations, cold and resident, and print a table")
    parser.add_argument("--daemon", action="store_true",
                        help="also time requests through a `tasks.cli_intent.run --serve` daemon's socket")
    parser.add_argument("--no-grammar", action="store_true",
                        help="decode unconstrained (default: under the call grammar, with jump-forward)")
    parser.add_argument("--recall-data", type=Path, default=None,
                        help=f"a dataset's eval.jsonl for the retriever's recall (default: {DEFAULT_RECALL_DATA} "
                             "when there, else template examples)")
    args = parser.parse_args(argv)
    if not args.gguf.is_file():
        parser.error(f"--gguf {args.gguf}: no such file")
    if args.recall_data is not None and not args.recall_data.is_file():
        parser.error(f"--recall-data {args.recall_data}: no such file")
    schema, _ = resolve_schema("gh")
    source, examples = recall_examples(args.recall_data, schema)
    retriever = SubcommandRetriever(schema)
    print(f"retriever recall on {source}: " + "; ".join(
        f"k={k}: run_command {r.command_recall:.1%} of {r.commands}, clarify {r.clarify_recall:.1%} of "
        f"{r.clarifications}" for k in (2, 4, 6, 8) for r in [recall(retriever, examples, k)]))
    grammar = not args.no_grammar
    print(f"{args.gguf.name}: {args.calls} requests to argv a row (max_tokens {args.max_tokens}, "
          f"grammar {'on' if grammar else 'off'}, threads {args.threads or 'default'})")
    print("| declarations | prefix | p50 ms | p95 ms | mean ms | prompt tokens | completion tokens | sampled | "
          "declarations' KV |")
    print("|---|---|---|---|---|---|---|---|---|")
    k = args.retrieve or 6
    rows = [(0, False), (0, True), (k, False), (k, True)] if args.compare else \
        [(args.retrieve, not args.no_prefix_cache)]
    for retrieve, resident in rows:
        found = measure(args.gguf, args.calls, args.threads, args.max_tokens, resident, grammar, retrieve,
                        args.prefix_states)
        label = f"{'full' if not retrieve else f'retrieved k={retrieve}'} | {'resident' if resident else 'cold'}"
        print(_row(label, found), flush=True)
    if args.daemon:
        found = measure_daemon(args.gguf, args.calls, args.max_tokens, args.retrieve)
        print(_row(f"{'full' if not args.retrieve else f'retrieved k={args.retrieve}'} | daemon socket", found))
    context_times = []
    for _ in range(10):
        started = time.perf_counter()
        gather_context(("current_branch", "repository", "uncommitted_changes"), Path.cwd())
        context_times.append(time.perf_counter() - started)
    print(f"context gathering (git, 3 providers, concurrent): p50 {1000 * statistics.median(context_times):.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
