"""Which numbers OwnNumber will call, decided before any money or carrier is involved.

Pure domain over `phonenumbers` (offline metadata, no I/O), which is imported on the first
number checked rather than with this module: its metadata costs a cold start that a token
mint or a webhook does not need. Premium-rate, shared-cost and similar numbers are refused
because their cost to the caller is unknown or is the point of a fraud (international revenue
share), emergency numbers because a browser call has no location and no guaranteed route.
Operators add countries and prefixes of their own.

Every refusal carries a `reason` meant for the user, which contains the number they dialled:
show it to them, but log only the machine `code`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import unquote

from shared.errors import CallRefused, InvalidInput

if TYPE_CHECKING:
    import phonenumbers

# Longer input is garbage, not a phone number; refusing it early bounds the parsing work.
_MAX_INPUT_CHARS = 64
# No emergency number anywhere is longer (checked against phonenumbers' short-number metadata).
_MAX_EMERGENCY_DIGITS = 6
# What people type or paste between digits: spaces, dashes (ASCII and typographic), dots,
# slashes and parentheses. Anything else (letters, extensions, '*', '#') is refused.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212./()]")
_DIALLED = re.compile(r"(\+?)([0-9]+)")
_COUNTRY = re.compile(r"[A-Z]{2}")
_PREFIX = re.compile(r"[1-9][0-9]{0,14}")
_NO_COUNTRY = "001"  # phonenumbers' region for non-geographic codes such as +800 and +882
# A tel: link (RFC 3966) as pages carry them: "tel:+44-20-7946-0958", percent-encoded or not.
_TEL_SCHEME = "tel:"
# A link's text may be percent-encoded (three characters a digit); longer is not a number.
_MAX_LINK_CHARS = 4 * _MAX_INPUT_CHARS
_REGION = re.compile(r"[A-Za-z]{2}")


@cache
def _allowed_types() -> dict[int, str]:
    from phonenumbers import PhoneNumberType

    return {
        PhoneNumberType.FIXED_LINE: "fixed_line",
        PhoneNumberType.MOBILE: "mobile",
        # Where the numbering plan cannot tell them apart, as in the whole of +1.
        PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
        PhoneNumberType.TOLL_FREE: "toll_free",
        PhoneNumberType.VOIP: "voip",
        PhoneNumberType.VOICEMAIL: "voicemail",
    }


@cache
def _high_risk_types() -> dict[int, str]:
    from phonenumbers import PhoneNumberType

    return {
        PhoneNumberType.PAGER: "a pager number",
        PhoneNumberType.UAN: "a universal access (non-geographic) number",
        PhoneNumberType.PERSONAL_NUMBER: "a personal (follow-me) number",
        PhoneNumberType.UNKNOWN: "a number of unknown type",
    }


@dataclass(frozen=True)
class PolicySettings:
    """The operator's own refusals, on top of the ones every deployment makes."""

    blocked_countries: frozenset[str] = frozenset()
    blocked_prefixes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for country in self.blocked_countries:
            if not _COUNTRY.fullmatch(country):
                raise ValueError(f"Blocked country {country!r} must be an upper-case alpha-2 code.")
        for prefix in self.blocked_prefixes:
            if not _PREFIX.fullmatch(prefix):
                raise ValueError(f"Blocked prefix {prefix!r} must be E.164 digits without '+'.")


@dataclass(frozen=True)
class Destination:
    """A number OwnNumber will call."""

    e164: str
    country: str  # ISO alpha-2, or "" for non-geographic numbers such as +882
    number_type: str  # one of the values of _ALLOWED_TYPES, e.g. "mobile"


class DestinationRefused(CallRefused):
    """OwnNumber will not call this number: `reason` is for the user, `code` for machines."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason, code)


class InvalidNumber(DestinationRefused):
    def __init__(self, reason: str) -> None:
        super().__init__(reason, "invalid_number")


class EmergencyNumberRefused(DestinationRefused):
    def __init__(self, reason: str) -> None:
        super().__init__(reason, "emergency")


class PremiumRateRefused(DestinationRefused):
    def __init__(self, reason: str) -> None:
        super().__init__(reason, "premium_rate")


class SharedCostRefused(DestinationRefused):
    def __init__(self, reason: str) -> None:
        super().__init__(reason, "shared_cost")


class HighRiskNumberRefused(DestinationRefused):
    """Pagers, universal access and personal numbers, and numbers of no known type."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, "high_risk_type")


