"""A ledger entry told in words: its call or its card, from the rows read for it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.calling.lifecycle import CallRecord
from shared.calling.rating import Rate
from shared.credit.payment_records import PaymentRecord, payment_data
from shared.credit.stripe_events import Card
from shared.money.ledger import EntryKind, LedgerEntry
from shared.statement.ledger_lines import CallLine, line
from shared.storage.keys import call_key, payment_key
from shared.storage.rows import Row

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
PARENT, CHILD = "CA" + "p" * 32, "CA" + "c" * 32


def entry(kind: EntryKind, **details: str | int) -> LedgerEntry:
    return LedgerEntry("e1", -1, kind, details, NOW, 1, 0)


def call_row(to: str = "+442079460958") -> Row:
    record = CallRecord(
        call_sid=PARENT,
        user_id="u1",
        to=to,
        country="GB",
        rate=Rate("44", "GB", "United Kingdom landline", 15_000, 60, 1),
        max_seconds=4000,
        started_at=NOW,
        history_key="callhistory:1",
        status="completed",
        duration_seconds=75,
        billed_seconds=75,
    )
    return Row(call_key(PARENT), record.to_data())


def payment_row(pi: str, brand: str = "visa", last4: str = "4242") -> Row:
    record = PaymentRecord(pi, card_brand=brand, card_last4=last4)
    return Row(payment_key(pi), payment_data(record, NOW))


def test_a_call_charge_says_which_call_it_was_from_the_call_row() -> None:
    charge = entry(EntryKind.CALL_CHARGE, call_sid=PARENT, country="GB")
    told = line(charge, {call_key(PARENT): call_row()})
    assert told.call == CallLine(
        to="+442079460958",
        formatted="+44 20 7946 0958",
        duration_seconds=75,
        billed_seconds=75,
        destination="United Kingdom landline",
        country="GB",
    )
    assert told.card is None
    assert told.entry is charge


def test_a_call_charge_whose_call_was_erased_says_no_number() -> None:
    assert line(entry(EntryKind.CALL_CHARGE, call_sid=PARENT), {}).call is None


def test_a_damaged_call_row_leaves_the_call_out_rather_than_failing() -> None:
    damaged = Row(call_key(PARENT), {"to": "+442079460958"})  # no start time
    assert (
        line(entry(EntryKind.CALL_CHARGE, call_sid=PARENT), {call_key(PARENT): damaged}).call
        is None
    )


def test_a_number_that_no_longer_formats_is_shown_as_stored() -> None:
    told = line(entry(EntryKind.CALL_CHARGE, call_sid=PARENT), {call_key(PARENT): call_row("+999")})
    assert told.call is not None
    assert told.call.formatted == "+999"


def test_only_a_call_charge_reads_a_call() -> None:
    adjustment = entry(EntryKind.ADJUSTMENT, call_sid=PARENT)
    assert line(adjustment, {call_key(PARENT): call_row()}).call is None


@pytest.mark.parametrize(
    "kind",
    [EntryKind.CREDIT_PURCHASE, EntryKind.REFUND, EntryKind.DISPUTE, EntryKind.REFUND_REVERSAL],
)
def test_an_entry_of_a_payment_names_its_card(kind: EntryKind) -> None:
    told = line(entry(kind, payment_intent="pi_1"), {payment_key("pi_1"): payment_row("pi_1")})
    assert told.card == Card("visa", "4242")
    assert told.call is None


def test_a_payment_without_a_known_card_or_record_names_none() -> None:
    paid = entry(EntryKind.CREDIT_PURCHASE, payment_intent="pi_1")
    assert line(paid, {payment_key("pi_1"): payment_row("pi_1", "", "")}).card is None
    assert line(paid, {}).card is None
    # Another payment's record, had it been read, is not this entry's.
    assert line(paid, {payment_key("pi_2"): payment_row("pi_2")}).card is None


@pytest.mark.parametrize("pi", ["", "pi/../x", 42, "pi 1"])
def test_details_that_cannot_name_a_row_name_none_rather_than_fail(pi: str | int) -> None:
    told = line(entry(EntryKind.CREDIT_PURCHASE, payment_intent=pi), {})
    assert (told.call, told.card) == (None, None)
