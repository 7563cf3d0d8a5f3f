"""The heuristic select_symbols answer: candidates sharing words with the topic, and the symbol's own neighbours."""

from __future__ import annotations

from tasks.select_symbols.schema import SelectSymbols, SelectSymbolsInput
from tasks.text import USE_WORDS, words
from teacher.candidates import SKIPPED_NAMES

__all__ = ["select_symbols"]


def select_symbols(input: SelectSymbolsInput) -> SelectSymbols:
    """Select candidates whose names share words with the topic, then, when the topic is about the symbol itself
    (its name or its signature share words with it), its parameter, return and base types, what it calls, a
    class's methods, and its reference sites when the topic asks about uses or callers or nothing else leads on;
    builtins and typing primitives skipped.

    It reads only what the student is shown: the topic, the symbol, its signature and the candidate names. Direct
    matches (a topic word beyond the symbol's own name) come first, most shared words first, so the exploration
    follows them first."""
    topic = words(input.topic)
    own = words(input.symbol)
    about_symbol = bool(topic & (own | words(input.signature.split("(", 1)[0])))
    direct: list[str] = []
    related: list[str] = []
    calls: list[str] = []
    methods: list[str] = []
    uses: list[str] = []
    asks_uses = bool(topic & USE_WORDS)  # "who calls it", "what uses it"
    shared: dict[str, int] = {}
    for group, name in input.candidates.offered():
        bare = name.rsplit(".", 1)[-1]
        if bare in SKIPPED_NAMES or name in direct or name in related or name in calls or name in methods:
            continue
        label = name.split(":", 1)[0] if group == "references" else name
        matched = topic & words(label)
        if matched - own:  # a word of the topic beyond the symbol's own name
            direct.append(name)
            shared[name] = len(matched - own)
        elif group == "calls" and (matched or about_symbol):
            calls.append(name)  # what the symbol does is what it calls
        elif group == "methods" and about_symbol:
            methods.append(name)  # what a class does is what its methods do
        elif matched or (about_symbol and group in ("inputs", "output", "bases")):
            related.append(name)
        elif about_symbol and group == "references":
            uses.append(name)
    direct.sort(key=lambda n: -shared[n])  # the names sharing most words first (stable otherwise)
    chosen = direct + related + calls + methods
    if asks_uses or not chosen:  # where the symbol is used: asked for, or the only way on
        chosen += uses
    return SelectSymbols(selected=chosen)
