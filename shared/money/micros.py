"""Money as integers: micro-units of the deployment currency (1 unit = 1,000,000 micros).

Floats never touch an amount. Decimal strings from settings or rate decks are converted
exactly, and anything finer than a micro is refused rather than rounded away.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

MICROS_PER_UNIT = 1_000_000

# ISO 4217 currencies whose Stripe amounts carry no minor unit (Stripe's own list).
_ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
_THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])


class AmountError(ValueError):
    """A money amount that cannot be represented exactly."""


def parse_micros(text: str) -> int:
    """'12.5' -> 12_500_000. Refuses more than six decimal places instead of rounding."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise AmountError(f"{text!r} is not a decimal amount") from None
    if not value.is_finite():
        raise AmountError(f"{text!r} is not a finite amount")
    micros = value * MICROS_PER_UNIT
    if micros != micros.to_integral_value():
        raise AmountError(f"{text!r} has more than six decimal places")
    return int(micros)


def minor_unit_exponent(currency: str) -> int:
    """Decimal places of the currency's smallest unit as payment processors count it."""
    code = currency.upper()
    if code in _ZERO_DECIMAL:
        return 0
    if code in _THREE_DECIMAL:
        return 3
    return 2


def micros_to_minor(micros: int, currency: str) -> int:
    """Micros to the processor's minor units (cents for USD); exact or AmountError."""
    per_minor: int = MICROS_PER_UNIT // 10 ** minor_unit_exponent(currency)
    minor, rest = divmod(micros, per_minor)
    if rest:
        raise AmountError(f"{micros} micros is not a whole number of {currency} minor units")
    return minor


def minor_to_micros(minor: int, currency: str) -> int:
    per_minor: int = MICROS_PER_UNIT // 10 ** minor_unit_exponent(currency)
    return minor * per_minor


def format_micros(micros: int, currency: str) -> str:
    """Human text such as '12.50 USD' (more places only when the amount needs them)."""
    places = max(minor_unit_exponent(currency), 0)
    value = Decimal(micros) / MICROS_PER_UNIT
    text = f"{value:.6f}".rstrip("0")
    whole, _, frac = text.partition(".")
    frac = frac.ljust(places, "0")
    return f"{whole}.{frac} {currency}" if frac else f"{whole} {currency}"


def credit_taken_back(credit_micros: int, paid_minor: int, returned_minor: int) -> int:
    """How much of a purchase's credit goes when `returned_minor` of its `paid_minor` payment
    has gone back to the payer (refunded, or charged back), in whole micros.

    floor(credit x returned / paid), counting what was returned between nothing and the whole
    payment (a refund and a chargeback of the same money take the credit once). Each refund or
    dispute takes back the difference it makes to this figure, from the payment's totals before
    and after it, so together they take exactly this, in any number and order: a part never
    more than its share, the whole payment exactly the whole credit.
    """
    if paid_minor <= 0:
        raise ValueError("a payment's amount is positive")
    returned = min(max(returned_minor, 0), paid_minor)
    return credit_micros * returned // paid_minor
