"""score_edge: rate one edge of the exploration graph (source -> target) for a natural-language query.

The output keeps the original system's flat schema, in snake_case on the wire. What the flags mean for
Python code:

* ``is_exhaustive``: the target inspects the source type case by case, so adding a variant or subclass
  breaks or silently skips it: a ``match`` statement over the type, an ``isinstance``/``elif isinstance``
  chain, or ``assert_never``.
* ``is_type_family``: the edge goes through typing machinery rather than a plain value: ``TypeVar``,
  ``Generic[...]``, ``Protocol``, ``@overload``, ``ParamSpec``, ``TypeAlias`` / ``type X = ...``.
* ``is_exported``: the target is public API: a public name (no leading underscore), listed in ``__all__``
  where the module has one, and not in a private or ``_internal`` module.

The user text is the 2-turn minimal layout (a "Score this edge:" heading and each field wrapped in
``<escape>``), written by the codec's ``render_fields``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from converters.functiongemma import ToolCall, render_fields
from tasks.score_edge.heuristic import score_edge
from tasks.score_edge.schema import FLAGS, SCORE_EDGE, EdgeType, ScoreEdgeInput, ScoreEdgeOutput
from teacher.task import SingleCallTask
from teacher.tools import Tool

__all__ = ["FLAGS", "SCORE_EDGE", "EdgeType", "ScoreEdgeInput", "ScoreEdgeOutput", "ScoreEdgeTask"]


class ScoreEdgeTask(SingleCallTask[ScoreEdgeInput, ScoreEdgeOutput]):
    """Rate how relevant and risky one followed edge is for the query."""

    name = "score_edge"
    guidance = (
        "You are rating one edge of a code graph explored for a query. Relevance: how much the target matters "
        "for answering the query. Risk: how likely a change made for the query breaks or needs the target. "
        "is_exhaustive: the target matches on the source type case by case (match statement, isinstance "
        "chain, assert_never). is_type_family: the edge goes through typing machinery (TypeVar, Generic, "
        "Protocol, overload, ParamSpec, type aliases). is_exported: the target is public API (public name, in "
        "__all__ where present, not in a private or _internal module). Explain briefly, then call score_edge once."
    )
    input_model = ScoreEdgeInput
    declare_tools = False  # the original 2-turn minimal format: the schema is learnt, not declared
    #: relevance, risk and the three flags are the decisions; the justification is free text
    free_text_fields = frozenset({"reasoning"})

    def tool(self, input: ScoreEdgeInput) -> Tool[ScoreEdgeOutput]:
        return SCORE_EDGE

    def render(self, input: ScoreEdgeInput) -> str:
        return render_fields(
            "Score this edge:",
            [
                ("Query", input.query),
                ("Source", f"{input.source_file}:{input.source_line}"),
                ("Source hover", input.source_hover),
                ("Target", f"{input.target_file}:{input.target_line}"),
                ("Target hover", input.target_hover),
                ("Edge type", input.edge_type.value),
            ],
        )

    def split_keys(self, input: ScoreEdgeInput, calls: Sequence[ToolCall] = ()) -> list[str]:
        """The edge's source symbol: every edge from one symbol stays on one side."""
        return [f"symbol:{input.source_file}:{input.source_line}"]

    def heuristic_answer(self, input: ScoreEdgeInput) -> tuple[ToolCall, str]:
        """Scores from the query's words, the edge type and the hovers (:mod:`tasks.score_edge.heuristic`)."""
        scored = score_edge(input)
        return ToolCall(self.name, scored.model_dump()), scored.reasoning

    def agreement(self, teacher: dict[str, Any], student: dict[str, Any]) -> dict[str, float]:
        """The absolute differences of relevance and risk, and agreement on each flag."""
        figures = {
            "relevance_abs_diff": abs(teacher["relevance"] - student["relevance"]),
            "risk_abs_diff": abs(teacher["risk"] - student["risk"]),
        }
        figures.update({f"{flag}_agree": float(teacher[flag] == student[flag]) for flag in FLAGS})
        return figures
