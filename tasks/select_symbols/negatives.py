"""Negative examples for select_symbols: the same context under a semantically inverted topic selects nothing.

Inverted topics come from a teacher (the ``invert_topic`` task, recorded like any other) or from the heuristic
inverter below; each negative records which (``meta["inverted_by"]``).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from converters.functiongemma import ToolCall
from tasks.select_symbols.task import SelectSymbolsInput
from teacher.task import SingleCallTask, TaskOutputError, Turn
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


def _swap_case(template: str, word: str) -> str:
    if template.isupper():
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def invert_topic_heuristically(topic: str) -> str | None:
    """The topic with its first known term replaced by its opposite, or None when no term is known."""
    for left, right in OPPOSITES:
        for found, replacement in ((left, right), (right, left)):
            pattern = re.compile(rf"(?<![\w-]){re.escape(found)}(?![\w-])", re.IGNORECASE)
            match = pattern.search(topic)
            if match:
                new = _swap_case(match.group(), replacement)
                return topic[: match.start()] + new + topic[match.end() :]
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
