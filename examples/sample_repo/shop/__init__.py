"""A tiny online-shop domain: carts, orders, pricing, validation, payments and reports."""

from .checkout import PaymentError, checkout, describe_payment, place_order
from .gateways import CardGateway, FakeGateway
from .models import Cart, Customer, DiscountCode, LineItem, Money, Order, OrderStatus, describe_status, next_status
from .payments import PaymentApproved, PaymentDeclined, PaymentFailed, PaymentGateway, PaymentResult
from .pricing import apply_discount, order_total
from .reports import summarise_orders
from .repository import Repository
from .validation import ValidationError, validate_order

__all__ = [
    "CardGateway",
    "Cart",
    "Customer",
    "DiscountCode",
    "FakeGateway",
    "LineItem",
    "Money",
    "Order",
    "OrderStatus",
    "PaymentApproved",
    "PaymentDeclined",
    "PaymentError",
    "PaymentFailed",
    "PaymentGateway",
    "PaymentResult",
    "Repository",
    "ValidationError",
    "apply_discount",
    "checkout",
    "describe_payment",
    "describe_status",
    "next_status",
    "order_total",
    "place_order",
    "summarise_orders",
    "validate_order",
]
