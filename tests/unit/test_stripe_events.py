"""Stripe's events and objects read without servers: which event asks for what, and what we
take from a Checkout Session, PaymentIntent, charge, refund or dispute."""

from __future__ import annotations

from typing import Any

import pytest

from local_host.sandbox.stripe_signing import build_event
from shared.credit.stripe_events import (
    DISPUTE_CLOSED,
    DISPUTE_INQUIRY,
    DISPUTE_LOST,
    DISPUTE_OPEN,
    DISPUTE_WON,
    MAX_CREDIT_MICROS,
    MAX_MINOR_UNITS,
    ApplyDispute,
    ApplyRefunds,
    Card,
    CreditPurchase,
    EventFieldInvalid,
    Ignore,
    MalformedEvent,
    Purchase,
    RecordPayment,
    StripeEvent,
    card_from_charge,
    event_from_json,
    interpret,
    payment_intent_info,
    purchase_from_metadata,
)

USER = "u0123456789abcdef0123456789abcdef"
METADATA = {"user_id": USER, "pack": "5", "credit_micros": "5000000"}


def event(event_type: str, obj: dict[str, Any]) -> StripeEvent:
    return event_from_json(build_event(event_type, obj))


def session(**changes: Any) -> dict[str, Any]:
    return {
        "id": "cs_test_a1",
        "object": "checkout.session",
        "amount_total": 500,
        "currency": "usd",
        "client_reference_id": USER,
        "metadata": dict(METADATA),
        "mode": "payment",
        "payment_intent": "pi_1",
        "payment_status": "paid",
        **changes,
    }


# --- which event asks for what -------------------------------------------------------------


def test_a_paid_completion_credits_the_purchase_under_its_payment_intent() -> None:
    instruction = interpret(event("checkout.session.completed", session()))
    assert isinstance(instruction, CreditPurchase)
    assert instruction.session.payment_intent == "pi_1"
    assert instruction.session.purchase == Purchase(USER, "5", 5_000_000, 500, "USD")


def test_an_unpaid_completion_waits_and_an_async_success_credits() -> None:
    unpaid = interpret(event("checkout.session.completed", session(payment_status="unpaid")))
    assert isinstance(unpaid, RecordPayment)
    assert not unpaid.failed
    succeeded = interpret(event("checkout.session.async_payment_succeeded", session()))
    assert isinstance(succeeded, CreditPurchase)


def test_an_async_failure_is_recorded() -> None:
    failed = event("checkout.session.async_payment_failed", session(payment_status="unpaid"))
    instruction = interpret(failed)
    assert isinstance(instruction, RecordPayment)
    assert instruction.failed


