"""select_symbols: the user text, the candidate-constrained tool, parsing and bad input."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from converters.functiongemma import ToolCall, parse_calls, render_prompt
from tasks.select_symbols import Candidates, SelectSymbols, SelectSymbolsInput, SelectSymbolsTask
from teacher.task import TaskOutputError, Turn

TASK = SelectSymbolsTask()
INPUT = SelectSymbolsInput(
    topic="How are orders validated before payment?",
    symbol="checkout",
    module="shop.orders",
    package="shop",
    signature="def checkout(cart: Cart, payment: PaymentMethod) -> Order",
    candidates=Candidates(
        inputs=("Cart", "PaymentMethod"), output=("Order",), references=("shop/api.py:40", "tests/test_orders.py:12")
    ),
)


def test_user_text_lays_out_every_group() -> None:
    assert TASK.render(INPUT) == (
        "Topic: How are orders validated before payment?\n"
        "Symbol: checkout\n"
        "Module: shop.orders\n"
        "Package: shop\n"
        "Signature: def checkout(cart: Cart, payment: PaymentMethod) -> Order\n"
        "\n"
        "Candidates:\n"
        "  Fields: (none)\n"
        "  Methods: (none)\n"
        "  Bases: (none)\n"
        "  Inputs: Cart, PaymentMethod\n"
        "  Output: Order\n"
        "  Calls: (none)\n"
        "  References: shop/api.py:40, tests/test_orders.py:12"
    )


def test_more_than_twenty_references_become_a_hub_marker_and_are_not_offered() -> None:
    many = tuple(f"m.py:{n}" for n in range(1, 22))
    hub = INPUT.model_copy(update={"candidates": Candidates(inputs=("Cart",), references=many)})
    assert "  References: (hub: 21 references)" in TASK.render(hub)
    assert hub.candidates.names() == ["Cart"]
    counted = Candidates(inputs=("Cart",), references=many[:20], reference_count=57)
    assert counted.is_hub and counted.total_references == 57
    exactly = Candidates(references=many[:20])
    assert not exactly.is_hub and len(exactly.names()) == 20


def test_tool_schema_constrains_items_to_the_candidates() -> None:
    [tool] = TASK.tools(INPUT)
    items = tool.parameters()["properties"]["selected"]["items"]
    assert items["enum"] == ["Cart", "PaymentMethod", "Order", "shop/api.py:40", "tests/test_orders.py:12"]
    assert "enum:[<escape>Cart<escape>,<escape>PaymentMethod<escape>" in tool.declaration()
    empty = INPUT.model_copy(update={"candidates": Candidates()})
    assert TASK.tools(empty)[0].parameters()["properties"]["selected"]["maxItems"] == 0


def test_valid_answers_parse() -> None:
    assert TASK.parse(ToolCall("select_symbols", {"selected": ["Cart", "Order"]}), INPUT) == SelectSymbols(
        selected=["Cart", "Order"]
    )
    assert TASK.parse(ToolCall("select_symbols", {"selected": []}), INPUT).selected == []


@pytest.mark.parametrize(
    ("selected", "message"),
    [(["Cart", "Invoice"], "'Invoice' is not one of the allowed choices"), (["Cart", "Cart"], "selected twice")],
)
def test_a_non_candidate_or_repeat_is_a_typed_error_carrying_the_answer(selected: list[str], message: str) -> None:
    call = ToolCall("select_symbols", {"selected": selected})
    with pytest.raises(TaskOutputError, match=message) as caught:
        TASK.parse(call, INPUT)
    assert caught.value.call == call


@pytest.mark.parametrize(
    ("candidates", "field"),
    [({"inputs": ["Cart", "Cart"]}, "candidates.inputs"), ({"fields": ["id", " "]}, "candidates.fields")],
)
def test_bad_candidate_lists_name_the_field(candidates: dict[str, list[str]], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SelectSymbolsInput(topic="t", symbol="s", candidates=candidates)  # type: ignore[arg-type]
    assert field in str(caught.value)


def test_examples_round_trip_through_the_codec() -> None:
    turn = Turn(task="select_symbols", input=INPUT, calls=(ToolCall("select_symbols", {"selected": ["Order"]}),))
    [example] = TASK.to_examples(turn)
    messages = example.model_dump(exclude_none=True)["messages"]
    prompt = render_prompt(messages[:-1], example.tools)
    full = render_prompt(messages, example.tools, add_generation_prompt=False)
    [call] = parse_calls(full[len(prompt) :])
    assert TASK.parse(call, INPUT).selected == ["Order"]
    assert TASK.render(INPUT) in prompt
