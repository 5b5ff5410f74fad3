"""How a number is written for people: international and national formats of an E.164 number.

Pure, over `phonenumbers`' formatting rules, imported on first use (as in destination_policy).
A stored number that no longer parses (a row written before a metadata update, say) has no
format, and callers show it as it is.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NumberFormats:
    international: str  # "+44 20 7946 0958"
    national: str  # "020 7946 0958"


def number_formats(e164: str) -> NumberFormats | None:
    """The ways to write an E.164 number, or None when it does not parse as one."""
    import phonenumbers
    from phonenumbers import NumberParseException, PhoneNumberFormat

    if not e164.startswith("+") or len(e164) > 16:
        return None
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return None
    return NumberFormats(
        international=phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL),
        national=phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL),
    )


def international(e164: str) -> str:
    """The number in international format, or as it is when it cannot be formatted."""
    formats = number_formats(e164)
    return formats.international if formats else e164
