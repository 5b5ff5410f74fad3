"""What applying one webhook event did, as the webhook answers it to Stripe; every event
family (purchases, refunds, disputes) answers in these terms."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Outcome(StrEnum):
    """What applying one webhook event did; the webhook answers it to Stripe."""

    APPLIED = "applied"  # money moved
    RECORDED = "recorded"  # a payment record changed, no money moved (pending, failed, ...)
    # Paid, but not what was sold (credit.sold): recorded for an operator to refund, no credit.
    # Answered 200 all the same, every time: a redelivery would be refused again.
    REFUSED = "refused"
    ALREADY_APPLIED = "already_applied"  # a redelivery: nothing changed
    IGNORED = "ignored"  # not an event (or not a payment) this app acts on


_OUTCOME_RANK = {
    Outcome.IGNORED: 0,
    Outcome.ALREADY_APPLIED: 1,
    Outcome.RECORDED: 2,
    Outcome.REFUSED: 3,
    Outcome.APPLIED: 4,
}


def strongest(outcomes: Iterable[Outcome]) -> Outcome:
    """An event that posts several entries did what the most of them did."""
    return max(outcomes, key=_OUTCOME_RANK.__getitem__, default=Outcome.IGNORED)
