"""What Stripe tells us, as plain data: a verified webhook body read into an event, Stripe's
objects (Checkout Session, PaymentIntent, charge, refund, dispute) read into the few facts we
act on, and `interpret()`, which decides without any I/O what each event asks for.

Nothing here trusts a field it has not checked: an id we would key a row by must be a valid
entry id, and a purchase is ours only if the metadata that /api/checkout set
(credit.checkout_requests) is all there and agrees with itself. A signed event is still
refused (EventFieldInvalid, a 400) when an amount in it is not one Stripe sends: an amount
outside 0..MAX_MINOR_UNITS, or not an integer, or our metadata's credit outside
1..MAX_CREDIT_MICROS. Such a figure is a bug or a forgery; stored, it would overflow Table
Storage's Int64 or the balance. (That the credit is the one its pack was sold with, and the
amount paid its price in our currency, needs our rows and settings: credit.purchases checks
them, with credit.sold.)

It is long because it is the one door for Stripe's objects: every field we act on is read
and checked here, so nothing past it ever sees an unchecked Stripe value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from shared.credit.checkout_requests import META_CREDIT, META_PACK, META_USER
from shared.errors import InvalidInput
from shared.storage.keys import is_valid_entry_id

# What a dispute means for the account, from its event and Stripe's status.
DISPUTE_OPEN = "open"  # a chargeback: the money left, the account is held
DISPUTE_INQUIRY = "inquiry"  # an inquiry (warning_*): no money moved yet, nothing held
DISPUTE_WON = "won"  # closed with the money kept by the merchant: the credit comes back
DISPUTE_LOST = "lost"  # closed with the money gone: the debit stays
DISPUTE_CLOSED = "closed"  # closed with a status we do not know: the debit stays

# "updated" too: an inquiry that becomes a chargeback may only say so in an update.
DISPUTE_EVENTS = frozenset(
    ["charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed"]
)
# Stripe's final statuses in which the merchant keeps the money: won, an inquiry closed
# without a chargeback, and a chargeback prevented (e.g. by Visa's Rapid Dispute Resolution).
_DISPUTE_KEPT = frozenset(["won", "warning_closed", "prevented"])
_DISPUTE_FINAL = _DISPUTE_KEPT | {"lost"}
_REFUND_EVENTS = frozenset(
    ["refund.created", "refund.updated", "refund.failed", "charge.refund.updated"]
)
_SESSION_EVENTS = frozenset(
    [
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
    ]
)
_LAST4 = re.compile(r"[0-9]{4}")
# Stripe's statuses of a refund whose money never left.
_REFUND_UNDONE = frozenset(["failed", "canceled"])

# Stripe's amounts have at most eight digits in most currencies (99,999,999: $999,999.99)
# and twelve in the few with tiny units (IDR): no larger figure is an amount Stripe sends.
MAX_MINOR_UNITS = 999_999_999_999
# The most credit one purchase may grant: a billion units of the currency, far above any
# pack, and small enough that no account's purchases add up to near Int64 (9.2 x 10^18).
MAX_CREDIT_MICROS = 10**15
# Pack ids are the prices CREDIT_PACKS lists ("5", "12.50").
_PACK_ID = re.compile(r"[A-Za-z0-9._-]{1,20}")
_CREDIT_TEXT = re.compile(r"[0-9]{1,16}")


class MalformedEvent(InvalidInput):
    """A correctly signed body that is not a Stripe event."""


class EventFieldInvalid(MalformedEvent):
    """A signed event whose `field` holds what Stripe never sends (an amount of 10^30, say).

    The message is a sentence for the caller and names no value; `field` is for the log.
    """

    def __init__(self, field: str, sentence: str) -> None:
        super().__init__(sentence)
        self.field = field


@dataclass(frozen=True)
class StripeEvent:
    id: str
    type: str
    object: Mapping[str, Any]  # data.object, parsed from the verified raw body


@dataclass(frozen=True)
class Card:
    brand: str
    last4: str


@dataclass(frozen=True)
class Purchase:
    """What was sold: to whom, which pack, the credit it grants, for how much was paid.

    A payment that did not pay what was sold (credit.sold) grants nothing: `refused` says why
    and `credit_micros` is 0, so whatever of it goes back takes no credit back either.
    """

    user_id: str
    pack: str
    credit_micros: int
    amount_minor: int
    currency: str  # ISO 4217, upper case
    refused: str = ""  # a credit.sold.RefusalReason, or "" when credited

    def refuse(self, reason: str) -> Purchase:
        return replace(self, credit_micros=0, refused=str(reason))


@dataclass(frozen=True)
class PaymentIntentInfo:
    purchase: Purchase | None  # None: not one of our purchases
    charge_id: str
    card: Card | None


@dataclass(frozen=True)
class SessionFacts:
    id: str
    payment_intent: str
    payment_status: str
    purchase: Purchase


@dataclass(frozen=True)
class Reversal:
    """A refund (re_…) or a dispute (du_…): part of a payment going back to the payer."""

    id: str
    amount_minor: int
    currency: str
    status: str
    payment_intent: str
    charge_id: str


@dataclass(frozen=True)
class Return:
    """One ledger entry a refund or dispute asks for: part of the payment gone back to the payer
    (`refunded_minor` or `disputed_minor` above 0), or come back (below 0: a refund that
    failed, a dispute the merchant kept). The credit it moves is not decided here: it follows
    from the payment's totals before and after it (shared/money/micros.py credit_taken_back).
    """

    entry_id: str
    kind: str  # the ledger entry's kind: refund, refund_reversal, dispute or dispute_reversal
    refunded_minor: int = 0
    disputed_minor: int = 0
    only_after: str = ""  # posted only once this entry is: it gives back only what was taken


def refund_returns(refund: Reversal) -> tuple[Return, ...]:
    """A refund's entries, in the order they are posted.

    A failed or canceled one still posts its debit first, then gives it back: whichever of its
    events arrives first, the refund ends with both entries and nothing taken.
    """
    debit = Return(refund.id, "refund", refunded_minor=refund.amount_minor)
    if refund.status not in _REFUND_UNDONE:
        return (debit,)
    reversal = Return(
        f"{refund.id}:reversed", "refund_reversal", refunded_minor=-refund.amount_minor
    )
    return (debit, reversal)


def dispute_returns(dispute: Reversal, outcome: str) -> tuple[Return, ...]:
    """A dispute's entries, in the order they are posted, for its `outcome`.

    An inquiry (warning_*) takes nothing: no money has left. A chargeback takes its share, and
    keeps it unless the merchant keeps the money (won, prevented), when it gives it back; a
    close that arrives before the chargeback's own event posts both. An inquiry closed
    (warning_closed) gives back only what a chargeback of the same dispute had taken.
    """
    if outcome == DISPUTE_INQUIRY:
        return ()
    debit = Return(dispute.id, "dispute", disputed_minor=dispute.amount_minor)
    if outcome != DISPUTE_WON:
        return (debit,)
    kept = Return(f"{dispute.id}:won", "dispute_reversal", disputed_minor=-dispute.amount_minor)
    if dispute.status.startswith("warning_"):
        return (replace(kept, only_after=dispute.id),)
    return (debit, kept)


def dispute_outcome(status: str, closed: bool) -> str:
    """What a dispute in Stripe's `status` means; a closed one is never open again."""
    if closed:
        if status in _DISPUTE_KEPT:
            return DISPUTE_WON
        return DISPUTE_LOST if status == "lost" else DISPUTE_CLOSED
    return DISPUTE_INQUIRY if status.startswith("warning_") else DISPUTE_OPEN


