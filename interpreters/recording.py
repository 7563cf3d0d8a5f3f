"""Recording: wrap any model backend and write every exchange to an append-only JSONL session log.

Each model line holds the schema version, session and turn ids, task, graph node, timestamps, the request
exactly as the backend sent it, the raw response exactly as returned, the calls and reasoning read from it,
latency, cost and any error. LSP answers the session used go in the same log (``kind: "lsp"``). Every line
carries ``schema`` (:data:`SCHEMA_VERSION`); a line of another version is a :class:`RecordingError` naming
FILE:LINE wherever a log is read. Lines are flushed one by one; on resume a torn last line (a writer that
died mid-line) and any damaged line in the middle are each moved aside, alone and with their line number, to
``<log>.torn``; every readable line around them is kept, and finished turns are answered from the log, never
asked again. Credentials are never written: backends put none in their request, and every line passes through
:func:`teacher.redact.redact_json` (a server may echo a key back).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from converters.functiongemma import ToolCall
from teacher.errors import FineTrainingError
from teacher.model import ModelBackend, ModelReply, ModelRequest, current_node
from teacher.provenance import package_versions
from teacher.redact import redact, redact_json

__all__ = [
    "SCHEMA_VERSION",
    "LogContents",
    "LogWriteError",
    "Recording",
    "RecordingError",
    "SessionLog",
    "read_log",
    "read_session",
    "reply_from_record",
    "schema_mismatch",
    "turn_key",
]

SCHEMA_VERSION = 1
_VERSIONED_KINDS = ("session_start", "model", "session_end")


class RecordingError(ValueError, FineTrainingError):
    """A recording this code cannot read (a line of another schema version); the message names FILE:LINE."""


class LogWriteError(OSError, FineTrainingError):
    """A session log line could not be written (a full disk, a file that became unwritable); names the file."""


@dataclass
class LogContents:
    """What a session log holds: its readable records, a torn last line, and the damaged lines in between."""

    records: list[dict[str, Any]] = field(default_factory=list)
    torn: bytes = b""  # an incomplete last line (no newline): a writer that died mid-line
    damaged: list[tuple[int, bytes]] = field(default_factory=list)  # (1-based line number, raw line)


def turn_key(request: ModelRequest) -> str:
    """A stable key for a request: its task, guidance, user text and tool schemas (and a multi-turn task's
    system prompt and history, so that each turn of a conversation has its own key)."""
    parts: list[Any] = [request.task, request.guidance, request.user, [t.anthropic() for t in request.tools]]
    if request.system or request.history:
        parts += [request.system, list(request.history)]
    material = json.dumps(parts, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:24]


def schema_mismatch(record: dict[str, Any]) -> bool:
    """Whether a log line is of a schema version this code does not read: session and model lines must carry
    :data:`SCHEMA_VERSION`, other lines only when they carry a version (LSP lines once went without one)."""
    if "schema" not in record and record.get("kind") not in _VERSIONED_KINDS:
        return False
    version = record.get("schema")
    return type(version) is not int or version != SCHEMA_VERSION


def _check_schema(path: Path, number: int, record: dict[str, Any]) -> None:
    if schema_mismatch(record):
        found = "no schema version" if record.get("schema") is None else f"schema version {record['schema']!r}"
        raise RecordingError(f"{path}:{number}: schema: {found}; this code reads version {SCHEMA_VERSION}")


def _check_model(path: Path, number: int, record: dict[str, Any]) -> None:
    """A finished model line must hold what a replay answers from: a text key and a list of calls."""
    if record.get("kind") != "model" or record.get("error"):
        return
    problem = None
    if not isinstance(record.get("key"), str):
        problem = f"key: {record.get('key')!r} is not a string"
    elif not isinstance(record.get("calls"), list | None):
        problem = f"calls: {type(record.get('calls')).__name__}, not a list"
    else:
        for index, call in enumerate(record.get("calls") or []):
            if not isinstance(call, dict) or not isinstance(call.get("name"), str):
                problem = f"calls[{index}]: not an object with a name"
            elif not isinstance(call.get("arguments"), dict):
                problem = f"calls[{index}].arguments: not an object"
            if problem:
                break
    if problem:
        raise RecordingError(f"{path}:{number}: {problem}")


def _lines(data: bytes) -> list[bytes]:
    """The lines of a log, each with its newline (a last line without one is the torn line); only ``\\n`` ends a
    line, so line numbers match what an editor shows."""
    parts = data.split(b"\n")
    return [part + b"\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def read_session(path: Path) -> LogContents:
    """Every readable line of a log; a damaged line is set aside alone and the lines after it are kept.

    Raises :class:`RecordingError` (naming FILE:LINE) for a line of another schema version, or a finished model
    line without a text key and a list of calls.
    """
    data = path.read_bytes() if path.exists() else b""
    contents = LogContents()
    for number, line in enumerate(_lines(data), start=1):
        if not line.endswith(b"\n"):
            contents.torn = line  # only the last line can lack its newline
            break
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested beyond reading
            record = None
        if not isinstance(record, dict):
            if line.strip():
                contents.damaged.append((number, line))
            continue
        _check_schema(path, number, record)
        _check_model(path, number, record)
        contents.records.append(record)
    return contents


def read_log(path: Path) -> tuple[list[dict[str, Any]], bytes]:
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
        self.finished: dict[str, dict[str, Any]] = {
            r["key"]: r for r in records if r.get("kind") == "model" and not r.get("error") and "key" in r
        }
        self.turns = sum(1 for r in records if r.get("kind") == "model")
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

    def append(self, record: dict[str, Any]) -> None:
        """Write one line (with the schema version, credentials redacted) and flush it (and fsync it when
        ``durable``); a failed write is a :class:`LogWriteError` naming the log."""
        if record.get("kind") == "session_start" and "versions" not in record:
            record = {**record, "versions": package_versions()}  # what recorded it
        record = redact_json({"schema": SCHEMA_VERSION, **record})
        try:
            self._file.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
            self._file.flush()
            if self.durable:
                os.fsync(self._file.fileno())
        except OSError as error:
            raise LogWriteError(error.errno, f"{self.path}: cannot write: {error.strerror or error}") from None
        self.records.append(record)

    def lines(self, kind: str) -> Iterator[dict[str, Any]]:
        """The records of one kind, in order."""
        return (r for r in self.records if r.get("kind") == kind)

    def close(self) -> None:
        """Close the file (a write that fails now, e.g. on a full disk, is a :class:`LogWriteError`)."""
        try:
            self._file.close()
        except OSError as error:
            raise LogWriteError(error.errno, f"{self.path}: cannot write: {error.strerror or error}") from None


def reply_from_record(record: dict[str, Any]) -> ModelReply:
    calls = tuple(ToolCall(c["name"], c["arguments"]) for c in record.get("calls") or [])
    return ModelReply(calls=calls, reasoning=record.get("reasoning", ""), raw=record.get("response"), meta={})


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
        base = {
            "schema": SCHEMA_VERSION,
            "kind": "model",
            "session": self.log.session_id,
            "turn": self.log.turns,
            "key": key,
            "task": request.task,
            "node": current_node.get(),
            "input": request.input.model_dump(mode="json"),
            "backend": type(self.inner).__name__,
        }
        started = time.time()
        clock = time.perf_counter()
        try:
            reply = await self.inner.complete(request)
        except Exception as error:
            if isinstance(error, FineTrainingError) and not error.sent:  # nothing was asked (the budget is spent)
                self.log.turns -= 1
                raise
            reason = (error.reason if isinstance(error, FineTrainingError) else "") or type(error).__name__
            self.log.append(
                {
                    **base,
                    "started": started,
                    "latency_s": round(time.perf_counter() - clock, 6),
                    "error": {"type": type(error).__name__, "reason": reason, "message": str(error)},
                }
            )
            self.failures.append((reason, self.log.records[-1]["error"]["message"]))
            raise
        record = {
            **base,
            "started": started,
            "finished": time.time(),
            "latency_s": round(time.perf_counter() - clock, 6),
            "request": reply.meta.get("request"),
            "response": reply.raw,
            "calls": [{"name": c.name, "arguments": c.arguments} for c in reply.calls],
            "reasoning": reply.reasoning,
            "cost_usd": reply.meta.get("cost_usd", 0.0),
            "attempts": reply.meta.get("attempts", 1),
            "retried": reply.meta.get("retried", []),
            "error": None,
        }
        self.log.append(record)
        self.log.finished[key] = record
        return reply
