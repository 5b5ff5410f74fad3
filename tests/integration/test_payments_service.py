"""The payments service against a real Azurite, with Stripe's API played by a stand-in that
fails on demand: what the webhook does when asking Stripe goes wrong; what any mix of refunds
and disputes takes back, in any order, duplicated and concurrent; and events with figures
Stripe never sends."""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings

from local_host.sandbox.stripe_signing import build_event
from shared.config import ConfigError, CreditPack
from shared.credit.checkout_requests import CheckoutRequest, CheckoutSession
from shared.credit.errors import PaymentProviderRefused, PaymentProviderUnavailable
from shared.credit.outcome import Outcome
from shared.credit.payment_records import payment_from_row
from shared.credit.payments import Payments
from shared.credit.provider import PaymentProvider
from shared.credit.stripe_events import (
    Card,
    EventFieldInvalid,
    PaymentIntentInfo,
    Purchase,
    Reversal,
    event_from_json,
)
from shared.money.ledger import EntryKind, Ledger
from shared.storage.keys import BALANCE_KEY, PAYMENT_OWNER_KEY, PROFILE_KEY, payment_key
from shared.storage.rows import Insert
from shared.storage.table_store import Table, TableStore
from tests.stripe_returns import Returns, dispute_event, refund_event, returns, stripe_event


class Stripe(PaymentProvider):
    """Answers PaymentIntent lookups with the test card (and the purchase its metadata names,
    for those in `purchases`), or fails with `error`."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.lookups = 0
        self.purchases: dict[str, Purchase] = {}

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        raise AssertionError("not used")

    def payment_intent(self, payment_intent_id: str) -> PaymentIntentInfo | None:
        self.lookups += 1
        if self.error is not None:
            raise self.error
        purchase = self.purchases.get(payment_intent_id)
        return PaymentIntentInfo(purchase, "ch_1", Card("visa", "4242"))

    def refunds_of_charge(self, charge_id: str) -> list[Reversal]:
        return []


PACK_5 = CreditPack("5", 5_000_000, 5_000_000)
PACK_12_13 = CreditPack("12", 12_000_000, 13_000_000)


def payments(
    accounts: Table, owners: Table, stripe: Stripe, packs: tuple[CreditPack, ...] = (PACK_5,)
) -> Payments:
    return Payments(Ledger(accounts), accounts, owners, stripe, packs, "USD", "http://localhost")


def completion(
    user_id: str, pi: str, pack: str = "5", amount: int = 500, credit: int = 5_000_000
) -> dict:
    return build_event(
        "checkout.session.completed",
        {
            "id": "cs_test_" + uuid.uuid4().hex,
            "amount_total": amount,
            "currency": "usd",
            "client_reference_id": user_id,
            "metadata": {"user_id": user_id, "pack": pack, "credit_micros": str(credit)},
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


# --- refunds and disputes: what any mix of them takes back ----------------------------------


@pytest.fixture(scope="module")
def tables(table_store: TableStore) -> tuple[Table, Table]:
    """Accounts and owners tables shared by a property's examples (each its own user)."""
    return (
        table_store.table("t" + uuid.uuid4().hex[:20]),
        table_store.table("t" + uuid.uuid4().hex[:20]),
    )


def new_user(accounts: Table) -> str:
    user = "u" + uuid.uuid4().hex
    accounts.commit(user, [Insert(PROFILE_KEY, {"email_hash": "x"})])
    return user


def payment_entries(service: Payments, user: str, pi: str) -> dict[str, int]:
    return {
        entry.entry_id: entry.amount_micros
        for entry in service.ledger.all_entries(user)
        if entry.details.get("payment_intent") == pi
    }


def assert_balance_is_the_sum_of_entries(service: Payments, user: str) -> int:
    micros = service.ledger.balance(user).micros
    assert micros == sum(entry.amount_micros for entry in service.ledger.all_entries(user))
    return micros


