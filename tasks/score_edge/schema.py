"""The score_edge task's types: the edge it is asked about, the scores it answers with and its tool.

They live apart from :mod:`tasks.score_edge.task` so that the heuristic scorer can use them while the task calls
the heuristic: each module imports this one, and neither imports the other back.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from teacher.tools import Tool

__all__ = ["FLAGS", "SCORE_EDGE", "EdgeType", "ScoreEdgeInput", "ScoreEdgeOutput"]


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
