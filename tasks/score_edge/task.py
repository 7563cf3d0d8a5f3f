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
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from converters.functiongemma import ToolCall, render_fields
from teacher.task import SingleCallTask
from teacher.tools import Tool


class EdgeType(StrEnum):
    """How the target was reached from the source."""

    definition = "definition"
    reference = "reference"
    usage = "usage"
    instance = "instance"
    type_constraint = "type_constraint"


class ScoreEdgeInput(BaseModel):
    """One edge: the query, both ends (file, 1-based line, hover text) and how it was followed.

    The hover text of an end is the code there, as the seed's layout has it (``Target hover: match x: ...``): the
    exploration fills it with a bounded excerpt (:mod:`teacher.code_excerpt`: the signature and the lines around
    the use site for the end that holds a call or reference, the head of the definition otherwise), and falls
    back to the one-line signature of the LSP hover where there is no code. Lines recorded before edges carried
    their code hold that signature alone and read the same.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    query: str = Field(min_length=1)
    source_file: str = Field(min_length=1)
    source_line: int = Field(ge=1)
    source_hover: str = ""
    target_file: str = Field(min_length=1)
    target_line: int = Field(ge=1)
    target_hover: str = ""
    edge_type: EdgeType


class ScoreEdgeOutput(BaseModel):
    """The tool's arguments and the task's output, exactly the original flat schema."""

    model_config = ConfigDict(extra="forbid")

    relevance: int = Field(ge=1, le=5, description="How relevant the target is to the query, 1 (not) to 5 (central).")
    risk: int = Field(ge=1, le=5, description="How risky it is to change the target for this query, 1 to 5.")
    reasoning: str = Field(description="One or two sentences justifying the scores.")
    is_exhaustive: bool = Field(
        description="The target matches on the source type case by case (match, isinstance chain)."
    )
    is_type_family: bool = Field(
        description="The edge goes through typing machinery (TypeVar, Generic, Protocol, overload)."
    )
    is_exported: bool = Field(description="The target is public API (public name, not in a private module).")


#: the flags a student must agree with the teacher on (``teacher.compare``)
FLAGS = ("is_exhaustive", "is_type_family", "is_exported")

SCORE_EDGE = Tool("score_edge", "Score one edge of the code graph for the query.", ScoreEdgeOutput)


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
        from tasks.score_edge.heuristic import score_edge

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