@settings(max_examples=25, deadline=None)
@given(case=returns(max_paid=5_000))
def test_any_mix_of_refunds_and_disputes_in_any_order_takes_back_exactly_its_share(
    tables: tuple[Table, Table], case: Returns
) -> None:
    accounts, owners = tables
    user, pi, stripe = new_user(accounts), "pi_" + uuid.uuid4().hex, Stripe()
    # The PaymentIntent's metadata, for refunds and disputes that arrive before the credit.
    stripe.purchases[pi] = Purchase(user, "p", case.credit_micros, case.paid_minor, "USD")
    pack = CreditPack("p", case.paid_minor * 10_000, case.credit_micros)
    service = payments(accounts, owners, stripe, (pack,))
    paid = completion(user, pi, "p", case.paid_minor, case.credit_micros)
    for delivery in case.deliveries:
        service.apply(event_from_json(stripe_event(pi, delivery, paid)))

    entries = payment_entries(service, user, pi)
    assert entries.pop(pi) == case.credit_micros
    assert -sum(entries.values()) == case.exact_micros
    record = payment_from_row(accounts.get(user, payment_key(pi)))
    assert record.taken_micros == case.exact_micros
    left = assert_balance_is_the_sum_of_entries(service, user)
    assert left == case.credit_micros - case.exact_micros
    if case.returned_minor >= case.paid_minor:
        assert left == 0


def whole_payment_returned(user: str, pi: str) -> list[dict]:
    """12.00 for 13.00 of credit: 4.00 refunded, the 8.00 left charged back and lost."""
    return [
        completion(user, pi, "12", 1200, 13_000_000),
        refund_event(pi, "re_" + uuid.uuid4().hex, 400),
        dispute_event(pi, 800, "needs_response"),
        dispute_event(pi, 800, "lost", "charge.dispute.closed"),
    ]


def test_a_refund_and_a_lost_dispute_of_the_whole_payment_leave_nothing_of_its_credit(
    tables: tuple[Table, Table],
) -> None:
    accounts, owners = tables
    user, pi = new_user(accounts), "pi_" + uuid.uuid4().hex
    service = payments(accounts, owners, Stripe(), (PACK_12_13,))
    events = whole_payment_returned(user, pi)
    assert [service.apply(event_from_json(e)) for e in events] == [
        *[Outcome.APPLIED] * 3,
        Outcome.RECORDED,  # the close: the debit stays, the hold goes
    ]
    assert sorted(payment_entries(service, user, pi).values()) == [
        -8_666_667,
        -4_333_333,
        13_000_000,
    ]
    assert assert_balance_is_the_sum_of_entries(service, user) == 0
    for event in events:  # redelivered after the state moved on: never recomputed
        assert service.apply(event_from_json(event)) is Outcome.ALREADY_APPLIED


def test_the_12_13_mix_delivered_three_times_from_two_instances_at_once_leaves_nothing(
    tables: tuple[Table, Table],
) -> None:
    """Two app instances (each its own ledger, so no shared lock: only ETags keep them
    apart), eight threads, every event three times, shuffled."""
    accounts, owners = tables
    user, pi = new_user(accounts), "pi_" + uuid.uuid4().hex
    stripe = Stripe()
    stripe.purchases[pi] = Purchase(user, "12", 13_000_000, 1200, "USD")
    instances = [payments(accounts, owners, stripe, (PACK_12_13,)) for _ in range(2)]
    deliveries = whole_payment_returned(user, pi) * 3
    random.Random(1213).shuffle(deliveries)
    start = threading.Barrier(8)

    def deliver(n: int) -> list[Outcome]:
        start.wait()
        service = instances[n % 2]
        return [service.apply(event_from_json(e)) for e in deliveries[n::8]]

    with ThreadPoolExecutor(8) as pool:
        outcomes = [o for batch in pool.map(deliver, range(8)) for o in batch]
    # The credit, the refund, the dispute's debit (posted by whichever of its events is first).
    assert outcomes.count(Outcome.APPLIED) == 3
    entries = payment_entries(instances[0], user, pi)
    assert len(entries) == 3
    assert sum(entries.values()) == 0
    assert assert_balance_is_the_sum_of_entries(instances[0], user) == 0
    assert instances[0].ledger.balance(user).flags == frozenset()


