"""Synthetic subagent training data: trajectory templates instantiated against fixtures, tools really run.

Each domain (``tasks/subagents/<domain>/examples.py``) lists its cases (a fixture file placed at some path in a
sandbox, its node, what it is known to have) and keeps the variables its templates read up to date as tool
results come in. :func:`generate` draws (case, trajectory) pairs with a seeded generator, runs every call on a
fresh sandbox, drops a conversation whose submission the sandbox contradicts, and splits: train from the
ordinary fixtures, eval from the edge-case fixtures alone. :func:`record_drawn` runs each drawn conversation
again as a subagent session under ``Recording`` (a scripted teacher makes its calls, the tools really run on a
fresh copy of its fixture), each session naming its split; the ``generate_examples`` command
(:mod:`tasks.subagents.generate`) rebuilds the dataset from those sessions.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from converters.functiongemma import ToolCall
from tasks.subagents.definition import DefinitionError, NodeContext
from tasks.subagents.runner import run_subagent
from tasks.subagents.sandbox import Sandbox
from tasks.subagents.task import SubagentTask, assistant_call, tool_result
from tasks.subagents.toolbox import Subagent
from tasks.subagents.trajectories import Trajectory, TrajectoryError, load_trajectories, lookup, substitute

__all__ = ["PLACES", "Case", "Domain", "Drawn", "generate", "instantiate", "load_index", "record_drawn"]

#: Folders a fixture file is placed under, so that one fixture gives examples with different paths.
PLACES = ("", "src/", "app/", "lib/tools/", "pkg/core/", "services/")


@dataclass(frozen=True)
class Case:
    """One fixture placed in a sandbox: its files, its node, its facts, the variables its templates read."""

    id: str
    files: Mapping[str, str]
    context: NodeContext
    facts: frozenset[str]
    variables: Mapping[str, Any]
    eval: bool


def load_index(folder: Path) -> list[dict[str, Any]]:
    """The entries of ``fixtures/index.yaml`` (each names its ``file``, which must exist)."""
    path = folder / "fixtures" / "index.yaml"
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(entries, list):
        raise DefinitionError(f"{path}: (top level): must be a list of fixtures")
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict) or "file" not in entry or "node" not in entry:
            raise DefinitionError(f"{path}: [{number}]: each fixture needs 'file' and 'node'")
        if not (folder / "fixtures" / entry["file"]).is_file():
            raise DefinitionError(f"{path}: [{number}].file: no fixture {entry['file']}")
    return entries


class Domain(ABC):
    """What a subagent's generator knows: its fixtures, how tool results update its template variables."""

    subagent: Subagent
    folder: Path
    default_count: int
    #: tools that change nothing: an identical call on an identical sandbox reuses the earlier result
    read_only: frozenset[str] = frozenset()

    @abstractmethod
    def cases(self) -> list[Case]:
        """Every case: each fixture at each of its places."""

    @abstractmethod
    def observe(self, state: dict[str, Any], tool: str, args: Mapping[str, Any], result: Mapping[str, Any]) -> None:
        """Update the template variables after a tool result."""

    def verify(self, state: Mapping[str, Any], submit: Mapping[str, Any], sandbox: Sandbox) -> bool:
        """Whether the submission is true of the sandbox (by default: the changed files)."""
        return list(submit["changed_files"]) == sandbox.changed_files()

    def trajectories(self) -> list[Trajectory]:
        """The templates under ``trajectories/*.yaml``."""
        found = []
        for path in sorted((self.folder / "trajectories").glob("*.yaml")):
            found += load_trajectories(path, self.subagent.definition)
        return found

    def fixture(self, name: str) -> str:
        """A fixture file's text."""
        return (self.folder / "fixtures" / name).read_text(encoding="utf-8")


def _key(tool: str, args: Mapping[str, Any], sandbox: Sandbox) -> str:
    digest = hashlib.sha256(json.dumps([tool, args], sort_keys=True).encode())
    for path, data in sandbox.snapshot().items():
        digest.update(path.encode() + b"\0" + data + b"\0")
    return digest.hexdigest()


