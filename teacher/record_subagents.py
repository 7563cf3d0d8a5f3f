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

from converters.functiongemma import FunctionGemmaFormatError, check_text
from tasks.subagents.definition import NodeContext
from tasks.subagents.domains import SUBAGENTS
from tasks.subagents.isolation import isolation
from tasks.subagents.runner import run_subagent
from tasks.subagents.sandbox import Sandbox, SandboxEscape, SandboxUnusable, inside
from tasks.subagents.source import find_node, node_source
from teacher.errors import FineTrainingError
from teacher.model import ModelBackend
from teacher.record_shared import FailureStreak, SessionOutcome

__all__ = ["BadNode", "SubagentNode", "check_node", "load_nodes", "record_subagents", "subagent_session_id"]

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


class BadNode(ValueError, FineTrainingError):
    """A node that cannot be worked on; ``field`` names what is wrong (file, node, companions)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_node(repo: Path, node: SubagentNode) -> None:
    """Refuse, before anything runs, a node no session could work on: a path that is not a UTF-8 file inside
    ``repo``, a file that does not parse, a node it does not hold, or a control token of the student's format in
    the names or the node's text (which could never become training text). Raises :class:`BadNode`."""
    named = [("file", node.file), ("node", node.node), *(("companions", c) for c in node.companions)]
    for field, text in named:
        try:
            check_text(text, repr(text))
        except FunctionGemmaFormatError as error:
            raise BadNode(field, str(error)) from None
    for field, relative in (("file", node.file), *(("companions", c) for c in node.companions)):
        try:
            path = inside(repo.resolve(), relative, "the repository")
        except SandboxEscape as error:
            raise BadNode(field, str(error)) from None
        if not path.is_file():
            raise BadNode(field, f"{relative!r} is not a file of the repository {repo}")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise BadNode(field, f"{relative!r} is not UTF-8 text") from None
        except OSError as error:
            raise BadNode(field, f"{relative!r}: cannot read: {error.strerror or error}") from None
        if field != "file":
            continue
        try:
            check_text(node_source(text, node.node), f"the text of {node.node!r}")
        except FunctionGemmaFormatError as error:
            raise BadNode("node", str(error)) from None
        except SyntaxError as error:
            raise BadNode(field, f"{relative!r} does not parse: line {error.lineno}: {error.msg}") from None
        except (ValueError, RecursionError) as error:
            raise BadNode("node", f"{str(error) or 'nested too deeply'} ({relative})") from None


def load_nodes(path: Path, repo: Path | None = None) -> list[SubagentNode]:
    """Nodes from JSONL (``{"file": ..., "node": ...}`` per line), each checked against ``repo`` when given
    (:func:`check_node`); errors name the file, line and field (``SystemExit``, exit 1)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise SystemExit(f"{path}: not UTF-8 text (byte {error.start})") from None
    nodes = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            nodes.append(SubagentNode.model_validate(json.loads(line)))
            if repo is not None:
                check_node(repo, nodes[-1])
        except (json.JSONDecodeError, RecursionError) as error:
            raise SystemExit(f"{path}:{number}: not JSON: {error}") from None
        except ValidationError as error:
            fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            raise SystemExit(f"{path}:{number}: {fields}") from None
        except BadNode as error:
            raise SystemExit(f"{path}:{number}: {error.field}: {error}") from None
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
    resume: bool = False, max_failures: int | None = None,
) -> list[SessionOutcome]:
    """Record one session per node, one after another (the tools share the machine's few cores); how each ended
    (fewer than the nodes when ``max_failures`` sessions in a row failed: the rest are not started).

    A session whose turn failed for good gets no ``session_end``: ``--resume`` asks it again."""
    if domain not in SUBAGENTS:
        raise ValueError(f"unknown subagent {domain!r}; known: {', '.join(SUBAGENTS)}")
    for folder in Sandbox.remove_abandoned():
        logger.info("removed the sandbox %s of a recorder that died", folder)
    streak = FailureStreak(max_failures)
    outcomes = []
    for node in nodes:
        if streak.stopped:
            break
        outcomes.append(streak.saw(await _session(domain, node, repo, out, model, resume)))
    return outcomes
