"""``python -m converters.dataset``: one command for a real, diverse data set, with whole repositories held out.

1. **Real code.** The teacher proposes queries module by module over several installed real packages
   (``teacher.record --queries auto``; by default :data:`DEFAULT_PACKAGES`, found where Python imports them) and
   explores each over the real language server; every exchange is recorded, resumably, under
   ``RECORDINGS/repos/NAME``.
2. **Synthetic edges.** ``--synthetic`` score_edge questions whose code is harvested from real code
   (``tasks.score_edge.generate``), recorded as one session that is only ever trained on.
3. **CLI intent.** ``--cli-per-subcommand`` gh requests per subcommand (the CLI seed's advice: about 50 each),
   from the template teacher, recorded and split by near-duplicate groups (``tasks.cli_intent.generate``).
4. **One rebuild** of all of it (``converters.rebuild``) with the held-out repositories (``--held-out``) as the
   eval split, whole: the student is judged on code it never saw. ``stats.json`` says what the data teaches.

Every step resumes from what is recorded: run the same command again after an interruption. ``--teacher
haiku`` (with ``ANTHROPIC_API_KEY``) and ``--batch`` record the real teacher instead of the offline heuristic;
``--count`` and ``--repo``/``--repos`` scale it up.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from converters.rebuild import MalformedRecord, Options, rebuild, stats_dict
from interpreters.backends import add_backend_flag
from teacher.cli_args import (
    CommandParser,
    non_negative_int,
    positive_int,
    workers,
)
from teacher.explore import add_exploration_flags

__all__ = ["DEFAULT_HELD_OUT", "DEFAULT_PACKAGES", "installed_package", "main"]

logger = logging.getLogger(__name__)

#: installed real packages explored by default: every one comes with the core install (pydantic, the Anthropic
#: client and the language server need them), so a fresh machine has them all
DEFAULT_PACKAGES = ("httpx", "jedi", "parso", "pygls", "yaml", "pydantic", "anyio", "cattrs")
#: the default held-out repositories: explored and recorded like the others, never trained on (anyio has match
#: statements and isinstance chains, so is_exhaustive is asked about on code the student never saw)
DEFAULT_HELD_OUT = ("anyio", "cattrs")


def installed_package(name: str) -> Path:
    """The folder of an importable package (``httpx`` -> ``.../site-packages/httpx``); ValueError when it is not
    installed or is a single module."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"package {name!r} is not installed here (or is a single module, not a package)")
    return Path(next(iter(spec.submodule_search_locations)))


def _repositories(args: argparse.Namespace) -> list[Path]:
    if args.repo or args.repos:
        from teacher.repositories import read_repository_list

        return [*(args.repo or []), *(read_repository_list(args.repos) if args.repos else [])]
    return [installed_package(name) for name in args.package or DEFAULT_PACKAGES]


def _record_repositories(args: argparse.Namespace, repos: Sequence[Path]) -> int:
    from teacher.record import main as record

    argv = [*(f"--repo={repo}" for repo in repos), "--queries", "auto", "--count", str(args.count),
            "--out", str(args.recordings), "--resume", "--budget", str(args.budget),
            "--max-depth", str(args.max_depth), "--breadth", str(args.breadth)]
    argv += ["--teacher", args.teacher]  # any backend can teach: a local gguf:PATH or ollama:NAME too
    if args.batch:
        argv.append("--batch")
    return record(argv)


def _record_synthetic(args: argparse.Namespace, packages: tuple[str, ...]) -> Path:
    """The synthetic questions, their code harvested from the standard library and the trained-on ``packages``
    (never a held-out one), as one session that goes to train whole."""
    from tasks.score_edge.generate import record

    log: Path = asyncio.run(record(args.synthetic, args.seed, args.recordings / "synthetic", packages, split="train"))
    return log


def _record_cli_intent(args: argparse.Namespace) -> Path:
    """The gh requests, generated resumably, as a session log of ``cli_intent:gh`` turns."""
    from tasks.cli_intent.generate import generate, teacher_backend
    from tasks.cli_intent.generation import example_turns
    from tasks.cli_intent.shipped import resolve_schema

    schema, _ = resolve_schema(args.cli)
    count = args.cli_per_subcommand * len(schema.pair_names())
    backend = teacher_backend(args.teacher, schema)
    folder: Path = args.recordings / "cli_intent"
    examples, _, _ = asyncio.run(generate(schema, count, folder / "progress", backend, seed=args.seed))
    log = folder / "sessions" / f"{schema.cli_name}.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("".join(line + "\n" for line in example_turns(schema, examples)), encoding="utf-8")
    return log


