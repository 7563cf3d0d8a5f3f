"""Trajectory templates, stored as YAML data, instantiated against fixtures by really running the tools.

A template file holds a list of trajectories::

    - name: check_fix_verify
      when: [fixable]                 # facts the fixture must have (``not:x`` for one it must lack)
      steps:
        - tool: run_linter
          args: {check_only: true}
        - tool: apply_fix
          repeat: fixable             # once per item of a list the domain keeps up to date ...
          limit: 3                    # ... at most this often; ``{item.code}`` reads the item
          args: {issue_code: "{item.code}", line_number: "{item.line}"}
      submit: {summary: "Fixed {fixed} issue(s).", issues_fixed: "{fixed}", ...}

A value that is exactly ``"{name}"`` takes the variable itself (a number, a list); other strings have their
placeholders filled in as text. Tool errors are refused (the example is dropped) unless the step says
``expect_error: true``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tasks.subagents.definition import SUBMIT, DefinitionError, SubagentDefinition

__all__ = ["Step", "Trajectory", "TrajectoryError", "load_trajectories", "lookup", "substitute"]

_WHOLE = re.compile(r"^\{([A-Za-z_][\w.]*)\}$")
_PART = re.compile(r"\{([A-Za-z_][\w.]*)\}")
_STEP_KEYS = {"tool", "args", "repeat", "limit", "expect_error"}
_KEYS = {"name", "when", "steps", "submit"}


class TrajectoryError(DefinitionError):
    """A trajectory template is invalid, or refers to a variable the fixture does not have."""


@dataclass(frozen=True)
class Step:
    """One templated call (or one per item of ``repeat``)."""

    tool: str
    args: Mapping[str, Any]
    repeat: str = ""
    limit: int = 0
    expect_error: bool = False


@dataclass(frozen=True)
class Trajectory:
    """A templated conversation: the calls to make, then what to submit."""

    name: str
    when: tuple[str, ...]
    steps: tuple[Step, ...]
    submit: Mapping[str, Any]

    def applies(self, facts: set[str]) -> bool:
        """Whether a fixture with these facts fits this trajectory."""
        return all((w[4:] not in facts) if w.startswith("not:") else (w in facts) for w in self.when)


def lookup(variables: Mapping[str, Any], name: str) -> Any:
    """A dotted variable (``item.code``); KeyError names it when it is not there."""
    value: Any = variables
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise KeyError(f"no variable {name!r}")
        value = value[part]
    return value


def substitute(value: Any, variables: Mapping[str, Any]) -> Any:
    """A template value with its placeholders filled from ``variables``."""
    if isinstance(value, str):
        whole = _WHOLE.match(value)
        if whole:
            return lookup(variables, whole.group(1))
        return _PART.sub(lambda m: str(lookup(variables, m.group(1))), value)
    if isinstance(value, list):
        return [substitute(item, variables) for item in value]
    if isinstance(value, Mapping):
        return {key: substitute(item, variables) for key, item in value.items()}
    return value


def _step(path: Path, where: str, raw: Any, definition: SubagentDefinition) -> Step:
    if not isinstance(raw, Mapping):
        raise TrajectoryError(f"{path}: {where}: a step must be a mapping")
    unknown = sorted(set(raw) - _STEP_KEYS)
    if unknown:
        raise TrajectoryError(f"{path}: {where}.{unknown[0]}: unknown key")
    tool = raw.get("tool")
    names = [t.name for t in definition.tools if not t.terminal]
    if tool not in names:
        raise TrajectoryError(f"{path}: {where}.tool: {tool!r} is not one of {', '.join(names)}")
    args = raw.get("args") or {}
    if not isinstance(args, Mapping):
        raise TrajectoryError(f"{path}: {where}.args: must be a mapping")
    known = definition.tool(tool).tool.parameters().get("properties", {})
    extra = sorted(set(args) - set(known))
    if extra:
        raise TrajectoryError(f"{path}: {where}.args.{extra[0]}: {tool} has no such parameter")
    return Step(tool, dict(args), str(raw.get("repeat") or ""), int(raw.get("limit") or 0),
                bool(raw.get("expect_error", False)))


def load_trajectories(path: str | Path, definition: SubagentDefinition) -> list[Trajectory]:
    """Load a template file, checked against the subagent's tools; errors name the file and the key."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise TrajectoryError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(raw, list) or not raw:
        raise TrajectoryError(f"{path}: (top level): must be a non-empty list of trajectories")
    submit_fields = set(definition.submit.tool.parameters()["properties"])
    found = []
    for index, item in enumerate(raw):
        where = f"[{index}]"
        if not isinstance(item, Mapping):
            raise TrajectoryError(f"{path}: {where}: a trajectory must be a mapping")
        unknown = sorted(set(item) - _KEYS)
        if unknown:
            raise TrajectoryError(f"{path}: {where}.{unknown[0]}: unknown key")
        for key in ("name", "steps", "submit"):
            if key not in item:
                raise TrajectoryError(f"{path}: {where}.{key}: missing")
        submit = item["submit"]
        if not isinstance(submit, Mapping) or set(submit) != submit_fields:
            raise TrajectoryError(f"{path}: {where}.submit: must give exactly {', '.join(sorted(submit_fields))}"
                                  f" for {SUBMIT}")
        steps = tuple(_step(path, f"{where}.steps[{n}]", s, definition) for n, s in enumerate(item["steps"] or []))
        found.append(Trajectory(str(item["name"]), tuple(item.get("when") or ()), steps, dict(submit)))
    return found
