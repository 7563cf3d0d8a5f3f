"""What a dataset teaches: the distribution of each decision field of its answers, per task and split.

``converters.rebuild`` counts, for every line it writes, the answer's decision fields, read from the answering
tool's schema: each enum, integer and boolean argument by value, and each list argument as empty against
non-empty with a histogram of its sizes; a task with several tools also by the tool called (``(tool)``). A task's
``free_text_fields`` are not decisions and are not counted. ``stats.json`` carries the counts (``fields``), and
:meth:`FieldCounts.skewed` names every field where one value covers :data:`SKEWED` or more of a task's lines (of
the lines whose answer has that field): a student answering that value always scores as much, so the figure
says little about what it learnt.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from converters.functiongemma import ToolCall
from teacher.task import free_text_fields

__all__ = ["SKEWED", "DecisionValue", "FieldCounts", "Skew", "decision_values", "field_kinds"]

#: the share of a task's lines one value may cover before the rebuild warns
SKEWED = 0.95
TOOL_FIELD = "(tool)"

Kind = Literal["value", "size"]
#: one counted decision: the field, how it is counted, and its value (as text) or list size
DecisionValue = tuple[str, Kind, str | int]


def _kind(schema: Any) -> Kind | None:
    """How a property is counted: by value (enum, integer, boolean), by size (array), or not at all."""
    if not isinstance(schema, dict):
        return None
    if "enum" in schema or schema.get("type") in ("integer", "boolean"):
        return "value"
    if schema.get("type") == "array":
        return "size"
    kinds = {_kind(branch) for branch in schema.get("anyOf", [])} - {None}
    return kinds.pop() if len(kinds) == 1 else None


def field_kinds(parameters: dict[str, Any], free_text: frozenset[str] = frozenset()) -> dict[str, Kind]:
    """The counted decision fields of a tool's JSON schema, each with how it is counted."""
    properties = parameters.get("properties") or {}
    kinds = {name: _kind(schema) for name, schema in properties.items() if name not in free_text}
    return {name: kind for name, kind in sorted(kinds.items()) if kind is not None}


_KINDS: dict[tuple[str, str], tuple[tuple[tuple[str, Kind], ...], bool]] = {}


def decision_values(task: Any, input: Any, call: ToolCall) -> tuple[DecisionValue, ...]:
    """The decision values of one answer of ``task`` (a :class:`~teacher.task.FineTrainingTeacher`) to ``input``;
    the schema's kinds are read once per task and tool (the rebuild calls this for every line it writes)."""
    known = _KINDS.get((task.name, call.name))
    if known is None:
        tools = list(task.tools(input))
        tool = next((t for t in tools if t.name == call.name), None)
        kinds = field_kinds(tool.parameters(), free_text_fields(task)) if tool is not None else {}
        known = _KINDS[task.name, call.name] = (tuple(kinds.items()), len(tools) > 1)
    arguments = call.arguments
    values: list[DecisionValue] = [(TOOL_FIELD, "value", call.name)] if known[1] else []
    for name, kind in known[0]:
        if name in arguments:
            value = arguments[name]
            if kind == "size":
                values.append((name, kind, len(value) if isinstance(value, list | tuple) else 0))
            else:
                values.append((name, kind, _text(value)))
    return tuple(values)


def _text(value: Any) -> str:
    """A counted value as ``stats.json`` shows it: a boolean as JSON, a string as itself, a number as written."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class Skew:
    """A field where one value covers most of a task's lines."""

    task: str
    field: str
    value: str
    count: int
    lines: int

    @property
    def share(self) -> float:
        """The value's share of the lines that have the field."""
        return self.count / self.lines

    def message(self) -> str:
        """The warning, naming the task and the field."""
        return (f"{self.task}: field {self.field} is {self.value} on {self.count} of {self.lines} lines "
                f"({self.share:.1%}): always answering it scores as much, so a student's figure on it says little")


@dataclass
class FieldCounts:
    """Counts of decision values by task and split."""

    lines: Counter[tuple[str, str]] = field(default_factory=Counter)
    values: dict[tuple[str, str, str], Counter[str | int]] = field(default_factory=dict)
    kinds: dict[tuple[str, str], Kind] = field(default_factory=dict)

    def add(self, task: str, split: str, values: Sequence[DecisionValue]) -> None:
        """Count one written line of ``task`` in ``split``."""
        self.lines[task, split] += 1
        for name, kind, value in values:
            self.kinds[task, name] = kind
            self.values.setdefault((task, split, name), Counter())[value] += 1

    def as_dict(self) -> dict[str, Any]:
        """Per task and split: the lines, and each field's distribution (a list's as ``empty``, ``non_empty`` and
        ``sizes``), as written to ``stats.json``."""
        out: dict[str, Any] = {}
        for (task, split), lines in sorted(self.lines.items()):
            fields: dict[str, Any] = {}
            for (of, side, name), counter in sorted(self.values.items(), key=lambda item: item[0]):
                if of != task or side != split:
                    continue
                if self.kinds[task, name] == "size":
                    sizes = {str(size): n for size, n in sorted(counter.items(), key=lambda item: int(item[0]))}
                    empty = counter.get(0, 0)
                    fields[name] = {"empty": empty, "non_empty": sum(counter.values()) - empty, "sizes": sizes}
                else:
                    fields[name] = dict(sorted(((str(v), n) for v, n in counter.items()), key=lambda i: (-i[1], i[0])))
            out.setdefault(task, {})[split] = {"lines": lines, "fields": fields}
        return out

    def summary(self) -> dict[str, Any]:
        """What ``stats.json`` carries: ``fields`` (:meth:`as_dict`) and ``skewed_fields`` (:meth:`skewed`)."""
        return {"fields": self.as_dict(),
                "skewed_fields": [{"task": s.task, "field": s.field, "value": s.value, "count": s.count,
                                   "lines": s.lines, "share": round(s.share, 4)} for s in self.skewed()]}

    def skewed(self, threshold: float = SKEWED) -> list[Skew]:
        """Every field of a task (its splits together) where one value covers ``threshold`` or more of the lines
        that have the field; a list field by empty against non-empty."""
        totals: dict[tuple[str, str], Counter[str]] = {}
        for (task, _, name), counter in self.values.items():
            total = totals.setdefault((task, name), Counter())
            for value, n in counter.items():
                if self.kinds[task, name] == "size":
                    total["empty" if value == 0 else "non-empty"] += n
                else:
                    total[str(value)] += n
        found = []
        for (task, name), total in sorted(totals.items()):
            value, count = total.most_common(1)[0]
            lines = sum(total.values())
            if count >= threshold * lines:
                found.append(Skew(task, name, value, count, lines))
        return found
