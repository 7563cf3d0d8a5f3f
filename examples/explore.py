"""Explore a code base for a topic over LSP, offline, and show the FunctionGemma exchanges (the teacher or a student).

The exploration program runs against the real jedi language server and the heuristic teacher (no API key,
GPU or server needed). Every model answer also goes through the FunctionGemma codec: the student's prompt is
rendered, the answer written in the wire format and parsed back, and the first exchange of each task is
printed, so what a fine-tuned student would read and write is visible (``-q`` leaves the exchanges out, with
the progress lines). By default it explores ``examples/sample_repo``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from converters.functiongemma import PROFILES, Profile, completion_terminator, parse_calls, render_call
from interpreters.backends import add_backend_flag
from interpreters.heuristic import HeuristicModel
from interpreters.lsp import LspServer
from teacher.cli_args import (
    CommandParser,
    counts,
    output_problem,
    user_text,
)
from teacher.explore import Exploration, TeachQuery, add_exploration_flags, explore, module_prefix
from teacher.handlers import interpret
from teacher.model import ModelBackend, ModelReply, ModelRequest, student_prompt

SAMPLE_REPO = Path(__file__).resolve().parent / "sample_repo"
DEFAULT_TOPIC = "How is the order total computed with discounts?"
DEFAULT_SEEDS = ("order_total", "checkout")


class ThroughTheCodec(ModelBackend):
    """Wraps a backend: each answer is rendered as FunctionGemma text and parsed back before it is used."""

    def __init__(self, inner: ModelBackend, profile: Profile, show: bool) -> None:
        self.inner = inner
        self.profile = profile
        self.shown: set[str] = set() if show else {"*"}
        self.exchanges = 0

    async def complete(self, request: ModelRequest) -> ModelReply:
        reply = await self.inner.complete(request)
        prompt = student_prompt(request, self.profile)
        completion = "".join(render_call(c.name, c.arguments, profile=self.profile) for c in reply.calls)
        completion += completion_terminator(self.profile)
        calls = parse_calls(completion)
        if calls != list(reply.calls):
            raise AssertionError(f"the codec changed an answer: {reply.calls} became {calls}")
        self.exchanges += 1
        if request.task_name not in self.shown and "*" not in self.shown:
            self.shown.add(request.task_name)
            print(f"--- {request.task_name}: prompt ({self.profile} profile) ---\n{prompt}")
            print(f"--- completion ---\n{completion}\n")
        return ModelReply(calls=tuple(calls), reasoning=reply.reasoning, raw=completion)


def report(result: Exploration) -> None:
    """Print the explored symbols, the scored edges and the grouped document."""
    for node in result.nodes:
        print(f"[depth {node.depth}] {node.symbol.qualified}: {node.signature[:90]}")
        if node.selected:
            print(f"    selected: {', '.join(node.selected)}")
    for edge in result.edges:
        s = edge.score
        print(f"edge {edge.source} -> {edge.target} ({edge.edge_type.value}): relevance {s.relevance}, risk {s.risk}")
    doc = result.document
    print(f"core: {', '.join(doc.core) or '-'}")
    print(f"prerequisites: {', '.join(doc.prerequisites) or '-'}")
    print(f"support: {', '.join(doc.support) or '-'}")
    if result.skipped:
        print(f"skipped: {counts(result.skip_counts())}")


async def run(
    repo: Path, query: TeachQuery, profile: Profile, show: bool, out: Path | None, student: ModelBackend | None = None
) -> int:
    """Explore ``repo`` for the query (with the heuristic teacher, or ``student``) and print the result."""
    model = student or ThroughTheCodec(HeuristicModel(), profile, show)
    async with LspServer(repo) as lsp, interpret(lsp, model):
        result = await explore(query, module_prefix=module_prefix(repo))
    report(result)
    exchanges = f"{model.exchanges} model exchanges, " if isinstance(model, ThroughTheCodec) else ""
    print(f"{len(result.nodes)} symbols, {len(result.edges)} edges, {exchanges}"
          f"{lsp.stats.requests} LSP requests ({lsp.stats.cache_hits} answered from the cache)")
    if out is not None:
        try:
            out.write_text(result.model_dump_json(indent=2), encoding="utf-8")
        except OSError as error:  # checked before the work, yet the write itself can fail (a full disk)
            print(f"explore: --out {out}: cannot write: {error.strerror or error}", file=sys.stderr)
            return 1
        print(f"wrote {out}")
    return 0 if result.nodes else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = CommandParser(prog="python -m examples.explore", description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=SAMPLE_REPO, help="repository root (default: the sample)")
    parser.add_argument("--topic", type=user_text, default=DEFAULT_TOPIC, help="what to explore for")
    parser.add_argument("--symbol", type=user_text, action="append",
                        help=f"symbol to start from (repeatable; unset: {', '.join(DEFAULT_SEEDS)})")
    add_exploration_flags(parser)
    parser.add_argument("--profile", choices=PROFILES, default="hf", help="FunctionGemma profile shown")
    parser.add_argument("--out", type=Path, help="also write the exploration as JSON to this file")
    student_flag = add_backend_flag(parser, "student", companions=("gguf", "ollama"),
                                    help="explore with the fine-tuned student instead: ollama[:NAME], gguf:PATH (or "
                                         "llamacpp with --gguf) or hf:DIR")
    args = parser.parse_args(argv)
    if not args.repo.is_dir():
        parser.error(f"--repo {args.repo} is not a directory")
    problem = output_problem(args.out, directory=False) if args.out is not None else None
    if problem is not None:
        print(f"explore: --out {args.out}: {problem}", file=sys.stderr)
        return 1
    query = TeachQuery(
        topic=args.topic,
        seeds=tuple(args.symbol or DEFAULT_SEEDS),
        budget=args.budget,
        max_depth=args.max_depth,
        breadth=args.breadth,
    )
    if args.student:
        from interpreters.backends import BackendSpecError, build_backend
        from teacher.operations import OperationFailed

        spec = student_flag.spec(parser, args)
        assert spec is not None
        try:
            student = build_backend(spec, {"host": args.ollama_host, "on_invalid": "fallback"})
            return asyncio.run(run(args.repo, query, args.profile, False, args.out, student))
        except BackendSpecError as error:
            print(f"explore: --student {spec}: {error}", file=sys.stderr)
            return 2
        except OperationFailed as error:
            if not error.fatal:
                raise
            print(f"explore: {error}", file=sys.stderr)
            return 2
    return asyncio.run(run(args.repo, query, args.profile, not getattr(args, "quiet", False), args.out))


if __name__ == "__main__":
    sys.exit(main())
