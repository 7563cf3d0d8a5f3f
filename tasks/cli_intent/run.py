"""A request in, a command line out: ``python -m tasks.cli_intent.run --schema gh --student gguf:PATH "..."``.

The runtime gathers the context the schema asks for (``tasks/cli_intent/context.py``), asks the student
through any backend (``interpreters/backends.py``), validates the call with the task's rules and turns a
``run_command`` into an argv from the schema (``tasks/cli_intent/command.py``). Then it acts on the
confidence band:

- ``execute`` (0.9 or more): the command is printed, and run only with ``--execute``;
- ``confirm`` (0.7 to 0.9): with ``--execute`` it asks ``Run it? [y/N]`` first;
- ``clarify`` (below 0.7, or a ``clarify`` call): the message and the suggestions as a numbered choice; a
  chosen suggestion asks the student again with that command named.

``--json`` prints one JSON object (``kind``, ``band``, ``argv``, ``command``, ``message``, ``suggestions``,
``context``, ``executed``, ``returncode``) and never prompts: only the ``execute`` band runs, with
``--execute``. Nothing runs without ``--execute``; the argv goes to the program directly, never to a shell.
Exit codes: 0 done (shown, run, or declined), the command's own code when run, 1 a refused answer or a
failing student, 2 bad usage, 127 the program is not installed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from interpreters.backends import USAGE, BackendSpecError, build_backend, parse_backend_spec
from tasks.cli_intent.command import CommandRefused, command_argv, display
from tasks.cli_intent.context import gather_context
from tasks.cli_intent.schema import CliSchema, SchemaError
from tasks.cli_intent.shipped import resolve_schema
from tasks.cli_intent.task import CliIntentInput, CliIntentTask
from tasks.cli_intent.tools import Clarify, CliContext, RunCommand
from tasks.cli_intent.validate import CLARIFY_BELOW, validate_answer
from teacher.cli_args import CommandParser, seconds, user_text
from teacher.model import ModelBackend, request_for

__all__ = [
    "DEFAULT_STUDENT", "EXECUTE_FROM", "Band", "Interpretation", "band_of", "default_student", "interpret_request",
    "main",
]

#: Where ``python -m finetune pipeline --name CLI --schema CLI`` leaves the student: the default ``--student``.
DEFAULT_STUDENT = "training/models/{cli}/{cli}-q8_0.gguf"
#: From this confidence a command is shown as ready to run (below it, down to 0.7, it needs confirmation).
EXECUTE_FROM = 0.9
Band = Literal["execute", "confirm", "clarify", "refused"]


def band_of(confidence: float) -> Band:
    """The band of a confidence: execute (>= 0.9), confirm (>= 0.7) or clarify."""
    if confidence >= EXECUTE_FROM:
        return "execute"
    return "confirm" if confidence >= CLARIFY_BELOW else "clarify"


@dataclass
class Interpretation:
    """What the student made of a request: a command (``argv``), a clarification, or a refused answer."""

    kind: Literal["command", "clarify", "refused"]
    band: Band
    confidence: float | None = None
    argv: list[str] = field(default_factory=list)
    message: str = ""
    suggestions: list[str] = field(default_factory=list)
    context: CliContext | None = None
    latency_s: float = 0.0

    @property
    def command(self) -> str:
        """The argv shell-quoted for display ('' when there is none)."""
        return display(self.argv) if self.argv else ""

    def as_dict(self) -> dict[str, Any]:
        """The machine-readable answer (``--json``)."""
        return {
            "kind": self.kind, "band": self.band, "confidence": self.confidence, "argv": self.argv,
            "command": self.command, "message": self.message, "suggestions": self.suggestions,
            "context": None if self.context is None else self.context.model_dump(exclude_none=True),
            "latency_s": round(self.latency_s, 6),
        }


async def interpret_request(
    request: str, schema: CliSchema, backend: ModelBackend, context: CliContext | None = None
) -> Interpretation:
    """Ask ``backend`` for the command of ``request``; the answer validated, as an argv or a clarification."""
    started = time.perf_counter()
    task = CliIntentTask(schema)
    input = CliIntentInput(request=request, context=context)
    reply = await backend.complete(request_for(task, input))

    def done(result: Interpretation) -> Interpretation:
        result.context, result.latency_s = context, time.perf_counter() - started
        return result

    if not reply.calls:
        reason = reply.meta.get("format_error") or "the student made no tool call"
        return done(Interpretation("refused", "refused", message=str(reason)))
    call = reply.calls[0]
    answer, problems = validate_answer(call.name, call.arguments, schema)  # the task's rules (task.parse)
    if answer is None:
        # A command below 0.7 breaks only the confidence rule: it is a clarification of that command.
        answer = _low_confidence_command(call.name, call.arguments, schema)
        if answer is None:
            return done(Interpretation("refused", "refused", message="; ".join(str(p) for p in problems)))
    if isinstance(answer, Clarify):
        return done(Interpretation("clarify", "clarify", answer.confidence, message=answer.message,
                                   suggestions=list(answer.suggestions)))
    try:
        argv = command_argv(answer, schema)
    except CommandRefused as error:
        return done(Interpretation("refused", "refused", message=str(error)))
    band = band_of(answer.confidence)
    if band == "clarify":
        pair = f"{answer.command} {answer.subcommand}"
        return done(Interpretation("clarify", "clarify", answer.confidence, argv=argv,
                                   message=f"Not sure this is meant: {display(argv)}", suggestions=[pair]))
    return done(Interpretation("command", band, answer.confidence, argv=argv))


def _low_confidence_command(name: str, arguments: Any, schema: CliSchema) -> RunCommand | None:
    """A ``run_command`` whose only fault is a confidence below 0.7, else None."""
    if name != "run_command" or not isinstance(arguments, dict):
        return None
    try:
        answer = RunCommand.model_validate(arguments)
        command_argv(answer, schema)
    except (ValueError, CommandRefused):
        return None
    return answer if answer.confidence < CLARIFY_BELOW else None


# ------------------------------------------------------------------------------------------------ command line


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="python -m tasks.cli_intent.run",
        description="Turn a request into a command of a CLI with a trained student; run it only with --execute.",
    )
    parser.add_argument("request", type=user_text, help="what you want, in words")
    parser.add_argument("--schema", default="gh", help="a shipped schema name (gh) or a schema YAML file")
    parser.add_argument("--student", default=None,
                        help=f"the backend: {USAGE} (default: the student `python -m finetune pipeline --name "
                             f"CLI --schema CLI` trains, {DEFAULT_STUDENT.format(cli='CLI')} under --cwd)")
    parser.add_argument("--execute", action="store_true", help="run the command (after confirmation when asked)")
    parser.add_argument("--json", action="store_true", help="print one JSON object; never prompts")
    parser.add_argument("--no-context", action="store_true", help="do not gather git/gh context")
    parser.add_argument("--cwd", type=Path, default=Path.cwd(), help="where context is gathered and the command runs")
    parser.add_argument("--context-timeout", type=seconds, default=2.0, help="seconds for each context provider")
    return parser


def default_student(cli_name: str, cwd: Path) -> str | None:
    """The spec of the student trained for ``cli_name`` in its documented place under ``cwd``, or None."""
    path = cwd / DEFAULT_STUDENT.format(cli=cli_name)
    return f"gguf:{path}" if path.is_file() else None


def _ask(prompt: str, read: Callable[[str], str]) -> str:
    try:
        return read(prompt).strip()
    except EOFError:
        return ""


def _run(argv: list[str], cwd: Path) -> int:
    program = shutil.which(argv[0])
    if program is None:
        print(f"{argv[0]} is not installed (not on PATH); the command was not run", file=sys.stderr)
        return 127
    return subprocess.run([program, *argv[1:]], cwd=cwd, check=False).returncode  # no shell, ever


def main(
    argv: Sequence[str] | None = None, *, backend: ModelBackend | None = None,
    read: Callable[[str], str] = input,
) -> int:
    """The command line; ``backend`` replaces ``--student`` (tests), ``read`` answers the prompts."""
    args = _parser().parse_args(argv)
    try:
        schema, _ = resolve_schema(args.schema)
        if backend is None and args.student is None:
            args.student = default_student(schema.cli_name, args.cwd)
            if args.student is None:
                where = args.cwd / DEFAULT_STUDENT.format(cli=schema.cli_name)
                print(f"no student for {schema.cli_name}: none trained at {where}; pass --student gguf:PATH "
                      f"(or ollama:NAME, haiku), or train one: python -m finetune pipeline --name "
                      f"{schema.cli_name} --schema {args.schema}", file=sys.stderr)
                return 2
        model = backend or build_backend(parse_backend_spec(args.student))
    except (SchemaError, BackendSpecError) as error:
        print(error, file=sys.stderr)
        return 2
    except Exception as error:  # a backend that cannot start (a missing GGUF): one line
        print(f"--student {args.student}: {error}", file=sys.stderr)
        return 2
    context = None if args.no_context else gather_context(schema.context, args.cwd, timeout=args.context_timeout)
    try:
        result = asyncio.run(interpret_request(args.request, schema, model, context))
    except Exception as error:
        print(f"the student failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    if args.json:
        return _answer_json(result, args)
    return _answer_text(result, args, schema, model, context, read)


def _answer_json(result: Interpretation, args: argparse.Namespace) -> int:
    out = result.as_dict() | {"executed": False, "returncode": None}
    code = 1 if result.kind == "refused" else 0
    if args.execute and result.band == "execute":
        sys.stdout.flush()
        out["returncode"] = code = _run(result.argv, args.cwd)
        out["executed"] = code != 127
    print(json.dumps(out))
    return code


def _answer_text(
    result: Interpretation, args: argparse.Namespace, schema: CliSchema, model: ModelBackend,
    context: CliContext | None, read: Callable[[str], str], asked_again: bool = False,
) -> int:
    if result.kind == "refused":
        print(f"the student's answer was refused: {result.message}", file=sys.stderr)
        return 1
    if result.kind == "clarify":
        print(result.message)
        if not result.suggestions:
            return 0
        for number, suggestion in enumerate(result.suggestions, 1):
            print(f"  {number}. {schema.cli_name} {suggestion}")
        if asked_again:
            return 0
        choice = _ask(f"Choose 1-{len(result.suggestions)} (Enter to cancel): ", read)
        if not (choice.isdigit() and 1 <= int(choice) <= len(result.suggestions)):
            return 0
        request = f"{result.suggestions[int(choice) - 1]}: {args.request}"
        again = asyncio.run(interpret_request(request, schema, model, context))
        return _answer_text(again, args, schema, model, context, read, asked_again=True)
    print(result.command)
    if not args.execute:
        if result.band == "confirm":
            print(f"(confidence {result.confidence:.2f}: check it; --execute asks before running it)")
        else:
            print("(not run: pass --execute to run it)")
        return 0
    if result.band == "confirm" and _ask("Run it? [y/N] ", read).lower() not in ("y", "yes"):
        print("not run")
        return 0
    sys.stdout.flush()
    return _run(result.argv, args.cwd)


if __name__ == "__main__":
    sys.exit(main())
