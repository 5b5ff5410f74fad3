"""What a purchase must have paid: the price of the pack sold, in the deployment's currency.

A completed Checkout Session credits its pack only when Stripe took exactly that pack's price
in CURRENCY: the session's `currency` is CURRENCY and its `amount_total` is the price, as our
checkout record says (what /api/checkout asked Stripe for), else as the pack is configured,
else, for a pack no longer offered, as its id says (a pack's id is the price CREDIT_PACKS
wrote for it: "12" sold at 12.00). Anything else is refused, never credited at a guess:

- another currency. Since 2025-03-30 Stripe keeps a session's `currency` and `amount_total`
  in the currency it was created in, ours, on every API version, also when the customer paid
  in their own (Adaptive Pricing): what they saw is `presentment_details`, which we never
  credit from, and refunds come back converted into ours. Sessions created before then had
  the customer's currency there (and in their PaymentIntent, charge and refunds), ours only
  under `currency_conversion`; one of those is refused like any other currency.
- less than the price (a promotion code or discount: we enable none) or more (tax: automatic
  tax is off), or a price we cannot tell (a retired pack whose id is not an amount).

Nothing here does I/O: credit.purchases and credit.payment_book decide with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from shared.config import CreditPack
from shared.credit.payment_records import CheckoutRecord
from shared.money.micros import (
    AmountError,
    format_micros,
    micros_to_minor,
    minor_to_micros,
    parse_micros,
)

# A pack id that names a price as CREDIT_PACKS writes one ("5", "12.50"); other ids name none.
_PRICE_ID = re.compile(r"[0-9]{1,9}(\.[0-9]{1,6})?")


@dataclass(frozen=True)
class Price:
    amount_minor: int
    currency: str  # ISO 4217, upper case

    def __str__(self) -> str:
        """'12.00 USD': amounts and currency codes, never anything about a person."""
        return format_micros(minor_to_micros(self.amount_minor, self.currency), self.currency)


class RefusalReason(StrEnum):
    CURRENCY = "currency"  # not paid in the deployment's currency
    AMOUNT = "amount"  # not the pack's price: a discount, tax, or another price
    NO_PRICE = "no_price"  # the pack's price in our currency is not known


@dataclass(frozen=True)
class Refusal:
    """Why a payment is not credited: the price sold (if known), and what was paid."""

    reason: RefusalReason
    expected: Price | None
    received: Price

    @property
    def expected_text(self) -> str:
        return str(self.expected) if self.expected else "no known price"


def price_sold(
    pack_id: str, packs: tuple[CreditPack, ...], currency: str, checkout: CheckoutRecord | None
) -> Price | None:
    """The price the pack was sold at: our checkout record's, else the configured pack's,
    else the price its id names; None when none of them gives one in minor units."""
    if checkout is not None and checkout.amount_minor > 0 and checkout.currency:
        return Price(checkout.amount_minor, checkout.currency)
    pack = next((p for p in packs if p.id == pack_id), None)
    if pack is None and not _PRICE_ID.fullmatch(pack_id):
        return None
    try:
        micros = pack.price_micros if pack else parse_micros(pack_id)
        minor = micros_to_minor(micros, currency)
    except AmountError:
        return None
    return Price(minor, currency) if minor > 0 else None


def refusal(received: Price, sold: Price | None, currency: str) -> Refusal | None:
    """None when `received` is exactly the price sold, in `currency` (the deployment's)."""
    if received.currency != currency:
        return Refusal(RefusalReason.CURRENCY, sold, received)
    if sold is None or sold.currency != currency:
        # Sold in another currency (CURRENCY changed since), or at no price we can tell.
        return Refusal(RefusalReason.NO_PRICE, sold, received)
    if received.amount_minor != sold.amount_minor:
        return Refusal(RefusalReason.AMOUNT, sold, received)
    return None
