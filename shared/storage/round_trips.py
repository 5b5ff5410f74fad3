"""Counting the Table Storage round trips of one incoming request.

An azure-core pipeline policy (table_store's `CountingPolicy`, in every table client's
pipeline) sees each HTTP request the SDK sends, retries included, and adds
it to the counter of the request being served (`counting()`, opened by the edge around each
invocation). Two figures:

- requests: every HTTP request sent to Table Storage;
- round trips: the waits a request spends on storage one after another. Point reads sent
  together (Table.get_many: `start_round()`, then each in `in_round`) are one round trip
  however many they are: the request waits for the slowest, not for their sum.

The floors each operation is held to (tests/integration/test_round_trips.py) are round trips;
the requests are printed beside them by scripts/bench. No SDK here: the edge imports this
module for every request, and azure-core alone would add a third to the app's load.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

# The response header the edge reports a request's figures in: "3; requests=5".
ROUND_TRIPS_HEADER = "X-Storage-Round-Trips"


@dataclass
class RoundTrips:
    requests: int = 0
    rounds: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _add(self, requests: int, rounds: int) -> None:
        # Point reads of one request run on several threads at once.
        with self._lock:
            self.requests += requests
            self.rounds += rounds


_current: ContextVar[RoundTrips | None] = ContextVar("round_trips", default=None)
# True inside one of several requests sent together: its round trip is the group's.
_together: ContextVar[bool] = ContextVar("round_trips_together", default=False)


@contextmanager
def counting() -> Iterator[RoundTrips]:
    """Counts the storage traffic of the code run inside, on this thread and on the threads
    it hands a copy of its context (Table.get_many)."""
    counter = RoundTrips()
    token = _current.set(counter)
    try:
        yield counter
    finally:
        _current.reset(token)


def start_round() -> None:
    """One round trip for the requests about to be sent together (each in `in_round`)."""
    counter = _current.get()
    if counter is not None:
        counter._add(0, 1)


def in_round(call: Callable[..., T], *args: Any) -> T:
    """Calls `call` as one of the requests of the round just started: run it in a copy of the
    caller's context (contextvars.copy_context().run), which the mark does not leave."""
    _together.set(True)
    return call(*args)


def count_request() -> None:
    """One HTTP request to Table Storage, sent on this thread (table_store's CountingPolicy
    calls it for every attempt the SDK makes)."""
    counter = _current.get()
    if counter is not None:
        counter._add(1, 0 if _together.get() else 1)
