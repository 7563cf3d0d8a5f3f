"""Recording and replaying the LSP answers a session used, so it can be replayed with no language server.

``LspRecorder(inner)`` answers LSP operations through ``inner`` and keeps one typed
:class:`~interpreters.records.LspAnswer` line per distinct request (its answer, or the error it failed with);
``LspReplay(lines)`` answers the same requests from those lines alone. A request that was never recorded is a
:class:`LspReplayMiss`.

A line is written ``{"schema": 1, "kind": "lsp", "op": "Hover", "args": {...}, "result": ...}`` or
``{..., "error": "..."}`` (:func:`write_lsp_records`, :func:`read_lsp_records`); an error of the server itself
(:class:`~interpreters.lsp.LspUnavailable`: a timeout, a server that would not start) adds ``"transient": true``, is
collected in ``LspRecorder.failures``, and does not count as answered: a resumed session asks it again and records
the answer after it (a replay takes the last record of a request).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, TypeVar, cast

from pydantic import TypeAdapter

from interpreters.lsp import LspError
from interpreters.records import Line, LspAnswer, dump_line, read_records
from teacher.handlers import Handler
from teacher.operations import LSP_OPERATION_NAMES, LSP_OPERATIONS, Operation, result_type

R = TypeVar("R")

__all__ = ["LspRecorder", "LspReplay", "LspReplayMiss", "lsp_key", "read_lsp_records", "write_lsp_records"]


class LspReplayMiss(LspError):
    """The replayed session never asked this request."""


_ADAPTERS: dict[str, TypeAdapter[Any]] = {name: TypeAdapter(result_type(k)) for name, k in LSP_OPERATION_NAMES.items()}


def _adapter(operation: Operation[Any]) -> TypeAdapter[Any]:
    return _ADAPTERS[type(operation).__name__]


def lsp_key(operation: Operation[Any]) -> str:
    """A stable text key for an LSP request: its operation name and arguments."""
    args = dataclasses.asdict(operation)
    return json.dumps([type(operation).__name__, args], sort_keys=True, ensure_ascii=False)


class LspRecorder(Handler):
    """Answers LSP operations through ``inner`` and records every distinct request with its answer (``records``: the
    typed lines, in the order asked)."""

    operations: ClassVar[tuple[type[Operation[Any]], ...]] = LSP_OPERATIONS

    def __init__(self, inner: Handler, sink: Callable[[LspAnswer], None] | None = None) -> None:
        self.inner = inner
        self.sink = sink
        self.records: list[LspAnswer] = []
        self.failures: list[str] = []  # messages of the transient failures seen through this recorder
        self._keys: set[str] = set()

    def already_written(self, records: Iterable[Line]) -> None:
        """Note LSP lines already in the log (a resumed session), so they are not written again."""
        for record in records:
            if isinstance(record, LspAnswer) and record.op in LSP_OPERATION_NAMES and not record.transient:
                self._keys.add(lsp_key(LSP_OPERATION_NAMES[record.op](**record.args)))

    def _keep(self, operation: Operation[Any], outcome: dict[str, Any]) -> None:
        key = lsp_key(operation)
        if key in self._keys:
            return
        self._keys.add(key)
        self._write(LspAnswer(op=type(operation).__name__, args=dataclasses.asdict(operation), **outcome))

    def _write(self, line: LspAnswer) -> None:
        self.records.append(line)
        if self.sink is not None:
            self.sink(line)

    async def handle(self, operation: Operation[R]) -> R:
        try:
            result = await self.inner.handle(operation)
        except LspError as error:
            if error.transient:
                self.failures.append(str(error))
                self._write(LspAnswer(op=type(operation).__name__, args=dataclasses.asdict(operation),
                                      error=str(error), transient=True))
            else:
                self._keep(operation, {"error": str(error)})
            raise
        self._keep(operation, {"result": _adapter(operation).dump_python(result, mode="json")})
        return result


class LspReplay(Handler):
    """Answers LSP operations from the :class:`~interpreters.records.LspAnswer` lines of a recording alone (no
    server; its other lines are passed over); failures replay as the same error."""

    operations: ClassVar[tuple[type[Operation[Any]], ...]] = LSP_OPERATIONS

    def __init__(self, records: Iterable[Line]) -> None:
        self._answers: dict[str, LspAnswer] = {}
        for number, record in enumerate(records, start=1):
            if not isinstance(record, LspAnswer):
                continue
            kind = LSP_OPERATION_NAMES.get(record.op)
            if kind is None:
                raise ValueError(f"LSP record {number}: unknown operation {record.op!r} or missing args")
            key = lsp_key(kind(**record.args))
            if record.transient and key in self._answers:
                continue  # a server hiccup on a later run does not undo an answer already recorded
            self._answers[key] = record
        self.hits = 0

    async def handle(self, operation: Operation[R]) -> R:
        record = self._answers.get(lsp_key(operation))
        if record is None:
            raise LspReplayMiss(f"no recorded answer for {operation!r}")
        self.hits += 1
        if "error" in record.model_fields_set:
            raise LspError(str(record.error))
        return cast(R, _adapter(operation).validate_python(record.result))


def write_lsp_records(records: Iterable[LspAnswer], path: str | pathlib.Path) -> None:
    """Write typed LSP lines as JSONL (:func:`interpreters.records.dump_line` each)."""
    with open(path, "w", encoding="utf-8") as out:
        for record in records:
            out.write(dump_line(record) + "\n")


def read_lsp_records(path: str | pathlib.Path) -> list[LspAnswer]:
    """The typed LSP lines of a JSONL file (other kinds of line passed over); a bad line is a
    :class:`~interpreters.records.RecordingError` naming the file, the line and the field."""
    return [line for line in read_records(path) if isinstance(line, LspAnswer)]