def instantiate(
    domain: Domain, trajectory: Trajectory, case: Case, cache: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any] | None:
    """One example (``{"messages", "tools"}``) from a template and a case, or None when it does not hold."""
    subagent, definition = domain.subagent, domain.subagent.definition
    task = SubagentTask(definition)
    state: dict[str, Any] = {**case.variables, "changed": []}
    history: list[dict[str, Any]] = []
    with Sandbox.from_files(case.files) as sandbox:
        for step in trajectory.steps:
            items = list(lookup(state, step.repeat)) if step.repeat else [None]
            for item in items[: step.limit or None]:
                try:
                    args = substitute(step.args, {**state, "item": item})
                except KeyError as error:
                    raise TrajectoryError(f"{trajectory.name} on {case.id}: {error.args[0]}") from None
                args = definition.tool(step.tool).tool.validate(args)  # a template must make valid calls
                key = _key(step.tool, args, sandbox) if cache is not None and step.tool in domain.read_only else ""
                result = cache.get(key) if cache is not None and key else None
                if result is None:
                    result = subagent.call(step.tool, args, sandbox, case.context)
                    if key and cache is not None:
                        cache[key] = result
                if ("error" in result) != step.expect_error:
                    return None
                call_id = f"call_{sum(1 for m in history if m.get('tool_calls'))}"
                history += [assistant_call(call_id, step.tool, args), tool_result(call_id, result)]
                domain.observe(state, step.tool, args, result)
        state["changed_files"] = sorted(set(state["changed"]))
        try:
            submit = definition.submit.tool.validate(substitute(trajectory.submit, state))
        except KeyError as error:
            raise TrajectoryError(f"{trajectory.name} on {case.id}: {error.args[0]}") from None
        if not domain.verify(state, submit, sandbox):
            return None
    return task.example(case.context, history, submit)


@dataclass(frozen=True)
class Drawn:
    """One drawn example and where it came from: its split, its case and its trajectory."""

    split: str
    case: Case
    trajectory: str
    example: dict[str, Any]


def _draw(
    domain: Domain, pairs: list[tuple[Trajectory, Case]], count: int, rng: random.Random,
    cache: dict[str, dict[str, Any]], split: str, drawn: list[Drawn] | None,
) -> list[dict[str, Any]]:
    examples: list[dict[str, Any]] = []
    while len(examples) < count:
        if not pairs:
            raise ValueError(f"{domain.subagent.name}: no fixture fits any trajectory for this split")
        order = pairs[:]
        rng.shuffle(order)
        made = 0
        for trajectory, case in order:
            if len(examples) == count:
                break
            example = instantiate(domain, trajectory, case, cache)
            if example is not None:
                examples.append(example)
                made += 1
                if drawn is not None:
                    drawn.append(Drawn(split, case, trajectory.name, example))
        if not made:
            raise ValueError(f"{domain.subagent.name}: no trajectory could be instantiated on these fixtures")
    return examples


def generate(
    domain: Domain, count: int, split: float, seed: int, drawn: list[Drawn] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``count`` examples: ``round(count * split)`` for train (ordinary fixtures), the rest for eval (edge cases);
    ``drawn``, when given, collects each example with its split, case and trajectory."""
    train_count = round(count * split)
    trajectories = domain.trajectories()
    cases = domain.cases()
    cache: dict[str, dict[str, Any]] = {}
    rng = random.Random(seed)
    pairs = [(t, c) for c in cases for t in trajectories if t.applies(set(c.facts))]
    train = _draw(domain, [p for p in pairs if not p[1].eval], train_count, rng, cache, "train", drawn)
    evaluation = _draw(domain, [p for p in pairs if p[1].eval], count - train_count, rng, cache, "eval", drawn)
    return train, evaluation


async def record_drawn(domain: Domain, drawn: Sequence[Drawn], out: Path) -> list[Path]:
    """Run each drawn example again as a subagent session under ``Recording`` (``out/sessions``): a scripted
    teacher makes the example's calls, the tools really run on a fresh copy of its fixture; a session finished
    before is left as it is. The session logs, in draw order."""
    from interpreters.recording import RecordedSession
    from interpreters.records import SessionEnd, SessionStart
    from interpreters.scripted import ScriptedModel

    name = domain.subagent.name
    logs = []
    for index, item in enumerate(drawn):
        calls = [ToolCall(c["function"]["name"], json.loads(c["function"]["arguments"]))
                 for m in item.example["messages"] for c in m.get("tool_calls") or []]
        sid = hashlib.sha256(f"{name}:{item.case.id}:{item.trajectory}:{index}".encode()).hexdigest()[:16]
        context = item.case.context
        start = SessionStart(
            session=sid, subagent=name, node={"file": context.file_path, "node": context.node_name},
            teacher="trajectory", started=time.time(),
            source={"generator": f"tasks.subagents.{name}.generate_examples", "case": item.case.id,
                    "trajectory": item.trajectory, "split": item.split},
            split="eval" if item.split == "eval" else "train",
        )
        with RecordedSession(out / "sessions" / f"{sid}.jsonl", start, resume=True) as session:
            logs.append(session.path)
            if session.ended is not None:
                continue
            with Sandbox.from_files(item.case.files) as sandbox:
                program = functools.partial(run_subagent, domain.subagent, context, sandbox)
                run = await session.run(program, ScriptedModel(calls))
                changed = sandbox.changed_files()
            if run is None or run.stopped != "submitted":
                problem = session.failures[0][1] if session.failures else f"stopped: {run.stopped if run else '?'}"
                raise ValueError(f"{session.path}: {item.trajectory} on {item.case.id} did not replay: {problem}")
            session.end(SessionEnd(result=run.result, stopped=run.stopped, turns=run.turns, rejected=run.rejected,
                                   changed_files=changed))
    return logs
