"""The cli_intent dataset on disk: the resumable progress log, the batch plan, the grouped split and the files.

``training/data/NAME/train_progress.jsonl`` holds one line per finished batch (its category, what was asked,
the accepted examples and the drops by rule), flushed and synced before the next batch starts; a torn last
line (a kill mid-write) is cut off on resume. ``write_dataset`` writes ``train.jsonl`` and ``eval.jsonl``
(``{"messages": [...], "tools": [...]}``, the student's exact prompt) and ``stats.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from converters.schema import portable_row
from tasks.cli_intent.generation import NEGATIVE_KINDS, BatchInput, GeneratedExample
from tasks.cli_intent.schema import CliSchema
from tasks.cli_intent.task import CliIntentTask
from tasks.cli_intent.validate import CATEGORIES, diversity_report, near_duplicate_groups, normalize_request
from teacher.task import Turn

__all__ = [
    "MIX",
    "PROGRESS_FILE",
    "BatchRecord",
    "Progress",
    "append_batch",
    "next_batch",
    "read_progress",
    "split_groups",
    "targets",
    "write_dataset",
]

PROGRESS_FILE = "train_progress.jsonl"
#: The category mix: 60% positives with context, 20% without, 20% negatives.
MIX: dict[str, float] = {"with_context": 0.6, "without_context": 0.2, "negative": 0.2}


@dataclass(frozen=True)
class BatchRecord:
    """One finished batch: what was asked, what was accepted, what was dropped and why."""

    batch: int
    category: str
    asked: int
    examples: tuple[GeneratedExample, ...]
    dropped: dict[str, int] = field(default_factory=dict)

    def line(self) -> bytes:
        """The progress line of this batch."""
        return orjson.dumps({"batch": self.batch, "category": self.category, "asked": self.asked,
                             "dropped": self.dropped,
                             "examples": [e.model_dump(mode="json", exclude_none=True) for e in self.examples]})


@dataclass
class Progress:
    """Every finished batch so far, and whether a torn last line was cut off."""

    batches: list[BatchRecord] = field(default_factory=list)
    torn: bool = False

    def examples(self) -> list[GeneratedExample]:
        """The accepted examples in batch order."""
        return [e for b in self.batches for e in b.examples]

    def counts(self) -> Counter[str]:
        """Accepted examples by category."""
        return Counter(e.category for e in self.examples())


def read_progress(path: Path) -> Progress:
    """The progress log. A torn last line (no newline: a kill mid-write) is cut off, so that batch is asked again;
    an unreadable complete line is an error naming the file and line."""
    progress = Progress()
    if not path.exists():
        return progress
    data = path.read_bytes()
    complete = data.rfind(b"\n") + 1  # everything after the last newline is torn
    for number, line in enumerate(data[:complete].split(b"\n")[:-1], start=1):
        if not line.strip():
            continue
        try:
            raw = orjson.loads(line)
            progress.batches.append(BatchRecord(
                batch=int(raw["batch"]), category=str(raw["category"]), asked=int(raw["asked"]),
                examples=tuple(GeneratedExample.model_validate(e) for e in raw["examples"]),
                dropped={str(k): int(v) for k, v in raw.get("dropped", {}).items()},
            ))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, ValidationError) as error:
            raise ValueError(f"{path}:{number}: unreadable progress line: {str(error).splitlines()[0]}") from None
    if complete < len(data):
        progress.torn = True
        with open(path, "r+b") as handle:
            handle.truncate(complete)
    return progress


def append_batch(path: Path, record: BatchRecord) -> None:
    """Append one batch's line and make it durable (flush and fsync) before going on."""
    with open(path, "ab") as handle:
        handle.write(record.line() + b"\n")
        handle.flush()
        os.fsync(handle.fileno())


def targets(count: int) -> dict[str, int]:
    """How many examples of each category make ``count`` with the mix (rounding goes to the negatives)."""
    with_context = round(count * MIX["with_context"])
    without = round(count * MIX["without_context"])
    return {"with_context": with_context, "without_context": without, "negative": count - with_context - without}


def next_batch(
    schema: CliSchema, have: Counter[str], wanted: dict[str, int], batch_size: int, batch: int, seed: int
) -> BatchInput | None:
    """The next batch to ask for: the category furthest behind its target, with a rotating focus; None when done."""
    missing = {c: wanted[c] - have.get(c, 0) for c in CATEGORIES if wanted[c] > have.get(c, 0)}
    if not missing:
        return None
    category = max(missing, key=lambda c: (missing[c] / wanted[c], -CATEGORIES.index(c)))
    count = min(batch_size, missing[category])
    if category == "negative":
        focus = tuple(NEGATIVE_KINDS[(batch + i) % len(NEGATIVE_KINDS)] for i in range(min(count, len(NEGATIVE_KINDS))))
    else:
        pairs = schema.pair_names()
        start = (batch * batch_size) % len(pairs)
        focus = tuple(pairs[(start + i) % len(pairs)] for i in range(min(count, len(pairs))))
    return BatchInput(cli_name=schema.cli_name, category=category, count=count, focus=focus, batch=batch, seed=seed)


