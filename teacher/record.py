"""``python -m teacher.record``: run explorations with a teacher and record every exchange, resumably.

Each query is one session, recorded to ``OUT/sessions/<id>.jsonl`` (the id is derived from the query, so a
resumed run finds its sessions again): a ``session_start`` line, one line per model exchange and per LSP
answer used, and a ``session_end`` line with the exploration once the session is complete. ``--resume``
continues unfinished sessions, answering finished turns from the log; finished sessions are skipped.
After each exploration the teacher is asked for the topic's semantic opposite (``invert_topic``), from which
``converters.rebuild`` builds select_symbols negatives (``--no-invert`` skips it).
``--task X --inputs FILE`` records any single-question task instead (``X`` a name or ``module:Class``; ``FILE``
JSONL of the task's typed inputs), one session per input, with no repository (:mod:`teacher.record_inputs`).
A summary (sessions, turns, failures by reason, tokens, cost, cost per 1,000 examples, wall time) is
printed and written to ``OUT/summary.json``.

A session is finished only when every turn of it succeeded: a turn that failed for good (a 401, a 5xx after
its retries, a connection failure, a language-server timeout) leaves it unfinished, the run exits 1 with one
line saying what failed, and ``--resume`` asks those turns again. One recorder at a time writes an ``--out``
(``OUT/.lock`` holds its PID). Bad flags and files are one line each: exit 2 for usage, 1 for data.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack, ExitStack
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from converters.functiongemma import FunctionGemmaFormatError, check_text
from interpreters.backends import add_backend_flag, add_ollama_flags
from teacher.cli_args import (
    CommandParser,
    Number,
    add_hidden_alias,
    counts,
    dollars,
    positive_int,
    seconds,
)
from teacher.dir_lock import LOCK_NAME
from teacher.explore import Exploration, TeachQuery, add_exploration_flags, explore, module_prefix
from teacher.handlers import Handler
from teacher.interrupt import EXIT_INTERRUPTED, run_interruptible
from teacher.model import ModelBackend
from teacher.operations import OperationFailed
from teacher.record_shared import FailureStreak, Refused, SessionOutcome, jsonl_objects
from teacher.redact import redact, redact_json

__all__ = ["build_teacher", "main", "record", "session_id", "summarise"]

logger = logging.getLogger(__name__)


def session_id(query: TeachQuery) -> str:
    """A stable id for a query: the same query always records to the same session log."""
    return hashlib.sha256(query.model_dump_json().encode("utf-8")).hexdigest()[:16]


def check_query_text(query: TeachQuery, topic: str, seed: str, code: int = 1) -> TeachQuery:
    """``query`` unchanged, or :class:`Refused` (exit ``code``) naming where the text came from (``topic``,
    ``seed``) when its topic or a seed holds a control token of the student's format: such a recording could
    never become training text."""
    try:
        check_text(query.topic, topic)
        for index, name in enumerate(query.seeds):
            check_text(name, seed.format(index=index))
    except FunctionGemmaFormatError as error:
        raise Refused(str(error), code) from None
    return query


def load_queries(path: Path, defaults: dict[str, Any]) -> list[TeachQuery]:
    """Queries from a JSONL file (``{"topic": ..., "seeds": [...]}`` per line); errors name the line and field."""
    queries = []
    for number, entry in jsonl_objects(path, "--queries", "a query"):
        try:
            query = TeachQuery.model_validate({**defaults, **entry})
        except ValidationError as error:
            fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            raise Refused(f"{path}:{number}: {fields}") from None
        queries.append(check_query_text(query, f"{path}:{number}: topic", f"{path}:{number}: seeds[{{index}}]"))
    if not queries:
        raise Refused(f"{path}: no queries")
    return queries


class _Progress:
    """One log line per session as it ends: how many are done, the session's topic, its turns and skips."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self.started = time.perf_counter()

    def session_done(self, label: str, turns: int, skipped: Mapping[str, int]) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.started
        logger.info("[%d/%d sessions, %.1f s] %s: %d turns, skipped %s", self.done, self.total, elapsed, label, turns,
                    counts(skipped))


