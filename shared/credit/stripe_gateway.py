"""Stripe, wrapped: Checkout Sessions and lookups through `stripe.StripeClient`, and webhook
signatures checked by the library on the raw body.

The SDK is imported inside the functions that use it (it is heavy, and most requests never
need it). What comes back is turned into the plain dataclasses of shared/credit/stripe_events.py at
once: the SDK's StripeObject never leaves this module.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from shared import deadline
from shared.config import ConfigError, StripeSettings
from shared.credit.checkout_requests import CheckoutRequest, CheckoutSession
from shared.credit.errors import (
    PaymentProviderRefused,
    PaymentProviderUnavailable,
    WebhookSignatureInvalid,
)
from shared.credit.provider import PaymentProvider
from shared.credit.stripe_events import (
    PaymentIntentInfo,
    Reversal,
    StripeEvent,
    event_from_json,
    payment_intent_info,
    reversal_facts,
)
from shared.json_body import parse_json

logger = logging.getLogger("ownnumber.stripe")

SIGNATURE_TOLERANCE_SECONDS = 300
# Stripe answers in well under a second; a webhook that waits longer should fail and be retried.
_TIMEOUT_SECONDS = 20


class StripeGateway(PaymentProvider):
    def __init__(self, settings: StripeSettings) -> None:
        self._settings = settings
        self._client: Any = None
        self._lock = threading.Lock()

    def verify_event(self, raw_body: bytes, signature: str | None) -> StripeEvent:
        """The event, if Stripe signed exactly these bytes within the tolerance."""
        import stripe

        try:
            stripe.WebhookSignature.verify_header(
                raw_body.decode("utf-8"),
                signature,
                self._settings.webhook_secret,
                SIGNATURE_TOLERANCE_SECONDS,
            )
        except (stripe.SignatureVerificationError, UnicodeDecodeError):
            raise WebhookSignatureInvalid(
                "The Stripe-Signature header does not match this body, or is too old."
            ) from None
        return event_from_json(parse_json(raw_body))

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        params = {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": request.currency.lower(),
                        "unit_amount": request.amount_minor,
                        "product_data": {"name": request.product_name},
                    },
                    "quantity": 1,
                }
            ],
            "client_reference_id": request.client_reference_id,
            "metadata": dict(request.metadata),
            "payment_intent_data": {"metadata": dict(request.metadata)},
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
        }
        session = self._call(
            lambda client: client.v1.checkout.sessions.create(
                params=params, options={"idempotency_key": request.idempotency_key}
            )
        )
        if session is None or not session.url:
            raise PaymentProviderRefused("Stripe did not return a Checkout Session with a URL.")
        return CheckoutSession(id=session.id, url=session.url)

    def payment_intent(self, payment_intent_id: str) -> PaymentIntentInfo | None:
        intent = self._call(
            lambda client: client.v1.payment_intents.retrieve(
                payment_intent_id, params={"expand": ["latest_charge"]}
            ),
            missing_ok=True,
        )
        return payment_intent_info(intent.to_dict()) if intent is not None else None

    def refunds_of_charge(self, charge_id: str) -> list[Reversal]:
        page = self._call(
            lambda client: client.v1.refunds.list(params={"charge": charge_id, "limit": 100}),
            missing_ok=True,
        )
        if page is None:
            return []
        facts = (reversal_facts(refund.to_dict()) for refund in page.data)
        return [fact for fact in facts if fact is not None]

    def _stripe(self) -> Any:
        with self._lock:
            if self._client is None:
                import stripe

                # The SDK logs two INFO lines per request (method and URL); our own log
                # lines say what matters, at the level it matters.
                logging.getLogger("stripe").setLevel(logging.WARNING)
                base = self._settings.api_base_url
                self._client = stripe.StripeClient(
                    api_key=self._settings.secret_key,
                    base_addresses={"api": base} if base else None,
                    max_network_retries=2,
                    http_client=stripe.RequestsClient(
                        timeout=_TIMEOUT_SECONDS, session=_deadline_session()
                    ),
                )
            return self._client

    def _call(self, action: Any, *, missing_ok: bool = False) -> Any:
        """Runs one SDK call; Stripe's errors become ours."""
        import stripe

        try:
            return action(self._stripe())
        except (stripe.AuthenticationError, stripe.PermissionError):
            raise ConfigError("Stripe refused the key in STRIPE_SECRET_KEY.") from None
        except stripe.InvalidRequestError as error:
            if missing_ok and error.http_status == 404:
                return None
            logger.warning("Stripe refused a request: %s", error.user_message or error)
            raise PaymentProviderRefused("Stripe refused the request.") from None
        except stripe.IdempotencyError:
            raise PaymentProviderRefused(
                "Stripe refused the request: its idempotency key was used for another one."
            ) from None
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as error:
            raise PaymentProviderUnavailable(
                f"Stripe is unavailable: {type(error).__name__}"
            ) from None
        except stripe.StripeError as error:
            logger.warning("Stripe failed: %r", error)
            raise PaymentProviderUnavailable(f"Stripe failed: {type(error).__name__}") from None


def _deadline_session() -> Any:
    """A requests session whose every request waits no longer than the request being served
    has left (shared.deadline), so that a Stripe that stops answering makes a webhook answer
    503 within its deadline, not after the SDK's time-out three times over (20 s each: the
    first try and two retries). Once the budget is spent it refuses to start a request, with
    an error the SDK does not retry."""
    import requests

    class DeadlineSession(requests.Session):
        def request(self, *args: Any, **kwargs: Any) -> Any:
            left = deadline.remaining()
            if left is not None:
                if left <= 0:
                    raise deadline.DeadlinePassed("The request ran out of time for Stripe.")
                given = kwargs.get("timeout")
                if isinstance(given, tuple):  # (connect, read)
                    kwargs["timeout"] = tuple(min(float(part), left) for part in given)
                else:
                    kwargs["timeout"] = left if given is None else min(float(given), left)
            return super().request(*args, **kwargs)

    return DeadlineSession()
