"""``python -m converters.rebuild``: turn recordings into training data, offline, as often as wanted.

Reads session logs (files or directories of ``*.jsonl``), keeps the answered model turns of the chosen tasks,
converts each through its task (``to_examples``), drops degenerate (``drop_reason``) and duplicate examples, adds
each task's ``negatives``, splits train/eval grouped by the tasks' ``split_keys`` so that no symbol (or topic)
straddles the two (``--group-by repo``: no recorded repository; a session whose ``session_start`` names a
``split``, such as a generator's fixed eval set, goes there whole unless ``--split 1`` asks for no eval set),
and writes ``train.jsonl``, ``eval.jsonl`` and ``stats.json`` in one of three shapes (``text``, ``messages``,
``prompt-completion``) for one codec profile. No model is called.

``stats.json`` also says what the data teaches (:mod:`converters.field_stats`): per task and split, the
distribution of each decision field of the written answers (``fields``), and every field where one value covers
95% or more of a task's lines (``skewed_fields``), which the rebuild also logs as a warning naming the task and
the field.

Memory: records stream through; what is kept is the de-duplication set, the symbol/topic groups and a
length histogram. Order: examples are bucketed by a seeded hash and each bucket sorted, so the same inputs
and seed give byte-identical files.
"""

from __future__ import annotations

import gc
import logging
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import ValidationError

from converters.dataset_stats import DatasetStats, write_stats
from converters.examples import prompt_completion
from converters.field_stats import DecisionValue, FieldCounts, decision_values
from converters.functiongemma import BOS, CONTROL_TOKENS, PROFILES, Profile, ToolCall, render_prompt
from converters.schema import portable_row
from converters.writer import DatasetWriter, SplitGroups, exact_key, loose_key, order_key
from interpreters.records import ModelTurn, SessionStart, read_lines
from tasks.registry import TASKS, TaskNotFound, resolve_task
from teacher.cli_args import (
    CommandParser,
    Number,
    counts,
    output_problem,
    seed,
    workers,
)
from teacher.errors import FineTrainingError
from teacher.task import (
    DropsTurns,
    GivesCounterparts,
    HasExampleConversations,
    HasNegatives,
    JoinsSplitKeys,
    TaskOutputError,
    Turn,
    split_keys,
    topic_key,
)

__all__ = ["Options", "RebuildStats", "main", "reasoning_comment", "rebuild"]

Format = Literal["text", "messages", "prompt-completion"]
Reasoning = Literal["none", "comment"]
Negatives = Literal["none", "heuristic", "teacher", "both"]
GroupBy = Literal["auto", "symbol", "repo"]
COMMENT_LIMIT = 160
_SPACE = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")
_CONTROL = re.compile("|".join(re.escape(t) for t in CONTROL_TOKENS))

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Options:
    """What to build."""

    out: Path
    tasks: frozenset[str] | None = None
    format: Format = "text"
    profile: Profile = "hf"
    reasoning: Reasoning = "none"
    split: float = 0.9
    seed: int = 0
    strict: bool = False
    negatives: Negatives = "both"
    tokenizer: str | None = None
    #: add ``task`` and ``input`` to every line (what ``finetune eval`` needs for schema checks and baselines)
    with_inputs: bool = False
    #: keep the rendered ``<bos>`` in ``text`` and ``prompt-completion`` lines (off: the tokenizer adds the one BOS)
    bos: bool = False
    #: what stays on one side of the split: ``symbol`` (a symbol or topic), ``repo`` (a recorded repository, from
    #: each session's ``session_start``), or ``auto`` (by repository when the recordings hold several)
    group_by: GroupBy = "auto"
    #: held-out repositories (by folder name or path): their sessions go to eval whole and every other recorded
    #: repository's to train, so that eval is code the student never saw (implies grouping by repository)
    eval_repos: frozenset[str] = frozenset()


