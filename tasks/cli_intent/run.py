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

**Resident.** ``--serve`` loads the student once and answers requests on a local unix socket (``--socket``; by
default one per CLI under ``$XDG_RUNTIME_DIR`` or the temporary folder, :func:`default_socket`), one JSON line in
(``{"request": ..., "context": ...}``, optionally the ``schema``, ``student`` and ``retrieve`` the client
expects) and one JSON line out (the ``--json`` answer's fields, or ``{"error": ...}``, one line, for a bad
request). A GGUF student keeps the declarations' KV cache between requests, and with ``--retrieve`` the caches
of recent subsets too. The plain command asks a daemon serving its socket (same schema, student and
``--retrieve``) and loads the student itself only when none answers (``--no-daemon``: never ask one); context is
gathered and the command run by the plain command, where the user is.

**Retrieval.** ``--retrieve K`` declares only the K subcommands :mod:`tasks.cli_intent.retrieve` finds likeliest
for the request: a shorter prompt and a narrower call grammar. Use it with a student trained on the same
subsets (``python -m tasks.cli_intent.generate --retrieve K``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from interpreters.backends import USAGE, BackendSpecError, add_backend_flag, build_backend, parse_backend_spec
from tasks.cli_intent.command import CommandRefused, command_argv, display
from tasks.cli_intent.context import gather_context
from tasks.cli_intent.schema import CliSchema, SchemaError
from tasks.cli_intent.shipped import resolve_schema
from tasks.cli_intent.task import CliIntentInput, CliIntentTask
from tasks.cli_intent.tools import Clarify, CliContext, RunCommand
from tasks.cli_intent.validate import CLARIFY_BELOW, validate_answer
from teacher.cli_args import CommandParser, non_negative_int, positive_int, seconds, user_text
from teacher.errors import FineTrainingError
from teacher.model import ModelBackend, request_for

__all__ = [
    "DEFAULT_STUDENT", "EXECUTE_FROM", "PREFIX_STATES", "Band", "DaemonUnavailable", "Interpretation", "ServeRequest",
    "ask_daemon", "band_of", "default_socket", "default_student", "interpret_request", "main", "serve",
]

#: Where ``python -m finetune pipeline --name CLI --schema CLI`` leaves the student: the default ``--student``.
DEFAULT_STUDENT = "training/models/{cli}/{cli}-q8_0.gguf"
#: From this confidence a command is shown as ready to run (below it, down to 0.7, it needs confirmation).
EXECUTE_FROM = 0.9
#: the declaration prefixes (retrieved subsets) whose KV caches a resident GGUF student keeps
PREFIX_STATES = 32
#: the longest request line a daemon reads
MAX_LINE = 1 << 16
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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Interpretation:
        """The answer :meth:`as_dict` wrote (a daemon's)."""
        context = data.get("context")
        return cls(data["kind"], data["band"], data.get("confidence"), list(data.get("argv") or []),
                   data.get("message") or "", list(data.get("suggestions") or []),
                   None if context is None else CliContext.model_validate(context), float(data.get("latency_s", 0)))


async def interpret_request(
    request: str, schema: CliSchema, backend: ModelBackend, context: CliContext | None = None,
    task: CliIntentTask | None = None,
) -> Interpretation:
    """Ask ``backend`` for the command of ``request``; the answer validated, as an argv or a clarification.
    ``task``: the task to ask (``CliIntentTask(schema, retrieve=K)`` to declare retrieved subsets; by default the
    whole schema)."""
    started = time.perf_counter()
    task = task or CliIntentTask(schema)
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


# ------------------------------------------------------------------------------------------------ resident daemon


class DaemonUnavailable(OSError, FineTrainingError):
    """No daemon answers on the socket, or it serves another schema, student or retrieval."""


class ServeRequest(BaseModel):
    """One request line to a daemon; ``schema``, ``student`` and ``retrieve``, when given, must be what it serves."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request: str = Field(min_length=1)
    context: CliContext | None = None
    schema_name: str | None = Field(default=None, alias="schema")
    student: str | None = None
    retrieve: int | None = Field(default=None, ge=0)


def default_socket(cli_name: str) -> Path:
    """The daemon's socket for a CLI: ``$XDG_RUNTIME_DIR/fine-training-teacher/cli-intent-CLI.sock``, or under
    the temporary folder in a folder of this user's (``fine-training-teacher-UID``)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) / "fine-training-teacher" if runtime else \
        Path(tempfile.gettempdir()) / f"fine-training-teacher-{os.getuid()}"
    return base / f"cli-intent-{cli_name}.sock"


def _problem_line(error: ValidationError) -> str:
    item = error.errors()[0]
    where = ".".join(str(p) for p in item["loc"]) or "(line)"
    return f"field {where}: {item['msg']}"


class _Server:
    """What a daemon serves: one schema, one loaded student, one retrieval setting; one request at a time."""

    def __init__(self, schema: CliSchema, schema_name: str, student: str, model: ModelBackend, retrieve: int) -> None:
        self.schema, self.schema_name, self.student, self.model = schema, schema_name, student, model
        self.task = CliIntentTask(schema, retrieve=retrieve)
        self.retrieve = retrieve
        self.lock = asyncio.Lock()

    async def answer(self, line: bytes) -> dict[str, Any]:
        """The answer to one request line, or ``{"error": ...}`` (one line) for a line that is not a request."""
        try:
            data = json.loads(line)
        except (UnicodeDecodeError, ValueError) as error:
            return {"error": f"not a JSON request: {error}"}
        if not isinstance(data, dict):
            return {"error": "a request is a JSON object with 'request' (and 'context')"}
        try:
            ask = ServeRequest.model_validate(data)
        except ValidationError as error:
            return {"error": _problem_line(error)}
        for name, wanted, served in (("schema", ask.schema_name, self.schema_name),
                                     ("student", ask.student, self.student), ("retrieve", ask.retrieve, self.retrieve)):
            if wanted is not None and wanted != served:
                return {"error": f"this daemon serves {name} {served!r}, not {wanted!r}"}
        async with self.lock:
            try:
                result = await interpret_request(ask.request, self.schema, self.model, ask.context, self.task)
            except Exception as error:  # the student failed: the client hears it, the daemon goes on
                return {"error": f"the student failed: {type(error).__name__}: {error}"}
        return result.as_dict()

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                if not line.endswith(b"\n") and len(line) >= MAX_LINE:
                    out: dict[str, Any] = {"error": f"a request line is at most {MAX_LINE} bytes"}
                else:
                    out = await self.answer(line) if line.strip() else {"error": "an empty line is not a request"}
                writer.write(json.dumps(out).encode() + b"\n")
                await writer.drain()
        except (ValueError, ConnectionError):  # a line over the limit, or a client gone
            with contextlib.suppress(ConnectionError):
                writer.write(json.dumps({"error": f"a request line is at most {MAX_LINE} bytes"}).encode() + b"\n")
        finally:
            writer.close()


def _answers(path: Path) -> bool:
    """Whether something listens on the unix socket ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


async def serve(
    path: Path, schema: CliSchema, schema_name: str, student: str, model: ModelBackend, retrieve: int = 0,
    ready: Callable[[], None] | None = None,
) -> None:
    """Answer requests on the unix socket ``path`` until cancelled (or SIGTERM/SIGINT); the socket file is
    removed on the way out. ``ready`` is called once the socket listens."""
    server_state = _Server(schema, schema_name, student, model, retrieve)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists():
        if _answers(path):
            raise DaemonUnavailable(f"{path}: a daemon already serves this socket")
        path.unlink()  # left by a daemon that died
    server = await asyncio.start_unix_server(server_state.connection, path=str(path), limit=MAX_LINE)
    os.chmod(path, 0o600)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError, NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(signum, stop.set)
    try:
        async with server:
            if ready is not None:
                ready()
            await stop.wait()
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def ask_daemon(path: Path, request: str, context: CliContext | None = None, *, schema: str | None = None,
               student: str | None = None, retrieve: int | None = None, timeout: float = 120.0) -> Interpretation:
    """Ask the daemon on ``path``; :class:`DaemonUnavailable` when none answers or it serves something else."""
    line = {"request": request, "context": None if context is None else context.model_dump(exclude_none=True),
            "schema": schema, "student": student, "retrieve": retrieve}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        try:
            conn.connect(str(path))
            conn.sendall(json.dumps({k: v for k, v in line.items() if v is not None}).encode() + b"\n")
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = conn.recv(1 << 16)
                if not chunk:
                    break
                reply += chunk
        except OSError as error:
            raise DaemonUnavailable(f"{path}: {error}") from None
    try:
        data = json.loads(reply)
    except ValueError:
        raise DaemonUnavailable(f"{path}: the daemon's answer is not JSON") from None
    if "error" in data:
        raise DaemonUnavailable(f"{path}: {data['error']}")
    return Interpretation.from_dict(data)


# ------------------------------------------------------------------------------------------------ command line


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="python -m tasks.cli_intent.run",
        description="Turn a request into a command of a CLI with a trained student; run it only with --execute. "
                    "--serve keeps the student resident on a local socket, which the plain command then asks.",
    )
    parser.add_argument("request", type=user_text, nargs="?", help="what you want, in words (none with --serve)")
    parser.add_argument("--schema", default="gh", help="a shipped schema name (gh) or a schema YAML file")
    add_backend_flag(parser, "student", metavar=None,
                     help=f"the backend: {USAGE} (default: the student `python -m finetune pipeline --name "
                          f"CLI --schema CLI` trains, {DEFAULT_STUDENT.format(cli='CLI')} under --cwd)")
    parser.add_argument("--execute", action="store_true", help="run the command (after confirmation when asked)")
    parser.add_argument("--json", action="store_true", help="print one JSON object; never prompts")
    parser.add_argument("--no-context", action="store_true", help="do not gather git/gh context")
    parser.add_argument("--cwd", type=Path, default=Path.cwd(), help="where context is gathered and the command runs")
    parser.add_argument("--context-timeout", type=seconds, default=2.0, help="seconds for each context provider")
    parser.add_argument("--retrieve", type=non_negative_int, default=0, metavar="K",
                        help="declare only the K subcommands likeliest for the request (a student trained with "
                             "`tasks.cli_intent.generate --retrieve K`); 0: the whole schema")
    parser.add_argument("--serve", action="store_true",
                        help="keep the student resident and answer requests on --socket until stopped")
    parser.add_argument("--socket", type=Path, default=None,
                        help="the daemon's unix socket (default: cli-intent-CLI.sock under $XDG_RUNTIME_DIR or "
                             "the temporary folder)")
    parser.add_argument("--max-tokens", type=positive_int, default=None,
                        help="the completion cap of a gguf student (unset: the student's own, 256)")
    parser.add_argument("--no-daemon", action="store_true", help="never ask a running daemon; load the student here")
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


def _student_options(student: str, max_tokens: int | None, resident: bool) -> dict[str, Any]:
    """The options of a GGUF student: its completion cap, and, resident, the KV caches it keeps between requests
    (other backends take none of these)."""
    if parse_backend_spec(student).kind != "gguf":
        return {}
    options: dict[str, Any] = {} if max_tokens is None else {"max_tokens": max_tokens}
    return options | ({"reuse_prefix": True, "prefix_states": PREFIX_STATES} if resident else {})


def main(
    argv: Sequence[str] | None = None, *, backend: ModelBackend | None = None,
    read: Callable[[str], str] = input,
) -> int:
    """The command line; ``backend`` replaces ``--student`` (tests), ``read`` answers the prompts."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.serve == (args.request is not None):
        parser.error("give a request, or --serve (not both)")
    try:
        schema, _ = resolve_schema(args.schema)
        if args.student is not None:
            spec = parse_backend_spec(args.student)
            if spec.kind == "gguf":  # one spelling of a GGUF, so a daemon and its clients recognise each other
                args.student = f"gguf:{Path(spec.value).expanduser().resolve()}"
    except (SchemaError, BackendSpecError) as error:
        print(error, file=sys.stderr)
        return 2
    path = args.socket or default_socket(schema.cli_name)
    asked_student = args.student  # what a daemon must serve (None: whichever student it serves)
    if backend is None and args.student is None:
        args.student = default_student(schema.cli_name, args.cwd)
    daemon = backend is None and not args.serve and not args.no_daemon and path.exists()
    if backend is None and args.student is None and not daemon:
        where = args.cwd / DEFAULT_STUDENT.format(cli=schema.cli_name)
        print(f"no student for {schema.cli_name}: none trained at {where} and no daemon at {path}; pass --student "
              f"gguf:PATH (or ollama:NAME, haiku), or train one: python -m finetune pipeline --name "
              f"{schema.cli_name} --schema {args.schema}", file=sys.stderr)
        return 2
    task = CliIntentTask(schema, retrieve=args.retrieve)
    if args.serve:
        return _serve(args, schema, path, backend)
    context = None if args.no_context else gather_context(schema.context, args.cwd, timeout=args.context_timeout)
    ask: Callable[[str], Interpretation] | None = None
    if daemon:
        ask = functools.partial(_daemon_answer, path, context, args.schema, asked_student, args.retrieve)
        try:
            result = ask(args.request)
        except DaemonUnavailable as error:
            if args.student is None:
                print(f"no student for {schema.cli_name}, and {error}", file=sys.stderr)
                return 2
            print(f"(no daemon answered: {error}; loading the student here)", file=sys.stderr)
            ask = None
    if ask is None:
        try:
            model = backend or build_backend(parse_backend_spec(args.student),
                                             **_student_options(args.student, args.max_tokens, resident=False))
        except Exception as error:  # a backend that cannot start (a missing GGUF): one line
            print(f"--student {args.student}: {error}", file=sys.stderr)
            return 2
        ask = functools.partial(_local_answer, schema, model, context, task)
        try:
            result = ask(args.request)
        except Exception as error:
            print(f"the student failed: {type(error).__name__}: {error}", file=sys.stderr)
            return 1
    if args.json:
        return _answer_json(result, args)
    return _answer_text(result, args, schema, ask, read)


def _daemon_answer(
    path: Path, context: CliContext | None, schema: str, student: str | None, retrieve: int, request: str
) -> Interpretation:
    return ask_daemon(path, request, context, schema=schema, student=student, retrieve=retrieve)


def _local_answer(
    schema: CliSchema, model: ModelBackend, context: CliContext | None, task: CliIntentTask, request: str
) -> Interpretation:
    return asyncio.run(interpret_request(request, schema, model, context, task))


def _serve(args: argparse.Namespace, schema: CliSchema, path: Path, backend: ModelBackend | None) -> int:
    student = args.student or "backend"
    if _answers(path):  # before the student is loaded
        print(f"--socket {path}: a daemon already serves this socket", file=sys.stderr)
        return 2
    try:
        model = backend or build_backend(parse_backend_spec(args.student),
                                         **_student_options(args.student, args.max_tokens, resident=True))
        # loaded and warmed up (the whole schema's declarations evaluated) before the socket listens
        asyncio.run(interpret_request("help", schema, model, None, CliIntentTask(schema, retrieve=args.retrieve)))
    except Exception as error:
        print(f"--student {args.student}: {error}", file=sys.stderr)
        return 2

    def ready() -> None:
        print(f"serving {schema.cli_name} with {student} (retrieve {args.retrieve}) on {path}; stop with Ctrl-C",
              file=sys.stderr, flush=True)

    try:
        asyncio.run(serve(path, schema, args.schema, student, model, args.retrieve, ready))
    except OSError as error:
        print(f"--socket {path}: {error}", file=sys.stderr)
        return 2
    return 0


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
    result: Interpretation, args: argparse.Namespace, schema: CliSchema, ask: Callable[[str], Interpretation],
    read: Callable[[str], str], asked_again: bool = False,
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
        return _answer_text(ask(request), args, schema, ask, read, asked_again=True)
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
