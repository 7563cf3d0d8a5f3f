"""Queries without hand-writing: each module of a repository is shown to a model (``propose_queries``, any
backend) as its public classes and functions with the first line of their docstrings; the topics it proposes,
de-duplicated and within a count budget, become the exploration queries of ``teacher.record --queries auto``.
Only symbols that lead anywhere are shown (:func:`teacher.explore.leads_anywhere`: one of their candidates
resolves to another symbol), so no proposed query ends at its seed for want of an edge.

Each module is one recorded session, ``propose-<hash>``: its model turn is logged like any other, and its
``session_end`` holds the proposed queries, so a resumed run reads them back and proposes the same queries.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tasks.propose_queries import ModuleSymbol, ProposedQuery, ProposeQueriesInput, ProposeQueriesTask, topic_key
from tasks.select_symbols.filters import is_generated_or_private
from teacher.candidates import signature_of
from teacher.explore import CLASS, FUNCTION, TeachQuery, leads_anywhere, module_of
from teacher.handlers import Handler, interpret, perform
from teacher.model import ModelBackend, current_node
from teacher.operations import Ask, DocumentSymbols, Hover, OperationFailed, SourceText

__all__ = ["MAX_SYMBOLS", "doc_summary", "module_input", "propose_all", "propose_session_id", "python_files"]

MAX_SYMBOLS = 12  # symbols shown per module
_SKIPPED_PARTS = re.compile(r"^(?:tests?|testing|docs?|examples?|build|dist|\..*|.*venv.*|__pycache__|site-packages)$")


def python_files(root: Path) -> Iterator[str]:
    """The repository's Python modules (relative paths, sorted), tests, docs and virtual environments left out."""
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if any(_SKIPPED_PARTS.match(part) for part in relative.parts[:-1]):
            continue
        if relative.name.startswith(("test_", "conftest")) or relative.name in ("setup.py", "__main__.py"):
            continue
        yield relative.as_posix()


def doc_summary(hover: str) -> str:
    """The first sentence of the documentation in a hover text (after its code block), on one line, or ''."""
    code = signature_of(hover)
    text = hover.split("```", 2)[2] if hover.count("```") >= 2 else ""
    text = text.replace("---", " ").strip()
    if not text or not code:
        return ""
    paragraph = " ".join(text.split("\n\n", 1)[0].split())
    sentence = re.split(r"(?<=[.!?])\s", paragraph, maxsplit=1)[0]
    return sentence[:160]


async def module_input(path: str, module: str, count: int) -> ProposeQueriesInput | None:
    """The propose_queries input for one file, read over LSP; None when it has no public class or function that
    leads anywhere."""
    symbols: list[ModuleSymbol] = []
    lines = (await perform(SourceText(path))).splitlines()
    for symbol in await perform(DocumentSymbols(path)):
        if symbol.kind not in (CLASS, FUNCTION) or is_generated_or_private(symbol.name):
            continue
        header = lines[symbol.line] if symbol.line < len(lines) else ""
        if not re.match(rf"\s*(?:async\s+def|def|class)\s+{re.escape(symbol.name)}\b", header):
            continue  # an imported or assigned name (the server lists those too), not defined here
        if not await leads_anywhere(symbol.name):
            continue  # a seed with no edge to follow: its exploration would end where it starts
        hover = await perform(Hover(path, symbol.line, symbol.character)) or ""
        kind = "class" if symbol.kind == CLASS else "function"
        symbols.append(ModuleSymbol(name=symbol.name, kind=kind, summary=doc_summary(hover)))
        if len(symbols) == MAX_SYMBOLS:
            break
    return ProposeQueriesInput(module=module, symbols=tuple(symbols), count=count) if symbols else None


def propose_session_id(module: str) -> str:
    """The session id of one module's proposal."""
    return "propose-" + hashlib.sha256(module.encode("utf-8")).hexdigest()[:16]


async def propose_all(
    root: Path,
    out: Path,
    model: ModelBackend,
    lsp: Handler,
    *,
    prefix: str,
    count: int,
    per_module: int,
    defaults: dict[str, Any],
    resume: bool,
) -> list[TeachQuery]:
    """Up to ``count`` distinct queries, proposed module by module (``per_module`` each) and recorded under
    ``out/sessions``; finished proposals are read back from their logs, never asked again."""
    from interpreters.recording import RecordedSession
    from interpreters.records import SessionEnd, SessionStart

    task = ProposeQueriesTask()
    queries: list[TeachQuery] = []
    seen: set[str] = set()
    (out / "sessions").mkdir(parents=True, exist_ok=True)
    for path in python_files(root):
        if len(queries) >= count:
            break
        module = ".".join(p for p in (prefix, module_of(path)) if p)
        sid = propose_session_id(module)
        log_path = out / "sessions" / f"{sid}.jsonl"
        if log_path.exists() and not resume:
            raise FileExistsError(f"{out} already holds the proposal for {module}: add --resume to continue")
        start = SessionStart(session=sid, module=module, repo=str(root), started=time.time())
        with RecordedSession(log_path, start, resume=resume) as session:
            if session.ended is not None:
                proposed = [ProposedQuery.model_validate(q) for q in session.ended.result["queries"]]
            else:
                proposed = []
                async with interpret(*session.handlers(model, lsp)):
                    try:
                        question = await module_input(path, module, per_module)
                    except OperationFailed:
                        question = None  # a file the server cannot read proposes nothing
                    if question is not None:
                        token = current_node.set(module)
                        try:
                            proposed = list((await perform(Ask(task, question))).queries)
                        finally:
                            current_node.reset(token)
                session.end(SessionEnd(result={"queries": [q.model_dump() for q in proposed]}))
        for item in proposed:
            key = topic_key(item.topic)
            if key in seen or len(queries) >= count:
                continue
            seen.add(key)
            queries.append(TeachQuery(topic=item.topic, seeds=tuple(item.seeds), **defaults))
    return queries
