"""What happens to a payment in the payments sandbox, told to the app as Stripe tells it.

An action (pay, pay_async, async_succeeded, async_failed, refund, refund_failed, dispute,
dispute_won, dispute_lost) changes the objects Stripe keeps (stripe_api) and makes the events
Stripe sends for it, in its order (charge.succeeded and payment_intent.* included, which the
app ignores); charges do not list their refunds (API 2022-11-15 on). The card is always the
test card: visa, last four 4242. `send` delivers the events signed with STRIPE_WEBHOOK_SECRET
to {PUBLIC_BASE_URL}/api/stripe/webhook exactly as Stripe does (stripe_signing), and retries
those the app does not accept, later and off the request's thread, as Stripe does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from local_host.sandbox.stripe_api import StripeObjects, public_fields
from local_host.sandbox.stripe_signing import build_event, deliver, stripe_id
from shared.config import Settings

logger = logging.getLogger("local_host.stripe")

_RETRY_DELAYS_SECONDS = (1.0, 2.0, 4.0)
ACTION_KINDS = (
    "pay",
    "pay_async",
    "async_succeeded",
    "async_failed",
    "refund",
    "refund_failed",
    "dispute",
    "dispute_won",
    "dispute_lost",
)


class ActionRefused(Exception):
    """A sandbox action that does not fit the payment's state (paying twice, say)."""


