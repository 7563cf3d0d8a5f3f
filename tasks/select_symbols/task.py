"""select_symbols: given a symbol, its signature and its neighbouring candidates, pick those that matter.

Candidates are grouped as Fields (a class's attributes and properties), Methods (a class's methods), Bases (a
class's base classes), Inputs (parameter types), Output (return types), Calls (the functions and classes a
function's body calls, as the language server resolves them) and References (usage sites, ``file:line``).
More than ``HUB_THRESHOLD`` references make the symbol a hub: the sites are replaced by a marker with the
count and are not offered as candidates.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from converters.functiongemma import ToolCall
from tasks.select_symbols.filters import degenerate_reason, topic_leaks
from tasks.select_symbols.heuristic import select_symbols
from tasks.select_symbols.negatives import InvertedBy, invert_topic_heuristically, negative_turn
from tasks.select_symbols.schema import (
    GROUPS,
    HUB_THRESHOLD,
    SELECT_SYMBOLS,
    Candidates,
    SelectSymbols,
    SelectSymbolsInput,
)
from teacher.task import SingleCallTask, TaskOutputError, Turn
from teacher.tools import Tool

__all__ = [
    "GROUPS",
    "HUB_THRESHOLD",
    "SELECT_SYMBOLS",
    "Candidates",
    "SelectSymbols",
    "SelectSymbolsInput",
    "SelectSymbolsTask",
]

_LABELS = {
    "fields": "Fields",
    "methods": "Methods",
    "bases": "Bases",
    "inputs": "Inputs",
    "output": "Output",
    "calls": "Calls",
    "references": "References",
}


class SelectSymbolsTask(SingleCallTask[SelectSymbolsInput, SelectSymbols]):
    """Choose which candidates around a symbol to follow for a topic."""

    name = "select_symbols"
    guidance = (
        "You are exploring a code base for a topic. Given one symbol and its candidate neighbours, select the "
        "candidates whose meaning matters for the topic: types the topic is about, fields that carry it, methods "
        "and calls that do the work, usage sites that exercise it. Skip incidental ones (builtins, loggers, "
        "generic containers). If the topic is the opposite of what this symbol does, select nothing. Explain "
        "your reasoning briefly, then call "
        "select_symbols exactly once with exact candidate names."
    )
    input_model = SelectSymbolsInput
    #: the selected set is the one decision (compared as a set); nothing is free text
    free_text_fields: frozenset[str] = frozenset()

    def tool(self, input: SelectSymbolsInput) -> Tool[SelectSymbols]:
        return SELECT_SYMBOLS.restrict("selected", input.candidates.names())

    def render(self, input: SelectSymbolsInput) -> str:
        c = input.candidates
        lines = [
            f"Topic: {input.topic}",
            f"Symbol: {input.symbol}",
            f"Module: {input.module}",
            f"Package: {input.package}",
            f"Signature: {input.signature}",
            "",
            "Candidates:",
        ]
        for group in GROUPS:
            names: tuple[str, ...] = getattr(c, group)
            if group == "references" and c.is_hub:
                shown = f"(hub: {c.total_references} references)"
            else:
                shown = ", ".join(names) if names else "(none)"
            lines.append(f"  {_LABELS[group]}: {shown}")
        return "\n".join(lines)

    def output(self, arguments: Any, input: SelectSymbolsInput) -> SelectSymbols:
        assert isinstance(arguments, SelectSymbols)
        if arguments.repaired is not None:
            raise TaskOutputError(self.name, "'repaired' is not an argument the model may set")
        return arguments

    def fallback(self, call: ToolCall | None, input: SelectSymbolsInput) -> tuple[SelectSymbols, str]:
        """The original system's policy for an invalid answer: keep the names that are candidates; when none
        is left, select every candidate. ``repaired`` (and the word returned with the output) says which happened."""
        names = input.candidates.names()
        given = call.arguments.get("selected") if call is not None else None
        kept = [n for n in dict.fromkeys(given) if isinstance(n, str) and n in names] if isinstance(given, list) else []
        if kept:
            return SelectSymbols(selected=kept, repaired="dropped_non_candidates"), "dropped_non_candidates"
        return SelectSymbols(selected=names, repaired="selected_all"), "selected_all"

    def agreement(self, teacher: dict[str, Any], student: dict[str, Any]) -> dict[str, float]:
        """The Jaccard index of the two selections (exact agreement is :func:`teacher.evaluation.calls_agree`)."""
        left, right = set(teacher.get("selected", [])), set(student.get("selected", []))
        return {"jaccard": 1.0 if not left | right else len(left & right) / len(left | right)}

    def split_keys(self, input: SelectSymbolsInput, calls: Sequence[ToolCall] = ()) -> list[str]:
        """The symbol: paraphrased topics about one symbol, and a negative with its positive, stay together."""
        return [f"symbol:{input.module}.{input.symbol}"]

    def drop_reason(self, turn: Turn[SelectSymbolsInput]) -> str | None:
        """The degenerate-example rule the input breaks (:func:`tasks.select_symbols.filters.degenerate_reason`)."""
        return degenerate_reason(turn.input)

    def leaks(self, turn: Turn[SelectSymbolsInput]) -> int:
        """1 when the topic names a selected symbol verbatim."""
        selected = turn.calls[0].arguments.get("selected", []) if turn.calls else []
        return int(topic_leaks(turn.input, selected if isinstance(selected, list) else []))

    def negatives(
        self, turn: Turn[SelectSymbolsInput], counterparts: Mapping[str, str], sources: Collection[str]
    ) -> list[tuple[Turn[SelectSymbolsInput], str]]:
        """The same context under the inverted topic selects nothing: the teacher's recorded inversion (an
        ``invert_topic`` counterpart) first, else the heuristic inverter's."""
        topic = turn.input.topic
        inverted: str | None = None
        source: InvertedBy = "teacher"
        if "teacher" in sources and topic in counterparts:
            inverted = counterparts[topic]
        if inverted is None and "heuristic" in sources:
            inverted, source = invert_topic_heuristically(topic), "heuristic"
        if not inverted or inverted.strip().lower() == topic.strip().lower():
            return []
        return [(negative_turn(turn.input, inverted, source), source)]

    def heuristic_answer(self, input: SelectSymbolsInput) -> tuple[ToolCall, str]:
        """Candidates sharing words with the topic (:func:`tasks.select_symbols.heuristic.select_symbols`)."""
        return ToolCall(self.name, select_symbols(input).model_dump()), "Candidates sharing words with the topic."