async def _run_session(
    query: TeachQuery,
    out: Path,
    model: ModelBackend,
    lsp: Handler,
    *,
    resume: bool,
    repo: str,
    teacher: str,
    budget_spent: Callable[[], bool],
    progress: _Progress,
    invert: bool = True,
) -> SessionOutcome:
    from interpreters.recording import RecordedSession
    from interpreters.records import SessionEnd, SessionStart

    sid = session_id(query)
    start = SessionStart(session=sid, query=query.model_dump(mode="json"), repo=repo, teacher=teacher,
                         started=time.time())
    shown = f"{query.topic!r} [{sid}]"  # a session is shown by its topic
    with RecordedSession(out / "sessions" / f"{sid}.jsonl", start, resume=resume) as session:
        path = session.path
        if session.log.set_aside:
            logger.warning("%s: set aside unreadable line(s) %s to %s.torn", path,
                           ", ".join(map(str, session.log.set_aside)), path.name)
        if session.ended is not None:
            progress.session_done(f"{shown} (already finished)", 0, {})
            return SessionOutcome(sid, "already_finished")

        async def program() -> Exploration:
            result = await explore(query, module_prefix=module_prefix(Path(repo)) if repo else "")
            if invert and not budget_spent():
                await _invert_topic(query)
            return result

        result = await session.run(program, model, lsp)
        if result is None:  # a turn failed for good: the session is not finished, and --resume asks it again
            reasons = Counter(reason for reason, _ in session.failures)
            progress.session_done(f"{shown} (not finished: {counts(reasons.most_common())}; --resume retries it)",
                                  session.turns, {})
            return SessionOutcome(sid, "failed", session.failures)
        if budget_spent():
            progress.session_done(f"{shown} (stopped: budget spent; --resume continues it)", session.turns, {})
            return SessionOutcome(sid, "budget")
        session.end(SessionEnd(result=result.model_dump(mode="json")))
        progress.session_done(shown, session.turns, result.skip_counts())
        return SessionOutcome(sid, "finished")


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
    except (TaskOutputError, OperationFailed) as error:
        if error.fatal:
            raise
        # no opposite: the recording says so (a failed or empty turn); negatives fall back to the heuristic
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
    budget_spent: Callable[[], bool] = lambda: False,
    invert: bool = True,
    max_failures: int | None = None,
) -> dict[str, Any]:
    """Record one session per query (``concurrency`` at a time) and return the summary of ``out``.

    ``summary["failed_sessions"]`` counts the sessions of this run left unfinished by turns that failed for good,
    and ``summary["failures_this_run"]`` their reasons, each with one message. After ``max_failures`` sessions in
    a row ended that way (a server that fails every turn), no further session is started:
    ``summary["not_started"]`` counts them."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, not {concurrency}")
    started = time.perf_counter()
    progress = _Progress(len(queries))
    limit = asyncio.Semaphore(concurrency)
    streak = FailureStreak(max_failures)

    async def one(query: TeachQuery) -> SessionOutcome | None:
        async with limit:
            if budget_spent() or streak.stopped:
                return None
            return streak.saw(await _run_session(query, out, model, lsp, resume=resume, repo=repo, teacher=teacher,
                                                 budget_spent=budget_spent, progress=progress, invert=invert))

    outcomes = [o for o in await asyncio.gather(*(one(q) for q in queries)) if o is not None]
    summary = summarise(out)
    summary["wall_time_s"] = round(time.perf_counter() - started, 3)
    summary["stopped_by_budget"] = bool(budget_spent())
    summary["not_started"] = len(queries) - len(outcomes) if streak.stopped else 0
    summary["max_failures"] = max_failures
    add_failures(summary, outcomes)
    write_summary(out, summary)
    return summary


def add_failures(summary: dict[str, Any], outcomes: Sequence[SessionOutcome]) -> None:
    """Set ``failed_sessions`` and ``failures_this_run`` (reason -> turns and one message) from this run's outcomes."""
    failed = [o for o in outcomes if o.state == "failed"]
    reasons: dict[str, dict[str, Any]] = {}
    for outcome in failed:
        for reason, message in outcome.failures:
            entry = reasons.setdefault(reason, {"turns": 0, "message": message})
            entry["turns"] += 1
    summary["failed_sessions"] = len(failed)
    summary["failures_this_run"] = dict(sorted(reasons.items()))