class BlockedDestination(DestinationRefused):
    """Refused by the operator's settings; `code` is "blocked_country" or "blocked_prefix"."""


def check_destination(
    raw: str, settings: PolicySettings, default_region: str | None = None
) -> Destination:
    """The Destination for what the user dialled, or the DestinationRefused saying why not.

    Without `default_region` the number must be international, starting with '+'; with it,
    national numbers of that region are accepted too.
    """
    import phonenumbers
    from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

    has_plus, digits = _clean(raw)
    region_hint = default_region.upper() if default_region else None

    if _is_emergency_here(has_plus, digits, region_hint):
        raise _emergency(raw)
    if not has_plus and region_hint is None:
        if _is_emergency_anywhere(digits):
            raise _emergency(raw)
        raise InvalidNumber(
            f"{_shown(raw)} is not in international format; start with + and the country code, "
            "for example +44 20 7946 0018."
        )
    try:
        number = phonenumbers.parse(("+" if has_plus else "") + digits, region_hint)
    except NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        # A short number dialled from abroad, like 911 in the UK, is still someone's emergency.
        if _is_emergency_anywhere(digits):
            raise _emergency(raw)
        raise InvalidNumber(
            f"{_shown(raw)} is not a valid phone number; check the country code and the digits."
        )

    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    shown = _display(number)
    number_type = phonenumbers.number_type(number)
    if number_type == PhoneNumberType.PREMIUM_RATE:
        raise PremiumRateRefused(
            f"{shown} is a premium-rate number; OwnNumber does not call premium-rate numbers."
        )
    if number_type == PhoneNumberType.SHARED_COST:
        raise SharedCostRefused(
            f"{shown} is a shared-cost number; OwnNumber does not call shared-cost numbers."
        )
    allowed = _allowed_types()
    if number_type not in allowed:
        kind = _high_risk_types().get(number_type, "a number of unknown type")
        raise HighRiskNumberRefused(
            f"{shown} is {kind}; OwnNumber does not call these numbers because what they cost "
            "cannot be known in advance."
        )

    region = phonenumbers.region_code_for_number(number) or ""
    country = "" if region == _NO_COUNTRY else region
    if country and country in settings.blocked_countries:
        raise BlockedDestination(
            f"Calls to {shown} are not available: this OwnNumber service does not call "
            f"numbers in {country}.",
            "blocked_country",
        )
    for prefix in settings.blocked_prefixes:
        if e164[1:].startswith(prefix):
            raise BlockedDestination(
                f"Calls to {shown} are not available: this OwnNumber service does not call "
                f"numbers starting +{prefix}.",
                "blocked_prefix",
            )
    return Destination(e164=e164, country=country, number_type=allowed[number_type])


def typed_number(raw: str) -> str:
    """What the user typed or pasted, as text to dial: a tel: link becomes its number.

    A link's percent-encoding is undone and its visual separators are left to
    check_destination. A link with parameters (";ext=1234", ";phone-context=…", ";isub=…") is
    refused (InvalidNumber) rather than dialled without them: the number alone may reach
    someone else, or no one.
    """
    text = raw.strip()
    if text[: len(_TEL_SCHEME)].lower() != _TEL_SCHEME:
        return raw
    if len(text) > _MAX_LINK_CHARS:
        raise InvalidNumber("That is too long to be a phone number.")
    # A malformed escape is left as it is, and invalid UTF-8 becomes U+FFFD: neither is a
    # digit, so check_destination refuses them with its own sentence.
    number = unquote(text[len(_TEL_SCHEME) :], errors="replace")
    if ";" in number:
        dialled = number.partition(";")[0]
        raise InvalidNumber(
            f"The link to {_shown(dialled)} has an extension or other parameters after the "
            "number (like ;ext=), which OwnNumber cannot dial; enter the number alone."
        )
    return number


