"""A local stand-in for the Anthropic Messages and Message Batches APIs, for tests and benchmarks.

It speaks enough HTTP/JSON for the real ``anthropic`` client to run against it on 127.0.0.1::

    with FakeAnthropic() as fake:
        client = anthropic.AsyncAnthropic(api_key="test-key", base_url=fake.base_url, max_retries=0)
        message = await client.messages.create(model="m", max_tokens=64, messages=[...], tools=[...])

Endpoints: ``POST /v1/messages`` (with optional latency and seeded fault injection), ``POST /v1/messages/count_tokens``,
``POST /v1/messages/batches``, ``GET /v1/messages/batches/{id}`` and ``GET /v1/messages/batches/{id}/results``.
Every endpoint requires a credential, else 401: a non-empty ``x-api-key`` header or ``authorization: Bearer <key>``
(anthropic 2.x sends ``api_key=`` as the Bearer header, not as ``x-api-key``). Every request is recorded in
``FakeAnthropic.requests``. ``hostile=Hostile(kind)`` makes ``POST /v1/messages`` misbehave the way a broken or
malicious server would (HTML, truncated or deeply nested bodies, wrong ``usage`` types, absurd ``retry-after``
values, a body dripped byte by byte, a connection reset mid-body, the caller's key echoed in an error).

Standard library only: a ``ThreadingHTTPServer`` speaking HTTP/1.1 with keep-alive, served from a daemon thread.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import socket
import struct
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast

from interpreters.anthropic import min_cacheable_tokens

__all__ = [
    "HOSTILE_KINDS",
    "DefaultResponder",
    "FakeAnthropic",
    "Faults",
    "Hostile",
    "Responder",
    "default_responder",
    "minimal_input",
    "minimal_value",
]

Responder = Callable[[dict[str, Any]], dict[str, Any]]
"""Request JSON body -> the Messages API response JSON."""

FAULT_KINDS: tuple[str, ...] = ("429", "529", "500", "timeout", "malformed")


@dataclass
class Faults:
    """Seeded fault injection for ``POST /v1/messages`` (never applied inside batches)."""

    rate: float = 0.0  # fraction of /v1/messages POSTs that fail, drawn from random.Random(seed)
    seed: int = 0
    kinds: tuple[str, ...] = FAULT_KINDS  # chosen uniformly among these
    retry_after: float = 0.05  # seconds, sent as the `retry-after` header on 429
    hang_seconds: float = 5.0  # how long a "timeout" fault sleeps before answering (the client times out first)

    def __post_init__(self) -> None:
        unknown = [kind for kind in self.kinds if kind not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; expected some of {FAULT_KINDS}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must lie in [0, 1], got {self.rate}")
        if self.rate > 0 and not self.kinds:
            raise ValueError("a positive fault rate needs at least one fault kind")


HOSTILE_KINDS: tuple[str, ...] = (
    "html",  # 200 with an HTML page
    "truncated",  # 200 with the first half of a JSON message
    "usage_string",  # a valid message whose usage is a string
    "usage_negative",  # ... whose token counts are negative
    "usage_nan",  # ... whose token counts are NaN and Infinity (Python's json reads both)
    "nested",  # 200 with JSON nested ``depth`` deep
    "nested_error",  # 500 with JSON nested ``depth`` deep
    "retry_after_nan",  # 429 with retry-after: NaN
    "retry_after_inf",  # 429 with retry-after: inf
    "retry_after_huge",  # 429 with retry-after: 1000000000
    "drip",  # 200, a valid message sent one byte every ``drip_interval`` seconds
    "reset",  # 200, half the body, then a TCP reset
    "echo_key",  # 401 whose message repeats the caller's key
    "unknown_model",  # 404 not_found_error naming the model
)


@dataclass
class Hostile:
    """Makes ``POST /v1/messages`` misbehave: the first ``times`` requests (all when None) answer as ``kinds``
    says, the n-th one as ``kinds[n % len(kinds)]``; later requests are answered normally."""

    kinds: tuple[str, ...]
    times: int | None = None
    drip_interval: float = 0.4
    depth: int = 100_000

    def __post_init__(self) -> None:
        unknown = [kind for kind in self.kinds if kind not in HOSTILE_KINDS]
        if unknown or not self.kinds:
            raise ValueError(f"unknown hostile kinds {unknown}; expected some of {HOSTILE_KINDS}")


# --------------------------------------------------------------------------------------------------------------------
# Minimal tool inputs from JSON schemas
# --------------------------------------------------------------------------------------------------------------------


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow local ``$ref`` pointers (``#/$defs/X``, ``#/definitions/X``) and take the first ``anyOf``/``oneOf``."""
    seen = 0
    while seen < 32:
        seen += 1
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = root
            for part in ref[2:].split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            schema = {**cast(dict[str, Any], target), **{k: v for k, v in schema.items() if k != "$ref"}}
            continue
        for key in ("anyOf", "oneOf"):
            options = schema.get(key)
            if isinstance(options, list) and options:
                non_null = [o for o in options if isinstance(o, dict) and o.get("type") != "null"]
                chosen = cast(dict[str, Any], (non_null or options)[0])
                schema = {**chosen, **{k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}}
                break
        else:
            all_of = schema.get("allOf")
            if isinstance(all_of, list) and all_of:
                merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
                for part in all_of:
                    if isinstance(part, dict):
                        merged = {**_resolve(cast(dict[str, Any], part), root), **merged}
                schema = merged
                continue
            return schema
    return schema


