"""The LSP handler: answers Hover, Definition, References, DocumentSymbols and WorkspaceSymbols through a real
language server (jedi-language-server for Python) driven by multilspy, and SourceText by reading the file under
the root.

One server per handler (a session), started on the first request; a timeout on every request; a server that
dies is restarted once, then a clear error; a per-session cache so the same request is never sent twice
(failures of the request are cached too); clean shutdown with ``await lsp.close()`` or ``async with LspServer(...)``.
Cancellation (``asyncio.CancelledError``, KeyboardInterrupt, SystemExit) always goes through unchanged. A failure
of the server itself rather than of the request (it could not start, died twice, timed out) is an
:class:`LspUnavailable`: asking again later may succeed, so a recorder does not count the session finished.
Everything the program sees is repository-relative: locations outside the root (the standard library,
site-packages) are left out.
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
import sys
from contextlib import AsyncExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, TypeVar, cast
from urllib.parse import unquote, urlparse

from teacher.handlers import Handler
from teacher.operations import (
    LSP_OPERATIONS,
    Definition,
    DocumentSymbol,
    DocumentSymbols,
    Hover,
    Location,
    Operation,
    OperationFailed,
    References,
    SourceText,
    WorkspaceSymbol,
    WorkspaceSymbols,
)

R = TypeVar("R")

__all__ = ["LspError", "LspServer", "LspStats", "LspTimeout", "LspUnavailable", "find_server_binary"]

_SERVERS = {"python": "jedi-language-server"}
WORKSPACE_SYMBOL_LIMIT = 200


class LspError(OperationFailed):
    """A language-server request failed (bad file, server error, or a server that died twice)."""


class LspUnavailable(LspError):
    """The server itself failed (could not start, died twice): the request may succeed when asked again."""

    transient = True


class LspTimeout(LspUnavailable):
    """A request took longer than the handler's timeout."""


@dataclass
class LspStats:
    """What a session asked of the server."""

    requests: int = 0
    cache_hits: int = 0
    failures: int = 0
    restarts: int = 0


def find_server_binary(language: str = "python") -> str:
    """The language server beside the running interpreter (an unactivated venv works), else on PATH."""
    name = _SERVERS.get(language)
    if name is None:
        raise LspError(f"no language server is configured for {language!r}; known: {', '.join(_SERVERS)}")
    beside = pathlib.Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    import shutil

    found = shutil.which(name)
    if found is None:
        raise LspError(f"{name} is not installed: pip install the project (it depends on it)")
    return found


def _server_died(error: BaseException) -> bool:
    return isinstance(error, ConnectionError | BrokenPipeError | EOFError | ProcessLookupError)