# --- figures Stripe never sends ---------------------------------------------------------------


@pytest.fixture
def error_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.ERROR, logger="ownnumber.payments"):
        yield caplog


def test_a_completion_with_an_impossible_amount_is_refused_logged_and_writes_nothing(
    fresh_table: Table, owners: Table, user_id: str, error_log: pytest.LogCaptureFixture
) -> None:
    service, pi = payments(fresh_table, owners, Stripe()), "pi_" + uuid.uuid4().hex
    event = completion(user_id, pi)
    event["data"]["object"]["amount_total"] = 10**30
    with pytest.raises(EventFieldInvalid):
        service.apply(event_from_json(event))
    [line] = [r for r in error_log.records if r.levelno == logging.ERROR]
    assert event["id"] in line.getMessage()
    assert "amount_total" in line.getMessage()
    assert user_id not in line.getMessage()
    assert fresh_table.get(user_id, BALANCE_KEY) is None
    assert fresh_table.get(user_id, payment_key(pi)) is None
    assert owners.get(pi, PAYMENT_OWNER_KEY) is None


def test_a_completion_whose_credit_is_not_its_packs_is_refused_and_logged(
    fresh_table: Table, owners: Table, user_id: str, error_log: pytest.LogCaptureFixture
) -> None:
    service, pi = payments(fresh_table, owners, Stripe()), "pi_" + uuid.uuid4().hex
    event = completion(user_id, pi, credit=5_000_000_000)
    with pytest.raises(EventFieldInvalid, match="pack"):
        service.apply(event_from_json(event))
    [line] = [r.getMessage() for r in error_log.records if r.levelno == logging.ERROR]
    assert event["id"] in line
    assert "metadata.credit_micros" in line
    assert service.ledger.all_entries(user_id) == []


def test_a_refund_before_its_credit_whose_payment_intent_is_impossible_is_refused(
    fresh_table: Table, owners: Table, user_id: str, error_log: pytest.LogCaptureFixture
) -> None:
    """Stripe's own answer about the PaymentIntent is checked like an event."""

    class Absurd(Stripe):
        def payment_intent(self, payment_intent_id: str) -> PaymentIntentInfo | None:
            from shared.credit.stripe_events import payment_intent_info

            return payment_intent_info({"id": payment_intent_id, "amount": 10**30})

    service, pi = payments(fresh_table, owners, Absurd()), "pi_" + uuid.uuid4().hex
    refund = refund_event(pi, "re_" + uuid.uuid4().hex, 100)
    with pytest.raises(EventFieldInvalid):
        service.apply(event_from_json(refund))
    assert refund["id"] in error_log.records[0].getMessage()
    assert service.ledger.all_entries(user_id) == []


# --- what was paid must be what was sold ------------------------------------------------------


def test_a_completion_that_paid_less_is_refused_recorded_and_logged_without_personal_data(
    fresh_table: Table, owners: Table, user_id: str, error_log: pytest.LogCaptureFixture
) -> None:
    stripe = Stripe()
    service, pi = payments(fresh_table, owners, stripe), "pi_" + uuid.uuid4().hex
    event = completion(user_id, pi, amount=400)  # 4.00 for the 5.00 pack: a promotion code
    assert service.apply(event_from_json(event)) is Outcome.REFUSED
    [line] = [r.getMessage() for r in error_log.records if r.levelno == logging.ERROR]
    assert event["id"] in line
    assert "paid 4.00 USD" in line
    assert "sold at 5.00 USD, credited in USD (amount)" in line
    assert pi in line
    assert user_id not in line
    record = payment_from_row(fresh_table.get(user_id, payment_key(pi)))
    assert (record.refused, record.paid, record.credit_micros) == ("amount", True, 0)
    assert (record.amount_minor, record.currency, record.status.value) == (400, "USD", "refused")
    assert owners.get(pi, PAYMENT_OWNER_KEY) is not None  # a refund of it finds the account
    assert service.ledger.all_entries(user_id) == []
    assert stripe.lookups == 0  # no card is asked for: it is not a receipt
    assert service.apply(event_from_json(event)) is Outcome.REFUSED
    assert service.ledger.all_entries(user_id) == []


