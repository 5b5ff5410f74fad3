"""Money going back to the payer as Stripe tells it: refund and dispute events for one
payment, and a Hypothesis strategy for any mix of them (partial and full, failed refunds,
disputes lost, won, left open, inquiries), duplicated and in any order, the payment's own
completion anywhere among them. Shared by the unit model and the run against Azurite."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from local_host.sandbox.stripe_signing import build_event

# One delivery: ("credit", "", 0, ""), ("refund", id, amount, status) or
# ("dispute", event type, amount, status), built into an event for a given payment.
Delivery = tuple[str, str, int, str]


def refund_event(pi: str, refund_id: str, amount: int, status: str = "succeeded") -> dict[str, Any]:
    event_type = "refund.failed" if status == "failed" else "refund.created"
    refund = {"id": refund_id, "object": "refund", "amount": amount, "currency": "usd"}
    return build_event(event_type, {**refund, "status": status, "payment_intent": pi})


def dispute_event(
    pi: str, amount: int, status: str, event_type: str = "charge.dispute.created"
) -> dict[str, Any]:
    dispute = {"id": f"du_{pi}", "object": "dispute", "amount": amount, "currency": "usd"}
    return build_event(event_type, {**dispute, "status": status, "payment_intent": pi})


def stripe_event(pi: str, delivery: Delivery, completion: dict[str, Any]) -> dict[str, Any]:
    kind, name, amount, status = delivery
    if kind == "credit":
        return completion
    if kind == "refund":
        return refund_event(pi, f"re_{name}_{pi}", amount, status)
    return dispute_event(pi, amount, status, name)


@dataclass(frozen=True)
class Returns:
    paid_minor: int
    credit_micros: int
    deliveries: list[Delivery]
    returned_minor: int  # what went back in the end: refunds not failed, chargebacks not won

    @property
    def exact_micros(self) -> int:
        """The credit that money stands for, computed here independently of the app."""
        returned = min(self.returned_minor, self.paid_minor)
        return self.credit_micros * returned // self.paid_minor


_DISPUTE_ENDS = ("none", "open", "lost", "won", "inquiry", "inquiry_closed")
_CLOSED_AS = {"lost": "lost", "won": "won", "inquiry_closed": "warning_closed"}


@st.composite
def returns(draw: st.DrawFn, max_paid: int = 100_000) -> Returns:
    paid = draw(st.integers(1, max_paid))
    credit = draw(st.integers(1, 10**13))
    events: list[Delivery] = [("credit", "", 0, "")]
    returned, left = 0, paid
    for n in range(draw(st.integers(0, 4))):
        if left == 0:
            break
        amount = draw(st.integers(1, left))
        left -= amount
        events.append(("refund", str(n), amount, "succeeded"))
        if draw(st.booleans()):
            events.append(("refund", str(n), amount, "failed"))
        else:
            returned += amount
    end = draw(st.sampled_from(_DISPUTE_ENDS))
    if end != "none":
        # Mostly what the refunds left (so the whole payment went back), else any part of it:
        # a chargeback may overlap a refund, and together they never take more than the credit.
        amount = draw(st.one_of(st.just(max(left, 1)), st.integers(1, paid)))
        opened = "warning_needs_response" if end.startswith("inquiry") else "needs_response"
        events.append(("dispute", "charge.dispute.created", amount, opened))
        if end in _CLOSED_AS:
            events.append(("dispute", "charge.dispute.closed", amount, _CLOSED_AS[end]))
        if end in ("open", "lost"):
            returned += amount
    copies = [event for event in events for _ in range(draw(st.integers(1, 3)))]
    return Returns(paid, credit, draw(st.permutations(copies)), returned)