def write_summary(out: Path, summary: dict[str, Any]) -> None:
    """Write ``OUT/summary.json`` (credentials redacted)."""
    from interpreters.recording import LogWriteError

    path = out / "summary.json"
    try:
        path.write_text(json.dumps(redact_json(summary), indent=2), encoding="utf-8")
    except OSError as error:
        raise LogWriteError(error.errno, f"{path}: cannot write: {error.strerror or error}") from None


def summarise(out: Path) -> dict[str, Any]:
    """Totals over every session log under ``out``: sessions, turns, failures by reason, tokens, cost."""
    from interpreters.recording import finishing_end, read_log
    from interpreters.records import ModelTurn

    sessions = finished = turns = failed = 0
    reasons: Counter[str] = Counter()
    tokens: Counter[str] = Counter()
    cost = 0.0
    for path in sorted((out / "sessions").glob("*.jsonl")):
        records, _ = read_log(path)
        sessions += 1
        finished += finishing_end(records) is not None
        for r in records:
            if not isinstance(r, ModelTurn):
                continue
            turns += 1
            if r.error:
                failed += 1
                reasons[r.error.reason or r.error.type] += 1
                continue
            cost += r.cost_usd
            usage = r.response.get("usage") if isinstance(r.response, dict) else None
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
    print(redact(
        f"sessions {summary['sessions_finished']}/{summary['sessions']} finished, turns {summary['turns']} "
        f"({summary['turns_failed']} failed: {counts(summary['failures_by_reason'])}), "
        f"tokens {counts(summary['tokens'], empty='0 (an offline teacher)')}, "
        f"cost ${summary['cost_usd']:.4f} (${summary['cost_per_1000_examples_usd']:.2f} per 1,000 examples), "
        f"wall time {summary['wall_time_s']:.1f} s"
        + (" - stopped: budget spent" if summary["stopped_by_budget"] else "")
    ))


def _report(summary: dict[str, Any]) -> int:
    """Print the summary, and the failure line when sessions were left unfinished; the exit code (1 then)."""
    _print_summary(summary)
    line = failure_line(summary)
    if line:
        print(line, file=sys.stderr)
        return 1
    return 0


def failure_line(summary: dict[str, Any]) -> str | None:
    """One line on the sessions this run left unfinished (None when there are none)."""
    failed = summary.get("failed_sessions") or 0
    if not failed:
        return None
    reasons = summary.get("failures_this_run") or {}
    turns = sum(entry["turns"] for entry in reasons.values())
    detail = "; ".join(f"{reason} x{entry['turns']}: {' '.join(str(entry['message']).split())[:160]}"
                       for reason, entry in reasons.items())
    skipped = summary.get("not_started") or 0
    stopped = (f"; stopped after {summary.get('max_failures')} in a row, {skipped} session(s) not started"
               if skipped else "")
    return redact(f"teacher.record: {failed} session(s) not finished, {turns} turn(s) failed for good ({detail})"
                  f"{stopped}; run again with --resume to retry them")