def main(argv: Sequence[str] | None = None) -> int:
    parser = CommandParser(prog="python -m converters.dataset", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("training/data/real"), help="the data set's folder")
    parser.add_argument("--recordings", type=Path, default=Path("training/recordings/real"),
                        help="where every session is recorded (a rerun resumes from it)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--package", action="append", metavar="NAME",
                       help=f"an installed package to explore (repeatable; default: {' '.join(DEFAULT_PACKAGES)})")
    where.add_argument("--repo", type=Path, action="append", help="a code base to explore (repeatable)")
    parser.add_argument("--repos", type=Path, help="a file of code bases to explore, one path per line")
    parser.add_argument("--held-out", action="append", metavar="NAME",
                        help="a repository (folder name) held out of training, its sessions the eval split "
                             f"(repeatable; default: {' '.join(DEFAULT_HELD_OUT)} for the default packages)")
    parser.add_argument("--count", type=positive_int, default=30, help="queries proposed per repository")
    add_exploration_flags(parser)
    parser.add_argument("--synthetic", type=non_negative_int, default=2000,
                        help="synthetic score_edge questions on harvested real code (trained on only)")
    parser.add_argument("--cli", default="gh", help="the CLI schema of the CLI-intent examples (a shipped name or "
                                                    "a YAML file)")
    parser.add_argument("--cli-per-subcommand", type=non_negative_int, default=50,
                        help="CLI-intent examples per subcommand (0: none)")
    add_backend_flag(parser, "teacher", default="heuristic",
                     help="who answers: heuristic (offline), haiku[:MODEL] (ANTHROPIC_API_KEY), or a local model: "
                          "ollama:NAME, gguf:PATH, hf:DIR")
    parser.add_argument("--batch", action="store_true", help="send the teacher's requests as Message Batches")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of the generators and the order")
    parser.add_argument("--workers", type=workers, default=os.cpu_count() or 1, help="processes for the rebuild")
    args = parser.parse_args(argv)
    try:
        repos = _repositories(args)
    except (OSError, ValueError) as error:
        parser.error(str(error))
    default_packages = not (args.repo or args.repos or args.package)
    held = tuple(args.held_out or (DEFAULT_HELD_OUT if default_packages else ()))
    if not held:
        parser.error("name at least one --held-out repository: the eval split is whole repositories")
    names = {repo.name for repo in repos}
    unknown = [name for name in held if name not in names]
    if unknown:
        parser.error(f"--held-out {', '.join(unknown)} is not among the repositories ({', '.join(sorted(names))})")
    if len(held) >= len(repos):
        parser.error("every repository is held out: nothing is left to train on")
    started = time.perf_counter()
    args.recordings.mkdir(parents=True, exist_ok=True)
    logger.info("recording %d repositories (%s held out) under %s", len(repos), ", ".join(held), args.recordings)
    code = _record_repositories(args, repos)
    if code != 0:
        print(f"converters.dataset: recording the repositories failed (exit {code}); run again to resume",
              file=sys.stderr)
        return code
    if args.synthetic:
        logger.info("recording %d synthetic score_edge questions", args.synthetic)
        trained = tuple(name for name in (args.package or (DEFAULT_PACKAGES if default_packages else ()))
                        if name not in held)
        _record_synthetic(args, trained)
    if args.cli_per_subcommand:
        logger.info("generating %s CLI-intent examples (%d per subcommand)", args.cli, args.cli_per_subcommand)
        _record_cli_intent(args)
    options = Options(out=args.out, format="messages", with_inputs=True, seed=args.seed, eval_repos=frozenset(held))
    try:
        stats = rebuild([args.recordings / "repos", *(p for p in (args.recordings / "synthetic",
                                                                  args.recordings / "cli_intent" / "sessions")
                                                      if p.is_dir())], options, workers=args.workers)
    except (MalformedRecord, OSError) as error:
        print(f"converters.dataset: {error}", file=sys.stderr)
        return 1
    summary = stats_dict(stats, options)
    print(f"data set {args.out}: train {summary['train']}, eval {summary['eval']} (held out: {', '.join(held)}) "
          f"in {time.perf_counter() - started:.0f} s")
    for task, split in summary["examples"].items():
        print(f"  {task}: train {split['train']}, eval {split['eval']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