@dataclass
class RebuildStats:
    """Counts of everything that happened, written to ``stats.json``."""

    lines: int = 0
    turns: int = 0
    examples: Counter[str] = field(default_factory=Counter)  # "task/split"
    dropped: Counter[str] = field(default_factory=Counter)
    negatives: Counter[str] = field(default_factory=Counter)
    lengths: Counter[int] = field(default_factory=Counter)
    topic_leaks: int = 0
    groups: int = 0
    grouped_by: str = "symbol"
    #: the distribution of the written answers' decision fields, per task and split
    fields: FieldCounts = field(default_factory=FieldCounts)

    def percentiles(self) -> dict[str, int]:
        """Length percentiles (p50, p90, p99, max) from the histogram."""
        total = sum(self.lengths.values())
        if not total:
            return {}
        wanted = {"p50": 0.5, "p90": 0.9, "p99": 0.99, "max": 1.0}
        found: dict[str, int] = {}
        seen = 0
        for length in sorted(self.lengths):
            seen += self.lengths[length]
            for name, fraction in wanted.items():
                if name not in found and seen >= fraction * total:
                    found[name] = length
        return found


class MalformedRecord(ValueError, FineTrainingError):
    """A recording line that cannot be read; the message names the file, line and field."""


def reasoning_comment(reasoning: str) -> str:
    """The teacher's reasoning as a short comment: its first sentence, one line, at most 160 characters."""
    text = _SPACE.sub(" ", _CONTROL.sub(" ", reasoning)).strip()
    if not text:
        return ""
    text = _SENTENCE_END.split(text, maxsplit=1)[0]
    if len(text) > COMMENT_LIMIT:
        text = text[: COMMENT_LIMIT - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return text


def session_start_of(path: Path) -> SessionStart:
    """A session log's ``session_start`` line, or an empty one when it has none (or none that reads)."""
    for read in read_lines(path, fast=True, needles=(b'"session_start"',), kinds=("session_start",)):
        if isinstance(read.line, SessionStart):  # a line that does not read is reported by the conversion pass
            return read.line
    return SessionStart()


def repository_of(path: Path) -> str:
    """The repository a session log was recorded on (its ``session_start``'s ``repo``), or '' when it names none."""
    return (session_start_of(path).repo or "").rstrip("/")


def fixed_split_of(path: Path) -> str:
    """The split a session log's examples all belong to (its ``session_start``'s ``split``), or '' (grouped)."""
    return session_start_of(path).split or ""


def repository_keys(files: Sequence[Path], group_by: GroupBy) -> tuple[dict[Path, str], str]:
    """Each file's repository key when the split is grouped by repository (``auto``: when the files name two or
    more), else none; and the grouping used (``repo`` or ``symbol``). A file naming no repository keeps the
    symbol grouping."""
    if group_by == "symbol":
        return {}, "symbol"
    repos = {file: repository_of(file) for file in files}
    if group_by == "auto" and len({repo for repo in repos.values() if repo}) < 2:
        return {}, "symbol"
    return repos, "repo"


def held_out(repo: str, eval_repos: frozenset[str]) -> bool:
    """Whether a recorded repository (its path as the session names it) is one of the held-out ``eval_repos``,
    named by folder name or by path."""
    return bool(repo) and (repo in eval_repos or Path(repo).name in eval_repos)


def repository_splits(repos: dict[Path, str], eval_repos: frozenset[str]) -> dict[Path, str]:
    """With held-out repositories: each file's fixed split (``eval`` for theirs, ``train`` for every other named
    repository; a file naming none is left to its own grouping). Raises :class:`MalformedRecord` naming a held-out
    repository no recording names."""
    if not eval_repos:
        return {}
    missing = sorted(name for name in eval_repos if not any(held_out(repo, frozenset({name}))
                                                            for repo in repos.values()))
    if missing:
        known = sorted({Path(repo).name for repo in repos.values() if repo})
        raise MalformedRecord(f"held-out repository {', '.join(missing)} is in no recording "
                              f"(recorded: {', '.join(known) or 'none'})")
    return {file: "eval" if held_out(repo, eval_repos) else "train" for file, repo in repos.items() if repo}


def recording_files(paths: Sequence[Path]) -> list[Path]:
    """The session logs at ``paths`` (files, or directories searched for ``*.jsonl``), in a stable order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(p for p in sorted(path.rglob("*.jsonl")) if p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"no recordings at {path}")
    return files


def _malformed(where: str, problem: str, stats: RebuildStats, strict: bool) -> None:
    stats.dropped["malformed_line"] += 1
    message = f"{where}: {problem}"
    if strict:
        raise MalformedRecord(message)
    logger.warning("converters.rebuild: %s; skipped", message)


def validation_problem(field: str, error: ValidationError) -> str:
    """A pydantic error in one line: the first problem, the field path it is at, and how many more there are."""
    first = error.errors()[0]
    where = ".".join([field, *(str(part) for part in first["loc"])])
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"field '{where}': {first['msg']}{more}"


def _turn(where: str, record: ModelTurn, options: Options, stats: RebuildStats) -> Turn[Any] | None:
    """The turn of an answered model line of a selected task, or None (counted) when it is not one."""
    stats.turns += 1
    if record.error is not None:
        stats.dropped["failed_turn"] += 1
        return None
    if options.tasks is not None and record.task not in options.tasks:
        stats.dropped["other_task"] += 1
        return None
    task = TASKS.get(record.task)
    if task is None:
        stats.dropped["unknown_task"] += 1
        return None
    missing = "input" if record.input is None else "calls" if record.calls is None else None
    if missing is not None:
        _malformed(where, f"field '{missing}' is missing", stats, options.strict)
        return None
    try:
        input = task.input_model.model_validate(record.input)
    except ValidationError as error:
        _malformed(where, validation_problem("input", error), stats, options.strict)
        return None
    calls = tuple(ToolCall(c.name, c.arguments) for c in record.calls or ())
    return Turn(task=record.task, input=input, calls=calls, reasoning=record.reasoning)


_TOKENIZERS: dict[str, Any] = {}


def _load_tokenizer(name: str) -> Any:
    if name not in _TOKENIZERS:
        try:
            from transformers import AutoTokenizer  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            raise SystemExit("--tokenizer needs the finetune extra: pip install -e '.[finetune]'") from None
        _TOKENIZERS[name] = AutoTokenizer.from_pretrained(name, local_files_only=True)
    return _TOKENIZERS[name]


def render_line(
    conversation: dict[str, Any], options: Options, meta: dict[str, Any] | None = None
) -> tuple[bytes, str]:
    """One JSONL line (without newline) for an example in the chosen format, and its full FunctionGemma text.

    Lines load with ``datasets`` (``tools`` and ``input`` as JSON strings, :func:`converters.schema.portable_row`);
    ``text`` and ``prompt`` start without ``<bos>`` unless ``options.bos`` asks for it."""
    messages, tools = conversation["messages"], conversation["tools"]
    extra = portable_row(meta or {})
    if options.format == "messages":
        full = render_prompt(messages, tools, profile=options.profile, add_generation_prompt=False)
        return orjson.dumps(portable_row({"messages": messages, "tools": tools, **extra})), full
    prompt, completion = prompt_completion(messages, tools, options.profile)
    if not options.bos:
        prompt = prompt.removeprefix(BOS)
    if options.format == "text":
        return orjson.dumps({"text": prompt + completion, **extra}), prompt + completion
    return orjson.dumps({"prompt": prompt, "completion": completion, **extra}), prompt + completion


def _with_comment(conversation: dict[str, Any], reasoning: str) -> dict[str, Any]:
    comment = reasoning_comment(reasoning)
    if not comment:
        return conversation
    *before, answer = conversation["messages"]
    return {**conversation, "messages": [*before, {**answer, "content": comment}]}


def _conversations(turn: Turn[Any], options: Options, stats: RebuildStats) -> list[dict[str, Any]]:
    """The examples of a turn as plain data: validated by pydantic for ``messages``, else the task's fast path."""
    task = TASKS[turn.task]
    try:
        if options.format != "messages" and isinstance(task, HasExampleConversations):
            conversations = task.example_conversations(turn)
        else:
            conversations = [e.model_dump(exclude_none=True) for e in task.to_examples(turn)]
    except TaskOutputError:
        stats.dropped["invalid_answer"] += 1
        return []
    if not conversations:
        stats.dropped["no_example"] += 1
    if options.reasoning == "comment":
        conversations = [_with_comment(c, turn.reasoning) for c in conversations]
    return conversations


_SOURCES: dict[Negatives, frozenset[str]] = {
    "none": frozenset(), "heuristic": frozenset({"heuristic"}), "teacher": frozenset({"teacher"}),
    "both": frozenset({"heuristic", "teacher"}),
}


def _examples(turn: Turn[Any], options: Options, stats: RebuildStats) -> tuple[list[dict[str, Any]], int]:
    """The examples of a turn its task does not call degenerate, and how many topic leaks they carry."""
    task = TASKS[turn.task]
    if not isinstance(task, DropsTurns):
        return _conversations(turn, options, stats), 0
    reason = task.drop_reason(turn)
    if reason is not None:
        stats.dropped[reason] += 1
        return [], 0
    return _conversations(turn, options, stats), task.leaks(turn)


# One converted example, as a plain tuple (cheap to send between processes): task, split, the seeded order key
# (16 hex digits) followed by the JSON line, exact and whitespace-normalised digests, length, "" or where a
# negative's inverted topic came from, and the answer's decision values.
_Item = tuple[str, str, bytes, bytes, bytes, int, str, tuple[DecisionValue, ...]]


@dataclass
class _Converted:
    items: list[_Item]
    stats: RebuildStats
    topic_leaks: int
    groups: set[str]


def _convert_file(job: tuple[Path, Options, dict[str, str], dict[str, str], str, str]) -> _Converted:
    """Everything one session log yields (runs in a worker process)."""
    gc.disable()  # many short-lived objects and no cycles: the collector's passes cost more than they free
    try:
        return _convert(*job)
    finally:
        gc.enable()


def _convert(
    path: Path, options: Options, counterparts: dict[str, str], parents: dict[str, str], repo: str = "",
    fixed: str = "",
) -> _Converted:
    groups = SplitGroups()
    groups.parent = parents
    stats, items, topic_leaks = RebuildStats(), [], 0
    sources = _SOURCES[options.negatives]
    tokenizer = _load_tokenizer(options.tokenizer) if options.tokenizer else None
    split_of: dict[str, str] = {}
    roots: set[str] = set()
    seed_prefix = f"{options.seed}:".encode()
    for read in read_lines(path, fast=True, kinds=("model",), keyed=False):  # only model lines are converted
        stats.lines += 1
        number = read.number
        if read.error is not None:
            _malformed(f"{path}:{number}", read.error.words(), stats, options.strict)
            continue
        if not isinstance(read.line, ModelTurn):
            continue
        turn = _turn(f"{path}:{number}", read.line, options, stats)
        if turn is None:
            continue
        task = TASKS[turn.task]
        root = f"repo:{repo}" if repo else groups.root(split_keys(task, turn.input, turn.calls))
        if root not in split_of:
            split_of[root] = "eval" if root and groups.is_eval(root, options.seed, options.split) else "train"
            if root:
                roots.add(root)
        # --split 1: no eval set at all, unless repositories are held out by name
        split = fixed if fixed and (options.split < 1 or options.eval_repos) else split_of[root]
        try:  # a value the format cannot carry (a control token in a topic, say) spoils this line alone
            examples, leaks = _examples(turn, options, stats)
            topic_leaks += leaks
            made = [(e, "", turn) for e in examples]
            if made and sources and isinstance(task, HasNegatives):
                for negative, source in task.negatives(turn, counterparts, sources):
                    made += [(e, source, negative) for e in _conversations(negative, options, stats)]
            rendered = [(render_line(e, options, _meta(of, options)), source, _decisions(of))
                        for e, source, of in made]
        except (ValueError, TypeError, RecursionError) as error:
            problem = f"field 'input' or 'calls' cannot be written as FunctionGemma: {str(error)[:200]}"
            _malformed(f"{path}:{number}", problem, stats, options.strict)
            continue
        for (line, text), source, decisions in rendered:
            length = len(tokenizer(text, add_special_tokens=False)["input_ids"]) if tokenizer else len(text)
            exact = exact_key(line)
            loose = loose_key(line, exact)  # the same line once runs of spaces are collapsed
            order = order_key(seed_prefix, exact)
            items.append((turn.task, split, order + line, exact, loose, length, source, decisions))
    return _Converted(items=items, stats=stats, topic_leaks=topic_leaks, groups=roots)


def _decisions(turn: Turn[Any]) -> tuple[DecisionValue, ...]:
    """The decision values of the answer a line teaches (the turn's first call)."""
    return decision_values(TASKS[turn.task], turn.input, turn.calls[0]) if turn.calls else ()


def _meta(turn: Turn[Any], options: Options) -> dict[str, Any] | None:
    return {"task": turn.task, "input": turn.input.model_dump(mode="json")} if options.with_inputs else None


def _scan_counterparts(files: Sequence[Path]) -> tuple[dict[str, str], SplitGroups]:
    """The recorded counterparts (a topic and the teacher's opposite of it, say: the tasks' ``counterpart``) and
    the groups joining the two texts of each, and the several split keys of one example of a task that
    ``joins_split_keys``."""
    counterparts: dict[str, str] = {}
    groups = SplitGroups()
    pairing = {name: task for name, task in TASKS.items() if isinstance(task, GivesCounterparts) or _joins(task)}
    needles = [orjson.dumps(name) for name in pairing]
    if not needles:
        return counterparts, groups
    for file in files:
        for read in read_lines(file, fast=True, needles=needles, kinds=("model",), keyed=False):
            record = read.line  # a line that does not read is reported by the conversion pass
            if not isinstance(record, ModelTurn) or record.error is not None:
                continue
            task = pairing.get(record.task)
            if task is None or not record.calls:
                continue
            try:
                turn = Turn(task=task.name, input=task.input_model.model_validate(record.input),
                            calls=tuple(ToolCall(c.name, c.arguments) for c in record.calls))
            except ValueError:
                continue  # reported by the conversion pass
            if _joins(task):
                groups.join(split_keys(task, turn.input, turn.calls))
            pair = task.counterpart(turn) if isinstance(task, GivesCounterparts) else None
            if pair is not None and pair[0]:
                counterparts.setdefault(*pair)
                groups.join([topic_key(pair[0]), topic_key(pair[1])])
    return counterparts, groups


def _joins(task: Any) -> bool:
    """Whether the several split keys of one example of a task join their groups (:class:`JoinsSplitKeys`)."""
    return isinstance(task, JoinsSplitKeys) and task.joins_split_keys


def rebuild(paths: Sequence[Path], options: Options, workers: int = 1) -> RebuildStats:
    """Build the dataset under ``options.out`` from the recordings at ``paths``; returns the statistics. Progress
    (every 100 files) is logged at INFO."""
    files = recording_files(paths)
    options.out.mkdir(parents=True, exist_ok=True)
    counterparts, groups = _scan_counterparts(files)
    stats = RebuildStats()
    roots: set[str] = set()
    repos, stats.grouped_by = repository_keys(files, "repo" if options.eval_repos else options.group_by)
    held = repository_splits(repos, options.eval_repos)
    jobs = [(file, options, counterparts, groups.parent, repos.get(file, ""), held.get(file) or fixed_split_of(file))
            for file in files]
    started = time.perf_counter()
    collecting = gc.isenabled()
    gc.disable()  # the de-duplication sets are large and hold no cycles: spare them the collector's passes
    try:
        _write(jobs, options, stats, roots, workers, started)
    finally:
        if collecting:
            gc.enable()
    stats.groups = len(roots)
    for skew in stats.fields.skewed():
        logger.warning("converters.rebuild: %s", skew.message())
    write_stats(options.out, DatasetStats.model_validate(stats_dict(stats, options)))
    return stats


def _write(
    jobs: list[tuple[Path, Options, dict[str, str], dict[str, str], str, str]],
    options: Options,
    stats: RebuildStats,
    roots: set[str],
    workers: int,
    started: float,
) -> None:
    with DatasetWriter(options.out) as writer, ExitStack() as stack:
        pool = stack.enter_context(ProcessPoolExecutor(workers)) if workers > 1 and len(jobs) > 1 else None
        results = pool.map(_convert_file, jobs, chunksize=4) if pool is not None else map(_convert_file, jobs)
        examples: dict[tuple[str, str], int] = {}
        lengths: dict[int, int] = {}
        negatives: dict[str, int] = {}
        for done, converted in enumerate(results, start=1):
            _merge(stats, converted.stats)
            stats.topic_leaks += converted.topic_leaks
            roots |= converted.groups
            for task, split, line, exact, loose, length, negative, decisions in converted.items:
                if not writer.add(split, line[16:], line[:16], exact, loose):
                    continue
                examples[task, split] = examples.get((task, split), 0) + 1
                stats.fields.add(task, split, decisions)
                lengths[length] = lengths.get(length, 0) + 1
                if negative:
                    negatives[negative] = negatives.get(negative, 0) + 1
            if (done % 100 == 0 or done == len(jobs)) and len(jobs) > 1:
                rate = stats.turns / max(1e-9, time.perf_counter() - started)
                logger.info("%d/%d files, %d turns (%s/s)", done, len(jobs), stats.turns, f"{rate:,.0f}")
        stats.examples.update({f"{task}/{split}": n for (task, split), n in examples.items()})
        stats.lengths.update(lengths)
        stats.negatives.update(negatives)
        stats.dropped.update(writer.duplicates)


def _merge(total: RebuildStats, part: RebuildStats) -> None:
    total.lines += part.lines
    total.turns += part.turns
    total.dropped.update(part.dropped)


def stats_dict(stats: RebuildStats, options: Options) -> dict[str, Any]:
    """The statistics as written to ``stats.json``."""
    per_task: dict[str, dict[str, int]] = {}
    for key, count in sorted(stats.examples.items()):
        task, split = key.split("/")
        per_task.setdefault(task, {"train": 0, "eval": 0})[split] = count
    return {
        "format": options.format,
        "profile": options.profile,
        "reasoning": options.reasoning,
        "split": options.split,
        "seed": options.seed,
        "lines_read": stats.lines,
        "turns": stats.turns,
        "examples": per_task,
        "train": sum(v["train"] for v in per_task.values()),
        "eval": sum(v["eval"] for v in per_task.values()),
        "dropped": dict(sorted(stats.dropped.items())),
        "negatives": dict(sorted(stats.negatives.items())),
        "topic_leaks": stats.topic_leaks,
        "groups": stats.groups,
        "grouped_by": stats.grouped_by,
        "eval_repos": sorted(options.eval_repos),
        "length_unit": "tokens" if options.tokenizer else "characters",
        "length_percentiles": stats.percentiles(),
        **stats.fields.summary(),
    }


def empty_eval_problem(summary: dict[str, Any]) -> str | None:
    """Why the eval split is empty and what to do, for a ``stats.json`` summary whose eval split is empty and
    whose ``--split`` asked for one (None otherwise). Groups go to eval by a seeded hash, so few groups can
    all land in train."""
    if summary["eval"] or summary["split"] >= 1:
        return None
    groups, split = summary["groups"], summary["split"]
    if groups < 2:
        cause = f"all examples are about {groups} group (symbol or topic), and a group is never split"
    else:
        cause = f"all {groups} groups (symbols or topics) fell in train (--split {split:g}, --seed {summary['seed']})"
    return (f"the eval split is empty: {cause}; record more topics or symbols, or rebuild with a lower --split "
            "or another --seed")


def _print_summary(summary: dict[str, Any]) -> None:
    print(f"examples: train {summary['train']}, eval {summary['eval']} from {summary['turns']} turns")
    problem = empty_eval_problem(summary)
    if problem is not None:
        print(f"warning: {problem}")
    for task, split in summary["examples"].items():
        print(f"  {task}: train {split['train']}, eval {split['eval']}")
    print(f"dropped: {counts(summary['dropped'])}")
    print(f"negatives: {counts(summary['negatives'])}; topic leaks: {summary['topic_leaks']}")
    print(f"length ({summary['length_unit']}): {counts(summary['length_percentiles'])}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = CommandParser(prog="python -m converters.rebuild", description=__doc__.splitlines()[0])
    parser.add_argument("recordings", nargs="+", type=Path, metavar="RECORDINGS", help="session logs or directories")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--task", action="append",
                        help="only this task (repeatable; default all): a name, or module:Class of a task anywhere")
    parser.add_argument("--format", choices=["text", "messages", "prompt-completion"], default="text",
                        help="the dataset's line shape")
    parser.add_argument("--profile", choices=PROFILES, default="hf", help="codec profile")
    parser.add_argument("--reasoning", choices=["none", "comment"], default="none",
                        help="keep the teacher's reasoning as a short comment before the call")
    parser.add_argument("--split", type=Number(float, minimum=0, maximum=1, open_minimum=True), default=0.9,
                        help="fraction of groups in train, in (0, 1]")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the split and the order")
    parser.add_argument("--negatives", choices=["none", "heuristic", "teacher", "both"], default="both",
                        help="the tasks' negatives from recorded counterparts (the teacher's) and/or the heuristic")
    parser.add_argument("--tokenizer", help="count lengths in tokens with this local tokenizer directory")
    parser.add_argument("--strict", action="store_true", help="a malformed line is fatal")
    parser.add_argument("--with-inputs", action="store_true",
                        help="add each example's task and typed input to its line (for finetune eval)")
    parser.add_argument("--bos", action="store_true",
                        help="start text and prompt lines with a literal <bos> (unset: none; the tokenizer adds it)")
    parser.add_argument("--group-by", choices=["auto", "symbol", "repo"], default="auto",
                        help="keep each symbol (or topic) or each recorded repository on one side of the split "
                             "(auto: by repository when the recordings hold several)")
    parser.add_argument("--eval-repo", action="append", metavar="NAME",
                        help="hold this recorded repository out (folder name or path; repeatable): its sessions "
                             "are the eval split, every other repository's are trained on")
    parser.add_argument("--workers", type=workers, default=os.cpu_count() or 1,
                        help="processes converting session logs (one per core here; output is the same)")
    args = parser.parse_args(argv)
    unknown = {text for text in args.task or [] if ":" not in text and text not in TASKS}
    if unknown:
        parser.error(f"unknown task(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(TASKS))}")
    try:
        chosen = [resolve_task(text).name for text in args.task or []]  # module:Class is loaded and registered
    except TaskNotFound as error:
        parser.error(f"--task: {error}")
    if args.tokenizer is not None and not Path(args.tokenizer).is_dir():
        parser.error(f"argument --tokenizer: {args.tokenizer} is not a local tokenizer directory")
    problem = output_problem(args.out, directory=True)
    if problem is not None:
        print(f"converters.rebuild: --out {args.out}: {problem}", file=sys.stderr)
        return 1
    options = Options(
        out=args.out, tasks=frozenset(chosen) if chosen else None, format=args.format, profile=args.profile,
        reasoning=args.reasoning, split=args.split, seed=args.seed, strict=args.strict, negatives=args.negatives,
        tokenizer=args.tokenizer, with_inputs=args.with_inputs, bos=args.bos, group_by=args.group_by,
        eval_repos=frozenset(args.eval_repo or ()),
    )
    try:
        stats = rebuild(args.recordings, options, workers=args.workers)
    except (MalformedRecord, OSError) as error:
        print(f"converters.rebuild: {error}", file=sys.stderr)
        return 1
    _print_summary(stats_dict(stats, options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