class _Parser(CommandParser):
    """argparse with its usage errors on one line (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


_THINKING = Number(int, minimum=1024, unit="thinking tokens")  # the API's minimum budget


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m teacher.record", description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, action="append",
                        help="root of the code base to explore (repeatable: each is recorded under OUT/repos/NAME)")
    parser.add_argument("--repos", type=Path,
                        help="file of repositories, one path per line (# comments), each recorded under OUT/repos/NAME")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--topic", help="topic of a single query (with --symbol)")
    what.add_argument("--queries", type=Path,
                      help="JSONL file of queries: {\"topic\": ..., \"seeds\": [...]}; or 'auto': the backend "
                           "proposes them module by module (propose_queries)")
    what.add_argument("--subagent", choices=["lint", "test", "docstring", "sample_data"],
                      help="record a subagent's sessions instead, on --file/--node or --nodes")
    what.add_argument("--inputs", type=Path,
                      help="record --task on these inputs instead: JSONL, one input of the task per line (no --repo)")
    parser.add_argument("--task", help="--inputs: the task asked, a name or module:Class of a task anywhere")
    parser.add_argument("--file", help="--subagent: the repository file to work on")
    parser.add_argument("--node", help="--subagent: the function or class (Class.method) in --file")
    parser.add_argument("--nodes", type=Path, help="--subagent: JSONL of {\"file\": ..., \"node\": ...}")
    parser.add_argument("--symbol", action="append", help="seed symbol for --topic (repeatable)")
    who = parser.add_mutually_exclusive_group(required=True)
    teacher = add_backend_flag(who, "teacher", older=("replay",),
                               help="who answers: heuristic, haiku[:MODEL] (ANTHROPIC_API_KEY), replay[:DIR], or a "
                                    "local model: ollama:NAME, gguf:PATH or hf:DIR")
    student = add_backend_flag(who, "student", only_role=True, older=("gguf", "ollama"),
                               help="record the fine-tuned student instead: ollama[:NAME], gguf:PATH (or llamacpp "
                                    "with --gguf) or hf:DIR")
    parser.add_argument("--gguf", type=Path, help="the student's GGUF (--student llamacpp)")
    add_ollama_flags(parser)
    parser.set_defaults(backend_flags=(teacher, student))
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--concurrency", type=positive_int, default=4, help="sessions and requests at once")
    parser.add_argument("--budget-usd", type=dollars, help="stop cleanly once this much is spent")
    parser.add_argument("--resume", action="store_true", help="continue the sessions already under --out")
    parser.add_argument("--batch", action="store_true", help="send requests as Message Batches (half price)")
    parser.add_argument("--batch-wait", type=seconds, default=2.0, help="quiet seconds before a batch is sent")
    parser.add_argument("--poll-interval", type=seconds, default=10.0, help="seconds between batch status polls")
    parser.add_argument("--model", help="teacher model (unset: a current Haiku); or --teacher haiku:MODEL")
    parser.add_argument("--thinking-tokens", type=_THINKING, help="use extended thinking with this token budget")
    parser.add_argument("--replay-from", type=Path, help="recordings to answer from (--teacher replay; or replay:DIR)")
    parser.add_argument("--timeout", type=seconds, default=60.0,
                        help="seconds per model request, the whole request")
    parser.add_argument("--turn-timeout", type=seconds, default=600.0,
                        help="seconds a turn may take with all its retries and waits")
    add_exploration_flags(parser)
    parser.add_argument("--count", type=positive_int, default=100,
                        help="--queries auto: most queries proposed in all")
    add_hidden_alias(parser, "--query-count", dest="count", type=positive_int)  # the older spelling
    parser.add_argument("--per-module", type=positive_int, default=3,
                        help="--queries auto: topics asked for per module (at most 20)")
    parser.add_argument("--no-invert", action="store_true", help="do not ask the teacher to invert each topic")
    parser.add_argument("--max-failures", type=positive_int, default=3,
                        help="start no further session once this many in a row were left unfinished by turns that "
                             "failed for good (a server failing every turn)")
    return parser


def interrupted_line(out: Path) -> str:
    """What an interrupted recording says last on stderr."""
    return f"teacher.record: interrupted; run again with --resume to continue {out}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    from interpreters.recording import LogWriteError, RecordingError
    from teacher.dir_lock import DirectoryInUse, hold

    try:
        runner = _prepare_inputs(parser, args) if args.inputs is not None else _prepare_repositories(parser, args)
        with ExitStack() as stack:
            for directory in _locked_folders(args):
                try:
                    stack.enter_context(hold(directory))
                except OSError as error:
                    raise Refused(f"--out {directory}: cannot write there: {error.strerror or error}", 2) from None
            return runner()
    except Refused as refused:
        print(redact(f"teacher.record: {refused}"), file=sys.stderr)
        return refused.code
    except DirectoryInUse as error:
        print(f"teacher.record: {error}: wait for it to end, or choose another --out", file=sys.stderr)
        return 2
    except RecordingError as error:  # a session log this code cannot read: FILE:LINE says where
        print(redact(f"teacher.record: {error}"), file=sys.stderr)
        return 1
    except LogWriteError as error:  # the log could not be written (a full disk): names the file
        print(redact(f"teacher.record: {error.strerror}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: every line written so far is kept, and the lock is released
        print(interrupted_line(args.out), file=sys.stderr)
        return EXIT_INTERRUPTED


def _locked_folders(args: argparse.Namespace) -> list[Path]:
    """The folders whose lock this run holds, so that nested ``--out`` folders exclude each other: ``--out``; for a
    run of several repositories each ``OUT/repos/NAME`` too (where its session logs are written); for a run on
    ``OUT/repos/NAME`` the ``OUT`` of a run of several repositories that wrote it (its lock file is there)."""
    folders = [args.out, *getattr(args, "repository_outs", [])]
    if args.out.parent.name == "repos" and (args.out.parent.parent / LOCK_NAME).is_file():
        folders.append(args.out.parent.parent)
    return folders


def _repositories(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[Path]:
    """The repositories of this run: each ``--repo``, then those a ``--repos`` file lists."""
    from teacher.repositories import RepositoryListError, read_repository_list

    repos = list(args.repo or [])
    if args.repos is not None:
        try:
            repos += read_repository_list(args.repos)
        except OSError as error:
            raise Refused(f"--repos {args.repos}: cannot read: {error.strerror or error}", 2) from None
        except UnicodeDecodeError as error:
            raise Refused(f"--repos {args.repos}: not UTF-8 text: {error}", 1) from None
        except RepositoryListError as error:
            raise Refused(str(error), 1) from None
    if not repos:
        parser.error("one of --repo DIR or --repos FILE is required")
    for repo in args.repo or []:
        if not repo.is_dir():
            parser.error(f"--repo {repo} is not a directory")
    resolved = [repo.resolve() for repo in repos]
    repeated = next((repo for index, repo in enumerate(repos) if resolved[index] in resolved[:index]), None)
    if repeated is not None:
        parser.error(f"repository {repeated} is given twice")
    return repos


def _prepare_repositories(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Callable[[], int]:
    """One repository: today's run, recorded at ``OUT``. Several (or ``--repos``): one run per repository under
    ``OUT/repos/NAME``, every one checked before any is run, then the total summary at ``OUT/summary.json``."""
    from teacher.repositories import folder_names, total_summary

    repos = _repositories(parser, args)
    if len(repos) == 1 and args.repos is None:
        args.repo = repos[0]
        return _prepare(parser, args)
    if args.subagent:
        parser.error("--subagent works on one --repo")
    if args.out.exists() and not args.out.is_dir():
        raise Refused(f"--out {args.out} is not a directory", 2)
    runs = []
    for name, repo in zip(folder_names(repos), repos, strict=True):
        each = argparse.Namespace(**vars(args))
        each.repo, each.out = repo, args.out / "repos" / name
        runs.append((name, each, _prepare(parser, each)))
    args.repository_outs = [each.out for _, each, _ in runs]

    def run() -> int:
        code, summaries, spent, stopped = 0, {}, 0.0, False
        for name, each, runner in runs:  # --budget-usd is for the whole run: each gets what is left
            before = summarise(each.out)["cost_usd"]
            if args.budget_usd is not None:
                each.budget_usd = args.budget_usd - spent
                stopped = stopped or each.budget_usd <= 0
            if stopped:
                summaries[name] = {**summarise(each.out), "wall_time_s": 0.0, "stopped_by_budget": True}
                continue
            print(f"repository {name}: {each.repo}", flush=True)
            code = max(code, runner())
            summaries[name] = json.loads((each.out / "summary.json").read_text(encoding="utf-8"))
            spent += summaries[name]["cost_usd"] - before
            stopped = bool(summaries[name]["stopped_by_budget"])
        total = total_summary(summaries, {name: str(each.repo) for name, each, _ in runs})
        write_summary(args.out, total)
        print(f"all {len(runs)} repositories:", flush=True)
        return max(code, _report(total))

    return run


def _prepare(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Callable[[], int]:
    """Check everything the flags name before anything is written; the run, to call while ``--out`` is held."""
    if not args.repo.is_dir():
        parser.error(f"--repo {args.repo} is not a directory")
    if args.out.exists() and not args.out.is_dir():
        raise Refused(f"--out {args.out} is not a directory", 2)
    _choose_backend(parser, args)
    if args.subagent:
        return _prepare_subagent(parser, args)
    defaults = {"budget": args.budget, "max_depth": args.max_depth, "breadth": args.breadth}
    args.defaults = defaults
    if args.per_module > 20:
        parser.error(f"--per-module {args.per_module}: at most 20")
    if args.queries is not None and str(args.queries) == "auto":
        queries: list[TeachQuery] = []  # proposed once the language server runs (_main)
    elif args.queries:
        queries = load_queries(args.queries, defaults)
    else:
        if not args.symbol:
            parser.error("--topic needs at least one --symbol")
        if not all(symbol.strip() for symbol in args.symbol):
            parser.error("--symbol: expected a symbol name, got an empty value")
        try:
            query = TeachQuery(topic=args.topic, seeds=tuple(args.symbol), **defaults)
        except ValidationError as error:
            parser.error("; ".join(f"--{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()))
        queries = [check_query_text(query, "the --topic flag", "--symbol number {index}", code=2)]
    if args.batch and args.teacher != "haiku":
        parser.error("--batch needs --teacher haiku")
    existing = [q for q in queries if (args.out / "sessions" / f"{session_id(q)}.jsonl").exists()]
    if existing and not args.resume:
        raise Refused(f"{args.out} already holds {len(existing)} of these sessions: add --resume to continue them, "
                      "or choose another --out", 2)

    def run() -> int:
        try:
            summary = run_interruptible(_main(args, queries), interrupted_line(args.out))
        except OperationFailed as error:
            if not error.fatal:
                raise
            raise Refused(str(error), 2) from None  # e.g. the student's server is down
        return _report(summary)

    return run


def _prepare_inputs(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Callable[[], int]:
    """``--task X --inputs FILE``: one session per input of any single-question task, no repository needed."""
    from tasks.registry import TaskNotFound, resolve_task
    from teacher.record_inputs import input_session_id, load_inputs, single_question_problem

    if not args.task:
        parser.error("--inputs needs --task NAME or --task module:Class")
    try:
        task = resolve_task(args.task)
    except TaskNotFound as error:
        parser.error(f"--task: {error}")
    problem = single_question_problem(task)
    if problem is not None:
        parser.error(f"--task {args.task}: {problem}")
    if args.repo or args.repos:
        parser.error("--inputs records without a repository: give no --repo or --repos")
    if args.out.exists() and not args.out.is_dir():
        raise Refused(f"--out {args.out} is not a directory", 2)
    _choose_backend(parser, args)
    if args.batch:
        parser.error("--inputs asks one question per session: no --batch")
    inputs = load_inputs(args.inputs, task)
    existing = [i for i in inputs if (args.out / "sessions" / f"{input_session_id(task, i)}.jsonl").exists()]
    if existing and not args.resume:
        raise Refused(f"{args.out} already holds {len(existing)} of these sessions: add --resume to continue them, "
                      "or choose another --out", 2)

    def run() -> int:
        from interpreters.anthropic import Budget
        from teacher.record_inputs import record_inputs

        budget = Budget(args.budget_usd)
        started = time.perf_counter()

        async def go() -> list[SessionOutcome]:
            model = build_teacher(args, budget)
            try:
                return await record_inputs(task, inputs, args.out, model, concurrency=args.concurrency,
                                           resume=args.resume, teacher=args.teacher, source=str(args.inputs),
                                           budget_spent=lambda: budget.spent, max_failures=args.max_failures)
            finally:
                await _close(model)

        try:
            outcomes = run_interruptible(go(), interrupted_line(args.out))
        except OperationFailed as error:
            if not error.fatal:
                raise
            raise Refused(str(error), 2) from None  # e.g. the student's server is down
        summary = summarise(args.out)
        summary["wall_time_s"] = round(time.perf_counter() - started, 3)
        summary["stopped_by_budget"] = bool(budget.spent)
        summary["not_started"], summary["max_failures"] = len(inputs) - len(outcomes), args.max_failures
        add_failures(summary, outcomes)
        write_summary(args.out, summary)
        return _report(summary)

    return run


def _prepare_subagent(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Callable[[], int]:
    from teacher.record_subagents import (
        BadNode,
        SubagentNode,
        check_node,
        load_nodes,
        record_subagents,
        subagent_session_id,
    )

    if args.nodes:
        try:
            nodes = load_nodes(args.nodes, args.repo)
        except OSError as error:
            raise Refused(f"--nodes {args.nodes}: cannot read: {error.strerror or error}", 2) from None
        except SystemExit as error:  # FILE:LINE: field: problem
            raise Refused(str(error.code), 1) from None
    elif args.file and args.node:
        nodes = [SubagentNode(file=args.file, node=args.node)]
        try:
            check_node(args.repo, nodes[0])
        except BadNode as error:
            flag = {"file": f"--file {args.file}", "node": f"--node {args.node}"}[error.field]
            raise Refused(f"{flag}: {error}", 2) from None
    else:
        parser.error("--subagent needs --file and --node, or --nodes FILE")
    if args.teacher == "heuristic":
        parser.error("--subagent needs a model that can call tools: --teacher haiku or replay, or a --student")
    if args.batch or args.thinking_tokens:
        parser.error("--subagent runs turn by turn: no --batch, and no --thinking-tokens (thinking blocks would "
                     "have to be sent back with each turn)")
    existing = [n for n in nodes if (args.out / "sessions" / f"{subagent_session_id(args.subagent, n)}.jsonl").exists()]
    if existing and not args.resume:
        raise Refused(f"{args.out} already holds {len(existing)} of these sessions: add --resume", 2)

    def run() -> int:
        from interpreters.anthropic import Budget

        model = build_teacher(args, Budget(args.budget_usd))
        started = time.perf_counter()

        async def go() -> list[SessionOutcome]:
            try:
                return await record_subagents(args.subagent, nodes, args.repo, args.out, model, resume=args.resume,
                                              max_failures=args.max_failures)
            finally:
                await _close(model)

        try:
            outcomes = asyncio.run(go())
        except OperationFailed as error:  # only a fatal failure gets here, e.g. the student's server is down
            raise Refused(str(error), 2) from None
        summary = summarise(args.out)
        summary["wall_time_s"] = round(time.perf_counter() - started, 3)
        summary["stopped_by_budget"] = False
        summary["not_started"], summary["max_failures"] = len(nodes) - len(outcomes), args.max_failures
        add_failures(summary, outcomes)
        write_summary(args.out, summary)
        return _report(summary)

    return run


async def _close(model: ModelBackend) -> None:
    """Close a backend's connections, if it holds any, before the event loop ends."""
    close = getattr(model, "aclose", None)
    if close is not None:
        await close()


