"""Queries for synthetic score_edge contexts; the code at each end comes from real code (:mod:`harvest`).

A query is either one of the fixed questions about an unrelated code base (so that some edges tie nothing to the
query) or a template filled with the names at the two ends of the edge.
"""

from __future__ import annotations

QUERIES: tuple[str, ...] = (
    "What breaks if I add a variant to OrderStatus?",
    "Where is the order total computed?",
    "Who calls validate and with what data?",
    "How are events dispatched to handlers?",
    "What changes if Shape gets a new subclass?",
    "Where is the configuration defined and validated?",
    "Which code uses the message queue without blocking?",
    "How does the cache stay generic over key and value types?",
    "What is the impact of renaming Order.items?",
    "How are payment failures reported to the user?",
    "Which functions depend on the Repository protocol?",
    "How is an order serialized before it is sent?",
    "Where are retries configured for HTTP requests?",
    "What typing constraints does the comparable TypeVar impose?",
    "How do overloads of parse choose the input type?",
    "Which callers must change if Message gains a field?",
    "How is the database session committed?",
    "What happens when a discount code is applied?",
)

#: questions about the edge's own ends; ``{source}`` and ``{target}`` are the names defined there
QUERY_TEMPLATES: tuple[str, ...] = (
    "What breaks if I add a variant to {source}?",
    "Which code must change if {source} gains a subclass?",
    "Who calls {target} and with what arguments?",
    "Where is {target} defined?",
    "How does {target} use {source}?",
    "What is the impact of renaming {target}?",
    "How do the types of {source} constrain {target}?",
    "How is {source} created, and what uses it?",
    "What does {target} call, and who calls it?",
    "Which typing constraints does {target} impose?",
)
