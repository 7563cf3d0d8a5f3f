"""The LSP handler against the real jedi language server on examples/sample_repo (no mocks)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from interpreters.lsp import LspError, LspServer, find_server_binary
from teacher.handlers import interpret, perform
from teacher.operations import Definition, DocumentSymbols, Hover, Location, References, WorkspaceSymbols
from tests.conftest import REPO, SAMPLE_REPO, position_of


async def test_hover_definition_references_and_symbols_on_real_code() -> None:
    async with LspServer(SAMPLE_REPO) as lsp, interpret(lsp):
        [total] = [s for s in await perform(WorkspaceSymbols("order_total")) if s.name == "order_total"]
        assert total.location.path == "shop/pricing.py" and total.kind == 12
        hover = await perform(Hover(total.location.path, total.location.line, total.location.character))
        assert hover is not None and "def order_total(order: Order) -> Money" in hover

        line, column = position_of("shop/checkout.py", "order_total(order)")
        assert await perform(Definition("shop/checkout.py", line, column)) == (total.location,)

        uses = await perform(References(total.location.path, total.location.line, total.location.character))
        sites = {(u.path, u.line) for u in uses}
        assert ("shop/checkout.py", line) in sites
        assert {"shop/reports.py", "shop/validation.py"} <= {path for path, _ in sites}

        [order] = [s for s in await perform(DocumentSymbols("shop/models.py")) if s.name == "Order"]
        assert order.kind == 5 and order.start_line < order.end_line
        assert [c.name for c in order.children][:5] == ["id", "items", "status", "customer", "discount"]
        assert [c.detail for c in order.children][1] == "items: list[LineItem]"


async def test_locations_outside_the_root_are_left_out() -> None:
    async with LspServer(SAMPLE_REPO) as lsp, interpret(lsp):
        line, column = position_of("shop/models.py", "dataclass", occurrence=2)  # @dataclass usage
        assert await perform(Definition("shop/models.py", line, column)) == ()


async def test_cache_answers_a_repeated_request_without_asking_the_server() -> None:
    async with LspServer(SAMPLE_REPO) as lsp, interpret(lsp):
        first = await perform(DocumentSymbols("shop/pricing.py"))
        asked = lsp.stats.requests
        assert await perform(DocumentSymbols("shop/pricing.py")) == first
        assert (lsp.stats.requests, lsp.stats.cache_hits) == (asked, 1)
    async with LspServer(SAMPLE_REPO, cache=False) as uncached, interpret(uncached):
        await perform(DocumentSymbols("shop/pricing.py"))
        await perform(DocumentSymbols("shop/pricing.py"))
        assert (uncached.stats.requests, uncached.stats.cache_hits) == (2, 0)


async def test_a_dead_server_is_restarted_once() -> None:
    async with LspServer(SAMPLE_REPO) as lsp, interpret(lsp):
        await perform(WorkspaceSymbols("Order"))
        process = lsp._server.server.process
        process.kill()
        await process.wait()
        found = await perform(WorkspaceSymbols("Money"))
        assert any(s.name == "Money" for s in found)
        assert lsp.stats.restarts == 1


async def test_bad_paths_are_clear_errors() -> None:
    with pytest.raises(NotADirectoryError, match="not a directory"):
        LspServer(SAMPLE_REPO / "shop" / "models.py")
    async with LspServer(SAMPLE_REPO) as lsp, interpret(lsp):
        with pytest.raises(LspError, match="is not a file"):
            await perform(Hover("shop/missing.py", 0, 0))
        with pytest.raises(LspError, match="outside the repository root"):
            await perform(DocumentSymbols("../README.md"))
        assert lsp.stats.failures == 2


def test_the_server_is_found_beside_the_interpreter() -> None:
    assert Path(find_server_binary()).parent == Path(sys.executable).parent
    with pytest.raises(LspError, match="no language server is configured"):
        find_server_binary("cobol")


def test_location_values_are_repository_relative() -> None:
    assert Location(path="shop/models.py", line=0, character=0).path == "shop/models.py"


async def test_a_server_that_cannot_start_is_a_clear_error_not_a_hang(tmp_path: Path) -> None:
    broken = tmp_path / "dead-server"
    broken.write_text("#!/bin/sh\nexit 3\n", encoding="utf-8")
    broken.chmod(0o755)
    async with LspServer(SAMPLE_REPO, server_binary=str(broken), timeout=5) as lsp, interpret(lsp):
        with pytest.raises(LspError, match="could not start"):
            await perform(WorkspaceSymbols("Order"))


def test_the_server_dies_with_a_killed_parent() -> None:
    import os
    import signal
    import subprocess
    import time

    script = (
        "import asyncio, sys\n"
        "from interpreters.lsp import LspServer\n"
        "from teacher.handlers import interpret, perform\n"
        "from teacher.operations import WorkspaceSymbols\n"
        "async def main():\n"
        f"    lsp = LspServer({str(SAMPLE_REPO)!r})\n"
        "    async with interpret(lsp):\n"
        "        await perform(WorkspaceSymbols('Order'))\n"
        "        print(lsp._server.server.process.pid, flush=True)\n"
        "        await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert parent.stdout is not None
    server_pid = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(server_pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(server_pid, signal.SIGKILL)
    raise AssertionError("the language server outlived its killed parent")


# What both stand-in servers need: read a framed JSON-RPC message from stdin, send one to stdout.
LSP_IO = '''import json, sys
def read():
    length = 0
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            sys.exit(0)
        if line in (b"\\r\\n", b"\\n"):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return json.loads(sys.stdin.buffer.read(length))
def send(message):
    body = json.dumps(message).encode()
    sys.stdout.buffer.write(b"Content-Length: %d\\r\\n\\r\\n" % len(body) + body)
    sys.stdout.buffer.flush()
'''  # no braces: it goes into the templates below, which are .format()-ed

DYING_SERVER = '''#!{python}
"""A language server that initializes properly, then dies on its first real request."""
''' + LSP_IO + '''while True:
    message = read()
    if message.get("method") == "initialize":
        send({{"jsonrpc": "2.0", "id": message["id"], "result": {{"capabilities": {{
            "textDocumentSync": {{"change": 2}},
            "completionProvider": {{"triggerCharacters": [".", "'", '"'], "resolveProvider": True}}}}}}}})
    elif "id" in message and message.get("method") not in ("shutdown",):
        sys.exit(1)
'''


async def test_a_server_that_dies_again_after_its_restart_is_a_clear_error(tmp_path: Path) -> None:
    server = tmp_path / "dying-server"
    server.write_text(DYING_SERVER.format(python=sys.executable), encoding="utf-8")
    server.chmod(0o755)
    async with LspServer(SAMPLE_REPO, server_binary=str(server), timeout=10) as lsp, interpret(lsp):
        with pytest.raises(LspError, match="died twice"):
            await perform(WorkspaceSymbols("Order"))
        assert lsp.stats.restarts == 1 and lsp.stats.requests == 2


SILENT_SERVER = '''#!{python}
"""A language server that reads its input and never answers{after} (but shuts down when asked)."""
''' + LSP_IO + '''while True:
    message = read()
    if message.get("method") == "initialize" and {initialize}:
        send({{"jsonrpc": "2.0", "id": message["id"], "result": {{"capabilities": {{
            "textDocumentSync": {{"change": 2}},
            "completionProvider": {{"triggerCharacters": [".", "'", '"'], "resolveProvider": True}}}}}}}})
    elif message.get("method") == "shutdown":
        send({{"jsonrpc": "2.0", "id": message["id"], "result": None}})
    elif message.get("method") == "exit":
        sys.exit(0)
'''


def silent_server(tmp_path: Path, *, initialize: bool) -> str:
    server = tmp_path / "silent-server"
    after = " after initializing" if initialize else ""
    server.write_text(SILENT_SERVER.format(python=sys.executable, initialize=initialize, after=after), encoding="utf-8")
    server.chmod(0o755)
    return str(server)


async def test_a_cancelled_start_is_never_swallowed(tmp_path: Path) -> None:
    import asyncio

    async with LspServer(SAMPLE_REPO, server_binary=silent_server(tmp_path, initialize=False), timeout=30) as lsp:
        starting = asyncio.ensure_future(lsp.handle(WorkspaceSymbols("Order")))
        await asyncio.sleep(1.0)  # the server is starting and will never answer
        starting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(starting, 10)
        assert lsp.stats.failures == 0  # not turned into a lookup failure


async def test_a_timeout_is_transient_and_not_cached(tmp_path: Path) -> None:
    from interpreters.lsp import LspUnavailable

    async with LspServer(SAMPLE_REPO, server_binary=silent_server(tmp_path, initialize=True), timeout=1) as lsp:
        for asked in (1, 2):
            with pytest.raises(LspUnavailable, match="took longer than 1 s") as caught:
                await lsp.handle(WorkspaceSymbols("Order"))
            assert caught.value.transient and lsp.stats.requests == asked  # asked again: a timeout is not cached
