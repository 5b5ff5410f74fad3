"""Credit's errors, in a module that imports only shared.errors: the HTTP edge maps them to
status codes without loading the ledger, the table store or any SDK.

The errors of a checkout request stay with the request (credit.checkout_requests), which is
plain data too.
"""

from __future__ import annotations

from shared.errors import InvalidInput


class PaymentProviderUnavailable(Exception):
    """Stripe could not be reached or failed; the caller (or Stripe's redelivery) retries."""


class PaymentProviderRefused(Exception):
    """Stripe refused a request as invalid (a bug or a misconfiguration on our side)."""


class WebhookSignatureInvalid(InvalidInput):
    """The Stripe-Signature header is missing, forged, or older than the tolerance."""


class AccountBusy(Exception):
    """The account's payment rows changed under every attempt; the caller should retry."""


class PaymentInconsistent(Exception):
    """Stripe's account of a payment contradicts our record of it (a refund in another
    currency, say): never ignored, answered 5xx so that Stripe retries and someone notices."""