def dedup_key(example: GeneratedExample) -> str:
    """Two examples are duplicates when their normalized request and their context are the same."""
    context = example.context.model_dump_json(exclude_none=True) if example.context else ""
    return normalize_request(example.request) + "\x00" + context


def _answer_bucket(example: GeneratedExample) -> Hashable:
    args = example.arguments
    return (example.tool, args.get("command"), args.get("subcommand"))


def split_groups(examples: Sequence[GeneratedExample]) -> list[int]:
    """A group per example: near-duplicate requests with the same command, and commands with the same
    arguments and flags (paraphrases of one request), share a group, so that no group straddles the split."""
    near = near_duplicate_groups([e.request for e in examples], [_answer_bucket(e) for e in examples])
    parent: dict[int, int] = {}

    def find(g: int) -> int:
        while parent.get(g, g) != g:
            g = parent[g]
        return g

    first_of: dict[str, int] = {}
    for example, group in zip(examples, near, strict=True):
        args = example.arguments
        if example.tool != "run_command" or not (args.get("args") or args.get("flags")):
            continue
        key = json.dumps([args["command"], args["subcommand"], args["args"], sorted(args["flags"])], sort_keys=True)
        if key in first_of:
            a, b = find(first_of[key]), find(group)
            if a != b:
                parent[max(a, b)] = min(a, b)
        else:
            first_of[key] = group
    roots = [find(g) for g in near]
    numbering: dict[int, int] = {}
    return [numbering.setdefault(r, len(numbering)) for r in roots]


def _fraction(seed: int, key: str) -> float:
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def write_dataset(
    out: Path,
    schema: CliSchema,
    examples: Sequence[GeneratedExample],
    *,
    split: float,
    seed: int,
    meta: dict[str, Any],
) -> dict[str, Any]:
    """Write ``train.jsonl``, ``eval.jsonl`` and ``stats.json`` (split grouped by :func:`split_groups`)."""
    task = CliIntentTask(schema)
    groups = split_groups(examples)
    group_key: dict[int, str] = {}
    for example, group in zip(examples, groups, strict=True):
        key = dedup_key(example)
        group_key[group] = min(group_key.get(group, key), key)
    in_eval = {g: _fraction(seed, k) >= split for g, k in group_key.items()}
    if 0 < split < 1 and len(in_eval) > 1 and not any(in_eval.values()):  # a tiny run still gets an eval set
        in_eval[max(group_key, key=lambda g: _fraction(seed, group_key[g]))] = True
    if split > 0 and len(in_eval) > 1 and all(in_eval.values()):
        in_eval[min(group_key, key=lambda g: _fraction(seed, group_key[g]))] = False
    rows: dict[str, list[tuple[float, bytes]]] = {"train": [], "eval": []}
    per_split: dict[str, Counter[str]] = {"train": Counter(), "eval": Counter()}
    for example, group in zip(examples, groups, strict=True):
        side = "eval" if in_eval[group] else "train"
        [conversation] = task.example_conversations(Turn(task.name, example.input(), (example.call(),)))
        rows[side].append((_fraction(seed + 1, dedup_key(example)), orjson.dumps(portable_row(conversation))))
        per_split[side][example.category] += 1
    out.mkdir(parents=True, exist_ok=True)
    for side, lines in rows.items():
        temporary = out / f".{side}.jsonl.tmp"
        temporary.write_bytes(b"".join(line + b"\n" for _, line in sorted(lines)))
        temporary.replace(out / f"{side}.jsonl")
    stats = {
        **meta,
        "task": task.name,
        "cli_name": schema.cli_name,
        "split": split,
        "seed": seed,
        "examples": len(examples),
        "train": len(rows["train"]),
        "eval": len(rows["eval"]),
        "categories": {c: {"train": per_split["train"][c], "eval": per_split["eval"][c]} for c in CATEGORIES},
        "negative_kinds": dict(sorted(Counter(e.kind for e in examples if e.category == "negative").items())),
        "context_used": sum(1 for e in examples if e.kind == "context_used"),
        "groups": len(group_key),
        "diversity": diversity_report(
            [e.request for e in examples],
            [f"{e.arguments['command']} {e.arguments['subcommand']}" if e.tool == "run_command" else ""
             for e in examples],
            schema, groups),
    }
    (out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    return stats
