"""What refunds and disputes take back, without servers: Stripe's events read by `interpret`,
their entries planned by `refund_returns`/`dispute_returns`, and each entry's amount the
difference it makes to the payment's record (`PaymentRecord.with_return`), as Payments posts
them: each entry id once, in the order its event asks for. And what a purchase must have
paid to be credited at all (credit.sold)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings

from shared.config import CreditPack
from shared.credit.payment_records import CheckoutRecord, PaymentRecord
from shared.credit.sold import Price, RefusalReason, price_sold, refusal
from shared.credit.stripe_events import (
    ApplyDispute,
    ApplyRefunds,
    Purchase,
    Return,
    dispute_returns,
    event_from_json,
    interpret,
    refund_returns,
)
from shared.money.ledger import EntryKind
from shared.money.micros import credit_taken_back
from tests.stripe_returns import Returns, dispute_event, refund_event, returns, stripe_event

USER = "u0123456789abcdef0123456789abcdef"
PI = "pi_1"


@dataclass
class Payment:
    """One payment's ledger entries as Payments posts them, storage left out."""

    purchase: Purchase
    record: PaymentRecord = field(init=False)
    entries: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.record = PaymentRecord(PI).with_purchase(self.purchase)

    def deliver(self, event: dict[str, Any]) -> None:
        instruction = interpret(event_from_json(event))
        if isinstance(instruction, ApplyRefunds):
            steps = [
                step for refund in instruction.refunds or () for step in refund_returns(refund)
            ]
        else:
            assert isinstance(instruction, ApplyDispute)
            steps = list(dispute_returns(instruction.dispute, instruction.outcome))
        for step in steps:
            self._post(step)

    def _post(self, step: Return) -> None:
        assert EntryKind(step.kind)  # every planned kind is one the ledger knows
        if step.entry_id in self.entries:
            return  # a redelivery: already applied, never recomputed
        if step.only_after and step.only_after not in self.entries:
            return
        after = self.record.with_return(step.refunded_minor, step.disputed_minor)
        self.entries[step.entry_id] = self.record.taken_micros - after.taken_micros
        self.record = after

    @property
    def taken(self) -> int:
        return -sum(self.entries.values())


def refund(refund_id: str, amount: int, status: str = "succeeded") -> dict[str, Any]:
    return refund_event(PI, refund_id, amount, status)


def dispute(amount: int, status: str, event_type: str = "charge.dispute.created") -> dict[str, Any]:
    return dispute_event(PI, amount, status, event_type)


def closed(amount: int, status: str) -> dict[str, Any]:
    return dispute_event(PI, amount, status, "charge.dispute.closed")


DU = f"du_{PI}"
PACK_12_13 = Purchase(USER, "12", 13_000_000, 1200, "USD")


def test_a_refund_and_a_lost_dispute_of_the_whole_payment_take_back_exactly_its_credit() -> None:
    """The audit's case: 4.00 refunded, then the 8.00 left charged back and lost."""
    payment = Payment(PACK_12_13)
    for event in (refund("re_1", 400), dispute(800, "needs_response"), closed(800, "lost")):
        payment.deliver(event)
    assert payment.entries == {"re_1": -4_333_333, DU: -8_666_667}
    assert payment.taken == 13_000_000


def test_the_same_money_returned_in_the_other_order_takes_the_same_credit() -> None:
    payment = Payment(PACK_12_13)
    for event in (closed(800, "lost"), refund("re_1", 400), dispute(800, "needs_response")):
        payment.deliver(event)
    assert payment.entries == {DU: -8_666_666, "re_1": -4_333_334}
    assert payment.taken == 13_000_000


def test_a_refund_that_fails_gives_back_what_it_took_and_no_more() -> None:
    payment = Payment(PACK_12_13)
    payment.deliver(refund("re_1", 400))
    payment.deliver(dispute(800, "needs_response"))
    payment.deliver(refund("re_1", 400, "failed"))
    assert payment.entries["re_1:reversed"] == 4_333_334
    assert payment.taken == credit_taken_back(13_000_000, 1200, 800) == 8_666_666


