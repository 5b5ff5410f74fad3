"""The payments service's own errors, in a module that imports nothing: the HTTP edge maps
them to status codes without loading the ledger, the table store or any SDK.

The errors of the Stripe port stay with the port (credit.provider), those of a checkout
request with the request (credit.checkout_requests).
"""

from __future__ import annotations


class AccountBusy(Exception):
    """The account's payment rows changed under every attempt; the caller should retry."""


class PaymentInconsistent(Exception):
    """Stripe's account of a payment contradicts our record of it (a refund in another
    currency, say): never ignored, answered 5xx so that Stripe retries and someone notices."""