def dialling_region(text: str) -> str:
    """The region whose national numbers a dialler accepts: an ISO 3166 alpha-2 code, in any
    case, of a country with a numbering plan; InvalidInput (with a sentence) otherwise."""
    import phonenumbers

    code = text.strip()
    if not _REGION.fullmatch(code):
        raise InvalidInput(
            "The country must be a two-letter ISO 3166 code, like GB or US, for the country "
            "whose national numbers are typed."
        )
    region = code.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidInput(
            f"The country {region} is not one with a telephone numbering plan; use a "
            "two-letter ISO 3166 code like GB or US."
        )
    return region


def parse_policy_settings(blocked_countries: str, blocked_prefixes: str) -> PolicySettings:
    """Settings from their comma-separated forms, e.g. "KP,IR" and "+882,+883".

    Raises ValueError naming the first bad item: a typo here would otherwise block nothing.
    """
    import phonenumbers

    countries: set[str] = set()
    for item in _items(blocked_countries):
        country = item.upper()
        if country not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(
                f"Blocked country {item!r} is not an ISO 3166 alpha-2 code of a country with "
                "a telephone numbering plan (for example KP)."
            )
        countries.add(country)
    prefixes: list[str] = []
    for item in _items(blocked_prefixes):
        prefix = item.removeprefix("+")
        if not _PREFIX.fullmatch(prefix):
            raise ValueError(
                f"Blocked prefix {item!r} must be the start of an E.164 number: '+' and 1 to 15 "
                "digits, not starting with 0 (for example +882)."
            )
        if prefix not in prefixes:
            prefixes.append(prefix)
    return PolicySettings(blocked_countries=frozenset(countries), blocked_prefixes=tuple(prefixes))


def _items(setting: str) -> list[str]:
    # Empty items are tolerated so that "KP,IR," or an empty setting mean what they look like.
    return [item.strip() for item in setting.split(",") if item.strip()]


def _clean(raw: str) -> tuple[bool, str]:
    if not raw.strip():
        raise InvalidNumber("Enter a phone number, starting with + and the country code.")
    if len(raw) > _MAX_INPUT_CHARS:
        raise InvalidNumber("That is too long to be a phone number.")
    # NFKC turns full-width digits and '+' (pasted from some keyboards) into ASCII.
    compact = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw))
    dialled = _DIALLED.fullmatch(compact)
    if dialled is None:
        raise InvalidNumber(
            f"{_shown(raw)} is not a phone number; use digits, starting with + and the "
            "country code."
        )
    return dialled[1] == "+", dialled[2]


def _is_emergency_here(has_plus: bool, digits: str, region_hint: str | None) -> bool:
    """Is this an emergency number where the digits say the call goes?"""
    import phonenumbers
    from phonenumbers import shortnumberinfo

    if len(digits) > _MAX_EMERGENCY_DIGITS + 3:
        return False
    if not has_plus:
        return region_hint is not None and shortnumberinfo.is_emergency_number(digits, region_hint)
    if digits.startswith("0"):
        return False  # no country code starts with 0, and int() would hide the zero
    # "+1 911", "+44 999": an emergency number behind a country code. Country codes are
    # prefix-free, so the first length that is one is the one.
    for length in (1, 2, 3):
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(digits[:length]))
        if regions:
            national = digits[length:]
            return bool(national) and any(
                shortnumberinfo.is_emergency_number(national, region) for region in regions
            )
    return False


def _is_emergency_anywhere(digits: str) -> bool:
    # Asked only of numbers that are not callable anyway, so a match changes the message, not
    # the outcome; that includes a '+' typed before a short number ("+112").
    from phonenumbers import shortnumberinfo

    return len(digits) <= _MAX_EMERGENCY_DIGITS and any(
        shortnumberinfo.is_emergency_number(digits, region)
        for region in shortnumberinfo.SUPPORTED_SHORT_REGIONS
    )


def _emergency(raw: str) -> EmergencyNumberRefused:
    dialled = " ".join(raw.split())
    return EmergencyNumberRefused(
        f"{dialled} is an emergency number. Emergency calls are not supported by OwnNumber; "
        "call emergency services from a regular phone."
    )


def _display(number: phonenumbers.PhoneNumber) -> str:
    # International format, with the spaces people read rather than the dashes of +1 numbers.
    import phonenumbers
    from phonenumbers import PhoneNumberFormat

    return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL).replace("-", " ")


def _shown(raw: str) -> str:
    text = " ".join(raw.split())
    return repr(text if len(text) <= 32 else text[:31] + "…")
