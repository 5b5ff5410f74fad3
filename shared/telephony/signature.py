"""Twilio's webhook signature (`X-Twilio-Signature`), checked and made with Twilio's own code.

Twilio signs the URL it was configured with. Behind Azure's front end or any proxy the Host
and X-Forwarded-* headers say something else (and a caller chooses them), so the URL is
rebuilt from PUBLIC_BASE_URL plus the path and the raw query string of the request. The query
is part of what is signed: values we put there (the user, the call) cannot be altered.

Every URL we give Twilio also carries a fragment, our connection overrides, which no HTTP
request carries. Twilio signs the URL it requests, without the fragment: so integrations
running against Twilio report, and so the sandbox signs. Twilio's helper libraries, though,
hash whatever URL they are handed, and keep a fragment when they try the URL with and
without its port; someone following their advice (validate against the URL you configured)
hashes the fragment too. A signature over either form proves the same thing, the auth token
and this URL, so `verify` accepts both: whichever way Twilio's back end signs, a genuine
request passes, and a forged one fails both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl

from twilio.request_validator import RequestValidator

from shared.config import Settings
from shared.telephony.errors import SignatureInvalid
from shared.telephony.webhook_overrides import without_fragment
from shared.telephony.webhook_paths import public_url, twilio_url

__all__ = [
    "SIGNATURE_HEADER",
    "SignatureInvalid",
    "public_url",
    "sign",
    "signed_url",
    "verified_webhook",
    "verify",
]

SIGNATURE_HEADER = "X-Twilio-Signature"

Params = Mapping[str, str] | Iterable[tuple[str, str]]


class _Form(dict[str, list[str]]):
    """Form fields with every value kept; RequestValidator signs them all (its `getall`)."""

    def __init__(self, params: Params) -> None:
        super().__init__()
        pairs = params.items() if isinstance(params, Mapping) else params
        for name, value in pairs:
            self.setdefault(name, []).append(value)

    def getall(self, name: str) -> list[str]:
        return self[name]


def signed_url(url: str) -> str:
    """What Twilio signs for a webhook URL it was given: the URL it requests (no fragment)."""
    return without_fragment(url)


def sign(url: str, params: Params, auth_token: str) -> str:
    """The signature Twilio sends for a POST of `params` to `url` (the sandbox signs so)."""
    return str(RequestValidator(auth_token).compute_signature(signed_url(url), _Form(params)))


def verify(url: str, params: Params, signature: str | None, auth_token: str) -> None:
    """Raises SignatureInvalid unless `signature` is Twilio's for this URL and these params.

    `url` is the URL Twilio was given, fragment and all; the signature may cover it with or
    without the fragment (see the module's notes).
    """
    if not signature:
        raise SignatureInvalid("This request is not signed by Twilio.")
    validator, form = RequestValidator(auth_token), _Form(params)
    candidates = dict.fromkeys((signed_url(url), url))
    if not any(validator.validate(candidate, form, signature) for candidate in candidates):
        raise SignatureInvalid("This request's Twilio signature is not valid for this URL.")


def verified_webhook(
    settings: Settings, path: str, query: str, body: bytes, signature: str | None
) -> dict[str, str]:
    """The form fields of a webhook that Twilio signed for our account, or SignatureInvalid.

    `path` and `query` are the request's own (raw, as received); the scheme and host are
    PUBLIC_BASE_URL's, and the fragment is the connection overrides every URL we give Twilio
    carries. Nothing about the request is trusted before this returns.
    """
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise SignatureInvalid("This request is not a form that Twilio signed.") from None
    url = twilio_url(settings.public_base_url, path, query)
    verify(url, pairs, signature, settings.twilio.auth_token)
    form = dict(pairs)
    if form.get("AccountSid") != settings.twilio.account_sid:
        raise SignatureInvalid("This request is for another Twilio account.")
    return form
