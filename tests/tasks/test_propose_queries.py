"""propose_queries: the task's validation, the offline proposer's topics, and their inversions."""

from __future__ import annotations

import json
import re

import pytest

from converters.functiongemma import ToolCall
from interpreters.heuristic import HeuristicModel
from tasks.propose_queries import ModuleSymbol, ProposeQueriesInput, ProposeQueriesTask, topic_key
from tasks.propose_queries.heuristic import propose_heuristically, topic_for
from tasks.registry import task_named
from tasks.select_symbols.negatives import invert_topic_heuristically
from teacher.handlers import interpret, perform
from teacher.operations import Ask
from teacher.task import TaskOutputError
from tests.conftest import SAMPLE_REPO

TASK = ProposeQueriesTask()
INPUT = ProposeQueriesInput(
    module="httpx._client",
    symbols=(
        ModuleSymbol(name="Client", kind="class", summary="An HTTP client, with connection pooling, HTTP/2."),
        ModuleSymbol(name="send", kind="function", summary="Sends a request and returns the response."),
        ModuleSymbol(name="ProtocolError", kind="class", summary="The protocol was violated."),
        ModuleSymbol(name="Cookies", kind="class", summary="HTTP Cookies, as a mutable mapping."),
        ModuleSymbol(name="build", kind="function"),
    ),
    count=5,
)


def test_registered_and_rendered_with_the_symbols_and_their_summaries() -> None:
    assert task_named("propose_queries").name == "propose_queries"
    text = TASK.render(INPUT)
    assert text.splitlines()[:3] == [
        "Module: httpx._client",
        "Symbols:",
        "  class Client: An HTTP client, with connection pooling, HTTP/2.",
    ]
    assert "  def build" in text and text.endswith("Topics wanted: 5")


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"queries": [{"topic": "How is a request sent?", "seeds": ["Nope"]}]}, "not symbols of the module"),
        ({"queries": [{"topic": "How is a request sent?", "seeds": ["send"]},
                      {"topic": "how is a REQUEST sent", "seeds": ["Client"]}]}, "repeats an earlier topic"),
        ({"queries": [{"topic": f"How is topic {n} handled?", "seeds": ["send"]} for n in range(6)]}, "at most 5"),
    ],
)
def test_invalid_proposals_are_refused(arguments: dict[str, object], problem: str) -> None:
    with pytest.raises(TaskOutputError, match=problem):
        TASK.parse(ToolCall("propose_queries", arguments), INPUT)


def test_offline_topics_are_distinct_seeded_and_grammatical() -> None:
    proposed = propose_heuristically(INPUT).queries
    topics = [q.topic for q in proposed]
    assert len(proposed) == INPUT.count and len({topic_key(t) for t in topics}) == len(topics)
    assert topics[0] == "How is an HTTP client (Client) built and used?"
    assert "How does send send a request and return the response?" in topics  # joined verbs in the base form
    assert "How is ProtocolError created, and what uses it?" in topics  # "the protocol was violated" is a sentence
    assert all("Cookies http" not in t.lower() for t in topics)  # a summary that is no verb phrase is not used
    TASK.parse(ToolCall("propose_queries", {"queries": [q.model_dump() for q in proposed]}), INPUT)  # valid


@pytest.mark.parametrize(
    ("symbol", "topic"),
    [
        (ModuleSymbol(name="get", kind="function", summary="Sends a GET request."), "How does get send a GET request?"),
        (ModuleSymbol(name="match", kind="function", summary="Matches a route."), "How does match match a route?"),
        (ModuleSymbol(name="apply", kind="function", summary="Applies the discounts."),
         "How does apply apply the discounts?"),
        (ModuleSymbol(name="Frame", kind="class", summary="Holds compile time information."),
         "How does Frame hold compile time information?"),
        (ModuleSymbol(name="Err", kind="class", summary="A connection error occurred."),
         "How is Err created, and what uses it?"),
        (ModuleSymbol(name="helper", kind="function", summary=""), "What does helper call, and who calls it?"),
    ],
)
def test_offline_topic_templates(symbol: ModuleSymbol, topic: str) -> None:
    assert topic_for(symbol) == topic


async def test_any_backend_answers_it() -> None:
    async with interpret(HeuristicModel()):
        answer = await perform(Ask(TASK, INPUT))
    assert answer.queries[0].seeds == ["Client"]


# Inversion: a topic comes back grammatical or not at all.
_PARTICIPLE_SWAP = re.compile(r"\b(?:is|are|was|were|its \w+) (?:write|render|close|stop|encode|export)\b", re.I)


@pytest.mark.parametrize(
    ("topic", "inverted"),
    [
        ("how a request is built, sent and its response read", "how a response is built, sent and its response read"),
        ("How to read a file", "How to write a file"),
        ("an async handler", "a sync handler"),
        ("How are orders read from disk?", None),
        ("Open connections are pooled", None),
        ("the lock is held", None),
        ("a single order", None),
    ],
)
def test_inversion_is_grammatical_or_none(topic: str, inverted: str | None) -> None:
    assert invert_topic_heuristically(topic) == inverted


def _sample_topics() -> list[str]:
    lines = (SAMPLE_REPO.parent / "sample_queries.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["topic"] for line in lines if line.strip()]


def _generated_topics() -> list[str]:
    summaries = ["Reads the response body.", "Opens a connection.", "Closes the stream.", "Returns the lock.",
                 "Encodes the request.", "A blocking read of the socket.", "The import hook.", "Starts the server."]
    symbols = tuple(ModuleSymbol(name=f"f{i}", kind="function", summary=s) for i, s in enumerate(summaries))
    return [q.topic for q in propose_heuristically(ProposeQueriesInput(module="m", symbols=symbols, count=8)).queries]


@pytest.mark.parametrize("topic", _sample_topics() + _generated_topics())
def test_inverted_sample_and_generated_topics_keep_verb_forms(topic: str) -> None:
    inverted = invert_topic_heuristically(topic)
    if inverted is None:
        return
    assert inverted.lower() != topic.lower()
    assert len(inverted.split()) >= len(topic.split())  # one term swapped, nothing dropped
    assert not _PARTICIPLE_SWAP.search(inverted), inverted  # "is write", "its response write": broken
    assert not re.search(r"\ba (?=[aeiou])|\ban (?=[^aeiou\W])", inverted, re.I), inverted  # article agreement
