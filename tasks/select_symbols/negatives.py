"""Negative examples for select_symbols: the same context under a semantically inverted topic selects nothing.

Inverted topics come from a teacher (the ``invert_topic`` task, recorded like any other) or from the heuristic
inverter below; each negative records which (``meta["inverted_by"]``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from converters.functiongemma import ToolCall
from tasks.select_symbols.schema import SelectSymbolsInput
from teacher.task import SingleCallTask, TaskOutputError, Turn, topic_key
from teacher.tools import Tool

InvertedBy = Literal["teacher", "heuristic"]

# Semantic opposites, each usable in both directions; longer phrases first so "non-blocking" wins over "blocking".
OPPOSITES: tuple[tuple[str, str], ...] = (
    ("non-blocking", "blocking"),
    ("unvalidated", "validated"),
    ("asynchronous", "synchronous"),
    ("async", "sync"),
    ("deserialization", "serialization"),
    ("deserialize", "serialize"),
    ("decoding", "encoding"),
    ("decode", "encode"),
    ("parsing", "rendering"),
    ("parse", "render"),
    ("reading", "writing"),
    ("read", "write"),
    ("import", "export"),
    ("immutable", "mutable"),
    ("private", "public"),
    ("success", "failure"),
    ("valid", "invalid"),
    ("opening", "closing"),
    ("open", "close"),
    ("start", "stop"),
    ("acquire", "release"),
    ("lock", "unlock"),
    ("enable", "disable"),
    ("manual", "automatic"),
    ("manually", "automatically"),
    ("cached", "uncached"),
    ("retry", "give up"),
    ("ignore", "process"),
    ("single", "multiple"),
    ("local", "remote"),
    ("input", "output"),
    ("request", "response"),
    ("client", "server"),
    ("compress", "decompress"),
    ("encrypt", "decrypt"),
    ("insert", "delete"),
    ("create", "destroy"),
)


# Verbs in their base form: swapped only where a base-form verb fits ("to read", "can read", "Read orders"), never
# where the word is a participle or a noun ("its response read", "the lock"), which would give a broken sentence.
_BASE_VERBS = frozenset(
    """read write parse render decode encode serialize deserialize open close start stop acquire release lock unlock
    enable disable retry ignore process compress decompress encrypt decrypt insert delete create destroy import
    export""".split()
) | {"give up"}
_VERB_CONTEXT = re.compile(
    r"(?:\b(?:to|can|could|should|must|will|would|may|might|do|does|did|don't|doesn't|we|you|they|i)\s+)$",
    re.IGNORECASE,
)
_AUXILIARY = re.compile(r"\b(?:is|are|was|were|be|been)\b", re.IGNORECASE)
_ARTICLE = re.compile(r"\b(an?)\s+$", re.IGNORECASE)


def _swap_case(template: str, word: str) -> str:
    if template.isupper():
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _fits(topic: str, start: int, end: int, found: str, replacement: str) -> bool:
    """Whether putting ``replacement`` for ``found`` at ``start:end`` keeps the topic a sentence."""
    before = topic[:start]
    if found.lower() in _BASE_VERBS or replacement.lower() in _BASE_VERBS:
        if before.strip() == "":  # an imperative opening ("Serialize orders"), unless the word is a subject
            return not _AUXILIARY.search(topic[end:])
        return _VERB_CONTEXT.search(before) is not None
    # "a single order" cannot become "a multiple order"
    return not (replacement.lower() == "multiple" and _ARTICLE.search(before))


def invert_topic_heuristically(topic: str) -> str | None:
    """The topic with its first known term replaced by its opposite, where the sentence stays grammatical; None
    when no term can be replaced (it never guesses)."""
    for left, right in OPPOSITES:
        for found, replacement in ((left, right), (right, left)):
            pattern = re.compile(rf"(?<![\w-]){re.escape(found)}(?![\w-])", re.IGNORECASE)
            for match in pattern.finditer(topic):
                if not _fits(topic, match.start(), match.end(), match.group(), replacement):
                    continue
                new = _swap_case(match.group(), replacement)
                before = topic[: match.start()]
                article = _ARTICLE.search(before)
                if article:  # "an async handler" becomes "a sync handler"
                    wanted = "an" if new[:1].lower() in "aeiou" else "a"
                    before = before[: article.start(1)] + _swap_case(article.group(1), wanted) + before[article.end(1):]
                return before + new + topic[match.end() :]
    return None


class InvertTopicInput(BaseModel):
    """A topic to invert, with the symbol it was asked about."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: str = Field(min_length=1)
    symbol: str = ""
    signature: str = ""


