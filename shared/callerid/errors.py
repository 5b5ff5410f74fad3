"""Caller ID's errors, in a module without any SDK, so that the HTTP edge can map them."""

from __future__ import annotations

from shared.errors import InvalidInput


class CallerIdRefused(InvalidInput):
    """This number cannot be verified (by this user): the message is a sentence for them."""


class VerificationInProgress(Exception):
    """The user already has a verification pending, or a verified number (409)."""


class TooManyAttempts(Exception):
    """A limit on attempts per hour is reached (429); retry_after_seconds says for how long."""

    def __init__(self, sentence: str, retry_after_seconds: int) -> None:
        super().__init__(sentence)
        self.retry_after_seconds = max(1, retry_after_seconds)


class CallerIdProviderUnavailable(Exception):
    """Twilio's caller-ID API could not be reached or failed (503)."""