def test_a_completion_in_another_currency_is_refused_naming_both(
    fresh_table: Table, owners: Table, user_id: str, error_log: pytest.LogCaptureFixture
) -> None:
    service, pi = payments(fresh_table, owners, Stripe()), "pi_" + uuid.uuid4().hex
    event = completion(user_id, pi, amount=500)
    event["data"]["object"]["currency"] = "eur"
    assert service.apply(event_from_json(event)) is Outcome.REFUSED
    [line] = [r.getMessage() for r in error_log.records if r.levelno == logging.ERROR]
    assert "paid 5.00 EUR" in line
    assert "sold at 5.00 USD, credited in USD (currency)" in line
    assert service.ledger.balance(user_id).micros == 0


def test_adaptive_pricing_credits_from_our_currency_never_from_what_the_customer_saw(
    fresh_table: Table, owners: Table, user_id: str
) -> None:
    """Since 2025-03-30 a session keeps our currency and price; what the customer paid in
    theirs is only presentment_details, and refunds come back in ours."""
    service, pi = payments(fresh_table, owners, Stripe()), "pi_" + uuid.uuid4().hex
    event = completion(user_id, pi)
    event["data"]["object"]["presentment_details"] = {
        "presentment_amount": 4790,
        "presentment_currency": "sek",
    }
    assert service.apply(event_from_json(event)) is Outcome.APPLIED
    refund = refund_event(pi, "re_" + uuid.uuid4().hex, 500)
    assert service.apply(event_from_json(refund)) is Outcome.APPLIED
    assert assert_balance_is_the_sum_of_entries(service, user_id) == 0


def test_a_legacy_adaptive_pricing_session_in_the_customers_currency_is_refused(
    fresh_table: Table, owners: Table, user_id: str, error_log: pytest.LogCaptureFixture
) -> None:
    """Created before 2025-03-30: the customer's currency in `currency`, ours only under
    currency_conversion, and the PaymentIntent, charge and refunds in theirs. Not credited
    from an exchange rate."""
    service, pi = payments(fresh_table, owners, Stripe()), "pi_" + uuid.uuid4().hex
    event = completion(user_id, pi, amount=470)
    event["data"]["object"].update(
        currency="eur",
        currency_conversion={
            "amount_subtotal": 500,
            "amount_total": 500,
            "fx_rate": "0.94",
            "source_currency": "usd",
        },
    )
    assert service.apply(event_from_json(event)) is Outcome.REFUSED
    assert "4.70 EUR" in error_log.records[0].getMessage()
    # Its refund, in the customer's currency, takes nothing back and is not retried.
    refund = refund_event(pi, "re_" + uuid.uuid4().hex, 470)
    refund["data"]["object"]["currency"] = "eur"
    assert service.apply(event_from_json(refund)) is Outcome.APPLIED
    assert [e.amount_micros for e in service.ledger.all_entries(user_id)] == [0]
    record = payment_from_row(fresh_table.get(user_id, payment_key(pi)))
    assert record.status.value == "refunded"


def test_a_refund_before_a_completion_that_did_not_pay_the_price_takes_nothing_back(
    fresh_table: Table, owners: Table, user_id: str
) -> None:
    """The PaymentIntent (asked of Stripe, the completion not yet seen) paid 4.00 for the
    5.00 pack: it will be refused, so what goes back of it takes back no credit."""
    stripe, pi = Stripe(), "pi_" + uuid.uuid4().hex
    stripe.purchases[pi] = Purchase(user_id, "5", 5_000_000, 400, "USD")
    service = payments(fresh_table, owners, stripe)
    refund = refund_event(pi, "re_" + uuid.uuid4().hex, 400)
    assert service.apply(event_from_json(refund)) is Outcome.APPLIED
    assert payment_from_row(fresh_table.get(user_id, payment_key(pi))).refused == "amount"
    assert service.apply(event_from_json(completion(user_id, pi, amount=400))) is Outcome.REFUSED
    assert [e.amount_micros for e in service.ledger.all_entries(user_id)] == [0]
    assert assert_balance_is_the_sum_of_entries(service, user_id) == 0


