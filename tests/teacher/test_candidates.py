"""The one candidate extractor on Python signatures."""

from __future__ import annotations

import pytest

from teacher.candidates import signature_of, signature_types


@pytest.mark.parametrize(
    ("signature", "inputs", "output"),
    [
        ("def checkout(cart: Cart, orders: Repository[Order]) -> Order", ["Cart", "Repository", "Order"], ["Order"]),
        ("async def f(x: Optional['models.Order'], *a: int, **k: dict[str, Item]) -> list[Money] | None",
         ["models.Order", "Item"], ["Money"]),
        ("def g(a: int, b: str = 'x') -> None", [], []),
        ("def h(cb: Callable[[Event], Awaitable[Result]]) -> T", ["Event", "Result"], ["T"]),
        ("class Order(id: int, items: list[LineItem], status: OrderStatus)", ["LineItem", "OrderStatus"], []),
        ("class Cache(Base, Generic[K, V])", ["Base", "K", "V"], []),
        ("discount: DiscountCode | None = None", [], ["DiscountCode"]),
        ("items: list[LineItem]", [], ["LineItem"]),
        ("T = TypeVar('T')", [], []),
        ("def broken(", [], []),
        ("", [], []),
    ],
)
def test_signature_types(signature: str, inputs: list[str], output: list[str]) -> None:
    assert signature_types(signature) == (inputs, output)


def test_signature_of_takes_the_code_block_of_a_hover() -> None:
    hover = "```python\ndef order_total(order: Order) -> Money\n```\n---\nReturn the total."
    assert signature_of(hover) == "def order_total(order: Order) -> Money"
    assert signature_of(None) == ""
    assert signature_of("plain text\n---\nmore") == "plain text"
