"""A subagent's definition, loaded from YAML: its prompt, its node-context template and its tools.

A definition file holds ``name``, ``max_turns``, ``system_prompt``, ``context_template`` (with the fields
``{node_text}``, ``{node_name}``, ``{node_type}`` and ``{file_path}``) and ``tools``: each with a ``name``, a
``description``, ``parameters`` (a JSON schema with ``additionalProperties: false``), an optional
``timeout_s`` and, for exactly one tool, named ``submit_result``, ``terminal: true``. Every problem is reported
as :class:`DefinitionError` naming the file and the key.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from teacher.errors import FineTrainingError
from teacher.json_schema import schema_problems
from teacher.tools import SchemaTool

__all__ = [
    "CONTEXT_FIELDS",
    "SUBMIT",
    "DefinitionError",
    "NodeContext",
    "SubagentDefinition",
    "ToolDefinition",
    "load_definition",
]

SUBMIT = "submit_result"
CONTEXT_FIELDS = ("node_text", "node_name", "node_type", "file_path")
_TOP_KEYS = {"name", "description", "max_turns", "system_prompt", "context_template", "tools"}
_REQUIRED_TOP = ("name", "max_turns", "system_prompt", "context_template", "tools")
_TOOL_KEYS = {"name", "description", "parameters", "timeout_s", "terminal"}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class DefinitionError(ValueError, FineTrainingError):
    """A subagent definition is invalid; the message names the file and the key."""


class NodeContext(BaseModel):
    """The code node a subagent works on: its text, name, type and file (relative to the sandbox)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    node_text: str
    node_name: str = Field(min_length=1)
    node_type: str = Field(min_length=1)
    file_path: str = Field(min_length=1)


@dataclass(frozen=True)
class ToolDefinition:
    """One tool of a subagent: its schema-built :class:`SchemaTool`, its timeout, and whether it ends the run."""

    tool: SchemaTool
    timeout_s: float
    terminal: bool

    @property
    def name(self) -> str:
        """The tool's name."""
        return self.tool.name


@dataclass(frozen=True)
class SubagentDefinition:
    """A loaded, checked subagent definition."""

    name: str
    description: str
    max_turns: int
    system_prompt: str
    context_template: str
    tools: tuple[ToolDefinition, ...]
    path: Path

    def tool(self, name: str) -> ToolDefinition:
        """The tool with this name (KeyError when there is none)."""
        for tool in self.tools:
            if tool.name == name:
                return tool
        raise KeyError(f"{self.path}: no tool {name!r}")

    @property
    def submit(self) -> ToolDefinition:
        """The terminal ``submit_result`` tool."""
        return self.tool(SUBMIT)

    def render_context(self, context: NodeContext) -> str:
        """The user text for a node: the context template filled in."""
        return self.context_template.format(**context.model_dump())


def _fail(path: Path, key: str, problem: str) -> DefinitionError:
    return DefinitionError(f"{path}: {key}: {problem}")


