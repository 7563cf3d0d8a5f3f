"""The heuristic teacher: answers select_symbols, score_edge, invert_topic and propose_queries offline, with no API key.

It is a backend like any other (a :class:`ModelBackend`), so its answers are recorded and converted exactly
like the teacher's. Its rules are deliberately simple and deterministic: they bootstrap data, the student
learns to generalise.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from converters.functiongemma import ToolCall
from tasks.propose_queries.heuristic import propose_heuristically
from tasks.propose_queries.task import ProposeQueriesInput
from tasks.score_edge.task import EdgeType, ScoreEdgeInput, ScoreEdgeOutput
from tasks.select_symbols.negatives import InvertTopicInput, invert_topic_heuristically
from tasks.select_symbols.task import SelectSymbols, SelectSymbolsInput
from tasks.text import words, words_in
from teacher.candidates import SKIPPED_NAMES
from teacher.model import ModelBackend, ModelReply, ModelRequest

_EXHAUSTIVE = re.compile(
    r"^\s*match\s+\S[^\n]*:\s*$"  # a match statement
    r"|^\s*case\s+\S[^\n]*:"  # one of its cases
    r"|isinstance\([^\n]*\n(?:[^\n]*\n)*?\s*elif\s+isinstance\("  # an isinstance chain
    r"|assert_never",
    re.MULTILINE,
)
_TYPE_FAMILY = re.compile(
    r"\bTypeVar(?:Tuple)?\b|\bGeneric\[|\bProtocol\b|@overload\b|\bParamSpec\b|\bTypeAlias\b"
    r"|^\s*type\s+\w+\s*(?:\[[^\]]*\])?\s*=",  # a type statement
    re.MULTILINE,
)
_DEFINED_NAME = re.compile(r"(?:async\s+def|def|class)\s+(\w+)|^\s*(?:\(\w+\)\s*)?(\w+)\s*[:=]", re.MULTILINE)

CHANGE_WORDS = words("break breaks change rename remove delete add variant refactor migrate impact affect modify")
DEFINE_WORDS = words("where defined definition declare declared declaration")
USE_WORDS = words("use uses used call calls caller callers usage consume consumer depend depends")
TYPE_WORDS = words("type types generic protocol typevar overload typing variance")


def defined_name(hover: str) -> str:
    """The name a hover text defines (``def f``, ``class C``, ``x: int``), or ''."""
    match = _DEFINED_NAME.search(hover)
    return next((g for g in match.groups() if g), "") if match else ""


@lru_cache(maxsize=4096)
def is_exhaustive(hover: str) -> bool:
    """A match statement, an isinstance/elif isinstance chain, or assert_never."""
    return _EXHAUSTIVE.search(hover) is not None


@lru_cache(maxsize=4096)
def is_type_family(hover: str) -> bool:
    """TypeVar, Generic, Protocol, overload, ParamSpec or a type alias."""
    return _TYPE_FAMILY.search(hover) is not None


@lru_cache(maxsize=4096)
def is_exported(path: str, hover: str) -> bool:
    """A public name in a public module (``__init__.py`` and other dunder files count as public)."""
    name = defined_name(hover)
    if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
        return False
    parts = path.replace("\\", "/").split("/")
    stems = [p.rsplit(".", 1)[0] if i == len(parts) - 1 else p for i, p in enumerate(parts)]
    return not any(s.startswith("_") and not (s.startswith("__") and s.endswith("__")) for s in stems)


def score_edge(input: ScoreEdgeInput) -> ScoreEdgeOutput:
    """Score an edge from query keywords, the edge type and what the hover texts show."""
    query = words(input.query)
    exhaustive = is_exhaustive(input.target_hover)
    type_family = is_type_family(input.target_hover) or is_type_family(input.source_hover)
    exported = is_exported(input.target_file, input.target_hover)
    overlap = query & (words(input.target_hover) | words(input.target_file))
    changing = bool(query & CHANGE_WORDS)

    relevance = 2 + min(len(overlap), 2)
    reasons = []
    if overlap:
        reasons.append(f"the target mentions {', '.join(words_in(input.query, overlap)[:3])}")
    if input.edge_type is EdgeType.definition and query & DEFINE_WORDS:
        relevance += 1
        reasons.append("the query asks where it is defined")
    if input.edge_type in (EdgeType.usage, EdgeType.reference) and query & USE_WORDS:
        relevance += 1
        reasons.append("the query asks about its uses")
    if changing and exhaustive:
        relevance += 2
        reasons.append("it matches case by case, so a change must reach it")
    if query & TYPE_WORDS and type_family:
        relevance += 1
        reasons.append("the query is about typing machinery the edge goes through")

    risk = 1 + 2 * exhaustive + exported + type_family + changing
    if exported:
        reasons.append("it is public API")
    reasoning = "Relevant because " + "; ".join(reasons) + "." if reasons else "Little ties the target to the query."
    return ScoreEdgeOutput(
        relevance=max(1, min(5, relevance)),
        risk=max(1, min(5, risk)),
        reasoning=reasoning,
        is_exhaustive=exhaustive,
        is_type_family=type_family,
        is_exported=exported,
    )


def select_symbols(input: SelectSymbolsInput) -> SelectSymbols:
    """Select candidates whose names share words with the topic, then, when the topic is about the symbol itself
    (its name or its signature share words with it), its parameter, return and base types, what it calls, a
    class's methods, and its reference sites when the topic asks about uses or callers or nothing else leads on;
    builtins and typing primitives skipped.

    It reads only what the student is shown: the topic, the symbol, its signature and the candidate names. Direct
    matches (a topic word beyond the symbol's own name) come first, most shared words first, so the exploration
    follows them first."""
    topic = words(input.topic)
    own = words(input.symbol)
    about_symbol = bool(topic & (own | words(input.signature.split("(", 1)[0])))
    direct: list[str] = []
    related: list[str] = []
    calls: list[str] = []
    methods: list[str] = []
    uses: list[str] = []
    asks_uses = bool(topic & USE_WORDS)  # "who calls it", "what uses it"
    shared: dict[str, int] = {}
    for group, name in input.candidates.offered():
        bare = name.rsplit(".", 1)[-1]
        if bare in SKIPPED_NAMES or name in direct or name in related or name in calls or name in methods:
            continue
        label = name.split(":", 1)[0] if group == "references" else name
        matched = topic & words(label)
        if matched - own:  # a word of the topic beyond the symbol's own name
            direct.append(name)
            shared[name] = len(matched - own)
        elif group == "calls" and (matched or about_symbol):
            calls.append(name)  # what the symbol does is what it calls
        elif group == "methods" and about_symbol:
            methods.append(name)  # what a class does is what its methods do
        elif matched or (about_symbol and group in ("inputs", "output", "bases")):
            related.append(name)
        elif about_symbol and group == "references":
            uses.append(name)
    direct.sort(key=lambda n: -shared[n])  # the names sharing most words first (stable otherwise)
    chosen = direct + related + calls + methods
    if asks_uses or not chosen:  # where the symbol is used: asked for, or the only way on
        chosen += uses
    return SelectSymbols(selected=chosen)


class HeuristicModel(ModelBackend):
    """A backend that answers the project's tasks with the rules above."""

    async def complete(self, request: ModelRequest) -> ModelReply:
        call, reasoning = self.answer(request.task, request.input)
        raw_call = None if call is None else {"name": call.name, "arguments": call.arguments}
        raw = {"backend": "heuristic", "call": raw_call}
        return ModelReply(calls=(call,) if call else (), reasoning=reasoning, raw=raw)

    @staticmethod
    def answer(task: str, input: Any) -> tuple[ToolCall | None, str]:
        """The call (or None) and the reasoning the heuristic gives for one task input."""
        if task == "score_edge" and isinstance(input, ScoreEdgeInput):
            scored = score_edge(input)
            return ToolCall("score_edge", scored.model_dump()), scored.reasoning
        if task == "select_symbols" and isinstance(input, SelectSymbolsInput):
            chosen = select_symbols(input)
            return ToolCall("select_symbols", chosen.model_dump()), "Candidates sharing words with the topic."
        if task == "propose_queries" and isinstance(input, ProposeQueriesInput):
            proposed = propose_heuristically(input)
            return ToolCall("propose_queries", proposed.model_dump()), "Topics from the symbols' names and docstrings."
        if task == "invert_topic" and isinstance(input, InvertTopicInput):
            inverted = invert_topic_heuristically(input.topic)
            if inverted is None:
                return None, "No known opposite term in the topic."
            return ToolCall("invert_topic", {"inverted_topic": inverted}), "Replaced a term by its opposite."
        raise ValueError(f"the heuristic backend cannot answer task {task!r} with input {type(input).__name__}")
