"""A tool is declared once, as a pydantic model of its arguments; every backend's form is derived from it.

``Tool.anthropic()`` is the Anthropic Messages API tool, ``Tool.openai()`` the OpenAI/Ollama tool,
``Tool.declaration(profile)`` the FunctionGemma declaration, and ``Tool.validate(arguments)`` checks any
model's answer against the same model (plus any ``restrict``-ed choices). A tool whose arguments are declared
as a JSON schema (loaded from YAML) is a :class:`SchemaTool`: the same forms, validated by
:mod:`teacher.json_schema`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from converters.functiongemma import Profile, render_declaration
from teacher.errors import FineTrainingError
from teacher.json_schema import schema_problems, value_problems

A = TypeVar("A", bound=BaseModel)

__all__ = ["InvalidToolSchema", "SchemaTool", "Tool", "ToolArgumentsError", "json_schema"]


class ToolArgumentsError(ValueError, FineTrainingError):
    """A model's arguments do not validate against the tool; carries what was returned."""

    def __init__(self, tool: str, arguments: Any, problems: Sequence[str]) -> None:
        super().__init__(f"invalid arguments for {tool}: " + "; ".join(problems) + f" (got {arguments!r})"[:2000])
        self.tool = tool
        self.arguments = arguments
        self.problems = tuple(problems)


def _inline(node: Any, definitions: Mapping[str, Any], *, names: bool = False) -> Any:
    """Resolve ``$ref`` and drop ``title``; ``names`` marks a ``properties`` map, whose keys are field names."""
    if isinstance(node, list):
        return [_inline(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    if names:
        return {name: _inline(schema, definitions) for name, schema in node.items()}
    if "$ref" in node:
        target = definitions[node["$ref"].rsplit("/", 1)[-1]]
        return _inline({**target, **{k: v for k, v in node.items() if k != "$ref"}}, definitions)
    return {
        key: _inline(value, definitions, names=key == "properties")
        for key, value in node.items()
        if key not in ("title", "$defs")
    }


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with ``$ref`` inlined and titles dropped: what every backend is sent."""
    return copy.deepcopy(_schema(model))


@lru_cache(maxsize=256)
def _schema(model: type[BaseModel]) -> dict[str, Any]:
    raw = model.model_json_schema()
    schema: dict[str, Any] = _inline(raw, raw.get("$defs", {}))
    schema.pop("description", None)  # the tool's description is carried by the tool itself
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    return schema


class Tool(Generic[A]):
    """One tool: a name, a description and the pydantic model of its arguments."""

    def __init__(
        self,
        name: str,
        description: str,
        arguments: type[A],
        *,
        choices: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.name = name
        self.description = description
        self.arguments = arguments
        self.choices: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in (choices or {}).items()}
        fields = arguments.model_fields
        for field in self.choices:
            if field not in fields:
                raise ValueError(f"tool {name}: cannot restrict unknown field {field!r}")

    def restrict(self, field: str, values: Iterable[str]) -> Tool[A]:
        """The same tool with ``field`` (a string, or each item of a list) limited to ``values``."""
        return Tool(self.name, self.description, self.arguments, choices={**self.choices, field: tuple(values)})

    def unrestricted(self) -> Tool[A]:
        """The same tool without per-input choices: the schema every input shares (validation stays the task's)."""
        return Tool(self.name, self.description, self.arguments) if self.choices else self

    def parameters(self) -> dict[str, Any]:
        """The JSON schema of the arguments, with restricted choices as enums."""
        schema = json_schema(self.arguments)
        for field, values in self.choices.items():
            prop = schema["properties"][field]
            is_list = prop.get("type") == "array" and isinstance(prop.get("items"), dict)
            if is_list and not values:
                prop["maxItems"] = 0  # nothing may be chosen (an empty enum is not valid JSON Schema)
            else:
                (prop["items"] if is_list else prop)["enum"] = list(values)
        return schema

    def anthropic(self) -> dict[str, Any]:
        """The tool as the Anthropic Messages API takes it."""
        return {"name": self.name, "description": self.description, "input_schema": self.parameters()}

    def openai(self) -> dict[str, Any]:
        """The tool as OpenAI-style APIs (and Ollama) take it."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters()},
        }

    def declaration(self, profile: Profile = "hf") -> str:
        """The FunctionGemma declaration block of this tool."""
        return render_declaration(self.openai(), profile=profile)

    def validate(self, arguments: Mapping[str, Any] | str) -> A:
        """Validate a model's arguments (a dict or a JSON string); raises :class:`ToolArgumentsError`."""
        raw = arguments
        arguments = _arguments_object(self.name, arguments)
        try:
            value = self.arguments.model_validate(dict(arguments))
        except ValidationError as error:
            problems = [f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in error.errors()]
            raise ToolArgumentsError(self.name, raw, problems) from None
        problems = []
        for field, allowed in self.choices.items():
            given = getattr(value, field)
            for item in given if isinstance(given, list | tuple) else [given]:
                if item not in allowed:
                    problems.append(f"{field}: {item!r} is not one of the allowed choices")
        if problems:
            raise ToolArgumentsError(self.name, raw, problems)
        return value

    def __repr__(self) -> str:
        return f"Tool({self.name!r}, arguments={self.arguments.__name__})"


def _arguments_object(tool: str, arguments: Any) -> Mapping[str, Any]:
    """The arguments as a mapping (a JSON string is decoded); anything else is a :class:`ToolArgumentsError`."""
    raw = arguments
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as error:
            raise ToolArgumentsError(tool, raw, [f"not valid JSON: {error}"]) from None
    if not isinstance(arguments, Mapping):
        raise ToolArgumentsError(tool, raw, ["arguments must be an object"])
    return arguments


class InvalidToolSchema(ValueError, FineTrainingError):
    """A JSON schema given for a tool uses something outside the supported subset; lists every problem."""


class SchemaTool(Tool[Any]):
    """A tool whose arguments are a JSON schema (from YAML) instead of a pydantic model; validates to a dict."""

    def __init__(self, name: str, description: str, schema: Mapping[str, Any]) -> None:
        problems = schema_problems(schema)
        if not problems and schema.get("type") != "object":
            problems = ["type: a tool's parameters must be an object"]
        if problems:
            raise InvalidToolSchema(f"tool {name}: " + "; ".join(problems))
        self.name = name
        self.description = description
        self.schema: dict[str, Any] = copy.deepcopy(dict(schema))
        self.schema.setdefault("properties", {})
        self.choices = {}

    def restrict(self, field: str, values: Iterable[str]) -> Tool[Any]:
        raise NotImplementedError("a SchemaTool states its choices as enums in its schema")

    def unrestricted(self) -> Tool[Any]:
        return self

    def parameters(self) -> dict[str, Any]:
        return copy.deepcopy(self.schema)

    def validate(self, arguments: Mapping[str, Any] | str) -> dict[str, Any]:
        raw = arguments
        arguments = _arguments_object(self.name, arguments)
        problems = value_problems(arguments, self.schema)
        if problems:
            raise ToolArgumentsError(self.name, raw, problems)
        return dict(arguments)

    def __repr__(self) -> str:
        return f"SchemaTool({self.name!r})"
