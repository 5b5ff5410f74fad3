"""The masking rule for everything that leaves the app as telemetry or log text.

- A phone number keeps its country code and its last two digits: `+44********18` for
  `+44 20 7946 0018`, written with `+`, `00`, `%2B`, `tel:`, spaces, dashes, dots or
  parentheses, in any script's digits (the kept digits come out as ASCII). A run of eight or
  more digits with no international prefix (a national number, `020 7946 0018`) keeps only its
  last two: `*********18`. One star per hidden digit.
- An email address loses its local part: `***@example.com` (plus tags and `%40` too).
- Secrets go whole: Authorization schemes (`Bearer …`, `Basic …`), Stripe keys and webhook
  secrets (`sk_…`, `rk_…`, `whsec_…`), Stripe-Signature `v1=` hashes, Twilio `AC…`/`SK…` sids
  and any `:token` after them, session cookies (`user.session.secret`) and other three-part
  tokens (JWTs), and `name=value` pairs whose name says secret (`session=`, `token=`,
  `code=`, `sig=`, …).
- Attributes whose key says secret (authorization, cookie, signature, …) lose their value.

Percent-encoded text (a URL, a query string) is decoded before it is masked, and stays
decoded. Pure: no SDK, no I/O. Every function is idempotent, so text masked twice (by the log record
factory, then by the log processor) comes out the same.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Final, TypeAlias
from urllib.parse import unquote

# The longest text masked and kept: Application Insights keeps 32,768 characters of a message,
# and capping the input caps the work an absurdly long string can cost.
MAX_TEXT_CHARS: Final = 32_768
TRUNCATED: Final = "…[truncated]"
REDACTED: Final = "[redacted]"
HIDDEN_DIGIT: Final = "*"

# ITU-T E.164 country calling codes are prefix-free: these one- and two-digit codes, and every
# other code is three digits long.
_ONE_DIGIT_CODES = frozenset({"1", "7"})
_TWO_DIGIT_LIST = (
    "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 "
    "60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98"
)
_TWO_DIGIT_CODES = frozenset(_TWO_DIGIT_LIST.split())
# E.164's shortest numbers (Niue, Tokelau) have 7 digits with the country code; without a
# prefix, 8 digits: shorter runs are amounts, years, counts far more often than numbers.
_MIN_INTERNATIONAL_DIGITS = 7
_MIN_NATIONAL_DIGITS = 8

# What people and encoders put between digits: spaces (also as %20), dashes, dots, slashes,
# parentheses (also percent-encoded), no-break and thin spaces.
_SEPARATOR = r"(?:[ \t\u00a0\u2009\u2011\u2012\u2013\-./()]|%20|%28|%29|%2[dDeEfF])"
# A query string's "+" (a space) joins digits alone or beside a parenthesis: "+44+20+7946",
# "+1+(415)+555"; never after a space, so "+4420… +1415…" stays two numbers.
_GAP = rf"(?:[()]?\+[()]?|{_SEPARATOR}{{1,3}})"
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
# Not inside a word or an identifier (a hex id, a CallSid), nor after a dot or a time's colon
# (21.123456, the seconds of 07:31:21); a percent-escape just before (tel%3A…) is a boundary.
_START = r"(?<!\d:)(?:(?<=%[0-9A-Fa-f]{2})|(?<![\w.]))"
_PLUS = r"(?:\+|\uff0b|%2[bB]|%252[bB])"
# Atomic groups: a run is taken whole or not at all, so no input makes the regex backtrack
# through its digits.
_NUMBER = re.compile(_START + rf"(?P<plus>{_PLUS})?(?P<body>(?>\(?\d(?:{_GAP}?\d)*))(?P<word>\w?)")

_EMAIL = re.compile(
    r"(?<![\w.!#$%&'*+^`{|}~-])(?P<local>(?>(?:[\w.!#$'*+^`{|}~-]|%(?!40)[0-9A-Fa-f]{2})+))"
    r"(?P<at>@|%40)"
    r"(?P<domain>(?:[\w-]+\.)+[\w-]{2,})"
)

_SECRETS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization header values, whatever carries them.
    (re.compile(r"(?i)\b(Bearer|Basic|Digest)\s+[\w.~+/=-]+"), rf"\1 {REDACTED}"),
    # Stripe: secret and restricted keys, webhook signing secrets (publishable keys are public).
    (re.compile(r"\b(sk|rk)_(test_|live_)?[A-Za-z0-9_]+"), rf"\1_\2{REDACTED}"),
    (re.compile(r"\bwhsec_[A-Za-z0-9_]+"), f"whsec_{REDACTED}"),
    # Stripe-Signature: t=…,v1=<hmac>.
    (re.compile(r"\b(v[01])=[0-9a-fA-F]{16,}"), rf"\1={REDACTED}"),
    # Twilio account and API key sids, and a token or secret given with one (sid:token).
    (re.compile(r"\b(AC|SK)[0-9a-fA-F]{32}(?::[^\s@/,;\"']+)?"), rf"\1{REDACTED}"),
    # Three base64url parts joined by dots, the last long: our session cookie
    # (user.session.secret) and JWTs (Twilio access tokens, ID tokens).
    (re.compile(r"(?<![\w.-])(?>[\w-]+)\.(?>[\w-]+)\.[\w-]{32,}"), REDACTED),
    # name=value where the name says secret: cookies, query strings, form bodies.
    (
        re.compile(
            r"(?i)(?<![\w-])([\w-]*?(?:session|token|secret|password|passwd|signature|sig"
            r"|code|state|key|auth))=[^&;\s,\"'<>]+"
        ),
        rf"\1={REDACTED}",
    ),
)

# Attribute keys whose values are secret whatever they look like.
_SECRET_KEY_WORDS = (
    "authorization",
    "cookie",
    "signature",
    "secret",
    "password",
    "token",
    "api_key",
    "apikey",
    "credential",
)

AttributeValue: TypeAlias = (
    str | bool | int | float | Sequence[str] | Sequence[bool] | Sequence[int] | Sequence[float]
)


def mask_text(text: str) -> str:
    """The text with every phone number, email address and secret masked (and at most
    MAX_TEXT_CHARS long)."""
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS] + TRUNCATED
    if _ESCAPE.search(text):
        # Decoded first: a number percent-encoded as UTF-8 (fullwidth digits in a query
        # string) has no digit left to find.
        text = unquote(text)
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    text = _EMAIL.sub(_masked_email, text)
    return _NUMBER.sub(_masked_number, text)


def is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in _SECRET_KEY_WORDS)


def mask_value(key: str, value: AttributeValue) -> AttributeValue:
    """An attribute's value as it may leave the app: masked text, or REDACTED for a key that
    says secret. Integers long enough to be a phone number are masked as text."""
    if is_secret_key(key):
        return REDACTED
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return mask_text(str(value)) if abs(value) >= 10 ** (_MIN_NATIONAL_DIGITS - 1) else value
    if all(isinstance(item, str) for item in value):
        return tuple(mask_text(str(item)) for item in value)
    if any(isinstance(item, int) and not isinstance(item, bool) for item in value):
        masked = [mask_value(key, item) for item in value]
        if any(isinstance(item, str) for item in masked):
            return tuple(str(item) for item in masked)
    return value


def mask_attributes(attributes: Mapping[str, AttributeValue] | None) -> dict[str, AttributeValue]:
    return {key: mask_value(key, value) for key, value in (attributes or {}).items()}


def _masked_email(match: re.Match[str]) -> str:
    return f"***{match['at']}{match['domain']}"


def _masked_number(match: re.Match[str]) -> str:
    text = match[0]
    if match["word"]:
        # Digits run on into letters: an identifier (a hex id), not a number.
        if not match["plus"]:
            return text
        text = text[:-1]
    digits = "".join(str(unicodedata.decimal(char)) for char in match["body"] if char.isdecimal())
    international = bool(match["plus"])
    if not international and len(digits) >= 3 and digits.startswith("00") and digits[2] != "0":
        # 00 is the international prefix of most of the world: 0044… is +44….
        digits, international = digits[2:], True
    if international and len(digits) >= _MIN_INTERNATIONAL_DIGITS:
        code = _country_code(digits)
        hidden = len(digits) - len(code) - 2
        masked = f"+{code}{HIDDEN_DIGIT * hidden}{digits[-2:]}"
    elif len(digits) >= _MIN_NATIONAL_DIGITS:
        masked = f"{HIDDEN_DIGIT * (len(digits) - 2)}{digits[-2:]}"
    else:
        return match[0]
    return masked + (match["word"] if match["plus"] else "")


def _country_code(digits: str) -> str:
    if digits[:1] in _ONE_DIGIT_CODES:
        return digits[:1]
    if digits[:2] in _TWO_DIGIT_CODES:
        return digits[:2]
    return digits[:3]
