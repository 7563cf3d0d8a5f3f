"""The payment gateway protocol and the results a charge can produce."""

from dataclasses import dataclass
from typing import Protocol

from .models import Customer, Money


@dataclass(frozen=True)
class PaymentResult:
    """Base class for the outcome of a charge attempt."""

    amount: Money


@dataclass(frozen=True)
class PaymentApproved(PaymentResult):
    """The charge went through."""

    transaction_id: str


@dataclass(frozen=True)
class PaymentDeclined(PaymentResult):
    """The payment provider refused the charge."""

    reason: str


@dataclass(frozen=True)
class PaymentFailed(PaymentResult):
    """The charge could not be attempted, e.g. the provider was unreachable."""

    error: str
    retryable: bool = True


class PaymentGateway(Protocol):
    """Anything that can charge a customer."""

    def charge(self, customer: Customer, amount: Money) -> PaymentResult:
        """Charge amount to customer and report the outcome."""
        ...
