"""Checks an order must pass before it can be paid for."""

from .models import Order, OrderStatus
from .pricing import order_total

MAX_ORDER_CENTS = 5_000_00
MAX_QUANTITY = 99


class ValidationError(Exception):
    """Raised when an order fails validation; carries every problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def validate_order(order: Order) -> list[str]:
    """Return a list of problems with the order; an empty list means it is valid."""
    problems: list[str] = []
    if not order.items:
        problems.append("order has no items")
    if order.status is not OrderStatus.PENDING:
        problems.append(f"order {order.id} is {order.status.value}, expected pending")
    if "@" not in order.customer.email:
        problems.append(f"customer {order.customer.id} has an invalid email")
    for item in order.items:
        if not 0 < item.quantity <= MAX_QUANTITY:
            problems.append(f"{item.sku}: quantity {item.quantity} out of range")
        if item.unit_price.amount_cents < 0:
            problems.append(f"{item.sku}: negative price")
    if order.items and order_total(order).amount_cents > MAX_ORDER_CENTS:
        problems.append(f"order {order.id} exceeds the maximum order value")
    return problems


def ensure_valid(order: Order) -> None:
    """Raise ValidationError if the order has any problems."""
    problems = validate_order(order)
    if problems:
        raise ValidationError(problems)
