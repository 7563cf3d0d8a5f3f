"""A local stand-in for the Hugging Face Hub's upload endpoints, for ``huggingface_hub``'s real client.

It answers what ``HfApi.create_repo`` and ``HfApi.upload_folder`` send (``HF_ENDPOINT`` pointed at it):
``POST /api/repos/create``; ``POST /api/validate-yaml`` (the README's front matter: a YAML mapping, a known
license, string-typed keys); ``POST /api/models/REPO/preupload/REV``, which declares every file ``regular`` (so
its bytes travel inside the commit, with no LFS or Xet storage to stand in for); and
``POST /api/models/REPO/commit/REV``, the NDJSON commit (a ``header`` line, then one ``file`` line per file with
base64 content), whose files it keeps. Every request must carry ``Authorization: Bearer TOKEN``; a wrong one
gets a 401 whose body echoes it, as a hostile server might, so tests can check it never reaches an error.
Anything else is a 404, and every request is kept in ``requests``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["FakeHub"]

#: a few of the Hub's license identifiers (enough for the checks the tests need)
LICENSES = ("apache-2.0", "mit", "gemma", "llama3", "other", "cc-by-4.0")


class FakeHub:
    """The stand-in server on 127.0.0.1; ``repos[repo_id][path]`` holds the committed bytes."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.repos: dict[str, dict[str, bytes]] = {}
        self.requests: list[tuple[str, str]] = []
        self.commits: list[dict[str, Any]] = []
        self.cards: list[str] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                hub.requests.append((method, self.path))
                sent = self.headers.get("Authorization", "")
                if sent != f"Bearer {hub.token}":
                    self._send(401, {"error": f"Invalid credentials in Authorization header: {sent}"})
                    return
                status, answer = hub.route(method, self.path.split("?")[0], body)
                self._send(status, answer)

            def _send(self, status: int, answer: dict[str, Any]) -> None:
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def route(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """The answer to one authorised request."""
        if method == "POST" and path == "/api/repos/create":
            request = json.loads(body)
            repo = f"{request['organization']}/{request['name']}" if request.get("organization") else request["name"]
            self.repos.setdefault(repo, {})
            return 200, {"url": f"{self.url}/{repo}", "name": repo, "id": repo}
        if method == "POST" and path == "/api/validate-yaml":
            return self.validate_yaml(json.loads(body)["content"])
        preupload = re.fullmatch(r"/api/models/(.+)/preupload/([^/]+)", path)
        if method == "POST" and preupload:
            if preupload.group(1) not in self.repos:
                return 404, {"error": "Repository not found"}
            files = json.loads(body)["files"]
            return 200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                   for f in files]}
        commit = re.fullmatch(r"/api/models/(.+)/commit/([^/]+)", path)
        if method == "POST" and commit:
            repo = commit.group(1)
            if repo not in self.repos:
                return 404, {"error": "Repository not found"}
            lines = [json.loads(line) for line in body.splitlines() if line.strip()]
            header = next(line["value"] for line in lines if line["key"] == "header")
            for line in lines:
                if line["key"] == "file":
                    value = line["value"]
                    self.repos[repo][value["path"]] = base64.b64decode(value["content"])
            oid = hashlib.sha1(body).hexdigest()
            self.commits.append({"repo": repo, "header": header, "oid": oid})
            return 200, {"commitUrl": f"{self.url}/{repo}/commit/{oid}", "commitOid": oid, "pullRequestUrl": None}
        return 404, {"error": f"not served by the stand-in: {method} {path}"}

    def validate_yaml(self, content: str) -> tuple[int, dict[str, Any]]:
        """The Hub's check of a README's front matter: YAML mapping, a known license, typed known keys."""
        import yaml

        self.cards.append(content)
        match = re.match(r"---\n(.*?)\n---\n", content, re.DOTALL)
        if match is None:
            return 200, {"errors": [], "warnings": [{"message": "empty or missing yaml metadata in repo card"}]}
        try:
            meta = yaml.safe_load(match.group(1))
        except yaml.YAMLError as error:
            return 400, {"errors": [{"message": f"YAML: {error}"}]}
        errors = []
        if not isinstance(meta, dict):
            errors.append("metadata must be a mapping")
        else:
            if meta.get("license") not in LICENSES:
                errors.append(f"\"license\" must be one of the Hub's license ids, not {meta.get('license')!r}")
            for key in ("base_model", "tags"):
                value = meta.get(key)
                if value is not None and not (isinstance(value, str) or
                                              (isinstance(value, list) and all(isinstance(v, str) for v in value))):
                    errors.append(f"\"{key}\" must be a string or a list of strings")
            for key in ("library_name", "pipeline_tag"):
                if key in meta and not isinstance(meta[key], str):
                    errors.append(f"\"{key}\" must be a string")
        if errors:
            return 400, {"errors": [{"message": e} for e in errors]}
        return 200, {"errors": [], "warnings": []}

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