class InvertedTopic(BaseModel):
    """The tool's arguments and the task's output."""

    model_config = ConfigDict(extra="forbid")

    inverted_topic: str = Field(
        min_length=1, description="The topic rewritten to ask for the semantic opposite, in the same style."
    )


INVERT_TOPIC = Tool("invert_topic", "Give the semantic opposite of a code-exploration topic.", InvertedTopic)


class InvertTopicTask(SingleCallTask[InvertTopicInput, InvertedTopic]):
    """Rewrite a topic into its semantic opposite (blocking vs non-blocking, validated vs unvalidated, ...)."""

    name = "invert_topic"
    guidance = (
        "Rewrite the topic so that it asks for the semantic opposite of what it asks now (blocking vs "
        "non-blocking, validated vs unvalidated data, automatic vs manual), in the same style and length, so "
        "that the symbol shown would not matter for the new topic. Do not just add 'not'. Call invert_topic once."
    )
    input_model = InvertTopicInput

    def tool(self, input: InvertTopicInput) -> Tool[InvertedTopic]:
        return INVERT_TOPIC

    def render(self, input: InvertTopicInput) -> str:
        return f"Topic: {input.topic}\nSymbol: {input.symbol}\nSignature: {input.signature}"

    def output(self, arguments: Any, input: InvertTopicInput) -> InvertedTopic:
        assert isinstance(arguments, InvertedTopic)
        if arguments.inverted_topic.strip().lower() == input.topic.strip().lower():
            raise TaskOutputError(self.name, "the inverted topic is the topic itself")
        return arguments

    def split_keys(self, input: InvertTopicInput, calls: Sequence[ToolCall] = ()) -> list[str]:
        """The topic's word stems: an inversion stays on the side of the topic it inverts."""
        return [topic_key(input.topic)]

    def counterpart(self, turn: Turn[InvertTopicInput]) -> tuple[str, str] | None:
        """The topic and the teacher's inversion of it: select_symbols makes its negatives from these."""
        inverted = turn.calls[0].arguments.get("inverted_topic") if turn.calls else None
        if isinstance(inverted, str) and inverted.strip():
            return turn.input.topic, inverted
        return None

    def heuristic_answer(self, input: InvertTopicInput) -> tuple[ToolCall | None, str]:
        """A known opposite term swapped in (:func:`invert_topic_heuristically`), or no call."""
        inverted = invert_topic_heuristically(input.topic)
        if inverted is None:
            return None, "No known opposite term in the topic."
        return ToolCall(self.name, {"inverted_topic": inverted}), "Replaced a term by its opposite."


def negative_turn(input: SelectSymbolsInput, inverted_topic: str, inverted_by: InvertedBy) -> Turn[SelectSymbolsInput]:
    """The negative example's turn: same context, inverted topic, empty selection, with its provenance."""
    if inverted_topic.strip().lower() == input.topic.strip().lower():
        raise ValueError(f"inverted topic {inverted_topic!r} is the original topic")
    return Turn(
        task="select_symbols",
        input=input.model_copy(update={"topic": inverted_topic}),
        calls=(ToolCall("select_symbols", {"selected": []}),),
        meta={"negative": True, "inverted_by": inverted_by, "original_topic": input.topic},
    )
