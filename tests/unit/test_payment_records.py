"""Payment records without servers: the status each one shows, and disputes that only move
forward."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from shared.credit.payment_records import (
    PaymentRecord,
    PaymentStatus,
    newest_first,
    payment_data,
    payment_from_row,
)
from shared.credit.stripe_events import (
    DISPUTE_CLOSED,
    DISPUTE_INQUIRY,
    DISPUTE_LOST,
    DISPUTE_OPEN,
    DISPUTE_WON,
    Purchase,
)
from shared.storage.rows import Row


@pytest.mark.parametrize(
    ("record", "status"),
    [
        (PaymentRecord("pi_1"), PaymentStatus.PENDING),
        (PaymentRecord("pi_1", amount_minor=500, paid=True), PaymentStatus.PAID),
        (PaymentRecord("pi_1", amount_minor=500, failed=True), PaymentStatus.FAILED),
        (PaymentRecord("pi_1", amount_minor=500, paid=True, failed=True), PaymentStatus.PAID),
        (
            PaymentRecord("pi_1", amount_minor=500, paid=True, refunded_minor=100),
            PaymentStatus.PARTIALLY_REFUNDED,
        ),
        (PaymentRecord("pi_1", amount_minor=500, refunded_minor=500), PaymentStatus.REFUNDED),
        (
            PaymentRecord("pi_1", amount_minor=500, paid=True, dispute_status=DISPUTE_OPEN),
            PaymentStatus.DISPUTED,
        ),
        (
            PaymentRecord("pi_1", amount_minor=500, paid=True, dispute_status=DISPUTE_LOST),
            PaymentStatus.DISPUTE_LOST,
        ),
        (
            PaymentRecord("pi_1", amount_minor=500, paid=True, dispute_status=DISPUTE_WON),
            PaymentStatus.PAID,
        ),
        (
            PaymentRecord("pi_1", amount_minor=500, paid=True, dispute_status=DISPUTE_CLOSED),
            PaymentStatus.DISPUTE_CLOSED,
        ),
        (
            PaymentRecord("pi_1", amount_minor=500, paid=True, dispute_status=DISPUTE_INQUIRY),
            PaymentStatus.PAID,
        ),
    ],
)
def test_a_payments_status_follows_from_what_happened_to_it(
    record: PaymentRecord, status: PaymentStatus
) -> None:
    assert record.status is status


def test_a_closed_dispute_is_never_reopened_by_a_late_event() -> None:
    lost = PaymentRecord("pi_1").with_dispute("du_1", DISPUTE_LOST)
    assert lost.with_dispute("du_1", DISPUTE_OPEN).dispute_status == DISPUTE_LOST
    assert lost.with_dispute("du_2", DISPUTE_OPEN).dispute_status == DISPUTE_OPEN


@pytest.mark.parametrize("closed", [DISPUTE_WON, DISPUTE_LOST, DISPUTE_CLOSED])
def test_a_dispute_closed_in_any_way_is_not_reopened_by_a_late_created_or_inquiry(
    closed: str,
) -> None:
    record = PaymentRecord("pi_1").with_dispute("du_1", closed)
    for late in (DISPUTE_OPEN, DISPUTE_INQUIRY):
        assert record.with_dispute("du_1", late).dispute_status == closed


def test_a_payment_row_keeps_no_derived_columns_and_no_made_up_currency() -> None:
    data = payment_data(PaymentRecord("pi_1", amount_minor=500), datetime.now(UTC))
    assert "status" not in data
    assert "amount_micros" not in data
    assert data["currency"] == ""


def test_what_went_back_is_kept_with_the_credit_it_took_back_computed_from_the_totals() -> None:
    bought = PaymentRecord("pi_1").with_purchase(Purchase("u1", "12", 13_000_000, 1200, "USD"))
    refunded = bought.with_return(refunded_minor=400)
    assert (refunded.returned_minor, refunded.taken_micros) == (400, 4_333_333)
    charged_back = refunded.with_return(disputed_minor=800)
    assert (charged_back.refunded_minor, charged_back.disputed_minor) == (400, 800)
    assert charged_back.taken_micros == 13_000_000  # not 4,333,333 + 8,666,666
    failed = charged_back.with_return(refunded_minor=-400)
    assert (failed.returned_minor, failed.taken_micros) == (800, 8_666_666)


def test_a_payment_row_keeps_what_went_back_and_the_credit_taken_back() -> None:
    record = PaymentRecord(
        "pi_1", amount_minor=1200, refunded_minor=400, disputed_minor=800, taken_micros=13
    )
    data = payment_data(record, datetime.now(UTC))
    assert (data["refunded_minor"], data["disputed_minor"], data["taken_micros"]) == (400, 800, 13)


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"paid": True}, PaymentStatus.REFUSED),
        ({}, PaymentStatus.PENDING),  # not paid yet: it will be refused, not credited
        ({"failed": True}, PaymentStatus.FAILED),
        ({"paid": True, "refunded_minor": 120000}, PaymentStatus.REFUNDED),
        ({"paid": True, "refunded_minor": 100}, PaymentStatus.PARTIALLY_REFUNDED),
        ({"paid": True, "dispute_status": DISPUTE_OPEN}, PaymentStatus.DISPUTED),
        ({"paid": True, "dispute_status": DISPUTE_LOST}, PaymentStatus.DISPUTE_LOST),
    ],
)
def test_a_refused_payment_shows_refused_until_its_money_goes_back(
    changes: dict[str, object], status: PaymentStatus
) -> None:
    refused = Purchase("u1", "12", 13_000_000, 120000, "EUR").refuse("currency")
    record = replace(PaymentRecord("pi_1").with_purchase(refused), **changes)
    assert record.status is status


def test_a_refused_payments_row_keeps_why_and_reads_back_as_a_purchase_of_no_credit() -> None:
    refused = Purchase("u1", "12", 13_000_000, 120000, "EUR").refuse("currency")
    record = replace(PaymentRecord("pi_1").with_purchase(refused), paid=True)
    data = payment_data(record, datetime.now(UTC))
    assert (data["refused"], data["credit_micros"], data["currency"]) == ("currency", 0, "EUR")
    back = payment_from_row(Row("payment:pi_1", data, "etag"))
    assert back == replace(record, created_at=data["created_at"])
    assert back.purchase("u1") == refused
    assert replace(back, refused="").purchase("u1") is None  # no credit and not refused


def test_the_newest_payments_come_first_and_only_as_many_as_asked() -> None:
    def at(day: int) -> datetime:
        return datetime(2026, 1, day, tzinfo=UTC)

    records = [
        PaymentRecord("pi_b", created_at=at(2)),
        PaymentRecord("pi_old", created_at=at(1)),
        PaymentRecord("pi_lost"),  # a record without its creation time
        PaymentRecord("pi_new", created_at=at(3)),
        PaymentRecord("pi_a", created_at=at(2)),
    ]
    ordered = [r.payment_intent_id for r in newest_first(records, 10)]
    assert ordered == ["pi_new", "pi_b", "pi_a", "pi_old", "pi_lost"]
    assert [r.payment_intent_id for r in newest_first(records, 2)] == ["pi_new", "pi_b"]
    assert newest_first([], 5) == []
