"""The lines of a recording, typed: one pydantic model per line kind, one schema version, read and written here.

A session log (``OUT/sessions/<id>.jsonl``) holds a :class:`SessionStart` line, one :class:`ModelTurn` per model
exchange, one :class:`LspAnswer` per language-server answer the session used, and a :class:`SessionEnd` line once
the session is complete. :func:`dump_line` writes a line as it was built (fields never set stay out, credentials
are redacted); :func:`load_line` / :func:`parse_record` read one and raise :class:`RecordingError` naming the
file, the line and the field of the first problem. Every line carries ``schema`` (:data:`SCHEMA_VERSION`); LSP
lines once went without one and still read.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from teacher.errors import FineTrainingError
from teacher.redact import redact_json

__all__ = [
    "SCHEMA_VERSION",
    "Line",
    "LspAnswer",
    "ModelTurn",
    "RecordedCall",
    "RecordingError",
    "SessionEnd",
    "SessionStart",
    "TurnError",
    "dump_line",
    "line_dict",
    "load_line",
    "parse_record",
    "schema_mismatch",
]

SCHEMA_VERSION = 1
_VERSIONED_KINDS = ("session_start", "model", "session_end")


class RecordingError(ValueError, FineTrainingError):
    """A recording line this code cannot read (another schema version, a field of the wrong type); the message
    names FILE:LINE and the field."""


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


def parse_record(record: dict[str, Any], where: str) -> Line:
    """The typed line of a decoded JSON object; :class:`RecordingError` ``WHERE: FIELD: problem`` otherwise."""
    if schema_mismatch(record):
        found = "no schema version" if record.get("schema") is None else f"schema version {record['schema']!r}"
        raise RecordingError(f"{where}: schema: {found}; this code reads version {SCHEMA_VERSION}")
    kind = record.get("kind")
    if kind not in ("session_start", "model", "lsp", "session_end"):
        raise RecordingError(f"{where}: kind: {kind!r} is not a line kind (session_start, model, lsp, session_end)")
    try:
        line = _LINE.validate_python(record)
    except ValidationError as error:
        first = error.errors()[0]
        problem = _PLAIN.get(first["type"], first["msg"])
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        raise RecordingError(f"{where}: {_field(first['loc'])}: {problem}{more}") from None
    if isinstance(line, ModelTurn) and line.error is None and line.key is None:  # a replay answers from its key
        raise RecordingError(f"{where}: key: missing on a finished turn")
    if isinstance(line, LspAnswer) and not {"result", "error"} & line.model_fields_set:
        raise RecordingError(f"{where}: result: neither 'result' nor 'error'")
    return line


def load_line(text: str | bytes, where: str) -> Line:
    """The typed line of one JSONL line; :class:`RecordingError` naming ``where`` (FILE:LINE) and the field."""
    try:
        record = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise RecordingError(f"{where}: not JSON ({str(error)[:100]})") from None
    if not isinstance(record, dict):
        raise RecordingError(f"{where}: a line is a JSON object, not {type(record).__name__}")
    return parse_record(record, where)


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
