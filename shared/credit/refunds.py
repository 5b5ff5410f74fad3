"""Refunds: each one takes back its share of the payment's credit, and gives it back if the
refund fails.

A refund is debited under the refund id (re_…); a refund that fails later is credited back
under "re_…:reversed". A failed refund's events may arrive in any order: it still posts its
debit first and then the credit back (stripe_events.refund_returns), so it ends with both
and nothing taken. What each entry moves is the payment book's exact share (take_back).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.credit.outcome import Outcome, strongest
from shared.credit.payment_book import PaymentBook
from shared.credit.payment_records import PaymentRecord
from shared.credit.stripe_events import ApplyRefunds, Card, Reversal, refund_returns


@dataclass
class Refunds:
    book: PaymentBook

    def apply(self, instruction: ApplyRefunds) -> Outcome:
        refunds = instruction.refunds
        if refunds is None:
            refunds = tuple(self.book.provider.refunds_of_charge(instruction.charge_id))
        return strongest(self._refund(refund, instruction.card) for refund in refunds)

    def _refund(self, refund: Reversal, card: Card | None) -> Outcome:
        purchase = self.book.purchase_of(refund)
        if purchase is None:
            return Outcome.IGNORED
        pi = refund.payment_intent
        details = {"payment_intent": pi, "refund": refund.id}

        def status(record: PaymentRecord) -> PaymentRecord:
            return record.with_purchase(purchase).with_charge(refund.charge_id, card)

        # One after the other: a failed refund's credit back follows its debit.
        steps = refund_returns(refund)
        return strongest([self.book.take_back(purchase, pi, s, details, status) for s in steps])
