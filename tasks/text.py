"""Small text helpers shared by the tasks and the heuristic backend: words of identifiers and topics."""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z]|[0-9]|\b|_)|[A-Z]?[a-z]+|[0-9]+|[A-Z]+")
_STOPWORD_TEXT = """a an and are as at be by do does for from how i if in into is it its me my not of on or that the
this to what when where which who why will with without you your can should there their them they we our"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


# Irregular past forms met in code topics ("how a request is sent"), to their base verb.
IRREGULAR = {
    "sent": "send", "built": "build", "made": "make", "written": "write", "wrote": "write", "kept": "keep",
    "found": "find", "got": "get", "gotten": "get", "paid": "pay", "sold": "sell", "held": "hold", "ran": "run",
    "taken": "take", "took": "take", "given": "give", "gave": "give", "chosen": "choose", "spent": "spend",
    "thrown": "throw", "threw": "throw", "bound": "bind", "split": "split", "shown": "show", "led": "lead",
}


def stem(word: str) -> str:
    """A crude stem so that 'parsing', 'parsed', 'parses' and 'parse' meet, and 'sent' meets 'send'."""
    word = IRREGULAR.get(word, word)
    for suffix in ("ing", "ers", "er", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) >= 5 else word


@lru_cache(maxsize=8192)
def words(text: str) -> frozenset[str]:
    """Lower-case stemmed words of free text or identifiers (camelCase, snake_case, dotted, paths); cached."""
    return frozenset(stem(w.lower()) for w in _WORD.findall(text)) - STOPWORDS


def words_in(text: str, stems: frozenset[str]) -> list[str]:
    """The words of ``text`` (as written, lower-cased, each once) whose stems are in ``stems``."""
    return list(dict.fromkeys(w.lower() for w in _WORD.findall(text) if stem(w.lower()) in stems))


#: Words of a topic or query that ask about uses and callers (read by the select_symbols and score_edge heuristics).
USE_WORDS = words("use uses used call calls caller callers usage consume consumer depend depends")