# What an event asks for, decided without any I/O.


@dataclass(frozen=True)
class CreditPurchase:
    session: SessionFacts


@dataclass(frozen=True)
class RecordPayment:
    """Completed but not paid (yet), or failed: recorded, no money moves."""

    session: SessionFacts
    failed: bool


@dataclass(frozen=True)
class ApplyRefunds:
    charge_id: str
    refunds: tuple[Reversal, ...] | None  # None: the event did not list them; ask Stripe
    card: Card | None


@dataclass(frozen=True)
class ApplyDispute:
    dispute: Reversal
    outcome: str  # DISPUTE_OPEN, DISPUTE_INQUIRY, DISPUTE_WON, DISPUTE_LOST or DISPUTE_CLOSED


@dataclass(frozen=True)
class Ignore:
    reason: str


Instruction = CreditPurchase | RecordPayment | ApplyRefunds | ApplyDispute | Ignore


def event_from_json(data: Any) -> StripeEvent:
    """The parsed body of a verified webhook as a StripeEvent."""
    event_id = _text(data, "id")
    event_type = _text(data, "type")
    payload = data.get("data") if isinstance(data, dict) else None
    obj = payload.get("object") if isinstance(payload, dict) else None
    if not event_id or not event_type or not isinstance(obj, dict):
        raise MalformedEvent("The body is not a Stripe event (id, type and data.object).")
    return StripeEvent(event_id, event_type, obj)


