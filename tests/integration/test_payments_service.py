"""The payments service against a real Azurite, with Stripe's API played by a stand-in that
fails on demand: what the webhook does when asking Stripe goes wrong."""

from __future__ import annotations

import uuid

import pytest

from local_host.sandbox.stripe_signing import build_event
from shared.checkout_requests import CheckoutRequest, CheckoutSession
from shared.config import ConfigError, CreditPack
from shared.ledger import Ledger
from shared.payment_provider import (
    PaymentProvider,
    PaymentProviderRefused,
    PaymentProviderUnavailable,
)
from shared.payment_records import payment_from_row
from shared.payments import Outcome, Payments
from shared.records import PROFILE_KEY, payment_key
from shared.stripe_events import Card, PaymentIntentInfo, Reversal, event_from_json
from shared.table_store import Insert, Table, TableStore


class Stripe(PaymentProvider):
    """Answers PaymentIntent lookups with the test card, or fails with `error`."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.lookups = 0

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        raise AssertionError("not used")

    def payment_intent(self, payment_intent_id: str) -> PaymentIntentInfo | None:
        self.lookups += 1
        if self.error is not None:
            raise self.error
        return PaymentIntentInfo(None, "ch_1", Card("visa", "4242"))

    def refunds_of_charge(self, charge_id: str) -> list[Reversal]:
        return []


def payments(accounts: Table, owners: Table, stripe: Stripe) -> Payments:
    return Payments(
        Ledger(accounts),
        accounts,
        owners,
        stripe,
        (CreditPack("5", 5_000_000, 5_000_000),),
        "USD",
        "http://localhost",
    )


def completion(user_id: str, pi: str) -> dict:
    return build_event(
        "checkout.session.completed",
        {
            "id": "cs_test_" + uuid.uuid4().hex,
            "amount_total": 500,
            "currency": "usd",
            "client_reference_id": user_id,
            "metadata": {"user_id": user_id, "pack": "5", "credit_micros": "5000000"},
            "mode": "payment",
            "payment_intent": pi,
            "payment_status": "paid",
        },
    )


@pytest.fixture
def owners(table_store: TableStore) -> Table:
    return table_store.table("t" + uuid.uuid4().hex[:20])


@pytest.fixture
def user_id(fresh_table: Table) -> str:
    user = "u" + uuid.uuid4().hex
    fresh_table.commit(user, [Insert(PROFILE_KEY, {"email_hash": "x"})])
    return user


@pytest.mark.parametrize(
    "error",
    [
        PaymentProviderRefused("Stripe refused the request."),
        ConfigError("Stripe refused the key in STRIPE_SECRET_KEY."),
        PaymentProviderUnavailable("Stripe is unavailable"),
    ],
    ids=["refused", "misconfigured", "unavailable"],
)
def test_a_card_lookup_that_fails_never_blocks_the_credit(
    fresh_table: Table, owners: Table, user_id: str, error: Exception
) -> None:
    service = payments(fresh_table, owners, Stripe(error))
    event = event_from_json(completion(user_id, "pi_" + uuid.uuid4().hex))
    assert service.apply(event) is Outcome.APPLIED
    assert service.ledger.balance(user_id).micros == 5_000_000
    assert service.apply(event) is Outcome.ALREADY_APPLIED


def test_the_card_is_asked_for_once_and_kept_for_the_receipt(
    fresh_table: Table, owners: Table, user_id: str
) -> None:
    stripe = Stripe()
    service, pi = payments(fresh_table, owners, stripe), "pi_" + uuid.uuid4().hex
    event = event_from_json(completion(user_id, pi))
    assert service.apply(event) is Outcome.APPLIED
    assert service.apply(event) is Outcome.ALREADY_APPLIED
    assert stripe.lookups == 1
    record = payment_from_row(fresh_table.get(user_id, payment_key(pi)))
    assert (record.card, record.charge_id, record.paid) == (Card("visa", "4242"), "ch_1", True)


def test_a_redelivery_asks_again_for_a_card_the_first_delivery_could_not_get(
    fresh_table: Table, owners: Table, user_id: str
) -> None:
    stripe = Stripe(PaymentProviderUnavailable("Stripe is unavailable"))
    service, pi = payments(fresh_table, owners, stripe), "pi_" + uuid.uuid4().hex
    event = event_from_json(completion(user_id, pi))
    service.apply(event)
    stripe.error = None
    assert service.apply(event) is Outcome.ALREADY_APPLIED
    record = payment_from_row(fresh_table.get(user_id, payment_key(pi)))
    assert record.card == Card("visa", "4242")
    assert stripe.lookups == 2
