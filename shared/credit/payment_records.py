"""What we keep of each payment and each checkout, and how those records map to table rows.

A payment's record (payment:pi_…) is what the receipt and the account's history show: Stripe
references, amounts, status, and the card's brand and last four digits, never a card number.
It also keeps what went back of the payment (refunded, charged back) and the credit that took
back, so that each refund or dispute takes exactly the difference it makes (see with_return).
A payment that did not pay what its pack was sold for (credit.sold) is kept all the same,
marked refused and with no credit, so that an operator sees it and refunds it.
A checkout's record (checkout:cs_…) is what we sold: the pack, its price and its credit, as
/api/checkout asked Stripe for them; Stripe's events only add the PaymentIntent to it, so the
success page reads how it went from our rows only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from shared.credit.stripe_events import (
    DISPUTE_CLOSED,
    DISPUTE_LOST,
    DISPUTE_OPEN,
    DISPUTE_WON,
    Card,
    Purchase,
)
from shared.money.micros import credit_taken_back
from shared.storage.keys import PAYMENT_PREFIX
from shared.storage.rows import Row, Value


class PaymentStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    DISPUTED = "disputed"
    DISPUTE_LOST = "dispute_lost"
    DISPUTE_CLOSED = "dispute_closed"  # closed with a status we do not know; debit kept
    REFUSED = "refused"  # paid, but not what was sold: not credited, to be refunded


_DISPUTE_FINAL = frozenset([DISPUTE_WON, DISPUTE_LOST, DISPUTE_CLOSED])


@dataclass(frozen=True)
class PaymentRecord:
    """One payment (PaymentIntent), as the receipt and the account's history show it."""

    payment_intent_id: str
    session_id: str = ""
    charge_id: str = ""
    pack: str = ""
    amount_minor: int = 0
    currency: str = ""
    credit_micros: int = 0
    paid: bool = False
    failed: bool = False
    refunded_minor: int = 0  # refunded and not failed since
    disputed_minor: int = 0  # charged back and not given back since (a dispute won)
    taken_micros: int = 0  # the credit those took back: credit_taken_back of their sum
    dispute_id: str = ""
    dispute_status: str = ""
    card_brand: str = ""
    card_last4: str = ""
    created_at: datetime | None = None
    refused: str = ""  # why it was not credited (credit.sold.RefusalReason); "" if it was

    @property
    def status(self) -> PaymentStatus:
        if self.dispute_status == DISPUTE_OPEN:
            return PaymentStatus.DISPUTED
        if self.refunded_minor > 0 and self.refunded_minor >= self.amount_minor:
            return PaymentStatus.REFUNDED
        if self.refunded_minor > 0:
            return PaymentStatus.PARTIALLY_REFUNDED
        if self.dispute_status == DISPUTE_LOST:
            return PaymentStatus.DISPUTE_LOST
        if self.dispute_status == DISPUTE_CLOSED:
            return PaymentStatus.DISPUTE_CLOSED
        if self.paid and self.refused:
            return PaymentStatus.REFUSED
        if self.paid:
            return PaymentStatus.PAID
        if self.failed:
            return PaymentStatus.FAILED
        return PaymentStatus.PENDING

    @property
    def returned_minor(self) -> int:
        """What went back to the payer: refunds and chargebacks, net of those undone."""
        return self.refunded_minor + self.disputed_minor

    @property
    def card(self) -> Card | None:
        return Card(self.card_brand, self.card_last4) if self.card_last4 else None

    def with_purchase(self, purchase: Purchase) -> PaymentRecord:
        return replace(
            self,
            pack=purchase.pack,
            amount_minor=purchase.amount_minor,
            currency=purchase.currency,
            credit_micros=purchase.credit_micros,
            refused=purchase.refused,
        )

    def with_charge(self, charge_id: str, card: Card | None) -> PaymentRecord:
        record = replace(self, charge_id=charge_id or self.charge_id)
        if card is not None:
            record = replace(record, card_brand=card.brand, card_last4=card.last4)
        return record

    def with_return(self, refunded_minor: int = 0, disputed_minor: int = 0) -> PaymentRecord:
        """The record once that much more went back to the payer (or, below 0, came back).

        The credit taken back is recomputed from the totals, never added up from the parts, so
        an entry that moves the difference (`taken_micros` before minus after) leaves the
        payment's entries summing to exactly credit_taken_back of what went back. Needs the
        purchase (with_purchase) for its credit and amount.
        """
        record = replace(
            self,
            refunded_minor=self.refunded_minor + refunded_minor,
            disputed_minor=self.disputed_minor + disputed_minor,
        )
        taken = credit_taken_back(record.credit_micros, record.amount_minor, record.returned_minor)
        return replace(record, taken_micros=taken)

    def with_dispute(self, dispute_id: str, status: str) -> PaymentRecord:
        # A dispute only moves forward: a late "created" never reopens a closed one.
        if (
            self.dispute_id == dispute_id
            and self.dispute_status in _DISPUTE_FINAL
            and status not in _DISPUTE_FINAL
        ):
            return self
        return replace(self, dispute_id=dispute_id, dispute_status=status)

    def purchase(self, user_id: str) -> Purchase | None:
        """What the record says was bought, if it says: a refused one granted no credit."""
        if self.amount_minor <= 0 or not self.currency:
            return None
        if self.credit_micros <= 0 and not self.refused:
            return None
        return Purchase(
            user_id, self.pack, self.credit_micros, self.amount_minor, self.currency, self.refused
        )


