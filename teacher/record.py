"""``python -m teacher.record``: run explorations with a teacher and record every exchange, resumably.

Each query is one session, recorded to ``OUT/sessions/<id>.jsonl`` (the id is derived from the query, so a
resumed run finds its sessions again): a ``session_start`` line, one line per model exchange and per LSP
answer used, and a ``session_end`` line with the exploration once the session is complete. ``--resume``
continues unfinished sessions, answering finished turns from the log; finished sessions are skipped.
After each exploration the teacher is asked for the topic's semantic opposite (``invert_topic``), from which
``converters.rebuild`` builds select_symbols negatives (``--no-invert`` skips it).
A summary (sessions, turns, failures by reason, tokens, cost, cost per 1,000 examples, wall time) is
printed and written to ``OUT/summary.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from teacher.explore import TeachQuery, explore
from teacher.handlers import Handler, interpret
from teacher.model import ModelBackend
from teacher.operations import OperationFailed

__all__ = ["main", "record", "session_id", "summarise"]


def session_id(query: TeachQuery) -> str:
    """A stable id for a query: the same query always records to the same session log."""
    return hashlib.sha256(query.model_dump_json().encode("utf-8")).hexdigest()[:16]


def load_queries(path: Path, defaults: dict[str, Any]) -> list[TeachQuery]:
    """Queries from a JSONL file (``{"topic": ..., "seeds": [...]}`` per line); errors name the line and field."""
    queries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            queries.append(TeachQuery.model_validate({**defaults, **json.loads(line)}))
        except json.JSONDecodeError as error:
            raise SystemExit(f"{path}:{number}: not JSON: {error}") from None
        except ValidationError as error:
            fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            raise SystemExit(f"{path}:{number}: {fields}") from None
    if not queries:
        raise SystemExit(f"{path}: no queries")
    return queries


class _Progress:
    def __init__(self, total: int, stream: Any) -> None:
        self.total, self.done, self.stream = total, 0, stream
        self.started = time.perf_counter()

    def session_done(self, label: str, turns: int, skipped: dict[str, int]) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.started
        print(f"[{self.done}/{self.total} sessions, {elapsed:.1f} s] {label}: {turns} turns, skipped {skipped or '{}'}",
              file=self.stream, flush=True)


async def _run_session(
    query: TeachQuery,
    out: Path,
    model: ModelBackend,
    lsp: Handler,
    *,
    resume: bool,
    repo: str,
    teacher: str,
    budget_spent: Any,
    progress: _Progress,
    invert: bool = True,
) -> None:
    from interpreters.lsp_replay import LspRecorder
    from interpreters.recording import Recording, SessionLog

    sid = session_id(query)
    path = out / "sessions" / f"{sid}.jsonl"
    log = SessionLog(path, session_id=sid, resume=resume)
    try:
        if any(r.get("kind") == "session_end" for r in log.records):
            progress.session_done(f"{sid} (already finished)", 0, {})
            return
        if not any(r.get("kind") == "session_start" for r in log.records):
            log.append(
                {"schema": 1, "kind": "session_start", "session": sid, "query": query.model_dump(mode="json"),
                 "repo": repo, "teacher": teacher, "started": time.time()}
            )
        recorder = LspRecorder(lsp, sink=log.append)
        recorder.already_written(log.records)
        recording = Recording(model, log)
        async with interpret(recorder, recording):
            result = await explore(query)
            if invert and not budget_spent():
                await _invert_topic(query)
        if budget_spent():
            progress.session_done(f"{sid} (stopped: budget spent; --resume continues it)", log.turns, {})
            return
        log.append({"schema": 1, "kind": "session_end", "session": sid, "finished": time.time(),
                    "result": result.model_dump(mode="json")})
        progress.session_done(sid, log.turns, result.skip_counts())
    finally:
        log.close()


async def _invert_topic(query: TeachQuery) -> None:
    """Ask the teacher for the topic's semantic opposite (recorded; select_symbols negatives are built from it)."""
    from tasks.select_symbols.negatives import InvertTopicInput, InvertTopicTask
    from teacher.handlers import perform
    from teacher.model import current_node
    from teacher.operations import Ask, OperationFailed
    from teacher.task import TaskOutputError

    token = current_node.set("invert_topic")
    try:
        await perform(Ask(InvertTopicTask(), InvertTopicInput(topic=query.topic, symbol=query.seeds[0])))
    except (TaskOutputError, OperationFailed):
        pass  # no opposite: the recording says so (a failed or empty turn); negatives fall back to the heuristic
    finally:
        current_node.reset(token)


