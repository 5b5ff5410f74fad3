"""The port to Stripe: what the payments service asks of it (the two ways asking fails,
PaymentProviderUnavailable and PaymentProviderRefused, are in credit.errors)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from shared.credit.checkout_requests import CheckoutRequest, CheckoutSession
from shared.credit.stripe_events import PaymentIntentInfo, Reversal


class PaymentProvider(ABC):
    """What Payments needs from Stripe; shared/credit/stripe_gateway.py is the real one."""

    @abstractmethod
    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession: ...

    @abstractmethod
    def payment_intent(self, payment_intent_id: str) -> PaymentIntentInfo | None:
        """None when Stripe does not know the id."""

    @abstractmethod
    def refunds_of_charge(self, charge_id: str) -> list[Reversal]: ...
