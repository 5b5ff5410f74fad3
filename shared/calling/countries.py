"""The countries a dialler can call: those the rate deck prices and the destination policy
does not block, each with its calling code and an example number to show as a placeholder.

Pure, over `phonenumbers`' metadata (imported on first use). A country is callable when one
of phonenumbers' example numbers for it, a mobile or a landline, passes the destination policy
and has a price in the deck: exactly what the voice webhook would decide for that number. So a
country that shares its calling code with a priced one (Canada under +1, Jersey under +44)
is listed when the deck prices it through that code, and one whose every number the operator
blocks (BLOCKED_COUNTRIES, or a BLOCKED_PREFIXES entry that covers it) is not. The examples
stand for the country: a deck that prices only some ranges of a country (only London's
landlines, say) lists it only if one of its two examples falls in them.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.calling.destination_policy import DestinationRefused, PolicySettings, check_destination
from shared.calling.rating import RateDeck


@dataclass(frozen=True)
class Country:
    region: str  # ISO 3166 alpha-2, e.g. "GB"
    calling_code: int  # e.g. 44
    example: str | None  # a mobile number as dialled at home, "07400 123456"; else a landline


def callable_countries(deck: RateDeck, policy: PolicySettings) -> tuple[Country, ...]:
    """Every country with a callable example number, sorted by region."""
    import phonenumbers
    from phonenumbers import PhoneNumberFormat, PhoneNumberType

    prefixes = [rate.prefix for rate in deck.rates]
    # Only the calling codes the deck can price: a country's numbering plan is loaded and
    # compiled on first use, and most of the world's would be for nothing.
    candidates = sorted(
        (region, code)
        for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items()
        if _may_price(str(code), prefixes)
        for region in regions
        if region in phonenumbers.SUPPORTED_REGIONS
    )
    countries: list[Country] = []
    for region, code in candidates:
        examples = [
            phonenumbers.example_number_for_type(region, kind)
            for kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE)
        ]
        numbers = [number for number in examples if number is not None]
        e164s = [phonenumbers.format_number(n, PhoneNumberFormat.E164) for n in numbers]
        if not any(_is_callable(e164, region, deck, policy) for e164 in e164s):
            continue
        example = numbers[0] if numbers else None
        countries.append(
            Country(
                region=region,
                calling_code=code,
                example=(
                    phonenumbers.format_number(example, PhoneNumberFormat.NATIONAL)
                    if example is not None
                    else None
                ),
            )
        )
    return tuple(countries)


def _may_price(calling_code: str, prefixes: list[str]) -> bool:
    """Whether any number under the calling code can match one of the deck's prefixes."""
    return any(p.startswith(calling_code) or calling_code.startswith(p) for p in prefixes)


def _is_callable(e164: str, region: str, deck: RateDeck, policy: PolicySettings) -> bool:
    try:
        destination = check_destination(e164, policy)
    except DestinationRefused:
        return False
    # Some examples are another country's numbers too, and phonenumbers files them there (the
    # Isle of Man's example mobile is a valid UK mobile, and counts as GB): such a number
    # says nothing of whether this country may be called.
    return destination.country == region and deck.lookup(destination.e164) is not None
