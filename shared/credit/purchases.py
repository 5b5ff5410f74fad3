"""Purchases: a Checkout Session's completion credits the pack it sold, once.

A purchase is credited under its PaymentIntent id (pi_…). Checkout's completion events name
it, and so does every charge, refund and dispute, so each of them can find the credit. A
session completed but not yet paid, or whose delayed payment failed, is only recorded. The
credit is checked against what was sold before anything is written, and the card's brand and
last four digits go into the payment's record for the receipt in the credit's transaction.

A credit costs three storage round trips: the account's rows it decides from (profile,
balance, payment, checkout), read together; the PaymentIntent -> user map; the one
transaction. Stripe is asked for the card while the map is written, and only when the record
lacks it; an answer that does not come in Stripe's client's time leaves the receipt without it.

What was paid is checked too (credit.sold): only the pack's price in our currency credits.
A paid session that paid anything else is refused: no credit, its payment recorded as
refused for an operator to refund, an error logged with the event id and the amounts
expected and received, and a 200 (outcome "refused") so that Stripe does not redeliver it
for days: a redelivery would be refused again. (A credit or pack in our metadata that is not
what was sold is a bug or a forgery, and stays a 400, before anything is written.) The
checkout's record keeps what was sold; the event only adds its PaymentIntent.
"""

from __future__ import annotations

import contextvars
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime

from shared.config import ConfigError
from shared.credit.checkout_requests import META_CREDIT, META_PACK
from shared.credit.errors import PaymentProviderRefused, PaymentProviderUnavailable
from shared.credit.outcome import Outcome
from shared.credit.payment_book import PaymentBook, RowBuild, posted
from shared.credit.payment_records import (
    CheckoutRecord,
    PaymentRecord,
    checkout_data,
    checkout_from_row,
    payment_from_row,
)
from shared.credit.sold import Refusal, price_sold
from shared.credit.stripe_events import EventFieldInvalid, PaymentIntentInfo, SessionFacts
from shared.money.ledger import EntryKind, PostStatus
from shared.storage.keys import checkout_key, payment_key
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
    # Asks Stripe for cards while the owner map is written; a few at once is plenty here.
    _pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(4, thread_name_prefix="stripe-card"),
        repr=False,
    )

    def credit(self, session: SessionFacts, event_id: str) -> Outcome:
        purchase, pi = session.purchase, session.payment_intent
        user_id = purchase.user_id
        keys = (payment_key(pi), checkout_key(session.id))
        read = self.book.read_account(user_id, keys)
        if not self.book.account_exists(user_id, pi, read):
            return Outcome.IGNORED
        checkout_row = read.rows[checkout_key(session.id)]
        checkout = checkout_from_row(checkout_row) if checkout_row else None
        self._check_sold(session, checkout)
        refused = self.book.refusal_of(purchase, checkout)
        if refused is not None:
            self.book.remember_owner(pi, user_id)
            return self._refuse(session, refused, event_id)
        payment_row = read.rows[payment_key(pi)]
        # The card for the receipt is Stripe's to tell, once: asked while the owner row is
        # written, so that it goes into the credit's own transaction rather than a write after.
        card = None
        if payment_row is None or payment_from_row(payment_row).card is None:
            card = self._pool.submit(contextvars.copy_context().run, self._card_of, pi)
        self.book.remember_owner(pi, user_id)
        info = card.result() if card is not None else None

        def change(record: PaymentRecord) -> PaymentRecord:
            record = replace(record.with_purchase(purchase), session_id=session.id, paid=True)
            return _with_card(record, info)

        result = self.book.ledger.post(
            user_id,
            pi,
            purchase.credit_micros,
            EntryKind.CREDIT_PURCHASE,
            {"pack": purchase.pack, "payment_intent": pi, "checkout_session": session.id},
            also=self.book.post_ops(
                user_id,
                (self.book.payment_build(pi, change), self._checkout_build(session)),
                read.rows,
            ),
            read=read.balance,
        )
        if result.status is PostStatus.ALREADY_APPLIED and info is not None:
            # A redelivery of a credit whose card Stripe could not tell the first time.
            self.book.write(user_id, (self.book.payment_build(pi, lambda r: _with_card(r, info)),))
        return posted(result)

    def record(self, session: SessionFacts, failed: bool, event_id: str) -> Outcome:
        """Completed but not paid (yet), or failed: the records change, no money moves.

        One that will not pay what was sold is recorded as refused already, without credit,
        so that a refund or dispute before it is paid takes nothing back either."""
        purchase, pi = session.purchase, session.payment_intent
        if not self.book.account_exists(purchase.user_id, pi):
            return Outcome.IGNORED
        refused = self.book.refusal_of(purchase, self.book.checkout(purchase.user_id, session.id))
        if refused is not None:
            logger.warning(
                "Stripe event %s: checkout %s (not paid yet) is for %s, but pack %r sold at "
                "%s (%s): it will not be credited",
                event_id,
                session.id,
                refused.received,
                purchase.pack,
                refused.expected_text,
                refused.reason.value,
            )
            purchase = purchase.refuse(refused.reason)
        self.book.remember_owner(pi, purchase.user_id)

        def recorded(record: PaymentRecord) -> PaymentRecord:
            record = replace(record.with_purchase(purchase), session_id=session.id)
            return replace(record, failed=True) if failed else record

        changed = self.book.write(
            purchase.user_id,
            (self.book.payment_build(pi, recorded), self._checkout_build(session)),
        )
        return Outcome.RECORDED if changed else Outcome.ALREADY_APPLIED

    def _refuse(self, session: SessionFacts, refused: Refusal, event_id: str) -> Outcome:
        """Paid, but not what was sold: recorded as refused, with no credit, every time."""
        purchase, pi = session.purchase, session.payment_intent
        # Amounts, currency codes and Stripe ids only: nothing that names a person.
        logger.error(
            "Stripe event %s: checkout %s paid %s, but pack %r was sold at %s, credited in %s "
            "(%s): not credited; its payment %s is recorded as refused, to be refunded",
            event_id,
            session.id,
            refused.received,
            purchase.pack,
            refused.expected_text,
            self.book.currency,
            refused.reason.value,
            pi,
        )
        before = self.book.payment(purchase.user_id, pi)
        if before is not None and before.taken_micros:
            # A refund or dispute that came first found a PaymentIntent that paid the price.
            logger.error(
                "Payment %s was refused after its refunds or disputes took back %d micros "
                "of credit it never granted: adjust the account by hand",
                pi,
                before.taken_micros,
            )
        unpaid = purchase.refuse(refused.reason)

        def change(record: PaymentRecord) -> PaymentRecord:
            return replace(record.with_purchase(unpaid), session_id=session.id, paid=True)

        self.book.write(
            purchase.user_id,
            (self.book.payment_build(pi, change), self._checkout_build(session)),
        )
        return Outcome.REFUSED

    def _check_sold(self, session: SessionFacts, sold: CheckoutRecord | None) -> None:
        """The credit is the one the pack was sold with: as the checkout we recorded says, or,
        without that record, as the pack is configured. The metadata is ours, so a signed
        event that disagrees is a bug or a forgery, and crediting it would be a guess."""
        purchase = session.purchase
        if sold is not None:
            pack, credit = sold.pack, sold.credit_micros
        else:
            offered = next((p for p in self.book.packs if p.id == purchase.pack), None)
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

    def _card_of(self, pi: str) -> PaymentIntentInfo | None:
        """The charge id and card for the receipt. Best effort: the receipt shows no card
        rather than the credit failing, or waiting past what Stripe's client allows."""
        try:
            return self.book.provider.payment_intent(pi)
        except _PROVIDER_ERRORS as error:
            logger.warning("No card details for %s: %s", pi, type(error).__name__)
            return None

    def _checkout_build(self, session: SessionFacts) -> tuple[str, RowBuild]:
        """The checkout's record: what was sold, as /api/checkout recorded it, now with its
        PaymentIntent. Without that record (a lost write), what the pack sells for."""

        def build(row: Row | None) -> dict[str, Value]:
            now = self.book.clock()
            sold = checkout_from_row(row) if row else self._sold_without_record(session)
            record = replace(sold, session_id=session.id, payment_intent_id=session.payment_intent)
            created = row.get("created_at") if row else None
            return checkout_data(record, created if isinstance(created, datetime) else now, now)

        return checkout_key(session.id), build

    def _sold_without_record(self, session: SessionFacts) -> CheckoutRecord:
        purchase = session.purchase
        price = price_sold(purchase.pack, self.book.packs, self.book.currency, None)
        amount, currency = (
            (price.amount_minor, price.currency)
            if price
            else (purchase.amount_minor, purchase.currency)
        )
        # The credit is the pack's: _check_sold let no other through.
        return CheckoutRecord(session.id, purchase.pack, amount, currency, purchase.credit_micros)


def _with_card(record: PaymentRecord, info: PaymentIntentInfo | None) -> PaymentRecord:
    if record.card is not None or info is None or (info.card is None and not info.charge_id):
        return record
    return record.with_charge(info.charge_id, info.card)