def interpret(event: StripeEvent) -> Instruction:
    obj = event.object
    if event.type in _SESSION_EVENTS:
        return _interpret_session(event.type, obj)
    if event.type == "charge.refunded":
        charge_id = _id(obj, "id")
        if not charge_id:
            return Ignore("a refunded charge without an id")
        return ApplyRefunds(charge_id, _listed_refunds(obj), card_from_charge(obj))
    if event.type in _REFUND_EVENTS:
        refund = reversal_facts(obj)
        if refund is None:
            return Ignore("a refund without an id, amount or PaymentIntent")
        return ApplyRefunds(refund.charge_id, (refund,), None)
    if event.type in DISPUTE_EVENTS:
        dispute = reversal_facts(obj)
        if dispute is None:
            return Ignore("a dispute without an id, amount or PaymentIntent")
        closed = event.type == "charge.dispute.closed" or dispute.status in _DISPUTE_FINAL
        return ApplyDispute(dispute, dispute_outcome(dispute.status, closed))
    return Ignore(f"{event.type} is not an event this app acts on")


def _interpret_session(event_type: str, obj: Mapping[str, Any]) -> Instruction:
    if obj.get("mode") not in (None, "payment"):
        return Ignore("a Checkout Session that is not a one-off payment")
    currency = (_text(obj, "currency") or "").upper()
    purchase = purchase_from_metadata(
        obj.get("metadata"),
        _amount(obj, "amount_total"),
        currency,
        fallback_user=_text(obj, "client_reference_id"),
    )
    if purchase is None:
        return Ignore("a Checkout Session that is not one of our credit purchases")
    payment_intent = _id(obj, "payment_intent")
    session_id = _id(obj, "id")
    if not payment_intent or not session_id:
        return Ignore("a Checkout Session without its id or PaymentIntent")
    session = SessionFacts(session_id, payment_intent, _text(obj, "payment_status") or "", purchase)
    if event_type == "checkout.session.async_payment_failed":
        return RecordPayment(session, failed=True)
    if session.payment_status != "paid":
        return RecordPayment(session, failed=False)
    return CreditPurchase(session)


def purchase_from_metadata(
    metadata: Any,
    amount_minor: int | None,
    currency: str,
    fallback_user: str | None = None,
) -> Purchase | None:
    """The purchase our checkout described in metadata, or None if it is not ours.

    Ours but impossible (a credit of 2^63 micros, a pack id of a page of text) is refused:
    EventFieldInvalid.
    """
    if not isinstance(metadata, Mapping):
        return None
    user_id = metadata.get(META_USER) or fallback_user
    pack = metadata.get(META_PACK)
    credit_text = metadata.get(META_CREDIT)
    if not isinstance(user_id, str) or not is_valid_entry_id(user_id):
        return None
    if fallback_user and fallback_user != user_id:
        return None  # both are ours and must agree
    if not pack or credit_text is None:
        return None
    if not isinstance(pack, str) or not _PACK_ID.fullmatch(pack):
        raise EventFieldInvalid(
            f"metadata.{META_PACK}", "The purchase's pack is not a pack id this app gives out."
        )
    credit = _credit_micros(credit_text)
    if amount_minor is None or amount_minor <= 0 or not re.fullmatch(r"[A-Z]{3}", currency):
        return None
    return Purchase(user_id, pack, credit, amount_minor, currency)


