"""Fewer declarations in the prompt: retrieve the likely subcommands of a request before asking the student.

:class:`SubcommandRetriever` is a small lexical retriever (BM25 over words) built from a CLI schema alone: each
``command subcommand`` pair is a document made of its names (the command, the subcommand, its arguments and
flags; counted twice) and its descriptions. :meth:`~SubcommandRetriever.retrieve` returns the ``k`` pairs that
score highest for a request, ties in schema order, so the same request always gives the same pairs; a request
that shares no word with the schema gets the first ``k`` pairs. :func:`subset_schema` keeps only those pairs,
and :class:`tasks.cli_intent.task.CliIntentTask` built with ``retrieve=k`` declares the tools of that subset:
the prompt is shorter, and the call grammar built from the declarations allows only the retrieved commands.

A student is trained on the prompts it will see: data generated with ``python -m tasks.cli_intent.generate
--retrieve K`` carries the same retrieved subsets, and the runtime is then run with the same ``--retrieve K``.
:func:`recall` measures how often the answer's pair is among those retrieved.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tasks.cli_intent.schema import CliSchema

__all__ = ["Recall", "SubcommandRetriever", "recall", "subset_schema", "words"]

_WORD = re.compile(r"[a-z0-9]+")
#: words that say nothing about which subcommand is meant
_STOP = frozenset(
    "a an and are as at be by can could do does for from give go i in is it its let me my of on or our please "
    "that the their them then there these this those to too up us want we what which with would you your".split()
)
#: everyday words for the verbs CLIs name their subcommands with (each request word also counts as these)
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "see": ("view", "show"), "show": ("view", "list"), "display": ("view", "show"), "look": ("view",),
    "open": ("view", "create"), "shut": ("close",), "new": ("create",), "make": ("create",),
    "start": ("create", "run"), "trigger": ("run",), "retry": ("rerun",), "restart": ("rerun",),
    "copy": ("clone", "fork"), "download": ("clone",), "ticket": ("issue",), "bug": ("issue",),
}
#: the weight of a synonym against a word of the request itself
_SYNONYM_WEIGHT = 0.5
#: the weight of a name's words (command, subcommand, argument and flag names) against description words
_NAME_WEIGHT = 2
_K1, _B = 1.2, 0.75


def _stem(word: str) -> str:
    """A crude suffix strip, so 'issues', 'closing' and 'closed' meet 'issue' and 'close' (as 'issu', 'clos')."""
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= (2 if suffix == "s" else 3):
            word = word[: -len(suffix)] + keep
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def words(text: str) -> list[str]:
    """The stemmed content words of ``text`` (lower case; stop words dropped; '-' and '_' split names)."""
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP]


class SubcommandRetriever:
    """BM25 over the schema's ``command subcommand`` pairs; deterministic, no model, no state between calls."""

    def __init__(self, schema: CliSchema) -> None:
        self.schema = schema
        self.pairs: list[str] = schema.pair_names()
        documents: list[Counter[str]] = []
        for command, sub in schema.pairs():
            names = [command.name, sub.name, *(a.name for a in sub.args), *(f.name for f in sub.flags)]
            descriptions = [command.description, sub.description, *(a.description for a in sub.args),
                            *(f.description for f in sub.flags)]
            bag: Counter[str] = Counter()
            for name in names:
                for word in words(name.replace("-", " ").replace("_", " ")):
                    bag[word] += _NAME_WEIGHT
            for text in descriptions:
                bag.update(words(text))
            documents.append(bag)
        self._documents = documents
        self._lengths = [sum(d.values()) for d in documents]
        self._average = sum(self._lengths) / len(documents)
        frequency: Counter[str] = Counter(w for d in documents for w in d)
        total = len(documents)
        self._idf = {w: math.log(1 + (total - n + 0.5) / (n + 0.5)) for w, n in frequency.items()}

    def scores(self, request: str) -> list[float]:
        """The BM25 score of each pair (schema order) for ``request``."""
        query = dict.fromkeys(words(request), 1.0)
        for word in list(query):
            for other in _SYNONYMS.get(word, ()):
                query.setdefault(_stem(other), _SYNONYM_WEIGHT)
        result = []
        for bag, length in zip(self._documents, self._lengths, strict=True):
            score = 0.0
            for word, weight in sorted(query.items()):
                count = bag.get(word, 0)
                if count:
                    norm = count + _K1 * (1 - _B + _B * length / self._average)
                    score += weight * self._idf[word] * count * (_K1 + 1) / norm
            result.append(score)
        return result

    def retrieve(self, request: str, k: int) -> tuple[str, ...]:
        """The ``k`` likeliest ``"command subcommand"`` pairs for ``request``, in schema order (the retrieval
        ranks them; ties go to the earlier pair)."""
        if k < 1:
            raise ValueError(f"retrieve k must be at least 1, got {k}")
        scores = self.scores(request)
        ranked = sorted(range(len(self.pairs)), key=lambda i: (-scores[i], i))[:k]
        return tuple(self.pairs[i] for i in sorted(ranked))


def subset_schema(schema: CliSchema, pairs: Iterable[str]) -> CliSchema:
    """``schema`` with only these ``"command subcommand"`` pairs (commands and subcommands in schema order);
    a :class:`ValueError` names a pair the schema lacks."""
    wanted = set(pairs)
    unknown = wanted - set(schema.pair_names())
    if unknown:
        raise ValueError(f"not in the {schema.cli_name} schema: {', '.join(sorted(unknown))}")
    commands = []
    for command in schema.commands:
        subs = tuple(s for s in command.subcommands if f"{command.name} {s.name}" in wanted)
        if subs:
            commands.append(command.model_copy(update={"subcommands": subs}))
    if not commands:
        raise ValueError("a subset keeps at least one pair")
    return schema.model_copy(update={"commands": tuple(commands)})


@dataclass(frozen=True)
class Recall:
    """How often the answer's pairs were retrieved: ``run_command`` answers (their pair among the ``k``) and
    ``clarify`` answers (every suggested pair among them; one without suggestions counts as found)."""

    k: int
    commands: int
    commands_found: int
    clarifications: int
    clarifications_found: int

    @property
    def command_recall(self) -> float:
        return self.commands_found / self.commands if self.commands else 1.0

    @property
    def clarify_recall(self) -> float:
        return self.clarifications_found / self.clarifications if self.clarifications else 1.0


def recall(retriever: SubcommandRetriever, examples: Sequence[tuple[str, str, Sequence[str]]], k: int) -> Recall:
    """The retriever's recall at ``k`` over ``(request, tool, pairs)`` examples: ``pairs`` is the answer's
    ``command subcommand`` for ``run_command``, its suggestions for ``clarify``."""
    counts = Counter[str]()
    for request, tool, wanted in examples:
        found = set(retriever.retrieve(request, k))
        kind = "commands" if tool == "run_command" else "clarifications"
        counts[kind] += 1
        counts[kind + "_found"] += set(wanted) <= found
    return Recall(k, counts["commands"], counts["commands_found"], counts["clarifications"],
                  counts["clarifications_found"])