@pytest.mark.parametrize(
    "changes",
    [
        {"metadata": {}},
        {"metadata": {"user_id": USER, "pack": "5"}},
        {"metadata": {**METADATA, "user_id": "u/../x"}},
        {"client_reference_id": "u" + "f" * 32},
        {"payment_intent": None},
        {"mode": "subscription"},
        {"amount_total": 0},
    ],
    ids=[
        "no metadata",
        "no credit",
        "unkeyable user",
        "users disagree",
        "no payment intent",
        "subscription",
        "nothing paid",
    ],
)
def test_a_session_that_is_not_our_purchase_is_ignored(changes: dict[str, Any]) -> None:
    assert isinstance(interpret(event("checkout.session.completed", session(**changes))), Ignore)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount_total": 10**30}, "amount_total"),
        ({"amount_total": MAX_MINOR_UNITS + 1}, "amount_total"),
        ({"amount_total": -1}, "amount_total"),
        ({"amount_total": 5.0}, "amount_total"),
        ({"amount_total": "500"}, "amount_total"),
        ({"amount_total": True}, "amount_total"),
        ({"metadata": {**METADATA, "credit_micros": str(2**63)}}, "metadata.credit_micros"),
        (
            {"metadata": {**METADATA, "credit_micros": str(MAX_CREDIT_MICROS + 1)}},
            "metadata.credit_micros",
        ),
        ({"metadata": {**METADATA, "credit_micros": "9" * 5000}}, "metadata.credit_micros"),
        ({"metadata": {**METADATA, "credit_micros": "-5"}}, "metadata.credit_micros"),
        ({"metadata": {**METADATA, "credit_micros": "5.5"}}, "metadata.credit_micros"),
        ({"metadata": {**METADATA, "credit_micros": "0"}}, "metadata.credit_micros"),
        ({"metadata": {**METADATA, "credit_micros": "\u0665"}}, "metadata.credit_micros"),
        ({"metadata": {**METADATA, "credit_micros": 5_000_000}}, "metadata.credit_micros"),
        ({"metadata": {**METADATA, "pack": "5" * 21}}, "metadata.pack"),
        ({"metadata": {**METADATA, "pack": "5/../6"}}, "metadata.pack"),
    ],
)
def test_a_session_of_ours_with_a_figure_stripe_never_sends_is_refused(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(EventFieldInvalid) as refused:
        interpret(event("checkout.session.completed", session(**changes)))
    assert refused.value.field == field
    assert str(refused.value).endswith(".")
    assert USER not in str(refused.value)


def test_the_largest_figures_stripe_sends_are_accepted() -> None:
    metadata = {**METADATA, "credit_micros": str(MAX_CREDIT_MICROS)}
    instruction = interpret(
        event(
            "checkout.session.completed",
            session(amount_total=MAX_MINOR_UNITS, metadata=metadata),
        )
    )
    assert isinstance(instruction, CreditPurchase)
    purchase = instruction.session.purchase
    assert (purchase.amount_minor, purchase.credit_micros) == (MAX_MINOR_UNITS, MAX_CREDIT_MICROS)


@pytest.mark.parametrize("amount", [10**30, 2**63, -1, 12.5, "100", False])
@pytest.mark.parametrize(
    "event_type", ["refund.created", "refund.failed", "charge.dispute.created"]
)
def test_a_refund_or_dispute_of_an_impossible_amount_is_refused(
    event_type: str, amount: Any
) -> None:
    obj = {"id": "re_1", "amount": amount, "payment_intent": "pi_1", "status": "succeeded"}
    with pytest.raises(EventFieldInvalid) as refused:
        interpret(event(event_type, obj))
    assert refused.value.field == "amount"


def test_a_refunded_charge_listing_an_impossible_refund_is_refused() -> None:
    refunds = {
        "has_more": False,
        "data": [{"id": "re_1", "amount": 10**30, "payment_intent": "pi_1"}],
    }
    with pytest.raises(EventFieldInvalid):
        interpret(event("charge.refunded", {"id": "ch_1", "refunds": refunds}))


def test_a_payment_intent_of_an_impossible_amount_is_refused() -> None:
    with pytest.raises(EventFieldInvalid):
        payment_intent_info(
            {"id": "pi_1", "amount": 2**63, "currency": "usd", "metadata": METADATA}
        )


def test_a_refund_event_names_its_refund() -> None:
    refund = {
        "id": "re_1",
        "object": "refund",
        "amount": 200,
        "currency": "usd",
        "status": "succeeded",
        "payment_intent": "pi_1",
        "charge": "ch_1",
    }
    instruction = interpret(event("refund.created", refund))
    assert isinstance(instruction, ApplyRefunds)
    [facts] = instruction.refunds or ()
    assert (facts.id, facts.amount_minor, facts.currency, facts.payment_intent) == (
        "re_1",
        200,
        "USD",
        "pi_1",
    )


def test_a_refunded_charge_without_its_refunds_asks_stripe_for_them() -> None:
    charge = {
        "id": "ch_1",
        "object": "charge",
        "amount": 500,
        "amount_refunded": 500,
        "payment_intent": "pi_1",
        "payment_method_details": {"type": "card", "card": {"brand": "visa", "last4": "4242"}},
    }
    instruction = interpret(event("charge.refunded", charge))
    assert isinstance(instruction, ApplyRefunds)
    assert (instruction.charge_id, instruction.refunds) == ("ch_1", None)
    assert instruction.card == Card("visa", "4242")

    listed = {**charge, "refunds": {"object": "list", "has_more": False, "data": []}}
    listed["refunds"]["data"] = [
        {"id": "re_1", "amount": 500, "currency": "usd", "payment_intent": "pi_1"}
    ]
    older = interpret(event("charge.refunded", listed))
    assert isinstance(older, ApplyRefunds)
    assert [r.id for r in older.refunds or ()] == ["re_1"]


@pytest.mark.parametrize(
    ("event_type", "status", "outcome"),
    [
        ("charge.dispute.created", "needs_response", DISPUTE_OPEN),
        ("charge.dispute.created", "under_review", DISPUTE_OPEN),
        ("charge.dispute.created", "warning_needs_response", DISPUTE_INQUIRY),
        ("charge.dispute.created", "warning_under_review", DISPUTE_INQUIRY),
        ("charge.dispute.updated", "warning_under_review", DISPUTE_INQUIRY),
        ("charge.dispute.updated", "needs_response", DISPUTE_OPEN),
        ("charge.dispute.updated", "won", DISPUTE_WON),
        ("charge.dispute.closed", "won", DISPUTE_WON),
        ("charge.dispute.closed", "warning_closed", DISPUTE_WON),
        ("charge.dispute.closed", "prevented", DISPUTE_WON),
        ("charge.dispute.closed", "lost", DISPUTE_LOST),
        ("charge.dispute.closed", "charge_refunded", DISPUTE_CLOSED),
        ("charge.dispute.closed", "needs_response", DISPUTE_CLOSED),
        ("charge.dispute.closed", "some_future_status", DISPUTE_CLOSED),
        ("charge.dispute.closed", "", DISPUTE_CLOSED),
    ],
)
def test_a_dispute_event_says_whether_it_is_open_an_inquiry_kept_lost_or_closed_unknown(
    event_type: str, status: str, outcome: str
) -> None:
    dispute = {
        "id": "du_1",
        "object": "dispute",
        "amount": 500,
        "currency": "usd",
        "status": status,
        "payment_intent": "pi_1",
        "charge": "ch_1",
    }
    instruction = interpret(event(event_type, dispute))
    assert isinstance(instruction, ApplyDispute)
    assert instruction.outcome == outcome


@pytest.mark.parametrize("status", ["won", "lost", "prevented", "charge_refunded", "whatever"])
def test_a_closed_dispute_is_never_open_whatever_its_status(status: str) -> None:
    dispute = {"id": "du_1", "amount": 500, "status": status, "payment_intent": "pi_1"}
    instruction = interpret(event("charge.dispute.closed", dispute))
    assert isinstance(instruction, ApplyDispute)
    assert instruction.outcome not in (DISPUTE_OPEN, DISPUTE_INQUIRY)


@pytest.mark.parametrize(
    "event_type",
    ["customer.created", "charge.succeeded", "charge.dispute.funds_withdrawn", "invoice.paid"],
)
def test_other_events_are_ignored(event_type: str) -> None:
    assert isinstance(interpret(event(event_type, {"id": "x_1"})), Ignore)


@pytest.mark.parametrize(
    "body",
    [[], {"id": "evt_1"}, {"id": "evt_1", "type": "x", "data": {"object": "nope"}}],
)
def test_a_body_that_is_not_an_event_is_refused(body: Any) -> None:
    with pytest.raises(MalformedEvent):
        event_from_json(body)


# --- what we take from a PaymentIntent and its charge ---------------------------------------


def test_only_the_card_brand_and_last_four_digits_are_kept() -> None:
    charge = {
        "payment_method_details": {
            "type": "card",
            "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "fingerprint": "abc"},
        }
    }
    assert card_from_charge(charge) == Card("visa", "4242")
    assert (
        card_from_charge({"payment_method_details": {"card": {"last4": "4242424242424242"}}})
        is None
    )
    assert card_from_charge({"payment_method_details": {"type": "sepa_debit"}}) is None


def test_a_payment_intent_is_read_with_or_without_its_charge_expanded() -> None:
    intent = {"id": "pi_1", "amount": 500, "currency": "usd", "metadata": METADATA}
    expanded = payment_intent_info(
        {
            **intent,
            "latest_charge": {
                "id": "ch_1",
                "payment_method_details": {"card": {"brand": "amex", "last4": "0005"}},
            },
        }
    )
    assert expanded is not None
    assert (expanded.charge_id, expanded.card) == ("ch_1", Card("amex", "0005"))
    assert expanded.purchase == Purchase(USER, "5", 5_000_000, 500, "USD")
    plain = payment_intent_info({**intent, "latest_charge": "ch_1"})
    assert plain is not None
    assert (plain.charge_id, plain.card) == ("ch_1", None)
    foreign = payment_intent_info({**intent, "metadata": {}})
    assert foreign is not None
    assert foreign.purchase is None


def test_a_purchase_is_ours_only_with_a_user_pack_credit_and_amount() -> None:
    assert purchase_from_metadata(METADATA, 500, "USD") == Purchase(
        USER, "5", 5_000_000, 500, "USD"
    )
    assert purchase_from_metadata(METADATA, None, "USD") is None
    assert purchase_from_metadata(METADATA, 500, "usd") is None
    assert purchase_from_metadata(None, 500, "USD") is None


# --- what a session says was paid -------------------------------------------------------------


def test_a_session_paid_in_the_customers_currency_is_read_in_ours() -> None:
    """Adaptive Pricing since 2025-03-30: `currency` and `amount_total` stay ours; what the
    customer saw is presentment_details, which is never what we credit from."""
    shown = {"presentment_amount": 4790, "presentment_currency": "sek"}
    instruction = interpret(event("checkout.session.completed", session(presentment_details=shown)))
    assert isinstance(instruction, CreditPurchase)
    purchase = instruction.session.purchase
    assert (purchase.amount_minor, purchase.currency) == (500, "USD")


def test_a_legacy_converted_session_is_read_as_what_it_says_was_charged() -> None:
    """Created before 2025-03-30: the customer's currency and amount in the session's own
    fields, ours only under currency_conversion, which no credit is taken from."""
    converted = session(
        currency="eur",
        amount_total=470,
        currency_conversion={"amount_total": 500, "source_currency": "usd", "fx_rate": "0.94"},
    )
    instruction = interpret(event("checkout.session.completed", converted))
    assert isinstance(instruction, CreditPurchase)
    purchase = instruction.session.purchase
    assert (purchase.amount_minor, purchase.currency, purchase.refused) == (470, "EUR", "")


def test_a_refused_purchase_grants_no_credit_and_says_why() -> None:
    bought = Purchase(USER, "5", 5_000_000, 400, "USD")
    assert bought.refuse("amount") == Purchase(USER, "5", 0, 400, "USD", "amount")
