"""``python -m tasks.cli_intent.generate``: generate a cli_intent dataset for a CLI schema, resumably.

Batches are asked from the teacher (``--teacher heuristic``: the offline template teacher; ``haiku``: Claude
through the Anthropic API) under ``Recording``, like any recorded session: each batch is one ``model`` line of
``OUT_ROOT/NAME/train_progress.jsonl`` (flushed before the next is asked; a torn last line is set aside on
resume). Each item is validated and exact duplicates dropped (:mod:`tasks.cli_intent.generation`); a rerun
derives what was accepted from the recorded batches and asks only what is missing; ``--force`` starts afresh.
When every category has its share of ``--count`` (60% with context, 20% without, 20% negative), ``train.jsonl``,
``eval.jsonl`` and ``stats.json`` are written through the shared dataset writer.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from converters.dataset_stats import DatasetStats, write_stats
from interpreters.backends import add_backend_flag
from tasks.cli_intent.generation import (
    PROGRESS_FILE,
    BatchRecord,
    GenerateBatchTask,
    GeneratedExample,
    check_batch,
    dedup_key,
    example_turns,
    next_batch,
    recorded_batches,
    split_groups,
    targets,
)
from tasks.cli_intent.schema import CliSchema, SchemaError
from tasks.cli_intent.shipped import resolve_schema
from tasks.cli_intent.task import CliIntentTask
from tasks.cli_intent.validate import CATEGORIES, ValidationReport, diversity_report
from teacher.cli_args import (
    CommandParser,
    Number,
    non_negative_float,
    non_negative_int,
    output_name,
    output_problem,
    positive_float,
    positive_int,
    seed,
)
from teacher.handlers import interpret, perform
from teacher.model import ModelBackend
from teacher.operations import Ask, OperationFailed
from teacher.task import TaskOutputError

__all__ = ["generate", "main", "read_progress", "teacher_backend", "write_dataset"]

logger = logging.getLogger(__name__)

#: Stop when this many batches in a row add nothing (a teacher that only repeats itself).
MAX_IDLE_BATCHES = 20


def _summary(have: Counter[str], wanted: dict[str, int]) -> str:
    total = sum(min(have[c], n) for c, n in wanted.items())
    parts = ", ".join(f"{c} {min(have[c], n)}/{n}" for c, n in wanted.items())
    return f"{total}/{sum(wanted.values())} ({parts})"


class Progress:
    """The finished batches of a generation session so far."""

    def __init__(self, batches: list[BatchRecord]) -> None:
        self.batches = batches

    def examples(self) -> list[GeneratedExample]:
        """The accepted examples in batch order."""
        return [e for b in self.batches for e in b.examples]

    def counts(self) -> Counter[str]:
        """Accepted examples by category."""
        return Counter(e.category for e in self.examples())


def read_progress(path: Path, schema: CliSchema | None = None) -> Progress:
    """The finished batches recorded in a generation session log (``schema``: by default the one its first line
    names), read without changing the file; a line that cannot be read is a ``RecordingError`` naming the file
    and line."""
    from interpreters.recording import RecordingError, read_session
    from interpreters.records import SessionStart

    contents = read_session(path)
    if contents.problems:  # a line of the wrong shape: named, as it was before resume learnt to set it aside
        raise RecordingError(contents.problems[0])
    records = contents.records
    if schema is None:
        source = next((r.source or {} for r in records if isinstance(r, SessionStart)), {})
        schema = resolve_schema(source["schema"])[0] if "schema" in source else None
    return Progress(recorded_batches(records, schema) if schema is not None else [])


def _session_id(schema: CliSchema) -> str:
    return f"cli_intent_generate:{schema.cli_name}"


async def generate(
    schema: CliSchema,
    count: int,
    out: Path,
    backend: ModelBackend,
    *,
    batch_size: int = 10,
    seed: int = 0,
    delay: float = 0.0,
    source: dict[str, Any] | None = None,
) -> tuple[list[GeneratedExample], ValidationReport, int]:
    """Generate until every category has its share of ``count``, recording each batch and resuming from the
    recording. Returns the examples (each category cut to its target), the validation report over every batch,
    and the number of batches. Each batch is logged (INFO; a refused answer at WARNING)."""
    from interpreters.recording import RecordedSession
    from interpreters.records import SessionStart

    out.mkdir(parents=True, exist_ok=True)
    start = SessionStart(session=_session_id(schema), source=source or {}, started=time.time())
    with RecordedSession(out / PROGRESS_FILE, start, resume=True, durable=True) as session:
        batches = recorded_batches(session.log.records, schema)
        wanted = targets(count)
        report = ValidationReport()
        seen: set[str] = set()
        for record in batches:
            report.kept += len(record.examples)
            report.dropped.update(record.dropped)
            seen.update(dedup_key(e) for e in record.examples)
        have: Counter[str] = Counter(e.category for b in batches for e in b.examples)
        if batches:
            torn = " (a torn last line was set aside)" if session.log.set_aside else ""
            logger.info("resuming from %d saved batches%s: %s", len(batches), torn, _summary(have, wanted))
        task = GenerateBatchTask(schema)
        batch_number = max((b.batch for b in batches), default=-1) + 1
        idle = 0
        async with interpret(*session.handlers(backend)):
            while (batch := next_batch(schema, have, wanted, batch_size, batch_number, seed)) is not None:
                items: list[dict[str, Any]] | None
                try:
                    items = await perform(Ask(task, batch))
                except TaskOutputError as error:
                    items = None
                    logger.warning("batch %d: the answer was refused: %s", batch_number, error)
                record = check_batch(schema, batch, items, seen)
                batches.append(record)
                report.kept += len(record.examples)
                report.dropped.update(record.dropped)
                have[batch.category] += len(record.examples)
                dropped = record.dropped
                drops = f" (dropped {sum(dropped.values())}: " + ", ".join(
                    f"{r} {n}" for r, n in sorted(dropped.items())) + ")" if dropped else ""
                logger.info("batch %d: %s +%d%s; %s", batch_number, batch.category, len(record.examples), drops,
                            _summary(have, wanted))
                idle = 0 if record.examples else idle + 1
                if idle >= MAX_IDLE_BATCHES:
                    raise RuntimeError(f"{idle} batches in a row added no new example; the teacher only repeats itself")
                batch_number += 1
                if delay:
                    await asyncio.sleep(delay)
    kept: list[GeneratedExample] = []
    taken: Counter[str] = Counter()
    for example in (e for b in batches for e in b.examples):
        if taken[example.category] < wanted[example.category]:
            taken[example.category] += 1
            kept.append(example)
    return kept, report, batch_number


def teacher_backend(
    spec: str, schema: CliSchema, batch_size: int = 10, budget_usd: float | None = None
) -> ModelBackend:
    """The teacher that writes batches. ``heuristic`` here is the schema's offline template teacher (this task's
    rules: :data:`TEMPLATE_TEACHER`), not the table's ``heuristic`` row; any other spec (``haiku:MODEL``,
    ``ollama:NAME``, ``gguf:PATH``) is built from the backend table, offered room for ``batch_size`` answers."""
    if spec in TEMPLATE_TEACHER:
        from tasks.cli_intent.templates import TemplateTeacher

        return TemplateTeacher(schema)
    from interpreters.anthropic import Budget
    from interpreters.backends import build_backend

    return build_backend(spec, {"max_tokens": 600 * batch_size + 1024, "concurrency": 1,
                                "budget": Budget(budget_usd)})


#: the specs that name the template teacher: the table's offline ``heuristic``, mapped to this task's templates
TEMPLATE_TEACHER = ("heuristic",)


def write_dataset(
    out: Path,
    schema: CliSchema,
    examples: Sequence[GeneratedExample],
    *,
    split: float,
    seed: int,
    meta: dict[str, Any],
    retrieve: int = 0,
) -> dict[str, Any]:
    """Write ``train.jsonl`` and ``eval.jsonl`` with ``converters.rebuild`` from the examples as a session log
    (:func:`example_turns`; its writer, de-duplication and split grouped by the task's split keys), and
    ``stats.json``: the rebuild's counts and the generation's own (categories per split, diversity).

    ``retrieve`` > 0: each example declares only the subcommands the runtime's retriever finds for its request
    (``CliIntentTask(schema, retrieve=...)``, as ``python -m tasks.cli_intent.run --retrieve`` asks), and an
    example whose answer is not among them is left out (``stats["retrieval_missed"]``)."""
    from converters.rebuild import Options, rebuild
    from tasks.registry import TASKS, register_task

    task = CliIntentTask(schema, retrieve=retrieve)
    registered = TASKS.get(task.name)
    if registered is None or retrieve:
        register_task(task)  # a schema of the user's own, or the retrieving task for this build only
    missed = sum(1 for e in examples if not task.declares(task.parse(e.call(), e.input()), e.input()))
    try:
        with tempfile.TemporaryDirectory(prefix="cli-intent-") as scratch:
            log = Path(scratch) / f"{task.name.replace(':', '-')}.jsonl"
            log.write_text("".join(line + "\n" for line in example_turns(schema, examples)), encoding="utf-8")
            built = rebuild([log], Options(out=out, tasks=frozenset({task.name}), format="messages", split=split,
                                           seed=seed, negatives="none", group_by="symbol"))
    finally:
        if registered is not None and retrieve:
            register_task(registered)
    category = {task.render(e.input()): e.category for e in examples}
    per_split: dict[str, Counter[str]] = {}
    for side in ("train", "eval"):
        rows = [orjson.loads(line) for line in (out / f"{side}.jsonl").read_bytes().splitlines()]
        per_split[side] = Counter(category[m["content"]] for r in rows for m in r["messages"] if m["role"] == "user")
    groups = split_groups(examples)
    stats = {
        **meta,
        "task": task.name,
        "cli_name": schema.cli_name,
        "split": split,
        "seed": seed,
        "examples": len(examples),
        "train": sum(per_split["train"].values()),
        "eval": sum(per_split["eval"].values()),
        "categories": {c: {"train": per_split["train"][c], "eval": per_split["eval"][c]} for c in CATEGORIES},
        "negative_kinds": dict(sorted(Counter(e.kind for e in examples if e.category == "negative").items())),
        "context_used": sum(1 for e in examples if e.kind == "context_used"),
        "groups": built.groups,
        "retrieve": retrieve,
        "retrieval_missed": missed,
        "dropped": dict(sorted(built.dropped.items())),
        **built.fields.summary(),  # what the data teaches, as converters.rebuild counts it
        "diversity": diversity_report(
            [e.request for e in examples],
            [f"{e.arguments['command']} {e.arguments['subcommand']}" if e.tool == "run_command" else ""
             for e in examples],
            schema, groups),
    }
    write_stats(out, DatasetStats.model_validate(stats))
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = CommandParser(
        prog="python -m tasks.cli_intent.generate",
        description="Generate a cli_intent training set for a CLI schema: natural-language requests and their "
        "run_command / clarify answers, 60%% with git context, 20%% without, 20%% negative. Progress is saved "
        "after each batch and a rerun resumes; writes OUT_ROOT/NAME/{train,eval}.jsonl and stats.json.",
    )
    parser.add_argument("--schema", required=True, help="a CLI schema YAML file, or the name of a shipped one (gh)")
    parser.add_argument("--count", type=positive_int, default=3000, help="examples to generate")
    parser.add_argument("--name", type=output_name,
                        help="training name: a plain folder name under --out-root (default: the schema's cli_name)")
    parser.add_argument("--out-root", type=Path, default=Path("training/data"), help="where training sets go")
    parser.add_argument("--out", type=Path, help="the training set's folder itself (unset: OUT_ROOT/NAME)")
    teacher = add_backend_flag(parser, "teacher", default="heuristic",
                               help="heuristic: offline templates; haiku[:MODEL]: Claude via ANTHROPIC_API_KEY; "
                                    "or any backend: ollama:NAME, gguf:PATH, hf:DIR")
    parser.add_argument("--model", default="claude-haiku-4-5", help="the Anthropic model for --teacher haiku")
    parser.add_argument("--budget-usd", type=positive_float, default=None, help="stop asking once this much is spent")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the template teacher and of the split")
    parser.add_argument("--split", type=Number(float, minimum=0, maximum=1), default=0.9,
                        help="fraction of groups in train, in [0, 1]")
    parser.add_argument("--batch-size", type=positive_int, default=10, help="examples asked per batch")
    parser.add_argument("--delay", type=non_negative_float, default=0.0,
                        help="seconds to wait after each batch (rate limiting)")
    parser.add_argument("--force", action="store_true", help="discard saved progress and start afresh")
    parser.add_argument("--retrieve", type=non_negative_int, default=0, metavar="K",
                        help="declare only the K subcommands the retriever finds for each request, as "
                             "`python -m tasks.cli_intent.run --retrieve K` does; answers it misses are left "
                             "out (0: the whole schema)")
    args = parser.parse_args(argv)
    try:
        schema, schema_path = resolve_schema(args.schema)
    except SchemaError as error:
        print(f"tasks.cli_intent.generate: {error}", file=sys.stderr)
        return 1
    from interpreters.backends import MissingCredential, check_credentials

    spec = teacher.spec(parser, args, model=args.model)
    assert spec is not None  # --teacher has a default
    label = args.teacher if spec.kind in ("heuristic", "haiku") else str(spec)  # which model taught
    try:
        check_credentials(spec)
    except MissingCredential as error:
        print(f"tasks.cli_intent.generate: --teacher {args.teacher}: {error}", file=sys.stderr)
        return error.exit_code
    out = args.out or args.out_root / (args.name or schema.cli_name)
    problem = output_problem(out, directory=True)
    if problem is not None:
        where = f"--out {args.out}" if args.out else f"--out-root {args.out_root}"
        print(f"tasks.cli_intent.generate: {where}: {problem}", file=sys.stderr)
        return 1
    try:
        if args.force:
            for name in (PROGRESS_FILE, PROGRESS_FILE + ".torn", "train.jsonl", "eval.jsonl", "stats.json"):
                (out / name).unlink(missing_ok=True)
        read_progress(out / PROGRESS_FILE, schema)  # a damaged progress line is reported before anything is asked
    except (OSError, ValueError) as error:
        print(f"tasks.cli_intent.generate: {error}; fix that line, or start afresh with --force", file=sys.stderr)
        return 1
    started = time.perf_counter()
    try:
        examples, report, batches = asyncio.run(generate(
            schema, args.count, out, teacher_backend(str(spec), schema, args.batch_size, args.budget_usd),
            batch_size=args.batch_size, seed=args.seed, delay=args.delay,
            source={"schema": str(schema_path), "teacher": label}))
    except OSError as error:
        print(f"tasks.cli_intent.generate: {error}", file=sys.stderr)
        return 1
    except (OperationFailed, RuntimeError, ValueError) as error:
        print(f"tasks.cli_intent.generate: stopped: {error}\nprogress is kept in {out / PROGRESS_FILE}; "
              "run the same command again to resume", file=sys.stderr)
        return 1
    meta = {"schema": str(schema_path), "teacher": label, "requested": args.count, "batches": batches,
            "targets": targets(args.count), "validation": report.as_dict()}
    try:
        stats = write_dataset(out, schema, examples, split=args.split, seed=args.seed, meta=meta,
                              retrieve=args.retrieve)
    except OSError as error:
        print(f"tasks.cli_intent.generate: {error}", file=sys.stderr)
        return 1
    from converters.rebuild import empty_eval_problem

    problem = empty_eval_problem(stats)
    if problem is not None:
        print(f"tasks.cli_intent.generate: warning: {problem}", file=sys.stderr)
    print(f"wrote {stats['train']} train and {stats['eval']} eval examples to {out} in "
          f"{time.perf_counter() - started:.1f} s (dropped {sum(report.dropped.values())}; see stats.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