class StripeSimulator:
    """The actions on a payment, and the delivery of the events they make."""

    def __init__(self, settings: Settings, objects: StripeObjects) -> None:
        self._webhook_secret = settings.stripe.webhook_secret
        self._public = settings.public_base_url
        self.objects = objects

    def act(self, kind: str, session: dict[str, Any], amount: int | None) -> list[dict[str, Any]]:
        """Does `kind` to the session's payment (amount: minor units, None for all that is
        left); the events Stripe sends for it, not sent yet. ActionRefused if it does not fit."""
        with self.objects.lock:
            if kind in ("pay", "pay_async"):
                return self._pay(session, settled=kind == "pay")
            intent = self.objects.intents.get(session.get("payment_intent") or "")
            if intent is None:
                raise ActionRefused("This Checkout Session has not been paid.")
            charge = self.objects.charges[intent["latest_charge"]]
            if kind in ("async_succeeded", "async_failed"):
                return self._settle(session, intent, charge, kind == "async_succeeded")
            if charge["status"] != "succeeded":
                raise ActionRefused("This payment has not succeeded.")
            if kind == "refund":
                return self._refund(charge, amount)
            if kind == "refund_failed":
                return self._fail_refund(charge)
            if kind == "dispute":
                return self._dispute(charge, amount)
            return self._close_dispute(charge, won=kind == "dispute_won")

    def _pay(self, session: dict[str, Any], settled: bool) -> list[dict[str, Any]]:
        if session["status"] != "open":
            raise ActionRefused("This Checkout Session is already complete.")
        now = int(time.time())
        amount, currency = session["amount_total"], session["currency"]
        intent_id, charge_id = stripe_id("pi_"), stripe_id("ch_")
        method = _CARD if settled else _BANK_TRANSFER
        charge = {
            "id": charge_id,
            "object": "charge",
            "amount": amount,
            "amount_captured": amount if settled else 0,
            "amount_refunded": 0,
            "captured": settled,
            "created": now,
            "currency": currency,
            "disputed": False,
            "livemode": False,
            "metadata": {},
            "paid": settled,
            "payment_intent": intent_id,
            "payment_method_details": method,
            "refunded": False,
            "status": "succeeded" if settled else "pending",
        }
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": amount if settled else 0,
            "created": now,
            "currency": currency,
            "latest_charge": charge_id,
            "livemode": False,
            "metadata": session["_intent_metadata"],
            "status": "succeeded" if settled else "processing",
        }
        self.objects.charges[charge_id], self.objects.intents[intent_id] = charge, intent
        session.update(
            status="complete",
            payment_intent=intent_id,
            payment_status="paid" if settled else "unpaid",
        )
        if not settled:
            return [
                build_event("payment_intent.processing", intent),
                build_event("checkout.session.completed", public_fields(session)),
            ]
        return [
            build_event("charge.succeeded", charge),
            build_event("payment_intent.succeeded", intent),
            build_event("checkout.session.completed", public_fields(session)),
        ]

    def _settle(
        self,
        session: dict[str, Any],
        intent: dict[str, Any],
        charge: dict[str, Any],
        succeeded: bool,
    ) -> list[dict[str, Any]]:
        if intent["status"] != "processing":
            raise ActionRefused("This payment is not waiting for a bank transfer.")
        if not succeeded:
            intent.update(status="requires_payment_method")
            charge.update(status="failed")
            return [
                build_event("charge.failed", charge),
                build_event("payment_intent.payment_failed", intent),
                build_event("checkout.session.async_payment_failed", public_fields(session)),
            ]
        intent.update(status="succeeded", amount_received=intent["amount"])
        charge.update(
            status="succeeded", paid=True, captured=True, amount_captured=charge["amount"]
        )
        session.update(payment_status="paid")
        return [
            build_event("charge.succeeded", charge),
            build_event("payment_intent.succeeded", intent),
            build_event("checkout.session.async_payment_succeeded", public_fields(session)),
        ]

    def _refund(self, charge: dict[str, Any], amount: int | None) -> list[dict[str, Any]]:
        refund = _part_of(charge, amount, "re_", reason="requested_by_customer", status="succeeded")
        refund["object"] = "refund"
        self.objects.refunds[refund["id"]] = refund
        charge["amount_refunded"] += refund["amount"]
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        return [build_event("charge.refunded", charge), build_event("refund.created", refund)]

    def _fail_refund(self, charge: dict[str, Any]) -> list[dict[str, Any]]:
        """The latest succeeded refund fails (a closed bank account, say), as Stripe reports
        it: the refund's status becomes failed and its amount is the charge's again."""
        succeeded = [
            r
            for r in self.objects.refunds.values()  # in the order they were made
            if r["charge"] == charge["id"] and r["status"] == "succeeded"
        ]
        if not succeeded:
            raise ActionRefused("This payment has no succeeded refund to fail.")
        refund = succeeded[-1]
        refund.update(status="failed", failure_reason="lost_or_stolen_card")
        charge["amount_refunded"] -= refund["amount"]
        charge["refunded"] = False
        return [build_event("refund.updated", refund), build_event("refund.failed", refund)]

    def _dispute(self, charge: dict[str, Any], amount: int | None) -> list[dict[str, Any]]:
        if charge["disputed"]:
            raise ActionRefused("This payment is already disputed.")
        dispute = _part_of(
            charge,
            amount,
            "du_",
            reason="fraudulent",
            status="needs_response",
            is_charge_refundable=False,
            livemode=False,
        )
        dispute["object"] = "dispute"
        self.objects.disputes[dispute["id"]] = dispute
        charge["disputed"] = True
        return [
            build_event("charge.dispute.created", dispute),
            build_event("charge.dispute.funds_withdrawn", dispute),
        ]

    def _close_dispute(self, charge: dict[str, Any], won: bool) -> list[dict[str, Any]]:
        dispute = next(
            (d for d in self.objects.disputes.values() if d["charge"] == charge["id"]), None
        )
        if dispute is None or dispute["status"] in ("won", "lost"):
            raise ActionRefused("This payment has no open dispute.")
        dispute["status"] = "won" if won else "lost"
        events = [build_event("charge.dispute.closed", dispute)]
        if won:
            events.append(build_event("charge.dispute.funds_reinstated", dispute))
        return events

    # --- sending events ---------------------------------------------------------------------

    def send(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Delivers each event once now (and again later if the app did not accept it);
        [{"id", "type", "status"}], status None where the app could not be reached."""
        deliveries = []
        for event in events:
            status = self._deliver_once(event)
            if status is None or status >= 300:
                # Stripe retries failed deliveries later; so does the sandbox, off this thread.
                threading.Thread(target=self._redeliver, args=(event,), daemon=True).start()
            deliveries.append({"id": event["id"], "type": event["type"], "status": status})
        return deliveries

    def _deliver_once(self, event: dict[str, Any]) -> int | None:
        try:
            return deliver(self._public, self._webhook_secret, event).status_code
        except OSError as error:
            logger.warning("Could not deliver %s: %s", event["type"], error)
            return None

    def _redeliver(self, event: dict[str, Any]) -> None:
        for delay in _RETRY_DELAYS_SECONDS:
            time.sleep(delay)
            status = self._deliver_once(event)
            if status is not None and status < 300:
                return
        logger.warning("Gave up delivering %s %s", event["type"], event["id"])


_CARD = {
    "type": "card",
    "card": {
        "brand": "visa",
        "country": "US",
        "exp_month": 12,
        "exp_year": 2034,
        "funding": "credit",
        "last4": "4242",
        "network": "visa",
    },
}
_BANK_TRANSFER = {"type": "customer_balance", "customer_balance": {}}


def _part_of(
    charge: Mapping[str, Any], amount: int | None, prefix: str, **fields: Any
) -> dict[str, Any]:
    """A refund or dispute of part of a charge (by default all that was not refunded)."""
    left = charge["amount"] - charge["amount_refunded"]
    amount = left if amount is None else amount
    if amount <= 0 or amount > left:
        raise ActionRefused(f"The amount must be between 1 and {left} (what was not refunded).")
    return {
        "id": stripe_id(prefix),
        "amount": amount,
        "charge": charge["id"],
        "created": int(time.time()),
        "currency": charge["currency"],
        "metadata": {},
        "payment_intent": charge["payment_intent"],
        **fields,
    }
