"""Disputes: a chargeback takes back its share of the credit and holds the account; an
inquiry is only recorded; a close gives the credit back if the merchant kept the money.

A chargeback is debited under the dispute id (du_…), and the account is flagged in the same
write; one the merchant keeps (won, prevented) is credited back under "du_…:won"; any close
clears the flag (unless another payment is still disputed). An inquiry (warning_*) moves no
money and holds nothing: it is only recorded. What each entry moves is the payment book's
exact share (take_back).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared.credit.outcome import Outcome, strongest
from shared.credit.payment_book import FlagsChange, PaymentBook, RecordChange
from shared.credit.payment_records import PaymentRecord
from shared.credit.stripe_events import (
    DISPUTE_CLOSED,
    DISPUTE_INQUIRY,
    DISPUTE_OPEN,
    Reversal,
    dispute_returns,
)
from shared.money.ledger import FLAG_PAYMENT_DISPUTED
from shared.storage.keys import payment_key

logger = logging.getLogger("ownnumber.payments")


@dataclass
class Disputes:
    book: PaymentBook

    def apply(self, dispute: Reversal, outcome: str) -> Outcome:
        purchase = self.book.purchase_of(dispute)
        if purchase is None:
            return Outcome.IGNORED
        user, pi = purchase.user_id, dispute.payment_intent
        details = {"payment_intent": pi, "dispute": dispute.id}

        def status(record: PaymentRecord) -> PaymentRecord:
            return record.with_purchase(purchase).with_dispute(dispute.id, outcome)

        if outcome == DISPUTE_INQUIRY:
            # No money has moved and the account is not held: an inquiry is a question, and
            # most close without a chargeback. If it becomes one, that event debits and holds.
            changed = self.book.write(user, (self.book.payment_build(pi, status),))
            return Outcome.RECORDED if changed else Outcome.ALREADY_APPLIED
        if outcome == DISPUTE_CLOSED:
            logger.error(
                "Dispute %s of %s closed as %r, which this app does not know: its debit stays",
                dispute.id,
                pi,
                dispute.status[:40],
            )
        flags = self._flags(user, pi, status)
        # The debit comes first even when the closing event does: created and closed may
        # arrive in either order, and whichever is first posts it.
        outcomes = [
            self.book.take_back(purchase, pi, step, details, status, flags)
            for step in dispute_returns(dispute, outcome)
        ]
        # Closed after its entries were posted: no money moves, the record and flag change
        # together, writing the balance row as every change of a dispute's state does.
        if outcome != DISPUTE_OPEN and self.book.ledger.set_flags(
            user, flags, also=self.book.post_ops(user, (self.book.payment_build(pi, status),))
        ):
            outcomes.append(Outcome.RECORDED)
        return strongest(outcomes)

    def _flags(self, user_id: str, pi: str, change: RecordChange) -> FlagsChange:
        """Flagged while any of the account's payments has an open dispute.

        Computed on every attempt, after the balance row was read. Each change of a dispute's
        state writes the balance row too (by post or set_flags, in the same transaction), so a
        concurrent change fails this write's ETag and the rows are read again.
        """
        key = payment_key(pi)

        def flags(current: frozenset[str]) -> frozenset[str]:
            records = self.book.payments(user_id)
            records[key] = change(records.get(key) or PaymentRecord(pi))
            if any(r.dispute_status == DISPUTE_OPEN for r in records.values()):
                return current | {FLAG_PAYMENT_DISPUTED}
            return current - {FLAG_PAYMENT_DISPUTED}

        return flags
