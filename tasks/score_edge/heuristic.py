"""The heuristic score_edge answer: query keywords, the edge type and what the hover texts show, no model."""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from tasks.score_edge.schema import EdgeType, ScoreEdgeInput, ScoreEdgeOutput
from tasks.text import USE_WORDS, words, words_in

__all__ = ["defined_name", "is_exhaustive", "is_exported", "is_type_family", "score_edge"]

_EXHAUSTIVE = re.compile(
    r"^\s*match\s+\S[^\n]*:\s*$"  # a match statement
    r"|^\s*case\s+[^\s=:][^\n]*:"  # one of its cases
    r"|isinstance\([^\n]*\n(?:[^\n]*\n)*?\s*elif\s+isinstance\("  # an isinstance chain
    r"|assert_never",
    re.MULTILINE,
)
# a branch on the type of one subject: ``if isinstance(x, A)``, ``elif issubclass(cls, B)``, ``if type(x) is C``
_TYPE_TEST = re.compile(
    r"^\s*(?:if|elif)\s+(?:not\s+)?(?:(?:isinstance|issubclass)\(\s*([\w.]+)\s*,|type\(\s*([\w.]+)\s*\)\s*(?:is|==)\s)",
    re.MULTILINE,
)
_TYPE_FAMILY = re.compile(
    r"\bTypeVar(?:Tuple)?\b|\bGeneric\[|\bProtocol\b|@overload\b|\bParamSpec\b|\bTypeAlias\b"
    r"|^\s*type\s+\w+\s*(?:\[[^\]]*\])?\s*=",  # a type statement
    re.MULTILINE,
)
# a def or class anywhere, else a name assigned or annotated at the start of a line that is not indented (a
# decorator's keyword argument on a continuation line, ``@dataclass(\n    frozen=True)``, is not a definition)
_DEFINED_NAME = re.compile(r"(?:async\s+def|def|class)\s+(\w+)|^(?:\(\w+\)\s*)?(\w+)\s*[:=]", re.MULTILINE)

CHANGE_WORDS = words("break breaks change rename remove delete add variant refactor migrate impact affect modify")
DEFINE_WORDS = words("where defined definition declare declared declaration")
TYPE_WORDS = words("type types generic protocol typevar overload typing variance")


def defined_name(hover: str) -> str:
    """The name a hover text defines (``def f``, ``class C``, ``x: int``), or ''."""
    match = _DEFINED_NAME.search(hover)
    return next((g for g in match.groups() if g), "") if match else ""


@lru_cache(maxsize=4096)
def is_exhaustive(hover: str) -> bool:
    """A match statement, an isinstance/elif isinstance chain, assert_never, or two branches or more on the type
    of one subject (``if isinstance(x, A): ...`` then ``if isinstance(x, B): ...``, or ``type(x) is``)."""
    if _EXHAUSTIVE.search(hover) is not None:
        return True
    subjects = Counter(a or b for a, b in _TYPE_TEST.findall(hover))
    return any(count >= 2 for count in subjects.values())


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
    """Score an edge from query keywords, the edge type and what the hover texts (the code at each end) show.

    Relevance starts at 1; the query sharing words with the target's code adds 1, and with its first line (the
    signature) or its file 1 or 2 more; the query asking for what the edge is (a definition, a use), a change
    that a case-by-case match must follow, or typing machinery the edge goes through adds more. Risk starts at 1;
    a case-by-case match adds 2, public API, typing machinery, a query that asks for a change and an edge on which
    the source is built on the target (its definition or a type it is constrained by) 1 each."""
    query = words(input.query)
    exhaustive = is_exhaustive(input.target_hover)
    type_family = is_type_family(input.target_hover) or is_type_family(input.source_hover)
    exported = is_exported(input.target_file, input.target_hover)
    signature = input.target_hover.lstrip().split("\n", 1)[0]
    named = query & (words(signature) | words(input.target_file))
    overlap = named | (query & words(input.target_hover))
    changing = bool(query & CHANGE_WORDS)
    built_on = input.edge_type in (EdgeType.definition, EdgeType.type_constraint)

    relevance = 1 + bool(overlap) + min(len(named), 2)
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

    risk = 1 + 2 * exhaustive + exported + type_family + changing + built_on
    if exported:
        reasons.append("it is public API")
    if built_on:
        reasons.append("the source is built on it")
    reasoning = "Relevant because " + "; ".join(reasons) + "." if reasons else "Little ties the target to the query."
    return ScoreEdgeOutput(
        relevance=max(1, min(5, relevance)),
        risk=max(1, min(5, risk)),
        reasoning=reasoning,
        is_exhaustive=exhaustive,
        is_type_family=type_family,
        is_exported=exported,
    )
