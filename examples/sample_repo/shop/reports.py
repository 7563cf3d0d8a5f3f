"""Summaries of the orders held in a repository."""

from collections import Counter

from .models import Money, Order, OrderStatus, describe_status
from .pricing import order_total
from .repository import Repository


def revenue(orders: Repository[Order], currency: str = "EUR") -> Money:
    """Return the total value of all paid or shipped orders."""
    total = Money.zero(currency)
    for order in orders.find(_counts_as_revenue):
        total = total + order_total(order)
    return total


def _counts_as_revenue(order: Order) -> bool:
    return order.status in (OrderStatus.PAID, OrderStatus.SHIPPED)


def status_counts(orders: Repository[Order]) -> dict[OrderStatus, int]:
    """Return how many orders are in each status."""
    return dict(Counter(order.status for order in orders.all()))


def order_line(order: Order) -> str:
    """Return a one-line summary of an order."""
    items = sum(item.quantity for item in order.items)
    return f"#{order.id} {order.customer.name}: {items} item(s), {order_total(order)} - {describe_status(order.status)}"


def summarise_orders(orders: Repository[Order]) -> str:
    """Return a multi-line text report of every order plus totals."""
    lines = [order_line(order) for order in orders.all()]
    counts = ", ".join(f"{status.value}={n}" for status, n in status_counts(orders).items())
    lines.append(f"{len(orders)} order(s) [{counts}], revenue {revenue(orders)}")
    return "\n".join(lines)
