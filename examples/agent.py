"""Agent code as a user writes it: explore a repository for a topic with the production student.

    python -m examples.agent --repo examples/sample_repo --topic "How is the order total computed?" \\
        --seed order_total [--model functiongemma-student] [--host http://127.0.0.1:11434] [--gguf student.gguf]

The student is Ollama's, or the embedded llama.cpp one when ``--gguf`` is given. It answers every model
question; with Ollama, invalid answers take the original system's fallback, which the result reports.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from interpreters.llamacpp import LlamaCppStudent, StudentModelMissing
from interpreters.lsp import LspServer
from interpreters.ollama import OllamaStudent, StudentUnavailable
from teacher.cli_args import positive_int, user_text
from teacher.explore import Exploration, TeachQuery, explore, module_prefix
from teacher.handlers import interpret
from teacher.model import ModelBackend


async def explore_with_student(repo: Path, query: TeachQuery, student: ModelBackend) -> Exploration:
    """Run the exploration program with the LSP of ``repo`` and the student answering."""
    async with LspServer(repo) as lsp, interpret(lsp, student):
        return await explore(query, module_prefix=module_prefix(repo))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.agent", description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="repository to explore")
    parser.add_argument("--topic", type=user_text, required=True, help="what to explore for")
    parser.add_argument("--seed", type=user_text, action="append", required=True,
                        help="symbol to start from (repeatable)")
    parser.add_argument("--budget", type=positive_int, default=20, help="most symbols visited (default 20)")
    parser.add_argument("--model", default="functiongemma-student", help="the Ollama model of the student")
    parser.add_argument("--host", help="Ollama host (default: OLLAMA_HOST, else http://127.0.0.1:11434)")
    parser.add_argument("--gguf", type=Path, help="run this GGUF in-process with llama.cpp instead of Ollama")
    args = parser.parse_args(argv)
    if not args.repo.is_dir():
        parser.error(f"--repo {args.repo} is not a directory")
    query = TeachQuery(topic=args.topic, seeds=tuple(args.seed), budget=args.budget)
    student: ModelBackend
    try:
        if args.gguf:
            student = LlamaCppStudent(args.gguf)
        else:
            student = OllamaStudent(model=args.model, host=args.host, on_invalid="fallback")
        result = asyncio.run(explore_with_student(args.repo, query, student))
    except (StudentUnavailable, StudentModelMissing) as error:
        print(f"examples.agent: {error}", file=sys.stderr)
        return 2
    print(f"core: {', '.join(result.document.core)}")
    print(f"prerequisites: {', '.join(result.document.prerequisites)}")
    print(f"support: {', '.join(result.document.support)}")
    if isinstance(student, OllamaStudent):
        print(f"student answers: {student.outcomes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