def test_a_chargeback_of_a_refused_payment_holds_the_account_but_takes_no_credit(
    fresh_table: Table, owners: Table, user_id: str
) -> None:
    service, pi = payments(fresh_table, owners, Stripe()), "pi_" + uuid.uuid4().hex
    service.ledger.post(user_id, "gift", 2_000_000, EntryKind.ADJUSTMENT)
    assert service.apply(event_from_json(completion(user_id, pi, amount=600))) is Outcome.REFUSED
    service.apply(event_from_json(dispute_event(pi, 600, "needs_response")))
    balance = service.ledger.balance(user_id)
    assert (balance.micros, balance.flags) == (2_000_000, frozenset({"payment_disputed"}))
    service.apply(event_from_json(dispute_event(pi, 600, "lost", "charge.dispute.closed")))
    assert service.ledger.balance(user_id).flags == frozenset()
    assert assert_balance_is_the_sum_of_entries(service, user_id) == 2_000_000


def test_an_unpaid_completion_that_will_not_pay_the_price_is_never_credited(
    fresh_table: Table, owners: Table, user_id: str, error_log: pytest.LogCaptureFixture
) -> None:
    service, pi = payments(fresh_table, owners, Stripe()), "pi_" + uuid.uuid4().hex
    unpaid = completion(user_id, pi, amount=450)
    unpaid["data"]["object"]["payment_status"] = "unpaid"
    assert service.apply(event_from_json(unpaid)) is Outcome.RECORDED
    assert error_log.records == []  # no money yet: a warning, not an error
    record = payment_from_row(fresh_table.get(user_id, payment_key(pi)))
    assert (record.status.value, record.refused, record.credit_micros) == ("pending", "amount", 0)
    succeeded = completion(user_id, pi, amount=450)
    succeeded["type"] = "checkout.session.async_payment_succeeded"
    succeeded["data"]["object"]["id"] = unpaid["data"]["object"]["id"]
    assert service.apply(event_from_json(succeeded)) is Outcome.REFUSED
    assert service.ledger.all_entries(user_id) == []


def test_the_checkout_record_keeps_what_was_sold_whatever_the_event_says(
    fresh_table: Table, owners: Table, user_id: str
) -> None:
    service, pi = payments(fresh_table, owners, Stripe()), "pi_" + uuid.uuid4().hex
    event = completion(user_id, pi, amount=120000)
    event["data"]["object"]["currency"] = "eur"
    session_id = event["data"]["object"]["id"]
    assert service.apply(event_from_json(event)) is Outcome.REFUSED
    view = service.checkout(user_id, session_id)  # no row from /api/checkout: the pack's
    assert (view.checkout.amount_minor, view.checkout.currency) == (500, "USD")
    assert (view.checkout.credit_micros, view.checkout.payment_intent_id) == (5_000_000, pi)
    assert view.status == "refused"


def test_a_refusal_after_a_refund_took_credit_back_says_the_account_needs_adjusting(
    fresh_table: Table, owners: Table, user_id: str, error_log: pytest.LogCaptureFixture
) -> None:
    """Stripe's PaymentIntent paid the price, its completion says otherwise (they never
    disagree on a real account): the refund that came first stays, and the error says so."""
    stripe, pi = Stripe(), "pi_" + uuid.uuid4().hex
    stripe.purchases[pi] = Purchase(user_id, "5", 5_000_000, 500, "USD")
    service = payments(fresh_table, owners, stripe)
    service.apply(event_from_json(refund_event(pi, "re_" + uuid.uuid4().hex, 200)))
    assert service.ledger.balance(user_id).micros == -2_000_000
    assert service.apply(event_from_json(completion(user_id, pi, amount=400))) is Outcome.REFUSED
    lines = [r.getMessage() for r in error_log.records if r.levelno == logging.ERROR]
    assert len(lines) == 2
    assert f"{pi} was refused after its refunds or disputes took back 2000000 micros" in lines[1]