def test_an_inquiry_takes_nothing_even_when_it_closes() -> None:
    payment = Payment(PACK_12_13)
    payment.deliver(dispute(1200, "warning_needs_response"))
    payment.deliver(closed(1200, "warning_closed"))
    assert payment.entries == {}


def test_a_won_dispute_gives_back_exactly_what_it_took() -> None:
    payment = Payment(PACK_12_13)
    payment.deliver(refund("re_1", 100))
    payment.deliver(closed(700, "won"))  # before its created event
    payment.deliver(dispute(700, "needs_response"))
    payment.deliver(refund("re_2", 100))
    assert payment.entries[DU] == -payment.entries[f"{DU}:won"]
    assert payment.taken == credit_taken_back(13_000_000, 1200, 200)


# --- any mix, any order, any duplicates ------------------------------------------------------


@settings(max_examples=500)
@given(returns())
def test_whatever_the_mix_and_order_the_credit_taken_back_is_exactly_proportional(
    case: Returns,
) -> None:
    purchase = Purchase(USER, "p", case.credit_micros, case.paid_minor, "USD")
    payment = Payment(purchase)
    for delivery in case.deliveries:
        if delivery[0] != "credit":  # the purchase's own credit takes nothing back
            payment.deliver(stripe_event(PI, delivery, {}))
    assert payment.taken == case.exact_micros == payment.record.taken_micros
    if case.returned_minor >= case.paid_minor:
        assert payment.taken == case.credit_micros
    for entry_id, micros in payment.entries.items():
        # Money going back only ever takes credit; money coming back only ever gives it.
        assert micros >= 0 if entry_id.endswith((":reversed", ":won")) else micros <= 0


@pytest.mark.parametrize(
    ("event_type", "status", "planned"),
    [
        ("charge.dispute.created", "needs_response", [(DU, 500)]),
        ("charge.dispute.closed", "lost", [(DU, 500)]),
        ("charge.dispute.closed", "won", [(DU, 500), (f"{DU}:won", -500)]),
        ("charge.dispute.closed", "prevented", [(DU, 500), (f"{DU}:won", -500)]),
        ("charge.dispute.closed", "warning_closed", [(f"{DU}:won", -500)]),
        ("charge.dispute.created", "warning_needs_response", []),
    ],
)
def test_each_dispute_outcome_plans_its_entries(
    event_type: str, status: str, planned: list[tuple[str, int]]
) -> None:
    instruction = interpret(event_from_json(dispute(500, status, event_type)))
    assert isinstance(instruction, ApplyDispute)
    steps = dispute_returns(instruction.dispute, instruction.outcome)
    assert [(step.entry_id, step.disputed_minor) for step in steps] == planned
    assert all(step.refunded_minor == 0 for step in steps)
    # An inquiry closed gives back only what a chargeback of it took: nothing, usually.
    assert [step.only_after for step in steps] == [
        DU if status == "warning_closed" else "" for _ in steps
    ]


@pytest.mark.parametrize(
    ("status", "planned"),
    [
        ("succeeded", [("re_1", 300)]),
        ("pending", [("re_1", 300)]),
        ("failed", [("re_1", 300), ("re_1:reversed", -300)]),
        ("canceled", [("re_1", 300), ("re_1:reversed", -300)]),
    ],
)
def test_each_refund_status_plans_its_entries(status: str, planned: list[tuple[str, int]]) -> None:
    instruction = interpret(event_from_json(refund("re_1", 300, status)))
    assert isinstance(instruction, ApplyRefunds)
    [facts] = instruction.refunds or ()
    steps = refund_returns(facts)
    assert [(step.entry_id, step.refunded_minor) for step in steps] == planned
    assert [step.kind for step in steps] == ["refund", "refund_reversal"][: len(steps)]


