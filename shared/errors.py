"""Errors every endpoint can raise, named for the problem; the edge maps them to statuses."""

from __future__ import annotations


class InvalidInput(ValueError):
    """The request itself is wrong (malformed JSON, a missing field, a bad parameter)."""


class NotSignedIn(Exception):
    """No session, or one that has expired or was ended."""


class Forbidden(Exception):
    """Signed in (or not), but this request is not allowed (another origin, say)."""


class NotFound(LookupError):
    """The thing asked for does not exist, or is not the caller's to see."""


class CallRefused(Exception):
    """OwnNumber will not place this call: `reason` is a sentence for the user, `code` a word
    for machines. Every refusal (the destination, its price, the balance, another call) is one,
    so the voice webhook and the rates endpoint handle them all alike."""

    code = "refused"

    def __init__(self, reason: str, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if code is not None:
            self.code = code
