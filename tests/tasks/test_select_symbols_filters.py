"""Degenerate-example filters (each reason), topic leakage, and their counts."""

from __future__ import annotations

import pytest

from tasks.select_symbols import Candidates, SelectSymbolsInput
from tasks.select_symbols.filters import (
    GENERATED_OR_PRIVATE,
    HUB_WITHOUT_INPUTS,
    INPUT_EQUALS_OUTPUT,
    NO_CANDIDATES,
    ONLY_TYPE_VARIABLES,
    SPARSE_REFERENCES,
    FilterStats,
    degenerate_reason,
    topic_leaks,
)


def make(symbol: str = "checkout", topic: str = "order validation", **candidates: object) -> SelectSymbolsInput:
    return SelectSymbolsInput(topic=topic, symbol=symbol, candidates=Candidates(**candidates))  # type: ignore[arg-type]


HUB = tuple(f"a.py:{n}" for n in range(1, 30))


@pytest.mark.parametrize(
    ("example", "reason"),
    [
        (make(), NO_CANDIDATES),
        (make(inputs=("T",), output=("T_co",)), ONLY_TYPE_VARIABLES),
        (make(inputs=("a", "KT"), output=("b",)), ONLY_TYPE_VARIABLES),
        (make(output=("Order",), references=HUB), HUB_WITHOUT_INPUTS),
        (make(output=("Order",), references=("x.py:1",)), SPARSE_REFERENCES),
        (make(fields=("status",)), SPARSE_REFERENCES),
        (make(symbol="_helper", inputs=("Cart",)), GENERATED_OR_PRIVATE),
        (make(symbol="<lambda>", inputs=("Cart",)), GENERATED_OR_PRIVATE),
        (make(symbol="Order.__repr__", inputs=("Cart",)), GENERATED_OR_PRIVATE),
        (make(inputs=("Order",), output=("Order",), references=("a.py:1", "b.py:2")), INPUT_EQUALS_OUTPUT),
    ],
)
def test_degenerate_examples_are_dropped_with_their_reason(example: SelectSymbolsInput, reason: str) -> None:
    assert degenerate_reason(example) == reason


@pytest.mark.parametrize(
    "example",
    [
        make(inputs=("Cart",), output=("Order",)),
        make(inputs=("Cart", "T"), references=HUB),
        make(fields=("status", "items"), references=("a.py:1", "b.py:2")),
        make(inputs=("Order",), output=("Receipt",)),
        make(symbol="Order", inputs=("LineItem",)),
    ],
)
def test_examples_with_signal_are_kept(example: SelectSymbolsInput) -> None:
    assert degenerate_reason(example) is None


def test_topic_leakage_is_flagged_not_dropped() -> None:
    example = make(topic="How is the Order total computed?", inputs=("Cart",), output=("Order",))
    assert topic_leaks(example, ["Order"])
    assert not topic_leaks(example, ["Cart"])
    assert not topic_leaks(make(topic="Ordering of events", inputs=("Order",), output=("X",)), ["Order"])
    assert topic_leaks(make(topic="what does shop.models.order do", inputs=("Cart",)), ["shop.models.Order"])
    stats = FilterStats()
    assert stats.admit(example, ["Order"])
    assert not stats.admit(make(), [])
    assert not stats.admit(make(symbol="_x", inputs=("A1",)), [])
    assert stats.as_dict() == {"kept": 1, "dropped": {GENERATED_OR_PRIVATE: 1, NO_CANDIDATES: 1}, "topic_leaks": 1}
