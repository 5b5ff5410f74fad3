"""A time budget for the request being served, so that slow storage ends in a 503, not a hang.

Twilio gives a webhook 15 s and then treats it as failed; a browser's user gives up sooner.
The edge opens a deadline for each request; every storage round trip then waits at most for
what is left of it (see table_store), and a request whose budget is spent stops there. A
context variable carries it, so no signature in between has to pass it along, and work
outside any request (a timer) simply has none.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# Well inside Twilio's 15 s webhook budget, with room for the answer to travel back and for
# Twilio's own connect time-out; Stripe and browsers are more patient than that.
REQUEST_DEADLINE_SECONDS = 8.0

_deadline: ContextVar[float | None] = ContextVar("ownnumber_deadline", default=None)


class DeadlinePassed(Exception):
    """The request used up its time budget; the caller should try again later."""


@contextmanager
def deadline(seconds: float = REQUEST_DEADLINE_SECONDS) -> Iterator[None]:
    """Within this block, the work may take `seconds` more (or less, if a budget is open)."""
    end = time.monotonic() + seconds
    current = _deadline.get()
    token = _deadline.set(end if current is None else min(current, end))
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left of the open budget (0 or less once spent), or None outside any budget."""
    end = _deadline.get()
    return None if end is None else end - time.monotonic()


def check() -> None:
    """Raises DeadlinePassed once the open budget is spent."""
    left = remaining()
    if left is not None and left <= 0:
        raise DeadlinePassed("The request ran out of time.")


@contextmanager
def holding(lock: threading.Lock) -> Iterator[None]:
    """Holds the lock, waiting for it no longer than the open budget allows."""
    left = remaining()
    if not lock.acquire(timeout=-1 if left is None else max(0.0, left)):
        raise DeadlinePassed("The request ran out of time waiting for its turn.")
    try:
        yield
    finally:
        lock.release()