async def record(
    queries: Sequence[TeachQuery],
    out: Path,
    model: ModelBackend,
    lsp: Handler,
    *,
    concurrency: int = 4,
    resume: bool = False,
    repo: str = "",
    teacher: str = "",
    budget_spent: Any = lambda: False,
    stream: Any = None,
    invert: bool = True,
) -> dict[str, Any]:
    """Record one session per query (``concurrency`` at a time) and return the summary of ``out``."""
    started = time.perf_counter()
    progress = _Progress(len(queries), stream if stream is not None else sys.stderr)
    limit = asyncio.Semaphore(max(1, concurrency))

    async def one(query: TeachQuery) -> None:
        async with limit:
            if budget_spent():
                return
            await _run_session(query, out, model, lsp, resume=resume, repo=repo, teacher=teacher,
                               budget_spent=budget_spent, progress=progress, invert=invert)

    await asyncio.gather(*(one(q) for q in queries))
    summary = summarise(out)
    summary["wall_time_s"] = round(time.perf_counter() - started, 3)
    summary["stopped_by_budget"] = bool(budget_spent())
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


def summarise(out: Path) -> dict[str, Any]:
    """Totals over every session log under ``out``: sessions, turns, failures by reason, tokens, cost."""
    from interpreters.recording import read_log

    sessions = finished = turns = failed = 0
    reasons: Counter[str] = Counter()
    tokens: Counter[str] = Counter()
    cost = 0.0
    for path in sorted((out / "sessions").glob("*.jsonl")):
        records, _ = read_log(path)
        sessions += 1
        finished += any(r.get("kind") == "session_end" for r in records)
        for r in records:
            if r.get("kind") != "model":
                continue
            turns += 1
            if r.get("error"):
                failed += 1
                reasons[str(r["error"].get("reason") or r["error"].get("type"))] += 1
                continue
            cost += float(r.get("cost_usd") or 0.0)
            usage = (r.get("response") or {}).get("usage") if isinstance(r.get("response"), dict) else None
            for name, value in (usage or {}).items():
                if isinstance(value, int):
                    tokens[name] += value
    examples = turns - failed
    return {
        "sessions": sessions,
        "sessions_finished": finished,
        "turns": turns,
        "turns_failed": failed,
        "failures_by_reason": dict(sorted(reasons.items())),
        "tokens": dict(sorted(tokens.items())),
        "cost_usd": round(cost, 6),
        "cost_per_1000_examples_usd": round(cost / examples * 1000, 4) if examples else 0.0,
    }


