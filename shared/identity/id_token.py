"""Who signed in, read from the ID token's claims, and whether we accept them.

MSAL checks the flow's state and the token's nonce, and since 1.38 validates nothing else of
the ID token (its `id_token_claims` are decoded, not checked: msal-python issue #911). The
token came straight from the provider's token endpoint over TLS, in exchange for our code and
client secret, so OpenID Connect needs no signature check (Core 3.1.3.7, item 6); it still
asks the client to check the issuer, the audience and the expiry, and that is done here.

The account is keyed by the issuer and the user's object id (`oid`: Entra's id of the person
in the tenant, the same for every app), else `sub`; never by the email, which a person can
change and a provider can reassign.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.identity.accounts import normalise_email
from shared.identity.errors import (
    InvalidEmail,
    SignInEmailMissing,
    SignInEmailUnverified,
    SignInTokenInvalid,
)

# Clocks differ a little between us and the provider; a token older than this is stale.
CLOCK_SKEW_SECONDS = 300
MAX_SUBJECT_CHARS = 256
MAX_NAME_CHARS = 200
_UNSHOWN = frozenset({"Cc", "Cs", "Co", "Cn"})
_BIDI = frozenset({"LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"})


@dataclass(frozen=True)
class SignedInIdentity:
    issuer: str
    subject: str
    email: str
    # None when the provider does not say (Entra's tokens mostly do not).
    email_verified: bool | None
    name: str
    # When the person last entered their credentials (the optional auth_time claim), if said.
    auth_time: datetime | None = None


def identity_from_claims(
    claims: Mapping[str, object], *, issuer: str | None, client_id: str, now: datetime
) -> SignedInIdentity:
    """The identity these claims prove, or the SignInFailed that says why they do not."""
    token_issuer = claims.get("iss")
    if not issuer or token_issuer != issuer:
        raise SignInTokenInvalid()
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if client_id not in audiences:
        raise SignInTokenInvalid()
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise SignInTokenInvalid()
    expires = claims.get("exp")
    if not isinstance(expires, int | float) or isinstance(expires, bool):
        raise SignInTokenInvalid()
    if expires + CLOCK_SKEW_SECONDS < now.timestamp():
        raise SignInTokenInvalid()
    subject = _text(claims.get("oid")) or _text(claims.get("sub"))
    if not subject or len(subject) > MAX_SUBJECT_CHARS:
        raise SignInTokenInvalid()

    raw_email = _text(claims.get("email"))
    if not raw_email:
        raise SignInEmailMissing()
    try:
        email = normalise_email(raw_email)
    except InvalidEmail:
        raise SignInEmailMissing(
            "The email address your account shared is not one OwnNumber can use."
        ) from None
    verified = _flag(claims.get("email_verified"))
    if verified is False:
        raise SignInEmailUnverified()
    return SignedInIdentity(
        issuer=issuer,
        subject=subject,
        email=email,
        email_verified=verified,
        name=_name(claims.get("name")),
        auth_time=_moment(claims.get("auth_time")),
    )


def _moment(value: object) -> datetime | None:
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _flag(value: object) -> bool | None:
    # OpenID Connect says a boolean; some providers send the strings "true" and "false".
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _name(value: object) -> str:
    # A display name is shown back to its owner: no controls, no bidi overrides that would
    # turn the text around it. Other format characters stay (ZWNJ is part of Persian names).
    text = "".join(
        c
        for c in _text(value)
        if unicodedata.category(c) not in _UNSHOWN and unicodedata.bidirectional(c) not in _BIDI
    )
    return text[:MAX_NAME_CHARS].strip()