@dataclass(frozen=True)
class CheckoutRecord:
    session_id: str
    pack: str
    amount_minor: int
    currency: str
    credit_micros: int
    payment_intent_id: str = ""


@dataclass(frozen=True)
class CheckoutView:
    """The success page's answer, read from our own rows only."""

    checkout: CheckoutRecord
    payment: PaymentRecord | None

    @property
    def status(self) -> str:
        return self.payment.status.value if self.payment else "open"


def newest_first(records: Iterable[PaymentRecord], limit: int) -> list[PaymentRecord]:
    """At most `limit` records, the most recently created first (ties by PaymentIntent id, so
    the order is stable); a record that lost its creation time comes last."""
    oldest = datetime.min.replace(tzinfo=UTC)
    ordered = sorted(records, key=lambda r: r.payment_intent_id, reverse=True)
    ordered.sort(key=lambda r: r.created_at or oldest, reverse=True)
    return ordered[:limit]


def payment_data(record: PaymentRecord, now: datetime) -> dict[str, Value]:
    return {
        "session_id": record.session_id,
        "payment_intent_id": record.payment_intent_id,
        "charge_id": record.charge_id,
        "pack": record.pack,
        "amount_minor": record.amount_minor,
        "currency": record.currency,
        "credit_micros": record.credit_micros,
        "paid": record.paid,
        "failed": record.failed,
        "refunded_minor": record.refunded_minor,
        "disputed_minor": record.disputed_minor,
        "taken_micros": record.taken_micros,
        "dispute_id": record.dispute_id,
        "dispute_status": record.dispute_status,
        "card_brand": record.card_brand,
        "card_last4": record.card_last4,
        "refused": record.refused,
        "created_at": record.created_at or now,
        "updated_at": now,
    }


def payment_from_row(row: Row) -> PaymentRecord:
    created = row.get("created_at")
    return PaymentRecord(
        payment_intent_id=row.text("payment_intent_id") or row.key.removeprefix(PAYMENT_PREFIX),
        session_id=row.text("session_id"),
        charge_id=row.text("charge_id"),
        pack=row.text("pack"),
        amount_minor=row.integer("amount_minor"),
        currency=row.text("currency"),
        credit_micros=row.integer("credit_micros"),
        paid=row.get("paid") is True,
        failed=row.get("failed") is True,
        refunded_minor=row.integer("refunded_minor"),
        disputed_minor=row.integer("disputed_minor"),
        taken_micros=row.integer("taken_micros"),
        dispute_id=row.text("dispute_id"),
        dispute_status=row.text("dispute_status"),
        card_brand=row.text("card_brand"),
        card_last4=row.text("card_last4"),
        created_at=created if isinstance(created, datetime) else None,
        refused=row.text("refused"),
    )


def checkout_data(record: CheckoutRecord, created_at: datetime, now: datetime) -> dict[str, Value]:
    return {
        "session_id": record.session_id,
        "pack": record.pack,
        "amount_minor": record.amount_minor,
        "currency": record.currency,
        "credit_micros": record.credit_micros,
        "payment_intent_id": record.payment_intent_id,
        "created_at": created_at,
        "updated_at": now,
    }


def checkout_from_row(row: Row) -> CheckoutRecord:
    return CheckoutRecord(
        session_id=row.text("session_id"),
        pack=row.text("pack"),
        amount_minor=row.integer("amount_minor"),
        currency=row.text("currency"),
        credit_micros=row.integer("credit_micros"),
        payment_intent_id=row.text("payment_intent_id"),
    )
