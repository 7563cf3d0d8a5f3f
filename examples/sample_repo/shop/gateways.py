"""Concrete PaymentGateway implementations: a fake for demos and a limit-checking card gateway."""

from itertools import count

from .models import Customer, Money
from .payments import PaymentApproved, PaymentDeclined, PaymentFailed, PaymentResult


class FakeGateway:
    """A gateway that approves every charge and records what it charged."""

    def __init__(self) -> None:
        self.charges: list[tuple[Customer, Money]] = []
        self._ids = count(1)

    def charge(self, customer: Customer, amount: Money) -> PaymentResult:
        """Approve the charge and remember it."""
        self.charges.append((customer, amount))
        return PaymentApproved(amount, transaction_id=f"fake-{next(self._ids):04d}")


class CardGateway:
    """A gateway that declines charges above a per-customer limit and rejects blocked countries."""

    def __init__(self, limit: Money, blocked_countries: set[str] | None = None, online: bool = True) -> None:
        self.limit = limit
        self.blocked_countries = blocked_countries or set()
        self.online = online

    def charge(self, customer: Customer, amount: Money) -> PaymentResult:
        """Charge the customer's card if the amount and country are acceptable."""
        if not self.online:
            return PaymentFailed(amount, error="card network unreachable")
        if customer.country in self.blocked_countries:
            return PaymentDeclined(amount, reason=f"country {customer.country} not supported")
        if amount.amount_cents > self.limit.amount_cents:
            return PaymentDeclined(amount, reason=f"amount exceeds limit of {self.limit}")
        return PaymentApproved(amount, transaction_id=_transaction_id(customer, amount))


def _transaction_id(customer: Customer, amount: Money) -> str:
    return f"card-{customer.id}-{amount.amount_cents}"