def _tool(path: Path, index: int, raw: Any) -> ToolDefinition:
    where = f"tools[{index}]"
    if not isinstance(raw, Mapping):
        raise _fail(path, where, "a tool must be a mapping")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(path, f"{where}.name", f"must be a lower-case identifier, got {name!r}")
    where = f"tools[{index}] ({name})"
    unknown = sorted(set(raw) - _TOOL_KEYS)
    if unknown:
        raise _fail(path, f"{where}.{unknown[0]}", f"unknown key (known: {', '.join(sorted(_TOOL_KEYS))})")
    for key in ("description", "parameters"):
        if key not in raw:
            raise _fail(path, f"{where}.{key}", "missing")
    if not isinstance(raw["description"], str) or not raw["description"].strip():
        raise _fail(path, f"{where}.description", "must be a non-empty string")
    parameters = raw["parameters"]
    problems = schema_problems(parameters)
    if problems:
        key, _, problem = problems[0].partition(": ")
        raise _fail(path, f"{where}.parameters" + ("" if key == "(root)" else f".{key}"), problem)
    if parameters.get("type") != "object":
        raise _fail(path, f"{where}.parameters.type", "a tool's parameters must be an object")
    if parameters.get("additionalProperties") is not False:
        raise _fail(path, f"{where}.parameters.additionalProperties", "must be false")
    timeout = raw.get("timeout_s", 30)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
        raise _fail(path, f"{where}.timeout_s", f"must be a positive number of seconds, got {timeout!r}")
    terminal = raw.get("terminal", False)
    if not isinstance(terminal, bool):
        raise _fail(path, f"{where}.terminal", "must be true or false")
    if terminal and name != SUBMIT:
        raise _fail(path, f"{where}.terminal", f"only {SUBMIT} may be terminal")
    if name == SUBMIT and not terminal:
        raise _fail(path, f"{where}.terminal", f"{SUBMIT} must say terminal: true")
    return ToolDefinition(SchemaTool(name, raw["description"].strip(), parameters), float(timeout), terminal)


def _template(path: Path, template: Any) -> str:
    if not isinstance(template, str) or not template.strip():
        raise _fail(path, "context_template", "must be a non-empty string")
    try:
        fields = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    except ValueError as error:
        raise _fail(path, "context_template", f"not a valid template: {error}") from None
    unknown = sorted(fields - set(CONTEXT_FIELDS))
    if unknown:
        raise _fail(path, "context_template", f"unknown field {{{unknown[0]}}} (known: {', '.join(CONTEXT_FIELDS)})")
    missing = [f for f in CONTEXT_FIELDS if f not in fields]
    if missing:
        raise _fail(path, "context_template", f"must use {{{missing[0]}}}")
    return template


def parse_definition(raw: Any, path: Path) -> SubagentDefinition:
    """Check a definition already read from YAML; ``path`` names it in errors."""
    if not isinstance(raw, Mapping):
        raise _fail(path, "(top level)", "a definition must be a mapping")
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise _fail(path, unknown[0], f"unknown key (known: {', '.join(sorted(_TOP_KEYS))})")
    for key in _REQUIRED_TOP:
        if key not in raw:
            raise _fail(path, key, "missing")
    name = raw["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(path, "name", f"must be a lower-case identifier, got {name!r}")
    max_turns = raw["max_turns"]
    if not isinstance(max_turns, int) or isinstance(max_turns, bool) or max_turns < 1:
        raise _fail(path, "max_turns", f"must be a positive integer, got {max_turns!r}")
    if not isinstance(raw["system_prompt"], str) or not raw["system_prompt"].strip():
        raise _fail(path, "system_prompt", "must be a non-empty string")
    if not isinstance(raw["tools"], list) or not raw["tools"]:
        raise _fail(path, "tools", "must be a non-empty list")
    tools = [_tool(path, index, item) for index, item in enumerate(raw["tools"])]
    seen: set[str] = set()
    for index, tool in enumerate(tools):
        if tool.name in seen:
            what = f"a second {SUBMIT}" if tool.name == SUBMIT else "a duplicate tool name"
            raise _fail(path, f"tools[{index}] ({tool.name})", f"{what}; tool names must be unique")
        seen.add(tool.name)
    if SUBMIT not in seen:
        raise _fail(path, "tools", f"no {SUBMIT} tool: exactly one terminal {SUBMIT} is required")
    return SubagentDefinition(
        name=name,
        description=str(raw.get("description") or ""),
        max_turns=max_turns,
        system_prompt=raw["system_prompt"].strip(),
        context_template=_template(path, raw["context_template"]),
        tools=tuple(tools),
        path=path,
    )


def load_definition(path: str | Path) -> SubagentDefinition:
    """Load and check a definition file; raises :class:`DefinitionError` naming the file and the key."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise DefinitionError(f"{path}: cannot read: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise DefinitionError(f"{path}: not valid YAML: {error}") from None
    return parse_definition(raw, path)
