"""Pricing rules: line totals, order totals, discounts and shipping."""

from .models import DiscountCode, LineItem, Money, Order

FREE_SHIPPING_THRESHOLD = Money(50_00)
SHIPPING_RATES: dict[str, Money] = {"DE": Money(4_90), "FR": Money(7_90), "US": Money(19_90)}


def _line_total(item: LineItem) -> Money:
    """Return unit price times quantity for one line."""
    return item.unit_price.times(item.quantity)


def subtotal(items: list[LineItem], currency: str = "EUR") -> Money:
    """Return the sum of all line totals."""
    total = Money.zero(currency)
    for item in items:
        total = total + _line_total(item)
    return total


def apply_discount(total: Money, code: DiscountCode) -> Money:
    """Return total reduced by the discount code, if its minimum spend is met."""
    if code.minimum is not None and total.amount_cents < code.minimum.amount_cents:
        return total
    reduction = _internal_percent_of(total.amount_cents, code.percent_off)
    return total - Money(reduction, total.currency)


def shipping_cost(order: Order, subtotal_amount: Money) -> Money:
    """Return the shipping cost for an order, free above the threshold."""
    if subtotal_amount.amount_cents >= FREE_SHIPPING_THRESHOLD.amount_cents:
        return Money.zero(subtotal_amount.currency)
    return SHIPPING_RATES.get(order.customer.country, Money(14_90))


def order_total(order: Order) -> Money:
    """Return what the customer pays for an order: discounted subtotal plus shipping."""
    amount = subtotal(order.items)
    if order.discount is not None:
        amount = apply_discount(amount, order.discount)
    return amount + shipping_cost(order, amount)


def _internal_percent_of(amount_cents: int, percent: int) -> int:
    """Return percent of an amount in cents, rounded half up."""
    return (amount_cents * percent + 50) // 100
