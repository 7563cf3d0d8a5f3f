"""Turning a cart into a paid order."""

from itertools import count

from .models import Cart, Order, OrderStatus
from .payments import PaymentApproved, PaymentDeclined, PaymentFailed, PaymentGateway, PaymentResult
from .pricing import order_total
from .repository import Repository
from .validation import ensure_valid

_order_ids = count(1000)


class PaymentError(Exception):
    """Raised when the gateway does not approve the charge for an order."""

    def __init__(self, order: Order, result: PaymentResult) -> None:
        super().__init__(describe_payment(result))
        self.order = order
        self.result = result


def _internal_next_order_id() -> int:
    """Return a fresh order id."""
    return next(_order_ids)


def describe_payment(result: PaymentResult) -> str:
    """Return a one-line description of a payment outcome."""
    if isinstance(result, PaymentApproved):
        return f"approved {result.amount} (transaction {result.transaction_id})"
    elif isinstance(result, PaymentDeclined):
        return f"declined {result.amount}: {result.reason}"
    elif isinstance(result, PaymentFailed):
        retry = "will retry" if result.retryable else "giving up"
        return f"failed to charge {result.amount}: {result.error} ({retry})"
    else:
        return f"unknown payment result for {result.amount}"


def place_order(cart: Cart) -> Order:
    """Create a pending order from the cart contents."""
    return Order(
        id=_internal_next_order_id(),
        items=list(cart.items),
        status=OrderStatus.PENDING,
        customer=cart.customer,
        discount=cart.discount,
    )


def checkout(cart: Cart, gateway: PaymentGateway, orders: Repository[Order]) -> Order:
    """Validate the cart, charge the customer and store the resulting order.

    Declined or failed payments leave a cancelled order in the repository and raise PaymentError.
    """
    order = place_order(cart)
    ensure_valid(order)
    result = gateway.charge(order.customer, order_total(order))
    if not isinstance(result, PaymentApproved):
        cancelled = order.with_status(OrderStatus.CANCELLED)
        orders.put(str(cancelled.id), cancelled)
        raise PaymentError(cancelled, result)
    paid = order.with_status(OrderStatus.PAID)
    orders.put(str(paid.id), paid)
    cart.items.clear()
    return paid
