"""Recording subagent sessions (``python -m teacher.record --subagent DOMAIN``): one session per node.

Each node (a file of the repository and a function or class in it) is copied into a fresh sandbox and the
subagent's runner is driven by the chosen backend through the recording wrapper, so every turn (the
conversation so far, the call, the raw response) is a ``model`` line of ``OUT/sessions/<id>.jsonl``, between
``session_start`` and ``session_end`` (the submitted result, why the run stopped, the changed files). Finished
turns are answered from the log on ``--resume``; the tools run again on a fresh copy, so they end in the same
state. ``converters.rebuild`` turns each session's submitting turn into one training example.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tasks.subagents.definition import NodeContext
from tasks.subagents.domains import SUBAGENTS
from tasks.subagents.isolation import isolation
from tasks.subagents.runner import run_subagent
from tasks.subagents.sandbox import Sandbox, SandboxUnusable
from tasks.subagents.source import find_node, node_source
from teacher.model import ModelBackend
from teacher.record import SessionOutcome

__all__ = ["SubagentNode", "load_nodes", "record_subagents", "subagent_session_id"]

logger = logging.getLogger(__name__)


class SubagentNode(BaseModel):
    """A node to work on: a repository file, a function or class in it, and files to copy beside it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str = Field(min_length=1)
    node: str = Field(min_length=1)
    companions: tuple[str, ...] = ()


def subagent_session_id(domain: str, node: SubagentNode) -> str:
    """A stable id: the same node of the same domain always records to the same session log."""
    return hashlib.sha256(f"{domain}:{node.model_dump_json()}".encode()).hexdigest()[:16]


def load_nodes(path: Path) -> list[SubagentNode]:
    """Nodes from JSONL (``{"file": ..., "node": ...}`` per line); errors name the file, line and field."""
    nodes = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            nodes.append(SubagentNode.model_validate(json.loads(line)))
        except json.JSONDecodeError as error:
            raise SystemExit(f"{path}:{number}: not JSON: {error}") from None
        except ValidationError as error:
            fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            raise SystemExit(f"{path}:{number}: {fields}") from None
    return nodes


def _context(sandbox: Sandbox, node: SubagentNode) -> NodeContext:
    text = sandbox.read(node.file)
    found = find_node(text, node.node)
    kind = "class" if isinstance(found, ast.ClassDef) else "method" if "." in node.node else "function"
    return NodeContext(node_text=node_source(text, node.node), node_name=node.node, node_type=kind,
                       file_path=node.file)


async def _session(domain: str, node: SubagentNode, repo: Path, out: Path, model: ModelBackend,
                   resume: bool) -> SessionOutcome:
    from interpreters.recording import RecordedSession
    from interpreters.records import SessionEnd, SessionStart

    sid = subagent_session_id(domain, node)
    start = SessionStart(session=sid, subagent=domain, node=node.model_dump(mode="json"), repo=str(repo),
                         started=time.time(), isolation=isolation().describe())  # says so when not isolated
    with RecordedSession(out / "sessions" / f"{sid}.jsonl", start, resume=resume) as session:
        if session.ended is not None:
            logger.info("%s:%s [%s]: already finished", node.file, node.node, sid)
            return SessionOutcome(sid, "already_finished")
        with Sandbox.copy_of(repo, [node.file, *node.companions]) as sandbox:
            run = await session.run(lambda: run_subagent(SUBAGENTS[domain], _context(sandbox, node), sandbox), model)
            try:
                changed: list[str] | None = sandbox.changed_files()
            except SandboxUnusable as error:  # the tools said so to the model already; the sandbox is removed
                logger.warning("%s:%s [%s]: changed files unknown: %s", node.file, node.node, sid, error)
                changed = None
        if run is None:  # a turn failed for good: not finished, --resume asks it again
            reason = session.failures[0][0]
            logger.info("%s:%s [%s]: not finished (%s; --resume retries it)", node.file, node.node, sid, reason)
            return SessionOutcome(sid, "failed", session.failures)
        session.end(SessionEnd(result=run.result, stopped=run.stopped, turns=run.turns, rejected=run.rejected,
                               changed_files=changed))
        logger.info("%s:%s [%s]: %s after %d turns, changed %s", node.file, node.node, sid, run.stopped, run.turns,
                    "unknown" if changed is None else ", ".join(changed) or "nothing")
        return SessionOutcome(sid, "finished")


async def record_subagents(
    domain: str, nodes: Sequence[SubagentNode], repo: Path, out: Path, model: ModelBackend, *,
    resume: bool = False,
) -> list[SessionOutcome]:
    """Record one session per node, one after another (the tools share the machine's few cores); how each ended.

    A session whose turn failed for good gets no ``session_end``: ``--resume`` asks it again."""
    if domain not in SUBAGENTS:
        raise ValueError(f"unknown subagent {domain!r}; known: {', '.join(SUBAGENTS)}")
    for folder in Sandbox.remove_abandoned():
        logger.info("removed the sandbox %s of a recorder that died", folder)
    return [await _session(domain, node, repo, out, model, resume) for node in nodes]