class LspServer(Handler):
    """A handler for the LSP operations, backed by one language server rooted at ``root``."""

    operations: ClassVar[tuple[type[Operation[Any]], ...]] = LSP_OPERATIONS

    def __init__(
        self,
        root: str | pathlib.Path,
        *,
        language: str = "python",
        timeout: float = 30.0,
        cache: bool = True,
        server_binary: str | None = None,
    ) -> None:
        path = pathlib.Path(root).expanduser()
        if not path.is_dir():
            raise NotADirectoryError(f"repository root {str(root)!r} is not a directory")
        self.root = path.resolve()
        self.language = language
        self.timeout = timeout
        self.use_cache = cache
        self.server_binary = server_binary or find_server_binary(language)
        self.stats = LspStats()
        self._cache: dict[Operation[Any], Any] = {}
        self._server: Any = None
        self._stack: AsyncExitStack | None = None
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------------------------------ lifecycle

    async def _start(self) -> Any:
        from multilspy import LanguageServer
        from multilspy.multilspy_config import MultilspyConfig
        from multilspy.multilspy_logger import MultilspyLogger

        logging.getLogger("multilspy").setLevel(logging.WARNING)
        config = MultilspyConfig(code_language=self.language, server_binary=self.server_binary)
        server = LanguageServer.create(config, MultilspyLogger(), str(self.root))
        if self.language == "python":
            server._get_initialize_params = self._jedi_params(server._get_initialize_params)
        launch = server.server.process_launch_info  # run the server through the launcher: it dies with us
        launch.cmd = [sys.executable, str(pathlib.Path(__file__).with_name("lsp_launcher.py")), *launch.cmd]
        stack = AsyncExitStack()
        try:
            await asyncio.wait_for(stack.enter_async_context(server.start_server()), self.timeout)
        except Exception as error:
            await stack.aclose()
            raise LspUnavailable(f"could not start {self.server_binary} in {self.root}: {error!r}") from error
        except BaseException:  # cancelled or interrupted: clean up, and let it go on unchanged
            await asyncio.shield(stack.aclose())
            raise
        self._server, self._stack = server, stack
        return server

    def _jedi_params(self, original: Any) -> Any:
        """jedi-language-server's options: more workspace symbols, and a root inside a virtualenv is searched."""

        def params(root: str) -> dict[str, Any]:
            found: dict[str, Any] = original(root)
            ignored = [".nox", ".tox", "__pycache__", ".git"]
            if not any(part in (".venv", "venv") for part in self.root.parts):
                ignored += [".venv", "venv"]
            found["initializationOptions"] = {
                "workspace": {"symbols": {"ignoreFolders": ignored, "maxSymbols": WORKSPACE_SYMBOL_LIMIT}}
            }
            return found

        return params

    async def _ensure(self) -> Any:
        async with self._lock:
            if self._server is None:
                await self._start()
            return self._server

    async def _restart(self) -> Any:
        async with self._lock:
            await self._shutdown()
            self.stats.restarts += 1
            return await self._start()

    async def _shutdown(self) -> None:
        stack, self._stack, self._server = self._stack, None, None
        if stack is not None:
            try:
                await asyncio.wait_for(stack.aclose(), 15)
            except (TimeoutError, Exception):  # a dead server cannot be shut down politely
                logging.getLogger(__name__).debug("language server shutdown failed", exc_info=True)

    async def close(self) -> None:
        """Shut the server down (it starts again on the next request)."""
        async with self._lock:
            await self._shutdown()

    async def __aenter__(self) -> LspServer:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------------------------------- requests

    async def handle(self, operation: Operation[R]) -> R:
        if self.use_cache and operation in self._cache:
            self.stats.cache_hits += 1
            cached = self._cache[operation]
            if isinstance(cached, LspError):
                raise cached
            return cast(R, cached)
        try:
            result = await self._ask(operation)
        except LspError as error:
            self.stats.failures += 1
            if self.use_cache and not error.transient:  # the server's failure may pass
                self._cache[operation] = error
            raise
        if self.use_cache:
            self._cache[operation] = result
        return cast(R, result)

    async def _ask(self, operation: Operation[Any]) -> Any:
        if isinstance(operation, SourceText):  # a file read, no server needed
            self.stats.requests += 1
            self._file(operation.path)  # refuses a path outside the root
            try:
                return (self.root / operation.path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise LspError(f"{operation.path!r} cannot be read: {error}") from None
        server = await self._ensure()
        for attempt in (1, 2):
            self.stats.requests += 1
            try:
                return await self._send_watching(server, operation)
            except LspError:
                raise
            except Exception as error:
                process = server.server.process
                dead = _server_died(error) or process is None or process.returncode is not None
                if not dead:
                    raise LspError(f"{operation!r} failed: {error}") from None
                if attempt == 2:
                    raise LspUnavailable(
                        f"the language server died twice, the second time during {operation!r}") from error
                server = await self._restart()
        raise AssertionError("unreachable")

    async def _send_watching(self, server: Any, operation: Operation[Any]) -> Any:
        """Send one request; a server that exits meanwhile is noticed at once (its answer would never come)."""
        process = server.server.process
        if process is None or process.returncode is not None:
            raise ConnectionError("the language server is not running")
        request = asyncio.ensure_future(self._send(server, operation))
        exited = asyncio.ensure_future(process.wait())
        try:
            done, _ = await asyncio.wait({request, exited}, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (request, exited):
                if not task.done():
                    task.cancel()
        if request in done:
            return request.result()
        if exited in done:
            raise ConnectionError(f"the language server exited with code {process.returncode}")
        raise LspTimeout(f"{operation!r} took longer than {self.timeout:g} s")

    def _file(self, path: str) -> tuple[str, str]:
        absolute = (self.root / path).resolve()
        if not absolute.is_relative_to(self.root):
            raise LspError(f"{path!r} is outside the repository root")
        if not absolute.is_file():
            raise LspError(f"{path!r} is not a file under {self.root}")
        return path, absolute.as_uri()

    async def _send(self, server: Any, operation: Operation[Any]) -> Any:
        send = server.server.send
        if isinstance(operation, WorkspaceSymbols):
            found = await send.workspace_symbol({"query": operation.query}) or []
            return tuple(s for s in (self._workspace_symbol(item) for item in found) if s is not None)
        path, uri = self._file(getattr(operation, "path"))  # noqa: B009 - every other operation has a path
        document = {"uri": uri}
        with server.open_file(path):
            if isinstance(operation, DocumentSymbols):
                found = await send.document_symbol({"textDocument": document}) or []
                return tuple(self._document_symbol(item) for item in found)
            assert isinstance(operation, Hover | Definition | References)
            position = {"line": operation.line, "character": operation.character}
            if isinstance(operation, Hover):
                return _hover_text(await send.hover({"textDocument": document, "position": position}))
            if isinstance(operation, Definition):
                found = await send.definition({"textDocument": document, "position": position})
            else:
                found = await send.references(
                    {"textDocument": document, "position": position, "context": {"includeDeclaration": False}}
                )
        items = found if isinstance(found, list) else [found] if found else []
        return tuple(loc for loc in (self._location(item) for item in items) if loc is not None)

    # ----------------------------------------------------------------------------------------- conversion

    def _relative(self, uri: str) -> str | None:
        path = pathlib.Path(unquote(urlparse(uri).path)).resolve()
        return path.relative_to(self.root).as_posix() if path.is_relative_to(self.root) else None

    def _location(self, item: dict[str, Any]) -> Location | None:
        uri = item.get("uri") or item.get("targetUri")
        span = item.get("range") or item.get("targetSelectionRange")
        path = self._relative(uri) if uri else None
        if path is None or not span:
            return None
        return Location(path=path, line=span["start"]["line"], character=span["start"]["character"])

    def _document_symbol(self, item: dict[str, Any]) -> DocumentSymbol:
        if "location" in item:  # flat SymbolInformation: no children
            span = item["location"]["range"]
            name_at = span["start"]
        else:
            span = item["range"]
            name_at = item.get("selectionRange", span)["start"]
        return DocumentSymbol(
            name=item["name"],
            kind=item["kind"],
            line=name_at["line"],
            character=name_at["character"],
            start_line=span["start"]["line"],
            end_line=span["end"]["line"],
            detail=item.get("detail") or "",
            children=tuple(self._document_symbol(child) for child in item.get("children") or ()),
        )

    def _workspace_symbol(self, item: dict[str, Any]) -> WorkspaceSymbol | None:
        location = self._location(item.get("location") or {})
        if location is None:
            return None
        return WorkspaceSymbol(
            name=item["name"], kind=item["kind"], location=location, container=item.get("containerName") or ""
        )


def _hover_text(response: Any) -> str | None:
    if not response:
        return None
    contents = response.get("contents") if isinstance(response, dict) else response
    if isinstance(contents, str):
        return contents or None
    if isinstance(contents, dict):
        return str(contents.get("value") or "") or None
    if isinstance(contents, list):
        parts = [c if isinstance(c, str) else str(c.get("value", "")) for c in contents]
        return "\n".join(p for p in parts if p) or None
    return None
