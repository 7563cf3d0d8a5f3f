"""Core domain types for the shop: money, customers, line items, carts and orders."""

from dataclasses import dataclass, field
from enum import Enum


class OrderStatus(Enum):
    """Lifecycle states an order moves through."""

    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Money:
    """An amount of money in minor units (cents) of a single currency."""

    amount_cents: int
    currency: str = "EUR"

    def __add__(self, other: "Money") -> "Money":
        """Add two amounts of the same currency."""
        _require_same_currency(self, other)
        return Money(self.amount_cents + other.amount_cents, self.currency)

    def __sub__(self, other: "Money") -> "Money":
        """Subtract an amount of the same currency, never going below zero."""
        _require_same_currency(self, other)
        return Money(max(0, self.amount_cents - other.amount_cents), self.currency)

    def times(self, quantity: int) -> "Money":
        """Multiply this amount by a whole quantity."""
        return Money(self.amount_cents * quantity, self.currency)

    @classmethod
    def zero(cls, currency: str = "EUR") -> "Money":
        """Return a zero amount in the given currency."""
        return cls(0, currency)

    def __str__(self) -> str:
        return f"{self.amount_cents / 100:.2f} {self.currency}"


def _require_same_currency(left: Money, right: Money) -> None:
    if left.currency != right.currency:
        raise ValueError(f"currency mismatch: {left.currency} vs {right.currency}")


@dataclass(frozen=True)
class Customer:
    """A person who places orders."""

    id: int
    name: str
    email: str
    country: str = "DE"


@dataclass(frozen=True)
class LineItem:
    """One product line in a cart or order."""

    sku: str
    unit_price: Money
    quantity: int = 1


@dataclass(frozen=True)
class DiscountCode:
    """A promotional code taking a percentage off, optionally above a minimum spend."""

    code: str
    percent_off: int
    minimum: Money | None = None


@dataclass(frozen=True)
class Order:
    """A placed order: immutable once created."""

    id: int
    items: list[LineItem]
    status: OrderStatus
    customer: Customer
    discount: DiscountCode | None = None

    def with_status(self, status: OrderStatus) -> "Order":
        """Return a copy of this order with a different status."""
        return Order(self.id, list(self.items), status, self.customer, self.discount)


@dataclass
class Cart:
    """A customer's mutable shopping cart, turned into an Order at checkout."""

    customer: Customer
    items: list[LineItem] = field(default_factory=list)
    discount: DiscountCode | None = None

    def add(self, sku: str, unit_price: Money, quantity: int = 1) -> None:
        """Add a product line to the cart."""
        self.items.append(LineItem(sku, unit_price, quantity))


def describe_status(status: OrderStatus) -> str:
    """Return a human-readable description of an order status."""
    match status:
        case OrderStatus.PENDING:
            return "awaiting payment"
        case OrderStatus.PAID:
            return "paid, preparing shipment"
        case OrderStatus.SHIPPED:
            return "on its way"
        case OrderStatus.CANCELLED:
            return "cancelled"


def next_status(status: OrderStatus) -> OrderStatus | None:
    """Return the status that normally follows the given one, or None at the end."""
    match status:
        case OrderStatus.PENDING:
            return OrderStatus.PAID
        case OrderStatus.PAID:
            return OrderStatus.SHIPPED
        case OrderStatus.SHIPPED | OrderStatus.CANCELLED:
            return None
