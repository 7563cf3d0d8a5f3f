"""Negative examples: inverted topics from the heuristic or a teacher, empty selections, provenance."""

from __future__ import annotations

import pytest

from converters.functiongemma import ToolCall
from interpreters.heuristic import HeuristicModel
from interpreters.scripted import ScriptedModel
from tasks.select_symbols import Candidates, SelectSymbolsInput, SelectSymbolsTask
from tasks.select_symbols.negatives import (
    InvertTopicInput,
    InvertTopicTask,
    invert_topic_heuristically,
    negative_turn,
)
from teacher.handlers import interpret, perform
from teacher.operations import Ask
from teacher.task import TaskOutputError

INPUT = SelectSymbolsInput(
    topic="How does a blocking receive wait for messages?",
    symbol="receive",
    signature="def receive(queue: Queue[Message], timeout: float | None = None) -> Message",
    candidates=Candidates(inputs=("Queue", "Message"), output=("Message",), references=("a.py:3", "b.py:9")),
)


@pytest.mark.parametrize(
    ("topic", "inverted"),
    [
        ("How does a blocking receive wait?", "How does a non-blocking receive wait?"),
        ("Non-blocking polling of the queue", "Blocking polling of the queue"),
        ("Where is validated input stored?", "Where is unvalidated input stored?"),
        ("Serialize orders to JSON", "Deserialize orders to JSON"),
        ("ASYNC handlers", "SYNC handlers"),
    ],
)
def test_heuristic_inverter_swaps_a_known_opposite(topic: str, inverted: str) -> None:
    assert invert_topic_heuristically(topic) == inverted


def test_heuristic_inverter_gives_up_rather_than_guessing() -> None:
    assert invert_topic_heuristically("How is the cache keyed?") is None


def test_negative_turn_keeps_the_context_and_selects_nothing() -> None:
    turn = negative_turn(INPUT, "How does a non-blocking receive poll for messages?", "heuristic")
    assert turn.input.candidates == INPUT.candidates and turn.input.symbol == INPUT.symbol
    assert turn.input.topic != INPUT.topic
    assert turn.calls == (ToolCall("select_symbols", {"selected": []}),)
    assert turn.meta == {"negative": True, "inverted_by": "heuristic", "original_topic": INPUT.topic}
    [example] = SelectSymbolsTask().to_examples(turn)
    assert example.messages[-1].tool_calls is not None
    assert example.messages[-1].tool_calls[0].function.arguments == '{"selected":[]}'
    with pytest.raises(ValueError, match="is the original topic"):
        negative_turn(INPUT, INPUT.topic.upper(), "teacher")


async def test_invert_topic_is_a_task_any_backend_answers() -> None:
    task = InvertTopicTask()
    question = InvertTopicInput(topic=INPUT.topic, symbol="receive")
    async with interpret(HeuristicModel()):
        answer = await perform(Ask(task, question))
        assert answer.inverted_topic == "How does a non-blocking receive wait for messages?"
        with pytest.raises(TaskOutputError, match="no tool call"):
            await perform(Ask(task, InvertTopicInput(topic="How is the cache keyed?")))
    async with interpret(ScriptedModel([ToolCall("invert_topic", {"inverted_topic": INPUT.topic})])):
        with pytest.raises(TaskOutputError, match="the topic itself"):
            await perform(Ask(task, question))
