"""propose_queries: given one module's public symbols (name, kind, first docstring line), propose exploration
topics, each with the seed symbols to start from. It is how ``teacher.record --queries auto`` writes its queries.
"""

from __future__ import annotations

from typing import Any

from converters.functiongemma import ToolCall
from tasks.propose_queries.heuristic import propose_heuristically
from tasks.propose_queries.schema import (
    PROPOSE_QUERIES,
    ModuleSymbol,
    ProposedQueries,
    ProposedQuery,
    ProposeQueriesInput,
    topic_key,
)
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
        proposed = propose_heuristically(input)
        return ToolCall(self.name, proposed.model_dump()), "Topics from the symbols' names and docstrings."
