"""What /api/checkout asks Stripe for: the Checkout Session for a credit pack, the metadata
that later tells a webhook who bought what, and the idempotency key; and the ways a request
is refused before Stripe is asked (an unknown pack, a malformed nonce, and purchases paused
while a payment is disputed, which Payments checks against the ledger).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from shared.config import CreditPack
from shared.errors import Forbidden, InvalidInput
from shared.money.micros import format_micros, micros_to_minor

# Metadata keys on the Checkout Session and its PaymentIntent.
META_USER = "user_id"
META_PACK = "pack"
META_CREDIT = "credit_micros"

_NONCE = re.compile(r"[A-Za-z0-9_-]{8,64}")


class UnknownPack(InvalidInput):
    """The pack asked for is not one of the configured credit packs."""


class PurchasesPaused(Forbidden):
    """The account has a disputed payment; no new purchase until the dispute is resolved."""


@dataclass(frozen=True)
class CheckoutRequest:
    """What /api/checkout asks Stripe for, independent of the SDK."""

    idempotency_key: str
    amount_minor: int
    currency: str  # ISO 4217, upper case
    product_name: str
    client_reference_id: str
    metadata: Mapping[str, str]
    success_url: str
    cancel_url: str


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


def offered_pack(packs: tuple[CreditPack, ...], pack_id: str) -> CreditPack:
    """The configured pack named `pack_id`, or UnknownPack naming those on offer."""
    pack = next((p for p in packs if p.id == pack_id), None)
    if pack is None:
        offered = ", ".join(p.id for p in packs)
        raise UnknownPack(f"There is no credit pack {pack_id[:20]!r}; choose one of {offered}.")
    return pack


def check_nonce(nonce: str | None) -> None:
    """A nonce, when given, is one the idempotency key may carry."""
    if nonce is not None and not _NONCE.fullmatch(nonce):
        raise InvalidInput("The field 'nonce' must be 8 to 64 letters, digits, - or _.")


def checkout_metadata(user_id: str, pack: CreditPack) -> dict[str, str]:
    return {META_USER: user_id, META_PACK: pack.id, META_CREDIT: str(pack.credit_micros)}


def checkout_idempotency_key(
    user_id: str, pack: CreditPack, nonce: str | None, now: datetime
) -> str:
    """One key per intended purchase, so a double-clicked "Buy" gets one session.

    The page sends a nonce it makes once per page view: every request from that view, however
    many clicks, names the same purchase and Stripe answers them all with one session. A
    caller without a nonce shares a session with its own requests of the same minute. The
    pack's price and credit are part of the key, so a changed pack is a new request rather
    than an idempotency error.
    """
    salt = f"n:{nonce}" if nonce else f"t:{int(now.timestamp()) // 60}"
    text = f"{user_id}\n{pack.id}\n{pack.price_micros}\n{pack.credit_micros}\n{salt}"
    return "checkout-" + hashlib.sha256(text.encode()).hexdigest()[:48]


def checkout_request(
    user_id: str,
    pack: CreditPack,
    currency: str,
    public_base_url: str,
    nonce: str | None,
    now: datetime,
) -> CheckoutRequest:
    credit = format_micros(pack.credit_micros, currency)
    return CheckoutRequest(
        idempotency_key=checkout_idempotency_key(user_id, pack, nonce, now),
        amount_minor=micros_to_minor(pack.price_micros, currency),
        currency=currency,
        product_name=f"OwnNumber credit: {credit}",
        client_reference_id=user_id,
        metadata=checkout_metadata(user_id, pack),
        # Stripe replaces {CHECKOUT_SESSION_ID}; the page then reads the status from us.
        success_url=f"{public_base_url}/?checkout={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{public_base_url}/?checkout=cancelled",
    )
