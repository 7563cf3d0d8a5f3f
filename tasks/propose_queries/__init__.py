"""The propose_queries task: exploration topics and seeds for a module, proposed by any backend."""

from tasks.propose_queries.task import (
    PROPOSE_QUERIES,
    ModuleSymbol,
    ProposedQueries,
    ProposedQuery,
    ProposeQueriesInput,
    ProposeQueriesTask,
    topic_key,
)

__all__ = [
    "PROPOSE_QUERIES",
    "ModuleSymbol",
    "ProposeQueriesInput",
    "ProposeQueriesTask",
    "ProposedQueries",
    "ProposedQuery",
    "topic_key",
]