# --- what a purchase must have paid -----------------------------------------------------------

PACKS = (CreditPack("5", 5_000_000, 5_000_000), CreditPack("12", 12_000_000, 13_000_000))


@pytest.mark.parametrize(
    ("pack", "currency", "checkout", "price"),
    [
        ("12", "USD", None, Price(1200, "USD")),
        ("12", "USD", CheckoutRecord("cs_1", "12", 1100, "USD", 13_000_000), Price(1100, "USD")),
        ("12", "EUR", CheckoutRecord("cs_1", "12", 1200, "USD", 13_000_000), Price(1200, "USD")),
        ("3", "USD", None, Price(300, "USD")),  # no longer offered: its id is its price
        ("12.50", "USD", None, Price(1250, "USD")),
        ("5", "JPY", None, Price(5, "JPY")),
        ("12.5", "JPY", None, None),  # no half yen
        ("0", "USD", None, None),
        ("-5", "USD", None, None),
        ("gold", "USD", None, None),
        ("1e9", "USD", None, None),
        ("9" * 20, "USD", None, None),
    ],
)
def test_the_price_sold_is_our_checkouts_else_the_packs_else_the_one_its_id_names(
    pack: str, currency: str, checkout: CheckoutRecord | None, price: Price | None
) -> None:
    assert price_sold(pack, PACKS, currency, checkout) == price


@pytest.mark.parametrize(
    ("received", "sold", "reason"),
    [
        (Price(1200, "USD"), Price(1200, "USD"), None),
        (Price(120000, "EUR"), Price(1200, "USD"), RefusalReason.CURRENCY),  # the audit's probe
        (Price(1200, "EUR"), Price(1200, "USD"), RefusalReason.CURRENCY),
        (Price(1000, "USD"), Price(1200, "USD"), RefusalReason.AMOUNT),  # a promotion code
        (Price(1199, "USD"), Price(1200, "USD"), RefusalReason.AMOUNT),
        (Price(1440, "USD"), Price(1200, "USD"), RefusalReason.AMOUNT),  # tax on top
        (Price(1200, "USD"), None, RefusalReason.NO_PRICE),
        (Price(1200, "USD"), Price(1200, "EUR"), RefusalReason.NO_PRICE),  # CURRENCY changed
        (Price(1200, "EUR"), Price(1200, "EUR"), RefusalReason.CURRENCY),  # ...and paid in EUR
    ],
)
def test_only_the_price_sold_in_our_currency_credits(
    received: Price, sold: Price | None, reason: RefusalReason | None
) -> None:
    refused = refusal(received, sold, "USD")
    assert (refused.reason if refused else None) == reason
    if refused is not None:
        assert (refused.expected, refused.received) == (sold, received)


def test_a_refusal_says_what_was_expected_and_received_as_amounts() -> None:
    refused = refusal(Price(120000, "EUR"), Price(1200, "USD"), "USD")
    assert refused is not None
    assert (refused.expected_text, str(refused.received)) == ("12.00 USD", "1200.00 EUR")
    unknown = refusal(Price(500, "USD"), None, "USD")
    assert unknown is not None
    assert unknown.expected_text == "no known price"


def test_a_refused_payment_takes_no_credit_back_whatever_goes_back() -> None:
    """Refused, it granted nothing: its refund and chargeback take nothing, and still count
    as money gone back on its record."""
    payment = Payment(PACK_12_13.refuse(RefusalReason.AMOUNT))
    for event in (refund("re_1", 400), dispute(800, "needs_response"), closed(800, "lost")):
        payment.deliver(event)
    assert payment.entries == {"re_1": 0, DU: 0}
    assert payment.record.returned_minor == 1200
    assert payment.record.purchase(USER) == PACK_12_13.refuse(RefusalReason.AMOUNT)
