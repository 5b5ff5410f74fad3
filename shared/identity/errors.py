"""Sign-in's errors, in a module that imports nothing but the shared errors, so that the HTTP
edge can map them without loading accounts or sessions."""

from __future__ import annotations

from shared.errors import NotFound


class InvalidEmail(ValueError):
    """What was given as an email address is not one; the message says so in a sentence."""


class SessionNotFound(NotFound):
    """The session named is not one of the caller's (or has ended already)."""


class ReauthRequired(Exception):
    """The session is live, but its sign-in is older than a dangerous action allows: the
    person must sign in again first."""
