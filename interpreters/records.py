"""The lines of a recording, typed: one pydantic model per line kind, one schema version, read and written here.

A session log (``OUT/sessions/<id>.jsonl``) holds a :class:`SessionStart` line, one :class:`ModelTurn` per model
exchange, one :class:`LspAnswer` per language-server answer the session used, and a :class:`SessionEnd` line once
the session is complete. :func:`dump_line` writes a line as it was built (fields never set stay out, credentials
are redacted); :func:`load_line` / :func:`parse_record` read one and raise :class:`RecordingError` naming the
file, the line and the field of the first problem. Every line carries ``schema`` (:data:`SCHEMA_VERSION`); LSP
lines once went without one and still read.

:func:`read_lines` is the one reader of a recording file (every line with its number and bytes, typed or with the
problem that kept it from being typed); :func:`read_records` is its strict form (the typed lines, the first problem
raised). Code that reads recordings reads them here and works on the typed lines (``isinstance``, attributes),
never on dicts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from teacher.errors import FineTrainingError
from teacher.redact import redact_json

__all__ = [
    "SCHEMA_VERSION",
    "Line",
    "LspAnswer",
    "ModelTurn",
    "ReadLine",
    "RecordedCall",
    "RecordingError",
    "SessionEnd",
    "SessionStart",
    "TurnError",
    "dump_line",
    "line_dict",
    "load_line",
    "parse_record",
    "read_lines",
    "read_records",
    "schema_mismatch",
    "typed_line",
]

SCHEMA_VERSION = 1
_VERSIONED_KINDS = ("session_start", "model", "session_end")


class RecordingError(ValueError, FineTrainingError):
    """A recording line this code cannot read (another schema version, a field of the wrong type); the message
    names FILE:LINE and the field. ``field`` is that field (``schema``, ``calls[0].arguments``; None when the line
    is not a JSON object at all) and ``value`` the schema version found when ``field`` is ``schema``."""

    def __init__(self, message: str, *, field: str | None = "line", value: Any = None, problem: str = "") -> None:
        super().__init__(message)
        self.field = field
        self.value = value
        self.problem = problem or message

    def words(self) -> str:
        """The problem without its FILE:LINE, the field quoted: ``field 'arguments' of 'calls'[0]: missing``,
        ``field 'schema' is 2, ...``, ``not a JSON object (...)`` (how the rebuild and compare report a line)."""
        if self.field is None:
            return f"not a JSON object ({self.problem})"
        if self.field == "schema":
            if self.value is None:
                return "field 'schema' is missing"
            return f"field 'schema' is {self.value!r}, a recording version this code does not read ({SCHEMA_VERSION})"
        parts = [re.sub(r"^([^\[]*)", r"'\1'", part) for part in self.field.split(".")]
        return f"field {' of '.join(reversed(parts))}: {self.problem}"


class _Line(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    version: int = Field(SCHEMA_VERSION, alias="schema")


class SessionStart(_Line):
    """The first line of a session: what is explored (a query, a module, a subagent's node) and by whom."""

    kind: Literal["session_start"] = "session_start"
    session: str = ""
    query: dict[str, Any] | None = None  # an exploration's TeachQuery
    module: str | None = None  # a proposal session's module
    subagent: str | None = None  # a subagent session's domain ...
    node: dict[str, Any] | None = None  # ... and its node (file, node, companions)
    source: dict[str, Any] | None = None  # a synthetic generator's settings
    repo: str | None = None
    #: the split every example of the session belongs to (a generator's fixed eval set), or None: grouped
    split: Literal["train", "eval"] | None = None
    teacher: str | None = None
    started: float | None = None
    isolation: str | None = None  # how a subagent's tools were isolated
    versions: dict[str, str] | None = None  # the package versions that recorded it


class RecordedCall(BaseModel):
    """One tool call read from a response."""

    model_config = ConfigDict(extra="forbid")

    name: str
    arguments: dict[str, Any]


class TurnError(BaseModel):
    """Why a turn failed for good."""

    model_config = ConfigDict(extra="forbid")

    type: str
    reason: str
    message: str


class ModelTurn(_Line):
    """One model exchange: the request as sent, the raw response as returned, the calls and reasoning read from
    it, timing, cost and any error. A finished turn (no ``error``) has a ``key`` and a list of ``calls``."""

    kind: Literal["model"] = "model"
    session: str = ""
    turn: int = 0
    key: str | None = None
    task: str = ""
    node: str | None = None
    input: dict[str, Any] | None = None
    backend: str | None = None
    started: float | None = None
    finished: float | None = None
    latency_s: float | None = None
    request: dict[str, Any] | None = None
    response: Any = None
    calls: list[RecordedCall] | None = None
    reasoning: str = ""
    cost_usd: float = 0.0
    attempts: int = 1
    retried: list[Any] = Field(default_factory=list)
    error: TurnError | None = None


class LspAnswer(_Line):
    """One language-server request and its answer (``result``) or the error it failed with; ``transient`` marks
    a failure of the server itself, asked again on resume."""

    kind: Literal["lsp"] = "lsp"
    op: str
    args: dict[str, Any]
    result: Any = None
    error: str | None = None
    transient: bool | None = None


class SessionEnd(_Line):
    """The last line of a finished session: its result (an exploration, proposed queries, a subagent's result)."""

    kind: Literal["session_end"] = "session_end"
    session: str = ""
    finished: float | None = None
    result: Any = None
    stopped: str | None = None  # a subagent run: why it stopped, its turns, rejected calls, changed files
    turns: int | None = None
    rejected: int | None = None
    changed_files: list[str] | None = None


Line = Annotated[SessionStart | ModelTurn | LspAnswer | SessionEnd, Field(discriminator="kind")]
_LINE: TypeAdapter[Line] = TypeAdapter(Line)

_PLAIN = {"dict_type": "not an object", "list_type": "not a list", "string_type": "not a string",
          "int_type": "not an integer", "int_parsing": "not an integer", "float_type": "not a number",
          "float_parsing": "not a number", "missing": "missing", "extra_forbidden": "not a field of this line",
          "bool_type": "not true or false", "bool_parsing": "not true or false"}


def _field(loc: tuple[int | str, ...]) -> str:
    """A pydantic location as a field path: ``calls[0].arguments`` (the union's tag left out)."""
    text = ""
    for index, part in enumerate(loc):
        if index == 0 and part in ("session_start", "model", "lsp", "session_end"):
            continue
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "line"


def schema_mismatch(record: dict[str, Any]) -> bool:
    """Whether a line is of a schema version this code does not read: session and model lines must carry
    :data:`SCHEMA_VERSION`, other lines only when they carry a version (LSP lines once went without one)."""
    if "schema" not in record and record.get("kind") not in _VERSIONED_KINDS:
        return False
    version = record.get("schema")
    return type(version) is not int or version != SCHEMA_VERSION


def parse_record(record: dict[str, Any], where: str, *, keyed: bool = True) -> Line:
    """The typed line of a decoded JSON object; :class:`RecordingError` ``WHERE: FIELD: problem`` otherwise.
    ``keyed``: a finished model turn must carry its ``key`` (a replay answers from it; a conversion does not)."""
    if schema_mismatch(record):
        found = "no schema version" if record.get("schema") is None else f"schema version {record['schema']!r}"
        problem = f"{found}; this code reads version {SCHEMA_VERSION}"
        raise RecordingError(f"{where}: schema: {problem}", field="schema", value=record.get("schema"),
                             problem=problem)
    kind = record.get("kind")
    if kind not in ("session_start", "model", "lsp", "session_end"):
        problem = f"{kind!r} is not a line kind (session_start, model, lsp, session_end)"
        raise RecordingError(f"{where}: kind: {problem}", field="kind", problem=problem)
    try:
        line = _LINE.validate_python(record)
    except ValidationError as error:
        first = error.errors()[0]
        problem = _PLAIN.get(first["type"], first["msg"])
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        field = _field(first["loc"])
        raise RecordingError(f"{where}: {field}: {problem}{more}", field=field, problem=problem + more) from None
    if keyed and isinstance(line, ModelTurn) and line.error is None and line.key is None:  # a replay needs its key
        raise RecordingError(f"{where}: key: missing on a finished turn", field="key", problem="missing on a "
                             "finished turn")
    if isinstance(line, LspAnswer) and not {"result", "error"} & line.model_fields_set:
        raise RecordingError(f"{where}: result: neither 'result' nor 'error'", field="result",
                             problem="neither 'result' nor 'error'")
    return line


def typed_line(record: Line | dict[str, Any], where: str) -> Line:
    """A typed line as it is, or the typed line of a decoded JSON object (:func:`parse_record`): for code that
    is handed lines either way."""
    return record if isinstance(record, (SessionStart, ModelTurn, LspAnswer, SessionEnd)) else parse_record(
        record, where)


def load_line(text: str | bytes, where: str, *, fast: bool = False, keyed: bool = True) -> Line:
    """The typed line of one JSONL line; :class:`RecordingError` naming ``where`` (FILE:LINE) and the field.
    ``fast`` decodes with orjson (quicker; it refuses the lone surrogates ``json`` reads)."""
    try:
        record = orjson.loads(text) if fast else json.loads(text)
    except (ValueError, RecursionError) as error:
        detail = str(error)[:100] or type(error).__name__
        raise RecordingError(f"{where}: not JSON ({detail})", field=None, problem=detail) from None
    if not isinstance(record, dict):
        problem = f"a line is a JSON object, not {type(record).__name__}"
        raise RecordingError(f"{where}: {problem}", field=None, problem=problem)
    return parse_record(record, where, keyed=keyed)


@dataclass(frozen=True, slots=True)
class ReadLine:
    """One line of a recording file as read: its number (from 1), its bytes (with the newline, if it has one),
    and its typed ``line`` or the ``error`` that kept it from being one (both None for a blank line)."""

    number: int
    raw: bytes
    line: Line | None = None
    error: RecordingError | None = None


def read_lines(
    path: str | Path,
    *,
    fast: bool = False,
    needles: Sequence[bytes] = (),
    kinds: Collection[str] | None = None,
    keyed: bool = True,
) -> Iterator[ReadLine]:
    """Every line of a recording file, read: typed, or with the :class:`RecordingError` naming FILE:LINE and the
    field. Only ``\\n`` ends a line, so numbers match an editor's. ``fast`` decodes with orjson (see
    :func:`load_line`); ``needles`` skips, unread and not yielded, every line holding none of these bytes; ``kinds``
    types only the lines of these kinds (the others are checked for their schema version alone and yielded with
    neither line nor error, like a blank line); ``keyed=False`` reads a finished model turn without its key
    (:func:`parse_record`)."""
    loads = orjson.loads if fast else json.loads
    with open(path, "rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if needles and not any(needle in raw for needle in needles):
                continue
            if not raw.strip():
                yield ReadLine(number, raw)
                continue
            try:  # FILE:LINE is written only into an error: most lines read, and formatting a path is not free
                record = loads(raw)
                if isinstance(record, dict) and kinds is not None and record.get("kind") not in kinds:
                    if schema_mismatch(record):
                        raise RecordingError("another schema version")
                    yield ReadLine(number, raw)
                    continue
                line = parse_record(record, "", keyed=keyed) if isinstance(record, dict) else None
            except (ValueError, RecursionError):  # RecordingError too: read again for the message naming FILE:LINE
                line = None
            if line is not None:
                yield ReadLine(number, raw, line=line)
                continue
            try:
                load_line(raw, f"{path}:{number}", fast=fast, keyed=keyed)
            except RecordingError as error:
                yield ReadLine(number, raw, error=error)


def read_records(path: str | Path) -> Iterator[Line]:
    """The typed lines of a recording file, blank lines skipped; the first line that is not one raises
    :class:`RecordingError` naming FILE:LINE and the field."""
    for read in read_lines(path):
        if read.error is not None:
            raise read.error
        if read.line is not None:
            yield read.line


def line_dict(line: Line) -> dict[str, Any]:
    """A line as the JSON object written to disk: ``schema`` first, then the fields that were set, credentials
    redacted."""
    data = line.model_dump(mode="json", by_alias=True, include=line.model_fields_set | {"kind"})
    data.pop("schema", None)
    redacted: dict[str, Any] = redact_json({"schema": line.version, **data})
    return redacted


def dump_line(line: Line) -> str:
    """One JSONL line (without its newline) for a typed line."""
    return json.dumps(line_dict(line), ensure_ascii=False, separators=(",", ":"))
