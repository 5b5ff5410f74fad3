"""Purchases: a Checkout Session's completion credits the pack it sold, once.

A purchase is credited under its PaymentIntent id (pi_…). Checkout's completion events name
it, and so does every charge, refund and dispute, so each of them can find the credit. A
session completed but not yet paid, or whose delayed payment failed, is only recorded. The
credit is checked against what was sold before anything is written, and the card's brand and
last four digits are added to the payment's record for the receipt once the credit is in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from shared.config import ConfigError, CreditPack
from shared.credit.checkout_requests import META_CREDIT, META_PACK
from shared.credit.errors import PaymentProviderRefused, PaymentProviderUnavailable
from shared.credit.outcome import Outcome
from shared.credit.payment_book import PaymentBook, RowBuild, posted
from shared.credit.payment_records import CheckoutRecord, PaymentRecord, checkout_data
from shared.credit.stripe_events import EventFieldInvalid, SessionFacts
from shared.money.ledger import EntryKind
from shared.storage.keys import checkout_key
from shared.storage.rows import Row, Value

logger = logging.getLogger("ownnumber.payments")

# Looking up the card for the receipt fails in these ways; none of them may block a credit.
_PROVIDER_ERRORS = (
    PaymentProviderUnavailable,
    PaymentProviderRefused,
    ConfigError,
    EventFieldInvalid,
)


@dataclass
class Purchases:
    book: PaymentBook
    packs: tuple[CreditPack, ...]

    def credit(self, session: SessionFacts) -> Outcome:
        purchase, pi = session.purchase, session.payment_intent
        if not self.book.account_exists(purchase.user_id, pi):
            return Outcome.IGNORED
        self._check_sold(session)
        self.book.remember_owner(pi, purchase.user_id)

        def change(record: PaymentRecord) -> PaymentRecord:
            return replace(record.with_purchase(purchase), session_id=session.id, paid=True)

        result = self.book.ledger.post(
            purchase.user_id,
            pi,
            purchase.credit_micros,
            EntryKind.CREDIT_PURCHASE,
            {"pack": purchase.pack, "payment_intent": pi, "checkout_session": session.id},
            also=self.book.post_ops(
                purchase.user_id,
                (self.book.payment_build(pi, change), self._checkout_build(session)),
            ),
        )
        # After the credit, so that Stripe being slow or refusing never holds it up.
        self._add_card(purchase.user_id, pi)
        return posted(result)

    def record(self, session: SessionFacts, failed: bool) -> Outcome:
        """Completed but not paid (yet), or failed: the records change, no money moves."""
        purchase, pi = session.purchase, session.payment_intent
        if not self.book.account_exists(purchase.user_id, pi):
            return Outcome.IGNORED
        self.book.remember_owner(pi, purchase.user_id)

        def recorded(record: PaymentRecord) -> PaymentRecord:
            record = replace(record.with_purchase(purchase), session_id=session.id)
            return replace(record, failed=True) if failed else record

        changed = self.book.write(
            purchase.user_id,
            (self.book.payment_build(pi, recorded), self._checkout_build(session)),
        )
        return Outcome.RECORDED if changed else Outcome.ALREADY_APPLIED

    def _check_sold(self, session: SessionFacts) -> None:
        """The credit is the one the pack was sold with: as the checkout we recorded says, or,
        without that record, as the pack is configured. The metadata is ours, so a signed
        event that disagrees is a bug or a forgery, and crediting it would be a guess."""
        purchase = session.purchase
        sold = self.book.checkout(purchase.user_id, session.id)
        if sold is not None:
            pack, credit = sold.pack, sold.credit_micros
        else:
            offered = next((p for p in self.packs if p.id == purchase.pack), None)
            if offered is None:
                # A pack since retired, whose checkout row is missing: the bounds still hold.
                logger.warning(
                    "Checkout %s sold pack %r, no longer offered: its credit is as sent",
                    session.id,
                    purchase.pack,
                )
                return
            pack, credit = offered.id, offered.credit_micros
        if purchase.pack != pack:
            raise EventFieldInvalid(
                f"metadata.{META_PACK}", "The purchase's pack is not the one its checkout sold."
            )
        if purchase.credit_micros != credit:
            raise EventFieldInvalid(
                f"metadata.{META_CREDIT}",
                "The purchase's credit is not the one its pack was sold with.",
            )

    def _add_card(self, user_id: str, pi: str) -> None:
        """The charge id and card for the receipt, asked of Stripe once the record lacks them.

        Best effort: the receipt shows no card rather than the credit failing.
        """
        record = self.book.payment(user_id, pi)
        if record is not None and record.card is not None:
            return
        try:
            info = self.book.provider.payment_intent(pi)
        except _PROVIDER_ERRORS as error:
            logger.warning("No card details for %s: %s", pi, type(error).__name__)
            return
        if info is None or (info.card is None and not info.charge_id):
            return
        charge_id, card = info.charge_id, info.card
        self.book.write(
            user_id,
            (self.book.payment_build(pi, lambda record: record.with_charge(charge_id, card)),),
        )

    def _checkout_build(self, session: SessionFacts) -> tuple[str, RowBuild]:
        purchase = session.purchase
        record = CheckoutRecord(
            session.id,
            purchase.pack,
            purchase.amount_minor,
            purchase.currency,
            purchase.credit_micros,
            session.payment_intent,
        )

        def build(row: Row | None) -> dict[str, Value]:
            now = self.book.clock()
            created = row.get("created_at") if row else None
            return checkout_data(record, created if isinstance(created, datetime) else now, now)

        return checkout_key(session.id), build
