"""propose_queries: given one module's public symbols (name, kind, first docstring line), propose exploration
topics, each with the seed symbols to start from. It is how ``teacher.record --queries auto`` writes its queries.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from converters.functiongemma import ToolCall
from teacher.task import SingleCallTask, TaskOutputError
from teacher.tools import Tool

__all__ = [
    "PROPOSE_QUERIES",
    "ModuleSymbol",
    "ProposeQueriesInput",
    "ProposeQueriesTask",
    "ProposedQueries",
    "ProposedQuery",
    "topic_key",
]


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


class ProposeQueriesTask(SingleCallTask[ProposeQueriesInput, ProposedQueries]):
    """Propose diverse exploration topics for one module, each seeded with its symbols."""

    name = "propose_queries"
    guidance = (
        "You are writing exploration queries for a code base. Given one module's public classes and functions, "
        "propose diverse questions a developer would ask about how this code works (how data flows, what is "
        "validated, what breaks if something changes), each with one to three of the listed symbols to start "
        "from. Do not repeat a topic. Call propose_queries once."
    )
    input_model = ProposeQueriesInput

    def tool(self, input: ProposeQueriesInput) -> Tool[ProposedQueries]:
        return PROPOSE_QUERIES

    def render(self, input: ProposeQueriesInput) -> str:
        lines = [f"Module: {input.module}", "Symbols:"]
        for symbol in input.symbols:
            keyword = "class" if symbol.kind == "class" else "def"
            lines.append(f"  {keyword} {symbol.name}" + (f": {symbol.summary}" if symbol.summary else ""))
        lines.append(f"Topics wanted: {input.count}")
        return "\n".join(lines)

    def output(self, arguments: Any, input: ProposeQueriesInput) -> ProposedQueries:
        assert isinstance(arguments, ProposedQueries)
        names = {s.name for s in input.symbols}
        if len(arguments.queries) > input.count:
            raise TaskOutputError(self.name, f"{len(arguments.queries)} topics proposed, at most {input.count} wanted")
        seen: set[str] = set()
        for index, query in enumerate(arguments.queries):
            unknown = [s for s in query.seeds if s not in names]
            if unknown:
                raise TaskOutputError(self.name, f"queries[{index}].seeds: {unknown} are not symbols of the module")
            key = topic_key(query.topic)
            if key in seen:
                raise TaskOutputError(self.name, f"queries[{index}].topic repeats an earlier topic")
            seen.add(key)
        return arguments

    def heuristic_answer(self, input: ProposeQueriesInput) -> tuple[ToolCall, str]:
        """Topics from the symbols' names and docstrings (:mod:`tasks.propose_queries.heuristic`)."""
        from tasks.propose_queries.heuristic import propose_heuristically

        proposed = propose_heuristically(input)
        return ToolCall(self.name, proposed.model_dump()), "Topics from the symbols' names and docstrings."
