"""The subset of JSON Schema that tools loaded from YAML may use: checking a schema and validating a value.

Supported keywords: ``type`` (object, array, string, integer, number, boolean), ``description``,
``properties``, ``required``, ``additionalProperties`` (false, or a schema), ``items``, ``enum``,
``minimum``/``maximum``, ``minLength``/``maxLength``, ``minItems``/``maxItems`` and ``default``. Problems are
returned as ``"where: what"`` strings, ``where`` being a dotted path (``properties.code.type``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["schema_problems", "value_problems"]

TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean"})
KEYWORDS = frozenset(
    {
        "type", "description", "properties", "required", "additionalProperties", "items", "enum", "minimum",
        "maximum", "minLength", "maxLength", "minItems", "maxItems", "default",
    }
)
_NUMBERS = ("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems")


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def schema_problems(schema: Any, where: str = "") -> list[str]:
    """What is wrong with a schema (an empty list when it uses the supported subset correctly)."""
    if not isinstance(schema, Mapping):
        return [f"{where or '(root)'}: a schema must be a mapping, got {type(schema).__name__}"]
    problems = [f"{_at(where, str(key))}: unknown schema keyword" for key in schema if key not in KEYWORDS]
    kind = schema.get("type")
    if kind not in TYPES:
        problems.append(f"{_at(where, 'type')}: must be one of {', '.join(sorted(TYPES))}, got {kind!r}")
    for key in _NUMBERS:
        if key in schema and not isinstance(schema[key], int | float):
            problems.append(f"{_at(where, key)}: must be a number")
    if "enum" in schema and (not isinstance(schema["enum"], list) or not schema["enum"]):
        problems.append(f"{_at(where, 'enum')}: must be a non-empty list")
    if "description" in schema and not isinstance(schema["description"], str):
        problems.append(f"{_at(where, 'description')}: must be a string")
    if kind == "object":
        properties = schema.get("properties", {})
        if not isinstance(properties, Mapping):
            problems.append(f"{_at(where, 'properties')}: must be a mapping")
            properties = {}
        for name, sub in properties.items():
            problems += schema_problems(sub, _at(where, f"properties.{name}"))
        required = schema.get("required", [])
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            problems.append(f"{_at(where, 'required')}: must be a list of property names")
        else:
            problems += [f"{_at(where, 'required')}: {r!r} is not a property" for r in required if r not in properties]
        extra = schema.get("additionalProperties", True)
        if not isinstance(extra, bool):
            problems += schema_problems(extra, _at(where, "additionalProperties"))
    elif "properties" in schema or "required" in schema:
        problems.append(f"{where or '(root)'}: properties and required belong to an object")
    if kind == "array":
        if "items" not in schema:
            problems.append(f"{_at(where, 'items')}: an array needs an items schema")
        else:
            problems += schema_problems(schema["items"], _at(where, "items"))
    return problems


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    python = {"object": Mapping, "array": list, "string": str, "boolean": bool}[kind]
    return isinstance(value, python)


def value_problems(value: Any, schema: Mapping[str, Any], where: str = "") -> list[str]:
    """What is wrong with ``value`` against a (checked) schema; an empty list when it validates."""
    here = where or "(root)"
    kind = schema["type"]
    if not _type_ok(value, kind):
        return [f"{here}: expected {kind}, got {type(value).__name__}"]
    problems: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{here}: {value!r} is not one of {schema['enum']}")
    if kind in ("integer", "number"):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{here}: {value} is below the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{here}: {value} is above the maximum {schema['maximum']}")
    if kind == "string":
        if len(value) < schema.get("minLength", 0):
            problems.append(f"{here}: shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(f"{here}: longer than {schema['maxLength']} characters")
    if kind == "array":
        if len(value) < schema.get("minItems", 0):
            problems.append(f"{here}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.append(f"{here}: more than {schema['maxItems']} items")
        for index, item in enumerate(value):
            problems += value_problems(item, schema["items"], f"{where}[{index}]")
    if kind == "object":
        properties = schema.get("properties", {})
        problems += [f"{_at(where, name)}: required" for name in schema.get("required", []) if name not in value]
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                problems += value_problems(item, properties[name], _at(where, str(name)))
            elif extra is False:
                problems.append(f"{_at(where, str(name))}: unexpected property")
            elif isinstance(extra, Mapping):
                problems += value_problems(item, extra, _at(where, str(name)))
    return problems