def _print_summary(summary: dict[str, Any]) -> None:
    print(
        f"sessions {summary['sessions_finished']}/{summary['sessions']} finished, turns {summary['turns']} "
        f"({summary['turns_failed']} failed: {summary['failures_by_reason'] or 'none'}), tokens {summary['tokens']}, "
        f"cost ${summary['cost_usd']:.4f} (${summary['cost_per_1000_examples_usd']:.2f} per 1,000 examples), "
        f"wall time {summary['wall_time_s']:.1f} s"
        + (" - stopped: budget spent" if summary["stopped_by_budget"] else "")
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m teacher.record", description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="root of the code base to explore")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--topic", help="topic of a single query (with --symbol)")
    what.add_argument("--queries", type=Path, help="JSONL file of queries: {\"topic\": ..., \"seeds\": [...]}")
    what.add_argument("--subagent", choices=["lint", "test", "docstring", "sample_data"],
                      help="record a subagent's sessions instead, on --file/--node or --nodes")
    parser.add_argument("--file", help="--subagent: the repository file to work on")
    parser.add_argument("--node", help="--subagent: the function or class (Class.method) in --file")
    parser.add_argument("--nodes", type=Path, help="--subagent: JSONL of {\"file\": ..., \"node\": ...}")
    parser.add_argument("--symbol", action="append", help="seed symbol for --topic (repeatable)")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--teacher", choices=["haiku", "heuristic", "replay"], help="who answers")
    who.add_argument("--student", choices=["ollama", "llamacpp"], help="record the fine-tuned student instead")
    parser.add_argument("--gguf", type=Path, help="the student's GGUF (--student llamacpp)")
    parser.add_argument("--ollama-model", default="functiongemma-student", help="the student's Ollama model")
    parser.add_argument("--ollama-host", help="Ollama host (default: OLLAMA_HOST, else http://127.0.0.1:11434)")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--concurrency", type=int, default=4, help="sessions and requests at once (default 4)")
    parser.add_argument("--budget-usd", type=float, help="stop cleanly once this much is spent")
    parser.add_argument("--resume", action="store_true", help="continue the sessions already under --out")
    parser.add_argument("--batch", action="store_true", help="send requests as Message Batches (half price)")
    parser.add_argument("--batch-wait", type=float, default=2.0, help="quiet seconds before a batch is sent")
    parser.add_argument("--poll-interval", type=float, default=10.0, help="seconds between batch status polls")
    parser.add_argument("--model", default=None, help="teacher model (default: a current Haiku)")
    parser.add_argument("--thinking-tokens", type=int, help="use extended thinking with this token budget")
    parser.add_argument("--replay-from", type=Path, help="recordings to answer from (--teacher replay)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per model request (default 60)")
    parser.add_argument("--budget", type=int, default=20, help="symbols visited per query (default 20)")
    parser.add_argument("--max-depth", type=int, default=3, help="edges from a seed (default 3)")
    parser.add_argument("--breadth", type=int, default=5, help="candidates followed per symbol (default 5)")
    parser.add_argument("--no-invert", action="store_true", help="do not ask the teacher to invert each topic")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.repo.is_dir():
        parser.error(f"--repo {args.repo} is not a directory")
    if args.subagent:
        return _main_subagent(parser, args)
    defaults = {"budget": args.budget, "max_depth": args.max_depth, "breadth": args.breadth}
    if args.queries:
        queries = load_queries(args.queries, defaults)
    else:
        if not args.symbol:
            parser.error("--topic needs at least one --symbol")
        queries = [TeachQuery(topic=args.topic, seeds=tuple(args.symbol), **defaults)]
    if args.teacher == "haiku" and not (os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN")):
        print("teacher.record: --teacher haiku needs ANTHROPIC_API_KEY in the environment "
              "(or use --teacher heuristic)", file=sys.stderr)
        return 2
    if args.student == "llamacpp" and (not args.gguf or not args.gguf.is_file()):
        parser.error(f"--student llamacpp needs --gguf PATH of an existing GGUF (got {args.gguf})")
    if args.student:
        args.teacher = f"student-{args.student}"
    if args.batch and args.teacher != "haiku":
        parser.error("--batch needs --teacher haiku")
    if args.teacher == "replay" and not args.replay_from:
        parser.error("--teacher replay needs --replay-from DIR")
    existing = [q for q in queries if (args.out / "sessions" / f"{session_id(q)}.jsonl").exists()]
    if existing and not args.resume:
        print(f"teacher.record: {args.out} already holds {len(existing)} of these sessions: add --resume to "
              "continue them, or choose another --out", file=sys.stderr)
        return 2
    try:
        summary = asyncio.run(_main(args, queries))
    except OperationFailed as error:
        if not getattr(error, "fatal", False):
            raise
        print(f"teacher.record: {error}", file=sys.stderr)  # e.g. the student's server is down
        return 2
    _print_summary(summary)
    return 0


def _main_subagent(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from teacher.record_subagents import SubagentNode, load_nodes, record_subagents, subagent_session_id

    if args.nodes:
        nodes = load_nodes(args.nodes)
    elif args.file and args.node:
        nodes = [SubagentNode(file=args.file, node=args.node)]
    else:
        parser.error("--subagent needs --file and --node, or --nodes FILE")
    if args.teacher == "heuristic":
        parser.error("--subagent needs a model that can call tools: --teacher haiku or replay, or a --student")
    if args.batch or args.thinking_tokens:
        parser.error("--subagent runs turn by turn: no --batch, and no --thinking-tokens (thinking blocks would "
                     "have to be sent back with each turn)")
    if args.teacher == "haiku" and not (os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN")):
        print("teacher.record: --teacher haiku needs ANTHROPIC_API_KEY in the environment", file=sys.stderr)
        return 2
    if args.student == "llamacpp" and (not args.gguf or not args.gguf.is_file()):
        parser.error(f"--student llamacpp needs --gguf PATH of an existing GGUF (got {args.gguf})")
    if args.teacher == "replay" and not args.replay_from:
        parser.error("--teacher replay needs --replay-from DIR")
    existing = [n for n in nodes if (args.out / "sessions" / f"{subagent_session_id(args.subagent, n)}.jsonl").exists()]
    if existing and not args.resume:
        print(f"teacher.record: {args.out} already holds {len(existing)} of these sessions: add --resume",
              file=sys.stderr)
        return 2
    model = _subagent_model(args)
    started = time.perf_counter()
    asyncio.run(record_subagents(args.subagent, nodes, args.repo, args.out, model, resume=args.resume))
    summary = summarise(args.out)
    summary["wall_time_s"] = round(time.perf_counter() - started, 3)
    summary["stopped_by_budget"] = False
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    _print_summary(summary)
    return 0


def _subagent_model(args: argparse.Namespace) -> ModelBackend:
    from interpreters.anthropic import DEFAULT_MODEL, AnthropicTeacher, Budget

    if args.teacher == "replay":
        from interpreters.replay import Replay

        return Replay.from_path(args.replay_from)
    if args.student == "ollama":
        from interpreters.ollama import OllamaStudent

        return OllamaStudent(model=args.ollama_model, host=args.ollama_host)
    if args.student == "llamacpp":
        from interpreters.llamacpp import LlamaCppStudent

        return LlamaCppStudent(args.gguf)
    return AnthropicTeacher(model=args.model or DEFAULT_MODEL, concurrency=args.concurrency,
                            budget=Budget(args.budget_usd), timeout=args.timeout)


async def _main(args: argparse.Namespace, queries: list[TeachQuery]) -> dict[str, Any]:
    from interpreters.anthropic import DEFAULT_MODEL, AnthropicTeacher, Budget
    from interpreters.heuristic import HeuristicModel
    from interpreters.lsp import LspServer
    from interpreters.lsp_replay import LspReplay
    from interpreters.recording import read_log
    from interpreters.replay import Replay, session_logs

    budget = Budget(args.budget_usd)
    model: ModelBackend
    async with AsyncExitStack() as stack:
        lsp: Handler
        if args.teacher == "replay":
            records = [r for log in session_logs(args.replay_from) for r in read_log(log)[0]]
            model, lsp = Replay(records), LspReplay(records)
        else:
            lsp = await stack.enter_async_context(LspServer(args.repo))
            if args.teacher == "haiku":
                model = AnthropicTeacher(
                    model=args.model or DEFAULT_MODEL, concurrency=args.concurrency, budget=budget,
                    thinking_tokens=args.thinking_tokens, timeout=args.timeout,
                )
                if args.batch:
                    from interpreters.anthropic_batch import AnthropicBatchTeacher

                    model = AnthropicBatchTeacher(
                        model, args.out / "batches.jsonl", wait=args.batch_wait, poll_interval=args.poll_interval
                    )
            elif args.teacher == "student-ollama":
                from interpreters.ollama import OllamaStudent

                model = OllamaStudent(model=args.ollama_model, host=args.ollama_host)
            elif args.teacher == "student-llamacpp":
                from interpreters.llamacpp import LlamaCppStudent

                model = LlamaCppStudent(args.gguf)
            else:
                model = HeuristicModel()
        return await record(
            queries, args.out, model, lsp, concurrency=args.concurrency, resume=args.resume,
            repo=str(args.repo), teacher=args.teacher, invert=not (args.no_invert or args.student),
            budget_spent=lambda: budget.limit_usd is not None and budget.spent_usd >= budget.limit_usd,
        )


if __name__ == "__main__":
    sys.exit(main())
