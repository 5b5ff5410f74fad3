"""The browser's Twilio access token: it may place calls through our TwiML App, nothing else."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.config import TwilioSettings
from shared.errors import InvalidInput

# Twilio refuses access tokens that live longer than a day.
MAX_TTL_SECONDS = 86400
MIN_TTL_SECONDS = 60


class TokenTtlInvalid(InvalidInput):
    """The requested lifetime is not one Twilio accepts."""


@dataclass(frozen=True)
class VoiceToken:
    token: str
    identity: str
    expires_at: datetime


def token_ttl(requested: object, cap: int, session_seconds_left: int) -> int:
    """The lifetime to mint: what the request asks for (`ttl`, default the cap), never more
    than the cap (TOKEN_TTL_SECONDS) nor than the session has left, since the token is only
    worth what its session is."""
    if requested is None:
        requested = cap
    if isinstance(requested, bool) or not isinstance(requested, int):
        raise TokenTtlInvalid("The field 'ttl' must be a whole number of seconds.")
    if not MIN_TTL_SECONDS <= requested <= MAX_TTL_SECONDS:
        raise TokenTtlInvalid(
            f"The field 'ttl' must be between {MIN_TTL_SECONDS} and {MAX_TTL_SECONDS} seconds."
        )
    return max(1, min(requested, cap, session_seconds_left))


def mint_voice_token(
    twilio: TwilioSettings,
    identity: str,
    ttl_seconds: int,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> VoiceToken:
    """An AccessToken with one VoiceGrant: outgoing calls through the TwiML App only.

    Incoming calls stay off: OwnNumber has no numbers that ring a browser.
    """
    # Imported here: the JWT stack (cryptography) is only worth loading for this request.
    from twilio.jwt.access_token import AccessToken
    from twilio.jwt.access_token.grants import VoiceGrant

    now = clock()
    # nbf and exp are whole seconds; expires_at says the same instant the token does.
    issued = int(now.timestamp())
    token = AccessToken(
        twilio.account_sid,
        twilio.api_key_sid,
        twilio.api_key_secret,
        identity=identity,
        nbf=issued,
        valid_until=issued + ttl_seconds,
        ttl=ttl_seconds,
    )
    token.add_grant(VoiceGrant(outgoing_application_sid=twilio.twiml_app_sid, incoming_allow=False))
    return VoiceToken(
        token=token.to_jwt(),
        identity=identity,
        expires_at=datetime.fromtimestamp(issued, UTC) + timedelta(seconds=ttl_seconds),
    )