def _schema_type(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        non_null = [k for k in kind if k != "null"]
        return str(non_null[0]) if non_null else "null"
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return None


def _clamp(value: float, schema: dict[str, Any], step: float) -> float:
    minimum = schema.get("minimum")
    maximum = schema.get("maximum")
    exclusive_min = schema.get("exclusiveMinimum")
    exclusive_max = schema.get("exclusiveMaximum")
    if isinstance(minimum, int | float) and value < minimum:
        value = minimum
    if isinstance(exclusive_min, int | float) and not isinstance(exclusive_min, bool) and value <= exclusive_min:
        value = exclusive_min + step
    if isinstance(maximum, int | float) and value > maximum:
        value = maximum
    if isinstance(exclusive_max, int | float) and not isinstance(exclusive_max, bool) and value >= exclusive_max:
        value = exclusive_max - step
    return value


def minimal_value(schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    """A small value valid for ``schema``: enum/const first, else by type.

    string -> "x" (padded to minLength); integer -> minimum if given else 1; number -> 0.5 clamped to the bounds;
    boolean -> False; null -> None; array -> [] unless ``items`` has an enum (then [first enum]) or minItems > 0;
    object -> only its required properties, recursively.
    """
    root = schema if root is None else root
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    if "default" in schema and _schema_type(schema) is None:
        return schema["default"]
    kind = _schema_type(schema)
    if kind == "string":
        min_length = schema.get("minLength")
        return "x" * max(1, min_length if isinstance(min_length, int) else 1)
    if kind == "integer":
        minimum = schema.get("minimum")
        start = minimum if isinstance(minimum, int) and not isinstance(minimum, bool) else 1
        return int(_clamp(start, schema, 1))
    if kind == "number":
        return _clamp(0.5, schema, 0.5)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    if kind == "array":
        items = schema.get("items")
        item_schema = _resolve(cast(dict[str, Any], items), root) if isinstance(items, dict) else {}
        item_enum = item_schema.get("enum")
        if isinstance(item_enum, list) and item_enum:
            return [item_enum[0]]
        min_items = schema.get("minItems")
        if isinstance(min_items, int) and min_items > 0:
            return [minimal_value(item_schema, root) for _ in range(min_items)]
        return []
    if kind == "object":
        return _minimal_object(schema, root)
    return "x"


def _minimal_object(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    properties = schema.get("properties")
    props = cast(dict[str, Any], properties) if isinstance(properties, dict) else {}
    required = schema.get("required")
    names = [name for name in required if isinstance(name, str)] if isinstance(required, list) else []
    result: dict[str, Any] = {}
    for name in names:
        prop = props.get(name)
        result[name] = minimal_value(cast(dict[str, Any], prop), root) if isinstance(prop, dict) else "x"
    return result


def minimal_input(schema: dict[str, Any]) -> dict[str, Any]:
    """Minimal valid tool input for a tool's ``input_schema``: a value for each required property only."""
    value = minimal_value(schema)
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


# --------------------------------------------------------------------------------------------------------------------
# Default responder
# --------------------------------------------------------------------------------------------------------------------


def _hex(length: int = 24) -> str:
    return uuid.uuid4().hex[:length]


def _has_cache_control(blocks: Any) -> bool:
    return isinstance(blocks, list) and any(isinstance(b, dict) and "cache_control" in b for b in blocks)


def _thinking_enabled(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def _chosen_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    tools = body.get("tools")
    if not isinstance(tools, list) or not tools:
        return None
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        if choice.get("type") == "none":
            return None
        if choice.get("type") == "tool":
            for tool in tools:
                if isinstance(tool, dict) and tool.get("name") == choice.get("name"):
                    return cast(dict[str, Any], tool)
    first = tools[0]
    return cast(dict[str, Any], first) if isinstance(first, dict) else None


class DefaultResponder:
    """Builds realistic Messages API responses, simulating prompt caching (the state lives on the instance).

    With tools: [thinking (only when enabled)] + text + tool_use for the first tool (or the ``tool_choice`` tool)
    with ``minimal_input`` of its schema, stop_reason "tool_use". Without tools: one text block and "end_turn".
    Prompt caching as the API documents it: the prefix up to a block carrying ``cache_control`` (tools, then
    system, then message blocks) is reported as ``cache_creation_input_tokens`` the first time it is seen and as
    ``cache_read_input_tokens`` afterwards, but only when it reaches the model's minimum cacheable length
    (``interpreters.anthropic.min_cacheable_tokens``: 4,096 tokens for Haiku 4.5); a shorter prefix is plain input.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cached_prefixes: set[str] = set()

    def reset_cache(self) -> None:
        with self._lock:
            self._cached_prefixes.clear()

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        tool = _chosen_tool(body)
        if tool is not None:
            if _thinking_enabled(body):
                content.append(
                    {
                        "type": "thinking",
                        "thinking": "The request offers tools; the first one fits, so call it with minimal input.",
                        "signature": f"sig-{_hex(32)}",
                    }
                )
            name = str(tool.get("name", "tool"))
            schema = tool.get("input_schema")
            tool_input = minimal_input(cast(dict[str, Any], schema)) if isinstance(schema, dict) else {}
            content.append({"type": "text", "text": f"I will call `{name}` to gather what the task needs."})
            content.append({"type": "tool_use", "id": f"toolu_{_hex()}", "name": name, "input": tool_input})
            stop_reason = "tool_use"
        else:
            if _thinking_enabled(body):
                content.append(
                    {
                        "type": "thinking",
                        "thinking": "No tools are offered, so answer directly.",
                        "signature": f"sig-{_hex(32)}",
                    }
                )
            content.append({"type": "text", "text": "Here is a short answer from the fake Anthropic server."})
            stop_reason = "end_turn"
        return {
            "id": f"msg_{_hex()}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "claude-fake"),
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": self.usage(body, content),
        }

    def usage(self, body: dict[str, Any], content: list[dict[str, Any]]) -> dict[str, int]:
        total = max(1, len(json.dumps(body)) // 4)
        output_tokens = max(1, len(json.dumps(content)) // 8)
        creation = read = 0
        # the cacheable prefix as the API orders it: tools, then system, then the messages' blocks; a breakpoint is a
        # block carrying cache_control, and its prefix is cached only from the model's minimum length on
        minimum = min_cacheable_tokens(str(body.get("model", "")))
        segments = _prefix_segments(body)
        breakpoints = [n for n, block in enumerate(segments) if "cache_control" in block]
        prefixes = [json.dumps(segments[: n + 1], sort_keys=True) for n in breakpoints]
        prefixes = [p for p in prefixes if len(p) // 4 >= minimum]
        if prefixes:
            longest = prefixes[-1]
            with self._lock:
                hit = next((p for p in reversed(prefixes) if p in self._cached_prefixes), None)
                self._cached_prefixes.add(longest)
            read = min(total - 1, len(hit) // 4) if hit is not None else 0
            creation = min(total - 1 - read, len(longest) // 4 - read) if hit != longest else 0
            total -= read + creation
        return {
            "input_tokens": total,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": creation,
            "cache_read_input_tokens": read,
        }


def _prefix_segments(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's blocks in the API's cache order: each tool, each system block, each message block."""
    segments: list[dict[str, Any]] = []
    tools, system = body.get("tools"), body.get("system")
    segments += [t for t in tools if isinstance(t, dict)] if isinstance(tools, list) else []
    if isinstance(system, str):
        segments.append({"type": "text", "text": system})
    elif isinstance(system, list):
        segments += [b for b in system if isinstance(b, dict)]
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        blocks = message.get("content")
        if isinstance(blocks, str):
            segments.append({"role": message.get("role"), "text": blocks})
        elif isinstance(blocks, list):
            segments += [{"role": message.get("role"), **b} for b in blocks if isinstance(b, dict)]
    return segments


default_responder: Responder = DefaultResponder()
"""A module-wide DefaultResponder (its cache state is shared); FakeAnthropic() without a responder gets a fresh one."""


# --------------------------------------------------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------------------------------------------------


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class _Batch:
    id: str
    created_at: datetime
    results: list[dict[str, Any]]
    polls: int = 0
    ended_at: datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_BATCH_RE = re.compile(r"^/v1/messages/batches/([^/]+)$")
_RESULTS_RE = re.compile(r"^/v1/messages/batches/([^/]+)/results$")


def _credential(api_key: str | None, authorization: str | None) -> str:
    """The key a request carries: ``x-api-key`` if non-empty, else the token of ``Authorization: Bearer``; else ""."""
    if api_key and api_key.strip():
        return api_key.strip()
    scheme, _, token = (authorization or "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, fake: FakeAnthropic) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is expected here; anything else is worth a traceback.
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError) or self.fake._stopping:
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes; don't let Nagle hold the body back
    server_version = "FakeAnthropic/1.0"
    sys_version = ""

    @property
    def fake(self) -> FakeAnthropic:
        return cast(_Server, self.server).fake

    def log_message(self, format: str, *args: Any) -> None:
        return

    def setup(self) -> None:
        super().setup()
        self.fake._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            with contextlib.suppress(OSError, ValueError):  # a hostile answer may have closed the socket itself
                super().finish()
        finally:
            self.fake._track(self.connection, add=False)

    # -- plumbing ----------------------------------------------------------------------------------------------------

    def _read_body(self) -> tuple[bytes, Any]:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        if not raw:
            return raw, None
        try:
            return raw, json.loads(raw)
        except ValueError:
            return raw, None

    def _send(
        self, status: int, payload: bytes, content_type: str = "application/json", headers: dict[str, str] | None = None
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(payload)))
            self.send_header("request-id", f"req_{_hex()}")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers=headers)

    def _error(self, status: int, error_type: str, message: str, headers: dict[str, str] | None = None) -> None:
        self._json(status, {"type": "error", "error": {"type": error_type, "message": message}}, headers)

    def _handle(self, method: str) -> None:
        raw, body = self._read_body()
        path = self.path.split("?", 1)[0]
        self.fake._record(
            {
                "method": method,
                "path": path,
                "headers": {name.lower(): value for name, value in self.headers.items()},
                "body": body,
            }
        )
        if not _credential(self.headers.get("x-api-key"), self.headers.get("authorization")):
            self._error(401, "authentication_error", "an x-api-key header (or Authorization: Bearer) is required")
            return
        if method == "POST" and (body is None or not isinstance(body, dict)):
            message = "request body is not valid JSON" if raw else "request body is required"
            self._error(400, "invalid_request_error", message)
            return
        try:
            self._route(method, path, cast(dict[str, Any], body) if isinstance(body, dict) else {})
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as error:
            self._error(500, "api_error", f"fake server error: {type(error).__name__}: {error}")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # -- routes ------------------------------------------------------------------------------------------------------

    def _route(self, method: str, path: str, body: dict[str, Any]) -> None:
        fake = self.fake
        if method == "POST" and path == "/v1/messages":
            self._messages(body)
        elif method == "POST" and path == "/v1/messages/count_tokens":
            self._json(200, {"input_tokens": max(1, len(json.dumps(body)) // 4)})
        elif method == "POST" and path == "/v1/messages/batches":
            requests = body.get("requests")
            if not isinstance(requests, list) or not all(
                isinstance(r, dict) and isinstance(r.get("custom_id"), str) and isinstance(r.get("params"), dict)
                for r in requests
            ):
                self._error(400, "invalid_request_error", "requests: a list of {custom_id, params} is required")
                return
            self._json(200, fake._create_batch(cast(list[dict[str, Any]], requests)))
        elif method == "GET" and (match := _RESULTS_RE.match(path)):
            batch = fake._batch(match.group(1))
            if batch is None:
                self._error(404, "not_found_error", f"message batch {match.group(1)} not found")
            elif batch.ended_at is None:
                self._error(400, "invalid_request_error", f"message batch {batch.id} has not ended yet")
            else:
                lines = "".join(json.dumps(line) + "\n" for line in batch.results)
                self._send(200, lines.encode(), content_type="application/binary")
        elif method == "GET" and (match := _BATCH_RE.match(path)):
            batch = fake._batch(match.group(1))
            if batch is None:
                self._error(404, "not_found_error", f"message batch {match.group(1)} not found")
            else:
                self._json(200, fake._poll_batch(batch))
        else:
            self._error(404, "not_found_error", f"{method} {path} is not served by the fake Anthropic API")

    def _messages(self, body: dict[str, Any]) -> None:
        fake = self.fake
        if fake.latency > 0:
            time.sleep(fake.latency)
        hostile = fake._draw_hostile()
        if hostile is not None:
            assert fake.hostile is not None
            self._hostile(fake.hostile, hostile, body)
            return
        kind = fake._draw_fault()
        if kind == "429":
            retry_after = str(fake.faults.retry_after)
            self._error(
                429,
                "rate_limit_error",
                "Number of requests has exceeded your rate limit (fake).",
                {"retry-after": retry_after},
            )
        elif kind == "529":
            self._error(529, "overloaded_error", "Overloaded (fake).")
        elif kind == "500":
            self._error(500, "api_error", "Internal server error (fake).")
        elif kind == "malformed":
            self._send(200, b'{"id": "msg_')
        else:
            if kind == "timeout":
                time.sleep(fake.faults.hang_seconds)
            self._json(200, fake.responder(body))


    def _hostile(self, hostile: Hostile, kind: str, body: dict[str, Any]) -> None:
        nested = ("[" * hostile.depth + "]" * hostile.depth).encode()
        if kind == "html":
            self._send(200, b"<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html")
        elif kind == "truncated":
            whole = json.dumps(self.fake.responder(body)).encode()
            self._send(200, whole[: len(whole) // 2])
        elif kind.startswith("usage_"):
            message = self.fake.responder(body)
            if kind == "usage_string":
                message["usage"] = "lots"
            elif kind == "usage_negative":
                message["usage"] = {name: -(10**9) for name in message["usage"]}
            else:
                message["usage"] = {**message["usage"], "input_tokens": float("nan"), "output_tokens": float("inf")}
            self._send(200, json.dumps(message).encode())  # allow_nan: NaN and Infinity go out as bare words
        elif kind == "nested":
            self._send(200, b'{"content": ' + nested + b"}")
        elif kind == "nested_error":
            self._send(500, b'{"type": "error", "error": ' + nested + b"}")
        elif kind.startswith("retry_after_"):
            value = {"retry_after_nan": "NaN", "retry_after_inf": "inf", "retry_after_huge": "1000000000"}[kind]
            self._error(429, "rate_limit_error", "slow down (hostile fake)", {"retry-after": value})
        elif kind == "drip":
            self._drip(json.dumps(self.fake.responder(body)).encode(), hostile.drip_interval)
        elif kind == "reset":
            self._reset(json.dumps(self.fake.responder(body)).encode())
        elif kind == "echo_key":
            key = _credential(self.headers.get("x-api-key"), self.headers.get("authorization"))
            self._error(401, "authentication_error", f"invalid x-api-key: {key}")
        else:
            self._error(404, "not_found_error", f"model: {body.get('model')}")

    def _head(self, status: int, length: int) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(length))
        self.end_headers()
        self.wfile.flush()

    def _drip(self, payload: bytes, interval: float) -> None:
        try:
            self._head(200, len(payload))
            for index in range(len(payload)):
                if self.fake._stopping:
                    break
                self.wfile.write(payload[index : index + 1])
                self.wfile.flush()
                time.sleep(interval)
        except OSError:
            pass
        self.close_connection = True

    def _reset(self, payload: bytes) -> None:
        with contextlib.suppress(OSError):
            self._head(200, len(payload))
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            time.sleep(0.05)
            # SO_LINGER with a zero timeout turns close() into a TCP reset
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        self.close_connection = True


class FakeAnthropic:
    """A local fake of the Anthropic Messages + Message Batches APIs; use as a context manager or start()/stop()."""

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        latency: float = 0.0,
        faults: Faults | None = None,
        batch_polls_before_done: int = 1,
        hostile: Hostile | None = None,
    ) -> None:
        self.responder: Responder = responder if responder is not None else DefaultResponder()
        self.latency = latency
        self.faults = faults if faults is not None else Faults()
        self.batch_polls_before_done = batch_polls_before_done
        self.hostile = hostile
        self.hostile_served = 0  # how many /v1/messages POSTs were answered by ``hostile``
        self.hostile_kinds_served: list[str] = []
        self.base_url = ""
        self.requests: list[dict[str, Any]] = []
        self.faults_injected: list[str] = []  # the fault kind of each faulted /v1/messages POST, in order
        self._rng = random.Random(self.faults.seed)
        self._lock = threading.Lock()
        self._batches: dict[str, _Batch] = {}
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def start(self) -> FakeAnthropic:
        if self._server is not None:
            return self
        self._stopping = False
        self._server = _Server(self)
        host, port = self._server.server_address[:2]
        self.base_url = f"http://{host!s}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-anthropic", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping = True
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:  # wake handler threads parked on idle keep-alive connections
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- helpers for tests -------------------------------------------------------------------------------------------

    def message_requests(self) -> list[dict[str, Any]]:
        """The recorded ``POST /v1/messages`` requests (faulted ones included)."""
        with self._lock:
            return [r for r in self.requests if r["method"] == "POST" and r["path"] == "/v1/messages"]

    # -- internals used by the handler -------------------------------------------------------------------------------

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _record(self, request: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(request)

    def _draw_hostile(self) -> str | None:
        hostile = self.hostile
        if hostile is None:
            return None
        with self._lock:
            if hostile.times is not None and self.hostile_served >= hostile.times:
                return None
            kind = hostile.kinds[self.hostile_served % len(hostile.kinds)]
            self.hostile_served += 1
            self.hostile_kinds_served.append(kind)
            return kind

    def _draw_fault(self) -> str | None:
        faults = self.faults
        if faults.rate <= 0 or not faults.kinds:
            return None
        with self._lock:
            if self._rng.random() >= faults.rate:
                return None
            kind = self._rng.choice(faults.kinds)
            self.faults_injected.append(kind)
            return kind

    def _create_batch(self, requests: list[dict[str, Any]]) -> dict[str, Any]:
        results: list[dict[str, Any]] = []
        for request in requests:
            try:
                result: dict[str, Any] = {"type": "succeeded", "message": self.responder(request["params"])}
            except Exception as error:
                result = {
                    "type": "errored",
                    "error": {"type": "error", "error": {"type": "api_error", "message": f"{error}"}},
                }
            results.append({"custom_id": request["custom_id"], "result": result})
        batch = _Batch(id=f"msgbatch_{_hex()}", created_at=datetime.now(UTC), results=results)
        with self._lock:
            self._batches[batch.id] = batch
        return self._batch_json(batch)

    def _batch(self, batch_id: str) -> _Batch | None:
        with self._lock:
            return self._batches.get(batch_id)

    def _poll_batch(self, batch: _Batch) -> dict[str, Any]:
        with batch.lock:
            batch.polls += 1
            if batch.ended_at is None and batch.polls > self.batch_polls_before_done:
                batch.ended_at = datetime.now(UTC)
        return self._batch_json(batch)

    def _batch_json(self, batch: _Batch) -> dict[str, Any]:
        n = len(batch.results)
        ended = batch.ended_at is not None
        succeeded = sum(1 for r in batch.results if r["result"]["type"] == "succeeded")
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": {
                "processing": 0 if ended else n,
                "succeeded": succeeded if ended else 0,
                "errored": n - succeeded if ended else 0,
                "canceled": 0,
                "expired": 0,
            },
            "created_at": _timestamp(batch.created_at),
            "expires_at": _timestamp(batch.created_at + timedelta(hours=24)),
            "ended_at": _timestamp(batch.ended_at) if batch.ended_at is not None else None,
            "cancel_initiated_at": None,
            "archived_at": None,
            "results_url": f"{self.base_url}/v1/messages/batches/{batch.id}/results" if ended else None,
        }