def _credit_micros(text: Any) -> int:
    if isinstance(text, str) and _CREDIT_TEXT.fullmatch(text):
        credit = int(text)
        if 0 < credit <= MAX_CREDIT_MICROS:
            return credit
    raise EventFieldInvalid(
        f"metadata.{META_CREDIT}",
        f"The purchase's credit is not a whole number of micros from 1 to {MAX_CREDIT_MICROS:,}.",
    )


def payment_intent_info(obj: Mapping[str, Any]) -> PaymentIntentInfo | None:
    """A PaymentIntent (its latest_charge id or expanded) as what we need of it."""
    if not _id(obj, "id"):
        return None
    purchase = purchase_from_metadata(
        obj.get("metadata"), _amount(obj, "amount"), (_text(obj, "currency") or "").upper()
    )
    charge = obj.get("latest_charge")
    if isinstance(charge, Mapping):
        return PaymentIntentInfo(purchase, _id(charge, "id") or "", card_from_charge(charge))
    charge_id = charge if isinstance(charge, str) and is_valid_entry_id(charge) else ""
    return PaymentIntentInfo(purchase, charge_id, None)


def reversal_facts(obj: Mapping[str, Any]) -> Reversal | None:
    """A Refund or Dispute object, or None without the id, amount and PaymentIntent we key by."""
    reversal_id = _id(obj, "id")
    amount = _amount(obj, "amount")
    payment_intent = _id(obj, "payment_intent")
    if not reversal_id or amount is None or not payment_intent:
        return None
    return Reversal(
        reversal_id,
        amount,
        (_text(obj, "currency") or "").upper(),
        _text(obj, "status") or "",
        payment_intent,
        _id(obj, "charge") or "",
    )


def card_from_charge(charge: Mapping[str, Any]) -> Card | None:
    """Brand and last four digits for the receipt; nothing else of the card is ever kept."""
    details = charge.get("payment_method_details")
    card = details.get("card") if isinstance(details, Mapping) else None
    if not isinstance(card, Mapping):
        return None
    brand, last4 = _text(card, "brand"), _text(card, "last4")
    if not brand or not last4 or not _LAST4.fullmatch(last4):
        return None
    return Card(brand[:20], last4)


def _listed_refunds(charge: Mapping[str, Any]) -> tuple[Reversal, ...] | None:
    # API versions since 2022-11-15 leave refunds out of a charge; older ones list them.
    refunds = charge.get("refunds")
    if not isinstance(refunds, Mapping) or refunds.get("has_more"):
        return None
    data = refunds.get("data")
    if not isinstance(data, list):
        return None
    facts = [reversal_facts(item) for item in data if isinstance(item, Mapping)]
    return tuple(f for f in facts if f is not None)


def _id(obj: Any, name: str) -> str | None:
    """A Stripe id we can key a row by, or None."""
    value = _text(obj, name)
    return value if value and is_valid_entry_id(value) else None


def _text(obj: Any, name: str) -> str | None:
    value = obj.get(name) if isinstance(obj, Mapping) else None
    return value if isinstance(value, str) and value else None


def _amount(obj: Any, name: str) -> int | None:
    """An amount in minor units; None when there is none; EventFieldInvalid when it is not one
    Stripe sends (not an integer, negative, or more than MAX_MINOR_UNITS)."""
    value = obj.get(name) if isinstance(obj, Mapping) else None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_MINOR_UNITS:
        raise EventFieldInvalid(
            name,
            f"The field {name!r} is not an amount Stripe sends: a whole number of minor units "
            f"from 0 to {MAX_MINOR_UNITS:,}.",
        )
    return value
