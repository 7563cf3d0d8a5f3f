"""The ``generate_examples`` command of every subagent domain: ``python -m tasks.subagents.DOMAIN.generate_examples``.

Each drawn conversation (:mod:`tasks.subagents.generation`) is run again as a subagent session under ``Recording``
(:func:`~tasks.subagents.generation.record_drawn`: a scripted teacher makes its calls, the tools really run on a
fresh copy of its fixture; under ``--record DIR``, else a temporary folder), each session naming its split, and
``converters.rebuild`` makes ``OUT/{train,eval}.jsonl`` from those sessions (its writer and de-duplication; every
session goes whole to the split it names). A command, it stands on the applications floor; the domains' examples
import the generator from :mod:`tasks.subagents.generation`, whose names it also offers.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from converters.functiongemma import BOS, PROFILES, render_prompt
from tasks.subagents.definition import DefinitionError
from tasks.subagents.generation import (
    PLACES,
    Case,
    Domain,
    Drawn,
    generate,
    instantiate,
    load_index,
    record_drawn,
)
from tasks.subagents.task import SubagentTask
from teacher.cli_args import CommandParser, Number, output_problem, positive_int, seed

__all__ = ["PLACES", "Case", "Domain", "Drawn", "generate", "instantiate", "load_index", "main", "record_drawn"]


def _write(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def main(domain: Domain, argv: Sequence[str] | None = None) -> int:
    """The ``generate_examples`` command of one domain."""
    name = domain.subagent.name
    parser = CommandParser(
        prog=f"python -m tasks.subagents.{name}.generate_examples",
        description=f"Generate {name} subagent training conversations from fixtures and trajectory templates "
        "(every tool result comes from running the tool). Writes OUT/{train,eval}.jsonl ({\"messages\", "
        "\"tools\"}) and OUT/{train,eval}.text.jsonl ({\"text\"}: FunctionGemma text).",
    )
    parser.add_argument("--count", type=positive_int, default=domain.default_count,
                        help="examples in all")
    parser.add_argument("--split", type=Number(float, minimum=0, maximum=1, open_minimum=True), default=0.9,
                        help="fraction of examples in train, in (0, 1]")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the draw")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--profile", choices=PROFILES, default="hf", help="codec profile of the text")
    parser.add_argument("--record", type=Path, metavar="DIR",
                        help="keep the sessions the dataset is rebuilt from under DIR (unset: a temporary folder)")
    args = parser.parse_args(argv)
    for flag, folder in (("--out", args.out), ("--record", args.record)):
        problem = output_problem(folder, directory=True) if folder is not None else None
        if problem is not None:
            print(f"{parser.prog}: {flag} {folder}: {problem}", file=sys.stderr)
            return 1
    from converters.rebuild import Options, rebuild

    started = time.perf_counter()
    drawn: list[Drawn] = []
    try:
        with tempfile.TemporaryDirectory(prefix="subagent-sessions-") as scratch:
            generate(domain, args.count, args.split, args.seed, drawn)
            logs = asyncio.run(record_drawn(domain, drawn, args.record or Path(scratch)))
            task = SubagentTask(domain.subagent.definition).name
            rebuild(logs, Options(out=args.out, tasks=frozenset({task}), format="messages", split=args.split,
                                  seed=args.seed, negatives="none", group_by="symbol"))
        train, evaluation = (_rows(args.out / f"{split}.jsonl") for split in ("train", "eval"))
        (args.out / "text").mkdir(parents=True, exist_ok=True)
        for split, rows in (("train", train), ("eval", evaluation)):
            texts = [{"text": render_prompt(r["messages"], json.loads(r["tools"]), profile=args.profile,
                                            add_generation_prompt=False).removeprefix(BOS)} for r in rows]
            _write(args.out / "text" / f"{split}.jsonl", texts)
    except (DefinitionError, ValueError, OSError) as error:
        print(f"{parser.prog}: {error}", file=sys.stderr)
        return 1
    calls = [sum(1 for m in r["messages"] if m.get("tool_calls")) - 1 for r in train + evaluation]
    print(f"{name}: train {len(train)}, eval {len(evaluation)} in {args.out} "
          f"({min(calls)}-{max(calls)} tool calls before submit_result, {time.perf_counter() - started:.1f} s)")
    return 0
