"""The propose_queries task's types: the module it is asked about, the topics it answers with, its tool and the
topics' de-duplication key.

They live apart from :mod:`tasks.propose_queries.task` so that the offline proposer can use them while the task
calls the proposer: each module imports this one, and neither imports the other back.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from teacher.tools import Tool

__all__ = ["PROPOSE_QUERIES", "ModuleSymbol", "ProposeQueriesInput", "ProposedQueries", "ProposedQuery", "topic_key"]


class ModuleSymbol(BaseModel):
    """A public class or function of the module, with the first line of its docstring."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    kind: Literal["class", "function"]
    summary: str = ""


class ProposeQueriesInput(BaseModel):
    """One module and how many topics to propose for it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    module: str = Field(min_length=1)
    symbols: tuple[ModuleSymbol, ...] = Field(min_length=1)
    count: int = Field(3, ge=1, le=20)


class ProposedQuery(BaseModel):
    """One exploration query: a topic in the user's words and the symbols to start from."""

    model_config = ConfigDict(extra="forbid")

    topic: str = Field(min_length=8, max_length=200, description="A question about how the code works.")
    seeds: list[str] = Field(min_length=1, max_length=3, description="Symbols of the module to start from.")


class ProposedQueries(BaseModel):
    """The tool's arguments and the task's output."""

    model_config = ConfigDict(extra="forbid")

    queries: list[ProposedQuery] = Field(description="Diverse topics, each with its seed symbols.")


PROPOSE_QUERIES = Tool(
    "propose_queries", "Propose code-exploration topics for a module, each with seed symbols.", ProposedQueries
)


def topic_key(topic: str) -> str:
    """A topic normalised for de-duplication: lower case, words only, in order."""
    return " ".join("".join(c if c.isalnum() else " " for c in topic.lower()).split())
