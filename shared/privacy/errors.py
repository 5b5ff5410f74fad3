"""Privacy's errors, in a module without any SDK or service, so that the HTTP edge maps them."""

from __future__ import annotations

from shared.errors import InvalidInput


class TooManyExports(Exception):
    """EXPORTS_PER_USER_PER_HOUR are spent this clock hour (429); retry_after_seconds says
    when the next is allowed."""

    def __init__(self, sentence: str, retry_after_seconds: int) -> None:
        super().__init__(sentence)
        self.retry_after_seconds = max(1, retry_after_seconds)


class NotConfirmed(InvalidInput):
    """The typed confirmation of an account's deletion is missing or is not the word asked for."""


class CallInProgress(Exception):
    """The account has a call up: its hold would be erased under a call still costing money."""
