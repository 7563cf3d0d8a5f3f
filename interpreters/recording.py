"""Recording: wrap any model backend and write every exchange to an append-only JSONL session log.

Each model line holds the schema version, session and turn ids, task, graph node, timestamps, the request
exactly as the backend sent it, the raw response exactly as returned, the calls and reasoning read from it,
latency, cost and any error. LSP answers the session used go in the same log (``kind: "lsp"``). Lines are
flushed one by one; on resume a torn last line is moved aside to ``<log>.torn`` and finished turns are
answered from the log, never asked again. Credentials are never written: backends put none in their request.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from converters.functiongemma import ToolCall
from teacher.model import ModelBackend, ModelReply, ModelRequest, current_node

__all__ = ["SCHEMA_VERSION", "Recording", "SessionLog", "read_log", "reply_from_record", "turn_key"]

SCHEMA_VERSION = 1


def turn_key(request: ModelRequest) -> str:
    """A stable key for a request: its task, guidance, user text and tool schemas (and a multi-turn task's
    system prompt and history, so that each turn of a conversation has its own key)."""
    parts: list[Any] = [request.task, request.guidance, request.user, [t.anthropic() for t in request.tools]]
    if request.system or request.history:
        parts += [request.system, list(request.history)]
    material = json.dumps(parts, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:24]


def read_log(path: Path) -> tuple[list[dict[str, Any]], bytes]:
    """The complete lines of a log, and the bytes of a torn last line (empty when there is none)."""
    data = path.read_bytes() if path.exists() else b""
    records: list[dict[str, Any]] = []
    good = 0
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            break
        if not isinstance(record, dict):
            break
        records.append(record)
        good += len(line)
    return records, data[good:]


class SessionLog:
    """One session's append-only JSONL log; open with ``resume=True`` to continue it."""

    def __init__(self, path: str | Path, *, session_id: str, resume: bool = False, durable: bool = False) -> None:
        self.path = Path(path)
        self.session_id = session_id
        self.durable = durable
        self.path.parent.mkdir(parents=True, exist_ok=True)
        records, torn = read_log(self.path) if resume else ([], b"")
        if not resume and self.path.exists() and self.path.stat().st_size:
            raise FileExistsError(f"{self.path} already holds a session: resume it or choose another output")
        if torn:
            with open(self.path.with_name(self.path.name + ".torn"), "ab") as aside:
                aside.write(torn + b"\n")
            with open(self.path, "r+b") as log:
                log.truncate(self.path.stat().st_size - len(torn))
        self.records = records
        self.finished: dict[str, dict[str, Any]] = {
            r["key"]: r for r in records if r.get("kind") == "model" and not r.get("error") and "key" in r
        }
        self.turns = sum(1 for r in records if r.get("kind") == "model")
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held open for the session

    def append(self, record: dict[str, Any]) -> None:
        """Write one line and flush it (and fsync it when ``durable``)."""
        self._file.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._file.flush()
        if self.durable:
            os.fsync(self._file.fileno())
        self.records.append(record)

    def lines(self, kind: str) -> Iterator[dict[str, Any]]:
        """The records of one kind, in order."""
        return (r for r in self.records if r.get("kind") == kind)

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def reply_from_record(record: dict[str, Any]) -> ModelReply:
    calls = tuple(ToolCall(c["name"], c["arguments"]) for c in record.get("calls") or [])
    return ModelReply(calls=calls, reasoning=record.get("reasoning", ""), raw=record.get("response"), meta={})


class Recording(ModelBackend):
    """Answers through ``inner`` and writes each exchange to ``log``; finished turns are answered from the log."""

    def __init__(self, inner: ModelBackend, log: SessionLog) -> None:
        self.inner = inner
        self.log = log
        self.replayed = 0

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
            if not getattr(error, "sent", True):  # nothing was asked (e.g. the budget is spent): no turn to record
                self.log.turns -= 1
                raise
            self.log.append(
                {
                    **base,
                    "started": started,
                    "latency_s": round(time.perf_counter() - clock, 6),
                    "error": {
                        "type": type(error).__name__,
                        "reason": getattr(error, "reason", "") or type(error).__name__,
                        "message": str(error),
                    },
                }
            )
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
