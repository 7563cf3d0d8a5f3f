"""A local stand-in for the parts of Ollama's HTTP API the student backend uses: ``POST /api/chat`` with tools,
streaming (NDJSON) and not, and Ollama's error shapes (``{"error": "..."}`` with 404 for a missing model and
500 for a server error). Standard library only, served on 127.0.0.1 from a daemon thread."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = Callable[[dict[str, Any]], dict[str, Any]]
"""Request body -> the assistant message: {"content": str, "tool_calls": [{"function": {...}}]}."""


class FakeOllama:
    """``with FakeOllama(answer, models={"student"}) as fake: ...`` then point the client at ``fake.host``."""

    def __init__(self, answer: Answer, *, models: set[str] | None = None, fail_first: int = 0) -> None:
        self.answer = answer
        self.models = models if models is not None else {"functiongemma-student"}
        self.fail_first = fail_first  # answer this many chat requests with HTTP 500 first
        self.requests: list[dict[str, Any]] = []
        self.host = ""
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> FakeOllama:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append({"path": self.path, "body": body})
                if self.path != "/api/chat":
                    self._send(404, b'{"error":"not found"}')
                    return
                if body.get("model") not in fake.models:
                    error = f"model '{body.get('model')}' not found"
                    self._send(404, json.dumps({"error": error}).encode())
                    return
                if fake.fail_first > 0:
                    fake.fail_first -= 1
                    self._send(500, b'{"error":"llama runner process has terminated"}')
                    return
                message = {"role": "assistant", "content": "", **fake.answer(body)}
                stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
                final = {"model": body["model"], "created_at": stamp, "done": True, "done_reason": "stop",
                         "total_duration": 1000, "prompt_eval_count": 42, "eval_count": 7}
                if body.get("stream", True):
                    chunks = [{"model": body["model"], "created_at": stamp, "done": False,
                               "message": {"role": "assistant", "content": piece}}
                              for piece in _pieces(str(message.get("content") or ""))]
                    if message.get("tool_calls"):
                        chunks.append({"model": body["model"], "created_at": stamp, "done": False,
                                       "message": {"role": "assistant", "content": "",
                                                   "tool_calls": message["tool_calls"]}})
                    chunks.append({**final, "message": {"role": "assistant", "content": ""}})
                    data = b"".join(json.dumps(c).encode() + b"\n" for c in chunks)
                    self._send(200, data, "application/x-ndjson")
                else:
                    self._send(200, json.dumps({**final, "message": message}).encode())

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.host = f"http://{host!s}:{port}"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _pieces(text: str) -> list[str]:
    return [text[i : i + 4] for i in range(0, len(text), 4)]
