"""Synthetic score_edge examples: edge contexts drawn from real code, scored by the heuristic, rendered by the codec.

Usage: ``python -m tasks.score_edge.generate N [--seed S] [--format text|messages] [--profile hf|ollama]
[--harvest PKG,...]`` writes N JSONL lines to stdout (``{"text": ...}`` or ``{"messages": [...], "tools":
[...]}``). The code at each end of an edge is harvested from the standard library and the packages named by
``--harvest`` (:mod:`tasks.score_edge.harvest`): the target is drawn a quarter of the time from code that branches
on types, a sixth from typing machinery, the rest from any definition, and the source from class heads; the query
names the two ends or is an unrelated question. The same seed gives the same bytes, whatever ``--workers``, on
one Python installation. Progress is logged per chunk of 5,000 when N is large (10,000 or more).
``--record DIR`` also asks the heuristic the same N questions under ``Recording`` (one session,
``DIR/sessions/score_edge-synthetic-SEED-N.jsonl``), so ``python -m converters.rebuild DIR`` makes the dataset
from the recording like any other: de-duplicated, split and in any format.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import IO, Literal

import orjson

from converters.functiongemma import BOS, PROFILES, Profile, render_prompt
from converters.schema import TrainingExample, portable_row
from interpreters.heuristic import HeuristicModel
from tasks.score_edge.harvest import harvest
from tasks.score_edge.pools import QUERIES, QUERY_TEMPLATES
from tasks.score_edge.task import EdgeType, ScoreEdgeInput, ScoreEdgeTask
from teacher.cli_args import (
    CommandParser,
    non_negative_int,
    output_problem,
    seed,
    workers,
)
from teacher.handlers import perform
from teacher.operations import Ask
from teacher.task import Turn

Format = Literal["text", "messages"]
EDGE_TYPES = tuple(EdgeType)
SITE_EDGES = (EdgeType.usage, EdgeType.reference)  # the edges whose target shows the lines around a use
#: how often the target is drawn from each kind of harvested code (real code seldom branches on types)
TARGET_KINDS = {"exhaustive": 0.25, "type_family": 0.15, "plain": 0.6}
UNRELATED_QUERY = 0.25  # the share of queries about another code base


logger = logging.getLogger(__name__)
#: from this many examples on, each chunk written is logged at INFO
PROGRESS_FROM = 10_000
CHUNK = 5_000


def edge_contexts(count: int, seed: int, packages: tuple[str, ...] = ()) -> Iterator[ScoreEdgeInput]:
    """``count`` edge contexts drawn from harvested code, in chunks of ``CHUNK`` each with its own seeded
    generator."""
    for start in range(0, count, CHUNK):
        yield from _chunk_contexts(seed, start // CHUNK, min(CHUNK, count - start), packages)


def _chunk_contexts(seed: int, chunk: int, size: int, packages: tuple[str, ...] = ()) -> Iterator[ScoreEdgeInput]:
    found = harvest(packages)
    pools = {kind: getattr(found, kind) or found.plain for kind in TARGET_KINDS}
    kinds, weights = list(TARGET_KINDS), list(TARGET_KINDS.values())
    rng = random.Random(seed * 1_000_003 + chunk)
    for _ in range(size):
        target = rng.choice(pools[rng.choices(kinds, weights)[0]])
        source = rng.choice(found.classes)
        if rng.random() < UNRELATED_QUERY:
            query = rng.choice(QUERIES)
        else:
            query = rng.choice(QUERY_TEMPLATES).format(source=source.name, target=target.name)
        yield ScoreEdgeInput(
            query=query,
            source_file=source.path,
            source_line=source.line,
            source_hover=source.code,
            target_file=target.path,
            target_line=target.line,
            target_hover=target.code,
            edge_type=rng.choice(SITE_EDGES if target.use_site else EDGE_TYPES),
        )


def examples(count: int, seed: int, packages: tuple[str, ...] = ()) -> Iterator[TrainingExample]:
    """Heuristically scored training examples, one per edge context."""
    return _examples(edge_contexts(count, seed, packages))


def _examples(contexts: Iterable[ScoreEdgeInput]) -> Iterator[TrainingExample]:
    task = ScoreEdgeTask()
    for context in contexts:
        call, reasoning = HeuristicModel.answer(task, context)
        assert call is not None
        yield from task.to_examples(Turn(task=task.name, input=context, calls=(call,), reasoning=reasoning))


def encode(example: TrainingExample, format: Format, profile: Profile) -> bytes:
    """One JSONL line for an example."""
    dumped = example.model_dump(exclude_none=True)
    if format == "messages":
        return orjson.dumps(portable_row(dumped))
    text = render_prompt(dumped["messages"], dumped["tools"], profile=profile, add_generation_prompt=False)
    return orjson.dumps({"text": text.removeprefix(BOS)})  # the tokenizer adds the one BOS


def _render_chunk(job: tuple[int, int, int, Format, Profile, tuple[str, ...]]) -> bytes:
    seed, chunk, size, format, profile, packages = job
    contexts = _chunk_contexts(seed, chunk, size, packages)
    return b"".join(encode(e, format, profile) + b"\n" for e in _examples(contexts))


def write(
    count: int,
    seed: int,
    format: Format,
    profile: Profile,
    out: IO[bytes],
    workers: int = 1,
    packages: tuple[str, ...] = (),
) -> int:
    """Write ``count`` examples as JSONL, chunk by chunk in order (``workers`` processes); returns the count.

    Each chunk written is logged (INFO from :data:`PROGRESS_FROM` examples on, else DEBUG)."""
    jobs = [(seed, start // CHUNK, min(CHUNK, count - start), format, profile, packages)
            for start in range(0, count, CHUNK)]
    harvest(packages)  # once, before the workers start: forked workers inherit it
    written, level = 0, logging.INFO if count >= PROGRESS_FROM else logging.DEBUG
    with ProcessPoolExecutor(workers) if workers > 1 and len(jobs) > 1 else nullcontext() as pool:
        chunks = pool.map(_render_chunk, jobs) if pool is not None else map(_render_chunk, jobs)
        for (_, _, size, _, _, _), data in zip(jobs, chunks, strict=True):
            out.write(data)
            written += size
            logger.log(level, "%d/%d examples", written, count)
    return written


async def record(
    count: int, seed: int, out: Path, packages: tuple[str, ...] = (), split: Literal["train", "eval"] | None = None
) -> Path:
    """Ask the heuristic about the ``count`` edge contexts of ``seed`` under ``Recording``, as one session under
    ``out/sessions`` (a session finished before is left as it is; an unfinished one resumes); its log. ``split``:
    the side of the split the whole session goes to (None: grouped like any session)."""
    from interpreters.recording import RecordedSession
    from interpreters.records import SessionEnd, SessionStart

    sid = f"score_edge-synthetic-{seed}-{count}"
    start = SessionStart(session=sid, teacher="heuristic", started=time.time(), split=split,
                         source={"generator": "tasks.score_edge.generate", "count": count, "seed": seed,
                                 "harvest": list(packages)})
    with RecordedSession(out / "sessions" / f"{sid}.jsonl", start, resume=True) as session:
        if session.ended is None:
            task = ScoreEdgeTask()

            async def program() -> int:
                for context in edge_contexts(count, seed, packages):
                    await perform(Ask(task, context))
                return count

            if await session.run(program, HeuristicModel()) is None:
                raise RuntimeError(f"{session.path}: {session.failures[0][1]}")
            session.end(SessionEnd(result={"questions": count, "turns": session.turns}))
        return session.path


def main(argv: list[str] | None = None) -> int:
    parser = CommandParser(
        prog="python -m tasks.score_edge.generate",
        description="Write N synthetic score_edge training examples (JSONL) to stdout: edge contexts whose code "
        "is harvested from the standard library (and --harvest packages), scored by the heuristic teacher and "
        "rendered by the FunctionGemma codec in the 2-turn minimal layout. The same seed gives the same bytes.",
    )
    parser.add_argument("count", type=non_negative_int, metavar="N", nargs="?",
                        help="how many examples to write (zero or more; or --count N)")
    parser.add_argument("--count", type=non_negative_int, dest="count_flag", metavar="N",
                        help="how many examples to write (the same as N)")
    parser.add_argument("--out", type=Path, help="the JSONL file to write (unset: standard output)")
    parser.add_argument("--seed", type=seed, default=0, help="random seed")
    parser.add_argument("--format", choices=["text", "messages"], default="text", help="JSONL shape")
    parser.add_argument("--profile", choices=PROFILES, default="hf", help="codec profile for --format text")
    parser.add_argument(
        "--workers", type=workers, default=os.cpu_count() or 1,
        help="processes to render with (output is the same)",
    )
    parser.add_argument("--harvest", default="", metavar="PKG,...",
                        help="installed packages to harvest code from besides the standard library, comma-separated")
    parser.add_argument("--record", type=Path, metavar="DIR",
                        help="also record the heuristic's answers as a session under DIR for converters.rebuild")
    args = parser.parse_args(argv)
    if (args.count is None) == (args.count_flag is None):
        parser.error("give how many examples to write: N or --count N (one of them)")
    count = args.count if args.count is not None else args.count_flag
    packages = tuple(p.strip() for p in args.harvest.split(",") if p.strip())
    try:
        harvest(packages)
    except ValueError as error:
        parser.error(str(error))
    if args.record is not None:
        problem = output_problem(args.record, directory=True)
        if problem is not None:
            print(f"tasks.score_edge.generate: --record {args.record}: {problem}", file=sys.stderr)
            return 1
        try:
            log = asyncio.run(record(count, args.seed, args.record, packages))
        except (OSError, ValueError, RuntimeError) as error:
            print(f"tasks.score_edge.generate: {error}", file=sys.stderr)
            return 1
        print(f"recorded to {log}; make the dataset with: python -m converters.rebuild {args.record} --out DIR",
              file=sys.stderr)
    try:
        if args.out is None:
            write(count, args.seed, args.format, args.profile, sys.stdout.buffer, args.workers, packages)
        else:
            with open(args.out, "wb") as out:
                write(count, args.seed, args.format, args.profile, out, args.workers, packages)
    except BrokenPipeError:  # e.g. piped into head
        return 0
    except OSError as error:
        print(f"tasks.score_edge.generate: --out {args.out}: {error.strerror or error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
