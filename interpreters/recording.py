"""Recording: wrap any model backend and write every exchange to an append-only JSONL session log.

The lines are the typed lines of :mod:`interpreters.records` (``session_start``, ``model``, ``lsp``,
``session_end``), each carrying ``schema`` (:data:`SCHEMA_VERSION`); a line that is not one (another version, a
field of the wrong type) is a :class:`RecordingError` naming FILE:LINE and the field wherever a log is read. A
model line holds the session and turn ids, task, graph node, timestamps, the request exactly as the backend sent
it, the raw response exactly as returned, the calls and reasoning read from it, latency, cost and any error.
Lines are flushed one by one; on resume a torn last line (a writer that died mid-line) and any damaged line in
the middle are each moved aside, alone and with their line number, to ``<log>.torn``; every readable line
around them is kept, and finished turns are answered from the log, never asked again. Credentials are never
written: backends put none in their request, and every line is redacted (a server may echo a key back).

:class:`RecordedSession` is the one session lifecycle (open or resume the log, the start line once, the turns
and LSP answers recorded, the end line) used by explorations, proposals, subagents and the generators.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from converters.functiongemma import ToolCall
from interpreters.records import (
    SCHEMA_VERSION,
    Line,
    LspAnswer,
    ModelTurn,
    RecordedCall,
    RecordingError,
    SessionEnd,
    SessionStart,
    TurnError,
    line_dict,
    parse_record,
    read_lines,
    schema_mismatch,
)
from teacher.errors import FineTrainingError
from teacher.handlers import Handler, interpret
from teacher.model import ModelBackend, ModelReply, ModelRequest, current_node
from teacher.operations import OperationFailed
from teacher.provenance import package_versions
from teacher.redact import REDACTED, redact

if TYPE_CHECKING:
    from interpreters.lsp_replay import LspRecorder

T = TypeVar("T")
L = TypeVar("L", SessionStart, ModelTurn, LspAnswer, SessionEnd)

__all__ = [
    "SCHEMA_VERSION",
    "LogContents",
    "LogWriteError",
    "RecordedSession",
    "Recording",
    "RecordingError",
    "SessionLog",
    "finishing_end",
    "read_log",
    "read_session",
    "reply_from_record",
    "schema_mismatch",
    "turn_key",
]

class LogWriteError(OSError, FineTrainingError):
    """A session log line could not be written (a full disk, a file that became unwritable); names the file."""


@dataclass
class LogContents:
    """What a session log holds: its readable records, a torn last line, and the damaged lines in between."""

    records: list[Line] = field(default_factory=list)
    torn: bytes = b""  # an incomplete last line (no newline): a writer that died mid-line
    damaged: list[tuple[int, bytes]] = field(default_factory=list)  # (1-based line number, raw line)
    #: of the damaged lines, the JSON objects of the wrong shape: what is wrong with each (``FILE:LINE: field: ...``)
    problems: list[str] = field(default_factory=list)


def turn_key(request: ModelRequest) -> str:
    """A stable key for a request: its task, guidance, user text and tool schemas (and a multi-turn task's
    system prompt and history, so that each turn of a conversation has its own key)."""
    parts: list[Any] = [request.task_name, request.guidance, request.user, [t.anthropic() for t in request.tools]]
    if request.system or request.history:
        parts += [request.system, list(request.history)]
    material = json.dumps(parts, sort_keys=True, ensure_ascii=False)
    # a lone surrogate (a file name that is not UTF-8, a \udcff a server sent) gets bytes too; other text is unchanged
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def _lines(data: bytes) -> list[bytes]:
    """The lines of a log, each with its newline (a last line without one is the torn line); only ``\\n`` ends a
    line, so line numbers match what an editor shows."""
    parts = data.split(b"\n")
    return [part + b"\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def read_session(path: Path) -> LogContents:
    """Every readable line of a log, typed; a damaged line (not JSON, or a JSON object that is not a typed line of
    :mod:`interpreters.records`: a finished model line without a key, calls of the wrong shape) is set aside alone
    and the lines after it are kept.

    Raises :class:`RecordingError` (naming FILE:LINE) for a line of another schema version: the whole log is then
    another program's, not one damaged line.
    """
    contents = LogContents()
    if not path.exists():
        return contents
    for read in read_lines(path):
        if not read.raw.endswith(b"\n"):
            contents.torn = read.raw  # only the last line can lack its newline
            break
        if read.error is not None:
            if read.error.field == "schema":
                raise read.error
            contents.damaged.append((read.number, read.raw))
            if read.error.field is not None:  # a JSON object of the wrong shape: say what is wrong with it
                contents.problems.append(str(read.error))
        elif read.line is not None:
            contents.records.append(read.line)
    return contents


def finishing_end(records: Sequence[Line]) -> SessionEnd | None:
    """The ``session_end`` line that finishes the session these records hold, or None. A session is finished only
    when its recorded turns say so: the last ``session_end`` counts when it names the session of the
    ``session_start`` line, follows every model and LSP line, every failed turn was answered later, and a turn count
    it gives (a subagent's) is the number of finished turns; any other is a stray line."""
    ends = [(index, r) for index, r in enumerate(records) if isinstance(r, SessionEnd)]
    if not ends:
        return None
    index, end = ends[-1]
    starts = [r for r in records if isinstance(r, SessionStart)]
    if starts and end.session != starts[0].session:
        return None
    if any(isinstance(r, (ModelTurn, LspAnswer)) for r in records[index:]):
        return None
    turns = [r for r in records if isinstance(r, ModelTurn)]
    finished = [r for r in turns if not r.error]
    answered = {r.key for r in finished}
    if any(r.error and r.key not in answered for r in turns):
        return None
    if end.turns is not None and end.turns != len(finished):
        return None
    return end


def read_log(path: Path) -> tuple[list[Line], bytes]:
    """The readable records of a log, and the bytes of its unreadable lines (a torn last line, damaged lines
    in the middle; empty when every line reads). See :func:`read_session` for the line numbers."""
    contents = read_session(path)
    return contents.records, b"".join(line for _, line in contents.damaged) + contents.torn


class SessionLog:
    """One session's append-only JSONL log; open with ``resume=True`` to continue it."""

    def __init__(self, path: str | Path, *, session_id: str, resume: bool = False, durable: bool = False) -> None:
        self.path = Path(path)
        self.session_id = session_id
        self.durable = durable
        self.path.parent.mkdir(parents=True, exist_ok=True)
        contents = read_session(self.path) if resume else LogContents()
        if not resume and self.path.exists() and self.path.stat().st_size:
            raise FileExistsError(f"{self.path} already holds a session: resume it or choose another output")
        self.set_aside: list[int] = []  # line numbers moved to the .torn side file when the log was opened
        if contents.torn or contents.damaged:
            self._set_aside(contents)
        records = contents.records
        self.records = records
        self.finished: dict[str, ModelTurn] = {
            r.key: r for r in records if isinstance(r, ModelTurn) and not r.error and r.key is not None
        }
        self.turns = sum(1 for r in records if isinstance(r, ModelTurn))
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held open for the session

    def _set_aside(self, contents: LogContents) -> None:
        """Move the torn last line and each damaged line to ``<log>.torn`` (``NAME:LINE: text`` each) and rewrite
        the log with every other line, byte for byte, through a temporary file renamed over it."""
        aside = [*contents.damaged]
        lines = _lines(self.path.read_bytes())
        if contents.torn:
            aside.append((len(lines), contents.torn))
        drop = {number for number, _ in aside}
        with open(self.path.with_name(self.path.name + ".torn"), "ab") as side:
            for number, line in aside:
                text = redact(line.rstrip(b"\r\n").decode("utf-8", "surrogateescape"))
                side.write(f"{self.path.name}:{number}: {text}\n".encode("utf-8", "surrogateescape"))
        kept = self.path.with_name(self.path.name + ".rewrite")
        with open(kept, "wb") as out:
            out.writelines(line for number, line in enumerate(lines, start=1) if number not in drop)
            out.flush()
            os.fsync(out.fileno())
        os.replace(kept, self.path)
        self.set_aside = sorted(drop)

    def append(self, line: Line) -> None:
        """Write one typed line (with the schema version, credentials redacted) and flush it (and fsync it when
        ``durable``); a failed write is a :class:`LogWriteError` naming the log."""
        if isinstance(line, SessionStart) and line.versions is None:
            line = line.model_copy(update={"versions": package_versions()})  # what recorded it
            line.model_fields_set.add("versions")
        record = line_dict(line)
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate: written as \udcff, which reads back the same
                text = json.dumps(record, separators=(",", ":"))
        try:
            self._file.write(text + "\n")
            self._file.flush()
            if self.durable:
                os.fsync(self._file.fileno())
        except OSError as error:
            raise LogWriteError(error.errno, f"{self.path}: cannot write: {error.strerror or error}") from None
        # what stays in memory is what was written: credentials redacted (a resumed session reads the same)
        self.records.append(parse_record(record, str(self.path), keyed=False) if REDACTED in text else line)

    def lines(self, kind: type[L]) -> Iterator[L]:
        """The lines of one kind (:class:`SessionStart`, ...), in order."""
        return (r for r in self.records if isinstance(r, kind))

    def close(self) -> None:
        """Close the file (a write that fails now, e.g. on a full disk, is a :class:`LogWriteError`)."""
        try:
            self._file.close()
        except OSError as error:
            raise LogWriteError(error.errno, f"{self.path}: cannot write: {error.strerror or error}") from None


def _updated(line: ModelTurn, **fields: Any) -> ModelTurn:
    """``line`` with more fields set (validated, and written, since they are set)."""
    return ModelTurn.model_validate({**line.model_dump(include=line.model_fields_set), **fields})


def reply_from_record(turn: ModelTurn) -> ModelReply:
    """The reply a recorded model turn gave."""
    calls = tuple(ToolCall(c.name, c.arguments) for c in turn.calls or [])
    return ModelReply(calls=calls, reasoning=turn.reasoning, raw=turn.response, meta={})


class Recording(ModelBackend):
    """Answers through ``inner`` and writes each exchange to ``log``; finished turns are answered from the log."""

    def __init__(self, inner: ModelBackend, log: SessionLog) -> None:
        self.inner = inner
        self.log = log
        self.replayed = 0
        self.failures: list[tuple[str, str]] = []  # (reason, message) of each turn that failed for good here

    async def complete(self, request: ModelRequest) -> ModelReply:
        key = turn_key(request)
        if key in self.log.finished:
            self.replayed += 1
            return reply_from_record(self.log.finished[key])
        self.log.turns += 1
        base = ModelTurn(
            session=self.log.session_id, turn=self.log.turns, key=key, task=request.task_name, node=current_node.get(),
            input=request.input.model_dump(mode="json"), backend=type(self.inner).__name__,
        )
        started = time.time()
        clock = time.perf_counter()
        try:
            reply = await self.inner.complete(request)
        except Exception as error:
            if isinstance(error, FineTrainingError) and not error.sent:  # nothing was asked (the budget is spent)
                self.log.turns -= 1
                raise
            reason = (error.reason if isinstance(error, FineTrainingError) else "") or type(error).__name__
            failed = _updated(base, started=started, latency_s=round(time.perf_counter() - clock, 6),
                              error=TurnError(type=type(error).__name__, reason=reason, message=str(error)))
            self.log.append(failed)
            self.failures.append((reason, redact(str(error))))
            raise
        self.log.append(_updated(
            base, started=started, finished=time.time(), latency_s=round(time.perf_counter() - clock, 6),
            request=reply.meta.get("request"), response=reply.raw,
            calls=[RecordedCall(name=c.name, arguments=c.arguments) for c in reply.calls],
            reasoning=reply.reasoning, cost_usd=reply.meta.get("cost_usd", 0.0),
            attempts=reply.meta.get("attempts", 1), retried=reply.meta.get("retried", []), error=None,
        ))
        last = self.log.records[-1]
        assert isinstance(last, ModelTurn)
        self.log.finished[key] = last
        return reply


class RecordedSession:
    """One session's lifecycle, the same for explorations, proposals, subagents and generators: open (or resume)
    its log, write the ``session_start`` line once, run a program with its model turns (and LSP answers)
    recorded, and write the ``session_end`` line. Use it as a context manager (the log closes on exit)."""

    def __init__(self, path: str | Path, start: SessionStart, *, resume: bool = False, durable: bool = False) -> None:
        self.start = start
        self.log = SessionLog(path, session_id=start.session, resume=resume, durable=durable)
        self.failures: list[tuple[str, str]] = []  # (reason, message) of each turn that failed for good
        self.recording: Recording | None = None
        self.lsp_recorder: LspRecorder | None = None

    def __enter__(self) -> RecordedSession:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.log.close()

    @property
    def path(self) -> Path:
        """The session log."""
        return self.log.path

    @property
    def ended(self) -> SessionEnd | None:
        """The ``session_end`` line of a session finished earlier, or None (see :func:`finishing_end`)."""
        return finishing_end(self.log.records)

    def handlers(self, model: ModelBackend, lsp: Handler | None = None) -> list[Handler]:
        """Write the ``session_start`` line (once) and give the handlers that answer through ``model`` (and
        ``lsp``) and record every turn (and LSP answer) to this session's log."""
        from interpreters.lsp_replay import LspRecorder

        if not any(self.log.lines(SessionStart)):
            self.log.append(self.start)
        self.recording = Recording(model, self.log)
        handlers: list[Handler] = []
        if lsp is not None:
            self.lsp_recorder = LspRecorder(lsp, sink=self.log.append)
            self.lsp_recorder.already_written(self.log.records)
            handlers.append(self.lsp_recorder)
        return [*handlers, self.recording]

    async def run(
        self, program: Callable[[], Awaitable[T]], model: ModelBackend, lsp: Handler | None = None
    ) -> T | None:
        """``program()`` under the recording handlers; None when a turn failed for good (``failures`` says why,
        ``--resume`` asks it again). A fatal failure (the student's server is down) propagates."""
        failed: OperationFailed | None = None
        result: T | None = None
        try:
            async with interpret(*self.handlers(model, lsp)):
                result = await program()
        except OperationFailed as error:
            if error.fatal:
                raise
            failed = error
        assert self.recording is not None
        self.failures = [*self.recording.failures]
        if self.lsp_recorder is not None:
            self.failures += [("lsp_unavailable", message) for message in self.lsp_recorder.failures]
        if failed is not None and not self.failures:
            self.failures.append((failed.reason or "failed", str(failed)))
        return None if self.failures else result

    @property
    def turns(self) -> int:
        """Model turns in the log so far."""
        return self.log.turns

    def end(self, line: SessionEnd) -> None:
        """Write the ``session_end`` line (its session id and finish time filled in when not set)."""
        fields = {"session": self.log.session_id, "finished": time.time()}
        missing = {k: v for k, v in fields.items() if k not in line.model_fields_set}
        self.log.append(SessionEnd.model_validate({**line.model_dump(include=line.model_fields_set), **missing}))