#: the teachers recorded under their kind alone; any other teacher is recorded as its spec (which model taught)
_TEACHERS = ("heuristic", "haiku", "replay")
_STUDENT_LABELS = {"ollama": "student-ollama", "gguf": "student-llamacpp", "hf": "student-hf"}


def _choose_backend(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Turn ``--teacher``/``--student`` (a spec, or an older word with ``--gguf``, ``--replay-from``,
    ``--model``) into ``args.spec``; ``args.teacher`` becomes the label recorded in the summary and each
    session's start: the kind of a heuristic, haiku or replay teacher, the spec of any other (``gguf:PATH``,
    ``ollama:NAME``: which model taught). Refuses a spec that cannot work before anything is written (an
    unknown backend, a missing GGUF or API key)."""
    from interpreters.backends import MissingCredential, check_credentials

    teacher, student = args.backend_flags
    flag, text = ("--student", args.student) if args.student else ("--teacher", args.teacher)
    spec = (student if args.student else teacher).spec(parser, args, replay_from=args.replay_from, model=args.model)
    assert spec is not None  # one of the two is required
    if spec.kind == "haiku" and args.model and spec.value != args.model:
        parser.error(f"--teacher {text} and --model {args.model} name two models: give one")
    if spec.kind == "haiku" and spec.value:
        from interpreters.anthropic import PRICES

        if spec.value not in PRICES:
            named = f"--model {args.model}" if args.model else f"--teacher {text}"
            parser.error(f"{named}: no price is known for it; known: {', '.join(PRICES)}")
    if spec.kind == "gguf" and not Path(spec.value).is_file():
        parser.error(f"{flag} {text} needs --gguf PATH of an existing GGUF (got {spec.value})")
    try:
        check_credentials(spec)
    except MissingCredential as error:
        raise Refused(f"{flag} {text}: {error}", 2) from None
    if spec.kind == "replay":
        args.replay_from = Path(spec.value)
    if spec.kind == "gguf":
        spec = type(spec)("gguf", str(Path(spec.value).resolve()))
    args.spec = spec
    if args.student:
        args.teacher = _STUDENT_LABELS[spec.kind]
    else:
        args.teacher = spec.kind if spec.kind in _TEACHERS else str(spec)


def build_teacher(args: argparse.Namespace, budget: Any) -> ModelBackend:
    """The model this run records, whatever its kind, built by its row of the backend table
    (:func:`interpreters.backends.build_backend` on ``args.spec``) and offered this command's options, of which each
    kind takes those its row lists. ``replay:DIR`` reads the recordings under ``DIR`` once: the
    :class:`~interpreters.replay.Replay` keeps their LSP lines (``lsp_answers``) for the language server's replay.
    ``--batch`` offers :class:`~interpreters.anthropic_batch.BatchOptions` as the option ``batch``, which the haiku
    row takes (its builder sends the teacher's requests as Message Batches)."""
    from interpreters.anthropic_batch import BatchOptions
    from interpreters.backends import build_backend

    batch = (BatchOptions(args.out / "batches.jsonl", wait=args.batch_wait, poll_interval=args.poll_interval)
             if args.batch else None)
    offered = {"concurrency": args.concurrency, "budget": budget, "thinking_tokens": args.thinking_tokens,
               "timeout": args.timeout, "turn_timeout": args.turn_timeout, "host": args.ollama_host, "batch": batch}
    try:
        return build_backend(args.spec, offered)
    except FileNotFoundError as error:  # replay:DIR with no recordings there
        if args.spec.kind != "replay":
            raise
        raise Refused(f"--replay-from {error}", 2) from None


async def _proposed(args: argparse.Namespace, model: ModelBackend, lsp: Handler) -> list[TeachQuery]:
    """--queries auto: the queries the backend proposes for the repository, each checked like a written one."""
    from teacher.propose import propose_all

    try:
        proposed = await propose_all(
            args.repo, args.out, model, lsp, prefix=module_prefix(args.repo), count=args.count,
            per_module=args.per_module, defaults=args.defaults, resume=args.resume,
        )
    except FileExistsError as error:
        raise Refused(str(error), 2) from None
    kept = []
    for query in proposed:
        try:
            kept.append(check_query_text(query, "a proposed topic", "a proposed seed"))
        except Refused as refused:
            print(redact(f"teacher.record: proposed query left out: {refused}"), file=sys.stderr)
    return kept


async def _main(args: argparse.Namespace, queries: list[TeachQuery]) -> dict[str, Any]:
    from interpreters.anthropic import Budget
    from interpreters.lsp import LspServer
    from interpreters.lsp_replay import LspReplay
    from interpreters.replay import Replay

    budget = Budget(args.budget_usd)
    async with AsyncExitStack() as stack:
        model = build_teacher(args, budget)
        stack.push_async_callback(_close, model)
        lsp: Handler
        if isinstance(model, Replay):  # the recordings answer the language server too
            lsp = LspReplay(model.lsp_answers)
        else:
            lsp = await stack.enter_async_context(LspServer(args.repo))
        if args.queries is not None and str(args.queries) == "auto":
            queries = await _proposed(args, model, lsp)
        return await record(
            queries, args.out, model, lsp, concurrency=args.concurrency, resume=args.resume,
            repo=str(args.repo), teacher=args.teacher, invert=not (args.no_invert or args.student),
            budget_spent=lambda: budget.spent, max_failures=args.max_failures,
        )


if __name__ == "__main__":
    sys.exit(main())
