"""The offline proposer: topics written from a module's symbol names and the first lines of their docstrings."""

from __future__ import annotations

import re

from tasks.propose_queries.schema import ModuleSymbol, ProposedQueries, ProposedQuery, ProposeQueriesInput, topic_key

_ARTICLES = ("a", "an", "the")
# Verbs docstrings open with ("Return ...", "Sends ..."): only these start a "How does NAME VERB ...?" topic.
_VERBS = frozenset(
    """add apply attach build calculate call check clear close compute construct convert copy create decode
    define determine display echo emit encode execute fetch filter find format generate get handle hold initialize
    invoke iterate join load look make manage mark match merge normalize open parse prepare print process prompt
    provide raise read register remove render represent reset resolve return run save select send set show sort
    split start stop store strip update validate wrap write yield""".split()
)
# Words that make a clause a sentence rather than a noun phrase ("the protocol was violated").
_FINITE = frozenset("is are was were has have had be been can could will would should may might must".split())
_CUT = re.compile(r"[.;:(\[]|,\s|\s-\s|\s--\s")
_WORD_OK = re.compile(r"[A-Za-z][\w'-]*|\d+")


def _base_verb(word: str) -> str:
    """'Returns' -> 'return', 'Matches' -> 'match', 'Applies' -> 'apply', 'Send' -> 'send'."""
    w = word.lower()
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("sses", "shes", "ches", "xes", "zes")):
        return w[:-2]
    if w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 3:
        return w[:-1]
    return w


def _phrase(summary: str, most: int = 9) -> list[str]:
    """The summary's first clause as plain words (at most ``most``), or [] when it holds anything else."""
    clause = _CUT.split(summary.strip(), maxsplit=1)[0].strip()
    words = clause.split()
    if not words or len(words) > most or not all(_WORD_OK.fullmatch(w) for w in words):
        return []
    return words


def topic_for(symbol: ModuleSymbol) -> str:
    """One grammatical topic about a symbol, from its docstring's first clause when it reads as a phrase."""
    words = _phrase(symbol.summary)
    name = symbol.name
    finite = bool(_FINITE & {w.lower() for w in words}) or any(w.lower().endswith("ed") for w in words[1:])
    if words and words[0].lower() in _ARTICLES and not finite:
        noun = " ".join([words[0].lower(), *words[1:]])
        if symbol.kind == "class":
            return f"How is {noun} ({name}) built and used?"
        return f"How does {name} work as {noun}?" if len(words) > 1 else f"What does {name} call, and who calls it?"
    if len(words) >= 2 and _base_verb(words[0]) in _VERBS and not _FINITE & {w.lower() for w in words[1:]}:
        verb = _base_verb(words[0])
        # "Sends a request and returns the response": every joined verb takes the base form after "does"
        joined = [_base_verb(w) if i and words[i - 1].lower() in ("and", "or") and _base_verb(w) in _VERBS else w
                  for i, w in enumerate(words)]
        rest = " ".join(joined[1:])
        return f"How does {name} {verb} {rest}?"
    if symbol.kind == "class":
        return f"How is {name} created, and what uses it?"
    return f"What does {name} call, and who calls it?"


def propose_heuristically(input: ProposeQueriesInput) -> ProposedQueries:
    """Up to ``count`` distinct topics: one per symbol (documented ones first, classes and functions taking
    turns), then one pairing the first two classes."""
    documented = [s for s in input.symbols if _phrase(s.summary)]
    rest = [s for s in input.symbols if s not in documented]
    ordered: list[ModuleSymbol] = []
    for group in (documented, rest):
        class_pool = [s for s in group if s.kind == "class"]
        function_pool = [s for s in group if s.kind == "function"]
        while class_pool or function_pool:
            for pool in (class_pool, function_pool):
                if pool:
                    ordered.append(pool.pop(0))
    queries: list[ProposedQuery] = []
    seen: set[str] = set()
    candidates = [(topic_for(s), [s.name]) for s in ordered]
    classes = [s.name for s in input.symbols if s.kind == "class"]
    if len(classes) >= 2:
        candidates.append((f"How do {classes[0]} and {classes[1]} work together?", classes[:2]))
    for topic, seeds in candidates:
        if len(queries) == input.count:
            break
        key = topic_key(topic)
        if key not in seen and len(topic) <= 200:
            seen.add(key)
            queries.append(ProposedQuery(topic=topic, seeds=seeds))
    return ProposedQueries(queries=queries)
