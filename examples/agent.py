"""Agent code as a user writes it: explore a repository for a topic with the production student.

    python -m examples.agent --repo examples/sample_repo --topic "How is the order total computed?" \\
        --symbol order_total [--ollama-model functiongemma-student] [--ollama-host http://127.0.0.1:11434]
    python -m examples.agent ... --student gguf:student.gguf

The student is Ollama's unless ``--student`` names another backend (``gguf:PATH``, ``hf:DIR``; ``--gguf PATH``
still works). It answers every model question; with Ollama, invalid answers take the original system's
fallback, which the result reports.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from interpreters.backends import BackendSpecError, add_backend_flag, build_backend
from interpreters.lsp import LspServer
from interpreters.ollama import OllamaStudent
from teacher.cli_args import (
    CommandParser,
    add_hidden_alias,
    counts,
    user_text,
)
from teacher.explore import Exploration, TeachQuery, add_exploration_flags, explore, module_prefix
from teacher.handlers import interpret
from teacher.model import ModelBackend
from teacher.operations import OperationFailed


async def explore_with_student(repo: Path, query: TeachQuery, student: ModelBackend) -> Exploration:
    """Run the exploration program with the LSP of ``repo`` and the student answering."""
    async with LspServer(repo) as lsp, interpret(lsp, student):
        return await explore(query, module_prefix=module_prefix(repo))


def main(argv: list[str] | None = None) -> int:
    parser = CommandParser(prog="python -m examples.agent", description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="repository to explore")
    parser.add_argument("--topic", type=user_text, required=True, help="what to explore for")
    parser.add_argument("--symbol", type=user_text, action="append", required=True,
                        help="symbol to start from (repeatable)")
    add_exploration_flags(parser)
    student_flag = add_backend_flag(parser, "student", default="ollama", companions=("ollama",), older=("gguf",),
                                    help="the student: ollama[:NAME], gguf:PATH or hf:DIR")
    parser.add_argument("--gguf", type=Path, help="run this GGUF in-process with llama.cpp (--student gguf:PATH)")
    add_hidden_alias(parser, "--model", dest="ollama_model")  # the older spellings
    add_hidden_alias(parser, "--host", dest="ollama_host")
    args = parser.parse_args(argv)
    if not args.repo.is_dir():
        parser.error(f"--repo {args.repo} is not a directory")
    if args.gguf:  # --gguf PATH alone picks the embedded student
        args.student = "llamacpp"
    spec = student_flag.spec(parser, args)
    assert spec is not None  # --student has a default
    query = TeachQuery(topic=args.topic, seeds=tuple(args.symbol), budget=args.budget, max_depth=args.max_depth,
                       breadth=args.breadth)
    try:
        student = build_backend(spec, {"host": args.ollama_host, "on_invalid": "fallback"})
        result = asyncio.run(explore_with_student(args.repo, query, student))
    except BackendSpecError as error:
        print(f"examples.agent: --student {spec}: {error}", file=sys.stderr)
        return 2
    except OperationFailed as error:  # the student is not there (its server is down, no GGUF at the path)
        if not error.fatal:
            raise
        print(f"examples.agent: {error}", file=sys.stderr)
        return 2
    print(f"core: {', '.join(result.document.core)}")
    print(f"prerequisites: {', '.join(result.document.prerequisites)}")
    print(f"support: {', '.join(result.document.support)}")
    if isinstance(student, OllamaStudent):
        print(f"student answers: {counts(sorted(student.outcomes.items()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
