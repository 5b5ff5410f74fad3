"""Telephony's errors, in a module without the Twilio SDK, so that the HTTP edge can map them
without loading it."""

from __future__ import annotations

from shared.errors import Forbidden


class SignatureInvalid(Forbidden):
    """The request does not carry Twilio's signature for the URL it was sent to."""
