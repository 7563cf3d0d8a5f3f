"""``python -m converters.rebuild``: turn recordings into training data, offline, as often as wanted.

Reads session logs (files or directories of ``*.jsonl``), keeps the answered model turns of the chosen tasks,
converts each through its task (``to_examples``), drops degenerate and duplicate examples, adds negatives
for select_symbols, splits train/eval grouped so that no symbol (or topic) straddles the two, and writes
``train.jsonl``, ``eval.jsonl`` and ``stats.json`` in one of three shapes (``text``, ``messages``,
``prompt-completion``) for one codec profile. No model is called.

Memory: records stream through; what is kept is the de-duplication set, the symbol/topic groups and a
length histogram. Order: examples are bucketed by a seeded hash and each bucket sorted, so the same inputs
and seed give byte-identical files.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import orjson
from pydantic import ValidationError

from converters.functiongemma import CONTROL_TOKENS, PROFILES, Profile, ToolCall, render_prompt
from converters.schema import TrainingExample
from tasks.registry import TASKS
from tasks.select_symbols.filters import FilterStats
from tasks.select_symbols.negatives import invert_topic_heuristically, negative_turn
from tasks.select_symbols.task import SelectSymbolsInput
from tasks.text import words
from teacher.task import TaskOutputError, Turn

__all__ = ["Options", "RebuildStats", "main", "reasoning_comment", "rebuild"]

Format = Literal["text", "messages", "prompt-completion"]
Reasoning = Literal["none", "comment"]
Negatives = Literal["none", "heuristic", "teacher", "both"]
BUCKETS = 64
COMMENT_LIMIT = 160
_SPACE = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")
_CONTROL = re.compile("|".join(re.escape(t) for t in CONTROL_TOKENS))


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


class MalformedRecord(ValueError):
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


def _topic_key(text: str) -> str:
    return "topic:" + " ".join(sorted(words(text)))


def group_keys(task: str, input: dict[str, Any]) -> list[str]:
    """What must stay on one side of the split: the symbol an example is about (select_symbols: the symbol;
    score_edge: the edge's source), or for a topic-only task its topic as a set of word stems. Paraphrased
    topics about one symbol, and a negative with its positive, share the symbol and so stay together."""
    if task == "select_symbols":
        return [f"symbol:{input.get('module', '')}.{input.get('symbol', '')}"]
    if task == "score_edge":
        return [f"symbol:{input.get('source_file')}:{input.get('source_line')}"]
    return [_topic_key(str(input[name])) for name in ("topic", "query") if input.get(name)]


class _Groups:
    """Union-find over group keys; a group's split is decided by a seeded hash of its smallest key."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        root = key
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[key] != root:
            self.parent[key], key = root, self.parent[key]
        return root

    def join(self, keys: Sequence[str]) -> None:
        roots = sorted({self.find(k) for k in keys})
        for other in roots[1:]:
            self.parent[other] = roots[0]  # the smallest key is the root: independent of input order

    def is_eval(self, keys: Sequence[str], seed: int, split: float) -> bool:
        root = min(self.find(k) for k in keys) if keys else ""
        digest = hashlib.blake2b(f"{seed}:{root}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64 >= split


def iter_records(paths: Sequence[Path], stats: RebuildStats, strict: bool) -> Iterator[tuple[str, dict[str, Any]]]:
    """(``file:line``, record) for every readable line; a malformed one is reported (or fatal with strict)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.rglob("*.jsonl")))
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"no recordings at {path}")
    for file in files:
        with open(file, "rb") as lines:
            for number, line in enumerate(lines, start=1):
                stats.lines += 1
                where = f"{file}:{number}"
                if not line.strip():
                    continue
                try:
                    record = orjson.loads(line)
                    if not isinstance(record, dict):
                        raise ValueError("a line must be a JSON object")
                except ValueError as error:
                    _malformed(where, f"not a JSON object ({error})", stats, strict)
                    continue
                yield where, record


def _malformed(where: str, problem: str, stats: RebuildStats, strict: bool) -> None:
    stats.dropped["malformed_line"] += 1
    message = f"{where}: {problem}"
    if strict:
        raise MalformedRecord(message)
    print(f"converters.rebuild: {message}; skipped", file=sys.stderr)


def _turn(where: str, record: dict[str, Any], options: Options, stats: RebuildStats) -> Turn[Any] | None:
    """The turn of an answered model line of a selected task, or None (counted) when it is not one."""
    if record.get("kind") != "model":
        return None
    stats.turns += 1
    if record.get("error"):
        stats.dropped["failed_turn"] += 1
        return None
    task_name = record.get("task")
    if not isinstance(task_name, str):
        _malformed(where, "field 'task' is missing", stats, options.strict)
        return None
    if options.tasks is not None and task_name not in options.tasks:
        stats.dropped["other_task"] += 1
        return None
    task = TASKS.get(task_name)
    if task is None:
        stats.dropped["unknown_task"] += 1
        return None
    try:
        input = task.input_model.model_validate(record["input"])
        calls = tuple(ToolCall(str(c["name"]), dict(c["arguments"])) for c in record["calls"])
    except KeyError as error:
        _malformed(where, f"field {error} is missing", stats, options.strict)
        return None
    except (ValidationError, TypeError, ValueError) as error:
        _malformed(where, f"field 'input' or 'calls' is invalid: {str(error)[:200]}", stats, options.strict)
        return None
    return Turn(task=task_name, input=input, calls=calls, reasoning=str(record.get("reasoning") or ""))


class _Writer:
    """Dedups, renders and buckets examples by split; ``finish`` writes each split in seeded order."""

    def __init__(self, options: Options, stats: RebuildStats, scratch: Path) -> None:
        self.options, self.stats = options, stats
        self.seen_exact: set[bytes] = set()
        self.seen_loose: set[bytes] = set()
        self.buckets = {
            split: [open(scratch / f"{split}.{b}", "w+b") for b in range(BUCKETS)]  # noqa: SIM115
            for split in ("train", "eval")
        }
        self.tokenizer = _load_tokenizer(options.tokenizer) if options.tokenizer else None

    def add(self, task: str, example: TrainingExample, is_eval: bool) -> None:
        line = render_line(example, self.options)
        exact = hashlib.blake2b(line, digest_size=16).digest()
        if exact in self.seen_exact:
            self.stats.dropped["duplicate"] += 1
            return
        loose = hashlib.blake2b(_SPACE.sub(" ", line.decode()).encode(), digest_size=16).digest()
        if loose in self.seen_loose:
            self.stats.dropped["duplicate_whitespace"] += 1
            return
        self.seen_exact.add(exact)
        self.seen_loose.add(loose)
        split = "eval" if is_eval else "train"
        self.stats.examples[f"{task}/{split}"] += 1
        self.stats.lengths[self._length(example, line)] += 1
        order = hashlib.blake2b(f"{self.options.seed}:".encode() + line, digest_size=8).digest()
        self.buckets[split][order[0] % BUCKETS].write(order.hex().encode() + line + b"\n")  # 16 hex digits

    def _length(self, example: TrainingExample, line: bytes) -> int:
        if self.tokenizer is None:
            return len(line)
        dumped = example.model_dump(exclude_none=True)
        text = render_prompt(dumped["messages"], dumped["tools"], profile=self.options.profile,
                             add_generation_prompt=False)
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def finish(self) -> None:
        for split, files in self.buckets.items():
            with open(self.options.out / f"{split}.jsonl", "wb") as out:
                for bucket in files:
                    bucket.seek(0)
                    for entry in sorted(bucket.read().split(b"\n")[:-1]):  # JSON lines hold no raw newline
                        out.write(entry[16:] + b"\n")
                    bucket.close()


def _load_tokenizer(name: str) -> Any:
    try:
        from transformers import AutoTokenizer  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise SystemExit("--tokenizer needs the finetune extra: pip install -e '.[finetune]'") from None
    return AutoTokenizer.from_pretrained(name, local_files_only=True)


def render_line(example: TrainingExample, options: Options) -> bytes:
    """One JSONL line (without newline) for an example in the chosen format and profile."""
    dumped = example.model_dump(exclude_none=True)
    if options.format == "messages":
        return orjson.dumps({"messages": dumped["messages"], "tools": dumped["tools"]})
    full = render_prompt(dumped["messages"], dumped["tools"], profile=options.profile, add_generation_prompt=False)
    if options.format == "text":
        return orjson.dumps({"text": full})
    prompt = render_prompt(dumped["messages"][:-1], dumped["tools"], profile=options.profile)
    if not full.startswith(prompt):
        raise AssertionError("the prompt is not a prefix of the conversation")  # the codec guarantees it
    return orjson.dumps({"prompt": prompt, "completion": full[len(prompt) :]})


def _with_comment(example: TrainingExample, reasoning: str) -> TrainingExample:
    comment = reasoning_comment(reasoning)
    if not comment:
        return example
    answer = example.messages[-1].model_copy(update={"content": comment})
    return example.model_copy(update={"messages": [*example.messages[:-1], answer]})


def _examples(turn: Turn[Any], options: Options, stats: RebuildStats, filters: FilterStats) -> Iterable[
    tuple[Turn[Any], TrainingExample]
]:
    task = TASKS[turn.task]
    if isinstance(turn.input, SelectSymbolsInput):
        selected = turn.calls[0].arguments.get("selected", []) if turn.calls else []
        before = dict(filters.dropped)
        if not filters.admit(turn.input, selected if isinstance(selected, list) else []):
            reason = next(r for r, n in filters.dropped.items() if n != before.get(r, 0))
            stats.dropped[reason] += 1
            return []
    try:
        examples = task.to_examples(turn)
    except TaskOutputError:
        stats.dropped["invalid_answer"] += 1
        return []
    if not examples:
        stats.dropped["no_example"] += 1
    if options.reasoning == "comment":
        examples = [_with_comment(e, turn.reasoning) for e in examples]
    return [(turn, e) for e in examples]


def rebuild(paths: Sequence[Path], options: Options, progress: IO[str] | None = None) -> RebuildStats:
    """Build the dataset under ``options.out`` from the recordings at ``paths``; returns the statistics."""
    options.out.mkdir(parents=True, exist_ok=True)
    groups = _Groups()
    teacher_inversions: dict[str, str] = {}
    scan = RebuildStats()
    for _, record in iter_records(paths, scan, strict=False):  # pass 1: groups and the teacher's inversions
        if record.get("kind") != "model" or record.get("error") or not isinstance(record.get("input"), dict):
            continue
        task, input = str(record.get("task")), record["input"]
        keys = group_keys(task, input)
        if task == "invert_topic" and record.get("calls"):
            inverted = (record["calls"][0].get("arguments") or {}).get("inverted_topic")
            if isinstance(inverted, str) and inverted.strip():
                teacher_inversions.setdefault(str(input.get("topic")), inverted)
                keys.append(_topic_key(inverted))
        if keys:
            groups.join(keys)
    stats = RebuildStats()
    filters = FilterStats()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rebuild-") as scratch:
        writer = _Writer(options, stats, Path(scratch))
        for where, record in iter_records(paths, stats, options.strict):  # pass 2: examples
            turn = _turn(where, record, options, stats)
            if turn is None:
                continue
            keys = group_keys(turn.task, record["input"])
            is_eval = groups.is_eval(keys, options.seed, options.split) if keys else False
            for kept, example in _examples(turn, options, stats, filters):
                writer.add(kept.task, example, is_eval)
                if isinstance(kept.input, SelectSymbolsInput):
                    _add_negative(kept, options, stats, writer, teacher_inversions, is_eval)
            if progress is not None and stats.turns % 50_000 == 0 and stats.turns:
                rate = stats.turns / (time.perf_counter() - started)
                print(f"{stats.turns} turns read ({rate:,.0f}/s)", file=progress, flush=True)
        writer.finish()
    stats.topic_leaks = filters.topic_leaks
    stats.groups = len({groups.find(k) for k in list(groups.parent)})
    (options.out / "stats.json").write_text(orjson.dumps(stats_dict(stats, options), option=orjson.OPT_INDENT_2)
                                            .decode(), encoding="utf-8")
    return stats


def _add_negative(
    turn: Turn[Any],
    options: Options,
    stats: RebuildStats,
    writer: _Writer,
    teacher_inversions: dict[str, str],
    is_eval: bool,
) -> None:
    topic = turn.input.topic
    inverted, source = None, ""
    if options.negatives in ("teacher", "both") and topic in teacher_inversions:
        inverted, source = teacher_inversions[topic], "teacher"
    if inverted is None and options.negatives in ("heuristic", "both"):
        inverted, source = invert_topic_heuristically(topic), "heuristic"
    if not inverted or inverted.strip().lower() == topic.strip().lower():
        return
    negative = negative_turn(turn.input, inverted, source)  # type: ignore[arg-type]
    for example in TASKS[turn.task].to_examples(negative):
        stats.negatives[source] += 1
        writer.add(turn.task, example, is_eval)


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
        "length_unit": "tokens" if options.tokenizer else "characters",
        "length_percentiles": stats.percentiles(),
    }


def _print_summary(summary: dict[str, Any]) -> None:
    print(f"examples: train {summary['train']}, eval {summary['eval']} from {summary['turns']} turns")
    for task, counts in summary["examples"].items():
        print(f"  {task}: train {counts['train']}, eval {counts['eval']}")
    print(f"dropped: {summary['dropped'] or 'none'}")
    print(f"negatives: {summary['negatives'] or 'none'}; topic leaks: {summary['topic_leaks']}")
    print(f"length ({summary['length_unit']}): {summary['length_percentiles']}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m converters.rebuild", description=__doc__.splitlines()[0])
    parser.add_argument("recordings", nargs="+", type=Path, metavar="RECORDINGS", help="session logs or directories")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--task", action="append", help="only this task (repeatable; default all)")
    parser.add_argument("--format", choices=["text", "messages", "prompt-completion"], default="text")
    parser.add_argument("--profile", choices=PROFILES, default="hf", help="codec profile (default hf)")
    parser.add_argument("--reasoning", choices=["none", "comment"], default="none",
                        help="keep the teacher's reasoning as a short comment before the call")
    parser.add_argument("--split", type=float, default=0.9, help="fraction of groups in train (default 0.9)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and the order (default 0)")
    parser.add_argument("--negatives", choices=["none", "heuristic", "teacher", "both"], default="both",
                        help="select_symbols negatives from recorded invert_topic turns and/or the heuristic")
    parser.add_argument("--tokenizer", help="count lengths in tokens with this local tokenizer directory")
    parser.add_argument("--strict", action="store_true", help="a malformed line is fatal")
    args = parser.parse_args(argv)
    if not 0.0 < args.split <= 1.0:
        parser.error("--split must be in (0, 1]")
    unknown = set(args.task or []) - set(TASKS)
    if unknown:
        parser.error(f"unknown task(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(TASKS))}")
    options = Options(
        out=args.out, tasks=frozenset(args.task) if args.task else None, format=args.format, profile=args.profile,
        reasoning=args.reasoning, split=args.split, seed=args.seed, strict=args.strict, negatives=args.negatives,
        tokenizer=args.tokenizer,
    )
    try:
        stats = rebuild(args.recordings, options, progress=sys.stderr)
    except (MalformedRecord, FileNotFoundError) as error:
        print(f"converters.rebuild: {error}", file=sys.stderr)
        return 1
    _print_summary(stats_dict(stats, options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
