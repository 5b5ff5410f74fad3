"""The refusal every limit of shared.limits raises: the edge maps it once, to 429 with the
sentence and a Retry-After (the voice webhook, which Twilio calls, says it in TwiML instead)."""

from __future__ import annotations


class LimitReached(Exception):
    """A limit on how often someone may do something is reached: the message is a sentence for
    the person (which limit, when it frees), retry_after_seconds the wait in whole seconds."""

    def __init__(self, sentence: str, retry_after_seconds: int) -> None:
        super().__init__(sentence)
        self.retry_after_seconds = max(1, retry_after_seconds)


def how_many(n: int, noun: str) -> str:
    """ "1 call", "30 calls": a limit's sentence says how many, as a person would."""
    return f"1 {noun}" if n == 1 else f"{n} {noun}s"
